"""shendu.optim: optimizers (torch.optim's, plus FTRL and the proximal family: seed 002
§3.11 lists the common optimizers as TensorFlow names them, among them FTRL, proximal
gradient descent, proximal Adagrad and Adagrad-DA), learning-rate schedules (``optim.lr_scheduler``) and the max-norm constraint hook."""
from .optimizer import (Optimizer, required, register_optimizer_step_pre_hook,
                        register_optimizer_step_post_hook)
from .sgd import SGD
from .adam import Adam
from .adamw import AdamW
from .adagrad import Adagrad
from .adadelta import Adadelta
from .rmsprop import RMSprop
from .adamax import Adamax
from .nadam import NAdam
from .radam import RAdam
from .rprop import Rprop
from .asgd import ASGD
from .lbfgs import LBFGS
from .ftrl import FTRL
from .proximal_sgd import ProximalSGD
from .proximal_adagrad import ProximalAdagrad
from .adagrad_da import AdagradDA
from .max_norm import max_norm_hook
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop", "Adamax",
           "NAdam", "RAdam", "Rprop", "ASGD", "LBFGS", "FTRL", "ProximalSGD", "ProximalAdagrad",
           "AdagradDA", "max_norm_hook", "lr_scheduler", "required",
           "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]
