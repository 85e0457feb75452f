"""Graph nodes.

Every differentiable primitive is a subclass of :class:`Node`. A call creates one
node per use (DeZero's idea), which *is* the output's ``grad_fn``:

    class Exp(Node):
        save_output = True                     # backward needs y
        def forward(self, x):                  # x: ndarray
            return np.exp(x)
        def backward(self, gy):                # gy: Tensor
            return gy * self.saved_output      # written with differentiable ops

``Exp.apply(t)`` unwraps tensors to arrays, runs ``forward``, and, when grad mode is
on and some input requires grad, links the node into the graph:
``next_functions`` holds one ``(node, output_nr)`` edge per positional argument
(``(None, 0)`` for constants). ``backward`` receives one gradient Tensor per output
and returns one gradient per positional argument (``None`` where not needed; check
``self.needs_input_grad``). Because backward is written with shendu's own ops,
running it in grad mode (``create_graph=True``) records a graph of the gradient, so
higher derivatives work for every op.

What backward may use:
  * ``self.saved_tensors``: the inputs named by ``save_inputs`` (checked against
    in-place modification, freed after backward unless ``retain_graph``);
  * ``self.saved_output``: the output, rebuilt as a Tensor whose ``grad_fn`` is this
    node, so the gradient of the gradient flows through it (no reference cycle);
  * plain attributes set in ``forward`` (shapes, masks, indices): constants.
"""
import weakref
from collections import OrderedDict

import numpy as np

from . import grad_mode
from .._tensor import Tensor, _make

__all__ = ["Node", "AccumulateGrad", "Function", "FunctionCtx", "once_differentiable", "edge_of"]

_mode = grad_mode._mode
_NO_EDGE = (None, 0)
_trace = [None]     # shendu.onnx's tracer while it records ops (.op(...), .written(...))


def edge_of(t):
    """The graph edge an input contributes: (its grad_fn, output_nr), (its AccumulateGrad, 0)
    for a leaf that requires grad, or (None, 0) for a constant."""
    if isinstance(t, Tensor) and t._requires_grad:
        fn = t.grad_fn
        return (fn, t._output_nr) if fn is not None else (t._grad_accumulator(), 0)
    return _NO_EDGE


class Node:
    """A recorded operation: ``grad_fn`` of the tensors it produced."""
    __slots__ = ("next_functions", "_saved", "_saved_versions", "_saved_out", "_freed",
                 "_needs_grad", "__dict__", "__weakref__")
    save_inputs = ()        # indices of positional args backward needs (True: all)
    save_output = False     # whether backward needs the (single) output
    _pre_hooks = None       # {output_nr: {id: hook(grad) -> grad | None}} (tensor hooks)
    _retain = None          # {output_nr: weakref to a tensor that retains its grad}
    _hooks = None           # {id: hook(grad_inputs, grad_outputs)} (Node.register_hook)
    _prehooks = None        # {id: hook(grad_outputs)} (Node.register_prehook)
    _out_meta = None        # [(shape, dtype)] for nodes with several outputs

    # --------------------------------------------------------------- forward
    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op on ``args`` (Tensors or constants); ``kwargs`` are parameters."""
        raw = []
        requires = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a._data)
                if a._requires_grad:
                    requires = True
            else:
                raw.append(a)
        node = object.__new__(cls)
        requires = node._needs_grad = requires and _mode.enabled
        out = node.forward(*raw, **kwargs)
        if not requires:
            result = tuple(_make(o, None, 0) for o in out) if type(out) is tuple else \
                _make(out, None, 0)
        else:
            result = node._link(args, out)
        if _trace[0] is not None:               # shendu.onnx.export is recording ops
            _trace[0].op(node, args, kwargs, result)
        return result

    def _link(self, args, out):
        self.next_functions = tuple([edge_of(a) for a in args])
        self._freed = False
        si = self.save_inputs
        if si:
            saved = args if si is True else tuple(args[i] for i in si)
            self._saved = saved
            self._saved_versions = tuple(_counter(t)[0] if isinstance(t, Tensor) else None
                                         for t in saved)
        if type(out) is tuple:
            out = tuple(o if type(o) is np.ndarray else np.asarray(o) for o in out)
            self._out_meta = [(o.shape, o.dtype) for o in out]
            return tuple(_make(o, self if o.dtype.kind == "f" else None, i)
                         for i, o in enumerate(out))
        t = _make(out, self, 0)
        if self.save_output:
            vc = _counter(t)
            self._saved_out = (t._data, vc, vc[0])
        return t

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *grads):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # ------------------------------------------------------------- saved state
    @property
    def needs_input_grad(self):
        """Per positional input, whether backward must compute its gradient (torch's
        ``ctx.needs_input_grad``)."""
        nf = self.next_functions
        if len(nf) == 2:                   # the common case, without a generator
            return (nf[0][0] is not None, nf[1][0] is not None)
        return tuple([e[0] is not None for e in nf])

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        saved = self._saved
        for t, v in zip(saved, self._saved_versions):
            if v is not None and t._version_counter()[0] != v:
                raise RuntimeError(_modified_msg(t, self, v))
        return saved

    @property
    def saved_output(self):
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        arr, vc, v = self._saved_out
        if vc[0] != v:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: the output of {self.name()} {arr.shape} is at version {vc[0]}; "
                f"expected version {v} instead. Hint: clone the tensor before modifying it in "
                "place, or make the operation out of place.")
        return _make(arr, self if _mode.enabled else None, 0)

    def _release(self):
        """Drop what backward needed; a later backward through this node raises."""
        d = self.__dict__
        if self.save_inputs or self.save_output or d:
            self._freed = True
            self._saved = self._saved_out = None
            keep = {k: d[k] for k in ("_pre_hooks", "_retain", "_hooks", "_prehooks", "_out_meta")
                    if k in d}
            d.clear()
            d.update(keep)

    # ------------------------------------------------------------------ public
    def name(self):
        return type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` runs after this node's backward; it may
        return replacement grad_inputs."""
        from ..utils.hooks import add_hook
        if self._hooks is None:
            self._hooks = OrderedDict()
        return add_hook(self._hooks, fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` runs before this node's backward; it may return
        replacement grad_outputs."""
        from ..utils.hooks import add_hook
        if self._prehooks is None:
            self._prehooks = OrderedDict()
        return add_hook(self._prehooks, fn)

    @property
    def metadata(self):
        if "_metadata" not in self.__dict__:
            self.__dict__["_metadata"] = {}
        return self.__dict__["_metadata"]


def _counter(t):
    return t._version_counter()


_FREED_MSG = ("Trying to backward through the graph a second time (or directly access saved "
              "tensors after they have already been freed). Saved intermediate values of the graph "
              "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
              "you need to backward through the graph a second time or if you need to access saved "
              "tensors after calling backward.")


def _modified_msg(t, node, expected):
    kind = f"output {t._output_nr} of {t.grad_fn.name()}" if t.grad_fn is not None else "a leaf"
    return ("one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [{t.dtype} {tuple(t.shape)}], which is {kind}, is at version "
            f"{t._version}; expected version {expected} instead (needed by {node.name()}). Hint: "
            "clone the tensor before modifying it in place, or make the operation out of place.")


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()
        self._freed = False

    def _release(self):
        pass


# ---------------------------------------------------------------- the torch-style API
class FunctionCtx:
    """The ``ctx`` of a user-defined :class:`Function`."""

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def set_materialize_grads(self, value):
        self._materialize = bool(value)


class _FunctionNode(Node):
    """The graph node of one call of a user-defined Function; it is also the ``ctx``."""
    save_for_backward = FunctionCtx.save_for_backward
    mark_non_differentiable = FunctionCtx.mark_non_differentiable
    mark_dirty = FunctionCtx.mark_dirty
    set_materialize_grads = FunctionCtx.set_materialize_grads
    _materialize = True
    _non_diff = frozenset()

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        for t, v in zip(self._saved, self._saved_versions):
            if v is not None and t._version_counter()[0] != v:
                raise RuntimeError(_modified_msg(t, self, v))
        return self._saved

    @property
    def needs_input_grad(self):
        return self.needs_input_grad_

    def _link_custom(self, args):
        self.next_functions = tuple([edge_of(a) for a in args])

    def name(self):
        return self._fn_cls.__name__ + "Backward"

    def backward(self, *grads):
        out = self._fn_cls.backward(self, *grads)
        if not isinstance(out, tuple):
            out = (out,)
        n = len(self.next_functions)
        if len(out) > n and all(g is None for g in out[n:]):
            out = out[:n]
        if len(out) != n:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(out)})")
        return out


class _FunctionMeta(type):
    def __init__(cls, name, bases, ns):
        super().__init__(name, bases, ns)
        cls._backward_cls = type(name + "Backward", (_FunctionNode,), {"_fn_cls": cls})


class Function(metaclass=_FunctionMeta):
    """Base for user-defined differentiable operations, exactly like torch's::

        class Exp(shendu.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                y, = ctx.saved_tensors
                return grad * y

        y = Exp.apply(x)

    ``forward`` runs with grad mode off and receives the call's arguments; ``backward``
    receives one gradient per output and returns one per input (None for non-tensors).
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    @classmethod
    def apply(cls, *args, **kwargs):
        node = object.__new__(cls._backward_cls)
        node._freed = False
        node._saved, node._saved_versions = (), ()
        requires = _mode.enabled and any(isinstance(a, Tensor) and a._requires_grad for a in args)
        node.needs_input_grad_ = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with grad_mode.no_grad():
            out = cls.forward(node, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not requires:
            return out
        node._link_custom(args)
        saved = node.__dict__.pop("_to_save", ())
        node._saved = saved
        node._saved_versions = tuple(t._version_counter()[0] if isinstance(t, Tensor) else None
                                     for t in saved)
        dirty = {id(t) for t in node.__dict__.pop("_dirty", ())}
        res = []
        node._out_meta = []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                res.append(o)
                node._out_meta.append(((), None))
                continue
            node._out_meta.append((o.shape, o._data.dtype))
            if id(o) in node._non_diff or o._data.dtype.kind != "f":
                res.append(o)
                continue
            if id(o) in dirty or any(o is a for a in args):
                t = o                      # modified in place (or returned as is): rebase it
                if id(o) not in dirty:
                    t = _make(o._data, None, 0)
                t.grad_fn, t._output_nr, t._requires_grad = node, i, True
                res.append(t)
            else:
                o.grad_fn, o._output_nr, o._requires_grad = node, i, True
                res.append(o)
        return res[0] if single else tuple(res)

    def __init__(self, *args, **kwargs):
        raise RuntimeError("Function objects are not instantiated: call the class's .apply(...)")


def once_differentiable(fn):
    """Decorator for a custom Function's backward that is not itself differentiable:
    it runs under no_grad (so create_graph through it gives no second derivative)."""
    def wrapper(ctx, *grads):
        with grad_mode.no_grad():
            return fn(ctx, *grads)
    wrapper.__name__ = getattr(fn, "__name__", "backward")
    return wrapper
