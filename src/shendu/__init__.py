"""shendu (深度): a deep learning framework written from scratch on NumPy, with PyTorch's API.

    import shendu as torch      # scripts written for PyTorch run with this one line changed
"""
import builtins as _builtins
import math as _math
import warnings as _warnings

# NumPy's floating-point RuntimeWarnings raised inside shendu's ops (log(0), 0/0, exp
# overflow, ...) are not the user's concern: torch returns inf/nan without a word. The filter
# matches warnings issued from shendu's own modules only, so the user's NumPy code still
# warns, and it costs nothing per op (filters are consulted only when a warning is raised;
# an np.errstate around every op would cost microseconds each).
_warnings.filterwarnings(
    "ignore", category=RuntimeWarning, module=r"shendu(\.|$)",
    message=r"(divide by zero|overflow|underflow|invalid value) encountered|Mean of empty slice"
            r"|Degrees of freedom")

from . import backend                       # first: settings that must precede NumPy's BLAS
from ._tensor import Tensor, Size, device          # noqa: E402
from . import _dtype
from ._dtype import (dtype, float16, float32, float64, half, float, double, uint8, int8, int16,
                     int32, int64, short, int, long, bool, get_default_dtype, set_default_dtype,
                     promote_types)
from . import autograd                      # noqa: E402  (links Tensor to the engine)
from .autograd import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled,
                       inference_mode)
from .autograd.grad_mode import is_inference_mode_enabled
from . import _ops
from ._ops.elementwise import *             # noqa: F401,F403
from ._ops.reduction import *               # noqa: F401,F403
from ._ops.shape import *                   # noqa: F401,F403
from ._ops.indexing import *                # noqa: F401,F403
from ._ops.linalg import *                  # noqa: F401,F403
from ._ops.activation import softmax, log_softmax, relu, sigmoid, tanh
from ._ops.misc import *                    # noqa: F401,F403
from ._ops.shape import pad as _pad         # F.pad lives in nn.functional
from ._ops._base import broadcast_shapes
from ._creation import *                    # noqa: F401,F403
from ._creation import range                # noqa: A004
from ._random import (Generator, default_generator, manual_seed, seed, initial_seed,
                      get_rng_state, set_rng_state)
from ._printing import set_printoptions
from . import linalg, special, backends
from .serialization import save, load, load_torch_file
from .summary import summary
from .backend import set_num_threads, get_num_threads

__version__ = "0.1.0"

pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan
newaxis = None


def result_type(tensor1, tensor2):
    """torch.result_type: the dtype an op on these two operands produces."""
    return _dtype._BY_NUMPY[_dtype.result_type(tensor1, tensor2)]


def can_cast(from_, to):
    f, t = _dtype.to_numpy_dtype(from_), _dtype.to_numpy_dtype(to)
    order = {"b": 0, "u": 1, "i": 1, "f": 2}
    return order[f.kind] <= order[t.kind]


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return _builtins.bool(input.item())


def _lazy(name):
    import importlib
    return importlib.import_module(f"shendu.{name}")


def __getattr__(name):
    # subpackages written later in the import order are loaded on first use
    if name in ("nn", "optim", "utils", "datasets", "transforms", "models", "train", "tune",
                "diagnose", "experiments", "cli", "examples", "onnx", "ops", "visualize"):
        mod = _lazy(name)
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'shendu' has no attribute {name!r}")
