"""The training loop on real convolutional networks: resume continues exactly, early
stopping, best-model checkpoints, train vs generalization error, curves, progress."""
import io

import numpy as np
import pytest

import shendu
from shendu import models, nn, optim
from shendu.train import (Trainer, fit, evaluate, predict, EarlyStopping, ModelCheckpoint,
                          CSVLogger, LambdaCallback, History, ProgressBar)
from shendu.utils.data import DataLoader, TensorDataset
from shendu.datasets import MNISTMini
from shendu import transforms


def small_cnn():
    """Convolution, batch norm, pooling, dropout: every source of state a resume must keep."""
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.3), nn.Linear(4 * 5 * 5, 3))


def data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    X = shendu.tensor(rng.standard_normal((n, 1, 12, 12)).astype(np.float32))
    y = shendu.tensor(rng.integers(0, 3, n))
    return TensorDataset(X, y)


def run(epochs, seed=0, resume=None, checkpoint=None, callbacks=(), generator=False,
        stop_at=None):
    """Train small_cnn with shuffling, dropout, momentum and a step schedule; returns the
    per-batch losses, the trainer and its history."""
    shendu.manual_seed(seed)
    model = small_cnn()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    losses = []

    def on_batch_end(tr, step, logs):
        losses.append(logs["loss"])
        if stop_at is not None and step == stop_at:
            raise KeyboardInterrupt
    cbs = [LambdaCallback(on_batch_end=on_batch_end), *callbacks]
    gen = shendu.Generator().manual_seed(7) if generator else None
    train = DataLoader(data(), batch_size=16, shuffle=True, generator=gen)    # 6 batches
    val = DataLoader(data(30, seed=1), batch_size=16)
    tr = Trainer(model, opt, scheduler=sched, callbacks=cbs, progress=False, log=None)
    hist = tr.fit(train, val, epochs=epochs, checkpoint=checkpoint, resume=resume)
    return losses, tr, hist


def drop_times(h):
    return {k: v for k, v in h.state_dict().items() if k != "epoch_time"}


@pytest.mark.parametrize("generator", [False, True])
def test_resume_continues_exactly(tmp_path, generator):
    ckpt = tmp_path / "run.safetensors"
    full, tr_full, h_full = run(5, generator=generator)
    first, _, _ = run(2, checkpoint=ckpt, generator=generator)
    # another seed and another initialisation: everything must come from the checkpoint
    rest, tr_rest, h_rest = run(5, seed=99, resume=ckpt, generator=generator)
    assert len(full) == 30 and len(first) == 12 and len(rest) == 18
    assert first + rest == full                          # bit for bit
    assert drop_times(h_rest) == drop_times(h_full)
    for k, v in tr_full.model.state_dict().items():
        assert np.array_equal(v.numpy(), tr_rest.model.state_dict()[k].numpy()), k
    assert tr_rest.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.7 ** 5)
    assert len(set(full)) == len(full)                   # the losses really change


def test_resume_after_an_interrupted_epoch(tmp_path):
    ckpt = tmp_path / "run.safetensors"
    full, _, _ = run(4)
    part, _, hist = run(4, checkpoint=ckpt, stop_at=15)          # Ctrl-C in epoch 3
    assert hist.interrupted and len(hist) == 2
    assert shendu.load(ckpt)["epoch"] == 2
    rest, _, _ = run(4, seed=3, resume=ckpt)
    assert part[:12] + rest == full


def test_resume_keeps_early_stopping_patience(tmp_path):
    ckpt = tmp_path / "run.safetensors"

    def stopper():
        return EarlyStopping(monitor="train_loss", patience=1, min_delta=10.0, verbose=False)
    _, _, h_full = run(6, callbacks=[stopper()])
    assert len(h_full) == 2                              # nothing improves by 10: stop after 2
    run(1, checkpoint=ckpt, callbacks=[stopper()])
    _, tr_b, h_b = run(6, seed=4, resume=ckpt, callbacks=[stopper()])
    assert drop_times(h_b) == drop_times(h_full)
    assert tr_b.callbacks[1].stopped_epoch == 2


class Score(LambdaCallback):
    """Puts a scripted value into each epoch's logs (before the callbacks that read it)."""

    def __init__(self, values):
        super().__init__(on_epoch_end=lambda tr, epoch, logs: logs.update(score=values[epoch - 1]))


class Snapshots(LambdaCallback):
    def __init__(self):
        self.weights = {}
        super().__init__(on_epoch_end=lambda tr, epoch, logs: self.weights.update(
            {epoch: {k: v.clone() for k, v in tr.model.state_dict().items()}}))


def test_early_stopping_and_restoring_the_best_weights():
    snaps = Snapshots()
    stop = EarlyStopping(monitor="score", patience=2, mode="min", restore_best_weights=True,
                         verbose=False)
    _, tr, hist = run(10, callbacks=[Score([3.0, 1.0, 2.0, 1.5, 0.5, 0.1]), snaps, stop])
    assert len(hist) == 4 and stop.stopped_epoch == 4 and stop.best_epoch == 2
    for k, v in tr.model.state_dict().items():           # epoch 2's weights are back
        assert np.array_equal(v.numpy(), snaps.weights[2][k].numpy()), k
    assert not np.array_equal(snaps.weights[2]["6.weight"].numpy(),
                              snaps.weights[4]["6.weight"].numpy())


def test_early_stopping_message_and_min_delta():
    lines = []
    shendu.manual_seed(0)
    m = small_cnn()
    opt = optim.SGD(m.parameters(), lr=0.0)               # nothing changes: val_loss is flat
    tr = Trainer(m, opt, callbacks=[EarlyStopping(patience=2)], progress=False,
                 log=lines.append)
    hist = tr.fit(DataLoader(data(), batch_size=30), DataLoader(data(30, 1), batch_size=30),
                  epochs=20)
    assert len(hist) == 3
    assert any("early stopping at epoch 3: val_loss has not improved for 2 epochs" in s
               for s in lines)
    with pytest.raises(KeyError, match="'nope'.*train_loss"):
        Trainer(m, opt, callbacks=[EarlyStopping(monitor="nope")], progress=False,
                log=None).fit(DataLoader(data(), batch_size=30), epochs=1)


def test_best_model_checkpointing(tmp_path):
    snaps = Snapshots()
    best = ModelCheckpoint(tmp_path / "last.safetensors", monitor="score", mode="min")
    run(4, callbacks=[Score([2.0, 0.5, 0.7, 0.9]), snaps, best])
    saved = shendu.load(tmp_path / "last.best.safetensors")           # epoch 2's weights
    assert saved["epoch"] == 2 and saved["score"] == 0.5
    for k, v in snaps.weights[2].items():
        assert np.array_equal(saved["model"][k].numpy(), v.numpy()), k
    last = shendu.load(tmp_path / "last.safetensors")                 # the full state, epoch 4
    assert last["epoch"] == 4
    for k, v in snaps.weights[4].items():
        assert np.array_equal(last["model"][k].numpy(), v.numpy()), k


def test_fit_checkpoint_argument_tracks_val_loss(tmp_path):
    _, _, hist = run(3, checkpoint=tmp_path / "c.safetensors")
    best_epoch = int(np.argmin(hist["val_loss"])) + 1
    saved = shendu.load(tmp_path / "c.best.safetensors")
    m = small_cnn()
    m.load_state_dict(saved["model"])
    loss = evaluate(m, DataLoader(data(30, seed=1), batch_size=16))["loss"]
    assert loss == pytest.approx(hist["val_loss"][best_epoch - 1], rel=1e-6)


def mnist_loaders(n_train=300, n_val=200):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train, test = MNISTMini(train=True, transform=tf), MNISTMini(train=False, transform=tf)
    from shendu.utils.data import Subset
    return (DataLoader(Subset(train, range(n_train)), batch_size=50, shuffle=True),
            DataLoader(Subset(test, range(n_val)), batch_size=100))


def test_train_and_generalization_error_on_mnist():
    """Seed 001: an over-parameterised model drives the training error to ~0 on 300 images
    while the error on held-out images stays higher — the gap is the generalization error."""
    shendu.manual_seed(0)
    train, val = mnist_loaders()
    m = models.mlp(hidden_sizes=(128,))
    hist = fit(m, train, val, optim.Adam(m.parameters(), lr=2e-3), epochs=12, progress=False,
               log=None)
    for k in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "train_error",
              "val_error", "generalization_gap", "lr", "epoch_time"):
        assert len(hist[k]) == 12, k
    for tr_acc, tr_err, va_acc, va_err, gap in zip(hist["train_accuracy"], hist["train_error"],
                                                   hist["val_accuracy"], hist["val_error"],
                                                   hist["generalization_gap"]):
        assert tr_err == pytest.approx(1 - tr_acc) and va_err == pytest.approx(1 - va_acc)
        assert gap == pytest.approx(va_err - tr_err)
    assert hist["train_error"][-1] < 0.02 < 0.06 < hist["val_error"][-1] < 0.3
    assert hist["generalization_gap"][-1] > 0.05
    assert hist["train_loss"][-1] < hist["train_loss"][0] / 5
    # the validation numbers are evaluate()'s, and predict() gives the same accuracy
    ev = evaluate(m, val)
    assert ev["accuracy"] == pytest.approx(hist["val_accuracy"][-1])
    X = shendu.cat([x for x, _ in val])
    y = np.concatenate([t.numpy() for _, t in val])
    assert (predict(m, X, batch_size=64).numpy().argmax(1) == y).mean() == \
        pytest.approx(ev["accuracy"])


def test_train_accuracy_is_the_sample_weighted_mean_over_batches():
    ds = data(50)                                           # batches of 16, 16, 16, 2
    accs, sizes = [], []
    m = small_cnn()
    seen = []
    orig = m.forward

    def fwd(x):
        out = orig(x)
        seen.append(out)
        return out
    m.forward = fwd
    loader = DataLoader(ds, batch_size=16)
    hist = fit(m, loader, optimizer=optim.SGD(m.parameters(), lr=0.0), epochs=1,
               progress=False, log=None)
    ys = [t.numpy() for _, t in loader]
    for out, y in zip(seen, ys):
        accs.append((out.detach().numpy().argmax(1) == y).mean())
        sizes.append(len(y))
    assert hist["train_accuracy"][0] == pytest.approx(np.average(accs, weights=sizes))


def test_curves_png(tmp_path):
    h = History()
    for e in range(1, 6):
        h.append({"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e + 0.05 * e,
                  "train_accuracy": 1 - 0.5 / e, "val_accuracy": 0.9 - 0.4 / e,
                  "train_error": 0.5 / e, "lr": 0.1})
    path = tmp_path / "curves.png"
    h.plot(path, title="LeNet on MNISTMini")
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    with Image.open(path) as im:
        w, hgt = im.size
        assert w > 2 * hgt > 300                           # loss and accuracy side by side
        px = np.asarray(im.convert("RGB"))
    assert (px < 200).any(axis=2).mean() > 0.01            # lines and text were drawn


def test_progress_bar_shows_batches_loss_rate_and_eta():
    class TTY(io.StringIO):
        def isatty(self):
            return True
    out = TTY()
    bar = ProgressBar(4, "epoch 1", stream=out, min_interval=0.0)
    bar._tqdm = None                                       # the built-in bar
    for i in range(4):
        bar.update(32, loss=1.0 / (i + 1), accuracy=0.5)
    bar.close()
    text = out.getvalue()
    assert "epoch 1" in text and "4/4" in text and "loss=0.2500" in text
    assert "accuracy=0.5000" in text and "samples/s=" in text and "<" in text   # elapsed<ETA


def test_progress_through_fit_with_tqdm(capsys):
    m = small_cnn()
    fit(m, DataLoader(data(), batch_size=30), optimizer=optim.SGD(m.parameters(), lr=0.01),
        epochs=1, progress=True, log=print)
    err = capsys.readouterr()
    assert "epoch 1" in err.err and "samples/s" in err.err
    assert "train_loss=" in err.out


def test_diverging_loss_is_reported():
    m = small_cnn()
    with shendu.no_grad():
        m[6].weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 1, step 0"):
        fit(m, DataLoader(data(), batch_size=30), optimizer=optim.SGD(m.parameters(), lr=0.1),
            epochs=1, progress=False, log=None)


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    run(2, callbacks=[CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0].startswith("epoch,") and "val_loss" in lines[0]
    assert len(lines) == 3 and lines[2].startswith("2,")
