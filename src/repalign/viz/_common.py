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

__all__ = ["as_frame", "new_figure", "measure_matrix", "draw_matrix", "colour_map",
           "direction", "stimulus_sets", "params_in_words", "describe_rows"]

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


def stimulus_sets(frame) -> list:
    """The stimulus sets of result rows, in order of first appearance.

    Rows carry ``n_stimuli``, the number of stimuli the two representations
    were compared on; rows with different numbers were computed on different
    stimuli. A set is an ``int``, or ``None`` for rows that do not say (no
    ``n_stimuli`` column, or a missing value).
    """
    if "n_stimuli" not in frame.columns:
        return [None] * (len(frame) > 0)
    return list(dict.fromkeys(_stimulus_set(n) for n in frame["n_stimuli"]))


def _stimulus_set(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if value != value else int(value)


def in_stimulus_set(frame, n_stimuli):
    """The rows of ``frame`` computed on the stimulus set ``n_stimuli``.

    See :func:`stimulus_sets`; ``None`` selects the rows that do not say.
    """
    if "n_stimuli" not in frame.columns:
        return frame
    return frame[[_stimulus_set(n) == n_stimuli for n in frame["n_stimuli"]]]


def _sets_text(sets) -> str:
    return ", ".join("unknown" if n is None else str(n) for n in sets)


def measure_matrix(results, measure, *, params=None, rows=None, columns=None, n_stimuli=None):
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
    n_stimuli : int, optional
        Which stimulus set (the rows' ``n_stimuli``), when the representations
        were compared on several: values computed on different stimuli never
        share one matrix.

    Returns
    -------
    rows, columns : list of str
    matrix : ndarray of shape (len(rows), len(columns))

    Raises
    ------
    ValueError
        If the rows of the representations shown were computed on several
        stimulus sets and ``n_stimuli`` does not choose one.
    """
    rows, columns, matrix, _ = shown_matrix(results, measure, params=params, rows=rows,
                                            columns=columns, n_stimuli=n_stimuli)
    return rows, columns, matrix


def shown_matrix(results, measure, *, params=None, rows=None, columns=None, n_stimuli=None):
    """:func:`measure_matrix`, and the result rows it shows (a DataFrame) as a fourth value."""
    selected = _select(as_frame(results), measure, params)
    if rows is not None or columns is not None:
        wanted_a = set(selected["a"] if rows is None else rows)
        wanted_b = set(selected["b"] if columns is None else columns)
        wanted = wanted_a | wanted_b
        selected = selected[selected["a"].isin(wanted) & selected["b"].isin(wanted)]
    sets = stimulus_sets(selected)
    if n_stimuli is not None:
        if n_stimuli not in sets:
            raise ValueError(f"n_stimuli={n_stimuli!r}: the {measure} rows hold the stimulus "
                             f"sets of {_sets_text(sets)} stimuli")
        selected = in_stimulus_set(selected, n_stimuli)
    elif len(sets) > 1:
        raise ValueError(f"the {measure} rows were computed on {len(sets)} stimulus sets "
                         f"(n_stimuli {_sets_text(sets)}); values on different stimuli do "
                         "not belong in one matrix: pass n_stimuli= to choose one")
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
    shown = selected[[(a in row_index and b in col_index) or (b in row_index and a in col_index)
                      for a, b in zip(selected["a"], selected["b"])]]
    return rows, columns, matrix, shown


#: The colour map of each kind of measure: both sequential, and bright where
#: representations are alike (high similarity, low distance).
COLOUR_MAPS = {"similarity": "viridis", "distance": "magma_r"}


def colour_map(kind) -> str:
    """The matplotlib colour map of a measure of ``kind`` (``"similarity"`` or ``"distance"``)."""
    return COLOUR_MAPS.get(kind, "viridis")


def direction(kind) -> str:
    """Which way ``kind``'s values go as representations become alike."""
    if kind == "distance":
        return "lower = more alike"
    if kind == "similarity":
        return "higher = more alike"
    return "direction unknown"


def colour_label(measure, kind) -> str:
    """A colour bar's label: the measure, its kind and its direction."""
    if kind in COLOUR_MAPS:
        return f"{measure} ({kind}, {direction(kind)})"
    return str(measure)


def draw_matrix(figure, matrix, rows, columns, *, label, kind=None, xlabel=None, ylabel=None,
                title=None):
    """Draw ``matrix`` as an image with a colour bar; return the axes.

    ``kind`` (``"similarity"`` or ``"distance"``) picks the colour map
    (:data:`COLOUR_MAPS`) and adds the direction to the colour bar's label.
    """
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap=colour_map(kind), interpolation="nearest", aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize="small")
    ax.set_yticks(range(len(rows)), rows, fontsize="small")
    ax.set_xlabel(xlabel or "")
    ax.set_ylabel(ylabel or "")
    ax.set_title(title or "")
    figure.colorbar(image, ax=ax, label=label if kind is None else colour_label(label, kind))
    return ax


_CORRELATIONS = {"spearman": "Spearman", "pearson": "Pearson", "kendall": "Kendall"}


def _word(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return _CORRELATIONS.get(value, value)
    return str(value)


def _alphas(values) -> str:
    values = [float(v) for v in values]
    if len(values) == 1:
        return f"ridge penalty {values[0]:g}"
    return f"{len(values)} ridge penalties from {min(values):g} to {max(values):g}"


#: How to say a parameter in words, by its name; any other is said as "name = value".
_PARAM_WORDS = {
    "kernel": lambda v: f"{_word(v)} kernel",
    "sigma_frac": lambda v: f"kernel width {_word(v)} x the median distance",
    "estimator": lambda v: f"{_word(v)} estimator",
    "rdm": lambda v: f"RDMs from {_word(v)} distance",
    "compare": lambda v: f"RDMs compared by {_word(v)}"
                         + (" correlation" if v in _CORRELATIONS else ""),
    "k": lambda v: f"{_word(v)} nearest neighbours",
    "cv": lambda v: f"{_word(v)}-fold cross-validation",
    "seed": lambda v: f"seed {_word(v)}",
    "score": lambda v: f"scored by {_word(v)}" + (" correlation" if v in _CORRELATIONS else ""),
    "alphas": _alphas,
    "alpha_scale": lambda v: f"{_word(v)} penalties",
    "n_components": lambda v: f"{_word(v)} components",
    "variance": lambda v: f"components keeping {float(v):.0%} of the variance",
    "distance": lambda v: f"{_word(v)} distance",
    "lam": lambda v: f"ridge penalty {_word(v)}",
    "statistic": lambda v: f"statistic {_word(v)}",
    "eps": lambda v: f"regulariser {_word(v)}",
}


def params_in_words(params) -> str:
    """A measure's parameters (a dict or JSON text) as a phrase; ``"default parameters"`` if none.

    >>> params_in_words('{"compare":"spearman","rdm":"correlation"}')
    'RDMs compared by Spearman correlation, RDMs from correlation distance'
    """
    if isinstance(params, str):
        params = json.loads(params)
    words = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        say = _PARAM_WORDS.get(key)
        try:
            words.append(say(value) if say else f"{key} = {_word(value)}")
        except (TypeError, ValueError):
            words.append(f"{key} = {value}")
    return ", ".join(words) or "default parameters"


def _bounds_text(low, high) -> str:
    low, high = float(low), float(high)
    if np.isfinite(low) and np.isfinite(high):
        return f"from {low:.4g} to {high:.4g}"
    if np.isfinite(low):
        return f"from {low:.4g} up"
    if np.isfinite(high):
        return f"up to {high:.4g}"
    return "unbounded"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def colour_sentence(measure, kind) -> str:
    """What a matrix's colour means, in a sentence."""
    if kind == "similarity":
        return (f"Colour: the {measure} value ({colour_map(kind)} colour map); brighter = "
                "more alike. Blank cells: pairs without a result.")
    if kind == "distance":
        return (f"Colour: the {measure} value (reversed {colour_map(kind)[:-2]} colour map); "
                "brighter = lower distance = more alike. Blank cells: pairs without a result.")
    return f"Colour: the {measure} value. Blank cells: pairs without a result."


def describe_rows(rows, *, what, intervals="table") -> str:
    """A caption in sentences for a figure of ``rows`` (one measure at one setting).

    Parameters
    ----------
    rows : DataFrame
        The result rows the figure shows (as :func:`as_frame` returns).
    what : str
        What the figure is, e.g. ``"every pair of 21 representations"``.
    intervals : {"table", "bars"}
        Where the rows' intervals are: only in the results table, or drawn as
        error bars.
    """
    first = rows.iloc[0]
    measure, kind = str(first["measure"]), str(first["kind"])
    sets = stimulus_sets(rows)
    stimuli = ("on an unknown number of stimuli" if sets in ([], [None])
               else f"on {_sets_text(sets)} stimuli")
    text = [f"{_sentence(what)}: {measure} ({params_in_words(first['params'])}), {stimuli}."]
    if kind in COLOUR_MAPS:
        text.append(f"{measure} is a {kind} {_bounds_text(first['bound_low'], first['bound_high'])}"
                    f" ({direction(kind)}).")
    if "ci_low" in rows.columns and "ci_high" in rows.columns:
        low = rows["ci_low"].astype(float)
        high = rows["ci_high"].astype(float)
        has = (low.notna() & high.notna()).to_numpy()
        if has.any():
            width = float(np.median((high - low).to_numpy()[has]))
            where = ("drawn as error bars" if intervals == "bars"
                     else "listed in the results CSV")
            text.append(f"{int(has.sum())} of {len(rows)} values have an interval "
                        f"(median width {width:.3g}), {where}.")
    return " ".join(text)
