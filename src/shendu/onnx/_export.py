"""``shendu.onnx.export``: trace one forward pass, convert each recorded op or module to ONNX
nodes, write the model with the ``onnx`` package and check it with ``onnx.checker``."""
import numpy as np

from .. import autograd
from .._tensor import Tensor
from ..autograd import function as _function
from . import _convert
from ._trace import Tracer, UnsupportedOperatorError, _Const, _flatten

_MIN_OPSET, _MAX_OPSET = 13, 17
_IGNORED = {"export_params": True, "verbose": None, "do_constant_folding": None,
            "keep_initializers_as_inputs": False, "training": None, "dynamo": False,
            "operator_export_type": None}


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("shendu.onnx.export needs the 'onnx' package: "
                          "pip install 'shendu[onnx]'") from None
    return onnx, helper, numpy_helper


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=17, **kwargs):
    """Export ``model`` run on ``args`` (a tensor, or a tuple of tensors, optionally ending
    with a dict of keyword arguments) to ONNX file ``f`` (a path or a binary file).

    ``dynamic_axes`` maps input/output names to the axes (a list, or {axis: name}) whose size
    may change, e.g. ``{"input": {0: "batch"}, "output": {0: "batch"}}``. The model is run in
    eval mode; parameters and buffers become initialisers under their state_dict names.
    An op or module with no ONNX form raises :class:`UnsupportedOperatorError` naming it and
    the module it ran in. Returns the ``onnx.ModelProto``."""
    onnx, helper, numpy_helper = _onnx()
    for k, v in kwargs.items():
        if k not in _IGNORED:
            raise TypeError(f"shendu.onnx.export() got an unexpected keyword argument {k!r}")
        if k in ("export_params", "keep_initializers_as_inputs", "dynamo") and v != _IGNORED[k]:
            raise ValueError(f"shendu.onnx.export supports only {k}={_IGNORED[k]}")
    if not _MIN_OPSET <= opset_version <= _MAX_OPSET:
        raise ValueError(f"shendu.onnx.export writes opsets {_MIN_OPSET} to {_MAX_OPSET}, got "
                         f"opset_version={opset_version}")
    args, call_kwargs = _split_args(args)
    inputs = [a for a in _flatten((args, call_kwargs)) if isinstance(a, Tensor)]
    input_names = list(input_names or [])
    input_names += [f"input_{i}" for i in range(len(input_names), len(inputs))]
    dynamic_axes = {k: (dict(v) if isinstance(v, dict) else {int(a): f"{k}_dim{a}" for a in v})
                    for k, v in (dynamic_axes or {}).items()}
    was_training = model.training
    model.eval()
    try:
        trace, outs = _trace(model, args, call_kwargs, inputs)
        # a second trace on other values (and longer dynamic axes) tells values computed
        # from the inputs, and sizes that follow dynamic axes, from true constants
        other = {id(t): _perturb(_grow(t, dynamic_axes.get(n, {})))
                 for t, n in zip(inputs, input_names)}
        args_b, kwargs_b = _replace((args, call_kwargs), other)
        trace_b, _ = _trace(model, args_b, kwargs_b, [other[id(t)] for t in inputs])
        _check_same_ops(trace, trace_b)
    finally:
        model.train(was_training)
    out_tensors = [o for o in _flatten(outs) if isinstance(o, Tensor)]
    output_names = list(output_names or [])
    output_names += [f"output_{i}" for i in range(len(output_names), len(out_tensors))]
    g = _Graph(model, trace, trace_b if dynamic_axes else None, helper, numpy_helper)
    g.check_constants(trace_b)
    for key, name in zip(trace.input_keys, input_names):
        g.names[key] = name
        g.name_meta[name] = trace.meta[key]
    for e in trace.entries:
        if all(k in trace.folded for k in e.outputs):
            continue
        ins = [g.resolve(k) if not isinstance(k, _Const) else k for k in e.inputs]
        if e.kind == "op":
            conv = _convert.OPS.get(e.name)
            if conv is None:
                raise UnsupportedOperatorError(
                    f"shendu.onnx.export: op {e.name} ({type(e.node).__module__}) in {e.path} "
                    f"has no ONNX conversion")
            outs_e = conv(g, e, ins)
        else:
            outs_e = _convert.MODULES[e.name](g, e, ins, e.module)
        for key, name in zip(e.outputs, outs_e):
            g.names[key] = name
            g.name_meta[name] = trace.meta[key]
    graph_outputs = []
    for t, name in zip(out_tensors, output_names):
        key = trace.key_of(t)
        if dynamic_axes and name not in dynamic_axes:     # sizes that followed the inputs'
            dynamic_axes[name] = {i: f"{name}_dim{i}" for i, (a, b) in enumerate(zip(
                trace.meta[key][0], trace_b.meta[key][0])) if a != b}
        src = g.resolve(key)
        g.nodes.append(helper.make_node("Identity", [src], [name], name=f"output_{name}"))
        graph_outputs.append(_value_info(helper, name, t.shape, t._data.dtype,
                                         dynamic_axes.get(name, {})))
    graph_inputs = [_value_info(helper, name, t.shape, t._data.dtype, dynamic_axes.get(name, {}))
                    for t, name in zip(inputs, input_names)]
    initializers = [numpy_helper.from_array(np.ascontiguousarray(a), name)
                    for name, a in g.inits.items()]
    graph = helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs,
                              initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset_version)],
                              producer_name="shendu")
    proto.ir_version = min(proto.ir_version, 8)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save_model(proto, f)
    return proto


def _split_args(args):
    if isinstance(args, Tensor):
        return (args,), {}
    args = tuple(args)
    if args and isinstance(args[-1], dict):
        return args[:-1], dict(args[-1])
    return args, {}


def _trace(model, args, kwargs, inputs):
    tracer = Tracer(model, inputs, _convert.MODULES)
    _function._trace[0] = tracer
    try:
        with autograd.enable_grad():
            outs = model(*args, **kwargs)
    finally:
        _function._trace[0] = None
        tracer.remove_hooks()
    return tracer, outs


def _grow(t, axes):
    """``t`` with each dynamic axis one longer (its first slice repeated): the second
    trace, which tells batch-dependent shapes from fixed ones."""
    from .. import cat
    for a in axes:
        t = cat([t, t.narrow(a, 0, 1)], a)
    return t.detach()


def _perturb(t):
    """Other values of the same dtype and shape: floats moved, integers rolled."""
    a = t._data
    from .._tensor import _make
    if a.dtype.kind == "f":
        return _make(a * 0.5 + 0.25, None, 0)
    return _make(np.roll(a.reshape(-1), 1).reshape(a.shape), None, 0)


def _replace(obj, table):
    if isinstance(obj, Tensor):
        return table.get(id(obj), obj)
    if isinstance(obj, tuple):
        return tuple(_replace(o, table) for o in obj)
    if isinstance(obj, list):
        return [_replace(o, table) for o in obj]
    if isinstance(obj, dict):
        return {k: _replace(v, table) for k, v in obj.items()}
    return obj


def _check_same_ops(a, b):
    sig_a = [(e.name, e.path) for e in a.entries]
    sig_b = [(e.name, e.path) for e in b.entries]
    if sig_a != sig_b:
        where = next((x for x, y in zip(sig_a, sig_b) if x != y), sig_a[len(sig_b):][:1])
        raise UnsupportedOperatorError(
            f"shendu.onnx.export: the model runs different ops when a dynamic axis changes size "
            f"(first difference near {where}): data-dependent control flow cannot be exported")


def _value_info(helper, name, shape, dtype, dyn):
    dims = [dyn.get(i, d) if i in dyn else d for i, d in enumerate(shape)]
    dims = [d if isinstance(d, str) else int(d) for d in dims]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)),
                                         dims)


class _Graph:
    """The ONNX graph being built: nodes, initialisers, and names for traced values."""

    def __init__(self, model, trace, trace_b, helper, numpy_helper):
        self.trace, self.trace_b, self.helper = trace, trace_b, helper
        self.nodes, self.inits, self.names, self.name_meta = [], {}, {}, {}
        self.n = 0
        self.tensors = dict(model.named_parameters())
        self.tensors.update({k: b for k, b in model.named_buffers() if b is not None})
        self.param_names = {id(t): k for k, t in self.tensors.items()}
        self.module_paths = {id(m): name for name, m in model.named_modules()}

    def fresh(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def node(self, op, inputs, n_out=1, **attrs):
        outs = [self.fresh(op.lower()) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op, list(inputs), outs, name=self.fresh(op),
                                                **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, arr, hint):
        name = self.fresh("c_" + hint)
        self.inits[name] = np.asarray(arr)
        self.name_meta[name] = (self.inits[name].shape, self.inits[name].dtype)
        return name

    def param(self, t):
        name = self.param_names.get(id(t))
        if name is None:
            return self.const(t._data.copy(), "tensor")
        if name not in self.inits:
            self.inits[name] = t._data
            self.name_meta[name] = (t._data.shape, t._data.dtype)
        return name

    def param_prefix(self, module):
        path = self.module_paths.get(id(module), "")
        return path + "." if path else ""

    def meta(self, key):
        return self.trace.meta[key]

    def meta_of_name(self, name):
        return self.name_meta.get(name, ((), None))

    def cast_to(self, name, dtype):
        have = self.name_meta.get(name, (None, None))[1]
        if have is None or np.dtype(have) == np.dtype(dtype):
            return name
        out = self.node("Cast", [name], to=self.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
        self.name_meta[out] = (self.name_meta[name][0], np.dtype(dtype))
        return out

    def resolve(self, key):
        """The ONNX name holding a traced value (initialisers made on first use)."""
        if key in self.names:
            return self.names[key]
        if key.startswith("param:"):
            name = self.param(self.tensors[key[len("param:"):]])
        elif key in self.trace.consts or key in self.trace.folded:
            arr = self.trace.consts.get(key)
            if arr is None:
                arr = self.trace.folded[key]
            if self.trace_b is not None and self.trace_b.meta.get(key, (arr.shape,))[0] \
                    != arr.shape:
                raise UnsupportedOperatorError(
                    f"shendu.onnx.export: a constant of shape {arr.shape} made inside the "
                    f"forward pass changes shape with a dynamic axis ({self._origin(key)}); "
                    f"build it from the input (e.g. zeros_like) or export with fixed sizes")
            name = self.const(arr, "const")
        else:
            raise UnsupportedOperatorError(f"shendu.onnx.export: lost track of value {key}")
        self.names[key] = name
        self.name_meta[name] = self.trace.meta[key]
        return name

    def check_constants(self, other):
        """Constants (tensors made outside traced ops) must not change with the inputs."""
        for key, arr in self.trace.consts.items():
            b = other.consts.get(key)
            if b is not None and b.shape == arr.shape and not np.array_equal(
                    arr, b, equal_nan=arr.dtype.kind == "f"):
                raise UnsupportedOperatorError(
                    f"shendu.onnx.export: a tensor {self._origin(key)} is computed from the "
                    f"inputs outside shendu's ops (e.g. through NumPy), so the export would "
                    f"freeze this run's values; compute it with tensor operations")

    def _origin(self, key):
        for e in self.trace.entries:
            if key in e.outputs or key in e.inputs:
                return f"used by {e.name} in {e.path}"
        return "origin unknown"

    def reshape_target(self, e):
        """A Reshape's target shape, with -1 on the one dimension that follows a dynamic
        axis (found by comparing the two traces)."""
        key = e.outputs[0]
        shape = list(self.trace.meta[key][0])
        if self.trace_b is None:
            return np.asarray(shape, np.int64)
        other = list(self.trace_b.meta[key][0])
        diff = [i for i, (a, b) in enumerate(zip(shape, other)) if a != b]
        if len(diff) > 1:
            raise UnsupportedOperatorError(
                f"shendu.onnx.export: a reshape to {tuple(shape)} in {e.path} has {len(diff)} "
                f"dimensions that depend on dynamic axes; only one can be inferred")
        for i in diff:
            shape[i] = -1
        return np.asarray(shape, np.int64)
