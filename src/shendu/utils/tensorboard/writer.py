"""SummaryWriter with torch.utils.tensorboard's signature, over tensorboardX.

Tensors, arrays and Python numbers are accepted wherever torch takes a tensor.
``add_graph`` traces one forward pass of a shendu module and writes its module graph:
one node per layer call (named by its path in ``named_modules()``, e.g.
``LeNet/conv1``), edges from the autograd graph between them, so residual additions and
concatenations show as joins.
"""
import os

import numpy as np

__all__ = ["SummaryWriter"]


def _tbx():
    try:
        import tensorboardX
    except ImportError:
        raise ImportError("shendu.utils.tensorboard needs tensorboardX: "
                          "pip install 'shendu[tensorboard]'") from None
    return tensorboardX


def _np(x):
    """A shendu Tensor (detached), an ndarray, a list or a number, as NumPy."""
    from ..._tensor import Tensor
    if isinstance(x, Tensor):
        return x.detach().numpy()
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], Tensor):
        return np.stack([t.detach().numpy() for t in x])
    return np.asarray(x)


def _scalar(x):
    a = _np(x)
    if a.size != 1:
        raise ValueError(f"add_scalar expects a single value, got an array of shape {a.shape}")
    return float(a.reshape(()))


class SummaryWriter:
    """``SummaryWriter(log_dir=None, comment='', purge_step=None, max_queue=10,
    flush_secs=120, filename_suffix='')`` as torch's: ``log_dir`` defaults to
    ``runs/<date>_<host><comment>``."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        tbx = _tbx()
        self._w = tbx.SummaryWriter(logdir=log_dir, comment=comment, purge_step=purge_step,
                                    max_queue=max_queue, flush_secs=flush_secs,
                                    filename_suffix=filename_suffix)
        self.log_dir = self._w.logdir
        self._runs = {}
        self._max_queue, self._flush_secs, self._suffix = max_queue, flush_secs, filename_suffix

    def get_logdir(self):
        return self.log_dir

    # ---------------------------------------------------------------- values
    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        self._w.add_scalar(tag, _scalar(scalar_value), global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Each value goes to its own run ``<log_dir>/<main_tag>_<tag>`` under the tag
        ``main_tag`` (torch's layout, so TensorBoard draws them in one chart)."""
        from tensorboardX import FileWriter
        from tensorboardX.summary import scalar
        for tag, v in tag_scalar_dict.items():
            path = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            fw = self._runs.get(path)
            if fw is None:
                fw = self._runs[path] = FileWriter(path, self._max_queue, self._flush_secs,
                                                   self._suffix)
            fw.add_summary(scalar(main_tag, _scalar(v)), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        v = _np(values).astype(np.float64).reshape(-1)
        if v.size == 0:
            raise ValueError(f"add_histogram({tag!r}): the values are empty")
        self._w.add_histogram(tag, v, global_step, bins, walltime, max_bins)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """A float image in [0, 1] or a uint8 image in [0, 255]."""
        self._w.add_image(tag, _np(img_tensor), global_step, walltime, dataformats)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None,
                   dataformats="NCHW"):
        self._w.add_images(tag, _np(img_tensor), global_step, walltime, dataformats)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        self._w.add_figure(tag, figure, global_step, close, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._w.add_text(tag, text_string, global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None,
                    run_name=None, global_step=None):
        """Hyper-parameters and their metrics for TensorBoard's HPARAMS tab, written (as
        torch) to a run of their own, ``run_name`` (default: the current time).
        ``hparam_domain_discrete`` is accepted for torch's signature; tensorboardX infers
        the domains from the values."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("add_hparams: hparam_dict and metric_dict must be dicts")
        hp = {k: (v if isinstance(v, (bool, str)) else _scalar(v)) for k, v in
              hparam_dict.items()}
        self._w.add_hparams(hp, {k: _scalar(v) for k, v in metric_dict.items()},
                            name=run_name, global_step=global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """Trace ``model(*input_to_model)`` once and write its layer graph."""
        from .graph import module_graph
        from tensorboardX.proto import event_pb2
        if input_to_model is None:
            raise ValueError("add_graph needs input_to_model (a tensor or a tuple of them) "
                             "to trace the model")
        graph = module_graph(model, input_to_model)
        if verbose:
            print(graph)
        self._w._get_file_writer().add_event(
            event_pb2.Event(graph_def=graph.SerializeToString()))

    # ---------------------------------------------------------------- file
    def flush(self):
        self._w.flush()
        for fw in self._runs.values():
            fw.flush()

    def close(self):
        self._w.close()
        for fw in self._runs.values():
            fw.close()
        self._runs = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
