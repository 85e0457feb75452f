"""A TensorBoard GraphDef of a shendu module: one node per layer call, traced through
forward hooks; the edges come from the autograd graph (a layer's input is traced back
through the functional ops between layers to the layers that produced it)."""
from collections import OrderedDict

__all__ = ["module_graph"]


def module_graph(model, inputs):
    """Run ``model`` on ``inputs`` once (gradients on, in the model's mode) and return a
    ``tensorboardX.proto.graph_pb2.GraphDef``."""
    from tensorboardX.proto.graph_pb2 import GraphDef
    from tensorboardX.proto.node_def_pb2 import NodeDef
    from tensorboardX.proto.attr_value_pb2 import AttrValue
    from tensorboardX.proto.versions_pb2 import VersionDef
    from ..._tensor import Tensor
    from ...autograd import grad_mode
    from ...summary import _first_tensor

    args = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    root = type(model).__name__
    nodes = OrderedDict()                   # node name -> (op, [inputs], attrs)
    by_tensor, by_fn = {}, {}               # id(tensor) / id(grad_fn) -> node name
    keep = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            name = f"input/{i}"
            if a.is_floating_point():       # so that the input shows in the autograd graph
                a = args[i] = a.detach().requires_grad_(True)
                keep.append(a._grad_accumulator())
                by_fn[id(keep[-1])] = name
            nodes[name] = ("IO Node", [], {"shape": str(tuple(a.shape))})
            by_tensor[id(a)] = name

    def sources(t):
        """The node names a tensor came from: itself if a layer made it, otherwise the
        nearest layer outputs up its autograd graph."""
        if id(t) in by_tensor:
            return [by_tensor[id(t)]]
        found, seen = [], set()
        stack = [t.grad_fn] if t.grad_fn is not None else []
        while stack:
            fn = stack.pop()
            if fn is None or id(fn) in seen:
                continue
            seen.add(id(fn))
            if id(fn) in by_fn:
                found.append(by_fn[id(fn)])
                continue
            stack.extend(f for f, _ in fn.next_functions)
        return found or [n for n in nodes if n.startswith("input/")][:1]

    calls = {}
    handles = []
    layers = [(n, m) for n, m in model.named_modules()
              if n and (not m._modules or any(p is not None for p in m._parameters.values()))]

    def make(name, module):
        def hook(mod, a, out):
            k = calls.get(name, 0)
            calls[name] = k + 1
            node = f"{root}/{name.replace('.', '/')}" + (f"_{k}" if k else "")
            ins = []
            for x in a:
                if isinstance(x, Tensor):
                    ins.extend(s for s in sources(x) if s not in ins)
            t = _first_tensor(out)
            attrs = {"module": repr(mod).split("\n")[0][:200]}
            if t is not None:
                attrs["shape"] = str(tuple(t.shape))
                by_tensor[id(t)] = node
                if t.grad_fn is not None:
                    by_fn[id(t.grad_fn)] = node
            nodes[node] = (type(mod).__name__, ins, attrs)
        return hook

    for n, m in layers:
        handles.append(m.register_forward_hook(make(n, m)))
    try:
        with grad_mode.enable_grad():
            out = model(*args)
    finally:
        for h in handles:
            h.remove()
    outs = out if isinstance(out, (tuple, list)) else (out,)
    for i, o in enumerate(outs):
        if isinstance(o, Tensor):
            nodes[f"output/{i}"] = ("IO Node", sources(o), {"shape": str(tuple(o.shape))})
    g = GraphDef(versions=VersionDef(producer=22))
    for name, (op, ins, attrs) in nodes.items():
        g.node.append(NodeDef(name=name, op=op, input=ins,
                              attr={k: AttrValue(s=v.encode()) for k, v in attrs.items()}))
    return g
