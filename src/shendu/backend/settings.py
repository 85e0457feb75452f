"""shendu's environment switches, read once, here, when shendu is imported.

==========================  =========================================================
``SHENDU_NUMBA=0``          the compiled kernels stay off; their NumPy twins run
``SHENDU_NUM_THREADS=n``    conv's copies and multiply-adds are split over n channel
                            threads (default 1; see ``threads.run_channels``)
``SHENDU_MALLOC_TUNING=0``  glibc's malloc thresholds are left alone (``memory.py``)
``OPENBLAS_THREAD_TIMEOUT`` OpenBLAS's own; when unset shendu chooses one (``threads.py``)
==========================  =========================================================

Everything else in ``backend/`` asks this module, never ``os.environ``.
"""
import os


def _flag(name, default=True):
    """An on/off switch: any value but '0' is on."""
    v = os.environ.get(name)
    return default if v is None else v != "0"


def _positive_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.isdigit() and int(v) > 0 else default


NUMBA = _flag("SHENDU_NUMBA")
CHANNEL_THREADS = _positive_int("SHENDU_NUM_THREADS", 1)
MALLOC_TUNING = _flag("SHENDU_MALLOC_TUNING")
OPENBLAS_THREAD_TIMEOUT_SET = os.environ.get("OPENBLAS_THREAD_TIMEOUT") is not None
