"""CKA against Gretton's and Song's HSIC estimators written out on n x n Grams."""

import warnings

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr

import repalign

from ..conftest import correlated_pair


def hsic_biased(K, L):
    """Gretton et al. (2005): tr(K H L H) / (n - 1)^2 with an explicit centring matrix."""
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    return np.trace(K @ H @ L @ H) / (n - 1) ** 2


def hsic_unbiased(K, L):
    """Song et al. (2012), Eq. 5, on uncentred Grams with zeroed diagonals."""
    n = K.shape[0]
    Kt, Lt = K - np.diag(np.diag(K)), L - np.diag(np.diag(L))
    one = np.ones(n)
    return (np.trace(Kt @ Lt) + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * (one @ Kt @ Lt @ one)) / (n * (n - 3))


def gram(X, kernel, sigma_frac=0.8):
    if kernel == "linear":
        return X @ X.T
    d = pdist(X)
    sigma = sigma_frac * np.median(d)
    return np.exp(-squareform(d) ** 2 / (2 * sigma**2))


def cka_reference(X, Y, kernel, estimator, sigma_frac=0.8):
    hsic = hsic_unbiased if estimator == "unbiased" else hsic_biased
    K, L = gram(X, kernel, sigma_frac), gram(Y, kernel, sigma_frac)
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


# (n, dx, dy): features < stimuli (feature path), both >= (Gram path), mixed.
SHAPES = [(40, 5, 7), (20, 30, 25), (20, 5, 30)]


@pytest.mark.parametrize("n, dx, dy", SHAPES)
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
def test_matches_hsic_written_on_grams(n, dx, dy, kernel, estimator):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=n + dx)
    X = X + 3.0  # uncentred inputs: centring is the measure's job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        got = repalign.measure("cka", X, Y, kernel=kernel, estimator=estimator)
    assert got == pytest.approx(cka_reference(X, Y, kernel, estimator), abs=1e-10)


def test_rbf_width_follows_sigma_frac():
    X, Y = correlated_pair(seed=4)
    for frac in (0.2, 0.5, 1.5):
        got = repalign.measure("cka", X, Y, kernel="rbf", sigma_frac=frac)
        assert got == pytest.approx(cka_reference(X, Y, "rbf", "biased", frac), abs=1e-10)


def test_one_feature_linear_cka_is_squared_correlation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 1))
    y = 0.5 * x + rng.standard_normal((50, 1))
    assert repalign.measure("cka", x, y) == pytest.approx(pearsonr(x[:, 0], y[:, 0])[0] ** 2,
                                                           abs=1e-12)


def test_unbiased_estimator_removes_the_high_dimensional_bias():
    rng = np.random.default_rng(0)
    biased, unbiased = [], []
    for _ in range(20):
        X, Y = rng.standard_normal((30, 100)), rng.standard_normal((30, 100))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", repalign.DegenerateWarning)
            biased.append(repalign.measure("cka", X, Y))
        unbiased.append(repalign.measure("cka", X, Y, estimator="unbiased"))
    assert np.mean(biased) > 0.7  # unrelated, yet "aligned"
    assert abs(np.mean(unbiased)) < 0.02


def test_warns_when_biased_and_features_outnumber_stimuli():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 25)), rng.standard_normal((20, 30))
    with pytest.warns(repalign.DegenerateWarning, match=r"features \(25, 30\) as stimuli \(20\)"):
        repalign.measure("cka", X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repalign.measure("cka", X, Y, estimator="unbiased")
        repalign.measure("cka", X[:, :5], Y)


def test_linear_feature_path_never_forms_an_n_by_n_matrix():
    X = np.random.default_rng(0).standard_normal((3000, 4))
    state = repalign.get("cka").prepare(X)
    assert max(arr.size for arr in state.arrays()) == 3000 * 4


def test_unbiased_needs_four_stimuli():
    X, Y = correlated_pair(n=3)
    with pytest.raises(ValueError, match=r"X has 3 stimuli .* at least 4"):
        repalign.measure("cka", X, Y, estimator="unbiased")
    with pytest.warns(repalign.DegenerateWarning):
        assert 0 <= repalign.measure("cka", X, Y) <= 1


def test_rbf_rejects_mostly_duplicate_stimuli():
    X = np.zeros((10, 3))
    X[0, 0] = 1.0
    with pytest.raises(ValueError, match=r"median distance between stimuli is 0"):
        repalign.measure("cka", X, np.arange(30.0).reshape(10, 3), kernel="rbf")


def test_float32_relative_error_is_within_1e_5():
    X, Y = correlated_pair(n=500, dx=30, dy=40, seed=2)
    exact = repalign.measure("cka", X, Y)
    single = repalign.measure("cka", X.astype(np.float32), Y.astype(np.float32))
    assert abs(single - exact) / exact <= 1e-5
