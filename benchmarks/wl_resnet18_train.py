"""CIFAR ResNet-18 training step (forward + backward + SGD), 3×32×32, batch 32, float32."""
from _models import count_flop, resnet18_cifar, classifier_step

ITERS = 3
TARGET = 1.3


def make(lib, batch=32):
    return classifier_step(lib, resnet18_cifar, (3, 32, 32), batch)


def flop(lib, batch=32):
    return count_flop(lib, resnet18_cifar(lib), lib.randn(batch, *(3, 32, 32)), train=True)
