"""``run``: a few hooked training steps, and the :class:`Report` they give."""
import math

from ..autograd import grad_mode
from ..train.loop import _split_batch, _call
from .findings import find
from .stats import LayerStats
from .thresholds import DEFAULT

__all__ = ["Report", "run"]


class Report:
    """The outcome of :func:`run`.

    ``layers``: name -> :class:`~shendu.diagnose.stats.LayerRecord` in depth order;
    ``findings``: the root :class:`~shendu.diagnose.findings.Finding` s (each lists the
    findings it explains in ``consequences``; ``all_findings`` has them all);
    ``losses``: the loss at each step; ``input_std``: the std of the model's input;
    ``order``: the layers in the order they ran.
    """

    def __init__(self, layers, findings, losses, input_std, thresholds, order=None, title=None):
        self.layers = layers
        self.findings = findings
        self.losses = losses
        self.input_std = input_std
        self.thresholds = thresholds
        self.order = list(order if order is not None else layers)
        self.title = title

    @property
    def all_findings(self):
        out = []
        for f in self.findings:
            out.append(f)
            out.extend(f.consequences)
        return out

    @property
    def steps(self):
        return len(self.losses)

    def kinds(self):
        """{(kind, layer)} of the root findings."""
        return {(f.kind, f.layer) for f in self.findings}

    def table(self):
        """The per-layer statistics as text, one row per layer in depth order."""
        def fmt(v, pct=False):
            if v is None:
                return "-"
            return f"{100 * v:.0f}%" if pct else f"{v:.2e}"
        head = (f"{'layer':24s} {'type':12s} {'act mean':>9s} {'act std':>9s} {'|grad|':>9s} "
                f"{'|dW|':>9s} {'upd/W':>9s} {'zero':>5s} {'dead':>5s} {'sat':>5s}")
        rows = [head, "-" * len(head)]
        for n, r in self.layers.items():
            rows.append(f"{n[:24]:24s} {r.type[:12]:12s} {fmt(r.act_mean):>9s} "
                        f"{fmt(r.act_std):>9s} {fmt(r.grad_out_norm):>9s} {fmt(r.grad_norm):>9s} "
                        f"{fmt(r.update_ratio):>9s} {fmt(r.zero_frac, True):>5s} "
                        f"{fmt(r.dead_frac, True):>5s} {fmt(r.saturated_frac, True):>5s}")
        return "\n".join(rows)

    def __str__(self):
        lines = [f"{self.title + ': ' if self.title else ''}{self.steps} steps, "
                 f"{len(self.layers)} layers, loss {self.losses[0]:.4g} -> {self.losses[-1]:.4g}"
                 if self.losses else f"{len(self.layers)} layers"]
        if not self.findings:
            lines.append("no findings: gradients, activations and updates are within the "
                         "thresholds")
        groups = {}
        for f in self.findings:
            groups.setdefault(f.kind, []).append(f)
        for f in self.findings:
            same = groups[f.kind]
            if len(same) <= 3:
                lines.append(f"  - {f}")
            elif f is same[0]:
                vals = [g.value for g in same]
                line = (f"  - {f.kind} at {len(same)} layers: {_names(same)} [values "
                        f"{min(vals):.3g} to {max(vals):.3g}, threshold {f.threshold:.3g}] — "
                        f"{f.advice}")
                explained = {}
                for g in same:
                    for c in g.consequences:
                        explained.setdefault(c.kind, []).append(c)
                if explained:
                    line += "; explains " + "; ".join(f"{k} at {_names(v)}"
                                                      for k, v in explained.items())
                lines.append(line)
        return "\n".join(lines)

    __repr__ = __str__

    def plot(self, path=None):
        """The gradient-flow picture across depth (PNG at ``path``); returns the figure."""
        from .plots import plot_report
        return plot_report(self, path)

    def html(self, path):
        """One self-contained HTML page: the plots (embedded PNG), findings and table."""
        from .plots import report_html
        return report_html(self, path)


def _names(findings):
    names = [f.layer for f in findings]
    return ", ".join(names) if len(names) <= 6 else \
        ", ".join(names[:3]) + ", …, " + ", ".join(names[-2:])


def _cycle(batches, steps):
    """``steps`` batches from ``batches``, starting over when it runs out."""
    n = 0
    while n < steps:
        got = False
        for b in batches:
            got = True
            yield b
            n += 1
            if n >= steps:
                return
        if not got:
            raise ValueError("shendu.diagnose.run: `batches` gave no batch")


def run(model, batches, loss_fn, optimizer=None, steps=20, thresholds=None, title=None):
    """Train ``model`` for ``steps`` batches with hooks on every layer (or, when
    ``optimizer`` is None, only run forward and backward: the weights do not change, and
    buffers such as BatchNorm's running statistics and the parameters' ``.grad`` are put
    back afterwards) and return a :class:`Report`.

    ``batches``: an iterable of ``(input, target)`` batches (a DataLoader, a list), taken
    again from the start if it has fewer than ``steps``; ``loss_fn(output, target)``.
    """
    if steps < 1:
        raise ValueError(f"shendu.diagnose.run: steps must be at least 1, got {steps}")
    th = thresholds or DEFAULT
    was_training = model.training
    saved = None
    if optimizer is None:
        saved = ({k: b.clone() for k, b in model.named_buffers()},
                 [(p, p.grad) for p in model.parameters()])
    losses, loss_finite = [], True
    rec = LayerStats(model, updates=optimizer is not None,
                     saturation_derivative=th.saturation_derivative)
    model.train()
    try:
        with rec, grad_mode.enable_grad():
            for batch in _cycle(batches, steps):
                x, y = _split_batch(batch)
                if optimizer is not None:
                    optimizer.zero_grad()
                else:
                    for p in model.parameters():
                        p.grad = None
                out = _call(model, x)
                loss = loss_fn(out, y) if y is not None else loss_fn(out)
                v = loss.item()
                losses.append(v)
                if not math.isfinite(v):
                    loss_finite = False
                    if loss.requires_grad:
                        loss.backward()
                    rec.step()
                    break
                loss.backward()
                if optimizer is not None:
                    optimizer.step()
                rec.step()
    finally:
        model.train(was_training)
        if saved is not None:
            bufs, grads = saved
            for k, b in model.named_buffers():
                if k in bufs:
                    b._data[...] = bufs[k]._data
            for p, g in grads:
                p.grad = g
    layers = rec.layers
    findings = find(layers, rec.call_order, rec.input_std, th, loss_finite)
    return Report(layers, findings, losses, rec.input_std, th, rec.call_order, title)
