"""Shared building blocks on the array API: centring, Grams, distances, bases.

Every function takes the namespace ``xp`` of its inputs and never leaves it, so
the measures built on them run on any array library and device.
"""

from __future__ import annotations

import math

import array_api_compat
import numpy as np
from array_api_compat import device

from ._blocks import chunk_bounds
from ._grad import requires_grad

__all__ = [
    "row_blocks",
    "center_columns",
    "double_center",
    "u_center",
    "squared_distances",
    "distances_from_gram",
    "upper_triangle",
    "median_above_diagonal",
    "rbf_kernel",
    "orthonormal_basis",
    "frobenius_inner",
    "flat_dot",
    "whiten_scatter",
]


# Entries per block of rows in the NumPy passes over n x n matrices (4 MiB of
# float64): a block's temporaries stay in cache, and no pass allocates an n x n
# temporary (at n = 10,000 each fresh n x n array costs its first touch, page
# faults that took 0.05 to 2 s per 800 MB on the development machine).
_BLOCK_ENTRIES = 1 << 19


def row_blocks(n_rows: int, n_cols: int, entries: int | None = None) -> list[slice]:
    """``range(n_rows)`` as slices of at most ``entries / n_cols`` rows (at least 1).

    ``entries`` defaults to ``_BLOCK_ENTRIES``.
    """
    entries = _BLOCK_ENTRIES if entries is None else entries
    return [slice(*bounds) for bounds in chunk_bounds(n_rows, entries // max(n_cols, 1))]


def _subtract_outer(K, r, c, shift, xp):
    """``K - r 1^T - 1 c^T + shift`` in place (block by block on NumPy).

    On an autograd graph (torch tensors that require grad) a new tensor: ``K``
    may be an output autograd keeps for its gradient (that of ``exp``).
    """
    if requires_grad(K, r, c, shift):
        return K - r[:, None] - c[None, :] + shift
    if not array_api_compat.is_numpy_array(K):
        K -= r[:, None]
        K -= c[None, :]
        K += shift
        return K
    for rows in row_blocks(*K.shape):
        block = K[rows]
        block -= r[rows, None]
        block -= c[None, :]
        block += shift
    return K


def center_columns(X, xp):
    """Subtract each feature's mean over stimuli: ``X - 1 mean(X)^T``."""
    return X - xp.mean(X, axis=0, keepdims=True)


def double_center(K, xp):
    """``H K H`` with the centring matrix ``H = I - 11^T / n``, computed in ``K``.

    ``K`` (a fresh n x n temporary at every caller) is overwritten and returned,
    so that no other n x n array is allocated.
    """
    row = xp.mean(K, axis=1)
    return _subtract_outer(K, row, xp.mean(K, axis=0), xp.mean(row), xp)


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
    scaled = rows / (n - 2)
    return _zero_diagonal(_subtract_outer(K0, scaled, scaled, total / ((n - 1) * (n - 2)), xp), xp)


def squared_distances(X, xp):
    """Squared Euclidean distances between the rows of ``X`` (n x n, >= 0).

    Computed from the Gram matrix of the centred rows (distances are
    translation-invariant and centring reduces cancellation), in place in that
    one n x n array: ``||x_i||^2 + ||x_j||^2 - 2 x_i . x_j``. On NumPy this
    runs block by block in one pass and the diagonal is exactly 0.
    """
    Xc = center_columns(X, xp)
    sq = xp.sum(Xc * Xc, axis=1)
    D = Xc @ Xc.T
    if array_api_compat.is_numpy_array(D):
        for rows in row_blocks(*D.shape):
            block = distances_from_gram(D[rows], sq[rows], sq, xp)
            block[np.arange(block.shape[0]), np.arange(rows.start, rows.stop)] = 0
        return D
    # The diagonal is 0 up to rounding (no n x n mask is spent on making it exact).
    return distances_from_gram(D, sq, sq, xp)


def distances_from_gram(G, sq_rows, sq_cols, xp):
    """``max(||a_i||^2 + ||b_j||^2 - 2 G_ij, 0)`` for ``G_ij = a_i . b_j``, in place in ``G``."""
    G *= -2
    G += sq_rows[:, None]
    G += sq_cols[None, :]
    if array_api_compat.is_numpy_array(G):
        return np.maximum(G, 0, out=G)
    return xp.clip(G, min=0)


def rbf_kernel(D2, sigma: float, xp):
    """``exp(-D2 / (2 sigma^2))``, in place in the squared distances ``D2`` where possible.

    ``sigma`` may be a 0-d tensor on the autograd graph of ``D2``: the width is
    then differentiated through (and nothing is overwritten).
    """
    if requires_grad(D2, sigma):
        return xp.exp(D2 / (-2 * sigma**2))
    if not array_api_compat.is_numpy_array(D2):
        D2 /= -2 * sigma**2
        return xp.exp(D2)
    for rows in row_blocks(*D2.shape):
        block = D2[rows]
        block /= -2 * sigma**2
        np.exp(block, out=block)
    return D2


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


def median_above_diagonal(M, xp, transform=None):
    """Median of the entries above the diagonal of a square ``M`` (of :func:`upper_triangle`).

    The mean of the two middle values when there are an even number of them.
    ``transform`` (increasing, elementwise, e.g. ``xp.sqrt``) is applied to the
    middle values only: the median of ``transform(M)`` without transforming
    all of ``M``. NumPy arrays are selected by :func:`_select_above_diagonal`
    (O(n^2), nothing copied, ``M`` unchanged); other libraries sort a copy of
    the entries.
    """
    n = M.shape[0]
    m = n * (n - 1) // 2
    middle = [m // 2] if m % 2 else [m // 2 - 1, m // 2]
    if array_api_compat.is_numpy_array(M):
        mid = _select_above_diagonal(M, middle)
    else:
        s = xp.sort(upper_triangle(M, xp), stable=False)
        mid = s[middle[0]:middle[-1] + 1]
    if transform is not None:
        mid = transform(mid)
    return mid[0] if m % 2 else (mid[0] + mid[1]) / 2


def _upper_pieces(M):
    """The entries above the diagonal of a NumPy matrix as (view, mask) pieces.

    Per block of rows: the square on the diagonal with its strictly upper mask,
    and the rectangle to its right (no mask). No entry is copied.
    """
    n = M.shape[0]
    blocks = row_blocks(n, n)
    b = max((rows.stop - rows.start for rows in blocks), default=0)
    upper = np.triu(np.ones((b, b), dtype=bool), k=1)
    for rows in blocks:
        size = rows.stop - rows.start
        yield M[rows, rows], upper[:size, :size]
        yield M[rows, rows.stop:], None


def _upper_sample(M, size=1 << 16):
    """About ``size`` entries above the diagonal of ``M``, drawn uniformly.

    Pairs ``i != j`` drawn independently (a fixed seed: the same sample for the
    same matrix), each read at ``(min, max)``. Independent draws matter: a
    sample of whole rows would share each row's offset (``||x_i||^2`` in a
    distance), and its quantiles would err by far more than the bracket allows.
    """
    n = M.shape[0]
    i, j = np.random.default_rng(0).integers(0, n, size=(2, size))
    distinct = i != j
    i, j = i[distinct], j[distinct]
    return M[np.minimum(i, j), np.maximum(i, j)]


def _select_above_diagonal(M, ks):
    """The order statistics ``ks`` (ascending, adjacent) of the entries above
    the diagonal of a NumPy matrix, exactly, without copying them.

    Notes
    -----
    More than 2^18 entries are first bracketed: the quantiles of a uniform
    sample of about 65536 entries (:func:`_upper_sample`), widened by eight
    standard errors, give ``lo <= hi``; one pass over the blocks of rows
    (:func:`_upper_pieces`) counts the entries below ``lo`` and gathers those
    in ``[lo, hi]``, and only those are partitioned. If the bracket misses the
    wanted ranks (a chance of far below 1e-9 for a uniform sample), the upper
    triangle is copied out and partitioned.
    """
    n = M.shape[0]
    m = n * (n - 1) // 2
    if m > 1 << 18:
        values = np.sort(_upper_sample(M))
        s = values.shape[0]
        centre = (ks[0] + ks[-1]) / 2 / m * s
        margin = 8 * math.sqrt(s) + 2
        lo = values[max(int(centre - margin), 0)]
        hi = values[min(int(centre + margin) + 1, s - 1)]
        below, inside = 0, []
        for a, mask in _upper_pieces(M):
            low = a < lo
            keep = a <= hi
            keep &= ~low
            if mask is not None:
                low &= mask
                keep &= mask
            below += int(np.count_nonzero(low))
            inside.append(a[keep])
        inside = np.concatenate(inside)
        if below <= ks[0] and ks[-1] < below + inside.shape[0]:
            local = [k - below for k in ks]
            inside.partition(local)
            return inside[local[0]:local[-1] + 1]
    v = upper_triangle(M, np)
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


#: Eigenvalues of a scatter matrix below this fraction of its largest are taken as 0.
SCATTER_RTOL = 1e-10


def whiten_scatter(C, label: str):
    """The whitening of a scatter matrix ``C = X_c^T X_c`` (NumPy, from streamed moments).

    With ``C = V diag(lambda) V^T`` over the eigenpairs above ``SCATTER_RTOL``
    times the largest (smaller ones are rank deficiency), ``W = V
    diag(lambda^{-1/2})`` whitens: ``W^T C W = I``; ``X_c W`` are the unit
    principal-component scores, whose singular values are ``sqrt(lambda)``.

    Returns
    -------
    W : ndarray of shape (d, r)
    S : ndarray of shape (r,)
        ``sqrt(lambda)``, the singular values of ``X_c``.

    Raises
    ------
    ValueError
        If ``C`` is zero (the representation ``label`` does not vary).
    """
    lam, V = np.linalg.eigh(C)
    keep = lam > SCATTER_RTOL * lam[-1] if lam[-1] > 0 else np.zeros(lam.shape, bool)
    if not keep.any():
        raise ValueError(f"{label} does not vary across stimuli; the measure is undefined")
    lam, V = lam[keep], V[:, keep]
    return V / np.sqrt(lam), np.sqrt(lam)
