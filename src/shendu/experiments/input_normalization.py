"""input-normalization (seed 002 §3.6.1-3.6.3): inputs that are all positive make the
first layer's weights move together (zig-zag), and inputs on a large scale make the loss
surface elongated; z-scored inputs (zero mean, unit variance per feature) converge faster.

A ReLU MLP trained by SGD on MNIST pixels given three ways: raw (0..255), scaled to [0, 1]
(all positive), and z-scored per pixel with the training set's mean and std. For a fair
race each form gets its best learning rate from the same grid; the number is the mean
training loss over all steps (area under the curve: lower is faster), divergence = 10.
"""
import numpy as np

from .. import optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Less

FORMS = ("raw", "unit", "zscore")
CAP = 10.0


def _forms(x, ref):
    mean, std = ref.mean(0), ref.std(0) + 1e-2
    return {"raw": x * 255.0, "unit": x, "zscore": (x - mean) / std}


def trial(seed, n_train, steps, width, lrs, batch_size=32, data_dir=None):
    xtr, ytr, _, _ = C.load_mnist(n_train, 10, root=data_dir)
    res = {}
    for form, x in _forms(xtr, xtr).items():
        best, best_lr, best_curve = np.inf, None, None
        for lr in lrs:
            C.seeded(seed)
            model = C.mlp((784, width, 10), "relu")
            losses = np.minimum(C.train_steps(model, x.astype(np.float32), ytr, steps,
                                              batch_size, optim.SGD(model.parameters(), lr=lr),
                                              seed=seed), CAP)
            if losses.mean() < best:
                best, best_lr, best_curve = losses.mean(), lr, losses
        res[f"{form}_mean_loss"] = float(best)
        res[f"{form}_best_lr"] = float(best_lr)
        res[f"curve_{form}"] = best_curve
    return res


def plot(trials, fig):
    ax = fig.subplots()
    lrs = {f: np.median([t[f"{f}_best_lr"] for t in trials]) for f in FORMS}
    C.plot_curves(ax, trials, [f"curve_{f}" for f in FORMS],
                  [f"{f} (best lr ~{lrs[f]:g})" for f in FORMS])
    ax.set(yscale="log", xlabel="SGD step", ylabel="training loss",
           title="each input form at its best learning rate")


EXPERIMENT = Experiment(
    name="input-normalization",
    claim="z-scored inputs converge faster than raw (0..255) or all-positive [0, 1] inputs",
    source="seed 002 §3.6.1-3.6.3",
    trial=trial,
    checks=[Less("zscore_mean_loss", "raw_mean_loss", "z-score mean loss < raw 0..255"),
            Less("zscore_mean_loss", "unit_mean_loss", "z-score mean loss < [0, 1]")],
    plot=plot,
    budgets={"full": dict(n_train=10000, steps=1000, width=64,
                          lrs=(1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3)),
             "quick": dict(n_train=2000, steps=200, width=32,
                           lrs=(1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.3)),
             "test": dict(n_train=200, steps=10, width=8, lrs=(1e-3, 0.1))},
    figsize=(7, 4.5),
    notes="ReLU MLP 784-H-10, SGD (no momentum), batch 32; each input form at its best "
          "learning rate from the same grid, chosen per seed by the mean training loss.")
