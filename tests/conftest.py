"""Shared test setup: the oracle helper importable from every test folder, and fixtures
several test files use."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def two_threads():
    """shendu (BLAS and its own pool) on two threads for the test, then as before."""
    from shendu.backend import threads
    prev = threads.get_num_threads()
    threads.set_num_threads(2)
    yield
    threads.set_num_threads(prev)
