"""Noise ceilings of a set of subject RDMs and split-half reliability.

How well could any model explain data this noisy? The noise ceiling bounds the
expected comparison of the true model's RDM with the subjects' RDMs, from the
variability between subjects (Nili et al. 2014); split-half reliability asks the
same of two halves of one data set (Spearman 1910; Brown 1910).
"""

from __future__ import annotations

import warnings

from .._array_api import namespace_and_device
from .._validation import Options, as_array
from ..exceptions import DegenerateWarning
from ..measures._rdm import (
    COMPARATORS,
    average_ranks,
    check_rdm,
    compare_prepared,
    compare_rdm_pair,
    prepare_rdm_vector,
)

__all__ = ["noise_ceiling", "split_half_reliability"]

_RANK_COMPARATORS = ("spearman", "rho_a", "kendall_tau_a")


def _check_rdm_stack(rdms):
    """The subject RDMs of a stack as condensed vectors of one dtype and device."""
    rdms = as_array(rdms, "rdms")
    if rdms.ndim not in (2, 3):
        raise ValueError(
            "rdms must be a stack of subject RDMs of shape (n_subjects, n, n) or "
            f"(n_subjects, n(n-1)/2); got a {rdms.ndim}-D array of shape {tuple(rdms.shape)}"
        )
    if rdms.shape[0] < 2:
        raise ValueError(
            f"rdms holds {rdms.shape[0]} subject RDM(s); a noise ceiling needs at least 2"
        )
    return [check_rdm(rdms[i, ...], f"rdms[{i}]")[0] for i in range(rdms.shape[0])]


def _pooling_vector(v, prepared, compare, xp):
    """One RDM as it enters the group mean, as rsatoolbox's ``pool_rdm`` has it.

    Rank comparators average the ranks; ``pearson`` averages z-scored RDMs and
    ``cosine`` RDMs scaled to unit root mean square. The prepared vectors of
    those two are the same up to a factor common to all subjects, sqrt(m).
    """
    return average_ranks(v, xp) if compare in _RANK_COMPARATORS else prepared


def noise_ceiling(rdms, method: str = "loo", compare: str = "spearman") -> tuple[float, float]:
    """Lower and upper bound of the noise ceiling of a set of subject RDMs.

    Parameters
    ----------
    rdms : array of shape (n_subjects, n, n) or (n_subjects, n(n-1)/2)
        One RDM per subject over the same stimuli in the same order: square and
        symmetric (the diagonal is ignored) or condensed (the upper triangle,
        row by row, as ``scipy.spatial.distance.pdist``). NumPy or any array-API
        library (a torch stack stays on its device until the final floats).
    method : {"loo"}, default="loo"
        How the lower bound leaves data out: each subject against the mean of
        the others (leave one subject out).
    compare : {"spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"}, default="spearman"
        The RDM comparator, as in :func:`repalign.compare_rdms`.

    Returns
    -------
    lower, upper : float
        The lower and upper bound, in the comparator's units.

    Notes
    -----
    With ``S`` subjects, RDMs ``d_s`` and the comparator ``c``,

    .. math::

        \\text{upper} = \\frac{1}{S} \\sum_s c\\bigl(d_s, \\bar d\\bigr), \\qquad
        \\text{lower} = \\frac{1}{S} \\sum_s c\\bigl(d_s, \\bar d_{-s}\\bigr),

    where :math:`\\bar d` is the pooled RDM of all subjects and
    :math:`\\bar d_{-s}` that of all but subject ``s``. The upper bound
    overfits (subject ``s`` is part of its own reference) and the lower bound
    underfits (the reference is estimated from fewer subjects), so the true
    model's expected score lies between them (Nili et al. 2014). RDMs are
    pooled the way that suits the comparator, as rsatoolbox's
    ``boot_noise_ceiling`` and ``pool_rdm`` do: the mean of the rank-transformed
    RDMs for ``spearman``, ``rho_a`` and ``kendall_tau_a``, of the z-scored
    RDMs for ``pearson``, and of the RDMs scaled to unit root mean square for
    ``cosine``.

    References
    ----------
    Nili, Wingfield, Walther, Su, Marslen-Wilson & Kriegeskorte (2014). A
    toolbox for representational similarity analysis. PLoS Comput. Biol.
    10(4): e1003553.

    Examples
    --------
    >>> import repalign
    >>> data = repalign.datasets.kriegeskorte92()
    >>> lower, upper = repalign.noise_ceiling(data.human_it.mean(axis=1))
    >>> round(lower, 3), round(upper, 3)
    (0.372, 0.666)
    """
    Options("loo").check("noise_ceiling", "method", method)
    Options(*COMPARATORS).check("noise_ceiling", "compare", compare)
    vectors = _check_rdm_stack(rdms)
    xp, _ = namespace_and_device(*vectors)
    prepared = [prepare_rdm_vector(v, compare, xp, f"rdms[{i}]")
                for i, v in enumerate(vectors)]
    pooled = xp.stack([_pooling_vector(v, p, compare, xp)
                       for v, p in zip(vectors, prepared)])
    n_subjects = len(vectors)
    total = xp.sum(pooled, axis=0)
    everyone = prepare_rdm_vector(total / n_subjects, compare, xp, "the mean RDM")
    upper = lower = 0.0
    for s, subject in enumerate(prepared):
        others = prepare_rdm_vector((total - pooled[s, ...]) / (n_subjects - 1), compare, xp,
                                    f"the mean RDM of the subjects other than rdms[{s}]")
        upper += float(compare_prepared(subject, everyone, compare, xp))
        lower += float(compare_prepared(subject, others, compare, xp))
    return lower / n_subjects, upper / n_subjects


def split_half_reliability(a, b, compare: str = "pearson",
                           correction: str | None = "spearman-brown") -> float:
    """Split-half reliability of an RDM, with or without the Spearman-Brown correction.

    Parameters
    ----------
    a, b : array of shape (n, n) or (n(n-1)/2,)
        The RDMs of two independent halves of the data (e.g. the mean RDM of
        session 1 and of session 2), square and symmetric or condensed, over
        the same stimuli in the same order.
    compare : {"pearson", "spearman", "kendall_tau_a", "rho_a", "cosine"}, default="pearson"
        The comparator, as in :func:`repalign.compare_rdms`.
    correction : {"spearman-brown", None}, default="spearman-brown"
        ``"spearman-brown"``: the reliability of the full data (both halves
        together); None: the raw split-half comparison ``r``, the reliability
        of one half.

    Returns
    -------
    float
        The reliability of the full data (both halves together), or of one
        half with ``correction=None``.

    Warns
    -----
    DegenerateWarning
        If the halves are anti-correlated (``r < 0``): the data then show no
        reliable structure and the corrected value is not a reliability.

    Notes
    -----
    With ``r`` the comparison of the two halves, the Spearman-Brown prophecy
    formula for doubling the amount of data is

    .. math::

        r_{SB} = \\frac{2 r}{1 + r},

    the reliability expected of the whole data set if its halves are parallel
    measurements (equal true signal, independent noise of equal variance): the
    correlation between two independent replications of the whole. For the
    Pearson correlation it is exact in the population: with halves
    ``a = t + e_1`` and ``b = t + e_2``, signal variance ``s^2`` and noise
    variance ``v^2``, ``r = s^2 / (s^2 + v^2)``, and the whole, ``t + (e_1 +
    e_2) / 2``, has reliability ``s^2 / (s^2 + v^2 / 2) = 2r / (1 + r)``.
    ``r_SB`` goes to minus infinity as ``r`` goes to -1 (and is ``-inf`` at
    ``r = -1``).

    References
    ----------
    Spearman (1910). Correlation calculated from faulty data. Br. J. Psychol.
    3(3):271-295. Brown (1910). Some experimental results in the correlation of
    mental abilities. Br. J. Psychol. 3(3):296-322.

    Examples
    --------
    >>> import repalign
    >>> it = repalign.datasets.kriegeskorte92().human_it
    >>> halves = it[:, 0].mean(axis=0), it[:, 1].mean(axis=0)
    >>> round(repalign.split_half_reliability(*halves), 3)
    0.64
    >>> round(repalign.split_half_reliability(*halves, correction=None), 3)  # one half
    0.47
    """
    Options(*COMPARATORS).check("split_half_reliability", "compare", compare)
    Options("spearman-brown", None).check("split_half_reliability", "correction", correction)
    r = compare_rdm_pair(a, b, compare, names=("a", "b"))
    if correction is None:
        return r
    corrected = 2 * r / (1 + r) if r > -1 else float("-inf")
    if r < 0:
        warnings.warn(
            f"split_half_reliability: the halves are anti-correlated ({compare} r = {r:.3g}), "
            "so the data show no reliable structure and the Spearman-Brown value "
            f"{corrected:.3g} is not a reliability",
            DegenerateWarning, stacklevel=2,
        )
    return corrected
