"""Loss modules: torch's (``weight`` / ``pos_weight`` registered as buffers, so they appear
in ``state_dict`` as in torch) and the ones torch lacks: FocalLoss, CenterLoss, and the
margin-softmax heads AMSoftmax (CosFace), LSoftmax and ASoftmax (SphereFace), which own
their class weights, and the binary HingeLoss, PerceptronLoss and ContrastiveLoss. The maths is in ``shendu._ops.loss``."""
import math

from .module import Module, LayerInputError
from ..parameter import Parameter
from .. import init
from ... import _creation
from ..._ops import loss as F
from .distance import PairwiseDistance

__all__ = ["L1Loss", "MSELoss", "HuberLoss", "SmoothL1Loss", "CrossEntropyLoss", "NLLLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
           "MultiLabelSoftMarginLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
           "CosineEmbeddingLoss", "MarginRankingLoss", "TripletMarginLoss",
           "TripletMarginWithDistanceLoss", "PoissonNLLLoss", "GaussianNLLLoss", "FocalLoss",
           "CenterLoss", "AMSoftmax", "LSoftmax", "ASoftmax", "HingeLoss", "PerceptronLoss",
           "ContrastiveLoss"]


class _Loss(Module):
    """Holds ``reduction`` ('none' | 'mean' | 'sum'; legacy size_average/reduce mapped)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = F.legacy_reduction(size_average, reduce, reduction)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with a per-class ``weight`` buffer (None: not in the state_dict)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """|x − y|."""

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """(x − y)²."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """½d² for |d| < delta, delta·(|d| − ½delta) beyond."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """½d²/beta for |d| < beta, |d| − ½beta beyond."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy on logits (N, C, ...), fused with log-softmax; targets are class
    indices or probabilities (see ``nn.functional.cross_entropy``)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices under log-probabilities (N, C, ...)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, fused with the sigmoid; ``pos_weight`` (C,) weights the
    positive class."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    """KL divergence for log-probability inputs; use reduction='batchmean' for the true KL."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and weight.dim() != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be None or 1D tensor, got "
                             f"{weight.dim()}D instead")
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss (targets: class indices ending at −1)."""

    def forward(self, input, target):
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """One-vs-all logistic loss averaged over classes."""

    def forward(self, input, target):
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x for y = 1, max(0, margin − x) for y = −1."""

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(−y·x))."""

    def forward(self, input, target):
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 − cos for similar pairs (y = 1), max(0, cos − margin) for dissimilar ones (y = −1)."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, −y·(x1 − x2) + margin)."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, d(a, p) − d(a, n) + margin) with the p-norm distance."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class HingeLoss(_Loss):
    """Binary hinge loss max(0, margin − y·f), labels ±1 (or 0/1); see ``F.hinge_loss``."""

    def __init__(self, margin=1.0, reduction="mean"):
        super().__init__(reduction=reduction)
        self.margin = margin

    def forward(self, input, target):
        return F.hinge_loss(input, target, margin=self.margin, reduction=self.reduction)


class PerceptronLoss(_Loss):
    """max(0, −y·f) with Rosenblatt's subgradient; see ``F.perceptron_loss``."""

    def forward(self, input, target):
        return F.perceptron_loss(input, target, reduction=self.reduction)


class ContrastiveLoss(_Loss):
    """½[y·d² + (1 − y)·max(0, margin − d)²] for pairs (y = 1: similar); see
    ``F.contrastive_loss``."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"ContrastiveLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin, self.p, self.eps = margin, p, eps

    def forward(self, input1, input2, target):
        return F.contrastive_loss(input1, input2, target, margin=self.margin, p=self.p,
                                  eps=self.eps, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """Triplet loss with any distance function."""

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than "
                             f"0, got {margin} instead")
        self.distance_function = distance_function if distance_function is not None \
            else PairwiseDistance()
        self.margin, self.swap = margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood."""

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood with predicted variance."""

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


# ---------------------------------------------------------------------- not in torch
class FocalLoss(_Loss):
    """Focal loss (Lin et al. 2017), −α_t (1 − p_t)^γ log p_t: multi-class on logits (N, C, ...)
    with class indices, or binary on logits with float targets of the input's shape.
    ``alpha``: None, a float, or (multi-class) a per-class tensor (C,) kept as a buffer."""

    def __init__(self, alpha=None, gamma=2.0, reduction="mean", ignore_index=-100):
        super().__init__(reduction=reduction)
        if gamma < 0:
            raise ValueError(f"FocalLoss: gamma must be >= 0, got {gamma}")
        if alpha is None or isinstance(alpha, (int, float)):
            self.alpha = alpha
        else:
            self.register_buffer("alpha", alpha)
        self.gamma, self.ignore_index = gamma, ignore_index

    def forward(self, input, target):
        return F.focal_loss(input, target, alpha=self.alpha, gamma=self.gamma,
                            reduction=self.reduction, ignore_index=self.ignore_index)

    def extra_repr(self):
        alpha = self.alpha if not hasattr(self.alpha, "shape") else f"tensor{tuple(self.alpha.shape)}"
        return f"alpha={alpha}, gamma={self.gamma}"


class CenterLoss(Module):
    """Center loss (Wen et al. 2016): ½‖x_i − c_{y_i}‖², with one learned center per class in
    ``centers`` (num_classes, feat_dim), initialised N(0, 1). Used next to a softmax loss
    (L = L_softmax + λ·L_center) to make features of a class compact. The paper moves the
    centers with their own rate α; here they are a Parameter, so give them their own
    learning rate in a separate optimizer parameter group for the same effect."""

    def __init__(self, num_classes, feat_dim, reduction="mean", device=None, dtype=None):
        super().__init__()
        self.num_classes, self.feat_dim, self.reduction = num_classes, feat_dim, reduction
        self.centers = Parameter(_creation.empty(num_classes, feat_dim, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.centers)

    def forward(self, input, target):
        if input.dim() != 2 or input.shape[1] != self.feat_dim:
            raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected "
                                  f"(N, feat_dim={self.feat_dim})")
        return F.center_loss(input, target, self.centers, self.reduction)

    def extra_repr(self):
        return f"num_classes={self.num_classes}, feat_dim={self.feat_dim}"


class _MarginHead(Module):
    """A classification head with its own class weights (num_classes, in_features), called as
    ``head(features, target) -> loss``; ``head.logits(features, target=None)`` gives the
    margin-adjusted logits (plain, margin-free ones without a target, for prediction)."""

    def __init__(self, in_features, num_classes, reduction="mean", dtype=None):
        super().__init__()
        self.in_features, self.num_classes, self.reduction = in_features, num_classes, reduction
        self.weight = Parameter(_creation.empty(num_classes, in_features, dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def _check(self, input):
        if input.dim() != 2 or input.shape[1] != self.in_features:
            raise LayerInputError(f"got input of shape {tuple(input.shape)}, expected "
                                  f"(N, in_features={self.in_features})")

    def forward(self, input, target):
        return F.cross_entropy(self.logits(input, target), target, reduction=self.reduction)

    def _describe(self):
        return f"{type(self).__name__} {self.in_features}→{self.num_classes}"


class AMSoftmax(_MarginHead):
    """Additive-margin softmax / CosFace (Wang et al. 2018): logits s·(cos θ_j − m·[j = y]),
    cos θ_j between the normalised feature and the normalised class weight."""

    def __init__(self, in_features, num_classes, s=30.0, m=0.35, reduction="mean", device=None,
                 dtype=None):
        super().__init__(in_features, num_classes, reduction, dtype)
        self.s, self.m = s, m

    def logits(self, input, target=None):
        self._check(input)
        return F.am_softmax_logits(input, self.weight, target, self.s, self.m)

    def extra_repr(self):
        return (f"in_features={self.in_features}, num_classes={self.num_classes}, s={self.s}, "
                f"m={self.m}")


class LSoftmax(_MarginHead):
    """Large-margin softmax (Liu et al. 2016): the true-class logit ‖W_y‖‖x‖cos θ_y becomes
    ‖W_y‖‖x‖ψ(θ_y), ψ(θ) = (−1)^k cos(mθ) − 2k on [kπ/m, (k+1)π/m], an angular margin of
    integer multiplicity ``margin``; ``beta`` λ anneals it ((λ·cos + ψ) / (1 + λ))."""
    _normalize_weight = False

    def __init__(self, in_features, num_classes, margin=2, beta=0.0, reduction="mean",
                 device=None, dtype=None):
        super().__init__(in_features, num_classes, reduction, dtype)
        if int(margin) != margin or margin < 1:
            raise ValueError(f"{type(self).__name__}: margin must be a positive integer, got "
                             f"{margin}")
        self.margin, self.beta = int(margin), beta

    def logits(self, input, target=None):
        self._check(input)
        return F.large_margin_logits(input, self.weight, target, self.margin,
                                     self._normalize_weight, self.beta)

    def extra_repr(self):
        return (f"in_features={self.in_features}, num_classes={self.num_classes}, "
                f"margin={self.margin}, beta={self.beta}")


class ASoftmax(LSoftmax):
    """Angular softmax / SphereFace (Liu et al. 2017): L-Softmax with unit-norm class weights
    (‖W_j‖ = 1), so the decision depends on angles only. The paper's margin is 4."""
    _normalize_weight = True

    def __init__(self, in_features, num_classes, margin=4, beta=0.0, reduction="mean",
                 device=None, dtype=None):
        super().__init__(in_features, num_classes, margin, beta, reduction, device, dtype)
