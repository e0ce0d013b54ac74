"""ResultStore: round trip, keys, duplicates, read-only, bad rows, exports, crashes, concurrency."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import repalign
from repalign.store import ResultStore, Store
from repalign.store.results import COLUMNS, canonical_params


def make_row(i: int = 0, **changes) -> dict:
    row = {"a": f"net/l{i}", "b": "net/out", "hash_a": f"h{i}", "hash_b": "hout",
           "measure": "cka", "params": {"debiased": False, "kernel": "linear"},
           "kind": "similarity", "symmetric": True, "bound_low": 0.0, "bound_high": 1.0,
           "value": 0.5 + i / 1000, "ci_low": 0.4, "ci_high": 0.6, "p_value": 0.01,
           "n_stimuli": 100, "seconds": 0.25, "library_version": "1.2.3",
           "created": "2026-01-01T00:00:00+00:00"}
    row.update(changes)
    return row


@pytest.fixture
def path(tmp_path):
    return tmp_path / "sub" / "results.db"


@pytest.fixture
def store(path):
    with ResultStore(path) as s:
        yield s


# --- round trip and keys ----------------------------------------------------------------


def test_round_trip(store, path):
    assert isinstance(store, Store) and repalign.ResultStore is ResultStore
    assert store.rows() == [] and len(store) == 0 and store.list() == []
    assert store.put(make_row(0)) is True
    assert store.put(make_row(1, measure="rsa", ci_low=None, ci_high=None, p_value=None))
    assert store.rows() == [make_row(0), make_row(1, measure="rsa", ci_low=None, ci_high=None,
                                                  p_value=None)]
    assert [r["a"] for r in store.rows("rsa")] == ["net/l1"] and store.rows("x") == []
    assert list(store.rows()[0]) == list(COLUMNS)
    assert store.list() == [
        ("net/l0", "net/out", "h0", "hout", "cka", '{"debiased":false,"kernel":"linear"}'),
        ("net/l1", "net/out", "h1", "hout", "rsa", '{"debiased":false,"kernel":"linear"}')]
    params = {"kernel": "linear", "debiased": False}
    assert store.has("net/l0", "net/out", "h0", "hout", "cka", params)
    assert not store.has("net/out", "net/l0", "hout", "h0", "cka", params)  # ordered
    assert not store.has("net/l0", "net/out", "h0", "hout", "cka", {**params, "kernel": "rbf"})
    assert not store.has("net/l0", "net/out", "h9", "hout", "cka", params)  # other contents
    assert not store.has("net/l9", "net/out", "h0", "hout", "cka", params)  # other name
    # the file is a plain SQLite database in WAL mode with its schema version
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
    raw.close()
    store.close()
    with ResultStore(path) as again:  # reopening keeps everything
        assert len(again) == 2 and again.rows()[0] == make_row(0)


def test_defaults_filled_by_put(store):
    row = make_row(0)
    for k in ("ci_low", "ci_high", "p_value", "library_version", "created"):
        del row[k]
    store.put(row)
    (out,) = store.rows()
    assert out["ci_low"] is out["ci_high"] is out["p_value"] is None
    assert out["library_version"] == repalign.__version__
    created = pd.Timestamp(out["created"])
    assert created.tz is not None and created.utcoffset().total_seconds() == 0
    assert abs((pd.Timestamp.now(tz="UTC") - created).total_seconds()) < 60


def test_duplicates_are_ignored(store):
    assert store.put(make_row(0)) is True
    assert store.put(make_row(0, value=0.9)) is False  # same key: first row kept
    assert store.put_many([make_row(0), make_row(1), make_row(1), make_row(2)]) == 2
    assert store.put_many([]) == 0
    assert [r["hash_a"] for r in store.rows()] == ["h0", "h1", "h2"]
    assert store.rows()[0]["value"] == 0.5


def test_equal_contents_under_other_names_keep_a_row_each(store):
    """Two layers with identical activations are two rows, not one (names are in the key)."""
    assert store.put(make_row(0)) is True
    assert store.put(make_row(0, a="net/copy_of_l0")) is True
    assert [r["a"] for r in store.rows()] == ["net/l0", "net/copy_of_l0"]


def test_key_is_canonical():
    k = ResultStore.key("n", "m", "a", "b", "cka", {"z": (1, 2), "a": {"y": 1, "x": [np.int64(3)]},
                                                    "f": np.float32(0.5)})
    assert k == ("n", "m", "a", "b", "cka", '{"a":{"x":[3],"y":1},"f":0.5,"z":[1,2]}')
    assert k == ResultStore.key("n", "m", "a", "b", "cka", {"f": 0.5, "a": {"x": (3,), "y": 1},
                                                            "z": [1, 2]})
    assert canonical_params({"v": np.arange(2)}) == '{"v":[0,1]}'
    assert canonical_params({}) == "{}"
    # a different value or type gives a different key
    assert (ResultStore.key("n", "m", "a", "b", "cka", {"k": 1})
            != ResultStore.key("n", "m", "a", "b", "cka", {"k": "1"}))


def test_equal_params_in_another_order_hit_the_stored_row(store):
    store.put(make_row(0, params={"b": (1, 2), "a": None}))
    assert store.has("net/l0", "net/out", "h0", "hout", "cka", {"a": None, "b": [1, 2]})
    assert store.put(make_row(0, params={"a": None, "b": [1, 2]})) is False
    assert store.rows()[0]["params"] == {"a": None, "b": [1, 2]}


@pytest.mark.parametrize("params, exc, match", [
    ([("k", 1)], TypeError, "params must be a dict of parameters; got list"),
    ({1: 2}, TypeError, r"params keys must be str; got \[1\]"),
    ({"k": math.nan}, ValueError, "params must be JSON-serialisable without NaN"),
    ({"k": object()}, ValueError, "params must be JSON-serialisable.*object is not JSON"),
])
def test_bad_params(params, exc, match):
    with pytest.raises(exc, match=match):
        ResultStore.key("n", "m", "a", "b", "cka", params)


@pytest.mark.parametrize("args, match", [
    (("", "m", "a", "b", "cka"), "a must be a non-empty str; got ''"),
    (("n", None, "a", "b", "cka"), "b must be a non-empty str; got None"),
    (("n", "m", "", "b", "cka"), "hash_a must be a non-empty str; got ''"),
    (("n", "m", "a", 3, "cka"), "hash_b must be a non-empty str; got 3"),
    (("n", "m", "a", "b", None), "measure must be a non-empty str; got None"),
])
def test_bad_key_parts(store, args, match):
    with pytest.raises(TypeError, match=match):
        store.has(*args, {})


# --- undefined values ---------------------------------------------------------------------


def test_nan_is_stored_as_null(store, path):
    store.put(make_row(0, value=math.nan, ci_low=math.nan, ci_high=math.nan, p_value=None))
    (row,) = store.rows()
    assert math.isnan(row["value"]) and row["ci_low"] is row["ci_high"] is None
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT value, ci_low FROM results").fetchall() == [(None, None)]
    raw.close()
    assert np.isnan(store.to_dataframe()["value"][0])


# --- bad rows -----------------------------------------------------------------------------


@pytest.mark.parametrize("change, exc, match", [
    ({"value": math.inf}, ValueError, r"value must be finite or NaN \(undefined\); got inf"),
    ({"value": None}, TypeError, "value must be a real number; got None"),
    ({"value": "0.5"}, TypeError, "value must be a real number; got '0.5'"),
    ({"value": True}, TypeError, "value must be a real number; got True"),
    ({"ci_low": -math.inf}, ValueError, "ci_low must be finite or NaN"),
    ({"ci_high": "x"}, TypeError, "ci_high must be a real number or None; got 'x'"),
    ({"p_value": 1.5}, ValueError, r"p_value must be in \[0, 1\] or None; got 1.5"),
    ({"n_stimuli": 0}, ValueError, "n_stimuli must be a positive int; got 0"),
    ({"n_stimuli": 10.0}, ValueError, "n_stimuli must be a positive int; got 10.0"),
    ({"seconds": -1}, ValueError, "seconds must be >= 0; got -1.0"),
    ({"seconds": math.nan}, ValueError, "seconds must be finite; got nan"),
    ({"a": ""}, TypeError, "a must be a non-empty str; got ''"),
    ({"b": 1}, TypeError, "b must be a non-empty str; got 1"),
    ({"library_version": 2}, TypeError, "library_version must be a non-empty str; got 2"),
    ({"created": 5}, TypeError, "created must be a non-empty str; got 5"),
    ({"params": "cka"}, TypeError, "params must be a dict of parameters; got str"),
    ({"extra": 1}, ValueError, r"row must have the keys .*missing \[\], unknown \['extra'\]"),
    ({"kind": "closeness"}, ValueError, "kind must be 'similarity' or 'distance'; got 'closeness'"),
    ({"symmetric": 1}, TypeError, "symmetric must be a bool; got 1"),
    ({"bound_low": math.nan}, ValueError, "bound_low must be finite; got nan"),
    ({"bound_high": "1"}, TypeError, "bound_high must be a real number; got '1'"),
    ({"bound_low": 2.0}, ValueError, r"bound_low must be below bound_high; got \[2.0, 1.0\]"),
])
def test_bad_rows_are_refused_and_nothing_is_written(store, change, exc, match):
    with pytest.raises(exc, match=match):
        store.put_many([make_row(0), make_row(1, **change)])
    assert store.rows() == []


def test_missing_keys_and_non_dict_rows(store):
    row = make_row(0)
    del row["value"], row["seconds"]
    with pytest.raises(ValueError, match=r"missing \['value', 'seconds'\], unknown \[\]"):
        store.put(row)
    with pytest.raises(TypeError, match="row must be a dict with keys .*; got tuple"):
        store.put(tuple(make_row(0).values()))


# --- read-only, closed, foreign files -----------------------------------------------------


def test_read_only(store, path):
    store.put(make_row(0))
    store.close()
    assert not path.with_name("results.db-wal").exists()  # checkpointed on close
    with ResultStore(path, read_only=True) as ro:
        assert ro.read_only and ro.rows() == [make_row(0)] and "read_only=True" in repr(ro)
        assert ro.has("net/l0", "net/out", "h0", "hout", "cka", make_row(0)["params"])
        for call in (lambda: ro.put(make_row(1)), lambda: ro.put_many([])):
            with pytest.raises(ValueError, match="cannot put rows: ResultStore.*was opened "
                                                 "with read_only=True"):
                call()
        with ResultStore(path) as writer:  # a writer alongside a reader
            writer.put(make_row(1))
        assert len(ro) == 2
    with pytest.raises(ValueError, match="ResultStore.* is closed"):
        ro.rows()
    with pytest.raises(ValueError, match="is closed"):
        ro.put(make_row(2))
    ro.close()  # idempotent


def test_read_only_needs_an_existing_store(tmp_path):
    with pytest.raises(ValueError, match="no result store at .*missing.db.*does not exist"):
        ResultStore(tmp_path / "missing.db", read_only=True)
    (tmp_path / "empty.db").touch()
    with pytest.raises(ValueError, match=r"empty.db' is an SQLite file but not a repalign "
                                         r"result store \(tables: \[\]\)"):
        ResultStore(tmp_path / "empty.db", read_only=True)
    with pytest.raises(TypeError, match="read_only must be a bool; got str"):
        ResultStore(tmp_path / "x.db", read_only="yes")


def test_foreign_files_are_refused(tmp_path):
    (tmp_path / "text.db").write_text("not a database " * 100)
    with pytest.raises(ValueError, match="text.db' is not a readable SQLite result store"):
        ResultStore(tmp_path / "text.db")
    raw = sqlite3.connect(tmp_path / "other.db")
    raw.execute("CREATE TABLE people (name TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(ValueError, match=r"not a repalign result store \(tables: \['people'\]"):
        ResultStore(tmp_path / "other.db")


@pytest.mark.parametrize("version", [1, 4])
def test_other_schema_versions_are_refused_and_left_untouched(store, path, version):
    """Version 1 (repalign 0.1) rows lack the measures' kind, symmetry and bounds."""
    store.close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE schema_version SET version = ?", (version,))
    raw.commit()
    raw.close()
    before = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(ValueError, match=rf"has schema version \[{version}\]; this "
                                             r"repalign reads version 3.*recompute into a new"):
            ResultStore(path, read_only=read_only)
    with pytest.raises(ValueError, match=rf"has schema version \[{version}\]"):
        repalign.results.read_results(path)
    assert path.read_bytes() == before


#: The version 2 layout, written here as it was, to test the upgrade against it.
V2_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (2);
CREATE TABLE results (
    id INTEGER PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL, hash_a TEXT NOT NULL,
    hash_b TEXT NOT NULL, measure TEXT NOT NULL, params TEXT NOT NULL, kind TEXT NOT NULL,
    symmetric INTEGER NOT NULL, bound_low REAL NOT NULL, bound_high REAL NOT NULL, value REAL,
    ci_low REAL, ci_high REAL, p_value REAL, n_stimuli INTEGER NOT NULL, seconds REAL NOT NULL,
    library_version TEXT NOT NULL, created TEXT NOT NULL,
    UNIQUE (a, b, hash_a, hash_b, measure, params));
"""


def write_v2(path, rows):
    raw = sqlite3.connect(path)
    raw.executescript(V2_SCHEMA)
    for row in rows:
        record = {**row, "params": canonical_params(row["params"]),
                  "symmetric": int(row["symmetric"]),
                  "value": None if math.isnan(row["value"]) else row["value"]}
        raw.execute(f"INSERT INTO results ({', '.join(COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(COLUMNS))})", [record[c] for c in COLUMNS])
    raw.commit()
    raw.close()


def test_a_version_2_store_is_upgraded_in_place_when_opened_for_writing(tmp_path):
    path = tmp_path / "old.db"
    rows = [make_row(3), make_row(1, measure="rsa", value=math.nan, p_value=None),
            make_row(2, b="net/l3", hash_b="h3", created="2025-05-05T00:00:00+00:00"),
            make_row(0, library_version="0.9", kind="distance", measure="procrustes",
                     bound_high=math.inf)]
    write_v2(path, rows)
    before = path.read_bytes()
    for opened in (lambda: ResultStore(path, read_only=True),
                   lambda: repalign.results.read_results(path)):
        with pytest.raises(ValueError, match=r"schema version \[2\].*reads version 3\. Open it "
                                             r"once for writing.*to upgrade it in place"):
            opened()
    assert path.read_bytes() == before  # refused read-only, left untouched
    with ResultStore(path) as store:
        got = store.rows()
        assert store.put(make_row(3)) is False and store.put(make_row(9)) is True
    assert len(got) == 4
    assert math.isnan(got[1]["value"]) and math.isnan(rows[1]["value"])
    assert got == [rows[0], {**rows[1], "value": got[1]["value"]}, *rows[2:]]
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
    assert raw.execute("SELECT COUNT(*) FROM representations").fetchone() == (6,)
    assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    raw.close()
    assert len(repalign.results.read_results(path)) == 5


def test_what_rows_share_is_stored_once(store, path):
    """Rows of one measure configuration, representations and write share their ids."""
    params = {"kernel": "linear"}
    rows = [make_row(i, params=params, hash_b="hout") for i in range(3)]
    rows += [make_row(i, params=dict(params)) for i in range(3, 6)]  # equal, not the same dict
    rows += [make_row(0, params={"kernel": "rbf"})]
    assert store.put_many(rows) == 7
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT measure, params FROM measures ORDER BY id").fetchall() == [
        ("cka", '{"kernel":"linear"}'), ("cka", '{"kernel":"rbf"}')]
    assert raw.execute("SELECT COUNT(*) FROM representations").fetchone() == (7,)
    assert raw.execute("SELECT COUNT(*) FROM writes").fetchone() == (1,)
    raw.close()
    assert [r["params"] for r in store.rows()] == [params] * 6 + [{"kernel": "rbf"}]
    assert [r["a"] for r in store.rows("cka", params={"kernel": "rbf"})] == ["net/l0"]
    assert len(store.rows("cka", params={"kernel": "linear"})) == 6
    assert store.rows("cka", params={"kernel": "poly"}) == []


def test_a_measure_stored_with_other_fields_is_refused(store):
    store.put(make_row(0))
    with pytest.raises(ValueError, match=r"measure 'cka' with params .* is stored with "
                                         r"\{'kind': 'similarity'.*gives it \{'kind': 'distance'"):
        store.put_many([make_row(1), make_row(2, kind="distance")])
    assert len(store) == 1  # nothing of the refused batch was written
    assert store.put(make_row(1)) is True


# --- exports ------------------------------------------------------------------------------


def expected_frame(rows):
    frame = pd.DataFrame({c: [r[c] for r in rows] for c in COLUMNS})
    frame["params"] = [json.dumps(r["params"], sort_keys=True, separators=(",", ":"))
                       for r in rows]
    for c in ("value", "ci_low", "ci_high", "p_value", "seconds"):
        frame[c] = np.array([np.nan if r[c] is None else r[c] for r in rows], dtype=float)
    frame["n_stimuli"] = frame["n_stimuli"].astype("int64")
    return frame


def test_exports_equal_the_rows(store, tmp_path):
    rows = [make_row(0), make_row(1, ci_low=None, ci_high=None, p_value=None, value=math.nan),
            make_row(2, measure="rsa", params={"compare": "spearman", "w": [1, 2]})]
    store.put_many(rows)
    expected = expected_frame(rows)
    frame = store.to_dataframe()
    assert list(frame.columns) == list(COLUMNS)
    pd.testing.assert_frame_equal(frame, expected)
    store.to_parquet(tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), expected)
    store.to_csv(tmp_path / "r.csv")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "r.csv"), expected)


def test_empty_export_has_the_columns(store):
    frame = store.to_dataframe()
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 0
    assert frame["value"].dtype == np.float64 and frame["n_stimuli"].dtype == np.int64


def test_threads_can_share_one_store(store):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        stored = list(pool.map(lambda i: store.put(make_row(i % 50)), range(200)))
    assert sum(stored) == 50 and len(store) == 50


# --- the grid's batch path ---------------------------------------------------------------

FIELDS = {k: make_row()[k] for k in ("measure", "params", "kind", "symmetric", "bound_low",
                                     "bound_high", "library_version", "created")}
NAMES, HASHES = ["net/l0", "net/l1", "net/out"], ["h0", "h1", "hout"]


def pair_values(row):
    return {k: row[k] for k in ("value", "ci_low", "ci_high", "p_value", "n_stimuli", "seconds")}


@pytest.mark.parametrize("stats", [True, False])
def test_put_pairs_stores_the_rows_of_put_many(tmp_path, stats):
    changes = {} if stats else {"ci_low": None, "ci_high": None, "p_value": None}
    rows = [make_row(0, **changes), make_row(1, **changes, value=math.nan),
            make_row(0, b="net/l1", hash_b="h1", **changes)]
    index = {n: k for k, n in enumerate(NAMES)}
    pairs = [(index[r["a"]], index[r["b"]], pair_values(r)) for r in rows]
    with ResultStore(tmp_path / "many.db") as many, ResultStore(tmp_path / "pairs.db") as fast:
        assert many.put_many(rows) == fast.put_pairs(FIELDS, NAMES, HASHES, pairs) == 3
        assert fast.put_pairs(FIELDS, NAMES, HASHES, pairs[:1]) == 0  # stored already
        got, expected = fast.to_dataframe(), many.to_dataframe()
    pd.testing.assert_frame_equal(got, expected)


def test_put_pairs_converts_numpy_numbers_and_refuses_bad_ones(store):
    good = pair_values(make_row(0))
    numpy_numbers = dict(good, value=np.float32(0.25), n_stimuli=np.int64(7), seconds=1)
    assert store.put_pairs(FIELDS, NAMES, HASHES, [(0, 2, numpy_numbers)]) == 1
    row = store.rows()[0]
    assert (row["value"], row["n_stimuli"], row["seconds"]) == (0.25, 7, 1.0)
    assert type(row["n_stimuli"]) is int and type(row["seconds"]) is float
    for change, exc, match in [({"value": math.inf}, ValueError, "value must be finite"),
                               ({"p_value": 1.5}, ValueError, "p_value must be in"),
                               ({"n_stimuli": 0}, ValueError, "n_stimuli must be a positive"),
                               ({"seconds": -1.0}, ValueError, "seconds must be >= 0"),
                               ({"value": "high"}, TypeError, "value must be a real number")]:
        with pytest.raises(exc, match=match):  # the whole batch is refused
            store.put_pairs(FIELDS, NAMES, HASHES, [(1, 2, good), (0, 1, dict(good, **change))])
        assert len(store) == 1
    with pytest.raises(ValueError, match=r"fields must have the keys.*missing \['kind'"):
        store.put_pairs({"measure": "cka", "params": {}}, NAMES, HASHES, [(0, 1, good)])
    with pytest.raises(TypeError, match=r"names\[1\] must be a non-empty str"):
        store.put_pairs(FIELDS, ["a", ""], HASHES, [(0, 1, good)])


@pytest.mark.parametrize("stats", [True, False])
def test_put_columns_stores_the_rows_of_put_many(tmp_path, stats):
    changes = {} if stats else {"ci_low": None, "ci_high": None, "p_value": None}
    rows = [make_row(0, **changes), make_row(1, **changes, value=math.nan),
            make_row(0, b="net/l1", hash_b="h1", **{**changes, "p_value": None})]
    index = {n: k for k, n in enumerate(NAMES)}
    columns = {"first": [index[r["a"]] for r in rows], "second": [index[r["b"]] for r in rows],
               "value": [r["value"] for r in rows], "n_stimuli": [r["n_stimuli"] for r in rows],
               "seconds": [r["seconds"] for r in rows],
               "stats": [[math.nan if r[k] is None else r[k]
                          for k in ("ci_low", "ci_high", "p_value")] for r in rows]
               if stats else None}
    with ResultStore(tmp_path / "many.db") as many, ResultStore(tmp_path / "cols.db") as fast:
        assert many.put_many(rows) == fast.put_columns(FIELDS, NAMES, HASHES, **columns) == 3
        assert fast.put_columns(FIELDS, NAMES, HASHES, **{k: v[:1] if v else v  # stored already
                                                         for k, v in columns.items()}) == 0
        got, expected = fast.to_dataframe(), many.to_dataframe()
        assert [type(r["n_stimuli"]) for r in fast.rows()] == [int] * 3
    pd.testing.assert_frame_equal(got, expected)


def test_put_columns_refuses_bad_numbers_naming_them(store):
    good = {"first": [1, 0], "second": [2, 1], "value": [0.5, 0.25], "n_stimuli": [7, 7],
            "seconds": [0.1, 0.1], "stats": None}
    for change, exc, match in [({"value": [0.5, math.inf]}, ValueError, "value must be finite"),
                               ({"stats": [[0.1, 0.2, 0.5], [0.1, 0.2, 1.5]]}, ValueError,
                                "p_value must be in"),
                               ({"n_stimuli": [7, 0]}, ValueError, "n_stimuli must be a positive"),
                               ({"seconds": [0.1, -1.0]}, ValueError, "seconds must be >= 0"),
                               ({"n_stimuli": [7.0, 7.5]}, ValueError,
                                "n_stimuli must be a positive int; got 7.0")]:
        with pytest.raises(exc, match=match):  # the whole batch is refused
            store.put_columns(FIELDS, NAMES, HASHES, **dict(good, **change))
        assert len(store) == 0
    assert store.put_columns(FIELDS, NAMES, HASHES, **good) == 2


# --- crashes and concurrent processes -----------------------------------------------------

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

CHILD = """
import os, random, sys, time
from repalign import ResultStore
path, flag, k, order, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:]
keys = list(range(200))
if order == "reversed":
    keys.reverse()
elif order == "shuffled":
    random.Random(0).shuffle(keys)
with ResultStore(path) as store:
    go = flag + ".go"
    open(flag + ".ready." + order, "w").close()
    while order != "forward" and not os.path.exists(go):  # the kill test starts at once
        time.sleep(0.001)
    stored = []
    for i in keys:
        if resume == "skip_stored" and store.has(f"net/l{i}", "net/out", f"h{i}", "hout", "cka",
                                                 {"i": i}):
            continue
        row = dict(a=f"net/l{i}", b="net/out", hash_a=f"h{i}", hash_b="hout", measure="cka",
                   params={"i": i}, kind="similarity", symmetric=True, bound_low=0.0,
                   bound_high=1.0, value=i / 7, n_stimuli=100 + i, seconds=0.0)
        if store.put(row):
            stored.append(i)
        if len(stored) == k:
            open(flag, "w").close()
print(" ".join(map(str, stored)))
"""


def start_child(path, flag, k, order, resume="skip_stored"):
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(flag), str(k), order,
                             resume],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, procs, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"child exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            for proc in procs:
                proc.kill()
            pytest.fail(f"no signal file {path} after {timeout} s")
        time.sleep(0.001)


def check_rows(path, n_min=0):
    """Every stored row is whole and right, and the stored keys are a prefix of 0, 1, ..."""
    with ResultStore(path) as store:
        rows = store.rows()
    assert len(rows) >= n_min
    for i, row in enumerate(rows):
        assert row["params"] == {"i": i} and row["hash_a"] == f"h{i}"
        assert row["value"] == i / 7 and row["n_stimuli"] == 100 + i and row["a"] == f"net/l{i}"
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    raw.close()
    return len(rows)


@posix_only
def test_killed_while_putting_rows_keeps_every_committed_row_and_resumes(tmp_path):
    path, flag = tmp_path / "results.db", tmp_path / "flag"
    proc = start_child(path, flag, 37, "forward")
    wait_for(flag, [proc])
    os.kill(proc.pid, signal.SIGKILL)  # the child is inside its next put, or between two
    proc.communicate()
    done = check_rows(path, n_min=37)
    assert done < 200
    with ResultStore(path) as store:  # the store opens and takes new rows
        assert store.put(make_row(0, hash_a="other")) is True
        assert store.put(make_row(0, hash_a="other")) is False
    rerun = start_child(path, tmp_path / "flag2", 10**6, "forward")
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert [int(i) for i in out.split()] == list(range(done, 200))  # nothing recomputed
    with ResultStore(path) as store:
        assert len(store) == 201
        assert [r["hash_a"] for r in store.rows()][:done + 1] == [
            *(f"h{i}" for i in range(done)), "other"]


@posix_only
def test_killed_at_random_moments_loses_no_committed_row(tmp_path):
    path = tmp_path / "results.db"
    rng = np.random.default_rng(int(os.environ.get("REPALIGN_CRASH_SEED", "0")))
    done = 0
    for round_ in range(4):
        flag = tmp_path / f"flag{round_}"
        proc = start_child(path, flag, 10**6, "forward")
        wait_for(flag.with_name(flag.name + ".ready.forward"), [proc])
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        previous, done = done, check_rows(path)
        assert done >= previous  # progress is kept
    with ResultStore(path) as store:
        assert store.put(make_row(0, hash_a="other")) is True


@posix_only
def test_two_processes_putting_the_same_keys_store_each_once(tmp_path):
    path, flag = tmp_path / "results.db", tmp_path / "flag"
    # Neither asks has(): each puts all 200 keys, so every key is raced for.
    procs = [start_child(path, flag, 10**6, order, "put_all")
             for order in ("shuffled", "reversed")]
    for order in ("shuffled", "reversed"):
        wait_for(tmp_path / f"flag.ready.{order}", procs)
    (tmp_path / "flag.go").touch()  # both start putting at the same moment
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and err == "", err
        outs.append([int(i) for i in out.split()])
    assert sorted(outs[0] + outs[1]) == list(range(200))  # each key stored by exactly one
    with ResultStore(path, read_only=True) as store:
        rows = store.rows()
    assert len(rows) == 200 and len({(r["hash_a"], r["params"]["i"]) for r in rows}) == 200
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT COUNT(*) FROM results").fetchone() == (200,)
    raw.close()


def _open_and_put_in_each(paths, barrier, errors):
    """Child process: open every store at the same moment as the others, and write a row."""
    for path in paths:
        barrier.wait()
        try:
            with ResultStore(path) as store:
                store.put(make_row(0))
        except Exception as err:  # reported to the parent, which fails the test
            errors.put(f"{path}: {err!r}")


def test_processes_creating_the_same_store_at_once_all_open_it(tmp_path):
    """Switching a new file to WAL can answer 'database is locked' at once, without the
    busy timeout; opening must wait for the other process instead of failing."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    n_procs, paths = 4, [tmp_path / f"results{i}.db" for i in range(40)]
    barrier, errors = ctx.Barrier(n_procs), ctx.Queue()
    procs = [ctx.Process(target=_open_and_put_in_each, args=(paths, barrier, errors))
             for _ in range(n_procs)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    reported = [errors.get() for _ in range(errors.qsize())]
    assert reported == [] and all(proc.exitcode == 0 for proc in procs)
    for path in paths:
        with ResultStore(path, read_only=True) as store:
            assert len(store) == 1
