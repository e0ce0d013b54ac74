"""The Measure contract, checked for every registered measure.

Registering a measure enrols it here at its defaults (plus the parameter
variants listed in VARIANTS) in every check of :func:`repalign.testing.measure_checks`
(identity, declared symmetry, each declared invariance, bounds,
``__call__ == pair(prepare, prepare)``, a Python float, every declared
capability, agreement across array libraries, pickling of the prepared state,
rejection of bad input), plus what needs the test fixtures: every backend and
device of the matrix, and random shapes.
"""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import repalign
from repalign.testing import measure_checks

from ..conftest import correlated_pair, random_orthogonal, to_backend, tolerance

#: Non-default parameter settings that change the code path or the metadata.
VARIANTS = [
    ("cka", {"kernel": "rbf"}),
    ("cka", {"estimator": "unbiased"}),
    ("cka", {"kernel": "rbf", "estimator": "unbiased", "sigma_frac": 0.4}),
    ("rsa", {"rdm": "euclidean", "compare": "pearson"}),
    ("rsa", {"rdm": "sqeuclidean", "compare": "kendall_tau_a"}),
    ("rsa", {"rdm": "cosine", "compare": "rho_a"}),
    ("rsa", {"rdm": "correlation", "compare": "cosine"}),
    ("cca", {"statistic": "mean_r2"}),
    ("svcca", {"dims": 3}),
    ("shape_metric", {"alpha": 0.0}),
    ("shape_metric", {"alpha": 0.5, "distance": "euclidean"}),
    ("shape_metric", {"alpha": 0.5}),
    ("permutation_metric", {"distance": "euclidean"}),
    ("cycle_knn", {"k": 6}),
    ("cknna", {"k": 2}),
    ("jaccard_knn", {"k": 1}),
    ("ridge", {"score": "r2"}),
    ("ridge", {"alpha_scale": "absolute", "alphas": (1e-8, 1e-3, 1e2)}),
    ("ridge", {"seed": None, "cv": 3, "n_targets_batch": 2}),
    ("pls", {"score": "r2", "seed": None}),
    ("pls", {"cv": 10, "seed": 7}),
    ("gulp", {"lam": 0.1}),
    ("distance_correlation", {"estimator": "unbiased"}),
    ("riemannian", {"eps": 1e-2}),
    ("magnitude_difference", {"statistic": "mean_norm"}),
    ("uniformity_difference", {"normalize": False, "t": 0.5}),
    ("rsm_norm_difference", {"rdm": "sqeuclidean"}),
    ("rsm_norm_difference", {"rdm": "cosine"}),
    ("rsm_norm_difference", {"rdm": "correlation"}),
]

CONFIGS = [(info.name, {}) for info in repalign.list_measures()] + VARIANTS


def _id(config):
    name, params = config
    return name + "".join(f"-{k}={v}" for k, v in params.items())


@pytest.fixture(params=CONFIGS, ids=[_id(c) for c in CONFIGS])
def config(request):
    return request.param


@pytest.fixture
def m(config):
    name, params = config
    return repalign.get(name, **params)


def _transform(kind, Y, rng):
    d = Y.shape[1]
    if kind == "orthogonal":
        return Y @ random_orthogonal(d, rng)
    if kind == "isotropic_scale":
        return 3.7 * Y
    if kind == "translation":
        return Y + rng.standard_normal(d) * 5
    if kind == "permutation":
        return Y[:, rng.permutation(d)]
    if kind == "invertible_linear":
        return Y @ (rng.standard_normal((d, d)) + 2 * np.eye(d))
    raise AssertionError(kind)


#: (configuration, check) for every registered configuration and every promise it makes.
CONTRACT = [(config, check.name) for config in CONFIGS
            for check in measure_checks(repalign.get(config[0], **config[1]))]


@pytest.mark.parametrize("config, promise", CONTRACT,
                         ids=[f"{_id(c)}-{p}" for c, p in CONTRACT])
def test_measure_keeps_its_promise(config, promise):
    """repalign.testing's public contract checks, one promise at a time."""
    m = repalign.get(config[0], **config[1])
    (check,) = [c for c in measure_checks(m) if c.name == promise]
    check()


def test_backends_agree_with_numpy(m, backend):
    X, Y = correlated_pair()
    expected = m(X, Y)
    got = m(to_backend(X, backend), to_backend(Y, backend))
    assert type(got) is float
    assert got == pytest.approx(expected, abs=tolerance(backend))


def test_prepared_stays_on_input_library(m, backend):
    X, _ = correlated_pair()
    Xb = to_backend(X, backend)
    state = m.prepare(Xb)
    xp = array_api_compat.array_namespace(Xb)
    assert state.arrays()
    for arr in state.arrays():
        assert array_api_compat.array_namespace(arr) is xp
        assert array_api_compat.device(arr) == array_api_compat.device(Xb)
        if xp.isdtype(arr.dtype, "real floating"):
            assert str(arr.dtype) == str(Xb.dtype)
        else:  # index arrays (e.g. neighbour lists)
            assert xp.isdtype(arr.dtype, "integral")


def test_mixed_precision_is_computed_in_float64(m):
    X, Y = correlated_pair()
    assert m(X.astype(np.float32), Y) == pytest.approx(
        m(X.astype(np.float32).astype(np.float64), Y), abs=1e-12)


def test_integer_input_is_accepted(m):
    rng = np.random.default_rng(3)
    X = rng.integers(-5, 6, size=(30, 4))
    Y = X @ rng.integers(-2, 3, size=(4, 6)) + rng.integers(-1, 2, size=(30, 6))
    assert m(X, Y) == m(X.astype(float), Y.astype(float))


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("shape", [(40,), (40, 3, 2)])
def test_rejects_wrong_ndim(m, shape):
    X, _ = correlated_pair()
    bad = np.ones(shape)
    with pytest.raises(ValueError, match=r"Y must be a 2-D array .* got a \d-D array"):
        m(X, bad)
    with pytest.raises(ValueError, match=r"X must be a 2-D array"):
        m.prepare(bad)


@pytest.mark.parametrize("bad_value, what", [(np.nan, "1 NaN"), (np.inf, "1 infinite")])
def test_rejects_non_finite(m, bad_value, what):
    X, Y = correlated_pair()
    Y = Y.copy()
    Y[3, 2] = bad_value
    with pytest.raises(ValueError, match=rf"Y must be finite; got .*{what.split()[1]}"):
        m(X, Y)


def test_rejects_constant_representation(m):
    X, _ = correlated_pair()
    const = np.ones_like(X) * 2.5
    with pytest.raises(ValueError, match=r"^X[ :]"):
        m(const, X)


def test_rejects_non_numeric(m):
    X, _ = correlated_pair()
    with pytest.raises(TypeError, match=r"Y must hold real numbers"):
        m(X, np.array([["a"] * 3] * 40))
    with pytest.raises(TypeError, match=r"Y must be real; got complex"):
        m(X, X.astype(complex))


def test_rejects_mixed_libraries(m):
    torch = pytest.importorskip("torch")
    X, Y = correlated_pair()
    with pytest.raises(TypeError, match=r"X and Y must be arrays of one library"):
        m(X, torch.as_tensor(Y))


def test_rejects_mixed_devices(m):
    xs = pytest.importorskip("array_api_strict")
    X, Y = correlated_pair()
    Xa = xs.asarray(X, device=xs.Device("device1"))
    Ya = xs.asarray(Y, device=xs.Device("device2"))
    with pytest.raises(ValueError, match=r"X is on device .* but Y is on device"):
        m(Xa, Ya)


def test_pair_rejects_foreign_state(m):
    X, Y = correlated_pair()
    other = repalign.get("cka") if m.name != "cka" else repalign.get("rsa")
    with pytest.raises(ValueError, match=rf"a was prepared by {other.name}"):
        m.pair(other.prepare(X), m.prepare(Y))
    with pytest.raises(TypeError, match=r"b must be a Prepared"):
        m.pair(m.prepare(X), Y)


def test_pair_rejects_states_of_different_stimuli(m):
    X, Y = correlated_pair()
    with pytest.raises(ValueError, match=r"a has 40 stimuli but b has 30"):
        m.pair(m.prepare(X), m.prepare(Y[:30]))


# ------------------------------------------------------------------ properties


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(12, 40), dx=st.integers(3, 6),
       dy=st.integers(3, 6), config=st.sampled_from(CONFIGS))
def test_properties_on_random_shapes(seed, n, dx, dy, config):
    name, params = config
    m = repalign.get(name, **params)
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=seed, noise=1.0)
    value = m(X, Y)
    low, high = m.bounds
    assert low - 1e-9 <= value <= high + 1e-9
    if m.symmetric:
        assert value == pytest.approx(m(Y, X), abs=1e-9)
    rng = np.random.default_rng(seed)
    for kind in m.invariances:
        assert m(X, _transform(kind, Y, rng)) == pytest.approx(value, abs=1e-7)
