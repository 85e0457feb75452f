"""shendu.nn.functional: the stateless forms of the layers (PyTorch's torch.nn.functional).

The maths of each family lives in ``shendu._ops.<family>``; this module gathers the
public functions.
"""
from .._ops.shape import pad
from .._ops.linear import linear, bilinear
from .._ops.activation import relu, sigmoid, tanh
from .._ops.activation import *        # noqa: F401,F403
from .._ops.loss import *              # noqa: F401,F403
from .._ops.dropout import *           # noqa: F401,F403
from .._ops.sparse import *            # noqa: F401,F403
from .._ops.distance import *          # noqa: F401,F403
from .._ops.conv import *              # noqa: F401,F403
from .._ops.pooling import *           # noqa: F401,F403
from .._ops.normalization import *     # noqa: F401,F403
from .._ops.upsampling import *        # noqa: F401,F403
from .._ops.attention import *         # noqa: F401,F403
from .._ops.rnn import *               # noqa: F401,F403
