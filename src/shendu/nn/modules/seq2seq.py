"""Sequence to sequence with attention (seed 004 "seq2seq attention机制"; Luong et al. 2015),
as reusable modules: an encoder, an attentive decoder, and the model that joins them with
teacher-forced training and greedy or beam-search decoding.

* :class:`Seq2SeqEncoder` — token embeddings → a (bidirectional) GRU or LSTM over the
  packed source; returns the encoder states (memory), the padding mask and the decoder's
  first state (both directions' final states through ``tanh(W [h→; h←])``).
* :class:`AttentionDecoder` — embeddings of the target inputs → a GRU/LSTM; each output
  attends over the memory (Luong "general"/"dot" or Bahdanau "additive") and
  ``tanh(W [h; context])`` feeds the output layer.
* :class:`Seq2Seq` — ``forward`` gives training logits (teacher forcing, optionally mixed
  with the model's own predictions), ``greedy_decode`` and ``beam_search`` generate.

Shapes: source tokens (N, S) int64 padded with ``pad``, lengths (N,); target inputs (N, T)
starting with ``sos``; logits (N, T, vocab); attention weights (N, T, S).
"""
import numpy as np

from .module import Module
from .linear import Linear
from .sparse import Embedding
from .rnn import GRU, LSTM
from .attention import LuongAttention, BahdanauAttention
from ..utils.rnn import pack_padded_sequence, pad_packed_sequence
from ..._ops.elementwise import where
from ..._ops.activation import tanh
from ..._ops.shape import cat
from ..._ops.activation import log_softmax
from ...autograd import grad_mode
from ..._tensor import _make

__all__ = ["Seq2SeqEncoder", "AttentionDecoder", "Seq2Seq"]

_CELLS = {"GRU": GRU, "LSTM": LSTM}


def _cell(cell):
    if cell not in _CELLS:
        raise ValueError(f"cell must be 'GRU' or 'LSTM', got {cell!r}")
    return _CELLS[cell]


def _map_state(state, fn):
    """Apply fn to a GRU state or to both parts of an LSTM state."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


class Seq2SeqEncoder(Module):
    """``Seq2SeqEncoder(vocab_size, embed_dim, hidden_size, cell="GRU", bidirectional=True,
    padding_idx=0)``: ``forward(src, lengths)`` → (memory (N, S, dirs·H), mask (N, S) True at
    padding, decoder state (1, N, H) — a pair for the LSTM)."""

    def __init__(self, vocab_size, embed_dim, hidden_size, cell="GRU", bidirectional=True,
                 padding_idx=0):
        super().__init__()
        RNN = _cell(cell)
        self.cell, self.padding_idx, self.hidden_size = cell, padding_idx, hidden_size
        self.embed = Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.rnn = RNN(embed_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.bridge = Linear((2 if bidirectional else 1) * hidden_size, hidden_size)

    @property
    def memory_size(self):
        return self.bridge.in_features

    def forward(self, src, lengths):
        packed = pack_padded_sequence(self.embed(src), lengths, batch_first=True,
                                      enforce_sorted=False)
        out, h = self.rnn(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])

        def bridge(s):                       # (dirs, N, H) → (1, N, H)
            return tanh(self.bridge(cat(list(s.unbind(0)), -1))).unsqueeze(0)
        return memory, src == self.padding_idx, _map_state(h, bridge)


class AttentionDecoder(Module):
    """``AttentionDecoder(vocab_size, embed_dim, hidden_size, memory_size, cell="GRU",
    attention="general")`` (attention: "general", "dot" or "additive"):
    ``forward(tgt_in, state, memory, mask)`` → (logits (N, T, V), new state,
    attention weights (N, T, S))."""

    def __init__(self, vocab_size, embed_dim, hidden_size, memory_size, cell="GRU",
                 attention="general"):
        super().__init__()
        if attention not in ("general", "dot", "additive"):
            raise ValueError(f"attention must be 'general' or 'dot' (Luong) or 'additive' "
                             f"(Bahdanau), got {attention!r}")
        RNN = _cell(cell)
        self.embed = Embedding(vocab_size, embed_dim)
        self.rnn = RNN(embed_dim, hidden_size, batch_first=True)
        if attention == "additive":
            self.attention = BahdanauAttention(hidden_size, memory_size, hidden_size)
        else:
            self.attention = LuongAttention(hidden_size, memory_size, score=attention)
        self.combine = Linear(hidden_size + memory_size, hidden_size)
        self.out = Linear(hidden_size, vocab_size)

    def forward(self, tgt_in, state, memory, mask=None):
        out, state = self.rnn(self.embed(tgt_in), state)
        ctx, weights = self.attention(out, memory, key_padding_mask=mask)
        logits = self.out(tanh(self.combine(cat([out, ctx], -1))))
        return logits, state, weights


class Seq2Seq(Module):
    """``Seq2Seq(encoder, decoder, sos=1, eos=2, pad=0)``: any encoder returning
    (memory, mask, state) and decoder taking (tgt_in, state, memory, mask)."""

    def __init__(self, encoder, decoder, sos=1, eos=2, pad=0):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.sos, self.eos, self.pad = sos, eos, pad

    def forward(self, src, lengths, tgt_in, teacher_forcing=1.0, rng=None):
        """Training logits (N, T, V). With ``teacher_forcing`` 1 every decoder input is the
        true previous token and all steps run at once; below 1, each step feeds back the
        model's own prediction with probability 1 − teacher_forcing (scheduled sampling)."""
        memory, mask, state = self.encoder(src, lengths)
        if teacher_forcing >= 1.0:
            return self.decoder(tgt_in, state, memory, mask)[0]
        rng = rng or np.random.default_rng()
        steps, y = [], tgt_in[:, :1]
        for t in range(tgt_in.shape[1]):
            logits, state, _ = self.decoder(y, state, memory, mask)
            steps.append(logits)
            if t + 1 < tgt_in.shape[1]:
                own = logits.detach().argmax(-1)
                use_true = _const(rng.random((tgt_in.shape[0], 1)) < teacher_forcing)
                y = where(use_true, tgt_in[:, t + 1:t + 2], own)
        return cat(steps, 1)

    @grad_mode.no_grad()
    def greedy_decode(self, src, lengths, max_len=50):
        """The most likely token at every step: (tokens (N, ≤max_len) int64 array, padded
        after ``eos``; attention (N, ≤max_len, S))."""
        memory, mask, state = self.encoder(src, lengths)
        y = np.full((src.shape[0], 1), self.sos, dtype=np.int64)
        tokens, weights = [], []
        finished = np.zeros(src.shape[0], dtype=bool)
        for _ in range(max_len):
            logits, state, w = self.decoder(_const(y), state, memory, mask)
            tok = logits.argmax(-1).numpy()
            tok[finished] = self.pad                   # nothing after <eos>
            finished |= tok[:, 0] == self.eos
            tokens.append(tok)
            weights.append(w.numpy())
            if finished.all():
                break
            y = tok
        return np.concatenate(tokens, 1), np.concatenate(weights, 1)

    @grad_mode.no_grad()
    def beam_search(self, src, lengths, beam=4, max_len=50):
        """Keep the ``beam`` best partial outputs (by total log-probability) of every
        example; a finished one (``eos``) keeps its score and extends only by padding.
        Returns the best sequence of each example (N, ≤max_len) and its attention."""
        N = src.shape[0]
        memory, mask, state = self.encoder(src, lengths)
        rep = _const(np.repeat(np.arange(N), beam))
        memory, mask = memory[rep], mask[rep]
        state = _map_state(state, lambda s: s[:, rep])
        scores = np.full((N, beam), -np.inf)
        scores[:, 0] = 0.0                             # all beams start as the same <sos>
        tokens = np.zeros((N * beam, 0), dtype=np.int64)
        attn = np.zeros((N * beam, 0, src.shape[1]))
        done = np.zeros(N * beam, dtype=bool)
        y = np.full((N * beam, 1), self.sos, dtype=np.int64)
        for _ in range(max_len):
            logits, state, w = self.decoder(_const(y), state, memory, mask)
            logp = log_softmax(logits[:, 0], -1).numpy()
            V = logp.shape[1]
            logp[done] = -np.inf
            logp[done, self.pad] = 0.0
            cand = (scores.reshape(-1, 1) + logp).reshape(N, beam * V)
            best = np.argsort(-cand, axis=1, kind="stable")[:, :beam]
            scores = np.take_along_axis(cand, best, 1)
            src_beam = (np.arange(N)[:, None] * beam + best // V).reshape(-1)
            tok = (best % V).reshape(-1)
            pick = _const(src_beam)
            state = _map_state(state, lambda s: s[:, pick])
            tokens = np.concatenate([tokens[src_beam], tok[:, None]], 1)
            attn = np.concatenate([attn[src_beam], w.numpy()[src_beam]], 1)
            done = done[src_beam] | (tok == self.eos)
            y = tok[:, None]
            if done.all():
                break
        first = np.arange(N) * beam                    # beams are sorted: the first is best
        return tokens[first], attn[first]


def _const(arr):
    return _make(np.asarray(arr), None, 0)
