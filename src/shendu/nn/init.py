"""Weight initialisation (seed 002 §3.8, seed 000 §12-13), as torch.nn.init.

Why it matters: with n inputs per unit, a weight variance of 1/n keeps the variance of
the activations constant across layers (LeCun / 1/sqrt(n)); Xavier/Glorot uses
2/(fan_in + fan_out) for tanh-like units, Kaiming/He 2/fan_in for ReLU (half the units
are off). All-zero weights make every unit of a layer compute the same thing forever
(the symmetry is never broken), which is why only biases start at zero.

Every function fills the tensor in place, draws from shendu's RNG (or ``generator``)
and returns the tensor.
"""
import math
import warnings

import numpy as np

from .._tensor import Tensor
from ..autograd import grad_mode
from .._random import _gen

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_", "lecun_uniform_", "lecun_normal_",
           "small_random_", "_calculate_fan_in_and_fan_out", "_calculate_correct_fan"]


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (torch's table)."""
    linear = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d"]
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _fill(tensor, arr):
    with grad_mode.no_grad():
        np.copyto(tensor._data, np.asarray(arr), casting="unsafe")
        tensor._bump_version()
    return tensor


def _check(tensor, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(tensor).__name__}")


_CHUNK = 1 << 20


def _fill_affine(tensor, draw, scale, shift):
    """Fill with shift + scale * draw(out=float64 buffer), a chunk at a time: the same values
    as one draw of the whole tensor, without whole-tensor float64 temporaries (a VGG
    classifier's 100M weights would need gigabytes)."""
    flat = tensor._data.reshape(-1) if tensor._data.flags.c_contiguous else None
    if flat is None or tensor._data.size <= _CHUNK:
        buf = np.empty(tensor.shape)
        draw(out=buf)
        return _fill(tensor, shift + scale * buf)
    buf = np.empty(_CHUNK)
    with grad_mode.no_grad():
        for i in range(0, flat.size, _CHUNK):
            part = buf[:min(_CHUNK, flat.size - i)]
            draw(out=part)
            part *= scale
            part += shift
            flat[i:i + part.size] = part
        tensor._bump_version()
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    _check(tensor, "uniform_")
    return _fill_affine(tensor, _gen(generator).random, b - a, a)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    _check(tensor, "normal_")
    return _fill_affine(tensor, _gen(generator).standard_normal, std, mean)


def small_random_(tensor, std=0.01, generator=None):
    """The notes' "small random numbers": N(0, 0.01^2). Works for shallow nets; in deep
    ones the activations shrink layer after layer (seed 002 §3.8)."""
    return normal_(tensor, 0.0, std, generator)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) truncated to [a, b] (inverse-CDF method, as torch)."""
    _check(tensor, "trunc_normal_")
    from .._ops.misc import erfinv_np

    def norm_cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    lo, hi = norm_cdf((a - mean) / std), norm_cdf((b - mean) / std)
    u = _gen(generator).uniform(2 * lo - 1, 2 * hi - 1, tensor.shape)
    x = erfinv_np(u) * std * math.sqrt(2.0) + mean
    return _fill(tensor, np.clip(x, a, b))


def constant_(tensor, val):
    _check(tensor, "constant_")
    return _fill(tensor, np.full(tensor.shape, val))


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """The identity matrix (a 2-D tensor): keeps the input for Linear layers."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """The Dirac delta for a 3-, 4- or 5-D conv weight: each output channel copies one input
    channel (per group), so the convolution starts as the identity."""
    d = tensor.dim()
    if d not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    min_dim = min(out_per_group, sizes[1])
    arr = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for i in range(min_dim):
            arr[(g * out_per_group + i, i) + centre] = 1
    return _fill(tensor, arr)


def _calculate_fan_in_and_fan_out(tensor):
    dim = tensor.dim()
    if dim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al. 2015)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def lecun_uniform_(tensor, generator=None):
    """The notes' 1/sqrt(n) rule: U(-sqrt(3/fan_in), sqrt(3/fan_in)), variance 1/fan_in."""
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    b = math.sqrt(3.0 / fan_in)
    return uniform_(tensor, -b, b, generator)


def lecun_normal_(tensor, generator=None):
    """N(0, 1/fan_in): the 1/sqrt(n) calibration of seed 002 §3.8."""
    fan_in, _ = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix (Saxe et al.
    2013); higher-dimensional tensors are flattened after the first dimension."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


def sparse_(tensor, sparsity=None, std=0.01, generator=None, *, nonzeros=None):
    """A sparse 2-D weight matrix (out, in) with N(0, std²) entries, in one of two forms:

    * ``sparsity`` (torch's behaviour, Martens 2010 as torch reads it): in every *column*
      (the outgoing weights of one input) a fraction ``sparsity`` of the entries, rounded up,
      is zero.
    * ``nonzeros=k`` (the notes' sparse initialisation, seed 002 §3.8.5): every *row* (the
      incoming weights of one unit) has exactly k non-zero entries, the others zero — "each
      unit is connected at random to a fixed number of units below it, as few as ten". k is
      capped at the row length.

    Give exactly one of the two."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if (sparsity is None) == (nonzeros is None):
        raise ValueError("sparse_: give either sparsity (the zero fraction of each column, "
                         "torch's form) or nonzeros=k (k non-zero incoming weights per unit, "
                         "the notes' form), not both or neither")
    rows, cols = tensor.shape
    g = _gen(generator)
    arr = g.normal(0, std, (rows, cols))
    if nonzeros is not None:
        if int(nonzeros) != nonzeros or nonzeros < 0:
            raise ValueError(f"sparse_: nonzeros must be a non-negative integer, got {nonzeros}")
        keep = np.argsort(g.random((rows, cols)), axis=1) < min(int(nonzeros), cols)
        return _fill(tensor, np.where(keep, arr, 0.0))
    num_zeros = int(math.ceil(sparsity * rows))
    for c in range(cols):
        arr[g.permutation(rows)[:num_zeros], c] = 0
    return _fill(tensor, arr)


def _deprecated(fn):
    """torch's old un-suffixed names: the same function, with torch's FutureWarning."""
    old = fn.__name__[:-1]

    def alias(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{fn.__name__}`.",
                      FutureWarning, stacklevel=2)
        return fn(*args, **kwargs)
    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated alias of :func:`{fn.__name__}`."
    return alias


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
