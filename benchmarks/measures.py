#!/usr/bin/env python
"""Time every repalign measure against a FLOP floor measured on this machine.

For each measure the script reports the time of a full call
``measure(X, Y)`` (= prepare X + prepare Y + pair), of one ``prepare`` and of
one ``pair``, and compares the full call with a *floor*: the dense
linear-algebra FLOPs of the best known algorithm for that measure (see the
``floor_*`` functions below and ``benchmarks/README.md``), converted to
seconds at the float64 matrix-multiply rate measured in the same run.
``ratio = full time / floor time``; 1 would mean "as fast as the GEMM work
alone at peak GEMM speed".

Reference implementations are timed on the same inputs where available:
a hand-written Gram-matrix linear CKA in NumPy (always), rsatoolbox's RSA
(``calc_rdm`` + ``compare(..., 'spearman')``) and netrep's ``LinearMetric``
(if importable; skipped with a message otherwise).

Usage::

    python benchmarks/measures.py                 # n=5000, d=1024 (slow)
    python benchmarks/measures.py --quick         # n=1000, d=256
    python benchmarks/measures.py --n 2000 --d 512 --measures cka,rsa,procrustes
    python benchmarks/measures.py --quick --out results.md
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.linalg  # noqa: F401  (loads SciPy's own BLAS now, so that --threads limits it too)

import repalign

# =====================================================================================
# FLOP counts of the building blocks (one "flop" = one float64 add or multiply).
#
# Sources: Golub & Van Loan, *Matrix Computations*, 4th ed. (2013) [GVL]:
# Householder QR §5.2.2 (Alg. 5.2.1); SVD costs, Fig. 8.6.1 (the same table is
# §5.4.5 in the 3rd ed.). Thin-Q formation follows LAPACK's DORGQR count
# (LAPACK Working Note 41, flop table): 4mnk - 2(m+n)k^2 + 4k^3/3 with k = n.
# =====================================================================================


def gemm(m: int, k: int, n: int) -> float:
    """(m x k) @ (k x n): 2 m k n (one multiply and one add per term)."""
    return 2.0 * m * k * n


def syrk(inner: int, d: int) -> float:
    """A symmetric product A^T A with A of shape (inner, d), e.g. X^T X or X X^T.

    Only one triangle is computed (BLAS DSYRK, which NumPy uses for ``A.T @ A``
    and ``A @ A.T``): ``inner * d * (d + 1)`` ~ ``inner * d^2``, half of GEMM.
    """
    return float(inner) * d * (d + 1)


def qr_with_q(m: int, k: int) -> float:
    """Householder QR of an m x k matrix (m >= k) *and* its thin Q (m x k).

    R: ``2 m k^2 - 2 k^3 / 3`` (GVL Alg. 5.2.1, DGEQRF); forming the thin Q
    from the k reflectors costs the same again (DORGQR); total
    ``4 m k^2 - 4 k^3 / 3``.
    """
    m, k = max(m, k), min(m, k)
    return 2 * (2.0 * m * k**2 - 2.0 * k**3 / 3)


def qr_r_only(m: int, k: int) -> float:
    """Householder QR of an m x k matrix (m >= k), R only: ``2 m k^2 - 2 k^3 / 3``."""
    m, k = max(m, k), min(m, k)
    return 2.0 * m * k**2 - 2.0 * k**3 / 3


def svd_values(m: int, k: int) -> float:
    """Singular values only of an m x k matrix (m >= k), Golub-Reinsch:
    ``4 m k^2 - 4 k^3 / 3`` (GVL Fig. 8.6.1, row "Sigma"); ``8 k^3 / 3`` if square."""
    m, k = max(m, k), min(m, k)
    return 4.0 * m * k**2 - 4.0 * k**3 / 3


def svd_values_and_u(m: int, k: int) -> float:
    """Singular values and the thin left factor U1 of an m x k matrix (m >= k),
    Golub-Reinsch: ``14 m k^2 - 2 k^3`` (GVL Fig. 8.6.1, row "Sigma, U1");
    ``12 k^3`` if square. (For reference, the R-SVD row "Sigma, U1, V" is
    ``6 m k^2 + 20 k^3``; "Sigma, V" is ``4 m k^2 + 8 k^3``.)"""
    m, k = max(m, k), min(m, k)
    return 14.0 * m * k**2 - 2.0 * k**3


# =====================================================================================
# FLOP floors, one per measure: the dense linear algebra of the best known
# (numerically stable) algorithm for a *full call* (both representations
# prepared, one pair). Each returns {term: flops}; O(n d) work (centring,
# norms) and O(n^2) elementwise work (exp, ranking, centring n x n matrices)
# is not counted: the floors are GEMM/factorisation work only.
# n stimuli; dx, dy features; kx, ky kept components (SVCCA) or ranks.
# =====================================================================================


def floor_cka_linear(n, dx, dy, **_):
    """Linear CKA (biased or unbiased estimator).

    With features (best when d < n): ``||X_c^T Y_c||_F^2`` needs the cross
    product X_c^T Y_c (GEMM, 2 n dx dy) and the normalisers ``||X_c^T X_c||_F``,
    ``||Y_c^T Y_c||_F`` two symmetric products (SYRK, n d^2 each, counted with
    symmetry). The unbiased estimator adds only O(n d) terms.
    With Grams (best when d >= n): X_c X_c^T and Y_c Y_c^T (SYRK, n^2 d each)
    and an O(n^2) inner product (not counted). The floor is the cheaper route.
    """
    features = {"X^T Y (gemm)": gemm(dx, n, dy), "X^T X (syrk)": syrk(n, dx),
                "Y^T Y (syrk)": syrk(n, dy)}
    grams = {"X X^T (syrk)": syrk(dx, n), "Y Y^T (syrk)": syrk(dy, n)}
    return min(features, grams, key=lambda t: sum(t.values()))


def floor_gram_pair(n, dx, dy, **_):
    """Measures built on two n x n stimulus Grams (RSA, RBF CKA).

    The Grams X X^T and Y Y^T (SYRK, n^2 d each, counted with symmetry) from
    which distances, correlation distances or RBF kernels follow elementwise.
    NOT counted (not GEMM work, but in the measured time): the elementwise
    n x n work (distances, exp, centring) and, for RSA with Spearman, ranking
    m = n(n-1)/2 entries per RDM (~ m log2 m comparisons), and for RBF CKA the
    median distance (a selection over m entries).
    """
    return {"X X^T (syrk)": syrk(dx, n), "Y Y^T (syrk)": syrk(dy, n)}


def floor_cca(n, dx, dy, **_):
    """Mean canonical correlation (Bjorck & Golub 1973).

    Householder QR with thin Q of each centred representation (4 n d^2 - 4 d^3/3
    each), the cross product Q_x^T Q_y (2 n dx dy) and its singular values
    (Golub-Reinsch, 4 m k^2 - 4 k^3/3, m = max(dx, dy), k = min). For rank
    deficient data a column-pivoted QR has the same count.
    """
    px, py = min(n, dx), min(n, dy)
    return {"QR+Q of X": qr_with_q(n, dx), "QR+Q of Y": qr_with_q(n, dy),
            "Q_x^T Q_y (gemm)": gemm(px, n, py), "svdvals (px x py)": svd_values(px, py)}


def floor_svcca(n, dx, dy, kx=None, ky=None, **_):
    """SVCCA: CCA between the leading kx, ky principal components.

    Per representation a QR with thin Q (4 n d^2 - 4 d^3/3) and the SVD of R
    with its left factor (12 d^3, GVL "Sigma, U1"), so that U_k = Q U_R[:, :k]
    is never formed: U_kx^T U_ky = U_Rx,k^T (Q_x^T Q_y) U_Ry,k costs the cross
    product (2 n dx dy) and two small GEMMs; then the singular values of the
    kx x ky result.
    """
    px, py = min(n, dx), min(n, dy)
    kx, ky = kx or px, ky or py
    return {"QR+Q of X": qr_with_q(n, dx), "QR+Q of Y": qr_with_q(n, dy),
            "SVD of R_x (U)": svd_values_and_u(px, px),
            "SVD of R_y (U)": svd_values_and_u(py, py),
            "Q_x^T Q_y (gemm)": gemm(px, n, py),
            "U_R projections (gemm)": gemm(px, py, ky) + gemm(kx, px, ky),
            "svdvals (kx x ky)": svd_values(kx, ky)}


def floor_pwcca(n, dx, dy, **_):
    """PWCCA (Morcos et al. 2018), weighted by X.

    As CCA, but the SVD of Q_x^T Q_y = A diag(rho) B^T also needs its left
    factor A (GVL "Sigma, U1": 14 m k^2 - 2 k^3), and the weights
    alpha = sum_j |A^T Q_x^T X_c| = sum_j |A^T R_x| need A^T R_x
    (R_x triangular: about k dx^2 flops).
    """
    px, py = min(n, dx), min(n, dy)
    k = min(px, py)
    return {"QR+Q of X": qr_with_q(n, dx), "QR+Q of Y": qr_with_q(n, dy),
            "Q_x^T Q_y (gemm)": gemm(px, n, py),
            "SVD with A (px x py)": svd_values_and_u(px, py),
            "A^T R_x (trmm)": float(k) * px * px}


def floor_procrustes(n, dx, dy, **_):
    """Procrustes angle / NBS / Bures (shape metric with alpha = 1).

    ``||X_c^T Y_c||_*``: the cross product (2 n dx dy) and the singular values
    of the dx x dy result (4 m k^2 - 4 k^3/3). The Frobenius norms are O(n d).
    With d > n each representation is first reduced to n x n PC scores by a QR
    of X_c^T (R only, 2 d n^2 - 2 n^3/3), and the cross product is n x n.
    """
    terms = {}
    if dx > n:
        terms["QR of X^T (R)"] = qr_r_only(dx, n)
    if dy > n:
        terms["QR of Y^T (R)"] = qr_r_only(dy, n)
    px, py = min(n, dx), min(n, dy)
    terms["X^T Y (gemm)"] = gemm(px, n, py)
    terms["svdvals (px x py)"] = svd_values(px, py)
    return terms


def floor_shape_partial(n, dx, dy, **_):
    """Shape metric with 0 < alpha < 1 (partial whitening).

    Per representation a QR with thin Q (4 n d^2 - 4 d^3/3) and the SVD of R
    with its left factor (12 d^3): phi(X) = Q U_R diag(alpha s + 1 - alpha)
    up to a rotation, so phi(X)^T phi(Y) = diag(c_x) U_Rx^T (Q_x^T Q_y) U_Ry diag(c_y):
    the cross product (2 n dx dy), two small GEMMs and the singular values:
    the SVCCA floor with every component kept.
    """
    return floor_svcca(n, dx, dy)


def svd_uv(m: int, k: int) -> float:
    """Thin SVD with both factors of an m x k matrix (m >= k), R-SVD:
    ``6 m k^2 + 20 k^3`` (GVL Fig. 8.6.1, row "Sigma, U1, V")."""
    m, k = max(m, k), min(m, k)
    return 6.0 * m * k**2 + 20.0 * k**3


def floor_cross_product(n, dx, dy, **_):
    """Unit matching (linear/semi/soft matching, permutation metric).

    The unit-by-unit cross product of the centred (z-scored) units, 2 n dx dy.
    NOT counted: the assignment (Hungarian, O(d^3) comparisons) or the exact
    transport solve on the dx x dy matrix, both combinatorial and on the host.
    """
    return {"Z_x^T Z_y (gemm)": gemm(dx, n, dy)}


def floor_ridge(n, dx, dy, cv=5, n_alphas=25, **_):
    """Cross-validated ridge, one penalty per target from leave-one-out GCV.

    Per fold (m = n (cv-1)/cv training stimuli, r = min(m, dx)): the thin SVD
    of the centred training X, the GCV residuals of all targets for every
    penalty from ``U^T Y`` (one m x r x dy product per penalty, plus two), and
    the held-out predictions. A full call prepares both sides, but only X's
    fold SVDs are needed for X -> Y, so only those are counted.
    """
    m = n * (cv - 1) // cv
    held_out, r = n - m, min(m, dx)
    return {"fold SVDs of X (x cv)": cv * svd_uv(m, dx),
            "GCV over penalties (x cv)": cv * (n_alphas + 2) * gemm(m, r, dy),
            "predictions (x cv)": cv * (gemm(held_out, dx, r) + gemm(held_out, r, dy))}


def floor_pls(n, dx, dy, cv=5, n_components=25, **_):
    """Cross-validated PLS2 (sklearn's PLSRegression algorithm, scale=False).

    Per fold: the thin SVD of the training X (its coordinates), the cross
    covariance X^T Y in them (2 r m dy), one s x s eigendecomposition per
    component (about 9 s^3 with s = min(r, dy), plus deflation s^2 max(r, dy)),
    and the held-out predictions.
    """
    m = n * (cv - 1) // cv
    held_out, r = n - m, min(m, dx)
    s, k = min(r, dy), min(n_components, r)
    return {"fold SVDs of X (x cv)": cv * svd_uv(m, dx),
            "cross covariance (x cv)": cv * gemm(r, m, dy),
            "component eigenproblems (x cv)": cv * k * (9.0 * s**3 + s**2 * max(r, dy)),
            "predictions (x cv)": cv * (gemm(held_out, dx, r) + gemm(r, k, dy)
                                        + gemm(held_out, r, dy))}


def floor_eigenspace_overlap(n, dx, dy, **_):
    """Orthonormal bases of both column spaces and their cross product."""
    return {"QR+Q of X": qr_with_q(n, dx), "QR+Q of Y": qr_with_q(n, dy),
            "U_x^T U_y (gemm)": gemm(min(n, dx), n, min(n, dy))}


def floor_gulp(n, dx, dy, **_):
    """GULP: per representation a QR with thin Q and the SVD of R (its whitened
    coordinates), then the cross product and two small products."""
    px, py = min(n, dx), min(n, dy)
    return {"QR+Q of X": qr_with_q(n, dx), "QR+Q of Y": qr_with_q(n, dy),
            "SVD of R_x (U)": svd_values_and_u(px, px),
            "SVD of R_y (U)": svd_values_and_u(py, py),
            "cross products (gemm)": gemm(px, n, py) + gemm(px, px, py) + gemm(px, py, py)}


def floor_riemannian(n, dx, dy, **_):
    """Affine-invariant distance of the two ridged Grams, in the joint column
    space (m = min(n, px + py)): bases and spectra of both representations,
    their cross products, and an m x m generalized symmetric eigenproblem."""
    px, py = min(n, dx), min(n, dy)
    m = min(n, px + py)
    terms = {"QR+Q of X": qr_with_q(n, dx), "QR+Q of Y": qr_with_q(n, dy),
             "SVD of R_x, R_y (U)": svd_values_and_u(px, px) + svd_values_and_u(py, py),
             "scores (gemm)": gemm(n, px, px) + gemm(n, py, py),
             "cross products (gemm)": gemm(px, n, py) + 2 * gemm(n, px, py),
             "joint Grams": m * m * (px + py),
             "generalized eigenproblem": 2 * (4 / 3) * m**3}
    if px + py < n:
        terms["QRs of the joint space"] = qr_r_only(n, py) + qr_r_only(n, px)
    return terms


def floor_aligned_cosine(n, dx, dy, **_):
    """Procrustes rotation from the thin SVD of X^T Y (both factors), then the
    rotated rows."""
    px, py = min(n, dx), min(n, dy)
    k = min(px, py)
    terms = {"X^T Y (gemm)": gemm(px, n, py), "SVD with U, V": svd_uv(px, py),
             "rotated rows (gemm)": gemm(n, px, k) + gemm(n, py, k)}
    for name, d in (("X", dx), ("Y", dy)):
        if d > n:
            terms[f"QR of {name}^T (R)"] = qr_r_only(d, n)
    return terms


def floor_row_norms(n, dx, dy, **_):
    """Magnitude difference: the mean rows or row norms, 2 n d per representation."""
    return {"row statistics": 2.0 * n * (dx + dy)}


def floor_linear_regression(n, dx, dy, **_):
    """In-sample least squares of Y on X: an orthonormal basis of X (QR with thin
    Q) and the projection of Y on it (2 n r dy)."""
    return {"QR+Q of X": qr_with_q(n, dx), "Q^T Y (gemm)": gemm(min(n, dx), n, dy)}


#: Each floor as a formula in n, dx, dy (p = min(n, d), k = min(px, py), m = max(px, py)),
#: printed beside the measure's ratio. qr(a, b) = 2 a b^2 - 2 b^3/3 (R only; twice that
#: with the thin Q), sv(a, b) = 4 a b^2 - 4 b^3/3 (singular values), svu(a, b) =
#: 14 a b^2 - 2 b^3 (values and U), svuv(a, b) = 6 a b^2 + 20 b^3 (values, U and V).
FORMULAS = {
    floor_cka_linear: "min(2 n dx dy + n dx^2 + n dy^2, n^2 dx + n^2 dy)",
    floor_gram_pair: "n^2 dx + n^2 dy",
    floor_cca: "2 qr(n, dx) + 2 qr(n, dy) + 2 n px py + sv(m, k)",
    floor_svcca: "2 qr(n, dx) + 2 qr(n, dy) + svu(px, px) + svu(py, py) + 2 n px py "
                 "+ 2 px py ky + 2 kx px ky + sv(kx, ky)",
    floor_pwcca: "2 qr(n, dx) + 2 qr(n, dy) + 2 n px py + svu(m, k) + k px^2",
    floor_procrustes: "2 n px py + sv(m, k) [+ qr(d, n) per side with d > n]",
    floor_shape_partial: "as svcca with every component kept",
    floor_cross_product: "2 n dx dy",
    floor_ridge: "cv (svuv(n', dx) + (a + 2) 2 n' r dy + predictions), n' = n (cv-1)/cv",
    floor_pls: "cv (svuv(n', dx) + 2 r n' dy + c (9 s^3 + s^2 max(r, dy)) + predictions)",
    floor_eigenspace_overlap: "2 qr(n, dx) + 2 qr(n, dy) + 2 n px py",
    floor_gulp: "2 qr(n, dx) + 2 qr(n, dy) + svu(px, px) + svu(py, py) + 2 n px py "
                "+ 2 px^2 py + 2 px py^2",
    floor_riemannian: "bases, spectra and cross products of both + (8/3) m'^3, "
                      "m' = min(n, px + py)",
    floor_aligned_cosine: "2 n px py + svuv(m, k) + 2 n (px + py) k",
    floor_row_norms: "2 n (dx + dy)",
    floor_linear_regression: "2 qr(n, dx) + 2 n px dy",
}


# =====================================================================================
# The cases: measure configurations with their floor.
# =====================================================================================


@dataclass
class Case:
    key: str
    label: str
    name: str
    params: dict
    floor: Callable[..., dict]
    note: str = ""


CASES = [
    Case("cka", "cka (linear, biased)", "cka", {}, floor_cka_linear),
    Case("cka-unbiased", "cka (linear, unbiased)", "cka", {"estimator": "unbiased"},
         floor_cka_linear),
    Case("cka-rbf", "cka (rbf)", "cka", {"kernel": "rbf"}, floor_gram_pair,
         "floor excludes exp, centring and the median of n(n-1)/2 distances"),
    Case("rsa", "rsa (correlation, spearman)", "rsa", {}, floor_gram_pair,
         "floor is GEMM only; time includes ranking n(n-1)/2 entries per RDM"),
    Case("rsa-euclidean", "rsa (euclidean, pearson)", "rsa",
         {"rdm": "euclidean", "compare": "pearson"}, floor_gram_pair,
         "floor excludes sqrt and the O(n^2) elementwise work"),
    Case("cca", "cca", "cca", {}, floor_cca),
    Case("svcca", "svcca (99% variance)", "svcca", {}, floor_svcca),
    Case("pwcca", "pwcca", "pwcca", {}, floor_pwcca),
    Case("procrustes", "procrustes", "procrustes", {}, floor_procrustes),
    Case("shape", "shape_metric (alpha=0.5)", "shape_metric", {"alpha": 0.5},
         floor_shape_partial),
    Case("nbs", "nbs", "nbs", {}, floor_procrustes),
    Case("bures", "bures", "bures", {}, floor_procrustes),
    Case("linear_match", "linear_match", "linear_match", {}, floor_cross_product,
         "floor excludes the Hungarian assignment"),
    Case("semi_match", "semi_match", "semi_match", {}, floor_cross_product),
    Case("soft_match", "soft_match", "soft_match", {}, floor_cross_product,
         "floor excludes the exact transport solve"),
    Case("permutation_metric", "permutation_metric", "permutation_metric", {},
         floor_cross_product, "floor excludes the Hungarian assignment"),
    Case("ridge", "ridge (5-fold, GCV per target)", "ridge", {}, floor_ridge),
    Case("pls", "pls (25 components, 5-fold)", "pls", {}, floor_pls),
    Case("linear_regression", "linear_regression", "linear_regression", {},
         floor_linear_regression),
    *(Case(name, f"{name} (k=10)", name, {}, floor_gram_pair,
           "floor: the two cosine Grams; excludes the neighbour selection")
      for name in ("mutual_knn", "jaccard_knn", "cknna", "cycle_knn", "rank_similarity",
                   "second_order_cosine")),
    Case("eigenspace_overlap", "eigenspace_overlap", "eigenspace_overlap", {},
         floor_eigenspace_overlap),
    Case("gulp", "gulp (lam=0)", "gulp", {}, floor_gulp),
    Case("distance_correlation", "distance_correlation", "distance_correlation", {},
         floor_gram_pair, "floor: the two Grams; excludes distances and double centring"),
    Case("riemannian", "riemannian (eps=1e-6)", "riemannian", {}, floor_riemannian),
    Case("magnitude_difference", "magnitude_difference", "magnitude_difference", {},
         floor_row_norms),
    Case("uniformity_difference", "uniformity_difference", "uniformity_difference", {},
         floor_gram_pair, "floor: the two Grams; excludes exp over n^2 pairs"),
    Case("rsm_norm_difference", "rsm_norm_difference", "rsm_norm_difference", {},
         floor_gram_pair, "floor: the two Grams; excludes the distances"),
    Case("aligned_cosine", "aligned_cosine", "aligned_cosine", {}, floor_aligned_cosine),
]


# =====================================================================================
# Reference implementations (timed on the same inputs).
# =====================================================================================


def naive_gram_cka():
    """Linear CKA through n x n centred Gram matrices, as in the notebook of
    Kornblith et al. (2019) and most hand-written snippets: K = X X^T,
    centre it, HSIC = <K_c, L_c>_F. Prepare: Gram + centring; pair: inner product."""

    def prepare(X):
        K = X @ X.T
        means = K.mean(axis=0)
        K = K - means[None, :] - means[:, None] + means.mean()
        return K, math.sqrt(float(np.vdot(K, K)))

    def pair(a, b):
        return float(np.vdot(a[0], b[0])) / (a[1] * b[1])

    return prepare, pair


def rsatoolbox_rsa():
    """rsatoolbox: ``calc_rdm(Dataset(X), method='correlation')`` per
    representation, ``compare(rdm_x, rdm_y, method='spearman')`` per pair
    (which ranks both RDMs on every call)."""
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare

    def prepare(X):
        return calc_rdm(Dataset(X), method="correlation")

    def pair(a, b):
        return float(np.asarray(compare(a, b, method="spearman")).ravel()[0])

    return prepare, pair


def netrep_linear(alpha):
    """netrep's ``LinearMetric(alpha, score_method='angular')``: ``partial_fit``
    per representation; a full call is ``fit(X, Y).score(X, Y)`` (its pair
    step needs the raw X and Y, so only prepare and full are timed)."""
    from netrep.metrics import LinearMetric

    metric = LinearMetric(alpha=alpha, center_columns=True, score_method="angular")

    def prepare(X):
        return metric.partial_fit(X)

    def full(X, Y):
        return float(metric.fit(X, Y).score(X, Y))

    return prepare, full


@dataclass
class Reference:
    key: str            # the case whose floor it is compared with
    label: str
    requires: str | None  # module name checked with importlib.util.find_spec
    make: Callable
    has_pair: bool = True
    hint: str = ""


REFERENCES = [
    Reference("cka", "ref: naive gram CKA (numpy)", None, naive_gram_cka),
    Reference("rsa", "ref: rsatoolbox (correlation, spearman)", "rsatoolbox", rsatoolbox_rsa,
              hint="pip install rsatoolbox"),
    Reference("procrustes", "ref: netrep LinearMetric(alpha=1)", "netrep",
              lambda: netrep_linear(1.0), has_pair=False,
              hint="put a netrep checkout on PYTHONPATH (it needs scikit-learn, tqdm)"),
    Reference("shape", "ref: netrep LinearMetric(alpha=0.5)", "netrep",
              lambda: netrep_linear(0.5), has_pair=False,
              hint="put a netrep checkout on PYTHONPATH (it needs scikit-learn, tqdm)"),
]


# =====================================================================================
# Timing.
# =====================================================================================


#: Stop repeating a quantity once its calls have taken this many seconds in all
#: (after at least one call); set by --budget.
BUDGET_S = 20.0


def best_of(fn, repeats, counts=None):
    """Minimum wall time over up to ``repeats`` calls, and the last result.

    Fewer calls are made once ``BUDGET_S`` seconds have been spent (a single
    call of RSA with Spearman at n=5000 takes close to a minute); the number of
    calls made is appended to ``counts`` when given.
    """
    best, out, spent, calls = math.inf, None, 0.0, 0
    while calls < repeats and (calls == 0 or spent < BUDGET_S):
        t0 = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t0
        best, spent, calls = min(best, elapsed), spent + elapsed, calls + 1
    if counts is not None:
        counts.append(calls)
    return best, out


def gemm_rate(size, repeats):
    """float64 GEMM rate in FLOP/s: best of ``repeats`` square ``A @ B``."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((size, size))
    B = rng.standard_normal((size, size))
    t, _ = best_of(lambda: A @ B, repeats)
    return gemm(size, size, size) / t, t


def make_data(n, d, seed=0, noise=0.5):
    """X ~ N(0, 1) (n x d); Y = X A / sqrt(d) + noise * E, A and E Gaussian."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    A = rng.standard_normal((d, d)) / math.sqrt(d)
    Y = X @ A + noise * rng.standard_normal((n, d))
    return X, Y


@dataclass
class Row:
    label: str
    full: float
    prepare: float | None
    pair: float | None
    floor_flops: float
    rate: float
    value: float
    terms: dict = field(default_factory=dict)
    note: str = ""
    calls: list = field(default_factory=list)
    formula: str = ""

    @property
    def floor_s(self):
        return self.floor_flops / self.rate

    @property
    def ratio(self):
        return self.full / self.floor_s


def time_case(case, X, Y, repeats, rate):
    m = repalign.get(case.name, **case.params)
    calls = []
    full, value = best_of(lambda: m(X, Y), repeats, calls)
    prep, a = best_of(lambda: m.prepare(X), repeats, calls)
    b = m.prepare(Y)
    pair, _ = best_of(lambda: m.pair(a, b), repeats, calls)
    n, dx = X.shape
    dy = Y.shape[1]
    ranks = {}
    if "basis" in a.data:  # CCA family: the kept components
        ranks = {"kx": int(a.data["basis"].shape[1]), "ky": int(b.data["basis"].shape[1])}
    terms = case.floor(n, dx, dy, **ranks)
    note = case.note
    if case.key == "svcca":
        note = f"kept k_x={ranks['kx']}, k_y={ranks['ky']} components"
    return Row(case.label, full, prep, pair, sum(terms.values()), rate, value, terms, note,
               calls, FORMULAS[case.floor])


def time_reference(ref, case, X, Y, repeats, rate):
    prepare, second = ref.make()
    if ref.has_pair:
        def full_call():
            return second(prepare(X), prepare(Y))
    else:
        def full_call():
            return second(X, Y)
    calls = []
    full, value = best_of(full_call, repeats, calls)
    prep, a = best_of(lambda: prepare(X), repeats, calls)
    pair = None
    if ref.has_pair:
        b = prepare(Y)
        pair, _ = best_of(lambda: second(a, b), repeats, calls)
    n, dx = X.shape
    terms = case.floor(n, dx, Y.shape[1])
    return Row(ref.label, full, prep, pair, sum(terms.values()), rate, value, terms,
               f"floor of {case.label}", calls, FORMULAS[case.floor])


# =====================================================================================
# Machine description.
# =====================================================================================


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info():
    if importlib.util.find_spec("threadpoolctl") is not None:
        from threadpoolctl import threadpool_info

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            return "; ".join(
                f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, "
                f"{p.get('num_threads')} threads, {p.get('threading_layer')})" for p in pools)
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (from numpy.show_config)"
    except Exception:  # noqa: BLE001 - older NumPy: no dict mode
        return "unknown (install threadpoolctl)"


def machine_lines(rate, rate_size, xty_rate, n, d):
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return [
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical cores, {usable} usable)",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, "
        f"repalign {repalign.__version__}",
        f"- BLAS: {blas_info()}",
        f"- float64 GEMM rate: **{rate / 1e9:.1f} GFLOP/s** (best square A @ B, "
        f"{rate_size} x {rate_size}, 2 m k n / t); "
        f"the workload's X^T Y ({d} x {n} @ {n} x {d}) ran at {xty_rate / 1e9:.1f} GFLOP/s",
    ]


# =====================================================================================
# Output.
# =====================================================================================


def fmt_s(t):
    if t is None:
        return "—"
    return f"{t:.3g}" if t >= 1e-3 else f"{t:.2e}"


def table(rows):
    out = ["| measure | full s | prepare s | pair s | floor GFLOP | floor s | ratio |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r.label} | {fmt_s(r.full)} | {fmt_s(r.prepare)} | {fmt_s(r.pair)} "
                   f"| {r.floor_flops / 1e9:.3g} | {fmt_s(r.floor_s)} | {r.ratio:.1f} |")
    return out


def details(rows):
    out = ["| measure | value | timed calls (full/prepare/pair) | floor formula (flops) "
           "| floor terms (GFLOP) | note |",
           "|---|---:|---|---|---|---|"]
    for r in rows:
        terms = ", ".join(f"{k} {v / 1e9:.3g}" for k, v in r.terms.items())
        calls = "/".join(str(c) for c in r.calls)
        out.append(f"| {r.label} | {r.value:.6g} | {calls} | {r.formula} | {terms} "
                   f"| {r.note} |")
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None, help="stimuli (default 5000; 1000 with --quick)")
    p.add_argument("--d", type=int, default=None, help="features (default 1024; 256 with --quick)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed calls per quantity; the minimum is reported (default 3)")
    p.add_argument("--budget", type=float, default=BUDGET_S,
                   help="seconds after which a quantity is not repeated further, once it "
                        f"has been timed at least once (default {BUDGET_S:g})")
    p.add_argument("--measures", default=None,
                   help="comma-separated subset of: " + ", ".join(c.key for c in CASES))
    p.add_argument("--quick", action="store_true", help="n=1000, d=256 unless --n/--d given")
    p.add_argument("--no-references", action="store_true",
                   help="skip the reference implementations")
    p.add_argument("--threads", type=int, default=None,
                   help="limit the BLAS threads (needs threadpoolctl); default: BLAS's own")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the markdown report to this file")
    args = p.parse_args(argv)
    args.n = args.n or (1000 if args.quick else 5000)
    args.d = args.d or (256 if args.quick else 1024)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    known = {c.key for c in CASES}
    if args.measures:
        keys = [k.strip() for k in args.measures.split(",") if k.strip()]
        unknown = sorted(set(keys) - known)
        if unknown:
            p.error(f"unknown measure(s) {unknown}; choose from {sorted(known)}")
        args.keys = keys
    else:
        args.keys = [c.key for c in CASES]
    return args


def blas_threads(threads):
    """A context limiting the BLAS threads to ``threads`` (None: no limit)."""
    if threads is None:
        return contextlib.nullcontext()
    if importlib.util.find_spec("threadpoolctl") is None:
        sys.exit("--threads needs threadpoolctl (pip install threadpoolctl); or set "
                 "OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS instead")
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def gemm_size(n, d):
    """Side of the square GEMM whose volume is the workload's ``X^T Y``: a multiple
    of 64 between 256 and 4096 near ``(n d^2)^(1/3)``."""
    return int(min(4096, max(256, round((n * d * d) ** (1 / 3) / 64) * 64)))


def main(argv=None):
    args = parse_args(argv)
    with blas_threads(args.threads):
        return run(args)


def run(args):
    global BUDGET_S
    BUDGET_S = args.budget
    n, d = args.n, args.d
    print(f"# repalign measure benchmark: n={n} stimuli, d={d} features, float64, "
          f"best of {args.repeats}", flush=True)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    X, Y = make_data(n, d, seed=args.seed)

    # The GEMM rate, on square matrices of about the workload's GEMM volume,
    # measured before and after the measures; the faster is used (a busy
    # machine only ever makes GEMM slower).
    size = gemm_size(n, d)
    rate_before, _ = gemm_rate(size, max(args.repeats, 5))
    t_xty, _ = best_of(lambda: X.T @ Y, max(args.repeats, 3))
    xty_rate = gemm(d, n, d) / t_xty
    print(f"- float64 GEMM rate before: {rate_before / 1e9:.1f} GFLOP/s "
          f"({size} x {size})", flush=True)

    cases = {c.key: c for c in CASES}
    rows, ref_rows, skipped = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("once")
        for key in args.keys:
            case = cases[key]
            print(f"  timing {case.label} ...", file=sys.stderr, flush=True)
            rows.append(time_case(case, X, Y, args.repeats, rate_before))
        if not args.no_references:
            for ref in REFERENCES:
                if ref.key not in args.keys:
                    continue
                if ref.requires and importlib.util.find_spec(ref.requires) is None:
                    skipped.append(f"- {ref.label}: skipped, `{ref.requires}` is not "
                                   f"importable ({ref.hint})")
                    continue
                print(f"  timing {ref.label} ...", file=sys.stderr, flush=True)
                try:
                    ref_rows.append(time_reference(ref, cases[ref.key], X, Y,
                                                   args.repeats, rate_before))
                except Exception as err:  # noqa: BLE001 - a broken reference is reported
                    skipped.append(f"- {ref.label}: failed ({type(err).__name__}: {err})")

    rate_after, _ = gemm_rate(size, max(args.repeats, 5))
    rate = max(rate_before, rate_after)
    for r in rows + ref_rows:
        r.rate = rate
    machine = machine_lines(rate, size, xty_rate, n, d)
    if hasattr(os, "getloadavg"):
        machine.append(f"- load average at start / end: {load_start:.2f} / "
                       f"{os.getloadavg()[0]:.2f} (1 min; {os.cpu_count()} cores)")
    machine.append(f"- GEMM rate before / after the measures: {rate_before / 1e9:.1f} / "
                   f"{rate_after / 1e9:.1f} GFLOP/s (the larger is used for the floors)")
    if min(rate_before, rate_after) < 0.8 * rate:
        machine.append("- **warning: the GEMM rate changed by more than 20% during the run; "
                       "the machine is busy and the timings are noisy**")

    report = [
        f"## n={n}, d={d} (float64, X random, Y = X A + noise; best of {args.repeats} "
        f"calls, fewer past {args.budget:g} s)",
        "",
        *machine,
        "",
        "`full` = measure(X, Y) (prepare X + prepare Y + pair, with input validation); "
        "`prepare` = one representation; `floor` = dense linear algebra of the best "
        "known algorithm for the full call (benchmarks/README.md), in seconds at the "
        "measured GEMM rate; `ratio` = full / floor.",
        "",
        *table(rows + ref_rows),
        "",
        *details(rows + ref_rows),
    ]
    if skipped:
        report += ["", *skipped]
    text = "\n".join(report)
    print()
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        print(f"\n(written to {args.out})")


if __name__ == "__main__":
    main()
