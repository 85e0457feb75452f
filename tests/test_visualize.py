"""shendu.visualize: grids (against torchvision.utils.make_grid), filters, feature maps,
histograms, saliency and Grad-CAM on known cases, the confusion matrix and its report."""
import numpy as np
import pytest

import shendu
from shendu import nn, visualize as V


def test_make_grid_vs_torchvision():
    torch = pytest.importorskip("torch")
    from torchvision_loader import torchvision
    tv = torchvision()
    rng = np.random.default_rng(0)
    for shape, kw in [((5, 3, 4, 6), {}), ((11, 1, 5, 5), {"nrow": 4, "padding": 1}),
                      ((3, 3, 4, 4), {"normalize": True, "pad_value": 0.5}),
                      ((6, 3, 4, 4), {"normalize": True, "scale_each": True}),
                      ((4, 1, 3, 3), {"normalize": True, "value_range": (-1, 1)}),
                      ((1, 3, 4, 4), {})]:
        a = rng.normal(size=shape)
        np.testing.assert_allclose(V.make_grid(shendu.tensor(a), **kw).numpy(),
                                   tv.utils.make_grid(torch.tensor(a), **kw).numpy(),
                                   rtol=1e-12, err_msg=str((shape, kw)))


def _net():
    shendu.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))


def test_filter_grid_shows_a_hand_set_filter(tmp_path):
    net = _net()
    bar = np.zeros((3, 3))
    bar[:, 1] = 1.0                                        # a vertical bar
    with shendu.no_grad():
        net[0].weight[2, 0] = shendu.tensor(bar, dtype=shendu.float32)
    grid = V.filter_grid(net, path=tmp_path / "f.png", nrow=2, padding=1).numpy()
    assert grid.shape == (3, 2 * 4 + 1, 2 * 4 + 1)        # 2×2 tiles of 3×3, 1 px padding
    tile = grid[0, 5:8, 1:4]                               # row 1, column 0: filter 2
    np.testing.assert_allclose(tile, bar)                  # scaled to its own range: the bar
    assert (tmp_path / "f.png").stat().st_size > 0
    with pytest.raises(ValueError, match="has no Conv2d"):
        V.filter_grid(nn.Linear(3, 2))


def test_feature_maps_and_histograms(tmp_path):
    net = _net()
    with shendu.no_grad():                                 # filter 0 = identity, bias 0
        net[0].weight.zero_()
        net[0].weight[0, 0, 1, 1] = 1.0
        net[0].bias.zero_()
    x = shendu.rand(1, 8, 8)                               # non-negative: ReLU keeps it
    fm = V.feature_maps(net, "1", x, path=tmp_path / "fm.png")
    assert tuple(fm.shape) == (4, 8, 8)
    # float32 round-off only: a 3×3 stride-1 convolution may run as Winograd, whose
    # transforms add and subtract neighbours before the product
    np.testing.assert_allclose(fm[0].numpy(), x[0].numpy(), rtol=1e-6, atol=1e-6)
    assert (tmp_path / "fm.png").exists()
    with pytest.raises(ValueError, match="has no layer 'conv9'; its layers: 0, 1"):
        V.feature_maps(net, "conv9", x)
    xs = shendu.randn(5, 1, 8, 8)
    h = V.activation_histograms(net, xs, bins=10)
    assert list(h) == ["0", "1", "2", "3", "4", "5", "6"]
    assert h["2"][0].sum() == 5 * 6 * 8 * 8 and h["6"][0].sum() == 5 * 3
    assert h["1"][1][0] >= 0                               # after ReLU: nothing below 0
    V.plot_histograms(h, tmp_path / "h.png")
    assert (tmp_path / "h.png").exists() and net.training


def test_saliency_of_a_linear_model_is_its_weights():
    shendu.manual_seed(1)
    net = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x = shendu.randn(2, 2, 4, 4)
    s = V.saliency(net, x, target=shendu.tensor([2, 0]))
    w = net[1].weight.detach().numpy().reshape(3, 2, 4, 4)
    np.testing.assert_allclose(s.numpy(), np.abs(w[[2, 0]]).max(1), rtol=1e-6)
    pred = net(x).argmax(1).numpy()
    np.testing.assert_allclose(V.saliency(net, x).numpy(), np.abs(w[pred]).max(1), rtol=1e-6)
    assert not x.requires_grad


def test_grad_cam_with_global_average_pooling_is_cam():
    # conv → ReLU → GAP → linear: α_k = w_ck / (h·w), so Grad-CAM is CAM (Zhou et al. 2016)
    net = _net()
    x = shendu.randn(2, 1, 8, 8)
    cam = V.grad_cam(net, x, "3", target=1).numpy()
    assert cam.shape == (2, 8, 8) and cam.min() >= 0 and np.allclose(cam.max((1, 2)), 1)
    A = net[:4](x).detach().numpy()
    ref = np.maximum(np.einsum("k,nkhw->nhw", net[6].weight.detach().numpy()[1], A), 0)
    ref /= ref.max((1, 2), keepdims=True)
    np.testing.assert_allclose(cam, ref, rtol=1e-5, atol=1e-6)   # same size: no resampling
    small = V.grad_cam(net, shendu.randn(1, 1, 8, 8), "0")
    assert tuple(small.shape) == (1, 8, 8)
    with pytest.raises(ValueError, match="must output maps"):
        V.grad_cam(net, x, "6")


def test_grad_cam_on_a_zoo_model_upsamples():
    model = shendu.models.get_model("lenet", num_classes=10, image_size=32)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert tuple(model.get_submodule(convs[1])(shendu.randn(1, 6, 14, 14)).shape[2:]) == (10, 10)
    cam = V.grad_cam(model, shendu.randn(2, 1, 32, 32), convs[1])
    assert tuple(cam.shape) == (2, 32, 32)


def test_confusion_matrix_and_report(tmp_path):
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = np.array([0, 1, 0, 1, 1, 2, 0, 2, 1])
    cm = V.confusion_matrix(shendu.tensor(p), shendu.tensor(y))
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 2, 0], [1, 1, 2]])
    rep = V.classification_report(cm)
    np.testing.assert_allclose(rep["precision"], [2 / 3, 2 / 4, 2 / 2])
    np.testing.assert_allclose(rep["recall"], [2 / 3, 2 / 2, 2 / 4])
    np.testing.assert_allclose(rep["f1"], [2 / 3, 2 / 3, 2 / 3])
    assert rep["accuracy"] == pytest.approx(6 / 9) and list(rep["support"]) == [3, 2, 4]
    # scores are read as their argmax; an absent class gets 0, not NaN
    scores = np.eye(4)[[0, 1, 1]]
    cm2 = V.confusion_matrix(scores, np.array([0, 1, 3]), num_classes=4)
    assert cm2[3, 1] == 1 and V.classification_report(cm2)["f1"][2] == 0
    text = V.format_report(cm, classes=["cat", "dog", "emu"])
    assert "rows: true class" in text and "emu" in text and "0.667" in text
    V.plot_confusion_matrix(cm, tmp_path / "cm.png", classes=["cat", "dog", "emu"])
    assert (tmp_path / "cm.png").exists()
    with pytest.raises(ValueError, match="2 predictions for 3 targets"):
        V.confusion_matrix([0, 1], [0, 1, 1])
