"""Singular values from the Gram of the smaller side against LAPACK's SVD.

The shape metrics' nuclear norm and the CCA family's canonical correlations come
from :func:`repalign.measures._linalg.singular_values`; the references here are
``scipy.linalg.svdvals`` of the same matrix and the former SVD formulas of the
measures, kept only in this file.
"""

import warnings

import numpy as np
import pytest
import scipy.linalg

import repalign
from repalign._array_api import namespace_and_device
from repalign.measures import _linalg

RNG = np.random.default_rng(20)


def orthonormal(p, k):
    return np.linalg.qr(RNG.standard_normal((p, k)))[0]


def with_spectrum(p, q, s):
    k = min(p, q)
    return orthonormal(p, k) @ np.diag(s) @ orthonormal(q, k).T


def spectra(k):
    """Each branch of the helper: all large, a few small (refined), many small (SVD)."""
    few = k // 20
    return {
        "uniform": RNG.uniform(0.05, 1, k),
        "few tiny": np.r_[np.logspace(-16, -3, few), RNG.uniform(0.05, 1, k - few)],
        "few zero": np.r_[np.zeros(few), RNG.uniform(0.05, 1, k - few)],
        "graded": np.logspace(-12, 0, k),
        "rank 3": np.r_[np.zeros(k - 3), 1.0, 2.0, 3.0],
    }


@pytest.mark.parametrize("shape", [(120, 80), (80, 120), (100, 100)])
@pytest.mark.parametrize("kind", list(spectra(20)))
def test_singular_values_match_lapack(shape, kind):
    p, q = shape
    M = with_spectrum(p, q, spectra(min(p, q))[kind])
    reference = scipy.linalg.svdvals(M)
    got = _linalg.singular_values(M, np)
    assert got.shape == reference.shape
    np.testing.assert_allclose(got, np.sort(reference), rtol=0, atol=1e-14 * reference[0])
    assert float(_linalg.nuclear_norm(M, np)) == pytest.approx(reference.sum(), rel=1e-14)


def test_refined_branch_is_taken():
    """A few singular values below sqrt(REFINE_RTOL) s_max: refined, not square-rooted."""
    s = np.r_[1e-9, 1e-12, 0.0, RNG.uniform(0.5, 1, 57)]
    M = with_spectrum(90, 60, s)
    got = _linalg.singular_values(M, np)
    # sqrt of a Gram eigenvalue would be off by about sqrt(eps) s_max = 1e-8 here
    np.testing.assert_allclose(got[:3], [0.0, 1e-12, 1e-9], rtol=0, atol=1e-14)


def test_zero_and_float32():
    assert np.all(_linalg.singular_values(np.zeros((4, 3)), np) == 0)
    M = RNG.standard_normal((50, 30)).astype(np.float32)
    got = _linalg.singular_values(M, np)
    assert got.dtype == np.float64
    reference = scipy.linalg.svdvals(M.astype(np.float64))
    np.testing.assert_allclose(got, np.sort(reference), rtol=1e-13)


def test_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    M = with_spectrum(70, 40, spectra(40)["few tiny"])
    T = torch.from_numpy(M)
    got = _linalg.singular_values(T, namespace_and_device(T)[0])
    np.testing.assert_allclose(got.numpy(), _linalg.singular_values(M, np), rtol=0,
                               atol=1e-14)


def old_shape(X, Y, alpha=1.0, distance="angular"):
    """The former pair formula: the nuclear norm by LAPACK's singular values."""
    m = {"angular": "procrustes", "similarity": "nbs", "euclidean": "bures"}[distance]
    measure = repalign.get(m) if alpha == 1 else repalign.get("shape_metric", alpha=alpha)
    a, b = measure.prepare(X), measure.prepare(Y)
    Wa, Wb = a.data["scores"], b.data["scores"]
    nuclear = scipy.linalg.svdvals(Wa.T @ Wb).sum()
    sa, sb = a.data["sq_norm"], b.data["sq_norm"]
    if distance == "euclidean":
        return np.sqrt(max(sa + sb - 2 * nuclear, 0))
    c = np.clip(nuclear / np.sqrt(sa * sb), -1, 1)
    return np.arccos(c) if distance == "angular" else c


def data(n, dx, dy, decay=0.0):
    X = RNG.standard_normal((n, dx)) * np.logspace(0, -decay, dx)
    Y = X[:, :min(dx, dy)] @ RNG.standard_normal((min(dx, dy), dy)) / 4 \
        + RNG.standard_normal((n, dy)) * np.logspace(0, -decay, dy)
    return X, Y


@pytest.mark.parametrize("n, dx, dy, decay", [(200, 40, 60, 0), (200, 60, 40, 6),
                                              (50, 80, 120, 0), (60, 59, 59, 12)])
@pytest.mark.parametrize("name, alpha, distance", [
    ("procrustes", 1.0, "angular"), ("nbs", 1.0, "similarity"), ("bures", 1.0, "euclidean"),
    ("shape_metric", 0.5, "angular"), ("shape_metric", 0.0, "angular")])
def test_shape_values_unchanged(n, dx, dy, decay, name, alpha, distance):
    X, Y = data(n, dx, dy, decay)
    measure = repalign.get(name) if name != "shape_metric" else repalign.get(name, alpha=alpha)
    with warnings.catch_warnings():  # alpha = 0 with dx + dy >= n warns in both
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        got = measure(X, Y)
        expected = old_shape(X, Y, alpha, distance)
    if distance == "angular":  # arccos magnifies a rounding of its argument near 1 to
        # sqrt(2 eps) = 2e-8 (module docstring of shape.py): compare the cosines
        assert np.cos(got) == pytest.approx(np.cos(expected), rel=1e-12)
        assert got == pytest.approx(expected, rel=1e-12, abs=3e-8)
    else:
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_procrustes_float32_within_documented_tolerance():
    X, Y = data(300, 64, 48, 3)
    for name in ("procrustes", "nbs", "bures"):
        single = repalign.get(name, dtype="float32")(X.astype(np.float32), Y.astype(np.float32))
        assert single == pytest.approx(old_shape(X, Y, 1.0, {"procrustes": "angular",
                                                            "nbs": "similarity",
                                                            "bures": "euclidean"}[name]),
                                       rel=1e-5)


@pytest.mark.parametrize("n, dx, dy", [(300, 40, 60), (100, 30, 30)])
def test_cca_values_unchanged(n, dx, dy):
    """Mean canonical correlation against the SVD of the QR bases' cross product."""
    X, Y = data(n, dx, dy, 2)
    Qx = scipy.linalg.qr(X - X.mean(0), mode="economic")[0]
    Qy = scipy.linalg.qr(Y - Y.mean(0), mode="economic")[0]
    rho = np.clip(scipy.linalg.svdvals(Qx.T @ Qy), None, 1)
    assert repalign.measure("cca", X, Y) == pytest.approx(rho.mean(), rel=1e-12)
    assert repalign.measure("cca", X, Y, statistic="mean_r2") == pytest.approx(
        np.mean(rho**2), rel=1e-12)
