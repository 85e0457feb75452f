"""Squeeze-and-Excitation (Hu, Shen and Sun 2017): a channel-attention gate.

squeeze: global average pool to one number per channel; excitation: 1×1 conv (C → C/r),
ReLU, 1×1 conv (C/r → C), sigmoid; the input is scaled channel by channel by the result.
``SEBlock`` has torchvision's ``SqueezeExcitation`` keys (fc1, fc2) and fits any network;
in a ResNet it gates the residual branch before the sum (``se_resnet18`` … ``se_resnet101``
take every ResNet option, e.g. ``small_input=True``).
"""
from .. import nn
from ._utils import register_model, load_weights
from .resnet import BasicBlock, Bottleneck, ResNet

__all__ = ["SEBlock", "SEBasicBlock", "SEBottleneck", "se_resnet18", "se_resnet34",
           "se_resnet50", "se_resnet101"]


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16, squeeze_channels=None):
        super().__init__()
        squeeze_channels = squeeze_channels or max(1, channels // reduction)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x):
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x


class _SqueezeExcite:
    """Mixed into a ResNet block: an SEBlock (reduction 16) on the residual branch."""
    reduction = 16

    def __init__(self, inplanes, planes, *args, **kwargs):
        super().__init__(inplanes, planes, *args, **kwargs)
        self.se = SEBlock(planes * self.expansion, self.reduction)

    def _excite(self, out):
        return self.se(out)


class SEBasicBlock(_SqueezeExcite, BasicBlock):
    """A ResNet basic block whose residual branch is gated by an SEBlock."""


class SEBottleneck(_SqueezeExcite, Bottleneck):
    """A ResNet bottleneck whose residual branch is gated by an SEBlock."""


@register_model
def se_resnet18(*, weights=None, **kwargs):
    return load_weights(ResNet(SEBasicBlock, [2, 2, 2, 2], **kwargs), weights)


@register_model
def se_resnet34(*, weights=None, **kwargs):
    return load_weights(ResNet(SEBasicBlock, [3, 4, 6, 3], **kwargs), weights)


@register_model
def se_resnet50(*, weights=None, **kwargs):
    return load_weights(ResNet(SEBottleneck, [3, 4, 6, 3], **kwargs), weights)


@register_model
def se_resnet101(*, weights=None, **kwargs):
    return load_weights(ResNet(SEBottleneck, [3, 4, 23, 3], **kwargs), weights)
