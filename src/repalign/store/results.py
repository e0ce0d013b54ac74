"""Comparison results on disk: one SQLite row per (A, B, their contents, measure, parameters).

:class:`ResultStore` keeps what a grid computed so that a rerun skips it, a run
killed at any moment resumes without losing a finished row, and two runs of the
same grid at once never store a row twice. The row schema (its columns, the
canonical parameters, the measure's kind, symmetry and bounds) is defined in
:mod:`repalign.results`; this module keeps rows durable.

Layout of a store file (SQLite, write-ahead log)::

    schema_version(version)             one row: the layout version of this file (2)
    results(id, a, b, hash_a, hash_b, measure, params, kind, symmetric, bound_low,
            bound_high, value, ci_low, ci_high, p_value, n_stimuli, seconds,
            library_version, created)
            UNIQUE (a, b, hash_a, hash_b, measure, params)
"""

from __future__ import annotations

import contextlib
import datetime
import math
import numbers
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._version import __version__
from ..results import (
    COLUMNS,
    SCHEMA_VERSION,
    canonical_params,
    rows_frame,
    schema_version,
    select_rows,
)
from ._base import Store

__all__ = ["ResultStore"]

_BUSY_TIMEOUT_S = 60.0

_REQUIRED = ("a", "b", "hash_a", "hash_b", "measure", "params", "kind", "symmetric",
             "bound_low", "bound_high", "value", "n_stimuli", "seconds")
_OPTIONAL_STATS = ("ci_low", "ci_high", "p_value")
_KEY = ("a", "b", "hash_a", "hash_b", "measure", "params")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS results (
        id INTEGER PRIMARY KEY,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        hash_a TEXT NOT NULL,
        hash_b TEXT NOT NULL,
        measure TEXT NOT NULL,
        params TEXT NOT NULL,
        kind TEXT NOT NULL,
        symmetric INTEGER NOT NULL,
        bound_low REAL NOT NULL,
        bound_high REAL NOT NULL,
        value REAL,
        ci_low REAL,
        ci_high REAL,
        p_value REAL,
        n_stimuli INTEGER NOT NULL,
        seconds REAL NOT NULL,
        library_version TEXT NOT NULL,
        created TEXT NOT NULL,
        UNIQUE (a, b, hash_a, hash_b, measure, params)
    )""",
    f"INSERT INTO schema_version (version) SELECT {SCHEMA_VERSION} "
    f"WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
)
_INSERT = (f"INSERT OR IGNORE INTO results ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(COLUMNS))})")
_KEY_WHERE = " AND ".join(f"{column} = ?" for column in _KEY)


def _check_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty str; got {value!r}")
    return value


def _check_number(name: str, value: Any, *, optional: bool, nan_ok: bool,
                  inf_ok: bool = False) -> float | None:
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
    rows in one transaction and one fsync, for speed. ``INSERT OR IGNORE``
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
                    self._check_foreign()
                    for statement in _SCHEMA:
                        conn.execute(statement)
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

    def _check_foreign(self) -> None:
        """Refuse an SQLite file that holds tables but not a result store."""
        tables = {t for (t,) in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if (tables and "schema_version" not in tables) or (not tables and self.read_only):
            raise ValueError(f"{str(self.path)!r} is an SQLite file but not a repalign "
                             f"result store (tables: {sorted(tables)})")

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
        return (_check_text("a", a), _check_text("b", b), _check_text("hash_a", hash_a),
                _check_text("hash_b", hash_b), _check_text("measure", measure),
                canonical_params(params))

    def has(self, a: str, b: str, hash_a: str, hash_b: str, measure: str,
            params: Mapping[str, Any]) -> bool:
        """Whether the result for this key is stored (arguments as in :meth:`key`)."""
        key = self.key(a, b, hash_a, hash_b, measure, params)
        self._check_open()
        with self._lock:
            found = self._conn.execute(f"SELECT 1 FROM results WHERE {_KEY_WHERE}", key)
            return found.fetchone() is not None

    def list(self) -> list[tuple[str, str, str, str, str, str]]:
        """The keys of every stored row, in the order they were stored."""
        self._check_open()
        with self._lock:
            keys = self._conn.execute(f"SELECT {', '.join(_KEY)} FROM results ORDER BY id")
            return keys.fetchall()

    def __len__(self) -> int:
        self._check_open()
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    # --- writes -------------------------------------------------------------------------

    @staticmethod
    def _to_record(row: Mapping[str, Any]) -> tuple:
        """Validate one row dict and return its values in :data:`COLUMNS` order."""
        if not isinstance(row, Mapping):
            raise TypeError(f"row must be a dict with keys {list(COLUMNS)}; "
                            f"got {type(row).__name__}")
        missing = [k for k in _REQUIRED if k not in row]
        unknown = sorted(set(row) - set(COLUMNS), key=str)
        if missing or unknown:
            raise ValueError(f"row must have the keys {list(_REQUIRED)} (and optionally "
                             f"{list(_OPTIONAL_STATS) + ['library_version', 'created']}); "
                             f"missing {missing}, unknown {unknown}")
        n_stimuli = row["n_stimuli"]
        if isinstance(n_stimuli, bool) or not isinstance(n_stimuli, numbers.Integral) \
                or n_stimuli < 1:
            raise ValueError(f"n_stimuli must be a positive int; got {n_stimuli!r}")
        seconds = _check_number("seconds", row["seconds"], optional=False, nan_ok=False)
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0; got {seconds!r}")
        created = row.get("created")
        if created is None:
            created = datetime.datetime.now(datetime.timezone.utc).isoformat()
        record = {
            **dict(zip(_KEY, ResultStore.key(*(row[k] for k in _KEY)))),
            **_check_measure_fields(row),
            "value": _check_number("value", row["value"], optional=False, nan_ok=True),
            **{k: _check_number(k, row.get(k), optional=True, nan_ok=True)
               for k in _OPTIONAL_STATS},
            "n_stimuli": int(n_stimuli),
            "seconds": seconds,
            "library_version": _check_text("library_version",
                                           row.get("library_version") or __version__),
            "created": _check_text("created", created),
        }
        p = record["p_value"]
        if p is not None and not 0.0 <= p <= 1.0:
            raise ValueError(f"p_value must be in [0, 1] or None; got {p!r}")
        return tuple(record[c] for c in COLUMNS)

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

        Every row is validated before anything is written.

        Parameters
        ----------
        rows : iterable of dict
            Result rows (see the class Notes).

        Returns
        -------
        int
            How many rows were stored; rows whose key was already stored (or
            repeated in ``rows``) are skipped.
        """
        self._check_writable("put rows")
        records = [self._to_record(row) for row in rows]
        with self._lock, self._transaction():
            before = self._conn.total_changes
            self._conn.executemany(_INSERT, records)
            return self._conn.total_changes - before

    # --- reads --------------------------------------------------------------------------

    def rows(self, measure: str | None = None) -> list[dict[str, Any]]:
        """The stored rows in the order they were stored, ``params`` as a dict.

        Parameters
        ----------
        measure : str or None, default=None
            Keep only this measure's rows.

        Returns
        -------
        list of dict
            One dict per row with the keys of :data:`repalign.results.COLUMNS`.
        """
        self._check_open()
        if measure is not None:
            _check_text("measure", measure)
        with self._lock:
            return select_rows(self._conn, measure)

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
