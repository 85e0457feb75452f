"""Reductions: sum, mean, var/std, prod, max/min (with indices), amax/amin, logsumexp,
cumsum, norms, sorting and selection.

Where several inputs share the extreme value, ``amax``/``max()`` split the gradient
evenly among them and ``max(dim)`` gives it to the returned index, as torch does.
"""
import builtins
from collections import namedtuple

import numpy as np

from .. import _dtype
from .._tensor import Tensor, _make, _wrap_dim
from ..autograd.function import Node
from ._base import broadcast_to, normalize_dims, cast
from .elementwise import where, _const, mask_grad

__all__ = ["sum", "mean", "nansum", "nanmean", "var", "std", "var_mean", "std_mean", "prod",
           "max", "min", "amax", "amin", "aminmax", "argmax", "argmin", "logsumexp", "cumsum",
           "cummax", "cummin", "all", "any", "count_nonzero", "sort", "argsort", "msort",
           "topk", "kthvalue", "median", "nanmedian", "mode", "unique", "bincount", "histc"]

values_indices = namedtuple("return_types", ["values", "indices"])
min_max = namedtuple("aminmax", ["min", "max"])


def _keep_shape(in_shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(in_shape))


def expand_reduced(gy, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dimensions."""
    if not keepdim:
        gy = gy.reshape(_keep_shape(in_shape, dims))
    return broadcast_to(gy, in_shape)


def _dims(x, dim):
    nd = x._data.ndim
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(nd))
    return normalize_dims(dim, nd) if nd else ()


class Sum(Node):
    def forward(self, x, dims, keepdim, dtype):
        self.in_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        # = x.sum(...), called here so NumPy's inf - inf warning is filtered as shendu's
        return np.add.reduce(x, axis=dims, keepdims=keepdim, dtype=dtype)

    def backward(self, gy):
        return expand_reduced(gy, self.in_shape, self.dims, self.keepdim), None, None, None


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (all dims if None). Integer and bool inputs sum to int64."""
    nd = _dtype.to_numpy_dtype(dtype)
    if nd is None and input._data.dtype.kind in "iub":
        nd = np.dtype(np.int64)
    if nd is not None and nd != input._data.dtype and nd.kind == "f":
        input, nd = cast(input, nd), None
    return Sum.apply(input, _dims(input, dim), keepdim, nd)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return sum(where(_const(np.isnan(input._data)), 0.0, input), dim, keepdim, dtype=dtype)


class Mean(Node):
    def forward(self, x, dims, keepdim):
        self.in_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        n = 1
        for d in dims:
            n *= x.shape[d]
        self.n = n
        if n == 0:                      # NaN, as torch, without NumPy's warning from inside it
            with np.errstate(invalid="ignore", divide="ignore"):
                return x.mean(axis=dims, keepdims=keepdim)
        return x.mean(axis=dims, keepdims=keepdim)

    def backward(self, gy):
        return expand_reduced(gy / float(self.n), self.in_shape, self.dims, self.keepdim), None, None


def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.dtype.name.capitalize()}")
    return Mean.apply(input, _dims(input, dim), keepdim)


def nanmean(input, dim=None, keepdim=False):
    valid = ~np.isnan(input._data)
    cnt = valid.sum(axis=_dims(input, dim), keepdims=keepdim).astype(input._data.dtype)
    return nansum(input, dim, keepdim) / _const(cnt)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


class Var(Node):
    save_inputs = (0,)

    def forward(self, x, dims, correction, keepdim):
        self.in_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        n = 1
        for d in dims:
            n *= x.shape[d]
        self.denom = builtins.max(n - correction, 0)
        mu = x.mean(axis=dims, keepdims=True)
        d = x - mu
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.true_divide((d * d).sum(axis=dims, keepdims=keepdim), self.denom)

    def backward(self, gy):
        x, = self.saved_tensors
        centred = x - x.mean(self.dims, keepdim=True)
        g = expand_reduced(gy, self.in_shape, self.dims, self.keepdim)
        return g * centred * (2.0 / self.denom if self.denom else np.inf), None, None, None


def _var_args(input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):              # var(x, unbiased) legacy positional form
        unbiased, dim = dim, None
    if input._data.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    return _dims(input, dim), _correction(unbiased, correction), keepdim


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (``correction=1``; ``unbiased=False`` or
    ``correction=0`` gives the population variance)."""
    dims, c, keepdim = _var_args(input, dim, unbiased, keepdim, correction)
    return Var.apply(input, dims, c, keepdim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, _dims(input, dim if not isinstance(dim, bool) else None), keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    v, m = var_mean(input, dim, unbiased, keepdim, correction=correction)
    return v.sqrt(), m


class Prod(Node):
    save_inputs = (0,)
    save_output = True

    def forward(self, x, dims, keepdim):
        self.in_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        return x.prod(axis=dims, keepdims=keepdim)

    def backward(self, gy):
        x, = self.saved_tensors
        g = expand_reduced(gy, self.in_shape, self.dims, self.keepdim)
        if np.all(x._data != 0):
            y = expand_reduced(self.saved_output, self.in_shape, self.dims, self.keepdim)
            return g * y / x, None, None
        # with zeros: the product of all the other elements, by exclusive cumulative products
        # (computed on arrays, so no second derivative through this branch)
        return g * _const(_prod_others(x._data, self.dims)), None, None


def _prod_others(x, dims):
    rest = [i for i in range(x.ndim) if i not in dims]
    xt = np.transpose(x, rest + list(dims))
    lead = xt.shape[:len(rest)]
    flat = xt.reshape(lead + (-1,))
    ones = np.ones(lead + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], -1), -1), -1)
    out = (left * right).reshape(xt.shape)
    return np.transpose(out, np.argsort(rest + list(dims)))


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind in "ub" or input._data.dtype.kind == "i" and input._data.dtype != np.int64:
        input = input.long()
    dims = _dims(input, dim) if dim is not None else tuple(range(input._data.ndim))
    return Prod.apply(input, dims, keepdim)


class Amax(Node):
    """Max/min over dims; the gradient is shared evenly among tied extremes."""

    def forward(self, x, dims, keepdim, take_max):
        self.in_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        y = x.max(axis=dims, keepdims=True) if take_max else x.min(axis=dims, keepdims=True)
        if self._needs_grad:
            mask = x == y
            self.weight = mask / mask.sum(axis=dims, keepdims=True).astype(x.dtype)
        return y if keepdim else y.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dims))

    def backward(self, gy):
        g = expand_reduced(gy, self.in_shape, self.dims, self.keepdim)
        return g * _const(self.weight.astype(g._data.dtype)), None, None, None


def _check_nonempty(input, dims, name):
    if input._data.size == 0 or builtins.any(input._data.shape[d] == 0 for d in dims):
        raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
                         if not dims else f"{name}(): cannot reduce over a zero-size dimension "
                         f"of a tensor of shape {tuple(input.shape)}")


def amax(input, dim=(), keepdim=False):
    dims = _dims(input, dim)
    _check_nonempty(input, dims, "amax")
    return Amax.apply(input, dims, keepdim, True)


def amin(input, dim=(), keepdim=False):
    dims = _dims(input, dim)
    _check_nonempty(input, dims, "amin")
    return Amax.apply(input, dims, keepdim, False)


def aminmax(input, *, dim=None, keepdim=False):
    return min_max(amin(input, dim if dim is not None else (), keepdim),
                   amax(input, dim if dim is not None else (), keepdim))


class MaxDim(Node):
    """Max/min along one dim, returning (values, indices)."""

    def forward(self, x, dim, keepdim, take_max):
        self.in_shape, self.dim, self.keepdim = x.shape, dim, keepdim
        idx = np.argmax(x, axis=dim, keepdims=True) if take_max else np.argmin(x, axis=dim, keepdims=True)
        vals = np.take_along_axis(x, idx, axis=dim)
        self.idx = idx
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx.astype(np.int64)

    def backward(self, gy, _gi):
        from .indexing import ScatterAdd
        if not self.keepdim:
            gy = gy.unsqueeze(self.dim)
        return ScatterAdd.apply(gy, self.in_shape, self.dim, self.idx), None, None, None


def _max_min(input, dim, keepdim, other, take_max, name):
    if isinstance(dim, Tensor) and other is None:
        other, dim = dim, None
    if other is not None:
        from .elementwise import maximum, minimum
        return maximum(input, other) if take_max else minimum(input, other)
    if dim is None:
        _check_nonempty(input, (), name)
        return Amax.apply(input, tuple(range(input._data.ndim)), False, take_max)
    nd = input._data.ndim
    d = _wrap_dim(dim, nd)
    if nd == 0:
        return values_indices(input, _make(np.zeros((), np.int64), None, 0))
    if input._data.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    v, i = MaxDim.apply(input, d, keepdim, take_max)
    return values_indices(v, i)


def max(input, dim=None, keepdim=False, *, other=None):
    """``max(x)``: the largest element; ``max(x, dim)``: (values, indices) along dim;
    ``max(x, y)``: the elementwise maximum."""
    return _max_min(input, dim, keepdim, other, True, "max")


def min(input, dim=None, keepdim=False, *, other=None):
    return _max_min(input, dim, keepdim, other, False, "min")


def argmax(input, dim=None, keepdim=False):
    d = input._data
    if dim is None:
        r = np.asarray(np.argmax(d))
        if keepdim:
            r = r.reshape((1,) * d.ndim)
        return _make(r.astype(np.int64), None, 0)
    return _make(np.argmax(d, axis=_wrap_dim(dim, d.ndim), keepdims=keepdim).astype(np.int64), None, 0)


def argmin(input, dim=None, keepdim=False):
    d = input._data
    if dim is None:
        r = np.asarray(np.argmin(d))
        if keepdim:
            r = r.reshape((1,) * d.ndim)
        return _make(r.astype(np.int64), None, 0)
    return _make(np.argmin(d, axis=_wrap_dim(dim, d.ndim), keepdims=keepdim).astype(np.int64), None, 0)


class LogSumExp(Node):
    save_inputs = (0,)
    save_output = True

    def forward(self, x, dims, keepdim):
        self.in_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        m = x.max(axis=dims, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        y = np.log(np.exp(x - m).sum(axis=dims, keepdims=True)) + m
        return y if keepdim else y.reshape(tuple(s for i, s in enumerate(x.shape) if i not in dims))

    def backward(self, gy):
        x, = self.saved_tensors
        y = expand_reduced(self.saved_output, self.in_shape, self.dims, self.keepdim)
        g = expand_reduced(gy, self.in_shape, self.dims, self.keepdim)
        return g * (x - y).exp(), None, None


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) computed without overflow."""
    x = input if input._data.dtype.kind == "f" else input.to(_dtype.get_default_dtype())
    return LogSumExp.apply(x, _dims(x, dim), keepdim)


class CumSum(Node):
    def forward(self, x, dim):
        self.dim = dim
        return np.cumsum(x, axis=dim)

    def backward(self, gy):
        return gy.flip(self.dim).cumsum(self.dim).flip(self.dim), None


def cumsum(input, dim, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind in "iub":
        input = input.long()
    nd = input._data.ndim
    if nd == 0:
        return input.clone()
    return CumSum.apply(input, _wrap_dim(dim, nd))


def _cum_ext(input, dim, take_max):
    from .indexing import gather
    d = _wrap_dim(dim, input._data.ndim)
    x = input._data
    acc = np.maximum.accumulate(x, axis=d) if take_max else np.minimum.accumulate(x, axis=d)
    n = x.shape[d]
    pos = np.arange(n).reshape((-1,) + (1,) * (x.ndim - d - 1))
    hit = np.where(x == acc, pos, -1)
    idx = np.maximum.accumulate(hit, axis=d).astype(np.int64)
    return values_indices(gather(input, d, _make(idx, None, 0)), _make(idx, None, 0))


def cummax(input, dim):
    return _cum_ext(input, dim, True)


def cummin(input, dim):
    return _cum_ext(input, dim, False)


def all(input, dim=None, keepdim=False):
    d = input._data
    axis = None if dim is None else _dims(input, dim)
    return _make(np.asarray(np.all(d, axis=axis, keepdims=keepdim)), None, 0)


def any(input, dim=None, keepdim=False):
    d = input._data
    axis = None if dim is None else _dims(input, dim)
    return _make(np.asarray(np.any(d, axis=axis, keepdims=keepdim)), None, 0)


def count_nonzero(input, dim=None):
    axis = None if dim is None else _dims(input, dim)
    return _make(np.asarray(np.count_nonzero(input._data, axis=axis), dtype=np.int64), None, 0)


# ------------------------------------------------------------------ sorting and selection
def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices); values = gather(input, dim, indices), so gradients flow."""
    from .indexing import gather
    x = input._data
    if x.ndim == 0:
        return values_indices(input, _make(np.zeros((), np.int64), None, 0))
    d = _wrap_dim(dim, x.ndim)
    if descending:
        idx = np.flip(np.argsort(np.flip(x, d), axis=d, kind="stable"), d)
        idx = x.shape[d] - 1 - idx
    else:
        idx = np.argsort(x, axis=d, kind="stable")
    idx = _make(np.ascontiguousarray(idx).astype(np.int64), None, 0)
    return values_indices(gather(input, d, idx), idx)


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def msort(input):
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    from .indexing import gather
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    if not 0 <= k <= (x.shape[d] if x.ndim else 1):
        raise RuntimeError(f"selected index k out of range (k={k}, dimension size "
                           f"{x.shape[d] if x.ndim else 1})")
    idx = sort(input, d, descending=largest).indices._data
    idx = np.take(idx, np.arange(k), axis=d)
    idx = _make(np.ascontiguousarray(idx), None, 0)
    return values_indices(gather(input, d, idx), idx)


def kthvalue(input, k, dim=-1, keepdim=False):
    from .indexing import gather
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    idx = sort(input, d).indices._data
    idx = np.take(idx, [k - 1], axis=d)
    it = _make(idx, None, 0)
    vals = gather(input, d, it)
    if not keepdim:
        vals, it = vals.squeeze(d), _make(idx.squeeze(d), None, 0)
    return values_indices(vals, it)


def median(input, dim=None, keepdim=False):
    """The lower of the two middle values (torch's convention), with its index if dim given."""
    if dim is None:
        flat = input.reshape(-1)
        n = flat._data.size
        return kthvalue(flat, (n - 1) // 2 + 1, 0).values
    n = input._data.shape[_wrap_dim(dim, input._data.ndim)]
    return kthvalue(input, (n - 1) // 2 + 1, dim, keepdim)


def nanmedian(input, dim=None, keepdim=False):
    if not np.isnan(input._data).any():
        return median(input, dim, keepdim)
    raise NotImplementedError("nanmedian with NaNs present is not supported")


def mode(input, dim=-1, keepdim=False):
    x = input._data
    d = _wrap_dim(dim, x.ndim)
    xt = np.moveaxis(x, d, -1)
    s = np.sort(xt, axis=-1)
    vals = np.empty(xt.shape[:-1], dtype=x.dtype)
    idxs = np.empty(xt.shape[:-1], dtype=np.int64)
    for pos in np.ndindex(xt.shape[:-1]):
        u, c = np.unique(s[pos], return_counts=True)
        v = u[np.argmax(c)]
        vals[pos] = v
        idxs[pos] = np.nonzero(xt[pos] == v)[0][-1]
    if keepdim:
        vals, idxs = np.expand_dims(vals, d), np.expand_dims(idxs, d)
    return values_indices(_make(vals, None, 0), _make(idxs, None, 0))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    x = input._data
    res = np.unique(x, return_inverse=return_inverse, return_counts=return_counts, axis=dim)
    if not isinstance(res, tuple):
        return _make(res, None, 0)
    out = [_make(res[0], None, 0)]
    k = 1
    if return_inverse:
        out.append(_make(res[k].reshape(x.shape if dim is None else -1).astype(np.int64), None, 0))
        k += 1
    if return_counts:
        out.append(_make(res[k].astype(np.int64), None, 0))
    return tuple(out)


def bincount(input, weights=None, minlength=0):
    w = None if weights is None else weights._data
    return _make(np.bincount(input._data, w, minlength), None, 0)


def histc(input, bins=100, min=0, max=0):
    x = input._data
    lo, hi = (x.min(), x.max()) if min == 0 and max == 0 else (min, max)
    h, _ = np.histogram(x, bins=bins, range=(lo, hi))
    return _make(h.astype(x.dtype), None, 0)
