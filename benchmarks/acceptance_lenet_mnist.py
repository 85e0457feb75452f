"""Acceptance: LeNet-5 on the full MNIST (60,000 training / 10,000 test images) must reach
≥ 99.0% test accuracy, and its time per epoch should be ≤ 1.5× PyTorch's for the same model,
data pipeline, batch size and optimizer (each framework in its own process, same session,
epochs in turns).

    python benchmarks/acceptance_lenet_mnist.py                       # both frameworks
    python benchmarks/acceptance_lenet_mnist.py --frameworks shendu --epochs 3
    python benchmarks/acceptance_lenet_mnist.py --data-dir /path/to/mnist --threads 2

The model is ``shendu.models.lenet()`` (ReLU, max pooling, padding 2 on the first
convolution) and the same architecture written in torch (tests/models/zoo_refs.py); Adam (lr 1e-3), batch
128, the learning rate divided by 10 for the last two epochs. Prints a markdown table.
Long: about 10 epochs × 2 frameworks; run it on an otherwise idle machine.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acceptance_common import (load_mnist_like, train_and_time, parse_args,  # noqa: E402
                               run_all, finish, markdown, torch_twins,
                               wait_turn)

DEFAULT_DATA = "/work/shared/data/mnist"


def worker(fw, args):
    if fw == "torch":
        import torch as lib
        lib.set_num_threads(args.threads)
        lib.manual_seed(args.seed)
        model = torch_twins().TorchLeNet()
    else:
        import shendu as lib
        from shendu import models
        lib.manual_seed(args.seed)
        model = models.lenet()
    data = load_mnist_like(args.data_dir, 0.1307, 0.3081)
    opt = lambda params: lib.optim.Adam(params, lr=args.lr)                       # noqa: E731
    sched = lambda o: lib.optim.lr_scheduler.MultiStepLR(                         # noqa: E731
        o, milestones=[max(1, args.epochs - 2)], gamma=0.1)
    rec = train_and_time(lib, model, data, args.epochs, args.batch_size, opt, sched,
                         limit=args.limit, log=lambda s: print(s, file=sys.stderr, flush=True),
                         turn=wait_turn)
    finish(lib, rec, args, len(data[0]))


def main():
    args = parse_args(__doc__, DEFAULT_DATA, epochs=10, lr=1e-3)
    if args.worker:
        return worker(args.worker, args)
    res = run_all(os.path.abspath(__file__), args)
    print(markdown(f"LeNet-5 on MNIST ({args.epochs} epochs, Adam, batch {args.batch_size}, "
                   f"{args.threads} threads)", res, target_ratio=1.5, accuracy_goal=0.99))


if __name__ == "__main__":
    main()
