"""A multilayer perceptron for images or feature vectors: flatten → (linear → activation
[→ dropout]) per hidden layer → linear to the classes. Keys: ``fc1.weight`` … ``fcN.bias``.
"""
from collections import OrderedDict

from .. import nn
from ._utils import register_model, load_weights

__all__ = ["MLP", "mlp"]

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
                "leaky_relu": nn.LeakyReLU}


class MLP(nn.Sequential):
    """``MLP(num_classes=10, in_channels=1, image_size=28, hidden_sizes=(256, 256))``; give
    ``in_features`` directly for vectors (it overrides in_channels × image_size²)."""

    def __init__(self, num_classes=10, in_channels=1, image_size=28, hidden_sizes=(256, 256),
                 activation="relu", dropout=0.0, in_features=None):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {sorted(_ACTIVATIONS)}, "
                             f"got {activation!r}")
        n = in_features or in_channels * image_size * image_size
        layers = [("flatten", nn.Flatten())]
        for i, h in enumerate(hidden_sizes, 1):
            layers += [(f"fc{i}", nn.Linear(n, h)), (f"{activation}{i}", _ACTIVATIONS[activation]())]
            if dropout:
                layers.append((f"dropout{i}", nn.Dropout(dropout)))
            n = h
        layers.append((f"fc{len(hidden_sizes) + 1}", nn.Linear(n, num_classes)))
        super().__init__(OrderedDict(layers))


@register_model
def mlp(*, weights=None, **kwargs):
    """An MLP (784-256-256-10 by default, for MNIST)."""
    return load_weights(MLP(**kwargs), weights)
