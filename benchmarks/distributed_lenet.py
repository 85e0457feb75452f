"""Data-parallel LeNet-5 on full MNIST: images per second, communication cost, scaling model.

    python benchmarks/distributed_lenet.py                   # everything (a few minutes)
    python benchmarks/distributed_lenet.py --steps 40 --rounds 3

What it measures (each in its own processes, the two training set-ups alternated in rounds,
medians reported):
1. training throughput, LeNet-5, float32, global batch 128, SGD, on the first ``--steps``
   batches of a shuffled pass over the 60,000 MNIST training images (a part of the epoch;
   the images are held in memory as one array, so data loading is not timed):
   - 1 process × 2 BLAS threads, batch 128;
   - 2 processes × 1 thread (``mpiexec -n 2``), batch 64 each, DistributedDataParallel;
2. bytes all-reduced per step (the float32 gradients), and the time of one MPI all-reduce
   against message size with ``mpiexec -n 2`` on this host, fitted as t = a + b·bytes;
3. the step time of shendu's CIFAR-size ResNet-18 at batch 32 on 1 process × 2 threads (a
   few steps), the compute term of the scaling prediction for ResNet-18.

Then it predicts the speedup on P machines (P = 4, 16, 64, each like this one, 1 process ×
2 threads, batch per machine fixed) joined by 10 Gbit/s Ethernet; the model is printed with
the numbers (see also README, "Data-parallel training").
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
MNIST_ROOT = "/work/shared/data"


def _mnist():
    import numpy as np
    import shendu
    from shendu.datasets import MNIST
    ds = MNIST(root=os.environ.get("MNIST_ROOT", MNIST_ROOT), train=True)
    x = (ds.data.numpy().astype(np.float32) / 255 - 0.1307) / 0.3081
    return shendu.tensor(x[:, None]), ds.targets


def _bucket_bytes(model):
    """Bytes of each of DDP's gradient buckets at the default bucket_cap_mb=25."""
    from shendu.nn.parallel.distributed import assign_buckets
    return [sum(p.detach().numpy().nbytes for p in b) for b in assign_buckets(model.parameters())]


# ---------------------------------------------------------------------- workers
def train_worker(steps, warmup, global_batch):
    """Time ``steps`` SGD steps (after ``warmup``); prints one JSON line from rank 0."""
    import numpy as np
    import shendu
    from shendu import nn, models
    from shendu.distributed import launch
    rank, world = launch.join_launch()
    x, y = _mnist()
    shendu.manual_seed(0)
    model = models.get_model("lenet", num_classes=10)
    net = model
    if world > 1:
        from shendu.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model)
    opt = shendu.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
    perm = np.random.default_rng(0).permutation(len(x))
    b = global_batch // world

    def step(i):
        idx = perm[i * global_batch:(i + 1) * global_batch][rank::world]
        opt.zero_grad()
        lossf(net(x[idx]), y[idx]).backward()
        opt.step()
    for i in range(warmup):
        step(i)
    if world > 1:
        import shendu.distributed as dist
        dist.barrier()
    t0 = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    if world > 1:
        dist.barrier()
    dt = time.perf_counter() - t0
    if rank == 0:
        nbytes = _bucket_bytes(model)
        print(json.dumps({"world": world, "threads": shendu.get_num_threads(), "batch": b,
                          "images_per_s": steps * global_batch / dt,
                          "ms_per_step": 1000 * dt / steps, "grad_bytes": nbytes}), flush=True)


def allreduce_worker(sizes, reps):
    """Median time of one in-place MPI all-reduce of float32 messages of ``sizes`` bytes."""
    import numpy as np
    import shendu
    import shendu.distributed as dist
    dist.init_process_group("mpi")
    out = []
    for nbytes in sizes:
        t = shendu.tensor(np.ones(nbytes // 4, np.float32))
        for _ in range(3):
            dist.all_reduce(t)
        times = []
        for _ in range(reps):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        worst = [None] * dist.get_world_size()
        dist.all_gather_object(worst, (statistics.median(times), min(times)))
        out.append((nbytes, max(w[0] for w in worst), max(w[1] for w in worst)))
    if dist.get_rank() == 0:
        print(json.dumps(out), flush=True)


def resnet_worker(steps):
    import shendu
    from shendu import nn, models
    shendu.manual_seed(0)
    model = models.get_model("resnet18", num_classes=10, small_input=True)
    opt = shendu.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = shendu.randn(32, 3, 32, 32), shendu.randint(0, 10, (32,))
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
        if i:                                   # the first step warms up
            times.append(time.perf_counter() - t0)
    print(json.dumps({"ms_per_step": 1000 * statistics.median(times),
                      "grad_bytes": _bucket_bytes(model)}),
          flush=True)


# ---------------------------------------------------------------------- driver
def _env(threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(cmd, threads):
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env(threads), timeout=1800)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _mpiexec():
    sys.path.insert(0, SRC)
    from shendu.distributed.launch import find_mpiexec
    return find_mpiexec()


def _add_s_per_byte(n=1 << 22):
    """Seconds per byte of a float32 ``a += b`` here (the reduction's arithmetic)."""
    import numpy as np
    a, b = np.ones(n, np.float32), np.ones(n, np.float32)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        np.add(a, b, out=a)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / a.nbytes


def ring_allreduce_s(nbytes, p, alpha, bw, gamma=0.0):
    """Rabenseifner's all-reduce (reduce-scatter + all-gather, what MPICH uses for large
    messages) on p machines: 2·log2(p)·α + 2·(p−1)/p · bytes/bw + (p−1)/p · bytes·γ."""
    if p == 1:
        return 0.0
    return 2 * math.log2(p) * alpha + 2 * (p - 1) / p * nbytes / bw + (p - 1) / p * nbytes * gamma


def predict(name, step_s, buckets, alpha=50e-6, bw=10e9 / 8 * 0.9, gamma=0.0):
    """Speedup on P machines with the per-machine batch fixed, from the bytes of DDP's
    buckets: without overlap (every all-reduce after backward) and with DDP's overlap, where
    the buckets but the last run during backward (≈ 2/3 of a step) and the last one, the
    first layers' gradients, can only start when backward ends."""
    rows = []
    for p in (4, 16, 64):
        c = sum(ring_allreduce_s(b, p, alpha, bw, gamma) for b in buckets)
        last = ring_allreduce_s(buckets[-1], p, alpha, bw, gamma)
        serial = p * step_s / (step_s + c)
        hidden = p * step_s / (step_s + max(last, c - 2 / 3 * step_s))
        rows.append(f"| {name} | {p} | {1000 * c:.2f} | {serial:.1f} ({100 * serial / p:.0f} %) "
                    f"| {hidden:.1f} ({100 * hidden / p:.0f} %) |")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=["train", "allreduce", "resnet"])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per round (batch 128)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--resnet-steps", type=int, default=3)
    a = ap.parse_args()
    if a.worker == "train":
        return train_worker(a.steps, a.warmup, 128)
    if a.worker == "allreduce":
        return allreduce_worker([4 ** k for k in range(5, 14)], 20)
    if a.worker == "resnet":
        return resnet_worker(a.resnet_steps)

    me = [sys.executable, os.path.abspath(__file__)]
    mpi = _mpiexec()
    train = me + ["--worker", "train", "--steps", str(a.steps), "--warmup", str(a.warmup)]
    one, two, single = [], [], []
    for r in range(a.rounds):             # alternate, so all see the same machine load
        one.append(_run(train, 2))
        two.append(_run([mpi, "-n", "2"] + train, 1))
        single.append(_run(train, 1))
        print(f"round {r + 1}: 1×2 threads {one[-1]['images_per_s']:.0f} img/s, "
              f"2×1 thread {two[-1]['images_per_s']:.0f} img/s, "
              f"1×1 thread {single[-1]['images_per_s']:.0f} img/s; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    i1 = statistics.median(o["images_per_s"] for o in one)
    i2 = statistics.median(o["images_per_s"] for o in two)
    i0 = statistics.median(o["images_per_s"] for o in single)
    ms1 = statistics.median(o["ms_per_step"] for o in one)
    buckets = one[0]["grad_bytes"]
    nbytes = sum(buckets)
    ar = _run([mpi, "-n", "2"] + me + ["--worker", "allreduce"], 1)
    rn = _run(me + ["--worker", "resnet", "--resnet-steps", str(a.resnet_steps)], 2)

    small, large = ar[0], ar[-2]            # latency from 1 KiB, bandwidth from 16 MiB
    print(f"\nLeNet-5 on MNIST, float32, global batch 128, {a.steps} timed steps "
          f"({a.steps * 128:,} of 60,000 images) per round, median of {a.rounds} rounds")
    print("| set-up | images/s | ms/step | relative |")
    print("|---|---|---|---|")
    print(f"| 1 process × 2 threads | {i1:.0f} | {ms1:.1f} | 1.00 |")
    print(f"| 2 processes × 1 thread (DDP) | {i2:.0f} | "
          f"{statistics.median(o['ms_per_step'] for o in two):.1f} | {i2 / i1:.2f} |")
    print(f"| 1 process × 1 thread | {i0:.0f} | "
          f"{statistics.median(o['ms_per_step'] for o in single):.1f} | {i0 / i1:.2f} |")
    print(f"data-parallel scaling efficiency on 2 cores: 2×1 / (2 · 1×1) = {i2 / (2 * i0):.2f}; "
          f"threads: 1×2 / 1×1 = {i1 / i0:.2f} of the 2.0 possible")
    print(f"\ngradient bytes all-reduced per step: LeNet-5 {nbytes:,} B "
          f"({nbytes // 4:,} float32) in buckets of {buckets}; ResNet-18 "
          f"{sum(rn['grad_bytes']):,} B in buckets of {rn['grad_bytes']}")
    print("\nMPI all-reduce, -n 2 on this host (shared memory), 20 repetitions, the slower "
          "rank's time:")
    print("| bytes | median µs | fastest µs | GB/s (bytes / fastest) |")
    print("|---|---|---|---|")
    for s, t, f in ar:
        print(f"| {s:,} | {1e6 * t:.1f} | {1e6 * f:.1f} | {s / f / 1e9:.2f} |")
    print(f"fastest: latency ≈ {1e6 * small[2]:.0f} µs (1 KiB); bandwidth ≈ "
          f"{large[0] / large[2] / 1e9:.2f} GB/s (16 MiB)")
    print(f"\nResNet-18 (CIFAR size) step at batch 32, 1 process × 2 threads: "
          f"{rn['ms_per_step']:.0f} ms")
    gamma = _add_s_per_byte()               # the reduction's own arithmetic, per byte
    print("\nPredicted speedup on P machines, 10 Gbit/s (1.125 GB/s usable), α = 50 µs, "
          f"γ = {1e9 * gamma:.3f} ns/B, per-machine batch fixed:")
    print("| model | P | all-reduce ms | speedup, no overlap | speedup, overlapped |")
    print("|---|---|---|---|---|")
    for row in predict("LeNet-5 b128", ms1 / 1000, buckets, gamma=gamma) + \
            predict("ResNet-18 b32", rn["ms_per_step"] / 1000, rn["grad_bytes"], gamma=gamma):
        print(row)
    print("the same with PyTorch's step times on this kind of machine (DESIGN.md: LeNet-5 b128 "
          "7.3 ms, ResNet-18 b32 440 ms), for comparison:")
    for row in predict("LeNet-5 b128 @7.3 ms", 7.3e-3, buckets, gamma=gamma) + \
            predict("ResNet-18 b32 @440 ms", 0.44, rn["grad_bytes"], gamma=gamma):
        print(row)


if __name__ == "__main__":
    main()
