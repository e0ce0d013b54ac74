"""Shared building blocks on the array API: centring, Grams, distances, bases.

Every function takes the namespace ``xp`` of its inputs and never leaves it, so
the measures built on them run on any array library and device.
"""

from __future__ import annotations

import math

import array_api_compat
import numpy as np
from array_api_compat import device

__all__ = [
    "center_columns",
    "double_center",
    "u_center",
    "squared_distances",
    "upper_triangle",
    "median",
    "orthonormal_basis",
    "frobenius_inner",
    "flat_dot",
    "require_variation",
]


def center_columns(X, xp):
    """Subtract each feature's mean over stimuli: ``X - 1 mean(X)^T``."""
    return X - xp.mean(X, axis=0, keepdims=True)


def double_center(K, xp):
    """``H K H`` with the centring matrix ``H = I - 11^T / n``, computed in ``K``.

    ``K`` (a fresh n x n temporary at every caller) is overwritten and returned,
    so that no other n x n array is allocated.
    """
    row = xp.mean(K, axis=1, keepdims=True)
    col = xp.mean(K, axis=0, keepdims=True)
    total = xp.mean(K)
    K -= row
    K -= col
    K += total
    return K


def _zero_diagonal(K, xp):
    """``K`` with its diagonal set to 0, in place on NumPy arrays."""
    if array_api_compat.is_numpy_array(K):
        np.fill_diagonal(K, 0)
        return K
    return K * (1 - xp.eye(K.shape[0], dtype=K.dtype, device=device(K)))


def u_center(K, xp):
    """The U-centred matrix of Szekely & Rizzo (2014), zero on the diagonal.

    .. math::

        \\tilde K_{ij} = K_{ij} - \\frac{r_i + r_j}{n - 2}
            + \\frac{\\sum_k r_k}{(n - 1)(n - 2)} \\quad (i \\ne j),

    with :math:`r_i = \\sum_{j \\ne i} K_{ij}`. The off-diagonal inner product
    :math:`\\sum_{i \\ne j} \\tilde K_{ij} \\tilde L_{ij} / (n(n-3))` is the
    unbiased HSIC estimator of Song et al. (2012). ``K`` (a fresh n x n
    temporary at every caller) may be overwritten.
    """
    n = K.shape[0]
    K0 = _zero_diagonal(K, xp)
    rows = xp.sum(K0, axis=1)
    total = xp.sum(rows)
    K0 -= rows[:, None] / (n - 2)
    K0 -= rows[None, :] / (n - 2)
    K0 += total / ((n - 1) * (n - 2))
    return _zero_diagonal(K0, xp)


def squared_distances(X, xp):
    """Squared Euclidean distances between the rows of ``X`` (n x n, >= 0).

    Computed from the Gram matrix of the centred rows (distances are
    translation-invariant and centring reduces cancellation), in place in that
    one n x n array.
    """
    Xc = center_columns(X, xp)
    sq = xp.sum(Xc * Xc, axis=1)
    D = Xc @ Xc.T
    D *= -2
    D += sq[:, None]
    D += sq[None, :]
    # The diagonal is 0 up to rounding (no n x n mask is spent on making it exact).
    if array_api_compat.is_numpy_array(D):
        return np.maximum(D, 0, out=D)
    return xp.clip(D, min=0)


def upper_triangle(M, xp):
    """The entries above the diagonal, row by row (``scipy``'s condensed order).

    NumPy arrays are copied row slice by row slice (no n x n boolean mask).
    """
    n = M.shape[0]
    if array_api_compat.is_numpy_array(M):
        out = np.empty(n * (n - 1) // 2, dtype=M.dtype)
        start = 0
        for i in range(n - 1):
            out[start:start + n - 1 - i] = M[i, i + 1:]
            start += n - 1 - i
        return out
    idx = xp.arange(n, device=device(M))
    return M[idx[:, None] < idx[None, :]]


def median(v, xp, transform=None):
    """Median of a 1-D array (the mean of the two middle values for even length).

    ``transform`` (increasing, elementwise, e.g. ``xp.sqrt``) is applied to the
    middle values only: the median of ``transform(v)`` without transforming
    all of ``v``. NumPy arrays are selected in place with ``numpy.partition``
    (O(m), ``v`` is reordered); other libraries sort a copy.
    """
    m = v.shape[0]
    middle = [m // 2] if m % 2 else [m // 2 - 1, m // 2]
    if array_api_compat.is_numpy_array(v):
        mid = _select_numpy(v, middle)
    else:
        s = xp.sort(v, stable=False)
        mid = s[middle[0]:middle[-1] + 1]
    if transform is not None:
        mid = transform(mid)
    return mid[0] if m % 2 else (mid[0] + mid[1]) / 2


def _select_numpy(v, ks):
    """The order statistics ``ks`` (ascending, adjacent) of a NumPy vector, exactly.

    Long vectors are first bracketed: the quantiles of a strided sample of
    about 65536 entries, widened by eight standard errors, give ``lo <= hi``;
    one pass counts the entries below ``lo`` and gathers those in
    ``[lo, hi]``, and only those are partitioned. If the bracket misses the
    wanted ranks (possible only for adversarial orderings), all of ``v`` is
    partitioned in place.
    """
    m = v.shape[0]
    if m > 1 << 18:
        sample = np.sort(v[::m >> 16])
        s = sample.shape[0]
        centre = (ks[0] + ks[-1]) / 2 / m * s
        margin = 8 * math.sqrt(s) + 2
        lo = sample[max(int(centre - margin), 0)]
        hi = sample[min(int(centre + margin) + 1, s - 1)]
        below = int(np.count_nonzero(v < lo))
        inside = v[(v >= lo) & (v <= hi)]
        if below <= ks[0] and ks[-1] < below + inside.shape[0]:
            local = [k - below for k in ks]
            inside.partition(local)
            return inside[local[0]:local[-1] + 1]
    v.partition(ks)
    return v[ks[0]:ks[-1] + 1]


def orthonormal_basis(Xc, xp, *, n_components=None, variance=None):
    """An orthonormal basis of the column space of a centred ``Xc``.

    Thin SVD ``Xc = U S V^T``; the columns of ``U`` for singular values above
    the rank tolerance ``S_max * max(n, d) * eps`` (as ``numpy.linalg.matrix_rank``),
    optionally cut to the leading ``n_components`` or to the fewest leading
    components whose variance ``S_k^2`` sums to at least ``variance`` of the total.

    Returns
    -------
    U : array of shape (n, r)
    S : array of shape (r,)
    Vt : array of shape (r, d)
    """
    U, S, Vt = xp.linalg.svd(Xc, full_matrices=False)
    eps = xp.finfo(Xc.dtype).eps
    s_host = [float(s) for s in S]
    tol = s_host[0] * max(Xc.shape) * eps if s_host else 0.0
    r = sum(s > tol for s in s_host)
    if variance is not None and r:
        var = [s * s for s in s_host[:r]]
        total, acc = sum(var), 0.0
        for k, v in enumerate(var, start=1):
            acc += v
            if acc >= variance * total * (1 - 1e-12):
                r = k
                break
    if n_components is not None:
        r = min(r, n_components)
    return U[:, :r], S[:r], Vt[:r, :]


def frobenius_inner(a: dict, b: dict, xp):
    """``<K_a, K_b>_F`` of two Grams, each given as ``"gram"`` or as ``"features"``.

    With ``K = X X^T`` the inner product never forms an n x n matrix from
    features: ``<X_a X_a^T, X_b X_b^T> = ||X_a^T X_b||_F^2`` (cost n d_a d_b) and
    ``<G_a, X_b X_b^T> = sum((G_a X_b) * X_b)`` (cost n^2 d_b).
    """
    if "gram" in a and "gram" in b:
        return flat_dot(a["gram"], b["gram"], xp)
    if "gram" in b:
        a, b = b, a
    if "gram" in a:
        Xb = b["features"]
        return xp.sum((a["gram"] @ Xb) * Xb)
    C = a["features"].T @ b["features"]
    return xp.sum(C * C)



def flat_dot(a, b, xp):
    """``sum(a * b)`` over all entries, as one BLAS dot (no temporary of a's size)."""
    return xp.vecdot(xp.reshape(a, (-1,)), xp.reshape(b, (-1,)))


def require_variation(X, xp, measure: str) -> None:
    """Raise ``ValueError`` if every row of ``X`` is the same stimulus pattern.

    Such a representation says nothing about the stimuli, so no comparison of
    it is meaningful, even where a formula would still return a number. The
    test is exact (rows bitwise equal), so it needs no tolerance.
    """
    if not bool(xp.any(X != X[:1, :])):
        raise ValueError(
            f"X does not vary across stimuli (all {X.shape[0]} rows are equal); "
            f"{measure} is undefined"
        )
