"""Representational similarity analysis (RSA) and RDM comparison."""

from __future__ import annotations

from dataclasses import dataclass

from .._validation import Options
from ._base import Capabilities, Measure, Prepared
from ._blocks import chunk_bounds, stacked_inner
from ._grad import RANKS
from ._rdm import (
    COMPARATORS,
    RDM_METRICS,
    compare_prepared,
    compare_rdm_pair,
    condensed_rdm,
    prepare_rdm_vector,
    resample_condensed,
)
from .registry import register

__all__ = ["RSA", "compare_rdms"]

#: Comparators that are a dot product of the prepared vectors (a block is one GEMM).
_DOT_COMPARATORS = ("spearman", "pearson", "cosine", "rho_a")

#: Comparators that are smooth functions of the RDMs (gradients flow through them).
_SMOOTH_COMPARATORS = ("pearson", "cosine")
#: Why the rank comparators refuse inputs that require grad.
_GRADIENT_REFUSALS = {
    method: f"compare={method!r} {what}: {RANKS}; use compare='pearson' or 'cosine'"
    for method, what in (("spearman", "correlates ranks"), ("rho_a", "correlates ranks"),
                         ("kendall_tau_a", "counts concordant pairs, a function of the "
                                           "ranks"))
}

_RSA_REFERENCES = (
    "Kriegeskorte, Mur & Bandettini (2008). Representational similarity analysis - "
    "connecting the branches of systems neuroscience. Front. Syst. Neurosci. 2:4.",
    "Nili et al. (2014). A toolbox for representational similarity analysis. "
    "PLoS Comput. Biol. 10(4): e1003553.",
)


@register
@dataclass(frozen=True)
class RSA(Measure):
    """Representational similarity analysis: compare the two RDMs.

    Each representation becomes its representational dissimilarity matrix (one
    dissimilarity per pair of stimuli); the two RDMs are then compared by a
    correlation-type statistic over their n(n-1)/2 entries above the diagonal.

    Parameters
    ----------
    rdm : {"correlation", "euclidean", "sqeuclidean", "cosine"}, default="correlation"
        Dissimilarity between stimulus patterns ``x_i, x_j``: ``1 - corr(x_i, x_j)``,
        ``||x_i - x_j||``, ``||x_i - x_j||^2`` or ``1 - cos(x_i, x_j)``.
    compare : {"spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"}, default="spearman"
        How two RDM vectors ``a, b`` (length m) are compared, as in rsatoolbox:
        Spearman's rho (Pearson r of average ranks); Pearson r; Kendall's
        tau-a ``(C - D) / (m(m-1)/2)``, recommended when a model predicts ties
        (Nili et al. 2014); rho-a, ``12 sum(r_a r_b) / (m^3 - m)`` with centred
        ranks ``r`` (Spearman without tie correction); cosine ``a.b / (|a||b|)``.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation: None keeps the input's; ``"float32"``
        casts each representation at ``prepare`` (half the memory for the RDM
        and its ranks). Measured relative error against float64 (n=2000,
        d=256): about 3e-6 for correlation/Spearman and Euclidean/Pearson
        (float32 rounding of the dissimilarities can tie or swap entries that
        differ by less than 1e-7 relative). Tested <= 1e-5. Ranks above 2^24
        (n > 5800 stimuli) are rounded to float32's 24-bit mantissa.

    Notes
    -----
    ``prepare`` computes the RDM and, for rank comparators, its ranks once
    (O(n^2 d + m log m)); ``pair`` is then a dot product of length
    m = n(n-1)/2, except Kendall's tau-a, which counts discordant pairs in
    O(m log m) on the host.

    References
    ----------
    Kriegeskorte, Mur & Bandettini (2008). Representational similarity
    analysis. Front. Syst. Neurosci. 2:4.

    Nili et al. (2014). A toolbox for representational similarity analysis.
    PLoS Comput. Biol. 10(4): e1003553.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((30, 5))
    >>> repalign.measure("rsa", X, np.exp(X), rdm="euclidean") > 0.5
    True
    """

    rdm: str = "correlation"
    compare: str = "spearman"
    name = "rsa"
    kind = "similarity"
    references = _RSA_REFERENCES
    cost = "prepare O(n^2 d + n^2 log n), pair O(n^2)"
    _constraints = {"rdm": Options(*RDM_METRICS), "compare": Options(*COMPARATORS)}
    # The prepared vector (ranks for rank comparators) permutes with the RDM entries.
    _stimulus_axes = {"rdm": "condensed"}
    _n_square = 2.0

    @property
    def invariances(self):
        if self.rdm in ("euclidean", "sqeuclidean"):
            return ("orthogonal", "isotropic_scale", "translation", "permutation")
        if self.rdm == "cosine":
            return ("orthogonal", "isotropic_scale", "permutation")
        return ("isotropic_scale", "permutation")

    @property
    def bounds(self):
        return (-1.0, 1.0)

    def _prepare(self, X, xp):
        v = condensed_rdm(X, self.rdm, xp)
        return {"rdm": prepare_rdm_vector(v, self.compare, xp)}

    def _pair(self, a: Prepared, b: Prepared, xp):
        return compare_prepared(a.data["rdm"], b.data["rdm"], self.compare, xp)

    @property
    def capabilities(self) -> Capabilities:
        """Index permutation, resampling from the RDMs; batched for dot-product comparators;
        gradients for the Pearson and cosine comparators."""
        return Capabilities(permutation=True, resampling=True,
                            batched_pairs=self.compare in _DOT_COMPARATORS,
                            differentiable=self.compare in _SMOOTH_COMPARATORS,
                            differentiable_refusal=_GRADIENT_REFUSALS.get(self.compare, ""))

    def _pair_block(self, states_a, states_b, same, mask, xp, memory):
        """A block of comparisons as one product of the stacked prepared RDM vectors.

        For ``spearman``, ``pearson`` and ``cosine`` the prepared vectors are
        unit-norm (centred ranks, centred values, values), so the block is
        ``V_a V_b^T`` with the vectors as rows; ``rho_a`` scales it by
        ``12 / (m^3 - m)``. The m = n(n-1)/2 entries are cut into pieces whose
        stacks fit ``memory`` and the pieces' products summed. Kendall's tau-a
        is not a dot product and loops over :meth:`pair`.
        """
        m = states_a[0].data["rdm"].shape[0]
        k = len(states_a) + (0 if same else len(states_b))
        inner = 0
        for e0, e1 in chunk_bounds(m, memory // (8 * k)):
            rows = [[s.data["rdm"][e0:e1] for s in side]
                    for side in ((states_a,) if same else (states_a, states_b))]
            inner = inner + stacked_inner(rows[0], None if same else rows[1], xp)
        return 12 * inner / (m**3 - m) if self.compare == "rho_a" else inner

    def _pair_resampled(self, a: Prepared, b: Prepared, idx, xp):
        """The comparison over the resample's pairs of distinct stimuli (rsatoolbox's bootstrap).

        The prepared vectors are re-prepared on the resampled entries: each is a
        strictly increasing (ranks) or positive affine (Pearson, cosine) map
        of the RDM, which the comparator ignores, so this equals preparing the
        resampled RDM itself (ranks of ranks are the ranks).
        """
        va, vb = (prepare_rdm_vector(resample_condensed(s.data["rdm"], idx, xp), self.compare,
                                     xp, name) for s, name in ((a, "X"), (b, "Y")))
        return compare_prepared(va, vb, self.compare, xp)


def compare_rdms(D1, D2, method: str = "spearman") -> float:
    """Compare two precomputed RDMs.

    Parameters
    ----------
    D1, D2 : array
        RDMs over the same stimuli in the same order, each either square
        ``(n, n)`` and symmetric (the diagonal is ignored) or condensed
        (length n(n-1)/2, the upper triangle row by row, as
        ``scipy.spatial.distance.pdist`` returns it).
    method : {"spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"}, default="spearman"
        The comparator, defined as for the ``rsa`` measure (as rsatoolbox).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np, repalign
    >>> from scipy.spatial.distance import pdist
    >>> X = np.random.default_rng(0).standard_normal((20, 4))
    >>> round(repalign.compare_rdms(pdist(X), pdist(2 * X) ** 2), 12)
    1.0
    """
    Options(*COMPARATORS).check("compare_rdms", "method", method)
    return compare_rdm_pair(D1, D2, method)
