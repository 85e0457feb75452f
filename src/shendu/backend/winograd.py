"""Winograd's minimal filtering F(2×2, 3×3) for stride-1, undilated, ungrouped 3×3
convolutions (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).

A 2×2 block of outputs of a 3×3 correlation is computed from the 4×4 input tile d that
covers it as ``Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A``: 16 multiplications instead of 36, so the
channel products shrink 2.25×. Summed over input channels, the ⊙ becomes, for each of the
16 tile positions ξ, one matrix product ``M[ξ] = U[ξ] (O, C) @ V[ξ] (C, tiles)``: one
batched GEMM (``np.matmul`` over ξ). The transforms are additions over whole arrays (one
NumPy call per row of Bᵀ / Aᵀ, on every tile of the chunk at once):

    Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]
    G  = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
    Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]

Accuracy: the transforms add and subtract inputs of similar size, so the error stays at a
few units of round-off; tests hold it to the direct algorithm at 1e-12 in float64 and state
the float32 error (relative to the output's scale, about 1e-6; see tests/test_winograd.py).

The batch is processed in chunks so the transformed tiles stay a few MB; chunks run on
shendu's batch threads with BLAS single-threaded meanwhile (``threads.run_chunks``).
``conv2d`` takes and returns ndarrays; which convolutions use it is ``conv.py``'s choice.
"""
import numpy as np

from . import threads

__all__ = ["applies", "conv2d", "weight_transform"]

CHUNK_ELEMS = 1 << 20     # transformed-input elements (16·C·tiles) per chunk: a few MB,
                          # so the transforms and the 16 products run from cache
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
    G = _G.astype(w.dtype)
    t = np.tensordot(G, w, axes=([1], [2]))                   # (4, O, C, 3): one GEMM
    u = np.tensordot(t, G, axes=([3], [1]))                   # (4, O, C, 4)
    return np.ascontiguousarray(u.transpose(0, 3, 1, 2)).reshape(16, w.shape[0], w.shape[1])


def _bt(src, dst):
    """dst[a] = Σ_i Bᵀ[a, i] src[i] along the first axis (4 in, 4 out)."""
    np.subtract(src[0], src[2], out=dst[0])
    np.add(src[1], src[2], out=dst[1])
    np.subtract(src[2], src[1], out=dst[2])
    np.subtract(src[1], src[3], out=dst[3])


def _input_transform(xp, th, tw, v):
    """V = Bᵀ d B of every 4×4 tile d of xp (n, C, ≥2th+2, ≥2tw+2) (tiles at steps of 2),
    into v (4, 4, C, n, th, tw). Rows first, on whole padded rows (contiguous reads), then
    columns, written in the (C, n) order of the products."""
    n, C = xp.shape[:2]
    rows = [xp[:, :, i:i + 2 * th:2, :2 * tw + 2] for i in range(4)]
    t = np.empty((4, n, C, th, 2 * tw + 2), xp.dtype)
    _bt(rows, t)
    cols = [t[..., j:j + 2 * tw:2] for j in range(4)]
    _bt(cols, v.transpose(1, 0, 3, 2, 4, 5))           # (b, a, n, C, th, tw)


def _output_transform(m, s, y):
    """Y = Aᵀ M A of every tile: m (4, 4, *rest), s (2, 4, *rest) scratch, y (2, 2, *rest)
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
        yt = y[a:b].reshape(n, O, th, 2, tw, 2).transpose(3, 5, 1, 0, 2, 4)
        _output_transform(m, np.empty((2, 4, O, n, th, tw), x.dtype), yt)
    threads.run_chunks(chunks, chunk)
    if 2 * th != P[0] or 2 * tw != P[1]:
        y = np.ascontiguousarray(y[:, :, :P[0], :P[1]])
    return y
