"""Normalization layers (torch.nn's): BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, GroupNorm,
LayerNorm and LocalResponseNorm; the maths is in ``shendu._ops.normalization``."""
import numbers
import warnings

from .module import Module, LayerInputError
from ..parameter import Parameter
from .. import init
from ... import _creation, _dtype
from ..._ops import normalization as F

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "GroupNorm", "LayerNorm", "RMSNorm", "LocalResponseNorm"]


class _InputValueError(LayerInputError, ValueError):
    """A wrong number of input dimensions: a ValueError (as torch raises), reported with the
    layer's path."""


def _affine_params(module, shape, affine, bias, dtype):
    """Register ``weight`` (and ``bias``) of ``shape``, or None for each when absent."""
    def param(wanted):
        return Parameter(_creation.empty(*shape, dtype=dtype)) if wanted else None
    module.register_parameter("weight", param(affine))
    module.register_parameter("bias", param(affine and bias))


def _reset_affine(module):
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _NormBase(Module):
    """Per-channel normalization with optional affine weight/bias (ones/zeros) and running
    estimates of the mean and (unbiased) variance in buffers, as torch names them."""
    _dims = ()              # the input dims accepted (with the batch dimension)

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_params(self, (num_features,), affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", _creation.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", _creation.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", _creation.tensor(0, dtype=_dtype.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()
        self._register_load_state_dict_pre_hook(self._keep_num_batches_tracked)

    def _keep_num_batches_tracked(self, state_dict, prefix, *args):
        """State dicts without ``num_batches_tracked`` (older PyTorch) load, keeping the
        count, as torch does. (A bound method: deepcopy rebinds it to the copy.)"""
        key = prefix + "num_batches_tracked"
        if self.num_batches_tracked is not None and key not in state_dict:
            state_dict[key] = self.num_batches_tracked

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input_dim(self, input):
        if input.dim() not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise _InputValueError(f"expected {want} input (got {input.dim()}D input)")

    def _describe(self):
        return f"{type(self).__name__} {self.num_features}"

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch normalization (seed 002 §3.6.10): in training, each channel is normalized with
    this batch's mean and biased variance, and the running estimates move towards them
    (momentum, or a cumulative average when momentum is None); in eval the running
    estimates are used (or the batch's when track_running_stats=False)."""

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected "
                                  f"{self.num_features} channels at dim 1 "
                                  f"(num_features={self.num_features}), got {input.shape[1]}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None \
                else self.momentum
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L)."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W)."""
    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W)."""
    _dims = (5,)


class _InstanceNorm(_NormBase):
    """Each sample's channels normalized over their spatial positions; unbatched input
    (C, *spatial) is accepted. Running estimates only with track_running_stats."""

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def forward(self, input):
        self._check_input_dim(input)
        batched = input.dim() == self._dims[-1]
        c = input.shape[1 if batched else 0]
        if c != self.num_features:
            msg = (f"expected input's size at dim={1 if batched else 0} to match num_features "
                   f"({self.num_features}), but got: {c}.")
            if self.affine or self.track_running_stats:
                raise _InputValueError(msg)
            warnings.warn(msg + " (num_features is not used because affine=False)")
        x = input if batched else input.unsqueeze(0)
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return y if batched else y.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of (N, C, L) or (C, L)."""
    _dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of (N, C, H, W) or (C, H, W)."""
    _dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of (N, C, D, H, W) or (C, D, H, W)."""
    _dims = (4, 5)


class GroupNorm(Module):
    """Group normalization (seed 002 §3.6.11): the channels of each sample split into
    num_groups groups, each normalized over its channels and positions; independent of the
    batch size. Per-channel affine weight and bias."""

    def __init__(self, num_groups, num_channels, eps=1e-05, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = \
            num_groups, num_channels, eps, affine
        _affine_params(self, (num_channels,), affine, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        if input.dim() < 2 or input.shape[1] != self.num_channels:
            raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected (N, "
                                  f"{self.num_channels}, *) (num_channels={self.num_channels})")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def _describe(self):
        return f"GroupNorm {self.num_groups}×{self.num_channels // self.num_groups}"

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


def _check_trailing(input, ns):
    if input.dim() < len(ns) or tuple(input.shape[input.dim() - len(ns):]) != ns:
        raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected the last "
                              f"dimensions to be normalized_shape={ns}")


class LayerNorm(Module):
    """Normalization of each sample over its trailing ``normalized_shape`` dims, with an
    elementwise weight (and bias) of that shape."""

    def __init__(self, normalized_shape, eps=1e-05, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine_params(self, self.normalized_shape, elementwise_affine, bias, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        _check_trailing(input, self.normalized_shape)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def _describe(self):
        return f"LayerNorm {self.normalized_shape}"

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalization over the trailing ``normalized_shape`` dims (no centring,
    no bias), with an elementwise weight."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.register_parameter("weight", Parameter(_creation.empty(
            *self.normalized_shape, dtype=dtype)) if elementwise_affine else None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        _check_trailing(input, self.normalized_shape)
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def _describe(self):
        return f"RMSNorm {self.normalized_shape}"

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Seed 002 §3.6.7's LRN across channels: b_c = a_c / (k + α/n Σ a_{c'}²)^β over the n
    channels around c (AlexNet: n=5, α=1e-4, β=0.75, k=2)."""

    def __init__(self, size, alpha=0.0001, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
