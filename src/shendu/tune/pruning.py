"""``PruningCallback``: Optuna's pruners inside a ``shendu.train`` run."""
from ..train.callbacks import Callback
from ._optuna import require_optuna

__all__ = ["PruningCallback"]


class PruningCallback(Callback):
    """After each epoch, report ``logs[monitor]`` to the trial (step = epoch) and ask its
    study's pruner whether to go on. When the pruner says stop, training stops
    (``trainer.stop_training``) and ``optuna.TrialPruned`` is raised out of ``fit``, which is
    what Optuna expects an objective to raise for a pruned trial.

        def objective(trial):
            model, opt = ..., optim.Adam(model.parameters(), lr=trial.suggest_float(...))
            Trainer(model, opt, callbacks=[PruningCallback(trial)]).fit(train, val, epochs=10)
            ...

    ``values`` holds every reported value; ``pruned_at`` the epoch the trial was stopped at.
    A NaN or infinite value is reported as is (Optuna's pruners treat NaN as worst)."""

    def __init__(self, trial, monitor="val_loss"):
        self.optuna = require_optuna()
        self.trial, self.monitor = trial, monitor
        self.values = []
        self.pruned_at = None

    def on_epoch_end(self, trainer, epoch, logs):
        v = logs.get(self.monitor)
        if v is None:
            raise KeyError(f"PruningCallback monitors {self.monitor!r}, which is not among the "
                           f"logged values {sorted(logs)} (val_* needs a validation loader)")
        v = float(v)
        self.values.append(v)
        self.trial.report(v, step=epoch)
        if self.trial.should_prune():
            trainer.stop_training = True
            self.pruned_at = epoch
            raise self.optuna.TrialPruned(f"pruned at epoch {epoch} ({self.monitor}={v:.4g})")
