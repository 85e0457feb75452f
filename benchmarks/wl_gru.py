"""A 1-layer GRU 128→256 over 35 steps, batch 32, then Linear to 1000 classes on every
step's output, cross-entropy, full training step with optim.SGD — the LSTM row's twin."""
from _models import recurrent_step

ITERS = 10
TARGET = 1.3


def make(lib):
    return recurrent_step(lib, "GRU")
