"""Nearest-neighbour measures against brute force, platonic-rep and ReSi.

The brute-force references build each neighbour list with SciPy's cosine
distances and a Python sort of the other stimuli by (-similarity, index), and
evaluate every definition with Python sets and loops (CKNNA: Song et al.'s
HSIC written out on dense masked n x n kernels). The recorded values come
from platonic-rep and ReSi, run once in a scratch environment (see the
comments at RECORDED).
"""

import array_api_compat.numpy as anp
import numpy as np
import pytest
from scipy.spatial.distance import cdist

import repalign
from repalign.measures.neighbors import cosine_similarities, nearest_others

from ..conftest import correlated_pair

NAMES = ["mutual_knn", "jaccard_knn", "rank_similarity", "cycle_knn",
         "second_order_cosine", "cknna"]


# ----------------------------------------------------------------------------- brute force
def similarities(Z):
    return 1 - cdist(Z, Z, "cosine")


def neighbour_lists(Z, k):
    """The k other stimuli of largest cosine similarity, ties to the lower index."""
    S = similarities(Z)
    n = len(Z)
    return [sorted((j for j in range(n) if j != i), key=lambda j: (-S[i, j], j))[:k]
            for i in range(n)]


def mutual_ref(X, Y, k):
    NX, NY = neighbour_lists(X, k), neighbour_lists(Y, k)
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(NX, NY)])


def jaccard_ref(X, Y, k):
    NX, NY = neighbour_lists(X, k), neighbour_lists(Y, k)
    return np.mean([len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(NX, NY)])


def rank_ref(X, Y, k):
    scores = []
    for a, b in zip(neighbour_lists(X, k), neighbour_lists(Y, k)):
        shared = set(a) & set(b)
        if not shared:
            scores.append(0.0)
            continue
        s = sum(2 / ((1 + abs(a.index(j) - b.index(j))) * (a.index(j) + b.index(j) + 2))
                for j in shared)
        scores.append(s / sum(1 / t for t in range(1, len(shared) + 1)))
    return np.mean(scores)


def cycle_ref(X, Y, k):
    NX, NY = neighbour_lists(X, k), neighbour_lists(Y, k)
    return np.mean([any(i in NX[j] for j in NY[i]) for i in range(len(X))])


def second_order_terms(X, Y, k, vectors=similarities):
    """Per stimulus, the cosine of its similarity vectors over the union of neighbours."""
    NX, NY = neighbour_lists(X, k), neighbour_lists(Y, k)
    VX, VY = vectors(X), vectors(Y)
    out = []
    for i in range(len(X)):
        union = sorted(set(NX[i]) | set(NY[i]))
        a, b = VX[i, union], VY[i, union]
        out.append(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return np.array(out)


def second_order_ref(X, Y, k, vectors=similarities):
    """Hamilton et al. (2016); ``vectors=cosine distances`` is what ReSi's code compares."""
    return np.mean(second_order_terms(X, Y, k, vectors))


def mask(Z, k):
    n = len(Z)
    M = np.zeros((n, n))
    for i, row in enumerate(neighbour_lists(Z, k)):
        M[i, row] = 1
    return M


def hsic_unbiased(K, L):
    """Song et al. (2012), Eq. 5 (on matrices with a zero diagonal), as matrix products."""
    n = K.shape[0]
    one = np.ones(n)
    return (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * (one @ K @ L @ one)) / (n * (n - 3))


def cknna_ref(X, Y, k):
    K, L = similarities(X), similarities(Y)
    MX, MY = mask(X, k), mask(Y, k)
    M = MX * MY
    return hsic_unbiased(K * M, L * M) / np.sqrt(hsic_unbiased(K * MX, K * MX)
                                                 * hsic_unbiased(L * MY, L * MY))


REFERENCES = {"mutual_knn": mutual_ref, "jaccard_knn": jaccard_ref, "rank_similarity": rank_ref,
              "cycle_knn": cycle_ref, "second_order_cosine": second_order_ref,
              "cknna": cknna_ref}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n, dx, dy, k", [(30, 4, 6, 3), (25, 40, 30, 5), (40, 5, 7, 10),
                                          (20, 3, 3, 17)])
def test_matches_brute_force(name, n, dx, dy, k):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=n + k, noise=0.8)
    got = repalign.measure(name, X, Y, k=k)
    assert got == pytest.approx(REFERENCES[name](X, Y, k), abs=1e-12)
    assert repalign.measure(name, Y, X, k=k) == pytest.approx(REFERENCES[name](Y, X, k),
                                                              abs=1e-12)


# ----------------------------------------------------------------------------- recorded
# RECORDED: values computed once (Python 3.11, torch 2.13.0+cpu, scikit-learn 1.9.1) by
#   platonic-rep, github.com/minyoungg/platonic-rep @ dcd76ba3c950c1b197a2ae8b1c6713535c94ecf9,
#     metrics.py, with A = F.normalize(torch.from_numpy(X), p=2, dim=-1), B likewise from Y
#     (float64; torchaudio, imported at module level but unused here, stubbed out):
#     AlignmentMetrics.mutual_knn(A, B, topk=k), .cycle_knn(A, B, topk=k) and
#     .cycle_knn(B, A, topk=k), .cknna(P, Q, topk=k) for (P, Q) in (A,B), (B,A), (A,A), (B,B);
#   ReSi, github.com/mklabunde/resi @ 24ab9e5055c71527445b0b196f5872f3cbe9a020,
#     repsim/measures/nearest_neighbor.py: jaccard_similarity(X, Y, shape="nd", k=k),
#     rank_similarity(X, Y, shape="nd", k=k), second_order_cosine_similarity(X, Y,
#     shape="nd", k=k) (defaults: inner="cosine").
# mutual_knn and cycle_knn come back from platonic-rep in float32 (its masks are float32).
RECORDED = {
    5: {"mutual_knn": 0.3566666841506958, "cycle_xy": 0.8833333253860474,
        "cycle_yx": 0.8166666626930237, "cknna_xy": 0.3690912713386806,
        "cknna_yx": 0.36975987107293395, "cknna_xx": 0.999962817477002,
        "cknna_yy": 0.9999577062764539, "jaccard": 0.23412698412698413,
        "rank": 0.29330363957030614, "resi_second_order": 0.8227949312104049},
    10: {"mutual_knn": 0.4899999797344208, "cycle_xy": 1.0, "cycle_yx": 1.0,
         "cknna_xy": 0.502425370033636, "cknna_yx": 0.506675153229496,
         "cknna_xx": 0.9999755331367212, "cknna_yy": 0.9999732031954849,
         "jaccard": 0.3424011102416675, "rank": 0.25626479693967175,
         "resi_second_order": 0.8588296500693889},
}


@pytest.fixture(scope="module")
def recorded_inputs():
    rng = np.random.default_rng(20261124)
    X = rng.standard_normal((60, 8))
    Y = np.tanh(X @ rng.standard_normal((8, 12))) + 0.5 * rng.standard_normal((60, 12))
    return X, Y


@pytest.mark.parametrize("k", [5, 10])
def test_matches_platonic_rep(recorded_inputs, k):
    X, Y = recorded_inputs
    rec = RECORDED[k]
    assert repalign.measure("mutual_knn", X, Y, k=k) == pytest.approx(rec["mutual_knn"],
                                                                      abs=1e-7)
    assert repalign.measure("cycle_knn", X, Y, k=k) == pytest.approx(rec["cycle_xy"], abs=1e-7)
    assert repalign.measure("cycle_knn", Y, X, k=k) == pytest.approx(rec["cycle_yx"], abs=1e-7)


def without_epsilon(r_xy, r_xx, r_yy, eps=1e-6):
    """Undo platonic-rep's ``s_xy / (sqrt(s_xx s_yy) + eps)`` using its self-values.

    ``cknna(A, A) = s_xx / (s_xx + eps)`` gives ``s_xx = eps r_xx / (1 - r_xx)``.
    """
    s_xx, s_yy = eps * r_xx / (1 - r_xx), eps * r_yy / (1 - r_yy)
    g = np.sqrt(s_xx * s_yy)
    return r_xy * (g + eps) / g


@pytest.mark.parametrize("k", [5, 10])
def test_cknna_matches_platonic_rep_in_both_orders(recorded_inputs, k):
    X, Y = recorded_inputs
    rec = RECORDED[k]
    xy = repalign.measure("cknna", X, Y, k=k)
    yx = repalign.measure("cknna", Y, X, k=k)
    assert xy == pytest.approx(without_epsilon(rec["cknna_xy"], rec["cknna_xx"],
                                               rec["cknna_yy"]), abs=1e-9)
    assert yx == pytest.approx(without_epsilon(rec["cknna_yx"], rec["cknna_yy"],
                                               rec["cknna_xx"]), abs=1e-9)
    # platonic-rep's raw value carries its epsilon: about 1e-5 relative below ours.
    assert 0 < xy - rec["cknna_xy"] < 1e-4 * xy
    assert abs(xy - yx) > 1e-4  # asymmetric, as platonic-rep's own values are


@pytest.mark.parametrize("k", [5, 10])
def test_matches_resi(recorded_inputs, k):
    X, Y = recorded_inputs
    rec = RECORDED[k]
    assert repalign.measure("jaccard_knn", X, Y, k=k) == pytest.approx(rec["jaccard"],
                                                                       abs=1e-12)
    assert repalign.measure("rank_similarity", X, Y, k=k) == pytest.approx(rec["rank"],
                                                                           abs=1e-12)


@pytest.mark.parametrize("k", [5, 10])
def test_second_order_cosine_compares_similarities_not_resi_distances(recorded_inputs, k):
    X, Y = recorded_inputs
    rec = RECORDED[k]

    def cosine_distances(Z):
        return cdist(Z, Z, "cosine")

    # ReSi's code compares cosine distances: the brute force on distances reproduces it...
    assert second_order_ref(X, Y, k, cosine_distances) == pytest.approx(
        rec["resi_second_order"], abs=1e-12)
    # ...while the measure follows Hamilton et al. (2016) and compares similarities.
    got = repalign.measure("second_order_cosine", X, Y, k=k)
    assert got == pytest.approx(second_order_ref(X, Y, k), abs=1e-12)
    assert abs(got - rec["resi_second_order"]) > 0.05


# ----------------------------------------------------------------------------- neighbours
# Unit-norm multiples of (5, 0), (4, +-3), (3, +-4): reflections across the x-axis have
# bitwise equal cosines with (1, 0), so these ties are exact in floating point.
TIED = np.array([[5.0, 0], [3, -4], [4, 3], [4, -3], [3, 4], [0, 5], [-5, 0]])


def test_ties_go_to_the_lower_index():
    S = cosine_similarities(TIED, anp)
    assert S[0, 2] == S[0, 3] and S[0, 1] == S[0, 4]
    # From (5, 0): (4, 3) and (4, -3) tie (cos 0.8), then (3, -4) and (3, 4) (cos 0.6).
    assert nearest_others(S, 3, anp)[0].tolist() == [2, 3, 1]
    assert nearest_others(S, 1, anp)[0].tolist() == [2]
    # Reversed stimulus order: (5, 0) is now stimulus 6, and the tied pairs swap.
    R = cosine_similarities(TIED[::-1], anp)
    assert nearest_others(R, 3, anp)[6].tolist() == [3, 4, 2]


def tied_similarities():
    """Cosine similarities of small integer vectors: many exact ties."""
    rng = np.random.default_rng(5)
    X = rng.integers(-2, 3, size=(60, 3)).astype(float)
    S = cosine_similarities(X[np.abs(X).sum(axis=1) > 0], anp)
    stable = np.argsort(3 * np.eye(len(S)) - S, axis=1, kind="stable")
    return S, stable


@pytest.mark.parametrize("k", [1, 4, 10, 57])
def test_neighbour_lists_equal_a_stable_argsort_on_tied_data(k):
    S, stable = tied_similarities()
    # Ties straddle the k-th place in some rows, so the tie rule decides membership.
    kth, next_ = (np.take_along_axis(S, stable[:, i:i + 1], axis=1) for i in (k - 1, k))
    assert np.any(kth == next_)
    np.testing.assert_array_equal(nearest_others(S, k, anp), stable[:, :k])


@pytest.mark.parametrize("k", [1, 4, 10, 57])
def test_sort_path_gives_the_same_neighbours(k):
    """torch takes the path of libraries without a selection (a sort of the values)."""
    torch = pytest.importorskip("torch")
    from array_api_compat import torch as xp_torch

    S, stable = tied_similarities()
    got = nearest_others(torch.as_tensor(S), k, xp_torch)
    np.testing.assert_array_equal(got.numpy(), stable[:, :k])


def test_neighbours_ignore_the_norm_of_each_stimulus():
    X, Y = correlated_pair(seed=3)
    scales = np.random.default_rng(0).uniform(0.1, 10, size=(X.shape[0], 1))
    for name in NAMES:
        assert repalign.measure(name, scales * X, Y) == pytest.approx(
            repalign.measure(name, X, Y), abs=1e-12)


def test_not_translation_invariant():
    X, Y = correlated_pair(seed=1)
    for name in NAMES:
        assert abs(repalign.measure(name, X + 3, Y) - repalign.measure(name, X, Y)) > 1e-3


# ----------------------------------------------------------------------------- closed forms
def on_arc(angles):
    """Unit vectors at these angles (< pi apart): nearer in angle = more cosine-similar."""
    a = np.asarray(angles, dtype=float)
    return np.column_stack([np.cos(a), np.sin(a)])


def test_one_neighbour_on_four_stimuli():
    # X at angles 0, .1, .3, .6: nearest 1, 0, 1, 2. Y at 0, .7, .1, .3: nearest 2, 3, 0, 2.
    X, Y = on_arc([0, 0.1, 0.3, 0.6]), on_arc([0, 0.7, 0.1, 0.3])
    # Only stimulus 3 keeps its neighbour (2), at rank 1 in both: 2 / (1 * 2) / H_1 = 1.
    for name in ("mutual_knn", "jaccard_knn", "rank_similarity"):
        assert repalign.measure(name, X, Y, k=1) == pytest.approx(0.25, abs=1e-15)
    # No stimulus returns: e.g. 0 -> 2 in Y, whose nearest in X is 1.
    assert repalign.measure("cycle_knn", X, Y, k=1) == 0.0
    assert repalign.measure("cycle_knn", Y, X, k=1) == 0.0


def test_rank_similarity_of_swapped_ranks():
    # Y swaps the angles of stimuli 1 and 2: every stimulus keeps its two neighbours
    # (X lists [1, 2], [0, 2], [1, 0], [2, 1]; Y lists [2, 1], [2, 0], [0, 1], [1, 2])
    # in swapped order: two shared neighbours of ranks (1, 2) and (2, 1), each weighing
    # 2 / ((1 + 1) (1 + 2)) = 1/3, normalised by H_2 = 3/2: 4/9.
    X, Y = on_arc([0, 0.1, 0.3, 0.7]), on_arc([0, 0.3, 0.1, 0.7])
    assert repalign.measure("rank_similarity", X, Y, k=2) == pytest.approx(4 / 9, abs=1e-15)
    assert repalign.measure("mutual_knn", X, Y, k=2) == 1.0
    assert repalign.measure("rank_similarity", X, X, k=2) == 1.0


def test_cycle_knn_of_a_representation_with_itself_can_be_below_one():
    # Angles 0, .1, .3: the nearest neighbour of 2 is 1, whose nearest is 0.
    X = on_arc([0, 0.1, 0.3])
    assert repalign.measure("cycle_knn", X, X, k=1) == pytest.approx(2 / 3, abs=1e-15)
    assert repalign.measure("mutual_knn", X, X, k=1) == 1.0


# ----------------------------------------------------------------------------- bad input
def test_rejects_zero_rows_naming_them():
    X, Y = correlated_pair()
    X = X.copy()
    X[[3, 17]] = 0
    with pytest.raises(ValueError, match=r"^X has 2 stimulus row\(s\) of zero norm \(rows 3, 17\)"):
        repalign.measure("mutual_knn", X, Y)


def test_rejects_all_stimuli_in_one_direction():
    _, Y = correlated_pair()
    ray = np.outer(np.arange(1, 41), [1.0, 2.0, -1.0])
    with pytest.raises(ValueError, match=r"^X: all stimuli point in the same direction"):
        repalign.measure("jaccard_knn", ray, Y)


@pytest.mark.parametrize("name", NAMES)
def test_needs_k_plus_two_stimuli(name):
    X, Y = correlated_pair(n=12)
    m = repalign.get(name, k=10)
    assert m.min_stimuli == 12
    assert np.isfinite(m(X, Y))
    with pytest.raises(ValueError, match=r"X has 11 stimuli .* at least 12"):
        m(X[:11], Y[:11])


@pytest.mark.parametrize("name", NAMES)
def test_rejects_bad_k(name):
    with pytest.raises(ValueError, match=rf"{name}: k=0 is not in"):
        repalign.get(name, k=0)
    with pytest.raises(TypeError, match=r"k must be an integer"):
        repalign.get(name, k=2.5)


def test_cknna_needs_k_of_at_least_two():
    with pytest.raises(ValueError, match=r"cknna: k=1 is not in \[2, inf\)"):
        repalign.get("cknna", k=1)


def test_cknna_rejects_a_non_positive_self_hsic():
    X = np.array([[2.0, -1], [-1, 3], [-1, 0], [-2, -3]])
    K, M = similarities(X), mask(X, 2)
    assert hsic_unbiased(K * M, K * M) < 0
    with pytest.raises(ValueError, match=r"^X: the unbiased HSIC of its 2-nearest-neighbour "
                                         r"kernel with itself is -0\.012"):
        repalign.get("cknna", k=2).prepare(X)


def test_second_order_cosine_counts_a_stimulus_orthogonal_to_its_neighbours_as_zero():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.zeros(20), np.abs(rng.standard_normal((20, 2)))])
    X[0] = [1.0, 0, 0]  # orthogonal to every other stimulus: its X vector is 0
    Y = X + 0.1 * np.abs(rng.standard_normal(X.shape))
    with pytest.warns(repalign.DegenerateWarning, match=r"1 stimuli are orthogonal"):
        got = repalign.measure("second_order_cosine", X, Y, k=3)
    with np.errstate(invalid="ignore"):
        terms = second_order_terms(X, Y, 3)
    assert np.isnan(terms[0])
    assert got == pytest.approx(np.sum(terms[1:]) / 20, abs=1e-12)


def test_neighbour_lists_are_integer_indices():
    X = np.random.default_rng(0).standard_normal((50, 3)).astype(np.float32)
    idx = repalign.get("mutual_knn").prepare(X).data["neighbors"]
    assert np.issubdtype(idx.dtype, np.integer) and idx.shape == (50, 10)


@pytest.mark.parametrize("k", [1, 4, 57])
@pytest.mark.parametrize("entries", [1, 7 * 59, 10**6])
def test_neighbour_lists_do_not_depend_on_the_row_blocks(monkeypatch, k, entries):
    """Blocks of 1 row, of 7 rows (the last one short) and one block for all rows."""
    from repalign.measures import _kernels

    S, stable = tied_similarities()
    monkeypatch.setattr(_kernels, "_BLOCK_ENTRIES", entries)
    np.testing.assert_array_equal(nearest_others(S, k, anp), stable[:, :k])
    rng = np.random.default_rng(k)
    C = cosine_similarities(rng.standard_normal((59, 5)), anp)  # no ties: the fast path
    expected = np.argsort(3 * np.eye(59) - C, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(nearest_others(C, k, anp), expected)
