"""``LIPOSampler``: AdaLIPO (Malherbe & Vayatis, 2017) alternating with a local
trust-region step, the scheme of dlib's ``find_min_global``.

**LIPO.** If f is k-Lipschitz, every evaluated point bounds f from below (we minimise)::

    L(x) = max_i  f(x_i) - k ‖x - x_i‖

and a point x can only beat the best value so far if L(x) <= min_i f(x_i). AdaLIPO does
not know k: it takes the smallest k̂ of the grid (1 + α)^i that is at least every slope seen,
``max_{i≠j} |f(x_i) - f(x_j)| / ‖x_i - x_j‖``, and with probability 1 - p draws from the
points that pass the test above (p: a plain uniform draw, which keeps k̂ consistent). Here,
as in dlib, the draw keeps of ``n_candidates`` uniform points the one with the lowest bound
L — the largest possible improvement.

**Trust region.** Every other step, once more than d + 1 points are known, a quadratic
model is fitted to the (d+1)(d+2)/2 evaluated points nearest the best one (least squares,
or Powell's least-Frobenius-norm interpolation while there are fewer) and minimised inside
the ball of radius r around the best point. r starts at 0.95 times the spread of those
points, halves when a step achieves less than a quarter of the improvement the model
predicted, doubles above three quarters, and starts afresh when a LIPO step finds a better
point farther away than r. A step the model promises nothing from gives way to LIPO.

Distances are taken in the unit cube of ``_encoding.Encoding`` (log-scaled parameters on
their log scale; a categorical contributes 0 or 1; the trust region keeps the best point's
categories).
"""
import math

import numpy as np

from ._base import CubeSampler

__all__ = ["LIPOSampler", "lipschitz_estimate", "lower_bound"]


def lipschitz_estimate(X_dist, y, alpha=0.01):
    """AdaLIPO's k̂: the smallest (1 + alpha)^i >= the largest slope between two points.
    ``X_dist`` is the (n, n) matrix of distances, y (n,). Returns 0.0 with no usable pair."""
    n = len(y)
    iu = np.triu_indices(n, 1)
    dist = X_dist[iu]
    ok = dist > 1e-12
    if not ok.any():
        return 0.0
    slope = float(np.max(np.abs(y[iu[0]] - y[iu[1]])[ok] / dist[ok]))
    if slope <= 0:
        return 0.0
    return (1 + alpha) ** math.ceil(math.log(slope) / math.log1p(alpha))


def lower_bound(dist, y, k):
    """L(x) = max_i y_i - k dist(x, x_i) for each row of ``dist`` (m, n) → (m,)."""
    return np.max(y[None, :] - k * dist, axis=1)


class LIPOSampler(CubeSampler):
    """AdaLIPO + trust region (see the module docstring). Single-objective.

    Args:
        seed: seeds the sampler (the same seed gives the same trials in a serial study).
        n_startup_trials: points before the model is used (default 3): the first at the
            centre of the space (log-scaled parameters: the geometric middle), as dlib's,
            which assumes people centre their ranges on a good guess; the others uniform.
        p_explore: AdaLIPO's probability of a plain uniform draw (default 0.02, dlib's).
        alpha: the grid (1 + alpha)^i of Lipschitz constants (default 0.01).
        n_candidates: uniform points the LIPO step chooses from (default 5000).
        trust_region: alternate with the local quadratic step (default True).
    """

    start_at_centre = True

    def __init__(self, seed=None, n_startup_trials=3, p_explore=0.02, alpha=0.01,
                 n_candidates=5000, trust_region=True):
        super().__init__(seed, n_startup_trials)
        self.p_explore, self.alpha, self.n_candidates = p_explore, alpha, n_candidates
        self.trust_region = trust_region
        self._radius = 0.0            # 0: set from the spread of the points next time
        self._tr_turn = True
        self._pending = None          # (trial number, best y then, predicted improvement)
        self._best = (np.inf, None)   # (best y seen, its point), to notice far jumps
        self._tr_numbers = set()      # trials proposed by the trust region

    # ------------------------------------------------------------------ LIPO step
    def _lipo_step(self, enc, X, y, X_running, rng):
        cand = enc.snap(enc.sample(rng, self.n_candidates))
        if rng.random() < self.p_explore:
            return cand[0]
        k = lipschitz_estimate(np.sqrt(enc.sq_dist(X, X)), y, self.alpha)
        # running trials count as if they had reached the best value (a constant liar)
        Xa = np.concatenate([X, X_running]) if len(X_running) else X
        ya = np.concatenate([y, np.full(len(X_running), y.min())]) if len(X_running) else y
        bound = lower_bound(np.sqrt(enc.sq_dist(cand, Xa)), ya, k)
        return cand[int(np.argmin(bound))]

    # ------------------------------------------------------------------ trust-region step
    def _update_radius(self, enc, X, y, numbers):
        """dlib's rule: halve r when a trust-region step achieved less than a quarter of
        the improvement its model predicted, double it above three quarters; start afresh
        (r = 0) when another step found a new best point farther away than r."""
        if self._pending is not None:
            number, best_then, predicted = self._pending
            hit = np.nonzero(numbers == number)[0]
            if len(hit):
                rho = (best_then - y[hit[0]]) / predicted
                self._radius *= 0.5 if rho < 0.25 else 2.0 if rho > 0.75 else 1.0
                self._pending = None
        ib = int(np.argmin(y))
        if y[ib] < self._best[0]:
            moved = (self._best[1] is not None and
                     np.sqrt(enc.sq_dist(X[ib], self._best[1])[0, 0]) > 1.001 * self._radius)
            if moved and numbers[ib] not in self._tr_numbers:
                self._radius = 0.0
            self._best = (y[ib], X[ib].copy())

    @staticmethod
    def _quadratic(Z, ys):
        """(c, g, H) of a quadratic c + gᵀz + ½zᵀHz through the points Z (m, nd), ys (m,):
        least squares with a full set of (nd+1)(nd+2)/2 points, else Powell's
        least-Frobenius-norm interpolation (NEWUOA, eqs. 3.9-3.12)."""
        m, nd = Z.shape
        n_coef = (nd + 1) * (nd + 2) // 2
        if m >= n_coef:
            iu = np.triu_indices(nd)
            F = np.concatenate([np.ones((m, 1)), Z, (Z[:, :, None] * Z[:, None, :])[:, iu[0],
                                                                                      iu[1]]], 1)
            coef = np.linalg.lstsq(F, ys, rcond=None)[0]
            U = np.zeros((nd, nd))
            U[iu] = coef[1 + nd:]
            return coef[0], coef[1:1 + nd], U + U.T
        W = np.zeros((m + nd + 1, m + nd + 1))
        W[:m, :m] = 0.5 * (Z @ Z.T) ** 2
        W[:m, m] = W[m, :m] = 1.0
        W[:m, m + 1:] = Z
        W[m + 1:, :m] = Z.T
        sol = np.linalg.lstsq(W, np.concatenate([ys, np.zeros(nd + 1)]), rcond=None)[0]
        lam = sol[:m]
        return sol[m], sol[m + 1:], (Z.T * lam) @ Z

    def _trust_region_step(self, enc, X, y, rng):
        """(point, predicted improvement) minimising a quadratic model of the points nearest
        the best one inside the ball of radius r (and the unit cube); None when there are
        too few points, no numerical parameter, or the model promises nothing."""
        num = ~enc.is_cat
        nd = int(num.sum())
        ib = int(np.argmin(y))
        xb = X[ib]
        same = np.all(X[:, enc.is_cat] == xb[enc.is_cat], axis=1)
        Z, ys = X[same][:, num] - xb[num], y[same]
        distinct = np.einsum("ij,ij->i", Z, Z) > 0       # repeats of the best point add nothing
        distinct[np.flatnonzero(same[:ib + 1]).size - 1] = True
        Z, ys = Z[distinct], ys[distinct]
        if nd == 0 or len(ys) <= nd + 1:
            return None
        near = np.argsort(np.einsum("ij,ij->i", Z, Z))[:min(len(ys), (nd + 1) * (nd + 2) // 2)]
        Z, ys = Z[near], ys[near]
        if self._radius == 0.0:
            self._radius = 0.95 * np.sqrt(np.einsum("ij,ij->i", Z, Z).max())
        r = self._radius
        if r <= 0:
            return None
        scale = np.abs(Z).max()
        try:
            c, g, H = self._quadratic(Z / scale, ys)
        except np.linalg.LinAlgError:
            return None
        g, H = g / scale, H / scale ** 2
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
            return None
        model = lambda Q: Q @ g + 0.5 * np.einsum("ij,jk,ik->i", Q, H, Q)  # noqa: E731
        lo, hi = -xb[num], 1.0 - xb[num]

        def project(Q):                    # into the box, then into the ball
            Q = np.clip(Q, lo, hi)
            n = np.linalg.norm(Q, axis=-1, keepdims=True)
            return Q * np.minimum(1.0, r / np.maximum(n, 1e-300))
        starts = [rng.standard_normal((256, nd))]
        starts[0] *= r * rng.random((256, 1)) ** (1 / nd) / np.linalg.norm(starts[0], axis=1,
                                                                            keepdims=True)
        try:
            starts.append(np.linalg.solve(H, -g)[None])
        except np.linalg.LinAlgError:
            pass
        starts.append(-g[None] * r / max(np.linalg.norm(g), 1e-300))
        Q = project(np.concatenate(starts))
        lr = 1.0 / max(np.linalg.norm(H, 2), np.linalg.norm(g) / r, 1e-300)
        for _ in range(100):                # projected gradient descent on the model
            Q = project(Q - lr * (g + Q @ H))
        q = model(Q)
        z = Q[int(np.argmin(q))]
        predicted = -float(q.min())
        if not predicted > 0:
            return None
        x = xb.copy()
        x[num] = xb[num] + z
        x = enc.snap(x[None])[0]
        if np.min(enc.sq_dist(x[None], X)) < 1e-30:
            return None                            # rounding landed on a known point
        return x, predicted

    def _propose(self, enc, X, y, numbers, X_running, trial, rng):
        self._update_radius(enc, X, y, numbers)
        if self.trust_region and self._tr_turn and self._pending is None:
            step = self._trust_region_step(enc, X, y, rng)
            if step is not None:
                self._tr_turn = False
                self._pending = (trial.number, float(y.min()), step[1])
                self._tr_numbers.add(trial.number)
                return step[0]
        self._tr_turn = True
        return self._lipo_step(enc, X, y, X_running, rng)
