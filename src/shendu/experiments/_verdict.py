"""The verdict on a claim, from numbers measured over several seeds.

A claim is one or more *checks*, each comparing two measured quantities (two lists of
numbers, one per seed):

* ``Greater(a, b)`` / ``Less(a, b)`` — the claim is that ``a`` is larger (smaller) than ``b``;
* ``Tie(a, b, margin)`` — the claim is that ``a`` and ``b`` differ by less than ``margin``.

The test is Welch's t-test (unequal variances, Welch–Satterthwaite degrees of freedom),
one-sided, at ``ALPHA = 0.05``:

* ``Greater``: *held* when P(t ≥ t_obs | a ≤ b) < α — the difference in the claimed direction
  is larger than the spread across seeds explains; *did not hold* when the difference is
  significant the other way; otherwise *inconclusive*.
* ``Tie``: two one-sided tests (TOST) — *held* when |a − b| < margin is significant both ways;
  *did not hold* when |a − b| > margin is significant; otherwise *inconclusive*.

With fewer than two seeds on a side the spread is unknown and the check is inconclusive.
When both sides have no spread at all (an exact, deterministic quantity) the sign of the
difference decides (p = 0 for the side it favours; equal numbers mean "not greater").

An experiment's verdict: *claim held* when every check held, *claim did not hold* when any
check did not hold, otherwise *inconclusive*.
"""
import math

import numpy as np

__all__ = ["ALPHA", "HELD", "NOT_HELD", "INCONCLUSIVE", "TEST_NAME", "welch", "t_sf",
           "Greater", "Less", "Tie", "CheckResult", "combine"]

ALPHA = 0.05
HELD, NOT_HELD, INCONCLUSIVE = "claim held", "claim did not hold", "inconclusive"
TEST_NAME = f"Welch's one-sided t-test over seeds, alpha={ALPHA:g}"


# ---------------------------------------------------------------- the t distribution
def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                    -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a, b, x):
    """The regularised incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t, df):
    """P(T >= t) for Student's t with ``df`` (> 0, not necessarily whole) degrees of freedom."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def welch(a, b):
    """Welch's statistics of mean(a) − mean(b): (difference, standard error, t, df).
    ``se`` is 0 (and ``t`` ±inf or nan) when neither side varies."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff, se = float(a.mean() - b.mean()), math.sqrt(va + vb)
    if se == 0.0:
        return diff, 0.0, math.copysign(math.inf, diff) if diff else math.nan, math.nan
    df = (va + vb) ** 2 / ((va ** 2 / (len(a) - 1) if va else 0.0)
                           + (vb ** 2 / (len(b) - 1) if vb else 0.0))
    return diff, se, diff / se, df


def _p_greater(diff, se, df, shift=0.0):
    """One-sided p-value of the hypothesis diff > shift."""
    if se == 0.0:
        return 0.0 if diff > shift else 1.0
    return t_sf((diff - shift) / se, df)


# ---------------------------------------------------------------- checks
class CheckResult:
    """A check's outcome: ``verdict`` (HELD / NOT_HELD / INCONCLUSIVE), the numbers behind it
    (``diff`` = mean(a) − mean(b), ``se``, ``df``, ``p``) and a one-line ``text``."""

    def __init__(self, check, verdict, diff, se, df, p, text):
        self.check, self.verdict = check, verdict
        self.diff, self.se, self.df, self.p = diff, se, df, p
        self.text = text

    def __repr__(self):
        return f"CheckResult({self.text!r})"


def _finite(x):
    x = np.asarray(x, np.float64).ravel()
    if not np.isfinite(x).all():
        raise ValueError("a check needs finite numbers; map divergence to a finite value "
                         f"(e.g. a capped loss) before the verdict, got {x}")
    return x


def _one_seed(check, a, b):
    return CheckResult(check, INCONCLUSIVE, float(a.mean() - b.mean()), math.nan, math.nan,
                       math.nan, f"{check.label}: fewer than 2 seeds, spread unknown: "
                       "inconclusive")


def _stats_text(diff, se, df, p):
    dfs = "exact" if se == 0 else f"df={df:.1f}"
    return f"diff={diff:+.4g}, se={se:.3g}, {dfs}, p={p:.3g}"


class Greater:
    """The claim that quantity ``a`` is larger than ``b`` (their names in the results, and
    an optional human ``label`` for the line that reports it)."""
    sign = 1.0
    symbol = ">"

    def __init__(self, a, b, label=None):
        self.a, self.b, self.label = a, b, label or f"{a} {self.symbol} {b}"

    def evaluate(self, a, b):
        a, b = _finite(a), _finite(b)
        if min(len(a), len(b)) < 2:
            return _one_seed(self, a, b)
        diff, se, _, df = welch(a, b)
        d = self.sign * diff                      # the effect in the claimed direction
        p_for, p_against = _p_greater(d, se, df), _p_greater(-d, se, df)
        if se == 0.0 and d == 0.0:                # exactly equal: exactly not greater
            p_against = 0.0
        verdict = HELD if p_for < ALPHA else NOT_HELD if p_against < ALPHA else INCONCLUSIVE
        p = p_for if verdict != NOT_HELD else p_against
        return CheckResult(self, verdict, diff, se, df, p,
                           f"{self.label}: {_stats_text(diff, se, df, p)} -> {verdict}")


class Less(Greater):
    """The claim that quantity ``a`` is smaller than ``b``."""
    sign = -1.0
    symbol = "<"


class Tie:
    """The claim that ``a`` and ``b`` differ by less than ``margin`` (TOST)."""

    def __init__(self, a, b, margin, label=None):
        self.a, self.b, self.margin = a, b, float(margin)
        self.label = label or f"|{a} - {b}| < {margin:g}"

    def evaluate(self, a, b):
        a, b = _finite(a), _finite(b)
        if min(len(a), len(b)) < 2:
            return _one_seed(self, a, b)
        diff, se, _, df = welch(a, b)
        m = self.margin
        p_tie = max(_p_greater(diff, se, df, -m), _p_greater(-diff, se, df, -m))
        p_apart = _p_greater(abs(diff), se, df, m)
        verdict = HELD if p_tie < ALPHA else NOT_HELD if p_apart < ALPHA else INCONCLUSIVE
        p = p_apart if verdict == NOT_HELD else p_tie
        return CheckResult(self, verdict, diff, se, df, p,
                           f"{self.label}: {_stats_text(diff, se, df, p)} (TOST, margin "
                           f"{m:g}) -> {verdict}")


def combine(results):
    """The experiment's verdict from its checks' results (see the module docstring)."""
    verdicts = [r.verdict for r in results]
    if verdicts and all(v == HELD for v in verdicts):
        return HELD
    return NOT_HELD if NOT_HELD in verdicts else INCONCLUSIVE
