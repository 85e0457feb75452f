"""data-augmentation (seed 002 §3.13, seed 001 图像增广): random transformations of the
training images (shifts, small rotations) enlarge a small training set and improve
generalisation.

A ReLU MLP trained with Adam on a few hundred MNIST images, with and without
``shendu.transforms.RandomAffine(degrees=10, translate=(0.1, 0.1))`` applied to each
training batch (``Transform.batch``, one draw per image); the number is the test accuracy
on unaltered test images.
"""
from .. import optim, transforms
from .._random import Generator
from . import _common as C
from ._runner import Experiment
from ._verdict import Greater, Less


def _augmenter(seed):
    t = transforms.RandomAffine(degrees=10, translate=(0.1, 0.1))
    t.generator = Generator().manual_seed(seed)

    def augment(xb, rng):
        return t.batch(xb.reshape(-1, 1, 28, 28)).reshape(len(xb), -1)
    return augment


def trial(seed, n_train, steps, width, batch_size=50, lr=1e-3, data_dir=None):
    xtr, ytr, xte, yte = C.load_mnist(n_train, 2000, root=data_dir)
    res = {}
    for tag, aug in (("plain", None), ("augmented", _augmenter(seed))):
        C.seeded(seed)
        model = C.mlp((784, width, 10), "relu")
        losses = C.train_steps(model, xtr, ytr, steps, batch_size,
                               optim.Adam(model.parameters(), lr=lr), seed=seed, transform=aug)
        train_acc, test_acc = C.evaluate(model, xtr, ytr)[1], C.evaluate(model, xte, yte)[1]
        res[f"{tag}_test_acc"] = test_acc
        res[f"{tag}_gap"] = train_acc - test_acc
        res[f"curve_{tag}"] = losses
    return res


def plot(trials, fig):
    a, b = fig.subplots(1, 2)
    C.plot_curves(a, trials, ["curve_plain", "curve_augmented"], ["plain", "augmented"])
    a.set(yscale="log", title="training loss (on the batches as trained)", xlabel="step")
    tags = ("plain", "augmented")
    v = C.bars(b, trials, [f"{k}_test_acc" for k in tags], tags, "test accuracy")
    b.set(ylim=(max(0.0, v.min() - 0.1), 1))


EXPERIMENT = Experiment(
    name="data-augmentation",
    claim="random shifts and rotations of a small training set raise test accuracy and "
          "shrink the generalisation gap",
    source="seed 002 §3.13; seed 001",
    trial=trial,
    checks=[Greater("augmented_test_acc", "plain_test_acc", "test acc augmented > plain"),
            Less("augmented_gap", "plain_gap", "gap augmented < plain")],
    plot=plot,
    budgets={"full": dict(n_train=1000, steps=2000, width=256),
             "quick": dict(n_train=500, steps=400, width=128),
             "test": dict(n_train=100, steps=20, width=16)},
    notes="ReLU MLP 784-H-10, Adam lr 1e-3, batch 50, a few hundred MNIST training images; "
          "RandomAffine(degrees=10, translate=(0.1, 0.1)) on every training batch.")
