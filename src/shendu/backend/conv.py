"""Convolution's arrays: the geometry, im2col / col2im, batch chunking and the three faces
of one trilinear form (forward, input gradient, weight gradient), depthwise included.

The faces (``face_y``, ``face_x``, ``face_w``) take and return ndarrays; the node that
makes them differentiable, and the argument checks, are in ``shendu/_ops/conv.py`` (which
explains the trilinear form T(x, w, y) = <y, conv(x, w)>: conv is dT/dy, the transposed
convolution dT/dx and the weight gradient dT/dw).

Kernels (NumPy)
---------------
im2col copies the windows of the zero-padded input (a strided view, no copy until then)
into a column matrix laid out (C, *K, n, *P), i.e. per group a (Cg*K, n*P) matrix; one
matmul per group of images gives the output (O, n*P). col2im adds the K shifted slices of
the columns back into a padded buffer (never ``np.add.at``); in 2-D a compiled kernel
(``col2im_planes``) sums each image's channel plane in cache and writes it once. The batch
is processed in chunks so the column matrix stays a few MB (cache-resident, memory
bounded), and the scratch buffers are reused between calls (fresh large arrays cost page
faults each step).
Special routes, all computing the same faces:

* stride-1 transposed convolution whose output is about the input's size ('same'
  convolutions): an ordinary correlation with the flipped kernel (no col2im at all);
* other stride-1 col2im: columns computed on rows widened to the padded width, so each
  kernel offset is one contiguous shifted add;
* 1×1 convolutions: each image is its own column matrix (no copy);
* depthwise (one input channel per group): K multiply-adds of shifted views, contiguous
  for stride 1 (widened rows), in cache-sized blocks;
* the forward's column matrix is kept for the weight gradient when it is small;
* optionally (SHENDU_NUM_THREADS, ``threads.run_channels``) the copies and multiply-adds
  are split over channels on threads; the chunks of a batch run on the batch threads
  (``threads.run_chunks``) with BLAS on one thread meanwhile.
"""
import functools
import time

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import threads, winograd
from .kernels import KERNEL_DTYPES, enabled, kernel
from .memory import Scratch, prod as _prod

__all__ = ["Geometry", "face_y", "face_x", "face_w", "unfold", "fold"]


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


# ---------------------------------------------------------------------- scratch buffers
_scratch = Scratch()
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
                   parts=threads.free_threads())


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
    threads.run_channels(part, x.shape[1], flat.size)
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
    if g.nd == 2 and cols.dtype in KERNEL_DTYPES and out.dtype == cols.dtype and enabled():
        col2im_planes(cols, g.s[0], g.s[1], g.d[0], g.d[1], g.lo[0], g.lo[1], g.L[0], g.L[1],
                      out)
        return
    buf = _scratch.get("col2im", (n, c) + g.L, cols.dtype) if g.padded() else out
    shifts = list(_shifts(g))

    def part(a, b):
        bb, cc = buf[:, a:b], cols[:, a:b]
        bb.fill(0)
        for k, idx in shifts:
            bb[idx] += cc[(slice(None), slice(None)) + k]
        if buf is not out:
            out[:, a:b] = bb[_crop(g)]
    threads.run_channels(part, c, cols.size)


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
    threads.run_channels(lambda a, b: np.copyto(dst[:, a:b], src[:, a:b]), c, cols.size)
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
        threads.run_channels(lambda a, b: np.copyto(m[a:b], src[a:b]), o, m.size)
    else:
        m = _scratch.get(slot, (o, n) + wide, y.dtype)
        src, inner = y.swapaxes(0, 1), (Ellipsis,) + tuple(slice(0, p) for p in g.P)

        def part(a, b):
            m[a:b].fill(0)
            m[a:b][inner] = src[a:b]
        threads.run_channels(part, o, m.size)
    return m.reshape(g.groups, o // g.groups, -1)


def _depthwise(g, cg):
    """Depthwise geometry (one input channel per group): the K multiply-add route."""
    return cg == 1 and g.groups > 1


def _pointwise(g):
    """1×1, stride 1, no padding, many positions: the image itself is its column matrix,
    so each image is one matrix product with no copy at all."""
    return (all(k == 1 for k in g.K) and all(s == 1 for s in g.s) and not g.padded()
            and _prod(g.P) >= POINTWISE_MIN_POSITIONS)


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
PER_IMAGE_Y_MIN_POSITIONS = 256   # forward per image from this many output positions ...
PER_IMAGE_Y_SMALL_POSITIONS = 64  # ... or from this many when the weight is small:
PER_IMAGE_Y_MAX_W = 4096          # (O/G)*(C/G)*prod(K) up to which 64 positions suffice
PER_IMAGE_MAX_W = 1024            # weight gradient per image for weights up to this size ...
PER_IMAGE_W_MIN_POSITIONS = 512   # ... and at least this many output positions
FLIP_MAX_OUT_CHANNELS = 32        # below this many output channels per group, OpenBLAS is
                                  # faster at the transposed weight-gradient product
POINTWISE_MIN_POSITIONS = 64      # 1x1 convolutions use each image as its column matrix
                                  # from this many positions (fewer: one chunked product wins)
WIDE_ROWS_MAX_COST = 1.5          # widened-row col2im when its product is at most this much
                                  # larger than the plain one (else the K row adds are cheaper)
FULL_CORRELATION_MAX_GROWTH = 1.25  # stride-1 transposed conv as a plain correlation when
                                    # its output is at most this much larger than its input

# the largest column matrix (elements) kept from the forward pass for the weight gradient
KEEP_COLS_ELEMS = 1 << 22

WINOGRAD_W_MIN_PAIRS = 512         # (out, in) channel pairs from which the weight gradient
                                   # goes by Winograd (see algorithm_w)


# ---------------------------------------------------------------------- algorithm choice
# How face_y and face_w compute a convolution that more than one algorithm can:
# "im2col" (column matrix and one GEMM per chunk of images), "per-image" (the same columns,
# one GEMM per image, straight into the output's layout; forward only) or "winograd"
# (F(2x2,3x3), winograd.py; stride-1 3x3 only: forward, input gradient through face_y,
# weight gradient). Public as shendu.backends.conv (benchmark, winograd), the counterpart
# of torch.backends.cudnn. Measured on ResNet-18's CIFAR 3x3 layers (batch 32, forward, 1
# thread, one process, shared machine): Winograd took 0.70-0.76x im2col's time on every
# layer, and a whole training step 0.88x (2 threads), so the fixed default rule is
# Winograd wherever it applies (the weight gradient: from WINOGRAD_W_MIN_PAIRS), else
# per-image or chunked by the PER_IMAGE_Y_* sizes; benchmark mode instead times every
# candidate once per shape and face.
CONV_SETTINGS = {"benchmark": False, "winograd": True}
BENCHMARK_RUNS = 3                 # timed runs per candidate in benchmark mode
_chosen = {}                       # shape key -> the algorithm benchmark mode measured fastest


def _per_image_rule(w, g):
    """The fixed rule's forward product per image (see PER_IMAGE_Y_*)."""
    pp = _prod(g.P)
    w_size = w.shape[0] // g.groups * w[0].size                # (O/G) x (C/G) x prod(K)
    return pp >= PER_IMAGE_Y_MIN_POSITIONS or (
        pp >= PER_IMAGE_Y_SMALL_POSITIONS and w_size <= PER_IMAGE_Y_MAX_W)


def algorithm(x, w, g):
    """Which algorithm face_y uses for conv(x, w) with geometry g (see above). With
    ``benchmark`` on, the first call of a shape times each candidate once and the choice is
    kept for the process (like torch.backends.cudnn.benchmark); otherwise a fixed rule:
    Winograd wherever it applies if ``winograd`` is on, else per-image or im2col by size."""
    wino = winograd.applies(x.shape, w.shape, g.s, g.d, g.groups, x.dtype)
    if not CONV_SETTINGS["benchmark"]:
        return "winograd" if wino and CONV_SETTINGS["winograd"] else \
            "per-image" if _per_image_rule(w, g) else "im2col"
    runs = {"im2col": lambda: _gemm_y(x, w, g, per_image=False),
            "per-image": lambda: _gemm_y(x, w, g, per_image=True)}
    if wino:
        runs["winograd"] = lambda: winograd.conv2d(x, w, g.lo, g.P)
    return _choose("y", x, w.shape, g, runs)


def algorithm_w(x, y, g, wshape):
    """Which algorithm face_w uses for the weight gradient of conv(x, ·) -> y (as
    ``algorithm``): the fixed rule takes Winograd from WINOGRAD_W_MIN_PAIRS (out, in)
    channel pairs; with fewer its transforms cost more than the products it saves
    (batch 32, 2 threads, Winograd / im2col time: 3->64 channels 2.1, 8->32 1.3, 16->16
    1.2, 16->32 0.92, 64->64 0.67, 512->512 0.75)."""
    if not winograd.applies(x.shape, wshape, g.s, g.d, g.groups, x.dtype):
        return "im2col"
    if not CONV_SETTINGS["benchmark"]:
        return "winograd" if CONV_SETTINGS["winograd"] and \
            wshape[0] * wshape[1] >= WINOGRAD_W_MIN_PAIRS else "im2col"
    return _choose("w", x, wshape, g, {"im2col": lambda: _gemm_w(x, y, g, wshape),
                                       "winograd": lambda: winograd.weight_grad(x, y, g.lo)})


def _choose(face, x, wshape, g, runs):
    """Benchmark mode: the fastest of ``runs`` (name -> a call computing the face that
    way), timed once per shape key and kept for the process."""
    key = (face, x.shape, tuple(wshape), g.lo, g.P, g.s, g.d, g.groups, x.dtype.str)
    algo = _chosen.get(key)
    if algo is None:
        times = {name: [] for name in runs}
        for name, run in runs.items():
            run()                                       # first-use costs (allocation, caches)
        for _ in range(BENCHMARK_RUNS):                 # in turns, the best of each: one
            for name, run in runs.items():              # run alone was often the wrong
                t0 = time.perf_counter()                # pick on a busy machine
                run()
                times[name].append(time.perf_counter() - t0)
        algo = _chosen[key] = min(times, key=lambda name: min(times[name]))
    return algo


def chosen():
    """The benchmark mode's choices so far: {(face "y" or "w", x shape, w shape, padding,
    output, stride, dilation, groups, dtype): algorithm}."""
    return dict(_chosen)


# ---------------------------------------------------------------------- the three faces
def face_y(x, w, g, keep=False):
    """conv(x, w): (N, C, *S), (O, C/G, *K) -> (N, O, *P). With ``keep``, returns
    (y, columns) where columns is the list of per-chunk column matrices (or None) for
    face_w to reuse."""
    N, O, G = x.shape[0], w.shape[0], g.groups
    cols_kept = None
    if _depthwise(g, w.shape[1]):
        y = _depthwise_y(x, w, g, np.empty((N, O) + g.P, dtype=x.dtype))
    elif _pointwise(g):
        y = np.matmul(w.reshape(G, O // G, -1), _grouped(x, g)).reshape((N, O) + g.P)
    else:
        algo = algorithm(x, w, g)
        if algo == "winograd":
            y = winograd.conv2d(x, w, g.lo, g.P)
        else:
            y, cols_kept = _gemm_y(x, w, g, keep, per_image=algo == "per-image")
    return (y, cols_kept) if keep else y


def _gemm_y(x, w, g, keep=False, per_image=False):
    """face_y by im2col and one product per chunk of images, or per image: (y, kept
    columns or None)."""
    N = x.shape[0]
    O = w.shape[0]
    G = g.groups
    y = np.empty((N, O) + g.P, dtype=x.dtype)
    wm = w.reshape(G, O // G, -1)
    pp = _prod(g.P)
    fresh = keep and N * x.shape[1] * _prod(g.K) * pp <= KEEP_COLS_ELEMS
    chunks = _gemm_chunks(N, x.shape[1], g)
    cols_kept = [None] * len(chunks) if fresh else None
    index = {c: i for i, c in enumerate(chunks)}

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
        threads.run_channels(lambda i, j: np.copyto(dst[i:j], src[i:j]), O, ym.size)
    threads.run_chunks(chunks, chunk)
    return y, cols_kept


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
    threads.run_chunks(_gemm_chunks(N, C, g, wide), chunk)
    return x


def _wide_rows(g):
    """For stride 1: the output grid with its rows widened to the padded input's (P0, L1,
    ...), or None. Columns computed on that grid (zero beyond P) make every kernel offset
    of col2im one shift of the flattened buffer: a contiguous add instead of many short
    rows. Used when the wider product costs at most half again as much."""
    if g.nd < 2 or any(s != 1 for s in g.s):
        return None
    pw = (g.P[0],) + g.L[1:]
    return pw if _prod(pw) <= WIDE_ROWS_MAX_COST * _prod(g.P) else None


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
    if g.nd == 2 and dcols.dtype in KERNEL_DTYPES and enabled():
        col2im_rows(dcols, np.asarray(offsets, np.int64), g.L[1], g.lo[0], g.lo[1],
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
    threads.run_channels(part, c, dcols.size)


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
def col2im_planes(cols, s0, s1, d0, d1, lo0, lo1, L0, L1, out):
    """col2im, 2-D, any stride and dilation: for each image n and channel c, the padded
    plane (L0, L1) is the sum of the windows cols[n, c, k0, k1] (P0, P1) placed at
    (k0 d0 + p0 s0, k1 d1 + p1 s1); out[n, c] is that plane cropped at (lo0, lo1). The
    plane is summed in a buffer that stays in cache and written once, where the NumPy form
    makes K0·K1 read-modify-write passes over the whole padded batch (stride-2 3x3
    transposed convolutions: 2-3x). cols (n, C, K0, K1, P0, P1), any strides."""
    N, C, K0, K1, P0, P1 = cols.shape
    S0, S1 = out.shape[2], out.shape[3]
    acc = np.empty((L0, L1), cols.dtype)
    for n in range(N):
        for c in range(C):
            acc[:, :] = 0
            for k0 in range(K0):
                for k1 in range(K1):
                    for p0 in range(P0):
                        r, base = k0 * d0 + p0 * s0, k1 * d1
                        for p1 in range(P1):
                            acc[r, base + p1 * s1] += cols[n, c, k0, k1, p0, p1]
            for i in range(S0):
                for j in range(S1):
                    out[n, c, i, j] = acc[lo0 + i, lo1 + j]


def _as_full_correlation(g):
    """With stride 1 the transposed convolution is an ordinary one: y padded by
    d*(K-1) - lo before (and what makes the size S after), correlated with the flipped
    kernel. That skips col2im's K read-modify-write passes, at the price of a product over
    S positions instead of P: used when S is not much larger ('same'-style convolutions).
    The geometry, or None."""
    if any(s != 1 for s in g.s) or _prod(g.S) > FULL_CORRELATION_MAX_GROWTH * _prod(g.P):
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
    if _depthwise(g, wshape[1]):
        return _depthwise_w(x, y, g, wshape)
    if _pointwise(g):
        gw = np.matmul(_grouped(y, g), _grouped(x, g).swapaxes(2, 3)).sum(0)
        return gw.reshape(wshape)
    if algorithm_w(x, y, g, wshape) == "winograd":
        return winograd.weight_grad(x, y, g.lo)
    return _gemm_w(x, y, g, wshape, cols)


def _gemm_w(x, y, g, wshape, cols=None):
    """face_w by im2col and one product per chunk of images (summed per thread)."""
    N = x.shape[0]
    G = g.groups
    O = y.shape[1]
    # with few output channels OpenBLAS is faster at the transposed product (cols @ y^T)
    flip = O // G < FLIP_MAX_OUT_CHANNELS
    pp = _prod(g.P)
    per_image = flip and G == 1 and O * _prod(wshape[1:]) <= PER_IMAGE_MAX_W and \
        pp >= PER_IMAGE_W_MIN_POSITIONS
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
    threads.run_chunks(chunks, chunk)
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
    threads.run_channels(part, G, yv.size * len(views))
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
    threads.run_channels(part, G, y.size * len(shifts))
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
        threads.run_channels(fill, y.shape[1], yw.size)
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
    threads.run_channels(part, G, yv.size * len(views))
    return gw.reshape(wshape)


# ---------------------------------------------------------------------- unfold / fold
def unfold(x, g):
    """im2col as its own op: (N, C, *S) -> (N, C*prod(K), prod(P)), a fresh array."""
    n, c = x.shape[:2]
    out = np.empty((n, c) + g.K + g.P, dtype=x.dtype)
    out[...] = _windows(_pad(x, g, "pad"), g)
    return out.reshape(n, c * _prod(g.K), _prod(g.P))


def fold(cols, g):
    """col2im as its own op: (N, C*prod(K), prod(P)) -> (N, C, *S), overlaps summed."""
    n = cols.shape[0]
    c = cols.shape[1] // _prod(g.K)
    out = np.empty((n, c) + g.S, dtype=cols.dtype)
    _col2im(cols.reshape((n, c) + g.K + g.P), g, out)
    return out
