"""The training loop the recurrent examples share: Adam with a cosine learning-rate
decay, gradient clipping by norm, a loss history and a progress line."""
import time

import numpy as np

import shendu
from shendu import nn


def run_steps(model, loss_of_step, steps, lr, clip, lr_end_ratio=0.1, log_every=50,
              verbose=True, digits=4, validate=None, validate_every=50):
    """Call ``loss_of_step(step)`` for step = 1..steps and take an optimiser step on each
    loss; returns (loss history, seconds, validation scores). With ``validate`` (a
    function of no argument returning a score, lower is better) the score is taken every
    ``validate_every`` steps and at the end, as (step, score), and the model is left with
    the weights of the best one (early stopping)."""
    opt = shendu.optim.Adam(model.parameters(), lr=lr)
    sched = shendu.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps,
                                                        eta_min=lr * lr_end_ratio)
    history, scores, best = [], [], (float("inf"), None)
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        loss = loss_of_step(step)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        history.append(loss.item())
        if verbose and (step % log_every == 0 or step == 1):
            print(f"step {step:5d}  loss {np.mean(history[-log_every:]):.{digits}f}  "
                  f"{time.perf_counter() - t0:6.1f}s", flush=True)
        if validate is not None and (step % validate_every == 0 or step == steps):
            score = validate()
            scores.append((step, score))
            if score < best[0]:
                best = (score, {k: v.clone() for k, v in model.state_dict().items()})
            if verbose:
                print(f"step {step:5d}  validation {score:.3f}", flush=True)
    if best[1] is not None:
        model.load_state_dict(best[1])
    return history, time.perf_counter() - t0, scores
