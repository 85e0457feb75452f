"""seq2seq with attention (seed 004 "seq2seq attention机制"): translate dates as people
write them into ISO 8601, character by character.

    "Tuesday, March 3, 1994"  "3 mar 1994"  "3/3/94"  "03.03.1994"   →   "1994-03-03"

Encoder: character embeddings → bidirectional GRU (or LSTM) over the packed source.
Decoder (Luong et al. 2015): a GRU over the target characters; at every step its state
attends over the encoder states (``LuongAttention`` "general", or Bahdanau's additive
score), and ``tanh(W [h; context])`` predicts the next character. Trained with teacher
forcing (the ground-truth previous character is the decoder's input; a ratio below 1
feeds back the model's own prediction that often instead), cross-entropy, Adam and
gradient clipping. Decoding is greedy or by beam search. Held-out dates (one in ten,
never seen in training) measure exact-match accuracy; ``plot_attention`` draws the
attention weights (output character × input character), which learn to look at the
day, month and year where they are written.

    python -m shendu.examples.seq2seq                 # the full run (a few minutes)
    python -m shendu.examples.seq2seq --steps 300 --attention additive --cell LSTM

Recorded result of the full run (defaults, seed 0, 2 cores shared with other work):
see ``RESULT`` below.
"""
import argparse
import datetime
import string

import numpy as np

import shendu
from shendu import nn
from shendu.examples._loop import run_steps

RESULT = ("defaults (GRU, general attention, hidden 64, 2500 steps of batch 64 = 160k sampled "
          "training dates), seed 0: held-out exact match 100.00% greedy and 100.00% with beam 4 "
          "on 2000 dates never seen in training; loss 0.0035 after 500 steps, 0.0001 at the "
          "end; 78 s of training on 2 cores shared with other work (OPENBLAS_NUM_THREADS=1)")

# ---------------------------------------------------------------------- the task
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FIRST, LAST = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)

FORMATS = [
    lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {d.day:02d} {d.year}",
    lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",           # US, two-digit year
    lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",             # European
    lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    lambda d: f"the {d.day} of {MONTHS[d.month - 1]} {d.year}",
]
CASES = [str.lower, str.title, str.upper]

PAD, SOS, EOS = 0, 1, 2
SRC_VOCAB = ["<pad>"] + sorted(string.ascii_letters + string.digits + " ,./")
TGT_VOCAB = ["<pad>", "<sos>", "<eos>"] + list("0123456789-")
SRC_INDEX = {c: i for i, c in enumerate(SRC_VOCAB)}
TGT_INDEX = {c: i for i, c in enumerate(TGT_VOCAB)}


def is_held_out(d):
    """One date in ten (scattered over the whole range) is only ever used for testing."""
    return (d.toordinal() * 2654435761) % 10 == 0


def sample_dates(rng, n, held_out):
    days = (LAST - FIRST).days + 1
    out = []
    while len(out) < n:
        d = FIRST + datetime.timedelta(days=int(rng.integers(days)))
        if is_held_out(d) == held_out:
            out.append(d)
    return out


def render(d, rng):
    """The date in a random format and letter case."""
    return CASES[rng.integers(len(CASES))](FORMATS[rng.integers(len(FORMATS))](d))


def encode_batch(sources, targets=None):
    """Source strings → (N, S) int64 indices padded with 0 and their lengths; targets
    (ISO strings) → (N, 12) = <sos> 10 characters <eos>."""
    S = max(len(s) for s in sources)
    src = np.zeros((len(sources), S), dtype=np.int64)
    for i, s in enumerate(sources):
        src[i, :len(s)] = [SRC_INDEX[c] for c in s]
    lengths = np.array([len(s) for s in sources], dtype=np.int64)
    if targets is None:
        return src, lengths
    tgt = np.array([[SOS] + [TGT_INDEX[c] for c in t] + [EOS] for t in targets], dtype=np.int64)
    return src, lengths, tgt


def make_batch(rng, n, held_out=False):
    dates = sample_dates(rng, n, held_out)
    return encode_batch([render(d, rng) for d in dates], [d.isoformat() for d in dates])


def decode_target(tokens):
    out = []
    for t in tokens:
        if t == EOS:
            break
        if t > EOS:
            out.append(TGT_VOCAB[t])
    return "".join(out)


# ---------------------------------------------------------------------- the model
class Seq2Seq(nn.Seq2Seq):
    """Bidirectional RNN encoder, attentive RNN decoder (Luong's architecture) over the
    date vocabularies: ``nn.Seq2SeqEncoder`` + ``nn.AttentionDecoder`` in ``nn.Seq2Seq``,
    whose ``greedy_decode`` / ``beam_search`` generate (at most 12 characters here)."""

    def __init__(self, src_vocab=len(SRC_VOCAB), tgt_vocab=len(TGT_VOCAB), embed=32, hidden=64,
                 cell="GRU", attention="general"):
        enc = nn.Seq2SeqEncoder(src_vocab, embed, hidden, cell=cell, padding_idx=PAD)
        dec = nn.AttentionDecoder(tgt_vocab, embed, hidden, enc.memory_size, cell=cell,
                                  attention=attention)
        super().__init__(enc, dec, sos=SOS, eos=EOS, pad=PAD)

    def greedy_decode(self, src, lengths, max_len=12):
        return super().greedy_decode(src, lengths, max_len)

    def beam_search(self, src, lengths, beam=4, max_len=12):
        return super().beam_search(src, lengths, beam, max_len)


# ---------------------------------------------------------------------- training
def exact_match(model, sources, targets, beam=1, batch_size=500):
    """Fraction of sources whose decoded output equals the target exactly."""
    right = 0
    for i in range(0, len(sources), batch_size):
        src, lengths = encode_batch(sources[i:i + batch_size])
        args = (shendu.tensor(src), shendu.tensor(lengths))
        tokens = model.beam_search(*args, beam=beam)[0] if beam > 1 \
            else model.greedy_decode(*args)[0]
        right += sum(decode_target(t) == y for t, y in zip(tokens, targets[i:i + batch_size]))
    return right / len(sources)


def held_out_set(n=2000, seed=1234):
    rng = np.random.default_rng(seed)
    dates = sample_dates(rng, n, held_out=True)
    return [render(d, rng) for d in dates], [d.isoformat() for d in dates]


def train(steps=2500, batch_size=64, embed=32, hidden=64, cell="GRU", attention="general",
          lr=3e-3, clip=1.0, teacher_forcing=1.0, seed=0, eval_size=2000, log_every=250,
          beam=4, verbose=True):
    """Train on freshly sampled training dates; returns a dict with the model, the loss
    history (per step), greedy and beam exact-match on held-out dates and seconds taken."""
    shendu.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Seq2Seq(embed=embed, hidden=hidden, cell=cell, attention=attention)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)

    def loss_of_step(step):
        src, lengths, tgt = (shendu.tensor(a) for a in make_batch(rng, batch_size))
        logits = model(src, lengths, tgt[:, :-1], teacher_forcing, rng)
        return loss_fn(logits.reshape(-1, len(TGT_VOCAB)), tgt[:, 1:].reshape(-1))
    history, train_s, _ = run_steps(model, loss_of_step, steps, lr, clip, lr_end_ratio=0.05,
                                 log_every=log_every, verbose=verbose)
    model.eval()
    sources, targets = held_out_set(eval_size)
    greedy = exact_match(model, sources, targets)
    beam_acc = exact_match(model, sources, targets, beam=beam) if beam > 1 else None
    if verbose:
        print(f"held-out exact match: greedy {greedy:.4f}"
              + (f", beam {beam} {beam_acc:.4f}" if beam_acc is not None else "")
              + f"  (training {train_s:.0f}s)")
    return {"model": model, "history": history, "greedy": greedy, "beam": beam_acc,
            "seconds": train_s}


def plot_attention(model, sources, path):
    """Heat maps of the attention weights (output character × input character)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    src, lengths = encode_batch(sources)
    tokens, weights = model.greedy_decode(shendu.tensor(src), shendu.tensor(lengths))
    fig, axes = plt.subplots(len(sources), 1, figsize=(9, 3.1 * len(sources)))
    for ax, s, toks, w in zip(np.atleast_1d(axes), sources, tokens, weights):
        out = decode_target(toks)
        ax.imshow(w[:len(out) + 1, :len(s)], cmap="viridis", aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(len(s)), list(s))
        ax.set_yticks(range(len(out) + 1), list(out) + ["<eos>"])
        ax.set_title(f"{s!r} → {out}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description="seq2seq with attention: date translation")
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--cell", choices=["GRU", "LSTM"], default="GRU")
    ap.add_argument("--attention", choices=["general", "additive"], default="general")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--teacher-forcing", type=float, default=1.0)
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default="seq2seq_attention.png")
    args = ap.parse_args(argv)
    res = train(steps=args.steps, batch_size=args.batch_size, embed=args.embed,
                hidden=args.hidden, cell=args.cell, attention=args.attention, lr=args.lr,
                clip=args.clip, teacher_forcing=args.teacher_forcing, seed=args.seed,
                beam=args.beam)
    examples = ["Tuesday, March 3, 1994", "3/3/94", "the 17 of september 2031", "SAT 1 JAN 2000"]
    src, lengths = encode_batch(examples)
    tokens, _ = res["model"].beam_search(shendu.tensor(src), shendu.tensor(lengths),
                                         beam=args.beam)
    for s, t in zip(examples, tokens):
        print(f"{s!r:>28} → {decode_target(t)}")
    if args.plot:
        print("attention heat map:", plot_attention(res["model"], examples, args.plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
