"""shendu.ops: detection building blocks with torchvision.ops' names and semantics (seeds 000
and 004: anchors, IoU, box regression, NMS, RoI pooling).

* boxes: ``box_area``, ``box_iou``, ``box_convert``, ``clip_boxes_to_image``,
  ``remove_small_boxes``, ``nms``, ``batched_nms``, ``BoxCoder`` / ``encode_boxes`` /
  ``decode_boxes`` (torchvision.models.detection._utils' box encoding for regression).
* roi: ``roi_pool`` / ``RoIPool`` (Fast R-CNN), ``roi_align`` / ``RoIAlign`` (Mask R-CNN).

Boxes are (x1, y1, x2, y2) rows unless a ``fmt`` says otherwise. Box arithmetic and both
RoI ops are differentiable with respect to the features and box coordinates where
torchvision's are (RoI ops: the features only); ``nms`` returns int64 indices.
``sigmoid_focal_loss`` is the one in ``shendu.nn.functional``, re-exported as torchvision does.
"""
from .boxes import (box_area, box_iou, box_convert, clip_boxes_to_image, remove_small_boxes,
                    nms, batched_nms, BoxCoder, encode_boxes, decode_boxes)
from .roi import roi_pool, roi_align, RoIPool, RoIAlign
from .._ops.loss import sigmoid_focal_loss

__all__ = ["box_area", "box_iou", "box_convert", "clip_boxes_to_image", "remove_small_boxes",
           "nms", "batched_nms", "BoxCoder", "encode_boxes", "decode_boxes", "roi_pool",
           "roi_align", "RoIPool", "RoIAlign", "sigmoid_focal_loss"]
