"""Does the import order change shendu's speed? LeNet-5's training step (wl_lenet) timed
with NumPy imported before shendu ("numpy first", as a script that imports matplotlib
first does) and after it ("shendu first").

Each order runs in its own persistent process (the order must be fixed before NumPy
loads); the runner alternates them for several rounds and prints the median step time
of each and their ratio. Issue 13 asks for the two to be within 5 %.

    python benchmarks/import_order.py --rounds 7
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SETTLE_S = 0.3                  # let the other process's BLAS threads go idle first

WORKER = r"""
import sys, json, statistics, time
if sys.argv[1] == "numpy":
    import numpy  # noqa: F401   (before shendu: OpenBLAS loads without shendu's setting)
import shendu
sys.path.insert(0, sys.argv[2])
import wl_lenet
step = wl_lenet.make(shendu)
step(); step()
print(json.dumps({"iters": wl_lenet.ITERS}), flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    ts = []
    for _ in range(int(line)):
        t0 = time.perf_counter()
        step()
        ts.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"median_ms": statistics.median(ts)}), flush=True)
"""


class Worker:
    def __init__(self, order, src):
        env = dict(os.environ)
        env.pop("OPENBLAS_THREAD_TIMEOUT", None)
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        self.p = subprocess.Popen([sys.executable, "-c", WORKER, order, HERE],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  env=env)
        self.iters = json.loads(self.p.stdout.readline())["iters"]

    def run(self, n):
        self.p.stdin.write(f"{n}\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())["median_ms"]

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--src", default=os.path.join(os.path.dirname(HERE), "src"),
                    help="the shendu source tree to time (default: this checkout's)")
    args = ap.parse_args()
    workers = {"numpy first": Worker("numpy", args.src),
               "shendu first": Worker("shendu", args.src)}
    times = {k: [] for k in workers}
    try:
        for r in range(args.rounds):
            order = list(workers) if r % 2 == 0 else list(workers)[::-1]
            for k in order:
                time.sleep(SETTLE_S)
                times[k].append(workers[k].run(workers[k].iters))
    finally:
        for w in workers.values():
            w.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["numpy first"] / med["shendu first"]
    # the two runs of a round are seconds apart: their ratio cancels the machine's drift
    paired = statistics.median(a / b for a, b in zip(times["numpy first"],
                                                     times["shendu first"]))
    for k, v in times.items():
        print(f"{k:13s} median {med[k]:7.2f} ms/step   rounds: "
              + " ".join(f"{t:.2f}" for t in v))
    print(f"numpy first / shendu first = {ratio:.3f} (ratio of medians), "
          f"{paired:.3f} (median of the rounds' ratios)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"times_ms": times, "median_ms": med, "ratio": ratio,
                       "paired_ratio": paired}, f, indent=1)


if __name__ == "__main__":
    main()
