"""The bad-input catalogue: every registered measure x every kind of bad or degenerate input.

Each case states the one acceptable outcome: a correct value (checked against a
float64 reference, or against the value the measure's declared invariance
promises), a warning with a value, or a clear error that names the argument and
says what was expected. A silently wrong number fails the case.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import repalign
from repalign import DegenerateWarning

from .test_common import CONFIGS, _id

torch = pytest.importorskip("torch")

N = 40


def _pair(n=N, dx=5, dy=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx))
    return X, np.tanh(X @ rng.standard_normal((dx, dy))) + 0.5 * rng.standard_normal((n, dy))


def _value(m, A, B):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWarning)
        return m(A, B)


def _error(m, A, B, error, says):
    with pytest.raises(error) as info:
        _value(m, A, B)
    assert says in str(info.value), f"the {error.__name__} does not say {says!r}: {info.value}"


def _same(value, expected, rtol):
    assert abs(value - expected) <= rtol * max(1.0, abs(expected)), (value, expected)


# ---------------------------------------------------------------------- the cases
def mismatched_stimuli(m, X, Y):
    _error(m, X, Y[:-1], ValueError, f"X has {N} stimuli but Y has {N - 1}")


def too_few_stimuli(m, X, Y):
    k = m.min_stimuli - 1
    _error(m, X[:k], Y[:k], ValueError, f"at least {m.min_stimuli}")


def nan(m, X, Y):
    Y = Y.copy()
    Y[3, 2] = np.nan
    _error(m, X, Y, ValueError, "Y must be finite; got 1 NaN")


def infinite(m, X, Y):
    Y = Y.copy()
    Y[0, 0] = -np.inf
    _error(m, X, Y, ValueError, "Y must be finite; got 0 NaN and 1 infinite")


def one_d(m, X, Y):
    _error(m, X, Y[:, 0], ValueError, "Y must be a 2-D array")


def three_d(m, X, Y):
    _error(m, X, Y[:, :, None], ValueError, "Y must be a 2-D array")


def strings(m, X, Y):
    _error(m, X, np.array([["a"] * 3] * N), TypeError, "Y must hold real numbers")


def objects(m, X, Y):
    _error(m, X, np.array([[object()] * 3] * N), TypeError, "Y must hold real numbers")


def complex_values(m, X, Y):
    _error(m, X, Y.astype(complex), TypeError, "Y must be real")


def no_stimuli(m, X, Y):
    _error(m, X[:0], Y[:0], ValueError, "X has 0 stimuli")


def no_features(m, X, Y):
    _error(m, X, Y[:, :0], ValueError, "Y has no features")


def constant_rows(m, X, Y):
    _error(m, X, np.tile(Y[:1], (N, 1)), ValueError, f"Y does not vary across stimuli (all {N}")


def dead_float32_layer(m, X, Y):
    """A constant layer computed in float32: its rows differ by rounding alone."""
    rng = np.random.default_rng(5)
    row = (rng.standard_normal(16) * 3 + 2).astype(np.float32)
    dead = row * (1 + np.float32(6e-8) * rng.standard_normal((N, 16)).astype(np.float32))
    _error(m, X.astype(np.float32), dead, ValueError, "Y does not vary across stimuli (its rows")


def constant_features(m, X, Y):
    """Two extra units that never vary: a value (unchanged where translations are
    ignored, as centring removes such units), or a clear error naming the units."""
    wider = np.hstack([Y, np.full((N, 2), 3.5)])
    try:
        value = _value(m, X, wider)
    except ValueError as err:
        assert str(err).startswith("Y") and "constant" in str(err), err
        return "error"
    assert np.isfinite(value)
    if "translation" in m.invariances and m.name != "permutation_metric":
        _same(value, _value(m, X, Y), 1e-9)
    return "value"


def float16(m, X, Y):
    """Half precision is computed in float32: the float64 value of the same rounded data."""
    A, B = X.astype(np.float16), Y.astype(np.float16)
    value = _value(m, A, B)
    _same(value, _value(m, A.astype(np.float64), B.astype(np.float64)), 1e-4)


def huge_scale(m, X, Y):
    _scaled(m, X, Y, 1e150)


def tiny_scale(m, X, Y):
    _scaled(m, X, Y, 1e-150)


def _scaled(m, X, Y, factor):
    if "isotropic_scale" in m.invariances:
        _same(_value(m, factor * X, factor * Y), _value(m, X, Y), 1e-9)
        return "value"
    _error(m, factor * X, factor * Y, ValueError, "rescale it")
    return "error"


def large_offset(m, X, Y):
    """X + 1e6: exact up to the input's own rounding where translations are ignored."""
    value = _value(m, X + 1e6, Y - 1e6)
    assert np.isfinite(value)
    if "translation" in m.invariances:
        _same(value, _value(m, X, Y), 1e-6)


def float32_offset(m, X, Y):
    """float32 values of about 1e5 varying by about 1: few digits are left, and a warning
    says so."""
    A = (X + 1e5).astype(np.float32)
    with pytest.warns(DegenerateWarning, match="significant digits"):
        try:
            m(A, Y.astype(np.float32))
        except ValueError as err:  # a measure undefined on these values says why
            assert str(err).startswith(("X", "Y")), err
            return "error"
    return "warning"


#: The measures whose values are meaningless with at least as many features as stimuli.
FORCED_BY_WIDTH = {"cca", "svcca", "pwcca", "linear_regression", "eigenspace_overlap"}


def many_features(m, X, Y):
    """d >> n: a value, with a warning where unrelated representations score trivially."""
    rng = np.random.default_rng(7)
    A, B = rng.standard_normal((20, 200)), rng.standard_normal((20, 120))
    forced = (m.name in FORCED_BY_WIDTH and m.params.get("dims") is None
              or (m.name == "cka" and m.params["estimator"] == "biased")
              or (m.name == "gulp" and m.params["lam"] == 0)
              or (m.name == "shape_metric" and m.params["alpha"] == 0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = m(A, B)
        except ValueError as err:
            assert str(err).startswith(("X", "Y", m.name)), err
            return "error"
    warned = any(issubclass(w.category, DegenerateWarning) for w in caught)
    assert np.isfinite(value)
    if forced:
        assert warned, f"{m.name}: no warning for {value} at d >> n"
    return "warning" if warned else "value"


def duplicated_stimuli(m, X, Y):
    idx = np.r_[np.arange(N), np.arange(5)]
    assert np.isfinite(_value(m, X[idx], Y[idx]))


def non_contiguous(m, X, Y):
    wide = np.repeat(Y, 2, axis=1)[:, ::2]
    assert not wide.flags.c_contiguous
    _same(_value(m, np.asfortranarray(X), wide), _value(m, X, Y), 1e-12)


def read_only(m, X, Y):
    A, B = X.copy(), Y.copy()
    A.setflags(write=False)
    B.setflags(write=False)
    _same(_value(m, A, B), _value(m, X, Y), 0)


def nested_lists(m, X, Y):
    _same(_value(m, X.tolist(), Y.tolist()), _value(m, X, Y), 0)


def requires_grad(m, X, Y):
    A, B = torch.tensor(X, requires_grad=True), torch.tensor(Y, requires_grad=True)
    if not m.capabilities.differentiable:
        _error(m, A, B, ValueError, f"X requires grad, but {m.name} takes no gradient")
        return
    value = _value(m, A, B)
    assert value.ndim == 0 and value.requires_grad, value
    _same(float(value), _value(m, X, Y), 1e-12)


def mixed_libraries(m, X, Y):
    _error(m, X, torch.as_tensor(Y), TypeError, "X and Y must be arrays of one library")


def mixed_devices(m, X, Y):
    xs = pytest.importorskip("array_api_strict")
    A = xs.asarray(X, device=xs.Device("device1"))
    B = xs.asarray(Y, device=xs.Device("device2"))
    _error(m, A, B, ValueError, "X is on device")


CASES = [mismatched_stimuli, too_few_stimuli, nan, infinite, one_d, three_d, strings, objects,
         complex_values, no_stimuli, no_features, constant_rows, dead_float32_layer,
         constant_features, float16, huge_scale, tiny_scale, large_offset, float32_offset,
         many_features, duplicated_stimuli, non_contiguous, read_only, nested_lists,
         requires_grad, mixed_libraries, mixed_devices]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("config", CONFIGS, ids=[_id(c) for c in CONFIGS])
def test_each_bad_input_gets_its_one_acceptable_outcome(config, case):
    m = repalign.get(config[0], **config[1])
    X, Y = _pair()
    case(m, X, Y)


def test_too_few_stimuli_names_the_measure_and_its_parameters():
    X, Y = _pair()
    with pytest.raises(ValueError, match=r"X has 40 stimuli \(rows\) but mutual_knn\(k=300\) "
                                         r"needs at least 302"):
        repalign.measure("mutual_knn", X, Y, k=300)
