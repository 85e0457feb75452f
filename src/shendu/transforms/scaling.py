"""Input normalisation fitted on the training set: z-score standardisation, min-max scaling
and a log transform (seed 002 §3.6.5 lists them: min-max suits values that are bunched
together but is unstable when min and max are; z-score gives mean 0 and std 1; seed 003
adds non-linear maps such as log(V, 2) or log(V, 10), chosen by the data's distribution).

    scaler = Standardize().fit(train_images)      # statistics of the training set only
    x_train, x_test = scaler(train_images), scaler(test_images)

``fit`` takes an (N, ...) array or tensor of samples, a DataLoader (its batches), or any
iterable of samples (a Dataset: ``(sample, label)`` pairs use the sample). Which axes share
a statistic is set by ``per``:

* ``"channel"`` (default): one value per index of the sample's first axis - per channel
  for (C, H, W) images, per feature for 1-D samples;
* ``"element"``: one value per position of the sample;
* ``"all"``: one value for everything.

The fitted transform works on one sample or on a batch (statistics broadcast), returns
the input's type (Tensor or ndarray) and a float result.
"""
import numpy as np

from .._tensor import Tensor, _make
from .. import _dtype
from .transforms import Transform

__all__ = ["Standardize", "MinMaxScale", "LogTransform"]

_PER = ("channel", "element", "all")


def _array(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _batches(data):
    """Yield (n, *sample_shape) float64 arrays from the forms ``fit`` accepts."""
    from ..utils.data import DataLoader
    if isinstance(data, (np.ndarray, Tensor)):
        yield _array(data).astype(np.float64, copy=False)
        return
    is_loader = isinstance(data, DataLoader)
    for item in data:
        if isinstance(item, (tuple, list)):
            item = item[0]
        arr = _array(item).astype(np.float64, copy=False)
        yield arr if is_loader else arr[None]


class _Fitted(Transform):
    """Running statistics over the sample axis, merged chunk by chunk (Chan et al.)."""

    def __init__(self, per):
        if per not in _PER:
            raise ValueError(f"per should be one of {_PER}, got {per!r}")
        self.per = per

    def _axes(self, ndim):
        """Axes of an (n, *sample) chunk reduced into one statistic."""
        if self.per == "element":
            return (0,)
        if self.per == "all":
            return tuple(range(ndim))
        return (0,) + tuple(range(2, ndim))

    def _stats(self, data):
        """(count, mean, M2, min, max) with the reduced axes kept (length 1), sample-shaped."""
        n = 0
        for b in _batches(data):
            if b.ndim < 1 or b.shape[0] == 0:
                continue
            ax = self._axes(b.ndim)
            m = int(np.prod([b.shape[a] for a in ax]))
            mb = b.mean(axis=ax, keepdims=True)
            m2b = ((b - mb) ** 2).sum(axis=ax, keepdims=True)
            lo, hi = b.min(axis=ax, keepdims=True), b.max(axis=ax, keepdims=True)
            if n == 0:
                n, mean, m2, mn, mx = m, mb, m2b, lo, hi
                continue
            if mb.shape != mean.shape:
                raise ValueError(f"samples of different shapes: statistics of shape "
                                 f"{mean.shape[1:]} and {mb.shape[1:]}")
            d = mb - mean
            tot = n + m
            mean = mean + d * m / tot
            m2 = m2 + m2b + d * d * n * m / tot
            mn, mx, n = np.minimum(mn, lo), np.maximum(mx, hi), tot
        if n == 0:
            raise ValueError(f"{type(self).__name__}.fit: no data")
        return n, mean[0], m2[0], mn[0], mx[0]

    def _apply(self, x, fn):
        arr = _array(x)
        dt = arr.dtype if arr.dtype.kind == "f" else np.dtype(_dtype.default_float())
        out = fn(arr.astype(dt, copy=False), dt)
        return _make(out, None, 0) if isinstance(x, Tensor) else out

    def _need_fit(self, *stats):
        if any(s is None for s in stats):
            raise RuntimeError(f"{type(self).__name__} has no statistics: call .fit(train_data) "
                               "first (or pass them to the constructor)")


class Standardize(_Fitted):
    """z-score: ``(x - mean) / std`` with the training set's mean and (population)
    standard deviation; a zero std is replaced by 1. ``inverse`` undoes it."""

    def __init__(self, mean=None, std=None, per="channel"):
        super().__init__(per)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)

    def fit(self, data):
        n, mean, m2, _, _ = self._stats(data)
        std = np.sqrt(m2 / n)
        self.mean, self.std = mean, np.where(std == 0, 1.0, std)
        return self

    def forward(self, x):
        self._need_fit(self.mean, self.std)
        return self._apply(x, lambda a, dt: (a - self.mean.astype(dt)) / self.std.astype(dt))

    def inverse(self, x):
        self._need_fit(self.mean, self.std)
        return self._apply(x, lambda a, dt: a * self.std.astype(dt) + self.mean.astype(dt))


class MinMaxScale(_Fitted):
    """Linear scaling ``(x - min) / (max - min)`` into ``feature_range`` (default [0, 1])
    with the training set's min and max (a constant feature maps to the range's low end).
    Values outside the training range fall outside ``feature_range``."""

    def __init__(self, feature_range=(0.0, 1.0), min=None, max=None, per="channel"):
        super().__init__(per)
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(f"feature_range should be (low, high) with low < high, got "
                             f"{feature_range}")
        self.feature_range = (float(lo), float(hi))
        self.min = None if min is None else np.asarray(min, dtype=np.float64)
        self.max = None if max is None else np.asarray(max, dtype=np.float64)

    def fit(self, data):
        _, _, _, self.min, self.max = self._stats(data)
        return self

    def _scale(self):
        span = self.max - self.min
        return (self.feature_range[1] - self.feature_range[0]) / np.where(span == 0, 1.0, span)

    def forward(self, x):
        self._need_fit(self.min, self.max)
        lo, k = self.feature_range[0], self._scale()
        return self._apply(x, lambda a, dt: (a - self.min.astype(dt)) * k.astype(dt) + dt.type(lo))

    def inverse(self, x):
        self._need_fit(self.min, self.max)
        lo, k = self.feature_range[0], self._scale()
        return self._apply(x, lambda a, dt: (a - dt.type(lo)) / k.astype(dt) + self.min.astype(dt))


class LogTransform(_Fitted):
    """Non-linear scaling ``log_base(x + offset)`` for data spanning orders of magnitude
    (seed 003: log(V, 2) or log(V, 10)). Nothing to fit: ``fit`` returns the transform."""

    def __init__(self, base=np.e, offset=1.0):
        super().__init__("all")
        if base <= 0 or base == 1:
            raise ValueError(f"base should be positive and not 1, got {base}")
        self.base = float(base)
        self.offset = float(offset)

    def fit(self, data=None):
        return self

    def forward(self, x):
        def log(a, dt):
            shifted = a + dt.type(self.offset)
            if (shifted <= 0).any():
                raise ValueError(f"LogTransform: x + offset must be positive; the smallest x is "
                                 f"{a.min()} with offset {self.offset}")
            return (np.log(shifted) / np.log(self.base)).astype(dt)
        return self._apply(x, log)

    def inverse(self, x):
        return self._apply(x, lambda a, dt: (self.base ** a - self.offset).astype(dt))
