"""nn.PeepholeLSTM and nn.CoupledLSTM (seed 004's two LSTM variants) as sequence layers:
against a hand-unrolled loop of cells (multi-layer, bidirectional, batch_first), packed
sequences against separate runs, gradcheck, float32, errors."""
import numpy as np
import pytest

import shendu
from shendu import nn
from shendu.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch_oracle import compare




def coupled_step(m, k, x, h, c):
    a = x @ getattr(m, f"weight_ih{k}").t() + getattr(m, f"bias_ih{k}") + \
        h @ getattr(m, f"weight_hh{k}").t() + getattr(m, f"bias_hh{k}")
    H = m.hidden_size
    f, g, o = a[:, :H].sigmoid(), a[:, H:2 * H].tanh(), a[:, 2 * H:].sigmoid()
    c2 = f * c + (1 - f) * g
    return o * c2.tanh(), c2


def unrolled(m, step, x):
    """x (T, B, I): the layers and directions by hand, one cell call per step."""
    T, B, _ = x.shape
    dirs = 2 if m.bidirectional else 1
    hs, cs = [], []
    inp = x
    for layer in range(m.num_layers):
        outs = []
        for d in range(dirs):
            k = f"_l{layer}" + ("_reverse" if d else "")
            h = shendu.zeros(B, m.hidden_size, dtype=x.dtype)
            c = shendu.zeros(B, m.hidden_size, dtype=x.dtype)
            seq = [None] * T
            for t in (range(T - 1, -1, -1) if d else range(T)):
                h, c = step(m, k, inp[t], h, c)
                seq[t] = h
            outs.append(shendu.stack(seq))
            hs.append(h)
            cs.append(c)
        inp = shendu.cat(outs, -1)
    return inp, shendu.stack(hs), shendu.stack(cs)


@pytest.mark.parametrize("cls,step", [(nn.PeepholeLSTM, "peephole"),
                                      (nn.CoupledLSTM, "coupled")])
@pytest.mark.parametrize("layers,bi,bf", [(1, False, False), (2, True, True)])
def test_against_hand_unrolled_cells(cls, step, layers, bi, bf):
    shendu.manual_seed(0)
    m = cls(3, 4, num_layers=layers, bidirectional=bi, batch_first=bf, dtype=shendu.float64)
    x = shendu.randn(5, 2, 3, dtype=shendu.float64)
    out, (h, c) = m(x.transpose(0, 1) if bf else x)
    step = coupled_step if step == "coupled" else _peep
    ref_out, ref_h, ref_c = unrolled(m, step, x)
    compare(out.transpose(0, 1) if bf else out, ref_out.detach().numpy(), rtol=1e-12)
    compare(h, ref_h.detach().numpy(), rtol=1e-12)
    compare(c, ref_c.detach().numpy(), rtol=1e-12)
    # gradients match the unrolled graph's
    out.sum().backward()
    g = {n: p.grad.numpy().copy() for n, p in m.named_parameters()}
    m.zero_grad()
    unrolled(m, step, x)[0].sum().backward()
    for n, p in m.named_parameters():
        np.testing.assert_allclose(g[n], p.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=n)


def _peep(m, k, x, h, c):
    """The peephole equations written out (seed 004 变体1), independent of the cell."""
    a = x @ getattr(m, f"weight_ih{k}").t() + getattr(m, f"bias_ih{k}") + \
        h @ getattr(m, f"weight_hh{k}").t() + getattr(m, f"bias_hh{k}")
    H = m.hidden_size
    i = (a[:, :H] + getattr(m, f"weight_ci{k}") * c).sigmoid()
    f = (a[:, H:2 * H] + getattr(m, f"weight_cf{k}") * c).sigmoid()
    c2 = f * c + i * a[:, 2 * H:3 * H].tanh()
    o = (a[:, 3 * H:] + getattr(m, f"weight_co{k}") * c2).sigmoid()
    return o * c2.tanh(), c2


def test_one_step_equals_peephole_cell():
    shendu.manual_seed(1)
    m = nn.PeepholeLSTM(3, 4, dtype=shendu.float64)
    cell = nn.PeepholeLSTMCell(3, 4, dtype=shendu.float64)
    cell.load_state_dict({n: getattr(m, n + "_l0").detach() for n, _ in cell.named_parameters()})
    x = shendu.randn(1, 2, 3, dtype=shendu.float64)
    h, c = cell(x[0])
    _, (hn, cn) = m(x)
    compare(hn[0], h.detach().numpy(), rtol=1e-12)
    compare(cn[0], c.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("cls", [nn.PeepholeLSTM, nn.CoupledLSTM])
def test_packed_sequences_equal_separate_runs(cls):
    shendu.manual_seed(2)
    m = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=shendu.float64)
    x = shendu.randn(3, 5, 3, dtype=shendu.float64)
    lengths = [3, 5, 2]
    out, (h, c) = m(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    out, _ = pad_packed_sequence(out, batch_first=True)
    for b, L in enumerate(lengths):
        o1, (h1, c1) = m(x[b:b + 1, :L])
        compare(out[b, :L], o1[0].detach().numpy(), rtol=1e-12)
        assert (out[b, L:].detach().numpy() == 0).all()
        compare(h[:, b], h1[:, 0].detach().numpy(), rtol=1e-12)
        compare(c[:, b], c1[:, 0].detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("cls", [nn.PeepholeLSTM, nn.CoupledLSTM])
def test_gradcheck_and_gradgradcheck(cls):
    shendu.manual_seed(3)
    m = cls(2, 3, num_layers=2, bidirectional=True, dtype=shendu.float64)
    x = shendu.randn(3, 2, 2, dtype=shendu.float64, requires_grad=True)
    h0 = shendu.randn(4, 2, 3, dtype=shendu.float64, requires_grad=True)
    c0 = shendu.randn(4, 2, 3, dtype=shendu.float64, requires_grad=True)
    w = m.weight_hh_l1_reverse if cls is nn.CoupledLSTM else m.weight_co_l0

    def f(x, h0, c0, w):
        out, (h, c) = m(x, (h0, c0))
        return out.tanh().sum() + (h * c).sum()
    assert shendu.autograd.gradcheck(f, (x, h0, c0, w))
    assert shendu.autograd.gradgradcheck(lambda x: m(x)[0].pow(2).sum(), (x,))


def test_float32_sizes_and_errors():
    m = nn.PeepholeLSTM(3, 4, num_layers=2)
    out, (h, c) = m(shendu.randn(6, 2, 3))
    assert out.dtype == shendu.float32 and tuple(h.shape) == (2, 2, 4)
    assert sum(p.numel() for p in nn.CoupledLSTM(3, 4).parameters()) == \
        3 * sum(p.numel() for p in nn.LSTM(3, 4).parameters()) // 4
    assert sum(p.numel() for p in m.parameters()) == \
        sum(p.numel() for p in nn.LSTM(3, 4, num_layers=2).parameters()) + 2 * 3 * 4
    with pytest.raises(nn.LayerInputError, match="expected input_size=3"):
        m(shendu.randn(6, 2, 5))
    with pytest.raises(TypeError):
        nn.PeepholeLSTM(3, 4, proj_size=2)
    unbatched, (h1, _) = nn.CoupledLSTM(3, 4)(shendu.randn(6, 3))
    assert tuple(unbatched.shape) == (6, 4) and tuple(h1.shape) == (1, 4)
