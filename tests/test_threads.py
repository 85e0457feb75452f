"""shendu's shared thread pool (``_threads.run_each``): every part once, nested calls run
in turn on the calling thread, errors reach the caller."""
import threading

import pytest

from shendu import _threads


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
