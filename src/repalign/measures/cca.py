"""Canonical correlation analysis: CCA, SVCCA and PWCCA."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import array_api_compat
import numpy as np

from .._validation import Interval, Options
from ..exceptions import DegenerateWarning
from ._base import Capabilities, Measure, Prepared
from ._grad import NOT_IMPLEMENTED, projector_scores, requires_grad
from ._kernels import center_columns, orthonormal_basis, whiten_scatter
from ._linalg import singular_values
from .registry import register

__all__ = ["CCA", "SVCCA", "PWCCA", "canonical_correlations", "warn_if_subspaces_forced"]

#: Why ``dtype="float32"`` is refused by the CCA family.
_FLOAT32_REFUSAL = (
    "canonical correlations are ill-conditioned in single precision: the "
    "orthonormal bases come from an SVD whose error, and whose cut of "
    "near-collinear features, scale with eps * cond(X_c); with float32's eps "
    "(6e-8) a condition number of 1e3, common in network activations, already "
    "moves correlations by about 1e-4"
)

#: Gradients of the CCA family: its bases differentiated as a spectral function.
_DIFFERENTIABLE = Capabilities(permutation=True, float32=False,
                               float32_refusal=_FLOAT32_REFUSAL, differentiable=True)


_CCA_REFERENCE = ("Hotelling (1936). Relations between two sets of variates. "
                  "Biometrika 28, 321-377.")


def warn_if_subspaces_forced(name: str, rank_x: int, rank_y: int, n: int) -> None:
    """Warn when the two column spaces must intersect whatever the data.

    Centred representations live in an (n-1)-dimensional space, so subspaces of
    dimensions r_x and r_y share at least ``r_x + r_y - (n - 1)`` dimensions:
    that many canonical correlations are 1 by construction.
    """
    forced = rank_x + rank_y - (n - 1)
    if forced > 0:
        warnings.warn(
            f"{name}: with {n} stimuli and {rank_x} + {rank_y} dimensions, {forced} "
            "canonical correlation(s) are 1 by construction, whatever the data; the "
            "value is meaningless. Use more stimuli than features, or reduce the "
            "features first (svcca with dims=k).",
            DegenerateWarning, stacklevel=4,
        )


def canonical_correlations(a: Prepared, b: Prepared, xp):
    """Canonical correlations from two prepared orthonormal bases.

    With ``Q_x``, ``Q_y`` orthonormal bases of the centred column spaces, the
    canonical correlations are the singular values of ``Q_x^T Q_y``
    (Bjorck & Golub 1973), in decreasing order, clipped to [0, 1]. States on
    an autograd graph hold wider bases with the same projector
    ``Q Q^T`` (:func:`~repalign.measures._grad.spectral_scores`); the
    correlations are then the leading ``min(r_x, r_y)`` singular values.
    """
    rho = xp.clip(xp.flip(singular_values(a.data["basis"].T @ b.data["basis"], xp)), max=1)
    if "rank" in a.data or "rank" in b.data:
        rho = rho[:min(basis_rank(a), basis_rank(b))]
    return rho


def basis_rank(state: Prepared) -> int:
    """The dimension of the column space a prepared basis spans."""
    return state.data.get("rank", state.data["basis"].shape[1])


def _thin_qr(A, xp):
    """Thin Householder QR of a tall ``A`` (LAPACK through SciPy for NumPy arrays)."""
    if array_api_compat.is_numpy_array(A):
        import scipy.linalg

        return scipy.linalg.qr(A, mode="economic", check_finite=False)
    return xp.linalg.qr(A)


#: CholeskyQR2 is kept only when the Cholesky factor of its second pass is within
#: this Frobenius distance of the identity (the first pass's Q_1 then has condition
#: number at most 3).
CHOLESKY_QR2_MAX_DEPARTURE = 0.5


def _cholesky_qr2(A):
    """Thin QR ``A = Q R`` of a tall float64 NumPy ``A`` by CholeskyQR2, or None.

    Two passes of CholeskyQR (Fukaya et al. 2014):

    .. math::

        A^T A = R_1^T R_1, \\quad Q_1 = A R_1^{-1}, \\qquad
        Q_1^T Q_1 = R_2^T R_2, \\quad Q = Q_1 R_2^{-1}, \\qquad R = R_2 R_1,

    each a SYRK, a Cholesky factorisation, and a triangular solve (first pass,
    TRSM) or multiplication by the inverse (second pass, TRTRI + TRMM, as
    accurate as a solve since ``cond(R_2) <= 3``): ``4 n d^2 + 2 d^3`` flops
    at matrix-product speed, against ``4 n d^2 - 4 d^3/3`` for Householder QR
    with its thin Q, whose reflector applications run at about half that speed.

    The first pass loses orthogonality, ``||Q_1^T Q_1 - I|| ~ eps cond(A_s)^2``
    at worst, ``A_s`` being ``A`` with its columns scaled to unit norm
    (Cholesky is invariant under column scaling); the second restores it to
    ``O(eps)`` when ``Q_1`` is well conditioned, and the residual ``Q R - A``
    is ``O(eps ||A||)`` (the first solve is backward stable by rows), so that
    ``Q`` spans the column space of ``A`` as accurately as a Householder ``Q``
    (Yamamoto et al. 2015).
    That condition is checked after the fact: ``||R_2 - I||_F <= 1/2``
    (:data:`CHOLESKY_QR2_MAX_DEPARTURE`) bounds the singular values of ``R_2``,
    hence of ``Q_1``, to [1/2, 3/2]. It refuses ill-conditioned and
    rank-deficient ``A`` (whose Cholesky pivots of about ``sqrt(eps)`` leave
    columns of ``Q_1`` far from unit norm) but not column scaling, which an a
    priori estimate from the diagonal of ``R_1`` would. When a Cholesky
    factorisation fails or the check does not hold, None is returned and the
    caller keeps Householder QR.

    Parameters
    ----------
    A : ndarray of shape (n, d), float64, n > d

    Returns
    -------
    (Q, R) or None
        ``Q`` of shape (n, d) with orthonormal columns, ``R`` (d, d) upper
        triangular with a positive diagonal, ``Q R = A``.

    References
    ----------
    Fukaya, Nakatsukasa, Yanagisawa & Yamamoto (2014). CholeskyQR2: a simple and
    communication-avoiding algorithm for computing a tall-skinny QR factorization
    on a large-scale parallel system. ScalA workshop, IEEE, 31-38.

    Yamamoto, Nakatsukasa, Yanagisawa & Fukaya (2015). Roundoff error analysis of
    the CholeskyQR2 algorithm. Electronic Transactions on Numerical Analysis 44,
    306-326.
    """
    from scipy.linalg import blas, lapack, norm

    # A^T A is symmetric: its C-ordered product read as Fortran is the same matrix.
    R1, info = lapack.dpotrf((A.T @ A).T, lower=0, clean=1, overwrite_a=1)
    if info != 0:
        return None
    # Q_1^T = R_1^{-T} A^T, in a Fortran-ordered copy of A^T (A is kept for the fallback).
    Q1t = blas.dtrsm(1.0, R1, A.T, side=0, lower=0, trans_a=1)
    R2, info = lapack.dpotrf((Q1t @ Q1t.T).T, lower=0, clean=1, overwrite_a=1)
    if info != 0:
        return None
    # ||R_2 - I||_F^2 = ||R_2||_F^2 - 2 tr(R_2) + d, without a d x d temporary.
    departure2 = norm(R2) ** 2 - 2 * np.trace(R2) + R2.shape[0]
    if not departure2 <= CHOLESKY_QR2_MAX_DEPARTURE**2:
        return None
    R2_inverse, _ = lapack.dtrtri(R2, lower=0)
    Qt = blas.dtrmm(1.0, R2_inverse, Q1t, side=0, lower=0, trans_a=1, overwrite_b=1)
    return Qt.T, blas.dtrmm(1.0, R2, R1, side=0, lower=0)


def _full_rank(R, n: int, xp) -> bool:
    """Whether every singular value of the d x d triangle ``R`` passes the rank test.

    The test of :func:`orthonormal_basis`: ``s_min > s_max n eps``. First a
    certificate that needs no SVD: ``s_max <= ||R||_F`` and
    ``s_min >= 1 / ||R^{-1}||_F`` (one triangular inverse, d^3/3 flops), so
    ``||R||_F ||R^{-1}||_F < 1 / (n eps)`` proves it; it holds whenever
    ``cond(R)`` is below about ``1 / (d n eps)`` (5e8 at n=5000, d=1024).
    Otherwise (near or at rank deficiency) the singular values decide.
    """
    eps = xp.finfo(R.dtype).eps
    if bool(xp.all(xp.linalg.diagonal(R) != 0)):  # else R is singular: no inverse
        if array_api_compat.is_numpy_array(R):
            import scipy.linalg

            (trtri,) = scipy.linalg.get_lapack_funcs(("trtri",), (R,))
            inverse, _ = trtri(R, lower=0)
        else:
            inverse = xp.linalg.inv(R)
        with np.errstate(over="ignore"):  # an infinite bound proves nothing: the SVD decides
            bound = float(xp.linalg.matrix_norm(R)) * float(xp.linalg.matrix_norm(inverse))
        if math.isfinite(bound) and bound * n * eps < 1:
            return True
    S = xp.linalg.svdvals(R)
    return float(S[-1]) > float(S[0]) * n * eps


class _CanonicalBase(Measure):
    """Shared prepare for the CCA family: an orthonormal basis of centred X."""

    kind = "similarity"
    capabilities = Capabilities(permutation=True, float32=False, float32_refusal=_FLOAT32_REFUSAL)
    # PWCCA's loadings S V^T do not depend on the order of the stimuli.
    _stimulus_axes = {"basis": (0,)}

    def _basis(self, X, xp):
        """An orthonormal basis ``B`` of the centred column space and ``B^T X_c``.

        With fewer features than stimuli, a thin QR ``X_c = Q R`` gives the
        basis ``Q`` when the singular values of ``R`` (those of ``X_c``) are
        all above the rank tolerance of :func:`orthonormal_basis`; the
        canonical correlations (and PWCCA's weights, from ``Q^T X_c = R``)
        then equal those from its SVD basis ``U = Q U_R``, at the cost of a
        QR and the singular values of a d x d triangle instead of a thin SVD
        with U. The QR is CholeskyQR2 (:func:`_cholesky_qr2`, matrix-product
        speed) for well-conditioned float64 NumPy data, Householder otherwise.
        Without full rank (or with d >= n) the SVD basis.
        """
        Xc = center_columns(X, xp)
        n, d = Xc.shape
        if d < n:
            factors = None
            if array_api_compat.is_numpy_array(Xc) and Xc.dtype == np.float64:
                factors = _cholesky_qr2(Xc)
            Q, R = factors if factors is not None else _thin_qr(Xc, xp)
            if _full_rank(R, n, xp):
                return Q, R
        U, S, Vt = orthonormal_basis(Xc, xp)
        return U, S[:, None] * Vt

    def _prepare(self, X, xp):
        if requires_grad(X):
            basis, rank = projector_scores(center_columns(X, xp),
                                           top=getattr(self, "dims", None))
            if rank == 0:
                raise ValueError("X does not vary across stimuli; canonical correlations "
                                 "are undefined")
            return {"basis": basis, "rank": rank}
        basis, loadings = self._basis(X, xp)
        if basis.shape[1] == 0:
            raise ValueError("X does not vary across stimuli; canonical correlations are undefined")
        return self._state(basis, loadings)

    def _state(self, basis, loadings) -> dict:
        """What ``pair`` needs from the basis and the loadings ``basis^T X_c``."""
        return {"basis": basis}

    def _warn_if_degenerate(self, a: Prepared, b: Prepared) -> None:
        warn_if_subspaces_forced(self.name, basis_rank(a), basis_rank(b), a.n_stimuli)

    def _rho(self, a: Prepared, b: Prepared, xp):
        self._warn_if_degenerate(a, b)
        return canonical_correlations(a, b, xp)


@register
@dataclass(frozen=True)
class CCA(_CanonicalBase):
    """Mean canonical correlation between two representations.

    The canonical correlations ``rho_1 >= ... >= rho_k`` (k the smaller rank)
    are the cosines of the principal angles between the column spaces of the
    centred ``X`` and ``Y``; the measure averages them.

    Parameters
    ----------
    statistic : {"mean_r", "mean_r2"}, default="mean_r"
        ``mean_r``: :math:`\\bar\\rho = \\frac1k \\sum_i \\rho_i` (the summary of
        Raghu et al. 2017); ``mean_r2``: :math:`\\frac1k \\sum_i \\rho_i^2`
        (Yanai's generalised coefficient of determination).

    Notes
    -----
    ``prepare`` takes a thin SVD of the centred X (rank-revealing, so constant
    or collinear features are dropped); ``pair`` is the SVD of the
    ``r_x x r_y`` cross product of the two bases: no covariance inverses and
    no matrix square roots. With ``r_x + r_y > n - 1`` some correlations are
    1 by construction and a :class:`~repalign.DegenerateWarning` is issued.

    References
    ----------
    Hotelling (1936). Relations between two sets of variates. Biometrika 28.

    Raghu, Gilmer, Yosinski & Sohl-Dickstein (2017). SVCCA. NeurIPS.
    """

    statistic: str = "mean_r"

    name = "cca"
    references = (_CCA_REFERENCE,)
    cost = "prepare O(n d min(n, d)), pair O(n r_x r_y)"
    _constraints = {"statistic": Options("mean_r", "mean_r2")}

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "translation", "permutation",
                "invertible_linear")

    capabilities = Capabilities(permutation=True, streaming=True, float32=False,
                                float32_refusal=_FLOAT32_REFUSAL, differentiable=True)

    def _pair(self, a, b, xp):
        return self._statistic(self._rho(a, b, xp), xp)

    def _statistic(self, rho, xp):
        return xp.mean(rho * rho) if self.statistic == "mean_r2" else xp.mean(rho)

    def _from_moments(self, moments):
        """The canonical correlations from the streamed scatter matrices (float64).

        ``rho`` are the singular values of ``W_x^T X_c^T Y_c W_y``, with the
        whitenings ``W`` of the scatter matrices
        (:func:`~repalign.measures._kernels.whiten_scatter`).
        """
        Cxx, Cyy, Cxy = moments.covariances()
        Wx, _ = whiten_scatter(Cxx, "X")
        Wy, _ = whiten_scatter(Cyy, "Y")
        warn_if_subspaces_forced(self.name, Wx.shape[1], Wy.shape[1], moments.n_stimuli)
        rho = np.clip(np.linalg.svd(Wx.T @ Cxy @ Wy, compute_uv=False), None, 1)
        return self._statistic(rho, np)


@register
@dataclass(frozen=True)
class SVCCA(_CanonicalBase):
    """Singular vector CCA (Raghu et al. 2017): CCA on the leading principal components.

    Parameters
    ----------
    variance : float, default=0.99
        Keep the fewest leading principal components (of the centred
        representation) whose variance is at least this fraction of the total.
    dims : int or None, default=None
        Keep exactly this many leading components instead (at most the rank);
        when given, ``variance`` is not used.

    Notes
    -----
    The value is the mean canonical correlation of the two reduced
    representations. Since the principal-component scores ``U_k S_k`` span the
    same space as ``U_k``, ``prepare`` stores ``U_k`` and ``pair`` is the SVD of
    ``U_kx^T U_ky``.

    References
    ----------
    Raghu, Gilmer, Yosinski & Sohl-Dickstein (2017). SVCCA: Singular vector
    canonical correlation analysis for deep learning dynamics and
    interpretability. NeurIPS.
    """

    variance: float = 0.99
    dims: int | None = None

    name = "svcca"
    references = (
        "Raghu, Gilmer, Yosinski & Sohl-Dickstein (2017). SVCCA: Singular vector "
        "canonical correlation analysis for deep learning dynamics and interpretability. "
        "NeurIPS.",
    )
    cost = "prepare O(n d min(n, d)), pair O(n k_x k_y)"
    _constraints = {
        "variance": Interval(0, 1, closed="right"),
        "dims": Interval(1, None, integer=True, allow_none=True),
    }

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "translation", "permutation")

    @property
    def capabilities(self) -> Capabilities:
        """Index permutation; gradients with a fixed number of components (``dims``)."""
        if self.dims is not None:
            return _DIFFERENTIABLE
        return Capabilities(permutation=True, float32=False, float32_refusal=_FLOAT32_REFUSAL,
                            differentiable_refusal=(
                                "the number of components it keeps is chosen by a variance "
                                "threshold, a discrete choice of the data; pass dims=k for a "
                                "fixed number of components (then it is differentiable)"))

    def _basis(self, X, xp):
        Xc = center_columns(X, xp)
        if self.dims is not None:
            U, S, Vt = orthonormal_basis(Xc, xp, n_components=self.dims)
        else:
            U, S, Vt = orthonormal_basis(Xc, xp, variance=self.variance)
        return U, S[:, None] * Vt

    def _pair(self, a, b, xp):
        return xp.mean(self._rho(a, b, xp))


@register
@dataclass(frozen=True)
class PWCCA(_CanonicalBase):
    """Projection-weighted CCA (Morcos, Raghu & Bengio 2018), weighted by X.

    .. math::

        \\mathrm{PWCCA}(X, Y) = \\frac{\\sum_i \\alpha_i \\rho_i}{\\sum_i \\alpha_i},
        \\qquad \\alpha_i = \\sum_j |\\langle h_i, x_j \\rangle|,

    where ``h_i`` is X's i-th canonical variate (unit norm, in stimulus space)
    and ``x_j`` X's j-th centred unit (neuron). Canonical directions that
    account for more of X's units weigh more. The measure is asymmetric:
    ``pwcca(X, Y)`` weights by X.

    Notes
    -----
    With ``X_c = U S V^T`` and ``Q_x^T Q_y = A diag(rho) B^T``, the variates are
    ``h_i = U a_i`` and ``alpha = sum_j |A^T S V^T|_{ij}``, so ``prepare`` keeps
    ``U`` and ``S V^T`` and nothing of size n x d is recomputed per pair. Any
    widths work. google/svcca's ``compute_pwcca`` differs in two ways: it raises
    when the widths differ, and it weights by directions ``u^T X`` that skip the
    whitening ``C_xx^{-1/2}``, so they are not the canonical variates (values
    differ by ~1e-2); weights built from the variates that library itself
    returns (``cca_dirns1``) reproduce ours to 1e-15 (see ``tests/references``).

    References
    ----------
    Morcos, Raghu & Bengio (2018). Insights on representational similarity in
    neural networks with canonical correlation. NeurIPS.
    """

    name = "pwcca"
    references = (
        "Morcos, Raghu & Bengio (2018). Insights on representational similarity in "
        "neural networks with canonical correlation. NeurIPS.",
    )
    cost = "prepare O(n d min(n, d)), pair O(n r_x r_y + r_x^2 d_x)"
    _constraints = {}
    capabilities = Capabilities(
        permutation=True, float32=False, float32_refusal=_FLOAT32_REFUSAL,
        differentiable_refusal=(
            f"{NOT_IMPLEMENTED}: its weights come from the canonical directions (singular "
            "vectors of Q_x^T Q_y), whose gradients are unstable at repeated canonical "
            "correlations; use cca or svcca with dims=k"))

    @property
    def symmetric(self):
        return False

    @property
    def invariances(self):
        return ("isotropic_scale", "translation", "permutation")

    def _state(self, basis, loadings) -> dict:
        return {"basis": basis, "loadings": loadings}

    def _pair(self, a, b, xp):
        self._warn_if_degenerate(a, b)
        A, rho, _ = xp.linalg.svd(a.data["basis"].T @ b.data["basis"], full_matrices=False)
        rho = xp.clip(rho, max=1)
        weights = xp.sum(xp.abs(A.T @ a.data["loadings"]), axis=1)
        return xp.sum(weights * rho) / xp.sum(weights)
