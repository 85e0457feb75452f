"""Image grids: torchvision.utils.make_grid / save_image, and a model's first-layer filters."""
import math

import numpy as np

from .._tensor import Tensor
from ._plot import pyplot

__all__ = ["make_grid", "save_image", "filter_grid"]


def _array(x):
    return x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """Tile images (B, C, H, W) (or a list of (C, H, W)) into one image (3, H', W'), ``nrow``
    per row, ``padding`` pixels of ``pad_value`` between and around them; single-channel
    images are repeated to 3 channels, as torchvision does. ``normalize`` rescales to [0, 1]
    by ``value_range`` (default: min and max of all images, or of each with ``scale_each``).
    Returns a Tensor of the input's dtype (no gradient)."""
    import shendu
    arr = np.stack([_array(t) for t in tensor]) if isinstance(tensor, (list, tuple)) \
        else _array(tensor)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[None] if arr.shape[0] in (1, 3) else arr[:, None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected images (B, C, H, W), got shape {arr.shape}")
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    arr = arr.astype(arr.dtype if arr.dtype.kind == "f" else np.float32, copy=True)
    if normalize:
        def norm(a, lo, hi):
            a[...] = np.clip(a, lo, hi)
            a -= lo
            a /= max(hi - lo, 1e-5)
        if scale_each:
            for a in arr:
                norm(a, *(value_range or (a.min(), a.max())))
        else:
            norm(arr, *(value_range or (arr.min(), arr.max())))
    B, C, H, W = arr.shape
    if B == 1:
        return shendu.tensor(arr[0])
    cols = min(nrow, B)
    rows = int(math.ceil(B / cols))
    h, w = H + padding, W + padding
    out = np.full((C, rows * h + padding, cols * w + padding), pad_value, dtype=arr.dtype)
    for k in range(B):
        r, c = divmod(k, cols)
        out[:, r * h + padding:r * h + padding + H, c * w + padding:c * w + padding + W] = arr[k]
    return shendu.tensor(out)


def save_image(tensor, fp, **kwargs):
    """Write images (B, C, H, W) as one PNG grid (``make_grid``'s keyword arguments)."""
    grid = _array(make_grid(tensor, **kwargs))
    img = (np.clip(grid * 255 + 0.5, 0, 255)).astype(np.uint8).transpose(1, 2, 0)
    pyplot("save_image").imsave(fp, img)
    return fp


def filter_grid(model_or_weight, path=None, nrow=8, padding=1, scale_each=True):
    """The first convolution's filters as one grid (3, H', W') in [0, 1], each filter scaled to
    its own range (``scale_each``); ``model_or_weight`` is a model (its first Conv2d) or a
    weight (out, in, kH, kW). Filters with 3 input channels show in colour, others as the
    mean over input channels. Saved as PNG when ``path`` is given."""
    from .inside import first_conv
    w = model_or_weight
    if not isinstance(w, Tensor):
        w = first_conv(model_or_weight)[1].weight
    w = _array(w)
    if w.ndim != 4:
        raise ValueError(f"filter_grid: expected a conv weight (out, in, kH, kW), got shape "
                         f"{w.shape}")
    if w.shape[1] != 3:
        w = w.mean(1, keepdims=True)
    grid = make_grid(w, nrow=nrow, padding=padding, normalize=True, scale_each=scale_each,
                     pad_value=1.0)
    if path is not None:
        save_image(grid[None], path, padding=0)
    return grid
