"""API mistakes torch refuses must be refused here too, with torch's words: products of two
dtypes (no promotion), BCE targets outside [0, 1], and the quiet ones: the gradient of
atan2 at (0, 0) and reading ``.grad`` of a non-leaf."""
import warnings

import numpy as np
import pytest
import torch

import shendu


def _pair(fn):
    """Run ``fn(L)`` with L = torch and L = shendu; return the two exceptions (or None)."""
    out = []
    for L in (torch, shendu):
        try:
            fn(L)
            out.append(None)
        except Exception as e:          # noqa: BLE001 — compared below
            out.append(e)
    return out


def _t(L, shape, dtype="float32", seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return L.tensor(a.astype(dtype)) if dtype.startswith("float") else L.tensor(a.astype(dtype))


PRODUCTS = {
    "mm": lambda L: L.mm(_t(L, (2, 3)), _t(L, (3, 4), "float64")),
    "mm int @ float": lambda L: L.mm(_t(L, (2, 3), "int64"), _t(L, (3, 2))),
    "mm int32 @ int64": lambda L: L.mm(_t(L, (2, 3), "int32"), _t(L, (3, 2), "int64")),
    "mm half": lambda L: L.mm(_t(L, (2, 3), "float16"), _t(L, (3, 2))),
    "@ 2d 2d": lambda L: _t(L, (2, 3)) @ _t(L, (3, 4), "float64"),
    "@ 1d 2d": lambda L: _t(L, (3,)) @ _t(L, (3, 2), "float64"),
    "@ 2d 1d": lambda L: _t(L, (2, 3)) @ _t(L, (3,), "float64"),
    "@ 3d 1d": lambda L: _t(L, (2, 2, 3)) @ _t(L, (3,), "float64"),
    "@ 1d 1d": lambda L: L.matmul(_t(L, (3,)), _t(L, (3,), "float64")),
    "@ 1d 3d": lambda L: _t(L, (3,)) @ _t(L, (2, 3, 2), "float64"),
    "@ 3d 3d broadcast": lambda L: _t(L, (2, 2, 3)) @ _t(L, (1, 3, 2), "float64"),
    "bmm": lambda L: L.bmm(_t(L, (1, 2, 3), "float64"), _t(L, (1, 3, 2))),
    "mv": lambda L: L.mv(_t(L, (2, 3), "float64"), _t(L, (3,))),
    "dot": lambda L: L.dot(_t(L, (3,)), _t(L, (3,), "float64")),
    "linear": lambda L: L.nn.functional.linear(_t(L, (2, 3)), _t(L, (4, 3), "float64")),
    "linear 3d": lambda L: L.nn.functional.linear(_t(L, (2, 2, 3)), _t(L, (4, 3), "float64")),
    "linear bias": lambda L: L.nn.functional.linear(_t(L, (2, 3)), _t(L, (4, 3)),
                                                    _t(L, (4,), "float64")),
    "linear input with bias": lambda L: L.nn.functional.linear(
        _t(L, (2, 3), "float64"), _t(L, (4, 3)), _t(L, (4,))),
    "Linear module": lambda L: L.nn.Linear(3, 4)(_t(L, (2, 3), "float64")),
    "bce target > 1": lambda L: L.nn.BCELoss()(L.tensor([0.5, 0.2]), L.tensor([1.5, 0.0])),
    "bce target < 0": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5]), L.tensor([-0.5])),
    "bce target nan": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5]), L.tensor([float("nan")])),
    "bce input nan": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([float("nan")]), L.tensor([0.5])),
    "bce weighted": lambda L: L.nn.functional.binary_cross_entropy(
        L.tensor([0.5]), L.tensor([2.0]), weight=L.tensor([1.0])),
}


@pytest.mark.parametrize("case", list(PRODUCTS))
def test_refused_in_torchs_words(case):
    te, se = _pair(PRODUCTS[case])
    assert te is not None, "the oracle accepts this; the table is wrong"
    assert se is not None, f"shendu accepted what torch refuses: {te}"
    # (a module adds its path in front: "model (Linear 3→4): ...")
    assert type(se) is type(te) and str(se).endswith(str(te))


@pytest.mark.parametrize("fn", ["conv1d", "conv2d", "conv3d", "conv_transpose2d"])
def test_convolutions_refuse_mixed_dtypes(fn):
    nd = int(fn[-2])
    for x_dt, w_dt in (("float32", "float64"), ("float64", "float32")):
        te, se = _pair(lambda L: getattr(L.nn.functional, fn)(
            _t(L, (1, 1) + (4,) * nd, x_dt), _t(L, (1, 1) + (2,) * nd, w_dt)))
        assert isinstance(te, RuntimeError) and isinstance(se, RuntimeError)
        assert "float32" in str(se) and "float64" in str(se)        # names both
    _, se = _pair(lambda L: L.nn.functional.conv2d(_t(L, (1, 1, 4, 4)), _t(L, (1, 1, 2, 2)),
                                                   _t(L, (1,), "float64")))
    assert isinstance(se, RuntimeError) and "bias" in str(se)


def test_bce_in_range_still_matches_torch():
    x, t = [0.0, 0.3, 1.0], [0.0, 0.25, 1.0]
    got = shendu.nn.BCELoss()(shendu.tensor(x, dtype=shendu.float64),
                              shendu.tensor(t, dtype=shendu.float64))
    want = torch.nn.BCELoss()(torch.tensor(x, dtype=torch.float64),
                              torch.tensor(t, dtype=torch.float64))
    assert got.item() == pytest.approx(want.item(), rel=1e-12)


def test_atan2_gradient_at_the_origin_is_zero_as_torch():
    ys, xs = [0.0, 0.0, 1.0, -2.0, 0.0], [0.0, -0.0, 0.0, 3.0, -1.0]
    grads = []
    for L in (torch, shendu):
        y = L.tensor(ys, dtype=L.float64, requires_grad=True)
        x = L.tensor(xs, dtype=L.float64, requires_grad=True)
        L.atan2(y, x).sum().backward()
        grads.append((y.grad.numpy(), x.grad.numpy()))
    for t, s in zip(*grads):
        assert not np.isnan(s).any()
        np.testing.assert_allclose(s, t, rtol=1e-12, atol=0)
        assert (np.signbit(s) == np.signbit(t)).all()
    # elsewhere still twice differentiable
    y = shendu.tensor([0.3, -1.2], dtype=shendu.float64, requires_grad=True)
    x = shendu.tensor([-0.7, 0.4], dtype=shendu.float64, requires_grad=True)
    assert shendu.autograd.gradcheck(shendu.atan2, (y, x))
    assert shendu.autograd.gradgradcheck(shendu.atan2, (y, x))


def test_grad_of_a_non_leaf_warns_as_torch():
    msgs = []
    for L in (torch, shendu):
        x = L.ones(2, requires_grad=True)
        y = x * 2
        y.sum().backward()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert y.grad is None
            assert x.grad is not None                # a leaf: no warning
            y2 = x * 3
            y2.retain_grad()
            y2.sum().backward()
            assert y2.grad is not None               # retained: no warning
            z = L.ones(2) * 2                        # outside any graph: a leaf
            assert z.grad is None
        assert len(w) == 1 and w[0].category is UserWarning and w[0].filename == __file__
        msgs.append(str(w[0].message))
    assert msgs[0].startswith(msgs[1])               # torch adds "(Triggered internally ...)"
