"""CIFAR ResNet-18 inference (eval mode, no_grad), 3×32×32, batch 32, float32."""
from _models import count_flop, resnet18_cifar

ITERS = 5
TARGET = 1.2


def make(lib, batch=32):
    lib.manual_seed(0)
    model = resnet18_cifar(lib).eval()
    x = lib.randn(batch, 3, 32, 32)

    def step():
        with lib.no_grad():
            model(x)
    return step


def flop(lib, batch=32):
    return count_flop(lib, resnet18_cifar(lib), lib.randn(batch, *(3, 32, 32)), train=False)
