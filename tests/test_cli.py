"""The ``shendu`` command line: train (with resume), eval, summary, models, demo, errors."""
import os
import subprocess
import sys

import pytest

import shendu
from shendu.cli import main

MNIST_DIR = "/work/shared/data"


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_train_resume_and_eval(in_tmp, capsys):
    assert main(["train", "--model", "lenet", "--data", "mnist-mini", "--epochs", "1",
                 "--subset", "600", "--batch-size", "50", "--no-progress"]) == 0
    out = capsys.readouterr().out
    run = in_tmp / "runs" / "lenet-mnist-mini"
    assert "lenet (61,706 parameters) on mnist-mini" in out and "540 training / 60 validation" \
        in out
    assert "epoch 1  train_loss=" in out and "val_accuracy=" in out
    acc = float(out.split("test accuracy: ")[1].split("%")[0])
    assert 20 < acc <= 100                       # 11 steps on 540 images: above chance (10%)
    for f in ("checkpoint.safetensors", "checkpoint.best.safetensors", "curves.png",
              "history.csv"):
        assert (run / f).exists(), f
    ckpt = shendu.load(run / "checkpoint.safetensors")
    assert ckpt["epoch"] == 1 and ckpt["model_spec"]["name"] == "lenet"
    assert ckpt["meta"]["cli"]["data"] == "mnist-mini" and ckpt["meta"]["cli"]["subset"] == 600

    # resume: the settings come from the checkpoint; train until epoch 2
    assert main(["train", "--resume", str(run / "checkpoint.safetensors"), "--epochs", "2",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "at epoch 1" in out and "epoch 2  train_loss=" in out
    assert "epoch 1  train_loss" not in out
    assert shendu.load(run / "checkpoint.safetensors")["epoch"] == 2
    rows = (run / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and [r.split(",")[0] for r in rows[1:]] == ["1", "2"]
    assert main(["train", "--resume"]) == 2
    assert "argument --resume: expected one argument" in capsys.readouterr().err
    assert main(["train", "--resume", str(run / "checkpoint.safetensors"), "--model", "mlp"]) == 2
    assert "differs from the checkpoint's 'lenet'" in capsys.readouterr().err

    # eval rebuilds the model from the checkpoint
    assert main(["eval", str(run / "checkpoint.safetensors")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lenet on mnist-mini (test, 2,000 images): accuracy ")
    assert "per class: 0 - zero:" in out
    # a weights-only file needs the model and the dataset
    assert main(["eval", str(run / "checkpoint.best.safetensors")]) == 2
    assert "add --data" in capsys.readouterr().err
    assert main(["eval", str(run / "checkpoint.best.safetensors"), "--data", "mnist-mini"]) == 2
    assert "add --model" in capsys.readouterr().err
    assert main(["eval", str(run / "checkpoint.best.safetensors"), "--data", "mnist-mini",
                 "--model", "lenet", "--split", "train"]) == 0
    assert "(train, 10,000 images)" in capsys.readouterr().out


def test_train_other_model_data_optimizer_and_out(in_tmp, capsys):
    assert main(["train", "--model", "mobilenet_v1", "--data", "fashion-mnist-mini",
                 "--epochs", "1", "--subset", "64", "--batch-size", "32", "--optimizer", "sgd",
                 "--lr", "0.01", "--seed", "3", "--val-fraction", "0", "--scheduler", "cosine",
                 "--model-arg", "width_mult=0.25", "--out", "here", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v1" in out and "sgd lr=0.01" in out and "0 validation" in out
    state = shendu.load(in_tmp / "here" / "checkpoint.safetensors")
    assert state["model_spec"] == {"name": "mobilenet_v1", "kwargs": {
        "num_classes": 10, "in_channels": 1, "small_input": True, "width_mult": 0.25}}
    assert state["optimizer"]["param_groups"][0]["momentum"] == 0.9


@pytest.mark.skipif(not os.path.isdir(os.path.join(MNIST_DIR, "mnist")),
                    reason="full MNIST not available")
def test_train_on_full_mnist_from_a_folder(in_tmp, capsys):
    assert main(["train", "--data", "mnist", "--data-dir", MNIST_DIR, "--epochs", "1",
                 "--subset", "300", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "270 training / 30 validation / 10,000 test images" in out


def test_summary_and_models(capsys):
    assert main(["summary", "--model", "resnet18", "--input", "3,32,32"]) == 0
    out = capsys.readouterr().out
    assert "layer4.1.conv2 (Conv2d)" in out and "Total params: 11,689,512" in out
    assert main(["summary", "--model", "resnet18", "--input", "1,28,28", "--num-classes", "10",
                 "--small-input"]) == 0
    out = capsys.readouterr().out
    assert "conv1 (Conv2d)                       [1, 64, 28, 28]" in out
    assert main(["summary", "--model", "lenet", "--input", "1,32,32"]) == 0
    assert "[1, 6, 28, 28]" in capsys.readouterr().out
    assert main(["summary", "--model", "lenet", "--input", "three"]) == 2
    assert "--input expects C,H,W" in capsys.readouterr().err
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("lenet", "resnet18", "mobilenet_v2", "densenet121", "shufflenet_v2_x1_0"):
        assert name in out


def test_errors_list_what_exists(in_tmp, capsys):
    assert main(["train", "--model", "resnet19", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'resnet19'" in err and "resnet18" in err and "lenet" in err
    assert main(["train", "--data", "svhn"]) == 2
    err = capsys.readouterr().err
    assert "argument --data: invalid choice: 'svhn'" in err and "mnist-mini" in err \
        and "cifar10" in err
    assert main(["train", "--device", "cuda"]) == 2
    assert "only --device cpu" in capsys.readouterr().err
    assert main(["train", "--optimizer", "lion", "--subset", "10", "--no-progress"]) == 2
    assert "argument --optimizer: invalid choice: 'lion'" in capsys.readouterr().err
    assert main(["train", "--data", "cifar10", "--data-dir", str(in_tmp)]) == 2
    assert "CIFAR10" in capsys.readouterr().err
    assert main(["eval", str(in_tmp / "missing.safetensors")]) == 2
    assert "No such file" in capsys.readouterr().err
    (in_tmp / "broken.safetensors").write_bytes(b"\x09\0\0\0\0\0\0\0{not json")
    assert main(["eval", str(in_tmp / "broken.safetensors")]) == 2
    assert "broken.safetensors has a corrupt header" in capsys.readouterr().err
    good = in_tmp / "good.safetensors"
    shendu.save({"model": {}, "epoch": 1}, good)
    (in_tmp / "cut.safetensors").write_bytes(good.read_bytes()[:-3])
    assert main(["eval", str(in_tmp / "cut.safetensors")]) == 2
    assert "cut.safetensors is truncated" in capsys.readouterr().err


def test_python_dash_m_and_demo():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-m", "shendu", "models"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0 and "resnet18" in r.stdout
    r = subprocess.run([sys.executable, "-m", "shendu", "demo", "--steps", "2"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and "0.298371109" in r.stdout
