"""DiagnosticsCallback during fit, and lr_find."""
import warnings

import numpy as np
import pytest

import shendu
from shendu import nn, optim, models, train, diagnose
from shendu.diagnose import DiagnosticsCallback, DiagnosticWarning, lr_find
from shendu.utils.data import TensorDataset, DataLoader
from diag_helpers import mnist_images


def loader(n=256, batch_size=32, seed=0):
    x, y = mnist_images()
    g = shendu.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(x[:n], y[:n]), batch_size=batch_size, shuffle=True,
                      generator=g)


def test_callback_warns_once_per_finding_naming_the_layer():
    shendu.manual_seed(0)
    m = models.lenet()
    with shendu.no_grad():
        m.conv2.bias.fill_(-10.0)
    cb = DiagnosticsCallback(every=3)
    with pytest.warns(DiagnosticWarning) as got:
        train.fit(m, loader(), loader(64), optimizer=optim.SGD(m.parameters(), lr=0.01),
                  epochs=2, callbacks=[cb], progress=False, log=None)
    msgs = [str(w.message) for w in got if issubclass(w.category, DiagnosticWarning)]
    assert len(msgs) == 1 and "dead_relu at act2 (after conv2)" in msgs[0], msgs
    assert "step 1:" in msgs[0]
    # windows at steps 1, 4, 7, ... 16: the finding is seen in each, warned once
    assert [s for s, _, _ in cb.reports] == [1, 4, 7, 10, 13, 16]
    assert all({(f.kind, f.layer) for f in found} == {("dead_relu", "act2")}
               for _, _, found in cb.reports)
    assert not any(mod._forward_hooks for mod in m.modules())       # hooks removed
    assert cb.state_dict() == {"seen": [["dead_relu", "act2"]]}


def test_callback_removes_its_hooks_when_the_run_diverges():
    shendu.manual_seed(0)
    m = models.lenet()
    cb = DiagnosticsCallback(every=1000, window=1000)          # hooks on for the whole run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="training loss became"):
            train.fit(m, loader(), None, optimizer=optim.SGD(m.parameters(), lr=1e6),
                      epochs=3, callbacks=[cb], progress=False, log=None)
    assert not any(mod._forward_hooks or mod._backward_hooks for mod in m.modules())


def test_callback_is_silent_on_a_healthy_run_and_logs_to_a_writer():
    from diag_helpers import BNLeNet
    shendu.manual_seed(0)
    m = BNLeNet()
    logged = []

    class Writer:
        def add_scalar(self, tag, v, step):
            logged.append((tag, step))
    cb = DiagnosticsCallback(every=4, window=2, writer=Writer())
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticWarning)
        train.fit(m, loader(256), None, optimizer=optim.SGD(m.parameters(), lr=0.02,
                                                            momentum=0.9),
                  epochs=1, callbacks=[cb], progress=False, log=None)
    assert [s for s, _, _ in cb.reports] == [2, 6]
    assert cb.findings == []
    assert ("diagnose/grad_std/conv1", 2) in logged and ("diagnose/update_ratio/fc3", 6) in logged
    with pytest.raises(ValueError, match="every"):
        DiagnosticsCallback(every=0)


def test_lr_find_suggests_and_restores_model_and_optimizer(tmp_path):
    shendu.manual_seed(0)
    m = models.mlp(hidden_sizes=(32,))
    opt = optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    ld = loader(512)
    # give the optimizer some state, which lr_find must put back
    x, y = next(iter(ld))
    nn.CrossEntropyLoss()(m(x), y).backward()
    opt.step()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    mom = {k: v["momentum_buffer"].clone() for k, v in opt.state_dict()["state"].items()}
    m.eval()
    res = lr_find(m, ld, nn.CrossEntropyLoss(), opt, start=1e-5, end=10, num_steps=60,
                  plot=str(tmp_path / "lr.png"))
    assert (tmp_path / "lr.png").stat().st_size > 1000
    for k, v in m.state_dict().items():
        assert np.array_equal(v.numpy(), before[k].numpy()), k
    assert not m.training and opt.param_groups[0]["lr"] == 0.05
    for k, v in opt.state_dict()["state"].items():
        assert np.array_equal(v["momentum_buffer"].numpy(), mom[k].numpy())
    # the range goes geometrically and stops once the loss blows up
    r = np.array(res.lrs[1:]) / np.array(res.lrs[:-1])
    assert np.allclose(r, (10 / 1e-5) ** (1 / 59))
    assert res.stopped is not None and res.lrs[-1] < 10
    # the suggestion sits where the loss falls, below the minimum's lr, and says how
    assert 1e-4 < res.suggestion <= res.min_lr < 10
    assert "falls fastest" in res.reason
    i = res.lrs.index(res.suggestion)
    assert res.smoothed[i + 3] < res.smoothed[i - 3]


def test_lr_find_with_an_optimizer_class():
    shendu.manual_seed(0)
    m = models.mlp(hidden_sizes=(16,))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    res = lr_find(m, loader(256), nn.CrossEntropyLoss(), optim.Adam, start=1e-6, end=1,
                  num_steps=30, optimizer_kwargs={"betas": (0.9, 0.99)})
    assert len(res.lrs) <= 30 and res.suggestion is not None
    for k, v in m.state_dict().items():
        assert np.array_equal(v.numpy(), before[k].numpy()), k
    with pytest.raises(ValueError, match="start"):
        lr_find(m, loader(64), nn.CrossEntropyLoss(), optim.SGD, start=1, end=0.1)
