"""Optuna search spaces as points of the unit cube, shared by the LIPO and GP samplers.

A search space ``{name: distribution}`` becomes d coordinates. A numerical parameter
(float or int, linear or log-scaled, with or without a step) becomes one coordinate in
[0, 1]: the value (or its log) mapped linearly, with the bounds widened by half a step for
stepped and integer parameters so that every representable value owns an equal share of
[0, 1]. A categorical parameter becomes one coordinate holding the index of its choice;
distances treat it as 0 (same choice) or 1 (different), so both samplers see a metric space.
"""
import math

import numpy as np

__all__ = ["Encoding"]


class Encoding:
    """``encode`` params → (d,) point, ``decode`` (d,) point → params (Python values),
    ``sample(rng, n)`` → (n, d) uniform points, ``snap`` (n, d) → the points of the
    representable values, ``sq_dist(A, B, w)`` → (len(A), len(B)) weighted squared distances."""

    def __init__(self, search_space):
        from optuna.distributions import CategoricalDistribution, FloatDistribution
        self.names = list(search_space)
        self.dists = [search_space[n] for n in self.names]
        self.d = len(self.names)
        self.is_cat = np.array([isinstance(x, CategoricalDistribution) for x in self.dists], bool)
        self.n_choices = np.array([len(x.choices) if c else 0
                                   for x, c in zip(self.dists, self.is_cat)])
        self._cols = []                   # (lo, hi, log, step, is_int) in the mapped scale
        for dist, cat in zip(self.dists, self.is_cat):
            if cat:
                self._cols.append(None)
                continue
            is_int = not isinstance(dist, FloatDistribution)
            step = dist.step if dist.step is not None else (1 if is_int else None)
            if dist.log and not is_int:
                step = None                           # optuna: a log float has no step
            lo, hi = float(dist.low), float(dist.high)
            half = 0.5 * step if step is not None else 0.0
            lo, hi = lo - half, hi + half
            if dist.log:
                lo, hi = math.log(lo), math.log(hi)
            self._cols.append((lo, hi, dist.log, step, is_int))

    # ------------------------------------------------------------------ columns
    def _values(self, j, u):
        """Unit-cube coordinates (array) of numerical column j → its representable values."""
        dist, (lo, hi, log, step, _) = self.dists[j], self._cols[j]
        v = lo + np.clip(u, 0.0, 1.0) * (hi - lo)
        if log:
            v = np.exp(v)
        if step is not None:
            v = dist.low + np.round((v - dist.low) / step) * step
        return np.clip(v, dist.low, dist.high)

    def _coords(self, j, v):
        lo, hi, log, _, _ = self._cols[j]
        v = np.log(v) if log else np.asarray(v, dtype=np.float64)
        return (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 0.5, dtype=np.float64)

    # ------------------------------------------------------------------ one point
    def encode(self, params):
        x = np.empty(self.d)
        for j, (name, dist) in enumerate(zip(self.names, self.dists)):
            v = params[name]
            x[j] = dist.choices.index(v) if self.is_cat[j] else self._coords(j, float(v))
        return x

    def decode(self, x):
        """(d,) point → {name: value} with Python ints/floats and the choices themselves."""
        out = {}
        for j, (name, dist) in enumerate(zip(self.names, self.dists)):
            if self.is_cat[j]:
                out[name] = dist.choices[int(np.clip(round(float(x[j])), 0,
                                                     len(dist.choices) - 1))]
            else:
                v = float(self._values(j, float(x[j])))
                out[name] = int(round(v)) if self._cols[j][4] else v
        return out

    # ------------------------------------------------------------------ many points
    def sample(self, rng, n):
        """(n, d) points drawn uniformly (categoricals: uniform choices)."""
        X = rng.random((n, self.d))
        if self.is_cat.any():
            X[:, self.is_cat] = np.floor(X[:, self.is_cat] * self.n_choices[self.is_cat])
        return X

    def snap(self, X):
        """(n, d) → the points of the values ``decode`` gives (ints and steps rounded)."""
        X = np.array(X, dtype=np.float64)
        for j in range(self.d):
            if self.is_cat[j]:
                X[:, j] = np.clip(np.round(X[:, j]), 0, self.n_choices[j] - 1)
            elif self._cols[j][3] is not None:
                X[:, j] = self._coords(j, self._values(j, X[:, j]))
            else:
                X[:, j] = np.clip(X[:, j], 0.0, 1.0)
        return X

    def sq_dist(self, A, B, w=None):
        """Squared distances between the rows of A (n, d) and B (m, d), each coordinate
        weighted by w (d,) (default 1): numerical coordinates by their difference,
        categorical ones by 0 or 1. Returns (n, m)."""
        A, B = np.atleast_2d(A), np.atleast_2d(B)
        w = np.ones(self.d) if w is None else np.asarray(w, dtype=np.float64)
        diff = A[:, None, :] - B[None, :, :]
        sq = diff * diff
        if self.is_cat.any():
            sq[..., self.is_cat] = (diff[..., self.is_cat] != 0)
        return sq @ w
