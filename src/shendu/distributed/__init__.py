"""shendu.distributed: data-parallel training across processes and machines, on MPI
(torch.distributed's API; needs ``pip install 'shendu[distributed]'``).

    mpiexec -n 4 python train.py          # four processes; on several machines: -f hostfile

    import shendu.distributed as dist
    dist.init_process_group("mpi")
    dist.all_reduce(t)                    # t becomes the sum over the four processes
"""
from .distributed_c10d import (Backend, ReduceOp, Work, ProcessGroup, init_process_group,
                               is_initialized, is_available, is_mpi_available, get_rank,
                               get_world_size, get_backend, destroy_process_group, new_group,
                               barrier, all_reduce, broadcast, all_gather,
                               all_gather_into_tensor, reduce_scatter, reduce_scatter_tensor,
                               reduce, broadcast_object_list, all_gather_object,
                               abort_on_exception)
from .launch import launched_by_mpi, find_mpiexec

__all__ = ["Backend", "ReduceOp", "Work", "ProcessGroup", "init_process_group",
           "is_initialized", "is_available", "is_mpi_available", "get_rank", "get_world_size",
           "get_backend", "destroy_process_group", "new_group", "barrier", "all_reduce",
           "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
           "reduce_scatter_tensor", "reduce", "broadcast_object_list", "all_gather_object",
           "abort_on_exception", "launched_by_mpi", "find_mpiexec"]
