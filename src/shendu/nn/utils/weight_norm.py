"""Weight normalization (seed 002 §3.6.12), the older hook-based API of torch.nn.utils.

A weight is re-parametrised as w = g · v / ‖v‖: the direction v and the length g are
learned separately, with no dependence on the mini-batch. ``weight_norm(module)`` replaces
``module.weight`` by parameters ``weight_g`` (the norms, shape 1 except along ``dim``)
and ``weight_v`` (the direction) and recomputes ``module.weight`` before every forward.
The newer API is ``nn.utils.parametrizations.weight_norm``.
"""
import warnings

from ...autograd import grad_mode
from ...linalg import vector_norm
from ..parameter import Parameter

__all__ = ["weight_norm", "remove_weight_norm", "norm_except_dim"]


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dim but ``dim``, keeping dims (shape 1 except
    along ``dim``); ``dim=-1`` means the norm of the whole tensor (a 0-d tensor)."""
    if dim == -1:
        return vector_norm(v, pow)
    d = dim % v.dim()
    return vector_norm(v, pow, tuple(i for i in range(v.dim()) if i != d), keepdim=True)


def _weight_norm(v, g, dim=0):
    """w = v · g / ‖v‖ (norm over every dim but ``dim``)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_g``, ``<name>_v``."""

    def __init__(self, name, dim):
        self.name, self.dim = name, -1 if dim is None else dim

    def compute_weight(self, module):
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"),
                            self.dim)

    @staticmethod
    def apply(module, name, dim):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                                   f"{name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        with grad_mode.no_grad():
            weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Re-parametrise ``module.<name>`` as g · v / ‖v‖ (norm over every dim but ``dim``;
    ``dim=None``: over the whole tensor). Returns the module."""
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``module.<name>`` becomes one plain parameter again."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
