"""``repalign.compare`` and ``PairResult``: every measure, closed-form p-values,
reproducibility, array libraries, the result object and the errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import repalign
from repalign.inference.bootstrap import percentile_interval

from ..conftest import correlated_pair, random_orthogonal, to_backend, tolerance

MEASURES = [info.name for info in repalign.list_measures()]


@pytest.mark.filterwarnings("ignore::repalign.DegenerateWarning")
@pytest.mark.parametrize("interval", ["jackknife", "bootstrap"])
@pytest.mark.parametrize("name", MEASURES)
def test_every_measure_works_with_compare(name, interval):
    X, Y = correlated_pair()
    m = repalign.get(name)
    if interval == "jackknife" and "cv" in m.params:
        with pytest.raises(ValueError, match=rf"interval: 'jackknife' gives no interval of "
                                             rf"{name}: .*cross-validates .*interval='bootstrap'"):
            repalign.compare(X, Y, name, n_permutations=19, interval=interval, seed=0)
        return
    r = repalign.compare(X, Y, name, n_permutations=19, interval=interval, n_bootstrap=19,
                         seed=0)
    assert isinstance(r, repalign.PairResult)
    assert r.value == m(X, Y)
    assert (r.measure, r.kind, r.params, r.n_stimuli) == (name, m.kind, m.params, 40)
    assert (r.n_permutations, r.interval, r.ci_level) == (19, interval, 0.95)
    low, high = m.bounds
    for v in (r.value, r.ci_low, r.ci_high, r.null_mean, r.null_std, r.p_value):
        assert type(v) is float
    resampled = (r.jackknife_values if interval == "jackknife" else r.bootstrap_distribution)
    assert resampled.shape == ((40,) if interval == "jackknife" else (19,))
    for v in (r.value, r.ci_low, r.ci_high, r.null_mean, *r.null_distribution, *resampled):
        assert low - 1e-12 <= v <= high + 1e-12
    assert r.ci_low <= r.ci_high
    assert 0 < r.p_value <= 1
    assert r.p_value * 20 == pytest.approx(round(r.p_value * 20), abs=1e-12)
    assert r.null_std >= 0
    assert r.null_distribution.shape == (19,)
    if m.kind == "similarity" and m.bounds[1] == 1:
        assert type(r.calibrated) is float
    else:
        assert r.calibrated is None


@pytest.mark.parametrize("name", ["cka", "rsa", "procrustes", "ridge", "mutual_knn"])
def test_a_perfectly_aligned_pair_beats_every_permutation(name):
    # Y is a rotated, scaled, shifted copy of X: every measure here is at its
    # optimum, and no permutation reaches it, so p = 1 / (1 + N).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    Y = 2 * X @ random_orthogonal(4, rng) + 1
    r = repalign.compare(X, Y, name, n_permutations=49, interval=None, seed=1)
    assert r.p_value == 1 / 50


@pytest.mark.parametrize("name", ["magnitude_difference", "uniformity_difference"])
def test_measures_of_one_representation_at_a_time_never_reject(name):
    # The statistic does not depend on the stimulus order: every permutation ties.
    X, Y = correlated_pair()
    r = repalign.compare(X, Y, name, n_permutations=19, interval=None, seed=0)
    assert r.p_value == 1.0
    np.testing.assert_array_equal(r.null_distribution, r.value)
    assert r.null_std == pytest.approx(0.0, abs=1e-12)


def test_the_p_value_of_a_distance_counts_smaller_null_values():
    # The permutation values of an unrelated pair straddle the observed one; the
    # counts in each direction add up to N + 1 (no ties with continuous data).
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((15, 3)), rng.standard_normal((15, 3))
    r = repalign.compare(X, Y, "procrustes", n_permutations=99, interval=None, seed=0)
    below = np.count_nonzero(r.null_distribution <= r.value)
    assert r.p_value == (1 + below) / 100
    assert 0 < below < 99


def test_seed_makes_results_reproducible():
    X, Y = correlated_pair()
    kwargs = dict(n_permutations=19, interval="bootstrap", n_bootstrap=19)
    r1 = repalign.compare(X, Y, "rsa", seed=3, **kwargs)
    r2 = repalign.compare(X, Y, "rsa", seed=3, **kwargs)
    r3 = repalign.compare(X, Y, "rsa", seed=np.random.default_rng(3), **kwargs)
    r4 = repalign.compare(X, Y, "rsa", seed=4, **kwargs)
    for r in (r2, r3):
        assert r.to_dict() == r1.to_dict()
        np.testing.assert_array_equal(r.null_distribution, r1.null_distribution)
        np.testing.assert_array_equal(r.bootstrap_distribution, r1.bootstrap_distribution)
    assert not np.array_equal(r4.null_distribution, r1.null_distribution)


def test_permutations_and_resamples_use_independent_streams():
    X, Y = correlated_pair()
    kwargs = dict(interval="bootstrap", seed=0)
    with_boot = repalign.compare(X, Y, n_permutations=19, n_bootstrap=19, **kwargs)
    without = repalign.compare(X, Y, n_permutations=19, n_bootstrap=0, **kwargs)
    fewer = repalign.compare(X, Y, n_permutations=0, n_bootstrap=19, **kwargs)
    np.testing.assert_array_equal(with_boot.null_distribution, without.null_distribution)
    np.testing.assert_array_equal(with_boot.bootstrap_distribution,
                                  fewer.bootstrap_distribution)


def test_zero_counts_leave_fields_empty():
    X, Y = correlated_pair()
    r = repalign.compare(X, Y, n_permutations=0, interval=None)
    assert r.value == repalign.measure("cka", X, Y)
    for field in ("ci_low", "ci_high", "interval", "p_value", "null_mean", "null_std",
                  "calibrated", "null_distribution", "bootstrap_distribution",
                  "jackknife_values"):
        assert getattr(r, field) is None
    assert repr(r).splitlines()[1:] == [f"  value       {r.value:.4g}"]


@pytest.mark.parametrize("name", ["cka", "rsa", "ridge"])
def test_array_libraries_agree_with_numpy(name, backend):
    # ridge prepares Y[perm] and X[idx], Y[idx] (no index-only permutation); cka
    # and rsa permute their states and rsa resamples its RDMs.
    X, Y = correlated_pair()
    intervals = (("jackknife", "jackknife_values"), ("bootstrap", "bootstrap_distribution"))
    for interval, resampled in intervals[name == "ridge":]:
        kwargs = dict(n_permutations=9, interval=interval, n_bootstrap=9, seed=2)
        expected = repalign.compare(X, Y, name, **kwargs)
        got = repalign.compare(to_backend(X, backend), to_backend(Y, backend), name, **kwargs)
        tol = tolerance(backend)
        assert got.value == pytest.approx(expected.value, abs=tol)
        np.testing.assert_allclose(got.null_distribution, expected.null_distribution, atol=tol)
        np.testing.assert_allclose(getattr(got, resampled), getattr(expected, resampled),
                                   atol=tol)


def test_result_repr_dict_and_citation():
    X, Y = correlated_pair()
    with pytest.warns(repalign.DegenerateWarning, match="rbf.*has not been measured"):
        r = repalign.compare(X, Y, "cka", kernel="rbf", n_permutations=19, ci=0.9, seed=0,
                             interval="jackknife")
    lines = repr(r).splitlines()
    assert lines[0] == ("PairResult: cka(kernel='rbf', sigma_frac=0.8, estimator='biased'), "
                        "a similarity, 40 stimuli")
    assert lines[1].startswith(f"  value       {r.value:.4g}   90% CI [{r.ci_low:.4g}, ")
    assert "(jackknife interval of the population value)" in lines[1]
    boot = repalign.compare(X, Y, "cka", n_permutations=0, interval="bootstrap",
                            n_bootstrap=19, seed=0)
    assert "(percentile bootstrap interval of the estimator, 19 resamples)" in repr(boot)
    assert lines[2].startswith("  interval    asked for although the jackknife interval's "
                               "coverage for cka(kernel='rbf'")
    assert lines[3].startswith(f"  p           {r.p_value:.4g}   (one-sided, null >= value")
    assert lines[4] == f"  null        {r.null_mean:.4g} +- {r.null_std:.4g}"
    assert lines[5].startswith(f"  calibrated  {r.calibrated:.4g}")
    d = r.to_dict()
    assert set(d) == {"value", "ci_low", "ci_high", "interval", "p_value", "null_mean",
                      "null_std", "calibrated", "measure", "params", "kind", "symmetric",
                      "bounds", "n_stimuli", "n_permutations", "n_bootstrap", "ci_level"}
    assert (d["kind"], d["symmetric"], d["bounds"]) == ("similarity", True, (0.0, 1.0))
    assert d["params"] == {"kernel": "rbf", "sigma_frac": 0.8, "estimator": "biased"}
    assert d["ci_level"] == 0.9
    cited = r.citation.splitlines()
    assert cited[0].startswith("Kornblith, Norouzi, Lee & Hinton (2019)")
    assert cited[-2].startswith("Phipson & Smyth (2010)")
    assert cited[-1].startswith("Quenouille (1956)")
    assert boot.citation.splitlines()[-1].startswith("Efron & Tibshirani (1993)")
    assert "Phipson" not in repalign.compare(X, Y, n_permutations=0, interval=None).citation
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.value = 0.0
    with pytest.raises(ValueError, match="read-only"):
        r.null_distribution[0] = 0.0


def test_the_distance_repr_has_no_calibration():
    X, Y = correlated_pair()
    r = repalign.compare(X, Y, "procrustes", n_permutations=9, interval=None, seed=0)
    assert "null <= value" in repr(r)
    assert "calibrated" not in repr(r)


def test_resamples_where_the_measure_is_undefined_are_left_out():
    X, Y = correlated_pair()
    # A unit active for stimulus 0 only is constant on resamples that miss it,
    # where its correlation with other units (and linear_match) is undefined.
    X = np.column_stack([X, np.eye(40)[0]])
    with pytest.warns(repalign.DegenerateWarning,
                      match=r"linear_match: undefined on \d+ of 40 bootstrap resamples of "
                            r"the stimuli \(first: X: unit\(s\) \[5\]"):
        r = repalign.compare(X, Y, "linear_match", n_permutations=0, interval="bootstrap",
                             n_bootstrap=40, seed=0)
    undefined = np.isnan(r.bootstrap_distribution)
    assert 0 < np.count_nonzero(undefined) < 40
    assert np.isfinite(r.ci_low) and np.isfinite(r.ci_high)
    assert r.ci_low == np.percentile(r.bootstrap_distribution[~undefined], 2.5)


def test_degenerate_null_distributions():
    X, Y = correlated_pair()
    # With k = 30 of 39 neighbours every stimulus returns in every permutation: the
    # chance level is the maximum, 1, and there is nothing left to calibrate.
    r = repalign.compare(X, Y, "cycle_knn", k=30, n_permutations=9, interval=None, seed=0)
    assert (r.value, r.null_mean, r.p_value) == (1.0, 1.0, 1.0)
    assert np.isnan(r.calibrated)
    # One permutation has no standard deviation.
    r = repalign.compare(X, Y, n_permutations=1, interval=None, seed=0)
    assert r.null_mean == r.null_distribution[0]
    assert np.isnan(r.null_std)


def test_an_interval_without_finite_values_is_nan():
    low, high = percentile_interval(np.full(5, np.nan), 0.9)
    assert np.isnan(low) and np.isnan(high)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"measure": "nope"}, ValueError, "Unknown measure 'nope'; expected one of"),
    ({"measure": len}, TypeError, "compare: measure must be the name of a registered measure"),
    ({"n_permutations": -1}, ValueError, r"compare: n_permutations=-1 is not in \[0, inf\)"),
    ({"n_permutations": 1.5}, TypeError, "compare: n_permutations must be an integer"),
    ({"n_permutations": True}, TypeError, "compare: n_permutations must be an integer"),
    ({"n_bootstrap": -5}, ValueError, r"compare: n_bootstrap=-5 is not in \[0, inf\)"),
    ({"n_bootstrap": "10"}, TypeError, "compare: n_bootstrap must be an integer"),
    ({"ci": 0}, ValueError, r"compare: ci=0 is not in \(0, 1\)"),
    ({"ci": 1.0}, ValueError, r"compare: ci=1.0 is not in \(0, 1\)"),
    ({"ci": 95}, ValueError, r"compare: ci=95 is not in \(0, 1\)"),
    ({"ci": "95%"}, TypeError, "compare: ci must be a real number"),
    ({"seed": -1}, ValueError, "compare: seed must be a non-negative integer; got -1"),
    ({"seed": 1.5}, TypeError, "compare: seed must be None, a non-negative integer or a "
                               "numpy.random.Generator; got 1.5"),
    ({"kernel": "poly"}, ValueError, "cka: kernel='poly' is not valid"),
    ({"k": 5}, TypeError, r"cka got unknown parameter\(s\) \['k'\]"),
])
def test_invalid_arguments(kwargs, error, match):
    X, Y = correlated_pair()
    with pytest.raises(error, match=match):
        repalign.compare(X, Y, **kwargs)


def test_invalid_representations():
    X, Y = correlated_pair()
    with pytest.raises(ValueError, match="X has 40 stimuli but Y has 30"):
        repalign.compare(X, Y[:30])
    Y = Y.copy()
    Y[3, 1] = np.nan
    with pytest.raises(ValueError, match="Y must be finite; got 1 NaN"):
        repalign.compare(X, Y)
    with pytest.raises(ValueError, match="X has 8 stimuli .* needs at least 12"):
        repalign.compare(X[:8], X[:8], "mutual_knn")


def test_warns_when_the_value_lies_outside_its_bootstrap_interval():
    # Biased CKA with 20 and 30 features at n=200: resampling with replacement
    # inflates it, and the percentile interval sits above the value.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 20))
    Y = np.tanh(X @ rng.standard_normal((20, 30))) + rng.standard_normal((200, 30))
    with pytest.warns(repalign.DegenerateWarning,
                      match=r"lies outside its 95% interval .* of the bootstrap"):
        result = repalign.compare(X, Y, "cka", n_permutations=0, interval="bootstrap",
                                  n_bootstrap=99, seed=0)
    assert result.value < result.ci_low


def test_warns_when_the_bias_puts_the_value_outside_the_population_interval():
    # Biased CKA of two unrelated 30-feature representations of 20 stimuli: the
    # estimate sits far above the population value 0, which the jackknife interval targets.
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((20, 30)), rng.standard_normal((20, 30))
    with pytest.warns(repalign.DegenerateWarning, match=r"finite-sample bias exceeds"):
        result = repalign.compare(X, Y, "cka", n_permutations=0, seed=0)
    assert result.ci_high < result.value


def test_jackknife_leaves_each_stimulus_out_in_turn():
    """Up to MAX_GROUPS stimuli, the jackknife values are the measure without each one."""
    X, Y = correlated_pair(n=30)
    r = repalign.compare(X, Y, "rsa", n_permutations=0, seed=0)
    expected = [repalign.measure("rsa", np.delete(X, i, 0), np.delete(Y, i, 0))
                for i in range(30)]
    np.testing.assert_allclose(r.jackknife_values, expected, rtol=1e-12)


def test_jackknife_interval_is_the_textbook_one_on_the_identity_scale():
    """An unbounded measure's interval: theta - bias -+ t * se from the pseudo-values
    (Efron & Tibshirani 1993, eq. 11.5, 11.12), written out independently."""
    from scipy.stats import t

    from repalign.inference.jackknife import jackknife_interval

    rng = np.random.default_rng(3)
    left_out = rng.normal(2.0, 0.1, 25)
    value = 2.05
    n = 25
    bias = (n - 1) * (left_out.mean() - value)
    se = np.sqrt((n - 1) / n * np.sum((left_out - left_out.mean()) ** 2))
    q = t.ppf(0.95, n - 1)
    expected = (value - bias - q * se, value - bias + q * se)
    np.testing.assert_allclose(jackknife_interval(value, left_out, 0.9,
                                                  (-np.inf, np.inf)), expected, rtol=1e-12)
    # a bounded measure: the same on the logit scale, mapped back inside its range
    low, high = jackknife_interval(0.97, np.clip(left_out / 2.1, 0, 0.999), 0.9, (0, 1))
    assert 0 < low < high < 1
