"""In-place operations and their autograd bookkeeping.

When no graph is involved, an in-place op just writes into the array and bumps the
version counter. When one is, the op is computed out of place and then committed:

  * the result is written into the tensor's storage (so views and the base see it);
  * the tensor takes over the result's history (``grad_fn``);
  * if the tensor is a view, its base gets a ``CopySlices`` node ("the base, with this
    view's region replaced by the new values"), and the view becomes ``view_fn(base)``;
  * if the out-of-place node saved the tensor's old value, that saved value is swapped
    for a snapshot taken before the write, so the gradient stays correct.

Saved tensors remember their version; a backward that needs a value that was changed
in place raises instead of returning a wrong gradient.
"""
import numpy as np

from .._tensor import Tensor, _make
from ..autograd import grad_mode
from ..autograd.function import Node, edge_of as _edge, _trace
from ._base import sum_to, cast

_mode = grad_mode._mode


def needs_graph(self, *others):
    if not _mode.enabled:
        return False
    if self._requires_grad:
        return True
    base = self._base
    if base is not None and base._requires_grad:
        return True
    for o in others:
        if isinstance(o, Tensor) and o._requires_grad:
            return True
    return False


def check_inplace_allowed(self):
    if self.grad_fn is None and self._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation. (Wrap the update in `with shendu.no_grad():`, or operate "
                           "on a clone.)")
    base = self._base
    if base is not None and base.grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


def write(self, arr):
    """Copy ``arr`` into self's storage with torch's shape and casting rules."""
    dst = self._data
    if arr.shape != dst.shape:
        fits = _bc(arr.shape, dst.shape) and np.broadcast_shapes(arr.shape, dst.shape) == dst.shape
        if not fits:
            shown = np.broadcast_shapes(arr.shape, dst.shape) if _bc(arr.shape, dst.shape) else arr.shape
            raise RuntimeError(f"output with shape {list(dst.shape)} doesn't match the broadcast "
                               f"shape {list(shown)}")
    lossy = (arr.dtype.kind == "f" and dst.dtype.kind in "iub") or \
        (dst.dtype.kind == "b" and arr.dtype.kind != "b")
    if lossy:
        raise RuntimeError(f"result type {_tname(arr.dtype)} can't be cast to the desired "
                           f"output type {_tname(dst.dtype)}")
    if not dst.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor "
                           "refers to a single memory location. Please clone() the tensor before "
                           "performing the operation.")
    np.copyto(dst, arr, casting="unsafe")
    self._bump_version()
    if _trace[0] is not None:                   # shendu.onnx.export: self now holds arr
        _trace[0].written(self, arr)


def _bc(a, b):
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _tname(nd):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}[nd.name]


def _protect_saved(result, self):
    """If the out-of-place node kept ``self`` for backward, give it a snapshot of the old
    value instead (self's storage is about to be overwritten)."""
    node = result.grad_fn
    if node is None:
        return
    saved = node._saved if node.save_inputs else None
    if not saved:
        return
    if not any(s is self for s in saved):
        return
    snap = _make(self._data.copy(), self.grad_fn, self._output_nr)
    snap._requires_grad = self._requires_grad
    node._saved = tuple(snap if s is self else s for s in saved)
    node._saved_versions = tuple(0 if s is self else v for s, v in zip(saved, node._saved_versions))


def commit_inplace(self, result):
    """Make ``self`` hold ``result`` and take over its autograd history."""
    check_inplace_allowed(self)
    _protect_saved(result, self)
    if result._requires_grad and result._data.dtype != self._data.dtype \
            and self._data.dtype.kind == "f":
        result = cast(result, self._data.dtype)
    base = self._base
    if base is None:
        write(self, result._data)
        if result._requires_grad:
            self.grad_fn, self._output_nr, self._requires_grad = result.grad_fn, result._output_nr, True
        elif self.grad_fn is not None:
            self.grad_fn, self._output_nr = _detached_history(self), 0
        return self
    # self is a view: rewrite the base's history, then re-derive the view from it
    node = object.__new__(CopySlices)
    node.next_functions = (_edge(base), _edge(result))
    node._freed = False
    node._needs_grad = True
    node.view_fn = self._view_fn
    node.value_shape = tuple(result.shape)
    write(self, result._data)
    base.grad_fn, base._output_nr, base._requires_grad = node, 0, True
    prev = _mode.enabled
    _mode.enabled = True
    try:
        v = self._view_fn(base)
    finally:
        _mode.enabled = prev
    self.grad_fn, self._output_nr, self._requires_grad = v.grad_fn, v._output_nr, True
    return self


def _detached_history(self):
    """A node for a tensor overwritten by a constant: the old inputs get zero gradient."""
    node = object.__new__(_Overwritten)
    node.next_functions = (_edge(self),)
    node._freed = False
    node._needs_grad = True
    node.shape = tuple(self.shape)
    return node


class _Overwritten(Node):
    def backward(self, g):
        return g * 0.0


def view_of(arr_view_fn, arr):
    """Apply a Tensor view function to a raw array; returns the array view."""
    prev = _mode.enabled
    _mode.enabled = False
    try:
        return arr_view_fn(_make(arr, None, 0))._data
    finally:
        _mode.enabled = prev


class ViewScatter(Node):
    """Out of place: ``base`` with ``view_fn(base)`` replaced by ``value``."""

    def forward(self, base, value, view_fn):
        self.view_fn = view_fn
        self.value_shape = np.shape(value)
        out = base.copy()
        view_of(view_fn, out)[...] = value
        return out

    def backward(self, g):
        return _scatter_backward(self, g) + (None,)


class CopySlices(Node):
    """In place: the new base after writing ``value`` into ``view_fn(base)``."""

    def backward(self, g):
        return _scatter_backward(self, g)


def _scatter_backward(node, g):
    need = node.needs_input_grad
    gbase = ViewScatter.apply(g, 0.0, node.view_fn) if need[0] else None
    gval = sum_to(node.view_fn(g), node.value_shape) if need[1] else None
    return gbase, gval


# ------------------------------------------------------------------ in-place method factory
def inplace(self, fn, *args, **kwargs):
    """Run ``fn(self, *args, **kwargs)`` and store the result in self."""
    if needs_graph(self, *args, *kwargs.values()):
        check_inplace_allowed(self)
        return commit_inplace(self, fn(self, *args, **kwargs))
    prev = _mode.enabled
    _mode.enabled = False
    try:
        r = fn(self, *args, **kwargs)
    finally:
        _mode.enabled = prev
    write(self, r._data)
    return self


def make_inplace(fn, name):
    def method(self, *args, **kwargs):
        return inplace(self, fn, *args, **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place version of :meth:`{fn.__name__}`."
    return method


def _raw(x):
    return x._data if isinstance(x, Tensor) else x


def _fast_arith(ufunc, fn, name):
    """add_/sub_/mul_/div_: a true in-place ufunc when no graph is involved."""
    def method(self, other, *, alpha=None, **kwargs):
        if needs_graph(self, other):
            if alpha is not None:
                kwargs["alpha"] = alpha
            return inplace(self, fn, other, **kwargs)
        o = _raw(other)
        if alpha is not None and alpha != 1:
            o = o * alpha
        if kwargs.get("rounding_mode") is not None:
            return inplace(self, fn, other, **kwargs)
        d = self._data
        od = np.asarray(o)
        if ufunc is np.true_divide and d.dtype.kind != "f":
            raise RuntimeError(f"result type Float can't be cast to the desired output type "
                               f"{_tname(d.dtype)}")
        if od.dtype.kind == "f" and d.dtype.kind != "f" and not isinstance(o, (int, bool)):
            raise RuntimeError(f"result type {_tname(od.dtype) if od.ndim else 'Float'} can't be "
                               f"cast to the desired output type {_tname(d.dtype)}")
        if not d.flags.writeable:
            write(self, d)          # raises the clear error
        try:
            ufunc(d, o, out=d, casting="unsafe")
        except ValueError:
            write(self, np.asarray(ufunc(d, o)))    # raises the shape error
        self._bump_version()
        return self
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place {name[:-1]}."
    return method
