"""``shendu experiment list | run NAME|all [--quick] [--seeds N] [--out DIR]``."""
import os

__all__ = ["add_parser"]


def _list(args):
    from . import get, names
    rows = [(n, get(n)) for n in names()]
    w = max(len(n) for n, _ in rows)
    for n, e in rows:
        print(f"{n:<{w}}  {e.claim}  [{e.source}]")
    return 0


def _run(args):
    from ..cli import CLIError
    from . import _runner
    if args.name != "all" and args.name not in _runner.REGISTRY:
        raise CLIError(f"no experiment called {args.name!r}; available: all, "
                       + ", ".join(_runner.REGISTRY))
    if args.seeds is not None and args.seeds < 1:
        raise CLIError(f"--seeds must be at least 1, got {args.seeds}")
    if args.data_dir and not os.path.isdir(args.data_dir):
        raise CLIError(f"--data-dir {args.data_dir!r} is not a folder")
    budget = args.budget or ("quick" if args.quick else "full")
    if args.name == "all":
        results = _runner.run_all(seeds=args.seeds, out=args.out, budget=budget,
                                  data_dir=args.data_dir)
        print("\n" + "\n".join(f"{r.name:<24} {r.verdict}" for r in results))
        return 0
    _runner.run(args.name, seeds=args.seeds, out=args.out, budget=budget,
                data_dir=args.data_dir, verbose=True)
    return 0


def add_parser(sub):
    p = sub.add_parser("experiment", help="run the notes' claims as experiments, with verdicts",
                       description="Each experiment tests one claim of the notes over several "
                       "seeds, prints its numbers with their spread, writes NAME.png and "
                       "NAME.csv, and ends with the verdict (Welch's one-sided t-test over "
                       "seeds: the claim held only when the effect exceeds the spread).")
    verbs = p.add_subparsers(dest="experiment_verb", metavar="{list,run}")
    ls = verbs.add_parser("list", help="each experiment, its claim and the notes' section")
    ls.set_defaults(func=_list)
    r = verbs.add_parser("run", help="run one experiment (or all, writing report.md)")
    r.add_argument("name", help="an experiment from `shendu experiment list`, or all")
    r.add_argument("--quick", action="store_true", help="the quick budget (3 seeds, small "
                   "models; `run all --quick` takes a few minutes on 2 cores)")
    r.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5; "
                   "3 with --quick)")
    r.add_argument("--out", default=os.path.join("runs", "experiments"),
                   help="folder for the PNG, CSV and report (default runs/experiments)")
    r.add_argument("--data-dir", default=None, help="folder with the full MNIST / "
                   "Fashion-MNIST IDX files (default: the subsets shipped with shendu)")
    r.add_argument("--budget", choices=("full", "quick", "test"), default=None,
                   help="overrides --quick; 'test' is the tiny budget of the test suite")
    r.set_defaults(func=_run)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
