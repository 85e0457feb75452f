"""The backend: the one place that knows how arrays are computed fast.

Everything here takes and returns NumPy arrays and imports nothing of shendu outside this
package (``tests/test_layout.py`` checks it): the ops in ``shendu/_ops`` write the maths
and call these routines for the array work.

==================  ================================================================
``settings``        the environment switches, read once
``threads``         BLAS's and shendu's thread pools; set_num_threads / get_num_threads
``memory``          malloc tuning and grow-only scratch buffers
``kernels``         the numba machinery: ``@kernel``, ``@sum_kernel``, ``run_split``, ``enabled``
``elementwise``     the split ufunc; relu / select / tanh / sigmoid routines and kernels
``conv``            convolution's geometry, im2col / col2im, chunks and three faces
``pool``            max pooling's window routines and 2x2 kernels
``winograd``        F(2x2, 3x3) for stride-1 3x3 convolutions (conv.py chooses it)
``rnn``             one LSTM / GRU / RNN time step, forward in place, backward kernels
``softmax``         row-wise (log-)softmax and index cross-entropy, rows split over threads
``updates``         optimizer update rules as one compiled pass (SGD), NumPy twins in optim/
``batchnorm``       batch norm's statistics, affine map and backward as compiled passes
==================  ================================================================

Importing the package applies the process-wide settings once: OpenBLAS's idle spin
(threads.shorten_blas_spin) and glibc's malloc thresholds (memory.tune_malloc).

A new kernel goes into the module of its concern, beside its NumPy twin (see kernels.py).
"""
from . import settings, threads
threads.shorten_blas_spin()        # first, so that when NumPy is not loaded yet, OpenBLAS
from . import memory               # noqa: E402   reads the setting as it loads
memory.tune_malloc()
from . import kernels, elementwise, conv, pool  # noqa: E402,F401
from .threads import set_num_threads, get_num_threads  # noqa: E402

__all__ = ["set_num_threads", "get_num_threads"]
