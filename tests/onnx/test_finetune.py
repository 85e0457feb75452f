"""The fine-tuning path end to end: a ResNet-18 trained one (small) epoch by PyTorch on
Fashion-MNIST and saved with torch.save is loaded into shendu.models.resnet18 in a process
where `import torch` fails, gives torch's logits, is fine-tuned, exported to ONNX and served by
onnxruntime with the same predictions."""
import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import shendu

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(os.path.dirname(TESTS), "src")

CHILD = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None                     # no PyTorch in this process
    import numpy as np
    import onnxruntime as ort
    import shendu
    from shendu import models, nn
    from shendu.nn import functional as F

    ckpt, want_logits, onnx_path = sys.argv[1:4]
    ds = shendu.datasets.FashionMNISTMini(train=True)
    images = (ds.data.float() / 255.0 - 0.286) / 0.353
    x_tune, y_tune = images[256:288].unsqueeze(1), ds.targets[256:288]
    x_test = images[:64].unsqueeze(1)

    model = models.resnet18(num_classes=10, in_channels=1)
    model.load_state_dict(shendu.load(ckpt))               # torch.save's zip, read without torch
    model.eval()
    with shendu.no_grad():
        np.testing.assert_allclose(model(x_test).numpy(), np.load(want_logits), rtol=1e-4,
                                   atol=1e-4)

    opt = shendu.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    for i in range(0, 32, 16):                              # fine-tune (two small steps)
        loss = F.cross_entropy(model(x_tune[i:i + 16]), y_tune[i:i + 16])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()

    shendu.onnx.export(model, x_test[:2], onnx_path, input_names=["image"],
                       output_names=["logits"], dynamic_axes={"image": {0: "batch"}})
    served = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).run(
        None, {"image": x_test.numpy()})[0]
    with shendu.no_grad():
        mine = model(x_test).numpy()
    assert served.shape == (64, 10)
    np.testing.assert_allclose(served, mine, rtol=1e-4, atol=1e-4 * np.abs(mine).max())
    assert (served.argmax(1) == mine.argmax(1)).all()
    print("OK")
""")


def _torch_resnet18():
    spec = importlib.util.spec_from_file_location(
        "zoo_refs", os.path.join(TESTS, "models", "zoo_refs.py"))
    refs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(refs)
    return refs.TorchResNet18(num_classes=10, in_channels=1)


def test_torch_trained_resnet18_fine_tuned_in_shendu_and_served_by_onnxruntime(tmp_path):
    ds = shendu.datasets.FashionMNISTMini(train=True)
    images = (ds.data.numpy().astype(np.float32) / 255.0 - 0.286) / 0.353
    x = torch.tensor(images[:256, None])
    y = torch.tensor(ds.targets.numpy()[:256])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                # its workers spin against NumPy's BLAS threads
    torch.manual_seed(0)
    net = _torch_resnet18()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    net.train()
    try:
        for i in range(0, 256, 64):                         # one epoch of a small set
            loss = torch.nn.functional.cross_entropy(net(x[i:i + 64]), y[i:i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    net.eval()
    torch.save(net.state_dict(), tmp_path / "resnet18_fashion.pt")
    with torch.no_grad():
        np.save(tmp_path / "logits.npy", net(x[:64]).numpy())
    env = dict(os.environ, PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "resnet18_fashion.pt"),
                        str(tmp_path / "logits.npy"), str(tmp_path / "resnet18.onnx")],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stderr[-3000:]
