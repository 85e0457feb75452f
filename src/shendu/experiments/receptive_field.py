"""receptive-field (seed 000 感受野): a unit's receptive field grows with depth — by
(k - 1)·d·j per layer, where k is the kernel, d the dilation and j the product of the
earlier strides — so stacked 3x3 convolutions grow it linearly, doubling dilations or
strides grow it exponentially. The field computed by that rule (``shendu.summary``) is
compared with the one measured from gradients: the input pixels whose gradient of one
output unit is non-zero. The effective receptive field — where the gradient's mass lies —
is much narrower than the theoretical one (it concentrates at the centre).

Stacks of 3x3 Conv2d + tanh (4 channels, random init) on a random input, three kinds:
plain, dilation 2^i at layer i, and stride 2 at every layer, for depths 1 .. L.
"""
import numpy as np

from .. import nn, randn
from ..summary import summary
from ._runner import Experiment
from ._verdict import Greater, Less

KINDS = ("plain", "dilated", "strided")


def stack(kind, depth, channels=4):
    """``depth`` 3x3 convolutions (with tanh between) of the given kind."""
    layers, c = [], 1
    for i in range(depth):
        layers += [nn.Conv2d(c, channels, 3, stride=2 if kind == "strided" else 1,
                             dilation=2 ** i if kind == "dilated" else 1), nn.Tanh()]
        c = channels
    return nn.Sequential(*layers)


def theory(model, size):
    """The receptive field of the last convolution, from ``shendu.summary``."""
    s = summary(model, (1, size, size), verbose=0)
    return [L.receptive_field for L in s.layers if L.receptive_field is not None][-1][0]


def measured(model, size):
    """(extent, effective width, |grad| profile): the width of the input region whose
    gradient of the central output unit (summed over channels) is non-zero; 4σ of the
    gradient magnitude along x; the magnitude summed over rows."""
    x = randn(1, 1, size, size, dtype=model[0].weight.dtype, requires_grad=True)
    y = model(x)
    h, w = y.shape[2] // 2, y.shape[3] // 2
    y[0, :, h, w].sum().backward()
    g = np.abs(x.grad.numpy()[0, 0])
    cols = np.nonzero(g.sum(0))[0]
    prof = g.sum(0)
    pos = np.arange(size)
    mu = (prof * pos).sum() / prof.sum()
    sigma = np.sqrt((prof * (pos - mu) ** 2).sum() / prof.sum())
    return float(cols[-1] - cols[0] + 1), float(4 * sigma), prof


def trial(seed, max_depth):
    from .._random import manual_seed
    manual_seed(seed)
    res, errs = {}, []
    for kind in KINDS:
        for depth in range(1, max_depth + 1):
            m = stack(kind, depth).double()
            size = 2 ** (depth + 1) + 9           # > the largest field, 2^(depth+1) - 1
            rf = theory(m, size)
            ext, erf, prof = measured(m, size)
            res[f"rf_{kind}_L{depth}"] = float(rf)
            res[f"extent_{kind}_L{depth}"] = ext
            res[f"erf_{kind}_L{depth}"] = erf
            res[f"profile_{kind}_L{depth}"] = prof
            errs.append(abs(ext - rf))
    res["max_extent_error"] = float(max(errs))
    res["depths"] = list(range(1, max_depth + 1))
    return res


def plot(trials, fig):
    a, b = fig.subplots(1, 2)
    ds = trials[0]["depths"]
    L = ds[-1]
    for i, kind in enumerate(KINDS):
        rf = [trials[0][f"rf_{kind}_L{d}"] for d in ds]
        ext = [trials[0][f"extent_{kind}_L{d}"] for d in ds]
        erf = np.mean([[t[f"erf_{kind}_L{d}"] for d in ds] for t in trials], axis=0)
        a.plot(ds, rf, "-", color=f"C{i}", label=f"{kind}: theory")
        a.plot(ds, ext, "o", color=f"C{i}", mfc="none", label=f"{kind}: non-zero gradient")
        a.plot(ds, erf, ":", color=f"C{i}", label=f"{kind}: effective (4σ)")
    a.set(yscale="log", xlabel="depth (3x3 conv layers)", ylabel="width in input pixels",
          title="receptive field against depth")
    a.legend(fontsize=7)
    a.grid(alpha=0.3, which="both")
    prof = np.mean([t[f"profile_plain_L{L}"] for t in trials], axis=0)
    b.plot(prof / prof.max(), "o-", ms=3)
    b.set(title=f"plain stack, depth {L}: |gradient| across the input (columns)",
          xlabel="input column", ylabel="relative |∂y/∂x|")
    b.grid(alpha=0.3)


EXPERIMENT = Experiment(
    name="receptive-field",
    claim="the receptive field grows linearly with depth, exponentially with doubling "
          "dilation or stride; the measured field matches the rule, the effective one is "
          "narrower",
    source="seed 000 (感受野)",
    trial=trial,
    checks=[Less("max_extent_error", 0.5, "non-zero-gradient width == rule, every stack"),
            Greater("extent_dilated_L4", "extent_plain_L4", "depth 4: dilated field > plain"),
            Greater("extent_strided_L4", "extent_plain_L4", "depth 4: strided field > plain"),
            Less("erf_plain_L6", "rf_plain_L6", "depth 6: effective width (4σ) < theory")],
    plot=plot,
    budgets={"full": dict(max_depth=8), "quick": dict(max_depth=6),
             "test": dict(max_depth=6)},
    figsize=(12, 4.5),
    notes="3x3 Conv2d + tanh stacks (4 channels, torch's default init, float64), one random "
          "input per seed; the gradient of the central output unit summed over channels.")
