"""Eigenspace overlap, GULP, distance correlation and the Riemannian distance against
SciPy's principal angles and generalized eigenvalues, scikit-learn's ridge predictions,
brute-force distance covariances, high-precision (mpmath) eigenvalues, closed forms,
and values recorded once from ReSi and dcor."""

import warnings

import numpy as np
import pytest
from scipy.linalg import eigh, subspace_angles
from scipy.spatial.distance import pdist, squareform
from sklearn.linear_model import LinearRegression, Ridge

import repalign

from ..conftest import correlated_pair, to_backend, tolerance


def recorded_inputs():
    """The inputs the recorded values below were computed on (fixed seed)."""
    rng = np.random.default_rng(2024)
    X = rng.standard_normal((30, 6))
    Y = np.tanh(X @ rng.standard_normal((6, 9))) + 0.5 * rng.standard_normal((30, 9))
    Z = X @ rng.standard_normal((6, 6)) + rng.standard_normal((30, 6)) + 1.0
    return X, Y, Z


def quiet(name, X, Y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        return repalign.measure(name, X, Y, **params)


# Values recorded once with ReSi (github.com/mklabunde/resi, commit 24ab9e5055c7,
# repsim/measures/*.py, run on recorded_inputs()) and dcor 0.7 (PyPI).
RESI_EOS = {  # eigenspace_overlap_score(A, B, "nd")
    "Y": 0.4480428543978987,
    "Z": 0.6106149775414423,
}
RESI_GULP = {  # gulp(A, B, "nd", lmbda=lam): the SQUARED distance
    ("Y", 0.0): 6.5528257340089215,
    ("Y", 0.1): 1.405263602325094,
    ("Z", 0.01): 2.8598793235695785,
}
DCOR = {  # dcor.distance_correlation / dcor.u_distance_correlation_sqr(X, B)
    ("Y", "biased"): 0.8788537169799935,  # ReSi distance_correlation: 0.8788537169799931
    ("Y", "unbiased"): 0.6101108938252909,
    ("Z", "biased"): 0.8913376477940207,
    ("Z", "unbiased"): 0.6660762161416441,
}


# ---------------------------------------------------------------- eigenspace overlap


@pytest.mark.parametrize("other", sorted(RESI_EOS))
def test_eos_matches_resi(other):
    X, Y, Z = recorded_inputs()
    B = {"Y": Y, "Z": Z}[other]
    assert repalign.measure("eigenspace_overlap", X, B) == pytest.approx(RESI_EOS[other],
                                                                        abs=1e-12)


@pytest.mark.parametrize("n, dx, dy", [(40, 5, 7), (30, 8, 3)])
def test_eos_is_sum_of_squared_cosines_of_principal_angles(n, dx, dy):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=dx)
    X = X + 2.0  # the column space of the uncentred X
    expected = np.sum(np.cos(subspace_angles(X, Y)) ** 2) / max(dx, dy)
    assert repalign.measure("eigenspace_overlap", X, Y) == pytest.approx(expected, abs=1e-12)


def test_eos_of_nested_and_of_orthogonal_spaces():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 8))
    for k in (1, 3, 8):
        assert repalign.measure("eigenspace_overlap", X, X[:, :k]) == pytest.approx(k / 8,
                                                                                  abs=1e-12)
    Q, _ = np.linalg.qr(X)
    orthogonal = (np.eye(50) - Q @ Q.T) @ rng.standard_normal((50, 4))
    assert repalign.measure("eigenspace_overlap", X, orthogonal) == pytest.approx(0, abs=1e-12)


def test_eos_divides_by_ranks_not_widths():
    # A duplicated column adds width but not rank; ReSi would give 4 / 5 for X vs X.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 4))
    X = np.column_stack([X, X[:, 0]])
    assert repalign.measure("eigenspace_overlap", X, X) == pytest.approx(1, abs=1e-12)


def test_eos_warns_when_the_spaces_must_overlap():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((10, 6)), rng.standard_normal((10, 6))
    with pytest.warns(repalign.DegenerateWarning, match=r"share at least 2 dimension"):
        value = repalign.measure("eigenspace_overlap", X, Y)
    assert value >= 2 / 6 - 1e-12


# ------------------------------------------------------------------------------- GULP


@pytest.mark.parametrize("other, lam", sorted(RESI_GULP))
def test_gulp_is_the_root_of_resi_value(other, lam):
    X, Y, Z = recorded_inputs()
    B = {"Y": Y, "Z": Z}[other]
    got = repalign.measure("gulp", X, B, lam=lam)
    assert got**2 == pytest.approx(RESI_GULP[(other, lam)], abs=1e-10)


def sklearn_predictions(X, lam):
    """Ridge predictions (with intercept) of every one-hot target on the stimuli: H + 11^T / n.

    The penalty ``lam`` is relative to the total variance of X, i.e. ``alpha = lam ||X_c||_F^2``
    on the raw data (GULP's scaling ``sqrt(n) X_c / ||X_c||_F`` with penalty ``n lam``).
    """
    n = X.shape[0]
    targets = np.eye(n)
    if lam == 0:
        model = LinearRegression().fit(X, targets)
    else:
        alpha = lam * np.sum((X - X.mean(0)) ** 2)
        model = Ridge(alpha=alpha, solver="svd").fit(X, targets)
    return model.predict(X)


@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.1, 2.0])
@pytest.mark.parametrize("n, dx, dy", [(40, 5, 7), (25, 3, 3)])
def test_gulp_matches_sklearn_ridge_predictors(lam, n, dx, dy):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=n + dx)
    expected = np.linalg.norm(sklearn_predictions(X, lam) - sklearn_predictions(Y, lam))
    assert repalign.measure("gulp", X, Y, lam=lam) == pytest.approx(expected, abs=1e-8)


def test_gulp_without_ridge_is_a_function_of_canonical_correlations():
    X, Y = correlated_pair(n=50, dx=4, dy=6, seed=9)
    rho2 = np.cos(subspace_angles(X - X.mean(0), Y - Y.mean(0))) ** 2
    assert repalign.measure("gulp", X, Y) == pytest.approx(np.sqrt(4 + 6 - 2 * rho2.sum()),
                                                           abs=1e-10)


def test_gulp_decreases_with_the_ridge_and_vanishes_in_the_limit():
    X, Y = correlated_pair(n=40, dx=5, dy=7, seed=3)
    values = [repalign.measure("gulp", X, Y, lam=lam) for lam in (0.0, 0.01, 1.0, 100.0, 1e8)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[-1] < 1e-6


def test_gulp_triangle_inequality():
    m = repalign.get("gulp", lam=0.05)
    rng = np.random.default_rng(0)
    for _ in range(30):
        base = rng.standard_normal((25, 4))
        A, B, C = (np.tanh(base @ rng.standard_normal((4, 5))) + rng.standard_normal((25, 5))
                   for _ in range(3))
        assert m(A, C) <= m(A, B) + m(B, C) + 1e-10


def test_gulp_warns_only_without_ridge_when_features_fill_the_space():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 20)), rng.standard_normal((12, 20))
    with pytest.warns(repalign.DegenerateWarning, match=r"by construction"):
        assert repalign.measure("gulp", X, Y) == pytest.approx(0, abs=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", repalign.DegenerateWarning)
        assert repalign.measure("gulp", X, Y, lam=0.1) > 0.1


# --------------------------------------------------------------- distance correlation


@pytest.mark.parametrize("other, estimator", sorted(DCOR))
def test_distance_correlation_matches_dcor(other, estimator):
    X, Y, Z = recorded_inputs()
    B = {"Y": Y, "Z": Z}[other]
    got = repalign.measure("distance_correlation", X, B, estimator=estimator)
    assert got == pytest.approx(DCOR[(other, estimator)], abs=1e-12)


def brute_dcor(X, Y, estimator):
    """Szekely et al. (2007) and Szekely & Rizzo (2014, Def. 1) written entry by entry."""
    n = X.shape[0]

    def centred(a):
        out = np.zeros_like(a)
        for i in range(n):
            for j in range(n):
                if estimator == "biased":
                    out[i, j] = a[i, j] - a[i].mean() - a[:, j].mean() + a.mean()
                elif i != j:
                    out[i, j] = (a[i, j] - a[i].sum() / (n - 2) - a[:, j].sum() / (n - 2)
                                 + a.sum() / ((n - 1) * (n - 2)))
        return out

    A, B = centred(squareform(pdist(X))), centred(squareform(pdist(Y)))
    ratio = np.sum(A * B) / np.sqrt(np.sum(A * A) * np.sum(B * B))
    return np.sqrt(ratio) if estimator == "biased" else ratio


@pytest.mark.parametrize("estimator", ["biased", "unbiased"])
@pytest.mark.parametrize("n, dx, dy", [(9, 2, 3), (15, 4, 1), (7, 12, 10)])
def test_distance_correlation_matches_brute_force(estimator, n, dx, dy):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=n)
    got = repalign.measure("distance_correlation", X, Y, estimator=estimator)
    assert got == pytest.approx(brute_dcor(X, Y, estimator), abs=1e-12)


def test_distance_correlation_sees_nonlinear_dependence():
    # y = x^2 is uncorrelated with a symmetric x, but strongly dependent on it.
    x = np.linspace(-1, 1, 41)[:, None]
    assert abs(np.corrcoef(x[:, 0], x[:, 0] ** 2)[0, 1]) < 1e-12
    assert repalign.measure("distance_correlation", x, x**2) > 0.4


def test_unbiased_distance_correlation_is_near_zero_for_independent_wide_data():
    rng = np.random.default_rng(0)
    biased, unbiased = [], []
    for _ in range(10):
        X, Y = rng.standard_normal((30, 200)), rng.standard_normal((30, 200))
        biased.append(repalign.measure("distance_correlation", X, Y))
        unbiased.append(repalign.measure("distance_correlation", X, Y, estimator="unbiased"))
    assert np.mean(biased) > 0.9
    assert abs(np.mean(unbiased)) < 0.02


# ------------------------------------------------------------------------- Riemannian


def regularised_grams(X, Y, eps):
    out = []
    for A in (X, Y):
        n, d = A.shape
        K = A @ A.T / d
        out.append(K + eps * np.trace(K) / n * np.eye(n))
    return out


@pytest.mark.parametrize("eps", [1e-6, 1e-2])
@pytest.mark.parametrize("n, dx, dy", [(15, 20, 30), (12, 12, 40)])
def test_riemannian_matches_scipy_generalized_eigenvalues(eps, n, dx, dy):
    # Full-rank Grams: the pencil is well conditioned and SciPy is accurate.
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=dx)
    K, L = regularised_grams(X, Y, eps)
    expected = np.sqrt(np.sum(np.log(eigh(L, K, eigvals_only=True)) ** 2))
    assert repalign.measure("riemannian", X, Y, eps=eps) == pytest.approx(expected, abs=1e-9)


def mpmath_riemannian(X, Y, eps):
    """sqrt(sum log^2 eig(K^{-1/2} L K^{-1/2})) in 40-digit arithmetic, Grams included."""
    mpmath = pytest.importorskip("mpmath")  # installed with torch (via sympy)
    with mpmath.workdps(40):
        grams = []
        for A in (X, Y):
            n, d = A.shape
            M = mpmath.matrix(A.tolist())
            K = M * M.T / d
            ridge = eps * sum(K[i, i] for i in range(n)) / n
            grams.append(K + ridge * mpmath.eye(n))
        K, L = grams
        w, V = mpmath.eigsy(K)
        K_inv_sqrt = V * mpmath.diag([1 / mpmath.sqrt(v) for v in w]) * V.T
        mu, _ = mpmath.eigsy(K_inv_sqrt * L * K_inv_sqrt)
        return float(mpmath.sqrt(sum(mpmath.log(v) ** 2 for v in mu)))


@pytest.mark.parametrize("n, dx, dy", [(12, 3, 4), (14, 6, 6), (12, 5, 9), (12, 7, 8)])
def test_riemannian_of_singular_grams_matches_high_precision(n, dx, dy):
    # Fewer features than stimuli: the ridge makes the pencil ill conditioned, and
    # float64 scipy.linalg.eigh(L, K) is off by 5e-6 to 2e-4 here; repalign is not.
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=dy)
    X = X + 1.0
    expected = mpmath_riemannian(X, Y, 1e-6)
    assert quiet("riemannian", X, Y) == pytest.approx(expected, abs=1e-11)
    assert quiet("riemannian", Y, X) == quiet("riemannian", X, Y)  # symmetric by construction


@pytest.mark.parametrize("seed", [2, 17])
def test_riemannian_of_float32_torch_states_matches_high_precision(seed):
    # The pencil's entries span ~1/eps, so a float32 eigensolver is off by up to
    # 5e-5 relative (torch, permuted states); the float32 bases paired in float64
    # are within ~1e-6 of the exact value for the float32 inputs.
    torch = pytest.importorskip("torch")
    X, Y = correlated_pair(n=40, dx=5, dy=7, seed=seed)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    perm = np.random.default_rng(seed).permutation(40)
    expected = mpmath_riemannian(X32.astype(np.float64), Y32[perm].astype(np.float64), 1e-6)
    m = repalign.get("riemannian")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        value = m.pair(m.prepare(torch.from_numpy(X32)),
                       m.permute(m.prepare(torch.from_numpy(Y32)), perm))
    assert value == pytest.approx(expected, rel=2e-6)


@pytest.mark.parametrize("d", [5, 30])
@pytest.mark.parametrize("c", [0.1, 3.0])
def test_riemannian_between_a_gram_and_its_multiple(d, c):
    # K(c X) = c^2 K(X), the ridge included: every eigenvalue of K^{-1} L is c^2.
    rng = np.random.default_rng(d)
    X = rng.standard_normal((20, d))
    assert quiet("riemannian", X, c * X) == pytest.approx(2 * np.sqrt(20) * abs(np.log(c)),
                                                          abs=1e-9)


def test_riemannian_of_commuting_grams_is_the_log_spectrum_difference():
    rng = np.random.default_rng(3)
    n = 10
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s, t = rng.uniform(0.5, 3, n), rng.uniform(0.5, 3, n)
    X, Y = Q * s, Q * t  # K = Q diag(s^2) Q^T / n, L = Q diag(t^2) Q^T / n
    eps = 1e-3
    k = s**2 / n + eps * np.sum(s**2) / n**2
    l_ = t**2 / n + eps * np.sum(t**2) / n**2
    expected = np.sqrt(np.sum(np.log(l_ / k) ** 2))
    assert repalign.measure("riemannian", X, Y, eps=eps) == pytest.approx(expected, abs=1e-10)


def test_riemannian_per_feature_grams_ignore_duplicated_features():
    X, _ = correlated_pair(n=20, dx=25, dy=3, seed=1)
    assert repalign.measure("riemannian", X, np.column_stack([X, X])) == pytest.approx(0,
                                                                                     abs=1e-9)


def test_riemannian_warns_only_for_singular_grams():
    rng = np.random.default_rng(0)
    with pytest.warns(repalign.DegenerateWarning, match=r"rank 4 < 20 stimuli"):
        repalign.measure("riemannian", rng.standard_normal((20, 4)),
                         rng.standard_normal((20, 30)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", repalign.DegenerateWarning)
        repalign.measure("riemannian", rng.standard_normal((20, 25)),
                         rng.standard_normal((20, 30)))


# ----------------------------------------------------------------- array libraries


@pytest.mark.parametrize("name, params", [
    ("eigenspace_overlap", {}), ("gulp", {"lam": 0.1}),
    ("distance_correlation", {"estimator": "unbiased"}), ("riemannian", {"eps": 1e-3}),
])
@pytest.mark.parametrize("n, dx, dy", [(15, 4, 30), (15, 20, 30)])
def test_backends_agree_on_wide_inputs(backend, name, params, n, dx, dy):
    # The contract tests use fewer features than stimuli; these shapes take the
    # full-rank branches (riemannian without the joint-span QR, forced subspaces).
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=dx)
    expected = quiet(name, X, Y, **params)
    got = quiet(name, to_backend(X, backend), to_backend(Y, backend), **params)
    assert got == pytest.approx(expected, abs=tolerance(backend) * max(1.0, abs(expected)))


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("name, params, match", [
    ("gulp", {"lam": -1.0}, r"lam=-1.0 is not in \[0, inf\)"),
    ("riemannian", {"eps": 0.0}, r"eps=0.0 is not in \(0, inf\)"),
    ("distance_correlation", {"estimator": "u"}, r"estimator='u' is not valid"),
])
def test_rejects_bad_parameters(name, params, match):
    with pytest.raises(ValueError, match=match):
        repalign.get(name, **params)


@pytest.mark.parametrize("name", ["eigenspace_overlap", "gulp", "distance_correlation",
                                  "riemannian"])
def test_rejects_a_representation_that_does_not_vary(name):
    X, _ = correlated_pair()
    with pytest.raises(ValueError, match=r"^X does not vary across stimuli \(all 40 rows"):
        repalign.get(name).prepare(np.tile(X[:1], (40, 1)))
