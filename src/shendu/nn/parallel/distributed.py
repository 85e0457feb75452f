"""DistributedDataParallel: one model replica per process, gradients averaged over processes.

Each process runs the whole model on its own part of the batch. At construction the
parameters (and buffers) are broadcast from rank 0, so every replica starts equal; after
every backward each gradient is the average over the processes, so every optimizer step is
the same everywhere and the replicas stay equal.

The averaging overlaps the backward pass (torch's Reducer). The parameters are grouped,
in reverse registration order (about the order their gradients become ready), into buckets
of at most ``bucket_cap_mb``. A post-accumulate-grad hook on each parameter copies its
gradient into its bucket's flat buffer; when a bucket is complete, a non-blocking MPI
all-reduce of the buffer starts while backward continues with the earlier layers. Buckets
are started in index order on every rank (a bucket that completes early waits for the
ones before it), so all ranks issue the same collectives in the same order. When the last
gradient arrives the reducer waits for every bucket, divides by the world size and copies
the averages back into ``.grad``.
"""
import contextlib

import numpy as np

from ..modules.module import Module
from ... import distributed as dist
from ...autograd import grad_mode
from ..._tensor import Tensor, _make

__all__ = ["DistributedDataParallel"]


def _coalesced(tensors):
    """The tensors grouped by dtype: [(dtype, [tensors])], in first-seen order."""
    groups = {}
    for t in tensors:
        groups.setdefault(t._data.dtype, []).append(t)
    return list(groups.items())


def broadcast_coalesced(tensors, src=0):
    """Broadcast many tensors from ``src`` with one MPI call per dtype (one flat buffer)."""
    for dtype, ts in _coalesced([t for t in tensors if t is not None]):
        flat = np.concatenate([t._data.ravel() for t in ts]) if ts else np.empty(0, dtype)
        dist.broadcast(_make(flat, None, 0), src)
        off = 0
        for t in ts:
            n = t._data.size
            np.copyto(t._data, flat[off:off + n].reshape(t._data.shape))
            t._bump_version()
            off += n


def assign_buckets(params, bucket_cap_mb=25):
    """The parameters grouped as DDP reduces them: in reverse order, one dtype per bucket,
    a new bucket when the next one would pass ``bucket_cap_mb`` MiB. Lists of parameters,
    in the order the buckets are started (the last is the first layers', started last)."""
    cap = max(1, int(bucket_cap_mb * 1024 * 1024))
    buckets, open_ = [], {}              # dtype -> (params, bytes) of the bucket being filled
    for p in reversed(list(params)):
        dt = p._data.dtype
        ps, size = open_.get(dt, ([], 0))
        if ps and size + p._data.nbytes > cap:
            buckets.append(ps)
            ps, size = [], 0
        ps.append(p)
        open_[dt] = (ps, size + p._data.nbytes)
    return buckets + [ps for ps, _ in open_.values()]


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer."""

    def __init__(self, params, dtype):
        self.params = params
        self.offsets = np.cumsum([0] + [p._data.size for p in params]).tolist()
        self.flat = np.zeros(self.offsets[-1], dtype)
        self.pending = len(params)
        self.work = None

    def slot(self, i):
        return self.flat[self.offsets[i]:self.offsets[i + 1]]


class _Reducer:
    """Runs the bucketed all-reduce of one DDP module's gradients, from gradient hooks."""

    def __init__(self, params, bucket_cap_mb, find_unused):
        self.params = params
        self.find_unused = find_unused
        self.buckets = []
        self.where = {}                  # id(param) -> (bucket index, index in bucket)
        self.index = {id(p): k for k, p in enumerate(params)}
        for ps in assign_buckets(params, bucket_cap_mb):
            self._add_bucket(ps, ps[0]._data.dtype)
        self.armed = False
        self.ready = 0
        self.next = 0
        self.used = None
        self.marked = set()              # ids of the parameters reduced in this iteration
        self.done = False                # this iteration's averages are written
        self.launches = []               # (bucket, gradients ready when it started): for tests
        self.handles = [p.register_post_accumulate_grad_hook(self._hook) for p in params]

    def _add_bucket(self, ps, dtype):
        for i, p in enumerate(ps):
            self.where[id(p)] = (len(self.buckets), i)
        self.buckets.append(_Bucket(ps, dtype))

    # ------------------------------------------------------------ one iteration
    def prepare(self, outputs, sync=True):
        """Arm the hooks for the backward of ``outputs`` (called by forward; ``sync=False``
        under no_sync: that backward only accumulates)."""
        if self.armed and self.ready:
            raise RuntimeError(
                "expected to have finished reduction in the prior "
                f"iteration before starting a new one: {len(self.params) - self.ready} of "
                f"{len(self.params)} parameters received no gradient (parameters that do not "
                "take part in producing the loss). Pass find_unused_parameters=True, or make "
                "every parameter contribute to the loss.")
        self.done = False
        if not sync:
            self.armed = False
            return
        for b in self.buckets:
            b.pending, b.work = len(b.params), None
        self.armed, self.ready, self.next, self.launches = True, 0, 0, []
        self.used, self.marked = None, set()
        if self.find_unused:
            reached = _reachable_leaves(outputs)
            self.used = np.array([id(p) in reached for p in self.params], np.int32)
            for p in self.params:
                if id(p) not in reached:
                    self._mark_ready(p)

    def _hook(self, p):
        if self.armed:
            self._mark_ready(p)
        elif self.done:
            raise RuntimeError(
                "DistributedDataParallel: a gradient arrived after this iteration's gradients "
                "were averaged (a second backward through one forward): its processes would "
                "drift apart. Run one backward per forward, or the forward under no_sync()")

    def _mark_ready(self, p):
        if id(p) in self.marked:
            raise RuntimeError(
                "DistributedDataParallel: a parameter's gradient arrived twice in one iteration "
                f"(shape {tuple(p.shape)}): call backward once per forward, or run the extra "
                "backward passes inside no_sync()")
        self.marked.add(id(p))
        b_i, i = self.where[id(p)]
        b = self.buckets[b_i]
        slot = b.slot(i)
        if p.grad is None:
            slot.fill(0)
        else:
            np.copyto(slot, p.grad._data.reshape(-1))
        b.pending -= 1
        self.ready += 1
        self._launch_ready()
        for started in self.buckets[:self.next]:
            started.work.is_completed()   # drive MPI's progress on the ones in flight
        if self.ready == len(self.params):
            self._finish()

    def _launch_ready(self):
        while self.next < len(self.buckets) and self.buckets[self.next].pending == 0:
            b = self.buckets[self.next]
            b.work = dist.all_reduce(_make(b.flat, None, 0), async_op=True)
            self.launches.append((self.next, self.ready))
            self.next += 1

    def _finish(self):
        """Wait for every bucket; write the averages into ``.grad``."""
        self.armed, self.done = False, True
        n = dist.get_world_size()
        used = None
        if self.used is not None:         # which parameters some rank used
            used = _make(self.used.copy(), None, 0)
            dist.all_reduce(used)
            used = used._data
        for b in self.buckets:
            b.work.wait()
            b.flat /= n
            for i, p in enumerate(b.params):
                if used is not None and used[self.index[id(p)]] == 0:
                    continue                   # unused everywhere: .grad stays as it was
                avg = b.slot(i).reshape(p._data.shape)
                if p.grad is None:
                    p.grad = _make(avg.copy(), None, 0)
                else:
                    np.copyto(p.grad._data, avg)
                    p.grad._bump_version()

    def remove(self):
        for h in self.handles:
            h.remove()


def _reachable_leaves(outputs):
    """ids of the leaf tensors the graph behind ``outputs`` reaches."""
    roots, seen, leaves = [], set(), set()

    def collect(o):
        if isinstance(o, Tensor):
            if o.grad_fn is not None:
                roots.append(o.grad_fn)
            elif o.requires_grad:
                leaves.add(id(o))
        elif isinstance(o, (list, tuple)):
            for v in o:
                collect(v)
        elif isinstance(o, dict):
            for v in o.values():
                collect(v)
    collect(outputs)
    stack = roots
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        var = getattr(n, "variable", None)
        if var is not None:
            leaves.add(id(var))
        stack.extend(m for m, _ in n.next_functions if m is not None)
    return leaves


class DistributedDataParallel(Module):
    """torch.nn.parallel.DistributedDataParallel on MPI: wrap the model once the process
    group is initialized; ``ddp(x)`` runs the model, and ``loss.backward()`` leaves in every
    parameter's ``.grad`` the average over the processes.

    ``bucket_cap_mb``: gradients per all-reduce (MiB). ``broadcast_buffers``: before each
    forward, rank 0's buffers (BatchNorm's running statistics) are copied to all ranks.
    ``find_unused_parameters``: look, after each forward, for parameters the output does
    not depend on and reduce them at once (else backward would wait for them forever).
    ``device_ids``/``output_device`` must be None or CPU (shendu runs on the CPU).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a shendu.nn.Module, got "
                            f"{type(module).__name__}")
        for d in (device_ids or []) + ([output_device] if output_device is not None else []):
            if str(d) not in ("cpu", "-1"):
                raise ValueError(f"DistributedDataParallel: device {d!r}: shendu runs on the "
                                 f"CPU; leave device_ids and output_device as None")
        self.process_group = dist.new_group() if process_group is None else process_group
        self.module = module
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.bucket_cap_mb = 25 if bucket_cap_mb is None else bucket_cap_mb
        self.require_backward_grad_sync = True
        params = [p for p in module.parameters() if p.requires_grad]
        _check_same_shapes(params)
        with grad_mode.no_grad():
            broadcast_coalesced(list(module.parameters()) + list(module.buffers()), 0)
        self.reducer = _Reducer(params, self.bucket_cap_mb, find_unused_parameters)

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and dist.get_world_size() > 1:
            bufs = list(self.module.buffers())
            if bufs:
                with grad_mode.no_grad():
                    broadcast_coalesced(bufs, 0)
        out = self.module(*inputs, **kwargs)
        if grad_mode.is_grad_enabled():
            self.reducer.prepare(out, self.require_backward_grad_sync)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward only accumulates into ``.grad`` (no communication); the first
        backward after it averages the accumulated gradients (gradient accumulation)."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _describe(self):
        return f"DistributedDataParallel({type(self.module).__name__})"


def _check_same_shapes(params):
    """Every rank must wrap the same architecture: compare the parameter shapes."""
    shapes = [tuple(p.shape) for p in params]
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, shapes)
    for r, s in enumerate(everyone):
        if s != shapes:
            raise RuntimeError(f"DistributedDataParallel: rank {r}'s model has parameters of "
                               f"shapes {s}, rank {dist.get_rank()}'s has {shapes}: every "
                               f"process must build the same model")
