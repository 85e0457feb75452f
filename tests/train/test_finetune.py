"""The fine-tuning example (seed 002 §3.7.4's three states), shortened."""
import numpy as np

import shendu
from shendu import models, optim
from shendu.examples import finetune


def test_finetune_example_three_states(tmp_path):
    lines = []
    res = finetune.main(["--pretrain-size", "2000", "--pretrain-epochs", "1", "--target-size",
                         "200", "--epochs", "3", "--out", str(tmp_path)], out=lines.append)
    text = "\n".join(lines)
    for label in ("1. predict only", "2. train the new classifier only", "3. train all",
                  "from scratch"):
        assert label in text
    pre = shendu.load(tmp_path / "lenet_mnist.safetensors")
    assert res["pretrained_mnist_accuracy"] > 0.7
    s1, s2, s3 = (res[k] for k in sorted(k for k in res if k[:2] in ("1.", "2.", "3.")))
    # 1: nothing trained, the weights are the pre-trained ones
    assert s1["trainable"] == 0
    for k, v in s1["model"].state_dict().items():
        assert np.array_equal(v.numpy(), pre[k].numpy())
    # 2: the body is frozen (no gradient, unchanged), only the new head (84·10 + 10) learned
    m2 = s2["model"]
    assert s2["trainable"] == 850
    assert not m2.conv1.weight.requires_grad and m2.fc3.weight.requires_grad
    for k, v in m2.state_dict().items():
        if not k.startswith("fc3."):
            assert np.array_equal(v.numpy(), pre[k].numpy()), k
    assert m2.conv1.weight.grad is None
    # 3: everything moved from the pre-trained weights
    m3 = s3["model"]
    assert s3["trainable"] == 61_706
    for k in ("conv1.weight", "fc1.weight", "fc2.bias"):
        assert not np.array_equal(m3.state_dict()[k].numpy(), pre[k].numpy()), k
    # a trained head beats the untouched digit classifier on clothes
    assert s2["accuracy"] > s1["accuracy"] and s3["accuracy"] > s1["accuracy"]
    assert s3["accuracy"] > 0.4


def test_helpers_replace_head_and_freeze_body():
    m = models.lenet()
    head = finetune.replace_head(m, 5)
    assert m.fc3 is head and head.out_features == 5 and head.in_features == 84
    finetune.freeze_body(m)
    assert [n for n, p in m.named_parameters() if p.requires_grad] == ["fc3.weight", "fc3.bias"]
    # an optimizer over two groups: the body at a tenth of the head's rate
    body = [p for n, p in m.named_parameters() if not n.startswith("fc3.")]
    opt = optim.SGD([{"params": body, "lr": 0.01}, {"params": head.parameters()}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
