"""Ridge, PLS and linear regression against scikit-learn fitted fold by fold, and closed forms.

The cross-validated references fit ``RidgeCV`` / ``PLSRegression`` on each
training fold of ``KFold`` (same folds), place the held-out predictions back
in stimulus order and score them with SciPy's ``pearsonr`` or scikit-learn's
``r2_score``.
"""

import warnings

import numpy as np
import pytest
from scipy.linalg import sqrtm
from scipy.stats import pearsonr
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

import repalign
from repalign.measures.predictivity import kfold_blocks

from ..conftest import correlated_pair, random_orthogonal

#: (n, dx, dy): more stimuli than features; X wider than the training folds; few predictors.
SHAPES = [(60, 8, 5), (30, 40, 6), (50, 3, 9)]
ALPHAS = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3)
GRID = tuple(np.logspace(-6, 6, 25))


def _folds(n, cv, seed):
    return KFold(cv, shuffle=seed is not None, random_state=seed).split(np.zeros((n, 1)))


def out_of_fold(fit, X, Y, cv=5, seed=0):
    """Held-out predictions of ``fit(X_train, Y_train, train_index)`` in stimulus order."""
    pred = np.empty_like(Y)
    for train, test in _folds(len(X), cv, seed):
        pred[test] = fit(X[train], Y[train]).predict(X[test])
    return pred


def reference_score(Y, pred, score):
    if score == "r2":
        return r2_score(Y, pred, multioutput="uniform_average")
    return np.mean([pearsonr(pred[:, j], Y[:, j]).statistic for j in range(Y.shape[1])])


def sklearn_pls(k):
    # A tight tolerance makes NIPALS converge to the dominant singular vectors.
    return PLSRegression(k, scale=False, tol=1e-30, max_iter=100_000)


def _data(n, dx, dy, seed=1):
    X, Y = correlated_pair(n=n, dx=dx, dy=dy, seed=seed)
    return X, Y


# ------------------------------------------------------------------ folds


@pytest.mark.parametrize("n, cv, seed", [(12, 5, 0), (37, 5, 3), (40, 3, None), (23, 10, 1)])
def test_folds_are_those_of_sklearn_kfold(n, cv, seed):
    order, bounds = kfold_blocks(n, cv, seed)
    order = np.arange(n) if order is None else order
    expected = [test for _, test in _folds(n, cv, seed)]
    got = [order[start:stop] for start, stop in zip(bounds, bounds[1:])]
    assert len(got) == cv
    for g, e in zip(got, expected):  # KFold lists each test fold sorted
        np.testing.assert_array_equal(np.sort(g), e)


# ------------------------------------------------------------------ ridge


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("score", ["pearson", "r2"])
@pytest.mark.parametrize("seed", [0, None])
def test_ridge_matches_sklearn_ridgecv_per_fold(shape, score, seed):
    X, Y = _data(*shape)
    pred = out_of_fold(lambda x, y: RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(x, y),
                       X, Y, seed=seed)
    got = repalign.measure("ridge", X, Y, alphas=ALPHAS, alpha_scale="absolute",
                           score=score, seed=seed)
    assert got == pytest.approx(reference_score(Y, pred, score), abs=1e-8)


@pytest.mark.parametrize("shape", SHAPES)
def test_ridge_relative_alphas_scale_by_each_folds_top_singular_value(shape):
    X, Y = _data(*shape)
    X = 30.0 * X  # an arbitrary scale, which the relative grid removes

    def fit(x, y):
        s1 = np.linalg.svd(x - x.mean(0), compute_uv=False)[0]
        return RidgeCV(alphas=np.asarray(GRID) * s1**2, alpha_per_target=True).fit(x, y)

    pred = out_of_fold(fit, X, Y, cv=4, seed=2)
    assert repalign.measure("ridge", X, Y, cv=4, seed=2) == pytest.approx(
        reference_score(Y, pred, "pearson"), abs=1e-8)
    assert repalign.measure("ridge", X / 30.0, Y, cv=4, seed=2) == pytest.approx(
        reference_score(Y, pred, "pearson"), abs=1e-8)


def test_ridge_default_grid_is_logspace():
    assert repalign.get("ridge").alphas == pytest.approx(GRID, rel=1e-14)


@pytest.mark.parametrize("batch", [1, 3, 1024])
def test_ridge_target_batches_do_not_change_the_value(batch):
    X, Y = _data(50, 6, 7)
    expected = repalign.measure("ridge", X, Y, n_targets_batch=7)
    assert repalign.measure("ridge", X, Y, n_targets_batch=batch) == pytest.approx(
        expected, abs=1e-12)


def test_ridge_absolute_alphas_depend_on_the_scale_of_x():
    X, Y = _data(50, 6, 7)
    m = repalign.get("ridge", alphas=ALPHAS, alpha_scale="absolute")
    assert abs(m(X, Y) - m(1e-2 * X, Y)) > 1e-4


def test_ridge_alphas_accept_any_sequence_and_store_a_tuple():
    m = repalign.get("ridge", alphas=np.array([1, 10]))
    assert m.alphas == (1.0, 10.0)
    assert repalign.get("ridge", alphas=[1, 10.0]) == m


# ------------------------------------------------------------------ PLS


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("score", ["pearson", "r2"])
def test_pls_matches_sklearn_plsregression_per_fold(shape, k, score):
    X, Y = _data(*shape)
    pred = out_of_fold(lambda x, y: sklearn_pls(k).fit(x, y), X, Y)
    got = repalign.measure("pls", X, Y, n_components=k, score=score)
    assert got == pytest.approx(reference_score(Y, pred, score), abs=1e-8)


def test_pls_default_uses_25_components():
    X, Y = _data(200, 30, 8)
    pred = out_of_fold(lambda x, y: sklearn_pls(25).fit(x, y), X, Y, seed=4)
    assert repalign.measure("pls", X, Y, seed=4) == pytest.approx(
        reference_score(Y, pred, "pearson"), abs=1e-8)


def test_pls_caps_components_at_the_rank_of_the_training_folds():
    # 30 stimuli, 5 folds: 24 training stimuli, centred rank 23 < 25 components.
    X, Y = _data(30, 40, 6)
    pred = out_of_fold(lambda x, y: sklearn_pls(23).fit(x, y), X, Y)
    assert repalign.measure("pls", X, Y) == pytest.approx(
        reference_score(Y, pred, "pearson"), abs=1e-8)


def test_pls_with_all_components_is_least_squares():
    X, Y = _data(60, 8, 5)
    pred = out_of_fold(lambda x, y: LinearRegression().fit(x, y), X, Y)
    assert repalign.measure("pls", X, Y, n_components=8, score="r2") == pytest.approx(
        reference_score(Y, pred, "r2"), abs=1e-10)


def test_pls_is_close_to_sklearn_at_its_default_tolerance():
    # scikit-learn stops NIPALS at tol=1e-6 (squared change of the weights).
    X, Y = _data(60, 8, 5)
    pred = out_of_fold(lambda x, y: PLSRegression(3, scale=False).fit(x, y), X, Y)
    assert repalign.measure("pls", X, Y, n_components=3) == pytest.approx(
        reference_score(Y, pred, "pearson"), abs=1e-3)


# ------------------------------------------------------------------ both cross-validated


@pytest.mark.parametrize("name", ["ridge", "pls"])
def test_invariant_to_rotations_of_x_but_not_of_y(name):
    X, Y = _data(50, 6, 7)
    rng = np.random.default_rng(5)
    m = repalign.get(name, n_components=3) if name == "pls" else repalign.get(name)
    value = m(X, Y)
    assert m(X @ random_orthogonal(6, rng), Y) == pytest.approx(value, abs=1e-9)
    assert abs(m(X, Y @ random_orthogonal(7, rng)) - value) > 1e-4


@pytest.mark.parametrize("name", ["ridge", "pls"])
def test_noiseless_linear_target_is_predicted_perfectly(name):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 6))
    Y = X @ rng.standard_normal((6, 4)) + 3.0
    assert repalign.measure(name, X, Y) == pytest.approx(1.0, abs=1e-8)
    assert repalign.measure(name, X, Y, score="r2") == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("name", ["ridge", "pls"])
def test_constant_predictor_features_change_nothing(name):
    X, Y = _data(50, 6, 7)
    X_const = np.column_stack([X, np.full(50, 0.1)])
    assert repalign.measure(name, X_const, Y) == pytest.approx(
        repalign.measure(name, X, Y), abs=1e-10)


@pytest.mark.parametrize("name", ["ridge", "pls"])
def test_rejects_constant_target_units(name):
    X, Y = _data(50, 6, 7)
    Y[:, 2] = 0.1
    with pytest.raises(ValueError, match=r"^Y \(the target\) has 1 unit\(s\) that do not vary "
                                         r"across stimuli \(columns \[2\]\)"):
        repalign.measure(name, X, Y)


@pytest.mark.parametrize("name", ["ridge", "pls"])
def test_warns_when_training_folds_are_small(name):
    X, Y = _data(13, 4, 3)
    with pytest.warns(repalign.DegenerateWarning,
                      match=r"12 stimuli and cv=5, a training fold holds only 9 stimuli"):
        repalign.measure(name, X[:12], Y[:12])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repalign.measure(name, X, Y)  # 13 stimuli: training folds of 10


@pytest.mark.parametrize("name", ["ridge", "pls"])
def test_needs_a_stimulus_per_fold_and_three_per_training_fold(name):
    X, Y = _data(40, 3, 3)
    assert repalign.get(name).min_stimuli == 5
    assert repalign.get(name, cv=2).min_stimuli == 6
    assert repalign.get(name, cv=3).min_stimuli == 5
    with pytest.raises(ValueError, match=r"X has 5 stimuli .* at least 6"):
        repalign.measure(name, X[:5], Y[:5], cv=2)


@pytest.mark.parametrize("params, error, match", [
    ({"cv": 1}, ValueError, r"ridge: cv=1 is not in \[2, inf\)"),
    ({"score": "spearman"}, ValueError, r"ridge: score='spearman' is not valid"),
    ({"seed": -1}, ValueError, r"ridge: seed=-1 is not in"),
    ({"alphas": ()}, ValueError, r"ridge: alphas must be a non-empty sequence of positive"),
    ({"alphas": (1.0, -1.0)}, ValueError, r"ridge: alphas must be .* got \(1.0, -1.0\)"),
    ({"alphas": (1.0, float("inf"))}, ValueError, r"ridge: alphas must be .* positive finite"),
    ({"alphas": 1.0}, TypeError, r"ridge: alphas must be a sequence of positive numbers; got 1.0"),
    ({"alphas": "abc"}, TypeError, r"ridge: alphas must be a sequence"),
    ({"alphas": (1.0, "a")}, TypeError, r"ridge: alphas must hold real numbers"),
    ({"alpha_scale": "log"}, ValueError, r"ridge: alpha_scale='log' is not valid"),
    ({"n_targets_batch": 0}, ValueError, r"ridge: n_targets_batch=0 is not in"),
])
def test_ridge_rejects_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        repalign.get("ridge", **params)


def test_pls_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"pls: n_components=0 is not in \[1, inf\)"):
        repalign.get("pls", n_components=0)
    with pytest.raises(TypeError, match=r"pls: n_components must be an integer"):
        repalign.get("pls", n_components=2.5)


# ------------------------------------------------------------------ linear regression


@pytest.mark.parametrize("shape", [(60, 8, 5), (50, 3, 9), (30, 12, 40)])
def test_linear_regression_is_the_pooled_r2_of_least_squares(shape):
    X, Y = _data(*shape)
    fit = LinearRegression().fit(X, Y)
    expected = r2_score(Y, fit.predict(X), multioutput="variance_weighted")
    assert repalign.measure("linear_regression", X, Y) == pytest.approx(expected, abs=1e-10)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    resid = Yc - Xc @ np.linalg.lstsq(Xc, Yc, rcond=None)[0]
    assert repalign.measure("linear_regression", X, Y) == pytest.approx(
        1 - np.sum(resid**2) / np.sum(Yc**2), abs=1e-10)


def test_linear_regression_matches_resi_formula():
    # ReSi: ||Q^T R_c||^2 / ||R_c||^2 with Q = Rp_c (Rp_c^T Rp_c)^(-1/2); X plays Rp.
    X, Y = _data(80, 6, 9)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Q = Xc @ np.linalg.inv(np.real(sqrtm(Xc.T @ Xc)))
    expected = np.linalg.norm(Q.T @ Yc) ** 2 / np.linalg.norm(Yc) ** 2
    assert repalign.measure("linear_regression", X, Y) == pytest.approx(expected, abs=1e-10)


def test_linear_regression_is_invariant_to_invertible_maps_of_x_only():
    X, Y = _data(60, 5, 7)
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 5)) + 2 * np.eye(5)
    B = rng.standard_normal((7, 7)) + 2 * np.eye(7)
    value = repalign.measure("linear_regression", X, Y)
    assert repalign.measure("linear_regression", X @ A, Y) == pytest.approx(value, abs=1e-10)
    assert abs(repalign.measure("linear_regression", X, Y @ B) - value) > 1e-3


def test_linear_regression_handles_rank_deficient_x():
    X, Y = _data(50, 4, 5)
    X_dup = np.column_stack([X, X[:, 0] - 2 * X[:, 1], np.full(50, 3.0)])
    assert repalign.measure("linear_regression", X_dup, Y) == pytest.approx(
        repalign.measure("linear_regression", X, Y), abs=1e-10)


def test_linear_regression_warns_when_x_spans_every_direction():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((10, 9)), rng.standard_normal((10, 3))
    with pytest.warns(repalign.DegenerateWarning, match=r"rank 9 with 10 stimuli"):
        assert repalign.measure("linear_regression", X, Y) == pytest.approx(1.0, abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repalign.measure("linear_regression", X[:, :8], Y)


# ------------------------------------------------------------------ all three


@pytest.mark.parametrize("name", ["ridge", "pls", "linear_regression"])
def test_rejects_a_constant_representation_with_rounding_prone_values(name):
    X, _ = _data(40, 5, 5)
    const = np.full((40, 3), 0.1)
    with pytest.raises(ValueError, match=r"^X does not vary across stimuli \(all 40 rows"):
        repalign.measure(name, const, X)
    with pytest.raises(ValueError, match=r"^Y does not vary across stimuli \(all 40 rows"):
        repalign.measure(name, X, const)


@pytest.mark.parametrize("name", ["ridge", "pls", "linear_regression"])
def test_predicts_the_second_argument_from_the_first(name):
    # Y is a function of a single column of X: X predicts Y far better than Y predicts X.
    rng = np.random.default_rng(4)
    X = rng.standard_normal((80, 6))
    Y = np.column_stack([X[:, 0], 2 * X[:, 0]]) + 0.01 * rng.standard_normal((80, 2))
    assert repalign.measure(name, X, Y) > 0.99
    assert repalign.measure(name, Y, X) < 0.6
