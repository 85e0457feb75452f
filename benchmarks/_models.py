"""Model definitions shared by the CNN workloads, written once against the torch API
(``lib`` is torch or shendu), so both frameworks run the same architecture.

Besides convolution they use MaxPool2d / AdaptiveAvgPool2d / BatchNorm2d (branch pool),
ReLU / Flatten / CrossEntropyLoss (branch nn) and optim.SGD (branch optim)."""


def lenet5(lib):
    """LeNet-5 as d2l writes it (seed 001), with ReLU and max-pooling: 1×28×28 ->
    conv5×5 6 (pad 2) -> pool -> conv5×5 16 -> pool -> 120 -> 84 -> 10."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def resnet18_cifar(lib, num_classes=10):
    """CIFAR ResNet-18 (He et al. 2016, the 3×3 stem used for 32×32 inputs): BasicBlocks
    [2, 2, 2, 2] with 64-128-256-512 channels, 1×1 projection shortcuts, global average
    pooling, one linear layer."""
    nn = lib.nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                              nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.shortcut(x))

    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def depthwise_separable(lib, channels=64):
    """MobileNet's depthwise-separable block: depthwise 3×3 conv -> BN -> ReLU ->
    pointwise 1×1 conv -> BN -> ReLU."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
        nn.BatchNorm2d(channels), nn.ReLU(),
        nn.Conv2d(channels, channels, 1, bias=False),
        nn.BatchNorm2d(channels), nn.ReLU())


def classifier_step(lib, model_fn, input_shape, batch):
    """A training step of ``model_fn(lib)`` on random images with random labels (10
    classes), cross-entropy loss."""
    lib.manual_seed(0)
    model = model_fn(lib)
    x = lib.randn(batch, *input_shape)
    y = lib.randint(0, 10, (batch,))
    loss = lib.nn.CrossEntropyLoss()
    return train_step(lib, model, x, lambda out: loss(out, y))


def train_step(lib, model, x, loss_fn, lr=0.01):
    """A zero-argument function: forward, loss, backward, SGD update (momentum 0.9)."""
    opt = lib.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()
    return step


def count_flop(lib, model, x, train):
    """Floating-point operations of the convolutions and linear layers for one step on
    ``x`` (2 per multiply-add). A training step counts each layer three times (forward,
    input gradient, weight gradient) less the input gradient of the first layer, which
    the input does not need. Elementwise work, pooling and normalisation are left out:
    this is the arithmetic a GEMM-based framework cannot avoid."""
    nn = lib.nn
    per_layer = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            per_layer.append(2 * out.numel() * (mod.in_channels // mod.groups) * kh * kw)
        else:
            per_layer.append(2 * out.numel() * mod.in_features)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    with lib.no_grad():
        model(x)
    for h in handles:
        h.remove()
    total = sum(per_layer)
    return 3 * total - per_layer[0] if train else total


def recurrent_step(lib, layer, T=35, B=32, I=128, H=256, C=1000, lr=0.1):
    """A training step of one recurrent layer (``lib.nn.LSTM`` or ``GRU``) I→H over T steps,
    batch B, then Linear to C classes on every step's output, cross-entropy, optim.SGD."""
    lib.manual_seed(0)
    rnn = getattr(lib.nn, layer)(I, H)
    fc = lib.nn.Linear(H, C)
    opt = lib.optim.SGD(list(rnn.parameters()) + list(fc.parameters()), lr=lr)
    loss_fn = lib.nn.CrossEntropyLoss()
    x = lib.randn(T, B, I)
    y = lib.randint(0, C, (T * B,))

    def step():
        opt.zero_grad()
        out, _ = rnn(x)
        loss = loss_fn(fc(out.reshape(T * B, H)), y)
        loss.backward()
        opt.step()
    return step
