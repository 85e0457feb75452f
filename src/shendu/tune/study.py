"""Run a search: each trial is a ``shendu train`` run with the trial's options, stopped
early by the pruner, in N worker processes that share one Optuna study stored in a journal
file (``<out>/study.journal``).

The journal is an append-only log that each write locks and flushes, so a study killed at
any moment (any worker, or all of them) loses no finished trial. Each trial records its
worker (host:pid); before taking a trial a worker marks the running trials whose worker
process on this machine is gone as failed (``shendu:stale``) and queues their parameters
again, so a killed worker's trial is re-run by the others, and running ``run_study`` again
with the same ``out`` resumes a killed study, running only the trials still missing.

Per trial, ``<out>/trials/NNNN/`` holds ``config.json`` (a ``shendu train --config`` file),
``train.log`` and what ``shendu train`` writes (history, checkpoints, curves). At the end:
``trials.csv``, ``best_config.toml`` (``shendu train --config best_config.toml``) and the
plots ``history.png``, ``parallel_coordinates.png`` and ``importances.png``.
"""
import contextlib
import csv
import json
import math
import os
import socket
import time

from ._optuna import require_optuna
from .space import Space, load_space, make_pruner, make_sampler

__all__ = ["run_study", "open_study", "write_results"]

_STALE = "shendu:stale"


def _journal(out):
    require_optuna()
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    os.makedirs(out, exist_ok=True)
    return JournalStorage(JournalFileBackend(os.path.join(out, "study.journal")))


def open_study(space, out, sampler=None):
    """The study stored under ``out`` (created on first use), with the space's pruner."""
    optuna = require_optuna()
    return optuna.create_study(study_name=space.name, storage=_journal(out), sampler=sampler,
                               pruner=make_pruner(space.pruner, space.epochs),
                               direction=space.direction, load_if_exists=True)


@contextlib.contextmanager
def _locked(out):
    """An exclusive lock on ``<out>/.lock`` across processes (counting and asking for a
    trial happen under it, so N workers start exactly the trials still missing)."""
    import fcntl
    with open(os.path.join(out, ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _count(study, states):
    optuna = require_optuna()
    return len(study.get_trials(deepcopy=False, states=tuple(getattr(
        optuna.trial.TrialState, s) for s in states)))


def _used(study, running=True):
    """Trials that count against the budget: finished (complete, pruned, failed — but not
    the ones cut off by a dead worker, which run again) and, with ``running``, running."""
    S = require_optuna().trial.TrialState
    states = (S.COMPLETE, S.PRUNED, S.FAIL) + ((S.RUNNING,) if running else ())
    return sum(1 for t in study.get_trials(deepcopy=False, states=states)
               if _STALE not in t.system_attrs)


def _worker_id():
    return f"{socket.gethostname()}:{os.getpid()}"


def recover_stale(study):
    """Fail the RUNNING trials whose worker (on this machine) has died, and queue their
    parameters again. Returns their numbers."""
    optuna = require_optuna()
    host = socket.gethostname()
    stale = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        who = t.system_attrs.get("shendu:worker", "")
        h, _, pid = who.rpartition(":")
        if h != host or not pid.isdigit() or _alive(int(pid)):
            continue
        study._storage.set_trial_system_attr(t._trial_id, _STALE, True)
        study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number},
                            skip_if_exists=False)
        stale.append(t.number)
    return stale


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed child not yet reaped) is dead too
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


# ---------------------------------------------------------------------- one trial
def _objective(space, out, trial):
    """Train with the trial's options; report ``space.metric`` each epoch; return its last
    value. Raises optuna.TrialPruned when the pruner stops the run."""
    from .. import cli
    from .pruning import PruningCallback
    cfg = space.suggest(trial)
    tdir = os.path.join(out, "trials", f"{trial.number:04d}")
    os.makedirs(tdir, exist_ok=True)
    path = os.path.join(tdir, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    cb = PruningCallback(trial, space.metric)
    with open(os.path.join(tdir, "train.log"), "w") as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            args = cli.parse_args(["train", "--config", path, "--out", tdir, "--no-progress"])
        except SystemExit:
            raise RuntimeError(f"`shendu train` rejected {path}; see {tdir}/train.log") from None
        args.callbacks = [cb]
        rc = args.func(args)
    if rc != 0 or not cb.values:
        raise RuntimeError(f"`shendu train` ended with status {rc}; see {tdir}/train.log")
    return cb.values[-1]


def _row(trial, index):
    v = trial.value if trial.value is not None else (
        list(trial.intermediate_values.values())[-1] if trial.intermediate_values else None)
    secs = (trial.datetime_complete - trial.datetime_start).total_seconds() \
        if trial.datetime_complete and trial.datetime_start else float("nan")
    params = "  ".join(f"{k}={_fmt(v_)}" for k, v_ in trial.params.items())
    val = f"{v:.4f}" if isinstance(v, float) and math.isfinite(v) else str(v)
    return (f"{trial.number:>5d}  {trial.state.name:<8s} {val:>9s}  "
            f"{len(trial.intermediate_values):>6d}  {secs:>6.1f}  w{index:<3d} {params}")


def _header(space):
    return (f"trial  state    {space.metric[:9]:>9s}  epochs  time s  wrk  parameters")


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def worker(space_path, out, index, seed):
    """Worker number ``index``: take trials until ``space.trials`` are finished or running.
    Prints one table row per finished trial."""
    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from .. import cli
    space = load_space(space_path)
    study = open_study(space, out, make_sampler(space.sampler, seed, space))
    while True:
        with _locked(out):
            recover_stale(study)               # a worker beside this one may have died
            if _used(study) >= space.trials:
                return
            trial = study.ask()
            study._storage.set_trial_system_attr(trial._trial_id, "shendu:worker", _worker_id())
        state, value = optuna.trial.TrialState.COMPLETE, None
        try:
            value = _objective(space, out, trial)
        except optuna.TrialPruned:
            state = optuna.trial.TrialState.PRUNED
        except (FloatingPointError, RuntimeError, ValueError, cli.CLIError) as e:
            state = optuna.trial.TrialState.FAIL
            with open(os.path.join(out, "trials", f"{trial.number:04d}", "train.log"), "a") as f:
                f.write(f"\ntrial failed: {type(e).__name__}: {e}\n")
        frozen = study.tell(trial, value if state == optuna.trial.TrialState.COMPLETE else None,
                            state=state)
        print(_row(frozen, index), flush=True)


def _worker_main(space_path, out, index, seed):
    import shendu  # noqa: F401  (before NumPy in the fresh process)
    try:
        worker(space_path, out, index, seed)
    except KeyboardInterrupt:
        pass


# ---------------------------------------------------------------------- the search
def run_study(space, out, workers=1, trials=None, plots=True):
    """Tune ``space`` (a ``Space`` or a file path) with ``workers`` processes sharing
    ``<out>/study.journal``; resumes the study found there. Returns the study."""
    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not isinstance(space, Space):
        space = load_space(space)
    space_path = os.path.join(out, "space.json")
    os.makedirs(out, exist_ok=True)
    if trials is not None:
        space.raw["trials"] = space.trials = int(trials)
    _check(space)
    _same_search(space, space_path)
    with open(space_path + ".tmp", "w") as f:
        json.dump(space.raw, f, indent=1)
    os.replace(space_path + ".tmp", space_path)
    study = open_study(space, out)
    retried = recover_stale(study)
    done = _used(study, running=False)
    if retried:
        print(f"resuming: trials {', '.join(map(str, retried))} were cut off and run again")
    if done:
        print(f"resuming {out}: {done} of {space.trials} trials already finished")
    print(_header(space), flush=True)
    t0 = time.perf_counter()
    seed = space.seed + 1000 * done         # a resumed run does not replay the same draws
    if workers <= 1:
        worker(space_path, out, 0, seed)
    else:
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        procs = [ctx.Process(target=_worker_main, args=(space_path, out, i, seed + i))
                 for i in range(workers)]
        for p in procs:
            p.start()
        try:
            for p in procs:
                p.join()
        except KeyboardInterrupt:
            for p in procs:
                p.join()
            raise
    elapsed = time.perf_counter() - t0
    study = open_study(space, out)
    write_results(study, space, out, plots=plots)
    _summary(study, space, out, elapsed)
    return study


def _same_search(space, path):
    """A study resumes only with the search it was made with: the same fixed options,
    ranges, metric and direction (the number of trials, sampler and pruner may change)."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        old = json.load(f)
    keep = lambda d: {k: v for k, v in d.items()  # noqa: E731
                      if k not in ("trials", "sampler", "pruner", "seed")}
    if keep(old) != keep(json.loads(json.dumps(space.raw))):
        from ..cli import CLIError
        raise CLIError(f"{os.path.dirname(path)} holds a study of another search (see "
                       f"{path}); give a new --out, or delete that folder to start afresh")


def _check(space):
    """Refuse a space whose fixed options `shendu train` would reject, before any worker
    starts; the grid sampler gets at most one trial per grid point."""
    from .. import cli
    cfg = space.config({})
    if cfg.get("data", "mnist-mini") not in cli.DATASETS:
        raise cli.CLIError(f"{space.source}: unknown dataset {cfg['data']!r}; available: "
                           f"{', '.join(cli.DATASETS)}")
    cli.build_model_check(cfg.get("model", "lenet"))
    name = space.sampler if isinstance(space.sampler, str) else space.sampler.get("name")
    if str(name).lower() == "grid":
        size = math.prod(len(v) for v in space.grid().values())
        space.raw["trials"] = space.trials = min(space.trials, size)


def _summary(study, space, out, elapsed):
    optuna = require_optuna()
    S = optuna.trial.TrialState
    n = {s: _count(study, (s,)) for s in ("COMPLETE", "PRUNED", "FAIL")}
    print(f"{sum(n.values())} trials in {elapsed:.1f} s: {n['COMPLETE']} complete, "
          f"{n['PRUNED']} pruned, {n['FAIL']} failed")
    if any(t.state == S.COMPLETE for t in study.get_trials(deepcopy=False)):
        b = study.best_trial
        print(f"best: trial {b.number}, {space.metric} = {b.value:.4f}: "
              + ", ".join(f"{k}={_fmt(v)}" for k, v in b.params.items()))
        print(f"wrote {os.path.join(out, 'trials.csv')}, {os.path.join(out, 'best_config.toml')}"
              f" (shendu train --config {os.path.join(out, 'best_config.toml')})")


# ---------------------------------------------------------------------- results
def write_results(study, space, out, plots=True):
    """trials.csv, best_config.toml and (with matplotlib) the three plots."""
    optuna = require_optuna()
    trials = study.get_trials(deepcopy=False)
    names = list(space.distributions)
    with open(os.path.join(out, "trials.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "value", "epochs", "seconds"] + names)
        for t in trials:
            secs = ((t.datetime_complete - t.datetime_start).total_seconds()
                    if t.datetime_complete and t.datetime_start else "")
            w.writerow([t.number, t.state.name, "" if t.value is None else t.value,
                        len(t.intermediate_values), secs] + [t.params.get(n, "") for n in names])
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        cfg = space.config(best.params)
        with open(os.path.join(out, "best_config.toml"), "w") as f:
            f.write(f"# best of {len(trials)} trials of {space.source}: trial {best.number}, "
                    f"{space.metric} = {best.value:.6g}\n"
                    f"# shendu train --config {os.path.join(out, 'best_config.toml')}\n")
            f.write(to_toml(cfg))
    if plots:
        try:
            from .plots import plot_all
            plot_all(study, space, out)
        except ImportError as e:
            print(f"(no plots: {e})")


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}"
                               for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def to_toml(mapping):
    """A flat ``key = value`` TOML document (tables written inline)."""
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in mapping.items())
