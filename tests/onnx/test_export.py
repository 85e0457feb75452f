"""shendu.onnx.export: ONNX files that onnx.checker accepts and onnxruntime runs with shendu's
outputs (float32, 1e-4 relative) at two batch sizes; torch.onnx.export of the same
architecture agrees; unsupported ops and untraceable models fail with errors that name the
op and the module. The heavy zoo models are swept by benchmarks/onnx_zoo.py."""
import importlib.util
import io
import os

import numpy as np
import pytest

import shendu
from shendu import models, nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from shendu.onnx import UnsupportedOperatorError  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def lively(model, seed=0):
    """Weights and batch-norm statistics that keep activations O(1) through deep nets (the
    zoo's own init makes GoogLeNet's features vanish, which would hide errors)."""
    rng = np.random.default_rng(seed)
    sd = {}
    for k, v in model.state_dict().items():
        a = v.numpy()
        if k.endswith("running_var"):
            a = rng.uniform(0.5, 1.5, a.shape)
        elif k.endswith("running_mean") or (k.endswith("bias") and a.ndim == 1):
            a = rng.normal(0, 0.1, a.shape)
        elif k.endswith("weight") and a.ndim == 1:
            a = rng.uniform(0.5, 1.5, a.shape)
        elif a.dtype.kind == "f" and a.ndim >= 2:
            a = rng.normal(0, np.sqrt(2.0 / np.prod(a.shape[1:])), a.shape)
        sd[k] = a.astype(v.numpy().dtype)
    model.load_state_dict(sd)
    return model.eval()


def export_and_run(model, args, names, dynamic, argsets, **kw):
    """Export, check, and compare onnxruntime with shendu on every tuple in argsets;
    returns the largest error relative to the largest output magnitude."""
    buf = io.BytesIO()
    proto = shendu.onnx.export(model, args, buf, input_names=names, dynamic_axes=dynamic, **kw)
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()), full_check=True)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    worst = 0.0
    for a in argsets:
        with shendu.no_grad():
            want = model(*a)
        want = [w.numpy() for w in _leaves(want)]
        got = sess.run(None, {n: t.numpy() for n, t in zip(names, a)})
        assert len(got) == len(want)
        for w, g in zip(want, got):
            assert w.shape == g.shape and w.dtype == g.dtype
            scale = max(np.abs(w).max(), 1e-30)
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4 * scale)
            worst = max(worst, float(np.abs(g - w).max() / scale))
    return worst, proto


def _leaves(o):
    if isinstance(o, (tuple, list)):
        return [x for v in o for x in _leaves(v)]
    return [o]


BATCH = {"input": {0: "batch"}}


@pytest.mark.parametrize("name", ["lenet", "resnet18", "shufflenet_v2_x1_0", "squeezenet1_1"])
def test_zoo_model_matches_onnxruntime_at_two_batch_sizes(name):
    kw = {} if name == "lenet" else {"small_input": True, "num_classes": 10}
    shape = (1, 28, 28) if name == "lenet" else (3, 32, 32)
    m = lively(models.get_model(name, **kw))
    x2, x3 = shendu.randn(2, *shape), shendu.randn(3, *shape)
    worst, proto = export_and_run(m, (x2,), ["input"], BATCH, [(x2,), (x3,)])
    assert worst < 1e-4
    inits = {i.name for i in proto.graph.initializer}
    assert set(m.state_dict()) - {k for k in m.state_dict() if "num_batches" in k} <= inits
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional, batch_first", [(False, False), (True, True)])
def test_recurrent_layers(kind, bidirectional, batch_first):
    m = getattr(nn, kind)(5, 7, num_layers=2, bidirectional=bidirectional,
                          batch_first=batch_first).eval()
    shape = (4, 3, 5) if batch_first else (3, 4, 5)
    axis = 0 if batch_first else 1
    grown = list(shape)
    grown[axis] = 6
    x, x2 = shendu.randn(*shape), shendu.randn(*grown)
    worst, _ = export_and_run(m, (x,), ["x"], {"x": {axis: "batch"}}, [(x,), (x2,)])
    assert worst < 1e-4


def test_lstm_with_initial_state():
    class WithState(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(5, 7, num_layers=2)

        def forward(self, x, h, c):
            return self.lstm(x, (h, c))
    m = WithState().eval()
    args = [(shendu.randn(3, n, 5), shendu.randn(2, n, 7), shendu.randn(2, n, 7)) for n in (4, 2)]
    dyn = {"x": {1: "b"}, "h": {1: "b"}, "c": {1: "b"}}
    assert export_and_run(m, args[0], ["x", "h", "c"], dyn, args)[0] < 1e-4


@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_with_padding_mask(batch_first):
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)

        def forward(self, q, kv, mask):
            return self.mha(q, kv, kv, key_padding_mask=mask)
    m = Attn().eval()

    def args(n):
        q, kv = shendu.randn(3, n, 8), shendu.randn(5, n, 8)
        if batch_first:
            q, kv = q.transpose(0, 1).contiguous(), kv.transpose(0, 1).contiguous()
        mask = shendu.tensor(np.arange(5)[None, :] >= np.arange(2, 2 + n)[:, None] % 5 + 1)
        return q, kv, mask
    b = 0 if batch_first else 1
    dyn = {"q": {b: "n"}, "kv": {b: "n"}, "mask": {0: "n"}}
    assert export_and_run(m, args(2), ["q", "kv", "mask"], dyn, [args(2), args(3)])[0] < 1e-4


def test_char_lm_and_seq2seq_examples():
    from shendu.examples.char_lm import CharLM
    from shendu.examples.seq2seq import Seq2Seq
    lm = CharLM(20, hidden=16).eval()
    x2, x3 = shendu.randint(0, 20, (5, 2)), shendu.randint(0, 20, (5, 3))
    assert export_and_run(lm, (x2,), ["x"], {"x": {1: "b"}}, [(x2,), (x3,)])[0] < 1e-4
    for cell in ("GRU", "LSTM"):
        s2s = Seq2Seq(cell=cell, hidden=16).eval()
        a = (shendu.randint(3, 10, (2, 6)), shendu.tensor([6, 4]), shendu.randint(3, 10, (2, 5)))
        b = (shendu.randint(3, 10, (3, 6)), shendu.tensor([3, 6, 5]),
             shendu.randint(3, 10, (3, 5)))
        dyn = {"src": {0: "b"}, "lengths": {0: "b"}, "tgt": {0: "b"}}
        assert export_and_run(s2s, a, ["src", "lengths", "tgt"], dyn, [a, b])[0] < 1e-4


def test_torch_onnx_export_of_the_same_architecture_agrees(tmp_path):
    torch = pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(
        "zoo_refs", os.path.join(os.path.dirname(HERE), "models", "zoo_refs.py"))
    refs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(refs)
    tnet = refs.TorchLeNet().eval()
    snet = models.lenet().eval()
    refs.copy_weights(tnet, snet)
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tnet, (torch.tensor(x[:2]),), str(tmp_path / "t.onnx"),
                          input_names=["input"], dynamic_axes=BATCH, dynamo=False)
    shendu.onnx.export(snet, shendu.tensor(x[:2]), str(tmp_path / "s.onnx"),
                       input_names=["input"], dynamic_axes=BATCH)
    outs = [ort.InferenceSession(str(tmp_path / f), providers=["CPUExecutionProvider"])
            .run(None, {"input": x})[0] for f in ("t.onnx", "s.onnx")]
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-4, atol=1e-5)


def test_in_place_ops_are_traced():
    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            y = self.fc(x)
            y += x
            y = self.act(y)
            return y.mul_(2.0).tanh_()
    m = lively(InPlace())
    x, x2 = shendu.randn(2, 4), shendu.randn(5, 4)
    assert export_and_run(m, (x,), ["input"], BATCH, [(x,), (x2,)])[0] < 1e-4


# ---------------------------------------------------------------- errors
def test_unsupported_op_names_the_op_and_the_module():
    class Blocks(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 4), CumSum())

        def forward(self, x):
            return self.body(x)

    class CumSum(nn.Module):
        def forward(self, x):
            return shendu.cumsum(x, 1)
    with pytest.raises(UnsupportedOperatorError, match=r"CumSum.*'body\.1' \(CumSum\)"):
        shendu.onnx.export(Blocks().eval(), shendu.randn(2, 4), io.BytesIO())

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(shendu.randn(2, 1, 3, 3))

        def forward(self, x):
            return nn.functional.conv2d(x, self.w)
    with pytest.raises(UnsupportedOperatorError, match="Convolution"):
        shendu.onnx.export(Functional(), shendu.randn(1, 1, 5, 5), io.BytesIO())
    with pytest.raises(UnsupportedOperatorError, match="padding_mode='reflect'.*'0'"):
        shendu.onnx.export(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")),
                           shendu.randn(1, 1, 5, 5), io.BytesIO())


def test_values_that_would_be_frozen_are_refused():
    class ReadsItem(nn.Module):
        def forward(self, x):
            return x * float(x.max().item())

    class ThroughNumPy(nn.Module):
        def forward(self, x):
            return x + shendu.tensor(np.sort(x._data, axis=1))

    class Branches(nn.Module):
        def forward(self, x):
            return x.relu() if x.shape[0] > 2 else x.tanh()
    with pytest.raises(UnsupportedOperatorError, match="Tensor.item"):
        shendu.onnx.export(ReadsItem(), shendu.randn(2, 3), io.BytesIO())
    with pytest.raises(UnsupportedOperatorError, match="outside shendu's ops"):
        shendu.onnx.export(ThroughNumPy(), shendu.randn(2, 3), io.BytesIO())
    with pytest.raises(UnsupportedOperatorError, match="control flow"):
        shendu.onnx.export(Branches(), shendu.randn(2, 3), io.BytesIO(), input_names=["x"],
                           dynamic_axes={"x": [0]})


def test_bad_arguments():
    m = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="opset"):
        shendu.onnx.export(m, shendu.randn(1, 2), io.BytesIO(), opset_version=9)
    with pytest.raises(TypeError, match="unexpected keyword"):
        shendu.onnx.export(m, shendu.randn(1, 2), io.BytesIO(), bogus=1)
    assert m.training                                 # the model's mode is restored
