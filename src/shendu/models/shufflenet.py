"""ShuffleNet V2 (Ma et al. 2018; seed 004). Each unit splits the channels in two: one half
passes through untouched, the other through 1×1 → 3×3 depthwise → 1×1; the halves are
concatenated and the channels shuffled (interleaved) so information crosses between the
halves. A down-sampling unit sends the whole input through both (strided) branches.
Layout, keys and initialisation are torchvision's (x1.0: 2,278,604 parameters).

``small_input=True``: a stride-1 first convolution and no max pool, for 32×32 images.
"""
from .. import nn
from .. import _ops
from ._utils import register_model, load_weights, Conv2dNormActivation

__all__ = ["ShuffleNetV2", "shufflenet_v2", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
           "shufflenet_v2_x2_0"]


def _depthwise(channels, stride):
    return nn.Conv2d(channels, channels, 3, stride, 1, bias=False, groups=channels)


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride):
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError("illegal stride value")
        self.stride = stride
        half = oup // 2
        if stride == 1 and inp != half * 2:
            raise ValueError(f"Invalid combination of stride {stride}, inp {inp} and oup {oup} "
                             f"values. If stride == 1 then inp should be equal to oup // 2 << 1.")
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, stride), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            _depthwise(half, stride), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = _ops.shape.cat([x1, self.branch2(x2)], 1)
        else:
            out = _ops.shape.cat([self.branch1(x), self.branch2(x)], 1)
        return nn.functional.channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000,
                 inverted_residual=InvertedResidual, in_channels=3, small_input=False):
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels
        ch = stages_out_channels[0]
        self.conv1 = Conv2dNormActivation(in_channels, ch, 3, 1 if small_input else 2)
        self.maxpool = nn.Identity() if small_input else nn.MaxPool2d(3, stride=2, padding=1)
        for i, (repeats, out) in enumerate(zip(stages_repeats, stages_out_channels[1:])):
            seq = [inverted_residual(ch, out, 2)]
            seq += [inverted_residual(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*seq))
            ch = out
        self.conv5 = Conv2dNormActivation(ch, stages_out_channels[-1], 1)
        self.fc = nn.Linear(stages_out_channels[-1], num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean((2, 3)))


def _shufflenet(channels, weights, **kwargs):
    return load_weights(ShuffleNetV2([4, 8, 4], channels, **kwargs), weights)


@register_model
def shufflenet_v2_x0_5(*, weights=None, progress=True, **kwargs):
    return _shufflenet([24, 48, 96, 192, 1024], weights, **kwargs)


@register_model
def shufflenet_v2_x1_0(*, weights=None, progress=True, **kwargs):
    return _shufflenet([24, 116, 232, 464, 1024], weights, **kwargs)


@register_model
def shufflenet_v2_x1_5(*, weights=None, progress=True, **kwargs):
    return _shufflenet([24, 176, 352, 704, 1024], weights, **kwargs)


@register_model
def shufflenet_v2_x2_0(*, weights=None, progress=True, **kwargs):
    return _shufflenet([24, 244, 488, 976, 2048], weights, **kwargs)


shufflenet_v2 = shufflenet_v2_x1_0       # the paper's 1x width; get_model accepts the name too
