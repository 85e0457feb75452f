"""Learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural
Networks", 2017): train for a few steps while the learning rate grows geometrically from
``start`` to ``end``, and read the learning rate off the loss curve.

Seed 001 calls the learning rate gradient descent's step size and warns both ways: too
large and the loss grows, too small and training makes no progress. The range test shows
both ends on one curve: flat on the left (too small), falling in the middle, exploding
on the right (too large). The suggestion is the learning rate where the smoothed loss
falls fastest (the steepest negative slope against log lr); the lr at the minimum
divided by 10 is reported beside it.
"""
import copy
import math

import numpy as np

from ..autograd import grad_mode
from ..train.loop import _split_batch, _call

__all__ = ["lr_find", "LRFinderResult"]


class LRFinderResult:
    """``lrs`` and ``losses`` (raw and exponentially ``smoothed``) per step;
    ``suggestion``: the suggested lr; ``reason``: how it was chosen; ``min_lr``: the lr
    at the lowest smoothed loss; ``plot(path)``: loss against lr (log axis)."""

    def __init__(self, lrs, losses, smoothed, suggestion, reason, min_lr, stopped):
        self.lrs, self.losses, self.smoothed = lrs, losses, smoothed
        self.suggestion, self.reason, self.min_lr = suggestion, reason, min_lr
        self.stopped = stopped

    def __str__(self):
        return f"suggested lr {self.suggestion:.3g}: {self.reason}"

    __repr__ = __str__

    def plot(self, path=None):
        from .plots import pyplot, finish
        plt = pyplot("LRFinderResult.plot")
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.semilogx(self.lrs, self.losses, alpha=0.3, label="loss")
        ax.semilogx(self.lrs, self.smoothed, label="smoothed loss")
        if self.suggestion is not None:
            ax.axvline(self.suggestion, color="red", ls="--",
                       label=f"suggested {self.suggestion:.2g}")
        if self.min_lr is not None:
            ax.axvline(self.min_lr, color="gray", ls=":", label=f"minimum {self.min_lr:.2g}")
        finite = [v for v in self.smoothed if math.isfinite(v)]
        if finite:
            lo = min(finite)
            ax.set_ylim(lo - 0.05 * abs(lo), min(max(finite), 4 * abs(finite[0])) * 1.05)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("learning-rate range test")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        return finish(fig, path)


def _batches(loader):
    while True:
        got = False
        for b in loader:
            got = True
            yield b
        if not got:
            raise ValueError("lr_find: the loader gave no batch")


def lr_find(model, loader, loss_fn, optimizer_cls, start=1e-7, end=10, num_steps=100,
            smooth=0.9, diverge=4.0, optimizer_kwargs=None, plot=None):
    """Smith's range test. ``optimizer_cls``: an optimizer class (built on
    ``model.parameters()`` with ``optimizer_kwargs``), or an optimizer already built on the
    model. The lr grows geometrically over ``num_steps`` steps (the loader is cycled);
    the test stops early once the smoothed loss exceeds ``diverge`` × its minimum.
    Afterwards the model's parameters and buffers, its train/eval mode, and a given
    optimizer's state and learning rates are put back. Returns an
    :class:`LRFinderResult`; ``plot``: a path for the loss-vs-lr picture."""
    if not 0 < start < end:
        raise ValueError(f"lr_find: need 0 < start < end, got start={start}, end={end}")
    if num_steps < 2:
        raise ValueError(f"lr_find: num_steps must be at least 2, got {num_steps}")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [(p, p.grad) for p in model.parameters()]
    was_training = model.training
    if isinstance(optimizer_cls, type) or not hasattr(optimizer_cls, "param_groups"):
        opt = optimizer_cls(model.parameters(), lr=start, **(optimizer_kwargs or {}))
        opt_state = None
    else:
        opt = optimizer_cls
        opt_state = copy.deepcopy(opt.state_dict())      # its buffers are live: copy them
    factor = (end / start) ** (1 / (num_steps - 1))
    lrs, losses, smoothed = [], [], []
    avg, best, stopped = 0.0, math.inf, None
    model.train()
    try:
        with grad_mode.enable_grad():
            for i, batch in zip(range(num_steps), _batches(loader)):
                lr = start * factor ** i
                for g in opt.param_groups:
                    g["lr"] = lr
                x, y = _split_batch(batch)
                opt.zero_grad()
                out = _call(model, x)
                loss = loss_fn(out, y) if y is not None else loss_fn(out)
                v = loss.item()
                lrs.append(lr)
                losses.append(v)
                if not math.isfinite(v):
                    smoothed.append(math.inf)
                    stopped = f"the loss became {v} at lr {lr:.3g}"
                    break
                avg = smooth * avg + (1 - smooth) * v
                s = avg / (1 - smooth ** (i + 1))
                smoothed.append(s)
                best = min(best, s)
                if i > 0 and s > diverge * best:
                    stopped = (f"the smoothed loss reached {s:.4g}, {diverge:g}× its minimum, "
                               f"at lr {lr:.3g}")
                    break
                loss.backward()
                opt.step()
    finally:
        model.load_state_dict(state)
        model.train(was_training)
        for p, g in grads:
            p.grad = g
        if opt_state is not None:
            opt.load_state_dict(opt_state)
    suggestion, reason, min_lr = _suggest(lrs, smoothed)
    res = LRFinderResult(lrs, losses, smoothed, suggestion, reason, min_lr, stopped)
    if plot is not None:
        res.plot(plot)
    return res


def _suggest(lrs, smoothed):
    """The lr of the steepest fall of the smoothed loss against log lr, skipping the first
    tenth of the steps (the smoothing's warm-up) and everything after the minimum."""
    s = np.array([v if math.isfinite(v) else np.nan for v in smoothed], dtype=np.float64)
    ok = np.isfinite(s)
    if ok.sum() < 3:
        return None, "too few finite losses to read a slope (lower `start`)", None
    i_min = int(np.nanargmin(s))
    min_lr = lrs[i_min]
    lo = max(1, len(s) // 10)
    if i_min - lo < 2:
        return (min_lr / 10, f"the loss was lowest at lr {min_lr:.3g} right at the start of "
                f"the range; a tenth of it (lower `start` to see the flat part)", min_lr)
    slope = np.gradient(s[:i_min + 1], np.log(lrs[:i_min + 1]))
    j = lo + int(np.nanargmin(slope[lo:i_min + 1]))
    return (lrs[j], f"the smoothed loss falls fastest at lr {lrs[j]:.3g} (slope "
            f"{slope[j]:.3g} per e-fold of lr); it is lowest at lr {min_lr:.3g}, a tenth of "
            f"which is {min_lr / 10:.3g}", min_lr)
