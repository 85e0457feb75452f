"""``DiagnosticsCallback``: the report's findings during ``shendu.train.fit``."""
import warnings

from ..train.callbacks import Callback
from .findings import find
from .stats import LayerStats
from .thresholds import DEFAULT

__all__ = ["DiagnosticsCallback", "DiagnosticWarning"]


class DiagnosticWarning(UserWarning):
    """A finding of shendu.diagnose during training (the message names the layer)."""


class DiagnosticsCallback(Callback):
    """Record the layers' statistics for ``window`` training steps at the start of training
    and again every ``every`` steps, and warn once per finding (kind and layer), naming the
    layer::

        fit(model, loader, callbacks=[DiagnosticsCallback(every=100)])

    ``findings``: every (step, Finding) seen; ``reports``: (step, layers, findings) of
    each window; ``log``: a function that receives each new finding's message instead
    of a :class:`DiagnosticWarning` (``log=print`` in the CLI); ``writer``: a :class:`shendu.utils.tensorboard.SummaryWriter` that also
    receives each layer's gradient and activation std and update ratio as scalars
    (``diagnose/<stat>/<layer>``). Between windows the model runs without hooks.
    """

    def __init__(self, every=100, window=1, thresholds=None, writer=None, warn=True,
                 log=None):
        if every < 1 or window < 1:
            raise ValueError(f"DiagnosticsCallback: every and window must be at least 1, got "
                             f"every={every}, window={window}")
        self.every, self.window = every, window
        self.thresholds = thresholds or DEFAULT
        self.writer = writer
        self.warn = warn
        self.log = log
        self.seen = set()
        self.findings = []
        self.reports = []
        self._rec = None
        self._left = 0

    def _start(self, trainer):
        self._rec = LayerStats(trainer.model,
                               saturation_derivative=self.thresholds.saturation_derivative,
                               grad_only=True)
        self._rec.attach()
        self._left = self.window

    def _stop(self):
        if self._rec is not None:
            self._rec.detach()
            self._rec = None

    def on_train_begin(self, trainer):
        self._start(trainer)

    def on_batch_end(self, trainer, step, logs):
        if self._rec is not None:
            self._rec.step()
            self._left -= 1
            if self._left == 0:
                rec = self._rec
                self._stop()
                self._conclude(trainer, step, rec)
        if self._rec is None and step % self.every == 0:
            self._start(trainer)

    def on_epoch_end(self, trainer, epoch, logs):
        if self._rec is not None and trainer.stop_training:
            self._stop()

    def on_train_end(self, trainer):
        self._stop()

    def on_exception(self, trainer, exception):
        self._stop()                # no hooks left on the model after a failed run

    def _conclude(self, trainer, step, rec):
        layers = rec.layers
        found = find(layers, rec.call_order, rec.input_std, self.thresholds)
        self.reports.append((step, layers, found))
        for f in found:
            self.findings.append((step, f))
            key = (f.kind, f.layer)
            if key in self.seen:
                continue
            self.seen.add(key)
            msg = f"shendu.diagnose at step {step}: {f}"
            if self.log is not None:
                self.log(msg)
            elif self.warn:
                warnings.warn(msg, DiagnosticWarning, stacklevel=2)
        if self.writer is not None:
            for name, r in layers.items():
                for stat in ("grad_out_norm", "grad_std", "act_std", "update_ratio",
                             "grad_norm", "dead_frac", "saturated_frac"):
                    v = getattr(r, stat)
                    if v is not None:
                        self.writer.add_scalar(f"diagnose/{stat}/{name or 'model'}", v, step)

    def state_dict(self):
        return {"seen": sorted(list(k) for k in self.seen)}

    def load_state_dict(self, state):
        self.seen = {tuple(k) for k in state.get("seen", [])}
