"""The command line's mistakes table: every bad argument is refused with argparse's
``error:`` line naming the flag, exit status 2, no traceback, and nothing written; a
checkpoint whose model spec was edited cannot make ``eval`` or ``train --resume`` allocate
beyond its own tensors."""
import os
import subprocess
import sys

import pytest

import shendu
from shendu.cli import main

T = ["train", "--no-progress", "--out", "run"]
MISTAKES = [
    (T + ["--epochs", "0"], "--epochs"),
    (T + ["--epochs", "-1"], "--epochs"),
    (T + ["--epochs", "two"], "--epochs"),
    (T + ["--epochs", "1.5"], "--epochs"),
    (T + ["--subset", "0"], "--subset"),
    (T + ["--subset", "-5"], "--subset"),
    (T + ["--batch-size", "0"], "--batch-size"),
    (T + ["--batch-size", "-64"], "--batch-size"),
    (T + ["--lr", "-1"], "--lr"),
    (T + ["--lr", "0"], "--lr"),
    (T + ["--lr", "nan"], "--lr"),
    (T + ["--lr", "inf"], "--lr"),
    (T + ["--lr", "fast"], "--lr"),
    (T + ["--momentum", "-0.9"], "--momentum"),
    (T + ["--momentum", "nan"], "--momentum"),
    (T + ["--weight-decay", "-1e-4"], "--weight-decay"),
    (T + ["--val-fraction", "1"], "--val-fraction"),
    (T + ["--val-fraction", "-0.1"], "--val-fraction"),
    (T + ["--val-fraction", "nan"], "--val-fraction"),
    (T + ["--num-workers", "-1"], "--num-workers"),
    (T + ["--seed", "x"], "--seed"),
    (T + ["--model-arg", "dropout"], "--model-arg"),
    (T + ["--model-arg", "=0.2"], "--model-arg"),
    (T + ["--model-arg", "2x=1"], "--model-arg"),
    (T + ["--model-arg", "no_such_argument=1"], "--model-arg"),
    (T + ["--model-arg", "num_classes=ten"], "--model-arg"),
    (T + ["--model", "resnet19"], "--model"),
    (T + ["--data", "svhn"], "--data"),
    (T + ["--optimizer", "lion"], "--optimizer"),
    (T + ["--scheduler", "warp"], "--scheduler"),
    (T + ["--scheduler", "cosine,warp"], "--scheduler"),
    (T + ["--device", "cuda"], "--device"),
    (T + ["--resume"], "--resume"),
    (T + ["--resume", "missing.safetensors"], "--resume"),
    (T + ["--resume", "weights.safetensors"], "--resume"),
    (T + ["--epochs"], "--epochs"),
    (["eval"], "checkpoint"),
    (["eval", "weights.safetensors", "--batch-size", "0"], "--batch-size"),
    (["eval", "weights.safetensors", "--split", "val"], "--split"),
    (["eval", "weights.safetensors", "--data", "svhn"], "--data"),
    (["eval", "weights.safetensors", "--model-arg", "x"], "--model-arg"),
    (["eval", "tensor.safetensors", "--data", "mnist-mini"], "holds a Tensor, not a checkpoint"),
    (["eval", "weights.safetensors", "--data", "mnist-mini", "--model", "mlp"],
     "does not fit mlp"),
    (["summary", "--model", "lenet", "--input", "1,28,28", "--batch-size", "0"],
     "--batch-size"),
    (["summary", "--model", "lenet", "--input", "1,28,28", "--num-classes", "-3"],
     "--num-classes"),
    (["summary", "--model", "lenet", "--input", "a,b"], "--input"),
    (["demo", "--steps", "0"], "--steps"),
    (["trian"], "invalid choice"),
]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shendu.save(shendu.models.lenet().state_dict(), tmp_path / "weights.safetensors")
    shendu.save(shendu.ones(3), tmp_path / "tensor.safetensors")
    return tmp_path


def test_every_mistake_names_its_flag_with_status_2(in_tmp, capsys):
    for argv, flag in MISTAKES:
        assert main(argv) == 2, argv
        cap = capsys.readouterr()
        err = cap.err.strip().splitlines()[-1] if cap.err.strip() else ""
        assert ": error: " in err and flag in err, (argv, cap.err)
        assert "Traceback" not in cap.err and "saved:" not in cap.out, argv
        assert not (in_tmp / "run").exists(), argv           # nothing was written
    print(f"CLI mistakes tried: {len(MISTAKES)}")


def test_status_2_from_the_shell(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-m", "shendu", "train", "--epochs", "0"],
                       capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and "error: argument --epochs: expected a positive integer, " \
        "got '0'" in r.stderr and os.listdir(tmp_path) == []


# the peak resident size of this process image (VmHWM: unlike ru_maxrss it does not carry
# over the forking parent's size across exec)
_RSS = r"""
import sys
from shendu.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(code, hwm // 1024)
"""


def _tampered(tmp_path, num_classes):
    from shendu import models, optim
    from shendu.train import Trainer
    m = models.lenet()
    tr = Trainer(m, optim.Adam(m.parameters()), progress=False, log=None)
    tr.meta["cli"] = {"model": "lenet", "data": "mnist-mini", "subset": 64,
                      "model_args": {"num_classes": num_classes}}
    state = tr.state_dict()
    state["model_spec"]["kwargs"]["num_classes"] = num_classes
    path = tmp_path / f"tampered-{num_classes}.safetensors"
    shendu.save(state, path)
    return path


@pytest.mark.parametrize("verb", ["eval", "train"])
def test_an_edited_spec_cannot_make_shendu_allocate(tmp_path, verb):
    """num_classes=10,000,000 in a LeNet checkpoint once reached 3.4 GB before failing."""
    path = _tampered(tmp_path, 10_000_000)
    argv = [str(path)] if verb == "eval" else ["--resume", str(path), "--epochs", "2",
                                               "--no-progress"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", _RSS, verb, *argv], capture_output=True,
                       text=True, env=env, timeout=300, cwd=tmp_path)
    code, rss_mb = map(int, r.stdout.split())
    assert code == 2 and rss_mb < 400, (rss_mb, r.stderr)
    assert "would build a model with more values than the checkpoint holds (61,706" in r.stderr
    assert "Linear.weight of shape (10000000, 84)" in r.stderr


def test_a_smaller_spec_is_named_not_half_loaded(tmp_path, capsys):
    path = _tampered(tmp_path, 5)
    assert main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert "size mismatch for fc3.weight" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="more values than the checkpoint holds"):
        shendu.models.from_checkpoint(_tampered(tmp_path, 11))
