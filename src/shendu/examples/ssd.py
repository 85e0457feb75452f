"""A single-shot detector (SSD, Liu et al. 2016; seeds 000 and 004: anchors, IoU matching,
smooth-L1 box regression, NMS) trained on generated shapes, scored by mAP@0.5.

The data: 48×48 grey images with one to three filled circles, squares and triangles (10 to
22 pixels across) on a noisy background, with their boxes — generated, so nothing is
downloaded. The model: a small convolutional backbone whose 12×12 (stride 4) and 6×6
(stride 8) feature maps each carry a head, a 3×3 convolution predicting, for every anchor
(default box) at every position, the class scores (background + 3 shapes) and four box
offsets. Anchors: squares of 10 and 14 pixels on the 12×12 map, 19 and 26 on the 6×6 one.

Training (SSD's recipe): an anchor is positive when its IoU with a ground-truth box is
≥ 0.5 (and every box's best anchor is positive); its target is that box encoded relative to
the anchor (``ops.BoxCoder``, weights 10, 10, 5, 5). Loss = cross-entropy over the positives
and the hardest negatives (3 per positive, hard negative mining) + smooth-L1 on the
positives' offsets, both divided by the number of positives. Inference: softmax, decode,
score threshold, per-class NMS (``ops.batched_nms``). mAP@0.5: VOC's all-point average
precision per class, averaged.

    python -m shendu.examples.ssd                 # a few minutes on 2 cores
    python -m shendu.examples.ssd --train-images 500 --epochs 3

Recorded (defaults, seed 0, 2 shared cores, 2026-12-06): mAP@0.5 99.7 % on 500 test images
(circle 100.0 %, square 99.7 %, triangle 99.5 %), loss 3.31 → 0.92 over the 12 epochs.
"""
import argparse
import time

import numpy as np

import shendu
from shendu import nn, ops, optim
from shendu.nn import functional as F

__all__ = ["CLASSES", "make_shapes", "anchors", "TinySSD", "assign", "detect",
           "average_precision", "mean_average_precision", "train", "main"]

CLASSES = ["background", "circle", "square", "triangle"]
SIZE = 48
MAPS = ((12, 4, (10.0, 14.0)), (6, 8, (19.0, 26.0)))     # (cells, stride, anchor sizes)
CODER = ops.BoxCoder((10.0, 10.0, 5.0, 5.0))


# ---------------------------------------------------------------------- the data
def make_shapes(n, seed=0, size=SIZE, max_objects=3):
    """(images (n, 1, size, size) float32, boxes: list of (k, 4) float32 xyxy, labels: list of
    (k,) int64 in 1..3)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    images = rng.uniform(0, 0.25, (n, 1, size, size)).astype(np.float32)
    all_boxes, all_labels = [], []
    for img in images[:, 0]:
        boxes, labels = [], []
        for _ in range(rng.integers(1, max_objects + 1)):
            for _try in range(20):
                r = rng.uniform(5, 11)
                cx, cy = rng.uniform(r, size - r, 2)
                box = np.array([cx - r, cy - r, cx + r, cy + r])
                if not boxes or ops.box_iou(shendu.tensor(box[None]),
                                            shendu.tensor(np.array(boxes))).max().item() < 0.1:
                    break
            else:
                continue
            c = int(rng.integers(1, 4))
            if c == 1:
                mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
            elif c == 2:
                mask = (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
            else:                                   # apex at the top, base at the bottom
                mask = (yy >= cy - r) & (yy <= cy + r) & \
                    (np.abs(xx - cx) <= (yy - (cy - r)) / 2)
            img[mask] = rng.uniform(0.6, 1.0)
            boxes.append(box)
            labels.append(c)
        all_boxes.append(np.array(boxes, dtype=np.float32).reshape(-1, 4))
        all_labels.append(np.array(labels, dtype=np.int64))
    return images, all_boxes, all_labels


def anchors():
    """The default boxes (A, 4) xyxy, in the order of the heads' outputs: map, row, column,
    size."""
    out = []
    for cells, stride, sizes in MAPS:
        c = (np.arange(cells) + 0.5) * stride
        cy, cx = np.meshgrid(c, c, indexing="ij")
        per = [np.stack([cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2], -1) for s in sizes]
        out.append(np.stack(per, 2).reshape(-1, 4))      # (cells, cells, sizes, 4)
    return np.concatenate(out).astype(np.float32)


# ---------------------------------------------------------------------- the model
def _block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.MaxPool2d(2)]


class TinySSD(nn.Module):
    """Backbone 48 → 24 → 12 (head 1) → 6 (head 2); each head a 3×3 conv giving
    anchors·(classes + 4) channels. ``forward`` → (scores (N, A, C), offsets (N, A, 4))."""

    def __init__(self, num_classes=len(CLASSES), width=32):
        super().__init__()
        self.num_classes = num_classes
        self.stage1 = nn.Sequential(*_block(1, width // 2), *_block(width // 2, width))
        self.stage2 = nn.Sequential(*_block(width, 2 * width))
        k = [len(s) for _, _, s in MAPS]
        self.cls1 = nn.Conv2d(width, k[0] * num_classes, 3, padding=1)
        self.box1 = nn.Conv2d(width, k[0] * 4, 3, padding=1)
        self.cls2 = nn.Conv2d(2 * width, k[1] * num_classes, 3, padding=1)
        self.box2 = nn.Conv2d(2 * width, k[1] * 4, 3, padding=1)

    @staticmethod
    def _flat(t, n):                        # (N, A·n, H, W) → (N, H·W·A, n)
        return t.permute(0, 2, 3, 1).reshape(t.shape[0], -1, n)

    def forward(self, x):
        f1 = self.stage1(x)
        f2 = self.stage2(f1)
        C = self.num_classes
        scores = shendu.cat([self._flat(self.cls1(f1), C), self._flat(self.cls2(f2), C)], 1)
        offsets = shendu.cat([self._flat(self.box1(f1), 4), self._flat(self.box2(f2), 4)], 1)
        return scores, offsets


# ---------------------------------------------------------------------- training
def assign(gt_boxes, gt_labels, anchor_boxes, iou_threshold=0.5):
    """Per anchor: the class it must predict (0: background) and its regression target
    (zeros for the background). Every ground-truth box also claims its best anchor."""
    A = len(anchor_boxes)
    labels = np.zeros(A, dtype=np.int64)
    targets = np.zeros((A, 4), dtype=np.float32)
    if len(gt_boxes) == 0:
        return labels, targets
    iou = ops.box_iou(shendu.tensor(gt_boxes), shendu.tensor(anchor_boxes)).numpy()
    best_gt = iou.argmax(0)
    best_iou = iou.max(0)
    best_gt[iou.argmax(1)] = np.arange(len(gt_boxes))         # each box's best anchor
    best_iou[iou.argmax(1)] = 1.0
    pos = best_iou >= iou_threshold
    labels[pos] = gt_labels[best_gt[pos]]
    targets[pos] = CODER.encode_single(shendu.tensor(gt_boxes[best_gt[pos]]),
                                       shendu.tensor(anchor_boxes[pos])).numpy()
    return labels, targets


def ssd_loss(scores, offsets, labels, targets, neg_ratio=3):
    """Cross-entropy on positives + the hardest negatives, smooth-L1 on positives."""
    C = scores.shape[-1]
    ce = F.cross_entropy(scores.reshape(-1, C), shendu.tensor(labels.reshape(-1)),
                         reduction="none").reshape(labels.shape)
    pos = labels > 0
    n_pos = max(int(pos.sum()), 1)
    neg_loss = np.where(pos, -np.inf, ce.detach().numpy())     # hard negative mining
    rank = np.argsort(-neg_loss, axis=1, kind="stable").argsort(1)
    hard = rank < neg_ratio * pos.sum(1, keepdims=True)
    keep = shendu.tensor((pos | hard).astype(np.float32))
    cls_loss = (ce * keep).sum()
    box_loss = F.smooth_l1_loss(offsets[shendu.tensor(pos)], shendu.tensor(targets[pos]),
                                reduction="sum")
    return (cls_loss + box_loss) / n_pos, cls_loss.item() / n_pos, box_loss.item() / n_pos


def train(model, images, boxes, labels, epochs=15, batch_size=32, lr=2e-3, seed=0,
          out=print):
    """Adam with a cosine decay over the epochs; returns the mean loss of each epoch."""
    anc = anchors()
    assigned = [assign(b, l, anc) for b, l in zip(boxes, labels)]
    all_labels = np.stack([a[0] for a in assigned])
    all_targets = np.stack([a[1] for a in assigned])
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=lr * 0.05)
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        t0, total, n = time.perf_counter(), 0.0, 0
        order = rng.permutation(len(images))
        for i in range(0, len(images), batch_size):
            idx = order[i:i + batch_size]
            s, o = model(shendu.tensor(images[idx]))
            loss, _, _ = ssd_loss(s, o, all_labels[idx], all_targets[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            n += len(idx)
        sched.step()
        history.append(total / n)
        out(f"epoch {epoch:2d}  loss {history[-1]:.4f}  ({time.perf_counter() - t0:.1f}s)")
    return history


# ---------------------------------------------------------------------- inference, mAP
@shendu.no_grad()
def detect(model, images, score_threshold=0.05, iou_threshold=0.45, max_detections=20):
    """Per image: (boxes (k, 4), scores (k,), labels (k,)) as arrays."""
    model.eval()
    anc = shendu.tensor(anchors())
    scores, offsets = model(shendu.tensor(images))
    probs = F.softmax(scores, -1).numpy()
    results = []
    for p, off in zip(probs, offsets):
        boxes = ops.clip_boxes_to_image(CODER.decode_single(off, anc), (SIZE, SIZE)).numpy()
        a, c = np.nonzero(p[:, 1:] > score_threshold)
        b, s, lab = boxes[a], p[a, c + 1], c + 1
        keep = ops.batched_nms(shendu.tensor(b), shendu.tensor(s), shendu.tensor(lab),
                               iou_threshold).numpy()[:max_detections]
        results.append((b[keep], s[keep], lab[keep]))
    return results


def average_precision(detections, gt_boxes, gt_labels, cls, iou_threshold=0.5):
    """VOC all-point AP of one class: detections sorted by score over all images, a
    detection is right when it overlaps an unclaimed ground-truth box of the class by IoU ≥
    ``iou_threshold``; AP = area under the precision envelope over recall."""
    found = []
    n_gt = sum(int((l == cls).sum()) for l in gt_labels)
    if n_gt == 0:
        return float("nan")
    for img, (b, s, lab) in enumerate(detections):
        for box, score in zip(b[lab == cls], s[lab == cls]):
            found.append((score, img, box))
    found.sort(key=lambda t: -t[0])
    claimed = [np.zeros((l == cls).sum(), dtype=bool) for l in gt_labels]
    tp = np.zeros(len(found))
    for k, (_, img, box) in enumerate(found):
        gts = gt_boxes[img][gt_labels[img] == cls]
        if len(gts):
            iou = ops.box_iou(shendu.tensor(box[None].astype(np.float64)),
                              shendu.tensor(gts.astype(np.float64))).numpy()[0]
            j = int(iou.argmax())
            if iou[j] >= iou_threshold and not claimed[img][j]:
                claimed[img][j] = True
                tp[k] = 1
    if not len(found):
        return 0.0
    ctp = np.cumsum(tp)
    recall = np.concatenate([[0], ctp / n_gt, [1]])
    precision = np.concatenate([[1], ctp / np.arange(1, len(found) + 1), [0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def mean_average_precision(detections, gt_boxes, gt_labels, iou_threshold=0.5):
    """({class name: AP}, mAP) over the shape classes."""
    aps = {CLASSES[c]: average_precision(detections, gt_boxes, gt_labels, c, iou_threshold)
           for c in range(1, len(CLASSES))}
    return aps, float(np.nanmean(list(aps.values())))


def main(argv=None, out=print):
    p = argparse.ArgumentParser(description="an SSD-style detector on generated shapes")
    p.add_argument("--train-images", type=int, default=2000)
    p.add_argument("--test-images", type=int, default=500)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    shendu.manual_seed(args.seed)
    train_set = make_shapes(args.train_images, seed=args.seed)
    test_set = make_shapes(args.test_images, seed=args.seed + 10_000)
    model = TinySSD(width=args.width)
    out(f"TinySSD ({sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{len(anchors())} anchors) on {args.train_images:,} generated images")
    t0 = time.perf_counter()
    history = train(model, *train_set, epochs=args.epochs, batch_size=args.batch_size,
                    lr=args.lr, seed=args.seed, out=out)
    dets = []
    for i in range(0, args.test_images, 250):
        dets += detect(model, test_set[0][i:i + 250])
    aps, m = mean_average_precision(dets, test_set[1], test_set[2])
    out(f"mAP@0.5 on {args.test_images} test images: {100 * m:.1f}%  ("
        + ", ".join(f"{k} {100 * v:.1f}%" for k, v in aps.items())
        + f"; {time.perf_counter() - t0:.0f}s)")
    return {"map": m, "ap": aps, "history": history, "model": model}


if __name__ == "__main__":
    main()
