"""Shared helpers of the figures: results to a DataFrame, and a representation matrix.

Nothing here computes a measure, and nothing asks the measure registry: every
value, and what it means (the measure's kind, symmetry and bounds), comes from
the result rows themselves.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..results import canonical_params, matching_rows, read_results, rows_frame

__all__ = ["as_frame", "new_figure", "measure_matrix", "draw_matrix"]

REQUIRED = ("a", "b", "measure", "params", "kind", "symmetric", "bound_low", "bound_high",
            "value")


def as_frame(results):
    """``results`` as a pandas DataFrame of result rows.

    Parameters
    ----------
    results : pandas.DataFrame, ResultStore, str or os.PathLike
        A DataFrame of result rows with at least the columns ``a``, ``b``,
        ``measure``, ``params``, ``kind``, ``symmetric``, ``bound_low``,
        ``bound_high`` and ``value`` (:data:`repalign.results.COLUMNS`);
        anything with a ``to_dataframe()`` method (a :class:`repalign.ResultStore`,
        a ``GridResult``); or the path of a ``results.db``, read without
        writing to it.

    Returns
    -------
    pandas.DataFrame
        The rows, with ``params`` as canonical JSON text
        (:func:`repalign.results.canonical_params`), so that rows can be
        grouped and selected by their parameters.
    """
    import pandas as pd

    if isinstance(results, (str, os.PathLike)):
        frame = rows_frame(read_results(results))
    elif isinstance(results, pd.DataFrame):
        frame = results
    elif hasattr(results, "to_dataframe"):
        frame = results.to_dataframe()
    else:
        raise TypeError("results must be a pandas DataFrame, a ResultStore (anything with "
                        f"to_dataframe()) or the path of a results.db; got "
                        f"{type(results).__name__}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"results lack the columns {missing}; expected result rows with at "
                         f"least {list(REQUIRED)} (the rows of repalign.grid or a "
                         f"ResultStore carry them), got {list(frame.columns)}")
    frame = frame.copy()
    frame["params"] = [_canonical(p) for p in frame["params"]]
    return frame


def _canonical(params) -> str:
    """Parameters (a dict, JSON text or None) as canonical JSON text."""
    if isinstance(params, str):
        params = json.loads(params)
    return canonical_params(params or {})


def new_figure(figsize=(6.0, 5.0)):
    """A matplotlib Figure on the Agg canvas, outside pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _select(frame, measure, params):
    """The rows of one measure at one setting of its parameters.

    ``params`` (a dict or JSON text) chooses the setting whose parameters
    include its items, as :func:`repalign.results.matching_rows`.
    """
    if isinstance(params, str):
        params = json.loads(params)
    settings = [{"measure": m, "params": json.loads(p)}
                for m, p in frame[["measure", "params"]].drop_duplicates().itertuples(
                    index=False)]
    (chosen,) = {canonical_params(r["params"]) for r in matching_rows(settings, measure, params)}
    return frame[(frame["measure"] == measure) & (frame["params"] == chosen)]


def measure_matrix(results, measure, *, params=None, rows=None, columns=None):
    """The matrix of one measure's values between representations.

    A pair stored once (symmetric measures compute each unordered pair once)
    fills both ``[a, b]`` and ``[b, a]``; an ordered row takes precedence over
    the mirrored one. Cells without a row are NaN.

    Parameters
    ----------
    results : DataFrame, ResultStore or path
        See :func:`as_frame`.
    measure : str
        The measure's name.
    params : dict, optional
        Which parameters, when the measure was run with several settings.
    rows, columns : sequence of str, optional
        The representations of the rows and columns; default: every name in
        ``a`` or ``b``, in order of first appearance.

    Returns
    -------
    rows, columns : list of str
    matrix : ndarray of shape (len(rows), len(columns))
    """
    selected = _select(as_frame(results), measure, params)
    names = list(dict.fromkeys([*selected["a"], *selected["b"]]))
    rows = names if rows is None else list(rows)
    columns = names if columns is None else list(columns)
    row_index = {name: i for i, name in enumerate(rows)}
    col_index = {name: j for j, name in enumerate(columns)}
    matrix = np.full((len(rows), len(columns)), np.nan)
    values = selected["value"].astype(float)
    for a, b, value in zip(selected["b"], selected["a"], values):  # mirrored first
        if a in row_index and b in col_index:
            matrix[row_index[a], col_index[b]] = value
    for a, b, value in zip(selected["a"], selected["b"], values):
        if a in row_index and b in col_index:
            matrix[row_index[a], col_index[b]] = value
    return rows, columns, matrix


def draw_matrix(figure, matrix, rows, columns, *, label, xlabel=None, ylabel=None, title=None):
    """Draw ``matrix`` as an annotated image with a colour bar; return the axes."""
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="viridis", interpolation="nearest", aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize="small")
    ax.set_yticks(range(len(rows)), rows, fontsize="small")
    ax.set_xlabel(xlabel or "")
    ax.set_ylabel(ylabel or "")
    ax.set_title(title or "")
    figure.colorbar(image, ax=ax, label=label)
    return ax
