"""Drill: a Hypothesis fuzzer over safetensors headers, shendu structures and bytes. Whatever
it builds, shendu.load either returns or raises SerializationError; nothing else escapes."""
import io
import json
import struct

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import shendu  # noqa: E402
from shendu.serialization import SerializationError  # noqa: E402

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "U16", "U32",
          "U64", "C64", "F8_E4M3", "F8_E5M2", "f32", "", "BF", 7, None]
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
            "U8": 1, "BOOL": 1}
dims = st.one_of(st.integers(0, 4), st.integers(-3, 2 ** 65), st.booleans(), st.floats(0, 3),
                 st.just("2"))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                         st.floats(allow_nan=False), st.text(max_size=8))


def _load(raw):
    try:
        shendu.load(io.BytesIO(raw))
    except SerializationError:
        pass


def _file(header, data):
    h = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(h)) + h + data


NAMES = ["w", "b", "layer/0", "\u00e9\u00e8", " "]


@st.composite
def consistent_entries(draw):
    """Entries whose offsets tile the data exactly (so the library accepts them and the
    checks behind it are reached), with sometimes-wrong dtypes, sizes and ranks."""
    entries, pos = {}, 0
    for name in draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4)):
        dt = draw(st.sampled_from(DTYPES[:10]))
        if draw(st.integers(0, 9)):
            shape = draw(st.lists(st.integers(0, 3), max_size=3))
        else:
            shape = draw(st.lists(st.integers(0, 1), min_size=60, max_size=70))
        n = ITEMSIZE[dt]
        for d in shape:
            n *= d
        n = max(0, n + draw(st.sampled_from([0] * 30 + [1, -1])))
        entries[name] = {"dtype": dt, "shape": shape, "data_offsets": [pos, pos + n]}
        pos += n
    return entries, pos


def _structures(names):
    """Structure trees (shendu's __metadata__ encoding), valid and not, whose tensor leaves
    mostly name tensors the file holds."""
    tensor = st.builds(lambda name, flags: {"tensor": name, **flags},
                       st.sampled_from(names + ["ghost"]),
                       st.fixed_dictionaries({}, optional={"requires_grad": json_scalars,
                                                           "parameter": json_scalars}))
    leaf = st.one_of(
        json_scalars, tensor,
        st.builds(lambda v: {"ndarray": v}, st.sampled_from(names + [1])),
        st.builds(lambda v: {"int": v}, json_scalars),
        st.builds(lambda v: {"float": v}, st.one_of(json_scalars, st.sampled_from(
            ["nan", "inf", "-inf", "1e5"]))),
        st.builds(lambda v: {"dtype": v}, st.sampled_from(["float32", "int64", "bool",
                                                           "complex64", 3])),
        st.builds(lambda k, v: {k: v}, st.sampled_from(["pickle", "odict_flat", "tensor"]),
                  json_scalars))
    return st.recursive(leaf, lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.builds(lambda k, v: {k: v}, st.sampled_from(["list", "tuple"]),
                  st.one_of(st.lists(inner, max_size=3), json_scalars)),
        st.builds(lambda k, ks, vs: {k: [ks, vs]}, st.sampled_from(["dict", "odict"]),
                  st.lists(st.one_of(st.text(max_size=3), st.integers(), st.booleans(),
                                     st.none()), max_size=3),
                  st.lists(inner, max_size=3)),
        st.dictionaries(st.text(max_size=5), inner, max_size=2)), max_leaves=10)


STRUCTURES = _structures(NAMES)


@FUZZ
@given(st.data(), st.binary(max_size=8), st.sampled_from(
    [{}] * 6 + [{"shendu.version": "2"}, {"shendu.version": "1"}, {"format": "pt"},
                {"shendu.sha256": "0" * 64},
                {"shendu.sha256": "0", "shendu.header_sha256": "0", "shendu.version": "2"}]))
def test_fuzzed_headers_and_structures(data, extra, meta):
    entries, size = data.draw(consistent_entries())
    structure = data.draw(st.one_of(st.none(), STRUCTURES))
    header = dict(entries)
    meta = dict(meta)
    if structure is not None:
        meta["shendu.structure"] = json.dumps(structure)
    if meta:
        header["__metadata__"] = meta
    _load(_file(header, b"\x01" * size))
    if extra:
        _load(_file(header, b"\x01" * size + extra))


@FUZZ
@given(st.dictionaries(st.text(max_size=6), st.one_of(
    json_scalars,
    st.fixed_dictionaries({"dtype": st.sampled_from(DTYPES), "shape": st.lists(dims, max_size=4),
                           "data_offsets": st.lists(st.integers(-2, 2 ** 65), max_size=3)}),
    st.dictionaries(st.text(max_size=5), json_scalars, max_size=3)), max_size=4),
    st.binary(max_size=64))
def test_fuzzed_tables(header, data):
    _load(_file(header, data))


def _good_file():
    buf = io.BytesIO()
    shendu.save({"model": {"w": shendu.ones(2, 3), "b": shendu.zeros(3, dtype=shendu.int64)},
                 "epoch": 3, "lr": 0.5, "hist": [(1, "a"), None]}, buf)
    return buf.getvalue()


GOOD = _good_file()


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(1, 255)), min_size=1,
                max_size=4), st.integers(0, len(GOOD)), st.binary(max_size=4))
def test_mutated_valid_files(flips, cut, insert):
    raw = bytearray(GOOD)
    for pos, mask in flips:
        raw[pos] ^= mask
    _load(bytes(raw))
    _load(bytes(raw[:cut]) + insert + bytes(raw[cut:]))
    _load(GOOD[:cut])


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(raw):
    _load(raw)
    _load(struct.pack("<Q", len(raw)) + raw)
    _load(b"PK\x03\x04" + raw)


def _torch_archive():
    buf = io.BytesIO()
    base = shendu.arange(6.0).reshape(2, 3)
    shendu.save({"sd": {"w": base, "v": base[:, 1:], "n": shendu.tensor(3)}, "epoch": 2,
                 "p": shendu.nn.Parameter(shendu.ones(2)), "tags": ("a", None, 1.5)}, buf,
                format="torch")
    return buf.getvalue()


def _rezip(pkl):
    import zipfile
    src = zipfile.ZipFile(io.BytesIO(TORCH))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info in src.infolist():
            zf.writestr(info.filename, pkl if info.filename.endswith("data.pkl")
                        else src.read(info))
    return out.getvalue()


TORCH = _torch_archive()
TORCH_PKL = next(__import__("zipfile").ZipFile(io.BytesIO(TORCH)).read(n)
                 for n in __import__("zipfile").ZipFile(io.BytesIO(TORCH)).namelist()
                 if n.endswith("data.pkl"))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(TORCH_PKL) - 1), st.integers(0, 255)), min_size=1,
                max_size=3), st.integers(0, len(TORCH_PKL)), st.binary(max_size=3))
def test_mutated_torch_pickles(edits, cut, insert):
    """The weights-only pickle interpreter, fed damaged pickles of a real archive."""
    pkl = bytearray(TORCH_PKL)
    for pos, value in edits:
        pkl[pos] = value
    _load(_rezip(bytes(pkl)))
    _load(_rezip(bytes(pkl[:cut]) + insert + bytes(pkl[cut:])))
