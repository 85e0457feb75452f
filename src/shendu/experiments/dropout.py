"""dropout-rate (seed 002 §3.12.3-3.12.4): dropout regularises — it shrinks the gap between
training and test accuracy of an over-parameterised network — and for hidden units a rate of
0.5 works best ("隐含节点 dropout 率等于 0.5 的时候效果最好").

A wide ReLU MLP trained with Adam on a few hundred MNIST images (it can memorise them), with
dropout p = 0, 0.2, 0.5 and 0.8 after each hidden layer; the numbers are the training and
test accuracy and their gap.
"""
from .. import optim
from . import _common as C
from ._runner import Experiment
from ._verdict import Greater, Less

RATES = (0.0, 0.2, 0.5, 0.8)


def trial(seed, n_train, steps, width, batch_size=50, lr=1e-3, data_dir=None):
    xtr, ytr, xte, yte = C.load_mnist(n_train, 2000, root=data_dir)
    res = {}
    for p in RATES:
        C.seeded(seed)
        model = C.mlp((784, width, width, 10), "relu", dropout=p)
        C.train_steps(model, xtr, ytr, steps, batch_size,
                      optim.Adam(model.parameters(), lr=lr), seed=seed)
        train_acc, test_acc = C.evaluate(model, xtr, ytr)[1], C.evaluate(model, xte, yte)[1]
        res[f"train_acc_p{p:g}"] = train_acc
        res[f"test_acc_p{p:g}"] = test_acc
        res[f"gap_p{p:g}"] = train_acc - test_acc
    return res


def plot(trials, fig):
    a, b = fig.subplots(1, 2)
    for key, label in (("train_acc", "train"), ("test_acc", "test"), ("gap", "gap")):
        ax = b if key == "gap" else a
        C.sweep(ax, trials, RATES, [f"{key}_p{p:g}" for p in RATES], label=label)
    a.set(title="accuracy against dropout rate", xlabel="dropout p", ylabel="accuracy")
    b.set(title="generalisation gap (train - test accuracy)", xlabel="dropout p")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()


EXPERIMENT = Experiment(
    name="dropout-rate",
    claim="dropout narrows the generalisation gap of an over-parameterised MLP, and p = 0.5 "
          "gives the best test accuracy",
    source="seed 002 §3.12.3-3.12.4",
    trial=trial,
    checks=[Less("gap_p0.5", "gap_p0", "gap at p=0.5 < gap without dropout"),
            Greater("test_acc_p0.5", "test_acc_p0", "test acc p=0.5 > p=0"),
            Greater("test_acc_p0.5", "test_acc_p0.2", "test acc p=0.5 > p=0.2"),
            Greater("test_acc_p0.5", "test_acc_p0.8", "test acc p=0.5 > p=0.8")],
    plot=plot,
    budgets={"full": dict(n_train=1000, steps=1500, width=1024),
             "quick": dict(n_train=500, steps=400, width=256),
             "test": dict(n_train=100, steps=20, width=32)},
    notes="ReLU MLP 784-H-H-10 with Dropout(p) after each hidden layer, Adam lr 1e-3, "
          "batch 50, trained on a few hundred MNIST images; test accuracy on 2,000.")
