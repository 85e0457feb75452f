"""shendu.ops against torchvision 0.28 (test extra), forward and backward in float64.

The torchvision wheel on PyPI is linked against CUDA; with the CPU build of torch its compiled
ops (nms, roi_pool, roi_align) do not load (see tests/torchvision_loader.py), so the
comparisons use its pure-Python parts (box_iou, box_area, box_convert, BoxCoder, the pure-Python
``_roi_align`` torchvision keeps as its reference); ``nms`` and ``roi_pool`` are compared with
torchvision's compiled kernels when they load, and always with plain transcriptions of those
kernels written in torch here."""
import math

import numpy as np
import pytest
import torch

import shendu
from shendu import ops
from torch_oracle import check, gradchecks, compare
from torchvision_loader import torchvision, has_kernels


tv = torchvision()
from torchvision.ops.roi_align import _roi_align as _compiled     # noqa: E402
from torchvision.models.detection._utils import BoxCoder as TVBoxCoder   # noqa: E402

HAS_KERNELS = has_kernels()
_roi_align = _compiled.__wrapped__          # eager: torch.compile would cost ~20 s here


def boxes(n, rng, size=20.0, min_wh=0.5):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(min_wh, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], 1)


def lib_ops(L):
    return tv.ops if L is torch else shendu.ops


# ------------------------------------------------------------------ boxes
def test_box_iou_area_convert_vs_torchvision():
    rng = np.random.default_rng(0)
    b1, b2 = boxes(5, rng), boxes(7, rng)
    b2[3] = b1[1]                                    # identical pair: IoU 1
    b2[4] = b1[2] + 100                              # far away: IoU 0
    check(lambda L, a, b: lib_ops(L).box_iou(a, b), vals=[b1, b2])
    check(lambda L, a: lib_ops(L).box_area(a), vals=[b1])
    for i, o in [("xyxy", "cxcywh"), ("xyxy", "xywh"), ("cxcywh", "xyxy"), ("xywh", "cxcywh"),
                 ("xyxy", "xyxy")]:
        check(lambda L, a: lib_ops(L).box_convert(a, i, o), vals=[b1])
    check(lambda L, a, b: lib_ops(L).box_iou(a, b, fmt="cxcywh"), vals=[b1, b2])
    check(lambda L, a: lib_ops(L).clip_boxes_to_image(a - 5, (12, 9)), vals=[b1])
    np.testing.assert_array_equal(
        ops.remove_small_boxes(shendu.tensor(b1), 3.0).numpy(),
        tv.ops.remove_small_boxes(torch.tensor(b1), 3.0).numpy())
    gradchecks(lambda L, a, b: L.ops.box_iou(a, b), vals=[b1[:3], b2[:2]], second_order=False)


def test_box_errors_and_float32():
    with pytest.raises(ValueError, match=r"box_iou: boxes2 must have shape \(N, 4\).*\(3, 5\)"):
        ops.box_iou(shendu.zeros(2, 4), shendu.zeros(3, 5))
    with pytest.raises(ValueError, match="unsupported box format 'yxyx'"):
        ops.box_convert(shendu.zeros(2, 4), "yxyx", "xyxy")
    with pytest.raises(ValueError, match=r"scores must have shape \(3,\)"):
        ops.nms(shendu.zeros(3, 4), shendu.zeros(2), 0.5)
    b = shendu.tensor(boxes(4, np.random.default_rng(1)), dtype=shendu.float32)
    assert ops.box_iou(b, b).dtype == shendu.float32
    np.testing.assert_allclose(np.diag(ops.box_iou(b, b).numpy()), 1, rtol=1e-6)


def ref_nms(b, s, thr):
    """torchvision's CPU nms kernel, transcribed."""
    order = torch.argsort(s, descending=True, stable=True)
    iou = tv.ops.box_iou(b, b)
    suppressed = torch.zeros(len(b), dtype=torch.bool)
    keep = []
    for a, i in enumerate(order.tolist()):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[a + 1:].tolist():
            if iou[i, j] > thr:
                suppressed[j] = True
    return torch.tensor(keep, dtype=torch.int64)


@pytest.mark.parametrize("thr", [0.0, 0.3, 0.5, 0.9])
def test_nms_and_batched_nms(thr, monkeypatch):
    rng = np.random.default_rng(2)
    b = boxes(60, rng, size=30.0)
    s = rng.permutation(60).astype(np.float64) / 60            # distinct scores
    cls = rng.integers(0, 3, 60)
    tb, ts, tc = torch.tensor(b), torch.tensor(s), torch.tensor(cls)
    keep = ops.nms(shendu.tensor(b), shendu.tensor(s), thr)
    assert keep.dtype == shendu.int64
    compare(keep, ref_nms(tb, ts, thr))
    # batched: shendu's coordinate trick against torchvision's per-class loop
    monkeypatch.setattr(tv.ops.boxes, "nms", ref_nms)
    compare(ops.batched_nms(shendu.tensor(b), shendu.tensor(s), shendu.tensor(cls), thr),
            tv.ops.boxes._batched_nms_vanilla(tb, ts, tc, thr))
    if HAS_KERNELS:
        compare(keep, torch.ops.torchvision.nms(tb, ts, thr))


def test_nms_hand_case():
    b = shendu.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10.]])
    s = shendu.tensor([0.9, 0.8, 0.7, 0.95])
    assert ops.nms(b, s, 0.5).tolist() == [3, 2]      # 0 and 1 fall to box 3 (IoU 1, 0.68)
    assert ops.nms(b, s, 0.99).tolist() == [3, 1, 2]
    assert ops.batched_nms(b, s, shendu.tensor([0, 0, 0, 1]), 0.5).tolist() == [3, 0, 2]
    assert ops.nms(shendu.zeros(0, 4), shendu.zeros(0), 0.5).tolist() == []


# ------------------------------------------------------------------ box coder
def test_box_coder_vs_torchvision():
    rng = np.random.default_rng(3)
    gt, anchors = boxes(6, rng), boxes(6, rng)
    w = (10.0, 10.0, 5.0, 5.0)
    check(lambda L, g, a: (TVBoxCoder(w) if L is torch else ops.BoxCoder(w)).encode_single(g, a),
          vals=[gt, anchors])
    codes = rng.normal(0, 1, (6, 8))
    codes[0, 2] = 30.0                                 # clamped at log(1000/16) before exp
    check(lambda L, c, a: (TVBoxCoder(w) if L is torch else ops.BoxCoder(w)).decode_single(c, a),
          vals=[codes, anchors])
    check(lambda L, c, a: (TVBoxCoder(w) if L is torch else ops.BoxCoder(w)).decode(
        c, [a[:2], a[2:]]), vals=[codes, anchors])
    # decode inverts encode
    g, a = shendu.tensor(gt), shendu.tensor(anchors)
    c = ops.BoxCoder(w)
    np.testing.assert_allclose(c.decode_single(c.encode_single(g, a), a).numpy(), gt, rtol=1e-12)
    parts = c.encode([g[:2], g[2:]], [a[:2], a[2:]])
    assert [tuple(p.shape) for p in parts] == [(2, 4), (4, 4)]


# ------------------------------------------------------------------ RoI ops
def rois(rng, n_img=2, k=5, size=14.0):
    b = boxes(k, rng, size=size * 0.6, min_wh=0.2)
    return np.concatenate([rng.integers(0, n_img, (k, 1)).astype(np.float64), b], 1)


@pytest.mark.parametrize("out,scale,ratio,aligned", [
    ((3, 3), 1.0, 2, False), ((2, 4), 0.5, -1, False), (3, 0.75, -1, True), ((4, 2), 1.0, 1, True)])
def test_roi_align_vs_torchvision(out, scale, ratio, aligned):
    rng = np.random.default_rng(4)
    x, r = rng.normal(size=(2, 3, 10, 12)), rois(rng, size=12 / scale)
    o = (out, out) if isinstance(out, int) else out

    def f(L, x, r):
        if L is torch:
            return _roi_align(x, r, scale, o[0], o[1], ratio, aligned)
        return ops.roi_align(x, r, out, scale, ratio, aligned)
    check(f, vals=[x, r], requires_grad=[True, False])
    if HAS_KERNELS:
        compare(ops.roi_align(shendu.tensor(x), shendu.tensor(r), out, scale, ratio, aligned),
                tv.ops.roi_align(torch.tensor(x), torch.tensor(r), out, scale, ratio, aligned))


def test_roi_align_list_boxes_outside_and_gradcheck():
    rng = np.random.default_rng(5)
    x = shendu.tensor(rng.normal(size=(2, 2, 6, 7)), requires_grad=True)
    b0, b1 = shendu.tensor(boxes(2, rng, 5.0)), shendu.tensor(boxes(3, rng, 5.0))
    as_list = ops.roi_align(x, [b0, b1], 2, sampling_ratio=2)
    rows = shendu.cat([shendu.cat([shendu.zeros(2, 1, dtype=shendu.float64), b0], 1),
                       shendu.cat([shendu.ones(3, 1, dtype=shendu.float64), b1], 1)])
    compare(as_list, ops.roi_align(x, rows, 2, sampling_ratio=2))
    # samples beyond [-1, H] count as 0 (torchvision's kernel); a box far outside gives 0
    far = shendu.tensor([[0, 30.0, 30.0, 40.0, 40.0]])
    assert (ops.roi_align(x, far, 2, sampling_ratio=2).detach().numpy() == 0).all()
    edge = shendu.tensor([[0, 5.0, 4.0, 8.0, 7.0]])      # one sample at (x, y) = (6.5, 5.5):
    val = ops.roi_align(x, edge, 1, sampling_ratio=1).detach().numpy()[0, :, 0, 0]
    np.testing.assert_allclose(val, x.detach().numpy()[0, :, 5, 6])      # clamped to the corner
    beyond = shendu.tensor([[0, 5.0, 5.0, 9.0, 9.0]])    # sample (7, 7) beyond H = 6: 0
    assert (ops.roi_align(x, beyond, 1, sampling_ratio=1).detach().numpy() == 0).all()
    gradchecks(lambda L, x: ops.roi_align(x, rows, (2, 3), 0.8, -1, True), vals=[x.detach()
               .numpy()], second_order=True)


def ref_roi_pool(x, r, oh, ow, scale):
    """torchvision's CPU roi_pool kernel, transcribed (gradient through max to the argmax)."""
    N, C, H, W = x.shape
    out = []
    for row in r:
        b = int(row[0])
        x1, y1, x2, y2 = [int(math.copysign(math.floor(abs(float(v) * scale) + 0.5), v))
                          for v in row[1:]]
        rw, rh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        cells = []
        for i in range(oh):
            hs = min(max(math.floor(i * rh / oh) + y1, 0), H)
            he = min(max(math.ceil((i + 1) * rh / oh) + y1, 0), H)
            for j in range(ow):
                ws = min(max(math.floor(j * rw / ow) + x1, 0), W)
                we = min(max(math.ceil((j + 1) * rw / ow) + x1, 0), W)
                if he <= hs or we <= ws:
                    cells.append(x.new_zeros(C))
                else:
                    cells.append(x[b, :, hs:he, ws:we].reshape(C, -1).max(1).values)
        out.append(torch.stack(cells, 1).reshape(C, oh, ow))
    return torch.stack(out)


@pytest.mark.parametrize("out,scale", [((3, 3), 1.0), ((2, 4), 0.5), (5, 1.0)])
def test_roi_pool_vs_kernel(out, scale):
    rng = np.random.default_rng(6)
    x, r = rng.normal(size=(2, 3, 10, 12)), rois(rng, size=12 / scale)
    r[0, 1:] = [-3.0, -2.0, 2.6, 40.0]                        # clipped at the borders
    o = (out, out) if isinstance(out, int) else out
    check(lambda L, x, r: ref_roi_pool(x, r, o[0], o[1], scale) if L is torch else
          ops.RoIPool(out, scale)(x, r), vals=[x, r], requires_grad=[True, False])
    if HAS_KERNELS:
        compare(ops.roi_pool(shendu.tensor(x), shendu.tensor(r), out, scale),
                tv.ops.roi_pool(torch.tensor(x), torch.tensor(r), out, scale))


def test_roi_pool_gradcheck():
    rng = np.random.default_rng(7)
    r = shendu.tensor([[0, 0.4, 1.2, 4.0, 3.6], [1, 2.0, 0.0, 5.0, 4.0]])
    gradchecks(lambda L, x: ops.roi_pool(x, r, 2), vals=[rng.normal(size=(2, 2, 5, 6))])


def test_roi_errors_and_float32():
    x = shendu.randn(1, 2, 8, 8)
    with pytest.raises(ValueError, match=r"boxes must be a Tensor \(K, 5\)"):
        ops.roi_align(x, shendu.zeros(3, 4), 2)
    with pytest.raises(ValueError, match=r"features of shape \(N, C, H, W\)"):
        ops.roi_pool(shendu.randn(2, 8, 8), shendu.zeros(1, 5), 2)
    with pytest.raises(IndexError, match="batch index 3 out of range for 1 images"):
        ops.roi_pool(x, shendu.tensor([[3.0, 0, 0, 4, 4]]), 2)
    r = shendu.tensor([[0.0, 1, 1, 6, 6]])
    assert ops.roi_align(x, r, 2).dtype == shendu.float32
    assert tuple(ops.roi_pool(x, r, (2, 3)).shape) == (1, 2, 2, 3)
    assert "output_size=2" in repr(ops.RoIAlign(2, 1.0, -1))
