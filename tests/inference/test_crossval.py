"""Cross-validated measures against SciPy's Procrustes, netrep and scikit-learn, fold by fold."""

import json
import pickle
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.stats import pearsonr
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

import repalign

from ..conftest import correlated_pair, to_backend, tolerance

GRID = tuple(np.logspace(-4, 4, 9))


def kfold(n, cv, seed):
    return [(train, test) for train, test in
            KFold(cv, shuffle=seed is not None, random_state=seed).split(np.zeros((n, 1)))]


# ------------------------------------------------------------------ folds


@pytest.mark.parametrize("n, cv, seed", [(30, 5, 0), (37, 4, 11), (20, 3, None)])
def test_folds_are_those_of_sklearn_kfold(n, cv, seed):
    X, Y = correlated_pair(n=n)
    result = repalign.cross_validate(X, Y, "procrustes", cv=cv, seed=seed)
    assert len(result.folds) == len(result.values) == cv
    for (train, test), (e_train, e_test) in zip(result.folds, kfold(n, cv, seed)):
        assert train == tuple(e_train.tolist()) and test == tuple(e_test.tolist())


def test_explicit_split_is_used_as_given():
    X, Y = correlated_pair(n=30)
    split = [([0, 1, 2, 3, 4, 5, 6, 7], [20, 21, 22]), (np.arange(10, 30), np.array([1, 5]))]
    result = repalign.cross_validate(X, Y, "procrustes", cv=split)
    assert result.folds == ((tuple(range(8)), (20, 21, 22)), (tuple(range(10, 30)), (1, 5)))
    m = repalign.get("procrustes")
    assert result.values == (m.held_out(X[:8], Y[:8], X[20:23], Y[20:23]),
                             m.held_out(X[10:], Y[10:], X[[1, 5]], Y[[1, 5]]))


# ------------------------------------------------------------------ shape metrics


def scipy_held_out(Xtr, Ytr, Xte, Yte):
    """Centre by training means, rotate Y onto X by SciPy on the training rows (zero-padded)."""
    d = max(Xtr.shape[1], Ytr.shape[1])

    def pad(A):
        return np.column_stack([A, np.zeros((len(A), d - A.shape[1]))])

    mx, my = Xtr.mean(0), Ytr.mean(0)
    R, _ = orthogonal_procrustes(pad(Ytr - my), pad(Xtr - mx))
    return pad(Xte - mx), pad(Yte - my) @ R


@pytest.mark.parametrize("dx, dy, seed", [(5, 5, 0), (3, 7, 1), (8, 4, None)])
def test_procrustes_bures_nbs_match_scipy_rotation_fitted_on_training_rows(dx, dy, seed):
    X, Y = correlated_pair(n=45, dx=dx, dy=dy, seed=dx)
    angles, norms, cosines = [], [], []
    for train, test in kfold(45, 5, seed):
        A, B = scipy_held_out(X[train], Y[train], X[test], Y[test])
        cosine = np.sum(A * B) / (np.linalg.norm(A) * np.linalg.norm(B))
        angles.append(np.arccos(cosine))
        cosines.append(cosine)
        norms.append(np.linalg.norm(A - B))
    for name, expected in (("procrustes", angles), ("bures", norms), ("nbs", cosines)):
        got = repalign.cross_validate(X, Y, name, cv=5, seed=seed).values
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def netrep_inputs():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 5)) + 1.0
    Y = np.tanh(X @ rng.standard_normal((5, 5))) + 0.5 * rng.standard_normal((60, 5))
    W = X[:, :3] @ rng.standard_normal((3, 8)) + rng.standard_normal((60, 8)) - 2.0
    return {"X": X, "Y": Y, "W": W}


NETREP_SPLIT = (np.flatnonzero(np.arange(60) % 3 != 0), np.flatnonzero(np.arange(60) % 3 == 0))

# Recorded once with ahwillia/netrep at commit 0186b8a77ec1ebaf541cc8f7173cb2556df8a8f0
# (numpy 2.4.6, scipy 1.17.1, scikit-learn 1.9.1):
#   train, test = NETREP_SPLIT
#   netrep.metrics.LinearMetric(alpha=alpha, score_method=distance).fit(
#       inputs[a][train], inputs[b][train]).score(inputs[a][test], inputs[b][test])
# with its defaults center_columns=True, zero_pad=True, on the arrays of netrep_inputs().
NETREP_LINEAR_METRIC = [
    ("X", "Y", 0.0, "angular", 1.2943536943662701),
    ("X", "Y", 0.5, "angular", 1.2598318104304718),
    ("X", "Y", 1.0, "angular", 1.2537196047001542),
    ("X", "Y", 0.0, "euclidean", 10.962654591458014),
    ("X", "Y", 0.5, "euclidean", 10.541857920234204),
    ("X", "Y", 1.0, "euclidean", 10.46992203408926),
    ("X", "W", 0.0, "angular", 1.2615493340700543),
    ("X", "W", 0.5, "angular", 1.0033251462454171),
    ("X", "W", 1.0, "angular", 0.9815855746007994),
    ("W", "X", 0.5, "angular", 1.0033251462454174),
]


@pytest.mark.parametrize("a, b, alpha, distance, recorded", NETREP_LINEAR_METRIC)
def test_shape_metric_matches_recorded_netrep_fit_then_score(a, b, alpha, distance, recorded):
    inputs = netrep_inputs()
    result = repalign.cross_validate(inputs[a], inputs[b], "shape_metric", cv=[NETREP_SPLIT],
                                     alpha=alpha, distance=distance)
    assert result.values[0] == pytest.approx(recorded, abs=1e-10)


@pytest.mark.parametrize("alpha", [0.0, 0.4, 1.0])
def test_alignment_on_the_training_rows_gives_the_in_sample_measure(alpha):
    X, Y = correlated_pair(n=30, dx=4, dy=6, seed=5)
    for distance in ("angular", "euclidean"):
        m = repalign.get("shape_metric", alpha=alpha, distance=distance)
        A, B = m.fit_alignment(X, Y).transform(X, Y)
        if distance == "angular":
            got = np.arccos(np.sum(A * B) / (np.linalg.norm(A) * np.linalg.norm(B)))
        else:
            got = np.linalg.norm(A - B)
        assert got == pytest.approx(m(X, Y), abs=1e-9)


def test_held_out_components_outside_the_training_span_are_dropped():
    # 12 training stimuli span 11 of 30 centred dimensions; the projection makes
    # the held-out value that of the representations restricted to that span.
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 30)), rng.standard_normal((20, 30))
    m = repalign.get("procrustes")
    mx = X[:12].mean(0)
    _, _, Vt = np.linalg.svd(X[:12] - mx, full_matrices=False)
    X_in_span = (X - mx) @ Vt[:11].T @ Vt[:11]
    assert m.held_out(X[:12], Y[:12], X[12:], Y[12:]) == pytest.approx(
        m.held_out(X_in_span[:12], Y[:12], X_in_span[12:], Y[12:]), abs=1e-10)


# ------------------------------------------------------------------ predictivity


def per_fold(X, Y, fit, score, cv=5, seed=0):
    return [score(Y[test], fit().fit(X[train], Y[train]).predict(X[test]))
            for train, test in kfold(len(X), cv, seed)]


def mean_pearson(Y, pred):
    return np.mean([pearsonr(pred[:, j], Y[:, j]).statistic for j in range(Y.shape[1])])


def mean_r2(Y, pred):
    return r2_score(Y, pred, multioutput="uniform_average")


SCORES = {"pearson": mean_pearson, "r2": mean_r2}


@pytest.mark.parametrize("shape", [(60, 8, 5), (40, 50, 4)])
@pytest.mark.parametrize("score", ["pearson", "r2"])
def test_ridge_matches_sklearn_ridgecv_fitted_per_fold(shape, score):
    X, Y = correlated_pair(*shape, seed=2)
    expected = per_fold(X, Y, lambda: RidgeCV(alphas=GRID, alpha_per_target=True),
                        SCORES[score], seed=4)
    got = repalign.cross_validate(X, Y, "ridge", cv=5, seed=4, score=score, alphas=GRID,
                                  alpha_scale="absolute").values
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize("k, score", [(2, "pearson"), (4, "r2")])
def test_pls_matches_sklearn_plsregression_fitted_per_fold(k, score):
    X, Y = correlated_pair(n=50, dx=6, dy=4, seed=3)
    # A tight tolerance makes NIPALS converge to the dominant singular vectors.
    expected = per_fold(X, Y, lambda: PLSRegression(k, scale=False, tol=1e-30, max_iter=100_000),
                        SCORES[score], cv=4, seed=None)
    got = repalign.cross_validate(X, Y, "pls", cv=4, seed=None, n_components=k,
                                  score=score).values
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)


def test_linear_regression_is_the_pooled_held_out_r2_of_sklearn_least_squares():
    X, Y = correlated_pair(n=50, dx=6, dy=4, seed=4)
    expected = per_fold(X, Y, LinearRegression,
                        lambda y, p: r2_score(y, p, multioutput="variance_weighted"), seed=1)
    got = repalign.cross_validate(X, Y, "linear_regression", cv=5, seed=1).values
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_fit_predict_matches_sklearn_predictions():
    X, Y = correlated_pair(n=40, dx=5, dy=3, seed=6)
    expected = RidgeCV(alphas=GRID, alpha_per_target=True).fit(X[:30], Y[:30]).predict(X[30:])
    ridge = repalign.get("ridge", alphas=GRID, alpha_scale="absolute", n_targets_batch=2)
    np.testing.assert_allclose(ridge.fit_predict(X[:30], Y[:30], X[30:]), expected, atol=1e-9)


def test_the_measures_own_cv_and_seed_are_replaced():
    X, Y = correlated_pair(n=40, seed=1)
    default = repalign.cross_validate(X, Y, "ridge", cv=4, seed=2)
    assert default.params == {"score": "pearson", "alphas": repalign.get("ridge").alphas,
                              "alpha_scale": "relative", "n_targets_batch": 1024}


# ------------------------------------------------------------------ properties


@pytest.mark.parametrize("name, params", [("procrustes", {}), ("shape_metric", {"alpha": 0.0})])
def test_held_out_distance_exceeds_the_in_sample_one_for_noisy_data(name, params):
    # In-sample alignments fit the noise: the distance on the training stimuli
    # under their own alignment is below the distance on held-out stimuli.
    m = repalign.get(name, **params)
    gaps = []
    for seed in range(6):
        X, Y = correlated_pair(n=40, dx=8, dy=8, seed=seed, noise=1.0)
        result = repalign.cross_validate(X, Y, name, cv=4, seed=seed, **params)
        in_sample = [m(X[list(train)], Y[list(train)]) for train, _ in result.folds]
        gaps.append(result.mean - np.mean(in_sample))
    assert min(gaps) > 0.05


def test_held_out_predictivity_is_below_the_in_sample_fit_for_noisy_data():
    for seed in range(4):
        X, Y = correlated_pair(n=40, dx=10, dy=5, seed=seed, noise=1.0)
        held_out = repalign.cross_validate(X, Y, "linear_regression", cv=5, seed=seed).mean
        assert held_out < repalign.measure("linear_regression", X, Y) - 0.1


def test_pooled_ridge_folds_equal_the_ridge_measure():
    # Pooled over folds, the held-out predictions are what the measure scores.
    X, Y = correlated_pair(n=50, dx=6, dy=4, seed=8)
    ridge = repalign.get("ridge")
    pred = np.empty_like(Y)
    for train, test in repalign.cross_validate(X, Y, "ridge", cv=5, seed=3).folds:
        pred[list(test)] = ridge.fit_predict(X[list(train)], Y[list(train)], X[list(test)])
    assert mean_pearson(Y, pred) == pytest.approx(repalign.measure("ridge", X, Y, seed=3),
                                                  abs=1e-10)


@pytest.mark.parametrize("name, params", [("shape_metric", {"alpha": 0.5}), ("ridge", {}),
                                          ("pls", {"n_components": 3})])
def test_array_libraries_and_devices_agree_with_numpy(backend, name, params):
    X, Y = correlated_pair(n=30, dx=5, dy=4, seed=9)
    expected = repalign.cross_validate(X, Y, name, cv=3, **params).values
    got = repalign.cross_validate(to_backend(X, backend), to_backend(Y, backend), name, cv=3,
                                  **params).values
    assert all(type(v) is float for v in got)
    np.testing.assert_allclose(got, expected, rtol=0, atol=100 * tolerance(backend))


# ------------------------------------------------------------------ the result


def test_result_fields_repr_and_dict():
    X, Y = correlated_pair(n=30)
    result = repalign.cross_validate(X, Y, "shape_metric", cv=3, alpha=0.5)
    assert result.mean == pytest.approx(np.mean(result.values), abs=1e-15)
    assert result.std == pytest.approx(np.std(result.values), abs=1e-15)
    assert result.measure == "shape_metric" and result.n_stimuli == 30
    assert result.params == {"alpha": 0.5, "distance": "angular"}
    text = repr(result)
    assert text.startswith("CVResult(measure='shape_metric', mean=") and "n_folds=3" in text
    d = json.loads(json.dumps(result.to_dict()))
    assert d["values"] == list(result.values) and d["mean"] == result.mean
    assert d["folds"][0] == {"train": list(result.folds[0][0]), "test": list(result.folds[0][1])}
    assert pickle.loads(pickle.dumps(result)) == result
    with pytest.raises(FrozenInstanceError):
        result.mean = 0.0


def test_repr_abbreviates_many_folds():
    X, Y = correlated_pair(n=30)
    assert "... (10 folds)" in repr(repalign.cross_validate(X, Y, cv=10))


def test_supported_measures_are_listed_in_the_docstring():
    from repalign.inference.crossval import _supported
    assert _supported() == ["bures", "linear_regression", "nbs", "pls", "procrustes", "ridge",
                            "shape_metric"]
    doc = " ".join(repalign.cross_validate.__doc__.split())
    assert ", ".join(f"``{name}``" for name in _supported()) in doc


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("cv, error, match", [
    (1, ValueError, r"cv=1 folds is not possible with 20 stimuli; expected 2 <= cv <= 20"),
    (21, ValueError, r"cv=21 folds is not possible"),
    (True, TypeError, r"cv must be an int or a sequence .* got True of type bool"),
    (2.5, TypeError, r"cv must be an int or a non-empty sequence"),
    ("5", TypeError, r"cv must be an int or a non-empty sequence"),
    ([], TypeError, r"cv must be an int or a non-empty sequence"),
    ([([0, 1, 2, 3], [3, 4])], ValueError, r"split 0 uses stimuli \[3\] for both training"),
    ([([0, 1, 2], [20])], ValueError, r"test indices of split 0 has indices \[20\] outside"),
    ([([-1, 1, 2], [5])], ValueError, r"training indices of split 0 has indices \[-1\]"),
    ([([0, 1, 2], [])], ValueError, r"test indices of split 0 must be a non-empty 1-D"),
    ([([], [4])], ValueError, r"training indices of split 0 must be a non-empty"),
    ([([[0, 1], [2, 3]], [4])], ValueError, r"must be a non-empty 1-D sequence .* shape \(2, 2\)"),
    ([([0.0, 1.0, 2.0], [4])], TypeError, r"integer stimulus indices .* float64"),
    ([(np.ones(20, bool), [4])], TypeError, r"not a boolean mask"),
    ([([0, 1, 1, 2], [4])], ValueError, r"lists a stimulus more than once"),
    ([([0, 1, 2],)], ValueError, r"split 0 must be a \(train_indices, test_indices\) pair"),
    ([([0, 1, 2], [4]), "ab"], ValueError, r"split 1 must be a \(train_indices"),
])
def test_rejects_bad_cv(cv, error, match):
    X, Y = correlated_pair(n=20)
    with pytest.raises(error, match=match):
        repalign.cross_validate(X, Y, "procrustes", cv=cv)


@pytest.mark.parametrize("seed, error, match", [
    (-1, ValueError, r"cross_validate: seed=-1 is not in \[0, 4.29497e\+09\] or None"),
    (1.5, TypeError, r"cross_validate: seed must be an integer"),
])
def test_rejects_bad_seed(seed, error, match):
    X, Y = correlated_pair(n=20)
    with pytest.raises(error, match=match):
        repalign.cross_validate(X, Y, cv=4, seed=seed)


def test_rejects_unknown_and_unsupported_measures():
    X, Y = correlated_pair(n=20)
    with pytest.raises(ValueError, match=r"Unknown measure 'nope'; expected one of \["):
        repalign.cross_validate(X, Y, "nope")
    with pytest.raises(ValueError, match=r"measure 'cka' cannot be cross-validated; expected "
                                         r"one of \['bures', 'linear_regression', 'nbs'"):
        repalign.cross_validate(X, Y, "cka")
    with pytest.raises(TypeError, match="name must be a str"):
        repalign.cross_validate(X, Y, 3)


def test_rejects_invalid_measure_parameters():
    X, Y = correlated_pair(n=20)
    with pytest.raises(ValueError, match=r"shape_metric: alpha=2 is not in \[0, 1\]"):
        repalign.cross_validate(X, Y, "shape_metric", alpha=2)
    with pytest.raises(TypeError, match=r"procrustes got unknown parameter\(s\) \['alpha'\]"):
        repalign.cross_validate(X, Y, "procrustes", alpha=0.5)


def test_rejects_mismatched_inputs():
    X, Y = correlated_pair(n=20)
    with pytest.raises(ValueError, match="X has 20 stimuli but Y has 19"):
        repalign.cross_validate(X, Y[:19])
    Y[3, 2] = np.nan
    with pytest.raises(ValueError, match="Y must be finite; got 1 NaN"):
        repalign.cross_validate(X, Y)


def test_fold_errors_name_the_fold():
    X, Y = correlated_pair(n=20)
    with pytest.raises(ValueError, match=r"fold 1 \(2 training, 1 held-out stimuli\): X_train "
                                         r"has 2 stimuli \(rows\) but procrustes needs at least 3"):
        repalign.cross_validate(X, Y, cv=[(list(range(18)), [18, 19]), ([0, 1], [2])])
    with pytest.raises(ValueError, match=r"fold 0 .*X_test has 1 stimuli \(rows\) but ridge needs "
                                         r"at least 2"):
        repalign.cross_validate(X, Y, "ridge", cv=20)


def test_held_out_predictivity_rejects_constant_test_targets():
    X, Y = correlated_pair(n=20, dy=3)
    Y[15:, 1] = 7.0
    with pytest.raises(ValueError, match=r"Y_test has 1 unit\(s\) constant across the held-out "
                                         r"stimuli \(columns \[1\]\); their r2 score"):
        repalign.get("ridge", score="r2").held_out(X[:15], Y[:15], X[15:], Y[15:])
    Y[15:] = 1.0
    with pytest.raises(ValueError, match="Y_test does not vary across the held-out stimuli"):
        repalign.get("linear_regression").held_out(X[:15], Y[:15], X[15:], Y[15:])


def test_held_out_shape_distance_rejects_test_rows_at_the_training_mean():
    X, Y = correlated_pair(n=20)
    at_mean = np.repeat(X[:15].mean(0, keepdims=True), 3, axis=0)
    m = repalign.get("procrustes")
    with pytest.raises(ValueError, match="X_test equals the training mean along every training "
                                         "principal axis; the held-out procrustes is undefined"):
        m.held_out(X[:15], Y[:15], at_mean, Y[15:18])
    # The Euclidean distance stays defined.
    assert repalign.get("bures").held_out(X[:15], Y[:15], at_mean, Y[15:18]) > 0


def test_fit_alignment_rejects_constant_training_data():
    X, Y = correlated_pair(n=20)
    with pytest.raises(ValueError, match="Y_train does not vary across stimuli; nbs"):
        repalign.get("nbs").fit_alignment(X, np.ones_like(Y))


def test_held_out_stimuli_must_match_the_training_features_library_and_rows():
    X, Y = correlated_pair(n=20, dx=5, dy=7)
    m, ridge = repalign.get("procrustes"), repalign.get("ridge")
    with pytest.raises(ValueError, match="Y has 6 features but the training stimuli had 7"):
        m.fit_alignment(X, Y).transform(X, Y[:, :6])
    with pytest.raises(ValueError, match="X_test has 4 features but the training stimuli had 5"):
        ridge.held_out(X[:15], Y[:15], X[15:, :4], Y[15:])
    with pytest.raises(ValueError, match="X_test has 5 stimuli but Y_test has 4"):
        ridge.held_out(X[:15], Y[:15], X[15:], Y[16:])
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="the fitted state and X_test must be arrays of one "
                                        "library"):
        ridge.fit_predict(X[:15], Y[:15], torch.as_tensor(X[15:]))


def test_held_out_stimuli_take_the_training_dtype():
    X, Y = correlated_pair(n=20)
    pred = repalign.get("pls").fit_predict(X[:15], Y[:15], X[15:].astype(np.float32))
    assert pred.dtype == np.float64
