"""``Optimizer``: the base of every optimizer, with torch.optim.Optimizer's interface.

An optimizer holds ``param_groups`` (a list of dicts: ``'params'`` plus that group's
hyper-parameters, the defaults filled in) and ``state`` (per-parameter buffers keyed by
the parameter). ``step()`` walks the groups and, for every parameter whose ``.grad`` is
not None, calls the subclass's two hooks on raw NumPy arrays:

    _init_state(state, p, group)      # first step: allocate the buffers (Tensors in ``state``)
    _update(p, g, state, group)       # the update rule, in place on p (= param._data)

Updates write into the parameter array with ``out=`` and take their temporaries from
``_scratch`` (one buffer per slot and dtype, as large as the largest parameter, shared by
all parameters), so after the first step a step allocates no arrays. The gradient the rule
sees comes from ``_grad`` (maximize, coupled weight decay) and the decoupled decay from
``_decay``: the plumbing every optimizer shares lives here once.

``state_dict()`` has torch's layout - ``{'state': {index: {...}}, 'param_groups':
[{..., 'params': [indices]}]}`` - so a run resumed from it continues bit for bit, and a
torch optimizer's state dict (tensors converted by ``np.asarray``) loads as well.
"""
import functools
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from ..backend import threads as _threads
from .._tensor import Tensor, _make
from ..autograd.grad_mode import enable_grad, no_grad
from ..utils.hooks import add_hook

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks a hyper-parameter every param group must give (``lr`` in old torch code)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks = OrderedDict()
_global_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs)`` runs before the step of every optimizer."""
    return add_hook(_global_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` runs after the step of every optimizer."""
    return add_hook(_global_post_hooks, hook)


def _with_hooks(step):
    """Wrap a ``step``: pre hooks, the step itself with grad mode off, post hooks."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_stepping"):          # a subclass's step calling super().step()
            return step(self, *args, **kwargs)
        self._stepping = True
        try:
            return _hooked_call(step, self, args, kwargs)
        finally:
            self._stepping = False
    wrapper._hooked = True
    return wrapper


def _hooked_call(step, self, args, kwargs):
    for hook in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
        result = hook(self, args, kwargs)
        if result is not None:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(f"a step pre-hook must return None or a tuple "
                                   f"(new_args, new_kwargs), but returned {result!r}")
            args, kwargs = result
    self._opt_called = True
    with no_grad():
        out = step(self, *args, **kwargs)
    for hook in chain(self._optimizer_step_post_hooks.values(), _global_post_hooks.values()):
        hook(self, args, kwargs)
    return out


# ---------------------------------------------------------------- argument checks
_LABELS = {"lr": "learning rate", "eps": "epsilon value"}


def _check_nonnegative(**values):
    """Raise torch's ValueError ("Invalid learning rate: -0.1") for a negative (or NaN) value."""
    for name, v in values.items():
        if not 0.0 <= v:
            raise ValueError(f"Invalid {_LABELS.get(name, name + ' value')}: {v}")


def _check_betas(betas):
    for i, b in enumerate(betas):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")
    return tuple(betas)


def _check_accumulator(value):
    if not value > 0:
        raise ValueError(f"Invalid initial_accumulator_value value: {value} (must be > 0: it "
                         "is divided by)")


def _check_differentiable(differentiable):
    if differentiable:
        raise NotImplementedError("differentiable=True is not supported: shendu's optimizers "
                                  "update the parameter arrays in place, outside the graph")


# ---------------------------------------------------------------- state helpers
def _zeros_like(p):
    return _make(np.zeros_like(p), None, 0)


def _full_like(p, value):
    return _make(np.full_like(p, value), None, 0)


def _scalar_state(value=0.0):
    """A 0-d float32 tensor, as torch keeps ``step`` (and NAdam's ``mu_product``...)."""
    return _make(np.array(value, dtype=np.float32), None, 0)


CHUNK_BYTES = 1 << 19     # per operand: an update's few operands fit the 2 MB L2 together


def _in_chunks(fn, *arrays):
    """fn(*parts) over matching flat slices of CHUNK_BYTES of the same-shaped ``arrays``,
    so that an update's chain of NumPy ops finds each slice still in cache: one trip
    through memory per operand instead of one per op. One call on the whole arrays when
    they are small or not all C-contiguous."""
    n = arrays[0].size
    step = CHUNK_BYTES // arrays[0].itemsize
    if n <= step or not all(a.flags.c_contiguous for a in arrays):
        fn(*arrays)
        return
    flats = [a.reshape(-1) for a in arrays]
    for s in range(0, n, step):
        fn(*[f[s:s + step] for f in flats])


def _next_step(state):
    """Increment ``state['step']`` (float32, as torch) and return it as a Python float."""
    s = state["step"]._data
    s += 1
    return float(s)


def _lerp_(start, end, weight, tmp):
    """start <- lerp(start, end, weight) in place, with torch's two formulas (exact at
    both ends): start + w (end - start) for |w| < 0.5, else end - (end - start)(1 - w)."""
    np.subtract(end, start, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        start += tmp
    else:
        tmp *= 1 - weight
        np.subtract(end, tmp, out=start)


def _square_avg_(avg, g, decay, tmp):
    """avg <- decay avg + (1 - decay) g² in place (torch's order: mul_, then addcmul_)."""
    avg *= decay
    np.multiply(g, 1 - decay, out=tmp)
    tmp *= g
    avg += tmp


def _shrink(v, threshold, out, tmp):
    """out <- sign(v) max(|v| - threshold, 0): the proximal map of threshold * |.|_1 (soft
    thresholding). Coordinates inside the threshold become exact (+0.0) zeros. ``out`` may be
    ``v``; ``threshold`` a scalar or an array; ``tmp`` a scratch array distinct from both."""
    np.abs(v, out=tmp)
    tmp -= threshold
    np.maximum(tmp, 0, out=tmp)
    np.copysign(tmp, v, out=out)
    out += 0.0                      # -0.0 -> +0.0


class Optimizer:
    """Base class of all optimizers (as ``torch.optim.Optimizer``).

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (param
            groups, each with ``'params'`` and any hyper-parameters that override ``defaults``).
        defaults: the hyper-parameters' default values.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._work = {}
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {params.type()}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _with_hooks(step)

    # ------------------------------------------------------------ pickling / printing
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, OrderedDict())
        self.__dict__.setdefault("_work", {})
        self.defaults.setdefault("differentiable", False)

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # ------------------------------------------------------------ param groups
    def add_param_group(self, param_group):
        """Add a group (a dict with ``'params'``) whose missing hyper-parameters take the
        optimizer's defaults - e.g. to unfreeze layers while fine-tuning."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__module__}.{type(p).__name__}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters "
                             "(a parameter given twice would be updated twice per step)")
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients: ``.grad = None`` (default) or fill the existing ones with 0."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g._data[...] = 0
                    g._bump_version()

    # ------------------------------------------------------------ the step
    def step(self, closure=None):
        """One update of every parameter that has a gradient. ``closure`` (optional)
        re-evaluates the model and returns the loss; it runs with grad mode on."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        work = []
        for group in self.param_groups:
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue
                p, g = param._data, grad._data
                if g.shape != p.shape or g.dtype != p.dtype:
                    raise RuntimeError(f"the gradient ({g.dtype}, shape {g.shape}) does not "
                                       f"match its parameter ({p.dtype}, shape {p.shape})")
                state = self.state[param]
                if not state:
                    self._init_state(state, p, group)
                work.append((p, g, state, group))
        _run_updates(self._update, work)
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    param._bump_version()
        return loss

    def _init_state(self, state, p, group):
        """Fill ``state`` (empty) with this parameter's buffers; ``p`` is its array."""

    def _update(self, p, g, state, group):
        """Apply the update rule to the array ``p`` in place, given the gradient array ``g``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update() or step()")

    # ------------------------------------------------------------ shared update plumbing
    def _scratch(self, slot, like, dtype=None):
        """A scratch array shaped like ``like`` (of ``like``'s dtype unless given) from
        buffer ``slot``: allocated once, as large as the largest parameter, reused."""
        dtype = like.dtype if dtype is None else np.dtype(dtype)
        key = (slot, dtype, _threads.current_slot())
        buf = self._work.get(key)
        if buf is None or buf.size < like.size:
            n = max(p._data.size for g in self.param_groups for p in g["params"])
            buf = self._work[key] = np.empty(max(n, like.size), dtype)
        return buf[:like.size].reshape(like.shape)

    def _grad(self, p, g, group):
        """The gradient the update rule sees, in torch's order: ``-g`` when maximizing,
        then ``+ weight_decay * p`` (coupled L2; not when the decay is decoupled). ``g``
        itself when neither applies (never written to), else scratch slot 0."""
        maximize = group.get("maximize", False)
        wd = 0 if group.get("decoupled_weight_decay") else group.get("weight_decay", 0)
        if not wd:
            return np.negative(g, out=self._scratch(0, g)) if maximize else g
        out = np.multiply(p, wd, out=self._scratch(0, g))
        return np.subtract(out, g, out=out) if maximize else np.add(out, g, out=out)

    @staticmethod
    def _decay(p, group):
        """Decoupled weight decay (AdamW): p <- p (1 - lr weight_decay)."""
        wd = group.get("weight_decay", 0)
        if wd and group.get("decoupled_weight_decay"):
            p *= 1 - group["lr"] * wd

    # ------------------------------------------------------------ hooks
    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None | (new_args, new_kwargs)`` runs before
        each ``step``."""
        return add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` runs after each ``step`` (e.g. a max-norm
        constraint: :func:`shendu.optim.max_norm_hook`)."""
        return add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` runs before ``state_dict()``."""
        return add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict) -> None | new state_dict`` runs after ``state_dict()``."""
        return add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict) -> None | new state_dict`` runs before loading."""
        return add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` runs after ``load_state_dict``."""
        return add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------ state dict
    def state_dict(self):
        """``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [index]}]}``
        (torch's layout; parameters are numbered in group order). The state tensors are the
        live buffers, as in torch: deep-copy or save the dict to keep a snapshot."""
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): dict(v)
                 for k, v in self.state.items() if v}
        sd = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, sd)
            if result is not None:
                sd = result
        return sd

    def load_state_dict(self, state_dict):
        """Load a ``state_dict()`` (of this optimizer's kind and group layout). Buffers are
        copied and cast to their parameter's dtype; scalar state keeps its own dtype."""
        state_dict = dict(state_dict)
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, sg in zip(groups, saved_groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = {name: _load_value(p, name, value) for name, value in v.items()}
            else:
                state[k] = v
        new_groups = []
        for g, sg in zip(groups, saved_groups):
            sg["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                sg["param_names"] = g["param_names"]
            new_groups.append(sg)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


def _load_value(param, name, value):
    """A copy of a saved state value: arrays (shendu or torch tensors, ndarrays) become
    Tensors of the parameter's dtype; other values pass through. Scalar state (``step``,
    NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``: float32 0-d tensors) keeps its dtype,
    so a resumed run continues bit for bit (torch casts all but ``step``, which changes
    NAdam's arithmetic after a reload)."""
    if isinstance(value, Tensor):
        arr = value._data
    elif isinstance(value, np.ndarray) or (hasattr(value, "__array__") and
                                           not isinstance(value, (int, float, bool))):
        arr = np.asarray(value)
    else:
        return deepcopy(value)
    if name == "step" or arr.ndim == 0 or arr.dtype.kind != "f":
        return _make(np.array(arr), None, 0)
    return _make(np.array(arr, dtype=param._data.dtype), None, 0)


Optimizer.step = _with_hooks(Optimizer.step)


# ---------------------------------------------------------------------- threaded updates
# Update rules are elementwise, so different parameters can be updated at once: NumPy
# releases the GIL inside its ufunc loops. The parameters are dealt into one bucket per
# thread (shendu.set_num_threads) and each bucket has its own scratch buffers (keyed by
# ``threads.current_slot()``).
PARALLEL_UPDATE_MIN = 1 << 20      # elements per step below which the hand-offs cost more
                                   # than the threads save


def _run_updates(update, work):
    """update(p, g, state, group) for every item of ``work``, on several threads when the
    step is large enough to pay for them."""
    _threads.run_buckets(work, lambda w: w[0].size, lambda w: update(*w), PARALLEL_UPDATE_MIN)
