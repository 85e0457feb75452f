"""Acceptance: a CIFAR-style ResNet-18 (3×3 stride-1 stem, no max pool:
``shendu.models.resnet18(num_classes=10, in_channels=1, small_input=True)``) trained for one
epoch on Fashion-MNIST (60,000 training / 10,000 test images): test accuracy and time per
epoch beside PyTorch's for the same model (tests/models/zoo_refs.py), data pipeline, batch
size and optimizer, each framework in its own process, in the same session.

    python benchmarks/acceptance_resnet_fashion.py                  # 1 epoch, both (long)
    python benchmarks/acceptance_resnet_fashion.py --limit 6000     # a shorter timing run

SGD (lr 0.05, momentum 0.9, weight decay 5e-4), batch 128. Prints a markdown table.
An epoch is 60,000 × ~1.3 GFLOP: a quarter of an hour or more per framework on 2 cores.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acceptance_common import (load_mnist_like, train_and_time, parse_args,  # noqa: E402
                               run_all, finish, markdown, torch_twins,
                               wait_turn)

DEFAULT_DATA = "/work/shared/data/fashion-mnist"


def worker(fw, args):
    if fw == "torch":
        import torch as lib
        lib.set_num_threads(args.threads)
        lib.manual_seed(args.seed)
        model = torch_twins().TorchResNet18(num_classes=10, in_channels=1, small_input=True)
    else:
        import shendu as lib
        from shendu import models
        lib.manual_seed(args.seed)
        model = models.resnet18(num_classes=10, in_channels=1, small_input=True)
    data = load_mnist_like(args.data_dir, 0.2860, 0.3530)
    opt = lambda params: lib.optim.SGD(params, lr=args.lr, momentum=0.9,         # noqa: E731
                                       weight_decay=5e-4)
    rec = train_and_time(lib, model, data, args.epochs, args.batch_size, opt, limit=args.limit,
                         log=lambda s: print(s, file=sys.stderr, flush=True),
                         turn=wait_turn)
    finish(lib, rec, args, len(data[0]))


def main():
    args = parse_args(__doc__, DEFAULT_DATA, epochs=1, lr=0.05)
    if args.worker:
        return worker(args.worker, args)
    res = run_all(os.path.abspath(__file__), args)
    n = f"{args.limit:,} images" if args.limit else "60,000 images"
    print(markdown(f"CIFAR-style ResNet-18 on Fashion-MNIST ({args.epochs} epoch, {n}, SGD, "
                   f"batch {args.batch_size}, {args.threads} threads)", res))


if __name__ == "__main__":
    main()
