"""Pooling layers (torch.nn's): max, average, adaptive, LP and max-unpooling, each for 1, 2
and 3 spatial dimensions; the maths is in ``shendu._ops.pooling``."""
from .module import Module
from ..._ops import pooling as P

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxUnpool2d",
           "MaxUnpool3d", "LPPool1d", "LPPool2d", "LPPool3d"]


def _kernel_repr(m):
    return f"kernel_size={m.kernel_size}, stride={m.stride}, padding={m.padding}"


class _MaxPoolNd(Module):
    """Max over kernel_size windows, stride apart (default: kernel_size), on an input padded
    with -inf; return_indices also gives the flat argmax positions (for MaxUnpool)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input):
        return self._fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                        ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"{_kernel_repr(self)}, dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    _fn = staticmethod(P.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    _fn = staticmethod(P.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    _fn = staticmethod(P.max_pool3d)


class _AvgPoolNd(Module):
    """Window means; count_include_pad=False divides by the elements inside the input only,
    divisor_override (2d/3d) by a fixed number."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return self._fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                        self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return _kernel_repr(self)


class AvgPool1d(_AvgPoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        def one(v, name):                               # torch stores 1-tuples here
            return P.ntuple(v, 1, name, "AvgPool1d")
        super().__init__(one(kernel_size, "kernel_size"),
                         one(stride if stride is not None else kernel_size, "stride"),
                         one(padding, "padding"), ceil_mode, count_include_pad)

    def forward(self, input):
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    _fn = staticmethod(P.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    _fn = staticmethod(P.avg_pool3d)


class _AdaptiveAvgPoolNd(Module):
    """Means over output_size windows tiling the input; output_size 1 is global average
    pooling (NiN); an entry None keeps that input size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return self._fn(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    _fn = staticmethod(P.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    _fn = staticmethod(P.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    _fn = staticmethod(P.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(_AdaptiveAvgPoolNd):
    """Maxima over output_size windows tiling the input (with flat indices on request)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return self._fn(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    _fn = staticmethod(P.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    _fn = staticmethod(P.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    _fn = staticmethod(P.adaptive_max_pool3d)


class _MaxUnpoolNd(Module):
    """Seed 003's unpooling: values written back at the max positions recorded by MaxPool
    (``indices``), zeros elsewhere; ``output_size`` resolves the ambiguous sizes."""
    _n = 0

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        n = self._n
        self.kernel_size = P.ntuple(kernel_size, n, "kernel_size", type(self).__name__)
        self.stride = P.ntuple(stride if stride is not None else kernel_size, n, "stride",
                               type(self).__name__)
        self.padding = P.ntuple(padding, n, "padding", type(self).__name__)

    def forward(self, input, indices, output_size=None):
        return self._fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return _kernel_repr(self)


class MaxUnpool1d(_MaxUnpoolNd):
    _n, _fn = 1, staticmethod(P.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    _n, _fn = 2, staticmethod(P.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    _n, _fn = 3, staticmethod(P.max_unpool3d)


class _LPPoolNd(Module):
    """Power-average pooling (sum over the window of x^p)^(1/p)."""

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input):
        return self._fn(input, float(self.norm_type), self.kernel_size, self.stride,
                        self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    _fn = staticmethod(P.lp_pool1d)


class LPPool2d(_LPPoolNd):
    _fn = staticmethod(P.lp_pool2d)


class LPPool3d(_LPPoolNd):
    _fn = staticmethod(P.lp_pool3d)
