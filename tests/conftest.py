"""Shared test setup: the oracle helper importable from every test folder, and fixtures
several test files use."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def two_threads():
    """shendu (BLAS and its own pool) on two threads for the test, then as before. The
    measured hand-off cost is taken as zero meanwhile, so every op splits from its own
    threshold on and the tests exercise the split paths on any machine."""
    from shendu.backend import threads
    prev, saved = threads.get_num_threads(), dict(threads._handoff)
    threads.set_num_threads(2)
    threads._handoff.update(pid=os.getpid(), seconds=0.0)
    yield
    threads.set_num_threads(prev)
    threads._handoff.clear()
    threads._handoff.update(saved)
