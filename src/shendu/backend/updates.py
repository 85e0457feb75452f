"""Optimizer update rules that NumPy runs as a chain of passes over each parameter, as one
compiled pass: read the parameter, its gradient and its buffers once, write them once.

SGD with momentum is four NumPy passes (buf *= μ, buf += g, step = lr·buf, p -= step) over
arrays that, for a network's larger layers, do not stay in cache; PyTorch's fused CPU loop is
one. The kernel does the same float operations in the same order as the NumPy chain in
``shendu/optim/sgd.py`` (each rounded to the arrays' dtype), so both give the same bits; the
chain is its twin and runs where the kernel does not apply (numba off, other dtypes,
non-contiguous arrays).
"""
import numpy as np

from .kernels import kernel, applies

__all__ = ["sgd_applies", "sgd"]


def sgd_applies(p, g, buf):
    """Whether the compiled SGD pass takes these arrays (``buf`` may be None)."""
    return applies(p, g) and (buf is None or applies(p, buf))


def sgd(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """One SGD step in place on the flat-compatible arrays p, buf (torch.optim.SGD's rule):
    d = ±g (+ weight_decay·p); with momentum buf = d on the first step, else
    buf = μ buf + (1 − dampening) d, and d = d + μ buf (Nesterov) or buf; p = p − lr·d.
    The hyper-parameters are cast to p's dtype, as NumPy does with Python floats."""
    t = p.dtype.type
    has_buf = buf is not None
    sgd_kernel(p.reshape(-1), g.reshape(-1), buf.reshape(-1) if has_buf else p.reshape(-1)[:0],
               t(lr), t(momentum), dampening != 0, t(1 - dampening), weight_decay != 0,
               t(weight_decay), bool(nesterov), bool(maximize), has_buf, bool(first))


@kernel
def sgd_kernel(p, g, buf, lr, mu, damped, one_minus_damp, decay, wd, nesterov, maximize,
               has_buf, first):
    """The pass of :func:`sgd` over 1-D arrays (``buf`` empty when there is no momentum)."""
    for i in range(p.size):
        d = -g[i] if maximize else g[i]
        if decay:
            d = p[i] * wd + d
        if has_buf:
            if first:
                b = d
            else:
                b = buf[i] * mu
                b = b + (d * one_minus_damp if damped else d)
            buf[i] = b
            d = b * mu + d if nesterov else b
        p[i] = p[i] - d * lr
