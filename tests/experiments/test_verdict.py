"""The verdict logic on synthetic numbers: Welch's t-test, one-sided, against the spread."""
import math

import numpy as np
import pytest

from shendu.experiments import _verdict as V
from shendu.experiments._verdict import Greater, Less, Tie, HELD, NOT_HELD, INCONCLUSIVE


def test_t_sf_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for t in (-5.0, -1.3, 0.0, 0.4, 2.1, 9.0):
        for df in (1.0, 2.3, 4.0, 11.7, 60.0):
            assert V.t_sf(t, df) == pytest.approx(stats.t.sf(t, df), rel=1e-9, abs=1e-15)
    assert V.t_sf(math.inf, 3) == 0.0 and V.t_sf(-math.inf, 3) == 1.0


def test_welch_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    a, b = [1.0, 1.4, 0.9, 1.2], [0.5, 0.8, 0.3]
    diff, se, t, df = V.welch(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    assert t == pytest.approx(ref.statistic, rel=1e-12)
    assert V.t_sf(t, df) == pytest.approx(ref.pvalue, rel=1e-9)
    assert diff == pytest.approx(np.mean(a) - np.mean(b))


def test_greater_held_not_held_inconclusive():
    a, b = [10.0, 10.2, 9.9, 10.1], [5.0, 5.3, 4.8, 5.1]
    assert Greater("a", "b").evaluate(a, b).verdict == HELD
    assert Less("a", "b").evaluate(a, b).verdict == NOT_HELD       # significant the other way
    r = Less("a", "b").evaluate(a, b)
    assert r.p < 0.05 and "-> claim did not hold" in r.text
    # an effect smaller than the spread across seeds: neither way
    noisy_a, noisy_b = [1.0, 3.0, 0.5, 2.5], [1.5, 2.0, 0.9, 2.2]
    r = Greater("a", "b").evaluate(noisy_a, noisy_b)
    assert r.verdict == INCONCLUSIVE and 0.05 <= r.p <= 1


def test_the_decision_moves_with_the_spread_not_the_mean():
    """Same mean difference (+1), different spread: held only when the spread is small."""
    base = np.array([-1.0, 0.0, 1.0])
    assert Greater("a", "b").evaluate(1 + 0.1 * base, 0.1 * base).verdict == HELD
    assert Greater("a", "b").evaluate(1 + 3 * base, 3 * base).verdict == INCONCLUSIVE


def test_one_seed_is_inconclusive_and_exact_numbers_decide_by_sign():
    assert Greater("a", "b").evaluate([5.0], [1.0]).verdict == INCONCLUSIVE
    assert Greater("a", "b").evaluate([2.0, 2.0], [1.0, 1.0]).verdict == HELD
    assert Greater("a", "b").evaluate([1.0, 1.0], [2.0, 2.0]).verdict == NOT_HELD
    r = Greater("a", "b").evaluate([1.0, 1.0], [1.0, 1.0])        # exactly equal: not greater
    assert r.verdict == NOT_HELD


def test_tie_by_two_one_sided_tests():
    a = [0.80, 0.81, 0.79, 0.80, 0.805]
    assert Tie("a", "b", 0.03).evaluate(a, [0.805, 0.80, 0.795, 0.81, 0.79]).verdict == HELD
    assert Tie("a", "b", 0.03).evaluate(a, [0.60, 0.61, 0.59, 0.60, 0.62]).verdict == NOT_HELD
    wide = [0.7, 0.9, 0.75, 0.85, 0.8]
    assert Tie("a", "b", 0.03).evaluate(a, wide).verdict == INCONCLUSIVE


def test_combine_and_nonfinite_numbers():
    r = {v: V.CheckResult(None, v, 0, 0, 0, 0, "") for v in (HELD, NOT_HELD, INCONCLUSIVE)}
    assert V.combine([r[HELD], r[HELD]]) == HELD
    assert V.combine([r[HELD], r[INCONCLUSIVE]]) == INCONCLUSIVE
    assert V.combine([r[INCONCLUSIVE], r[NOT_HELD], r[HELD]]) == NOT_HELD
    assert V.combine([]) == INCONCLUSIVE
    with pytest.raises(ValueError, match="finite"):
        Greater("a", "b").evaluate([1.0, float("nan")], [1.0, 2.0])
