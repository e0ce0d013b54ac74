"""CCA, SVCCA and PWCCA against the classical covariance-matrix formulas."""

import warnings

import numpy as np
import pytest
from scipy.linalg import eigh
from sklearn.decomposition import PCA

import repalign

from ..conftest import correlated_pair


def inv_sqrt(C):
    w, V = eigh(C)
    return V @ np.diag(w ** -0.5) @ V.T


def classical_cca(X, Y):
    """Hotelling: rho_i = singular values of Cxx^{-1/2} Cxy Cyy^{-1/2}; also X's variates."""
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Cxx, Cyy, Cxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc
    M = inv_sqrt(Cxx) @ Cxy @ inv_sqrt(Cyy)
    U, rho, _ = np.linalg.svd(M, full_matrices=False)
    variates = Xc @ inv_sqrt(Cxx) @ U  # unit-norm canonical variates of X, one per column
    return rho, variates, Xc


def test_cca_matches_hotelling():
    X, Y = correlated_pair(n=60, dx=4, dy=6, seed=3)
    rho, _, _ = classical_cca(X, Y)
    assert repalign.measure("cca", X, Y) == pytest.approx(rho.mean(), abs=1e-10)
    assert repalign.measure("cca", X, Y, statistic="mean_r2") == pytest.approx(
        (rho**2).mean(), abs=1e-10)


def test_cca_of_an_invertible_linear_map_is_one():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 5))
    Y = X @ rng.standard_normal((5, 5)) + 4.0
    assert repalign.measure("cca", X, Y) == pytest.approx(1.0, abs=1e-12)


def test_redundant_features_are_dropped_not_fatal():
    X, Y = correlated_pair(n=50, dx=4, dy=5)
    X_dup = np.column_stack([X, X[:, 0] * 2 - X[:, 1], np.full(50, 3.0)])
    assert repalign.measure("cca", X_dup, Y) == pytest.approx(
        repalign.measure("cca", X, Y), abs=1e-10)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_svcca_dims_is_cca_on_pca_scores(k):
    X, Y = correlated_pair(n=80, dx=8, dy=10, seed=1)
    Xp = PCA(n_components=k).fit_transform(X)
    Yp = PCA(n_components=k).fit_transform(Y)
    rho, _, _ = classical_cca(Xp, Yp)
    assert repalign.measure("svcca", X, Y, dims=k) == pytest.approx(rho.mean(), abs=1e-10)


def test_svcca_variance_keeps_the_components_sklearn_pca_keeps():
    X, Y = correlated_pair(n=80, dx=8, dy=10, seed=1, noise=0.1)
    Xp = PCA(n_components=0.9, svd_solver="full").fit_transform(X)
    Yp = PCA(n_components=0.9, svd_solver="full").fit_transform(Y)
    rho, _, _ = classical_cca(Xp, Yp)
    assert repalign.measure("svcca", X, Y, variance=0.9) == pytest.approx(rho.mean(), abs=1e-10)


def test_pwcca_matches_morcos_recipe():
    X, Y = correlated_pair(n=100, dx=4, dy=7, seed=5)
    rho, h, Xc = classical_cca(X, Y)
    alpha = np.abs(h.T @ Xc).sum(axis=1)  # sum_j |<h_i, x_j>|
    expected = np.sum(alpha * rho) / np.sum(alpha)
    assert repalign.measure("pwcca", X, Y) == pytest.approx(expected, abs=1e-10)


def test_pwcca_handles_wider_x_than_y():
    X, Y = correlated_pair(n=100, dx=7, dy=3, seed=5)
    value = repalign.measure("pwcca", X, Y)
    assert 0 < value <= 1
    rho_yx, h, Yc = classical_cca(Y, X)  # same correlations; X's variates from the swap
    Xc = X - X.mean(0)
    Cxx = Xc.T @ Xc
    Cxy = Xc.T @ Yc
    M = inv_sqrt(Cxx) @ Cxy @ inv_sqrt(Yc.T @ Yc)
    U, rho, _ = np.linalg.svd(M, full_matrices=False)
    hx = Xc @ inv_sqrt(Cxx) @ U
    alpha = np.abs(hx.T @ Xc).sum(axis=1)
    assert value == pytest.approx(np.sum(alpha * rho) / np.sum(alpha), abs=1e-10)
    np.testing.assert_allclose(np.sort(rho), np.sort(rho_yx), atol=1e-10)


@pytest.mark.parametrize("name, params", [("cca", {}), ("svcca", {"dims": 12}), ("pwcca", {}),
                                          ("shape_metric", {"alpha": 0.0})])
def test_warns_when_correlations_are_forced_to_one(name, params):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 12)), rng.standard_normal((20, 12))
    with pytest.warns(repalign.DegenerateWarning,
                      match=r"20 stimuli and 12 \+ 12 dimensions, 5 canonical correlation\(s\) are 1"):
        repalign.measure(name, X, Y, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repalign.measure(name, X[:, :9], Y[:, :10], **params)  # 9 + 10 = n - 1: none forced


def test_forced_warning_matches_the_numbers():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 12)), rng.standard_normal((20, 12))
    rho = np.linalg.svd(np.linalg.qr(X - X.mean(0))[0].T @ np.linalg.qr(Y - Y.mean(0))[0],
                        compute_uv=False)
    assert np.sum(rho > 1 - 1e-9) == 5
