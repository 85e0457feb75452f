"""The size of NumPy's BLAS thread pool (``shendu.set_num_threads``).

NumPy links OpenBLAS (its wheels ship a symbol-prefixed build). The library is found
among the process's loaded objects and its own set/get functions are called through
ctypes. On a machine shared with other busy processes, fewer BLAS threads can be many
times faster: idle OpenBLAS threads spin, and spinning threads starve each other.
"""
import ctypes
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

# After a call, OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) before sleeping.
# shendu's batch threads (convolution) then fight a spinning BLAS thread for the cores:
# on 2 cores LeNet-5's training step measured ~17 ms with the default, ~13.5 ms with 2^20
# cycles (~0.3 ms), and MLP steps no slower. OpenBLAS reads the setting only when it
# loads, so it is set only if NumPy is not imported yet (``import shendu`` first) and the
# user has not set it.
OPENBLAS_THREAD_TIMEOUT = "20"


def tune_openblas_env():
    """Shorten OpenBLAS's idle spin (see above); returns whether the setting applies."""
    if "numpy" in sys.modules:
        return os.environ.get("OPENBLAS_THREAD_TIMEOUT") is not None
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", OPENBLAS_THREAD_TIMEOUT)
    return True


_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")
_lib = [None, False]


def _openblas():
    if _lib[1]:
        return _lib[0]
    _lib[1] = True
    import numpy  # noqa: F401  (make sure NumPy's BLAS is loaded)
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                if "openblas" in os.path.basename(p).lower() and p not in paths:
                    paths.append(p)
    except OSError:
        return None
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
        except OSError:
            continue
        for pre in _PREFIXES:
            for suf in _SUFFIXES:
                s, g = f"{pre}set_num_threads{suf}", f"{pre}get_num_threads{suf}"
                if hasattr(lib, s) and hasattr(lib, g):
                    _lib[0] = (getattr(lib, s), getattr(lib, g))
                    return _lib[0]
    return None


def set_num_threads(n):
    """Use ``n`` threads for matrix products (NumPy's OpenBLAS)."""
    n = int(n)
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    fns = _openblas()
    if fns is not None:
        fns[0](ctypes.c_int(n))


def get_num_threads():
    """The number of threads matrix products use."""
    fns = _openblas()
    if fns is not None:
        return int(fns[1]())
    return os.cpu_count() or 1


# ---------------------------------------------------------------------- shendu's own threads
# NumPy releases the GIL inside copies, ufunc loops and BLAS calls, so independent parts of
# one op (images of a convolution, parameters of an optimizer step) can run at once. One
# pool serves every such op: made per process (a forked child makes its own) and grown
# on demand.
_pool = [None, None, 0]        # executor, the pid that made it, its number of workers
_local = threading.local()


def in_parallel_region():
    """Whether this thread is running a part handed out by ``run_each``."""
    return getattr(_local, "busy", False)


def run_each(fn, n):
    """fn(0), ..., fn(n - 1) at once: fn(0) on the calling thread, the others on the shared
    pool; returns when all are done. Inside a part (nested), the calls run in turn, so no
    part ever waits on the pool it runs on."""
    if n <= 1 or in_parallel_region():
        for i in range(n):
            fn(i)
        return
    if _pool[1] != os.getpid() or _pool[2] < n - 1:
        if _pool[0] is not None and _pool[1] == os.getpid():
            _pool[0].shutdown(wait=False)
        _pool[:] = [ThreadPoolExecutor(n - 1, thread_name_prefix="shendu"), os.getpid(), n - 1]

    def part(i):
        _local.busy = True
        try:
            fn(i)
        finally:
            _local.busy = False
    futures = [_pool[0].submit(part, i) for i in range(1, n)]
    try:
        part(0)
    finally:
        for f in futures:
            f.result()


def run_ranges(fn, n, parts, align=1):
    """fn(lo, hi) over ``parts`` consecutive ranges covering range(n), at once (run_each);
    inner boundaries are multiples of ``align``. Returns the calls' results in order."""
    bounds = [(n * i // parts) // align * align for i in range(parts)] + [n]
    results = [None] * parts

    def part(i):
        results[i] = fn(bounds[i], bounds[i + 1])
    run_each(part, parts)
    return results
