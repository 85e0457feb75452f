"""Starting and recognising an MPI launch.

``mpiexec -n 4 python train.py`` starts four copies of a program; the launcher tells each
one its place through environment variables (MPICH's Hydra: ``PMI_RANK``/``PMI_SIZE``;
Open MPI: ``OMPI_COMM_WORLD_*``). ``launched_by_mpi()`` reads them without starting MPI, so a
program can decide whether to join a process group at all.
"""
import os
import shutil
import sys

__all__ = ["launched_by_mpi", "env_world_size", "env_local_size", "find_mpiexec",
           "mpiexec_command", "relaunch", "join_launch"]

_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE")
_LOCAL_VARS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE")


def _first_int(keys, default):
    for key in keys:
        v = os.environ.get(key, "")
        if v.isdigit():
            return int(v)
    return default


def env_world_size():
    """The number of processes the MPI launcher started (1 outside a launch)."""
    return _first_int(_SIZE_VARS, 1)


def env_local_size():
    """How many of them run on this machine (the world size when the launcher does not say)."""
    return _first_int(_LOCAL_VARS, env_world_size())


def launched_by_mpi():
    """True inside ``mpiexec -n N`` with N > 1."""
    return env_world_size() > 1


def find_mpiexec():
    """The ``mpiexec`` next to this Python (a venv with the MPICH wheel), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(here, os.X_OK):
        return here
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError("mpiexec was not found next to Python nor on PATH: "
                                "pip install 'shendu[distributed]' (mpi4py and the MPICH wheel)")
    return found


def mpiexec_command(nproc, argv):
    """``[mpiexec, -n, nproc, *argv]``."""
    if int(nproc) < 1:
        raise ValueError(f"the number of processes must be at least 1, got {nproc}")
    return [find_mpiexec(), "-n", str(int(nproc))] + list(argv)


def _threads_env(nproc):
    """Environment for ``nproc`` processes on this machine: the cores shared out (one BLAS
    pool per process), unless the user chose a thread count."""
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        n = str(max(1, (os.cpu_count() or 1) // int(nproc)))
        for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(key, n)
    return env


def relaunch(nproc, argv):
    """Run ``python -m shendu *argv`` in ``nproc`` processes under mpiexec on this machine;
    returns its exit status."""
    import subprocess
    cmd = mpiexec_command(nproc, [sys.executable, "-m", "shendu"] + list(argv))
    return subprocess.call(cmd, env=_threads_env(nproc))


def join_launch():
    """Inside ``mpiexec -n N`` (N > 1): join the process group (once) and use this
    machine's share of the cores, unless OMP_NUM_THREADS says otherwise. Returns
    (rank, world size); (0, 1) outside a launch."""
    if not launched_by_mpi():
        return 0, 1
    from . import distributed_c10d as c10d
    if not c10d.is_initialized():
        c10d.init_process_group("mpi")
    if "OMP_NUM_THREADS" not in os.environ:
        from ..backend import set_num_threads
        set_num_threads(max(1, (os.cpu_count() or 1) // env_local_size()))
    return c10d.get_rank(), c10d.get_world_size()
