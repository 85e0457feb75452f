"""init-variance (seed 000 §12-13, seed 002 §3.8.3-3.8.4): the variance of the activations
and of the gradients is kept across depth only by the right initial scale. N(0, 0.01)
weights shrink both layer after layer; 1/sqrt(n) (Var W = 1/n) and Xavier (2/(n_in+n_out))
keep tanh's variance; with ReLU, which zeroes half of its inputs, they lose half the
variance per layer and Kaiming (2/n_in) keeps it.

A 20-layer MLP (Linear + activation, no bias) on a batch of z-scored MNIST images, for each
of the four initialisations and tanh or ReLU: one forward and backward pass recorded by
``shendu.diagnose.LayerStats`` — the std of every activation's output and of the loss
gradient with respect to it. The numbers are |log10(std at layer 20 / std at layer 1)|,
for activations and for gradients: 0 means the scale is kept.
"""
import numpy as np

from .. import nn
from .._creation import tensor
from .._random import manual_seed
from ..diagnose import LayerStats
from . import _common as C
from ._runner import Experiment
from ._verdict import Less

INITS = {
    "N(0,0.01)": lambda w: nn.init.normal_(w, 0.0, 0.01),
    "1/sqrt(n)": lambda w: nn.init.normal_(w, 0.0, 1.0 / np.sqrt(w.shape[1])),
    "xavier": nn.init.xavier_normal_,
    "kaiming": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}
ACTS = ("tanh", "relu")


def _key(act, init):
    return f"{act}_{init.replace('(', '').replace(')', '').replace('/', '_').replace(',', '_')}"


def depth_profile(act, init, depth, width, x, y):
    """(activation std, gradient std) at each activation's output, first layer first."""
    layers, n = [], x.shape[1]
    for _ in range(depth):
        lin = nn.Linear(n, width, bias=False)
        INITS[init](lin.weight)
        layers += [lin, C.ACTIVATIONS[act]()]
        n = width
    model = nn.Sequential(*layers, nn.Linear(n, 10))
    with LayerStats(model, updates=False) as rec:
        nn.functional.cross_entropy(model(tensor(x)), tensor(y)).backward()
        rec.step()
    recs = [rec.layers[str(i)] for i in range(1, 2 * depth, 2)]
    return np.array([r.act_std for r in recs]), np.array([r.grad_std for r in recs])


def trial(seed, depth, width, batch, data_dir=None):
    xtr, ytr, _, _ = C.load_mnist(2000, 10, root=data_dir)
    idx = np.random.default_rng(seed).choice(len(xtr), batch, replace=False)
    x = (xtr[idx] - xtr.mean(0)) / (xtr.std(0) + 1e-2)
    res = {}
    for act in ACTS:
        for init in INITS:
            manual_seed(seed)
            a, g = depth_profile(act, init, depth, width, x.astype(np.float32), ytr[idx])
            k = _key(act, init)
            with np.errstate(divide="ignore"):
                res[f"{k}_act_decades"] = C.capped(abs(np.log10(a[-1] / a[0])), 300)
                res[f"{k}_grad_decades"] = C.capped(abs(np.log10(g[0] / g[-1])), 300)
            res[f"profile_{k}"] = (a, g)
    return res


def plot(trials, fig):
    axes = fig.subplots(2, 2)
    for j, act in enumerate(ACTS):
        for i, what in enumerate(("activation std", "gradient std")):
            ax = axes[i, j]
            for init in INITS:
                prof = np.exp(np.mean([np.log(np.maximum(t[f"profile_{_key(act, init)}"][i],
                                                         1e-300)) for t in trials], axis=0))
                ax.semilogy(np.arange(1, len(prof) + 1), prof, "o-", ms=3, label=init)
            ax.set(title=f"{act}: {what} per layer", xlabel="layer")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)


EXPERIMENT = Experiment(
    name="init-variance",
    claim="Xavier (and 1/sqrt(n)) keeps tanh's activation and gradient variance across 20 "
          "layers, Kaiming keeps ReLU's; N(0, 0.01) lets both vanish",
    source="seed 000 §12-13; seed 002 §3.8.3-3.8.4",
    trial=trial,
    checks=[Less("tanh_xavier_act_decades", "tanh_N0_0.01_act_decades",
                 "tanh activations: Xavier decades lost < N(0,0.01)"),
            Less("tanh_xavier_grad_decades", "tanh_N0_0.01_grad_decades",
                 "tanh gradients: Xavier decades lost < N(0,0.01)"),
            Less("relu_kaiming_act_decades", "relu_xavier_act_decades",
                 "ReLU activations: Kaiming decades lost < Xavier"),
            Less("relu_kaiming_grad_decades", "relu_xavier_grad_decades",
                 "ReLU gradients: Kaiming decades lost < Xavier")],
    plot=plot,
    budgets={"full": dict(depth=20, width=512, batch=256),
             "quick": dict(depth=20, width=256, batch=128),
             "test": dict(depth=20, width=32, batch=16)},
    figsize=(12, 8),
    notes="20 bias-free Linear layers of width H with tanh or ReLU, a Linear head, one "
          "batch of z-scored MNIST images; statistics by `shendu.diagnose.LayerStats`. "
          "The checks are relative; read the tanh rows too: under Xavier tanh still loses "
          "some variance across 20 layers (tanh shrinks what it passes on), and Kaiming's "
          "larger gain keeps tanh's activations closer than Xavier does.")
