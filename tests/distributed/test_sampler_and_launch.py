"""DistributedSampler and ShardedSampler against torch's partition and padding, launch
detection and the errors that need no MPI (these run without mpi4py)."""
import os
import sys

import pytest

import shendu
import shendu.distributed as dist
from shendu.distributed import launch
from shendu.utils.data import DistributedSampler, ShardedSampler


def test_errors_before_init_and_for_other_backends(monkeypatch):
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="MPI only"):
        dist.init_process_group("nccl")
    with pytest.raises(RuntimeError, match="initialized process group"):
        DistributedSampler(range(4))
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pip install 'shendu\[distributed\]'"):
        dist.init_process_group("mpi")
    assert not dist.is_mpi_available()


def test_launch_detection(monkeypatch):
    for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE",
              "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "MV2_COMM_WORLD_LOCAL_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert not launch.launched_by_mpi() and launch.join_launch() == (0, 1)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert launch.launched_by_mpi() and launch.env_local_size() == 4
    monkeypatch.setenv("MPI_LOCALNRANKS", "2")
    assert launch.env_local_size() == 2
    cmd = launch.mpiexec_command(3, ["python", "x.py"])
    assert cmd[1:] == ["-n", "3", "python", "x.py"] and os.path.basename(cmd[0]) == "mpiexec"
    with pytest.raises(ValueError):
        launch.mpiexec_command(0, [])


# ---------------------------------------------------------------------- DistributedSampler
@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (9, 3, False),
                                                  (2, 4, False), (11, 4, True)])
def test_distributed_sampler_matches_torch(n, replicas, drop_last):
    """Without shuffling, torch's index lists exactly; with shuffling, torch's partition and
    padding applied to shendu's permutation (the generators differ), and the same order on
    every rank for one epoch, another after set_epoch."""
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchDS
    from shendu._random import Generator
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchDS(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        s = DistributedSampler(range(n), replicas, rank, shuffle=True, seed=3,
                               drop_last=drop_last)
        s.set_epoch(4)
        perm = Generator().manual_seed(7).np.permutation(n).tolist()
        assert list(s) == [perm[i] for i in theirs]
        s.set_epoch(5)
        assert list(s) != [perm[i] for i in theirs] or n < 3
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(range(4), 3, 3)
    assert torch is not None


def test_sharded_sampler_deals_out_the_batches_of_one_process():
    """N processes at batch B/N over ShardedSampler(RandomSampler(g)) see, step by step, the
    batches one process sees at batch B over RandomSampler(g) with the same seed."""
    from shendu.utils.data import DataLoader, RandomSampler, TensorDataset
    ds = TensorDataset(shendu.arange(50))
    one = DataLoader(ds, batch_size=8, shuffle=True, generator=shendu.Generator().manual_seed(4))
    shards = []
    for r in range(2):
        g = shendu.Generator().manual_seed(4)
        shards.append(DataLoader(ds, batch_size=4, generator=g,
                                 sampler=ShardedSampler(RandomSampler(ds, generator=g), 2, r)))
    assert len(shards[0].sampler) == 25
    for _ in range(2):                  # two epochs: a new permutation each, the same for all
        a = [sorted(b[0].tolist()) for b in one]
        b = [sorted(x[0].tolist() + y[0].tolist()) for x, y in zip(*shards)]
        assert a == b and len(a) == 7
    odd = [list(ShardedSampler(range(5), 2, r)) for r in range(2)]
    assert odd == [[0, 2, 4], [1, 3, 0]]                # padded from the start, as torch pads
    assert [list(ShardedSampler(range(5), 2, r, drop_last=True)) for r in range(2)] == \
        [[0, 2], [1, 3]]
    with pytest.raises(ValueError, match="Invalid rank 2"):
        ShardedSampler(range(5), 2, 2)
