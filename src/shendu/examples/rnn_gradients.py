"""Why RNN gradients vanish (seed 004 "RNN梯度消失原因"), measured.

The notes' argument: unrolled, a recurrent net is h_T = f(...f(f(h_0 W) W)...W) with the
*same* W at every step, so ∂h_T/∂h_t is a product of T - t factors W^T diag(f'); with W
"a little too small" the product vanishes geometrically, "a little too large" it
explodes. The LSTM's cell state c_t = f * c_{t-1} + i * g passes the gradient through
the forget gate f instead (no W, no squashing), so it decays only as fast as f is
below 1.

The experiment: at initialisation (torch's U(±1/sqrt(H))), a loss on the last output
L = Σ h_T; the norm of ∂L/∂x_t for every step t, averaged over a few random networks:

* panel 1 — ||∂L/∂x_t|| against the distance T - t for a vanilla RNN (tanh), an LSTM,
  an LSTM with forget-gate bias 1 (Jozefowicz et al. 2015) and a GRU (T = 100);
* panel 2 — the ratio ||∂L/∂x_1|| / ||∂L/∂x_T|| against the sequence length T;
* panel 3 — the vanilla RNN with W_hh scaled by 0.5 … 4: vanishing turns into
  exploding as the spectral radius of W_hh passes 1.

    python -m shendu.examples.rnn_gradients          # prints the table, writes the PNG
"""
import argparse

import numpy as np

import shendu
from shendu import nn

KINDS = {"RNN (tanh)": ("RNN", None), "LSTM": ("LSTM", None),
         "LSTM, forget bias 1": ("LSTM", 1.0), "GRU": ("GRU", None)}


def input_gradient_norms(kind="RNN", T=50, input_size=16, hidden=64, batch=16, seeds=3,
                         forget_bias=None, hh_scale=1.0, first_seed=0):
    """||∂L/∂x_t|| for t = 1..T (an array of T), L = sum of the last step's output, for a
    freshly initialised 1-layer ``kind`` ("RNN", "LSTM", "GRU"), averaged over ``seeds``
    networks and inputs (seeds ``first_seed`` .. ``first_seed + seeds - 1``).
    ``forget_bias`` sets the LSTM forget-gate bias (b_ih; b_hh = 0), ``hh_scale`` multiplies
    W_hh."""
    out = np.zeros(T)
    for seed in range(first_seed, first_seed + seeds):
        shendu.manual_seed(seed)
        m = getattr(nn, kind)(input_size, hidden).double()
        with shendu.no_grad():
            m.weight_hh_l0.mul_(hh_scale)
            if forget_bias is not None:
                m.bias_ih_l0[hidden:2 * hidden] = forget_bias
                m.bias_hh_l0[hidden:2 * hidden] = 0.0
        x = shendu.randn(T, batch, input_size, dtype=shendu.float64, requires_grad=True)
        y, _ = m(x)
        y[-1].sum().backward()
        out += np.sqrt((x.grad.numpy() ** 2).sum((1, 2)))
    return out / seeds


def experiment(lengths=(10, 25, 50, 100), long=100, scales=(0.5, 1.0, 2.0, 4.0), seeds=3,
               path="rnn_gradients.png", verbose=True):
    """Run the three measurements, print a table and (with ``path``) draw the figure."""
    curves = {name: input_gradient_norms(kind, long, seeds=seeds, forget_bias=fb)
              for name, (kind, fb) in KINDS.items()}
    ratios = {name: [float(r[0] / r[-1]) for r in
                     (input_gradient_norms(kind, T, seeds=seeds, forget_bias=fb)
                      for T in lengths)]
              for name, (kind, fb) in KINDS.items()}
    scaled = {s: input_gradient_norms("RNN", long, seeds=seeds, hh_scale=s) for s in scales}
    if verbose:
        print("||dL/dx_1|| / ||dL/dx_T|| at initialisation (L on the last step):")
        print(f"{'':22s}" + "".join(f"{'T=' + str(T):>11s}" for T in lengths))
        for name, r in ratios.items():
            print(f"{name:22s}" + "".join(f"{v:11.2e}" for v in r))
        print(f"vanilla RNN, T={long}, W_hh scaled:  "
              + "  ".join(f"x{s:g}: {c[0] / c[-1]:.1e}" for s, c in scaled.items()))
    if path:
        _plot(curves, lengths, ratios, scaled, long, path)
    return {"curves": curves, "ratios": ratios, "scaled": scaled, "lengths": list(lengths)}


def _plot(curves, lengths, ratios, scaled, long, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.4))
    back = np.arange(long)[::-1]                      # steps from x_t to the loss
    for name, c in curves.items():
        ax[0].semilogy(back, c, label=name)
    ax[0].set(xlabel="T - t (steps between x_t and the loss)", ylabel="||∂L/∂x_t||",
              title=f"gradient reaching step t (T = {long}, at init)")
    for name, r in ratios.items():
        ax[1].semilogy(lengths, r, "o-", label=name)
    ax[1].set(xlabel="sequence length T", ylabel="||∂L/∂x_1|| / ||∂L/∂x_T||",
              title="first step vs last step")
    for s, c in scaled.items():
        ax[2].semilogy(back, c, label=f"W_hh × {s:g}")
    ax[2].set(xlabel="T - t", ylabel="||∂L/∂x_t||",
              title="vanilla RNN: vanishing or exploding (W^T repeated)")
    for a in ax:
        a.grid(True, which="major", alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description="gradient norms through time: RNN vs LSTM")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--plot", default="rnn_gradients.png")
    args = ap.parse_args(argv)
    experiment(seeds=args.seeds, path=args.plot)
    print("figure:", args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
