"""AlexNet (Krizhevsky, Sutskever and Hinton 2012; seed 001 "a deeper, larger LeNet"):
five convolutions with ReLU and max pooling, then two 4096-wide dropout layers.

The layout and keys are torchvision's (its single-GPU variant: 64/192/384/256/256 channels,
61,100,840 parameters). ``lrn=True`` adds the paper's local response normalization
(n=5, α=1e-4, β=0.75, k=2) after the first two ReLUs; the LRN sits inside the ReLU's slot,
so the keys, and torchvision's weights, stay valid. ``small_input=True`` is for 32×32 /
28×28 images: 3×3 stride-1 first convolution, 2×2 pools, a 2×2 adaptive pool and 1024-wide
hidden layers.
"""
from .. import nn
from ._utils import register_model, load_weights

__all__ = ["AlexNet", "alexnet"]


def _relu(lrn):
    if not lrn:
        return nn.ReLU(inplace=True)
    return nn.Sequential(nn.ReLU(inplace=True),
                         nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0))


class AlexNet(nn.Module):
    def __init__(self, num_classes=1000, dropout=0.5, in_channels=3, lrn=False,
                 small_input=False):
        super().__init__()
        if small_input:
            conv1, pool, grid, hidden = nn.Conv2d(in_channels, 64, 3, 1, 1), (2, 2), 2, 1024
        else:
            conv1, pool, grid, hidden = nn.Conv2d(in_channels, 64, 11, 4, 2), (3, 2), 6, 4096
        self.features = nn.Sequential(
            conv1, _relu(lrn), nn.MaxPool2d(*pool),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), _relu(lrn), nn.MaxPool2d(*pool),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(*pool),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((grid, grid))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * grid * grid, hidden), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


@register_model
def alexnet(*, weights=None, progress=True, **kwargs):
    """AlexNet; ``lrn=True`` for the paper's LRN, ``small_input=True`` for 32×32 images."""
    return load_weights(AlexNet(**kwargs), weights)
