"""Residual networks (He et al. 2015; seed 004): y = F(x) + x, so a block only has to learn
the residual F, and depth stops degrading accuracy.

- ``BasicBlock``: two 3×3 convolutions (ResNet-18/34).
- ``Bottleneck``: 1×1 reduce → 3×3 → 1×1 expand ×4 (ResNet-50/101/152); with ``groups`` and
  ``width_per_group`` it is ResNeXt's block (grouped 3×3: ``resnext50_32x4d``).
- ``ResNet``: the 7×7 stride-2 stem and 3×3 max pool, four stages (the first block of
  stages 2-4 halves the resolution, a 1×1 projection matches the shortcut), global average
  pool and one fully connected layer. Keys and initialisation are torchvision's.
- ``PreActResNet`` (He et al. 2016, "Identity mappings"): BN → ReLU → conv inside each
  block, so the shortcut path is a pure identity; a final BN → ReLU before pooling.

``small_input=True`` replaces the stem by a 3×3 stride-1 convolution without max pool, for
32×32 (CIFAR) or 28×28 (MNIST) images — ``resnet18(num_classes=10, small_input=True)`` is
the usual CIFAR ResNet-18.
"""
from .. import nn
from ._utils import register_model, load_weights, init_conv_bn_linear

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "PreActResNet", "PreActBlock",
           "PreActBottleneck", "resnet18", "resnet34", "resnet50",
           "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2",
           "preact_resnet18", "preact_resnet34", "preact_resnet50"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def _excite(self, out):
        """The residual branch's last step before the sum (identity; SE blocks override)."""
        return out

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self._excite(self.bn2(self.conv2(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def _excite(self, out):
        return out

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self._excite(self.bn3(self.conv3(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def _stem(in_channels, small_input):
    """(first convolution, max pool): 7×7/2 + 3×3/2 pool, or 3×3/1 and no pool."""
    if small_input:
        return nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.Identity()
    return (nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None,
                 in_channels=3, small_input=False):
        super().__init__()
        self._norm_layer = norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1, maxpool = _stem(in_channels, small_input)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = maxpool
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        init_conv_bn_linear(self)
        if zero_init_residual:
            for m in self.modules():
                last = getattr(m, "bn3", None) if isinstance(m, Bottleneck) else \
                    getattr(m, "bn2", None) if isinstance(m, BasicBlock) else None
                if last is not None and last.weight is not None:
                    nn.init.zeros_(last.weight)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _resnet(block, layers, weights, **kwargs):
    return load_weights(ResNet(block, layers, **kwargs), weights)


@register_model
def resnet18(*, weights=None, progress=True, **kwargs):
    """ResNet-18 (11,689,512 parameters); ``small_input=True`` for 32×32 images."""
    return _resnet(BasicBlock, [2, 2, 2, 2], weights, **kwargs)


@register_model
def resnet34(*, weights=None, progress=True, **kwargs):
    return _resnet(BasicBlock, [3, 4, 6, 3], weights, **kwargs)


@register_model
def resnet50(*, weights=None, progress=True, **kwargs):
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, **kwargs)


@register_model
def resnet101(*, weights=None, progress=True, **kwargs):
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, **kwargs)


@register_model
def resnet152(*, weights=None, progress=True, **kwargs):
    return _resnet(Bottleneck, [3, 8, 36, 3], weights, **kwargs)


@register_model
def resnext50_32x4d(*, weights=None, progress=True, **kwargs):
    """ResNeXt-50: bottlenecks with a 3×3 convolution in 32 groups of 4 channels (×stage)."""
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, groups=32, width_per_group=4, **kwargs)


@register_model
def resnext101_32x8d(*, weights=None, progress=True, **kwargs):
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, groups=32, width_per_group=8, **kwargs)


@register_model
def wide_resnet50_2(*, weights=None, progress=True, **kwargs):
    """Wide ResNet-50-2: bottlenecks twice as wide inside."""
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, width_per_group=128, **kwargs)


# ---------------------------------------------------------------------- pre-activation
class PreActBlock(nn.Module):
    """BN → ReLU → conv 3×3 → BN → ReLU → conv 3×3, plus the shortcut (a 1×1 projection of
    the pre-activated input when the shape changes)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = conv1x1(inplanes, planes * self.expansion, stride) \
            if stride != 1 or inplanes != planes * self.expansion else None

    def forward(self, x):
        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + identity


class PreActBottleneck(nn.Module):
    """BN → ReLU → 1×1 → BN → ReLU → 3×3 → BN → ReLU → 1×1 (×4), plus the shortcut."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = conv1x1(inplanes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = conv1x1(inplanes, planes * self.expansion, stride) \
            if stride != 1 or inplanes != planes * self.expansion else None

    def forward(self, x):
        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + identity


class PreActResNet(nn.Module):
    """Stem (conv, and the max pool unless ``small_input``), four stages of pre-activation
    blocks, BN → ReLU, global average pool, fc."""

    def __init__(self, block, layers, num_classes=1000, in_channels=3, small_input=False):
        super().__init__()
        self.conv1, self.maxpool = _stem(in_channels, small_input)
        inplanes = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for j in range(n):
                blocks.append(block(inplanes, planes, 2 if i > 0 and j == 0 else 1))
                inplanes = planes * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.bn = nn.BatchNorm2d(inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)
        init_conv_bn_linear(self)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.relu(self.bn(x))
        return self.fc(self.avgpool(x).flatten(1))


@register_model
def preact_resnet18(*, weights=None, **kwargs):
    """Pre-activation ResNet-18 (``small_input=True`` for 32×32 images)."""
    return load_weights(PreActResNet(PreActBlock, [2, 2, 2, 2], **kwargs), weights)


@register_model
def preact_resnet34(*, weights=None, **kwargs):
    return load_weights(PreActResNet(PreActBlock, [3, 4, 6, 3], **kwargs), weights)


@register_model
def preact_resnet50(*, weights=None, **kwargs):
    return load_weights(PreActResNet(PreActBottleneck, [3, 4, 6, 3], **kwargs), weights)
