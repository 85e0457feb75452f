"""curves(history) on histories from real short runs on MNIST-mini (MLPs, a few hundred
images), and its rules on hand-written histories."""
import math

import pytest

import shendu
from shendu import optim, models, train
from shendu.diagnose import curves, CurveThresholds
from shendu.utils.data import TensorDataset, DataLoader
from diag_helpers import mnist_images


def run(model, make_opt, n_train, epochs, batch_size=32, seed=0):
    x, y = mnist_images()
    g = shendu.Generator().manual_seed(seed)
    tr = DataLoader(TensorDataset(x[:n_train], y[:n_train]), batch_size=batch_size,
                    shuffle=True, generator=g)
    va = DataLoader(TensorDataset(x[5000:5500], y[5000:5500]), batch_size=500)
    return train.fit(model, tr, va, optimizer=make_opt(model), epochs=epochs, progress=False,
                     log=None)


def test_too_high_lr_blows_up_then_dies():
    shendu.manual_seed(0)
    h = run(models.mlp(hidden_sizes=(32,)), lambda m: optim.Adam(m.parameters(), lr=0.3),
            320, 12)
    c = curves(h)
    assert c.kinds == {"diverging"}, c
    v = c["diverging"]
    assert v.evidence["blowup_ratio"] > 5 and v.evidence["train_error"] > 0.5
    assert "learning rate" in v.advice


def test_too_high_lr_oscillates():
    shendu.manual_seed(1)
    h = run(models.mlp(hidden_sizes=(32,)), lambda m: optim.SGD(m.parameters(), lr=0.5),
            320, 12, seed=1)
    c = curves(h)
    assert "oscillating" in c and "underfitting" not in c and "diverging" not in c, c
    v = c["oscillating"]
    assert v.evidence["largest_rise"] > 0.05
    i = v.evidence["largest_rise_epoch"] - 1
    assert h["train_loss"][i] > h["train_loss"][i - 1] * 1.05


def test_too_small_model_underfits():
    shendu.manual_seed(0)
    h = run(models.mlp(hidden_sizes=(2,)), lambda m: optim.Adam(m.parameters(), lr=1e-2),
            1000, 4)
    c = curves(h)
    assert c.kinds == {"underfitting"}, c
    assert c["underfitting"].evidence["train_error"] > 0.5


def test_model_overfits_a_200_image_subset():
    shendu.manual_seed(0)
    h = run(models.mlp(hidden_sizes=(64,)), lambda m: optim.Adam(m.parameters(), lr=1e-3),
            200, 20, batch_size=20)
    c = curves(h)
    assert c.kinds == {"overfitting"}, c
    v = c["overfitting"]
    vl = h["val_loss"]
    assert v.epoch == 1 + vl.index(min(vl)) and v.epoch < 20
    assert v.evidence["generalization_gap"] > 0.15 and h["train_accuracy"][-1] == 1.0


def test_rules_on_written_histories():
    healthy = {"train_loss": [1.2, 0.6, 0.4, 0.3], "val_loss": [0.9, 0.6, 0.45, 0.4],
               "train_accuracy": [0.7, 0.85, 0.9, 0.93], "val_accuracy": [0.75, 0.85, 0.88,
                                                                           0.9]}
    assert len(curves(healthy)) == 0 and "no verdict" in str(curves(healthy))
    stalled = {"train_loss": [2.30, 2.29, 2.28, 2.27]}
    assert curves(stalled).kinds == {"stalled"}
    assert curves(stalled)["stalled"].evidence["drop"] == pytest.approx(0.03 / 2.30, abs=1e-4)
    nan = {"train_loss": [2.0, 1.0, math.nan]}
    assert curves(nan)["diverging"].evidence["first_nonfinite_epoch"] == 3
    rising = {"train_loss": [1.0, 0.5, 0.6, 0.9]}
    assert curves(rising).kinds == {"diverging"}
    turned = {"train_loss": [1.0, 0.5, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.6, 0.5, 0.6, 0.7]}
    c = curves(turned)
    assert c.kinds == {"overfitting"} and c["overfitting"].epoch == 3
    assert curves(stalled, CurveThresholds(stall_drop=0.001)).kinds == set()
    with pytest.raises(ValueError, match="train_loss"):
        curves({"val_loss": [1.0]})
