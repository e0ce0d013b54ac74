"""The convergent study (Li et al. 2016), quick version: its claims recomputed from its CSV."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")

from repalign import studies  # noqa: E402
from repalign.studies import convergent  # noqa: E402
from repalign.studies._stats import jackknife_over_models  # noqa: E402

KEYS = ["condition", "layer", "seed_pair", "method"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("convergent")
    result = studies.run("convergent", out, quick=True)
    return result, pd.read_csv(out / "results.csv", dtype={"seed_pair": str})


def test_files_and_summary(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file() and path.stat().st_size > 0
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary
    assert len(result.checks) == 4


def test_table_shape(study):
    _, table = study
    assert {"layer", "method", "rank", "correlation", "condition", "seed_pair",
            "cka"} <= set(table.columns)
    assert set(table["condition"]) == {"trained", "permuted", "untrained", "rotated"}
    assert set(table["layer"]) == set(convergent.LAYERS)
    assert set(table["method"]) == {"one-to-one", "semi"}
    assert table["correlation"].between(-1 - 1e-12, 1 + 1e-12).all()
    for (_, _, _, method), group in table.groupby(KEYS):
        # ranks 1..k, best first; one-to-one pairs min(d_a, d_b) units, semi every unit of a
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert np.all(np.diff(group["correlation"]) <= 0)
        k = group["units_a"].iloc[0]
        if method == "one-to-one":
            k = min(k, group["units_b"].iloc[0])
        assert len(group) == k


def test_per_unit_values_average_to_the_library_measures(study):
    _, table = study
    grouped = table.groupby(KEYS).agg(mean=("correlation", "mean"),
                                      measure=("mean_match", "first"))
    np.testing.assert_allclose(grouped["mean"], grouped["measure"], atol=1e-9)


def test_trained_far_above_permutation_baseline(study):
    _, table = study
    means = table.groupby(["condition", "layer", "method", "seed_pair"])["correlation"].mean()
    for layer in convergent.LAYERS:
        for method in ("one-to-one", "semi"):
            assert means["trained", layer, method].min() > means["permuted", layer,
                                                                 method].max() + 0.1


def test_semi_at_or_above_one_to_one_at_every_rank(study):
    _, table = study
    wide = table.pivot_table(index=["condition", "layer", "seed_pair", "rank"],
                             columns="method", values="correlation").dropna()
    assert (wide["semi"] >= wide["one-to-one"] - 1e-12).all()


def test_trained_first_layer_has_more_near_perfect_matches(study):
    _, table = study
    first = table[(table["layer"] == "conv1") & (table["method"] == "one-to-one")]
    share = first.groupby("condition")["correlation"].apply(
        lambda r: np.mean(r > convergent.NEAR_ONE))
    assert share["trained"] > share["untrained"]
    assert share["trained"] > 0
    # and, layer by layer, trained networks match better than untrained ones
    means = table[table["method"] == "one-to-one"].groupby(["condition", "layer"])[
        "correlation"].mean()
    for layer in convergent.LAYERS:
        assert means["trained", layer] > means["untrained", layer]


def test_rotation_keeps_cka_at_one_and_drops_matching(study):
    _, table = study
    rotated = table[table["condition"] == "rotated"]
    # closed form: CKA(X, XQ) = 1 for orthogonal Q, since (XQ)(XQ)^T = X X^T
    np.testing.assert_allclose(rotated["cka"], 1.0, atol=1e-10)
    assert (rotated["units_a"] == rotated["units_b"]).all()
    # matching X with itself would give 1; with XQ every group drops below it
    assert (rotated.groupby(["layer", "seed_pair", "method"])["mean_match"].first()
            < 0.99).all()
    # and the untouched pairs have CKA < 1
    assert (table[table["condition"] == "trained"]["cka"] < 1 - 1e-6).all()


def test_rotation_matrix_is_orthogonal():
    Q = convergent._rotation(7, np.random.default_rng(0))
    np.testing.assert_allclose(Q.T @ Q, np.eye(7), atol=1e-12)


def _pairs(table, condition):
    one = table[(table["condition"] == condition) & (table["method"] == "one-to-one")]
    pairs = one.groupby(["layer", "seed_pair"], sort=False)["correlation"].agg(
        correlation="mean", near_one=lambda r: np.mean(r > convergent.NEAR_ONE)).reset_index()
    seeds = pairs["seed_pair"].str.split("-", expand=True)
    depth = pairs["layer"].map({layer: i for i, layer in enumerate(convergent.LAYERS)})
    return pairs.assign(seed_a=seeds[0], seed_b=seeds[1], depth=depth, condition=condition)


def test_depth_and_training_checks_read_their_jackknife_intervals(study):
    result, table = study
    trained = _pairs(table, "trained")
    _, _, high = jackknife_over_models(
        trained, lambda rows: np.polyfit(rows["depth"], rows["near_one"], 1)[0])
    (depth,) = [c for c in result.checks if c.claim.startswith("depth trend")]
    assert depth.passed == (high < 0)
    both = pd.concat([trained, _pairs(table, "untrained")])
    lows = []
    for layer in convergent.LAYERS:
        rows = both[both["layer"] == layer]
        _, low, _ = jackknife_over_models(rows, lambda r: (
            r[r["condition"] == "trained"]["correlation"].mean()
            - r[r["condition"] == "untrained"]["correlation"].mean()))
        lows.append(low)
    (training,) = [c for c in result.checks if c.claim.startswith("training, not")]
    assert training.passed == all(low > 0 for low in lows)
