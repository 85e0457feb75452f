"""RSS soak: 2,000 training steps (Trainer, DataLoader, LeNet-sized convolutions, Adam, a
checkpoint every 100 steps) in a fresh process must keep the resident memory flat once
warm: a leak of one batch's activations per step would add gigabytes."""
import os
import subprocess
import sys

import pytest

_SOAK = r"""
import os, sys
import numpy as np
import shendu
from shendu import nn, optim
from shendu.train import LambdaCallback, Trainer
from shendu.utils.data import DataLoader, TensorDataset

PAGE = os.sysconf("SC_PAGE_SIZE")
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20

shendu.manual_seed(0)
rng = np.random.default_rng(0)
X = shendu.tensor(rng.standard_normal((320, 1, 16, 16)).astype(np.float32))
y = shendu.tensor(rng.integers(0, 10, 320))
model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(6 * 6 * 6, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 10))
samples = {}
def after(tr, step, logs):
    if step % 100 == 0:
        samples[step] = rss_mb()
        tr.save_checkpoint(sys.argv[1])
tr = Trainer(model, optim.Adam(model.parameters(), 1e-3), progress=False, log=None,
             callbacks=[LambdaCallback(on_batch_end=after)])
tr.fit(DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True), epochs=100)
print(tr.step, " ".join(f"{s}:{v:.1f}" for s, v in sorted(samples.items())))
"""


@pytest.mark.slow
def test_rss_stays_flat_over_2000_steps(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", _SOAK, str(tmp_path / "soak.safetensors")],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    steps, *pairs = r.stdout.split()
    rss = {int(s): float(v) for s, v in (p.split(":") for p in pairs)}
    assert int(steps) == 2000 and len(rss) == 20
    warm = rss[500]
    late = [rss[s] for s in range(1000, 2001, 100)]
    print(f"RSS soak: {rss[100]:.1f} MB at step 100, {warm:.1f} at 500, "
          f"{max(late):.1f} max over 1000-2000, {rss[2000]:.1f} at 2000")
    assert max(late) - warm < 16, rss             # flat: no growth with the step count
    assert rss[2000] - rss[1000] < 8, rss
