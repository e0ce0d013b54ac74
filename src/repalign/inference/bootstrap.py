"""Bootstrap over stimuli: the sampling distribution of a measure, percentile intervals.

A bootstrap resample draws n stimuli with replacement and keeps the same rows of
X and Y, so the interval reflects the uncertainty due to the choice of stimuli
(the population of stimuli is what a representational comparison generalises
over; Schuett et al. 2023).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import DegenerateWarning
from ..measures import Measure, Prepared

__all__ = ["bootstrap_distribution", "percentile_interval"]


def bootstrap_distribution(measure: Measure, a: Prepared, b: Prepared, X, Y,
                           n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Values of ``measure`` on bootstrap resamples of the stimuli.

    Parameters
    ----------
    measure : Measure
    a, b : Prepared
        The states of X and Y prepared by ``measure``.
    X, Y : arrays of shape (n_stimuli, n_features)
        The validated representations behind ``a`` and ``b``.
    n_bootstrap : int
        Number of resamples, each ``idx = rng.integers(0, n, n)``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_bootstrap,)
        ``measure.pair_resampled(a, b, idx, X, Y)``: from the states where the
        measure's capabilities declare ``resampling`` (RDM measures, which leave
        out the pairs of a stimulus with its own copy), else
        ``pair(prepare(X[idx]), prepare(Y[idx]))``. NaN where the measure is
        undefined on a resample (its preparation raised ``ValueError``, e.g. a
        unit constant across the drawn stimuli); a
        :class:`~repalign.DegenerateWarning` says how many there were.
    """
    n = a.n_stimuli
    values = np.empty(n_bootstrap)
    failures: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWarning)
        for k in range(n_bootstrap):
            try:
                values[k] = measure.pair_resampled(a, b, rng.integers(0, n, size=n), X, Y)
            except ValueError as err:
                values[k] = np.nan
                failures.append(str(err))
    if failures:
        warnings.warn(
            f"{measure.name}: undefined on {len(failures)} of {n_bootstrap} bootstrap "
            f"resamples of the stimuli (first: {failures[0]}); the interval uses the others",
            DegenerateWarning, stacklevel=3,
        )
    return values


def percentile_interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    """The percentile bootstrap interval at level ``ci``.

    .. math::

        [\\hat F^{-1}((1 - c)/2),\\; \\hat F^{-1}((1 + c)/2)]

    with ``F^`` the empirical distribution of the finite bootstrap values
    (``numpy.percentile``, linear interpolation); NaN bounds if none is finite.

    References
    ----------
    Efron & Tibshirani (1993). An Introduction to the Bootstrap, ch. 13.
    Chapman & Hall.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [50 * (1 - ci), 50 * (1 + ci)])
    return float(low), float(high)
