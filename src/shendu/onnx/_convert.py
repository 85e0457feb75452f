"""ONNX conversions: one function per shendu op (Node class) and per module class that is
exported whole (its parameters are then ONNX initialisers under their state_dict names).

A converter gets the graph builder ``g``, the recorded entry ``e`` and its inputs ``ins``
(ONNX value names for tensors, ``_Const`` for other arguments) and returns the ONNX names
of the entry's outputs.
"""
import numpy as np

from ._trace import UnsupportedOperatorError, _Const

OPS = {}
MODULES = {}


def _registrar(table):
    def decorator(*names):
        def register(fn):
            for n in names:
                table[n] = fn
            return fn
        return register
    return decorator


op, module = _registrar(OPS), _registrar(MODULES)     # @op("Add"), @module("Conv2d")


def _fail(e, what):
    raise UnsupportedOperatorError(f"shendu.onnx.export: {what} (op {e.name} in {e.path})")


def _c(v):
    return v.value if isinstance(v, _Const) else v


def _axis(d, ndim):
    return d + ndim if d < 0 else d


def _scalar_or_tensor(g, e, v, like_dtype):
    """An ONNX name for an op operand: a traced value, or a Python number as a constant
    of the other operand's dtype (torch's rule: scalars never promote a tensor)."""
    if isinstance(v, _Const):
        return g.const(np.asarray(v.value, dtype=like_dtype), "scalar")
    return v


def _binary(onnx_op):
    def convert(g, e, ins):
        dt = e.out_meta[0][1]
        a, b = (_scalar_or_tensor(g, e, v, dt) for v in ins[:2])
        return [g.node(onnx_op, [g.cast_to(a, dt), g.cast_to(b, dt)])]
    return convert


for _n, _o in (("Add", "Add"), ("Sub", "Sub"), ("Mul", "Mul"), ("Div", "Div"),
               ("Maximum", "Max"), ("Pow", "Pow")):
    OPS[_n] = _binary(_o)


def _unary(onnx_op):
    def convert(g, e, ins):
        return [g.node(onnx_op, [ins[0]])]
    return convert


for _n, _o in (("Relu", "Relu"), ("Tanh", "Tanh"), ("Sigmoid", "Sigmoid"), ("Exp", "Exp"),
               ("Log", "Log"), ("Sqrt", "Sqrt"), ("Neg", "Neg"), ("Abs", "Abs"),
               ("Erf", "Erf"), ("Reciprocal", "Reciprocal"), ("Sin", "Sin"), ("Cos", "Cos"),
               ("Softplus", "Softplus"), ("Alias", "Identity"), ("Contiguous", "Identity"),
               ("Clone", "Identity")):
    OPS[_n] = _unary(_o)


def _logic(onnx_op, negate=False):
    def convert(g, e, ins):
        metas = [g.meta_of_name(v)[1] if not isinstance(v, _Const) else np.asarray(v.value).dtype
                 for v in ins]
        common = np.dtype(bool) if onnx_op in ("And", "Or", "Xor", "Not") else \
            np.result_type(*[m for m in metas if m is not None])
        args = [g.cast_to(_scalar_or_tensor(g, e, v, common), common) for v in ins]
        y = g.node(onnx_op, args)
        return [g.node("Not", [y]) if negate else y]
    return convert


for _n, _o, _neg in (("eq", "Equal", False), ("ne", "Equal", True), ("lt", "Less", False),
                     ("le", "LessOrEqual", False), ("gt", "Greater", False),
                     ("ge", "GreaterOrEqual", False), ("logical_and", "And", False),
                     ("logical_or", "Or", False), ("logical_xor", "Xor", False),
                     ("logical_not", "Not", False)):
    OPS["raw:" + _n] = _logic(_o, _neg)


@op("raw:bitwise_not")
def _bitwise_not(g, e, ins):
    if g.meta_of_name(ins[0])[1] != np.bool_:
        _fail(e, "bitwise_not of integers (ONNX opset 18)")
    return [g.node("Not", [ins[0]])]


@op("PowScalar")
def _pow_scalar(g, e, ins):
    x, p = ins[0], _c(ins[1])
    return [g.node("Pow", [x, g.const(np.asarray(p, e.out_meta[0][1]), "exponent")])]


@op("Hardtanh", "Clamp")
def _clip(g, e, ins):
    dt = e.out_meta[0][1]
    lo, hi = _c(ins[1]), _c(ins[2])
    args = [ins[0], g.const(np.asarray(lo, dt), "min") if lo is not None else "",
            g.const(np.asarray(hi, dt), "max") if hi is not None else ""]
    while args[-1] == "":
        args.pop()
    return [g.node("Clip", args)]


@op("Silu")
def _silu(g, e, ins):
    return [g.node("Mul", [ins[0], g.node("Sigmoid", [ins[0]])])]


@op("Gelu")
def _gelu(g, e, ins):
    if getattr(e.node, "approximate", "none") not in ("none", None):
        _fail(e, "gelu(approximate='tanh') has no ONNX opset-17 form here")
    dt = e.out_meta[0][1]
    x = ins[0]
    inner = g.node("Erf", [g.node("Div", [x, g.const(np.asarray(np.sqrt(2.0), dt), "sqrt2")])])
    one = g.const(np.asarray(1.0, dt), "one")
    half = g.const(np.asarray(0.5, dt), "half")
    return [g.node("Mul", [g.node("Mul", [x, half]), g.node("Add", [inner, one])])]


@op("Softmax", "LogSoftmax")
def _softmax(g, e, ins):
    ndim = len(e.out_meta[0][0])
    return [g.node(e.name, [ins[0]], axis=_axis(e.node.dim, ndim))]


@op("Where")
def _where(g, e, ins):
    dt = e.out_meta[0][1]
    cond = g.cast_to(ins[0], np.dtype(bool))
    a, b = (_scalar_or_tensor(g, e, v, dt) for v in ins[1:3])
    return [g.node("Where", [cond, a, b])]


@op("Matmul")
def _matmul(g, e, ins):
    return [g.node("MatMul", ins[:2])]


@op("Linear")
def _linear(g, e, ins):
    x, w, b = ins
    y = g.node("MatMul", [x, g.node("Transpose", [w], perm=[1, 0])])
    return [g.node("Add", [y, b]) if not isinstance(b, _Const) else y]


@op("Cat")
def _cat(g, e, ins):
    ndim = len(e.out_meta[0][0])
    return [g.node("Concat", list(ins), axis=_axis(e.node.dim, ndim))]


@op("Permute")
def _permute(g, e, ins):
    return [g.node("Transpose", [ins[0]], perm=[int(d) for d in _c(ins[1])])]


@op("Reshape")
def _reshape(g, e, ins):
    return [g.node("Reshape", [ins[0], g.const(g.reshape_target(e), "shape")])]


@op("Split")
def _split(g, e, ins):
    bounds, dim = _c(ins[1]), _c(ins[2])
    ndim = len(e.node.in_shape)
    sizes = np.diff(np.asarray(bounds, np.int64))
    outs = g.node("Split", [ins[0], g.const(sizes, "split")], n_out=len(sizes),
                  axis=_axis(dim, ndim))
    return list(outs) if len(sizes) > 1 else [outs]


@op("Mean", "Sum", "Amax")
def _reduce(g, e, ins):
    node = e.node
    ndim = len(node.in_shape) if hasattr(node, "in_shape") else len(g.meta(e.inputs[0])[0])
    dims = getattr(node, "dims", None)
    if dims is None:
        dims = _c(ins[1])
    keep = getattr(node, "keepdim", None)
    if keep is None:
        keep = _c(ins[2])
    axes = [_axis(int(d), ndim) for d in (dims if dims is not None else range(ndim))]
    kind = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Amax": "ReduceMax"}[e.name]
    if kind == "ReduceSum":          # axes became an input in opset 13
        return [g.node(kind, [ins[0], g.const(np.asarray(axes, np.int64), "axes")],
                       keepdims=int(bool(keep)))]
    return [g.node(kind, [ins[0]], axes=axes, keepdims=int(bool(keep)))]


@op("ChannelAffine")
def _channel_affine(g, e, ins):
    x, a, c = ins[:3]
    shape = g.const(np.asarray(_c(ins[3]), np.int64), "wshape")
    return [g.node("Add", [g.node("Mul", [x, g.node("Reshape", [a, shape])]),
                           g.node("Reshape", [c, shape])])]


@op("IndexSelect")
def _index_select(g, e, ins):
    x, dim, index = ins
    ndim = len(e.node.in_shape)
    idx = index if not isinstance(index, _Const) else g.const(
        np.asarray(index.value, np.int64), "index")
    return [g.node("Gather", [x, idx], axis=_axis(_c(dim), ndim))]


@op("Embedding")
def _embedding(g, e, ins):
    w, idx = ins[0], ins[1]
    if isinstance(idx, _Const):
        idx = g.const(np.asarray(idx.value, np.int64), "indices")
    return [g.node("Gather", [w, idx], axis=0)]


@op("Index")
def _index(g, e, ins):
    """Basic indexing (ints, slices, None, Ellipsis) and one integer-array index."""
    x, key = ins[0], _c(ins[1])
    shape = list(e.node.in_shape)
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        fill = len(shape) - sum(1 for k in key if k is not None and k is not Ellipsis)
        key = key[:i] + (slice(None),) * fill + key[i + 1:]
    starts, ends, axes, steps, squeeze, unsqueeze_at, gathers = [], [], [], [], [], [], []
    axis = out_axis = 0
    for k in key:
        if k is None:
            unsqueeze_at.append(out_axis)
            out_axis += 1
            continue
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            k = int(k) + (shape[axis] if k < 0 else 0)
            starts.append(k), ends.append(k + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        elif isinstance(k, slice):
            st, sp, step = k.indices(shape[axis])
            if (st, sp, step) != (0, shape[axis], 1):
                if step < 0:
                    _fail(e, "negative slice steps are not exported")
                starts.append(st), ends.append(sp), axes.append(axis), steps.append(step)
            out_axis += 1
        elif isinstance(k, np.ndarray) and k.dtype.kind in "iu" and not gathers:
            gathers.append((axis, k))
            out_axis += k.ndim
        else:
            _fail(e, f"indexing with {type(k).__name__} keys is not exported")
        axis += 1
    y = x
    if starts:
        y = g.node("Slice", [y, g.const(np.asarray(starts, np.int64), "starts"),
                             g.const(np.asarray(ends, np.int64), "ends"),
                             g.const(np.asarray(axes, np.int64), "axes"),
                             g.const(np.asarray(steps, np.int64), "steps")])
    for ax, idx in gathers:
        y = g.node("Gather", [y, g.const(idx.astype(np.int64), "index")], axis=ax)
    if squeeze:
        y = g.node("Squeeze", [y, g.const(np.asarray(squeeze, np.int64), "axes")])
    if unsqueeze_at:
        y = g.node("Unsqueeze", [y, g.const(np.asarray(unsqueeze_at, np.int64), "axes")])
    if y is x:
        y = g.node("Identity", [x])
    return [y]


# ====================================================================== modules
def _param(g, module, name):
    """The ONNX name of ``module.<name>`` (its state_dict name, as an initialiser)."""
    t = getattr(module, name)
    return g.param(t)


def _ntuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


@module("Conv1d", "Conv2d", "Conv3d")
def _conv(g, e, ins, m):
    nd = int(e.name[-2])
    if m.padding_mode != "zeros":
        _fail(e, f"padding_mode={m.padding_mode!r} is not exported")
    if isinstance(m.padding, str):
        if m.padding == "valid":
            pads = (0,) * nd
        else:
            k = _ntuple(m.kernel_size, nd)
            d = _ntuple(m.dilation, nd)
            total = [dd * (kk - 1) for kk, dd in zip(k, d)]
            return [g.node("Conv", [ins[0], _param(g, m, "weight")] + (
                [_param(g, m, "bias")] if m.bias is not None else []),
                strides=list(_ntuple(m.stride, nd)), dilations=list(d), group=m.groups,
                pads=[t // 2 for t in total] + [t - t // 2 for t in total])]
    else:
        pads = _ntuple(m.padding, nd)
    inputs = [ins[0], _param(g, m, "weight")] + ([_param(g, m, "bias")] if m.bias is not None
                                                   else [])
    return [g.node("Conv", inputs, strides=list(_ntuple(m.stride, nd)),
                   dilations=list(_ntuple(m.dilation, nd)), group=m.groups,
                   pads=list(pads) * 2, kernel_shape=list(m.weight.shape[2:]))]


@module("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _batchnorm(g, e, ins, m):
    if m.running_mean is None:
        _fail(e, "batch norm without running statistics (track_running_stats=False)")
    c = m.running_mean.shape[0]
    dt = m.running_mean._data.dtype
    scale = _param(g, m, "weight") if m.weight is not None else g.const(np.ones(c, dt), "ones")
    bias = _param(g, m, "bias") if m.bias is not None else g.const(np.zeros(c, dt), "zeros")
    x = ins[0]
    two_d = len(e.out_meta[0][0]) == 2
    if two_d:
        x = g.node("Unsqueeze", [x, g.const(np.asarray([2], np.int64), "axes")])
    y = g.node("BatchNormalization", [x, scale, bias, _param(g, m, "running_mean"),
                                      _param(g, m, "running_var")], epsilon=float(m.eps))
    if two_d:
        y = g.node("Squeeze", [y, g.const(np.asarray([2], np.int64), "axes")])
    return [y]


@module("Linear")
def _linear_module(g, e, ins, m):
    x = ins[0]
    w = _param(g, m, "weight")
    if len(e.out_meta[0][0]) == 2:
        args = [x, w] + ([_param(g, m, "bias")] if m.bias is not None else [])
        return [g.node("Gemm", args, transB=1)]
    y = g.node("MatMul", [x, g.node("Transpose", [w], perm=[1, 0])])
    return [g.node("Add", [y, _param(g, m, "bias")]) if m.bias is not None else y]


@module("ReLU")
def _relu_m(g, e, ins, m):
    return [g.node("Relu", [ins[0]])]


@module("ReLU6", "Hardtanh")
def _relu6_m(g, e, ins, m):
    dt = e.out_meta[0][1]
    lo, hi = (0.0, 6.0) if e.name == "ReLU6" else (m.min_val, m.max_val)
    return [g.node("Clip", [ins[0], g.const(np.asarray(lo, dt), "min"),
                            g.const(np.asarray(hi, dt), "max")])]


@module("Sigmoid", "Tanh")
def _sigmoid_m(g, e, ins, m):
    return [g.node(e.name, [ins[0]])]


@module("Hardswish", "Hardsigmoid")
def _hard_m(g, e, ins, m):
    if e.name == "Hardswish":
        return [g.node("HardSwish", [ins[0]])]
    return [g.node("HardSigmoid", [ins[0]], alpha=1.0 / 6, beta=0.5)]


@module("SiLU")
def _silu_m(g, e, ins, m):
    return [g.node("Mul", [ins[0], g.node("Sigmoid", [ins[0]])])]


@module("LeakyReLU")
def _leaky_m(g, e, ins, m):
    return [g.node("LeakyRelu", [ins[0]], alpha=float(m.negative_slope))]


@module("Softmax", "LogSoftmax")
def _softmax_m(g, e, ins, m):
    ndim = len(e.out_meta[0][0])
    dim = m.dim if m.dim is not None else (0 if ndim in (0, 1, 3) else 1)
    return [g.node(e.name, [ins[0]], axis=_axis(dim, ndim))]


@module("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Identity")
def _identity_m(g, e, ins, m):
    return [g.node("Identity", [ins[0]])]


@module("Flatten")
def _flatten_m(g, e, ins, m):
    ndim = len(g.meta(e.inputs[0])[0])
    if _axis(m.end_dim, ndim) == ndim - 1:
        return [g.node("Flatten", [ins[0]], axis=_axis(m.start_dim, ndim))]
    return [g.node("Reshape", [ins[0], g.const(g.reshape_target(e), "shape")])]


@module("MaxPool1d", "MaxPool2d", "MaxPool3d")
def _maxpool_m(g, e, ins, m):
    nd = int(e.name[-2])
    if m.return_indices:
        _fail(e, "max pooling with return_indices=True")
    k = _ntuple(m.kernel_size, nd)
    s = _ntuple(m.stride if m.stride is not None else m.kernel_size, nd)
    p = _ntuple(m.padding, nd)
    return [g.node("MaxPool", [ins[0]], kernel_shape=list(k), strides=list(s),
                   pads=list(p) * 2, dilations=list(_ntuple(m.dilation, nd)),
                   ceil_mode=int(bool(m.ceil_mode)))]


@module("AvgPool1d", "AvgPool2d", "AvgPool3d")
def _avgpool_m(g, e, ins, m):
    nd = int(e.name[-2])
    if getattr(m, "divisor_override", None):
        _fail(e, "average pooling with divisor_override")
    k = _ntuple(m.kernel_size, nd)
    s = _ntuple(m.stride if m.stride is not None else m.kernel_size, nd)
    p = _ntuple(m.padding, nd)
    return [g.node("AveragePool", [ins[0]], kernel_shape=list(k), strides=list(s),
                   pads=list(p) * 2, ceil_mode=int(bool(m.ceil_mode)),
                   count_include_pad=int(bool(m.count_include_pad)))]


@module("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
        "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def _adaptive_m(g, e, ins, m):
    nd = int(e.name[-2])
    avg = "Avg" in e.name
    in_shape = g.meta(e.inputs[0])[0]
    out = [o if o is not None else i for o, i in zip(_ntuple(m.output_size, nd),
                                                      in_shape[-nd:])]
    if all(o == 1 for o in out):
        return [g.node("GlobalAveragePool" if avg else "GlobalMaxPool", [ins[0]])]
    if any(i % o for i, o in zip(in_shape[-nd:], out)):
        _fail(e, f"adaptive pooling from {tuple(in_shape[-nd:])} to {tuple(out)} (not a "
                 f"whole-number ratio)")
    k = [i // o for i, o in zip(in_shape[-nd:], out)]
    return [g.node("AveragePool" if avg else "MaxPool", [ins[0]], kernel_shape=k, strides=k)]


@module("LocalResponseNorm")
def _lrn_m(g, e, ins, m):
    return [g.node("LRN", [ins[0]], size=int(m.size), alpha=float(m.alpha),
                   beta=float(m.beta), bias=float(m.k))]


@module("Embedding")
def _embedding_m(g, e, ins, m):
    if m.max_norm is not None:
        _fail(e, "Embedding with max_norm")
    idx = g.cast_to(ins[0], np.dtype(np.int64))
    return [g.node("Gather", [_param(g, m, "weight"), idx], axis=0)]


# ---------------------------------------------------------------- recurrent layers
_GATES = {"LSTM": (4, [0, 3, 1, 2]), "GRU": (3, [1, 0, 2]), "RNN": (1, [0])}


def _rnn_weights(g, m, kind, layer, suffix):
    """W (dirs, G·H, I), R (dirs, G·H, H), B (dirs, 2·G·H) for one layer, gates reordered
    from torch's (i, f, g, o) / (r, z, n) to ONNX's (i, o, f, c) / (z, r, h)."""
    n, order = _GATES[kind]
    H = m.hidden_size
    dirs = [""] + (["_reverse"] if m.bidirectional else [])

    def reorder(a):
        return np.concatenate([a[i * H:(i + 1) * H] for i in order], 0)
    W, R, B = [], [], []
    for d in dirs:
        wi = getattr(m, f"weight_ih_l{layer}{d}")._data
        wh = getattr(m, f"weight_hh_l{layer}{d}")._data
        W.append(reorder(wi))
        R.append(reorder(wh))
        if m.bias:
            B.append(np.concatenate([reorder(getattr(m, f"bias_ih_l{layer}{d}")._data),
                                     reorder(getattr(m, f"bias_hh_l{layer}{d}")._data)]))
        else:
            B.append(np.zeros(2 * n * H, wi.dtype))
    name = f"{g.param_prefix(m)}l{layer}"
    return (g.const(np.stack(W), name + ".W" + suffix), g.const(np.stack(R), name + ".R" + suffix),
            g.const(np.stack(B), name + ".B" + suffix))


@module("LSTM", "GRU", "RNN")
def _rnn_m(g, e, ins, m):
    from ..nn.utils.rnn import PackedSequence
    kind = e.name
    if getattr(m, "proj_size", 0):
        _fail(e, "LSTM with proj_size")
    args = e.params["args"]
    packed = isinstance(args[0], PackedSequence)
    seq_lens = ""
    if packed:          # ONNX takes the padded batch and the lengths (sequence_lens)
        padded, lengths, packed_bf = g.trace.packs[id(args[0])]
        x = g.resolve(padded)
        if packed_bf:
            x = g.node("Transpose", [x], perm=[1, 0, 2])
        seq_lens = g.node("Cast", [g.resolve(lengths) if not isinstance(lengths, _Const) else
                                   g.const(np.asarray(lengths.value, np.int64), "lengths")],
                          to=6)                                   # int32
    else:
        if len(e.out_meta[0][0]) != 3:
            _fail(e, "unbatched (2-D) recurrent input")
        x = ins[0]
        if m.batch_first:
            x = g.node("Transpose", [x], perm=[1, 0, 2])
    hx = [i for i in ins[1:] if not isinstance(i, _Const)]
    H, L = m.hidden_size, m.num_layers
    dirs = 2 if m.bidirectional else 1
    attrs = {"hidden_size": H, "direction": "bidirectional" if dirs == 2 else "forward"}
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    if kind == "RNN":
        attrs["activations"] = ["Relu" if m.nonlinearity == "relu" else "Tanh"] * dirs
    states = (2 if kind == "LSTM" else 1)
    h_outs = [[] for _ in range(states)]
    for layer in range(L):
        W, R, B = _rnn_weights(g, m, kind, layer, "")
        init = []
        for s in range(min(states, len(hx))):
            init.append(g.node("Slice", [hx[s], g.const(np.asarray([layer * dirs], np.int64), "s"),
                                         g.const(np.asarray([(layer + 1) * dirs], np.int64), "e"),
                                         g.const(np.asarray([0], np.int64), "a")]))
        inputs = [x, W, R, B, seq_lens] + init
        while inputs[-1] == "":
            inputs.pop()
        outs = g.node(kind, inputs, n_out=1 + states, **attrs)
        y = outs[0]                                     # (T, dirs, N, H)
        for s in range(states):
            h_outs[s].append(outs[1 + s])
        y = g.node("Transpose", [y], perm=[0, 2, 1, 3])
        x = g.node("Reshape", [y, g.const(np.asarray([0, 0, -1], np.int64), "shape")])
    out = x if packed or not m.batch_first else g.node("Transpose", [x], perm=[1, 0, 2])
    finals = [h[0] if L == 1 else g.node("Concat", h, axis=0) for h in h_outs]
    return [out] + finals


@op("PadPacked")
def _pad_packed(g, e, ins):
    """pad_packed_sequence of a recurrent layer's output: the padded, time-major output."""
    p = e.params
    if p["padding_value"] != 0:
        _fail(e, "pad_packed_sequence with a non-zero padding_value")
    y = ins[0]
    if p["packed_batch_first"] != p["batch_first"]:
        y = g.node("Transpose", [y], perm=[1, 0, 2])
    t_axis = 1 if p["batch_first"] else 0
    if p["total_length"] is not None:       # pad the time axis up to total_length
        steps = g.node("Slice", [g.node("Shape", [y]),
                                 g.const(np.asarray([t_axis], np.int64), "start"),
                                 g.const(np.asarray([t_axis + 1], np.int64), "end")])
        extra = g.node("Sub", [g.const(np.asarray([p["total_length"]], np.int64), "T"), steps])
        z1 = g.const(np.zeros(1, np.int64), "zero")
        ends = [extra, z1, z1] if t_axis == 0 else [z1, extra, z1]
        pads = g.node("Concat", [g.const(np.zeros(3, np.int64), "zeros")] + ends, axis=0)
        y = g.node("Pad", [y, pads])
    lengths = ins[1]
    if isinstance(lengths, _Const):
        lengths = g.const(np.asarray(lengths.value, np.int64), "lengths")
    return [y, g.cast_to(lengths, np.dtype(np.int64))]


# ---------------------------------------------------------------- attention
@module("MultiheadAttention")
def _mha_m(g, e, ins, m):
    args, kwargs = e.params["args"], e.params["kwargs"]
    names = ["query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
             "average_attn_weights", "is_causal"]
    call = dict(zip(names, args))
    call.update(kwargs)
    if getattr(m, "bias_k", None) is not None or getattr(m, "add_zero_attn", False):
        _fail(e, "MultiheadAttention with add_bias_kv or add_zero_attn")
    if call.get("is_causal"):
        _fail(e, "MultiheadAttention(is_causal=True): pass the mask as attn_mask")
    by_id = _names_by_id(e, ins)
    named = {n: by_id[id(call[n])] for n in names if id(call.get(n)) in by_id}
    dt = e.out_meta[0][1]
    E, nh = m.embed_dim, m.num_heads
    hd = E // nh
    q, k, v = named["query"], named["key"], named["value"]
    if len(g.meta_of_name(q)[0]) != 3:
        _fail(e, "unbatched (2-D) attention input")
    if m.batch_first:                                   # work in (L, N, E)
        q, k, v = (g.node("Transpose", [t], perm=[1, 0, 2]) for t in (q, k, v))
    if m._qkv_same_embed_dim:
        w = m.in_proj_weight._data
        ws = [w[i * E:(i + 1) * E] for i in range(3)]
    else:
        ws = [m.q_proj_weight._data, m.k_proj_weight._data, m.v_proj_weight._data]
    bs = [m.in_proj_bias._data[i * E:(i + 1) * E] for i in range(3)] \
        if m.in_proj_bias is not None else [None] * 3
    prefix = g.param_prefix(m)
    heads = []
    for t, w, b, tag in zip((q, k, v), ws, bs, "qkv"):
        y = g.node("MatMul", [t, g.const(np.ascontiguousarray(w.T), f"{prefix}{tag}_proj.WT")])
        if b is not None:
            y = g.node("Add", [y, g.const(b.copy(), f"{prefix}{tag}_proj.b")])
        y = g.node("Reshape", [y, g.const(np.asarray([0, 0, nh, hd], np.int64), "shape")])
        heads.append(g.node("Transpose", [y], perm=[1, 2, 0, 3]))      # (N, h, L, hd)
    qh, kh, vh = heads
    scores = g.node("MatMul", [qh, g.node("Transpose", [kh], perm=[0, 1, 3, 2])])
    scores = g.node("Mul", [scores, g.const(np.asarray(1.0 / np.sqrt(hd), dt), "scale")])
    def neg():
        return g.const(np.asarray(-np.inf, dt), "neg_inf")

    def zero():
        return g.const(np.asarray(0.0, dt), "zero")
    am = named.get("attn_mask")
    if am is not None:
        amask = g.meta_of_name(am)
        add = g.node("Where", [am, neg(), zero()]) if amask[1] == np.bool_ else am
        if len(amask[0]) == 3:                          # (N·h, L, S) -> (N, h, L, S)
            add = g.node("Reshape", [add, g.const(np.asarray([-1, nh, 0, 0], np.int64), "shape")])
        scores = g.node("Add", [scores, add])
    kpm = named.get("key_padding_mask")
    if kpm is not None:
        kinfo = g.meta_of_name(kpm)
        add = g.node("Where", [kpm, neg(), zero()]) if kinfo[1] == np.bool_ else kpm
        add = g.node("Unsqueeze", [add, g.const(np.asarray([1, 2], np.int64), "axes")])
        scores = g.node("Add", [scores, add])
    attn = g.node("Softmax", [scores], axis=3)
    out = g.node("MatMul", [attn, vh])                  # (N, h, L, hd)
    out = g.node("Transpose", [out], perm=[2, 0, 1, 3])
    out = g.node("Reshape", [out, g.const(np.asarray([0, 0, E], np.int64), "shape")])
    out = g.node("MatMul", [out, g.node("Transpose", [_param(g, m.out_proj, "weight")],
                                        perm=[1, 0])])
    if m.out_proj.bias is not None:
        out = g.node("Add", [out, _param(g, m.out_proj, "bias")])
    if m.batch_first:
        out = g.node("Transpose", [out], perm=[1, 0, 2])
    results = [out]
    if len(e.outputs) > 1:
        if call.get("average_attn_weights", True):
            results.append(g.node("ReduceMean", [attn], axes=[1], keepdims=0))
        else:
            results.append(attn)
    return results


def _names_by_id(e, ins):
    """{id(tensor argument of the module call): its ONNX name}."""
    from .._tensor import Tensor
    from ._trace import _flatten
    flat = _flatten((e.params["args"], e.params["kwargs"]))
    return {id(a): n for a, n in zip(flat, ins) if isinstance(a, Tensor)}
