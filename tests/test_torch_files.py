"""PyTorch .pt/.pth files without PyTorch: torch-written files read where `import torch`
fails, shendu-written files read by torch.load(weights_only=True), hostile pickles refused."""
import io
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import shendu
from shendu.serialization import SerializationError

torch = pytest.importorskip("torch")
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

CHILD = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None                 # `import torch` raises ImportError
    try:
        import torch
    except ImportError:
        pass
    else:
        raise SystemExit("torch is importable in the child")
    import numpy as np
    import shendu
    from collections import OrderedDict
    path, want = sys.argv[1], np.load(sys.argv[2])
    ob = shendu.load(path)
    sd = ob["sd"]
    assert type(sd) is OrderedDict and list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias",
                                                   "1.running_mean", "1.running_var",
                                                   "1.num_batches_tracked"], list(sd)
    for k in sd:
        assert np.array_equal(sd[k].numpy(), want["sd." + k]), k
    assert sd["1.num_batches_tracked"].dtype == shendu.int64
    base, view, tr = ob["base"].numpy(), ob["view"].numpy(), ob["transposed"].numpy()
    assert np.array_equal(view, want["view"]) and np.array_equal(tr, want["transposed"])
    assert np.shares_memory(base, view) and np.shares_memory(base, tr)
    assert tr.strides == (4, 16) and view.strides == (16, 4)
    assert np.array_equal(ob["expanded"].numpy(), want["expanded"])
    assert ob["expanded"].numpy().strides[0] == 0
    assert isinstance(ob["param"], shendu.nn.Parameter) and ob["param"].requires_grad
    assert ob["grad"].requires_grad and not isinstance(ob["grad"], shendu.nn.Parameter)
    assert np.array_equal(ob["bf16"].numpy(), want["bf16"]) and ob["bf16"].dtype == shendu.float32
    for k in ("f64", "f16", "i32", "i8", "u8", "bool", "empty", "scalar"):
        got = ob[k].numpy()
        assert got.dtype == want[k].dtype and np.array_equal(got, want[k]), k
    assert ob["meta"] == {"epoch": 3, "lr": 0.125, "name": "run", "none": None,
                          "nested": [1, (2.5, "x")], "big": 2 ** 70, "flag": True}
    assert ob["dtype"] is shendu.float16 and ob["bytes"] == b"ab\\x00"
    mapped = shendu.load(path, mmap=True)
    assert np.array_equal(mapped["view"].numpy(), want["view"])
    print("OK")
""")


def _torch_file(path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    net(torch.randn(5, 3))
    base = torch.arange(12.0).reshape(3, 4)
    obj = {"sd": net.state_dict(), "base": base, "view": base[:, 1:3], "transposed": base.t(),
           "expanded": torch.ones(3).expand(2, 3), "param": torch.nn.Parameter(torch.ones(2)),
           "grad": torch.zeros(2, requires_grad=True),
           "bf16": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
           "f64": torch.randn(2, dtype=torch.float64), "f16": torch.randn(3).half(),
           "i32": torch.tensor([1, -2], dtype=torch.int32),
           "i8": torch.tensor([-3], dtype=torch.int8), "u8": torch.tensor([250], dtype=torch.uint8),
           "bool": torch.tensor([True, False]), "empty": torch.zeros(0, 3),
           "scalar": torch.tensor(2.5),
           "meta": {"epoch": 3, "lr": 0.125, "name": "run", "none": None,
                    "nested": [1, (2.5, "x")], "big": 2 ** 70, "flag": True},
           "dtype": torch.float16, "bytes": b"ab\x00"}
    torch.save(obj, path)
    want = {"sd." + k: v.numpy() for k, v in obj["sd"].items()}
    want.update({k: obj[k].detach().float().numpy() if k == "bf16" else obj[k].detach().numpy()
                 for k in ("view", "transposed", "expanded", "bf16", "f64", "f16", "i32", "i8",
                           "u8", "bool", "empty", "scalar")})
    return want


def test_torch_written_file_reads_where_torch_cannot_be_imported(tmp_path):
    want = _torch_file(tmp_path / "model.pt")
    np.savez(tmp_path / "want.npz", **want)
    env = dict(os.environ, PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "model.pt"),
                        str(tmp_path / "want.npz")], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "OK", r.stderr[-3000:]


def test_shendu_written_file_is_read_by_torch_weights_only(tmp_path):
    base = shendu.arange(12.0).reshape(3, 4)
    obj = {"sd": OrderedDict([("w", shendu.randn(2, 3)), ("n", shendu.tensor(4))]),
           "base": base, "view": base[:, 1:3], "transposed": base.t(),
           "param": shendu.nn.Parameter(shendu.ones(2)), "frozen": shendu.nn.Parameter(
               shendu.ones(1), requires_grad=False), "grad": shendu.zeros(2, requires_grad=True),
           "f16": shendu.ones(2, dtype=shendu.float16), "mask": shendu.tensor([True, False]),
           "empty": shendu.zeros(0, 2), "scalar": shendu.tensor(1.5),
           "meta": {"epoch": 2, "lr": 0.5, "tags": ("a", None), "blob": b"\x00\xff", 7: [True]},
           "dtype": shendu.float64, "np_scalar": np.float32(0.25)}
    p = tmp_path / "s.pt"
    shendu.save(obj, p, format="torch")
    for mmap in (False, True):
        t = torch.load(p, weights_only=True, mmap=mmap)
        assert isinstance(t["sd"], OrderedDict) and list(t["sd"]) == ["w", "n"]
        np.testing.assert_array_equal(t["sd"]["w"].numpy(), obj["sd"]["w"].numpy())
        assert t["sd"]["n"].dtype == torch.int64 and t["sd"]["n"].item() == 4
        for k in ("view", "transposed"):
            np.testing.assert_array_equal(t[k].numpy(), obj[k].numpy())
            assert t[k].untyped_storage().data_ptr() == t["base"].untyped_storage().data_ptr()
        assert t["transposed"].stride() == (1, 4)
        assert isinstance(t["param"], torch.nn.Parameter) and t["param"].requires_grad
        assert isinstance(t["frozen"], torch.nn.Parameter) and not t["frozen"].requires_grad
        assert t["grad"].requires_grad and t["f16"].dtype == torch.float16
        assert t["mask"].tolist() == [True, False] and t["empty"].shape == (0, 2)
        assert t["scalar"].shape == () and t["scalar"].item() == 1.5
        assert t["meta"] == {"epoch": 2, "lr": 0.5, "tags": ("a", None), "blob": b"\x00\xff",
                             7: [True]}
        assert t["dtype"] is torch.float64 and t["np_scalar"] == 0.25
    back = shendu.load(p)                       # and shendu reads its own file back
    assert np.shares_memory(back["base"].numpy(), back["view"].numpy())
    buf = io.BytesIO()
    shendu.save({"x": shendu.ones(3)}, buf, format="torch")
    buf.seek(0)
    assert torch.load(buf, weights_only=True)["x"].tolist() == [1.0, 1.0, 1.0]


def test_saving_what_torch_cannot_load_is_refused_with_the_path(tmp_path):
    with pytest.raises(SerializationError, match="opt/fn"):
        shendu.save({"opt": {"fn": print}}, tmp_path / "x.pt", format="torch")
    with pytest.raises(SerializationError, match="NumPy arrays"):
        shendu.save({"a": np.ones(2)}, tmp_path / "x.pt", format="torch")
    with pytest.raises(ValueError, match="format"):
        shendu.save({}, tmp_path / "x", format="pickle")
    assert not os.path.exists(tmp_path / "x.pt")


# ---------------------------------------------------------------- hostile archives
def _archive(pkl, records=(), prefix="evil"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{prefix}/data.pkl", pkl)
        zf.writestr(f"{prefix}/byteorder", b"little")
        for name, data in records:
            zf.writestr(f"{prefix}/{name}", data)
        zf.writestr(f"{prefix}/version", b"3\n")
    return buf.getvalue()


class _System:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def test_hostile_pickle_in_a_zip_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"w": [1, _System(f"touch {marker}")]}, protocol=2)
    p = tmp_path / "evil.pt"
    p.write_bytes(_archive(payload))
    with pytest.raises(SerializationError, match=r"posix\.system|os\.system"):
        shendu.load(p)
    with pytest.raises(SerializationError, match="system"):
        shendu.load_torch_file(p)
    assert not marker.exists()
    # the same archive through torch's own weights-only loader is refused too
    with pytest.raises(pickle.UnpicklingError):
        torch.load(p, weights_only=True)
    assert not marker.exists()


@pytest.mark.parametrize("pkl, match", [
    (b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R.", "builtins.eval"),
    (b"\x80\x02c__builtin__\nexec\nX\x01\x00\x00\x00x\x85R.", "builtins.exec"),
    (b"\x80\x02ctorch._utils\n_rebuild_sparse_tensor\n.", "_rebuild_sparse_tensor"),
    (b"\x80\x02ctorch\nload\n.", "torch.load"),
    (b"(ios\nsystem\n.", "opcode b'i'"),                            # INST (protocol 0)
    (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93.",
     "os.system"),                                                  # STACK_GLOBAL
    (b"\x80\x02ccollections\nOrderedDict\n)R}X\x09\x00\x00\x00__class__K\x01sb.", "state"),
    (b"\x80\x02ccollections\nOrderedDict\n(K\x01tR.", "malformed"),  # OrderedDict(1)
    (b"\x80\x02cbuiltins\nbytearray\nJ\x00\x00\x00\x40\x85R.", "bytearray"),
    (b"\x80\x02]K\x01", "truncated"),
    (b"\x80\x02a.", "malformed"),
    (b"\x80\x02h\x05.", "malformed"),
])
def test_hostile_or_broken_pickles_are_refused(tmp_path, pkl, match):
    p = tmp_path / "evil.pt"
    p.write_bytes(_archive(pkl))
    with pytest.raises(SerializationError, match=match):
        shendu.load(p)


def _tensor_pickle(storage_key, offset, size, stride, stype="FloatStorage"):
    """A pickle of one tensor, as torch writes it, with the given storage/size/stride."""
    from shendu import _torch_zip as tz
    ref = tz._TensorRef(tz._Storage(storage_key, np.zeros(4, np.float32)), offset, size,
                        stride, False, False)
    buf = io.BytesIO()
    pk = tz._Pickler(buf, protocol=2)
    pk.persistent_id = lambda obj: ("storage", tz._Global("torch", stype), obj.key, "cpu", 4) \
        if type(obj) is tz._Storage else None
    pk.dump({"t": ref})
    return buf.getvalue()


@pytest.mark.parametrize("records, size, stride, offset, match", [
    ([("data/0", b"\0" * 16)], (2, 2), (2, 1), 1, "past its storage"),
    ([("data/0", b"\0" * 16)], (5,), (1,), 0, "past its storage"),
    ([("data/0", b"\0" * 14)], (2,), (1,), 0, "whole number"),
    ([], (2,), (1,), 0, "no record"),
    ([("data/0", b"\0" * 16)], (2, 2), (1,), 0, "malformed size"),
    ([("data/0", b"\0" * 16)], (1,) * 65, (1,) * 65, 0, "dimensions"),
])
def test_tensors_outside_their_storage_are_refused(tmp_path, records, size, stride, offset,
                                                   match):
    p = tmp_path / "bad.pt"
    p.write_bytes(_archive(_tensor_pickle("0", offset, size, stride), records))
    with pytest.raises(SerializationError, match=match):
        shendu.load(p)


def test_unrepresentable_and_broken_archives_are_refused(tmp_path):
    p = tmp_path / "c.pt"
    p.write_bytes(_archive(_tensor_pickle("0", 0, (1,), (1,), "ComplexFloatStorage"),
                           [("data/0", b"\0" * 8)]))
    with pytest.raises(SerializationError, match="ComplexFloatStorage"):
        shendu.load(p)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/b.txt", b"hello")
    with pytest.raises(SerializationError, match="not a torch.save file"):
        shendu.load(io.BytesIO(buf.getvalue()))
    good = io.BytesIO()
    torch.save({"w": torch.ones(3)}, good)
    raw = good.getvalue()
    with pytest.raises(SerializationError):
        shendu.load(io.BytesIO(raw[: len(raw) // 2]))
