"""Layer-wise brain-alignment curves with the noise ceiling and significance marks."""

from __future__ import annotations

import numpy as np

from ._common import new_figure

__all__ = ["alignment_curve"]


def _per_layer(name, values, n):
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"{name} must have one value per layer, shape ({n},); "
                         f"got shape {array.shape}")
    return array


def alignment_curve(layers, values, *, ceiling=None, p_values=None, alpha=0.05, ci=None,
                    ylabel="alignment", title=None):
    """Plot alignment with a brain region (or behaviour) against network depth.

    Parameters
    ----------
    layers : sequence of str
        Layer names, in network order (the x axis).
    values : array of shape (n_layers,)
        Each layer's alignment (e.g. RSA with human IT).
    ceiling : (float, float), optional
        The noise ceiling's (lower, upper) bounds, shaded as a grey band.
    p_values : array of shape (n_layers,), optional
        Each layer's p-value; layers with ``p < alpha`` get a star above the
        curve. NaN (not tested) never does.
    alpha : float, default=0.05
        The significance level, in (0, 1).
    ci : (array, array), optional
        Lower and upper confidence bounds per layer, drawn as error bars.
    ylabel, title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes with the curve (a line with a marker per layer), the
        ceiling band (a polygon) and the significance stars (a scatter).

    References
    ----------
    Nili, Wingfield, Walther, Su, Marslen-Wilson & Kriegeskorte (2014). A
    toolbox for representational similarity analysis. PLoS Comput. Biol.
    10:e1003553 (the ceiling band and significance marks follow their bar graphs).
    """
    layers = [str(layer) for layer in layers]
    n = len(layers)
    if n == 0:
        raise ValueError("layers must name at least one layer; got none")
    values = _per_layer("values", values, n)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    figure = new_figure((max(5.0, 0.5 * n + 2), 4.0))
    ax = figure.add_subplot()
    x = np.arange(n)
    if ceiling is not None:
        lower, upper = (float(v) for v in ceiling)
        if not lower <= upper:
            raise ValueError(f"ceiling must be (lower, upper) with lower <= upper; "
                             f"got ({lower}, {upper})")
        ax.axhspan(lower, upper, color="0.85", label="noise ceiling")
    if ci is None:
        ax.plot(x, values, marker="o", color="C0", label="alignment")
    else:
        low, high = (_per_layer(name, c, n) for name, c in zip(("ci[0]", "ci[1]"), ci))
        ax.errorbar(x, values, yerr=np.abs(np.vstack([values - low, high - values])),
                    marker="o", color="C0", capsize=3, label="alignment")
    if p_values is not None:
        p_values = _per_layer("p_values", p_values, n)
        significant = np.flatnonzero(p_values < alpha)
        top = np.nanmax(values) + 0.05 * (np.nanmax(values) - np.nanmin(values) or 1.0)
        ax.scatter(x[significant], np.full(significant.size, top), marker="*", color="k",
                   label=f"p < {alpha:g}")
    ax.set_xticks(x, layers, rotation=45, ha="right", fontsize="small")
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "")
    ax.legend(fontsize="small")
    return figure
