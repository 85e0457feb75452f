"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` (torch's names, argument
order, weight layouts, initialisation and state_dict keys) and the locally connected
(unshared-weight) ``LocallyConnected2d`` of seed 002 §3.15 (which says: share weights
where the same local features occur everywhere, use local convolution where different
regions have different feature distributions, e.g. aligned faces).

The maths lives in ``shendu._ops.conv``; these classes hold the parameters, check the
input and pad it for the non-zero padding modes (as torch: ``F.pad`` then a convolution
without padding).
"""
import math

from .module import Module, LayerInputError
from ..parameter import Parameter
from .. import init
from ... import _creation
from ..._ops import conv as _conv
from ..._ops.shape import pad as _pad
from ..._ops import linalg as _linalg

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d", "LocallyConnected2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(v, n):
    if isinstance(v, (tuple, list)):
        v = tuple(v)
        return v * n if len(v) == 1 else v
    return (v,) * n


class _ConvNd(Module):
    """What Conv and ConvTranspose share: hyper-parameters, weight, bias, init, repr."""
    _nd = 2
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None):
        super().__init__()
        n = self._nd
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        kernel_size, stride = _ntuple(kernel_size, n), _ntuple(stride, n)
        dilation = _ntuple(dilation, n)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'same', 'valid'}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.output_padding = dilation, _ntuple(output_padding, n)
        self.groups, self.padding_mode = groups, padding_mode
        # F.pad's argument for the non-zero padding modes: last dim first, (before, after)
        rev = []
        for i in reversed(range(n)):
            if padding == "same":
                total = dilation[i] * (kernel_size[i] - 1)
                rev += [total // 2, total - total // 2]
            elif padding == "valid":
                rev += [0, 0]
            else:
                rev += [padding[i], padding[i]]
        self._reversed_padding_repeated_twice = rev if isinstance(padding, str) else tuple(rev)
        wshape = ((in_channels, out_channels // groups) if self.transposed
                  else (out_channels, in_channels // groups)) + kernel_size
        self.weight = Parameter(_creation.empty(*wshape, dtype=dtype))
        if bias:
            self.bias = Parameter(_creation.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """torch's init: kaiming_uniform_(a=sqrt(5)) for the weight (bound 1/sqrt(fan_in)),
        U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input, channels):
        n = self._nd
        if input.dim() not in (n + 1, n + 2):
            names = ("L",), ("H", "W"), ("D", "H", "W")
            sp = ", ".join(names[n - 1])
            raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected a "
                                  f"{n + 2}-D (N, C, {sp}) or {n + 1}-D (C, {sp}) tensor")
        c = input.shape[input.dim() - n - 1]
        if c != channels:
            raise LayerInputError(f"got input of shape {tuple(input.shape)} with {c} channels, "
                                  f"expected {channels} channels (in_channels={channels}) at "
                                  f"dim {input.dim() - n - 1}")

    def _describe(self):
        k = "×".join(map(str, self.kernel_size))
        return f"{type(self).__name__} {self.in_channels}→{self.out_channels}, kernel {k}"

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0,
                         groups, bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        f = (None, _conv.conv1d, _conv.conv2d, _conv.conv3d)[self._nd]
        if self.padding_mode != "zeros":
            input = _pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return f(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return f(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        self._check_input(input, self.in_channels)
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) inputs; weight (out, in/groups, k)."""
    _nd = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C, H, W) inputs; weight (out, in/groups, kH, kW). Output
    size per dim: (in + 2*padding - dilation*(kernel - 1) - 1) // stride + 1 (seed 002
    §3.2.3: W2 = (W1 - F + 2P)/S + 1)."""
    _nd = 2


class Conv3d(_Conv):
    """3-D convolution over (N, C, D, H, W) inputs; weight (out, in/groups, kD, kH, kW)."""
    _nd = 3


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__} does not accept a padding string "
                             f"(got {padding!r}); give the padding as int or tuple")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        """The output_padding that makes the output ``output_size`` (torch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._nd
        lead = input.dim() - n
        output_size = tuple(int(v) for v in output_size)
        if len(output_size) == lead + n:
            output_size = output_size[lead:]
        if len(output_size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {input.dim()}D input, output_size must "
                             f"have {n} or {lead + n} elements (got {len(output_size)})")
        lo = _conv.transposed_output_size(tuple(input.shape[lead:]), self.kernel_size,
                                          self.stride, self.dilation, self.padding, (0,) * n)
        hi = tuple(a + s - 1 for a, s in zip(lo, self.stride))
        if any(not a <= v <= b for v, a, b in zip(output_size, lo, hi)):
            raise ValueError(f"requested an output size of {list(output_size)}, but valid sizes "
                             f"range from {list(lo)} to {list(hi)} (for an input of "
                             f"{tuple(input.shape[lead:])})")
        return tuple(v - a for v, a in zip(output_size, lo))

    def forward(self, input, output_size=None):
        self._check_input(input, self.in_channels)
        op = self._output_padding(input, output_size)
        f = (None, _conv.conv_transpose1d, _conv.conv_transpose2d, _conv.conv_transpose3d)
        return f[self._nd](input, self.weight, self.bias, self.stride, self.padding, op,
                           self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution (the gradient of Conv1d w.r.t. its input);
    weight (in, out/groups, k)."""
    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution ("deconvolution", seed 003 上采样); weight
    (in, out/groups, kH, kW). Output size per dim: (in - 1)*stride - 2*padding +
    dilation*(kernel - 1) + output_padding + 1; ``forward(input, output_size)`` picks the
    output_padding that gives ``output_size``."""
    _nd = 2


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution; weight (in, out/groups, kD, kH, kW)."""
    _nd = 3


class LocallyConnected2d(Module):
    """A locally connected layer (seed 002 §3.15, local-conv): a 2-D convolution whose
    filters are not shared, so every output position (i, j) has its own filter bank:

        y[n, o, i, j] = bias[o, i, j]
                        + sum_{c, a, b} weight[i, j, o, c, a, b] * xpad[n, c, i*s + a*d, j*s + b*d]

    weight (out_h, out_w, out_channels, in_channels, kH, kW), bias (out_channels, out_h,
    out_w). The input's spatial size is fixed at construction (``input_size``). Useful when
    different regions of the input have different feature statistics (aligned faces);
    parameters grow with the number of output positions. Initialised like Conv2d: U(-b, b)
    with b = 1/sqrt(in_channels * kH * kW) for weight and bias.
    """

    def __init__(self, in_channels, out_channels, input_size, kernel_size, stride=1,
                 padding=0, dilation=1, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.input_size = _ntuple(input_size, 2)
        self.kernel_size, self.stride = _ntuple(kernel_size, 2), _ntuple(stride, 2)
        self.padding, self.dilation = _ntuple(padding, 2), _ntuple(dilation, 2)
        self.output_size = tuple(
            (n + 2 * p - d * (k - 1) - 1) // s + 1
            for n, k, s, p, d in zip(self.input_size, self.kernel_size, self.stride,
                                     self.padding, self.dilation))
        if any(v < 1 for v in self.output_size):
            raise ValueError(f"LocallyConnected2d: input_size {self.input_size} with kernel "
                             f"{self.kernel_size}, padding {self.padding}, dilation "
                             f"{self.dilation}, stride {self.stride} leaves no output position "
                             f"(output size {self.output_size})")
        oh, ow = self.output_size
        self.weight = Parameter(_creation.empty(oh, ow, out_channels, in_channels,
                                                *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(_creation.empty(out_channels, oh, ow, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        if input.dim() not in (3, 4) or tuple(input.shape[-3:]) != (self.in_channels,) + \
                self.input_size:
            raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected "
                                  f"(N, {self.in_channels}, {self.input_size[0]}, "
                                  f"{self.input_size[1]}) (in_channels={self.in_channels}, "
                                  f"input_size={self.input_size})")
        unbatched = input.dim() == 3
        x = input.unsqueeze(0) if unbatched else input
        cols = _conv.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        oh, ow = self.output_size
        w = self.weight.reshape(oh * ow, self.out_channels, -1)       # (P, O, C*K)
        y = _linalg.matmul(cols.permute(2, 0, 1), w.transpose(1, 2))  # (P, N, O)
        y = y.permute(1, 2, 0).reshape(x.shape[0], self.out_channels, oh, ow)
        if self.bias is not None:
            y = y + self.bias
        return y.squeeze(0) if unbatched else y

    def _describe(self):
        return f"LocallyConnected2d {self.in_channels}→{self.out_channels}"

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, input_size={self.input_size}, "
             f"kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.bias is None:
            s += ", bias=False"
        return s
