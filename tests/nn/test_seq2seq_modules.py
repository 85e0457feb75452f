"""nn.Seq2SeqEncoder / AttentionDecoder / Seq2Seq as reusable modules (the date example
builds on them; tests/nn/test_seq2seq.py trains it): shapes for every cell and attention,
gradients reach every parameter, greedy decoding equals beam search of width 1."""
import numpy as np
import pytest

import shendu
from shendu import nn


@pytest.mark.parametrize("cell,attention,bi", [("GRU", "general", True), ("LSTM", "dot", False),
                                               ("LSTM", "additive", True)])
def test_shapes_gradients_and_decoding(cell, attention, bi):
    shendu.manual_seed(0)
    enc = nn.Seq2SeqEncoder(11, 6, 8, cell=cell, bidirectional=bi, padding_idx=0)
    if attention == "dot" and enc.memory_size != 8:
        pytest.skip("dot needs equal sizes")
    dec = nn.AttentionDecoder(9, 5, 8, enc.memory_size, cell=cell, attention=attention)
    model = nn.Seq2Seq(enc, dec, sos=1, eos=2, pad=0)
    src = shendu.tensor([[3, 4, 5, 6], [7, 8, 0, 0], [9, 0, 0, 0]])
    lengths = shendu.tensor([4, 2, 1])
    tgt_in = shendu.tensor([[1, 3, 4], [1, 5, 0], [1, 6, 7]])
    logits = model(src, lengths, tgt_in)
    assert tuple(logits.shape) == (3, 3, 9)
    logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == [], missing
    mixed = model(src, lengths, tgt_in, teacher_forcing=0.0, rng=np.random.default_rng(0))
    assert tuple(mixed.shape) == (3, 3, 9)
    model.eval()
    g, w = model.greedy_decode(src, lengths, max_len=5)
    b, wb = model.beam_search(src, lengths, beam=1, max_len=5)
    n = min(g.shape[1], b.shape[1])
    np.testing.assert_array_equal(g[:, :n], b[:, :n])
    assert w.shape == (3, g.shape[1], 4) and np.all(w[2, :, 1:] == 0)   # padding unattended
    b3, _ = model.beam_search(src, lengths, beam=3, max_len=5)
    assert b3.shape[0] == 3 and b3.shape[1] <= 5


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell must be 'GRU' or 'LSTM'"):
        nn.Seq2SeqEncoder(5, 4, 4, cell="RNN")
    with pytest.raises(ValueError, match="attention must be"):
        nn.AttentionDecoder(5, 4, 4, 8, attention="cosine")
