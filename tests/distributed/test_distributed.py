"""shendu.distributed, DistributedDataParallel, SyncBatchNorm, DistributedSampler and
data-parallel ``shendu train``.

The multi-process checks run under ``mpiexec -n 2`` and ``-n 4`` (oversubscribed on a small
machine), always with a timeout so a hang fails instead of blocking. The in-process tests use
MPI's singleton world (size 1).
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mpi4py")

import shendu                                             # noqa: E402
import shendu.distributed as dist                         # noqa: E402
from shendu import nn                                     # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, os.pardir, os.pardir, "src")


def _mpiexec():
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.access(here, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpiexec not found next to Python nor on PATH")
    return found


def _env():
    """One BLAS thread per process; no numba (its kernels' loading costs each process ~1 s)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", SHENDU_NUMBA="0")
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(SRC)] + sys.path)
    return env


def mpirun(n, args, timeout=120, cwd=None):
    """``mpiexec -n n python *args``; a run that outlives ``timeout`` fails the test."""
    cmd = [_mpiexec(), "-n", str(n), sys.executable] + list(args)
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(),
                              cwd=cwd)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} hung (killed after {timeout} s); output so far:\n"
                    f"{e.stdout}\n{e.stderr}")


# ---------------------------------------------------------------------- under mpiexec
@pytest.mark.parametrize("n", [2, 4])
def test_collectives_ddp_syncbn_sampler_under_mpiexec(n):
    """mpi_checks.py: collectives vs NumPy, DDP == one process at the full batch (float64,
    1e-12, 10 SGD steps), no_sync, find_unused_parameters, SyncBatchNorm vs BatchNorm."""
    r = mpirun(n, [os.path.join(HERE, "mpi_checks.py")])
    assert r.returncode == 0, r.stdout + r.stderr
    for rank in range(n):
        assert f"rank {rank}: all checks passed" in r.stdout, r.stdout + r.stderr


def test_a_raising_rank_ends_the_job_with_its_error():
    code = ("import shendu, shendu.distributed as dist\n"
            "dist.init_process_group('mpi')\n"
            "if dist.get_rank() == 1:\n"
            "    raise ValueError('boom on rank 1')\n"
            "dist.all_reduce(shendu.ones(3))   # rank 0 waits here for a partner that died\n")
    r = mpirun(2, ["-c", code], timeout=60)
    assert r.returncode != 0
    assert "ValueError: boom on rank 1" in r.stderr
    assert "rank 1 failed; aborting all ranks" in r.stderr


def _history(path):
    with open(path) as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    head = rows[0]
    drop = {"epoch_time"}
    return [{k: v for k, v in zip(head, row) if k not in drop} for row in rows[1:]]


def test_train_data_parallel_checkpoint_and_resume(tmp_path):
    """``shendu train --nproc 2`` trains in two processes; rank 0 alone prints and writes;
    a run stopped after epoch 1 and resumed under ``mpiexec -n 2`` matches one that never
    stopped, epoch for epoch."""
    common = ["--model", "mlp", "--data", "mnist-mini", "--subset", "256", "--val-fraction",
              "0.25", "--batch-size", "32", "--no-progress"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    env = _env()
    r = subprocess.run([sys.executable, "-m", "shendu", "train", *common, "--epochs", "2",
                        "--out", str(whole), "--nproc", "2"], capture_output=True, text=True,
                       timeout=180, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("test accuracy:") == 1, r.stdout      # rank 0 alone prints
    assert "2 processes × batch 16 (global batch 32)" in r.stdout
    r = mpirun(2, ["-m", "shendu", "train", *common, "--epochs", "1", "--out", str(part)],
               timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    r = mpirun(2, ["-m", "shendu", "train", "--resume", str(part / "checkpoint.safetensors"),
                   "--epochs", "2", "--no-progress"], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("resumed from") == 1, r.stdout
    a, b = _history(whole / "history.csv"), _history(part / "history.csv")
    assert len(a) == 2 and a == b
    # one process at the same global batch trains on the same batches: the same run, up to
    # float32 rounding (the batch mean is summed in another order)
    r = subprocess.run([sys.executable, "-m", "shendu", "train", *common, "--epochs", "2",
                        "--out", str(tmp_path / "one")], capture_output=True, text=True,
                       timeout=180, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    one = _history(tmp_path / "one" / "history.csv")
    for k in ("train_loss", "val_loss"):
        np.testing.assert_allclose([float(row[k]) for row in a], [float(row[k]) for row in one],
                                   rtol=1e-4, err_msg=k)
    state = shendu.load(str(part / "checkpoint.safetensors"))
    assert not any(k.startswith("module.") for k in state["model"]), "saved with DDP's prefix"


# ---------------------------------------------------------------------- in one process
@pytest.fixture
def world1():
    dist.init_process_group("mpi")
    try:
        yield
    finally:
        dist.destroy_process_group()


def test_world_of_one(world1):
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    t = shendu.tensor([1.0, -2.0])
    dist.all_reduce(t)
    dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True).wait()
    dist.broadcast(t, src=0)
    out = [shendu.zeros(2)]
    dist.all_gather(out, t)
    assert t.tolist() == [1.0, -2.0] and out[0].tolist() == [1.0, -2.0]
    with pytest.raises(ValueError, match="src=1 is not a rank"):
        dist.broadcast(t, src=1)
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group("mpi")


def test_ddp_in_a_world_of_one_is_the_plain_model(world1):
    shendu.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    ref = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    ref.load_state_dict(net.state_dict())
    ddp = nn.parallel.DistributedDataParallel(net)
    assert list(ddp.state_dict()) == ["module." + k for k in ref.state_dict()]
    x = shendu.randn(5, 4)
    ddp(x).square().sum().backward()
    ref(x).square().sum().backward()
    for p, q in zip(ddp.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_sync_batch_norm_op_against_torch_and_gradcheck(world1):
    """The SyncBatchNorm path itself (its all_gather and all_reduce on one rank) against
    torch's batch norm in training mode, forward and backward, float64; gradcheck; float32."""
    torch = pytest.importorskip("torch")
    from shendu._ops.sync_batch_norm import sync_batch_norm
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5)) * 2 + 1
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    xs, ws, bs = (shendu.tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv = shendu.zeros(4, dtype=shendu.float64), shendu.ones(4, dtype=shendu.float64)
    ys = sync_batch_norm(xs, rm, rv, ws, bs, 0.1, 1e-5)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rmt, rvt = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    yt = torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, True, 0.1, 1e-5)
    g = rng.standard_normal(x.shape)
    (ys * shendu.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    for s, t in ((ys, yt), (xs.grad, xt.grad), (ws.grad, wt.grad), (bs.grad, bt.grad),
                 (rm, rmt), (rv, rvt)):
        np.testing.assert_allclose(s.detach().numpy(), t.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    from shendu.autograd import gradcheck
    assert gradcheck(lambda a, c, d: sync_batch_norm(a, None, None, c, d, 0.1, 1e-5),
                     (xs.detach().requires_grad_(), ws.detach().requires_grad_(),
                      bs.detach().requires_grad_()))
    y32 = sync_batch_norm(shendu.tensor(x.astype(np.float32)), None, None, None, None, 0.1, 1e-5)
    assert y32.dtype == shendu.float32 and np.isfinite(y32.numpy()).all()
    with pytest.raises(RuntimeError, match="weight should contain 4 elements not 3"):
        sync_batch_norm(xs, None, None, shendu.ones(3, dtype=shendu.float64), None, 0.1, 1e-5)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        sync_batch_norm(shendu.ones(1, 4), None, None, None, None, 0.1, 1e-5)


def test_sync_batchnorm_module_falls_back_to_batchnorm_and_converts():
    shendu.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Sequential(nn.BatchNorm1d(3)))
    model.eval()
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(conv[1], nn.SyncBatchNorm) and isinstance(conv[2][0], nn.SyncBatchNorm)
    assert conv[1].weight is model[1].weight and not conv[1].training
    x = shendu.randn(4, 3, 2, 2)
    bn, sbn = nn.BatchNorm2d(3), nn.SyncBatchNorm(3)
    np.testing.assert_array_equal(bn(x).detach().numpy(), sbn(x).detach().numpy())
    with pytest.raises(ValueError, match="at least 2D input"):
        sbn(shendu.randn(3))
    with pytest.raises(Exception, match="3 channels"):
        sbn(shendu.randn(4, 5, 2))
