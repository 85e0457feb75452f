"""A full training step of an nn.Sequential MLP 784-256-256-10 with ReLU and
CrossEntropyLoss, batch 128, SGD(lr=0.01): zero_grad, forward, loss, backward, step."""
ITERS = 50
TARGET = 1.1


def make(lib, batch=128):
    nn = lib.nn
    lib.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    x = lib.randn(batch, 784)
    y = lib.randint(0, 10, (batch,))

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return step
