"""Magnitude, uniformity, RSM norm difference and aligned cosine against SciPy's pdist and
orthogonal Procrustes, closed forms, and values recorded once from ReSi."""

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import pdist, squareform

import repalign

from ..conftest import correlated_pair, to_backend, tolerance


def recorded_inputs():
    """The inputs the recorded values below were computed on (fixed seed)."""
    rng = np.random.default_rng(2024)
    X = rng.standard_normal((30, 6))
    Y = np.tanh(X @ rng.standard_normal((6, 9))) + 0.5 * rng.standard_normal((30, 9))
    Z = X @ rng.standard_normal((6, 6)) + rng.standard_normal((30, 6)) + 1.0
    return X, Y, Z


def unit_rows(A):
    return A / np.linalg.norm(A, axis=1, keepdims=True)


# Values recorded once with ReSi (github.com/mklabunde/resi, commit 24ab9e5055c7,
# repsim/measures/{statistics,rsm_norm_difference,procrustes}.py, on recorded_inputs()).
RESI_MAGNITUDE = {"Y": 0.3600056825375092, "Z": 2.3460451261783586}  # magnitude_difference(X, B)
RESI_UNIFORMITY_RAW = 0.06799567529397077  # uniformity_difference(X, Y)
RESI_UNIFORMITY_UNIT = {  # uniformity_difference(unit_rows(X), unit_rows(B))
    "Y": 0.1001800977063394,
    "Z": 0.3559297213420596,
}
RESI_RSM_NORM = 27.026160705926934  # rsm_norm_diff(X, Y): see the test below
RESI_ALIGNED_COSINE = {  # aligned_cossim(A, B)
    ("X", "Y"): 0.7276885436167736,  # widths 6 and 9: ReSi zero-pads X
    ("Y", "X"): 0.7276885436167736,
    ("X", "Z"): 0.6938363330954183,
}


# ------------------------------------------------------------------------- magnitude


@pytest.mark.parametrize("other", sorted(RESI_MAGNITUDE))
def test_magnitude_matches_resi(other):
    X, Y, Z = recorded_inputs()
    B = {"Y": Y, "Z": Z}[other]
    assert repalign.measure("magnitude_difference", X, B) == pytest.approx(
        RESI_MAGNITUDE[other], abs=1e-12)


def test_magnitude_closed_forms():
    X = np.array([[3.0, 0.0], [0.0, 4.0], [-3.0, 0.0], [0.0, -4.0]])  # mean 0, norms 3, 4
    Y = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 3.0], [1.0, 1.0, 3.0]])
    # norm of the mean: |0 - ||(1, 1, 2)||| = sqrt(6)
    assert repalign.measure("magnitude_difference", X, Y) == pytest.approx(np.sqrt(6),
                                                                           abs=1e-12)
    # mean of the norms: 3.5 and (sqrt(3) + sqrt(11)) / 2
    assert repalign.measure("magnitude_difference", X, Y, statistic="mean_norm") == (
        pytest.approx(abs(3.5 - (np.sqrt(3) + np.sqrt(11)) / 2), abs=1e-12))


# ------------------------------------------------------------------------ uniformity


def test_uniformity_matches_resi():
    X, Y, Z = recorded_inputs()
    assert repalign.measure("uniformity_difference", X, Y, normalize=False) == pytest.approx(
        RESI_UNIFORMITY_RAW, abs=1e-12)
    for other, B in (("Y", Y), ("Z", Z)):
        # ReSi does not normalise; the recorded values were computed on unit rows.
        assert repalign.measure("uniformity_difference", X, B) == pytest.approx(
            RESI_UNIFORMITY_UNIT[other], abs=1e-12)


def uniformity_from_pdist(A, t):
    """log of the mean over all n^2 ordered pairs, from SciPy's distinct pairs."""
    n = A.shape[0]
    return np.log((n + 2 * np.sum(np.exp(-t * pdist(A, "sqeuclidean")))) / n**2)


@pytest.mark.parametrize("t", [0.5, 2.0, 7.0])
@pytest.mark.parametrize("normalize", [True, False])
def test_uniformity_matches_pdist(t, normalize):
    X, Y = correlated_pair(n=35, dx=4, dy=6, seed=int(t))
    prep = unit_rows if normalize else (lambda A: A)
    expected = abs(uniformity_from_pdist(prep(X), t) - uniformity_from_pdist(prep(Y), t))
    got = repalign.measure("uniformity_difference", X, Y, t=t, normalize=normalize)
    assert got == pytest.approx(expected, abs=1e-12)


def test_uniformity_of_evenly_spaced_points_on_a_circle():
    # n points at angles 2 pi k / n: ||z_i - z_j||^2 = 2 - 2 cos(2 pi (i - j) / n).
    n = 12
    angles = 2 * np.pi * np.arange(n) / n
    circle = np.column_stack([np.cos(angles), np.sin(angles)]) * np.arange(1, n + 1)[:, None]
    u = np.log(np.mean(np.exp(-2 * (2 - 2 * np.cos(2 * np.pi * np.arange(n) / n)))))
    line = np.outer(np.arange(1, n + 1), [1.0, 2.0])  # one direction: u = 0
    assert repalign.measure("uniformity_difference", circle, line) == pytest.approx(-u,
                                                                                    abs=1e-12)


def test_uniformity_rejects_zero_rows_when_normalizing():
    X, _ = correlated_pair()
    X[[3, 7]] = 0.0
    with pytest.raises(ValueError, match=r"^X: stimulus row\(s\) \[3, 7\] are all zero"):
        repalign.get("uniformity_difference").prepare(X)
    repalign.get("uniformity_difference", normalize=False).prepare(X)


# --------------------------------------------------------------- RSM norm difference


def test_rsm_norm_difference_is_frobenius_where_resi_takes_the_spectral_norm():
    X, Y, _ = recorded_inputs()
    D = squareform(pdist(X)) - squareform(pdist(Y))
    # ReSi's recorded value is the spectral norm of this very matrix ...
    assert np.linalg.norm(D, 2) == pytest.approx(RESI_RSM_NORM, abs=1e-10)
    # ... and repalign its Frobenius norm (the measure's definition).
    assert repalign.measure("rsm_norm_difference", X, Y) == pytest.approx(
        np.linalg.norm(D, "fro"), abs=1e-10)


@pytest.mark.parametrize("rdm", ["euclidean", "sqeuclidean", "cosine", "correlation"])
def test_rsm_norm_difference_matches_pdist(rdm):
    X, Y = correlated_pair(n=30, dx=5, dy=8, seed=4)
    expected = np.linalg.norm(squareform(pdist(X, rdm)) - squareform(pdist(Y, rdm)))
    assert repalign.measure("rsm_norm_difference", X, Y, rdm=rdm) == pytest.approx(expected,
                                                                                 abs=1e-9)


def test_rsm_norm_difference_of_a_scaled_copy():
    X, _ = correlated_pair(n=25, dx=4, seed=1)
    total = np.sqrt(2) * np.linalg.norm(pdist(X))  # ||D_X||_F
    assert repalign.measure("rsm_norm_difference", X, 3 * X) == pytest.approx(2 * total,
                                                                              abs=1e-9)


# -------------------------------------------------------------------- aligned cosine


@pytest.mark.parametrize("first, second", sorted(RESI_ALIGNED_COSINE))
def test_aligned_cosine_matches_resi(first, second):
    inputs = dict(zip("XYZ", recorded_inputs()))
    got = repalign.measure("aligned_cosine", inputs[first], inputs[second])
    assert got == pytest.approx(RESI_ALIGNED_COSINE[(first, second)], abs=1e-12)


def procrustes_cosine(X, Y):
    """Zero-pad to one width, rotate X onto Y with SciPy, average the row cosines."""
    d = max(X.shape[1], Y.shape[1])
    Xp, Yp = (np.pad(A, ((0, 0), (0, d - A.shape[1]))) for A in (X, Y))
    R, _ = orthogonal_procrustes(Xp, Yp)
    return np.mean(np.sum(unit_rows(Xp @ R) * unit_rows(Yp), axis=1))


@pytest.mark.parametrize("n, dx, dy", [(40, 5, 5), (40, 3, 8), (12, 30, 20), (10, 4, 25)])
def test_aligned_cosine_matches_scipy_procrustes(n, dx, dy):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=dx + dy)
    X = X + 0.5  # not centred: the rotation acts on the raw patterns
    assert repalign.measure("aligned_cosine", X, Y) == pytest.approx(procrustes_cosine(X, Y),
                                                                     abs=1e-10)


def test_aligned_cosine_of_a_rotated_copy_with_noise_is_below_one():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((50, 6))
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    assert repalign.measure("aligned_cosine", X, 2 * X @ Q) == pytest.approx(1, abs=1e-12)
    noisy = X @ Q + 0.3 * rng.standard_normal((50, 6))
    assert 0.8 < repalign.measure("aligned_cosine", X, noisy) < 1


def test_wide_representations_are_reduced_to_the_row_space():
    rng = np.random.default_rng(0)
    state = repalign.get("aligned_cosine").prepare(rng.standard_normal((10, 300)))
    assert state.data["scores"].shape == (10, 10)


def test_aligned_cosine_rejects_zero_rows():
    X, Y = correlated_pair()
    Y[5] = 0.0
    with pytest.raises(ValueError, match=r"^X: stimulus row\(s\) \[5\] are all zero"):
        repalign.get("aligned_cosine").prepare(Y)


# ----------------------------------------------------------------- array libraries


@pytest.mark.parametrize("name, params", [
    ("magnitude_difference", {"statistic": "mean_norm"}),
    ("uniformity_difference", {"normalize": False, "t": 0.5}),
    ("rsm_norm_difference", {"rdm": "cosine"}), ("rsm_norm_difference", {"rdm": "correlation"}),
    ("aligned_cosine", {}),
])
@pytest.mark.parametrize("n, dx, dy", [(15, 4, 30), (15, 20, 30)])
def test_backends_agree_on_variants_and_wide_inputs(backend, name, params, n, dx, dy):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=dx)
    expected = repalign.measure(name, X, Y, **params)
    got = repalign.measure(name, to_backend(X, backend), to_backend(Y, backend), **params)
    assert got == pytest.approx(expected, abs=tolerance(backend) * max(1.0, abs(expected)))


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("name, params, match", [
    ("magnitude_difference", {"statistic": "mean"}, r"statistic='mean' is not valid"),
    ("uniformity_difference", {"t": 0}, r"t=0 is not in \(0, inf\)"),
    ("uniformity_difference", {"normalize": 1}, r"normalize=1 is not valid"),
    ("rsm_norm_difference", {"rdm": "manhattan"}, r"rdm='manhattan' is not valid"),
])
def test_rejects_bad_parameters(name, params, match):
    with pytest.raises(ValueError, match=match):
        repalign.get(name, **params)


@pytest.mark.parametrize("name", ["magnitude_difference", "uniformity_difference",
                                  "rsm_norm_difference", "aligned_cosine"])
def test_rejects_a_representation_that_does_not_vary(name):
    X, _ = correlated_pair()
    with pytest.raises(ValueError, match=r"^X does not vary across stimuli \(all 40 rows"):
        repalign.get(name).prepare(np.tile(X[:1], (40, 1)))
