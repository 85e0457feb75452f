"""LocallyConnected2d (seed 002 §3.15, local-conv): torch has no equivalent, so it is tested
against its defining formula evaluated by a naive loop, and by gradcheck/gradgradcheck."""
import numpy as np
import pytest

import shendu
import shendu.nn as nn
import shendu.nn.functional as F
from torch_oracle import compare


def naive(x, w, b, stride, padding, dilation):
    """y[n,o,i,j] = b[o,i,j] + sum_{c,a,b'} w[i,j,o,c,a,b'] xpad[n,c,i*s+a*d, j*s+b'*d]."""
    n, c, h, wd = x.shape
    oh, ow, o, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * padding[0], wd + 2 * padding[1]))
    xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd] = x
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for bb in range(kw):
                    patch = xp[:, :, i * stride[0] + a * dilation[0], j * stride[1] + bb * dilation[1]]
                    y[:, :, i, j] += patch @ w[i, j, :, :, a, bb].T
            if b is not None:
                y[:, :, i, j] += b[:, i, j]
    return y


CASES = [
    (dict(in_channels=3, out_channels=4, input_size=(6, 5), kernel_size=(3, 2)), (2, 3, 6, 5)),
    (dict(in_channels=2, out_channels=3, input_size=7, kernel_size=3, stride=2, padding=1,
          dilation=(1, 2)), (3, 2, 7, 7)),
    (dict(in_channels=1, out_channels=2, input_size=(4, 4), kernel_size=2, bias=False), (1, 1, 4, 4)),
]


@pytest.mark.parametrize("kw,xs", CASES)
def test_matches_naive_formula(kw, xs):
    shendu.manual_seed(0)
    m = nn.LocallyConnected2d(**kw).double()
    x = np.random.default_rng(0).standard_normal(xs)
    y = m(shendu.tensor(x))
    b = m.bias.detach().numpy() if m.bias is not None else None
    ref = naive(x, m.weight.detach().numpy(), b, m.stride, m.padding, m.dilation)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert y.shape == (xs[0], m.out_channels) + m.output_size


def test_gradcheck_gradgradcheck():
    shendu.manual_seed(0)
    m = nn.LocallyConnected2d(2, 2, (4, 3), (2, 2), stride=(1, 2), padding=(1, 0)).double()
    x = shendu.randn(2, 2, 4, 3, dtype=shendu.float64, requires_grad=True)
    params = [m.weight, m.bias]

    def f(x, w, b):
        m.weight, m.bias = w, b           # same module, inputs supplied by gradcheck
        return m(x)

    ins = [x, shendu.nn.Parameter(params[0].detach().clone()), shendu.nn.Parameter(params[1].detach().clone())]
    assert shendu.autograd.gradcheck(f, ins)
    assert shendu.autograd.gradgradcheck(f, ins)


def test_unshared_weights_differ_from_conv_and_equal_it_when_tied():
    """With every position's filter bank set to one Conv2d weight, it is that convolution."""
    conv = nn.Conv2d(3, 4, 3, padding=1).double()
    m = nn.LocallyConnected2d(3, 4, (5, 6), 3, padding=1).double()
    with shendu.no_grad():
        m.weight.copy_(conv.weight.reshape(1, 1, 4, 3, 3, 3).expand(5, 6, 4, 3, 3, 3))
        m.bias.copy_(conv.bias.reshape(4, 1, 1).expand(4, 5, 6))
    x = shendu.randn(2, 3, 5, 6, dtype=shendu.float64)
    compare(m(x), conv(x))


def test_parameters_state_dict_repr_unbatched():
    m = nn.LocallyConnected2d(3, 8, (6, 6), 3)
    assert list(m.state_dict()) == ["weight", "bias"]
    assert m.weight.shape == (4, 4, 8, 3, 3, 3) and m.bias.shape == (8, 4, 4)
    # seed 002 §3.15: unshared filters multiply the parameters by the number of positions
    conv = nn.Conv2d(3, 8, 3)
    assert m.weight.numel() == 16 * conv.weight.numel()
    assert repr(m) == "LocallyConnected2d(3, 8, input_size=(6, 6), kernel_size=(3, 3), stride=(1, 1))"
    y = m(shendu.randn(3, 6, 6))
    assert y.shape == (8, 4, 4) and y.dtype == shendu.float32
    bound = 1 / np.sqrt(27)
    assert np.abs(m.weight.detach().numpy()).max() <= bound


def test_float32_training_step_reduces_loss():
    shendu.manual_seed(0)
    m = nn.LocallyConnected2d(1, 2, (5, 5), 3)
    x = shendu.randn(4, 1, 5, 5)
    target = shendu.randn(4, 2, 3, 3)
    losses = []
    for _ in range(5):
        loss = ((m(x) - target) ** 2).mean()
        losses.append(float(loss))
        m.zero_grad()
        loss.backward()
        with shendu.no_grad():
            for p in m.parameters():
                p -= 0.5 * p.grad
    assert losses[-1] < losses[0]


def test_errors():
    m = nn.LocallyConnected2d(3, 4, (6, 6), 3)
    with pytest.raises(nn.LayerInputError, match="expected \\(N, 3, 6, 6\\)"):
        m(shendu.randn(2, 3, 7, 6))
    with pytest.raises(ValueError, match="leaves no output position"):
        nn.LocallyConnected2d(3, 4, (2, 2), 3)
