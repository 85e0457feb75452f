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
import warnings

__all__ = ["main", "build_parser", "parse_args", "read_config", "DATASETS", "positive_int",
           "non_negative_int", "positive_float", "non_negative_float", "finite_float",
           "fraction", "key_value"]

# name: (dataset class name, channels, image size, classes, mean, std, ships with shendu)
DATASETS = {
    "mnist-mini": ("MNISTMini", 1, 28, 10, (0.1307,), (0.3081,), True),
    "fashion-mnist-mini": ("FashionMNISTMini", 1, 28, 10, (0.2860,), (0.3530,), True),
    "mnist": ("MNIST", 1, 28, 10, (0.1307,), (0.3081,), False),
    "fashion-mnist": ("FashionMNIST", 1, 28, 10, (0.2860,), (0.3530,), False),
    "cifar10": ("CIFAR10", 3, 32, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
                False),
}
# every optimizer and lr_scheduler, with the options each reads: shendu/_cli_optim.py
from ._cli_optim import OPTIMIZERS, SCHEDULERS, scheduler_spec  # noqa: E402


# Verbs that live with their own package: each module defines ``add_parser(sub)``, which adds
# its subparser and sets ``func``. The module must import only the standard library at the
# top, so ``shendu --help`` stays fast and works without the optional extras.
_VERB_MODULES = ("shendu.tune._cli", "shendu.diagnose._cli", "shendu.experiments._cli")


class CLIError(Exception):
    """A mistake in the command line: printed without a traceback, exit status 2."""


# Argument types (``add_argument(type=...)``): a bad value becomes argparse's own ``error:
# argument --flag:`` line and exit status 2, before anything is loaded or written.
from ._cli_types import (positive_int, non_negative_int, finite_float,  # noqa: E402
                         positive_float, non_negative_float, fraction, key_value)


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
        raise CLIError(f"argument --model: {e}") from None


def build_model(name, **kwargs):
    """A zoo model; an unknown name or constructor arguments it refuses (an unknown
    keyword, a value of the wrong kind or size) are CLI errors naming the flag."""
    from . import models
    build_model_check(name)
    try:
        return models.get_model(name, **kwargs)
    except (TypeError, ValueError, OverflowError, MemoryError) as e:
        kw = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        raise CLIError(f"argument --model-arg: {name}({kw}) cannot be built: {e}") from None


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


def _make_optimizer(cfg, params, epochs):
    """The optimizer and the schedule of a run (``_cli_optim``'s tables)."""
    from . import _cli_optim
    try:
        opt = _cli_optim.make_optimizer(cfg["optimizer"], params, cfg["lr"], cfg["options"])
        return opt, _cli_optim.make_scheduler(cfg["scheduler"], opt, epochs, cfg["options"])
    except (ValueError, TypeError) as e:
        raise CLIError(str(e)) from None


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
                   "lr": None, "options": {}, "seed": 0,
                   "val_fraction": 0.1, "scheduler": "none", "augment": True, "model_args": {},
                   "subset": None}


def _train(args):
    from . import serialization, train as T
    from .utils.data import DataLoader, random_split
    from .distributed import launch
    import shendu
    _check_device(args.device)
    if args.nproc is not None and args.nproc > 1 and not launch.launched_by_mpi():
        return _relaunch(args)
    try:
        rank, world = launch.join_launch()      # (0, 1) outside mpiexec
    except ImportError as e:
        raise CLIError(str(e)) from None
    say = print if rank == 0 else (lambda *a, **k: None)    # rank 0 alone prints
    given = {k: getattr(args, k, None) for k in _TRAIN_DEFAULTS}
    given["model_args"] = _parse_args_kv(args.model_arg) or None
    from ._cli_optim import option_values
    given["options"] = option_values(args) or None
    saved, resumed = {}, None
    if args.resume:
        try:
            resumed = serialization.load(args.resume)
        except (OSError, serialization.SerializationError) as e:
            raise CLIError(f"argument --resume: cannot resume: {e}") from None
        missing = [k for k in ("model", "optimizer", "rng", "epoch", "step")
                   if not isinstance(resumed, dict) or k not in resumed]
        if missing:
            raise CLIError(f"argument --resume: {args.resume} is not a training checkpoint "
                           f"written by shendu train (missing {missing})")
        saved = (resumed.get("meta") or {}).get("cli") or {}
        for k in ("model", "data", "model_args"):
            if given[k] is not None and k in saved and given[k] != saved[k]:
                raise CLIError(f"--{k.replace('_', '-')} {given[k]} differs from the checkpoint's "
                               f"{saved[k]!r}; leave it out to resume")
    cfg = {k: given[k] if given[k] is not None else saved.get(k, d)
           for k, d in _TRAIN_DEFAULTS.items()}
    cfg["options"] = {**saved.get("options", {}), **(given["options"] or {})}
    if cfg["lr"] is None:
        cfg["lr"] = OPTIMIZERS.get(cfg["optimizer"], (None, 1e-3))[1]
    _data_info(cfg["data"])
    build_model_check(cfg["model"])
    if not 0 <= cfg["val_fraction"] < 1:
        raise CLIError(f"--val-fraction must be in [0, 1), got {cfg['val_fraction']}")
    out = args.out or (os.path.dirname(os.path.abspath(args.resume)) if args.resume else
                       os.path.join("runs", f"{cfg['model']}-{cfg['data']}"))

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
    batch, sampler = cfg["batch_size"], None
    if world > 1:       # data-parallel: each process takes 1/world of each batch one process
        from .utils.data import RandomSampler, ShardedSampler     # would train on
        batch = max(1, round(batch / world))
        sampler = ShardedSampler(RandomSampler(train_set, generator=loader_gen), world, rank)
    train_loader = DataLoader(train_set, batch_size=batch, shuffle=sampler is None,
                              sampler=sampler, generator=loader_gen,
                              num_workers=args.num_workers)
    val_loader = DataLoader(val_set, batch_size=500) if n_val else None

    kw = model_kwargs(cfg["model"], cfg["data"], cfg["model_args"])
    if resumed is None:
        model = build_model(cfg["model"], **kw)
    else:                           # no bigger than the checkpoint's own tensors
        from .models._utils import build_within
        try:
            model = build_within(resumed["model"], cfg["model"], kw, args.resume)
            model.load_state_dict(resumed["model"])     # a smaller spec: named here, not in fit
        except (TypeError, ValueError, RuntimeError, OverflowError) as e:
            raise CLIError(f"argument --resume: {e}") from None
        del resumed
    n_params = sum(p.numel() for p in model.parameters())
    opt, sched = _make_optimizer(cfg, model.parameters(), args.epochs)

    if rank == 0:
        os.makedirs(out, exist_ok=True)
    ckpt = os.path.join(out, "checkpoint.safetensors")
    callbacks = [T.CSVLogger(os.path.join(out, "history.csv")),
                 T.ModelCheckpoint(ckpt, monitor="val_loss" if val_loader else None)]
    callbacks += list(getattr(args, "callbacks", ()))      # added by callers (shendu tune)
    if args.diagnose is not None:
        from .diagnose import DiagnosticsCallback
        callbacks.append(DiagnosticsCallback(every=args.diagnose, log=say))
    if args.tensorboard:
        try:
            callbacks.append(T.TensorBoard(args.tensorboard))
        except ImportError as e:
            raise CLIError(str(e)) from None
    if world > 1:
        from .nn.parallel import DistributedDataParallel
        trainer_model = DistributedDataParallel(model)
    else:
        trainer_model = model
    trainer = T.Trainer(trainer_model, opt, scheduler=sched, callbacks=callbacks,
                        progress=not args.no_progress)
    trainer.meta["cli"] = cfg
    if world > 1:
        say(f"data-parallel: {world} processes × batch {batch} (global batch {batch * world})")
    say(f"shendu train: {cfg['model']} ({n_params:,} parameters) on {cfg['data']} — "
        f"{len(train_set):,} training / {n_val:,} validation / {len(test):,} test images; "
        f"{cfg['optimizer']} lr={cfg['lr']:g}, batch {cfg['batch_size']}, "
        f"{args.epochs} epochs; writing to {out}")
    try:
        with warnings.catch_warnings():     # NumPy's overflow warnings: the check below says it
            warnings.filterwarnings("ignore", "(overflow|invalid value|divide by zero) "
                                    "encountered", RuntimeWarning)
            hist = trainer.fit(train_loader, val_loader, epochs=args.epochs, resume=args.resume)
    except FloatingPointError as e:                 # a diverging run: one line, no traceback
        last = f"; the last good epoch is in {ckpt}" if trainer.epoch > 1 else ""
        say(f"shendu train: diverged: {e}{last}", file=sys.stderr)
        return 1
    if len(hist) and rank == 0:
        try:
            hist.plot(os.path.join(out, "curves.png"),
                      title=f"{cfg['model']} on {cfg['data']}")
        except ImportError as e:
            print(f"(no curves: {e})")
    if args.diagnose is not None and len(hist):
        from .diagnose import curves
        say(f"the run as a whole: {curves(hist)}")
    if hist.interrupted:
        say(f"interrupted; continue with: shendu train --resume {ckpt} --epochs {args.epochs}")
        return 130
    res = T.evaluate(model, DataLoader(test, batch_size=500))
    say(f"test accuracy: {100 * res['accuracy']:.2f}% (loss {res['loss']:.4f}, "
        f"{len(test):,} images)")
    say(f"saved: {ckpt} (resumable), {os.path.join(out, 'checkpoint.best.safetensors')} "
        f"(best validation loss), {os.path.join(out, 'curves.png')}, "
        f"{os.path.join(out, 'history.csv')}")
    return 0


def _relaunch(args):
    """``--nproc N``: run this same command in N processes under mpiexec (inside it,
    ``--nproc`` is ignored: the processes see that mpiexec started them)."""
    from .distributed import launch
    try:
        return launch.relaunch(args.nproc, args.argv)
    except FileNotFoundError as e:
        raise CLIError(str(e)) from None


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
    if not isinstance(state, dict):
        raise CLIError(f"{args.checkpoint} holds a {type(state).__name__}, not a checkpoint or a "
                       f"state dict")
    cli = ((state.get("meta") or {}).get("cli") or {}) if "model" in state else {}
    data = args.data or cli.get("data")
    if data is None:
        raise CLIError(f"{args.checkpoint} does not say which dataset it was trained on; "
                       f"add --data ({', '.join(DATASETS)})")
    _data_info(data)
    if "model" in state and state.get("model_spec"):
        try:
            model = models.from_checkpoint(state)
        except (TypeError, ValueError, RuntimeError, OverflowError) as e:
            raise CLIError(f"{args.checkpoint}: {e}") from None
        name = state["model_spec"]["name"]
    else:
        name = args.model or cli.get("model")
        if name is None:
            raise CLIError(f"{args.checkpoint} holds weights only; add --model NAME (and the "
                           f"--model-arg options it was built with)")
        model = build_model(name, **model_kwargs(name, data, _parse_args_kv(args.model_arg)))
        try:
            model.load_state_dict(state.get("model", state))
        except (RuntimeError, TypeError, ValueError) as e:
            detail = "; ".join(ln.strip() for ln in str(e).splitlines() if ln.strip())
            raise CLIError(f"{args.checkpoint} does not fit {name}: {detail}") from None
    split = load_split(data, args.split == "train", args.data_dir, args.download)
    loader = DataLoader(split, batch_size=args.batch_size)
    res = T.evaluate(model, loader)
    print(f"{name} on {data} ({args.split}, {len(split):,} images): accuracy "
          f"{100 * res['accuracy']:.2f}%  error {100 * (1 - res['accuracy']):.2f}%  "
          f"loss {res['loss']:.4f}")
    from . import visualize
    pred = T.predict(model, loader).numpy().argmax(1)
    y = np.concatenate([t.numpy() for _, t in loader])
    classes = getattr(split, "classes", None) or [str(i) for i in range(pred.max() + 1)]
    cm = visualize.confusion_matrix(pred, y, num_classes=len(classes))
    print(visualize.format_report(cm, classes))
    if args.confusion:
        try:
            visualize.plot_confusion_matrix(cm, args.confusion, classes,
                                            title=f"{name} on {data} ({args.split})")
            print(f"saved: {args.confusion}")
        except ImportError as e:
            print(f"(no plot: {e})")
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
    kw = summary_kwargs(args.model, size, args.num_classes, args.small_input)
    kw.update(_parse_args_kv(args.model_arg))
    model = build_model(args.model, **kw)
    try:
        table = summary(model, size, batch_size=args.batch_size, verbose=0)
    except RuntimeError as e:               # an ImageNet stem shrinks a small image to nothing
        if "small_input" in kw or len(size) != 3 or args.model in ("lenet", "mlp"):
            raise CLIError(f"{args.model} does not fit an input of {args.input}: {e}") from None
        table = summary(build_model(args.model, **{**kw, "small_input": True}), size,
                        batch_size=args.batch_size, verbose=0)
        print(f"({args.model}'s ImageNet stem does not fit {'×'.join(map(str, size[1:]))} "
              f"images; this is its small_input variant)")
    print(table)
    return 0


def summary_kwargs(model, size, num_classes, small_input=False):
    """Constructor arguments that fit a zoo model to one input of ``size``: (features,) for
    the MLP; (C, H, W) for images — LeNet and the MLP take the image size, the others their
    channels (and ``small_input`` when asked; ``_summary`` falls back to it when the ImageNet
    stem does not fit)."""
    if len(size) == 1:
        if model != "mlp":
            raise CLIError(f"--input {size[0]}: a vector input fits only the mlp; give "
                           f"C,H,W for {model}")
        return {"num_classes": num_classes, "in_features": size[0]}
    if len(size) != 3:
        raise CLIError(f"--input expects C,H,W (or N features for the mlp), got "
                       f"{','.join(map(str, size))}")
    kw = {"num_classes": num_classes, "in_channels": size[0]}
    if model in ("lenet", "mlp"):
        if size[1] != size[2]:
            raise CLIError(f"{model} takes square images, got {size[1]}×{size[2]}")
        kw["image_size"] = size[1]
    elif small_input:
        kw["small_input"] = True
    return kw


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
    t.add_argument("--data", choices=list(DATASETS), help="default mnist-mini")
    t.add_argument("--data-dir", help="folder holding the dataset files (mnist, fashion-mnist, "
                   "cifar10)")
    t.add_argument("--download", action="store_true", help="download a missing dataset")
    t.add_argument("--epochs", type=positive_int, default=3,
                   help="train until this epoch (default 3)")
    t.add_argument("--batch-size", type=positive_int)
    t.add_argument("--optimizer", choices=list(OPTIMIZERS), help="default adam")
    t.add_argument("--lr", type=positive_float, help="learning rate (default: the optimizer's, "
                   "1e-3 for adam, 0.05 for sgd)")
    t.add_argument("--scheduler", type=scheduler_spec, help=f"{', '.join(SCHEDULERS)}, stepped once per epoch; "
                   f"several joined by ',' are chained (default none)")
    from ._cli_optim import add_arguments
    add_arguments(t.add_argument_group("optimizer and scheduler options (each applies to "
                                       "those named in its help)"))
    t.add_argument("--val-fraction", type=fraction, help="training images held out for "
                   "validation (default 0.1)")
    t.add_argument("--no-augment", dest="augment", action="store_const", const=False,
                   help="no random crops/flips on CIFAR-10")
    t.add_argument("--model-arg", action="append", metavar="KEY=VALUE", type=key_value,
                   help="extra constructor argument, e.g. --model-arg dropout=0.2")
    t.add_argument("--subset", type=positive_int, metavar="N", help="use only the first N training "
                   "images (quick tries)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", default="cpu")
    t.add_argument("--num-workers", type=non_negative_int, default=0)
    t.add_argument("--out", help="output folder (default runs/<model>-<data>)")
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--nproc", type=positive_int, metavar="N", help="train data-parallel in N processes "
                   "(runs mpiexec -n N; needs shendu[distributed]); mpiexec -n N shendu train "
                   "... does the same, on several machines too")
    t.add_argument("--diagnose", type=positive_int, nargs="?", const=100, metavar="EVERY",
                   help="look inside the run every EVERY steps (default 100) and name "
                   "dead, vanishing, exploding or saturated layers; judge the curves at the end")
    t.add_argument("--tensorboard", metavar="DIR", help="log to TensorBoard event files in "
                   "DIR (needs shendu[tensorboard])")
    t.set_defaults(func=_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint on a dataset's test split")
    e.add_argument("checkpoint")
    e.add_argument("--data", choices=list(DATASETS),
                   help="default: the one the checkpoint was trained on")
    e.add_argument("--data-dir")
    e.add_argument("--download", action="store_true")
    e.add_argument("--split", choices=["test", "train"], default="test")
    e.add_argument("--model", help="for a weights-only file: the zoo model it belongs to")
    e.add_argument("--model-arg", action="append", metavar="KEY=VALUE", type=key_value)
    e.add_argument("--batch-size", type=positive_int, default=500)
    e.add_argument("--device", default="cpu")
    e.add_argument("--confusion", metavar="PNG", help="also draw the confusion matrix to this "
                   "file")
    e.set_defaults(func=_eval)

    s = sub.add_parser("summary", help="per-layer table: shapes, parameters, mult-adds, "
                       "receptive field")
    s.add_argument("--model", required=True)
    s.add_argument("--input", required=True, help="C,H,W of one input, e.g. 3,32,32 (the "
                   "mlp also takes a number of features, e.g. 784)")
    s.add_argument("--num-classes", type=positive_int, default=1000)
    s.add_argument("--small-input", action="store_true", help="the 32×32 variant of an "
                   "ImageNet model")
    s.add_argument("--batch-size", type=positive_int, default=1)
    s.add_argument("--model-arg", action="append", metavar="KEY=VALUE", type=key_value)
    s.set_defaults(func=_summary)

    m = sub.add_parser("models", help="list the model zoo")
    m.set_defaults(func=_models)

    d = sub.add_parser("demo", help="train the notes' 2-2-2 network by backprop (seed 002 §3.2.5)")
    d.add_argument("--steps", type=positive_int, default=10000)
    d.set_defaults(func=_demo)

    for name in _VERB_MODULES:
        importlib.import_module(name).add_parser(sub)
    return p


def main(argv=None):
    parser = build_parser()
    try:
        args = parse_args(argv, parser)
    except SystemExit as e:         # argparse's `error:` line (status 2) or --help (0)
        return e.code if isinstance(e.code, int) else 2
    args.argv = list(sys.argv[1:] if argv is None else argv)
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
