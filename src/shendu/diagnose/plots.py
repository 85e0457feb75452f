"""Pictures of a :class:`~shendu.diagnose.Report`: the gradient flow across depth, the
activations, the ReLU/saturation fractions and the update ratios; and one self-contained
HTML page holding them (PNG embedded as base64) with the findings. Needs matplotlib
(``pip install 'shendu[plot]'``)."""
import base64
import html as _html
import io

__all__ = ["plot_report", "report_html", "pyplot", "finish"]


def pyplot(what="shendu.diagnose plots"):
    """matplotlib.pyplot on the Agg backend, or an ImportError naming the extra."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(f"{what} need matplotlib: pip install 'shendu[plot]'") from None
    return plt


def _series(report, key, names=None):
    names = names if names is not None else list(report.layers)
    pts = [(i, n, getattr(report.layers[n], key)) for i, n in enumerate(names)]
    return [(i, n, v) for i, n, v in pts if v is not None]


def _flagged(report, kinds):
    return {f.layer for f in report.all_findings if f.kind in kinds}


def _ticks(ax, names):
    ax.set_xticks(range(len(names)))
    size = 8 if len(names) <= 24 else max(4, int(8 * 24 / len(names)))
    ax.set_xticklabels(names, rotation=70, ha="right", fontsize=size)
    ax.set_xlim(-0.5, len(names) - 0.5)


def _log_line(ax, pts, label, style, flagged, **kw):
    if not pts:
        return
    pos = [v for _, _, v in pts if v > 0]
    floor = min(pos) / 10 if pos else 1e-12     # log axes: a zero is drawn at a floor, as ▼
    zeros = [(i, floor) for i, _, v in pts if v <= 0]
    pts = [(i, n, max(v, floor)) for i, n, v in pts]
    if zeros:
        ax.semilogy([z[0] for z in zeros], [z[1] for z in zeros], "v", color="k", ms=7,
                    label="exactly zero (drawn at the floor)")
    ax.semilogy([p[0] for p in pts], [p[2] for p in pts], style, label=label, ms=4, **kw)
    bad = [p for p in pts if p[1] in flagged]
    if bad:
        ax.semilogy([p[0] for p in bad], [p[2] for p in bad], "o", ms=9, mfc="none",
                    mec="red", mew=1.5)


def plot_report(report, path=None):
    """Four panels across depth (layers in forward order, findings ringed in red):
    the gradient at each layer's output and each layer's parameter-gradient norm (the
    gradient flow), the output std, the zero/dead/saturated fractions, and the
    update/weight ratios. Saved as PNG when ``path`` is given; returns the figure."""
    from .findings import judged_layers
    plt = pyplot("Report.plot and Report.html")
    th = report.thresholds
    names = list(report.layers)
    judged = judged_layers(report.layers, report.order)
    fracs = [(k, lab, col, _series(report, k)) for k, lab, col in (
        ("zero_frac", "ReLU zero outputs", "C0"), ("dead_frac", "ReLU dead units", "C3"),
        ("saturated_frac", "saturated (sigmoid/tanh)", "C1"))]
    fracs = [f for f in fracs if f[3]]
    ups = _series(report, "update_ratio")
    n_ax = 2 + bool(fracs) + bool(ups)
    fig, axes = plt.subplots(n_ax, 1, figsize=(max(8, 0.32 * len(names) + 3), 3.3 * n_ax),
                             sharex=True)
    ax = axes[0]
    grads = _series(report, "grad_out_norm")
    _log_line(ax, grads, "gradient at the layer's output (norm per example)", "-o",
              _flagged(report, ("vanishing_gradient", "exploding_gradient")))
    _log_line(ax, _series(report, "grad_norm"), "parameter-gradient norm", "s", set(),
              alpha=0.6)
    ref = [report.layers[n].grad_out_norm for n in judged if report.layers[n].grad_out_norm]
    if ref:
        for t, lab in ((th.vanishing_gradient, "vanishing"), (th.exploding_gradient,
                                                               "exploding")):
            ax.axhline(ref[-1] * t, ls="--", color="red", lw=0.8)
            ax.text(0, ref[-1] * t, f" {lab} ({t:g}× the output layer's)", color="red",
                    fontsize=7, va="bottom")
    ax.set_title("gradient flow across depth (input → output)")
    ax.legend(fontsize=8, loc="best")
    ax = axes[1]
    _log_line(ax, _series(report, "act_std"), "output std", "-o",
              _flagged(report, ("activation_collapse", "activation_explosion")))
    if report.input_std:
        for t in (th.activation_collapse, th.activation_explosion):
            ax.axhline(report.input_std * t, ls="--", color="red", lw=0.8)
        ax.axhline(report.input_std, ls=":", color="gray", lw=0.8)
    ax.set_title("activation std (dotted: the input's; dashed: thresholds)")
    ax.legend(fontsize=8, loc="best")
    k = 2
    if fracs:
        ax = axes[k]
        k += 1
        for _, lab, col, pts in fracs:
            ax.bar([p[0] for p in pts], [p[2] for p in pts], width=0.6, alpha=0.6, label=lab,
                   color=col)
        ax.axhline(th.dead_units, ls="--", color="red", lw=0.8)
        ax.set_ylim(0, 1.05)
        ax.set_title("ReLU zero outputs and dead units; saturated sigmoid/tanh outputs")
        ax.legend(fontsize=8, loc="best")
    if ups:
        ax = axes[k]
        _log_line(ax, ups, "||ΔW|| / ||W|| per step", "-o",
                  _flagged(report, ("update_ratio_high", "update_ratio_low")))
        for t in (th.update_ratio_low, th.update_ratio_high):
            ax.axhline(t, ls="--", color="red", lw=0.8)
        ax.legend(fontsize=8, loc="best")
        ax.set_title("update/weight ratio of one optimizer step")
    _ticks(axes[-1], names)
    for a in axes:
        a.grid(alpha=0.3)
    if report.title:
        fig.suptitle(report.title)
    return finish(fig, path)


def finish(fig, path):
    """Lay out ``fig``; save it as PNG at ``path`` (and close it) when a path is given."""
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        pyplot().close(fig)
    return fig


def _png(fig):
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _loss_fig(report):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(range(1, len(report.losses) + 1), report.losses, "-o", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def report_html(report, path):
    """Write one self-contained page: findings, the plots (embedded PNG), the thresholds
    and the per-layer table. Returns ``path``."""
    esc = _html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
             f"{esc(report.title or 'shendu.diagnose report')}</title><style>"
             "body{font-family:sans-serif;max-width:1200px;margin:2em auto}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
             "padding:2px 6px;text-align:right}td:first-child{text-align:left}"
             ".bad{color:#b00}</style></head><body>",
             f"<h1>{esc(report.title or 'shendu.diagnose report')}</h1>",
             f"<p>{report.steps} steps, {len(report.layers)} layers"
             + (f", loss {report.losses[0]:.4g} → {report.losses[-1]:.4g}" if report.losses
                else "") + "</p>", "<h2>Findings</h2>"]
    if report.findings:
        parts.append("<ul>")
        for f in report.findings:
            parts.append(f"<li class='bad'><b>{esc(f.kind)}</b> at <code>{esc(f.layer)}</code>"
                         f"{' (after <code>' + esc(f.source) + '</code>)' if f.source else ''}"
                         f": {esc(f.message)} — value {f.value:.3g}, threshold "
                         f"{f.threshold:.3g}. <i>{esc(f.advice)}</i>")
            if f.consequences:
                parts.append("<br>explains: " + ", ".join(
                    f"{esc(c.kind)} at <code>{esc(c.layer)}</code> ({c.value:.2g})"
                    for c in f.consequences))
            parts.append("</li>")
        parts.append("</ul>")
    else:
        parts.append("<p>No findings: gradients, activations and updates are within the "
                     "thresholds.</p>")
    parts.append(f"<h2>Across depth</h2><img alt='gradient flow' "
                 f"src='data:image/png;base64,{_png(plot_report(report))}'>")
    if report.losses:
        parts.append(f"<h2>Loss</h2><img alt='loss' "
                     f"src='data:image/png;base64,{_png(_loss_fig(report))}'>")
    parts.append("<h2>Thresholds</h2><table><tr><th>name</th><th>value</th></tr>")
    for k, v in vars(report.thresholds).items():
        parts.append(f"<tr><td>{esc(k)}</td><td>{v:g}</td></tr>")
    parts.append("</table><p>The reasons for each are in <code>shendu.diagnose.thresholds"
                 "</code>.</p><h2>Layers</h2><table><tr>")
    cols = ("name", "type", "shape", "act_mean", "act_std", "grad_std", "grad_out_norm",
            "grad_norm",
            "update_ratio", "zero_frac", "dead_frac", "saturated_frac")
    parts.append("".join(f"<th>{c}</th>" for c in cols) + "</tr>")
    flagged = {f.layer for f in report.all_findings}
    for n, r in report.layers.items():
        cells = []
        for c in cols:
            v = getattr(r, c)
            cells.append("" if v is None else esc(v if isinstance(v, str) else
                                                  str(tuple(v)) if isinstance(v, tuple)
                                                  else f"{v:.3g}"))
        cls = " class='bad'" if n in flagged else ""
        parts.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append("</table></body></html>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return path
