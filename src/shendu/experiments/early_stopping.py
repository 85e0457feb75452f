"""early-stopping (seed 002 §3.12.1, seed 001 train error vs generalisation error): trained
too long on a small set, a network over-fits — its validation loss reaches a minimum and
then rises — so stopping at the best validation epoch gives a lower test loss than the
last epoch.

A wide ReLU MLP trained with Adam on a few hundred MNIST images; after every epoch the
loss on a separate validation split and on the test set is recorded. The numbers: the test
loss and accuracy at the epoch of lowest validation loss and at the last epoch.
"""
import numpy as np

from .. import optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Less


def trial(seed, n_train, n_val, epochs, width, batch_size=50, lr=1e-3, data_dir=None):
    x, y, xte, yte = C.load_mnist(n_train + n_val, 2000, root=data_dir)
    split = np.random.default_rng(seed).permutation(len(x))
    tr, va = split[:n_train], split[n_train:]
    C.seeded(seed)
    model = C.mlp((784, width, width, 10), "relu")
    opt = optim.Adam(model.parameters(), lr=lr)
    steps = n_train // batch_size
    val, test, test_acc, train = [], [], [], []
    for epoch in range(epochs):
        C.train_steps(model, x[tr], y[tr], steps, batch_size, opt, seed=seed * 1000 + epoch)
        train.append(C.evaluate(model, x[tr], y[tr])[0])
        val.append(C.evaluate(model, x[va], y[va])[0])
        loss, acc = C.evaluate(model, xte, yte)
        test.append(loss)
        test_acc.append(acc)
    best = int(np.argmin(val))
    return {"best_epoch": float(best + 1), "epochs": float(epochs),
            "test_loss_early": test[best], "test_loss_last": test[-1],
            "test_acc_early": test_acc[best], "test_acc_last": test_acc[-1],
            "curve_train": np.array(train), "curve_val": np.array(val),
            "curve_test": np.array(test)}


def plot(trials, fig):
    ax = fig.subplots()
    C.plot_curves(ax, trials, ["curve_train", "curve_val", "curve_test"],
                  ["training loss", "validation loss", "test loss"], smooth=10 ** 9)
    for t in trials:
        ax.axvline(t["best_epoch"] - 1, color="k", ls=":", lw=0.8)
    ax.set(yscale="log", xlabel="epoch - 1", ylabel="cross-entropy",
           title="loss per epoch (dotted: each seed's lowest validation loss)")


EXPERIMENT = Experiment(
    name="early-stopping",
    claim="stopping at the lowest validation loss gives a lower test loss than training to "
          "the end",
    source="seed 002 §3.12.1; seed 001",
    trial=trial,
    checks=[Less("test_loss_early", "test_loss_last",
                 "test loss at best validation epoch < at last epoch")],
    plot=plot,
    budgets={"full": dict(n_train=1000, n_val=1000, epochs=60, width=512),
             "quick": dict(n_train=500, n_val=500, epochs=30, width=256),
             "test": dict(n_train=100, n_val=100, epochs=4, width=32)},
    figsize=(7, 4.5),
    notes="ReLU MLP 784-H-H-10, Adam lr 1e-3, batch 50, a few hundred training images and "
          "as many for validation; losses after every epoch.")
