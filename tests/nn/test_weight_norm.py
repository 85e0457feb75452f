"""Weight normalization (seed 002 §3.6.12), both torch APIs, and nn.utils.parametrize:
state_dict keys and values, forward and gradients against torch, removal, the defining
formula w = g v / ‖v‖, and parametrize's registration, chaining, caching and checks."""
import copy

import numpy as np
import pytest
import torch

import shendu
from shendu.nn.utils import parametrize as P
from shendu.nn.utils.weight_norm import norm_except_dim, _weight_norm
from torch_oracle import gradchecks

pytestmark = pytest.mark.filterwarnings("ignore:.*weight_norm.*deprecated:FutureWarning")


class _Holder:
    """A module with one weight of a given shape: y = x @ w.reshape(k, -1)ᵀ + b."""

    @staticmethod
    def make(L, shape):
        class Holder(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.weight = L.nn.Parameter(L.ones(*shape, dtype=L.float64))
                self.bias = L.nn.Parameter(L.zeros(shape[0], dtype=L.float64))

            def forward(self, x):
                return x @ self.weight.reshape(shape[0], -1).t() + self.bias
        return Holder()


def _pair(shape):
    tm, sm = _Holder.make(torch, shape), _Holder.make(shendu, shape)
    rng = np.random.default_rng(0)
    w = rng.normal(size=shape)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(w))
    sm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, sm


def _compare(tm, sm, x_shape, seed=1):
    assert list(tm.state_dict()) == list(sm.state_dict())
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(sm.state_dict()[k].numpy(), v.detach().numpy(), rtol=1e-12,
                                   err_msg=k)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape)
    ty, sy = tm(torch.tensor(x)), sm(shendu.tensor(x))
    np.testing.assert_allclose(sy.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    g = rng.normal(size=tuple(ty.shape))
    (ty * torch.tensor(g)).sum().backward()
    (sy * shendu.tensor(g)).sum().backward()
    names = [k for k, _ in tm.named_parameters()]
    assert names == [k for k, _ in sm.named_parameters()]
    for (k, p), (_, q) in zip(tm.named_parameters(), sm.named_parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-13,
                                   err_msg=k)


SHAPES_DIMS = [((4, 5), 0), ((4, 5), 1), ((4, 5), None), ((4, 5), -1), ((3, 2, 4), 1),
               ((3, 2, 2, 3), 2), ((3, 2, 2, 3), 0)]


def _in(shape):
    return (6, int(np.prod(shape[1:])))


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_old_api_matches_torch(shape, dim):
    tm, sm = _pair(shape)
    torch.nn.utils.weight_norm(tm, dim=dim)
    shendu.nn.utils.weight_norm(sm, dim=dim)
    assert list(sm.state_dict()) == ["bias", "weight_g", "weight_v"]
    _compare(tm, sm, _in(shape))
    torch.nn.utils.remove_weight_norm(tm)
    shendu.nn.utils.remove_weight_norm(sm)
    assert isinstance(sm.weight, shendu.nn.Parameter)
    _compare(tm, sm, _in(shape), seed=2)


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_parametrizations_api_matches_torch(shape, dim):
    tm, sm = _pair(shape)
    torch.nn.utils.parametrizations.weight_norm(tm, dim=dim)
    shendu.nn.utils.parametrizations.weight_norm(sm, dim=dim)
    assert list(sm.state_dict()) == ["bias", "parametrizations.weight.original0",
                                     "parametrizations.weight.original1"]
    assert type(sm).__name__ == type(tm).__name__ == "ParametrizedHolder"
    _compare(tm, sm, _in(shape))
    P.remove_parametrizations(sm, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    assert type(sm).__name__ == "Holder" and not P.is_parametrized(sm)
    _compare(tm, sm, _in(shape), seed=2)


def test_linear_reprs_and_keys():
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(5, 4))
    sm = shendu.nn.utils.parametrizations.weight_norm(shendu.nn.Linear(5, 4))
    assert repr(sm) == repr(tm)
    assert [tuple(v.shape) for v in sm.state_dict().values()] == \
        [tuple(v.shape) for v in tm.state_dict().values()]


def test_the_defining_formula():
    """w = g · v / ‖v‖, the norm over every dim but ``dim``; the initial g is ‖w‖, so the
    weight is unchanged by registering."""
    v = np.random.default_rng(3).normal(size=(3, 4, 2))
    lin = shendu.nn.Linear(2, 2).double()
    lin.weight = shendu.nn.Parameter(shendu.tensor(v))
    shendu.nn.utils.weight_norm(lin, dim=1)
    norms = np.sqrt((v ** 2).sum(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(lin.weight_g.detach().numpy(), norms, rtol=1e-14)
    np.testing.assert_allclose(lin.weight.detach().numpy(), v, rtol=1e-14)
    g = np.arange(1.0, 5.0).reshape(1, 4, 1)
    w = _weight_norm(shendu.tensor(v), shendu.tensor(g), 1)
    np.testing.assert_allclose(w.numpy(), g * v / norms, rtol=1e-14)
    assert norm_except_dim(shendu.tensor(v), 2, -1).shape == ()


def test_weight_norm_gradcheck_and_gradgradcheck():
    gradchecks(lambda L, v, g: _weight_norm(v, g, 0), (3, 4), (3, 1))
    gradchecks(lambda L, v, g: _weight_norm(v, g, -1), (2, 3), ())


def test_old_state_dict_loads_into_the_new_api():
    tm = torch.nn.utils.weight_norm(torch.nn.Linear(5, 4).double())
    sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    sm = shendu.nn.utils.parametrizations.weight_norm(shendu.nn.Linear(5, 4).double())
    sm.load_state_dict(sd)
    assert list(sd) == ["bias", "weight_g", "weight_v"]          # the caller's dict untouched
    np.testing.assert_allclose(sm.weight.detach().numpy(), tm.weight.detach().numpy(),
                               rtol=1e-14)


def test_weight_norm_errors():
    lin = shendu.nn.utils.weight_norm(shendu.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        shendu.nn.utils.weight_norm(lin)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        shendu.nn.utils.remove_weight_norm(lin, "bias")
    new = shendu.nn.utils.parametrizations.weight_norm(shendu.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        P.remove_parametrizations(new, "weight", leave_parametrized=False)


# ---------------------------------------------------------------------- parametrize
def _symmetric(L):
    class Symmetric(L.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu()
    return Symmetric()


def _scale(L, c):
    class Scale(L.nn.Module):
        def forward(self, X):
            return X * c

        def right_inverse(self, A):
            return A / c
    return Scale()


def test_custom_parametrization_matches_torch():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 4))
    tl, sl = torch.nn.Linear(4, 4).double(), shendu.nn.Linear(4, 4).double()
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(w))
    sl.load_state_dict({k: v.detach().numpy() for k, v in tl.state_dict().items()})
    orig = sl.weight
    for L, m in ((torch, tl), (shendu, sl)):
        L.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(L))
        L.nn.utils.parametrize.register_parametrization(m, "weight", _scale(L, 2.0))
    assert sl.parametrizations.weight.original is orig          # the optimizer's tensor
    assert list(sl.state_dict()) == list(tl.state_dict())
    np.testing.assert_allclose(sl.weight.detach().numpy(), tl.weight.detach().numpy())
    assert repr(sl) == repr(tl)
    a = rng.normal(size=(4, 4))
    tl.weight, sl.weight = torch.tensor(a), shendu.tensor(a)      # through right_inverse
    np.testing.assert_allclose(sl.parametrizations.weight.original.detach().numpy(),
                               tl.parametrizations.weight.original.detach().numpy())
    x = rng.normal(size=(3, 4))
    tl(torch.tensor(x)).sum().backward()
    sl(shendu.tensor(x)).sum().backward()
    np.testing.assert_allclose(sl.parametrizations.weight.original.grad.numpy(),
                               tl.parametrizations.weight.original.grad.numpy(), rtol=1e-12)
    for L, m in ((torch, tl), (shendu, sl)):
        L.nn.utils.parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    np.testing.assert_allclose(sl.weight.detach().numpy(), tl.weight.detach().numpy())
    assert type(sl) is shendu.nn.Linear


def test_parametrize_caching_and_introspection():
    lin = P.register_parametrization(shendu.nn.Linear(3, 3), "weight", _symmetric(shendu))
    assert P.is_parametrized(lin) and P.is_parametrized(lin, "weight")
    assert not P.is_parametrized(lin, "bias")
    assert P.type_before_parametrizations(lin) is shendu.nn.Linear
    assert lin.weight is not lin.weight
    with P.cached():
        assert lin.weight is lin.weight
    copy.deepcopy(lin)


def test_parametrize_checks():
    class Bad(shendu.nn.Module):
        def forward(self, X):
            return X[:1]
    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(shendu.nn.Linear(3, 3), "weight", Bad())
    P.register_parametrization(shendu.nn.Linear(3, 3), "weight", Bad(), unsafe=True)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        P.register_parametrization(shendu.nn.Linear(3, 3), "nothing", Bad())
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(shendu.nn.Linear(3, 3), "weight")


def test_parametrized_buffer():
    m = shendu.nn.BatchNorm1d(3)
    P.register_parametrization(m, "running_var", _scale(shendu, 3.0))
    assert "parametrizations.running_var.original" in m.state_dict()
    np.testing.assert_allclose(m.running_var.numpy(), [1.0, 1.0, 1.0])
