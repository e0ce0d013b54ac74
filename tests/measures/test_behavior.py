"""Triplet odd-one-out accuracy and noise ceiling: THINGS numbers and brute force."""

from collections import Counter, defaultdict

import numpy as np
import pytest

import repalign

from ..conftest import BACKENDS, to_backend


@pytest.fixture(scope="module")
def things():
    return repalign.datasets.things()


def test_spose49_reproduces_the_published_accuracy(things):
    # Hebart et al. (2020): the 49-d SPoSE model predicts 63.0% of the noise-ceiling trials.
    acc = repalign.triplet_accuracy(things.spose49, things.triplets, things.choices)
    assert round(acc, 3) == 0.630


def test_noise_ceiling_reproduces_the_published_67_22_percent(things):
    ceiling = repalign.triplet_noise_ceiling(things.triplets, things.choices)
    assert round(100 * ceiling, 2) == 67.22


def test_things_dataset_is_consistent(things):
    assert len(things.concepts) == len(things.words) == 1854
    assert things.concepts[0] == "aardvark" and things.words[:2] == ["aardvark", "abacus"]
    assert things.spose49.shape == (1854, 49) and things.spose66.shape == (1854, 66)
    assert len(things.labels49) == 49 and len(things.labels66) == 66
    assert things.triplets.shape == (20000, 3) and things.triplets.min() == 0
    assert set(np.unique(things.choices)) == {0, 1, 2}
    assert len({frozenset(t) for t in things.triplets.tolist()}) == 1000
    assert things.categories["animal"].sum() > 100
    assert "CC-BY 4.0" in things.citation


def brute_force_accuracy(E, T, C, cosine=False):
    hits = 0
    for (a, b, c), choice in zip(T, C):
        sim = {}
        for i, j in ((a, b), (a, c), (b, c)):
            u, v = E[i], E[j]
            sim[(i, j)] = u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) if cosine else u @ v
        best = max(sim, key=sim.get)
        odd = ({a, b, c} - set(best)).pop()
        hits += odd == (a, b, c)[choice]
    return hits / len(T)


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_matches_a_brute_force_loop(similarity):
    rng = np.random.default_rng(0)
    E = rng.standard_normal((30, 5))
    T = np.array([rng.choice(30, 3, replace=False) for _ in range(200)])
    C = rng.integers(0, 3, 200)
    expected = brute_force_accuracy(E, T, C, cosine=similarity == "cosine")
    assert repalign.triplet_accuracy(E, T, C, similarity=similarity) == pytest.approx(expected)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: "-".join(b))
def test_backends_agree(backend):
    rng = np.random.default_rng(1)
    E = rng.standard_normal((20, 4))
    T = np.array([rng.choice(20, 3, replace=False) for _ in range(100)])
    C = rng.integers(0, 3, 100)
    got = repalign.triplet_accuracy(to_backend(E, backend), T, C)
    # float32 may flip a near-tied pair: at most one of the 100 trials.
    assert got == pytest.approx(repalign.triplet_accuracy(E, T, C),
                                abs=0.01 if backend[1] == "float32" else 0)


def test_a_perfect_model_scores_one_and_its_opposite_zero():
    E = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    T = np.array([[0, 1, 2], [2, 3, 0], [1, 2, 3]])
    C = np.array([2, 2, 0])
    assert repalign.triplet_accuracy(E, T, C) == 1.0
    assert repalign.triplet_accuracy(E, T, (C + 1) % 3) == 0.0


def test_ties_go_to_the_lowest_position():
    E = np.eye(3)  # all pair similarities 0
    assert repalign.triplet_accuracy(E, [[0, 1, 2]], [0]) == 1.0
    assert repalign.triplet_accuracy(E, [[0, 1, 2]], [1]) == 0.0


def test_noise_ceiling_matches_counting_by_hand():
    rng = np.random.default_rng(0)
    items = [rng.choice(10, 3, replace=False) for _ in range(15)]
    T, C = [], []
    for trip in items:
        for _ in range(rng.integers(1, 7)):
            T.append(rng.permutation(trip))
            C.append(rng.integers(0, 3))
    votes = defaultdict(Counter)
    for t, c in zip(T, C):
        votes[frozenset(t.tolist())][t[c]] += 1
    fractions = [max(v.values()) / sum(v.values()) for v in votes.values() if sum(v.values()) >= 2]
    assert repalign.triplet_noise_ceiling(np.array(T), np.array(C)) == pytest.approx(np.mean(fractions))
    all_groups = [max(v.values()) / sum(v.values()) for v in votes.values()]
    assert repalign.triplet_noise_ceiling(np.array(T), np.array(C), min_repeats=1) == pytest.approx(
        np.mean(all_groups))


@pytest.mark.parametrize("T, C, error, match", [
    ([[0, 1]], [0], ValueError, r"triplets must be an \(m, 3\) array of item indices; got shape \(1, 2\)"),
    ([[0, 1, 2]], [0, 1], ValueError, r"choices must be an \(m,\) array .* \(m=1\); got shape \(2,\)"),
    ([[0, 1, 2]], [3], ValueError, r"choices must be 0, 1 or 2 .* row 0 holds 3"),
    ([[0, 1, 9]], [0], ValueError, r"triplets must be 0-based indices into the 4 rows of embedding; got values from 0 to 9"),
    ([[0, 1, -1]], [0], ValueError, r"got values from -1 to 1"),
    ([[0, 1, 1]], [0], ValueError, r"three different items; row 0 is \[0, 1, 1\]"),
    ([[0, 1, 2.5]], [0], TypeError, r"triplets must hold integers"),
    (np.zeros((0, 3), int), np.zeros(0, int), ValueError, r"triplets is empty"),
    ([["a", "b", "c"]], [0], TypeError, r"triplets must hold real numbers"),
])
def test_accuracy_rejects_bad_trials(T, C, error, match):
    E = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(error, match=match):
        repalign.triplet_accuracy(E, T, C)


def test_accuracy_rejects_bad_embedding_and_similarity():
    E = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"similarity='euclid' is not valid"):
        repalign.triplet_accuracy(E, [[0, 1, 2]], [0], similarity="euclid")
    E_nan = E.copy()
    E_nan[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"embedding must be finite"):
        repalign.triplet_accuracy(E_nan, [[0, 1, 2]], [0])
    with pytest.raises(ValueError, match=r"embedding must be a 2-D array"):
        repalign.triplet_accuracy(E[0], [[0, 1, 2]], [0])
    E_zero = E.copy()
    E_zero[2] = 0
    with pytest.raises(ValueError, match=r"embedding has all-zero rows"):
        repalign.triplet_accuracy(E_zero, [[0, 1, 2]], [0], similarity="cosine")


def test_noise_ceiling_needs_repeats():
    with pytest.raises(ValueError, match=r"no triplet was shown at least min_repeats=2 times"):
        repalign.triplet_noise_ceiling([[0, 1, 2], [0, 1, 3]], [0, 1])
    with pytest.raises(ValueError, match=r"min_repeats must be a positive integer; got 0"):
        repalign.triplet_noise_ceiling([[0, 1, 2]], [0], min_repeats=0)
