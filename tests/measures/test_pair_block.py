"""``Measure.pair_block``: a block of pairs at once, equal to a loop over ``pair``.

Every registered measure (through the default loop) and the batched paths of
CKA (feature and Gram routes, chunked by stimuli) and RSA (dot-product
comparators, chunked by RDM entries) are checked against ``pair`` of the same
states and against closed forms.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr

import repalign
from repalign._validation import rescaled
from repalign.measures.cka import CKA

from ..conftest import BACKENDS, correlated_pair, to_backend
from .test_common import CONFIGS, _id


def loop(m, states_a, states_b):
    """The reference: ``pair`` for each pair."""
    return np.array([[m.pair(a, b) for b in states_b] for a in states_a])


def three_states(m, n=40):
    X, Y = correlated_pair(n=n)
    Z = np.cos(X @ np.random.default_rng(1).standard_normal((X.shape[1], 6)))
    return [m.prepare(R) for R in (X, Y, Z)]


@pytest.mark.parametrize("config", CONFIGS, ids=[_id(c) for c in CONFIGS])
def test_pair_block_equals_pair_for_every_measure(config):
    name, params = config
    m = repalign.get(name, **params)
    # float32 measures: a block and a pair round differently in float32
    tol = 1e-5 if params.get("dtype") == "float32" else 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        states = three_states(m)
        reference = loop(m, states, states)
        block = m.pair_block(states, states)
        assert block.dtype == np.float64 and block.shape == (3, 3)
        np.testing.assert_allclose(block, reference, rtol=0, atol=tol)
        mask = np.array([[True, False], [False, True]])
        part = m.pair_block(states[:2], states[1:], mask)
    np.testing.assert_allclose(part[mask], reference[:2, 1:][mask], rtol=0, atol=tol)
    assert np.isnan(part[~mask]).all()


def representations(n, dims, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 4))
    return [np.tanh(Z @ rng.standard_normal((4, d))) + 0.3 * rng.standard_normal((n, d))
            for d in dims]


def linear_cka(X, Y):
    """Biased linear CKA from its closed form (Kornblith et al. 2019, eq. 5)."""
    X, Y = X - X.mean(0), Y - Y.mean(0)
    return np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y))


@pytest.fixture
def routes(monkeypatch):
    """Record which route each CKA block took."""
    taken = []
    for route in ("_feature_block", "_gram_block"):
        original = getattr(CKA, route)

        def recorded(self, *args, _original=original, _route=route):
            taken.append(_route)
            return _original(self, *args)

        monkeypatch.setattr(CKA, route, recorded)
    return taken


@pytest.mark.parametrize("params", [{}, {"estimator": "unbiased"}, {"kernel": "rbf"},
                                    {"kernel": "rbf", "estimator": "unbiased"}],
                         ids=["linear", "unbiased", "rbf", "rbf-unbiased"])
@pytest.mark.parametrize("dims, route", [
    ((3, 5, 4, 6), "_feature_block"),      # summed features < n: the cross products of features
    ((20, 35, 28, 31), "_gram_block"),     # summed features > n: pieces of the stimulus Grams
    ((3, 50, 61, 12), "_gram_block"),      # some states hold a Gram (d >= n)
])
@pytest.mark.parametrize("memory", [2**30, 3000], ids=["one-piece", "chunked"])
def test_cka_routes_equal_pair_and_the_closed_form(params, dims, route, memory, routes):
    m = repalign.get("cka", **params)
    reps = representations(50, dims)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        states = [m.prepare(X) for X in reps]
        reference = loop(m, states, states)
        square = m.pair_block(states, states, memory=memory)
        rectangle = m.pair_block(states[:1], states[1:], memory=memory)
    expected = route if params.get("kernel") != "rbf" else "_gram_block"
    if memory == 3000 and expected == "_feature_block":
        expected = "_gram_block"  # the feature cross products do not fit 1.5 kB
    assert routes[0] == expected  # the square block (the rectangle may take the other)
    np.testing.assert_allclose(square, reference, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rectangle, reference[:1, 1:], rtol=0, atol=1e-12)
    if not params:
        closed = np.array([[linear_cka(X, Y) for Y in reps] for X in reps])
        np.testing.assert_allclose(square, closed, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dims", [(3, 5, 4, 6), (20, 35, 28, 31)], ids=["features", "grams"])
def test_biased_linear_cka_norms_are_read_off_a_fresh_square_block(dims):
    """Prepared biased linear states defer ``||X_c^T X_c||_F``; a square block fills it
    from its diagonal, equal to NumPy's norm of the centred cross product."""
    m = repalign.get("cka")
    reps = representations(50, dims)
    states = [m.prepare(X) for X in reps]
    assert not any("norm" in s.data for s in states)
    square = m.pair_block(states, states)
    for X, state in zip(reps, states):
        Xc = rescaled(X, np) - rescaled(X, np).mean(0)  # the state's (power-of-two) scale
        assert state.data["norm"] == pytest.approx(np.linalg.norm(Xc.T @ Xc), rel=1e-13)
    closed = np.array([[linear_cka(X, Y) for Y in reps] for X in reps])
    np.testing.assert_allclose(square, closed, rtol=0, atol=1e-12)
    # a rectangle of fresh states computes the norms it lacks
    fresh = [m.prepare(X) for X in reps]
    np.testing.assert_allclose(m.pair_block(fresh[:2], fresh[2:]), closed[:2, 2:],
                               rtol=0, atol=1e-12)


def test_cka_feature_route_chunked_by_stimuli(monkeypatch):
    m = repalign.get("cka", estimator="unbiased")
    states = [m.prepare(X) for X in representations(200, (2, 3, 2))]
    calls = []
    original = CKA._feature_block

    def spy(self, *args):
        calls.append(args[-1])
        return original(self, *args)

    monkeypatch.setattr(CKA, "_feature_block", spy)
    # 7 features: the cross products take 16 * 49 bytes; 2000 bytes leave rows of 7.
    block = m.pair_block(states, states, memory=2000)
    assert calls == [2000]
    np.testing.assert_allclose(block, loop(m, states, states), rtol=0, atol=1e-12)


@pytest.mark.parametrize("compare", ["spearman", "pearson", "cosine", "rho_a"])
@pytest.mark.parametrize("memory", [2**30, 2000], ids=["one-piece", "chunked"])
def test_rsa_block_equals_pair_and_scipy(compare, memory):
    m = repalign.get("rsa", rdm="euclidean", compare=compare)
    reps = representations(30, (3, 8, 5))
    states = [m.prepare(X) for X in reps]
    assert m.capabilities.batched_pairs
    block = m.pair_block(states, states, memory=memory)
    np.testing.assert_allclose(block, loop(m, states, states), rtol=0, atol=1e-12)
    if compare == "spearman":
        closed = [[spearmanr(pdist(X), pdist(Y)).statistic for Y in reps] for X in reps]
        np.testing.assert_allclose(block, closed, rtol=0, atol=1e-12)


def test_rsa_kendall_loops_over_pair():
    m = repalign.get("rsa", compare="kendall_tau_a")
    assert not m.capabilities.batched_pairs
    states = [m.prepare(X) for X in representations(20, (3, 4))]
    np.testing.assert_allclose(m.pair_block(states, states), loop(m, states, states),
                               rtol=0, atol=1e-12)


def test_mixed_precision_block_computes_each_pair_in_its_wider_dtype():
    m = repalign.get("cka")
    X, Y = representations(40, (5, 7))
    states = [m.prepare(X.astype(np.float32)), m.prepare(Y)]
    np.testing.assert_allclose(m.pair_block(states, states), loop(m, states, states),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b[0] != "numpy"],
                         ids=lambda b: "-".join(b))
@pytest.mark.parametrize("name, params", [("cka", {}), ("cka", {"kernel": "rbf"}),
                                          ("rsa", {})])
def test_block_on_other_array_libraries(backend, name, params):
    m = repalign.get(name, **params)
    reps = representations(30, (3, 40, 6))
    states = [m.prepare(to_backend(X, backend)) for X in reps]
    reference = loop(m, [m.prepare(X) for X in reps], [m.prepare(X) for X in reps])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        block = m.pair_block(states, states)
    assert isinstance(block, np.ndarray)
    np.testing.assert_allclose(block, reference, rtol=0,
                               atol=1e-4 if backend[1] == "float32" else 1e-12)


def test_biased_cka_warns_once_per_block_with_the_count():
    m = repalign.get("cka")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        states = [m.prepare(X) for X in representations(20, (25, 30, 3))]
    with pytest.warns(repalign.DegenerateWarning, match=r"in 3 pair\(s\) of this block") as w:
        m.pair_block(states, states, np.triu(np.ones((3, 3), dtype=bool)))
    assert len(w) == 1


def test_errors_name_the_argument():
    m = repalign.get("cka")
    X, Y = correlated_pair()
    a, b = m.prepare(X), m.prepare(Y)
    other = repalign.get("cka", kernel="rbf").prepare(X)
    short = m.prepare(X[:30])
    cases = [
        ((a, [b]), {}, TypeError, r"cka.pair_block: states_a must be a list of Prepared "
                                  r"states; got Prepared"),
        (([a], "b"), {}, TypeError, "states_b must be a list of Prepared states; got str"),
        (([], [b]), {}, ValueError, "states_a must hold at least one state; got an empty list"),
        (([a], [b, X]), {}, TypeError, r"states_b\[1\] must be a Prepared .*got ndarray"),
        (([a], [other]), {}, ValueError, r"states_b\[0\] was prepared by cka with .*rbf"),
        (([a], [short]), {}, ValueError, r"the states hold \[30, 40\] stimuli"),
        (([a], [b], [[True]]), {}, TypeError, "mask must be a boolean NumPy array; got list"),
        (([a], [b], np.ones((2, 1), dtype=bool)), {}, ValueError,
         r"mask must have shape \(1, 1\) .*got \(2, 1\)"),
        (([a], [b]), {"memory": 0}, ValueError, r"memory=0 is not in \[1, inf\)"),
        (([a], [b]), {"memory": 1.5}, TypeError, "memory must be an integer"),
    ]
    for args, kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            m.pair_block(*args, **kwargs)


def test_a_pair_error_propagates_from_the_default_loop(monkeypatch):
    m = repalign.get("procrustes")
    states = [m.prepare(X) for X in representations(20, (3, 4))]

    def undefined(self, a, b, xp):
        raise ValueError("undefined for this pair")

    monkeypatch.setattr(type(m), "_pair", undefined)
    with pytest.raises(ValueError, match="undefined for this pair"):
        m.pair_block(states, states)


@pytest.mark.parametrize("name, params", [("cka", {}), ("cka", {"estimator": "unbiased"}),
                                          ("cka", {"kernel": "rbf"}), ("rsa", {})])
def test_float32_block_is_within_float32_rounding_of_float64(name, params):
    if "dtype" not in {f.name for f in dataclasses.fields(repalign.get(name))}:
        pytest.skip(f"{name} has no dtype parameter")
    m32, m64 = repalign.get(name, dtype="float32", **params), repalign.get(name, **params)
    reps = representations(60, (3, 20, 70))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        states = [m32.prepare(X) for X in reps]
        block = m32.pair_block(states, states)
        reference = loop(m64, *[[m64.prepare(X) for X in reps]] * 2)
    np.testing.assert_allclose(block, reference, rtol=0, atol=1e-5)
