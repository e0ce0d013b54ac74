"""Spectral and statistical measures: eigenspace overlap, GULP, the effective number
of shared dimensions, distance correlation and the affine-invariant Riemannian
distance between Grams.

Each ``prepare`` keeps the spectral factors of one representation (an
orthonormal basis with its eigenvalues, or a centred distance matrix), so
that a pair costs one small cross product or one small eigenproblem.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from array_api_compat import device

from .._validation import Interval, Options
from ..exceptions import DegenerateWarning
from ._base import Capabilities, Measure, Prepared
from ._grad import NOT_IMPLEMENTED, projector_scores, requires_grad, spectral_scores
from ._kernels import (
    center_columns,
    double_center,
    flat_dot,
    frobenius_inner,
    orthonormal_basis,
    squared_distances,
    u_center,
)
from .cca import basis_rank, warn_if_subspaces_forced
from .registry import register

__all__ = ["EigenspaceOverlap", "GULP", "ENSD", "DistanceCorrelation", "Riemannian"]


@register
@dataclass(frozen=True)
class EigenspaceOverlap(Measure):
    """Eigenspace overlap score (May, Zhang, Dao & Re 2019).

    .. math::

        \\mathrm{EOS}(X, Y) = \\frac{\\|U_X^T U_Y\\|_F^2}{\\max(r_X, r_Y)},

    with ``U_X`` (n x r_X) an orthonormal basis of the column space of ``X``
    (its left singular vectors of non-zero singular value) and ``r_X`` its
    rank. The numerator is the sum of the squared cosines of the principal
    angles between the two column spaces: the value is 1 iff the spaces are
    equal, ``r_Y / r_X`` if one contains the other, 0 iff they are orthogonal.

    Notes
    -----
    As in the paper and ReSi (``repsim.measures.eigenspace_overlap``), the
    features are *not* centred, so the measure is invariant to invertible
    linear maps but not to translations. ReSi divides by the larger *width*
    ``max(d_X, d_Y)``; we divide by the larger *rank*, which equals it for
    full-column-rank inputs and keeps ``EOS(X, X) = 1`` when features are
    collinear or outnumber the stimuli. With ``r_X + r_Y > n`` the two spaces
    must share ``r_X + r_Y - n`` dimensions, whatever the data, and a
    :class:`~repalign.DegenerateWarning` is issued.

    ``prepare`` takes a thin SVD of X (rank-revealing, the tolerance of
    ``numpy.linalg.matrix_rank``); ``pair`` is one ``r_X x r_Y`` cross product.

    References
    ----------
    May, Zhang, Dao & Re (2019). On the downstream performance of compressed
    word embeddings. NeurIPS.

    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025). ReSi:
    a comprehensive benchmark for representational similarity measures. ICLR.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 6))
    >>> round(repalign.measure("eigenspace_overlap", X, X @ rng.standard_normal((6, 6))), 12)
    1.0
    >>> round(repalign.measure("eigenspace_overlap", X, X[:, :3]), 12)  # nested: 3 / 6
    0.5
    """

    name = "eigenspace_overlap"
    kind = "similarity"
    references = (
        "May, Zhang, Dao & Re (2019). On the downstream performance of compressed word "
        "embeddings. NeurIPS.",
    )
    cost = "prepare O(n d min(n, d)), pair O(n r_x r_y)"
    _constraints = {}
    _stimulus_axes = {"basis": (0,)}
    capabilities = Capabilities(permutation=True, differentiable=True)

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "permutation", "invertible_linear")

    def _prepare(self, X, xp):
        if requires_grad(X):  # a basis with the same projector, differentiably
            basis, rank = projector_scores(X)
            return {"basis": basis, "rank": rank}
        U, _, _ = orthonormal_basis(X, xp)
        return {"basis": U}

    def _pair(self, a: Prepared, b: Prepared, xp):
        Ua, Ub = a.data["basis"], b.data["basis"]
        ra, rb, n = basis_rank(a), basis_rank(b), a.n_stimuli
        if ra + rb > n:
            warnings.warn(
                f"eigenspace_overlap: ranks {ra} + {rb} exceed the {n} stimuli, so the "
                f"column spaces share at least {ra + rb - n} dimension(s) whatever the "
                "data; the value is inflated. Use more stimuli than features.",
                DegenerateWarning, stacklevel=3,
            )
        C = Ua.T @ Ub
        return flat_dot(C, C, xp) / max(ra, rb)


@register
@dataclass(frozen=True)
class GULP(Measure):
    """GULP distance between the ridge-regression predictors of two representations.

    Each centred representation is scaled to unit total variance,
    ``X~ = sqrt(n) X_c / ||X_c||_F`` (the GULP code and ReSi), and
    ``H_X = X~ (X~^T X~ + n lam I)^{-1} X~^T`` maps any target on the stimuli to
    its ridge prediction from ``X~``. The distance is

    .. math::

        d_\\lambda(X, Y) = \\|H_X - H_Y\\|_F
          = \\Big(\\sum_i f_i^2 + \\sum_j g_j^2
            - 2 \\|\\mathrm{diag}(f)^{1/2} U_X^T U_Y \\mathrm{diag}(g)^{1/2}\\|_F^2\\Big)^{1/2},

    with ``X_c = U_X S V^T``, ``f_i = e_i / (e_i + lam)`` and
    ``e_i = s_i^2 / sum_k s_k^2`` the eigenvalues of the covariance of ``X~``
    (likewise ``g`` for Y). Squared, it is the summed squared difference
    between the two ridge predictions of the n one-hot targets (or of any
    orthonormal basis of targets): the plug-in estimator of Boix-Adsera et
    al. (2022).

    Parameters
    ----------
    lam : float, default=0.0
        Ridge penalty relative to the total variance (1 after scaling). 0 is
        ReSi's default (``repsim.measures.gulp``): ``H`` projects onto the
        column space, the measure is invariant to invertible linear maps and
        ``d_0^2 = r_X + r_Y - 2 sum_k rho_k^2`` with the canonical correlations
        ``rho``. The paper sweeps ``lam`` (1e-20 to 1e4); ``lam > 0`` only
        keeps invariance to rotations and is what to use when features
        outnumber stimuli (``lam = 0`` then warns that the spaces are forced
        to overlap, as CCA does).

    Notes
    -----
    ReSi and the GULP code (``predictor_dist``) return the *square* of this
    distance; the paper's metric ``d_lambda`` is its root, which satisfies the
    triangle inequality. ``prepare`` keeps ``U diag(f)^{1/2}`` and ``sum f^2``
    from a thin SVD; ``pair`` is one ``r_X x r_Y`` cross product.

    References
    ----------
    Boix-Adsera, Lawrence, Stepaniants & Rigollet (2022). GULP: a
    prediction-based metric between representations. NeurIPS.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 5))
    >>> round(repalign.measure("gulp", X, 2 * X @ rng.standard_normal((5, 5)) + 1), 6)
    0.0
    >>> round(repalign.measure("gulp", X, X[:, :2]), 6)  # sqrt(5 - 2): nested spaces
    1.732051
    """

    lam: float = 0.0

    name = "gulp"
    kind = "distance"
    references = (
        "Boix-Adsera, Lawrence, Stepaniants & Rigollet (2022). GULP: a prediction-based "
        "metric between representations. NeurIPS.",
    )
    cost = "prepare O(n d min(n, d)), pair O(n r_x r_y)"
    _constraints = {"lam": Interval(0, None)}
    _stimulus_axes = {"weighted_basis": (0,)}
    capabilities = Capabilities(permutation=True, differentiable=True)

    @property
    def invariances(self):
        inv = ("orthogonal", "isotropic_scale", "translation", "permutation")
        return inv + ("invertible_linear",) if self.lam == 0 else inv

    @property
    def bounds(self):
        return (0.0, math.inf)

    def _prepare(self, X, xp):
        Xc = center_columns(X, xp)
        if requires_grad(Xc):
            # U diag(f)^(1/2) with f = e / (e + lam), e = s^2 of the unit-variance X.
            lam = self.lam
            W, S, rank = spectral_scores(Xc / xp.sqrt(xp.sum(Xc * Xc)),
                                         lambda s: s / xp.sqrt(s * s + lam),
                                         lambda s: lam / (s * s + lam) ** 1.5)
            f = S * S / (S * S + lam)
            return {"weighted_basis": W, "sq_norm": xp.sum(f * f), "rank": rank}
        U, S, _ = orthonormal_basis(Xc, xp)
        e = S * S / xp.sum(S * S)
        f = e / (e + self.lam)
        return {"weighted_basis": U * xp.sqrt(f)[None, :], "sq_norm": xp.sum(f * f)}

    def _pair(self, a: Prepared, b: Prepared, xp):
        Wa, Wb = a.data["weighted_basis"], b.data["weighted_basis"]
        if self.lam == 0:
            warn_if_subspaces_forced(self.name, a.data.get("rank", Wa.shape[1]),
                                     b.data.get("rank", Wb.shape[1]), a.n_stimuli)
        C = Wa.T @ Wb
        sq = a.data["sq_norm"] + b.data["sq_norm"] - 2 * flat_dot(C, C, xp)
        return xp.sqrt(xp.clip(sq, min=0))


@register
@dataclass(frozen=True)
class ENSD(Measure):
    """Effective number of shared dimensions (Giaffar, Rangel Buitrago & Rajan 2023).

    With the centred stimulus Grams ``K = X_c X_c^T`` and ``L = Y_c Y_c^T``,

    .. math::

        \\mathrm{ENSD}(X, Y) = \\frac{\\mathrm{tr} K \\; \\mathrm{tr} L \\;
            \\mathrm{tr}(K L)}{\\mathrm{tr}(K^2) \\, \\mathrm{tr}(L^2)}
          = \\mathrm{PR}(X)\\, \\mathrm{PR}(Y)\\,
            \\mathrm{tr}\\Big(\\frac{K}{\\mathrm{tr} K} \\frac{L}{\\mathrm{tr} L}\\Big),

    where ``PR(X) = (tr K)^2 / tr(K^2) = (sum_i lambda_i)^2 / sum_i lambda_i^2``
    is the participation ratio of X's covariance eigenvalues ``lambda``. It
    counts the dimensions the two representations share: ``ENSD(X, X) = PR(X)``,
    and for two representations that each spread their variance evenly over k
    dimensions, ``ENSD`` is the number of those dimensions they share (the sum
    of their squared principal-angle cosines). With linear CKA,
    ``ENSD = CKA * sqrt(PR(X) PR(Y))``, so ``0 <= ENSD <= sqrt(PR(X) PR(Y))``.

    Notes
    -----
    ``prepare`` keeps the centred features (``d < n``) or the centred Gram,
    with ``tr K = ||X_c||_F^2`` and ``tr(K^2) = ||X_c^T X_c||_F^2``; ``pair`` is
    ``tr(KL) = ||X_c^T Y_c||_F^2``, O(n d_x d_y), as linear CKA. The streamed
    form uses the same traces of the scatter matrices.

    References
    ----------
    Giaffar, Rangel Buitrago & Rajan (2023). The effective number of shared
    dimensions: a simple method for revealing shared structure between
    datasets. bioRxiv 2023.07.27.550815.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((2000, 6)) * [1, 1, 1, 1, 0, 0]  # 4 even dimensions
    >>> round(repalign.measure("ensd", X, X), 1)  # its participation ratio
    4.0
    >>> Q, _ = np.linalg.qr(rng.standard_normal((2, 2)))
    >>> round(repalign.measure("ensd", X, 3 * X[:, :2] @ Q), 1)  # 2 of them, rotated
    1.9
    """

    name = "ensd"
    kind = "similarity"
    references = (
        "Giaffar, Rangel Buitrago & Rajan (2023). The effective number of shared dimensions: "
        "a simple method for revealing shared structure between datasets. bioRxiv "
        "2023.07.27.550815.",
    )
    cost = "prepare O(n d^2) (d < n) or O(n^2 d), pair O(n d_x d_y) or O(n^2)"
    _stimulus_axes = {"features": (0,), "gram": (0, 1)}
    capabilities = Capabilities(permutation=True, streaming=True, differentiable=True)

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "translation", "permutation")

    @property
    def bounds(self):
        return (0.0, math.inf)

    @property
    def identity(self):
        return None  # ENSD(X, X) is the participation ratio of X

    def _square_arrays(self, n: int, d: int) -> float:
        return 0.0 if d < n else 2.0

    def _prepare(self, X, xp):
        Xc = center_columns(X, xp)
        n, d = Xc.shape
        data = {"features": Xc} if d < n else {"gram": Xc @ Xc.T}
        trace = xp.sum(Xc * Xc)
        if not bool(trace > 0):
            raise ValueError("X does not vary across stimuli; ENSD is undefined")
        return {**data, "trace": trace, "sq_trace": frobenius_inner(data, data, xp)}

    def _pair(self, a: Prepared, b: Prepared, xp):
        return self._value(a.data["trace"], b.data["trace"], frobenius_inner(a.data, b.data, xp),
                           a.data["sq_trace"], b.data["sq_trace"])

    @staticmethod
    def _value(trace_a, trace_b, shared, sq_a, sq_b):
        return trace_a * trace_b * shared / (sq_a * sq_b)

    def _from_moments(self, moments):
        """ENSD from the streamed scatter matrices: ``tr K = tr C_xx``,
        ``tr(K^2) = ||C_xx||_F^2``, ``tr(KL) = ||C_xy||_F^2``."""
        import numpy as np

        Cxx, Cyy, Cxy = moments.covariances()
        for label, C in (("X", Cxx), ("Y", Cyy)):
            if not np.trace(C) > 0:
                raise ValueError(f"{label} does not vary across stimuli; ENSD is undefined")
        return self._value(np.trace(Cxx), np.trace(Cyy), flat_dot(Cxy, Cxy, np),
                           flat_dot(Cxx, Cxx, np), flat_dot(Cyy, Cyy, np))


@register
@dataclass(frozen=True)
class DistanceCorrelation(Measure):
    """Distance correlation (Szekely, Rizzo & Bakirov 2007) between the stimulus patterns.

    The stimuli are the samples and each representation a random vector:
    with ``a_ij = ||x_i - x_j||`` and its double-centred matrix
    ``A = H a H`` (``H = I - 11^T / n``), likewise ``B`` for Y,

    .. math::

        \\mathrm{dCov}^2(X, Y) = \\frac{1}{n^2} \\sum_{ij} A_{ij} B_{ij}, \\qquad
        \\mathrm{dCor}(X, Y) = \\sqrt{\\frac{\\mathrm{dCov}^2(X, Y)}
            {\\sqrt{\\mathrm{dCov}^2(X, X)\\,\\mathrm{dCov}^2(Y, Y)}}} .

    It is 0 iff the two are independent (in the population) and, unlike
    correlation, captures nonlinear dependence; it is unchanged by rotations,
    translations and scalings of either representation.

    Parameters
    ----------
    estimator : {"biased", "unbiased"}, default="biased"
        ``"biased"``: the V-statistic above, in [0, 1], as ReSi
        (``repsim.measures.distance_correlation``) and ``dcor.distance_correlation``.
        ``"unbiased"``: the bias-corrected *squared* distance correlation
        ``R*`` of Szekely & Rizzo (2014) (``dcor.u_distance_correlation_sqr``),
        the same ratio with U-centred distance matrices (zero diagonal) and
        sums over ``i != j``. It removes the upward bias at small n or many
        features, can be negative (in [-1, 1]) and so has no square root;
        it needs n >= 4.

    Notes
    -----
    ``prepare`` builds the n x n distance matrix (O(n^2 d)) and centres it;
    ``pair`` is one O(n^2) inner product. ReSi marks the measure as not
    invariant to isotropic scaling; it is: ``A`` scales by ``c``, and the
    ratio does not change.

    References
    ----------
    Szekely, Rizzo & Bakirov (2007). Measuring and testing dependence by
    correlation of distances. Annals of Statistics 35(6), 2769-2794.

    Szekely & Rizzo (2014). Partial distance correlation with methods for
    dissimilarities. Annals of Statistics 42(6), 2382-2412.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 4))
    >>> round(repalign.measure("distance_correlation", X, 3 * X + 1), 12)
    1.0
    """

    estimator: str = "biased"

    name = "distance_correlation"
    kind = "similarity"
    references = (
        "Szekely, Rizzo & Bakirov (2007). Measuring and testing dependence by correlation "
        "of distances. Annals of Statistics 35(6).",
        "Szekely & Rizzo (2014). Partial distance correlation with methods for "
        "dissimilarities. Annals of Statistics 42(6).",
    )
    cost = "prepare O(n^2 d), pair O(n^2)"
    _constraints = {"estimator": Options("biased", "unbiased")}
    _stimulus_axes = {"centered": (0, 1)}
    capabilities = Capabilities(permutation=True, differentiable=True)
    _n_square = 4.5

    @property
    def min_stimuli(self) -> int:
        return 4 if self.estimator == "unbiased" else 3

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "translation", "permutation")

    @property
    def bounds(self):
        return (-1.0, 1.0) if self.estimator == "unbiased" else (0.0, 1.0)

    def _prepare(self, X, xp):
        n = X.shape[0]
        # The diagonal of the squared distances is 0 only up to rounding, which the
        # square root would blow up to sqrt(eps) * scale: set it to 0 exactly.
        off = 1 - xp.eye(n, dtype=X.dtype, device=device(X))
        if requires_grad(X):
            # The root's derivative is infinite at the 0 diagonal: the root of 1 there
            # (then zeroed) keeps the gradient finite.
            D = xp.sqrt(squared_distances(X, xp) * off + (1 - off)) * off
        else:
            D = xp.sqrt(squared_distances(X, xp)) * off
        A = u_center(D, xp) if self.estimator == "unbiased" else double_center(D, xp)
        return {"centered": A, "sq_norm": flat_dot(A, A, xp)}

    def _pair(self, a: Prepared, b: Prepared, xp):
        ratio = (flat_dot(a.data["centered"], b.data["centered"], xp)
                 / xp.sqrt(a.data["sq_norm"] * b.data["sq_norm"]))
        if self.estimator == "unbiased":
            return ratio
        return xp.sqrt(xp.clip(ratio, min=0))


@register
@dataclass(frozen=True)
class Riemannian(Measure):
    """Affine-invariant Riemannian distance between the stimulus Gram matrices.

    .. math::

        d(X, Y) = \\Big(\\sum_{i=1}^n \\log^2 \\mu_i\\Big)^{1/2}, \\qquad
        \\mu = \\mathrm{eig}(K^{-1} L),

    with the (uncentred) per-feature second-moment matrices
    ``K = X X^T / d_X + eps_X I`` and ``L = Y Y^T / d_Y + eps_Y I``, each
    made positive definite by a ridge relative to its own mean eigenvalue,
    ``eps_X = eps * tr(X X^T / d_X) / n``. This is the geodesic distance on the
    manifold of positive definite matrices (Shahbazi et al. 2021), unchanged
    by ``K, L -> A K A^T, A L A^T`` for any invertible A.

    Parameters
    ----------
    eps : float, default=1e-6
        Ridge relative to the mean eigenvalue of each Gram matrix. With fewer
        features than stimuli the Grams are singular and the distance is
        dominated by ``log(eps)`` terms from the directions where only one of
        them is non-zero (a :class:`~repalign.DegenerateWarning` says so):
        compare values only at one ``eps``.

    Notes
    -----
    Not invariant to scaling: ``d(X, c X) = 2 sqrt(n) |log c|`` exactly (the
    ridge scales with the Gram), nor to translation (the Grams are not
    centred, as the condition-by-condition inner products of Shahbazi et al.).

    ``prepare`` keeps a thin SVD of X: ``K = U diag(e) U^T + eps_X I`` with
    ``e = s^2 / d_X``. ``pair`` forms no n x n matrix unless a Gram has full
    rank: both Grams are multiples of the identity outside the joint span of
    ``U_X`` and ``U_Y`` (m <= r_X + r_Y dimensions), whose directions add
    ``log^2(eps_Y / eps_X)`` each, and inside it ``K`` is diagonal in the
    coordinates ``[U_X, Q]`` (``Q`` from one QR). The eigenvalues above 1 come
    from ``K^{-1/2} L K^{-1/2}`` in X's coordinates and those below 1 as
    reciprocals of the ones above 1 of ``L^{-1/2} K L^{-1/2}`` in Y's: each
    is then the well-resolved large end of a symmetric eigenproblem with no
    cancellation, accurate to ~1e-12 in float64 where one solve (or
    ``scipy.linalg.eigh(L, K)``) loses up to ~1e-4 absolute to the
    ill-conditioning that ``eps`` creates; and the value is exactly
    symmetric. Cost O(n (r_X + r_Y)^2 + m^3) per pair.

    The pencil spans entries from ``ridge`` to the largest eigenvalue (a ratio
    of ~1/eps), so float32 eigenvalues would carry absolute errors of
    ~1e-7/eps: with float32 inputs the preparation (the SVD) stays in float32
    and the pair is computed in float64 from the float32 bases (relative error
    ~1e-6 against the exact value for the float32 inputs).

    References
    ----------
    Shahbazi, Shirali, Aghajan & Nili (2021). Using distance on the Riemannian
    manifold to compare representations in brain and in models. NeuroImage 239,
    118271.

    Pennec, Fillard & Ayache (2006). A Riemannian framework for tensor
    computing. International Journal of Computer Vision 66(1), 41-66.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 30))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    >>> round(repalign.measure("riemannian", X, X @ Q), 6)
    0.0
    >>> bool(abs(repalign.measure("riemannian", X, 2 * X) - 2 * np.sqrt(20) * np.log(2)) < 1e-9)
    True
    """

    eps: float = 1e-6

    name = "riemannian"
    kind = "distance"
    references = (
        "Shahbazi, Shirali, Aghajan & Nili (2021). Using distance on the Riemannian "
        "manifold to compare representations in brain and in models. NeuroImage 239.",
    )
    cost = "prepare O(n d min(n, d)), pair O(n (r_x + r_y)^2 + m^3), m <= r_x + r_y"
    _constraints = {"eps": Interval(0, None, closed="neither")}
    _stimulus_axes = {"basis": (0,)}
    capabilities = Capabilities(permutation=True, differentiable_refusal=(
        f"{NOT_IMPLEMENTED}: its eigenvalue problem is built from the singular vectors of "
        "each representation, whose gradients are unstable at repeated singular values; "
        "use cka, a shape metric or cca"))

    @property
    def invariances(self):
        return ("orthogonal", "permutation")

    @property
    def bounds(self):
        return (0.0, math.inf)

    def _prepare(self, X, xp):
        n, d = X.shape
        U, S, _ = orthonormal_basis(X, xp)
        e = S * S / d
        return {"basis": U, "eigenvalues": e, "ridge": self.eps * xp.sum(e) / n}

    def _pair(self, a: Prepared, b: Prepared, xp):
        n = a.n_stimuli
        rank = min(a.data["basis"].shape[1], b.data["basis"].shape[1])
        if rank < n:
            warnings.warn(
                f"riemannian: a Gram matrix of rank {rank} < {n} stimuli is singular; the "
                "directions where it vanishes enter through the ridge eps alone and "
                "dominate the value. Use at least as many features as stimuli, or compare "
                "values only at one eps.",
                DegenerateWarning, stacklevel=3,
            )
        return xp.sqrt(_sq_log_above_one(a, b, xp) + _sq_log_above_one(b, a, xp))


def _sq_log_above_one(a: Prepared, b: Prepared, xp):
    """``sum(log(max(mu, 1))^2)`` over the n eigenvalues ``mu`` of ``K^{-1} L``.

    ``K = U diag(e) U^T + ridge I`` is diagonal in the coordinates ``[U, Q]`` of
    the joint span of ``U`` and ``V`` (``Q`` from a QR of ``V - U U^T V``; ``U``
    alone when it has full rank), where ``L = W diag(f) W^T + ridge_v I`` with
    ``W = [U^T V; R]``. There the pencil is the symmetric
    ``K^{-1/2} L K^{-1/2}``, a sum of positive terms scaled by a diagonal. Each
    of the ``n - m`` directions outside the m coordinates adds the eigenvalue
    ``ridge_v / ridge`` (when ``m > n`` the coordinates hold ``m - n`` such
    directions too many, and they are taken away).
    """
    U, e, ridge, V, f, ridge_v = (
        xp.astype(x, xp.float64) for x in (a.data["basis"], a.data["eigenvalues"],
                                          a.data["ridge"], b.data["basis"],
                                          b.data["eigenvalues"], b.data["ridge"]))
    n, r = U.shape
    W, m = U.T @ V, n
    if r < n:
        _, R = xp.linalg.qr(V - U @ W)
        W, m = xp.concat([W, R], axis=0), r + V.shape[1]
    dev = device(U)
    sqrt_k = xp.sqrt(xp.concat([e + ridge, xp.zeros((m - r,), dtype=e.dtype, device=dev) + ridge]))
    L = (W * f[None, :]) @ W.T + ridge_v * xp.eye(m, dtype=e.dtype, device=dev)
    log_mu = xp.log(xp.clip(xp.linalg.eigvalsh(L / (sqrt_k[:, None] * sqrt_k[None, :])), min=1))
    outside = xp.clip(xp.log(ridge_v / ridge), min=0)
    return xp.sum(log_mu * log_mu) + (n - m) * outside * outside
