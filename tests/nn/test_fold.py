"""F.unfold / F.fold and the Unfold / Fold modules (im2col / col2im as torch exposes them)."""
import numpy as np
import pytest
import torch

import shendu
import shendu.nn as nn
import shendu.nn.functional as F
from torch_oracle import check, gradchecks

UNFOLD = [
    ("plain", (2, 3, 5, 6), dict(kernel_size=2)),
    ("rect_all", (2, 3, 7, 8), dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=2)),
    ("stride_gt_kernel", (1, 2, 9, 7), dict(kernel_size=2, stride=(3, 4))),
    ("single_channel_batch1", (1, 1, 4, 4), dict(kernel_size=3, padding=2)),
    ("unbatched", (3, 5, 5), dict(kernel_size=(3, 1))),
]


@pytest.mark.parametrize("name,xs,kw", UNFOLD, ids=[c[0] for c in UNFOLD])
def test_unfold_parity(name, xs, kw):
    check(lambda L, x: L.nn.functional.unfold(x, **kw), xs)
    check(lambda L, x: L.nn.Unfold(**kw)(x), xs)


FOLD = [
    ("plain", (2, 12, 12), dict(output_size=(4, 5), kernel_size=2)),
    ("rect_all", (2, 18, 12), dict(output_size=(7, 8), kernel_size=(2, 3), dilation=(1, 2),
                                   padding=1, stride=2)),
    ("stride_gt_kernel", (1, 8, 6), dict(output_size=(9, 7), kernel_size=2, stride=(3, 4))),
    ("unbatched", (9, 9), dict(output_size=3, kernel_size=(3, 1), padding=(1, 0))),
]


@pytest.mark.parametrize("name,xs,kw", FOLD, ids=[c[0] for c in FOLD])
def test_fold_parity(name, xs, kw):
    check(lambda L, x: L.nn.functional.fold(x, **kw), xs)
    check(lambda L, x: L.nn.Fold(**kw)(x), xs)


def test_fold_of_unfold_counts_windows():
    """fold(unfold(x)) = x * (number of blocks covering each pixel), torch's documented identity."""
    x = shendu.randn(1, 2, 5, 6, dtype=shendu.float64)
    kw = dict(kernel_size=(2, 3), padding=1, stride=1)
    ones = F.fold(F.unfold(shendu.ones_like(x), **kw), (5, 6), **kw)
    y = F.fold(F.unfold(x, **kw), (5, 6), **kw)
    np.testing.assert_allclose(y.numpy(), (x * ones).numpy(), rtol=1e-12)


def test_unfold_then_matmul_is_conv():
    """Seed 004: convolution = im2col, then one matrix product with the kernels as rows."""
    rng = np.random.default_rng(0)
    x = shendu.tensor(rng.standard_normal((2, 3, 6, 7)))
    w = shendu.tensor(rng.standard_normal((4, 3, 3, 2)))
    cols = F.unfold(x, (3, 2), padding=1, stride=2)                   # (2, 18, L)
    y = (w.reshape(4, -1) @ cols).reshape(2, 4, 3, 4)
    np.testing.assert_allclose(y.numpy(), F.conv2d(x, w, padding=1, stride=2).numpy(),
                               rtol=1e-12, atol=1e-12)


def test_gradchecks():
    gradchecks(lambda L, x: L.nn.functional.unfold(x, (2, 3), dilation=(2, 1), padding=1,
                                                   stride=2), (1, 2, 5, 5))
    gradchecks(lambda L, x: L.nn.functional.fold(x, (5, 5), (2, 3), padding=1, stride=2),
               (1, 12, 9))
    gradchecks(lambda L, x: L.nn.functional.unfold(x, 2) ** 2, (1, 1, 3, 3))


def test_float32_smoke():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    y = F.unfold(shendu.tensor(x), 3, padding=1)
    assert y.dtype == shendu.float32
    np.testing.assert_allclose(y.numpy(), torch.nn.functional.unfold(torch.tensor(x), 3, padding=1)
                               .numpy())
    z = F.fold(y, 6, 3, padding=1)
    assert z.dtype == shendu.float32 and z.shape == (2, 3, 6, 6)


def test_repr_matches_torch():
    for args, kw in [((4, 2), {}), (((5, 6), (2, 3)), dict(padding=1, stride=(1, 2)))]:
        assert repr(nn.Fold(*args, **kw)) == repr(torch.nn.Fold(*args, **kw))
    assert repr(nn.Unfold((2, 3), padding=1)) == repr(torch.nn.Unfold((2, 3), padding=1))


def test_errors():
    with pytest.raises(RuntimeError, match="Only 3D or 4D input"):
        F.unfold(shendu.randn(2, 3, 5, 5, 5), 2)
    with pytest.raises(RuntimeError, match="must be at least one"):
        F.unfold(shendu.randn(2, 3, 2, 2), 3)
    with pytest.raises(RuntimeError, match="number of sliding blocks 3 \\* 3 = 9"):
        F.fold(shendu.randn(2, 12, 3), (4, 4), 2)
    with pytest.raises(RuntimeError, match="divisible by the product of kernel_size"):
        F.fold(shendu.randn(2, 10, 9), (4, 4), 2)
    with pytest.raises(RuntimeError, match="Expected 2D \\(unbatched\\) or 3D"):
        F.fold(shendu.randn(2, 2, 12, 9), (4, 4), 2)
