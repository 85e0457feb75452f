"""The matrix products a workload's step performs, replayed alone: what each framework's BLAS
(PyTorch's MKL, NumPy's OpenBLAS for shendu) charges for exactly those products, with the same
operand layouts (a transposed operand is a transposed view, as in the step).

For shendu the products run as plain ``np.matmul`` on ndarrays (what shendu's kernels call),
for PyTorch as ``torch.matmul`` on tensors; so a row's ratio is the BLAS's, not shendu's
overhead, and the row bounds what the workload's own ratio can reach: a step can be no faster
than its products.

A product is (M, K, N, ta, tb): C (M, N) = A (M, K) @ B (K, N), where ``ta``/``tb`` say that
A/B is stored transposed (a ``.T`` view of a contiguous (K, M) / (N, K) array)."""


def mlp(batch=128, sizes=(784, 256, 256, 10)):
    """A Linear stack's step: forward x Wᵀ per layer; backward gW = gᵀ x per layer and
    gx = g W for every layer but the first (the input needs no gradient)."""
    out = []
    for i, (k, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append((batch, k, n, False, True))            # y = x Wᵀ
        out.append((n, batch, k, True, False))             # gW = gᵀ x
        if i:
            out.append((batch, n, k, False, False))        # gx = g W
    return out


def recurrent(gates, T=35, B=32, I=128, H=256, C=1000):
    """A one-layer recurrent net + Linear to C classes (benchmarks/_models.recurrent_step):
    the input projection and its weight gradient over all steps at once, per step W_hh hᵀ
    forward (the orientation _ops/rnn.py uses) and dgates W_hh backward, W_hh's gradient over
    all steps, and the classifier's three products."""
    G = gates * H
    return ([(T * B, I, G, False, True), (G, T * B, I, True, False)]     # x W_ihᵀ, its gW
            + [(G, H, B, False, True)] * T + [(B, G, H, False, False)] * T
            + [(G, T * B, H, True, False)]                              # W_hh's gradient
            + [(T * B, H, C, False, True), (T * B, C, H, False, False),
               (C, T * B, H, True, False)])


def make(lib, products):
    """A step running every product once, operands made once (float32)."""
    import numpy as np
    torch = lib.__name__ == "torch"
    rng = np.random.default_rng(0)

    def operand(rows, cols, transposed):
        a = rng.standard_normal((cols, rows) if transposed else (rows, cols), dtype=np.float32)
        a = lib.from_numpy(a) if torch else a
        return a.T if transposed else a

    pairs = [(operand(M, K, ta), operand(K, N, tb)) for M, K, N, ta, tb in products]
    mm = lib.matmul if torch else np.matmul

    def step():
        for a, b in pairs:
            mm(a, b)
    return step


def flop(products):
    return sum(2 * M * K * N for M, K, N, _, _ in products)
