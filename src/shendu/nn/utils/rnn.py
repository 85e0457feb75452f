"""nn.utils.rnn: variable-length batches for the recurrent layers (as torch.nn.utils.rnn).

A :class:`PackedSequence` holds the rows of a batch of sequences time-major with the
padding left out: ``data`` row block ``t`` has ``batch_sizes[t]`` rows, one per sequence
still running at step ``t`` (longest first). ``sorted_indices[j]`` is the original batch
position of the j-th longest sequence and ``unsorted_indices`` its inverse. Packing and
padding are one row gather / row scatter each (adjoint to each other, so gradients flow
through both).
"""
from collections import namedtuple

import numpy as np

from ..._tensor import Tensor, _make
from ..._dtype import float32, float64
from ..._ops.rnn import GatherRows, ScatterRows
from ..._ops.shape import cat
from ...autograd.function import _trace

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _ints(x):
    return np.asarray(x._data if isinstance(x, Tensor) else x, dtype=np.int64)


def _long(arr):
    return _make(np.asarray(arr, dtype=np.int64), None, 0)


def invert_permutation(permutation):
    """The inverse of a permutation (None stays None)."""
    if permutation is None:
        return None
    p = _ints(permutation)
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return _long(inv)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Packed rows of a batch of variable-length sequences (see the module docstring).
    Build it with :func:`pack_padded_sequence` or :func:`pack_sequence`."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:                     # PackedSequence((data, batch_sizes))
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, self.batch_sizes,
                                                          self.sorted_indices,
                                                          self.unsorted_indices)

    def double(self):
        return self.to(dtype=float64)

    def float(self):
        return self.to(dtype=float32)

    def cpu(self, *args, **kwargs):
        return self

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def _batch_sizes(lengths):
    """batch_sizes[t] = how many (sorted) lengths exceed t."""
    return (lengths[None, :] > np.arange(int(lengths[0]))[:, None]).sum(1)


def _packed_positions(batch_sizes, order, T, B, batch_first):
    """For each packed row: its row in the padded tensor viewed as (T*B, ...) or (B*T, ...)."""
    t = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    j = np.concatenate([np.arange(b) for b in batch_sizes]) if len(batch_sizes) else t
    b = order[j] if order is not None else j
    return b * T + t if batch_first else t * B + b


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch ``(T, B, *)`` (``(B, T, *)`` if batch_first) whose sequence
    ``b`` has ``lengths[b]`` real steps. With ``enforce_sorted`` the lengths must already
    decrease; otherwise the batch is sorted here and the order kept in the result."""
    if _trace[0] is not None:               # shendu.onnx.export: lengths become an input
        return _trace[0].pack_padded(_pack_padded, input, lengths, batch_first,
                                     enforce_sorted)
    return _pack_padded(input, lengths, batch_first, enforce_sorted)


def _pack_padded(input, lengths, batch_first, enforce_sorted):
    lens = _ints(lengths).reshape(-1)
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        order = None
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
    T, B = (input.shape[1], input.shape[0]) if batch_first else (input.shape[0], input.shape[1])
    if lens.size != B:
        raise ValueError(f"Expected `len(lengths)` to be equal to batch_size, but got {lens.size} "
                         f"(batch_size={B})")
    if lens.size and lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if lens.size and lens[0] > T:
        raise RuntimeError(f"a sequence length ({int(lens[0])}) exceeds the padded length of the "
                           f"input ({T} steps, input of shape {tuple(input.shape)})")
    bs = _batch_sizes(lens)
    rows = input.reshape((T * B,) + tuple(input.shape[2:]))
    data = GatherRows.apply(rows, _packed_positions(bs, order, T, B, batch_first))
    return PackedSequence(data, _long(bs), None if order is None else _long(order), None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo packing: ``(padded (T, B, *) or (B, T, *), lengths)`` in the original batch
    order; ``total_length`` pads to that many steps."""
    if _trace[0] is not None:
        return _trace[0].pad_packed(_pad_packed, sequence, batch_first, padding_value,
                                    total_length)
    return _pad_packed(sequence, batch_first, padding_value, total_length)


def _pad_packed(sequence, batch_first, padding_value, total_length):
    bs = _ints(sequence.batch_sizes)
    T = len(bs)
    if total_length is not None:
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        T = total_length
    B = int(bs[0])
    order = None if sequence.sorted_indices is None else _ints(sequence.sorted_indices)
    data = sequence.data
    idx = _packed_positions(bs, order, T, B, batch_first)
    padded = ScatterRows.apply(data, idx, T * B, padding_value)
    padded = padded.reshape(((B, T) if batch_first else (T, B)) + tuple(data.shape[1:]))
    lengths = (bs[None, :] > np.arange(B)[:, None]).sum(1)
    if sequence.unsorted_indices is not None:
        lengths = lengths[_ints(sequence.unsorted_indices)]
    return padded, _long(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shapes ``(L_k, *)`` into ``(T, B, *)`` (``(B, T, *)`` if
    batch_first), T the longest, padding with ``padding_value`` on ``padding_side``."""
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    seqs = list(sequences)
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    lens = np.array([s.shape[0] for s in seqs])
    T, B = int(lens.max()), len(seqs)
    rest = tuple(seqs[0].shape[1:])
    for k, s in enumerate(seqs):
        if tuple(s.shape[1:]) != rest:
            raise RuntimeError(f"pad_sequence: sequence {k} has shape {tuple(s.shape)}; every "
                               f"sequence must have the trailing shape {rest} of sequence 0")
    b = np.repeat(np.arange(B), lens)
    t = np.concatenate([np.arange(n) + (T - n if padding_side == "left" else 0) for n in lens])
    idx = b * T + t if batch_first else t * B + b
    out = ScatterRows.apply(cat(seqs) if B > 1 else seqs[0], idx, T * B, padding_value)
    return out.reshape(((B, T) if batch_first else (T, B)) + rest)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of unpadded sequences of a padded batch."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[b, :int(n)] for b, n in enumerate(_ints(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences of shapes ``(L_k, *)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences in a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
