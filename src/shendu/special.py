"""``shendu.special``: special functions under torch.special's names."""
from ._ops.elementwise import erf, erfc, exp2, expm1, log1p, xlogy  # noqa: F401
from ._ops.activation import sigmoid as expit  # noqa: F401
from ._ops.misc import erfinv, logit, digamma, lgamma as gammaln, sinc  # noqa: F401
from ._ops.reduction import logsumexp  # noqa: F401

psi = digamma

__all__ = ["erf", "erfc", "erfinv", "exp2", "expm1", "log1p", "expit", "logit", "xlogy",
           "digamma", "psi", "gammaln", "logsumexp", "sinc"]
