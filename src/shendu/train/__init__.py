"""Training: ``fit``, ``evaluate``, ``predict``, callbacks, metrics, progress and history."""
from .loop import Trainer, fit, evaluate, predict
from .callbacks import Callback, EarlyStopping, ModelCheckpoint, CSVLogger, LambdaCallback
from .history import History
from .metrics import accuracy, error, top_k_accuracy
from .progress import ProgressBar
from .tensorboard import TensorBoard

__all__ = ["Trainer", "fit", "evaluate", "predict", "Callback", "EarlyStopping",
           "ModelCheckpoint", "CSVLogger", "LambdaCallback", "History", "accuracy", "error",
           "top_k_accuracy", "ProgressBar", "TensorBoard"]
