"""Simple geometry statistics: magnitude, uniformity, RSM norm difference and
aligned cosine similarity (ReSi's "statistics" family and its neighbours).

The first two compare one summary number per representation, so ``prepare``
does all the work and ``pair`` is a subtraction; they say nothing about whether
the same stimuli are placed alike and are best read next to a measure that does.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass

from .._array_api import to_numpy
from .._validation import Interval, Options
from ._base import Capabilities, Measure, Prepared
from ._grad import polar_factor, requires_grad
from ._kernels import flat_dot, orthonormal_basis, squared_distances
from ._rdm import RDM_METRICS, condensed_rdm, resample_condensed
from ._references import RESI, SIMILARITY_SURVEY
from .registry import register

__all__ = ["MagnitudeDifference", "UniformityDifference", "RSMNormDifference",
           "AlignedCosine"]



def _row_norms(X, xp, measure: str):
    """Euclidean norms of the stimulus rows; a zero row has no direction and fails."""
    norms = xp.sqrt(xp.sum(X * X, axis=1))
    zero = norms == 0
    if bool(xp.any(zero)):
        bad = [i for i, v in enumerate(to_numpy(zero, xp)) if v]
        raise ValueError(
            f"X: stimulus row(s) {bad[:5]}{' ...' if len(bad) > 5 else ''} are all zero, so "
            f"their direction (and {measure}) is undefined; drop those stimuli"
        )
    return norms


class _StatisticDifference(Measure):
    """``|s(X) - s(Y)|`` for a per-representation statistic ``s`` computed in prepare."""

    kind = "distance"
    # The statistic does not depend on the order of the stimuli: permuting them
    # leaves the value unchanged (a permutation test of it always gives p = 1).
    _stimulus_axes = {}
    capabilities = Capabilities(permutation=True, differentiable=True)

    @property
    def bounds(self):
        return (0.0, math.inf)

    @abstractmethod
    def _statistic(self, X, xp):
        """The statistic of a validated, varying ``X`` (a 0-d array)."""

    def _prepare(self, X, xp):
        return {"statistic": self._statistic(X, xp)}

    def _pair(self, a: Prepared, b: Prepared, xp):
        return xp.abs(a.data["statistic"] - b.data["statistic"])


@register
@dataclass(frozen=True)
class MagnitudeDifference(_StatisticDifference):
    """Difference of the magnitudes of two representations (ReSi).

    .. math::

        m(X, Y) = \\big| \\|\\bar x\\|_2 - \\|\\bar y\\|_2 \\big|, \\qquad
        \\bar x = \\frac1n \\sum_i x_i ,

    the length of the mean stimulus pattern (ReSi's ``magnitude_difference``),
    or with ``statistic="mean_norm"`` the mean length of the patterns,
    ``| mean_i ||x_i|| - mean_i ||y_i|| |``.

    Parameters
    ----------
    statistic : {"norm_of_mean", "mean_norm"}, default="norm_of_mean"
        Which magnitude: the norm of the mean row (ReSi, Klabunde et al.'s
        survey) or the mean of the row norms.

    Notes
    -----
    Unchanged by rotations and permutations of the features; not by scaling
    (it is a length) nor by translation (no centring). Widths may differ.

    References
    ----------
    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025). ReSi:
    a comprehensive benchmark for representational similarity measures. ICLR.

    Klabunde, Schumacher, Strohmaier & Lemmerich (2025). Similarity of neural
    network models: a survey of functional and representational measures.
    ACM Computing Surveys 57(9).

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.array([[3.0, 4.0], [3.0, 4.0], [3.0, 5.0]]) - [0.0, 1.0 / 3]
    >>> round(repalign.measure("magnitude_difference", X, 2 * X), 12)  # |5 - 10|
    5.0
    """

    statistic: str = "norm_of_mean"

    name = "magnitude_difference"
    references = (RESI,)
    cost = "prepare O(n d), pair O(1)"
    _constraints = {"statistic": Options("norm_of_mean", "mean_norm")}

    @property
    def invariances(self):
        return ("orthogonal", "permutation")

    def _statistic(self, X, xp):
        if self.statistic == "mean_norm":
            return xp.mean(xp.sqrt(xp.sum(X * X, axis=1)))
        mean = xp.mean(X, axis=0)
        return xp.sqrt(xp.sum(mean * mean))


@register
@dataclass(frozen=True)
class UniformityDifference(_StatisticDifference):
    """Difference of the uniformity (Wang & Isola 2020) of two representations.

    .. math::

        u(X) = \\log \\frac{1}{n^2} \\sum_{i,j} e^{-t \\|z_i - z_j\\|^2}, \\qquad
        m(X, Y) = |u(X) - u(Y)| ,

    with ``z_i = x_i / ||x_i||`` the stimulus patterns on the unit sphere
    (Wang & Isola's setting). ``u`` is the log of a Gaussian-kernel potential:
    most negative when the patterns spread uniformly over the sphere, 0 when
    they all point one way.

    Parameters
    ----------
    t : float, default=2.0
        Kernel scale, Wang & Isola's (and ReSi's) choice.
    normalize : bool, default=True
        Project the patterns onto the unit sphere first. ``False`` uses the raw
        patterns, as ReSi's ``uniformity_difference`` does; the measure is then
        invariant to translation instead of scaling.

    Notes
    -----
    The mean runs over all ``n^2`` ordered pairs, the self-pairs included
    (ReSi, and the plug-in estimate of Wang & Isola's expectation over pairs
    drawn independently); Wang & Isola's code averages the ``n(n-1)/2`` distinct
    pairs instead, which is ``log((n e^u - 1) / (n - 1))`` in terms of ours.
    ``prepare`` costs O(n^2 d) and keeps one number.

    References
    ----------
    Wang & Isola (2020). Understanding contrastive representation learning
    through alignment and uniformity on the hypersphere. ICML.

    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025). ReSi:
    a comprehensive benchmark for representational similarity measures. ICLR.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> square = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    >>> # u(square) = log((4 + 8 e^-4 + 4 e^-8) / 16); u(same direction) = 0
    >>> same = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0]])
    >>> value = repalign.measure("uniformity_difference", square, same)
    >>> bool(abs(value + np.log((4 + 8 * np.exp(-4) + 4 * np.exp(-8)) / 16)) < 1e-12)
    True
    """

    t: float = 2.0
    normalize: bool = True

    name = "uniformity_difference"
    _n_square = 2.5
    references = (
        "Wang & Isola (2020). Understanding contrastive representation learning through "
        "alignment and uniformity on the hypersphere. ICML.",
        RESI,
    )
    cost = "prepare O(n^2 d), pair O(1)"
    _constraints = {"t": Interval(0, None, closed="neither"), "normalize": Options(True, False)}

    @property
    def invariances(self):
        if self.normalize:
            return ("orthogonal", "isotropic_scale", "permutation")
        return ("orthogonal", "translation", "permutation")

    def _statistic(self, X, xp):
        if self.normalize:
            X = X / _row_norms(X, xp, self.name)[:, None]
        return xp.log(xp.mean(xp.exp(-self.t * squared_distances(X, xp))))


@register
@dataclass(frozen=True)
class RSMNormDifference(Measure):
    """Frobenius norm of the difference of two representational (dis)similarity matrices.

    .. math::

        m(X, Y) = \\|D_X - D_Y\\|_F = \\Big(\\sum_{i,j} (D_{X,ij} - D_{Y,ij})^2\\Big)^{1/2},

    with ``D_{X,ij} = ||x_i - x_j||`` by default (ReSi's choice). Unlike RSA it
    compares the dissimilarities themselves, not their ranks or correlation,
    so it is sensitive to the scale of each representation.

    Parameters
    ----------
    rdm : {"euclidean", "sqeuclidean", "cosine", "correlation"}, default="euclidean"
        The dissimilarity between stimulus patterns, as ``scipy.spatial.distance.pdist``
        (see :func:`repalign.compare_rdms` and ``rsa``).

    Notes
    -----
    The full matrices are symmetric with zero diagonals, so the norm is
    ``sqrt(2)`` times the norm of the difference of the condensed RDMs, which
    is what ``prepare`` keeps (O(n^2 d)); ``pair`` is O(n^2). ReSi's
    ``rsm_norm_diff`` intends this norm but calls ``numpy.linalg.norm(S - S',
    ord=2)`` on the square matrices, which is the spectral norm (the largest
    singular value), not the Frobenius norm; its values are therefore smaller.

    References
    ----------
    Klabunde, Schumacher, Strohmaier & Lemmerich (2025). Similarity of neural
    network models: a survey of functional and representational measures.
    ACM Computing Surveys 57(9).

    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025). ReSi:
    a comprehensive benchmark for representational similarity measures. ICLR.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    >>> # distances (5, 1, sqrt(18)) double: every off-diagonal entry differs by itself
    >>> round(repalign.measure("rsm_norm_difference", X, 2 * X) ** 2, 10)  # 2 (25 + 1 + 18)
    88.0
    """

    rdm: str = "euclidean"

    name = "rsm_norm_difference"
    _n_square = 2.5
    kind = "distance"
    references = (
        SIMILARITY_SURVEY,
        RESI,
    )
    cost = "prepare O(n^2 d), pair O(n^2)"
    _constraints = {"rdm": Options(*RDM_METRICS)}
    _stimulus_axes = {"rdm": "condensed"}
    capabilities = Capabilities(permutation=True, resampling=True, differentiable=True)

    @property
    def invariances(self):
        if self.rdm in ("euclidean", "sqeuclidean"):
            return ("orthogonal", "translation", "permutation")
        if self.rdm == "cosine":
            return ("orthogonal", "isotropic_scale", "permutation")
        return ("isotropic_scale", "permutation")

    @property
    def bounds(self):
        return (0.0, math.inf)

    def _prepare(self, X, xp):
        return {"rdm": condensed_rdm(X, self.rdm, xp)}

    def _pair(self, a: Prepared, b: Prepared, xp):
        return _rdm_norm_difference(a.data["rdm"], b.data["rdm"], xp)

    def _pair_resampled(self, a: Prepared, b: Prepared, idx, xp):
        # Pairs of a stimulus with its own copy are left out; they would add 0.
        return _rdm_norm_difference(resample_condensed(a.data["rdm"], idx, xp),
                                    resample_condensed(b.data["rdm"], idx, xp), xp)


def _rdm_norm_difference(u, v, xp):
    """``||D_u - D_v||_F`` of the square RDMs, from the condensed ``u`` and ``v``."""
    diff = u - v
    return xp.sqrt(2 * flat_dot(diff, diff, xp))


@register
@dataclass(frozen=True)
class AlignedCosine(Measure):
    """Aligned cosine similarity (Hamilton, Leskovec & Jurafsky 2016).

    Rotate X onto Y by orthogonal Procrustes, then average the cosine between
    each stimulus's two patterns:

    .. math::

        m(X, Y) = \\frac1n \\sum_{i=1}^n \\cos\\big((X Q)_i, y_i\\big), \\qquad
        Q = \\arg\\min_{Q^T Q = I} \\|X Q - Y\\|_F = A B^T ,

    with ``X^T Y = A S B^T`` (thin SVD). No centring or scaling comes first
    (as ReSi's ``aligned_cossim``).

    Notes
    -----
    For unequal widths ReSi zero-pads the narrower representation to a square
    rotation; the padded optimum restricted to the data is the thin polar
    factor ``A B^T`` (``d_X x d_Y``) used here, so no padding is formed. With
    more features than stimuli, ``prepare`` replaces X by its coordinates in
    the row space (``U S`` from a thin SVD, an isometry of the rows), so a
    pair costs O(n r_X r_Y) whatever the width. Invariant to rotations,
    permutations and (unlike ReSi's label) scaling of either input, since
    neither ``Q`` nor a cosine changes with a positive factor; symmetric
    because ``Q`` for (Y, X) is ``Q^T``. In [-1, 1].

    References
    ----------
    Hamilton, Leskovec & Jurafsky (2016). Diachronic word embeddings reveal
    statistical laws of semantic change. ACL.

    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025). ReSi:
    a comprehensive benchmark for representational similarity measures. ICLR.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((30, 4))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    >>> round(repalign.measure("aligned_cosine", X, 5 * X @ Q), 12)
    1.0
    """

    name = "aligned_cosine"
    kind = "similarity"
    references = (
        "Hamilton, Leskovec & Jurafsky (2016). Diachronic word embeddings reveal statistical "
        "laws of semantic change. ACL.",
        RESI,
    )
    cost = "prepare O(n d min(n, d)), pair O(n p_x p_y + p_x p_y min(p_x, p_y)), p = min(n, d)"
    _constraints = {}
    _stimulus_axes = {"scores": (0,), "unit_scores": (0,)}
    capabilities = Capabilities(permutation=True, differentiable=True)

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "permutation")

    @property
    def bounds(self):
        return (-1.0, 1.0)

    def _prepare(self, X, xp):
        norms = _row_norms(X, xp, self.name)
        n, d = X.shape
        if d > n and not requires_grad(X):
            U, S, _ = orthonormal_basis(X, xp)
            X = U * S[None, :]
        return {"scores": X, "unit_scores": X / norms[:, None]}

    def _pair(self, a: Prepared, b: Prepared, xp):
        M = a.data["scores"].T @ b.data["scores"]
        if requires_grad(M):  # the rotation A B^T as a spectral function of M
            aligned = flat_dot(a.data["unit_scores"] @ polar_factor(M), b.data["unit_scores"], xp)
            return aligned / a.n_stimuli
        A, _, Bt = xp.linalg.svd(M, full_matrices=False)
        aligned = flat_dot(a.data["unit_scores"] @ A, b.data["unit_scores"] @ Bt.T, xp)
        return aligned / a.n_stimuli
