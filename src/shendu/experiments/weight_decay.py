"""weight-decay (seed 002 §3.12.1-3.12.2): L2 regularisation (weight decay) keeps the weights
small and so reduces over-fitting: a smaller generalisation gap and better test accuracy
on a training set the network can memorise.

A wide ReLU MLP trained by SGD with momentum on a few hundred MNIST images, with
``weight_decay`` 0, 1e-3 and 1e-2 (the gradient of (λ/2)·||w||²).
"""
import numpy as np

from .. import optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Greater, Less

DECAYS = (0.0, 1e-3, 1e-2)


def trial(seed, n_train, steps, width, batch_size=50, lr=0.05, data_dir=None):
    xtr, ytr, xte, yte = C.load_mnist(n_train, 2000, root=data_dir)
    res = {}
    for wd in DECAYS:
        C.seeded(seed)
        model = C.mlp((784, width, width, 10), "relu")
        C.train_steps(model, xtr, ytr, steps, batch_size,
                      optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd),
                      seed=seed)
        train_acc, test_acc = C.evaluate(model, xtr, ytr)[1], C.evaluate(model, xte, yte)[1]
        res[f"test_acc_wd{wd:g}"] = test_acc
        res[f"gap_wd{wd:g}"] = train_acc - test_acc
        res[f"weight_norm_wd{wd:g}"] = float(np.sqrt(sum(
            (p.detach().numpy().astype(np.float64) ** 2).sum()
            for n, p in model.named_parameters() if n.endswith("weight"))))
    return res


def plot(trials, fig):
    for ax, key, title in zip(fig.subplots(1, 3), ("test_acc", "gap", "weight_norm"),
                              ("test accuracy", "train - test accuracy", "||W|| (all layers)")):
        C.bars(ax, trials, [f"{key}_wd{wd:g}" for wd in DECAYS], [f"λ={wd:g}" for wd in DECAYS],
               title)


EXPERIMENT = Experiment(
    name="weight-decay",
    claim="L2 weight decay shrinks the weights and the generalisation gap, and improves test "
          "accuracy of an over-parameterised MLP",
    source="seed 002 §3.12.1-3.12.2",
    trial=trial,
    checks=[Less("weight_norm_wd0.01", "weight_norm_wd0", "||W|| with λ=1e-2 < without"),
            Less("gap_wd0.01", "gap_wd0", "gap with λ=1e-2 < without"),
            Greater("test_acc_wd0.01", "test_acc_wd0", "test acc with λ=1e-2 > without")],
    plot=plot,
    budgets={"full": dict(n_train=1000, steps=1500, width=1024),
             "quick": dict(n_train=500, steps=400, width=256),
             "test": dict(n_train=100, steps=20, width=32)},
    figsize=(11, 4),
    notes="ReLU MLP 784-H-H-10, SGD lr 0.05 momentum 0.9, batch 50, a few hundred MNIST "
          "training images; test accuracy on 2,000.")
