"""LayerStats records what it says: each number checked against a direct computation."""
from collections import OrderedDict

import numpy as np
import pytest

import shendu
from shendu import nn, optim, diagnose
from shendu.diagnose import LayerStats


def small_net():
    shendu.manual_seed(1)
    return nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(5, 7)), ("relu", nn.ReLU()), ("fc2", nn.Linear(7, 4)),
        ("tanh", nn.Tanh()), ("fc3", nn.Linear(4, 3))]))


def test_forward_backward_and_update_statistics_match_direct_computation():
    m = small_net()
    opt = optim.SGD(m.parameters(), lr=0.1)
    x = shendu.randn(16, 5, dtype=shendu.float64) * 2
    m.double()
    before = {n: p.detach().numpy().copy() for n, p in m.named_parameters()}
    with LayerStats(m) as rec:
        opt.zero_grad()
        seen = {}

        def keep(name):
            def hook(mod, args, out):
                out.retain_grad()
                seen[name] = out
            return hook
        m.fc1.register_forward_hook(keep("h1"))
        m.relu.register_forward_hook(keep("a"))
        out = m(x)
        h1, a = seen["h1"], seen["a"]
        loss = (out ** 2).mean()
        loss.backward()
        opt.step()
        rec.step()
    L = rec.layers
    assert list(L) == ["fc1", "relu", "fc2", "tanh", "fc3"]
    h = h1.detach().numpy()
    assert L["fc1"].act_mean == pytest.approx(h.mean(), rel=1e-12)
    assert L["fc1"].act_std == pytest.approx(h.std(), rel=1e-12)
    g = h1.grad.numpy()
    assert L["fc1"].grad_mean == pytest.approx(g.mean(), rel=1e-9, abs=1e-15)
    assert L["fc1"].grad_std == pytest.approx(g.std(), rel=1e-9)
    assert L["fc1"].grad_out_norm == pytest.approx(np.sqrt((g ** 2).sum() / 16), rel=1e-9)
    av = a.detach().numpy()
    assert L["relu"].zero_frac == pytest.approx((av <= 0).mean())
    assert L["relu"].dead_frac == pytest.approx((~(av > 0).any(0)).mean())
    gw = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in m.fc2.parameters()))
    assert L["fc2"].grad_norm == pytest.approx(gw, rel=1e-12)
    d = np.sqrt(sum(((p.detach().numpy() - before[f"fc2.{k}"]) ** 2).sum()
                    for k, p in m.fc2.named_parameters()))
    w = np.sqrt(sum((before[f"fc2.{k}"] ** 2).sum() for k, _ in m.fc2.named_parameters()))
    assert L["fc2"].update_ratio == pytest.approx(d / w, rel=1e-9)
    assert L["relu"].after == "fc1" and L["tanh"].after == "fc2"
    assert L["relu"].role == "relu" and L["tanh"].role == "saturating" and L["fc3"].role == "weighted"
    assert rec.input_std == pytest.approx(x.numpy().std())
    assert L["fc1"].steps == 1 and len(L["fc1"].series["act_std"]) == 1
    # its hooks are gone after the with block (the test's own two stay)
    assert len(m.fc1._forward_hooks) == 1 and not m._forward_pre_hooks


def test_saturation_and_several_steps_averaged():
    sig = nn.Sigmoid()
    x1 = shendu.tensor([[-10.0, 0.0, 10.0, 0.5]])
    x2 = shendu.tensor([[-10.0, -10.0, 10.0, 10.0]])
    with LayerStats(sig, backward=False) as rec:
        sig(x1)
        rec.step()
        sig(x2)
        rec.step()
    r = rec.layers[""]
    assert r.series["saturated_frac"] == [0.5, 1.0]
    assert r.saturated_frac == pytest.approx(0.75)


def test_frozen_layers_have_no_update_ratio_and_forward_only_needs_no_step():
    m = small_net()
    m.fc1.requires_grad_(False)
    opt = optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
    x = shendu.randn(8, 5)
    with LayerStats(m) as rec:
        m(x).sum().backward()
        opt.step()
    L = rec.layers          # closes the pending step
    assert L["fc1"].update_ratio is None and L["fc2"].update_ratio > 0


@pytest.mark.filterwarnings("ignore:invalid value")
def test_nan_is_named_at_the_first_layer_that_makes_it():
    class Log(nn.Module):
        def forward(self, x):
            return shendu.log(x)
    m = nn.Sequential(OrderedDict([("fc1", nn.Linear(4, 4)), ("log", Log()),
                                   ("fc2", nn.Linear(4, 2))]))
    r = diagnose.run(m, [(shendu.randn(8, 4), shendu.tensor([0, 1] * 4))],
                     nn.CrossEntropyLoss(), steps=3)
    assert [(f.kind, f.layer) for f in r.findings] == [("nan", "log")]
    assert r.steps == 1      # stops at the first non-finite loss


def test_run_without_optimizer_changes_nothing():
    from diag_helpers import BNLeNet, mnist_batches
    shendu.manual_seed(0)
    m = BNLeNet()
    state = {k: v.clone() for k, v in m.state_dict().items()}
    m.eval()
    diagnose.run(m, mnist_batches(1), nn.CrossEntropyLoss(), steps=2)
    assert not m.training
    for k, v in m.state_dict().items():
        assert np.array_equal(v.numpy(), state[k].numpy()), k
    assert all(p.grad is None for p in m.parameters())
    with pytest.raises(ValueError, match="steps"):
        diagnose.run(m, mnist_batches(1), nn.CrossEntropyLoss(), steps=0)
    with pytest.raises(ValueError, match="no batch"):
        diagnose.run(m, [], nn.CrossEntropyLoss(), steps=1)
