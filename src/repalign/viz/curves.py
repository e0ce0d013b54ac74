"""Layer-wise brain-alignment curves with the noise ceiling and significance marks."""

from __future__ import annotations

import numpy as np

from ._common import _select, as_frame, describe_rows, new_figure

__all__ = ["alignment_curve", "alignment_curve_from_results"]


def _per_layer(name, values, n):
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"{name} must have one value per layer, shape ({n},); "
                         f"got shape {array.shape}")
    return array


def alignment_curve(layers, values, *, ceiling=None, p_values=None, alpha=0.05, ci=None,
                    corrected=False, ylabel="alignment", title=None):
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
    corrected : bool, default=False
        Whether ``p_values`` are already corrected for multiple comparisons
        (e.g. Benjamini-Hochberg q-values from :func:`repalign.fdr`); the
        legend then says "q < alpha" instead of "p < alpha".
    ylabel, title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes with the curve (a line with a marker per layer), the
        ceiling band (a polygon) and the significance stars (a scatter);
        ``figure.repalign_caption`` describes it in sentences.

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
                   label=f"{'q' if corrected else 'p'} < {alpha:g}")
    ax.set_xticks(x, layers, rotation=45, ha="right", fontsize="small")
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "")
    ax.legend(fontsize="small")
    text = [f"{title + ': ' if title else ''}{ylabel} of each of {n} layers, in network order."]
    if ci is not None:
        text.append("Error bars: each layer's interval.")
    if ceiling is not None:
        text.append(f"Grey band: the noise ceiling, from {lower:.3g} to {upper:.3g}.")
    if p_values is not None:
        text.append(f"Stars: layers with {'corrected q' if corrected else 'p'} < {alpha:g}.")
    figure.repalign_caption = " ".join(text)
    figure.repalign_panel = "curve"
    return figure


def target_rows(frame, target, symmetric):
    """The rows of one measure pairing ``target`` with another representation.

    ``frame`` holds one measure at one setting (as :func:`~._common._select`
    returns). The result has a ``layer`` column naming the other side, in the
    order of the rows: rows ``(layer, target)``, and for a symmetric measure
    also ``(target, layer)`` where the pair is not stored the other way.
    """
    import pandas as pd

    frame = frame.reset_index(drop=True)
    ordered = frame[frame["b"] == target].assign(layer=lambda f: f["a"])
    if symmetric:
        mirrored = frame[frame["a"] == target].assign(layer=lambda f: f["b"])
        ordered = pd.concat([ordered, mirrored[~mirrored["layer"].isin(ordered["layer"])]]
                            ).sort_index()
    return ordered[ordered["layer"] != target]


def alignment_curve_from_results(results, target, measure, *, model=None, params=None,
                                 layers=None, ceiling=None, alpha=0.05, fdr=True, title=None):
    """The alignment curve of one model's layers with one target, read from result rows.

    The rows pairing ``target`` (a brain region, a behavioural embedding: any
    representation of the grid) with the layers ``"model/<layer>"`` give the
    curve; their ``p_value`` column gives the significance marks and their
    ``ci_low`` / ``ci_high`` columns the error bars, where the grid computed
    statistics.

    Parameters
    ----------
    results : pandas.DataFrame, ResultStore or path of a results.db
        Result rows with at least ``a``, ``b``, ``measure``, ``params``, ``value``.
    target : str
        The representation every layer is compared with.
    measure : str
        The measure to show.
    model : str, optional
        The model whose layers form the curve. Required when the target was
        compared with layers of several models.
    params : dict, optional
        Which parameters, when the measure was run with several settings.
    layers : sequence of str, optional
        The layers (names without the ``"model/"`` prefix) and their order;
        default: those in the results, in order of first appearance.
    ceiling : (float, float), optional
        The target's noise ceiling (e.g. from :func:`repalign.noise_ceiling`),
        drawn as a band; result rows do not hold it.
    alpha : float, default=0.05
    fdr : bool, default=True
        Correct the layers' p-values as one family (Benjamini-Hochberg,
        ``scipy.stats.false_discovery_control``, as :func:`repalign.fdr`)
        before marking those below ``alpha``.
    title : str, optional
        Default: ``"<model> vs <target> (<measure>)"``.

    Returns
    -------
    matplotlib.figure.Figure
        As :func:`alignment_curve`.

    Notes
    -----
    A symmetric measure's grid stores each unordered pair once, in either
    order, so both ``(layer, target)`` and ``(target, layer)`` rows are read.
    For an asymmetric measure (ridge, semi_match, PWCCA) only the rows with
    the layer first count: the layer predicts (or is matched to) the target,
    the Brain-Score direction.

    References
    ----------
    Schrimpf et al. (2018). Brain-Score: which artificial neural network for
    object recognition is most brain-like? bioRxiv 407007 (per-layer scores
    against a region's ceiling).
    """
    import pandas as pd
    from scipy.stats import false_discovery_control

    frame = _select(as_frame(results), measure, params)
    symmetric = bool(frame["symmetric"].iloc[0])
    ordered = target_rows(frame, target, symmetric)
    if ordered.empty:
        direction = "" if symmetric else " as b (the layer as a)"
        raise ValueError(f"target={target!r} has no {measure} rows{direction} in the "
                         f"results; names: {sorted(set(frame['a']) | set(frame['b']))[:10]}")
    models = list(dict.fromkeys(name.split("/", 1)[0] for name in ordered["layer"]
                                if "/" in name))
    if model is None:
        if len(models) != 1:
            raise ValueError(f"target={target!r} was compared with the layers of models "
                             f"{models}; pass model= to choose one")
        model = models[0]
    elif model not in models:
        raise ValueError(f"model={model!r} has no layers compared with target={target!r}; "
                         f"models: {models}")
    prefix = f"{model}/"
    mine = ordered[ordered["layer"].str.startswith(prefix)]
    by_layer = {name[len(prefix):]: row for name, row in zip(mine["layer"],
                                                             mine.to_dict("records"))}
    if layers is None:
        layers = list(by_layer)
    else:
        layers = [str(layer) for layer in layers]
        missing = [layer for layer in layers if layer not in by_layer]
        if missing:
            raise ValueError(f"layers {missing} of model {model!r} have no {measure} row "
                             f"with target={target!r}; stored: {list(by_layer)}")
    rows = [by_layer[layer] for layer in layers]

    def column(name):
        return np.array([np.nan if row.get(name) is None else float(row[name])
                         for row in rows])

    p_values, ci = column("p_value"), (column("ci_low"), column("ci_high"))
    if np.isnan(p_values).all():
        p_values = None
    elif fdr:  # the layers with a test are one family
        tested = ~np.isnan(p_values)
        p_values[tested] = false_discovery_control(p_values[tested], method="bh")
    if np.isnan(ci[0]).all() or np.isnan(ci[1]).all():
        ci = None
    figure = alignment_curve(layers, column("value"), ceiling=ceiling, p_values=p_values,
                             alpha=alpha, ci=ci, corrected=fdr and p_values is not None,
                             ylabel=measure, title=title or f"{model} vs {target} ({measure})")
    shown = pd.DataFrame(rows)
    text = [describe_rows(shown, what=f"alignment of {len(layers)} layers of {model} with "
                                      f"{target}, in network order",
                          intervals="bars")]
    if ceiling is not None:
        text.append(f"Grey band: {target}'s noise ceiling, from {float(ceiling[0]):.3g} to "
                    f"{float(ceiling[1]):.3g}.")
    if p_values is not None:
        text.append(f"Stars: layers with {'Benjamini-Hochberg q' if fdr else 'p'} < "
                    f"{alpha:g} ({int((~np.isnan(p_values)).sum())} layers tested).")
    figure.repalign_caption = " ".join(text)
    return figure
