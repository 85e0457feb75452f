"""DenseNet (Huang et al. 2016): inside a dense block every layer receives the
concatenation of all earlier feature maps and adds ``growth_rate`` new channels
(BN → ReLU → 1×1 conv to ``bn_size·growth_rate`` → BN → ReLU → 3×3 conv). Transitions
between blocks halve the channels (1×1 conv) and the resolution (2×2 average pool).
Layout, keys (``features.denseblock1.denselayer1.norm1.weight`` …) and initialisation are
torchvision's; densenet121 has 7,978,856 parameters.

``small_input=True``: a 3×3 stride-1 stem without max pool, for 32×32 images.
"""
from collections import OrderedDict

from .. import nn
from .. import _ops
from ._utils import register_model, load_weights, init_conv_bn_linear

__all__ = ["DenseNet", "densenet121", "densenet161", "densenet169", "densenet201"]


class _DenseLayer(nn.Module):
    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features):
        x = _ops.shape.cat(features, 1) if isinstance(features, list) else features
        x = self.conv1(self.relu1(self.norm1(x)))
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = nn.functional.dropout(x, p=self.drop_rate, training=self.training)
        return x


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}",
                            _DenseLayer(num_input_features + i * growth_rate, growth_rate,
                                        bn_size, drop_rate))

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return _ops.shape.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features, num_output_features):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(num_input_features)),
            ("relu", nn.ReLU(inplace=True)),
            ("conv", nn.Conv2d(num_input_features, num_output_features, 1, bias=False)),
            ("pool", nn.AvgPool2d(kernel_size=2, stride=2)),
        ]))


class DenseNet(nn.Module):
    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64,
                 bn_size=4, drop_rate=0, num_classes=1000, memory_efficient=False,
                 in_channels=3, small_input=False):
        super().__init__()
        if small_input:
            conv0 = nn.Conv2d(in_channels, num_init_features, 3, 1, 1, bias=False)
            pool0 = nn.Identity()
        else:
            conv0 = nn.Conv2d(in_channels, num_init_features, 7, 2, 3, bias=False)
            pool0 = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.features = nn.Sequential(OrderedDict([
            ("conv0", conv0), ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)), ("pool0", pool0)]))
        n = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}",
                                     _DenseBlock(num_layers, n, bn_size, growth_rate, drop_rate))
            n += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(n, n // 2))
                n //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(n))
        self.classifier = nn.Linear(n, num_classes)
        init_conv_bn_linear(self, conv="kaiming_fan_in")
        nn.init.zeros_(self.classifier.bias)

    def forward(self, x):
        x = self.features(x).relu_()
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        return self.classifier(x)


def _densenet(growth_rate, block_config, num_init_features, weights, **kwargs):
    return load_weights(DenseNet(growth_rate, block_config, num_init_features, **kwargs), weights)


@register_model
def densenet121(*, weights=None, progress=True, **kwargs):
    return _densenet(32, (6, 12, 24, 16), 64, weights, **kwargs)


@register_model
def densenet161(*, weights=None, progress=True, **kwargs):
    return _densenet(48, (6, 12, 36, 24), 96, weights, **kwargs)


@register_model
def densenet169(*, weights=None, progress=True, **kwargs):
    return _densenet(32, (6, 12, 32, 32), 64, weights, **kwargs)


@register_model
def densenet201(*, weights=None, progress=True, **kwargs):
    return _densenet(32, (6, 12, 48, 32), 64, weights, **kwargs)
