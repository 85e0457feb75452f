"""Op-level: the two LeNet-5 max-pools (2x2, stride 2) on batch 128, float32: 6x24x24 and
16x8x8, forward + backward."""
ITERS = 30


def make(lib):
    lib.manual_seed(0)
    F = lib.nn.functional
    xs = [lib.randn(128, 6, 24, 24).relu().requires_grad_(),
          lib.randn(128, 16, 8, 8).relu().requires_grad_()]
    gs = [lib.randn(128, 6, 12, 12), lib.randn(128, 16, 4, 4)]

    def step():
        for x, g in zip(xs, gs):
            x.grad = None
            F.max_pool2d(x, 2).backward(g)
    return step
