"""Tensor creation, dtypes and promotion, printing, RNG, errors, and property tests."""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

import shendu
from torch_oracle import check, compare

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def both(name):
    return getattr(torch, name), getattr(shendu, name)


# ------------------------------------------------------------------ creation
CREATION = [
    lambda L: L.tensor([1, 2, 3]),
    lambda L: L.tensor([1.5, 2]),
    lambda L: L.tensor([[True, False]]),
    lambda L: L.tensor(3.0),
    lambda L: L.tensor(np.array([1.0, 2.0])),
    lambda L: L.tensor(np.array([1, 2], dtype=np.int32)),
    lambda L: L.tensor([1, 2], dtype=L.float64),
    lambda L: L.zeros(2, 3),
    lambda L: L.zeros((2, 3), dtype=L.int64),
    lambda L: L.ones([4]),
    lambda L: L.full((2, 2), 7),
    lambda L: L.full((2, 2), 7.5),
    lambda L: L.full((2,), True),
    lambda L: L.zeros_like(L.ones(2, 3, dtype=L.float64)),
    lambda L: L.ones_like(L.tensor([1, 2])),
    lambda L: L.full_like(L.zeros(2), 3.0),
    lambda L: L.arange(5),
    lambda L: L.arange(1, 4, 0.5),
    lambda L: L.arange(0, 1, 0.1),
    lambda L: L.arange(10, 0, -3),
    lambda L: L.linspace(0, 1, 5),
    lambda L: L.linspace(-3, 7, 11),
    lambda L: L.linspace(0, 1, 1),
    lambda L: L.logspace(0, 2, 3),
    lambda L: L.eye(3),
    lambda L: L.eye(2, 4, dtype=L.int64),
    lambda L: L.tril_indices(3, 3),
    lambda L: L.empty(0, 3),
]


@pytest.mark.parametrize("k", range(len(CREATION)))
def test_creation_matches_torch(k):
    f = CREATION[k]
    compare(f(shendu), f(torch), rtol=1e-7)


def test_from_numpy_shares_memory_and_as_tensor():
    a = np.arange(4.0)
    t = shendu.from_numpy(a)
    a[0] = 9
    assert t[0].item() == 9 and t.dtype == shendu.float64
    assert shendu.as_tensor(a)._data is a
    c = shendu.tensor(a)
    a[1] = 7
    assert c[1].item() == 1.0


def test_set_default_dtype():
    shendu.set_default_dtype(shendu.float64)
    try:
        assert shendu.tensor([1.0]).dtype == shendu.float64
        assert shendu.randn(2).dtype == shendu.float64
        assert (shendu.tensor([1, 2]) * 0.5).dtype == shendu.float64
    finally:
        shendu.set_default_dtype(shendu.float32)
    assert shendu.tensor([1.0]).dtype == shendu.float32


def test_attributes():
    x = shendu.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == shendu.Size([2, 3, 4]) and x.size(1) == 3
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and x.dtype == shendu.float32
    assert str(x.device) == "cpu" and x.device == "cpu"
    assert repr(x.shape) == "shendu.Size([2, 3, 4])"
    assert x.T.shape == (4, 3, 2)
    y = shendu.tensor([[1.0, 2.0]])
    assert y.item if True else None
    assert shendu.tensor([[5]]).item() == 5
    assert y.tolist() == [[1.0, 2.0]]
    assert y.float().dtype == shendu.float32 and y.double().dtype == shendu.float64
    assert y.long().dtype == shendu.int64 and y.to(shendu.float64).dtype == shendu.float64
    assert y.to("cpu") is y and y.cpu() is y
    with pytest.raises(RuntimeError, match="CPU"):
        y.cuda()
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        y.item()
    with pytest.raises(RuntimeError, match="requires grad"):
        y.requires_grad_().numpy()
    assert y.detach().numpy().shape == (1, 2)


def test_clone_is_differentiable_and_independent():
    x = shendu.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    c.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    with shendu.no_grad():
        c[0] = 5
    assert x.tolist() == [1.0, 2.0]


# ------------------------------------------------------------------ promotion
SCALARS = [True, 2, 2.5]


@pytest.mark.parametrize("a,b", list(itertools.product(DTYPES, DTYPES)))
def test_promote_types_matches_torch(a, b):
    ta, sa = both(a)
    tb, sb = both(b)
    assert shendu.promote_types(sa, sb).name == str(torch.promote_types(ta, tb)).split(".")[1]


@pytest.mark.parametrize("a,b", list(itertools.product(DTYPES, DTYPES)))
def test_result_type_dim_and_zero_dim(a, b):
    ta, sa = both(a)
    tb, sb = both(b)
    for ashape, bshape in (((2,), ()), ((), (2,)), ((2,), (2,)), ((), ())):
        tr = torch.result_type(torch.zeros(ashape, dtype=ta), torch.zeros(bshape, dtype=tb))
        sr = shendu.result_type(shendu.zeros(ashape, dtype=sa), shendu.zeros(bshape, dtype=sb))
        assert sr.name == str(tr).split(".")[1], (a, b, ashape, bshape)


@pytest.mark.parametrize("a,s", list(itertools.product(DTYPES, SCALARS)))
def test_result_type_with_python_scalars(a, s):
    ta, sa = both(a)
    tr = torch.result_type(torch.zeros(2, dtype=ta), s)
    sr = shendu.result_type(shendu.zeros(2, dtype=sa), s)
    assert sr.name == str(tr).split(".")[1]


def test_binary_ops_follow_promotion():
    for a, b in (("int64", "float32"), ("float32", "float64"), ("bool", "int64"), ("uint8", "int8")):
        ta, sa = both(a)
        tb, sb = both(b)
        assert (shendu.ones(2, dtype=sa) + shendu.ones(2, dtype=sb)).dtype.name == \
            str((torch.ones(2, dtype=ta) + torch.ones(2, dtype=tb)).dtype).split(".")[1]
    # a Python scalar never upcasts a float32 tensor
    assert (shendu.ones(2) * 3.14159265358979).dtype == shendu.float32
    assert (shendu.ones(2) + np.float64(2.0)).dtype == shendu.float32


# ------------------------------------------------------------------ printing
PRINT_CASES = [
    lambda L: L.tensor([1.5, 2.25]),
    lambda L: L.tensor([1.0, 2.0]),
    lambda L: L.tensor([1e-5, 1.0]),
    lambda L: L.tensor(3.0),
    lambda L: L.tensor(-0.5),
    lambda L: L.tensor([[1, 2], [3, 4]]),
    lambda L: L.tensor([1e10, 1.0]),
    lambda L: L.tensor([0.1, 100000.0]),
    lambda L: L.zeros(0),
    lambda L: L.zeros(0, 3),
    lambda L: L.tensor([True, False]),
    lambda L: L.tensor([1.0, float("nan"), float("inf")]),
    lambda L: L.arange(2000.0).reshape(2, 1000),
    lambda L: L.arange(24.0).reshape(2, 3, 4) / 7,
    lambda L: L.arange(30),
    lambda L: L.tensor([[1.0, -2.5], [3.25, 4.0]], dtype=L.float64),
    lambda L: L.tensor([1, 2], dtype=L.int32),
    lambda L: L.tensor([1.0, 2.0], requires_grad=True),
    lambda L: L.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda L: L.arange(100.0) * 1.37,
    lambda L: L.linspace(-1, 1, 7, dtype=L.float64),
]


@pytest.mark.parametrize("k", range(len(PRINT_CASES)))
def test_repr_matches_torch(k):
    f = PRINT_CASES[k]
    ours = repr(f(shendu)).replace("shendu.", "torch.").replace("MulBackward", "MulBackward0")
    assert ours == repr(f(torch))


# ------------------------------------------------------------------ RNG
def test_manual_seed_reproducible():
    shendu.manual_seed(123)
    a = (shendu.rand(3), shendu.randn(2, dtype=shendu.float64), shendu.randint(0, 10, (4,)),
         shendu.randperm(5))
    shendu.manual_seed(123)
    b = (shendu.rand(3), shendu.randn(2, dtype=shendu.float64), shendu.randint(0, 10, (4,)),
         shendu.randperm(5))
    for x, y in zip(a, b):
        assert x.tolist() == y.tolist()
    assert a[0].dtype == shendu.float32 and a[2].dtype == shendu.int64


def test_generator_state_round_trip():
    g = shendu.Generator().manual_seed(7)
    shendu.rand(2, generator=g)
    st_ = g.get_state()
    assert st_.dtype == shendu.uint8
    x = shendu.rand(5, generator=g)
    g.set_state(st_)
    assert shendu.rand(5, generator=g).tolist() == x.tolist()
    s = shendu.get_rng_state()
    y = shendu.randn(3)
    shendu.set_rng_state(s)
    assert shendu.randn(3).tolist() == y.tolist()


def test_random_distributions():
    shendu.manual_seed(0)
    n = 200000
    assert abs(shendu.rand(n).mean().item() - 0.5) < 0.01
    x = shendu.randn(n, dtype=shendu.float64)
    assert abs(x.mean().item()) < 0.01 and abs(x.std().item() - 1) < 0.01
    y = shendu.normal(2.0, 3.0, (n,))
    assert abs(y.mean().item() - 2) < 0.05 and abs(y.std().item() - 3) < 0.05
    r = shendu.randint(3, 7, (n,))
    assert r.min().item() == 3 and r.max().item() == 6
    assert sorted(shendu.randperm(10).tolist()) == list(range(10))
    b = shendu.bernoulli(shendu.full((n,), 0.3))
    assert abs(b.mean().item() - 0.3) < 0.01
    m = shendu.multinomial(shendu.tensor([0.0, 1.0, 3.0]), 1000, replacement=True)
    assert (m == 0).sum().item() == 0 and abs((m == 2).float().mean().item() - 0.75) < 0.05
    t = shendu.empty(1000).uniform_(-2, 2)
    assert -2 <= t.min().item() and t.max().item() <= 2
    t.normal_(5, 0.1)
    assert abs(t.mean().item() - 5) < 0.05


# ------------------------------------------------------------------ clear errors
def test_shape_errors_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(4,\)|size of tensor a \(3\)"):
        shendu.ones(2, 3) + shendu.ones(4)
    with pytest.raises(RuntimeError, match="2x3 and 4x5"):
        shendu.ones(2, 3) @ shendu.ones(4, 5)
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        shendu.ones(2, 3).reshape(4, 2)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        shendu.ones(2, 3).t().view(6)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        shendu.cat([shendu.ones(2, 3), shendu.ones(2, 4)], 0)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        shendu.stack([shendu.ones(2), shendu.ones(3)])
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 2"):
        shendu.ones(2, 3)[5]
    with pytest.raises(IndexError, match="Dimension out of range"):
        shendu.ones(2, 3).sum(3)
    with pytest.raises(RuntimeError, match="index 7 is out of bounds"):
        shendu.ones(2, 3).gather(1, shendu.tensor([[7], [0]]))
    with pytest.raises(RuntimeError, match="expanded size"):
        shendu.ones(2, 3).expand(4, 3)


# ------------------------------------------------------------------ property tests
def _broadcastable_pair(draw):
    nd = draw(st.integers(0, 4))
    base = [draw(st.integers(1, 4)) for _ in range(nd)]
    a = [1 if draw(st.booleans()) else s for s in base]
    b = [1 if draw(st.booleans()) else s for s in base]
    a = a[draw(st.integers(0, nd)):]
    b = b[draw(st.integers(0, nd)):]
    return tuple(a), tuple(b)


broadcast_pairs = st.composite(_broadcastable_pair)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broadcast_pairs(), st.sampled_from(["add", "sub", "mul", "div", "maximum", "atan2"]))
def test_broadcasting_arithmetic_property(shapes, op):
    check(lambda L, a, b: getattr(L, op)(a, b * 0.5 + 3.0 if op == "div" else b), *shapes)


def _index_strategy(draw):
    shape = tuple(draw(st.integers(1, 5)) for _ in range(draw(st.integers(1, 3))))
    key = []
    for s in shape:
        kind = draw(st.sampled_from(["int", "slice", "list", "all"]))
        if kind == "int":
            key.append(draw(st.integers(-s, s - 1)))
        elif kind == "slice":
            a = draw(st.integers(0, s))
            b = draw(st.integers(a, s))
            key.append(slice(a, b, draw(st.integers(1, 2))))
        elif kind == "list":
            key.append([draw(st.integers(-s, s - 1)) for _ in range(draw(st.integers(1, 4)))])
        else:
            key.append(slice(None))
    return shape, tuple(key)


index_cases = st.composite(_index_strategy)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index_cases())
def test_indexing_gradient_property(case):
    shape, key = case
    n_lists = sum(isinstance(k, list) for k in key)
    if n_lists > 1:
        lens = {len(k) for k in key if isinstance(k, list)}
        if len(lens) > 1:
            return                              # not broadcastable: both libraries raise
    check(lambda L, x: x[key] * 2.0, shape)


def test_set_num_threads_controls_blas():
    n = shendu.get_num_threads()
    try:
        shendu.set_num_threads(1)
        assert shendu.get_num_threads() == 1
        a = shendu.randn(64, 64)
        assert (a @ a).shape == (64, 64)
    finally:
        shendu.set_num_threads(n)
    assert shendu.get_num_threads() == n
    with pytest.raises(RuntimeError):
        shendu.set_num_threads(0)


def _child_env(code, **env):
    import os
    import subprocess
    import sys
    e = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    e.update(env)
    e["PYTHONPATH"] = os.pathsep.join(sys.path)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_import_shortens_openblas_spin_in_either_import_order_and_not_over_the_user():
    """Before NumPy, the variable is set for OpenBLAS to read as it loads; after NumPy,
    OpenBLAS is made to re-read it and its pool restarts (issue 13: import order must not
    matter). A user's own setting wins."""
    show = "import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    assert _child_env("import shendu; " + show) == "20"
    after = ("import numpy, shendu; from shendu.backend import threads as T; "
             "a = numpy.ones((300, 300)); a @ a; " + show + "; print(T.shorten_blas_spin())")
    assert _child_env(after).split() == ["20", "True"]
    assert _child_env("import shendu; " + show, OPENBLAS_THREAD_TIMEOUT="25") == "25"
