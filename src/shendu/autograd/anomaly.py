"""Anomaly detection: report the operation whose backward produced NaN, and where the
forward pass created it.

While enabled (``detect_anomaly()`` / ``set_detect_anomaly(True)``), every node records the
stack of the forward call that created it; if its backward raises, or returns NaN (then a
``RuntimeError`` naming the node), a ``UserWarning`` first shows that stack, as torch's
"Error detected in MulBackward. Traceback of forward call that caused the error". The
stack is kept as file/line/function only (no frames, no source text until it is shown), and
nothing is recorded or checked while anomaly mode is off.
"""
import sys
import traceback
import warnings

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

_enabled = [False]
_TRACE = "_anomaly_trace"


def is_anomaly_enabled():
    return _enabled[0]


class detect_anomaly:
    """Context manager: record where each node is created, check each node's gradients
    for NaN after its backward (``check_nan=True``), and on an error show the forward
    traceback of the node that failed."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = _enabled[0]
        _enabled[0] = self.check_nan
        if self.check_nan:
            _install()

    def __exit__(self, *exc):
        _enabled[0] = self._prev
        return False


class set_detect_anomaly(detect_anomaly):
    def __init__(self, mode, check_nan=True):
        super().__init__(check_nan and mode)
        self._prev = _enabled[0]
        _enabled[0] = bool(mode) and check_nan
        if _enabled[0]:
            _install()

    def __enter__(self):
        pass


def forward_trace(node):
    """The forward call stack recorded for ``node`` in anomaly mode (formatted lines), or
    None."""
    st = node.__dict__.get(_TRACE) if hasattr(node, "__dict__") else None
    return None if st is None else st.format()


def _record(node):
    f = sys._getframe(3)                # above apply(): the op, then its caller
    st = traceback.StackSummary.extract(traceback.walk_stack(f), lookup_lines=False)
    st.reverse()                        # outermost call first, as a traceback reads
    node.__dict__[_TRACE] = st


_installed = [False]


def _install():
    """Wrap the engine's node runner and the nodes' linking once; the wrappers record and
    check only while enabled."""
    if _installed[0]:
        return
    from . import engine, function
    inner = engine._run_node

    def checked(node, *args, **kwargs):
        if not _enabled[0]:
            return inner(node, *args, **kwargs)
        trace = node.__dict__.get(_TRACE) if hasattr(node, "__dict__") else None
        try:
            gxs = inner(node, *args, **kwargs)
            for i, g in enumerate(gxs):
                if g is not None and g._data.dtype.kind == "f" and np.isnan(g._data).any():
                    raise RuntimeError(f"Function '{node.name()}' returned nan values in its "
                                       f"{i}th output.")
        except Exception:
            if trace is not None:
                warnings.warn(f"Error detected in {node.name()}. Traceback of forward call "
                              f"that caused the error:\n{''.join(trace.format())}",
                              UserWarning, stacklevel=2)
            raise
        return gxs
    engine._run_node = checked

    for cls, attr in ((function.Node, "_link"), (function._FunctionNode, "_link_custom")):
        link = getattr(cls, attr)

        def traced(self, *args, _link=link):
            out = _link(self, *args)
            if _enabled[0]:
                _record(self)
            return out
        setattr(cls, attr, traced)
    _installed[0] = True
