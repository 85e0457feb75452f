"""The training run the kill drills start, kill with SIGKILL and resume (run as a script).

    python kill_target.py OUT EPOCHS

Trains a small MLP with dropout on fixed random data: a mid-epoch checkpoint after every
batch (``Trainer.save_checkpoint`` from a batch callback), the epoch checkpoint and best
weights (``ModelCheckpoint``) and ``history.csv`` (``CSVLogger``). It resumes from OUT's
checkpoint when there is one, appends ``step loss`` (the loss as float.hex) to
``losses.txt`` after every batch, and prints ``done`` at the end. The model is large enough
(~0.6M parameters, with momentum ~5 MB a checkpoint) that saves take a good share of the
time, so random kills land inside them too.
"""
import os
import sys

import numpy as np


def main(out, epochs):
    import shendu
    from shendu import nn, optim
    from shendu.train import CSVLogger, LambdaCallback, ModelCheckpoint, Trainer
    from shendu.utils.data import DataLoader, TensorDataset

    shendu.set_num_threads(1)
    ckpt = os.path.join(out, "checkpoint.safetensors")
    step_ckpt = os.path.join(out, "step.safetensors")
    shendu.manual_seed(0)
    rng = np.random.default_rng(0)
    X = shendu.tensor(rng.standard_normal((96, 64)).astype(np.float32))
    y = shendu.tensor(rng.integers(0, 10, 96))
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 256),
                          nn.ReLU(), nn.Linear(256, 10))
    opt = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    log = open(os.path.join(out, "losses.txt"), "a")

    def after_batch(tr, step, logs):
        log.write(f"{step} {float(logs['loss']).hex()}\n")
        log.flush()
        tr.save_checkpoint(step_ckpt)

    tr = Trainer(model, opt, progress=False, log=None,
                 callbacks=[LambdaCallback(on_batch_end=after_batch), CSVLogger(
                     os.path.join(out, "history.csv")), ModelCheckpoint(ckpt)])
    train = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True,
                       generator=shendu.Generator().manual_seed(1))
    val = DataLoader(TensorDataset(X[:32], y[:32]), batch_size=32)
    # the newer of the two checkpoints: a step's, or the epoch's (written after the step's)
    have = [p for p in (step_ckpt, ckpt) if os.path.exists(p)]
    resume = max(have, key=lambda p: (shendu.load(p)["step"], p == ckpt), default=None)
    tr.fit(train, val, epochs=epochs, resume=resume)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
