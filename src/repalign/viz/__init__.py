"""Figures and the HTML report of alignment results.

Every function takes results (a DataFrame of result rows, a ResultStore or a
results.db path) or plain arrays, and never computes a measure itself.
matplotlib and pandas are imported only when a figure is drawn.
"""

from .curves import alignment_curve, alignment_curve_from_results
from .heatmap import layer_heatmap, model_matrix
from .mds import classical_mds, model_map
from .rdm import rdm_plot
from .report import report

__all__ = ["layer_heatmap", "model_matrix", "classical_mds", "model_map", "rdm_plot",
           "alignment_curve", "alignment_curve_from_results", "report"]
