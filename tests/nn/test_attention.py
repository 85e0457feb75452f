"""Attention: scaled_dot_product_attention and MultiheadAttention against torch (float64,
outputs, weights and every gradient, all mask kinds); Bahdanau and Luong attention by
their formulas, gradcheck and gradgradcheck."""
import itertools
import os
import sys
import warnings

import numpy as np
import pytest
import torch

import shendu
from shendu import nn
import shendu.nn.functional as F
from torch_oracle import check, compare

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from module_parity import backward_and_compare  # noqa: E402

RNG = np.random.default_rng


# ---------------------------------------------------------------------- SDPA
def _mask(kind, shape, seed=0):
    rng = RNG(seed)
    if kind == "bool":
        m = rng.uniform(size=shape) > 0.3
        m[..., 0] = True                       # every query sees at least one key
        return m
    if kind == "float":
        return rng.uniform(-2, 0, size=shape)
    return None


SDPA_MASKS = [(None, None), ("bool", (4, 6)), ("bool", (2, 1, 4, 6)), ("float", (4, 6)),
              ("float", (2, 3, 4, 6))]
SDPA_GRID = [(m, s, c, sc) for (m, s), c, sc in itertools.product(SDPA_MASKS, [False, True],
                                                                  [None, 0.3])
             if not (c and m is not None)]          # torch forbids a mask with is_causal


@pytest.mark.parametrize("mask_kind,mask_shape,is_causal,scale", SDPA_GRID)
def test_sdpa_matches_torch(mask_kind, mask_shape, is_causal, scale):
    mask = _mask(mask_kind, mask_shape)

    def fn(L, q, k, v):
        m = None if mask is None else L.tensor(mask)
        return L.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m,
                                                            is_causal=is_causal, scale=scale)
    check(fn, (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7))


def test_sdpa_shapes_fully_masked_rows_gqa():
    # 3-D and 2-D inputs
    check(lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v),
          (4, 5), (6, 5), (6, 3))
    check(lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v),
          (2, 4, 5), (2, 6, 5), (2, 6, 3))
    # a query row with every key masked gives 0 (and gradient 0), as torch
    m = np.ones((4, 6), bool)
    m[2] = False
    check(lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=L.tensor(m)), (2, 4, 5), (2, 6, 5), (2, 6, 3))
    fm = np.zeros((4, 6))
    fm[1] = -np.inf
    check(lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=L.tensor(fm)), (2, 4, 5), (2, 6, 5), (2, 6, 3))
    # grouped-query attention: 4 query heads share 2 key/value heads
    check(lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(
        q, k, v, enable_gqa=True), (1, 4, 3, 5), (1, 2, 6, 5), (1, 2, 6, 3))


def test_sdpa_gradcheck_gradgradcheck():
    rng = RNG(1)
    ts = [shendu.tensor(rng.uniform(-1, 1, s), requires_grad=True)
          for s in [(1, 2, 3, 2), (1, 2, 4, 2), (1, 2, 4, 3)]]
    m = shendu.tensor(np.tri(3, 4, dtype=bool))
    f = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=m)  # noqa: E731
    assert shendu.autograd.gradcheck(f, ts)
    assert shendu.autograd.gradgradcheck(f, ts)


def test_sdpa_errors():
    x = shendu.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=shendu.ones(3, 3, dtype=shendu.bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="differ in the last dimension"):
        F.scaled_dot_product_attention(shendu.randn(2, 3, 4), shendu.randn(2, 5, 3),
                                       shendu.randn(2, 5, 4))
    with pytest.raises(RuntimeError, match="differ in sequence length"):
        F.scaled_dot_product_attention(shendu.randn(2, 3, 4), shendu.randn(2, 5, 4),
                                       shendu.randn(2, 6, 4))


# ---------------------------------------------------------------------- MultiheadAttention
def _mha_pair(E, H, **kw):
    torch.manual_seed(3)
    tm = torch.nn.MultiheadAttention(E, H, **kw).double()
    sm = nn.MultiheadAttention(E, H, **kw).double()
    assert list(sm.state_dict()) == list(tm.state_dict())
    sm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, sm


def _run_both(tm, sm, arrays, kwargs_t, kwargs_s, self_attn=False, seed=0):
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ss = [shendu.tensor(a, requires_grad=True) for a in arrays]
    if self_attn:
        tt, ss = tt[:1] * 3, ss[:1] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_out = tm(*tt, **kwargs_t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s_out = sm(*ss, **kwargs_s)
    backward_and_compare(t_out, s_out, tt, ss, tm, sm, seed)


MHA_GRID = list(itertools.product([False, True], [(None, None), (3, 5)], [False, True],
                                  [False, True], [True, False], [True, False], [True, False]))


@pytest.mark.parametrize("batch_first,kv_dims,bias_kv,zero_attn,bias,need_weights,average",
                         MHA_GRID)
def test_mha_matches_torch(batch_first, kv_dims, bias_kv, zero_attn, bias, need_weights,
                           average):
    E, H, L, S, N = 8, 2, 4, 5, 3
    kd, vd = kv_dims
    tm, sm = _mha_pair(E, H, batch_first=batch_first, kdim=kd, vdim=vd, add_bias_kv=bias_kv,
                       add_zero_attn=zero_attn, bias=bias)
    rng = RNG(4)
    shape = (lambda T, D: (N, T, D)) if batch_first else (lambda T, D: (T, N, D))
    arrays = [rng.uniform(-1, 1, shape(L, E)), rng.uniform(-1, 1, shape(S, kd or E)),
              rng.uniform(-1, 1, shape(S, vd or E))]
    kpm = np.zeros((N, S), bool)
    kpm[1, 3:] = True
    am = rng.uniform(-1, 1, (L, S))
    kw = dict(need_weights=need_weights, average_attn_weights=average)
    _run_both(tm, sm, arrays,
              dict(kw, key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(am)),
              dict(kw, key_padding_mask=shendu.tensor(kpm), attn_mask=shendu.tensor(am)))


MASKS = ["none", "kpm_bool", "kpm_float", "attn_bool_2d", "attn_float_2d", "attn_bool_3d",
         "attn_float_3d", "both_bool", "causal"]


@pytest.mark.parametrize("masks", MASKS)
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("self_attn", [True, False])
def test_mha_masks_match_torch(masks, need_weights, self_attn):
    E, H, L, N = 6, 3, 5, 2
    S = L if self_attn else 4
    tm, sm = _mha_pair(E, H)
    rng = RNG(5)
    arrays = [rng.uniform(-1, 1, (L, N, E)), rng.uniform(-1, 1, (S, N, E)),
              rng.uniform(-1, 1, (S, N, E))]
    kw = {}
    kpm = np.zeros((N, S), bool)
    kpm[0, -2:] = True
    attn = rng.uniform(size=(L, S)) > 0.7
    attn[:, 0] = False
    if masks in ("kpm_bool", "both_bool"):
        kw["key_padding_mask"] = kpm
    if masks == "kpm_float":
        kw["key_padding_mask"] = np.where(kpm, -np.inf, rng.uniform(-1, 0, (N, S)))
    if masks in ("attn_bool_2d", "both_bool"):
        kw["attn_mask"] = attn
    if masks == "attn_float_2d":
        kw["attn_mask"] = rng.uniform(-2, 1, (L, S))
    if masks == "attn_bool_3d":
        m3 = rng.uniform(size=(N * H, L, S)) > 0.6
        m3[..., 1] = False
        kw["attn_mask"] = m3
    if masks == "attn_float_3d":
        kw["attn_mask"] = rng.uniform(-2, 1, (N * H, L, S))
    if masks == "causal":
        kw["attn_mask"] = np.triu(np.ones((L, S), bool), 1)
        kw["is_causal"] = True
    kt = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    ks = {k: shendu.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    _run_both(tm, sm, arrays, dict(kt, need_weights=need_weights),
              dict(ks, need_weights=need_weights), self_attn=self_attn)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched_matches_torch(need_weights):
    tm, sm = _mha_pair(4, 2)
    rng = RNG(6)
    arrays = [rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (5, 4)), rng.uniform(-1, 1, (5, 4))]
    kpm = np.array([False, False, True, False, True])
    am = rng.uniform(-1, 0, (2, 3, 5))
    _run_both(tm, sm, arrays,
              dict(key_padding_mask=torch.tensor(kpm), attn_mask=torch.tensor(am),
                   need_weights=need_weights, average_attn_weights=False),
              dict(key_padding_mask=shendu.tensor(kpm), attn_mask=shendu.tensor(am),
                   need_weights=need_weights, average_attn_weights=False))


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_mha_fully_masked_query_rows_as_torch():
    """need_weights=True: softmax of an all -inf row is NaN (torch's plain softmax);
    need_weights=False goes through SDPA, which gives 0."""
    tm, sm = _mha_pair(4, 2)
    x = RNG(7).uniform(-1, 1, (3, 2, 4))
    kpm = np.zeros((2, 3), bool)
    kpm[0] = True
    for nw in (True, False):
        to, _ = tm(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(kpm), need_weights=nw)
        so, _ = sm(*[shendu.tensor(x)] * 3, key_padding_mask=shendu.tensor(kpm), need_weights=nw)
        compare(so, to)


def test_mha_init_and_dropout_in_eval():
    shendu.manual_seed(0)
    m = nn.MultiheadAttention(16, 4, dropout=0.3, add_bias_kv=True)
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = np.sqrt(6 / (16 + 48))
    assert np.abs(m.in_proj_weight.detach().numpy()).max() <= bound
    assert m.bias_k.shape == (1, 1, 16)
    m.eval()
    x = shendu.randn(5, 2, 16)
    m0 = nn.MultiheadAttention(16, 4, add_bias_kv=True).eval()
    m0.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(m(x, x, x)[0].detach().numpy(),
                                  m0(x, x, x)[0].detach().numpy())


def test_mha_gradcheck_gradgradcheck():
    shendu.manual_seed(1)
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=2).double()
    rng = RNG(8)
    q, k, v = (shendu.tensor(rng.uniform(-1, 1, s), requires_grad=True)
               for s in [(2, 1, 4), (3, 1, 3), (3, 1, 2)])
    kpm = shendu.tensor(np.array([[False, True, False]]))
    f = lambda q, k, v, w_q: m(q, k, v, key_padding_mask=kpm)[0]  # noqa: E731
    assert shendu.autograd.gradcheck(f, [q, k, v, m.q_proj_weight])
    assert shendu.autograd.gradgradcheck(f, [q, k, v, m.q_proj_weight])


def test_mha_errors():
    m = nn.MultiheadAttention(8, 2)
    x = shendu.randn(4, 3, 8)
    with pytest.raises(nn.LayerInputError, match=r"got query of shape \(4, 3, 6\)"):
        m(shendu.randn(4, 3, 6), x, x)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(4, 5\), but "
                                           r"should be \(4, 4\)"):
        m(x, x, x, attn_mask=shendu.zeros(4, 5))
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(8, 3)
    with pytest.raises(AssertionError, match="expected `key` and `value` to be 3-D"):
        m(x, x[0], x[0])
    with pytest.warns(UserWarning, match="mismatched key_padding_mask and attn_mask"):
        m(x, x, x, key_padding_mask=shendu.zeros(3, 4, dtype=shendu.bool),
          attn_mask=shendu.zeros(4, 4))


# ---------------------------------------------------------------------- seq2seq attentions
def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_bahdanau_formula_masks_and_single_step():
    shendu.manual_seed(2)
    att = nn.BahdanauAttention(3, 4, 5).double()
    assert [n for n, _ in att.named_parameters()] == ["v", "query_proj.weight",
                                                       "key_proj.weight", "key_proj.bias"]
    rng = RNG(9)
    q, k, v = rng.uniform(-1, 1, (2, 3, 3)), rng.uniform(-1, 1, (2, 6, 4)), \
        rng.uniform(-1, 1, (2, 6, 2))
    mask = np.zeros((2, 6), bool)
    mask[1, 4:] = True
    P = {n: p.detach().numpy() for n, p in att.named_parameters()}
    e = np.tanh((q @ P["query_proj.weight"].T)[:, :, None, :]
                + (k @ P["key_proj.weight"].T + P["key_proj.bias"])[:, None, :, :])
    scores = e @ P["v"] + np.where(mask, -np.inf, 0)[:, None, :]
    w = _softmax(scores)
    ctx, sw = att(shendu.tensor(q), shendu.tensor(k), shendu.tensor(v),
                  key_padding_mask=shendu.tensor(mask))
    np.testing.assert_allclose(sw.detach().numpy(), w, rtol=1e-12)
    np.testing.assert_allclose(ctx.detach().numpy(), w @ v, rtol=1e-12)
    assert np.all(sw.detach().numpy()[1, :, 4:] == 0)
    # one decoder step (N, Dq), with keys projected once
    pk = att.project_keys(shendu.tensor(k))
    c1, w1 = att(shendu.tensor(q[:, 1]), shendu.tensor(k), shendu.tensor(v),
                 shendu.tensor(mask), projected_keys=pk)
    np.testing.assert_allclose(w1.detach().numpy(), w[:, 1], rtol=1e-12)
    np.testing.assert_allclose(c1.detach().numpy(), (w @ v)[:, 1], rtol=1e-12)
    # values default to the keys
    c2, _ = att(shendu.tensor(q), shendu.tensor(k))
    np.testing.assert_allclose(c2.detach().numpy(), _softmax(e @ P["v"]) @ k, rtol=1e-12)


@pytest.mark.parametrize("score,scale", [("dot", False), ("dot", True), ("general", False)])
def test_luong_formula(score, scale):
    shendu.manual_seed(3)
    D = 4 if score == "dot" else 3
    att = nn.LuongAttention(D, 4, score=score, scale=scale).double()
    rng = RNG(10)
    q, k = rng.uniform(-1, 1, (2, 3, D)), rng.uniform(-1, 1, (2, 5, 4))
    mask = np.zeros((2, 5), bool)
    mask[0, 3:] = True
    W = att.weight.detach().numpy() if score == "general" else np.eye(4)
    s = (q @ W) @ k.transpose(0, 2, 1) / (2.0 if scale else 1.0)
    w = _softmax(s + np.where(mask, -np.inf, 0)[:, None, :])
    ctx, sw = att(shendu.tensor(q), shendu.tensor(k), key_padding_mask=shendu.tensor(mask))
    np.testing.assert_allclose(sw.detach().numpy(), w, rtol=1e-12)
    np.testing.assert_allclose(ctx.detach().numpy(), w @ k, rtol=1e-12)
    c1, w1 = att(shendu.tensor(q[:, 0]), shendu.tensor(k), key_padding_mask=shendu.tensor(mask))
    np.testing.assert_allclose(w1.detach().numpy(), w[:, 0], rtol=1e-12)


def test_seq2seq_attention_gradcheck_gradgradcheck():
    rng = RNG(11)
    q, k, v = (shendu.tensor(rng.uniform(-1, 1, s), requires_grad=True)
               for s in [(2, 2, 3), (2, 4, 3), (2, 4, 2)])
    wq, wk, vv, b, W = (shendu.tensor(rng.uniform(-1, 1, s), requires_grad=True)
                        for s in [(5, 3), (5, 3), (5,), (5,), (3, 3)])
    mask = shendu.tensor(np.array([[False] * 4, [False, False, False, True]]))

    def additive(q, k, v, wq, wk, vv, b):
        return F.additive_attention(q, k, v, wq, wk, vv, b, key_padding_mask=mask)

    def general(q, k, v, W):
        return F.dot_attention(q, k, v, W, key_padding_mask=mask)
    for fn, args in ((additive, [q, k, v, wq, wk, vv, b]), (general, [q, k, v, W])):
        assert shendu.autograd.gradcheck(fn, args)
        assert shendu.autograd.gradgradcheck(fn, args)


def test_seq2seq_attention_errors():
    att = nn.LuongAttention(4, score="dot")
    with pytest.raises(nn.LayerInputError, match=r"got keys of shape \(2, 5, 3\)"):
        att(shendu.randn(2, 4), shendu.randn(2, 5, 3))
    with pytest.raises(ValueError, match="dot attention needs query_size == key_size"):
        nn.LuongAttention(4, 3, score="dot")
    with pytest.raises(nn.LayerInputError, match=r"BahdanauAttention.*got query of shape"):
        nn.BahdanauAttention(3, 4, 5)(shendu.randn(2, 4), shendu.randn(2, 5, 4))


# ---------------------------------------------------------------------- transformer encoder
def _encoder_pair(layer_kw, num_layers=2, final_norm=True):
    torch.manual_seed(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        te = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, **layer_kw),
                                         num_layers,
                                         norm=torch.nn.LayerNorm(8) if final_norm else None)
    te = te.double()
    se = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, **layer_kw), num_layers,
                               norm=nn.LayerNorm(8) if final_norm else None).double()
    assert list(se.state_dict()) == list(te.state_dict())
    se.load_state_dict({k: v.detach().numpy() for k, v in te.state_dict().items()})
    return te, se


@pytest.mark.parametrize("norm_first,activation,batch_first,masks",
                         list(itertools.product([False, True], ["relu", "gelu"], [False, True],
                                                ["none", "kpm", "causal+kpm"])))
def test_transformer_encoder_matches_torch(norm_first, activation, batch_first, masks):
    te, se = _encoder_pair(dict(dropout=0.0, activation=activation, batch_first=batch_first,
                                norm_first=norm_first))
    L, N = 5, 3
    rng = RNG(12)
    x = rng.uniform(-1, 1, (N, L, 8) if batch_first else (L, N, 8))
    kpm = np.zeros((N, L), bool)
    kpm[1, -2:] = True
    kt, ks = {}, {}
    if masks != "none":
        kt["src_key_padding_mask"], ks["src_key_padding_mask"] = torch.tensor(kpm), \
            shendu.tensor(kpm)
    if masks == "causal+kpm":
        causal = np.triu(np.ones((L, L), bool), 1)
        kt["mask"], ks["mask"] = torch.tensor(causal), shendu.tensor(causal)
    tx, sx = torch.tensor(x, requires_grad=True), shendu.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to = te(tx, **kt)
    so = se(sx, **ks)
    backward_and_compare(to, so, [tx], [sx], te, se)


def test_transformer_layer_eval_dropout_and_callable_activation():
    te, se = _encoder_pair(dict(dropout=0.3, activation=torch.nn.functional.gelu), 1, False)
    se = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3,
                                                          activation=F.gelu), 1).double()
    se.load_state_dict({k: v.detach().numpy() for k, v in te.state_dict().items()})
    te.eval()
    se.eval()
    x = RNG(14).uniform(-1, 1, (4, 2, 8))
    with torch.no_grad():
        compare(se(shendu.tensor(x)), te(torch.tensor(x)))
    se.train()
    shendu.manual_seed(5)
    a = se(shendu.tensor(x)).detach().numpy()
    shendu.manual_seed(5)
    b = se(shendu.tensor(x)).detach().numpy()
    np.testing.assert_array_equal(a, b)                # dropout draws from shendu's RNG
    assert not np.allclose(a, se.eval()(shendu.tensor(x)).detach().numpy())
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_mha_dropout_in_training_is_inverted_dropout():
    """need_weights=True: the returned weights are before dropout; the output uses the
    dropped weights: over many draws its mean approaches the output without dropout."""
    shendu.manual_seed(6)
    m = nn.MultiheadAttention(4, 1, dropout=0.5).double()
    x = shendu.tensor(RNG(15).uniform(-1, 1, (3, 1, 4)))
    ref, w_ref = m.eval()(x, x, x)
    m.train()
    outs = []
    for _ in range(400):
        o, w = m(x, x, x)
        outs.append(o.detach().numpy())
        np.testing.assert_allclose(w.detach().numpy(), w_ref.detach().numpy(), rtol=1e-12)
    outs = np.array(outs)
    assert np.std(outs, 0).max() > 0.05
    np.testing.assert_allclose(outs.mean(0), ref.detach().numpy(), atol=0.06)


def test_sdpa_dropout_mean_matches_no_dropout():
    rng = RNG(16)
    q, k, v = (shendu.tensor(rng.uniform(-1, 1, s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 3)])
    ref = F.scaled_dot_product_attention(q, k, v).numpy()
    shendu.manual_seed(0)
    outs = np.array([F.scaled_dot_product_attention(q, k, v, dropout_p=0.4).numpy()
                     for _ in range(500)])
    assert np.std(outs, 0).max() > 0.05
    np.testing.assert_allclose(outs.mean(0), ref, atol=0.05)
