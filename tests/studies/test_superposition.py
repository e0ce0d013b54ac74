"""The superposition study: SAE latents against raw neurons across seeds (quick run)."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")

import repalign.studies.superposition as study  # noqa: E402
from repalign import studies  # noqa: E402


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
    for column in ("condition", "metric", "seed_pair", "raw", "sae", "n_features",
                   "n_hidden", "sparsity"):
        assert column in table.columns
    n_models = study.Superposition.quick_settings["n_models"]
    assert res.config.n_models == n_models
    pairs = n_models * (n_models - 1) // 2
    assert len(table) == len(study.CONDITIONS) * len(study.METRICS) * pairs
    np.testing.assert_allclose(table["gain"], table["sae"] - table["raw"])
    matching = table[table["metric"].isin(study.MATCHING)]
    assert ((matching[["raw", "sae"]] >= -1) & (matching[["raw", "sae"]] <= 1)).all().all()


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
