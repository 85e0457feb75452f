"""shendu's shared thread pool (``backend.threads.run_each``): every part once, nested calls run
in turn on the calling thread, errors reach the caller."""
import os
import threading

import pytest

from shendu.backend import threads as _threads


def test_each_part_runs_once_and_the_first_on_the_caller():
    seen, callers = [], {}
    run = threading.get_ident()

    def part(i):
        seen.append(i)
        callers[i] = threading.get_ident()
    _threads.run_each(part, 3)
    assert sorted(seen) == [0, 1, 2]
    assert callers[0] == run
    assert not _threads.in_parallel_region()


def test_nested_calls_run_in_turn_inside_a_part():
    inner = {}

    def part(i):
        assert _threads.in_parallel_region()
        me = threading.get_ident()
        _threads.run_each(lambda j: inner.setdefault((i, j), threading.get_ident() == me), 2)
    _threads.run_each(part, 2)
    assert inner == {(0, 0): True, (0, 1): True, (1, 0): True, (1, 1): True}


def test_an_error_in_a_pool_part_reaches_the_caller_after_all_parts():
    done = []

    def part(i):
        if i == 1:
            raise ValueError("part 1 failed")
        done.append(i)
    with pytest.raises(ValueError, match="part 1 failed"):
        _threads.run_each(part, 3)
    assert sorted(done) == [0, 2]
    assert not _threads.in_parallel_region()


# ---------------------------------------------------------------------- split ufuncs
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from shendu.backend import elementwise as _base  # noqa: E402

N_SPLIT = _base.UFUNC_SPLIT_MIN + 37      # large enough to split, with an odd tail


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_split_ufunc_equals_the_plain_call_bitwise(dtype, two_threads, monkeypatch):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(N_SPLIT) * 3).astype(dtype)
    b = (rng.standard_normal(N_SPLIT) + 5).astype(dtype)
    calls = []
    real = _threads.run_each
    monkeypatch.setattr(_threads, "run_each", lambda fn, n: (calls.append(n), real(fn, n)))
    cases = [(np.add, (a, b)), (np.multiply, (a, 1.01)), (np.subtract, (1.0, a)),
             (np.true_divide, (a, b)), (np.negative, (a,)), (np.abs, (a,))]
    if dtype != np.int64:
        cases += [(np.exp, (a,)), (np.tanh, (a,)), (np.log, (np.abs(a),)),
                  (np.sqrt, (np.abs(a),)), (np.power, (np.abs(a), 1.7))]
    for f, args in cases:
        got, want = _base.ufunc(f, *args), f(*args)
        assert got.dtype == want.dtype and got.shape == want.shape, f
        np.testing.assert_array_equal(got, want, err_msg=f.__name__)
    assert calls and all(n == 2 for n in calls)


def test_split_ufunc_falls_back_for_broadcasting_and_views(two_threads):
    a = np.ones((N_SPLIT // 8, 8))
    assert np.array_equal(_base.ufunc(np.add, a, np.arange(8.0)), a + np.arange(8.0))
    assert np.array_equal(_base.ufunc(np.add, a[:, ::2], 1.0), a[:, ::2] + 1.0)
    with pytest.raises(ValueError):
        _base.ufunc(np.add, a, np.ones(3))


def test_split_ufunc_carries_the_callers_errstate(two_threads):
    z = np.zeros(N_SPLIT)
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            _base.ufunc(np.log, z)
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isneginf(_base.ufunc(np.log, z)).all()


def test_run_ranges_cover_the_range_in_order_with_aligned_cuts():
    seen = []
    res = _threads.run_ranges(lambda lo, hi: (seen.append((lo, hi)), hi - lo)[1], 1000, 3,
                              align=64)
    cuts = sorted(seen)
    assert cuts[0][0] == 0 and cuts[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:]))
    assert all(lo % 64 == 0 for lo, _ in cuts)
    assert res == [hi - lo for lo, hi in cuts]


def test_run_chunks_pins_blas_to_one_thread_and_restores_the_count_it_found():
    """conv's batch threads: BLAS runs single-threaded inside the chunks and gets back the
    count it had (not min(threads, chunks): 3 threads over 2 chunks stay 3)."""
    prev = _threads.get_num_threads()
    try:
        _threads.set_num_threads(3)
        if _threads.get_num_threads() != 3:
            pytest.skip("this BLAS cannot be set to 3 threads")
        inside, slots = [], []

        def chunk(slot, a, b):
            inside.append(_threads.get_num_threads())
            slots.append(slot)
        assert _threads.run_chunks([(0, 4), (4, 8)], chunk) == 2
        assert inside == [1, 1] and sorted(slots) == [0, 1]
        assert _threads.get_num_threads() == 3
    finally:
        _threads.set_num_threads(prev)


# ---------------------------------------------------------------------- does a split pay?
def test_handoff_is_measured_once_per_process_and_is_small_but_positive(monkeypatch):
    monkeypatch.setattr(_threads, "_handoff", {})
    calls = []
    real = _threads.run_each
    monkeypatch.setattr(_threads, "run_each", lambda fn, n: (calls.append(n), real(fn, n)))
    h = _threads.handoff_seconds()
    assert 0 < h < 0.05
    assert len(calls) == _threads.HANDOFF_TRIALS + 1 and set(calls) == {2}
    assert _threads.handoff_seconds() == h and len(calls) == _threads.HANDOFF_TRIALS + 1


def test_split_pays_needs_the_floor_the_threads_and_more_work_than_a_handoff(monkeypatch):
    monkeypatch.setattr(_threads, "_handoff", {"pid": os.getpid(), "seconds": 1e-4})
    monkeypatch.setattr(_threads, "free_threads", lambda: 2)
    assert not _threads.split_pays(10 ** 5, 1.0, 10 ** 6)          # under the op's floor
    assert not _threads.split_pays(10 ** 6, 0.1, 10 ** 5)          # 100 us of work: 50 saved
    assert _threads.split_pays(10 ** 6, 0.3, 10 ** 5)              # 300 us: 150 saved
    monkeypatch.setattr(_threads, "free_threads", lambda: 1)
    assert not _threads.split_pays(10 ** 9, 1.0, 0)


def test_ops_stay_whole_where_a_handoff_costs_more(monkeypatch):
    """With a slow hand-off (the 2-vCPU VM's 80-100 us), an add over just more than its
    262K-element threshold (~65 us of work) runs in one piece; with a free one it splits."""
    monkeypatch.setattr(_threads, "free_threads", lambda: 2)
    calls = []
    real = _threads.run_ranges
    monkeypatch.setattr(_threads, "run_ranges", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    a = np.ones(N_SPLIT, np.float32)
    for seconds, split in ((1e-4, False), (0.0, True)):
        monkeypatch.setattr(_threads, "_handoff", {"pid": os.getpid(), "seconds": seconds})
        calls.clear()
        np.testing.assert_array_equal(_base.ufunc(np.add, a, a), a + a)
        assert bool(calls) == split
