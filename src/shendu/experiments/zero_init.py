"""zero-init (seed 002 §3.8.1-3.8.3): weights initialised to zero, or all to the same value,
leave every hidden unit computing the same function — they receive the same gradient and
stay identical (the symmetry is never broken), so the layer acts as one unit; small random
weights break the symmetry.

A tanh MLP 784-H-10 trained on MNIST with SGD from three initialisations of all weights and
biases: zeros, a constant (0.01), and torch's default random init. After training, the rank
of the hidden weight matrix W1 (H x 784) and the number of distinct hidden units (distinct
rows of W1) are counted. With zeros, tanh(0) = 0 makes the output layer's gradient to W1
zero, so W1 stays zero (rank 0); with a constant, all rows stay equal (rank 1).
"""
import numpy as np

from .. import nn, optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Less

INITS = ("zeros", "constant", "random")


def _init(model, how):
    if how == "random":
        return model
    for p in model.parameters():
        nn.init.constant_(p, 0.0 if how == "zeros" else 0.01)
    return model


def trial(seed, n_train, steps, width, batch_size=32, lr=0.1, data_dir=None):
    xtr, ytr, xte, yte = C.load_mnist(n_train, 1000, root=data_dir)
    res = {}
    for how in INITS:
        C.seeded(seed)
        model = _init(C.mlp((784, width, 10), "tanh"), how)
        losses = C.train_steps(model, xtr, ytr, steps, batch_size,
                               optim.SGD(model.parameters(), lr=lr), seed=seed)
        w1 = model[0].weight.detach().numpy().astype(np.float64)
        sv = np.linalg.svd(w1, compute_uv=False)
        res[f"{how}_w1_rank"] = float(np.linalg.matrix_rank(w1))
        res[f"{how}_distinct_units"] = float(len(np.unique(w1, axis=0)))
        res[f"{how}_test_acc"] = C.evaluate(model, xte, yte)[1]
        res[f"{how}_final_loss"] = float(np.minimum(losses[-max(1, steps // 10):], 10).mean())
        res[f"sv_{how}"] = sv / max(sv.max(), 1e-30)
    return res


def plot(trials, fig):
    a, b = fig.subplots(1, 2)
    for how in INITS:
        sv = np.mean([t[f"sv_{how}"] for t in trials], axis=0)
        a.semilogy(np.arange(1, len(sv) + 1), np.maximum(sv, 1e-17), "o-", ms=3,
                   label=f"{how}: rank {np.mean([t[f'{how}_w1_rank'] for t in trials]):g}")
    a.set(title="singular values of W1 after training (relative)", xlabel="index",
          ylabel="σ_i / σ_max (1e-17 = zero)")
    a.legend()
    a.grid(alpha=0.3)
    C.bars(b, trials, [f"{how}_test_acc" for how in INITS], INITS, "test accuracy")
    b.set(ylim=(0, 1))


EXPERIMENT = Experiment(
    name="zero-init",
    claim="zero or constant initialisation leaves the hidden units identical (rank of W1 "
          "stays 0 or 1); random initialisation breaks the symmetry",
    source="seed 002 §3.8.1-3.8.3",
    trial=trial,
    checks=[Less("zeros_w1_rank", "random_w1_rank", "zeros: rank W1 < random init's"),
            Less("constant_w1_rank", "random_w1_rank", "constant: rank W1 < random init's"),
            Less("constant_distinct_units", 2, "constant: distinct hidden units < 2")],
    plot=plot,
    budgets={"full": dict(n_train=10000, steps=1000, width=64),
             "quick": dict(n_train=2000, steps=200, width=32),
             "test": dict(n_train=300, steps=20, width=8)},
    notes="tanh MLP 784-H-10, SGD lr 0.1; every weight and bias initialised to 0, to 0.01, "
          "or by torch's default random init.")
