"""hessian-stationary (seed 001, Hessian 矩阵): at a stationary point the Hessian's
eigenvalues decide its kind — all positive: a (strict) minimum; all negative: a maximum;
both signs: a saddle; non-negative with some zero: a weak minimum (or no decision).

Each test function's stationary point is found by Newton's method (gradient and Hessian
from shendu's autograd, ``autograd.functional.hessian``) from a random start near it, in
coordinates rotated by a random orthogonal matrix (a seed draws both; the eigenvalues do not
depend on the rotation). The eigenvalue classification is compared with a direct look at
the function: f at 256 random points at distance 1e-3 around the point — all higher: a
minimum, all lower: a maximum, mixed: a saddle.
"""
import math

import numpy as np

from .. import autograd, sin
from .._creation import tensor
from ._runner import Experiment
from ._verdict import Less, Tie

# name: (f(x, y[, z]) on shendu tensors or floats, stationary point, Hessian there by hand)
FUNCTIONS = {
    "bowl": (lambda x, y: x * x + 3 * y * y, (0.0, 0.0), [[2, 0], [0, 6]]),
    "cap": (lambda x, y: -x * x - 2 * y * y, (0.0, 0.0), [[-2, 0], [0, -4]]),
    "saddle": (lambda x, y: x * x - y * y, (0.0, 0.0), [[2, 0], [0, -2]]),
    "cubic_min": (lambda x, y: x ** 3 - 3 * x + y * y, (1.0, 0.0), [[6, 0], [0, 2]]),
    "cubic_saddle": (lambda x, y: x ** 3 - 3 * x + y * y, (-1.0, 0.0), [[-6, 0], [0, 2]]),
    "sinsin_max": (lambda x, y: _sin(x) * _sin(y), (math.pi / 2, math.pi / 2),
                   [[-1, 0], [0, -1]]),
    "sinsin_saddle": (lambda x, y: _sin(x) * _sin(y), (0.0, 0.0), [[0, 1], [1, 0]]),
    "3d_saddle": (lambda x, y, z: x * x + y * y - z * z + x * y, (0.0, 0.0, 0.0),
                  [[2, 1, 0], [1, 2, 0], [0, 0, -2]]),
    "weak_min": (lambda x, y: x ** 4 + y * y, (0.0, 0.0), [[0, 0], [0, 2]]),
}
TOL = 1e-9


def _sin(v):
    return sin(v) if hasattr(v, "grad_fn") else np.sin(v)


def classify(eigenvalues, tol=TOL):
    """The notes' rule: 'minimum', 'maximum', 'saddle', 'weak minimum', 'weak maximum'
    or 'undecided' (all eigenvalues zero)."""
    ev = np.asarray(eigenvalues)
    pos, neg = (ev > tol).any(), (ev < -tol).any()
    zero = (np.abs(ev) <= tol).any()
    if pos and neg:
        return "saddle"
    if pos:
        return "weak minimum" if zero else "minimum"
    if neg:
        return "weak maximum" if zero else "maximum"
    return "undecided"


def look(f, point, rng, radius=1e-3, n=256):
    """The kind of ``point`` from f's values on a small sphere around it."""
    d = rng.standard_normal((n, len(point)))
    d *= radius / np.linalg.norm(d, axis=1, keepdims=True)
    diff = np.array([f(*(np.asarray(point) + v)) for v in d]) - f(*point)
    return "minimum" if (diff > 0).all() else "maximum" if (diff < 0).all() else "saddle"


def _rotated(f, q):
    """f in rotated coordinates: g(z) = f(Q^T z), for shendu tensors and arrays alike."""
    qt = tensor(q.T)

    def g(*zs):
        if hasattr(zs[0], "grad_fn"):
            z = qt @ zs[0]
            return f(*(z[i] for i in range(len(q))))
        return f(*(q.T @ np.asarray(zs)))
    return g


def stationary_point(g, start, iters=30):
    """Newton's method on g (a function of one 1-d tensor): (point, gradient norm, Hessian)."""
    z = np.asarray(start, np.float64)
    for _ in range(iters):
        zt = tensor(z, requires_grad=True)
        grad = autograd.grad(g(zt), zt)[0].numpy()
        hess = autograd.functional.hessian(g, tensor(z)).numpy()
        if np.linalg.norm(grad) < 1e-14:
            break
        z = z - np.linalg.lstsq(hess, grad, rcond=None)[0]
    zt = tensor(z, requires_grad=True)
    grad = autograd.grad(g(zt), zt)[0].numpy()
    return z, float(np.linalg.norm(grad)), autograd.functional.hessian(g, tensor(z)).numpy()


def trial(seed, start_noise=0.05, functions=None):
    rng = np.random.default_rng(seed)
    res, agree, worst_grad = {}, [], 0.0
    for name in functions or FUNCTIONS:
        f, p, _ = FUNCTIONS[name]
        d = len(p)
        q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        g = _rotated(f, q)
        point = q @ np.asarray(p)
        near = name.startswith("weak")          # Newton is slow on a degenerate point
        start = point if near else point + start_noise * rng.standard_normal(d)
        z, gnorm, hess = stationary_point(lambda t, g=g: g(t), start)
        ev = np.linalg.eigvalsh((hess + hess.T) / 2)
        kind = classify(ev)
        seen = look(lambda *v, g=g: g(*v), z, rng)
        agree.append(kind.replace("weak ", "") == seen)
        worst_grad = max(worst_grad, gnorm)
        res[f"{name}_eig_min"], res[f"{name}_eig_max"] = float(ev[0]), float(ev[-1])
        res[f"{name}_kind"] = (kind, seen)
    res["agreement"] = float(np.mean(agree))
    res["max_grad_norm"] = worst_grad
    return res


def plot(trials, fig):
    axes = fig.subplots(1, 3)
    t0 = trials[0]
    for ax, fname, names in zip(axes, ("saddle", "cubic_min", "sinsin_max"),
                                (("saddle",), ("cubic_min", "cubic_saddle"),
                                 ("sinsin_max", "sinsin_saddle"))):
        f = FUNCTIONS[fname][0]
        xs = np.linspace(-2.2, 2.2, 200)
        if fname.startswith("sinsin"):
            xs = np.linspace(-1.0, 3.5, 200)
        X, Y = np.meshgrid(xs, xs)
        ax.contour(X, Y, f(X, Y), 25, cmap="RdBu_r", linewidths=0.8)
        for n in names:
            p = FUNCTIONS[n][1]
            kind, seen = t0[f"{n}_kind"]
            ax.plot(*p, "k*", ms=12)
            ax.annotate(f"{kind}\nλ = {t0[f'{n}_eig_min']:.3g}, {t0[f'{n}_eig_max']:.3g}",
                        p, textcoords="offset points", xytext=(6, 6), fontsize=8)
        ax.set(title=fname.split("_")[0], xlabel="x", ylabel="y")


EXPERIMENT = Experiment(
    name="hessian-stationary",
    claim="the Hessian's eigenvalues classify a stationary point as minimum, maximum or "
          "saddle",
    source="seed 001 (Hessian 矩阵)",
    trial=trial,
    checks=[Tie("agreement", 1.0, 1e-9, "eigenvalue class == class seen around the point"),
            Less("max_grad_norm", 1e-8, "the points found are stationary (|grad| < 1e-8)")],
    plot=plot,
    budgets={"full": dict(), "quick": dict(), "test": dict()},
    figsize=(14, 4.5),
    notes="Eight functions, nine stationary points (three of them saddles, one degenerate "
          "weak minimum x⁴ + y²); Newton's method in randomly rotated coordinates.")
