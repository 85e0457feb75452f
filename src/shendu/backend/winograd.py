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
``conv2d`` takes and returns ndarrays; which convolutions use it is ``conv.py``'s choice.
"""
import numpy as np

from . import threads
from .kernels import KERNEL_DTYPES, enabled, kernel

__all__ = ["applies", "conv2d", "weight_transform"]

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
                          O * C >= WEIGHT_SPLIT)
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
    Row a of Bᵀ d for a whole row of tiles at a time: four output planes per inner loop
    (sixteen at once alias in cache: the planes are a power of two apart)."""
    n, C, th, tw = v.shape[2], v.shape[1], v.shape[3], v.shape[4]
    for c in range(C):
        for i in range(n):
            for p in range(th):
                x0, x1, x2, x3 = (xp[i, c, 2 * p], xp[i, c, 2 * p + 1], xp[i, c, 2 * p + 2],
                                  xp[i, c, 2 * p + 3])
                for a in range(4):                 # row a of Bᵀ d: u − w, or u + w
                    if a == 0:
                        u, w = x0, x2
                    elif a == 1:
                        u, w = x1, x2
                    elif a == 2:
                        u, w = x2, x1
                    else:
                        u, w = x1, x3
                    v0, v1 = v[4 * a, c, i, p], v[4 * a + 1, c, i, p]
                    v2, v3 = v[4 * a + 2, c, i, p], v[4 * a + 3, c, i, p]
                    if a == 1:
                        for q in range(tw):
                            k = 2 * q
                            t0, t1 = u[k] + w[k], u[k + 1] + w[k + 1]
                            t2, t3 = u[k + 2] + w[k + 2], u[k + 3] + w[k + 3]
                            v0[q], v1[q], v2[q], v3[q] = t0 - t2, t1 + t2, t2 - t1, t1 - t3
                    else:
                        for q in range(tw):
                            k = 2 * q
                            t0, t1 = u[k] - w[k], u[k + 1] - w[k + 1]
                            t2, t3 = u[k + 2] - w[k + 2], u[k + 3] - w[k + 3]
                            v0[q], v1[q], v2[q], v3[q] = t0 - t2, t1 + t2, t2 - t1, t1 - t3


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
    """y[i, o, 2p:2p+2, 2q:2q+2] = Aᵀ M A for M[a, b] = m[4a+b, o, i, p, q]."""
    O, n, th, tw = m.shape[1], m.shape[2], m.shape[3], m.shape[4]
    s = np.empty((2, 4), m.dtype)
    for o in range(O):
        for i in range(n):
            for p in range(th):
                for q in range(tw):
                    for b in range(4):
                        m0, m1 = m[b, o, i, p, q], m[4 + b, o, i, p, q]
                        m2, m3 = m[8 + b, o, i, p, q], m[12 + b, o, i, p, q]
                        s[0, b] = m0 + m1 + m2
                        s[1, b] = m1 - m2 - m3
                    for a in range(2):
                        y[i, o, 2 * p + a, 2 * q] = s[a, 0] + s[a, 1] + s[a, 2]
                        y[i, o, 2 * p + a, 2 * q + 1] = s[a, 1] - s[a, 2] - s[a, 3]


def conv2d(x, w, lo, P, u=None):
    """The stride-1 3×3 correlation of x (N, C, S0, S1) with w (O, C, 3, 3), x padded by
    ``lo`` = (top, left) zeros (and as many as needed after), output (N, O, P0, P1).
    ``u`` is weight_transform(w) when the caller has it."""
    N, C, S0, S1 = x.shape
    O = w.shape[0]
    th, tw = -(-P[0] // 2), -(-P[1] // 2)                 # 2×2 output tiles per image
    R0, R1 = 2 * th + 2, 2 * tw + 2                       # the input rows/cols they read
    if u is None:
        u = weight_transform(w)
    y = np.empty((N, O, 2 * th, 2 * tw), x.dtype)
    per_image = 16 * C * th * tw
    nb = max(1, CHUNK_ELEMS // per_image, -(-MIN_TILES // (th * tw)))
    parts = threads.free_threads()
    if parts > 1:
        nb = max(1, min(nb, -(-N // parts)))
    chunks = [(a, min(a + nb, N)) for a in range(0, N, nb)]

    def chunk(t, a, b):
        n = b - a
        xp = np.zeros((n, C, max(R0, lo[0] + S0), max(R1, lo[1] + S1)), x.dtype)
        xp[:, :, lo[0]:lo[0] + S0, lo[1]:lo[1] + S1] = x[a:b]
        v = np.empty((4, 4, C, n, th, tw), x.dtype)
        _input_transform(xp, th, tw, v)
        m = np.matmul(u, v.reshape(16, C, n * th * tw)).reshape(4, 4, O, n, th, tw)
        _output_transform(m, y[a:b], th, tw)
    threads.run_chunks(chunks, chunk)
    if 2 * th != P[0] or 2 * tw != P[1]:
        y = np.ascontiguousarray(y[:, :, :P[0], :P[1]])
    return y
