"""What the model families share: the registry behind ``list_models``/``get_model``, the
``weights=`` argument, the conv-norm-activation block and torchvision's channel rounding."""
import contextlib
import fnmatch
import functools
import os

from .. import nn

__all__ = ["register_model", "list_models", "get_model", "from_checkpoint", "build_within",
           "Conv2dNormActivation", "make_divisible"]

_MODELS = {}


def register_model(fn):
    """Add a constructor to the zoo under its function name. The models it builds remember
    how (``model.zoo_spec = {"name": ..., "kwargs": {...}}``, when the arguments are plain
    values): training checkpoints store it, so ``from_checkpoint`` can rebuild the model."""
    @functools.wraps(fn)
    def build(**kwargs):
        model = fn(**kwargs)
        spec = {"name": fn.__name__,
                "kwargs": {k: v for k, v in kwargs.items() if k not in ("weights", "progress")}}
        if _plain(spec):
            model.__dict__["zoo_spec"] = spec
        return model
    _MODELS[fn.__name__] = build
    return build


def _plain(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _plain(x) for k, x in v.items())
    return False


def list_models(module=None, include=None, exclude=None):
    """Sorted names of the zoo's constructors; ``include``/``exclude`` are fnmatch patterns
    (or lists of them), as torchvision's ``list_models``; ``module`` (a module or its name)
    limits the list to the constructors defined under it."""
    prefix = getattr(module, "__name__", module)
    names = sorted(n for n, fn in _MODELS.items()
                   if prefix is None or fn.__module__ == prefix
                   or fn.__module__.startswith(prefix + "."))
    if include is not None:
        pats = [include] if isinstance(include, str) else include
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in pats)]
    if exclude is not None:
        pats = [exclude] if isinstance(exclude, str) else exclude
        names = [n for n in names if not any(fnmatch.fnmatch(n, p) for p in pats)]
    return names


# short names for a family's standard member
ALIASES = {"shufflenet_v2": "shufflenet_v2_x1_0"}


def get_model_builder(name):
    key = ALIASES.get(name.lower(), name.lower())
    if key not in _MODELS:
        raise ValueError(f"unknown model {name!r}; the zoo has: {', '.join(sorted(_MODELS))}")
    return _MODELS[key]


def get_model(name, **config):
    """Build a zoo model by name: ``get_model("resnet18", num_classes=10, small_input=True)``."""
    return get_model_builder(name)(**config)


def from_checkpoint(checkpoint):
    """Rebuild a zoo model from a training checkpoint (a path or a loaded dict) and load its
    weights: the checkpoint names the constructor and its arguments (``zoo_spec``). The
    spec may not build a model larger than the tensors the checkpoint holds (see
    :func:`build_within`), so an edited spec cannot make shendu allocate without bound."""
    state = checkpoint
    if isinstance(checkpoint, (str, os.PathLike)):
        from .. import serialization
        state = serialization.load(checkpoint)
    where = checkpoint if isinstance(checkpoint, (str, os.PathLike)) else "the checkpoint"
    spec = state.get("model_spec") if isinstance(state, dict) else None
    if not spec:
        raise ValueError(f"{where} does not say which model it holds (no 'model_spec': it was "
                         f"not written by shendu.train for a zoo model); build the model "
                         f"yourself and call model.load_state_dict(...)")
    if not (isinstance(spec, dict) and isinstance(spec.get("name"), str)
            and isinstance(spec.get("kwargs", {}), dict)):
        raise ValueError(f"{where} has a malformed model_spec {spec!r}: expected "
                         f"{{'name': str, 'kwargs': dict}}")
    model = build_within(state.get("model"), spec["name"], spec.get("kwargs", {}), where)
    model.load_state_dict(state["model"])
    return model


@contextlib.contextmanager
def _at_most(numel, what):
    """Refuse to register parameters or persistent buffers beyond ``numel`` values in all.
    Modules register a parameter before initialising it and ``empty`` hands out untouched
    (lazily mapped) pages, so the refusal comes before the memory is used."""
    from ..nn.modules import module as _module
    used = [0]

    def guard(mod, name, t):
        used[0] += int(t._data.size)
        if used[0] > numel:
            raise ValueError(f"{what} would build a model with more values than the "
                             f"checkpoint holds ({numel:,}; exceeded at {type(mod).__name__}."
                             f"{name} of shape {tuple(t._data.shape)}): its model spec does not "
                             f"match its tensors")
    _module._register_guards.append(guard)
    try:
        yield
    finally:
        _module._register_guards.remove(guard)


def build_within(state_dict, name, kwargs, where="the checkpoint"):
    """``get_model(name, **kwargs)``, refused (ValueError) as soon as the model would hold
    more values than ``state_dict``'s tensors: a checkpoint's spec cannot make shendu
    allocate beyond what the checkpoint itself holds."""
    if not isinstance(state_dict, dict):
        raise ValueError(f"{where} holds no model tensors")
    numel = sum(int(getattr(t, "_data", t).size) for t in state_dict.values())
    spec = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    with _at_most(numel, f"{where}: {spec}"):
        return get_model(name, **kwargs)


def load_weights(model, weights):
    """``weights=None`` keeps the fresh initialisation; a path (a safetensors file written by
    ``shendu.save`` or ``safetensors.torch.save_file``) or a state_dict is loaded strictly.
    shendu downloads nothing: export torchvision's weights to safetensors once with torch."""
    if weights is None:
        return model
    if isinstance(weights, (str, os.PathLike)):
        from .. import serialization
        state = serialization.load(weights)
    elif hasattr(weights, "keys"):
        state = weights
    else:
        raise TypeError(f"weights must be None, a path to a safetensors file or a state_dict, "
                        f"got {type(weights).__name__} (torchvision's weight enums need a "
                        f"download; export them with safetensors.torch.save_file instead)")
    model.load_state_dict(state)
    return model


def make_divisible(v, divisor=8, min_value=None):
    """Round a channel count to a multiple of ``divisor`` without losing more than 10%
    (torchvision's ``_make_divisible``, used by MobileNet's width multiplier)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    """Conv2d → norm → activation, as torchvision.ops.Conv2dNormActivation (keys ``0``,
    ``1``): 'same' padding for odd kernels, no conv bias when a norm follows."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                 groups=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1,
                 inplace=True, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                            dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=inplace) if inplace is not None
                          else activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels


def init_conv_bn_linear(model, conv="kaiming_fan_out", linear_std=None):
    """The initialisation most torchvision models share: He-normal convolutions (fan_out,
    ReLU gain) with zero bias, batch/group norm at weight 1 and bias 0, and, with
    ``linear_std``, linear layers ~ N(0, linear_std) with zero bias."""
    init = nn.init
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if conv == "kaiming_fan_out":
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif conv == "kaiming_fan_in":
                init.kaiming_normal_(m.weight)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            init.ones_(m.weight)
            init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            init.normal_(m.weight, 0, linear_std)
            init.zeros_(m.bias)
