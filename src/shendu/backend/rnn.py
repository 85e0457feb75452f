"""One time step of the LSTM, GRU and vanilla RNN cells on arrays, forward and backward,
with as few passes over memory as the maths allows.

A recurrent layer's step works on a small block (batch × gates·hidden, 32 × 1024 in the
LSTM benchmark): each NumPy call over it costs a few microseconds, so what matters is the
number of passes and temporaries, not the arithmetic. The routines here write into arrays
the caller owns (row blocks of whole-sequence buffers), in place where they can.

* Forward stays with NumPy's SIMD ``exp``/``tanh`` (numba has no vector ``exp``/``tanh``
  without Intel's SVML, and a scalar-loop cell measured slower than NumPy), run in place
  on the gate block: the block of pre-activations becomes the block of gate activations
  that backward needs.
* Backward is arithmetic only (the gate derivatives come from the saved activations:
  σ' = σ(1 − σ), tanh' = 1 − tanh²), so it is one compiled pass per step where the
  kernels apply (``lstm_backward_kernel``, ``gru_backward_kernel``), beside its NumPy twin.

Gate order is torch's: LSTM (i, f, g, o), GRU (r, z, n). Shapes: ``b`` rows (the
sequences running at this step), ``H`` hidden units; every array is 2-D.
"""
import numpy as np

from .kernels import kernel, applies

__all__ = ["sigmoid_", "lstm_forward", "lstm_backward", "gru_forward", "gru_backward",
           "rnn_forward", "rnn_backward"]


def sigmoid_(x):
    """x ← 1 / (1 + e^−x) in place (x may be a strided view): three passes, where the
    overflow-safe two-branch form needs seven. e^−x overflows to inf for very negative x,
    and 1 / (1 + inf) is the right 0."""
    with np.errstate(over="ignore", under="ignore"):
        np.negative(x, out=x)
        np.exp(x, out=x)
    x += 1
    np.reciprocal(x, out=x)
    return x


# ---------------------------------------------------------------------- LSTM
def lstm_forward(a, c, tc, h):
    """One LSTM step. ``a`` (b, 4H) holds the pre-activations W_ih x + b + W_hh h and
    becomes the gates (i, f, g, o); ``c`` (b, H) is c_{t−1} and becomes c_t = f c + i g;
    ``tc`` (b, H) ← tanh(c_t); ``h`` (b, H) ← o tanh(c_t)."""
    H = c.shape[1]
    g = a[:, 2 * H:3 * H]
    pre = g.copy()                  # g's pre-activations: the sigmoid runs over the whole
    sigmoid_(a)                     # contiguous block (one call, ~30 % faster than two on
    np.tanh(pre, out=g)             # strided column blocks), then g gets its tanh
    c *= a[:, H:2 * H]
    np.multiply(a[:, :H], g, out=tc)            # tc as scratch for i g
    c += tc
    np.tanh(c, out=tc)
    np.multiply(a[:, 3 * H:], tc, out=h)


def lstm_backward(dh, dc, gates, tc, c_prev, dgates):
    """One LSTM step back. From dh (b, H) = ∂L/∂h_t, dc (b, H) = ∂L/∂c_t arriving from
    step t+1, the saved ``gates`` (b, 4H), ``tc`` = tanh(c_t) and c_{t−1}: writes
    ``dgates`` (b, 4H) = ∂L/∂(pre-activations) and overwrites ``dc`` with ∂L/∂c_{t−1}
    (the direct path f · dc; the path through h_{t−1} is the caller's GEMM)."""
    if applies(dh, dc, tc, c_prev) and applies(gates, dgates):
        lstm_backward_kernel(dh, dc, gates, tc, c_prev, dgates, dh.dtype.type(1))
    else:
        lstm_backward_numpy(dh, dc, gates, tc, c_prev, dgates)


def lstm_backward_numpy(dh, dc, gates, tc, c_prev, dgates):
    """The NumPy twin of :func:`lstm_backward_kernel`."""
    H = dh.shape[1]
    i, f, g, o = (gates[:, k * H:(k + 1) * H] for k in range(4))
    di, df, dg, do = (dgates[:, k * H:(k + 1) * H] for k in range(4))
    one = dh.dtype.type(1)
    np.multiply(dh, tc, out=do)                 # do ← dh tanh(c) o (1 − o)
    do *= o
    np.subtract(one, o, out=dg)                 # dg as scratch
    do *= dg
    np.multiply(tc, tc, out=dg)                 # dc += dh o (1 − tanh² c)
    np.subtract(one, dg, out=dg)
    dg *= o
    dg *= dh
    dc += dg
    np.multiply(dc, g, out=di)                  # di ← dc g i (1 − i)
    di *= i
    np.subtract(one, i, out=df)
    di *= df
    np.multiply(dc, c_prev, out=df)             # df ← dc c_{t−1} f (1 − f)
    df *= f
    np.subtract(one, f, out=dg)
    df *= dg
    np.multiply(g, g, out=dg)                   # dg ← dc i (1 − g²)
    np.subtract(one, dg, out=dg)
    dg *= i
    dg *= dc
    dc *= f


@kernel
def lstm_backward_kernel(dh, dc, gates, tc, c_prev, dgates, one):
    """Compiled :func:`lstm_backward`: one pass; ``one`` is 1 in the arrays' dtype."""
    b, H = dh.shape
    for r in range(b):
        for j in range(H):
            i = gates[r, j]
            f = gates[r, H + j]
            g = gates[r, 2 * H + j]
            o = gates[r, 3 * H + j]
            t = tc[r, j]
            d = dh[r, j]
            c = dc[r, j] + d * o * (one - t * t)
            dgates[r, j] = c * g * i * (one - i)
            dgates[r, H + j] = c * c_prev[r, j] * f * (one - f)
            dgates[r, 2 * H + j] = c * i * (one - g * g)
            dgates[r, 3 * H + j] = d * t * o * (one - o)
            dc[r, j] = c * f


# ---------------------------------------------------------------------- GRU
def gru_forward(a, gh, h_prev, h):
    """One GRU step. ``a`` (b, 3H) holds W_ih x + b_ih and becomes the gates (r, z, n);
    ``gh`` (b, 3H) = W_hh h + b_hh (its last third, W_hn h + b_hn, is what backward needs;
    the rest is scratch); h (b, H) ← (1 − z) n + z h_{t−1}."""
    H = h.shape[1]
    rz = a[:, :2 * H]
    rz += gh[:, :2 * H]
    sigmoid_(rz)
    n = a[:, 2 * H:]
    np.multiply(a[:, :H], gh[:, 2 * H:], out=h)    # h as scratch for r (W_hn h + b_hn)
    n += h
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)
    h *= a[:, H:2 * H]
    h += n


def gru_backward(dh, gates, ghn, h_prev, dgi, dgh, dh_direct):
    """One GRU step back. From dh (b, H), the saved gates (b, 3H), ghn (b, H) = W_hn h +
    b_hn and h_{t−1}: writes dgi (b, 3H) = ∂L/∂(W_ih x + b_ih), dgh (b, 3H) =
    ∂L/∂(W_hh h + b_hh) and dh_direct (b, H) = z dh, the direct path to h_{t−1}."""
    if applies(dh, ghn, h_prev, dh_direct) and applies(gates, dgi, dgh):
        gru_backward_kernel(dh, gates, ghn, h_prev, dgi, dgh, dh_direct, dh.dtype.type(1))
    else:
        gru_backward_numpy(dh, gates, ghn, h_prev, dgi, dgh, dh_direct)


def gru_backward_numpy(dh, gates, ghn, h_prev, dgi, dgh, dh_direct):
    """The NumPy twin of :func:`gru_backward_kernel`."""
    H = dh.shape[1]
    r, z, n = (gates[:, k * H:(k + 1) * H] for k in range(3))
    dr, dz, dn = (dgi[:, k * H:(k + 1) * H] for k in range(3))
    one = dh.dtype.type(1)
    s = dgh[:, 2 * H:]                              # scratch until its final value
    np.subtract(one, z, out=dn)                     # dn ← dh (1 − z)(1 − n²)
    dn *= dh
    np.multiply(n, n, out=s)
    np.subtract(one, s, out=s)
    dn *= s
    np.multiply(dn, ghn, out=dr)                    # dr ← dn ghn r (1 − r)
    dr *= r
    np.subtract(one, r, out=s)
    dr *= s
    np.subtract(h_prev, n, out=dz)                  # dz ← dh (h_{t−1} − n) z (1 − z)
    dz *= dh
    dz *= z
    np.subtract(one, z, out=s)
    dz *= s
    dgh[:, :2 * H] = dgi[:, :2 * H]
    np.multiply(dn, r, out=s)
    np.multiply(dh, z, out=dh_direct)


@kernel
def gru_backward_kernel(dh, gates, ghn, h_prev, dgi, dgh, dh_direct, one):
    """Compiled :func:`gru_backward`: one pass."""
    b, H = dh.shape
    for q in range(b):
        for j in range(H):
            r = gates[q, j]
            z = gates[q, H + j]
            n = gates[q, 2 * H + j]
            d = dh[q, j]
            dn = d * (one - z) * (one - n * n)
            dr = dn * ghn[q, j] * r * (one - r)
            dz = d * (h_prev[q, j] - n) * z * (one - z)
            dgi[q, j] = dr
            dgi[q, H + j] = dz
            dgi[q, 2 * H + j] = dn
            dgh[q, j] = dr
            dgh[q, H + j] = dz
            dgh[q, 2 * H + j] = dn * r
            dh_direct[q, j] = d * z


# ---------------------------------------------------------------------- vanilla RNN
def rnn_forward(a, relu):
    """One vanilla RNN step: ``a`` (b, H), the pre-activations, becomes h = tanh(a) (or
    relu(a)) in place."""
    if relu:
        np.maximum(a, 0, out=a)
    else:
        np.tanh(a, out=a)


def rnn_backward(dh, h, da, relu):
    """da ← dh tanh'(a) = dh (1 − h²), or dh where h > 0 for relu (b, H each)."""
    if relu:
        np.multiply(dh, h > 0, out=da)
    else:
        np.multiply(h, h, out=da)
        np.subtract(dh.dtype.type(1), da, out=da)
        da *= dh
