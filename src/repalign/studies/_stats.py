"""Intervals of statistics over pairs of models, where each model enters several pairs."""

from __future__ import annotations

import numpy as np

__all__ = ["jackknife_over_models"]


def jackknife_over_models(frame, statistic, columns=("seed_a", "seed_b"), level: float = 0.95):
    """A statistic of the rows of ``frame`` and its jackknife interval over the models.

    Rows are pairs of models (named in ``columns``), and a model enters several
    pairs, so the rows are not independent. Each model ``m`` is left out in
    turn with every row it enters, giving ``theta_(m)``; the standard error is

    .. math::

        \\mathrm{se} = \\sqrt{\\frac{k - 1}{k} \\sum_m (\\theta_{(m)} - \\bar\\theta)^2},

    over the ``k`` models, and the interval ``theta +- t_{k-1} se`` (Student's t
    on ``k - 1`` degrees of freedom; Efron & Tibshirani 1993, ch. 11).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per pair of models.
    statistic : callable
        ``statistic(rows) -> float`` on a subset of the rows.
    columns : tuple of str, default=("seed_a", "seed_b")
        The columns naming the two models of a row.
    level : float, default=0.95
        Coverage of the interval.

    Returns
    -------
    tuple of float
        ``(theta, low, high)``.

    Raises
    ------
    ValueError
        If fewer than 3 models are named, or leaving a model out leaves no row.
    """
    from scipy.stats import t

    named = frame[list(columns)].to_numpy()
    models = np.unique(named)
    if len(models) < 3:
        raise ValueError(f"the jackknife over models needs at least 3 models; got {len(models)}")
    theta = float(statistic(frame))
    left_out = []
    for m in models:
        rest = frame[~(named == m).any(axis=1)]
        if len(rest) == 0:
            raise ValueError(f"leaving model {m!r} out leaves no pair")
        left_out.append(statistic(rest))
    left_out = np.asarray(left_out, dtype=float)
    k = len(models)
    se = np.sqrt((k - 1) / k * np.sum((left_out - left_out.mean()) ** 2))
    half = float(t.ppf(0.5 + level / 2, k - 1) * se)
    return theta, theta - half, theta + half
