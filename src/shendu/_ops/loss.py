"""Loss functions, as torch.nn.functional. Seed 002 §3.4.10 defines the cross-entropy cost
C = −(1/n) Σ [y ln a + (1 − y) ln(1 − a)] and argues it is a cost (non-negative, near 0
when every output is near its target) that does not learn slowly when a sigmoid output
saturates; seeds 003 and 004 list the common losses (0-1, cross-entropy, focal, hinge,
softmax cross-entropy for classification, ...).

Every loss takes torch's ``reduction`` ('none' | 'mean' | 'sum'; legacy ``size_average`` /
``reduce`` are accepted and mapped as torch maps them). Most are compositions of
differentiable ops. Two are Nodes, for stability:

* ``cross_entropy`` fuses log-softmax with the negative log-likelihood: with the
  (weighted, smoothed) target distribution t, loss_i = −Σ_c t_ic log softmax(x_i)_c and
  ∂loss_i/∂x_i = softmax(x_i)·Σ_c t_ic − t_i, i.e. softmax − onehot in the plain case. Its
  backward is differentiable (gradgradcheck passes); without ``create_graph`` it runs on
  the arrays saved by forward.
* ``binary_cross_entropy`` (log clamped at −100 as torch does, no log(0) warning).

``binary_cross_entropy_with_logits`` is (1 − t)·x + (1 + (pos_weight − 1)·t)·softplus(−x),
stable for any x. Losses torch lacks (focal, center, AM-softmax, L-softmax / A-softmax,
0-1, perceptron, binary hinge, contrastive) follow their papers; each docstring gives the
formula.

Shapes: element-wise losses take input and target of the same shape (broadcast with a
warning otherwise); classification losses take input (N, C) or (N, C, d1, ...) or (C,)
and class-index targets (N,) / (N, d1, ...) / () or, for cross_entropy, probabilities of
the input's shape.
"""
import functools
import math
import warnings

import numpy as np

from .._tensor import Tensor, _make
from ..autograd.function import Node
from ..autograd import grad_mode
from .elementwise import (where, exp, expm1, log, log1p, abs as _abs, clamp, sqrt,
                          _float_input, minimum)
from .indexing import gather
from .activation import Softplus, log_softmax, logsigmoid, sigmoid, relu
from .distance import pairwise_distance, normalize
from .inplace import _tname
from .fused import fused_grads
from ..backend import softmax as _softmax

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
           "hinge_embedding_loss", "soft_margin_loss", "cosine_embedding_loss",
           "margin_ranking_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "poisson_nll_loss", "gaussian_nll_loss", "focal_loss", "sigmoid_focal_loss",
           "center_loss", "am_softmax_logits", "am_softmax_loss", "large_margin_logits",
           "large_margin_softmax_loss", "zero_one_loss", "perceptron_loss", "hinge_loss",
           "contrastive_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _c(arr):
    return _make(np.asarray(arr), None, 0)


# ------------------------------------------------------------------ reduction
def legacy_reduction(size_average, reduce, reduction):
    """torch's mapping of the deprecated ``size_average`` / ``reduce`` flags."""
    if size_average is None and reduce is None:
        return _check_reduction(reduction)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _check_reduction(reduction, allowed=_REDUCTIONS):
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated, please use reduction='mean' "
                      "instead.", stacklevel=3)
        return "mean"
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _weighted_reduce(loss, weight, reduction, mean_by_weight):
    """loss·weight reduced; 'mean' divides by Σweight (mse, l1) or by the count (huber)."""
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != loss.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def _warn_size(input, target):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)


def _softplus(x):
    """log(1 + exp(x)) exactly (no linear cut-off), stable for any x."""
    return Softplus.apply(x, beta=1.0, threshold=math.inf)


# ------------------------------------------------------------------ regression
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(x − y)², reduced ('mean' with ``weight``: Σw(x − y)² / Σw)."""
    _warn_size(input, target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    d = input - target
    return _weighted_reduce(d * d, weight, reduction, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|x − y|, reduced (mean absolute error)."""
    _warn_size(input, target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _weighted_reduce(_abs(input - target), weight, reduction, True)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """½d² where |d| < delta, delta·(|d| − ½delta) elsewhere (d = x − y)."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_size(input, target)
    reduction = _check_reduction(reduction)
    d = input - target
    ad = _abs(d)
    loss = where(_c(ad._data < delta), d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _weighted_reduce(loss, weight, reduction, False)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """½d²/beta where |d| < beta, |d| − ½beta elsewhere (Faster R-CNN's box loss);
    beta = 0 gives the L1 loss."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_size(input, target)
    reduction = legacy_reduction(size_average, reduce, reduction)
    d = input - target
    ad = _abs(d)
    if beta == 0:
        return _reduce(ad, reduction)
    loss = where(_c(ad._data < beta), d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction)


# ------------------------------------------------------------------ classification targets
def _class_dim(input, name):
    if input.dim() == 0:
        raise RuntimeError(f"{name}: expected an input of shape (C,), (N, C) or (N, C, d1, ...), "
                           "got a 0-d tensor")
    return 0 if input.dim() == 1 else 1


def _check_class_target(input, target, cdim, name):
    """Validate a class-index target against input; returns its int array."""
    if not isinstance(target, Tensor):
        raise TypeError(f"{name}: target must be a Tensor of class indices")
    y = target._data
    if y.dtype.kind not in "iub":
        raise RuntimeError(f"{name}: expected target dtype to be Long or Byte (class indices) for "
                           f"an input of shape {tuple(input.shape)}, but got "
                           f"{_tname(y.dtype)} of shape {tuple(target.shape)}; "
                           "class probabilities must have the input's shape")
    xs = tuple(input.shape)
    want = xs[:cdim] + xs[cdim + 1:]
    if y.shape != want:
        if y.ndim >= 1 and cdim == 1 and input.dim() == 2 and y.ndim == 1:
            raise ValueError(f"Expected input batch_size ({xs[0]}) to match target batch_size "
                             f"({y.shape[0]}).")
        if input.dim() == 2 and y.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        raise RuntimeError(f"Expected target size {list(want)}, got {list(y.shape)}")
    return y.astype(np.int64, copy=False)


def _check_weight(weight, n_classes):
    if weight is not None and (weight.dim() != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes "
                           f"or no classes but got weight tensor of shape: {list(weight.shape)}")


def _index_weights(input, target, weight, ignore_index, name):
    """For class indices y: (y with ignored positions set to class 0, the weight w[y_i] of
    each position (0 where ignored), the 'mean' denominator Σ_i w[y_i] over positions not
    ignored: torch's normalisation), after checking y against input and weight."""
    cdim = _class_dim(input, name)
    y = _check_class_target(input, target, cdim, name)
    C = input.shape[cdim]
    _check_weight(weight, C)
    dt = input._data.dtype
    valid = y != ignore_index
    all_valid = valid.all()
    y_safe = y if all_valid else np.where(valid, y, 0)
    if y.size and (y_safe.min() < 0 or y_safe.max() >= C):
        bad = (y < 0) | (y >= C)
        raise IndexError(f"Target {int(y[bad & valid].flat[0])} is out of bounds.")
    w = None if weight is None else weight._data.astype(dt, copy=False)
    if w is None:
        w_y = np.ones(y.shape, dt) if all_valid else valid.astype(dt)
    else:
        w_y = w[y_safe] if all_valid else w[y_safe] * valid
    denom = y.size if w is None and all_valid else w_y.sum(dtype=np.float64)
    return y_safe, w_y, denom


def _index_target(input, target, weight, ignore_index, smoothing, name):
    """The dense target distribution t (input's shape, a constant) for class indices y:
    t_ic = (1 − ε)·w[y_i]·[c = y_i] + (ε/C)·w_c, and 0 on ignored positions; and the 'mean'
    denominator Σ_i w[y_i] over positions not ignored (torch's normalisation)."""
    y_safe, w_y, denom = _index_weights(input, target, weight, ignore_index, name)
    cdim = _class_dim(input, name)
    C = input.shape[cdim]
    dt = input._data.dtype
    t = np.zeros(input._data.shape, dtype=dt)
    hit = w_y * (1 - smoothing) if smoothing else w_y
    if input.dim() == 2:                             # (N, C): the common case, plain indexing
        t[np.arange(y_safe.shape[0]), y_safe] = hit
    else:
        np.put_along_axis(t, np.expand_dims(y_safe, cdim), np.expand_dims(hit, cdim), axis=cdim)
    if smoothing:
        w = None if weight is None else weight._data.astype(dt, copy=False)
        per_class = np.full(C, smoothing / C, dtype=dt) if w is None else w * (smoothing / C)
        shape = [1] * input.dim()
        shape[cdim] = C
        valid = target._data != ignore_index
        t += per_class.reshape(shape) * np.expand_dims(valid, cdim)
    return t, denom, cdim


class SoftmaxCrossEntropy(Node):
    """loss = −Σ_c t_c log softmax(x)_c along ``dim``, for a target distribution t (a tensor
    of x's shape). ``scale`` None: one loss per position; otherwise scale · Σ of them.
    ∂/∂x = softmax(x)·Σ_c t_c − t, ∂/∂t = −log softmax(x)."""
    save_inputs = (0, 1)

    def forward(self, x, t, dim, scale):
        self.dim, self.scale = dim, scale
        z = x - x.max(axis=dim, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=dim, keepdims=True))
        self.logp = logp
        if scale is None:
            return -(t * logp).sum(axis=dim)
        return np.asarray(-np.vdot(t, logp) * logp.dtype.type(scale))

    def backward(self, gy):
        x, t = self.saved_tensors
        graph = functools.partial(_cross_entropy_grads_graph, dim=self.dim, scale=self.scale)
        return fused_grads(self.needs_input_grad, self._grads_arrays, graph, gy, x, t)

    def _grads_arrays(self, g, x, t):
        """(gx, gt) from the log-probabilities kept by forward."""
        need, dim, logp = self.needs_input_grad, self.dim, self.logp
        g = g * g.dtype.type(self.scale) if self.scale is not None else np.expand_dims(g, dim)
        gx = g * (np.exp(logp) * t.sum(axis=dim, keepdims=True) - t) if need[0] else None
        return gx, (-g * logp if need[1] else None)


def _cross_entropy_grads_graph(gy, x, t, dim, scale):
    """SoftmaxCrossEntropy's gradients with shendu ops (differentiable again)."""
    logp = log_softmax(x, dim)
    g = gy * scale if scale is not None else gy.unsqueeze(dim)
    return g * (exp(logp) * t.sum(dim, keepdim=True) - t), -g * logp


class SoftmaxCrossEntropyIndex(Node):
    """SoftmaxCrossEntropy for class indices on (N, C) logits, without the dense target:
    loss_n = −w_n log softmax(x)_{n, y_n} (w_n: the class weight of y_n, 0 where ignored),
    ∂/∂x = w_n (softmax(x) − onehot(y_n)). About half the passes over (N, C) of the dense
    form (no target matrix to fill, dot or subtract); create_graph takes the dense form."""
    save_inputs = (0,)

    def forward(self, x, y, w, scale):
        self.y, self.w, self.scale = y, w, scale
        loss, p = _softmax.xent_index(np.ascontiguousarray(x), y, self._needs_grad)
        loss *= w
        if p is not None:
            self.p = p                               # softmax, kept for backward
        if scale is None:
            return loss
        return np.asarray(loss.sum() * loss.dtype.type(scale))

    def backward(self, gy):
        x, = self.saved_tensors
        graph = functools.partial(_cross_entropy_index_grad_graph, y=self.y, w=self.w,
                                  scale=self.scale)
        return fused_grads(self.needs_input_grad[:1], self._grads_arrays, graph, gy, x) + (None,) * 2

    def _grads_arrays(self, g, x):
        """(gx,) = w_n (softmax(x) − onehot(y_n)) · g, from the softmax kept by forward."""
        y, w, scale = self.y, self.w, self.scale
        f = (w * g.dtype.type(scale)) * g if scale is not None else w * g
        return (_softmax.xent_index_grad(self.p, y, f),)     # p kept intact: retain_graph


def _cross_entropy_index_grad_graph(gy, x, y, w, scale):
    """SoftmaxCrossEntropyIndex's gradient in the dense form, with shendu ops."""
    t = np.zeros(x._data.shape, x._data.dtype)
    t[np.arange(t.shape[0]), y] = w
    logp = log_softmax(x, 1)
    g = gy * scale if scale is not None else gy.unsqueeze(1)
    return (g * (exp(logp) * _c(w[:, None]) - _c(t)),)


def _scale_for(reduction, denom):
    """The factor a 'mean' / 'sum' reduction applies to the summed loss (None: 'none')."""
    if reduction == "none":
        return None
    if reduction == "sum":
        return 1.0
    return 1.0 / float(denom) if denom else math.nan          # all ignored: nan, as torch


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy on logits ``input`` (C,), (N, C) or (N, C, d1, ...).

    ``target``: class indices (N,) / (N, d1, ...) / () — ``weight`` (C,) rescales classes,
    positions equal to ``ignore_index`` contribute nothing and 'mean' divides by Σ w[y_i];
    or class probabilities of the input's shape ('mean' divides by the number of positions).
    ``label_smoothing`` ε mixes the target with the uniform distribution: (1 − ε)·t + ε/C.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    input = _float_input(input)
    cdim = _class_dim(input, "cross_entropy")
    if target._data.dtype.kind == "f" and target.shape == input.shape:
        C = input.shape[cdim]
        _check_weight(weight, C)
        t = target.to(input.dtype)
        if label_smoothing:
            t = t * (1 - label_smoothing) + label_smoothing / C
        if weight is not None:
            t = t * weight.to(input.dtype).reshape((C,) + (1,) * (input.dim() - cdim - 1))
        denom = input._data.size / C if C else 0.0
    elif input.dim() == 2 and not label_smoothing:
        y, w, denom = _index_weights(input, target, weight, ignore_index, "cross_entropy")
        return SoftmaxCrossEntropyIndex.apply(input, y, w, scale=_scale_for(reduction, denom))
    else:
        arr, denom, cdim = _index_target(input, target, weight, ignore_index, label_smoothing,
                                         "cross_entropy")
        t = _c(arr)
    return SoftmaxCrossEntropy.apply(input, t, dim=cdim, scale=_scale_for(reduction, denom))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """−w[y_i]·input[i, y_i] for log-probabilities ``input`` and class indices ``target``
    (shapes as cross_entropy); 'mean' divides by Σ w[y_i] over positions not ignored."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if input.dim() == 1 and target.dim() == 1:
        if target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: "
                             f"{target.shape[0]}")
        target = target.reshape(())
    t, denom, cdim = _index_target(input, target, weight, ignore_index, 0.0, "nll_loss")
    loss = -(input * _c(t)).sum(cdim)
    if reduction == "none":
        return loss
    loss = loss.sum()
    return loss * _scale_for(reduction, denom) if reduction == "mean" else loss


class BinaryCrossEntropy(Node):
    """−(t·log x + (1 − t)·log(1 − x)) with each log clamped at −100 (torch's convention, so
    x = 0 or 1 gives 100, not inf)."""
    save_inputs = (0, 1)

    def forward(self, x, t):
        with np.errstate(divide="ignore"):
            lx = np.maximum(np.log(x), -100)
            l1x = np.maximum(np.log1p(-x), -100)
        return -(t * lx + (1 - t) * l1x)

    def backward(self, gy):
        x, t = self.saved_tensors
        need = self.needs_input_grad
        gx = gt = None
        if need[0]:
            gx = gy * (x - t) / clamp(x * (1.0 - x), min=1e-12)
        if need[1]:
            gt = gy * (log1p(-x) - log(x))
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """−w·(t·log x + (1 − t)·log(1 − x)) for probabilities x ∈ [0, 1]."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    for what, a in (("input", input._data), ("target", target._data)):
        if a.size and not ((a >= 0) & (a <= 1)).all():         # NaN fails too, as in torch
            raise RuntimeError(f"all elements of {what} should be between 0 and 1")
    loss = BinaryCrossEntropy.apply(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE on logits, fused with the sigmoid: (1 − t)·x + (1 + (p − 1)·t)·log(1 + exp(−x)),
    with p = ``pos_weight`` (broadcast along the last dim) weighting the positive term."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    sp = _softplus(-input)
    if pos_weight is not None:
        sp = sp * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL term t·(log t − x) for log-probabilities x (with ``log_target``:
    exp(t)·(t − x)); 'batchmean' divides the sum by the batch size (the true KL divergence),
    'mean' by the number of elements."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
    else:
        _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and "
                          "the support size.'batchmean' divides only by the batch size, and aligns "
                          "with the KL div math definition.'mean' will be changed to behave the "
                          "same as 'batchmean' in the next major release.", stacklevel=2)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        zero = _c(target._data == 0)
        loss = target * log(where(zero, 1.0, target)) - target * input      # 0·log 0 = 0
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() else loss.sum()
    return _reduce(loss, reduction)


# ------------------------------------------------------------------ margins
def _onehot_like(input, y, cdim):
    oh = np.zeros(input._data.shape, dtype=input._data.dtype)
    np.put_along_axis(oh, np.expand_dims(y, cdim), 1, axis=cdim)
    return oh


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Multi-class hinge: Σ_{j≠y} w[y]·max(0, margin − x_y + x_j)^p / C per sample
    (input (N, C) or (C,), p ∈ {1, 2})."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.dim() > 2:
        raise RuntimeError(f"multi_margin_loss: expected an input of shape (N, C) or (C,), got "
                           f"{tuple(input.shape)}")
    cdim = _class_dim(input, "multi_margin_loss")
    C = input.shape[cdim]
    y = target._data
    want = tuple(input.shape[:cdim])
    if y.shape != want and not (cdim == 0 and y.shape == (1,)):
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the "
                           f"number of input samples (batch size). Expected target size "
                           f"{list(want)}, but got {list(y.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    y = y.reshape(want).astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= C):
        raise RuntimeError(f"target out of range (multi_margin_loss: target {int(y.max() if y.max() >= C else y.min())} "
                           f"for {C} classes)")
    _check_weight(weight, C)
    yi = _c(np.expand_dims(y, cdim))
    z = relu(input - gather(input, cdim, yi) + margin)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * _c(np.expand_dims(weight._data[y], cdim))
    loss = (z * _c(1 - _onehot_like(input, y, cdim))).sum(cdim) / C
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Σ_{j ∈ targets} Σ_{i ∉ targets} max(0, 1 − (x_j − x_i)) / C per sample; each row of
    ``target`` lists class indices and ends at the first −1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if input.dim() > 2 or target.shape != input.shape:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    x = input if input.dim() == 2 else input.unsqueeze(0)
    y = target._data.reshape(x.shape).astype(np.int64)
    N, C = x.shape
    if y.size and (y.min() < -1 or y.max() >= C):
        raise RuntimeError("argument #2 'target' is out of range")
    live = np.cumprod(y != -1, axis=1).astype(bool)             # before the first −1
    count = np.zeros((N, C), dtype=x._data.dtype)               # how often class c is listed
    rows = np.nonzero(live)
    np.add.at(count, (rows[0], y[rows]), 1)
    is_target = count > 0
    pair = count[:, :, None] * ~is_target[:, None, :]           # (N, j, i)
    hinge = relu(1.0 - x.unsqueeze(2) + x.unsqueeze(1))         # 1 − (x_j − x_i)
    loss = (hinge * _c(pair.astype(x._data.dtype))).sum((1, 2)) / C
    if input.dim() == 1:
        loss = loss.squeeze(0)
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """−(y·log σ(x) + (1 − y)·log σ(−x)) averaged over the C classes (one-vs-all)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    cdim = input.dim() - 1
    return _reduce(loss.sum(cdim) / input.shape[cdim], reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where y = 1, max(0, margin − x) where y = −1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    y = target._data
    zero = _c(np.zeros((), dtype=input._data.dtype))
    out_margin = where(_c(y != 1), clamp(margin - input, min=0), zero)
    out_self = where(_c(y != -1), input, zero)
    return _reduce(out_margin + out_self, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(−y·x)), the logistic loss for labels ±1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _reduce(_softplus(-input * target), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    eps = 1e-12
    d = input1.dim() - 1
    prod = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + eps
    m2 = (input2 * input2).sum(d) + eps
    cos_ = prod / sqrt(m1 * m2)
    y = target._data
    zero = _c(np.zeros((), dtype=cos_._data.dtype))
    pos = where(_c(y == 1), 1 - cos_, zero)
    neg = where(_c(y == -1), clamp(cos_ - margin, min=0), zero)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, −y·(x1 − x2) + margin): x1 should rank above x2 where y = 1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    return _reduce(clamp(-target * (input1 - input2) + margin, min=0), reduction)


def _triplet(d_ap, d_an, d_pn, margin, reduction):
    if d_pn is not None:
        d_an = minimum(d_an, d_pn)
    return _reduce(clamp(d_ap - d_an + margin, min=0), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, d(a, p) − d(a, n) + margin) with d the p-norm distance; ``swap`` uses
    min(d(a, n), d(p, n)) (Balntas et al. 2016)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    dims = {anchor.dim(), positive.dim(), negative.dim()}
    if len(dims) != 1 or dims.pop() not in (1, 2):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions (1 or 2), but got: anchor "
                           f"{anchor.dim()}D, positive {positive.dim()}D, and negative "
                           f"{negative.dim()}D inputs")
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    d_pn = pairwise_distance(positive, negative, p, eps) if swap else None
    return _triplet(d_ap, d_an, d_pn, margin, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """triplet_margin_loss with any distance function (default: pairwise_distance)."""
    reduction = _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, "
                         f"got {margin} instead")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pn = dist(positive, negative) if swap else None
    return _triplet(dist(anchor, positive), dist(anchor, negative), d_pn, margin, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Poisson negative log-likelihood: exp(x) − t·x for a log-rate x (``log_input``), else
    x − t·log(x + eps); ``full`` adds Stirling's t·log t − t + ½log(2πt) where t > 1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        big = _c(target._data > 1)
        t = where(big, target, 1.0)
        stirling = t * log(t) - t + log(t * (2 * math.pi)) * 0.5
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """½(log max(var, eps) + (x − t)² / max(var, eps)) (+ ½log 2π if ``full``). ``var`` has
    the input's shape, or one dimension fewer / of size 1 (shared), or is a float. The clamp
    at eps does not stop the gradient (as torch)."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _c(np.full(input._data.shape, var, dtype=input._data.dtype))
    elif (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(
                b for a, b in zip(input.shape, var.shape) if a != b) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    reduction = _check_reduction(reduction)
    v = var._data
    var = var + _c(np.maximum(v, eps) - v)            # clamp with the identity's gradient
    d = input - target
    loss = (log(var) + d * d / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ------------------------------------------------------------------ losses torch does not have
def sigmoid_focal_loss(input, target, alpha=0.25, gamma=2.0, reduction="none"):
    """Binary focal loss on logits (Lin et al. 2017, eq. 5): FL = −α_t (1 − p_t)^γ log p_t with
    p = σ(x), p_t = p·t + (1 − p)(1 − t), α_t = α·t + (1 − α)(1 − t) (no α when alpha < 0 or
    None). γ = 0 and no α is BCE with logits. Target: floats in [0, 1], input's shape."""
    ce = binary_cross_entropy_with_logits(input, target, reduction="none")
    # 1 − p_t = t·σ(−x) + (1 − t)·σ(x), without cancellation
    one_minus_pt = target * sigmoid(-input) + (1 - target) * sigmoid(input)
    loss = ce * one_minus_pt ** gamma if gamma else ce
    if alpha is not None and alpha >= 0:
        loss = loss * (target * alpha + (1 - target) * (1 - alpha))
    return _reduce(loss, _check_reduction(reduction))


def focal_loss(input, target, alpha=None, gamma=2.0, reduction="mean", ignore_index=-100):
    """Focal loss (Lin et al. 2017): −α_t (1 − p_t)^γ log p_t, down-weighting easy examples.

    * class indices ``target`` (N,) / (N, d1, ...) for logits (N, C, ...): p_t is the softmax
      probability of the true class; ``alpha`` is None, a float or a per-class tensor (C,);
      'mean' averages over positions not equal to ``ignore_index``.
    * float ``target`` of the input's shape: the binary (sigmoid) form, see
      :func:`sigmoid_focal_loss`; 'mean' averages over all elements.
    γ = 0 and no alpha give cross-entropy (resp. BCE with logits).
    """
    reduction = _check_reduction(reduction)
    if target._data.dtype.kind == "f":
        return sigmoid_focal_loss(input, target, alpha, gamma, reduction)
    cdim = _class_dim(input, "focal_loss")
    y = _check_class_target(input, target, cdim, "focal_loss")
    C = input.shape[cdim]
    valid = y != ignore_index
    if ((y < 0) | (y >= C))[valid].any():
        raise IndexError(f"Target {int(y[valid & ((y < 0) | (y >= C))].flat[0])} is out of bounds.")
    y_safe = np.expand_dims(np.where(valid, y, 0), cdim)
    logpt = gather(log_softmax(input, cdim), cdim, _c(y_safe)).squeeze(cdim)
    loss = -logpt
    if gamma:
        loss = loss * (-expm1(logpt)) ** gamma          # (1 − p_t)^γ, accurate as p_t → 1
    if alpha is not None:
        a = alpha._data[y_safe.squeeze(cdim)] if isinstance(alpha, Tensor) else \
            np.full(y.shape, alpha)
        loss = loss * _c(a.astype(input._data.dtype))
    loss = loss * _c(valid.astype(input._data.dtype))
    if reduction == "mean":
        return loss.sum() / float(valid.sum())
    return _reduce(loss, reduction)


def center_loss(input, target, centers, reduction="mean"):
    """Center loss (Wen et al. 2016): ½‖x_i − c_{y_i}‖² per sample, pulling each feature
    towards the center of its class. input (N, D), target (N,) class indices, centers (C, D)."""
    reduction = _check_reduction(reduction)
    if input.dim() != 2 or centers.dim() != 2 or input.shape[1] != centers.shape[1]:
        raise RuntimeError(f"center_loss: expected input (N, D) and centers (C, D), got "
                           f"{tuple(input.shape)} and {tuple(centers.shape)}")
    y = _check_class_target(input, target, 1, "center_loss")
    if y.size and (y.min() < 0 or y.max() >= centers.shape[0]):
        raise IndexError(f"Target {int(y.max() if y.max() >= centers.shape[0] else y.min())} is "
                         "out of bounds.")
    d = input - centers[_c(y)]
    return _reduce((d * d).sum(1) * 0.5, reduction)


def am_softmax_logits(input, weight, target=None, s=30.0, m=0.35):
    """Additive-margin softmax (CosFace, Wang et al. 2018): s·(cos θ_j − m·[j = y]) with
    cos θ_j = x·W_j / (‖x‖‖W_j‖). input (N, D), weight (C, D); without target: s·cos θ."""
    cos_ = normalize(input, dim=1) @ normalize(weight, dim=1).t()
    if target is not None:
        y = _check_class_target(cos_, target, 1, "am_softmax")
        cos_ = cos_ - _c(_onehot_like(cos_, y, 1) * m)
    return cos_ * s


def am_softmax_loss(input, weight, target, s=30.0, m=0.35, reduction="mean"):
    """Cross-entropy on :func:`am_softmax_logits`."""
    return cross_entropy(am_softmax_logits(input, weight, target, s, m), target,
                         reduction=reduction)


def _chebyshev(c, m):
    """cos(mθ) as the Chebyshev polynomial T_m(cos θ): T_0 = 1, T_1 = c, T_{n+1} = 2c·T_n − T_{n−1}."""
    prev, cur = None, c
    if m == 0:
        return c * 0.0 + 1.0
    for _ in range(m - 1):
        nxt = c * cur * 2.0 - (prev if prev is not None else 1.0)
        prev, cur = cur, nxt
    return cur


def large_margin_logits(input, weight, target=None, margin=2, normalize_weight=False, beta=0.0):
    """L-Softmax (Liu et al. 2016) / A-Softmax (SphereFace, Liu et al. 2017) logits.

    f_j = ‖W_j‖‖x‖ cos θ_j, except for the true class: f_y = ‖W_y‖‖x‖ ψ(θ_y) with
    ψ(θ) = (−1)^k cos(mθ) − 2k for θ ∈ [kπ/m, (k+1)π/m], k = 0 … m−1 (monotone, ψ ≤ cos θ).
    ``normalize_weight`` sets ‖W_j‖ = 1 (A-Softmax). ``beta`` λ ≥ 0 anneals:
    f_y = (λ‖W_y‖‖x‖cos θ_y + ‖W_y‖‖x‖ψ(θ_y)) / (1 + λ). input (N, D), weight (C, D).
    """
    if int(margin) != margin or margin < 1:
        raise ValueError(f"large-margin softmax: margin must be a positive integer, got {margin}")
    margin = int(margin)
    if normalize_weight:
        weight = normalize(weight, dim=1)
    logits = input @ weight.t()
    if target is None or margin == 1:
        return logits
    y = _check_class_target(logits, target, 1, "large_margin_softmax")
    yi = _c(y[:, None])
    w_y = weight[_c(y)]                                             # (N, D)
    norms = sqrt((input * input).sum(1, keepdim=True) * (w_y * w_y).sum(1, keepdim=True))
    f_y = gather(logits, 1, yi)                                     # ‖W_y‖‖x‖cos θ_y
    c = f_y / clamp(norms, min=1e-12)
    theta = np.arccos(np.clip(c._data, -1.0, 1.0))
    k = np.minimum(np.floor(theta * margin / np.pi), margin - 1)
    sign = np.where(k % 2 == 0, 1.0, -1.0).astype(c._data.dtype)
    psi = _chebyshev(c, margin) * _c(sign) - _c((2 * k).astype(c._data.dtype))
    target_logit = (f_y * beta + norms * psi) / (1.0 + beta)
    onehot = _c(_onehot_like(logits, y, 1))
    return logits + onehot * (target_logit - f_y)


def large_margin_softmax_loss(input, weight, target, margin=2, normalize_weight=False, beta=0.0,
                              reduction="mean"):
    """Cross-entropy on :func:`large_margin_logits`."""
    return cross_entropy(large_margin_logits(input, weight, target, margin, normalize_weight,
                                             beta), target, reduction=reduction)


# ------------------------------------------------------------------ margins: 0-1, perceptron, hinge
def _margins(input, target):
    """The margin as a differentiable tensor: y·f for binary scores (labels ±1; 0/1 labels
    are read as −1/+1), or f_y − max_{j≠y} f_j for multi-class scores (N, C) with class
    indices: positive exactly when correct."""
    y = target._data
    if target.shape == input.shape:
        return input * _c(np.where(y > 0, 1.0, -1.0).astype(input._data.dtype))
    if input.dim() != 2 or target.shape != (input.shape[0],):
        raise RuntimeError(f"expected binary scores with labels of the same shape, or scores "
                           f"(N, C) with class indices (N,); got {tuple(input.shape)} and "
                           f"{tuple(target.shape)}")
    yi = y.astype(np.int64)
    if yi.size and (yi.min() < 0 or yi.max() >= input.shape[1]):
        raise IndexError(f"Target {int(yi.max() if yi.max() >= input.shape[1] else yi.min())} "
                         f"is out of bounds for {input.shape[1]} classes.")
    fy = gather(input, 1, _c(yi[:, None])).squeeze(1)
    if input.shape[1] == 1:
        return fy * 0.0 + np.inf
    others = where(_c(_onehot_like(input, yi, 1) > 0), -np.inf, input)
    return fy - others.max(1)[0]


def zero_one_loss(input, target, reduction="mean"):
    """0-1 loss (seed 003): 1 for a misclassified sample, 0 otherwise — the error rate under
    'mean'. Binary: scores f and labels ±1 (or 0/1), wrong when y·f ≤ 0; multi-class: scores
    (N, C) and class indices, wrong unless the true class scores strictly highest. A metric:
    the result carries no gradient."""
    reduction = _check_reduction(reduction)
    with grad_mode.no_grad():
        wrong = (_margins(input, target)._data <= 0).astype(input._data.dtype)
        return _reduce(_c(wrong), reduction)


def perceptron_loss(input, target, reduction="mean"):
    """Perceptron loss (seed 003; the perceptron of seed 002 §3.1.1): max(0, −m) with the
    margin m = y·f (binary, labels ±1 or 0/1) or m = f_y − max_{j≠y} f_j (multi-class).

    Its subgradient is Rosenblatt's update: −∂m/∂f for every sample with m ≤ 0 (wrong *or on
    the boundary*, so zero-initialised weights move), 0 for the others. Trainable by any
    optimizer; binary (N,) → (N,) per sample under 'none'."""
    reduction = _check_reduction(reduction)
    m = _margins(input, target)
    return _reduce(where(_c(m._data <= 0), -m, 0.0), reduction)


def hinge_loss(input, target, margin=1.0, reduction="mean"):
    """Binary hinge loss (the SVM's, seed 003): max(0, margin − y·f) for scores f and labels
    y = ±1 (0/1 labels read as −1/+1), input and target of the same shape. Multi-class scores
    (N, C) with class indices use max(0, margin − (f_y − max_{j≠y} f_j)) (Crammer–Singer);
    torch's ``multi_margin_loss`` is the summed (Weston–Watkins) form. Subgradient −y where
    the hinge is active (as ``clamp``)."""
    reduction = _check_reduction(reduction)
    return _reduce(clamp(margin - _margins(input, target), min=0), reduction)


def contrastive_loss(input1, input2, target, margin=1.0, p=2.0, eps=1e-6, reduction="mean"):
    """Contrastive loss (Hadsell, Chopra & LeCun 2006; seed 004's Siamese networks):
    ½·[y·d² + (1 − y)·max(0, margin − d)²] with d = ‖x1 − x2 + eps‖_p (``pairwise_distance``)
    and y = 1 for a similar pair, 0 for a dissimilar one. input1/input2 (N, D) or (D,),
    target (N,) / () of 0/1 (bool, int or float)."""
    reduction = _check_reduction(reduction)
    if input1.shape != input2.shape or input1.dim() not in (1, 2):
        raise RuntimeError(f"contrastive_loss: expected two inputs of the same shape (N, D) or "
                           f"(D,), got {tuple(input1.shape)} and {tuple(input2.shape)}")
    if tuple(target.shape) != tuple(input1.shape[:-1]):
        raise RuntimeError(f"contrastive_loss: expected target of shape "
                           f"{tuple(input1.shape[:-1])} (one 0/1 label per pair), got "
                           f"{tuple(target.shape)}")
    d = pairwise_distance(input1, input2, p, eps)
    y = _c(target._data.astype(d._data.dtype))
    far = clamp(margin - d, min=0)
    return _reduce((y * d * d + (1 - y) * far * far) * 0.5, reduction)
