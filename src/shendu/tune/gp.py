"""``GPSampler``: Bayesian optimisation with a Gaussian process and expected improvement,
on shendu alone.

**Model.** y (standardised, to minimise) ~ GP(0, k) with noise σ²::

    k(x, x') = s · m52(r²),   r² = Σ_j λ_j δ_j(x, x')²,   m52(r²) = (1 + √5 r + 5r²/3) e^{-√5 r}

(Matérn 5/2, ARD: δ_j is the difference of numerical coordinate j in the unit cube, or 0/1
for a categorical one; λ_j are inverse squared length scales.) The hyperparameters
θ = log(λ_1..λ_d, s, σ² - σ²_min) maximise the log marginal likelihood plus a weak prior
(Optuna's GP prior)::

    log p(y | θ) = -½ yᵀ K⁻¹ y - ½ log det K - n/2 log 2π,   K = k(X, X) + σ² I

computed with shendu tensors in float64 (``linalg.solve`` and a Cholesky log det) and
maximised by shendu's ``optim.LBFGS`` (strong Wolfe), warm-started from the last fit.

**Posterior** at points X* (closed form, Cholesky in NumPy)::

    μ = k*ᵀ K⁻¹ y,   v = k** - k*ᵀ K⁻¹ k*

**Acquisition.** Expected improvement below the best observed y⁺:
EI = (y⁺ - μ) Φ(z) + √v φ(z), z = (y⁺ - μ)/√v, maximised over uniform points and
perturbations of the best ones, then refined by a local random search. Trials still running
(other workers) enter the model at their posterior mean ("kriging believer"), which removes
their neighbourhood's uncertainty so workers do not all propose the same point.
"""
import math
import threading

import numpy as np

from ._base import CubeSampler

__all__ = ["GPSampler", "GaussianProcess", "matern52", "logdet_spd", "expected_improvement"]

MIN_NOISE = 1e-6
# shendu's grad mode is one flag for the process: fits in several threads (Optuna's
# n_jobs > 1) would switch it under each other, so they take turns
_FIT_LOCK = threading.Lock()


def _nodes():
    from ..autograd.function import Node
    from .. import linalg

    class Matern52(Node):
        """m52(r²) elementwise; dm52/dr² = -5/6 (1 + √(5r²)) e^{-√(5r²)}, finite at r² = 0."""
        save_inputs = (0,)

        def forward(self, r2):
            s = np.sqrt(5.0 * r2)
            return (1.0 + s + (5.0 / 3.0) * r2) * np.exp(-s)

        def backward(self, gy):
            r2, = self.saved_tensors
            s = (5.0 * r2).sqrt()
            return gy * (-5.0 / 6.0) * (1.0 + s) * (-s).exp()

    class LogDetSPD(Node):
        """log det K of a symmetric positive-definite K by Cholesky: 2 Σ log diag(L);
        d/dK = K⁻¹."""
        save_inputs = (0,)

        def forward(self, k):
            return np.asarray(2.0 * np.log(np.diagonal(np.linalg.cholesky(k))).sum())

        def backward(self, gy):
            k, = self.saved_tensors
            return gy * linalg.inv(k)

    return Matern52, LogDetSPD


_NODES = None


def logdet_spd(K):
    """log det of a symmetric positive-definite shendu Tensor (differentiable)."""
    global _NODES
    _NODES = _NODES or _nodes()
    return _NODES[1].apply(K)


def matern52(r2):
    """Matérn 5/2 of squared distances: a shendu Tensor (differentiable) or an ndarray."""
    global _NODES
    if isinstance(r2, np.ndarray):
        s = np.sqrt(5.0 * r2)
        return (1.0 + s + (5.0 / 3.0) * r2) * np.exp(-s)
    _NODES = _NODES or _nodes()
    return _NODES[0].apply(r2)


def _norm_cdf(z):
    from .._ops.elementwise import erfc_np
    return 0.5 * erfc_np(-z / math.sqrt(2.0))


def expected_improvement(mean, var, best):
    """EI of y < best under N(mean, var), elementwise (arrays of one shape)."""
    sd = np.sqrt(np.maximum(var, 1e-30))
    z = (best - mean) / sd
    return (best - mean) * _norm_cdf(z) + sd * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


class GaussianProcess:
    """A GP with the ARD Matérn 5/2 kernel above on points of the unit cube.

    ``fit(X (n, d), y (n,))`` fits θ by L-BFGS; ``posterior(Xs (m, d))`` → mean (m,),
    variance (m,). ``is_cat`` (d,) marks categorical coordinates (0/1 distances)."""

    def __init__(self, is_cat, theta=None, min_noise=MIN_NOISE):
        self.is_cat = np.asarray(is_cat, dtype=bool)
        self.d = len(self.is_cat)
        self.min_noise = min_noise
        self.theta = (np.array(theta, dtype=np.float64) if theta is not None else
                      np.concatenate([np.zeros(self.d), [0.0, math.log(1e-2)]]))

    # hyperparameters from θ
    @property
    def inv_sq_lengthscales(self):
        return np.exp(self.theta[:self.d])

    @property
    def scale(self):
        return math.exp(self.theta[self.d])

    @property
    def noise(self):
        return math.exp(self.theta[self.d + 1]) + self.min_noise

    def _sq_diff(self, A, B):
        """(n, m, d) per-coordinate squared differences (0/1 for categoricals)."""
        diff = A[:, None, :] - B[None, :, :]
        sq = diff * diff
        sq[..., self.is_cat] = (diff[..., self.is_cat] != 0)
        return sq

    def kernel(self, A, B):
        return self.scale * matern52(self._sq_diff(A, B) @ self.inv_sq_lengthscales)

    # ------------------------------------------------------------------ fitting
    def neg_log_posterior(self, theta, sq, y):
        """-(log p(y | θ) + log prior(θ)) as a 0-d shendu Tensor, differentiable in θ.
        ``theta`` is a float64 Tensor (d + 2,), ``sq`` the (n, n, d) squared differences."""
        import shendu
        from .. import linalg
        n = len(y)
        lam = theta[:self.d].exp()
        scale, noise = theta[self.d].exp(), theta[self.d + 1].exp() + self.min_noise
        r2 = shendu.tensor(sq) @ lam
        K = scale * matern52(r2) + noise * shendu.eye(n, dtype=shendu.float64)
        yt = shendu.tensor(y)
        alpha = linalg.solve(K, yt)
        logdet = logdet_spd(K)
        nll = 0.5 * (yt * alpha).sum() + 0.5 * logdet + 0.5 * n * math.log(2 * math.pi)
        # Optuna's prior: -(0.1/λ + 0.1 λ), Gamma(2, 1) on s, Gamma(1.1, 30) on σ²
        prior = (-(0.1 / lam + 0.1 * lam).sum() + (scale.log() - scale)
                 + (0.1 * noise.log() - 30.0 * noise))
        return nll - prior

    def fit(self, X, y, max_iter=50):
        with _FIT_LOCK:
            return self._fit(X, y, max_iter)

    def _fit(self, X, y, max_iter):
        import shendu
        from ..autograd.grad_mode import enable_grad
        from ..optim import LBFGS
        sq = self._sq_diff(X, X)
        theta = shendu.tensor(self.theta, dtype=shendu.float64, requires_grad=True)
        opt = LBFGS([theta], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = self.neg_log_posterior(theta, sq, y)
            loss.backward()
            return loss
        start = self.theta.copy()
        try:
            with np.errstate(all="ignore"), enable_grad():
                opt.step(closure)
            new = theta.detach().numpy().copy()
            ok = np.all(np.isfinite(new))
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            ok = False
        self.theta = np.clip(new, -12.0, 12.0) if ok else start
        self.condition(X, y)
        return self

    # ------------------------------------------------------------------ posterior
    def condition(self, X, y):
        """Fix the data the posterior conditions on (θ unchanged)."""
        self.X, self.y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        K = self.kernel(self.X, self.X) + self.noise * np.eye(len(self.y))
        for jitter in (0.0, 1e-10, 1e-8, 1e-6, 1e-4):   # repeated points, tiny noise
            try:
                self._L = np.linalg.cholesky(K + jitter * self.scale * np.eye(len(self.y)))
                break
            except np.linalg.LinAlgError:
                if jitter == 1e-4:
                    raise
        self._alpha = np.linalg.solve(self._L.T, np.linalg.solve(self._L, self.y))
        return self

    def posterior(self, Xs):
        Ks = self.kernel(np.atleast_2d(Xs), self.X)                  # (m, n)
        mean = Ks @ self._alpha
        V = np.linalg.solve(self._L, Ks.T)                           # (n, m)
        var = self.scale - np.einsum("ij,ij->j", V, V)
        return mean, np.maximum(var, 1e-30)


class GPSampler(CubeSampler):
    """Gaussian-process Bayesian optimisation with expected improvement (module docstring).
    Single-objective; needs only NumPy and shendu.

    Args:
        seed: seeds the sampler (the same seed gives the same trials in a serial study).
        n_startup_trials: uniform points before the GP is used (default 5).
        n_candidates: uniform points the acquisition is evaluated on (default 2000).
        refit_every: refit the kernel hyperparameters every this many trials (default 1);
            between refits the last ones are reused and only the data change.
        max_iter: L-BFGS iterations per refit (default 50).
    """

    def __init__(self, seed=None, n_startup_trials=5, n_candidates=2000, refit_every=1,
                 max_iter=50):
        super().__init__(seed, n_startup_trials)
        self.n_candidates, self.refit_every, self.max_iter = n_candidates, refit_every, max_iter
        self._theta, self._fits = None, 0

    def _propose(self, enc, X, y, numbers, X_running, trial, rng):
        mu, sd = y.mean(), y.std()
        ys = (y - mu) / (sd if sd > 0 else 1.0)
        if self._theta is not None and len(self._theta) != enc.d + 2:
            self._theta = None
        gp = GaussianProcess(enc.is_cat, self._theta)
        if self._theta is None or self._fits % self.refit_every == 0:
            gp.fit(X, ys, self.max_iter)
        else:
            gp.condition(X, ys)
        self._theta, self._fits = gp.theta, self._fits + 1
        if len(X_running):                      # kriging believer for the running trials
            gp.condition(np.concatenate([X, X_running]),
                         np.concatenate([ys, gp.posterior(X_running)[0]]))
        best = ys.min()
        acq = lambda C: expected_improvement(*gp.posterior(C), best)  # noqa: E731
        cand = [enc.sample(rng, self.n_candidates)]
        top = X[np.argsort(ys)[:5]]
        for s in (0.1, 0.02):                    # perturbations of the best points
            P = np.repeat(top, 100, axis=0)
            P[:, ~enc.is_cat] += s * rng.standard_normal((len(P), int((~enc.is_cat).sum())))
            cand.append(P)
        C = enc.snap(np.concatenate(cand))
        a = acq(C)
        x, ax = C[int(np.argmax(a))], a.max()
        step = 0.05
        for _ in range(8):                       # local random search around the maximiser
            P = np.repeat(x[None], 64, axis=0)
            P[:, ~enc.is_cat] += step * rng.standard_normal((64, int((~enc.is_cat).sum())))
            if enc.is_cat.any():                  # occasionally change one category
                flip = rng.random(64) < 0.2
                j = np.flatnonzero(enc.is_cat)[rng.integers(0, enc.is_cat.sum(), 64)]
                P[flip, j[flip]] = np.floor(rng.random(flip.sum()) * enc.n_choices[j[flip]])
            P = enc.snap(P)
            aP = acq(P)
            if aP.max() > ax:
                x, ax = P[int(np.argmax(aP))], aP.max()
            else:
                step *= 0.5
        return x
