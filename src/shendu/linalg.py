"""``shendu.linalg``, the public namespace: norms, inverse, determinant, solve, symmetric
eigendecomposition, singular values, condition number. The primitives live in
``shendu/_ops/linalg.py``; this file only names them."""
from ._ops.linalg import (vector_norm, linalg_norm as norm, matrix_norm, inv, det, solve,
                          eigh, eigvalsh, svdvals, matmul, cond)

__all__ = ["vector_norm", "norm", "matrix_norm", "inv", "det", "solve", "eigh", "eigvalsh",
           "svdvals", "matmul", "cond"]
