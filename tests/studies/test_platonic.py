"""The platonic study (Huh et al. 2024) in its quick form: claims recomputed from the CSV."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from repalign import studies  # noqa: E402
from repalign.studies._stats import jackknife_over_models  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("platonic")
    result = studies.run("platonic", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def test_files_and_checks_are_written(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file()
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary


def test_table_has_the_issue_columns_and_only_different_seeds(study):
    _, table = study
    for column in ("view", "width_a", "width_b", "seed_pair", "mutual_knn", "accuracy_a",
                   "accuracy_b", "null_mean"):
        assert column in table.columns
    assert set(table["view"]) == {"full/full", "left/right"}
    assert (table["seed_a"] != table["seed_b"]).all()
    assert table["mutual_knn"].between(0, 1).all()


def _rho(frame):
    return spearmanr(frame["width_a"], frame["mutual_knn"]).statistic


def test_alignment_rises_with_width(study):
    _, table = study
    full = table[table["view"] == "full/full"]
    cross = table[table["view"] == "left/right"]
    assert _rho(full[full["width_a"] == full["width_b"]]) > 0
    assert _rho(full[full["width_b"] == full["width_b"].max()]) > 0
    assert _rho(cross[cross["width_a"] == cross["width_b"]]) > 0
    by_width = full[full["width_a"] == full["width_b"]].groupby("width_a")["mutual_knn"].mean()
    assert by_width.iloc[-1] > by_width.iloc[0]


def test_chance_is_k_over_n_minus_1_and_far_below_every_pair(study):
    _, table = study
    k, n = table["k"].iloc[0], table["n_stimuli"].iloc[0]
    assert table["chance"].iloc[0] == pytest.approx(k / (n - 1))
    tested = table.dropna(subset=["null_mean"])
    assert len(tested) > 0
    # 20 permutations of ~450 neighbour lists: the null mean is within 10% of k/(n-1).
    assert tested["null_mean"].mean() == pytest.approx(k / (n - 1), rel=0.1)
    assert (table["mutual_knn"] > 3 * k / (n - 1)).all()


def test_untrained_control_is_scored_for_every_pair(study):
    _, table = study
    assert table["untrained"].between(0, 1).all()
    same = table[table["width_a"] == table["width_b"]]
    by_width = same.groupby(["view", "width_a"])[["mutual_knn", "untrained"]].mean()
    assert (by_width["mutual_knn"] > by_width["untrained"]).all()


@pytest.mark.parametrize("view, label", [("full/full", "whole images"),
                                         ("left/right", "left half vs right half")])
def test_beyond_untrained_check_reads_the_slope_of_the_excess(study, view, label):
    result, table = study
    frame = table[(table["view"] == view) & (table["width_a"] == table["width_b"])]
    slope, low, _ = jackknife_over_models(frame, lambda rows: np.polyfit(
        np.log2(rows["width_a"]), rows["mutual_knn"] - rows["untrained"], 1)[0])
    (check,) = [c for c in result.checks if c.claim.startswith(label)]
    assert check.passed == (low > 0)
    assert f"slope {slope:+.4f}" in check.detail
