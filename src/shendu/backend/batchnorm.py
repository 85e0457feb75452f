"""Batch normalization's passes over an (N, C, L) array — per-channel statistics over the
batch and the L positions — as compiled kernels, the channels dealt to shendu's threads.

NumPy needs a pass per operation: the forward's statistics, x − μ, its square's sum, the
scale and the shift are five passes with a full-size temporary, the backward's closed form
seven (DESIGN.md: fused batch-norm backward). Here:

* ``moments``: mean and biased variance, two passes that only read x (two-pass, as the NumPy
  form, for accuracy; the sums are kept in float64);
* ``affine``: y = (x − μ) a + b, one pass (the training forward with a = γ/σ, and the
  evaluation forward with μ = 0);
* ``grad_sums``: Σ g and Σ g (x − μ) per channel, one pass reading g and x;
* ``grad_input``: ∂x = g a + (x − μ) k₁ − k₀ with per-channel k₁, k₀, one pass.

The elementwise passes do the NumPy form's operations in its order (same bits given the same
coefficients); the sums are float64 and reassociated (SIMD), so they differ from NumPy's
float32 ones in the last bits. The NumPy form in ``shendu/_ops/normalization.py`` is their
twin: it runs where these do not apply (numba off, other dtypes or layouts), and the tests
hold the two to each other and both to torch.
"""
import numpy as np

from . import threads
from .kernels import KERNEL_DTYPES, enabled, kernel, sum_kernel

__all__ = ["applies", "moments", "affine", "grad_sums", "grad_input"]

SPLIT_MIN = 1 << 16       # elements below which the channels run on one thread


def applies(x, axes):
    """Whether the kernels take x with statistics over ``axes``: per channel of (N, C, *)
    (axes 0, 2, 3, ...), float32/float64, C-contiguous, numba on."""
    return (enabled() and x.ndim >= 2 and x.dtype in KERNEL_DTYPES and x.flags.c_contiguous
            and tuple(axes) == (0,) + tuple(range(2, x.ndim)) and x.size > 0)


def _nc_l(a):
    return a.reshape(a.shape[0], a.shape[1], -1)


def _channels(fn, x, ns):
    """fn(c0, c1) over the channels, split over shendu's threads when x is large enough to
    pay for it (``ns``: the kernel's time per element on one thread, measured on the EPYC:
    moments 0.33, affine 0.18, grad_sums 0.21, grad_input 0.15)."""
    threads.run_split(fn, x.shape[1], threads.split_pays(x.size, ns, SPLIT_MIN))


def moments(x):
    """(mean, biased variance) per channel of x (N, C, *): two (C,) arrays of x's dtype."""
    x3 = _nc_l(x)
    mean = np.empty(x3.shape[1], x.dtype)
    var = np.empty(x3.shape[1], x.dtype)
    _channels(lambda c0, c1: moments_kernel(x3, mean, var, c0, c1), x3, 0.33)
    return mean, var


def affine(x, mu, a, b):
    """(x − μ_c) a_c + b_c for per-channel (C,) μ, a, b (x's dtype): a new array like x."""
    y = np.empty_like(x)
    x3, y3 = _nc_l(x), _nc_l(y)
    _channels(lambda c0, c1: affine_kernel(x3, mu, a, b, y3, c0, c1), x3, 0.18)
    return y


def grad_sums(g, x, mu):
    """(Σ g, Σ g (x − μ)) per channel over the batch and positions: two (C,) arrays."""
    g3, x3 = _nc_l(g), _nc_l(x)
    s0 = np.empty(x3.shape[1], x.dtype)
    s1 = np.empty(x3.shape[1], x.dtype)
    _channels(lambda c0, c1: grad_sums_kernel(g3, x3, mu, s0, s1, c0, c1), x3, 0.21)
    return s0, s1


def grad_input(g, x, mu, a, k1, k0):
    """g a_c + (x − μ_c) k1_c − k0_c, per-channel (C,) coefficients: a new array like x."""
    out = np.empty_like(x)
    g3, x3, o3 = _nc_l(g), _nc_l(x), _nc_l(out)
    _channels(lambda c0, c1: grad_input_kernel(g3, x3, mu, a, k1, k0, o3, c0, c1), x3, 0.15)
    return out


@sum_kernel
def moments_kernel(x, mean, var, c0, c1):
    """mean[c], var[c] for the channels c0 .. c1 − 1 of x (N, C, L)."""
    N, L = x.shape[0], x.shape[2]
    m = N * L
    for c in range(c0, c1):
        s = 0.0
        for n in range(N):
            for i in range(L):
                s += x[n, c, i]
        mu = s / m
        q = 0.0
        for n in range(N):
            for i in range(L):
                d = x[n, c, i] - mu
                q += d * d
        mean[c] = mu
        var[c] = q / m


@kernel
def affine_kernel(x, mu, a, b, y, c0, c1):
    """y = (x − mu[c]) a[c] + b[c] over the channels c0 .. c1 − 1 (rounded as NumPy's
    three passes: difference, product, sum)."""
    N, L = x.shape[0], x.shape[2]
    for n in range(N):
        for c in range(c0, c1):
            m, s, t = mu[c], a[c], b[c]
            for i in range(L):
                y[n, c, i] = (x[n, c, i] - m) * s + t


@sum_kernel
def grad_sums_kernel(g, x, mu, s0, s1, c0, c1):
    """s0[c] = Σ g, s1[c] = Σ g (x − mu[c]) over batch and positions, channels c0 .. c1 − 1."""
    N, L = x.shape[0], x.shape[2]
    for c in range(c0, c1):
        m = mu[c]
        a = 0.0
        b = 0.0
        for n in range(N):
            for i in range(L):
                v = g[n, c, i]
                a += v
                b += v * (x[n, c, i] - m)
        s0[c] = a
        s1[c] = b


@kernel
def grad_input_kernel(g, x, mu, a, k1, k0, out, c0, c1):
    """out = g a[c] + (x − mu[c]) k1[c] − k0[c] over the channels c0 .. c1 − 1 (rounded as
    the NumPy form: g a, (x − μ) k1, their sum, minus k0)."""
    N, L = x.shape[0], x.shape[2]
    for n in range(N):
        for c in range(c0, c1):
            m, s, p, q = mu[c], a[c], k1[c], k0[c]
            for i in range(L):
                out[n, c, i] = (g[n, c, i] * s + (x[n, c, i] - m) * p) - q
