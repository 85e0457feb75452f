"""The optimizers and learning-rate schedules of ``shendu train``, table-driven.

Every optimizer in ``shendu.optim`` and every scheduler in ``optim.lr_scheduler`` has a
name here and the options it reads. Each option is an ordinary argparse flag with a
``dest`` (so a ``--config`` file can set it too); left out, the class's own default holds.
An option the chosen optimizer or scheduler does not read is an error that lists the ones
it does. Standard library only at the top, so ``shendu --help`` stays fast.
"""
import math

from ._cli_types import non_negative_float, non_negative_int, positive_float, positive_int

__all__ = ["OPTIMIZERS", "SCHEDULERS", "OPTIONS", "add_arguments", "make_optimizer",
           "make_scheduler", "option_values", "scheduler_spec"]


class OptionError(ValueError):
    """A wrong combination of options (cli turns it into a CLIError)."""


def _floats(n):
    def parse(text):
        vals = tuple(float(v) for v in str(text).split(","))
        if len(vals) != n:
            raise ValueError(f"expected {n} comma-separated numbers, got {text!r}")
        return vals
    parse.__name__ = f"{n} numbers"
    return parse


def _ints(text):
    return [int(v) for v in str(text).split(",")]


def _flag(text):
    if isinstance(text, bool):
        return text
    if str(text).lower() in ("1", "true", "yes", "on"):
        return True
    if str(text).lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


# dest: (flag, type, help). The constructor argument is the dest, unless OPTIMIZERS/SCHEDULERS
# rename it ("dest:kwarg").
OPTIONS = {
    "momentum": ("--momentum", non_negative_float, "sgd, rmsprop (default 0.9 for sgd and rmsprop)"),
    "weight_decay": ("--weight-decay", non_negative_float, "L2 penalty (AdamW: decoupled)"),
    "nesterov": ("--nesterov", _flag, "sgd: Nesterov momentum (true/false)"),
    "dampening": ("--dampening", non_negative_float, "sgd"),
    "betas": ("--betas", _floats(2), "adam family: B1,B2"),
    "eps": ("--eps", non_negative_float, "adaptive optimizers' epsilon"),
    "amsgrad": ("--amsgrad", _flag, "adam, adamw"),
    "alpha": ("--alpha", non_negative_float, "rmsprop: smoothing constant; asgd: power of the decay"),
    "centered": ("--centered", _flag, "rmsprop"),
    "rho": ("--rho", non_negative_float, "adadelta"),
    "lr_decay": ("--lr-decay", non_negative_float, "adagrad"),
    "initial_accumulator_value": ("--initial-accumulator-value", non_negative_float,
                                  "adagrad, ftrl, proximal_adagrad, adagrad_da"),
    "lambd": ("--lambd", non_negative_float, "asgd: decay term"),
    "t0": ("--t0", non_negative_float, "asgd: point at which to start averaging"),
    "etas": ("--etas", _floats(2), "rprop: ETA_MINUS,ETA_PLUS"),
    "step_sizes": ("--step-sizes", _floats(2), "rprop: MIN,MAX"),
    "momentum_decay": ("--momentum-decay", non_negative_float, "nadam"),
    "decoupled_weight_decay": ("--decoupled-weight-decay", _flag, "nadam, radam"),
    "l1": ("--l1", non_negative_float, "ftrl, proximal_sgd, proximal_adagrad, adagrad_da"),
    "l2": ("--l2", non_negative_float, "ftrl, proximal_sgd, proximal_adagrad, adagrad_da"),
    "ftrl_beta": ("--ftrl-beta", non_negative_float, "ftrl: beta"),
    "max_iter": ("--max-iter", positive_int, "lbfgs: iterations per step"),
    "history_size": ("--history-size", positive_int, "lbfgs"),
    "line_search_fn": ("--line-search-fn", str, "lbfgs: strong_wolfe or none"),
    # schedulers
    "step_size": ("--step-size", positive_int, "step: epochs per decay (default epochs/3); cyclic: "
                  "epochs per half cycle"),
    "gamma": ("--gamma", non_negative_float, "step, multistep (default 0.1), exponential (default 0.9), "
              "multiplicative, cyclic exp_range"),
    "milestones": ("--milestones", _ints, "multistep: epochs, comma-separated"),
    "eta_min": ("--eta-min", non_negative_float, "cosine, cosine_restarts: the lowest rate"),
    "T_0": ("--restart-epochs", positive_int, "cosine_restarts: epochs of the first cycle (default "
            "epochs/3)"),
    "T_mult": ("--restart-mult", positive_int, "cosine_restarts: cycle growth factor"),
    "start_factor": ("--start-factor", positive_float, "linear"),
    "end_factor": ("--end-factor", non_negative_float, "linear"),
    "total_iters": ("--total-iters", positive_int, "constant, linear, polynomial (default epochs)"),
    "factor": ("--factor", non_negative_float, "constant, plateau"),
    "power": ("--power", non_negative_float, "polynomial"),
    "patience": ("--patience", non_negative_int, "plateau"),
    "threshold": ("--threshold", non_negative_float, "plateau"),
    "min_lr": ("--min-lr", non_negative_float, "plateau"),
    "base_lr": ("--base-lr", positive_float, "cyclic: the lowest rate (default lr/10)"),
    "max_lr": ("--max-lr", positive_float, "cyclic, onecycle: the highest rate (default lr)"),
    "cyclic_mode": ("--cyclic-mode", str, "cyclic: triangular, triangular2 or exp_range"),
    "pct_start": ("--pct-start", non_negative_float, "onecycle: share of the rising phase"),
    "anneal_strategy": ("--anneal-strategy", str, "onecycle: cos or linear"),
    "lr_lambda": ("--lr-lambda", str, "lambda: the factor as an expression of `epoch`, e.g. "
                  "'0.95 ** epoch'"),
    "warmup_epochs": ("--warmup-epochs", positive_int, "linear warm-up before the schedule "
                      "(SequentialLR)"),
    "warmup_start_factor": ("--warmup-start-factor", non_negative_float, "warm-up's first factor "
                            "(default 0.1)"),
}

# name: (class in shendu.optim, default lr, options read ("dest" or "dest:kwarg"),
#        options' defaults where ours differ from the class's)
OPTIMIZERS = {
    "sgd": ("SGD", 0.05, ("momentum", "dampening", "weight_decay", "nesterov"),
            {"momentum": 0.9}),
    "adam": ("Adam", 1e-3, ("betas", "eps", "weight_decay", "amsgrad"), {}),
    "adamw": ("AdamW", 1e-3, ("betas", "eps", "weight_decay", "amsgrad"), {}),
    "adamax": ("Adamax", 2e-3, ("betas", "eps", "weight_decay"), {}),
    "nadam": ("NAdam", 2e-3, ("betas", "eps", "weight_decay", "momentum_decay",
                              "decoupled_weight_decay"), {}),
    "radam": ("RAdam", 1e-3, ("betas", "eps", "weight_decay", "decoupled_weight_decay"), {}),
    "rmsprop": ("RMSprop", 1e-3, ("alpha", "eps", "weight_decay", "momentum", "centered"),
                {"momentum": 0.9}),
    "adagrad": ("Adagrad", 1e-2, ("lr_decay", "weight_decay", "initial_accumulator_value",
                                  "eps"), {}),
    "adadelta": ("Adadelta", 1.0, ("rho", "eps", "weight_decay"), {}),
    "asgd": ("ASGD", 1e-2, ("lambd", "alpha", "t0", "weight_decay"), {}),
    "rprop": ("Rprop", 1e-2, ("etas", "step_sizes"), {}),
    "lbfgs": ("LBFGS", 1.0, ("max_iter", "history_size", "line_search_fn"), {}),
    "ftrl": ("FTRL", 1e-2, ("ftrl_beta:beta", "l1", "l2", "initial_accumulator_value"), {}),
    "proximal_sgd": ("ProximalSGD", 1e-3, ("l1", "l2"), {}),
    "proximal_adagrad": ("ProximalAdagrad", 1e-2, ("l1", "l2", "initial_accumulator_value"), {}),
    "adagrad_da": ("AdagradDA", 1e-3, ("l1", "l2", "initial_accumulator_value"), {}),
}

# name: (class in optim.lr_scheduler, options read, how epochs/lr fill the rest)
SCHEDULERS = {
    "none": (None, (), None),
    "step": ("StepLR", ("step_size", "gamma"),
             lambda E, lr: {"step_size": max(1, E // 3)}),
    "multistep": ("MultiStepLR", ("milestones", "gamma"),
                  lambda E, lr: {"milestones": [max(1, E // 2), max(2, 3 * E // 4)]}),
    "exponential": ("ExponentialLR", ("gamma",), lambda E, lr: {"gamma": 0.9}),
    "multiplicative": ("MultiplicativeLR", ("gamma",), lambda E, lr: {"gamma": 0.95}),
    "lambda": ("LambdaLR", ("lr_lambda",), lambda E, lr: {"lr_lambda": "1.0"}),
    "constant": ("ConstantLR", ("factor", "total_iters"), lambda E, lr: {}),
    "linear": ("LinearLR", ("start_factor", "end_factor", "total_iters"),
               lambda E, lr: {"total_iters": E}),
    "polynomial": ("PolynomialLR", ("total_iters", "power"), lambda E, lr: {"total_iters": E}),
    "cosine": ("CosineAnnealingLR", ("eta_min",), lambda E, lr: {"T_max": E}),
    "cosine_restarts": ("CosineAnnealingWarmRestarts", ("T_0", "T_mult", "eta_min"),
                        lambda E, lr: {"T_0": max(1, E // 3)}),
    "plateau": ("ReduceLROnPlateau", ("factor", "patience", "threshold", "min_lr"),
                lambda E, lr: {}),
    "cyclic": ("CyclicLR", ("base_lr", "max_lr", "step_size:step_size_up", "cyclic_mode:mode",
                            "gamma"),
               lambda E, lr: {"base_lr": lr / 10, "max_lr": lr, "step_size_up": max(1, E // 4),
                              "cycle_momentum": False}),
    "onecycle": ("OneCycleLR", ("max_lr", "pct_start", "anneal_strategy"),
                 lambda E, lr: {"max_lr": lr, "total_steps": E, "cycle_momentum": False}),
}
# SequentialLR comes with --warmup-epochs, ChainedScheduler with --scheduler a,b.
_WARMUP = ("warmup_epochs", "warmup_start_factor")


def add_arguments(parser):
    """Add every option flag (each with its dest, default None) to ``parser``."""
    for dest, (flag, kind, help_) in OPTIONS.items():
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=help_)


def option_values(args):
    """{dest: value} of the options given (not None) in an argparse namespace."""
    return {d: getattr(args, d) for d in OPTIONS if getattr(args, d, None) is not None}


def _split(spec):
    dest, _, kwarg = spec.partition(":")
    return dest, kwarg or dest


def _kwargs(what, name, reads, given):
    read = dict(_split(s) for s in reads)
    wrong = [d for d in given if d not in read]
    if wrong:
        flags = ", ".join(OPTIONS[d][0] for d in wrong)
        takes = ", ".join(OPTIONS[d][0] for d in read) or "no options"
        raise OptionError(f"{flags} does not apply to {what} {name!r} (it takes: {takes})")
    return {read[d]: v for d, v in given.items()}


def make_optimizer(name, params, lr, given):
    """The optimizer ``name`` for ``params`` with learning rate ``lr`` (None: its default)
    and the options ``given`` ({dest: value}) that apply to it."""
    from . import optim
    if name not in OPTIMIZERS:
        raise OptionError(f"unknown optimizer {name!r}; available: {', '.join(OPTIMIZERS)}")
    cls, default_lr, reads, defaults = OPTIMIZERS[name]
    mine = {d: v for d, v in given.items() if d not in _SCHED_DESTS}
    kw = {**defaults, **mine}
    kw = _kwargs("optimizer", name, reads, kw)
    if kw.get("line_search_fn") == "none":
        kw["line_search_fn"] = None
    return getattr(optim, cls)(params, lr=default_lr if lr is None else lr, **kw)


def _lambda(expr):
    code = compile(str(expr), "--lr-lambda", "eval")

    def factor(epoch):
        return float(eval(code, {"__builtins__": {}, "math": math}, {"epoch": epoch}))
    factor(0)
    return factor


def _one(name, opt, epochs, lr, given):
    from .optim import lr_scheduler
    cls, reads, fill = SCHEDULERS[name]
    if cls is None:
        return None
    kw = {**fill(epochs, lr), **_kwargs("scheduler", name, reads, given)}
    if "lr_lambda" in kw:
        kw["lr_lambda"] = _lambda(kw["lr_lambda"])
    if name == "multiplicative":
        g = kw.pop("gamma")
        kw["lr_lambda"] = lambda epoch: g
    return getattr(lr_scheduler, cls)(opt, **kw)


_SCHED_DESTS = {_split(s)[0] for _, reads, _ in SCHEDULERS.values() for s in reads} | \
    set(_WARMUP)


def scheduler_spec(text):
    """``--scheduler``'s type: a name, or names joined by ','; each must be known."""
    import argparse
    unknown = [n.strip() for n in str(text).split(",") if n.strip() not in SCHEDULERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scheduler {unknown[0]!r}; available: "
                                         f"{', '.join(SCHEDULERS)}")
    return text


def make_scheduler(spec, opt, epochs, given):
    """The schedule ``spec`` (a name, or names joined by ',' for a ChainedScheduler) for
    ``epochs`` epochs, stepped once per epoch, with the options ``given`` that apply to it;
    ``warmup_epochs`` puts a LinearLR warm-up before it (SequentialLR)."""
    from .optim import lr_scheduler
    names = [n.strip() for n in str(spec).split(",")]
    for n in names:
        if n not in SCHEDULERS:
            raise OptionError(f"unknown scheduler {n!r}; available: {', '.join(SCHEDULERS)}")
    mine = {d: v for d, v in given.items() if d in _SCHED_DESTS and d not in _WARMUP}
    reads = {_split(s)[0] for n in names for s in SCHEDULERS[n][1]}
    stray = [d for d in mine if d not in reads]
    if stray:
        raise OptionError(f"{', '.join(OPTIONS[d][0] for d in stray)} does not apply to "
                          f"scheduler {spec!r}")
    lr = opt.param_groups[0]["lr"]
    warm = given.get("warmup_epochs") or 0
    main_epochs = max(1, epochs - warm)
    parts = [_one(n, opt, main_epochs, lr,
                  {d: v for d, v in mine.items()
                   if d in {_split(s)[0] for s in SCHEDULERS[n][1]}}) for n in names]
    parts = [p for p in parts if p is not None]
    if len(parts) > 1:
        if any(type(p).__name__ == "ReduceLROnPlateau" for p in parts):
            raise OptionError("plateau cannot be chained with other schedules")
        sched = lr_scheduler.ChainedScheduler(parts, optimizer=opt)
    else:
        sched = parts[0] if parts else None
    if warm:
        if sched is not None and type(sched).__name__ == "ReduceLROnPlateau":
            raise OptionError("--warmup-epochs cannot precede plateau")
        for g in opt.param_groups:           # the schedules above set lr; start from the base
            g["lr"] = g["initial_lr"] if "initial_lr" in g else lr
        warmup = lr_scheduler.LinearLR(opt, start_factor=given.get("warmup_start_factor", 0.1),
                                       end_factor=1.0, total_iters=warm)
        if sched is None:
            return warmup
        return lr_scheduler.SequentialLR(opt, [warmup, sched], milestones=[warm])
    if given.get("warmup_start_factor") is not None:
        raise OptionError("--warmup-start-factor needs --warmup-epochs")
    return sched
