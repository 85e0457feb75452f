"""Elementwise ops: arithmetic with broadcasting, unary maths, comparisons.

Each Node's backward is written with these same differentiable functions, so the
gradient of a gradient is available for all of them.
"""
import math

import numpy as np

from .. import _dtype
from .._tensor import Tensor, _make
from ..autograd.function import Node, _trace
from ._base import (promote, sum_to, shape_of, cast, as_tensor_arg, scalar_value,
                    broadcast_shapes)
from ..backend.elementwise import ufunc, masked

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
           "floor_divide", "remainder", "fmod", "pow", "neg", "negative", "abs", "absolute",
           "exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sqrt", "rsqrt", "square",
           "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh",
           "asinh", "acosh", "atanh",
           "sign", "sgn", "floor", "ceil", "round", "trunc", "frac",
           "clamp", "clip", "clamp_min", "clamp_max", "maximum", "minimum", "fmax", "fmin",
           "where", "lerp", "addcmul", "addcdiv", "erf", "erfc", "xlogy", "hypot",
           "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
           "not_equal", "equal", "allclose", "isclose", "isnan", "isinf", "isfinite",
           "logical_and", "logical_or", "logical_not", "logical_xor",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "nan_to_num", "signbit"]


def _bcast_error(a, b, op):
    return RuntimeError(f"{op}: the size of tensor a {tuple(np.shape(a))} does not broadcast with "
                        f"tensor b {tuple(np.shape(b))} "
                        f"({_mismatch(np.shape(a), np.shape(b))})")


def _mismatch(sa, sb):
    try:
        broadcast_shapes(sa, sb)
    except RuntimeError as e:
        return str(e).split(" (shapes")[0]
    return "incompatible shapes"


# ------------------------------------------------------------------ binary arithmetic
class Add(Node):
    def forward(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)
        try:
            return ufunc(np.add, a, b)
        except ValueError:
            raise _bcast_error(a, b, "add") from None

    def backward(self, gy):
        need = self.needs_input_grad
        return (sum_to(gy, self.sa) if need[0] else None,
                sum_to(gy, self.sb) if need[1] else None)


class Sub(Node):
    def forward(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)
        try:
            return ufunc(np.subtract, a, b)
        except ValueError:
            raise _bcast_error(a, b, "sub") from None

    def backward(self, gy):
        need = self.needs_input_grad
        return (sum_to(gy, self.sa) if need[0] else None,
                -sum_to(gy, self.sb) if need[1] else None)


class Mul(Node):
    save_inputs = (0, 1)

    def forward(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)
        try:
            return ufunc(np.multiply, a, b)
        except ValueError:
            raise _bcast_error(a, b, "mul") from None

    def backward(self, gy):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        return (sum_to(gy * b, self.sa) if need[0] else None,
                sum_to(gy * a, self.sb) if need[1] else None)


class Div(Node):
    save_inputs = (0, 1)

    def forward(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)
        try:
            return ufunc(np.true_divide, a, b)
        except ValueError:
            raise _bcast_error(a, b, "div") from None

    def backward(self, gy):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        ga = gy / b
        return (sum_to(ga, self.sa) if need[0] else None,
                sum_to(-ga * a / b, self.sb) if need[1] else None)


class PowScalar(Node):
    """x ** c for a constant exponent c."""
    save_inputs = (0,)

    def forward(self, x, c):
        self.c = c
        return ufunc(np.power, x, c)

    def backward(self, gy):
        x, = self.saved_tensors
        c = self.c
        if c == 0:
            return gy * 0.0, None
        if c == 1:
            return gy, None
        if c == 2:
            return gy * (x * 2.0), None
        return gy * (c * pow(x, c - 1)), None


class Pow(Node):
    """a ** b for tensors a and b (b may also be a constant base: c ** x)."""
    save_inputs = (0, 1)
    save_output = True

    def forward(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)
        try:
            return np.power(a, b)
        except ValueError:
            raise _bcast_error(a, b, "pow") from None

    def backward(self, gy):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        ad, bd = np.asarray(_raw(a)), np.asarray(_raw(b))
        ga = gb = None
        if need[0]:            # d/da a**b = b a**(b-1), and 0 where b == 0
            ga = sum_to(where(_const(bd == 0), 0.0, gy * b * pow(a, b - 1.0)), self.sa)
        if need[1]:            # d/db a**b = a**b log a, and 0 where a == 0, b >= 0
            if isinstance(a, Tensor):
                la = log(a)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    la = float(np.log(float(a)))
            gb = sum_to(where(_const((ad == 0) & (bd >= 0)), 0.0, gy * self.saved_output * la),
                        self.sb)
        return ga, gb


def _const(arr):
    return _make(np.asarray(arr), None, 0)


def add(input, other, *, alpha=1, out=None):
    """input + alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = promote(input, other, "add")
    return _out(Add.apply(a, b), out)


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = promote(input, other, "sub")
    return _out(Sub.apply(a, b), out)


def mul(input, other, *, out=None):
    a, b = promote(input, other, "mul")
    return _out(Mul.apply(a, b), out)


def div(input, other, *, rounding_mode=None, out=None):
    """True division (integers give the default float dtype); ``rounding_mode`` 'trunc' or
    'floor' rounds the quotient (not differentiable: the gradient is zero)."""
    a, b = promote(input, other, "div")
    if rounding_mode is None:
        a, b = _to_float(a), _to_float(b)
        return _out(Div.apply(a, b), out)
    ad, bd = _raw(a), _raw(b)
    if rounding_mode == "floor":
        r = np.floor_divide(ad, bd)
    elif rounding_mode == "trunc":
        q = np.true_divide(ad, bd)
        r = np.trunc(q).astype(np.result_type(ad, bd)) if np.asarray(ad).dtype.kind in "iub" else np.trunc(q)
    else:
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                         f"found '{rounding_mode}'")
    return _out(_make(np.asarray(r), None, 0), out)


def _raw(x):
    return x._data if isinstance(x, Tensor) else x


def _to_float(x):
    if isinstance(x, Tensor) and x._data.dtype.kind != "f":
        return cast(x, _dtype.default_float())
    if isinstance(x, (int, bool)) and not isinstance(x, float):
        return float(x)
    return x


subtract, multiply, divide, true_divide = sub, mul, div, div


def floor_divide(input, other, *, out=None):
    return div(input, other, rounding_mode="floor", out=out)


class Remainder(Node):
    save_inputs = (0, 1)

    def forward(self, a, b, fn):
        self.sa, self.sb, self.fn = shape_of(a), shape_of(b), fn
        return fn(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        gb = None
        if need[1]:
            q = np.floor(a._data / b._data) if self.fn is np.mod else np.trunc(_raw(a) / b._data)
            gb = sum_to(-gy * _const(q), self.sb)
        return (sum_to(gy, self.sa) if need[0] else None), gb, None


def remainder(input, other, *, out=None):
    """Python's modulus (the result has the sign of the divisor)."""
    a, b = promote(input, other, "remainder")
    return _out(Remainder.apply(a, b, np.mod), out)


def fmod(input, other, *, out=None):
    """C's fmod (the result has the sign of the dividend)."""
    a, b = promote(input, other, "fmod")
    return _out(Remainder.apply(a, b, np.fmod), out)


def pow(input, exponent, *, out=None):
    """input ** exponent; either may be a scalar."""
    if isinstance(input, Tensor) and not isinstance(exponent, Tensor):
        c = scalar_value(exponent)
        if isinstance(c, (int, float)) and not isinstance(c, bool):
            x = input
            if isinstance(c, float) and x._data.dtype.kind != "f":
                x = cast(x, _dtype.default_float())
            if isinstance(c, int) and c < 0 and x._data.dtype.kind in "iu":
                raise RuntimeError("Integers to negative integer powers are not allowed.")
            return _out(PowScalar.apply(x, c), out)
    a, b = promote(input, exponent, "pow")
    return _out(Pow.apply(a, b), out)


def _out(result, out):
    if out is None:
        return result
    out.copy_(result) if out.shape == result.shape else _resize_out(out, result)
    return out


def _resize_out(out, result):
    out._data = result._data.astype(out._data.dtype, copy=True)
    out._bump_version()


# ------------------------------------------------------------------ unary maths
def _float_input(x):
    if not isinstance(x, Tensor):
        x = as_tensor_arg(x)
    if x._data.dtype.kind != "f":
        x = cast(x, _dtype.default_float())
    return x


def unary_op(node_cls, name, float_only=True, doc=None):
    """The public function of a one-input Node: ``name(input, *, out=None)``, integer inputs
    promoted to the default float dtype (unless ``float_only=False``). The function is
    also attached as the Tensor method ``name`` (``_ops.__init__`` attaches every function
    marked ``tensor_method`` that a family exports in ``__all__``)."""
    def fn(input, *, out=None):
        x = _float_input(input) if float_only else input
        return _out(node_cls.apply(x), out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc or f"Elementwise {name} (integer inputs give the default float dtype)."
    fn.tensor_method = True
    return fn


class Neg(Node):
    def forward(self, x):
        return ufunc(np.negative, x)

    def backward(self, gy):
        return -gy


def neg(input):
    if input._data.dtype == np.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you "
                           "are trying to invert a mask, use the `~` or `logical_not()` operator "
                           "instead.")
    return Neg.apply(input)


negative = neg


class Exp(Node):
    save_output = True

    def forward(self, x):
        return ufunc(np.exp, x)

    def backward(self, gy):
        return gy * self.saved_output


class Exp2(Node):
    save_output = True

    def forward(self, x):
        return np.exp2(x)

    def backward(self, gy):
        return gy * self.saved_output * math.log(2.0)


class Log(Node):
    save_inputs = (0,)

    def forward(self, x):
        return ufunc(np.log, x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / x


class Log2(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.log2(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (x * math.log(2.0))


class Log10(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.log10(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (x * math.log(10.0))


class Log1p(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.log1p(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (x + 1.0)


class Expm1(Node):
    save_output = True

    def forward(self, x):
        return np.expm1(x)

    def backward(self, gy):
        return gy * (self.saved_output + 1.0)


class Sqrt(Node):
    save_output = True

    def forward(self, x):
        return ufunc(np.sqrt, x)

    def backward(self, gy):
        return gy / (self.saved_output * 2.0)


class Rsqrt(Node):
    save_output = True

    def forward(self, x):
        return 1.0 / np.sqrt(x)

    def backward(self, gy):
        y = self.saved_output
        return gy * (y * y * y) * -0.5


class Reciprocal(Node):
    save_output = True

    def forward(self, x):
        return 1.0 / x

    def backward(self, gy):
        y = self.saved_output
        return -gy * y * y


class Sin(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.sin(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * cos(x)


class Cos(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.cos(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return -gy * sin(x)


class Tan(Node):
    save_output = True

    def forward(self, x):
        return np.tan(x)

    def backward(self, gy):
        y = self.saved_output
        return gy * (y * y + 1.0)


class Asin(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.arcsin(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * rsqrt(1.0 - x * x)


class Acos(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.arccos(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return -gy * rsqrt(1.0 - x * x)


class Atan(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.arctan(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (x * x + 1.0)


class Atan2(Node):
    save_inputs = (0, 1)

    def forward(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)
        return np.arctan2(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        d = a * a + b * b
        r = gy / where(d == 0, math.inf, d)         # gradient 0 at (0, 0), as torch
        need = self.needs_input_grad
        return (sum_to(r * b, self.sa) if need[0] else None,
                sum_to(-r * a, self.sb) if need[1] else None)


class Sinh(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.sinh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * cosh(x)


class Cosh(Node):
    save_inputs = (0,)

    def forward(self, x):
        return np.cosh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * sinh(x)


class MaskGrad(Node):
    """gy * mask for a constant boolean mask (the backward of relu, clamp, ...): g where
    mask, else 0 (``backend.elementwise.masked``; its own backward is the same select)."""

    def forward(self, g, mask):
        self.mask = mask
        return masked(g, mask)

    def backward(self, gg):
        return mask_grad(gg, self.mask), None


def mask_grad(g, mask):
    return MaskGrad.apply(g, mask)


class Abs(Node):
    save_inputs = (0,)

    def forward(self, x):
        return ufunc(np.abs, x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * _const(np.sign(x._data))


class Asinh(Node):
    """asinh x = log(x + sqrt(x² + 1)); d/dx = 1 / sqrt(x² + 1)."""
    save_inputs = (0,)

    def forward(self, x):
        return np.arcsinh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * rsqrt(x * x + 1.0)


asinh = unary_op(Asinh, "asinh")


class Acosh(Node):
    """acosh x for x >= 1 (NaN below, as torch); d/dx = 1 / sqrt(x² − 1)."""
    save_inputs = (0,)

    def forward(self, x):
        return np.arccosh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * rsqrt(x * x - 1.0)


acosh = unary_op(Acosh, "acosh")


class Atanh(Node):
    """atanh x for |x| < 1; d/dx = 1 / (1 − x²)."""
    save_inputs = (0,)

    def forward(self, x):
        return np.arctanh(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy / (1.0 - x * x)


atanh = unary_op(Atanh, "atanh")


class Erf(Node):
    save_inputs = (0,)

    def forward(self, x):
        return erf_np(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * (exp(-(x * x)) * (2.0 / math.sqrt(math.pi)))


class Erfc(Node):
    save_inputs = (0,)

    def forward(self, x):
        return erfc_np(x)

    def backward(self, gy):
        x, = self.saved_tensors
        return gy * (exp(-(x * x)) * (-2.0 / math.sqrt(math.pi)))


exp = unary_op(Exp, "exp")
exp2 = unary_op(Exp2, "exp2")
log = unary_op(Log, "log")
log2 = unary_op(Log2, "log2")
log10 = unary_op(Log10, "log10")
log1p = unary_op(Log1p, "log1p")
expm1 = unary_op(Expm1, "expm1")
sqrt = unary_op(Sqrt, "sqrt")
rsqrt = unary_op(Rsqrt, "rsqrt")
reciprocal = unary_op(Reciprocal, "reciprocal")
sin = unary_op(Sin, "sin")
cos = unary_op(Cos, "cos")
tan = unary_op(Tan, "tan")
asin = unary_op(Asin, "asin")
acos = unary_op(Acos, "acos")
atan = unary_op(Atan, "atan")
sinh = unary_op(Sinh, "sinh")
cosh = unary_op(Cosh, "cosh")
erf = unary_op(Erf, "erf")
erfc = unary_op(Erfc, "erfc")
arcsin, arccos, arctan = asin, acos, atan


def atan2(input, other, *, out=None):
    a, b = promote(_float_input(input), other, "atan2")
    return _out(Atan2.apply(a, b), out)


arctan2 = atan2


def abs(input, *, out=None):
    if input._data.dtype.kind != "f":
        return _out(_make(np.abs(input._data), None, 0), out)
    return _out(Abs.apply(input), out)


absolute = abs


def square(input):
    return mul(input, input) if input._data.dtype.kind == "f" else _make(np.square(input._data), None, 0)


def _no_grad_unary(np_fn, name, keep_int=True):
    def fn(input, *, out=None):
        d = input._data
        if keep_int and d.dtype.kind in "iub":
            r = d.copy()
        else:
            r = np_fn(d)
        return _out(_zero_grad_result(input, r), out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name}; its gradient is zero almost everywhere."
    return fn


class ZeroGrad(Node):
    """A piecewise-constant function of x: forward gives ``value``, the gradient is zero."""

    def forward(self, x, value):
        return value

    def backward(self, gy):
        return gy * 0.0, None


def _zero_grad_result(x, value):
    if x._requires_grad and x._data.dtype.kind == "f":
        return ZeroGrad.apply(x, value)
    return _make(value, None, 0)


floor = _no_grad_unary(np.floor, "floor")
ceil = _no_grad_unary(np.ceil, "ceil")
trunc = _no_grad_unary(np.trunc, "trunc")
sign = _no_grad_unary(np.sign, "sign", keep_int=False)
sgn = sign


def round(input, *, decimals=0, out=None):
    d = input._data
    r = d.copy() if d.dtype.kind in "iub" else np.round(d, decimals)
    return _out(_zero_grad_result(input, r), out)


def frac(input):
    return sub(input, trunc(input))


def signbit(input):
    return _make(np.signbit(input._data), None, 0)


class Clamp(Node):
    def forward(self, x, lo, hi):
        y = x
        mask = None
        if lo is not None:
            y = np.maximum(y, lo)
            mask = x >= lo
        if hi is not None:
            y = np.minimum(y, hi)
            m = x <= hi
            mask = m if mask is None else mask & m
        if lo is not None and hi is not None:
            y = np.where(np.asarray(lo) > np.asarray(hi), hi, y)    # torch: min > max gives max
        self.mask = mask
        self.lo_mask = None if lo is None or not isinstance(lo, np.ndarray) else x < lo
        self.hi_mask = None if hi is None or not isinstance(hi, np.ndarray) else x > hi
        self.shapes = (shape_of(lo), shape_of(hi))
        return y.astype(x.dtype, copy=False)

    def backward(self, gy):
        need = self.needs_input_grad
        gx = mask_grad(gy, self.mask) if need[0] else None
        glo = sum_to(mask_grad(gy, self.lo_mask), self.shapes[0]) if need[1] else None
        ghi = sum_to(mask_grad(gy, self.hi_mask & ~self.lo_mask if self.lo_mask is not None
                               else self.hi_mask), self.shapes[1]) if need[2] else None
        return gx, glo, ghi


def clamp(input, min=None, max=None, *, out=None):
    """Clip to [min, max] (either may be None, a number or a tensor). The gradient passes
    where min <= x <= max, as in torch."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    lo = scalar_value(min)
    hi = scalar_value(max)
    x = input
    if isinstance(lo, float) or isinstance(hi, float):
        x = _float_input(x) if x._data.dtype.kind != "f" else x
    if isinstance(lo, Tensor):
        x, lo = promote(x, lo, "clamp")
    if isinstance(hi, Tensor):
        x, hi = promote(x, hi, "clamp")
    return _out(Clamp.apply(x, lo, hi), out)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


class Maximum(Node):
    """Elementwise max; where a == b the gradient is split evenly (as torch does)."""

    def forward(self, a, b, take_max):
        self.sa, self.sb = shape_of(a), shape_of(b)
        y = np.maximum(a, b) if take_max else np.minimum(a, b)
        wins = (a > b) if take_max else (a < b)
        ties = a == b
        self.wa = np.where(ties, 0.5, wins).astype(y.dtype)
        self.wb = np.where(ties, 0.5, ~wins & ~ties).astype(y.dtype)
        return y

    def backward(self, gy):
        need = self.needs_input_grad
        return (sum_to(gy * _const(self.wa), self.sa) if need[0] else None,
                sum_to(gy * _const(self.wb), self.sb) if need[1] else None, None)


def maximum(input, other, *, out=None):
    a, b = promote(input, other, "maximum")
    _check_tensors(a, b, "maximum")
    return _out(Maximum.apply(a, b, True), out)


def minimum(input, other, *, out=None):
    a, b = promote(input, other, "minimum")
    _check_tensors(a, b, "minimum")
    return _out(Maximum.apply(a, b, False), out)


def _check_tensors(a, b, name):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"{name}(): argument 'other' must be Tensor, not a number")


def fmax(input, other):
    """Like maximum, but a NaN loses to a number."""
    return _nan_aware(input, other, maximum, "fmax")


def fmin(input, other):
    """Like minimum, but a NaN loses to a number."""
    return _nan_aware(input, other, minimum, "fmin")


def _nan_aware(input, other, fn, name):
    a, b = promote(input, other, name)
    a2 = where(_const(np.isnan(_raw(a))), b, a)
    b2 = where(_const(np.isnan(_raw(b))), a2, b)
    return fn(a2, b2)


class Where(Node):
    def forward(self, cond, a, b):
        self.cond = cond
        self.sa, self.sb = shape_of(a), shape_of(b)
        return np.where(cond, a, b)

    def backward(self, gy):
        need = self.needs_input_grad
        c = self.cond
        return (None,
                sum_to(mask_grad(gy, np.broadcast_to(c, gy.shape)), self.sa) if need[1] else None,
                sum_to(mask_grad(gy, np.broadcast_to(~c, gy.shape)), self.sb) if need[2] else None)


def where(condition, input=None, other=None):
    """``where(cond, a, b)`` picks from a where cond else b; ``where(cond)`` is nonzero()."""
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    a, b = promote(input, other, "where")
    if not isinstance(a, Tensor):
        a = _make(np.asarray(a, dtype=b._data.dtype), None, 0)
    if not isinstance(b, Tensor):
        b = _make(np.asarray(b, dtype=a._data.dtype), None, 0)
    try:
        np.broadcast_shapes(cond.shape, a._data.shape, b._data.shape)
    except ValueError:
        raise RuntimeError(f"where(): condition {tuple(cond.shape)}, input {tuple(a.shape)} and "
                           f"other {tuple(b.shape)} do not broadcast together") from None
    return Where.apply(_make(cond, None, 0), a, b)


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return add(input, mul(weight, sub(end, input)))


def addcmul(input, tensor1, tensor2, *, value=1):
    return add(input, mul(mul(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    return add(input, mul(div(tensor1, tensor2), value))


def xlogy(input, other):
    """x * log(y), defined as 0 where x == 0."""
    x, y = promote(_float_input(input) if isinstance(input, Tensor) else float(input), other, "xlogy")
    xd = _raw(x)
    prod = mul(x, log(y))
    return where(_const(np.asarray(xd) == 0), _const(np.zeros((), dtype=prod._data.dtype)), prod)


def hypot(input, other):
    return sqrt(add(mul(input, input), mul(other, other)))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    r = np.nan_to_num(input._data, nan=nan, posinf=posinf, neginf=neginf)
    if input._requires_grad:
        return mask_grad_identity(input, r)
    return _make(r, None, 0)


class _ReplaceNonFinite(Node):
    def forward(self, x, value):
        self.mask = np.isfinite(x)
        return value

    def backward(self, gy):
        return mask_grad(gy, self.mask), None


def mask_grad_identity(x, value):
    return _ReplaceNonFinite.apply(x, value)


# ------------------------------------------------------------------ comparisons and logic
def _traced(name, inputs, result):
    """Report a non-differentiable op to shendu.onnx's tracer (nothing when not exporting)."""
    if _trace[0] is not None:
        _trace[0].raw_op(name, inputs, result)
    return result


def _compare(np_fn, name):
    def fn(input, other, *, out=None):
        a, b = promote(input, other, name)
        try:
            r = np_fn(_raw(a), _raw(b))
        except ValueError:
            raise _bcast_error(_raw(a), _raw(b), name) from None
        return _out(_traced(name, (a, b), _make(np.asarray(r), None, 0)), out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} (a bool tensor; no gradient)."
    return fn


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logical(np_fn, name):
    def fn(input, other):
        return _traced(name, (input, other), _make(np.asarray(np_fn(
            _raw(as_tensor_arg(input)), _raw(as_tensor_arg(other)))), None, 0))
    fn.__name__ = fn.__qualname__ = name
    return fn


logical_and = _logical(np.logical_and, "logical_and")
logical_or = _logical(np.logical_or, "logical_or")
logical_xor = _logical(np.logical_xor, "logical_xor")


def _bitwise(np_fn, name):
    def fn(input, other):
        a, b = promote(input, other, name)
        if any(isinstance(v, Tensor) and v._data.dtype.kind == "f" for v in (a, b)) or \
                isinstance(a, float) or isinstance(b, float):
            raise RuntimeError(f"\"{name}_cpu\" not implemented for 'Float'")
        return _make(np.asarray(np_fn(_raw(a), _raw(b))), None, 0)
    fn.__name__ = fn.__qualname__ = name
    return fn


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")


def logical_not(input):
    return _traced("logical_not", (input,), _make(np.logical_not(input._data), None, 0))


def bitwise_not(input):
    d = input._data
    if d.dtype.kind == "f":
        raise RuntimeError("\"bitwise_not_cpu\" not implemented for 'Float'")
    return _traced("bitwise_not", (input,), _make(np.invert(d), None, 0))


def isnan(input):
    return _make(np.isnan(input._data), None, 0)


def isinf(input):
    return _make(np.isinf(input._data), None, 0)


def isfinite(input):
    return _make(np.isfinite(input._data), None, 0)


def equal(input, other):
    """True if both tensors have the same shape and elements."""
    return input.shape == other.shape and bool(np.array_equal(input._data, other._data))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _make(np.isclose(_raw(input), _raw(as_tensor_arg(other)), rtol=rtol, atol=atol,
                            equal_nan=equal_nan), None, 0)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.allclose(_raw(input), _raw(as_tensor_arg(other)), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


# ------------------------------------------------------------------ erf without SciPy
def erf_np(x):
    """erf to full double precision (W. J. Cody's rational Chebyshev approximations,
    Math. Comp. 1969), on NumPy arrays."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype.kind == "f" else np.float64
    xd = x.astype(np.float64)
    ax = np.abs(xd)
    out = np.empty_like(xd)
    small = ax < 0.5
    out[small] = _erf_small(xd[small])
    big = ~small
    out[big] = np.sign(xd[big]) * (1.0 - _erfc_pos(ax[big]))
    return out.astype(dt)


def erfc_np(x):
    """erfc, accurate in the tails (no cancellation for large x)."""
    x = np.asarray(x)
    dt = x.dtype if x.dtype.kind == "f" else np.float64
    xd = x.astype(np.float64)
    out = np.empty_like(xd)
    small = np.abs(xd) < 0.5
    out[small] = 1.0 - _erf_small(xd[small])
    pos = ~small & (xd > 0)
    out[pos] = _erfc_pos(xd[pos])
    neg_ = ~small & (xd < 0)
    out[neg_] = 2.0 - _erfc_pos(-xd[neg_])
    return out.astype(dt)


_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)


def _erf_small(x):
    """erf(x) for |x| < 0.5."""
    z = x * x
    num = _A[4] * z
    den = z
    for i in range(3):
        num = (num + _A[i]) * z
        den = (den + _B[i]) * z
    return x * (num + _A[3]) / (den + _B[3])


def _erfc_pos(y):
    """erfc(y) for y >= 0.5."""
    out = np.empty_like(y)
    mid = y <= 4.0
    ym = y[mid]
    num = _C[8] * ym
    den = ym
    for i in range(7):
        num = (num + _C[i]) * ym
        den = (den + _D[i]) * ym
    r = (num + _C[7]) / (den + _D[7])
    out[mid] = _exp_neg_sq(ym) * r
    yb = y[~mid]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = 1.0 / (yb * yb)
        num = _P[5] * z
        den = z
        for i in range(4):
            num = (num + _P[i]) * z
            den = (den + _Q[i]) * z
        r = z * (num + _P[4]) / (den + _Q[4])
        r = (1.0 / math.sqrt(math.pi) - r) / yb
        out[~mid] = np.where(yb > 26.6, 0.0, _exp_neg_sq(yb) * r)
    return out


def _exp_neg_sq(y):
    """exp(-y*y) computed as Cody does, splitting y to avoid losing digits."""
    ysq = np.trunc(y * 16.0) / 16.0
    d = (y - ysq) * (y + ysq)
    return np.exp(-ysq * ysq) * np.exp(-d)
