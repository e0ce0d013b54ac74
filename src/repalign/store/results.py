"""Comparison results on disk: one SQLite row per (A, B, their contents, measure, parameters).

:class:`ResultStore` keeps what a grid computed so that a rerun skips it, a run
killed at any moment resumes without losing a finished row, and two runs of the
same grid at once never store a row twice. The row schema (its columns, the
canonical parameters, the measure's kind, symmetry and bounds) is defined in
:mod:`repalign.results`; this module keeps rows durable.

Layout of a store file (SQLite, write-ahead log), version 3: what a row shares
with other rows (a representation's name and content hash, a measure's
configuration, the library version and time of a write) is stored once and
referred to by its id::

    schema_version(version)             one row: the layout version of this file (3)
    representations(id, name, hash)     UNIQUE (name, hash)
    measures(id, measure, params, kind, symmetric, bound_low, bound_high)
                                        UNIQUE (measure, params)
    writes(id, library_version, created)   UNIQUE (library_version, created)
    results(id, a, b, measure, value, ci_low, ci_high, p_value, n_stimuli, seconds,
            written)                    UNIQUE (a, b, measure); a, b, measure and
                                        written are ids of the tables above
    result_rows                         a view: the rows with the columns of
                                        repalign.results.COLUMNS

Version 2 files (one table holding every column in every row) are upgraded in
place, in one transaction, when opened for writing.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import numbers
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..results import (
    COLUMNS,
    SCHEMA_VERSION,
    canonical_params,
    rows_frame,
    schema_version,
    select_rows,
)
from . import _claims
from ._base import Store

__all__ = ["ResultStore"]

_BUSY_TIMEOUT_S = 60.0

_REQUIRED = ("a", "b", "hash_a", "hash_b", "measure", "params", "kind", "symmetric",
             "bound_low", "bound_high", "value", "n_stimuli", "seconds")
_OPTIONAL_STATS = ("ci_low", "ci_high", "p_value")
_KEY = ("a", "b", "hash_a", "hash_b", "measure", "params")
_ALLOWED = frozenset(COLUMNS)
_REQUIRED_SET = frozenset(_REQUIRED)
_NAMES = ("a", "hash_a", "b", "hash_b")
_GET_NAMES = operator.itemgetter(*_NAMES)
_MEASURE = ("measure", "params", "kind", "symmetric", "bound_low", "bound_high")
_GET_MEASURE = operator.itemgetter(*_MEASURE)

_TABLES = (
    """CREATE TABLE IF NOT EXISTS representations (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (name, hash)
    )""",
    """CREATE TABLE IF NOT EXISTS measures (
        id INTEGER PRIMARY KEY,
        measure TEXT NOT NULL,
        params TEXT NOT NULL,
        kind TEXT NOT NULL,
        symmetric INTEGER NOT NULL,
        bound_low REAL NOT NULL,
        bound_high REAL NOT NULL,
        UNIQUE (measure, params)
    )""",
    """CREATE TABLE IF NOT EXISTS writes (
        id INTEGER PRIMARY KEY,
        library_version TEXT NOT NULL,
        created TEXT NOT NULL,
        UNIQUE (library_version, created)
    )""",
    """CREATE TABLE IF NOT EXISTS results (
        id INTEGER PRIMARY KEY,
        a INTEGER NOT NULL REFERENCES representations (id),
        b INTEGER NOT NULL REFERENCES representations (id),
        measure INTEGER NOT NULL REFERENCES measures (id),
        value REAL,
        ci_low REAL,
        ci_high REAL,
        p_value REAL,
        n_stimuli INTEGER NOT NULL,
        seconds REAL NOT NULL,
        written INTEGER NOT NULL REFERENCES writes (id),
        UNIQUE (a, b, measure)
    )""",
    """CREATE VIEW IF NOT EXISTS result_rows AS
        SELECT r.id AS id, ra.name AS a, rb.name AS b, ra.hash AS hash_a, rb.hash AS hash_b,
               m.measure AS measure, m.params AS params, m.kind AS kind,
               m.symmetric AS symmetric, m.bound_low AS bound_low, m.bound_high AS bound_high,
               r.value AS value, r.ci_low AS ci_low, r.ci_high AS ci_high,
               r.p_value AS p_value, r.n_stimuli AS n_stimuli, r.seconds AS seconds,
               w.library_version AS library_version, w.created AS created
        FROM results r
        JOIN representations ra ON ra.id = r.a
        JOIN representations rb ON rb.id = r.b
        JOIN measures m ON m.id = r.measure
        JOIN writes w ON w.id = r.written""",
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    *_TABLES,
    f"INSERT INTO schema_version (version) SELECT {SCHEMA_VERSION} "
    f"WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
)
#: Version 2 -> 3: the old table is renamed, its shared parts moved to their tables.
_UPGRADE_FROM_2 = (
    "ALTER TABLE results RENAME TO results_v2",
    *_TABLES,
    """INSERT OR IGNORE INTO representations (name, hash)
        SELECT name, hash FROM (SELECT id, 0 AS side, a AS name, hash_a AS hash FROM results_v2
                                UNION ALL SELECT id, 1, b, hash_b FROM results_v2)
        ORDER BY id, side""",
    """INSERT OR IGNORE INTO measures (measure, params, kind, symmetric, bound_low, bound_high)
        SELECT measure, params, kind, symmetric, bound_low, bound_high FROM results_v2
        ORDER BY id""",
    """INSERT OR IGNORE INTO writes (library_version, created)
        SELECT library_version, created FROM results_v2 ORDER BY id""",
    """INSERT INTO results (id, a, b, measure, value, ci_low, ci_high, p_value, n_stimuli,
                            seconds, written)
        SELECT v.id, ra.id, rb.id, m.id, v.value, v.ci_low, v.ci_high, v.p_value, v.n_stimuli,
               v.seconds, w.id
        FROM results_v2 v
        JOIN representations ra ON ra.name = v.a AND ra.hash = v.hash_a
        JOIN representations rb ON rb.name = v.b AND rb.hash = v.hash_b
        JOIN measures m ON m.measure = v.measure AND m.params = v.params
        JOIN writes w ON w.library_version = v.library_version AND w.created = v.created
        ORDER BY v.id""",
    "DROP TABLE results_v2",
    f"UPDATE schema_version SET version = {SCHEMA_VERSION}",
)
#: The grid's insert: the measure's and the write's ids are literals, one statement per batch.
_PAIRS_COLUMNS = "a, b, value, ci_low, ci_high, p_value, n_stimuli, seconds, measure, written"
_PLAIN_COLUMNS = "a, b, value, n_stimuli, seconds, measure, written"
#: Rows per INSERT statement of put_pairs and put_columns: one statement of many rows
#: costs about half as much per row as one statement per row (fewer steps of SQLite's
#: virtual machine).
_ROWS_PER_INSERT = 32


def _insert_rows(columns: str, n_values: int, rows: int, measure: int, written: int) -> str:
    """``INSERT OR IGNORE`` of ``rows`` rows of ``n_values`` parameters and the two ids."""
    row = f"({', '.join('?' * n_values)}, {measure}, {written})"
    return f"INSERT OR IGNORE INTO results ({columns}) VALUES {', '.join([row] * rows)}"


_INSERT = ("INSERT OR IGNORE INTO results (a, b, measure, value, ci_low, ci_high, p_value, "
           "n_stimuli, seconds, written) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_KEY_WHERE = " AND ".join(f"{column} = ?" for column in _KEY)


def _is_text(value: Any) -> bool:
    return type(value) is str and value != ""


def _check_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str; got {value!r}")
    return value


def _check_number(name: str, value: Any, *, optional: bool, nan_ok: bool,
                  inf_ok: bool = False) -> float | None:
    if type(value) is float and math.isfinite(value):  # the common case, checked fast
        return value
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        expected = "a real number or None" if optional else "a real number"
        raise TypeError(f"{name} must be {expected}; got {value!r}")
    value = float(value)
    if (math.isinf(value) and not inf_ok) or (math.isnan(value) and not nan_ok):
        allowed = "finite or NaN (undefined)" if nan_ok else "finite"
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    return value


_PAIR_VALUES = operator.itemgetter("value", "ci_low", "ci_high", "p_value", "n_stimuli",
                                   "seconds")


_PAIR_PLAIN = operator.itemgetter("value", "n_stimuli", "seconds")
_PAIR_STATS = operator.itemgetter("ci_low", "ci_high", "p_value")
_NO_STATS = (None, None, None)
_THIRD = operator.itemgetter(2)
_VALUE_KEYS = ("value", "ci_low", "ci_high", "p_value", "n_stimuli", "seconds")


class _Unchecked(Exception):
    """A batch of :meth:`ResultStore.put_pairs` holds a number to check in Python."""


def _batch_reps(names, hashes, indices) -> dict:
    """Index -> (name, hash) of the representations a batch uses, checked."""
    return {k: (_check_text(f"names[{k}]", names[k]), _check_text(f"hashes[{k}]", hashes[k]))
            for k in indices}


def _pair_rows(pairs, checked: bool):
    """``(rows_of, stats)`` for :meth:`ResultStore._insert` from pairs ``(i, j, values)``.

    The values go to ``executemany`` as they are, in tuples built while it
    runs (so a batch holds no per-row objects). Unless ``checked``, each row
    is checked on the way in (:func:`_plain_rows`, :func:`_stats_rows`) and the
    transaction is rolled back with :class:`_Unchecked` if one is not plain (an
    int or NumPy number where a float is expected, an infinity, ...).
    """
    stats = any(map(_NO_STATS.__ne__, map(_PAIR_STATS, map(_THIRD, pairs))))
    rows = (_any_rows if checked else _stats_rows if stats else _plain_rows)
    get = _PAIR_VALUES if stats else _PAIR_PLAIN
    per = _ROWS_PER_INSERT
    whole = len(pairs) // per * per

    def rows_of(at):
        return ((tuple(chain.from_iterable(rows(pairs[start:start + per], at, get)))
                 for start in range(0, whole, per)), rows(pairs[whole:], at, get))

    return rows_of, stats


def _column_rows(first, second, value, n_stimuli, seconds, stats):
    """``(rows_of, stats)`` for :meth:`ResultStore._insert` from checked columns.

    Every parameter is a float (ids and counts too: an integral float bound to
    an INTEGER column is stored as an integer), so one float matrix's
    ``tolist`` gives them all; NaN is bound as NULL.
    """
    columns = [first, second, value]
    if stats is not None:
        columns += [stats[:, 0], stats[:, 1], stats[:, 2]]
    columns += [n_stimuli, seconds]
    per = _ROWS_PER_INSERT
    whole = len(first) // per * per

    def rows_of(at):
        lookup = np.zeros(max(at) + 1)
        lookup[list(at)] = list(at.values())
        table = np.column_stack([lookup[first], lookup[second], *columns[2:]])
        return (table[:whole].reshape(-1, per * table.shape[1]).tolist(),
                table[whole:].tolist())

    return rows_of, stats is not None


def _column_pairs(first, second, value, n_stimuli, seconds, stats) -> list:
    """The pairs ``(i, j, values)`` of columns, as :meth:`ResultStore.put_pairs` takes them."""
    ci_low, ci_high, p_value = ([None] * len(first),) * 3 if stats is None else (
        [None if math.isnan(x) else x for x in stats[:, k].tolist()] for k in range(3))
    return [(i, j, {"value": v, "ci_low": lo, "ci_high": hi, "p_value": p, "n_stimuli": n,
                    "seconds": t})
            for i, j, v, lo, hi, p, n, t in zip(first.tolist(), second.tolist(), value.tolist(),
                                                 ci_low, ci_high, p_value, n_stimuli.tolist(),
                                                 seconds.tolist())]


def _plain_rows(pairs, at, get):
    """The rows ``(a, b, value, n_stimuli, seconds)`` of pairs; _Unchecked at one not plain.

    ``x - x == 0`` holds for finite floats only, ``x != x`` for NaN.
    """
    for p in pairs:
        value, n_stimuli, seconds = get(p[2])
        if not (type(value) is float and (value - value == 0.0 or value != value)
                and type(n_stimuli) is int and n_stimuli >= 1
                and type(seconds) is float and 0.0 <= seconds < math.inf):
            raise _Unchecked
        yield at[p[0]], at[p[1]], value, n_stimuli, seconds


def _stats_rows(pairs, at, get):
    """The rows of pairs with their statistics; _Unchecked at one not plain."""
    for p in pairs:
        values = get(p[2])
        if not _plain_values(*values):
            raise _Unchecked
        yield (at[p[0]], at[p[1]], *values)


def _any_rows(pairs, at, get):
    """The rows of pairs whose values were checked already."""
    for p in pairs:
        yield (at[p[0]], at[p[1]], *get(p[2]))


def _plain_values(value, ci_low, ci_high, p_value, n_stimuli, seconds) -> bool:
    """Whether a pair's values are plain Python numbers of a valid row."""
    return (type(value) is float and (value - value == 0.0 or value != value)
            and (ci_low is None or type(ci_low) is float and (ci_low - ci_low == 0.0
                                                             or ci_low != ci_low))
            and (ci_high is None or type(ci_high) is float and (ci_high - ci_high == 0.0
                                                               or ci_high != ci_high))
            and (p_value is None or type(p_value) is float and 0.0 <= p_value <= 1.0)
            and type(n_stimuli) is int and n_stimuli >= 1
            and type(seconds) is float and 0.0 <= seconds < math.inf)


def _check_values(values: tuple) -> tuple:
    """A pair's values validated, or the error naming the bad one (the slow path)."""
    value, ci_low, ci_high, p_value, n_stimuli, seconds = values
    if value is None:
        raise TypeError("value must be a real number (NaN where undefined); got None")
    if (isinstance(n_stimuli, bool) or not isinstance(n_stimuli, numbers.Integral)
            or n_stimuli < 1):
        raise ValueError(f"n_stimuli must be a positive int; got {n_stimuli!r}")
    seconds = _check_number("seconds", seconds, optional=False, nan_ok=False)
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0; got {seconds!r}")
    p = _check_number("p_value", p_value, optional=True, nan_ok=True)
    if p is not None and not 0.0 <= p <= 1.0:
        raise ValueError(f"p_value must be in [0, 1] or None; got {p!r}")
    return (_check_number("value", value, optional=False, nan_ok=True),
            _check_number("ci_low", ci_low, optional=True, nan_ok=True),
            _check_number("ci_high", ci_high, optional=True, nan_ok=True),
            p, int(n_stimuli), seconds)


def _check_measure_fields(row: Mapping[str, Any]) -> dict:
    """The measure's kind, symmetry and bounds of a row, validated."""
    if row["kind"] not in ("similarity", "distance"):
        raise ValueError(f"kind must be 'similarity' or 'distance'; got {row['kind']!r}")
    if not isinstance(row["symmetric"], bool):
        raise TypeError(f"symmetric must be a bool; got {row['symmetric']!r}")
    low = _check_number("bound_low", row["bound_low"], optional=False, nan_ok=False,
                        inf_ok=True)
    high = _check_number("bound_high", row["bound_high"], optional=False, nan_ok=False,
                         inf_ok=True)
    if not low < high:
        raise ValueError(f"bound_low must be below bound_high; got [{low}, {high}]")
    return {"kind": row["kind"], "symmetric": int(row["symmetric"]), "bound_low": low,
            "bound_high": high}


class ResultStore(Store):
    """Comparison results in one SQLite file, safe against crashes and concurrent runs.

    One row per key ``(a, b, hash_a, hash_b, measure, params)``: the names of
    the two representations, their content hashes (see
    :meth:`ActivationStore.attrs <repalign.store.activations.ActivationStore.attrs>`),
    the measure and its parameters as canonical JSON. Names are part of the key,
    so two layers with equal activations keep a row each; hashes are part of it,
    so an array changed under the same name is never answered by its old row.
    The key is ordered: which representation comes first is the caller's choice
    (the grid engine stores a symmetric measure's pair once, in its plan's order).

    Parameters
    ----------
    path : str or path-like
        The SQLite file. Created (with its parent folders) unless ``read_only``.
    read_only : bool, default=False
        Open the file with SQLite's ``mode=ro`` and refuse every write. The
        file must exist. Keyword-only.

    Attributes
    ----------
    path : pathlib.Path
        The SQLite file.
    read_only, closed : bool

    Notes
    -----
    A row is a dict with the keys of :data:`repalign.results.COLUMNS`: ``a``
    and ``b`` (the representations' names), ``hash_a``, ``hash_b``, the
    measure's fields (:func:`repalign.results.measure_fields`: ``measure``,
    ``params`` as a dict, ``kind``, ``symmetric``, ``bound_low``,
    ``bound_high``), ``value``, ``ci_low``, ``ci_high`` and ``p_value`` (None
    when not computed), ``n_stimuli``, ``seconds`` (time spent on the pair),
    ``library_version`` and ``created`` (ISO 8601 in UTC). :meth:`put` fills
    missing ``ci_low``, ``ci_high`` and ``p_value`` with None,
    ``library_version`` with ``repalign.__version__`` and ``created`` with the
    current time.

    *Undefined values.* A measure can be undefined (NaN, e.g. on a constant
    representation); ``value`` may then be NaN. SQLite has no NaN, so NaN is
    stored as NULL: ``value`` reads back as NaN, and a NaN ``ci_low``,
    ``ci_high`` or ``p_value`` reads back as None. Infinities are refused,
    except in the bounds (a distance unbounded above).

    *Durability.* The database runs in write-ahead-log mode with
    ``synchronous=FULL``: every :meth:`put` is one transaction, fsynced before
    it returns, so a process killed at any moment (or a power cut) loses no
    returned row and never leaves a partial one. :meth:`put_many` writes many
    rows in one transaction and one fsync, for speed; :meth:`put_pairs` the
    rows of one measure (a shared grid's batch) at about 1.4 µs of CPU a row,
    :meth:`put_columns` the same from columns (a grid's batch) at about 0.6 µs. ``INSERT OR IGNORE``
    against the ``UNIQUE`` key makes concurrent writers of the same key store
    it once; writers wait up to 60 s for each other's locks. One store object
    may be shared by threads (its calls are serialised by a lock), not by
    processes: open one per process.

    References
    ----------
    .. [1] SQLite write-ahead logging, https://sqlite.org/wal.html, and
       ``PRAGMA synchronous``, https://sqlite.org/pragma.html#pragma_synchronous

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "results.db")
    >>> with ResultStore(path) as store:
    ...     store.put({"a": "net/l1", "b": "net/l2", "hash_a": "h1", "hash_b": "h2",
    ...                "measure": "cka", "params": {"kernel": "linear"},
    ...                "kind": "similarity", "symmetric": True, "bound_low": 0.0,
    ...                "bound_high": 1.0, "value": 0.9, "n_stimuli": 100, "seconds": 0.01})
    ...     store.has("net/l1", "net/l2", "h1", "h2", "cka", {"kernel": "linear"})
    True
    True
    """

    supports_deletes = False

    def __init__(self, path: str | os.PathLike, *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self.path = Path(path)
        self._lock = threading.Lock()
        self._known: dict = {}  # committed ids of the lookup tables, by (table, key)
        if self.path.is_dir():
            raise ValueError(f"path {str(self.path)!r} is a directory; expected the SQLite file "
                             f"of a result store (e.g. {str(self.path / 'results.db')!r})")
        if read_only:
            if not self.path.is_file():
                raise ValueError(f"no result store at {str(self.path)!r}: the file does not "
                                 f"exist; open it with read_only=False to create it")
            target, uri = self.path.resolve().as_uri() + "?mode=ro", True
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            target, uri = str(self.path), False
        self._conn = sqlite3.connect(target, uri=uri, timeout=_BUSY_TIMEOUT_S,
                                     isolation_level=None, check_same_thread=False)
        try:
            self._open()
        except BaseException:
            self._conn.close()
            raise

    def _open(self) -> None:
        conn = self._conn
        try:
            if not self.read_only:
                self._enable_wal()
                conn.execute("PRAGMA synchronous=FULL")
                with self._transaction():
                    self._create_or_upgrade()
            self._check_foreign()
        except sqlite3.OperationalError:  # locked past the busy timeout, disk full, ...
            raise
        except sqlite3.DatabaseError as err:  # not an SQLite file
            raise ValueError(f"{str(self.path)!r} is not a readable SQLite result store "
                             f"({err})") from None
        schema_version(conn, self.path)

    def _enable_wal(self) -> None:
        """Switch the file to write-ahead logging, waiting for other writers.

        Changing the journal mode needs an exclusive lock, and SQLite answers
        ``SQLITE_BUSY`` at once instead of calling its busy handler when another
        process is creating the same store; so retry until the busy timeout.
        WAL mode is persistent: a file already in it needs no lock.
        """
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        while True:
            try:
                (mode,) = self._conn.execute("PRAGMA journal_mode").fetchone()
                if mode.lower() != "wal":
                    self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _check_foreign(self) -> set:
        """Refuse an SQLite file that holds tables but not a result store; its tables."""
        tables = {t for (t,) in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if (tables and "schema_version" not in tables) or (not tables and self.read_only):
            raise ValueError(f"{str(self.path)!r} is an SQLite file but not a repalign "
                             f"result store (tables: {sorted(tables)})")
        return tables

    def _create_or_upgrade(self) -> None:
        """Create the tables of a new store, or upgrade a version 2 store in place.

        Runs inside the opening transaction, so a concurrent opener sees the
        file before or after, never half upgraded. Other versions are left
        untouched for :func:`repalign.results.schema_version` to refuse.
        """
        if not self._check_foreign():
            statements = _SCHEMA
        elif [v for (v,) in self._conn.execute("SELECT version FROM schema_version")] == [2]:
            statements = _UPGRADE_FROM_2
        else:
            return
        for statement in statements:
            self._conn.execute(statement)

    @contextlib.contextmanager
    def _transaction(self):
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on error."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"ResultStore({str(self.path)!r}{mode})"

    def _check_writable(self, action: str = "write") -> None:
        if self.read_only and not self.closed:
            raise ValueError(f"cannot {action}: {self!r} was opened with read_only=True; "
                             f"open it with read_only=False to write")
        super()._check_writable(action)

    def _close(self) -> None:
        self._conn.close()

    # --- keys ---------------------------------------------------------------------------

    @staticmethod
    def key(a: str, b: str, hash_a: str, hash_b: str, measure: str,
            params: Mapping[str, Any]) -> tuple[str, str, str, str, str, str]:
        """The unique key of a result: ``(a, b, hash_a, hash_b, measure, canonical params)``.

        Parameters
        ----------
        a, b : str
            Names of the two representations.
        hash_a, hash_b : str
            Content hashes of the two representations.
        measure : str
            The measure's registry name.
        params : mapping of str to JSON-compatible values
            The measure's parameters; see :func:`repalign.results.canonical_params`.

        Returns
        -------
        tuple of six str
        """
        return (*ResultStore._names(a, b, hash_a, hash_b, measure), canonical_params(params))

    @staticmethod
    def _names(a: str, b: str, hash_a: str, hash_b: str, measure: str) -> tuple:
        """The text parts of a key, checked."""
        return (_check_text("a", a), _check_text("b", b), _check_text("hash_a", hash_a),
                _check_text("hash_b", hash_b), _check_text("measure", measure))

    def has(self, a: str, b: str, hash_a: str, hash_b: str, measure: str,
            params: Mapping[str, Any]) -> bool:
        """Whether the result for this key is stored (arguments as in :meth:`key`)."""
        key = self.key(a, b, hash_a, hash_b, measure, params)
        self._check_open()
        with self._lock:
            found = self._conn.execute(f"SELECT 1 FROM result_rows WHERE {_KEY_WHERE}", key)
            return found.fetchone() is not None

    def list(self) -> list[tuple[str, str, str, str, str, str]]:
        """The keys of every stored row, in the order they were stored."""
        self._check_open()
        with self._lock:
            keys = self._conn.execute(f"SELECT {', '.join(_KEY)} FROM result_rows ORDER BY id")
            return keys.fetchall()

    def __len__(self) -> int:
        self._check_open()
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    # --- writes -------------------------------------------------------------------------

    @staticmethod
    def _to_record(row: Mapping[str, Any], created: str, last: list) -> tuple:
        """Validate one row dict: ``(rep_a, rep_b, measure, write, pair values)``.

        ``rep_a`` and ``rep_b`` are ``(name, hash)``, ``measure`` the measure's
        validated fields (:data:`_MEASURE` order, ``params`` as canonical JSON),
        ``write`` is ``(library_version, created)``; ``created`` fills a missing
        ``created``. ``last`` holds the measure fields last validated, as given and
        as checked: a row whose measure fields are the same objects (a grid's rows
        of one measure share them) is not checked or canonicalised again.
        """
        if not isinstance(row, Mapping):
            raise TypeError(f"row must be a dict with keys {list(COLUMNS)}; "
                            f"got {type(row).__name__}")
        keys = row.keys()
        if not (_REQUIRED_SET <= keys and keys <= _ALLOWED):
            missing = [k for k in _REQUIRED if k not in row]
            unknown = sorted((k for k in row if k not in _ALLOWED), key=str)
            raise ValueError(f"row must have the keys {list(_REQUIRED)} (and optionally "
                             f"{list(_OPTIONAL_STATS) + ['library_version', 'created']}); "
                             f"missing {missing}, unknown {unknown}")
        given = _GET_MEASURE(row)
        if not last or not all(map(operator.is_, given, last[0])):
            fields = _check_measure_fields(row)
            last[:] = [given, (_check_text("measure", row["measure"]),
                               canonical_params(row["params"]),
                               *(fields[k] for k in _MEASURE[2:]))]
        names = _GET_NAMES(row)
        if not all(map(_is_text, names)):
            for name, value in zip(_NAMES, names):
                _check_text(name, value)
        n_stimuli = row["n_stimuli"]
        if type(n_stimuli) is not int and (isinstance(n_stimuli, bool)
                                           or not isinstance(n_stimuli, numbers.Integral)) \
                or n_stimuli < 1:
            raise ValueError(f"n_stimuli must be a positive int; got {n_stimuli!r}")
        seconds = _check_number("seconds", row["seconds"], optional=False, nan_ok=False)
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0; got {seconds!r}")
        p = _check_number("p_value", row.get("p_value"), optional=True, nan_ok=True)
        if p is not None and not 0.0 <= p <= 1.0:
            raise ValueError(f"p_value must be in [0, 1] or None; got {p!r}")
        return (
            names[:2], names[2:], last[1],
            (_check_text("library_version", row.get("library_version") or __version__),
             _check_text("created", row.get("created") or created)),
            (_check_number("value", row["value"], optional=False, nan_ok=True),
             _check_number("ci_low", row.get("ci_low"), optional=True, nan_ok=True),
             _check_number("ci_high", row.get("ci_high"), optional=True, nan_ok=True),
             p, int(n_stimuli), seconds),
        )

    def put(self, row: Mapping[str, Any]) -> bool:
        """Store one row in its own transaction.

        Parameters
        ----------
        row : dict
            A result row (see the class Notes).

        Returns
        -------
        bool
            True if the row was stored, False if a row with its key was
            already stored (the stored row is kept unchanged).
        """
        return self.put_many([row]) == 1

    def put_many(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Store many rows in one transaction: all of them or, on error, none.

        Every row is validated before anything is written. One transaction
        costs one fsync, so a batch of rows costs little more than one row;
        :func:`repalign.grid` writes its rows in batches of whole tiles. Rows
        without ``created`` get the time of this call.

        Parameters
        ----------
        rows : iterable of dict
            Result rows (see the class Notes).

        Returns
        -------
        int
            How many rows were stored; rows whose key was already stored (or
            repeated in ``rows``) are skipped.

        Raises
        ------
        ValueError
            If a row is malformed, or gives a measure and parameters stored
            before with another kind, symmetry or bounds.
        """
        self._check_writable("put rows")
        created = datetime.datetime.now(datetime.timezone.utc).isoformat()
        last: list = []
        records = [self._to_record(row, created, last) for row in rows]
        with self._lock:
            with self._transaction():
                reps = self._ids("representations", ("name", "hash"),
                                 {r for record in records for r in record[:2]})
                measures = self._ids("measures", _MEASURE, {record[2] for record in records})
                writes = self._ids("writes", ("library_version", "created"),
                                   {record[3] for record in records})
                before = self._conn.total_changes
                self._conn.executemany(_INSERT, [
                    (reps[a], reps[b], measures[m], *pair, writes[w])
                    for a, b, m, w, pair in records])
                stored = self._conn.total_changes - before
            # committed ids stay valid: rows are never deleted
            self._known.update({("representations", k): i for k, i in reps.items()})
            self._known.update({("measures", k): i for k, i in measures.items()})
        return stored

    def put_pairs(self, fields: Mapping[str, Any], names, hashes,
                  pairs: Iterable[tuple[int, int, Mapping[str, Any]]], *,
                  finish: tuple[str, int, str] | None = None) -> int:
        """Store the rows of one measure's pairs in one transaction: a grid's batch path.

        The rows share their measure and refer to their representations by
        index, so what rows share is validated, canonicalised and looked up
        once per call (and a representation's id once per store), and each row
        costs a fast check and its share of a many-row ``INSERT``: about 1.5 µs
        of CPU, against about 8 µs for a row of :meth:`put_many`. The same rows
        as :meth:`put_many` of the full rows.

        Parameters
        ----------
        fields : dict
            What the rows share: the measure's fields
            (:func:`repalign.results.measure_fields`: ``measure``, ``params``,
            ``kind``, ``symmetric``, ``bound_low``, ``bound_high``) and optionally
            ``library_version`` and ``created``.
        names, hashes : sequence of str
            The representations' names and content hashes, indexed by the pairs.
        pairs : sequence of (int, int, dict, ...)
            ``(i, j, values)`` (further items are ignored): the pair
            ``(names[i], names[j])`` and its ``value``, ``ci_low``, ``ci_high``,
            ``p_value``, ``n_stimuli`` and ``seconds``, as in a row (all six keys).
        finish : (str, int, str) or None, default=None
            ``(grid, block, worker)``: mark this block of a shared grid done
            (:meth:`claim`) in the transaction that writes its rows.

        Returns
        -------
        int
            How many rows were stored; pairs whose key was already stored are
            skipped.

        Raises
        ------
        ValueError, TypeError
            As :meth:`put_many`, naming the bad field; nothing is written.

        Notes
        -----
        Plain numbers (floats, finite or NaN, ``p_value`` in [0, 1], a positive
        int ``n_stimuli``, ``seconds`` >= 0) are checked by a fast test and bound
        as they are; a batch that holds another number (an int or NumPy number
        where a float is expected, an infinity, ...) is rolled back and written
        again after each number is checked and converted as :meth:`put_many`
        does, or refused.
        """
        measure, write = self._batch_fields(fields)
        pairs = pairs if isinstance(pairs, (list, tuple)) else list(pairs)
        reps = _batch_reps(names, hashes, {p[0] for p in pairs} | {p[1] for p in pairs})
        try:  # the numbers as they are, checked by SQLite after the insert
            return self._insert(reps, measure, write, *_pair_rows(pairs, checked=False),
                                finish=finish)
        except _Unchecked:  # a number of another type or out of range: check each in Python
            pairs = [(p[0], p[1], dict(zip(_VALUE_KEYS, _check_values(_PAIR_VALUES(p[2])))))
                     for p in pairs]
            return self._insert(reps, measure, write, *_pair_rows(pairs, checked=True),
                                finish=finish, recheck=False)

    def put_columns(self, fields: Mapping[str, Any], names, hashes, first, second, value,
                    n_stimuli, seconds, stats=None, *,
                    finish: tuple[str, int, str] | None = None) -> int:
        """Store the rows of one measure given as columns: the grid's write path.

        The same rows as :meth:`put_pairs` of ``(first[k], second[k], {...})``,
        with the statements' parameters built by NumPy instead of row by row
        (about 0.6 µs of CPU a row against 1.4). Columns that hold a number
        :meth:`put_pairs` would refuse or convert (an infinity, a p-value out
        of [0, 1], a count below 1, negative seconds) are handed to
        :meth:`put_pairs` row by row, which refuses them naming the field.

        Parameters
        ----------
        fields, names, hashes
            As :meth:`put_pairs`.
        first, second : array of int, shape (k,)
            The pairs ``(names[first[r]], names[second[r]])``.
        value : array of float, shape (k,)
            NaN where the measure is undefined.
        n_stimuli : array of int, shape (k,)
        seconds : array of float, shape (k,)
        stats : array of float, shape (k, 3), optional
            ``ci_low``, ``ci_high``, ``p_value``, NaN where not computed (stored
            as NULL, read back as None, as :meth:`put_pairs` stores None).
        finish : (str, int, str) or None, default=None
            As :meth:`put_pairs`.

        Returns
        -------
        int
            How many rows were stored.
        """
        first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
        value, seconds = np.asarray(value, dtype=float), np.asarray(seconds, dtype=float)
        n_stimuli = np.asarray(n_stimuli)
        stats = None if stats is None else np.asarray(stats, dtype=float).reshape(-1, 3)
        plain = (n_stimuli.dtype.kind in "iu" and bool(np.all(n_stimuli >= 1))
                 and not np.isinf(value).any() and bool(np.all(seconds >= 0))
                 and bool(np.isfinite(seconds).all())
                 and (stats is None or (not np.isinf(stats[:, :2]).any()
                                        and not bool(np.any((stats[:, 2] < 0)
                                                            | (stats[:, 2] > 1))))))
        if not plain:
            return self.put_pairs(fields, names, hashes, _column_pairs(
                first, second, value, n_stimuli, seconds, stats), finish=finish)
        measure, write = self._batch_fields(fields)
        reps = _batch_reps(names, hashes, set(first.tolist()) | set(second.tolist()))
        return self._insert(reps, measure, write, *_column_rows(
            first, second, value, n_stimuli, seconds, stats), finish=finish, recheck=False)

    def _batch_fields(self, fields) -> tuple[tuple, tuple]:
        """The measure's and the write's keys of a batch, checked (put_pairs, put_columns)."""
        self._check_writable("put rows")
        created = datetime.datetime.now(datetime.timezone.utc).isoformat()
        if not isinstance(fields, Mapping):
            raise TypeError(f"fields must be a dict of the measure's fields; got "
                            f"{type(fields).__name__}")
        missing = [k for k in _MEASURE if k not in fields]
        if missing:
            raise ValueError(f"fields must have the keys {list(_MEASURE)}; missing {missing}")
        checked = _check_measure_fields(fields)
        measure = (_check_text("measure", fields["measure"]), canonical_params(fields["params"]),
                   *(checked[k] for k in _MEASURE[2:]))
        write = (_check_text("library_version", fields.get("library_version") or __version__),
                 _check_text("created", fields.get("created") or created))
        return measure, write

    def _insert(self, reps: dict, measure: tuple, write: tuple, rows_of, stats: bool,
                finish: tuple | None = None, recheck: bool = True) -> int:
        """Write a batch's rows in one transaction (reps: i -> (name, hash)).

        ``rows_of(at)``, given the representations' ids by index, gives the
        parameters of the statements of ``_ROWS_PER_INSERT`` rows and those
        of the remaining rows one by one (:func:`_pair_rows`,
        :func:`_column_rows`); the measure's and the write's ids are literals
        of the statement, and a batch without statistics leaves their three
        columns out (binding three NULLs costs as much as the rest of a row).
        A value that cannot be bound raises :class:`_Unchecked` if
        ``recheck`` (put_pairs then checks each number in Python), else its
        own error.
        """
        columns, width = (_PAIRS_COLUMNS, 8) if stats else (_PLAIN_COLUMNS, 5)
        per = _ROWS_PER_INSERT
        with self._lock:
            with self._transaction():
                ids = self._ids("representations", ("name", "hash"), set(reps.values()))
                (measure_id,) = self._ids("measures", _MEASURE, {measure}).values()
                (write_id,) = self._ids("writes", ("library_version", "created"),
                                        {write}).values()
                at = {index: ids[key] for index, key in reps.items()}
                literal = (int(measure_id), int(write_id))
                before = self._conn.total_changes
                chunks, rest = rows_of(at)
                try:
                    self._conn.executemany(  # `per` rows a statement, then the rest one by one
                        _insert_rows(columns, width, per, *literal), chunks)
                    self._conn.executemany(_insert_rows(columns, width, 1, *literal), rest)
                except (sqlite3.InterfaceError, sqlite3.ProgrammingError, OverflowError):
                    if not recheck:
                        raise
                    raise _Unchecked from None
                stored = self._conn.total_changes - before
                if finish is not None:
                    _claims.finish(self._conn, *finish)
            self._known.update({("representations", k): i for k, i in ids.items()})
            self._known[("measures", measure)] = measure_id
        return stored

    def _ids(self, table: str, columns: tuple, wanted: set) -> dict:
        """The ids of rows of a lookup table by their values, inserted where missing.

        Runs inside the write transaction. A measure configuration is stored
        once, with the kind, symmetry and bounds of its first row, and is
        looked up by its name and parameters: a row that gives it other fields
        is refused.
        """
        ids = {key: self._known[table, key] for key in wanted if (table, key) in self._known}
        lookup = columns[:2]
        where = " AND ".join(f"{c} = ?" for c in lookup)
        for key in sorted(wanted - ids.keys(), key=repr):
            self._conn.execute(f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) "
                               f"VALUES ({', '.join('?' * len(columns))})", key)
            found = self._conn.execute(f"SELECT id, {', '.join(columns)} FROM {table} "
                                       f"WHERE {where}", key[:2]).fetchone()
            if tuple(found[1:]) != key:  # only a measure's fields can differ
                stored, given = (dict(zip(columns[2:], k[2:])) for k in (found[1:], key))
                raise ValueError(
                    f"measure {key[0]!r} with params {key[1]} is stored with {stored}; a row "
                    f"gives it {given} (a measure's kind, symmetry and bounds must not "
                    "change; store the rows of the changed measure in another file)")
            ids[key] = found[0]
        return ids

    # --- shared grids -------------------------------------------------------------------

    def claim(self, grid: str, n_blocks: int, worker: str,
              lease: float) -> tuple[int | None, int]:
        """Claim the first free block of a shared grid for ``lease`` seconds.

        Several processes that run one grid (:func:`repalign.grid` with
        ``worker=True``) take its blocks here. A block is free if nobody claimed
        it, or its last lease has expired and it is not done (a worker renews
        its lease with :meth:`renew` while it computes, so only a dead worker's
        lease expires). A block is done once its rows are written with
        ``put_pairs(..., finish=(grid, block, worker))``, and is never claimed
        again. One transaction: two workers never get one block.

        Parameters
        ----------
        grid : str
            The grid's key (the same in every worker).
        n_blocks : int
            How many blocks the grid has (numbered from 0).
        worker : str
            Who claims (shown by :meth:`claims`).
        lease : float
            Seconds the claim holds unless renewed. Leases are compared with each
            claimer's clock (``time.time()``): the machines of a grid must agree
            on the time to well within a lease.

        Returns
        -------
        (int or None, int)
            The block claimed (None if every block not done is under a live
            lease), and how many blocks are not done.
        """
        self._check_claim_args(grid, worker, lease)
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, numbers.Integral) \
                or n_blocks < 1:
            raise ValueError(f"n_blocks must be a positive int; got {n_blocks!r}")
        with self._lock, self._transaction():
            return _claims.claim(self._conn, grid, int(n_blocks), worker, float(lease))

    def renew(self, grid: str, block: int, worker: str, lease: float) -> bool:
        """Extend ``worker``'s lease of a block to ``lease`` seconds from now.

        Returns False if the worker no longer holds the block (its lease expired
        and another worker claimed it, or the block is done).
        """
        self._check_claim_args(grid, worker, lease)
        with self._lock, self._transaction():
            return _claims.renew(self._conn, grid, int(block), worker, float(lease))

    def claims(self, grid: str | None = None) -> list[dict]:
        """The claimed blocks of a shared grid (or of all): ``grid``, ``block``,
        ``worker`` (the last claimer), ``expires`` (Unix time) and ``done``."""
        self._check_open()
        with self._lock:
            return _claims.blocks(self._conn, grid)

    def _check_claim_args(self, grid, worker, lease) -> None:
        self._check_writable("claim blocks")
        _check_text("grid", grid)
        _check_text("worker", worker)
        if isinstance(lease, bool) or not isinstance(lease, numbers.Real) \
                or not 0 < lease < math.inf:
            raise ValueError(f"lease must be a positive number of seconds; got {lease!r}")

    # --- reads --------------------------------------------------------------------------

    def rows(self, measure: str | None = None,
             params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The stored rows in the order they were stored, ``params`` as a dict.

        Parameters
        ----------
        measure : str or None, default=None
            Keep only this measure's rows.
        params : mapping or None, default=None
            Keep only rows with these parameters (equal canonical JSON, see
            :func:`repalign.results.canonical_params`): one configuration of a
            measure.

        Returns
        -------
        list of dict
            One dict per row with the keys of :data:`repalign.results.COLUMNS`.
        """
        self._check_open()
        if measure is not None:
            _check_text("measure", measure)
        text = None if params is None else canonical_params(params)
        with self._lock:
            return select_rows(self._conn, measure, text)

    def to_dataframe(self):
        """The rows as a pandas DataFrame.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`repalign.results.COLUMNS` in that order, ``params`` as
            its canonical JSON text, statistics not computed as NaN.
        """
        return rows_frame(self.rows())

    def to_parquet(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dataframe` to a Parquet file (with pyarrow)."""
        self.to_dataframe().to_parquet(path, engine="pyarrow", index=False)

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dataframe` to a CSV file (no index column)."""
        self.to_dataframe().to_csv(path, index=False)
