"""The mechanism behind benchmarks/import_order.py, measured directly: after each BLAS call
OpenBLAS's idle threads spin (2^28 cycles by default, ~0.1 s) unless shendu shortened
that. For each import order, in its own process: 40 times a 256x256 matmul then a 20 ms
sleep, and the CPU seconds the process burnt meanwhile (spinning threads burn it during
the sleeps). On the shared 2-core machine (issue 13), before the fix: numpy first 1.44 s,
shendu first 0.37 s; after it: 0.33-0.37 s either way (same session, load falling).

    python benchmarks/blas_spin_probe.py [--src path/to/src] [--repeat 3]
"""
import argparse
import os
import subprocess
import sys

PROBE = r"""
import resource, sys, time
if sys.argv[1] == "numpy":
    import numpy  # noqa: F401
import shendu  # noqa: F401
import numpy as np
a = np.random.rand(256, 256)
a @ a
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
c0 = cpu()
for _ in range(40):
    a @ a
    time.sleep(0.02)
print(f"{cpu() - c0:.3f}")
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "src"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    env.update(PYTHONPATH=args.src, OPENBLAS_NUM_THREADS=env.get("OPENBLAS_NUM_THREADS", "2"))
    seen = {"numpy": [], "shendu": []}
    for _ in range(args.repeat):
        for order in seen:
            out = subprocess.run([sys.executable, "-c", PROBE, order], env=env, check=True,
                                 capture_output=True, text=True).stdout
            seen[order].append(float(out))
    for order, v in seen.items():
        print(f"{order + ' first':13s} CPU s: " + " ".join(f"{x:.3f}" for x in v))


if __name__ == "__main__":
    main()
