"""Chance levels: the closed form of linear CKA against a simulation, and calibration."""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pytest

import repalign


@pytest.mark.parametrize("n, dx, dy", [(30, 5, 7), (50, 50, 50), (20, 200, 120)])
def test_linear_cka_closed_form_matches_a_simulation(n, dx, dy):
    closed = repalign.chance_level("cka", n, dx, dy)
    assert closed.method == "closed form"
    rng = np.random.default_rng(n)
    m = repalign.get("cka")
    with pytest.warns(repalign.DegenerateWarning) if min(dx, dy) >= n else nullcontext():
        values = [m(rng.standard_normal((n, dx)), rng.standard_normal((n, dy)))
                  for _ in range(300)]
    assert closed.mean == pytest.approx(np.mean(values), abs=4 * np.std(values) / np.sqrt(300)
                                        + 2e-3)


def test_unbiased_cka_is_zero_at_chance_and_others_are_simulated():
    assert repalign.chance_level("cka", 30, 10, estimator="unbiased").mean == 0.0
    simulated = repalign.chance_level("rsa", 20, 5, n_samples=50, seed=0)
    assert simulated.method == "simulation" and abs(simulated.mean) < 3 * simulated.std
    again = repalign.chance_level(repalign.get("rsa"), 20, 5, n_samples=50, seed=0)
    assert again.mean == simulated.mean  # one seed, one draw


def test_calibrate_is_zero_at_chance_and_one_at_identity():
    chance = repalign.chance_level("cka", 50, 50)
    assert repalign.calibrate(0.5, chance) == pytest.approx(0.0)
    assert repalign.calibrate(1.0, chance) == pytest.approx(1.0)
    assert repalign.calibrate(0.75, 0.5) == pytest.approx(0.5)
    assert np.isnan(repalign.calibrate(0.3, 1.0))
    # a distance: 0 for identical representations
    assert repalign.calibrate(0.5, 1.0, identity=0.0) == pytest.approx(0.5)


@pytest.mark.parametrize("args, kwargs, error, match", [
    (("cka", 2, 5), {}, ValueError, r"chance_level: n_stimuli=2 is not in \[3, inf\)"),
    (("cka", 30, 0), {}, ValueError, r"chance_level: n_features_x=0 is not in \[1, inf\)"),
    (("rsa", 30, 5), {"n_samples": 1}, ValueError, r"n_samples=1 is not in \[2, inf\)"),
    ((len, 30, 5), {}, TypeError, "chance_level: measure must be a name or a Measure"),
])
def test_chance_level_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        repalign.chance_level(*args, **kwargs)
