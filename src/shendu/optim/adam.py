"""Adam (Kingma & Ba, 2015), with AMSGrad and coupled or decoupled weight decay."""
import functools

import numpy as np

from .optimizer import (Optimizer, _check_betas, _check_differentiable, _check_nonnegative,
                        _in_chunks, _lerp_, _next_step, _square_avg_, _scalar_state,
                        _zeros_like)

__all__ = ["Adam"]


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam``.

    With g the gradient (negated when ``maximize``), t the step, λ ``weight_decay``::

        θ <- θ (1 - γ λ)                if decoupled_weight_decay   (AdamW)
        g <- g + λ θ                    otherwise
        m <- β1 m + (1 - β1) g
        v <- β2 v + (1 - β2) g²
        v_max <- max(v_max, v)          if amsgrad (then v_max replaces v below)
        θ <- θ - γ / (1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + ε)

    ``foreach``, ``fused`` and ``capturable`` are accepted for compatibility.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_nonnegative(lr=lr, eps=eps)
        betas = _check_betas(betas)
        _check_nonnegative(weight_decay=weight_decay)
        _check_differentiable(differentiable)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused, decoupled_weight_decay=decoupled_weight_decay))

    def _init_state(self, state, p, group):
        _init_moments(state, p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros_like(p)

    def _update(self, p, g, state, group):
        step = _next_step(state)
        arrays = [p, g, state["exp_avg"]._data, state["exp_avg_sq"]._data]
        if group["amsgrad"]:
            arrays.append(state["max_exp_avg_sq"]._data)
        _in_chunks(functools.partial(self._kernel, group=group, step=step), *arrays)

    def _kernel(self, p, g, m, v, v_max=None, *, group, step):
        """The elementwise part of the step, on (slices of) the parameter and its state."""
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        _moments_kernel(self, p, g, m, v, group)
        tmp, denom = self._scratch(1, p), self._scratch(2, p)
        if v_max is not None:
            v = np.maximum(v_max, v, out=v_max)
        step_size = lr / (1 - beta1 ** step)
        np.sqrt(v, out=denom)
        denom /= (1 - beta2 ** step) ** 0.5
        denom += eps
        np.multiply(m, -step_size, out=tmp)
        tmp /= denom
        p += tmp


def _init_moments(state, p):
    state["step"] = _scalar_state()
    state["exp_avg"] = _zeros_like(p)
    state["exp_avg_sq"] = _zeros_like(p)


def _moments(opt, p, g, state, group):
    """The start the Adam family shares: count the step, apply the weight decay (decoupled
    or coupled), then m <- β1 m + (1 - β1) g and v <- β2 v + (1 - β2) g². Returns
    (step, g, m, v) with g the gradient the rule sees."""
    step = _next_step(state)
    m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
    g = _moments_kernel(opt, p, g, m, v, group)
    return step, g, m, v


def _moments_kernel(opt, p, g, m, v, group):
    """The elementwise part of ``_moments`` (any slices of p, g, m, v): returns the g the
    rule sees."""
    beta1, beta2 = group["betas"]
    opt._decay(p, group)
    g = opt._grad(p, g, group)
    tmp = opt._scratch(1, p)
    _lerp_(m, g, 1 - beta1, tmp)
    _square_avg_(v, g, beta2, tmp)
    return g
