"""Recording one forward pass for export.

While a :class:`Tracer` is installed in ``autograd.function._trace``, every op
(``Node.apply``) reports its node, inputs and outputs, and every in-place write
(``_ops.inplace.write``) reports which value a tensor now holds. Forward hooks on every
submodule keep the module path (for error messages), and a module whose class has a
module-level converter (Conv2d, BatchNorm2d, LSTM, MultiheadAttention, ...) is recorded as
one entry: the ops inside it are not.

Values are keyed by ``id`` of the tensor holding them (the tensors are kept alive for the
trace's lifetime, so ids are not reused) together with the tensor's version counter: a
tensor changed in place behind the tracer's back is an error, never a silently stale value.
"""
from .._tensor import Tensor
from ..nn.utils.rnn import PackedSequence


class UnsupportedOperatorError(RuntimeError):
    """An op or module that ``shendu.onnx.export`` cannot express in ONNX."""


class Entry:
    """One recorded op (``kind='op'``, ``node`` its Node) or module (``kind='module'``)."""
    __slots__ = ("kind", "name", "node", "module", "inputs", "params", "outputs", "out_meta",
                 "path")

    def __init__(self, kind, name, node, module, inputs, params, outputs, out_meta, path):
        self.kind, self.name, self.node, self.module = kind, name, node, module
        self.inputs, self.params, self.outputs = inputs, params, outputs
        self.out_meta, self.path = out_meta, path


class Tracer:
    def __init__(self, model, inputs, module_converters):
        self.entries = []
        self.ids = {}               # id(tensor) -> (value key, version)
        self.arrays = {}            # id(output array) -> value key (for in-place writes)
        self.keep = []
        self.consts = {}            # const key -> ndarray snapshot
        self.folded = {}            # value key -> ndarray: outputs of ops on constants only
        self.meta = {}              # value key -> (shape, dtype)
        self.stack = []             # [(path, module, converted)]
        self.suppressed = 0
        self.count = 0
        self.converters = module_converters
        self.params = {}
        for name, p in model.named_parameters():
            self.params[id(p)] = name
        for name, b in model.named_buffers():
            if b is not None:
                self.params[id(b)] = name
        self.param_arrays = {id(t._data) for t in list(model.parameters()) + [
            b for b in model.buffers() if b is not None]}
        self.input_keys = [self.bind(t, "input") for t in inputs]
        self.paths = {id(m): (name, m) for name, m in model.named_modules()}
        self.packs = {}             # id(PackedSequence) -> (padded key, lengths key, batch_first)
        self._guard_reads()
        self.handles = []
        for name, m in model.named_modules():
            self.handles.append(m.register_forward_pre_hook(self._pre, with_kwargs=True))
            self.handles.append(m.register_forward_hook(self._post, with_kwargs=True))

    def remove_hooks(self):
        for h in self.handles:
            h.remove()
        for name, fn in self._saved_methods.items():
            setattr(Tensor, name, fn)

    _READS = ("numpy", "item", "tolist", "__array__", "__bool__", "__int__", "__float__",
              "__index__")

    def _guard_reads(self):
        """Reading a value computed from the inputs as a Python/NumPy value would bake it
        into the graph: raise instead (the model must stay in tensor ops)."""
        self._saved_methods = {n: getattr(Tensor, n) for n in self._READS if hasattr(Tensor, n)}
        tracer = self

        def guarded(name, fn):
            def read(t, *a, **k):
                if not tracer.suppressed and tracer.from_inputs(t):
                    raise UnsupportedOperatorError(
                        f"shendu.onnx.export: {tracer.describe()} reads a value computed from "
                        f"the inputs as a Python/NumPy value (Tensor.{name}); the exported graph "
                        f"would hold this run's value as a constant. Keep it a tensor "
                        f"operation")
                return fn(t, *a, **k)
            return read
        for n, fn in self._saved_methods.items():
            setattr(Tensor, n, guarded(n, fn))

    def from_inputs(self, t):
        entry = self.ids.get(id(t))
        return entry is not None and not entry[0].startswith(("param:", "const")) \
            and entry[0] not in self.folded

    # ------------------------------------------------------------------ values
    def bind(self, t, prefix="v"):
        key = f"{prefix}{self.count}"
        self.count += 1
        self.ids[id(t)] = (key, t._version)
        self.arrays[id(t._data)] = key
        self.meta[key] = (tuple(t.shape), t._data.dtype)
        self.keep.append(t)
        return key

    def key_of(self, t):
        """The value a tensor input holds: a traced value, a parameter/buffer, or a
        constant made outside the traced ops (snapshotted now)."""
        entry = self.ids.get(id(t))
        if entry is None:
            if id(t) in self.params:
                key = "param:" + self.params[id(t)]
                self.meta[key] = (tuple(t.shape), t._data.dtype)
                return key
            if id(t._data) in self.arrays:      # a traced value's array, wrapped anew
                key = self.arrays[id(t._data)]
                self.ids[id(t)] = (key, t._version)
                self.keep.append(t)
                return key
            key = f"const{self.count}"
            self.count += 1
            self.consts[key] = t._data.copy()
            self.meta[key] = (tuple(t.shape), t._data.dtype)
            self.ids[id(t)] = (key, t._version)
            self.keep.append(t)
            return key
        key, version = entry
        if t._version != version:
            raise UnsupportedOperatorError(
                f"shendu.onnx.export: a tensor of shape {tuple(t.shape)} was changed in place by "
                f"an operation the exporter cannot see (in module '{self.path()}'); make the "
                f"operation out of place")
        return key

    def path(self):
        return self.stack[-1][0] if self.stack else ""

    def describe(self):
        if not self.stack:
            return "the top-level model"
        path, module, _ = self.stack[-1]
        return f"module '{path or '<root>'}' ({type(module).__name__})"

    # ------------------------------------------------------------------ ops
    def op(self, node, args, kwargs, result):
        if self.suppressed:
            return
        inputs = [self.key_of(a) if isinstance(a, Tensor) else self._raw(a) for a in args]
        outs = result if type(result) is tuple else (result,)
        keys = [self.bind(o) for o in outs]
        if all(isinstance(k, _Const) or k.startswith(("param:", "const")) or k in self.folded
               for k in inputs):
            for k, o in zip(keys, outs):
                self.folded[k] = o._data.copy()
        self.entries.append(Entry("op", type(node).__name__, node, None, inputs, kwargs, keys,
                                  [self.meta[k] for k in keys], self.describe()))

    def raw_op(self, name, args, result):
        """A non-differentiable op (comparison, logic) that makes no Node."""
        if self.suppressed:
            return
        inputs = [self.key_of(a) if isinstance(a, Tensor) else self._raw(a) for a in args]
        key = self.bind(result)
        if all(isinstance(k, _Const) or k.startswith(("param:", "const")) or k in self.folded
               for k in inputs):
            self.folded[key] = result._data.copy()
        self.entries.append(Entry("op", "raw:" + name, None, None, inputs, {}, [key],
                                  [self.meta[key]], self.describe()))

    def _raw(self, a):
        """A non-tensor op argument; an array that is a traced value's data (an op handed
        ``x._data`` to another op) stays that value, never a baked-in constant."""
        if hasattr(a, "dtype") and id(a) in self.arrays:
            return self.arrays[id(a)]
        return _Const(a)

    def written(self, t, arr):
        if self.suppressed:
            return
        key = self.arrays.get(id(arr))
        if key is None:
            raise UnsupportedOperatorError(
                f"shendu.onnx.export: an in-place write in {self.describe()} stores a value the "
                f"exporter did not see computed")
        self.ids[id(t)] = (key, t._version)
        self.keep.append(t)

    # ------------------------------------------------------------------ packed sequences
    def pack_padded(self, fn, input, lengths, batch_first, enforce_sorted):
        """pack_padded_sequence: remembered as (padded input, lengths); ONNX's recurrent ops
        take exactly these (sequence_lens), so the packing itself is not exported."""
        if self.suppressed:
            return fn(input, lengths, batch_first, enforce_sorted)
        keys = (self.key_of(input), self.key_of(lengths) if isinstance(lengths, Tensor)
                else _Const(lengths))
        self.suppressed += 1
        try:
            packed = fn(input, lengths, batch_first, enforce_sorted)
        finally:
            self.suppressed -= 1
        self.packs[id(packed)] = keys + (batch_first,)
        self.keep.append(packed)
        return packed

    def pad_packed(self, fn, sequence, batch_first, padding_value, total_length):
        if self.suppressed:
            return fn(sequence, batch_first, padding_value, total_length)
        info = self.packs.get(id(sequence))
        if info is None:
            raise UnsupportedOperatorError(
                f"shendu.onnx.export: pad_packed_sequence in {self.describe()} got a packed "
                f"sequence that no recurrent layer produced from pack_padded_sequence")
        self.suppressed += 1
        try:
            padded, lengths = fn(sequence, batch_first, padding_value, total_length)
        finally:
            self.suppressed -= 1
        keys = [self.bind(padded), self.bind(lengths)]
        self.entries.append(Entry("op", "PadPacked", None, None, [info[0], info[1]],
                                  {"batch_first": batch_first, "padding_value": padding_value,
                                   "total_length": total_length, "packed_batch_first": info[2]},
                                  keys, [self.meta[k] for k in keys], self.describe()))
        return padded, lengths

    # ------------------------------------------------------------------ modules
    def _pre(self, module, args, kwargs):
        name = self.paths.get(id(module), ("?", module))[0]
        converted = not self.suppressed and type(module).__name__ in self.converters
        if converted:
            flat = [self.key_of(a) if isinstance(a, Tensor) else _Const(a)
                    for a in _flatten((args, kwargs))]
            self.stack.append((name, module, flat))
            self.suppressed += 1
        else:
            self.stack.append((name, module, None))

    def _post(self, module, args, kwargs, out):
        name, _, flat = self.stack.pop()
        if flat is None:
            return
        self.suppressed -= 1
        keys = []
        for o in _flatten(out):
            if isinstance(o, PackedSequence):     # its padded form, time-major, is the value
                keys.append(self.bind(o.data))
                self.packs[id(o)] = (keys[-1], flat_lengths(self, flat), False)
                self.keep.append(o)
            elif isinstance(o, Tensor):
                keys.append(self.bind(o))
        self.entries.append(Entry("module", type(module).__name__, None, module,
                                  flat, {"args": args, "kwargs": kwargs, "out": out}, keys,
                                  [self.meta[k] for k in keys],
                                  f"module '{name or '<root>'}' ({type(module).__name__})"))


def flat_lengths(tracer, flat):
    """The lengths of the packed sequence among a recurrent module's inputs."""
    for k in flat:
        if isinstance(k, _Const) and isinstance(k.value, PackedSequence):
            return tracer.packs[id(k.value)][1]
    return _Const(None)


class _Const:
    """A non-tensor argument of an op (a Python number, a shape, None...)."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _flatten(obj):
    """Tensors and other leaves of nested tuples/lists/dicts, in order."""
    if isinstance(obj, PackedSequence):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [x for o in obj for x in _flatten(o)]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _flatten(v)]
    return [obj]
