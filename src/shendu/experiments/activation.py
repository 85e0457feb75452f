"""activation-convergence (seed 002 §3.4.6, §3.4.11): tanh converges faster than sigmoid,
because tanh' = 1 - tanh² reaches 1 while sigmoid' = s(1 - s) is at most 1/4 and sigmoid's
outputs are not zero-centred; in a deep net ReLU (derivative 1 where active) trains where
sigmoid's gradient vanishes.

The same MLP on MNIST (Xavier-normal weights, zero biases), the same initial seed, data
order and SGD learning rate for each activation; speed is the mean training loss over all steps (the area under the loss curve:
lower is faster). Shallow: 2 hidden layers, sigmoid vs tanh. Deep: 6 hidden layers,
sigmoid vs ReLU.
"""
import numpy as np

from .. import nn, optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Less


def _run(acts, hidden, data, steps, batch_size, lr, seed):
    xtr, ytr, xte, yte = data
    out = {}
    for act in acts:
        C.seeded(seed)
        model = C.init_linears(C.mlp((784,) + hidden + (10,), act), nn.init.xavier_normal_)
        losses = C.train_steps(model, xtr, ytr, steps, batch_size,
                               optim.SGD(model.parameters(), lr=lr), seed=seed)
        losses = np.minimum(losses, 10.0)
        out[act] = (losses, C.evaluate(model, xte, yte)[1])
    return out


def trial(seed, n_train, steps, width, deep_layers, batch_size=32, lr=0.1, data_dir=None):
    data = C.load_mnist(n_train, 1000, root=data_dir)
    res = {}
    for tag, acts, depth in (("", ("sigmoid", "tanh"), 2),
                             ("deep_", ("sigmoid", "relu"), deep_layers)):
        for act, (losses, acc) in _run(acts, (width,) * depth, data, steps, batch_size, lr,
                                       seed).items():
            res[f"{tag}{act}_mean_loss"] = float(losses.mean())
            res[f"{tag}{act}_test_acc"] = acc
            res[f"curve_{tag}{act}"] = losses
    return res


def plot(trials, fig):
    axes = fig.subplots(1, 2)
    for ax, tag, acts, title in ((axes[0], "", ("sigmoid", "tanh"), "2 hidden layers"),
                                 (axes[1], "deep_", ("sigmoid", "relu"), "deep MLP")):
        C.plot_curves(ax, trials, [f"curve_{tag}{a}" for a in acts], list(acts))
        ax.set(title=f"{title}: training loss (band: min-max over seeds)", xlabel="SGD step",
               ylabel="cross-entropy")


EXPERIMENT = Experiment(
    name="activation-convergence",
    claim="tanh converges faster than sigmoid; in a deep net ReLU trains where sigmoid stalls",
    source="seed 002 §3.4.6, §3.4.11",
    trial=trial,
    checks=[Less("tanh_mean_loss", "sigmoid_mean_loss",
                 "2 layers: tanh mean loss < sigmoid mean loss"),
            Less("deep_relu_mean_loss", "deep_sigmoid_mean_loss",
                 "deep: ReLU mean loss < sigmoid mean loss")],
    plot=plot,
    budgets={"full": dict(n_train=10000, steps=1500, width=64, deep_layers=8),
             "quick": dict(n_train=3000, steps=300, width=32, deep_layers=6),
             "test": dict(n_train=500, steps=40, width=16, deep_layers=4)},
    notes="Speed = mean training loss over all SGD steps (area under the curve); the same "
          "Xavier-normal initialisation, seed, batches and learning rate (0.1) for every "
          "activation.")
