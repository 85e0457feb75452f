"""Compare the optimizers' convergence speed and quality (seed 001: "比较它们的收敛速度和收敛质量").

Two experiments, each printing a table and drawing a PNG:

* ``run_2d`` - every optimizer from the same start on three 2-D functions: an
  ill-conditioned quadratic f = 0.1 x² + 2 y² (a ravine, curvatures 0.2 and 4: plain SGD
  zig-zags across the narrow valley), Rosenbrock's banana f = (1 - x)² + 100 (y - x²)² (a
  curved valley; the minimum is (1, 1)) and a saddle f = x² + y⁴/4 - y²/2 (a saddle point at
  the origin between minima at (0, ±1); starting almost on the ridge y = 0, the gradient
  that leads away is tiny). The trajectories are drawn over the contours.
* ``run_mlp`` - a 784-128-10 ReLU MLP on MNIST (the 10k subset shipped with shendu), the
  same initial weights and the same minibatches for every optimizer; the training-loss
  curves are drawn and the final loss and test accuracy tabulated.

``python -m shendu.experiments.optimizers [--out DIR] [--quick]`` runs both;
``shendu experiment run optimizers`` runs the claims below over several seeds with a verdict:
momentum beats SGD in the ravine, momentum and Adam leave the saddle faster than SGD, and
Adam trains the MLP faster than SGD.
"""
import argparse
import os
import sys
import time

import numpy as np

from .. import optim
from .._creation import tensor
from .._random import manual_seed
from ..nn import CrossEntropyLoss, Linear, ReLU, Sequential
from ._common import load_mnist
from ._runner import Experiment, plt as _plt
from ._verdict import Less

__all__ = ["PROBLEMS", "run_2d", "plot_2d", "load_mnist", "run_mlp", "plot_mlp", "table",
           "main"]


# ---------------------------------------------------------------- 2-D test functions
def quadratic(x, y):
    """An ill-conditioned quadratic (condition number 20)."""
    return 0.1 * x * x + 2 * y * y


def rosenbrock(x, y):
    """Rosenbrock's banana function; minimum 0 at (1, 1)."""
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def saddle(x, y):
    """A saddle point at (0, 0) between two minima (0, ±1) where f = -1/4."""
    return x * x + y ** 4 / 4 - y * y / 2


def _optimizers_2d(problem):
    """(label, factory) pairs; the learning rates were picked from a grid (1e-4 .. 10) per
    problem, preferring a value that converges smoothly over the very best final value."""
    if problem == "quadratic":
        lr = dict(sgd=0.4, mom=0.05, nag=0.2, ada=1.0, rms=0.1, delta=10.0, adam=0.5, rprop=0.1)
    elif problem == "saddle":
        lr = dict(sgd=0.1, mom=0.05, nag=0.05, ada=0.5, rms=0.05, delta=1.0, adam=0.1,
                  rprop=0.01)
    else:
        lr = dict(sgd=2e-3, mom=1e-3, nag=1e-3, ada=1.0, rms=1e-2, delta=1.0, adam=0.1,
                  rprop=2e-3)
    return [
        ("SGD", lambda p: optim.SGD(p, lr=lr["sgd"])),
        ("Momentum", lambda p: optim.SGD(p, lr=lr["mom"], momentum=0.9)),
        ("Nesterov", lambda p: optim.SGD(p, lr=lr["nag"], momentum=0.9, nesterov=True)),
        ("Adagrad", lambda p: optim.Adagrad(p, lr=lr["ada"])),
        ("RMSprop", lambda p: optim.RMSprop(p, lr=lr["rms"])),
        ("Adadelta", lambda p: optim.Adadelta(p, lr=lr["delta"])),
        ("Adam", lambda p: optim.Adam(p, lr=lr["adam"])),
        ("Rprop", lambda p: optim.Rprop(p, lr=lr["rprop"])),
        ("L-BFGS", lambda p: optim.LBFGS(p, lr=1, max_iter=1, max_eval=25,
                                         line_search_fn="strong_wolfe")),
    ]


PROBLEMS = {
    "quadratic": dict(f=quadratic, start=(-5.0, -2.0), minimum=(0.0, 0.0), steps=50,
                      xlim=(-6, 2), ylim=(-2.5, 2.5), title="f = 0.1x² + 2y²"),
    "rosenbrock": dict(f=rosenbrock, start=(-1.2, 1.0), minimum=(1.0, 1.0), steps=500,
                       xlim=(-1.5, 1.5), ylim=(-0.5, 2.0),
                       title="Rosenbrock (1-x)² + 100(y-x²)²"),
    "saddle": dict(f=saddle, start=(1.5, 1e-3), minimum=(0.0, 1.0), steps=60,
                   xlim=(-1.6, 1.6), ylim=(-0.6, 1.6), title="saddle x² + y⁴/4 - y²/2"),
}


def run_2d(problem, steps=None, optimizers=None, start=None):
    """Run each optimizer from the problem's start (or ``start``). Returns {label: (path,
    losses)}: the (steps + 1, 2) positions and the (steps + 1,) function values."""
    spec = PROBLEMS[problem]
    f, steps = spec["f"], steps or spec["steps"]
    start = spec["start"] if start is None else tuple(float(v) for v in start)
    results = {}
    for label, make in optimizers or _optimizers_2d(problem):
        xy = tensor(np.array(start), requires_grad=True)
        opt = make([xy])

        def closure():
            opt.zero_grad()
            loss = f(xy[0], xy[1])
            loss.backward()
            return loss
        path, losses = [xy.detach().numpy().copy()], [float(f(*start))]
        for _ in range(steps):
            opt.step(closure)
            p = xy.detach().numpy().copy()
            path.append(p)
            losses.append(float(f(p[0], p[1])))
        results[label] = (np.array(path), np.array(losses))
    return results


def plot_2d(results_by_problem, path):
    """Draw each problem's trajectories over its contours, one panel per problem."""
    plt = _plt()
    n = len(results_by_problem)
    fig, axes = plt.subplots(1, n, figsize=(8 * n, 6.5), squeeze=False)
    _draw_2d(axes[0], results_by_problem)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _draw_2d(axes, results_by_problem, fontsize=9):
    colors = _plt().get_cmap("tab10").colors
    for ax, (problem, results) in zip(axes, results_by_problem.items()):
        spec = PROBLEMS[problem]
        xs = np.linspace(*spec["xlim"], 300)
        ys = np.linspace(*spec["ylim"], 300)
        X, Y = np.meshgrid(xs, ys)
        Z = spec["f"](X, Y)
        levels = np.logspace(np.log10(max(Z.min(), 1e-3)), np.log10(Z.max()), 25)
        ax.contour(X, Y, Z, levels=levels, cmap="Greys", linewidths=0.6)
        for (label, (p, losses)), c in zip(results.items(), colors):
            ax.plot(p[:, 0], p[:, 1], "-", color=c, lw=1.4, alpha=0.9,
                    label=f"{label} ({losses[-1]:.2g})")
            ax.plot(p[-1, 0], p[-1, 1], "o", color=c, ms=4)
        start = next(iter(results.values()))[0][0]
        ax.plot(*start, "ks", ms=7)
        ax.plot(*spec["minimum"], "r*", ms=14)
        ax.set_xlim(spec["xlim"])
        ax.set_ylim(spec["ylim"])
        steps = len(next(iter(results.values()))[1]) - 1
        ax.set_title(f"{spec['title']}: {steps} steps from ({start[0]:.3g}, {start[1]:.3g}) "
                     "(legend: final f)", fontsize=fontsize + 2)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="lower right" if problem == "rosenbrock" else "upper right",
                  fontsize=fontsize, framealpha=0.85)


# ---------------------------------------------------------------- MNIST MLP
def _optimizers_mlp():
    """(label, factory) pairs: torch's usual learning rates for the torch optimizers; for the
    FTRL / proximal / dual-averaging family the best of a short grid (0.05 .. 2)."""
    return [
        ("SGD", lambda p: optim.SGD(p, lr=0.1)),
        ("Momentum", lambda p: optim.SGD(p, lr=0.05, momentum=0.9)),
        ("Nesterov", lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
        ("Adagrad", lambda p: optim.Adagrad(p, lr=0.05)),
        ("RMSprop", lambda p: optim.RMSprop(p, lr=1e-3)),
        ("Adadelta", lambda p: optim.Adadelta(p, lr=1.0)),
        ("Adam", lambda p: optim.Adam(p, lr=1e-3)),
        ("AdamW", lambda p: optim.AdamW(p, lr=1e-3, weight_decay=1e-2)),
        ("Adamax", lambda p: optim.Adamax(p, lr=2e-3)),
        ("NAdam", lambda p: optim.NAdam(p, lr=2e-3)),
        ("RAdam", lambda p: optim.RAdam(p, lr=1e-3)),
        ("ProximalSGD", lambda p: optim.ProximalSGD(p, lr=0.1, l1=1e-5)),
        ("ProximalAdagrad", lambda p: optim.ProximalAdagrad(p, lr=0.1, l1=1e-5)),
        ("FTRL", lambda p: optim.FTRL(p, lr=0.5, l1=1e-4)),
        ("AdagradDA", lambda p: optim.AdagradDA(p, lr=0.2)),
    ]


def _mlp(hidden):
    return Sequential(Linear(784, hidden), ReLU(), Linear(hidden, 10))


def run_mlp(steps=300, batch_size=64, hidden=128, n_train=10000, n_test=2000, optimizers=None,
            seed=0, data=None):
    """Train the MLP with each optimizer for ``steps`` minibatches (the same initial weights
    and the same minibatches for all). Returns {label: dict(losses, final_loss, test_acc,
    seconds)}; ``final_loss`` is the mean training loss of the last 10% of the steps."""
    xtr, ytr, xte, yte = data or load_mnist(n_train, n_test)
    manual_seed(seed)
    init = _mlp(hidden).state_dict()
    rng = np.random.default_rng(seed)                       # one shuffle per epoch
    epochs = -(-steps * batch_size // len(xtr))
    order = np.concatenate([rng.permutation(len(xtr)) for _ in range(epochs)])
    order = order[:steps * batch_size].reshape(steps, batch_size)
    criterion = CrossEntropyLoss()
    xte_t = tensor(xte)
    results = {}
    for label, make in optimizers or _optimizers_mlp():
        model = _mlp(hidden)
        model.load_state_dict(init)
        opt = make(model.parameters())
        losses = np.empty(steps)
        t0 = time.perf_counter()
        for i, idx in enumerate(order):
            opt.zero_grad()
            loss = criterion(model(tensor(xtr[idx])), tensor(ytr[idx]))
            loss.backward()
            opt.step()
            losses[i] = float(loss.detach())
        seconds = time.perf_counter() - t0
        pred = model(xte_t).detach().numpy().argmax(1)
        tail = max(1, steps // 10)
        results[label] = dict(losses=losses, final_loss=float(np.mean(losses[-tail:])),
                              test_acc=float((pred == yte).mean()), seconds=seconds)
    return results


def _smooth(x, k):
    if len(x) < k or k < 2:
        return x
    c = np.cumsum(np.insert(x, 0, 0.0))
    return (c[k:] - c[:-k]) / k


def plot_mlp(results, path):
    """Training-loss curves (moving average over 5% of the steps), log scale."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 6.5))
    cmap = plt.get_cmap("tab20")
    ranked = sorted(results.items(), key=lambda kv: kv[1]["final_loss"])
    for i, (label, r) in enumerate(ranked):
        k = max(1, len(r["losses"]) // 20)
        y = _smooth(r["losses"], k)
        ax.plot(np.arange(len(y)) + k, y, color=cmap(i % 20), lw=1.5,
                label=f"{label}: loss {r['final_loss']:.3f}, test acc {r['test_acc']:.1%}")
    ax.set_yscale("log")
    ax.set_xlabel("step (minibatch)")
    ax.set_ylabel("training cross-entropy (moving average)")
    steps = len(next(iter(results.values()))["losses"])
    ax.set_title(f"ReLU MLP on MNIST: {steps} steps, same initial weights and batches",
                 fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8.5, loc="upper right", ncol=1, framealpha=0.85)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- tables and the CLI
def _first_below(losses, tol):
    hit = np.nonzero(losses < tol)[0]
    return str(hit[0]) if len(hit) else "-"


def table(results_2d=None, results_mlp=None):
    """The comparison as text: per problem, each optimizer's final value and the first step
    at which it fell below 1e-3 (speed); for the MLP, final loss, test accuracy and time."""
    lines = []
    for problem, results in (results_2d or {}).items():
        steps = len(next(iter(results.values()))[1]) - 1
        lines.append(f"{problem} ({steps} steps from {PROBLEMS[problem]['start']}):")
        lines.append(f"  {'optimizer':<16}{'final f':>12}{'steps to f<1e-3':>18}")
        for label, (_, losses) in sorted(results.items(), key=lambda kv: kv[1][1][-1]):
            lines.append(f"  {label:<16}{losses[-1]:>12.3e}{_first_below(losses, 1e-3):>18}")
        lines.append("")
    if results_mlp:
        steps = len(next(iter(results_mlp.values()))["losses"])
        lines.append(f"MNIST MLP ({steps} steps):")
        lines.append(f"  {'optimizer':<16}{'final loss':>12}{'test acc':>10}{'seconds':>9}")
        for label, r in sorted(results_mlp.items(), key=lambda kv: kv[1]["final_loss"]):
            lines.append(f"  {label:<16}{r['final_loss']:>12.4f}{r['test_acc']:>10.1%}"
                         f"{r['seconds']:>9.1f}")
    return "\n".join(lines)


# ---------------------------------------------------------------- the experiment's claims
RACE = ("SGD", "Momentum", "Adam")
# the ravine at one step size for all three: the claim is what momentum adds to a step
RAVINE_RACE = [("SGD", lambda p: optim.SGD(p, lr=0.1)),
               ("Momentum", lambda p: optim.SGD(p, lr=0.1, momentum=0.9)),
               ("Adam", lambda p: optim.Adam(p, lr=0.1))]


def _pick(pairs, labels=RACE):
    return [o for o in pairs if o[0] in labels]


def _first(losses, below):
    hit = np.nonzero(np.asarray(losses) < below)[0]
    return float(hit[0]) if len(hit) else float(len(losses))


def trial(seed, steps_2d, mlp_steps, n_train, hidden, data_dir=None):
    """One seed of ``shendu experiment run optimizers``: SGD, Momentum and Adam on the ravine
    (the quadratic) and the saddle from a start drawn around the default one, and on the
    MNIST MLP; see :data:`EXPERIMENT`."""
    from . import _common as C
    rng = np.random.default_rng(seed)
    ravine = run_2d("quadratic", steps_2d, RAVINE_RACE,
                    np.array(PROBLEMS["quadratic"]["start"]) + 0.3 * rng.standard_normal(2))
    sad = run_2d("saddle", steps_2d, _pick(_optimizers_2d("saddle")),
                 (1.5 + 0.1 * rng.standard_normal(), 10 ** rng.uniform(-4, -2)))
    mlp = run_mlp(steps=mlp_steps, batch_size=64, hidden=hidden, optimizers=_pick(
        _optimizers_mlp()), seed=seed, data=C.load_mnist(n_train, 500, root=data_dir))
    res = {}
    for label in RACE:
        res[f"ravine_log10_f_{label}"] = float(np.log10(max(ravine[label][1][-1], 1e-300)))
        res[f"saddle_steps_{label}"] = _first(sad[label][1], -0.2)
        res[f"mnist_loss_{label}"] = mlp[label]["final_loss"]
        res[f"curve_mnist_{label}"] = mlp[label]["losses"]
    res["paths"] = {"quadratic": ravine, "saddle": sad}
    return res


def plot(trials, fig):
    from ._common import plot_curves
    axes = fig.subplots(1, 3)
    _draw_2d(axes[:2], trials[0]["paths"], fontsize=7)
    plot_curves(axes[2], trials, [f"curve_mnist_{k}" for k in RACE], list(RACE))
    axes[2].set(yscale="log", xlabel="step", ylabel="training loss",
                title="MNIST MLP (band: min-max over seeds)")


EXPERIMENT = Experiment(
    name="optimizers",
    claim="momentum crosses a ravine faster than SGD; momentum and Adam leave a saddle point "
          "faster; Adam trains an MLP faster than SGD",
    source="seed 001 (优化器比较); seed 002 §3.5.1",
    trial=trial,
    checks=[Less("ravine_log10_f_Momentum", "ravine_log10_f_SGD",
                 "ravine: log10 final f, Momentum < SGD"),
            Less("saddle_steps_Momentum", "saddle_steps_SGD",
                 "saddle: steps to f < -0.2, Momentum < SGD"),
            Less("saddle_steps_Adam", "saddle_steps_SGD", "saddle: steps to f < -0.2, Adam < SGD"),
            Less("mnist_loss_Adam", "mnist_loss_SGD", "MNIST: final loss, Adam < SGD")],
    plot=plot,
    budgets={"full": dict(steps_2d=None, mlp_steps=600, n_train=10000, hidden=128),
             "quick": dict(steps_2d=None, mlp_steps=200, n_train=3000, hidden=64),
             "test": dict(steps_2d=20, mlp_steps=10, n_train=200, hidden=8)},
    figsize=(16, 5),
    notes="The ravine (the quadratic) at lr 0.1 for all three; the saddle and MNIST at the "
          "learning rates of `python -m shendu.experiments.optimizers` (tuned per problem "
          "from a grid); the 2-D starts are drawn around the defaults per seed; the full "
          "race of 15 optimizers is `python -m shendu.experiments.optimizers`.")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m shendu.experiments.optimizers",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=".", help="folder for the PNG files (default: .)")
    ap.add_argument("--steps-2d", type=int, default=None, help="steps on the 2-D problems")
    ap.add_argument("--mlp-steps", type=int, default=600, help="minibatches for the MLP")
    ap.add_argument("--mnist", default=None, help="folder with the full MNIST's IDX files "
                                                  "(default: the shipped 10k subset)")
    ap.add_argument("--quick", action="store_true", help="a few steps only (a smoke run)")
    ap.add_argument("--no-mlp", action="store_true", help="skip the MNIST experiment")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    steps_2d = args.steps_2d or (10 if args.quick else None)
    res2d = {name: run_2d(name, steps_2d) for name in PROBLEMS}
    paths = [plot_2d(res2d, os.path.join(args.out, "optimizers_2d.png"))]
    resmlp = None
    if not args.no_mlp:
        n_train = 512 if args.quick else 10000
        data = load_mnist(n_train, 256 if args.quick else 2000, root=args.mnist)
        resmlp = run_mlp(steps=8 if args.quick else args.mlp_steps, data=data)
        paths.append(plot_mlp(resmlp, os.path.join(args.out, "optimizers_mnist.png")))
    print(table(res2d, resmlp))
    print("\nplots: " + ", ".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
