"""Search-space files for ``shendu tune`` (TOML, YAML or JSON), and the samplers and
pruners they name.

A file sets ``shendu train`` options (their dests: ``model``, ``data``, ``epochs``,
``subset``, ...) to fixed values at the top level, the study's settings (``trials``,
``sampler``, ``pruner``, ``metric``, ``direction``, ``seed``, ``name``), and the ranges to
search under ``[space]``::

    model = "lenet"
    data = "mnist-mini"
    epochs = 3
    trials = 20
    sampler = "tpe"              # grid, random, tpe, lipo, gp  (or {name = "tpe", ...kwargs})
    pruner = "median"            # none, median, halving, hyperband  (or a table, as above)
    metric = "val_loss"          # what a trial reports each epoch and returns at the end

    [space]
    lr = {low = 1e-4, high = 0.1, log = true}       # a float range (log-scaled)
    batch_size = {low = 16, high = 256, log = true} # ints when both bounds are integers
    momentum = {low = 0.5, high = 0.99, step = 0.01}
    optimizer = {choice = ["sgd", "adam"]}          # or just ["sgd", "adam"]
    "model_args.hidden_sizes" = [[64], [128, 64]]   # lists are choices too
    "model_args.dropout" = {low = 0.0, high = 0.5}  # a constructor argument (--model-arg)

``int = true`` forces an integer range (``int = false`` a float one).
"""
import argparse
import json
import math

from ._optuna import require_optuna

__all__ = ["Space", "load_space", "make_sampler", "make_pruner"]

STUDY_KEYS = ("trials", "sampler", "pruner", "metric", "direction", "seed", "name", "space")
SAMPLERS = ("grid", "random", "tpe", "lipo", "gp")
PRUNERS = ("none", "median", "halving", "hyperband")


class SpaceError(ValueError):
    """A mistake in a search-space file."""


def _train_dests():
    from .. import cli
    p = cli.build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest for a in sub.choices["train"]._actions} - {"help", "config"}


def _distribution(name, spec):
    """A range spec → an Optuna distribution (None for a fixed value)."""
    from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                      IntDistribution)
    if isinstance(spec, list):
        spec = {"choice": spec}
    if not isinstance(spec, dict):
        return None
    if "choice" in spec or "choices" in spec:
        choices = spec.get("choice", spec.get("choices"))
        if not isinstance(choices, list) or not choices:
            raise SpaceError(f"space.{name}: choice must be a non-empty list, got {choices!r}")
        # Optuna's choices are None, bools, numbers and strings: lists and tables (say
        # hidden_sizes = [64, 64]) travel as their JSON text (``Space.config`` reads it back)
        return CategoricalDistribution([json.dumps(c) if isinstance(c, (list, dict)) else c
                                        for c in choices])
    unknown = set(spec) - {"low", "high", "log", "step", "int"}
    if unknown or "low" not in spec or "high" not in spec:
        raise SpaceError(f"space.{name}: a range is {{low, high[, log, step, int]}} or "
                         f"{{choice = [...]}}, got {spec!r}")
    low, high, log, step = spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("step")
    is_int = spec.get("int")
    if is_int is None:
        is_int = all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) and \
            (step is None or isinstance(step, int))
    try:
        if is_int:
            return IntDistribution(int(low), int(high), log=log, step=int(step or 1))
        return FloatDistribution(float(low), float(high), log=log,
                                 step=None if step is None else float(step))
    except ValueError as e:
        raise SpaceError(f"space.{name}: {e}") from None


def _suggest(trial, name, dist):
    from optuna.distributions import CategoricalDistribution, IntDistribution
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)


class Space:
    """A parsed search-space file: ``fixed`` train options, ``distributions``
    {param name: optuna distribution}, and the study settings as attributes."""

    def __init__(self, data, source="<space>"):
        require_optuna()
        if not isinstance(data, dict):
            raise SpaceError(f"{source}: expected a table, got {type(data).__name__}")
        self.source = source
        self.raw = data
        dests = _train_dests()
        self.fixed = {}
        for key, value in data.items():
            if key in STUDY_KEYS:
                continue
            dest = "model_arg" if key == "model_args" else key.replace("-", "_")
            if dest not in dests:
                raise SpaceError(f"{source}: unknown key {key!r}; a key is a study setting "
                                 f"({', '.join(STUDY_KEYS)}) or a `shendu train` option "
                                 f"({', '.join(sorted(dests))})")
            self.fixed[key] = value
        self.distributions = {}
        for name, spec in (data.get("space") or {}).items():
            base = name.split(".", 1)[0]
            if base not in dests and not (base == "model_args" and "." in name):
                raise SpaceError(f"{source}: space.{name} is not a `shendu train` option "
                                 f"({', '.join(sorted(dests))}) nor model_args.NAME")
            dist = _distribution(name, spec)
            if dist is None:
                self.fixed[name] = spec
            else:
                self.distributions[name] = dist
        self._json = {n for n, spec in (data.get("space") or {}).items()
                      if isinstance(spec, (list, dict))
                      and any(isinstance(c, (list, dict)) for c in
                              (spec if isinstance(spec, list) else
                               spec.get("choice", spec.get("choices")) or []))}
        if not self.distributions:
            raise SpaceError(f"{source}: [space] names no range to search")
        self.trials = int(data.get("trials", 20))
        self.sampler = data.get("sampler", "tpe")
        self.pruner = data.get("pruner", "median")
        self.metric = data.get("metric", "val_loss")
        from ..train.callbacks import _better
        self.direction = data.get("direction") or \
            ("minimize" if _better("auto", self.metric) == "min" else "maximize")
        if self.direction not in ("minimize", "maximize"):
            raise SpaceError(f"{source}: direction must be minimize or maximize, got "
                             f"{self.direction!r}")
        _named(self.sampler, "sampler", SAMPLERS)
        _named(self.pruner, "pruner", PRUNERS)
        self.seed = int(data.get("seed", 0))
        self.name = str(data.get("name", "shendu-tune"))
        self.epochs = int(self.fixed.get("epochs", 3))

    def config(self, params):
        """The `shendu train` options of a trial: the fixed ones and ``params``; dotted
        ``model_args.NAME`` entries join the ``model_args`` table."""
        cfg = {}
        params = {k: json.loads(v) if k in self._json else v for k, v in params.items()}
        for k, v in {**self.fixed, **params}.items():
            if k.startswith("model_args."):
                cfg.setdefault("model_args", {})[k.split(".", 1)[1]] = v
            elif k == "model_args":
                cfg["model_args"] = {**v, **cfg.get("model_args", {})}
            else:
                cfg[k] = v
        return cfg

    def suggest(self, trial):
        """Ask ``trial`` for every range; returns the trial's `shendu train` options."""
        return self.config({n: _suggest(trial, n, d) for n, d in self.distributions.items()})

    def grid(self):
        """{name: list of values} for GridSampler; every range must be discrete."""
        from optuna.distributions import CategoricalDistribution
        out = {}
        for n, d in self.distributions.items():
            if isinstance(d, CategoricalDistribution):
                out[n] = list(d.choices)
            elif d.step is not None:
                k = int(math.floor((d.high - d.low) / d.step + 1e-9))
                out[n] = [d.low + i * d.step for i in range(k + 1)]
            else:
                raise SpaceError(f"{self.source}: grid search needs a choice, an int range or a "
                                 f"step for space.{n}")
        return out


def load_space(path):
    """Read a search-space file (TOML, YAML or JSON, by its extension) → ``Space``."""
    from .. import cli
    try:
        return Space(cli.read_config(path), source=str(path))
    except cli.CLIError as e:
        raise SpaceError(str(e)) from None


def _named(spec, kind, names):
    if isinstance(spec, dict):
        spec = dict(spec)
        name = str(spec.pop("name", "")).lower()
    else:
        name, spec = str(spec).lower(), {}
    if name not in names:
        raise SpaceError(f"unknown {kind} {name!r}; available: {', '.join(names)}")
    return name, spec


def make_sampler(spec, seed=None, space=None):
    """An Optuna sampler from a name (grid, random, tpe, lipo, gp) or a table
    ``{name = ..., **constructor kwargs}``; ``space`` is needed for grid."""
    optuna = require_optuna()
    name, kw = _named(spec, "sampler", SAMPLERS)
    kw.setdefault("seed", seed)
    if name == "grid":
        if space is None:
            raise SpaceError("the grid sampler needs the search space")
        return optuna.samplers.GridSampler(space.grid(), **kw)
    if name == "random":
        return optuna.samplers.RandomSampler(**kw)
    if name == "tpe":
        return optuna.samplers.TPESampler(**kw)
    if name == "lipo":
        from .lipo import LIPOSampler
        return LIPOSampler(**kw)
    from .gp import GPSampler
    return GPSampler(**kw)


def make_pruner(spec, epochs=None):
    """An Optuna pruner from a name (none, median, halving, hyperband) or a table."""
    optuna = require_optuna()
    name, kw = _named(spec, "pruner", PRUNERS)
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        kw.setdefault("n_startup_trials", 3)
        return optuna.pruners.MedianPruner(**kw)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(**kw)
    kw.setdefault("min_resource", 1)
    if epochs:
        kw.setdefault("max_resource", int(epochs))
    return optuna.pruners.HyperbandPruner(**kw)
