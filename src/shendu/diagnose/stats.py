"""Per-layer statistics of a training run, recorded through module and tensor hooks.

``LayerStats(model)`` hooks every *layer* of ``model`` — each module without children, and
each module holding parameters of its own — and records, for whatever steps the caller
runs:

- forward: the mean and standard deviation of each layer's output, the fraction of zero
  outputs and of units that never fired (ReLU, ReLU6), the fraction of saturated outputs
  (Sigmoid, Tanh), and non-finite values;
- backward: the mean and standard deviation of the gradient of the loss with respect to
  each layer's output, per element, and its L2 norm per example — the backward signal
  the notes' "gradient flow" is about (002 §3.1.5) — through a tensor hook on the
  output, so nothing else of the backward pass changes;
- at ``step()``: the norm of each layer's parameter gradients, the norm of its weights and
  the update/weight ratio ``||W_after - W_before|| / ||W_before||`` of the optimizer step.

Usage::

    with LayerStats(model) as rec:
        for x, y in batches:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            rec.step()              # after backward (and the optimizer), before zero_grad
    for name, r in rec.layers.items():          # depth order (first forward call)
        print(name, r.act_std, r.grad_std, r.grad_norm, r.update_ratio)

A forward-only recording (no backward) needs no ``step()``: the pending step is closed
when ``layers`` is read. Each :class:`LayerRecord` holds the mean over the recorded steps
and, in ``series``, one value per step.
"""
import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..autograd import grad_mode
from ..summary import _first_tensor

__all__ = ["LayerStats", "LayerRecord", "layer_role"]

_RELU = ("ReLU", "ReLU6")
_SATURATING = {"Sigmoid": "sigmoid", "Tanh": "tanh"}
_SERIES = ("act_mean", "act_std", "zero_frac", "saturated_frac", "nonfinite", "grad_mean",
           "grad_std", "grad_out_norm", "grad_nonfinite", "grad_norm", "weight_norm",
           "update_ratio")


def layer_role(module):
    """'relu', 'saturating', 'norm', 'weighted' (has parameters of its own) or 'other'."""
    name = type(module).__name__
    if name in _RELU:
        return "relu"
    if name in _SATURATING:
        return "saturating"
    if "Norm" in name and name != "LocalResponseNorm":
        return "norm"
    if any(p is not None for p in module._parameters.values()):
        return "weighted"
    return "other"


@dataclass
class LayerRecord:
    """One layer's statistics: means over the recorded steps (None where not measured).

    ``act_*``: the layer's output; ``grad_mean``/``grad_std``: the gradient of the loss
    w.r.t. that output, per element; ``grad_out_norm``: its L2 norm per example
    (sqrt(sum of squares / batch size)) — the backward signal the findings judge;
    ``grad_norm``: the L2 norm of the gradients of the layer's own
    parameters; ``update_ratio``: ``||ΔW|| / ||W||`` of one optimizer step; ``zero_frac``
    and ``dead_frac`` (ReLU): zero outputs, and units (features, or channels of an
    (N, C, ...) output) that never fired in any recorded batch; ``saturated_frac``
    (Sigmoid/Tanh): outputs whose local derivative is below ``saturation_derivative`` of
    its peak; ``nonfinite``: NaN/inf values in the output per step.
    """
    name: str
    type: str
    role: str
    index: int
    shape: tuple = ()
    params: int = 0
    after: str = None          # the nearest weighted layer called before this one
    act_mean: float = None
    act_std: float = None
    zero_frac: float = None
    dead_frac: float = None
    saturated_frac: float = None
    nonfinite: float = None
    grad_mean: float = None
    grad_std: float = None
    grad_out_norm: float = None
    grad_nonfinite: float = None
    grad_norm: float = None
    weight_norm: float = None
    update_ratio: float = None
    steps: int = 0
    series: dict = field(default_factory=dict, repr=False)

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "series"}


class _Acc:
    """Sums for one layer over one step (a layer may run several times per step)."""
    __slots__ = ("n", "s1", "s2", "zeros", "sat", "bad", "gn", "g1", "g2", "gbad", "gex",
                 "calls")

    def __init__(self):
        self.n = self.s1 = self.s2 = self.zeros = self.sat = self.bad = 0
        self.gn = self.g1 = self.g2 = self.gbad = self.gex = 0
        self.calls = 0


def _sums(a):
    """(count, sum, sum of squares, non-finite count) of an array, in float64, finite part."""
    a = np.asarray(a, dtype=np.float64)
    fin = np.isfinite(a)
    bad = a.size - int(np.count_nonzero(fin))
    if bad:
        a = a[fin]
    return a.size, float(a.sum()), float(np.square(a).sum()), bad


def _norm(arrays):
    """The L2 norm of several arrays taken together, in float64."""
    return math.sqrt(sum(float(np.square(a, dtype=np.float64).sum()) for a in arrays))


def _mean_std(n, s1, s2):
    if not n:
        return None, None
    m = s1 / n
    return m, math.sqrt(max(s2 / n - m * m, 0.0))


class LayerStats:
    """Record per-layer forward/backward statistics of ``model`` (see the module docstring).

    ``backward=False`` skips the gradient hooks; ``updates=False`` skips the weight
    snapshot the update/weight ratio needs; ``saturation_derivative``: a Sigmoid/Tanh
    output counts as saturated where the activation's derivative is below this fraction of
    its peak (0.25 for sigmoid, 1 for tanh); ``grad_only``: ignore forward passes run
    with gradients off (a validation pass inside the recorded steps).
    """

    def __init__(self, model, backward=True, updates=True, saturation_derivative=0.05,
                 grad_only=False):
        self.model = model
        self.grad_only = grad_only
        self.backward = backward
        self.updates = updates
        self.saturation_derivative = saturation_derivative
        self.input_std = None          # std of the model's input, mean over steps
        self._input_stds = []
        self._input_acc = None
        self._handles = []
        self._acc = {}                 # name -> _Acc for the open step
        self._records = {}             # name -> LayerRecord
        self._fired = {}               # name -> {units: bool array}
        self._order = []               # call order of the first recorded step
        self._seen_order = set()
        self._snapshot = None
        self._pending = False
        self.steps = 0
        self.layers_by_name = OrderedDict(
            (n, m) for n, m in model.named_modules()
            if not m._modules or any(p is not None for p in m._parameters.values()))

    # ------------------------------------------------------------------ attach / detach
    def attach(self):
        """Install the hooks (and snapshot the weights); ``with LayerStats(m)`` does this."""
        if self._handles:
            return self
        self._handles.append(self.model.register_forward_pre_hook(self._input_hook))
        for name, m in self.layers_by_name.items():
            self._handles.append(m.register_forward_hook(self._make_hook(name)))
        if self.updates:
            self._snapshot = self._weights()
        return self

    def detach(self):
        """Remove the hooks; the statistics recorded so far stay readable."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self):
        return self.attach()

    def __exit__(self, *exc):
        self.detach()
        return False

    # ------------------------------------------------------------------ hooks
    def _input_hook(self, module, args):
        if self.grad_only and not grad_mode.is_grad_enabled():
            return
        t = _first_tensor(args)
        if t is not None and t.is_floating_point():
            n, s1, s2, _ = _sums(t._data)
            if self._input_acc is None:
                self._input_acc = [0, 0.0, 0.0]
            self._input_acc[0] += n
            self._input_acc[1] += s1
            self._input_acc[2] += s2

    def _make_hook(self, name):
        def hook(module, args, out):
            self._forward(name, module, out)
        return hook

    def _forward(self, name, module, out):
        t = _first_tensor(out)
        if t is None or not t.is_floating_point() or \
                (self.grad_only and not grad_mode.is_grad_enabled()):
            return
        self._pending = True
        acc = self._acc.get(name)
        if acc is None:
            acc = self._acc[name] = _Acc()
        if name not in self._seen_order:
            self._seen_order.add(name)
            self._order.append(name)
        rec = self._records.get(name)
        if rec is None:
            rec = self._records[name] = LayerRecord(
                name, type(module).__name__, layer_role(module), len(self._records),
                params=sum(p.numel() for p in module._parameters.values() if p is not None),
                after=self._last_weighted())
        rec.shape = tuple(t.shape)
        a = t._data
        n, s1, s2, bad = _sums(a)
        acc.n += n
        acc.s1 += s1
        acc.s2 += s2
        acc.bad += bad
        acc.calls += 1
        if rec.role == "relu":
            pos = a > 0
            acc.zeros += a.size - int(np.count_nonzero(pos))
            if a.ndim >= 2:
                axes = (0,) + tuple(range(2, a.ndim))
                fired = pos.any(axis=axes)
                table = self._fired.setdefault(name, {})
                prev = table.get(fired.size)
                table[fired.size] = fired if prev is None else (prev | fired)
        elif rec.role == "saturating":
            y = np.asarray(a, dtype=np.float64)
            if _SATURATING[rec.type] == "sigmoid":
                deriv = y * (1 - y) / 0.25
            else:
                deriv = 1 - y * y
            acc.sat += int(np.count_nonzero(deriv < self.saturation_derivative))
        if self.backward and t.requires_grad and grad_mode.is_grad_enabled():
            t.register_hook(self._make_grad_hook(acc))

    def _last_weighted(self):
        for n in reversed(self._order[:-1]):
            r = self._records.get(n)
            if r is not None and r.role == "weighted":
                return n
        return None

    @staticmethod
    def _make_grad_hook(acc):
        def hook(g):
            n, s1, s2, bad = _sums(g._data)
            acc.gn += n
            acc.g1 += s1
            acc.g2 += s2
            acc.gbad += bad
            acc.gex += g.shape[0] if g.dim() else 1
        return hook

    # ------------------------------------------------------------------ steps
    def _trained(self, module):
        return [p for p in module._parameters.values() if p is not None and p.requires_grad]

    def _weights(self):
        """Copies of each layer's trainable parameters (frozen ones are never 'updated')."""
        return {name: [p._data.copy() for p in self._trained(m)]
                for name, m in self.layers_by_name.items() if self._trained(m)}

    def step(self):
        """Close one training step: fold the step's sums into per-step values and read the
        parameter gradients and the weights' change since the previous step."""
        values = {}
        for name, acc in self._acc.items():
            rec = self._records[name]
            mean, std = _mean_std(acc.n, acc.s1, acc.s2)
            gmean, gstd = _mean_std(acc.gn, acc.g1, acc.g2)
            total = acc.n + acc.bad
            values[name] = {
                "act_mean": mean, "act_std": std,
                "zero_frac": acc.zeros / total if rec.role == "relu" and total else None,
                "saturated_frac": acc.sat / total if rec.role == "saturating" and total
                else None,
                "nonfinite": acc.bad / total if total else 0.0,
                "grad_mean": gmean, "grad_std": gstd,
                "grad_out_norm": math.sqrt(acc.g2 / acc.gex) if acc.gex else None,
                "grad_nonfinite": (acc.gbad / (acc.gn + acc.gbad)) if acc.gn + acc.gbad
                else None,
            }
        now = self._weights() if self.updates else None
        for name, m in self.layers_by_name.items():
            if name not in values and name not in self._records:
                continue
            v = values.setdefault(name, {})
            params = [p for p in m._parameters.values() if p is not None]
            if params:
                grads = [p.grad._data for p in params if p.grad is not None]
                v["grad_norm"] = _norm(grads) if grads else None
                v["weight_norm"] = _norm(p._data for p in params)
                if now is not None and self._snapshot is not None and name in self._snapshot:
                    before = self._snapshot[name]
                    bn = _norm(before)
                    dn = _norm(x.astype(np.float64) - b for x, b in zip(now[name], before))
                    v["update_ratio"] = dn / bn if bn > 0 else None
        if self.updates:
            self._snapshot = now
        for name, v in values.items():
            rec = self._records.get(name)
            if rec is None:
                continue
            for k in _SERIES:
                rec.series.setdefault(k, []).append(v.get(k))
            rec.steps += 1
        if self._input_acc is not None:
            self._input_stds.append(_mean_std(*self._input_acc)[1])
            self._input_acc = None
        self._acc = {}
        self._pending = False
        self.steps += 1
        return self

    @property
    def layers(self):
        """name -> :class:`LayerRecord` in depth order (first forward call), means over steps."""
        if self._pending:
            self.step()
        out = OrderedDict()
        for name in self._order:
            rec = self._records[name]
            for k in _SERIES:
                vals = [x for x in rec.series.get(k, []) if x is not None]
                setattr(rec, k, float(np.mean(vals)) if vals else None)
            fired = self._fired.get(name)
            if fired:
                dead = sum(int((~f).sum()) for f in fired.values())
                rec.dead_frac = dead / sum(f.size for f in fired.values())
            out[name] = rec
        stds = [s for s in self._input_stds if s is not None]
        self.input_std = float(np.mean(stds)) if stds else None
        return out

    @property
    def call_order(self):
        """Layer names in the order they ran in the first recorded step."""
        return list(self._order)
