"""Statistical behaviour of ``repalign.compare`` in simulations with a known truth.

Every simulation is seeded, so each test is deterministic; the thresholds were
chosen wide enough (several standard errors) that other seeds pass too.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kstest

import repalign


@pytest.mark.parametrize("name", ["cka", "rsa", "procrustes"])
def test_p_values_are_uniform_under_the_null(name):
    # X and Y independent: the stimuli of Y are exchangeable, so the permutation
    # p-value is uniform on {1/100, ..., 1} (procrustes: the distance side).
    rng = np.random.default_rng(0)
    p = np.array([
        repalign.compare(rng.standard_normal((12, 3)), rng.standard_normal((12, 4)), name,
                         n_permutations=99, interval=None, seed=k).p_value
        for k in range(300)
    ])
    assert kstest(p, "uniform").pvalue > 0.01
    # E[p] = (N + 2) / (2 (N + 1)) = 0.505 for N = 99; its standard error here is 0.017.
    assert abs(p.mean() - 0.505) < 0.05


@pytest.mark.parametrize("name", ["cka", "rsa"])
def test_power_against_a_planted_effect(name):
    # Y = X A + small noise: no permutation comes close, p = 1 / (N + 1) every time.
    rng = np.random.default_rng(2)
    for k in range(20):
        X = rng.standard_normal((30, 5))
        Y = X @ rng.standard_normal((5, 6)) + 0.3 * rng.standard_normal((30, 6))
        assert repalign.compare(X, Y, name, n_permutations=99, interval=None,
                                seed=k).p_value == 0.01


def test_default_interval_covers_the_population_cka_at_its_nominal_rate():
    # X ~ N(0, S) and Y = X A + sigma E: the population linear CKA is
    # ||S_xy||_F^2 / (||S_xx||_F ||S_yy||_F) with S_xy = S A and
    # S_yy = A^T S A + sigma^2 I. The jackknife interval targets it; 200
    # intervals give a standard error of 0.015 around 0.95.
    rng = np.random.default_rng(0)
    S = np.diag([1.0, 0.6, 0.3])
    A = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, -0.5], [0.5, 0.0, 1.0]])
    sigma = 1.0
    S_yy = A.T @ S @ A + sigma**2 * np.eye(3)
    truth = np.sum((S @ A) ** 2) / (np.linalg.norm(S) * np.linalg.norm(S_yy))
    L = np.linalg.cholesky(S)
    covered = 0
    for k in range(200):
        X = rng.standard_normal((100, 3)) @ L.T
        Y = X @ A + sigma * rng.standard_normal((100, 3))
        r = repalign.compare(X, Y, n_permutations=0, seed=k)
        covered += r.ci_low <= truth <= r.ci_high
    assert 0.91 <= covered / 200 <= 0.99


def test_calibration_removes_the_chance_level_of_biased_cka():
    # Biased CKA of independent representations with d = n/2 is far above 0;
    # the calibrated value is 0 on average.
    rng = np.random.default_rng(1)
    values, calibrated = [], []
    for k in range(100):
        X, Y = rng.standard_normal((20, 10)), rng.standard_normal((20, 10))
        r = repalign.compare(X, Y, n_permutations=99, interval=None, seed=k)
        values.append(r.value)
        calibrated.append(r.calibrated)
    assert np.mean(values) > 0.3
    # The standard error of the mean calibrated value is 0.007.
    assert abs(np.mean(calibrated)) < 0.03
