"""Upsampling: F.interpolate in every mode against torch in float64 (forward and gradient),
size or scale_factor, align_corners both ways, recompute_scale_factor, antialias; the
modules; pixel (un)shuffle; gradcheck / gradgradcheck; float32 smoke tests; bad input.

Where torch's own backward is not the adjoint of its forward (see
test_gradient_is_the_adjoint_where_torch_backward_disagrees) the gradient is checked
against central differences instead."""
import numpy as np
import pytest
import torch

import shendu
import shendu.nn.functional as SF
from shendu._ops.upsampling import nearest_index
from torch_oracle import check, gradchecks


def F(L):
    return torch.nn.functional if L is torch else SF


MODE_DIMS = [("nearest", 1), ("nearest", 2), ("nearest", 3), ("nearest-exact", 1),
             ("nearest-exact", 2), ("nearest-exact", 3), ("linear", 1), ("bilinear", 2),
             ("trilinear", 3), ("bicubic", 2), ("area", 1), ("area", 2), ("area", 3)]


def _torch_backward_is_adjoint(mode, n, in_size, out_size, scales):
    """torch's nearest 1-d/3-d backward copies/halves when out = in or 2·in although its
    forward used the scale factor, and its bicubic backward copies when out = in."""
    if scales is None:
        return True
    for L, O in zip(in_size, out_size):
        if mode == "nearest" and n != 2 and O in (L, 2 * L):
            return False
        if mode == "bicubic" and O == L:
            return False
    return True


def _cases(seed=0, count=14):
    rng = np.random.default_rng(seed)
    out = []
    for mode, n in MODE_DIMS:
        k = 0
        while k < count // (2 if n == 3 else 1):
            ins = tuple(int(v) for v in rng.integers(1, 8 if n < 3 else 5, n))
            kw = {}
            if rng.random() < 0.5:
                size = tuple(int(v) for v in rng.integers(1, 12 if n < 3 else 7, n))
                kw["size"] = size if rng.random() < 0.8 else size[0]
            else:
                sf = tuple(float(np.round(v, 3)) for v in rng.uniform(0.4, 3.0, n))
                if any(int(i * s) < 1 for i, s in zip(ins, sf)):
                    continue
                kw["scale_factor"] = sf if rng.random() < 0.8 else sf[0]
                if rng.random() < 0.3:
                    kw["recompute_scale_factor"] = True
            if kw.get("scale_factor") and not isinstance(kw["scale_factor"], tuple):
                if any(int(i * kw["scale_factor"]) < 1 for i in ins):
                    continue
            if mode in ("linear", "bilinear", "trilinear", "bicubic"):
                kw["align_corners"] = bool(rng.random() < 0.5)
            out.append(pytest.param(mode, n, ins, kw, id=f"{mode}-{n}d-{k}"))
            k += 1
    return out


def _sizes(ins, kw):
    n = len(ins)
    if "size" in kw:
        s = kw["size"]
        return (s,) * n if isinstance(s, int) else s, None
    sf = kw["scale_factor"]
    sf = (sf,) * n if not isinstance(sf, tuple) else sf
    out = tuple(int(np.floor(i * s)) for i, s in zip(ins, sf))
    return out, None if kw.get("recompute_scale_factor") else sf


@pytest.mark.parametrize("mode,n,ins,kw", _cases())
def test_interpolate_matches_torch(mode, n, ins, kw):
    out, scales = _sizes(ins, kw)
    fn = lambda L, x: F(L).interpolate(x, mode=mode, **kw)  # noqa: E731
    if _torch_backward_is_adjoint(mode, n, ins, out, scales):
        check(fn, (2, 3) + ins)
    else:
        check(fn, (2, 3) + ins, grad=False)
        gradchecks(fn, (1, 1) + ins, second_order=False)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("ins,out", [((9, 7), (4, 3)), ((5, 6), (11, 8)), ((12, 16), (5, 7)),
                                     ((20, 3), (6, 3)), ((4, 4), (4, 4))])
def test_antialias_matches_torch(mode, align_corners, ins, out):
    check(lambda L, x: F(L).interpolate(x, size=out, mode=mode, align_corners=align_corners,
                                        antialias=True), (2, 2) + ins)


@pytest.mark.parametrize("kw", [dict(size=(4, 3)), dict(scale_factor=0.45),
                                dict(size=(13, 11))])
def test_lanczos_matches_torch(kw):
    check(lambda L, x: F(L).interpolate(x, mode="lanczos", antialias=True, **kw), (2, 2, 9, 7))


def test_gradient_is_the_adjoint_where_torch_backward_disagrees():
    """torch's 1-d nearest with scale_factor 2.078 on 8 samples reads floor(o / 2.078) in
    forward but routes gradients by o >> 1 in backward. shendu keeps torch's forward and
    gives the true gradient of it (here, checked by central differences)."""
    idx = nearest_index(8, 16, 2.078, exact=False)
    assert not np.array_equal(idx, np.arange(16) >> 1)
    check(lambda L, x: F(L).interpolate(x, scale_factor=2.078), (1, 2, 8), grad=False)
    x = shendu.randn(1, 2, 8, dtype=shendu.float64, requires_grad=True)
    g = shendu.randn(1, 2, 16, dtype=shendu.float64)
    (SF.interpolate(x, scale_factor=2.078) * g).sum().backward()
    expect = np.zeros((1, 2, 8))
    np.add.at(expect, (slice(None), slice(None), idx), g.numpy())
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-14)


def test_nearest_integer_scale_is_repetition():
    x = shendu.arange(6, dtype=shendu.float64).reshape(1, 1, 2, 3)
    y = SF.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(y.numpy()[0, 0], np.repeat(np.repeat(x.numpy()[0, 0], 2, 0),
                                                              2, 1))


def test_bilinear_align_corners_keeps_the_corners():
    x = shendu.randn(1, 2, 3, 4, dtype=shendu.float64)
    y = SF.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True).numpy()
    for i, j in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        np.testing.assert_allclose(y[..., i, j], x.numpy()[..., i, j], rtol=1e-14)


@pytest.mark.parametrize("fn,shape", [
    (lambda L, x: F(L).interpolate(x, size=(5, 4), mode="bilinear"), (1, 2, 3, 3)),
    (lambda L, x: F(L).interpolate(x, scale_factor=1.7, mode="bicubic", align_corners=True),
     (1, 1, 3, 4)),
    (lambda L, x: F(L).interpolate(x, size=7, mode="nearest-exact"), (1, 2, 4)),
    (lambda L, x: F(L).interpolate(x, size=(3, 2, 4), mode="trilinear"), (1, 1, 2, 3, 2)),
    (lambda L, x: F(L).interpolate(x, size=(2, 3), mode="area"), (1, 2, 5, 4)),
    (lambda L, x: F(L).interpolate(x, size=(2, 3), mode="bilinear", antialias=True),
     (1, 1, 5, 7)),
    (lambda L, x: F(L).pixel_shuffle(x, 2), (1, 8, 2, 3)),
    (lambda L, x: F(L).pixel_unshuffle(x, 2), (1, 2, 4, 2)),
])
def test_gradcheck_and_gradgradcheck(fn, shape):
    gradchecks(fn, shape)


@pytest.mark.parametrize("fn,shape", [
    (lambda L, x: F(L).interpolate(x, scale_factor=2), (4, 8, 16, 16)),
    (lambda L, x: F(L).interpolate(x, scale_factor=2, mode="bilinear"), (4, 8, 16, 16)),
    (lambda L, x: F(L).interpolate(x, size=(7, 9), mode="bilinear", align_corners=True),
     (2, 3, 5, 6)),
    (lambda L, x: F(L).interpolate(x, size=(7, 9), mode="bicubic"), (2, 3, 5, 6)),
    (lambda L, x: F(L).interpolate(x, size=(3, 4), mode="bilinear", antialias=True),
     (2, 3, 9, 11)),
    (lambda L, x: F(L).pixel_shuffle(x, 3), (2, 18, 4, 5)),
])
def test_float32_smoke(fn, shape):
    out = check(fn, shape, dtype=np.float32, rtol=1e-5, atol=2e-6)
    assert out[0].dtype == shendu.float32


@pytest.mark.parametrize("name,kw,shape", [
    ("Upsample", dict(scale_factor=2), (2, 3, 4, 5)),
    ("Upsample", dict(size=(3, 7), mode="bilinear"), (2, 3, 4, 5)),
    ("Upsample", dict(scale_factor=(1.5, 2.0), mode="bicubic", align_corners=True), (1, 2, 3, 4)),
    ("Upsample", dict(size=9, mode="linear"), (2, 3, 4)),
    ("Upsample", dict(scale_factor=1.5, mode="trilinear"), (1, 2, 3, 2, 4)),
    ("Upsample", dict(scale_factor=0.5, mode="area"), (1, 2, 6, 4)),
    ("UpsamplingNearest2d", dict(scale_factor=3), (2, 1, 3, 2)),
    ("UpsamplingBilinear2d", dict(size=(5, 6)), (2, 2, 3, 3)),
    ("PixelShuffle", dict(upscale_factor=2), (2, 3, 8, 3, 4)),
    ("PixelUnshuffle", dict(downscale_factor=3), (3, 6, 9)),
    ("ChannelShuffle", dict(groups=3), (2, 6, 3, 2)),
    ("ChannelShuffle", dict(groups=2), (2, 4, 3)),
])
def test_modules_match_torch(name, kw, shape):
    assert repr(getattr(shendu.nn, name)(**kw)) == repr(getattr(torch.nn, name)(**kw))
    check(lambda L, x: getattr(L.nn, name)(**kw)(x), shape)


def test_pixel_shuffle_round_trip():
    x = shendu.randn(2, 3, 12, 4, 6)
    np.testing.assert_array_equal(SF.pixel_shuffle(SF.pixel_unshuffle(x, 2), 2).numpy(),
                                  x.numpy())


@pytest.mark.parametrize("call,exc,text", [
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4), size=3, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4), size=(3, 3, 3)), ValueError,
     "Input and output must have the same number of spatial dimensions"),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4), size=3, scale_factor=2), ValueError,
     "only one of size or scale_factor should be defined"),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4)), ValueError,
     "either size or scale_factor should be defined"),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4), size=3, recompute_scale_factor=True),
     ValueError, "recompute_scale_factor is not meaningful with an explicit size."),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4), size=3, mode="linear", antialias=True),
     ValueError, "Anti-alias option is restricted"),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4), size=3, mode="linear"),
     NotImplementedError, "Got 4D input, but linear mode needs 3D input"),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4), size=3, mode="foo"), NotImplementedError,
     "(got foo)"),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4), scale_factor=0.1), RuntimeError,
     "Input and output sizes should be greater than 0, but got input (H: 4, W: 4) output "
     "(H: 0, W: 0)"),
    (lambda L: F(L).interpolate(L.randn(2, 4, 4, 4), size=3, mode="lanczos"), ValueError,
     "Lanczos mode requires antialias=True"),
    (lambda L: F(L).pixel_shuffle(L.randn(2, 5, 3, 3), 2), RuntimeError,
     "input.size(-3)=5 is not divisible by 4"),
    (lambda L: F(L).pixel_shuffle(L.randn(5, 3), 2), RuntimeError,
     "pixel_shuffle expects input to have at least 3 dimensions"),
    (lambda L: F(L).pixel_unshuffle(L.randn(2, 4, 5, 4), 2), RuntimeError,
     "input.size(-2)=5 is not divisible by 2"),
    (lambda L: F(L).channel_shuffle(L.randn(2, 5, 3), 2), RuntimeError,
     "Number of channels must be divisible by groups. Got 5 channels and 2 groups."),
    (lambda L: F(L).channel_shuffle(L.randn(2, 4), 2), RuntimeError,
     "channel_shuffle expects input with > 2 dims"),
    (lambda L: F(L).channel_shuffle(L.randn(2, 4, 3), 0), RuntimeError,
     "Number of groups to divide channels in must be positive"),
])
def test_bad_input_raises_torchs_error(call, exc, text):
    for L in (torch, shendu):
        with pytest.raises(exc) as info:
            call(L)
        assert text in str(info.value), (L.__name__, str(info.value))
