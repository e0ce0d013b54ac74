"""Shape metrics and the Bures family against SciPy's Procrustes and matrix square roots."""

import numpy as np
import pytest
from scipy.linalg import eigh, orthogonal_procrustes

import repalign

from ..conftest import correlated_pair


def pad(A, d):
    return np.column_stack([A, np.zeros((A.shape[0], d - A.shape[1]))])


def procrustes_reference(X, Y):
    """Centre, scale to unit norm, zero-pad, rotate Y onto X with SciPy, take the angle."""
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Xc, Yc = Xc / np.linalg.norm(Xc), Yc / np.linalg.norm(Yc)
    d = max(X.shape[1], Y.shape[1])
    Xp, Yp = pad(Xc, d), pad(Yc, d)
    R, _ = orthogonal_procrustes(Yp, Xp)
    return np.arccos(np.clip(np.sum(Xp * (Yp @ R)), -1, 1))


def psd_sqrt(K):
    w, V = eigh(K)
    return V @ np.diag(np.sqrt(np.clip(w, 0, None))) @ V.T


def fidelity(K, L):
    """tr((K^1/2 L K^1/2)^1/2), from eigendecompositions of n x n Grams."""
    Ks = psd_sqrt(K)
    return np.trace(psd_sqrt(Ks @ L @ Ks))


def grams(X, Y):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    return Xc @ Xc.T, Yc @ Yc.T


def netrep_style_whitened(X, alpha):
    """Partial whitening with an explicit d x d matrix from eigh (netrep's definition)."""
    Xc = X - X.mean(0)
    lam, V = eigh(Xc.T @ Xc)
    d = alpha + (1 - alpha) * lam ** -0.5
    new_var = np.sum(alpha**2 * lam + 2 * alpha * (1 - alpha) * lam**0.5 + (1 - alpha) ** 2)
    d *= np.sqrt(lam.sum() / new_var)
    return Xc @ (V * d) @ V.T


@pytest.mark.parametrize("n, dx, dy", [(40, 5, 5), (40, 4, 9), (15, 30, 20)])
def test_procrustes_matches_scipy_orthogonal_procrustes(n, dx, dy):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=dx)
    assert repalign.measure("procrustes", X, Y) == pytest.approx(procrustes_reference(X, Y),
                                                                 abs=1e-10)


@pytest.mark.parametrize("n, dx, dy", [(15, 4, 6), (12, 20, 3)])
def test_nbs_and_bures_match_fidelity_of_grams(n, dx, dy):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=7)
    K, L = grams(X, Y)
    F = fidelity(K, L)
    assert repalign.measure("nbs", X, Y) == pytest.approx(F / np.sqrt(np.trace(K) * np.trace(L)),
                                                          abs=1e-7)
    assert repalign.measure("bures", X, Y) == pytest.approx(
        np.sqrt(np.trace(K) + np.trace(L) - 2 * F), abs=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("distance", ["angular", "euclidean"])
def test_shape_metric_matches_explicit_whitening_and_rotation(alpha, distance):
    X, Y = correlated_pair(n=50, dx=5, dy=5, seed=11)
    Xw, Yw = netrep_style_whitened(X, alpha), netrep_style_whitened(Y, alpha)
    R, _ = orthogonal_procrustes(Yw, Xw)
    if distance == "angular":
        expected = np.arccos(np.sum(Xw * (Yw @ R)) / (np.linalg.norm(Xw) * np.linalg.norm(Yw)))
    else:
        expected = np.linalg.norm(Xw - Yw @ R)
    got = repalign.measure("shape_metric", X, Y, alpha=alpha, distance=distance)
    assert got == pytest.approx(expected, abs=1e-9)


def test_identities_between_the_family_members():
    X, Y = correlated_pair(n=60, dx=6, dy=6, seed=2)
    procrustes = repalign.measure("procrustes", X, Y)
    assert repalign.measure("shape_metric", X, Y, alpha=1.0) == pytest.approx(procrustes, abs=1e-12)
    assert np.arccos(repalign.measure("nbs", X, Y)) == pytest.approx(procrustes, abs=1e-12)
    assert repalign.measure("bures", X, Y) == pytest.approx(
        repalign.measure("shape_metric", X, Y, alpha=1.0, distance="euclidean"), abs=1e-12)
    # alpha = 0 whitens fully: the angle is arccos of the mean canonical correlation.
    assert repalign.measure("shape_metric", X, Y, alpha=0.0) == pytest.approx(
        np.arccos(repalign.measure("cca", X, Y)), abs=1e-10)


def test_alpha_zero_with_unequal_widths_is_arccos_of_sum_over_sqrt_widths():
    X, Y = correlated_pair(n=60, dx=3, dy=7, seed=2)
    rho_sum = 3 * repalign.measure("cca", X, Y)
    assert repalign.measure("shape_metric", X, Y, alpha=0.0) == pytest.approx(
        np.arccos(rho_sum / np.sqrt(3 * 7)), abs=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("distance", ["angular", "euclidean"])
def test_triangle_inequality(alpha, distance):
    m = repalign.get("shape_metric", alpha=alpha, distance=distance)
    rng = np.random.default_rng(0)
    for _ in range(30):
        base = rng.standard_normal((25, 4))
        A, B, C = (np.tanh(base @ rng.standard_normal((4, 4))) + rng.standard_normal((25, 4))
                   for _ in range(3))
        assert m(A, C) <= m(A, B) + m(B, C) + 1e-9


def test_wide_representations_are_reduced_to_the_stimulus_space():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 500))
    state = repalign.get("procrustes").prepare(X)
    assert state.data["scores"].shape[1] <= 10
