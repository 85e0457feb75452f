"""A 1-layer LSTM 128→256 over 35 steps, batch 32, then Linear to 1000 classes on every
step's output, cross-entropy (nn.CrossEntropyLoss), full training step with optim.SGD
(zero_grad, forward, backward through time, update)."""
ITERS = 10
TARGET = 1.3


def make(lib, T=35, B=32, I=128, H=256, C=1000, lr=0.1):
    lib.manual_seed(0)
    lstm = lib.nn.LSTM(I, H)
    fc = lib.nn.Linear(H, C)
    opt = lib.optim.SGD(list(lstm.parameters()) + list(fc.parameters()), lr=lr)
    loss_fn = lib.nn.CrossEntropyLoss()
    x = lib.randn(T, B, I)
    y = lib.randint(0, C, (T * B,))

    def step():
        opt.zero_grad()
        out, _ = lstm(x)
        loss = loss_fn(fc(out.reshape(T * B, H)), y)
        loss.backward()
        opt.step()
    return step
