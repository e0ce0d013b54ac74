"""One self-contained HTML report of alignment results."""

from __future__ import annotations

import base64
import html
import io
import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ._common import as_frame, measure_matrix

__all__ = ["report"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1.5em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
nav ol { padding-left: 1.5em; }
nav li { margin: 0.15em 0; }
nav ul.figures { list-style: none; padding-left: 1em; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 2em 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { max-width: 60em; margin-top: 0.5em; }
dt { font-weight: bold; margin-top: 0.6em; }
a.download { font-weight: bold; }
"""

#: What each kind of panel shows (``figure.repalign_panel``), for the report's guide.
PANELS = {
    "matrix": ("Representation matrix",
               "One measure between every pair of representations that were compared on "
               "the same stimuli. Cell [i, j] is the value of row i against column j; a "
               "symmetric measure fills both halves from one result. Blank cells were not "
               "computed."),
    "heatmap": ("Layer x layer heatmap",
                "Rows are the layers of one model, columns those of another, each in network "
                "order. A bright band along the diagonal means layers at the same depth are "
                "alike (Kornblith et al. 2019, Fig. 2)."),
    "map": ("Model map",
            "Classical multidimensional scaling of the measure's distances (a similarity s "
            "with upper bound t is read as the distance t - s): points that are close are "
            "alike. Only distances between points carry meaning; the axes' directions do "
            "not. Colour shows the model, lines join its layers in order, and a label is "
            "left out where it would cover another."),
    "curve": ("Alignment curve",
              "How well each layer of one model, in network order, matches one target (a "
              "brain region, behaviour). Error bars are the rows' intervals, the grey band "
              "the target's noise ceiling where given, stars the layers significant after "
              "correction for multiple comparisons."),
    "rdm": ("Representational dissimilarity matrix",
            "Dissimilarities between the responses to every pair of stimuli, with bars "
            "giving each stimulus's category (Kriegeskorte et al. 2008)."),
}

COLOURS_TEXT = ("Colours: similarities are drawn in the viridis colour map and distances in "
                "the reversed magma colour map, so that in both brighter means more alike; "
                "every colour bar names its measure, whether it is a similarity or a "
                "distance, and which way is more alike.")

_VERSIONED = ("repalign", "numpy", "scipy", "torch", "pandas", "matplotlib", "dask", "zarr",
              "xarray")


def _versions():
    """Python and the versions of the libraries in use (only those imported)."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _VERSIONED:
        module = sys.modules.get(name)
        if module is not None:
            out[name] = str(getattr(module, "__version__", "unknown"))
    return out


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _number(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if value != value else f"{value:.4g}"


#: The most layer heatmaps, and the most alignment curves, a default report draws.
MAX_DEFAULT_PANELS = 6


def _set_text(n) -> str:
    return "an unknown number of stimuli" if n is None else f"{n} stimuli"


def _default_figures(frame):
    """The figures of a report given none: what the results can show, bounded in number.

    Rows are taken one measure (and setting) and one stimulus set (the rows'
    ``n_stimuli``) at a time: representations compared on different stimuli
    never share a figure. For each such group relating two or more
    representations:

    - their matrix (:func:`~repalign.viz.model_matrix`), and the MDS model map
      (:func:`~repalign.viz.model_map`) where every pair of three or more
      representations is present;
    - for the first group relating the layers (``"model/layer"`` names) of two
      or more models: layer x layer heatmaps of the first model against each
      other one;
    - for each target (a name without ``"/"``, e.g. a brain region) compared with
      two or more layers of a model: that model's alignment curve, from the
      first group that relates them.

    At most :data:`MAX_DEFAULT_PANELS` heatmaps and as many curves. Keys are
    the figures' titles; each figure's ``repalign_caption`` says, where the
    rows hold several stimulus sets, that they were split.
    """
    from ._common import in_stimulus_set, params_in_words, stimulus_sets
    from .curves import alignment_curve_from_results, target_rows
    from .heatmap import layer_heatmap, model_matrix
    from .mds import model_map

    several = {m for m, n in frame.groupby("measure", sort=False)["params"].nunique().items()
               if n > 1}
    matrices, maps, heatmaps, curves = {}, {}, {}, {}
    for (measure, params), setting_rows in frame.groupby(["measure", "params"], sort=False):
        label = f"{measure} ({params_in_words(params)})" if measure in several else measure
        setting = json.loads(params)
        sets = stimulus_sets(setting_rows)
        for n_stimuli in sets:
            rows = in_stimulus_set(setting_rows, n_stimuli)
            names = list(dict.fromkeys([*rows["a"], *rows["b"]]))
            if len(names) < 2:
                continue
            where = "" if len(sets) == 1 else f", {_set_text(n_stimuli)}"
            note = "" if len(sets) == 1 else (
                f" The {label} rows hold {len(sets)} stimulus sets "
                f"({', '.join(_set_text(n) for n in sets)}); representations compared on "
                f"different stimuli are never put in one figure, so this one shows only "
                f"those compared on {_set_text(n_stimuli)}.")

            def noted(figure, note=note):
                figure.repalign_caption = getattr(figure, "repalign_caption", "") + note
                return figure

            matrices[f"{label}: every pair{where}"] = noted(model_matrix(rows, measure))
            _, _, values = measure_matrix(rows, measure)
            off_diagonal = values[~np.eye(len(names), dtype=bool)]
            if len(names) >= 3 and not np.isnan(off_diagonal).any():
                maps[f"{label}: model map{where}"] = noted(model_map(rows, measure))
            models = list(dict.fromkeys(n.split("/", 1)[0] for n in names if "/" in n))
            if len(models) >= 2 and not heatmaps:
                for other in models[1:MAX_DEFAULT_PANELS + 1]:
                    heatmaps[f"{label}: {models[0]} x {other}{where}"] = noted(layer_heatmap(
                        rows, models[0], other, measure, params=setting))
            symmetric = bool(rows["symmetric"].iloc[0])
            for target in (n for n in names if "/" not in n):
                layers = target_rows(rows, target, symmetric)["layer"]
                for model in models:
                    key = (target, model, n_stimuli)
                    if (len(curves) < MAX_DEFAULT_PANELS
                            and not any(k[:2] == key[:2] for k in curves)
                            and layers.str.startswith(f"{model}/").sum() >= 2):
                        curves[key] = (f"{model} vs {target}, {label}{where}",
                                       alignment_curve_from_results(
                                           rows, target, measure, model=model,
                                           params=setting))
    return {**matrices, **maps, **heatmaps, **dict(curves.values())}


def _table(header, rows, numeric=()):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cell = '<td class="num">{}</td>', "<td>{}</td>"
    body = "".join(
        "<tr>" + "".join(cell[i not in numeric].format(html.escape(str(c)))
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


#: The columns of the summary table, one row per measure, setting and stimulus set.
SUMMARY_COLUMNS = ("measure", "parameters", "kind", "stimuli", "pairs", "min", "median", "max",
                   "with interval", "with p-value")


def _summary_rows(frame):
    """Per measure, setting and stimulus set: its kind, stimuli, pairs and value range.

    A representation compared with itself is left out (its value is the
    measure's value for identical representations, not a finding).
    """
    from ._common import in_stimulus_set, params_in_words, stimulus_sets

    out = []
    frame = frame[frame["a"] != frame["b"]]
    for (measure, params), rows in frame.groupby(["measure", "params"], sort=False):
        for n_stimuli in stimulus_sets(rows):
            mine = in_stimulus_set(rows, n_stimuli)
            values = mine["value"].astype(float).to_numpy()
            finite = values[np.isfinite(values)]
            stats = ([_number(f(finite)) for f in (np.min, np.median, np.max)] if finite.size
                     else ["", "", ""])

            def count(*columns, mine=mine):
                if not all(c in mine.columns for c in columns):
                    return 0
                return int(mine[list(columns)].astype(float).notna().all(axis=1).sum())

            out.append([measure, params_in_words(params), str(mine["kind"].iloc[0]),
                        "unknown" if n_stimuli is None else n_stimuli, len(mine), *stats,
                        count("ci_low", "ci_high"), count("p_value")])
    return out


def _csv_link(frame) -> tuple[str, str]:
    """The rows as CSV in a ``data:`` URI, and a short description of it."""
    text = frame.to_csv(index=False, lineterminator="\n")
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    size = len(text.encode("utf-8"))
    return f"data:text/csv;charset=utf-8;base64,{encoded}", f"{size / 1024:.0f} kB"


def _figure_html(number, caption, figure) -> str:
    sentence = getattr(figure, "repalign_caption", "")
    heading = caption if caption.rstrip().endswith((".", "?", "!")) else f"{caption}."
    return (f'<figure id="figure-{number}"><img alt="{html.escape(caption)}" '
            f'src="data:image/png;base64,{_png(figure)}">'
            f"<figcaption><strong>Figure {number}. {html.escape(heading)}</strong> "
            f"{html.escape(sentence)}</figcaption></figure>")


def _guide(figures) -> str:
    """What each panel of the report shows, for the kinds of figures it holds."""
    numbers = {}
    for number, figure in enumerate(figures.values(), start=1):
        numbers.setdefault(getattr(figure, "repalign_panel", None), []).append(number)
    items = []
    for panel, (name, text) in PANELS.items():
        if panel in numbers:
            which = ", ".join(f'<a href="#figure-{n}">{n}</a>' for n in numbers[panel])
            items.append(f"<dt>{name} (figure {which})</dt><dd>{html.escape(text)}</dd>")
    others = [n for panel, ns in numbers.items() if panel not in PANELS for n in ns]
    if others:
        which = ", ".join(f'<a href="#figure-{n}">{n}</a>' for n in others)
        items.append(f"<dt>Other figures (figure {which})</dt><dd>Given by the report's "
                     "author; their captions say what they show.</dd>")
    items.append("<dt>Summary table</dt><dd>Per measure, setting and stimulus set: how many "
                 "pairs of different representations were compared, the smallest, median and "
                 "largest value, and how many have an interval and a p-value.</dd>")
    items.append("<dt>Data</dt><dd>Every result row (both representations, the measure, "
                 "its kind, bounds and parameters, the value, its interval and p-value where "
                 "computed, the number of stimuli) as a CSV file to download.</dd>")
    return (f"<p>{html.escape(COLOURS_TEXT)} Representations compared on different stimulus "
            "sets (a different number of stimuli) are never shown in one matrix or map.</p>"
            f"<dl>{''.join(items)}</dl>")


def report(results, path, *, title="repalign report", figures=None):
    """Write one self-contained HTML file with the results, figures and versions.

    Parameters
    ----------
    results : pandas.DataFrame, ResultStore, str or os.PathLike
        The result rows (columns ``a``, ``b``, ``measure``, ``params``,
        ``value`` and optionally ``ci_low``, ``ci_high``, ``p_value``,
        ``n_stimuli``), a :class:`repalign.ResultStore` (anything with
        ``to_dataframe()``), or the path of a ``results.db`` (opened read-only).
    path : str or os.PathLike
        The HTML file to write; its folder must exist.
    title : str, default="repalign report"
    figures : dict of str to matplotlib Figure, or sequence of Figure, optional
        The figures to embed (as base64 PNG), keyed by their titles. Default:
        what the results can show (see Notes). A figure drawn by
        :mod:`repalign.viz` carries a caption in sentences
        (``figure.repalign_caption``), shown after its title.

    Returns
    -------
    pathlib.Path
        ``path``. The file references nothing outside itself: no scripts, no
        style sheets, every image and the CSV download a ``data:`` URI.

    Notes
    -----
    The page has a table of contents; a summary (per measure, setting and
    stimulus set: the number of pairs and the smallest, median and largest
    value); a guide to what each panel shows; the figures, numbered, each with
    a caption naming the measure, its parameters in words, the number of
    stimuli, what the colour means and the intervals where present; every
    result row as a CSV file to download (a ``data:`` link); the measures'
    parameters; and the library versions.

    Without ``figures``, the report draws, from the rows alone, one measure
    (and setting) and one stimulus set at a time: the representation matrix;
    its MDS model map where every pair of three or more representations is
    present; layer x layer heatmaps of the first model against each other one
    (names ``"model/layer"``); and, for each target named without ``"/"`` (a
    brain region, a behavioural embedding), the alignment curve of each
    model's layers, with the rows' intervals and FDR-corrected significance
    marks. Heatmaps and curves are capped at ``MAX_DEFAULT_PANELS`` each.

    Examples
    --------
    >>> import numpy as np, repalign, tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((30, 4))
    >>> rows = repalign.grid({"m/1": X, "m/2": X ** 3}, ["cka"])
    >>> out = repalign.report(rows, os.path.join(tempfile.mkdtemp(), "report.html"))
    >>> "Download" in out.read_text()
    True
    """
    from ._common import params_in_words, stimulus_sets

    frame = as_frame(results)
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path={str(path)!r}: the folder {str(path.parent)!r} does "
                                "not exist; create it first")
    if figures is None:
        figures = _default_figures(frame)
    elif not isinstance(figures, dict):
        figures = {f"Figure {i + 1}": figure for i, figure in enumerate(figures)}
    for caption, figure in figures.items():
        if not hasattr(figure, "savefig"):
            raise TypeError(f"figures[{caption!r}] must be a matplotlib Figure; "
                            f"got {type(figure).__name__}")

    numeric = set(range(3, len(SUMMARY_COLUMNS)))
    summary = _table(SUMMARY_COLUMNS, _summary_rows(frame), numeric)
    settings = list(dict.fromkeys(zip(frame["measure"], frame["params"])))
    parameter_rows = [[m, params_in_words(p), p] for m, p in settings]
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    names = set(frame["a"]) | set(frame["b"])
    sets = [n for n in stimulus_sets(frame) if n is not None]
    sets_text = (f", on {len(sets)} stimulus set{'s' * (len(sets) != 1)} "
                 f"({', '.join(map(str, sorted(sets)))} stimuli)" if sets else "")
    images = "".join(_figure_html(i, caption, figure)
                     for i, caption in enumerate(figures, start=1)
                     for figure in [figures[caption]])
    href, size = _csv_link(frame)
    sections = [
        ("summary", "Summary",
         f"<p>{len(frame)} results of {frame['measure'].nunique()} measures between "
         f"{len(names)} representations{sets_text}.</p>{summary}"),
        ("guide", "What each panel shows", _guide(figures)),
        ("figures", "Figures", images or "<p>No figures.</p>"),
        ("data", "Data",
         f'<p><a class="download" download="results.csv" href="{href}">Download all '
         f"{len(frame)} result rows as CSV</a> ({size}; columns: "
         f"{html.escape(', '.join(map(str, frame.columns)))}).</p>"),
        ("parameters", "Parameters",
         _table(["measure", "parameters", "as stored"], parameter_rows)),
        ("versions", "Versions", _table(["library", "version"], _versions().items())),
    ]
    figure_links = "".join(f'<li><a href="#figure-{i}">{i}. {html.escape(caption)}</a></li>'
                           for i, caption in enumerate(figures, start=1))
    contents = "".join(
        f'<li><a href="#{key}">{name}</a>'
        + (f'<ul class="figures">{figure_links}</ul>' if key == "figures" and figure_links
           else "") + "</li>"
        for key, name, _ in sections)
    body = "".join(f'<section id="{key}"><h2>{name}</h2>{content}</section>'
                   for key, name, content in sections)
    document = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>Created {created} with repalign.</p>"
        "</header>"
        f'<nav id="contents"><h2>Contents</h2><ol>{contents}</ol></nav>'
        f"{body}</body></html>\n")
    path.write_text(document, encoding="utf-8")
    return path
