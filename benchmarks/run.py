"""Time workloads on PyTorch and on shendu side by side.

Each framework runs in its own persistent worker process (two BLAS thread pools in one
process slow each other down); the runner alternates them for several rounds and prints
the median time per step and the ratio shendu / torch.

    python benchmarks/run.py                 # every workload
    python benchmarks/run.py mlp matmul      # some
    python benchmarks/run.py --rounds 7 --list

A workload is a module ``benchmarks/wl_<name>.py`` with ``make(lib)`` returning a
zero-argument step function (``lib`` is the torch or shendu module) and optionally
``ITERS`` (steps per round, default 20) and ``TARGET`` (the ratio the issue asks for).
"""
import argparse
import glob
import json
import os
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
    def __init__(self, lib, name, threads):
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", str(threads))
        env.setdefault("OPENBLAS_NUM_THREADS", str(threads))
        env.setdefault("MKL_NUM_THREADS", str(threads))
        src = os.path.join(os.path.dirname(HERE), "src")
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "worker.py"), lib, name,
                                   str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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
    return {"workload": name, "torch_ms": mt, "shendu_ms": ms, "ratio": ms / mt,
            "target": t.info.get("target"), "torch_rss_mb": mem.get("torch"),
            "shendu_rss_mb": mem.get("shendu")}


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
    results = []
    print(f"{'workload':<28}{'torch ms':>10}{'shendu ms':>11}{'ratio':>8}{'target':>8}")
    for n in names:
        r = bench(n, args.rounds, args.threads)
        results.append(r)
        tgt = f"{r['target']:.2f}" if r["target"] else "-"
        flag = "" if not r["target"] or r["ratio"] <= r["target"] else "  (over target)"
        print(f"{n:<28}{r['torch_ms']:>10.3f}{r['shendu_ms']:>11.3f}{r['ratio']:>8.2f}{tgt:>8}{flag}",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
