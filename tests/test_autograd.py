"""The autograd engine: backward, grad, hooks, modes, higher derivatives, in-place safety,
custom Functions, and the notes' worked numbers."""
import gc
import sys
import weakref

import numpy as np
import pytest
import torch

import shendu
from shendu.autograd import Function, gradcheck, gradgradcheck, GradcheckError
from torch_oracle import check, compare


def leaf(vals, lib=shendu):
    return lib.tensor(np.asarray(vals, dtype=np.float64), requires_grad=True)


# ------------------------------------------------------------------ backward basics
def test_backward_scalar_and_accumulation():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0, 9.0]


def test_backward_with_gradient_argument():
    for lib in (torch, shendu):
        x = leaf([1.0, 2.0], lib)
        y = x * x
        y.backward(lib.tensor([1.0, 10.0], dtype=lib.float64))
        assert x.grad.tolist() == [2.0, 40.0]


def test_shared_gradient_is_not_aliased_between_leaves():
    # Add's backward hands the same gradient to both inputs; in-place updates of one
    # .grad must not leak into the other
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.mul_(10)
    assert b.grad.tolist() == [1.0, 1.0]
    g = shendu.ones(2, dtype=shendu.float64)
    c = leaf([1.0, 1.0])
    (c * 1).backward(g)
    c.grad.add_(1)
    assert g.tolist() == [1.0, 1.0]


def test_non_scalar_backward_requires_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()


def test_backward_twice_through_freed_graph():
    x = leaf([1.0, 2.0])
    z = x.exp().sum()
    z.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    z = x.exp().sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]))


def test_saved_arrays_are_released_after_backward():
    x = leaf(np.ones(4))
    y = x.exp()
    node = y.grad_fn
    y.sum().backward()
    assert node._saved_out is None and node._freed


def test_requires_grad_on_integer_tensor():
    with pytest.raises(RuntimeError, match="floating point"):
        shendu.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        shendu.tensor([1, 2], requires_grad=True)


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        shendu.tensor([1.0]).sum().backward()


def test_requires_grad_of_non_leaf_cannot_be_cleared():
    x = leaf([1.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)


def test_long_chain_no_recursion_limit():
    x = leaf([0.5])
    y = x
    for _ in range(10000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10000], rtol=1e-10)
    assert sys.getrecursionlimit() < 10000


def test_graph_is_freed_when_output_dropped():
    x = leaf(np.ones(3))
    y = x.exp()
    ref = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert ref() is None


def test_detach_shares_storage_and_data_is_outside_graph():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    d[0] = 5.0
    assert x.tolist()[0] == 5.0
    y = x * 2
    y.data.mul_(0)       # .data changes are invisible to autograd, as in torch
    assert y.tolist() == [0.0, 0.0]


# ------------------------------------------------------------------ hooks and retain_grad
def test_retain_grad_and_hooks_match_torch():
    res = {}
    for lib in (torch, shendu):
        x = leaf([1.0, -2.0, 3.0], lib)
        y = x * 2
        y.retain_grad()
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()))
        h = x.register_hook(lambda g: g * 10)
        z = (y * y).sum()
        z.backward()
        res[lib.__name__] = (y.grad.tolist(), x.grad.tolist(), seen[0].tolist())
        h.remove()
    assert res["torch"] == res["shendu"]


def test_hook_removal():
    x = leaf([1.0])
    h = x.register_hook(lambda g: g * 100)
    h.remove()
    (x * 1).sum().backward()
    assert x.grad.item() == 1.0


def test_post_accumulate_grad_hook():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]


def test_register_hook_requires_grad():
    with pytest.raises(RuntimeError):
        shendu.ones(2).register_hook(lambda g: g)


# ------------------------------------------------------------------ grad modes
def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with shendu.no_grad():
        assert not (x * 2).requires_grad
        with shendu.enable_grad():
            assert (x * 2).requires_grad

    @shendu.no_grad()
    def f(v):
        return v * 2

    @shendu.no_grad
    def g(v):
        return v * 2
    assert not f(x).requires_grad and not g(x).requires_grad
    assert shendu.is_grad_enabled()


def test_set_grad_enabled_forms():
    x = leaf([1.0])
    shendu.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    shendu.set_grad_enabled(True)
    with shendu.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @shendu.set_grad_enabled(False)
    def f(v):
        return v * 2
    assert shendu.is_grad_enabled()
    assert not f(x).requires_grad
    with shendu.inference_mode():
        assert not (x * 2).requires_grad


# ------------------------------------------------------------------ autograd.grad, higher order
def test_grad_second_derivative():
    x = leaf([1.0, 2.0])
    y = (x ** 3).sum()
    g, = shendu.autograd.grad(y, x, create_graph=True)
    assert g.tolist() == [3.0, 12.0]
    gg, = shendu.autograd.grad(g.sum(), x)
    assert gg.tolist() == [6.0, 12.0]
    assert x.grad is None


def test_grad_allow_unused_and_errors():
    x, y = leaf([1.0]), leaf([2.0])
    z = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        shendu.autograd.grad(z, [x, y], retain_graph=True)
    gx, gy = shendu.autograd.grad(z, [x, y], allow_unused=True, retain_graph=True)
    assert gx.tolist() == [2.0] and gy is None
    gx, gy = shendu.autograd.grad(z, [x, y], materialize_grads=True)
    assert gy.tolist() == [0.0]


def test_grad_wrt_intermediate_and_multiple_outputs():
    for lib in (torch, shendu):
        x = leaf([1.0, 2.0], lib)
        h = x.exp()
        a, b = (h * 3).sum(), (h * h).sum()
        gh, = lib.autograd.grad([a, b], [h], retain_graph=True)
        gx, = lib.autograd.grad([a, b], [x], [lib.tensor(1.0, dtype=lib.float64),
                                               lib.tensor(2.0, dtype=lib.float64)])
        if lib is torch:
            ref = (gh.detach().numpy(), gx.detach().numpy())
        else:
            np.testing.assert_allclose(gh.numpy(), ref[0], rtol=1e-12)
            np.testing.assert_allclose(gx.numpy(), ref[1], rtol=1e-12)


def test_backward_inputs_argument():
    x, y = leaf([1.0]), leaf([2.0])
    (x * y).sum().backward(inputs=[x])
    assert x.grad.item() == 2.0 and y.grad is None


def test_create_graph_backward_gives_differentiable_grad():
    x = leaf([1.5])
    (x ** 4).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    assert x.grad.item() == pytest.approx(12 * 1.5 ** 2)


def _quadratic_parts():
    A = np.array([[3.0, 1.0, 0.5], [1.0, 2.0, 0.0], [0.5, 0.0, 1.5]])
    b = np.array([1.0, -2.0, 0.5])
    return A, b


def test_hessian_of_quadratic_is_A():
    A, b = _quadratic_parts()
    At, bt = shendu.tensor(A), shendu.tensor(b)
    f = lambda x: 0.5 * x @ At @ x + bt @ x   # noqa: E731
    x0 = shendu.tensor([0.3, -0.1, 2.0], dtype=shendu.float64)   # float64 like A: no mixed products
    H = shendu.autograd.functional.hessian(f, x0)
    np.testing.assert_allclose(H.numpy(), A, rtol=1e-12)


@pytest.mark.parametrize("signs,kind", [((1, 2, 3), "minimum"), ((-1, -2, -3), "maximum"),
                                        ((1, -2, 3), "saddle")])
def test_hessian_eigenvalues_classify_stationary_points(signs, kind):
    # f(x) = sum_i s_i x_i^2 + x0 x1 has a stationary point at 0; the signs of the Hessian's
    # eigenvalues say which kind (seed 001)
    s = shendu.tensor(np.array(signs, dtype=np.float64))
    f = lambda x: (s * x * x).sum() + 0.1 * x[0] * x[1]   # noqa: E731
    x0 = shendu.zeros(3, dtype=shendu.float64)
    g = shendu.autograd.functional.jacobian(f, x0)
    assert np.allclose(g.numpy(), 0)
    H = shendu.autograd.functional.hessian(f, x0)
    ev = shendu.linalg.eigvalsh(H).numpy()
    found = "minimum" if np.all(ev > 0) else "maximum" if np.all(ev < 0) else "saddle"
    assert found == kind


def test_functional_matches_torch():
    A = np.random.default_rng(0).normal(size=(3, 3))
    x0 = np.array([0.2, -0.4, 0.9])
    v = np.array([1.0, 0.5, -2.0])
    res = {}
    for lib in (torch, shendu):
        At = lib.tensor(A)
        f = lambda x: (At @ x).tanh()     # noqa: E731
        s = lambda x: (At @ x).tanh().sum() * x.sum()   # noqa: E731
        F = lib.autograd.functional
        res[lib.__name__] = [F.jacobian(f, lib.tensor(x0)), F.hessian(s, lib.tensor(x0)),
                             F.vjp(f, lib.tensor(x0), lib.tensor(v))[1],
                             F.jvp(f, lib.tensor(x0), lib.tensor(v))[1],
                             F.hvp(s, lib.tensor(x0), lib.tensor(v))[1]]
    for ours, theirs in zip(res["shendu"], res["torch"]):
        compare(ours, theirs, rtol=1e-10, atol=1e-12)


def test_jacobian_of_tuple_inputs():
    a, b = np.array([1.0, 2.0]), np.array([0.5, -1.0, 3.0])
    out = {}
    for lib in (torch, shendu):
        J = lib.autograd.functional.jacobian(lambda x, y: x.sum() * y, (lib.tensor(a), lib.tensor(b)))
        out[lib.__name__] = J
    for o, t in zip(out["shendu"], out["torch"]):
        compare(o, t)


# ------------------------------------------------------------------ gradcheck
def test_gradcheck_catches_wrong_backward():
    class BadExp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y * 1.01
    x = leaf([0.3, 0.7])
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(BadExp.apply, (x,))
    assert gradcheck(BadExp.apply, (x,), raise_exception=False) is False


def test_gradcheck_on_module_like_function():
    W = leaf(np.random.default_rng(0).normal(size=(3, 4)))
    x = leaf(np.random.default_rng(1).normal(size=(2, 4)))
    assert gradcheck(lambda w, v: (v @ w.T).tanh().sum(1), (W, x))
    assert gradgradcheck(lambda w, v: (v @ w.T).tanh().sum(1), (W, x))


# ------------------------------------------------------------------ custom Function
class Cube(Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 3 * x * x * ctx.scale, None


def test_custom_function_first_and_second_order():
    x = leaf([1.0, 2.0])
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward"
    g, = shendu.autograd.grad(y.sum(), x, create_graph=True)
    assert g.tolist() == [6.0, 24.0]
    gg, = shendu.autograd.grad(g.sum(), x)
    assert gg.tolist() == [12.0, 24.0]
    assert gradcheck(lambda v: Cube.apply(v, 2.0), (x,))


def test_custom_function_non_differentiable_output_and_needs_input_grad():
    class SortWithIndex(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argsort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            ctx.flags = ctx.needs_input_grad
            return x[idx], idx

        @staticmethod
        def backward(ctx, gv, gi):
            idx, = ctx.saved_tensors
            out = shendu.zeros_like(gv)
            out[idx] = gv
            return out
    x = leaf([3.0, 1.0, 2.0])
    v, i = SortWithIndex.apply(x)
    assert not i.requires_grad and v.requires_grad
    (v * shendu.tensor([1.0, 2.0, 3.0], dtype=shendu.float64)).sum().backward()
    assert x.grad.tolist() == [3.0, 1.0, 2.0]


def test_once_differentiable_blocks_graph():
    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @shendu.autograd.once_differentiable
        def backward(ctx, g):
            return g * 2
    x = leaf([1.0])
    g, = shendu.autograd.grad(Twice.apply(x).sum(), x, create_graph=True)
    assert not g.requires_grad


# ------------------------------------------------------------------ in-place operations
def test_modified_saved_tensor_raises():
    x = leaf([1.0, 2.0])
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_modified_saved_input_raises():
    x = leaf([1.0, 2.0])
    h = x * 1
    z = (h * h).sum()
    h.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_leaf_inplace_raises_and_no_grad_allows():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[0].mul_(2)
    with shendu.no_grad():
        w.add_(1)
        w[0] = 10.0
    assert w.tolist() == [10.0, 3.0]
    assert w._version == 2


INPLACE_CASES = [
    ("mul_", lambda L, x, w: (lambda y: (y.mul_(w), y)[1])(x * 2)),
    ("add_alpha", lambda L, x, w: (lambda y: (y.add_(w, alpha=3), y)[1])(x.sin())),
    ("sigmoid_", lambda L, x, w: (lambda y: (y.sigmoid_(), y * w)[1])(x * 1)),
    ("div_", lambda L, x, w: (lambda y: (y.div_(w.abs() + 1), y)[1])(x + 0)),
    ("pow_", lambda L, x, w: (lambda y: (y.pow_(2), y * w)[1])(x * 1)),
    ("clamp_", lambda L, x, w: (lambda y: (y.clamp_(-0.5, 0.5), y * w)[1])(x * 1)),
    ("setitem_tensor", lambda L, x, w: (lambda y: (y.__setitem__((0, slice(1, 3)), w[0, :2]), y)[1])(x.clone())),
    ("setitem_mask", lambda L, x, w: (lambda y: (y.__setitem__(y > 0, 0.0), y * w)[1])(x * 1)),
    ("view_inplace", lambda L, x, w: (lambda y: (y[:, 1].mul_(w[:, 0]), y)[1])(x.clone())),
    ("view_of_view", lambda L, x, w: (lambda y: (y.t()[1:].add_(w.t()[1:]), y)[1])(x * 1)),
    ("transpose_inplace", lambda L, x, w: (lambda y: (y.t().exp_(), y * w)[1])(x * 1)),
    ("copy_", lambda L, x, w: (lambda y: (y[0].copy_(w[1]), y)[1])(x * 1)),
    ("masked_fill_", lambda L, x, w: (lambda y: (y.masked_fill_(w > 0, 1.0), y * w)[1])(x * 1)),
    ("leaf_no_grad_gets_grad", lambda L, x, w: (lambda y: (y.add_(w * x), y)[1])(L.zeros(3, 4, dtype=L.float64))),
    ("zero_", lambda L, x, w: (lambda y: (y[1].zero_(), y * w)[1])(x * 3)),
    ("fill_", lambda L, x, w: (lambda y: (y.fill_(2.0), y * w)[1])(x * 3)),
    ("iadd", lambda L, x, w: (lambda y: (y.__iadd__(w), y)[1])(x * 1)),
]


@pytest.mark.parametrize("name,fn", INPLACE_CASES, ids=[c[0] for c in INPLACE_CASES])
def test_inplace_gradients_match_torch(name, fn):
    check(fn, (3, 4), (3, 4))


def test_version_counter_shared_with_views():
    x = shendu.zeros(3)
    v = x[1:]
    v.add_(1)
    assert x._version == 1 and v._version == 1
    assert x.tolist() == [0.0, 1.0, 1.0]


def test_inplace_on_expanded_tensor_raises():
    x = shendu.zeros(1).expand(3)
    with pytest.raises(RuntimeError, match="single memory location"):
        x.add_(1)


def test_inplace_dtype_rules():
    x = shendu.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.mul_(0.5)
    x.mul_(3)
    assert x.tolist() == [3, 6] and x.dtype == shendu.int64
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        shendu.zeros(3).add_(shendu.zeros(2, 3))


# ------------------------------------------------------------------ the notes' numbers
def test_two_two_two_network_seed_002():
    from shendu.examples.two_two_two import build, forward, error
    params = build()
    x = shendu.tensor([0.05, 0.10], dtype=shendu.float64)
    t = shendu.tensor([0.01, 0.99], dtype=shendu.float64)
    o = forward(params, x)
    E = error(o, t)
    assert o[0].item() == pytest.approx(0.75136507, abs=5e-9)
    assert o[1].item() == pytest.approx(0.772928465, abs=5e-10)
    assert E.item() == pytest.approx(0.298371109, abs=5e-10)
    E.backward()
    # the notes' worked gradient: dE/dw5 = 0.082167041
    assert params[2].grad[0, 0].item() == pytest.approx(0.082167041, abs=5e-10)


def test_two_two_two_training_reduces_error():
    from shendu.examples.two_two_two import train
    hist = train(steps=300, out=lambda *a: None)
    assert hist[0] == pytest.approx(0.298371109, abs=5e-10)
    assert hist[-1] < 0.01 and all(b <= a for a, b in zip(hist, hist[1:]))


def test_anomaly_detection_names_the_node():
    x = leaf([0.0])
    with shendu.autograd.detect_anomaly():
        y = x.sqrt() * 0.0
        with pytest.raises(RuntimeError, match="returned nan values"):
            y.sum().backward()
