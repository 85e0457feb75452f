"""shendu.utils.hooks.RemovableHandle, the one handle every register_*hook returns (as
torch.utils.hooks.RemovableHandle)."""
import gc
from collections import OrderedDict

import shendu
from shendu.utils.hooks import RemovableHandle, add_hook


def test_handle_removes_its_hook_once_and_as_a_context_manager():
    table = OrderedDict()
    h1, h2 = add_hook(table, "a"), add_hook(table, "b", prepend=True)
    assert list(table.values()) == ["b", "a"] and h1.id != h2.id
    h1.remove()
    h1.remove()                                  # a second remove is harmless
    assert list(table.values()) == ["b"]
    with h2:
        assert list(table.values()) == ["b"]
    assert not table


def test_handle_does_not_keep_the_table_alive_and_removes_extra_dicts():
    table, extra = OrderedDict(), OrderedDict()
    h = RemovableHandle(table, extra_dict=extra)
    table[h.id] = extra[h.id] = "hook"
    h.remove()
    assert not table and not extra
    h = add_hook(table, "x")
    del table
    gc.collect()
    h.remove()                                   # the table is gone: nothing to do


def test_every_registration_returns_the_shared_handle():
    x = shendu.ones(2, requires_grad=True)
    m = shendu.nn.Linear(2, 2)
    opt = shendu.optim.SGD(m.parameters(), lr=0.1)
    handles = [x.register_hook(lambda g: g * 2), (x * 1).grad_fn.register_hook(lambda *a: None),
               m.register_forward_hook(lambda *a: None), opt.register_step_pre_hook(lambda *a: None),
               x.register_post_accumulate_grad_hook(lambda t: None)]
    assert all(type(h) is RemovableHandle for h in handles)
    (x * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    handles[0].remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
