"""Neuron matching against brute force, SciPy's pearsonr and linprog, and netrep."""

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment, linprog
from scipy.spatial.distance import cdist
from scipy.stats import pearsonr

import repalign

from ..conftest import correlated_pair


def correlations(X, Y):
    """Pearson correlations between the units of X (rows) and of Y (columns)."""
    dx = X.shape[1]
    return np.corrcoef(X.T, Y.T)[:dx, dx:]


def injective_maps(dx, dy):
    """Every one-to-one map from the smaller set of units into the larger, as index pairs."""
    if dx <= dy:
        return ((range(dx), p) for p in itertools.permutations(range(dy), dx))
    return ((p, range(dy)) for p in itertools.permutations(range(dx), dy))


def brute_force_matching(S):
    """max over all one-to-one maps of sum S[i, pi(i)] (and the matching's size)."""
    dx, dy = S.shape
    best = max(sum(S[i, j] for i, j in zip(rows, cols)) for rows, cols in injective_maps(dx, dy))
    return best, min(dx, dy)


def replicated_assignment(S):
    """The transport optimum as the mean of an L x L assignment, L = lcm(d_x, d_y)."""
    dx, dy = S.shape
    L = math.lcm(dx, dy)
    big = np.kron(S, np.ones((L // dx, L // dy)))
    rows, cols = linear_sum_assignment(big, maximize=True)
    return big[rows, cols].mean()


def dense_transport_lp(S):
    """The transport optimum from a dense LP with marginals 1/d_x and 1/d_y (HiGHS defaults)."""
    dx, dy = S.shape
    A = np.zeros((dx + dy, dx * dy))
    for i in range(dx):
        for j in range(dy):
            A[i, i * dy + j] = 1.0
            A[dx + j, i * dy + j] = 1.0
    b = np.concatenate([np.full(dx, 1 / dx), np.full(dy, 1 / dy)])
    result = linprog(-S.ravel(), A_eq=A, b_eq=b, bounds=(0, None), method="highs")
    assert result.status == 0
    return -result.fun


def pad(A, d):
    return np.column_stack([A, np.zeros((A.shape[0], d - A.shape[1]))])


# ------------------------------------------------------------------ linear_match


@pytest.mark.parametrize("dx, dy", [(5, 5), (4, 6), (7, 3)])
def test_linear_match_is_the_best_one_to_one_matching_by_brute_force(dx, dy):
    X, Y = correlated_pair(n=30, dx=dx, dy=dy, seed=dx + dy)
    best, k = brute_force_matching(correlations(X, Y))
    assert repalign.measure("linear_match", X, Y) == pytest.approx(best / k, abs=1e-12)


def test_linear_match_recovers_permuted_scaled_units():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((60, 5))
    Y = np.column_stack([X[:, [4, 2, 0, 3, 1]] * [1, 2, 3, 4, 5] - 7,
                         rng.standard_normal((60, 3))])
    assert repalign.measure("linear_match", X, Y) == pytest.approx(1.0, abs=1e-12)


# ------------------------------------------------------------------ semi_match


@pytest.mark.parametrize("dx, dy", [(5, 7), (6, 2)])
def test_semi_match_is_the_mean_best_pearson_correlation(dx, dy):
    X, Y = correlated_pair(n=35, dx=dx, dy=dy, seed=9)
    best = [max(pearsonr(X[:, i], Y[:, j]).statistic for j in range(dy)) for i in range(dx)]
    assert repalign.measure("semi_match", X, Y) == pytest.approx(np.mean(best), abs=1e-12)
    reverse = [max(pearsonr(Y[:, j], X[:, i]).statistic for i in range(dx)) for j in range(dy)]
    assert repalign.measure("semi_match", Y, X) == pytest.approx(np.mean(reverse), abs=1e-12)


def test_semi_match_bounds_the_one_to_one_and_soft_matchings():
    for seed in range(5):
        X, Y = correlated_pair(n=30, dx=4, dy=6, seed=seed, noise=1.0)
        semi = repalign.measure("semi_match", X, Y)
        assert repalign.measure("linear_match", X, Y) <= semi + 1e-12
        soft = repalign.measure("soft_match", X, Y)
        assert soft <= min(semi, repalign.measure("semi_match", Y, X)) + 1e-12


# ------------------------------------------------------------------ soft_match


# The first four (lcm(d_x, d_y) <= 4 max(d_x, d_y)) are solved by replicated Hungarian
# matching, the last three by the linear program; all are checked against both references.
@pytest.mark.parametrize("dx, dy", [(4, 6), (6, 9), (2, 8), (3, 8), (5, 7), (6, 5), (8, 7)])
def test_soft_match_is_the_exact_transport_optimum(dx, dy):
    X, Y = correlated_pair(n=30, dx=dx, dy=dy, seed=dx * dy)
    C = correlations(X, Y)
    value = repalign.measure("soft_match", X, Y)
    assert value == pytest.approx(replicated_assignment(C), abs=1e-12)
    assert value == pytest.approx(dense_transport_lp(C), abs=1e-9)


@pytest.mark.parametrize("d", [1, 4, 6])
def test_soft_match_equals_linear_match_for_equal_widths(d):
    X, Y = correlated_pair(n=30, dx=d, dy=d, seed=d, noise=1.0)
    assert repalign.measure("soft_match", X, Y) == pytest.approx(
        repalign.measure("linear_match", X, Y), abs=1e-12)


def test_soft_match_gives_khosla_williams_distance_on_unit_norm_tuning_curves():
    """d_T^2 = min_T sum T_ij ||x_i - y_j||^2 (their definition) equals 2 (1 - soft_match)."""
    X, Y = correlated_pair(n=30, dx=5, dy=3, seed=1)
    Zx = (X - X.mean(0)) / np.linalg.norm(X - X.mean(0), axis=0)
    Zy = (Y - Y.mean(0)) / np.linalg.norm(Y - Y.mean(0), axis=0)
    squared_w2 = -replicated_assignment(-cdist(Zx.T, Zy.T, "sqeuclidean"))
    assert 2 * (1 - repalign.measure("soft_match", X, Y)) == pytest.approx(squared_w2, abs=1e-12)


def test_soft_match_is_one_for_units_repeated_with_equal_multiplicity():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    Y = X[:, [2, 0, 1, 1, 0, 2]] * 2.0 + 1.0
    assert repalign.measure("soft_match", X, Y) == pytest.approx(1.0, abs=1e-12)
    # Unequal multiplicities cannot be transported onto each other exactly.
    assert repalign.measure("soft_match", X, X[:, [0, 0, 0, 1, 2, 2]]) < 1 - 1e-3


# ------------------------------------------------------------------ permutation_metric


@pytest.mark.parametrize("dx, dy", [(5, 5), (4, 6), (6, 3)])
@pytest.mark.parametrize("distance", ["angular", "euclidean"])
def test_permutation_metric_matches_brute_force_over_permutations(dx, dy, distance):
    """Centre, zero-pad to a common width, try every permutation of Y's padded units."""
    X, Y = correlated_pair(n=25, dx=dx, dy=dy, seed=3)
    d = max(dx, dy)
    Xp, Yp = pad(X - X.mean(0), d), pad(Y - Y.mean(0), d)
    if distance == "angular":
        cosine = max(np.sum(Xp * Yp[:, list(p)]) for p in itertools.permutations(range(d)))
        expected = np.arccos(cosine / (np.linalg.norm(Xp) * np.linalg.norm(Yp)))
    else:
        expected = min(np.linalg.norm(Xp - Yp[:, list(p)]) for p in itertools.permutations(range(d)))
    got = repalign.measure("permutation_metric", X, Y, distance=distance)
    assert got == pytest.approx(expected, abs=1e-10)


def netrep_inputs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6)) + 2.0
    Y = np.tanh(X @ rng.standard_normal((6, 6))) + 0.5 * rng.standard_normal((40, 6))
    W = np.abs(X[:, :4]) @ rng.standard_normal((4, 9)) + rng.standard_normal((40, 9))
    common = rng.standard_normal((40, 1))
    P = common + 0.3 * rng.standard_normal((40, 3))
    N = -2 * common + 0.3 * rng.standard_normal((40, 4)) + 5.0
    return {"X": X, "Y": Y, "W": W, "P": P, "N": N}


# Recorded once with ahwillia/netrep at commit 0186b8a77ec1ebaf541cc8f7173cb2556df8a8f0
# (numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1):
#   netrep.metrics.PermutationMetric(score_method=distance).fit_score(inputs[a], inputs[b])
# with its defaults center_columns=True, zero_pad=True, on the arrays of netrep_inputs().
NETREP_PERMUTATION_METRIC = [
    ("X", "Y", "angular", 1.4276271367234654),
    ("X", "Y", "euclidean", 16.64478912569746),
    ("X", "W", "angular", 1.1427628622424666),
    ("X", "W", "euclidean", 36.69033089657478),
    ("W", "X", "angular", 1.1427628622424666),
    ("W", "X", "euclidean", 36.69033089657478),
    ("P", "N", "angular", 2.503787673066906),
    ("P", "N", "euclidean", 33.608593600264655),
]


@pytest.mark.parametrize("a, b, distance, recorded", NETREP_PERMUTATION_METRIC)
def test_permutation_metric_matches_recorded_netrep_values(a, b, distance, recorded):
    inputs = netrep_inputs()
    got = repalign.measure("permutation_metric", inputs[a], inputs[b], distance=distance)
    assert got == pytest.approx(recorded, abs=1e-10)


def test_permutation_metric_triangle_inequality():
    rng = np.random.default_rng(0)
    for distance in ("angular", "euclidean"):
        m = repalign.get("permutation_metric", distance=distance)
        for _ in range(30):
            A, B, C = (rng.standard_normal((20, 4)) @ rng.standard_normal((4, 4)) for _ in range(3))
            assert m(A, C) <= m(A, B) + m(B, C) + 1e-9


# ------------------------------------------------------------------ closed forms


def test_a_single_unit_against_its_negation():
    x = np.random.default_rng(2).standard_normal((20, 1))
    for name in ("linear_match", "semi_match", "soft_match"):
        assert repalign.measure(name, x, -3 * x + 1) == pytest.approx(-1.0, abs=1e-12)
    assert repalign.measure("permutation_metric", x, -x) == pytest.approx(np.pi, abs=1e-7)


def test_matchings_are_not_rotation_invariant():
    X, _ = correlated_pair(n=40, dx=5, dy=5)
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    for name in ("linear_match", "semi_match", "soft_match", "permutation_metric"):
        m = repalign.get(name)
        assert abs(m(X, X @ Q) - m(X, X)) > 1e-3


# ------------------------------------------------------------------ constant units


@pytest.mark.parametrize("name", ["linear_match", "semi_match", "soft_match"])
def test_constant_units_are_rejected_naming_the_argument(name):
    X, Y = correlated_pair(n=30, dx=5, dy=4)
    Xc = X.copy()
    Xc[:, 3] = 0.1  # a mean that is not exactly representable still counts as constant
    with pytest.raises(ValueError, match=r"^X: unit\(s\) \[3\] \(1 of 5\) are constant across stimuli"):
        repalign.measure(name, Xc, Y)
    Yc = Y.copy()
    Yc[:, [0, 2]] = 7.0
    with pytest.raises(ValueError, match=r"^Y: unit\(s\) \[0, 2\] \(2 of 4\) are constant"):
        repalign.measure(name, X, Yc)
    with pytest.raises(ValueError, match=rf"^X: unit\(s\) \[0, 2\] .* {name} cannot be computed"):
        repalign.get(name).prepare(Yc)


def test_permutation_metric_accepts_constant_units_as_zero_padding():
    X, Y = correlated_pair(n=30, dx=4, dy=6, seed=5)
    with_constant = np.column_stack([X, np.full(30, 2.5)])
    assert repalign.measure("permutation_metric", with_constant, Y) == pytest.approx(
        repalign.measure("permutation_metric", X, Y), abs=1e-12)
    with pytest.raises(ValueError, match=r"^Y does not vary across stimuli"):
        repalign.measure("permutation_metric", X, np.full((30, 3), 0.1))
