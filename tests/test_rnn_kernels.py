"""The recurrent step routines of shendu.backend.rnn: the compiled backward kernels against
their NumPy twins (and their plain-Python loops), the in-place forward against the cell
equations, and whole layers with the kernels on and off against torch."""
import numpy as np
import pytest
import torch

import shendu
from shendu.backend import kernels as _kernels
from shendu.backend import rnn as R

HAVE_NUMBA = _kernels._numba_importable()
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _lstm_inputs(b, H, dtype, seed=0):
    rng = np.random.default_rng(seed)
    gates = np.concatenate([_sig(rng.standard_normal((b, H))),
                            _sig(rng.standard_normal((b, H))),
                            np.tanh(rng.standard_normal((b, H))),
                            _sig(rng.standard_normal((b, H)))], 1)
    arrs = [rng.standard_normal((b, H)) for _ in range(4)]    # dh, dc, c_prev, c
    tc = np.tanh(arrs[3])
    return [x.astype(dtype) for x in (arrs[0], arrs[1], gates, tc, arrs[2])]


def _gru_inputs(b, H, dtype, seed=0):
    rng = np.random.default_rng(seed)
    gates = np.concatenate([_sig(rng.standard_normal((b, 2 * H))),
                            np.tanh(rng.standard_normal((b, H)))], 1)
    dh, ghn, h_prev = (rng.standard_normal((b, H)) for _ in range(3))
    return [x.astype(dtype) for x in (dh, gates, ghn, h_prev)]


def _lstm_back(fn, dh, dc, gates, tc, c_prev, *extra):
    dc, dgates = dc.copy(), np.empty_like(gates)
    fn(dh, dc, gates, tc, c_prev, dgates, *extra)
    return dgates, dc


def _gru_back(fn, dh, gates, ghn, h_prev, *extra):
    dgi, dgh, direct = np.empty_like(gates), np.empty_like(gates), np.empty_like(dh)
    fn(dh, gates, ghn, h_prev, dgi, dgh, direct, *extra)
    return dgi, dgh, direct


def _lstm_back_reference(dh, dc, gates, tc, c_prev):
    """The LSTM step's gradients written plainly, as in the notes' derivation."""
    H = dh.shape[1]
    i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
    dc = dc + dh * o * (1 - tc * tc)
    return (np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                            dc * i * (1 - g * g), dh * tc * o * (1 - o)], 1), dc * f)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_backward_twin_matches_reference(dtype):
    ins = _lstm_inputs(5, 7, dtype)
    got = _lstm_back(R.lstm_backward_numpy, *ins)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    for a, b in zip(got, _lstm_back_reference(*ins)):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (32, 256), (3, 17)])
def test_step_kernels_equal_numpy_twins(dtype, shape):
    tol = 1e-6 if dtype == np.float32 else 1e-14
    ins = _lstm_inputs(*shape, dtype)
    one = np.dtype(dtype).type(1)
    for a, b in zip(_lstm_back(R.lstm_backward_kernel, *ins, one),
                    _lstm_back(R.lstm_backward_numpy, *ins)):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    ins = _gru_inputs(*shape, dtype)
    for a, b in zip(_gru_back(R.gru_backward_kernel, *ins, one),
                    _gru_back(R.gru_backward_numpy, *ins)):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_step_kernels_loop_in_plain_python():
    ins = _lstm_inputs(2, 3, np.float64)
    for a, b in zip(_lstm_back(R.lstm_backward_kernel.py, *ins, 1.0),
                    _lstm_back(R.lstm_backward_numpy, *ins)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-14)
    ins = _gru_inputs(2, 3, np.float64)
    for a, b in zip(_gru_back(R.gru_backward_kernel.py, *ins, 1.0),
                    _gru_back(R.gru_backward_numpy, *ins)):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-14)


def test_in_place_sigmoid_saturates_without_warnings():
    x = np.array([-1000, -100, -20, -1, 0, 1, 20, 100, 1000], np.float32)
    ref = torch.sigmoid(torch.tensor(x)).numpy()
    with np.errstate(all="raise"):
        R.sigmoid_(x)
    np.testing.assert_allclose(x, ref, rtol=1e-6, atol=0)
    y = np.linspace(-30, 30, 60).reshape(3, -1)[:, ::2]           # a strided view
    want = torch.sigmoid(torch.tensor(y)).numpy()
    R.sigmoid_(y)
    np.testing.assert_allclose(y, want, rtol=1e-14, atol=0)


def test_forward_steps_follow_the_cell_equations():
    rng = np.random.default_rng(3)
    b, H = 4, 5
    a = rng.standard_normal((b, 4 * H))
    c = rng.standard_normal((b, H))
    pre, c0 = a.copy(), c.copy()
    tc, h = np.empty((b, H)), np.empty((b, H))
    R.lstm_forward(a, c, tc, h)
    i, f, g, o = _sig(pre[:, :H]), _sig(pre[:, H:2 * H]), np.tanh(pre[:, 2 * H:3 * H]), _sig(pre[:, 3 * H:])
    np.testing.assert_allclose(a, np.concatenate([i, f, g, o], 1), rtol=1e-14)
    np.testing.assert_allclose(c, f * c0 + i * g, rtol=1e-14)
    np.testing.assert_allclose(h, o * np.tanh(f * c0 + i * g), rtol=1e-14)
    gi, gh, hp = (rng.standard_normal(s) for s in ((b, 3 * H), (b, 3 * H), (b, H)))
    a = gi.copy()
    h = np.empty((b, H))
    R.gru_forward(a, gh, hp, h)
    r, z = _sig(gi[:, :H] + gh[:, :H]), _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    np.testing.assert_allclose(a, np.concatenate([r, z, n], 1), rtol=1e-14)
    np.testing.assert_allclose(h, (1 - z) * n + z * hp, rtol=1e-14)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_float32_layers_with_kernels_on_and_off_match_torch(mode):
    """Packed, two layers, bidirectional: outputs and every gradient, kernels on and off."""
    torch.manual_seed(0)
    tcls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}.get(mode, torch.nn.RNN)
    kw = {} if mode in ("LSTM", "GRU") else {"nonlinearity": mode[4:].lower()}
    tm = tcls(6, 9, num_layers=2, bidirectional=True, **kw)
    x = torch.randn(7, 4, 6)
    lengths = [7, 5, 5, 2]
    res = []
    for on in ([True, False] if HAVE_NUMBA else [False]):
        prev = _kernels.set_enabled(on)
        try:
            smod = {"LSTM": shendu.nn.LSTM, "GRU": shendu.nn.GRU}.get(mode, shendu.nn.RNN)(
                6, 9, num_layers=2, bidirectional=True, **kw)
            smod.load_state_dict({k: shendu.tensor(v.detach().numpy())
                                  for k, v in tm.state_dict().items()})
            sx = shendu.tensor(x.numpy(), requires_grad=True)
            packed = shendu.nn.utils.rnn.pack_padded_sequence(sx, lengths)
            out, _ = smod(packed)
            y, _ = shendu.nn.utils.rnn.pad_packed_sequence(out)
            (y * y).sum().backward()
            res.append([y.detach().numpy(), sx.grad.numpy()] + [p.grad.numpy() for p in smod.parameters()])
        finally:
            _kernels.set_enabled(prev)
    tx = x.clone().requires_grad_(True)
    ty, _ = torch.nn.utils.rnn.pad_packed_sequence(
        tm(torch.nn.utils.rnn.pack_padded_sequence(tx, lengths))[0])
    (ty * ty).sum().backward()
    want = [ty.detach().numpy(), tx.grad.numpy()] + [p.grad.numpy() for p in tm.parameters()]
    for got in res:
        for a, b in zip(got, want):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
