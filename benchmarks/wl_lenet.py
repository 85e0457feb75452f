"""LeNet-5 training step (forward + backward + SGD), 1×28×28, batch 128, float32."""
from _models import count_flop, lenet5, classifier_step

ITERS = 30
TARGET = 1.3


def make(lib, batch=128):
    return classifier_step(lib, lenet5, (1, 28, 28), batch)


def flop(lib, batch=128):
    return count_flop(lib, lenet5(lib), lib.randn(batch, *(1, 28, 28)), train=True)
