"""The study's plots with matplotlib: optimisation history, parallel coordinates and
parameter importances (Optuna's fANOVA or PED-ANOVA evaluator)."""
import math
import os

import numpy as np

from ._optuna import require_optuna

__all__ = ["plot_all", "plot_history", "plot_parallel_coordinates", "plot_importances"]


def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("the plots need matplotlib: pip install 'shendu[plot]'") from None
    return plt


def _complete(study):
    S = require_optuna().trial.TrialState
    return [t for t in study.get_trials(deepcopy=False) if t.state == S.COMPLETE]


def plot_history(study, path, metric="objective"):
    """Each trial's value (pruned trials: their last report, as crosses) and the best so far."""
    plt = _plt()
    S = require_optuna().trial.TrialState
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == S.COMPLETE]
    pruned = [t for t in trials if t.state == S.PRUNED and t.intermediate_values]
    fig, ax = plt.subplots(figsize=(7, 4))
    if done:
        ax.scatter([t.number for t in done], [t.value for t in done], s=18, label="complete")
        best, xs, ys = None, [], []
        better = min if study.direction.name == "MINIMIZE" else max
        for t in sorted(done, key=lambda t: t.number):
            best = t.value if best is None else better(best, t.value)
            xs.append(t.number)
            ys.append(best)
        ax.step(xs, ys, where="post", color="C3", label="best so far")
    if pruned:
        ax.scatter([t.number for t in pruned],
                   [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
                   marker="x", color="0.5", s=18, label="pruned (last report)")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title("optimisation history")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_parallel_coordinates(study, space, path, metric="objective"):
    """One polyline per complete trial across the parameters (log axes for log ranges,
    choice index for categoricals), coloured by the objective."""
    plt = _plt()
    from optuna.distributions import CategoricalDistribution
    done = _complete(study)
    names = list(space.distributions)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * (len(names) + 1)), 4))
    if done and names:
        cols, labels = [], []
        for n in names:
            d = space.distributions[n]
            if isinstance(d, CategoricalDistribution):
                v = np.array([d.choices.index(t.params[n]) for t in done], float)
                lo, hi = 0, max(len(d.choices) - 1, 1)
                labels.append(f"{n}\n" + "/".join(map(str, d.choices)))
            else:
                v = np.array([t.params[n] for t in done], float)
                lo, hi = d.low, d.high
                if d.log:
                    v, lo, hi = np.log10(v), math.log10(lo), math.log10(hi)
                labels.append(f"{n}\n[{d.low:g}, {d.high:g}]" + (" log" if d.log else ""))
            cols.append((v - lo) / ((hi - lo) or 1))
        y = np.array([t.value for t in done])
        cols.append((y - y.min()) / ((y.max() - y.min()) or 1))
        labels.append(metric)
        M = np.stack(cols, 1)
        cmap = plt.get_cmap("viridis_r" if study.direction.name == "MINIMIZE" else "viridis")
        order = np.argsort(-y if study.direction.name == "MINIMIZE" else y)
        for i in order:                            # the best drawn last, on top
            ax.plot(range(M.shape[1]), M[i], color=cmap(M[i, -1]), alpha=0.8, lw=1.2)
        ax.set_xticks(range(M.shape[1]))
        ax.set_xticklabels(labels, fontsize=8)
        for x in range(M.shape[1]):
            ax.axvline(x, color="0.7", lw=0.8)
        ax.set_yticks([])
    ax.set_title("parallel coordinates (colour: the objective)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_importances(study, path):
    """Parameter importances by Optuna's fANOVA evaluator (with scikit-learn installed) or
    else its PED-ANOVA evaluator (Optuna's default, NumPy only)."""
    plt = _plt()
    optuna = require_optuna()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    try:                                          # fANOVA's random forest is scikit-learn's
        import sklearn  # noqa: F401
        evaluator, label = optuna.importance.FanovaImportanceEvaluator(seed=0), "fANOVA"
    except ImportError:
        evaluator, label = optuna.importance.PedAnovaImportanceEvaluator(), "PED-ANOVA"
    try:
        imp = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError, ZeroDivisionError) as e:   # too few trials
        imp = {}
        ax.text(0.5, 0.5, f"no importances: {e}", ha="center", va="center", wrap=True)
    if imp:
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names])
        ax.set_xlabel(f"{label} importance (Optuna)")
    ax.set_title("parameter importances")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_all(study, space, out):
    """history.png, parallel_coordinates.png and importances.png under ``out``."""
    plot_history(study, os.path.join(out, "history.png"), space.metric)
    plot_parallel_coordinates(study, space, os.path.join(out, "parallel_coordinates.png"),
                              space.metric)
    plot_importances(study, os.path.join(out, "importances.png"))
