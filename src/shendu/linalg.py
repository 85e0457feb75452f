"""``shendu.linalg``: norms, inverse, determinant, solve and symmetric eigendecomposition."""
import math

import numpy as np

from ._tensor import Tensor, _make
from .autograd.function import Node
from ._ops._base import normalize_dims, cast
from ._ops.reduction import Norm2, amax, amin, sum as _sum
from ._ops.elementwise import abs as _abs, pow as _pow, sqrt as _sqrt, where as _where, \
    clamp as _clamp
from ._ops.linalg import matmul
from . import _dtype

__all__ = ["vector_norm", "norm", "matrix_norm", "inv", "det", "solve", "eigh", "eigvalsh",
           "svdvals", "matmul", "cond"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm over ``dim`` (all elements when None)."""
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point tensor as input. Got "
                           f"{x.dtype.name.capitalize()}")
    dims = tuple(range(x._data.ndim)) if dim is None else normalize_dims(dim, x._data.ndim)
    if ord == 2:
        return Norm2.apply(x, dims, keepdim)
    if ord == math.inf:
        return amax(_abs(x), dims, keepdim)
    if ord == -math.inf:
        return amin(_abs(x), dims, keepdim)
    if ord == 0:
        return _make(np.asarray((x._data != 0).sum(axis=dims, keepdims=keepdim),
                                dtype=x._data.dtype), None, 0)
    if ord == 1:
        return _sum(_abs(x), dims, keepdim)
    return _pow(_sum(_pow(_abs(x), float(ord)), dims, keepdim), 1.0 / ord)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    if ord == "fro":
        return vector_norm(A, 2, dim, keepdim)
    d0, d1 = (d % A._data.ndim for d in dim)
    if ord in (1, -1):
        s = _sum(_abs(A), d0, keepdim=True)
        r = amax(s, d1, keepdim=True) if ord == 1 else amin(s, d1, keepdim=True)
    elif ord in (math.inf, -math.inf):
        s = _sum(_abs(A), d1, keepdim=True)
        r = amax(s, d0, keepdim=True) if ord > 0 else amin(s, d0, keepdim=True)
    elif ord in (2, -2, "nuc"):
        sv = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = sv.sum(-1) if ord == "nuc" else sv[..., 0] if ord == 2 else sv[..., -1]
        if keepdim:
            r = r.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return r
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord!r} not supported (use 'fro', "
                           "'nuc', 1, -1, 2, -2, inf or -inf)")
    return r if keepdim else r.squeeze((d0, d1))


def svdvals(A):
    """Singular values of (..., m, n), in descending order: the square roots of the
    eigenvalues of the smaller Gram matrix (A^T A or A A^T), so that first and second
    derivatives come from eigh's. Relative accuracy of a singular value s is about
    eps * (s_max / s)^2: fine unless A is nearly rank-deficient."""
    if A._data.ndim < 2:
        raise RuntimeError(f"linalg.svdvals: The input tensor A must have at least 2 "
                           f"dimensions, got {A._data.ndim}")
    m, n = A._data.shape[-2:]
    gram = A.mT @ A if m >= n else A @ A.mT
    lam = eigvalsh(gram)                                 # ascending
    return _sqrt(_clamp(lam, min=0.0)).flip(-1)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: the 2-norm of the flattened tensor by default; a matrix norm when
    ``ord`` is given for a 2-D input or ``dim`` names two dims."""
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if (dim is not None and not isinstance(dim, int) and len(dim) == 2) or \
            (dim is None and A._data.ndim == 2):
        return matrix_norm(A, ord, dim if dim is not None else (-2, -1), keepdim)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


class Inv(Node):
    save_output = True

    def forward(self, a):
        try:
            return np.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise RuntimeError("linalg.inv: The diagonal element 1 is zero, the inversion could not "
                               "be completed because the input matrix is singular.") from None

    def backward(self, gy):
        y = self.saved_output
        return -(y.mT @ gy @ y.mT)


def inv(A):
    _square(A, "inv")
    return Inv.apply(A)


class Det(Node):
    save_inputs = (0,)
    save_output = True

    def forward(self, a):
        return np.linalg.det(a)

    def backward(self, gy):
        a, = self.saved_tensors
        y = self.saved_output
        return (gy * y).unsqueeze(-1).unsqueeze(-1) * inv(a).mT


def det(A):
    _square(A, "det")
    return Det.apply(A)


class Solve(Node):
    save_inputs = (0,)
    save_output = True

    def forward(self, a, b, vec):
        self.vec = vec
        if vec:
            return np.linalg.solve(a, b[..., None])[..., 0]
        return np.linalg.solve(a, b)

    def backward(self, gy):
        a, = self.saved_tensors
        x = self.saved_output
        gb = solve(a.mT, gy)
        nf = self.next_functions
        ga = None
        if nf[0][0] is not None:
            ga = -(gb.unsqueeze(-1) @ x.unsqueeze(-2)) if self.vec else -(gb @ x.mT)
        return ga, gb, None


def solve(A, B, *, left=True):
    """The X with A X = B."""
    _square(A, "solve")
    if not left:
        return solve(A.mT, B.mT).mT
    vec = B._data.ndim == 1 or (B._data.ndim == A._data.ndim - 1 and
                                B._data.shape == A._data.shape[:-1])
    return Solve.apply(A, B, vec)


class Eigh(Node):
    """Eigen-decomposition of a symmetric matrix; backward by the standard formula
    gA = V (diag(gL) + sym(F o (V^T gV))) V^T with F_ij = 1 / (l_j - l_i)."""

    def forward(self, a, uplo):
        w, v = np.linalg.eigh(a, UPLO=uplo)
        self.w, self.v = w, v
        return w, v

    def backward(self, gw, gv):
        # the outputs rebuilt with this node as grad_fn, so that the backward (written with
        # shendu ops) is itself differentiable: Hessians through eigh see V and w move
        W, V = _make(self.w, self, 0), _make(self.v, self, 1)
        eye = _make(np.eye(self.w.shape[-1], dtype=self.w.dtype), None, 0)
        inner = None
        if gw is not None:
            inner = gw.unsqueeze(-1) * eye                       # diag(gw)
        if gv is not None:
            same = self.w[..., None, :] == self.w[..., :, None]
            diff = W.unsqueeze(-2) - W.unsqueeze(-1)             # [i, j] = w_j - w_i
            F = _where(_make(same, None, 0), 0.0,
                       1.0 / _where(_make(same, None, 0), 1.0, diff))
            term = F * (V.mT @ gv)
            inner = term if inner is None else inner + term
        g = V @ inner @ V.mT
        return (g + g.mT) * 0.5, None


def eigh(A, UPLO="L"):
    _square(A, "eigh")
    return Eigh.apply(A, UPLO)


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO)[0]


def cond(A, p=None):
    """Condition number: s_max / s_min for p None or 2 (s_min / s_max for -2), else
    ||A||_p ||A^-1||_p for p in 'fro', 'nuc', 1, -1, inf, -inf (square A)."""
    if p is None or p in (2, -2):
        sv = svdvals(A)
        r = sv[..., 0] / sv[..., -1]
        return r if p != -2 else 1.0 / r
    if p not in ("fro", "nuc", 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p!r}")
    _square(A, "cond")
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def _square(A, name):
    if A._data.ndim < 2 or A._data.shape[-1] != A._data.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they are "
                           f"{A._data.shape[-2] if A._data.ndim >= 2 else '?'} by "
                           f"{A._data.shape[-1] if A._data.ndim else '?'} matrices")
