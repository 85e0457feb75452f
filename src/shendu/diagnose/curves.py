"""``curves(history)``: the run as a whole — under-fitted, over-fitted, diverging,
oscillating or stalled — each verdict with the numbers that led to it.

The notes' definitions (seed 001, "some concepts of neural networks"): *under-fitting*:
"the model cannot reach a low training error"; *over-fitting*: "the training error is
far below the error on the test data"; "too many iterations easily over-fit, too few
under-fit"; and (9) "a learning rate that is not small enough gives ever larger
gradients, one that is too small makes no progress". Each rule below turns one of these
into a test on the per-epoch history; its threshold is a field of
:class:`CurveThresholds`.

- ``diverging`` (learning rate too high): a loss that is not finite; or a final training
  loss more than ``diverge_rise`` above its best (and not at its best any more); or a
  first epoch whose mean loss is more than ``early_blowup`` × the lowest later loss while
  the later half of the run is flat (within ``flat``) at a high training error — the
  first steps blew the weights up and the network stopped learning (dead units), which
  per-epoch means show only this way.
- ``oscillating`` (learning rate too high): the epoch-mean training loss rose by more
  than ``oscillation_spike`` between two epochs (an epoch mean hardly ever rises at a
  sound learning rate), or rose (by more than ``rise_tol``) in at least
  ``oscillation_rises`` of the epoch-to-epoch changes.
- ``stalled`` (learning rate too low): the training loss fell by less than ``stall_drop``
  of its first value over the whole run.
- ``underfitting``: the final training error is above ``underfit_error`` (needs an
  accuracy) in a run that is neither diverging nor oscillating (there the learning rate
  is the cause); the advice depends on whether the loss is still falling.
- ``overfitting``: the validation loss turned — its minimum is before the last epoch and
  it ended more than ``overfit_rise`` above it while the training loss kept falling — or
  the final generalization gap (validation error minus training error) is above
  ``overfit_gap`` and above half the training error ("far below": a model with 75 %
  training error and 82 % validation error is under-fitted, not over-fitted) in a run that is not oscillating or diverging (there the gap says more
  about the instability than about over-fitting). The verdict names the epoch where the
  validation loss was lowest.
"""
import math
from dataclasses import dataclass, field

__all__ = ["curves", "CurveThresholds", "Verdict", "CurveReport"]


@dataclass(frozen=True)
class CurveThresholds:
    diverge_rise: float = 0.5
    early_blowup: float = 1.5
    flat: float = 0.05
    oscillation_spike: float = 0.05
    oscillation_rises: float = 0.3
    rise_tol: float = 0.01
    stall_drop: float = 0.05
    underfit_error: float = 0.1
    overfit_rise: float = 0.05
    overfit_gap: float = 0.05


@dataclass
class Verdict:
    """``kind``: diverging, oscillating, stalled, underfitting or overfitting; ``evidence``:
    the numbers behind it; ``epoch``: for overfitting, the epoch with the lowest
    validation loss (where it turned); ``advice``: what to do."""
    kind: str
    message: str
    advice: str
    evidence: dict = field(default_factory=dict)
    epoch: int = None

    def __str__(self):
        return f"{self.kind}: {self.message} — {self.advice}"


class CurveReport:
    """The verdicts on one history (empty: the curves look healthy)."""

    def __init__(self, verdicts, epochs):
        self.verdicts = verdicts
        self.epochs = epochs

    @property
    def kinds(self):
        return {v.kind for v in self.verdicts}

    def __getitem__(self, kind):
        for v in self.verdicts:
            if v.kind == kind:
                return v
        raise KeyError(f"no {kind!r} verdict; the verdicts are {sorted(self.kinds)}")

    def __contains__(self, kind):
        return kind in self.kinds

    def __iter__(self):
        return iter(self.verdicts)

    def __len__(self):
        return len(self.verdicts)

    def __str__(self):
        if not self.verdicts:
            return (f"{self.epochs} epochs: no verdict — the loss fell steadily and the "
                    f"validation curve follows the training curve")
        return "\n".join([f"{self.epochs} epochs:"] + [f"  - {v}" for v in self.verdicts])

    __repr__ = __str__


def _column(history, key):
    src = history.history if hasattr(history, "history") else history
    col = src.get(key) if hasattr(src, "get") else None
    if col is None:
        return None
    col = [None if v is None else float(v) for v in col]
    return col if any(v is not None for v in col) else None


def _r(x):
    return round(x, 4) if isinstance(x, float) and math.isfinite(x) else x


def curves(history, thresholds=None):
    """Verdicts on a training history (:class:`shendu.train.History` or a dict of per-epoch
    lists with ``train_loss`` and optionally ``val_loss``, ``train_accuracy``,
    ``val_accuracy``, ``epoch``). Returns a :class:`CurveReport`."""
    th = thresholds or CurveThresholds()
    tl = _column(history, "train_loss")
    if tl is None:
        raise ValueError("curves: the history has no 'train_loss'")
    n = len(tl)
    ep = _column(history, "epoch") or list(range(1, n + 1))
    ep = [int(e) if e is not None else i + 1 for i, e in enumerate(ep)]
    vl = _column(history, "val_loss")
    ta = _column(history, "train_accuracy")
    va = _column(history, "val_accuracy")
    out = []

    finite = [v for v in tl if v is not None and math.isfinite(v)]
    bad = [ep[i] for i, v in enumerate(tl) if v is not None and not math.isfinite(v)]
    diverging = False
    if bad:
        out.append(Verdict("diverging", f"the training loss became {tl[ep.index(bad[0])]} at "
                           f"epoch {bad[0]}", "lower the learning rate or clip gradients",
                           {"first_nonfinite_epoch": bad[0]}))
        diverging = True
    elif len(finite) >= 2:
        best = min(finite)
        ib = tl.index(best)
        if ib < n - 1 and tl[-1] > best * (1 + th.diverge_rise):
            out.append(Verdict(
                "diverging", f"the training loss rose from its best {best:.4g} (epoch "
                f"{ep[ib]}) to {tl[-1]:.4g}, {tl[-1] / best - 1:.0%} above it",
                "lower the learning rate", {"best_train_loss": _r(best), "best_epoch": ep[ib],
                                            "last_train_loss": _r(tl[-1]),
                                            "rise": _r(tl[-1] / best - 1)}))
            diverging = True

    seq = [v for v in tl if v is not None]
    terr = 1 - ta[-1] if ta is not None and ta[-1] is not None else None
    if not diverging and len(seq) >= 4:
        later = seq[1:]
        tail = seq[len(seq) // 2:]
        spread = (max(tail) - min(tail)) / min(tail) if min(tail) > 0 else math.inf
        ratio = seq[0] / min(later) if min(later) > 0 else math.inf
        if ratio > th.early_blowup and spread < th.flat and \
                (terr is None or terr > th.underfit_error):
            out.append(Verdict(
                "diverging", f"the first epoch's mean training loss {seq[0]:.4g} is "
                f"{ratio:.3g}× the lowest later one, and the second half of the run is flat "
                f"at {tail[-1]:.4g} (within {spread:.1%})" + (
                    f" with {terr:.0%} training error" if terr is not None else "") +
                ": the first steps blew the weights up and the network stopped learning",
                "lower the learning rate (try shendu.diagnose.lr_find) and start again",
                {"first_train_loss": _r(seq[0]), "blowup_ratio": _r(ratio),
                 "late_spread": _r(spread), "last_train_loss": _r(tail[-1]),
                 **({"train_error": _r(terr)} if terr is not None else {})}))
            diverging = True
    if not diverging and len(seq) >= 3:
        changes = [(b - a) / abs(a) if a else 0.0 for a, b in zip(seq, seq[1:])]
        rises = [c for c in changes if c > th.rise_tol]
        frac = len(rises) / len(changes)
        if frac >= th.oscillation_rises or (rises and max(rises) > th.oscillation_spike):
            i = changes.index(max(changes))
            out.append(Verdict(
                "oscillating", f"the training loss rose in {len(rises)} of {len(changes)} "
                f"epoch-to-epoch changes; the largest rise is {max(rises):.1%} (epoch "
                f"{ep[i]} → {ep[i + 1]})",
                "lower the learning rate (or use a schedule that decays it)",
                {"rises": len(rises), "changes": len(changes), "rise_fraction": _r(frac),
                 "largest_rise": _r(max(rises)), "largest_rise_epoch": ep[i + 1]}))
        else:
            drop = (seq[0] - seq[-1]) / abs(seq[0]) if seq[0] else 0.0
            if drop < th.stall_drop:
                out.append(Verdict(
                    "stalled", f"the training loss fell only {drop:.1%} over {n} epochs "
                    f"({seq[0]:.4g} → {seq[-1]:.4g})",
                    "raise the learning rate (try shendu.diagnose.lr_find)",
                    {"first_train_loss": _r(seq[0]), "last_train_loss": _r(seq[-1]),
                     "drop": _r(drop)}))

    gap = None
    unstable = any(v.kind in ("diverging", "oscillating") for v in out)
    if terr is not None:
        verr = 1 - va[-1] if va is not None and va[-1] is not None else None
        gap = verr - terr if verr is not None else None
        if terr > th.underfit_error and not unstable:
            still = len(seq) >= 2 and (seq[-2] - seq[-1]) / abs(seq[-2]) > 0.05
            advice = ("train for more epochs: the training loss is still falling"
                      if still else "use a bigger model (more units or layers), train "
                      "longer, or reduce regularisation")
            ev = {"train_error": _r(terr)}
            if verr is not None:
                ev.update(val_error=_r(verr), generalization_gap=_r(gap))
            out.append(Verdict("underfitting", f"the training error is still {terr:.1%} "
                               f"after {n} epochs" + (f" (validation {verr:.1%})"
                                                       if verr is not None else ""),
                               advice, ev))

    if vl is not None:
        vals = [(i, v) for i, v in enumerate(vl) if v is not None and math.isfinite(v)]
        turned = None
        if len(vals) >= 3:
            i_min, v_min = min(vals, key=lambda p: p[1])
            last_i, last_v = vals[-1]
            train_fell = (tl[last_i] is not None and tl[i_min] is not None
                          and tl[last_i] < tl[i_min])
            if i_min < last_i and last_v > v_min * (1 + th.overfit_rise) and train_fell:
                turned = (i_min, v_min, last_v)
        wide = (gap is not None and gap > th.overfit_gap and gap > terr / 2
                and not unstable)
        if turned or wide:
            ev = {}
            msg = []
            epoch = None
            if turned:
                i_min, v_min, last_v = turned
                epoch = ep[i_min]
                ev.update(best_val_loss=_r(v_min), turn_epoch=epoch, last_val_loss=_r(last_v),
                          val_rise=_r(last_v / v_min - 1))
                msg.append(f"the validation loss turned at epoch {epoch} ({v_min:.4g}) and "
                           f"rose to {last_v:.4g} while the training loss kept falling")
            if gap is not None:
                ev.update(generalization_gap=_r(gap), train_error=_r(terr))
                if wide:
                    msg.append(f"the validation error is {gap:.1%} above the training error "
                               f"({terr:.1%})")
            if epoch is None and vals:
                i_min, v_min = min(vals, key=lambda p: p[1])
                epoch = ep[i_min]
                ev.update(best_val_loss=_r(v_min), turn_epoch=epoch)
                msg.append(f"the validation loss was lowest at epoch {epoch} ({v_min:.4g})")
            out.append(Verdict("overfitting", "; ".join(msg),
                               "stop earlier (EarlyStopping), add data or augmentation, "
                               "weight decay or dropout, or use a smaller model", ev, epoch))
    return CurveReport(out, n)
