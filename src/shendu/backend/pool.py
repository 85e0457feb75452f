"""Max-pooling window routines: the argmax over a window's views and the scatter of the
gradient back to it, with compiled kernels beside their NumPy twins: for 2x2 windows at
stride 2 (LeNet, VGG, U-Net), and for any regular 2-D grid of windows (3x3/2 in ResNet,
AlexNet and GoogLeNet, overlapping windows, dilation; 3x3/2 padded, batch 32 x 64 x 32²,
forward + backward 17.8 -> 8.8 ms, torch 10.5).

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


# ---------------------------------------------------------------------- any 2-D grid
# Windows at stride (s0, s1) with dilation (d0, d1), K0 x K1 offsets (ResNet's and
# GoogLeNet's 3x3/2, AlexNet's 3x3/2, overlapping or not): one pass over the windows,
# where the NumPy form makes a pass per offset and, backward, a masked pass per offset.
def windows_apply(dtype, kshape):
    """Whether the grid kernels take this dtype and kernel (offsets fit the uint8 arg)."""
    return (dtype in KERNEL_DTYPES and enabled() and len(kshape) == 2
            and kshape[0] * kshape[1] <= UINT8_VALUES)


def max_pool_grid(xp, out_shape, kshape, steps):
    """The compiled twin of argmax_views for windows on a regular 2-D grid of the padded
    input xp (N, C, H, W): ``steps`` ((s0, d0), (s1, d1)). (out, uint8 arg) of out_shape,
    or None when a window holds a NaN."""
    out = np.empty(out_shape, xp.dtype)
    arg = np.empty(out_shape, np.uint8)
    (s0, d0), (s1, d1) = steps
    # ns per padded-input element: ~0.25 per window read, K0 K1 reads (3x3/2 measured 2.2;
    # an underestimate for stride 1, which only makes splitting rarer)
    if run_split(max_pool_windows, _planes(xp), _planes(out), _planes(arg), kshape[0],
                 kshape[1], s0, s1, d0, d1, ns=0.25 * kshape[0] * kshape[1]):
        return None
    return out, arg


def max_unpool_grid(gy, arg, padded_shape, kshape, steps):
    """The compiled twin of scatter_argmax for those windows: gy added at the argmax
    offsets of a zeroed (padded_shape) array."""
    gxp = np.zeros(padded_shape, dtype=gy.dtype)
    (s0, d0), (s1, d1) = steps
    run_split(max_unpool_windows, _planes(gy), _planes(arg), _planes(gxp), kshape[1],
              s0, s1, d0, d1, ns=1.0)
    return gxp


@kernel
def max_pool_windows(x, out, arg, K0, K1, s0, s1, d0, d1):
    """out[m, i, j] = max over k = (k0, k1) of x[m, i s0 + k0 d0, j s1 + k1 d1], arg its
    first argmax k0 K1 + k1 (a later offset wins only when strictly larger: torch's first
    argmax); returns whether some window held a NaN (the caller then applies torch's rule).
    Four windows of a row at a time: a window's running maximum is a chain of dependent
    compare-selects, and four chains side by side ran 2.5x faster than one."""
    M, Ho, Wo = out.shape
    nan = False
    for m in range(M):
        for i in range(Ho):
            j = 0
            while j + 4 <= Wo:
                c0, c1, c2, c3 = j * s1, (j + 1) * s1, (j + 2) * s1, (j + 3) * s1
                r = i * s0
                b0, b1, b2, b3 = x[m, r, c0], x[m, r, c1], x[m, r, c2], x[m, r, c3]
                q0 = q1 = q2 = q3 = np.uint8(0)
                bad = (b0 != b0) | (b1 != b1) | (b2 != b2) | (b3 != b3)
                for k0 in range(K0):
                    r = i * s0 + k0 * d0
                    for k1 in range(K1):
                        kk, e = np.uint8(k0 * K1 + k1), k1 * d1
                        v0, v1 = x[m, r, c0 + e], x[m, r, c1 + e]
                        v2, v3 = x[m, r, c2 + e], x[m, r, c3 + e]
                        bad |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)
                        g0, g1, g2, g3 = v0 > b0, v1 > b1, v2 > b2, v3 > b3
                        q0, q1 = (kk if g0 else q0), (kk if g1 else q1)
                        q2, q3 = (kk if g2 else q2), (kk if g3 else q3)
                        b0, b1 = (v0 if g0 else b0), (v1 if g1 else b1)
                        b2, b3 = (v2 if g2 else b2), (v3 if g3 else b3)
                out[m, i, j], out[m, i, j + 1], out[m, i, j + 2], out[m, i, j + 3] = b0, b1, b2, b3
                arg[m, i, j], arg[m, i, j + 1], arg[m, i, j + 2], arg[m, i, j + 3] = q0, q1, q2, q3
                nan |= bad
                j += 4
            while j < Wo:                                  # the row's last windows
                c0 = j * s1
                b0, q0 = x[m, i * s0, c0], np.uint8(0)
                bad = b0 != b0
                for k0 in range(K0):
                    r = i * s0 + k0 * d0
                    for k1 in range(K1):
                        v0 = x[m, r, c0 + k1 * d1]
                        bad |= v0 != v0
                        g0 = v0 > b0
                        q0 = np.uint8(k0 * K1 + k1) if g0 else q0
                        b0 = v0 if g0 else b0
                out[m, i, j], arg[m, i, j] = b0, q0
                nan |= bad
                j += 1
    return nan


@kernel
def max_unpool_windows(gy, arg, gx, K1, s0, s1, d0, d1):
    """The adjoint of max_pool_windows: gx (M, H, W), zeroed by the caller, gets gy[m, i, j]
    added at its window's argmax. The windows are visited last to first, so each position
    sums its gradients in the order of their offsets, as the NumPy form's pass per offset
    does (the same bits)."""
    M, Ho, Wo = gy.shape
    for m in range(M):
        for i in range(Ho - 1, -1, -1):
            for j in range(Wo - 1, -1, -1):
                k = arg[m, i, j]
                k0, k1 = k // K1, k % K1
                gx[m, i * s0 + k0 * d0, j * s1 + k1 * d1] += gy[m, i, j]
