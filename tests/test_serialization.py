"""shendu.save / shendu.load: no pickle, safetensors-compatible, corruption detected."""
import io
import math
import os
from collections import OrderedDict

import numpy as np
import pytest
import torch

import shendu
from shendu.serialization import SerializationError


def test_state_dict_round_trip_is_a_plain_safetensors_file(tmp_path):
    sd = OrderedDict([("fc.weight", shendu.randn(3, 4)), ("fc.bias", shendu.zeros(3)),
                      ("bn.num_batches_tracked", shendu.tensor(5)),
                      ("half", shendu.ones(2, dtype=shendu.float16))])
    p = tmp_path / "w.safetensors"
    shendu.save(sd, p)
    back = shendu.load(p)
    assert list(back) == list(sd) and isinstance(back, OrderedDict)
    for k in sd:
        assert back[k].dtype == sd[k].dtype and np.array_equal(back[k].numpy(), sd[k].numpy())
    from safetensors.numpy import load_file
    other = load_file(str(p))
    assert np.array_equal(other["fc.weight"], sd["fc.weight"].numpy())


def test_reads_file_written_by_safetensors_torch(tmp_path):
    from safetensors.torch import save_file
    w = {"a": torch.randn(2, 3), "b": torch.arange(4), "c": torch.randn(2, dtype=torch.bfloat16)}
    p = tmp_path / "t.safetensors"
    save_file(w, str(p))
    back = shendu.load(p)
    np.testing.assert_array_equal(back["a"].numpy(), w["a"].numpy())
    assert back["b"].dtype == shendu.int64
    np.testing.assert_array_equal(back["c"].numpy(), w["c"].float().numpy())


def test_nested_checkpoint_round_trip(tmp_path):
    p = shendu.nn.Parameter(shendu.randn(2))
    obj = {"epoch": 3, "lr": 0.1, "nan": float("nan"), "name": "run", "none": None,
           "flags": (True, False), "state": {0: {"step": 5, "buf": shendu.ones(2)}},
           "groups": [{"params": [0, 1], "lr": 1e-3}], "param": p,
           "grad_tensor": shendu.ones(2, requires_grad=True), "arr": np.arange(3),
           "dtype": shendu.float64}
    shendu.save(obj, tmp_path / "ck")
    back = shendu.load(tmp_path / "ck")
    assert back["epoch"] == 3 and back["lr"] == 0.1 and math.isnan(back["nan"])
    assert back["name"] == "run" and back["none"] is None and back["flags"] == (True, False)
    assert back["state"][0]["step"] == 5 and back["state"][0]["buf"].tolist() == [1.0, 1.0]
    assert list(back["state"]) == [0] and back["groups"] == [{"params": [0, 1], "lr": 1e-3}]
    assert isinstance(back["param"], shendu.nn.Parameter) and back["param"].requires_grad
    assert back["grad_tensor"].requires_grad and back["dtype"] is shendu.float64
    assert np.array_equal(back["arr"], np.arange(3))


def test_single_tensor_and_file_object():
    buf = io.BytesIO()
    shendu.save(shendu.arange(5), buf)
    buf.seek(0)
    assert shendu.load(buf).tolist() == [0, 1, 2, 3, 4]


def test_truncated_and_corrupted_files_are_rejected(tmp_path):
    p = tmp_path / "m.st"
    shendu.save({"w": shendu.randn(100)}, p)
    raw = p.read_bytes()
    (tmp_path / "trunc").write_bytes(raw[:-10])
    with pytest.raises(SerializationError, match="truncated"):
        shendu.load(tmp_path / "trunc")
    (tmp_path / "short").write_bytes(raw[:20])
    with pytest.raises(SerializationError, match="truncated"):
        shendu.load(tmp_path / "short")
    bad = bytearray(raw)
    bad[-5] ^= 0xFF
    (tmp_path / "flip").write_bytes(bytes(bad))
    with pytest.raises(SerializationError, match="corrupted"):
        shendu.load(tmp_path / "flip")


def test_torch_files_load_through_shendu_load_and_load_torch_file(tmp_path):
    p = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2), "n": 3}, p)
    for back in (shendu.load(p), shendu.load_torch_file(p)):
        assert back["w"].tolist() == [1.0, 1.0] and back["n"] == 3


def test_mmap_load_maps_the_file_and_keeps_header_checks(tmp_path):
    p = tmp_path / "ck"
    obj = {"w": shendu.randn(3, 4), "step": 7}
    shendu.save(obj, p)
    back = shendu.load(p, mmap=True)
    assert isinstance(back["w"].numpy().base, np.memmap) or \
        isinstance(getattr(back["w"].numpy().base, "base", None), np.memmap)
    np.testing.assert_array_equal(back["w"].numpy(), obj["w"].numpy())
    back["w"].add_(1.0)                       # copy-on-write: the file is not changed
    np.testing.assert_array_equal(shendu.load(p)["w"].numpy(), obj["w"].numpy())
    with pytest.raises(ValueError, match="path"):
        shendu.load(io.BytesIO(p.read_bytes()), mmap=True)


def test_unsupported_objects_name_the_path(tmp_path):
    with pytest.raises(SerializationError, match="opt/fn"):
        shendu.save({"opt": {"fn": lambda: 0}}, tmp_path / "x")


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "ck"
    shendu.save({"v": shendu.ones(2)}, p)

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        shendu.save({"v": shendu.zeros(2)}, p)
    monkeypatch.undo()
    assert shendu.load(p)["v"].tolist() == [1.0, 1.0]
    assert [f for f in os.listdir(tmp_path)] == ["ck"]
