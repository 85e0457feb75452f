"""Resampling: ``interpolate`` (nearest, nearest-exact, linear, bilinear, trilinear, bicubic,
area, and antialiased bilinear/bicubic/lanczos), pixel shuffle / unshuffle and channel
shuffle.

Every interpolation mode is separable: along each spatial axis the output is a fixed
linear function of the input (seed 003's 上采样 by interpolation), so it runs as one
``Separable`` op of ``pooling.py`` with one map per axis; its backward is the adjoint
map, so it is differentiable to any order. The maps reproduce torch's source-index
arithmetic exactly, including where torch computes indices in float32.
"""
import math
import numbers

import numpy as np

from . import shape as _shape
from .pooling import Dense, separable, _along, _as_slice, adaptive_avg_pool1d, \
    adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle"]

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4, "lanczos": 4}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "lanczos",
          "area")


# ---------------------------------------------------------------------- nearest
class Take:
    """Along one axis: y[o] = x[idx[o]] for a non-decreasing ``idx`` into ``size`` entries
    (nearest-neighbour resampling)."""

    def __init__(self, idx, size):
        self.idx, self.size = idx, size
        self.T = _TakeAdjoint(self)

    def apply(self, x, axis):
        return np.take(x, self.idx, axis=axis)


class _TakeAdjoint:
    """The adjoint of a Take: each input position gets the sum of the outputs that copied
    it. Those outputs form a run; the j-th member of every run is one gather (a strided
    view when the runs are regular), masked where a run is shorter than j + 1."""

    def __init__(self, take):
        self.T = take
        counts = np.bincount(take.idx, minlength=take.size)
        first = np.cumsum(counts) - counts
        self.parts = []
        for j in range(counts.max(initial=0)):
            pos = np.minimum(first + j, len(take.idx) - 1)
            short = counts <= j
            self.parts.append((_as_slice(pos) or pos, short if short.any() else None))

    def apply(self, g, axis):
        out = None
        for pos, short in self.parts:
            part = g[_along(axis, g.ndim, pos)]
            if short is not None:
                part = np.where(short.reshape((-1,) + (1,) * (g.ndim - axis - 1)), 0, part)
            out = np.array(part, copy=True) if out is None else np.add(out, part, out=out)
        if out is None:
            out = np.zeros(g.shape[:axis] + (self.T.size,) + g.shape[axis + 1:], dtype=g.dtype)
        return out


def _scale_value(size, out, scale, dtype):
    """torch's compute_scales_value: 1 / scale_factor when one was given, else in / out."""
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(size) / dtype(out)


def nearest_index(size, out, scale, exact, copy_or_halve=False):
    """torch's source index of each output for 'nearest' (floor(o · s)) and 'nearest-exact'
    (floor((o + ½) · s)), computed in float32 as torch does. torch's 2-D 'nearest' kernel
    (``copy_or_halve``) copies when out = in and halves when out = 2 in, whatever the
    scale factor; its 1-D and 3-D kernels use the scale factor."""
    o = np.arange(out)
    if copy_or_halve and out in (size, 2 * size):
        return o if out == size else o >> 1
    s = _scale_value(size, out, scale, np.float32)
    src = (o + 0.5) * np.float64(s) if exact else o.astype(np.float32) * s
    return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), size - 1)


# ---------------------------------------------------------------------- linear and cubic
def _linear_scale(size, out, align_corners, scale, dtype):
    """torch's area_pixel_compute_scale."""
    if align_corners:
        return dtype(size - 1) / dtype(out - 1) if out > 1 else dtype(0)
    return _scale_value(size, out, scale, dtype)


def _source_index(size, out, align_corners, scale, dtype, cubic):
    """torch's area_pixel_compute_source_index for every output, in ``dtype``."""
    s = _linear_scale(size, out, align_corners, scale, dtype)
    o = np.arange(out).astype(dtype)
    if align_corners:
        return s * o
    src = s * (o + dtype(0.5)) - dtype(0.5)
    return src if cubic else np.maximum(src, dtype(0))


def _guard(src, size):
    """torch's guard_index_and_lambda: the floor index (taken in float32) and the fraction."""
    i = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), size - 1)
    return i, np.clip(src - i.astype(src.dtype), 0, 1)


def _matrix(out, size, cols, weights, dtype):
    """The (out, size) matrix with weights[t][o] added at (o, cols[t][o])."""
    A = np.zeros((out, size), dtype=dtype)
    rows = np.arange(out)
    for c, w in zip(cols, weights):
        np.add.at(A, (rows, c), w)
    return A


def linear_matrix(size, out, align_corners, scale, dtype):
    src = _source_index(size, out, align_corners, scale, dtype, cubic=False)
    i0, lam = _guard(src, size)
    i1 = np.minimum(i0 + 1, size - 1)
    return _matrix(out, size, (i0, i1), (1 - lam, lam), dtype)


def _cubic1(x, a):
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic2(x, a):
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def cubic_matrix(size, out, align_corners, scale, dtype):
    """Keys' cubic convolution (a = −0.75) over the 4 neighbours, indices clamped."""
    src = _source_index(size, out, align_corners, scale, dtype, cubic=True)
    i, t = _guard(src, size)
    a = dtype(-0.75)
    u = 1 - t
    w = (_cubic2(t + 1, a), _cubic1(t, a), _cubic1(u, a), _cubic2(u + 1, a))
    cols = [np.clip(i - 1 + j, 0, size - 1) for j in range(4)]
    return _matrix(out, size, cols, w, dtype)


def _aa_bilinear(x):
    x = np.abs(x)
    return np.where(x < 1, 1 - x, 0)


def _aa_bicubic(x):
    x, a = np.abs(x), -0.5
    return np.where(x < 1, _cubic1(x, a), np.where(x < 2, _cubic2(x, a), 0))


def _aa_lanczos(x):
    return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0)


_AA_FILTERS = {"bilinear": (1, _aa_bilinear), "bicubic": (2, _aa_bicubic),
               "lanczos": (3, _aa_lanczos)}


def antialias_matrix(size, out, align_corners, scale, dtype, mode):
    """torch's antialiased resampling (Pillow's): the filter stretched by the scale when
    downsampling, each row normalised to sum 1."""
    support_1, filt = _AA_FILTERS[mode]
    s = _linear_scale(size, out, align_corners, scale, dtype)
    support = support_1 * s if s >= 1 else dtype(support_1)
    invscale = 1 / s if s >= 1 else 1.0
    widest = math.ceil(support) * 2 + 1
    A = np.zeros((out, size), dtype=dtype)
    for o in range(out):
        center = s * (o + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = lo + min(max(min(int(center + support + 0.5), size) - lo, 0), widest)
        j = np.arange(lo, hi)
        w = filt((j - center + 0.5) * invscale).astype(dtype)
        total = w.sum()
        A[o, lo:hi] = w / total if total != 0 else w
    return A


# ---------------------------------------------------------------------- interpolate
def _spatial_mismatch(input, other, got, name, letter):
    raise ValueError(f"Input and {other} must have the same number of spatial dimensions, but "
                     f"got input with spatial dimensions of {list(input.shape[2:])} and {got}. "
                     f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and {name} "
                     f"in ({letter}1, {letter}2, ...,{letter}K) format.")


def _output_size(input, n, size, scale_factor):
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != n:
                _spatial_mismatch(input, "output", f"output size of {size}", "output size", "o")
            if not all(isinstance(s, numbers.Integral) for s in size):
                raise TypeError(f"expected size to be one of int or Tuple[int] or Tuple[int, int] "
                                f"or Tuple[int, int, int], but got size with types "
                                f"{[type(s) for s in size]}")
            return [int(s) for s in size], None
        return [int(size)] * n, None
    if scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != n:
            _spatial_mismatch(input, "scale_factor", f"scale_factor of shape {scale_factor}",
                              "scale_factor", "s")
        scales = [float(s) for s in scale_factor]
    else:
        scales = [float(scale_factor)] * n
    return [math.floor(input.shape[2 + d] * scales[d]) for d in range(n)], scales


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample (N, C, *spatial) to ``size`` or by ``scale_factor``: 'nearest' (torch's
    floor(o · in/out) rule), 'nearest-exact', 'linear' (3-D input), 'bilinear' and
    'bicubic' (4-D), 'trilinear' (5-D), 'area' (adaptive average); antialias=True (4-D
    bilinear, bicubic, and 'lanczos', which requires it) filters like Pillow when shrinking.
    align_corners maps the corner pixels' centres onto each other (linear modes only)."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    n = input.dim() - 2
    out, scales = _output_size(input, n, size, scale_factor)
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and scales is not None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        scales = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if mode == "lanczos" and input.dim() == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    if mode not in _MODES or n not in (1, 2, 3) or (mode in _LINEAR and
                                                     _LINEAR[mode] != input.dim()):
        _unsupported(input, mode)
    in_size = tuple(input.shape[2:])
    if min(out) <= 0 or min(in_size) <= 0:
        names = "DHW"[3 - n:]
        raise RuntimeError(
            f"Input and output sizes should be greater than 0, but got input "
            f"({', '.join(f'{c}: {s}' for c, s in zip(names, in_size))}){' and' * (n == 1)} "
            f"output ({', '.join(f'{c}: {s}' for c, s in zip(names, out))})")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[n - 1](input, out)
    dtype = input._data.dtype.type if input._data.dtype.kind == "f" else np.float32
    maps = []
    for d in reversed(range(n)):
        L, O, s = in_size[d], out[d], None if scales is None else scales[d]
        m = _axis_map(mode, L, O, s, align_corners, antialias, dtype, n)
        if m is not None:
            maps.append((2 + d, m))
    return separable(input, maps)


def _axis_map(mode, L, O, scale, align_corners, antialias, dtype, n):
    """The resampling along one axis, or None where it is the identity."""
    if mode.startswith("nearest"):
        idx = nearest_index(L, O, scale, mode == "nearest-exact", mode == "nearest" and n == 2)
        return None if O == L and np.array_equal(idx, np.arange(L)) else Take(idx, L)
    if O == L and mode != "bicubic" and not antialias:   # torch copies, whatever the scale
        return None
    if antialias:
        A = antialias_matrix(L, O, align_corners, scale, dtype, mode)
    elif mode == "bicubic":
        A = cubic_matrix(L, O, align_corners, scale, dtype)
    else:
        A = linear_matrix(L, O, align_corners, scale, dtype)
    return Dense(A)


def _unsupported(input, mode):
    nd = input.dim()
    if mode in _LINEAR and nd in (3, 4, 5):
        raise NotImplementedError(f"Got {nd}D input, but {mode} mode needs {_LINEAR[mode]}D input")
    raise NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {nd}D) for the modes: "
        f"nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact "
        f"(got {mode})")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (as in torch)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------- pixel shuffle
def _check_shuffle(input, r, name, what):
    if input.dim() < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input "
                           f"with {input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"{name} expects a positive {what}, but got {r}")


def pixel_shuffle(input, upscale_factor):
    """(*, C·r², H, W) → (*, C, H·r, W·r): each group of r² channels becomes an r×r block
    of pixels (sub-pixel convolution)."""
    r = int(upscale_factor)
    _check_shuffle(input, r, "pixel_shuffle", "upscale_factor")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    k = len(lead)
    x = _shape.reshape(input, (*lead, c // (r * r), r, r, h, w))
    x = _shape.permute(x, (*range(k), k, k + 3, k + 1, k + 4, k + 2))
    return _shape.reshape(x, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H·r, W·r) → (*, C·r², H, W): the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    _check_shuffle(input, r, "pixel_unshuffle", "downscale_factor")
    *lead, c, h, w = input.shape
    for size, dim, name in ((h, -2, "height"), (w, -1, "width")):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({dim})={size} is not divisible "
                               f"by {r}")
    k = len(lead)
    x = _shape.reshape(input, (*lead, c, h // r, r, w // r, r))
    x = _shape.permute(x, (*range(k), k, k + 2, k + 4, k + 1, k + 3))
    return _shape.reshape(x, (*lead, c * r * r, h // r, w // r))


def channel_shuffle(input, groups):
    """(N, C, *) with the channels viewed as (groups, C / groups), transposed and flattened
    back: ShuffleNet's channel shuffle (channel g·k + j moves to j·groups + g)."""
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    x = _shape.reshape(input, (n, groups, c // groups, *rest))
    return _shape.reshape(_shape.transpose(x, 1, 2), input.shape)


native_channel_shuffle = channel_shuffle
