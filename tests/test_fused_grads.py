"""Fused gradients are nodes (issue 13): tanh's g(1 − y²), sigmoid's g y(1 − y), the ReLU
mask select and the one-pass backwards of linear, cross-entropy, normalization and the
recurrence are computed by a node of their own, so ``create_graph=True`` takes the same
fast path, and that node's backward makes higher derivatives exact. No op's backward asks
whether grad mode is on."""
import ast
import pathlib

import pytest

import shendu
import shendu.nn.functional as F
from shendu.autograd import grad, gradgradcheck

D = shendu.float64


def _nodes(t):
    """The names of every node in t's graph."""
    seen, stack, names = set(), [t.grad_fn], set()
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        names.add(type(n).__name__)
        stack.extend(m for m, _ in getattr(n, "next_functions", ()))
    return names


def _lstm():
    shendu.manual_seed(0)
    m = shendu.nn.LSTM(3, 2).double()
    return lambda x: m(x.reshape(2, 2, 3))[0]


SOFT = shendu.tensor([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1], [0.0, 0.5, 0.5, 0.0]],
                     dtype=D)
CASES = {
    "tanh": (lambda x: shendu.tanh(x), (3, 4), "TanhGrad"),
    "sigmoid": (lambda x: shendu.sigmoid(x), (3, 4), "SigmoidGrad"),
    "relu": (lambda x: F.relu(x) * x, (3, 4), "MaskGrad"),
    "linear": (lambda x: F.linear(x, x.t() * 0.5 + 1.0, x[0]), (3, 3), "FusedGrad"),
    "cross_entropy": (lambda x: F.cross_entropy(x, shendu.tensor([0, 2, 1])), (3, 4),
                      "FusedGrad"),
    "cross_entropy_soft": (lambda x: F.cross_entropy(x, SOFT, label_smoothing=0.1), (3, 4),
                           "FusedGrad"),
    "batch_norm": (lambda x: F.batch_norm(x, None, None, x[0] + 2.0, None, training=True),
                   (3, 4), "FusedGrad"),
    "layer_norm": (lambda x: F.layer_norm(x, (4,)), (3, 4), "FusedGrad"),
    "lstm": (_lstm(), (4, 3), "FusedGrad"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_create_graph_runs_the_fused_node_and_second_derivatives_are_exact(name):
    fn, shape, node = CASES[name]
    shendu.manual_seed(1)
    x = shendu.randn(*shape, dtype=D, requires_grad=True)
    y = fn(x)
    g, = grad((y * y).sum(), x, create_graph=True)
    assert node in _nodes(g), f"{node} not in the gradient's graph: {sorted(_nodes(g))}"
    assert gradgradcheck(lambda t: fn(t) ** 2, (x,))


def test_no_backward_in_ops_reads_grad_mode():
    root = pathlib.Path(shendu.__file__).parent / "_ops"
    bad = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "backward":
                for sub in ast.walk(node):
                    name = sub.attr if isinstance(sub, ast.Attribute) else \
                        sub.id if isinstance(sub, ast.Name) else None
                    if name in ("is_grad_enabled", "_mode", "grad_mode", "_grad_mode"):
                        bad.append(f"{path.name}:{sub.lineno}")
    assert not bad, bad
