"""Optional compiled kernels (numba) for the few loops NumPy cannot make fast.

A kernel here is a plain Python loop over arrays, compiled by numba on first use
(``cache=True``: once per machine, then loaded from disk) with the GIL released, so
shendu's threads can run it on several parts of a batch at once. Kernels write into arrays
the caller allocates and return nothing but flags.

Every kernel has a NumPy twin in the op that uses it. The twin is the reference the tests
compare the kernel against, and the path taken when numba is not installed (it is the
``fast`` extra) or when ``SHENDU_NUMBA=0``.

2×2 max pooling with stride 2 (LeNet, VGG, U-Net): NumPy needs about a dozen passes over
strided views to find each window's maximum and argmax (a max and a compare per offset,
index bookkeeping), and four masked passes to scatter the gradient back. One pass over
each window in registers is 3x faster forward and 4x backward.
"""
import os
import threading

import numpy as np

__all__ = ["enabled", "set_enabled", "max_pool_2x2", "max_unpool_2x2"]

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
        on = _state["enabled"] = (os.environ.get("SHENDU_NUMBA", "1") != "0"
                                  and _numba_importable())
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

    def __init__(self, fn):
        self.py = fn                     # the uncompiled loop (tests may run it directly)
        self._jit = None
        self.__doc__, self.__name__ = fn.__doc__, fn.__name__

    def __call__(self, *args):
        jit = self._jit
        if jit is None:
            with _compile_lock:
                if self._jit is None:
                    import numba
                    self._jit = numba.njit(cache=True, nogil=True)(self.py)
                jit = self._jit
        return jit(*args)


def kernel(fn):
    return _Kernel(fn)


@kernel
def max_pool_2x2(x, out, arg):
    """out[m, i, j] = max of x[m, 2i:2i+2, 2j:2j+2] and arg its first argmax in row-major
    order (0..3); x (M, H, W) with H >= 2 Ho, W >= 2 Wo; out (M, Ho, Wo), arg uint8 of
    out's shape. Returns whether x held a NaN in some window (the caller then applies
    torch's NaN rule; ``out`` and ``arg`` are not meaningful there)."""
    M, Ho, Wo = out.shape
    nan = False
    for m in range(M):
        for i in range(Ho):
            for j in range(Wo):
                a0, a1 = x[m, 2 * i, 2 * j], x[m, 2 * i, 2 * j + 1]
                b0, b1 = x[m, 2 * i + 1, 2 * j], x[m, 2 * i + 1, 2 * j + 1]
                # compares and selects without branches (the outcomes are coin flips);
                # a later offset wins only when strictly larger: torch's first argmax
                m0, k0 = max(a0, a1), np.uint8(a1 > a0)
                m1, k1 = max(b0, b1), np.uint8(b1 > b0) + np.uint8(2)
                nan |= (a0 != a0) | (a1 != a1) | (b0 != b0) | (b1 != b1)
                out[m, i, j] = max(m0, m1)
                arg[m, i, j] = k1 if m1 > m0 else k0
    return nan


@kernel
def max_unpool_2x2(gy, arg, gx):
    """The adjoint of max_pool_2x2: gx[m, 2i:2i+2, 2j:2j+2] holds gy[m, i, j] at the offset
    arg[m, i, j] and zeros elsewhere; gx (M, 2 Ho, 2 Wo)."""
    M, Ho, Wo = gy.shape
    for m in range(M):
        for i in range(Ho):
            for j in range(Wo):
                g, k = gy[m, i, j], arg[m, i, j]
                gx[m, 2 * i, 2 * j] = g if k == 0 else 0.0
                gx[m, 2 * i, 2 * j + 1] = g if k == 1 else 0.0
                gx[m, 2 * i + 1, 2 * j] = g if k == 2 else 0.0
                gx[m, 2 * i + 1, 2 * j + 1] = g if k == 3 else 0.0


@kernel
def col2im_rows(cols, offsets, row, lo0, lo1, out):
    """col2im of columns laid on widened rows (conv's stride-1 route, 2-D): for each image
    n and channel c, the padded plane (flattened, rows of length ``row``) is the sum over
    kernel offsets j of cols[c, j, n] placed at shift offsets[j]; out[n, c] is that plane
    cropped at (lo0, lo1). cols (C, KK, n, m), offsets int64 (KK,), out (n, C, S0, S1).
    The plane is summed in a small buffer that stays in L1, written out once."""
    C, KK, N, M = cols.shape
    S0, S1 = out.shape[2], out.shape[3]
    size = M
    for j in range(KK):
        size = max(size, offsets[j] + M)
    acc = np.empty(size, cols.dtype)
    for c in range(C):
        for n in range(N):
            for t in range(size):
                acc[t] = 0
            for j in range(KK):
                # through a view with a loop of its own: LLVM then vectorizes the add
                # (indexing acc[offsets[j] + t] directly ran 5x slower)
                dst = acc[offsets[j]:offsets[j] + M]
                src = cols[c, j, n]
                for t in range(M):
                    dst[t] = dst[t] + src[t]
            for i in range(S0):
                base = (i + lo0) * row + lo1
                for k in range(S1):
                    out[n, c, i, k] = acc[base + k]
