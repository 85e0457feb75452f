"""``shendu.summary(model, input_size)``: a table of every layer's output shape, parameters
(trainable and frozen), multiply-adds and receptive field, with totals.

Receptive field (seed 000 感受野): for a conv/pool layer with kernel k, stride s and
dilation d, the field grows as r_out = r_in + (k - 1) d j_in and the jump (distance
between neighbouring outputs, in input pixels) as j_out = j_in s. Each tensor carries
its (r, j); a tensor made outside a module (a residual sum, a concatenation) takes the
largest field among the module outputs it was computed from, found through the autograd
graph.
"""
import math
from collections import OrderedDict

import numpy as np

from ._tensor import Tensor
from . import _creation
from .autograd import grad_mode

__all__ = ["summary", "ModelSummary", "LayerInfo"]


class LayerInfo:
    """One call of a leaf module during the summary's forward pass."""

    def __init__(self, name, module, out_shape, params, trainable, macs, rf):
        self.name, self.module = name, module
        self.kind = type(module).__name__
        self.output_shape = out_shape
        self.params, self.trainable, self.mult_adds, self.receptive_field = \
            params, trainable, macs, rf


class ModelSummary:
    """The result of ``summary``: ``layers``, totals, and a printable table (``str``)."""

    def __init__(self, model, layers, input_shapes, total, trainable, macs, input_bytes,
                 act_bytes, param_bytes):
        self.model = model
        self.layers = layers
        self.input_shapes = input_shapes
        self.total_params = total
        self.trainable_params = trainable
        self.frozen_params = total - trainable
        self.total_mult_adds = macs
        self.input_bytes, self.activation_bytes, self.param_bytes = input_bytes, act_bytes, \
            param_bytes

    def __str__(self):
        rows = [("Layer (type)", "Output shape", "Params", "Trainable", "Mult-adds", "RF")]
        for L in self.layers:
            shape = str(list(L.output_shape)) if L.output_shape is not None else "-"
            tr = "-" if not L.params else ("yes" if L.trainable == L.params else
                                           "no" if L.trainable == 0 else f"{L.trainable:,}")
            rf = "-" if L.receptive_field is None else \
                "x".join(str(r) for r in L.receptive_field)
            rows.append((f"{L.name} ({L.kind})", shape, f"{L.params:,}", tr,
                         f"{L.mult_adds:,}" if L.mult_adds else "-", rf))
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        sep = "=" * (sum(widths) + 2 * 5)
        lines = [sep]
        for k, r in enumerate(rows):
            lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(r, widths))))
            if k == 0:
                lines.append("-" * len(sep))
        lines += [sep,
                  f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.frozen_params:,}",
                  f"Total mult-adds: {_human(self.total_mult_adds)}",
                  "-" * len(sep),
                  f"Input size (MB): {self.input_bytes / 1e6:.2f}",
                  f"Forward activations size (MB): {self.activation_bytes / 1e6:.2f}",
                  f"Params size (MB): {self.param_bytes / 1e6:.2f}",
                  f"Estimated total size (MB): "
                  f"{(self.input_bytes + self.activation_bytes + self.param_bytes) / 1e6:.2f}",
                  sep]
        return "\n".join(lines)

    __repr__ = __str__


def _human(n):
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f} {unit}"
    return str(int(n))


def _tuple(v, n):
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n


def _first_tensor(x):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (tuple, list)):
        for v in x:
            t = _first_tensor(v)
            if t is not None:
                return t
    if isinstance(x, dict):
        for v in x.values():
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _mult_adds(module, inp, out):
    """Multiply-adds of one call (0 for layers without products)."""
    kind = type(module).__name__
    o = _first_tensor(out)
    if o is None:
        return 0
    n_out = o.numel()
    if kind in ("Linear", "LazyLinear"):
        return n_out * module.in_features
    if kind == "Bilinear":
        return n_out * module.in1_features * module.in2_features
    if kind.startswith("Conv") and hasattr(module, "kernel_size"):
        k = int(np.prod(module.kernel_size))
        if kind.startswith("ConvTranspose"):
            i = _first_tensor(inp)
            return i.numel() * (module.out_channels // module.groups) * k
        return n_out * (module.in_channels // module.groups) * k
    if kind == "LocallyConnected2d":
        return n_out * module.in_channels * int(np.prod(module.kernel_size))
    if kind.startswith("BatchNorm") or kind in ("GroupNorm", "LayerNorm") or \
            kind.startswith("InstanceNorm"):
        return n_out if getattr(module, "affine", True) or \
            getattr(module, "elementwise_affine", False) else 0
    if kind in ("RNN", "LSTM", "GRU"):
        gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind]
        i = _first_tensor(inp)
        steps = i.shape[1 if module.batch_first else 0] * (i.shape[0 if module.batch_first
                                                                    else 1] if i.dim() == 3 else 1)
        h, d = module.hidden_size, 2 if module.bidirectional else 1
        total, in_size = 0, module.input_size
        for _ in range(module.num_layers):
            total += d * gates * h * (in_size + h) * steps
            in_size = h * d
        return total
    return 0


def _rf_step(module, rf_in, jump_in, spatial):
    """(r, j) after a conv/pool layer, per spatial dim; None if the layer is not spatial."""
    kind = type(module).__name__
    if not (kind.startswith(("Conv", "MaxPool", "AvgPool", "LPPool", "LocallyConnected",
                             "AdaptiveAvgPool", "AdaptiveMaxPool"))):
        return None
    n = len(rf_in)
    if kind.startswith("Adaptive"):
        out = _tuple(module.output_size, n)
        k = tuple(math.ceil(s / (o or s)) for s, o in zip(spatial, out))
        s = tuple(max(1, s // (o or s)) for s, o in zip(spatial, out))
        d = (1,) * n
    else:
        k = _tuple(module.kernel_size, n)
        s = _tuple(getattr(module, "stride", None) or k, n)
        d = _tuple(getattr(module, "dilation", 1), n)
        if kind.startswith("ConvTranspose"):       # upsampling: the jump shrinks
            return (tuple(r + (kk - 1) * dd * j / ss for r, kk, dd, j, ss in
                          zip(rf_in, k, d, jump_in, s)),
                    tuple(j / ss for j, ss in zip(jump_in, s)))
    r = tuple(r + (kk - 1) * dd * j for r, kk, dd, j in zip(rf_in, k, d, jump_in))
    j = tuple(j * ss for j, ss in zip(jump_in, s))
    return r, j


class _FieldTracker:
    """The (receptive field, jump) of each module output, by tensor and by graph node."""

    def __init__(self, n_spatial):
        self.by_tensor = {}
        self.by_node = {}
        self.default = ((1,) * n_spatial, (1,) * n_spatial)

    def record(self, t, rj):
        self.by_tensor[id(t)] = (t, rj)      # keep t alive so its id stays unique
        if t.grad_fn is not None:
            self.by_node[id(t.grad_fn)] = rj

    def lookup(self, t):
        """A module output's own field, else the largest among the module outputs it was
        computed from (residual sums, concatenations), found through the autograd graph."""
        if id(t) in self.by_tensor:
            return self.by_tensor[id(t)][1]
        best, seen = None, set()
        stack = [t.grad_fn] if t.grad_fn is not None else []
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if id(n) in self.by_node:
                cand = self.by_node[id(n)]
                if best is None or cand[0] > best[0]:
                    best = cand
                continue
            stack.extend(m for m, _ in n.next_functions if m is not None)
        return best if best is not None else self.default


def summary(model, input_size=None, input_data=None, batch_size=1, dtypes=None, depth=None,
            verbose=1, receptive_field=True):
    """Run one forward pass on zeros of ``(batch_size, *input_size)`` (or on ``input_data``)
    and tabulate every leaf layer. Prints the table when ``verbose`` and returns a
    :class:`ModelSummary`."""
    from .nn.modules.module import Module
    if input_data is None:
        if input_size is None:
            raise ValueError("summary needs input_size (e.g. (3, 32, 32)) or input_data")
        sizes = input_size if isinstance(input_size[0], (tuple, list)) else [input_size]
        if dtypes is None:      # zeros of the model's own dtype (a .double() model gets float64)
            p = next((p for p in model.parameters() if p.is_floating_point()), None)
            dtypes = [p.dtype if p is not None else None] * len(sizes)
        dts = dtypes
        inputs = [_creation.zeros((batch_size,) + tuple(s), dtype=dt) for s, dt in zip(sizes, dts)]
    else:
        inputs = list(input_data) if isinstance(input_data, (tuple, list)) else [input_data]
    names = {id(m): n for n, m in model.named_modules()}
    records = []
    spatial_in = tuple(inputs[0].shape[2:]) if inputs[0].dim() > 2 else ()
    fields = _FieldTracker(len(spatial_in))

    def hook(module, inp, out):
        if any(True for _ in module.children()):
            return
        params = sum(p.numel() for p in module.parameters(recurse=False))
        trainable = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        o = _first_tensor(out)
        i = _first_tensor(inp)
        rf = None
        if receptive_field and i is not None and o is not None and spatial_in:
            r_in, j_in = fields.lookup(i)
            step = _rf_step(module, r_in, j_in, tuple(i.shape[2:])) if i.dim() > 2 else None
            if step is not None:
                r_out, j_out = step
                rf = tuple(int(round(r)) for r in r_out)
            else:
                r_out, j_out = r_in, j_in
            fields.record(o, (r_out, j_out))
        records.append(LayerInfo(names.get(id(module), type(module).__name__) or "model", module,
                                 tuple(o.shape) if o is not None else None, params, trainable,
                                 _mult_adds(module, inp, out), rf))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    was_training = model.training
    model.eval()
    try:
        if receptive_field and spatial_in:
            for x in inputs:
                if x.is_floating_point():
                    x.requires_grad_(True)
            with grad_mode.enable_grad():
                model(*inputs)
        else:
            with grad_mode.no_grad():
                model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if depth is not None:
        records = [r for r in records if r.name.count(".") < depth]
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    macs = sum(r.mult_adds for r in records)
    itemsize = inputs[0].element_size()
    input_bytes = sum(x.numel() * x.element_size() for x in inputs)
    act_bytes = 2 * sum(int(np.prod(r.output_shape)) * itemsize for r in records
                        if r.output_shape is not None)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    s = ModelSummary(model, records, [tuple(x.shape) for x in inputs], total, trainable, macs,
                     input_bytes, act_bytes, param_bytes)
    if verbose:
        print(s)
    return s
