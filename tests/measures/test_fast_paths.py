"""The NumPy fast paths of the shared building blocks against independent references."""

import array_api_compat.numpy as xp
import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist
from scipy.stats import rankdata

from repalign.measures._kernels import (
    double_center,
    median_above_diagonal,
    squared_distances,
    u_center,
    upper_triangle,
)
from repalign.measures._rdm import average_ranks

rng = np.random.default_rng(0)

RANK_CASES = {
    "continuous": rng.random(1000),
    "few values": rng.integers(0, 5, 1000).astype(float),
    "signed zeros": np.array([-0.0, 0.0, 1, -1, -2.5, 3, 3, -0.0]),
    "tiny": rng.standard_normal(10_000) * 1e-300,
    # Keys spanning more than 64 - 11 bits: packed with a shift, bins re-sorted by value.
    "huge range": np.concatenate([rng.standard_normal(1000), [1e300, -1e300, 5e-324, -5e-324]]),
    "neighbouring floats": np.concatenate(
        [1 + np.arange(200) * 2.2e-16, [1e300, -1e300]])[rng.permutation(202)],
    "tied neighbouring floats": np.concatenate(
        [1 + rng.integers(0, 50, 2000) * 2.2e-16, [1e300, -1e300]]),
    "float32": rng.random(1000).astype(np.float32),
    "float32 ties": rng.integers(0, 7, 500).astype(np.float32),
    "two equal": np.array([1.0, 1.0]),
    "one": np.array([2.0]),
}


@pytest.mark.parametrize("v", RANK_CASES.values(), ids=RANK_CASES.keys())
def test_average_ranks_equal_scipys_rankdata(v):
    r = average_ranks(v, xp)
    assert r.dtype == v.dtype
    np.testing.assert_array_equal(r, rankdata(v).astype(v.dtype))


def test_average_ranks_leave_the_input_unchanged():
    v = rng.random(100)
    before = v.copy()
    average_ranks(v, xp)
    np.testing.assert_array_equal(v, before)


def test_upper_triangle_is_scipys_condensed_order():
    X = rng.standard_normal((30, 4))
    np.testing.assert_array_equal(upper_triangle(cdist(X, X), xp), pdist(X))


def test_squared_distances_match_scipy():
    X = rng.standard_normal((40, 6)) + 3
    np.testing.assert_allclose(squared_distances(X, xp), cdist(X, X, "sqeuclidean"),
                               atol=1e-12)


def test_double_center_is_h_k_h():
    K = rng.standard_normal((20, 20))
    H = np.eye(20) - 1 / 20
    np.testing.assert_allclose(double_center(K.copy(), xp), H @ K @ H, atol=1e-13)


def test_u_center_matches_its_formula():
    n = 12
    A = rng.standard_normal((n, n))
    K = A + A.T
    K0 = K - np.diag(np.diag(K))
    r = K0.sum(axis=1)
    expected = K0 - (r[:, None] + r[None, :]) / (n - 2) + r.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(u_center(K.copy(), xp), expected, atol=1e-13)


def _svd_basis(X):
    Xc = X - X.mean(axis=0)
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    r = int(np.sum(S > S[0] * max(Xc.shape) * np.finfo(float).eps))
    return U[:, :r], S[:r, None] * Vt[:r]


@pytest.mark.parametrize("rank_deficient", [False, True])
def test_cca_and_pwcca_by_qr_equal_the_svd_basis(rank_deficient):
    import repalign

    X = rng.standard_normal((80, 6))
    Y = X @ rng.standard_normal((6, 5)) + rng.standard_normal((80, 5))
    if rank_deficient:  # a repeated feature: the QR basis is refused, the SVD one kept
        X = np.column_stack([X, X[:, :1]])
    (Ux, Lx), (Uy, _) = _svd_basis(X), _svd_basis(Y)
    A, rho, _ = np.linalg.svd(Ux.T @ Uy, full_matrices=False)
    assert repalign.get("cca").prepare(X).data["basis"].shape[1] == 6
    assert repalign.measure("cca", X, Y) == pytest.approx(rho.mean(), rel=1e-13)
    weights = np.abs(A.T @ Lx).sum(axis=1)
    assert repalign.measure("pwcca", X, Y) == pytest.approx(
        (weights * rho).sum() / weights.sum(), rel=1e-13)


@pytest.mark.parametrize("ties", [False, True])
def test_nearest_others_equal_a_stable_sort_of_each_row(ties):
    from repalign.measures.neighbors import nearest_others

    n, k = 60, 7
    S = rng.standard_normal((n, n))
    if ties:  # few distinct values: ties straddle the k-th place
        S = np.round(S)
    S = (S + S.T) / 2
    expected = []
    for i in range(n):
        order = np.argsort(-S[i], kind="stable")
        expected.append([j for j in order if j != i][:k])
    np.testing.assert_array_equal(nearest_others(S, k, xp), np.array(expected))


@pytest.mark.parametrize("cond", [1e2, 1e10, 1e15, np.inf])
def test_full_rank_certificate_agrees_with_the_singular_values(cond):
    from repalign.measures.cca import _full_rank

    n, d = 500, 30
    U, _ = np.linalg.qr(rng.standard_normal((d, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.logspace(0, -np.log10(cond), d) if np.isfinite(cond) else np.r_[np.ones(d - 1), 0]
    R = np.linalg.qr((U * s) @ V.T, mode="r")
    S = np.linalg.svd(R, compute_uv=False)
    assert _full_rank(R, n, xp) == bool(S[-1] > S[0] * n * np.finfo(float).eps)


@pytest.fixture(params=[None, 7 * 801], ids=["default blocks", "blocks of 7 rows"])
def block_entries(request, monkeypatch):
    from repalign.measures import _kernels

    if request.param is not None:
        monkeypatch.setattr(_kernels, "_BLOCK_ENTRIES", request.param)
    return request.param


@pytest.mark.parametrize("n", [800, 801])  # 319600 and 320400 entries above the diagonal
@pytest.mark.parametrize("layout", ["random", "high-dimensional", "sorted", "two clusters",
                                    "few values", "missed bracket"])
def test_median_above_the_diagonal_equals_numpys_without_touching_the_matrix(
        block_entries, monkeypatch, n, layout):
    from repalign.measures import _kernels

    # High-dimensional Gaussian distances: each row has its own offset (||x_i||^2), so a
    # sample of whole rows would mis-estimate the quantiles; a uniform sample does not.
    X = rng.standard_normal((n, 2000 if layout == "high-dimensional" else 3))
    if layout == "sorted":  # stimuli in the order of their distance from the origin
        X = X[np.argsort(np.linalg.norm(X, axis=1))]
    elif layout == "two clusters":
        # Alternate stimuli far apart: half the pairs are near, half far, and a sample
        # of every other row at every other column would see only far pairs.
        X[1::2] += 1000
    values = pdist(X)
    M = cdist(X, X)
    if layout == "few values":
        M, values = np.round(M), np.round(values)
    elif layout == "missed bracket":  # a sample far from the median: the exact fallback
        monkeypatch.setattr(_kernels, "_upper_sample", lambda M: np.full(70_000, 1e9))
    calls = []
    copy_out = _kernels.upper_triangle
    monkeypatch.setattr(_kernels, "upper_triangle", lambda *a: calls.append(1) or copy_out(*a))
    M[np.tril_indices(n, -1)] = -1.0  # below the diagonal: never counted
    before = M.copy()
    assert median_above_diagonal(M, xp) == np.median(values)
    assert median_above_diagonal(M, xp, transform=np.sqrt) == pytest.approx(
        np.median(np.sqrt(values)), rel=1e-15, abs=0)
    np.testing.assert_array_equal(M, before)
    assert bool(calls) == (layout == "missed bracket")  # the triangle copied only then


@pytest.mark.parametrize("n", [2, 3, 4, 5, 9])  # 1, 3, 6, 10, 36 entries: odd and even
def test_median_above_the_diagonal_of_a_small_matrix(n):
    M = rng.random((n, n))
    expected = np.median(M[np.triu_indices(n, 1)])
    assert median_above_diagonal(M, xp) == expected
    assert median_above_diagonal(M, xp, transform=np.sqrt) == pytest.approx(
        np.median(np.sqrt(M[np.triu_indices(n, 1)])), rel=1e-15, abs=0)


def test_blocked_distances_and_centrings_equal_their_formulas(block_entries):
    n = 801
    X = rng.standard_normal((n, 5)) + 3
    D = squared_distances(X, xp)
    np.testing.assert_allclose(D, cdist(X, X, "sqeuclidean"), atol=1e-12)
    assert np.all(np.diag(D) == 0)
    H = np.eye(n) - 1 / n
    K = np.exp(-D / 10)
    np.testing.assert_allclose(double_center(K.copy(), xp), H @ K @ H, atol=1e-13)
    K0 = K - np.diag(np.diag(K))
    r = K0.sum(axis=1)
    expected = K0 - (r[:, None] + r[None, :]) / (n - 2) + r.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(u_center(K.copy(), xp), expected, atol=1e-13)
