"""PyTorch's ``.pt``/``.pth`` files (``torch.save``'s zip archive), read and written without torch.

An archive holds ``<prefix>/data.pkl`` (a pickle of the object, protocol 2), one record
``<prefix>/data/<key>`` per storage (the raw little-endian bytes, stored uncompressed) and a
few small records (``byteorder``, ``version``, ...). Tensors in the pickle are calls to
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
whose storage is a persistent id ``('storage', torch.FloatStorage, key, 'cpu', numel)``.

Reading never unpickles with Python's pickle machinery: :class:`_Unpickler` is a small
interpreter for the opcodes ``torch.load(weights_only=True)`` accepts, and a GLOBAL resolves
only to names on torch's weights-only allowlist, each mapped to a function here that builds
shendu objects (so no code from the file runs, and nothing of torch is imported). Any other
global is refused with its name. Tensors that share a storage in the file share memory
after loading, with their offsets and strides.

Writing emits the same layout (records aligned to 64 bytes) through :class:`_Pickler`, so
``torch.load(path, weights_only=True)`` reads shendu's files.
"""
import codecs
import io
import os
import pickle
import struct
import zipfile
import zlib
from collections import Counter, OrderedDict

import numpy as np

from ._tensor import Tensor, _make
from .serialization import SerializationError, _MAX_DEPTH, _MAX_NDIM, _atomic_write, _raw_bytes

__all__ = ["load", "save"]

# storage class name -> NumPy dtype ("bfloat16" is widened to float32 when read)
_STORAGES = {"DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
             "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
             "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
             "BoolStorage": "bool"}
_STORAGE_OF = {v: k for k, v in _STORAGES.items()}
# on torch's weights-only allowlist, but with no shendu counterpart (refused by name)
_TORCH_ONLY = {f"torch.{n}" for n in (
    "ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage",
    "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage", "complex64", "complex128",
    "complex32", "cfloat", "cdouble", "chalf", "uint16", "uint32", "uint64", "qint8", "quint8",
    "qint32", "float8_e4m3fn", "float8_e5m2", "per_tensor_affine", "per_channel_affine",
    "serialization._get_layout", "_utils._rebuild_qtensor", "_utils._rebuild_sparse_tensor",
    "_utils._rebuild_meta_tensor_no_storage", "_utils._rebuild_nested_tensor",
    "_utils._rebuild_wrapper_subclass", "_utils._rebuild_device_tensor_from_numpy",
    "_utils._rebuild_device_tensor_from_cpu_tensor", "_utils._rebuild_tensor_v3")}
_TORCH_DTYPES = {"float64": "float64", "double": "float64", "float32": "float32",
                 "float": "float32", "float16": "float16", "half": "float16",
                 "bfloat16": "float32", "int64": "int64", "long": "int64", "int32": "int32",
                 "int": "int32", "int16": "int16", "short": "int16", "int8": "int8",
                 "uint8": "uint8", "bool": "bool"}
_MAX_PICKLE = 256 * 1024 * 1024


# ====================================================================== reading
class _Marker:
    """A global that is only ever compared by identity (torch.Tensor, a storage class...)."""
    __slots__ = ("name", "value")

    def __init__(self, name, value=None):
        self.name, self.value = name, value

    def __repr__(self):
        return self.name


_TENSOR, _PARAMETER = _Marker("torch.Tensor"), _Marker("torch.nn.parameter.Parameter")
_UNTYPED = _Marker("torch.storage.UntypedStorage", "uint8")


class _Reader:
    """Builds shendu objects for one archive: storages (cached by key, so tensors share
    them) and the rebuild functions the pickle calls."""

    def __init__(self, zf, prefix, name, mmap_path=None):
        self.zf, self.prefix, self.name, self.mmap_path = zf, prefix, name, mmap_path
        self.storages = {}
        byteorder = self._small(f"{prefix}/byteorder") or b"little"
        if byteorder not in (b"little", b"big"):
            raise SerializationError(f"{name}: unknown byteorder record {byteorder[:20]!r}")
        self.byteorder = "<" if byteorder == b"little" else ">"

    def _small(self, record):
        try:
            info = self.zf.getinfo(record)
        except KeyError:
            return None
        if info.file_size > 64:
            raise SerializationError(f"{self.name}: record {record} is {info.file_size} bytes")
        return self.zf.read(info).strip()

    # -- persistent ids: ('storage', storage_type, key, location, numel)
    def persistent_load(self, pid):
        if not (type(pid) is tuple and len(pid) == 5 and pid[0] in ("storage", b"storage")):
            raise SerializationError(f"{self.name}: only storages may be persistent ids, got "
                                     f"{_short(pid)}")
        _, stype, key, _location, _numel = pid
        if not isinstance(stype, _Marker) or stype.value is None:
            raise SerializationError(f"{self.name}: storage of unknown type {_short(stype)}")
        if not isinstance(key, str):
            raise SerializationError(f"{self.name}: storage key {_short(key)} is not a string")
        if (key, stype.value) not in self.storages:
            self.storages[key, stype.value] = self._read_storage(key, stype.value)
        return self.storages[key, stype.value]

    def _read_storage(self, key, dtype):
        record = f"{self.prefix}/data/{key}"
        try:
            info = self.zf.getinfo(record)
        except KeyError:
            raise SerializationError(f"{self.name}: the pickle refers to storage {key!r}, but "
                                     f"the archive has no record {record}") from None
        if info.compress_type != zipfile.ZIP_STORED:
            raise SerializationError(f"{self.name}: storage record {record} is compressed; "
                                     f"torch.save stores them uncompressed")
        raw_dtype = np.dtype("uint16" if dtype == "bfloat16" else dtype).newbyteorder(
            self.byteorder)
        if info.file_size % raw_dtype.itemsize:
            raise SerializationError(f"{self.name}: storage {key!r} holds {info.file_size} "
                                     f"bytes, not a whole number of {dtype} elements")
        n = info.file_size // raw_dtype.itemsize
        if self.mmap_path is not None and n:
            arr = np.memmap(self.mmap_path, dtype=raw_dtype, mode="c", shape=(n,),
                            offset=self._data_offset(info))
            arr = np.asarray(arr)
        else:
            arr = np.empty(n, raw_dtype)
            with self.zf.open(info) as fh:
                if fh.readinto(memoryview(arr).cast("B")) != info.file_size:
                    raise SerializationError(f"{self.name}: storage {key!r} is truncated")
        if dtype == "bfloat16":
            return (arr.astype(np.uint32) << 16).view(np.float32)
        return arr if raw_dtype.isnative else arr.astype(raw_dtype.newbyteorder("="))

    def _data_offset(self, info):
        """Where a stored record's bytes start in the file (after its local header)."""
        self.zf.fp.seek(info.header_offset)
        head = self.zf.fp.read(30)
        if len(head) != 30 or head[:4] != b"PK\x03\x04":
            raise SerializationError(f"{self.name}: bad zip local header for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        return info.header_offset + 30 + name_len + extra_len

    # -- the rebuild functions torch pickles
    def rebuild_tensor(self, storage, offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
        if not isinstance(storage, np.ndarray):
            raise SerializationError(f"{self.name}: a tensor's storage is {_short(storage)}")
        if metadata:
            raise SerializationError(f"{self.name}: tensor metadata {_short(metadata)} is not "
                                     f"supported")
        arr = _strided(storage, offset, size, stride, self.name)
        t = _make(arr, None, 0)
        if requires_grad is True:
            if arr.dtype.kind != "f":
                raise SerializationError(f"{self.name}: a {arr.dtype} tensor cannot require "
                                         f"grad")
            t.requires_grad_(True)
        return t

    def rebuild_tensor_v1(self, storage, offset, size, stride):
        return self.rebuild_tensor(storage, offset, size, stride)

    def rebuild_parameter(self, data, requires_grad, backward_hooks, state=None):
        if not isinstance(data, Tensor):
            raise SerializationError(f"{self.name}: a Parameter's data is {_short(data)}")
        if state:
            raise SerializationError(f"{self.name}: Parameter attributes {_short(state)} are "
                                     f"not supported")
        from .nn.parameter import Parameter
        return Parameter(data, requires_grad=bool(requires_grad))

    def rebuild_from_type_v2(self, func, new_type, args, state):
        if func not in (self.rebuild_tensor, self.rebuild_tensor_v1, self.rebuild_parameter) \
                or new_type not in (_TENSOR, _PARAMETER) or type(args) is not tuple:
            raise SerializationError(f"{self.name}: cannot rebuild {_short(new_type)} with "
                                     f"{_short(func)}")
        if state:
            raise SerializationError(f"{self.name}: tensor attributes {_short(state)} are not "
                                     f"supported")
        t = func(*args)
        return self.rebuild_parameter(t, t.requires_grad, None) if new_type is _PARAMETER \
            and not getattr(t, "_is_param", False) else t

    def new_parameter(self, data=None, requires_grad=True):
        return self.rebuild_parameter(data, requires_grad, None)

    def globals(self):
        """torch's weights-only allowlist, as far as shendu can represent it."""
        from . import _dtype
        g = {"collections.OrderedDict": OrderedDict, "collections.Counter": Counter,
             "torch.nn.parameter.Parameter": _PARAMETER, "torch.Tensor": _TENSOR,
             "torch.Size": _size, "torch.device": _device, "_codecs.encode": _encode_str,
             "builtins.bytearray": _bytearray, "builtins.set": _set,
             "builtins.complex": _complex,
             "torch._utils._rebuild_tensor_v2": self.rebuild_tensor,
             "torch._utils._rebuild_tensor": self.rebuild_tensor_v1,
             "torch._utils._rebuild_parameter": self.rebuild_parameter,
             "torch._utils._rebuild_parameter_with_state": self.rebuild_parameter,
             "torch._tensor._rebuild_from_type_v2": self.rebuild_from_type_v2,
             "torch.storage.UntypedStorage": _UNTYPED}
        for cls, dt in _STORAGES.items():
            g[f"torch.{cls}"] = _Marker(f"torch.{cls}", dt)
        for name, dt in _TORCH_DTYPES.items():
            g[f"torch.{name}"] = _dtype._BY_NAME[dt]
        return g


def _strided(storage, offset, size, stride, name):
    """A view of ``storage`` (1-d) at element ``offset`` with ``size`` and ``stride``
    (in elements), after checking that it stays inside the storage."""
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and all(type(v) is int and v >= 0 for v in size + stride + (offset,))
            and type(offset) is int):
        raise SerializationError(f"{name}: a tensor has a malformed size {_short(size)}, stride "
                                 f"{_short(stride)} or offset {_short(offset)}")
    if len(size) > _MAX_NDIM:
        raise SerializationError(f"{name}: a tensor has {len(size)} dimensions; at most "
                                 f"{_MAX_NDIM} are supported")
    if 0 in size:
        return np.empty(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= storage.size:
        raise SerializationError(f"{name}: a tensor of size {size}, stride {stride} at offset "
                                 f"{offset} reaches element {last}, past its storage of "
                                 f"{storage.size}")
    item = storage.itemsize
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * item for s in stride))


def _short(obj):
    text = repr(obj) if not isinstance(obj, np.ndarray) else f"array{obj.shape}"
    return text if len(text) <= 80 else text[:77] + "..."


def _size(dims=()):
    if type(dims) is not tuple or not all(type(d) is int for d in dims):
        raise SerializationError(f"torch.Size({_short(dims)}) is malformed")
    return dims


def _device(kind="cpu", index=None):
    if not isinstance(kind, str):
        raise SerializationError(f"torch.device({_short(kind)}) is malformed")
    return kind if index is None else f"{kind}:{index}"


def _encode_str(text, encoding="utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "ascii"):
        raise SerializationError(f"_codecs.encode({_short(text)}, {_short(encoding)}) refused")
    return codecs.encode(text, encoding)


def _bytearray(data=b""):
    if not isinstance(data, (bytes, list)):        # bytearray(n) would allocate n bytes
        raise SerializationError(f"bytearray({_short(data)}) refused")
    return bytearray(data)


def _set(items=()):
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise SerializationError(f"set({_short(items)}) refused")
    return set(items)


def _complex(real=0.0, imag=0.0):
    if not all(type(v) in (int, float) for v in (real, imag)):
        raise SerializationError(f"complex({_short(real)}, {_short(imag)}) refused")
    return complex(real, imag)


class _Unpickler:
    """Interprets the pickle opcodes ``torch.load(weights_only=True)`` accepts. Globals
    resolve through ``allowed`` only; calls go only to those objects."""

    def __init__(self, data, reader):
        self.f = io.BytesIO(data)
        self.reader, self.name = reader, reader.name
        self.allowed = allowed = reader.globals()
        self.stack, self.metastack, self.memo = [], [], {}
        self.callables = {id(v) for v in allowed.values() if callable(v) and
                          not isinstance(v, type)} | {id(OrderedDict), id(Counter)}

    def read(self, n):
        data = self.f.read(n)
        if len(data) != n:
            raise SerializationError(f"{self.name}: the pickle is truncated")
        return data

    def readline(self):
        line = self.f.readline()
        if not line.endswith(b"\n"):
            raise SerializationError(f"{self.name}: the pickle is truncated")
        return line[:-1]

    def pop_mark(self):
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def find_class(self, module, name):
        if module == "__builtin__":         # protocol 2 spells builtins the Python 2 way
            module = "builtins"
        full = f"{module}.{name}"
        if full in _TORCH_ONLY:
            raise SerializationError(
                f"{self.name}: the file uses '{full}', which torch.load(weights_only=True) "
                f"allows but shendu cannot represent (complex, quantized, sparse, nested or "
                f"meta tensors, or unsigned types wider than 8 bits)")
        if full not in self.allowed:
            raise SerializationError(
                f"{self.name}: refused to load global '{full}': it is not one of the globals "
                f"torch.load(weights_only=True) allows (tensors, state_dicts, containers, "
                f"numbers, strings), and shendu runs no code from a file")
        return self.allowed[full]

    def call(self, func, args):
        if id(func) not in self.callables or type(args) is not tuple:
            raise SerializationError(f"{self.name}: refused to call {_short(func)}")
        return func(*args)

    def load(self):
        op = pickle
        dispatch = {
            op.PROTO[0]: lambda: self.read(1),
            op.FRAME[0]: lambda: self.read(8),
            op.GLOBAL[0]: lambda: self.stack.append(self.find_class(
                self.readline().decode("utf-8"), self.readline().decode("utf-8"))),
            op.STACK_GLOBAL[0]: self._stack_global,
            op.REDUCE[0]: self._reduce,
            op.NEWOBJ[0]: self._newobj,
            op.BUILD[0]: self._build,
            op.BINPERSID[0]: lambda: self.stack.append(
                self.reader.persistent_load(self.stack.pop())),
            op.MARK[0]: self._mark,
            op.POP[0]: lambda: self.stack.pop(),
            op.POP_MARK[0]: self.pop_mark,
            op.APPEND[0]: self._append,
            op.APPENDS[0]: self._appends,
            op.SETITEM[0]: self._setitem,
            op.SETITEMS[0]: self._setitems,
            op.ADDITEMS[0]: self._additems,
            op.TUPLE[0]: self._tuple_mark,
            op.TUPLE1[0]: lambda: self._tuple(1),
            op.TUPLE2[0]: lambda: self._tuple(2),
            op.TUPLE3[0]: lambda: self._tuple(3),
            op.EMPTY_TUPLE[0]: lambda: self.stack.append(()),
            op.EMPTY_LIST[0]: lambda: self.stack.append([]),
            op.EMPTY_DICT[0]: lambda: self.stack.append({}),
            op.EMPTY_SET[0]: lambda: self.stack.append(set()),
            op.NONE[0]: lambda: self.stack.append(None),
            op.NEWTRUE[0]: lambda: self.stack.append(True),
            op.NEWFALSE[0]: lambda: self.stack.append(False),
            op.BININT[0]: lambda: self.stack.append(struct.unpack("<i", self.read(4))[0]),
            op.BININT1[0]: lambda: self.stack.append(self.read(1)[0]),
            op.BININT2[0]: lambda: self.stack.append(struct.unpack("<H", self.read(2))[0]),
            op.LONG1[0]: lambda: self.stack.append(
                pickle.decode_long(self.read(self.read(1)[0]))),
            op.BINFLOAT[0]: lambda: self.stack.append(struct.unpack(">d", self.read(8))[0]),
            op.BINUNICODE[0]: lambda: self.stack.append(
                self.read(struct.unpack("<I", self.read(4))[0]).decode("utf-8", "surrogatepass")),
            op.SHORT_BINUNICODE[0]: lambda: self.stack.append(
                self.read(self.read(1)[0]).decode("utf-8", "surrogatepass")),
            op.SHORT_BINSTRING[0]: lambda: self.stack.append(
                self.read(self.read(1)[0]).decode("ascii")),
            op.SHORT_BINBYTES[0]: lambda: self.stack.append(self.read(self.read(1)[0])),
            op.BINBYTES[0]: lambda: self.stack.append(
                self.read(struct.unpack("<I", self.read(4))[0])),
            op.BINGET[0]: lambda: self.stack.append(self.memo[self.read(1)[0]]),
            op.LONG_BINGET[0]: lambda: self.stack.append(
                self.memo[struct.unpack("<I", self.read(4))[0]]),
            op.BINPUT[0]: lambda: self.memo.__setitem__(self.read(1)[0], self.stack[-1]),
            op.LONG_BINPUT[0]: lambda: self.memo.__setitem__(
                struct.unpack("<I", self.read(4))[0], self.stack[-1]),
            op.MEMOIZE[0]: lambda: self.memo.__setitem__(len(self.memo), self.stack[-1]),
        }
        try:
            while True:
                code = self.read(1)[0]
                if code == op.STOP[0]:
                    if len(self.stack) != 1 or self.metastack:
                        raise SerializationError(f"{self.name}: malformed pickle (stack of "
                                                 f"{len(self.stack)} at STOP)")
                    return self.stack.pop()
                handler = dispatch.get(code)
                if handler is None:
                    raise SerializationError(
                        f"{self.name}: refused pickle opcode {bytes([code])!r} at byte "
                        f"{self.f.tell() - 1}: torch.load(weights_only=True) does not accept it")
                handler()
        except SerializationError:
            raise
        except (IndexError, KeyError, TypeError, ValueError, AttributeError, UnicodeError,
                OverflowError, struct.error) as e:
            raise SerializationError(f"{self.name}: malformed pickle near byte "
                                     f"{self.f.tell()}: {type(e).__name__}: {e}") from None

    def _mark(self):
        self.metastack.append(self.stack)
        self.stack = []

    def _tuple_mark(self):
        items = tuple(self.pop_mark())      # pop_mark switches self.stack: append after
        self.stack.append(items)

    def _tuple(self, n):
        if len(self.stack) < n:
            raise IndexError("stack underflow")
        items = tuple(self.stack[-n:])
        del self.stack[-n:]
        self.stack.append(items)

    def _stack_global(self):
        name, module = self.stack.pop(), self.stack.pop()
        if not (isinstance(module, str) and isinstance(name, str)):
            raise SerializationError(f"{self.name}: STACK_GLOBAL needs two strings")
        self.stack.append(self.find_class(module, name))

    def _reduce(self):
        args = self.stack.pop()
        self.stack[-1] = self.call(self.stack[-1], args)

    def _newobj(self):
        args, cls = self.stack.pop(), self.stack.pop()
        if cls is _PARAMETER and type(args) is tuple:
            self.stack.append(self.reader.new_parameter(*args))
        elif cls in (OrderedDict, Counter) and args == ():
            self.stack.append(cls())
        else:
            raise SerializationError(f"{self.name}: refused to create {_short(cls)}")

    def _build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) in (OrderedDict, Counter) and isinstance(state, dict) \
                and all(type(k) is str and not k.startswith("__") for k in state):
            inst.__dict__.update(state)      # e.g. a state_dict's _metadata
        elif isinstance(inst, Tensor) and not state:
            pass
        else:
            raise SerializationError(f"{self.name}: refused to set the state of a "
                                     f"{type(inst).__name__} to {_short(state)}")

    def _append(self):
        item = self.stack.pop()
        self._container(list, "APPEND").append(item)

    def _appends(self):
        items = self.pop_mark()
        self._container(list, "APPENDS").extend(items)

    def _container(self, kind, opcode):
        """The object under the items an opcode adds, which must be a ``kind``."""
        if not isinstance(self.stack[-1], kind):
            raise SerializationError(f"{self.name}: malformed pickle ({opcode} to a "
                                     f"{type(self.stack[-1]).__name__})")
        return self.stack[-1]

    def _setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._dict_target()[key] = value

    def _setitems(self):
        items = self.pop_mark()
        target = self._dict_target()
        if len(items) % 2:
            raise SerializationError(f"{self.name}: malformed pickle (odd SETITEMS)")
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]

    def _additems(self):
        items = self.pop_mark()
        self._container(set, "ADDITEMS").update(items)

    def _dict_target(self):
        if type(self.stack[-1]) not in (dict, OrderedDict, Counter):
            raise SerializationError(f"{self.name}: malformed pickle (cannot set items of a "
                                     f"{type(self.stack[-1]).__name__})")
        return self.stack[-1]


def load(f, name, mmap=False):
    """Read a ``torch.save`` zip archive (a path or a binary file object)."""
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise SerializationError(f"{name} is not a valid PyTorch zip archive: {e}") from None
    with zf:
        pkls = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1] + \
            [n for n in zf.namelist() if n == "data.pkl"]
        if len(pkls) != 1:
            raise SerializationError(f"{name} is a zip archive but not a torch.save file (it "
                                     f"should hold exactly one <name>/data.pkl record)")
        prefix = pkls[0][:-len("/data.pkl")] if "/" in pkls[0] else ""
        info = zf.getinfo(pkls[0])
        if info.file_size > _MAX_PICKLE:
            raise SerializationError(f"{name}: its pickle is {info.file_size} bytes; at most "
                                     f"{_MAX_PICKLE} are read")
        try:
            data = zf.read(info)
            reader = _Reader(zf, prefix, name, mmap_path=f if mmap and isinstance(f, str)
                             else None)
            return _Unpickler(data, reader).load()
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
            raise SerializationError(f"{name}: a corrupted zip record: {e}") from None


# ====================================================================== writing
class _Global:
    """Stands for ``module.name`` in the pickle; pickled as a GLOBAL opcode."""
    __slots__ = ("module", "name")
    _cache = {}

    def __new__(cls, module, name):
        key = (module, name)
        if key not in cls._cache:
            obj = super().__new__(cls)
            obj.module, obj.name = module, name
            cls._cache[key] = obj
        return cls._cache[key]

    def __call__(self, *args):       # pickle's save_reduce wants a callable
        raise TypeError(f"{self.module}.{self.name} is a stand-in for pickling")


_REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")


class _TensorRef:
    """A tensor to pickle: its storage key, element offset, size and stride."""
    __slots__ = ("storage", "offset", "size", "stride", "requires_grad", "parameter")

    def __init__(self, storage, offset, size, stride, requires_grad, parameter):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.requires_grad, self.parameter = requires_grad, parameter


class _Storage:
    __slots__ = ("key", "array")

    def __init__(self, key, array):
        self.key, self.array = key, array


class _Pickler(pickle._Pickler):
    """Protocol-2 pickler for the converted object: _Global as GLOBAL, _TensorRef as torch's
    rebuild calls, _Storage as persistent ids."""
    dispatch = dict(pickle._Pickler.dispatch)

    def _save_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)
    dispatch[_Global] = _save_global

    def persistent_id(self, obj):
        if type(obj) is _Storage:
            a = obj.array
            return ("storage", _Global("torch", _STORAGE_OF[a.dtype.name]), obj.key, "cpu",
                    int(a.size))
        return None

    def reducer_override(self, obj):
        if type(obj) is not _TensorRef:
            return NotImplemented
        plain = (_REBUILD_TENSOR, (obj.storage, obj.offset, obj.size, obj.stride,
                                   obj.requires_grad and not obj.parameter, OrderedDict()))
        if not obj.parameter:
            return plain
        inner = _TensorRef(obj.storage, obj.offset, obj.size, obj.stride, False, False)
        return (_REBUILD_PARAMETER, (inner, obj.requires_grad, OrderedDict()))


class _Converter:
    """Turns shendu objects into what _Pickler writes; tensors that are views of one
    NumPy array share one storage."""

    def __init__(self):
        self.storages = {}           # id(root array) -> _Storage
        self.keep = []               # keeps roots alive so ids stay unique

    def convert(self, obj, path="", depth=0):
        where = path or "<root>"
        if depth > _MAX_DEPTH:
            raise SerializationError(f"shendu.save: the object is nested more than "
                                     f"{_MAX_DEPTH} levels deep at '{where}'")
        if isinstance(obj, Tensor):
            return self.tensor(obj, where)
        if obj is None or type(obj) in (bool, int, float, str, bytes):
            return obj
        if isinstance(obj, (np.integer, np.floating, np.bool_)):
            return obj.item()
        from . import _dtype
        if isinstance(obj, _dtype.dtype):
            return _Global("torch", obj.name)
        if isinstance(obj, dict):
            out = OrderedDict() if isinstance(obj, OrderedDict) else {}
            for k, v in obj.items():
                if not (k is None or type(k) in (bool, int, float, str)):
                    raise SerializationError(f"shendu.save(format='torch'): dict key of type "
                                             f"{type(k).__name__} at '{where}'")
                out[k] = self.convert(v, f"{path}/{k}" if path else str(k), depth + 1)
            return out
        if isinstance(obj, (list, tuple)):
            items = [self.convert(v, f"{path}/{i}" if path else str(i), depth + 1)
                     for i, v in enumerate(obj)]
            return tuple(items) if isinstance(obj, tuple) else items
        hint = " (wrap NumPy arrays in shendu.tensor)" if isinstance(obj, np.ndarray) else ""
        raise SerializationError(f"shendu.save(format='torch') cannot store objects of type "
                                 f"{type(obj).__name__} (at '{where}'): torch.load(weights_only"
                                 f"=True) reads only tensors, containers, numbers and "
                                 f"strings{hint}")

    def tensor(self, t, where):
        a = t._data
        if a.dtype.name not in _STORAGE_OF or a.dtype.name == "bfloat16":
            raise SerializationError(f"shendu.save(format='torch') cannot store dtype "
                                     f"{a.dtype} (at '{where}')")
        root, offset, stride = _storage_view(a)
        storage = self.storages.get(id(root))
        if storage is None:
            storage = self.storages[id(root)] = _Storage(str(len(self.storages)), root)
            self.keep.append(root)
        return _TensorRef(storage, offset, tuple(a.shape), stride, bool(t._requires_grad),
                          bool(getattr(t, "_is_param", False)))


def _storage_view(a):
    """(root, element offset, element strides): ``a`` as a view of a C-contiguous root array
    of its dtype (the array it views, or itself), else of a contiguous copy."""
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    item = a.itemsize
    if root.dtype == a.dtype and root.flags.c_contiguous and a.size \
            and all(s >= 0 and s % item == 0 for s in a.strides):
        delta = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        if delta >= 0 and delta % item == 0:
            return root, delta // item, tuple(s // item for s in a.strides)
    strides, acc = [], 1
    for n in reversed(a.shape):
        strides.append(acc)
        acc *= max(n, 1)
    return np.ascontiguousarray(a), 0, tuple(reversed(strides))


def save(obj, f):
    """Write ``obj`` as ``torch.save`` would, to a path (atomically) or a binary file."""
    conv = _Converter()
    converted = conv.convert(obj)
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(converted)
    records = [("data.pkl", buf.getvalue()), (".format_version", b"1"),
               (".storage_alignment", b"64"), ("byteorder", b"little")]
    for st in sorted(conv.storages.values(), key=lambda s: int(s.key)):
        records.append((f"data/{st.key}", _raw_bytes(st.array)))
    records += [("version", b"3\n"), (".data/serialization_id", os.urandom(20).hex().encode())]
    if isinstance(f, (str, os.PathLike)):
        def write(tmp):
            with open(tmp, "wb") as fh:
                _write_zip(fh, records)
        _atomic_write(os.fspath(f), write)
    else:
        out = io.BytesIO()
        _write_zip(out, records)
        f.write(out.getvalue())


def _write_zip(fh, records, prefix="archive", align=64):
    """Stored (uncompressed) records, each one's bytes aligned to ``align`` in the file by
    padding its local header's extra field, as torch's writer does."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in records:
            info = zipfile.ZipInfo(f"{prefix}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            start = fh.tell() + 30 + len(info.filename.encode("utf-8")) + 4
            pad = -start % align
            info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
            zf.writestr(info, data)
