"""Activation functions and their derivatives, as torch.nn.functional (seed 002 §3.4.3
tabulates the derivatives: σ' = σ(1 − σ), tanh' = 1 − tanh², ReLU' = 0 or 1, the first
two ≈ 0 once |x| ≈ 10, which is why saturating units learn slowly).

tanh, sigmoid and relu are the hot ones: their backward is a node of its own (TanhGrad,
SigmoidGrad, MaskGrad) whose forward runs the backend's one-pass routine and whose own
backward is written with shendu's ops, so create_graph takes the same fast path.

Each one is a Node whose forward is NumPy and whose backward is written with shendu's
differentiable ops, so second derivatives (gradgradcheck, Hessians) work. Piecewise-linear
ones (hardtanh, leaky_relu, shrinks, threshold) have a constant derivative: their
backward multiplies by a mask fixed at forward time. Every forward is computed in a form
that cannot overflow: exp only ever sees non-positive arguments, so ±1000 gives finite
values and no RuntimeWarning in float32 and float64.

Shapes: elementwise functions take any shape and return the same shape; softmax-like
functions reduce along ``dim``; ``glu`` halves ``dim``; ``maxout`` divides ``dim`` by
``pool_size``.
"""
import math
import warnings

import numpy as np

from .._tensor import _make, _wrap_dim
from ..autograd.function import Node
from ..backend import elementwise as _be, softmax as _softmax
from .elementwise import where, exp, erf, abs as _abs, mask_grad, _float_input, unary_op
from .reduction import max as _max
from .shape import chunk, unflatten
from .inplace import inplace as _inplace

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_",
           "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish", "softplus",
           "softsign", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "tanhshrink",
           "softshrink", "hardshrink", "threshold", "threshold_", "logsigmoid", "softmax",
           "log_softmax", "softmin", "glu", "maxout", "sigmoid", "tanh"]

# SELU's fixed point constants (Klambauer et al. 2017), as torch uses them
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _c(arr):
    """A constant tensor (no history)."""
    return _make(np.asarray(arr), None, 0)


def _cast(value, x):
    """A Python number or bool array as x's dtype (so float32 stays float32)."""
    return np.asarray(value, dtype=x.dtype)


def _maybe_inplace(fn, input, inplace, **params):
    """``fn(input, **params)``, written back into ``input`` when ``inplace``."""
    if inplace:
        return _inplace(input, lambda t: fn(t, **params))
    return fn(input, **params)


def _positive(x):
    """Where x > 0 (NaN counts as not positive)."""
    return x > 0


# ------------------------------------------------------------------ relu, tanh, sigmoid
class Relu(Node):
    """max(x, 0); backward selects gy where x > 0 (a NaN input passes its gradient)."""

    def forward(self, x):
        if self._needs_grad:
            y, self.mask = _be.relu_with_mask(x)
            return y
        return _be.relu(x)

    def backward(self, gy):
        return mask_grad(gy, self.mask)


class Tanh(Node):
    save_output = True

    def forward(self, x):
        return _be.tanh(x)

    def backward(self, gy):
        return TanhGrad.apply(gy, self.saved_output)


class TanhGrad(Node):
    """gy (1 − y²) for y = tanh(x), in one pass (Chainer's TanhGrad): a node of its own, so
    that create_graph runs the same fast forward and differentiates it here."""
    save_inputs = (0, 1)

    def forward(self, gy, y):
        return _be.tanh_backward(gy, y)

    def backward(self, gg):
        gy, y = self.saved_tensors
        need = self.needs_input_grad
        return (TanhGrad.apply(gg, y) if need[0] else None,
                gg * gy * y * -2.0 if need[1] else None)


class Sigmoid(Node):
    save_output = True

    def forward(self, x):
        return _be.sigmoid(x)

    def backward(self, gy):
        return SigmoidGrad.apply(gy, self.saved_output)


class SigmoidGrad(Node):
    """gy y (1 − y) for y = sigmoid(x), in one pass; differentiable as TanhGrad."""
    save_inputs = (0, 1)

    def forward(self, gy, y):
        return _be.sigmoid_backward(gy, y)

    def backward(self, gg):
        gy, y = self.saved_tensors
        need = self.needs_input_grad
        return (SigmoidGrad.apply(gg, y) if need[0] else None,
                gg * gy * (1.0 - 2.0 * y) if need[1] else None)


tanh = unary_op(Tanh, "tanh")
sigmoid = unary_op(Sigmoid, "sigmoid")


# ------------------------------------------------------------------ piecewise linear
class _ConstSlope(Node):
    """y = f(x) for a piecewise-linear f: backward multiplies by the slope f'(x), an array
    fixed at forward time (masks where it is 0 or 1)."""

    def backward(self, gy):
        slope = self.slope
        if slope.dtype == np.bool_:
            return mask_grad(gy, slope)
        return gy * _c(slope)


class Hardtanh(_ConstSlope):
    def forward(self, x, min_val, max_val):
        if self._needs_grad:
            self.slope = (x > min_val) & (x < max_val)
        return np.clip(x, _cast(min_val, x), _cast(max_val, x))


class LeakyRelu(_ConstSlope):
    def forward(self, x, slope):
        pos = _positive(x)
        if self._needs_grad:
            self.slope = np.where(pos, _cast(1, x), _cast(slope, x))
        return np.where(pos, x, x * _cast(slope, x))


class Threshold(_ConstSlope):
    def forward(self, x, threshold, value):
        keep = x > threshold
        if self._needs_grad:
            self.slope = keep
        return np.where(keep, x, _cast(value, x))


class Shrink(_ConstSlope):
    """hardshrink (soft=False): x where |x| > λ else 0; softshrink: x ∓ λ there."""

    def forward(self, x, lambd, soft):
        keep = (x < -lambd) | (x > lambd)
        if self._needs_grad:
            self.slope = keep
        y = x - np.clip(x, _cast(-lambd, x), _cast(lambd, x)) if soft else x
        return np.where(keep, y, _cast(0, x))


class RandomSlope(_ConstSlope):
    """rrelu in training: each negative element gets its own slope drawn from U(lower, upper)."""

    def forward(self, x, slope):
        self.slope = slope
        return x * slope


# ------------------------------------------------------------------ smooth
class Elu(Node):
    """torch's elu(x; α, scale, input_scale): scale·x for x > 0, else
    scale·α·(exp(input_scale·x) − 1). ELU, SELU and CELU are this with different constants."""
    save_inputs = (0,)

    def forward(self, x, alpha, scale, input_scale):
        pos = _positive(x)
        self.pos, self.consts = pos, (alpha, scale, input_scale)
        neg = np.expm1(np.minimum(x, 0) * _cast(input_scale, x)) * _cast(scale * alpha, x)
        return np.where(pos, x * _cast(scale, x), neg)

    def backward(self, gy):
        x, = self.saved_tensors
        alpha, scale, input_scale = self.consts
        pos = _c(self.pos)
        x_neg = where(pos, 0.0, x)          # exp never sees a large positive x
        return gy * where(pos, float(scale), exp(x_neg * input_scale) * (scale * alpha * input_scale))


class Gelu(Node):
    """x·Φ(x) with Φ the standard normal CDF ('none'), or its tanh approximation."""
    save_inputs = (0,)

    def forward(self, x, tanh_approx):
        self.tanh_approx = tanh_approx
        if tanh_approx:
            inner = _cast(_K_BETA, x) * (x + _cast(_K_KAPPA, x) * x * x * x)
            return _cast(0.5, x) * x * (1 + np.tanh(inner))
        from .elementwise import erf_np
        return x * _cast(0.5, x) * (1 + erf_np(x * _cast(math.sqrt(0.5), x)))

    def backward(self, gy):
        x, = self.saved_tensors
        if self.tanh_approx:
            x2 = x * x
            t = tanh((x + x2 * x * _K_KAPPA) * _K_BETA)
            d = (t + 1.0) * 0.5 + x * (1.0 - t * t) * (x2 * (3 * _K_KAPPA) + 1.0) * (0.5 * _K_BETA)
        else:
            cdf = (erf(x * math.sqrt(0.5)) + 1.0) * 0.5
            pdf = exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))
            d = cdf + x * pdf
        return gy * d


_K_BETA = math.sqrt(2.0 / math.pi)
_K_KAPPA = 0.044715


class Silu(Node):
    """x·σ(x) (swish)."""
    save_inputs = (0,)

    def forward(self, x):
        return x * _be.sigmoid(x)

    def backward(self, gy):
        x, = self.saved_tensors
        s = sigmoid(x)
        return gy * (s * (x * (1.0 - s) + 1.0))


class Softplus(Node):
    """log(1 + exp(βx)) / β, and x itself where βx > threshold (as torch)."""
    save_inputs = (0,)

    def forward(self, x, beta, threshold):
        bx = x * _cast(beta, x)
        self.linear, self.beta = bx > threshold, beta
        return np.where(self.linear, x, np.logaddexp(_cast(0, x), bx) / _cast(beta, x))

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * where(_c(self.linear), 1.0, sigmoid(x * self.beta))


def _softplus(x):
    return Softplus.apply(x, beta=1.0, threshold=20.0)


class Mish(Node):
    """x·tanh(softplus(x)) (Misra 2019)."""
    save_inputs = (0,)

    def forward(self, x):
        return x * np.tanh(np.logaddexp(_cast(0, x), x))

    def backward(self, gy):
        x, = self.saved_tensors
        t = tanh(_softplus(x))
        return gy * (t + x * (1.0 - t * t) * sigmoid(x))


class LogSigmoid(Node):
    """log σ(x) = min(x, 0) − log(1 + exp(−|x|))."""
    save_inputs = (0,)

    def forward(self, x):
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * sigmoid(-x)


class Hardsigmoid(_ConstSlope):
    """relu6(x + 3) / 6; slope 1/6 on (−3, 3)."""

    def forward(self, x):
        if self._needs_grad:
            self.slope = np.where((x > -3) & (x < 3), _cast(1 / 6, x), _cast(0, x))
        return np.clip(x + 3, _cast(0, x), _cast(6, x)) / 6


class Hardswish(Node):
    """x · relu6(x + 3) / 6; derivative 0 below −3, x/3 + 1/2 on [−3, 3], 1 above."""
    save_inputs = (0,)

    def forward(self, x):
        self.mid = (x >= -3) & (x <= 3)
        self.high = x > 3
        return x * np.clip(x + 3, _cast(0, x), _cast(6, x)) / 6

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * (where(_c(self.mid), x / 3.0 + 0.5, 0.0) + _c(self.high.astype(x._data.dtype)))


# ------------------------------------------------------------------ softmax family
class Softmax(Node):
    """exp(x − max) / Σ exp(x − max) along ``dim``; backward y·(g − Σ g·y)."""
    save_output = True

    def forward(self, x, dim):
        self.dim = dim
        if _last_axis_rows(x, dim):
            return _softmax.softmax(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        return e / e.sum(axis=dim, keepdims=True)

    def backward(self, gy):
        y = self.saved_output
        return y * (gy - (gy * y).sum(self.dim, keepdim=True))


class LogSoftmax(Node):
    """x − max − log Σ exp(x − max) along ``dim``; backward g − softmax·Σ g."""
    save_output = True

    def forward(self, x, dim):
        self.dim = dim
        if _last_axis_rows(x, dim):
            return _softmax.log_softmax(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        z = x - x.max(axis=dim, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=dim, keepdims=True))

    def backward(self, gy):
        return gy - exp(self.saved_output) * gy.sum(self.dim, keepdim=True)


def _last_axis_rows(x, dim):
    """Whether the softmax runs along the last axis of a C-contiguous, non-empty x: rows of
    the backend's row-wise routines."""
    return dim == x.ndim - 1 and x.size > 0 and x.flags.c_contiguous


def _softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_like(node, name, input, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    input = _float_input(input)
    if dim is None:
        dim = _softmax_dim(name, input.dim())
    if input.dim() == 0:
        _wrap_dim(dim, 0)
        return node.apply(input.reshape(1), dim=0).reshape(())
    return node.apply(input, dim=_wrap_dim(dim, input.dim()))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x_i) / Σ_j exp(x_j) along ``dim`` (shape unchanged)."""
    return _softmax_like(Softmax, "softmax", input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log softmax(x) along ``dim``, computed without forming softmax (no log(0))."""
    return _softmax_like(LogSoftmax, "log_softmax", input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(−x) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return _softmax_like(Softmax, "softmin", -input, dim, None)


# ------------------------------------------------------------------ public functions
def relu(input, inplace=False):
    """max(x, 0)."""
    return relu_(input) if inplace else Relu.apply(input)


def relu_(input):
    """In-place relu."""
    return _inplace(input, Relu.apply)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clip(x, min_val, max_val); the gradient is 1 strictly inside the interval."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(Hardtanh.apply, input, inplace, min_val=min_val, max_val=max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope·x otherwise."""
    return _maybe_inplace(LeakyRelu.apply, input, inplace, slope=negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, True)


def prelu(input, weight):
    """leaky_relu with a learned slope: ``weight`` has 1 entry (shared) or one per channel
    (dim 1 of the input; a 1-D input has one channel)."""
    channels = input.shape[1] if input.dim() >= 2 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels}.")
    if weight.dim() > 1 and n == 1:
        weight = weight.reshape(1)
    if n != 1 and input.dim() > 2:
        weight = weight.reshape((n,) + (1,) * (input.dim() - 2))
    return where(_c(_positive(input._data)), input, weight * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU (Xu et al. 2015): in training each negative element gets a slope
    drawn from U(lower, upper); in evaluation the slope is (lower + upper) / 2."""
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    from .._random import _gen
    d = input._data
    drawn = _gen(None).uniform(lower, upper, d.shape).astype(d.dtype)
    slope = np.where(d >= 0, _cast(1, d), drawn)
    return _maybe_inplace(RandomSlope.apply, input, inplace, slope=slope)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``."""
    return _maybe_inplace(Threshold.apply, input, inplace, threshold=threshold, value=value)


def threshold_(input, threshold, value):
    return _maybe_inplace(Threshold.apply, input, True, threshold=threshold, value=value)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    return Shrink.apply(input, lambd=lambd, soft=False)


def softshrink(input, lambd=0.5):
    """x − lambd above lambd, x + lambd below −lambd, 0 between."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return Shrink.apply(input, lambd=lambd, soft=True)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha·(exp(x) − 1) otherwise (Clevert et al. 2015)."""
    return _maybe_inplace(Elu.apply, input, inplace, alpha=alpha, scale=1.0, input_scale=1.0)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def selu(input, inplace=False):
    """scale·elu(x, alpha) with the self-normalising constants of Klambauer et al. 2017."""
    return _maybe_inplace(Elu.apply, input, inplace, alpha=SELU_ALPHA, scale=SELU_SCALE,
                          input_scale=1.0)


def selu_(input):
    return selu(input, True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha·(exp(x / alpha) − 1)) (Barron 2017)."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu's alpha must not be 0")
    return _maybe_inplace(Elu.apply, input, inplace, alpha=alpha, scale=1.0,
                          input_scale=1.0 / alpha)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def gelu(input, approximate="none"):
    """x·Φ(x) (Hendrycks & Gimpel 2016); approximate='tanh' uses
    0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return Gelu.apply(_float_input(input), tanh_approx=approximate == "tanh")


def silu(input, inplace=False):
    """x·sigmoid(x)."""
    return _maybe_inplace(Silu.apply, input, inplace)


def mish(input, inplace=False):
    """x·tanh(softplus(x))."""
    return _maybe_inplace(Mish.apply, input, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta·x)) / beta, reverting to x where beta·x > threshold."""
    return Softplus.apply(_float_input(input), beta=beta, threshold=threshold)


def softsign(input):
    """x / (1 + |x|)."""
    return input / (_abs(input) + 1)


def tanhshrink(input):
    """x − tanh(x)."""
    return input - tanh(input)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    return _maybe_inplace(Hardsigmoid.apply, input, inplace)


def hardswish(input, inplace=False):
    """x·relu6(x + 3) / 6 (Howard et al. 2019, MobileNetV3)."""
    return _maybe_inplace(Hardswish.apply, input, inplace)


def logsigmoid(input):
    """log(sigmoid(x)), stable for large |x|."""
    return LogSigmoid.apply(_float_input(input))


def glu(input, dim=-1):
    """a·sigmoid(b) where a, b are the two halves of ``input`` along ``dim``."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _wrap_dim(dim, input.dim())
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    a, b = chunk(input, 2, d)
    return a * sigmoid(b)


def maxout(input, pool_size, dim=1):
    """Maxout (Goodfellow et al. 2013, seed 004): the ``dim`` axis of size C·k is cut into C
    groups of ``pool_size`` = k consecutive features and each group's maximum is kept, so the
    output has C along ``dim``. The gradient goes to the winning piece."""
    if input.dim() == 0:
        raise RuntimeError("maxout expects an input with at least one dimension")
    d = _wrap_dim(dim, input.dim())
    n = input.shape[d]
    if pool_size < 1 or n % pool_size:
        raise RuntimeError(f"maxout: dimension {d} has size {n}, which is not a multiple of "
                           f"pool_size={pool_size}")
    return _max(unflatten(input, d, (n // pool_size, pool_size)), d + 1).values

