"""Convolution: F.conv1d/2d/3d and F.conv_transpose1d/2d/3d against torch in float64
(outputs, input/weight/bias gradients, second derivatives) over a grid of awkward settings;
gradcheck and gradgradcheck; the modules (state_dict from torch, every padding_mode,
output_size); init; repr; errors; float32; the worked numbers of seeds 001 and 002."""
import math

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")

import shendu
import shendu.nn as nn
import shendu.nn.functional as F
from torch_oracle import check, gradchecks, compare

# (id, input shape, weight shape, bias, kwargs)
CONV2D = [
    ("plain", (2, 3, 7, 6), (4, 3, 3, 2), True, {}),
    ("stride_gt_kernel", (2, 3, 9, 10), (4, 3, 2, 2), True, dict(stride=3)),
    ("stride_skips_tail", (2, 2, 8, 9), (3, 2, 3, 2), True, dict(stride=(3, 4))),
    ("dilation_padding", (2, 3, 8, 7), (4, 3, 3, 3), True, dict(dilation=(2, 3), padding=(2, 1))),
    ("groups2", (2, 4, 6, 7), (6, 2, 3, 3), True, dict(groups=2, padding=1)),
    ("groups3_all", (2, 6, 9, 8), (9, 2, 3, 2), True,
     dict(stride=(2, 3), padding=(1, 2), dilation=(2, 1), groups=3)),
    ("depthwise", (2, 4, 7, 6), (4, 1, 3, 3), True, dict(groups=4, padding=1)),
    ("depthwise_mult2_stride", (2, 3, 8, 7), (6, 1, 3, 2), True, dict(groups=3, stride=2)),
    ("depthwise_dilated", (2, 3, 9, 9), (3, 1, 3, 3), False, dict(groups=3, dilation=2, padding=2)),
    ("odd_sizes", (3, 5, 9, 11), (7, 5, 5, 3), True, dict(stride=(2, 1))),
    ("batch1", (1, 3, 5, 5), (2, 3, 3, 3), True, {}),
    ("single_channel", (2, 1, 6, 6), (1, 1, 3, 3), True, {}),
    ("pointwise_1x1", (2, 3, 5, 4), (5, 3, 1, 1), True, {}),
    ("pointwise_strided", (2, 3, 5, 4), (5, 3, 1, 1), False, dict(stride=2)),
    ("pointwise_many_positions", (2, 4, 9, 8), (6, 4, 1, 1), True, {}),
    ("pointwise_groups", (2, 4, 8, 9), (6, 2, 1, 1), True, dict(groups=2)),
    ("same_even_kernel", (2, 3, 7, 6), (4, 3, 4, 2), True, dict(padding="same")),
    ("same_dilated", (2, 3, 7, 6), (4, 3, 3, 2), True, dict(padding="same", dilation=(2, 3))),
    ("valid", (2, 3, 7, 6), (4, 3, 3, 3), True, dict(padding="valid")),
    ("padding_gt_kernel", (2, 2, 4, 3), (3, 2, 2, 2), True, dict(padding=3)),
    ("kernel_eq_input", (2, 3, 4, 5), (2, 3, 4, 5), True, {}),
    ("no_bias", (2, 3, 6, 6), (4, 3, 3, 3), False, dict(padding=1, stride=2)),
    ("many_out_channels", (2, 3, 6, 5), (40, 3, 3, 3), True, dict(padding=1, stride=(1, 2))),
]


def _args(bias, shapes):
    return shapes if bias else shapes[:2]


@pytest.mark.parametrize("name,xs,ws,bias,kw", CONV2D, ids=[c[0] for c in CONV2D])
def test_conv2d_parity(name, xs, ws, bias, kw):
    if bias:
        check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, **kw), xs, ws, (ws[0],))
    else:
        check(lambda L, x, w: L.nn.functional.conv2d(x, w, **kw), xs, ws)


def test_conv2d_unbatched_and_noncontiguous():
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, padding=1), (3, 5, 6), (4, 3, 3, 3),
          (4,))
    check(lambda L, x, w: L.nn.functional.conv2d(x.transpose(2, 3), w, stride=2), (2, 3, 7, 6),
          (4, 3, 3, 3))
    check(lambda L, x, w: L.nn.functional.conv2d(x, w.transpose(2, 3), groups=3), (2, 3, 7, 6),
          (3, 1, 2, 3))


def test_conv2d_positional_and_tuple_args():
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, (2, 1), (1, 0), (1, 2), 1),
          (2, 3, 7, 8), (4, 3, 2, 3), (4,))
    check(lambda L, x, w: L.nn.functional.conv2d(x, w, None, [2], [1], [2]), (1, 2, 8, 8),
          (2, 2, 3, 3))


def test_conv2d_empty_batch():
    x = shendu.zeros(0, 3, 5, 5, dtype=shendu.float64, requires_grad=True)
    w = shendu.randn(4, 3, 3, 3, dtype=shendu.float64, requires_grad=True)
    y = F.conv2d(x, w)
    assert y.shape == (0, 4, 3, 3)
    y.sum().backward()
    assert x.grad.shape == x.shape and float(w.grad.abs().sum()) == 0.0


CONV1D = [
    ("plain", (2, 3, 9), (4, 3, 3), dict()),
    ("stride_pad_dil", (2, 3, 11), (4, 3, 3), dict(stride=2, padding=2, dilation=2)),
    ("groups_same_even", (3, 4, 8), (6, 2, 4), dict(groups=2, padding="same")),
    ("depthwise", (2, 5, 10), (5, 1, 3), dict(groups=5, padding=1, stride=3)),
]


@pytest.mark.parametrize("name,xs,ws,kw", CONV1D, ids=[c[0] for c in CONV1D])
def test_conv1d_parity(name, xs, ws, kw):
    check(lambda L, x, w, b: L.nn.functional.conv1d(x, w, b, **kw), xs, ws, (ws[0],))


CONV3D = [
    ("plain", (2, 3, 5, 6, 4), (4, 3, 3, 2, 2), dict()),
    ("stride_pad_dil", (1, 2, 6, 7, 5), (3, 2, 2, 3, 2),
     dict(stride=(2, 1, 2), padding=(1, 2, 0), dilation=(1, 2, 2))),
    ("groups", (2, 4, 4, 5, 4), (4, 2, 3, 3, 1), dict(groups=2, padding="same")),
    ("depthwise", (2, 3, 4, 5, 4), (3, 1, 2, 2, 2), dict(groups=3)),
]


@pytest.mark.parametrize("name,xs,ws,kw", CONV3D, ids=[c[0] for c in CONV3D])
def test_conv3d_parity(name, xs, ws, kw):
    check(lambda L, x, w, b: L.nn.functional.conv3d(x, w, b, **kw), xs, ws, (ws[0],))


# (id, dims, input shape, weight shape (in, out/groups, *K), kwargs)
CONVT = [
    ("plain", 2, (2, 3, 4, 5), (3, 4, 3, 2), {}),
    ("stride_outpad", 2, (2, 3, 4, 5), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ("stride_outpad_mixed", 2, (2, 4, 5, 3), (4, 3, 3, 2),
     dict(stride=(2, 3), padding=(0, 2), output_padding=(1, 2), dilation=(1, 2))),
    ("outpad_below_dilation", 2, (2, 3, 4, 4), (3, 2, 3, 3),
     dict(stride=1, dilation=2, output_padding=1)),
    ("groups2", 2, (2, 4, 5, 6), (4, 3, 3, 2), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("depthwise", 2, (2, 4, 5, 5), (4, 1, 3, 3), dict(groups=4, stride=2, padding=1)),
    ("depthwise_mult", 2, (2, 3, 4, 5), (3, 2, 2, 3), dict(groups=3, stride=(1, 2))),
    ("padding_crops", 2, (1, 2, 6, 6), (2, 3, 3, 3), dict(padding=2)),
    ("stride_gt_kernel", 2, (2, 2, 3, 4), (2, 3, 2, 2), dict(stride=3, output_padding=2)),
    ("batch1_single_channel", 2, (1, 1, 4, 3), (1, 1, 3, 3), dict(stride=2)),
    ("pointwise", 2, (2, 4, 9, 8), (4, 6, 1, 1), dict(groups=2)),
    ("1d", 1, (2, 3, 7), (3, 4, 3), dict(stride=2, padding=1, output_padding=1, dilation=2)),
    ("1d_groups", 1, (2, 4, 6), (4, 1, 4), dict(groups=2, stride=3)),
    ("3d", 3, (2, 2, 3, 4, 3), (2, 3, 2, 3, 2), dict(stride=(2, 1, 2), padding=(0, 1, 1),
                                                      output_padding=(1, 0, 1))),
    ("3d_groups", 3, (1, 4, 3, 3, 3), (4, 1, 2, 2, 2), dict(groups=2, dilation=2)),
]


@pytest.mark.parametrize("name,nd,xs,ws,kw", CONVT, ids=[c[0] for c in CONVT])
def test_conv_transpose_parity(name, nd, xs, ws, kw):
    fn = f"conv_transpose{nd}d"
    c_out = ws[1] * kw.get("groups", 1)
    check(lambda L, x, w, b: getattr(L.nn.functional, fn)(x, w, b, **kw), xs, ws, (c_out,))
    check(lambda L, x, w: getattr(L.nn.functional, fn)(x, w, **kw), xs, ws)


def test_conv_transpose_unbatched():
    check(lambda L, x, w, b: L.nn.functional.conv_transpose2d(x, w, b, stride=2), (3, 4, 5),
          (3, 2, 3, 3), (2,))


def test_conv_transpose_is_adjoint_of_conv():
    """<conv(x, w), y> == <x, conv_transpose(y, w)> for every geometry (the defining identity)."""
    rng = np.random.default_rng(0)
    for s, p, d, g in [(1, 0, 1, 1), (2, 1, 1, 2), (3, 2, 2, 1), (2, 0, 3, 4)]:
        x = shendu.tensor(rng.standard_normal((2, 4, 11, 10)))
        w = shendu.tensor(rng.standard_normal((8, 4 // g, 3, 2)))
        y = F.conv2d(x, w, stride=s, padding=p, dilation=d, groups=g)
        v = shendu.tensor(rng.standard_normal(tuple(y.shape)))
        op = tuple(a - b for a, b in zip(x.shape[2:], F.conv_transpose2d(
            v, w, stride=s, padding=p, dilation=d, groups=g).shape[2:]))
        xt = F.conv_transpose2d(v, w, stride=s, padding=p, output_padding=op, dilation=d, groups=g)
        assert math.isclose(float((y * v).sum()), float((x * xt).sum()), rel_tol=1e-12)


# ------------------------------------------------------------------ second derivatives
def _double_backward_parity(fn, shapes, seed=0):
    """Compare d/d(inputs) of <grad(fn(inputs) . v, inputs), u> between torch and shendu."""
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, s) for s in shapes]
    res = {}
    for L in (torch, shendu):
        ins = [L.tensor(a, requires_grad=True) for a in arrays]
        y = fn(L, *ins)
        v = L.tensor(np.random.default_rng(seed + 1).uniform(-1, 1, tuple(y.shape)))
        grads = L.autograd.grad((y * v).sum(), ins, create_graph=True)
        total = 0
        for k, gr in enumerate(grads):
            u = L.tensor(np.random.default_rng(seed + 2 + k).uniform(-1, 1, tuple(gr.shape)))
            total = total + (gr * u).sum()
        sec = L.autograd.grad(total, ins, allow_unused=True)
        res[L.__name__] = (grads, sec)
    for a, b in zip(res["shendu"][0], res["torch"][0]):
        compare(a, b, what="first derivative")
    for a, b in zip(res["shendu"][1], res["torch"][1]):
        if b is None:
            assert a is None or float(a.abs().sum()) == 0.0
        else:
            compare(a, b, what="second derivative")


SECOND = [
    ("conv2d", lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, stride=2, padding=1,
                                                          dilation=(1, 2), groups=2),
     [(2, 4, 7, 8), (6, 2, 3, 2), (6,)]),
    ("conv2d_depthwise", lambda L, x, w: L.nn.functional.conv2d(x, w, padding=1, groups=3),
     [(2, 3, 5, 6), (6, 1, 3, 3)]),
    ("conv_transpose2d", lambda L, x, w, b: L.nn.functional.conv_transpose2d(
        x, w, b, stride=2, padding=1, output_padding=1, groups=2, dilation=(2, 1)),
     [(2, 4, 4, 5), (4, 3, 3, 2), (6,)]),
    ("conv1d_same", lambda L, x, w: L.nn.functional.conv1d(x, w, padding="same"),
     [(2, 3, 7), (2, 3, 4)]),
    ("conv3d", lambda L, x, w: L.nn.functional.conv3d(x, w, stride=2, padding=1),
     [(1, 2, 4, 5, 4), (3, 2, 2, 3, 2)]),
    ("conv_squared", lambda L, x, w: L.nn.functional.conv2d(x, w, padding=1) ** 2,
     [(1, 2, 4, 4), (2, 2, 3, 3)]),
]


@pytest.mark.parametrize("name,fn,shapes", SECOND, ids=[c[0] for c in SECOND])
def test_second_derivatives_match_torch(name, fn, shapes):
    _double_backward_parity(fn, shapes)


GRADCHECK = [
    ("conv2d_all", lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, stride=(2, 1),
                                                              padding=(1, 0), dilation=(1, 2),
                                                              groups=2),
     [(1, 4, 5, 6), (4, 2, 2, 2), (4,)]),
    ("conv2d_depthwise", lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, padding=1, groups=2),
     [(2, 2, 4, 3), (4, 1, 3, 2), (4,)]),
    ("conv2d_same_even", lambda L, x, w: L.nn.functional.conv2d(x, w, padding="same"),
     [(1, 2, 4, 4), (2, 2, 2, 2)]),
    ("conv_transpose2d_all", lambda L, x, w, b: L.nn.functional.conv_transpose2d(
        x, w, b, stride=2, padding=1, output_padding=1, groups=2, dilation=(1, 2)),
     [(1, 4, 3, 3), (4, 1, 2, 2), (2,)]),
    ("conv_transpose2d_depthwise", lambda L, x, w: L.nn.functional.conv_transpose2d(
        x, w, groups=2, stride=2), [(1, 2, 3, 3), (2, 1, 2, 2)]),
    ("conv1d", lambda L, x, w, b: L.nn.functional.conv1d(x, w, b, stride=2, padding=2,
                                                          dilation=2), [(2, 2, 7), (3, 2, 3), (3,)]),
    ("conv_transpose1d", lambda L, x, w: L.nn.functional.conv_transpose1d(
        x, w, stride=2, output_padding=1), [(2, 2, 3), (2, 2, 3)]),
    ("conv3d", lambda L, x, w: L.nn.functional.conv3d(x, w, padding=(1, 0, 0), stride=2),
     [(1, 2, 3, 3, 4), (2, 2, 2, 2, 2)]),
    ("conv_transpose3d", lambda L, x, w: L.nn.functional.conv_transpose3d(x, w, stride=2),
     [(1, 2, 2, 2, 2), (2, 1, 2, 1, 2)]),
]


@pytest.mark.parametrize("name,fn,shapes", GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_gradcheck_gradgradcheck(name, fn, shapes):
    gradchecks(fn, *shapes)


def test_grad_fn_name():
    x = shendu.randn(1, 2, 4, 4, requires_grad=True)
    w = shendu.randn(3, 2, 3, 3)
    assert F.conv2d(x, w).grad_fn.name() == "ConvolutionBackward"


# ------------------------------------------------------------------ modules
def _module_parity(make, xs, seed=0, call=lambda m, x: m(x)):
    """Build the module on both sides, copy torch's parameters in, compare output and the
    gradients of the input and of every parameter (float64)."""
    torch.manual_seed(seed)
    tm = make(torch.nn).double()
    sm = make(nn).double()
    sm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(seed).uniform(-1, 1, xs)
    tx = torch.tensor(x, requires_grad=True)
    sx = shendu.tensor(x, requires_grad=True)
    ty, sy = call(tm, tx), call(sm, sx)
    compare(sy, ty)
    w = np.random.default_rng(seed + 1).uniform(0.5, 1.5, tuple(ty.shape))
    (ty * torch.tensor(w)).sum().backward()
    (sy * shendu.tensor(w)).sum().backward()
    compare(sx.grad, tx.grad, what="input grad")
    for (name, tp), (_, sp) in zip(tm.named_parameters(), sm.named_parameters()):
        compare(sp.grad, tp.grad, what=f"{name} grad")
    return sm, tm


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_module_padding_modes(mode):
    _module_parity(lambda m: m.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(2, 1),
                                      padding_mode=mode), (2, 3, 7, 6))
    _module_parity(lambda m: m.Conv2d(3, 4, (4, 3), padding="same", dilation=(1, 2),
                                      padding_mode=mode, bias=False), (2, 3, 7, 8))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv1d_conv3d_module_padding_modes(mode):
    _module_parity(lambda m: m.Conv1d(2, 3, 3, padding=2, padding_mode=mode), (2, 2, 7))
    _module_parity(lambda m: m.Conv3d(2, 3, 2, padding=1, padding_mode=mode), (1, 2, 3, 4, 3))


def test_conv_modules_groups_and_depthwise():
    _module_parity(lambda m: m.Conv2d(4, 6, 3, groups=2, stride=2, padding=1), (2, 4, 7, 7))
    _module_parity(lambda m: m.Conv2d(4, 4, 3, groups=4, padding=1), (2, 4, 6, 5))
    _module_parity(lambda m: m.Conv2d(4, 8, 1), (2, 4, 6, 5))
    _module_parity(lambda m: m.Conv2d(3, 5, 3, padding=1), (3, 6, 5))        # unbatched


def test_conv_transpose_modules():
    _module_parity(lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                               groups=2), (2, 4, 4, 5))
    _module_parity(lambda m: m.ConvTranspose1d(3, 2, 4, stride=3, dilation=2), (2, 3, 5))
    _module_parity(lambda m: m.ConvTranspose3d(2, 2, 2, stride=2, bias=False), (1, 2, 2, 3, 2))
    for size in [(9, 10), (10, 9), (2, 4, 10, 10)]:
        _module_parity(lambda m: m.ConvTranspose2d(4, 3, 3, stride=2, padding=1), (2, 4, 5, 5),
                       call=lambda mod, x: mod(x, output_size=size))


def test_conv_transpose_output_size_errors():
    m = nn.ConvTranspose2d(2, 2, 3, stride=2)
    with pytest.raises(ValueError, match="valid sizes range from"):
        m(shendu.randn(1, 2, 4, 4), output_size=(20, 20))
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        m(shendu.randn(1, 2, 4, 4), output_size=(9,))
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")


def test_state_dict_keys_layouts_and_repr_match_torch():
    cases = [
        (lambda m: m.Conv2d(3, 16, 3, padding=1), "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"),
        (lambda m: m.Conv2d(4, 8, (3, 2), stride=2, dilation=2, groups=2, bias=False,
                            padding_mode="circular"), None),
        (lambda m: m.Conv2d(3, 6, (3, 2), padding="same", padding_mode="reflect", dilation=(1, 2)),
         None),
        (lambda m: m.Conv1d(2, 4, 5, stride=2, padding="valid"), None),
        (lambda m: m.Conv3d(2, 4, (1, 2, 3), stride=(1, 2, 1)), None),
        (lambda m: m.ConvTranspose2d(4, 8, 3, stride=2, output_padding=1, groups=2), None),
        (lambda m: m.ConvTranspose1d(4, 6, 3, dilation=2, bias=False), None),
        (lambda m: m.ConvTranspose3d(2, 4, 2), None),
    ]
    for make, text in cases:
        tm, sm = make(torch.nn), make(nn)
        assert repr(sm) == repr(tm)
        if text:
            assert repr(sm) == text
        td, sd = tm.state_dict(), sm.state_dict()
        assert list(sd) == list(td)
        for k in td:
            assert tuple(sd[k].shape) == tuple(td[k].shape), k
        for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                     "dilation", "transposed", "output_padding", "groups", "padding_mode",
                     "_reversed_padding_repeated_twice"):
            assert getattr(sm, attr) == getattr(tm, attr), attr
        assert sm.weight.dtype == shendu.float32


def test_init_bounds_like_torch():
    """kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same."""
    shendu.manual_seed(0)
    for m, fan_in in [(nn.Conv2d(16, 32, 3), 16 * 9), (nn.ConvTranspose2d(16, 8, 3, groups=2), 4 * 9),
                      (nn.Conv1d(4, 6, 5, groups=2), 2 * 5)]:
        bound = 1 / math.sqrt(fan_in)
        w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
        assert np.abs(b).max() <= bound
        # uniform on [-bound, bound]: variance bound^2 / 3
        assert abs(w.var() / (bound ** 2 / 3) - 1) < 0.15


# ------------------------------------------------------------------ bad input
def test_wrong_channel_count_names_layer_expected_and_got():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 4, 3))
    with pytest.raises(nn.LayerInputError) as e:
        model(shendu.randn(2, 5, 8, 8))
    msg = str(e.value)
    assert "0 (Conv2d 3→8, kernel 3×3)" in msg and "(2, 5, 8, 8)" in msg
    assert "5 channels" in msg and "expected 3 channels" in msg
    with pytest.raises(nn.LayerInputError, match="expected a 4-D"):
        nn.Conv2d(3, 8, 3)(shendu.randn(3, 8))
    with pytest.raises(nn.LayerInputError, match="expected 4 channels"):
        nn.ConvTranspose2d(4, 2, 3)(shendu.randn(1, 3, 5, 5))


def test_kernel_larger_than_padded_input_explains_arithmetic():
    with pytest.raises(RuntimeError) as e:
        nn.Conv2d(3, 4, 5, padding=1)(shendu.randn(1, 3, 2, 8))
    msg = str(e.value)
    assert "Kernel size can't be greater than actual input size" in msg
    assert "(2 + 1 + 1 - 1*4 - 1) // 1 + 1 = 0" in msg and "Conv2d" in msg
    with pytest.raises(RuntimeError, match="dilation"):
        F.conv1d(shendu.randn(1, 1, 5), shendu.randn(1, 1, 3), dilation=3)


def test_functional_errors_match_torch_kind():
    x = shendu.randn(2, 4, 5, 5)
    cases = [
        (lambda: F.conv2d(x, shendu.randn(6, 3, 3, 3)), "expected input\\[2, 4, 5, 5\\] to have 3 channels, but got 4"),
        (lambda: F.conv2d(x, shendu.randn(5, 2, 3, 3), groups=2), "divisible by 2"),
        (lambda: F.conv2d(shendu.randn(5, 5), shendu.randn(1, 1, 3, 3)), "Expected 3D \\(unbatched\\) or 4D"),
        (lambda: F.conv2d(x, shendu.randn(2, 4, 3, 3), stride=2, padding="same"), "strided convolutions"),
        (lambda: F.conv2d(x, shendu.randn(2, 4, 3, 3), padding="full"), "Invalid padding string"),
        (lambda: F.conv2d(x, shendu.randn(2, 4, 3, 3), stride=0), "non-positive stride"),
        (lambda: F.conv2d(x, shendu.randn(2, 4, 3, 3), padding=-1), "negative padding"),
        (lambda: F.conv2d(x, shendu.randn(2, 4, 3, 3), bias=shendu.randn(3)), "bias"),
        (lambda: F.conv2d(x, shendu.randn(2, 4, 3, 3), stride=(1, 1, 1)), "list of 2 values"),
        (lambda: F.conv2d(x, shendu.randn(2, 4, 3, 3, dtype=shendu.float64)), "should be the same"),
        (lambda: F.conv_transpose2d(x, shendu.randn(4, 2, 3, 3), stride=2, output_padding=2),
         "output padding must be smaller"),
        (lambda: F.conv_transpose2d(shendu.randn(1, 4, 1, 1), shendu.randn(4, 2, 3, 3), padding=3),
         "not positive"),
    ]
    for fn, pat in cases:
        with pytest.raises(RuntimeError, match=pat):
            fn()


def test_module_init_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv2d(4, 6, 3, groups=0)
    with pytest.raises(ValueError, match="strided convolutions"):
        nn.Conv2d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 6, 3, padding_mode="mirror")


# ------------------------------------------------------------------ float32
def test_float32_smoke():
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8)).astype(np.float32)
    for make in [lambda m: m.Conv2d(3, 6, 3, stride=2, padding=1, groups=3),
                 lambda m: m.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1)]:
        torch.manual_seed(0)
        tm, sm = make(torch.nn), make(nn)
        sm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        tx, sx = torch.tensor(x, requires_grad=True), shendu.tensor(x, requires_grad=True)
        ty, sy = tm(tx), sm(sx)
        assert sy.dtype == shendu.float32
        np.testing.assert_allclose(sy.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
        ty.square().sum().backward()
        sy.square().sum().backward()
        assert sx.grad.dtype == shendu.float32 and sm.weight.grad.dtype == shendu.float32
        np.testing.assert_allclose(sx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(sm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-4,
                                   atol=1e-3)


def test_large_batch_is_chunked_consistently(monkeypatch):
    """Chunking the batch (to bound the column matrix) must not change the result."""
    from shendu.backend import conv as C
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, padding=1, stride=2), (5, 3, 6, 6),
          (4, 3, 3, 3), (4,))
    monkeypatch.setattr(C, "CHUNK_ELEMS", 200)           # forces chunks of 1-2 images
    monkeypatch.setattr(C, "MIN_COLUMNS", 1)
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, padding=1, stride=2), (5, 3, 6, 6),
          (4, 3, 3, 3), (4,))
    check(lambda L, x, w: L.nn.functional.conv_transpose2d(x, w, stride=2, groups=2), (5, 4, 3, 3),
          (4, 1, 3, 3))
    monkeypatch.setattr(C, "KEEP_COLS_ELEMS", 0)        # weight gradient rebuilds the columns
    from shendu.backend import memory as M
    monkeypatch.setattr(M, "SCRATCH_MAX_BYTES", 0)      # and scratch is never held
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, padding=1, stride=2), (5, 3, 6, 6),
          (4, 3, 3, 3), (4,))
    check(lambda L, x, w: L.nn.functional.conv2d(x, w, padding=1, groups=3), (2, 3, 6, 6),
          (3, 1, 3, 3))


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False), (False, False, True),
                                   (True, False, True)])
def test_partial_requires_grad(needs):
    """Only the gradients asked for are computed (and match torch)."""
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, padding=1, stride=(1, 2)),
          (2, 3, 6, 7), (4, 3, 3, 2), (4,), requires_grad=list(needs))
    check(lambda L, x, w, b: L.nn.functional.conv_transpose2d(x, w, b, stride=2),
          (2, 3, 4, 3), (3, 4, 3, 2), (4,), requires_grad=list(needs))


# ------------------------------------------------------------------ the seeds' worked numbers
SEED_IMAGE = [[1, 1, 1, 0, 0],
              [0, 1, 1, 1, 0],
              [0, 0, 1, 1, 1],
              [0, 0, 1, 1, 0],
              [0, 1, 1, 0, 0]]
SEED_FILTER = [[1, 0, 1],
               [0, 1, 0],
               [1, 0, 1]]


def test_seed002_5x5_image_3x3_filter():
    """Seed 002 §3.2.3 (from 零基础入门深度学习(4)): a 5×5 image, a 3×3 filter, bias 0, ReLU;
    a_{0,0} = 4; stride 1 gives a 3×3 feature map, stride 2 a 2×2 one, by
    W2 = (W1 - F + 2P)/S + 1."""
    x = shendu.tensor(SEED_IMAGE, dtype=shendu.float32).reshape(1, 1, 5, 5)
    conv = nn.Conv2d(1, 1, 3)
    with shendu.no_grad():
        conv.weight.copy_(shendu.tensor(SEED_FILTER, dtype=shendu.float32).reshape(1, 1, 3, 3))
        conv.bias.zero_()
    a = conv(x).relu()
    assert float(a[0, 0, 0, 0]) == 4.0
    assert a.reshape(3, 3).tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    conv.stride = (2, 2)
    a2 = conv(x).relu()
    assert a2.reshape(2, 2).tolist() == [[4, 4], [2, 4]]
    for w1, f, p, s in [(5, 3, 0, 1), (5, 3, 0, 2), (7, 3, 1, 2), (32, 5, 2, 1)]:
        out = F.conv2d(shendu.zeros(1, 1, w1, w1), shendu.zeros(1, 1, f, f), stride=s, padding=p)
        assert out.shape[-1] == (w1 - f + 2 * p) // s + 1


def test_seed002_two_3x3x3_filters_56_parameters():
    """Seed 002 §3.2.3: two 3×3×3 filters, stride 2, zero padding 1 give a 3×3×2 output from
    the figure's 7×7×3 volume, which already includes the padding ring (a 5×5×3 image:
    (5 - 3 + 2)/2 + 1 = 3); (3*3*3 + 1) * 2 = 56 parameters."""
    conv = nn.Conv2d(3, 2, 3, stride=2, padding=1)
    assert sum(p.numel() for p in conv.parameters()) == 56
    assert conv(shendu.randn(1, 3, 5, 5)).shape == (1, 2, 3, 3)
    assert F.conv2d(shendu.randn(1, 3, 7, 7), conv.weight, stride=2).shape == (1, 2, 3, 3)


def test_seed001_60_parameters():
    """Seed 001 (综合计算): (3*3 + 1) * 2 * 3 = 60 parameters, 54 weights and 6 biases: six
    3×3 kernels, each with its own bias, i.e. Conv2d(1, 6, 3). (A Conv2d(2, 3, 3) also has
    the 54 weights, but torch and shendu give it one bias per output channel: 57.)"""
    conv = nn.Conv2d(1, 6, 3)
    assert conv.weight.numel() == 54 and conv.bias.numel() == 6
    assert sum(p.numel() for p in conv.parameters()) == 60
    assert nn.Conv2d(2, 3, 3).weight.numel() == 54
    assert sum(p.numel() for p in nn.Conv2d(2, 3, 3).parameters()) == 57


def test_threaded_kernels_match(monkeypatch):
    """The copies and multiply-adds split over channels on worker threads give the same
    numbers (forced on for small inputs here; 3 threads so the split is uneven)."""
    from shendu.backend import conv as C, threads as T
    monkeypatch.setattr(T, "CHANNEL_SPLIT_MIN", 0)
    monkeypatch.setattr(T, "CHANNEL_THREADS", 3)
    monkeypatch.setattr(C, "BLOCK_ELEMS", 16)            # several cache blocks too
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, padding=1, stride=2), (3, 5, 7, 6),
          (4, 5, 3, 3), (4,))
    check(lambda L, x, w: L.nn.functional.conv2d(x, w, padding=(2, 1), groups=5), (2, 5, 7, 6),
          (10, 1, 3, 3))
    check(lambda L, x, w: L.nn.functional.conv_transpose2d(x, w, stride=2, padding=1), (3, 4, 4, 5),
          (4, 5, 3, 3))
    check(lambda L, x, w: L.nn.functional.conv2d(x, w), (2, 4, 9, 9), (6, 4, 5, 5))


# the input gradient (transposed convolution) has three routes; each against torch
ROUTES = [
    # conv{nd}d input, weight, kwargs, expected route of the input gradient
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=1), "full"),
    ((2, 3, 12, 20), (4, 3, 3, 3), dict(dilation=(1, 2)), "wide"),
    ((1, 2, 6, 7, 8), (3, 2, 2, 2, 2), {}, "wide"),
    ((2, 3, 9, 10), (4, 3, 3, 3), dict(stride=2, padding=1), "col2im"),
    ((2, 3, 9, 10), (4, 3, 5, 5), dict(dilation=2), "col2im"),
]


@pytest.mark.parametrize("xs,ws,kw,route", ROUTES, ids=[r[3] + str(i) for i, r in enumerate(ROUTES)])
def test_input_gradient_routes(xs, ws, kw, route):
    from shendu.backend import conv as C
    nd = len(xs) - 2
    x = shendu.zeros(*xs)
    w = shendu.zeros(*ws)
    y = getattr(F, f"conv{nd}d")(x, w, **kw)
    n = lambda v: (v,) * nd if isinstance(v, int) else v  # noqa: E731
    p = n(kw.get("padding", 0))
    g = C.Geometry(tuple(xs[2:]), tuple(y.shape[2:]), tuple(ws[2:]), n(kw.get("stride", 1)),
                   n(kw.get("dilation", 1)), p)
    got = ("full" if C._as_full_correlation(g) else "wide" if C._wide_rows(g) else "col2im")
    assert got == route
    check(lambda L, x, w: getattr(L.nn.functional, f"conv{nd}d")(x, w, **kw), xs, ws)


def test_threads_after_fork(monkeypatch):
    """A forked child (a DataLoader worker) must not wait on the parent's dead pool threads."""
    import multiprocessing as mp
    from shendu.backend import threads as T
    monkeypatch.setattr(T, "CHANNEL_SPLIT_MIN", 0)
    monkeypatch.setattr(T, "CHANNEL_THREADS", 2)
    x, w = shendu.randn(2, 4, 6, 6), shendu.randn(4, 1, 3, 3)
    expected = F.conv2d(x, w, padding=1, groups=4).numpy()     # parent's pool now exists
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=lambda: q.put(F.conv2d(x, w, padding=1, groups=4).numpy()))
    p.start()
    try:
        got = q.get(timeout=60)
    finally:
        p.join(5)
        if p.is_alive():
            p.kill()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("xs,ws,kw", [
    ((5, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),          # LeNet's first layer
    ((3, 2, 24, 25), (4, 2, 3, 3), dict(padding=1)),
    ((4, 1, 30, 30), (3, 1, 3, 3), dict(stride=1, dilation=2)),
    ((3, 4, 17, 16), (6, 2, 3, 3), dict(padding=1, groups=2)),    # forward per image, grouped
    ((2, 4, 20, 22), (4, 2, 3, 2), dict(stride=(1, 2), groups=2)),
    ((3, 3, 9, 8), (5, 3, 2, 2), dict(padding=1)),                # 90 positions, small weight
])
def test_small_weight_gradient_summed_per_image(xs, ws, kw):
    # many positions per image: the forward is one product per image straight into the
    # output (conv.PER_IMAGE_Y_MAX_W); few outputs, few weights, >= 512 positions: the weight
    # gradient is a sum of per-image products (conv.PER_IMAGE_MAX_W)
    check(lambda L, x, w: L.nn.functional.conv2d(x, w, **kw), xs, ws)
