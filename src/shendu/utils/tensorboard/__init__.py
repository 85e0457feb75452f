"""``shendu.utils.tensorboard.SummaryWriter``: torch.utils.tensorboard's writer for shendu
tensors and modules. It writes real TensorBoard event files through ``tensorboardX``
(``pip install 'shendu[tensorboard]'``); view them with ``tensorboard --logdir runs``."""
from .writer import SummaryWriter

__all__ = ["SummaryWriter"]
