"""``linear``: y = x W^T + b in one node (the MLP hot path); ``bilinear``: y = x1^T A x2 + b."""
import functools

import numpy as np

from ..autograd.function import Node
from .inplace import _tname
from ._base import sum_to
from .fused import fused_grads

__all__ = ["linear", "bilinear"]


class Linear(Node):
    save_inputs = (0, 1)
    b_shape = None

    def forward(self, x, w, b):
        y = np.matmul(x, w.T)
        if b is not None:
            self.b_shape = b.shape
            y += b
        return y

    def backward(self, gy):
        x, w = self.saved_tensors
        return fused_grads(self.needs_input_grad, self._grads_arrays,
                           functools.partial(_linear_grads_graph, b_shape=self.b_shape), gy, x,
                           w)

    def _grads_arrays(self, g, x, w):
        """(gx, gw, gb) on the arrays: g @ w, g^T x, Σ g (the training hot path)."""
        need = self.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = g @ w
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        if need[1]:
            x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
            gw = g2.T @ x2
        if need[2]:
            b = g2.sum(0)
            gb = b if b.shape == self.b_shape else b.sum().reshape(self.b_shape)
        return gx, gw, gb


def _linear_grads_graph(gy, x, w, b_shape):
    """The same gradients with shendu ops (differentiable again)."""
    g2 = gy.reshape(-1, gy.shape[-1]) if gy.ndim != 2 else gy
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    gb = sum_to(g2.sum(0), b_shape) if b_shape is not None else None
    return gy @ w, g2.mT @ x2, gb


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, with weight of shape (out_features, in_features)."""
    if weight.dim() != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {weight.dim()}-D tensor (linear: weight "
                           f"of shape {tuple(weight.shape)}, expected (out_features, in_features))")
    if input.dim() == 0 or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, input.shape[-2:] if input.dim() > 1 else (1,) + tuple(input.shape)))} and "
                           f"{weight.shape[1]}x{weight.shape[0]})")
    dx, dw = input._data.dtype, weight._data.dtype
    if bias is not None and bias._data.dtype != dw:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{_tname(bias._data.dtype)} and {_tname(dw)}")
    if dx != dw:
        if bias is not None:
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_tname(dx)} "
                               f"and {_tname(dw)}")
        from .linalg import _dtype_error           # x @ W.T is a matrix product for torch
        raise _dtype_error(np.empty((0, 0), dx), np.empty((0, 0), dw))
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
