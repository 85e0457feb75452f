"""Grad mode: whether operations record a graph.

``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``inference_mode`` work as
context managers and as decorators (with or without parentheses), like torch's. The
flag is per thread, as torch's is (``no_grad`` in one thread leaves autograd on in the
others; a new thread starts with grad mode on): it lives on a ``threading.local``, read
by the hot path (``Node.apply``) as ``_mode.enabled``.
"""
import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "is_inference_mode_enabled"]



class _Mode(threading.local):
    enabled = True          # each thread starts with grad mode on


_mode = _Mode()


def is_grad_enabled():
    return _mode.enabled


class _GradMode:
    """A context manager that sets grad mode to ``self.mode``; also a decorator."""
    mode = True

    def __new__(cls, func=None):
        self = object.__new__(cls)
        if callable(func):           # used as a bare decorator: @no_grad
            return self(func)
        return self

    def __init__(self, func=None):
        pass

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self.mode

    def __exit__(self, *exc):
        _mode.enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _mode.enabled
            _mode.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _mode.enabled = prev
        return wrapper


class no_grad(_GradMode):
    """Disable graph recording: results of operations never require grad."""
    mode = False


class enable_grad(_GradMode):
    """Enable graph recording (inside a ``no_grad`` block, for example)."""
    mode = True


class inference_mode(_GradMode):
    """``inference_mode(True)`` behaves like ``no_grad`` (shendu has no inference tensors)."""

    def __new__(cls, mode=True):
        if callable(mode):
            return object.__new__(cls)(mode)
        self = object.__new__(cls)
        self.mode = not mode
        return self


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``: immediately when called as a function, restored on exit
    when used as a context manager; as a decorator it applies only inside the function."""

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _mode.enabled
        _mode.enabled = self.mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        _mode.enabled = self._prev    # decorating must not change the mode now
        return super().__call__(fn)


def is_inference_mode_enabled():
    return False
