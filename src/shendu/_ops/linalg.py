"""The linear-algebra primitives: matrix products (matmul with torch's 1-D / batched
broadcasting rules, mm, bmm, mv, dot, outer, addmm, tensordot, einsum) and the
``shendu.linalg`` routines (norms, inv, det, solve, eigh, svdvals, cond).

``shendu/linalg.py`` is only the public namespace: it re-exports the routines from here.
Adding a linalg function = a Node and its function here, one name in that file's import.
"""
import functools
import math
from collections import namedtuple

import numpy as np

from .. import _dtype
from .._tensor import Tensor, _make
from ..autograd.function import Node
from ._base import sum_to, promote, broadcast_to, normalize_dims
from .fused import fused_grads
from .reduction import amax, amin, sum as _sum, expand_reduced
from .elementwise import abs as _abs, pow as _pow, sqrt as _sqrt, where as _where, \
    clamp as _clamp, _const

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm",
           "addmv", "baddbmm", "addbmm", "tensordot", "einsum", "kron", "trace", "cross", "norm"]


class Matmul(Node):
    save_inputs = (0, 1)

    def forward(self, a, b):
        try:
            return np.matmul(a, b)
        except ValueError:
            raise _matmul_error(a.shape, b.shape) from None

    def backward(self, gy):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:         # the common case: one node, two products
            return fused_grads(need, functools.partial(_matmul_grads_arrays, need=need),
                               _matmul_grads_graph, gy, a, b)
        return _matmul_grads_graph(gy, a, b, need)


def _matmul_grads_arrays(g, a, b, need):
    """(g bᵀ, aᵀ g) for 2-D a, b on the arrays (None where not needed)."""
    return (g @ b.T if need[0] else None), (a.T @ g if need[1] else None)


def _matmul_grads_graph(gy, a, b, need=(True, True)):
    """Matmul's input gradients with shendu ops (differentiable again), every rank."""
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:
        return (gy * b if need[0] else None,
                gy * a if need[1] else None)
    A = a.unsqueeze(0) if a.ndim == 1 else a
    B = b.unsqueeze(-1) if b.ndim == 1 else b
    G = gy
    if a.ndim == 1:
        G = G.unsqueeze(-2)
    if b.ndim == 1:
        G = G.unsqueeze(-1)
    if need[0]:
        ga = sum_to(matmul(G, B.mT), A.shape)
        if a.ndim == 1:
            ga = ga.squeeze(0)
    if need[1]:
        gb = sum_to(matmul(A.mT, G), B.shape)
        if b.ndim == 1:
            gb = gb.squeeze(-1)
    return ga, gb


def _matmul_error(sa, sb):
    if len(sa) == 0 or len(sb) == 0:
        return RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                            f"{len(sa)}D and {len(sb)}D")
    ka = sa[-1]
    kb = sb[-2] if len(sb) > 1 else sb[0]
    if ka != kb:
        a2 = sa if len(sa) > 1 else (1,) + tuple(sa)
        return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                            f"({'x'.join(map(str, a2[-2:]))} and "
                            f"{'x'.join(map(str, sb[-2:] if len(sb) > 1 else sb))}) "
                            f"(matmul of {tuple(sa)} by {tuple(sb)})")
    return RuntimeError(f"matmul: batch dimensions of {tuple(sa)} and {tuple(sb)} do not broadcast")


# C++ names in torch's "expected m1 and m2 to have the same dtype" message
_CNAME = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
          "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
          "bool": "bool"}


def _dtype_error(a, b):
    """torch's error for a product of arrays of two dtypes (products never promote), in the
    words of the kernel torch's matmul picks for these ranks."""
    from .inplace import _tname
    ta, tb = _tname(a.dtype), _tname(b.dtype)
    if a.ndim == 1 and b.ndim == 1:
        return RuntimeError(f"dot : expected both vectors to have same dtype, but found {ta} "
                            f"and {tb}")
    if b.ndim == 1:
        return RuntimeError(f"addmv input tensors must have the same dtype, but got {tb}, {ta}, "
                            f"and {tb}")
    if a.ndim <= 2 and b.ndim == 2:
        return RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                            f"{_CNAME[a.dtype.name]} != {_CNAME[b.dtype.name]}")
    return RuntimeError(f"expected scalar type {ta} but found {tb}")


def matmul(input, other, *, out=None):
    """Matrix product with torch's rules: 1-D operands are promoted to matrices and the
    added dimension removed afterwards; batch dimensions broadcast. Both operands must have
    the same dtype (as torch: no promotion)."""
    if isinstance(input, Tensor) and isinstance(other, Tensor) and \
            input._data.dtype != other._data.dtype:
        raise _dtype_error(input._data, other._data)
    a, b = promote(input, other, "matmul")
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError("matmul(): both arguments must be tensors")
    if a._data.ndim == 0 or b._data.ndim == 0:
        raise _matmul_error(a._data.shape, b._data.shape)
    r = Matmul.apply(a, b)
    if out is not None:
        out.copy_(r)
        return out
    return r


def mm(input, mat2):
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {input._data.ndim}-D and "
                           f"{mat2._data.ndim}-D (shapes {tuple(input.shape)} and "
                           f"{tuple(mat2.shape)})")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input._data.ndim != 3 or mat2._data.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor (bmm got shapes {tuple(input.shape)} and "
                           f"{tuple(mat2.shape)})")
    if input._data.shape[0] != mat2._data.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{input._data.shape[0]} and {mat2._data.shape[0]}")
    return matmul(input, mat2)


def mv(input, vec):
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input._data.ndim}, "
                           f"{vec._data.ndim}")
    return matmul(input, vec)


def dot(input, other):
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and "
                           f"{other._data.ndim}D tensors")
    if input._data.shape[0] != other._data.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input._data.shape[0]}] "
                           f"and src [{other._data.shape[0]}] to have the same number of elements, "
                           f"but got {input._data.shape[0]} and {other._data.shape[0]} elements "
                           f"respectively")
    return matmul(input, other)


vdot = dot


def inner(input, other):
    if input._data.ndim == 0 or other._data.ndim == 0:
        return input * other
    return tensordot(input, other, dims=([-1], [-1]))


def outer(input, vec2):
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2)."""
    p = mm(mat1, mat2)
    if alpha != 1:
        p = p * alpha
    if beta == 0:
        return p
    return (input * beta if beta != 1 else input) + p


def addmv(input, mat, vec, *, beta=1, alpha=1):
    p = mv(mat, vec)
    if alpha != 1:
        p = p * alpha
    return p if beta == 0 else (input * beta if beta != 1 else input) + p


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    p = bmm(batch1, batch2)
    if alpha != 1:
        p = p * alpha
    return p if beta == 0 else (input * beta if beta != 1 else input) + p


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    p = bmm(batch1, batch2).sum(0)
    if alpha != 1:
        p = p * alpha
    return p if beta == 0 else (input * beta if beta != 1 else input) + p


def tensordot(a, b, dims=2):
    """Contract ``dims`` (an int: the last dims of a with the first of b; or two lists)."""
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, int):
        da, db = list(range(na - dims, na)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
        da = [d % na for d in da]
        db = [d % nb for d in db]
    fa = [i for i in range(na) if i not in da]
    fb = [i for i in range(nb) if i not in db]
    sa, sb = a._data.shape, b._data.shape
    for x, y in zip(da, db):
        if sa[x] != sb[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa[x]} "
                               f"in dim {x} and second has size {sb[y]} in dim {y}")
    m = int(np.prod([sa[i] for i in fa]))
    k = int(np.prod([sa[i] for i in da]))
    n = int(np.prod([sb[i] for i in fb]))
    A = a.permute(fa + da).reshape(m, k)
    B = b.permute(db + fb).reshape(k, n)
    return matmul(A, B).reshape([sa[i] for i in fa] + [sb[i] for i in fb])


def kron(input, other):
    a, b = input, other
    nd = max(a._data.ndim, b._data.ndim)
    a = a.reshape((1,) * (nd - a._data.ndim) + a._data.shape)
    b = b.reshape((1,) * (nd - b._data.ndim) + b._data.shape)
    sa, sb = a._data.shape, b._data.shape
    ia = []
    ib = []
    for i in range(nd):
        ia += [sa[i], 1]
        ib += [1, sb[i]]
    return (a.reshape(ia) * b.reshape(ib)).reshape([x * y for x, y in zip(sa, sb)])


def trace(input):
    if input._data.ndim != 2:
        raise RuntimeError("trace: expected a matrix")
    return input.diagonal().sum()


def cross(input, other, dim=None):
    if dim is None:
        dim = next(i for i, s in enumerate(np.broadcast_shapes(input.shape, other.shape)) if s == 3)
    a0, a1, a2 = input.unbind(dim)
    b0, b1, b2 = other.unbind(dim)
    from .shape import stack
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


# ------------------------------------------------------------------ einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(eq, n_ops):
    eq = eq.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->")
        explicit = True
    else:
        lhs, out, explicit = eq, None, False
    ins = lhs.split(",")
    if len(ins) != n_ops:
        raise RuntimeError(f"einsum(): {len(ins)} operand subscripts for {n_ops} operands")
    if not explicit:
        letters = [c for s in ins for c in s if c != "."]
        out = ("..." if any("..." in s for s in ins) else "") + \
            "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ins, out


class Einsum(Node):
    save_inputs = True

    def forward(self, *ops, equation):
        self.equation = equation
        self.shapes = [o.shape for o in ops]
        return np.einsum(equation, *ops, optimize=len(ops) > 2)

    def backward(self, gy):
        ops = self.saved_tensors
        ins, out = _parse_einsum(self.equation, len(ops))
        grads = []
        for i, s in enumerate(ins):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            grads.append(_einsum_grad(gy, ops, ins, out, i))
        return tuple(grads)


def _einsum_grad(gy, ops, ins, out, i):
    s = ins[i]
    letters = s.replace("...", "")
    if len(set(letters)) != len(letters):
        raise NotImplementedError("einsum backward with a repeated subscript inside one operand "
                                  "(a diagonal) is not supported")
    others = [ins[j] for j in range(len(ins)) if j != i]
    seen = set(out.replace("...", "")) | set("".join(o.replace("...", "") for o in others))
    missing = [c for c in letters if c not in seen]
    target = s
    for c in missing:
        target = target.replace(c, "")
    has_ell_i = "..." in s
    any_ell = "..." in out or any("..." in o for o in others)
    if not has_ell_i and "..." in target:
        target = target.replace("...", "")
    eq = ",".join([out] + others) + "->" + target
    g = einsum(eq, gy, *[ops[j] for j in range(len(ops)) if j != i])
    shape_i = ops[i].shape
    if has_ell_i:
        # the gradient's ellipsis block is the broadcast one: sum it down to the operand's
        pre = s.index("...")
        n_pre = len(s[:pre].replace("...", ""))
        n_pre_t = len([c for c in s[:pre] if c not in missing])
        ell_i = len(shape_i) - len(letters)
        ell_g = g.ndim - len(target.replace("...", ""))
        extra = ell_g - ell_i
        if extra > 0:
            g = g.sum(tuple(range(n_pre_t, n_pre_t + extra)))
        ell_shape = shape_i[n_pre:n_pre + ell_i]
        for k, size in enumerate(ell_shape):
            if size == 1 and g.shape[n_pre_t + k] != 1:
                g = g.sum(n_pre_t + k, keepdim=True)
    elif any_ell:
        pass
    if missing:
        # letters summed inside this operand only: their gradient is broadcast
        full = s.replace("...", "")
        for pos, c in enumerate(full):
            if c in missing:
                axis = pos if not has_ell_i else (pos if pos < s.index("...") else
                                                   pos + len(shape_i) - len(full))
                g = g.unsqueeze(axis)
        g = broadcast_to(g, shape_i)
    return g


def einsum(equation, *operands):
    """Einstein summation, as torch.einsum (also accepts a list of operands)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    rt = _dtype.result_type(*operands)
    ops = [o if o._data.dtype == rt else o.to(_dtype._BY_NUMPY[rt]) for o in operands]
    ins, _ = _parse_einsum(equation, len(ops))
    for s, o in zip(ins, ops):
        n = len(s.replace("...", ""))
        if ("..." not in s and n != o._data.ndim) or ("..." in s and n > o._data.ndim):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does not "
                               f"match the number of dimensions ({o._data.ndim}) for operand "
                               f"{ins.index(s)}{' and no ellipsis was given' if '...' not in s else ''}")
    try:
        return Einsum.apply(*ops, equation=equation.replace(" ", ""))
    except ValueError as e:
        raise RuntimeError(f"einsum(): {e}") from None


# ------------------------------------------------------------------ norms
class Norm2(Node):
    """The Euclidean norm; its gradient x / ||x|| is taken as 0 where the norm is 0."""
    save_inputs = (0,)
    save_output = True

    def forward(self, x, dims, keepdim):
        self.in_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        return np.sqrt((x * x).sum(axis=dims, keepdims=keepdim))

    def backward(self, gy):
        x, = self.saved_tensors
        y = expand_reduced(self.saved_output, self.in_shape, self.dims, self.keepdim)
        g = expand_reduced(gy, self.in_shape, self.dims, self.keepdim)
        zero = _const(y._data == 0)
        safe = _where(zero, 1.0, y)
        return _where(zero, 0.0, g * x / safe), None, None


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm: the vector p-norm over ``dim`` (all elements if None): p = 2 / 'fro', 1,
    inf, -inf, 0 or any other number."""
    if p == "nuc":
        raise NotImplementedError("nuclear norm is not supported")
    ord_ = 2 if p in ("fro", None) else p
    return vector_norm(input, ord_, dim, keepdim, dtype=dtype)


# ------------------------------------------------------------------ shendu.linalg
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


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm (``shendu.linalg.norm``): the 2-norm of the flattened tensor by default; a matrix norm when
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
        need = self.needs_input_grad
        ga = None
        if need[0]:
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


# ------------------------------------------------------------------ factorizations (seed 001)
_qr_result = namedtuple("linalg_qr", ["Q", "R"])
_svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])
_slogdet_result = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
_eig_result = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])


def _tensor_of(arr):
    arr = np.asarray(arr)
    return _make(arr if arr.flags.c_contiguous else arr.copy(), None, 0)


def _phi(X):
    """The lower triangle of X with its diagonal halved (Murray 2016's Φ)."""
    from .shape import tril, diagonal, diag_embed
    return tril(X) - diag_embed(diagonal(X, 0, -2, -1)) * 0.5


class Cholesky(Node):
    """A = L Lᵀ for symmetric positive-definite A. Backward (Murray 2016):
    gA = ½ (S + Sᵀ), S = L⁻ᵀ Φ(Lᵀ gL) L⁻¹ — written with shendu ops, so differentiable."""
    save_output = True

    def forward(self, a):
        try:
            return np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise RuntimeError("linalg.cholesky: The factorization could not be completed "
                               "because the input is not positive-definite.") from None

    def backward(self, gL):
        L = self.saved_output
        Linv = inv(L)
        S = Linv.mT @ _phi(L.mT @ gL) @ Linv
        return (S + S.mT) * 0.5


def cholesky(A, *, upper=False):
    """The Cholesky factor of symmetric positive-definite A (..., n, n): lower L with
    A = L Lᵀ, or upper U = Lᵀ with A = Uᵀ U. Only the lower triangle of A is read."""
    _square(A, "cholesky")
    L = Cholesky.apply(A)
    return L.mT if upper else L


def _qr_grad_deep(Q, R, gQ, gR):
    """gA of A = QR for m ≥ n (reduced): Q (gR + tril(QᵀgQ − gQᵀQ + R gRᵀ − gR Rᵀ, −1) R⁻ᵀ)
    + (gQ − Q QᵀgQ) R⁻ᵀ (Walter & Lehmann 2018; TensorFlow's QrGrad)."""
    from .shape import tril
    Rinv_T = inv(R).mT
    qdq = Q.mT @ gQ
    rdr = R @ gR.mT
    low = tril(qdq - qdq.mT + rdr - rdr.mT, -1)
    return Q @ (gR + low @ Rinv_T) + (gQ - Q @ qdq) @ Rinv_T


class QR(Node):
    """A = QR by Householder reflections (LAPACK, as torch: the same signs)."""

    def forward(self, a, mode):
        self.mode = mode
        self.m, self.n = a.shape[-2:]
        q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        self.q, self.r = q, r
        if mode == "r":
            return np.zeros(a.shape[:-2] + (0,), dtype=a.dtype), r
        return q, r

    def backward(self, gQ, gR):
        m, n = self.m, self.n
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        if self.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        Q, R = _make(self.q, self, 0), _make(self.r, self, 1)
        zeros = lambda t: _tensor_of(np.zeros(t._data.shape, t._data.dtype))  # noqa: E731
        gQ = zeros(Q) if gQ is None else gQ
        gR = zeros(R) if gR is None else gR
        if m >= n:
            return _qr_grad_deep(Q, R, gQ, gR), None
        # wide A = [X | Y] with X = Q U square: X through the square case, Y = Q V directly
        from .shape import cat
        U, V, gU, gV = R[..., :, :m], R[..., :, m:], gR[..., :, :m], gR[..., :, m:]
        gX = _qr_grad_deep(Q, U, gQ + (Q @ V) @ gV.mT, gU)
        return cat([gX, Q @ gV], -1), None


def qr(A, mode="reduced"):
    """A (..., m, n) = Q R: Q (..., m, k) with orthonormal columns, R (..., k, n) upper
    triangular, k = min(m, n) ('reduced'); k = m ('complete'); 'r' returns an empty Q and R.
    Differentiable except for mode='r' and mode='complete' with m > n (as torch)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    if A._data.ndim < 2:
        raise RuntimeError(f"linalg.qr: The input tensor A must have at least 2 dimensions, got "
                           f"{A._data.ndim}")
    return _qr_result(*QR.apply(A, mode))


def _svd_grad(U, S, Vh, gU, gS, gVh, m, n):
    """gA of A = U diag(S) Vh (reduced, k = min(m, n); torch's svd_backward, real case):
    U [(skew(UᵀgU) S + S skew(VᵀgV)) / E + diag(gS)] Vh, E_jk = s_k² − s_j² (1 on the
    diagonal), plus the parts of gU, gV outside the spans of U, V when m > k or n > k."""
    from .shape import diag_embed
    k = S._data.shape[-1]
    V = Vh.mT
    inner = diag_embed(gS) if gS is not None else None
    if gU is not None or gVh is not None:
        s2 = S * S
        same = np.eye(k, dtype=bool)
        E = _where(_const(same), 1.0, s2.unsqueeze(-2) - s2.unsqueeze(-1))
        num = 0
        if gU is not None:
            UgU = U.mT @ gU
            num = num + (UgU - UgU.mT) * S.unsqueeze(-2)
        if gVh is not None:
            VgV = V.mT @ gVh.mT
            num = num + S.unsqueeze(-1) * (VgV - VgV.mT)
        term = num / E
        inner = term if inner is None else inner + term
    gA = U @ inner @ Vh
    if gU is not None and m > k:
        gA = gA + ((gU - U @ (U.mT @ gU)) / S.unsqueeze(-2)) @ Vh
    if gVh is not None and n > k:
        gV = gVh.mT
        gA = gA + U @ ((gV - V @ (V.mT @ gV)) / S.unsqueeze(-2)).mT
    return gA


class SVD(Node):
    """A = U diag(S) Vh by LAPACK's divide and conquer (gesdd, as torch on the CPU)."""

    def forward(self, a, full_matrices):
        self.full = full_matrices
        self.m, self.n = a.shape[-2:]
        u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
        self.u, self.s, self.vh = u, s, vh
        return u, s, vh

    def backward(self, gU, gS, gVh):
        m, n = self.m, self.n
        k = min(m, n)
        U, S, Vh = _make(self.u, self, 0), _make(self.s, self, 1), _make(self.vh, self, 2)
        if self.full and m != n:            # only the first k singular vectors may carry one
            if (gU is not None and gU._data[..., k:].any()) or \
                    (gVh is not None and gVh._data[..., k:, :].any()):
                raise RuntimeError("linalg.svd: The derivative of linalg.svd is not implemented "
                                   "when full_matrices=True and the matrix is not square; "
                                   "use full_matrices=False")
            U, Vh = U[..., :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        return _svd_grad(U, S, Vh, gU, gS, gVh, m, n), None


def svd(A, full_matrices=True):
    """A (..., m, n) = U diag(S) Vh: U (..., m, m) (or (m, k) without full_matrices), S (..., k)
    descending, Vh (..., n, n) (or (k, n)), k = min(m, n). The gradient (torch's formula)
    needs distinct singular values, and full_matrices=False unless A is square; gradients of
    U and Vh are defined only up to the signs of the singular vectors, as in torch."""
    if A._data.ndim < 2:
        raise RuntimeError(f"linalg.svd: The input tensor A must have at least 2 dimensions, "
                           f"got {A._data.ndim}")
    return _svd_result(*SVD.apply(A, full_matrices))


def _rank_cutoff(s, m, n, atol, rtol, dtype):
    """max(atol, rtol · s_max) with torch's defaults (rtol = max(m, n)·eps unless atol > 0)."""
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else max(m, n) * np.finfo(dtype).eps
    smax = s.max(axis=-1, initial=0.0)
    return np.maximum(atol or 0.0, rtol * smax)


class Pinv(Node):
    """The Moore–Penrose pseudo-inverse from the SVD (singular values at or below the cutoff
    count as zero). Backward: torch's pinv_backward (Golub & Pereyra 1973), exact where the
    rank does not change, written with shendu ops."""
    save_inputs = (0,)
    save_output = True

    def forward(self, a, atol, rtol, hermitian):
        m, n = a.shape[-2:]
        u, s, vh = np.linalg.svd(a, full_matrices=False, hermitian=hermitian)
        cut = _rank_cutoff(s, m, n, atol, rtol, a.dtype)[..., None]
        with np.errstate(divide="ignore"):
            s_inv = np.where(s > cut, 1.0 / np.where(s > cut, s, 1.0), 0.0).astype(a.dtype)
        return np.swapaxes(vh, -1, -2) @ (s_inv[..., None] * np.swapaxes(u, -1, -2))

    def backward(self, g):
        A, = self.saved_tensors
        P = self.saved_output
        m, n = A._data.shape[-2:]
        gT = g.mT
        if m <= n:
            K = gT @ P
            KPT = K @ P.mT
            return -(P @ K).mT + KPT - (A @ P) @ KPT + (P.mT @ P) @ (gT - K @ A), None, None, None
        K = P @ gT
        PTK = P.mT @ K
        return -(K @ P).mT + (gT - A @ K) @ P @ P.mT + PTK - PTK @ P @ A, None, None, None


def pinv(A, *, atol=None, rtol=None, hermitian=False):
    """The pseudo-inverse A⁺ (..., n, m) of A (..., m, n); singular values ≤ max(atol,
    rtol·σ_max) are treated as zero (rtol defaults to max(m, n)·eps, or 0 when atol > 0)."""
    if A._data.ndim < 2:
        raise RuntimeError(f"linalg.pinv(A): The input tensor A must have at least 2 "
                           f"dimensions, got {A._data.ndim}")
    if hermitian:
        _square(A, "pinv")
    return Pinv.apply(A, atol, rtol, hermitian)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False):
    """The number of singular values above max(atol, rtol·σ_max) (torch's defaults), int64;
    not differentiable."""
    if A._data.ndim < 2:
        raise RuntimeError(f"linalg.matrix_rank: The input tensor A must have at least 2 "
                           f"dimensions, got {A._data.ndim}")
    a = A._data
    s = np.linalg.svd(a, compute_uv=False, hermitian=hermitian)
    cut = _rank_cutoff(s, a.shape[-2], a.shape[-1], atol, rtol, a.dtype)
    return _tensor_of(np.asarray((s > cut[..., None]).sum(-1), dtype=np.int64))


class SlogDet(Node):
    """(sign, log|det A|) by LU (no overflow, unlike log(det)); d log|det A| / dA = A⁻ᵀ."""
    save_inputs = (0,)

    def forward(self, a):
        sign, logabs = np.linalg.slogdet(a)
        return sign.astype(a.dtype), logabs.astype(a.dtype)

    def backward(self, gsign, glog):
        a, = self.saved_tensors
        if glog is None:
            return None
        return glog.unsqueeze(-1).unsqueeze(-1) * inv(a).mT


def slogdet(A):
    """(sign, logabsdet) of square A (..., n, n); the gradient flows through logabsdet."""
    _square(A, "slogdet")
    return _slogdet_result(*SlogDet.apply(A))


class Eig(Node):
    """Eigen-decomposition of a general real matrix with a real spectrum (shendu has no
    complex dtype). Backward (torch's linalg_eig_backward, real case): gA = V⁻ᵀ (diag(gL) +
    (VᵀgV − VᵀV diag(VᵀgV)) / E) Vᵀ with E_ij = λ_j − λ_i (1 on the diagonal)."""

    def forward(self, a):
        w, v = np.linalg.eig(a)
        if np.iscomplexobj(w):
            if np.abs(w.imag).max(initial=0.0) > 0:
                raise RuntimeError(
                    "linalg.eig: the matrix has complex eigenvalues, and shendu has no complex "
                    "dtype; linalg.eig/eigvals return real tensors only for real spectra "
                    "(symmetric matrices: use linalg.eigh)")
            w, v = w.real, v.real
        w, v = w.astype(a.dtype), v.astype(a.dtype)
        self.w, self.v = w, v
        return w, v

    def backward(self, gw, gv):
        from .shape import diag_embed, diagonal
        W, V = _make(self.w, self, 0), _make(self.v, self, 1)
        inner = diag_embed(gw) if gw is not None else None
        if gv is not None:
            same = _const(np.broadcast_to(np.eye(self.w.shape[-1], dtype=bool), self.v.shape))
            E = _where(same, 1.0, W.unsqueeze(-2) - W.unsqueeze(-1))
            VgV = V.mT @ gv
            term = (VgV - (V.mT @ V) * diagonal(VgV, 0, -2, -1).unsqueeze(-2)) / E
            inner = term if inner is None else inner + term
        return solve(V.mT, inner @ V.mT)


def eig(A):
    """(eigenvalues (..., n), eigenvectors (..., n, n) as columns, unit norm) of a general
    square matrix whose eigenvalues are real; complex spectra raise (no complex dtype).
    Differentiable (distinct eigenvalues); eigenvector gradients are defined up to sign."""
    _square(A, "eig")
    return _eig_result(*Eig.apply(A))


def eigvals(A):
    """The eigenvalues of :func:`eig`."""
    return eig(A)[0]
