"""batch-size (seed 002 §3.5.3-3.5.5): a larger batch processes the data faster (more
examples per second) but needs more epochs to reach the same loss, so the time to a given
loss is best at some intermediate size; scaling the learning rate with the batch size (the
linear scaling rule, lr ∝ B) recovers most of the large batch's lost progress per epoch.

A ReLU MLP trained by SGD on MNIST at batch sizes 8 .. 512 with a fixed learning rate, and
at the large sizes also with lr scaled by B / 32. Every ``eval_every`` examples the loss on
a fixed part of the training set is measured; the numbers are the epochs, steps and
training seconds until it first falls below ``target`` (a run that never gets there counts
its full budget, so its number is a lower bound), and the examples per second.
"""
import time

import numpy as np

from .. import optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Greater, Less

BASE_LR, BASE_B = 0.05, 32


def _race(model, opt, data, batch_size, target, max_examples, eval_every, seed):
    xtr, ytr, xev, yev = data
    seen, seconds, curve = 0, 0.0, []
    while seen < max_examples:
        t = time.perf_counter()
        steps = max(1, eval_every // batch_size)
        C.train_steps(model, xtr, ytr, steps, batch_size, opt, seed=seed * 100003 + seen)
        seconds += time.perf_counter() - t
        seen += steps * batch_size
        loss = C.evaluate(model, xev, yev)[0]
        curve.append((seen, min(loss, 10.0)))
        if loss < target:
            break
    return seen, seconds, np.array(curve)


def _runs(sizes, scaled):
    return [(b, False) for b in sizes] + [(b, True) for b in scaled]


def _tag(b, scaled):
    return f"b{b}{'_scaled' if scaled else ''}"


def trial(seed, n_train, width, target, max_epochs, eval_every, sizes=(8, 32, 128, 512),
          scaled=(128, 512), data_dir=None):
    xtr, ytr, _, _ = C.load_mnist(n_train, 10, root=data_dir)
    data = (xtr, ytr, xtr[:1000], ytr[:1000])
    res = {}
    for b, sc in _runs(sizes, scaled):
        C.seeded(seed)
        model = C.mlp((784, width, 10), "relu")
        lr = BASE_LR * (b / BASE_B if sc else 1.0)
        seen, secs, curve = _race(model, optim.SGD(model.parameters(), lr=lr), data, b, target,
                                  max_epochs * n_train, eval_every, seed)
        tag = _tag(b, sc)
        res[f"epochs_{tag}"] = seen / n_train
        res[f"steps_{tag}"] = seen / b
        res[f"seconds_{tag}"] = secs
        res[f"examples_per_s_{tag}"] = seen / secs
        res[f"curve_{tag}"] = curve
    res["sizes"], res["scaled"], res["target"] = list(sizes), list(scaled), [target]
    return res


def plot(trials, fig):
    a, b, c = fig.subplots(1, 3)
    sizes, scaled, n = trials[0]["sizes"], trials[0]["scaled"], len(trials)
    for bs, sc in _runs(sizes, scaled):
        cv = trials[0][f"curve_{_tag(bs, sc)}"]
        a.plot(cv[:, 0], cv[:, 1], ls="--" if sc else "-",
               label=f"B={bs}" + (f", lr×{bs / BASE_B:g}" if sc else ""))
    a.axhline(trials[0]["target"][0], color="k", ls=":", lw=0.8)
    a.set(yscale="log", xlabel="examples seen", ylabel="training loss",
          title=f"loss against examples (seed 0; lr {BASE_LR:g})")
    a.legend(fontsize=7)
    for ax, key, title in ((b, "epochs", "epochs to target loss"),
                           (c, "seconds", "training seconds to target loss")):
        for sc in (False, True):
            bs = scaled if sc else sizes
            v = np.array([[t[f"{key}_{_tag(s, sc)}"] for s in bs] for t in trials])
            ax.errorbar(bs, v.mean(0), yerr=v.std(0) if n > 1 else None, marker="o",
                        capsize=3, ls="--" if sc else "-",
                        label="lr scaled with B" if sc else f"lr {BASE_LR:g}")
        ax.set(xscale="log", xlabel="batch size", title=title)
        ax.legend(fontsize=8)
    for ax in (a, b, c):
        ax.grid(alpha=0.3, which="both")


EXPERIMENT = Experiment(
    name="batch-size",
    claim="larger batches process examples faster but need more epochs to reach a loss; "
          "scaling the learning rate with the batch size recovers the epochs",
    source="seed 002 §3.5.3-3.5.5",
    trial=trial,
    checks=[Greater("examples_per_s_b512", "examples_per_s_b8", "examples/s at B=512 > B=8"),
            Greater("epochs_b512", "epochs_b32", "epochs to target at B=512 > B=32"),
            Less("epochs_b128_scaled", "epochs_b128",
                 "B=128: epochs with lr x4 < with lr fixed")],
    plot=plot,
    budgets={"full": dict(n_train=10000, width=64, target=0.35, max_epochs=20,
                          eval_every=1024),
             "quick": dict(n_train=2000, width=32, target=0.5, max_epochs=12, eval_every=512),
             "test": dict(n_train=256, width=8, target=1.5, max_epochs=2, eval_every=256,
                          sizes=(8, 32, 128, 512), scaled=(128,))},
    figsize=(14, 4.2),
    notes=f"ReLU MLP 784-H-10, SGD lr {BASE_LR:g} (and lr×B/{BASE_B} for the large batches); "
          "seconds are training time only, measured on the machine that ran the report.")
