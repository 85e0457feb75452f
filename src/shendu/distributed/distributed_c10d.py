"""The process group and the collectives (torch.distributed's names), on MPI through mpi4py.

Every collective works in place on the tensors' NumPy arrays (MPI reads and writes the
buffers directly; a non-contiguous tensor goes through a contiguous copy). With
``async_op=True`` it starts MPI's non-blocking call (``Iallreduce``, ``Ibcast``, ...) and
returns a :class:`Work`; the result is in the tensors after ``work.wait()``.

There is one group, the world (``MPI.COMM_WORLD``); ``group=`` accepts ``None`` or the
group returned by ``new_group()`` over all ranks. Outside an MPI launch MPI starts as a
singleton: a world of size 1 in which every collective is the identity.
"""
import enum
import os
import sys
import time
import traceback

import numpy as np

__all__ = ["Backend", "ReduceOp", "Work", "ProcessGroup", "init_process_group", "is_initialized",
           "is_available", "is_mpi_available", "get_rank", "get_world_size", "get_backend",
           "destroy_process_group", "new_group", "barrier", "all_reduce", "broadcast",
           "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor",
           "reduce", "broadcast_object_list", "all_gather_object", "abort_on_exception"]

_INSTALL = "pip install 'shendu[distributed]' (mpi4py and the MPICH wheel)"


def _mpi():
    """mpi4py's MPI module (initializes MPI on first use), or a clear ImportError."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"shendu.distributed runs on MPI through mpi4py, which is not "
                          f"installed: {_INSTALL}") from e
    return MPI


def is_available():
    """True: the API is always there (it needs mpi4py only when a group is made)."""
    return True


def is_mpi_available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


class Backend(str):
    """Backend names; shendu has one, ``"mpi"``."""
    MPI = "mpi"


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce``/``reduce_scatter`` combine the ranks' values."""
    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"
    AVG = "avg"         # SUM, then divided by the world size (floating-point tensors)


def _mpi_op(op):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a shendu.distributed.ReduceOp, got {op!r}")
    MPI = _mpi()
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
            ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


class ProcessGroup:
    """A group of processes: here the MPI world communicator."""

    def __init__(self, comm):
        self.comm = comm

    def rank(self):
        return self.comm.Get_rank()

    def size(self):
        return self.comm.Get_size()

    def __repr__(self):
        return f"ProcessGroup(backend='mpi', rank={self.rank()}, size={self.size()})"


_world = [None]          # the default group once init_process_group has run


class Work:
    """A pending collective: ``wait()`` blocks until it is done (and the result is in the
    tensors); ``is_completed()`` asks without blocking (and so also drives MPI's progress)."""

    def __init__(self, request=None, finish=None):
        self._request, self._finish, self._done = request, finish, False

    def _complete(self):
        if not self._done:
            self._done = True
            if self._finish is not None:
                self._finish()

    def wait(self, timeout=None):
        if self._request is not None:
            self._request.Wait()
        self._complete()
        return True

    def is_completed(self):
        if self._done:
            return True
        if self._request is None or self._request.Test():
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()


def _group(group):
    if _world[0] is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    if group is not None and group is not _world[0]:
        raise ValueError("shendu.distributed has one process group, the world (group=None)")
    return _world[0]


# ---------------------------------------------------------------------- the group
def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the default process group: all the processes ``mpiexec`` started (or this one
    alone, outside a launch). ``world_size``/``rank``, if given, must be MPI's. A rank that
    dies of an uncaught exception aborts the whole job, so the others do not hang."""
    if backend not in (None, "mpi"):
        raise ValueError(f"backend {backend!r} is not available: shendu.distributed runs on MPI "
                         f"only (backend='mpi'); start the processes with mpiexec")
    if _world[0] is not None:
        raise ValueError("trying to initialize the default process group twice!")
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    for given, actual, name in ((world_size, comm.Get_size(), "world_size"),
                                (rank, comm.Get_rank(), "rank")):
        if given not in (-1, None) and given != actual:
            raise ValueError(f"init_process_group({name}={given}), but MPI started this process "
                             f"with {name} {actual} (mpiexec -n decides)")
    _world[0] = ProcessGroup(comm)
    if comm.Get_size() > 1:
        abort_on_exception()


def is_initialized():
    return _world[0] is not None


def get_rank(group=None):
    return _group(group).rank()


def get_world_size(group=None):
    return _group(group).size()


def get_backend(group=None):
    _group(group)
    return Backend.MPI


def destroy_process_group(group=None):
    """Leave the default group (MPI itself stays up until the interpreter exits, so a new
    group can be made later)."""
    _group(group)
    _world[0] = None


def new_group(ranks=None, timeout=None, backend=None, pg_options=None):
    g = _group(None)
    if ranks is not None and sorted(ranks) != list(range(g.size())):
        raise ValueError(f"new_group({ranks}): shendu.distributed supports only the group of "
                         f"all {g.size()} ranks")
    return g


# Time for mpiexec to forward the failing rank's last words before MPI_Abort kills the job
# (without it the traceback was sometimes lost while its first line came through).
ABORT_GRACE_S = 0.5


def abort_on_exception():
    """Make an uncaught exception on this rank print its traceback and abort every rank
    (``MPI_Abort``): without it the other ranks would wait forever in their next collective."""
    previous = sys.excepthook
    if getattr(previous, "_shendu_abort", False):
        return

    def hook(kind, value, tb):
        try:
            rank = _mpi().COMM_WORLD.Get_rank()
            text = (f"shendu.distributed: rank {rank} failed; aborting all ranks\n"
                    + "".join(traceback.format_exception(kind, value, tb)))
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(2, text.encode(errors="replace"))      # one unbuffered write
            time.sleep(ABORT_GRACE_S)
        finally:
            _mpi().COMM_WORLD.Abort(1)
    hook._shendu_abort = True
    sys.excepthook = hook


# ---------------------------------------------------------------------- buffers
def _buffer(t):
    """(array MPI works on, function that writes it back into ``t``)."""
    a = t._data
    if a.flags.c_contiguous and a.flags.writeable:
        return a, t._bump_version
    c = np.ascontiguousarray(a)

    def back():
        np.copyto(t._data, c)
        t._bump_version()
    return c, back


def _run(blocking, start, finish, async_op):
    """Run a collective: the blocking call, or the non-blocking one and a Work."""
    if async_op:
        return Work(start(), finish)
    blocking()
    if finish is not None:
        finish()
    return None


def _scale_if_avg(op, arr, n):
    if op is ReduceOp.AVG:
        if arr.dtype.kind != "f":
            raise RuntimeError(f"ReduceOp.AVG needs a floating-point tensor, got {arr.dtype}")
        arr /= n


def _check_tensor(t, what):
    from .._tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"{what} must be a shendu Tensor, got {type(t).__name__}")


# ---------------------------------------------------------------------- collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Every rank's ``tensor`` becomes the reduction (sum by default) over all ranks."""
    g = _group(group)
    _check_tensor(tensor, "all_reduce: tensor")
    MPI, mop = _mpi(), _mpi_op(op)
    buf, back = _buffer(tensor)

    def finish():
        _scale_if_avg(op, buf, g.size())
        back()
    return _run(lambda: g.comm.Allreduce(MPI.IN_PLACE, buf, op=mop),
                lambda: g.comm.Iallreduce(MPI.IN_PLACE, buf, op=mop), finish, async_op)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank ``dst``'s ``tensor`` becomes the reduction over all ranks (others keep theirs)."""
    g = _group(group)
    _check_tensor(tensor, "reduce: tensor")
    MPI, mop = _mpi(), _mpi_op(op)
    buf, back = _buffer(tensor)
    root = g.rank() == dst
    send = MPI.IN_PLACE if root else buf
    recv = buf if root else None

    def finish():
        if root:
            _scale_if_avg(op, buf, g.size())
            back()
    return _run(lambda: g.comm.Reduce(send, recv, op=mop, root=dst),
                lambda: g.comm.Ireduce(send, recv, op=mop, root=dst), finish, async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Every rank's ``tensor`` becomes rank ``src``'s."""
    g = _group(group)
    _check_tensor(tensor, "broadcast: tensor")
    if not 0 <= src < g.size():
        raise ValueError(f"broadcast: src={src} is not a rank of a world of size {g.size()}")
    buf, back = _buffer(tensor)
    return _run(lambda: g.comm.Bcast(buf, root=src), lambda: g.comm.Ibcast(buf, root=src),
                back, async_op)


def _check_list(tensors, like, size, what):
    """One tensor per rank, each of ``like``'s shape and dtype."""
    if len(tensors) != size:
        raise ValueError(f"{what} has {len(tensors)} entries, the world has {size} ranks")
    for i, t in enumerate(tensors):
        _check_tensor(t, f"{what}[{i}]")
        if t.shape != like.shape or t.dtype != like.dtype:
            raise ValueError(f"{what}[{i}] has shape {tuple(t.shape)} and dtype {t.dtype}; every "
                             f"entry must match the tensor's shape {tuple(like.shape)} and dtype "
                             f"{like.dtype}")


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` becomes rank r's ``tensor``, on every rank."""
    g = _group(group)
    _check_tensor(tensor, "all_gather: tensor")
    _check_list(tensor_list, tensor, g.size(), "all_gather: tensor_list")
    send = np.ascontiguousarray(tensor._data)
    recv = np.empty((g.size(),) + send.shape, send.dtype)

    def finish():
        for t, part in zip(tensor_list, recv):
            np.copyto(t._data, part)
            t._bump_version()
    return _run(lambda: g.comm.Allgather(send, recv), lambda: g.comm.Iallgather(send, recv),
                finish, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` (world_size × the input's length, along dim 0) holds every rank's
    ``input_tensor`` in rank order."""
    g = _group(group)
    _check_tensor(output_tensor, "all_gather_into_tensor: output_tensor")
    _check_tensor(input_tensor, "all_gather_into_tensor: input_tensor")
    if output_tensor.numel() != g.size() * input_tensor.numel() or \
            output_tensor.dtype != input_tensor.dtype:
        raise ValueError(f"all_gather_into_tensor: output of shape {tuple(output_tensor.shape)} "
                         f"({output_tensor.dtype}) cannot hold {g.size()} inputs of shape "
                         f"{tuple(input_tensor.shape)} ({input_tensor.dtype})")
    send = np.ascontiguousarray(input_tensor._data)
    recv, back = _buffer(output_tensor)
    return _run(lambda: g.comm.Allgather(send, recv), lambda: g.comm.Iallgather(send, recv),
                back, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank r's ``output`` becomes the reduction over all ranks of their ``input_list[r]``."""
    g = _group(group)
    _check_tensor(output, "reduce_scatter: output")
    _check_list(input_list, output, g.size(), "reduce_scatter: input_list")
    send = np.stack([t._data for t in input_list]) if input_list else None
    return _reduce_scatter_block(g, output, send, op, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank r's ``output`` becomes the reduction of the r-th slice (along dim 0) of every
    rank's ``input`` (world_size × the output's length)."""
    g = _group(group)
    _check_tensor(output, "reduce_scatter_tensor: output")
    _check_tensor(input, "reduce_scatter_tensor: input")
    if input.numel() != g.size() * output.numel() or input.dtype != output.dtype:
        raise ValueError(f"reduce_scatter_tensor: input of shape {tuple(input.shape)} "
                         f"({input.dtype}) is not {g.size()} outputs of shape "
                         f"{tuple(output.shape)} ({output.dtype})")
    return _reduce_scatter_block(g, output, np.ascontiguousarray(input._data), op, async_op)


def _reduce_scatter_block(g, output, send, op, async_op):
    mop = _mpi_op(op)
    recv, back = _buffer(output)

    def finish():
        _scale_if_avg(op, recv, g.size())
        back()
    return _run(lambda: g.comm.Reduce_scatter_block(send, recv, op=mop),
                lambda: g.comm.Ireduce_scatter_block(send, recv, op=mop), finish, async_op)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached this call."""
    g = _group(group)
    return _run(g.comm.Barrier, g.comm.Ibarrier, None, async_op)


# ---------------------------------------------------------------------- picklable objects
def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Every rank's ``object_list`` entries become rank ``src``'s (pickled: trusted peers only)."""
    g = _group(group)
    objs = g.comm.bcast(list(object_list) if g.rank() == src else None, root=src)
    object_list[:] = objs


def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` becomes rank r's ``obj`` (pickled: trusted peers only)."""
    g = _group(group)
    if len(object_list) != g.size():
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} entries, the "
                         f"world has {g.size()} ranks")
    object_list[:] = g.comm.allgather(obj)

