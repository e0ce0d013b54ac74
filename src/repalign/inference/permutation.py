"""Permutation tests: the null distribution of a measure with the stimuli of Y shuffled.

Shuffling the rows of Y breaks the pairing of its stimuli with those of X while
keeping each representation's own geometry, which is exactly the null hypothesis
"X and Y are not aligned beyond chance". Each permutation reuses the prepared
state of Y through :meth:`Measure.permute`: an index operation where the
measure's capabilities declare ``permutation``, so the test costs about one
``pair`` per permutation; measures whose preparation depends on the order of the
stimuli (``ridge``, ``pls``) prepare ``Y[perm]`` instead.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import DegenerateWarning
from ..measures import Measure, Prepared

__all__ = ["permutation_null", "permutation_p_value"]


def permutation_null(measure: Measure, a: Prepared, b: Prepared, Y, n_permutations: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Values of ``measure`` between X and Y with the stimuli of Y permuted.

    Parameters
    ----------
    measure : Measure
    a, b : Prepared
        The states of X and Y prepared by ``measure``.
    Y : array of shape (n_stimuli, n_features_y)
        The validated representation behind ``b``, prepared again in permuted
        order only if ``measure`` declares no index-only permutation of its state.
    n_permutations : int
        Number of permutations, each drawn uniformly with ``rng.permutation``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n_permutations,)
        ``measure.pair(a, permute(b, perm))`` for each drawn ``perm``. The
        :class:`~repalign.DegenerateWarning` of a degenerate pair is not repeated
        for each permutation (the observed pair has already issued it).
    """
    null = np.empty(n_permutations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWarning)
        for k in range(n_permutations):
            null[k] = measure.pair(a, measure.permute(b, rng.permutation(b.n_stimuli), Y))
    return null


def permutation_p_value(value: float, null: np.ndarray, kind: str,
                        rtol: float = 100 * np.finfo(np.float64).eps) -> float:
    """One-sided permutation p-value in the direction of "more aligned".

    .. math::

        p = \\frac{1 + \\#\\{k : s_k \\ge s\\}}{1 + N}

    for a similarity ``s`` and its ``N`` permutation values ``s_k`` (``<=`` for a
    distance). Counting the observed value as one of the permutations keeps the
    test exact for randomly drawn permutations (Phipson & Smyth 2010); p is
    never 0 and at least ``1 / (1 + N)``. Null values within ``rtol |s|`` of
    ``s`` count as ties (``rtol`` = 100 eps of the dtype, as
    ``scipy.stats.permutation_test``), so rounding in a permuted state never
    turns a tie into a win.

    References
    ----------
    Phipson & Smyth (2010). Permutation p-values should never be zero: calculating
    exact p-values when permutations are randomly drawn. Statistical Applications
    in Genetics and Molecular Biology 9(1), Article 39.
    """
    tolerance = rtol * abs(value)
    if kind == "similarity":
        extreme = null >= value - tolerance
    else:
        extreme = null <= value + tolerance
    return float((1 + np.count_nonzero(extreme)) / (1 + null.shape[0]))
