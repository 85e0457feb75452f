"""batchnorm-lr (seed 002 §3.6.10): batch normalisation lets a network train at learning
rates at which the same network without it diverges.

A ReLU MLP with and without BatchNorm1d after every hidden Linear, trained by SGD over a
grid of learning rates; the number is the training loss over the last tenth of the steps,
a diverged run (non-finite or above 10) counting as 10.
"""
from .. import nn, optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Less

CAP = 10.0


def _key(bn, lr):
    return f"{'bn' if bn else 'plain'}_loss_lr{lr:g}"


def trial(seed, n_train, steps, width, depth, lrs, batch_size=64, data_dir=None):
    xtr, ytr, _, _ = C.load_mnist(n_train, 10, root=data_dir)
    res = {}
    for lr in lrs:
        for bn in (False, True):
            C.seeded(seed)
            model = C.mlp((784,) + (width,) * depth + (10,), "relu",
                          norm=nn.BatchNorm1d if bn else None)
            losses = C.train_steps(model, xtr, ytr, steps, batch_size,
                                   optim.SGD(model.parameters(), lr=lr), seed=seed)
            res[_key(bn, lr)] = C.capped(losses[-max(1, steps // 10):].mean(), CAP)
    res["lrs"] = list(lrs)
    return res


def plot(trials, fig):
    ax = fig.subplots()
    lrs = trials[0]["lrs"]
    for bn, label in ((False, "no normalisation"), (True, "BatchNorm")):
        C.sweep(ax, trials, lrs, [_key(bn, lr) for lr in lrs], label=label)
    ax.axhline(CAP, color="r", ls=":", label=f"diverged (capped at {CAP:g})")
    ax.set(xscale="log", yscale="log", xlabel="SGD learning rate",
           ylabel="final training loss", title="final loss against learning rate "
           "(bars: min-max over seeds)")
    ax.legend()
    ax.grid(alpha=0.3, which="both")


_LRS = (0.01, 0.1, 1.0, 3.0)
EXPERIMENT = Experiment(
    name="batchnorm-lr",
    claim="with batch normalisation the network trains at learning rates that diverge "
          "without it",
    source="seed 002 §3.6.10",
    trial=trial,
    checks=[Less(_key(True, 1.0), _key(False, 1.0), "lr 1: BN final loss < plain"),
            Less(_key(True, 3.0), _key(False, 3.0), "lr 3: BN final loss < plain")],
    plot=plot,
    budgets={"full": dict(n_train=10000, steps=600, width=128, depth=4, lrs=_LRS),
             "quick": dict(n_train=3000, steps=100, width=64, depth=4, lrs=_LRS[1:]),
             "test": dict(n_train=300, steps=15, width=16, depth=2, lrs=(1.0, 3.0))},
    figsize=(7, 4.5),
    notes="ReLU MLP (4 hidden layers), SGD without momentum, torch's default init; the "
          "number is the mean training loss over the last tenth of the steps, 10 when the "
          "run diverged.")
