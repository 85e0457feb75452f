"""Threads: the size of NumPy's BLAS pool and shendu's own pool, one knob for both
(``shendu.set_num_threads`` / ``get_num_threads``, as torch's).

NumPy links OpenBLAS (its wheels ship a symbol-prefixed build). The library is found
among the process's loaded objects and its own functions are called through ctypes. On
a machine shared with other busy processes, fewer BLAS threads can be many times faster:
idle OpenBLAS threads spin, and spinning threads starve each other.

shendu's own pool runs independent parts of one op at once (images of a convolution,
parameters of an optimizer step, halves of a large ufunc): NumPy releases the GIL inside
copies, ufunc loops and BLAS calls. Three runners hand work to it:

* ``run_ranges(fn, n, parts)``: consecutive ranges of range(n), one per thread;
* ``run_chunks(chunks, fn)``: a list of chunks dealt round-robin, BLAS pinned to one
  thread meanwhile (the batch threads of conv's faces);
* ``run_buckets(items, size, fn)``: items dealt largest first onto the lightest bucket.
"""
import ctypes
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from . import settings

# ---------------------------------------------------------------------- OpenBLAS's idle spin
# After a call, OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) before sleeping.
# shendu's batch threads (convolution) then fight a spinning BLAS thread for the cores:
# on 2 cores LeNet-5's training step measured ~17 ms with the default, ~13.5 ms with 2^20
# cycles (~0.3 ms), and MLP steps no slower. OpenBLAS reads the setting when it loads and
# when its thread pool starts, so ``shorten_blas_spin`` works whatever was imported first:
# before NumPy it only sets the variable; after, it also makes OpenBLAS re-read its
# environment and restarts the pool (which OpenBLAS rebuilds on its next threaded call,
# as it does after a fork).
OPENBLAS_THREAD_TIMEOUT = "20"      # log2 of the spin in cycles: 2^20 ~ 0.3 ms


def shorten_blas_spin():
    """Shorten OpenBLAS's idle spin (see above) unless the user set OPENBLAS_THREAD_TIMEOUT;
    returns whether shendu's setting is in force."""
    if settings.OPENBLAS_THREAD_TIMEOUT_SET:
        return False
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = OPENBLAS_THREAD_TIMEOUT
    if "numpy" not in sys.modules:
        return True                  # OpenBLAS will read it when NumPy loads it
    lib = _openblas_lib()
    if lib is None or not hasattr(lib, "openblas_read_env") \
            or not hasattr(lib, "blas_thread_shutdown_"):
        return False
    lib.openblas_read_env()
    lib.blas_thread_shutdown_()
    return True


# ---------------------------------------------------------------------- BLAS thread count
_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")
_lib = {}


def _openblas_lib():
    """NumPy's OpenBLAS as a ctypes library, or None."""
    if "lib" in _lib:
        return _lib["lib"]
    _lib["lib"] = None
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
                    _lib["lib"], _lib["fns"] = lib, (getattr(lib, s), getattr(lib, g))
                    return lib
    return None


def _openblas():
    """(set_num_threads, get_num_threads) of NumPy's OpenBLAS, or None."""
    return _lib.get("fns") if _openblas_lib() is not None else None


def set_num_threads(n):
    """Use ``n`` threads for matrix products (NumPy's OpenBLAS) and for shendu's own
    parallel parts."""
    n = int(n)
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    fns = _openblas()
    if fns is not None:
        fns[0](ctypes.c_int(n))


def get_num_threads():
    """The number of threads matrix products (and shendu's parallel parts) use."""
    fns = _openblas()
    if fns is not None:
        return int(fns[1]())
    return os.cpu_count() or 1


# ---------------------------------------------------------------------- shendu's own pool
# One pool serves every op: made per process (a forked child makes its own) and grown
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


def run_split(fn, n, large):
    """fn(lo, hi) over range(n): one consecutive range per free thread when ``large`` (the
    work pays for the hand-off to the pool), else a single call fn(0, n)."""
    parts = min(free_threads(), n) if large else 1
    if parts <= 1:
        fn(0, n)
    else:
        run_ranges(fn, n, parts)


# ---------------------------------------------------------------------- does a split pay?
# Handing a part to the pool and waiting for it costs a thread wake-up. Each op's split
# threshold (in elements, in its own module) was tuned on a Xeon; on a 2-vCPU VM (AMD EPYC,
# 2026-12-06) a no-op round trip measured 80-100 us, and splitting ReLU, pooling or batch
# norm on maps under ~1M elements (LeNet's, ResNet-18's deeper layers) made them slower.
# So the hand-off is measured once per process and a split is made only when, besides
# reaching its op's threshold, the work's estimated time on one thread (elements x the op's
# ns per element) exceeds what the split saves over one hand-off: with p threads,
# T/p + h < T. Splitting never changes a result (every split op computes each element,
# row or channel on one thread, in the same order), only the time.
HANDOFF_TRIALS = 15
_handoff = {}


def handoff_seconds():
    """What handing a part to the pool and waiting for it costs here: the median of
    HANDOFF_TRIALS no-op round trips, measured at the first call in each process."""
    if _handoff.get("pid") != os.getpid():
        noop = lambda i: None                            # noqa: E731
        run_each(noop, 2)                                # the pool's start is not a hand-off
        times = []
        for _ in range(HANDOFF_TRIALS):
            t0 = time.perf_counter()
            run_each(noop, 2)
            times.append(time.perf_counter() - t0)
        _handoff.update(pid=os.getpid(), seconds=sorted(times)[HANDOFF_TRIALS // 2])
    return _handoff["seconds"]


def split_pays(elements, ns_per_element, floor):
    """Whether work over ``elements`` elements, about ``ns_per_element`` ns each on one
    thread, is split over the free threads: from ``floor`` elements (the op's threshold) and
    only where the split saves more than a hand-off costs (see above)."""
    parts = free_threads()
    if parts <= 1 or elements < floor:
        return False
    return elements * ns_per_element * 1e-9 * (1 - 1 / parts) > handoff_seconds()


def free_threads():
    """Threads a new parallel region may use: the knob's count, or 1 inside a part that
    already runs in parallel."""
    if in_parallel_region():
        return 1
    return get_num_threads()


# ---------------------------------------------------------------------- channel threads
# Threads for the copies and multiply-adds around conv's matrix products (which BLAS already
# spreads over its own threads). Opt-in (SHENDU_NUM_THREADS=2): on the 2-core machine,
# idle, it measured no gain (depthwise block) or a 5-10 % loss (LeNet-5: many small
# arrays, GIL hand-offs), so one thread is the default.
CHANNEL_THREADS = settings.CHANNEL_THREADS
CHANNEL_SPLIT_MIN = 1 << 16    # elements of work below which a channel split costs what it saves


def run_channels(fn, n, work):
    """fn(a, b) over a split of range(n) (channels) on CHANNEL_THREADS threads; serial when
    the work (elements touched) is small."""
    t = min(CHANNEL_THREADS, n)
    if t <= 1 or work < CHANNEL_SPLIT_MIN:
        fn(0, n)
        return
    run_ranges(fn, n, t)


# ---------------------------------------------------------------------- batch threads
# The chunks of a conv face (different images) run on as many threads as BLAS would use,
# BLAS pinned to one thread meanwhile. Then the im2col copies, col2im sums and products
# of different images all run at once; left to BLAS, only the products would be spread
# over the cores, and the skinny ones (few channels) hardly at all. On the 2-core machine
# this took LeNet-5's step from ~1.9x to ~1.3x torch's time.
def run_chunks(chunks, fn):
    """fn(slot, a, b) for each chunk (a, b); ``slot`` says which thread runs it (0 .. T-1),
    for per-thread accumulators. Chunk i goes to thread i mod T. BLAS runs on one thread
    while the chunks run, and gets back the thread count it had. Returns T."""
    T = min(free_threads(), len(chunks))
    if T <= 1:
        for a, b in chunks:
            fn(0, a, b)
        return 1

    def serial(t):
        for a, b in chunks[t::T]:
            fn(t, a, b)
    found = get_num_threads()
    set_num_threads(1)
    try:
        run_each(serial, T)
    finally:
        set_num_threads(found)
    return T


# ---------------------------------------------------------------------- buckets
def current_slot():
    """Which bucket of ``run_buckets`` this thread is running (0 outside one): the key
    of per-thread scratch buffers."""
    return getattr(_local, "slot", 0)


def run_buckets(items, size, fn, min_work):
    """fn(item) for every item, the items dealt into one bucket per thread (largest first
    onto the lightest bucket) and the buckets run at once, each thread's ``current_slot()``
    its bucket's index; in turn on the calling thread when the total ``size(item)`` is
    below ``min_work``."""
    t = min(free_threads(), len(items))
    if t <= 1 or sum(size(it) for it in items) < min_work:
        for it in items:
            fn(it)
        return
    loads, buckets = [0] * t, [[] for _ in range(t)]
    for it in sorted(items, key=lambda it: -size(it)):
        i = loads.index(min(loads))
        buckets[i].append(it)
        loads[i] += size(it)

    def run(slot):
        _local.slot = slot
        try:
            for it in buckets[slot]:
                fn(it)
        finally:
            _local.slot = 0
    run_each(run, t)
