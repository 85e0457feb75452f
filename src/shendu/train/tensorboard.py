"""``TensorBoard``: a callback that logs a ``fit`` run to TensorBoard event files."""
import math
import numbers
import os

from .callbacks import Callback

__all__ = ["TensorBoard"]


class TensorBoard(Callback):
    """Log a run to ``writer`` (a :class:`shendu.utils.tensorboard.SummaryWriter`, or a
    log directory to open one in)::

        fit(model, loader, val, callbacks=[TensorBoard("runs/lenet")])

    After each epoch: every number of the epoch's row (``train_loss``, ``val_loss``,
    ``train_accuracy``, ``lr``, ...) as the scalar ``epoch/<key>``, and with
    ``histograms=True`` each parameter's values and gradients (``weights/<name>``,
    ``grads/<name>``). Every ``batch_every`` steps: the epoch's running loss and metrics
    as ``batch/<key>``. A writer opened here is closed at the end of training.
    """

    def __init__(self, writer, batch_every=10, histograms=True):
        if isinstance(writer, (str, bytes)) or hasattr(writer, "__fspath__"):
            from ..utils.tensorboard import SummaryWriter
            writer, self._owned = SummaryWriter(os.fspath(writer)), True
        else:
            self._owned = False
        self.writer = writer
        self.batch_every = batch_every
        self.histograms = histograms

    def on_batch_end(self, trainer, step, logs):
        if self.batch_every and step % self.batch_every == 0:
            for k, v in logs.items():
                if isinstance(v, numbers.Real) and math.isfinite(v):
                    self.writer.add_scalar(f"batch/{k}", v, step)

    def on_epoch_end(self, trainer, epoch, logs):
        for k, v in logs.items():
            if k != "epoch" and isinstance(v, numbers.Real) and math.isfinite(v):
                self.writer.add_scalar(f"epoch/{k}", v, epoch)
        if self.histograms:
            for name, p in trainer.model.named_parameters():
                if p.numel():
                    self.writer.add_histogram(f"weights/{name}", p, epoch)
                    if p.grad is not None:
                        self.writer.add_histogram(f"grads/{name}", p.grad, epoch)
        self.writer.flush()

    def on_train_end(self, trainer):
        self.writer.flush()
        if self._owned:
            self.writer.close()
