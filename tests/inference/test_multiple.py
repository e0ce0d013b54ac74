"""Benjamini-Hochberg FDR: SciPy's adjusted p-values and a brute-force step-up."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

import repalign


def _step_up(p, alpha):
    """Reject H_(1..k), k the largest i with p_(i) <= i alpha / m (Benjamini & Hochberg)."""
    m = len(p)
    k = max((i for i in range(1, m + 1) if sorted(p)[i - 1] <= i * alpha / m), default=0)
    threshold = sorted(p)[k - 1] if k else -1.0
    return np.array([x <= threshold for x in p])


@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 4)])
def test_fdr_matches_scipy_on_grids(shape):
    rng = np.random.default_rng(0)
    p = rng.beta(0.3, 1.0, size=shape)  # skewed towards 0: a mix of effects and nulls
    p.flat[:3] = p.flat[3]  # ties
    rejected, q = repalign.fdr(p, alpha=0.1)
    assert q.shape == p.shape and rejected.shape == p.shape and rejected.dtype == bool
    np.testing.assert_allclose(q.ravel(), stats.false_discovery_control(p.ravel(), method="bh"),
                               rtol=1e-12)
    np.testing.assert_array_equal(rejected, q <= 0.1)


def test_fdr_decisions_match_brute_force_step_up():
    rng = np.random.default_rng(1)
    for m, alpha in itertools.product((1, 2, 3, 5, 8), (0.01, 0.05, 0.2)):
        for _ in range(40):
            p = rng.beta(0.4, 1.0, size=m)
            rejected, _ = repalign.fdr(p, alpha=alpha)
            np.testing.assert_array_equal(rejected, _step_up(list(p), alpha))


def test_fdr_ignores_nan_cells():
    rng = np.random.default_rng(2)
    p = rng.beta(0.3, 1.0, size=(5, 5))
    np.fill_diagonal(p, np.nan)
    rejected, q = repalign.fdr(p)
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose(q[off], stats.false_discovery_control(p[off], method="bh"),
                               rtol=1e-12)
    assert np.isnan(np.diag(q)).all() and not rejected.diagonal().any()
    all_nan, q_nan = repalign.fdr(np.full(3, np.nan))
    assert not all_nan.any() and np.isnan(q_nan).all()


def test_fdr_accepts_lists_and_torch():
    torch = pytest.importorskip("torch")
    p = [0.001, 0.02, 0.03, 0.5]
    expected = stats.false_discovery_control(p, method="bh")
    np.testing.assert_allclose(repalign.fdr(p)[1], expected, rtol=1e-12)
    np.testing.assert_allclose(repalign.fdr(torch.tensor(p))[1], expected, rtol=1e-6)


@pytest.mark.parametrize("p,alpha,error,match", [
    ([0.1, 1.2], 0.05, ValueError, r"p_values must lie in \[0, 1\].* got 1 outside, e.g. 1.2"),
    ([-0.1, 0.5], 0.05, ValueError, r"got 1 outside, e.g. -0.1"),
    ([np.inf, 0.5], 0.05, ValueError, r"got 1 outside, e.g. inf"),
    ([0.1, 0.5], 0.0, ValueError, r"fdr: alpha=0.0 is not in \(0, 1\)"),
    ([0.1, 0.5], 1, ValueError, r"fdr: alpha=1 is not in \(0, 1\)"),
    ([0.1, 0.5], "0.05", TypeError, r"fdr: alpha must be a real number"),
    (["a", "b"], 0.05, TypeError, r"p_values must hold real numbers"),
])
def test_fdr_errors(p, alpha, error, match):
    with pytest.raises(error, match=match):
        repalign.fdr(p, alpha=alpha)
