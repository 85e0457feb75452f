"""Planted faults: the report names exactly the planted layers and kinds, and a healthy
network gives no finding."""
from collections import OrderedDict

import numpy as np
import pytest

import shendu
from shendu import nn, optim, models, diagnose
from diag_helpers import mnist_batches, deep_mlp, BNLeNet, normal_init, kaiming_times

CE = nn.CrossEntropyLoss()


def by_kind(report):
    out = {}
    for f in report.findings:
        out.setdefault(f.kind, []).append(f.layer)
    return out


def deep_run(act, init_fn, kinds):
    """The depths (k of fc_k) at which each of ``kinds`` is found in a 20-layer MLP; no
    other kind may be found."""
    shendu.manual_seed(0)
    r = diagnose.run(deep_mlp(act, init_fn=init_fn), mnist_batches(), CE, steps=2)
    found = by_kind(r)
    assert set(found) == set(kinds), r
    return r, [sorted(int(n[2:]) for n in found[k]) for k in kinds]


def test_dead_relu_in_lenet_conv2():
    shendu.manual_seed(0)
    m = models.lenet()
    with shendu.no_grad():
        m.conv2.bias.fill_(-10.0)
    r = diagnose.run(m, mnist_batches(), CE, steps=2)
    assert by_kind(r) == {"dead_relu": ["act2"]}, r
    f = r.findings[0]
    assert f.source == "conv2" and f.value == 1.0 and f.threshold == 0.5
    assert "LeakyReLU" in f.advice
    # what it explains: no gradient reaches conv1/conv2, and the layers above see no signal
    assert {("vanishing_gradient", "conv1"), ("vanishing_gradient", "conv2")} <= \
        {(c.kind, c.layer) for c in f.consequences}
    assert r.layers["act2"].zero_frac == 1.0 and r.layers["conv2"].grad_std == 0.0


def test_tanh_mlp_small_init_vanishes_and_collapses():
    r, (van, col) = deep_run(nn.Tanh, normal_init(0.01),
                             ("vanishing_gradient", "activation_collapse"))
    # the early layers, contiguous from the first; the gradient still reaches the top
    assert van == list(range(1, len(van) + 1)) and 10 <= len(van) <= 18
    # every layer from some depth on, to the output
    assert col == list(range(col[0], 21)) and col[0] <= 4
    # gradient shrinks monotonically towards the input
    g = [r.layers[f"fc{i}"].grad_out_norm for i in range(1, 21)]
    assert all(a < b for a, b in zip(g, g[1:]))


def test_relu_mlp_kaiming_x3_explodes():
    r, (exp, act) = deep_run(nn.ReLU, kaiming_times(3.0),
                             ("exploding_gradient", "activation_explosion"))
    assert exp == list(range(1, len(exp) + 1)) and 8 <= len(exp) <= 17
    assert act == list(range(act[0], 21)) and act[0] <= 6
    g = [r.layers[f"fc{i}"].grad_out_norm for i in range(1, 21)]
    assert all(a > b for a, b in zip(g, g[1:]))


def test_sigmoid_inputs_x50_saturate():
    shendu.manual_seed(0)
    m = nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(784, 64)), ("sig1", nn.Sigmoid()),
        ("fc2", nn.Linear(64, 32)), ("sig2", nn.Sigmoid()), ("fc3", nn.Linear(32, 10))]))
    with shendu.no_grad():
        m.fc1.weight.mul_(50.0)
        m.fc1.bias.mul_(50.0)
    r = diagnose.run(m, mnist_batches(), CE, steps=2)
    assert r.kinds() == {("saturated", "sig1")}, r
    assert r.findings[0].source == "fc1" and r.findings[0].value > 0.5
    assert r.layers["sig2"].saturated_frac < 0.1


def test_healthy_kaiming_bn_lenet_is_clean():
    shendu.manual_seed(0)
    m = BNLeNet()
    opt = optim.SGD(m.parameters(), lr=0.02, momentum=0.9)
    r = diagnose.run(m, mnist_batches(3), CE, optimizer=opt, steps=3)
    assert r.findings == [], r
    assert r.all_findings == []
    assert r.losses[-1] < r.losses[0]
    # the judged layers of a BN network are the norm layers and the output layer
    assert diagnose.findings.judged_layers(r.layers, r.order) == \
        ["bn1", "bn2", "bn3", "bn4", "fc3"]
    for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        u = r.layers[name].update_ratio
        assert 1e-5 < u < 1e-1, (name, u)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_too_high_lr_is_named_as_the_cause_of_what_it_blows_up():
    shendu.manual_seed(0)
    m = models.lenet()
    r = diagnose.run(m, mnist_batches(4), CE, optimizer=optim.SGD(m.parameters(), lr=2.0),
                     steps=12)
    assert {f.kind for f in r.findings} == {"update_ratio_high"}, r
    assert not r.losses[-1] < 10 * r.losses[0]          # blown up (or NaN)
    explained = {k for f in r.findings for k, _ in ((c.kind, c.layer) for c in f.consequences)}
    assert "activation_explosion" in explained and \
        explained <= {"exploding_gradient", "activation_explosion", "nan"}, r
    # an initialisation that explodes from the first step stays a root of its own
    shendu.manual_seed(0)
    m = deep_mlp(nn.ReLU, init_fn=kaiming_times(3.0))
    r = diagnose.run(m, mnist_batches(), CE, optimizer=optim.SGD(m.parameters(), lr=1e-3),
                     steps=2)
    assert {"exploding_gradient", "activation_explosion"} <= {f.kind for f in r.findings}
