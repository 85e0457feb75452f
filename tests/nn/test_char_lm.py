"""The character-level LSTM language model example: the shipped text, batching,
truncated BPTT, a short training run, perplexity and sampling."""
import math

import numpy as np
import pytest

import shendu
from shendu.examples import char_lm as C


def test_shipped_text_and_split():
    with open(C.TEXT_PATH, encoding="utf-8") as f:
        text = f.read()
    assert "public domain (CC0 1.0 Universal)" in text and 4000 < len(text) < 100_000
    train, valid, vocab = C.load_text()
    assert len(train) + len(valid) == len(text)
    assert abs(len(valid) - len(text) // 10) <= 1
    assert "".join(vocab[i] for i in train[:5]) == text[:5]
    assert vocab == sorted(set(text))


def test_batchify_streams():
    ids = np.arange(23)
    b = C.batchify(ids, 4)
    assert b.shape == (5, 4)
    np.testing.assert_array_equal(b[:, 1], np.arange(5, 10))   # each column a contiguous stream


def test_detach_state_cuts_the_graph():
    m = C.CharLM(10, embed=4, hidden=6, num_layers=1)
    _, state = m(shendu.tensor(np.zeros((3, 2), dtype=np.int64)))
    assert all(s.grad_fn is not None for s in state)
    cut = C.detach_state(state)
    assert all(s.grad_fn is None and not s.requires_grad for s in cut)
    np.testing.assert_array_equal(cut[0].numpy(), state[0].detach().numpy())
    assert C.detach_state(None) is None


def test_truncated_bptt_horizon():
    """With the carried state detached, the loss of chunk 2 has no gradient path into
    chunk 1's inputs; without detaching it does."""
    shendu.manual_seed(0)
    m = C.CharLM(10, embed=4, hidden=6, num_layers=1, dropout=0.0)
    x1 = m.embed(shendu.tensor(np.ones((4, 2), dtype=np.int64)))
    x1.retain_grad()
    h1, state = m.lstm(x1)
    for carry, reach in ((C.detach_state(state), False), (state, True)):
        h2, _ = m.lstm(m.embed(shendu.tensor(np.ones((4, 2), dtype=np.int64))), carry)
        x1.grad = None
        h2.sum().backward(retain_graph=True)
        assert (x1.grad is not None and float(x1.grad.abs().sum()) > 0) == reach


def test_short_training(tmp_path):
    res = C.train(steps=25, batch_size=8, bptt=24, embed=8, hidden=32, num_layers=2,
                  lr=1e-2, verbose=False)
    h = res["history"]
    assert np.mean(h[-5:]) < np.mean(h[:3]) - 0.5
    V = len(res["vocab"])
    assert res["perplexity_start"] > 0.6 * V          # untrained: close to uniform
    assert math.isfinite(res["perplexity"]) and res["perplexity"] < 0.6 * res["perplexity_start"]
    text = C.sample(res["model"], res["vocab"], "The fox ", length=50, seed=1)
    assert text.startswith("The fox ") and len(text) == 58
    assert set(text) <= set(res["vocab"])
    assert C.sample(res["model"], res["vocab"], "The ", 20, seed=3) == \
        C.sample(res["model"], res["vocab"], "The ", 20, seed=3)
    assert res["model"].training                       # sample/perplexity restore the mode


def test_no_carry_option_and_cli(capsys):
    res = C.train(steps=3, batch_size=4, bptt=8, embed=4, hidden=8, num_layers=1, carry=False,
                  verbose=False)
    assert len(res["history"]) == 3
    assert C.main(["--steps", "2", "--hidden", "8", "--layers", "1", "--bptt", "8",
                   "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "validation perplexity" in out and "--- sampled text ---" in out


def test_perplexity_of_a_known_model():
    """A model whose logits are constant zero predicts uniformly: perplexity = V."""
    m = C.CharLM(7, embed=3, hidden=4, num_layers=1)
    with shendu.no_grad():
        m.out.weight.zero_()
        m.out.bias.zero_()
    assert C.perplexity(m, np.arange(50) % 7) == pytest.approx(7.0, rel=1e-5)


def test_shared_loop_keeps_the_best_validated_weights():
    from shendu.examples._loop import run_steps
    shendu.manual_seed(0)
    m = shendu.nn.Linear(3, 1)
    x = shendu.randn(8, 3)
    scores = iter([3.0, 1.0, 2.0])
    seen = []

    def validate():
        seen.append(m.weight.detach().numpy().copy())
        return next(scores)
    history, seconds, curve = run_steps(m, lambda step: (m(x) ** 2).mean(), 3, lr=0.1, clip=1.0,
                                        verbose=False, validate=validate, validate_every=1)
    assert curve == [(1, 3.0), (2, 1.0), (3, 2.0)] and len(history) == 3 and seconds > 0
    np.testing.assert_array_equal(m.weight.detach().numpy(), seen[1])
    assert not np.array_equal(seen[1], seen[2])
