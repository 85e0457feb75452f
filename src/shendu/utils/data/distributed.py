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

__all__ = ["DistributedSampler"]


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
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = g.np.permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use the permutation of this epoch (seeded by ``seed + epoch``)."""
        self.epoch = epoch
