"""SGD: stochastic gradient descent, with (Nesterov) momentum."""
import functools

import numpy as np

from .._tensor import _make
from ..backend import updates as _updates
from .optimizer import Optimizer, _check_differentiable, _check_nonnegative, _in_chunks

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    With g the gradient (negated when ``maximize``), λ ``weight_decay``, μ ``momentum``,
    τ ``dampening`` and γ ``lr``::

        g <- g + λ θ
        b <- g                          (first step)
        b <- μ b + (1 - τ) g            (later steps)
        g <- g + μ b   if nesterov  else  g <- b      (only when μ != 0)
        θ <- θ - γ g

    ``foreach`` and ``fused`` are accepted for compatibility (there is one NumPy path).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        _check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        _check_differentiable(differentiable)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _update(self, p, g, state, group):
        buf = None
        first = False
        if group["momentum"] != 0:
            b = state.get("momentum_buffer")
            if b is None:       # the first step copies the gradient into it
                b = state["momentum_buffer"] = _make(np.empty_like(p), None, 0)
                first = True
            buf = b._data
        if isinstance(group["lr"], (int, float)) and _updates.sgd_applies(p, g, buf):
            _updates.sgd(p, g, buf, group["lr"], group["momentum"], group["dampening"],
                         group["weight_decay"], group["nesterov"], group["maximize"], first)
            return
        arrays = [p, g] if buf is None else [p, g, buf]
        _in_chunks(functools.partial(self._kernel, group=group, first=first), *arrays)

    def _kernel(self, p, g, buf=None, *, group, first):
        """The step on (slices of) the parameter, its gradient and momentum buffer: the
        NumPy twin of ``backend.updates.sgd`` (one compiled pass), where that does not apply."""
        momentum = group["momentum"]
        g = self._grad(p, g, group)
        if buf is not None:
            if first:
                np.copyto(buf, g)
            else:
                buf *= momentum
                dampening = group["dampening"]
                if dampening == 0:
                    buf += g
                else:
                    tmp = self._scratch(1, p)
                    np.multiply(g, 1 - dampening, out=tmp)
                    buf += tmp
            if group["nesterov"]:
                tmp = np.multiply(buf, momentum, out=self._scratch(1, p))
                g = np.add(tmp, g, out=tmp)
            else:
                g = buf
        step = np.multiply(g, group["lr"], out=self._scratch(1, p))
        p -= step


