"""groupnorm-small-batch (seed 002 §3.5.6, §3.6.11): batch norm's statistics are poor
estimates when the batch is tiny, so at batch size 2 group normalisation (statistics per
example, over groups of channels) does better; at a normal batch size the two tie.

A ReLU MLP with BatchNorm1d or GroupNorm(8 groups) after each hidden Linear, trained with
Adam on MNIST for the same number of examples at batch size 2 and at 64; the number is
the test accuracy (BatchNorm in eval mode uses its running statistics, as deployed).
"""
import numpy as np

from .. import nn, optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Greater, Tie

GROUPS = 8


def _norm(kind):
    return nn.BatchNorm1d if kind == "bn" else (lambda c: nn.GroupNorm(GROUPS, c))


def trial(seed, n_train, examples, width, batch_sizes=(2, 64), lr=1e-3, data_dir=None):
    xtr, ytr, xte, yte = C.load_mnist(n_train, 1000, root=data_dir)
    res = {}
    for b in batch_sizes:
        for kind in ("bn", "gn"):
            C.seeded(seed)
            model = C.mlp((784, width, width, 10), "relu", norm=_norm(kind))
            C.train_steps(model, xtr, ytr, examples // b, b,
                          optim.Adam(model.parameters(), lr=lr), seed=seed)
            res[f"{kind}_test_acc_b{b}"] = C.evaluate(model, xte, yte)[1]
    res["batch_sizes"] = list(batch_sizes)
    return res


def plot(trials, fig):
    ax = fig.subplots()
    bs = trials[0]["batch_sizes"]
    w = 0.35
    for i, (kind, label) in enumerate((("bn", "BatchNorm"), ("gn", f"GroupNorm({GROUPS})"))):
        v = np.array([[t[f"{kind}_test_acc_b{b}"] for b in bs] for t in trials])
        ax.bar(np.arange(len(bs)) + (i - 0.5) * w, v.mean(0), w, yerr=v.std(0), capsize=4,
               label=label)
    ax.set_xticks(np.arange(len(bs)), [f"batch {b}" for b in bs])
    ax.set(ylabel="test accuracy", title="same number of training examples",
           ylim=(0, 1))
    ax.legend()
    ax.grid(alpha=0.3, axis="y")


EXPERIMENT = Experiment(
    name="groupnorm-small-batch",
    claim="at batch size 2 group norm beats batch norm; at batch size 64 they tie",
    source="seed 002 §3.5.6, §3.6.11",
    trial=trial,
    checks=[Greater("gn_test_acc_b2", "bn_test_acc_b2", "batch 2: GN accuracy > BN"),
            Tie("gn_test_acc_b64", "bn_test_acc_b64", 0.03,
                "batch 64: |GN - BN| accuracy < 0.03")],
    plot=plot,
    budgets={"full": dict(n_train=10000, examples=20000, width=128),
             "quick": dict(n_train=3000, examples=2000, width=64),
             "test": dict(n_train=300, examples=256, width=16)},
    figsize=(7, 4.5),
    notes="ReLU MLP 784-H-H-10 with BatchNorm1d or GroupNorm(8, H), Adam lr 1e-3, the same "
          "number of examples at both batch sizes; test accuracy in eval mode.")
