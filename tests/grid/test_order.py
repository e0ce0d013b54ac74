"""Layers keep their order: the store's creation order, through the grid, its rows and figures.

Users read a layer x layer heatmap's diagonal as depth, so ``blocks.10`` must not
come before ``blocks.2``: an ActivationStore lists its arrays in the order they
were created (an extraction creates them in the network's order), the grid keeps
the store's order, the rows it stores keep the grid's order whatever the
executor, and the heatmap shows the layers in the order of the rows.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import repalign
from repalign.grid import run
from repalign.store import ActivationStore, ResultStore
from repalign.viz import layer_heatmap

LAYERS = [f"blocks.{i}" for i in range(13)]  # alphabetically: 0, 1, 10, 11, 12, 2, ...


def layer_data(k, n=30):
    rng = np.random.default_rng(k)
    return np.tanh(rng.standard_normal((n, 4)) @ rng.standard_normal((4, 6)))


def fill(path, layers, model="vit"):
    with ActivationStore(path, mode="a", fsync=False) as store:
        for k, layer in enumerate(layers):
            store.add(model, layer, layer_data(k))


def test_the_store_lists_its_arrays_in_creation_order_also_when_reopened(tmp_path):
    assert sorted(LAYERS) != LAYERS
    shuffled = [LAYERS[k] for k in (3, 12, 0, 7, 1, 10, 2, 11, 4, 9, 5, 8, 6)]
    fill(tmp_path / "acts", shuffled)
    fill(tmp_path / "acts", ["stem", "head"], model="other")
    expected = [("vit", layer) for layer in shuffled] + [("other", "stem"), ("other", "head")]
    with ActivationStore(tmp_path / "acts", mode="a") as store:
        assert store.list() == expected
        created = [store.attrs(*key)["created_ns"] for key in store.list()]
        assert created == sorted(created) and len(set(created)) == len(created)
        store.delete("vit", "blocks.0")
        store.add("vit", "blocks.0", layer_data(0))  # created again: now the last one
        w = store.writer("vit", "blocks.13", 30, 6, chunk_size=10)
        w.write_chunk(0, layer_data(13)[:10])
        assert store.incomplete() == [("vit", "blocks.13")]
    with ActivationStore(tmp_path / "acts") as store:  # reopened read-only
        assert store.list() == [k for k in expected if k != ("vit", "blocks.0")] + \
            [("vit", "blocks.0")]


def test_a_store_written_before_creation_times_were_recorded_lists_in_natural_order(tmp_path):
    fill(tmp_path / "acts", LAYERS[::-1])
    for meta_path in (tmp_path / "acts" / "vit").glob("*/zarr.json"):
        meta = json.loads(meta_path.read_text())
        del meta["attributes"]["created_ns"]  # as older versions wrote them
        meta["attributes"]["created"] = "2024-01-01T00:00:00+00:00"  # all in one second
        meta_path.write_text(json.dumps(meta))
    with ActivationStore(tmp_path / "acts") as store:
        assert store.list() == [("vit", layer) for layer in LAYERS]  # blocks.2 before .10
        assert store.read("vit", "blocks.10").shape == (30, 6)


@pytest.fixture
def first_tiles_slow(monkeypatch):
    """Make the tiles holding representation 0 finish last, as a large tile would."""
    import time

    original = run._pair_values

    def slow(m, pairs, *args, **kwargs):
        if any(0 in pair for pair in pairs):
            time.sleep(0.3)
        return original(m, pairs, *args, **kwargs)

    monkeypatch.setattr(run, "_pair_values", slow)


@pytest.mark.parametrize("executor", ["serial", "threads", "dask"])
def test_store_grid_result_store_and_heatmap_keep_the_creation_order(tmp_path, executor,
                                                                     first_tiles_slow):
    fill(tmp_path / "acts", LAYERS)
    names = [f"vit/{layer}" for layer in LAYERS]
    # procrustes pairs one by one: 13 layers make 3 tiles of 8 x 8, emitted in any order
    # by the thread and Dask executors unless the grid keeps the plan's order.
    with ActivationStore(tmp_path / "acts") as store:
        result = repalign.grid(store, ["cka", "procrustes"], executor=executor,
                               results=tmp_path / "results.db")
    assert list(result.representations) == names
    with ResultStore(tmp_path / "results.db", read_only=True) as results:
        stored = results.rows()
        for measure in ("cka", "procrustes"):
            rows = [(r["a"], r["b"]) for r in stored if r["measure"] == measure]
            assert len(rows) == 13 * 14 // 2
            # written tile by tile in the plan's order: first seen in the grid's order
            assert list(dict.fromkeys(a for a, _ in rows)) == names
            figure = layer_heatmap(results, "vit", "vit", measure)
            ax = figure.axes[0]
            assert [t.get_text() for t in ax.get_xticklabels()] == LAYERS
            assert [t.get_text() for t in ax.get_yticklabels()] == LAYERS
            shown = np.asarray(ax.images[0].get_array())
            value = {(r["a"], r["b"]): r["value"] for r in result.rows
                     if r["measure"] == measure}
            for i in range(13):
                for j in range(i, 13):
                    assert shown[i, j] == shown[j, i] == value[names[i], names[j]]
    X, Y = (layer_data(k).astype(np.float32) for k in (2, 10))
    assert shown[2, 10] == pytest.approx(repalign.measure("procrustes", X, Y), abs=1e-12)
