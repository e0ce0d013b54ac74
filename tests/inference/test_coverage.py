"""The default interval is printed only where its measured coverage holds."""

import re
from pathlib import Path

import numpy as np
import pytest

import repalign
from repalign.inference.coverage import MEASURED, TARGET, choose_interval

from ..conftest import correlated_pair

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "RESULTS.md"

#: The labels of benchmarks/coverage.py's table and the configuration each measures.
LABELS = {
    "cka (linear, biased)": ("cka", {"kernel": "linear", "estimator": "biased"}),
    "cka (linear, unbiased)": ("cka", {"kernel": "linear", "estimator": "unbiased"}),
    "rsa (correlation, spearman)": ("rsa", {"rdm": "correlation", "compare": "spearman"}),
    "procrustes": ("procrustes", {}),
    "nbs": ("nbs", {}),
    "cca (mean r)": ("cca", {"statistic": "mean_r"}),
    "ridge (5-fold, pearson)": ("ridge", {"cv": 5, "score": "pearson"}),
    "linear_regression": ("linear_regression", {}),
}


def _benchmark_table():
    """{label: [(model, n, coverage, se)]} from the results file's coverage section."""
    text = RESULTS.read_text()
    section = text[text.index("## Interval coverage"):]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        if len(cells) == 10 and cells[0] in LABELS:
            coverage, se = re.match(r"([\d.]+) ± ([\d.]+)", cells[5]).groups()
            rows.setdefault(cells[0], []).append((cells[1], int(cells[2]), float(coverage),
                                                  float(se)))
    return rows


def test_the_recorded_coverage_is_the_benchmarks_lowest_at_60_and_200():
    table = _benchmark_table()
    assert set(table) == set(LABELS)
    for label, (name, params) in LABELS.items():
        record = next(c for c in MEASURED if c.measure == name and c.params == params)
        cells = [row for row in table[label] if row[1] >= 60]
        assert len(cells) == 4
        lowest = min(row[2] for row in cells)
        named = [row for row in cells
                 if record.where.replace("gaussian", "gauss") == f"{row[0]}, n = {row[1]}"]
        assert [(row[2], row[3]) for row in named] == [(record.lowest, record.se)], label
        assert record.lowest == lowest, label


def test_auto_gives_the_jackknife_only_where_coverage_holds():
    valid = {(c.measure, tuple(sorted(c.params.items()))) for c in MEASURED
             if c.lowest + 2 * c.se >= TARGET}
    assert valid == {("cka", (("estimator", "unbiased"), ("kernel", "linear"))),
                     ("rsa", (("compare", "spearman"), ("rdm", "correlation")))}
    X, Y = correlated_pair(n=50)
    for name, params in [("cka", {"estimator": "unbiased"}), ("rsa", {})]:
        r = repalign.compare(X, Y, name, n_permutations=0, **params)
        assert r.interval == "jackknife" and r.interval_note is None
        assert r.ci_low < r.ci_high
    for name, params, said in [("procrustes", {}, "measured at 0.883"),
                               ("cca", {}, "measured at 0.784"),
                               ("cka", {"kernel": "rbf"}, "has not been measured"),
                               ("mutual_knn", {}, "has not been measured"),
                               ("ridge", {}, "cross-validates over folds")]:
        r = repalign.compare(X, Y, name, n_permutations=0, **params)
        assert (r.interval, r.ci_low, r.ci_high, r.jackknife_values) == (None,) * 4, name
        assert r.interval_note.startswith("no interval: ") and said in r.interval_note
        assert r.interval_note in repr(r)


def test_biased_linear_cka_takes_the_unbiased_estimators_interval():
    """The same population value: the interval is the unbiased estimator's, whose
    jackknife values are unbiased CKA without each stimulus (computed here directly)."""
    X, Y = correlated_pair(n=30)
    biased = repalign.compare(X, Y, "cka", n_permutations=0, seed=0)
    unbiased = repalign.compare(X, Y, "cka", estimator="unbiased", n_permutations=0, seed=0)
    assert biased.value != unbiased.value
    assert (biased.ci_low, biased.ci_high) == (unbiased.ci_low, unbiased.ci_high)
    expected = [repalign.measure("cka", np.delete(X, i, 0), np.delete(Y, i, 0),
                                 estimator="unbiased") for i in range(30)]
    np.testing.assert_allclose(biased.jackknife_values, expected, rtol=1e-12)
    assert "estimator='unbiased'" in biased.interval_note


def test_asking_for_an_unestablished_jackknife_warns_with_the_measured_coverage():
    X, Y = correlated_pair(n=40)
    with pytest.warns(repalign.DegenerateWarning, match=r"procrustes: .*measured at 0\.883"):
        r = repalign.compare(X, Y, "procrustes", n_permutations=0, interval="jackknife")
    assert r.interval == "jackknife" and r.ci_low < r.ci_high
    assert r.interval_note.startswith("asked for although")


def test_cross_validated_measures_are_refused_the_jackknife():
    with pytest.raises(ValueError, match=r"interval: 'jackknife' gives no interval of pls"):
        choose_interval(repalign.get("pls"), "jackknife")
    assert choose_interval(repalign.get("ridge"), "bootstrap").method == "bootstrap"
    assert choose_interval(repalign.get("ridge"), None).method is None


def test_the_grid_default_follows_the_same_rule():
    X, Y = correlated_pair(n=40)
    result = repalign.grid({"x": X, "y": Y}, measures=["cka", "procrustes"],
                           stats={"n_permutations": 0})
    frame = result.to_dataframe()
    pairs = frame[frame.a != frame.b].set_index("measure")
    assert len(pairs) == 2
    assert np.isfinite(pairs.loc["cka", ["ci_low", "ci_high"]].astype(float)).all()
    assert pairs.loc["procrustes", ["ci_low", "ci_high"]].isna().all()
