"""The record of a training run, and its loss/accuracy curves."""

__all__ = ["History"]


class History:
    """Per-epoch values: ``history["val_loss"]`` is a list with one value per epoch.

    Keys: epoch, train_loss, val_loss, train_<metric>, val_<metric>, lr, epoch_time, and,
    when accuracy is measured, train_error, val_error and generalization_gap (seed 001:
    the gap between the error on held-out data and on the training data).
    """

    def __init__(self, data=None):
        self.history = {k: list(v) for k, v in (data or {}).items()}
        self.interrupted = False

    def append(self, row):
        n = len(self)
        for k, v in row.items():
            col = self.history.setdefault(k, [None] * n)
            col.append(v)
        for k, col in self.history.items():
            if len(col) < n + 1:
                col.append(None)

    def __len__(self):
        return len(self.history.get("epoch", []))

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def last(self, key, default=None):
        col = self.history.get(key)
        return col[-1] if col else default

    def state_dict(self):
        return {k: list(v) for k, v in self.history.items()}

    def load_state_dict(self, state):
        self.history = {k: list(v) for k, v in state.items()}

    def __repr__(self):
        return f"History({len(self)} epochs, keys={sorted(self.history)})"

    def plot(self, path=None, title=None):
        """Loss curves (train and validation) beside the metric curves, saved as PNG when
        ``path`` is given. Needs matplotlib (``pip install shendu[plot]``)."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from matplotlib.ticker import MaxNLocator
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'shendu[plot]'") from None
        epochs = self.history.get("epoch") or list(range(1, len(self) + 1))
        metrics = sorted({k[len("train_"):] for k in self.history if k.startswith("train_")
                          and k not in ("train_loss", "train_error")})
        n = 1 + len(metrics)
        fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.8), squeeze=False)
        for ax, name in zip(axes[0], ["loss"] + metrics):
            for split, style in (("train", "-o"), ("val", "-s")):
                vals = self.history.get(f"{split}_{name}")
                if vals and any(v is not None for v in vals):
                    pts = [(e, v) for e, v in zip(epochs, vals) if v is not None]
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, ms=3,
                            label=f"{split} {name}")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
            plt.close(fig)
        return fig
