"""shendu.backend.batchnorm: batch norm's compiled passes (statistics, affine map, the
backward's sums and ∂x) against their NumPy twin (the generic path of _ops/normalization,
taken with the kernels off), and batch norm on them against torch."""
import numpy as np
import pytest
import torch

import shendu
from shendu.backend import kernels
from shendu.backend import batchnorm as B

pytestmark = pytest.mark.skipif(not kernels._numba_importable(), reason="numba is not installed")

SHAPES = [(2, 3), (3, 5, 7), (4, 6, 3, 5), (2, 3, 4, 3, 2), (16, 8, 24, 24)]   # last: split


def _run(shape, dtype, affine, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3 + 1
    g = rng.standard_normal(shape)
    bn = {2: shendu.nn.BatchNorm1d, 3: shendu.nn.BatchNorm1d, 4: shendu.nn.BatchNorm2d,
          5: shendu.nn.BatchNorm3d}[len(shape)](shape[1], affine=affine).to(dtype)
    if affine:
        with shendu.no_grad():
            bn.weight.copy_(shendu.tensor(rng.standard_normal(shape[1])))
            bn.bias.copy_(shendu.tensor(rng.standard_normal(shape[1])))
    xs = shendu.tensor(x, dtype=dtype, requires_grad=True)
    y = bn(xs)
    y.backward(shendu.tensor(g, dtype=dtype))
    bn.eval()
    with shendu.no_grad():
        ye = bn(xs)
    out = [y.detach().numpy(), xs.grad.numpy(), ye.numpy(), bn.running_mean.numpy(),
           bn.running_var.numpy()]
    if affine:
        out += [bn.weight.grad.numpy(), bn.bias.grad.numpy()]
    return out


@pytest.mark.parametrize("dtype,tol", [(shendu.float64, 1e-12), (shendu.float32, 2e-5)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_kernels_match_their_numpy_twin(shape, dtype, tol, affine, monkeypatch):
    fast = _run(shape, dtype, affine)
    monkeypatch.setattr(kernels, "_state", dict(kernels._state, enabled=False))
    assert not B.applies(np.zeros(shape), (0,) + tuple(range(2, len(shape))))
    twin = _run(shape, dtype, affine)
    for a, b in zip(fast, twin):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, np.abs(b).max()))


def test_elementwise_passes_round_as_the_numpy_form():
    """affine and grad_input do NumPy's operations in its order: the same bits."""
    rng = np.random.default_rng(3)
    x, g = (rng.standard_normal((5, 7, 33)).astype(np.float32) for _ in range(2))
    mu, a, b, k1, k0 = (rng.standard_normal(7).astype(np.float32) for _ in range(5))
    c = (1, 7, 1)
    np.testing.assert_array_equal(B.affine(x, mu, a, b), (x - mu.reshape(c)) * a.reshape(c)
                                  + b.reshape(c))
    want = g * a.reshape(c) + (x - mu.reshape(c)) * k1.reshape(c) - k0.reshape(c)
    np.testing.assert_array_equal(B.grad_input(g, x, mu, a, k1, k0), want)


def test_sums_and_moments_against_float64():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((9, 5, 301)) * 2 + 5).astype(np.float32)
    g = rng.standard_normal((9, 5, 301)).astype(np.float32)
    mean, var = B.moments(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean((0, 2)), rtol=1e-6)
    np.testing.assert_allclose(var, x64.var((0, 2)), rtol=1e-6)
    s0, s1 = B.grad_sums(g, x, mean)
    np.testing.assert_allclose(s0, g.astype(np.float64).sum((0, 2)), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(s1, (g * (x64 - mean[None, :, None])).sum((0, 2)), rtol=1e-5,
                               atol=1e-4)


def test_batchnorm_on_the_kernels_matches_torch():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 8, 24, 24)) * 2 - 1        # large: channels on two threads
    g = rng.standard_normal(x.shape)
    w, b = rng.standard_normal(8), rng.standard_normal(8)
    outs = []
    for lib in (torch, shendu):
        bn = lib.nn.BatchNorm2d(8).double()
        with lib.no_grad():
            bn.weight.copy_(lib.tensor(w))
            bn.bias.copy_(lib.tensor(b))
        xt = lib.tensor(x, requires_grad=True)
        y = bn(xt)
        y.backward(lib.tensor(g))
        outs.append([y.detach().numpy(), xt.grad.numpy(), bn.weight.grad.numpy(),
                     bn.bias.grad.numpy(), bn.running_var.numpy()])
    for a, t in zip(outs[1], outs[0]):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10)


def test_gradcheck_through_the_kernels():
    bn = shendu.nn.BatchNorm2d(3).double()
    x = shendu.randn(4, 3, 3, 2, dtype=shendu.float64, requires_grad=True)
    assert shendu.autograd.gradcheck(lambda t: bn(t), (x,))
    assert shendu.autograd.gradgradcheck(lambda t: bn(t), (x,))
