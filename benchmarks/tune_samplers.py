"""The samplers of ``shendu.tune`` on three test functions: median best regret.

    PYTHONPATH=src python benchmarks/tune_samplers.py            # 50 evaluations x 20 seeds
    PYTHONPATH=src python benchmarks/tune_samplers.py --seeds 3 --evals 30 --samplers lipo,gp

For each function (Branin on [-5, 10] x [0, 15]; Hartmann-6 on [0, 1]^6; Rosenbrock in 5-D
on [-2.048, 2.048]^5) and each sampler (Optuna's RandomSampler and TPESampler, shendu's
LIPOSampler and GPSampler, and dlib's ``global_function_search`` — the engine of
``find_min_global`` — seeded through ``set_seed``, if dlib is installed), it runs ``--evals``
evaluations from each of ``--seeds`` seeds and records the best regret f(best) - f*.
The table gives the median regret over the seeds (lower is better) and the median
seconds a run took (the sampler's own time; the functions cost nothing). Printed as markdown.
"""
import argparse
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "src"))
import numpy as np  # noqa: E402


# ---------------------------------------------------------------------- test functions
def branin(x):
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                 [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x):
    x = np.asarray(x)
    return float(-_H_ALPHA @ np.exp(-np.sum(_H_A * (x - _H_P) ** 2, axis=1)))


def rosenbrock(x):
    x = np.asarray(x)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


PROBLEMS = {   # name: (function, lower bounds, upper bounds, minimum)
    "Branin": (branin, [-5.0, 0.0], [10.0, 15.0], 0.397887357729738),
    "Hartmann-6": (hartmann6, [0.0] * 6, [1.0] * 6, -3.32236801141551),
    "Rosenbrock-5D": (rosenbrock, [-2.048] * 5, [2.048] * 5, 0.0),
}


# ---------------------------------------------------------------------- one run
def run_optuna(sampler, problem, evals):
    import optuna
    f, lo, hi, fmin = PROBLEMS[problem]
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: f([t.suggest_float(f"x{i}", a, b)
                                for i, (a, b) in enumerate(zip(lo, hi))]), n_trials=evals)
    return study.best_value - fmin


def run_dlib(seed, problem, evals):
    import dlib
    f, lo, hi, fmin = PROBLEMS[problem]
    search = dlib.global_function_search(dlib.function_spec(lo, hi))
    search.set_seed(seed)
    best = math.inf
    for _ in range(evals):
        req = search.get_next_x()
        y = f(list(req.x))
        best = min(best, y)
        req.set(-y)                      # dlib maximises
    return best - fmin


def make(name, seed):
    import optuna
    from shendu.tune import LIPOSampler, GPSampler
    return {"Random": lambda: optuna.samplers.RandomSampler(seed=seed),
            "TPE": lambda: optuna.samplers.TPESampler(seed=seed),
            "LIPO": lambda: LIPOSampler(seed=seed),
            "GP": lambda: GPSampler(seed=seed)}[name]()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--evals", type=int, default=50)
    p.add_argument("--samplers", default="Random,TPE,LIPO,GP,dlib")
    p.add_argument("--problems", default=",".join(PROBLEMS))
    args = p.parse_args(argv)
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = args.samplers.split(",")
    if "dlib" in names:
        try:
            import dlib  # noqa: F401
        except ImportError:
            print("(dlib is not installed: pip install dlib-bin; its column is left out)")
            names.remove("dlib")
    problems = args.problems.split(",")
    res = {}
    for prob in problems:
        for name in names:
            regrets, secs = [], []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                r = (run_dlib(seed, prob, args.evals) if name == "dlib" else
                     run_optuna(make(name, seed), prob, args.evals))
                secs.append(time.perf_counter() - t0)
                regrets.append(r)
            res[prob, name] = (statistics.median(regrets), statistics.median(secs))
            print(f"  {prob:14s} {name:7s} median regret {res[prob, name][0]:.4g}  "
                  f"({res[prob, name][1]:.2f} s a run)", file=sys.stderr, flush=True)
    print(f"\nmedian best regret after {args.evals} evaluations over {args.seeds} seeds "
          f"(median seconds a run):\n")
    print("| function | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for prob in problems:
        print(f"| {prob} | " + " | ".join(f"{res[prob, n][0]:.3g} ({res[prob, n][1]:.1f} s)"
                                          for n in names) + " |")


if __name__ == "__main__":
    main()
