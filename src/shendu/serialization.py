"""``shendu.save`` / ``shendu.load`` without pickle.

Files are in the safetensors format (8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, then the raw bytes), written and read
here with NumPy alone. A flat dict of tensors (a ``state_dict``) is stored under its own
keys, so the file is an ordinary safetensors file that other tools read; and any
safetensors file (e.g. one written by ``safetensors.torch.save_file``) loads as a dict.
Nested objects (checkpoints: dicts, lists, tuples, numbers, strings, None and tensors)
keep their structure in the header's ``__metadata__``. Loading never executes code.

The header also carries the SHA-256 of the data section and of its own description of the
tensors (names, dtypes, shapes, offsets and the structure): a truncated or corrupted file
is reported, never half-loaded. Saving to a path writes a temporary file in the same
folder, flushes it to disk and renames it over the target, so an interrupted save
leaves the previous file intact.
"""
import hashlib
import io
import json
import math
import os
import struct
from collections import OrderedDict

import numpy as np

from ._tensor import Tensor, _make

__all__ = ["save", "load", "load_torch_file", "SerializationError"]

_MAGIC_KEY = "shendu.structure"
_HASH_KEY = "shendu.sha256"
_HEADER_HASH_KEY = "shendu.header_sha256"
_FORMAT_KEY = "format"

_TO_ST = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
          np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
          np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}
_FROM_ST = {v: k for k, v in _TO_ST.items()}
_MAX_HEADER = 100 * 1024 * 1024


class SerializationError(RuntimeError):
    """A file that is not a valid shendu/safetensors file, or is truncated or corrupted."""


# ------------------------------------------------------------------ saving
def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save ``obj`` (a tensor, a state_dict, or nested dicts/lists/tuples of tensors, numbers,
    strings and None) to ``f`` (a path or a binary file object)."""
    tensors = OrderedDict()
    flat = _is_flat_state_dict(obj)
    structure = None if flat else _encode(obj, tensors, "")
    if flat:
        for k, v in obj.items():
            tensors[k] = _array_of(v)
    blob = _serialize(tensors, structure, flat_type=type(obj).__name__ if flat else None)
    if isinstance(f, (str, os.PathLike)):
        _atomic_write(os.fspath(f), blob)
    else:
        f.write(blob)


def _is_flat_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, Tensor) and not getattr(v, "_requires_grad", False)
        for k, v in obj.items())


def _contiguous(a):
    return a if a.flags.c_contiguous else a.copy(order="C")     # keeps 0-d arrays 0-d


def _array_of(t):
    a = _contiguous(t._data)
    if a.dtype not in _TO_ST:
        raise SerializationError(f"cannot save dtype {a.dtype}")
    return a


def _encode(obj, tensors, path):
    """A JSON-able description of ``obj``; tensors go into ``tensors`` under their path."""
    if isinstance(obj, Tensor):
        key = path or "tensor"
        while key in tensors:
            key += "_"
        tensors[key] = _array_of(obj)
        node = {"tensor": key}
        if obj._requires_grad:
            node["requires_grad"] = True
        if getattr(obj, "_is_param", False):
            node["parameter"] = True
        return node
    if isinstance(obj, np.ndarray):
        key = path or "array"
        tensors[key] = _contiguous(obj)
        return {"ndarray": key}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return {"int": int(obj)}
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return {"float": v if math.isfinite(v) else repr(v)}
    if isinstance(obj, dict):
        keys, vals = [], []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise SerializationError(f"dict keys must be str or int, got {type(k).__name__}")
            keys.append(k)
            vals.append(_encode(v, tensors, f"{path}/{k}" if path else str(k)))
        kind = "odict" if isinstance(obj, OrderedDict) else "dict"
        return {kind: [keys, vals]}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [_encode(v, tensors, f"{path}/{i}" if path else str(i))
                       for i, v in enumerate(obj)]}
    from . import _dtype
    if isinstance(obj, _dtype.dtype):
        return {"dtype": obj.name}
    raise SerializationError(f"shendu.save cannot store objects of type {type(obj).__name__} "
                             f"(at '{path or '<root>'}'): only tensors, arrays, numbers, strings, "
                             f"None, and dicts/lists/tuples of them are saved without pickle")


def _serialize(tensors, structure, flat_type=None):
    header = {}
    offset = 0
    chunks = []
    for name, a in tensors.items():
        nbytes = a.nbytes
        header[name] = {"dtype": _TO_ST[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + nbytes]}
        chunks.append(a.tobytes())
        offset += nbytes
    data = b"".join(chunks)
    meta = {_FORMAT_KEY: "pt", _HASH_KEY: hashlib.sha256(data).hexdigest()}
    if structure is not None:
        meta[_MAGIC_KEY] = json.dumps(structure, separators=(",", ":"))
    elif flat_type == "OrderedDict":
        meta[_MAGIC_KEY] = json.dumps({"odict_flat": True})
    meta[_HEADER_HASH_KEY] = _header_hash(header, meta.get(_MAGIC_KEY))
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)              # align the data section to 8 bytes
    return struct.pack("<Q", len(h)) + h + data


def _header_hash(entries, structure):
    """SHA-256 of the tensor table and the structure, in a canonical JSON form."""
    text = json.dumps(entries, sort_keys=True, separators=(",", ":")) + (structure or "")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _atomic_write(path, blob):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    _remove_stale_temporaries(d, os.path.basename(path))
    try:
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _remove_stale_temporaries(folder, name):
    """Delete ``.NAME.tmp-PID`` files left in ``folder`` by saves that were killed: those
    whose process no longer exists (a live one may be saving right now)."""
    prefix = f".{name}.tmp-"
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        pid = entry[len(prefix):]
        if not entry.startswith(prefix) or not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue                            # alive (or another user's): leave it
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        try:
            os.remove(os.path.join(folder, entry))
        except OSError:
            pass


# ------------------------------------------------------------------ loading
def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **kwargs):
    """Load what ``save`` wrote, or any safetensors file (as an OrderedDict of tensors).
    ``map_location`` is accepted for compatibility ('cpu' only)."""
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: '{path}'")
        with open(path, "rb") as fh:
            raw = fh.read()
        name = path
    else:
        raw = f.read()
        name = getattr(f, "name", "<stream>")
    return _deserialize(raw, name)


def _deserialize(raw, name):
    if raw[:2] == b"PK":
        raise SerializationError(f"{name} is a PyTorch pickle archive (torch.save): shendu never "
                                 f"unpickles. Convert it with shendu.load_torch_file('{name}') "
                                 f"(needs torch installed), or save it with safetensors.")
    if len(raw) < 8:
        raise SerializationError(f"{name} is truncated: {len(raw)} bytes, not even a header")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if hlen > _MAX_HEADER or 8 + hlen > len(raw):
        raise SerializationError(f"{name} is truncated or not a safetensors/shendu file (header "
                                 f"of {hlen} bytes announced, file has {len(raw)} bytes)")
    try:
        header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SerializationError(f"{name} has a corrupt header: {e}") from None
    if not isinstance(header, dict):
        raise SerializationError(f"{name} has a corrupt header: not a JSON object")
    data = memoryview(raw)[8 + hlen:]
    meta = header.pop("__metadata__", None) or {}
    _check_table(header, name)
    end = max((v["data_offsets"][1] for v in header.values()), default=0)
    if end != len(data):
        raise SerializationError(f"{name} is truncated or has trailing garbage: the header "
                                 f"describes {end} data bytes, the file holds {len(data)}")
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise SerializationError(f"{name} has a corrupt header: __metadata__ must map strings "
                                 f"to strings")
    want, want_header = meta.get(_HASH_KEY), meta.get(_HEADER_HASH_KEY)
    if (want is None) != (want_header is None):
        raise SerializationError(f"{name} is corrupted: its header lost one of its two "
                                 f"checksums ({_HASH_KEY}, {_HEADER_HASH_KEY})")
    if want is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise SerializationError(f"{name} is corrupted: the data's SHA-256 is {got}, the "
                                     f"header recorded {want}")
        if _header_hash(header, meta.get(_MAGIC_KEY)) != want_header:
            raise SerializationError(f"{name} is corrupted: its header (tensor names, dtypes, "
                                     f"shapes, offsets or structure) does not match its "
                                     f"recorded SHA-256")
    arrays = OrderedDict()
    for key, info in header.items():
        arrays[key] = _read_array(data, key, info, name)
    structure = meta.get(_MAGIC_KEY)
    if structure is None:
        return OrderedDict((k, _make(a, None, 0)) for k, a in arrays.items())
    structure = json.loads(structure)
    if isinstance(structure, dict) and structure.get("odict_flat"):
        return OrderedDict((k, _make(a, None, 0)) for k, a in arrays.items())
    return _decode(structure, arrays)


def _check_table(header, name):
    """Every entry names a dtype, a shape and a byte range; the ranges tile the data."""
    spans = []
    for key, info in header.items():
        ok = isinstance(info, dict) and isinstance(info.get("dtype"), str) and \
            isinstance(info.get("shape"), list) and isinstance(info.get("data_offsets"), list) \
            and len(info["data_offsets"]) == 2 and \
            all(isinstance(v, int) and v >= 0 for v in info["shape"] + info["data_offsets"])
        if not ok:
            raise SerializationError(f"{name} has a corrupt header: the entry for '{key}' "
                                     f"is not {{dtype, shape, data_offsets}}")
        spans.append(tuple(info["data_offsets"]))
    pos = 0
    for start, stop in sorted(spans):
        if start != pos or stop < start:
            raise SerializationError(f"{name} has a corrupt header: tensor byte ranges overlap "
                                     f"or leave gaps (at byte {start}, expected {pos})")
        pos = stop


def _read_array(data, key, info, name):
    st = info["dtype"]
    if st == "BF16":
        start, stop = info["data_offsets"]
        u16 = np.frombuffer(data[start:stop], dtype="<u2")
        return (u16.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])
    if st not in _FROM_ST:
        raise SerializationError(f"{name}: tensor '{key}' has dtype {st}, which shendu does not "
                                 f"support")
    dt = _FROM_ST[st].newbyteorder("<") if _FROM_ST[st].itemsize > 1 else _FROM_ST[st]
    start, stop = info["data_offsets"]
    shape = tuple(info["shape"])
    n = int(np.prod(shape)) if shape else 1
    if stop - start != n * dt.itemsize:
        raise SerializationError(f"{name}: tensor '{key}' should hold {n * dt.itemsize} bytes, "
                                 f"the header gives {stop - start}")
    return np.frombuffer(data[start:stop], dtype=dt).astype(dt.newbyteorder("="), copy=True) \
        .reshape(shape)


def _decode(node, arrays):
    if node is None or isinstance(node, (bool, str)):
        return node
    kind = next((k for k in _KINDS if k in node), None)
    if kind is None:
        raise SerializationError(f"unknown entry {sorted(node)} in the file's structure")
    val = node[kind]
    if kind == "tensor":
        t = _make(arrays[val], None, 0)
        if node.get("parameter"):
            from .nn.parameter import Parameter
            return Parameter(t, requires_grad=node.get("requires_grad", False))
        if node.get("requires_grad"):
            t.requires_grad_(True)
        return t
    if kind == "ndarray":
        return arrays[val]
    if kind == "int":
        return int(val)
    if kind == "float":
        return float(val)
    if kind in ("dict", "odict"):
        keys, vals = val
        cls = OrderedDict if kind == "odict" else dict
        return cls((k, _decode(v, arrays)) for k, v in zip(keys, vals))
    if kind == "list":
        return [_decode(v, arrays) for v in val]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in val)
    if kind == "dtype":
        from . import _dtype
        return _dtype._BY_NAME[val]
    raise SerializationError(f"unknown entry {kind!r} in the file's structure")


_KINDS = ("tensor", "ndarray", "int", "float", "dict", "odict", "list", "tuple", "dtype")


# ------------------------------------------------------------------ PyTorch files
def load_torch_file(path):
    """Import a file written by ``torch.save`` (a state_dict or nested dict of tensors) into
    shendu tensors. Uses torch (only if installed) with ``weights_only=True``, which refuses
    to run arbitrary code."""
    try:
        import torch
    except ImportError:
        raise ImportError("load_torch_file needs PyTorch installed to read torch.save files; "
                          "alternatively save the weights with safetensors, which shendu reads "
                          "directly") from None
    obj = torch.load(path, map_location="cpu", weights_only=True)
    return _from_torch(obj)


def _from_torch(obj):
    import torch
    if isinstance(obj, torch.Tensor):
        return _make(obj.detach().cpu().numpy().copy(), None, 0)
    if isinstance(obj, dict):
        return type(obj)((k, _from_torch(v)) for k, v in obj.items()) \
            if isinstance(obj, OrderedDict) else {k: _from_torch(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_from_torch(v) for v in obj)
    return obj
