"""Grad mode is per thread, as torch's: ``no_grad`` in one thread does not switch off
autograd in another, and a new thread starts with grad mode on."""
import threading

import shendu


def test_no_grad_in_one_thread_leaves_autograd_on_in_another():
    inside, leave = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with shendu.no_grad():
            x = shendu.ones(3, requires_grad=True)
            seen["worker_records"] = (x * 2).requires_grad
            inside.set()
            leave.wait(10)
        seen["worker_after"] = shendu.is_grad_enabled()

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert inside.wait(10)
        assert shendu.is_grad_enabled()              # the main thread is untouched
        x = shendu.ones(3, requires_grad=True)
        y = (x * 3).sum()
        assert y.requires_grad and y.grad_fn is not None
        y.backward()
        assert x.grad.tolist() == [3.0, 3.0, 3.0]
    finally:
        leave.set()
        t.join(10)
    assert seen == {"worker_records": False, "worker_after": True}


def test_a_new_thread_starts_with_grad_mode_on():
    seen = []
    with shendu.no_grad():
        t = threading.Thread(target=lambda: seen.append(shendu.is_grad_enabled()))
        t.start()
        t.join(10)
        assert not shendu.is_grad_enabled()
    assert seen == [True]
