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
    assert "confusion matrix (rows: true class" in out and "precision  recall     f1" in out
    body = out.split("class  ")[0]
    assert sum(int(v) for line in body.splitlines()[3:13] for v in line.split()[1:]) == 2000
    assert "0 - zero" in out and "macro avg" in out
    # the best-model file carries the model spec: eval rebuilds it, plots the matrix
    best = shendu.load(run / "checkpoint.best.safetensors")
    assert best["model_spec"]["name"] == "lenet" and best["epoch"] in (1, 2)
    assert main(["eval", str(run / "checkpoint.best.safetensors"), "--confusion", "cm.png"]) == 0
    out = capsys.readouterr().out
    assert "(test, 2,000 images)" in out and "saved: cm.png" in out
    assert (in_tmp / "cm.png").stat().st_size > 0
    # a weights-only file needs the model and the dataset
    shendu.save(best["model"], in_tmp / "weights.safetensors")
    assert main(["eval", str(in_tmp / "weights.safetensors")]) == 2
    assert "add --data" in capsys.readouterr().err
    assert main(["eval", str(in_tmp / "weights.safetensors"), "--data", "mnist-mini"]) == 2
    assert "add --model" in capsys.readouterr().err
    assert main(["eval", str(in_tmp / "weights.safetensors"), "--data", "mnist-mini",
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


# one model of every zoo family (each family's members differ only in depth and width; all
# 40 names were checked by hand at 3,32,32): the stems and heads must fit small inputs
FAMILY_INPUTS = {"alexnet": "3,32,32", "densenet121": "3,32,32", "googlenet": "3,32,32",
                 "lenet": "1,28,28", "mlp": "784", "mobilenet_v1": "3,32,32",
                 "mobilenet_v2": "3,32,32", "nin": "3,32,32", "resnet18": "3,32,32",
                 "preact_resnet18": "3,32,32", "se_resnet18": "1,28,28",
                 "shufflenet_v2_x0_5": "3,32,32", "squeezenet1_1": "3,32,32",
                 "vgg11": "3,32,32"}


def test_summary_fits_every_zoo_family_at_its_natural_size(capsys, monkeypatch):
    from shendu.models._utils import get_model_builder
    families = {get_model_builder(n).__module__ for n in shendu.models.list_models()}
    assert families == {get_model_builder(n).__module__ for n in FAMILY_INPUTS}
    for name in ("trunc_normal_", "kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_",
                 "xavier_uniform_"):              # shapes only: skip drawing the weights
        monkeypatch.setattr(shendu.nn.init, name, lambda t, *a, **k: t)
    for model, size in FAMILY_INPUTS.items():
        assert main(["summary", "--model", model, "--input", size, "--num-classes", "10"]) == 0, \
            model
        out = capsys.readouterr().out
        assert "Total params:" in out and ", 10" in out, model
        if model == "alexnet":
            assert out.startswith("(alexnet's ImageNet stem does not fit 32×32 images")
    assert main(["summary", "--model", "mlp", "--input", "784"]) == 0
    assert "Total params: 523,752" in capsys.readouterr().out     # 784-256-256-1000
    assert main(["summary", "--model", "resnet18", "--input", "784"]) == 2
    assert "a vector input fits only the mlp" in capsys.readouterr().err
    assert main(["summary", "--model", "lenet", "--input", "1,28,32"]) == 2
    assert "square images" in capsys.readouterr().err


def _quick(*extra):
    return ["train", "--model", "mlp", "--subset", "64", "--batch-size", "32", "--epochs", "2",
            "--val-fraction", "0.25", "--no-progress", "--model-arg", "hidden_sizes=[8]",
            *extra]


def test_train_takes_every_optimizer_and_scheduler(in_tmp, capsys, monkeypatch):
    from shendu import optim
    monkeypatch.setattr(shendu.train.History, "plot", lambda *a, **k: None)   # 1.3 s a run
    from shendu._cli_optim import OPTIMIZERS, SCHEDULERS
    assert {c for c, *_ in OPTIMIZERS.values()} == {
        n for n in optim.__all__ if isinstance(getattr(optim, n), type)
        and issubclass(getattr(optim, n), optim.Optimizer) and n != "Optimizer"}
    L = optim.lr_scheduler
    sched_classes = {n for n in dir(L) if not n.startswith("_") and isinstance(getattr(L, n), type)
                     and issubclass(getattr(L, n), L.LRScheduler) and n != "LRScheduler"}
    assert {c for c, *_ in SCHEDULERS.values() if c} | {"SequentialLR", "ChainedScheduler"} == \
        sched_classes
    for name, (cls, lr, reads, _) in OPTIMIZERS.items():
        assert main(_quick("--optimizer", name, "--out", name)) == 0, name
        state = shendu.load(in_tmp / name / "checkpoint.safetensors")
        assert state["epoch"] == 2, name
    capsys.readouterr()
    # options reach the constructor; one the optimizer does not read is refused
    assert main(_quick("--optimizer", "sgd", "--nesterov", "true", "--momentum", "0.8",
                       "--out", "n")) == 0
    g = shendu.load(in_tmp / "n" / "checkpoint.safetensors")["optimizer"]["param_groups"][0]
    assert g["nesterov"] is True and g["momentum"] == 0.8
    assert main(_quick("--optimizer", "adam", "--betas", "0.8,0.99", "--amsgrad", "yes",
                       "--out", "a")) == 0
    g = shendu.load(in_tmp / "a" / "checkpoint.safetensors")["optimizer"]["param_groups"][0]
    assert list(g["betas"]) == [0.8, 0.99] and g["amsgrad"] is True
    assert main(_quick("--optimizer", "adam", "--nesterov", "true")) == 2
    assert "--nesterov does not apply to optimizer 'adam' (it takes: --betas" in \
        capsys.readouterr().err
    # every scheduler, stepped once per epoch
    for name in SCHEDULERS:
        extra = ["--lr-lambda", "0.5 ** epoch"] if name == "lambda" else []
        assert main(_quick("--optimizer", "sgd", "--lr", "0.1", "--scheduler", name,
                           "--out", f"s-{name}", *extra)) == 0, name
    capsys.readouterr()
    rows = (in_tmp / "s-step" / "history.csv").read_text().splitlines()
    lr_col = rows[0].split(",").index("lr")
    assert [float(r.split(",")[lr_col]) for r in rows[1:]] == pytest.approx([0.1, 0.01])
    assert main(_quick("--optimizer", "sgd", "--lr", "0.1", "--scheduler", "exponential",
                       "--gamma", "0.5", "--out", "e")) == 0
    rows = (in_tmp / "e" / "history.csv").read_text().splitlines()
    assert [float(r.split(",")[lr_col]) for r in rows[1:]] == [0.1, 0.05]
    assert main(_quick("--optimizer", "sgd", "--lr", "0.1", "--scheduler", "cosine",
                       "--warmup-epochs", "1", "--epochs", "3", "--out", "w")) == 0
    sched = shendu.load(in_tmp / "w" / "checkpoint.safetensors")["scheduler"]
    assert sched is not None
    assert main(_quick("--scheduler", "step,exponential", "--gamma", "0.5", "--out", "c")) == 0
    assert main(_quick("--scheduler", "cosine", "--gamma", "0.5")) == 2
    assert "--gamma does not apply to scheduler 'cosine'" in capsys.readouterr().err
    assert main(_quick("--scheduler", "warp")) == 2
    assert "unknown scheduler 'warp'" in capsys.readouterr().err


def test_a_diverging_run_ends_with_one_line(in_tmp, capsys):
    assert main(_quick("--optimizer", "sgd", "--lr", "1e30", "--momentum", "0")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("shendu train: diverged: the training loss became ")


def test_warmup_and_chained_schedules_match_torch():
    torch = pytest.importorskip("torch")
    from shendu import _cli_optim as C
    L = torch.optim.lr_scheduler

    def lrs(opt, sched, n=5):
        out = []
        for _ in range(n):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out
    cases = [("cosine", {"warmup_epochs": 2}, lambda o: L.SequentialLR(
                o, [L.LinearLR(o, 0.1, 1.0, 2), L.CosineAnnealingLR(o, T_max=3)], [2])),
             ("step,exponential", {"gamma": 0.5, "step_size": 2}, lambda o: L.ChainedScheduler(
                 [L.StepLR(o, 2, 0.5), L.ExponentialLR(o, 0.5)], optimizer=o))]
    for spec, opts, ref in cases:
        opt = shendu.optim.SGD([shendu.nn.Parameter(shendu.zeros(2))], lr=0.1)
        ours = lrs(opt, C.make_scheduler(spec, opt, 5, opts))
        topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
        assert ours == pytest.approx(lrs(topt, ref(topt)), rel=1e-12), spec
