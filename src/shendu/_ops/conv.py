"""Convolution, one N-d implementation for conv1d/2d/3d, the transposed convolutions and
unfold/fold (seed 004 卷积的实现: im2col + matrix multiply, col2im).

The three faces of one trilinear form
-------------------------------------
For fixed geometry (kernel, stride, padding, dilation, groups) let

    T(x, w, y) = <y, conv(x, w)> = sum  y[n, o, i] * w[o, c', k] * xpad[n, c, i*s + k*d]

(c runs over the input channels of o's group, c' is c's index inside the group). T is
linear in each of x (N, C, *S), w (O, C/g, *K) and y (N, O, *P), and its three partial
derivatives are the three operations convolution needs:

    dT/dy = conv(x, w)               face "y": the convolution
    dT/dx = conv_transpose(y, w)     face "x": the transposed convolution (grad w.r.t. input)
    dT/dw = correlation(x, y)        face "w": the weight gradient

Each face is a :class:`Convolution` node. The vector-Jacobian product of a face is again a
face: for the face producing ``z`` from ``(u, v)`` and an incoming gradient ``g``,
grad_u = face_u with z replaced by g, grad_v = face_v with z replaced by g. So backward is
a handful of lines, runs the same fast kernels, and is differentiable to any order
(gradgradcheck passes for conv and conv_transpose alike). torch's ConvTranspose weight
(in, out/g, *K) is exactly the weight of the convolution whose adjoint it is.

Kernels (NumPy)
---------------
im2col copies the windows of the zero-padded input (a strided view, no copy until then)
into a column matrix laid out (C, *K, n, *P), i.e. per group a (Cg*K, n*P) matrix; one
matmul per group of images gives the output (O, n*P). col2im adds the K shifted slices of
the columns back into a padded buffer (never ``np.add.at``). The batch is processed in
chunks so the column matrix stays a few MB (cache-resident, memory bounded), and the
scratch buffers are reused between calls (fresh large arrays cost page faults each step).
Special routes, all computing the same faces:

* stride-1 transposed convolution whose output is about the input's size ('same'
  convolutions): an ordinary correlation with the flipped kernel (no col2im at all);
* other stride-1 col2im: columns computed on rows widened to the padded width, so each
  kernel offset is one contiguous shifted add;
* 1×1 convolutions: each image is its own column matrix (no copy);
* depthwise (one input channel per group): K multiply-adds of shifted views, contiguous
  for stride 1 (widened rows), in cache-sized blocks;
* the forward's column matrix is kept for the weight gradient when it is small;
* optionally (SHENDU_NUM_THREADS) the copies and multiply-adds are split over channels
  on threads; BLAS runs the products on its own threads either way.
"""
import functools
import os
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._tensor import Tensor
from ..autograd.function import Node
from . import shape as _shape
from .. import _kernels, _threads

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold"]


# ---------------------------------------------------------------------- geometry
class Geometry:
    """The shape arithmetic shared by the three faces and by unfold/fold, per spatial dim:
    x-side size S, y-side size P, kernel K, stride s, dilation d, padding before ``lo``;
    the padded x buffer has length L (x sits at [lo, lo + S); windows read [0, span))."""
    __slots__ = ("S", "P", "K", "s", "d", "lo", "L", "groups", "nd")

    def __init__(self, S, P, K, s, d, lo, groups=1):
        self.S, self.P, self.K, self.s, self.d, self.lo = S, P, K, s, d, lo
        self.groups = groups
        self.nd = len(S)
        self.L = tuple(max(l_ + n, (p - 1) * st + (k - 1) * dl + 1)
                       for n, p, k, st, dl, l_ in zip(S, P, K, s, d, lo))

    def padded(self):
        return self.L != self.S or any(self.lo)


def _prod(xs):
    r = 1
    for v in xs:
        r *= v
    return r


# ---------------------------------------------------------------------- scratch buffers
class _Scratch(threading.local):
    """Grow-only scratch arrays, one per slot, reused across calls."""

    def __init__(self):
        self.bufs = {}

    def get(self, slot, shape, dtype):
        n = _prod(shape) * np.dtype(dtype).itemsize
        buf = self.bufs.get(slot)
        if buf is None or buf.nbytes < n:
            if n > SCRATCH_MAX_BYTES:            # too big to hold on to between calls
                return np.empty(shape, dtype)
            buf = self.bufs[slot] = np.empty(max(n, 1), np.uint8)
        return buf[:n].view(dtype).reshape(shape)


_scratch = _Scratch()
SCRATCH_MAX_BYTES = 1 << 26    # larger scratch requests get a fresh array each time
CHUNK_ELEMS = 1 << 20          # target size of one column-matrix chunk (elements): small
                               # enough for the product to run from cache (64-channel 3x3
                               # layers: 27 -> 20 ms at batch 32). When BLAS itself ran
                               # multi-threaded, 4x the calls cost scheduler slices on
                               # shared cores; the batch threads run BLAS single-threaded,
                               # and with a busy neighbour process 1 << 20 and 1 << 22 tie.
MIN_COLUMNS = 1024             # a chunk's matrix product has at least this many columns
BLOCK_ELEMS = 1 << 18          # elements a multiply-add pass works on at once (in L2)


def _chunks(n_batch, per_image, budget=None, min_images=1, parts=1):
    """Split the batch into chunks of about ``budget`` elements (default CHUNK_ELEMS, the
    column matrix's size), at least ``min_images`` images each, and at least ``parts``
    chunks when the batch allows (one per batch thread)."""
    nb = max(1, min_images, (budget or CHUNK_ELEMS) // max(per_image, 1))
    if parts > 1 and n_batch > 0:
        # a multiple of ``parts`` chunks of equal size, so that no thread waits on another
        # (3 chunks of 53, 53 and 22 images made one thread do 75 of 128)
        count = -(-n_batch // max(1, min(nb, -(-n_batch // parts))))
        count = -(-count // parts) * parts
        nb = max(1, -(-n_batch // count))
    return [(i, min(i + nb, n_batch)) for i in range(0, n_batch, nb)]


def _gemm_chunks(N, C, g, grid=None):
    """The image chunks of the column-matrix products (face_y and face_w must agree)."""
    pp = _prod(grid or g.P)
    return _chunks(N, C * _prod(g.K) * pp, min_images=-(-MIN_COLUMNS // pp),
                   parts=_batch_threads())


# ---------------------------------------------------------------------- threads
def _num_threads():
    v = os.environ.get("SHENDU_NUM_THREADS", "")
    return int(v) if v.isdigit() and int(v) > 0 else 1


# Threads for the copies and multiply-adds around the matrix products (which BLAS already
# spreads over its own threads). Opt-in (SHENDU_NUM_THREADS=2): on the 2-core machine,
# idle, it measured no gain (depthwise block) or a 5-10 % loss (LeNet-5: many small
# arrays, GIL hand-offs), so one thread is the default.
NUM_THREADS = _num_threads()
PARALLEL_MIN = 1 << 16         # elements of work below which a split is not worth it


def _parallel(fn, n, work):
    """Run fn(a, b) over a split of range(n) (channels) on NUM_THREADS threads: NumPy
    releases the GIL inside copies and ufunc loops, so the parts run at once. Serial when
    the work (elements touched) is small."""
    t = min(NUM_THREADS, n)
    if t <= 1 or work < PARALLEL_MIN:
        fn(0, n)
        return
    _threads.run_ranges(fn, n, t)


# Batch threads: the chunks of a face (different images) run on as many threads as BLAS
# would use, BLAS pinned to one thread meanwhile. Then the im2col copies, col2im sums and
# products of different images all run at once; left to BLAS, only the products would be
# spread over the cores, and the skinny ones (few channels) hardly at all. On the 2-core
# machine this took LeNet-5's step from ~1.9x to ~1.3x torch's time.
def _batch_threads():
    """Threads for batch-parallel faces: BLAS's thread count (shendu.set_num_threads), or 1
    inside a part already running in parallel."""
    if _threads.in_parallel_region():
        return 1
    return _threads.get_num_threads()


def _run_chunks(chunks, fn):
    """fn(slot, a, b) for each chunk (a, b); ``slot`` says which thread runs it (0 .. T-1),
    for per-thread accumulators. Chunk i goes to thread i mod T."""
    T = min(_batch_threads(), len(chunks))
    if T <= 1:
        for a, b in chunks:
            fn(0, a, b)
        return 1

    def serial(t):
        for a, b in chunks[t::T]:
            fn(t, a, b)
    _threads.set_num_threads(1)
    try:
        _threads.run_each(serial, T)
    finally:
        _threads.set_num_threads(T)
    return T


# ---------------------------------------------------------------------- im2col / col2im
def _crop(g):
    """The index of x inside its padded buffer."""
    return (Ellipsis,) + tuple(slice(l_, l_ + n) for l_, n in zip(g.lo, g.S))


def _pad(x, g, slot, slack=0):
    """x (n, C, *S) placed at offset lo in a zeroed (n, C, *L) buffer (x itself if no pad).
    With ``slack``: the flattened buffer (n, C, prod(L) + slack), zeros after each plane."""
    if not g.padded() and not slack:
        return x
    size = _prod(g.L)
    flat = _scratch.get(slot, x.shape[:2] + (size + slack,), x.dtype)
    buf = flat[:, :, :size].reshape(x.shape[:2] + g.L)
    inner = _crop(g)

    def part(a, b):
        flat[:, a:b].fill(0)
        buf[:, a:b][inner] = x[:, a:b]
    _parallel(part, x.shape[1], flat.size)
    return flat if slack else buf


def _windows(xp, g):
    """The strided view (n, C, *K, *P) of the padded input: [.., k, i] = xp[.., i*s + k*d]."""
    st = xp.strides
    sp = st[2:]
    return as_strided(xp, xp.shape[:2] + g.K + g.P,
                      st[:2] + tuple(a * d for a, d in zip(sp, g.d))
                      + tuple(a * s for a, s in zip(sp, g.s)), writeable=False)


def _shifts(g):
    """For each kernel offset k: the index of its window view [.., i*s + k*d]."""
    for k in np.ndindex(*g.K):
        yield k, (Ellipsis,) + tuple(slice(kk * d, kk * d + (p - 1) * s + 1, s)
                                     for kk, d, p, s in zip(k, g.d, g.P, g.s))


def _col2im(cols, g, out):
    """Sum the windows ``cols`` (n, C, *K, *P) (any strides) back into ``out`` (n, C, *S)."""
    n, c = cols.shape[:2]
    buf = _scratch.get("col2im", (n, c) + g.L, cols.dtype) if g.padded() else out
    shifts = list(_shifts(g))

    def part(a, b):
        bb, cc = buf[:, a:b], cols[:, a:b]
        bb.fill(0)
        for k, idx in shifts:
            bb[idx] += cc[(slice(None), slice(None)) + k]
        if buf is not out:
            out[:, a:b] = bb[_crop(g)]
    _parallel(part, c, cols.size)


def _image_axes(nd):
    """Permutation taking a (C, *K, n, *P) column buffer to (n, C, *K, *P) axes."""
    return (nd + 1, 0) + tuple(range(1, nd + 1)) + tuple(range(nd + 2, 2 * nd + 2))


def _im2col(x, g, keep=False):
    """Columns of the chunk x (n, C, *S): a (G, Cg*K, n*P) matrix (in scratch memory, or a
    fresh array when ``keep``: the caller holds on to it)."""
    n, c = x.shape[:2]
    nd = g.nd
    shape = (c,) + g.K + (n,) + g.P
    cols = np.empty(shape, x.dtype) if keep else _scratch.get("cols", shape, x.dtype)
    dst, src = cols.transpose(_image_axes(nd)), _windows(_pad(x, g, "pad"), g)
    _parallel(lambda a, b: np.copyto(dst[:, a:b], src[:, a:b]), c, cols.size)
    G = g.groups
    return cols.reshape(G, c // G * _prod(g.K), n * _prod(g.P))


def _y_matrix(y, g, slot, wide=None):
    """y chunk (n, O, *P) as a (G, Og, n*P) matrix (a copy in scratch unless n == 1);
    with ``wide`` (a grid containing P) as (G, Og, n*prod(wide)), zero outside P."""
    n, o = y.shape[:2]
    if wide is None:
        pp = _prod(g.P)
        if n == 1:
            return y.reshape(g.groups, o // g.groups, pp)
        m = _scratch.get(slot, (o, n, pp), y.dtype)
        src = y.reshape(n, o, pp).transpose(1, 0, 2)
        _parallel(lambda a, b: np.copyto(m[a:b], src[a:b]), o, m.size)
    else:
        m = _scratch.get(slot, (o, n) + wide, y.dtype)
        src, inner = y.swapaxes(0, 1), (Ellipsis,) + tuple(slice(0, p) for p in g.P)

        def part(a, b):
            m[a:b].fill(0)
            m[a:b][inner] = src[a:b]
        _parallel(part, o, m.size)
    return m.reshape(g.groups, o // g.groups, -1)


def _depthwise(g, cg):
    """Depthwise geometry (one input channel per group): the K multiply-add route."""
    return cg == 1 and g.groups > 1


def _pointwise(g):
    """1×1, stride 1, no padding, many positions: the image itself is its column matrix,
    so each image is one matrix product with no copy at all."""
    return (all(k == 1 for k in g.K) and all(s == 1 for s in g.s) and not g.padded()
            and _prod(g.P) >= 64)


def _grouped(a, g):
    """(N, C, *sp) -> (N, G, C/G, prod(sp)) (a view when a's memory allows)."""
    return a.reshape(a.shape[0], g.groups, a.shape[1] // g.groups, -1)


# Products per image (a stack of BLAS calls on strided views of the column matrix) instead
# of one over the chunk. Forward: outputs land in (n, O, P) order without a transposing
# copy; used from 256 positions per image (64 with a small weight). Measured at 16 images,
# one thread: 6x25 @ 784 positions 0.12 -> 0.05 ms, 64x576 @ 1024 85 -> 77 ms (at 64
# images), 256x2304 @ 64 14.3 -> 15.1 ms, 512x4608 @ 16 13.9 -> 25 ms. Weight gradient:
# only for weights of at most PER_IMAGE_MAX_W elements with >= 512 positions (6x25 at 28x28
# 3.5x faster, 8x72 at 56x56 1.8x; 16x288 at 32x32 1.6x slower).
PER_IMAGE_Y_MAX_W = 4096       # (O/G)*(C/G)*prod(K) up to which 64 positions suffice
PER_IMAGE_MAX_W = 1024

# the largest column matrix (elements) kept from the forward pass for the weight gradient
KEEP_COLS_ELEMS = 1 << 22


# ---------------------------------------------------------------------- the three faces
def face_y(x, w, g, keep=False):
    """conv(x, w): (N, C, *S), (O, C/G, *K) -> (N, O, *P). With ``keep``, returns
    (y, columns) where columns is the list of per-chunk column matrices (or None) for
    face_w to reuse."""
    N = x.shape[0]
    O = w.shape[0]
    G = g.groups
    cols_kept = None
    if _depthwise(g, w.shape[1]):
        y = _depthwise_y(x, w, g, np.empty((N, O) + g.P, dtype=x.dtype))
    elif _pointwise(g):
        y = np.matmul(w.reshape(G, O // G, -1), _grouped(x, g)).reshape((N, O) + g.P)
    else:
        y = np.empty((N, O) + g.P, dtype=x.dtype)
        wm = w.reshape(G, O // G, -1)
        pp = _prod(g.P)
        fresh = keep and N * x.shape[1] * _prod(g.K) * pp <= KEEP_COLS_ELEMS
        chunks = _gemm_chunks(N, x.shape[1], g)
        cols_kept = [None] * len(chunks) if fresh else None
        index = {c: i for i, c in enumerate(chunks)}
        per_image = pp >= 256 or (pp >= 64 and wm[0].size <= PER_IMAGE_Y_MAX_W)

        def chunk(t, a, b):
            cols = _im2col(x[a:b], g, fresh)
            if fresh:
                cols_kept[index[(a, b)]] = cols
            if per_image or b - a == 1:
                # straight into y's layout: no (O, n*P) -> (n, O, P) copy afterwards
                np.matmul(wm, cols.reshape(G, -1, b - a, pp).transpose(2, 0, 1, 3),
                          out=y[a:b].reshape(b - a, G, O // G, pp))
                return
            ym = np.matmul(wm, cols, out=_scratch.get("ym", (G, O // G, cols.shape[2]),
                                                      x.dtype))
            dst, src = y[a:b].reshape(b - a, O, pp).transpose(1, 0, 2), ym.reshape(O, b - a, pp)
            _parallel(lambda i, j: np.copyto(dst[i:j], src[i:j]), O, ym.size)
        _run_chunks(chunks, chunk)
    return (y, cols_kept) if keep else y


def face_x(y, w, g):
    """conv_transpose(y, w): (N, O, *P), (O, C/G, *K) -> (N, C, *S)."""
    N = y.shape[0]
    C = w.shape[1] * g.groups
    full = _as_full_correlation(g)
    if full is not None:
        return face_y(y, _flip_swap(w, g.groups), full)
    if _pointwise(g):
        G = g.groups
        wt = w.reshape(G, w.shape[0] // G, -1).swapaxes(1, 2)
        return np.matmul(wt, _grouped(y, g)).reshape((N, C) + g.S)
    x = np.empty((N, C) + g.S, dtype=y.dtype)
    if _depthwise(g, w.shape[1]):
        return _depthwise_x(y, w, g, x)
    G = g.groups
    wt = w.reshape(G, w.shape[0] // G, -1).transpose(0, 2, 1)
    wide = _wide_rows(g)

    def chunk(t, a, b):
        ym = _y_matrix(y[a:b], g, "ym", wide)
        dcols = np.matmul(wt, ym, out=_scratch.get("cols", (G, wt.shape[1], ym.shape[2]),
                                                   y.dtype))
        if wide:
            _col2im_wide(dcols.reshape(C, _prod(g.K), b - a, -1), g, x[a:b])
        else:
            dcols = dcols.reshape((C,) + g.K + (b - a,) + g.P).transpose(_image_axes(g.nd))
            _col2im(dcols, g, x[a:b])
    _run_chunks(_gemm_chunks(N, C, g, wide), chunk)
    return x


def _wide_rows(g):
    """For stride 1: the output grid with its rows widened to the padded input's (P0, L1,
    ...), or None. Columns computed on that grid (zero beyond P) make every kernel offset
    of col2im one shift of the flattened buffer: a contiguous add instead of many short
    rows. Used when the wider product costs at most half again as much."""
    if g.nd < 2 or any(s != 1 for s in g.s):
        return None
    pw = (g.P[0],) + g.L[1:]
    return pw if _prod(pw) <= 1.5 * _prod(g.P) else None


def _flat_offsets(g):
    """Per kernel offset, its shift in the flattened padded buffer; and the slack (one
    row) that the widened rows of the last window overrun the buffer by."""
    return _offsets(g.L, g.K, g.d)


@functools.lru_cache(maxsize=256)
def _offsets(L, K, d):
    lstride = [_prod(L[i + 1:]) for i in range(len(L))]
    offsets = [sum(kk * dd * st for kk, dd, st in zip(k, d, lstride)) for k in np.ndindex(*K)]
    return offsets, lstride[0]


def _col2im_wide(dcols, g, out):
    """col2im of columns (C, prod(K), n, prod(P0, L1, ...)) laid on widened rows."""
    c, _, n, m = dcols.shape
    offsets, slack = _flat_offsets(g)
    if g.nd == 2 and dcols.dtype in _kernels.KERNEL_DTYPES and _kernels.enabled():
        _kernels.col2im_rows(dcols, np.asarray(offsets, np.int64), g.L[1], g.lo[0], g.lo[1],
                             out)
        return
    size = _prod(g.L)
    buf = _scratch.get("col2im", (n, c, size + slack), dcols.dtype)

    def part(a, b):
        bb = buf[:, a:b]
        bb.fill(0)
        for j, off in enumerate(offsets):
            bb[:, :, off:off + m] += dcols[a:b, j].swapaxes(0, 1)
        out[:, a:b] = bb[:, :, :size].reshape((n, b - a) + g.L)[_crop(g)]
    _parallel(part, c, dcols.size)


def _as_full_correlation(g):
    """With stride 1 the transposed convolution is an ordinary one: y padded by
    d*(K-1) - lo before (and what makes the size S after), correlated with the flipped
    kernel. That skips col2im's K read-modify-write passes, at the price of a product over
    S positions instead of P: used when S is not much larger ('same'-style convolutions).
    The geometry, or None."""
    if any(s != 1 for s in g.s) or _prod(g.S) > 1.25 * _prod(g.P):
        return None
    before = tuple(d * (k - 1) - l_ for d, k, l_ in zip(g.d, g.K, g.lo))
    after = tuple(n - p + l_ for n, p, l_ in zip(g.S, g.P, g.lo))
    if min(before + after) < 0:
        return None
    return Geometry(g.P, g.S, g.K, g.s, g.d, before, g.groups)


def _flip_swap(w, G):
    """(O, Cg, *K) -> (C, Og, *K) flipped in space: the weight of the adjoint correlation."""
    O, Cg = w.shape[:2]
    K = w.shape[2:]
    wt = w.reshape((G, O // G, Cg) + K).swapaxes(1, 2)
    wt = wt[(Ellipsis,) + (slice(None, None, -1),) * len(K)]
    return np.ascontiguousarray(wt).reshape((G * Cg, O // G) + K)


def face_w(x, y, g, wshape, cols=None):
    """The weight gradient (correlation of x with y): -> (O, C/G, *K). ``cols``: the
    column matrices face_y kept, if any."""
    N = x.shape[0]
    if _depthwise(g, wshape[1]):
        return _depthwise_w(x, y, g, wshape)
    G = g.groups
    O = y.shape[1]
    if _pointwise(g):
        gw = np.matmul(_grouped(y, g), _grouped(x, g).swapaxes(2, 3)).sum(0)
        return gw.reshape(wshape)
    # with few output channels OpenBLAS is faster at the transposed product (cols @ y^T)
    flip = O // G < 32
    pp = _prod(g.P)
    per_image = flip and G == 1 and O * _prod(wshape[1:]) <= PER_IMAGE_MAX_W and pp >= 512
    chunks = _gemm_chunks(N, x.shape[1], g)
    if cols is not None and len(cols) != len(chunks):
        cols = None                          # kept under another thread count: recompute
    index = {c: i for i, c in enumerate(chunks)}
    sums = {}                                # per thread: (gw, its view to add into, temp)

    def chunk(t, a, b):
        if t not in sums:
            gw_t = np.zeros((G, O // G, _prod(wshape[1:])), dtype=x.dtype)
            acc_t = gw_t.swapaxes(1, 2) if flip else gw_t
            sums[t] = (gw_t, acc_t, np.empty(acc_t.shape, acc_t.dtype))
        _, acc, tmp = sums[t]
        c = cols[index[(a, b)]] if cols is not None else _im2col(x[a:b], g)
        if per_image:
            # one product per image, summed: OpenBLAS is slow at a single product with a
            # tiny (O, C*K) result and a sum over n*P columns (LeNet's first layer: 3x)
            cv = c.reshape(c.shape[1], b - a, pp).transpose(1, 2, 0)     # (n, P, C*K)
            acc[0] += np.matmul(y[a:b].reshape(b - a, O, pp), cv).sum(0).T
            return
        ym = _y_matrix(y[a:b], g, "ym")
        acc += (np.matmul(c, ym.swapaxes(1, 2), out=tmp) if flip
                else np.matmul(ym, c.swapaxes(1, 2), out=tmp))
    _run_chunks(chunks, chunk)
    parts = [sums[t][0] for t in sorted(sums)]
    if not parts:                            # an empty batch
        return np.zeros(wshape, dtype=x.dtype)
    gw = parts[0]
    for p_ in parts[1:]:
        gw += p_
    return gw.reshape(wshape)


# depthwise: groups == C, weight (G*m, 1, *K); no column matrix, K multiply-adds instead
def _dw_views(x, g):
    """The padded input's view for each kernel offset, on the output grid. For stride 1
    the grid's rows are widened to the padded width (as in col2im), so every view is one
    contiguous shift of the flattened buffer and the multiply-adds run over long rows.
    Returns (grid, views, wide)."""
    wide = _wide_rows(g)
    if wide is None:
        xp = _pad(x, g, "pad")
        return g.P, [xp[idx] for _, idx in _shifts(g)], None
    offsets, slack = _flat_offsets(g)
    flat = _pad(x, g, "pad", slack)
    m = _prod(wide)
    return (m,), [flat[:, :, o:o + m] for o in offsets], wide


def _from_wide(yw, wide, g):
    """Crop a (n, C, prod(wide)) grid back to (n, C, *P)."""
    return yw.reshape(yw.shape[:2] + wide)[(Ellipsis,) + tuple(slice(0, p) for p in g.P)]


def _depthwise_y(x, w, g, y):
    N, G = x.shape[0], g.groups
    m = w.shape[0] // G
    grid, views, wide = _dw_views(x, g)
    out = _scratch.get("dwy", (N, G * m) + grid, y.dtype) if wide else y
    yv = out.reshape((N, G, m) + grid)
    wv = w.reshape(G, m, -1)
    tmp = _scratch.get("dw", yv.shape, y.dtype)
    ones = (1,) * len(grid)

    def part(a, b):
        wk = [wv[a:b, :, i].reshape((b - a, m) + ones) for i in range(len(views))]
        for n0, n1 in _chunks(N, (b - a) * m * _prod(grid), BLOCK_ELEMS):
            yb, tb = yv[n0:n1, a:b], tmp[n0:n1, a:b]
            for i, xs in enumerate(views):
                xs = xs[n0:n1, a:b].reshape((n1 - n0, b - a, 1) + grid)
                if i == 0:
                    np.multiply(xs, wk[i], out=yb)
                else:
                    np.multiply(xs, wk[i], out=tb)
                    yb += tb
        if wide:
            y[:, a * m:b * m] = _from_wide(out[:, a * m:b * m], wide, g)
    _parallel(part, G, yv.size * len(views))
    return y


def _depthwise_x(y, w, g, x):
    N, G = y.shape[0], g.groups
    m = w.shape[0] // G
    buf = _scratch.get("col2im", (N, G) + g.L, y.dtype) if g.padded() else x
    yv = y.reshape((N, G, m) + g.P)
    wv = w.reshape((G, m) + g.K)
    tmp = _scratch.get("dw", (N, G) + g.P, y.dtype)
    shifts = list(_shifts(g))

    def part(a, b):
        bb, yb, tb = buf[:, a:b], yv[:, a:b], tmp[:, a:b]
        bb.fill(0)
        for k, idx in shifts:
            wk = wv[(slice(a, b),) + (Ellipsis,) + k].reshape((b - a, m) + (1,) * g.nd)
            if m == 1:
                np.multiply(yb[:, :, 0], wk[:, 0], out=tb)
            else:
                np.einsum("ngm...,gm...->ng...", yb, wk, out=tb)
            bb[idx] += tb
        if buf is not x:
            x[:, a:b] = bb[_crop(g)]
    _parallel(part, G, y.size * len(shifts))
    return x


def _depthwise_w(x, y, g, wshape):
    N, G = x.shape[0], g.groups
    m = wshape[0] // G
    grid, views, wide = _dw_views(x, g)
    if wide:                      # y on the widened grid, zero in the extra columns
        yw = _scratch.get("dwy", y.shape[:2] + wide, y.dtype)
        inner = (Ellipsis,) + tuple(slice(0, p) for p in g.P)

        def fill(a, b):
            yw[:, a:b].fill(0)
            yw[:, a:b][inner] = y[:, a:b]
        _parallel(fill, y.shape[1], yw.size)
        y = yw
    yv = y.reshape((N, G, m) + grid)
    gw = np.empty((G, m, len(views)), dtype=x.dtype)
    sp = "pqr"[:len(grid)]

    def part(a, b):
        gw[a:b] = 0
        for n0, n1 in _chunks(N, (b - a) * m * _prod(grid), BLOCK_ELEMS):
            for i, xs in enumerate(views):
                gw[a:b, :, i] += np.einsum(f"ngm{sp},ng{sp}->gm", yv[n0:n1, a:b],
                                           xs[n0:n1, a:b])
    _parallel(part, G, yv.size * len(views))
    return gw.reshape(wshape)


_FACES = {"y": ("x", "w"), "x": ("y", "w"), "w": ("x", "y")}


class Convolution(Node):
    """One face of T(x, w, y) (see the module docstring), plus an optional bias added to
    the output channels (faces "y" and "x")."""
    save_inputs = (0, 1)

    def forward(self, a, b, bias, face, geom, wshape=None, cols=None, keep_cols=False):
        self.face, self.geom, self.wshape = face, geom, wshape
        self.cols = None
        if face == "y":
            if keep_cols and self._needs_grad:
                out, self.cols = face_y(a, b, geom, keep=True)
            else:
                out = face_y(a, b, geom)
        elif face == "x":
            out = face_x(a, b, geom)
        else:
            out = face_w(a, b, geom, wshape, cols)
        if bias is not None:
            out += bias.reshape((-1,) + (1,) * geom.nd)
        return out

    def backward(self, g):
        a, b = self.saved_tensors
        face, nf = self.face, self.next_functions
        known = dict(zip(_FACES[face], (a, b)))
        known[face] = g
        wshape = self.wshape if face == "w" else tuple(known["w"].shape)
        grads = [None, None, None]
        for i, role in enumerate(_FACES[face]):
            if nf[i][0] is not None:
                u, v = (known[r] for r in _FACES[role])
                grads[i] = Convolution.apply(u, v, None, face=role, geom=self.geom,
                                             wshape=wshape,
                                             cols=self.cols if role == "w" else None)
        if nf[2][0] is not None:
            grads[2] = ChannelSum.apply(g)
        return tuple(grads)

    def name(self):
        return "ConvolutionBackward"


class ChannelSum(Node):
    """Sum over every axis but 1 (the bias gradient), as a matrix-vector product."""

    def forward(self, g):
        self.in_shape = g.shape
        n, c = g.shape[:2]
        g3 = g.reshape(n, c, -1)
        return np.matmul(g3, np.ones(g3.shape[2], dtype=g.dtype)).sum(0)

    def backward(self, gb):
        shp = (1, -1) + (1,) * (len(self.in_shape) - 2)
        return _shape.expand(gb.reshape(shp), self.in_shape)


# ---------------------------------------------------------------------- unfold / fold
class Unfold(Node):
    """im2col: (N, C, *S) -> (N, C*prod(K), prod(P))."""

    def forward(self, x, geom):
        self.geom = geom
        n, c = x.shape[:2]
        out = np.empty((n, c) + geom.K + geom.P, dtype=x.dtype)
        out[...] = _windows(_pad(x, geom, "pad"), geom)
        return out.reshape(n, c * _prod(geom.K), _prod(geom.P))

    def backward(self, g):
        return Fold.apply(g, geom=self.geom)


class Fold(Node):
    """col2im: (N, C*prod(K), prod(P)) -> (N, C, *S), overlapping windows summed."""

    def forward(self, cols, geom):
        self.geom = geom
        n = cols.shape[0]
        c = cols.shape[1] // _prod(geom.K)
        out = np.empty((n, c) + geom.S, dtype=cols.dtype)
        _col2im(cols.reshape((n, c) + geom.K + geom.P), geom, out)
        return out

    def backward(self, g):
        return Unfold.apply(g, geom=self.geom)


# ---------------------------------------------------------------------- argument checks
def _tuple(v, nd, name, fn):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * nd
    v = tuple(int(a) for a in v)
    if len(v) == 1:
        return v * nd
    if len(v) != nd:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {nd} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={list(v)} ({fn})")
    return v


def _fmt(shape):
    return "[" + ", ".join(map(str, shape)) + "]"


def _check_tensors(fn, nd, input, weight, bias):
    for t, what in ((input, "input"), (weight, "weight")):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}(): argument '{what}' must be Tensor, not {type(t).__name__}")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fn}, "
                           f"but got input of size: {_fmt(input.shape)}")
    if weight.dim() != nd + 2:
        raise RuntimeError(f"{fn}: expected weight to be {nd + 2}-dimensional (out, in/groups, "
                           f"*kernel), but got weight of size {_fmt(weight.shape)}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{fn}: expected a floating point input, got {input.dtype}")
    dt = input._data.dtype
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and t._data.dtype != dt:
            raise RuntimeError(f"Input type ({input.dtype}) and {what} type ({t.dtype}) should "
                               "be the same")


def _check_positive(stride, dilation, padding=None):
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if padding is not None and any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")


def _batched(input, nd):
    """(input with a batch axis, whether one was added)."""
    if input.dim() == nd + 1:
        return _shape.unsqueeze(input, 0), True
    return input, False


def _conv_padding(padding, nd, K, s, d, fn):
    """(lo, hi) paddings per dim from an int, a tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * nd, (0,) * nd
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(st != 1 for st in s):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        total = tuple(dl * (k - 1) for dl, k in zip(d, K))
        lo = tuple(t // 2 for t in total)
        return lo, tuple(t - l_ for t, l_ in zip(total, lo))
    p = _tuple(padding, nd, "padding", fn)
    return p, p


def _out_size(S, K, s, d, lo, hi, fn, what="input"):
    P = tuple((n + a + b - dl * (k - 1) - 1) // st + 1
              for n, k, st, dl, a, b in zip(S, K, s, d, lo, hi))
    if any(p < 1 for p in P):
        padded = tuple(n + a + b for n, a, b in zip(S, lo, hi))
        dk = tuple(dl * (k - 1) + 1 for k, dl in zip(K, d))
        i = next(j for j, p in enumerate(P) if p < 1)
        raise RuntimeError(
            f"Calculated padded {what} size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, dk))}). Kernel size can't be greater than "
            f"actual {what} size: along spatial dim {i} the output size is "
            f"(size + pad_before + pad_after - dilation*(kernel-1) - 1) // stride + 1 = "
            f"({S[i]} + {lo[i]} + {hi[i]} - {d[i]}*{K[i] - 1} - 1) // {s[i]} + 1 = {P[i]} "
            f"({fn})")
    return P


def _check_bias(bias, n, weight):
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != n):
        raise RuntimeError(f"Given weight of size {_fmt(weight.shape)}, expected bias to be "
                           f"1-dimensional with {n} elements, but got bias of size "
                           f"{_fmt(bias.shape)} instead")


# ---------------------------------------------------------------------- public functions
def _common(fn, nd, input, weight, bias, stride, dilation, groups):
    """Checks shared by conv and conv_transpose; (batched input, was unbatched, K, s, d)."""
    _check_tensors(fn, nd, input, weight, bias)
    x, unbatched = _batched(input, nd)
    s = _tuple(stride, nd, "stride", fn)
    d = _tuple(dilation, nd, "dilation", fn)
    _check_positive(s, d)
    if groups <= 0:
        raise RuntimeError(f"non-positive groups is not supported (groups={groups})")
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{_fmt(weight.shape)}] "
                           "instead")
    return x, unbatched, tuple(weight.shape[2:]), s, d


def _conv(nd, input, weight, bias, stride, padding, dilation, groups):
    fn = f"conv{nd}d"
    x, unbatched, K, s, d = _common(fn, nd, input, weight, bias, stride, dilation, groups)
    lo, hi = _conv_padding(padding, nd, K, s, d, fn)
    _check_positive(s, d, lo)
    C = x.shape[1]
    if C != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_fmt(weight.shape)}, "
                           f"expected input{_fmt(x.shape)} to have {weight.shape[1] * groups} "
                           f"channels, but got {C} channels instead")
    _check_bias(bias, weight.shape[0], weight)
    S = tuple(x.shape[2:])
    P = _out_size(S, K, s, d, lo, hi, fn)
    g = Geometry(S, P, K, s, d, lo, groups)
    y = Convolution.apply(x, weight, bias, face="y", geom=g, keep_cols=weight.requires_grad)
    return _shape.squeeze(y, 0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) of input (N, C, L) with weight (O, C/groups, K)."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of input (N, C, H, W) with weight (O, C/groups, kH, kW):
    out[n, o] = bias[o] + sum_c weight[o, c] ⋆ input[n, c]; padding may be an int, a tuple,
    'valid' or 'same' (stride 1; the odd pixel of an even kernel's padding goes after)."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of input (N, C, D, H, W) with weight (O, C/groups, kD, kH, kW)."""
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


def transposed_output_size(P, K, s, d, p, op):
    """Spatial size of a transposed convolution: (P - 1)*s - 2p + d*(K - 1) + op + 1."""
    return tuple((pi - 1) * st - 2 * pa + dl * (k - 1) + o + 1
                 for pi, k, st, dl, pa, o in zip(P, K, s, d, p, op))


def _conv_transpose(nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    fn = f"conv_transpose{nd}d"
    y, unbatched, K, s, d = _common(fn, nd, input, weight, bias, stride, dilation, groups)
    p = _tuple(padding, nd, "padding", fn)
    op = _tuple(output_padding, nd, "output_padding", fn)
    _check_positive(s, d, p)
    if any(o >= st and o >= dl for o, st, dl in zip(op, s, d)) or any(o < 0 for o in op):
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but "
                           f"got output_padding={list(op)}, stride={list(s)}, "
                           f"dilation={list(d)}")
    if y.shape[1] != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {_fmt(weight.shape)}, expected "
                           f"input{_fmt(y.shape)} to have {weight.shape[0]} channels, but got "
                           f"{y.shape[1]} channels instead")
    C = weight.shape[1] * groups
    _check_bias(bias, C, weight)
    P = tuple(y.shape[2:])
    S = transposed_output_size(P, K, s, d, p, op)
    if any(n < 1 for n in S):
        raise RuntimeError(f"{fn}: the output size (input - 1)*stride - 2*padding + "
                           f"dilation*(kernel - 1) + output_padding + 1 = {list(S)} is not "
                           f"positive (input {list(P)}, kernel {list(K)}, stride {list(s)}, "
                           f"padding {list(p)}, dilation {list(d)}, output_padding {list(op)})")
    g = Geometry(S, P, K, s, d, p, groups)
    x = Convolution.apply(y, weight, bias, face="x", geom=g)
    return _shape.squeeze(x, 0) if unbatched else x


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution (the gradient of conv1d w.r.t. its input); weight
    (in_channels, out_channels/groups, K)."""
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution ("deconvolution", seed 000/003); weight
    (in_channels, out_channels/groups, kH, kW). Output size per dim:
    (in - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1."""
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution; weight (in_channels, out_channels/groups, kD, kH, kW)."""
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def _fold_args(kernel_size, dilation, padding, stride, fn):
    K = _tuple(kernel_size, 2, "kernel_size", fn)
    d = _tuple(dilation, 2, "dilation", fn)
    p = _tuple(padding, 2, "padding", fn)
    s = _tuple(stride, 2, "stride", fn)
    if any(k <= 0 for k in K):
        raise RuntimeError(f"{fn}: kernel size should be greater than zero, but got "
                           f"kernel_size={K}")
    _check_positive(s, d, p)
    return K, d, p, s


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding local blocks (im2col): (N, C, H, W) -> (N, C*kH*kW, L), L the number
    of block positions; column l holds the block at output position l (row-major)."""
    K, d, p, s = _fold_args(kernel_size, dilation, padding, stride, "unfold")
    if input.dim() not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got "
                           f"{input.dim()}D)")
    x, unbatched = _batched(input, 2)
    S = tuple(x.shape[2:])
    P = tuple((n + 2 * pa - dl * (k - 1) - 1) // st + 1
              for n, k, st, dl, pa in zip(S, K, s, d, p))
    if any(v < 1 for v in P):
        raise RuntimeError(f"Given input with spatial size {S}, kernel_size={K}, dilation={d}, "
                           f"padding={p}, calculated shape of the array of sliding blocks as "
                           f"{P}, but its components must be at least one.")
    out = Unfold.apply(x, geom=Geometry(S, P, K, s, d, p))
    return _shape.squeeze(out, 0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding local blocks into a tensor (col2im), summing where blocks overlap:
    (N, C*kH*kW, L) -> (N, C, *output_size). fold(unfold(x)) multiplies each pixel by the
    number of blocks that contain it."""
    K, d, p, s = _fold_args(kernel_size, dilation, padding, stride, "fold")
    S = _tuple(output_size, 2, "output_size", "fold")
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2D (unbatched) or 3D (batched) input to fold, but got "
                           f"input of size: {_fmt(input.shape)}")
    cols, unbatched = _batched(input, 1)
    kk = K[0] * K[1]
    if cols.shape[1] % kk:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={cols.shape[1]} and "
                           f"kernel_size={K}.")
    P = tuple((n + 2 * pa - dl * (k - 1) - 1) // st + 1
              for n, k, st, dl, pa in zip(S, K, s, d, p))
    if any(v < 1 for v in P) or P[0] * P[1] != cols.shape[2]:
        raise RuntimeError(f"Given output_size={S}, kernel_size={K}, dilation={d}, "
                           f"padding={p}, stride={s}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {P[0]} * {P[1]} = "
                           f"{P[0] * P[1]}, but got input.size(2)={cols.shape[2]}.")
    out = Fold.apply(cols, geom=Geometry(S, P, K, s, d, p))
    return _shape.squeeze(out, 0) if unbatched else out
