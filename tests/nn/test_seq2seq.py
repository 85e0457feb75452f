"""The seq2seq-with-attention example: the generated task, a short training run (loss
falls, decoding works), beam search against greedy, the variants, the heat map."""
import datetime

import numpy as np
import pytest

import shendu
from shendu.examples import seq2seq as S


def test_task_generation():
    rng = np.random.default_rng(0)
    d = datetime.date(1994, 3, 3)
    texts = {f(d) for f in S.FORMATS}
    assert "march 3, 1994" in texts and "3/3/94" in texts and "03.03.1994" in texts
    assert "thursday, march 3, 1994" in texts           # weekdays are right
    src, lengths, tgt = S.make_batch(rng, 5)
    assert src.shape[0] == 5 and lengths.max() == src.shape[1]
    assert np.all(tgt[:, 0] == S.SOS) and np.all(tgt[:, -1] == S.EOS) and tgt.shape == (5, 12)
    assert all(src[i, lengths[i]:].sum() == 0 for i in range(5))
    assert S.decode_target(tgt[0, 1:]) == S.decode_target(list(tgt[0, 1:]) + [S.PAD, 5])
    # held-out dates never appear in training batches
    train_dates = S.sample_dates(rng, 500, held_out=False)
    test_dates = S.sample_dates(rng, 100, held_out=True)
    assert not any(S.is_held_out(t) for t in train_dates)
    assert all(S.is_held_out(t) for t in test_dates)
    assert 0.07 < np.mean([S.is_held_out(S.FIRST + datetime.timedelta(k))
                           for k in range(3000)]) < 0.13


@pytest.fixture(scope="module")
def trained():
    return S.train(steps=150, batch_size=32, embed=16, hidden=32, eval_size=100, beam=3,
                   verbose=False, seed=1)


def test_short_training_loss_falls_and_decodes(trained):
    h = trained["history"]
    assert len(h) == 150 and all(np.isfinite(h))
    assert np.mean(h[-15:]) < 0.5 * np.mean(h[:5])
    assert 0.0 <= trained["greedy"] <= 1.0 and 0.0 <= trained["beam"] <= 1.0
    model = trained["model"]
    src, lengths = S.encode_batch(["march 3, 1994", "12/25/07"])
    tokens, weights = model.greedy_decode(shendu.tensor(src), shendu.tensor(lengths))
    assert tokens.shape[0] == 2 and tokens.shape[1] <= 12
    assert weights.shape == (2, tokens.shape[1], src.shape[1])
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all(weights[1, :, lengths[1]:] == 0)       # padding gets no attention
    assert all(0 <= t < len(S.TGT_VOCAB) and t != S.SOS for t in tokens.ravel())


def _sequence_logprob(model, src, lengths, tokens):
    """log p(tokens | src) by teacher forcing, up to and including <eos>."""
    N, T = tokens.shape
    tgt_in = np.concatenate([np.full((N, 1), S.SOS), tokens[:, :-1]], 1)
    with shendu.no_grad():
        logits = model(shendu.tensor(src), shendu.tensor(lengths), shendu.tensor(tgt_in))
        logp = shendu.nn.functional.log_softmax(logits, -1).numpy()
    total = np.zeros(N)
    for i in range(N):
        for t in range(T):
            total[i] += logp[i, t, tokens[i, t]]
            if tokens[i, t] == S.EOS:
                break
    return total


def test_beam_search_against_greedy(trained):
    model = trained["model"]
    sources, _ = S.held_out_set(40, seed=7)
    src, lengths = S.encode_batch(sources)
    args = (shendu.tensor(src), shendu.tensor(lengths))
    g, _ = model.greedy_decode(*args)
    b1, _ = model.beam_search(*args, beam=1)
    n = min(g.shape[1], b1.shape[1])
    np.testing.assert_array_equal(b1[:, :n], g[:, :n])   # beam 1 is greedy
    b4, attn = model.beam_search(*args, beam=4)
    assert attn.shape[:2] == b4.shape
    # the beam finds sequences at least as likely as greedy's
    pad = lambda a, T: np.pad(a, ((0, 0), (0, T - a.shape[1])))  # noqa: E731
    T = max(g.shape[1], b4.shape[1])
    lg = _sequence_logprob(model, src, lengths, pad(g, T))
    lb = _sequence_logprob(model, src, lengths, pad(b4, T))
    assert np.all(lb >= lg - 1e-4)


@pytest.mark.parametrize("cell,attention,tf", [("LSTM", "additive", 0.5), ("GRU", "additive", 1.0),
                                               ("LSTM", "general", 0.0)])
def test_variants_train(cell, attention, tf):
    res = S.train(steps=12, batch_size=16, embed=8, hidden=16, cell=cell, attention=attention,
                  teacher_forcing=tf, eval_size=20, beam=2, verbose=False)
    assert np.all(np.isfinite(res["history"])) and res["history"][-1] < res["history"][0]


def test_plot_attention(trained, tmp_path):
    path = S.plot_attention(trained["model"], ["3 mar 1994", "1/2/03"], tmp_path / "a.png")
    assert (tmp_path / "a.png").stat().st_size > 5000


def test_cli_runs(tmp_path, capsys):
    assert S.main(["--steps", "3", "--hidden", "8", "--embed", "4", "--batch-size", "8",
                   "--beam", "2", "--plot", str(tmp_path / "p.png")]) == 0
    out = capsys.readouterr().out
    assert "held-out exact match" in out and "'3/3/94' →" in out


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell must be"):
        S.Seq2Seq(cell="RNN")
    with pytest.raises(ValueError, match="attention must be"):
        S.Seq2Seq(attention="cosine")
