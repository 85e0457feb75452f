"""The training loop.

``fit`` trains for some epochs: for each batch, forward, loss, backward, (gradient
clipping), optimizer step; after each epoch, validation, the learning-rate schedule,
the history and the callbacks (checkpoints, early stopping, logging).

Checkpoints hold everything a run needs to continue exactly: model, optimizer and
scheduler state, the random-number generators, the epoch and step counters, the history
and the callbacks' state. ``resume`` restores them, so a run stopped after epoch k and
resumed produces the same losses as one that never stopped. ``ModelCheckpoint`` saves at
epoch boundaries; ``Trainer.save_checkpoint`` called from a batch callback saves mid-epoch,
and the resumed run finishes that epoch exactly: the same sampler order, the same random
state, the remaining batches only, and the epoch's running averages carried over.
"""
import math
import os
import time

import numpy as np

from .. import serialization, _random
from .._tensor import Tensor, _make
from ..autograd import grad_mode
from .history import History
from .metrics import MeanMetric, get_metric
from .progress import ProgressBar
from .callbacks import Callback, ModelCheckpoint

__all__ = ["Trainer", "fit", "evaluate", "predict"]


def _split_batch(batch):
    """(inputs, target) from a batch: (x, y), [x, y], {'input':..., 'target':...} or x."""
    if isinstance(batch, dict):
        return batch.get("input", batch.get("x")), batch.get("target", batch.get("y"))
    if isinstance(batch, (tuple, list)):
        if len(batch) == 2:
            return batch[0], batch[1]
        return tuple(batch[:-1]), batch[-1]
    return batch, None


def _size(x):
    t = x[0] if isinstance(x, (tuple, list)) else x
    return t.shape[0] if isinstance(t, Tensor) and t.dim() else 1


def _call(model, x):
    return model(*x) if isinstance(x, tuple) else model(x)


class Trainer:
    """Holds the pieces of a training run; ``fit`` is a thin wrapper around ``Trainer.fit``."""

    def __init__(self, model, optimizer, loss=None, scheduler=None, metrics=("accuracy",),
                 callbacks=(), grad_clip=None, progress=True, log=print):
        from .. import nn
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss if loss is not None else nn.CrossEntropyLoss()
        self.scheduler = scheduler
        self.metrics = [get_metric(m) for m in (metrics or ())]
        self.callbacks = list(callbacks)
        self.grad_clip = grad_clip
        self.progress = progress
        self.log = log or (lambda *a, **k: None)
        self.history = History()
        self.epoch = 0
        self.step = 0
        self.stop_training = False
        self.loaders = []
        self.meta = {}          # free-form facts stored in checkpoints (the CLI's dataset, ...)
        self._epoch_state = None    # inside an epoch: where it started and what it has done
        self._resume_epoch = None   # a mid-epoch checkpoint's progress, for the next epoch

    # ---------------------------------------------------------------- one epoch
    def _loader_rng(self):
        gens = [getattr(ld, "generator", None) if ld is not None else None
                for ld in self.loaders]
        return [g.get_state() if g is not None else None for g in gens]

    def _set_loader_rng(self, states):
        for ld, st in zip(self.loaders, states or []):
            gen = getattr(ld, "generator", None) if ld is not None else None
            if gen is not None and st is not None:
                gen.set_state(st)

    def _epoch_batches(self, loader, resume):
        """An iterator over the epoch's batches. Resuming mid-epoch, the random state is put
        back to the epoch's start, the batches already trained on are drawn again and
        dropped (so samplers and worker seeds follow the same path), then the random state
        is set to the checkpoint's."""
        if resume is None:
            return iter(loader)
        now_rng, now_loaders = _random.get_rng_state(), self._loader_rng()
        _random.set_rng_state(resume["start_rng"])
        self._set_loader_rng(resume["start_loader_rng"])
        it = iter(loader)
        for _ in range(resume["batches"]):
            next(it)
        _random.set_rng_state(now_rng)
        self._set_loader_rng(now_loaders)
        return it

    def train_epoch(self, loader):
        self.model.train()
        _set_epoch(loader, self.epoch)
        loss_m = MeanMetric()
        ms = {m.__name__: MeanMetric() for m in self.metrics}
        resume, self._resume_epoch = self._resume_epoch, None
        st = self._epoch_state = {"batches": 0, "loss": loss_m, "metrics": ms,
                                  "start_rng": _random.get_rng_state(),
                                  "start_loader_rng": self._loader_rng()}
        if resume is not None:
            st.update(batches=resume["batches"], start_rng=resume["start_rng"],
                      start_loader_rng=resume["start_loader_rng"])
            loss_m.total, loss_m.count = resume["loss"]
            for k, (tot, cnt) in resume["metrics"].items():
                if k in ms:
                    ms[k].total, ms[k].count = tot, cnt
        total = len(loader) if hasattr(loader, "__len__") else None
        bar = ProgressBar(total or 0, f"epoch {self.epoch}", enabled=self.progress)
        try:
            for batch in self._epoch_batches(loader, resume):
                x, y = _split_batch(batch)
                n = _size(x)
                self.optimizer.zero_grad()
                out = _call(self.model, x)
                loss = self.loss_fn(out, y) if y is not None else self.loss_fn(out)
                if not math.isfinite(loss.item()):
                    raise FloatingPointError(
                        f"the training loss became {loss.item()} at epoch {self.epoch}, step "
                        f"{self.step}: lower the learning rate, clip gradients (grad_clip=) or "
                        f"check the inputs")
                loss.backward()
                if self.grad_clip is not None:
                    from ..nn.utils import clip_grad_norm_
                    clip_grad_norm_(self.model.parameters(), self.grad_clip)
                if getattr(self.optimizer, "_needs_closure", False):    # L-BFGS re-evaluates
                    self.optimizer.step(lambda: self._closure(x, y))
                else:
                    self.optimizer.step()
                self.step += 1
                st["batches"] += 1
                loss_m.update(loss.item(), n)
                logs = {"loss": loss_m.value}
                with grad_mode.no_grad():
                    for m in self.metrics:
                        ms[m.__name__].update(m(out.detach(), y), n)
                        logs[m.__name__] = ms[m.__name__].value
                bar.update(n, **logs)
                for cb in self.callbacks:
                    cb.on_batch_end(self, self.step, logs)
        finally:
            bar.close()
            self._epoch_state = None
        _sum_over_processes([loss_m, *ms.values()])
        return {"loss": loss_m.value, **{k: v.value for k, v in ms.items()}}

    def _closure(self, x, y):
        self.optimizer.zero_grad()
        out = _call(self.model, x)
        loss = self.loss_fn(out, y) if y is not None else self.loss_fn(out)
        loss.backward()
        return loss

    def evaluate(self, loader):
        return evaluate(self.model, loader, self.loss_fn, self.metrics)

    # ---------------------------------------------------------------- the run
    def fit(self, train_loader, val_loader=None, epochs=1, checkpoint=None, resume=None):
        self.loaders = [train_loader, val_loader]
        if checkpoint is not None and not any(isinstance(c, ModelCheckpoint) for c in self.callbacks):
            self.callbacks.append(ModelCheckpoint(checkpoint,
                                                  monitor="val_loss" if val_loader else None))
        if _rank():         # data-parallel: rank 0 alone prints and writes files
            self.progress, self.log = False, (lambda *a, **k: None)
            self.callbacks = [c for c in self.callbacks if not getattr(c, "rank_zero_only", 0)]
        if resume:
            self.load_checkpoint(resume)
            where = f"epoch {self.epoch}" if self._resume_epoch is None else \
                f"epoch {self.epoch + 1}, batch {self._resume_epoch['batches']}"
            self.log(f"resumed from {resume} at {where} (step {self.step})")
        for cb in self.callbacks:
            cb.on_train_begin(self)
        try:
            while self.epoch < epochs and not self.stop_training:
                self.epoch += 1
                if self._resume_epoch is None:      # (a resumed epoch has begun already)
                    for cb in self.callbacks:
                        cb.on_epoch_begin(self, self.epoch)
                t0 = time.perf_counter()
                tr = self.train_epoch(train_loader)
                row = {"epoch": self.epoch, "train_loss": tr["loss"]}
                row.update({f"train_{k}": v for k, v in tr.items() if k != "loss"})
                if val_loader is not None:
                    va = self.evaluate(val_loader)
                    row["val_loss"] = va["loss"]
                    row.update({f"val_{k}": v for k, v in va.items() if k != "loss"})
                if "train_accuracy" in row:
                    row["train_error"] = 1 - row["train_accuracy"]
                    if "val_accuracy" in row:
                        row["val_error"] = 1 - row["val_accuracy"]
                        row["generalization_gap"] = row["val_error"] - row["train_error"]
                row["lr"] = self.optimizer.param_groups[0]["lr"]
                self._schedule(row)
                row["epoch_time"] = time.perf_counter() - t0
                self.history.append(row)
                self.log(_epoch_line(row))
                # checkpoints late, so they hold every other callback's state for this epoch;
                # the CSV log after them (``Callback.order``)
                for cb in sorted(self.callbacks, key=lambda c: getattr(c, "order", 0)):
                    cb.on_epoch_end(self, self.epoch, row)
        except KeyboardInterrupt:
            self.history.interrupted = True
            self.log(f"\ninterrupted during epoch {self.epoch}; the last checkpoint holds epoch "
                     f"{self.epoch - 1} — continue with resume=<checkpoint>")
        except Exception as e:
            for cb in self.callbacks:
                getattr(cb, "on_exception", lambda *a: None)(self, e)
            raise
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _schedule(self, row):
        s = self.scheduler
        if s is None:
            return
        if type(s).__name__ == "ReduceLROnPlateau":
            s.step(row.get("val_loss", row["train_loss"]))
        else:
            s.step()

    # ---------------------------------------------------------------- checkpoints
    @property
    def bare_model(self):
        """The model without a DistributedDataParallel wrapper (whose keys it saves)."""
        from ..nn.parallel import DistributedDataParallel
        return self.model.module if isinstance(self.model, DistributedDataParallel) else self.model

    def state_dict(self):
        """The whole run. Taken inside an epoch (from a batch callback), ``epoch`` is the
        epoch under way and ``epoch_progress`` says how far it got: batches done, the running
        loss and metric sums, and the random state at the epoch's start."""
        st, progress = self._epoch_state, None
        if st is not None:
            progress = {"batches": st["batches"], "loss": [st["loss"].total, st["loss"].count],
                        "metrics": {k: [m.total, m.count] for k, m in st["metrics"].items()},
                        "start_rng": st["start_rng"],
                        "start_loader_rng": st["start_loader_rng"]}
        return {
            "model": self.bare_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "rng": _random.get_rng_state(),
            "loader_rng": self._loader_rng(),
            "epoch": self.epoch,
            "epoch_progress": progress,
            "step": self.step,
            "history": self.history.state_dict(),
            "callbacks": [{"type": type(cb).__name__, "state": cb.state_dict()}
                          for cb in self.callbacks],
            "model_spec": getattr(self.bare_model, "zoo_spec", None),
            "meta": self.meta,
        }

    def load_state_dict(self, state):
        """Restore a run. A model that does not fit the checkpoint (another architecture,
        other sizes) is reported with every mismatched key and shape, and nothing is changed:
        the model is put back if any part of the state fails to load."""
        model = self.bare_model
        backup = {k: v.clone() for k, v in model.state_dict().items()}
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as e:
            model.load_state_dict(backup)
            spec = state.get("model_spec")
            built = f" (it was saved from {_spec_str(spec)})" if spec else ""
            raise RuntimeError(f"the checkpoint does not fit this model{built}: {e}") from None
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, RuntimeError) as e:
            model.load_state_dict(backup)
            raise type(e)(f"the checkpoint's optimizer state does not fit this optimizer: "
                          f"{e}") from None
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        _random.set_rng_state(state["rng"])
        self._set_loader_rng(state.get("loader_rng"))
        self.epoch, self.step = state["epoch"], state["step"]
        self._resume_epoch = state.get("epoch_progress")
        if self._resume_epoch is not None:      # fit's loop enters the unfinished epoch again
            self.epoch -= 1
        self.history.load_state_dict(state["history"])
        saved = list(state.get("callbacks") or [])
        for cb in self.callbacks:       # each callback takes the next saved state of its type
            i = next((i for i, st in enumerate(saved) if st.get("type") == type(cb).__name__),
                     None)
            if i is not None:
                cb.load_state_dict(saved.pop(i)["state"])
        self.meta = dict(state.get("meta") or {}, **self.meta)

    def save_checkpoint(self, path):
        serialization.save(self.state_dict(), path)

    def load_checkpoint(self, path):
        state = serialization.load(path)
        missing = [k for k in ("model", "optimizer", "rng", "epoch") if k not in state]
        if missing:
            raise RuntimeError(f"{path} is not a training checkpoint (missing {missing}); a "
                               f"plain state_dict loads with model.load_state_dict(shendu.load(path))")
        try:
            self.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError) as e:
            raise type(e)(f"{path}: {e.args[0] if e.args else e}") from None


def _rank():
    from .. import distributed as dist
    return dist.get_rank() if dist.is_initialized() else 0


def _set_epoch(loader, epoch):
    """A DistributedSampler shuffles by epoch: tell it which one this is."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def _sum_over_processes(means):
    """Data-parallel: make each MeanMetric the mean over every process's samples."""
    from .. import distributed as dist
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    sums = _make(np.array([v for m in means for v in (m.total, m.count)], np.float64), None, 0)
    dist.all_reduce(sums)
    for m, (total, count) in zip(means, sums.numpy().reshape(-1, 2)):
        m.total, m.count = float(total), int(count)


def _spec_str(spec):
    kw = ", ".join(f"{k}={v!r}" for k, v in (spec.get("kwargs") or {}).items())
    return f"{spec.get('name')}({kw})"


def _epoch_line(row):
    parts = [f"epoch {row['epoch']}"]
    for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "generalization_gap",
              "lr", "epoch_time"):
        if row.get(k) is not None:
            v = row[k]
            parts.append(f"{k}={v:.4g}" if k != "epoch_time" else f"time={v:.1f}s")
    return "  ".join(parts)


def fit(model, train_loader, val_loader=None, optimizer=None, loss=None, epochs=1,
        scheduler=None, metrics=("accuracy",), callbacks=(), checkpoint=None, resume=None,
        grad_clip=None, progress=True, log=print):
    """Train ``model`` and return its :class:`History`.

    ``optimizer`` defaults to SGD(lr=0.01, momentum=0.9), ``loss`` to cross-entropy.
    ``checkpoint``: a path where the full training state is written after every epoch
    (and the best weights next to it); ``resume``: a checkpoint to continue from.
    ``grad_clip``: a max gradient norm. Ctrl-C stops training cleanly after saving nothing
    half-written; the history so far is returned with ``history.interrupted = True``.
    """
    if optimizer is None:
        from ..optim import SGD
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    tr = Trainer(model, optimizer, loss, scheduler, metrics, callbacks, grad_clip, progress, log)
    return tr.fit(train_loader, val_loader, epochs, checkpoint, resume)


def evaluate(model, loader, loss=None, metrics=("accuracy",)):
    """Average loss and metrics over ``loader`` in eval mode without building graphs."""
    from .. import nn
    loss_fn = loss if loss is not None else nn.CrossEntropyLoss()
    mets = [get_metric(m) for m in (metrics or ())]
    was = model.training
    model.eval()
    loss_m = MeanMetric()
    ms = {m.__name__: MeanMetric() for m in mets}
    try:
        with grad_mode.no_grad():
            for batch in loader:
                x, y = _split_batch(batch)
                n = _size(x)
                out = _call(model, x)
                loss_m.update((loss_fn(out, y) if y is not None else loss_fn(out)).item(), n)
                for m in mets:
                    ms[m.__name__].update(m(out, y), n)
    finally:
        model.train(was)
    return {"loss": loss_m.value, **{k: v.value for k, v in ms.items()}}


def predict(model, data, batch_size=256):
    """Model outputs for a tensor (in batches) or for every batch of a loader, concatenated."""
    from .._ops.shape import cat
    was = model.training
    model.eval()
    outs = []
    try:
        with grad_mode.no_grad():
            if isinstance(data, Tensor):
                for i in range(0, data.shape[0], batch_size):
                    outs.append(model(data[i:i + batch_size]))
            else:
                for batch in data:
                    x, _ = _split_batch(batch)
                    outs.append(_call(model, x))
    finally:
        model.train(was)
    return cat(outs, 0)
