"""Looking inside a model: feature maps, activation histograms, saliency and Grad-CAM."""
import numpy as np

from .._tensor import Tensor
from ._plot import pyplot

__all__ = ["first_conv", "feature_maps", "activation_histograms", "plot_histograms", "saliency",
           "grad_cam"]


def first_conv(model):
    """(name, module) of the model's first Conv2d, in registration order."""
    from ..nn import Conv2d
    for name, m in model.named_modules():
        if isinstance(m, Conv2d):
            return name, m
    raise ValueError(f"{type(model).__name__} has no Conv2d layer")


def _layer(model, name):
    try:
        return model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        raise ValueError(f"{type(model).__name__} has no layer {name!r}; its layers: "
                         f"{', '.join(names[:30])}{' …' if len(names) > 30 else ''}") from None


class _eval_mode:
    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was = self.model.training
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.was)


def _capture(model, names, x, grad=False):
    """Run the model on x, returning its output and {name: output of that layer}."""
    import shendu
    seen = {}
    hooks = [_layer(model, n).register_forward_hook(
        lambda m, i, o, n=n: seen.__setitem__(n, o)) for n in names]
    try:
        with _eval_mode(model), shendu.set_grad_enabled(grad):
            out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return out, seen


def feature_maps(model, layer, input, path=None, nrow=8):
    """The output of the layer named ``layer`` (a dotted name from ``named_modules``) for one
    input (C, H, W) or (1, C, H, W): a Tensor (channels, h, w). With ``path`` its channels are
    saved as a grid PNG, each scaled to its own range."""
    from .grid import save_image
    x = input if input.dim() == 4 else input.unsqueeze(0)
    if x.shape[0] != 1:
        raise ValueError(f"feature_maps: expected one input, (C, H, W) or (1, C, H, W), got "
                         f"{tuple(input.shape)}")
    _, seen = _capture(model, [layer], x)
    fm = seen[layer][0]
    if path is not None:
        if fm.dim() != 3:
            raise ValueError(f"feature_maps: layer {layer!r} gives shape {tuple(fm.shape)}, "
                             f"not maps (channels, h, w); cannot draw it")
        save_image(fm.unsqueeze(1), path, nrow=nrow, normalize=True, scale_each=True,
                   pad_value=1.0)
    return fm


def activation_histograms(model, input, layers=None, bins=50):
    """{layer name: (counts, bin edges)} of the outputs of ``layers`` (default: every module
    with no children) on a batch of inputs — the per-layer view of seed 002 §3.8's saturated
    or dead units."""
    if layers is None:
        layers = [n for n, m in model.named_modules() if n and not list(m.children())]
    _, seen = _capture(model, layers, input)
    return {n: np.histogram(seen[n].detach().numpy().ravel(), bins=bins)
            for n in layers if isinstance(seen.get(n), Tensor)}


def plot_histograms(hists, path, cols=4):
    """One small histogram per layer, saved as PNG."""
    plt = pyplot("plot_histograms")
    n = max(len(hists), 1)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, min(cols, n), figsize=(3 * min(cols, n), 2.2 * rows),
                             squeeze=False)
    for ax, (name, (counts, edges)) in zip(axes.ravel(), hists.items()):
        ax.stairs(counts, edges, fill=True)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(hists):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _class_score(out, target):
    import shendu
    if target is None:
        target = out.detach().argmax(1)
    elif isinstance(target, int):
        target = shendu.full((out.shape[0],), target, dtype=shendu.int64)
    return out.gather(1, target.reshape(-1, 1)).sum(), target


def saliency(model, input, target=None):
    """|∂ score_target / ∂ input|, maximised over channels: (N, H, W) for inputs (N, C, H, W).
    ``target``: class indices (N,), one int for all, or None (the predicted class)."""
    import shendu
    x = input.detach().clone().requires_grad_(True)
    with _eval_mode(model):
        score, _ = _class_score(model(x), target)
        g, = shendu.autograd.grad(score, [x])
    return g.abs().amax(1)


def grad_cam(model, input, layer, target=None):
    """Grad-CAM: ReLU(Σ_k α_k A_k) with A the output (N, K, h, w) of the named conv ``layer``
    and α_k the spatial mean of ∂ score_target / ∂ A_k; upsampled bilinearly to the input's
    size and scaled to [0, 1] per image → (N, H, W)."""
    import shendu
    from ..nn import functional as F
    out, seen = _capture(model, [layer], input, grad=True)
    A = seen[layer]
    if not isinstance(A, Tensor) or A.dim() != 4:
        raise ValueError(f"grad_cam: layer {layer!r} must output maps (N, K, h, w), got "
                         f"{tuple(A.shape) if isinstance(A, Tensor) else type(A).__name__}")
    score, _ = _class_score(out, target)
    g, = shendu.autograd.grad(score, [A])
    with shendu.no_grad():
        cam = F.relu((g.mean((2, 3), keepdim=True) * A).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=tuple(input.shape[2:]), mode="bilinear",
                            align_corners=False)[:, 0]
        hi = cam.amax((1, 2), keepdim=True)
        return cam / shendu.where(hi > 0, hi, shendu.ones_like(hi))
