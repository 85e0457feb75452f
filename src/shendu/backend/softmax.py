"""Row-wise softmax routines on (N, C) arrays (classes along the last, contiguous axis): the
log-softmax, the softmax, and softmax cross-entropy against class indices with its gradient.

Each is a short chain of NumPy passes on a block of rows, with one output buffer reused
through the chain (no temporaries of the whole array). Large inputs are split into blocks of
rows that run on shendu's threads at once (ufunc loops and reductions release the GIL), as
PyTorch spreads these loops over its threads: on the Xeon's 2 cores the LSTM benchmark's
(1120, 1000) cross-entropy took 2.9 ms forward as one NumPy chain.

Every routine takes and returns ndarrays; the arithmetic is the same, operation for
operation, as the plain chain on the whole array, so the split changes no bit.
"""
import numpy as np

from . import threads
from .elementwise import UFUNC_SPLIT_MIN

__all__ = ["log_softmax", "softmax", "xent_index", "xent_index_grad"]

ROW_NS = 1.3               # ns per element of a row's (log-)softmax on one thread (EPYC)


def _rows(fn, x):
    """fn(lo, hi) over blocks of x's rows: one block per free thread when x is large."""
    threads.run_split(fn, x.shape[0], threads.split_pays(x.size, ROW_NS, UFUNC_SPLIT_MIN))


def log_softmax(x):
    """x − max − log Σ exp(x − max) along the last axis of the C-contiguous x (N, C)."""
    out = np.empty_like(x)

    def part(a, b):
        z = np.subtract(x[a:b], x[a:b].max(axis=1, keepdims=True), out=out[a:b])
        e = np.exp(z)
        z -= np.log(e.sum(axis=1, keepdims=True))
    _rows(part, x)
    return out


def softmax(x):
    """exp(x − max) / Σ exp(x − max) along the last axis of the C-contiguous x (N, C)."""
    out = np.empty_like(x)

    def part(a, b):
        e = np.subtract(x[a:b], x[a:b].max(axis=1, keepdims=True), out=out[a:b])
        np.exp(e, out=e)
        e /= e.sum(axis=1, keepdims=True)
    _rows(part, x)
    return out


def xent_index(x, y, keep_softmax):
    """Cross-entropy of the logits x (N, C) against class indices y (N,): (l, p) with
    l_n = log Σ_c exp(x_nc − m_n) − (x_{n,y_n} − m_n) (m_n the row's max), and p = softmax(x)
    (N, C) when ``keep_softmax`` (else None)."""
    n = x.shape[0]
    loss = np.empty(n, x.dtype)
    e = np.empty_like(x)

    def part(a, b):
        xs = x[a:b]
        m = xs.max(axis=1, keepdims=True)
        es = np.subtract(xs, m, out=e[a:b])
        zy = es[np.arange(b - a), y[a:b]]
        np.exp(es, out=es)
        s = es.sum(axis=1, keepdims=True)
        np.subtract(np.log(s[:, 0]), zy, out=loss[a:b])
        if keep_softmax:
            es /= s
    _rows(part, x)
    return loss, (e if keep_softmax else None)


def xent_index_grad(p, y, f):
    """The gradient of Σ_n f_n · xent_n: p (N, C) the softmax, y (N,) the classes, f (N,)
    the per-row factors; returns f_n (p_n − onehot(y_n)) as a new (N, C) array."""
    gx = np.empty_like(p)

    def part(a, b):
        g = np.multiply(p[a:b], f[a:b, None], out=gx[a:b])
        g[np.arange(b - a), y[a:b]] -= f[a:b]
    _rows(part, p)
    return gx
