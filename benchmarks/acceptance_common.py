"""Shared machinery of the acceptance runs (benchmarks/acceptance_*.py): real data, a full
training run per framework, each framework in its own process, one markdown table.

Both frameworks get the same pipeline: the IDX files are read once with NumPy, scaled to
[0, 1] and normalised with the dataset's mean and std, held in memory as float32, and fed
by the framework's own ``DataLoader(TensorDataset(x, y), batch_size, shuffle=True)``. The
time of an epoch is the wall time of its training loop (forward, loss, backward, optimizer
step, loading); evaluation on the test set is timed apart.

The two processes run in lockstep, epoch by epoch (shendu's epoch 1, torch's epoch 1,
shendu's epoch 2, ...), each idle while the other trains, with a short pause in between:
the machine's speed drifts by tens of percent over minutes, and interleaving puts both
frameworks under the same drift (run one after the other, the ratio moved 1.4x-1.9x).
"""
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np  # noqa: E402  -- first, as user scripts do (shendu copes with either order)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")


def torch_twins():
    """The torch versions of the zoo models (written by hand; torchvision is not needed),
    shared with the parity tests: tests/models/zoo_refs.py."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "models"))
    import zoo_refs
    return zoo_refs


def read_idx(path):
    """An IDX file (optionally .gz) as a NumPy array. (shendu.datasets.mnist.read_idx does
    this with full validation, but the torch worker must not import shendu: its allocator
    tuning at import would change the process being timed.)"""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist_like(folder, mean, std):
    """(x_train, y_train, x_test, y_test): float32 (N, 1, 28, 28) normalised, int64 labels."""
    def find(stem):
        for ext in (".gz", ""):
            p = os.path.join(folder, stem + ext)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(f"{stem}(.gz) not found in {folder}")
    out = []
    for split in ("train", "t10k"):
        x = read_idx(find(f"{split}-images-idx3-ubyte")).astype(np.float32) / 255.0
        x = ((x - mean) / std)[:, None]
        y = read_idx(find(f"{split}-labels-idx1-ubyte")).astype(np.int64)
        out += [np.ascontiguousarray(x, dtype=np.float32), y]
    return out


def train_and_time(lib, model, data, epochs, batch_size, make_optimizer, make_scheduler=None,
                   limit=None, log=None, turn=None):
    """Train ``model`` with ``lib`` (torch or shendu: the same code for both) and return
    the per-epoch training times, losses and test accuracies. ``turn()``, if given, is
    called before each epoch and returns when this process may run it."""
    x_tr, y_tr, x_te, y_te = data
    if limit:
        x_tr, y_tr = x_tr[:limit], y_tr[:limit]
    td = lib.utils.data
    train = td.DataLoader(td.TensorDataset(lib.from_numpy(x_tr), lib.from_numpy(y_tr)),
                          batch_size=batch_size, shuffle=True)
    test = td.DataLoader(td.TensorDataset(lib.from_numpy(x_te), lib.from_numpy(y_te)),
                         batch_size=1000)
    opt = make_optimizer(model.parameters())
    sched = make_scheduler(opt) if make_scheduler else None
    loss_fn = lib.nn.CrossEntropyLoss()
    rec = {"epoch_time": [], "train_loss": [], "test_accuracy": [], "eval_time": []}
    for epoch in range(1, epochs + 1):
        if turn is not None:
            turn()
        model.train()
        total, n = 0.0, 0
        t0 = time.perf_counter()
        for xb, yb in train:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            n += len(yb)
        rec["epoch_time"].append(time.perf_counter() - t0)
        if sched is not None:
            sched.step()
        rec["train_loss"].append(total / n)
        t1 = time.perf_counter()
        model.eval()
        correct = 0
        with lib.no_grad():
            for xb, yb in test:
                correct += int((model(xb).argmax(1) == yb).sum().item())
        rec["eval_time"].append(time.perf_counter() - t1)
        rec["test_accuracy"].append(correct / len(y_te))
        if log:
            log(f"[{lib.__name__}] epoch {epoch}: loss {rec['train_loss'][-1]:.4f}  test acc "
                f"{100 * rec['test_accuracy'][-1]:.2f}%  {rec['epoch_time'][-1]:.1f}s")
    if turn is not None:
        turn()
    return rec


def wait_turn():
    """The worker's side of the lockstep: say 'ready' and wait for 'go' from the parent."""
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("acceptance worker: the parent went away")


def parse_args(doc, data_dir, epochs, lr):
    """The options every acceptance script takes; ``--worker`` is set for the children."""
    import argparse
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--data-dir", default=data_dir)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    p.add_argument("--frameworks", default="shendu,torch")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return p.parse_args()


def run_all(script, args):
    """Each framework's run in its own process, with the same options."""
    passed = ["--data-dir", args.data_dir, "--epochs", str(args.epochs), "--batch-size",
              str(args.batch_size), "--lr", str(args.lr), "--seed", str(args.seed),
              "--threads", str(args.threads)] + (["--limit", str(args.limit)] if args.limit
                                                 else [])
    return run_workers(script, args.frameworks.split(","), passed, args.threads)


def finish(lib, rec, args, n_train):
    """The worker's last line: its record as JSON, for the parent."""
    rec.update(version=lib.__version__, batch_size=args.batch_size,
               n_train=min(args.limit or n_train, n_train))
    print(json.dumps(rec))


SETTLE_S = 0.5     # pause between turns: the finished process's thread pools stop spinning


def run_workers(script, frameworks, args, threads):
    """Start ``script --worker <fw> <args>`` once per framework, each in its own process
    with ``threads`` BLAS/OpenMP threads, and let them train in turns, one epoch at a time
    (see the module docstring); return {framework: result dict}."""
    procs = {}
    for fw in frameworks:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
        cmd = [sys.executable, script, "--worker", fw, *args]
        print(f"$ {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        procs[fw] = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def expect(fw, what):
        line = procs[fw].stdout.readline()
        if not line:
            raise SystemExit(f"the {fw} run failed (exit {procs[fw].wait()})")
        if what == "ready" and line.strip() != "ready":
            raise SystemExit(f"the {fw} run said {line.strip()!r}, expected 'ready'")
        return line

    try:
        for fw in procs:
            expect(fw, "ready")                  # data loaded, model built
        running = list(procs)
        results = {}
        while running:
            for fw in list(running):
                time.sleep(SETTLE_S)
                procs[fw].stdin.write("go\n")
                procs[fw].stdin.flush()
                line = expect(fw, "any")
                if line.strip() != "ready":      # its last line: the record
                    results[fw] = json.loads(line)
                    procs[fw].wait()
                    running.remove(fw)
        return {fw: results[fw] for fw in frameworks}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()


def markdown(title, results, target_ratio=None, accuracy_goal=None):
    """The table: per framework, epochs, median and total training time per epoch, final
    test accuracy, and shendu's time relative to torch's."""
    lines = [f"### {title}", "",
             f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}", "",
             "| framework | epochs | batch | time / epoch (median) | fastest epoch | images/s "
             "(median) | final test accuracy |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for fw, r in results.items():
        med = statistics.median(r["epoch_time"])
        lines.append(f"| {fw} {r['version']} | {len(r['epoch_time'])} | {r['batch_size']} | "
                     f"{med:.1f} s | {min(r['epoch_time']):.1f} s | {r['n_train'] / med:,.0f} | "
                     f"{100 * r['test_accuracy'][-1]:.2f}% |")
    if "shendu" in results and "torch" in results:
        s, t = results["shendu"]["epoch_time"], results["torch"]["epoch_time"]
        ratio = statistics.median(s) / statistics.median(t)
        verdict = "" if target_ratio is None else \
            (" (target ≤ %.1f×: %s)" % (target_ratio, "met" if ratio <= target_ratio else
                                         "NOT met"))
        pairs = [a / b for a, b in zip(s, t)]       # epochs run in turns: neighbours in time
        lines += ["", f"shendu / torch time per epoch: **{ratio:.2f}×**{verdict}; fastest epochs: "
                      f"{min(s) / min(t):.2f}×; epoch by epoch: "
                      f"{', '.join(f'{r:.2f}' for r in pairs)} (median {statistics.median(pairs):.2f}×)"]
    if accuracy_goal is not None and "shendu" in results:
        acc = results["shendu"]["test_accuracy"][-1]
        lines.append(f"shendu test accuracy {100 * acc:.2f}% (goal ≥ {100 * accuracy_goal:.1f}%: "
                     f"{'met' if acc >= accuracy_goal else 'NOT met'})")
    return "\n".join(lines)
