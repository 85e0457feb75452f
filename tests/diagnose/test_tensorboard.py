"""shendu.utils.tensorboard.SummaryWriter writes real event files: read back with
TensorBoard's own EventAccumulator."""
import glob
import os

import numpy as np
import pytest

pytest.importorskip("tensorboardX")
ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

import shendu
from shendu import nn, optim, models, train
from shendu.utils.tensorboard import SummaryWriter
from shendu.utils.data import TensorDataset, DataLoader


def load(path):
    acc = ea.EventAccumulator(str(path), size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0,
                                                        ea.IMAGES: 0, ea.TENSORS: 0})
    acc.Reload()
    return acc


def test_values_read_back(tmp_path):
    with SummaryWriter(log_dir=str(tmp_path)) as w:
        assert w.get_logdir() == str(tmp_path)
        for i in range(3):
            w.add_scalar("loss", shendu.tensor(1.0 / (i + 1)), i)
        w.add_scalar("plain", 2.5, 7)
        w.add_histogram("w", shendu.arange(100, dtype=shendu.float32), 1)
        w.add_image("img", shendu.ones(3, 4, 5) * 0.5, 0)
        w.add_images("imgs", shendu.zeros(2, 1, 4, 4), 0)
        w.add_text("note", "dead ReLU at act2", 0)
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig = plt.figure()
        plt.plot([0, 1], [1, 0])
        w.add_figure("fig", fig, 0)
    acc = load(tmp_path)
    tags = acc.Tags()
    assert [e.value for e in acc.Scalars("loss")] == pytest.approx([1.0, 0.5, 1 / 3])
    assert [e.step for e in acc.Scalars("loss")] == [0, 1, 2]
    assert acc.Scalars("plain")[0].value == 2.5 and acc.Scalars("plain")[0].step == 7
    h = acc.Histograms("w")[0].histogram_value
    assert h.num == 100 and h.min == 0 and h.max == 99 and h.sum == pytest.approx(4950)
    im = acc.Images("img")[0]
    assert (im.width, im.height) == (5, 4)
    assert "imgs" in tags["images"] and "fig" in tags["images"]
    text = acc.Tensors("note/text_summary")[0]
    assert b"dead ReLU at act2" in text.tensor_proto.string_val[0]
    with pytest.raises(ValueError, match="single value"):
        SummaryWriter(log_dir=str(tmp_path / "x")).add_scalar("bad", shendu.ones(3), 0)


def test_scalars_and_hparams_write_their_own_runs(tmp_path):
    with SummaryWriter(log_dir=str(tmp_path)) as w:
        w.add_scalars("loss", {"train": 1.0, "val": shendu.tensor(2.0)}, 3)
        w.add_hparams({"lr": 0.1, "opt": "sgd"}, {"hparam/acc": 0.9}, run_name="trial1")
    runs = sorted(os.listdir(tmp_path))
    assert "loss_train" in runs and "loss_val" in runs and "trial1" in runs
    assert load(tmp_path / "loss_val").Scalars("loss")[0].value == 2.0
    hp = load(tmp_path / "trial1")
    assert hp.Scalars("hparam/acc")[0].value == pytest.approx(0.9)
    assert "_hparams_/experiment" in hp.Tags()["tensors"] or \
        hp.summary_metadata.get("_hparams_/experiment") is not None


def test_graph_of_a_model_with_a_residual_join(tmp_path):
    class Res(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)) + x)
    with SummaryWriter(log_dir=str(tmp_path)) as w:
        w.add_graph(Res(), shendu.randn(3, 4))
    g = load(tmp_path).Graph()
    nodes = {n.name: n for n in g.node}
    assert set(nodes) == {"input/0", "Res/fc1", "Res/act", "Res/fc2", "output/0"}
    assert list(nodes["Res/fc1"].input) == ["input/0"]
    assert sorted(nodes["Res/fc2"].input) == ["Res/act", "input/0"]     # the skip connection
    assert nodes["Res/fc2"].op == "Linear" and nodes["Res/fc2"].attr["shape"].s == b"(3, 2)"
    assert list(nodes["output/0"].input) == ["Res/fc2"]


def test_fit_logs_to_tensorboard(tmp_path):
    shendu.manual_seed(0)
    x, y = shendu.randn(64, 1, 28, 28), shendu.randint(0, 10, (64,))
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    m = models.mlp(hidden_sizes=(8,))
    h = train.fit(m, loader, loader, optimizer=optim.SGD(m.parameters(), lr=0.01), epochs=2,
                  progress=False, log=None,
                  callbacks=[train.TensorBoard(str(tmp_path), batch_every=2)])
    acc = load(tmp_path)
    assert [e.value for e in acc.Scalars("epoch/train_loss")] == \
        pytest.approx(h["train_loss"], rel=1e-6)
    assert [e.step for e in acc.Scalars("epoch/val_accuracy")] == [1, 2]
    assert [e.step for e in acc.Scalars("batch/loss")] == [2, 4, 6, 8]
    assert acc.Histograms("weights/fc1.weight")[0].histogram_value.num == 784 * 8
    assert "grads/fc2.bias" in acc.Tags()["histograms"]
