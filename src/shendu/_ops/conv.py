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

The faces themselves (im2col, col2im, the batch chunks, the special routes for 1x1,
depthwise and stride-1 geometries) are array code in ``shendu/backend/conv.py``; this
module holds the node, its gradient, and the argument checks.
"""
import numpy as np

from .._tensor import Tensor
from ..autograd.function import Node
from ..backend import conv as _backend
from ..backend.conv import Geometry
from . import shape as _shape

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold"]



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
                out, self.cols = _backend.face_y(a, b, geom, keep=True)
            else:
                out = _backend.face_y(a, b, geom)
        elif face == "x":
            out = _backend.face_x(a, b, geom)
        else:
            out = _backend.face_w(a, b, geom, wshape, cols)
        if bias is not None:
            out += bias.reshape((-1,) + (1,) * geom.nd)
        return out

    def backward(self, g):
        a, b = self.saved_tensors
        face, need = self.face, self.needs_input_grad
        known = dict(zip(_FACES[face], (a, b)))
        known[face] = g
        wshape = self.wshape if face == "w" else tuple(known["w"].shape)
        grads = [None, None, None]
        for i, role in enumerate(_FACES[face]):
            if need[i]:
                u, v = (known[r] for r in _FACES[role])
                grads[i] = Convolution.apply(u, v, None, face=role, geom=self.geom,
                                             wshape=wshape,
                                             cols=self.cols if role == "w" else None)
        if need[2]:
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
        return _backend.unfold(x, geom)

    def backward(self, g):
        return Fold.apply(g, geom=self.geom)


class Fold(Node):
    """col2im: (N, C*prod(K), prod(P)) -> (N, C, *S), overlapping windows summed."""

    def forward(self, cols, geom):
        self.geom = geom
        return _backend.fold(cols, geom)

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
