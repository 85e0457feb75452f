"""The notes' examples in their reduced modes: the perceptron on gates, autoencoder
pre-training, the DCGAN with its image grids, the SSD-style detector and its mAP."""
import numpy as np
import pytest

import shendu
from shendu import ops


def test_perceptron_learns_not_and_and_not_xor():
    from shendu.examples import perceptron
    lines = []
    res = perceptron.main(["--gates", "NOT,AND,XOR"], out=lines.append)
    assert res["NOT"]["solved"] and res["AND"]["solved"] and not res["XOR"]["solved"]
    w, b = res["AND"]["weight"], res["AND"]["bias"]
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert list((x @ w + b > 0).astype(int)) == [0, 0, 0, 1]
    # at zero weights every sample sits on the boundary: loss 0, yet the subgradient moves
    assert res["NOT"]["losses"][0] == 0 and res["NOT"]["epochs"] > 0
    assert "— NAND" in lines[-1]


def test_autoencoder_pretraining_reduced():
    from shendu.examples import autoencoder as A
    lines = []
    res = A.main(["--unlabelled", "500", "--pretrain-epochs", "1", "--steps", "10",
                  "--draws", "1", "--label-fraction", "0.1"], out=lines.append)
    assert res["labelled"] == 50                               # 10 % of 500, 5 per class
    assert 0.0 <= res["pretrained"] <= 1.0 and 0.0 <= res["scratch"] <= 1.0
    assert "gain" in lines[-1] and len(res["reconstruction"]) == 2
    # the classifier starts from the encoders' weights
    enc = res["encoders"]
    net = A.classifier(enc)
    assert np.array_equal(net[2].weight.detach().numpy(), enc[1].weight.detach().numpy())


def test_dcgan_reduced_writes_a_grid_per_epoch(tmp_path):
    from shendu.examples import dcgan
    res = dcgan.main(["--images", "64", "--epochs", "2", "--batch-size", "32", "--width", "8",
                      "--out", str(tmp_path)], out=lambda *a: None)
    assert [p.rsplit("/", 1)[1] for p in res["grids"]] == ["samples_epoch_01.png",
                                                           "samples_epoch_02.png"]
    assert all((tmp_path / f"samples_epoch_0{e}.png").stat().st_size > 0 for e in (1, 2))
    assert len(res["history"]) == 2 and all(np.isfinite(h).all() for h in res["history"])
    G = res["generator"]
    assert tuple(G(shendu.randn(3, 64)).shape) == (3, 1, 28, 28)


def test_ssd_pieces_and_reduced_run():
    from shendu.examples import ssd
    images, boxes, labels = ssd.make_shapes(6, seed=1)
    assert images.shape == (6, 1, 48, 48) and all(len(b) == len(l) for b, l in zip(boxes, labels))
    anc = ssd.anchors()
    assert anc.shape == (12 * 12 * 2 + 6 * 6 * 2, 4)
    lab, tgt = ssd.assign(boxes[0], labels[0], anc)
    pos = lab > 0
    assert set(lab[pos]) <= set(labels[0]) and pos.sum() >= len(boxes[0])
    back = ops.BoxCoder((10.0, 10.0, 5.0, 5.0)).decode_single(
        shendu.tensor(tgt[pos]), shendu.tensor(anc[pos])).numpy()
    ious = ops.box_iou(shendu.tensor(back), shendu.tensor(boxes[0])).numpy().max(1)
    np.testing.assert_allclose(ious, 1, rtol=1e-5)             # targets decode to the boxes
    res = ssd.main(["--train-images", "64", "--test-images", "16", "--epochs", "2",
                    "--width", "16"], out=lambda *a: None)
    assert 0.0 <= res["map"] <= 1.0 and res["history"][-1] < res["history"][0]


def test_average_precision_known_cases():
    from shendu.examples.ssd import average_precision
    gt_b = [np.array([[0, 0, 10, 10.0], [20, 20, 30, 30]]), np.array([[5, 5, 15, 15.0]])]
    gt_l = [np.array([1, 1]), np.array([1])]
    perfect = [(gt_b[0], np.array([0.9, 0.8]), gt_l[0]), (gt_b[1], np.array([0.7]), gt_l[1])]
    assert average_precision(perfect, gt_b, gt_l, 1) == pytest.approx(1.0)
    # one false positive ranked first, then the three right: precision envelope 3/4 for all
    fp = [(np.concatenate([[[40, 40, 45, 45.0]], gt_b[0]]), np.array([0.99, 0.9, 0.8]),
           np.array([1, 1, 1])), perfect[1]]
    assert average_precision(fp, gt_b, gt_l, 1) == pytest.approx(0.75)
    # a duplicate detection of one box counts once; a missed box caps recall at 2/3
    dup = [(np.stack([gt_b[0][0], gt_b[0][0]]), np.array([0.9, 0.8]), np.array([1, 1])),
           perfect[1]]
    assert average_precision(dup, gt_b, gt_l, 1) == pytest.approx((1 / 3) * 1 + (1 / 3) * 2 / 3)
