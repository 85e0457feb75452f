"""Padding layers against torch: every family (constant/zero, reflection, replication,
circular) in 1, 2 and 3 dims, int and tuple paddings, batched and unbatched."""
import numpy as np
import pytest
import torch

import shendu
import shendu.nn as nn
from torch_oracle import check, gradchecks

CASES = [
    ("ZeroPad1d", (2,), (2, 3, 5)),
    ("ZeroPad1d", ((1, 3),), (3, 5)),
    ("ZeroPad2d", (1,), (2, 3, 4, 5)),
    ("ZeroPad2d", ((1, 0, 2, 3),), (3, 4, 5)),
    ("ZeroPad2d", ((-1, 2, 0, -2),), (1, 2, 4, 5)),
    ("ZeroPad3d", ((1, 0, 2, 1, 0, 1),), (1, 2, 3, 4, 2)),
    ("ConstantPad1d", ((2, 1), 3.5), (2, 3, 4)),
    ("ConstantPad2d", (2, -1.0), (2, 3, 4)),
    ("ConstantPad3d", ((1, 1, 0, 2, 1, 0), 0.5), (2, 1, 2, 3, 2)),
    ("ReflectionPad1d", ((3, 1),), (2, 3, 5)),
    ("ReflectionPad2d", (2,), (2, 3, 4, 5)),
    ("ReflectionPad2d", ((1, 3, 0, 2),), (3, 4, 5)),
    ("ReflectionPad3d", ((1, 0, 1, 2, 0, 1),), (1, 2, 3, 4, 3)),
    ("ReplicationPad1d", ((0, 4),), (2, 3, 3)),
    ("ReplicationPad2d", ((2, 1, 3, 0),), (2, 3, 4, 5)),
    ("ReplicationPad3d", (1,), (1, 2, 3, 3, 2)),
    ("CircularPad1d", ((2, 1),), (2, 3, 4)),
    ("CircularPad2d", ((1, 2, 2, 0),), (2, 3, 4, 5)),
    ("CircularPad2d", (1,), (3, 4, 5)),
    ("CircularPad3d", ((1, 0, 0, 1, 2, 1),), (1, 2, 3, 4, 3)),
]


@pytest.mark.parametrize("name,args,xs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_padding_parity(name, args, xs):
    check(lambda L, x: getattr(L.nn, name)(*args)(x), xs)
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    assert getattr(nn, name)(*args).padding == getattr(torch.nn, name)(*args).padding


def test_gradchecks():
    gradchecks(lambda L, x: L.nn.ReflectionPad2d((1, 2, 2, 0))(x) ** 2, (1, 1, 3, 4))
    gradchecks(lambda L, x: L.nn.ReplicationPad1d((2, 1))(x) ** 2, (1, 2, 3))
    gradchecks(lambda L, x: L.nn.CircularPad2d(1)(x) ** 2, (1, 1, 2, 3))
    gradchecks(lambda L, x: L.nn.ConstantPad2d(1, 2.0)(x) ** 2, (1, 1, 2, 3))


def test_float32_smoke():
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 3, 4)
    y = nn.ReflectionPad2d(1)(shendu.tensor(x))
    assert y.dtype == shendu.float32
    np.testing.assert_array_equal(y.numpy(), torch.nn.ReflectionPad2d(1)(torch.tensor(x)).numpy())


def test_errors():
    with pytest.raises(ValueError, match="tuple of 4"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(nn.LayerInputError, match="expected a 3-D \\(unbatched\\) or 4-D"):
        nn.ReflectionPad2d(1)(shendu.randn(5, 5))
    with pytest.raises(RuntimeError, match="Padding size should be less than"):
        nn.ReflectionPad1d(3)(shendu.randn(1, 2, 3))
