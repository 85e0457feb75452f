"""``Module``: the base of every layer and model.

Parameters, buffers and submodules assigned as attributes are registered in insertion
order (``__setattr__``), so ``state_dict()`` keys are dotted paths identical to
PyTorch's for the same architecture. ``__call__`` runs forward pre-hooks, ``forward``
and forward hooks; an error raised anywhere inside is reported with the path of the
layer that raised it (``model.fc1 (Linear 784→256) ...``).
"""
from collections import OrderedDict, namedtuple

import numpy as np

from ..._tensor import Tensor, _make
from ... import _dtype
from ...autograd import grad_mode
from ...utils.hooks import add_hook
from ..parameter import Parameter, Buffer

__all__ = ["Module", "LayerInputError"]

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _IncompatibleKeys(_IncompatibleKeys):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class LayerInputError(RuntimeError):
    """A layer got an input it cannot take; the message is completed with the layer's path."""


_call_depth = [0]
# Called as ``guard(module, name, tensor)`` before a parameter or persistent buffer is
# registered (models.build_within: a checkpoint's spec may not build more than it holds).
_register_guards = []
_ANNOTATED = (RuntimeError, ValueError, TypeError, IndexError)


class Module:
    """Base class for all neural-network modules (as torch.nn.Module)."""
    training: bool
    _version = 1
    call_super_init = False

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_backward_hooks"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        _call_depth[0] += 1
        try:
            return self._call_impl(*args, **kwargs)
        except _ANNOTATED as e:
            _record(e, self)
            if _call_depth[0] == 1:
                _rewrite_message(e, self)
            raise
        finally:
            _call_depth[0] -= 1

    def _call_impl(self, *args, **kwargs):
        pre = self._forward_pre_hooks
        if pre:
            for hid, hook in list(pre.items()):
                if hid in self._forward_pre_hooks_with_kwargs:
                    r = hook(self, args, kwargs)
                    if r is not None:
                        args, kwargs = r
                else:
                    r = hook(self, args)
                    if r is not None:
                        args = r if isinstance(r, tuple) else (r,)
        if self._backward_hooks:
            args = _BackwardHook.wrap_inputs(self, args)
        out = self.forward(*args, **kwargs)
        post = self._forward_hooks
        if post:
            for hid, hook in list(post.items()):
                if hid in self._forward_hooks_with_kwargs:
                    r = hook(self, args, kwargs, out)
                else:
                    r = hook(self, args, out)
                if r is not None:
                    out = r
        if self._backward_hooks:
            out = _BackwardHook.wrap_outputs(self, out)
        return out

    def _describe(self):
        """Short description used in error messages (``Linear 784→256``)."""
        return type(self).__name__

    # ------------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args) -> None | new args`` (with_kwargs: ``hook(module, args,
        kwargs) -> None | (args, kwargs)``) runs before forward."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend,
                              self._forward_pre_hooks_with_kwargs if with_kwargs else None)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output) -> None | new output`` runs after forward."""
        return self._add_hook(self._forward_hooks, hook, prepend,
                              self._forward_hooks_with_kwargs if with_kwargs else None)

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output) -> None | new grad_input`` runs when the
        gradients w.r.t. the module's inputs have been computed."""
        return self._add_hook(self._backward_hooks, hook, prepend, None)

    register_backward_hook = register_full_backward_hook

    def _add_hook(self, table, hook, prepend, kw_set):
        handle = add_hook(table, hook, prepend)
        if kw_set is not None:
            kw_set.add(handle.id)
        return handle

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _remove_from(d, name, self._buffers, self._modules)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(torch.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        if isinstance(value, Module):
            if d.get("_modules") is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            _remove_from(d, name, self._parameters, self._buffers)
            self._modules[name] = value
            return
        mods = d.get("_modules")
        if mods is not None and name in mods:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (torch.nn.Module or None expected)")
            mods[name] = None
            return
        bufs = d.get("_buffers")
        if isinstance(value, Buffer):
            self.register_buffer(name, value, persistent=value.persistent)
            return
        if bufs is not None and name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(torch.Tensor or None expected)")
            bufs[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            t = d.get(table)
            if t is not None and name in t:
                return t[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers) |
                      set(self._modules))

    def register_parameter(self, name, param):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            f"(torch.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly.")
        for guard in _register_guards:
            guard(self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            f"(torch Tensor or None required)")
        if isinstance(tensor, Buffer):
            tensor = _make(tensor._data, None, 0)
        if persistent and tensor is not None:
            for guard in _register_guards:
                guard(self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def get_parameter(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return mod._parameters[name]

    def get_buffer(self, target):
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]

    # ------------------------------------------------------------------ traversal
    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, mod in modules:
            for k, v in get_members(mod):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (mod_prefix + ("." if mod_prefix else "") + k), v

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_children(self):
        memo = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Depth-first, parents before children (iterative: no recursion limit)."""
        if memo is None:
            memo = set()
        stack = [(prefix, self)]
        while stack:
            p, m = stack.pop()
            if remove_duplicate:
                if id(m) in memo:
                    continue
                memo.add(id(m))
            yield p, m
            kids = [(p + ("." if p else "") + n, c) for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(kids))

    # ------------------------------------------------------------------ state
    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer under its dotted name
        (detached tensors sharing storage unless ``keep_vars``)."""
        if args:                      # torch's deprecated positional form
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            r = hook(self, destination, prefix, {})
            if r is not None:
                destination = r
        return destination

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from ``state_dict`` (name -> tensor or array).

        With ``strict`` the keys must match exactly; a shape mismatch is always an error
        naming the key and both shapes. Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        state_dict = OrderedDict(state_dict)      # pre-hooks may rename keys: not the caller's
        missing, unexpected, errors = [], [], []
        own = {}
        for mod_prefix, mod in self.named_modules(remove_duplicate=False):
            for hook in mod._load_state_dict_pre_hooks.values():
                hook(state_dict, mod_prefix + ("." if mod_prefix else ""), {}, strict, missing,
                     unexpected, errors)        # wrapped to torch's signatures at registration
            for name, p in mod._parameters.items():
                if p is not None:
                    own[mod_prefix + ("." if mod_prefix else "") + name] = (mod, name, p)
            for name, b in mod._buffers.items():
                if b is not None and name not in mod._non_persistent_buffers_set:
                    own[mod_prefix + ("." if mod_prefix else "") + name] = (mod, name, b)
        for key, (mod, name, cur) in own.items():
            if key not in state_dict:
                missing.append(key)
                continue
            src = state_dict[key]
            arr = _as_array(src)
            if arr.shape != cur._data.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"shendu.Size({list(arr.shape)}) from checkpoint, the shape in "
                              f"current model is shendu.Size({list(cur._data.shape)}).")
                continue
            with grad_mode.no_grad():
                if assign:
                    if isinstance(cur, Parameter):
                        mod._parameters[name] = Parameter(_make(arr, None, 0), cur.requires_grad)
                    else:
                        mod._buffers[name] = _make(arr, None, 0)
                else:
                    np.copyto(cur._data, arr, casting="unsafe")
                    cur._bump_version()
        unexpected = [k for k in state_dict.keys() if k not in own and not _is_metadata(k)]
        if strict:
            msgs = []
            if missing:
                msgs.append("Missing key(s) in state_dict: " +
                            ", ".join(f'"{k}"' for k in missing) + ". ")
            if unexpected:
                msgs.append("Unexpected key(s) in state_dict: " +
                            ", ".join(f'"{k}"' for k in unexpected) + ". ")
            errors = msgs + errors
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" +
                               "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    def register_state_dict_pre_hook(self, hook):
        return self._add_hook(self._state_dict_hooks, hook, False, None)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module's entries are loaded; it may
        edit ``state_dict`` (torch's public signature)."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """torch's private form: ``hook(state_dict, prefix, ...)``, the module first only
        ``with_module``."""
        fn = (lambda *args: hook(self, *args)) if with_module else hook
        return self._add_hook(self._load_state_dict_pre_hooks, fn, False, None)

    # ------------------------------------------------------------------ modes and conversion
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad = p.grad.detach()
                p.grad._data[...] = 0
                p.grad._bump_version()

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn):
        """Replace every parameter's and buffer's data (and grad) by ``fn(array)``, keeping
        the Parameter objects (so optimizers still hold them)."""
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p._data = fn(p._data)
                    if p.grad is not None:
                        p.grad._data = fn(p.grad._data)
            for k, b in m._buffers.items():
                if b is not None:
                    b._data = fn(b._data)
        return self

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(tensor)``: floating parameters and buffers are
        converted in place (integer buffers keep their type)."""
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (_dtype.dtype, np.dtype)) or a in (float, int, bool):
                dtype = a
            elif a is not None:
                dev = a
        if dev is not None:
            from ..._tensor import _check_device
            _check_device(dev)
        if dtype is not None:
            nd = _dtype.to_numpy_dtype(dtype)
            if nd.kind != "f":
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                                f"desired dtype={dtype}")
            self._apply(lambda a: a.astype(nd) if a.dtype.kind == "f" and a.dtype != nd else a)
        return self

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def half(self):
        return self.to(_dtype.float16)

    def type(self, dst_type):
        return self.to(dst_type)

    def cpu(self):
        return self

    def cuda(self, device=None):
        raise RuntimeError("shendu runs on the CPU (NumPy); there is no CUDA device")

    def share_memory(self):
        return self

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            mod_str = _add_indent(repr(m), 2)
            lines.append(f"({name}): {mod_str}")
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)


def _remove_from(d, name, *tables):
    for t in tables:
        if name in t:
            del t[name]
    d.pop(name, None)


def _check_name(name, what):
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{what} name can\'t contain "."')
    if name == "":
        raise KeyError(f'{what} name can\'t be empty string ""')


def _as_array(x):
    if isinstance(x, Tensor):
        return x._data
    if hasattr(x, "detach") and hasattr(x, "numpy"):       # a torch tensor
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _is_metadata(key):
    return key == "_metadata"


def _add_indent(s, n):
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


# ---------------------------------------------------------------------- error paths
def _record(e, module):
    chain = getattr(e, "_shendu_modules", None)
    if chain is None:
        chain = []
        try:
            e._shendu_modules = chain
        except AttributeError:
            return
    chain.append(module)


def _rewrite_message(e, root):
    """Prefix the message with the failing layer's path: ``model.fc1 (Linear 784→256)``."""
    chain = getattr(e, "_shendu_modules", None)
    if not chain or getattr(e, "_shendu_rewritten", False):
        return
    path = ["model"]
    for parent, child in zip(reversed(chain), list(reversed(chain))[1:]):
        # the child may sit inside containers that were never called (ModuleDict, ModuleList)
        name = next((n for n, m in parent.named_modules(remove_duplicate=False)
                     if m is child and n), None)
        if name is None:
            name = f"<{type(child).__name__}>"
        path.append(name)
    inner = chain[0]
    where = ".".join(path) + f" ({inner._describe()})"
    msg = str(e.args[0]) if e.args else ""
    if isinstance(e, LayerInputError):
        new = f"{where} {msg}"
    else:
        new = f"{where}: {msg}"
    e.args = (new,) + tuple(e.args[1:])
    e._shendu_rewritten = True


# ---------------------------------------------------------------------- backward hooks
class _BackwardHook:
    """Implements register_full_backward_hook: the inputs go through an identity node whose
    backward calls the hook with (grad_input, grad_output)."""

    @staticmethod
    def wrap_inputs(module, args):
        state = {"grad_output": None}
        module.__dict__["_bw_state"] = state
        tensors = [a for a in args if isinstance(a, Tensor) and a._requires_grad]
        if not tensors:
            return args
        wrapped = _Identity.apply(*tensors)
        if isinstance(wrapped, Tensor):
            wrapped = (wrapped,)
        node = wrapped[0].grad_fn
        node.module, node.state = module, state
        it = iter(wrapped)
        return tuple(next(it) if (isinstance(a, Tensor) and a._requires_grad) else a for a in args)

    @staticmethod
    def wrap_outputs(module, out):
        state = module.__dict__.get("_bw_state")
        single = isinstance(out, Tensor)
        outs = (out,) if single else out
        if not isinstance(outs, tuple) or not any(isinstance(o, Tensor) and o._requires_grad
                                                  for o in outs):
            return out

        def capture(g, state=state):
            state["grad_output"] = (g,)
            return None
        for o in outs:
            if isinstance(o, Tensor) and o._requires_grad:
                o.register_hook(capture)
                break
        return out


from ...autograd.function import Function as _Function  # noqa: E402


class _Identity(_Function):
    @staticmethod
    def forward(ctx, *xs):
        return tuple(x.view_as(x) for x in xs) if len(xs) > 1 else xs[0].view_as(xs[0])

    @staticmethod
    def backward(ctx, *grads):
        module = getattr(ctx, "module", None)
        if module is not None:
            go = ctx.state.get("grad_output") or ()
            for hook in module._backward_hooks.values():
                r = hook(module, grads, go)
                if r is not None:
                    grads = tuple(r)
        return grads if len(grads) > 1 else grads[0]
