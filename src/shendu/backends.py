"""``torch.backends``' counterpart: process-wide switches of how shendu computes.

``shendu.backends.conv`` chooses the algorithm of the convolutions that more than one can
compute: the forward by im2col with one GEMM per chunk of images or one per image, and
stride-1, undilated, ungrouped 3×3 convolutions (forward, input gradient and weight
gradient) also by Winograd F(2×2, 3×3); see ``shendu/backend/winograd.py``::

    shendu.backends.conv.benchmark = True   # time each algorithm once per shape, keep the
                                            # fastest for the process (as
                                            # torch.backends.cudnn.benchmark); results then
                                            # depend on timings, so off by default
    shendu.backends.conv.winograd = False   # without benchmark: im2col everywhere (default
                                            # True: Winograd wherever it applies, measured
                                            # 0.70-0.76x im2col's time on ResNet-18's layers;
                                            # the weight gradient from 512 channel pairs)

Both algorithms agree to float32 round-off (Winograd's float32 error is stated in
tests/test_winograd.py); without benchmark mode (the default) every run chooses the same
way, so results are reproducible.
"""
from .backend import conv as _conv

__all__ = ["conv"]


def _switch(name, doc):
    """A boolean attribute kept in the backend's CONV_SETTINGS (read there on every call)."""
    def get(self):
        return _conv.CONV_SETTINGS[name]

    def set_(self, flag):
        _conv.CONV_SETTINGS[name] = bool(flag)
    return property(get, set_, doc=doc)


class _ConvSettings:
    """The convolution switches, read by the backend."""
    benchmark = _switch("benchmark", "time the algorithms once per shape, keep the fastest")
    winograd = _switch("winograd", "without benchmark: Winograd wherever it applies")

    def chosen(self):
        """What benchmark mode has chosen so far, per shape."""
        return _conv.chosen()

    def __repr__(self):
        return f"shendu.backends.conv(benchmark={self.benchmark}, winograd={self.winograd})"


conv = _ConvSettings()
