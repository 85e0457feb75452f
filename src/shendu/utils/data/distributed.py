"""DistributedSampler (torch.utils.data.distributed's): each process gets its own share.

Every epoch the indices are shuffled (a permutation seeded by ``seed + epoch``, the same on
every process: call ``set_epoch(epoch)`` before each epoch), padded by repeating the first
ones until the count divides by the number of processes (or cut, with ``drop_last``), and
dealt out round-robin: process r takes positions r, r + R, r + 2R, ... So the shares are
disjoint, equal in size, and together cover the dataset.

The permutation comes from shendu's Generator (PCG64), so it differs from torch's for the
same seed; the partition, the padding and the lengths are torch's.
"""
import math

from .sampler import Sampler
from ..._random import Generator

__all__ = ["DistributedSampler", "ShardedSampler"]


def _shares(n, num_replicas, drop_last):
    """(indices per process, total over processes) for ``n`` indices, as torch counts them."""
    if drop_last and n % num_replicas != 0:
        per = math.ceil((n - num_replicas) / num_replicas)
    else:
        per = math.ceil(n / num_replicas)
    return per, per * num_replicas


def _deal(indices, total_size, num_replicas, rank, drop_last):
    """Pad ``indices`` by repeating them from the start (or cut them, with ``drop_last``) to
    ``total_size``, then deal them out round-robin: process ``rank``'s share."""
    if not drop_last:
        pad = total_size - len(indices)
        if pad <= len(indices):
            indices = indices + indices[:pad]
        else:
            indices = indices + (indices * math.ceil(pad / len(indices)))[:pad]
    else:
        indices = indices[:total_size]
    return indices[rank:total_size:num_replicas]


class DistributedSampler(Sampler):
    """Indices of ``dataset`` for process ``rank`` of ``num_replicas`` (defaults: this
    process's rank and the world size of the initialized process group)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler needs num_replicas and rank, or an "
                                   "initialized process group (shendu.distributed."
                                   "init_process_group)")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        self.num_samples, self.total_size = _shares(len(dataset), num_replicas, drop_last)
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = g.np.permutation(n).tolist()
        else:
            indices = list(range(n))
        return iter(_deal(indices, self.total_size, self.num_replicas, self.rank,
                          self.drop_last))

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use the permutation of this epoch (seeded by ``seed + epoch``)."""
        self.epoch = epoch


class ShardedSampler(Sampler):
    """Process ``rank``'s share of another sampler's indices, dealt out as DistributedSampler
    deals its permutation (padding or ``drop_last`` alike).

    Every process iterates its own copy of ``sampler``; seeded alike (a RandomSampler with a
    Generator of the same seed), they yield the same order, so the shares are disjoint. With
    a per-process batch of B/N, batch k of the N processes together is batch k of one process
    at batch B over ``sampler``: N processes train on exactly the batches one process would.
    """

    def __init__(self, sampler, num_replicas, rank, drop_last=False):
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.sampler, self.num_replicas, self.rank = sampler, num_replicas, rank
        self.drop_last = drop_last
        self.num_samples, self.total_size = _shares(len(sampler), num_replicas, drop_last)

    @property
    def generator(self):
        return getattr(self.sampler, "generator", None)

    def __iter__(self):
        return iter(_deal(list(self.sampler), self.total_size, self.num_replicas, self.rank,
                          self.drop_last))

    def __len__(self):
        return self.num_samples
