"""A grid within a memory budget: the unbounded grid's values, within the budget's bytes."""

import gc
import os
import tracemalloc

import numpy as np
import pytest

import repalign
from repalign.grid import run
from repalign.grid.budget import StateCache, bounded_tiles, panel_order, state_bytes
from repalign.grid.plan import plan_pairs, tiles
from repalign.results import MeasureRows

N = 120


@pytest.fixture(scope="module")
def reps():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((N, 6))
    return {f"m{i // 6}/l{i % 6}": Z @ rng.standard_normal((6, 8 + i % 5))
            + rng.standard_normal((N, 8 + i % 5)) for i in range(30)}


def _rsa_state_bytes():
    return N * (N - 1) // 2 * 8


@pytest.mark.parametrize("executor", ["serial", "threads"])
@pytest.mark.parametrize("measure", ["cka", "rsa", ("cka", {"estimator": "unbiased"}),
                                     ("rsa", {"compare": "kendall_tau_a"}), "procrustes"])
def test_values_equal_the_unbounded_grid(reps, measure, executor):
    free = repalign.grid(reps, [measure]).to_dataframe()
    # room for about 12 of the 30 states of RSA: states are spilled and read back
    bounded = repalign.grid(reps, [measure], executor=executor,
                            memory_budget=16 * _rsa_state_bytes()).to_dataframe()
    assert list(bounded.a) == list(free.a) and list(bounded.b) == list(free.b)
    np.testing.assert_allclose(bounded.value, free.value, rtol=0, atol=1e-12)


def test_statistics_equal_the_unbounded_grid(reps):
    small = dict(list(reps.items())[:10])
    stats = {"n_permutations": 20, "interval": "jackknife"}
    free = repalign.grid(small, ["rsa"], stats=stats).to_dataframe()
    bounded = repalign.grid(small, ["rsa"], stats=stats,
                            memory_budget=6 * _rsa_state_bytes()).to_dataframe()
    for column in ("value", "p_value", "ci_low", "ci_high"):
        np.testing.assert_allclose(bounded[column], free[column], rtol=0, atol=1e-12)


def test_peak_memory_within_the_budget(reps):
    """tracemalloc's peak of a bounded RSA grid stays within the budget plus what it
    does not count (one preparation's own temporaries, and what the call leaves held:
    at this toy size mostly Python's free lists and per-tile objects, not the rows' 30 KB
    of columns), where the unbounded grid's does not (benchmarks/zoo.py measures the
    budget at scale)."""
    X = next(iter(reps.values()))
    measure = repalign.get("rsa")
    gc.collect()
    tracemalloc.start()
    measure.prepare(X)
    preparation = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    def peak(**kwargs):
        gc.collect()
        tracemalloc.start()
        result = repalign.grid(reps, ["rsa"], **kwargs)
        rows, top = tracemalloc.get_traced_memory()  # the result is still held
        tracemalloc.stop()
        del result
        return top, rows

    budget = 8 * _rsa_state_bytes()
    unbounded, _ = peak()
    bounded, rows = peak(memory_budget=budget)
    assert unbounded > 2 * budget  # the budget binds: all 30 states are more than 8
    assert bounded <= budget + preparation + rows


def test_budget_leaves_values_and_order_with_a_result_store(reps, tmp_path):
    path = tmp_path / "rows.sqlite"
    repalign.grid(reps, ["rsa"], results=path, memory_budget=10 * _rsa_state_bytes())
    with repalign.ResultStore(path) as store:
        stored = store.rows(measure="rsa")
    free = repalign.grid(reps, ["rsa"]).to_dataframe()
    values = {(r["a"], r["b"]): r["value"] for r in stored}
    assert len(values) == len(free)
    np.testing.assert_allclose([values[a, b] for a, b in zip(free.a, free.b)], free.value,
                               rtol=0, atol=1e-12)
    # representations first appear in the grid's order, as in the unbounded grid
    seen = list(dict.fromkeys(name for r in stored for name in (r["a"], r["b"])))
    assert seen == list(reps)


def _cache_run(states, tile_list, capacity):
    prepared = []

    def prepare(r):
        prepared.append(r)
        return repalign.get("rsa").prepare(states[r])

    with StateCache(prepare, tile_list, capacity) as cache:
        folder = cache._folder.name
        for k in range(len(tile_list)):
            got = cache.acquire(k)
            assert sorted(got) == list(tile_list[k].reps)
            assert cache.held_bytes <= capacity + _rsa_state_bytes()
            cache.release(k)
        counts = cache.prepared, cache.spilled, cache.loaded, cache.peak_bytes
        assert cache.held_bytes == 0 and os.listdir(folder) == []
    assert not os.path.exists(folder)
    return prepared, counts


def test_state_cache_prepares_each_representation_once(reps):
    arrays = list(reps.values())
    tile_list = tiles(plan_pairs(list(reps), "all", symmetric=True), 4)
    prepared, (n_prepared, spilled, loaded, peak) = _cache_run(
        arrays, tile_list, 10 * _rsa_state_bytes())
    assert sorted(prepared) == list(range(len(arrays))) and n_prepared == len(arrays)
    assert spilled > 0 and loaded >= spilled
    assert peak <= 11 * _rsa_state_bytes()


def test_panels_read_back_fewer_states(reps):
    """Belady's rule with panels of rows reads fewer states back than row by row."""
    arrays = list(reps.values())
    pairs = plan_pairs(list(reps), "all", symmetric=True)
    capacity = 14 * _rsa_state_bytes()
    row_major = _cache_run(arrays, tiles(pairs, 2), capacity)[1][2]
    panels = _cache_run(arrays, panel_order(tiles(pairs, 2), 2, 5), capacity)[1][2]
    assert panels < row_major


def test_panel_order_keeps_every_tile_and_the_first_appearances():
    names = [f"r{i}" for i in range(23)]
    pairs = plan_pairs(names, "all", symmetric=True)
    row_major = tiles(pairs, 4)
    swept = panel_order(row_major, 4, 2)
    assert sorted(swept, key=lambda t: t.pairs) == sorted(row_major, key=lambda t: t.pairs)

    def first(order):
        return list(dict.fromkeys(r for t in order for pair in t.pairs for r in pair))

    assert first(swept) == first(row_major) == list(range(23))


def test_bounded_tiles_fit_the_capacity():
    pairs = plan_pairs([f"r{i}" for i in range(50)], "all", symmetric=True)
    tile_list = bounded_tiles(pairs, 48, capacity=40 * 100, per_state=100, workers=2,
                              who="rsa")
    assert max(len(t.reps) for t in tile_list) * 2 <= 40
    assert {p for t in tile_list for p in t.pairs} == set(map(tuple, pairs.tolist()))


def test_state_bytes_counts_the_arrays():
    X = np.random.default_rng(1).standard_normal((30, 5))
    assert state_bytes(repalign.get("rsa").prepare(X)) == 30 * 29 // 2 * 8
    assert state_bytes(run._Undefined("constant", 30)) == 0


@pytest.mark.parametrize("budget, error, match", [
    (1.5e9, TypeError, "memory_budget must be None or an int"),
    (True, TypeError, "memory_budget must be None or an int"),
    (0, ValueError, "memory_budget must be a positive number of bytes; got 0"),
])
def test_bad_budgets_are_refused(reps, budget, error, match):
    with pytest.raises(error, match=match):
        repalign.grid(reps, ["rsa"], memory_budget=budget)


def test_budget_with_dask_is_refused(reps):
    with pytest.raises(ValueError, match="memory_budget is used with executor='serial' or "
                                         "'threads'; got executor='dask'"):
        repalign.grid(reps, ["rsa"], executor="dask", memory_budget=10**9)


def test_budget_below_two_states_names_the_least(reps):
    table = MeasureRows({}, plan_pairs(list(reps), "all", symmetric=True), statistics=False)
    reserved = table.nbytes + 2 * table.pending().nbytes
    least = int(np.ceil(2 * _rsa_state_bytes() * 4 / 3)) + reserved
    with pytest.raises(ValueError, match=r"memory_budget leaves .* for the prepared states of "
                                         rf"rsa \(3/4 of it after {reserved} bytes for the "
                                         r"rows\), which holds 1 state\(s\) .* give "
                                         rf"memory_budget >= {least} bytes"):
        repalign.grid(reps, ["rsa"], memory_budget=2 * _rsa_state_bytes())
    repalign.grid(reps, ["rsa"], memory_budget=least)  # the least it names is enough


def test_budget_smaller_than_the_rows_is_refused(reps):
    with pytest.raises(ValueError, match=r"memory_budget=1000 bytes is too small for this "
                                         r"grid: its rows and planned pairs alone take \d+ "
                                         r"bytes \(465 rows\)"):
        repalign.grid(reps, ["rsa"], memory_budget=1000)
