"""Module parity with torch for the recurrent and attention tests: compare the outputs of
a torch module and its shendu twin, backpropagate the same random weighting of them, and
compare the gradients of the inputs and of every parameter."""
import numpy as np
import torch

import shendu
from shendu.nn.utils import rnn as srnn
from torch_oracle import compare

trnn = torch.nn.utils.rnn


def flat(x):
    if isinstance(x, (tuple, list)):
        return [y for z in x for y in flat(z)]
    if isinstance(x, (trnn.PackedSequence, srnn.PackedSequence)):
        return [x.data]
    return [x]


def backward_and_compare(t_outs, s_outs, t_leaves, s_leaves, tm=None, sm=None, seed=0):
    """Outputs (tensors, tuples, PackedSequences; None where torch gives None) equal;
    then the gradients of ``t_leaves``/``s_leaves`` and of the modules' parameters."""
    t_outs, s_outs = flat(t_outs), flat(s_outs)
    assert len(t_outs) == len(s_outs)
    rng = np.random.default_rng(seed)
    t_loss = s_loss = 0
    for k, (t, s) in enumerate(zip(t_outs, s_outs)):
        if t is None:
            assert s is None, f"output {k}: torch gives None"
            continue
        compare(s, t, what=f"output {k}")
        w = rng.uniform(-1, 1, size=tuple(t.shape))
        t_loss = t_loss + (t * torch.tensor(w)).sum()
        s_loss = s_loss + (s * shendu.tensor(w)).sum()
    t_loss.backward()
    s_loss.backward()
    for k, (t, s) in enumerate(zip(t_leaves, s_leaves)):
        compare(s.grad, t.grad, what=f"grad of input {k}")
    if tm is not None:
        sp = dict(sm.named_parameters())
        for name, p in tm.named_parameters():
            compare(sp[name].grad, p.grad, what=f"grad of {name}")
