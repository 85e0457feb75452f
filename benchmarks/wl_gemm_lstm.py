"""The 75 matrix products of the LSTM row's step (128→256, seq 35, batch 32, + Linear 1000),
alone: PyTorch's MKL against NumPy's OpenBLAS (what shendu calls) on the products shendu's
step performs. The LSTM row can be no faster than this row's shendu time (see _gemms.py)."""
import _gemms

ITERS = 10
PRODUCTS = _gemms.recurrent(4)


def make(lib):
    return _gemms.make(lib, PRODUCTS)


def flop(lib):
    return _gemms.flop(PRODUCTS)
