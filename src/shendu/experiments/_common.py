"""What the experiments on real data share: the MNIST / Fashion-MNIST arrays, an MLP, a plain
minibatch training loop and its evaluation."""
import functools

import numpy as np

from .. import nn
from .._creation import tensor
from .._random import manual_seed
from ..autograd.grad_mode import no_grad

__all__ = ["load_mnist", "mlp", "train_steps", "evaluate", "capped", "plot_curves", "seeded",
           "init_linears", "bars", "sweep"]

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


@functools.lru_cache(maxsize=8)
def load_mnist(n_train=10000, n_test=2000, root=None, fashion=False):
    """(x_train, y_train, x_test, y_test): float32 images flattened to 784 and scaled to
    [0, 1], int64 labels; the first ``n_train`` / ``n_test`` examples of the subset shipped
    with shendu (``shendu.datasets.MNISTMini``: 10,000 + 2,000, stratified), or of the full
    MNIST when ``root`` holds its IDX files. ``fashion``: Fashion-MNIST instead. Cached:
    the arrays are shared between calls, so do not write into them."""
    from ..datasets import MNIST, MNISTMini, FashionMNIST, FashionMNISTMini
    full, mini = (FashionMNIST, FashionMNISTMini) if fashion else (MNIST, MNISTMini)
    arrays = []
    for train, n in ((True, n_train), (False, n_test)):
        ds = full(root, train=train) if root else mini(train=train)
        x = np.asarray(ds.data)[:n]
        arrays += [x.reshape(len(x), -1).astype(np.float32) / 255.0,
                   np.asarray(ds.targets)[:n].astype(np.int64)]
    return tuple(arrays)


def mlp(sizes, activation="relu", norm=None, dropout=0.0):
    """A Sequential MLP through ``sizes`` (e.g. (784, 64, 64, 10)): Linear, then ``norm(width)``
    (a callable such as ``nn.BatchNorm1d``) when given, the activation, Dropout(``dropout``)
    when > 0, for every hidden layer; a plain Linear last."""
    act = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            if norm is not None:
                layers.append(norm(b))
            layers.append(act())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def init_linears(model, weight_init, bias=0.0):
    """``weight_init(weight)`` (an ``nn.init`` function) on every Linear of ``model``, its
    bias set to ``bias``. Returns the model."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            weight_init(m.weight)
            nn.init.constant_(m.bias, bias)
    return model


def train_steps(model, x, y, steps, batch_size, optimizer, seed=0, transform=None,
                on_step=None):
    """Train ``model`` for ``steps`` minibatches of ``batch_size`` drawn from the arrays
    ``x`` (N, ...) and ``y`` (N,) by a reshuffle per epoch (``seed`` fixes the order).
    ``transform(batch_array, rng)`` augments each batch; ``on_step(i, loss)`` is called after
    each step. Returns the (steps,) training losses; a non-finite loss stops training and
    fills the rest with ``inf``."""
    rng = np.random.default_rng(seed)
    loss_fn = nn.CrossEntropyLoss()
    losses = np.full(steps, np.inf)
    model.train()
    order, pos = rng.permutation(len(x)), 0
    for i in range(steps):
        if pos + batch_size > len(x):
            order, pos = rng.permutation(len(x)), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        xb = x[idx] if transform is None else transform(x[idx], rng)
        optimizer.zero_grad()
        loss = loss_fn(model(tensor(xb)), tensor(y[idx]))
        value = float(loss.detach())
        if not np.isfinite(value):
            break
        loss.backward()
        optimizer.step()
        losses[i] = value
        if on_step is not None:
            on_step(i, value)
    return losses


def evaluate(model, x, y):
    """(mean cross-entropy, accuracy) of ``model`` on arrays ``x``, ``y`` in eval mode
    (restored to train mode afterwards); a non-finite loss is returned as ``inf``."""
    model.eval()
    with no_grad():
        logits = model(tensor(x))
        loss = float(nn.functional.cross_entropy(logits, tensor(y)))
        acc = float((logits.numpy().argmax(1) == y).mean())
    model.train()
    return (loss if np.isfinite(loss) else np.inf), acc


def capped(value, cap):
    """``value`` with divergence (nan, inf, or anything above ``cap``) mapped to ``cap``, so a
    diverged run counts as the worst finite number in the statistics."""
    return float(cap) if not np.isfinite(value) or value > cap else float(value)


def plot_curves(ax, trials, keys, labels=None, smooth=20, x=None):
    """Each ``trial[key]`` curve (moving average over 1/``smooth`` of its length) as its mean
    over the trials with a min-max band."""
    for i, key in enumerate(keys):
        runs = np.array([np.asarray(t[key], np.float64) for t in trials])
        k = max(1, runs.shape[1] // smooth)
        sm = np.array([np.convolve(r, np.ones(k) / k, "valid") for r in runs])
        xs = (np.arange(sm.shape[1]) + k) if x is None else np.asarray(x)[k - 1:]
        ax.plot(xs, sm.mean(0), label=labels[i] if labels else key)
        ax.fill_between(xs, sm.min(0), sm.max(0), alpha=0.25)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def sweep(ax, trials, xs, keys, **kwargs):
    """``trial[key]`` for each x in ``xs`` (one key per x): the mean over the trials as a line,
    min-max as error bars. Returns the (trials, len(xs)) values."""
    v = np.array([[t[k] for k in keys] for t in trials])
    m = v.mean(0)
    ax.errorbar(xs, m, yerr=[m - v.min(0), v.max(0) - m], marker="o", capsize=4, **kwargs)
    return v


def bars(ax, trials, keys, labels, title=None):
    """One bar per ``trial[key]``: the mean over the trials, the std as error bar."""
    v = np.array([[t[k] for k in keys] for t in trials])
    x = np.arange(len(keys))
    ax.bar(x, v.mean(0), yerr=v.std(0), capsize=4, color=[f"C{i}" for i in range(len(keys))])
    ax.set_xticks(x, labels)
    ax.set(title=title)
    ax.grid(alpha=0.3, axis="y")
    return v


def seeded(seed):
    """Seed shendu's generator (weights, dropout masks) for one trial."""
    manual_seed(seed)
