"""The ``dtype`` parameter: float32 computation where it is safe, a clear refusal elsewhere."""

import numpy as np
import pytest

import repalign

rng = np.random.default_rng(0)
_N, _D = 300, 40
X = rng.standard_normal((_N, _D))
Y = X @ rng.standard_normal((_D, _D)) / np.sqrt(_D) + 0.5 * rng.standard_normal((_N, _D))

# (name, params, documented bound on the relative error of float32 against float64)
FLOAT32 = [
    ("cka", {}, 1e-5),
    ("cka", {"estimator": "unbiased"}, 1e-5),
    ("cka", {"kernel": "rbf"}, 1e-5),
    ("cka", {"kernel": "rbf", "estimator": "unbiased"}, 1e-5),
    ("rsa", {}, 1e-5),
    ("rsa", {"rdm": "euclidean", "compare": "pearson"}, 1e-5),
    ("procrustes", {}, 1e-5),
    ("nbs", {}, 1e-5),
    ("bures", {}, 1e-5),
    ("shape_metric", {"alpha": 0.5}, 1e-5),
    ("mutual_knn", {}, 1e-5),
    ("jaccard_knn", {}, 1e-5),
    ("cknna", {}, 1e-5),
    ("cycle_knn", {}, 1e-5),
    ("rank_similarity", {}, 1e-5),
    ("second_order_cosine", {}, 1e-5),
]


@pytest.mark.parametrize(("name", "params", "bound"), FLOAT32,
                         ids=[f"{n}{p}" for n, p, _ in FLOAT32])
def test_float32_is_within_its_documented_error_of_float64(name, params, bound):
    m32 = repalign.get(name, dtype="float32", **params)
    state = m32.prepare(X)
    assert state.dtype == np.float32
    assert all(v.dtype != np.float64 for v in state.arrays())
    v64 = repalign.measure(name, X, Y, **params)
    v32 = m32(X, Y)
    assert abs(v32 - v64) <= bound * abs(v64)


def test_float64_dtype_casts_float32_input_up():
    m = repalign.get("cka", dtype="float64")
    assert m.prepare(X.astype(np.float32)).dtype == np.float64
    assert m(X.astype(np.float32), Y) == repalign.measure(
        "cka", X.astype(np.float32).astype(np.float64), Y)


def test_default_dtype_keeps_the_inputs_precision():
    assert repalign.get("cka").prepare(X.astype(np.float32)).dtype == np.float32
    assert repalign.get("cka").prepare(X).dtype == np.float64


@pytest.mark.parametrize("name", ["cca", "svcca", "pwcca", "ridge", "pls", "linear_regression"])
def test_float32_is_refused_with_the_reason_where_unsafe(name):
    with pytest.raises(ValueError, match=rf"{name}: dtype='float32' is not supported.*because"):
        repalign.get(name, dtype="float32")


def test_an_unknown_dtype_is_rejected():
    with pytest.raises(ValueError, match=r"dtype='float16' is not valid"):
        repalign.get("cka", dtype="float16")


def test_dtype_is_listed_in_params_only_when_set():
    assert "dtype" not in repalign.get("cka").params
    assert repalign.get("cka", dtype="float32").params["dtype"] == "float32"
    a = repalign.get("cka", dtype="float32").prepare(X)
    with pytest.raises(ValueError, match="was prepared by cka with"):
        repalign.get("cka").pair(a, a)
