"""shendu.linalg's factorizations (seed 001): cholesky, qr, svd, pinv, matrix_rank, slogdet,
eig/eigvals — torch parity in float64 (values and the gradients of every input), shendu's
gradcheck and gradgradcheck, float32, clear errors."""
import numpy as np
import pytest
import torch

import shendu
from torch_oracle import check, gradchecks, compare


def spd(L, x):
    """A symmetric positive-definite matrix built from x, so gradients reach x."""
    n = x.shape[-1]
    return x @ x.mT + 3.0 * L.eye(n, dtype=x.dtype)


@pytest.mark.parametrize("shape,upper", [((3, 3), False), ((2, 4, 4), True), ((1, 1), False)])
def test_cholesky(shape, upper):
    check(lambda L, x: L.linalg.cholesky(spd(L, x), upper=upper), shape)
    gradchecks(lambda L, x: L.linalg.cholesky(spd(L, x), upper=upper), shape)


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (2, 4, 3), (3, 5), (2, 2, 4)])
def test_qr_reduced(shape):
    check(lambda L, x: L.linalg.qr(x), shape, grad_rtol=1e-8, grad_atol=1e-10)
    gradchecks(lambda L, x: L.linalg.qr(x), shape, second_order=shape == (3, 3))


def test_qr_modes():
    check(lambda L, x: L.linalg.qr(x, mode="complete"), (4, 3), grad=False)
    check(lambda L, x: L.linalg.qr(x, mode="complete"), (3, 3))
    check(lambda L, x: L.linalg.qr(x, mode="r")[1], (4, 3), grad=False)
    x = shendu.randn(4, 3, dtype=shendu.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
        shendu.linalg.qr(x, mode="complete")[0].sum().backward()
    with pytest.raises(RuntimeError, match="unrecognized mode 'full'"):
        shendu.linalg.qr(x, mode="full")


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 4)])
def test_svd_reduced(shape):
    check(lambda L, x: L.linalg.svd(x, full_matrices=False), shape, grad_rtol=1e-8,
          grad_atol=1e-10)
    gradchecks(lambda L, x: L.linalg.svd(x, full_matrices=False), shape,
               second_order=shape == (5, 3))


def _sign_free(L, x):
    """Functions of the SVD that do not depend on the singular vectors' signs."""
    U, S, Vh = L.linalg.svd(x, full_matrices=False)
    return S, U * U, Vh * Vh, (U * S.unsqueeze(-2)) @ Vh


@pytest.mark.parametrize("shape", [(3, 5), (2, 2, 4)])
def test_svd_wide(shape):
    # LAPACK may flip singular vectors between torch and NumPy for wide matrices (both
    # are right): compare what does not depend on the signs
    check(_sign_free, shape, grad_rtol=1e-8, grad_atol=1e-10)
    gradchecks(lambda L, x: L.linalg.svd(x, full_matrices=False), shape, second_order=False)


def test_svd_full_matrices():
    check(lambda L, x: L.linalg.svd(x), (5, 3), grad=False)
    check(lambda L, x: L.linalg.svd(x), (4, 4), grad_rtol=1e-8, grad_atol=1e-10)
    x = shendu.randn(5, 3, dtype=shendu.float64, requires_grad=True)
    U, S, Vh = shendu.linalg.svd(x)
    S.sum().backward()                                 # singular values alone: fine
    np.testing.assert_allclose(x.grad.numpy(), (U[:, :3] @ Vh).detach().numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="full_matrices=True and the matrix is not square"):
        shendu.linalg.svd(x)[0].sum().backward()


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_pinv(shape):
    check(lambda L, x: L.linalg.pinv(x), shape, grad_rtol=1e-8, grad_atol=1e-10)
    gradchecks(lambda L, x: L.linalg.pinv(x), shape, second_order=shape == (4, 3))


def test_pinv_rank_deficient_and_hermitian():
    rng = np.random.default_rng(1)
    low = rng.normal(size=(5, 2)) @ rng.normal(size=(2, 4))             # rank 2
    check(lambda L, x: L.linalg.pinv(x), vals=[low], grad=False, rtol=1e-8)
    check(lambda L, x: L.linalg.pinv(x, atol=0.5), vals=[low], grad=False, rtol=1e-8)
    sym = low.T @ low
    check(lambda L, x: L.linalg.pinv(x, hermitian=True), vals=[sym], grad=False, rtol=1e-8)


def test_matrix_rank():
    rng = np.random.default_rng(2)
    mats = [rng.normal(size=(5, 2)) @ rng.normal(size=(2, 4)), rng.normal(size=(3, 3)),
            np.zeros((2, 3)), np.diag([1.0, 1e-3, 1e-12]), rng.normal(size=(2, 4, 3))]
    for a in mats:
        for kw in ({}, {"atol": 1e-2}, {"rtol": 1e-2}, {"atol": 0.1, "rtol": 1e-4}):
            compare(shendu.linalg.matrix_rank(shendu.tensor(a), **kw),
                    torch.linalg.matrix_rank(torch.tensor(a), **kw))
    s = mats[0].T @ mats[0]
    compare(shendu.linalg.matrix_rank(shendu.tensor(s), hermitian=True),
            torch.linalg.matrix_rank(torch.tensor(s), hermitian=True))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_slogdet(shape):
    check(lambda L, x: L.linalg.slogdet(x), shape)
    check(lambda L, x: L.slogdet(x), shape)
    gradchecks(lambda L, x: L.linalg.slogdet(x)[1], shape)
    big = shendu.eye(200, dtype=shendu.float64) * 100.0                # det overflows: 1e400
    sign, logabs = shendu.linalg.slogdet(big)
    assert sign.item() == 1.0 and logabs.item() == pytest.approx(200 * np.log(100.0))


def _real_spectrum(rng, n, batch=()):
    P = rng.normal(size=batch + (n, n)) + 2 * np.eye(n)
    D = np.sort(rng.uniform(-3, 3, size=batch + (n,)))
    return P @ (D[..., :, None] * np.linalg.inv(P))


@pytest.mark.parametrize("batch", [(), (2,)])
def test_eig_vs_torch(batch):
    rng = np.random.default_rng(3)
    a = _real_spectrum(rng, 4, batch)
    wl = rng.uniform(0.5, 1.5, size=batch + (4,))
    wv = rng.uniform(0.5, 1.5, size=batch + (4, 4))
    ta = torch.tensor(a, requires_grad=True)
    tw, tv = torch.linalg.eig(ta)
    assert torch.allclose(tw.imag, torch.zeros(()).double()) and \
        torch.allclose(tv.imag, torch.zeros(()).double())
    sa = shendu.tensor(a, requires_grad=True)
    sw, sv = shendu.linalg.eig(sa)
    compare(sw, tw.real, rtol=1e-10, atol=1e-12)
    compare(sv, tv.real, rtol=1e-9, atol=1e-12)
    ((tw.real * torch.tensor(wl)).sum() + (tv.real * torch.tensor(wv)).sum()).backward()
    ((sw * shendu.tensor(wl)).sum() + (sv * shendu.tensor(wv)).sum()).backward()
    compare(sa.grad, ta.grad, rtol=1e-8, atol=1e-10)
    compare(shendu.linalg.eigvals(shendu.tensor(a)), torch.linalg.eigvals(torch.tensor(a)).real,
            rtol=1e-10, atol=1e-12)


def test_eig_gradcheck_and_errors():
    a = _real_spectrum(np.random.default_rng(4), 3)
    gradchecks(lambda L, x: L.linalg.eigvals(x), vals=[a])
    gradchecks(lambda L, x: L.linalg.eig(x)[1].abs().sum(), vals=[a], second_order=False)
    with pytest.raises(RuntimeError, match="complex eigenvalues.*no complex dtype"):
        shendu.linalg.eig(shendu.tensor([[0.0, -1.0], [1.0, 0.0]]))     # a rotation


def test_float32_and_errors():
    x = shendu.randn(4, 3)
    for f in (lambda: shendu.linalg.qr(x), lambda: shendu.linalg.svd(x),
              lambda: (shendu.linalg.pinv(x),), lambda: shendu.linalg.slogdet(x[:3])):
        assert all(t.dtype == shendu.float32 for t in f() if t.numel())
    assert shendu.linalg.cholesky(x.mT @ x + shendu.eye(3)).dtype == shendu.float32
    with pytest.raises(RuntimeError, match="not positive-definite"):
        shendu.linalg.cholesky(-shendu.eye(3))
    with pytest.raises(RuntimeError, match="square matrices.*4 by 3"):
        shendu.linalg.cholesky(x)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        shendu.linalg.svd(shendu.randn(3))
    assert shendu.linalg.matrix_rank(x).dtype == shendu.int64
