"""Losses: every torch loss (functional and module) against torch in float64 — the value and
the gradients of every differentiable input — with gradcheck and gradgradcheck; the fused
cross-entropy's gradient; legacy reduction flags; stability; clear errors. The losses torch
lacks (focal, center, AM-softmax, L-/A-softmax, 0-1, perceptron) are tested against their
defining formulas."""
import warnings

import numpy as np
import pytest
import torch

import shendu
from torch_oracle import check, gradchecks, compare

rng = np.random.default_rng(0)
Y = rng.integers(0, 5, (4,))                       # class indices for (4, 5) inputs
Y_IGN = Y.copy()
Y_IGN[1] = -100
Y_IGN7 = Y.copy()
Y_IGN7[2] = 7                                      # a custom ignore_index
Y3 = rng.integers(0, 3, (2, 4, 5))                 # for (2, 3, 4, 5) inputs
Y3[0, 1, 2] = -100
W5 = rng.uniform(0.2, 2.0, 5)
W3 = rng.uniform(0.2, 2.0, 3)
PM = np.array([[1.0, -1, 1, -1], [1, 1, -1, -1], [-1, -1, 1, 1]])   # ±1 labels for (3, 4)


def T(L, a):
    """A constant tensor on either side."""
    return L.tensor(a)


def F(L):
    return L.nn.functional


# (id, fn(lib, *inputs), input shapes, options)
CASES = [
    # regression
    ("mse", lambda L, x, t: F(L).mse_loss(x, t), [(3, 4), (3, 4)], {}),
    ("mse_none", lambda L, x, t: F(L).mse_loss(x, t, reduction="none"), [(3, 4), (3, 4)], {}),
    ("mse_sum_0d", lambda L, x, t: F(L).mse_loss(x, t, reduction="sum"), [(), ()], {}),
    ("mse_weight", lambda L, x, t, w: F(L).mse_loss(x, t, weight=w), [(3, 4), (3, 4), (3, 4)],
     dict(positive=True)),
    ("l1", lambda L, x, t: F(L).l1_loss(x, t), [(3, 4), (3, 4)], {}),
    ("l1_weight_sum", lambda L, x, t, w: F(L).l1_loss(x, t, reduction="sum", weight=w),
     [(3, 4), (3, 4), (3, 4)], {}),
    ("huber", lambda L, x, t: F(L).huber_loss(x, t, delta=0.7), [(3, 4), (3, 4)], {}),
    ("huber_weight", lambda L, x, t, w: F(L).huber_loss(x, t, delta=0.7, weight=w),
     [(3, 4), (3, 4), (3, 4)], {}),
    ("smooth_l1", lambda L, x, t: F(L).smooth_l1_loss(x, t, beta=0.5), [(3, 4), (3, 4)], {}),
    ("smooth_l1_beta0", lambda L, x, t: F(L).smooth_l1_loss(x, t, beta=0.0), [(3, 4), (3, 4)], {}),
    ("smooth_l1_none", lambda L, x, t: F(L).smooth_l1_loss(x, t, reduction="none"),
     [(2, 3), (2, 3)], {}),
    # classification, class indices
    ("ce", lambda L, x: F(L).cross_entropy(x, T(L, Y)), [(4, 5)], {}),
    ("ce_sum", lambda L, x: F(L).cross_entropy(x, T(L, Y), reduction="sum"), [(4, 5)], {}),
    ("ce_none", lambda L, x: F(L).cross_entropy(x, T(L, Y), reduction="none"), [(4, 5)], {}),
    ("ce_weight", lambda L, x: F(L).cross_entropy(x, T(L, Y), weight=T(L, W5)), [(4, 5)], {}),
    ("ce_ignore", lambda L, x: F(L).cross_entropy(x, T(L, Y_IGN)), [(4, 5)], {}),
    ("ce_ignore_custom", lambda L, x: F(L).cross_entropy(x, T(L, Y_IGN7), ignore_index=7,
                                                         reduction="none"), [(4, 5)], {}),
    ("ce_smooth", lambda L, x: F(L).cross_entropy(x, T(L, Y), label_smoothing=0.2), [(4, 5)], {}),
    ("ce_all", lambda L, x: F(L).cross_entropy(x, T(L, Y_IGN), weight=T(L, W5),
                                               label_smoothing=0.3), [(4, 5)], {}),
    ("ce_all_sum", lambda L, x: F(L).cross_entropy(x, T(L, Y_IGN), weight=T(L, W5),
                                                   label_smoothing=0.3, reduction="sum"),
     [(4, 5)], {}),
    ("ce_all_none", lambda L, x: F(L).cross_entropy(x, T(L, Y_IGN), weight=T(L, W5),
                                                    label_smoothing=0.3, reduction="none"),
     [(4, 5)], {}),
    ("ce_nd", lambda L, x: F(L).cross_entropy(x, T(L, Y3), weight=T(L, W3),
                                              label_smoothing=0.1), [(2, 3, 4, 5)], {}),
    ("ce_nd_none", lambda L, x: F(L).cross_entropy(x, T(L, Y3), reduction="none"),
     [(2, 3, 4, 5)], {}),
    ("ce_unbatched", lambda L, x: F(L).cross_entropy(x, T(L, 2)), [(5,)], {}),
    ("ce_one_class", lambda L, x: F(L).cross_entropy(x, T(L, np.zeros(3, np.int64))), [(3, 1)], {}),
    ("ce_large_logits", lambda L, x: F(L).cross_entropy(x * 500, T(L, Y)), [(4, 5)], {}),
    # classification, probabilities (the target's gradient is compared too)
    ("ce_prob", lambda L, x, t: F(L).cross_entropy(x, t.softmax(1)), [(4, 5), (4, 5)], {}),
    ("ce_prob_all", lambda L, x, t: F(L).cross_entropy(x, t.softmax(1), weight=T(L, W5),
                                                       label_smoothing=0.25), [(4, 5), (4, 5)], {}),
    ("ce_prob_none", lambda L, x, t: F(L).cross_entropy(x, t.softmax(1), reduction="none"),
     [(4, 5), (4, 5)], {}),
    ("ce_prob_nd", lambda L, x, t: F(L).cross_entropy(x, t.softmax(1), weight=T(L, W3)),
     [(2, 3, 4), (2, 3, 4)], {}),
    ("ce_prob_unbatched", lambda L, x, t: F(L).cross_entropy(x, t.softmax(0), reduction="sum"),
     [(5,), (5,)], {}),
    ("nll", lambda L, x: F(L).nll_loss(x.log_softmax(1), T(L, Y)), [(4, 5)], {}),
    ("nll_raw", lambda L, x: F(L).nll_loss(x, T(L, Y_IGN), weight=T(L, W5)), [(4, 5)], {}),
    ("nll_sum", lambda L, x: F(L).nll_loss(x, T(L, Y_IGN), weight=T(L, W5), reduction="sum"),
     [(4, 5)], {}),
    ("nll_nd_none", lambda L, x: F(L).nll_loss(x, T(L, Y3), reduction="none"), [(2, 3, 4, 5)], {}),
    ("nll_nd", lambda L, x: F(L).nll_loss(x, T(L, Y3), weight=T(L, W3)), [(2, 3, 4, 5)], {}),
    ("nll_unbatched", lambda L, x: F(L).nll_loss(x, T(L, 3)), [(5,)], {}),
    # binary
    ("bce", lambda L, x, t: F(L).binary_cross_entropy(x.sigmoid(), t.sigmoid()),
     [(3, 4), (3, 4)], {}),
    ("bce_weight", lambda L, x, t: F(L).binary_cross_entropy(x.sigmoid(), t.sigmoid(),
                                                             weight=T(L, W5[:4]),
                                                             reduction="sum"), [(3, 4), (3, 4)], {}),
    ("bce_logits", lambda L, x, t: F(L).binary_cross_entropy_with_logits(x, t.sigmoid()),
     [(3, 4), (3, 4)], {}),
    ("bce_logits_pos", lambda L, x, t: F(L).binary_cross_entropy_with_logits(
        x, t.sigmoid(), weight=T(L, W5[:4]), pos_weight=T(L, W5[1:]), reduction="none"),
     [(3, 4), (3, 4)], {}),
    ("bce_logits_big", lambda L, x, t: F(L).binary_cross_entropy_with_logits(x * 300, t.sigmoid()),
     [(3, 4), (3, 4)], {}),
    ("kl", lambda L, x, t: F(L).kl_div(x.log_softmax(1), t.softmax(1), reduction="batchmean"),
     [(3, 4), (3, 4)], {}),
    ("kl_sum", lambda L, x, t: F(L).kl_div(x, t.softmax(1), reduction="sum"),
     [(3, 4), (3, 4)], {}),
    ("kl_none", lambda L, x, t: F(L).kl_div(x, t.softmax(1), reduction="none"),
     [(3, 4), (3, 4)], {}),
    ("kl_log_target", lambda L, x, t: F(L).kl_div(x.log_softmax(1), t.log_softmax(1),
                                                  reduction="batchmean", log_target=True),
     [(3, 4), (3, 4)], {}),
    # margins
    ("multi_margin", lambda L, x: F(L).multi_margin_loss(x, T(L, Y)), [(4, 5)], {}),
    ("multi_margin_p2", lambda L, x: F(L).multi_margin_loss(x, T(L, Y), p=2, margin=0.7,
                                                            weight=T(L, W5)), [(4, 5)], {}),
    ("multi_margin_none", lambda L, x: F(L).multi_margin_loss(x, T(L, Y), reduction="none"),
     [(4, 5)], {}),
    ("multi_margin_1d", lambda L, x: F(L).multi_margin_loss(x, T(L, 3)), [(5,)], {}),
    ("multilabel_margin", lambda L, x: F(L).multilabel_margin_loss(
        x, T(L, [[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0]])), [(3, 4)], {}),
    ("multilabel_margin_dup", lambda L, x: F(L).multilabel_margin_loss(
        x, T(L, [[3, 3, 0, -1], [1, 2, 3, 0]]), reduction="none"), [(2, 4)], {}),
    ("multilabel_margin_1d", lambda L, x: F(L).multilabel_margin_loss(x, T(L, [2, 0, -1, 1])),
     [(4,)], {}),
    ("multilabel_soft_margin", lambda L, x, t: F(L).multilabel_soft_margin_loss(
        x, (t > 0).double(), weight=T(L, W5[:4])), [(3, 4), (3, 4)], {}),
    ("hinge_embedding", lambda L, x: F(L).hinge_embedding_loss(x, T(L, PM), margin=0.5),
     [(3, 4)], {}),
    ("hinge_embedding_other_labels", lambda L, x: F(L).hinge_embedding_loss(
        x, T(L, PM * 2), reduction="none"), [(3, 4)], {}),
    ("soft_margin", lambda L, x: F(L).soft_margin_loss(x, T(L, PM)), [(3, 4)], {}),
    ("cosine_embedding", lambda L, a, b: F(L).cosine_embedding_loss(
        a, b, T(L, [1.0, -1, 1]), margin=0.1), [(3, 4), (3, 4)], {}),
    ("cosine_embedding_1d", lambda L, a, b: F(L).cosine_embedding_loss(a, b, T(L, -1.0),
                                                                       margin=-0.5), [(4,), (4,)], {}),
    ("margin_ranking", lambda L, a, b: F(L).margin_ranking_loss(a, b, T(L, [1.0, -1, 1]),
                                                                margin=0.1), [(3,), (3,)], {}),
    ("triplet", lambda L, a, p, n: F(L).triplet_margin_loss(a, p, n, margin=2.0, swap=True),
     [(3, 4), (3, 4), (3, 4)], {}),
    ("triplet_p1_none", lambda L, a, p, n: F(L).triplet_margin_loss(a, p, n, p=1,
                                                                    reduction="none"),
     [(3, 4), (3, 4), (3, 4)], {}),
    ("triplet_p3_1d", lambda L, a, p, n: F(L).triplet_margin_loss(a, p, n, p=3, margin=3.0),
     [(4,), (4,), (4,)], {}),
    ("triplet_distance_fn", lambda L, a, p, n: F(L).triplet_margin_with_distance_loss(
        a, p, n, distance_function=lambda u, v: 1 - F(L).cosine_similarity(u, v), margin=0.5,
        swap=True), [(3, 4), (3, 4), (3, 4)], {}),
    ("poisson", lambda L, x, t: F(L).poisson_nll_loss(x, t.abs() * 3), [(3, 4), (3, 4)], {}),
    ("poisson_full", lambda L, x, t: F(L).poisson_nll_loss(x, t.abs() * 3, full=True),
     [(3, 4), (3, 4)], {}),
    ("poisson_rate", lambda L, x, t: F(L).poisson_nll_loss(x.abs() + 0.1, t.abs() * 3,
                                                           log_input=False, reduction="sum"),
     [(3, 4), (3, 4)], {}),
    ("gaussian", lambda L, x, t, v: F(L).gaussian_nll_loss(x, t, v.abs(), full=True),
     [(3, 4), (3, 4), (3, 4)], {}),
    ("gaussian_shared", lambda L, x, t, v: F(L).gaussian_nll_loss(x, t, v.abs()),
     [(3, 4), (3, 4), (3,)], {}),
    ("gaussian_bcast", lambda L, x, t, v: F(L).gaussian_nll_loss(x, t, v.abs(), reduction="none"),
     [(3, 4), (3, 4), (3, 1)], {}),
    ("gaussian_clamped_var", lambda L, x, t, v: F(L).gaussian_nll_loss(x, t, v * 1e-8, eps=1e-3),
     [(3, 4), (3, 4), (3, 4)], dict(positive=True)),
    # distances
    ("pairwise_distance", lambda L, a, b: F(L).pairwise_distance(a, b), [(3, 4), (3, 4)], {}),
    ("pairwise_distance_p1_keep", lambda L, a, b: F(L).pairwise_distance(a, b, 1.0, 1e-3, True),
     [(3, 4), (4,)], {}),
    ("cosine_similarity", lambda L, a, b: F(L).cosine_similarity(a, b), [(3, 4), (3, 4)], {}),
    ("cosine_similarity_dim0", lambda L, a, b: F(L).cosine_similarity(a, b, dim=0, eps=1e-6),
     [(3, 4), (3, 1)], {}),
    ("normalize", lambda L, a: F(L).normalize(a, dim=0), [(3, 4)], {}),
    ("normalize_p1", lambda L, a: F(L).normalize(a, p=1.0, dim=-1), [(2, 3, 4)], {}),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_parity(case):
    _, fn, shapes, opts = case
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        check(fn, *shapes, **opts)


# torch clamps var at eps but passes the gradient through as if unclamped: by design not
# the derivative of the clamped function, so central differences disagree there
NOT_TRUE_DERIVATIVE = {"gaussian_clamped_var"}


@pytest.mark.parametrize("case", [c for c in CASES if c[0] not in NOT_TRUE_DERIVATIVE],
                         ids=[i for i in IDS if i not in NOT_TRUE_DERIVATIVE])
def test_gradcheck_and_gradgradcheck(case):
    _, fn, shapes, opts = case
    gradchecks(fn, *shapes, **opts)


# ---------------------------------------------------------------- the fused cross-entropy
def test_cross_entropy_index_form_equals_the_dense_form_and_survives_retain_graph():
    """(N, C) logits with class indices take SoftmaxCrossEntropyIndex (no dense target);
    its values and gradients equal the dense form's, and a second backward with
    retain_graph gives the same gradient again (backward must not consume its softmax)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 7))
    y = np.array([0, 6, 3, 3, -100, 2, 1, 5, 4])
    w = rng.uniform(0.5, 2.0, 7)
    F = shendu.nn.functional
    for red in ("mean", "sum", "none"):
        xs = shendu.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xs, shendu.tensor(y), weight=shendu.tensor(w), reduction=red)
        assert type(loss.grad_fn).__name__ == "SoftmaxCrossEntropyIndex"
        g = np.ones(loss.shape)
        loss.backward(shendu.tensor(g), retain_graph=True)
        first = xs.grad.numpy().copy()
        xs.grad = None
        loss.backward(shendu.tensor(g))
        np.testing.assert_array_equal(xs.grad.numpy(), first)
        # the dense form: the same target as class probabilities, weighted rows
        xd = shendu.tensor(x, requires_grad=True)
        t = np.zeros((9, 7))
        keep = y != -100
        t[np.arange(9)[keep], y[keep]] = 1.0
        per_row = -(F.log_softmax(xd, 1) * shendu.tensor(t * w)).sum(1)
        dense = {"none": per_row, "sum": per_row.sum(),
                 "mean": per_row.sum() / float(w[y[keep]].sum())}[red]
        dense.backward(shendu.tensor(g))
        np.testing.assert_allclose(loss.detach().numpy(), dense.detach().numpy(), rtol=1e-13)
        np.testing.assert_allclose(first, xd.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = shendu.randn(6, 4, dtype=shendu.float64, requires_grad=True)
    y = shendu.tensor([0, 3, 1, 1, 2, 0])
    loss = shendu.nn.functional.cross_entropy(x, y, reduction="sum")
    assert type(loss.grad_fn).__name__ == "SoftmaxCrossEntropyIndex"     # one fused node
    assert loss.grad_fn.next_functions[0][0] is x._grad_accumulator()
    loss.backward()
    onehot = np.eye(4)[y.numpy()]
    np.testing.assert_allclose(x.grad.numpy(), x.detach().softmax(1).numpy() - onehot, rtol=1e-13)


def test_cross_entropy_hessian_matches_torch():
    a = np.random.default_rng(3).normal(size=(3, 4))
    hs = shendu.autograd.functional.hessian(
        lambda x: shendu.nn.functional.cross_entropy(x, shendu.tensor([1, 0, 3]),
                                                     label_smoothing=0.1), shendu.tensor(a))
    ht = torch.autograd.functional.hessian(
        lambda x: torch.nn.functional.cross_entropy(x, torch.tensor([1, 0, 3]),
                                                    label_smoothing=0.1), torch.tensor(a))
    compare(hs, ht)


def test_cross_entropy_all_ignored_is_nan_like_torch():
    for kw in ({}, {"label_smoothing": 0.1}):
        check(lambda L, x: F(L).cross_entropy(x, T(L, [-100] * 4), **kw), (4, 5), grad=False)


def test_cross_entropy_float32_keeps_dtype():
    x = shendu.randn(8, 3, requires_grad=True)
    loss = shendu.nn.functional.cross_entropy(x, shendu.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    assert loss.dtype == shendu.float32
    loss.backward()
    assert x.grad.dtype == shendu.float32
    check(lambda L, x: F(L).cross_entropy(x, T(L, Y), label_smoothing=0.1), (4, 5),
          dtype=np.float32)


def test_cross_entropy_extreme_logits_finite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(lambda L, x: F(L).cross_entropy(x * 1000, T(L, Y)), (4, 5))
        check(lambda L, x: F(L).cross_entropy(x * 1000, T(L, Y)), (4, 5), dtype=np.float32)
        check(lambda L, x, t: F(L).binary_cross_entropy_with_logits(x * 1000, t.sigmoid()),
              (3, 4), (3, 4))


def test_bce_clamps_log_at_minus_100():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(lambda L, x: F(L).binary_cross_entropy(x, T(L, np.array([0.3, 0.6, 1.0, 0.0]))),
              vals=[np.array([0.0, 1.0, 0.5, 0.25])], grad=False)


# ---------------------------------------------------------------- legacy flags, reductions
@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (False, True),
                                                 (True, None), (None, True), (True, False)])
def test_legacy_size_average_reduce(size_average, reduce):
    kw = dict(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        check(lambda L, x, t: F(L).mse_loss(x, t, **kw), (3, 4), (3, 4))
    with pytest.warns(UserWarning):
        check(lambda L, x: F(L).cross_entropy(x, T(L, Y), **kw), (4, 5))
    with pytest.warns(UserWarning):
        s = shendu.nn.L1Loss(**kw)
    with pytest.warns(UserWarning):
        t = torch.nn.L1Loss(**kw)
    assert s.reduction == t.reduction


def test_invalid_reduction():
    x = shendu.randn(3)
    for fn in (lambda: shendu.nn.functional.l1_loss(x, x, reduction="avg"),
               lambda: shendu.nn.functional.cross_entropy(shendu.randn(2, 3),
                                                          shendu.tensor([0, 1]), reduction="avg"),
               lambda: shendu.nn.functional.kl_div(x, x, reduction="avg")):
        with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
            fn()


def test_kl_div_mean_warns_like_torch():
    with pytest.warns(UserWarning, match="batchmean"):
        check(lambda L, x, t: F(L).kl_div(x, t.softmax(1)), (3, 4), (3, 4))


def test_size_mismatch_warns_and_broadcasts():
    with pytest.warns(UserWarning, match="Using a target size"):
        check(lambda L, x, t: F(L).mse_loss(x, t), (3, 4), (4,))


# ---------------------------------------------------------------- modules
def _module_pair(spec):
    t = eval("torch.nn." + spec)
    s = eval("shendu.nn." + spec.replace("torch.", "shendu."))
    return t, s


MODULES = [
    ("MSELoss()", "reg"), ("L1Loss(reduction='sum')", "reg"), ("HuberLoss(delta=0.5)", "reg"),
    ("SmoothL1Loss(beta=0.3)", "reg"), ("CrossEntropyLoss()", "ce"),
    ("CrossEntropyLoss(weight=torch.tensor(W5), ignore_index=1, label_smoothing=0.2)", "ce"),
    ("NLLLoss(weight=torch.tensor(W5), reduction='sum')", "nll"), ("BCELoss()", "bce"),
    ("BCELoss(weight=torch.tensor(W5[:4]))", "bce"),
    ("BCEWithLogitsLoss(pos_weight=torch.tensor(W5[:4]))", "bcel"),
    ("BCEWithLogitsLoss(weight=torch.tensor(W5[1:]), pos_weight=torch.tensor(W5[:4]))", "bcel"),
    ("KLDivLoss(reduction='batchmean')", "kl"), ("KLDivLoss(reduction='sum', log_target=True)", "kl"),
    ("MultiMarginLoss(p=2, weight=torch.tensor(W5))", "ce"), ("MultiLabelMarginLoss()", "mlm"),
    ("MultiLabelSoftMarginLoss(weight=torch.tensor(W5[:4]))", "mlsm"),
    ("HingeEmbeddingLoss(margin=0.3)", "pm"), ("SoftMarginLoss()", "pm"),
    ("CosineEmbeddingLoss(margin=0.2)", "pair"), ("MarginRankingLoss(margin=0.2)", "rank"),
    ("TripletMarginLoss(margin=1.5, p=1.0, swap=True)", "triplet"),
    ("TripletMarginWithDistanceLoss(margin=0.5)", "triplet"),
    ("PoissonNLLLoss(full=True)", "poisson"), ("GaussianNLLLoss(full=True)", "gauss"),
    ("PairwiseDistance(p=1.0)", "dist"), ("CosineSimilarity(dim=0)", "dist"),
]


def _module_inputs(kind, r):
    x = r.normal(size=(3, 4))
    if kind == "reg":
        return [x, r.normal(size=(3, 4))], []
    if kind in ("ce", "nll"):
        return [r.normal(size=(4, 5))], [Y]
    if kind == "bce":
        return [r.uniform(0.05, 0.95, (3, 4))], [r.uniform(size=(3, 4))]
    if kind == "bcel":
        return [x], [r.uniform(size=(3, 4))]
    if kind == "kl":
        return [np.log(np.full((3, 4), 0.25)) + 0.1 * x], [np.full((3, 4), 0.25)]
    if kind == "mlm":
        return [x], [np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0]])]
    if kind == "mlsm":
        return [x], [(r.normal(size=(3, 4)) > 0).astype(float)]
    if kind == "pm":
        return [x], [PM]
    if kind == "pair":
        return [x, r.normal(size=(3, 4))], [np.array([1.0, -1, 1])]
    if kind == "rank":
        return [x[0], x[1]], [np.array([1.0, -1, 1, -1])]
    if kind == "triplet":
        return [x, r.normal(size=(3, 4)), r.normal(size=(3, 4))], []
    if kind == "poisson":
        return [x], [np.abs(r.normal(size=(3, 4))) * 3]
    if kind == "gauss":
        return [x, r.normal(size=(3, 4)), np.abs(r.normal(size=(3, 4)))], []
    return [x, r.normal(size=(3, 4))], []


@pytest.mark.parametrize("spec,kind", MODULES, ids=[m[0] for m in MODULES])
def test_loss_module_matches_torch(spec, kind):
    t, s = _module_pair(spec)
    assert repr(s) == repr(t)
    assert list(s.state_dict()) == list(t.state_dict())
    for k, v in t.state_dict().items():
        compare(s.state_dict()[k], v, what=k)
    diff, const = _module_inputs(kind, np.random.default_rng(5))
    ti = [torch.tensor(a, requires_grad=True) for a in diff]
    si = [shendu.tensor(a, requires_grad=True) for a in diff]
    yt, ys = t(*ti, *[torch.tensor(c) for c in const]), s(*si, *[shendu.tensor(c) for c in const])
    compare(ys, yt)
    yt.sum().backward()
    ys.sum().backward()
    for i, (a, b) in enumerate(zip(si, ti)):
        compare(a.grad, b.grad, what=f"grad of input {i}")


def test_weighted_loss_buffers_follow_module_dtype():
    m = shendu.nn.CrossEntropyLoss(weight=shendu.ones(3))
    assert m.weight.dtype == shendu.float32
    m.double()
    assert m.weight.dtype == shendu.float64
    assert "weight" in dict(m.named_buffers())
    assert list(shendu.nn.CrossEntropyLoss().state_dict()) == []


# ---------------------------------------------------------------- errors
def test_cross_entropy_target_out_of_range_names_label():
    x = shendu.randn(4, 5)
    with pytest.raises(IndexError, match="^Target 12 is out of bounds.$"):
        shendu.nn.functional.cross_entropy(x, shendu.tensor([0, 1, 12, 2]))
    with pytest.raises(IndexError, match="Target -3 is out of bounds."):
        shendu.nn.functional.nll_loss(x, shendu.tensor([0, 1, -3, 2]))
    with pytest.raises(IndexError, match="Target 5 is out of bounds."):
        shendu.nn.CrossEntropyLoss()(shendu.randn(2, 5, 3), shendu.tensor([[0, 1, 5]] * 2))


def test_cross_entropy_float_class_targets_clear_error():
    x = shendu.randn(4, 5)
    with pytest.raises(RuntimeError, match=r"expected target dtype to be Long or Byte \(class "
                                           r"indices\).*got Float of shape \(4,\); class "
                                           r"probabilities must have the input's shape"):
        shendu.nn.functional.cross_entropy(x, shendu.tensor([0.0, 1, 2, 3]))


def test_cross_entropy_shape_errors_like_torch():
    F_ = shendu.nn.functional
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target "
                                         r"batch_size \(3\)."):
        F_.cross_entropy(shendu.randn(4, 5), shendu.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 3\]"):
        F_.cross_entropy(shendu.randn(2, 3, 4), shendu.tensor([[0, 1, 2], [1, 1, 1]]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 5 "
                                           r"classes or no classes but got weight tensor of "
                                           r"shape: \[3\]"):
        F_.cross_entropy(shendu.randn(4, 5), shendu.tensor([0, 1, 2, 3]), weight=shendu.ones(3))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        F_.cross_entropy(shendu.randn(4, 5), shendu.tensor([0, 1, 2, 3]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="For 1D input, 1D target must have size 1"):
        F_.nll_loss(shendu.randn(4), shendu.tensor([1, 2, 3, 0]))


def test_other_loss_errors():
    F_ = shendu.nn.functional
    x = shendu.rand(3)
    with pytest.raises(ValueError, match="different to the input size"):
        F_.binary_cross_entropy(x, shendu.rand(3, 1))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F_.binary_cross_entropy(x + 1, x)
    with pytest.raises(ValueError, match="must be the same as input size"):
        F_.binary_cross_entropy_with_logits(x, shendu.rand(3, 1))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F_.multi_margin_loss(shendu.randn(2, 3), shendu.tensor([0, 1]), p=3)
    with pytest.raises(RuntimeError, match="target out of range"):
        F_.multi_margin_loss(shendu.randn(2, 3), shendu.tensor([0, 3]))
    with pytest.raises(RuntimeError, match="'target' is out of range"):
        F_.multilabel_margin_loss(shendu.randn(1, 3), shendu.tensor([[0, 7, -1]]))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F_.multilabel_margin_loss(shendu.randn(2, 3), shendu.tensor([[0, 1]] * 2))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F_.gaussian_nll_loss(shendu.randn(4, 5), shendu.randn(4, 5), shendu.ones(4, 2))
    with pytest.raises(ValueError, match="var has negative"):
        F_.gaussian_nll_loss(shendu.randn(4, 5), shendu.randn(4, 5), -shendu.ones(4, 5))
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        F_.huber_loss(x, x, delta=0)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F_.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F_.mse_loss(x, x, weight=shendu.ones(2))


# ---------------------------------------------------------------- focal loss (Lin et al. 2017)
def _focal_ref(x, y, alpha, gamma):
    logp = x - np.log(np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)) - x.max(1, keepdims=True)
    lp = np.take_along_axis(logp, y[:, None], 1)[:, 0]
    a = 1.0 if alpha is None else (alpha[y] if isinstance(alpha, np.ndarray) else alpha)
    return -a * (1 - np.exp(lp)) ** gamma * lp


@pytest.mark.parametrize("alpha", [None, 0.25, W5])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_loss_multiclass_formula(alpha, gamma):
    x = np.random.default_rng(7).normal(size=(6, 5)) * 2
    y = np.array([0, 4, 2, 2, 1, 3])
    a = None if alpha is None else (shendu.tensor(alpha) if isinstance(alpha, np.ndarray) else alpha)
    got = shendu.nn.functional.focal_loss(shendu.tensor(x), shendu.tensor(y), alpha=a, gamma=gamma,
                                          reduction="none")
    np.testing.assert_allclose(got.numpy(), _focal_ref(x, y, alpha, gamma), rtol=1e-12)
    gradchecks(lambda L, x: L.nn.functional.focal_loss(x, L.tensor(y), alpha=a, gamma=gamma),
               (6, 5))


def test_focal_loss_gamma0_is_cross_entropy():
    check(lambda L, x: (L.nn.functional.focal_loss(x, L.tensor(Y_IGN), gamma=0.0)
                        if L is shendu else L.nn.functional.cross_entropy(x, L.tensor(Y_IGN))),
          (4, 5))
    check(lambda L, x: (L.nn.functional.focal_loss(x, L.tensor(Y3), gamma=0.0, reduction="sum")
                        if L is shendu else L.nn.functional.cross_entropy(x, L.tensor(Y3),
                                                                          reduction="sum")),
          (2, 3, 4, 5))
    check(lambda L, x, t: (L.nn.functional.focal_loss(x, t.sigmoid(), alpha=None, gamma=0.0)
                           if L is shendu else
                           L.nn.functional.binary_cross_entropy_with_logits(x, t.sigmoid())),
          (3, 4), (3, 4))


def test_focal_loss_binary_formula_and_easy_examples_down_weighted():
    x = np.array([-3.0, -0.5, 0.2, 4.0])
    t = np.array([0.0, 1.0, 1.0, 1.0])
    p = 1 / (1 + np.exp(-x))
    pt = p * t + (1 - p) * (1 - t)
    at = 0.25 * t + 0.75 * (1 - t)
    ref = -at * (1 - pt) ** 2 * np.log(pt)
    got = shendu.nn.FocalLoss(alpha=0.25, gamma=2.0, reduction="none")(shendu.tensor(x),
                                                                        shendu.tensor(t))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    ce = -np.log(pt)
    assert (got.numpy() / ce)[3] < (got.numpy() / ce)[1]          # the easy one weighs least
    gradchecks(lambda L, x, t: L.nn.functional.focal_loss(x, t.sigmoid(), alpha=0.25), (3, 4),
               (3, 4))


def test_focal_loss_module():
    m = shendu.nn.FocalLoss(alpha=shendu.tensor(W5), gamma=1.5)
    assert list(m.state_dict()) == ["alpha"]
    assert repr(m) == "FocalLoss(alpha=tensor(5,), gamma=1.5)"
    x = shendu.randn(4, 5, dtype=shendu.float64)
    ref = _focal_ref(x.numpy(), Y, W5, 1.5).mean()
    np.testing.assert_allclose(m(x, shendu.tensor(Y)).item(), ref, rtol=1e-12)


# ---------------------------------------------------------------- center loss (Wen et al. 2016)
def test_center_loss_formula_and_gradients():
    shendu.manual_seed(0)
    m = shendu.nn.CenterLoss(4, 3).double()
    assert list(m.state_dict()) == ["centers"] and m.centers.shape == (4, 3)
    x = shendu.randn(5, 3, dtype=shendu.float64, requires_grad=True)
    y = shendu.tensor([0, 2, 2, 3, 0])
    loss = m(x, y)
    c = m.centers.detach().numpy()[y.numpy()]
    np.testing.assert_allclose(loss.item(), 0.5 * ((x.detach().numpy() - c) ** 2).sum(1).mean(),
                               rtol=1e-13)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), (x.detach().numpy() - c) / 5, rtol=1e-13)
    g = np.zeros((4, 3))
    np.add.at(g, y.numpy(), -(x.detach().numpy() - c) / 5)
    np.testing.assert_allclose(m.centers.grad.numpy(), g, rtol=1e-13)
    assert shendu.autograd.gradcheck(lambda x, c: shendu.nn.functional.center_loss(x, y, c),
                                     (x, m.centers))
    assert shendu.autograd.gradgradcheck(lambda x, c: shendu.nn.functional.center_loss(x, y, c),
                                         (x, m.centers))


def test_center_loss_bad_input():
    m = shendu.nn.CenterLoss(4, 3)
    with pytest.raises(RuntimeError, match=r"CenterLoss\) got input of shape \(5, 2\)"):
        m(shendu.randn(5, 2), shendu.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        m(shendu.randn(2, 3), shendu.tensor([0, 4]))


# ---------------------------------------------------------------- margin softmax heads
def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_am_softmax_formula():
    shendu.manual_seed(1)
    head = shendu.nn.AMSoftmax(6, 4, s=10.0, m=0.3).double()
    assert list(head.state_dict()) == ["weight"] and head.weight.shape == (4, 6)
    x = np.random.default_rng(2).normal(size=(5, 6))
    y = np.array([0, 3, 1, 1, 2])
    cos_ = _unit(x) @ _unit(head.weight.detach().numpy()).T
    ref = 10.0 * (cos_ - 0.3 * np.eye(4)[y])
    np.testing.assert_allclose(head.logits(shendu.tensor(x), shendu.tensor(y)).detach().numpy(),
                               ref, rtol=1e-12)
    np.testing.assert_allclose(head.logits(shendu.tensor(x)).detach().numpy(), 10 * cos_,
                               rtol=1e-12)
    logp = ref - np.log(np.exp(ref).sum(1, keepdims=True))
    np.testing.assert_allclose(head(shendu.tensor(x), shendu.tensor(y)).item(),
                               -logp[np.arange(5), y].mean(), rtol=1e-12)
    yt = shendu.tensor(y)
    gradchecks(lambda L, x, w: L.nn.functional.am_softmax_loss(x, w, yt, s=5.0, m=0.2),
               (5, 6), (4, 6))


def _psi(theta, m):
    k = np.minimum(np.floor(theta * m / np.pi), m - 1)
    return (-1) ** k * np.cos(m * theta) - 2 * k


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_psi_is_monotone_and_below_cos(m):
    theta = np.linspace(0, np.pi, 2001)
    psi = _psi(theta, m)
    assert np.all(np.diff(psi) <= 1e-12)                     # monotone decreasing on [0, π]
    assert np.all(psi <= np.cos(theta) + 1e-12)              # a margin: ψ(θ) ≤ cos θ
    # our Chebyshev evaluation of cos(mθ) with the k, sign construction gives the same ψ
    c = shendu.tensor(np.cos(theta)).reshape(-1, 1)
    w = shendu.tensor([[1.0, 0.0]], dtype=shendu.float64)
    x = shendu.cat([c, (1 - c * c).clamp(min=0).sqrt()], 1)   # unit vectors at angle θ
    f = shendu.nn.functional.large_margin_logits(x, w, shendu.zeros(len(theta), dtype=shendu.int64),
                                                 margin=m)
    np.testing.assert_allclose(f.detach().numpy()[:, 0], psi, atol=1e-9)


@pytest.mark.parametrize("normalize_weight,beta", [(False, 0.0), (True, 0.0), (False, 2.0)])
def test_large_margin_logits_formula(normalize_weight, beta):
    x = np.random.default_rng(4).normal(size=(6, 5))
    w = np.random.default_rng(5).normal(size=(3, 5))
    y = np.array([0, 1, 2, 2, 1, 0])
    m = 3
    wn = _unit(w) if normalize_weight else w
    logits = x @ wn.T
    nx, nw = np.linalg.norm(x, axis=1), np.linalg.norm(wn[y], axis=1)
    cos_y = logits[np.arange(6), y] / (nx * nw)
    f_y = (beta * nx * nw * cos_y + nx * nw * _psi(np.arccos(cos_y), m)) / (1 + beta)
    ref = logits.copy()
    ref[np.arange(6), y] = f_y
    got = shendu.nn.functional.large_margin_logits(shendu.tensor(x), shendu.tensor(w),
                                                   shendu.tensor(y), m, normalize_weight, beta)
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-11)
    yt = shendu.tensor(y)
    gradchecks(lambda L, x, w: L.nn.functional.large_margin_softmax_loss(
        x, w, yt, m, normalize_weight, beta), (6, 5), (3, 5))


def test_margin_heads_modules():
    ls, asm = shendu.nn.LSoftmax(5, 3), shendu.nn.ASoftmax(5, 3)
    assert repr(ls) == "LSoftmax(in_features=5, num_classes=3, margin=2, beta=0.0)"
    assert repr(asm) == "ASoftmax(in_features=5, num_classes=3, margin=4, beta=0.0)"
    assert repr(shendu.nn.AMSoftmax(5, 3)) == "AMSoftmax(in_features=5, num_classes=3, s=30.0, m=0.35)"
    x, y = shendu.randn(4, 5, dtype=shendu.float64), shendu.tensor([0, 2, 1, 1])
    for head in (ls.double(), asm.double()):
        loss = head(x, y)
        loss.backward()
        assert head.weight.grad is not None and np.isfinite(head.weight.grad.numpy()).all()
        # margin 1 and no target: the plain logits
        plain = head.logits(x)
        w = head.weight.detach().numpy()
        w = _unit(w) if isinstance(head, shendu.nn.ASoftmax) else w
        np.testing.assert_allclose(plain.detach().numpy(), x.numpy() @ w.T, rtol=1e-12)
    with pytest.raises(ValueError, match="positive integer"):
        shendu.nn.LSoftmax(5, 3, margin=1.5)

    class Net(shendu.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = shendu.nn.AMSoftmax(5, 3)

        def forward(self, x, y):
            return self.head(x, y)
    with pytest.raises(RuntimeError, match=r"model\.head \(AMSoftmax 5→3\) got input of shape "
                                           r"\(2, 4\), expected \(N, in_features=5\)"):
        Net()(shendu.randn(2, 4), y[:2])


def test_margin_increases_the_true_class_loss():
    x, y = shendu.randn(8, 5, dtype=shendu.float64), shendu.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    shendu.manual_seed(3)
    w = shendu.randn(3, 5, dtype=shendu.float64)
    F_ = shendu.nn.functional
    plain = F_.cross_entropy(x @ w.t(), y).item()
    assert F_.large_margin_softmax_loss(x, w, y, margin=2).item() > plain
    assert F_.am_softmax_loss(x, w, y, s=1.0, m=0.3).item() > F_.am_softmax_loss(
        x, w, y, s=1.0, m=0.0).item()


# ---------------------------------------------------------------- 0-1 and perceptron (seed 003)
def test_zero_one_and_perceptron_binary():
    f = shendu.tensor([2.0, -1.0, 0.5, -3.0, 0.0], requires_grad=True)
    y = shendu.tensor([1.0, 1.0, -1.0, -1.0, 1.0])
    z = shendu.nn.functional.zero_one_loss(f, y, reduction="none")
    np.testing.assert_array_equal(z.numpy(), [0, 1, 1, 0, 1])
    assert not z.requires_grad
    p = shendu.nn.functional.perceptron_loss(f, y, reduction="none")
    np.testing.assert_array_equal(p.detach().numpy(), [0, 1.0, 0.5, 0, 0])   # max(0, −y·f)
    p.sum().backward()                       # Rosenblatt's update: −y where y·f ≤ 0
    np.testing.assert_array_equal(f.grad.numpy(), [0, -1.0, 1.0, 0, -1.0])
    assert shendu.nn.functional.zero_one_loss(f, y).item() == pytest.approx(0.6)
    # 0/1 labels read as −1/+1
    np.testing.assert_array_equal(
        shendu.nn.functional.zero_one_loss(f, (y > 0).long(), reduction="none").numpy(),
        z.numpy())


def test_zero_one_and_perceptron_multiclass():
    f = shendu.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 5.0], [1.0, 1.0, 0.0]])
    y = shendu.tensor([0, 1, 1])
    np.testing.assert_array_equal(
        shendu.nn.functional.zero_one_loss(f, y, reduction="none").numpy(), [0, 1, 1])
    np.testing.assert_array_equal(
        shendu.nn.functional.perceptron_loss(f, y, reduction="none").numpy(), [0, 3.0, 0])
    assert shendu.nn.functional.zero_one_loss(f, y, reduction="sum").item() == 2
    with pytest.raises(RuntimeError, match="expected binary scores"):
        shendu.nn.functional.zero_one_loss(f, shendu.tensor([0, 1]))


def test_hinge_bounds_zero_one_loss():
    # the surrogate relation of seed 003: 0-1 ≤ hinge, perceptron ≤ hinge
    f = shendu.randn(200, dtype=shendu.float64)
    y = shendu.tensor(np.where(np.random.default_rng(0).random(200) > 0.5, 1.0, -1.0))
    hinge = (1 - y * f).clamp(min=0)
    assert (shendu.nn.functional.zero_one_loss(f, y, reduction="none") <= hinge).all()
    assert (shendu.nn.functional.perceptron_loss(f, y, reduction="none") <= hinge).all()
