"""RoI pooling (Fast R-CNN) and RoI Align (Mask R-CNN), as torchvision.ops computes them.

Both take features (N, C, H, W) and boxes — a Tensor (K, 5) of rows (batch index, x1, y1,
x2, y2) or a list of N tensors (L_i, 4) — in input-image coordinates scaled by
``spatial_scale`` onto the feature map, and return (K, C, out_h, out_w). Both are
differentiable with respect to the features (not the boxes, as in torchvision), and built
from differentiable ops (a gather, two batched products), so their backward is too.
"""
import math

import numpy as np

from .._tensor import Tensor, _make
from .._ops.elementwise import where
from ..nn.modules.module import Module

__all__ = ["roi_pool", "roi_align", "RoIPool", "RoIAlign"]


def _pair(v):
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)


def _rois(input, boxes, name):
    """(batch index (K,) int64, coordinates (K, 4) float64) from either box format."""
    if not isinstance(input, Tensor) or input.dim() != 4:
        raise ValueError(f"{name}: expected features of shape (N, C, H, W), got "
                         f"{tuple(input.shape) if isinstance(input, Tensor) else type(input)}")
    if isinstance(boxes, (list, tuple)):
        for b in boxes:
            if b.dim() != 2 or b.shape[1] != 4:
                raise ValueError(f"{name}: a list of boxes must hold (L, 4) tensors, got "
                                 f"{tuple(b.shape)}")
        idx = np.concatenate([np.full(len(b), i, dtype=np.int64) for i, b in enumerate(boxes)]
                             ) if boxes else np.empty(0, np.int64)
        coords = np.concatenate([b._data.reshape(-1, 4) for b in boxes]) if boxes \
            else np.empty((0, 4))
    elif isinstance(boxes, Tensor) and boxes.dim() == 2 and boxes.shape[1] == 5:
        idx, coords = boxes._data[:, 0].astype(np.int64), boxes._data[:, 1:]
    else:
        raise ValueError(f"{name}: boxes must be a Tensor (K, 5) of (batch index, x1, y1, x2, "
                         f"y2) rows or a list of (L, 4) tensors, got "
                         f"{tuple(boxes.shape) if isinstance(boxes, Tensor) else type(boxes)}")
    if idx.size and (idx.min() < 0 or idx.max() >= input.shape[0]):
        raise IndexError(f"{name}: box batch index {int(idx.max())} out of range for "
                         f"{input.shape[0]} images")
    return idx, coords.astype(np.float64)


def _round(v):
    """C's round(): halves away from zero."""
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Max over each of out_h × out_w bins of every box (corners rounded to the feature grid,
    bins floor/ceil-sized so they cover the box, an empty bin gives 0) → (K, C, out_h, out_w).
    The gradient goes to the first maximum of each bin."""
    ph_n, pw_n = _pair(output_size)
    bidx, c = _rois(input, boxes, "roi_pool")
    N, C, H, W = input.shape
    K = len(bidx)
    x1, y1, x2, y2 = (_round(c[:, j] * spatial_scale) for j in range(4))
    roi_w, roi_h = np.maximum(x2 - x1 + 1, 1), np.maximum(y2 - y1 + 1, 1)
    x = input._data
    flat = np.zeros((K, C, ph_n, pw_n), dtype=np.int64)
    empty = np.zeros((K, 1, ph_n, pw_n), dtype=bool)
    chan = np.arange(C) * (H * W)
    for k in range(K):
        bh, bw = roi_h[k] / ph_n, roi_w[k] / pw_n
        for i in range(ph_n):
            hs = min(max(int(math.floor(i * bh)) + y1[k], 0), H)
            he = min(max(int(math.ceil((i + 1) * bh)) + y1[k], 0), H)
            for j in range(pw_n):
                ws = min(max(int(math.floor(j * bw)) + x1[k], 0), W)
                we = min(max(int(math.ceil((j + 1) * bw)) + x1[k], 0), W)
                if he <= hs or we <= ws:
                    empty[k, 0, i, j] = True
                    continue
                a = x[bidx[k], :, hs:he, ws:we].reshape(C, -1).argmax(1)
                hh, ww = np.divmod(a, we - ws)
                flat[k, :, i, j] = bidx[k] * C * H * W + chan + (hh + hs) * W + ww + ws
    vals = input.reshape(-1)[_make(flat, None, 0)]
    return where(_make(empty, None, 0), 0.0, vals) if empty.any() else vals


def _align_weights(start, bin_size, grid, n_out, size, dtype):
    """(K, n_out, size): the bilinear weights of the samples of each output row (or column),
    averaged over the ``grid`` samples per bin; samples outside [−1, size] weigh 0."""
    K = len(start)
    G = int(grid.max()) if K else 0
    A = np.zeros((K, n_out, size))
    if G == 0:
        return A.astype(dtype)
    g = np.arange(G)
    pos = (start[:, None, None] + np.arange(n_out)[None, :, None] * bin_size[:, None, None]
           + (g[None, None, :] + 0.5) * (bin_size / np.maximum(grid, 1))[:, None, None])
    live = (g[None, None, :] < grid[:, None, None]) & (pos >= -1.0) & (pos <= size)
    pos = np.maximum(pos, 0.0)
    low = pos.astype(np.int64)
    edge = low >= size - 1
    low = np.where(edge, size - 1, low)
    high = np.where(edge, size - 1, low + 1)
    frac = np.where(edge, 0.0, pos - low)
    share = live / np.maximum(grid, 1)[:, None, None]
    rows = (np.arange(K)[:, None, None] * n_out + np.arange(n_out)[None, :, None]) * size
    shape = (K, n_out, G)
    np.add.at(A.reshape(-1), np.broadcast_to(rows + low, shape).ravel(),
              ((1 - frac) * share).ravel())
    np.add.at(A.reshape(-1), np.broadcast_to(rows + high, shape).ravel(), (frac * share).ravel())
    return A.astype(dtype)


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Average of bilinear samples on a regular grid in each bin (no rounding of the box):
    ``sampling_ratio`` samples per bin side (≤ 0: ceil(box side / output side), adaptive),
    ``aligned`` shifts the box by −0.5 pixel (pixel centres). → (K, C, out_h, out_w).

    Bilinear sampling separates into rows and columns, so the output is A_y · X · A_xᵀ for
    each box, with A_y (out_h, H) and A_x (out_w, W) holding the averaged sampling weights."""
    ph_n, pw_n = _pair(output_size)
    bidx, c = _rois(input, boxes, "roi_align")
    H, W = input.shape[2], input.shape[3]
    off = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (c[:, j] * spatial_scale - off for j in range(4))
    rw, rh = x2 - x1, y2 - y1
    if not aligned:
        rw, rh = np.maximum(rw, 1.0), np.maximum(rh, 1.0)
    if sampling_ratio > 0:
        gh = gw = np.full(len(bidx), int(sampling_ratio))
    else:
        gh, gw = np.ceil(rh / ph_n).astype(np.int64), np.ceil(rw / pw_n).astype(np.int64)
    dt = input._data.dtype
    Ay = _make(_align_weights(y1, rh / ph_n, gh, ph_n, H, dt)[:, None], None, 0)
    Ax = _make(_align_weights(x1, rw / pw_n, gw, pw_n, W, dt)[:, None].transpose(0, 1, 3, 2),
               None, 0)
    feats = input[_make(bidx, None, 0)]                       # (K, C, H, W)
    return Ay @ feats @ Ax


class RoIPool(Module):
    """:func:`roi_pool` as a module."""

    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(Module):
    """:func:`roi_align` as a module."""

    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def extra_repr(self):
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
