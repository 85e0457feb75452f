"""The one runner every experiment shares: seeds, timing, the table with its spread over
seeds, the CSV, the plot and the verdict.

An experiment module defines ``EXPERIMENT = Experiment(...)`` with

* ``trial(seed, **budget)`` — one run with one seed; returns a dict whose float values are the
  measured numbers (tabulated, written to the CSV, used by the checks) and whose other values
  (arrays, lists, dicts) are kept for the plot only;
* ``checks`` — the claim as :mod:`._verdict` checks over those numbers (a check's side may
  also be a plain number, a constant without spread);
* ``plot(trials, ax_or_fig)`` — draws the figure from the list of trial dicts;
* ``budgets`` — keyword arguments for ``trial`` under ``"full"``, ``"quick"`` and ``"test"``
  (the last is the small budget the test suite uses; same code path, fewer steps).
"""
import csv
import importlib
import math
import os
import time

import numpy as np

from . import _verdict

__all__ = ["Experiment", "Result", "REGISTRY", "names", "get", "run", "run_all",
           "SEEDS", "BUDGETS"]

BUDGETS = ("full", "quick", "test")
SEEDS = {"full": 5, "quick": 3, "test": 2}

# name -> module (imported only when the experiment is asked for)
REGISTRY = {
    "activation-convergence": "activation",
    "zero-init": "zero_init",
    "init-variance": "init_variance",
    "batchnorm-lr": "batchnorm_lr",
    "groupnorm-small-batch": "groupnorm",
    "dropout-rate": "dropout",
    "batch-size": "batch_size",
    "input-normalization": "input_normalization",
    "optimizers": "optimizers",
    "vanishing-rnn": "vanishing_rnn",
    "hessian-stationary": "hessian",
    "receptive-field": "receptive_field",
    "fine-tuning": "fine_tuning",
    "weight-decay": "weight_decay",
    "early-stopping": "early_stopping",
    "data-augmentation": "augmentation",
    "max-norm": "max_norm",
}


class Experiment:
    """One claim of the notes, made runnable (see the module docstring)."""

    def __init__(self, name, claim, source, trial, checks, plot, budgets, figsize=(10, 4.5),
                 notes=""):
        missing = [b for b in BUDGETS if b not in budgets]
        if missing:
            raise ValueError(f"experiment {name!r} has no budget for {missing}")
        self.name, self.claim, self.source = name, claim, source
        self.trial, self.checks, self.plot = trial, list(checks), plot
        self.budgets, self.figsize, self.notes = budgets, figsize, notes


def names():
    """The experiments' names, in the order ``list`` prints them."""
    return list(REGISTRY)


def get(name):
    """The :class:`Experiment` called ``name``."""
    if name not in REGISTRY:
        raise KeyError(f"no experiment called {name!r}; available: {', '.join(REGISTRY)}")
    return importlib.import_module(f"{__package__}.{REGISTRY[name]}").EXPERIMENT


class Result:
    """What a run measured: ``metrics`` ({name: array over seeds}), ``trials`` (each seed's
    full dict), ``checks`` (:class:`._verdict.CheckResult` each), ``verdict``, ``seconds``,
    and the ``png`` / ``csv`` paths when an output folder was given."""

    def __init__(self, experiment, budget, seeds, trials, seconds, trial_seconds):
        self.experiment, self.name = experiment, experiment.name
        self.budget, self.seeds, self.trials = budget, list(seeds), trials
        self.seconds, self.trial_seconds = seconds, trial_seconds
        keys = [k for k, v in trials[0].items() if _is_number(v)]
        self.metrics = {k: np.array([float(t[k]) for t in trials]) for k in keys}
        self.checks = [c.evaluate(self._values(c.a), self._values(c.b))
                       for c in experiment.checks]
        self.verdict = _verdict.combine(self.checks)
        self.png = self.csv = None

    def _values(self, key):
        """A metric's values over the seeds; a number stands for itself (no spread)."""
        if _is_number(key):
            return np.full(len(self.seeds), float(key))
        return self.metrics[key]

    def summary(self):
        """{metric: (mean, std, min, max)} over the seeds (std with ddof=1; 0 for one seed)."""
        return {k: (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                    float(v.min()), float(v.max())) for k, v in self.metrics.items()}

    def verdict_line(self):
        """The run's last line: the verdict, the numbers behind it and the test used."""
        held = sum(c.verdict == _verdict.HELD for c in self.checks)
        numbers = "; ".join(f"{c.check.label}: diff {c.diff:+.3g}, p={c.p:.2g}"
                            for c in self.checks)
        return (f"verdict: {self.verdict} ({held}/{len(self.checks)} checks held; {numbers}; "
                f"{_verdict.TEST_NAME}, {len(self.seeds)} seeds)")

    def table(self):
        """The measured numbers as text, one row per metric."""
        rows = [("metric", "mean", "std", "min", "max")]
        for k, (m, s, lo, hi) in self.summary().items():
            rows.append((k, _fmt(m), _fmt(s), _fmt(lo), _fmt(hi)))
        w = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w[0]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r))
                 for r in rows]
        return "\n".join(lines)

    def markdown(self):
        """The numbers as a Markdown table."""
        lines = ["| metric | mean | std | min | max |", "|---|---:|---:|---:|---:|"]
        for k, (m, s, lo, hi) in self.summary().items():
            lines.append(f"| {k} | {_fmt(m)} | {_fmt(s)} | {_fmt(lo)} | {_fmt(hi)} |")
        return "\n".join(lines)


def _is_number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _fmt(x):
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"


def _resolve_budget(quick, budget):
    budget = budget or ("quick" if quick else "full")
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    return budget


def run(name, quick=False, seeds=None, out=None, budget=None, data_dir=None, verbose=False,
        log=print):
    """Run the experiment ``name`` over ``seeds`` seeds (an int: seeds 0..n-1; default 5 for
    the full budget, 3 with ``quick``) and return its :class:`Result`. ``out``: a folder for
    ``NAME.png`` and ``NAME.csv``. ``data_dir``: a folder with the full MNIST /
    Fashion-MNIST IDX files for the experiments on real data (default: the shipped subsets).
    ``verbose`` prints the per-seed progress, the table and the verdict through ``log``."""
    exp = get(name)
    budget = _resolve_budget(quick, budget)
    n = SEEDS[budget] if seeds is None else int(seeds)
    if n < 1:
        raise ValueError(f"seeds must be at least 1, got {n}")
    kwargs = dict(exp.budgets[budget])
    if data_dir is not None:
        kwargs["data_dir"] = data_dir
    say = log if verbose else (lambda *a: None)
    say(f"{exp.name}: {exp.claim}  [{exp.source}]")
    say(f"budget {budget}, {n} seed{'s' * (n > 1)}")
    trials, times, t0 = [], [], time.perf_counter()
    for seed in range(n):
        t = time.perf_counter()
        trials.append(exp.trial(seed, **kwargs))
        times.append(time.perf_counter() - t)
        say(f"  seed {seed}: {times[-1]:.1f}s")
    res = Result(exp, budget, range(n), trials, time.perf_counter() - t0, times)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        res.csv = write_csv(res, os.path.join(out, f"{name}.csv"))
        res.png = draw(res, os.path.join(out, f"{name}.png"))
    say(res.table())
    for c in res.checks:
        say("  " + c.text)
    if res.png or res.csv:
        say("wrote " + ", ".join(p for p in (res.png, res.csv) if p))
    say(res.verdict_line())
    return res


def write_csv(res, path):
    """One row per metric: its value under each seed, then mean and std."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["metric"] + [f"seed{s}" for s in res.seeds] + ["mean", "std"])
        summ = res.summary()
        for k, v in res.metrics.items():
            w.writerow([k] + [repr(float(x)) for x in v] + [repr(summ[k][0]), repr(summ[k][1])])
    return path


def plt():
    """matplotlib.pyplot with the Agg backend, or an ImportError that names the extra."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
    except ImportError as e:                                          # pragma: no cover
        raise ImportError("the experiments draw their plots with matplotlib, which is not "
                          "installed: pip install 'shendu[plot]'") from e
    return pyplot


def draw(res, path):
    """The experiment's figure, titled with its claim and verdict, saved to ``path``."""
    pyplot = plt()
    fig = pyplot.figure(figsize=res.experiment.figsize)
    res.experiment.plot(res.trials, fig)
    fig.suptitle(f"{res.name}: {res.verdict} ({len(res.seeds)} seeds, {res.budget} budget)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    pyplot.close(fig)
    return path


def run_all(quick=True, seeds=None, out="runs/experiments", budget=None, data_dir=None,
            log=print, only=None):
    """Run every experiment (or those in ``only``) and write ``out/report.md``: a summary
    table of the verdicts, then each experiment's claim, numbers, checks and figure.
    Returns the list of :class:`Result`."""
    results = []
    t0 = time.perf_counter()
    for name in only or names():
        log(f"\n=== {name}")
        results.append(run(name, quick=quick, seeds=seeds, out=out, budget=budget,
                           data_dir=data_dir, verbose=True, log=log))
    total = time.perf_counter() - t0
    path = os.path.join(out, "report.md")
    with open(path, "w") as fh:
        fh.write(report(results, total))
    log(f"\nreport: {path} ({total:.0f}s in all)")
    return results


def report(results, total_seconds):
    """The Markdown report page for ``results``."""
    budget = results[0].budget if results else "-"
    lines = ["# The notes' claims, measured", "",
             f"Every experiment of `shendu experiment list`, run by `shendu experiment run all"
             f"{' --quick' if budget == 'quick' else ''}` ({budget} budget) in "
             f"{total_seconds:.0f} s. Each number is the mean over seeds; a claim *held* "
             f"only when every check held by {_verdict.TEST_NAME} (see "
             "`shendu/experiments/_verdict.py`); *inconclusive* means the effect did not "
             "exceed the spread across seeds either way.", "",
             "| experiment | claim | source | verdict | seconds |",
             "|---|---|---|---|---:|"]
    for r in results:
        e = r.experiment
        lines.append(f"| [{e.name}](#{e.name}) | {e.claim} | {e.source} | **{r.verdict}** | "
                     f"{r.seconds:.0f} |")
    for r in results:
        e = r.experiment
        lines += ["", f"## {e.name}", "", f"**Claim** ({e.source}): {e.claim}", ""]
        if e.notes:
            lines += [e.notes, ""]
        lines += [r.markdown(), "", "Checks:", ""]
        lines += [f"- {c.text}" for c in r.checks]
        lines += ["", f"`{r.verdict_line()}`", ""]
        if r.png:
            lines += [f"![{e.name}]({os.path.basename(r.png)})", ""]
    return "\n".join(lines) + "\n"
