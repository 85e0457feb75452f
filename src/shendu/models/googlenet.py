"""GoogLeNet / Inception v1 (Szegedy et al. 2014; seed 001 "Inception blocks"): parallel
1×1, 3×3, 5×5 and pooling branches concatenated along channels, with 1×1 convolutions that
reduce the channels before the expensive branches. Layout, keys and initialisation are
torchvision's (which uses batch norm after every convolution and, like its reference
weights, a 3×3 kernel in the "5×5" branch); 6,624,904 parameters without the auxiliary
classifiers.

``aux_logits=True`` (torchvision's default) adds the two auxiliary classifiers; in training
mode the model then returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``, in eval
mode the logits alone. ``small_input=True``: a 3×3 stride-1 stem without the first max pool,
for 32×32 images.
"""
from collections import namedtuple

from .. import nn
from .. import _ops
from ._utils import register_model, load_weights

__all__ = ["GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "BasicConv2d",
           "googlenet"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class BasicConv2d(nn.Module):
    """conv (no bias) → batch norm (eps 0.001) → ReLU."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return self.bn(self.conv(x)).relu_()


class Inception(nn.Module):
    """Four branches, concatenated: 1×1 | 1×1 → 3×3 | 1×1 → 3×3 | 3×3 max pool → 1×1."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return _ops.shape.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                               self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """The auxiliary classifier: 4×4 average pool → 1×1 conv 128 → fc 1024 → dropout → fc."""

    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(nn.functional.adaptive_avg_pool2d(x, (4, 4)))
        x = self.fc1(x.flatten(1)).relu_()
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False,
                 init_weights=True, dropout=0.2, dropout_aux=0.7, in_channels=3,
                 small_input=False):
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        if small_input:
            self.conv1 = BasicConv2d(in_channels, 64, kernel_size=3, padding=1)
            self.maxpool1 = nn.Identity()
        else:
            self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)

        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def _transform_input(self, x):
        """Map inputs normalised with ImageNet's statistics to the (x - 0.5) / 0.5 range the
        original weights were trained on."""
        if not self.transform_input:
            return x
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        chans = [x[:, c:c + 1] * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5 for c in range(3)]
        return _ops.shape.cat(chans, 1)

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        want_aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if want_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if want_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if want_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


@register_model
def googlenet(*, weights=None, progress=True, **kwargs):
    """GoogLeNet; ``aux_logits=False`` drops the auxiliary classifiers."""
    return load_weights(GoogLeNet(**kwargs), weights)
