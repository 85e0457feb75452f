"""shendu.summary on the zoo: output shapes, parameters (trainable/frozen), multiply-adds
and receptive fields checked by hand (seed 000 感受野) and against torchvision's GFLOPS."""
import pytest

import shendu
from shendu import models, nn


def rows(s):
    return {L.name: L for L in s.layers}


def test_lenet_table_by_hand():
    s = shendu.summary(models.lenet(), (1, 28, 28), verbose=0)
    r = rows(s)
    assert [L.name for L in s.layers] == ["conv1", "act1", "pool1", "conv2", "act2", "pool2",
                                          "flatten", "fc1", "act3", "fc2", "act4", "fc3"]
    assert r["conv1"].output_shape == (1, 6, 28, 28)
    assert r["pool1"].output_shape == (1, 6, 14, 14)
    assert r["conv2"].output_shape == (1, 16, 10, 10)
    assert r["pool2"].output_shape == (1, 16, 5, 5)
    assert r["flatten"].output_shape == (1, 400)
    assert [r[k].params for k in ("conv1", "conv2", "fc1", "fc2", "fc3")] == \
        [6 * 25 + 6, 16 * 6 * 25 + 16, 400 * 120 + 120, 120 * 84 + 84, 84 * 10 + 10]
    # multiply-adds: output elements × inputs per output
    assert r["conv1"].mult_adds == 6 * 28 * 28 * 25
    assert r["conv2"].mult_adds == 16 * 10 * 10 * 6 * 25
    assert r["fc1"].mult_adds == 400 * 120
    assert s.total_mult_adds == 117_600 + 240_000 + 48_000 + 10_080 + 840
    # receptive field: r += (k - 1)·jump, jump *= stride
    #   conv1 5×5: 5 (jump 1); pool1 2/2: 5 + 1 = 6 (jump 2); conv2 5×5: 6 + 4·2 = 14;
    #   pool2 2/2: 14 + 1·2 = 16 (jump 4)
    assert [r[k].receptive_field for k in ("conv1", "pool1", "conv2", "pool2")] == \
        [(5, 5), (6, 6), (14, 14), (16, 16)]
    assert r["fc1"].receptive_field is None
    assert s.total_params == s.trainable_params == 61_706 and s.frozen_params == 0
    text = str(s)
    assert "conv2 (Conv2d)" in text and "14x14" in text and "Total params: 61,706" in text
    assert "Total mult-adds: 416.52 K" in text


def test_small_conv_stack_receptive_fields_by_hand():
    net = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Conv2d(2, 4, 3, stride=2, dilation=2),
                        nn.MaxPool2d(3, 2, padding=1), nn.AvgPool2d(2), nn.Conv2d(4, 4, (1, 3)))
    s = shendu.summary(net, (3, 40, 40), verbose=0)
    # 3×3: 3, jump 1 | 3×3 dilated 2, stride 2: 3 + 2·2·1 = 7, jump 2 | max 3/2: 7 + 2·2 = 11,
    # jump 4 | avg 2/2: 11 + 1·4 = 15, jump 8 | 1×3: (15, 15 + 2·8 = 31)
    assert [L.receptive_field for L in s.layers] == [(3, 3), (7, 7), (11, 11), (15, 15), (15, 31)]
    assert [L.output_shape for L in s.layers] == [(1, 2, 38, 38), (1, 4, 17, 17), (1, 4, 9, 9),
                                                 (1, 4, 4, 4), (1, 4, 4, 2)]


def test_seed_parameter_examples():
    # seed 002: two 3×3×3 filters have (3·3·3 + 1)·2 = 56 parameters
    assert shendu.summary(nn.Conv2d(3, 2, 3), (3, 8, 8), verbose=0).total_params == 56
    # seed 001 writes (3·3 + 1)·2·3 = 60 for 2 input and 3 output channels, one bias per
    # input-output pair; convolutions (torch's and ours) have one bias per output channel
    assert shendu.summary(nn.Conv2d(2, 3, 3), (2, 8, 8), verbose=0).total_params == 54 + 3


def test_resnet18_frozen_layers_and_residual_fields():
    m = models.resnet18(num_classes=10, small_input=True)
    m.conv1.requires_grad_(False)
    m.layer1.requires_grad_(False)
    s = shendu.summary(m, (3, 32, 32), verbose=0)
    r = rows(s)
    frozen = 64 * 3 * 9 + sum(p.numel() for p in m.layer1.parameters())
    assert s.total_params == 11_173_962
    assert s.frozen_params == frozen and s.trainable_params == 11_173_962 - frozen
    assert r["conv1"].trainable == 0 and r["bn1"].trainable == 128
    assert "  no  " in str(s).splitlines()[3]          # the conv1 row says it is frozen
    assert r["layer4.1.conv2"].output_shape == (1, 512, 4, 4)
    assert r["fc"].output_shape == (1, 10)
    # 3×3 stem: 3; layer1 adds 2 per conv (jump 1): 5, 7, 9, 11; layer2.0.conv1 stride 2:
    # 13 (jump 2), conv2: 17; the 1×1 stride-2 shortcut keeps 11; their sum takes the larger
    assert r["conv1"].receptive_field == (3, 3)
    assert r["layer1.1.conv2"].receptive_field == (11, 11)
    assert r["layer2.0.conv2"].receptive_field == (17, 17)
    assert r["layer2.0.downsample.0"].receptive_field == (11, 11)
    assert r["layer2.1.conv1"].receptive_field == (21, 21)
    assert r["layer3.0.conv1"].receptive_field == (25 + 2 * 2, 29)     # jump 2 before stride
    assert r["layer4.1.conv2"].receptive_field == (109, 109)


def test_imagenet_resnet18_stem_field_and_shapes():
    s = shendu.summary(models.resnet18(), (3, 224, 224), verbose=0)
    r = rows(s)
    assert r["conv1"].receptive_field == (7, 7)              # 7×7/2
    assert r["maxpool"].receptive_field == (11, 11)          # + (3 - 1)·2
    assert r["maxpool"].output_shape == (1, 64, 56, 56)
    assert r["layer4.1.conv2"].output_shape == (1, 512, 7, 7)   # seed 004: 224→112→56→28→14→7


# torchvision's GFLOPS (their convolution and linear multiply-adds, in G) for 224×224
TORCHVISION_GMACS = {"resnet18": 1.81, "resnet50": 4.09, "mobilenet_v2": 0.30, "alexnet": 0.71,
                     "squeezenet1_1": 0.35, "shufflenet_v2_x1_0": 0.14, "densenet121": 2.83,
                     "googlenet": 1.50}


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS))
def test_mult_adds_match_torchvision(name):
    kw = {"aux_logits": False} if name == "googlenet" else {}
    s = shendu.summary(models.get_model(name, **kw), (3, 224, 224), verbose=0,
                       receptive_field=False)
    gmacs = sum(L.mult_adds for L in s.layers if L.kind in ("Conv2d", "Linear")) / 1e9
    assert abs(gmacs - TORCHVISION_GMACS[name]) <= 0.005 + 1e-9


def test_summary_of_a_float64_model_uses_float64_inputs():
    s = shendu.summary(models.lenet().double(), (1, 28, 28), verbose=0)
    assert s.total_mult_adds == 416_520


def test_depth_limits_the_rows_and_mode_is_restored():
    m = models.resnet18(num_classes=10, small_input=True)
    m.train()
    s = shendu.summary(m, (3, 32, 32), verbose=0, depth=1)
    assert [L.name for L in s.layers] == ["conv1", "bn1", "relu", "maxpool", "avgpool", "fc"]
    assert m.training and s.total_params == 11_173_962
    assert shendu.summary(m, input_data=shendu.zeros(2, 3, 32, 32), verbose=0) \
        .layers[-1].output_shape == (2, 10)
    with pytest.raises(ValueError, match="input_size"):
        shendu.summary(m)
