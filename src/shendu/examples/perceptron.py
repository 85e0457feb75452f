"""The perceptron of seed 002 §3.1.1, trained on the NOT and AND gates with the perceptron
loss (seed 003).

The notes' unit outputs 1 when w·x + b > 0 and 0 otherwise. Their worked case, inputs (0, 1)
with w = (−2, −2) and b = 3 giving 0·(−2) + 1·(−2) + 3 = 1, is Nielsen's NAND unit (the
notes call it a 非门); with one input, w = −2 and b = 1 make NOT. Here the weights start at
zero and are learned:
the loss is max(0, −y·(w·x + b)) with the labels read as ±1, whose subgradient is
Rosenblatt's rule — on a wrong (or boundary) sample, w ← w + lr·y·x, b ← b + lr·y. For a
linearly separable gate the loop ends with every sample right (the perceptron convergence
theorem); XOR, which no line separates, never does.

    python -m shendu.examples.perceptron
"""
import argparse

import numpy as np

import shendu
from shendu import nn, optim

GATES = {
    "NOT": ([[0.0], [1.0]], [1, 0]),
    "AND": ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 0, 0, 1]),
    "OR": ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 1]),
    "XOR": ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0]),
}


def perceptron_output(unit, x):
    """The notes' unit: 1 where w·x + b > 0, else 0."""
    return (unit(x).squeeze(1) > 0).long()


def train_gate(gate, epochs=20, lr=1.0):
    """Train a zero-initialised unit on ``gate`` (full batch); returns (unit, epochs used,
    whether every sample is right, the loss per epoch)."""
    x, y = (shendu.tensor(a) for a in GATES[gate])
    x = x.to(shendu.float32)
    unit = nn.Linear(x.shape[1], 1)
    nn.init.zeros_(unit.weight)
    nn.init.zeros_(unit.bias)
    opt = optim.SGD(unit.parameters(), lr=lr)
    loss_fn = nn.PerceptronLoss(reduction="sum")
    losses = []
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        loss = loss_fn(unit(x).squeeze(1), y)           # 0/1 labels read as −1/+1
        losses.append(loss.item())
        right = bool((perceptron_output(unit, x) == y).all())
        if right:
            return unit, epoch - 1, True, losses
        loss.backward()
        opt.step()
    return unit, epochs, bool((perceptron_output(unit, x) == y).all()), losses


def main(argv=None, out=print):
    p = argparse.ArgumentParser(description="the notes' perceptron on logic gates")
    p.add_argument("--gates", default="NOT,AND,OR,XOR")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1.0)
    args = p.parse_args(argv)
    results = {}
    for gate in args.gates.split(","):
        unit, used, ok, losses = train_gate(gate, args.epochs, args.lr)
        x = shendu.tensor(GATES[gate][0], dtype=shendu.float32)
        w = unit.weight.detach().numpy().ravel()
        b = unit.bias.item()
        table = ", ".join(f"{tuple(int(v) for v in row)}→{int(o)}"
                          for row, o in zip(GATES[gate][0], perceptron_output(unit, x).numpy()))
        out(f"{gate:3s}: w = {np.round(w, 3).tolist()}, b = {b:g}; "
            f"{'all right after ' + str(used) + ' updates' if ok else 'not linearly separable: still wrong after ' + str(used) + ' updates'}"
            f"; {table}")
        results[gate] = {"weight": w, "bias": b, "epochs": used, "solved": ok,
                         "losses": losses}
    notes = nn.Linear(2, 1)
    with shendu.no_grad():
        notes.weight.fill_(-2.0)
        notes.bias.fill_(3.0)
    x = shendu.tensor(GATES["AND"][0], dtype=shendu.float32)
    out(f"the notes' unit (w = (−2, −2), b = 3) on (0,0), (0,1), (1,0), (1,1): "
        f"{perceptron_output(notes, x).tolist()} — NAND")
    return results


if __name__ == "__main__":
    main()
