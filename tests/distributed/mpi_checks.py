"""Checks run inside ``mpiexec -n N`` (driven by test_distributed.py): every collective
against NumPy, DDP against one process on the full batch (float64, to 1e-12), no_sync,
find_unused_parameters, SyncBatchNorm against BatchNorm on the full batch, DistributedSampler.

Every rank builds the same data from the same seed, so each one can compute the single-process
reference itself. Prints "rank R: all checks passed" at the end; any failure raises (and the
excepthook aborts the job).
"""
import os
import sys

import numpy as np

import shendu
import shendu.distributed as dist
from shendu import nn
from shendu.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
R, N = dist.get_rank(), dist.get_world_size()
shendu.set_default_dtype(shendu.float64)


def close(a, b, tol=1e-12, what=""):
    a = a.detach().numpy() if hasattr(a, "numpy") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "numpy") else np.asarray(b)
    err = np.max(np.abs(a - b) / (1 + np.abs(b))) if a.size else 0.0
    assert a.shape == b.shape and err <= tol, f"rank {R}: {what}: max rel error {err:.3g}"


def per_rank(shape, r, dtype=np.float64):
    """The tensor rank r contributes (known to every rank, for the NumPy reference)."""
    return np.random.default_rng(100 + r).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------- collectives
def check_collectives():
    everyone = np.stack([per_rank((3, 5), r) for r in range(N)])
    for op, ref in ((dist.ReduceOp.SUM, everyone.sum(0)), (dist.ReduceOp.MAX, everyone.max(0)),
                    (dist.ReduceOp.MIN, everyone.min(0)),
                    (dist.ReduceOp.PRODUCT, everyone.prod(0)),
                    (dist.ReduceOp.AVG, everyone.mean(0))):
        for async_op in (False, True):
            t = shendu.tensor(per_rank((3, 5), R))
            work = dist.all_reduce(t, op=op, async_op=async_op)
            if async_op:
                assert isinstance(work, dist.Work)
                work.wait()
                assert work.is_completed()
            else:
                assert work is None
            close(t, ref, what=f"all_reduce {op} async={async_op}")
    ints = shendu.tensor(np.array([1 << R, 3], np.int64))
    dist.all_reduce(ints, op=dist.ReduceOp.BOR)
    assert ints.tolist() == [(1 << N) - 1, 3], ints
    nc = shendu.tensor(per_rank((4, 6), R)).t()             # non-contiguous: a transpose
    dist.all_reduce(nc)
    close(nc, everyone_of((4, 6)).sum(0).T, what="all_reduce of a non-contiguous tensor")

    for src in range(N):
        for async_op in (False, True):
            t = shendu.tensor(per_rank((2, 3), R))
            w = dist.broadcast(t, src=src, async_op=async_op)
            if async_op:
                w.wait()
            close(t, per_rank((2, 3), src), what=f"broadcast from {src}")

    for async_op in (False, True):
        out = [shendu.zeros(3, 5) for _ in range(N)]
        w = dist.all_gather(out, shendu.tensor(per_rank((3, 5), R)), async_op=async_op)
        if async_op:
            w.wait()
        for r in range(N):
            close(out[r], everyone[r], what=f"all_gather entry {r}")
    big = shendu.zeros(N * 3, 5)
    dist.all_gather_into_tensor(big, shendu.tensor(per_rank((3, 5), R)))
    close(big, everyone.reshape(N * 3, 5), what="all_gather_into_tensor")

    parts = np.stack([np.stack([per_rank((2, 2), 10 * r + k) for k in range(N)])
                      for r in range(N)])                   # parts[r, k]: rank r's input k
    for async_op in (False, True):
        out = shendu.zeros(2, 2)
        w = dist.reduce_scatter(out, [shendu.tensor(p) for p in parts[R]], async_op=async_op)
        if async_op:
            w.wait()
        close(out, parts[:, R].sum(0), what="reduce_scatter")
    out = shendu.zeros(2, 2)
    dist.reduce_scatter_tensor(out, shendu.tensor(parts[R].reshape(N * 2, 2)),
                               op=dist.ReduceOp.MAX)
    close(out, parts[:, R].max(0), what="reduce_scatter_tensor MAX")

    t = shendu.tensor(per_rank((3,), R))
    dist.reduce(t, dst=N - 1)
    close(t, everyone_of((3,)).sum(0) if R == N - 1 else per_rank((3,), R), what="reduce")

    dist.barrier()
    dist.barrier(async_op=True).wait()
    objs = [None] * N
    dist.all_gather_object(objs, {"rank": R})
    assert objs == [{"rank": r} for r in range(N)], objs
    lst = [R, "x"]
    dist.broadcast_object_list(lst, src=0)
    assert lst == [0, "x"], lst
    try:
        dist.all_gather([shendu.zeros(2)], shendu.zeros(2))
    except ValueError as e:
        assert "ranks" in str(e)
    else:
        raise AssertionError("all_gather with a short list did not raise")


def everyone_of(shape):
    return np.stack([per_rank(shape, r) for r in range(N)])


# ---------------------------------------------------------------------- DDP
class Net(nn.Module):
    def __init__(self, bn=None, spare=False):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = bn(4) if bn else nn.Identity()
        self.fc1 = nn.Linear(4 * 5 * 5, 16)
        self.fc2 = nn.Linear(16, 3)
        if spare:                           # used only when asked (find_unused_parameters)
            self.spare = nn.Linear(3, 3)

    def forward(self, x, use_spare=False):
        h = self.bn(self.conv(x)).relu().flatten(1)
        out = self.fc2(self.fc1(h).tanh())
        return self.spare(out) if use_spare else out


def data(step, batch):
    """The full batch of step ``step`` (every rank sees it; rank r trains on slice r)."""
    rng = np.random.default_rng(1000 + step)
    x = rng.standard_normal((batch * N, 2, 5, 5))
    y = rng.integers(0, 3, batch * N)
    return shendu.tensor(x), shendu.tensor(y)


def mine(t, batch):
    return t[R * batch:(R + 1) * batch]


def check_ddp_equivalence(steps=10, batch=3, bn=None, sync=False):
    """DDP on N processes at batch B == one process at batch N·B: gradients at every step
    and parameters after ``steps`` SGD steps."""
    shendu.manual_seed(R)               # different initial weights: DDP must broadcast rank 0's
    net = Net(bn)
    if sync:
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    shendu.manual_seed(0)
    ref = Net(bn)                       # the single-process reference, rank 0's initial weights
    ddp = DDP(net, bucket_cap_mb=0.001)  # small buckets: several all-reduces per step
    close_params(ddp.module, ref, "initial parameters (broadcast from rank 0)")
    opt = shendu.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ropt = shendu.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    for step in range(steps):
        x, y = data(step, batch)
        opt.zero_grad()
        ropt.zero_grad()
        lossf(ddp(mine(x, batch)), mine(y, batch)).backward()
        lossf(ref(x), y).backward()
        for (name, p), q in zip(ddp.module.named_parameters(), ref.parameters()):
            close(p.grad, q.grad, what=f"step {step} gradient of {name}")
        opt.step()
        ropt.step()
    close_params(ddp.module, ref, f"parameters after {steps} steps")
    launches = ddp.reducer.launches
    assert len(launches) == len(ddp.reducer.buckets) > 1, launches
    total = len(ddp.reducer.params)
    assert launches[0][1] < total, ("the first bucket's all-reduce should start before the "
                                    f"last gradient is ready: {launches}")
    if sync:                            # SyncBatchNorm: running statistics of the full batch
        for k in ("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"):
            close(ddp.module.state_dict()[k], ref.state_dict()[k], what=k)
    return ddp


def close_params(a, b, what):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        close(p, q, what=f"{what}: {name}")


def check_no_sync(batch=2, accum=3):
    """``accum`` micro-batches, all but the last under no_sync, give the gradient of the
    full batch of accum·N·B (average of micro-batch means), as one process."""
    shendu.manual_seed(0)
    ref = Net()
    ddp = DDP(Net())
    ddp.module.load_state_dict(ref.state_dict())
    lossf = nn.CrossEntropyLoss()
    for k in range(accum):
        x, y = data(50 + k, batch)
        if k < accum - 1:
            with ddp.no_sync():
                lossf(ddp(mine(x, batch)), mine(y, batch)).backward()
            assert ddp.reducer.launches == [], "no_sync must not communicate"
        else:
            lossf(ddp(mine(x, batch)), mine(y, batch)).backward()
        lossf(ref(x), y).backward()
    for (name, p), q in zip(ddp.module.named_parameters(), ref.parameters()):
        close(p.grad, q.grad, what=f"no_sync accumulated gradient of {name}")
    loss = lossf(ddp(mine(x, batch)), mine(y, batch))
    loss.backward(retain_graph=True)
    try:                                # a second backward would leave the ranks apart
        loss.backward()
    except RuntimeError as e:
        assert "drift apart" in str(e), e
    else:
        raise AssertionError("a second backward after the reduction did not raise")


def check_unused(batch=2):
    """find_unused_parameters: a layer used on rank 0 only still gets the average gradient
    (rank 0's contribution / N); a layer no rank uses keeps .grad None."""
    shendu.manual_seed(0)
    ref = Net(spare=True)
    ddp = DDP(Net(spare=True), find_unused_parameters=True)
    ddp.module.load_state_dict(ref.state_dict())
    lossf = nn.CrossEntropyLoss()
    for step in range(2):
        ddp.zero_grad()
        x, y = data(60 + step, batch)
        lossf(ddp(mine(x, batch), use_spare=(step == 0 and R == 0)), mine(y, batch)).backward()
        grads = {n: p.grad for n, p in ddp.module.named_parameters()}
        if step == 0:                   # rank 0's gradient of spare, averaged over N ranks
            one = Net(spare=True)
            one.load_state_dict(ref.state_dict())
            lossf(one(x[:batch], use_spare=True), y[:batch]).backward()
            close(grads["spare.weight"], one.spare.weight.grad / N, what="partly unused layer")
        else:
            assert grads["spare.weight"] is None, "unused everywhere: .grad should stay None"
    # the plain DDP (find_unused_parameters=False) with an unused layer: a clear error next time
    plain = DDP(Net(spare=True))
    x, y = data(70, batch)
    lossf(plain(mine(x, batch), use_spare=True), mine(y, batch)).backward()   # all used: fine
    lossf(plain(mine(x, batch)), mine(y, batch)).backward()     # spare gets no gradient...
    try:
        plain(mine(x, batch))                                   # ...so the next forward fails
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e), e
    else:
        raise AssertionError("an unused parameter without find_unused_parameters did not raise")


def check_syncbn_input_grad(batch=3):
    """SyncBatchNorm's input gradient, loss summed over samples, equals BatchNorm's on the
    full batch for this rank's slice; eval mode uses the (shared) running statistics."""
    shendu.manual_seed(0)
    bn, sbn = nn.BatchNorm2d(4), nn.SyncBatchNorm(4)
    with shendu.no_grad():
        bn.weight.copy_(shendu.tensor(per_rank((4,), 99)))
        bn.bias.copy_(shendu.tensor(per_rank((4,), 98)))
    sbn.load_state_dict(bn.state_dict())
    x = shendu.tensor(np.random.default_rng(7).standard_normal((batch * N, 4, 3, 2)) * 3 + 1)
    w = shendu.tensor(np.random.default_rng(8).standard_normal((batch * N, 4, 3, 2)))
    xr = mine(x, batch).detach().requires_grad_()
    xf = x.detach().requires_grad_()
    yr, yf = sbn(xr), bn(xf)
    close(yr, mine(yf, batch), what="SyncBatchNorm forward")
    (yr * mine(w, batch)).sum().backward()
    (yf * w).sum().backward()
    close(xr.grad, mine(xf.grad, batch), what="SyncBatchNorm input gradient")
    gw = sbn.weight.grad.clone()
    dist.all_reduce(gw)                  # the local shares add up to the full-batch gradient
    close(gw, bn.weight.grad, what="SyncBatchNorm weight gradient (summed over ranks)")
    close(sbn.running_var, bn.running_var, what="SyncBatchNorm running_var")
    sbn.eval()
    bn.eval()
    close(sbn(xr), mine(bn(xf), batch), what="SyncBatchNorm in eval mode")
    assert isinstance(nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.BatchNorm1d(2)))[0],
                      nn.SyncBatchNorm)


def check_sampler():
    from shendu.utils.data import DistributedSampler
    for n, drop in ((10, False), (11, False), (11, True), (3, False)):
        s = DistributedSampler(range(n), shuffle=True, seed=5, drop_last=drop)
        s.set_epoch(2)
        got = list(s)
        everyone = [None] * N
        dist.all_gather_object(everyone, got)
        flat = [i for part in everyone for i in part]
        assert all(len(p) == len(s) for p in everyone)
        if drop:
            assert len(set(flat)) == len(flat) == (n // N) * N
        else:
            assert set(flat) == set(range(n)) and len(flat) == -(-n // N) * N


def check_trainer():
    """Trainer.fit with DDP and a DistributedSampler: the sampler follows the epochs, the
    logged losses are the means over all processes (the same on every rank), and only rank 0
    logs and runs the file-writing callbacks."""
    from shendu.train import Trainer, CSVLogger
    from shendu.utils.data import DataLoader, DistributedSampler, TensorDataset
    x, y = data(80, 8)
    ds = TensorDataset(x, y)
    sampler = DistributedSampler(ds, seed=1)
    shendu.manual_seed(0)
    ddp = DDP(Net())
    lines = []
    tr = Trainer(ddp, shendu.optim.SGD(ddp.parameters(), lr=0.05), log=lines.append,
                 callbacks=[CSVLogger(os.devnull)], progress=False)
    hist = tr.fit(DataLoader(ds, batch_size=3, sampler=sampler), epochs=2)
    assert sampler.epoch == 2
    assert (len(lines) == 2) if R == 0 else (lines == [] and tr.callbacks == []), lines
    losses = hist["train_loss"] + hist["train_accuracy"]
    everyone = [None] * N
    dist.all_gather_object(everyone, losses)
    assert all(e == losses for e in everyone), everyone


checks = [check_collectives, check_trainer, check_ddp_equivalence, check_no_sync, check_unused,
          check_syncbn_input_grad, check_sampler,
          lambda: check_ddp_equivalence(steps=3, bn=nn.BatchNorm2d, sync=True)]
only = sys.argv[1:]
for fn in checks:
    if not only or fn.__name__ in only:
        fn()
print(f"rank {R}: all checks passed", flush=True)
