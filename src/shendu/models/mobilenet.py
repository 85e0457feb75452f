"""MobileNets (seed 004): depthwise separable convolutions — a per-channel 3×3 (depthwise,
``groups=channels``) followed by a 1×1 across channels (pointwise) — cost about 1/9 of a
full 3×3 convolution's multiply-adds.

- ``MobileNetV1`` (Howard et al. 2017): a 3×3 stride-2 convolution and 13 depthwise
  separable blocks (BN and ReLU after each convolution), global average pool, fc;
  ``width_mult`` thins every layer (α in the paper).
- ``MobileNetV2`` (Sandler et al. 2018): inverted residuals — 1×1 expansion by t, 3×3
  depthwise, 1×1 linear projection (no ReLU: the "linear bottleneck"), with a shortcut when
  the shape is kept; ReLU6. Layout, keys and initialisation are torchvision's
  (3,504,872 parameters).

``small_input=True`` keeps the first stride-2 convolution at stride 1 (and, for V2, the
first 24-channel stage too), for 32×32 images.
"""
from .. import nn
from ._utils import register_model, load_weights, make_divisible, Conv2dNormActivation, \
    init_conv_bn_linear

__all__ = ["MobileNetV1", "MobileNetV2", "mobilenet_v1", "mobilenet_v2"]


def _depthwise_separable(inp, oup, stride):
    """3×3 depthwise conv → BN → ReLU, then 1×1 pointwise conv → BN → ReLU."""
    return nn.Sequential(Conv2dNormActivation(inp, inp, 3, stride, groups=inp),
                         Conv2dNormActivation(inp, oup, 1))


class MobileNetV1(nn.Module):
    # (output channels, stride) of the 13 depthwise separable blocks
    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
           (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

    def __init__(self, num_classes=1000, width_mult=1.0, in_channels=3, dropout=0.0,
                 small_input=False):
        super().__init__()
        ch = make_divisible(32 * width_mult)
        layers = [Conv2dNormActivation(in_channels, ch, 3, 1 if small_input else 2)]
        for c, s in self.cfg:
            out = make_divisible(c * width_mult)
            layers.append(_depthwise_separable(ch, out, s))
            ch = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(ch, num_classes))
        init_conv_bn_linear(self, linear_std=0.01)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.ReLU6))
        layers += [Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                        norm_layer=norm_layer, activation_layer=nn.ReLU6),
                   nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
                   norm_layer(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None,
                 round_nearest=8, block=None, norm_layer=None, dropout=0.2, in_channels=3,
                 small_input=False):
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        setting = inverted_residual_setting or [
            # t, c, n, s
            [1, 16, 1, 1], [6, 24, 2, 1 if small_input else 2], [6, 32, 3, 2], [6, 64, 4, 2],
            [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
        if len(setting) == 0 or len(setting[0]) != 4:
            raise ValueError("inverted_residual_setting should be non-empty and a 4-element "
                             f"list, got {setting}")
        input_channel = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(in_channels, input_channel, stride=1 if small_input
                                         else 2, norm_layer=norm_layer,
                                         activation_layer=nn.ReLU6)]
        for t, c, n, s in setting:
            output_channel = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1,
                                      expand_ratio=t, norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))
        init_conv_bn_linear(self, linear_std=0.01)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1)).flatten(1)
        return self.classifier(x)


@register_model
def mobilenet_v1(*, weights=None, **kwargs):
    """MobileNetV1 (``width_mult`` = α; ``small_input=True`` for 32×32 images)."""
    return load_weights(MobileNetV1(**kwargs), weights)


@register_model
def mobilenet_v2(*, weights=None, progress=True, **kwargs):
    """MobileNetV2 (torchvision's; ``small_input=True`` for 32×32 images)."""
    return load_weights(MobileNetV2(**kwargs), weights)
