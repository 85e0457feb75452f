"""Fused gradients as nodes of their own.

Some backwards are one pass over arrays (a closed form, a BPTT loop) rather than a
composition of shendu ops: fast, but not a graph. ``fused_grads`` makes such a backward a
node, ``FusedGrad``, in the spirit of Chainer's ``TanhGrad``: its forward runs the array
routine, always (so ``create_graph=True`` takes the same fast path and no backward asks
whether grad mode is on), and its own backward differentiates the same gradients written
with shendu ops (``graph``), so every order of derivative is exact.

    def backward(self, gy):                         # in an op with inputs (x, w)
        x, w = self.saved_tensors
        return fused_grads(self.needs_input_grad, self._grads_arrays,
                           functools.partial(linear_grads_graph, ...), gy, x, w)

``fast(*arrays)`` and ``graph(*tensors)`` take the gradient's inputs (here gy, x, w) and
return one gradient per entry of ``need`` (None where not needed); ``graph`` must not use
the op's node (its saved state may be freed before a second backward).
"""
from ..autograd.function import Node
from ..autograd.grad_mode import enable_grad
from .shape import _alias

__all__ = ["fused_grads", "FusedGrad"]


class FusedGrad(Node):
    """The needed gradients of an op, from its array routine (see the module docstring)."""
    save_inputs = True

    def forward(self, *arrays, fast, graph, need):
        self.graph, self.need = graph, need
        return tuple(g for g, n in zip(fast(*arrays), need) if n)

    def backward(self, *ggs):
        from ..autograd import grad
        ins = list(self.saved_tensors)
        need_in = self.needs_input_grad
        wanted = [k for k, n in enumerate(need_in) if n]
        res = [None] * len(ins)
        with enable_grad():                       # the recomputed gradients must be a graph
            for k in wanted:
                ins[k] = _alias(ins[k])           # a distinct tensor per input position
            outs = [g for g, n in zip(self.graph(*ins), self.need) if n]
            pairs = [(o, gg) for o, gg in zip(outs, ggs) if o is not None and o.requires_grad]
            if not pairs:
                return tuple(res)
            gs = grad([o for o, _ in pairs], [ins[k] for k in wanted], [gg for _, gg in pairs],
                      create_graph=True, allow_unused=True)
        for k, g in zip(wanted, gs):
            res[k] = g
        return tuple(res)


def fused_grads(need, fast, graph, *inputs):
    """The gradients ``need`` asks for (None elsewhere), computed by a FusedGrad node from
    ``inputs`` (Tensors or constants)."""
    if not any(need):
        return (None,) * len(need)
    outs = iter(FusedGrad.apply(*inputs, fast=fast, graph=graph, need=tuple(need)))
    return tuple(next(outs) if n else None for n in need)
