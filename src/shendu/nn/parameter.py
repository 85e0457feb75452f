"""``Parameter``: a Tensor that a Module registers as a learnable weight."""
import numpy as np

from .._tensor import Tensor, _make, _init_leaf

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A leaf tensor that requires grad (by default) and is registered by the Module it is
    assigned to. ``Parameter(t)`` shares ``t``'s storage, as in torch."""
    _is_param = True

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            arr = np.zeros((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            arr = data._data
        else:
            arr = np.asarray(data)
        _init_leaf(self, arr)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        from .._printing import tensor_repr
        return "Parameter containing:\n" + tensor_repr(self)

    def __reduce_ex__(self, protocol):
        return (Parameter, (_make(self._data, None, 0), self._requires_grad))


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    def __init__(self, data, *, persistent=True):
        _init_leaf(self, data._data if isinstance(data, Tensor) else np.asarray(data))
        self.persistent = persistent
