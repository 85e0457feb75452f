"""shendu.experiments: the notes' claims as runnable experiments. Each one runs over several
seeds, prints its numbers with their spread, draws a figure, writes a CSV and ends with a
verdict — claim held, claim did not hold, or inconclusive — decided by Welch's t-test
against the spread across seeds (``_verdict.py`` says exactly how).

    shendu experiment list
    shendu experiment run init-variance --quick --out runs/experiments
    shendu experiment run all --quick            # every experiment + report.md

    >>> from shendu import experiments
    >>> r = experiments.run("zero-init", quick=True)
    >>> r.verdict, r.summary()["random_w1_rank"]

matplotlib draws the figures (``pip install shendu[plot]``); the numbers and verdicts need
only NumPy. The optimizer race of seed 001 also runs on its own:
``python -m shendu.experiments.optimizers``.
"""
from ._runner import Experiment, Result, get, names, run, run_all
from ._verdict import HELD, INCONCLUSIVE, NOT_HELD

__all__ = ["run", "run_all", "names", "get", "Experiment", "Result", "HELD", "NOT_HELD",
           "INCONCLUSIVE"]
