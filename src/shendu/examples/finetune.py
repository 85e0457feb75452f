"""Fine-tuning (seed 001 微调; seed 002 §3.7.4, the three states of a fine-tuned model).

A LeNet-5 is pre-trained on handwritten digits (MNISTMini), saved, and reused for clothing
(FashionMNISTMini) with only a few labelled images per class — the situation the notes
describe: a target dataset far too small to train a network from scratch.

    python -m shendu.examples.finetune                 # under a minute on 2 idle cores
    python -m shendu.examples.finetune --target-size 1000 --body-lr-scale 0.1

The run prints the test accuracy of each state and of training from scratch on the same
images. Digits and clothes share only low-level features (strokes, edges), which is what a
frozen body (state 2) can offer; state 3 adapts it. With more target images the advantage
of pre-training shrinks.

The three states, side by side with training from scratch on the same images:

1. predict only: the pre-trained network as it is, no training (fast and simple, right
   when the model already does the target task; here its classes are digits, not clothes);
2. train the classifier only: the body is frozen with ``requires_grad_(False)``, the last
   layer is replaced by a new one for the new classes and trained alone;
3. train everything: new head and body together, the body with a smaller learning rate
   (two parameter groups), since its pre-trained features need only small adjustments.
"""
import argparse
import os
import tempfile
import time

import shendu
from shendu import models, nn, optim, transforms
from shendu.datasets import MNISTMini, FashionMNISTMini
from shendu.train import fit, evaluate
from shendu.utils.data import DataLoader, Subset

__all__ = ["main", "replace_head", "freeze_body"]


def _loaders(cls, mean, std, n_train, batch_size, seed):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    train, test = cls(train=True, transform=tf), cls(train=False, transform=tf)
    if n_train < len(train):          # a class-balanced subset: n_train // 10 images per class
        labels = train.targets.numpy()
        per = max(1, n_train // 10)
        idx = sorted(i for c in range(10) for i in (labels == c).nonzero()[0][:per])
        train = Subset(train, idx)
    gen = shendu.Generator().manual_seed(seed)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=gen),
            DataLoader(test, batch_size=500), len(train))


def replace_head(model, num_classes):
    """A new last layer (LeNet's ``fc3``) for ``num_classes``, freshly initialised."""
    model.fc3 = nn.Linear(model.fc3.in_features, num_classes)
    return model.fc3


def freeze_body(model):
    """requires_grad_(False) on everything but the head: no gradients, no updates."""
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("fc3."))


def _trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main(argv=None, out=print):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pretrain-epochs", type=int, default=3)
    p.add_argument("--pretrain-size", type=int, default=10000, help="MNIST images for "
                   "pre-training (MNISTMini has 10,000)")
    p.add_argument("--target-size", type=int, default=300, help="Fashion-MNIST training "
                   "images for fine-tuning (balanced over the 10 classes)")
    p.add_argument("--epochs", type=int, default=20, help="fine-tuning epochs per state")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--body-lr-scale", type=float, default=0.5, help="state 3: the body's "
                   "learning rate relative to the head's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for the pre-trained weights "
                   "(default: a temporary folder)")
    args = p.parse_args(argv)
    out_dir = args.out or tempfile.mkdtemp(prefix="shendu-finetune-")
    os.makedirs(out_dir, exist_ok=True)
    quiet = dict(progress=False, log=None)

    # ---- pre-training on digits
    shendu.manual_seed(args.seed)
    src_train, src_test, n_src = _loaders(MNISTMini, 0.1307, 0.3081, args.pretrain_size, 64,
                                          args.seed)
    tgt_train, tgt_test, n_tgt = _loaders(FashionMNISTMini, 0.2860, 0.3530, args.target_size,
                                          32, args.seed)
    out(f"pre-training LeNet-5 on {n_src:,} MNIST digits for {args.pretrain_epochs} epochs ...")
    t0 = time.perf_counter()
    net = models.lenet()
    fit(net, src_train, optimizer=optim.Adam(net.parameters(), lr=1e-3),
        epochs=args.pretrain_epochs, **quiet)
    src_acc = evaluate(net, src_test)["accuracy"]
    weights = os.path.join(out_dir, "lenet_mnist.safetensors")
    shendu.save(net.state_dict(), weights)
    out(f"  MNIST test accuracy {100 * src_acc:.2f}% ({time.perf_counter() - t0:.1f}s); "
        f"weights saved to {weights}")
    out(f"fine-tuning on {n_tgt:,} Fashion-MNIST images ({n_tgt // 10} per class), "
        f"{args.epochs} epochs each; accuracy on the {len(tgt_test.dataset):,} test images:")

    results = {}

    def run(label, model, optimizer, epochs):
        shendu.manual_seed(args.seed + 1)
        t = time.perf_counter()
        if epochs:
            fit(model, tgt_train, optimizer=optimizer, epochs=epochs, **quiet)
        acc = evaluate(model, tgt_test)["accuracy"]
        results[label] = {"accuracy": acc, "trainable": _trainable(model) if epochs else 0,
                          "seconds": time.perf_counter() - t, "model": model}
        out(f"  {label:42s} {100 * acc:6.2f}%   trainable {results[label]['trainable']:>6,}   "
            f"{results[label]['seconds']:5.1f}s")

    # state 1: predict only — the digit classifier applied to clothes, untouched
    run("1. predict only (pre-trained, no training)", models.lenet(weights=weights), None, 0)

    # state 2: frozen body, new head trained alone
    m2 = models.lenet(weights=weights)
    freeze_body(m2)
    head = replace_head(m2, 10)
    run("2. train the new classifier only", m2, optim.Adam(head.parameters(), lr=args.lr),
        args.epochs)

    # state 3: everything, the body at a smaller learning rate (two parameter groups)
    m3 = models.lenet(weights=weights)
    head = replace_head(m3, 10)
    body = [p for n, p in m3.named_parameters() if not n.startswith("fc3.")]
    groups = [{"params": body, "lr": args.lr * args.body_lr_scale},
              {"params": list(head.parameters())}]
    run(f"3. train all (body lr x{args.body_lr_scale:g})", m3, optim.Adam(groups, lr=args.lr),
        args.epochs)

    # for comparison: the same network from a random initialisation, same images and epochs
    shendu.manual_seed(args.seed + 2)
    m0 = models.lenet()
    run("   from scratch (no pre-training)", m0, optim.Adam(m0.parameters(), lr=args.lr),
        args.epochs)
    results["pretrained_mnist_accuracy"] = src_acc
    results["weights"] = weights
    return results


if __name__ == "__main__":
    main()
