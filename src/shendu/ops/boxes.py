"""Box arithmetic, non-maximum suppression and the box encoding of detection regressors, as
torchvision has them. Boxes: Tensor (N, 4) of (x1, y1, x2, y2) with x1 ≤ x2, y1 ≤ y2."""
import math

import numpy as np

from .._tensor import Tensor, _make
from .._ops.elementwise import clamp, exp, log, maximum, minimum
from .._ops.shape import stack, cat

__all__ = ["box_area", "box_iou", "box_convert", "clip_boxes_to_image", "remove_small_boxes",
           "nms", "batched_nms", "BoxCoder", "encode_boxes", "decode_boxes"]


def _check_boxes(boxes, name, what="boxes"):
    if not isinstance(boxes, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor of shape (N, 4), got "
                        f"{type(boxes).__name__}")
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name}: {what} must have shape (N, 4) (x1, y1, x2, y2 rows), got "
                         f"{tuple(boxes.shape)}")


def _long(arr):
    return _make(np.asarray(arr, dtype=np.int64), None, 0)


def box_area(boxes, fmt="xyxy"):
    """(x2 − x1)·(y2 − y1) of boxes (N, 4) → (N,); ``fmt`` as in :func:`box_convert`."""
    _check_boxes(boxes, "box_area")
    if fmt != "xyxy":
        boxes = box_convert(boxes, fmt, "xyxy")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _inter_union(b1, b2):
    lt = maximum(b1[:, None, :2], b2[None, :, :2])
    rb = minimum(b1[:, None, 2:], b2[None, :, 2:])
    wh = clamp(rb - lt, min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = box_area(b1)[:, None] + box_area(b2)[None, :] - inter
    return inter, union


def box_iou(boxes1, boxes2, fmt="xyxy"):
    """Intersection over union of every pair: boxes1 (N, 4), boxes2 (M, 4) → (N, M).
    Differentiable in both sets of coordinates."""
    _check_boxes(boxes1, "box_iou", "boxes1")
    _check_boxes(boxes2, "box_iou", "boxes2")
    if fmt != "xyxy":
        boxes1, boxes2 = box_convert(boxes1, fmt, "xyxy"), box_convert(boxes2, fmt, "xyxy")
    inter, union = _inter_union(boxes1, boxes2)
    return inter / union


def box_convert(boxes, in_fmt, out_fmt):
    """Between 'xyxy' (corners), 'xywh' (corner, width, height) and 'cxcywh' (centre, width,
    height). boxes (N, 4) → (N, 4)."""
    fmts = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in fmts or out_fmt not in fmts:
        raise ValueError(f"box_convert: unsupported box format {in_fmt!r} → {out_fmt!r}; "
                         f"supported: {', '.join(fmts)}")
    _check_boxes(boxes, "box_convert")
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(1)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return stack((a, b, c, d), dim=-1)


def clip_boxes_to_image(boxes, size):
    """Clamp the coordinates into an image of ``size`` (height, width)."""
    _check_boxes(boxes, "clip_boxes_to_image")
    h, w = size
    x = clamp(boxes[:, 0::2], min=0, max=w)
    y = clamp(boxes[:, 1::2], min=0, max=h)
    return stack((x, y), dim=2).reshape(boxes.shape)


def remove_small_boxes(boxes, min_size):
    """Indices (int64) of the boxes whose width and height are both ≥ ``min_size``."""
    _check_boxes(boxes, "remove_small_boxes")
    b = boxes._data
    return _long(np.nonzero(((b[:, 2] - b[:, 0]) >= min_size) &
                            ((b[:, 3] - b[:, 1]) >= min_size))[0])


def _nms_numpy(b, s, iou_threshold):
    """Greedy NMS on arrays: visit boxes by decreasing score, keep one, suppress the later ones
    whose IoU with it exceeds the threshold (strictly, as torchvision's kernel)."""
    order = np.argsort(-s, kind="stable")
    b = b[order].astype(np.float64)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    suppressed = np.zeros(len(b), dtype=bool)
    keep = []
    for i in range(len(b)):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = np.arange(i + 1, len(b))
        rest = rest[~suppressed[rest]]
        if not rest.size:
            continue
        w = np.maximum(0, np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]))
        h = np.maximum(0, np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]))
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / (area[i] + area[rest] - inter)
        suppressed[rest[iou > iou_threshold]] = True
    return order[np.asarray(keep, dtype=np.int64)]


def _check_scores(boxes, scores, name):
    _check_boxes(boxes, name)
    if scores.dim() != 1 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"{name}: scores must have shape ({boxes.shape[0]},), one per box, got "
                         f"{tuple(scores.shape)}")


def nms(boxes, scores, iou_threshold):
    """Non-maximum suppression: the int64 indices of the boxes kept, by decreasing score.
    A box is dropped when its IoU with a higher-scoring kept box is > ``iou_threshold``."""
    _check_scores(boxes, scores, "nms")
    return _long(_nms_numpy(boxes._data, scores._data, iou_threshold))


def batched_nms(boxes, scores, idxs, iou_threshold):
    """NMS within each category ``idxs`` (N,) independently (boxes of different categories never
    suppress each other): the kept indices, by decreasing score."""
    _check_scores(boxes, scores, "batched_nms")
    if idxs.shape != scores.shape:
        raise ValueError(f"batched_nms: idxs must have shape {tuple(scores.shape)}, got "
                         f"{tuple(idxs.shape)}")
    b = boxes._data.astype(np.float64)
    if not b.size:
        return _long(np.empty(0))
    offsets = idxs._data.astype(np.float64) * (b.max() + 1)    # torchvision's coordinate trick
    return _long(_nms_numpy(b + offsets[:, None], scores._data, iou_threshold))


def encode_boxes(reference_boxes, proposals, weights):
    """Regression targets of ``reference_boxes`` (ground truth, N × 4) relative to ``proposals``
    (anchors, N × 4): (wx·Δcx / w_a, wy·Δcy / h_a, ww·log(w / w_a), wh·log(h / h_a)) → (N, 4)."""
    wx, wy, ww, wh = (float(v) for v in weights)
    pw = proposals[:, 2] - proposals[:, 0]
    ph = proposals[:, 3] - proposals[:, 1]
    px, py = proposals[:, 0] + 0.5 * pw, proposals[:, 1] + 0.5 * ph
    gw = reference_boxes[:, 2] - reference_boxes[:, 0]
    gh = reference_boxes[:, 3] - reference_boxes[:, 1]
    gx, gy = reference_boxes[:, 0] + 0.5 * gw, reference_boxes[:, 1] + 0.5 * gh
    return stack((wx * (gx - px) / pw, wy * (gy - py) / ph, ww * log(gw / pw),
                  wh * log(gh / ph)), dim=1)


def decode_boxes(rel_codes, boxes, weights=(1.0, 1.0, 1.0, 1.0),
                 bbox_xform_clip=math.log(1000.0 / 16)):
    """Inverse of :func:`encode_boxes`: codes (N, 4k) applied to boxes (N, 4) → (N, 4k); the log
    sizes are clamped at ``bbox_xform_clip`` before exp."""
    wx, wy, ww, wh = (float(v) for v in weights)
    boxes = boxes.to(rel_codes.dtype)
    w = (boxes[:, 2] - boxes[:, 0])[:, None]
    h = (boxes[:, 3] - boxes[:, 1])[:, None]
    cx, cy = boxes[:, 0][:, None] + 0.5 * w, boxes[:, 1][:, None] + 0.5 * h
    dx, dy = rel_codes[:, 0::4] / wx, rel_codes[:, 1::4] / wy
    dw = clamp(rel_codes[:, 2::4] / ww, max=bbox_xform_clip)
    dh = clamp(rel_codes[:, 3::4] / wh, max=bbox_xform_clip)
    pcx, pcy = dx * w + cx, dy * h + cy
    half_w, half_h = exp(dw) * w * 0.5, exp(dh) * h * 0.5
    return stack((pcx - half_w, pcy - half_h, pcx + half_w, pcy + half_h), dim=2).flatten(1)


class BoxCoder:
    """torchvision.models.detection._utils.BoxCoder: encodes ground-truth boxes relative to
    anchors for the regression head and decodes its outputs back into boxes."""

    def __init__(self, weights, bbox_xform_clip=math.log(1000.0 / 16)):
        self.weights = weights
        self.bbox_xform_clip = bbox_xform_clip

    def encode_single(self, reference_boxes, proposals):
        return encode_boxes(reference_boxes, proposals, self.weights)

    def encode(self, reference_boxes, proposals):
        """Lists of per-image boxes → a tuple of per-image targets."""
        sizes = [len(b) for b in reference_boxes]
        return self.encode_single(cat(list(reference_boxes)), cat(list(proposals))).split(sizes)

    def decode_single(self, rel_codes, boxes):
        return decode_boxes(rel_codes, boxes, self.weights, self.bbox_xform_clip)

    def decode(self, rel_codes, boxes):
        """codes for a list of per-image boxes → (total boxes, k, 4)."""
        if not isinstance(boxes, (list, tuple)):
            raise TypeError("BoxCoder.decode expects boxes as a list or tuple of (N_i, 4) "
                            "tensors")
        total = sum(b.shape[0] for b in boxes)
        if total > 0:
            rel_codes = rel_codes.reshape(total, -1)
        pred = self.decode_single(rel_codes, cat(list(boxes)))
        return pred.reshape(total, -1, 4) if total > 0 else pred
