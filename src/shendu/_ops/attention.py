"""Attention (seed 004 "seq2seq attention机制": a seq2seq decoder attends over all the
encoder's states, weighting each by a score, instead of reading one fixed context vector).

Every attention here is the same three steps: a score for each (query, key) pair, a
softmax over the keys (masked positions get -inf, so weight 0), and the weighted sum of
the values. They differ in the score:

    dot (Luong)          score(q, k) = q · k
    general (Luong)      score(q, k) = q^T W k
    scaled dot product   score(q, k) = q · k / sqrt(d)          (Vaswani et al.)
    additive (Bahdanau)  score(q, k) = v^T tanh(W_q q + W_k k + b)

``multi_head_attention_forward`` is torch's: project queries, keys and values, split the
embedding into heads, scaled dot-product attention per head, concatenate, project out.
All of it is composed from differentiable ops, so gradients of any order work.
"""
import math
import warnings

import numpy as np

from .._tensor import Tensor, _make
from .elementwise import where
from .activation import tanh
from .linear import linear
from .shape import cat, pad as _pad
from .activation import softmax
from .dropout import dropout

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward", "dot_attention",
           "additive_attention"]


def _additive_mask(mask, dtype, true_means_keep):
    """A bool mask becomes 0 / -inf (float masks are already additive)."""
    if mask is None:
        return None
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype == np.bool_:
        if isinstance(mask, Tensor):        # tensor ops, so that an export can trace them
            from .elementwise import where
            drop = ~mask if true_means_keep else mask
            return where(drop, _make(np.array(-np.inf, dtype), None, 0),
                         _make(np.array(0.0, dtype), None, 0))
        drop = ~m if true_means_keep else m
        return _make(np.where(drop, -np.inf, 0.0).astype(dtype), None, 0)
    if m.dtype.kind != "f":
        raise RuntimeError(f"only bool and floating types of masks are supported, got {m.dtype}")
    return mask if isinstance(mask, Tensor) else _make(m.astype(dtype), None, 0)


def _dropout(x, p):
    return dropout(x, p=p, training=True)


def _softmax_or_zero(scores):
    """softmax over the last dim; a row whose scores are all -inf (every key masked)
    gets weight 0 everywhere instead of NaN (torch's safe softmax of SDPA), with zero
    gradient."""
    dead = np.isneginf(scores._data).all(-1, keepdims=True)
    if not dead.any():
        return softmax(scores, -1)
    return softmax(where(dead, 0.0, scores), -1) * _make(~dead, None, 0)


def _attend(scores, value, dropout_p=0.0):
    w = _softmax_or_zero(scores)
    if dropout_p > 0:
        w = _dropout(w, dropout_p)
    return w @ value, w


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(q k^T · scale + mask) v over the last two dims (``(..., L, E)`` queries,
    ``(..., S, E)`` keys, ``(..., S, Ev)`` values). A bool ``attn_mask`` marks with True
    the pairs that may attend, a float one is added to the scores; ``is_causal`` lets
    query i see keys j <= i (combined with attn_mask if both are given); ``scale``
    defaults to 1/sqrt(E); ``enable_gqa`` shares each key/value head among
    ``q_heads / kv_heads`` query heads. Rows with no visible key give 0."""
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    if key.shape[-1] != E:
        raise RuntimeError(f"scaled_dot_product_attention: query of shape {tuple(query.shape)} "
                           f"and key of shape {tuple(key.shape)} differ in the last dimension")
    if value.shape[-2] != S:
        raise RuntimeError(f"scaled_dot_product_attention: key of shape {tuple(key.shape)} and "
                           f"value of shape {tuple(value.shape)} differ in sequence length")
    dtype = query._data.dtype
    mask = _additive_mask(attn_mask, dtype, True)
    if is_causal:
        if mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        mask = _make(np.where(np.tri(L, S, dtype=bool), 0.0, -np.inf).astype(dtype), None, 0)
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, dim=-3)
        value = value.repeat_interleave(rep, dim=-3)
    s = (1.0 / math.sqrt(E)) if scale is None else scale
    scores = (query * s) @ key.transpose(-2, -1)
    if mask is not None:
        scores = scores + mask
    return _attend(scores, value, dropout_p)[0]


# ------------------------------------------------------------------ multi-head attention
def _check_shapes(query, key, value, key_padding_mask, attn_mask):
    q = query.dim()
    if q not in (2, 3):
        raise AssertionError("query should be unbatched 2D or batched 3D tensor but received "
                             f"{q}-D query tensor")
    kind = "batched (3-D)" if q == 3 else "unbatched (2-D)"
    if key.dim() != q or value.dim() != q:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {q}-D but "
                             f"found {key.dim()}-D and {value.dim()}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != q - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{q - 1}-D but found {key_padding_mask.dim()}-D tensor instead")
    if attn_mask is not None and attn_mask.dim() not in (2, 3):
        raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                             f"but found {attn_mask.dim()}-D tensor instead")
    return q == 3


def _in_projection(query, key, value, w, b, w_q, w_k, w_v):
    """q, k, v projections: packed weights (one product for self-attention) or three."""
    if w is not None:
        E = query.shape[-1]
        if query is key and key is value:
            return linear(query, w, b).split(E, dim=-1)
        w_q, w_k, w_v = w.split(E)
    bq, bk, bv = (None, None, None) if b is None else b.split(b.shape[0] // 3)
    return linear(query, w_q, bq), linear(key, w_k, bk), linear(value, w_v, bv)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """torch.nn.functional.multi_head_attention_forward: inputs sequence-first
    ``(L, N, E)`` (or unbatched ``(L, E)``); returns (output, weights or None).

    ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N·heads, L, S): bool True
    means *not allowed*; float masks are added to the scores."""
    batched = _check_shapes(query, key, value, key_padding_mask, attn_mask)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
        if attn_mask is not None and attn_mask.dim() == 3:
            want = (num_heads, query.shape[0], key.shape[0])
            if tuple(attn_mask.shape) != want:
                raise AssertionError(f"Expected `attn_mask` shape to be {want} but got "
                                     f"{tuple(attn_mask.shape)}")
    L, N, E = query.shape
    dtype = query._data.dtype
    if key_padding_mask is not None and attn_mask is not None and \
            key_padding_mask.dtype != attn_mask.dtype:
        warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. Use "
                      "same type for both instead.", stacklevel=3)
    kpm = _additive_mask(key_padding_mask, dtype, False)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    mask = _additive_mask(attn_mask, dtype, False)     # is_causal is only a hint: the mask rules
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got "
                             f"{E}")
    hd = E // num_heads
    if hd * num_heads != E:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
        q, k, v = _in_projection(query, key, value, None, in_proj_bias, q_proj_weight,
                                 k_proj_weight, v_proj_weight)
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)}")
        q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, None, None,
                                 None)
    S = key.shape[0]
    if mask is not None:
        want = (L, S) if mask.dim() == 2 else (N * num_heads, L, S)
        if tuple(mask.shape) != want:
            raise RuntimeError(f"The shape of the {mask.dim()}D attn_mask is "
                               f"{tuple(mask.shape)}, but should be {want}.")
        if mask.dim() == 2:
            mask = mask.unsqueeze(0)
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key or value.")
        k = cat([k, bias_k.expand(1, N, E)])
        v = cat([v, bias_v.expand(1, N, E)])
        mask = None if mask is None else _pad(mask, (0, 1))
        kpm = None if kpm is None else _pad(kpm, (0, 1))
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must be given together")
    q = q.reshape(L, N * num_heads, hd).transpose(0, 1)
    k = k.reshape(k.shape[0], N * num_heads, hd).transpose(0, 1) if static_k is None else static_k
    v = v.reshape(v.shape[0], N * num_heads, hd).transpose(0, 1) if static_v is None else static_v
    if add_zero_attn:
        zeros = _make(np.zeros((N * num_heads, 1, hd), dtype=dtype), None, 0)
        k, v = cat([k, zeros], 1), cat([v, zeros], 1)
        mask = None if mask is None else _pad(mask, (0, 1))
        kpm = None if kpm is None else _pad(kpm, (0, 1))
    S = k.shape[1]
    if kpm is not None:
        if tuple(kpm.shape) != (N, S):
            raise AssertionError(f"Expected key_padding_mask of shape {(N, S)} (batch, source "
                                 f"length), but got {tuple(kpm.shape)}")
        kpm = kpm.reshape(N, 1, 1, S).expand(N, num_heads, 1, S).reshape(N * num_heads, 1, S)
        mask = kpm if mask is None else mask + kpm
    p = dropout_p if training else 0.0
    if need_weights:
        scores = (q * math.sqrt(1.0 / hd)) @ k.transpose(-2, -1)
        if mask is not None:
            scores = scores + mask
        w = softmax(scores, -1)            # torch: NaN where every key is masked
        out = (_dropout(w, p) if p > 0 else w) @ v
        w = w.reshape(N, num_heads, L, S)
        if average_attn_weights:
            w = w.mean(1)
    else:
        out = scaled_dot_product_attention(q, k, v, mask, p)
        w = None
    out = linear(out.transpose(0, 1).reshape(L * N, E), out_proj_weight, out_proj_bias)
    out = out.reshape(L, N, out.shape[-1])
    if not batched:
        out = out.squeeze(1)
        w = None if w is None else w.squeeze(0)
    return out, w


# ------------------------------------------------------------------ seq2seq attention
def _seq2seq_inputs(query, keys, values):
    single = query.dim() == 2                     # one decoder step: (N, Dq)
    q = query.unsqueeze(1) if single else query
    return q, keys, keys if values is None else values, single


def _finish(scores, values, key_padding_mask, single):
    if key_padding_mask is not None:
        m = _additive_mask(key_padding_mask, scores._data.dtype, False)
        scores = scores + m.unsqueeze(1)
    ctx, w = _attend(scores, values)
    return (ctx.squeeze(1), w.squeeze(1)) if single else (ctx, w)


def dot_attention(query, keys, values=None, weight=None, key_padding_mask=None, scale=None):
    """Luong's dot (``weight`` None) or general (score q^T W k, W of shape (Dq, Dk))
    attention. query ``(N, Lq, Dq)`` or one step ``(N, Dq)``, keys ``(N, S, Dk)``, values
    ``(N, S, Dv)`` (default: the keys), key_padding_mask ``(N, S)`` (True = padding).
    Returns (context ``(N, Lq, Dv)``, weights ``(N, Lq, S)``) (the Lq axis dropped for
    one step)."""
    q, keys, values, single = _seq2seq_inputs(query, keys, values)
    if weight is not None:
        q = q @ weight
    scores = q @ keys.transpose(1, 2)
    if scale is not None:
        scores = scores * scale
    return _finish(scores, values, key_padding_mask, single)


def additive_attention(query, keys, values=None, w_query=None, w_key=None, v=None, bias=None,
                       key_padding_mask=None, projected_keys=None):
    """Bahdanau's additive attention: score_j = v · tanh(W_q q + W_k k_j + b), with
    ``w_query`` (A, Dq), ``w_key`` (A, Dk), ``v`` (A,). Shapes as :func:`dot_attention`;
    ``projected_keys`` (N, S, A) = W_k k may be passed to reuse it across decoder steps."""
    q, keys, values, single = _seq2seq_inputs(query, keys, values)
    pk = linear(keys, w_key, bias) if projected_keys is None else projected_keys
    e = tanh(linear(q, w_query).unsqueeze(2) + pk.unsqueeze(1))     # (N, Lq, S, A)
    return _finish(e @ v, values, key_padding_mask, single)
