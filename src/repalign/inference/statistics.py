"""The statistics of one comparison: its permutation test and its interval.

:func:`pair_statistics` is the one place they are computed: :func:`repalign.compare`
and the grid engine both call it, so a pair compared alone and the same pair
inside a grid get identical p-values and intervals from the same random stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._array_api import namespace_and_device
from ..measures import Measure, Prepared
from .bootstrap import bootstrap_distribution, percentile_interval
from .coverage import choose_interval
from .jackknife import jackknife_interval, jackknife_values
from .permutation import permutation_null, permutation_p_value

__all__ = ["INTERVALS", "PairStatistics", "pair_statistics"]

#: The interval methods: what each is an interval of, in words ("auto" chooses one).
INTERVALS = {
    "jackknife": "bias-corrected jackknife t-interval of the population value (stimuli left "
                 "out in turn, on the scale where the measure's range is the real line)",
    "bootstrap": "percentile bootstrap interval of the estimator (stimuli drawn with "
                 "replacement; biased upward for measures that read a duplicated stimulus as "
                 "aligned)",
}


@dataclass(frozen=True)
class PairStatistics:
    """The permutation test and bootstrap interval of one comparison.

    Quantities not computed (a count of 0) are None.

    Attributes
    ----------
    p_value : float or None
        One-sided permutation p-value in the direction of "more aligned".
    null_mean, null_std : float or None
        Mean and standard deviation (ddof=1; NaN for one permutation) of the
        permutation values.
    calibrated : float or None
        ``(value - null_mean) / (1 - null_mean)`` for a similarity whose largest
        value is 1 (NaN when ``null_mean`` is 1); None otherwise.
    null_distribution : ndarray or None
        The permutation values.
    ci_low, ci_high : float or None
        The interval.
    interval : str or None
        Its method, a key of :data:`INTERVALS`.
    bootstrap_distribution : ndarray or None
        The bootstrap values (NaN where the measure was undefined on a resample).
    jackknife_values : ndarray or None
        The values with each group of stimuli left out.
    interval_note : str or None
        Why there is no interval, what it was computed from, or its caveat
        (:func:`~repalign.inference.coverage.choose_interval`).
    """

    p_value: float | None = None
    null_mean: float | None = None
    null_std: float | None = None
    calibrated: float | None = None
    null_distribution: np.ndarray | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    interval: str | None = None
    bootstrap_distribution: np.ndarray | None = None
    jackknife_values: np.ndarray | None = None
    interval_note: str | None = None


def pair_statistics(measure: Measure, a: Prepared, b: Prepared, X, Y, value: float, *,
                    n_permutations: int, interval: str | None, n_bootstrap: int, ci: float,
                    rng: np.random.Generator) -> PairStatistics:
    """Permutation test and interval of ``measure`` between X and Y.

    Parameters
    ----------
    measure : Measure
    a, b : Prepared
        The states of X and Y prepared by ``measure``.
    X, Y : arrays of shape (n_stimuli, n_features)
        The validated representations behind ``a`` and ``b`` (used only by
        measures that prepare permuted or resampled rows again).
    value : float
        ``measure.pair(a, b)``.
    n_permutations : int
        Permutations of the stimuli of Y; 0 skips the test.
    interval : {"auto", "jackknife", "bootstrap"} or None
        The interval's method (:data:`INTERVALS`); ``"auto"`` is the jackknife
        where its coverage was measured to hold and none otherwise
        (:func:`~repalign.inference.coverage.choose_interval`); None skips it.
    n_bootstrap : int
        Bootstrap resamples of the stimuli (``interval="bootstrap"``; 0 skips it).
    ci : float in (0, 1)
        Level of the interval.
    rng : numpy.random.Generator
        The comparison's random source: ``rng.spawn(2)`` gives the permutation
        and the interval's streams, independent, so changing one count leaves
        the other's draws alone.

    Returns
    -------
    PairStatistics

    Notes
    -----
    The p-value is :func:`~repalign.inference.permutation.permutation_p_value`
    of the permutation null (ties within 100 eps of the input's dtype); the
    interval :func:`~repalign.inference.jackknife.jackknife_interval` of the
    values without each group of stimuli, or
    :func:`~repalign.inference.bootstrap.percentile_interval` of the bootstrap
    values; see :func:`repalign.compare` for what each means.
    """
    permutation_rng, interval_rng = rng.spawn(2)
    found = {}
    if n_permutations:
        null = permutation_null(measure, a, b, Y, n_permutations, permutation_rng)
        xp, _ = namespace_and_device(X)
        null_mean = float(np.mean(null))
        found.update(
            null_distribution=null, null_mean=null_mean,
            p_value=permutation_p_value(value, null, measure.kind,
                                        100 * float(xp.finfo(X.dtype).eps)),
            null_std=float(np.std(null, ddof=1)) if n_permutations > 1 else float("nan"),
        )
        if measure.kind == "similarity" and measure.bounds[1] == 1.0:
            found["calibrated"] = ((value - null_mean) / (1 - null_mean) if null_mean != 1
                                   else float("nan"))
    choice = choose_interval(measure, interval)
    found["interval_note"] = choice.note
    if choice.method == "jackknife":
        estimator, centre = measure, value
        if choice.measure is not None:
            estimator = choice.measure
            a, b = estimator._prepared(X), estimator._prepared(Y, "Y")
            centre = estimator.pair(a, b)
        left_out = jackknife_values(estimator, a, b, X, Y, interval_rng)
        found.update(interval="jackknife", jackknife_values=left_out)
        found["ci_low"], found["ci_high"] = jackknife_interval(centre, left_out, ci,
                                                               estimator.bounds)
    elif choice.method == "bootstrap" and n_bootstrap:
        boot = bootstrap_distribution(measure, a, b, X, Y, n_bootstrap, interval_rng)
        found.update(interval=interval, bootstrap_distribution=boot)
        found["ci_low"], found["ci_high"] = percentile_interval(boot, ci)
    return PairStatistics(**found)
