"""Normalization: batch / instance / group / layer norm, LRN and F.normalize against torch in
float64 (outputs, input and parameter gradients, running statistics after several steps),
the seed's formulas, second derivatives, float32 smoke tests and bad input."""
import numpy as np
import pytest
import torch

import shendu
import shendu.nn.functional as SF
from torch_oracle import check, gradchecks

RTOL, ATOL = 1e-10, 1e-12


def F(L):
    return torch.nn.functional if L is torch else SF


def _np(t):
    return t.detach().numpy()


# ---------------------------------------------------------------------- functional forms
@pytest.mark.parametrize("shape", [(4, 3), (5, 3, 7), (4, 3, 5, 2), (2, 3, 3, 2, 4), (7, 1, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(shape, affine):
    c = shape[1]
    if affine:
        check(lambda L, x, w, b: F(L).batch_norm(x, None, None, w, b, training=True, eps=1e-3),
              shape, (c,), (c,))
    else:
        check(lambda L, x: F(L).batch_norm(x, None, None, training=True), shape)


def test_batch_norm_weight_without_bias_and_offset_inputs():
    check(lambda L, x, w: F(L).batch_norm(x * 50 + 300, None, None, w, None, training=True),
          (6, 4, 3), (4,))
    check(lambda L, x, b: F(L).batch_norm(x, None, None, None, b, training=True), (6, 4), (4,))


def test_batch_norm_eval_uses_running_stats():
    check(lambda L, x, rm, rv, w, b: F(L).batch_norm(x, rm, rv.abs() + 0.1, w, b),
          (4, 3, 5, 2), (3,), (3,), (3,), (3,), requires_grad=[True, False, False, True, True])


def test_batch_norm_functional_updates_running_stats_in_place():
    rng = np.random.default_rng(0)
    x = rng.normal(2, 3, size=(5, 3, 4))
    for momentum in (0.1, 0.7):
        t_rm, t_rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
        s_rm, s_rv = shendu.zeros(3, dtype=shendu.float64), shendu.ones(3, dtype=shendu.float64)
        torch.nn.functional.batch_norm(torch.tensor(x), t_rm, t_rv, training=True,
                                       momentum=momentum)
        SF.batch_norm(shendu.tensor(x), s_rm, s_rv, training=True, momentum=momentum)
        np.testing.assert_allclose(s_rm.numpy(), t_rm.numpy(), rtol=RTOL)
        np.testing.assert_allclose(s_rv.numpy(), t_rv.numpy(), rtol=RTOL)


def test_batch_norm_follows_the_seed_formula():
    """Seed 002 §3.6.10 with its typo fixed: x̂ = (x − μ)/√(σ² + ε), biased σ² for
    normalising; the running variance takes the unbiased estimate."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 2))
    g, b, eps = np.array([1.5, -0.5]), np.array([0.2, 0.3]), 1e-5
    bn = shendu.nn.BatchNorm1d(2, momentum=1.0).double()
    bn.weight.data.copy_(shendu.tensor(g))
    bn.bias.data.copy_(shendu.tensor(b))
    y = bn(shendu.tensor(x))
    mu, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(_np(y), g * (x - mu) / np.sqrt(var + eps) + b, rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), mu, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), x.var(0, ddof=1), rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3, 5), (2, 3, 4, 3), (1, 2, 2, 2, 3), (3, 1, 6)])
def test_instance_norm_matches_torch(shape):
    c = shape[1]
    check(lambda L, x, w, b: F(L).instance_norm(x, weight=w, bias=b), shape, (c,), (c,))
    check(lambda L, x: F(L).instance_norm(x, eps=0.1), shape)
    check(lambda L, x, b: F(L).instance_norm(x, bias=b), shape, (c,))


@pytest.mark.parametrize("shape,groups", [((4, 6, 5), 1), ((4, 6, 5), 2), ((4, 6, 5), 3),
                                          ((4, 6, 5), 6), ((2, 4, 3, 2), 2), ((3, 6), 3),
                                          ((1, 4, 2, 2, 3), 4), ((2, 8, 3, 3), 4)])
def test_group_norm_matches_torch(shape, groups):
    c = shape[1]
    check(lambda L, x, w, b: F(L).group_norm(x, groups, w, b), shape, (c,), (c,))
    check(lambda L, x: F(L).group_norm(x, groups, eps=1e-2), shape)
    # torch's backward fails for a bias without weight ("tensor does not have a device"):
    # forward against torch, gradients by central differences
    check(lambda L, x, b: F(L).group_norm(x, groups, None, b), shape, (c,), grad=False)


@pytest.mark.parametrize("shape,ns", [((4, 3, 5, 2), (5, 2)), ((4, 3, 5), 5), ((6,), (6,)),
                                      ((2, 3, 4), (3, 4)), ((3, 1), 1)])
def test_layer_norm_matches_torch(shape, ns):
    ns = (ns,) if isinstance(ns, int) else ns
    check(lambda L, x, w, b: F(L).layer_norm(x, ns, w, b), shape, ns, ns)
    check(lambda L, x, w: F(L).layer_norm(x, ns, w, None, 1e-3), shape, ns)
    check(lambda L, x, b: F(L).layer_norm(x, ns, None, b), shape, ns)
    check(lambda L, x: F(L).layer_norm(x, ns), shape)


@pytest.mark.parametrize("shape,size", [((2, 6, 5, 2), 3), ((2, 6, 5), 4), ((2, 5, 3, 2, 2), 5),
                                        ((1, 7, 4), 1), ((2, 3, 4), 8), ((2, 6, 3), 2)])
def test_local_response_norm_matches_torch(shape, size):
    check(lambda L, x: F(L).local_response_norm(x, size), shape)
    check(lambda L, x: F(L).local_response_norm(x, size, alpha=0.1, beta=0.6, k=2.0), shape)


def test_local_response_norm_follows_the_seed_formula():
    """Seed 002 §3.6.7 (AlexNet: n=5, α=1e-4, β=0.75, k=2), the sum over the channels
    c − n/2 .. c + n/2 that exist, α divided by n as torch defines it."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(2, 7, 3, 3)) * 10
    n, alpha, beta, k = 5, 1e-4, 0.75, 2.0
    out = shendu.nn.LocalResponseNorm(n, alpha, beta, k)(shendu.tensor(a)).numpy()
    expect = np.empty_like(a)
    for c in range(7):
        lo, hi = max(0, c - n // 2), min(6, c + (n - 1) // 2)
        s = (a[:, lo:hi + 1] ** 2).sum(1)
        expect[:, c] = a[:, c] / (k + alpha / n * s) ** beta
    np.testing.assert_allclose(out, expect, rtol=1e-12)


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 1),
                                   (2.0, (1, 2))])
def test_normalize_matches_torch(p, dim):
    check(lambda L, x: F(L).normalize(x, p=p, dim=dim), (3, 4, 5))


def test_normalize_of_a_zero_vector_uses_eps():
    check(lambda L, x: F(L).normalize(x, dim=1), vals=[np.array([[0.0, 0.0], [3.0, 4.0]])])


# ---------------------------------------------------------------------- modules over steps
def _run_steps(tm, sm, shapes, train=True, seed=0):
    """Train/eval both modules on the same batches; compare outputs, input and parameter
    gradients, then every state_dict entry (running stats, num_batches_tracked)."""
    rng = np.random.default_rng(seed)
    tm.train(train)
    sm.train(train)
    for shape in shapes:
        x = rng.normal(1.5, 2.0, size=shape)
        tx, sx = torch.tensor(x, requires_grad=True), shendu.tensor(x, requires_grad=True)
        ty, sy = tm(tx), sm(sx)
        w = rng.uniform(0.5, 1.5, size=tuple(ty.shape))
        (ty * torch.tensor(w)).sum().backward()
        (sy * shendu.tensor(w)).sum().backward()
        np.testing.assert_allclose(_np(sy), _np(ty), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(sx.grad.numpy(), tx.grad.numpy(), rtol=RTOL, atol=ATOL)
    td, sd = tm.state_dict(), sm.state_dict()
    assert list(td) == list(sd)
    for k in td:
        assert str(sd[k].dtype).split(".")[-1] == str(td[k].dtype).split(".")[-1], k
        np.testing.assert_allclose(sd[k].numpy(), _np(td[k]), rtol=RTOL, atol=ATOL, err_msg=k)
    for (k, p), (k2, q) in zip(tm.named_parameters(), sm.named_parameters()):
        assert k == k2
        if p.grad is not None:
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=RTOL, atol=ATOL,
                                       err_msg=k)


def _pair(name, *args, **kw):
    tm = getattr(torch.nn, name)(*args, **kw).double()
    sm = getattr(shendu.nn, name)(*args, **kw).double()
    with torch.no_grad():
        for p in tm.parameters():
            p.uniform_(0.5, 1.5)
    sm.load_state_dict({k: _np(v) for k, v in tm.state_dict().items()})
    return tm, sm


@pytest.mark.parametrize("momentum", [0.1, None, 0.5])
@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm2d_train_then_eval(momentum, track, affine):
    tm, sm = _pair("BatchNorm2d", 3, momentum=momentum, track_running_stats=track,
                   affine=affine)
    _run_steps(tm, sm, [(4, 3, 5, 2), (2, 3, 3, 3), (5, 3, 1, 2)])
    _run_steps(tm, sm, [(1, 3, 2, 2), (3, 3, 4, 4)], train=False)


@pytest.mark.parametrize("name,shapes", [("BatchNorm1d", [(5, 4), (3, 4), (6, 4, 7)]),
                                         ("BatchNorm3d", [(2, 4, 2, 3, 2), (3, 4, 1, 2, 2)])])
def test_batch_norm_1d_3d(name, shapes):
    tm, sm = _pair(name, 4, momentum=None, eps=1e-3)
    _run_steps(tm, sm, shapes)
    _run_steps(tm, sm, [shapes[0]], train=False)
    tm, sm = _pair(name, 4, bias=False)
    _run_steps(tm, sm, shapes)


@pytest.mark.parametrize("track", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("name,shapes,eval_shape", [
    ("InstanceNorm1d", [(3, 4, 5), (2, 4, 3)], (4, 6)),
    ("InstanceNorm2d", [(3, 4, 5, 2), (4, 5, 3)], (1, 4, 3, 3)),
    ("InstanceNorm3d", [(2, 4, 2, 3, 2)], (4, 2, 2, 2))])
def test_instance_norm_modules(name, shapes, eval_shape, track, affine):
    tm, sm = _pair(name, 4, affine=affine, track_running_stats=track, momentum=0.3)
    _run_steps(tm, sm, shapes)
    _run_steps(tm, sm, [eval_shape], train=False)


@pytest.mark.parametrize("groups,channels,shape", [(1, 4, (3, 4, 5)), (2, 4, (2, 4, 3, 3)),
                                                   (4, 4, (2, 4, 6)), (3, 6, (1, 6, 2, 2))])
def test_group_norm_module(groups, channels, shape):
    tm, sm = _pair("GroupNorm", groups, channels)
    _run_steps(tm, sm, [shape, shape])
    tm, sm = _pair("GroupNorm", groups, channels, affine=False, eps=0.1)
    _run_steps(tm, sm, [shape])


@pytest.mark.parametrize("ns,shape,kw", [((3, 4), (5, 3, 4), {}), (4, (2, 5, 4), {}),
                                         (4, (2, 4), dict(bias=False)),
                                         ((2, 2), (3, 2, 2), dict(elementwise_affine=False))])
def test_layer_norm_module(ns, shape, kw):
    tm, sm = _pair("LayerNorm", ns, **kw)
    _run_steps(tm, sm, [shape])


@pytest.mark.parametrize("ns,shape,kw", [((3, 4), (5, 3, 4), {}), (4, (2, 5, 4), dict(eps=1e-3)),
                                         (4, (2, 4), dict(elementwise_affine=False))])
def test_rms_norm_module(ns, shape, kw):
    tm, sm = _pair("RMSNorm", ns, **kw)
    assert repr(sm) == repr(tm)
    _run_steps(tm, sm, [shape])


def test_rms_norm_functional_and_second_derivatives():
    check(lambda L, x, w: F(L).rms_norm(x, (3,), w), (4, 2, 3), (3,))
    check(lambda L, x: F(L).rms_norm(x, (2, 3), eps=0.1), (4, 2, 3))
    gradchecks(lambda L, x, w: F(L).rms_norm(x, (3,), w), (2, 2, 3), (3,))
    check(lambda L, x: F(L).rms_norm(x, (3,)), (4, 3), dtype=np.float32, rtol=1e-5, atol=1e-6)


def test_local_response_norm_module():
    check(lambda L, x: L.nn.LocalResponseNorm(5, k=2.0)(x), (2, 7, 3, 3))


@pytest.mark.parametrize("name,args,kw", [
    ("BatchNorm1d", (3,), {}), ("BatchNorm2d", (3,), dict(affine=False, momentum=None)),
    ("BatchNorm3d", (3,), dict(track_running_stats=False, bias=False)),
    ("InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True)),
    ("InstanceNorm1d", (3,), {}), ("GroupNorm", (2, 4), dict(bias=False)),
    ("LayerNorm", ((2, 3),), dict(elementwise_affine=False)), ("LayerNorm", (3,), {}),
    ("LocalResponseNorm", (5,), dict(k=2.0))])
def test_module_reprs_and_state_dict_keys(name, args, kw):
    tm, sm = getattr(torch.nn, name)(*args, **kw), getattr(shendu.nn, name)(*args, **kw)
    assert repr(sm) == repr(tm)
    assert list(sm.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert str(sm.state_dict()[k].dtype).split(".")[-1] == str(v.dtype).split(".")[-1]
        np.testing.assert_array_equal(sm.state_dict()[k].numpy(), v.numpy())


def test_reset_running_stats():
    bn = shendu.nn.BatchNorm1d(2)
    bn(shendu.randn(4, 2) * 3 + 1)
    assert int(bn.num_batches_tracked) == 1
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0
    np.testing.assert_array_equal(bn.running_var.numpy(), [1, 1])


# ---------------------------------------------------------------------- derivatives
@pytest.mark.parametrize("fn,shapes", [
    (lambda L, x, w, b: F(L).batch_norm(x, None, None, w, b, training=True), [(3, 2, 3), (2,),
                                                                              (2,)]),
    (lambda L, x: F(L).batch_norm(x, None, None, training=True), [(4, 2)]),
    (lambda L, x, w, b: F(L).instance_norm(x, weight=w, bias=b), [(2, 2, 4), (2,), (2,)]),
    (lambda L, x, w, b: F(L).group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)]),
    (lambda L, x, b: F(L).group_norm(x, 2, None, b), [(2, 4, 3), (4,)]),
    (lambda L, x, b: F(L).layer_norm(x, (4, 3), None, b), [(2, 4, 3), (4, 3)]),
    (lambda L, x, w, b: F(L).layer_norm(x, (3,), w, b), [(2, 4, 3), (3,), (3,)]),
    (lambda L, x: F(L).local_response_norm(x, 3), [(2, 4, 3)]),
    (lambda L, x: F(L).normalize(x, dim=1), [(2, 4, 3)]),
])
def test_gradcheck_and_gradgradcheck(fn, shapes):
    gradchecks(fn, *shapes)


@pytest.mark.parametrize("kind", ["batch", "group", "layer"])
def test_double_backward_matches_torch(kind):
    """create_graph through the fused node: the gradient of a gradient norm, vs torch."""
    rng = np.random.default_rng(4)
    x, w, b = rng.normal(size=(4, 4, 3)), rng.uniform(0.5, 1.5, 4), rng.normal(size=4)
    gy = rng.normal(size=(4, 4, 3))

    def run(L):
        xs = [L.tensor(a, requires_grad=True) for a in (x, w, b)]
        f = {"batch": lambda x, w, b: F(L).batch_norm(x, None, None, w, b, training=True),
             "group": lambda x, w, b: F(L).group_norm(x, 2, w, b),
             "layer": lambda x, w, b: F(L).layer_norm(x.transpose(1, 2), (4,), w, b)}[kind]
        y = f(*xs)
        grads = L.autograd.grad((y * L.tensor(gy).reshape(y.shape)).sum(), xs, create_graph=True)
        sum(((g * g).sum() for g in grads), L.tensor(0.0, dtype=L.float64)).backward()
        return [a.grad for a in xs]
    for s, t in zip(run(shendu), run(torch)):
        if t is None:           # the bias gradient Σ g does not depend on anything
            assert s is None or not s.numpy().any()
            continue
        np.testing.assert_allclose(s.numpy(), t.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("fn,shapes", [
    (lambda L, x, w, b: F(L).batch_norm(x, None, None, w, b, training=True), [(16, 8, 6, 6),
                                                                              (8,), (8,)]),
    (lambda L, x, w, b: F(L).group_norm(x, 4, w, b), [(4, 8, 5, 5), (8,), (8,)]),
    (lambda L, x, w, b: F(L).layer_norm(x, (5,), w, b), [(4, 8, 5), (5,), (5,)]),
    (lambda L, x: F(L).local_response_norm(x, 5, k=2.0), [(4, 8, 5, 5)]),
])
def test_float32_smoke(fn, shapes):
    out = check(fn, *shapes, dtype=np.float32, rtol=2e-5, atol=2e-5)
    assert out[0].dtype == shendu.float32


# ---------------------------------------------------------------------- bad input
def test_batch_norm_wrong_channel_count_names_the_layer():
    model = shendu.nn.Sequential(shendu.nn.Linear(3, 3), shendu.nn.BatchNorm1d(3))
    model[0] = shendu.nn.Linear(3, 5)
    with pytest.raises(shendu.nn.LayerInputError) as info:
        model(shendu.randn(4, 3))
    msg = str(info.value)
    assert msg.startswith("model.1 (BatchNorm1d 3)")
    assert "(4, 5)" in msg and "expected 3 channels" in msg and "got 5" in msg


def test_batch_norm_wrong_dims_and_single_value_per_channel():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        shendu.nn.BatchNorm2d(3)(shendu.randn(2, 3, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training, "
                                         "got input size"):
        shendu.nn.BatchNorm1d(3)(shendu.randn(1, 3))
    bn = shendu.nn.BatchNorm1d(3).eval()
    assert bn(shendu.randn(1, 3)).shape == (1, 3)          # eval: running statistics
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        SF.batch_norm(shendu.randn(2, 3), shendu.zeros(4), shendu.ones(4), training=True)


def test_other_norm_errors():
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        SF.instance_norm(shendu.randn(2, 3, 1))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features"):
        shendu.nn.InstanceNorm2d(3, affine=True)(shendu.randn(2, 4, 3, 3))
    with pytest.warns(UserWarning):
        shendu.nn.InstanceNorm2d(3)(shendu.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups"):
        shendu.nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="Expected number of channels in input to be divisible "
                                           "by num_groups"):
        SF.group_norm(shendu.randn(2, 6, 4), 4)
    with pytest.raises(shendu.nn.LayerInputError, match="num_channels=6"):
        shendu.nn.GroupNorm(2, 6)(shendu.randn(2, 4, 3))
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with "
                                           r"shape \[\*, 4\], but got input of size\[2, 3\]"):
        SF.layer_norm(shendu.randn(2, 3), (4,))
    with pytest.raises(shendu.nn.LayerInputError, match="normalized_shape=\\(4,\\)"):
        shendu.nn.LayerNorm(4)(shendu.randn(2, 3))
    with pytest.raises(ValueError, match="Expected 3D or higher dimensionality input"):
        SF.local_response_norm(shendu.randn(2, 3), 2)


def test_eval_batch_norm_with_frozen_parameters_still_passes_input_gradients():
    """Fine-tuning with a frozen BN (eval, parameters requires_grad=False): the statistics
    are constants, the input gradient is g · γ / √(σ² + ε)."""
    tm, sm = _pair("BatchNorm2d", 3)
    _run_steps(tm, sm, [(4, 3, 2, 2)])
    for m in (tm, sm):
        m.eval().requires_grad_(False)
    _run_steps(tm, sm, [(2, 3, 3, 2)], train=False)


def test_state_dict_without_num_batches_tracked_loads_and_keeps_the_count():
    import copy
    bn = shendu.nn.BatchNorm2d(3)
    bn.num_batches_tracked.fill_(5)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    twin = copy.deepcopy(bn)
    twin.num_batches_tracked.fill_(7)
    assert not bn.load_state_dict(sd).missing_keys
    assert int(bn.num_batches_tracked) == 5 and "num_batches_tracked" not in sd
    twin.load_state_dict(sd)
    assert int(twin.num_batches_tracked) == 7
