"""The differentiable primitives, one family per module, and the Tensor methods and
operators that call them."""
import numpy as np

from .._tensor import Tensor, _make
from .. import _dtype
from . import elementwise, reduction, shape, indexing, linalg, inplace, misc, activation
from ._base import as_tensor_arg, promote
from .inplace import make_inplace, _fast_arith, inplace as _run_inplace, needs_graph, write

_METHODS = {
    elementwise: """add sub subtract mul multiply div divide true_divide floor_divide remainder fmod
        pow neg negative abs absolute square atan2 sign sgn floor ceil round trunc frac clamp
        clip clamp_min clamp_max maximum minimum
        fmax fmin lerp addcmul addcdiv erf erfc xlogy hypot eq ne lt le gt ge greater
        greater_equal less less_equal not_equal equal allclose isclose isnan isinf isfinite
        logical_and logical_or logical_not logical_xor bitwise_and bitwise_or bitwise_xor
        bitwise_not nan_to_num signbit""",
    reduction: """sum mean nansum nanmean var std prod max min amax amin aminmax argmax argmin
        logsumexp cumsum cummax cummin all any count_nonzero sort argsort msort topk
        kthvalue median nanmedian mode unique bincount histc""",
    shape: """reshape view flatten unflatten squeeze unsqueeze transpose swapaxes swapdims permute
        t movedim moveaxis expand expand_as repeat tile split chunk unbind tensor_split flip
        fliplr flipud roll narrow select contiguous clone diagonal diag diag_embed tril triu
        view_as reshape_as ravel rot90 repeat_interleave broadcast_to""",
    indexing: """gather scatter scatter_add index_select index_add index_copy index_fill
        masked_fill masked_select masked_scatter take take_along_dim nonzero argwhere index_put
        scatter_reduce""",
    activation: "softmax log_softmax relu",
    linalg: """matmul mm bmm mv dot vdot inner outer ger addmm addmv baddbmm addbmm kron trace
        cross norm""",
    misc: """cumprod logcumsumexp diff logaddexp logaddexp2 logit deg2rad rad2deg float_power
        erfinv lgamma digamma dist sinc heaviside copysign hsplit vsplit dsplit sum_to_size""",
}


def _attach():
    for mod, names in _METHODS.items():
        for name in names.split():
            setattr(Tensor, name, getattr(mod, name))
        for name in mod.__all__:                # functions made by elementwise.unary_op:
            fn = getattr(mod, name)             # the method and its in-place twin
            if getattr(fn, "tensor_method", False):
                setattr(Tensor, name, fn)
                setattr(Tensor, name + "_", make_inplace(fn, name + "_"))
    Tensor.unfold = shape.unfold_dim
    Tensor.__getitem__ = indexing.getitem
    Tensor.__setitem__ = indexing.setitem
    Tensor.where = lambda self, condition, y: elementwise.where(condition, self, y)

    E = elementwise
    Tensor.__add__ = lambda a, b: E.add(a, b)
    Tensor.__radd__ = lambda a, b: E.add(a, b)
    Tensor.__sub__ = lambda a, b: E.sub(a, b)
    Tensor.__rsub__ = lambda a, b: E.sub(b, a)
    Tensor.__mul__ = lambda a, b: E.mul(a, b)
    Tensor.__rmul__ = lambda a, b: E.mul(a, b)
    Tensor.__truediv__ = lambda a, b: E.div(a, b)
    Tensor.__rtruediv__ = lambda a, b: E.div(b, a)
    Tensor.__floordiv__ = lambda a, b: E.floor_divide(a, b)
    Tensor.__rfloordiv__ = lambda a, b: E.floor_divide(b, a)
    Tensor.__mod__ = lambda a, b: E.remainder(a, b)
    Tensor.__rmod__ = lambda a, b: E.remainder(b, a)
    Tensor.__pow__ = lambda a, b: E.pow(a, b)
    Tensor.__rpow__ = lambda a, b: E.pow(b, a)
    Tensor.__matmul__ = lambda a, b: linalg.matmul(a, b)
    Tensor.__rmatmul__ = lambda a, b: linalg.matmul(as_tensor_arg(b), a)
    Tensor.__neg__ = E.neg
    Tensor.__pos__ = lambda a: a
    Tensor.__abs__ = E.abs
    Tensor.__invert__ = lambda a: E.logical_not(a) if a._data.dtype == np.bool_ else E.bitwise_not(a)
    Tensor.__and__ = Tensor.__rand__ = lambda a, b: E.bitwise_and(a, b)
    Tensor.__or__ = Tensor.__ror__ = lambda a, b: E.bitwise_or(a, b)
    Tensor.__xor__ = Tensor.__rxor__ = lambda a, b: E.bitwise_xor(a, b)
    Tensor.__lt__ = lambda a, b: E.lt(a, b)
    Tensor.__le__ = lambda a, b: E.le(a, b)
    Tensor.__gt__ = lambda a, b: E.gt(a, b)
    Tensor.__ge__ = lambda a, b: E.ge(a, b)
    Tensor.__eq__ = lambda a, b: E.eq(a, b) if _comparable(b) else False
    Tensor.__ne__ = lambda a, b: E.ne(a, b) if _comparable(b) else True

    # in-place
    Tensor.add_ = _fast_arith(np.add, E.add, "add_")
    Tensor.sub_ = _fast_arith(np.subtract, E.sub, "sub_")
    Tensor.mul_ = _fast_arith(np.multiply, E.mul, "mul_")
    Tensor.div_ = _fast_arith(np.true_divide, E.div, "div_")
    Tensor.subtract_, Tensor.multiply_, Tensor.divide_ = Tensor.sub_, Tensor.mul_, Tensor.div_
    Tensor.true_divide_ = Tensor.div_
    Tensor.__iadd__ = lambda a, b: a.add_(b)
    Tensor.__isub__ = lambda a, b: a.sub_(b)
    Tensor.__imul__ = lambda a, b: a.mul_(b)
    Tensor.__itruediv__ = lambda a, b: a.div_(b)
    Tensor.__ipow__ = lambda a, b: a.pow_(b)
    Tensor.__imatmul__ = lambda a, b: _run_inplace(a, linalg.matmul, b)
    for name in ("pow neg abs relu clamp clamp_min clamp_max clip floor ceil round trunc frac "
                 "sign square lerp addcmul addcdiv floor_divide remainder fmod atan2 "
                 "maximum minimum nan_to_num").split():
        setattr(Tensor, name + "_", make_inplace(getattr(Tensor, name), name + "_"))
    for name in ("masked_fill index_fill index_add index_copy scatter scatter_add "
                 "masked_scatter index_put").split():
        setattr(Tensor, name + "_", make_inplace(getattr(indexing, name), name + "_"))
    Tensor.__ifloordiv__ = lambda a, b: a.floor_divide_(b)
    Tensor.__imod__ = lambda a, b: a.remainder_(b)
    Tensor.tril_ = make_inplace(shape.tril, "tril_")
    Tensor.triu_ = make_inplace(shape.triu, "triu_")
    Tensor.fill_ = fill_
    Tensor.zero_ = zero_
    Tensor.copy_ = copy_
    Tensor.fill_diagonal_ = fill_diagonal_
    Tensor.uniform_ = uniform_
    Tensor.normal_ = normal_
    Tensor.bernoulli_ = bernoulli_
    Tensor.random_ = random_
    Tensor.exponential_ = exponential_
    Tensor.log_normal_ = log_normal_
    Tensor.geometric_ = geometric_
    Tensor.cauchy_ = cauchy_
    Tensor.bernoulli = lambda self, p=None, *, generator=None: _bernoulli(self, p, generator)
    for name in "cumprod logit erfinv lgamma digamma".split():
        setattr(Tensor, name + "_", make_inplace(getattr(misc, name), name + "_"))
    Tensor.nbytes = property(lambda self: self._data.nbytes)
    Tensor.itemsize = property(lambda self: self._data.itemsize)
    Tensor.get_device = lambda self: -1
    Tensor.storage_offset = _storage_offset
    Tensor.squeeze_ = lambda self, dim=None: _reshape_inplace(self, shape.squeeze, dim)
    Tensor.unsqueeze_ = lambda self, dim: _reshape_inplace(self, shape.unsqueeze, dim)
    Tensor.t_ = lambda self: _reshape_inplace(self, shape.t)
    Tensor.transpose_ = lambda self, d0, d1: _reshape_inplace(self, shape.transpose, d0, d1)
    Tensor.resize_ = _resize_
    Tensor.apply_ = _apply_
    Tensor.bfloat16 = _no_bfloat16


def _storage_offset(self):
    base = self._base
    if base is None:
        return 0
    a, b = self._data.__array_interface__["data"][0], base._data.__array_interface__["data"][0]
    return (a - b) // self._data.itemsize


def _reshape_inplace(self, fn, *args):
    """squeeze_/unsqueeze_/t_/transpose_: self becomes the reshaped view of its data."""
    if self.grad_fn is None and self._requires_grad and needs_graph(self):
        from .inplace import check_inplace_allowed
        check_inplace_allowed(self)
    r = fn(self, *args)
    self._data = r._data
    if r._requires_grad and r.grad_fn is not None:
        self.grad_fn, self._output_nr = r.grad_fn, r._output_nr
    return self


def _resize_(self, *sizes):
    """Resize in place (no autograd): existing values are kept in row-major order."""
    from ._base import size_args
    if needs_graph(self):
        raise RuntimeError("cannot resize variables that require grad")
    new = size_args(sizes)
    flat = self._data.reshape(-1)
    n = int(np.prod(new)) if new else 1
    out = np.zeros(n, dtype=self._data.dtype)
    out[:min(n, flat.size)] = flat[:n]
    self._data = out.reshape(new)
    self._bump_version()
    return self


def _apply_(self, fn):
    """Apply a Python function to every element in place (slow; no autograd, as in torch)."""
    if needs_graph(self):
        raise RuntimeError("apply_ is only implemented on tensors that don't require grad")
    flat = self._data.reshape(-1)
    vals = np.array([fn(v) for v in flat.tolist()], dtype=self._data.dtype)
    write(self, vals.reshape(self._data.shape))
    return self


def _no_bfloat16(self, *args, **kwargs):
    raise TypeError("shendu has no bfloat16 (NumPy lacks it): use .float() or .half()")


def _comparable(b):
    return isinstance(b, (Tensor, int, float, bool, np.ndarray, np.generic))


def _constant_fill(self, arr):
    """Overwrite self with a constant array (the old value gets zero gradient)."""
    if needs_graph(self):
        from .inplace import commit_inplace
        return commit_inplace(self, _make(arr, None, 0))
    write(self, arr)
    return self


def fill_(self, value):
    """Fill with ``value`` (a number or a 0-d tensor)."""
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        if needs_graph(self, value):
            return _run_inplace(self, lambda s, v: shape.expand(v.to(s.dtype), s.shape).clone(), value)
        value = value.item()
    if not needs_graph(self) and self._data.flags.writeable:
        self._data.fill(value)
        self._bump_version()
        return self
    return _constant_fill(self, np.full(self._data.shape, value, dtype=self._data.dtype))


def zero_(self):
    return fill_(self, 0)


def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast to self's shape, cast to self's dtype) into self."""
    if not isinstance(src, Tensor):
        src = as_tensor_arg(src)
    if needs_graph(self, src):
        def fn(s, v):
            v = shape.expand(v, s.shape) if v.shape != s.shape else v
            return v.to(s.dtype) if v._data.dtype.kind == "f" and s._data.dtype.kind == "f" \
                else _make(v._data.astype(s._data.dtype), None, 0)
        return _run_inplace(self, fn, src)
    d = self._data
    try:
        np.broadcast_to(src._data, d.shape)
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({d.shape[-1] if d.ndim else 1}) must match the "
                           f"size of tensor b ({src._data.shape[-1] if src._data.ndim else 1}) at "
                           f"non-singleton dimension (copy_ of {tuple(src.shape)} into "
                           f"{tuple(self.shape)})") from None
    if not d.flags.writeable:
        write(self, d)
    np.copyto(d, src._data, casting="unsafe")
    self._bump_version()
    return self


def fill_diagonal_(self, fill_value, wrap=False):
    arr = self._data.copy()
    np.fill_diagonal(arr, fill_value, wrap=wrap)
    if needs_graph(self):
        mask = np.zeros(arr.shape, dtype=bool)
        np.fill_diagonal(mask, True, wrap=wrap)
        return _run_inplace(self, lambda s: elementwise.where(_make(mask, None, 0),
                                                              _make(arr, None, 0), s))
    write(self, arr)
    return self


def _rng(generator):
    from .._random import _gen
    return _gen(generator)


def _random_fill(self, draw):
    arr = np.asarray(draw).astype(self._data.dtype, copy=False)
    return _constant_fill(self, arr)


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    return _random_fill(self, _rng(generator).uniform(a, b, self._data.shape))


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    g = _rng(generator)
    if self._data.dtype in (np.float32, np.float64):
        z = g.standard_normal(self._data.shape, dtype=self._data.dtype)
    else:
        z = g.standard_normal(self._data.shape)
    return _random_fill(self, mean + std * z if (mean, std) != (0.0, 1.0) else z)


def bernoulli_(self, p=0.5, *, generator=None):
    probs = p._data if isinstance(p, Tensor) else p
    return _random_fill(self, _rng(generator).random(self._data.shape) < probs)


def random_(self, from_=0, to=None, *, generator=None):
    if to is None:
        if self._data.dtype.kind == "f":
            to = 2 ** np.finfo(self._data.dtype).nmant + 1
        elif self._data.dtype == np.bool_:
            to = 2
        else:
            to = np.iinfo(self._data.dtype).max
    return _random_fill(self, _rng(generator).integers(from_, to, self._data.shape))


def exponential_(self, lambd=1.0, *, generator=None):
    return _random_fill(self, _rng(generator).exponential(1.0 / lambd, self._data.shape))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    return _random_fill(self, _rng(generator).lognormal(mean, std, self._data.shape))


def geometric_(self, p, *, generator=None):
    return _random_fill(self, _rng(generator).geometric(p, self._data.shape))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    return _random_fill(self, median + sigma * _rng(generator).standard_cauchy(self._data.shape))


def _bernoulli(self, p, generator):
    from .._creation import bernoulli
    return bernoulli(self, p, generator=generator)


_attach()
