"""`shendu tune` end to end (two workers, pruning, outputs, the best config back into
`shendu train --config`), a killed worker and a killed study resuming, search-space files."""
import os
import signal
import subprocess
import sys
import time

import pytest

optuna = pytest.importorskip("optuna")

from shendu import cli  # noqa: E402
from shendu.tune import load_space  # noqa: E402
from shendu.tune.space import SpaceError  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "src")
TINY = """
model = "mlp"
data = "mnist-mini"
epochs = {epochs}
subset = 160
val_fraction = 0.25
trials = {trials}
sampler = "{sampler}"
pruner = {pruner}
seed = 1

[space]
lr = {{low = 1e-4, high = 0.5, log = true}}
batch_size = {{choice = [32, 64]}}
"model_args.hidden_sizes" = {{choice = [[32], [64]]}}
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


MEDIAN = '{name = "median", n_startup_trials = 1}'


def _space(trials, sampler, epochs=2, pruner=MEDIAN):
    return TINY.format(trials=trials, sampler=sampler, epochs=epochs, pruner=pruner)


def _tune(tmp_path, trials, workers, sampler="lipo", wait=True, extra=(), **fields):
    space = tmp_path / "space.toml"
    space.write_text(_space(trials, sampler, **fields))
    cmd = [sys.executable, "-m", "shendu", "tune", str(space), "--out", str(tmp_path / "out"),
           "--workers", str(workers), *extra]
    if not wait:
        return subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, text=True,
                                start_new_session=True)
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=240)


def _study(tmp_path):
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "out" / "study.journal")))
    return optuna.load_study(study_name="shendu-tune", storage=storage)


def test_tune_end_to_end_two_workers(tmp_path, monkeypatch):
    r = _tune(tmp_path, trials=3, workers=2)
    assert r.returncode == 0, r.stdout + r.stderr
    out = tmp_path / "out"
    lines = r.stdout.splitlines()
    assert lines[0].startswith("trial  state") and "val_loss" in lines[0]
    rows = [ln for ln in lines[1:] if ln.split()[1:2] in (["COMPLETE"], ["PRUNED"], ["FAIL"])]
    assert sorted(int(ln.split()[0]) for ln in rows) == [0, 1, 2]     # a live row per trial
    assert "3 trials in" in r.stdout and "best: trial" in r.stdout
    for f in ("trials.csv", "best_config.toml", "history.png", "parallel_coordinates.png",
              "importances.png", "trials/0000/config.json", "trials/0000/train.log"):
        assert (out / f).exists(), f
    csv = (out / "trials.csv").read_text().splitlines()
    assert csv[0] == "number,state,value,epochs,seconds,lr,batch_size,model_args.hidden_sizes"
    assert len(csv) == 4
    study = _study(tmp_path)
    workers = {t.system_attrs["shendu:worker"] for t in study.trials}
    assert len(workers) == 2                       # both processes took trials of one study
    best = study.best_trial
    # the best configuration goes back into `shendu train --config`; flags still win
    args = cli.parse_args(["train", "--config", str(out / "best_config.toml"), "--epochs", "1"])
    assert args.lr == pytest.approx(best.params["lr"]) and args.epochs == 1
    assert args.batch_size == best.params["batch_size"] and args.model == "mlp"
    assert args.model_arg == [f"hidden_sizes={best.params['model_args.hidden_sizes']}"]
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--config", str(out / "best_config.toml"), "--epochs", "1",
                     "--no-progress", "--out", str(tmp_path / "again")]) == 0


def _wait(pred, timeout=180):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out")


def _trials(tmp_path):
    try:
        return _study(tmp_path).trials
    except Exception:                              # the journal is still being created
        return []


def test_killed_worker_and_killed_study_resume(tmp_path):
    S = optuna.trial.TrialState
    # trials of a few seconds (150 short epochs, no pruning), so the polls below, 0.2 s
    # apart, see a trial running after another has finished (2-epoch trials were over
    # between two polls on a quiet machine, and the study ended before a kill could land)
    long = dict(sampler="random", epochs=150, pruner='"none"')
    proc = _tune(tmp_path, trials=4, workers=2, wait=False, **long)
    try:
        # 1. kill one worker in the middle of a trial: the other re-runs that trial
        def running_after_one_done():
            if proc.poll() is not None:
                raise AssertionError("the study finished before a trial could be killed")
            ts = _trials(tmp_path)
            run = [t for t in ts if t.state == S.RUNNING and t.params]
            return run[0] if run and any(t.state == S.COMPLETE for t in ts) else None
        victim = _wait(running_after_one_done)
        pid = int(victim.system_attrs["shendu:worker"].rsplit(":", 1)[1])
        done_before = {t.number: t.value for t in _trials(tmp_path) if t.state == S.COMPLETE}
        os.kill(pid, signal.SIGKILL)
        # 2. then kill the whole study (coordinator and workers) while a trial runs — or,
        # if the surviving worker used up the budget first (the victim's trial then waits
        # for the resume to be retried), once the others have all finished
        def later_trial_running_or_budget_spent():
            ts = _trials(tmp_path)
            ended = [t for t in ts if t.number != victim.number and t.state in
                     (S.COMPLETE, S.PRUNED, S.FAIL)]
            return (proc.poll() is not None or len(ended) >= 3
                    or any(t.state == S.RUNNING and t.number > victim.number for t in ts))
        _wait(later_trial_running_or_budget_spent)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # 3. the same command resumes and finishes the budget
    r = _tune(tmp_path, trials=4, workers=1, **long)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming" in r.stdout
    ts = _trials(tmp_path)
    stale = [t for t in ts if t.system_attrs.get("shendu:stale")]
    assert victim.number in [t.number for t in stale]
    assert all(t.state == S.FAIL for t in stale)
    finished = [t for t in ts if t.state in (S.COMPLETE, S.PRUNED, S.FAIL)
                and not t.system_attrs.get("shendu:stale")]
    assert len(finished) == 4 and not [t for t in ts if t.state == S.RUNNING]
    for number, value in done_before.items():      # no finished trial lost or changed
        assert ts[number].state == S.COMPLETE and ts[number].value == value
    retry = [t for t in ts if t.user_attrs.get("retry_of") == victim.number]
    assert len(retry) == 1 and retry[0].params == victim.params
    # a finished study run again does nothing more; another search in its folder is refused
    r = _tune(tmp_path, trials=4, workers=1, extra=("--no-plots",), **long)
    assert r.returncode == 0 and "4 of 4 trials already finished" in r.stdout
    assert len(_trials(tmp_path)) == len(ts)
    (tmp_path / "space.toml").write_text(_space(4, "random", epochs=151, pruner='"none"'))
    r = subprocess.run([sys.executable, "-m", "shendu", "tune", str(tmp_path / "space.toml"),
                        "--out", str(tmp_path / "out")], env=_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "holds a study of another search" in r.stderr


def test_space_file_errors_and_types(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("model: lenet\ntrials: 4\nsampler: gp\nspace:\n  lr: {low: 1.0e-4, high: 0.1, "
                 "log: true}\n  batch_size: {low: 16, high: 128, log: true}\n  momentum: "
                 "{low: 0.5, high: 0.9, step: 0.1}\n  optimizer: [sgd, adam]\n  "
                 "model_args.dropout: {low: 0, high: 1, int: false}\n")
    sp = load_space(p)
    from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                      IntDistribution)
    d = sp.distributions
    assert d["lr"] == FloatDistribution(1e-4, 0.1, log=True)
    assert d["batch_size"] == IntDistribution(16, 128, log=True)
    assert d["momentum"] == FloatDistribution(0.5, 0.9, step=0.1)
    assert d["optimizer"] == CategoricalDistribution(["sgd", "adam"])
    assert d["model_args.dropout"] == FloatDistribution(0.0, 1.0)
    assert sp.config({"lr": 0.01, "model_args.dropout": 0.2}) == \
        {"model": "lenet", "lr": 0.01, "model_args": {"dropout": 0.2}}
    assert sp.direction == "minimize" and sp.trials == 4
    for text, msg in [('epochz = 3\n[space]\nlr = {low = 0.1, high = 1.0}', "epochz"),
                      ('[space]\nlr = {low = 0.1}', "range"),
                      ('sampler = "cma"\n[space]\nlr = [0.1]', "unknown sampler"),
                      ('[space]\nfoo = {low = 0.1, high = 1.0}', "foo"),
                      ('model = "lenet"', "no range")]:
        q = tmp_path / "bad.toml"
        q.write_text(text)
        with pytest.raises(SpaceError, match=msg):
            load_space(q)
    g = tmp_path / "grid.toml"
    g.write_text('sampler = "grid"\n[space]\nlr = [0.1, 0.01]\nepochs = {low = 1, high = 3}\n'
                 'momentum = {low = 0.0, high = 0.9}')
    with pytest.raises(SpaceError, match="grid search needs"):
        load_space(g).grid()


def test_train_config_file_formats_and_errors(tmp_path, capsys):
    (tmp_path / "c.toml").write_text('lr = 0.02\nbatch_size = 32\nmodel_args = {dropout = 0.1}\n')
    (tmp_path / "c.yaml").write_text("lr: 1e-3\nbatch-size: 16\nno_progress: true\n")
    (tmp_path / "c.json").write_text('{"optimizer": "sgd", "epochs": 5}')
    a = cli.parse_args(["train", "--config", str(tmp_path / "c.toml"), "--batch-size", "8"])
    assert (a.lr, a.batch_size, a.model_arg) == (0.02, 8, ["dropout=0.1"])
    a = cli.parse_args(["train", "--config", str(tmp_path / "c.yaml")])
    assert (a.lr, a.batch_size, a.no_progress) == (1e-3, 16, True)      # YAML's "1e-3" string
    a = cli.parse_args(["train", "--lr", "0.5", "--config", str(tmp_path / "c.json")])
    assert (a.lr, a.optimizer, a.epochs) == (0.5, "sgd", 5)
    (tmp_path / "bad.toml").write_text('lr = 0.1\nlearning_rate = 0.1\n')
    (tmp_path / "bad.ini").write_text('x')
    (tmp_path / "broken.yaml").write_text('lr: [1, 2\n')
    (tmp_path / "broken.toml").write_text('lr = \n')
    (tmp_path / "list.json").write_text('[1, 2]')
    for f, msg in [("bad.toml", "unknown option 'learning_rate'"), ("bad.ini", ".toml, .yaml"),
                   ("none.toml", "cannot read"), ("broken.yaml", "broken.yaml: while parsing"),
                   ("broken.toml", "broken.toml: "), ("list.json", "expected a table")]:
        with pytest.raises(SystemExit) as e:
            cli.parse_args(["train", "--config", str(tmp_path / f)])
        assert e.value.code == 2 and msg in capsys.readouterr().err


def test_missing_optuna_names_the_extra(tmp_path, monkeypatch, capsys):
    (tmp_path / "s.toml").write_text('[space]\nlr = {low = 0.1, high = 1.0}\n')
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert cli.main(["tune", str(tmp_path / "s.toml")]) == 2
    assert "pip install 'shendu[tune]'" in capsys.readouterr().err


def test_samplers_and_pruners_by_name(tmp_path):
    from shendu.tune import GPSampler, LIPOSampler, make_pruner, make_sampler
    g = tmp_path / "grid.toml"
    g.write_text('sampler = "grid"\n[space]\nlr = [0.1, 0.01]\nepochs = {low = 1, high = 3}\n'
                 'momentum = {low = 0.0, high = 0.5, step = 0.25}')
    sp = load_space(g)
    assert sp.grid() == {"lr": [0.1, 0.01], "epochs": [1, 2, 3], "momentum": [0.0, 0.25, 0.5]}
    S = optuna.samplers
    for name, cls in [("grid", S.GridSampler), ("random", S.RandomSampler),
                      ("tpe", S.TPESampler), ("lipo", LIPOSampler), ("gp", GPSampler)]:
        assert type(make_sampler(name, 0, sp)) is cls
    assert make_sampler({"name": "gp", "n_startup_trials": 8}).n_startup_trials == 8
    P = optuna.pruners
    for name, cls in [("none", P.NopPruner), ("median", P.MedianPruner),
                      ("halving", P.SuccessiveHalvingPruner), ("hyperband", P.HyperbandPruner)]:
        assert type(make_pruner(name, epochs=4)) is cls
    with pytest.raises(SpaceError, match="unknown pruner 'asha'"):
        make_pruner("asha")
