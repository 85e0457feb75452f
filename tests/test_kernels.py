"""The compiled kernels (shendu.backend, numba) against their NumPy twins, which are the
reference: 2x2 max pooling forward (values, indices) and backward, and conv's widened-row
col2im. Where numba is missing, the kernels' plain-Python loops are checked instead on
small inputs, and the ops must still run (on the twins)."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import shendu
import shendu.nn.functional as SF
from shendu.backend import kernels as _kernels
from shendu.backend import conv as C
from shendu.backend import pool as BP
from shendu.backend import elementwise as BE

HAVE_NUMBA = _kernels._numba_importable()
needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")


@pytest.fixture
def kernels_on():
    prev = _kernels.set_enabled(True)
    yield
    _kernels.set_enabled(prev)


def _both(fn):
    """fn() with the kernels on, then off (the NumPy twins)."""
    prev = _kernels.enabled()
    try:
        _kernels.set_enabled(True)
        a = fn()
        _kernels.set_enabled(False)
        b = fn()
    finally:
        _kernels._state["enabled"] = prev
    return a, b


def _pool_run(x, g, **kw):
    """max_pool2d of x (values, indices, input gradient for upstream g) as arrays."""
    t = shendu.tensor(x, requires_grad=True)
    out, idx = SF.max_pool2d(t, 2, return_indices=True, **kw)
    out.backward(shendu.tensor(g))
    return out.detach().numpy(), idx.numpy(), t.grad.numpy()


POOL_CASES = [
    ((2, 3, 6, 6), {}),
    ((3, 2, 9, 7), {}),                                  # odd sizes: a tail no window reads
    ((2, 3, 9, 7), dict(ceil_mode=True)),                # windows over the padding
    ((1, 4, 8, 5), dict(padding=1)),
    ((2, 2, 7, 8), dict(padding=1, ceil_mode=True)),
    ((5, 1, 2, 2), {}),
    ((100, 6, 24, 24), {}),                              # big enough to split over threads
]


@needs_numba
@pytest.mark.parametrize("shape,kw", POOL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_kernel_equals_numpy_twin(shape, kw, dtype, ties):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, size=shape) if ties else rng.standard_normal(shape)
    x = x.astype(dtype)
    ref = torch.nn.functional.max_pool2d(torch.tensor(x), 2, **kw)
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    (a, b) = _both(lambda: _pool_run(x, g, **kw))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a[0], ref.numpy())


GRID_CASES = [
    ((2, 3, 9, 9), dict(kernel_size=3, stride=2, padding=1)),           # ResNet's stem pool
    ((2, 2, 11, 7), dict(kernel_size=3, stride=1, padding=1)),          # GoogLeNet's 3x3/1
    ((3, 2, 13, 10), dict(kernel_size=(3, 2), stride=(2, 3), dilation=(2, 1))),
    ((2, 3, 10, 9), dict(kernel_size=3, stride=2, ceil_mode=True)),     # AlexNet's, a tail
    ((1, 2, 5, 17), dict(kernel_size=2, stride=1)),                     # rows of 4 and tails
    ((40, 8, 20, 20), dict(kernel_size=3, stride=2, padding=1)),        # splits over threads
]


@needs_numba
@pytest.mark.parametrize("shape,kw", GRID_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_grid_kernels_equal_numpy_twin_and_torch(shape, kw, dtype, ties, two_threads):
    """Any regular 2-D grid of windows (overlapping: the gradient sums, in the twin's
    order): values, torch's indices and the input gradient, bit for bit."""
    rng = np.random.default_rng(5)
    x = (rng.integers(-2, 3, size=shape) if ties else rng.standard_normal(shape)).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ref, ref_i = torch.nn.functional.max_pool2d(tx, return_indices=True, **kw)
    g = rng.standard_normal(tuple(ref.shape)).astype(dtype)
    ref.backward(torch.tensor(g))

    def run():
        t = shendu.tensor(x, requires_grad=True)
        out, idx = SF.max_pool2d(t, return_indices=True, **kw)
        out.backward(shendu.tensor(g))
        return out.detach().numpy(), idx.numpy(), t.grad.numpy()
    a, b = _both(run)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a[0], ref.detach().numpy())
    np.testing.assert_array_equal(a[1], ref_i.numpy())
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(a[2], tx.grad.numpy(), rtol=tol, atol=tol)


def test_max_pool_grid_kernels_in_plain_python():
    from shendu._ops import pooling as P
    rng = np.random.default_rng(7)
    x = rng.integers(-1, 2, size=(2, 3, 7, 9)).astype(np.float64)
    win = P.Windows.regular((7, 9), (3, 5), (3, 3), (2, 2), (1, 1), (1, 1))
    assert win.steps == ((2, 1), (2, 1)) and not win.pairs
    xp = win.pad(x, -np.inf)
    want_out, want_arg = BP.argmax_views([xp[k] for k in win.keys], True)
    out, arg = np.empty((6, 3, 5)), np.empty((6, 3, 5), np.uint8)
    assert not BP.max_pool_windows.py(xp.reshape((6,) + xp.shape[2:]), out, arg, 3, 3, 2, 2, 1, 1)
    np.testing.assert_array_equal(out.reshape(want_out.shape), want_out)
    np.testing.assert_array_equal(arg.reshape(want_arg.shape), want_arg)
    gy = rng.standard_normal(want_out.shape)
    want = BP.scatter_argmax(gy, want_arg, win.keys, np.zeros(xp.shape), False, True)
    got = np.zeros((6,) + xp.shape[2:])
    BP.max_unpool_windows.py(gy.reshape(6, 3, 5), arg, got, 3, 2, 2, 1, 1)
    np.testing.assert_array_equal(got.reshape(want.shape), want)


@needs_numba
@pytest.mark.parametrize("shape,kw", [((2, 3, 6, 6), dict(kernel_size=2, padding=1)),
                                      ((2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1))])
def test_max_pool_kernel_nan_and_minus_infinity_follow_torch(kernels_on, shape, kw):
    """2x2 pairs and the grid kernel: a NaN window and an all -inf one take torch's rule."""
    x = np.random.default_rng(1).standard_normal(shape)
    x[0, 1, 2, 3] = np.nan
    x[1, 0, 4:, 4:] = -np.inf
    x[1, 2, 0, 0] = np.inf
    want, want_i = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    got, got_i = SF.max_pool2d(shendu.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(got_i.numpy(), want_i.numpy())


@needs_numba
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_pool_kernel_second_derivative(kernels_on, kw):
    """MaxScatter's kernels sit on the double-backward path too."""
    x = shendu.tensor(np.random.default_rng(2).standard_normal((2, 2, 6, 4)),
                      requires_grad=True)
    assert shendu.autograd.gradcheck(lambda t: SF.max_pool2d(t, **kw) ** 2, (x,))
    assert shendu.autograd.gradgradcheck(lambda t: SF.max_pool2d(t, **kw) ** 2, (x,))


def test_max_pool_kernel_loops_in_plain_python():
    """The kernels' source, run as Python (no numba needed), against the NumPy twin."""
    from shendu._ops import pooling as P
    rng = np.random.default_rng(4)
    x = rng.integers(-1, 2, size=(2, 3, 5, 4)).astype(np.float64)
    win = P.Windows.regular((5, 4), (2, 2), (2, 2), (2, 2), (0, 0), (1, 1))
    assert win.pairs
    xp = win.pad(x, -np.inf)
    want_out, want_arg = BP.argmax_views([xp[k] for k in win.keys], True)
    out, arg = np.empty((6, 2, 2)), np.empty((6, 2, 2), np.uint8)
    assert not BP.max_pool_2x2.py(xp.reshape(6, 4, 4), out, arg)
    np.testing.assert_array_equal(out.reshape(want_out.shape), want_out)
    np.testing.assert_array_equal(arg.reshape(want_arg.shape), want_arg)
    gy = rng.standard_normal((2, 3, 2, 2))
    gx = np.empty((6, 4, 4))
    BP.max_unpool_2x2.py(gy.reshape(6, 2, 2), arg, gx)
    prev = _kernels.set_enabled(False) if HAVE_NUMBA else None
    try:
        want_gx = P.MaxScatter().forward(gy, win, want_arg)
    finally:
        if HAVE_NUMBA:
            _kernels._state["enabled"] = prev
    np.testing.assert_array_equal(gx.reshape(2, 3, 4, 4), want_gx[:, :, :4, :4])
    xn = xp.reshape(6, 4, 4).copy()
    xn[3, 1, 2] = np.nan
    assert BP.max_pool_2x2.py(xn, out, arg)       # the NaN is reported


# convolutions whose input gradient takes the widened-row col2im (stride 1, output much
# smaller than the input): no padding, padding, dilation, non-square, groups
COL2IM_CASES = [
    ((3, 6, 14, 14), (16, 6, 5, 5), dict()),
    ((2, 3, 11, 9), (4, 3, 3, 4), dict(padding=(1, 0))),
    ((2, 4, 16, 14), (6, 2, 3, 3), dict(dilation=2, groups=2)),
    ((1, 2, 9, 13), (3, 2, 4, 2), dict(padding=1, dilation=(2, 3))),
]


@needs_numba
@pytest.mark.parametrize("xs,ws,kw", COL2IM_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_kernel_equals_numpy_twin(xs, ws, kw, dtype):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    geom_used = []
    real = C._col2im_wide

    def spy(dcols, g, out):
        geom_used.append(g)
        return real(dcols, g, out)

    def run():
        t = shendu.tensor(x, requires_grad=True)
        y = SF.conv2d(t, shendu.tensor(w), **kw)
        y.backward(shendu.tensor(np.cos(np.arange(y.numel())).reshape(y.shape).astype(dtype)))
        return t.grad.numpy()
    C._col2im_wide = spy
    try:
        a, b = _both(run)
    finally:
        C._col2im_wide = real
    assert geom_used, "the case should take the widened-row col2im"
    np.testing.assert_array_equal(a, b)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, torch.tensor(w.astype(np.float64)), **kw)
    ty.backward(torch.tensor(np.cos(np.arange(ty.numel())).reshape(ty.shape)))
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(a, tx.grad.numpy(), rtol=tol, atol=tol)


def test_col2im_kernel_loop_in_plain_python():
    rng = np.random.default_rng(6)
    g = C.Geometry((10, 9), (8, 7), (3, 3), (1, 1), (1, 1), (0, 0))
    wide = C._wide_rows(g)
    assert wide is not None
    d = rng.standard_normal((2, 9, 3, int(np.prod(wide))))
    offsets, _ = C._flat_offsets(g)
    want = np.empty((3, 2, 10, 9))
    prev = _kernels._state["enabled"]
    _kernels._state["enabled"] = False
    try:
        C._col2im_wide(d, g, want)
    finally:
        _kernels._state["enabled"] = prev
    got = np.empty_like(want)
    C.col2im_rows.py(d, np.asarray(offsets, np.int64), g.L[1], g.lo[0], g.lo[1], got)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("S,K,s,d,lo", [((9, 8), (3, 3), (2, 2), (1, 1), (1, 1)),
                                        ((7, 10), (2, 3), (2, 3), (1, 1), (0, 1)),
                                        ((11, 9), (3, 2), (1, 2), (2, 1), (2, 0)),
                                        ((6, 6), (1, 1), (2, 2), (1, 1), (0, 0))])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_planes_kernel_equals_numpy_twin(S, K, s, d, lo, dtype):
    """Strided, dilated, non-square col2im (fold and the stride-2 transposed convolution):
    the compiled per-plane sum is bit for bit the NumPy form's K shifted adds, on a view
    with the batch axis moved (as face_x passes it); also the loop in plain Python."""
    rng = np.random.default_rng(9)
    P = tuple((n + 2 * l_ - dl * (k - 1) - 1) // st + 1 for n, l_, dl, k, st in zip(S, lo, d, K, s))
    g = C.Geometry(S, P, K, s, d, lo)
    cols = rng.standard_normal((3,) + K + (2,) + P).astype(dtype).transpose(3, 0, 1, 2, 4, 5)
    got, want = (np.empty((2, 3) + S, dtype) for _ in range(2))
    prev = _kernels._state["enabled"]
    try:
        _kernels._state["enabled"] = False
        C._col2im(cols, g, want)
        if HAVE_NUMBA:
            _kernels._state["enabled"] = True
            C._col2im(cols, g, got)
            np.testing.assert_array_equal(got, want)
    finally:
        _kernels._state["enabled"] = prev
    C.col2im_planes.py(cols, *g.s, *g.d, *g.lo, *g.L, got)
    np.testing.assert_array_equal(got, want)


def test_switch_and_environment():
    if HAVE_NUMBA:
        prev = _kernels.set_enabled(False)
        assert not _kernels.enabled()
        _kernels.set_enabled(prev)
    else:
        with pytest.raises(RuntimeError, match="numba"):
            _kernels.set_enabled(True)
    code = "import shendu.backend.kernels as k; print(k.enabled())"
    env = dict(os.environ, SHENDU_NUMBA="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "False"


@needs_numba
@pytest.mark.parametrize("shape", [(7,), (3, 5, 4), (64, 6, 28, 28), ()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernels_equal_numpy_twins(shape, dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size > 3:
        x.reshape(-1)[:3] = [0.0, -0.0, np.nan]
    g = rng.standard_normal(shape).astype(dtype)

    def run():
        t = shendu.tensor(x, requires_grad=True)
        y = shendu.relu(t)
        y.backward(shendu.tensor(g))
        return y.detach().numpy(), t.grad.numpy()
    a, b = _both(run)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.relu(tx)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(a[0], ty.detach().numpy())
    np.testing.assert_array_equal(a[1], tx.grad.numpy())


@needs_numba
def test_masked_gradient_kernel_follows_torch_for_infinite_gradients(kernels_on):
    """The select gives 0 where the mask is off even for an inf/NaN incoming gradient (the
    NumPy twin's multiply gives NaN there: the documented deviation)."""
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    g = np.array([np.inf, 1.0, np.nan, -np.inf])
    for fn in (lambda L, t: L.relu(t), lambda L, t: L.clamp(t, -2.0, 3.0),
               lambda L, t: L.nn.functional.hardtanh(t)):
        t = shendu.tensor(x, requires_grad=True)
        fn(shendu, t).backward(shendu.tensor(g))
        tt = torch.tensor(x, requires_grad=True)
        fn(torch, tt).backward(torch.tensor(g))
        np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())


@needs_numba
def test_relu_kernel_non_contiguous_and_double_backward(kernels_on):
    x = np.random.default_rng(8).standard_normal((6, 8))[:, ::2]
    t = shendu.tensor(x, requires_grad=True)
    assert shendu.autograd.gradcheck(lambda u: shendu.relu(u) * u, (t,))
    assert shendu.autograd.gradgradcheck(lambda u: shendu.relu(u) * u, (t,))


def test_relu_kernel_loops_in_plain_python():
    x = np.array([-1.0, 0.0, -0.0, 2.0, np.nan, np.inf, -np.inf])
    y, m = np.empty_like(x), np.empty(x.shape, np.bool_)
    BE.relu_mask.py(x, y, m)
    np.testing.assert_array_equal(y, torch.relu(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(m, ~(x <= 0))
    g, out = np.arange(7.0) + 1, np.empty(7)
    BE.select.py(g, m, out)
    np.testing.assert_array_equal(out, np.where(m, g, 0.0))


@needs_numba
@pytest.mark.parametrize("fn", ["tanh", "sigmoid"])
@pytest.mark.parametrize("shape", [(5,), (300, 1000), (2, 3, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_gradient_kernels_equal_numpy_twins(fn, shape, dtype):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)

    def run():
        t = shendu.tensor(x, requires_grad=True)
        getattr(shendu, fn)(t).backward(shendu.tensor(g))
        return t.grad.numpy()
    a, b = _both(run)
    np.testing.assert_array_equal(a, b)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    getattr(torch, fn)(tx).backward(torch.tensor(g.astype(np.float64)))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(a, tx.grad.numpy(), rtol=tol, atol=tol)


@needs_numba
def test_output_gradient_kernels_leave_create_graph_differentiable(kernels_on):
    t = shendu.tensor(np.linspace(-2, 2, 7), requires_grad=True)
    for fn in (shendu.tanh, shendu.sigmoid):
        assert shendu.autograd.gradgradcheck(fn, (t,))
        g, = shendu.autograd.grad(fn(t).sum(), t, create_graph=True)
        assert g.grad_fn is not None


def test_output_gradient_kernels_in_plain_python():
    y = np.tanh(np.linspace(-3, 3, 11))
    g = np.linspace(1, 2, 11)
    out = np.empty(11)
    BE.tanh_grad.py(g, y, 1.0, out)
    np.testing.assert_array_equal(out, g * (1.0 - y * y))
    BE.sigmoid_grad.py(g, y, 1.0, out)
    np.testing.assert_array_equal(out, g * (y * (1.0 - y)))
