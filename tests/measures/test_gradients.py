"""Gradients through the measures: 0-d tensors on the autograd graph, checked by finite
differences (``torch.autograd.gradcheck``, float64), finite at repeated singular values,
pointing uphill; the measures without a gradient refuse with their reason.

The contract test (tests/measures/test_common.py) already gradchecks every registered
configuration on a tall pair (more stimuli than features); here: wide pairs (more
features than stimuli, the Gram route), degenerate spectra, a step along the gradient,
the refusals, and what is returned where.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import repalign
from repalign import DegenerateWarning
from repalign.measures import Capabilities

torch = pytest.importorskip("torch")


def _pair(n=12, dx=4, dy=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx))
    Y = np.tanh(X @ rng.standard_normal((dx, dy))) + 0.5 * rng.standard_normal((n, dy))
    return X, Y


def _tensors(*arrays):
    return [torch.tensor(A, requires_grad=True) for A in arrays]


def _value(m, X, Y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWarning)
        return m(X, Y)


def _gradcheck(m, X, Y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWarning)
        assert torch.autograd.gradcheck(lambda A, B: m(A, B), tuple(_tensors(X, Y)))


def _id(config):
    name, params = config
    return name + "".join(f"-{k}={v}" for k, v in params.items())


#: The measures the issue names, with the variants that change the route.
NAMED = [
    ("cka", {}), ("cka", {"estimator": "unbiased"}), ("cka", {"kernel": "rbf"}),
    ("cka", {"kernel": "rbf", "estimator": "unbiased"}),
    ("procrustes", {}), ("bures", {}), ("shape_metric", {"alpha": 0.5}),
    ("shape_metric", {"alpha": 0.5, "distance": "euclidean"}),
    ("cca", {}), ("cca", {"statistic": "mean_r2"}), ("svcca", {"dims": 2}),
    ("rsa", {"compare": "pearson"}), ("rsa", {"rdm": "euclidean", "compare": "cosine"}),
    ("distance_correlation", {}), ("distance_correlation", {"estimator": "unbiased"}),
    ("ridge", {}), ("soft_match", {}),
]


@pytest.mark.parametrize("config", NAMED, ids=[_id(c) for c in NAMED])
def test_named_measures_are_differentiable(config):
    assert repalign.get(config[0], **config[1]).capabilities.differentiable


@pytest.mark.parametrize("config", [c for c in NAMED if c[0] != "ridge"],
                         ids=[_id(c) for c in NAMED if c[0] != "ridge"])
def test_gradcheck_with_more_features_than_stimuli(config):
    """d > n takes the Gram / dual routes (n x n spectral functions)."""
    m = repalign.get(config[0], **config[1])
    X, Y = _pair(n=9, dx=12, dy=14, seed=1)
    value = _value(m, *_tensors(X, Y))
    assert float(value.detach()) == pytest.approx(_value(m, X, Y), rel=1e-9, abs=1e-12)
    _gradcheck(m, X, Y)


# ---------------------------------------------------------------- degenerate spectra
def _spectrum(values, n=12, seed=2):
    """A centred n x len(values) representation with exactly these singular values."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, len(values)))
    U, _ = np.linalg.qr(A - A.mean(axis=0))
    V, _ = np.linalg.qr(rng.standard_normal((len(values), len(values))))
    return U * np.asarray(values, dtype=float) @ V.T


#: Measures whose float path reads singular vectors (the differentiable one does not).
SPECTRAL = [("procrustes", {}), ("shape_metric", {"alpha": 0.0}),
            ("shape_metric", {"alpha": 0.5}), ("cca", {}), ("svcca", {"dims": 3}),
            ("linear_regression", {}), ("eigenspace_overlap", {}), ("gulp", {"lam": 0.1}),
            ("aligned_cosine", {}), ("ridge", {})]


def test_the_degenerate_spectrum_breaks_the_singular_vector_gradient():
    """The inputs below are degenerate enough to matter: through torch's SVD backward the
    gradient of ``||U U^T Y||^2`` (a function of the projector only) is wrong."""
    X = torch.tensor(_spectrum([2.0, 2.0, 2.0, 1.0]), requires_grad=True)
    Y = torch.tensor(_pair()[1])

    def explained(A):
        U, _, _ = torch.linalg.svd(A, full_matrices=False)
        return torch.sum((U.T @ Y) ** 2)

    assert not torch.autograd.gradcheck(explained, (X,), raise_exception=False)


@pytest.mark.parametrize("gap", [0.0, 1e-9])
@pytest.mark.parametrize("config", SPECTRAL, ids=[_id(c) for c in SPECTRAL])
def test_gradients_stay_finite_and_exact_at_repeated_singular_values(config, gap):
    """Three equal (or nearly equal) leading singular values in X, two in Y."""
    m = repalign.get(config[0], **config[1])
    X = _spectrum([2.0, 2.0 + gap, 2.0 + 2 * gap, 1.0])
    Y = _spectrum([1.5, 1.5 + gap, 0.7, 0.3, 0.1], seed=3) + 0.3 * X @ np.ones((4, 5))
    Xt, Yt = _tensors(X, Y)
    value = _value(m, Xt, Yt)
    assert float(value.detach()) == pytest.approx(_value(m, X, Y), rel=1e-9, abs=1e-12)
    value.backward()
    assert bool(torch.isfinite(Xt.grad).all()) and bool(torch.isfinite(Yt.grad).all())
    _gradcheck(m, X, Y)


# ---------------------------------------------------------------- uphill
@pytest.mark.parametrize("config", NAMED, ids=[_id(c) for c in NAMED])
def test_a_gradient_step_on_X_moves_the_measure_as_its_first_order_term_says(config):
    """``m(X + h g) - m(X) = h |g|^2 + O(h^2)`` for ``g = grad_X m`` (uphill for a
    similarity; a step against the gradient brings a distance down)."""
    m = repalign.get(config[0], **config[1])
    X, Y = _pair(n=16, seed=4)
    Xt = torch.tensor(X, requires_grad=True)
    before = _value(m, Xt, torch.tensor(Y))
    (g,) = torch.autograd.grad(before, Xt)
    g = g.numpy()
    sign = 1.0 if m.kind == "similarity" else -1.0
    h = 1e-3 / np.linalg.norm(g)
    change = _value(m, X + sign * h * g, Y) - float(before.detach())
    assert sign * change > 0
    assert sign * change == pytest.approx(h * np.sum(g * g), rel=0.05)


# ---------------------------------------------------------------- refusals
REFUSED = [
    (("rsa", {}), "compare='spearman' correlates ranks"),
    (("rsa", {"compare": "kendall_tau_a"}), "counts concordant pairs"),
    (("rsa", {"compare": "rho_a"}), "compare='rho_a' correlates ranks"),
    (("mutual_knn", {}), "nearest-neighbour sets are piecewise constant"),
    (("cknna", {}), "nearest-neighbour sets are piecewise constant"),
    (("rank_similarity", {}), "nearest-neighbour sets are piecewise constant"),
    (("linear_match", {}), "a hard matching of units is a discrete choice"),
    (("permutation_metric", {}), "use soft_match"),
    (("svcca", {}), "pass dims=k"),
    (("pwcca", {}), "canonical directions"),
    (("pls", {}), "deflated cross-covariances"),
    (("riemannian", {}), "singular vectors of each representation"),
]


@pytest.mark.parametrize("config, reason", REFUSED, ids=[_id(c) for c, _ in REFUSED])
def test_measures_without_a_gradient_refuse_with_their_reason(config, reason):
    m = repalign.get(config[0], **config[1])
    assert not m.capabilities.differentiable
    X, Y = _pair(n=40)
    Xt = torch.tensor(X, requires_grad=True)
    with pytest.raises(ValueError, match=f"{m.name}(\\(.*\\))?: X requires grad, but "
                                         f"{m.name} takes no gradient") as info:
        _value(m, Xt, torch.tensor(Y))
    assert reason in str(info.value)
    assert "Detach the inputs for a float value" in str(info.value)
    with pytest.raises(ValueError, match="Y requires grad"):
        _value(m, torch.tensor(X), torch.tensor(Y, requires_grad=True))
    assert type(_value(m, Xt.detach(), torch.tensor(Y))) is float


def test_every_registered_measure_declares_a_gradient_or_a_reason():
    generic = Capabilities().gradient_refusal
    for info in repalign.list_measures():
        caps = repalign.get(info.name).capabilities
        assert caps.differentiable or caps.gradient_refusal != generic, info.name


def test_a_measure_without_a_declared_reason_gives_the_generic_one():
    caps = Capabilities()
    assert not caps.differentiable
    assert "does not declare capabilities.differentiable" in caps.gradient_refusal
    assert Capabilities(differentiable=True).gradient_refusal == ""


def test_capabilities_refuse_a_reason_for_a_differentiable_measure():
    with pytest.raises(ValueError, match="give differentiable_refusal only when "
                                         "differentiable is False"):
        Capabilities(differentiable=True, differentiable_refusal="because")


# ---------------------------------------------------------------- what comes back where
def test_measure_returns_a_0d_tensor_on_the_inputs_device_only_when_grad_is_tracked():
    X, Y = _pair()
    Xt, Yt = _tensors(X, Y)
    value = repalign.measure("cka", Xt, Yt)
    assert isinstance(value, torch.Tensor) and value.ndim == 0 and value.requires_grad
    assert value.device == Xt.device and value.dtype == torch.float64
    assert type(repalign.measure("cka", X, Y)) is float
    assert type(repalign.measure("cka", Xt.detach(), Yt.detach())) is float
    with torch.no_grad():
        assert type(repalign.measure("cka", Xt, Yt)) is float


def test_only_the_input_that_requires_grad_gets_one():
    X, Y = _pair()
    Xt = torch.tensor(X, requires_grad=True)
    Yt = torch.tensor(Y)
    repalign.measure("procrustes", Xt, Yt).backward()
    assert Xt.grad is not None and Yt.grad is None


def test_float32_inputs_give_a_float32_tensor_close_to_float64():
    X, Y = _pair()
    value = repalign.measure("cka", torch.tensor(X, dtype=torch.float32, requires_grad=True),
                             torch.tensor(Y, dtype=torch.float32))
    assert value.dtype == torch.float32
    assert float(value.detach()) == pytest.approx(repalign.measure("cka", X, Y), rel=1e-5)


def test_pair_of_prepared_states_and_pair_resampled_keep_the_graph():
    m = repalign.get("rsa", compare="pearson")
    X, Y = _pair(n=20)
    Xt, Yt = _tensors(X, Y)
    a, b = m.prepare(Xt), m.prepare(Yt)
    assert m.pair(a, b).requires_grad
    idx = np.arange(2, 17)
    value = m.pair_resampled(a, b, idx)
    assert value.requires_grad
    assert float(value.detach()) == pytest.approx(m(X[idx], Y[idx]), rel=1e-12)
    perm = np.roll(np.arange(20), 3)
    permuted = m.pair(a, m.permute(b, perm))
    assert permuted.requires_grad
    assert float(permuted.detach()) == pytest.approx(m(X, Y[perm]), rel=1e-12)


def test_a_block_of_pairs_refuses_states_on_the_graph():
    m = repalign.get("cka")
    X, Y = _pair()
    states = [m.prepare(A) for A in _tensors(X, Y)]
    with pytest.raises(ValueError, match="cka.pair_block: the states carry an autograd "
                                         "graph.*call pair for each pair"):
        m.pair_block(states, states)


def test_held_out_refuses_inputs_that_require_grad():
    m = repalign.get("procrustes")
    X, Y = _pair(n=20)
    Xt, Yt = _tensors(X, Y)
    with pytest.raises(ValueError, match="procrustes.held_out: the inputs require grad"):
        m.held_out(Xt[:10], Yt[:10], Xt[10:], Yt[10:])


def test_soft_match_gradient_is_its_transport_plan():
    """Danskin: d value / d C = T, the optimal plan (each unit of X matched to one of Y
    when d_x = d_y), so the gradient with respect to a matched unit is that of its
    correlation with its match."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 3))
    perm = np.array([2, 0, 1])
    Y = X[:, perm] + 0.3 * rng.standard_normal((30, 3))
    Xt = torch.tensor(X, requires_grad=True)
    value = repalign.measure("soft_match", Xt, torch.tensor(Y))
    (g,) = torch.autograd.grad(value, Xt)
    Xz = torch.tensor(X, requires_grad=True)
    Yz = torch.tensor(Y)

    def corr(a, b):
        a, b = a - a.mean(), b - b.mean()
        return torch.sum(a * b) / torch.sqrt(torch.sum(a * a) * torch.sum(b * b))

    matched = sum(corr(Xz[:, perm[j]], Yz[:, j]) for j in range(3)) / 3
    (expected,) = torch.autograd.grad(matched, Xz)
    assert float(value.detach()) == pytest.approx(float(matched.detach()), rel=1e-12)
    assert torch.allclose(g, expected, rtol=1e-10, atol=1e-12)
