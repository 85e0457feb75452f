"""Matrix products (matmul with torch's 1-D / batched broadcasting rules, mm, bmm, mv,
dot, outer, addmm, tensordot, einsum) and a few linear-algebra routines."""
import numpy as np

from .. import _dtype
from .._tensor import Tensor, _make
from ..autograd.function import Node
from ._base import sum_to, promote, broadcast_to

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm",
           "addmv", "baddbmm", "addbmm", "tensordot", "einsum", "kron", "trace", "cross"]


class Matmul(Node):
    save_inputs = (0, 1)

    def forward(self, a, b):
        try:
            return np.matmul(a, b)
        except ValueError:
            raise _matmul_error(a.shape, b.shape) from None

    def backward(self, gy):
        a, b = self.saved_tensors
        nf = self.next_functions
        ga = gb = None
        if a.ndim == 1 and b.ndim == 1:
            return (gy * b if nf[0][0] is not None else None,
                    gy * a if nf[1][0] is not None else None)
        A = a.unsqueeze(0) if a.ndim == 1 else a
        B = b.unsqueeze(-1) if b.ndim == 1 else b
        G = gy
        if a.ndim == 1:
            G = G.unsqueeze(-2)
        if b.ndim == 1:
            G = G.unsqueeze(-1)
        if nf[0][0] is not None:
            ga = sum_to(matmul(G, B.mT), A.shape)
            if a.ndim == 1:
                ga = ga.squeeze(0)
        if nf[1][0] is not None:
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
            if self.next_functions[i][0] is None:
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
