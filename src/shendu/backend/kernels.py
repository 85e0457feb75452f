"""The machinery of the optional compiled kernels (numba), for the few loops NumPy cannot
make fast.

A kernel here is a plain Python loop over arrays, compiled by numba on first use
(``cache=True``: once per machine, then loaded from disk) with the GIL released, so
shendu's threads can run it on several parts of a batch at once. Kernels write into arrays
the caller allocates and return nothing but flags.

Every kernel lives beside its NumPy twin, in the backend module of its concern
(``elementwise.py``, ``pool.py``, ``conv.py``). The twin is the reference the tests compare
the kernel against, and the path taken when numba is not installed (it is the ``fast``
extra) or when ``SHENDU_NUMBA=0``. Adding one: write the loop under ``@kernel`` next to the
NumPy code it replaces, branch on ``applies(...)``, and test kernel == twin.

What they replace (LeNet-5 step, 2 threads: 19.4 -> 14.9 ms in one A/B run):

* 2x2 max pooling with stride 2 (LeNet, VGG, U-Net): NumPy needs about a dozen passes over
  strided views to find each window's maximum and argmax, and four masked passes to
  scatter the gradient back; one pass over each window in registers is 3-4x faster.
* conv's widened-row col2im: 25 read-modify-write passes over a buffer become one plane
  summed in L1 and written once (5x).
* tanh's and sigmoid's gradients from their outputs, g (1 − y²) and g y (1 − y), in one
  pass instead of three (arithmetic only: numba has no vector tanh/exp, so the functions
  themselves stay with NumPy's SIMD loops).
* ReLU's output and mask in one pass, and the mask's select in backward (NumPy's multiply
  by a bool array goes through a casting buffer): 1.5-2x, and the select is torch's exact
  rule for inf/NaN gradients.
"""
import threading

import numpy as np

from . import settings, threads

__all__ = ["enabled", "set_enabled", "kernel", "sum_kernel", "run_split", "applies", "KERNEL_DTYPES"]

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
SPLIT_MIN = 1 << 18             # elements (of the first array) from which work is split: below,
                                # a thread hand-off costs what it saves (LeNet's 51K-element pool)

_state = {"enabled": None}
_compile_lock = threading.Lock()


def _numba_importable():
    try:
        import numba  # noqa: F401
    except Exception:                    # missing, or broken against this NumPy
        return False
    return True


def enabled():
    """Whether ops use the compiled kernels: numba is importable and SHENDU_NUMBA is not 0."""
    on = _state["enabled"]
    if on is None:
        on = _state["enabled"] = settings.NUMBA and _numba_importable()
    return on


def set_enabled(flag):
    """Turn the compiled kernels on or off (returns the previous setting); on needs numba."""
    prev = enabled()
    if flag and not _numba_importable():
        raise RuntimeError("shendu's compiled kernels need numba: pip install 'shendu[fast]'")
    _state["enabled"] = bool(flag)
    return prev


class _Kernel:
    """A function compiled with numba the first time it is called."""

    def __init__(self, fn, fastmath=False):
        self.py = fn                     # the uncompiled loop (tests may run it directly)
        self._jit = None
        self.fastmath = fastmath
        self.__doc__, self.__name__ = fn.__doc__, fn.__name__

    def __call__(self, *args):
        jit = self._jit
        if jit is None:
            with _compile_lock:
                if self._jit is None:
                    import numba
                    self._jit = numba.njit(cache=True, nogil=True, fastmath=self.fastmath)(self.py)
                jit = self._jit
        return jit(*args)


kernel = _Kernel                     # the decorator


def sum_kernel(fn):
    """``@kernel`` for loops that sum: the compiler may reassociate their floating-point
    additions (numba's fastmath 'reassoc' only), so a sum runs as several SIMD partial sums,
    as NumPy's own reductions do, instead of one serial chain (~8x slower). Every other
    operation keeps IEEE semantics."""
    return _Kernel(fn, fastmath={"reassoc"})


def run_split(kern, *arrays, ns=0.25):
    """kern(*arrays) with the arrays cut along their first axis into one part per thread
    (kernels release the GIL), or in one go when the work is small or would not pay for the
    hand-off (``ns``: the kernel's time per element of the first array on one thread; see
    threads.split_pays); returns whether any part returned True. Scalars among the
    arguments pass whole."""
    n = arrays[0].shape[0]
    t = min(threads.get_num_threads(), n) \
        if threads.split_pays(arrays[0].size, ns, SPLIT_MIN) else 1
    if t <= 1:
        return bool(kern(*arrays))
    return any(threads.run_ranges(
        lambda lo, hi: kern(*(a[lo:hi] if isinstance(a, np.ndarray) else a for a in arrays)),
        n, t))


def applies(*arrays):
    """Whether the compiled elementwise kernels take these arrays: numba on, a float
    dtype it compiles, C-contiguous (so each is one flat run) and of one shape."""
    a = arrays[0]
    return (a.dtype in KERNEL_DTYPES and enabled()
            and all(b.flags.c_contiguous and b.shape == a.shape for b in arrays))
