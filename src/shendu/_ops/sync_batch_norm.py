"""Batch normalization with the statistics of the whole batch across processes (SyncBatchNorm).

Forward: every process computes, per channel, its count m_r, mean μ_r and Σ(x − μ_r)² over
its part of the batch; one ``all_gather`` gives everyone all of them, combined exactly
(Chan et al.):
    M = Σ m_r,   μ = Σ m_r μ_r / M,   σ² = Σ [Σ(x − μ_r)² + m_r (μ_r − μ)²] / M.
Then x̂ = (x − μ)/√(σ² + ε), y = γ x̂ + β, as batch norm on the full batch would.
Backward: ∂x needs Σ g and Σ g (x − μ) over the full batch: one ``all_reduce`` of the two
per-channel sums; ∂γ and ∂β stay this process's share (DistributedDataParallel averages them
with the other gradients).
"""
import numpy as np

from .._tensor import _make
from .normalization import (Normalize, rsum, rows, _check_param, _channel_shape,
                            _update_running)

__all__ = ["sync_batch_norm"]


class SyncNormalize(Normalize):
    """The batch-norm core whose gradient sums and count are the totals over all processes."""

    def forward(self, x, weight, bias, axes, eps, wshape, stats, total, group):
        self.total, self.group = total, group
        return super().forward(x, weight, bias, axes, eps, wshape, stats)

    def _across(self, s0, s1, m):
        from .. import distributed as dist
        both = np.concatenate([s0.reshape(-1), s1.reshape(-1)])
        dist.all_reduce(_make(both, None, 0), group=self.group)
        c = s0.size
        return both[:c].reshape(s0.shape), both[c:].reshape(s1.shape), self.total

    def _backward_graph(self, gy):
        raise NotImplementedError("SyncBatchNorm does not support double backward "
                                  "(create_graph=True)")


def global_moments(x, axes, group=None):
    """(mean, biased variance, x − mean, count) of array ``x`` over ``axes`` and over every
    process's ``x``; the statistics with keepdims."""
    from .. import distributed as dist
    m = x.size // int(np.prod([x.shape[i] for i in range(x.ndim) if i not in axes]))
    mu = rsum(x, axes) / m
    xc = x - rows(mu, x)
    ss = rsum(xc, axes, xc)
    mine = np.concatenate([[m], mu.reshape(-1), ss.reshape(-1)]).astype(x.dtype)
    rows_ = np.stack([mine] * dist.get_world_size(group))
    everyone = [_make(r, None, 0) for r in rows_]
    dist.all_gather(everyone, _make(mine, None, 0), group=group)
    table = np.stack([t._data for t in everyone])          # (ranks, 1 + 2C)
    c = mu.size
    counts, mus, sss = table[:, :1], table[:, 1:1 + c], table[:, 1 + c:]
    total = counts.sum()
    mean = (counts * mus).sum(0) / total
    var = (sss + counts * (mus - mean) ** 2).sum(0) / total
    mean, var = mean.reshape(mu.shape), var.reshape(mu.shape)
    return mean, var, x - rows(mean, x), int(round(float(total)))


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum, eps, group=None):
    """Training-mode batch normalization of (N, C, *) with the statistics of every process's
    batch together; the running estimates (if given) move towards them (unbiased variance)."""
    c = input.shape[1]
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var"),
                    (weight, "weight"), (bias, "bias")):
        _check_param(t, c, what)
    axes = (0,) + tuple(range(2, input.dim()))
    mean, var, xc, total = global_moments(input._data, axes, group)
    if total <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{tuple(input.shape)} (on all processes together)")
    y = SyncNormalize.apply(input, weight, bias, axes=axes, eps=eps, wshape=_channel_shape(input),
                            stats=(mean, var, xc), total=total, group=group)
    _update_running(running_mean, running_var, mean.reshape(-1), var.reshape(-1), total,
                    momentum)
    return y

