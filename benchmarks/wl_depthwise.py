"""MobileNet-style depthwise-separable block (64 channels, 56×56, batch 8) training step:
forward + backward + SGD, float32; the loss is the mean of the block's output."""
from _models import count_flop, depthwise_separable, train_step

ITERS = 20
TARGET = 2.0


def make(lib, batch=8):
    lib.manual_seed(0)
    model = depthwise_separable(lib, 64)
    x = lib.randn(batch, 64, 56, 56)
    return train_step(lib, model, x, lambda out: out.mean())


def flop(lib, batch=8):
    return count_flop(lib, depthwise_separable(lib, 64), lib.randn(batch, 64, 56, 56), train=True)
