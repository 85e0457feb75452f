"""Max-pooling window routines: the argmax over a window's views and the scatter of the
gradient back to it, with compiled kernels for 2x2 windows at stride 2 (LeNet, VGG,
U-Net) beside their NumPy twins.

A pooling's geometry (``_ops.pooling.Windows``) gives, per kernel offset, a view of the
padded input with the output's shape; these routines work on those views. The kernels
replace about a dozen NumPy passes over strided views (and four masked passes back) with
one pass over each window in registers: 3-4x.
"""
import numpy as np

from .kernels import KERNEL_DTYPES, enabled, kernel, run_split

UINT8_VALUES = 256      # argmax offsets fit a uint8 up to this many (smaller arg arrays)


def argmax_views(views, need_arg):
    """The running maximum of ``views`` and (if asked) the index of the first view that
    attains it, for windows free of NaN and -inf (the caller handles those)."""
    out = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
    if not need_arg:
        for v in views[2:]:
            np.maximum(out, v, out=out)
        return out, None
    dt = np.uint8 if len(views) <= UINT8_VALUES else np.int32
    arg = (views[1] > views[0]).astype(dt) if len(views) > 1 else np.zeros(out.shape, dt)
    for k in range(2, len(views)):
        later = np.greater(views[k], out).astype(dt)     # a later offset replaces: k is larger
        np.maximum(arg, np.multiply(later, dt(k), out=later), out=arg)
        np.maximum(out, views[k], out=out)
    return out, arg


def scatter_argmax(gy, arg, keys, gxp, disjoint, strided):
    """Add gy into ``gxp`` (the padded input's shape) at each window's argmax offset:
    ``keys[k]`` indexes gxp's view for offset k. ``disjoint`` windows may write instead of
    add (gxp need not be zeroed if they also tile it). Masks multiply rather than select
    (4x faster); an inf/NaN gradient therefore also reaches its window's other positions
    as NaN (the 2x2 kernel selects, as torch does)."""
    for k, key in enumerate(keys):
        hit = arg == k
        if disjoint:
            np.multiply(gy, hit, out=gxp[key])
        elif strided:
            gxp[key] += gy * hit
        else:
            np.add.at(gxp, key, gy * hit)
    return gxp


# ---------------------------------------------------------------------- 2x2, stride 2
def pairs_apply(dtype):
    """Whether the 2x2 kernels take this dtype (and numba is on)."""
    return dtype in KERNEL_DTYPES and enabled()


def _planes(a):
    """(N, C, H, W) -> (N*C, H, W) (a view when the layout allows)."""
    return a.reshape((-1,) + a.shape[2:])


def max_pool_pairs(xp, out_shape):
    """The compiled twin of argmax_views for 2x2 windows at stride 2 tiling the padded
    input xp (N, C, 2 Ho, 2 Wo): (out, uint8 arg) of shape out_shape, or None when a
    window holds a NaN."""
    out = np.empty(out_shape, xp.dtype)
    arg = np.empty(out_shape, np.uint8)
    if run_split(max_pool_2x2, _planes(xp), _planes(out), _planes(arg), ns=0.27):
        return None
    return out, arg


def max_unpool_pairs(gy, arg, padded_shape):
    """The compiled twin of scatter_argmax for those windows: gy at the argmax offsets of
    a fresh (padded_shape) array, zeros elsewhere."""
    gxp = np.empty(padded_shape, dtype=gy.dtype)
    run_split(max_unpool_2x2, _planes(gy), _planes(arg), _planes(gxp), ns=1.75)   # per gy
    return gxp


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
