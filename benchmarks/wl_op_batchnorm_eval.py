"""Op-level: BatchNorm2d in eval (running statistics), no_grad, at the four CIFAR ResNet-18
widths, batch 32, float32."""
ITERS = 20


def make(lib):
    lib.manual_seed(0)
    shapes = [(32, 64, 32, 32), (32, 128, 16, 16), (32, 256, 8, 8), (32, 512, 4, 4)]
    bns = [lib.nn.BatchNorm2d(s[1]).eval() for s in shapes]
    xs = [lib.randn(*s) for s in shapes]

    def step():
        with lib.no_grad():
            for bn, x in zip(bns, xs):
                bn(x)
    return step
