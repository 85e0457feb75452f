"""float64 parity with the same architectures written in torch (zoo_refs.py), weights
copied through state_dict (identical keys, same order): outputs in train and eval mode,
the input's and every parameter's gradient, and the batch-norm running statistics."""
import pytest
import torch

from shendu import models
from zoo_refs import TorchLeNet, TorchResNet18, TorchMobileNetV2, check_parity


@pytest.fixture(autouse=True)
def _seeded_torch():
    """The torch twins draw their initial weights when built, before check_parity seeds:
    seed here so every run compares the same weights (torch's own start seed varies)."""
    torch.manual_seed(0)


@pytest.mark.parametrize("image_size", [28, 32])
def test_lenet(image_size):
    check_parity(TorchLeNet(image_size=image_size), models.LeNet(image_size=image_size),
                 (3, 1, image_size, image_size))


def test_lenet_rgb_100_classes():
    check_parity(TorchLeNet(num_classes=100, in_channels=3),
                 models.lenet(num_classes=100, in_channels=3), (2, 3, 28, 28))


def test_resnet18_imagenet_stem():
    # the ImageNet architecture (7×7/2 stem, max pool) on 64×64 images keeps the test fast;
    # the layers' shapes, hence every parameter, are those of the 224×224 model
    check_parity(TorchResNet18(), models.resnet18(), (2, 3, 64, 64))


def test_resnet18_small_input():
    check_parity(TorchResNet18(num_classes=10, small_input=True),
                 models.resnet18(num_classes=10, small_input=True), (2, 3, 32, 32))


def test_mobilenet_v2():
    check_parity(TorchMobileNetV2(), models.mobilenet_v2(), (2, 3, 64, 64))


def test_mobilenet_v2_small_input_one_channel():
    check_parity(TorchMobileNetV2(num_classes=10, in_channels=1, small_input=True),
                 models.mobilenet_v2(num_classes=10, in_channels=1, small_input=True),
                 (2, 1, 32, 32))


def test_torch_reference_matches_the_torchvision_counts():
    """The torch twins are torchvision's architectures: same parameter counts."""
    count = lambda m: sum(p.numel() for p in m.parameters())          # noqa: E731
    assert count(TorchResNet18()) == 11_689_512
    assert count(TorchMobileNetV2()) == 3_504_872
    assert count(TorchLeNet()) == 61_706
