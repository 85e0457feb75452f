"""``linear``: y = x W^T + b in one node (the MLP hot path); ``bilinear``: y = x1^T A x2 + b."""
import numpy as np

from ..autograd.function import Node
from .._tensor import _make
from ..autograd.grad_mode import _mode
from .inplace import _tname
from ._base import sum_to

__all__ = ["linear", "bilinear"]


class Linear(Node):
    save_inputs = (0, 1)

    def forward(self, x, w, b):
        y = np.matmul(x, w.T)
        if b is not None:
            self.b_shape = b.shape
            y += b
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        if not _mode.enabled:
            return self._backward_arrays(gy._data, x._data, w._data, need)
        gx = gw = gb = None
        if need[0]:
            gx = gy @ w
        if need[1] or need[2]:
            g2 = gy.reshape(-1, gy.shape[-1]) if gy.ndim != 2 else gy
            if need[1]:
                x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
                gw = g2.mT @ x2
            if need[2]:
                gb = sum_to(g2.sum(0), self.b_shape)
        return gx, gw, gb

    def _backward_arrays(self, g, x, w, need):
        """The same gradients on the arrays, building no nodes (backward without
        create_graph: the training hot path)."""
        gx = gw = gb = None
        if need[0]:
            gx = _make(g @ w, None, 0)
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        if need[1]:
            x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
            gw = _make(g2.T @ x2, None, 0)
        if need[2]:
            b = g2.sum(0)
            gb = _make(b if b.shape == self.b_shape else b.sum().reshape(self.b_shape), None, 0)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, with weight of shape (out_features, in_features)."""
    if weight.dim() != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {weight.dim()}-D tensor (linear: weight "
                           f"of shape {tuple(weight.shape)}, expected (out_features, in_features))")
    if input.dim() == 0 or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, input.shape[-2:] if input.dim() > 1 else (1,) + tuple(input.shape)))} and "
                           f"{weight.shape[1]}x{weight.shape[0]})")
    if input._data.dtype != weight._data.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{_tname(input._data.dtype)} and {_tname(weight._data.dtype)}")
    return Linear.apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y_o = Σ_ij x1_i A_oij x2_j + b_o: inputs (..., in1) and (..., in2) with the same leading
    dims, weight (out, in1, in2), bias (out,) → (..., out). Computed as one matrix product
    (x1 against A laid out (in1, out·in2)) and a product-sum with x2."""
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and "
                           f"{input2.dim()}")
    for i, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if a != b:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                               f"{a} and {b}")
    out, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2}")
    if bias is not None and bias.shape != (out,):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[0] if bias.dim() else 1} but expected {out}")
    t = input1 @ weight.permute(1, 0, 2).reshape(in1, out * in2)
    y = (t.reshape(tuple(t.shape[:-1]) + (out, in2)) * input2.unsqueeze(-2)).sum(-1)
    return y + bias if bias is not None else y
