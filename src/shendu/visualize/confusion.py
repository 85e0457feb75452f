"""The confusion matrix of a classifier and the per-class precision, recall and F1 (seed 003).

Rows are the true classes, columns the predicted ones (scikit-learn's convention): entry
(i, j) counts the samples of class i predicted as j. For class c: precision = TP / (TP + FP)
(the column), recall = TP / (TP + FN) (the row), F1 = 2PR / (P + R); 0 where undefined.
"""
import numpy as np

from .._tensor import Tensor
from ._plot import pyplot

__all__ = ["confusion_matrix", "classification_report", "format_report", "plot_confusion_matrix"]


def _labels(x):
    a = x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim == 2:                                 # scores (N, C) → predicted class
        a = a.argmax(1)
    if a.ndim != 1:
        raise ValueError(f"expected class indices (N,) or scores (N, C), got shape {a.shape}")
    return a.astype(np.int64)


def confusion_matrix(pred, target, num_classes=None):
    """(C, C) int64 counts; ``pred`` class indices (N,) or scores (N, C), ``target`` (N,)."""
    p, t = _labels(pred), _labels(target)
    if p.shape != t.shape:
        raise ValueError(f"confusion_matrix: {p.shape[0]} predictions for {t.shape[0]} targets")
    C = num_classes or int(max(p.max(initial=-1), t.max(initial=-1)) + 1)
    if p.size and (min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= C):
        raise ValueError(f"confusion_matrix: labels must lie in [0, {C})")
    return np.bincount(t * C + p, minlength=C * C).reshape(C, C)


def classification_report(cm):
    """{'precision', 'recall', 'f1', 'support' (arrays per class), 'accuracy',
    'macro_f1'} from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    total = cm.sum()
    return {"precision": precision, "recall": recall, "f1": f1,
            "support": cm.sum(1).astype(np.int64),
            "accuracy": float(tp.sum() / total) if total else 0.0, "macro_f1": float(f1.mean())}


def format_report(cm, classes=None):
    """The confusion matrix and the per-class table as text."""
    cm = np.asarray(cm)
    rep = classification_report(cm)
    C = cm.shape[0]
    names = [str(c) for c in (classes or range(C))]
    w = max(6, len(str(cm.max())) + 1)
    lines = ["confusion matrix (rows: true class, columns: predicted):",
             " " * 6 + "".join(f"{j:>{w}d}" for j in range(C))]
    lines += [f"{i:>5d} " + "".join(f"{v:>{w}d}" for v in row) for i, row in enumerate(cm)]
    nw = max(len(n) for n in names + ["class"])
    lines.append(f"{'class':<{nw}}  precision  recall     f1  support")
    for i, n in enumerate(names):
        lines.append(f"{n:<{nw}}  {rep['precision'][i]:9.3f}  {rep['recall'][i]:6.3f}  "
                     f"{rep['f1'][i]:5.3f}  {rep['support'][i]:7d}")
    lines.append(f"{'macro avg':<{nw}}  {rep['precision'].mean():9.3f}  "
                 f"{rep['recall'].mean():6.3f}  {rep['macro_f1']:5.3f}  {int(cm.sum()):7d}")
    return "\n".join(lines)


def plot_confusion_matrix(cm, path, classes=None, normalize=True, title=None):
    """The matrix as a heat map (rows normalised to recall when ``normalize``), counts written
    in the cells; saved as PNG."""
    plt = pyplot("plot_confusion_matrix")
    cm = np.asarray(cm)
    C = cm.shape[0]
    shown = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * C, 0.8 + 0.5 * C))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046)
    labels = [str(c) for c in (classes or range(C))]
    ax.set_xticks(range(C), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(C), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(C):
        for j in range(C):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if shown[i, j] > 0.5 * shown.max() else "black")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
