"""SqueezeNet (Iandola et al. 2016; seed 004): AlexNet's accuracy with 50× fewer
parameters. Fire modules squeeze the channels with 1×1 convolutions and expand them again
with parallel 1×1 and 3×3 convolutions; the classifier is a 1×1 convolution to the classes
and a global average pool. Layout, keys and initialisation are torchvision's (1.1:
1,235,496 parameters, 2.4× less computation than 1.0).

``small_input=True``: a 3×3 stride-1 first convolution, for 32×32 images.
"""
from .. import nn
from .. import _ops
from ._utils import register_model, load_weights

__all__ = ["SqueezeNet", "Fire", "squeezenet1_0", "squeezenet1_1"]


class Fire(nn.Module):
    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return _ops.shape.cat([self.expand1x1_activation(self.expand1x1(x)),
                               self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    def __init__(self, version="1_0", num_classes=1000, dropout=0.5, in_channels=3,
                 small_input=False):
        super().__init__()
        self.num_classes = num_classes
        pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)   # noqa: E731
        if version == "1_0":
            conv = nn.Conv2d(in_channels, 96, 3, 1, 1) if small_input else \
                nn.Conv2d(in_channels, 96, kernel_size=7, stride=2)
            self.features = nn.Sequential(
                conv, nn.ReLU(inplace=True), pool(),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256), pool(),
                Fire(512, 64, 256, 256))
        elif version == "1_1":
            conv = nn.Conv2d(in_channels, 64, 3, 1, 1) if small_input else \
                nn.Conv2d(in_channels, 64, kernel_size=3, stride=2)
            self.features = nn.Sequential(
                conv, nn.ReLU(inplace=True), pool(),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256))
        else:
            raise ValueError(f"Unsupported SqueezeNet version {version}: 1_0 or 1_1 expected")
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x)).flatten(1)


@register_model
def squeezenet1_0(*, weights=None, progress=True, **kwargs):
    return load_weights(SqueezeNet("1_0", **kwargs), weights)


@register_model
def squeezenet1_1(*, weights=None, progress=True, **kwargs):
    return load_weights(SqueezeNet("1_1", **kwargs), weights)
