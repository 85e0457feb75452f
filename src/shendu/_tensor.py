"""The Tensor: an ndarray plus what autograd needs.

Slots (the hot ones):
  _data           the NumPy array (always a real ndarray, never a NumPy scalar)
  _grad           the accumulated gradient (a Tensor) or None (``.grad``)
  grad_fn         the Node that produced this tensor, None for leaves
  _output_nr      which output of ``grad_fn`` this is
  _requires_grad  True for leaves that require grad and for every non-leaf in a graph
  _vc             the version counter, a one-element list shared with views (lazy)

Rare attributes (``_base``, ``_view_fn``, hooks, ...) live in ``__dict__`` with
class-level defaults. Operations are attached as methods by ``shendu._ops``.
"""
import warnings
import weakref
from collections import OrderedDict

import numpy as np

from . import _dtype

__all__ = ["Tensor"]


_NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information.")


class Tensor:
    __slots__ = ("_data", "_grad", "grad_fn", "_output_nr", "_requires_grad", "_vc",
                 "__dict__", "__weakref__")
    __array_ufunc__ = None          # ndarray <op> Tensor defers to Tensor's reflected operators
    _base = None                    # for views: the tensor whose storage this one views
    _view_fn = None                 # for views: base -> this view, as a differentiable function
    _is_param = False

    def __init__(self, *args, dtype=None, requires_grad=False):
        """``Tensor(2, 3)`` makes an uninitialised (zero) float tensor of that shape;
        ``Tensor(data)`` copies data into a float tensor, like torch's legacy constructor."""
        nd = _dtype.to_numpy_dtype(dtype) or _dtype.default_float()
        if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            data = np.zeros(tuple(int(a) for a in args), dtype=nd)
        elif len(args) == 1 and isinstance(args[0], tuple) and all(isinstance(a, int) for a in args[0]):
            data = np.zeros(args[0], dtype=nd)
        elif len(args) == 1:
            data = np.array(_to_array_data(args[0]), dtype=nd)
        elif not args:
            data = np.zeros((0,), dtype=nd)
        else:
            raise TypeError(f"Tensor(): expected a shape or one data argument, got {args!r}")
        _init_leaf(self, data)
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ metadata
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return _dtype._BY_NUMPY[self._data.dtype]

    @property
    def device(self):
        return device("cpu")

    @property
    def is_cuda(self):
        return False

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def is_contiguous(self, memory_format=None):
        return self._data.flags.c_contiguous

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_complex(self):
        return False

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        """The gradient accumulated by backward (leaves, and non-leaves after retain_grad)."""
        g = self._grad
        if g is None and self.grad_fn is not None and not self.retains_grad:
            warnings.warn(_NON_LEAF_GRAD, UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value):
        self._grad = value

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                                   "you want to use a computed variable in a subgraph that doesn't "
                                   "require differentiation use var_no_grad = var.detach().")
            return self
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(this one is {self.dtype}; convert it with .float() first)")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def _version(self):
        return 0 if self._vc is None else self._vc[0]

    def _version_counter(self):
        vc = self._vc
        if vc is None:
            vc = self._vc = [0]
        return vc

    def _bump_version(self):
        self._version_counter()[0] += 1

    @property
    def data(self):
        """A tensor sharing this one's storage, outside the graph, with its own version
        counter (changes through it are not seen by autograd, as in torch)."""
        return _make(self._data, None, 0)

    @data.setter
    def data(self, value):
        arr = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._data = arr

    @property
    def T(self):
        return self.permute(*range(self._data.ndim - 1, -1, -1))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    @property
    def H(self):
        return self.T

    @property
    def mH(self):
        return self.mT

    # ------------------------------------------------------------ conversion
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to "
                               "Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def detach(self):
        """A new leaf sharing storage (and version counter) with this tensor."""
        t = _make(self._data, None, 0)
        t._vc = self._version_counter()
        return t

    def detach_(self):
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._output_nr = 0
        self._requires_grad = False
        return self

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        raise RuntimeError("shendu runs on the CPU (NumPy); there is no CUDA device. Drop .cuda() "
                           "or use .to('cpu').")

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; 'cpu' only."""
        dtype = kwargs.pop("dtype", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        dev = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (_dtype.dtype, type)) or (isinstance(a, np.dtype)):
                dtype = a
            elif isinstance(a, (str, device)):
                dev = a
            elif a is not None:
                raise TypeError(f"to() received an invalid argument {a!r}")
        if dev is not None:
            _check_device(dev)
        if dtype is None or _dtype.to_numpy_dtype(dtype) == self._data.dtype:
            return self.clone() if copy else self
        return self._cast(_dtype.to_numpy_dtype(dtype))

    def type(self, dtype=None):
        if dtype is None:
            return {"float32": "shendu.FloatTensor", "float64": "shendu.DoubleTensor",
                    "int64": "shendu.LongTensor", "bool": "shendu.BoolTensor"}.get(
                        self.dtype.name, f"shendu.{self.dtype.name}Tensor")
        return self.to(dtype)

    def float(self):
        return self.to(_dtype.float32)

    def double(self):
        return self.to(_dtype.float64)

    def half(self):
        return self.to(_dtype.float16)

    def long(self):
        return self.to(_dtype.int64)

    def int(self):
        return self.to(_dtype.int32)

    def short(self):
        return self.to(_dtype.int16)

    def bool(self):
        return self.to(_dtype.bool)

    def byte(self):
        return self.to(_dtype.uint8)

    def char(self):
        return self.to(_dtype.int8)

    def type_as(self, other):
        return self.to(other.dtype)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        from ._creation import tensor
        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        from ._creation import zeros
        return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        from ._creation import ones
        return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False):
        from ._creation import full
        return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False):
        from ._creation import empty
        return empty(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    # ------------------------------------------------------------ Python protocol
    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is "
                               "ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    __hash__ = object.__hash__

    def __repr__(self):
        from ._printing import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol):
        # used by copy.deepcopy and by DataLoader workers (pickle between processes only)
        return (_rebuild, (self._data, self._requires_grad, self._is_param, type(self)))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.")
        if id(self) in memo:
            return memo[id(self)]
        new = _rebuild(self._data.copy(), self._requires_grad, self._is_param, type(self))
        if self.grad is not None:
            new.grad = _make(self.grad._data.copy(), None, 0)
        for k, v in self.__dict__.items():
            if not k.startswith("_"):
                import copy
                new.__dict__[k] = copy.deepcopy(v, memo)
        memo[id(self)] = new
        return new

    # ------------------------------------------------------------ autograd entry points
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor w.r.t. graph leaves (accumulated in ``.grad``)."""
        from .autograd import backward
        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """``hook(grad) -> Tensor | None`` runs when this tensor's gradient is computed."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .utils.hooks import add_hook
        if self.grad_fn is None:
            return add_hook(self.__dict__.setdefault("_hooks", OrderedDict()), hook)
        node = self.grad_fn
        if node._pre_hooks is None:
            node._pre_hooks = {}
        return add_hook(node._pre_hooks.setdefault(self._output_nr, OrderedDict()), hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after the gradient has been accumulated into a leaf's ``.grad``."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        from .utils.hooks import add_hook
        return add_hook(self.__dict__.setdefault("_post_acc_hooks", OrderedDict()), hook)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None:
            return
        node = self.grad_fn
        if node._retain is None:
            node._retain = {}
        node._retain[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self):
        node = self.grad_fn
        return node is not None and node._retain is not None and self._output_nr in node._retain

    def _grad_accumulator(self):
        ref = self.__dict__.get("_accum")
        acc = ref() if ref is not None else None
        if acc is None:
            from .autograd.function import AccumulateGrad     # (autograd imports this module)
            acc = AccumulateGrad(self)
            self.__dict__["_accum"] = weakref.ref(acc)
        return acc

    def _cast(self, nd):
        from ._ops.elementwise import cast
        return cast(self, nd)


def _init_leaf(t, arr):
    """Fill the slots of a new leaf tensor holding ``arr`` (constructors of subclasses)."""
    t._data = arr
    t._grad = None
    t.grad_fn = None
    t._output_nr = 0
    t._requires_grad = False
    t._vc = None


def _make(arr, node, nr):
    """Wrap an array as a Tensor produced by ``node`` (None: a constant leaf)."""
    if type(arr) is not np.ndarray:
        arr = np.asarray(arr)
    t = Tensor.__new__(Tensor)
    t._data = arr
    t._grad = None
    t.grad_fn = node
    t._output_nr = nr
    t._requires_grad = node is not None
    t._vc = None
    return t


def _rebuild(data, requires_grad, is_param, cls):
    if is_param:
        return cls(_make(data, None, 0), requires_grad=requires_grad)
    t = _make(data, None, 0)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _to_array_data(x):
    """Nested lists/tuples that may contain Tensors -> something np.array understands."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)):
        return [_to_array_data(v) for v in x]
    return x


def _wrap_dim(dim, ndim):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n if ndim else 0


class Size(tuple):
    """torch.Size: a tuple of ints that prints as ``shendu.Size([2, 3])``."""

    def __repr__(self):
        return f"shendu.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))


class device:
    """A device handle; shendu has only ``device('cpu')``."""
    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        _check_device(type)
        self.type, self.index = "cpu", None

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"

    def __eq__(self, other):
        if isinstance(other, str):
            return other.split(":")[0] == "cpu"
        return isinstance(other, device)

    def __hash__(self):
        return hash("cpu")


def _check_device(dev):
    name = dev.type if isinstance(dev, device) else str(dev)
    if name.split(":")[0] != "cpu":
        raise RuntimeError(f"shendu runs on the CPU only; device {name!r} is not available")
