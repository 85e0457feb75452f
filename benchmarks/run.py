"""Time workloads on PyTorch and on shendu side by side.

Each framework runs in its own persistent worker process (two BLAS thread pools in one
process slow each other down); the runner alternates them for several rounds and prints
the median time per step and the ratio shendu / torch.

    python benchmarks/run.py                 # every workload
    python benchmarks/run.py mlp matmul      # some
    python benchmarks/run.py --rounds 7 --list
    python benchmarks/run.py --json out.json # the machine, the peaks and every row, to compare runs

A workload is a module ``benchmarks/wl_<name>.py`` with ``make(lib)`` returning a
zero-argument step function (``lib`` is the torch or shendu module) and optionally
``ITERS`` (steps per round, default 20), ``TARGET`` (the ratio the issue asks for) and
``flop(lib)`` (floating-point operations per step, for the GFLOP/s columns).

The run begins by saying what it ran on: the CPU model, each framework's BLAS/OpenMP
libraries with their core type and thread counts (threadpoolctl), and each framework's
2048² float32 GEMM rate measured then — the peak the conv-model rows are held against.
"""
import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import time
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def workloads():
    return sorted(os.path.basename(p)[3:-3] for p in glob.glob(os.path.join(HERE, "wl_*.py")))


# A pause before each round: after its work, each framework's thread pool spins for a
# while (OpenBLAS ~0.1 s, OpenMP less) and would steal the cores from the other's round.
SETTLE_S = 0.3


class Worker:
    def __init__(self, lib, name, threads, gemm=False):
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", str(threads))
        env.setdefault("OPENBLAS_NUM_THREADS", str(threads))
        env.setdefault("MKL_NUM_THREADS", str(threads))
        src = os.path.join(os.path.dirname(HERE), "src")
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [sys.executable, os.path.join(HERE, "worker.py"), lib, name, str(threads)]
        self.p = subprocess.Popen(cmd + (["--gemm"] if gemm else []), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, env=env, cwd=HERE)
        self.info = json.loads(self._read())

    def _read(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker died (see its stderr above)")
        return line

    def run(self, iters):
        self.p.stdin.write(f"{iters}\n")
        self.p.stdin.flush()
        return json.loads(self._read())

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=60)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(threads):
    """The CPU, and per framework its libraries and its GEMM peak (GFLOP/s), measured in
    a worker of its own as the workloads are."""
    out = {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads,
           "python": platform.python_version()}
    for lib in ("torch", "shendu"):
        w = Worker(lib, "matmul", threads, gemm=True)
        w.close()
        out[lib] = {"libraries": w.info["libraries"], "gemm_gflops": w.info["gemm_gflops"]}
    return out


def describe(m):
    lines = [f"machine: {m['cpu']}, {m['cores']} cores; {m['threads']} threads per framework; "
             f"Python {m['python']}"]
    for lib in ("torch", "shendu"):
        libs = "; ".join(" ".join(str(v) for v in d.values()) for d in m[lib]["libraries"])
        lines.append(f"{lib:>6}: 2048² float32 GEMM {m[lib]['gemm_gflops']:.0f} GFLOP/s  "
                     f"[{libs or 'threadpoolctl not installed'}]")
    return "\n".join(lines)


def bench(name, rounds, threads):
    t = Worker("torch", name, threads)
    s = Worker("shendu", name, threads)
    iters = t.info["iters"]
    times = {"torch": [], "shendu": []}
    mem = {}
    try:
        for _ in range(rounds):
            for lib, w in (("torch", t), ("shendu", s)):
                time.sleep(SETTLE_S)
                r = w.run(iters)
                times[lib].append(r["median_ms"])
                mem[lib] = r.get("peak_rss_mb")
    finally:
        t.close()
        s.close()
    mt, ms = statistics.median(times["torch"]), statistics.median(times["shendu"])
    flop = t.info.get("flop")
    return {"workload": name, "torch_ms": mt, "shendu_ms": ms, "ratio": ms / mt,
            "target": t.info.get("target"), "torch_rss_mb": mem.get("torch"),
            "shendu_rss_mb": mem.get("shendu"), "flop": flop,
            "torch_gflops": flop / mt / 1e6 if flop else None,
            "shendu_gflops": flop / ms / 1e6 if flop else None,
            "torch_times_ms": times["torch"], "shendu_times_ms": times["shendu"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.list:
        print("\n".join(workloads()))
        return 0
    names = args.names or workloads()
    m = machine(args.threads)
    print(describe(m), flush=True)
    peak = m["shendu"]["gemm_gflops"]
    results = []
    print(f"{'workload':<28}{'torch ms':>10}{'shendu ms':>11}{'ratio':>8}{'target':>8}"
          f"{'GFLOP/s torch/shendu':>22}{'shendu % of peak':>18}")
    for n in names:
        r = bench(n, args.rounds, args.threads)
        results.append(r)
        tgt = f"{r['target']:.2f}" if r["target"] else "-"
        gf = (f"{r['torch_gflops']:.0f} / {r['shendu_gflops']:.0f}" if r["flop"] else "")
        pct = f"{100 * r['shendu_gflops'] / peak:.0f} %" if r["flop"] else ""
        flag = "" if not r["target"] or r["ratio"] <= r["target"] else "  (over target)"
        print(f"{n:<28}{r['torch_ms']:>10.3f}{r['shendu_ms']:>11.3f}{r['ratio']:>8.2f}{tgt:>8}"
              f"{gf:>22}{pct:>18}{flag}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": m, "rounds": args.rounds, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
