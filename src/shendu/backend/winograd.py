"""Winograd's minimal filtering F(2×2, 3×3) for stride-1, undilated, ungrouped 3×3
convolutions (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).

A 2×2 block of outputs of a 3×3 correlation is computed from the 4×4 input tile d that
covers it as ``Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A``: 16 multiplications instead of 36, so the
channel products shrink 2.25×. Summed over input channels, the ⊙ becomes, for each of the
16 tile positions ξ, one matrix product ``M[ξ] = U[ξ] (O, C) @ V[ξ] (C, tiles)``: one
batched GEMM (``np.matmul`` over ξ). The transforms are additions only:

* compiled kernels (``weight_kernel``, ``input_kernel``, ``output_kernel``), one pass
  each, that write (or read) four of the 16 tile-position planes per inner loop: the
  planes are a power of two apart, and sixteen streams at once alias in the cache
  (a 16-plane loop measured 7x slower than NumPy, the 4-plane one 2x faster);
* their NumPy twins, one call per row of Bᵀ / Aᵀ on every tile of the chunk at once
  (rows first, on whole padded rows; then columns).

    Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]
    G  = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
    Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]

Accuracy: the transforms add and subtract inputs of similar size, so the error stays at a
few units of round-off; tests hold it to the direct algorithm at 1e-12 in float64 and state
the float32 error (under 1e-6 of the output's scale; see tests/test_winograd.py).

Speed (ResNet-18 CIFAR 3×3 layers, batch 32, forward, one thread, shared machine, one
process): 0.70-0.76x im2col's time on every layer; the weight transform (16·O·C values)
is recomputed per call, the 512-channel layers' largest extra cost.

The batch is processed in chunks so the transformed tiles stay a few MB; chunks run on
shendu's batch threads with BLAS single-threaded meanwhile (``threads.run_chunks``).
The weight gradient (``weight_grad``) runs the adjoints of the same steps: dM = A dY Aᵀ
per tile, dU[ξ] = dM[ξ] @ V[ξ]ᵀ summed over tiles (again one batched GEMM), dg = Gᵀ dU G:
0.62-0.78x im2col's weight-gradient time on ResNet-18's 64-512-channel layers (batch 32,
2 threads), slower below ~512 (out, in) channel pairs.

``conv2d`` and ``weight_grad`` take and return ndarrays; which convolutions use them is
``conv.py``'s choice.
"""
import numpy as np

from . import threads
from .kernels import KERNEL_DTYPES, enabled, kernel

__all__ = ["applies", "conv2d", "weight_grad", "weight_transform"]

CHUNK_ELEMS = 1 << 20     # transformed-input elements (16·C·tiles) per chunk: a few MB,
                          # so the transforms and the 16 products run from cache
WEIGHT_SPLIT = 1 << 14    # (out, in) pairs from which the weight transform is split over
                          # output channels between shendu's threads (512x512: 2.8 -> 1.5 ms)
MIN_TILES = 256           # a chunk's products have at least this many columns (tiles)

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def applies(x_shape, w_shape, stride, dilation, groups, dtype):
    """Whether F(2×2, 3×3) computes this convolution: 2-D, 3×3 kernel, stride 1,
    dilation 1, one group, float32/float64."""
    return (len(x_shape) == 4 and tuple(w_shape[2:]) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and groups == 1
            and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64)))


def weight_transform(w):
    """U = G g Gᵀ for every (out, in) pair: (O, C, 3, 3) -> (16, O, C), contiguous."""
    O, C = w.shape[:2]
    if _compiled(w):
        u = np.empty((16, O, C), w.dtype)
        w, half = np.ascontiguousarray(w), w.dtype.type(0.5)
        threads.run_split(lambda a, b: weight_kernel(w[a:b], u[:, a:b], half), O,
                          threads.split_pays(O * C, 11.0, WEIGHT_SPLIT))   # ns per pair
        return u
    return weight_transform_numpy(w)


def weight_transform_numpy(w):
    """The NumPy twin of :func:`weight_kernel`."""
    G = _G.astype(w.dtype)
    t = np.tensordot(G, w, axes=([1], [2]))                   # (4, O, C, 3): one GEMM
    u = np.tensordot(t, G, axes=([3], [1]))                   # (4, O, C, 4)
    return np.ascontiguousarray(u.transpose(0, 3, 1, 2)).reshape(16, w.shape[0], w.shape[1])


def _compiled(*arrays):
    return enabled() and all(a.dtype in KERNEL_DTYPES for a in arrays)


@kernel
def weight_kernel(w, u, half):
    """u[4a+b, o, c] = (G w[o, c] Gᵀ)[a, b]; ``half`` is ½ in w's dtype. One pass over w
    per row a of G, writing four planes (sixteen at once alias in cache)."""
    O, C = w.shape[0], w.shape[1]
    for a in range(4):
        for o in range(O):
            u0, u1, u2, u3 = u[4 * a, o], u[4 * a + 1, o], u[4 * a + 2, o], u[4 * a + 3, o]
            for c in range(C):
                g = w[o, c]
                if a == 0:                         # row a of G g: r0, r1, r2
                    r0, r1, r2 = g[0, 0], g[0, 1], g[0, 2]
                elif a == 3:
                    r0, r1, r2 = g[2, 0], g[2, 1], g[2, 2]
                elif a == 1:
                    r0 = (g[0, 0] + g[1, 0] + g[2, 0]) * half
                    r1 = (g[0, 1] + g[1, 1] + g[2, 1]) * half
                    r2 = (g[0, 2] + g[1, 2] + g[2, 2]) * half
                else:
                    r0 = (g[0, 0] - g[1, 0] + g[2, 0]) * half
                    r1 = (g[0, 1] - g[1, 1] + g[2, 1]) * half
                    r2 = (g[0, 2] - g[1, 2] + g[2, 2]) * half
                u0[c] = r0
                u1[c] = (r0 + r1 + r2) * half
                u2[c] = (r0 - r1 + r2) * half
                u3[c] = r2


def _bt(src, dst):
    """dst[a] = Σ_i Bᵀ[a, i] src[i] along the first axis (4 in, 4 out)."""
    np.subtract(src[0], src[2], out=dst[0])
    np.add(src[1], src[2], out=dst[1])
    np.subtract(src[2], src[1], out=dst[2])
    np.subtract(src[1], src[3], out=dst[3])


def _input_transform(xp, th, tw, v):
    """V = Bᵀ d B of every 4×4 tile d of xp (n, C, ≥2th+2, ≥2tw+2) (tiles at steps of 2),
    into v (4, 4, C, n, th, tw)."""
    if _compiled(xp, v) and xp.flags.c_contiguous:
        input_kernel(xp, v.reshape(16, v.shape[2], v.shape[3], th, tw))
    else:
        input_transform_numpy(xp, th, tw, v)


def input_transform_numpy(xp, th, tw, v):
    """The NumPy twin of :func:`input_kernel`: V = Bᵀ d B of every 4×4 tile d of xp (n, C, ≥2th+2, ≥2tw+2) (tiles at steps of 2),
    into v (4, 4, C, n, th, tw). Rows first, on whole padded rows (contiguous reads), then
    columns, written in the (C, n) order of the products."""
    n, C = xp.shape[:2]
    rows = [xp[:, :, i:i + 2 * th:2, :2 * tw + 2] for i in range(4)]
    t = np.empty((4, n, C, th, 2 * tw + 2), xp.dtype)
    _bt(rows, t)
    cols = [t[..., j:j + 2 * tw:2] for j in range(4)]
    _bt(cols, v.transpose(1, 0, 3, 2, 4, 5))           # (b, a, n, C, th, tw)


@kernel
def input_kernel(xp, v):
    """v[4a+b, c, i, p, q] = (Bᵀ d B)[a, b] for the tile d = xp[i, c, 2p:2p+4, 2q:2q+4].
    One pass per row a of Bᵀ d (u − w or u + w of two input rows), writing four planes;
    plain indexing, no row views (making a view per row cost more than the row's work on
    the small maps: 2-5x slower)."""
    n, C, th, tw = v.shape[2], v.shape[1], v.shape[3], v.shape[4]
    for a in range(4):
        for c in range(C):
            for i in range(n):
                for p in range(th):
                    r = 2 * p
                    for q in range(tw):
                        k = 2 * q
                        if a == 0:
                            t0 = xp[i, c, r, k] - xp[i, c, r + 2, k]
                            t1 = xp[i, c, r, k + 1] - xp[i, c, r + 2, k + 1]
                            t2 = xp[i, c, r, k + 2] - xp[i, c, r + 2, k + 2]
                            t3 = xp[i, c, r, k + 3] - xp[i, c, r + 2, k + 3]
                        elif a == 1:
                            t0 = xp[i, c, r + 1, k] + xp[i, c, r + 2, k]
                            t1 = xp[i, c, r + 1, k + 1] + xp[i, c, r + 2, k + 1]
                            t2 = xp[i, c, r + 1, k + 2] + xp[i, c, r + 2, k + 2]
                            t3 = xp[i, c, r + 1, k + 3] + xp[i, c, r + 2, k + 3]
                        elif a == 2:
                            t0 = xp[i, c, r + 2, k] - xp[i, c, r + 1, k]
                            t1 = xp[i, c, r + 2, k + 1] - xp[i, c, r + 1, k + 1]
                            t2 = xp[i, c, r + 2, k + 2] - xp[i, c, r + 1, k + 2]
                            t3 = xp[i, c, r + 2, k + 3] - xp[i, c, r + 1, k + 3]
                        else:
                            t0 = xp[i, c, r + 1, k] - xp[i, c, r + 3, k]
                            t1 = xp[i, c, r + 1, k + 1] - xp[i, c, r + 3, k + 1]
                            t2 = xp[i, c, r + 1, k + 2] - xp[i, c, r + 3, k + 2]
                            t3 = xp[i, c, r + 1, k + 3] - xp[i, c, r + 3, k + 3]
                        v[4 * a, c, i, p, q] = t0 - t2
                        v[4 * a + 1, c, i, p, q] = t1 + t2
                        v[4 * a + 2, c, i, p, q] = t2 - t1
                        v[4 * a + 3, c, i, p, q] = t1 - t3


def _output_transform(m, y, th, tw):
    """Y = Aᵀ M A of every tile: m (4, 4, O, n, th, tw) -> y (n, O, 2th, 2tw)."""
    if _compiled(m, y):
        output_kernel(m.reshape(16, m.shape[2], m.shape[3], th, tw), y)
        return
    s = np.empty((2,) + m.shape[1:], m.dtype)
    yt = y.reshape(y.shape[0], y.shape[1], th, 2, tw, 2).transpose(3, 5, 1, 0, 2, 4)
    output_transform_numpy(m, s, yt)


def output_transform_numpy(m, s, y):
    """The NumPy twin of :func:`output_kernel`: Y = Aᵀ M A of every tile: m (4, 4, *rest), s (2, 4, *rest) scratch, y (2, 2, *rest)
    (a strided view of the output)."""
    np.add(m[0], m[1], out=s[0])
    s[0] += m[2]
    np.subtract(m[1], m[2], out=s[1])
    s[1] -= m[3]
    for i in range(2):
        np.add(s[i, 0], s[i, 1], out=y[i, 0])
        y[i, 0] += s[i, 2]
        np.subtract(s[i, 1], s[i, 2], out=y[i, 1])
        y[i, 1] -= s[i, 3]


@kernel
def output_kernel(m, y):
    """y[i, o, 2p:2p+2, 2q:2q+2] = Aᵀ M A for M[a, b] = m[4a+b, o, i, p, q]. Per image and
    channel: Aᵀ M over all its tiles at once (four planes read per pass, contiguous), then
    the columns into y (7x faster on 32x32 maps than tile by tile)."""
    O, n, th, tw = m.shape[1], m.shape[2], m.shape[3], m.shape[4]
    T = th * tw
    mf = m.reshape(16, O, n, T)
    s = np.empty((2, 4, T), m.dtype)
    for o in range(O):
        for i in range(n):
            for b in range(4):
                m0, m1, m2, m3 = mf[b, o, i], mf[4 + b, o, i], mf[8 + b, o, i], mf[12 + b, o, i]
                for k in range(T):
                    s[0, b, k] = m0[k] + m1[k] + m2[k]
                    s[1, b, k] = m1[k] - m2[k] - m3[k]
            for p in range(th):
                for a in range(2):
                    for q in range(tw):
                        k = p * tw + q
                        y[i, o, 2 * p + a, 2 * q] = s[a, 0, k] + s[a, 1, k] + s[a, 2, k]
                        y[i, o, 2 * p + a, 2 * q + 1] = s[a, 1, k] - s[a, 2, k] - s[a, 3, k]


def _chunks(N, C, th, tw):
    """The image chunks (a, b) of a batch of N: about CHUNK_ELEMS transformed-input values
    (16·C·tiles) each, at least MIN_TILES tiles, at least one per free thread."""
    nb = max(1, CHUNK_ELEMS // (16 * C * th * tw), -(-MIN_TILES // (th * tw)))
    parts = threads.free_threads()
    if parts > 1:
        nb = max(1, min(nb, -(-N // parts)))
    return [(a, min(a + nb, N)) for a in range(0, N, nb)]


def _transformed_tiles(x, lo, th, tw):
    """V = Bᵀ d B of the th × tw tiles of x (n, C, S0, S1) padded by ``lo`` = (top, left)
    zeros (and as many as the tiles need after): (4, 4, C, n, th, tw)."""
    n, C, S0, S1 = x.shape
    xp = np.zeros((n, C, max(2 * th + 2, lo[0] + S0), max(2 * tw + 2, lo[1] + S1)), x.dtype)
    xp[:, :, lo[0]:lo[0] + S0, lo[1]:lo[1] + S1] = x
    v = np.empty((4, 4, C, n, th, tw), x.dtype)
    _input_transform(xp, th, tw, v)
    return v


def conv2d(x, w, lo, P, u=None):
    """The stride-1 3×3 correlation of x (N, C, S0, S1) with w (O, C, 3, 3), x padded by
    ``lo`` = (top, left) zeros (and as many as needed after), output (N, O, P0, P1).
    ``u`` is weight_transform(w) when the caller has it."""
    N, C = x.shape[:2]
    O = w.shape[0]
    th, tw = -(-P[0] // 2), -(-P[1] // 2)                 # 2×2 output tiles per image
    if u is None:
        u = weight_transform(w)
    y = np.empty((N, O, 2 * th, 2 * tw), x.dtype)
    chunks = _chunks(N, C, th, tw)

    def chunk(t, a, b):
        n = b - a
        v = _transformed_tiles(x[a:b], lo, th, tw)
        m = np.matmul(u, v.reshape(16, C, n * th * tw)).reshape(4, 4, O, n, th, tw)
        _output_transform(m, y[a:b], th, tw)
    threads.run_chunks(chunks, chunk)
    if 2 * th != P[0] or 2 * tw != P[1]:
        y = np.ascontiguousarray(y[:, :, :P[0], :P[1]])
    return y


# ---------------------------------------------------------------------- weight gradient
# The forward is M[ξ] = U[ξ] @ V[ξ] per tile position ξ, Y = Aᵀ M A per tile, U = G g Gᵀ.
# Its adjoint in the weight: dM = A dY Aᵀ per tile (the output transform's transpose),
# dU[ξ] = dM[ξ] @ V[ξ]ᵀ (a batched GEMM summed over tiles: 16·O·C·tiles products against
# im2col's 36·O·C·tiles), and dg = Gᵀ dU G (the weight transform's transpose).
#
#     A = [[1, 0], [1, 1], [1, −1], [0, −1]]

def output_adjoint(dy, dm):
    """dM = A dY Aᵀ of every 2×2 tile of dy (n, O, 2th, 2tw) into dm (16, O, n, th, tw)."""
    if _compiled(dy, dm) and dy.flags.c_contiguous:
        output_adjoint_kernel(dy, dm)
    else:
        output_adjoint_numpy(dy, dm)


def _a_rows(d0, d1, out):
    """out[a] = A[a, 0] d0 + A[a, 1] d1: (d0, d0 + d1, d0 − d1, −d1)."""
    out[0] = d0
    np.add(d0, d1, out=out[1])
    np.subtract(d0, d1, out=out[2])
    np.negative(d1, out=out[3])


def output_adjoint_numpy(dy, dm):
    """The NumPy twin of :func:`output_adjoint_kernel`."""
    n, O = dy.shape[:2]
    th, tw = dm.shape[3], dm.shape[4]
    d = dy.reshape(n, O, th, 2, tw, 2).transpose(3, 5, 1, 0, 2, 4)     # (i, j, O, n, th, tw)
    r = np.empty((4, 2, O, n, th, tw), dy.dtype)
    _a_rows(d[0], d[1], r)
    dm6 = dm.reshape(4, 4, O, n, th, tw)
    for a in range(4):
        _a_rows(r[a, 0], r[a, 1], dm6[a])


@kernel
def output_adjoint_kernel(dy, dm):
    """dm[4a+b, o, i, p, q] = (A D Aᵀ)[a, b] for the tile D = dy[i, o, 2p:2p+2, 2q:2q+2];
    per image and channel, one pass over its tiles per row a of A D, writing four planes."""
    O, n, th, tw = dm.shape[1], dm.shape[2], dm.shape[3], dm.shape[4]
    m = dm.reshape(16, O, n, th * tw)
    for o in range(O):
        for i in range(n):
            d = dy[i, o]
            for a in range(4):
                m0, m1 = m[4 * a, o, i], m[4 * a + 1, o, i]
                m2, m3 = m[4 * a + 2, o, i], m[4 * a + 3, o, i]
                for p in range(th):
                    for q in range(tw):
                        u, v = d[2 * p, 2 * q], d[2 * p, 2 * q + 1]
                        s, t = d[2 * p + 1, 2 * q], d[2 * p + 1, 2 * q + 1]
                        if a == 0:
                            c0, c1 = u, v
                        elif a == 1:
                            c0, c1 = u + s, v + t
                        elif a == 2:
                            c0, c1 = u - s, v - t
                        else:
                            c0, c1 = -s, -t
                        k = p * tw + q
                        m0[k], m1[k], m2[k], m3[k] = c0, c0 + c1, c0 - c1, -c1


def weight_adjoint(du):
    """dg = Gᵀ dU G for every (out, in) pair: du (16, O, C) -> (O, C, 3, 3)."""
    O, C = du.shape[1:]
    if _compiled(du):
        dw = np.empty((O, C, 3, 3), du.dtype)
        du, half = np.ascontiguousarray(du), du.dtype.type(0.5)
        threads.run_split(lambda a, b: weight_adjoint_kernel(du[:, a:b], dw[a:b], half), O,
                          threads.split_pays(O * C, 12.5, WEIGHT_SPLIT))
        return dw
    return weight_adjoint_numpy(du)


def weight_adjoint_numpy(du):
    """The NumPy twin of :func:`weight_adjoint_kernel`."""
    G = _G.astype(du.dtype)
    O, C = du.shape[1:]
    t = np.tensordot(G, du.reshape(4, 4, O, C), axes=([0], [0]))       # (3, 4, O, C)
    dw = np.tensordot(t, G, axes=([1], [0]))                           # (3, O, C, 3)
    return np.ascontiguousarray(dw.transpose(1, 2, 0, 3))


@kernel
def weight_adjoint_kernel(du, dw, half):
    """dw[o, c] = Gᵀ dU G for dU[a, b] = du[4a+b, o, c]; ``half`` is ½ in du's dtype. One
    pass per row a of dU, reading four planes (sixteen at once alias in cache)."""
    O, C = du.shape[1], du.shape[2]
    for a in range(4):
        for o in range(O):
            u0, u1, u2, u3 = du[4 * a, o], du[4 * a + 1, o], du[4 * a + 2, o], du[4 * a + 3, o]
            for c in range(C):
                h1, h2 = u1[c] * half, u2[c] * half
                r0 = u0[c] + h1 + h2                 # (dU_a G)[l] = Σ_b dU[a, b] G[b, l]
                r1 = h1 - h2
                r2 = h1 + h2 + u3[c]
                g = dw[o, c]
                if a == 0:                           # dw[k, l] += G[a, k] r[l]
                    g[0, 0], g[0, 1], g[0, 2] = r0, r1, r2
                    g[1, 0], g[1, 1], g[1, 2] = 0, 0, 0
                    g[2, 0], g[2, 1], g[2, 2] = 0, 0, 0
                elif a == 3:
                    g[2, 0] += r0
                    g[2, 1] += r1
                    g[2, 2] += r2
                else:                                # G[1] = (½, ½, ½), G[2] = (½, −½, ½)
                    r0, r1, r2 = r0 * half, r1 * half, r2 * half
                    g[0, 0] += r0
                    g[0, 1] += r1
                    g[0, 2] += r2
                    if a == 1:
                        g[1, 0] += r0
                        g[1, 1] += r1
                        g[1, 2] += r2
                    else:
                        g[1, 0] -= r0
                        g[1, 1] -= r1
                        g[1, 2] -= r2
                    g[2, 0] += r0
                    g[2, 1] += r1
                    g[2, 2] += r2


def weight_grad(x, dy, lo):
    """The weight gradient of :func:`conv2d`: x (N, C, S0, S1) padded by ``lo`` as there,
    dy (N, O, P0, P1) the output's gradient -> (O, C, 3, 3)."""
    N, C = x.shape[:2]
    O, P = dy.shape[1], dy.shape[2:]
    th, tw = -(-P[0] // 2), -(-P[1] // 2)
    chunks = _chunks(N, C, th, tw)
    sums = {}                                             # per thread: its dU (16, O, C)

    def chunk(t, a, b):
        n = b - a
        v = _transformed_tiles(x[a:b], lo, th, tw)
        d = dy[a:b]
        if 2 * th != P[0] or 2 * tw != P[1]:              # the tiles past the output: zero
            d = np.zeros((n, O, 2 * th, 2 * tw), dy.dtype)
            d[:, :, :P[0], :P[1]] = dy[a:b]
        dm = np.empty((16, O, n, th, tw), dy.dtype)
        output_adjoint(np.ascontiguousarray(d), dm)
        prod = np.matmul(dm.reshape(16, O, -1), v.reshape(16, C, -1).swapaxes(1, 2))
        if t in sums:
            sums[t] += prod
        else:
            sums[t] = prod
    threads.run_chunks(chunks, chunk)
    if not sums:                                          # an empty batch
        return np.zeros((O, C, 3, 3), x.dtype)
    parts = [sums[t] for t in sorted(sums)]
    du = parts[0]
    for p_ in parts[1:]:
        du += p_
    return weight_adjoint(du)
