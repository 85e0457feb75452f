"""shendu.diagnose: see inside a training run and name the broken layer (seeds 001 and 002
§3.1.5: vanishing and exploding gradients, dead ReLUs, saturated units, activations that
shrink or blow up across depth, learning rates too large or too small).

    report = shendu.diagnose.run(model, loader, nn.CrossEntropyLoss(), optimizer, steps=20)
    print(report)                  # the findings, each naming a layer (as in named_modules())
    report.layers["conv2"].grad_std
    report.plot("flow.png")        # gradient flow across depth; report.html("report.html")

The pieces:

- :func:`run` (``report.py``): hooked training steps -> :class:`Report` with ``layers``
  (per-layer statistics) and ``findings`` (kind, layer, value, threshold, advice).
- :class:`LayerStats` (``stats.py``): the reusable recorder behind ``run``. It hooks every
  layer of a model and records, for whatever steps the caller runs, each layer's output
  mean/std, zero and dead-unit fractions (ReLU), saturated fraction (Sigmoid/Tanh), the
  mean/std of the gradient w.r.t. its output, its parameter-gradient norm and the
  update/weight ratio of each optimizer step::

      with LayerStats(model) as rec:                  # backward=False: forward only
          for x, y in batches:
              opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
              rec.step()                              # after backward/step, before zero_grad
      depth = [(n, r.act_std, r.grad_std) for n, r in rec.layers.items()]

  ``rec.layers`` maps names to :class:`LayerRecord` (means over the steps; ``series``
  holds one value per step); ``rec.input_std`` is the input's std; ``rec.call_order``
  the order in which the layers ran.
  Statistics per layer (all means over the steps): ``act_mean``, ``act_std`` (output),
  ``grad_mean``, ``grad_std`` (gradient w.r.t. the output, per element),
  ``grad_out_norm`` (that gradient's L2 norm per example), ``grad_norm`` (parameter
  gradients), ``weight_norm``, ``update_ratio`` (||ΔW||/||W|| per step), ``zero_frac``
  and ``dead_frac`` (ReLU), ``saturated_frac`` (Sigmoid/Tanh), ``nonfinite``; plus
  ``name``, ``type``, ``role`` ('weighted', 'norm', 'relu', 'saturating', 'other'),
  ``index`` (depth order), ``shape``, ``params``, ``after`` (the weighted layer feeding
  it). ``LayerStats(model, backward=False)`` records forward statistics only (no
  ``step()`` needed); ``updates=False`` skips the weight snapshot.
- :func:`find` and :class:`Finding` (``findings.py``): the rules; :class:`Thresholds`
  (``thresholds.py``): every threshold named, with the notes' reasoning.
- :class:`DiagnosticsCallback` (``callback.py``): the same during ``shendu.train.fit``,
  warning once per finding with the layer named.
- :func:`curves` (``curves.py``): verdicts on a whole training history — diverging,
  oscillating, stalled, underfitting, overfitting — with the numbers behind each.
- :func:`lr_find` (``lr_find.py``): Smith's learning-rate range test.

TensorBoard logging lives in :mod:`shendu.utils.tensorboard` (``SummaryWriter``) and
:class:`shendu.train.TensorBoard` (a callback for ``fit``).
"""
from .stats import LayerStats, LayerRecord, layer_role
from .thresholds import Thresholds
from .findings import Finding, find, KINDS, ADVICE
from .report import Report, run

__all__ = ["run", "Report", "LayerStats", "LayerRecord", "layer_role", "Thresholds", "Finding",
           "find", "KINDS", "ADVICE"]
from .callback import DiagnosticsCallback, DiagnosticWarning
from .curves import curves, CurveThresholds, CurveReport, Verdict
from .lr_find import lr_find, LRFinderResult

__all__ += ["DiagnosticsCallback", "DiagnosticWarning", "curves", "CurveThresholds",
            "CurveReport", "Verdict", "lr_find", "LRFinderResult"]
