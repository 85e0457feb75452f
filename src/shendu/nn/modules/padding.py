"""Padding layers (torch's names): constant/zero, reflection, replication and circular
padding of the last 1, 2 or 3 dimensions. ``padding`` is an int (every side) or a tuple
(left, right[, top, bottom[, front, back]]), last dimension first, as ``F.pad`` takes it."""
from .module import Module, LayerInputError
from ..._ops.shape import pad as _pad

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    _nd = 2
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        n = 2 * self._nd
        padding = (padding,) * n if isinstance(padding, int) else tuple(padding)
        if len(padding) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of {n} "
                             f"ints, got {padding}")
        self.padding = padding

    def forward(self, input):
        n = self._nd
        if self.mode != "constant" and input.dim() not in (n + 1, n + 2):
            raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected a "
                                  f"{n + 1}-D (unbatched) or {n + 2}-D (batched) tensor")
        return _pad(input, self.padding, self.mode, getattr(self, "value", None))

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


def _family(name, base, mode, doc):
    """The 1d/2d/3d classes of one padding family (they differ only in ``_nd``)."""
    dims = ("last dimension", "last two dimensions", "last three dimensions")
    return tuple(type(f"{name}{n}d", (base,), {"_nd": n, "mode": mode, "__module__": __name__,
                                               "__doc__": doc.format(dims=dims[n - 1])})
                 for n in (1, 2, 3))


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


ConstantPad1d, ConstantPad2d, ConstantPad3d = _family(
    "ConstantPad", _ConstantPadNd, "constant", "Pad the {dims} with a constant ``value``.")
ZeroPad1d, ZeroPad2d, ZeroPad3d = _family("ZeroPad", _ZeroPadNd, "constant",
                                          "Pad the {dims} with zeros.")
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = _family(
    "ReflectionPad", _PadNd, "reflect",
    "Pad the {dims} by mirroring the input at its border (the border itself is not repeated).")
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = _family(
    "ReplicationPad", _PadNd, "replicate", "Pad the {dims} by repeating the border values.")
CircularPad1d, CircularPad2d, CircularPad3d = _family(
    "CircularPad", _PadNd, "circular", "Pad the {dims} by wrapping around (periodic boundary).")
