"""ENSD (Giaffar et al. 2023) against the paper's trace formula on explicit Gram matrices."""

import numpy as np
import pytest

import repalign
from repalign.testing import check_measure


def traces_formula(X, Y):
    """tr K tr L tr(KL) / (tr K^2 tr L^2) with the n x n centred Grams (the paper's form)."""
    H = np.eye(len(X)) - 1 / len(X)
    K, L = H @ X @ X.T @ H, H @ Y @ Y.T @ H
    return np.trace(K) * np.trace(L) * np.trace(K @ L) / (np.trace(K @ K) * np.trace(L @ L))


def participation_ratio(X):
    eigenvalues = np.linalg.eigvalsh(np.cov(X, rowvar=False))
    return eigenvalues.sum() ** 2 / (eigenvalues ** 2).sum()


@pytest.mark.parametrize("n, dx, dy", [(50, 5, 7), (30, 40, 8), (25, 60, 70)])
def test_equals_the_trace_formula_on_explicit_grams(n, dx, dy):
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, dx))
    Y = np.tanh(X @ rng.standard_normal((dx, dy))) + 0.3 * rng.standard_normal((n, dy))
    assert repalign.measure("ensd", X, Y) == pytest.approx(traces_formula(X, Y), rel=1e-12)


def test_with_itself_it_is_the_participation_ratio():
    X = np.random.default_rng(1).standard_normal((80, 6)) * [3, 2, 1, 1, 0.5, 0.1]
    assert repalign.measure("ensd", X, X) == pytest.approx(participation_ratio(X), rel=1e-12)


def test_counts_the_shared_dimensions_of_even_spectra():
    """Two isotropic 3-d representations sharing exactly 2 orthogonal directions: ENSD = 2."""
    rng = np.random.default_rng(2)
    Z, _ = np.linalg.qr(rng.standard_normal((300, 4)))  # 4 orthonormal stimulus patterns
    Z = Z - Z.mean(axis=0)
    Z, _ = np.linalg.qr(Z)  # centred and orthonormal
    X = Z[:, :3] @ np.linalg.qr(rng.standard_normal((3, 3)))[0]
    Y = 5 * Z[:, 1:4]
    assert repalign.measure("ensd", X, Y) == pytest.approx(2.0, rel=1e-10)


def test_is_cka_scaled_by_the_participation_ratios():
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((60, 5)), rng.standard_normal((60, 9))
    expected = repalign.measure("cka", X, Y) * np.sqrt(participation_ratio(X)
                                                       * participation_ratio(Y))
    assert repalign.measure("ensd", X, Y) == pytest.approx(expected, rel=1e-12)


def test_keeps_every_promise_of_the_contract():
    check_measure(repalign.get("ensd"))
    assert repalign.get("ensd").identity is None
