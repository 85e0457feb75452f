"""Kill drills: training runs killed with SIGKILL at random moments (inside checkpoint saves
too) and resumed until they finish must end exactly where an uninterrupted run ends: every
step's loss and the final weights equal bit for bit, ``history.csv`` identical, no
temporary files left. After every kill the newest checkpoint loads, and ``history.csv``
holds no epoch that checkpoint does not."""
import csv
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import shendu

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "kill_target.py")
EPOCHS = 3
KILLS = 6


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1",
                OPENBLAS_NUM_THREADS="1")


def _start(out):
    return subprocess.Popen([sys.executable, TARGET, str(out), str(EPOCHS)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _losses(out):
    """step -> loss, the last line written for each step winning (a resumed run writes
    again the steps the killed one did after its last checkpoint)."""
    got = {}
    with open(os.path.join(out, "losses.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:                 # a kill may cut the last line short
                got[int(parts[0])] = parts[1]
    return got


def _history(out, drop=("epoch_time",)):
    with open(os.path.join(out, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def _wait_for_a_step(out, proc, timeout=60):
    path = os.path.join(out, "losses.txt")
    size = os.path.getsize(path) if os.path.exists(path) else 0
    end = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path) > size:
            return
        time.sleep(0.005)


def _wait_for_a_save(out, proc, timeout=60):
    end = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < end and not _temporaries(out):
        time.sleep(0.001)


def _newest_checkpoint(out):
    """The checkpoint a resume starts from (kill_target's rule: the later step; the epoch's
    on a tie, as it is written after that step's)."""
    states = [(shendu.load(os.path.join(out, n)), n)
              for n in ("step.safetensors", "checkpoint.safetensors")
              if os.path.exists(os.path.join(out, n))]
    best = max(states, key=lambda s: (s[0]["step"], s[1] == "checkpoint.safetensors"),
               default=(None, None))
    return best[0]


def _temporaries(out):
    return [n for n in os.listdir(out) if ".tmp-" in n]


def test_runs_killed_at_random_moments_resume_bit_for_bit(tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "killed"
    ref.mkdir(), out.mkdir()
    t0 = time.monotonic()
    r = _start(ref)
    assert r.communicate(timeout=300)[0].strip() == "done"
    span = time.monotonic() - t0                # how long a whole run takes here

    rnd = random.Random(20)
    step_s = span / (EPOCHS * 6)
    kills = during_save = 0
    for attempt in range(KILLS + 20):
        p = _start(out)
        if kills < KILLS:
            how = rnd.random()
            if how < 0.2:                       # while it starts and loads its checkpoint
                time.sleep(rnd.uniform(0.0, 1.0))
            elif how < 0.6:                     # once it trains: anywhere
                _wait_for_a_step(out, p)
                time.sleep(rnd.uniform(0.0, 1.5 * step_s))
            else:                               # inside a save: its temporary file exists
                _wait_for_a_step(out, p)
                _wait_for_a_save(out, p)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
                kills += 1
                during_save += any(n.endswith(f".tmp-{p.pid}") for n in _temporaries(out))
                state = _newest_checkpoint(out)     # whole and loadable after every kill
                if state is not None and os.path.exists(out / "history.csv"):
                    done = [int(r["epoch"]) for r in _history(out)]
                    saved = state["history"].get("epoch", [])
                    assert done == saved[:len(done)] and len(saved) - len(done) <= 1
                continue
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        if stdout.strip() == "done":
            break
    else:
        pytest.fail("the killed run never finished")
    # A kill aimed near the end can come after the run has finished (the machine's speed
    # varies); most of the planned kills must have landed.
    assert kills >= KILLS // 2, kills
    print(f"kill drill: {kills} kills ({during_save} inside a save), run of {span:.1f}s")

    assert _losses(out) == _losses(ref) and len(_losses(ref)) == EPOCHS * 6
    a = shendu.load(ref / "checkpoint.safetensors")
    b = shendu.load(out / "checkpoint.safetensors")
    for k in a["model"]:
        assert np.array_equal(a["model"][k].numpy(), b["model"][k].numpy()), k
    assert _history(out) == _history(ref) and len(_history(ref)) == EPOCHS
    assert _temporaries(out) == []              # the killed saves' files were removed


def test_a_save_cleans_up_after_killed_saves(tmp_path):
    path = tmp_path / "w.safetensors"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".w.safetensors.tmp-{dead.pid}"
    live = tmp_path / f".w.safetensors.tmp-{os.getppid()}"     # a live process: kept
    other = tmp_path / f".other.safetensors.tmp-{dead.pid}"    # another file's: kept
    for f in (stale, live, other):
        f.write_bytes(b"half a checkpoint")
    shendu.save({"w": shendu.ones(3)}, path)
    assert not stale.exists() and live.exists() and other.exists()
    assert shendu.load(path)["w"].tolist() == [1, 1, 1]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_mid_epoch_checkpoint_resumes_that_epoch_exactly(tmp_path, workers):
    """Stopped after batch 5 of 8 (epoch 2), resumed: the last 3 batches of that epoch and
    then epoch 3 give the uninterrupted run's losses, weights and epoch averages exactly,
    with dropout drawing from the global generator and the order from the loader's."""
    from shendu import nn, optim
    from shendu.train import LambdaCallback, Trainer
    from shendu.utils.data import DataLoader, TensorDataset

    class Stop(Exception):
        pass

    def run(stop_at=None, resume=None):
        shendu.manual_seed(0)
        rng = np.random.default_rng(0)
        X = shendu.tensor(rng.standard_normal((60, 10)).astype(np.float32))
        y = shendu.tensor(rng.integers(0, 3, 60))
        m = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
        losses = {}

        def after(tr, step, logs):
            losses[step] = logs["loss"]
            if step == stop_at:
                tr.save_checkpoint(tmp_path / "mid.safetensors")
                raise Stop
        tr = Trainer(m, optim.SGD(m.parameters(), lr=0.1, momentum=0.9), progress=False,
                     log=None, callbacks=[LambdaCallback(on_batch_end=after)])
        loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True,
                            num_workers=workers, generator=shendu.Generator().manual_seed(1))
        try:
            tr.fit(loader, epochs=3, resume=resume)
        except Stop:
            pass
        return tr, losses

    ref, ref_losses = run()
    _, first = run(stop_at=13)
    state = shendu.load(tmp_path / "mid.safetensors")
    assert state["epoch"] == 2 and state["epoch_progress"]["batches"] == 5
    again, rest = run(resume=tmp_path / "mid.safetensors")
    assert min(rest) == 14 and {**first, **rest} == ref_losses and len(ref_losses) == 24
    for k, v in ref.model.state_dict().items():
        assert np.array_equal(v.numpy(), again.model.state_dict()[k].numpy()), k
    assert again.history["train_loss"] == ref.history["train_loss"]
    assert again.history["train_accuracy"] == ref.history["train_accuracy"]
