"""The model zoo: parameter counts equal torchvision's, a forward pass at each model's
intended input size, torchvision's state_dict keys, the small-input variants, the
registry, and errors that name the layer which could not take the input."""
import numpy as np
import pytest

import shendu
from shendu import models, nn

# torchvision's counts (its docs' num_params / the models built with default arguments);
# mobilenet_v1, the LeNet-5 of seed 001 and SE-ResNet-50 from their papers.
PARAMS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336, "vgg11_bn": 132_868_840, "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736, "vgg16": 138_357_544, "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240, "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336,
    "wide_resnet50_2": 68_883_240,
    "densenet121": 7_978_856, "densenet161": 28_681_000, "densenet169": 14_149_480,
    "densenet201": 20_013_928,
    "mobilenet_v2": 3_504_872, "mobilenet_v1": 4_231_976,
    "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
    "shufflenet_v2_x0_5": 1_366_792, "shufflenet_v2_x1_0": 2_278_604,
    "shufflenet_v2_x1_5": 3_503_624, "shufflenet_v2_x2_0": 7_393_996,
    "lenet": 61_706,
    "se_resnet50": 28_088_024,
    "googlenet": 13_004_888,      # torchvision's default keeps the auxiliary classifiers
}

# key names that torchvision's state_dicts contain (spot checks per family; the full key
# lists of resnet18 and mobilenet_v2 are compared with torch twins in test_parity.py)
TORCHVISION_KEYS = {
    "alexnet": ["features.0.weight", "features.3.weight", "features.10.bias",
                "classifier.1.weight", "classifier.4.weight", "classifier.6.bias"],
    "vgg16_bn": ["features.0.weight", "features.1.running_var", "features.1.num_batches_tracked",
                 "features.41.weight", "classifier.0.weight", "classifier.6.bias"],
    "googlenet": ["conv1.conv.weight", "conv1.bn.running_mean", "inception3a.branch1.conv.weight",
                  "inception3a.branch2.1.bn.weight", "inception4e.branch4.1.conv.weight",
                  "aux1.conv.conv.weight", "aux1.fc1.weight", "aux2.fc2.bias", "fc.weight"],
    "resnet50": ["conv1.weight", "bn1.running_mean", "layer1.0.conv3.weight",
                 "layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_var",
                 "layer4.2.bn3.bias", "fc.weight"],
    "densenet121": ["features.conv0.weight", "features.norm0.running_mean",
                    "features.denseblock1.denselayer1.norm1.weight",
                    "features.denseblock1.denselayer6.conv2.weight",
                    "features.transition1.conv.weight", "features.transition3.norm.running_var",
                    "features.denseblock4.denselayer16.conv2.weight", "features.norm5.bias",
                    "classifier.weight"],
    "mobilenet_v2": ["features.0.0.weight", "features.0.1.running_mean",
                     "features.1.conv.0.0.weight", "features.1.conv.1.weight",
                     "features.2.conv.0.0.weight", "features.2.conv.3.running_var",
                     "features.18.0.weight", "classifier.1.weight"],
    "squeezenet1_1": ["features.0.weight", "features.3.squeeze.weight",
                      "features.3.expand1x1.weight", "features.12.expand3x3.bias",
                      "classifier.1.weight", "classifier.1.bias"],
    "shufflenet_v2_x1_0": ["conv1.0.weight", "conv1.1.running_mean", "stage2.0.branch1.0.weight",
                           "stage2.0.branch1.2.weight", "stage2.0.branch2.6.running_var",
                           "stage2.3.branch2.3.weight", "stage4.3.branch2.5.weight",
                           "conv5.0.weight", "conv5.1.bias", "fc.weight"],
    "resnext50_32x4d": ["layer1.0.conv2.weight", "layer3.5.bn3.weight"],
}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", [n for n in models.list_models() if n not in ("lenet", "mlp")])
def test_model(name):
    """Built once per model: parameter count, torchvision's keys, a forward at the intended
    224×224 (eval mode, batch 1)."""
    m = models.get_model(name)
    if name in PARAMS:
        assert n_params(m) == PARAMS[name]
    if name in TORCHVISION_KEYS:
        sd = m.state_dict()
        missing = [k for k in TORCHVISION_KEYS[name] if k not in sd]
        assert not missing
        if not name.startswith("vgg"):            # small_input never changes the keys
            assert list(models.get_model(name, small_input=True).state_dict()) == list(sd)
    m.eval()
    with shendu.no_grad():
        y = m(shendu.randn(1, 3, 224, 224))
    assert y.shape == (1, 1000)
    assert np.isfinite(y.numpy()).all()


def test_googlenet_without_auxiliary_classifiers_and_train_mode_outputs():
    assert n_params(models.googlenet(aux_logits=False)) == 6_624_904     # torchvision's num_params
    heads = (512 + 528) * 128 + 2 * (2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000)
    assert 6_624_904 + heads == PARAMS["googlenet"]
    m = models.googlenet(num_classes=7, small_input=True)
    with shendu.no_grad():
        out = m(shendu.randn(2, 3, 32, 32))
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [tuple(t.shape) for t in out] == [(2, 7)] * 3
    m.eval()
    with shendu.no_grad():
        assert m(shendu.randn(1, 3, 32, 32)).shape == (1, 7)


def test_lenet_forward_at_28_and_32():
    assert models.lenet()(shendu.randn(2, 1, 28, 28)).shape == (2, 10)
    assert models.LeNet(image_size=32)(shendu.randn(2, 1, 32, 32)).shape == (2, 10)
    classic = models.LeNet(activation="sigmoid", pool="avg")
    assert isinstance(classic.act1, nn.Sigmoid) and isinstance(classic.pool1, nn.AvgPool2d)
    assert n_params(classic) == 61_706
    with pytest.raises(ValueError, match="activation"):
        models.LeNet(activation="swish")


def test_mlp():
    m = models.mlp()
    assert list(m.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
                                    "fc3.weight", "fc3.bias"]
    assert n_params(m) == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert m(shendu.randn(3, 1, 28, 28)).shape == (3, 10)
    v = models.MLP(num_classes=2, in_features=5, hidden_sizes=(8,), dropout=0.5)
    assert v(shendu.randn(4, 5)).shape == (4, 2)
    assert isinstance(v.dropout1, nn.Dropout)


SMALL = [n for n in models.list_models() if n not in ("lenet", "mlp")]


@pytest.mark.parametrize("name", SMALL)
def test_small_input_variant_on_mnist_and_cifar_sizes(name):
    """28×28 and 32×32 images, one channel, 10 classes."""
    if name.endswith(("101", "152", "161", "169", "201", "x2_0", "32x8d", "50_2")) or \
            name.startswith(("vgg13", "vgg19")):
        pytest.skip("same code as a smaller member of the family")
    m = models.get_model(name, num_classes=10, small_input=True, in_channels=1).eval()
    with shendu.no_grad():
        assert m(shendu.randn(1, 1, 28, 28)).shape == (1, 10)
        assert m(shendu.randn(1, 1, 32, 32)).shape == (1, 10)


def test_key_shapes_that_pin_the_layouts():
    g = models.resnext50_32x4d().state_dict()
    assert g["layer1.0.conv2.weight"].shape == (128, 4, 3, 3)        # 32 groups of 4
    sq = models.squeezenet1_1().state_dict()
    assert sq["features.0.weight"].shape == (64, 3, 3, 3)
    sh = models.shufflenet_v2_x1_0().state_dict()
    assert sh["stage2.0.branch1.0.weight"].shape == (24, 1, 3, 3)    # depthwise
    assert sh["stage2.1.branch2.0.weight"].shape == (58, 58, 1, 1)
    d = models.densenet121().state_dict()
    assert d["features.denseblock2.denselayer1.conv1.weight"].shape == (128, 128, 1, 1)
    assert d["classifier.weight"].shape == (1000, 1024)


def test_alexnet_lrn_keeps_torchvision_keys():
    a, b = models.alexnet(), models.alexnet(lrn=True)
    assert list(a.state_dict()) == list(b.state_dict())
    lrn = b.features[1][1]
    assert isinstance(lrn, nn.LocalResponseNorm)
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 1e-4, 0.75, 2.0)
    b.load_state_dict(a.state_dict())
    x = shendu.randn(1, 3, 224, 224)
    a.eval(), b.eval()
    with shendu.no_grad():
        ya, yb = a(x), b(x)
    assert ya.shape == yb.shape == (1, 1000)
    assert not np.allclose(ya.numpy(), yb.numpy())


def test_se_block_gates_the_residual_branch():
    se = models.SEBlock(32, reduction=4)
    assert list(se.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert se.fc1.out_channels == 8
    x = shendu.randn(2, 32, 5, 5)
    with shendu.no_grad():
        y = se(x)
    gate = y.numpy() / x.numpy()                    # one factor in (0, 1) per (image, channel)
    assert np.allclose(gate, gate[:, :, :1, :1], atol=1e-5)
    assert ((gate > 0) & (gate < 1)).all()
    net = models.se_resnet18(num_classes=10, small_input=True)
    assert isinstance(net.layer3[1].se, models.SEBlock)
    assert "layer3.1.se.fc1.weight" in net.state_dict()
    assert n_params(net) - n_params(models.resnet18(num_classes=10, small_input=True)) == \
        sum(2 * (c * (c // 16)) + c // 16 + c for c in (64, 128, 256, 512) for _ in range(2))


def test_zero_init_residual_and_dilation():
    m = models.resnet50(zero_init_residual=True)
    assert float(m.layer2[0].bn3.weight.abs().sum()) == 0.0
    d = models.resnet50(replace_stride_with_dilation=[False, True, True]).eval()
    with shendu.no_grad():
        assert d(shendu.randn(1, 3, 64, 64)).shape == (1, 1000)
    assert d.layer4[1].conv2.dilation == (4, 4)
    with pytest.raises(ValueError, match="replace_stride_with_dilation"):
        models.resnet18(replace_stride_with_dilation=[True])


def test_registry():
    names = models.list_models()
    for required in ["lenet", "alexnet", "vgg11", "vgg16_bn", "nin", "googlenet", "resnet18",
                     "resnet101", "preact_resnet18", "resnext50_32x4d", "densenet121",
                     "mobilenet_v1", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x1_0",
                     "se_resnet18", "mlp"]:
        assert required in names
    assert names == sorted(names)
    assert models.list_models(include="resnet*") == ["resnet101", "resnet152", "resnet18",
                                                     "resnet34", "resnet50"]
    assert "vgg11" not in models.list_models(exclude=["vgg*"])
    assert models.list_models(module="shendu.models.mobilenet") == ["mobilenet_v1",
                                                                    "mobilenet_v2"]
    m = models.get_model("ResNet18", num_classes=3, small_input=True)
    assert isinstance(m, models.ResNet) and m.fc.out_features == 3
    with pytest.raises(ValueError, match=r"unknown model 'resnet19'.*resnet18"):
        models.get_model("resnet19")


def test_weights_argument_loads_a_file(tmp_path):
    src = models.resnet18(num_classes=4, small_input=True)
    shendu.save(src.state_dict(), tmp_path / "r18.safetensors")
    dst = models.resnet18(num_classes=4, small_input=True,
                          weights=str(tmp_path / "r18.safetensors"))
    for k, v in src.state_dict().items():
        assert np.array_equal(v.numpy(), dst.state_dict()[k].numpy())
    with pytest.raises(RuntimeError, match=r"size mismatch for fc.weight"):
        models.resnet18(num_classes=5, small_input=True, weights=tmp_path / "r18.safetensors")
    with pytest.raises(TypeError, match="weights must be None"):
        models.resnet18(weights=3)


# ---------------------------------------------------------------------- wrong inputs
def test_wrong_image_size_names_the_layer():
    m = models.LeNet(image_size=32)
    with pytest.raises(nn.LayerInputError) as e:
        m(shendu.randn(1, 1, 36, 36))
    assert str(e.value).startswith("model.fc1 (Linear 400→120) got input of shape (1, 576)")
    with pytest.raises(nn.LayerInputError, match=r"model\.fc1 \(Linear 400→120\) got input of "
                                                 r"shape \(2, 576\)"):
        models.lenet()(shendu.randn(2, 1, 32, 32))


def test_wrong_channel_count_names_the_stem():
    with pytest.raises(nn.LayerInputError, match=r"model\.conv1 \(Conv2d 3→64.*\(1, 1, 224, 224\)"
                                                 r".*1 channels.*3"):
        models.resnet18()(shendu.randn(1, 1, 224, 224))
    with pytest.raises(nn.LayerInputError, match=r"model\.features\.0\.0 \(Conv2d 3→32"):
        models.mobilenet_v2()(shendu.randn(1, 4, 64, 64))


def test_too_small_image_names_the_pooling_layer():
    with pytest.raises(RuntimeError, match=r"model\.features\.12 \(MaxPool2d\).*too small"):
        models.alexnet()(shendu.randn(1, 3, 32, 32))
    with pytest.raises(RuntimeError, match=r"model\.features\.15 \(MaxPool2d\)"):
        models.vgg11(small_input=True)(shendu.randn(1, 3, 8, 8))


def test_a_flat_input_to_a_cnn():
    with pytest.raises(nn.LayerInputError, match=r"model\.conv1 \(Conv2d"):
        models.resnet18()(shendu.randn(2, 3 * 32 * 32))


def test_shufflenet_v2_short_name_is_the_1x_model():
    assert models.shufflenet_v2 is models.shufflenet_v2_x1_0
    assert models.get_model_builder("shufflenet_v2") is models.get_model_builder(
        "shufflenet_v2_x1_0")
    assert "shufflenet_v2" not in models.list_models()       # one entry per architecture
