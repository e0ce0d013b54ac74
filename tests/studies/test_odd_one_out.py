"""Odd-one-out hits and their grouped interval, shared by the THINGS triplet studies."""

from __future__ import annotations

import numpy as np
import pytest

import repalign
from repalign.studies._odd_one_out import grouped_accuracy, trial_hits, triplet_groups


@pytest.mark.parametrize("similarity", ["dot", "cosine"])
def test_trial_hits_average_to_the_library_triplet_accuracy(similarity):
    things = repalign.datasets.things()
    rng = np.random.default_rng(0)
    embeddings = [things.spose49, rng.standard_normal((1854, 7))]
    if similarity == "dot":  # exact ties (integer entries), broken at the lowest position;
        # under the cosine such ties are decided by the last bit of each path's rounding
        embeddings.append(np.abs(rng.standard_normal((1854, 3))).round(0))
    for E in embeddings:
        hits = trial_hits(E, things.triplets, things.choices, similarity)
        assert hits.mean() == pytest.approx(repalign.triplet_accuracy(
            E, things.triplets, things.choices, similarity=similarity), abs=1e-12)


def test_trial_hits_refuse_an_unknown_similarity_and_zero_rows_under_the_cosine():
    E = np.eye(3)
    with pytest.raises(ValueError, match="similarity must be 'cosine' or 'dot'; got 'l2'"):
        trial_hits(E, [[0, 1, 2]], [0], "l2")
    with pytest.raises(ValueError, match="all-zero rows"):
        trial_hits(np.zeros((3, 2)), [[0, 1, 2]], [0], "cosine")


def test_grouped_accuracy_equals_a_loop_over_groups_and_resamples():
    things = repalign.datasets.things()
    T, c = things.triplets, things.choices
    group = triplet_groups(T)
    # trials of one group hold the same three items, in any order
    for g in (0, int(group.max())):
        assert len({tuple(sorted(t)) for t in T[group == g]}) == 1
    n_groups = int(group.max()) + 1
    draws = np.random.default_rng(3).integers(0, n_groups, size=(50, n_groups))
    hits = trial_hits(things.spose49, T, c)
    accuracy, low, high = grouped_accuracy(hits, group, draws, level=0.9)
    per_group = [(repalign.triplet_accuracy(things.spose49, T[group == g], c[group == g])
                  * np.sum(group == g), np.sum(group == g)) for g in range(n_groups)]
    boot = [sum(per_group[g][0] for g in row) / sum(per_group[g][1] for g in row)
            for row in draws]
    assert accuracy == pytest.approx(repalign.triplet_accuracy(things.spose49, T, c), abs=1e-12)
    assert (low, high) == pytest.approx(tuple(np.quantile(boot, [0.05, 0.95])), abs=1e-12)
    assert low < accuracy < high
