"""Recurrent ops: the RNN, LSTM and GRU cells and the recurrence that runs a cell over a
sequence, trained by backpropagation through time (BPTT). Seed 004 gives the forward
equations of the three cells and derives BPTT: the recurrent weights are updated along
two paths, back through time (W) and back to the inputs (U), like plain backprop.

The cell equations, written once each (``rnn_tanh_cell``, ``rnn_relu_cell``,
``lstm_cell``, ``gru_cell``), as torch defines them::

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)               (or relu)
    LSTM  i, f, g, o = σ, σ, tanh, σ of (W_ih x + b_ih + W_hh h + b_hh), split in four
          c' = f * c + i * g             h' = o * tanh(c')
    GRU   r, z = σ(W_ir x + b_ir + W_hr h + b_hr), σ(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn))          h' = (1 - z) * n + z * h

Every gate of a step comes from two matrix products: ``gi = x W_ih^T + b_ih`` for all
time steps at once (one matmul over the whole sequence, before the loop), then
``gh = h W_hh^T + b_hh`` once per step (the four LSTM gates, or three GRU gates, in one
product). A cell function receives ``gi``, ``gh`` and the state and returns the new state
plus the activations its backward needs. It is written with operators and ``F.sigmoid``
/ ``F.tanh`` / ``F.relu`` on Tensors: the differentiable path that ``create_graph``
differentiates. The array path runs the same equations through ``backend.rnn``'s step
routines (in place on the gate block, one fused pass per step backward), and the tests
hold the two together.

:class:`Recurrence` is one layer in one direction over a whole sequence in one graph node:
its forward loops over the time steps on arrays, its backward loops back over them
(BPTT) giving the gate gradients of every step, from which the weight gradients are
one matrix product each (dW_hh = Σ_t dgates_t^T h_{t-1}). Python overhead is then per
step, not per op. With ``create_graph=True`` the node's backward instead rebuilds the
forward from the differentiable cell function and differentiates that (so gradients of
gradients, gradgradcheck and Hessians work).

Sequences are handled in PyTorch's packed layout: rows of ``data`` are time-major, step
``t`` holds ``batch_sizes[t]`` rows (the sequences still running, longest first). A
padded batch of T steps is the packed layout with ``batch_sizes = (B,) * T``, so fixed
and variable lengths run through the same loop; a sequence that has ended keeps its
state, so the final state of each sequence is the one after its last real step.
"""
import functools

import numpy as np

from ..autograd.function import Node
from . import activation as _A
from ..backend import rnn as _br
from .dropout import dropout as _dropout
from .linear import linear
from .shape import cat, stack, _alias
from .fused import fused_grads

__all__ = []


# ------------------------------------------------------------------ the cells
class _TensorMath:
    """The ``F`` of the cell functions on Tensors (differentiable)."""
    tanh = staticmethod(_A.tanh)
    sigmoid = staticmethod(_A.sigmoid)
    relu = staticmethod(_A.relu)


def rnn_tanh_cell(gi, gh, state, F):
    h = F.tanh(gi + gh)
    return (h,), (h,)


def rnn_relu_cell(gi, gh, state, F):
    h = F.relu(gi + gh)
    return (h,), (h,)


def lstm_cell(gi, gh, state, F, peephole=None):
    """``peephole = (w_ci, w_cf, w_co)`` gives seed 004's variant 1 (Gers & Schmidhuber):
    the input and forget gates also see c_{t-1}, the output gate sees c_t, each through a
    diagonal weight (a vector of hidden_size)."""
    c = state[1]
    H = c.shape[-1]
    a = gi + gh
    if peephole is None:
        s = F.sigmoid(a)                      # one call for the three sigmoid gates
        i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
        g = F.tanh(a[:, 2 * H:3 * H])
        c2 = f * c + i * g
    else:
        w_ci, w_cf, w_co = peephole
        i = F.sigmoid(a[:, :H] + w_ci * c)
        f = F.sigmoid(a[:, H:2 * H] + w_cf * c)
        g = F.tanh(a[:, 2 * H:3 * H])
        c2 = f * c + i * g
        o = F.sigmoid(a[:, 3 * H:] + w_co * c2)
    tc = F.tanh(c2)
    return (o * tc, c2), (i, f, g, o, tc)


def lstm_coupled_cell(gi, gh, state, F):
    """The LSTM with coupled input and forget gates (seed 004's variant 2; Greff et al.
    2017's CIFG): one gate f decides both what to forget and what to write, i = 1 − f.
    Three gate blocks f, g, o::

        c' = f * c + (1 − f) * g        h' = o * tanh(c')
    """
    c = state[1]
    H = c.shape[-1]
    a = gi + gh
    f = F.sigmoid(a[:, :H])
    g = F.tanh(a[:, H:2 * H])
    o = F.sigmoid(a[:, 2 * H:])
    c2 = g + f * (c - g)
    tc = F.tanh(c2)
    return (o * tc, c2), (f, g, o, tc)


def gru_cell(gi, gh, state, F):
    h = state[0]
    H = h.shape[-1]
    rz = F.sigmoid(gi[:, :2 * H] + gh[:, :2 * H])
    r, z = rz[:, :H], rz[:, H:]
    ghn = gh[:, 2 * H:]
    n = F.tanh(gi[:, 2 * H:] + r * ghn)
    return (n + z * (h - n),), (r, z, n, ghn)


class _Cell:
    """A cell kind: its maths (for the differentiable path), gates per hidden unit, whether
    the array path's step routines of ``backend.rnn`` run it (``fused``; without them the
    sequence runs as a graph of differentiable ops, :func:`recurrence_graph`), and the keyword
    under which the cell takes a layer's extra weights (the peepholes)."""

    def __init__(self, name, fn, gates, fused=True, extra=None):
        self.name, self.fn, self.gates, self.fused, self.extra = name, fn, gates, fused, extra

    def __repr__(self):
        return self.name


CELLS = {"RNN_TANH": _Cell("RNN_TANH", rnn_tanh_cell, 1),
         "RNN_RELU": _Cell("RNN_RELU", rnn_relu_cell, 1),
         "LSTM": _Cell("LSTM", lstm_cell, 4),
         "GRU": _Cell("GRU", gru_cell, 3),
         "LSTM_PEEPHOLE": _Cell("LSTM_PEEPHOLE", lstm_cell, 4, fused=False, extra="peephole"),
         "LSTM_COUPLED": _Cell("LSTM_COUPLED", lstm_coupled_cell, 3, fused=False)}


# ------------------------------------------------------------------ the recurrence
def _offsets(batch_sizes):
    off = [0]
    for b in batch_sizes:
        off.append(off[-1] + b)
    return off


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


class Recurrence(Node):
    """One layer, one direction, the whole sequence.

    Inputs: ``gi`` (N, G·H) the input projections of all N packed rows, ``h0`` (B, P),
    ``c0`` (B, H) or None, ``w_hh`` (G·H, P), ``b_hh`` or None, ``w_hr`` (P, H) or None
    (LSTM projection; P = H without it). Outputs: the hidden state of every row (N, P),
    the final h (B, P) and, for the LSTM, the final c (B, H)."""
    save_inputs = True

    def forward(self, gi, h0, c0, w_hh, b_hh, w_hr, *, cell, batch_sizes, reverse):
        self.cell, self.batch_sizes, self.reverse = cell, batch_sizes, reverse
        kind, off = cell.name, _offsets(batch_sizes)
        N, H, dt = gi.shape[0], gi.shape[1] // cell.gates, gi.dtype
        gru = kind == "GRU"
        # every row's gate block: the pre-activations, turned into the activations in place
        # (what backward needs). b_hh joins once here, except the GRU's (r multiplies b_hn).
        acts = self.acts = gi + b_hh if b_hh is not None and not gru else gi.copy()
        state = [h0.copy()] if c0 is None else [h0.copy(), c0.copy()]
        out = np.empty((N, h0.shape[1]), dt)
        keep = self._needs_grad
        hprev = self.hprev = np.empty_like(out) if keep else None     # h_{t-1} of every row
        if kind == "LSTM":
            cprev = self.cprev = np.empty((N, H), dt) if keep else None
            tc = self.tc = np.empty((N, H), dt)
            hraw = self.hraw = out if w_hr is None else np.empty((N, H), dt)
        elif gru:
            ghn = self.ghn = np.empty((N, H), dt) if keep else None
        for t in _steps(len(batch_sizes), reverse):
            s, e = off[t], off[t + 1]
            h, a = state[0][:e - s], acts[s:e]
            if keep:
                hprev[s:e] = h
            gh = (w_hh @ h.T).T             # = h W_hh^T; OpenBLAS is ~1.5x faster this way round
            if kind == "LSTM":
                c = state[1][:e - s]
                if keep:
                    cprev[s:e] = c
                a += gh
                _br.lstm_forward(a, c, tc[s:e], hraw[s:e])     # c becomes c_t
                if w_hr is not None:
                    np.matmul(hraw[s:e], w_hr.T, out=out[s:e])
            elif gru:
                if b_hh is not None:
                    gh += b_hh
                _br.gru_forward(a, gh, h, out[s:e])
                if keep:
                    ghn[s:e] = gh[:, 2 * H:]
            else:
                a += gh
                _br.rnn_forward(a, kind == "RNN_RELU")
                out[s:e] = a
            h[...] = out[s:e]
        return (out, *state)

    def backward(self, gout, *gstate):
        graph = functools.partial(_recurrence_grads_graph, cell=self.cell,
                                  batch_sizes=self.batch_sizes, reverse=self.reverse,
                                  need=self.needs_input_grad)
        return fused_grads(self.needs_input_grad, self._grads_arrays, graph, gout, *gstate,
                           *self.saved_tensors)

    def _grads_arrays(self, dout, *rest):
        """BPTT on the arrays kept by forward: the six input gradients. Each step is one
        fused gate routine (``backend.rnn``) and one GEMM back to h_{t-1}; the weight
        gradients are one GEMM each over all steps."""
        n = len(rest) - 6
        dstate = [g.copy() for g in rest[:n]]
        gi, h0, c0, w_hh, b_hh, w_hr = rest[n:]
        kind, bs = self.cell.name, self.batch_sizes
        off = _offsets(bs)
        gru = kind == "GRU"
        acts = self.acts
        dgi = np.empty_like(gi)
        dgh = np.empty_like(gi) if gru else dgi     # the same but in the GRU
        if gru:
            direct = np.empty_like(dstate[0])
        if w_hr is not None:
            dproj = np.empty_like(dout)
        for t in _steps(len(bs), not self.reverse):
            s, e = off[t], off[t + 1]
            b = e - s
            dh = dstate[0][:b]
            dh += dout[s:e]
            if w_hr is not None:
                dproj[s:e] = dh
                dh = dh @ w_hr
            if kind == "LSTM":
                _br.lstm_backward(dh, dstate[1][:b], acts[s:e], self.tc[s:e], self.cprev[s:e],
                                  dgi[s:e])
            elif gru:
                _br.gru_backward(dh, acts[s:e], self.ghn[s:e], self.hprev[s:e], dgi[s:e],
                                 dgh[s:e], direct[:b])
            else:
                _br.rnn_backward(dh, acts[s:e], dgi[s:e], kind == "RNN_RELU")
            np.matmul(dgh[s:e], w_hh, out=dstate[0][:b])
            if gru:
                dstate[0][:b] += direct[:b]
        need = self.needs_input_grad
        return (dgi if need[0] else None, dstate[0] if need[1] else None,
                dstate[1] if c0 is not None and need[2] else None,
                dgh.T @ self.hprev if need[3] else None,
                np.ones(dgh.shape[0], dtype=dgh.dtype) @ dgh if need[4] else None,
                dproj.T @ self.hraw if w_hr is not None and need[5] else None)


def _recurrence_grads_graph(gout, *rest, cell, batch_sizes, reverse, need):
    """Recurrence's six input gradients with shendu ops: the forward rebuilt from
    differentiable ops, differentiated (so differentiable again)."""
    from ..autograd import grad
    n = len(rest) - 6
    ins = list(rest[n:])
    for k, x in enumerate(ins):
        if need[k]:
            ins[k] = _alias(x)                 # a distinct tensor per input position
    outs = recurrence_graph(cell, *ins, batch_sizes, reverse)
    wanted = [k for k in range(6) if need[k]]
    gs = grad(outs, [ins[k] for k in wanted], (gout,) + tuple(rest[:n]), create_graph=True,
              allow_unused=True)
    res = [None] * 6
    for k, g in zip(wanted, gs):
        res[k] = g
    return tuple(res)


def recurrence_graph(cell, gi, h0, c0, w_hh, b_hh, w_hr, batch_sizes, reverse, extra=None):
    """What :class:`Recurrence` computes, built from differentiable ops step by step
    (``extra``: the cell's extra weights, e.g. the peepholes)."""
    kw = {cell.extra: extra} if cell.extra else {}
    off = _offsets(batch_sizes)
    state = [h0] if c0 is None else [h0, c0]
    B = h0.shape[0]
    outs = [None] * len(batch_sizes)
    for t in _steps(len(batch_sizes), reverse):
        s, e = off[t], off[t + 1]
        b = e - s
        cur = [x if b == B else x[:b] for x in state]
        new, _ = cell.fn(gi[s:e], linear(cur[0], w_hh, b_hh), cur, _TensorMath, **kw)
        new = list(new)
        if w_hr is not None:
            new[0] = linear(new[0], w_hr)
        outs[t] = new[0]
        state = [n if b == B else cat([n, x[b:]]) for n, x in zip(new, state)]
    return (cat(outs), *state)


def rnn_cell(mode, input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step of a cell on a 2-D batch: h' (or (h', c') for the LSTM)."""
    h, c = hx if mode == "LSTM" else (hx, None)
    res = Recurrence.apply(linear(input, w_ih, b_ih), h, c, w_hh, b_hh, None, cell=CELLS[mode],
                           batch_sizes=(input.shape[0],), reverse=False)
    return (res[1], res[2]) if mode == "LSTM" else res[1]


def rnn_layers(mode, data, batch_sizes, h0, c0, weights, num_layers, bidirectional,
               dropout=0.0, training=False):
    """The stacked (and bidirectional) recurrence behind nn.RNN / LSTM / GRU.

    ``data`` (N, input_size) are packed time-major rows, ``h0``/``c0`` (layers·dirs, B, ·)
    the initial states, ``weights[layer·dirs + d]`` = (w_ih, w_hh, b_ih, b_hh, w_hr[,
    extra]) with ``extra`` the cell's own weights (the peepholes). Returns ``(output rows
    (N, dirs·P), h_n, c_n or None)``. Dropout (training only) is applied to the input of
    every layer but the first. Cells without a fused backward run as a graph."""
    cell = CELLS[mode]
    dirs = 2 if bidirectional else 1
    bs = tuple(int(b) for b in batch_sizes)
    x = data
    hs, cs = [], []
    for layer in range(num_layers):
        if layer and dropout > 0 and training:
            x = _dropout(x, dropout, True)
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            w_ih, w_hh, b_ih, b_hh, w_hr = weights[k][:5]
            gi, c_k = linear(x, w_ih, b_ih), None if c0 is None else c0[k]
            if not cell.fused:
                res = recurrence_graph(cell, gi, h0[k], c_k, w_hh, b_hh, w_hr, bs, d == 1,
                                       weights[k][5] if len(weights[k]) > 5 else None)
            else:
                res = Recurrence.apply(gi, h0[k], c_k, w_hh, b_hh, w_hr, cell=cell,
                                       batch_sizes=bs, reverse=d == 1)
            outs.append(res[0])
            hs.append(res[1])
            if c0 is not None:
                cs.append(res[2])
        x = outs[0] if dirs == 1 else cat(outs, 1)
    return x, stack(hs), (stack(cs) if c0 is not None else None)


# ------------------------------------------------------------------ packing rows
class GatherRows(Node):
    """``x[index]`` along dim 0 for distinct indices (packing a padded batch); its
    backward puts the rows back (:class:`ScatterRows`)."""

    def forward(self, x, index):
        self.index, self.n = index, x.shape[0]
        return x[index]

    def backward(self, gy):
        return ScatterRows.apply(gy, self.index, self.n, 0.0), None


class ScatterRows(Node):
    """A tensor of ``n`` rows filled with ``fill`` and ``x[k]`` at row ``index[k]``
    (padding packed rows); its backward gathers the rows again."""

    def forward(self, x, index, n, fill):
        self.index = index
        out = np.full((n,) + x.shape[1:], fill, dtype=x.dtype)
        out[index] = x
        return out

    def backward(self, gy):
        return GatherRows.apply(gy, self.index), None, None, None


def peephole_lstm_cell(input, hx, w_ih, w_hh, w_ci, w_cf, w_co, b_ih=None, b_hh=None):
    """One step of the peephole LSTM (seed 004 变体1) on a 2-D batch: (h', c')."""
    new, _ = lstm_cell(linear(input, w_ih, b_ih), linear(hx[0], w_hh, b_hh), hx, _TensorMath,
                       peephole=(w_ci, w_cf, w_co))
    return new
