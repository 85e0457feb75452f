"""Small models and MNIST-mini batches for the diagnose tests."""
from collections import OrderedDict

import shendu
from shendu import nn, datasets
from shendu.nn import init

_CACHE = {}


def mnist_batches(n_batches=2, batch_size=64, offset=0, train=True):
    """Normalised MNIST-mini batches [(x (B, 1, 28, 28), y (B,)), ...]."""
    key = train
    if key not in _CACHE:
        d = datasets.MNISTMini(train=train)
        _CACHE[key] = (((d.data.float() / 255) - 0.1307) / 0.3081).reshape(-1, 1, 28, 28), \
            d.targets
    x, y = _CACHE[key]
    out = []
    for i in range(n_batches):
        a = offset + i * batch_size
        out.append((x[a:a + batch_size], y[a:a + batch_size]))
    return out


def deep_mlp(act, depth=20, width=64, init_fn=None, in_features=784, classes=10):
    """flatten → (fc_k → act_k) × (depth − 1) → fc_depth; layer names fc1…, <act>1…"""
    layers = [("flatten", nn.Flatten())]
    n = in_features
    aname = act.__name__.lower()
    for i in range(1, depth + 1):
        out = width if i < depth else classes
        fc = nn.Linear(n, out)
        if init_fn is not None:
            init_fn(fc)
        layers.append((f"fc{i}", fc))
        if i < depth:
            layers.append((f"{aname}{i}", act()))
        n = out
    return nn.Sequential(OrderedDict(layers))


class BNLeNet(nn.Module):
    """LeNet-5 with BatchNorm after every hidden layer, Kaiming-initialised."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1, self.act1 = nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2, self.bn2, self.act2 = nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1, self.bn3, self.act3 = nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU()
        self.fc2, self.bn4, self.act4 = nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU()
        self.fc3 = nn.Linear(84, 10)
        for m in (self.conv1, self.conv2, self.fc1, self.fc2, self.fc3):
            init.kaiming_normal_(m.weight, nonlinearity="relu")
            init.zeros_(m.bias)

    def forward(self, x):
        x = self.pool1(self.act1(self.bn1(self.conv1(x))))
        x = self.pool2(self.act2(self.bn2(self.conv2(x))))
        x = self.act3(self.bn3(self.fc1(self.flatten(x))))
        x = self.act4(self.bn4(self.fc2(x)))
        return self.fc3(x)


def normal_init(std):
    def f(fc):
        init.normal_(fc.weight, 0.0, std)
        init.zeros_(fc.bias)
    return f


def kaiming_times(k):
    def f(fc):
        init.kaiming_normal_(fc.weight, nonlinearity="relu")
        with shendu.no_grad():
            fc.weight.mul_(k)
        init.zeros_(fc.bias)
    return f


def mnist_images(train=True):
    """All normalised MNIST-mini images (N, 1, 28, 28) and labels (N,)."""
    mnist_batches(1, train=train)
    return _CACHE[train]
