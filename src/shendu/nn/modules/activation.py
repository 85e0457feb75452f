"""Activation modules: thin wrappers over ``nn.functional`` (the maths is in
``shendu._ops.activation``). Every one maps an input of any shape to the same shape,
except the softmax family (normalised along ``dim``), GLU (halves ``dim``) and Maxout
(a linear layer followed by a max over groups of ``pool_size`` outputs)."""
import warnings

from .module import Module, LayerInputError
from .linear import Linear
from ..parameter import Parameter
from .. import init
from ... import _creation
from ..._ops import activation as F
from ..._ops.activation import sigmoid, tanh

__all__ = ["Sigmoid", "Tanh", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU",
           "CELU", "GELU", "SiLU", "Mish", "Softplus", "Softsign", "Hardtanh", "Hardsigmoid",
           "Hardswish", "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "LogSigmoid",
           "Softmax", "LogSoftmax", "Softmin", "Softmax2d", "GLU", "Maxout"]


class _Functional(Module):
    """A module that applies ``_fn(input, *args)``, the args being the attributes named in
    ``_args``. Printed as torch prints it: ``name=value`` for each of ``_shown`` (default:
    all args but inplace and training), then ``inplace=True`` when set."""
    _fn = None
    _args = ()
    _shown = None

    def forward(self, input):
        return type(self)._fn(input, *[getattr(self, a) for a in self._args])

    def extra_repr(self):
        shown = self._shown if self._shown is not None else \
            [a for a in self._args if a not in ("inplace", "training")]
        parts = [f"{a}={getattr(self, a)!r}" for a in shown]
        if getattr(self, "inplace", False):
            parts.append("inplace=True")
        return ", ".join(parts)


class _Stateless(_Functional):
    """An activation with no arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()


class Sigmoid(_Stateless):
    """1 / (1 + exp(−x))."""
    _fn = sigmoid


class Tanh(_Stateless):
    """tanh(x)."""
    _fn = tanh


class Softsign(_Stateless):
    """x / (1 + |x|)."""
    _fn = F.softsign


class Tanhshrink(_Stateless):
    """x − tanh(x)."""
    _fn = F.tanhshrink


class LogSigmoid(_Stateless):
    """log(sigmoid(x))."""
    _fn = F.logsigmoid


class _Inplace(_Functional):
    """An activation whose only argument is ``inplace``."""
    _args = ("inplace",)

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


class ReLU(_Inplace):
    """max(x, 0)."""
    _fn = F.relu


class SELU(_Inplace):
    """scale·elu(x, alpha) with the self-normalising constants."""
    _fn = F.selu


class SiLU(_Inplace):
    """x·sigmoid(x)."""
    _fn = F.silu


class Mish(_Inplace):
    """x·tanh(softplus(x))."""
    _fn = F.mish


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6 (torch prints no arguments)."""
    _fn = F.hardsigmoid

    def extra_repr(self):
        return ""


class Hardswish(Hardsigmoid):
    """x·relu6(x + 3) / 6."""
    _fn = F.hardswish


class Hardtanh(_Functional):
    """clip(x, min_val, max_val)."""
    _fn = F.hardtanh
    _args = ("min_val", "max_val", "inplace")

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`",
                          FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`",
                          FutureWarning, stacklevel=2)
            max_val = max_value
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val "
                             f"({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""
    _shown = ()

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)


class LeakyReLU(_Functional):
    """x for x > 0, negative_slope·x otherwise."""
    _fn = F.leaky_relu
    _args = ("negative_slope", "inplace")

    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace


class PReLU(Module):
    """leaky_relu with a learned slope (He et al. 2015): ``num_parameters`` = 1 (shared by all
    channels) or the number of channels (dim 1 of the input); the slopes start at ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(_creation.empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class RReLU(_Functional):
    """Randomized leaky ReLU: slopes ~ U(lower, upper) in training, their mean in evaluation."""
    _fn = F.rrelu
    _args = ("lower", "upper", "training", "inplace")

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace


class ELU(_Functional):
    """x for x > 0, alpha·(exp(x) − 1) otherwise."""
    _fn = F.elu
    _args = ("alpha", "inplace")

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace


class CELU(ELU):
    """max(0, x) + min(0, alpha·(exp(x / alpha) − 1))."""
    _fn = F.celu


class GELU(_Functional):
    """x·Φ(x); ``approximate='tanh'`` for the tanh approximation."""
    _fn = F.gelu
    _args = ("approximate",)

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate


class Softplus(_Functional):
    """log(1 + exp(beta·x)) / beta (x itself where beta·x > threshold)."""
    _fn = F.softplus
    _args = ("beta", "threshold")

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold


class Softshrink(_Functional):
    """x ∓ lambd outside [−lambd, lambd], 0 inside."""
    _fn = F.softshrink
    _args = ("lambd",)

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x outside [−lambd, lambd], 0 inside."""
    _fn = F.hardshrink


class Threshold(_Functional):
    """x where x > threshold, else value."""
    _fn = F.threshold
    _args = ("threshold", "value", "inplace")

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace


class Softmax(_Functional):
    """exp(x_i) / Σ_j exp(x_j) along ``dim``."""
    _fn = F.softmax
    _args = ("dim",)

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim


class LogSoftmax(Softmax):
    """log softmax along ``dim``."""
    _fn = F.log_softmax


class Softmin(Softmax):
    """softmax(−x) along ``dim``."""
    _fn = F.softmin


class Softmax2d(Module):
    """Softmax over the channels at every location: input (N, C, H, W) or (C, H, W)."""

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected a 3D "
                                  f"(C, H, W) or 4D (N, C, H, W) input")
        return F.softmax(input, -3)


class GLU(_Functional):
    """Gated linear unit a·sigmoid(b), a and b the halves of the input along ``dim``."""
    _fn = F.glu
    _args = ("dim",)

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim


class Maxout(Linear):
    """Maxout layer (Goodfellow et al. 2013; seed 004): ``pool_size`` = k affine pieces per
    output unit and the maximum of them, h_i(x) = max_j (W_{ik+j} · x + b_{ik+j}).

    A Linear layer with out_features·k outputs (``weight`` (out_features·k, in_features),
    rows grouped by unit: the k pieces of unit i are rows i·k … i·k+k−1, so k times a
    Linear layer's parameters, initialised like Linear) followed by the max over each
    group. Input (..., in_features) → output (..., out_features).
    """

    def __init__(self, in_features, out_features, pool_size, bias=True, device=None, dtype=None):
        if pool_size < 1:
            raise ValueError(f"Maxout: pool_size must be at least 1, got {pool_size}")
        super().__init__(in_features, out_features * pool_size, bias, device, dtype)
        self.out_features, self.pool_size = out_features, pool_size

    def forward(self, input):
        return F.maxout(super().forward(input), self.pool_size, -1)

    def _describe(self):
        return f"Maxout {self.in_features}→{self.out_features}×{self.pool_size}"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pool_size={self.pool_size}, bias={self.bias is not None}")
