"""shendu diagnose, and shendu train --diagnose / --tensorboard."""
import os

import pytest

from shendu.cli import main


def test_diagnose_verb_prints_findings_and_writes_pages(tmp_path, capsys):
    html = tmp_path / "r.html"          # (the page holds the plot: matplotlib is slow)
    assert main(["diagnose", "--model", "mlp", "--data", "mnist-mini", "--steps", "3",
                 "--batch-size", "32", "--table", "--html", str(html),
                 "--model-arg", "hidden_sizes=[16]"]) == 0
    out = capsys.readouterr().out
    assert "mlp on mnist-mini, adam lr=0.001, batch 32: 3 steps" in out
    assert "no findings" in out and "fc2" in out and "update" not in out.split("\n")[1]
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 2 and "<table>" in page


def test_diagnose_verb_names_a_dead_layer(capsys):
    # an MLP with sigmoids 8 deep: the early layers get no gradient (seed 002 §3.1.5)
    assert main(["diagnose", "--model", "mlp", "--data", "mnist-mini", "--steps", "2",
                 "--optimizer", "none", "--model-arg", "hidden_sizes=[32,32,32,32,32,32,32,32]",
                 "--model-arg", "activation=sigmoid"]) == 0
    out = capsys.readouterr().out
    assert "forward/backward only" in out and "vanishing_gradient at" in out and "fc1" in out
    assert main(["diagnose", "--model", "nope"]) == 2
    assert main(["diagnose", "--steps", "0"]) == 2


def test_train_with_diagnose_and_tensorboard(tmp_path, capsys):
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    pytest.importorskip("tensorboardX")
    tb = tmp_path / "tb"
    assert main(["train", "--model", "mlp", "--data", "mnist-mini", "--epochs", "2",
                 "--subset", "300", "--no-progress", "--out", str(tmp_path / "run"),
                 "--model-arg", "hidden_sizes=[16]", "--lr", "0.5", "--optimizer", "sgd",
                 "--diagnose", "5", "--tensorboard", str(tb)]) == 0
    out = capsys.readouterr().out
    assert "the run as a whole:" in out
    assert "shendu.diagnose at step" in out          # lr 0.5 with momentum: updates too big
    acc = ea.EventAccumulator(str(tb))
    acc.Reload()
    assert [e.step for e in acc.Scalars("epoch/train_loss")] == [1, 2]
    assert main(["train", "--diagnose", "0", "--out", str(tmp_path / "bad")]) == 2
