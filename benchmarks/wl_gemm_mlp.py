"""The 8 matrix products of the MLP rows' step (784-256-256-10, batch 128), alone: PyTorch's
MKL against NumPy's OpenBLAS (what shendu calls) on exactly those products and layouts. The
MLP rows can be no faster than this row's shendu time (see _gemms.py)."""
import _gemms

ITERS = 50
PRODUCTS = _gemms.mlp()


def make(lib):
    return _gemms.make(lib, PRODUCTS)


def flop(lib):
    return _gemms.flop(PRODUCTS)
