"""Drill: crafted, malformed and hostile files. Each one must raise SerializationError from
shendu.load (never ValueError, TypeError, KeyError, RecursionError, JSONDecodeError...), and
`shendu eval` must report it in one line with exit status 2, not a traceback."""
import io
import json
import os
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import shendu
from shendu import cli, serialization
from shendu.serialization import SerializationError


def st_file(entries, data=b"", meta=None, raw_header=None):
    """A safetensors file from a header dict (entries + optional __metadata__) and data."""
    header = dict(entries)
    if meta is not None:
        header["__metadata__"] = meta
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def entry(dtype="F32", shape=(1,), start=0, stop=4):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [start, stop]}


def structured(structure, entries=None, data=b""):
    """A file whose __metadata__ carries a shendu structure (no checksums: a crafted file
    need not carry them, and an attacker can always recompute them)."""
    return st_file(entries or {}, data, {"shendu.structure": structure, "shendu.version": "2"})


def _valid_checkpoint():
    buf = io.BytesIO()
    shendu.save({"model": {"w": shendu.ones(2, 3)}, "epoch": 1}, buf)
    return buf.getvalue()


def _torch_zip(pkl):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x/data.pkl", pkl)
    return buf.getvalue()


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


_GOOD = _valid_checkpoint()
_HLEN = struct.unpack("<Q", _GOOD[:8])[0]

CRAFTED = {
    "empty file": b"",
    "7 bytes": b"\x01" * 7,
    "header length beyond the file": struct.pack("<Q", 1000) + b"{}",
    "header length 2**63": struct.pack("<Q", 2 ** 63) + b"{}",
    "header over the 16 MiB cap": struct.pack("<Q", 17 << 20) + b" " * 16,
    "header not JSON": st_file({}, raw_header=b"{not json"),
    "header not UTF-8": st_file({}, raw_header=b'{"\xff\xfe":1}'),
    "header a JSON list": st_file({}, raw_header=b"[1, 2]"),
    "header 100k-deep nesting": st_file({}, raw_header=b"[" * 100000 + b"]" * 100000),
    "entry not an object": st_file({"a": 5}),
    "entry missing dtype": st_file({"a": {"shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "unknown dtype string": st_file({"a": entry("FLOAT99")}, b"\0" * 4),
    "dtype not a string": st_file({"a": entry(7)}, b"\0" * 4),
    "library dtype shendu lacks (F8)": st_file({"a": entry("F8_E4M3", (1,), 0, 1)}, b"\0"),
    "library dtype shendu lacks (C64)": st_file({"a": entry("C64", (1,), 0, 8)}, b"\0" * 8),
    "BF16 with too few bytes": st_file({"a": entry("BF16", (4,), 0, 4)}, b"\0" * 4),
    "F32 with too many bytes": st_file({"a": entry("F32", (1,), 0, 8)}, b"\0" * 8),
    "shape [2**32, 2**32] (prod overflows)": st_file({"a": entry("F32", (2 ** 32, 2 ** 32), 0, 0)}),
    "shape [2**64]": st_file({"a": entry("F32", (2 ** 64,), 0, 0)}),
    "shape [True, 2]": st_file({"a": entry("F32", (True, 2), 0, 8)}, b"\0" * 8),
    "shape with a float": st_file({"a": entry("F32", (1.5,), 0, 4)}, b"\0" * 4),
    "negative shape": st_file({"a": entry("F32", (-1,), 0, 4)}, b"\0" * 4),
    "65 dimensions": st_file({"a": entry("F32", (1,) * 65, 0, 4)}, b"\0" * 4),
    "offsets reversed": st_file({"a": entry("F32", (1,), 4, 0)}, b"\0" * 4),
    "offsets overlap": st_file({"a": entry("F32", (1,), 0, 4), "b": entry("F32", (1,), 2, 6)},
                               b"\0" * 6),
    "gap between tensors": st_file({"a": entry("F32", (1,), 4, 8)}, b"\0" * 8),
    "data truncated": _GOOD[:-3],
    "trailing garbage": _GOOD + b"\0" * 4,
    "metadata value not a string": st_file({}, meta={"shendu.structure": 5}),
    "structure not JSON": structured("{oops"),
    "structure 100k-deep": structured("[" * 100000 + "]" * 100000),
    "structure 101 nested lists": structured('{"list":[' * 101 + "null" + "]}" * 101),
    "structure int with 5000 digits": structured('{"int":' + "9" * 5000 + "}"),
    "structure names a missing tensor": structured('{"tensor":"ghost"}'),
    "structure tensor name not a string": structured('{"tensor":[1]}'),
    "structure unknown kind": structured('{"pickle":"os.system"}'),
    "structure two kinds": structured('{"int":1,"float":2.0}'),
    "structure float garbage": structured('{"float":"1e999x"}'),
    "structure int holds a bool": structured('{"int":true}'),
    "structure dict with 3 parts": structured('{"dict":[["a"],[1],[2]]}'),
    "structure dict keys/values differ": structured('{"dict":[["a","b"],[1]]}'),
    "structure dict key a list": structured('{"dict":[[[1]],[1]]}'),
    "structure list not a list": structured('{"list":5}'),
    "structure unknown dtype": structured('{"dtype":"complex128"}'),
    "structure node a number": structured("5"),
    "structure flags not booleans": structured('{"tensor":"a","requires_grad":"yes"}',
                                               {"a": entry()}, b"\0" * 4),
    "integer tensor requiring grad": structured('{"tensor":"a","requires_grad":true}',
                                                {"a": entry("I32")}, b"\0" * 4),
    "checksum of one kind only": st_file({}, meta={"shendu.sha256": "0" * 64}),
    "unknown layout version": st_file({}, meta={"shendu.sha256": "0", "shendu.header_sha256": "0",
                                                "shendu.version": "99"}),
    "bit flip in the data": _GOOD[:-1] + bytes([_GOOD[-1] ^ 1]),
    "bit flip in a shape": _GOOD.replace(b'"shape":[2,3]', b'"shape":[3,2]'),
    "torch zip: os.system pickle": _torch_zip(pickle.dumps(_Evil(), protocol=2)),
    "torch zip: no data.pkl": _torch_zip(b"")[:-1],
    "torch zip: truncated": _torch_zip(pickle.dumps({"a": 1}, protocol=2))[:40],
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_file_raises_serialization_error(tmp_path, name):
    p = tmp_path / "crafted.safetensors"
    p.write_bytes(CRAFTED[name])
    with pytest.raises(SerializationError):
        shendu.load(p)
    with pytest.raises(SerializationError):
        shendu.load(io.BytesIO(CRAFTED[name]))


def test_cli_reports_every_crafted_file_in_one_line(tmp_path, capsys):
    for i, name in enumerate(CRAFTED):
        p = tmp_path / f"{i}.safetensors"
        p.write_bytes(CRAFTED[name])
        assert cli.main(["eval", str(p), "--data", "mnist-mini"]) == 2, name
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.strip().count("\n") == 0, (name, err)


def test_structure_nesting_is_capped_on_save_too(tmp_path):
    deep = []
    for _ in range(serialization._MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(SerializationError, match="nested more than"):
        shendu.save(deep, tmp_path / "deep")
    loop = []
    loop.append(loop)
    with pytest.raises(SerializationError, match="nested more than"):
        shendu.save({"x": loop}, tmp_path / "loop")
    ok = []
    for _ in range(serialization._MAX_DEPTH - 1):
        ok = [ok]
    shendu.save(ok, tmp_path / "ok")
    assert shendu.load(tmp_path / "ok") == ok


# ---------------------------------------------------------------- bounded work per header byte
def test_oversized_header_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    import safetensors

    def never(*a, **k):
        raise AssertionError("the header was handed to the parser")
    monkeypatch.setattr(safetensors, "safe_open", never)
    p = tmp_path / "huge.safetensors"
    with open(p, "wb") as fh:
        fh.write(struct.pack("<Q", serialization._MAX_HEADER + 1))
        fh.truncate(8 + serialization._MAX_HEADER + 1)          # sparse: no disk used
    with pytest.raises(SerializationError, match="at most"):
        shendu.load(p)


def _many_empty_entries(n):
    entries = {f"t{i}": entry("F32", (0,), 0, 0) for i in range(n)}
    return st_file(entries)


def test_too_many_entries_are_refused(tmp_path):
    p = tmp_path / "many.safetensors"
    p.write_bytes(_many_empty_entries(serialization._MAX_ENTRIES + 1))
    with pytest.raises(SerializationError, match="tensors"):
        shendu.load(p)


def test_python_memory_per_header_byte_is_bounded(tmp_path):
    """Empty entries cost header bytes but no data: what shendu allocates for them grows
    linearly with the header, at a bounded number of bytes per header byte."""
    peaks = []
    for n in (2000, 8000):
        raw = _many_empty_entries(n)
        p = tmp_path / f"m{n}.safetensors"
        p.write_bytes(raw)
        tracemalloc.start()
        out = shendu.load(p)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(out) == n
        peaks.append(peak / len(raw))
    assert max(peaks) < 40, peaks                   # bytes of Python memory per header byte
    assert peaks[1] < 1.5 * peaks[0] + 1, peaks     # linear, not worse


def test_nothing_loaded_from_a_valid_file_is_corrupted_by_the_checks():
    back = shendu.load(io.BytesIO(_GOOD))
    np.testing.assert_array_equal(back["model"]["w"].numpy(), np.ones((2, 3), np.float32))
    assert back["epoch"] == 1
