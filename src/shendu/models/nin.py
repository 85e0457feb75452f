"""Network in Network (Lin, Chen and Yan 2013; seed 001 "1×1 convolutions, and global
average pooling instead of dense layers"). Each NiN block is a spatial convolution followed
by two 1×1 convolutions (a small per-pixel MLP); the last block outputs one channel per
class and global average pooling turns them into the logits — no fully connected layer.

The layout is d2l's for 224×224 images (11×11/4, 5×5, 3×3 blocks of 96, 256, 384 channels
with 3×3/2 max pools, dropout 0.5 before the last block). ``small_input=True`` starts with
a 3×3 stride-1 block, for 32×32 / 28×28 images.
"""
from .. import nn
from ._utils import register_model, load_weights

__all__ = ["NiN", "nin", "nin_block"]


def nin_block(in_channels, out_channels, kernel_size, stride, padding):
    """conv k×k → ReLU → (conv 1×1 → ReLU) × 2."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(inplace=True))


class NiN(nn.Module):
    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5, small_input=False):
        super().__init__()
        first = (3, 1, 1) if small_input else (11, 4, 0)
        self.features = nn.Sequential(
            nin_block(in_channels, 96, *first), nn.MaxPool2d(3, stride=2),
            nin_block(96, 256, 5, 1, 2), nn.MaxPool2d(3, stride=2),
            nin_block(256, 384, 3, 1, 1), nn.MaxPool2d(3, stride=2),
            nn.Dropout(dropout),
            nin_block(384, num_classes, 3, 1, 1),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        return self.avgpool(self.features(x)).flatten(1)


@register_model
def nin(*, weights=None, **kwargs):
    """NiN for 224×224 images (``small_input=True`` for 32×32)."""
    return load_weights(NiN(**kwargs), weights)
