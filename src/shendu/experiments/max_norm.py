"""max-norm (seed 002 §3.12.4, point 5): dropout combined with a max-norm constraint
(every unit's incoming weight vector rescaled to ||w|| <= c after each step), a large
decaying learning rate and high momentum works better, "max-norm regularisation stops a
large learning rate from blowing the parameters up".

A ReLU MLP with dropout 0.5 trained by SGD with momentum 0.9 at a large learning rate,
with and without ``nn.utils.max_norm_(model, c)`` after every step. The numbers: the
training loss over the last tenth of the steps (a diverged run counts as 10), the test
accuracy and the largest weight norm of a unit at the end.
"""
import numpy as np

from .. import optim
from ..nn.utils import max_norm_
from . import _common as C
from ._runner import Experiment
from ._verdict import Greater, Less

CAP, C_MAX = 10.0, 3.0


def trial(seed, n_train, steps, width, lrs, batch_size=64, data_dir=None):
    xtr, ytr, xte, yte = C.load_mnist(n_train, 1000, root=data_dir)
    res = {}
    for lr in lrs:
        for tag in ("plain", "maxnorm"):
            C.seeded(seed)
            model = C.mlp((784, width, width, 10), "relu", dropout=0.5)
            hook = (lambda i, loss: max_norm_(model, C_MAX)) if tag == "maxnorm" else None
            losses = C.train_steps(model, xtr, ytr, steps, batch_size,
                                   optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                                   seed=seed, on_step=hook)
            res[f"{tag}_loss_lr{lr:g}"] = C.capped(losses[-max(1, steps // 10):].mean(), CAP)
            res[f"{tag}_test_acc_lr{lr:g}"] = C.evaluate(model, xte, yte)[1]
            w = [p.detach().numpy() for n, p in model.named_parameters() if n.endswith("weight")]
            norm = max(float(np.sqrt((v.astype(np.float64) ** 2).sum(1)).max()) for v in w)
            res[f"{tag}_max_unit_norm_lr{lr:g}"] = norm if np.isfinite(norm) else 1e30
    res["lrs"] = list(lrs)
    return res


def plot(trials, fig):
    a, b = fig.subplots(1, 2)
    lrs = trials[0]["lrs"]
    for tag, label in (("plain", "dropout only"), ("maxnorm", f"dropout + max-norm {C_MAX:g}")):
        for ax, key in ((a, "loss"), (b, "test_acc")):
            C.sweep(ax, trials, lrs, [f"{tag}_{key}_lr{lr:g}" for lr in lrs], label=label)
    a.set(xscale="log", yscale="log", xlabel="learning rate (momentum 0.9)",
          ylabel="final training loss (10 = diverged)", title="final loss")
    b.set(xscale="log", xlabel="learning rate (momentum 0.9)", ylabel="test accuracy",
          title="test accuracy")
    for ax in (a, b):
        ax.legend()
        ax.grid(alpha=0.3, which="both")


EXPERIMENT = Experiment(
    name="max-norm",
    claim="with dropout, a max-norm constraint keeps a large learning rate with high "
          "momentum from blowing the weights up",
    source="seed 002 §3.12.4",
    trial=trial,
    checks=[Less("maxnorm_max_unit_norm_lr0.3", "plain_max_unit_norm_lr0.3",
                 "lr 0.3: largest unit norm with max-norm < without"),
            Less("maxnorm_loss_lr0.3", "plain_loss_lr0.3", "lr 0.3: loss with max-norm < without"),
            Greater("maxnorm_test_acc_lr0.3", "plain_test_acc_lr0.3",
                    "lr 0.3: test accuracy with max-norm > without")],
    plot=plot,
    budgets={"full": dict(n_train=10000, steps=1000, width=256, lrs=(0.03, 0.1, 0.3, 1.0)),
             "quick": dict(n_train=3000, steps=200, width=128, lrs=(0.1, 0.3)),
             "test": dict(n_train=200, steps=10, width=16, lrs=(0.3,))},
    figsize=(11, 4.2),
    notes=f"ReLU MLP 784-H-H-10, dropout 0.5, SGD momentum 0.9, max-norm c = {C_MAX:g} on "
          "every unit's incoming weights after each step.")
