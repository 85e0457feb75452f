"""Parametrizations built on ``parametrize``: weight normalization (seed 002 §3.6.12: a
reparametrisation w = g v / ‖v‖ that, unlike batch norm, needs no mini-batch statistics,
so it suits RNNs and noise-sensitive models), the
current torch API with state_dict keys ``parametrizations.weight.original0`` (g) and
``parametrizations.weight.original1`` (v)."""
from ..modules.module import Module
from . import parametrize
from .weight_norm import _weight_norm, norm_except_dim

__all__ = ["weight_norm"]


class _WeightNorm(Module):
    """w = g · v / ‖v‖ from (g, v); right_inverse splits a weight into its norms and itself."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Re-parametrise ``module.<name>`` as g · v / ‖v‖ (norm over every dim but ``dim``;
    None: the whole tensor). State dicts of the old API (``<name>_g``, ``<name>_v``) still
    load."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _compat_hook(state_dict, prefix, local_metadata, strict, missing_keys,
                     unexpected_keys, error_msgs):
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(_compat_hook)
    return module
