"""The notes' losses torch lacks: the trainable perceptron loss (Rosenblatt's subgradient),
the binary hinge loss by name and the contrastive loss, against their defining formulas
written in torch, with gradcheck, float32 and clear errors."""
import numpy as np
import pytest
import torch

import shendu
from torch_oracle import check, gradchecks

PM = np.array([1.0, -1, 1, -1, 1, 1, -1])
SAME = np.array([1.0, 0, 1, 0, 0])


def _torch_hinge(f, y, margin=1.0):
    return torch.clamp(margin - torch.where(y > 0, 1.0, -1.0).double() * f, min=0)


@pytest.mark.parametrize("labels", [PM, (PM > 0).astype(np.int64)])
def test_hinge_loss_binary_vs_formula(labels):
    check(lambda L, f: (L.nn.functional.hinge_loss(f, L.tensor(labels), margin=0.7,
                                                    reduction="none") if L is shendu else
                        _torch_hinge(f, torch.tensor(labels), 0.7)), (7,))
    check(lambda L, f: (L.nn.functional.hinge_loss(f, L.tensor(labels)) if L is shendu else
                        _torch_hinge(f, torch.tensor(labels)).mean()), (7,))
    gradchecks(lambda L, f: L.nn.HingeLoss(reduction="sum")(f, L.tensor(PM)), (7,),
               second_order=False)


def test_hinge_loss_multiclass_crammer_singer():
    f = shendu.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 5.0], [1.0, 1.5, 0.0]], requires_grad=True)
    loss = shendu.nn.functional.hinge_loss(f, shendu.tensor([0, 1, 1]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [0.0, 4.0, 0.5])
    loss.sum().backward()
    np.testing.assert_allclose(f.grad.numpy(), [[0, 0, 0], [0, -1, 1], [1, -1, 0]])


def _torch_contrastive(a, b, y, margin):
    d = torch.nn.functional.pairwise_distance(a, b)
    return (y * d ** 2 + (1 - y) * torch.clamp(margin - d, min=0) ** 2) * 0.5


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_contrastive_loss_vs_formula(reduction):
    red = {"none": lambda v: v, "mean": torch.mean, "sum": torch.sum}[reduction]
    check(lambda L, a, b: (L.nn.ContrastiveLoss(margin=2.0, reduction=reduction)(
        a, b, L.tensor(SAME)) if L is shendu else
        red(_torch_contrastive(a, b, torch.tensor(SAME), 2.0))), (5, 3), (5, 3))
    # boolean labels and a single pair
    check(lambda L, a, b: (L.nn.functional.contrastive_loss(a, b, L.tensor(True)) if L is shendu
                           else _torch_contrastive(a, b, 1.0, 1.0)), (4,), (4,))
    gradchecks(lambda L, a, b: L.nn.functional.contrastive_loss(a, b, L.tensor(SAME), margin=3.0),
               (5, 3), (5, 3))


def test_contrastive_float32_and_errors():
    a, b = shendu.randn(6, 4), shendu.randn(6, 4)
    out = shendu.nn.ContrastiveLoss()(a, b, shendu.tensor([1, 0, 1, 0, 1, 0]))
    assert out.dtype == shendu.float32 and out.dim() == 0
    with pytest.raises(RuntimeError, match=r"same shape .* got \(6, 4\) and \(6, 3\)"):
        shendu.nn.functional.contrastive_loss(a, shendu.randn(6, 3), shendu.zeros(6))
    with pytest.raises(RuntimeError, match=r"target of shape \(6,\)"):
        shendu.nn.functional.contrastive_loss(a, b, shendu.zeros(5))
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        shendu.nn.ContrastiveLoss(margin=0)


def test_triplet_margin_loss_module_vs_torch():
    check(lambda L, a, p, n: L.nn.TripletMarginLoss(margin=0.5, p=2.0)(a, p, n),
          (6, 4), (6, 4), (6, 4))


def test_perceptron_loss_trains_and_errors():
    # the subgradient moves zero-initialised weights (every sample sits on the boundary)
    x = shendu.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = shendu.tensor([-1.0, -1.0, -1.0, 1.0])                       # AND
    lin = shendu.nn.Linear(2, 1)
    shendu.nn.init.zeros_(lin.weight)
    shendu.nn.init.zeros_(lin.bias)
    opt = shendu.optim.SGD(lin.parameters(), lr=0.5)
    for _ in range(50):
        opt.zero_grad()
        loss = shendu.nn.PerceptronLoss(reduction="sum")(lin(x).squeeze(1), y)
        loss.backward()
        opt.step()
    assert loss.item() == 0 and (lin(x).squeeze(1).detach().numpy() * y.numpy() > 0).all()
    assert shendu.nn.functional.perceptron_loss(shendu.randn(3, 2), shendu.tensor([0, 1, 0])).dtype \
        == shendu.float32
    with pytest.raises(IndexError, match="Target 5 is out of bounds for 3 classes"):
        shendu.nn.functional.perceptron_loss(shendu.randn(2, 3), shendu.tensor([0, 5]))
