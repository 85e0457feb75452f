"""Optional compiled kernels (numba) for the few loops NumPy cannot make fast.

A kernel here is a plain Python loop over arrays, compiled by numba on first use
(``cache=True``: once per machine, then loaded from disk) with the GIL released, so
shendu's threads can run it on several parts of a batch at once. Kernels write into arrays
the caller allocates and return nothing but flags.

Every kernel has a NumPy twin in the op that uses it. The twin is the reference the tests
compare the kernel against, and the path taken when numba is not installed (it is the
``fast`` extra) or when ``SHENDU_NUMBA=0``.

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
import os
import threading

import numpy as np

from . import _threads

__all__ = ["enabled", "set_enabled", "run_split", "max_pool_2x2", "max_unpool_2x2",
           "col2im_rows", "relu_mask", "select", "tanh_grad", "sigmoid_grad"]

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


kernel = _Kernel                     # the decorator


def run_split(kern, *arrays):
    """kern(*arrays) with the arrays cut along their first axis into one part per thread
    (kernels release the GIL), or in one go when the work is small; returns whether any
    part returned True. Scalars among the arguments pass whole."""
    n = arrays[0].shape[0]
    t = min(_threads.get_num_threads(), n) if arrays[0].size >= SPLIT_MIN else 1
    if t <= 1:
        return bool(kern(*arrays))
    return any(_threads.run_ranges(
        lambda lo, hi: kern(*(a[lo:hi] if isinstance(a, np.ndarray) else a for a in arrays)),
        n, t))


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


@kernel
def relu_mask(x, y, m):
    """y = relu(x) and m = not (x <= 0), torch's rule: a NaN stays NaN and passes its
    gradient; 1-D arrays of one length."""
    for i in range(x.size):
        v = x[i]
        off = v <= 0
        y[i] = 0.0 if off else v
        m[i] = not off


@kernel
def select(g, m, out):
    """out = g where m, else 0 (torch's masked gradient); 1-D arrays of one length."""
    for i in range(g.size):
        out[i] = g[i] if m[i] else 0.0


@kernel
def tanh_grad(g, y, one, out):
    """out = g (1 − y²) for y = tanh(x); 1-D arrays of one length, ``one`` 1 in their dtype
    (so float32 stays float32, rounding as the NumPy twin)."""
    for i in range(g.size):
        out[i] = g[i] * (one - y[i] * y[i])


@kernel
def sigmoid_grad(g, y, one, out):
    """out = g (y (1 − y)) for y = sigmoid(x); as tanh_grad."""
    for i in range(g.size):
        out[i] = g[i] * (y[i] * (one - y[i]))
