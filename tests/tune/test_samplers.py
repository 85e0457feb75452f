"""LIPOSampler and GPSampler: Optuna's own sampler contract, seeds, LIPO's Lipschitz bound,
the GP posterior and likelihood against their closed forms."""
import math

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
from optuna.testing.pytest_samplers import (BasicSamplerTestCase,  # noqa: E402
                                            RelativeSamplerTestCase, SingleOnlySamplerTestCase)

import shendu  # noqa: E402
from shendu.tune import GPSampler, LIPOSampler  # noqa: E402
from shendu.tune import gp as G, lipo as L  # noqa: E402
from shendu.tune._encoding import Encoding  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


# ---------------------------------------------------------------------- Optuna's contract
class TestLIPOContract(BasicSamplerTestCase, RelativeSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: LIPOSampler(seed=0, n_candidates=500)


class TestGPContract(BasicSamplerTestCase, RelativeSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: GPSampler(seed=0, n_candidates=200, max_iter=10)


def _mixed(trial):
    """Every kind of distribution in one objective."""
    x = trial.suggest_float("x", -2.0, 3.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    m = trial.suggest_float("m", 0.0, 1.0, step=0.25)
    n = trial.suggest_int("n", 1, 9)
    b = trial.suggest_int("b", 8, 256, log=True)
    s = trial.suggest_int("s", 0, 12, step=3)
    c = trial.suggest_categorical("c", ["a", "b", None])
    return (x - 1) ** 2 + (math.log10(lr) + 3) ** 2 + m + 0.1 * n + b / 256 + s / 12 + \
        (c == "b")


@pytest.mark.parametrize("make", [lambda s: LIPOSampler(seed=s, n_candidates=500),
                                  lambda s: GPSampler(seed=s, n_candidates=200, max_iter=10)],
                         ids=["lipo", "gp"])
def test_every_distribution_and_seed_reproduces(make):
    runs = []
    for seed in (3, 3, 4):
        study = optuna.create_study(sampler=make(seed))
        study.optimize(_mixed, n_trials=9)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]                     # the same seed, the same trials
    assert runs[0] != runs[2]
    for params in runs[0]:
        assert -2 <= params["x"] <= 3 and 1e-5 <= params["lr"] <= 1e-1
        assert params["m"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert type(params["n"]) is int and 1 <= params["n"] <= 9
        assert type(params["b"]) is int and 8 <= params["b"] <= 256
        assert params["s"] in (0, 3, 6, 9, 12) and params["c"] in ("a", "b", None)


def test_maximize_and_relative_sampling_used():
    """LIPO searches the joint space (not the independent fallback) and follows the
    direction: on -(x-0.7)^2 maximised, it ends near 0.7."""
    study = optuna.create_study(direction="maximize", sampler=LIPOSampler(seed=1))
    study.optimize(lambda t: -(t.suggest_float("x", 0, 1) - 0.7) ** 2, n_trials=20)
    assert abs(study.best_params["x"] - 0.7) < 1e-3


def test_categorical_only_space():
    study = optuna.create_study(sampler=LIPOSampler(seed=0))
    study.optimize(lambda t: {"a": 1.0, "b": 0.0, "c": 2.0}[t.suggest_categorical("k", "abc")]
                   + t.suggest_int("i", 0, 3), n_trials=15)
    assert study.best_value == 0.0


# ---------------------------------------------------------------------- LIPO's bound
def test_lipschitz_estimate_is_the_next_grid_value():
    X = np.array([0.0, 0.5, 1.0])
    y = np.array([0.0, 1.0, 1.5])                 # slopes 2, 1, 1.5
    k = L.lipschitz_estimate(np.abs(X[:, None] - X[None]), y, alpha=0.01)
    i = math.ceil(math.log(2.0) / math.log(1.01))
    assert k == pytest.approx(1.01 ** i) and 2.0 <= k < 2.0 * 1.01


def test_lipo_bound_respected_on_known_constant():
    """f(x) = 3|x - 0.3| on [0, 1] is 3-Lipschitz. Whenever LIPO has seen points on both
    sides of the kink its k̂ is in [3, 3·1.01), and the lower bound it builds from the
    trials never exceeds f."""
    f = lambda x: 3 * abs(x - 0.3)  # noqa: E731
    sampler = LIPOSampler(seed=0, trust_region=False)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: f(t.suggest_float("x", 0.0, 1.0)), n_trials=25)
    X = np.array([t.params["x"] for t in study.trials])
    y = np.array([t.value for t in study.trials])
    k = L.lipschitz_estimate(np.abs(X[:, None] - X[None]), y, sampler.alpha)
    assert 3.0 - 1e-9 <= k < 3.0 * 1.01
    grid = np.linspace(0, 1, 2001)
    bound = L.lower_bound(np.abs(grid[:, None] - X[None]), y, k)
    assert np.all(bound <= np.array([f(g) for g in grid]) + 1e-12)
    assert study.best_value < 1e-2


# ---------------------------------------------------------------------- GP in closed form
def _kernel(A, B, lam, scale, is_cat):
    """The ARD Matérn 5/2 kernel written out, with no shared code."""
    K = np.empty((len(A), len(B)))
    for i, a in enumerate(A):
        for j, b in enumerate(B):
            r2 = sum(l * ((ai != bi) * 1.0 if c else (ai - bi) ** 2)
                     for ai, bi, l, c in zip(a, b, lam, is_cat))
            r = math.sqrt(5 * r2)
            K[i, j] = scale * (1 + r + 5 * r2 / 3) * math.exp(-r)
    return K


def test_gp_posterior_matches_closed_form():
    is_cat = np.array([False, True])
    X = np.array([[0.1, 0], [0.5, 1], [0.9, 0], [0.3, 1]])
    y = np.array([0.3, -1.0, 0.8, 0.1])
    theta = np.array([math.log(4.0), math.log(0.7), math.log(1.5), math.log(0.05)])
    gp = G.GaussianProcess(is_cat, theta).condition(X, y)
    Xs = np.array([[0.2, 0], [0.6, 1], [0.5, 1], [0.0, 0]])
    lam, scale, noise = np.exp(theta[:2]), 1.5, 0.05 + G.MIN_NOISE
    K = _kernel(X, X, lam, scale, is_cat) + noise * np.eye(4)
    Ks = _kernel(Xs, X, lam, scale, is_cat)
    mean = Ks @ np.linalg.inv(K) @ y
    var = scale - np.einsum("ij,jk,ik->i", Ks, np.linalg.inv(K), Ks)
    m, v = gp.posterior(Xs)
    np.testing.assert_allclose(m, mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(v, var, rtol=1e-10, atol=1e-12)
    # the objective L-BFGS minimises: -log N(y; 0, K) - log prior
    sign, logdet = np.linalg.slogdet(K)
    nll = 0.5 * y @ np.linalg.solve(K, y) + 0.5 * logdet + 2 * math.log(2 * math.pi)
    prior = -(0.1 / lam + 0.1 * lam).sum() + (math.log(scale) - scale) + \
        (0.1 * math.log(noise) - 30 * noise)
    t = shendu.tensor(theta, dtype=shendu.float64, requires_grad=True)
    got = gp.neg_log_posterior(t, gp._sq_diff(X, X), y)
    assert got.item() == pytest.approx(nll - prior, rel=1e-12)
    # its gradient (shendu's autograd) against central differences
    got.backward()
    h, fd = 1e-6, []
    for i in range(4):
        e = np.zeros(4)
        e[i] = h
        fd.append((gp.neg_log_posterior(shendu.tensor(theta + e), gp._sq_diff(X, X), y).item()
                   - gp.neg_log_posterior(shendu.tensor(theta - e), gp._sq_diff(X, X), y).item())
                  / (2 * h))
    np.testing.assert_allclose(t.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


def test_gp_pieces_gradcheck_and_fit_raises_likelihood():
    from shendu.autograd import gradcheck
    r2 = shendu.tensor([[0.3, 1.2], [0.01, 2.5]], dtype=shendu.float64, requires_grad=True)
    assert gradcheck(G.matern52, (r2,))
    m = G.matern52(shendu.zeros(3, dtype=shendu.float64, requires_grad=True))
    m.sum().backward()                             # finite at distance 0
    A = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 1.5]])
    K = shendu.tensor(A, requires_grad=True)
    assert G.logdet_spd(K).item() == pytest.approx(np.linalg.slogdet(A)[1], rel=1e-12)
    assert gradcheck(lambda k: G.logdet_spd((k + k.mT) * 0.5), (K,))
    rng = np.random.default_rng(0)
    X = rng.random((12, 2))
    y = np.sin(6 * X[:, 0]) + X[:, 1]
    y = (y - y.mean()) / y.std()
    gp = G.GaussianProcess(np.array([False, False]))
    sq = gp._sq_diff(X, X)
    before = gp.neg_log_posterior(shendu.tensor(gp.theta), sq, y).item()
    gp.fit(X, y)
    after = gp.neg_log_posterior(shendu.tensor(gp.theta), sq, y).item()
    assert after < before - 1.0
    ei = G.expected_improvement(np.array([0.0, 1.0]), np.array([1.0, 1e-12]), 0.0)
    assert ei[0] == pytest.approx(1 / math.sqrt(2 * math.pi)) and ei[1] == pytest.approx(0)


def test_encoding_round_trip():
    from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                      IntDistribution)
    enc = Encoding({"a": FloatDistribution(1e-4, 1.0, log=True), "b": IntDistribution(2, 9),
                    "c": CategoricalDistribution([1, "x"]), "d": FloatDistribution(0, 1, step=0.1),
                    "e": IntDistribution(1, 64, log=True)})
    rng = np.random.default_rng(0)
    X = enc.snap(enc.sample(rng, 200))
    for x in X:
        p = enc.decode(x)
        np.testing.assert_allclose(enc.encode(p), x, atol=1e-12)
    assert enc.decode(np.full(5, 0.5))["a"] == pytest.approx(1e-2)
    assert enc.sq_dist(np.array([[0.5, 0, 1, 0, 0]]), np.array([[0.5, 0, 0, 0, 0]]))[0, 0] == 1


def test_trust_region_step_converges_on_a_quadratic():
    """The local quadratic step finds a 3-D bowl's minimum to machine precision; LIPO steps
    alone only get near it."""
    f = lambda t: sum((t.suggest_float(f"x{i}", -1, 2) - 0.3 * i) ** 2  # noqa: E731
                      for i in range(3))
    best = {}
    for tr in (True, False):
        study = optuna.create_study(sampler=LIPOSampler(seed=0, trust_region=tr))
        study.optimize(f, n_trials=30)
        best[tr] = study.best_value
    assert best[True] < 1e-12 < 1e-3 < best[False]
