"""A character-level language model (LSTM) trained on a small text that ships with
shendu (``examples/data/fables.txt``: twenty-nine short fables written for this project
and dedicated to the public domain, CC0 1.0, 23 KB).

The model reads one character at a time and predicts the next: embedding → LSTM
(2 layers, dropout between them) → Linear to the vocabulary. The text is cut into B
parallel streams; each training step runs ``bptt`` characters of every stream and the
LSTM state is carried on to the next step but *detached* (truncated backpropagation
through time, seed 004: the gradient of a step reaches at most ``bptt`` characters back,
which bounds memory and time; ``--no-carry`` starts every chunk from a zero state
instead). Gradients are clipped by norm. The last tenth of the text is held out; the
perplexity exp(mean cross-entropy per character) is measured on it during training, the
weights with the best one are kept (early stopping: on so small a text the model soon
starts to memorise), and text is sampled from the model.

    python -m shendu.examples.char_lm
    python -m shendu.examples.char_lm --steps 200 --bptt 32 --temperature 0.6

Recorded result of the full run: see ``RESULT`` below.
"""
import argparse
import math
import os

import numpy as np

import shendu
from shendu import nn
from shendu.examples._loop import run_steps

RESULT = ("defaults (2-layer LSTM 256, bptt 64, batch 32, 300 steps), seed 0: validation "
          "perplexity 5.28 per character (untrained 64.4; 3.45 on as many training "
          "characters); 72 s of training on 2 cores shared with other work "
          "(OPENBLAS_NUM_THREADS=1). Sample at temperature 0.7: 'The fox the trougs as the "
          "head and where the wood morrep to the nood a millor stound you litter.'")

TEXT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fables.txt")


def load_text(path=TEXT_PATH, valid_fraction=0.1):
    """(train ids, valid ids, vocabulary) of the text; the last part is the validation set."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    n = int(len(ids) * (1 - valid_fraction))
    return ids[:n], ids[n:], vocab


def batchify(ids, batch_size):
    """(steps, batch_size): the text cut into batch_size parallel streams, one per column."""
    n = len(ids) // batch_size
    return ids[:n * batch_size].reshape(batch_size, n).T.copy()


class CharLM(nn.Module):
    def __init__(self, vocab_size, embed=32, hidden=256, num_layers=2, dropout=0.2):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=num_layers,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, x, state=None):
        """x (T, B) character ids → logits (T, B, V) and the final (h, c)."""
        h, state = self.lstm(self.embed(x), state)
        return self.out(self.drop(h)), state


def detach_state(state):
    """Cut the graph behind the carried state: truncated BPTT."""
    return None if state is None else tuple(s.detach() for s in state)


@shendu.no_grad()
def perplexity(model, ids, chunk=128):
    """exp(mean cross-entropy per character) over ``ids`` read as one stream."""
    model.eval()
    x = shendu.tensor(ids.reshape(-1, 1))
    state, total, count = None, 0.0, 0
    for i in range(0, len(ids) - 1, chunk):
        inp, tgt = x[i:i + chunk], x[i + 1:i + 1 + chunk]
        inp = inp[:tgt.shape[0]]
        logits, state = model(inp, state)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                           tgt.reshape(-1), reduction="sum")
        total += loss.item()
        count += tgt.shape[0]
    model.train()
    return math.exp(total / count)


@shendu.no_grad()
def sample(model, vocab, prompt="The ", length=400, temperature=0.8, seed=0):
    """Continue ``prompt`` by drawing each next character from softmax(logits / T)."""
    model.eval()
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(vocab)}
    out = list(prompt)
    logits, state = model(shendu.tensor([[index[c]] for c in prompt]))
    for _ in range(length):
        p = nn.functional.softmax(logits[-1, 0] / temperature, -1).numpy().astype(np.float64)
        c = int(rng.choice(len(vocab), p=p / p.sum()))
        out.append(vocab[c])
        logits, state = model(shendu.tensor([[c]]), state)
    model.train()
    return "".join(out)


def train(steps=300, batch_size=32, bptt=64, embed=32, hidden=256, num_layers=2, dropout=0.3,
          lr=3e-3, clip=1.0, carry=True, seed=0, log_every=50, validate_every=25,
          path=TEXT_PATH, verbose=True):
    """Train with truncated BPTT, keeping the weights with the best validation perplexity
    (checked every ``validate_every`` steps); returns the model, vocabulary, loss
    history, validation perplexities, the final one (and before training) and seconds."""
    shendu.manual_seed(seed)
    train_ids, valid_ids, vocab = load_text(path)
    data = shendu.tensor(batchify(train_ids, batch_size))
    model = CharLM(len(vocab), embed, hidden, num_layers, dropout)
    loss_fn = nn.CrossEntropyLoss()
    ppl_start = perplexity(model, valid_ids)
    carried = {"state": None, "pos": 0}

    def loss_of_step(step):
        pos, state = carried["pos"], carried["state"]
        if pos + bptt + 1 > data.shape[0]:      # an epoch is over: back to the start
            pos, state = 0, None
        x, y = data[pos:pos + bptt], data[pos + 1:pos + 1 + bptt]
        logits, state = model(x, detach_state(state) if carry else None)
        carried.update(pos=pos + bptt, state=state)
        return loss_fn(logits.reshape(-1, len(vocab)), y.reshape(-1))
    history, seconds, curve = run_steps(model, loss_of_step, steps, lr, clip,
                                        log_every=log_every, verbose=verbose, digits=3,
                                        validate=lambda: perplexity(model, valid_ids),
                                        validate_every=validate_every)
    ppl = perplexity(model, valid_ids)
    train_ppl = perplexity(model, train_ids[-len(valid_ids):])
    if verbose:
        print(f"validation perplexity {ppl:.2f} per character (untrained {ppl_start:.2f}; "
              f"on the last {len(valid_ids)} training characters {train_ppl:.2f}); "
              f"training {seconds:.0f}s")
    return {"model": model, "vocab": vocab, "history": history, "curve": curve,
            "perplexity": ppl,
            "perplexity_start": ppl_start, "train_perplexity": train_ppl, "seconds": seconds}


def main(argv=None):
    ap = argparse.ArgumentParser(description="character-level LSTM language model")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=64, help="truncated BPTT length")
    ap.add_argument("--no-carry", action="store_true", help="reset the state every chunk")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--prompt", default="The fox ")
    args = ap.parse_args(argv)
    res = train(steps=args.steps, batch_size=args.batch_size, bptt=args.bptt,
                hidden=args.hidden, num_layers=args.layers, dropout=args.dropout, lr=args.lr,
                clip=args.clip, carry=not args.no_carry, seed=args.seed)
    print("\n--- sampled text ---")
    print(sample(res["model"], res["vocab"], args.prompt, temperature=args.temperature))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
