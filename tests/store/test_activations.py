"""ActivationStore and ActivationWriter: round trips, names, attributes, errors, resume."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import zarr

import repalign
from repalign.store import ActivationStore, ActivationWriter, Store
from repalign.store.activations import content_hash, decode_name, encode_name


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((11, 4))


@pytest.fixture
def store(tmp_path):
    with ActivationStore(tmp_path / "acts", mode="a", fsync=False) as s:
        yield s


# --- round trip -------------------------------------------------------------------------


def test_round_trip_float32_default(store, X):
    digest = store.add("net", "layer1", X, pooling="mean", stimulus_set="demo")
    assert store.list() == [("net", "layer1")]
    assert ("net", "layer1") in store and ("net", "other") not in store
    assert ("net",) not in store and ("net", 1) not in store
    out = store.read("net", "layer1", verify=True)
    assert out.dtype == np.float32 and out.shape == (11, 4)
    np.testing.assert_array_equal(out, X.astype(np.float32))
    lazy = store.read_lazy("net", "layer1")
    assert type(lazy).__module__.startswith("dask")
    np.testing.assert_array_equal(lazy.compute(), out)
    attrs = store.attrs("net", "layer1")
    assert attrs["model"] == "net" and attrs["layer"] == "layer1"
    assert attrs["pooling"] == "mean" and attrs["stimulus_set"] == "demo"
    assert attrs["stimulus_ids"] is None
    assert attrs["dtype"] == "float32"
    assert attrs["content_hash"] == digest == content_hash(X.astype(np.float32))
    assert attrs["repalign_version"] == repalign.__version__
    assert attrs["created"].endswith("+00:00")
    assert "complete" not in attrs
    store.delete("net", "layer1")
    assert store.list() == [] and ("net", "layer1") not in store
    assert not (store.path / "net").exists()
    with pytest.raises(ValueError, match="no activations for model='net', layer='layer1'"):
        store.read("net", "layer1")


def test_float64_kept_when_asked(store, X):
    store.add("net", "l", X, dtype="float64")
    out = store.read("net", "l")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, X)
    assert store.attrs("net", "l")["dtype"] == "float64"
    assert store.read_lazy("net", "l").dtype == np.float64


def test_reopened_read_only_store_reads_everything(tmp_path, X):
    with ActivationStore(tmp_path, mode="a") as s:
        s.add("a", "x", X, chunk_size=4)
        s.add("a", "y", X[:, :2])
        s.add("b", "x", X[:5])
    with ActivationStore(tmp_path) as s:
        assert s.read_only and s.mode == "r"
        assert s.list() == [("a", "x"), ("a", "y"), ("b", "x")]
        np.testing.assert_array_equal(s.read("a", "x"), X.astype(np.float32))
        assert s.read_lazy("a", "x").chunks == ((4, 4, 3), (4,))
    assert s.closed


def test_hash_does_not_depend_on_chunking(store, X):
    assert store.add("m", "a", X, chunk_size=3) == store.add("m", "b", X, chunk_size=11)


def test_torch_tensor_input(store, X):
    torch = pytest.importorskip("torch")
    store.add("m", "t", torch.as_tensor(X))
    np.testing.assert_array_equal(store.read("m", "t"), X.astype(np.float32))


def test_add_replaces_an_incomplete_array(store, X):
    w = store.writer("m", "l", 11, 4, chunk_size=5)
    w.write_chunk(0, np.zeros((5, 4)))
    assert store.incomplete() == [("m", "l")] and store.list() == []
    store.add("m", "l", X)
    assert store.incomplete() == [] and store.list() == [("m", "l")]
    np.testing.assert_array_equal(store.read("m", "l"), X.astype(np.float32))


def test_repr(store, X):
    assert "mode='a'" in repr(store)
    w = store.writer("m", "l", 11, 4, chunk_size=5)
    assert "done=0/3" in repr(w)


# --- names ------------------------------------------------------------------------------

NAMES = ["encoder.layer.0", "runs/resnet50", "a/b/c", "100%", "with space", "über",
         ".", "..", ".hidden", "_x", "__reserved", "zarr.json", "ZARR.JSON", "c", "%2F"]


@pytest.mark.parametrize("name", NAMES)
def test_name_encoding_round_trips_to_one_safe_component(name):
    enc = encode_name(name)
    assert decode_name(enc) == name
    assert "/" not in enc and enc not in (".", "..") and enc.lower() != "zarr.json"
    assert not enc.startswith((".", "_"))
    assert enc.isascii()


def test_dotted_names_are_kept_readable():
    assert encode_name("encoder.layer.0") == "encoder.layer.0"
    assert encode_name("features.3/conv") == "features.3%2Fconv"


def test_store_round_trip_with_awkward_names(store, X):
    for i, name in enumerate(NAMES):
        store.add(name, NAMES[-1 - i], np.ones((i + 3, 4)))
    assert store.list() == [(n, NAMES[-1 - i]) for i, n in enumerate(NAMES)]  # as created
    for i, name in enumerate(NAMES):
        assert store.read(name, NAMES[-1 - i]).shape == (i + 3, 4)
        assert store.attrs(name, NAMES[-1 - i])["model"] == name
    # Each (model, layer) is exactly two directory levels under the store.
    arrays = [p for p in store.path.rglob("zarr.json")
              if json.loads(p.read_text())["node_type"] == "array"]
    assert len(arrays) == len(NAMES)
    assert all(len(p.relative_to(store.path).parts) == 3 for p in arrays)


def test_name_collision_is_refused(store, X):
    # What a case-insensitive file system does to "Net"/"net": one directory, two names.
    store.add("net", "l", X)
    meta_path = store.path / "net" / "l" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["model"] = "Net"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="shares its directory with the stored model='Net'"):
        store.read("net", "l")


@pytest.mark.parametrize("bad, err, match", [
    (3, TypeError, "model must be a str; got int"),
    ("", ValueError, "model must be a non-empty string"),
    ("x" * 300, ValueError, "model is too long"),
])
def test_bad_model_names(store, X, bad, err, match):
    with pytest.raises(err, match=match):
        store.add(bad, "l", X)


def test_bad_layer_name(store):
    with pytest.raises(TypeError, match="layer must be a str; got NoneType"):
        store.read("m", None)


# --- attributes -------------------------------------------------------------------------


def test_user_attributes_round_trip_json_normalised(store, X):
    store.add("m", "l", X, stimulus_ids=np.arange(11), note="hi", scale=np.float32(0.5),
              count=np.int64(3), sizes=(1, 2), nested={"a": [1, None]})
    attrs = store.attrs("m", "l")
    assert attrs["stimulus_ids"] == list(range(11))
    assert attrs["note"] == "hi" and attrs["scale"] == 0.5 and attrs["count"] == 3
    assert attrs["sizes"] == [1, 2] and attrs["nested"] == {"a": [1, None]}


@pytest.mark.parametrize("attrs, err, match", [
    ({"dtype_": 1, "created": "now"}, ValueError, "attribute 'created' is set by repalign"),
    ({"content_hash": "x"}, ValueError, "attribute 'content_hash' is set by repalign"),
    ({"complete": True}, ValueError, "attribute 'complete' is set by repalign"),
    ({"note": {1, 2}}, TypeError, "attribute 'note' must be JSON-serialisable.*got set"),
    ({"note": object()}, TypeError, "attribute 'note' must be JSON-serialisable"),
    ({"pooling": len}, TypeError, "attribute 'pooling' must be a str or None"),
    ({"stimulus_set": 3}, TypeError, "attribute 'stimulus_set' must be a str or None"),
    ({"stimulus_ids": list(range(10))}, ValueError,
     r"stimulus_ids has 10 entries but the array has 11 stimuli"),
    ({"stimulus_ids": "abcdefghijk"}, TypeError, "stimulus_ids must be a list of str or int"),
    ({"stimulus_ids": [0.5] * 11}, TypeError, "stimulus_ids must hold str or int; got float"),
])
def test_attribute_errors(store, X, attrs, err, match):
    with pytest.raises(err, match=match):
        store.add("m", "l", X, **attrs)
    assert store.list() == [] and store.incomplete() == []


def test_writer_attrs_errors(store):
    with pytest.raises(TypeError, match="attrs must be a dict or None; got list"):
        store.writer("m", "l", 4, 2, chunk_size=2, attrs=["pooling"])
    with pytest.raises(TypeError, match="attribute names must be str; got int"):
        store.writer("m", "l", 4, 2, chunk_size=2, attrs={1: "x"})
    with pytest.raises(ValueError, match="attribute 'model' is set by repalign"):
        store.writer("m", "l", 4, 2, chunk_size=2, attrs={"model": "x"})


# --- opening and read-only --------------------------------------------------------------


def test_read_only_store_refuses_writes(tmp_path, X):
    ActivationStore(tmp_path, mode="a").add("m", "l", X)
    store = ActivationStore(tmp_path, mode="r")
    for call in (lambda: store.add("m", "k", X), lambda: store.delete("m", "l"),
                 lambda: store.writer("m", "k", 3, 2, chunk_size=1)):
        with pytest.raises(ValueError, match="store was opened in read-only mode"):
            call()
    assert store.list() == [("m", "l")]


def test_writer_refuses_after_store_reopened_read_only(tmp_path, X):
    store = ActivationStore(tmp_path, mode="a")
    w = store.writer("m", "l", 4, 4, chunk_size=2)
    store.close()
    with pytest.raises(ValueError, match="is closed"):
        w.write_chunk(0, X[:2])
    with pytest.raises(ValueError, match="is closed"):
        store.list()


def test_open_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no activation store at .*missing"):
        ActivationStore(tmp_path / "missing")
    with pytest.raises(ValueError, match="mode must be 'r' .* or 'a' .*; got 'w'"):
        ActivationStore(tmp_path, mode="w")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike; got int"):
        ActivationStore(3)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file; expected a store directory"):
        ActivationStore(tmp_path / "file", mode="a")
    with pytest.raises(ValueError, match="is not an activation store: it has no zarr.json"):
        ActivationStore(tmp_path, mode="a")  # not empty, not a store
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not an activation store: it has no zarr.json"):
        ActivationStore(tmp_path / "empty", mode="r")
    zarr.open_group(str(tmp_path / "other"), mode="w", zarr_format=3)
    with pytest.raises(ValueError, match="not a repalign activation store"):
        ActivationStore(tmp_path / "other")


def test_newer_format_is_refused(tmp_path):
    ActivationStore(tmp_path / "s", mode="a")
    meta = json.loads((tmp_path / "s" / "zarr.json").read_text())
    meta["attributes"]["format_version"] = 99
    (tmp_path / "s" / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="written by a newer repalign"):
        ActivationStore(tmp_path / "s")


def test_mode_a_creates_and_reopens(tmp_path, X):
    ActivationStore(tmp_path / "new" / "nested", mode="a").add("m", "l", X)
    assert ActivationStore(tmp_path / "new" / "nested", mode="a").list() == [("m", "l")]


def test_store_base_class():
    with pytest.raises(TypeError, match="abstract"):
        Store()
    with pytest.raises(TypeError, match="read_only must be a bool; got str"):
        ActivationStore.__mro__[1].__init__(object.__new__(ActivationStore), read_only="r")
    assert ActivationStore.supports_writes and ActivationStore.supports_listing


def test_lazy_export():
    assert repalign.ActivationStore is ActivationStore
    assert "ActivationStore" in repalign.__all__ and "ActivationStore" in dir(repalign)
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchThing'"):
        repalign.NoSuchThing  # noqa: B018


# --- reading errors ---------------------------------------------------------------------


def test_incomplete_array_is_neither_listed_nor_readable(store, X):
    w = store.writer("m", "l", 11, 4, chunk_size=4)
    w.write_chunk(1, X[4:8])
    assert store.list() == [] and store.incomplete() == [("m", "l")]
    assert ("m", "l") not in store
    for call in (store.read, store.read_lazy, store.attrs):
        with pytest.raises(ValueError, match=r"are incomplete \(1 of 3 chunks written.*"
                                             r"store.writer\('m', 'l', 11, 4, chunk_size=4"):
            call("m", "l")


def test_verify_detects_changed_data(store, X):
    store.add("m", "l", X, chunk_size=4)
    raw = zarr.open_array(str(store.path / "m" / "l"), mode="r+", zarr_format=3)
    raw[0, 0] = 123.0
    np.testing.assert_array_equal(store.read("m", "l")[0, 0], 123.0)  # no check by default
    with pytest.raises(ValueError, match="content hash of model='m', layer='l' does not match"):
        store.read("m", "l", verify=True)


def test_delete_missing(store):
    with pytest.raises(ValueError, match="nothing to delete: no activations for model='m'"):
        store.delete("m", "l")


# --- add and writer errors --------------------------------------------------------------


def test_add_errors(store, X):
    with pytest.raises(ValueError, match=r"array must be 2-D.*got shape \(11,\)"):
        store.add("m", "l", X[:, 0])
    with pytest.raises(ValueError, match="at least one row and one column"):
        store.add("m", "l", X[:0])
    with pytest.raises(TypeError, match="array must hold real numbers; got dtype complex128"):
        store.add("m", "l", X + 1j)
    with pytest.raises(TypeError, match="array must hold real numbers; got dtype <U1"):
        store.add("m", "l", [["a"]])
    with pytest.raises(ValueError, match="dtype must be a floating dtype.*got int64"):
        store.add("m", "l", X, dtype="int64")
    with pytest.raises(TypeError, match="dtype must be a NumPy floating dtype; got 'nope'"):
        store.add("m", "l", X, dtype="nope")
    with pytest.raises(ValueError, match=r"beyond the range of float32.*dtype='float64'"):
        store.add("m", "l", np.full((3, 2), 1e300))
    assert store.list() == [] and store.incomplete() == []  # failed adds leave nothing
    store.add("m", "l", X)
    with pytest.raises(ValueError, match="already complete.*store.delete\\('m', 'l'\\)"):
        store.add("m", "l", X)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"n_stimuli": 0}, ValueError, "n_stimuli must be at least 1; got 0"),
    ({"n_features": 2.0}, TypeError, "n_features must be an int; got float"),
    ({"chunk_size": True}, TypeError, "chunk_size must be an int; got bool"),
    ({"dtype": "int8"}, ValueError, "dtype must be a floating dtype"),
])
def test_writer_argument_errors(store, kwargs, err, match):
    args = {"n_stimuli": 10, "n_features": 3, "chunk_size": 4, **kwargs}
    with pytest.raises(err, match=match):
        store.writer("m", "l", args.pop("n_stimuli"), args.pop("n_features"), **args)


def test_write_chunk_and_finalize_errors(store, X):
    w = store.writer("m", "l", 11, 4, chunk_size=4)
    with pytest.raises(ValueError, match=r"index must be in \[0, 3\).*got 3"):
        w.write_chunk(3, X[:4])
    with pytest.raises(ValueError, match=r"index must be in \[0, 3\).*got -1"):
        w.write_chunk(-1, X[:4])
    with pytest.raises(TypeError, match="index must be an int; got float"):
        w.write_chunk(1.0, X[:4])
    with pytest.raises(ValueError, match=r"chunk 2 must have shape \(3, 4\) \(rows 8..10\); "
                                         r"got \(4, 4\)"):
        w.write_chunk(2, X[:4])
    w.write_chunk(0, X[:4])
    with pytest.raises(ValueError, match=r"cannot finalize .* 2 of 3 chunks are not written "
                                         r"\(1, 2\)"):
        w.finalize()
    w.write_chunk(1, X[4:8])
    w.write_chunk(2, X[8:])
    w.finalize()
    with pytest.raises(ValueError, match="cannot write: the writer .* was already finalized"):
        w.write_chunk(0, X[:4])
    with pytest.raises(ValueError, match="already complete"):
        store.writer("m", "l", 11, 4, chunk_size=4)


# --- resume -----------------------------------------------------------------------------


def test_resume_after_dropping_the_writer(tmp_path, X):
    store = ActivationStore(tmp_path, mode="a", fsync=False)
    w = store.writer("m", "enc.0", 11, 4, chunk_size=3, attrs={"pooling": "max", "run": 1})
    assert isinstance(w, ActivationWriter) and w.n_chunks == 4
    w.write_chunk(0, X[0:3])
    w.write_chunk(2, X[6:9])
    w.write_chunk(3, X[9:11])  # the short last chunk
    del w, store
    store = ActivationStore(tmp_path, mode="a", fsync=False)
    w = store.writer("m", "enc.0", 11, 4, chunk_size=3, attrs={"pooling": "max", "run": 2})
    assert w.done_chunks() == {0, 2, 3}
    for i in sorted(set(range(w.n_chunks)) - w.done_chunks()):
        w.write_chunk(i, X[w.chunk_slice(i)])
    digest = w.finalize()
    np.testing.assert_array_equal(store.read("m", "enc.0"), X.astype(np.float32))
    attrs = store.attrs("m", "enc.0")
    assert attrs["content_hash"] == digest == content_hash(X.astype(np.float32))
    assert attrs["pooling"] == "max" and attrs["run"] == 2


def test_all_zero_chunk_counts_as_written(store):
    w = store.writer("m", "l", 4, 2, chunk_size=2)
    w.write_chunk(1, np.zeros((2, 2)))
    assert w.done_chunks() == {1}


def test_stale_temporary_files_are_removed_on_resume(store, X):
    w = store.writer("m", "l", 11, 4, chunk_size=4)
    w.write_chunk(0, X[:4])
    stale = store.path / "m" / "l" / "c" / "1" / ".0.deadbeef.tmp"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a chunk")
    w = store.writer("m", "l", 11, 4, chunk_size=4)
    assert not stale.exists() and w.done_chunks() == {0}


@pytest.mark.parametrize("change, match", [
    ({"n_stimuli": 12}, "n_stimuli: stored 11, given 12"),
    ({"n_features": 5}, "n_features: stored 4, given 5"),
    ({"chunk_size": 3}, "chunk_size: stored 4, given 3"),
    ({"dtype": "float64"}, "dtype: stored 'float32', given 'float64'"),
    ({"attrs": {"pooling": "max"}}, "pooling: stored 'mean', given 'max'"),
    ({"attrs": {"pooling": "mean", "stimulus_set": "b"}}, "stimulus_set: stored None, given 'b'"),
])
def test_resume_with_different_settings_is_refused(store, change, match):
    base = {"n_stimuli": 11, "n_features": 4, "chunk_size": 4, "attrs": {"pooling": "mean"}}
    store.writer("m", "l", base.pop("n_stimuli"), base.pop("n_features"), **base)
    args = {"n_stimuli": 11, "n_features": 4, "chunk_size": 4, "attrs": {"pooling": "mean"},
            **change}
    with pytest.raises(ValueError, match=f"cannot be resumed .*{match}"):
        store.writer("m", "l", args.pop("n_stimuli"), args.pop("n_features"), **args)


def test_delete_incomplete_then_rewrite(store, X):
    w = store.writer("m", "l", 11, 4, chunk_size=4)
    w.write_chunk(0, X[:4])
    store.add("m", "other", X)
    store.delete("m", "l")
    assert store.incomplete() == [] and store.list() == [("m", "other")]
    assert (store.path / "m").is_dir()  # the model keeps its other layer
    assert store.writer("m", "l", 11, 4, chunk_size=4).done_chunks() == set()
    assert not any((store.path / ".trash").iterdir())


def test_trash_left_by_a_killed_delete_is_emptied_on_open(tmp_path):
    ActivationStore(tmp_path, mode="a")
    (tmp_path / ".trash" / "abc" / "c").mkdir(parents=True)
    ActivationStore(tmp_path, mode="r")
    assert (tmp_path / ".trash" / "abc").exists()  # read-only opening touches nothing
    ActivationStore(tmp_path, mode="a")
    assert not (tmp_path / ".trash").exists()


def test_fsync_store_round_trip(tmp_path, X):
    store = ActivationStore(tmp_path, mode="a", fsync=True)
    store.add("m", "l", X, chunk_size=4)
    np.testing.assert_array_equal(store.read("m", "l", verify=True), X.astype(np.float32))
    assert not list(tmp_path.rglob("*.tmp"))


def test_add_failing_midway_leaves_nothing(store, X, monkeypatch):
    real = ActivationWriter.write_chunk

    def failing(self, index, array):
        if index == 1:
            raise OSError("disk full")
        real(self, index, array)

    monkeypatch.setattr(ActivationWriter, "write_chunk", failing)
    with pytest.raises(OSError, match="disk full"):
        store.add("m", "l", X, chunk_size=4)
    assert store.list() == [] and store.incomplete() == []


# --- the content hash never goes stale ----------------------------------------------------


def test_a_stale_writer_cannot_rewrite_a_chunk_of_a_complete_array(store, X):
    # Two writers of one incomplete array (a run resumed while the first one lives):
    # once one finalizes, the other may not change a chunk under the recorded hash.
    stale = store.writer("m", "l", 11, 4, chunk_size=4)
    fresh = store.writer("m", "l", 11, 4, chunk_size=4)
    for i in range(3):
        fresh.write_chunk(i, X[fresh.chunk_slice(i)])
    digest = fresh.finalize()
    with pytest.raises(ValueError, match=r"cannot write: model='m', layer='l' is already "
                                         r"complete \(another writer finalized it"):
        stale.write_chunk(0, X[:4] + 1)
    with pytest.raises(ValueError, match="cannot finalize: model='m', layer='l' is already"):
        stale.finalize()
    np.testing.assert_array_equal(store.read("m", "l", verify=True), X.astype(np.float32))
    assert store.attrs("m", "l")["content_hash"] == digest


@pytest.mark.parametrize("replace", ["delete and add", "add over the incomplete array"])
def test_a_writer_cannot_write_into_the_array_that_replaced_its_own(store, X, replace):
    old = store.writer("m", "l", 11, 4, chunk_size=4)
    old.write_chunk(0, X[:4])
    if replace == "delete and add":
        store.delete("m", "l")
    digest = store.add("m", "l", 2 * X, chunk_size=4)
    for call in (lambda: old.write_chunk(1, X[4:8]), old.finalize):
        with pytest.raises(ValueError, match="the array model='m', layer='l' this writer was "
                                             "filling was deleted or replaced"):
            call()
    np.testing.assert_array_equal(store.read("m", "l", verify=True), 2 * X.astype(np.float32))
    assert store.attrs("m", "l")["content_hash"] == digest


def test_a_failed_add_removes_only_its_own_array(store, X, monkeypatch):
    # add fails after another writer replaced its array: the other array stays.
    real = ActivationWriter.write_chunk

    def replaced_midway(self, index, array):
        if index == 1:
            ActivationWriter.write_chunk = real
            store.add("m", "l", 2 * X, chunk_size=4)  # another add replaces the array
        real(self, index, array)

    monkeypatch.setattr(ActivationWriter, "write_chunk", replaced_midway)
    with pytest.raises(ValueError, match="was deleted or replaced"):
        store.add("m", "l", X, chunk_size=4)
    np.testing.assert_array_equal(store.read("m", "l", verify=True), 2 * X.astype(np.float32))


def test_a_chunk_changed_outside_repalign_changes_the_content_hash(store, X):
    first = store.add("m", "l", X, chunk_size=4)
    assert "chunk_fingerprint" not in store.attrs("m", "l")
    raw = zarr.open_array(str(store.path / "m" / "l"), mode="r+", zarr_format=3)
    raw[0, 0] = 123.0
    changed = X.astype(np.float32)
    changed[0, 0] = 123.0
    with pytest.warns(UserWarning, match=r"chunk files of model='m', layer='l' changed since "
                                         r"it was finalized.*\(its values changed\)"):
        assert store.attrs("m", "l")["content_hash"] == content_hash(changed) != first
    raw[0, 0] = X[0, 0]  # back to the old values, in a new file
    with pytest.warns(UserWarning, match=r"\(its values are the same; the files' new "
                                         r"identities are recorded\)"):
        assert store.attrs("m", "l")["content_hash"] == first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.attrs("m", "l")["content_hash"] == first  # not hashed again


def test_a_copied_store_hashes_again_until_reopened_for_writing(tmp_path, X):
    import shutil

    with ActivationStore(tmp_path / "a", mode="a") as store:
        digest = store.add("m", "l", X, chunk_size=4)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # new files: new inodes
    with ActivationStore(tmp_path / "b") as copy:
        for _ in range(2):  # read-only: recomputed each time, nothing written
            with pytest.warns(UserWarning, match=r"\(its values are the same\)"):
                assert copy.attrs("m", "l")["content_hash"] == digest
    with ActivationStore(tmp_path / "b", mode="a") as copy:
        with pytest.warns(UserWarning, match="new identities are recorded"):
            assert copy.attrs("m", "l")["content_hash"] == digest
    with ActivationStore(tmp_path / "b") as copy, warnings.catch_warnings():
        warnings.simplefilter("error")
        assert copy.attrs("m", "l")["content_hash"] == digest
        np.testing.assert_array_equal(copy.read("m", "l", verify=True), X.astype(np.float32))


def test_an_array_finalized_before_fingerprints_keeps_its_stored_hash(store, X):
    digest = store.add("m", "l", X, chunk_size=4)
    meta_path = store.path / "m" / "l" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    del meta["attributes"]["chunk_fingerprint"], meta["attributes"]["created_ns"]
    meta_path.write_text(json.dumps(meta))
    assert store.attrs("m", "l")["content_hash"] == digest
    assert store.list() == [("m", "l")]


def test_finalize_waits_for_a_chunk_write_in_progress(store, X, monkeypatch):
    # Writer b rewrites chunk 0 while writer a finalizes: the hash a records must be
    # the hash of what is on disk when it is recorded.
    import threading

    from repalign.store import _atomic

    a = store.writer("m", "l", 11, 4, chunk_size=4)
    b = store.writer("m", "l", 11, 4, chunk_size=4)
    for i in range(3):
        a.write_chunk(i, X[a.chunk_slice(i)])
    inside, release = threading.Event(), threading.Event()
    real_put = _atomic._atomic_put

    def paused_put(path, data, **kwargs):
        if "c" in path.parts and not inside.is_set():
            inside.set()
            release.wait(10)
        return real_put(path, data, **kwargs)

    monkeypatch.setattr(_atomic, "_atomic_put", paused_put)
    writing = threading.Thread(target=b.write_chunk, args=(0, X[:4] + 1))
    writing.start()
    assert inside.wait(10)
    errors = []
    finishing = threading.Thread(target=lambda: errors.append(a.finalize()))
    finishing.start()
    finishing.join(0.5)
    assert finishing.is_alive()  # waiting for the chunk write to end
    release.set()
    writing.join(10)
    finishing.join(10)
    expected = X.astype(np.float32)
    expected[:4] = (X[:4] + 1).astype(np.float32)
    np.testing.assert_array_equal(store.read("m", "l", verify=True), expected)
    assert errors == [content_hash(expected)]


# --- names and concurrent creation -------------------------------------------------------


def test_a_name_that_is_not_unicode_text_is_refused(store, X):
    with pytest.raises(ValueError, match=r"model must be valid Unicode text; got 'm\\ud800'"):
        store.add("m\ud800", "l", X)
    assert store.list() == []


def test_shape_is_read_from_the_metadata(store, X):
    store.add("m", "l", X[:7])
    assert store.shape("m", "l") == (7, 4)
    with pytest.raises(ValueError, match="no activations for model='m', layer='x'"):
        store.shape("m", "x")


def test_a_directory_left_by_a_store_being_created_is_not_foreign(tmp_path, X):
    # Another process creating the store has written its root metadata's temporary file.
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / ".zarr.json.0123abcd.tmp").write_bytes(b"{")
    with ActivationStore(tmp_path / "s", mode="a") as store:
        store.add("m", "l", X)
        assert store.list() == [("m", "l")]
