"""The jackknife over models against the closed form of an additive pair value."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t

from repalign.studies._stats import jackknife_over_models


def _pairs(u):
    k = len(u)
    return pd.DataFrame([(a, b, u[a] + u[b]) for a in range(k) for b in range(a + 1, k)],
                        columns=["seed_a", "seed_b", "value"])


def test_mean_of_an_additive_pair_value_has_the_sample_mean_interval():
    # v_ab = u_a + u_b: the mean over pairs is 2 mean(u); leaving model m out leaves the
    # pairs of the others, whose mean is 2 mean(u without m): the jackknife of a sample
    # mean, whose standard error is sd / sqrt(k)
    u = np.array([0.3, 1.0, -0.4, 0.8, 0.1])
    mean, low, high = jackknife_over_models(_pairs(u), lambda rows: rows["value"].mean())
    assert mean == pytest.approx(2 * u.mean())
    half = t.ppf(0.975, 4) * 2 * u.std(ddof=1) / np.sqrt(5)
    assert (low, high) == pytest.approx((mean - half, mean + half))


def test_level_and_refusals():
    frame = _pairs(np.array([0.0, 1.0, 2.0, 4.0]))
    _, low90, high90 = jackknife_over_models(frame, lambda r: r["value"].mean(), level=0.9)
    _, low95, high95 = jackknife_over_models(frame, lambda r: r["value"].mean())
    assert low95 < low90 < high90 < high95
    with pytest.raises(ValueError, match="at least 3 models"):
        jackknife_over_models(frame[frame["seed_a"] == 0].head(1), lambda r: 0.0)
