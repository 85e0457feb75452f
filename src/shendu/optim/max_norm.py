"""The max-norm constraint as an optimizer step post-hook (seed 002 §3.12.4: bounding each
unit's weight vector to a ball of radius c helps dropout training and stops large
learning rates from blowing the weights up; c is tuned on a validation set)."""
from .._tensor import Tensor

__all__ = ["max_norm_hook"]


def max_norm_hook(module_or_params, max_norm, norm_type=2.0, dim=0):
    r"""A hook for ``optimizer.register_step_post_hook`` that keeps every unit's incoming
    weight vector inside a ball after each step (Srebro et al. 2005; with dropout,
    Srivastava et al. 2014: "max-norm regularization prevents large learning rates from
    blowing up the weights"), by :func:`shendu.nn.utils.max_norm_`::

        w_u <- w_u · c / (‖w_u‖ + 1e-7)      for each slice w_u along ``dim`` with ‖w_u‖ > c

    (``torch.renorm``'s formula). For ``Linear`` (out, in) and ``Conv`` (out, in, k...)
    weights ``dim=0`` constrains each output unit's incoming weights; biases and other
    1-d parameters are left alone.

    Args:
        module_or_params: a Module, an iterable of Tensors or one weight tensor.
        max_norm (float): c, the radius.
        norm_type (float): the p of the p-norm (``inf`` allowed).
        dim (int): the dimension that indexes the units.

    Example::

        opt.register_step_post_hook(optim.max_norm_hook(model, 3.0))
    """
    from ..nn.modules.module import Module
    from ..nn.utils import max_norm_
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    if isinstance(module_or_params, Module):
        params = list(module_or_params.parameters())
    elif isinstance(module_or_params, Tensor):
        params = [module_or_params]
    else:
        params = list(module_or_params)
    params = [p for p in params if p.dim() >= 2]
    if not params:
        raise ValueError("max_norm_hook got no weights to constrain (it needs parameters with "
                         "two or more dimensions)")

    def hook(optimizer, args, kwargs):
        max_norm_(params, max_norm, norm_type, dim)

    hook.params = params
    return hook
