"""The backward engine.

1. From the root nodes, walk ``next_functions`` once and count, for every node, how
   many edges point at it (its dependencies).
2. Start from the roots with their seed gradients. A node runs when every edge into
   it has delivered (dependency count 0): its output gradients are summed in a
   buffer, its tensor hooks run, then ``node.backward`` returns one gradient per
   input edge, which is added to the buffer of the node at the other end.
3. Leaves end in ``AccumulateGrad`` nodes that add into ``tensor.grad``.

Iterative throughout: a chain of any length runs without touching the recursion
limit. Unless ``retain_graph``, each node drops its saved arrays right after its
backward. With ``create_graph`` the backward itself runs in grad mode and so records
the graph of the gradient.
"""
import sys

import numpy as np

from . import grad_mode
from .function import AccumulateGrad, _FREED_MSG
from .._tensor import Tensor, _make
from ..backend import elementwise as _elementwise

_mode = grad_mode._mode


def _root_edge(t):
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    return t._grad_accumulator(), 0


def _seed_grads(tensors, grad_tensors, what="tensors"):
    seeds = []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}[{i}] must be a Tensor, got {type(t).__name__}")
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               "grad_fn (call .requires_grad_() on a leaf, or compute it from one "
                               "outside no_grad)")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs: pass "
                                   f"gradient= (a tensor of shape {tuple(t.shape)}) to backward()")
            g = _make(np.ones_like(t._data), None, 0)
        elif not isinstance(g, Tensor):
            g = _make(np.asarray(g, dtype=t._data.dtype), None, 0)
        if g.shape != t.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{tuple(g.shape)} and output[{i}] has a shape of {tuple(t.shape)}.")
        seeds.append(g)
    return seeds


def _count_dependencies(roots):
    deps = {}
    stack = list({id(n): n for n in roots}.values())
    seen = set(stack)
    while stack:
        n = stack.pop()
        for m, _ in n.next_functions:
            if m is None:
                continue
            deps[m] = deps.get(m, 0) + 1
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return deps, seen


def _needed_nodes(roots, deps, targets):
    """Nodes from which some target is reachable: only those need to run."""
    order = []                        # Kahn's order: every node after all its parents
    remaining = dict(deps)
    ready = [n for n in {id(r): r for r in roots}.values() if remaining.get(n, 0) == 0]
    while ready:
        n = ready.pop()
        order.append(n)
        for m, _ in n.next_functions:
            if m is None:
                continue
            remaining[m] -= 1
            if remaining[m] == 0:
                ready.append(m)
    needed = set()
    for n in reversed(order):
        if n in targets or any(m in needed for m, _ in n.next_functions if m is not None):
            needed.add(n)
    return needed


def run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=None, capture=False):
    """Backpropagate from ``tensors``.

    Without ``inputs``: accumulate into every reachable leaf's ``.grad``.
    With ``inputs`` and ``capture=False`` (``backward(inputs=...)``): accumulate into
    those tensors' ``.grad`` only. With ``capture=True`` (``autograd.grad``): return
    the gradient of each input (None if unreachable) and touch no ``.grad``.
    """
    seeds = _seed_grads(tensors, grad_tensors)
    roots = [_root_edge(t) for t in tensors]
    root_nodes = [n for n, _ in roots]
    deps, _ = _count_dependencies(root_nodes)

    targets = None
    captured = None
    if inputs is not None:
        targets = {}
        for k, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"inputs[{k}] must be a Tensor, got {type(t).__name__}")
            if not t._requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors (inputs[{k}]) does not "
                                   "require grad")
            node, nr = _root_edge(t)
            targets.setdefault(node, []).append((nr, k, t))
        captured = [None] * len(inputs) if capture else None
        needed = _needed_nodes(root_nodes, deps, targets)
    else:
        needed = None

    buffers = {}
    for (n, nr), g in zip(roots, seeds):
        buf = buffers.get(n)
        if buf is None:
            buf = buffers[n] = [None] * _n_outputs(n)
        buf[nr] = g if buf[nr] is None else _add(buf[nr], g, create_graph)

    stolen = {id(g._data) for g, t in zip(seeds, grad_tensors) if t is not None}
    prev_mode = _mode.enabled
    ready = [n for n in {id(r): r for r in root_nodes}.values() if deps.get(n, 0) == 0]
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node, None)
            gxs = ()
            if grads is not None and (needed is None or node in needed):
                gxs = _run_node(node, grads, targets, captured, needed, retain_graph,
                                create_graph, stolen, prev_mode)
            for i, (m, nr) in enumerate(node.next_functions):
                if m is None:
                    continue
                g = gxs[i] if i < len(gxs) else None
                if g is not None:
                    buf = buffers.get(m)
                    if buf is None:
                        buf = buffers[m] = [None] * _n_outputs(m)
                    buf[nr] = g if buf[nr] is None else _add(buf[nr], g, create_graph)
                d = deps[m] - 1
                deps[m] = d
                if d == 0:
                    ready.append(m)
    finally:
        _mode.enabled = prev_mode
    return captured


def _run_node(node, grads, targets, captured, needed, retain_graph, create_graph, stolen, mode):
    """Hooks, capture and backward of one node; returns the gradients for its inputs."""
    if node._pre_hooks is not None:
        _run_tensor_hooks(node, grads)
    if node._retain is not None:
        _retain_grads(node, grads, create_graph)
    sink = type(node) is AccumulateGrad
    if targets is not None:
        for nr, k, t in targets.get(node, ()):
            g = grads[nr]
            if captured is not None:            # autograd.grad
                captured[k] = g
            elif g is not None:                 # backward(inputs=...)
                if sink:
                    _accumulate_leaf(t, g, create_graph, stolen)
                else:
                    _accumulate_into(t, g, create_graph, stolen)
        if not sink and not any(m in needed for m, _ in node.next_functions if m is not None):
            return ()                           # nothing we want lies beyond this node
    if sink:
        if targets is None:
            _accumulate_leaf(node.variable, grads[0], create_graph, stolen)
        return ()
    if node._freed:
        raise RuntimeError(_FREED_MSG)
    if node._prehooks:
        for h in list(node._prehooks.values()):
            r = h(tuple(grads))
            if r is not None:
                grads = list(r)
    if node._out_meta is not None:
        grads = [g if g is not None else _zeros(m) for g, m in zip(grads, node._out_meta)]
    _mode.enabled = create_graph
    try:
        gxs = node.backward(*grads)
    finally:
        _mode.enabled = mode
    if type(gxs) is not tuple:
        gxs = (gxs,)
    if node._hooks:
        for h in list(node._hooks.values()):
            r = h(gxs, tuple(grads))
            if r is not None:
                gxs = tuple(r)
    if not retain_graph:
        node._release()
    return gxs


def _n_outputs(node):
    meta = node._out_meta
    return 1 if meta is None else len(meta)


def _zeros(meta):
    shape, dtype = meta
    return _make(np.zeros(shape, dtype=dtype), None, 0)


def _add(a, b, create_graph):
    """The sum of two gradients reaching one output (large ones split over the threads)."""
    if create_graph:
        return a + b
    return _make(_elementwise.ufunc(np.add, a._data, b._data), None, 0)


def _run_tensor_hooks(node, grads):
    for nr, hooks in node._pre_hooks.items():
        for h in list(hooks.values()):
            if grads[nr] is None:
                break
            r = h(grads[nr])
            if r is not None:
                grads[nr] = r


def _retain_grads(node, grads, create_graph):
    for nr, ref in node._retain.items():
        t = ref()
        g = grads[nr]
        if t is None or g is None:
            continue
        if t._grad is None:
            t.grad = g if create_graph else _make(g._data.copy(), None, 0)
        else:
            t.grad = t.grad + g if create_graph else _make(t.grad._data + g._data, None, 0)


def _accumulate_leaf(var, g, create_graph, stolen):
    hooks = var.__dict__.get("_hooks")
    if hooks:
        for h in list(hooks.values()):
            r = h(g)
            if r is not None:
                g = r
    _accumulate_into(var, g, create_graph, stolen, hooked=bool(hooks))
    post = var.__dict__.get("_post_acc_hooks")
    if post:
        for h in list(post.values()):
            h(var)


def _accumulate_into(var, g, create_graph, stolen, hooked=False):
    """var.grad += g, the way torch does it: the first gradient becomes ``.grad`` (stealing
    the array when nothing else can see it), later ones are added in place."""
    if g.shape != var.shape:
        raise RuntimeError(f"the gradient for a tensor of shape {tuple(var.shape)} has shape "
                           f"{tuple(g.shape)} (a backward function returned a wrong shape)")
    if g._data.dtype != var._data.dtype:
        g = _make(g._data.astype(var._data.dtype), None, 0)
    cur = var._grad
    if cur is None:
        if create_graph:
            var.grad = g
        else:
            arr = g._data
            if hooked or not _can_steal(arr, stolen):
                arr = arr.copy()
            stolen.add(id(arr))
            var.grad = _make(arr, None, 0)
    elif create_graph or cur._requires_grad:
        var.grad = cur + g
    else:
        np.add(cur._data, g._data, out=cur._data)
        cur._version_counter()[0] += 1


_getrefcount = sys.getrefcount


def _can_steal(arr, stolen):
    """True when ``arr`` is a fresh, owned, writeable array that only one Tensor holds
    (torch steals the incoming gradient under the same condition)."""
    if arr.base is not None or not arr.flags.writeable or id(arr) in stolen:
        return False
    return _getrefcount(arr) <= _BASE_REFS


def _probe(arr, stolen):
    return _getrefcount(arr)      # the same frame shape as _can_steal


def _calibrate():
    t = _make(np.zeros(2), None, 0)
    arr = t._data                 # as in _accumulate_into: the slot plus one local
    return _probe(arr, None)


_BASE_REFS = _calibrate()
