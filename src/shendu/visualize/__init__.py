"""shendu.visualize: seeing inside a network (seed 004's visualisation of CNNs, seed 003's
evaluation of classifiers).

* image grids: ``make_grid`` / ``save_image`` (torchvision.utils' names and semantics),
  ``filter_grid`` (the first convolution's filters, one tile each);
* inside a model: ``feature_maps`` (the output of any named layer for one input),
  ``activation_histograms`` (per layer), ``saliency`` (the input gradient, Simonyan et al.
  2014), ``grad_cam`` (Selvaraju et al. 2017);
* classifiers: ``confusion_matrix``, ``classification_report`` (per-class precision, recall,
  F1), ``format_report``, ``plot_confusion_matrix``.

Arrays come back as NumPy; plots need matplotlib (``pip install 'shendu[plot]'``).
"""
from .grid import make_grid, save_image, filter_grid
from .inside import (feature_maps, activation_histograms, plot_histograms, saliency, grad_cam,
                     first_conv)
from .confusion import (confusion_matrix, classification_report, format_report,
                        plot_confusion_matrix)

__all__ = ["make_grid", "save_image", "filter_grid", "feature_maps", "activation_histograms",
           "plot_histograms", "saliency", "grad_cam", "first_conv", "confusion_matrix",
           "classification_report", "format_report", "plot_confusion_matrix"]
