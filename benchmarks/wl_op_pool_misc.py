"""Op-level: ResNet-18's global average pool (512x4x4, batch 32), a 3x3/2 padded max-pool
(64x32x32, batch 32) and a 2x bilinear upsample (64x16x16, batch 8), forward + backward,
float32."""
ITERS = 10


def make(lib):
    lib.manual_seed(0)
    F = lib.nn.functional
    a = lib.randn(32, 512, 4, 4).requires_grad_()
    m = lib.randn(32, 64, 32, 32).requires_grad_()
    u = lib.randn(8, 64, 16, 16).requires_grad_()
    ga, gm, gu = lib.randn(32, 512, 1, 1), lib.randn(32, 64, 16, 16), lib.randn(8, 64, 32, 32)

    def step():
        for x in (a, m, u):
            x.grad = None
        F.adaptive_avg_pool2d(a, 1).backward(ga)
        F.max_pool2d(m, 3, 2, 1).backward(gm)
        F.interpolate(u, scale_factor=2, mode="bilinear").backward(gu)
    return step
