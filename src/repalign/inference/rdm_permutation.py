"""A permutation test between two precomputed RDMs (e.g. a model RDM and a brain RDM)."""

from __future__ import annotations

import numpy as np

from .._array_api import namespace_and_device
from .._validation import Interval, Options
from ..measures._rdm import (
    COMPARATORS,
    check_rdm,
    compare_prepared,
    prepare_rdm_vector,
    resample_condensed,
)
from .permutation import permutation_p_value

__all__ = ["rdm_permutation_test"]


def rdm_permutation_test(D1, D2, method: str = "spearman", n_permutations: int = 1000,
                         seed=None) -> tuple[float, float]:
    """Compare two RDMs and test the comparison by permuting the stimuli of ``D2``.

    Under the null hypothesis the two RDMs share no stimulus-specific structure:
    relabelling the stimuli of ``D2`` (rows and columns together) leaves the
    comparison's distribution unchanged (Kriegeskorte et al. 2008; Nili et al.
    2014). Each permutation re-indexes the prepared (ranked, centred) RDM once,
    so it costs one dot product of length n(n-1)/2.

    Parameters
    ----------
    D1, D2 : array
        RDMs over the same n stimuli, square and symmetric or condensed.
    method : {"spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"}, default="spearman"
        The comparator, as :func:`repalign.compare_rdms`.
    n_permutations : int, default=1000
    seed : int, numpy Generator or None

    Returns
    -------
    value : float
        ``compare_rdms(D1, D2, method)``.
    p_value : float
        ``(1 + #{null >= value}) / (1 + n_permutations)``, one-sided.

    References
    ----------
    Nili et al. (2014). A toolbox for representational similarity analysis.
    PLoS Comput. Biol. 10(4): e1003553.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> from scipy.spatial.distance import pdist
    >>> X = np.random.default_rng(0).standard_normal((20, 5))
    >>> value, p = repalign.rdm_permutation_test(pdist(X), pdist(X ** 3), seed=0)
    >>> round(p, 4)
    0.001
    """
    Options(*COMPARATORS).check("rdm_permutation_test", "method", method)
    Interval(1, None, integer=True).check("rdm_permutation_test", "n_permutations",
                                          n_permutations)
    v1, n1 = check_rdm(D1, "D1")
    v2, n2 = check_rdm(D2, "D2")
    if n1 != n2:
        raise ValueError(f"D1 is an RDM of {n1} stimuli but D2 of {n2}; they must match")
    xp, device = namespace_and_device(v1, v2, names=("D1", "D2"))
    dtype = xp.result_type(v1.dtype, v2.dtype)
    a = prepare_rdm_vector(xp.astype(v1, dtype), method, xp, "D1")
    b = prepare_rdm_vector(xp.astype(v2, dtype), method, xp, "D2")
    value = float(compare_prepared(a, b, method, xp))
    rng = np.random.default_rng(seed)
    null = np.array([
        float(compare_prepared(a, resample_condensed(b, xp.asarray(rng.permutation(n1),
                                                                   device=device), xp),
                               method, xp))
        for _ in range(n_permutations)
    ])
    return value, permutation_p_value(value, null, "similarity")
