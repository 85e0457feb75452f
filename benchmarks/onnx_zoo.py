"""Every zoo model the interop issue names, exported with shendu.onnx.export (dynamic batch)
and run by onnxruntime at two batch sizes: the largest |onnxruntime - shendu| relative to the
largest |output|. Then torch.onnx.export of the torch twins (tests/models/zoo_refs.py, with
torchvision's names) against shendu's export, both in onnxruntime. Not a speed benchmark:

    PYTHONPATH=src python benchmarks/onnx_zoo.py [names...]
"""
import importlib.util
import io
import os
import sys
import time
import warnings

import numpy as np

import shendu
import shendu.onnx
from shendu import models

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


helpers = _load(os.path.join(TESTS, "onnx", "test_export.py"), "onnx_test_helpers")

ZOO = [("lenet", {}, (1, 28, 28))] + [
    (n, {"small_input": True, "num_classes": 10}, (3, 32, 32))
    for n in ("alexnet", "vgg11", "resnet18", "resnet50", "densenet121", "mobilenet_v2",
              "shufflenet_v2_x1_0", "googlenet", "squeezenet1_0", "squeezenet1_1")]


def zoo(names):
    for name, kw, shape in ZOO:
        if names and name not in names:
            continue
        t = time.perf_counter()
        m = helpers.lively(models.get_model(name, **kw))
        x2, x3 = shendu.randn(2, *shape), shendu.randn(3, *shape)
        err, _ = helpers.export_and_run(m, (x2,), ["input"], helpers.BATCH, [(x2,), (x3,)])
        print(f"{name:20s} max rel err {err:.2e}  (batches 2 and 3, {time.perf_counter() - t:.0f} s)",
              flush=True)


def examples():
    from shendu.examples.char_lm import CharLM
    from shendu.examples.seq2seq import Seq2Seq
    lm = CharLM(60).eval()
    a, b = shendu.randint(0, 60, (16, 2)), shendu.randint(0, 60, (16, 3))
    err, _ = helpers.export_and_run(lm, (a,), ["x"], {"x": {1: "b"}}, [(a,), (b,)])
    print(f"{'char_lm (LSTM x2)':20s} max rel err {err:.2e}")
    for cell in ("GRU", "LSTM"):
        m = Seq2Seq(cell=cell).eval()
        a = (shendu.randint(3, 10, (2, 9)), shendu.tensor([9, 4]), shendu.randint(3, 10, (2, 7)))
        b = (shendu.randint(3, 10, (3, 9)), shendu.tensor([3, 9, 5]),
             shendu.randint(3, 10, (3, 7)))
        err, _ = helpers.export_and_run(m, a, ["src", "lengths", "tgt"],
                                        {"src": {0: "b"}, "lengths": {0: "b"}, "tgt": {0: "b"}},
                                        [a, b])
        print(f"{'seq2seq ' + cell:20s} max rel err {err:.2e}")


def against_torch():
    import onnxruntime as ort
    import torch
    refs = _load(os.path.join(TESTS, "models", "zoo_refs.py"), "zoo_refs")
    for tcls, name, kw in ((refs.TorchResNet18, "resnet18", {"num_classes": 10}),
                           (refs.TorchMobileNetV2, "mobilenet_v2", {"num_classes": 10}),
                           (refs.TorchLeNet, "lenet", {})):
        tnet, snet = tcls(**kw).eval(), models.get_model(name, **kw).eval()
        helpers.lively(snet)
        tnet.load_state_dict({k: torch.tensor(v.numpy()) for k, v in snet.state_dict().items()})
        shape = (1, 28, 28) if name == "lenet" else (3, 64, 64)
        x = np.random.default_rng(0).standard_normal((3,) + shape).astype(np.float32)
        tb, sb = io.BytesIO(), io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(tnet, (torch.tensor(x[:2]),), tb, input_names=["input"],
                              dynamic_axes=helpers.BATCH, dynamo=False)
        shendu.onnx.export(snet, shendu.tensor(x[:2]), sb, input_names=["input"],
                           dynamic_axes=helpers.BATCH)
        outs = [ort.InferenceSession(b.getvalue(), providers=["CPUExecutionProvider"])
                .run(None, {"input": x})[0] for b in (tb, sb)]
        err = np.abs(outs[0] - outs[1]).max() / np.abs(outs[0]).max()
        print(f"torch.onnx.export vs shendu, {name:12s}: max rel diff {err:.2e} (batch 3)")


if __name__ == "__main__":
    wanted = sys.argv[1:]
    zoo(wanted)
    if not wanted:
        examples()
        against_torch()
