"""Winograd F(2×2, 3×3) (shendu.backend.winograd) against the direct algorithm, and the
per-shape algorithm choice behind shendu.backends.conv.

Float32 error, stated: over these tests' shapes (inputs and weights of unit scale, up to
64 channels) the largest difference from the float64 direct result is about 4e-7 of the
output's largest magnitude, the same order as im2col's own float32 error."""
import numpy as np
import pytest
import torch

import shendu
import shendu.nn.functional as F
from shendu.backend import conv as C
from shendu.backend import winograd as W


def _direct(x, w, p):
    return torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=p).numpy()


@pytest.fixture
def settings():
    saved = dict(C.CONV_SETTINGS), dict(C._chosen)
    yield shendu.backends.conv
    C.CONV_SETTINGS.update(saved[0])
    C._chosen.clear()
    C._chosen.update(saved[1])


SHAPES = [(2, 3, 7, 9, 4, 1), (3, 5, 8, 8, 6, 0), (1, 2, 5, 6, 3, 2), (4, 16, 6, 5, 8, 1),
          (1, 1, 3, 3, 1, 0)]


@pytest.mark.parametrize("N,Ci,H,Wd,O,p", SHAPES)
def test_float64_matches_direct_tightly(N, Ci, H, Wd, O, p):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((N, Ci, H, Wd)), rng.standard_normal((O, Ci, 3, 3))
    ref = _direct(x, w, p)
    y = W.conv2d(x, w, (p, p), ref.shape[2:])
    assert y.shape == ref.shape and y.dtype == np.float64 and y.flags.c_contiguous
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("N,Ci,H,Wd,O,p", SHAPES)
def test_weight_gradient_float64_matches_torch_tightly(N, Ci, H, Wd, O, p):
    """The adjoint path dU = (A dY Aᵀ) Vᵀ, dg = Gᵀ dU G, odd output sizes included."""
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((N, Ci, H, Wd)), torch.tensor(rng.standard_normal((O, Ci, 3, 3)),
                                                             requires_grad=True)
    y = torch.nn.functional.conv2d(torch.tensor(x), w, padding=p)
    g = rng.standard_normal(y.shape)
    y.backward(torch.tensor(g))
    ref = w.grad.numpy()
    dw = W.weight_grad(x, g, (p, p))
    assert dw.shape == ref.shape and dw.dtype == np.float64 and dw.flags.c_contiguous
    np.testing.assert_allclose(dw, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_weight_gradient_float32_error_is_round_off():
    rng = np.random.default_rng(12)
    x, g = rng.standard_normal((4, 64, 16, 16)), rng.standard_normal((4, 32, 16, 16))
    w = torch.zeros((32, 64, 3, 3), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x), w, padding=1).backward(torch.tensor(g))
    ref = w.grad.numpy()
    dw = W.weight_grad(x.astype(np.float32), g.astype(np.float32), (1, 1))
    assert dw.dtype == np.float32
    assert np.abs(dw - ref).max() <= 2e-6 * np.abs(ref).max()


def test_weight_gradient_chunks_and_threads_agree(monkeypatch, two_threads):
    rng = np.random.default_rng(13)
    x, g = rng.standard_normal((7, 4, 6, 6)), rng.standard_normal((7, 5, 6, 6))
    whole = W.weight_grad(x, g, (1, 1))
    monkeypatch.setattr(W, "CHUNK_ELEMS", 1)
    monkeypatch.setattr(W, "MIN_TILES", 1)              # one image per chunk, two threads
    np.testing.assert_allclose(W.weight_grad(x, g, (1, 1)), whole, rtol=1e-14, atol=1e-13)
    assert W.weight_grad(x[:0], g[:0], (1, 1)).shape == (5, 4, 3, 3)


def test_chunks_and_threads_give_the_same_result(monkeypatch):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((7, 4, 6, 6)), rng.standard_normal((5, 4, 3, 3))
    whole = W.conv2d(x, w, (1, 1), (6, 6))
    monkeypatch.setattr(W, "CHUNK_ELEMS", 1)
    monkeypatch.setattr(W, "MIN_TILES", 1)              # one image per chunk
    np.testing.assert_array_equal(W.conv2d(x, w, (1, 1), (6, 6)), whole)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_transform_split_over_output_channels_is_bitwise_the_same(
        dtype, two_threads, monkeypatch):
    rng = np.random.default_rng(8)
    w = rng.standard_normal((7, 5, 3, 3)).astype(dtype)       # odd O: unequal halves
    whole = W.weight_transform(w)
    monkeypatch.setattr(W, "WEIGHT_SPLIT", 1)
    np.testing.assert_array_equal(W.weight_transform(w), whole)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(whole, W.weight_transform_numpy(w), rtol=tol, atol=tol)


def test_float32_error_is_round_off():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((4, 64, 16, 16)), rng.standard_normal((64, 64, 3, 3))
    ref = _direct(x, w, 1)
    y = W.conv2d(x.astype(np.float32), w.astype(np.float32), (1, 1), (16, 16))
    assert y.dtype == np.float32
    assert np.abs(y - ref).max() <= 2e-6 * np.abs(ref).max()


def test_applies_only_where_it_computes_the_same_thing():
    f32 = np.float32
    assert W.applies((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), (1, 1), 1, f32)
    assert not W.applies((1, 2, 5, 5), (3, 2, 3, 3), (2, 2), (1, 1), 1, f32)
    assert not W.applies((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), (2, 2), 1, f32)
    assert not W.applies((1, 2, 5, 5), (2, 1, 3, 3), (1, 1), (1, 1), 2, f32)
    assert not W.applies((1, 2, 5, 5), (3, 2, 5, 5), (1, 1), (1, 1), 1, f32)
    assert not W.applies((1, 2, 5), (3, 2, 3), (1,), (1,), 1, f32)
    assert not W.applies((1, 2, 5, 5), (3, 2, 3, 3), (1, 1), (1, 1), 1, np.int64)


@pytest.mark.parametrize("p", [0, 1, 2])
def test_conv2d_forward_and_gradients_with_winograd_match_torch(settings, p):
    """Forward and input gradient (the flipped-kernel correlation) by Winograd."""
    settings.winograd = True
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    sx, sw, sb = (shendu.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.conv2d(sx, sw, sb, padding=p)
    ty = torch.nn.functional.conv2d(tx, tw, tb, padding=p)
    g = rng.standard_normal(ty.shape)
    y.backward(shendu.tensor(g))
    ty.backward(torch.tensor(g))
    for a, t in ((y.detach(), ty.detach()), (sx.grad, tx.grad), (sw.grad, tw.grad), (sb.grad, tb.grad)):
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
    assert shendu.autograd.gradcheck(lambda a, k: F.conv2d(a, k, padding=p),
                                     (shendu.tensor(x[:1, :2, :5, :4], requires_grad=True),
                                      shendu.tensor(w[:2, :2], requires_grad=True)))


def test_weight_gradient_goes_by_winograd_from_enough_channel_pairs(settings, monkeypatch):
    calls = []
    real = W.weight_grad
    monkeypatch.setattr(W, "weight_grad", lambda *a: calls.append(a[0].shape) or real(*a))
    rng = np.random.default_rng(14)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3))
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x), tw, padding=1).pow(2).sum().backward()
    for pairs, on, used in ((12, True, True), (13, True, False), (12, False, False)):
        monkeypatch.setattr(C, "WINOGRAD_W_MIN_PAIRS", pairs)
        settings.winograd = on
        calls.clear()
        sw = shendu.tensor(w, requires_grad=True)
        F.conv2d(shendu.tensor(x), sw, padding=1).pow(2).sum().backward()
        assert bool(calls) == used
        np.testing.assert_allclose(sw.grad.numpy(), tw.grad.numpy(), rtol=1e-12, atol=1e-12)
    settings.benchmark = True
    sw = shendu.tensor(w, requires_grad=True)
    F.conv2d(shendu.tensor(x), sw, padding=1).pow(2).sum().backward()
    assert {k[0] for k in settings.chosen()} == {"y", "w"}
    np.testing.assert_allclose(sw.grad.numpy(), tw.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_transpose_weight_gradient_by_winograd_matches_torch(settings, monkeypatch):
    """conv_transpose2d's weight gradient is face_w with the roles swapped (the output's
    gradient as x): the same Winograd path, with stride 1 and padding 0, 1."""
    monkeypatch.setattr(C, "WINOGRAD_W_MIN_PAIRS", 1)
    rng = np.random.default_rng(15)
    x, w = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 3, 3, 3))
    for p in (0, 1):
        sw, tw = shendu.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
        F.conv_transpose2d(shendu.tensor(x), sw, padding=p).pow(2).sum().backward()
        torch.nn.functional.conv_transpose2d(torch.tensor(x), tw, padding=p).pow(2).sum().backward()
        np.testing.assert_allclose(sw.grad.numpy(), tw.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("per_image", [False, True])
def test_im2col_product_per_image_or_per_chunk_agree_with_torch(per_image):
    """The two im2col forms benchmark mode chooses between, grouped and strided too."""
    rng = np.random.default_rng(16)
    x, w = rng.standard_normal((3, 4, 9, 7)), rng.standard_normal((6, 2, 3, 2))
    g = C.Geometry((9, 7), (4, 6), (3, 2), (2, 1), (1, 1), (0, 0), groups=2)
    y, _ = C._gemm_y(x, w, g, per_image=per_image)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=(2, 1), groups=2)
    np.testing.assert_allclose(y, ref.numpy(), rtol=1e-12, atol=1e-12)


def test_float32_model_with_winograd_matches_im2col(settings):
    rng = np.random.default_rng(5)
    x = shendu.tensor(rng.standard_normal((2, 8, 10, 10)).astype(np.float32), requires_grad=True)
    w = shendu.tensor((rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32), requires_grad=True)
    res = []
    for on in (False, True):
        settings.winograd = on
        x.grad = w.grad = None
        y = F.conv2d(F.relu(F.conv2d(x, w, padding=1)), w, padding=1)
        (y * y).sum().backward()
        res.append((y.detach().numpy(), x.grad.numpy(), w.grad.numpy()))
    for a, b in zip(*res):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


def test_benchmark_mode_times_once_per_shape_and_can_be_turned_off(settings, monkeypatch):
    calls = []
    real = W.conv2d
    monkeypatch.setattr(W, "conv2d", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = shendu.randn(2, 3, 6, 6, dtype=shendu.float64)
    w = shendu.randn(4, 3, 3, 3, dtype=shendu.float64)
    assert repr(settings) == "shendu.backends.conv(benchmark=False, winograd=True)"
    F.conv2d(x, w, padding=1)
    assert len(calls) == 1 and settings.chosen() == {}      # default: Winograd, nothing timed
    settings.winograd = False
    F.conv2d(x, w, padding=1)
    assert len(calls) == 1                                   # im2col
    calls.clear()
    settings.benchmark = True
    y1 = F.conv2d(x, w, padding=1)
    timed = len(calls)
    assert timed >= 2                                        # warm-up and timed run
    (key, algo), = settings.chosen().items()
    assert key[:3] == ("y", (2, 3, 6, 6), (4, 3, 3, 3))
    assert algo in ("im2col", "per-image", "winograd")
    y2 = F.conv2d(x, w, padding=1)
    assert len(calls) == timed + (algo == "winograd")       # cached: no second timing
    np.testing.assert_allclose(y1.numpy(), y2.numpy(), rtol=1e-12, atol=1e-12)
    y3 = F.conv2d(x, w, stride=2, padding=1)                 # Winograd does not apply:
    assert len(calls) == timed + (algo == "winograd")       # im2col or per image, timed
    (key2, algo2), = (kv for kv in settings.chosen().items() if kv[0] != key)
    assert key2[5] == (2, 2) and algo2 in ("im2col", "per-image")
    ref = torch.nn.functional.conv2d(torch.tensor(x.numpy()), torch.tensor(w.numpy()), stride=2,
                                     padding=1)
    np.testing.assert_allclose(y3.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    settings.benchmark = False
    assert not settings.benchmark


needs_numba = pytest.mark.skipif(not shendu.backend.kernels._numba_importable(),
                                 reason="numba is not installed")


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_kernels_equal_numpy_twins(dtype):
    rng = np.random.default_rng(6)
    n, Ci, O, th, tw = 2, 3, 5, 3, 4
    w = rng.standard_normal((O, Ci, 3, 3)).astype(dtype)
    u = np.empty((16, O, Ci), dtype)
    W.weight_kernel(w, u, dtype(0.5))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(u, W.weight_transform_numpy(w), rtol=tol, atol=tol)
    xp = rng.standard_normal((n, Ci, 2 * th + 3, 2 * tw + 2)).astype(dtype)
    v, v2 = (np.empty((4, 4, Ci, n, th, tw), dtype) for _ in range(2))
    W.input_kernel(xp, v.reshape(16, Ci, n, th, tw))
    W.input_transform_numpy(xp, th, tw, v2)
    np.testing.assert_allclose(v, v2, rtol=tol, atol=tol)
    m = rng.standard_normal((4, 4, O, n, th, tw)).astype(dtype)
    y, y2 = (np.empty((n, O, 2 * th, 2 * tw), dtype) for _ in range(2))
    W.output_kernel(m.reshape(16, O, n, th, tw), y)
    W.output_transform_numpy(m, np.empty((2, 4, O, n, th, tw), dtype),
                             y2.reshape(n, O, th, 2, tw, 2).transpose(3, 5, 1, 0, 2, 4))
    np.testing.assert_allclose(y, y2, rtol=tol, atol=tol)
    dy = rng.standard_normal((n, O, 2 * th, 2 * tw)).astype(dtype)
    dm, dm2 = (np.empty((16, O, n, th, tw), dtype) for _ in range(2))
    W.output_adjoint_kernel(dy, dm)
    W.output_adjoint_numpy(dy, dm2)
    np.testing.assert_array_equal(dm, dm2)
    du = rng.standard_normal((16, O, Ci)).astype(dtype)
    dw = np.empty((O, Ci, 3, 3), dtype)
    W.weight_adjoint_kernel(du, dw, dtype(0.5))
    np.testing.assert_allclose(dw, W.weight_adjoint_numpy(du), rtol=tol, atol=tol * 4)


def test_transform_kernels_loop_in_plain_python():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((2, 2, 3, 3))
    u = np.empty((16, 2, 2))
    W.weight_kernel.py(w, u, 0.5)
    np.testing.assert_allclose(u, W.weight_transform_numpy(w), rtol=1e-14, atol=1e-14)
    xp = rng.standard_normal((1, 2, 6, 6))
    v, v2 = (np.empty((4, 4, 2, 1, 2, 2)) for _ in range(2))
    W.input_kernel.py(xp, v.reshape(16, 2, 1, 2, 2))
    W.input_transform_numpy(xp, 2, 2, v2)
    np.testing.assert_allclose(v, v2, rtol=1e-14, atol=1e-14)
    m = rng.standard_normal((4, 4, 2, 1, 2, 2))
    y, y2 = (np.empty((1, 2, 4, 4)) for _ in range(2))
    W.output_kernel.py(m.reshape(16, 2, 1, 2, 2), y)
    W.output_transform_numpy(m, np.empty((2, 4, 2, 1, 2, 2)),
                             y2.reshape(1, 2, 2, 2, 2, 2).transpose(3, 5, 1, 0, 2, 4))
    np.testing.assert_allclose(y, y2, rtol=1e-14, atol=1e-14)
