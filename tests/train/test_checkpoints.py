"""Saving and loading zoo models and full training checkpoints: exact round trips,
checkpoints from another architecture (every mismatched key and shape named, nothing
changed), corrupt and truncated files (always detected, never half-loaded), files written
by safetensors.torch from a torch model, and saves killed mid-write."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import shendu
from shendu import models, nn, optim
from shendu.serialization import SerializationError
from shendu.train import Trainer
from shendu.utils.data import DataLoader, TensorDataset
from zoo_refs import TorchLeNet


def same_state(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k].numpy(), b[k].numpy()), k


@pytest.mark.parametrize("name,kw,shape", [
    ("lenet", {}, (2, 1, 28, 28)),
    ("resnet18", {"num_classes": 10, "small_input": True}, (2, 3, 32, 32)),
    ("mobilenet_v2", {"num_classes": 10, "small_input": True}, (2, 3, 32, 32)),
    ("googlenet", {"num_classes": 10, "small_input": True, "aux_logits": False}, (1, 3, 32, 32)),
    ("densenet121", {"num_classes": 10, "small_input": True}, (1, 3, 32, 32)),
])
def test_zoo_state_dict_round_trip(tmp_path, name, kw, shape):
    shendu.manual_seed(0)
    a = models.get_model(name, **kw)
    a.train()
    with shendu.no_grad():
        a(shendu.randn(*shape))            # move the batch-norm statistics off their defaults
    path = tmp_path / f"{name}.safetensors"
    shendu.save(a.state_dict(), path)
    shendu.manual_seed(1)
    b = models.get_model(name, **kw)
    b.load_state_dict(shendu.load(path))
    same_state(a.state_dict(), b.state_dict())
    x = shendu.randn(*shape)
    a.eval(), b.eval()
    with shendu.no_grad():
        assert np.array_equal(a(x).numpy(), b(x).numpy())
    # an ordinary safetensors file: other tools read the same keys
    from safetensors.numpy import load_file
    assert set(load_file(str(path))) == set(a.state_dict())


def tiny_run(epochs=1, seed=0, **kw):
    shendu.manual_seed(seed)
    m = models.lenet(num_classes=3, image_size=16)
    opt = optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    sch = optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    rng = np.random.default_rng(0)
    X = shendu.tensor(rng.standard_normal((40, 1, 16, 16)).astype(np.float32))
    y = shendu.tensor(rng.integers(0, 3, 40))
    tr = Trainer(m, opt, scheduler=sch, progress=False, log=None, **kw)
    tr.meta["note"] = "hello"
    tr.fit(DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True), epochs=epochs)
    return tr


def test_full_checkpoint_round_trip(tmp_path):
    a = tiny_run(epochs=2)
    path = tmp_path / "ckpt.safetensors"
    a.save_checkpoint(path)
    rng_after_save = shendu.get_rng_state()
    b = tiny_run(epochs=0, seed=5)
    b.meta = {}
    b.load_checkpoint(path)
    same_state(a.model.state_dict(), b.model.state_dict())
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sorted(sa["state"]) == sorted(sb["state"]) and len(sa["state"]) == 10
    for i in sa["state"]:
        assert np.array_equal(sa["state"][i]["momentum_buffer"].numpy(),
                              sb["state"][i]["momentum_buffer"].numpy())
    assert a.scheduler.state_dict() == b.scheduler.state_dict()
    assert b.optimizer.param_groups[0]["lr"] == 0.05 * 0.25
    assert (b.epoch, b.step) == (2, 10)
    assert b.history.state_dict() == a.history.state_dict()
    assert b.meta == {"note": "hello"}
    assert np.array_equal(shendu.get_rng_state().numpy(), rng_after_save.numpy())
    state = shendu.load(path)
    assert state["model_spec"] == {"name": "lenet", "kwargs": {"num_classes": 3, "image_size": 16}}
    rebuilt = models.from_checkpoint(path)
    same_state(a.model.state_dict(), rebuilt.state_dict())
    with pytest.raises(ValueError, match="does not say which model"):
        models.from_checkpoint(state["model"])


def test_checkpoint_from_another_architecture_names_keys_and_shapes(tmp_path):
    path = tmp_path / "lenet.safetensors"
    tiny_run().save_checkpoint(path)
    other = Trainer(models.lenet(num_classes=5, image_size=16),
                    optim.SGD([nn.Parameter(shendu.zeros(1))], lr=0.1), progress=False, log=None)
    before = {k: v.clone() for k, v in other.model.state_dict().items()}
    with pytest.raises(RuntimeError) as e:
        other.load_checkpoint(path)
    msg = str(e.value)
    assert str(path) in msg
    assert "saved from lenet(num_classes=3, image_size=16)" in msg
    assert "size mismatch for fc3.weight: copying a param with shape shendu.Size([3, 84]) " \
           "from checkpoint, the shape in current model is shendu.Size([5, 84])" in msg
    assert "size mismatch for fc3.bias" in msg
    same_state(before, other.model.state_dict())          # nothing was half-loaded
    # a different network altogether: every missing and unexpected key is listed
    r18 = models.resnet18(num_classes=3)
    with pytest.raises(RuntimeError) as e:
        r18.load_state_dict(shendu.load(path)["model"])
    msg = str(e.value)
    assert '"layer1.0.conv1.weight"' in msg and '"fc.weight"' in msg      # missing
    assert '"conv2.weight"' in msg and '"fc3.bias"' in msg                # unexpected
    assert "size mismatch for conv1.weight: copying a param with shape shendu.Size([6, 1, 5, 5])" \
        in msg


def test_resnet18_weights_into_resnet34():
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: .*"layer1\.2\.conv1'
                                           r'\.weight"'):
        models.resnet34().load_state_dict(models.resnet18().state_dict())


def _checkpoint_bytes(tmp_path):
    path = tmp_path / "good.safetensors"
    tiny_run().save_checkpoint(path)
    return path.read_bytes()


def test_truncated_checkpoints_are_reported_and_nothing_is_loaded(tmp_path):
    raw = _checkpoint_bytes(tmp_path)
    hlen = int.from_bytes(raw[:8], "little")
    victim = tiny_run(epochs=0, seed=3)
    before = {k: v.clone() for k, v in victim.model.state_dict().items()}
    cuts = [0, 3, 8, 9, 8 + hlen // 2, 8 + hlen - 1, 8 + hlen, 8 + hlen + 1,
            (8 + hlen + len(raw)) // 2, len(raw) - 1]
    bad = tmp_path / "bad.safetensors"
    for cut in cuts:
        bad.write_bytes(raw[:cut])
        with pytest.raises(SerializationError, match="truncated|corrupt|not even a header"):
            victim.load_checkpoint(bad)
        same_state(before, victim.model.state_dict())
        assert victim.epoch == 0
    bad.write_bytes(raw + b"\0\0\0\0")
    with pytest.raises(SerializationError, match="trailing garbage"):
        shendu.load(bad)
    bad.write_bytes(b"")
    with pytest.raises(SerializationError):
        shendu.load(bad)


def test_every_corruption_is_detected_or_harmless(tmp_path):
    """Flip one bit at hundreds of places (all over the header, across the data): the load
    either fails with SerializationError or returns exactly the saved checkpoint (a flip in
    an unused place, e.g. the "format" tag); it never returns something else."""
    raw = _checkpoint_bytes(tmp_path)
    good = shendu.load(tmp_path / "good.safetensors")
    hlen = int.from_bytes(raw[:8], "little")
    rng = np.random.default_rng(0)
    places = list(range(0, 8 + hlen, max(1, (8 + hlen) // 400))) + \
        list(rng.integers(8 + hlen, len(raw), 100))
    detected = 0
    for pos in places:
        flipped = bytearray(raw)
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            got = shendu.serialization._deserialize(bytes(flipped), "x")
        except SerializationError:
            detected += 1
            continue
        except Exception as e:          # noqa: BLE001 — any other error is a bug
            pytest.fail(f"flip at byte {pos}: {type(e).__name__}: {e}")
        same_state(good["model"], got["model"])
        assert got["epoch"] == good["epoch"] and got["history"] == good["history"]
    assert detected >= len(places) - 10


def test_load_reads_safetensors_written_by_torch(tmp_path):
    from safetensors.torch import save_file
    torch.manual_seed(0)
    tnet = TorchLeNet().eval()
    path = tmp_path / "torch_lenet.safetensors"
    save_file(tnet.state_dict(), str(path))
    state = shendu.load(path)
    assert list(state) == sorted(tnet.state_dict())         # safetensors sorts the keys
    snet = models.lenet().eval()
    result = snet.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(np.float32)
    with torch.no_grad(), shendu.no_grad():
        np.testing.assert_allclose(snet(shendu.tensor(x)).numpy(),
                                   tnet(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-5)
    # and the weights= argument takes the file directly
    again = models.lenet(weights=str(path)).eval()
    with shendu.no_grad():
        assert np.array_equal(again(shendu.tensor(x)).numpy(), snet(shendu.tensor(x)).numpy())


_WRITER = """
import sys, numpy as np, shendu
path = sys.argv[1]
i = 0
while True:
    i += 1
    shendu.save({"model": {"w": shendu.full((1_000_000,), float(i))}, "epoch": i}, path)
    print(i, flush=True)
"""


def test_a_save_killed_mid_write_leaves_the_last_checkpoint_intact(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for delay in (0.3, 0.55, 0.8):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], env=env,
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()                      # at least one complete save
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = shendu.load(path)                   # whole and consistent
        w = state["model"]["w"].numpy()
        assert w.shape == (1_000_000,) and (w == state["epoch"]).all()
        proc.stdout.close()
