"""Large parameter sets take the fast path of ``Optimizer.step``: each update runs over
cache-sized slices of the flattened arrays, and the parameters are dealt to several threads.
It must give exactly the serial, whole-array result, and torch's."""
import numpy as np
import pytest
import torch

import shendu
from shendu.optim import optimizer as O

SHAPES = [(700, 900), (300, 7, 11), (513,), (4, 4)]       # > 1M elements, odd sizes


def _params(lib, dtype):
    rng = np.random.default_rng(0)
    ps = []
    for s in SHAPES:
        p = lib.tensor(rng.standard_normal(s), dtype=dtype).requires_grad_()
        ps.append(p)
    return ps


def _run(lib, make, dtype, steps=3):
    ps = _params(lib, dtype)
    opt = make(lib, ps)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        for p in ps:
            p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)), dtype=dtype)
        opt.step()
    return [p.detach().numpy().copy() for p in ps]


CASES = {
    "sgd": lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_nesterov_wd": lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                                    weight_decay=1e-2),
    "sgd_dampening_maximize": lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=0.5,
                                                           dampening=0.3, maximize=True),
    "sgd_plain": lambda lib, ps: lib.optim.SGD(ps, lr=0.1),
    "adam": lambda lib, ps: lib.optim.Adam(ps, lr=1e-2),
    "adam_amsgrad_wd": lambda lib, ps: lib.optim.Adam(ps, lr=1e-2, amsgrad=True,
                                                     weight_decay=1e-2),
    "adamw": lambda lib, ps: lib.optim.AdamW(ps, lr=1e-2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sliced_threaded_step_equals_the_serial_one_and_torch(name, monkeypatch):
    make = CASES[name]
    fast = _run(shendu, make, shendu.float64)
    monkeypatch.setattr(O, "PARALLEL_UPDATE_MIN", 1 << 62)
    monkeypatch.setattr(O, "CHUNK_BYTES", 1 << 62)
    slow = _run(shendu, make, shendu.float64)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    ref = _run(torch, make, torch.float64)
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_float32_large_step_runs_and_matches_torch():
    ours = _run(shendu, CASES["adam"], shendu.float32)
    ref = _run(torch, CASES["adam"], torch.float32)
    for a, b in zip(ours, ref):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_state_dict_after_a_large_step_has_whole_buffers():
    ps = _params(shendu, shendu.float32)
    opt = shendu.optim.SGD(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = shendu.ones_like(p)
    opt.step()
    bufs = [st["momentum_buffer"] for st in opt.state_dict()["state"].values()]
    assert [tuple(b.shape) for b in bufs] == SHAPES
    assert all(float(b.min()) == float(b.max()) == 1.0 for b in bufs)


needs_numba = pytest.mark.skipif(not shendu.backend.kernels._numba_importable(),
                                 reason="numba is not installed")


@needs_numba
@pytest.mark.parametrize("dtype", [shendu.float32, shendu.float64])
@pytest.mark.parametrize("name", [n for n in sorted(CASES) if n.startswith("sgd")]
                         + ["sgd_wd_maximize_int_lr"])
def test_sgd_compiled_pass_equals_its_numpy_twin(name, dtype, monkeypatch):
    """backend.updates.sgd (one compiled pass) against the NumPy chain of SGD._kernel: the
    same bits, float32 and float64, every option."""
    make = CASES.get(name) or (lambda lib, ps: lib.optim.SGD(ps, lr=1, momentum=0.9,
                                                             weight_decay=1e-2, maximize=True))
    from shendu.backend import kernels
    kernel = _run(shendu, make, dtype)
    monkeypatch.setattr(kernels, "_state", dict(kernels._state, enabled=False))
    assert not kernels.enabled()
    twin = _run(shendu, make, dtype)
    for a, b in zip(kernel, twin):
        np.testing.assert_array_equal(a, b)
