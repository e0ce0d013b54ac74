"""Heatmaps of grid results: layer x layer for a model pair; representation x representation."""

from __future__ import annotations

from ._common import as_frame, colour_sentence, describe_rows, draw_matrix, new_figure, shown_matrix

__all__ = ["layer_heatmap", "model_matrix"]


def _layers(names, model):
    prefix = f"{model}/"
    return [name for name in names if name.startswith(prefix)]


def layer_heatmap(results, model_a, model_b, measure, *, params=None, n_stimuli=None):
    """Layer x layer heatmap of one measure between two models.

    Representations are named ``"model/layer"`` (as an ActivationStore lists
    them); rows are the layers of ``model_a``, columns those of ``model_b``,
    each in the order of the result rows (of first appearance in them), never
    sorted by name. A grid's rows, and the rows it stores in a ResultStore, list
    the representations in the grid's order: an ActivationStore's order, the
    order its arrays were created (a network's layers by depth, ``blocks.2``
    before ``blocks.10``), so the diagonal reads as depth.

    Parameters
    ----------
    results : pandas.DataFrame, ResultStore or path of a results.db
        Result rows with at least ``a``, ``b``, ``measure``, ``params``, ``value``.
    model_a, model_b : str
        The two models (may be equal: the within-model heatmap).
    measure : str
        The measure to show.
    params : dict, optional
        Which parameters, when the measure was run with several settings.
    n_stimuli : int, optional
        Which stimulus set (the rows' ``n_stimuli``), when the layers were
        compared on several; they are never mixed in one heatmap.

    Returns
    -------
    matplotlib.figure.Figure
        One image axes (cell ``[i, j]`` is the value between layer ``i`` of
        ``model_a`` and layer ``j`` of ``model_b``; NaN where not computed) and
        its colour bar, labelled with the measure, its kind and its direction.
        Similarities and distances have different colour maps, both bright
        where the layers are alike. ``figure.repalign_caption`` describes it in
        sentences (the report shows it).

    References
    ----------
    Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
    representations revisited. ICML (their Fig. 2 is this layout).
    """
    frame = as_frame(results)
    names = list(dict.fromkeys([*frame["a"], *frame["b"]]))
    rows, columns = _layers(names, model_a), _layers(names, model_b)
    for argument, model, layers in (("model_a", model_a, rows), ("model_b", model_b, columns)):
        if not layers:
            raise ValueError(f"{argument}={model!r} has no representations named "
                             f"'{model}/<layer>' in the results; names: {names[:10]}")
    rows, columns, matrix, shown = shown_matrix(frame, measure, params=params, rows=rows,
                                                columns=columns, n_stimuli=n_stimuli)
    kind = str(shown["kind"].iloc[0]) if len(shown) else None
    figure = new_figure((2.5 + 0.45 * len(columns), 1.8 + 0.4 * len(rows)))
    draw_matrix(figure, matrix, [r[len(model_a) + 1:] for r in rows],
                [c[len(model_b) + 1:] for c in columns],
                label=measure, kind=kind, ylabel=model_a, xlabel=model_b,
                title=f"{measure}: {model_a} x {model_b}")
    if len(shown):
        figure.repalign_caption = (
            describe_rows(shown, what=f"layer x layer heatmap of {model_a} ({len(rows)} layers, "
                                      f"rows) against {model_b} ({len(columns)} layers, "
                                      "columns)")
            + " " + colour_sentence(measure, kind))
        figure.repalign_panel = "heatmap"
    return figure


def model_matrix(results, measure, *, params=None, names=None, n_stimuli=None):
    """Representation x representation matrix of one measure.

    Parameters
    ----------
    results : pandas.DataFrame, ResultStore or path of a results.db
        Result rows with at least ``a``, ``b``, ``measure``, ``params``, ``value``.
    measure : str
        The measure to show.
    params : dict, optional
        Which parameters, when the measure was run with several settings.
    names : sequence of str, optional
        The representations and their order; default: all, in order of first
        appearance.
    n_stimuli : int, optional
        Which stimulus set (the rows' ``n_stimuli``), when the representations
        were compared on several; they are never mixed in one matrix.

    Returns
    -------
    matplotlib.figure.Figure
        One square image axes (symmetric where the results hold one row per
        unordered pair) and its colour bar, labelled with the measure, its
        kind and its direction (see :func:`layer_heatmap`).
        ``figure.repalign_caption`` describes it in sentences.

    Raises
    ------
    ValueError
        If the representations were compared on several stimulus sets and
        ``n_stimuli`` does not choose one.
    """
    rows, columns, matrix, shown = shown_matrix(results, measure, params=params, rows=names,
                                                columns=names, n_stimuli=n_stimuli)
    kind = str(shown["kind"].iloc[0]) if len(shown) else None
    figure = new_figure((3.0 + 0.4 * len(columns), 1.8 + 0.4 * len(rows)))
    draw_matrix(figure, matrix, rows, columns, label=measure, kind=kind, title=measure)
    if len(shown):
        figure.repalign_caption = (
            describe_rows(shown, what=f"every pair of {len(rows)} representations")
            + " " + colour_sentence(measure, kind))
        figure.repalign_panel = "matrix"
    return figure
