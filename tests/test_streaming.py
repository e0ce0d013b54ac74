"""Streamed linear measures and minibatch CKA against the in-memory measures."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import repalign
from repalign.streaming import CrossMoments

#: Every measure that declares streaming, at its defaults, and the variants of other code paths.
CASES = [(info.name, {}) for info in repalign.list_measures()
         if repalign.get(info.name).capabilities.streaming] + [
    ("cka", {"estimator": "unbiased"}),
    ("cca", {"statistic": "mean_r2"}),
    ("shape_metric", {"alpha": 0.5}),
    ("shape_metric", {"alpha": 0.0}),
    ("shape_metric", {"alpha": 0.3, "distance": "euclidean"}),
]


def _pair(n=2000, dx=20, dy=15, seed=0, offset=5.0):
    """X and a nonlinearly related Y sharing a latent, both far from zero mean."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 8))
    X = Z @ rng.standard_normal((8, dx)) + 0.5 * rng.standard_normal((n, dx)) + offset
    Y = np.tanh(Z @ rng.standard_normal((8, dy))) + 0.3 * rng.standard_normal((n, dy)) - offset
    return X, Y


@pytest.mark.parametrize("name, params", CASES, ids=lambda c: str(c))
@pytest.mark.parametrize("chunk_size", [1, 333, None])
def test_streamed_value_equals_in_memory(name, params, chunk_size):
    X, Y = _pair(n=600 if chunk_size == 1 else 2000)
    expected = repalign.measure(name, X, Y, **params)
    value = repalign.streaming_measure(name, X, Y, chunk_size=chunk_size, **params)
    assert isinstance(value, float)
    assert abs(value - expected) <= 1e-10 * max(1.0, abs(expected))


def test_the_streamable_measures_are_those_with_a_moment_formula():
    assert {name for name, _ in CASES} == {"cka", "cca", "ensd", "procrustes", "nbs", "bures",
                                           "shape_metric"}


def test_streaming_from_an_activation_store(tmp_path):
    X, Y = _pair(n=3000)
    path = tmp_path / "store"
    with repalign.ActivationStore(path, mode="a") as store:
        store.add("net", "layer.1", X, dtype="float64", chunk_size=256)
        store.add("net", "layer.2", Y, dtype="float64", chunk_size=500)
    store = repalign.ActivationStore(path)
    for name, params in CASES:
        expected = repalign.measure(name, X, Y, **params)
        value = repalign.streaming_measure(name, (store, "net", "layer.1"),
                                           (store, "net", "layer.2"), **params)
        assert abs(value - expected) <= 1e-10 * max(1.0, abs(expected))
    # a path works too; blocks smaller than and unaligned with both chunkings
    expected = repalign.measure("cka", X, Y)
    for ref, chunk_size in ((path, 300), (str(path), None)):
        value = repalign.streaming_measure("cka", (ref, "net", "layer.1"),
                                           (ref, "net", "layer.2"), chunk_size=chunk_size)
        assert abs(value - expected) < 1e-12


def test_streaming_from_memmap_zarr_and_dask(tmp_path):
    import dask.array as da
    import zarr

    X, Y = _pair(n=1500)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float64,
                                   shape=X.shape)
    mm[:] = X
    mm.flush()
    z = zarr.create_array(store=str(tmp_path / "y.zarr"), shape=Y.shape, chunks=(128, 15),
                          dtype="float64")
    z[:] = Y
    expected = repalign.measure("procrustes", X, Y)
    for A, B in ((mm, z), (da.from_array(X, chunks=(100, 20)), Y)):
        value = repalign.streaming_measure("procrustes", A, B)
        assert abs(value - expected) < 1e-12


def test_streaming_torch_tensors():
    torch = pytest.importorskip("torch")
    X, Y = _pair(n=500)
    value = repalign.streaming_measure("cka", torch.as_tensor(X), torch.as_tensor(Y),
                                       chunk_size=128)
    assert abs(value - repalign.measure("cka", X, Y)) < 1e-12


def test_moments_update_by_hand_and_covariances():
    X, Y = _pair(n=700)
    m = CrossMoments(X.shape[1], Y.shape[1])
    for s in range(0, 700, 250):
        m.update(X[s:s + 250], Y[s:s + 250])
    m.update(X[:0], Y[:0])  # an empty chunk changes nothing
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Cxx, Cyy, Cxy = m.covariances()
    assert m.n_stimuli == 700
    np.testing.assert_allclose(Cxx, Xc.T @ Xc, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(Cyy, Yc.T @ Yc, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(Cxy, Xc.T @ Yc, rtol=1e-11, atol=1e-9)


def test_unbiased_streamed_cka_at_large_offset_is_translation_invariant():
    X, Y = _pair(n=1000, offset=0.0)
    expected = repalign.measure("cka", X, Y, estimator="unbiased")
    # a shift of 1e3 standard deviations: the first-block shift keeps the sums small
    value = repalign.streaming_measure("cka", X + 1e3, Y - 1e3, estimator="unbiased",
                                       chunk_size=100)
    assert abs(value - expected) < 1e-9


def test_cca_degenerate_warning_is_kept():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((10, 6)), rng.standard_normal((10, 6))
    with pytest.warns(repalign.DegenerateWarning, match="by construction"):
        repalign.streaming_measure("cca", X, Y)


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name, params, match", [
    ("rsa", {}, "cannot be streamed"),
    ("cka", {"kernel": "rbf"}, "cannot be streamed"),
    ("cka", {"dtype": "float32"}, "always accumulated in float64"),
])
def test_unsupported_measures_are_refused(name, params, match):
    X, Y = _pair(n=50)
    with pytest.raises(ValueError, match=match):
        repalign.streaming_measure(name, X, Y, **params)


def test_moments_measure_refuses_unknown_names_and_missing_row_norms():
    X, Y = _pair(n=50)
    m = CrossMoments.from_arrays(X, Y)
    with pytest.raises(ValueError, match="cannot be streamed"):
        m.measure("mutual_knn")
    with pytest.raises(ValueError, match="row_norms=True"):
        m.measure("cka", estimator="unbiased")
    with pytest.raises(ValueError, match="needs at least 3 stimuli"):
        CrossMoments.from_arrays(X[:2], Y[:2]).measure("cka")
    with pytest.raises(ValueError, match="no stimuli were added"):
        CrossMoments(3, 4).covariances()


def test_bad_parameters_are_named():
    X, Y = _pair(n=50)
    with pytest.raises(ValueError, match="statistic"):
        repalign.streaming_measure("cca", X, Y, statistic="median")


@pytest.mark.parametrize("A, B, err, match", [
    (np.zeros((10, 3)), np.zeros((11, 3)), ValueError, "A has 10 stimuli but B has 11"),
    (np.zeros(10), np.zeros((10, 3)), ValueError, "A must be 2-D"),
    ([[1.0, 2.0]], np.zeros((1, 3)), TypeError, "A must be an array"),
    ((None, "m"), np.zeros((10, 3)), ValueError, r"\(store, model, layer\)"),
])
def test_bad_inputs(A, B, err, match):
    with pytest.raises(err, match=match):
        repalign.streaming_measure("cka", A, B)


def test_non_finite_and_non_numeric_blocks_name_the_rows():
    X, Y = _pair(n=100)
    X[57, 2] = np.nan
    with pytest.raises(ValueError, match=r"A has NaN or infinite values in rows 50..99"):
        repalign.streaming_measure("cka", X, Y, chunk_size=50)
    with pytest.raises(TypeError, match="B must hold real numbers"):
        repalign.streaming_measure("cka", Y, np.full((100, 2), "a"))


@pytest.mark.parametrize("chunk_size, err, match", [
    (0, ValueError, "chunk_size must be at least 1"),
    (2.5, TypeError, "chunk_size must be an int"),
])
def test_bad_chunk_size(chunk_size, err, match):
    X, Y = _pair(n=50)
    with pytest.raises(err, match=match):
        repalign.streaming_measure("cka", X, Y, chunk_size=chunk_size)


def test_update_checks_the_chunks():
    m = CrossMoments(3, 2)
    with pytest.raises(ValueError, match="X has 4 rows but Y has 5"):
        m.update(np.zeros((4, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="expected chunks with 3 and 2 features; got 4 and 2"):
        m.update(np.zeros((4, 4)), np.zeros((4, 2)))


@pytest.mark.parametrize("name, params", [("cka", {}), ("cka", {"estimator": "unbiased"}),
                                          ("cca", {}), ("procrustes", {}),
                                          ("shape_metric", {"alpha": 0.5})])
def test_constant_representation_is_refused(name, params):
    X, _ = _pair(n=60)
    with pytest.raises(ValueError, match="B does not vary"):
        repalign.streaming_measure(name, X, np.ones((60, 4)), **params)


def test_lazy_public_names_keep_import_light():
    assert "streaming_measure" in repalign.__all__ and "minibatch_cka" in repalign.__all__
    assert repalign.streaming_measure is repalign.streaming.streaming_measure


# ------------------------------------------------------------------------- minibatch CKA


def _hsic1_reference(K, L):
    """Song et al. (2012) Eq. 5 written out on n x n Grams (independent of u_center)."""
    n = K.shape[0]
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    one = np.ones(n)
    return (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ K @ L @ one) / (n * (n - 3))


def test_minibatch_one_batch_is_the_unbiased_cka():
    X, Y = _pair(n=300)
    exact = repalign.measure("cka", X, Y, estimator="unbiased")
    for seed in (None, 0, 5):  # shuffling the stimuli does not change the one-batch value
        assert abs(repalign.minibatch_cka(X, Y, batch_size=300, seed=seed) - exact) < 1e-12
    assert abs(repalign.minibatch_cka(X, Y, batch_size=10_000) - exact) < 1e-12


def test_minibatch_equals_the_paper_formula_on_explicit_batches():
    X, Y = _pair(n=230)
    b = 50  # 4 batches: 50, 50, 50 and the remainder 80
    bounds = [0, 50, 100, 150, 230]
    h = np.zeros(3)
    for s, e in zip(bounds[:-1], bounds[1:]):
        Xb, Yb = X[s:e], Y[s:e]
        K, L = Xb @ Xb.T, Yb @ Yb.T
        h += [_hsic1_reference(K, L), _hsic1_reference(K, K), _hsic1_reference(L, L)]
    expected = h[0] / math.sqrt(h[1] * h[2])
    for chunk_size in (50, 70, 1000):  # blocks cut across batches
        value = repalign.minibatch_cka(X, Y, batch_size=b, seed=None, chunk_size=chunk_size)
        assert abs(value - expected) < 1e-12


def test_minibatch_converges_to_the_population_cka():
    """Error against the closed-form population value shrinks as stimuli are added."""
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((6, 8)), rng.standard_normal((6, 5))
    # X = Z A, Y = Z B + E with Z ~ N(0, I), E ~ N(0, I): population covariances
    Sxx, Syy, Sxy = A.T @ A, B.T @ B + np.eye(5), A.T @ B
    population = np.sum(Sxy**2) / np.sqrt(np.sum(Sxx**2) * np.sum(Syy**2))

    def rms_error(n):
        errs = []
        for seed in range(5):
            g = np.random.default_rng(100 + seed)
            Z = g.standard_normal((n, 6))
            X, Y = Z @ A, Z @ B + g.standard_normal((n, 5))
            errs.append(repalign.minibatch_cka(X, Y, batch_size=64, seed=seed) - population)
        return float(np.sqrt(np.mean(np.square(errs))))

    small, large = rms_error(640), rms_error(25_600)
    assert large < 0.02
    assert large < small / 2  # ~1/sqrt(n): sqrt(40) = 6.3 expected


def test_minibatch_epochs_reshuffle_and_store_input(tmp_path):
    X, Y = _pair(n=1000)
    one = repalign.minibatch_cka(X, Y, batch_size=100, seed=3)
    three = repalign.minibatch_cka(X, Y, batch_size=100, seed=3, n_epochs=3)
    assert one != three and abs(one - three) < 0.05
    with repalign.ActivationStore(tmp_path / "s", mode="a") as store:
        store.add("m", "x", X, dtype="float64", chunk_size=128)
        store.add("m", "y", Y, dtype="float64", chunk_size=128)
    from_store = repalign.minibatch_cka((tmp_path / "s", "m", "x"), (tmp_path / "s", "m", "y"),
                                        batch_size=100, seed=None)
    assert abs(from_store - repalign.minibatch_cka(X, Y, batch_size=100, seed=None)) < 1e-12


@pytest.mark.parametrize("kwargs, err, match", [
    ({"batch_size": 3}, ValueError, "batch_size must be at least 4"),
    ({"batch_size": 8.0}, TypeError, "batch_size must be an int"),
    ({"n_epochs": 0}, ValueError, "n_epochs must be at least 1"),
    ({"seed": "a"}, TypeError, "seed must be an int or None"),
])
def test_minibatch_bad_parameters(kwargs, err, match):
    X, Y = _pair(n=50)
    with pytest.raises(err, match=match):
        repalign.minibatch_cka(X, Y, **kwargs)


def test_minibatch_errors_and_warnings():
    X, Y = _pair(n=50)
    with pytest.raises(ValueError, match="at least 4 stimuli"):
        repalign.minibatch_cka(X[:3], Y[:3])
    with pytest.raises(ValueError, match="B has a non-positive mean unbiased self-HSIC"):
        repalign.minibatch_cka(X, np.ones((50, 2)), batch_size=10)
    with pytest.warns(repalign.DegenerateWarning, match="seed=None repeats"):
        repalign.minibatch_cka(X, Y, batch_size=10, seed=None, n_epochs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repalign.minibatch_cka(X, Y, batch_size=10, seed=1, n_epochs=2)
