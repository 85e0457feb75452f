"""Normalization: batch, instance, group and layer normalization share one core (statistics
over some axes, then a per-feature affine map), plus local response normalization and
p-norm normalization.

The core (seed 002 §3.6.10, with the seed's typo fixed): over the axes R,
    x̂ = (x − μ) / √(σ² + ε),   μ, σ² the mean and biased variance over R,
    y = γ x̂ + β.
Batch norm takes R = (N, *spatial) per channel, instance norm R = spatial per sample and
channel, group norm R = (channels of a group, *spatial) per sample, layer norm R = the
trailing normalized_shape. The backward is the closed form
    ĝ = γ g,   ∂x = (ĝ − mean_R(ĝ) − x̂ mean_R(ĝ x̂)) / √(σ² + ε),
    ∂γ = Σ g x̂,   ∂β = Σ g,
run as one fused node on arrays; under create_graph the same formulas are written with
shendu ops on the saved input, so higher derivatives are exact.
"""
import functools
import numbers

import numpy as np

from .._tensor import Tensor, _make
from ..autograd import grad_mode as _grad_mode
from ..autograd.function import Node
from ._base import sum_to
from .fused import fused_grads
from . import shape as _shape
from ..backend import batchnorm as _bn
from .pooling import WindowSum, separable

__all__ = ["batch_norm", "instance_norm", "group_norm", "layer_norm", "rms_norm",
           "local_response_norm", "normalize"]


# ---------------------------------------------------------------------- reductions over R
def _subscripts(ndim, axes):
    s = "abcdefghijklmnopqrstuvwxyz"[:ndim]
    return s, "".join(c for i, c in enumerate(s) if i not in axes)


def rsum(a, axes, b=None):
    """Σ over ``axes`` of a (or of a·b), keeping the reduced axes as 1s (einsum: one pass,
    no temporary, 3x faster than ndarray.sum over non-trailing axes)."""
    s, o = _subscripts(a.ndim, axes)
    r = np.einsum(f"{s}->{o}", a) if b is None else np.einsum(f"{s},{s}->{o}", a, b)
    return np.asarray(r).reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))


def rows(k, x):
    """Coefficient ``k`` (same ndim as x, constant along x's trailing axes) written out over
    those trailing axes, so that x ∘ k runs as long contiguous loops rather than NumPy's
    broadcast of a (1, C, 1, 1) array (1.6-2.5x faster at ResNet sizes); ``k`` itself where
    the written-out copy would not be much smaller than x."""
    t = k.ndim
    while t and k.shape[t - 1] == 1:
        t -= 1
    inner = 1
    for n in x.shape[t:]:
        inner *= n
    if k.ndim != x.ndim or inner == 1 or 2 * k.size * inner > x.size or \
            not x.flags.c_contiguous:
        return k
    return np.ascontiguousarray(np.broadcast_to(k, k.shape[:t] + x.shape[t:]))


def moments(x, axes):
    """(mean, biased variance, x − mean) of array ``x`` over ``axes`` (two-pass, for
    accuracy), the statistics with keepdims."""
    m = 1
    for a in axes:
        m *= x.shape[a]
    mu = rsum(x, axes) / m
    xc = x - rows(mu, x)
    return mu, rsum(xc, axes, xc) / m, xc


# ---------------------------------------------------------------------- the fused core
class Normalize(Node):
    """y = (x − mean) / √(var + eps) · weight + bias with the biased statistics of x over
    ``axes`` (``stats``: keepdims mean and variance, and x − mean, which becomes y); weight
    and bias (each optional, of one parameter shape) are reshaped to ``wshape``, which
    broadcasts against x."""
    save_inputs = (0, 1)

    def forward(self, x, weight, bias, axes, eps, wshape, stats):
        mu, var, y = stats
        inv = 1.0 / np.sqrt(var + eps)
        w = None if weight is None else weight.reshape(wshape)
        b = None if bias is None else bias.reshape(wshape)
        a = inv if w is None else inv * w
        self.kernels = y is None            # batch norm on the compiled passes (normalize_over)
        if self.kernels:
            y = _bn.affine(x, mu.reshape(-1), a.reshape(-1),
                           np.zeros(mu.size, x.dtype) if b is None else b.reshape(-1))
        elif a.size < x.size:               # scale and shift are small: y = (x − μ) a + β
            y *= rows(a, y)
            if b is not None:
                y += rows(np.broadcast_to(b, (1,) * (y.ndim - b.ndim) + b.shape), y)
        else:                               # a per-element scale (layer norm): x̂, then γ, β
            y *= inv
            if w is not None:
                y *= w
            if b is not None:
                y += b
        if self._needs_grad:
            self.axes, self.eps, self.wshape, self.mu, self.inv, self.w = axes, eps, wshape, mu, \
                inv, w
            p = weight if weight is not None else bias
            self.pshape = None if p is None else p.shape
            # is the affine map constant along R (batch and instance norm)? a shorter backward
            lead = x.ndim - len(wshape)
            self.const = all(i < lead or wshape[i - lead] == 1 for i in axes)
        return y

    def backward(self, gy):
        x, weight = self.saved_tensors
        graph = functools.partial(_normalize_grads_graph, axes=self.axes, wshape=self.wshape,
                                  pshape=self.pshape, eps=self.eps)
        return fused_grads(self.needs_input_grad, self._grads_arrays, graph, gy, x, weight)

    def _grads_arrays(self, g, x, weight):
        """The closed form on the arrays (the training hot path): (gx, gw, gb)."""
        if self.kernels:
            return self._grads_kernels(np.ascontiguousarray(g), x)
        axes, mu, inv, w = self.axes, self.mu, self.inv, self.w
        m = x.size // mu.size
        need = self.needs_input_grad
        xc = x - rows(mu, x)
        fast = self.const or w is None      # ĝ's means over R are γ times g's
        if fast:
            s0 = rsum(g, axes)                              # Σ_R g
            s1 = rsum(g, axes, xc)                          # Σ_R g (x − μ)
        if self.const:                      # batch and instance norm: Σ_R sums suffice
            gw, gb = s1 * inv, s0
            s0, s1, m = self._across(s0, s1, m)
        else:
            gw, gb = (g * (xc * inv) if need[1] else None), g
        gx = None
        if need[0] and fast:
            a = inv if w is None else inv * w
            gx = g * rows(a, g)
            xc *= rows(a * inv * inv * s1 / -m, xc)
            gx += xc
            gx -= rows(a * s0 / m, gx)
        elif need[0]:
            xhat = xc
            xhat *= inv
            gh = g * w
            gx = gh - rsum(gh, axes) / m
            gx -= xhat * (rsum(gh, axes, xhat) / m)
            gx *= inv
        gw = self._to_param(gw) if need[1] else None
        gb = self._to_param(gb) if need[2] else None
        return gx, gw, gb

    def _grads_kernels(self, g, x):
        """The batch-norm closed form on the compiled passes (backend.batchnorm): the sums
        in one pass over g and x, ∂x in another; the per-channel coefficients as above."""
        mu, inv, w = self.mu, self.inv, self.w
        need = self.needs_input_grad
        m = x.size // mu.size
        s0, s1 = (s.reshape(mu.shape) for s in _bn.grad_sums(g, x, mu.reshape(-1)))
        gw, gb = s1 * inv, s0
        s0, s1, m = self._across(s0, s1, m)
        gx = None
        if need[0]:
            a = inv if w is None else inv * w
            coef = (mu, a, a * inv * inv * s1 / -m, a * s0 / m)
            gx = _bn.grad_input(g, x, *(np.ascontiguousarray(c.reshape(-1)) for c in coef))
        gw = self._to_param(gw) if need[1] else None
        gb = self._to_param(gb) if need[2] else None
        return gx, gw, gb

    def _across(self, s0, s1, m):
        """The sums Σ_R g, Σ_R g (x − μ) and the count m that ∂x uses (SyncBatchNorm makes
        them the totals over all processes)."""
        return s0, s1, m

    def _to_param(self, a):
        """Sum ``a`` down to ``wshape`` and give it the parameter's shape."""
        lead = a.ndim - len(self.wshape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(self.wshape)
                                          if s == 1 and a.shape[lead + i] != 1)
        return (a.sum(axis=axes) if axes else a).reshape(self.pshape)


def _normalize_grads_graph(gy, x, weight, axes, wshape, pshape, eps):
    """The closed form with shendu ops on the saved input: differentiable again."""
    xc = x - x.mean(axes, keepdim=True)
    inv = ((xc * xc).mean(axes, keepdim=True) + eps).rsqrt()
    xhat = xc * inv
    gh = gy if weight is None else gy * weight.reshape(wshape)
    gx = inv * (gh - gh.mean(axes, keepdim=True) - xhat * (gh * xhat).mean(axes, keepdim=True))
    gw = sum_to(gy * xhat, wshape).reshape(pshape) if pshape is not None else None
    gb = sum_to(gy, wshape).reshape(pshape) if pshape is not None else None
    return gx, gw, gb


def normalize_over(x, axes, weight, bias, eps, wshape):
    """The core on tensor ``x``: returns (y, mean, biased var), the statistics as arrays.
    Batch norm runs on the compiled passes of backend.batchnorm where they apply (then the
    statistics come without x − μ, and Normalize knows by its None)."""
    xa = x._data
    if _bn.applies(xa, axes) and all(t is None or t._data.dtype == xa.dtype
                                     for t in (weight, bias)):
        shape = (1, -1) + (1,) * (xa.ndim - 2)
        mu, var = (s.reshape(shape) for s in _bn.moments(xa))
        stats = (mu, var, None)
    else:
        stats = moments(xa, axes)
        mu, var = stats[:2]
    y = Normalize.apply(x, weight, bias, axes=axes, eps=eps, wshape=wshape, stats=stats)
    return y, mu, var


class ChannelAffine(Node):
    """y = x · a + c with per-channel coefficients a, c (reshaped to ``wshape``): the
    eval-mode batch norm in two passes over x. Backward with shendu ops."""
    save_inputs = (0, 1)

    def forward(self, x, a, c, wshape):
        self.wshape = wshape
        if wshape[:2] == (1, x.shape[1]) and _bn.applies(x, (0,) + tuple(range(2, x.ndim))) \
                and a.dtype == c.dtype == x.dtype:     # one compiled pass: (x − 0) a + c
            return _bn.affine(x, np.zeros(x.shape[1], x.dtype), a.reshape(-1), c.reshape(-1))
        y = x * rows(a.reshape(wshape), x)
        y += rows(c.reshape(wshape), y)
        return y

    def backward(self, gy):
        x, a = self.saved_tensors
        ws, need = self.wshape, self.needs_input_grad
        if not isinstance(a, Tensor):
            a = _make(np.asarray(a), None, 0)
        gx = gy * a.reshape(ws) if need[0] else None
        ga = sum_to(gy * x, ws).reshape(a.shape) if need[1] else None
        gc = sum_to(gy, ws).reshape(a.shape) if need[2] else None
        return gx, ga, gc


def affine_with(x, mean, var, weight, bias, eps, wshape):
    """y = (x − mean) / √(var + eps) · weight + bias for given statistics (running estimates
    in eval mode), as x · a + c with per-channel a, c: differentiable in x, γ, β."""
    params = [t for t in (mean, var, weight, bias) if t is not None]
    if not (_grad_mode._mode.enabled and any(t._requires_grad for t in params)):
        a = 1.0 / np.sqrt(var._data + eps)          # constants: skip the small-tensor graph
        if weight is not None:
            a = a * weight._data
        c = -mean._data * a
        if bias is not None:
            c += bias._data
        return ChannelAffine.apply(x, a, c, wshape=wshape)
    a = (var + eps).rsqrt()
    if weight is not None:
        a = a * weight
    c = -mean * a
    if bias is not None:
        c = c + bias
    return ChannelAffine.apply(x, a, c, wshape=wshape)


# ---------------------------------------------------------------------- checks
def _check_param(t, n, what):
    if t is not None and t.numel() != n:
        raise RuntimeError(f"{what} should contain {n} elements not {t.numel()}")


def _channel_shape(x):
    """(1, C, 1, ...): how a per-channel vector broadcasts against (N, C, *)."""
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)


def _blend(buffer, value, momentum):
    """buffer ← momentum · value + (1 − momentum) · buffer, in place (a running estimate)."""
    d = buffer._data
    np.copyto(d, momentum * value + (1 - momentum) * d, casting="unsafe")
    buffer._bump_version()


def _update_running(running_mean, running_var, mean, var, count, momentum):
    """Running statistics take the unbiased variance (seed 002 §3.6.10's note); ``mean``
    and ``var`` (biased, over ``count`` values) are (C,) or (N, C), averaged over N."""
    if running_mean is not None:
        _blend(running_mean, mean.reshape(-1, mean.shape[-1]).mean(0), momentum)
    if running_var is not None:
        _blend(running_var, (var * (count / (count - 1))).reshape(-1, var.shape[-1]).mean(0),
               momentum)


# ---------------------------------------------------------------------- batch norm
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Batch normalization of (N, C, *): in training, the statistics of this batch per
    channel (and the running estimates updated in place, with the unbiased variance);
    otherwise the running estimates."""
    if input.dim() < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *), got "
                         f"{tuple(input.shape)}")
    c = input.shape[1]
    _check_param(running_mean, c, "running_mean")
    _check_param(running_var, c, "running_var")
    _check_param(weight, c, "weight")
    _check_param(bias, c, "bias")
    wshape = _channel_shape(input)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
        return affine_with(input, running_mean, running_var, weight, bias, eps, wshape)
    size = input.size()
    count = size[0] * int(np.prod(size[2:]))
    if count == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{size}")
    axes = (0,) + tuple(range(2, input.dim()))
    y, mean, var = normalize_over(input, axes, weight, bias, eps, wshape)
    _update_running(running_mean, running_var, mean.reshape(-1), var.reshape(-1), count,
                    momentum)
    return y


# ---------------------------------------------------------------------- instance norm
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-05):
    """Normalization of each sample's channel over its spatial positions (N, C, *); the
    running estimates (if given) average the instances' statistics over the batch."""
    if input.dim() < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *spatial), got "
                         f"{tuple(input.shape)}")
    c = input.shape[1]
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var"),
                    (weight, "weight"), (bias, "bias")):
        _check_param(t, c, what)
    wshape = _channel_shape(input)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        return affine_with(input, running_mean, running_var, weight, bias, eps, wshape)
    size = input.size()
    count = int(np.prod(size[2:]))
    if count == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{size}")
    y, mean, var = normalize_over(input, tuple(range(2, input.dim())), weight, bias, eps, wshape)
    n = input.shape[0]
    _update_running(running_mean, running_var, mean.reshape(n, c), var.reshape(n, c), count,
                    momentum)
    return y


# ---------------------------------------------------------------------- group and layer norm
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalization of each sample over groups of channels (seed 002 §3.6.11): (N, C, *)
    with C divisible by num_groups; weight and bias are per channel."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.dim()}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    spatial = tuple(input.shape[2:])
    size = [n * c // num_groups, num_groups] + list(spatial)
    if size[0] * int(np.prod(size[2:])) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {size}")
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {what} to be a vector of size equal to the number of "
                               f"channels in input, but got {what} of shape {list(t.shape)} and "
                               f"input of shape {list(input.shape)}")
    g = num_groups
    x = _shape.reshape(input, (n, g, c // g) + spatial)
    wshape = (1, g, c // g) + (1,) * len(spatial)
    y, _, _ = normalize_over(x, tuple(range(2, x.dim())), weight, bias, eps, wshape)
    return _shape.reshape(y, input.shape)


def _trailing(input, normalized_shape, params):
    """Check the trailing normalized_shape of ``input`` and the shapes of ``params`` (name,
    tensor); returns (normalized_shape, the trailing axes)."""
    ns = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else \
        tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if k == 0 or input.dim() < k or tuple(input.shape[input.dim() - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(input.shape)}")
    for what, t in params:
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {what} to be of same shape as normalized_shape, but "
                               f"got {what} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(ns)}")
    return ns, tuple(range(input.dim() - k, input.dim()))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalization over the trailing ``normalized_shape`` dims of each sample, with an
    elementwise weight and bias of that shape."""
    ns, axes = _trailing(input, normalized_shape, (("weight", weight), ("bias", bias)))
    y, _, _ = normalize_over(input, axes, weight, bias, eps, ns)
    return y


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / √(mean(x²) + eps) over the trailing ``normalized_shape`` dims, times an elementwise
    weight (layer norm without centring); eps defaults to the dtype's machine epsilon."""
    _, axes = _trailing(input, normalized_shape, (("weight", weight),))
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    y = input * ((input * input).mean(axes, keepdim=True) + eps).rsqrt()
    return y if weight is None else y * weight


# ---------------------------------------------------------------------- LRN and p-norms
def local_response_norm(input, size, alpha=0.0001, beta=0.75, k=1.0):
    """Seed 002 §3.6.7's LRN as torch defines it, across channels of (N, C, *):
        b_c = a_c / (k + α/n · Σ_{c' = c − ⌊n/2⌋}^{c + ⌊(n−1)/2⌋} a_{c'}²)^β
    with zero padding beyond the channels (α is divided by the window size n)."""
    if input.dim() < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.dim()} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    window = WindowSum(c, size, 1, c, before=size // 2, scale=1.0 / size)
    div = separable(input * input, ((1, window),))
    return input / (div * alpha + k) ** beta


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(‖input‖_p, eps) along ``dim``."""
    from ..linalg import vector_norm
    denom = vector_norm(input, p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    res = input / denom
    if out is not None:
        out.copy_(res)
        return out
    return res
