"""RNN, LSTM, GRU and their cells against torch (float64, forward and every gradient),
packing utilities, the peephole LSTM by formula, gradcheck / gradgradcheck, bad input."""
import itertools
import math
import os
import sys

import numpy as np
import pytest
import torch

import shendu
from shendu import nn
from shendu.nn.utils import rnn as srnn
from torch_oracle import compare

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from module_parity import backward_and_compare as _backward_and_compare  # noqa: E402

trnn = torch.nn.utils.rnn
MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


def _make(mode, *args, **kw):
    """The same layer in torch and shendu (float64, torch's weights copied in)."""
    name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
    if mode == "RNN_RELU":
        kw["nonlinearity"] = "relu"
    torch.manual_seed(len(args) + 7 * len(kw))
    tm = getattr(torch.nn, name)(*args, **kw).double()
    sm = getattr(nn, name)(*args, **kw).double()
    res = sm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys
    return tm, sm


def _pair(a, requires_grad=True):
    return (torch.tensor(a, requires_grad=requires_grad),
            shendu.tensor(a, requires_grad=requires_grad))


# ---------------------------------------------------------------------- layers vs torch
GRID = list(itertools.product(MODES, [1, 2], [False, True], [False, True], [True, False],
                              [False, True]))


@pytest.mark.parametrize("mode,layers,bidir,batch_first,bias,with_h0", GRID)
def test_layer_matches_torch(mode, layers, bidir, batch_first, bias, with_h0):
    T, B, I, H = 5, 3, 4, 6
    tm, sm = _make(mode, I, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first,
                   bias=bias)
    rng = np.random.default_rng(1)
    tx, sx = _pair(rng.uniform(-1, 1, (B, T, I) if batch_first else (T, B, I)))
    t_leaves, s_leaves = [tx], [sx]
    th = sh = None
    if with_h0:
        n = layers * (2 if bidir else 1)
        states = [_pair(rng.uniform(-1, 1, (n, B, H))) for _ in range(2 if mode == "LSTM" else 1)]
        t_leaves += [t for t, _ in states]
        s_leaves += [s for _, s in states]
        th = tuple(t for t, _ in states) if mode == "LSTM" else states[0][0]
        sh = tuple(s for _, s in states) if mode == "LSTM" else states[0][1]
    _backward_and_compare(tm(tx, th), sm(sx, sh), t_leaves, s_leaves, tm, sm)


@pytest.mark.parametrize("layers,bidir,batch_first,with_h0",
                         list(itertools.product([1, 2], [False, True], [False, True],
                                                [False, True])))
def test_lstm_proj_size(layers, bidir, batch_first, with_h0):
    T, B, I, H, P = 4, 3, 5, 7, 3
    tm, sm = _make("LSTM", I, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first,
                   proj_size=P)
    assert [n for n, _ in sm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    rng = np.random.default_rng(2)
    tx, sx = _pair(rng.uniform(-1, 1, (B, T, I) if batch_first else (T, B, I)))
    leaves_t, leaves_s, th, sh = [tx], [sx], None, None
    if with_h0:
        n = layers * (2 if bidir else 1)
        (th0, sh0), (tc0, sc0) = _pair(rng.uniform(-1, 1, (n, B, P))), \
            _pair(rng.uniform(-1, 1, (n, B, H)))
        th, sh = (th0, tc0), (sh0, sc0)
        leaves_t += [th0, tc0]
        leaves_s += [sh0, sc0]
    _backward_and_compare(tm(tx, th), sm(sx, sh), leaves_t, leaves_s, tm, sm)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_h0", [False, True])
def test_unbatched_input(mode, with_h0):
    tm, sm = _make(mode, 3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(3)
    tx, sx = _pair(rng.uniform(-1, 1, (5, 3)))
    leaves_t, leaves_s, th, sh = [tx], [sx], None, None
    if with_h0:
        pairs = [_pair(rng.uniform(-1, 1, (4, 4))) for _ in range(2 if mode == "LSTM" else 1)]
        leaves_t += [p[0] for p in pairs]
        leaves_s += [p[1] for p in pairs]
        th = tuple(leaves_t[1:]) if mode == "LSTM" else leaves_t[1]
        sh = tuple(leaves_s[1:]) if mode == "LSTM" else leaves_s[1]
    t_out, s_out = tm(tx, th), sm(sx, sh)
    assert tuple(s_out[0].shape) == (5, 8)
    _backward_and_compare(t_out, s_out, leaves_t, leaves_s, tm, sm)


# ---------------------------------------------------------------------- packed sequences
PACKED = list(itertools.product(MODES, [True, False], [1, 2], [False, True], [False, True]))


@pytest.mark.parametrize("mode,sorted_,layers,bidir,with_h0", PACKED)
def test_packed_matches_torch(mode, sorted_, layers, bidir, with_h0):
    T, B, I, H = 6, 4, 3, 5
    lengths = [6, 4, 3, 1] if sorted_ else [3, 6, 1, 4]
    tm, sm = _make(mode, I, H, num_layers=layers, bidirectional=bidir)
    rng = np.random.default_rng(4)
    tx, sx = _pair(rng.uniform(-1, 1, (T, B, I)))
    tp = trnn.pack_padded_sequence(tx, lengths, enforce_sorted=sorted_)
    sp = srnn.pack_padded_sequence(sx, lengths, enforce_sorted=sorted_)
    np.testing.assert_array_equal(sp.batch_sizes.numpy(), tp.batch_sizes.numpy())
    if sorted_:
        assert sp.sorted_indices is None and tp.sorted_indices is None
    else:
        np.testing.assert_array_equal(sp.sorted_indices.numpy(), tp.sorted_indices.numpy())
        np.testing.assert_array_equal(sp.unsorted_indices.numpy(), tp.unsorted_indices.numpy())
    leaves_t, leaves_s, th, sh = [tx], [sx], None, None
    if with_h0:
        n = layers * (2 if bidir else 1)
        pairs = [_pair(rng.uniform(-1, 1, (n, B, H))) for _ in range(2 if mode == "LSTM" else 1)]
        leaves_t += [p[0] for p in pairs]
        leaves_s += [p[1] for p in pairs]
        th = tuple(leaves_t[1:]) if mode == "LSTM" else leaves_t[1]
        sh = tuple(leaves_s[1:]) if mode == "LSTM" else leaves_s[1]
    t_out, t_h = tm(tp, th)
    s_out, s_h = sm(sp, sh)
    assert isinstance(s_out, srnn.PackedSequence)
    t_pad, t_len = trnn.pad_packed_sequence(t_out, padding_value=-3.0, total_length=8)
    s_pad, s_len = srnn.pad_packed_sequence(s_out, padding_value=-3.0, total_length=8)
    np.testing.assert_array_equal(s_len.numpy(), t_len.numpy())
    _backward_and_compare((t_out.data, t_pad, t_h), (s_out.data, s_pad, s_h), leaves_t, leaves_s,
                          tm, sm)


@pytest.mark.parametrize("mode", MODES)
def test_packed_final_state_is_last_real_step(mode):
    """Each sequence's final state is that of its own last step (bidirectional: the
    reverse direction starts at that step), as if run alone without padding."""
    lengths = [2, 5, 3]
    _, sm = _make(mode, 3, 4, bidirectional=True)
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (5, 3, 3))
    packed = srnn.pack_padded_sequence(shendu.tensor(x), lengths, enforce_sorted=False)
    sm.requires_grad_(False)
    out, h = sm(packed)
    padded, _ = srnn.pad_packed_sequence(out)
    h = h[0] if mode == "LSTM" else h
    for b, n in enumerate(lengths):
        o1, h1 = sm(shendu.tensor(x[:n, b]))
        h1 = h1[0] if mode == "LSTM" else h1
        np.testing.assert_allclose(h.numpy()[:, b], h1.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(padded.numpy()[:n, b], o1.numpy(), rtol=1e-12, atol=1e-14)
        assert np.all(padded.numpy()[n:, b] == 0)


# ---------------------------------------------------------------------- cells
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_h", [True, False])
def test_cells_match_torch(mode, bias, batched, with_h):
    name = {"RNN_TANH": "RNNCell", "RNN_RELU": "RNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell"}[mode]
    kw = {"nonlinearity": "relu"} if mode == "RNN_RELU" else {}
    torch.manual_seed(0)
    tc = getattr(torch.nn, name)(4, 5, bias=bias, **kw).double()
    sc = getattr(nn, name)(4, 5, bias=bias, **kw).double()
    sc.load_state_dict({k: v.detach().numpy() for k, v in tc.state_dict().items()})
    rng = np.random.default_rng(6)
    lead = (3,) if batched else ()
    tx, sx = _pair(rng.uniform(-1, 1, lead + (4,)))
    leaves_t, leaves_s, th, sh = [tx], [sx], None, None
    if with_h:
        pairs = [_pair(rng.uniform(-1, 1, lead + (5,))) for _ in range(2 if mode == "LSTM" else 1)]
        leaves_t += [p[0] for p in pairs]
        leaves_s += [p[1] for p in pairs]
        th = tuple(leaves_t[1:]) if mode == "LSTM" else leaves_t[1]
        sh = tuple(leaves_s[1:]) if mode == "LSTM" else leaves_s[1]
    # two steps, so the state fed back in is a graph output
    t1, s1 = tc(tx, th), sc(sx, sh)
    _backward_and_compare((tc(tx, t1), t1), (sc(sx, s1), s1), leaves_t, leaves_s, tc, sc)


@pytest.mark.parametrize("mode", MODES)
def test_cells_gradcheck_and_gradgradcheck(mode):
    rng = np.random.default_rng(7)
    G = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    H, I, B = 3, 2, 2
    arrays = [rng.uniform(-1, 1, s) for s in [(B, I), (B, H), (B, H), (G * H, I), (G * H, H),
                                                 (G * H,), (G * H,)]]
    ts = [shendu.tensor(a, requires_grad=True) for a in arrays]

    def f(x, h, c, w_ih, w_hh, b_ih, b_hh):
        hx = (h, c) if mode == "LSTM" else h
        return shendu._ops.rnn.rnn_cell(mode, x, hx, w_ih, w_hh, b_ih, b_hh)
    assert shendu.autograd.gradcheck(f, ts)
    assert shendu.autograd.gradgradcheck(f, ts)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("packed", [False, True])
def test_layer_gradcheck_and_gradgradcheck(mode, packed):
    """Small two-layer bidirectional layers: BPTT by central differences, and the
    second derivative through the differentiable (create_graph) path."""
    shendu.manual_seed(0)
    m = getattr(nn, "RNN" if mode.startswith("RNN") else mode)(
        2, 2, num_layers=2, bidirectional=True,
        **({"nonlinearity": "relu"} if mode == "RNN_RELU" else {})).double()
    params = list(m.parameters())
    rng = np.random.default_rng(8)
    x = shendu.tensor(rng.uniform(-1, 1, (3, 2, 2)), requires_grad=True)
    h0 = shendu.tensor(rng.uniform(-1, 1, (4, 2, 2)), requires_grad=True)

    def f(x, h0, *ps):
        inp = srnn.pack_padded_sequence(x, [3, 2]) if packed else x
        out, h = m(inp, (h0, h0 * 0.5) if mode == "LSTM" else h0)
        out = out.data if packed else out
        return out, (h[0] if mode == "LSTM" else h)
    assert shendu.autograd.gradcheck(f, [x, h0] + params[:3])
    assert shendu.autograd.gradgradcheck(f, [x, h0] + params[:3])


@pytest.mark.parametrize("mode", MODES)
def test_double_backward_matches_torch(mode):
    """create_graph through the layer: the gradient of a gradient norm, vs torch."""
    tm, sm = _make(mode, 3, 4, num_layers=2, bidirectional=True)
    rng = np.random.default_rng(9)
    tx, sx = _pair(rng.uniform(-1, 1, (4, 2, 3)))
    results = []
    for lib, m, x in ((torch, tm, tx), (shendu, sm, sx)):
        out, _ = m(x)
        w = lib.tensor(np.random.default_rng(1).uniform(-1, 1, tuple(out.shape)))
        gx, = (torch.autograd.grad if lib is torch else shendu.autograd.grad)(
            (out * w).sum(), x, create_graph=True)
        (gx * gx).sum().backward()
        results.append((gx, x.grad, [p.grad for _, p in m.named_parameters()]))
    (tg, tgx, tps), (sg, sgx, sps) = results
    compare(sg, tg, what="first gradient")
    for k, (s, t) in enumerate(zip([sgx] + sps, [tgx] + tps)):
        if s is None and t is not None:     # relu'' = 0: torch has zeros where we have no path
            assert mode == "RNN_RELU" and not t.any()
        else:
            compare(s, t, what=f"second-order grad of input {k}")


def test_peephole_lstm_cell_formula_gradcheck():
    shendu.manual_seed(0)
    cell = nn.PeepholeLSTMCell(3, 4).double()
    names = [n for n, _ in cell.named_parameters()]
    assert names == ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ci", "weight_cf",
                     "weight_co"]
    bound = 1 / math.sqrt(4)
    assert all(float(p.abs().max()) <= bound for p in cell.parameters())
    rng = np.random.default_rng(10)
    x, h, c = (rng.uniform(-1, 1, s) for s in [(2, 3), (2, 4), (2, 4)])
    P = {n: p.detach().numpy() for n, p in cell.named_parameters()}
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    a = x @ P["weight_ih"].T + P["bias_ih"] + h @ P["weight_hh"].T + P["bias_hh"]
    ai, af, ag, ao = np.split(a, 4, axis=1)
    i = sig(ai + P["weight_ci"] * c)
    f = sig(af + P["weight_cf"] * c)
    c2 = f * c + i * np.tanh(ag)
    o = sig(ao + P["weight_co"] * c2)
    h2 = o * np.tanh(c2)
    sh, sc = cell(shendu.tensor(x), (shendu.tensor(h), shendu.tensor(c)))
    np.testing.assert_allclose(sh.detach().numpy(), h2, rtol=1e-12)
    np.testing.assert_allclose(sc.detach().numpy(), c2, rtol=1e-12)
    # without peepholes (zero weights) it is torch's LSTMCell
    tl = torch.nn.LSTMCell(3, 4).double()
    cell.load_state_dict({**{k: v.detach().numpy() for k, v in tl.state_dict().items()},
                          "weight_ci": np.zeros(4), "weight_cf": np.zeros(4),
                          "weight_co": np.zeros(4)})
    th, tc = tl(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    sh, sc = cell(shendu.tensor(x), (shendu.tensor(h), shendu.tensor(c)))
    compare(sh, th)
    compare(sc, tc)
    ts = [shendu.tensor(v, requires_grad=True) for v in (x, h, c)]
    ws = [shendu.tensor(rng.uniform(-1, 1, 4), requires_grad=True) for _ in range(3)]
    W = [shendu.tensor(rng.uniform(-1, 1, s), requires_grad=True)
         for s in [(16, 3), (16, 4), (16,), (16,)]]

    def f(x, h, c, w_ih, w_hh, b_ih, b_hh, w_ci, w_cf, w_co):
        return shendu._ops.rnn.peephole_lstm_cell(x, (h, c), w_ih, w_hh, w_ci, w_cf, w_co,
                                                  b_ih, b_hh)
    assert shendu.autograd.gradcheck(f, ts + W + ws)
    assert shendu.autograd.gradgradcheck(f, ts + W + ws)
    # unbatched and no state
    h1, c1 = cell(shendu.tensor(x[0]))
    assert tuple(h1.shape) == (4,) and tuple(c1.shape) == (4,)


# ---------------------------------------------------------------------- module basics
@pytest.mark.parametrize("mode", MODES)
def test_parameters_names_shapes_init(mode):
    tm, _ = _make(mode, 3, 16, num_layers=2, bidirectional=True)
    name = "RNN" if mode.startswith("RNN") else mode
    kw = {"nonlinearity": "relu"} if mode == "RNN_RELU" else {}
    sm = getattr(nn, name)(3, 16, num_layers=2, bidirectional=True, **kw)
    assert [(n, tuple(p.shape)) for n, p in sm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert sm._flat_weights_names == tm._flat_weights_names
    assert sm._all_weights == tm._all_weights
    assert all(p.dtype == shendu.float32 for p in sm.parameters())
    bound = 1 / math.sqrt(16)
    for p in sm.parameters():
        a = p.detach().numpy()
        assert a.min() >= -bound and a.max() <= bound and a.std() > bound / 4
    assert repr(sm) == repr(getattr(torch.nn, name)(3, 16, num_layers=2, bidirectional=True,
                                                    **kw))


def test_repr_and_cell_repr():
    assert repr(nn.LSTM(3, 5, proj_size=2, batch_first=True, bias=False)) == \
        repr(torch.nn.LSTM(3, 5, proj_size=2, batch_first=True, bias=False))
    assert repr(nn.RNNCell(3, 5, nonlinearity="relu")) == \
        repr(torch.nn.RNNCell(3, 5, nonlinearity="relu"))
    assert repr(nn.GRUCell(3, 5, bias=False)) == repr(torch.nn.GRUCell(3, 5, bias=False))


def test_float32_smoke():
    shendu.manual_seed(0)
    m = nn.LSTM(4, 8, num_layers=2, bidirectional=True, batch_first=True)
    x = shendu.randn(3, 5, 4, requires_grad=True)
    out, (h, c) = m(x)
    assert out.dtype == shendu.float32 and h.dtype == shendu.float32
    out.sum().backward()
    assert x.grad.dtype == shendu.float32
    assert all(p.grad is not None and p.grad.dtype == shendu.float32 for p in m.parameters())
    # the same numbers as float64 to float32 precision
    m64 = nn.LSTM(4, 8, num_layers=2, bidirectional=True, batch_first=True).double()
    m64.load_state_dict({k: v.numpy().astype(np.float64) for k, v in m.state_dict().items()})
    out64, _ = m64(x.detach().double())
    np.testing.assert_allclose(out.detach().numpy(), out64.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_no_grad_forward_keeps_nothing():
    m = nn.GRU(3, 4)
    with shendu.no_grad():
        out, h = m(shendu.randn(5, 2, 3))
    assert out.grad_fn is None and not out.requires_grad


def test_dropout_between_layers_is_off_in_eval():
    tm, sm = _make("LSTM", 3, 4, num_layers=3, dropout=0.5)
    sm.eval()
    tm.eval()
    x = np.random.default_rng(11).uniform(-1, 1, (4, 2, 3))
    compare(sm(shendu.tensor(x))[0], tm(torch.tensor(x))[0])
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


# ---------------------------------------------------------------------- packing utilities
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, side):
    rng = np.random.default_rng(12)
    arrays = [rng.uniform(-1, 1, (n, 2, 3)) for n in (3, 5, 1)]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ss = [shendu.tensor(a, requires_grad=True) for a in arrays]
    t = trnn.pad_sequence(ts, batch_first=batch_first, padding_value=2.5, padding_side=side)
    s = srnn.pad_sequence(ss, batch_first=batch_first, padding_value=2.5, padding_side=side)
    _backward_and_compare(t, s, ts, ss)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_pad_roundtrip_matches_torch(batch_first, enforce_sorted):
    rng = np.random.default_rng(13)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    shape = (4, 5, 2) if batch_first else (5, 4, 2)
    tx, sx = _pair(rng.uniform(-1, 1, shape))
    tp = trnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first, enforce_sorted)
    sp = srnn.pack_padded_sequence(sx, shendu.tensor(lengths), batch_first, enforce_sorted)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(sp, field), getattr(tp, field)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == shendu.int64
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    tpad, tl = trnn.pad_packed_sequence(tp, batch_first=batch_first)
    spad, sl = srnn.pad_packed_sequence(sp, batch_first=batch_first)
    np.testing.assert_array_equal(sl.numpy(), tl.numpy())
    _backward_and_compare((tp.data, tpad), (sp.data, spad), [tx], [sx])


def test_pack_sequence_and_unpack():
    rng = np.random.default_rng(14)
    arrays = [rng.uniform(-1, 1, (n, 3)) for n in (2, 4, 3)]
    tp = trnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False)
    sp = srnn.pack_sequence([shendu.tensor(a) for a in arrays], enforce_sorted=False)
    compare(sp.data, tp.data)
    for s, a in zip(srnn.unpack_sequence(sp), arrays):
        np.testing.assert_array_equal(s.numpy(), a)
    padded, lengths = srnn.pad_packed_sequence(sp, batch_first=True)
    for s, a in zip(srnn.unpad_sequence(padded, lengths, batch_first=True), arrays):
        np.testing.assert_array_equal(s.numpy(), a)
    assert srnn.PackedSequence(sp.data, sp.batch_sizes, sp.sorted_indices).unsorted_indices \
        .tolist() == tp.unsorted_indices.tolist()
    assert sp.float().data.dtype == shendu.float32
    assert srnn.invert_permutation(None) is None


# ---------------------------------------------------------------------- bad input
def test_wrong_input_size_names_both():
    m = nn.LSTM(8, 20, num_layers=2)
    with pytest.raises(nn.LayerInputError, match=r"got input of size 10, expected input_size=8"):
        m(shendu.randn(5, 3, 10))
    with pytest.raises(nn.LayerInputError, match=r"LSTM 8→20"):
        m(shendu.randn(5, 3, 10))
    with pytest.raises(nn.LayerInputError, match=r"got input of size 10, expected input_size=8"):
        nn.GRUCell(8, 20)(shendu.randn(3, 10))


def test_wrong_hidden_shape_names_both():
    m = nn.GRU(10, 20, num_layers=2)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(2, 3, 20\), got \[1, 3, 20\]"):
        m(shendu.randn(5, 3, 10), shendu.zeros(1, 3, 20))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(1, 3, 20\), got "
                                           r"\[1, 3, 19\]"):
        nn.LSTM(10, 20)(shendu.randn(5, 3, 10), (shendu.zeros(1, 3, 20), shendu.zeros(1, 3, 19)))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hx should also be 3-D"):
        m(shendu.randn(5, 3, 10), shendu.zeros(3, 20))
    with pytest.raises(RuntimeError, match=r"hidden of shape \(3, 20\).*got \[2, 20\]"):
        nn.RNNCell(10, 20)(shendu.randn(3, 10), shendu.zeros(2, 20))


def test_bad_input_rank_and_arguments():
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D instead"):
        nn.LSTM(3, 4)(shendu.randn(1, 2, 3, 3))
    with pytest.raises(ValueError, match="RNNCell: Expected input to be 1D or 2D, got 3D"):
        nn.RNNCell(3, 4)(shendu.randn(1, 2, 3))
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="does not match weight dtype"):
        nn.LSTM(3, 4)(shendu.randn(2, 1, 3, dtype=shendu.float64))


def test_packing_errors():
    x = shendu.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match=r"`lengths` array must be sorted in decreasing order "
                                           r"when `enforce_sorted` is True"):
        srnn.pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(RuntimeError, match="has to be greater than 0"):
        srnn.pack_padded_sequence(x, [4, 2, 0])
    with pytest.raises(RuntimeError, match=r"sequence length \(5\) exceeds"):
        srnn.pack_padded_sequence(x, [5, 2, 1])
    p = srnn.pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        srnn.pad_packed_sequence(p, total_length=3)
    with pytest.raises(ValueError, match="padding_side"):
        srnn.pad_sequence([x[0]], padding_side="middle")


def test_dropout_between_layers_in_training():
    """Dropout is drawn from shendu's generator on the input of layers 2.. only: a
    one-layer net is unaffected, a deeper one is reproducible under a seed and differs
    from eval; the gradient is that of the net with those masks fixed."""
    shendu.manual_seed(0)
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5).double()
    x = shendu.tensor(np.random.default_rng(12).uniform(-1, 1, (5, 2, 3)), requires_grad=True)
    shendu.manual_seed(1)
    a = m(x)[0]
    shendu.manual_seed(1)
    b = m(x)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.eval()
    c = m(x)[0]
    m.train()
    assert not np.allclose(a.detach().numpy(), c.detach().numpy())

    def f(x):
        shendu.manual_seed(1)
        return m(x)[0]
    assert shendu.autograd.gradcheck(f, [x])
    with pytest.warns(UserWarning):
        one = nn.LSTM(3, 4, dropout=0.5).double()
    one.train()
    with shendu.no_grad():
        np.testing.assert_array_equal(one(x)[0].numpy(), one.eval()(x)[0].numpy())


def test_packed_lstm_with_projection_matches_torch():
    tm, sm = _make("LSTM", 3, 6, num_layers=2, bidirectional=True, proj_size=2)
    rng = np.random.default_rng(15)
    tx, sx = _pair(rng.uniform(-1, 1, (5, 3, 3)))
    (th, sh), (tc, sc) = _pair(rng.uniform(-1, 1, (4, 3, 2))), _pair(rng.uniform(-1, 1, (4, 3, 6)))
    lengths = [2, 5, 4]
    t_out, t_hc = tm(trnn.pack_padded_sequence(tx, lengths, enforce_sorted=False), (th, tc))
    s_out, s_hc = sm(srnn.pack_padded_sequence(sx, lengths, enforce_sorted=False), (sh, sc))
    _backward_and_compare((t_out.data, t_hc), (s_out.data, s_hc), [tx, th, tc], [sx, sh, sc],
                          tm, sm)
