"""PruningCallback: Optuna's pruners stop a planted bad trial of a shendu.train run."""
import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

import shendu  # noqa: E402
from shendu import nn, optim  # noqa: E402
from shendu.train import Trainer  # noqa: E402
from shendu.tune import PruningCallback  # noqa: E402
from shendu.utils.data import DataLoader, TensorDataset  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _loaders():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((96, 8)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    ds = TensorDataset(shendu.tensor(X), shendu.tensor(y))
    return DataLoader(ds, batch_size=32), DataLoader(ds, batch_size=96)


def _objective(trial, epochs_run):
    shendu.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    lr = trial.suggest_float("lr", 1e-6, 1.0, log=True)
    cb = PruningCallback(trial)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=lr), callbacks=[cb],
                      progress=False, log=None)
    train, val = _loaders()
    try:
        trainer.fit(train, val, epochs=6)
    finally:
        epochs_run[trial.number] = (len(cb.values), trainer.stop_training)
    return cb.values[-1]


@pytest.mark.parametrize("pruner", [optuna.pruners.MedianPruner(n_startup_trials=2),
                                    optuna.pruners.SuccessiveHalvingPruner(),
                                    optuna.pruners.HyperbandPruner(min_resource=1,
                                                                   max_resource=6)],
                         ids=["median", "halving", "hyperband"])
def test_pruner_stops_planted_bad_trial(pruner):
    study = optuna.create_study(pruner=pruner)
    for lr in (0.3, 0.5, 0.2, 1e-6):              # the last one learns nothing: planted
        study.enqueue_trial({"lr": lr})
    epochs_run = {}
    study.optimize(lambda t: _objective(t, epochs_run), n_trials=4)
    bad = study.trials[3]
    assert bad.state == optuna.trial.TrialState.PRUNED
    n, stopped = epochs_run[3]
    assert n < 6 and stopped                      # stopped early, through the trainer
    assert list(bad.intermediate_values) == list(range(1, n + 1))   # one report per epoch
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert epochs_run[0][0] == 6


def test_missing_monitor_is_a_clear_error():
    study = optuna.create_study()
    trial = study.ask()
    model = nn.Linear(8, 2)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1),
                      callbacks=[PruningCallback(trial, monitor="val_loss")], progress=False,
                      log=None)
    with pytest.raises(KeyError, match="val_loss"):
        trainer.fit(_loaders()[0], None, epochs=1)
