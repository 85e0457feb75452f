"""``shendu.tune``: hyperparameter search on a validation split, built on Optuna.

Samplers: Optuna's ``GridSampler``, ``RandomSampler`` and ``TPESampler`` (the Bayesian one
Optuna ships), plus ``LIPOSampler`` (AdaLIPO + trust region, as dlib's ``find_min_global``)
and ``GPSampler`` (a Gaussian process fitted with shendu's autograd and L-BFGS), both real
``optuna.samplers.BaseSampler`` subclasses. ``PruningCallback`` lets Optuna's pruners stop a
``shendu.train`` run; ``run_study`` tunes a ``shendu train`` configuration from a search-space
file with parallel workers sharing one journal file (``shendu tune`` on the command line).

Needs the ``tune`` extra (``pip install 'shendu[tune]'``); names load on first use.
"""
import importlib

__all__ = ["LIPOSampler", "GPSampler", "PruningCallback", "load_space", "make_sampler",
           "make_pruner", "run_study"]

_WHERE = {"LIPOSampler": "lipo", "GPSampler": "gp", "PruningCallback": "pruning",
          "load_space": "space", "make_sampler": "space", "make_pruner": "space",
          "run_study": "study"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
