"""Helpers shared by every op family: argument normalisation, type promotion for
binary ops, and the one place where broadcasting is undone (``sum_to``)."""
import numbers

import numpy as np

from .. import _dtype
from .._tensor import Tensor, _make, _wrap_dim, Size
from ..autograd.function import Node

_SCALARS = (int, float, bool)


def as_tensor_arg(x, dtype=None):
    """Tensors pass through; anything else becomes a constant tensor."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x, dtype=_dtype.to_numpy_dtype(dtype))
    if dtype is None and arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        arr = arr.astype(_dtype.default_float())
    return _make(arr, None, 0)


def scalar_value(x):
    """A NumPy scalar becomes the Python scalar it holds (torch treats them alike)."""
    if isinstance(x, np.generic):
        return x.item()
    return x


def promote(a, b, op="op"):
    """Bring the operands of a binary op to torch's common dtype.

    Returns ``(a, b)``: Tensors cast where needed; Python scalars stay scalars (NumPy's
    weak scalars then keep the tensor's dtype, as torch does). ndarrays are constants.
    """
    if isinstance(a, Tensor):
        tb = type(b)
        if isinstance(b, Tensor):
            if a._data.dtype == b._data.dtype:
                return a, b
        elif tb is float:
            if a._data.dtype.kind == "f":
                return a, b
        elif tb is int:
            if a._data.dtype.kind != "b":
                return a, b
    a = scalar_value(a)
    b = scalar_value(b)
    if isinstance(a, np.ndarray):
        a = _make(a, None, 0)
    if isinstance(b, np.ndarray):
        b = _make(b, None, 0)
    if not isinstance(a, (Tensor,) + _SCALARS) or not isinstance(b, (Tensor,) + _SCALARS):
        bad = a if not isinstance(a, (Tensor,) + _SCALARS) else b
        raise TypeError(f"{op}(): unsupported operand of type {type(bad).__name__}")
    rt = _dtype.result_type(a, b)
    if isinstance(a, Tensor) and a._data.dtype != rt:
        a = cast(a, rt)
    if isinstance(b, Tensor) and b._data.dtype != rt:
        b = cast(b, rt)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}(): at least one operand must be a Tensor")
    return a, b


def shape_of(x):
    return x.shape if type(x) is np.ndarray else ()


def broadcast_shapes(*shapes):
    """torch.broadcast_shapes, with torch's error message."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, d in enumerate(s):
            j = ndim - len(s) + i
            if out[j] == 1:
                out[j] = d
            elif d != 1 and d != out[j]:
                raise RuntimeError(f"The size of tensor a ({out[j]}) must match the size of tensor "
                                   f"b ({d}) at non-singleton dimension {i}")
    return Size(out)


# ------------------------------------------------------------------ casting
class Cast(Node):
    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, gy):
        if self.in_dtype.kind != "f":
            return None, None
        return cast(gy, self.in_dtype), None


def cast(x, dtype):
    """x converted to NumPy dtype ``dtype`` (differentiable between float types)."""
    nd = np.dtype(dtype)
    if x._data.dtype == nd:
        return x
    if nd.kind != "f":
        return _make(x._data.astype(nd), None, 0)
    return Cast.apply(x, nd)


# ------------------------------------------------------------------ broadcasting
class SumTo(Node):
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                          if s == 1 and x.shape[i + lead] != 1)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        return y.reshape(shape) if lead else y

    def backward(self, gy):
        return broadcast_to(gy, self.in_shape), None


class BroadcastTo(Node):
    def forward(self, x, shape):
        self.in_shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, gy):
        return sum_to(gy, self.in_shape), None


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` over broadcast dimensions; identity if already there."""
    if x.shape == shape:
        return x
    return SumTo.apply(x, tuple(shape))


def broadcast_to(x, shape):
    """A read-only broadcast view of ``x`` with shape ``shape``."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        np.broadcast_shapes(x._data.shape, shape)
    except ValueError:
        raise RuntimeError(f"The expanded size of the tensor must match the existing size at "
                           f"non-singleton dimensions: cannot broadcast {tuple(x.shape)} to "
                           f"{shape}") from None
    return BroadcastTo.apply(x, shape)


def normalize_dims(dim, ndim):
    """An int, a sequence of ints or None -> a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (_wrap_dim(int(dim), ndim),)
    dims = tuple(_wrap_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {tuple(dim)} appears multiple times in the list of dims")
    return tuple(sorted(dims))


def size_args(size):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``; return a tuple of ints."""
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size must be a sequence of ints, got {s!r}")
        out.append(int(s))
    return tuple(out)
