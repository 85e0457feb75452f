"""LeNet-5 (LeCun et al. 1998; seed 001): the first convolutional network.

    conv 5×5, 6 → pool 2 → conv 5×5, 16 → pool 2 → fc 120 → fc 84 → fc num_classes

For 32×32 inputs (the paper's) the first convolution has no padding; for 28×28 MNIST
images it pads by 2, so both reach the 16×5×5 = 400 features that ``fc1`` expects.
The default activation and pooling are ReLU and max (trains fastest); the classic
sigmoid/tanh with average pooling (d2l's version of the notes) is
``LeNet(activation="sigmoid", pool="avg")``.
"""
from .. import nn
from ._utils import register_model, load_weights

__all__ = ["LeNet", "lenet"]

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class LeNet(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, image_size=28, activation="relu",
                 pool="max"):
        super().__init__()
        if activation not in _ACTIVATIONS or pool not in _POOLS:
            raise ValueError(f"LeNet: activation must be one of {sorted(_ACTIVATIONS)} and pool "
                             f"one of {sorted(_POOLS)}, got {activation!r} and {pool!r}")
        act, pool_cls = _ACTIVATIONS[activation], _POOLS[pool]
        padding = 2 if image_size == 28 else 0
        side = ((image_size + 2 * padding - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet: image_size={image_size} is too small (at least 13)")
        self.image_size = image_size
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding)
        self.act1 = act()
        self.pool1 = pool_cls(2, 2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.act2 = act()
        self.pool2 = pool_cls(2, 2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.act3 = act()
        self.fc2 = nn.Linear(120, 84)
        self.act4 = act()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.act3(self.fc1(self.flatten(x)))
        x = self.act4(self.fc2(x))
        return self.fc3(x)


@register_model
def lenet(*, weights=None, **kwargs):
    """LeNet-5 for 1×28×28 images by default (``image_size=32`` for the paper's input)."""
    return load_weights(LeNet(**kwargs), weights)
