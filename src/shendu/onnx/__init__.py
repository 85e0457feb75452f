"""Export to ONNX: ``shendu.onnx.export(model, args, f, ...)``, torch's signature.

One forward pass is traced (every op and in-place write is recorded; layers with a direct
ONNX form - convolutions, batch norm, pooling, LSTM/GRU/RNN, MultiheadAttention, ... - are
recorded whole), converted to ONNX nodes with the weights as initialisers, checked with
``onnx.checker`` and written with the ``onnx`` package (``pip install 'shendu[onnx]'``).
"""
from ._export import export
from ._trace import UnsupportedOperatorError

__all__ = ["export", "UnsupportedOperatorError"]
