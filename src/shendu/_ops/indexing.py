"""Indexing: ``x[key]`` (basic slicing gives a view; integer and boolean arrays give a
copy), ``x[key] = v``, gather / scatter / index_select / index_add / masked_fill.

Gradients of advanced indexing accumulate over repeated indices (``np.add.at``).
"""
import numpy as np

from .. import _dtype
from .._tensor import Tensor, _make, _wrap_dim
from ..autograd.function import Node
from ._base import sum_to, promote, as_tensor_arg, cast

__all__ = ["getitem", "setitem", "gather", "scatter", "scatter_add", "index_select",
           "index_add", "index_copy", "index_fill", "masked_fill", "masked_select", "masked_scatter",
           "take", "take_along_dim", "nonzero", "argwhere", "index_put", "scatter_reduce"]


def _norm_key(key):
    """Tensors become arrays (0-d integer tensors become ints); lists become arrays."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, Tensor):
            d = k._data
            if d.ndim == 0 and d.dtype.kind in "iu":
                k = int(d)
            elif d.dtype == np.uint8:
                k = d.astype(bool)
            else:
                k = d
                if k.dtype.kind == "f":
                    raise IndexError("tensors used as indices must be long, int, byte or bool "
                                     "tensors")
        elif isinstance(k, list):
            k = np.asarray([v._data if isinstance(v, Tensor) else v for v in k])
            if k.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        elif isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype.kind in "iu":
            k = int(k)
        elif isinstance(k, np.integer):
            k = int(k)
        out.append(k)
    return tuple(out)


def _is_basic(key):
    for k in key:
        if isinstance(k, np.ndarray) or (isinstance(k, bool)):
            return False
    return True


def _has_int_arrays(key):
    return any(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in key)


def _check_bounds(shape, key):
    """IndexError with torch's wording for out-of-range integer indices."""
    dim = 0
    for k in key:
        if k is None:
            continue
        if k is Ellipsis:
            dim = len(shape) - sum(1 for kk in key[key.index(Ellipsis) + 1:] if kk is not None)
            continue
        if isinstance(k, int) and not isinstance(k, bool):
            if dim >= len(shape):
                raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
            n = shape[dim]
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size {n}")
        dim += k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1


class Index(Node):
    def forward(self, x, key):
        self.in_shape, self.key = x.shape, key
        try:
            return x[key]
        except IndexError as e:
            _check_bounds(x.shape, key)
            raise IndexError(f"{e} (tensor of shape {tuple(x.shape)})") from None

    def backward(self, gy):
        return IndexBackward.apply(gy, self.in_shape, self.key), None


class IndexBackward(Node):
    """Scatter-add ``g`` into zeros of ``shape`` at ``key`` (the adjoint of indexing)."""

    def forward(self, g, shape, key):
        self.key = key
        out = np.zeros(shape, dtype=g.dtype)
        if _has_int_arrays(key):
            np.add.at(out, key, g)
        else:
            out[key] = g
        return out

    def backward(self, gg):
        return getitem(gg, self.key), None, None


def _split_ints(key, ndim):
    """torch applies integer indices as selections before advanced indexing (NumPy treats
    them as advanced indices and may move the result's dimensions). For a key mixing ints
    with index arrays, return (selection key, remaining key); else None."""
    if not any(isinstance(k, int) and not isinstance(k, bool) for k in key) or _is_basic(key):
        return None
    ell = [i for i, k in enumerate(key) if k is Ellipsis]
    if ell:
        used = sum(k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1
                   for k in key if k is not None and k is not Ellipsis)
        i = ell[0]
        key = key[:i] + (slice(None),) * (ndim - used) + key[i + 1:]
    first = tuple(k if (isinstance(k, int) or k is None) else slice(None) for k in key)
    rest = tuple(slice(None) if k is None else k for k in key if not isinstance(k, int) or
                 isinstance(k, bool))
    return first, rest


def getitem(input, key):
    key = _norm_key(key)
    split = _split_ints(key, input._data.ndim)
    if split is not None:
        return getitem(getitem(input, split[0]), split[1])
    out = Index.apply(input, key)
    if _is_basic(key):
        from .shape import as_view
        as_view(out, input, lambda t: getitem(t, key))
    return out


class IndexPut(Node):
    """Out of place ``x[key] = v`` (``accumulate``: ``x[key] += v``)."""

    def forward(self, x, v, key, accumulate):
        self.key, self.accumulate = key, accumulate
        self.v_shape = np.shape(v)
        out = x.copy()
        if accumulate:
            np.add.at(out, key, v)
        else:
            out[key] = v
        return out

    def backward(self, gy):
        need = self.needs_input_grad
        gx = gv = None
        if need[0]:
            gx = gy if self.accumulate else IndexPut.apply(gy, 0.0, self.key, False)
        if need[1]:
            gv = sum_to(getitem(gy, self.key), self.v_shape)
        return gx, gv, None, None


def index_put(input, indices, values, accumulate=False):
    key = _norm_key(tuple(indices))
    x, v = _value_like(input, values)
    return IndexPut.apply(x, v, key, accumulate)


def _value_like(x, value):
    if isinstance(value, Tensor):
        if value._data.dtype != x._data.dtype:
            value = cast(value, x._data.dtype) if value._data.dtype.kind == "f" or \
                x._data.dtype.kind == "f" else _make(value._data.astype(x._data.dtype), None, 0)
        return x, value
    return x, _make(np.asarray(value, dtype=x._data.dtype), None, 0)


def setitem(input, key, value):
    """``input[key] = value`` in place (through autograd when needed)."""
    from .inplace import needs_graph, commit_inplace
    key = _norm_key(key)
    split = _split_ints(key, input._data.ndim)
    if split is not None:
        return setitem(getitem(input, split[0]), split[1], value)
    if isinstance(value, Tensor) and value._data.dtype != input._data.dtype \
            and input._data.dtype.kind != "f" and value._data.dtype.kind == "f":
        pass  # torch casts silently for setitem
    if not needs_graph(input, value):
        v = value._data if isinstance(value, Tensor) else value
        try:
            input._data[key] = v
        except IndexError:
            _check_bounds(input._data.shape, key)
            raise
        except ValueError as e:
            if not input._data.flags.writeable:
                raise RuntimeError("unsupported operation: more than one element of the written-to "
                                   "tensor refers to a single memory location. Please clone() the "
                                   "tensor before performing the operation.") from None
            raise RuntimeError(f"shape mismatch: value tensor of shape {tuple(np.shape(v))} cannot "
                               f"be broadcast to indexing result of shape "
                               f"{tuple(input._data[key].shape)}") from e
        input._bump_version()
        return
    x, v = _value_like(input, value)
    commit_inplace(input, IndexPut.apply(x, v, key, False))


# ------------------------------------------------------------------ gather / scatter
def _full_index(index, dim):
    """The index tuple that addresses ``out[i0, .., index[i], .., in]`` for every i."""
    idx = list(np.ogrid[tuple(slice(0, s) for s in index.shape)])
    idx[dim] = index
    return tuple(idx)


def _check_index(input, dim, index, name):
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): index must be a Tensor")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")
    nd = input._data.ndim
    if index._data.ndim != nd and not (nd == 0 and index._data.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor "
                           f"({name}: input {tuple(input.shape)}, index {tuple(index.shape)})")
    d = _wrap_dim(dim, nd)
    idx = index._data
    if idx.size:
        n = input._data.shape[d] if nd else 1
        lo, hi = idx.min(), idx.max()
        if lo < -n or hi >= n:
            bad = hi if hi >= n else lo
            raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {n} "
                               f"({name})")
    return d


class Gather(Node):
    def forward(self, x, dim, index):
        self.in_shape, self.dim, self.index = x.shape, dim, index
        return x[_full_index(index, dim)]

    def backward(self, gy):
        return ScatterAdd.apply(gy, self.in_shape, self.dim, self.index), None, None


class ScatterAdd(Node):
    """zeros(shape) with ``src`` added at (dim, index): the adjoint of gather."""

    def forward(self, src, shape, dim, index):
        self.dim, self.index = dim, index
        out = np.zeros(shape, dtype=src.dtype)
        np.add.at(out, _full_index(index, dim), src[tuple(slice(0, s) for s in index.shape)])
        return out

    def backward(self, gg):
        return gather(gg, self.dim, _make(self.index, None, 0)), None, None, None


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim 0), and so on."""
    d = _check_index(input, dim, index, "gather")
    for i, (a, b) in enumerate(zip(index._data.shape, input._data.shape)):
        if i != d and a > b:
            raise RuntimeError(f"Size does not match at dimension {i} expected index "
                               f"{list(index.shape)} to be smaller than self {list(input.shape)} "
                               f"apart from dimension {d}")
    return Gather.apply(input, d, index._data)


class Scatter(Node):
    def forward(self, x, src, dim, index, reduce):
        self.dim, self.index, self.reduce = dim, index, reduce
        self.src_is_tensor = isinstance(src, np.ndarray) and src.ndim > 0
        self.src_shape = np.shape(src)
        out = x.copy()
        key = _full_index(index, dim)
        vals = src[tuple(slice(0, s) for s in index.shape)] if self.src_is_tensor else src
        if reduce == "add":
            np.add.at(out, key, vals)
        elif reduce == "multiply":
            np.multiply.at(out, key, vals)
        else:
            out[key] = vals
        return out

    def backward(self, gy):
        need = self.needs_input_grad
        idx = _make(self.index, None, 0)
        gx = gs = None
        if self.reduce not in (None, "add"):
            raise RuntimeError("scatter with reduce='multiply' is not differentiable")
        if need[0]:
            gx = gy if self.reduce == "add" else Scatter.apply(gy, 0.0, self.dim, self.index, None)
        if need[1]:
            from .shape import pad_nd
            gs = gather(gy, self.dim, idx)
            if gs.shape != self.src_shape:    # src may be larger than index: the rest gets 0
                gs = pad_nd(gs, tuple((0, s - i) for s, i in zip(self.src_shape, gs.shape)))
        return gx, gs, None, None, None


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """out = input.clone(); out[index[i][j]][j] = src[i][j] (for dim 0), and so on."""
    if src is None:
        src = value
    d = _check_index(input, dim, index, "scatter")
    if isinstance(src, Tensor):
        x, s = _value_like(input, src)
        return Scatter.apply(x, s, d, index._data, reduce)
    return Scatter.apply(input, src, d, index._data, reduce)


def scatter_add(input, dim, index, src):
    return scatter(input, dim, index, src, reduce="add")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Non-differentiable scatter with 'sum', 'prod', 'mean', 'amax' or 'amin'."""
    d = _check_index(input, dim, index, "scatter_reduce")
    x = input._data.copy()
    key = _full_index(index._data, d)
    vals = src._data[tuple(slice(0, s) for s in index._data.shape)]
    ufunc = {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum,
             "mean": np.add}[reduce]
    if not include_self:
        init = {"sum": 0, "prod": 1, "mean": 0, "amax": -np.inf, "amin": np.inf}[reduce]
        x[key] = init
    ufunc.at(x, key, vals)
    if reduce == "mean":
        cnt = np.zeros(x.shape, dtype=x.dtype) + (1 if include_self else 0)
        np.add.at(cnt, key, 1)
        x = np.where(cnt > 0, x / np.maximum(cnt, 1), input._data)
        if x.dtype.kind in "iu":
            x = x.astype(input._data.dtype)
    return _make(x.astype(input._data.dtype), None, 0)


class IndexSelect(Node):
    def forward(self, x, dim, index):
        self.in_shape, self.dim, self.index = x.shape, dim, index
        return np.take(x, index, axis=dim)

    def backward(self, gy):
        return IndexAddInto.apply(gy, self.in_shape, self.dim, self.index), None, None


class IndexAddInto(Node):
    """zeros(shape) with ``src`` slices added at ``index`` along ``dim``."""

    def forward(self, src, shape, dim, index):
        self.dim, self.index = dim, index
        out = np.zeros(shape, dtype=src.dtype)
        _index_add_np(out, dim, index, src)
        return out

    def backward(self, gg):
        return index_select(gg, self.dim, _make(self.index, None, 0)), None, None, None


def _index_add_np(out, dim, index, src):
    if dim == 0 and out.ndim >= 1:
        np.add.at(out, index, src)
    else:
        np.add.at(out, (slice(None),) * dim + (index,), src)


def index_select(input, dim, index):
    d = _wrap_dim(dim, input._data.ndim)
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if idx.dtype.kind not in "iu":
        raise RuntimeError("index_select(): Expected dtype int32/int64 for index")
    n = input._data.shape[d] if input._data.ndim else 1
    if idx.size and (idx.max() >= n or idx.min() < -n):
        raise IndexError(f"index out of range in self (index_select: an index is >= {n}, the size "
                         f"of dimension {d})")
    if input._data.ndim == 0:
        return input.reshape(-1)[_make(idx.reshape(-1), None, 0)].reshape(idx.shape)
    return IndexSelect.apply(input, d, idx.reshape(-1))


class IndexAdd(Node):
    def forward(self, x, src, dim, index, alpha):
        self.dim, self.index, self.alpha = dim, index, alpha
        out = x.copy()
        _index_add_np(out, dim, index, src * alpha if alpha != 1 else src)
        return out

    def backward(self, gy):
        need = self.needs_input_grad
        gs = None
        if need[1]:
            gs = index_select(gy, self.dim, _make(self.index, None, 0))
            if self.alpha != 1:
                gs = gs * self.alpha
        return (gy if need[0] else None), gs, None, None, None


def index_add(input, dim, index, source, *, alpha=1):
    d = _wrap_dim(dim, input._data.ndim)
    x, s = _value_like(input, source)
    return IndexAdd.apply(x, s, d, index._data, alpha)


def index_copy(input, dim, index, source):
    d = _wrap_dim(dim, input._data.ndim)
    key = (slice(None),) * d + (index._data,)
    x, s = _value_like(input, source)
    return IndexPut.apply(x, s, key, False)


def index_fill(input, dim, index, value):
    d = _wrap_dim(dim, input._data.ndim)
    key = (slice(None),) * d + (index._data,)
    x, v = _value_like(input, value)
    return IndexPut.apply(x, v, key, False)


def masked_fill(input, mask, value):
    """input with ``value`` where ``mask`` is True (mask broadcasts to input)."""
    from .elementwise import where
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{m.dtype}")
    try:
        np.broadcast_shapes(m.shape, input._data.shape)
    except ValueError:
        raise RuntimeError(f"masked_fill: the mask of shape {tuple(m.shape)} does not broadcast "
                           f"to the input of shape {tuple(input.shape)}") from None
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        value = cast(value, input._data.dtype) if value._data.dtype != input._data.dtype and \
            value._data.dtype.kind == "f" else value
    else:
        value = _make(np.asarray(value, dtype=input._data.dtype), None, 0)
    if m.shape != input._data.shape:
        m = np.broadcast_to(m, np.broadcast_shapes(m.shape, input._data.shape))
    return where(_make(m, None, 0), value, input)


def masked_select(input, mask):
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    shape = np.broadcast_shapes(m.shape, input._data.shape)
    x = input if input._data.shape == shape else input.expand(shape)
    return getitem(x, _make(np.broadcast_to(m, shape), None, 0))


def masked_scatter(input, mask, source):
    m = np.broadcast_to(mask._data, input._data.shape)
    n = int(m.sum())
    src = source.reshape(-1)[:n]
    key = (m,)
    x, s = _value_like(input, src)
    return IndexPut.apply(x, s, key, False)


def take(input, index):
    return getitem(input.reshape(-1), index)


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return take(input, indices.reshape(-1))
    d = _wrap_dim(dim, input._data.ndim)
    shape = list(np.broadcast_shapes(input._data.shape[:d] + (1,) + input._data.shape[d + 1:],
                                     indices._data.shape[:d] + (1,) + indices._data.shape[d + 1:]))
    xs = list(shape)
    xs[d] = input._data.shape[d]
    ish = list(shape)
    ish[d] = indices._data.shape[d]
    return gather(input.expand(xs), d, _make(np.broadcast_to(indices._data, ish), None, 0))


def nonzero(input, *, as_tuple=False):
    d = input._data
    if as_tuple:
        if d.ndim == 0:
            return (_make(np.nonzero(d.reshape(1))[0].astype(np.int64), None, 0),)
        return tuple(_make(i.astype(np.int64), None, 0) for i in np.nonzero(d))
    return _make(np.argwhere(d).astype(np.int64), None, 0)


def argwhere(input):
    return nonzero(input)
