"""Condensed RDMs and the comparators between them (shared by ``rsa`` and
:func:`repalign.compare_rdms`).

An RDM (representational dissimilarity matrix) is stored condensed: the
n(n-1)/2 entries above the diagonal, row by row, as ``scipy.spatial.distance``
orders them. A comparator turns one condensed RDM into a prepared vector once
(ranks, centring, normalisation) so that comparing two costs one dot product.
Definitions follow rsatoolbox (``rsatoolbox.rdm.compare``).
"""

from __future__ import annotations

import math

import array_api_compat
import numpy as np

from .._array_api import namespace_and_device, to_numpy
from .._validation import as_array, check_finite
from ._blocks import chunk_bounds
from ._grad import requires_grad
from ._kernels import (
    center_columns,
    distances_from_gram,
    flat_dot,
    upper_triangle,
)

__all__ = ["RDM_METRICS", "COMPARATORS", "condensed_rdm", "average_ranks",
           "prepare_rdm_vector", "compare_prepared", "check_rdm", "compare_rdm_pair",
           "resample_condensed"]

RDM_METRICS = ("correlation", "euclidean", "sqeuclidean", "cosine")
COMPARATORS = ("spearman", "pearson", "kendall_tau_a", "rho_a", "cosine")


def _unit_rows(X, xp, name, metric, scale=None):
    """Rows scaled to unit norm; rows whose norm is 0 (relative to ``scale``) fail."""
    norms = xp.sqrt(xp.sum(X * X, axis=1))
    tiny = norms <= (0 if scale is None else 100 * xp.finfo(X.dtype).eps * scale)
    if bool(xp.any(tiny)):
        bad = [i for i, v in enumerate(to_numpy(tiny, xp)) if v]
        what = "are constant across features" if metric == "correlation" else "are all zero"
        raise ValueError(
            f"{name}: stimulus row(s) {bad[:5]}{' ...' if len(bad) > 5 else ''} {what}, "
            f"so the {metric} distance is undefined; drop those stimuli or use "
            "rdm='euclidean'"
        )
    return X / norms[:, None]


def condensed_rdm(X, metric, xp, name="X"):
    """The condensed RDM of the rows of ``X``.

    Parameters
    ----------
    X : array of shape (n_stimuli, n_features)
    metric : {"correlation", "euclidean", "sqeuclidean", "cosine"}
        ``correlation``: 1 - Pearson r between the stimulus patterns;
        ``euclidean``: ||x_i - x_j||; ``sqeuclidean``: ||x_i - x_j||^2;
        ``cosine``: 1 - cos(x_i, x_j). As ``scipy.spatial.distance.pdist``.
        (rsatoolbox's "euclidean" is our sqeuclidean divided by n_features;
        every comparator gives the same value for both.)

    Returns
    -------
    array of shape (n_stimuli * (n_stimuli - 1) / 2,)

    Notes
    -----
    The dissimilarities come from inner products: of the centred rows
    (``||x_i||^2 + ||x_j||^2 - 2 x_i . x_j``) or of the unit (centred, for
    correlation) rows ``Z`` (``1 - Z_i . Z_j``). NumPy arrays never form the
    n x n matrix: :func:`_condensed_by_blocks` multiplies each block of rows
    by the rows from its first one on (the entries on and above the diagonal,
    by GEMM) and writes the entries above the diagonal straight into the
    condensed vector. The other libraries form the n x n matrix and take its
    upper triangle.
    """
    if metric in ("euclidean", "sqeuclidean"):
        Z = center_columns(X, xp)
        sq = xp.sum(Z * Z, axis=1)
    elif metric == "correlation":
        scale = xp.sqrt(xp.sum(X * X, axis=1))
        Z = _unit_rows(center_columns(X.T, xp).T, xp, name, metric, scale)
    else:
        Z = _unit_rows(X, xp, name, metric)
    if array_api_compat.is_numpy_array(Z):
        return _condensed_by_blocks(Z, metric, sq if metric.endswith("euclidean") else None)
    if metric.endswith("euclidean"):
        v = upper_triangle(distances_from_gram(Z @ Z.T, sq, sq, xp), xp)
        return xp.sqrt(v) if metric == "euclidean" else v
    v = upper_triangle(Z @ Z.T, xp)
    v *= -1
    v += 1  # 1 - Z_i . Z_j, in place
    return v


# Rows per block in :func:`_condensed_by_blocks`: those of about 16 MiB of float64,
# at most n / 8 (at most 1/8 more flops than the triangle) and at least 64 (GEMMs at
# full rate): 209 rows at n = 10,000, 250 at n = 2000.
_GEMM_BLOCK_ENTRIES = 1 << 21
_MIN_BLOCK_ROWS = 64


def _condensed_by_blocks(Z, metric, sq=None):
    """The condensed RDM of the NumPy rows ``Z`` (see :func:`condensed_rdm`), by blocks.

    For each block of rows ``I = [i0, i1)``, the product ``Z_I Z_{i0:}^T``
    (one GEMM into a buffer reused by every block) holds the inner products of
    the block's rows with every row from ``i0`` on; they are turned into
    dissimilarities in place and each row's entries right of the diagonal are
    copied to its place in the condensed vector. The flops are
    ``n^2 d (1 + b / n)`` for blocks of ``b`` rows, the SYRK count, at the
    GEMM rate, and the only large array is the condensed vector itself (the
    n x n matrix would be twice its size, and its first touch costs page
    faults).
    """
    n = Z.shape[0]
    out = np.empty(n * (n - 1) // 2, dtype=Z.dtype)
    rows_per_block = max(_MIN_BLOCK_ROWS, min(_GEMM_BLOCK_ENTRIES // n, n // 8))
    blocks = [slice(*bounds) for bounds in chunk_bounds(n, rows_per_block)]
    buffer = np.empty(max((rows.stop - rows.start) * n for rows in blocks), dtype=Z.dtype)
    start = 0
    for rows in blocks:
        width = n - rows.start
        G = np.matmul(Z[rows], Z[rows.start:].T,
                      out=buffer[:(rows.stop - rows.start) * width].reshape(-1, width))
        if sq is None:
            np.subtract(1, G, out=G)
        else:
            distances_from_gram(G, sq[rows], sq[rows.start:], np)
            if metric == "euclidean":
                np.sqrt(G, out=G)
        for r in range(G.shape[0]):
            stop = start + width - 1 - r
            out[start:stop] = G[r, r + 1:]
            start = stop
    return out


def resample_condensed(v, idx, xp):
    """The condensed RDM of a resample of the stimuli, read off the condensed RDM ``v``.

    Parameters
    ----------
    v : array of shape (n * (n - 1) / 2,)
        A condensed RDM of n stimuli, or any vector indexed like one (its ranks).
    idx : integer array of shape (k,)
        The resample, on ``v``'s device: its stimulus ``s`` is stimulus ``idx[s]``
        of ``v``. A permutation reorders the stimuli; a bootstrap sample
        repeats some.

    Returns
    -------
    array
        For the pairs ``s < t`` of the resample, in condensed order, the entry of
        ``v`` at the pair ``(min(idx_s, idx_t), max(idx_s, idx_t))``; pairs of a
        stimulus with its own copy (``idx_s == idx_t``), whose dissimilarity is
        0 by construction rather than measured, are left out (as rsatoolbox's
        ``RDMs.subsample_pattern`` marks them NaN). For a permutation nothing is
        left out: the result is the condensed RDM of the reordered stimuli, from
        one integer index map and one ``take``.

    Notes
    -----
    The pair ``(i, j)``, ``i < j``, of n stimuli sits at position
    ``i (2n - i - 3) / 2 + j - 1`` of a condensed vector. The resample's pairs
    are enumerated row by row with ``repeat``, in O(k^2) integer operations.
    """
    k, m = idx.shape[0], v.shape[0]
    n = int(round((1 + math.sqrt(1 + 8 * m)) / 2))
    dev = array_api_compat.device(v)
    counts = xp.arange(k - 1, 0, -1, device=dev)
    rows = xp.repeat(idx[:-1], counts)
    # Entry e of row s is the pair (s, t) with t = e + s + 1 - (start of row s).
    shift = xp.arange(1, k, device=dev) - (xp.cumulative_sum(counts) - counts)
    cols = xp.take(idx, xp.arange(rows.shape[0], device=dev) + xp.repeat(shift, counts))
    distinct = rows != cols
    if not bool(xp.all(distinct)):
        rows, cols = rows[distinct], cols[distinct]
        if rows.shape[0] == 0:
            raise ValueError(
                "idx: the resample holds a single distinct stimulus, so it has no pair "
                "of distinct stimuli and no dissimilarity"
            )
    # Position of (i, j) = start[i] + j with start[i] = i (2n - i - 3) / 2 - 1, looked
    # up per stimulus rather than computed per pair.
    i = xp.arange(n, device=dev)
    start = i * (2 * n - i - 3) // 2 - 1
    lo, hi = xp.minimum(rows, cols), xp.maximum(rows, cols)
    return xp.take(v, xp.take(start, lo) + hi)


def average_ranks(v, xp):
    """Ranks 1..m of a 1-D array, ties sharing their average rank.

    Equal to ``scipy.stats.rankdata(v)`` (method ``"average"``). After one sort,
    the ranks of a run of equal sorted values ``s_a = ... = s_{b-1}`` are all
    ``(a + b + 1) / 2``; the ranks are then put back in the input's order.
    NumPy arrays take :func:`_sort_order` (a sort of packed integer keys,
    several times faster than ``argsort`` of the values); other libraries
    ``argsort``. ``v`` is left unchanged.

    Notes
    -----
    On NumPy arrays the ranks are written into the storage in which
    :func:`_sort_order` made its keys, and only the sorting permutation is
    another m-long array of words: the sorted ranks are made and scattered
    ``2^16`` at a time, ``k + 1`` for the ``k``-th smallest entry except in
    runs of ties (few, for measured dissimilarities), whose average ranks are
    computed once for the tied entries only.
    """
    if array_api_compat.is_numpy_array(v):
        m = v.shape[0]
        ranks = np.empty_like(v)
        order, new = _sort_order(v, work=ranks)
        tied = _run_members(new)
        first = np.flatnonzero(new[tied])  # where each run starts, within ``tied``
        sizes = np.diff(first, append=tied.size)
        shared = np.repeat((2 * tied[first] + sizes + 1) / 2, sizes)  # the ranks of ``tied``
        step = 1 << 16
        cuts = np.searchsorted(tied, np.arange(0, m + step, step))  # ``tied`` per block
        for c, a in enumerate(range(0, m, step)):
            sorted_ranks = np.arange(a + 1, min(a + step, m) + 1, dtype=np.float64)
            sorted_ranks[tied[cuts[c]:cuts[c + 1]] - a] = shared[cuts[c]:cuts[c + 1]]
            ranks[order[a:a + step]] = sorted_ranks
        return ranks
    order = xp.argsort(v, stable=False)
    s = xp.take(v, order)
    lo = xp.searchsorted(s, s, side="left")
    hi = xp.searchsorted(s, s, side="right")
    sorted_ranks = (xp.astype(lo + hi, v.dtype) + 1) / 2
    return xp.take(sorted_ranks, xp.argsort(order))


def _run_members(new):
    """The positions of the entries in runs of two or more equal entries.

    ``new[i]``: entry ``i`` differs from entry ``i - 1`` (``new[0]`` is True).
    """
    alone = new.copy()  # differs from the entry before
    alone[:-1] &= new[1:]  # and from the entry after
    return np.flatnonzero(np.logical_not(alone, out=alone))


def _sort_order(v, work):
    """A sorting permutation of a 1-D NumPy float array, and where its ties start.

    ``numpy.argsort`` of floats is several times slower than ``numpy.sort`` of
    integers (SIMD-vectorised). So each value becomes an order-preserving
    integer key (its IEEE bits with all but the sign flipped when negative),
    minus the smallest key, and the index of the entry is packed into the low
    ``p = bit_length(m - 1)`` bits of one 64-bit word, the key's leading bits
    above it (shifted right by ``shift`` when the keys span more than ``64 - p``
    bits). One sort of these words gives the permutation, exact when
    ``shift = 0``. Otherwise entries whose keys agree in the kept bits
    (adjacent after the sort, and rare: such a bin holds ``2^shift``
    neighbouring floats) are re-sorted among themselves by value, so the
    result is always an exact sort. The keys are made in ``work`` and the
    indices unpacked into the array that packed them, by in-place passes
    (a fresh m-long array costs page faults on its first touch).

    Parameters
    ----------
    v : NumPy array of floats, shape (m,)
        Left unchanged.
    work : NumPy array, shape (m,), of ``v``'s dtype
        Scratch space, overwritten: the keys are made in it (float32 keys are
        then widened into a new array).

    Returns
    -------
    order : array of intp, shape (m,)
        ``v[order]`` is sorted.
    new : array of bool, shape (m,)
        ``new[i]``: ``v[order[i]]`` differs from ``v[order[i - 1]]`` (``new[0]`` is True).
    """
    m = v.shape[0]
    bits = np.dtype(v.dtype).itemsize * 8
    # + 0 turns -0.0 into 0.0, so that equal values get equal keys.
    key = np.add(v, 0, out=work).view(f"int{bits}")
    low = key.min()
    if low < 0:  # negative values (rare in an RDM): flip all but the sign bit
        key ^= (key >> (bits - 1)) & ((1 << (bits - 1)) - 1)
        low = key.min()
    key = key.astype(np.int64, copy=False)
    key -= low  # wraps for ranges above 2^63: exact as unsigned
    key = key.view(np.uint64)
    p = max(int(m - 1).bit_length(), 1)
    shift = max(int(key.max()).bit_length() - (64 - p), 0)
    if shift:
        key >>= np.uint64(shift)
    key <<= np.uint64(p)
    order = np.arange(m, dtype=np.uint64)
    key |= order
    key.sort()
    np.bitwise_and(key, np.uint64((1 << p) - 1), out=order)
    order = order.view(np.intp)
    key >>= np.uint64(p)  # the (possibly shifted) keys, sorted
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    if shift:
        # Entries sharing a bin: sort them by value, then mark their value changes.
        # Only bins holding different values need it (the ties of a model RDM fill
        # bins of equal values, already in order).
        idx = _run_members(new)
        vals = v[order[idx]]
        bin_of = np.cumsum(new[idx])  # each member's bin, numbered from 1
        mixed = np.zeros(idx.size + 1, dtype=bool)
        mixed[bin_of[1:][(bin_of[1:] == bin_of[:-1]) & (vals[1:] != vals[:-1])]] = True
        sel = mixed[bin_of]
        idx, vals = idx[sel], vals[sel]
        fix = np.lexsort((vals, key[idx]))
        order[idx] = order[idx][fix]
        vals = vals[fix]
        inner = np.flatnonzero(~new[idx])  # same bin as the entry before (also a member)
        new[idx[inner]] = vals[inner] != vals[inner - 1]
    return order, new


def _unit(v, xp, name):
    norm = xp.sqrt(xp.sum(v * v))
    if not bool(norm > 0):
        raise ValueError(
            f"{name}: the RDM is all zeros, so its cosine with another RDM is undefined"
        )
    return v / norm


def prepare_rdm_vector(v, method, xp, name="X"):
    """Everything one condensed RDM needs for ``method``, computed once.

    ``spearman``: centred average ranks scaled to unit norm (Spearman's rho is
    then a dot product); ``pearson``: centred, unit norm; ``cosine``: unit norm;
    ``rho_a``: centred ranks (rsatoolbox's Spearman without tie correction,
    ``12 sum(r_a r_b) / (m^3 - m)``); ``kendall_tau_a``: the vector itself.

    Raises
    ------
    ValueError
        If the RDM is constant (every correlation-type comparison is undefined)
        or, for ``cosine``, all zeros.
    """
    if method == "cosine":
        return _unit(v, xp, name)
    if not bool(xp.max(v) > xp.min(v)):
        raise ValueError(
            f"{name}: the RDM is constant (all {v.shape[0]} dissimilarities equal), so "
            f"its {method} correlation with another RDM is undefined"
        )
    if method in ("spearman", "rho_a"):
        r = average_ranks(v, xp)
        r -= xp.mean(r)
        if method == "spearman":
            r /= xp.sqrt(flat_dot(r, r, xp))
        return r
    if method == "pearson":
        c = v - xp.mean(v)
        if requires_grad(c):  # on an autograd graph: c is kept for the gradient of its norm
            return c / xp.sqrt(flat_dot(c, c, xp))
        c /= xp.sqrt(flat_dot(c, c, xp))
        return c
    return v  # kendall_tau_a: pairs of entries are counted when compared


def compare_prepared(a, b, method, xp):
    """Compare two prepared condensed RDMs (see :func:`prepare_rdm_vector`)."""
    if method in ("spearman", "pearson", "cosine"):
        return flat_dot(a, b, xp)
    m = a.shape[0]
    if method == "rho_a":
        return 12 * flat_dot(a, b, xp) / (m**3 - m)
    return _kendall_tau_a(to_numpy(a, xp), to_numpy(b, xp))


def _kendall_tau_a(a, b) -> float:
    """Kendall's tau-a, ``(C - D) / (m (m - 1) / 2)``, in O(m log m).

    SciPy's tau-b is ``(C - D) / sqrt((P - T_a)(P - T_b))`` with ``P = m(m-1)/2``
    pairs and ``T`` the pairs tied in one vector, so ``C - D`` is recovered from
    it and the tie counts. Computed on the host (the array API has no merge sort).
    """
    from scipy.stats import kendalltau

    m = a.shape[0]
    pairs = m * (m - 1) / 2

    def tied_pairs(x):
        _, counts = np.unique(x, return_counts=True)
        return float(np.sum(counts * (counts - 1) / 2))

    tau_b = kendalltau(a, b, variant="b").statistic
    return tau_b * math.sqrt((pairs - tied_pairs(a)) * (pairs - tied_pairs(b))) / pairs


def check_rdm(D, name):
    """Validate one precomputed RDM and return it condensed, with its n.

    Parameters
    ----------
    D : array of shape (n, n) or (n * (n - 1) / 2,)
        A symmetric square RDM (the diagonal is ignored) or a condensed one
        (the entries above the diagonal, row by row).
    name : str
        The argument name used in error messages.

    Returns
    -------
    v : array of shape (n * (n - 1) / 2,)
        The condensed RDM, real floating, on the input's library and device.
    n : int
        The number of stimuli.
    """
    D = as_array(D, name)
    xp = array_api_compat.array_namespace(D)
    if not xp.isdtype(D.dtype, "real floating"):
        D = xp.astype(D, xp.float64)
    if D.ndim == 2:
        n = D.shape[0]
        if D.shape[1] != n:
            raise ValueError(
                f"{name} must be a square (n, n) RDM or a condensed vector of length "
                f"n(n-1)/2; got shape {tuple(D.shape)}"
            )
        check_finite(D, name, xp)
        upper, lower = upper_triangle(D, xp), upper_triangle(D.T, xp)
        scale = float(xp.max(xp.abs(upper))) if upper.shape[0] else 0.0
        if float(xp.max(xp.abs(upper - lower))) > 1e-8 * max(scale, 1.0):
            raise ValueError(
                f"{name} is square but not symmetric; an RDM must satisfy D[i, j] == D[j, i]"
            )
        v = upper
    elif D.ndim == 1:
        m = D.shape[0]
        n = int(round((1 + math.sqrt(1 + 8 * m)) / 2))
        if n * (n - 1) // 2 != m:
            raise ValueError(
                f"{name} is 1-D of length {m}, which is not n(n-1)/2 for any n; a "
                "condensed RDM holds the entries above the diagonal, row by row"
            )
        check_finite(D, name, xp)
        v = D
    else:
        raise ValueError(
            f"{name} must be a square (n, n) RDM or a condensed vector; got a "
            f"{D.ndim}-D array of shape {tuple(D.shape)}"
        )
    if n < 3:
        raise ValueError(f"{name} is an RDM of {n} stimuli; comparing RDMs needs at least 3")
    return v, n


def compare_rdm_pair(D1, D2, method, names=("D1", "D2")) -> float:
    """Validate two precomputed RDMs (see :func:`check_rdm`) and compare them.

    ``method`` is one of :data:`COMPARATORS`, checked by the caller; ``names``
    are the arguments' names for error messages.
    """
    v1, n1 = check_rdm(D1, names[0])
    v2, n2 = check_rdm(D2, names[1])
    if n1 != n2:
        raise ValueError(
            f"{names[0]} is an RDM of {n1} stimuli but {names[1]} of {n2}; they must match"
        )
    xp, _ = namespace_and_device(v1, v2, names=names)
    if v1.dtype != v2.dtype:
        dtype = xp.result_type(v1.dtype, v2.dtype)
        v1, v2 = xp.astype(v1, dtype), xp.astype(v2, dtype)
    a = prepare_rdm_vector(v1, method, xp, names[0])
    b = prepare_rdm_vector(v2, method, xp, names[1])
    return float(compare_prepared(a, b, method, xp))
