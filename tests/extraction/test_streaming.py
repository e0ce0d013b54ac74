"""extract(..., store=, name=): batches streamed into an ActivationStore, and resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import repalign  # noqa: E402

from ._models import TinyCNN, images  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["features.1", "features.4", "head"]


def counting(model):
    """Attach a counter of the stimuli that go through ``model``'s forward pass."""
    rows: list[int] = []
    model.register_forward_pre_hook(lambda module, args: rows.append(args[0].shape[0]))
    return rows


# --- the protocol, on a recording fake -------------------------------------------------


class FakeWriter:
    def __init__(self, store, key, n, d, chunk_size, attrs):
        self.store, self.key, self.shape, self.chunk_size = store, key, (n, d), chunk_size
        self.chunks = store.chunks.setdefault(key, {})
        store.opened[key] = {"n": n, "d": d, "chunk_size": chunk_size, "attrs": attrs}

    def done_chunks(self):
        return set(self.chunks)

    def write_chunk(self, index, array):
        self.store.log.append((self.key[1], index))
        self.chunks[index] = np.array(array)

    def finalize(self):
        self.store.complete[self.key] = np.concatenate(
            [self.chunks[i] for i in sorted(self.chunks)])


class FakeStore:
    """Follows the ActivationStore interface that extraction uses, and records calls."""

    def __init__(self):
        self.chunks, self.complete, self.opened, self.log = {}, {}, {}, []

    def list(self):
        return sorted(self.complete)

    def writer(self, model, layer, n_stimuli, n_features, *, chunk_size, dtype="float32",
               attrs=None):
        return FakeWriter(self, (model, layer), n_stimuli, n_features, chunk_size, attrs)

    def attrs(self, model, layer):
        return self.opened[(model, layer)]["attrs"]

    def read_lazy(self, model, layer):
        return self.complete[(model, layer)]


def test_streaming_writes_only_missing_chunks_and_skips_done_batches():
    model, x = TinyCNN(), images(n=10)
    want = repalign.extract(model, x, layers=["features.4", "head"], batch_size=3)
    store = FakeStore()
    # an earlier run finished batch 0 for both layers, batch 2 for "features.4" only
    store.chunks[("cnn", "features.4")] = {0: want["features.4"][:3], 2: want["features.4"][6:9]}
    store.chunks[("cnn", "head")] = {0: want["head"][:3]}
    rows = counting(model)
    got = repalign.extract(model, x, layers=["features.4", "head"], batch_size=3, store=store,
                           name="cnn", stimulus_set="toy", stimulus_ids=list("abcdefghij"))
    assert rows == [1, 3, 3, 1]  # one probe stimulus, then batches 1, 2, 3 (not 0)
    assert store.log == [("features.4", 1), ("head", 1), ("head", 2),
                         ("features.4", 3), ("head", 3)]
    opened = store.opened[("cnn", "head")]
    assert (opened["n"], opened["d"], opened["chunk_size"]) == (10, 5, 3)
    assert opened["attrs"] == {"pooling": "mean", "stimulus_set": "toy",
                               "stimulus_ids": list("abcdefghij")}
    for layer in want:
        np.testing.assert_array_equal(got[layer], want[layer])


# --- the real store ---------------------------------------------------------------------


@pytest.fixture
def ActivationStore():
    pytest.importorskip("zarr")
    pytest.importorskip("dask")
    return repalign.ActivationStore


def test_store_round_trip_and_rerun_computes_nothing(ActivationStore, tmp_path):
    model, x = TinyCNN(), images(n=10)
    want = repalign.extract(model, x, layers=LAYERS, pool="max", batch_size=4)
    with ActivationStore(tmp_path / "acts", mode="a", fsync=False) as store:
        got = repalign.extract(model, x, layers=LAYERS, pool="max", batch_size=4, store=store,
                               name="cnn", stimulus_set="toy")
        assert store.list() == [("cnn", layer) for layer in sorted(LAYERS)]
        attrs = store.attrs("cnn", "head")
        assert attrs["pooling"] == "max" and attrs["stimulus_set"] == "toy"
        assert attrs["stimulus_ids"] == list(range(10))
        rows = counting(model)
        again = repalign.extract(model, x, layers=LAYERS, pool="max", batch_size=4,
                                 store=store, name="cnn", stimulus_set="toy")
        assert rows == []  # complete arrays are read, not recomputed
    for layer in LAYERS:
        assert type(got[layer]).__module__.startswith("dask")
        np.testing.assert_array_equal(got[layer].compute(), want[layer])
        np.testing.assert_array_equal(again[layer].compute(), want[layer])
        np.testing.assert_array_equal(ActivationStore(tmp_path / "acts").read("cnn", layer),
                                      want[layer])


def test_a_dataloader_streams_into_the_store(ActivationStore, tmp_path):
    model, x = TinyCNN(), images(n=10)
    want = repalign.extract(model, x, layers=LAYERS, batch_size=4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=3)
    with ActivationStore(tmp_path / "acts", mode="a", fsync=False) as store:
        got = repalign.extract(model, loader, layers=LAYERS, batch_size=4, store=store,
                               name="cnn")
        for layer in LAYERS:
            np.testing.assert_allclose(got[layer].compute(), want[layer], atol=1e-6)


def test_store_refuses_different_extractions(ActivationStore, tmp_path):
    model, x = TinyCNN(), images(n=6)
    with ActivationStore(tmp_path / "acts", mode="a", fsync=False) as store:
        repalign.extract(model, x, layers=["head"], store=store, name="cnn")
        with pytest.raises(ValueError, match=r"complete array for model 'cnn', layer 'head' "
                                             r"extracted differently: pooling 'mean' \(now "
                                             r"'max'\).*store.delete\('cnn', 'head'\)"):
            repalign.extract(model, x, layers=["head"], pool="max", store=store, name="cnn")
        with pytest.raises(ValueError, match=r"6 stimuli \(now 5\)"):
            repalign.extract(model, x[:5], layers=["head"], store=store, name="cnn")
        with pytest.raises(ValueError, match="stimulus_ids has 2 ids but there are 6 stimuli"):
            repalign.extract(model, x, layers=["head"], store=store, name="cnn",
                             stimulus_ids=["a", "b"])
        with pytest.raises(ValueError, match="stimuli must have a length to be streamed"):
            repalign.extract(model, iter(x), layers=["head"], store=store, name="net")
        store.delete("cnn", "head")
        got = repalign.extract(model, x, layers=["head"], pool="max", store=store, name="cnn")
        assert store.attrs("cnn", "head")["pooling"] == "max"
        assert got["head"].shape == (6, 5)


def test_store_records_the_source_of_loaded_models(ActivationStore, tmp_path):
    from repalign.extraction import ModuleAdapter

    adapter = ModuleAdapter(TinyCNN(), source="/models/tiny")
    with ActivationStore(tmp_path / "acts", mode="a", fsync=False) as store:
        repalign.extract(adapter, images(n=5), layers=["head"], pool=lambda t: t * 2,
                         store=store, name="tiny", stimulus_ids=np.arange(5, 10))
        attrs = store.attrs("tiny", "head")
    assert attrs["source"] == "/models/tiny"
    assert attrs["pooling"].endswith("<lambda>")
    assert attrs["stimulus_ids"] == [5, 6, 7, 8, 9]


SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
import repalign
from tests.extraction._models import TinyCNN, images

model = TinyCNN()
calls = []

def slow(module, args):
    calls.append(args[0].shape[0])
    if len(calls) == 4:  # the probe and batches 0, 1 are done, batch 2 starts
        open({ready!r}, "w").close()
    if len(calls) >= 4:
        time.sleep(0.5)

model.register_forward_pre_hook(slow)
with repalign.ActivationStore({path!r}, mode="a") as store:
    repalign.extract(model, images(n=30), layers={layers!r}, batch_size=4, store=store,
                     name="cnn", progress=False)
print("finished")
"""


def test_killed_extraction_resumes_without_recomputing(ActivationStore, tmp_path):
    path, ready = tmp_path / "acts", tmp_path / "ready"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT).format(root=str(ROOT), ready=str(ready),
                                                     path=str(path), layers=LAYERS))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the extraction did not start: {proc.communicate()}")
            time.sleep(0.02)
        time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and "finished" not in out

    x = images(n=30)
    want = repalign.extract(TinyCNN(), x, layers=LAYERS, batch_size=4)
    with ActivationStore(path, mode="a") as store:
        assert store.list() == []  # nothing complete, nothing corrupt
        attrs = {"pooling": "mean", "stimulus_set": None, "stimulus_ids": list(range(30))}
        done = set.intersection(*(
            store.writer("cnn", layer, 30, want[layer].shape[1], chunk_size=4,
                         attrs=attrs).done_chunks() for layer in LAYERS))
        assert {0, 1} <= done and len(done) < 8  # killed part-way
        model = TinyCNN()
        rows = counting(model)
        got = repalign.extract(model, x, layers=LAYERS, batch_size=4, store=store, name="cnn")
        assert store.list() == [("cnn", layer) for layer in sorted(LAYERS)]
    todo = [b for b in range(8) if b not in done]
    assert rows == [1] + [min(4, 30 - 4 * b) for b in todo]  # probe + unfinished batches
    for layer in LAYERS:
        np.testing.assert_array_equal(got[layer].compute(), want[layer])
