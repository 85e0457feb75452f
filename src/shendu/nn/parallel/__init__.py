"""shendu.nn.parallel: DistributedDataParallel (torch.nn.parallel's)."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
