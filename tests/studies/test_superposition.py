"""The superposition study: SAE latents against raw neurons and a random dictionary (quick)."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")

import repalign  # noqa: E402
import repalign.studies.superposition as study  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies._stats import jackknife_over_models  # noqa: E402


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("superposition")
    return studies.run("superposition", out, quick=True), pd.read_csv(out / "results.csv")


def _rows(table, condition, hidden, metric):
    return table[(table["condition"] == condition) & (table["hidden"] == hidden)
                 & (table["metric"] == metric)]


def test_files_and_summary(result):
    res, _ = result
    for path in res.paths.values():
        assert path.exists()
    summary = res.paths["summary"].read_text()
    for check in res.checks:
        assert check.claim in summary


def test_table_layout(result):
    res, table = result
    for column in ("condition", "metric", "seed_pair", "raw", "sae", "random", "n_features",
                   "n_hidden", "sparsity", "recovered_random_a"):
        assert column in table.columns
    n_models = study.Superposition.quick_settings["n_models"]
    assert res.config.n_models == n_models
    pairs = n_models * (n_models - 1) // 2
    assert len(table) == len(study.CONDITIONS) * len(study.METRICS) * pairs
    np.testing.assert_allclose(table["gain"], table["sae"] - table["raw"])
    np.testing.assert_allclose(table["sae_minus_random"], table["sae"] - table["random"])
    matching = table[table["metric"].isin(study.MATCHING)]
    kinds = list(study.KINDS)
    assert ((matching[kinds] >= -1) & (matching[kinds] <= 1)).all().all()


def test_superposition_exists(result):
    _, table = result
    sup = table[(table["condition"] == "superposition") & (table["hidden"] == "linear")]
    assert (sup[["represented_a", "represented_b"]] > study.N_HIDDEN_SUPERPOSITION).all().all()
    control = table[(table["condition"] == "control") & (table["hidden"] == "linear")]
    assert (control[["represented_a", "represented_b"]] == study.N_FEATURES).all().all()


@pytest.mark.parametrize("metric", study.MATCHING)
def test_sae_beats_raw_in_superposition(result, metric):
    _, table = result
    rows = _rows(table, "superposition", "linear", metric)
    assert (rows["sae"] > rows["raw"]).all()
    assert rows["gain"].mean() > 0.2


def test_linear_control_is_a_rotation(result):
    # Without a privileged basis the raw neurons of the m = n linear model are a
    # rotation of the features: ridge (rotation-invariant) is ~1, matching is not.
    _, table = result
    assert _rows(table, "control", "linear", "ridge")["raw"].min() > 0.95
    assert _rows(table, "control", "linear", "semi_match")["raw"].max() < 0.8


def test_features_recovered(result):
    _, table = result
    sup = table[(table["condition"] == "superposition") & (table["hidden"] == "linear")]
    fraction = sup[["recovered_a", "recovered_b"]].to_numpy() / sup[
        ["represented_a", "represented_b"]].to_numpy()
    assert fraction.mean() >= 0.75


@pytest.mark.parametrize("metric", study.METRICS)
def test_random_dictionary_check_reads_the_jackknife_interval(result, metric):
    res, table = result
    frame = _rows(table, "superposition", "linear", metric)
    _, low, _ = jackknife_over_models(frame, lambda rows: (rows["sae"] - rows["random"]).mean())
    (check,) = [c for c in res.checks if "random dictionary" in c.claim and metric in c.claim]
    assert check.passed == (low > 0)


def test_random_dictionary_recovers_few_features(result):
    _, table = result
    sup = _rows(table, "superposition", "linear", "ridge")
    random = sup[["recovered_random_a", "recovered_random_b"]].to_numpy()
    assert random.mean() < 0.5 * sup[["recovered_a", "recovered_b"]].to_numpy().mean()


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
