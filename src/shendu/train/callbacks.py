"""Callbacks: extensions of the training loop kept out of it (Chainer's idea).

A callback may define any of on_train_begin(trainer), on_epoch_begin(trainer, epoch),
on_batch_end(trainer, step, logs), on_epoch_end(trainer, epoch, logs), on_train_end(trainer);
``state_dict`` / ``load_state_dict`` let a resumed run continue with the callback's state.
Setting ``trainer.stop_training = True`` ends training after the current epoch. At the end
of an epoch callbacks run by ``order``: the others (0), then ``ModelCheckpoint`` (1), so
the checkpoint holds their state, then ``CSVLogger`` (2), so the log never holds an epoch
the checkpoint does not.
"""
import math
import os

from .. import serialization

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "CSVLogger", "LambdaCallback"]


class Callback:
    rank_zero_only = False      # data-parallel training runs it on rank 0 alone (it writes files)
    order = 0           # the order of on_epoch_end calls (see the module docstring)

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_batch_end(self, trainer, step, logs):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass

    def on_exception(self, trainer, exception):
        """The run stops on an error (a diverging loss, a failing loader...): release
        what on_train_begin took; on_train_end does not follow."""
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def _better(mode, monitor):
    if mode == "auto":
        mode = "max" if any(s in monitor for s in ("acc", "f1", "auc")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; optionally put back the best weights at the end."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=False, verbose=True):
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.mode = _better(mode, monitor)
        self.restore_best_weights, self.verbose = restore_best_weights, verbose
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.best_epoch = None
        self.best_weights = None
        self.stopped_epoch = None

    def _improved(self, v):
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta

    def on_epoch_end(self, trainer, epoch, logs):
        v = logs.get(self.monitor)
        if v is None:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, which is not among the "
                           f"logged values {sorted(logs)}")
        if self._improved(v):
            self.best, self.wait, self.best_epoch = v, 0, epoch
            if self.restore_best_weights:
                self.best_weights = {k: t.clone() for k, t in trainer.model.state_dict().items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.stop_training = True
                self.stopped_epoch = epoch
                if self.verbose:
                    trainer.log(f"early stopping at epoch {epoch}: {self.monitor} has not improved "
                                f"for {self.patience} epochs (best {self.best:.4f} at epoch "
                                f"{self.best_epoch})")

    def on_train_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self):
        return {"best": self.best, "wait": self.wait, "best_epoch": self.best_epoch,
                "best_weights": self.best_weights}

    def load_state_dict(self, state):
        self.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
        self.best_weights = state.get("best_weights")


class ModelCheckpoint(Callback):
    """After each epoch, write the full training state to ``path`` (atomically); with a
    ``monitor``, also keep the best model in ``best_path``: its weights (``"model"``), the zoo
    spec that rebuilds it (``"model_spec"``, so ``models.from_checkpoint`` and ``shendu eval``
    read it), the epoch, the monitored value and the trainer's ``meta``."""
    rank_zero_only = True
    order = 1

    def __init__(self, path, monitor="val_loss", mode="auto", best_path=None, every=1):
        self.path = os.fspath(path)
        self.monitor = monitor
        self.mode = _better(mode, monitor) if monitor else None
        stem, ext = os.path.splitext(self.path)
        self.best_path = best_path or f"{stem}.best{ext or '.safetensors'}"
        self.every = every
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor and logs.get(self.monitor) is not None:
            v = logs[self.monitor]
            if (v < self.best) if self.mode == "min" else (v > self.best):
                self.best = v
                bare = trainer.bare_model
                serialization.save({"model": bare.state_dict(),
                                    "model_spec": getattr(bare, "zoo_spec", None),
                                    "epoch": epoch, self.monitor: v, "meta": trainer.meta},
                                   self.best_path)
        if epoch % self.every == 0:
            trainer.save_checkpoint(self.path)

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, state):
        self.best = state["best"]


class CSVLogger(Callback):
    """The run's history as a CSV file, one row per epoch (columns: epoch, then the logged
    values in sorted order; empty where an epoch lacks one).

    After each epoch, once the checkpoint is written, the file is rewritten whole from
    ``trainer.history`` through a temporary file renamed over it; a resumed run rewrites it
    from the checkpoint's history first. So a kill at any moment leaves a complete table
    that holds no epoch the checkpoint does not, and a resume never repeats a row."""
    rank_zero_only = True
    order = 2

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_train_begin(self, trainer):
        if len(trainer.history):
            self._write(trainer.history)

    def on_epoch_end(self, trainer, epoch, logs):
        self._write(trainer.history)

    def _write(self, history):
        keys = sorted(k for k in history.keys() if k != "epoch")
        lines = [",".join(["epoch"] + keys)]
        cols = [history["epoch"]] + [history[k] for k in keys]
        for row in zip(*cols):
            lines.append(",".join("" if v is None else str(v) for v in row))
        text = "\n".join(lines) + "\n"

        def write(tmp):
            with open(tmp, "w") as fh:
                fh.write(text)
        serialization._atomic_write(self.path, write)


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda tr, e, logs: ...)``."""

    def __init__(self, **fns):
        for name, fn in fns.items():
            if not hasattr(Callback, name):
                raise ValueError(f"unknown callback hook {name!r}")
            setattr(self, name, fn)
