"""The superposition study: SAE latents against raw neurons and its controls (quick)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")

import repalign  # noqa: E402
import repalign.studies.superposition as study  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies._stats import jackknife_over_models  # noqa: E402

QUICK_M = study.Superposition.quick_settings["n_hidden"]
SUPERPOSED = QUICK_M[0]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("superposition")
    return studies.run("superposition", out, quick=True), pd.read_csv(out / "results.csv")


def _rows(table, hidden, m, metric=None):
    keep = (table["hidden"] == hidden) & (table["n_hidden"] == m)
    return table[keep if metric is None else keep & (table["metric"] == metric)]


def _check(res, *words):
    (check,) = [c for c in res.checks if all(word in c.claim for word in words)]
    return check


def test_files_and_summary(result):
    res, _ = result
    for path in res.paths.values():
        assert path.exists()
    summary = res.paths["summary"].read_text()
    for check in res.checks:
        assert check.claim in summary


def test_table_layout(result):
    res, table = result
    for column in ("hidden", "n_hidden", "superposition", "metric", "seed_pair", *study.KINDS,
                   "sae_minus_other", "n_features", "sparsity", "recovered_random_a",
                   "units_other_b"):
        assert column in table.columns
    n_models = study.Superposition.quick_settings["n_models"]
    assert res.config.n_models == n_models and res.config.n_hidden == QUICK_M
    assert res.config.sae == "topk"
    pairs = n_models * (n_models - 1) // 2
    assert len(table) == len(study.HIDDEN) * len(QUICK_M) * len(study.METRICS) * pairs
    np.testing.assert_allclose(table["gain"], table["sae"] - table["raw"])
    np.testing.assert_allclose(table["sae_minus_random"], table["sae"] - table["random"])
    np.testing.assert_allclose(table["sae_minus_other"], table["sae"] - table["other"])
    np.testing.assert_allclose(table["superposition"], study.N_FEATURES / table["n_hidden"])
    matching = table[table["metric"].isin(study.MATCHING)]
    kinds = list(study.KINDS)
    assert ((matching[kinds] >= -1) & (matching[kinds] <= 1)).all().all()


def test_superposition_exists(result):
    _, table = result
    sup = _rows(table, "linear", SUPERPOSED)
    assert (sup[["represented_a", "represented_b"]] > SUPERPOSED).all().all()
    control = _rows(table, "linear", study.N_FEATURES)
    assert (control[["represented_a", "represented_b"]] == study.N_FEATURES).all().all()


@pytest.mark.parametrize("metric", study.MATCHING)
def test_sae_beats_raw_in_superposition(result, metric):
    _, table = result
    rows = _rows(table, "linear", SUPERPOSED, metric)
    assert (rows["sae"] > rows["raw"]).all()
    assert rows["gain"].mean() > 0.2


def test_linear_control_is_a_rotation(result):
    # Without a privileged basis the raw neurons of the m = n linear model are a
    # rotation of the features: ridge (rotation-invariant) is ~1, matching is not.
    _, table = result
    assert _rows(table, "linear", study.N_FEATURES, "ridge")["raw"].min() > 0.95
    assert _rows(table, "linear", study.N_FEATURES, "semi_match")["raw"].max() < 0.8


def test_features_recovered(result):
    _, table = result
    sup = _rows(table, "linear", SUPERPOSED)
    fraction = sup[["recovered_a", "recovered_b"]].to_numpy() / sup[
        ["represented_a", "represented_b"]].to_numpy()
    assert fraction.mean() >= 0.75


def test_random_dictionary_recovers_few_features(result):
    _, table = result
    sup = _rows(table, "linear", SUPERPOSED, "ridge")
    random = sup[["recovered_random_a", "recovered_random_b"]].to_numpy()
    assert random.mean() < 0.5 * sup[["recovered_a", "recovered_b"]].to_numpy().mean()


@pytest.mark.parametrize("metric", study.METRICS)
def test_control_checks_read_the_jackknife_intervals(result, metric):
    res, table = result
    frame = _rows(table, "linear", SUPERPOSED, metric)
    for column, words in ((("sae", "random"), ("random dictionary", f"m = {SUPERPOSED} ")),
                          (("sae", "other"), ("another model",))):
        _, low, _ = jackknife_over_models(
            frame, lambda rows: (rows[column[0]] - rows[column[1]]).mean())
        assert _check(res, metric, *words).passed == (low > 0)


@pytest.mark.parametrize("hidden", study.HIDDEN)
@pytest.mark.parametrize("metric", study.METRICS)
def test_superposition_checks_read_the_gains(result, hidden, metric):
    res, table = result
    by_m = {m: _rows(table, hidden, m, metric) for m in QUICK_M}
    _, low, _ = jackknife_over_models(by_m[study.N_FEATURES],
                                      lambda rows: (rows["sae"] - rows["raw"]).mean())
    assert _check(res, f"{hidden} hidden", metric, "gains nothing").passed == (low <= 0)

    # with two neuron counts the slope is the difference of the gains over log2 of n/m
    def slope(rows):
        gains = [(rows.loc[rows["n_hidden"] == m, "sae"]
                  - rows.loc[rows["n_hidden"] == m, "raw"]).mean() for m in QUICK_M]
        return (gains[0] - gains[1]) / np.log2(study.N_FEATURES / QUICK_M[0])

    _, low, _ = jackknife_over_models(pd.concat(by_m.values()), slope)
    assert _check(res, f"{hidden} hidden", metric, "grows").passed == (low > 0)


@pytest.mark.parametrize(("options", "match"), [
    ({"n_hidden": (0, 20)}, "n_hidden must hold neuron counts"),
    ({"n_hidden": (5, 21)}, "n_hidden must hold neuron counts"),
    ({"n_hidden": (2.5, 20)}, "n_hidden must hold neuron counts"),
    ({"n_hidden": (5, 8)}, "n_hidden must include m = n"),
    ({"n_hidden": (20,)}, "n_hidden must include m = n"),
    ({"n_models": 2}, "n_models must be at least 3"),
    ({"sae": "l2"}, "sae must be one of"),
])
def test_bad_settings_name_the_argument(options, match):
    with pytest.raises(ValueError, match=match):
        studies.get("superposition").configure(quick=True, **options)


def test_neuron_counts_are_sorted_without_repeats():
    config = studies.get("superposition").configure(quick=True, n_hidden=(20, 5, 5))
    assert config.n_hidden == (5, 20)


def test_topk_latents_keep_the_k_largest():
    generator = torch.Generator().manual_seed(0)
    sae = (torch.randn(2, 6, 3, generator=generator), torch.randn(2, 6, generator=generator),
           None, torch.zeros(2, 3))
    h = torch.randn(2, 50, 3, generator=generator)
    dense, sparse = study._encode(sae, h), study._encode(sae, h, top_k=2)
    assert ((sparse > 0).sum(-1) <= 2).all()
    kept = sparse > 0
    torch.testing.assert_close(sparse[kept], dense[kept])
    assert (sparse.amax(-1) == dense.amax(-1)).all()
    # every dropped latent is no larger than the second largest
    assert (dense.masked_fill(kept, 0).amax(-1) <= dense.topk(2, -1).values[..., 1]).all()


@pytest.mark.parametrize("metric", study.MATCHING)
def test_held_out_matching_on_one_set_is_the_librarys_measure(metric):
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((200, 6)), rng.standard_normal((200, 9))
    B[:, :3] += A[:, [2, 0, 1]]
    assert study._held_out(metric, None, A, B, A, B) == pytest.approx(
        repalign.measure(metric, A, B), abs=1e-9)


def test_held_out_matching_keeps_the_partners_fitted_on_the_first_set():
    rng = np.random.default_rng(1)
    A_fit, A_test = rng.standard_normal((300, 2)), rng.standard_normal((300, 2))
    # on the fitting set unit 0 of A copies unit 1 of B; on the scoring set, unit 0
    B_fit, B_test = A_fit[:, ::-1].copy(), A_test.copy()
    held_out = study._held_out("semi_match", None, A_fit, B_fit, A_test, B_test)
    assert held_out == pytest.approx(np.corrcoef(A_test[:, 0], A_test[:, 1])[0, 1], abs=1e-12)
    assert repalign.measure("semi_match", A_test, B_test) == pytest.approx(1.0)
