"""From per-layer statistics to findings: what is wrong, where, by how much, what to do.

``find(layers, order, input_std, thresholds)`` applies the rules of
:mod:`shendu.diagnose.thresholds` to the :class:`~shendu.diagnose.stats.LayerRecord` s of
one recording and returns the *root* findings; a finding that another one explains (the
vanishing gradient below a dead ReLU, the collapsed activations above it) is listed in
that finding's ``consequences`` instead of on its own.

Which layers are judged for the scale of activations and gradients: the layers with
weights (Linear, Conv, ...) in forward order, except that a layer followed directly by a
normalisation layer is judged at the normalisation's output (its own scale is removed
there, so it cannot collapse or explode the signal).
"""
from dataclasses import dataclass, field

from .thresholds import DEFAULT

__all__ = ["Finding", "find", "KINDS", "ADVICE", "judged_layers"]

KINDS = ("vanishing_gradient", "exploding_gradient", "dead_relu", "saturated",
         "activation_collapse", "activation_explosion", "update_ratio_high",
         "update_ratio_low", "nan")

ADVICE = {
    "vanishing_gradient": "initialise with Kaiming (ReLU) or Xavier (tanh) scaling, add "
                          "BatchNorm, or use residual connections",
    "exploding_gradient": "use Kaiming init (a smaller weight scale), add BatchNorm, or clip "
                          "gradients",
    "dead_relu": "check the layer's bias and initialisation, lower the learning rate, or use "
                 "LeakyReLU",
    "saturated": "normalise the inputs, use Xavier init, or add BatchNorm before the activation",
    "activation_collapse": "use Kaiming/Xavier init (weights scaled by 1/sqrt(fan_in)) or add "
                           "BatchNorm",
    "activation_explosion": "use Kaiming/Xavier init (weights scaled by 1/sqrt(fan_in)) or add "
                            "BatchNorm",
    "update_ratio_high": "lower the learning rate",
    "update_ratio_low": "raise the learning rate",
    "nan": "lower the learning rate, clip gradients, check the inputs, or find the op with "
           "shendu.autograd.detect_anomaly()",
}


@dataclass
class Finding:
    """One problem: ``kind`` (one of KINDS) at ``layer`` (a name from named_modules());
    ``value`` measured against ``threshold``; ``advice``: what to do; ``message``: the
    measurement in words; ``source``: for an activation finding, the weighted layer that
    feeds it; ``consequences``: findings this one explains."""
    kind: str
    layer: str
    value: float
    threshold: float
    advice: str
    message: str = ""
    source: str = None
    consequences: list = field(default_factory=list)

    def __str__(self):
        src = f" (after {self.source})" if self.source else ""
        s = (f"{self.kind} at {self.layer}{src}: {self.message} [value {self.value:.3g}, "
             f"threshold {self.threshold:.3g}] — {self.advice}")
        if self.consequences:
            s += "; explains " + ", ".join(f"{c.kind} at {c.layer}" for c in self.consequences)
        return s


def judged_layers(layers, order):
    """Names of the layers judged for activation and gradient scale (see module docstring)."""
    out = []
    for i, name in enumerate(order):
        if layers[name].role != "weighted":
            continue
        nxt = order[i + 1] if i + 1 < len(order) else None
        judged = nxt if nxt is not None and layers[nxt].role == "norm" else name
        if judged not in out:
            out.append(judged)
    return out


def _f(kind, layer, value, threshold, message, source=None):
    return Finding(kind, layer, float(value), float(threshold), ADVICE[kind], message, source)


def _band(found, values, ref, th, low, high, what, against):
    """A ``low`` finding for each (layer, value) with value/ref below the threshold of that
    name, a ``high`` one above its threshold."""
    for n, v in values:
        r = v / ref
        kind = low if r < getattr(th, low) else high if r > getattr(th, high) else None
        if kind is not None:
            found.append(_f(kind, n, r, getattr(th, kind), f"{what} is {r:.3g}× {against} "
                            f"({v:.3g} vs {ref:.3g})"))


def find(layers, order=None, input_std=None, thresholds=None, loss_finite=True):
    """Root findings for ``layers`` (name -> LayerRecord, in depth order)."""
    th = thresholds or DEFAULT
    order = list(order if order is not None else layers)
    pos = {n: i for i, n in enumerate(order)}
    found = []

    bad = [n for n in order if layers[n].nonfinite]
    gbad = [n for n in order if layers[n].grad_nonfinite]
    if bad:
        n = bad[0]
        found.append(_f("nan", n, layers[n].nonfinite, th.nan,
                        f"{100 * layers[n].nonfinite:.3g}% of its outputs are NaN or inf, the "
                        f"first layer in forward order to produce them"))
    elif gbad:
        n = gbad[-1]
        found.append(_f("nan", n, layers[n].grad_nonfinite, th.nan,
                        f"{100 * layers[n].grad_nonfinite:.3g}% of the gradient at its output is "
                        f"NaN or inf (the first such layer in backward order)"))
    elif not loss_finite:
        found.append(_f("nan", "(loss)", 1.0, th.nan, "the loss is NaN or inf while every "
                        "layer's output is finite: the loss function's input or target is out "
                        "of its domain"))

    judged = judged_layers(layers, order)
    grads = [(n, layers[n].grad_out_norm) for n in judged
             if layers[n].grad_out_norm is not None]
    if grads and grads[-1][1]:
        ref_name, ref = grads[-1]
        _band(found, grads[:-1], ref, th, "vanishing_gradient", "exploding_gradient",
              "the gradient at its output (norm per example)",
              f"that at the output layer {ref_name}")
    if input_std:
        _band(found, [(n, layers[n].act_std) for n in judged if layers[n].act_std is not None],
              input_std, th, "activation_collapse", "activation_explosion",
              "its output's std", "the input's")
    for n in order:
        rec = layers[n]
        if rec.role == "relu" and rec.dead_frac is not None and rec.dead_frac > th.dead_units:
            found.append(_f("dead_relu", n, rec.dead_frac, th.dead_units,
                            f"{100 * rec.dead_frac:.3g}% of its units never fired (zero for "
                            f"every example; {100 * (rec.zero_frac or 0):.3g}% of all outputs "
                            f"are zero)", rec.after))
        if rec.role == "saturating" and rec.saturated_frac is not None \
                and rec.saturated_frac > th.saturated:
            found.append(_f("saturated", n, rec.saturated_frac, th.saturated,
                            f"{100 * rec.saturated_frac:.3g}% of its outputs sit where the "
                            f"{rec.type}'s derivative is below {th.saturation_derivative:g} of "
                            f"its peak", rec.after))
        if rec.role == "weighted" and rec.update_ratio is not None:
            u = rec.update_ratio
            if u > th.update_ratio_high:
                found.append(_f("update_ratio_high", n, u, th.update_ratio_high,
                                f"one step changes its weights by {u:.3g} of their norm"))
            elif u < th.update_ratio_low:
                found.append(_f("update_ratio_low", n, u, th.update_ratio_low,
                                f"one step changes its weights by only {u:.2g} of their norm"))
    found.sort(key=lambda f: pos.get(f.layer, len(pos)))
    grown = {id(f) for f in found if _grown_by_updates(f, layers, judged, input_std, th)}
    return _explain(found, pos, grown)


def _first(rec, key):
    vals = rec.series.get(key) or [None]
    return vals[0]


def _grown_by_updates(f, layers, judged, input_std, th):
    """True when an exploding gradient or activation, or a NaN, was not there at the first
    recorded step: the optimizer's updates made it, not the initialisation."""
    rec = layers.get(f.layer)
    if rec is None or not rec.series or f.kind not in ("exploding_gradient",
                                                       "activation_explosion", "nan"):
        return False
    if f.kind == "nan":
        return _first(rec, "nonfinite") == 0 and not _first(rec, "grad_nonfinite")
    if f.kind == "activation_explosion":
        v = _first(rec, "act_std")
        return v is not None and input_std and v / input_std <= th.activation_explosion
    ref = [_first(layers[n], "grad_out_norm") for n in judged]
    v = _first(rec, "grad_out_norm")
    return v is not None and ref and ref[-1] and v / ref[-1] <= th.exploding_gradient


def _explain(found, pos, grown=()):
    """Move each finding that another explains under the root finding: a dead or saturated
    layer explains the vanishing gradients and too-small updates below it (it passes back
    little or no gradient); a dead ReLU also explains the collapsed activations and the
    further dead ReLUs above it (the layers above see inputs that hardly vary); a
    vanishing gradient explains a too-small update of the same layer; too large an update
    explains the exploding gradients and activations and the NaNs that were not there at
    the first step (``grown``: their ids)."""
    too_big = next((f for f in found if f.kind == "update_ratio_high"), None)
    roots = []
    for f in found:                              # found is in depth order
        if f.kind == "saturated" or (f.kind == "dead_relu" and
                                     not any(r.kind == "dead_relu" for r in roots)):
            roots.append(f)

    def cause(f):
        p = pos.get(f.layer, -1)
        for r in roots:
            q = pos.get(r.layer, -1)
            if r is f:
                continue
            if f.kind in ("vanishing_gradient", "update_ratio_low") and p < q:
                return r
            if r.kind == "dead_relu" and p > q and f.kind in ("activation_collapse",
                                                              "dead_relu"):
                return r
        if too_big is not None and id(f) in grown:
            return too_big
        if f.kind == "update_ratio_low":
            return next((v for v in found if v.kind == "vanishing_gradient" and
                         v.layer == f.layer), None)
        return None

    out = []
    for f in found:
        c = cause(f)
        while c is not None and cause(c) is not None:
            c = cause(c)
        (out if c is None else c.consequences).append(f)
    return out
