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

from ._common import as_frame

__all__ = ["report"]

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em; }
img { max-width: 100%; }
"""

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


def _default_figures(frame):
    """The figures of a report given none: what the results can show, bounded in number.

    - per measure (and setting) relating two or more representations: their
      matrix (:func:`~repalign.viz.model_matrix`), and the MDS model map
      (:func:`~repalign.viz.model_map`) where every pair of three or more
      representations is present;
    - for the first measure relating the layers (``"model/layer"`` names) of two
      or more models: layer x layer heatmaps of the first model against each
      other one;
    - for each target (a name without ``"/"``, e.g. a brain region) compared with
      two or more layers of a model: that model's alignment curve, from the
      first measure that relates them.

    At most :data:`MAX_DEFAULT_PANELS` heatmaps and as many curves.
    """
    from ._common import measure_matrix
    from .curves import alignment_curve_from_results, target_rows
    from .heatmap import layer_heatmap, model_matrix
    from .mds import model_map

    matrices, maps, heatmaps, curves = {}, {}, {}, {}
    for (measure, params), rows in frame.groupby(["measure", "params"], sort=False):
        names = list(dict.fromkeys([*rows["a"], *rows["b"]]))
        if len(names) < 2:
            continue
        label = measure if params == "{}" else f"{measure} {params}"
        setting = json.loads(params)
        matrices[label] = model_matrix(rows, measure)
        _, _, values = measure_matrix(rows, measure)
        off_diagonal = values[~np.eye(len(names), dtype=bool)]
        if len(names) >= 3 and not np.isnan(off_diagonal).any():
            maps[f"model map, {label}"] = model_map(rows, measure)
        models = list(dict.fromkeys(n.split("/", 1)[0] for n in names if "/" in n))
        if len(models) >= 2 and not heatmaps:
            for other in models[1:MAX_DEFAULT_PANELS + 1]:
                heatmaps[f"{label}: {models[0]} x {other}"] = layer_heatmap(
                    rows, models[0], other, measure, params=setting)
        symmetric = bool(rows["symmetric"].iloc[0])
        for target in (n for n in names if "/" not in n):
            layers = target_rows(rows, target, symmetric)["layer"]
            for model in models:
                key = (target, model)
                if (len(curves) < MAX_DEFAULT_PANELS and key not in curves
                        and layers.str.startswith(f"{model}/").sum() >= 2):
                    curves[key] = (label, alignment_curve_from_results(
                        rows, target, measure, model=model, params=setting))
    return {**matrices, **maps, **heatmaps,
            **{f"{model} vs {target}, {label}": figure
               for (target, model), (label, figure) in curves.items()}}


def _table(header, rows, numeric=()):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cell = '<td class="num">{}</td>', "<td>{}</td>"
    body = "".join(
        "<tr>" + "".join(cell[i not in numeric].format(html.escape(str(c)))
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
        The figures to embed (as base64 PNG), keyed by caption. Default:
        what the results can show (see Notes).

    Returns
    -------
    pathlib.Path
        ``path``. The file references nothing outside itself: no scripts, no
        style sheets, every image a ``data:`` URI.

    Notes
    -----
    Without ``figures``, the report draws, from the rows alone: each measure's
    representation matrix; its MDS model map where every pair of three or more
    representations is present; layer x layer heatmaps of the first model
    against each other one (names ``"model/layer"``); and, for each target
    named without ``"/"`` (a brain region, a behavioural embedding), the
    alignment curve of each model's layers, with the rows' CIs and
    FDR-corrected significance marks. Heatmaps and curves are capped at
    ``MAX_DEFAULT_PANELS`` each.

    Examples
    --------
    >>> import numpy as np, repalign, tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((30, 4))
    >>> rows = repalign.grid({"m/1": X, "m/2": X ** 3}, ["cka"])
    >>> out = repalign.report(rows, os.path.join(tempfile.mkdtemp(), "report.html"))
    >>> out.read_text().count("m/2") >= 1
    True
    """
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

    columns = [c for c in ("a", "b", "measure", "value", "ci_low", "ci_high", "p_value",
                           "n_stimuli") if c in frame.columns]
    numeric = {i for i, c in enumerate(columns) if c not in ("a", "b", "measure")}
    result_rows = [[_number(row[c]) if i in numeric else str(row[c])
                    for i, c in enumerate(columns)] for _, row in frame.iterrows()]
    settings = sorted({(m, p) for m, p in zip(frame["measure"], frame["params"])})
    parameter_rows = [[m, ", ".join(f"{k}={v!r}" for k, v in json.loads(p).items()) or "defaults"]
                      for m, p in settings]
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    images = "".join(
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{_png(figure)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, figure in figures.items())
    document = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Created {created}; {len(frame)} results, {frame['measure'].nunique()} measures.</p>"
        f"<h2>Figures</h2>{images or '<p>No figures.</p>'}"
        f"<h2>Results</h2>{_table(columns, result_rows, numeric)}"
        f"<h2>Parameters</h2>{_table(['measure', 'params'], parameter_rows)}"
        f"<h2>Versions</h2>{_table(['library', 'version'], _versions().items())}"
        "</body></html>\n")
    path.write_text(document, encoding="utf-8")
    return path
