"""Nearest-neighbour measures: do the two representations agree on who is close to whom?

Every measure here looks at each stimulus's ``k`` nearest *other* stimuli under
cosine similarity (rows are L2-normalised, not centred, as platonic-rep and
ReSi do) and compares the two neighbourhoods of each stimulus.

Neighbours and ties. ``N_k(i)`` is the set of the ``k`` stimuli ``j != i`` with
the largest cosine similarity to ``i``, listed from most to least similar. Ties
in similarity are broken by the lower stimulus index: the list is the first
``k`` entries of a *stable* argsort of ``-S_i`` with ``i`` itself moved last.
Rows with zero norm have no cosine similarity and are rejected. Because of this
rule, ``permute`` (which relabels the stored lists) equals a new preparation of
the permuted stimuli only where no similarities tie exactly; ties change sides
when their indices are reordered.

Cost. ``prepare`` forms the n x n cosine similarity matrix (O(n^2 d)) and
selects each row's ``k`` largest entries: a partial selection of the k-th
value (``numpy.argpartition`` on NumPy, block of rows by block of rows; a sort
of the row values elsewhere, as the array API has no selection) and O(n^2)
elementwise work to apply the tie rule, then a sort of the ``k`` chosen.
``pair`` compares the two neighbour lists of each stimulus in O(n k^2) (an
``(n, k, k)`` table of index matches), without any n x n matrix, except
``second_order_cosine``, which reads the stored similarity matrices at the
union of the two neighbour lists.

Neighbour indices are stored as integer arrays (kept as they are when a pair
mixes float32 and float64 states).

Precision. Every measure here takes ``dtype`` (None keeps the input's
precision; ``"float32"`` casts each representation at ``prepare``: the cosine
Gram then runs at the float32 GEMM rate, about 1.4-2x faster). Float32 rounding
of the cosines (about 1e-7) can only swap neighbours whose similarities differ
by less than that; on continuous data (n=2000, d=256, Gaussian, also with a
decaying spectrum) the float32 values were within 2e-7 relative of float64.
Tested <= 1e-5.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import array_api_compat
import numpy as np
from array_api_compat import device

from .._array_api import to_numpy
from .._validation import Interval
from ..exceptions import DegenerateWarning
from ._base import Capabilities, Measure, Prepared
from ._grad import NEIGHBOURS
from ._kernels import row_blocks
from ._references import RESI
from .registry import register

__all__ = ["MutualKNN", "JaccardKNN", "CKNNA", "CycleKNN", "RankSimilarity",
           "SecondOrderCosine"]

_HUH = ("Huh, Cheung, Wang & Isola (2024). The platonic representation hypothesis. "
        "ICML, PMLR 235.")


def cosine_similarities(X, xp):
    """The n x n matrix of cosine similarities between the rows of ``X``.

    Raises
    ------
    ValueError
        If a row is zero (its cosine similarity is undefined), or if all rows
        point in the same direction (every similarity is 1, so no stimulus is
        nearer to one stimulus than to another).
    """
    norms = xp.linalg.vector_norm(X, axis=1)
    zero = norms == 0
    if bool(xp.any(zero)):
        rows = np.flatnonzero(to_numpy(zero)).tolist()
        listed = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        raise ValueError(
            f"X has {len(rows)} stimulus row(s) of zero norm (rows {listed}); cosine "
            "similarity, and so a nearest neighbour, is undefined for a zero vector. "
            "Remove those stimuli or add an offset."
        )
    U = X / norms[:, None]
    S = U @ U.T
    if float(xp.min(S)) > 1 - 16 * xp.finfo(S.dtype).eps:
        raise ValueError(
            "X: all stimuli point in the same direction (every cosine similarity is 1), "
            "so no stimulus has nearer neighbours than others"
        )
    return S


def nearest_others(S, k: int, xp):
    """Each stimulus's ``k`` most similar other stimuli, most similar first.

    Parameters
    ----------
    S : array of shape (n, n)
        Similarities (larger = nearer); the diagonal is ignored.
    k : int
        Number of neighbours, ``1 <= k <= n - 1``.

    Returns
    -------
    array of shape (n, k), integer
        Row ``i`` lists ``N_k(i)``. Ties in similarity go to the lower index:
        the result equals ``argsort(-S_i, stable=True)[:k]`` with ``i`` excluded.

    Notes
    -----
    Rows are independent, so NumPy arrays are processed in blocks of rows
    (:func:`~repalign.measures._kernels.row_blocks`, :func:`_nearest_in_rows`):
    every temporary is the size of a block, not n x n (at n = 10,000 the
    unblocked selection allocated 1.6 GB of keys and indices, whose first touch
    cost more than the selection). Other libraries take all rows at once.
    """
    n = S.shape[0]
    if not array_api_compat.is_numpy_namespace(xp):
        return _nearest_in_rows(S, 0, k, xp)
    return np.concatenate([_nearest_in_rows(S[rows], rows.start, k, xp)
                           for rows in row_blocks(n, n)])


def _nearest_in_rows(S, first: int, k: int, xp):
    """:func:`nearest_others` for the rows ``first, first + 1, ...`` given as ``S``.

    The k-th smallest key ``t_i`` of each row is found by a selection
    (``numpy.argpartition``; a sort of the values on libraries without one);
    the neighbours are then all keys ``< t_i`` and, of the keys ``== t_i``,
    those with the lowest indices, O(n) per row instead of a sort. On
    NumPy, where no row has more than k keys ``<= t_i`` (no tie at the k-th
    place), the k selected entries are the neighbours and only they are sorted.
    """
    b, n = S.shape
    # Dissimilarity keys with stimulus i itself last in its own row (cosines are in [-1, 1]).
    if array_api_compat.is_numpy_namespace(xp):
        D = np.negative(S)
        D[np.arange(b), np.arange(first, first + b)] += 3
        cols = np.argpartition(D, k - 1, axis=1)[:, :k]
        keys = np.take_along_axis(D, cols, axis=1)
        kth = keys.max(axis=1, keepdims=True)
        if bool(np.all(np.count_nonzero(D <= kth, axis=1) == k)):
            # No tie straddles the k-th place: the k chosen are N_k(i); order them
            # by key, equal keys by index.
            order = np.lexsort((cols, keys), axis=1)
            return np.take_along_axis(cols, order, axis=1)
    else:
        dev = device(S)
        own = xp.arange(n, device=dev)[None, :] == xp.arange(first, first + b, device=dev)[:, None]
        D = 3 * xp.astype(own, S.dtype) - S
        kth = xp.sort(D, axis=1, stable=False)[:, k - 1:k]
    below, tied = D < kth, D == kth
    needed = k - xp.count_nonzero(below, axis=1, keepdims=True)  # tied keys to keep
    if bool(xp.any(xp.count_nonzero(tied, axis=1, keepdims=True) > needed)):
        # Ties straddle the k-th place: keep the tied keys of lowest index.
        tied = tied & (xp.cumulative_sum(xp.astype(tied, xp.int64), axis=1) <= needed)
    _, cols = xp.nonzero(below | tied)  # row-major: k per row, by index
    cols = xp.reshape(cols, (b, k))
    order = xp.argsort(xp.take_along_axis(D, cols, axis=1), axis=1, stable=True)
    return xp.take_along_axis(cols, order, axis=1)


def _matches(a: dict, b: dict):
    """``E[i, p, q]``: the p-th neighbour of i in ``a`` is its q-th neighbour in ``b``."""
    return a["neighbors"][:, :, None] == b["neighbors"][:, None, :]


def _gather_rows(M, idx, xp):
    """``M[idx[i, p]]`` for every i, p: shape ``idx.shape + M.shape[1:]``."""
    rows = xp.take(M, xp.reshape(idx, (-1,)), axis=0)
    return xp.reshape(rows, (*idx.shape, *M.shape[1:]))


@dataclass(frozen=True)
class _NeighborMeasure(Measure):
    """Prepare: cosine similarities and each stimulus's k nearest others."""

    k: int = 10

    kind = "similarity"
    cost = "prepare O(n^2 d), pair O(n k^2)"
    _constraints = {"k": Interval(1, None, integer=True)}
    capabilities = Capabilities(permutation=True, differentiable_refusal=NEIGHBOURS)
    # Rows of the neighbour lists, of CKNNA's kernel at the neighbours and of the
    # similarity matrix (also its columns); the listed indices are relabelled in _permute.
    _stimulus_axes = {"neighbors": (0,), "kernel": (0,), "similarities": (0, 1)}
    _n_square = 2.5

    @property
    def min_stimuli(self) -> int:
        # k neighbours among the n - 1 others, and at least one non-neighbour
        # (with k = n - 1 every neighbourhood is every other stimulus).
        return self.k + 2

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "permutation")

    def _prepare(self, X, xp):
        S = cosine_similarities(X, xp)
        idx = nearest_others(S, self.k, xp)
        return self._state(S, idx, xp)

    def _state(self, S, idx, xp) -> dict:
        """What ``pair`` needs; by default the neighbour lists alone."""
        return {"neighbors": idx}

    def _permute(self, data, perm, xp):
        """Reorder the rows, then relabel: the list of stimulus i becomes
        ``inv[old_list[perm[i]]]`` with ``inv`` the inverse permutation.

        Equal to re-preparing ``X[perm]`` except where several stimuli tie in
        similarity at the k-th place, or within a list: preparation breaks such
        ties by the lower index, which the permutation changes. Data with
        continuous values has no exact ties.
        """
        data = super()._permute(data, perm, xp)
        lists = data["neighbors"]
        inverse = xp.astype(xp.argsort(perm), lists.dtype)
        data["neighbors"] = xp.reshape(xp.take(inverse, xp.reshape(lists, (-1,))), lists.shape)
        return data


@register
@dataclass(frozen=True)
class MutualKNN(_NeighborMeasure):
    """Mutual k-nearest-neighbour alignment (Huh et al. 2024).

    .. math::

        \\mathrm{mKNN}(X, Y) = \\frac{1}{n} \\sum_{i=1}^n
            \\frac{|N_k^X(i) \\cap N_k^Y(i)|}{k}

    with ``N_k^X(i)`` the ``k`` stimuli other than ``i`` of largest cosine
    similarity to ``x_i`` (ties to the lower index).

    Parameters
    ----------
    k : int, default=10
        Neighbours per stimulus (``topk=10`` in platonic-rep's
        ``measure_alignment.py``); needs at least ``k + 2`` stimuli.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation (module notes: float32 error <= 1e-5 tested).

    Notes
    -----
    Equals platonic-rep's ``AlignmentMetrics.mutual_knn(A, B, topk=k)`` on
    L2-normalised rows, which its alignment script passes
    (``F.normalize(x, p=2, dim=-1)``); on unnormalised input that function
    ranks by inner product instead. 0 means no shared neighbour; the chance
    level for unrelated representations is ``k / (n - 1)``.

    References
    ----------
    Huh, Cheung, Wang & Isola (2024). The platonic representation hypothesis. ICML.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 8))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    >>> repalign.measure("mutual_knn", X, 2 * X @ Q)
    1.0
    """

    name = "mutual_knn"
    references = (_HUH,)

    def _pair(self, a: Prepared, b: Prepared, xp):
        E = xp.astype(_matches(a.data, b.data), a.dtype)
        return xp.sum(E) / (a.n_stimuli * self.k)


@register
@dataclass(frozen=True)
class JaccardKNN(_NeighborMeasure):
    """Mean Jaccard index of the two k-nearest-neighbour sets (ReSi).

    .. math::

        J(X, Y) = \\frac{1}{n} \\sum_{i=1}^n
            \\frac{|N_k^X(i) \\cap N_k^Y(i)|}{|N_k^X(i) \\cup N_k^Y(i)|}

    with cosine neighbours, ``|A \\cup B| = 2k - |A \\cap B|``.

    Parameters
    ----------
    k : int, default=10
        Neighbours per stimulus (ReSi's default); needs at least ``k + 2`` stimuli.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation (module notes: float32 error <= 1e-5 tested).

    Notes
    -----
    As ReSi's ``jaccard_similarity(R, Rp, shape="nd", k=10, inner="cosine")``.
    ReSi asks scikit-learn's ``NearestNeighbors`` for ``k + 1`` neighbours and
    drops the first, assuming it is the stimulus itself; with a duplicate
    stimulus the duplicate may come first instead, and the stimulus then
    counts as its own neighbour. Here the stimulus is excluded explicitly.
    Other metrics ReSi's ``inner`` accepts (e.g. Euclidean) are not offered:
    they change the invariances.

    References
    ----------
    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025).
    ReSi: a comprehensive benchmark for representational similarity measures. ICLR.

    Schumacher, Wolf, Ritzert, Lemmerich, Grohe & Strohmaier (2021). The
    effects of randomness on the stability of node embeddings. ECML PKDD
    workshops.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((60, 5))
    >>> repalign.measure("jaccard_knn", X, 3 * X)
    1.0
    """

    name = "jaccard_knn"
    references = (RESI,
                  "Schumacher, Wolf, Ritzert, Lemmerich, Grohe & Strohmaier (2021). The "
                  "effects of randomness on the stability of node embeddings. ECML PKDD "
                  "workshops.")

    def _pair(self, a: Prepared, b: Prepared, xp):
        shared = xp.sum(xp.astype(_matches(a.data, b.data), a.dtype), axis=(1, 2))
        return xp.mean(shared / (2 * self.k - shared))


@register
@dataclass(frozen=True)
class RankSimilarity(_NeighborMeasure):
    """Rank similarity of the shared nearest neighbours (Wang et al. 2022, ReSi).

    For each stimulus ``i`` with shared neighbours ``J_i = N_k^X(i) \\cap N_k^Y(i)``
    at ranks ``r_X(j), r_Y(j)`` in ``1..k`` (1 = nearest):

    .. math::

        \\mathrm{RS}(X, Y) = \\frac{1}{n} \\sum_{i=1}^n \\frac{1}{H_{|J_i|}}
            \\sum_{j \\in J_i} \\frac{2}{(1 + |r_X(j) - r_Y(j)|)\\,(r_X(j) + r_Y(j))},

    with the harmonic number ``H_m = sum_{t=1}^m 1/t`` (the largest value the
    inner sum can take with m shared neighbours) and a term 0 when
    ``J_i`` is empty. In [0, 1]; 1 when the shared neighbours hold the same,
    leading ranks in both.

    Parameters
    ----------
    k : int, default=10
        Neighbours per stimulus (ReSi's default); needs at least ``k + 2`` stimuli.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation (module notes: float32 error <= 1e-5 tested).

    Notes
    -----
    As ReSi's ``rank_similarity(R, Rp, shape="nd", k=10, inner="cosine")``
    (cosine neighbours, see ``jaccard_knn``). The weight of a shared
    neighbour of ranks ``p, q`` is a fixed k x k table, so ``pair`` is a
    weighted count of the ``(n, k, k)`` index matches.

    References
    ----------
    Wang, Rao, Guo, Wang, Liu & Guan (2022). Towards understanding the
    instability of network embedding. IEEE Trans. Knowl. Data Eng. 34(2),
    927-941 (online 2020).

    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025).
    ReSi: a comprehensive benchmark for representational similarity measures. ICLR.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((60, 5))
    >>> round(repalign.measure("rank_similarity", X, X[:, ::-1]), 12)
    1.0
    """

    name = "rank_similarity"
    references = (
        "Wang, Rao, Guo, Wang, Liu & Guan (2022). Towards understanding the instability "
        "of network embedding. IEEE Trans. Knowl. Data Eng. 34(2), 927-941.",
        RESI,
    )

    def _pair(self, a: Prepared, b: Prepared, xp):
        E = xp.astype(_matches(a.data, b.data), a.dtype)
        rank = xp.arange(1, self.k + 1, dtype=a.dtype, device=device(E))
        weight = 2 / ((1 + xp.abs(rank[:, None] - rank[None, :]))
                      * (rank[:, None] + rank[None, :]))
        score = xp.sum(E * weight, axis=(1, 2))
        shared = xp.sum(E, axis=(1, 2))
        harmonic = xp.sum(xp.astype(rank[None, :] <= shared[:, None], a.dtype) / rank,
                          axis=1)
        # No shared neighbour: score 0, divided by 1 rather than by H_0 = 0.
        return xp.mean(score / xp.maximum(harmonic, xp.ones_like(harmonic)))


@register
@dataclass(frozen=True)
class CycleKNN(_NeighborMeasure):
    """Cycle k-nearest-neighbour consistency (Huh et al. 2024): Y, then back through X.

    .. math::

        \\mathrm{cycle}(X, Y) = \\frac{1}{n} \\sum_{i=1}^n
            \\mathbb 1\\big[\\exists\\, j \\in N_k^Y(i) : i \\in N_k^X(j)\\big],

    the fraction of stimuli that return to themselves when one steps to a
    neighbour in Y and then takes the k nearest neighbours of that stimulus in X.

    Parameters
    ----------
    k : int, default=10
        Neighbours per stimulus (``topk=10`` in platonic-rep's
        ``measure_alignment.py``); needs at least ``k + 2`` stimuli.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation (module notes: float32 error <= 1e-5 tested).

    Notes
    -----
    Equals platonic-rep's ``AlignmentMetrics.cycle_knn(A, B, topk=k)`` with
    ``A = X``, ``B = Y`` on L2-normalised rows. Not symmetric (platonic-rep's
    script computes it in both orders). Unlike the other measures here,
    ``cycle_knn(X, X)`` need not be 1: a stimulus that is no neighbour of
    any of its own neighbours (an outlier whose neighbours all have k nearer
    stimuli) never returns. With
    ``k`` near ``n`` nearly every stimulus returns in both orders and the
    measure saturates at 1; it discriminates when ``k`` is small against n.

    References
    ----------
    Huh, Cheung, Wang & Isola (2024). The platonic representation hypothesis. ICML.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((60, 5))
    >>> repalign.measure("cycle_knn", X, 2 * X, k=5)
    1.0
    """

    name = "cycle_knn"
    references = (_HUH,)

    @property
    def symmetric(self) -> bool:
        return False

    def _pair(self, a: Prepared, b: Prepared, xp):
        # back[i, q, :] = N^X(j) for the q-th Y-neighbour j of i.
        back = _gather_rows(a.data["neighbors"], b.data["neighbors"], xp)
        n = a.n_stimuli
        me = xp.arange(n, dtype=back.dtype, device=device(back))[:, None, None]
        returns = xp.any(back == me, axis=(1, 2))
        return xp.mean(xp.astype(returns, a.dtype))


@register
@dataclass(frozen=True)
class SecondOrderCosine(_NeighborMeasure):
    """Second-order cosine similarity of the k-nearest-neighbourhoods (Hamilton et al. 2016).

    For each stimulus ``i`` let ``U_i = N_k^X(i) \\cup N_k^Y(i)`` and compare
    its cosine similarities to those stimuli in X and in Y:

    .. math::

        \\mathrm{2ndCos}(X, Y) = \\frac{1}{n} \\sum_{i=1}^n
            \\cos\\big(s^X_i, s^Y_i\\big), \\qquad
            s^X_i = \\big(\\cos(x_i, x_j)\\big)_{j \\in U_i}.

    In [-1, 1]; 1 for representations with the same cosine similarities.

    Parameters
    ----------
    k : int, default=10
        Neighbours per stimulus (ReSi's default); needs at least ``k + 2`` stimuli.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation (module notes: float32 error <= 1e-5 tested).

    Notes
    -----
    Hamilton, Leskovec & Jurafsky (2016) compare vectors of cosine
    *similarities*, as here. ReSi's code (``second_order_cosine_similarity``,
    commit 24ab9e5) compares vectors of cosine *distances* ``1 - cos``
    instead, which gives other values (0.82 against 0.77 here in the family
    tests). A stimulus whose similarity vector is 0 in X or Y (all of
    ``U_i`` orthogonal to it) has no cosine; it counts as 0 and a
    :class:`~repalign.DegenerateWarning` says how many there were.

    ``prepare`` keeps the n x n similarity matrix, as ``pair`` needs each
    stimulus's similarities to the other representation's neighbours; a pair
    then costs O(n k^2).

    References
    ----------
    Hamilton, Leskovec & Jurafsky (2016). Cultural shift or linguistic drift?
    Comparing two computational measures of semantic change. EMNLP.

    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025).
    ReSi: a comprehensive benchmark for representational similarity measures. ICLR.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((60, 5))
    >>> round(repalign.measure("second_order_cosine", X, 4 * X), 12)
    1.0
    """

    name = "second_order_cosine"
    references = (
        "Hamilton, Leskovec & Jurafsky (2016). Cultural shift or linguistic drift? "
        "Comparing two computational measures of semantic change. EMNLP.",
        RESI,
    )
    cost = "prepare O(n^2 d), pair O(n k^2); n^2 memory per prepared representation"

    @property
    def bounds(self):
        return (-1.0, 1.0)

    def _state(self, S, idx, xp):
        return {"neighbors": idx, "similarities": S}

    def _pair(self, a: Prepared, b: Prepared, xp):
        ia, ib = a.data["neighbors"], b.data["neighbors"]
        Sa, Sb = a.data["similarities"], b.data["similarities"]
        # U_i = N^X(i), then the neighbours of i in Y that are not in N^X(i).
        new = 1 - xp.astype(xp.any(_matches(a.data, b.data), axis=1), a.dtype)
        xa, ya = xp.take_along_axis(Sa, ia, axis=1), xp.take_along_axis(Sb, ia, axis=1)
        xb = xp.take_along_axis(Sa, ib, axis=1) * new
        yb = xp.take_along_axis(Sb, ib, axis=1) * new
        dot = xp.sum(xa * ya, axis=1) + xp.sum(xb * yb, axis=1)
        norms = xp.sqrt((xp.sum(xa * xa, axis=1) + xp.sum(xb * xb, axis=1))
                        * (xp.sum(ya * ya, axis=1) + xp.sum(yb * yb, axis=1)))
        zero = norms == 0
        if bool(xp.any(zero)):
            warnings.warn(
                f"second_order_cosine: {int(xp.sum(xp.astype(zero, xp.int64)))} stimuli "
                "are orthogonal to all their neighbours in X or in Y, so their "
                "similarity vector is 0 and has no cosine; they count as 0",
                DegenerateWarning, stacklevel=3,
            )
        cosine = dot / xp.where(zero, xp.ones_like(norms), norms)
        return xp.mean(cosine)


def _cknna_hsic(a: dict, b: dict, xp):
    """platonic-rep's unbiased HSIC of the kernels masked to the shared neighbours.

    With ``M_ij = 1[j in N^X(i) and j in N^Y(i)]``, ``P = K o M`` and
    ``Q = L o M`` (K, L the cosine Grams of the states ``a`` and ``b``; both
    have a zero diagonal) it is Song et al.'s (2012) Eq. 5 as platonic-rep's
    ``hsic_unbiased(P, Q)`` evaluates it on these non-symmetric matrices:

    ``[tr(P Q) + 1'P1 1'Q1 / ((n-1)(n-2)) - 2 1'P Q1 / (n-2)] / (n(n-3))``.

    P and Q are held at a's neighbour positions (n x k): no n x n matrix is formed.
    """
    na, Ka = a["neighbors"], a["kernel"]
    n, dtype = na.shape[0], Ka.dtype
    match = _matches(a, b)
    shared = xp.any(match, axis=2)                      # j = na[i, p] is in both lists
    P = Ka * xp.astype(shared, dtype)
    Q = xp.sum(xp.astype(match, dtype) * b["kernel"][:, None, :], axis=2)  # L_ij or 0
    # tr(P Q) = sum_ij P_ij Q_ji, and Q_ji = L_ij when i is a shared neighbour of j.
    me = xp.arange(n, dtype=na.dtype, device=device(na))[:, None, None]
    back = (_gather_rows(na, na, xp) == me) & _gather_rows(shared, na, xp)
    trace = xp.sum(P * Q * xp.astype(xp.any(back, axis=2), dtype))
    # 1'P Q 1 = sum_ij P_ij (Q 1)_j.
    cross = xp.sum(P * _gather_rows(xp.sum(Q, axis=1), na, xp))
    return (trace + xp.sum(P) * xp.sum(Q) / ((n - 1) * (n - 2))
            - 2 * cross / (n - 2)) / (n * (n - 3))


@register
@dataclass(frozen=True)
class CKNNA(_NeighborMeasure):
    """Centered kernel nearest-neighbour alignment (Huh et al. 2024).

    CKA restricted to pairs of stimuli that are neighbours in both
    representations. With the cosine Grams ``K`` of X and ``L`` of Y and the
    mask ``M_ij = 1[j \\ne i, j \\in N_k^X(i), j \\in N_k^Y(i)]``:

    .. math::

        \\mathrm{CKNNA}(X, Y) = \\frac{\\mathrm{HSIC}_1(K \\circ M, L \\circ M)}
            {\\sqrt{\\mathrm{HSIC}_1(K \\circ M^X, K \\circ M^X)\\,
                    \\mathrm{HSIC}_1(L \\circ M^Y, L \\circ M^Y)}},

    ``M^X`` being the neighbour mask of X alone and ``HSIC_1`` the unbiased
    estimator of Song et al. (2012), Eq. 5.

    Parameters
    ----------
    k : int, default=10
        Neighbours per stimulus, ``k >= 2`` (platonic-rep's ``topk``);
        needs at least ``k + 2`` stimuli.
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation (module notes: float32 error <= 1e-5 tested).

    Notes
    -----
    Follows platonic-rep's ``AlignmentMetrics.cknna(A, B, topk=k)`` at its
    other defaults (``unbiased=True``, ``distance_agnostic=False``) on
    L2-normalised rows, with three differences:

    - Default ``k``. platonic-rep's default ``topk=None`` crashes
      (``None < 2`` raises ``TypeError`` before it would be replaced by
      ``n - 1``); ``n - 1`` would make every pair a neighbour pair and the
      measure unbiased CKA on cosine Grams. Its alignment script passes
      ``topk=10`` to every ``*knn*`` metric, cknna included; that is the default here.
    - No ``+ 1e-6`` in the denominator, which platonic-rep adds: the masked
      HSICs are small (about 0.06 at n = 40, k = 10), so it lowers the value
      by about 2e-5 relative, and ``cknna(X, X)`` would not be 1.
    - ``unbiased=False`` (the biased HSIC, with each stimulus its own
      neighbour) and ``distance_agnostic=True`` (which returns an n x n
      matrix and fails in ``.item()``) are not offered.

    Song's estimator assumes symmetric kernels; ``K o M`` is not symmetric,
    and the term ``1'(K o M)(L o M)1`` makes the value depend on the order
    of X and Y, as in platonic-rep. The value is not bounded by 1 (numerator
    and denominator use different masks).

    References
    ----------
    Huh, Cheung, Wang & Isola (2024). The platonic representation hypothesis. ICML.

    Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via
    dependence maximization. JMLR 13, 1393-1434.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((60, 5))
    >>> round(repalign.measure("cknna", X, 2 * X), 12)
    1.0
    """

    name = "cknna"
    references = (
        _HUH,
        "Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via "
        "dependence maximization. JMLR 13.",
    )
    _constraints = {"k": Interval(2, None, integer=True)}

    @property
    def symmetric(self) -> bool:
        return False

    @property
    def bounds(self):
        return (-np.inf, np.inf)

    def _state(self, S, idx, xp):
        state = {"neighbors": idx,
                 "kernel": xp.take_along_axis(S, idx, axis=1)}
        self_hsic = float(_cknna_hsic(state, state, xp))
        if not self_hsic > 0:
            raise ValueError(
                f"X: the unbiased HSIC of its {self.k}-nearest-neighbour kernel with "
                f"itself is {self_hsic:.3g}, not positive, so CKNNA is undefined; "
                "try a larger k"
            )
        state["norm"] = self_hsic ** 0.5
        return state

    def _pair(self, a: Prepared, b: Prepared, xp):
        return _cknna_hsic(a.data, b.data, xp) / (a.data["norm"] * b.data["norm"])
