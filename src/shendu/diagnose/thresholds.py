"""The thresholds behind each finding, and the notes' reasoning for each.

Every threshold is a field of :class:`Thresholds`; ``shendu.diagnose.run(...,
thresholds=Thresholds(vanishing_gradient=1e-4))`` changes one. The measured quantities
are ratios, so they do not depend on the batch size, the loss's reduction or the
data's scale.

``vanishing_gradient`` = 1e-3 and ``exploding_gradient`` = 1e3
    The measure is a layer's *backward signal*: the L2 norm (per example) of the gradient
    of the loss with respect to the layer's output, divided by the same at the output
    layer (the last judged layer, next to the loss). The norm, not the per-element RMS:
    with Kaiming (fan-in) initialisation and ReLU the norm is what passes unchanged from
    layer to layer whatever their widths, and max-pooling or flattening keep it, so
    layers of different sizes compare fairly. Seed 002 §3.1.5 (1): "looking from the back
    through the hidden layers to the front, the gradient becomes smaller and smaller,
    so the front layers learn much more slowly than the back ones" — this ratio is how
    much more slowly, with one learning rate for all layers (it is the gradient of the
    layer's bias for a dense layer, the measure of Nielsen's figure the notes reproduce). Seed 001 (8):
    sigmoid/tanh derivatives near zero multiplied over layers make it vanish; (9) ReLU's
    derivative of one with a bad initialisation makes it "very large, possibly beyond
    what the computer can represent"; 002 §3.1.5 (2): it accumulates over layers and
    gives large, unstable updates and finally NaN. Three decades is far beyond the
    factor of a few that pooling, fan-in/fan-out differences or a healthy network's
    depth produce, so a finding is a real fault, not a nuance.

``activation_collapse`` = 1e-2 and ``activation_explosion`` = 1e2
    A layer's output standard deviation divided by the input's. Seed 002 §3.8.4:
    scaling each neuron's weights by 1/sqrt(n) "normalises the variance of every
    neuron's output to 1" so that all layers start with about the same distribution;
    §3.6 (internal covariate shift): "the lower layers' outputs may drift larger or
    smaller, pushing the upper layers into saturation and stopping learning early";
    001 (10) b, c: Xavier/Kaiming initialisation and normalisation are the cures. A
    healthy initialisation keeps the ratio within a factor of a few over any depth; two
    decades means the initialisation multiplies (or divides) the signal at every
    layer. A layer followed by a normalisation layer is judged at the normalisation's
    output, since its own scale is removed there.

``dead_units`` = 0.5
    The fraction of a ReLU's units (features, or channels) that output zero for every
    example of every recorded batch. Seed 002 §3.4.6 (3): "when ReLU enters the negative
    half, its gradient is 0 and the neuron no longer trains" — a unit that never fires
    never receives a gradient, so it never comes back; §3.4.5 (6): "if you meet dead
    neurons, use Leaky ReLU". A few dead units are normal; when half the layer is dead,
    the layer has lost most of its capacity.

``saturated`` = 0.5, with ``saturation_derivative`` = 0.05
    A Sigmoid/Tanh output is saturated where the activation's derivative is below 5 % of
    its peak (sigmoid: y < 0.013 or y > 0.987; tanh: |y| > 0.975). Seed 002 §3.6.2 (4):
    "when the activation is near 0 or 1 the neuron saturates; there the gradient is
    almost 0 ... which effectively kills the gradient"; §3.4.6 (2): "the derivatives of
    sigmoid and tanh in the saturated regions are close to 0, which makes the gradient
    vanish". When half the outputs are saturated, half the layer passes back (almost)
    no gradient.

``update_ratio_high`` = 1e-1 and ``update_ratio_low`` = 1e-5
    ``||ΔW|| / ||W||`` of one optimizer step. Seed 001: the learning rate is gradient
    descent's "step size"; (9) "a learning rate that is not small enough gives ever
    larger gradients, one that is too small makes no progress". The usual rule of thumb
    (CS231n) puts a healthy step near 1e-3 of the weights; a step of a tenth of the
    weights rewrites the layer within ten steps (the loss oscillates or diverges), and a
    step of 1e-5 needs a hundred thousand steps to change it appreciably. (Adam moves
    each weight by about lr in its first steps, so a wide layer at lr=1e-3 starts near
    1e-2: inside the band.)

``nan`` = 0
    Any NaN or infinity in a layer's output or its gradient (seed 002 §3.1.5 (2): "in the
    extreme case the weights overflow and become NaN and can no longer be updated"). The
    finding names the first layer, in forward order, whose output is not finite.
"""
from dataclasses import dataclass, fields

__all__ = ["Thresholds", "DEFAULT"]


@dataclass(frozen=True)
class Thresholds:
    """The named thresholds of every finding (see the module docstring for the reasons)."""
    vanishing_gradient: float = 1e-3
    exploding_gradient: float = 1e3
    activation_collapse: float = 1e-2
    activation_explosion: float = 1e2
    dead_units: float = 0.5
    saturated: float = 0.5
    saturation_derivative: float = 0.05
    update_ratio_high: float = 1e-1
    update_ratio_low: float = 1e-5
    nan: float = 0.0

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"Thresholds.{f.name} must be a non-negative number, got {v!r}")
        if self.vanishing_gradient >= self.exploding_gradient:
            raise ValueError("Thresholds: vanishing_gradient must be below exploding_gradient")
        if self.activation_collapse >= self.activation_explosion:
            raise ValueError("Thresholds: activation_collapse must be below "
                             "activation_explosion")
        if self.update_ratio_low >= self.update_ratio_high:
            raise ValueError("Thresholds: update_ratio_low must be below update_ratio_high")


DEFAULT = Thresholds()
