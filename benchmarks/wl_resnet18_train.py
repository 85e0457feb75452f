"""CIFAR ResNet-18 training step (forward + backward + SGD), 3×32×32, batch 32, float32."""
from _models import resnet18_cifar, classifier_step

ITERS = 3
TARGET = 2.0


def make(lib, batch=32):
    return classifier_step(lib, resnet18_cifar, (3, 32, 32), batch)
