"""shendu.backend.softmax: the row-wise (log-)softmax and index cross-entropy, split over
threads for large inputs. The split must change no bit against the one-chain NumPy form, and
the ops built on it must match torch (float64, forward and backward) on inputs large enough
to split."""
import numpy as np
import pytest
import torch

import shendu
import shendu.nn.functional as F
from shendu.backend import softmax as S
from shendu.backend.elementwise import UFUNC_SPLIT_MIN


def _chain_log_softmax(x):
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _chain_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 5), (613, 509)])      # unsplit, split (odd rows)
def test_rows_equal_the_plain_chain_bit_for_bit(two_threads, dtype, shape):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    assert (x.size >= UFUNC_SPLIT_MIN) == (shape[0] > 100)
    np.testing.assert_array_equal(S.log_softmax(x), _chain_log_softmax(x))
    np.testing.assert_array_equal(S.softmax(x), _chain_softmax(x))
    y = rng.integers(0, shape[1], shape[0])
    loss, p = S.xent_index(x, y, True)
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(loss, np.log(s[:, 0]) - z[np.arange(shape[0]), y])
    np.testing.assert_array_equal(p, e / s)
    assert S.xent_index(x, y, False)[1] is None
    f = rng.standard_normal(shape[0]).astype(dtype)
    want = p * f[:, None]
    want[np.arange(shape[0]), y] -= f
    np.testing.assert_array_equal(S.xent_index_grad(p, y, f), want)


@pytest.mark.parametrize("kw", [{}, {"reduction": "sum"}, {"reduction": "none"},
                                {"ignore_index": 3}, {"weight": True}])
def test_cross_entropy_large_matches_torch(two_threads, kw):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((600, 450)) * 3
    y = rng.integers(0, 450, 600)
    y[::7] = 3
    kw = dict(kw)
    if kw.get("weight"):
        kw["weight"] = rng.random(450) + 0.5
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    skw = {k: shendu.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    xt = torch.tensor(x, requires_grad=True)
    xs = shendu.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(y), **tkw)
    ls = F.cross_entropy(xs, shendu.tensor(y), **skw)
    np.testing.assert_allclose(ls.detach().numpy(), lt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(lt.shape)
    lt.backward(torch.tensor(g))
    ls.backward(shendu.tensor(g))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_large_last_axis_matches_torch(two_threads, name):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 200, 470)) * 4
    xt = torch.tensor(x, requires_grad=True)
    xs = shendu.tensor(x, requires_grad=True)
    yt = getattr(torch, name)(xt, -1)
    ys = getattr(shendu, name)(xs, -1)
    np.testing.assert_allclose(ys.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(x.shape)
    yt.backward(torch.tensor(g))
    ys.backward(shendu.tensor(g))
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    ys32 = getattr(shendu, name)(shendu.tensor(x.astype(np.float32)), 2)
    assert ys32.dtype == shendu.float32 and np.isfinite(ys32.numpy()).all()
