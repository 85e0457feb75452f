"""Op-level: BatchNorm2d in training (forward + backward, running stats updated) at the four
CIFAR ResNet-18 widths, batch 32, float32: 64x32x32, 128x16x16, 256x8x8, 512x4x4."""
ITERS = 10


def make(lib):
    lib.manual_seed(0)
    shapes = [(32, 64, 32, 32), (32, 128, 16, 16), (32, 256, 8, 8), (32, 512, 4, 4)]
    bns = [lib.nn.BatchNorm2d(s[1]) for s in shapes]
    xs = [lib.randn(*s).requires_grad_() for s in shapes]
    gs = [lib.randn(*s) for s in shapes]

    def step():
        for bn, x, g in zip(bns, xs, gs):
            x.grad = None
            for p in bn.parameters():
                p.grad = None
            bn(x).backward(g)
    return step
