"""shendu.nn.utils: gradient clipping, parameter vectors, weight norm, RNN packing."""
from .clip_grad import *              # noqa: F401,F403
from .convert_parameters import *     # noqa: F401,F403
from .max_norm import *               # noqa: F401,F403
from .weight_norm import *            # noqa: F401,F403
from . import rnn                     # noqa: F401
from . import parametrize, parametrizations   # noqa: F401
