"""RSA and compare_rdms against SciPy's distances and correlations."""

import itertools

import array_api_compat
import numpy as np
import pytest
from scipy.spatial.distance import cosine as cosine_distance
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, rankdata, spearmanr

import repalign
from repalign.measures._rdm import average_ranks, condensed_rdm

from ..conftest import BACKENDS, correlated_pair, to_backend, tolerance


def kendall_tau_a_brute_force(a, b):
    """(concordant - discordant) / (m (m - 1) / 2), counting every pair of entries."""
    s = 0.0
    for i, j in itertools.combinations(range(len(a)), 2):
        s += np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
    return s / (len(a) * (len(a) - 1) / 2)


@pytest.mark.parametrize("metric", ["correlation", "euclidean", "sqeuclidean", "cosine"])
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: "-".join(b))
def test_condensed_rdm_matches_scipy_pdist(metric, backend):
    X, _ = correlated_pair(n=25, dx=6)
    Xb = to_backend(X, backend)
    xp = array_api_compat.array_namespace(Xb)
    got = repalign._array_api.to_numpy(condensed_rdm(Xb, metric, xp))
    np.testing.assert_allclose(got, pdist(X, metric), rtol=0,
                               atol=1e3 * tolerance(backend) * pdist(X, metric).max())


@pytest.mark.parametrize("metric", ["correlation", "euclidean", "sqeuclidean", "cosine"])
def test_pearson_and_spearman_match_scipy(metric):
    X, Y = correlated_pair(n=30)
    a, b = pdist(X, metric), pdist(Y, metric)
    assert repalign.measure("rsa", X, Y, rdm=metric, compare="pearson") == pytest.approx(
        pearsonr(a, b)[0], abs=1e-12)
    assert repalign.measure("rsa", X, Y, rdm=metric, compare="spearman") == pytest.approx(
        spearmanr(a, b)[0], abs=1e-12)
    assert repalign.measure("rsa", X, Y, rdm=metric, compare="cosine") == pytest.approx(
        1 - cosine_distance(a, b), abs=1e-12)


def test_kendall_tau_a_counts_pairs_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=45).astype(float)  # a model RDM with many ties
    b = rng.standard_normal(45)
    b[:10] = b[10:20]  # and some ties in the data RDM too
    got = repalign.compare_rdms(a, b, method="kendall_tau_a")
    assert got == pytest.approx(kendall_tau_a_brute_force(a, b), abs=1e-12)


def test_rho_a_is_spearman_without_tie_correction():
    X, Y = correlated_pair(n=20)
    a, b = pdist(X), pdist(Y)
    m = len(a)
    d = rankdata(a) - rankdata(b)
    expected = 1 - 6 * np.sum(d**2) / (m**3 - m)  # the classical formula, no ties
    assert repalign.measure("rsa", X, Y, rdm="euclidean", compare="rho_a") == pytest.approx(
        expected, abs=1e-12)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: "-".join(b))
def test_average_ranks_match_scipy_rankdata(backend):
    v = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0])
    vb = to_backend(v, backend)
    xp = array_api_compat.array_namespace(vb)
    got = repalign._array_api.to_numpy(average_ranks(vb, xp))
    np.testing.assert_array_equal(got, rankdata(v))


def test_compare_rdms_square_and_condensed_agree():
    X, Y = correlated_pair(n=15)
    a, b = pdist(X), pdist(Y, "correlation")
    for method in ("spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"):
        condensed = repalign.compare_rdms(a, b, method=method)
        assert repalign.compare_rdms(squareform(a), squareform(b), method=method) == condensed
        assert repalign.compare_rdms(squareform(a), b, method=method) == condensed


def test_compare_rdms_equals_rsa_on_the_same_rdms():
    X, Y = correlated_pair(n=15)
    for method in ("spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"):
        assert repalign.compare_rdms(pdist(X, "correlation"), pdist(Y, "correlation"),
                                     method=method) == pytest.approx(
            repalign.measure("rsa", X, Y, compare=method), abs=1e-12)


def test_compare_rdms_works_on_torch():
    torch = pytest.importorskip("torch")
    X, Y = correlated_pair(n=15)
    a, b = pdist(X), pdist(Y)
    assert repalign.compare_rdms(torch.as_tensor(a), torch.as_tensor(b)) == pytest.approx(
        repalign.compare_rdms(a, b), abs=1e-12)


@pytest.mark.parametrize("D1, D2, error, match", [
    (np.ones((4, 5)), np.ones(6), ValueError, r"D1 must be a square \(n, n\) RDM or a condensed"),
    (np.arange(16.0).reshape(4, 4), np.ones(6), ValueError, r"D1 is square but not symmetric"),
    (np.arange(7.0), np.arange(6.0), ValueError, r"D1 is 1-D of length 7, which is not n\(n-1\)/2"),
    (np.ones((2, 2, 2)), np.ones(6), ValueError, r"D1 must be a square .* got a 3-D array"),
    (np.arange(6.0), np.arange(10.0), ValueError, r"D1 is an RDM of 4 stimuli but D2 of 5"),
    (np.array([1.0]), np.array([2.0]), ValueError, r"D1 is an RDM of 2 stimuli; comparing RDMs needs at least 3"),
    (np.array([1.0, np.nan, 2.0]), np.arange(3.0), ValueError, r"D1 must be finite; got 1 NaN"),
    (np.ones(6), np.arange(6.0), ValueError, r"D1: the RDM is constant"),
    (np.arange(6.0), np.zeros(6), ValueError, r"D2: the RDM is constant"),
    (np.arange(6.0), ["a"] * 6, TypeError, r"D2 must hold real numbers"),
])
def test_compare_rdms_rejects_bad_input(D1, D2, error, match):
    with pytest.raises(error, match=match):
        repalign.compare_rdms(D1, D2)


def test_compare_rdms_rejects_unknown_method():
    with pytest.raises(ValueError, match=r"method='tau-a' is not valid; expected one of"):
        repalign.compare_rdms(np.arange(6.0), np.arange(6.0), method="tau-a")


def test_cosine_of_an_all_zero_rdm_is_undefined():
    with pytest.raises(ValueError, match=r"D1: the RDM is all zeros"):
        repalign.compare_rdms(np.zeros(6), np.arange(6.0), method="cosine")


def test_correlation_rdm_names_the_constant_stimulus():
    X, Y = correlated_pair(n=10)
    X[4] = 7.0
    with pytest.raises(ValueError, match=r"X: stimulus row\(s\) \[4\] are constant across features"):
        repalign.measure("rsa", X, Y)
    assert np.isfinite(repalign.measure("rsa", X, Y, rdm="euclidean"))
