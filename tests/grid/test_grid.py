"""The grid engine: plan, executors, statistics, result store and the result views."""

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

import repalign
from repalign.grid import plan
from repalign.grid.run import array_hash, pair_seed
from repalign.store.results import canonical_params

SRC = str(Path(repalign.__file__).parents[1])


def make_reps(L=5, n=40, seed=0):
    """Representations of two models, related to one latent; names "model/layer"."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 6))
    return {f"{'ab'[k % 2]}/l{k}": np.tanh(Z @ rng.standard_normal((6, 4 + k)))
            + 0.3 * rng.standard_normal((n, 4 + k)) for k in range(L)}


def linear_cka(X, Y):
    """Biased linear CKA from its closed form (Kornblith et al. 2019, eq. 5)."""
    X, Y = X - X.mean(0), Y - Y.mean(0)
    return (np.linalg.norm(Y.T @ X) ** 2
            / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


@pytest.fixture
def count_calls(monkeypatch):
    """Count ``prepare`` and ``pair`` calls of every measure class, and as
    ``block_pairs`` the pairs asked of ``pair_block`` (the grid's computed pairs)."""
    calls = {"prepare": 0, "pair": 0, "block_pairs": 0}
    for method in ("prepare", "pair"):
        original = getattr(repalign.Measure, method)

        def counted(self, *args, _original=original, _method=method):
            calls[_method] += 1
            return _original(self, *args)

        monkeypatch.setattr(repalign.Measure, method, counted)
    original_block = repalign.Measure.pair_block

    def counted_block(self, states_a, states_b, mask=None, **kwargs):
        calls["block_pairs"] += (len(states_a) * len(states_b) if mask is None
                                 else int(mask.sum()))
        return original_block(self, states_a, states_b, mask, **kwargs)

    monkeypatch.setattr(repalign.Measure, "pair_block", counted_block)
    return calls


class FakeStore:
    """The ResultStore interface over a dict, to test the engine alone."""

    def __init__(self):
        self.data = {}
        self.batches = []

    @staticmethod
    def key(a, b, hash_a, hash_b, measure, params):
        return (a, b, hash_a, hash_b, measure, tuple(sorted(params.items())))

    def put_many(self, rows):
        rows = list(rows)
        self.batches.append(len(rows))
        stored = 0
        for row in rows:
            key = self.key(*(row[k] for k in ("a", "b", "hash_a", "hash_b", "measure",
                                              "params")))
            if key not in self.data:
                self.data[key] = dict(row)
                stored += 1
        return stored

    def rows(self, measure=None, params=None):
        return [r for r in self.data.values() if measure in (None, r["measure"])
                and (params is None or r["params"] == params)]


def values(result):
    return {(r["a"], r["b"], r["measure"]): r["value"] for r in result.rows}


# ---------------------------------------------------------------------- values and plan
def test_values_equal_independent_references_and_the_one_pair_api():
    reps = make_reps()
    result = repalign.grid(reps, ["cka", "rsa", "linear_regression"])
    names = list(reps)
    L = len(names)
    rows = result.rows
    assert sum(r["measure"] == "cka" for r in rows) == L * (L + 1) // 2
    assert sum(r["measure"] == "linear_regression" for r in rows) == L * L
    for r in rows:
        X, Y = reps[r["a"]], reps[r["b"]]
        assert r["value"] == pytest.approx(repalign.measure(r["measure"], X, Y), abs=1e-12)
        assert r["hash_a"] == array_hash(X) and r["n_stimuli"] == 40
        assert r["seconds"] >= 0 and r["library_version"] == repalign.__version__
        if r["measure"] == "cka":
            assert r["value"] == pytest.approx(linear_cka(X, Y), abs=1e-12)


def test_each_representation_is_prepared_once_per_measure(count_calls):
    reps = make_reps(L=6)
    repalign.grid(reps, ["cka", "procrustes"])
    # One block per measure (6 representations fit one tile); cka computes its block
    # as matrix products, procrustes loops over its 21 pairs.
    assert count_calls == {"prepare": 2 * 6, "pair": 21, "block_pairs": 2 * 21}


@pytest.mark.parametrize("pairs, expected", [
    ("across_models", {("a/l0", "b/l1"), ("a/l0", "b/l3"), ("b/l1", "a/l2"),
                       ("a/l2", "b/l3")}),
    ("within_model", {("a/l0", "a/l0"), ("a/l0", "a/l2"), ("a/l2", "a/l2"),
                      ("b/l1", "b/l1"), ("b/l1", "b/l3"), ("b/l3", "b/l3")}),
    ([("a/l0", "b/l1"), ("b/l1", "a/l0"), ("a/l2", "a/l2")],
     {("a/l0", "b/l1"), ("a/l2", "a/l2")}),
])
def test_pair_selections_of_a_symmetric_measure(pairs, expected):
    result = repalign.grid(make_reps(L=4), ["cka"], pairs=pairs)
    assert {(r["a"], r["b"]) for r in result.rows} == expected
    assert len(result.rows) == len(expected)


def test_an_asymmetric_measure_computes_both_orders():
    result = repalign.grid(make_reps(L=3), ["linear_regression"], pairs="across_models")
    assert {(r["a"], r["b"]) for r in result.rows} == {
        ("a/l0", "b/l1"), ("b/l1", "a/l0"), ("b/l1", "a/l2"), ("a/l2", "b/l1")}


@pytest.mark.parametrize("block", [1, 3, 8])
def test_tiles_cover_each_pair_once_and_hold_few_states(block):
    pairs = plan.plan_pairs([f"m/{k}" for k in range(10)], "all", symmetric=False)
    tiles = plan.tiles(pairs, block)
    covered = [p for t in tiles for p in t.pairs]
    assert sorted(covered) == sorted(map(tuple, pairs.tolist())) and len(covered) == 100
    for t in tiles:
        assert len(t.reps) <= 2 * block
        assert set(t.reps) == {r for p in t.pairs for r in p}


def test_model_of_a_name():
    assert plan.model_of("resnet/layer1/conv") == "resnet"
    assert plan.model_of("IT") == "IT"


def test_array_hash_equals_the_activation_store_content_hash():
    from repalign.store.activations import content_hash

    X = np.arange(12, dtype=">f8").reshape(3, 4)
    assert array_hash(X) == content_hash(X) == array_hash(X.astype("<f8"))


# ---------------------------------------------------------------------- executors
@pytest.fixture(scope="module")
def serial_with_stats():
    reps = make_reps()
    stats = {"n_permutations": 19, "n_bootstrap": 19, "seed": 3}
    measures = ["cka", "rsa", "linear_regression"]
    return reps, measures, stats, repalign.grid(reps, measures, stats=stats)


def assert_same_rows(result, reference, tol=1e-12):
    assert len(result.rows) == len(reference.rows)
    got = {(r["a"], r["b"], r["measure"]): r for r in result.rows}
    for r in reference.rows:
        other = got[r["a"], r["b"], r["measure"]]
        for field in ("value", "ci_low", "ci_high", "p_value"):
            if r[field] is None:
                assert other[field] is None
            else:
                assert other[field] == pytest.approx(r[field], abs=tol)


def test_threads_equal_serial(serial_with_stats):
    reps, measures, stats, reference = serial_with_stats
    assert_same_rows(repalign.grid(reps, measures, executor="threads", stats=stats), reference)


def blas_threads(threadpoolctl):
    return max(p["num_threads"] for p in threadpoolctl.threadpool_info()
               if p["user_api"] == "blas")


@pytest.mark.parametrize("executor", ["threads", "dask"])
def test_workers_times_blas_threads_never_exceed_the_cores(monkeypatch, executor):
    """While the tiles run, (workers) x (BLAS threads) <= cores; the limit is lifted after."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from repalign.grid import run

    expected = values(repalign.grid(make_reps(L=8), ["cka"]))
    seen = []
    if executor == "threads":  # seen inside each tile's task
        original = run._pair_values

        def spy(*args):
            seen.append(blas_threads(threadpoolctl))
            return original(*args)

        monkeypatch.setattr(run, "_pair_values", spy)
    else:  # the embedded cluster's workers run in this process, in its BLAS limit
        original = run._local_cluster

        def spy():
            seen.append(blas_threads(threadpoolctl))
            return original()

        monkeypatch.setattr(run, "_local_cluster", spy)
    monkeypatch.setattr(run, "cores", lambda: 2)  # BLAS alone would use its default
    monkeypatch.setattr(plan, "BATCHED_BLOCK", 2)
    before = threadpoolctl.threadpool_info()
    result = repalign.grid(make_reps(L=8), ["cka"], executor=executor)
    assert values(result) == pytest.approx(expected, abs=1e-12)
    assert seen and set(seen) == {1}  # 2 workers (10 tiles on 2 cores; the Dask workers)
    assert threadpoolctl.threadpool_info() == before


def test_dask_local_cluster_equals_serial(serial_with_stats):
    reps, measures, stats, reference = serial_with_stats
    assert_same_rows(repalign.grid(reps, measures, executor="dask", stats=stats), reference)


def test_dask_existing_scheduler_and_client_equal_serial(serial_with_stats):
    from dask.distributed import Client, LocalCluster

    reps, measures, stats, reference = serial_with_stats
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        by_address = repalign.grid(reps, measures, executor="dask",
                                   scheduler=cluster.scheduler_address, stats=stats)
        by_client = repalign.grid(reps, measures[:1], executor="dask", scheduler=client)
        assert client.status == "running"  # a client passed in is left open
    assert_same_rows(by_address, reference)
    assert values(by_client) == {k: v for k, v in values(reference).items() if k[2] == "cka"}


@pytest.mark.filterwarnings("ignore::repalign.DegenerateWarning")
def test_statistics_equal_compare_with_the_pair_seed(serial_with_stats):
    reps, _, stats, reference = serial_with_stats
    for r in reference.rows[:4] + reference.rows[-3:]:
        params = repalign.get(r["measure"]).params
        entropy = pair_seed(3, r["hash_a"], r["hash_b"], r["measure"], canonical_params(params))
        expected = repalign.compare(reps[r["a"]], reps[r["b"]], r["measure"],
                                    n_permutations=19, n_bootstrap=19,
                                    seed=np.random.default_rng(entropy))
        assert (r["value"], r["p_value"]) == (expected.value, expected.p_value)
        assert (r["ci_low"], r["ci_high"]) == (expected.ci_low, expected.ci_high)


def test_progress_bar_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    result = repalign.grid(make_reps(L=2), ["cka"])
    assert len(result.rows) == 3


# ---------------------------------------------------------------------- result views
def test_to_dataframe_columns_and_canonical_params(serial_with_stats):
    *_, reference = serial_with_stats
    df = reference.to_dataframe()
    assert list(df.columns[:12]) == ["a", "b", "measure", "params", "kind", "symmetric",
                                     "bound_low", "bound_high", "value", "ci_low", "ci_high",
                                     "p_value"]
    for r in df.itertuples():  # the measure's own metadata travels with each row
        m = repalign.get(r.measure)
        assert (r.kind, r.symmetric, r.bound_low, r.bound_high) == (m.kind, m.symmetric,
                                                                    *m.bounds)
    assert df.loc[0, "params"] == '{"estimator":"biased","kernel":"linear","sigma_frac":0.8}'
    plain = repalign.grid(make_reps(L=2), ["cka"]).to_dataframe()
    assert "p_value" not in plain.columns and len(plain) == 3


def test_to_xarray_mirrors_symmetric_measures_and_leaves_nan():
    reps = make_reps(L=3)
    result = repalign.grid(reps, ["cka", "linear_regression", ("rsa", {"compare": "pearson"})],
                           pairs="across_models")
    cka = result.to_xarray("cka")
    assert cka.dims == ("a", "b") and list(cka.a.values) == list(reps)
    assert float(cka.sel(a="b/l1", b="a/l0")) == float(cka.sel(a="a/l0", b="b/l1"))
    assert np.isnan(cka.sel(a="a/l0", b="a/l2")) and np.isnan(cka.sel(a="a/l0", b="a/l0"))
    reg = result.to_xarray("linear_regression")
    assert float(reg.sel(a="a/l0", b="b/l1")) == pytest.approx(
        repalign.measure("linear_regression", reps["a/l0"], reps["b/l1"]), abs=1e-12)
    assert float(reg.sel(a="b/l1", b="a/l0")) != float(reg.sel(a="a/l0", b="b/l1"))
    rsa = result.to_xarray("rsa", {"compare": "pearson"})
    assert rsa.attrs["params"] == canonical_params(repalign.get("rsa", compare="pearson").params)
    assert rsa.attrs["kind"] == "similarity"


def test_to_xarray_errors():
    result = repalign.grid(make_reps(L=2), [("rsa", {"compare": "pearson"}), "rsa"])
    with pytest.raises(ValueError, match="several configurations of measure='rsa'.*pass params"):
        result.to_xarray("rsa")
    with pytest.raises(ValueError, match="no measure='cka'"):
        result.to_xarray("cka")
    with pytest.raises(ValueError, match="no measure='rsa' with params"):
        result.to_xarray("rsa", {"compare": "kendall_tau_a"})
    assert not np.isnan(result.to_xarray("rsa", {"compare": "spearman"}).values).any()


# ---------------------------------------------------------------------- result store
def test_stored_rows_are_not_recomputed(count_calls):
    reps, store = make_reps(L=4), FakeStore()
    first = repalign.grid(reps, ["cka"], pairs=[("a/l0", "b/l1")], results=store)
    assert len(store.data) == 1 and count_calls["block_pairs"] == 1
    second = repalign.grid(reps, ["cka", "rsa"], results=store)
    assert count_calls["block_pairs"] == 1 + 9 + 10 and len(store.data) == 20
    assert store.batches == [1, 9, 10]  # one put_many per tile (here one tile per measure)
    assert values(second)["a/l0", "b/l1", "cka"] == values(first)["a/l0", "b/l1", "cka"]
    # a symmetric pair stored in the other orientation counts as stored
    third = repalign.grid(reps, ["cka"], pairs=[("b/l1", "a/l0")], results=store)
    assert count_calls["block_pairs"] == 20
    assert [(r["a"], r["b"]) for r in third.rows] == [("b/l1", "a/l0")]
    assert third.rows[0]["hash_a"] == array_hash(reps["b/l1"])


def test_real_result_store_by_path_and_by_object(tmp_path, count_calls):
    reps = make_reps(L=3)
    path = tmp_path / "results.db"
    first = repalign.grid(reps, ["cka", "linear_regression"], results=path)
    calls = count_calls["block_pairs"]
    with repalign.ResultStore(path) as store:
        assert len(store.rows()) == 6 + 9
        again = repalign.grid(reps, ["cka", "linear_regression"], results=store)
    assert count_calls["block_pairs"] == calls
    assert values(again) == values(first)


def test_equal_layers_keep_their_names_in_the_store(tmp_path):
    """Two layers with identical activations get a row each, in the grid and in the store."""
    reps = make_reps(L=3)
    reps["a/l0_copy"] = reps["a/l0"].copy()
    result = repalign.grid(reps, ["cka"], results=tmp_path / "results.db")
    with repalign.ResultStore(tmp_path / "results.db", read_only=True) as store:
        stored = store.rows()
    assert len(stored) == len(result.rows) == 4 * 5 // 2
    assert [(r["a"], r["b"]) for r in stored] == [(r["a"], r["b"]) for r in result.rows]
    assert {"a/l0_copy"} <= {r["a"] for r in stored} | {r["b"] for r in stored}


def test_an_array_changed_under_its_name_is_computed_again(tmp_path):
    """A stored row answers only the same contents: a re-extracted layer is not stale."""
    reps = make_reps(L=2)
    path = tmp_path / "results.db"
    first = values(repalign.grid(reps, ["cka"], results=path))
    changed = dict(reps, **{"b/l1": np.tanh(reps["b/l1"]) ** 3})
    second = values(repalign.grid(changed, ["cka"], results=path))
    expected = repalign.measure("cka", reps["a/l0"], changed["b/l1"])
    assert second["a/l0", "b/l1", "cka"] == pytest.approx(expected, abs=1e-12)
    assert second["a/l0", "b/l1", "cka"] != first["a/l0", "b/l1", "cka"]


@pytest.mark.parametrize("library", ["torch", "array_api_strict"])
def test_dict_of_device_arrays_is_computed_where_it_lives(library):
    # array_api_strict's "device1" refuses host copies except by an explicit
    # transfer, as CUDA tensors do: the grid must hash them from a host copy and
    # compute on the device, with the NumPy grid's rows.
    reps = make_reps(L=3)
    if library == "torch":
        torch = pytest.importorskip("torch")
        moved = {k: torch.from_numpy(v) for k, v in reps.items()}
    else:
        xs = pytest.importorskip("array_api_strict")
        moved = {k: xs.asarray(v, device=xs.Device("device1")) for k, v in reps.items()}
    stats = {"n_permutations": 9, "interval": "bootstrap", "n_bootstrap": 9, "seed": 0}
    expected = repalign.grid(reps, ["cka", "rsa"], stats=stats).rows
    got = repalign.grid(moved, ["cka", "rsa"], stats=stats).rows
    assert [(r["a"], r["b"], r["hash_a"], r["hash_b"], r["p_value"]) for r in got] == \
        [(r["a"], r["b"], r["hash_a"], r["hash_b"], r["p_value"]) for r in expected]
    for g, e in zip(got, expected):
        assert g["value"] == pytest.approx(e["value"], abs=1e-12)
        assert (g["ci_low"], g["ci_high"]) == pytest.approx((e["ci_low"], e["ci_high"]), abs=1e-12)
    assert array_hash(moved["a/l0"]) == array_hash(reps["a/l0"])


def test_activation_store_input_matches_dict_input(tmp_path):
    reps = make_reps(L=3)
    with repalign.ActivationStore(tmp_path / "acts", mode="a") as acts:
        for name, X in reps.items():
            acts.add(*name.split("/"), X, dtype="float64")
    with repalign.ActivationStore(tmp_path / "acts") as acts:
        from_store = repalign.grid(acts, ["cka"])
        hashes = {f"{m}/{layer}": acts.attrs(m, layer)["content_hash"] for m, layer in acts.list()}
    assert from_store.representations == tuple(reps)  # the store's order: as created
    assert {r["a"]: r["hash_a"] for r in from_store.rows} == hashes
    from_dict = values(repalign.grid(reps, ["cka"]))
    for key, value in values(from_store).items():
        assert value == pytest.approx(from_dict.get(key, from_dict.get((key[1], key[0], key[2]))),
                                      abs=1e-12)


KILLED_RUN = """
import sys, time
sys.path.insert(0, {src!r})
import repalign
import importlib
from repalign.store.results import ResultStore
from tests.grid.test_grid import make_reps

# tiles of up to 2 x 2 representations, each tile stored in one transaction
run = importlib.import_module("repalign.grid.run")
importlib.import_module("repalign.grid.plan").BATCHED_BLOCK = 2
run.COMMIT_EVERY_S = 0.0
original = ResultStore.put_columns
def slow_put_columns(self, *args, **kwargs):  # tiles reach the store one by one, slowly
    stored = original(self, *args, **kwargs)  # enough to kill midway
    time.sleep(0.1)
    return stored
ResultStore.put_columns = slow_put_columns
repalign.grid(make_reps(L=8), ["cka"], results=sys.argv[1])
"""


def test_sigkill_and_resume(tmp_path, count_calls):
    path = tmp_path / "results.db"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(KILLED_RUN.format(src=SRC)))
    root = Path(__file__).parents[2]
    proc = subprocess.Popen([sys.executable, str(script), str(path)], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    deadline = time.monotonic() + 60
    stored = 0
    while stored < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:  # the child may have created the file but not yet its tables
            with repalign.ResultStore(path, read_only=True) as store:
                stored = len(store.rows())
        except ValueError:
            continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with repalign.ResultStore(path, read_only=True) as store:
        kept = {(r["a"], r["b"]): r["value"] for r in store.rows()}
    assert 5 <= len(kept) < 36
    names = list(make_reps(L=8))
    for tile in plan.tiles(plan.plan_pairs(names, "all", True), 2):  # whole tiles or none
        stored = [(names[i], names[j]) in kept for i, j in tile.pairs]
        assert all(stored) or not any(stored), tile
    resumed = repalign.grid(make_reps(L=8), ["cka"], results=path)
    assert count_calls["block_pairs"] == 36 - len(kept)
    reference = repalign.grid(make_reps(L=8), ["cka"])
    assert values(resumed) == pytest.approx(values(reference), abs=1e-12)
    for pair, value in kept.items():
        assert values(resumed)[(*pair, "cka")] == value
    with repalign.ResultStore(path, read_only=True) as store:
        assert len(store.rows()) == 36


# ---------------------------------------------------------------------- errors
X40 = np.random.default_rng(1).standard_normal((40, 3))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"reps": [X40]}, TypeError, "reps must be an ActivationStore or a dict.*got list"),
    ({"reps": {}}, ValueError, "at least one representation; got an empty dict"),
    ({"reps": {1: X40}}, TypeError, "names of reps must be str; got 1"),
    ({"reps": {"x": X40[:, 0]}}, ValueError, r"reps\['x'\] must be a 2-D array.*\(40,\)"),
    ({"reps": {"x": X40, "y": X40[:30]}}, ValueError, r"reps\['y'\] has 30 stimuli but"),
    ({"measures": "cka"}, TypeError, "measures must be a list.*got str"),
    ({"measures": []}, ValueError, "at least one measure; got an empty list"),
    ({"measures": [("cka",)]}, TypeError, r"name \(str\) or a \(name, params dict\).*'cka',"),
    ({"measures": ["cka", ("cka", {})]}, ValueError, "lists cka with .* twice"),
    ({"measures": ["nope"]}, ValueError, "nope"),
    ({"pairs": "some"}, ValueError, r"pairs must be one of \('all'.*got 'some'"),
    ({"pairs": 3}, TypeError, "pairs must be one of.*got int"),
    ({"pairs": [("x",)]}, TypeError, r"\(a, b\) pair of names; got \('x',\)"),
    ({"pairs": [("x", "z")]}, ValueError, r"names 'z'.*expected one of \['x', 'y'\]"),
    ({"pairs": "across_models", "reps": {"m/x": X40, "m/y": X40}}, ValueError,
     "pairs='across_models' selects no pair"),
    ({"pairs": []}, ValueError, r"pairs=\[\] selects no pair"),
    ({"executor": "gpu"}, ValueError, r"executor must be one of.*got 'gpu'"),
    ({"scheduler": "tcp://h:1"}, ValueError, "scheduler is used only with executor='dask'"),
    ({"executor": "dask", "scheduler": 5}, TypeError, "scheduler must be None, an address.*int"),
    ({"stats": 99}, TypeError, "stats must be None or a dict; got int"),
    ({"stats": {"n_perm": 9}}, ValueError, r"unknown keys \['n_perm'\]"),
    ({"stats": {"n_bootstrap": -1}}, ValueError, "n_bootstrap"),
    ({"stats": {"interval": "bca"}}, ValueError, r"stats\[.interval.\]=.bca. is not valid"),
    ({"stats": {"seed": 1.5}}, TypeError, "seed"),
    ({"stats": {"ci": 1.0}}, ValueError, "ci"),
    ({"results": 3}, TypeError, "results must be None, a path or a ResultStore; got int"),
])
def test_errors_name_the_argument(kwargs, error, match):
    args = {"reps": {"x": X40, "y": X40 ** 2}, "measures": ["cka"], **kwargs}
    with pytest.raises(error, match=match):
        repalign.grid(args.pop("reps"), args.pop("measures"), **args)


def test_an_empty_activation_store_is_refused(tmp_path):
    with repalign.ActivationStore(tmp_path / "acts", mode="a") as acts:
        with pytest.raises(ValueError, match="ActivationStore with no complete array"):
            repalign.grid(acts, ["cka"])


@pytest.mark.parametrize("executor", ["serial", "threads", "dask"])
def test_an_undefined_pair_is_stored_as_nan_with_one_warning(tmp_path, executor):
    # A layer with a dead (constant) unit: unit matching is undefined for it.
    rng = np.random.default_rng(0)
    good = rng.standard_normal((30, 4))
    dead = rng.standard_normal((30, 4))
    dead[:, 2] = 0.0
    reps = {"net/good": good, "net/dead": dead, "net/other": np.tanh(good)}
    with pytest.warns(repalign.DegenerateWarning,
                      match=r"linear_match is undefined for 3 pair\(s\), stored as NaN; "
                            r"first .*unit\(s\) \[2\]"):
        result = repalign.grid(reps, ["linear_match", "cka"], results=tmp_path / "r.db",
                               executor=executor)
    frame = result.to_dataframe()
    match = frame[frame["measure"] == "linear_match"]
    undefined = match["a"].eq("net/dead") | match["b"].eq("net/dead")
    assert match[undefined]["value"].isna().all() and len(match[undefined]) == 3
    assert match[~undefined]["value"].notna().all()
    assert frame[frame["measure"] == "cka"]["value"].notna().all()  # cka is defined
    with repalign.ResultStore(tmp_path / "r.db", read_only=True) as store:
        assert len(store) == len(frame)


@pytest.mark.parametrize("executor", ["serial", "threads", "dask"])
def test_a_block_that_raises_is_computed_pair_by_pair(monkeypatch, executor):
    # The batched block fails (a pair of it is undefined): every pair of the tile is
    # computed alone, and only the undefined ones are NaN.
    from repalign.measures.cka import CKA

    reps = make_reps(L=4)
    reference = repalign.grid(reps, ["cka"])
    original = CKA._pair

    def block_fails(self, *args):
        raise ValueError("one pair of the block is undefined")

    def pair(self, a, b, xp):
        if a is b:
            raise ValueError("undefined with itself")
        return original(self, a, b, xp)

    monkeypatch.setattr(CKA, "_pair_block", block_fails)
    monkeypatch.setattr(CKA, "_pair", pair)
    with pytest.warns(repalign.DegenerateWarning, match=r"cka is undefined for 4 pair\(s\)"):
        result = repalign.grid(reps, ["cka"], executor=executor)
    got, expected = values(result), values(reference)
    for key, value in expected.items():
        if key[0] == key[1]:
            assert np.isnan(got[key])
        else:
            assert got[key] == pytest.approx(value, abs=1e-12)


def test_two_processes_running_the_same_grid_store_each_row_once(tmp_path):
    """Two grid runs at once into one result store: no duplicate, no error, same values."""
    script = tmp_path / "run_grid.py"
    script.write_text(textwrap.dedent("""
        import sys
        import numpy as np
        import repalign

        rng = np.random.default_rng(0)
        reps = {f"net/l{i}": rng.standard_normal((40, 6)) for i in range(8)}
        repalign.grid(reps, ["cka", "rsa"], results=sys.argv[1])
    """))
    path = tmp_path / "results.db"
    procs = [subprocess.Popen([sys.executable, str(script), str(path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    rng = np.random.default_rng(0)
    reps = {f"net/l{i}": rng.standard_normal((40, 6)) for i in range(8)}
    expected = repalign.grid(reps, ["cka", "rsa"]).to_dataframe()
    with repalign.ResultStore(path, read_only=True) as store:
        stored = store.to_dataframe()
    assert len(stored) == len(expected) == 2 * 8 * 9 // 2
    assert not stored.duplicated(["hash_a", "hash_b", "measure", "params"]).any()
    merged = stored.merge(expected, on=["a", "b", "measure"], suffixes=("", "_serial"))
    assert len(merged) == len(expected)
    np.testing.assert_allclose(merged["value"], merged["value_serial"], atol=1e-12)


# ---------------------------------------------------------------------- activation stores
def test_a_store_of_unequal_stimulus_counts_is_refused_before_computing(tmp_path, count_calls):
    with repalign.ActivationStore(tmp_path / "acts", mode="a") as acts:
        for name, X in make_reps(L=3).items():
            acts.add(*name.split("/"), X)
        acts.add("short", "l", X40[:30])
        acts.add("short", "m", X40[:30])
    with repalign.ActivationStore(tmp_path / "acts") as acts, pytest.raises(
            ValueError, match=r"arrays of the ActivationStore hold different numbers of "
                              r"stimuli: 40 in 'a/l0', 'b/l1', 'a/l2'; 30 in 'short/l', "
                              r"'short/m'; every representation must hold the same stimuli"):
        repalign.grid(acts, ["cka"], results=tmp_path / "results.db")
    assert count_calls == {"prepare": 0, "pair": 0, "block_pairs": 0}
    assert not (tmp_path / "results.db").exists()


@pytest.mark.parametrize("field, first, second, match", [
    ("stimulus_set", "cats", "dogs",
     r"record different stimulus_set: 'cats' in 'a/x'; 'dogs' in 'b/x'"),
    ("stimulus_ids", list(range(40)), list(range(40))[::-1],
     r"record different stimulus_ids: \[0, 1, 2, .*\.\.\. in 'a/x'; \[39, 38, .* in 'b/x'"),
])
def test_a_store_of_other_stimuli_is_refused(tmp_path, count_calls, field, first, second,
                                             match):
    with repalign.ActivationStore(tmp_path / "acts", mode="a") as acts:
        acts.add("a", "x", X40, **{field: first})
        acts.add("b", "x", X40 ** 2, **{field: second})
        acts.add("c", "x", X40 ** 3)  # records nothing: not compared
    with repalign.ActivationStore(tmp_path / "acts") as acts, \
            pytest.raises(ValueError, match=match):
        repalign.grid(acts, ["cka"])
    assert count_calls["prepare"] == 0


def test_store_arrays_with_one_grid_name_are_refused(tmp_path):
    with repalign.ActivationStore(tmp_path / "acts", mode="a") as acts:
        acts.add("a/b", "c", X40)
        acts.add("a", "b/c", X40 ** 2)
    with repalign.ActivationStore(tmp_path / "acts") as acts, pytest.raises(
            ValueError, match=r"\(model='a/b', layer='c'\) and \(model='a', layer='b/c'\) .* "
                              r"would both be named 'a/b/c'"):
        repalign.grid(acts, ["cka"])


def test_a_store_model_with_a_slash_is_one_model(tmp_path):
    with repalign.ActivationStore(tmp_path / "acts", mode="a") as acts:
        for k, (model, layer) in enumerate([("runs/r50", "l1"), ("runs/r50", "l2"),
                                            ("runs/vit", "l1")]):
            acts.add(model, layer, X40 + k * X40 ** 2)
    with repalign.ActivationStore(tmp_path / "acts") as acts:
        within = repalign.grid(acts, ["cka"], pairs="within_model")
        across = repalign.grid(acts, ["cka"], pairs="across_models")
    assert [(r["a"], r["b"]) for r in within.rows] == [
        ("runs/r50/l1", "runs/r50/l1"), ("runs/r50/l1", "runs/r50/l2"),
        ("runs/r50/l2", "runs/r50/l2"), ("runs/vit/l1", "runs/vit/l1")]
    assert [(r["a"], r["b"]) for r in across.rows] == [
        ("runs/r50/l1", "runs/vit/l1"), ("runs/r50/l2", "runs/vit/l1")]


def test_an_empty_name_is_refused():
    with pytest.raises(ValueError, match="names of reps must be non-empty strings; got ''"):
        repalign.grid({"": X40, "x": X40 ** 2}, ["cka"])


def test_a_store_array_changed_outside_repalign_is_computed_again(tmp_path):
    """The stored hash is not trusted once a chunk file changed: the pair is recomputed."""
    import zarr

    reps = make_reps(L=2)
    with repalign.ActivationStore(tmp_path / "acts", mode="a") as acts:
        for name, X in reps.items():
            acts.add(*name.split("/"), X, chunk_size=10)
    path = tmp_path / "results.db"
    with repalign.ActivationStore(tmp_path / "acts") as acts:
        first = values(repalign.grid(acts, ["cka"], results=path))
    raw = zarr.open_array(str(tmp_path / "acts" / "b" / "l1"), mode="r+", zarr_format=3)
    raw[:10] = -raw[:10]
    with repalign.ActivationStore(tmp_path / "acts") as acts:
        changed = acts.read("b", "l1")
        with pytest.warns(UserWarning, match="content hash was recomputed"):
            second = values(repalign.grid(acts, ["cka"], results=path))
    expected = repalign.measure("cka", reps["a/l0"].astype(np.float32), changed)
    assert second["a/l0", "b/l1", "cka"] == pytest.approx(expected, abs=1e-6)
    assert second["a/l0", "b/l1", "cka"] != pytest.approx(first["a/l0", "b/l1", "cka"])
    assert second["a/l0", "a/l0", "cka"] == first["a/l0", "a/l0", "cka"]  # unchanged: kept


# ---------------------------------------------------------------------- the Dask cluster
def test_the_embedded_dask_cluster_is_reachable_from_this_process_only():
    """No network listener, no dashboard: inproc transport, HTTP on 127.0.0.1 with no pages."""
    import urllib.error
    import urllib.request

    psutil = pytest.importorskip("psutil")
    from repalign.grid.run import _dask_client

    def listening():
        return {(c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections()
                if c.status == psutil.CONN_LISTEN}

    before = listening()
    with _dask_client(None) as client:
        cluster = client.cluster
        scheduler = cluster.scheduler
        assert scheduler.address.startswith("inproc://")
        assert all(listener.contact_address.startswith("inproc://")
                   for listener in scheduler.listeners)
        assert all(w.address.startswith("inproc://") for w in cluster.workers.values())
        opened = listening() - before
        assert opened and all(ip == "127.0.0.1" for ip, _ in opened), opened
        for _, port in opened:
            for page in ("/", "/status", "/info/main/workers.html", "/json/identity.json",
                         "/metrics", "/health"):
                with pytest.raises(urllib.error.HTTPError, match="404"):
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{page}", timeout=5)
        assert client.submit(lambda x: x + 1, 1).result() == 2
    assert listening() - before == set()
