"""``shendu.linalg``, the public namespace: norms, inverse, determinant, solve, symmetric
eigendecomposition, singular values, condition number, and the factorizations of seed 001:
Cholesky, QR, SVD, pseudo-inverse, rank, slogdet, general eig (real spectra). The primitives live in
``shendu/_ops/linalg.py``; this file only names them."""
from ._ops.linalg import (vector_norm, linalg_norm as norm, matrix_norm, inv, det, solve,
                          eigh, eigvalsh, svdvals, matmul, cond, cholesky, qr, svd, pinv,
                          matrix_rank, slogdet, eig, eigvals)

__all__ = ["vector_norm", "norm", "matrix_norm", "inv", "det", "solve", "eigh", "eigvalsh",
           "svdvals", "matmul", "cond", "cholesky", "qr", "svd", "pinv", "matrix_rank",
           "slogdet", "eig", "eigvals"]
