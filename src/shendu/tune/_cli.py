"""``shendu tune``: search a `shendu train` configuration (standard library only at the top)."""

HELP = """Search hyperparameters of a `shendu train` run: SPACE is a TOML/YAML/JSON file
with fixed train options, the ranges under [space], and trials/sampler/pruner/metric
(see examples/tune_lenet.toml). Workers share <out>/study.journal; run the same command
again to resume a stopped study. Writes trials.csv, best_config.toml (for
`shendu train --config`) and history/parallel-coordinates/importance plots."""


def add_parser(sub):
    p = sub.add_parser("tune", help="search hyperparameters (grid, random, TPE, LIPO, GP; "
                       "pruning; parallel workers; resumable)", description=HELP)
    p.add_argument("space", help="search-space file (.toml, .yaml or .json)")
    p.add_argument("--out", help="study folder (default runs/tune-<space file name>)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--trials", type=int, help="override the file's number of trials")
    p.add_argument("--sampler", help="override the file's sampler: grid, random, tpe, lipo, gp")
    p.add_argument("--pruner", help="override the file's pruner: none, median, halving, "
                   "hyperband")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.set_defaults(func=_tune)


def _tune(args):
    import os
    from ..cli import CLIError
    try:
        from ._optuna import require_optuna
        require_optuna()
        from .space import SpaceError, load_space
        from .study import run_study
    except ImportError as e:
        raise CLIError(str(e)) from None
    if args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")
    try:
        space = load_space(args.space)
        for key in ("sampler", "pruner"):
            if getattr(args, key):
                space.raw[key] = getattr(args, key)
        space = type(space)(space.raw, space.source)
        stem = os.path.splitext(os.path.basename(args.space))[0]
        out = args.out or os.path.join("runs", f"tune-{stem}")
        run_study(space, out, workers=args.workers, trials=args.trials,
                  plots=not args.no_plots)
    except SpaceError as e:
        raise CLIError(str(e)) from None
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume the study")
        return 130
    return 0
