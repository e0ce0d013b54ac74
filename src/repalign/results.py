"""Result objects and result rows: a comparison is a value with its uncertainty and its meaning.

A *result row* is one comparison of two representations by one measure, as the
grid returns it, the :class:`~repalign.ResultStore` keeps it and the figures
read it. It carries what a reader needs to interpret the value without the
measure's code: the measure's kind (similarity or distance), its symmetry, its
bounds and its canonical parameters (:func:`measure_fields`), so a results file
written with a plugin measure can be plotted where the plugin is not installed.
"""

from __future__ import annotations

import json
import math
import operator
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PairResult", "GridResult", "GridRows", "MeasureRows", "COLUMNS", "canonical_params",
           "measure_fields", "read_results", "select_rows", "rows_frame", "SCHEMA_VERSION"]

#: Columns of a result row, in the order of :meth:`repalign.ResultStore.rows` and the exports.
COLUMNS = ("a", "b", "hash_a", "hash_b", "measure", "params", "kind", "symmetric",
           "bound_low", "bound_high", "value", "ci_low", "ci_high", "p_value", "n_stimuli",
           "seconds", "library_version", "created")

#: Layout version of a result store file: 2 added the measure's kind, symmetry and
#: bounds to every row and the representations' names to its key; 3 stores what rows
#: share (representations, measure configurations, library version and time of a
#: write) once, in tables of their own, and the rows in the view ``result_rows``.
SCHEMA_VERSION = 3

_FLOATS = ("bound_low", "bound_high", "value", "ci_low", "ci_high", "p_value", "seconds")
_MEASURE_FLAGS = ("kind", "symmetric", "bound_low", "bound_high")


def _json_default(obj: Any) -> Any:
    """Turn NumPy scalars and arrays into Python numbers and lists for JSON."""
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def canonical_params(params: Mapping[str, Any]) -> str:
    """The canonical JSON text of a measure's parameters, used in a row's key.

    Parameters
    ----------
    params : mapping of str to JSON-compatible values
        Tuples become lists and NumPy scalars and arrays become Python numbers
        and lists, so equal parameters give equal text.

    Returns
    -------
    str
        ``json.dumps(params, sort_keys=True, separators=(",", ":"))``.

    Examples
    --------
    >>> canonical_params({"b": (1, 2), "a": 0.5})
    '{"a":0.5,"b":[1,2]}'
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of parameters; got {type(params).__name__}")
    bad = [k for k in params if not isinstance(k, str)]
    if bad:
        raise TypeError(f"params keys must be str; got {bad!r}")
    try:
        return json.dumps(dict(params), sort_keys=True, separators=(",", ":"),
                          allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as err:
        raise ValueError(f"params must be JSON-serialisable without NaN or infinity; "
                         f"{params!r} is not ({err})") from None


def measure_fields(measure) -> dict:
    """The fields of a result row that describe its measure.

    Parameters
    ----------
    measure : Measure
        A configured measure (anything with ``name``, ``params``, ``kind``,
        ``symmetric`` and ``bounds``).

    Returns
    -------
    dict
        ``measure`` (its name), ``params`` (a dict), ``kind``, ``symmetric``,
        ``bound_low`` and ``bound_high``.
    """
    low, high = measure.bounds
    return {"measure": measure.name, "params": dict(measure.params), "kind": measure.kind,
            "symmetric": bool(measure.symmetric), "bound_low": float(low),
            "bound_high": float(high)}


def select_rows(connection: sqlite3.Connection, measure: str | None = None,
                params: str | None = None) -> list[dict]:
    """The rows of a result store's SQLite connection, in the order they were stored.

    Parameters
    ----------
    connection : sqlite3.Connection
    measure : str or None, default=None
        Keep only this measure's rows.
    params : str or None, default=None
        Keep only rows with these parameters, as canonical JSON
        (:func:`canonical_params`).

    Returns
    -------
    list of dict
        ``params`` decoded to a dict (each distinct text decoded once, each row
        given its own dict), ``symmetric`` to a bool and a stored NULL value to
        NaN (SQLite has no NaN).
    """
    filters = [(column, value) for column, value in (("measure", measure), ("params", params))
               if value is not None]
    where = " AND ".join(f"{column} = ?" for column, _ in filters)
    records = connection.execute(
        f"SELECT {', '.join(COLUMNS)} FROM result_rows{' WHERE ' + where if where else ''} "
        "ORDER BY id", [value for _, value in filters]).fetchall()
    decoded: dict[str, dict] = {}
    at_params, at_symmetric, at_value = (COLUMNS.index(c) for c in ("params", "symmetric",
                                                                       "value"))
    out = []
    for record in records:
        row = dict(zip(COLUMNS, record))
        text = record[at_params]
        if text not in decoded:
            decoded[text] = json.loads(text)
        row["params"] = dict(decoded[text])
        row["symmetric"] = bool(record[at_symmetric])
        if record[at_value] is None:
            row["value"] = math.nan
        out.append(row)
    return out


def schema_version(connection: sqlite3.Connection, path) -> int:
    """The layout version of a result store, refusing any this repalign cannot read."""
    try:
        tables = sorted(t for (t,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))
    except sqlite3.DatabaseError:
        raise ValueError(f"{str(path)!r} is not an SQLite file, so not a repalign result "
                         "store") from None
    if "schema_version" not in tables:
        raise ValueError(f"{str(path)!r} is not a repalign result store (it has no "
                         f"schema_version table; its tables: {tables or 'none'})")
    versions = [v for (v,) in connection.execute("SELECT version FROM schema_version")]
    if versions == [2]:
        raise ValueError(
            f"result store {str(path)!r} has schema version [2] (an earlier repalign); this "
            f"repalign reads version {SCHEMA_VERSION}. Open it once for writing, with "
            "repalign.ResultStore(path), to upgrade it in place (its rows are kept)")
    if versions != [SCHEMA_VERSION]:
        raise ValueError(
            f"result store {str(path)!r} has schema version {versions}; this repalign reads "
            f"version {SCHEMA_VERSION}. Version 1 files (repalign 0.1) lack the measures' "
            "kind, symmetry and bounds in their rows: recompute into a new file (the old "
            "one is left untouched)")
    return versions[0]


def read_results(path) -> list[dict]:
    """The rows of the result store file ``path``, read without writing to it.

    Parameters
    ----------
    path : str or path-like
        A ``results.db`` written by :class:`repalign.ResultStore`.

    Returns
    -------
    list of dict
        As :meth:`repalign.ResultStore.rows`.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If it is not a result store of this layout version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results={str(path)!r} is not a file; expected the path of a "
                                "results.db written by repalign.ResultStore")
    connection = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        schema_version(connection, path)
        return select_rows(connection)
    finally:
        connection.close()


def rows_frame(rows) -> Any:
    """Result rows as a pandas DataFrame: :data:`COLUMNS`, ``params`` as canonical JSON.

    Statistics not computed are NaN; a column a row lacks (``created`` of a row
    not yet stored) is missing (None).
    """
    import pandas as pd

    records = [{c: canonical_params(r[c]) if c == "params" else r.get(c) for c in COLUMNS}
               for r in rows]
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return frame.astype({**{c: "float64" for c in _FLOATS}, "n_stimuli": "int64",
                         "symmetric": "bool"})


_PHIPSON_SMYTH = ("Phipson & Smyth (2010). Permutation p-values should never be zero: "
                  "calculating exact p-values when permutations are randomly drawn. "
                  "Stat. Appl. Genet. Mol. Biol. 9(1), Article 39.")
#: The references of each interval method.
_INTERVAL_REFERENCES = {
    "bootstrap": "Efron & Tibshirani (1993). An Introduction to the Bootstrap. Chapman & Hall.",
    "jackknife": "Quenouille (1956). Notes on bias in estimation. Biometrika 43(3-4):353-360. "
                 "Efron & Tibshirani (1993). An Introduction to the Bootstrap, ch. 11. "
                 "Chapman & Hall.",
}

#: What each interval method's interval is of, as a result states it.
_INTERVAL_MEANING = {
    "jackknife": "jackknife interval of the population value",
    "bootstrap": "percentile bootstrap interval of the estimator",
}

_SCALARS = ("value", "ci_low", "ci_high", "interval", "p_value", "null_mean", "null_std",
            "calibrated", "measure", "kind", "symmetric", "bounds", "n_stimuli",
            "n_permutations", "n_bootstrap", "ci_level")


@dataclass(frozen=True)
class PairResult:
    """One comparison of two representations, with its permutation test and interval.

    Returned by :func:`repalign.compare`. Quantities that were not computed
    (``n_permutations=0``, ``interval=None``) are None.

    Attributes
    ----------
    value : float
        The measure between X and Y.
    ci_low, ci_high : float or None
        The interval at level ``ci_level`` (NaN if the measure was undefined on
        every resample).
    interval : {"jackknife", "bootstrap"} or None
        What the interval is: ``"jackknife"``, a bias-corrected jackknife
        interval of the measure's population value; ``"bootstrap"``, the
        percentile interval of the estimator over resamples with replacement.
    p_value : float or None
        One-sided permutation p-value in the direction of "more aligned":
        ``(1 + #{null >= value}) / (1 + n_permutations)`` for a similarity,
        ``<=`` for a distance.
    null_mean, null_std : float or None
        Mean and standard deviation (ddof=1) of the permutation values: the
        chance level of the measure for these two representations.
    calibrated : float or None
        ``(value - null_mean) / (1 - null_mean)`` for a similarity whose largest
        value is 1: 0 at chance, 1 for perfect alignment (None for distances and
        unbounded similarities).
    measure : str
        The measure's registry name.
    params : dict
        All its parameters (defaults included).
    kind : {"similarity", "distance"}
    symmetric : bool
        Whether the measure is symmetric in its two arguments.
    bounds : tuple of float
        The range of values the measure can take.
    references : tuple of str
        The papers the measure follows.
    n_stimuli, n_permutations, n_bootstrap : int
    ci_level : float
    null_distribution, bootstrap_distribution, jackknife_values : ndarray or None
        The permutation values, the bootstrap values and the values with each
        group of stimuli left out (read-only; NaN where the measure was
        undefined on a resample).
    interval_note : str or None
        Why there is no interval (its coverage was not established for this
        measure), what it was computed from, or its caveat.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 5))
    >>> result = repalign.compare(X, X @ rng.standard_normal((5, 5)), n_permutations=99,
    ...                           seed=0)
    >>> result.p_value, result.interval
    (0.01, 'jackknife')
    >>> sorted(result.to_dict())[:4]
    ['bounds', 'calibrated', 'ci_high', 'ci_level']
    """

    value: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    null_mean: float | None
    null_std: float | None
    calibrated: float | None
    measure: str
    params: dict
    kind: str
    symmetric: bool
    bounds: tuple
    references: tuple
    n_stimuli: int
    n_permutations: int
    n_bootstrap: int
    ci_level: float
    interval: str | None = None
    null_distribution: np.ndarray | None = field(default=None, repr=False, compare=False)
    bootstrap_distribution: np.ndarray | None = field(default=None, repr=False,
                                                      compare=False)
    jackknife_values: np.ndarray | None = field(default=None, repr=False, compare=False)
    interval_note: str | None = None

    def __post_init__(self) -> None:
        for name in ("null_distribution", "bootstrap_distribution", "jackknife_values"):
            values = getattr(self, name)
            if values is not None:
                values = np.array(values, dtype=np.float64)
                values.setflags(write=False)
                object.__setattr__(self, name, values)

    def to_dict(self) -> dict[str, Any]:
        """The scalar fields and the parameters, e.g. for a DataFrame or a ResultStore row.

        The distributions are left out.
        """
        out = {name: getattr(self, name) for name in _SCALARS}
        out["params"] = dict(self.params)
        return out

    @property
    def citation(self) -> str:
        """References for the measure and for the statistics that were computed.

        One reference per line: the papers the measure follows, then
        Phipson & Smyth (2010) for the p-value and the interval method's
        references when they were computed.
        """
        refs = list(self.references)
        if self.p_value is not None:
            refs.append(_PHIPSON_SMYTH)
        if self.interval is not None:
            refs.append(_INTERVAL_REFERENCES[self.interval])
        return "\n".join(refs)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        name = f"{self.measure}({params})" if params else self.measure
        lines = [f"PairResult: {name}, a {self.kind}, {self.n_stimuli} stimuli"]
        value = f"  value       {self.value:.4g}"
        if self.interval is not None:
            value += (f"   {100 * self.ci_level:g}% CI [{self.ci_low:.4g}, {self.ci_high:.4g}]"
                      f" ({_INTERVAL_MEANING[self.interval]}"
                      + (f", {self.n_bootstrap} resamples)" if self.interval == "bootstrap"
                         else ")"))
        lines.append(value)
        if self.interval_note is not None:
            lines.append(f"  interval    {self.interval_note}")
        if self.p_value is not None:
            direction = ">=" if self.kind == "similarity" else "<="
            lines.append(f"  p           {self.p_value:.4g}   (one-sided, null {direction} "
                         f"value, {self.n_permutations} permutations)")
            lines.append(f"  null        {self.null_mean:.4g} +- {self.null_std:.4g}")
        if self.calibrated is not None:
            lines.append(f"  calibrated  {self.calibrated:.4g}   "
                         "((value - null_mean) / (1 - null_mean))")
        return "\n".join(lines)


#: Columns of :meth:`GridResult.to_dataframe`; the statistics only when they were asked for.
_GRID_COLUMNS = ("a", "b", "measure", "params", "kind", "symmetric", "bound_low", "bound_high",
                 "value")
_GRID_STATS = ("ci_low", "ci_high", "p_value")
_GRID_EXTRA = ("n_stimuli", "seconds", "hash_a", "hash_b")


@dataclass(frozen=True)
class GridResult:
    """The pairwise comparisons of a grid, returned by :func:`repalign.grid`.

    Attributes
    ----------
    representations : tuple of str
        The names of the grid's representations, in order.
    rows : sequence of dict
        One result row per computed pair and measure (a :class:`GridRows`,
        which makes each row when it is read), with the keys of
        :data:`COLUMNS` (``created`` only on rows read back from a store):
        ``a``, ``b``, ``hash_a``, ``hash_b``, the measure's fields
        (:func:`measure_fields`: ``measure``, ``params`` as a dict, ``kind``,
        ``symmetric``, ``bound_low``, ``bound_high``), ``value``, ``ci_low``,
        ``ci_high``, ``p_value`` (None when not computed), ``n_stimuli``,
        ``seconds`` and ``library_version``. A symmetric measure has one row
        per unordered pair.
    statistics : bool
        Whether p-values and intervals were asked for.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((30, 4))
    >>> result = repalign.grid({"a": X, "b": X ** 3}, ["cka"])
    >>> result.to_dataframe()[["a", "b", "kind"]].values.tolist()
    [['a', 'a', 'similarity'], ['a', 'b', 'similarity'], ['b', 'b', 'similarity']]
    >>> result.to_xarray("cka").shape
    (2, 2)
    """

    representations: tuple
    rows: Sequence
    statistics: bool = False

    def to_dataframe(self):
        """A tidy :class:`pandas.DataFrame`, one row per pair and measure.

        Returns
        -------
        pandas.DataFrame
            Columns ``a``, ``b``, ``measure``, ``params`` (canonical JSON text,
            sorted keys), ``kind``, ``symmetric``, ``bound_low``, ``bound_high``,
            ``value``, then ``ci_low``, ``ci_high`` and ``p_value`` when
            statistics were asked for, then ``n_stimuli``, ``seconds``,
            ``hash_a`` and ``hash_b``.
        """
        import pandas as pd

        columns = _GRID_COLUMNS + (_GRID_STATS if self.statistics else ()) + _GRID_EXTRA
        if not isinstance(self.rows, GridRows):
            return rows_frame(self.rows)[list(columns)]
        rows = self.rows
        frames = [part.frame(rows.names, rows.hashes) for part in rows.parts]
        return pd.concat(frames, ignore_index=True)[list(columns)]

    def to_xarray(self, measure: str, params: dict | None = None):
        """The representation x representation matrix of one measure.

        Parameters
        ----------
        measure : str
            A measure of the grid.
        params : dict, optional
            Some of its parameters, to choose among several configurations the
            grid ran (rows whose parameters include these items).

        Returns
        -------
        xarray.DataArray of shape (n_representations, n_representations)
            Dimensions ``a`` and ``b``, both labelled with the representation
            names; entry ``[a, b]`` is the measure between ``a`` and ``b``,
            mirrored to ``[b, a]`` for a symmetric measure; NaN where no pair was
            computed. The attributes hold the measure, its kind and parameters.

        Raises
        ------
        ValueError
            If the grid has no row of ``measure`` (with ``params``), or ran it with
            several configurations that ``params`` does not tell apart.
        """
        import xarray as xr

        index = {name: k for k, name in enumerate(self.representations)}
        matrix = np.full((len(index), len(index)), np.nan)
        if isinstance(self.rows, GridRows):
            chosen = _configuration([p.fields for p in self.rows.parts], measure, params)
            parts = [p for p in self.rows.parts if p.fields["measure"] == measure
                     and canonical_params(p.fields["params"]) == chosen]
            at = np.array([index[n] for n in self.rows.names], dtype=np.int64)
            for part in parts:
                first, second = at[part.first], at[part.second]
                matrix[first, second] = part.value
                if part.fields["symmetric"]:
                    matrix[second, first] = part.value
            kind = parts[0].fields["kind"]
        else:
            rows = matching_rows(self.rows, measure, params)
            for r in rows:
                i, j = index[r["a"]], index[r["b"]]
                matrix[i, j] = r["value"]
                if r["symmetric"]:
                    matrix[j, i] = r["value"]
            kind, chosen = rows[0]["kind"], canonical_params(rows[0]["params"])
        names = list(self.representations)
        return xr.DataArray(matrix, dims=("a", "b"), coords={"a": names, "b": names},
                            name=measure, attrs={"measure": measure, "kind": kind,
                                                 "params": chosen})


class MeasureRows:
    """The rows of one measure of a grid, in the plan's order, held as columns.

    A grid of L representations has up to L (L + 1) / 2 rows per measure; as
    dicts they take about 460 bytes each (250 MiB at L = 1000), as these
    columns about 50. What the rows share (the measure's fields and the
    library version) is held once; a row is made as a dict when it is read
    (:class:`GridRows`). Rows read back from a result store are kept whole,
    with their own ``library_version`` and ``created``.

    Parameters
    ----------
    fields : dict
        What the rows share: :func:`measure_fields` and ``library_version``.
    pairs : sequence of (int, int)
        The planned pairs of representation indices, in the plan's order.
    statistics : bool
        Whether the rows carry ``ci_low``, ``ci_high`` and ``p_value`` (else
        they are None).
    """

    def __init__(self, fields: dict, pairs, statistics: bool) -> None:
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        self.fields = fields
        self.first, self.second = pairs[:, 0].astype(np.int32), pairs[:, 1].astype(np.int32)
        self.value = np.full(len(pairs), np.nan)
        self.seconds = np.full(len(pairs), np.nan)
        self.n_stimuli = np.zeros(len(pairs), dtype=np.int64)
        self.stats = np.full((len(pairs), 3), None, dtype=object) if statistics else None
        self.filled = np.zeros(len(pairs), dtype=bool)
        self.stored: dict[int, dict] = {}
        self._width = int(pairs.max()) + 1 if len(pairs) else 1
        keys = pairs[:, 0] * self._width + pairs[:, 1]
        self._order = np.argsort(keys, kind="stable")
        self._keys = keys[self._order]

    def __len__(self) -> int:
        return len(self.first)

    @property
    def nbytes(self) -> int:
        """Bytes of the columns and of the lookup of pairs (not of rows read back from a store)."""
        arrays = (self.first, self.second, self.value, self.seconds, self.n_stimuli,
                  self.filled, self._order, self._keys)
        return sum(a.nbytes for a in arrays) + (0 if self.stats is None else self.stats.nbytes)

    def positions(self, first, second) -> np.ndarray:
        """The rows' positions of planned pairs ``(first[k], second[k])``."""
        keys = np.asarray(first, dtype=np.int64) * self._width + np.asarray(second, np.int64)
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        if len(keys) and not np.array_equal(self._keys[at], keys):
            raise KeyError("pairs that are not in the plan")
        return self._order[at]

    def keep(self, stored: Mapping[tuple[int, int], dict]) -> None:
        """Hold rows read back from a result store, by pair (their numbers also in the
        columns, which the tables of :class:`GridResult` read)."""
        if not stored:
            return
        pairs = list(stored)
        at = self.positions([p[0] for p in pairs], [p[1] for p in pairs])
        self.stored.update(zip(at.tolist(), stored.values()))
        self.put([(i, j, row) for (i, j), row in stored.items()])

    def put(self, computed) -> np.ndarray:
        """Hold computed pairs ``(i, j, row values, ...)``, as the grid's tiles give them;
        their positions."""
        at = self.positions([c[0] for c in computed], [c[1] for c in computed])
        if not computed:
            return at
        self.value[at] = [float(c[2]["value"]) for c in computed]
        self.seconds[at] = [c[2]["seconds"] for c in computed]
        self.n_stimuli[at] = [c[2]["n_stimuli"] for c in computed]
        if self.stats is not None:
            self.stats[at] = [(c[2]["ci_low"], c[2]["ci_high"], c[2]["p_value"])
                              for c in computed]
        self.filled[at] = True
        return at

    def columns(self, at) -> dict:
        """The rows at positions ``at`` as :meth:`ResultStore.put_columns
        <repalign.store.results.ResultStore.put_columns>` takes them (NaN for a statistic
        not computed)."""
        stats = None if self.stats is None else np.where(
            self.stats[at] == None, np.nan, self.stats[at]).astype(float)  # noqa: E711
        return {"first": self.first[at], "second": self.second[at], "value": self.value[at],
                "n_stimuli": self.n_stimuli[at], "seconds": self.seconds[at], "stats": stats}

    def pending(self) -> np.ndarray:
        """The planned pairs that have no row yet, in the plan's order: shape (k, 2)."""
        return np.stack([self.first, self.second], axis=1)[~self.filled]

    def frame(self, names, hashes):
        """The rows as a :func:`rows_frame` DataFrame, built from the columns."""
        import pandas as pd

        names, hashes = np.asarray(names, dtype=object), np.asarray(hashes, dtype=object)
        stats = self.columns(slice(None))["stats"]
        stats = np.full((len(self), 3), np.nan) if stats is None else stats
        version = np.full(len(self), self.fields["library_version"], dtype=object)
        created = np.full(len(self), None, dtype=object)
        for k, row in self.stored.items():
            version[k], created[k] = row.get("library_version"), row.get("created")
        shared = {"measure": self.fields["measure"], "params": canonical_params(
            self.fields["params"]), **{c: self.fields[c] for c in _MEASURE_FLAGS}}
        columns = {"a": names[self.first], "b": names[self.second],
                   "hash_a": hashes[self.first], "hash_b": hashes[self.second],
                   **{c: np.full(len(self), v, dtype=object) for c, v in shared.items()},
                   "value": self.value, "ci_low": stats[:, 0], "ci_high": stats[:, 1],
                   "p_value": stats[:, 2], "n_stimuli": self.n_stimuli, "seconds": self.seconds,
                   "library_version": version, "created": created}
        frame = pd.DataFrame(columns, columns=list(COLUMNS))
        return frame.astype({**{c: "float64" for c in _FLOATS}, "n_stimuli": "int64",
                             "symmetric": "bool"})

    def row(self, k: int, names, hashes) -> dict:
        """Row ``k`` as a dict (the keys of :data:`COLUMNS` but ``created``, unless stored)."""
        if k in self.stored:
            return dict(self.stored[k])
        i, j = int(self.first[k]), int(self.second[k])
        ci_low, ci_high, p_value = (None, None, None) if self.stats is None else self.stats[k]
        return {"a": names[i], "b": names[j], "hash_a": hashes[i], "hash_b": hashes[j],
                **self.fields, "value": float(self.value[k]), "ci_low": ci_low,
                "ci_high": ci_high, "p_value": p_value, "n_stimuli": int(self.n_stimuli[k]),
                "seconds": float(self.seconds[k])}


class GridRows(Sequence):
    """The rows of a grid, one :class:`MeasureRows` after the other: a sequence of dicts.

    Each row is made as a dict when it is read, so the rows of a large grid
    take the memory of their columns, not of their dicts. Compares equal to
    any sequence of equal rows.

    Parameters
    ----------
    names, hashes : sequence of str
        The representations' names and content hashes, indexed by the pairs.
    parts : sequence of MeasureRows
        One per measure configuration, in the grid's order.

    Attributes
    ----------
    names, hashes, parts : tuple
        As given.
    """

    def __init__(self, names, hashes, parts) -> None:
        self.names, self.hashes, self.parts = tuple(names), tuple(hashes), tuple(parts)
        unfilled = sum(int((~p.filled).sum()) for p in self.parts)
        if unfilled:
            raise ValueError(f"{unfilled} planned pairs have no row")
        self._starts = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[k] for k in range(*index.indices(len(self))))
        k = operator.index(index)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"row {index} of {len(self)}")
        part = int(np.searchsorted(self._starts, k, side="right")) - 1
        return self.parts[part].row(k - int(self._starts[part]), self.names, self.hashes)

    def __iter__(self):
        for part in self.parts:
            for k in range(len(part)):
                yield part.row(k, self.names, self.hashes)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self) -> str:
        shown = ", ".join(repr(r) for r in self[:2])
        more = f", ... ({len(self)} rows)" if len(self) > 2 else ""
        return f"GridRows([{shown}{more}])"


def matching_rows(rows, measure: str, params: Mapping | None = None) -> list[dict]:
    """The rows of one configuration of ``measure``.

    Parameters
    ----------
    rows : iterable of dict
        Result rows.
    measure : str
    params : mapping, optional
        Items the configuration's parameters must include; needed when the rows
        hold several configurations of ``measure``.

    Raises
    ------
    ValueError
        If no configuration matches, or several do.
    """
    rows = list(rows)
    chosen = _configuration(rows, measure, params)
    return [r for r in rows
            if r["measure"] == measure and canonical_params(r["params"]) == chosen]


def _configuration(rows, measure: str, params: Mapping | None) -> str:
    """The canonical parameters of the one configuration of ``measure`` in ``rows`` (dicts
    with ``measure`` and ``params``) whose parameters include ``params``.

    Raises
    ------
    ValueError
        If no configuration matches, or several do.
    """
    wanted = {} if params is None else json.loads(canonical_params(params))
    held = {(r["measure"], canonical_params(r["params"])) for r in rows}
    configurations = {text for name, text in held if name == measure
                      and all(json.loads(text).get(k, _MISSING) == v for k, v in wanted.items())}
    if len(configurations) != 1:
        problem = "no" if not configurations else "several configurations of"
        raise ValueError(
            f"the results have {problem} measure={measure!r}"
            f"{'' if params is None else f' with params including {dict(params)!r}'}; they "
            f"hold {sorted(held)}" + ("; pass params to choose one" if configurations else ""))
    (chosen,) = configurations
    return chosen


_MISSING = object()
