"""Attention modules: ``MultiheadAttention`` (torch's interface and parameter names) and
the two classic seq2seq attentions of seed 004, ``BahdanauAttention`` (additive) and
``LuongAttention`` (dot / general). The maths is in ``shendu._ops.attention``."""
import math

from .module import Module, LayerInputError
from .linear import Linear
from ..parameter import Parameter
from .. import init
from ... import _creation
from ..._ops import attention as _A

__all__ = ["MultiheadAttention", "BahdanauAttention", "LuongAttention"]


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.): ``MultiheadAttention(embed_dim, num_heads,
    dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None,
    vdim=None, batch_first=False)``.

    Parameters as torch: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E) — or
    ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when kdim/vdim differ from
    embed_dim —, ``out_proj`` (Linear E→E), ``bias_k``/``bias_v`` (1, 1, E) with
    add_bias_kv. Xavier-uniform projections, zero biases, as torch."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        E = embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(_creation.empty(E, E, dtype=dtype))
            self.k_proj_weight = Parameter(_creation.empty(E, self.kdim, dtype=dtype))
            self.v_proj_weight = Parameter(_creation.empty(E, self.vdim, dtype=dtype))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(_creation.empty(3 * E, E, dtype=dtype))
            for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(n, None)
        if bias:
            self.in_proj_bias = Parameter(_creation.empty(3 * E, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(_creation.empty(1, 1, E, dtype=dtype))
            self.bias_v = Parameter(_creation.empty(1, 1, E, dtype=dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """Returns (attn_output, attn_weights or None): output ``(L, N, E)`` (``(N, L, E)``
        with batch_first); weights ``(N, L, S)`` averaged over heads or ``(N, heads, L, S)``.
        key_padding_mask ``(N, S)``: True (or -inf) marks keys to ignore; attn_mask
        ``(L, S)`` or ``(N·heads, L, S)``: True (or -inf) forbids a pair."""
        if query.dim() not in (2, 3) or query.shape[-1] != self.embed_dim:
            raise LayerInputError(f"got query of shape {tuple(query.shape)}, expected "
                                  f"(L, N, {self.embed_dim}) or (L, {self.embed_dim}) "
                                  f"(embed_dim={self.embed_dim})")
        for name, t, d in (("key", key, self.kdim), ("value", value, self.vdim)):
            if t.shape[-1] != d:
                raise LayerInputError(f"got {name} of shape {tuple(t.shape)}, expected the last "
                                      f"dimension to be {'kdim' if name == 'key' else 'vdim'}={d}")
        batched = query.dim() == 3
        if self.batch_first and batched:
            same_kv = key is value
            if query is key and same_kv:
                query = key = value = query.transpose(1, 0)
            else:
                query, key = query.transpose(1, 0), key.transpose(1, 0)
                value = key if same_kv else value.transpose(1, 0)
        out, w = _A.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, w

    def _describe(self):
        return f"MultiheadAttention {self.embed_dim}, {self.num_heads} heads"


def _uniform_init(*params, fan):
    bound = 1.0 / math.sqrt(fan)
    for p in params:
        init.uniform_(p, -bound, bound)


class BahdanauAttention(Module):
    """Additive attention (Bahdanau et al., 2015; seed 004):
    score(q, k_j) = v · tanh(W_q q + W_k k_j + b), weights = softmax over j, context =
    Σ_j weight_j value_j.

    ``BahdanauAttention(query_size, key_size, hidden_size)``; parameters ``query_proj``
    (Linear query_size→hidden_size, no bias), ``key_proj`` (Linear key_size→hidden_size)
    and ``v`` (hidden_size,). ``forward(query, keys, values=None, key_padding_mask=None,
    projected_keys=None)`` with query ``(N, Lq, Dq)`` or one decoder step ``(N, Dq)``,
    keys ``(N, S, Dk)``; returns (context, weights ``(N, Lq, S)``). ``project_keys(keys)``
    computes W_k k + b once for a decoding loop."""

    def __init__(self, query_size, key_size, hidden_size, device=None, dtype=None):
        super().__init__()
        self.query_size, self.key_size, self.hidden_size = query_size, key_size, hidden_size
        self.query_proj = Linear(query_size, hidden_size, bias=False, dtype=dtype)
        self.key_proj = Linear(key_size, hidden_size, dtype=dtype)
        self.v = Parameter(_creation.empty(hidden_size, dtype=dtype))
        _uniform_init(self.v, fan=hidden_size)

    def project_keys(self, keys):
        return self.key_proj(keys)

    def forward(self, query, keys, values=None, key_padding_mask=None, projected_keys=None):
        _check_seq2seq(query, keys, self.query_size, self.key_size)
        return _A.additive_attention(query, keys, values, self.query_proj.weight,
                                     self.key_proj.weight, self.v, self.key_proj.bias,
                                     key_padding_mask, projected_keys)

    def _describe(self):
        return f"BahdanauAttention q{self.query_size}, k{self.key_size}→{self.hidden_size}"

    def extra_repr(self):
        return f"query_size={self.query_size}, key_size={self.key_size}, " \
               f"hidden_size={self.hidden_size}"


class LuongAttention(Module):
    """Multiplicative attention (Luong et al., 2015; seed 004): score "dot"
    (q · k, needs query_size == key_size) or "general" (q^T W k, W a parameter
    ``weight`` of shape (query_size, key_size)); ``scale=True`` divides the scores by
    sqrt(key_size). Same call and result as :class:`BahdanauAttention`."""

    def __init__(self, query_size, key_size=None, score="general", scale=False, device=None,
                 dtype=None):
        super().__init__()
        key_size = query_size if key_size is None else key_size
        if score not in ("dot", "general"):
            raise ValueError(f"score must be 'dot' or 'general', got {score!r}")
        if score == "dot" and key_size != query_size:
            raise ValueError(f"dot attention needs query_size == key_size, got {query_size} and "
                             f"{key_size} (use score='general')")
        self.query_size, self.key_size, self.score, self.scale = query_size, key_size, score, scale
        if score == "general":
            self.weight = Parameter(_creation.empty(query_size, key_size, dtype=dtype))
            _uniform_init(self.weight, fan=key_size)
        else:
            self.register_parameter("weight", None)

    def forward(self, query, keys, values=None, key_padding_mask=None):
        _check_seq2seq(query, keys, self.query_size, self.key_size)
        return _A.dot_attention(query, keys, values, self.weight, key_padding_mask,
                                1.0 / math.sqrt(self.key_size) if self.scale else None)

    def _describe(self):
        return f"LuongAttention {self.score} q{self.query_size}, k{self.key_size}"

    def extra_repr(self):
        return f"query_size={self.query_size}, key_size={self.key_size}, score={self.score!r}" \
               + (", scale=True" if self.scale else "")


def _check_seq2seq(query, keys, query_size, key_size):
    if query.dim() not in (2, 3) or query.shape[-1] != query_size:
        raise LayerInputError(f"got query of shape {tuple(query.shape)}, expected (N, "
                              f"{query_size}) or (N, L, {query_size}) (query_size={query_size})")
    if keys.dim() != 3 or keys.shape[-1] != key_size or keys.shape[0] != query.shape[0]:
        raise LayerInputError(f"got keys of shape {tuple(keys.shape)}, expected "
                              f"({query.shape[0]}, S, {key_size}) (batch of the query, "
                              f"key_size={key_size})")
