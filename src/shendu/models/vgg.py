"""VGG (Simonyan and Zisserman 2014; seed 001 "repeated VGG blocks"): stacks of 3×3
convolutions (optionally with batch norm), each block closed by a 2×2 max pool, then three
fully connected layers. Configurations A, B, D, E are VGG-11, 13, 16 and 19; keys and
initialisation are torchvision's.

``small_input=True`` (32×32 or 28×28 images) drops the last max pool and uses a 1×1
adaptive pool and 512-wide hidden layers, as the usual CIFAR VGGs.
"""
from .. import nn
from ._utils import register_model, load_weights, init_conv_bn_linear

__all__ = ["VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn"]

cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False, in_channels=3):
    """The feature extractor of a VGG configuration: numbers are 3×3 conv widths, "M" pools."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5,
                 small_input=False):
        super().__init__()
        self.features = features
        grid, hidden = (1, 512) if small_input else (7, 4096)
        self.avgpool = nn.AdaptiveAvgPool2d((grid, grid))
        self.classifier = nn.Sequential(
            nn.Linear(512 * grid * grid, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        if init_weights:
            init_conv_bn_linear(self, linear_std=0.01)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(cfg, batch_norm, weights, in_channels=3, small_input=False, **kwargs):
    layers = cfgs[cfg][:-1] if small_input else cfgs[cfg]
    model = VGG(make_layers(layers, batch_norm, in_channels), small_input=small_input, **kwargs)
    return load_weights(model, weights)


@register_model
def vgg11(*, weights=None, progress=True, **kwargs):
    return _vgg("A", False, weights, **kwargs)


@register_model
def vgg11_bn(*, weights=None, progress=True, **kwargs):
    return _vgg("A", True, weights, **kwargs)


@register_model
def vgg13(*, weights=None, progress=True, **kwargs):
    return _vgg("B", False, weights, **kwargs)


@register_model
def vgg13_bn(*, weights=None, progress=True, **kwargs):
    return _vgg("B", True, weights, **kwargs)


@register_model
def vgg16(*, weights=None, progress=True, **kwargs):
    return _vgg("D", False, weights, **kwargs)


@register_model
def vgg16_bn(*, weights=None, progress=True, **kwargs):
    return _vgg("D", True, weights, **kwargs)


@register_model
def vgg19(*, weights=None, progress=True, **kwargs):
    return _vgg("E", False, weights, **kwargs)


@register_model
def vgg19_bn(*, weights=None, progress=True, **kwargs):
    return _vgg("E", True, weights, **kwargs)
