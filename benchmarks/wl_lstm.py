"""A 1-layer LSTM 128→256 over 35 steps, batch 32, then Linear to 1000 classes on every
step's output, cross-entropy (nn.CrossEntropyLoss), full training step with optim.SGD
(zero_grad, forward, backward through time, update)."""
from _models import recurrent_step

ITERS = 10
TARGET = 1.3


def make(lib):
    return recurrent_step(lib, "LSTM")
