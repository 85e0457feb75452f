"""Less common torch functions: cumulative products and log-sum-exps, differences,
distances, binning, special functions (erfinv, lgamma, digamma), and a few helpers."""
import math

import numpy as np

from .. import _dtype
from .._tensor import Tensor, _make, _wrap_dim
from ..autograd.function import Node
from ._base import promote, as_tensor_arg, sum_to
from .elementwise import (_float_input, _const, exp, log, where, sub, mul, add, div,
                          erf_np, unary_op)
from . import shape as _shape
from .distance import pairwise_distance, cosine_similarity      # noqa: F401 (torch.* names)

__all__ = ["cumprod", "logcumsumexp", "diff", "logaddexp", "logaddexp2", "logit", "deg2rad",
           "rad2deg", "float_power", "erfinv", "lgamma", "digamma", "cdist", "dist",
           "cosine_similarity", "pairwise_distance", "bucketize", "searchsorted",
           "cartesian_prod", "block_diag", "trapezoid", "trapz", "chain_matmul", "logdet",
           "slogdet", "finfo", "iinfo", "hsplit", "vsplit", "dsplit", "sinc", "heaviside",
           "copysign", "clamp_", "sum_to_size"]


# ------------------------------------------------------------------ cumulative
class CumProd(Node):
    save_inputs = (0,)
    save_output = True

    def forward(self, x, dim):
        self.dim = dim
        return np.cumprod(x, axis=dim)

    def backward(self, gy):
        x, = self.saved_tensors
        y = self.saved_output
        d = self.dim
        if np.all(x._data != 0):
            # d y_j / d x_i = y_j / x_i for j >= i: a reversed cumulative sum of gy * y
            return (gy * y).flip(d).cumsum(d).flip(d) / x, None
        return gy * 0 + _const(_cumprod_grad_with_zeros(x._data, gy._data, d)), None


def _cumprod_grad_with_zeros(x, g, dim):
    """Exact gradient of cumprod where zeros occur (constant: no second derivative).
    With z the first zero of a slice: for i < z the usual reversed sum over j < z; at z,
    prod(x[:z]) * sum_{j >= z} g_j prod(x[z+1 .. j]); after z, zero."""
    x = np.moveaxis(x, dim, -1)
    g = np.moveaxis(g, dim, -1)
    n = x.shape[-1]
    y = np.cumprod(x, -1)
    out = np.zeros_like(x)
    is_zero = x == 0
    z = np.where(is_zero.any(-1), is_zero.argmax(-1), n)
    idx = np.arange(n)
    rcs = np.flip(np.cumsum(np.flip(g * y, -1), -1), -1)
    before = idx < z[..., None]
    safe = np.where(before, x, 1)
    out = np.where(before, rcs / safe, 0)
    for pos in zip(*np.nonzero(z < n)):
        zi = z[pos]
        prefix = y[pos][zi - 1] if zi > 0 else 1.0
        tail = np.concatenate([[1.0], np.cumprod(x[pos][zi + 1:])])
        out[pos][zi] = prefix * np.sum(g[pos][zi:] * tail)
    return np.moveaxis(out, -1, dim)


def cumprod(input, dim, *, dtype=None):
    """Cumulative product along ``dim`` (exact gradients also where the input has zeros)."""
    x = input.to(dtype) if dtype is not None else input
    if x._data.dtype.kind in "iub":
        x = x.long()
    return CumProd.apply(x, _wrap_dim(dim, max(x._data.ndim, 1)))


def logcumsumexp(input, dim):
    """log(cumsum(exp(x))) without overflow."""
    from .reduction import amax
    d = _wrap_dim(dim, input._data.ndim)
    x = _float_input(input)
    m = amax(x.detach(), d, keepdim=True)
    m = where(_const(np.isfinite(m._data)), m, 0.0)
    return log(exp(x - m).cumsum(d)) + m


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """out[i] = x[i + 1] - x[i] along ``dim``, applied ``n`` times."""
    d = _wrap_dim(dim, input._data.ndim)
    x = input
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, x, append) if p is not None]
        x = _shape.cat([as_tensor_arg(p) if not isinstance(p, Tensor) else p for p in parts], d)
    for _ in range(n):
        k = x.shape[d]
        x = _shape.narrow(x, d, 1, k - 1) - _shape.narrow(x, d, 0, k - 1) \
            if x._data.dtype != np.bool_ else \
            _make(np.diff(x._data, axis=d), None, 0)
    return x


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along ``dim`` (spacing ``dx`` or sample points ``x``)."""
    d = _wrap_dim(dim, y._data.ndim)
    k = y.shape[d]
    mid = (_shape.narrow(y, d, 1, k - 1) + _shape.narrow(y, d, 0, k - 1)) * 0.5
    if x is not None:
        return (mid * diff(x, dim=dim if x.dim() > 1 else -1)).sum(d)
    return mid.sum(d) * (1.0 if dx is None else dx)


trapz = trapezoid


# ------------------------------------------------------------------ elementwise extras
def logaddexp(input, other):
    """log(exp(a) + exp(b)), stable."""
    from .elementwise import maximum
    a, b = promote(_float_input(input), other, "logaddexp")
    m = maximum(a, b).detach()
    m = where(_const(np.isfinite(m._data)), m, 0.0)
    return m + log(exp(a - m) + exp(b - m))


def logaddexp2(input, other):
    ln2 = math.log(2.0)
    return logaddexp(input * ln2, other * ln2) / ln2


def logit(input, eps=None):
    x = _float_input(input)
    if eps is not None:
        x = x.clamp(eps, 1 - eps)
    return log(x / (1.0 - x))


def deg2rad(input):
    return _float_input(input) * (math.pi / 180.0)


def rad2deg(input):
    return _float_input(input) * (180.0 / math.pi)


def float_power(input, exponent):
    """input ** exponent computed in float64."""
    from .elementwise import pow as _pow
    x = input.double() if isinstance(input, Tensor) else float(input)
    e = exponent.double() if isinstance(exponent, Tensor) else exponent
    return _pow(x, e)


def sinc(input):
    """sin(pi x) / (pi x), 1 at x = 0."""
    x = _float_input(input)
    px = x * math.pi
    zero = _const(x._data == 0)
    safe = where(zero, 1.0, px)
    return where(zero, 1.0, safe.sin() / safe)


def heaviside(input, values):
    return _make(np.heaviside(input._data, values._data), None, 0)


def copysign(input, other):
    """|input| with the sign of other (gradient w.r.t. input only)."""
    a, b = promote(_float_input(input), other, "copysign")
    bd = b._data if isinstance(b, Tensor) else np.asarray(b)
    sign = _const(np.where(np.signbit(bd), -1.0, 1.0).astype(a._data.dtype))
    out = a.abs() * sign
    if isinstance(b, Tensor) and b._requires_grad:
        out = out + b * 0.0          # torch gives ``other`` a zero gradient
    return out


def erfinv_np(y):
    """Inverse error function: Giles' single-precision approximation refined by Newton steps
    on erf (full double precision)."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - y) * (1.0 + y))
        ws = w - 2.5
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p1 = c + p1 * ws
        wb = np.sqrt(np.maximum(w, 5.0)) - 3.0
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            p2 = c + p2 * wb
        x = np.where(w < 5.0, p1, p2) * y
        for _ in range(3):
            err = erf_np(x) - y
            x = x - err / (2.0 / math.sqrt(math.pi) * np.exp(-x * x))
        x = np.where(np.abs(y) == 1, np.copysign(np.inf, y), x)
        x = np.where(np.abs(y) > 1, np.nan, x)
    return x


class ErfInv(Node):
    save_output = True

    def forward(self, x):
        return erfinv_np(x).astype(x.dtype)

    def backward(self, gy):
        y = self.saved_output
        return gy * (math.sqrt(math.pi) / 2.0) * exp(y * y)


# Lanczos approximation (g = 7, n = 9): about 15 significant digits for x > 0.5
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)


def lgamma_np(x):
    """log |Gamma(x)| for real x (reflection formula below 0.5)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    small = x < 0.5
    xs = x[small]
    with np.errstate(divide="ignore", invalid="ignore"):
        out[small] = np.log(np.pi / np.abs(np.sin(np.pi * xs))) - lgamma_np(1.0 - xs) \
            if xs.size else xs
    xb = x[~small] - 1.0
    a = np.full_like(xb, _LANCZOS[0])
    t = xb + 7.5
    for i in range(1, 9):
        a = a + _LANCZOS[i] / (xb + i)
    out[~small] = 0.5 * np.log(2 * np.pi) + (xb + 0.5) * np.log(t) - t + np.log(a)
    return out


def digamma_np(x):
    """psi(x) = d/dx log Gamma(x): recurrence up to x >= 6, then the asymptotic series;
    reflection for x < 0."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    neg = x < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        refl = np.where(neg, np.pi / np.tan(np.pi * x), 0.0)
    v = np.where(neg, 1.0 - x, x)
    acc = np.zeros_like(v)
    while True:
        m = v < 12
        if not m.any():
            break
        acc = acc - np.where(m, 1.0 / np.where(m, v, 1.0), 0.0)
        v = np.where(m, v + 1, v)
    inv = 1.0 / v
    inv2 = inv * inv
    series = np.log(v) - 0.5 * inv - inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (
        1.0 / 252 - inv2 * (1.0 / 240 - inv2 * (1.0 / 132 - inv2 * (691.0 / 32760))))))
    out = series + acc
    out = np.where(neg, out - refl, out)
    return np.where(x == np.floor(x), np.where(x <= 0, np.nan, out), out)


class LGamma(Node):
    save_inputs = (0,)

    def forward(self, x):
        return lgamma_np(x).astype(x.dtype)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * digamma(x)


class DiGamma(Node):
    save_inputs = (0,)

    def forward(self, x):
        return digamma_np(x).astype(x.dtype)

    def backward(self, gy):
        x, = self.saved_tensors
        # trigamma by finite differences of the accurate digamma is too noisy; use the series
        return gy * _const(_trigamma_np(x._data).astype(x._data.dtype))


def _trigamma_np(x):
    v = np.asarray(x, dtype=np.float64).copy()
    acc = np.zeros_like(v)
    while True:
        m = v < 12
        if not m.any():
            break
        acc = acc + np.where(m, 1.0 / np.where(m, v, 1.0) ** 2, 0.0)
        v = np.where(m, v + 1, v)
    inv = 1.0 / v
    inv2 = inv * inv
    return acc + inv + 0.5 * inv2 + inv * inv2 * (1.0 / 6 - inv2 * (1.0 / 30 - inv2 * (
        1.0 / 42 - inv2 * (1.0 / 30 - inv2 * (5.0 / 66)))))


erfinv = unary_op(ErfInv, "erfinv")
lgamma = unary_op(LGamma, "lgamma")
digamma = unary_op(DiGamma, "digamma")


# ------------------------------------------------------------------ distances
# pairwise_distance and cosine_similarity live in .distance (shared with nn.functional)
def cdist(x1, x2, p=2.0, compute_mode=None):
    """All pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    from ..linalg import vector_norm
    diff_ = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return vector_norm(diff_, p, -1)


def dist(input, other, p=2):
    from ..linalg import vector_norm
    return vector_norm(input - other, p)


# ------------------------------------------------------------------ binning and building
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The index of the bucket of each value (boundaries sorted ascending)."""
    b = boundaries._data
    x = input._data if isinstance(input, Tensor) else np.asarray(input)
    idx = np.searchsorted(b, x, side="right" if right else "left")
    return _make(np.asarray(idx).astype(np.int32 if out_int32 else np.int64), None, 0)


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    s = sorted_sequence._data
    v = values._data if isinstance(values, Tensor) else np.asarray(values)
    side = side or ("right" if right else "left")
    if s.ndim == 1:
        idx = np.searchsorted(s, v, side=side)
    else:
        idx = np.stack([np.searchsorted(s[i], v[i], side=side)
                        for i in np.ndindex(s.shape[:-1])]).reshape(v.shape)
    return _make(np.asarray(idx).astype(np.int32 if out_int32 else np.int64), None, 0)


def cartesian_prod(*tensors):
    grids = _shape.meshgrid(*tensors, indexing="ij")
    if len(tensors) == 1:
        return tensors[0]
    return _shape.stack([g.reshape(-1) for g in grids], 1)


def block_diag(*tensors):
    ts = [t.reshape(1, -1) if t.dim() == 1 else (t.reshape(1, 1) if t.dim() == 0 else t)
          for t in tensors]
    rows = sum(t.shape[0] for t in ts)
    cols = sum(t.shape[1] for t in ts)
    rt = _dtype.result_type(*ts)
    parts = []
    c = 0
    for t in ts:
        t = t if t._data.dtype == rt else t.to(_dtype._BY_NUMPY[rt])
        parts.append(_shape.pad(t, (c, cols - c - t.shape[1])))
        c += t.shape[1]
    return _shape.cat(parts, 0) if parts else _make(np.zeros((rows, cols)), None, 0)


def chain_matmul(*matrices):
    out = matrices[0]
    for m in matrices[1:]:
        out = out @ m
    return out


def slogdet(A):
    """torch.slogdet: ``linalg.slogdet`` (LU based, no overflow)."""
    from .linalg import slogdet as _slogdet
    return _slogdet(A)


def logdet(A):
    from ..linalg import det
    return det(A).log()


def hsplit(input, sections):
    return _shape.tensor_split(input, sections, 1 if input.dim() > 1 else 0)


def vsplit(input, sections):
    return _shape.tensor_split(input, sections, 0)


def dsplit(input, sections):
    return _shape.tensor_split(input, sections, 2)


def sum_to_size(input, *size):
    from ._base import size_args
    return sum_to(input, size_args(size))


def clamp_(input, min=None, max=None):
    return input.clamp_(min, max)


class finfo:
    """Machine limits of a floating dtype: bits, eps, max, min, tiny, resolution."""

    def __init__(self, type=None):
        nd = _dtype.to_numpy_dtype(type) if type is not None else _dtype.default_float()
        info = np.finfo(nd)
        self.dtype = _dtype._BY_NUMPY[nd].name
        self.bits, self.eps, self.max, self.min = info.bits, float(info.eps), float(info.max), \
            float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = float(info.resolution)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, "
                f"eps={self.eps}, smallest_normal={self.tiny}, tiny={self.tiny}, "
                f"dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype: bits, max, min."""

    def __init__(self, type):
        info = np.iinfo(_dtype.to_numpy_dtype(type))
        self.bits, self.max, self.min = info.bits, int(info.max), int(info.min)
        self.dtype = _dtype._BY_NUMPY[np.dtype(info.dtype)].name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
