"""``shendu.save`` / ``shendu.load`` without pickle.

Files are safetensors files (8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw bytes), written and parsed by the
``safetensors`` library: its header parser is the strict one every other tool uses. A
tensor keeps its name (a ``state_dict`` key, or a '/'-joined path inside a nested object),
so any safetensors reader sees a model's weights; and any safetensors file (e.g. one written
by ``safetensors.torch.save_file``) loads as an OrderedDict. Nested objects (checkpoints:
dicts, lists, tuples, numbers, strings, None and tensors) keep their structure in the
header's ``__metadata__``. Loading never executes code.

The header also carries SHA-256 checksums of the tensor bytes and of the table (names,
dtypes, shapes and the structure): a truncated or corrupted file is reported, never
half-loaded. ``load(path, mmap=True)`` maps the file instead of reading it: the tensors
are copy-on-write views of the mapping and pages are read when first touched, so the data
checksum is not computed (the header's is). Saving to a path writes a temporary file in
the same folder, flushes it to disk and renames it over the target, so an interrupted save
leaves the previous file intact.

Every malformed file raises :class:`SerializationError` (a ``RuntimeError``), whatever is
wrong with it; the work done per header byte is bounded (header size, tensor count,
dimensions and nesting depth are capped). ``.pt``/``.pth`` zip archives written by
``torch.save`` are read by :mod:`shendu._torch_zip` without torch, and
``save(obj, f, format="torch")`` writes one.

File layout versions: 2 (this code) keeps the structure for every object and hashes each
tensor's bytes in name order; 1 (shendu <= 0.1.0, hand-written) hashed the data section
and the table with byte offsets. Both load.
"""
import hashlib
import json
import math
import os
import struct
import tempfile
from collections import OrderedDict

import numpy as np

from ._tensor import Tensor, _make

__all__ = ["save", "load", "load_torch_file", "SerializationError"]

_VERSION_KEY = "shendu.version"
_MAGIC_KEY = "shendu.structure"
_HASH_KEY = "shendu.sha256"
_HEADER_HASH_KEY = "shendu.header_sha256"
_FORMAT_KEY = "format"

_TO_ST = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
          np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
          np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}
_FROM_ST = {v: k for k, v in _TO_ST.items()}
_BF16_ITEMSIZE = 2

# Bounds on what a header may ask for, so the work done per header byte is bounded.
_MAX_HEADER = 16 * 1024 * 1024      # (the library allows 100 MiB; that parse costs ~0.8 GB)
_MAX_ENTRIES = 1 << 16              # tensors per file (ResNet-50's checkpoint has ~1,100)
_MAX_NDIM = 64                      # torch's limit
_MAX_DEPTH = 100                    # nesting of saved structures
_ZIP_MAGIC = b"PK\x03\x04"


class SerializationError(RuntimeError):
    """A file that is not a valid shendu/safetensors/PyTorch file, or is truncated,
    corrupted or hostile; or an object that cannot be saved without pickle."""


def _safetensors():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError("shendu.save/shendu.load need the 'safetensors' package: "
                          "pip install safetensors") from None
    return safetensors


# ------------------------------------------------------------------ saving
def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True,
         *, format="safetensors"):
    """Save ``obj`` (a tensor, a state_dict, or nested dicts/lists/tuples of tensors, numbers,
    strings and None) to ``f`` (a path or a binary file object).

    ``format="safetensors"`` (default) writes a safetensors file; ``format="torch"`` writes
    the zip archive of ``torch.save``, which ``torch.load(f, weights_only=True)`` reads."""
    if format == "torch":
        from . import _torch_zip
        return _torch_zip.save(obj, f)
    if format != "safetensors":
        raise ValueError(f"shendu.save: format must be 'safetensors' or 'torch', got {format!r}")
    tensors = OrderedDict()
    structure = json.dumps(_encode(obj, tensors, "", 0), separators=(",", ":"))
    meta = {_FORMAT_KEY: "pt", _VERSION_KEY: "2", _MAGIC_KEY: structure,
            _HASH_KEY: _data_hash(tensors, lambda name: _raw_bytes(tensors[name])),
            _HEADER_HASH_KEY: _table_hash({k: (_TO_ST[a.dtype], a.shape)
                                           for k, a in tensors.items()}, structure)}
    st = _safetensors()
    if isinstance(f, (str, os.PathLike)):
        _atomic_write(os.fspath(f), lambda tmp: st.numpy.save_file(dict(tensors), tmp, meta))
    else:
        f.write(st.numpy.save(dict(tensors), meta))


def _contiguous(a):
    return a if a.flags.c_contiguous else a.copy(order="C")     # keeps 0-d arrays 0-d


def _raw_bytes(a):
    """The array's bytes as stored (C order, little-endian), without a copy where possible."""
    a = _contiguous(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return a.reshape(-1).view(np.uint8)


def _array_of(a, path):
    a = _contiguous(a)
    if a.dtype not in _TO_ST:
        raise SerializationError(f"shendu.save cannot store dtype {a.dtype} (at "
                                 f"'{path or '<root>'}'); supported: "
                                 f"{', '.join(str(d) for d in _TO_ST)}")
    return a


def _encode(obj, tensors, path, depth):
    """A JSON-able description of ``obj``; tensors go into ``tensors`` under their path."""
    if depth > _MAX_DEPTH:
        raise SerializationError(f"shendu.save: the object is nested more than {_MAX_DEPTH} "
                                 f"levels deep at '{path}' (a container that holds itself?)")
    if isinstance(obj, Tensor):
        node = {"tensor": _add_tensor(tensors, path or "tensor", _array_of(obj._data, path))}
        if obj._requires_grad:
            node["requires_grad"] = True
        if getattr(obj, "_is_param", False):
            node["parameter"] = True
        return node
    if isinstance(obj, np.ndarray):
        return {"ndarray": _add_tensor(tensors, path or "array", _array_of(obj, path))}
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
                raise SerializationError(f"dict keys must be str or int, got {type(k).__name__}"
                                         f" (at '{path or '<root>'}')")
            keys.append(k)
            vals.append(_encode(v, tensors, f"{path}/{k}" if path else str(k), depth + 1))
        return {"odict" if isinstance(obj, OrderedDict) else "dict": [keys, vals]}
    if isinstance(obj, (list, tuple)):
        return {"tuple" if isinstance(obj, tuple) else "list":
                [_encode(v, tensors, f"{path}/{i}" if path else str(i), depth + 1)
                 for i, v in enumerate(obj)]}
    from . import _dtype
    if isinstance(obj, _dtype.dtype):
        return {"dtype": obj.name}
    raise SerializationError(f"shendu.save cannot store objects of type {type(obj).__name__} "
                             f"(at '{path or '<root>'}'): only tensors, arrays, numbers, strings, "
                             f"None, and dicts/lists/tuples of them are saved without pickle")


def _add_tensor(tensors, key, a):
    while key in tensors:
        key += "_"
    tensors[key] = a
    return key


def _data_hash(names, raw_of):
    """SHA-256 of every tensor's bytes, in sorted name order (independent of the layout)."""
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(raw_of(name))
    return h.hexdigest()


def _table_hash(table, structure):
    """SHA-256 of the names, dtypes and shapes and of the structure (layout version 2)."""
    rows = [[k, table[k][0], list(table[k][1])] for k in sorted(table)]
    text = json.dumps(rows, separators=(",", ":")) + "\n" + structure
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _atomic_write(path, write):
    """Run ``write(tmp_path)``, flush the result to disk and rename it over ``path``."""
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    _remove_stale_temporaries(d, os.path.basename(path))
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
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
    """Load what ``save`` wrote, any safetensors file (as an OrderedDict of tensors), or a
    ``torch.save`` zip archive (read without torch, through a restricted unpickler).

    ``mmap=True`` (a path only) maps the file instead of reading it. ``map_location`` is
    accepted for compatibility ('cpu' only); ``weights_only`` is always in force."""
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: '{path}'")
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic == _ZIP_MAGIC:
            from . import _torch_zip
            return _torch_zip.load(path, path, mmap=bool(mmap))
        return _load_safetensors(path, path, mmap=bool(mmap))
    if mmap:
        raise ValueError("shendu.load(mmap=True) needs a file path, not a file object")
    return _deserialize(f.read(), getattr(f, "name", "<stream>"))


def _deserialize(raw, name):
    """Load from the bytes of a file."""
    if raw[:4] == _ZIP_MAGIC:
        import io
        from . import _torch_zip
        return _torch_zip.load(io.BytesIO(raw), name)
    with tempfile.NamedTemporaryFile(suffix=".safetensors") as tmp:   # the parser reads files
        tmp.write(raw)
        tmp.flush()
        return _load_safetensors(tmp.name, name, mmap=False)


def _load_safetensors(path, name, mmap):
    hstart, entries, meta = _read_table(path, name)
    size = os.path.getsize(path) - hstart
    if size == 0:
        data = b""
    elif mmap:
        data = np.memmap(path, dtype=np.uint8, mode="c", offset=hstart, shape=(size,))
    else:
        data = bytearray(size)
        with open(path, "rb") as fh:
            fh.seek(hstart)
            if fh.readinto(data) != size:
                raise SerializationError(f"{name} changed while it was being read")
    _verify(entries, meta, data, name, check_data=not mmap)
    arrays = OrderedDict((e[0], _read_array(data, e, name)) for e in entries)
    structure = meta.get(_MAGIC_KEY)
    if structure is None:                       # a plain safetensors file
        return OrderedDict((k, _make(a, None, 0)) for k, a in arrays.items())
    try:
        node = json.loads(structure)
    except (ValueError, RecursionError) as e:
        raise SerializationError(f"{name} has a corrupt structure in its header: "
                                 f"{type(e).__name__}: {str(e)[:200]}") from None
    if node == {"odict_flat": True} and _VERSION_KEY not in meta:     # layout 1's OrderedDict
        return OrderedDict((k, _make(a, None, 0)) for k, a in arrays.items())
    return _decode(node, arrays, name, 0)


def _read_table(path, name):
    """Validate the header with the safetensors library. Returns the data section's file
    offset, the entries ``(name, dtype, shape, start, stop)`` in file order, and the
    metadata."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    total = os.path.getsize(path)
    if len(head) < 8:
        raise SerializationError(f"{name} is truncated: {len(head)} bytes, not even a header")
    (hlen,) = struct.unpack("<Q", head)
    if hlen > _MAX_HEADER or 8 + hlen > total:
        raise SerializationError(f"{name} is truncated or not a safetensors/shendu file (header "
                                 f"of {hlen} bytes announced, file has {total} bytes; at most "
                                 f"{_MAX_HEADER} allowed)")
    st = _safetensors()
    try:
        with st.safe_open(path, framework="np") as sf:
            meta = sf.metadata() or {}
            keys = sf.offset_keys()
            if len(keys) > _MAX_ENTRIES:
                raise SerializationError(f"{name} lists {len(keys)} tensors; shendu reads at "
                                         f"most {_MAX_ENTRIES} from one file")
            specs = []
            for k in keys:
                sl = sf.get_slice(k)
                specs.append((k, sl.get_dtype(), sl.get_shape()))
    except st.SafetensorError as e:
        what = "is truncated or has trailing garbage (the header's byte ranges do not cover " \
            "the data exactly)" if "not fully covered" in str(e) else \
            "has a corrupt header (not a valid safetensors/shendu file)"
        raise SerializationError(f"{name} {what}: {str(e)[:300]}") from None
    entries, pos = [], 0
    for k, dt, shape in specs:
        if dt != "BF16" and dt not in _FROM_ST:
            raise SerializationError(f"{name}: tensor '{k}' has dtype {dt}, which shendu does "
                                     f"not support (it reads {', '.join(_FROM_ST)} and BF16)")
        if len(shape) > _MAX_NDIM:
            raise SerializationError(f"{name}: tensor '{k}' has {len(shape)} dimensions; at "
                                     f"most {_MAX_NDIM} are supported")
        itemsize = _BF16_ITEMSIZE if dt == "BF16" else _FROM_ST[dt].itemsize
        nbytes = math.prod(shape) * itemsize
        entries.append((k, dt, tuple(shape), pos, pos + nbytes))
        pos += nbytes
    if pos != total - 8 - hlen:     # the library checks this; a second look costs nothing
        raise SerializationError(f"{name} is truncated or has trailing garbage: the header "
                                 f"describes {pos} data bytes, the file holds {total - 8 - hlen}")
    return 8 + hlen, entries, meta


def _verify(entries, meta, data, name, check_data):
    """Check the checksums shendu wrote (files from other tools carry none)."""
    want, want_header = meta.get(_HASH_KEY), meta.get(_HEADER_HASH_KEY)
    if want is None and want_header is None:
        return
    if want is None or want_header is None:
        raise SerializationError(f"{name} is corrupted: its header lost one of its two "
                                 f"checksums ({_HASH_KEY}, {_HEADER_HASH_KEY})")
    version = meta.get(_VERSION_KEY)
    structure = meta.get(_MAGIC_KEY)
    view = memoryview(data) if len(data) else b""
    if version == "2":
        if structure is None:
            raise SerializationError(f"{name} is corrupted: its header lost its structure")
        got_header = _table_hash({e[0]: (e[1], e[2]) for e in entries}, structure)
        spans = {e[0]: (e[3], e[4]) for e in entries}
        got = _data_hash(spans, lambda k: view[spans[k][0]:spans[k][1]]) if check_data else want
    elif version is None:                       # layout 1: shendu <= 0.1.0
        table = {e[0]: {"dtype": e[1], "shape": list(e[2]), "data_offsets": [e[3], e[4]]}
                 for e in entries}
        text = json.dumps(table, sort_keys=True, separators=(",", ":")) + (structure or "")
        got_header = hashlib.sha256(text.encode("utf-8")).hexdigest()
        got = hashlib.sha256(view).hexdigest() if check_data else want
    else:
        raise SerializationError(f"{name} was written by a newer shendu (layout version "
                                 f"{str(version)[:20]!r}); this one reads versions 1 and 2")
    if got_header != want_header:
        raise SerializationError(f"{name} is corrupted: its header (tensor names, dtypes, "
                                 f"shapes, offsets or structure) does not match its recorded "
                                 f"SHA-256")
    if got != want:
        raise SerializationError(f"{name} is corrupted: the data's SHA-256 is {got}, the "
                                 f"header recorded {str(want)[:64]}")


def _read_array(data, entry, name):
    """The tensor ``entry`` as an array over ``data`` (a view where aligned and native)."""
    key, st, shape, start, stop = entry
    if st == "BF16":
        u16 = np.frombuffer(data, dtype="<u2", count=(stop - start) // 2, offset=start)
        return (u16.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    dt = _FROM_ST[st].newbyteorder("<") if _FROM_ST[st].itemsize > 1 else _FROM_ST[st]
    a = np.frombuffer(data, dtype=dt, count=(stop - start) // dt.itemsize, offset=start) \
        if stop > start else np.empty(0, dt)
    if not dt.isnative or not a.flags.aligned:
        a = a.astype(dt.newbyteorder("="))
    return a.reshape(shape)


def _decode(node, arrays, name, depth):
    """Rebuild the saved object from its structure; any malformed node is reported."""
    def bad(what):
        return SerializationError(f"{name} has a corrupt structure in its header: {what}")
    if depth > _MAX_DEPTH:
        raise bad(f"nested more than {_MAX_DEPTH} levels deep")
    if node is None or isinstance(node, (bool, str)):
        return node
    if not isinstance(node, dict):
        raise bad(f"unexpected {type(node).__name__} node")
    kinds = [k for k in _KINDS if k in node]
    extra = set(node) - set(kinds) - ({"requires_grad", "parameter"} if "tensor" in kinds else set())
    if len(kinds) != 1 or extra:
        raise bad(f"unknown entry {sorted(node)[:5]}")
    kind = kinds[0]
    val = node[kind]
    if kind in ("tensor", "ndarray"):
        if not isinstance(val, str) or val not in arrays:
            raise bad(f"it refers to a tensor {str(val)[:80]!r} the file does not hold")
        if kind == "ndarray":
            return arrays[val]
        rg, param = node.get("requires_grad", False), node.get("parameter", False)
        if not isinstance(rg, bool) or not isinstance(param, bool):
            raise bad(f"tensor '{val}' has non-boolean flags")
        if rg and arrays[val].dtype.kind != "f":
            raise bad(f"tensor '{val}' of dtype {arrays[val].dtype} cannot require grad")
        t = _make(arrays[val], None, 0)
        if param:
            from .nn.parameter import Parameter
            return Parameter(t, requires_grad=rg)
        return t.requires_grad_(True) if rg else t
    if kind == "int":
        if type(val) is not int:
            raise bad(f"int entry holds {type(val).__name__}")
        return val
    if kind == "float":
        if type(val) in (int, float):
            return float(val)
        if val in ("nan", "inf", "-inf"):
            return float(val)
        raise bad(f"float entry holds {str(val)[:40]!r}")
    if kind in ("dict", "odict"):
        if not (isinstance(val, list) and len(val) == 2 and isinstance(val[0], list)
                and isinstance(val[1], list) and len(val[0]) == len(val[1])):
            raise bad(f"{kind} entry is not [keys, values] of equal lengths")
        if not all(type(k) in (str, int) for k in val[0]):
            raise bad(f"{kind} keys must be strings or ints")
        cls = OrderedDict if kind == "odict" else dict
        return cls((k, _decode(v, arrays, name, depth + 1)) for k, v in zip(*val))
    if kind in ("list", "tuple"):
        if not isinstance(val, list):
            raise bad(f"{kind} entry holds {type(val).__name__}")
        items = [_decode(v, arrays, name, depth + 1) for v in val]
        return tuple(items) if kind == "tuple" else items
    from . import _dtype                                    # kind == "dtype"
    if not isinstance(val, str) or val not in _dtype._BY_NAME:
        raise bad(f"unknown dtype {str(val)[:40]!r}")
    return _dtype._BY_NAME[val]


_KINDS = ("tensor", "ndarray", "int", "float", "dict", "odict", "list", "tuple", "dtype")


# ------------------------------------------------------------------ PyTorch files
def load_torch_file(path):
    """Import a file written by ``torch.save`` (a state_dict or nested containers of tensors,
    numbers and strings) as shendu tensors, without torch: ``shendu.load`` reads the zip
    archive through an unpickler that allows only what ``torch.load(weights_only=True)``
    allows. Kept under this name for code written before ``shendu.load`` read these files."""
    return load(path)
