"""The ``shendu`` command line (also ``python -m shendu``).

    shendu train --model lenet --data mnist-mini --epochs 3     # offline, a few minutes at most
    shendu train --resume runs/lenet-mnist-mini/checkpoint.safetensors --epochs 6
    shendu train --config best_config.toml --epochs 10    # a file of options; flags win
    shendu eval runs/lenet-mnist-mini/checkpoint.safetensors
    shendu summary --model resnet18 --input 3,32,32
    shendu models
    shendu demo

``train`` holds out part of the training split for validation (``--val-fraction``), writes
the full training state after every epoch (``checkpoint.safetensors``, resumable), the best
weights by validation loss (``checkpoint.best.safetensors``), ``history.csv`` and the
loss/accuracy curves (``curves.png``) to ``--out`` (default ``runs/<model>-<data>``), and
ends with the accuracy on the test split.
"""
import argparse
import importlib
import json
import os
import sys

__all__ = ["main", "build_parser", "parse_args", "read_config", "DATASETS"]

# name: (dataset class name, channels, image size, classes, mean, std, ships with shendu)
DATASETS = {
    "mnist-mini": ("MNISTMini", 1, 28, 10, (0.1307,), (0.3081,), True),
    "fashion-mnist-mini": ("FashionMNISTMini", 1, 28, 10, (0.2860,), (0.3530,), True),
    "mnist": ("MNIST", 1, 28, 10, (0.1307,), (0.3081,), False),
    "fashion-mnist": ("FashionMNIST", 1, 28, 10, (0.2860,), (0.3530,), False),
    "cifar10": ("CIFAR10", 3, 32, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
                False),
}
OPTIMIZERS = {"sgd": ("SGD", 0.05), "adam": ("Adam", 1e-3), "adamw": ("AdamW", 1e-3),
              "rmsprop": ("RMSprop", 1e-3)}


# Verbs that live with their own package: each module defines ``add_parser(sub)``, which adds
# its subparser and sets ``func``. The module must import only the standard library at the
# top, so ``shendu --help`` stays fast and works without the optional extras.
_VERB_MODULES = ("shendu.tune._cli",)


class CLIError(Exception):
    """A mistake in the command line: printed without a traceback, exit status 2."""


# ---------------------------------------------------------------------- pieces
def _data_info(name):
    if name not in DATASETS:
        raise CLIError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_split(name, train, data_dir=None, download=False, augment=False):
    """A dataset split with the usual preprocessing (ToTensor, per-channel normalisation;
    CIFAR-10 training adds random crops and flips when ``augment``)."""
    from . import datasets, transforms
    cls, _, size, _, mean, std, ships = _data_info(name)
    steps = [transforms.ToTensor(), transforms.Normalize(mean, std)]
    if augment and train and name == "cifar10":
        steps = [transforms.RandomCrop(size, padding=4), transforms.RandomHorizontalFlip()] + steps
    kwargs = {} if ships else {"root": data_dir, "download": download}
    try:
        return getattr(datasets, cls)(train=train, transform=transforms.Compose(steps), **kwargs)
    except datasets.DatasetNotFoundError as e:
        raise CLIError(f"{e}\n(give the folder with --data-dir DIR, or add --download)") from None


def model_kwargs(model, data, extra=None):
    """Constructor arguments that fit a model to a dataset: classes and channels, the image
    size for LeNet/MLP, ``small_input=True`` for the ImageNet-stem models (every dataset here
    is 28×28 or 32×32), and no auxiliary heads for GoogLeNet."""
    _, ch, size, classes, _, _, _ = _data_info(data)
    kw = {"num_classes": classes, "in_channels": ch}
    if model in ("lenet", "mlp"):
        kw["image_size"] = size
    else:
        kw["small_input"] = True
    if model == "googlenet":
        kw["aux_logits"] = False
    kw.update(extra or {})
    return kw


def build_model_check(name):
    from .models._utils import get_model_builder
    try:
        get_model_builder(name)
    except ValueError as e:
        raise CLIError(str(e)) from None


def build_model(name, **kwargs):
    from . import models
    try:
        return models.get_model(name, **kwargs)
    except ValueError as e:
        if str(e).startswith("unknown model"):
            raise CLIError(str(e)) from None
        raise


def _parse_args_kv(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise CLIError(f"--model-arg expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _check_device(device):
    if device != "cpu":
        raise CLIError(f"--device {device}: shendu runs on the CPU with NumPy; only "
                       f"--device cpu is available")


def _make_optimizer(name, params, lr, momentum, weight_decay):
    from . import optim
    if name not in OPTIMIZERS:
        raise CLIError(f"unknown optimizer {name!r}; available: {', '.join(OPTIMIZERS)}")
    cls = getattr(optim, OPTIMIZERS[name][0])
    kw = {"lr": lr, "weight_decay": weight_decay}
    if name in ("sgd", "rmsprop"):
        kw["momentum"] = momentum
    return cls(params, **kw)


# ---------------------------------------------------------------------- config files
def read_config(path):
    """A mapping from a TOML, YAML or JSON file (chosen by the extension)."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".toml":
            try:
                import tomllib
            except ImportError:                 # Python 3.10: the same parser as tomli
                try:
                    import tomli as tomllib
                except ImportError:
                    raise CLIError(f"{path}: reading TOML needs Python 3.11 or tomli") from None
            with open(path, "rb") as f:
                data = tomllib.load(f)
        elif ext in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise CLIError(f"{path}: reading YAML needs PyYAML: pip install 'shendu[tune]'"
                               ) from None
            with open(path) as f:
                try:
                    data = yaml.safe_load(f) or {}
                except yaml.YAMLError as e:
                    raise ValueError(str(e)) from None
        elif ext == ".json":
            with open(path) as f:
                data = json.load(f)
        else:
            raise CLIError(f"{path}: a config file is .toml, .yaml, .yml or .json")
    except OSError as e:
        raise CLIError(f"cannot read {path}: {e}") from None
    except ValueError as e:         # tomllib.TOMLDecodeError, json.JSONDecodeError, YAML's
        raise CLIError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise CLIError(f"{path}: expected a table of option = value, got {type(data).__name__}")
    return data


class _ConfigAction(argparse.Action):
    """``--config FILE``: the file maps the parser's options (their dests, e.g. ``lr``,
    ``batch_size``; ``model_args`` as a table for ``--model-arg``) to values, which become
    the parser's defaults, so flags given on the command line still win. ``main`` parses a
    second time once the defaults are set."""

    def __call__(self, parser, namespace, path, option_string=None):
        try:
            data = read_config(path)
        except CLIError as e:
            parser.error(str(e))
        actions = {a.dest: a for a in parser._actions
                   if a.dest not in ("help", self.dest) and a.dest is not argparse.SUPPRESS}
        defaults = {}
        for key, value in data.items():
            dest = key.replace("-", "_")
            if dest == "model_args":
                dest = "model_arg"
            if dest not in actions:
                parser.error(f"--config {path}: unknown option {key!r} (options: "
                             f"{', '.join(sorted(actions))})")
            a = actions[dest]
            if isinstance(value, dict) and isinstance(a, argparse._AppendAction):
                value = [f"{k}={json.dumps(v)}" for k, v in value.items()]
            elif isinstance(value, str) and a.type is not None:
                try:
                    value = a.type(value)
                except (TypeError, ValueError):
                    parser.error(f"--config {path}: {key} = {value!r} is not a valid value")
            defaults[dest] = value
        parser.set_defaults(**defaults)
        setattr(namespace, self.dest, path)


def parse_args(argv=None, parser=None):
    """Parse a command line; a ``--config`` file's values become defaults, flags win."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None):
        args = parser.parse_args(argv)        # now with the file's values as defaults
    return args


# ---------------------------------------------------------------------- train
_TRAIN_DEFAULTS = {"model": "lenet", "data": "mnist-mini", "batch_size": 64, "optimizer": "adam",
                   "lr": None, "momentum": 0.9, "weight_decay": 0.0, "seed": 0,
                   "val_fraction": 0.1, "scheduler": "none", "augment": True, "model_args": {},
                   "subset": None}


def _train(args):
    from . import serialization, train as T
    from .utils.data import DataLoader, random_split
    import shendu
    _check_device(args.device)
    given = {k: getattr(args, k, None) for k in _TRAIN_DEFAULTS}
    given["model_args"] = _parse_args_kv(args.model_arg) or None
    saved = {}
    if args.resume:
        try:
            saved = serialization.load(args.resume).get("meta") or {}
        except (OSError, serialization.SerializationError) as e:
            raise CLIError(f"cannot resume: {e}") from None
        saved = saved.get("cli") or {}
        for k in ("model", "data", "model_args"):
            if given[k] is not None and k in saved and given[k] != saved[k]:
                raise CLIError(f"--{k.replace('_', '-')} {given[k]} differs from the checkpoint's "
                               f"{saved[k]!r}; leave it out to resume")
    cfg = {k: given[k] if given[k] is not None else saved.get(k, d)
           for k, d in _TRAIN_DEFAULTS.items()}
    if cfg["lr"] is None:
        cfg["lr"] = OPTIMIZERS.get(cfg["optimizer"], (None, 1e-3))[1]
    _data_info(cfg["data"])
    build_model_check(cfg["model"])
    if not 0 <= cfg["val_fraction"] < 1:
        raise CLIError(f"--val-fraction must be in [0, 1), got {cfg['val_fraction']}")
    out = args.out or (os.path.dirname(os.path.abspath(args.resume)) if args.resume else
                       os.path.join("runs", f"{cfg['model']}-{cfg['data']}"))
    os.makedirs(out, exist_ok=True)

    shendu.manual_seed(cfg["seed"])
    full = load_split(cfg["data"], True, args.data_dir, args.download, cfg["augment"])
    test = load_split(cfg["data"], False, args.data_dir, args.download)
    if cfg["subset"]:
        from .utils.data import Subset
        full = Subset(full, range(min(cfg["subset"], len(full))))
    n_val = int(round(len(full) * cfg["val_fraction"]))
    split = shendu.Generator().manual_seed(cfg["seed"])
    train_set, val_set = random_split(full, [len(full) - n_val, n_val], generator=split)
    loader_gen = shendu.Generator().manual_seed(cfg["seed"] + 1)
    train_loader = DataLoader(train_set, batch_size=cfg["batch_size"], shuffle=True,
                              generator=loader_gen, num_workers=args.num_workers)
    val_loader = DataLoader(val_set, batch_size=500) if n_val else None

    kw = model_kwargs(cfg["model"], cfg["data"], cfg["model_args"])
    model = build_model(cfg["model"], **kw)
    n_params = sum(p.numel() for p in model.parameters())
    opt = _make_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["momentum"],
                          cfg["weight_decay"])
    sched = None
    if cfg["scheduler"] == "cosine":
        from .optim.lr_scheduler import CosineAnnealingLR
        sched = CosineAnnealingLR(opt, T_max=args.epochs)
    elif cfg["scheduler"] != "none":
        raise CLIError(f"unknown scheduler {cfg['scheduler']!r}; available: none, cosine")

    ckpt = os.path.join(out, "checkpoint.safetensors")
    callbacks = [T.CSVLogger(os.path.join(out, "history.csv")),
                 T.ModelCheckpoint(ckpt, monitor="val_loss" if val_loader else None)]
    callbacks += list(getattr(args, "callbacks", ()))      # added by callers (shendu tune)
    trainer = T.Trainer(model, opt, scheduler=sched, callbacks=callbacks,
                        progress=not args.no_progress)
    trainer.meta["cli"] = cfg
    print(f"shendu train: {cfg['model']} ({n_params:,} parameters) on {cfg['data']} — "
          f"{len(train_set):,} training / {n_val:,} validation / {len(test):,} test images; "
          f"{cfg['optimizer']} lr={cfg['lr']:g}, batch {cfg['batch_size']}, "
          f"{args.epochs} epochs; writing to {out}")
    hist = trainer.fit(train_loader, val_loader, epochs=args.epochs, resume=args.resume)
    if len(hist):
        try:
            hist.plot(os.path.join(out, "curves.png"),
                      title=f"{cfg['model']} on {cfg['data']}")
        except ImportError as e:
            print(f"(no curves: {e})")
    if hist.interrupted:
        print(f"interrupted; continue with: shendu train --resume {ckpt} --epochs {args.epochs}")
        return 130
    res = T.evaluate(model, DataLoader(test, batch_size=500))
    print(f"test accuracy: {100 * res['accuracy']:.2f}% (loss {res['loss']:.4f}, "
          f"{len(test):,} images)")
    print(f"saved: {ckpt} (resumable), {os.path.join(out, 'checkpoint.best.safetensors')} "
          f"(best validation loss), {os.path.join(out, 'curves.png')}, "
          f"{os.path.join(out, 'history.csv')}")
    return 0


# ---------------------------------------------------------------------- eval
def _eval(args):
    import numpy as np
    from . import serialization, models, train as T
    from .utils.data import DataLoader
    _check_device(args.device)
    try:
        state = serialization.load(args.checkpoint)
    except (OSError, serialization.SerializationError) as e:
        raise CLIError(str(e)) from None
    cli = ((state.get("meta") or {}).get("cli") or {}) if "model" in state else {}
    data = args.data or cli.get("data")
    if data is None:
        raise CLIError(f"{args.checkpoint} does not say which dataset it was trained on; "
                       f"add --data ({', '.join(DATASETS)})")
    _data_info(data)
    if "model" in state and state.get("model_spec"):
        model = models.from_checkpoint(state)
        name = state["model_spec"]["name"]
    else:
        name = args.model or cli.get("model")
        if name is None:
            raise CLIError(f"{args.checkpoint} holds weights only; add --model NAME (and the "
                           f"--model-arg options it was built with)")
        model = build_model(name, **model_kwargs(name, data, _parse_args_kv(args.model_arg)))
        model.load_state_dict(state.get("model", state))
    split = load_split(data, args.split == "train", args.data_dir, args.download)
    loader = DataLoader(split, batch_size=args.batch_size)
    res = T.evaluate(model, loader)
    print(f"{name} on {data} ({args.split}, {len(split):,} images): accuracy "
          f"{100 * res['accuracy']:.2f}%  error {100 * (1 - res['accuracy']):.2f}%  "
          f"loss {res['loss']:.4f}")
    pred = T.predict(model, loader).numpy().argmax(1)
    y = np.concatenate([t.numpy() for _, t in loader])
    classes = getattr(split, "classes", None) or [str(i) for i in range(pred.max() + 1)]
    print("per class: " + "  ".join(f"{c}: {100 * (pred[y == i] == i).mean():.1f}%"
                                    for i, c in enumerate(classes) if (y == i).any()))
    return 0


# ---------------------------------------------------------------------- summary, models
def _summary(args):
    from .summary import summary
    try:
        size = tuple(int(v) for v in args.input.split(","))
    except ValueError:
        size = ()
    if len(size) < 1 or any(v <= 0 for v in size):
        raise CLIError(f"--input expects C,H,W (e.g. 3,32,32), got {args.input!r}")
    kw = {"num_classes": args.num_classes, "in_channels": size[0]}
    if args.model in ("lenet", "mlp") and len(size) == 3:
        kw["image_size"] = size[1]
    if args.small_input:
        kw["small_input"] = True
    kw.update(_parse_args_kv(args.model_arg))
    model = build_model(args.model, **kw)
    summary(model, size, batch_size=args.batch_size)
    return 0


def _models(args):
    from . import models
    from .models._utils import get_model_builder
    fams = {}
    for n in models.list_models():
        fams.setdefault(get_model_builder(n).__module__.rsplit(".", 1)[-1], []).append(n)
    print("shendu.models — build with shendu.models.get_model(name, num_classes=..., "
          "in_channels=..., small_input=True for 32×32 images)")
    for fam, names in fams.items():
        print(f"  {fam:11s} {', '.join(names)}")
    return 0


def _demo(args):
    from .examples.two_two_two import main
    main(args.steps)
    return 0


# ---------------------------------------------------------------------- parser
def build_parser():
    p = argparse.ArgumentParser(prog="shendu", description="shendu (深度): deep learning on NumPy "
                                "with PyTorch's API")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a zoo model on a dataset (offline: mnist-mini)",
                       description="Train, validate, checkpoint every epoch, plot the curves "
                       "and report the test accuracy.")
    t.add_argument("--config", action=_ConfigAction, metavar="FILE", help="TOML, YAML or "
                   "JSON file of option = value (e.g. lr = 0.01, batch_size = 128; model_args "
                   "as a table); flags on the command line override it")
    t.add_argument("--model", help="a zoo model (see `shendu models`; default lenet)")
    t.add_argument("--data", help=f"dataset: {', '.join(DATASETS)} (default mnist-mini)")
    t.add_argument("--data-dir", help="folder holding the dataset files (mnist, fashion-mnist, "
                   "cifar10)")
    t.add_argument("--download", action="store_true", help="download a missing dataset")
    t.add_argument("--epochs", type=int, default=3, help="train until this epoch (default 3)")
    t.add_argument("--batch-size", type=int)
    t.add_argument("--optimizer", help=f"{', '.join(OPTIMIZERS)} (default adam)")
    t.add_argument("--lr", type=float, help="learning rate (default 1e-3 for adam, 0.05 sgd)")
    t.add_argument("--momentum", type=float, help="for sgd and rmsprop (default 0.9)")
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--scheduler", help="none or cosine (default none)")
    t.add_argument("--val-fraction", type=float, help="training images held out for "
                   "validation (default 0.1)")
    t.add_argument("--no-augment", dest="augment", action="store_const", const=False,
                   help="no random crops/flips on CIFAR-10")
    t.add_argument("--model-arg", action="append", metavar="KEY=VALUE",
                   help="extra constructor argument, e.g. --model-arg dropout=0.2")
    t.add_argument("--subset", type=int, metavar="N", help="use only the first N training "
                   "images (quick tries)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", default="cpu")
    t.add_argument("--num-workers", type=int, default=0)
    t.add_argument("--out", help="output folder (default runs/<model>-<data>)")
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint on a dataset's test split")
    e.add_argument("checkpoint")
    e.add_argument("--data", help="dataset (default: the one the checkpoint was trained on)")
    e.add_argument("--data-dir")
    e.add_argument("--download", action="store_true")
    e.add_argument("--split", choices=["test", "train"], default="test")
    e.add_argument("--model", help="for a weights-only file: the zoo model it belongs to")
    e.add_argument("--model-arg", action="append", metavar="KEY=VALUE")
    e.add_argument("--batch-size", type=int, default=500)
    e.add_argument("--device", default="cpu")
    e.set_defaults(func=_eval)

    s = sub.add_parser("summary", help="per-layer table: shapes, parameters, mult-adds, "
                       "receptive field")
    s.add_argument("--model", required=True)
    s.add_argument("--input", required=True, help="C,H,W of one input, e.g. 3,32,32")
    s.add_argument("--num-classes", type=int, default=1000)
    s.add_argument("--small-input", action="store_true", help="the 32×32 variant of an "
                   "ImageNet model")
    s.add_argument("--batch-size", type=int, default=1)
    s.add_argument("--model-arg", action="append", metavar="KEY=VALUE")
    s.set_defaults(func=_summary)

    m = sub.add_parser("models", help="list the model zoo")
    m.set_defaults(func=_models)

    d = sub.add_parser("demo", help="train the notes' 2-2-2 network by backprop (seed 002 §3.2.5)")
    d.add_argument("--steps", type=int, default=10000)
    d.set_defaults(func=_demo)

    for name in _VERB_MODULES:
        importlib.import_module(name).add_parser(sub)
    return p


def main(argv=None):
    parser = build_parser()
    args = parse_args(argv, parser)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except CLIError as e:
        print(f"shendu {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
