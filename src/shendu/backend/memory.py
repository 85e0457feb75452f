"""Memory: glibc's malloc thresholds and grow-only scratch buffers.

Fresh large arrays cost page faults: glibc serves large allocations with mmap and trims
the heap after frees, so every step of a training loop faults its temporaries in afresh;
for NumPy code that is 30-60 % of the time (DESIGN.md "Performance habits"). Two remedies:

* ``tune_malloc()``, once at import: raising M_MMAP_THRESHOLD and M_TRIM_THRESHOLD makes
  freed blocks reusable. The cost: the process's resident size stays near its peak.
  SHENDU_MALLOC_TUNING=0 leaves glibc alone; explicit MALLOC_MMAP_THRESHOLD_ /
  MALLOC_TRIM_THRESHOLD_ settings are respected.
* ``Scratch``: per-thread arrays, one per named slot, reused across calls (conv's column
  matrices and padded buffers).
"""
import ctypes
import os
import sys
import threading

import numpy as np

from . import settings

M_TRIM_THRESHOLD = -1                      # mallopt's parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024          # glibc's maximum on 64-bit
TRIM_THRESHOLD = 1024 * 1024 * 1024        # keep up to 1 GiB of freed heap

tuned = False


def tune_malloc():
    """Apply the thresholds (Linux with glibc only); returns whether they were set."""
    global tuned
    if tuned or not settings.MALLOC_TUNING:
        return tuned
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = True
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        ok &= bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        ok &= bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    tuned = ok
    return ok


SCRATCH_MAX_BYTES = 1 << 26    # 64 MiB: larger requests get a fresh array each time (holding
                               # on to them would pin the memory of one rare large call)


def prod(xs):
    """The product of a tuple of ints (1 for an empty one)."""
    r = 1
    for v in xs:
        r *= v
    return r


class Scratch(threading.local):
    """Grow-only scratch arrays, one per slot and thread, reused across calls. An array
    from ``get`` is valid until the next ``get`` of the same slot on the same thread."""

    def __init__(self):
        self.bufs = {}

    def get(self, slot, shape, dtype):
        n = prod(shape) * np.dtype(dtype).itemsize
        buf = self.bufs.get(slot)
        if buf is None or buf.nbytes < n:
            if n > SCRATCH_MAX_BYTES:
                return np.empty(shape, dtype)
            buf = self.bufs[slot] = np.empty(max(n, 1), np.uint8)
        return buf[:n].view(dtype).reshape(shape)
