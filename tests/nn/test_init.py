"""nn.init: each initialiser tested by the statistics it promises over large tensors (mean,
variance, bounds, sparsity, orthogonality), the deterministic ones and the gain / fan
tables against torch, and torch's error messages."""
import math

import numpy as np
import pytest
import torch

import shendu
from shendu.nn import init

N = 1_000_000                       # elements for the statistics: std of a mean ~ 1e-3·σ


def _empty(*shape, dtype=None):
    return shendu.empty(*shape, dtype=dtype)


def _z(mean, ref_mean, std):
    """|sample mean − expected| in units of the mean's standard error."""
    return abs(mean - ref_mean) / (std / math.sqrt(N))


def test_uniform_and_normal_statistics():
    shendu.manual_seed(0)
    w = init.uniform_(_empty(1000, 1000), -2.0, 3.0).numpy()
    assert w.min() >= -2.0 and w.max() < 3.0
    assert _z(w.mean(), 0.5, 5 / math.sqrt(12)) < 5
    assert abs(w.var() / (25 / 12) - 1) < 0.01
    w = init.normal_(_empty(1000, 1000), 1.5, 0.2).numpy()
    assert _z(w.mean(), 1.5, 0.2) < 5 and abs(w.std() / 0.2 - 1) < 0.005


def test_trunc_normal_statistics():
    shendu.manual_seed(1)
    mean, std, a, b = 0.5, 1.0, -1.0, 2.0
    w = init.trunc_normal_(_empty(1000, 1000, dtype=shendu.float64), mean, std, a, b).numpy()
    assert w.min() >= a and w.max() <= b
    # moments of N(0.5, 1) truncated to [-1, 2]
    al, be = (a - mean) / std, (b - mean) / std
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))          # noqa: E731
    Z = Phi(be) - Phi(al)
    m = mean + std * (phi(al) - phi(be)) / Z
    v = std ** 2 * (1 + (al * phi(al) - be * phi(be)) / Z - ((phi(al) - phi(be)) / Z) ** 2)
    assert _z(w.mean(), m, math.sqrt(v)) < 5 and abs(w.var() / v - 1) < 0.01
    with pytest.warns(UserWarning, match="more than 2 std from"):
        init.trunc_normal_(_empty(3), mean=10.0)


def test_constant_ones_zeros_eye_dirac_match_torch():
    for fn, args in [("constant_", (0.3,)), ("ones_", ()), ("zeros_", ())]:
        s = getattr(init, fn)(_empty(3, 4), *args)
        t = getattr(torch.nn.init, fn)(torch.empty(3, 4), *args)
        np.testing.assert_array_equal(s.numpy(), t.numpy())
    for shape in [(3, 5), (5, 3), (4, 4)]:
        np.testing.assert_array_equal(init.eye_(_empty(*shape)).numpy(),
                                      torch.nn.init.eye_(torch.empty(*shape)).numpy())
    for shape, groups in [((4, 3, 3), 1), ((6, 4, 3, 3), 2), ((5, 5, 3, 3), 1),
                          ((3, 6, 2, 3, 3), 1), ((8, 2, 5), 4)]:
        np.testing.assert_array_equal(
            init.dirac_(_empty(*shape), groups).numpy(),
            torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())


@pytest.mark.parametrize("shape", [(30, 20), (20, 30), (8, 4, 3, 3), (4, 6, 5), (2, 3, 2, 2, 2)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(_empty(*shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    for mode in ("fan_in", "fan_out"):
        assert init._calculate_correct_fan(_empty(*shape), mode) == \
            torch.nn.init._calculate_correct_fan(torch.empty(*shape), mode)


def test_gain_table_matches_torch():
    names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
             "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
    for n in names:
        assert init.calculate_gain(n) == torch.nn.init.calculate_gain(n), n
    for slope in (0.0, 0.2, 1, 3.0):
        assert init.calculate_gain("leaky_relu", slope) == \
            torch.nn.init.calculate_gain("leaky_relu", slope)
    assert init.calculate_gain("relu") == math.sqrt(2) and init.calculate_gain("tanh") == 5 / 3
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")
    for bad in ("x", True):
        with pytest.raises(ValueError, match=f"negative_slope {bad} not a valid number"):
            init.calculate_gain("leaky_relu", bad)


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_statistics(gain):
    shendu.manual_seed(2)
    fan_in, fan_out = 500, 2000
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    w = init.xavier_uniform_(_empty(fan_out, fan_in), gain).numpy()
    bound = math.sqrt(3) * std
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() / std - 1) < 0.005 and _z(w.mean(), 0, std) < 5
    w = init.xavier_normal_(_empty(fan_out, fan_in), gain).numpy()
    assert abs(w.std() / std - 1) < 0.005 and _z(w.mean(), 0, std) < 5
    # conv weights: fans include the receptive field
    w = init.xavier_normal_(_empty(64, 32, 5, 5)).numpy()
    assert abs(w.std() / math.sqrt(2 / (32 * 25 + 64 * 25)) - 1) < 0.01


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.2), ("leaky_relu", 0),
                                            ("tanh", 0), ("linear", 0)])
def test_kaiming_statistics(mode, nonlinearity, a):
    shendu.manual_seed(3)
    shape = (250, 100, 2, 2)
    fan = 100 * 4 if mode == "fan_in" else 250 * 4
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    w = init.kaiming_normal_(_empty(*shape), a, mode, nonlinearity).numpy()
    assert abs(w.std() / std - 1) < 0.005 and _z(w.mean(), 0, std) < 5
    w = init.kaiming_uniform_(_empty(*shape), a, mode, nonlinearity).numpy()
    assert np.abs(w).max() <= math.sqrt(3) * std
    assert abs(w.std() / std - 1) < 0.005


def test_kaiming_keeps_relu_activation_variance_across_depth():
    # the claim of He et al. (seed 002 §3.8): with gain √2/√fan_in, ReLU layers keep the
    # second moment of the activations; with 1/√fan_in alone it halves at every layer
    shendu.manual_seed(4)
    x = shendu.randn(2000, 256)
    h_he, h_small = x, x
    for _ in range(10):
        w = init.kaiming_normal_(_empty(256, 256), nonlinearity="relu")
        h_he = shendu.relu(h_he @ w.t())
        h_small = shendu.relu(h_small @ (w / math.sqrt(2)).t())
    ms_he = float((h_he ** 2).mean())
    ms_small = float((h_small ** 2).mean())
    assert 0.5 < ms_he < 2.0
    assert ms_small < 0.01 * ms_he


@pytest.mark.parametrize("shape", [(50, 80), (80, 50), (64, 64), (16, 8, 3, 3), (8, 16, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    shendu.manual_seed(5)
    w = init.orthogonal_(_empty(*shape, dtype=shendu.float64), gain).numpy()
    m = w.reshape(shape[0], -1) / gain
    if m.shape[0] <= m.shape[1]:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-12)    # orthonormal rows
    else:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-12)    # orthonormal columns
    # a Haar-random orthogonal matrix: no preferred sign on the diagonal of R
    w2 = init.orthogonal_(_empty(*shape, dtype=shendu.float64)).numpy()
    assert not np.allclose(w, w2 * gain)


def test_orthogonal_is_uniformly_distributed():
    # the mean of a Haar-distributed orthogonal matrix is 0, its entries have variance 1/n
    shendu.manual_seed(6)
    n, k = 8, 2000
    acc = np.stack([init.orthogonal_(_empty(n, n, dtype=shendu.float64)).numpy() for _ in range(k)])
    assert np.abs(acc.mean(0)).max() < 5 / math.sqrt(n * k)
    assert abs(acc.var() * n - 1) < 0.02


@pytest.mark.parametrize("sparsity", [0.1, 0.5, 0.9])
def test_sparse_statistics(sparsity):
    shendu.manual_seed(7)
    rows, cols = 1000, 400
    w = init.sparse_(_empty(rows, cols, dtype=shendu.float64), sparsity, std=0.02).numpy()
    zeros_per_col = (w == 0).sum(0)
    assert (zeros_per_col == math.ceil(sparsity * rows)).all()       # exact, in every column
    nz = w[w != 0]
    assert abs(nz.std() / 0.02 - 1) < 0.01 and abs(nz.mean()) < 5 * 0.02 / math.sqrt(nz.size)
    rows_hit = (w == 0).mean(1)                                       # zeros spread over rows
    assert abs(rows_hit.mean() - math.ceil(sparsity * rows) / rows) < 1e-12


def test_sparse_nonzeros_per_unit():
    # the notes' form: exactly k non-zero incoming weights per unit (row of (out, in))
    shendu.manual_seed(7)
    w = init.sparse_(_empty(300, 784, dtype=shendu.float64), nonzeros=10, std=0.05).numpy()
    assert ((w != 0).sum(1) == 10).all()
    nz = w[w != 0]
    assert abs(nz.std() / 0.05 - 1) < 0.05
    cols_hit = (w != 0).sum(0)                      # inputs chosen at random, not a fixed few
    assert (cols_hit > 0).sum() > 700 and cols_hit.max() < 20
    assert ((init.sparse_(_empty(4, 6), nonzeros=10).numpy() != 0).sum(1) == 6).all()  # capped
    lin = shendu.nn.Linear(50, 20)
    init.sparse_(lin.weight, nonzeros=3)
    assert ((lin.weight.detach().numpy() != 0).sum(1) == 3).all()
    for bad in ({}, {"sparsity": 0.1, "nonzeros": 3}):
        with pytest.raises(ValueError, match="either sparsity .* or nonzeros"):
            init.sparse_(_empty(3, 4), **bad)
    with pytest.raises(ValueError, match="non-negative integer"):
        init.sparse_(_empty(3, 4), nonzeros=2.5)


def test_lecun_and_small_random():
    shendu.manual_seed(8)
    w = init.lecun_normal_(_empty(2000, 500)).numpy()
    assert abs(w.std() * math.sqrt(500) - 1) < 0.005
    w = init.lecun_uniform_(_empty(2000, 500)).numpy()
    assert abs(w.var() * 500 - 1) < 0.01 and np.abs(w).max() <= math.sqrt(3 / 500)
    w = init.small_random_(_empty(1000, 1000)).numpy()
    assert abs(w.std() / 0.01 - 1) < 0.005


def test_generator_reproducible_and_in_place_no_grad():
    g = shendu.Generator().manual_seed(123)
    a = init.kaiming_uniform_(_empty(5, 4), generator=g).numpy().copy()
    g.manual_seed(123)
    b = init.kaiming_uniform_(_empty(5, 4), generator=g).numpy()
    np.testing.assert_array_equal(a, b)
    lin = shendu.nn.Linear(4, 3)
    w = lin.weight
    v = w._version
    out = init.xavier_uniform_(w)
    assert out is w and w.is_leaf and w.requires_grad and w._version > v and w.grad_fn is None
    for fn in (init.normal_, init.orthogonal_, init.zeros_):
        assert fn(w) is w
    f64 = init.normal_(_empty(3, dtype=shendu.float64))
    assert f64.dtype == shendu.float64


def test_init_errors_like_torch():
    cases = [
        (lambda: init.xavier_uniform_(_empty(3)),
         "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"),
        (lambda: init.orthogonal_(_empty(3)), "Only tensors with 2 or more dimensions are supported"),
        (lambda: init.kaiming_uniform_(_empty(3, 4), mode="fan_avg"),
         r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"),
        (lambda: init.eye_(_empty(3, 4, 5)), "Only tensors with 2 dimensions are supported"),
        (lambda: init.dirac_(_empty(3, 4)), "Only tensors with 3, 4, or 5 dimensions are supported"),
        (lambda: init.sparse_(_empty(3, 4, 5), 0.1), "Only tensors with 2 dimensions are supported"),
    ]
    for fn, msg in cases:
        with pytest.raises(ValueError, match=msg):
            fn()
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_normal_(_empty(0, 3))


def test_deprecated_aliases_warn_like_torch():
    for name in ("uniform", "normal", "constant", "xavier_uniform", "xavier_normal",
                 "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse", "eye", "dirac"):
        assert hasattr(init, name), name
    with pytest.warns(FutureWarning, match=r"`nn.init.uniform` is now deprecated in favor of "
                                           r"`nn.init.uniform_`"):
        init.uniform(_empty(2))
