"""``shendu diagnose``: a few hooked training steps of a zoo model on a dataset, and the
findings (dead ReLUs, vanishing or exploding gradients, ...) with the layers named.

    shendu diagnose --model lenet --data mnist-mini
    shendu diagnose --model resnet18 --data mnist-mini --steps 10 --html report.html
"""
import os

from .._cli_types import key_value, non_negative_float, positive_float, positive_int


def add_parser(sub):
    p = sub.add_parser("diagnose", help="train a zoo model for a few steps with hooks on every "
                       "layer and name what is wrong (seeds 001/002 §3.1.5)",
                       description="Run a few training steps with hooks on every layer and "
                       "print the findings: vanishing/exploding gradients, dead ReLUs, "
                       "saturated units, collapsing/exploding activations, update/weight "
                       "ratios, NaN — each with the layer, the value, the threshold and advice.")
    p.add_argument("--model", default="lenet", help="a zoo model (default lenet)")
    p.add_argument("--data", default="mnist-mini", help="dataset (default mnist-mini)")
    p.add_argument("--data-dir")
    p.add_argument("--download", action="store_true")
    p.add_argument("--steps", type=positive_int, default=20, help="training steps (default 20)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--optimizer", default="adam", help="any optimizer of `shendu train`, or "
                   "none (forward and backward only; default adam)")
    p.add_argument("--lr", type=positive_float, help="learning rate (default: the "
                   "optimizer's, 1e-3 for adam, 0.05 for sgd)")
    p.add_argument("--momentum", type=non_negative_float, help="for sgd and rmsprop "
                   "(default 0.9)")
    p.add_argument("--model-arg", action="append", metavar="KEY=VALUE", type=key_value)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--table", action="store_true", help="also print the per-layer statistics")
    p.add_argument("--plot", metavar="PNG", help="write the gradient-flow picture")
    p.add_argument("--html", metavar="HTML", help="write a self-contained report page")
    p.set_defaults(func=_diagnose)


def _diagnose(args):
    import shendu
    from .. import cli, nn
    from ..utils.data import DataLoader
    from .report import run
    cli.build_model_check(args.model)
    shendu.manual_seed(args.seed)
    data = cli.load_split(args.data, True, args.data_dir, args.download)
    gen = shendu.Generator().manual_seed(args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True, generator=gen)
    model = cli.build_model(args.model, **cli.model_kwargs(args.model, args.data,
                                                           cli._parse_args_kv(args.model_arg)))
    opt, lr = None, None
    if args.optimizer != "none":
        lr = args.lr if args.lr is not None else cli.OPTIMIZERS.get(args.optimizer,
                                                                    (None, 1e-3))[1]
        options = {} if args.momentum is None else {"momentum": args.momentum}
        opt, _ = cli._make_optimizer({"optimizer": args.optimizer, "lr": lr, "options": options,
                                      "scheduler": "none"}, model.parameters(), args.steps)
    how = f"{args.optimizer} lr={lr:g}" if opt is not None else "forward/backward only"
    title = f"{args.model} on {args.data}, {how}, batch {args.batch_size}"
    print(f"shendu diagnose: {title}, {args.steps} steps")
    report = run(model, loader, nn.CrossEntropyLoss(), optimizer=opt, steps=args.steps,
                 title=title)
    print(report)
    if args.table:
        print(report.table())
    for path, write in ((args.plot, report.plot), (args.html, report.html)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            try:
                write(path)
            except ImportError as e:
                raise cli.CLIError(str(e)) from None
            print(f"wrote {path}")
    return 0
