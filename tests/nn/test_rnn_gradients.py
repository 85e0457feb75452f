"""The BPTT gradient experiment (seed 004 "RNN梯度消失原因")."""
import numpy as np

import shendu
from shendu import nn
from shendu.examples import rnn_gradients as G


def test_input_gradient_norms_matches_direct_computation():
    n = G.input_gradient_norms("GRU", T=6, input_size=3, hidden=5, batch=2, seeds=1)
    shendu.manual_seed(0)
    m = nn.GRU(3, 5).double()
    x = shendu.randn(6, 2, 3, dtype=shendu.float64, requires_grad=True)
    m(x)[0][-1].sum().backward()
    np.testing.assert_allclose(n, np.linalg.norm(x.grad.numpy().reshape(6, -1), axis=1))


def test_vanishing_and_exploding():
    T = 30
    rnn = G.input_gradient_norms("RNN", T)
    lstm_fb = G.input_gradient_norms("LSTM", T, forget_bias=1.0)
    assert rnn[0] / rnn[-1] < 1e-5                       # vanishes geometrically
    assert lstm_fb[0] / lstm_fb[-1] > 100 * rnn[0] / rnn[-1]
    big = G.input_gradient_norms("RNN", T, hh_scale=4.0)
    assert big[0] > big[-1]                              # W_hh too large: explodes
    ratios = [r[0] / r[-1] for r in (G.input_gradient_norms("RNN", t) for t in (5, 10, 20))]
    assert ratios[0] > ratios[1] > ratios[2]             # worse with longer sequences


def test_experiment_table_and_plot(tmp_path, capsys):
    res = G.experiment(lengths=(5, 10), long=12, scales=(0.5, 4.0), seeds=1,
                       path=str(tmp_path / "g.png"))
    assert set(res["ratios"]) == set(G.KINDS) and len(res["curves"]["GRU"]) == 12
    assert (tmp_path / "g.png").stat().st_size > 10000
    assert "||dL/dx_1|| / ||dL/dx_T||" in capsys.readouterr().out
