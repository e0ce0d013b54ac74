"""Multiple-comparison control for grids of p-values."""

from __future__ import annotations

import numpy as np

from .._array_api import to_numpy
from .._validation import Interval, as_array

__all__ = ["fdr"]


def fdr(p_values, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg control of the false discovery rate.

    Parameters
    ----------
    p_values : array of any shape
        p-values in [0, 1], e.g. a (n_models, n_layers) grid of
        :attr:`repalign.PairResult.p_value`. NaN marks a cell without a test
        (a diagonal, a skipped pair): it is left out, and the others are
        corrected as a family of the ``m`` non-NaN p-values.
    alpha : float, default=0.05
        The false discovery rate to control, in (0, 1).

    Returns
    -------
    rejected : ndarray of bool, same shape as ``p_values``
        Whether each null hypothesis is rejected (False where NaN).
    q_values : ndarray of float64, same shape as ``p_values``
        Benjamini-Hochberg adjusted p-values (NaN where NaN): the smallest FDR
        level at which each hypothesis would be rejected, so that
        ``rejected == (q_values <= alpha)``.

    Raises
    ------
    ValueError
        If a p-value is outside [0, 1] or infinite, or ``alpha`` is not in (0, 1).

    Notes
    -----
    With the ``m`` p-values sorted, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`, the
    step-up procedure rejects the hypotheses of :math:`p_{(1)}, \\dots, p_{(k)}`
    with :math:`k = \\max\\{i : p_{(i)} \\le i \\alpha / m\\}`. The adjusted values

    .. math::

        q_{(i)} = \\min\\Bigl(1, \\min_{j \\ge i} \\frac{m\\, p_{(j)}}{j}\\Bigr)

    give the same decisions for every ``alpha``; they are computed by
    ``scipy.stats.false_discovery_control(method="bh")``. This controls the FDR
    at ``alpha`` for independent or positively dependent tests (Benjamini &
    Yekutieli 2001).

    References
    ----------
    Benjamini & Hochberg (1995). Controlling the false discovery rate: a
    practical and powerful approach to multiple testing. J. R. Stat. Soc. B
    57(1):289-300.

    Examples
    --------
    >>> import repalign
    >>> rejected, q = repalign.fdr([[0.001, 0.04], [0.03, 0.5]])
    >>> rejected.tolist(), q.round(3).tolist()
    ([[True, False], [False, False]], [[0.004, 0.053], [0.053, 0.5]])
    """
    Interval(0, 1, closed="neither").check("fdr", "alpha", alpha)
    p = np.asarray(to_numpy(as_array(p_values, "p_values")), dtype=np.float64)
    tested = ~np.isnan(p)
    outside = tested & ~((p >= 0) & (p <= 1))
    if np.any(outside):
        raise ValueError(
            f"fdr: p_values must lie in [0, 1] (NaN marks a cell without a test); "
            f"got {int(outside.sum())} outside, e.g. {float(p[outside][0])!r}"
        )
    from scipy.stats import false_discovery_control

    q = np.full(p.shape, np.nan)
    if tested.any():
        q[tested] = false_discovery_control(p[tested], method="bh")
    return tested & (q <= alpha), q
