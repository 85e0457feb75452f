"""shendu.nn: the Module system, layers, activations, losses (PyTorch's torch.nn)."""
from .parameter import Parameter, Buffer
from .modules import *          # noqa: F401,F403
from .modules import Module, LayerInputError
from . import functional, init, utils, parallel
