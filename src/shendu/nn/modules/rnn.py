"""Recurrent layers (seed 004's RNN, LSTM and GRU forward equations), with torch's
interface and parameter names:
``RNN`` (tanh / relu), ``LSTM`` (optional projection), ``GRU``; the cells ``RNNCell``,
``LSTMCell``, ``GRUCell``; and seed 004's two LSTM variants, not in torch: the peephole
LSTM (``PeepholeLSTMCell``, ``PeepholeLSTM``) and the coupled input-forget gate
(``CoupledLSTM``).

The layers take a padded tensor ``(T, B, input_size)`` (``(B, T, ·)`` with batch_first),
an unbatched ``(T, input_size)`` or a :class:`~shendu.nn.utils.rnn.PackedSequence`; the
maths is in ``shendu._ops.rnn`` (one fused node per layer and direction).
"""
import math
import numbers
import warnings

import numpy as np

from .module import Module, LayerInputError
from ..parameter import Parameter
from .. import init
from ... import _creation
from ..._ops import rnn as _R
from ..utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
           "PeepholeLSTMCell", "PeepholeLSTM", "CoupledLSTM"]

def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero")


def _check_dtype(input, weight):
    if input.dtype != weight.dtype:
        raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                         f"({weight.dtype}). Convert input: input.to({weight.dtype}), or convert "
                         f"model: model.to({input.dtype})")


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU: parameters ``weight_ih_l{k}``,
    ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (and ``weight_hr_l{k}`` for the
    projected LSTM), ``_reverse`` for the backward direction, all initialised
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as torch."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if mode not in _R.CELLS:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        for name, v in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(v, bool):
                raise TypeError(f"{name} should be of type bool, got: {type(v).__name__}")
        _check_positive_int("input_size", input_size)
        _check_positive_int("hidden_size", hidden_size)
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size = _R.CELLS[mode].gates * hidden_size
        out_size = proj_size or hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(dirs):
                in_size = input_size if layer == 0 else out_size * dirs
                shapes = [("weight_ih", (gate_size, in_size)), ("weight_hh", (gate_size, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                names = [n + suffix for n, _ in shapes]
                for name, (_, shape) in zip(names, shapes):
                    setattr(self, name, Parameter(_creation.empty(*shape, dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """Nothing to do: there is no cuDNN weight buffer to compact."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _layer_weights(self):
        """Per layer and direction: (w_ih, w_hh, b_ih, b_hh, w_hr), None where absent."""
        out = []
        for names in self._all_weights:
            w = {n.rsplit("_l", 1)[0]: getattr(self, n) for n in names}
            out.append(tuple(w.get(k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                                 "weight_hr")))
        return out

    # ------------------------------------------------------------------ forward
    def _hidden_shapes(self, batch):
        n = self.num_layers * (2 if self.bidirectional else 1)
        h = (n, batch, self.proj_size or self.hidden_size)
        return (h, (n, batch, self.hidden_size)) if self.mode.startswith("LSTM") else (h,)

    def forward(self, input, hx=None):
        lstm = self.mode.startswith("LSTM")
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        batched = True
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            if data.dim() != 2:
                raise LayerInputError(f"input must have 2 dimensions, got {data.dim()} (packed "
                                      f"data of shape {tuple(data.shape)})")
            bs = np.asarray(batch_sizes._data, dtype=np.int64)
            B = int(bs[0])
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                                 "instead")
            batched = input.dim() == 3
            hxs = () if hx is None else (tuple(hx) if lstm else (hx,))
            want = 3 if batched else 2
            if any(h.dim() != want for h in hxs):
                dims = ", ".join(f"{h.dim()}-D" for h in hxs)
                what = "hx and cx" if lstm else "hx"
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(f"For {kind} input, {what} should also be {want}-D but got "
                                   + (f"({dims}) tensors" if lstm else f"{dims} tensor"))
            x = input
            if not batched:
                x = x.unsqueeze(0 if self.batch_first else 1)
                hx = None if hx is None else (tuple(h.unsqueeze(1) for h in hxs) if lstm
                                              else hxs[0].unsqueeze(1))
            if self.batch_first:
                x = x.transpose(0, 1)
            T, B = x.shape[0], x.shape[1]
            data = x.reshape(T * B, x.shape[2])
            bs = (B,) * T
            sorted_indices = unsorted_indices = None
        if data.shape[-1] != self.input_size:
            raise LayerInputError(f"got input of size {data.shape[-1]}, expected "
                                  f"input_size={self.input_size} (input of shape "
                                  f"{tuple((input.data if packed else input).shape)})")
        _check_dtype(data, self.weight_ih_l0)
        shapes = self._hidden_shapes(B)
        if hx is None:
            states = [_creation.zeros(*s, dtype=data.dtype) for s in shapes]
        else:
            states = list(hx) if lstm else [hx]
            for k, (h, s) in enumerate(zip(states, shapes)):
                if tuple(h.shape) != s:
                    what = f"hidden[{k}]" if lstm else "hidden"
                    raise LayerInputError(f"Expected {what} size {s}, got {list(h.shape)}")
            if sorted_indices is not None:
                states = [h.index_select(1, sorted_indices) for h in states]
        out, h_n, c_n = _R.rnn_layers(self.mode, data, bs, states[0], states[1] if lstm else None,
                                      self._layer_weights(), self.num_layers, self.bidirectional,
                                      self.dropout, self.training)
        hidden = [h_n, c_n] if lstm else [h_n]
        if unsorted_indices is not None:
            hidden = [h.index_select(1, unsorted_indices) for h in hidden]
        if packed:
            output = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
        else:
            output = out.reshape(T, B, out.shape[-1])
            if self.batch_first:
                output = output.transpose(0, 1)
            if not batched:
                output = output.squeeze(0 if self.batch_first else 1)
                hidden = [h.squeeze(1) for h in hidden]
        return output, (tuple(hidden) if lstm else hidden[0])

    def _describe(self):
        return f"{type(self).__name__} {self.input_size}→{self.hidden_size}"

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; returns (output, h_n)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if self.nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        super().__init__(modes[self.nonlinearity], *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o from one product per step,
    c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t) (then h_t W_hr^T with proj_size).
    Returns (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class _GraphLSTM(RNNBase):
    """The LSTM variants the notes give (seed 004) as sequence layers: the interface of
    ``nn.LSTM`` (multi-layer, bidirectional, batch_first, dropout, packed sequences,
    (h, c) states) without ``proj_size``. They run as graphs of differentiable ops (no
    fused backward), so gradients of gradients work as everywhere."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


class PeepholeLSTM(_GraphLSTM):
    """A sequence of :class:`PeepholeLSTMCell` steps (seed 004 "变体1 peephole"; Gers &
    Schmidhuber 2000): the input and forget gates see c_{t-1}, the output gate c_t.
    Parameters as ``nn.LSTM`` plus ``weight_ci_l{k}``, ``weight_cf_l{k}``, ``weight_co_l{k}``
    (hidden_size,) per layer (``_reverse`` for the backward direction)."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM_PEEPHOLE", *args, **kwargs)
        for names in self._all_weights:
            suffix = "_l" + names[0].rsplit("_l", 1)[1]
            for gate in ("ci", "cf", "co"):
                name = f"weight_{gate}{suffix}"
                setattr(self, name, Parameter(_creation.empty(self.hidden_size,
                                                              dtype=self.weight_ih_l0.dtype)))
                names.append(name)
                self._flat_weights_names.append(name)
        self.reset_parameters()

    def _layer_weights(self):
        peep = [tuple(getattr(self, n) for n in names[-3:]) for names in self._all_weights]
        return [w + (p,) for w, p in zip(super()._layer_weights(), peep)]


class CoupledLSTM(_GraphLSTM):
    """The LSTM with coupled input and forget gates (seed 004 "变体2"; the CIFG of Greff et
    al. 2017): c' = f * c + (1 − f) * g, h' = o * tanh(c'). Three gate blocks (f, g, o), so
    ``weight_ih_l{k}`` is (3·hidden_size, input) — a quarter fewer weights than the LSTM."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM_COUPLED", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit: r, z, n gates, h_t = (1-z)*n + z*h_{t-1}. Returns
    (output, h_n)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# ---------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Parameters ``weight_ih`` (chunks·H, I), ``weight_hh`` (chunks·H, H), ``bias_ih``,
    ``bias_hh``, initialised U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(_creation.empty(num_chunks * hidden_size, input_size,
                                                   dtype=dtype))
        self.weight_hh = Parameter(_creation.empty(num_chunks * hidden_size, hidden_size,
                                                   dtype=dtype))
        if bias:
            self.bias_ih = Parameter(_creation.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(_creation.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prepare(self, input, hx, n_states):
        """Check and batch the input and states; returns (input, states, was_batched)."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        hxs = [] if hx is None else (list(hx) if n_states == 2 else [hx])
        for k, h in enumerate(hxs):
            if h.dim() not in (1, 2):
                what = f"hx[{k}]" if n_states == 2 else "hidden"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
            hxs = [h.unsqueeze(0) for h in hxs]
        if input.shape[1] != self.input_size:
            raise LayerInputError(f"got input of size {input.shape[1]}, expected "
                                  f"input_size={self.input_size}")
        B = input.shape[0]
        if not hxs:
            z = _creation.zeros(B, self.hidden_size, dtype=input.dtype)
            hxs = [z] * n_states
        for k, h in enumerate(hxs):
            if tuple(h.shape) != (B, self.hidden_size):
                raise LayerInputError(f"Expected hidden{k if n_states == 2 else ''} of shape "
                                      f"{(B, self.hidden_size)} (batch {B}, "
                                      f"hidden_size={self.hidden_size}), got {list(h.shape)}")
        return input, hxs, batched

    def _describe(self):
        return f"{type(self).__name__} {self.input_size}→{self.hidden_size}"

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if self.nonlinearity not in modes:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        x, (h,), batched = self._prepare(input, hx, 1)
        h = _R.rnn_cell(modes[self.nonlinearity], x, h, self.weight_ih, self.weight_hh,
                        self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, dtype=dtype)

    def forward(self, input, hx=None):
        x, hc, batched = self._prepare(input, hx, 2)
        h, c = _R.rnn_cell("LSTM", x, tuple(hc), self.weight_ih, self.weight_hh, self.bias_ih,
                           self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        h = _R.rnn_cell("GRU", x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class PeepholeLSTMCell(RNNCellBase):
    """The LSTM with peephole connections (seed 004 "变体1 peephole"; Gers & Schmidhuber,
    2000): the input and forget gates also see c_{t-1} and the output gate sees c_t, each
    through a diagonal weight::

        i = σ(W_ii x + b_ii + W_hi h + b_hi + w_ci * c)
        f = σ(W_if x + b_if + W_hf h + b_hf + w_cf * c)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        c' = f * c + i * g
        o = σ(W_io x + b_io + W_ho h + b_ho + w_co * c')
        h' = o * tanh(c')

    Parameters as LSTMCell plus ``weight_ci``, ``weight_cf``, ``weight_co`` (hidden_size,),
    all U(-1/sqrt(H), 1/sqrt(H)). Not in torch; returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, dtype=dtype)
        for name in ("weight_ci", "weight_cf", "weight_co"):
            setattr(self, name, Parameter(_creation.empty(hidden_size, dtype=dtype)))
        self.reset_parameters()

    def forward(self, input, hx=None):
        x, hc, batched = self._prepare(input, hx, 2)
        h, c = _R.peephole_lstm_cell(x, tuple(hc), self.weight_ih, self.weight_hh, self.weight_ci,
                                     self.weight_cf, self.weight_co, self.bias_ih, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))
