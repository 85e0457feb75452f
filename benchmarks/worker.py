"""One framework's side of a benchmark: build the workload once, then time rounds on
request (one line of stdin per round: the number of steps; one JSON line back).

The first line it prints describes the process: steps per round, the target, the
workload's floating-point operations per step (when it defines ``flop(lib)``), the
BLAS/OpenMP libraries loaded (threadpoolctl) and the GEMM rate this process reaches."""
import importlib
import json
import resource
import statistics
import sys
import time

import numpy  # noqa: F401  -- user scripts import NumPy first; benchmark that order

GEMM_N = 2048         # a square float32 product big enough to run at the BLAS's peak


def gemm_gflops(lib, n=GEMM_N, reps=5):
    """The best of ``reps`` timings of an n×n float32 product, in GFLOP/s."""
    a, b = lib.randn(n, n), lib.randn(n, n)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        lib.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def libraries(lib):
    """What threadpoolctl sees loaded: BLAS/OpenMP, version, core type, threads. PyTorch
    links MKL statically, out of threadpoolctl's sight: its own report names it."""
    out = []
    if lib.__name__ == "torch":
        info = lib.__config__.parallel_info().splitlines()
        mkl = [ln.split(" for ")[0].strip() for ln in info if "Math Kernel Library" in ln]
        out.append({"internal_api": "mkl (in libtorch)", "version": (mkl or ["?"])[0],
                    "num_threads": lib.get_num_threads()})
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return out
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return out + [{k: d.get(k) for k in keep if d.get(k) is not None} for d in threadpool_info()]


def main():
    lib_name, wl_name, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if lib_name == "torch":
        import torch as lib
        lib.set_num_threads(threads)
    else:
        import shendu as lib
    wl = importlib.import_module("wl_" + wl_name)
    step = wl.make(lib)
    step()                                   # warm up (first-call costs, allocator)
    step()
    flop = getattr(wl, "flop", None)
    info = {"iters": getattr(wl, "ITERS", 20), "target": getattr(wl, "TARGET", None),
            "flop": flop(lib) if flop else None, "libraries": libraries(lib),
            "gemm_gflops": gemm_gflops(lib) if "--gemm" in sys.argv else None}
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            break
        n = int(line)
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            step()
            ts.append((time.perf_counter() - t0) * 1e3)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"median_ms": statistics.median(ts), "peak_rss_mb": rss}), flush=True)


if __name__ == "__main__":
    main()
