"""Elementwise array routines: the split ufunc, and the fast ReLU / masked-select / tanh /
sigmoid routines, each compiled kernel beside its NumPy twin.

Every routine takes and returns ndarrays. The kernels apply to float32/float64,
C-contiguous arrays of one shape (``kernels.applies``); elsewhere the NumPy twin runs,
and the tests check kernel == twin.
"""
import numpy as np

from . import threads
from .kernels import kernel, run_split, applies

# ---------------------------------------------------------------------- large ufuncs
# One NumPy thread streams fresh arrays at a fraction of the memory bandwidth (seen: 1M-element
# float32 multiply 1.5 ms in a chain on one core of the Xeon, 0.8 ms split over two), while
# PyTorch splits every large elementwise op over its threads. ufunc loops release the GIL,
# so halves on shendu's threads run at once.
UFUNC_SPLIT_MIN = 1 << 18      # elements below which a split costs what it saves
UFUNC_NS = 0.25                # ns per element of a cheap ufunc (add) on one thread, EPYC
UFUNC_ALIGN = 64               # split boundaries on whole cache lines (and SIMD blocks)


def ufunc(f, *args):
    """``f(*args)`` for a NumPy ufunc ``f``, split over shendu's threads when the output is
    large and every array operand is C-contiguous with the first one's shape (scalars may
    join); otherwise the plain call, with NumPy's broadcasting and errors."""
    a = args[0] if type(args[0]) is np.ndarray else args[-1]
    if type(a) is not np.ndarray or not a.flags.c_contiguous \
            or not threads.split_pays(a.size, UFUNC_NS, UFUNC_SPLIT_MIN):
        return f(*args)
    for b in args[1:]:
        if type(b) is np.ndarray and (b.shape != a.shape or not b.flags.c_contiguous):
            return f(*args)
    t = threads.free_threads()
    flat = [x.reshape(-1) if type(x) is np.ndarray else x for x in args]
    head = f(*[x[:1] if type(x) is np.ndarray else x for x in flat])  # NumPy's result dtype
    out = np.empty(a.shape, head.dtype)
    dst = out.reshape(-1)
    err = np.geterr()                  # errstate is per thread: carry the caller's

    def part(lo, hi):
        with np.errstate(**err):
            f(*[x[lo:hi] if type(x) is np.ndarray else x for x in flat], out=dst[lo:hi])
    threads.run_ranges(part, a.size, t, align=UFUNC_ALIGN)
    return out


# ---------------------------------------------------------------------- relu
def relu(x):
    """max(x, 0), NaN kept (NumPy's maximum propagates it)."""
    return np.maximum(x, 0)


def relu_with_mask(x):
    """(relu(x), mask) with mask = not (x <= 0), torch's rule: a NaN stays NaN and passes
    its gradient. One compiled pass where the kernels apply."""
    if applies(x):
        y, m = np.empty_like(x), np.empty(x.shape, np.bool_)
        run_split(relu_mask, x.reshape(-1), y.reshape(-1), m.reshape(-1), ns=0.23)
        return y, m
    y = relu(x)
    return y, ~np.less_equal(y, 0)


@kernel
def relu_mask(x, y, m):
    """y = relu(x) and m = not (x <= 0); 1-D arrays of one length."""
    for i in range(x.size):
        v = x[i]
        off = v <= 0
        y[i] = 0.0 if off else v
        m[i] = not off


def masked(g, mask):
    """g where mask, else 0 (g's dtype). The kernel selects, as torch does; the NumPy twin
    multiplies (4-5x faster than np.where), which differs only where g is already inf/NaN
    at a masked-out position (NaN * 0 = NaN)."""
    if mask.dtype == np.bool_ and applies(g, mask):
        out = np.empty_like(g)
        run_split(select, g.reshape(-1), mask.reshape(-1), out.reshape(-1), ns=0.24)
        return out
    return np.multiply(g, mask, dtype=g.dtype)


@kernel
def select(g, m, out):
    """out = g where m, else 0 (torch's masked gradient); 1-D arrays of one length."""
    for i in range(g.size):
        out[i] = g[i] if m[i] else 0.0


# ---------------------------------------------------------------------- tanh and sigmoid
def tanh(x):
    return ufunc(np.tanh, x)


def sigmoid(x):
    """1 / (1 + e^-x), accurate to an ulp or two over the whole range, also far to the left
    (where a tanh-based form loses every digit). Where e^-x overflows (x < −88.7 in float32,
    −709 in float64) the result is 0 and the overflow is silent, as torch's float32 gives.
    Three passes: the e^−|x| form with a select took 5x as long on LSTM gates."""
    with np.errstate(over="ignore"):
        e = np.exp(np.negative(x))
    return 1.0 / (e + 1.0)


def tanh_backward(g, y):
    """g (1 − y²) for y = tanh(x): one compiled pass where the kernels apply."""
    return _output_grad(tanh_grad, g, y) if _fused_ok(g, y) else g * (1.0 - y * y)


def sigmoid_backward(g, y):
    """g y (1 − y) for y = sigmoid(x): one compiled pass where the kernels apply."""
    return _output_grad(sigmoid_grad, g, y) if _fused_ok(g, y) else g * (y * (1.0 - y))


def _fused_ok(g, y):
    return g.dtype == y.dtype and applies(g, y)


def _output_grad(kern, g, y):
    out = np.empty_like(g)
    run_split(kern, g.reshape(-1), y.reshape(-1), g.dtype.type(1), out.reshape(-1))
    return out


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
