"""Reference architectures written directly in torch (torchvision is not installable here),
with torchvision's attribute names, so their state_dicts have the keys the zoo must match;
and the helpers that compare a shendu model with its torch twin in float64."""
import numpy as np
import torch
from torch import nn as tnn

import shendu


class TorchLeNet(tnn.Module):
    """LeNet-5 as seed 001 draws it: conv5×5 6 → pool → conv5×5 16 → pool → 120 → 84 → 10."""

    def __init__(self, num_classes=10, in_channels=1, image_size=28):
        super().__init__()
        pad = 2 if image_size == 28 else 0
        side = ((image_size + 2 * pad - 4) // 2 - 4) // 2
        self.conv1 = tnn.Conv2d(in_channels, 6, 5, padding=pad)
        self.act1 = tnn.ReLU()
        self.pool1 = tnn.MaxPool2d(2, 2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.act2 = tnn.ReLU()
        self.pool2 = tnn.MaxPool2d(2, 2)
        self.flatten = tnn.Flatten()
        self.fc1 = tnn.Linear(16 * side * side, 120)
        self.act3 = tnn.ReLU()
        self.fc2 = tnn.Linear(120, 84)
        self.act4 = tnn.ReLU()
        self.fc3 = tnn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.act3(self.fc1(self.flatten(x)))
        return self.fc3(self.act4(self.fc2(x)))


class TorchBasicBlock(tnn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = tnn.Sequential(tnn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                             tnn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class TorchResNet18(tnn.Module):
    """torchvision's resnet18, by hand; small_input: 3×3 stride-1 stem, no max pool."""

    def __init__(self, num_classes=1000, in_channels=3, small_input=False):
        super().__init__()
        if small_input:
            self.conv1 = tnn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        else:
            self.conv1 = tnn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.Identity() if small_input else tnn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, planes in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", tnn.Sequential(TorchBasicBlock(inplanes, planes, stride),
                                                          TorchBasicBlock(planes, planes)))
            inplanes = planes
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _cna(inp, oup, k=3, stride=1, groups=1):
    """torchvision's Conv2dNormActivation with ReLU6: Sequential(conv, bn, relu6)."""
    return tnn.Sequential(tnn.Conv2d(inp, oup, k, stride, (k - 1) // 2, groups=groups, bias=False),
                          tnn.BatchNorm2d(oup), tnn.ReLU6(inplace=True))


class TorchInvertedResidual(tnn.Module):
    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hidden = int(round(inp * t))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [_cna(inp, hidden, 1)] if t != 1 else []
        layers += [_cna(hidden, hidden, 3, stride, hidden),
                   tnn.Conv2d(hidden, oup, 1, 1, 0, bias=False), tnn.BatchNorm2d(oup)]
        self.conv = tnn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class TorchMobileNetV2(tnn.Module):
    """torchvision's mobilenet_v2 (width 1.0), by hand."""

    def __init__(self, num_classes=1000, in_channels=3, small_input=False):
        super().__init__()
        setting = [[1, 16, 1, 1], [6, 24, 2, 1 if small_input else 2], [6, 32, 3, 2],
                   [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
        feats = [_cna(in_channels, 32, 3, 1 if small_input else 2)]
        inp = 32
        for t, c, n, s in setting:
            for i in range(n):
                feats.append(TorchInvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        feats.append(_cna(inp, 1280, 1))
        self.features = tnn.Sequential(*feats)
        self.classifier = tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(1280, num_classes))

    def forward(self, x):
        x = tnn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ---------------------------------------------------------------------- comparison
def copy_weights(torch_model, shendu_model):
    """Check the two state_dicts have the same keys in the same order with the same shapes,
    then load torch's values into the shendu model."""
    t_sd, s_sd = torch_model.state_dict(), shendu_model.state_dict()
    assert list(s_sd) == list(t_sd), (sorted(set(s_sd) ^ set(t_sd)) or "same keys, other order")
    for k in t_sd:
        assert tuple(s_sd[k].shape) == tuple(t_sd[k].shape), k
    shendu_model.load_state_dict({k: v.detach().numpy() for k, v in t_sd.items()})


def assert_close(a, b, what, rtol=1e-9, atol=1e-10):
    """Elementwise, with ``atol`` relative to the array's largest entry (when above 1): a
    deep network's gradient sums thousands of terms of that size, so an entry near zero
    carries their rounding (seen: 2.7e-10 on -0.033 beside entries of 341)."""
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    b = b.detach().numpy() if isinstance(b, shendu.Tensor) else b
    scale = max(1.0, float(np.max(np.abs(a), initial=0.0)))
    np.testing.assert_allclose(b, a, rtol=rtol, atol=atol * scale, err_msg=what)


def check_parity(torch_model, shendu_model, input_shape, seed=0):
    """float64: outputs (train and eval mode), the input's and every parameter's gradient,
    and the batch-norm running statistics, torch vs shendu with copied weights."""
    torch.manual_seed(seed)
    torch_model = torch_model.double()
    shendu_model = shendu_model.double()
    copy_weights(torch_model, shendu_model)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(input_shape)
    tx = torch.tensor(x, requires_grad=True)
    sx = shendu.tensor(x, requires_grad=True)
    # dropout would draw different masks in the two frameworks: compare with it off
    for m in torch_model.modules():
        if isinstance(m, tnn.Dropout):
            m.p = 0.0
    for m in shendu_model.modules():
        if isinstance(m, shendu.nn.Dropout):
            m.p = 0.0
    torch_model.train(), shendu_model.train()
    t_out, s_out = torch_model(tx), shendu_model(sx)
    assert_close(t_out, s_out, "train-mode output")
    w = rng.standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (s_out * shendu.tensor(w)).sum().backward()
    assert_close(tx.grad, sx.grad, "input gradient")
    s_params = dict(shendu_model.named_parameters())
    for name, p in torch_model.named_parameters():
        assert s_params[name].grad is not None, f"no gradient for {name}"
        assert_close(p.grad, s_params[name].grad, f"gradient of {name}")
    s_buffers = dict(shendu_model.named_buffers())
    for name, b in torch_model.named_buffers():
        assert_close(b, s_buffers[name], f"buffer {name}")
    torch_model.eval(), shendu_model.eval()
    with torch.no_grad(), shendu.no_grad():
        assert_close(torch_model(tx), shendu_model(sx), "eval-mode output")
