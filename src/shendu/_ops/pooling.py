"""Pooling over 1, 2 or 3 spatial dimensions, one N-d implementation: max (with torch's
flat indices), average, adaptive average / max, LP, and max-unpooling (seed 003: restore
the max positions, zeros elsewhere).

Inputs are (N, C, *spatial) or unbatched (C, *spatial). Two mechanisms serve every layer:

* **Windows** (max pooling). For each kernel offset k the input positions read by all the
  outputs form a strided view of the padded input with the output's shape; the maximum is
  the running maximum of those views, and backward sends each gradient to the first
  argmax of its window (torch's tie rule), view by view, with no Python loop over pixels.
* **Separable linear maps** (average pooling, adaptive averages, and the interpolations of
  ``upsampling.py``): a linear map applied along each spatial axis in turn. The backward
  of a linear map is its adjoint, itself a linear map, so these are differentiable to
  any order.
"""
import itertools

import numpy as np

from ..backend import pool as _pool
from .._tensor import _make
from ..autograd.function import Node
from . import shape as _shape
from .elementwise import sign
from .activation import relu
from .indexing import scatter
from .reduction import mean

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
           "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "lp_pool1d", "lp_pool2d", "lp_pool3d"]

_WORDS = {1: "a single int", 2: "a tuple of two ints", 3: "a tuple of three ints"}


# ---------------------------------------------------------------------- arguments
def ntuple(value, n, name, fn):
    """An int or a sequence of 1 or n ints -> a tuple of n ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"{fn}: {name} must either be a single int, or {_WORDS[n]}")
    return value


def batched(input, n, fn):
    """(input as (N, C, *spatial), whether a batch dimension was added)."""
    nd = input.dim()
    if nd not in (n + 1, n + 2):
        raise RuntimeError(f"{fn}: Expected {n + 1}D or {n + 2}D (batch mode) tensor with "
                           f"optional 0 dim batch size for input, but got: {list(input.shape)}")
    if nd == n + 1:
        return _shape.unsqueeze(input, 0), True
    return input, False


def unbatched(out, added):
    return _shape.squeeze(out, 0) if added else out


def pool_out_size(size, kernel, stride, pad, dilation, ceil_mode):
    """torch's pooling output length: floor (or ceil) of
    (size + 2 pad - dilation (kernel - 1) - 1) / stride, plus 1; with ceil_mode the last
    window must start inside the input or its left padding."""
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * pad - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _check_window(fn, kernel, stride, pad, dilation):
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{fn}: kernel size should be greater than zero, but got "
                           f"kernel_size={kernel}")
    if any(s == 0 for s in stride):
        raise RuntimeError("stride should not be zero")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"{fn}: stride should be greater than zero, but got stride={stride}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{fn}: dilation should be greater than zero, but got "
                           f"dilation={dilation}")
    for k, p, d in zip(kernel, pad, dilation):
        if p < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
        if p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
        if p > k // 2:                      # torch also holds dilated windows to this
            raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, "
                               f"but got pad={p} and kernel_size={k}")


def pool_geometry(fn, x, kernel, stride, pad, dilation, ceil_mode):
    """Check a pooling's arguments against ``x`` (N, C, *spatial) and return the output's
    spatial size; a window that does not fit explains the output-size arithmetic."""
    _check_window(fn, kernel, stride, pad, dilation)
    size = x.shape[2:]
    out = tuple(pool_out_size(*a, ceil_mode) for a in zip(size, kernel, stride, pad, dilation))
    if min(out) < 1:
        d = next(i for i, o in enumerate(out) if o < 1)
        L, K, S, P, D = size[d], kernel[d], stride[d], pad[d], dilation[d]
        c = x.shape[1]
        raise RuntimeError(
            f"{fn}: Given input size: ({'x'.join(map(str, (c,) + size))}). Calculated output "
            f"size: ({'x'.join(map(str, (c,) + out))}). Output size is too small: along spatial "
            f"dim {d}, floor((L + 2P - D(K-1) - 1)/S) + 1 = floor(({L} + 2*{P} - {D}*({K}-1) - "
            f"1)/{S}) + 1 = {out[d]}; the kernel spans {D * (K - 1) + 1} but the padded input has "
            f"{L + 2 * P}")
    return out


def _window_args(n, fn, kernel_size, stride, padding, dilation=1):
    kernel = ntuple(kernel_size, n, "kernel_size", fn)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) \
        else ntuple(stride, n, "stride", fn)
    return kernel, stride, ntuple(padding, n, "padding", fn), ntuple(dilation, n, "dilation", fn)


# ---------------------------------------------------------------------- padding
def pad_trailing(x, pads, value=0):
    """Pad (or, for negative amounts, crop) the trailing len(pads) axes of ``x``:
    pads = ((before, after), ...). Returns ``x`` itself when nothing changes."""
    if not any(b or a for b, a in pads):
        return x
    lead = x.ndim - len(pads)
    crop = (slice(None),) * lead + tuple(slice(max(-b, 0), s - max(-a, 0))
                                         for s, (b, a) in zip(x.shape[lead:], pads))
    x = x[crop]
    grow = [(max(b, 0), max(a, 0)) for b, a in pads]
    if not any(b or a for b, a in grow):
        return x
    shape = x.shape[:lead] + tuple(s + b + a for s, (b, a) in zip(x.shape[lead:], grow))
    out = np.full(shape, value, dtype=x.dtype) if value else np.zeros(shape, dtype=x.dtype)
    out[(slice(None),) * lead + tuple(slice(b, b + s) for s, (b, _) in
                                      zip(x.shape[lead:], grow))] = x
    return out


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


# ---------------------------------------------------------------------- max-pool windows
def _grid_steps(t):
    """(stride, dilation) when the table t[o, k] = o stride + k dilation, else None."""
    O, K = t.shape
    s = int(t[1, 0] - t[0, 0]) if O > 1 else 1
    d = int(t[0, 1] - t[0, 0]) if K > 1 else 1
    if t[0, 0] != 0 or s < 1 or d < 1 or not np.array_equal(
            t, np.arange(O)[:, None] * s + np.arange(K)[None, :] * d):
        return None
    return s, d


def _as_slice(col):
    """An increasing arithmetic sequence of indices as a slice, else None."""
    if len(col) == 1:
        return slice(int(col[0]), int(col[0]) + 1)
    step = int(col[1] - col[0])
    if step > 0 and np.all(np.diff(col) == step):
        return slice(int(col[0]), int(col[-1]) + 1, step)
    return None


class Windows:
    """Where each kernel offset of a max pooling reads.

    Along spatial axis d, output o and kernel offset k read position ``tables[d][o, k]``
    of the input padded by ``pads[d] = (before, after)`` (``after`` may be negative: a tail
    that no window reaches). ``keys[j]`` indexes the padded (N, C, *spatial) array for the
    j-th offset (row-major over the kernel) and gives an (N, C, *out) array: a strided view
    when every table column is arithmetic (regular pooling), else a gathered copy (adaptive
    pooling with uneven windows).
    """

    def __init__(self, in_size, tables, pads):
        self.in_size, self.tables, self.pads = tuple(in_size), tables, pads
        self.kshape = tuple(t.shape[1] for t in tables)
        self.out = tuple(t.shape[0] for t in tables)
        cols = [[_as_slice(t[:, k]) for k in range(t.shape[1])] for t in tables]
        self.strided = all(c is not None for cs in cols for c in cs)
        lead = (slice(None), slice(None))
        if self.strided:
            self.keys = [lead + key for key in itertools.product(*cols)]
        else:
            self.keys = [lead + np.ix_(*key) for key in
                         itertools.product(*[[t[:, k] for k in range(t.shape[1])]
                                             for t in tables])]
        # windows that share no input position: backward may write instead of add; if they
        # also cover the whole padded input, it need not start from zeros
        self.disjoint = self.strided and all(
            t.shape[1] == 1 or (t.shape[0] == 1 or t[1, 0] > t[0, -1]) for t in tables)
        self.tiles = self.disjoint and all(t.size == L + b + a for t, L, (b, a) in
                                           zip(tables, self.in_size, pads))
        # 2x2 windows at stride 2 tiling the padded plane: the compiled kernels' case
        self.pairs = self.tiles and self.kshape == (2, 2) and all(
            np.array_equal(t, np.arange(t.shape[0])[:, None] * 2 + np.arange(2)) for t in tables)
        # a regular grid, o s + k d along every axis: ((s, d), ...) for the grid kernels
        self.steps = tuple(_grid_steps(t) for t in tables)
        if not all(self.steps):
            self.steps = None

    @classmethod
    def regular(cls, in_size, out, kernel, stride, pad, dilation):
        tables, pads = [], []
        for L, O, K, S, P, D in zip(in_size, out, kernel, stride, pad, dilation):
            tables.append(np.arange(O)[:, None] * S + np.arange(K)[None, :] * D)
            pads.append((P, (O - 1) * S + (K - 1) * D + 1 - L - P))
        return cls(in_size, tables, pads)

    @classmethod
    def adaptive(cls, in_size, out):
        """Windows [floor(o L / O), ceil((o+1) L / O)); shorter windows repeat their last
        position (harmless for a maximum: a repeat never beats the first occurrence)."""
        tables = []
        for L, O in zip(in_size, out):
            o = np.arange(O)
            start, end = (o * L) // O, -((-(o + 1) * L) // O)
            k = np.arange((end - start).max(initial=1))
            tables.append(start[:, None] + np.minimum(k[None, :], (end - start - 1)[:, None]))
        return cls(in_size, tables, [(0, 0)] * len(in_size))

    def pad(self, x, value):
        return pad_trailing(x, self.pads, value)

    def unpad(self, xp):
        return pad_trailing(xp, [(-b, -a) for b, a in self.pads])

    def padded_shape(self, lead):
        return tuple(lead) + tuple(L + b + a for L, (b, a) in zip(self.in_size, self.pads))

    def valid(self, j):
        """Boolean (*out) mask: offset j reads inside the input, not its padding."""
        ks = np.unravel_index(j, self.kshape)
        mask = np.ones((), dtype=bool)
        for d, (t, k, (b, _)) in enumerate(zip(self.tables, ks, self.pads)):
            pos = t[:, k] - b
            ok = (pos >= 0) & (pos < self.in_size[d])
            mask = mask[..., None] & ok.reshape((1,) * d + (-1,))
        return mask

    def flat_indices(self, arg):
        """torch's indices: the argmax's flat position within its (unpadded) input plane."""
        ks = np.unravel_index(arg, self.kshape)
        n = len(self.tables)
        flat = np.zeros(arg.shape, dtype=np.int64)
        for d, (t, k, (b, _)) in enumerate(zip(self.tables, ks, self.pads)):
            o = np.arange(t.shape[0]).reshape((-1,) + (1,) * (n - 1 - d))
            flat = flat * self.in_size[d] + (t[o, k] - b)
        return flat


def _exact_argmax(views, win):
    """torch's rule, for windows holding NaN or only -inf: start at the first position inside
    the input, move on for a strictly larger value or a NaN."""
    arg = np.full(views[0].shape, -1, dtype=np.int32)
    best = np.full(views[0].shape, -np.inf, dtype=views[0].dtype)
    for k, v in enumerate(views):
        take = win.valid(k) & ((v > best) | np.isnan(v) | (arg < 0))
        arg[take] = k
        best = np.where(take, v, best)
    return arg


def _use_kernel(win, dtype):
    return win.pairs and _pool.pairs_apply(dtype)


def _use_grid(win, dtype):
    """The compiled kernels for any regular 2-D grid of windows."""
    return win.steps is not None and _pool.windows_apply(dtype, win.kshape)


class MaxPool(Node):
    """Window maxima; backward sends each gradient to its window's first argmax."""

    def forward(self, x, win, with_indices):
        xp = win.pad(x, _lowest(x.dtype))
        need_arg = self._needs_grad or with_indices
        fast = None
        if need_arg and _use_kernel(win, x.dtype):
            fast = _pool.max_pool_pairs(xp, x.shape[:2] + win.out)
        elif need_arg and _use_grid(win, x.dtype):
            fast = _pool.max_pool_grid(xp, x.shape[:2] + win.out, win.kshape, win.steps)
        if fast is not None:
            out, arg = fast
        else:
            out, arg = _pool.argmax_views([xp[key] for key in win.keys], need_arg)
        if arg is not None and out.size and x.dtype.kind == "f" and not out.min() > -np.inf:
            arg = _exact_argmax([xp[key] for key in win.keys], win)
        if self._needs_grad:
            self.win, self.arg = win, arg
        if with_indices:
            return out, win.flat_indices(arg)
        return out

    def backward(self, gy, g_indices=None):
        return MaxScatter.apply(gy, self.win, self.arg), None, None


class MaxScatter(Node):
    """gy added back at each window's argmax (zeros elsewhere): the adjoint of MaxGather.
    (See ``backend.pool.scatter_argmax`` for its inf/NaN rule.)"""

    def forward(self, gy, win, arg):
        self.win, self.arg = win, arg
        if _use_kernel(win, gy.dtype):
            return win.unpad(_pool.max_unpool_pairs(gy, arg, win.padded_shape(gy.shape[:2])))
        if _use_grid(win, gy.dtype) and arg.dtype == np.uint8:
            return win.unpad(_pool.max_unpool_grid(gy, arg, win.padded_shape(gy.shape[:2]),
                                                   win.kshape, win.steps))
        gxp = (np.empty if win.tiles else np.zeros)(win.padded_shape(gy.shape[:2]),
                                                    dtype=gy.dtype)
        _pool.scatter_argmax(gy, arg, win.keys, gxp, win.disjoint, win.strided)
        return win.unpad(gxp)

    def backward(self, gg):
        return MaxGather.apply(gg, self.win, self.arg), None, None


class MaxGather(Node):
    """Each window's entry at its argmax (given the argmax): the adjoint of MaxScatter."""

    def forward(self, x, win, arg):
        self.win, self.arg = win, arg
        xp = win.pad(x, 0)
        out = np.zeros(arg.shape, dtype=x.dtype)
        for k, key in enumerate(win.keys):
            np.copyto(out, xp[key], where=arg == k)
        return out

    def backward(self, gy):
        return MaxScatter.apply(gy, self.win, self.arg), None, None


def _max_pool(n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    fn = f"max_pool{n}d"
    kernel, stride, pad, dil = _window_args(n, fn, kernel_size, stride, padding, dilation)
    x, added = batched(input, n, fn)
    out = pool_geometry(fn, x, kernel, stride, pad, dil, ceil_mode)
    win = Windows.regular(x.shape[2:], out, kernel, stride, pad, dil)
    return _finish_max(x, win, return_indices, added)


def _finish_max(x, win, return_indices, added):
    res = MaxPool.apply(x, win, bool(return_indices))
    if return_indices:
        return unbatched(res[0], added), unbatched(res[1], added)
    return unbatched(res, added)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of (N, C, L); with return_indices also the argmax's index in L."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of (N, C, H, W); indices are flat positions h * W + w."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over windows of (N, C, D, H, W); indices are flat positions (d H + h) W + w."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---------------------------------------------------------------------- separable linear maps
class Separable(Node):
    """``x`` with a linear map applied along each of some axes in turn; ``maps`` is a tuple
    of (axis, map) where a map has ``apply(x, axis)`` and an adjoint ``T``. The backward
    applies the adjoints in reverse order, so it is linear and differentiable again."""

    def forward(self, x, maps):
        self.maps = maps
        y = x
        for axis, m in maps:
            y = m.apply(y, axis)
        return y.copy() if y is x else y

    def backward(self, gy):
        return Separable.apply(gy, tuple((a, m.T) for a, m in reversed(self.maps))), None


def _along(axis, ndim, index):
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def _scaled(y, scale, axis):
    """y times ``scale`` (a number or one factor per position along ``axis``); in place
    when ``y`` is a fresh array of our own."""
    if scale is None:
        return y
    if not np.isscalar(scale):
        scale = scale.astype(y.dtype).reshape((-1,) + (1,) * (y.ndim - axis - 1))
    return np.multiply(y, scale, out=y) if y.flags.owndata and y.flags.writeable else y * scale


class WindowSum:
    """Along one axis of length ``size``: y[o] = scale[o] * sum_k x[o S + k D - before] for
    k < kernel and o < out, reading zeros outside the input (``before`` zeros of padding
    on the left; negative ``before`` skips the first entries). ``scale`` is None, a number
    or an (out,) array. Average pooling is this along each axis; nearest upsampling by an
    integer factor is its adjoint."""

    def __init__(self, size, kernel, stride, out, before=0, dilation=1, scale=None):
        self.size, self.kernel, self.stride, self.out = size, kernel, stride, out
        self.before, self.dilation, self.scale = before, dilation, scale
        self.after = (out - 1) * stride + (kernel - 1) * dilation + 1 - size - before
        self.T = _WindowSpread(self)

    def apply(self, x, axis):
        nd = x.ndim
        pads = [(0, 0)] * (nd - axis)
        pads[0] = (self.before, self.after)
        xp = pad_trailing(x, pads)
        K, S, D, O = self.kernel, self.stride, self.dilation, self.out
        if K > 4 and S == K and D == 1:                 # long disjoint windows: one reduction
            shp = xp.shape[:axis] + (O, K) + xp.shape[axis + 1:]
            y = xp.reshape(shp).sum(axis + 1)
        else:
            views = [xp[_along(axis, nd, slice(k * D, k * D + (O - 1) * S + 1, S))]
                     for k in range(K)]
            y = np.add(views[0], views[1]) if K > 1 else views[0].copy()
            for v in views[2:]:
                y += v
        return _scaled(y, self.scale, axis)


class _WindowSpread:
    """The adjoint of a WindowSum: each value, scaled, added over its window."""

    def __init__(self, w):
        self.T = w

    def apply(self, g, axis):
        w = self.T
        K, S, D, O = w.kernel, w.stride, w.dilation, w.out
        if w.scale is not None:
            g = _scaled(g.copy(), w.scale, axis)
        nd = g.ndim
        pads = [(0, 0)] * (nd - axis)
        pads[0] = (-w.before, -w.after)
        if S == K and D == 1:                               # disjoint windows: repeat
            return pad_trailing(np.repeat(g, K, axis=axis), pads)
        shp = list(g.shape)
        shp[axis] = w.size + w.before + w.after
        gp = np.zeros(shp, dtype=g.dtype)
        for k in range(K):
            gp[_along(axis, nd, slice(k * D, k * D + (O - 1) * S + 1, S))] += g
        return pad_trailing(gp, pads)


class Dense:
    """Along one axis: y = A @ x for an (out, size) matrix A (cast to x's dtype)."""

    def __init__(self, A):
        self.A = A
        self._T = None

    @property
    def T(self):
        if self._T is None:
            self._T = Dense(self.A.T)
            self._T._T = self
        return self._T

    def apply(self, x, axis):
        A = self.A.astype(x.dtype, copy=False)
        if axis == x.ndim - 1:
            return x @ A.T
        return np.moveaxis(A @ np.moveaxis(x, axis, -2), -2, axis)


def separable(x, maps):
    """Apply ``maps`` ((axis, map), ...) to tensor ``x`` as one differentiable op."""
    return Separable.apply(x, tuple(maps))


# ---------------------------------------------------------------------- average pooling
def _avg_pool(n, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    fn = f"avg_pool{n}d"
    kernel, stride, pad, _ = _window_args(n, fn, kernel_size, stride, padding)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    x, added = batched(input, n, fn)
    out = pool_geometry(fn, x, kernel, stride, pad, (1,) * n, ceil_mode)
    maps, common = [], 1.0
    for d in range(n):
        L, K, S, P, O = x.shape[2 + d], kernel[d], stride[d], pad[d], out[d]
        start = np.arange(O) * S - P
        end = np.minimum(start + K, L + P)
        counts = end - start if count_include_pad else np.minimum(end, L) - np.maximum(start, 0)
        if divisor_override is None and np.all(counts == counts[0]):
            common /= counts[0]
            scale = None
        else:
            scale = None if divisor_override is not None else 1.0 / counts
        maps.append((2 + d, WindowSum(L, K, S, O, P, scale=scale)))
    if divisor_override is not None:
        common = 1.0 / divisor_override
    maps.reverse()                      # last axis first: the array shrinks fastest
    last = maps[-1][1]
    if common != 1.0:
        last.scale = common if last.scale is None else last.scale * common
    return unbatched(separable(x, maps), added)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Window means of (N, C, L); count_include_pad=False divides by the real elements."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Window means of (N, C, H, W) (divided by divisor_override when given)."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Window means of (N, C, D, H, W)."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---------------------------------------------------------------------- adaptive pooling
def _adaptive_args(n, x, output_size, fn):
    size = ntuple(output_size, n, "output_size", fn) if output_size is not None and \
        not isinstance(output_size, (list, tuple)) else tuple(output_size)
    if len(size) != n:
        raise RuntimeError(f"{fn}: output_size must be {n}-dimensional, got {size}")
    size = tuple(x.shape[2 + d] if s is None else int(s) for d, s in enumerate(size))
    if any(s < 0 for s in size):
        raise RuntimeError(f"{fn}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(size)}")
    for d in range(n):
        if x.shape[2 + d] == 0:
            raise RuntimeError(f"{fn}: Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(x.shape)} with dimension "
                               f"{2 + d} being empty")
    return size


def adaptive_average_matrix(L, O):
    """The (O, L) matrix averaging windows [floor(o L / O), ceil((o+1) L / O))."""
    o = np.arange(O)
    start, end = (o * L) // O, -((-(o + 1) * L) // O)
    i = np.arange(L)
    inside = (i[None, :] >= start[:, None]) & (i[None, :] < end[:, None])
    return inside / (end - start)[:, None].astype(np.float64)


def _adaptive_avg(n, input, output_size):
    fn = f"adaptive_avg_pool{n}d"
    x, added = batched(input, n, fn)
    size = _adaptive_args(n, x, output_size, fn)
    if all(s == 1 for s in size):
        return unbatched(mean(x, tuple(range(2, 2 + n)), keepdim=True), added)
    maps = []
    for d in reversed(range(n)):
        L, O = x.shape[2 + d], size[d]
        if O == L:
            continue
        if O and L % O == 0:
            maps.append((2 + d, WindowSum(L, L // O, L // O, O, scale=O / L)))
        else:
            maps.append((2 + d, Dense(adaptive_average_matrix(L, O))))
    return unbatched(separable(x, maps), added)


def adaptive_avg_pool1d(input, output_size):
    """Means over output_size windows that tile (N, C, L) as evenly as possible."""
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Means over windows tiling (N, C, H, W); output_size 1 gives global average pooling
    (seed 001, NiN). An entry None keeps that input size."""
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg(3, input, output_size)


def _adaptive_max(n, input, output_size, return_indices):
    fn = f"adaptive_max_pool{n}d"
    x, added = batched(input, n, fn)
    size = _adaptive_args(n, x, output_size, fn)
    return _finish_max(x, Windows.adaptive(x.shape[2:], size), return_indices, added)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maxima over windows tiling (N, C, H, W); indices are flat positions h * W + w."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max(3, input, output_size, True)


# ---------------------------------------------------------------------- LP pooling
def _lp_pool(n, input, norm_type, kernel_size, stride, ceil_mode):
    """(sum over the window of x^p)^(1/p), computed as torch does: the window mean times
    the window size, sign-preserving."""
    kernel = ntuple(kernel_size, n, "kernel_size", f"lp_pool{n}d")
    pooled = _avg_pool(n, input ** norm_type, kernel, stride, 0, ceil_mode, True, None)
    size = int(np.prod(kernel))
    return (sign(pooled) * relu(pooled.abs())).mul(size).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: p = inf is max pooling, p = 1 sum pooling."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# ---------------------------------------------------------------------- max unpooling
def _unpool_size(x, n, kernel, stride, pad, output_size):
    default = tuple((x.shape[2 + d] - 1) * stride[d] + kernel[d] - 2 * pad[d] for d in range(n))
    if output_size is None:
        return default
    size = tuple(int(s) for s in output_size)
    if len(size) == n + 2:
        size = size[2:]
    if len(size) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, "
                         f"but it has a length of '{len(size)}'")
    for d in range(n):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < size[d] < hi:
            raise ValueError(f'invalid output_size "{list(size)}" (dim {d} must be between '
                             f'{lo} and {hi})')
    return size


def _max_unpool(n, input, indices, kernel_size, stride, padding, output_size):
    fn = f"max_unpool{n}d"
    kernel, stride, pad, _ = _window_args(n, fn, kernel_size, stride, padding)
    x, added = batched(input, n, fn)
    idx, _ = batched(indices, n, fn)
    if idx.shape != x.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(x.shape)}) but got indices tensor with shape "
                           f"{list(idx.shape)}")
    if idx._data.dtype != np.int64:
        raise RuntimeError(f"{fn}(): Expected indices to have type int64 but got "
                           f"{idx.dtype}")
    size = _unpool_size(x, n, kernel, stride, pad, output_size)
    plane = int(np.prod(size))
    flat = idx._data.reshape(x.shape[:2] + (-1,))
    if flat.size and (flat.min() < 0 or flat.max() >= plane):
        bad = flat.max() if flat.max() >= plane else flat.min()
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, size))})")
    zeros = _make(np.zeros(x.shape[:2] + (plane,), dtype=x._data.dtype), None, 0)
    out = scatter(zeros, 2, _make(flat, None, 0), _shape.reshape(x, x.shape[:2] + (-1,)))
    return unbatched(_shape.reshape(out, x.shape[:2] + size), added)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool1d: each value written back at its index, zeros elsewhere."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Seed 003's unpooling: restore the max positions (from max_pool2d's indices), zeros
    elsewhere."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
