"""vanishing-rnn (seed 004, RNN梯度消失原因): in a plain RNN the gradient reaching a step t
steps back is a product of t factors W^T diag(f'), so it vanishes geometrically with the
distance; the LSTM's cell state passes it through the forget gate instead (no W, no
squashing), so it survives much longer; the GRU's update gate does the same.

At initialisation (torch's U(±1/sqrt(H))) and with a loss on the last output only,
L = Σ h_T, the norm ||∂L/∂x_t|| for every step t of a length-T sequence
(``shendu.examples.rnn_gradients.input_gradient_norms``, one network and input per seed).
The number is log10 of ||∂L/∂x_1|| / ||∂L/∂x_T||: the gradient T - 1 steps back relative
to the gradient at the last step (0 = no decay).
"""
import numpy as np

from ..examples.rnn_gradients import input_gradient_norms
from ._runner import Experiment
from ._verdict import Greater

KINDS = {"rnn": ("RNN", None), "lstm": ("LSTM", None), "lstm_forget1": ("LSTM", 1.0),
         "gru": ("GRU", None)}


def trial(seed, T, hidden, batch):
    res = {}
    for name, (kind, fb) in KINDS.items():
        c = input_gradient_norms(kind, T, hidden=hidden, batch=batch, seeds=1,
                                 forget_bias=fb, first_seed=seed)
        res[f"{name}_log10_ratio"] = float(np.log10(c[0] / c[-1]))
        res[f"curve_{name}"] = c / c[-1]
    return res


def plot(trials, fig):
    ax = fig.subplots()
    for name in KINDS:
        c = np.exp(np.mean([np.log(t[f"curve_{name}"]) for t in trials], axis=0))
        ax.semilogy(np.arange(len(c))[::-1], c, label=name)
    ax.set(xlabel="T - t (steps between x_t and the loss)",
           ylabel="||∂L/∂x_t|| / ||∂L/∂x_T|| (geometric mean over seeds)",
           title="gradient reaching an earlier step, at initialisation")
    ax.legend()
    ax.grid(alpha=0.3, which="both")


EXPERIMENT = Experiment(
    name="vanishing-rnn",
    claim="a plain RNN's gradient vanishes with the time distance; LSTM's and GRU's survive",
    source="seed 004 (RNN梯度消失原因, LSTM)",
    trial=trial,
    checks=[Greater("lstm_log10_ratio", "rnn_log10_ratio", "LSTM keeps more gradient than RNN"),
            Greater("gru_log10_ratio", "rnn_log10_ratio", "GRU keeps more gradient than RNN")],
    plot=plot,
    budgets={"full": dict(T=100, hidden=64, batch=16),
             "quick": dict(T=50, hidden=64, batch=16),
             "test": dict(T=12, hidden=8, batch=2)},
    figsize=(7, 4.5),
    notes="One-layer networks, input size 16, float64; one network and input per seed.")
