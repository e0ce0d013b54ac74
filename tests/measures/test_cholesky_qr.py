"""The CCA family's CholeskyQR2 basis against exactly known column spaces.

The reference does not come from any QR: ``X = W T`` with ``W`` columns of the
1024 x 1024 Sylvester Hadamard matrix scaled by 1/32 (entries +-2^-5, exactly
orthonormal in float64) and ``T = D M``, ``D`` a diagonal of powers of two from
1 to ``2^-k`` and ``M`` the Sylvester Hadamard matrix of order 128 with rows and
columns permuted and signed at random (entries +-1, ``M / sqrt(128)``
orthogonal), so that ``cond(X) = 2^k`` exactly. Every partial sum of ``W T`` is
a multiple of ``2^(-5-k)`` below ``2^2`` in magnitude, and of a column sum below
``2^12``: for ``k <= 36`` the product is exact, the column space of ``X`` is
exactly that of ``W``, ``X`` is centred exactly (the Hadamard columns other
than the first sum to zero) and ``W^T X = T``. The canonical correlations with
a second space ``Q_y`` are then the singular values of ``W^T Q_y``, to rounding.

Both QRs (Householder and CholeskyQR2) are backward stable: the largest
principal angle between their column space and the true one is about
``eps cond(X)`` (observed 0.3 to 0.5 times that for both, ``span_tolerance``
allows 2), and canonical correlations against a generic second space move less
(observed below 1/100 of it, ``rho_tolerance`` allows 1/10).
Where CholeskyQR2 is refused, ``prepare`` must equal the former path (Householder
QR, then the SVD basis without full rank) bit for bit.
"""

import warnings

import array_api_compat.numpy as xp
import numpy as np
import pytest
import scipy.linalg

import repalign
from repalign.exceptions import DegenerateWarning
from repalign.measures import cca

EPS = np.finfo(np.float64).eps
RNG = np.random.default_rng(14)
N_STIMULI, D = 1024, 128
HADAMARD = scipy.linalg.hadamard(N_STIMULI) / 32.0
W = HADAMARD[:, 1 + RNG.choice(N_STIMULI - 1, D, replace=False)]  # zero-mean columns
Y = RNG.standard_normal((N_STIMULI, 40))
QY = scipy.linalg.qr(Y - Y.mean(axis=0), mode="economic")[0]
TRUE_RHO = np.linalg.svd(W.T @ QY, compute_uv=False)  # decreasing, as canonical_correlations


def exact_span(k: int):
    """``X = W T`` with ``cond(X) = cond(T) = 2^k``; exact for ``k <= 36`` (module docstring)."""
    signs = RNG.choice([-1.0, 1.0], (2, D))
    M = signs[0][:, None] * scipy.linalg.hadamard(D)[RNG.permutation(D)][:, RNG.permutation(D)]
    T = 2.0 ** -np.round(np.linspace(0, k, D))[:, None] * (M * signs[1])
    return W @ T, T


def span_tolerance(cond):
    return 1e-14 + 2 * EPS * cond


def rho_tolerance(cond):
    return 1e-14 + 0.1 * EPS * cond


#: log2 of cond(X) for condition numbers of 1 and about 1e4, 1e7, 1e10 and 1e13.
GRADES = {"cond 1": 0, "cond 1e4": 13, "cond 1e7": 23, "cond 1e10": 33, "cond 1e13": 43}
ACCEPTED = {"cond 1", "cond 1e4", "cond 1e7"}


@pytest.fixture
def calls(monkeypatch):
    """Whether each call of ``_cholesky_qr2`` returned factors (True) or refused (False)."""
    original, record = cca._cholesky_qr2, []

    def counting(A):
        out = original(A)
        record.append(out is not None)
        return out

    monkeypatch.setattr(cca, "_cholesky_qr2", counting)
    return record


def householder_prepare(measure, X, monkeypatch):
    """``measure.prepare(X)`` by the former path: CholeskyQR2 always refused."""
    with monkeypatch.context() as m:
        m.setattr(cca, "_cholesky_qr2", lambda A: None)
        return measure.prepare(X)


def rho_of(measure, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWarning)
        return np.asarray(cca.canonical_correlations(measure.prepare(X), measure.prepare(Y), xp))


def span_error(Q, U):
    """``sin`` of the largest principal angle between the spans of orthonormal Q and U."""
    return np.linalg.norm(Q - U @ (U.T @ Q), 2)


@pytest.mark.parametrize("grade", GRADES, ids=GRADES)
def test_canonical_correlations_equal_those_of_the_exact_span(grade, calls, monkeypatch):
    X, _ = exact_span(GRADES[grade])
    cond = 2.0 ** GRADES[grade]
    measure = repalign.get("cca")
    rho = rho_of(measure, X)
    assert calls[0] == (grade in ACCEPTED)  # the ill-conditioned ones are refused
    old = householder_prepare(measure, X, monkeypatch)
    if grade not in ACCEPTED:  # the former path, bit for bit
        new = measure.prepare(X)
        np.testing.assert_array_equal(new.data["basis"], old.data["basis"])
    if grade == "cond 1e13":  # beyond the rank tolerance n eps: the SVD basis drops directions
        assert old.data["basis"].shape[1] < D
        return
    tol = rho_tolerance(cond)
    np.testing.assert_allclose(rho, TRUE_RHO, rtol=0, atol=tol)
    old_rho = np.asarray(cca.canonical_correlations(old, measure.prepare(Y), xp))
    np.testing.assert_allclose(rho, old_rho, rtol=0, atol=tol)
    assert repalign.measure("cca", X, Y) == pytest.approx(TRUE_RHO.mean(), rel=0, abs=tol)


@pytest.mark.parametrize("grade", sorted(ACCEPTED), ids=sorted(ACCEPTED))
def test_factors_are_orthonormal_and_reproduce_x(grade):
    X, _ = exact_span(GRADES[grade])
    Q, R = cca._cholesky_qr2(X)
    assert np.abs(Q.T @ Q - np.eye(D)).max() < 1e-14
    assert np.linalg.norm(Q @ R - X) < 1e-13 * np.linalg.norm(X)
    assert np.array_equal(R, np.triu(R)) and np.all(np.diag(R) > 0)
    # Q^T X = R, the loadings PWCCA weights by.
    np.testing.assert_allclose(Q.T @ X, R, rtol=0, atol=1e-13 * np.abs(R).max())
    assert span_error(Q, W) < span_tolerance(2.0 ** GRADES[grade])


@pytest.mark.parametrize("extra", ["repeated sum of two columns", "constant column"])
def test_rank_deficient_columns_are_refused_and_the_svd_basis_kept(extra, calls, monkeypatch):
    X, _ = exact_span(0)
    column = X[:, :1] + X[:, 1:2] if extra.startswith("repeated") else np.full((N_STIMULI, 1), 3.0)
    X = np.hstack([X, column])  # the same column space, exactly, once centred
    measure = repalign.get("pwcca")
    new = measure.prepare(X)
    assert calls == [False]
    old = householder_prepare(measure, X, monkeypatch)
    np.testing.assert_array_equal(new.data["basis"], old.data["basis"])
    np.testing.assert_array_equal(new.data["loadings"], old.data["loadings"])
    assert new.data["basis"].shape[1] == D
    np.testing.assert_allclose(rho_of(measure, X), TRUE_RHO, rtol=0, atol=1e-14)


@pytest.mark.parametrize("k", [30, 50], ids=["cond 1e9", "cond 1e15"])
def test_scaled_columns_keep_cholesky_qr2_and_the_rank_test(k, calls, monkeypatch):
    """Column scaling (exact, ``cond(X) = 2^k``) leaves CholeskyQR2 as accurate as unit columns.

    Beyond the rank tolerance ``n eps`` (cond 1e15) both paths take the same SVD basis.
    """
    X = exact_span(0)[0] * 2.0 ** -np.round(np.linspace(0, k, D))
    measure = repalign.get("cca")
    new = measure.prepare(X)
    assert calls == [True]
    old = householder_prepare(measure, X, monkeypatch)
    if k == 50:
        assert new.data["basis"].shape[1] < D
        np.testing.assert_array_equal(new.data["basis"], old.data["basis"])
        return
    assert span_error(new.data["basis"], W) < 1e-14
    np.testing.assert_allclose(rho_of(measure, X), TRUE_RHO, rtol=0, atol=1e-14)


def test_pwcca_weights_from_the_exact_basis():
    """PWCCA through CholeskyQR2 equals its formula on the exact basis ``W``, loadings ``T``."""
    X, T = exact_span(GRADES["cond 1e4"])
    A, rho, _ = np.linalg.svd(W.T @ QY, full_matrices=False)
    weights = np.abs(A.T @ T).sum(axis=1)
    expected = (weights * rho).sum() / weights.sum()
    assert repalign.measure("pwcca", X, Y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("extra_rows", [1, 2, 10])
def test_barely_more_stimuli_than_features(extra_rows, calls):
    d = 200
    X = RNG.standard_normal((d + extra_rows, d))
    Xc = X - X.mean(axis=0)  # rank d: n - 1 >= d
    U, S, _ = np.linalg.svd(Xc, full_matrices=False)  # bidiagonalisation, no QR (n < 11 d / 6)
    basis, loadings = repalign.get("pwcca")._basis(X, xp)
    cond = S[0] / S[-1]  # hundreds to thousands: CholeskyQR2 is taken
    assert calls == [True]
    assert np.abs(basis.T @ basis - np.eye(d)).max() < 1e-14
    assert np.linalg.norm(basis @ loadings - Xc) < 1e-13 * np.linalg.norm(Xc)
    assert span_error(basis, U) < span_tolerance(cond)


def test_float32_and_wide_inputs_keep_the_former_path(calls):
    X, _ = exact_span(0)
    repalign.get("cca").prepare(X.astype(np.float32))
    repalign.get("cca").prepare(X[:100])  # d >= n: the SVD basis
    assert calls == []
