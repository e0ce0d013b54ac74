"""Measures on more stimuli than fit in memory: streamed moments and minibatch CKA.

Linear CKA, CCA, ENSD and the shape metrics (Procrustes, NBS, Bures) depend on two
representations only through their column means and their three feature x
feature products ``X^T X``, ``Y^T Y`` and ``X^T Y``. :class:`CrossMoments`
accumulates these over stimulus chunks read in step from both arrays, so memory
is O((d_x + d_y)^2 + chunk rows x (d_x + d_y)), independent of the number of
stimuli; :func:`streaming_measure` is the one-line entry point. Inputs are
anything chunked along the stimuli: an ``(store, model, layer)`` reference to an
:class:`~repalign.ActivationStore`, a Zarr or Dask array, a NumPy memmap, or an
in-memory array.

:func:`minibatch_cka` is the minibatch estimator of Nguyen, Raghu & Kornblith
(2021), which needs only batch x batch Gram matrices and so also runs where
the n x n matrices of full CKA would not fit.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import array_api_compat
import numpy as np

from ._array_api import to_numpy
from ._memory import check_square_memory
from .exceptions import DegenerateWarning
from .measures import get
from .measures._kernels import flat_dot, u_center

__all__ = ["CrossMoments", "streaming_measure", "minibatch_cka"]

#: Default float64 working memory of one block of both representations.
_BLOCK_BYTES = 128 * 2**20


# --------------------------------------------------------------------------------------
# Reading two arrays in step
# --------------------------------------------------------------------------------------


def _source(ref: Any, name: str):
    """The row-sliceable array behind ``ref`` (an array or ``(store, model, layer)``)."""
    if isinstance(ref, tuple):
        if len(ref) != 3:
            raise ValueError(
                f"{name}: a store reference must be (store, model, layer); got a tuple of "
                f"{len(ref)} items"
            )
        store, model, layer = ref
        from .store.activations import ActivationStore

        if not isinstance(store, ActivationStore):
            store = ActivationStore(store)
        return store.read_lazy(model, layer)
    if not (hasattr(ref, "shape") and hasattr(ref, "__getitem__")):
        raise TypeError(
            f"{name} must be an array (NumPy, memmap, Zarr, Dask, torch, ...) or a "
            f"(store, model, layer) reference; got {type(ref).__name__}"
        )
    if len(ref.shape) != 2:
        raise ValueError(
            f"{name} must be 2-D, of shape (n_stimuli, n_features); got shape {tuple(ref.shape)}"
        )
    return ref


def _chunk_rows(src) -> int | None:
    """Rows per storage chunk of a Zarr or Dask array, None for other arrays."""
    chunks = getattr(src, "chunks", None)
    if not chunks:
        return None
    first = chunks[0]
    return int(first[0]) if isinstance(first, tuple) else int(first)


def _block_rows(sources, chunk_size: int | None) -> int:
    """Rows per block read: ``chunk_size``, or about 128 MiB of float64, chunk-aligned."""
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
            raise TypeError(f"chunk_size must be an int or None; got {type(chunk_size).__name__}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1; got {chunk_size}")
        return int(chunk_size)
    width = sum(int(s.shape[1]) for s in sources)
    rows = max(1, _BLOCK_BYTES // (8 * width))
    align = 1
    for s in sources:
        c = _chunk_rows(s)
        if c:
            align = math.lcm(align, c)
    return max(align, rows // align * align) if align <= rows else rows


def _read(src, start: int, stop: int, name: str) -> np.ndarray:
    """Rows ``start:stop`` of ``src`` as a finite NumPy array on the host."""
    block = src[start:stop]
    if array_api_compat.is_dask_array(block):
        block = block.compute()
    elif array_api_compat.is_array_api_obj(block) and not isinstance(block, np.ndarray):
        block = to_numpy(block)
    block = np.asarray(block)
    if block.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers; got dtype {block.dtype}")
    if not np.isfinite(block).all():
        raise ValueError(f"{name} has NaN or infinite values in rows {start}..{stop - 1}")
    return block


def _pair_sources(A, B, names=("A", "B")):
    a, b = _source(A, names[0]), _source(B, names[1])
    if int(a.shape[0]) != int(b.shape[0]):
        raise ValueError(
            f"{names[0]} has {a.shape[0]} stimuli but {names[1]} has {b.shape[0]}; rows "
            f"must be the same stimuli in the same order"
        )
    return a, b


def _blocks(a, b, rows: int, names=("A", "B")):
    """Yield ``(X_block, Y_block)`` of ``rows`` stimuli, reading the next block ahead.

    One background thread reads (and decompresses) block i+1 while block i is
    being used, so disk and CPU work overlap; at most two blocks are in memory.
    """
    n = int(a.shape[0])
    bounds = [(s, min(s + rows, n)) for s in range(0, n, rows)]

    def read(bound):
        start, stop = bound
        return _read(a, start, stop, names[0]), _read(b, start, stop, names[1])

    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(read, bounds[0]) if bounds else None
        for i in range(len(bounds)):
            block = future.result()
            future = pool.submit(read, bounds[i + 1]) if i + 1 < len(bounds) else None
            yield block


# --------------------------------------------------------------------------------------
# Streamed moments and the measures computed from them
# --------------------------------------------------------------------------------------


def _streamable(name: str, params: dict):
    """The configured measure ``name``, if it can be computed from streamed moments."""
    if params.get("dtype") is not None:
        raise ValueError(
            f"dtype={params['dtype']!r} is not supported when streaming: the moments are "
            f"always accumulated in float64, whatever the stored dtype; leave dtype out"
        )
    m = get(name, **params)
    if not m.capabilities.streaming:
        raise ValueError(
            f"{m.name} with {m.params} cannot be streamed (computed from moments); streamable "
            f"are the measures whose capabilities declare streaming ({', '.join(_streaming())})"
            "; others need all stimuli at once: subsample, or use repalign.minibatch_cka"
        )
    return m


def _streaming() -> list[str]:
    """The registered measures streamable at their default parameters."""
    from .measures import list_measures

    return [info.name for info in list_measures() if get(info.name).capabilities.streaming]


class CrossMoments:
    """Column sums and feature products of two representations, accumulated by chunks.

    After :meth:`update` has seen every stimulus, the centred products are

    .. math::

        X_c^T Y_c = \\sum_i (x_i - s)(y_i - t)^T - n\\, m_x m_y^T ,

    with ``s``, ``t`` the means of the first chunk (a fixed shift, subtracted
    from every row before the float64 products, so that removing the mean at
    the end cancels little) and ``m_x``, ``m_y`` the means of the shifted rows.
    With ``row_norms=True`` it also accumulates the sums over stimuli of the
    squared row norms ``r_i = ||x_i - s||^2`` and of their products with the rows
    and with each other, which the unbiased HSIC needs.

    Parameters
    ----------
    n_features_x, n_features_y : int
    row_norms : bool, default=False
        Also accumulate the row-norm moments (for ``cka`` with
        ``estimator="unbiased"``); costs O(chunk (d_x + d_y)) more per chunk.

    Attributes
    ----------
    n_stimuli : int
        Stimuli seen so far.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((1000, 8)), rng.standard_normal((1000, 5))
    >>> m = CrossMoments.from_arrays(X, Y, chunk_size=300)
    >>> m.n_stimuli
    1000
    >>> import repalign
    >>> bool(abs(m.measure("cka") - repalign.measure("cka", X, Y)) < 1e-12)
    True
    """

    def __init__(self, n_features_x: int, n_features_y: int, *, row_norms: bool = False):
        self.n_stimuli = 0
        self.row_norms = bool(row_norms)
        dx, dy = int(n_features_x), int(n_features_y)
        self._shift = None
        self._sum = [np.zeros(dx), np.zeros(dy)]
        self._xx, self._yy, self._xy = np.zeros((dx, dx)), np.zeros((dy, dy)), np.zeros((dx, dy))
        if self.row_norms:
            # [sum r_x, sum r_y], [[sum r_x r_x, sum r_x r_y], [., sum r_y r_y]],
            # [[sum r_x x_i, sum r_y x_i], [sum r_x y_i, sum r_y y_i]]
            self._r = np.zeros(2)
            self._rr = np.zeros((2, 2))
            self._vx = np.zeros((2, dx))
            self._vy = np.zeros((2, dy))

    @classmethod
    def from_arrays(cls, A, B, *, chunk_size: int | None = None,
                    row_norms: bool = False) -> CrossMoments:
        """Accumulate the moments of two arrays, read in step by blocks of stimuli.

        Parameters
        ----------
        A, B : array of shape (n_stimuli, d) or (store, model, layer)
            The two representations: NumPy (memmaps included), Zarr, Dask or
            torch arrays, or references to arrays of an ActivationStore (a store
            or its path, a model and a layer name).
        chunk_size : int, optional
            Stimuli per block. By default about 128 MiB of float64 for both
            blocks together, rounded to whole storage chunks.
        row_norms : bool, default=False
            See the class.

        Returns
        -------
        CrossMoments
        """
        a, b = _pair_sources(A, B)
        rows = _block_rows((a, b), chunk_size)
        moments = cls(a.shape[1], b.shape[1], row_norms=row_norms)
        for X, Y in _blocks(a, b, rows):
            moments.update(X, Y)
        return moments

    def update(self, X, Y) -> None:
        """Add a chunk of stimuli: rows of ``X`` and ``Y`` are the same stimuli.

        Parameters
        ----------
        X : array of shape (m, n_features_x)
        Y : array of shape (m, n_features_y)
        """
        X, Y = np.asarray(X), np.asarray(Y)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; give the same "
                             f"stimuli in both")
        if X.shape[1] != self._xx.shape[0] or Y.shape[1] != self._yy.shape[0]:
            raise ValueError(
                f"expected chunks with {self._xx.shape[0]} and {self._yy.shape[0]} features; "
                f"got {X.shape[1]} and {Y.shape[1]}"
            )
        if not X.shape[0]:
            return
        if self._shift is None:
            self._shift = (X.mean(axis=0, dtype=np.float64), Y.mean(axis=0, dtype=np.float64))
        # One float64 copy per block (the input is never modified).
        Xs = np.subtract(X, self._shift[0], dtype=np.float64)
        Ys = np.subtract(Y, self._shift[1], dtype=np.float64)
        self.n_stimuli += X.shape[0]
        self._sum[0] += Xs.sum(axis=0)
        self._sum[1] += Ys.sum(axis=0)
        self._xx += Xs.T @ Xs
        self._yy += Ys.T @ Ys
        self._xy += Xs.T @ Ys
        if self.row_norms:
            r = np.stack([np.einsum("ij,ij->i", Xs, Xs), np.einsum("ij,ij->i", Ys, Ys)])
            self._r += r.sum(axis=1)
            self._rr += r @ r.T
            self._vx += r @ Xs
            self._vy += r @ Ys

    # ------------------------------------------------------------------ centred moments
    def _means(self):
        return self._sum[0] / self.n_stimuli, self._sum[1] / self.n_stimuli

    def covariances(self):
        """The centred products (scatter matrices, not divided by n).

        Returns
        -------
        Cxx : ndarray of shape (d_x, d_x)
            ``X_c^T X_c``.
        Cyy : ndarray of shape (d_y, d_y)
        Cxy : ndarray of shape (d_x, d_y)
            ``X_c^T Y_c``.
        """
        if self.n_stimuli < 1:
            raise ValueError("no stimuli were added; call update() with data first")
        n = self.n_stimuli
        mx, my = self._means()
        return (self._xx - n * np.outer(mx, mx), self._yy - n * np.outer(my, my),
                self._xy - n * np.outer(mx, my))

    def centred_row_norm_product(self, i: int, j: int) -> float:
        """``sum_k rc_i[k] rc_j[k]`` of the centred squared row norms (0: X, 1: Y).

        With ``rc_k = r_k - 2 a_k.m_a + |m_a|^2`` (``a_k`` a shifted row, ``m_a``
        the mean of the shifted rows), expanded into the accumulated sums; the
        unbiased CKA needs it.

        Raises
        ------
        ValueError
            If the moments were accumulated without ``row_norms=True``.
        """
        if not self.row_norms:
            raise ValueError("the squared row norms were not accumulated: create the "
                             "moments with row_norms=True (cka with estimator='unbiased' "
                             "needs them)")
        n = self.n_stimuli
        means = self._means()
        prods = {(0, 0): self._xx, (1, 1): self._yy, (0, 1): self._xy}
        ma, mb = means[i], means[j]
        a2, b2 = ma @ ma, mb @ mb
        v = (self._vx, self._vy)
        G = prods[(i, j)] if i <= j else prods[(j, i)].T
        return float(self._rr[i, j] - 2 * mb @ v[j][i] - 2 * ma @ v[i][j] + 4 * ma @ G @ mb
                     + b2 * self._r[i] + a2 * self._r[j] - 3 * n * a2 * b2)

    # ------------------------------------------------------------------ measures
    def measure(self, name: str, **params: Any) -> float:
        """The value of a streamable measure on the stimuli seen so far.

        Equals ``repalign.measure(name, X, Y, **params)`` on the whole arrays
        (to about 1e-12 in float64 for well-conditioned data; see the Notes of
        :func:`streaming_measure`).

        Parameters
        ----------
        name : str
            A measure whose capabilities declare ``streaming`` (``cka`` with the
            linear kernel, ``cca``, ``ensd`` and the shape family).
        **params
            The measure's parameters.

        Returns
        -------
        float
        """
        return _streamable(name, params).from_moments(self)


def streaming_measure(name: str, A, B, *, chunk_size: int | None = None, **params: Any) -> float:
    """A linear measure between two representations read in chunks of stimuli.

    Memory is bounded by the feature dimensions, O((d_x + d_y)^2) plus one
    block of stimuli, whatever the number of stimuli: 1,000,000 stimuli x 1024
    features (4 GB of float32 on disk) stream in well under 1 GB.

    Parameters
    ----------
    name : str
        A measure whose capabilities declare ``streaming``: ``cka`` with the
        linear kernel (biased or unbiased estimator), ``cca`` (``statistic``
        "mean_r" or "mean_r2"), ``ensd`` and the shape family (``procrustes``,
        ``nbs``, ``bures``, ``shape_metric``).
    A, B : array of shape (n_stimuli, d) or (store, model, layer)
        NumPy arrays and memmaps, Zarr, Dask or torch arrays, or references to
        arrays of an :class:`~repalign.ActivationStore` (the store or its path,
        a model and a layer). Rows are the same stimuli in the same order.
    chunk_size : int, optional
        Stimuli per block read; by default about 128 MiB of float64 for the two
        blocks, rounded to whole storage chunks.
    **params
        The measure's parameters, as for :func:`repalign.measure`.

    Returns
    -------
    float
        Equal to ``repalign.measure(name, A, B, **params)`` on the whole arrays.

    Notes
    -----
    One pass accumulates, in float64, the column sums and ``X^T X``, ``Y^T Y``
    and ``X^T Y`` of the rows minus the first block's means
    (:class:`CrossMoments`); the centred products follow as
    ``X_c^T Y_c = X^T Y - n m_x m_y^T``. Then

    - linear CKA: ``||X_c^T Y_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)``; the
      unbiased estimator (Song et al. 2012) also needs the squared row norms,
      whose sums and products with the rows are streamed too (O(d) more);
    - CCA: the singular values of ``W_x^T X_c^T Y_c W_y`` with
      ``W = V Lambda^{-1/2}`` from the eigendecomposition of ``X_c^T X_c``;
    - Procrustes / NBS / Bures: the nuclear norm of ``X_c^T Y_c`` and the traces of
      ``X_c^T X_c`` and ``Y_c^T Y_c``; ``shape_metric`` with ``alpha < 1``
      partially whitens through the same eigendecomposition.

    **Conditioning.** CKA and the shape family use products only and agree
    with the in-memory values to about 1e-12. CCA and whitened shape metrics
    work with ``X_c^T X_c``, whose condition number is the square of that of
    ``X_c``: a canonical correlation carries a relative error of about
    ``eps kappa(X_c)^2`` (in memory, from the SVD of ``X_c``: ``eps kappa``), and
    directions with eigenvalues below 1e-10 of the largest (singular values
    below 1e-5 of the largest) are dropped as rank deficiency, where the
    in-memory SVD resolves down to ``S_max max(n, d) eps``. The two agree to
    about 1e-10 when ``kappa(X_c) < 1e3`` and both see full rank; for
    ill-conditioned layers, reduce them first (e.g. PCA) or compare in memory.

    References
    ----------
    Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
    representations revisited. ICML.

    Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via
    dependence maximization. JMLR 13.

    Williams, Kunz, Kornblith & Linderman (2021). Generalized shape metrics on
    neural representations. NeurIPS.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((5000, 20))
    >>> Y = np.tanh(X @ rng.standard_normal((20, 30)))
    >>> value = repalign.streaming_measure("cka", X, Y, chunk_size=1000)
    >>> bool(abs(value - repalign.measure("cka", X, Y)) < 1e-12)
    True
    """
    m = _streamable(name, params)
    # The row-norm moments cost O(chunk d) besides the O(chunk d^2) products.
    moments = CrossMoments.from_arrays(A, B, chunk_size=chunk_size, row_norms=True)
    try:
        return m.from_moments(moments)
    except ValueError as err:  # the measures name the two representations X and Y
        message = str(err)
        if message[:2] in ("X ", "Y "):
            raise ValueError({"X": "A", "Y": "B"}[message[0]] + message[1:]) from None
        raise


# --------------------------------------------------------------------------------------
# Minibatch CKA
# --------------------------------------------------------------------------------------


def _batches(a, b, rows: int, batch_size: int, rng, names):
    """Yield aligned batches; stimuli are shuffled within each block when ``rng`` is set.

    Batch boundaries are at multiples of ``batch_size`` over the (shuffled)
    stream of stimuli, the last batch taking the remainder (sizes
    ``batch_size`` to ``2 batch_size - 1``; a single batch if n < 2 batch_size).
    """
    n = int(a.shape[0])
    n_batches = max(1, n // batch_size)
    sizes = [batch_size] * (n_batches - 1) + [n - batch_size * (n_batches - 1)]
    carry, k = None, 0
    for X, Y in _blocks(a, b, rows, names):
        if rng is not None:
            perm = rng.permutation(X.shape[0])
            X, Y = X[perm], Y[perm]
        if carry is not None:
            X, Y = np.concatenate([carry[0], X]), np.concatenate([carry[1], Y])
        start = 0
        while k < len(sizes) and X.shape[0] - start >= sizes[k]:
            yield X[start:start + sizes[k]], Y[start:start + sizes[k]]
            start += sizes[k]
            k += 1
        carry = (X[start:], Y[start:])


def _batch_hsic(X, Y):
    """Unbiased HSIC_1 of the linear kernels of one batch: (K,L), (K,K), (L,L)."""
    b = X.shape[0]
    K = u_center(X @ X.T, np)
    L = u_center(Y @ Y.T, np)
    scale = b * (b - 3)
    return (flat_dot(K, L, np) / scale, flat_dot(K, K, np) / scale, flat_dot(L, L, np) / scale)


def minibatch_cka(A, B, *, batch_size: int = 1024, n_epochs: int = 1, seed: int | None = 0,
                  chunk_size: int | None = None) -> float:
    """Minibatch linear CKA (Nguyen, Raghu & Kornblith 2021), streamed.

    .. math::

        \\mathrm{CKA}_{\\mathrm{mb}} = \\frac{\\frac1k \\sum_{i=1}^k \\mathrm{HSIC}_1(K_i, L_i)}
            {\\sqrt{\\frac1k \\sum_i \\mathrm{HSIC}_1(K_i, K_i)\\;
                    \\frac1k \\sum_i \\mathrm{HSIC}_1(L_i, L_i)}}

    over k minibatches of stimuli, ``K_i = X_i X_i^T`` and ``L_i = Y_i Y_i^T``
    the linear Gram matrices of batch i and ``HSIC_1`` the unbiased estimator of
    Song et al. (2012). Since each ``HSIC_1`` is unbiased, numerator and
    denominator average to the population HSICs whatever the batch size, and
    the estimate converges to the population linear CKA as the number of
    batches grows; memory is one batch x batch Gram per representation.

    Parameters
    ----------
    A, B : array of shape (n_stimuli, d) or (store, model, layer)
        As for :func:`streaming_measure`.
    batch_size : int, default=1024
        Stimuli per minibatch (at least 4). The last batch of each pass takes
        the remainder (up to ``2 batch_size - 1`` stimuli); with
        ``batch_size >= n_stimuli`` there is one batch and the value is the
        full-data unbiased CKA, ``repalign.measure("cka", A, B, estimator="unbiased")``.
    n_epochs : int, default=1
        Passes over the data, each with a new shuffle; all batches are averaged.
    seed : int or None, default=0
        Seed of the shuffle. Stimuli are shuffled within each block of
        ``chunk_size`` stimuli read (a whole-array shuffle would read a store at
        random); data that fit in one block are shuffled globally. None keeps
        the stored order (batches of consecutive stimuli).
    chunk_size : int, optional
        Stimuli per block read (see :func:`streaming_measure`), at least ``batch_size``.

    Returns
    -------
    float

    Notes
    -----
    A batch costs O(b^2 (d_x + d_y)) and b^2 memory; the whole estimate
    O(n b (d_x + d_y)) per epoch. Only the linear kernel is implemented.

    References
    ----------
    Nguyen, Raghu & Kornblith (2021). Do wide and deep networks learn the same
    things? Uncovering how neural network representations vary with width and
    depth. ICLR.

    Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via
    dependence maximization. JMLR 13.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 10))
    >>> Y = X @ rng.standard_normal((10, 6))
    >>> exact = repalign.measure("cka", X, Y, estimator="unbiased")
    >>> bool(abs(repalign.minibatch_cka(X, Y, batch_size=400) - exact) < 1e-12)
    True
    """
    for label, value, low in (("batch_size", batch_size, 4), ("n_epochs", n_epochs, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{label} must be an int; got {type(value).__name__} {value!r}")
        if value < low:
            raise ValueError(f"{label} must be at least {low}; got {value}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__} {seed!r}")
    a, b = _pair_sources(A, B)
    n = int(a.shape[0])
    if n < 4:
        raise ValueError(f"minibatch_cka needs at least 4 stimuli; got {n}")
    batch_size = min(int(batch_size), n)
    check_square_memory("minibatch_cka", min(2 * batch_size - 1, n), 4.0, 8)
    rows = max(_block_rows((a, b), chunk_size), batch_size)
    if n_epochs > 1 and seed is None:
        warnings.warn("n_epochs > 1 with seed=None repeats the same batches; the value is "
                      "that of one epoch. Give a seed to reshuffle each epoch.",
                      DegenerateWarning, stacklevel=2)
    rng = None if seed is None else np.random.default_rng(seed)
    sums = np.zeros(3)
    k = 0
    for _ in range(n_epochs):
        for X, Y in _batches(a, b, rows, batch_size, rng, ("A", "B")):
            sums += _batch_hsic(np.asarray(X, np.float64), np.asarray(Y, np.float64))
            k += 1
    hsic_kl, hsic_kk, hsic_ll = sums / k
    for label, h in (("A", hsic_kk), ("B", hsic_ll)):
        if not h > 0:
            raise ValueError(f"{label} has a non-positive mean unbiased self-HSIC over the "
                             f"minibatches (constant, or batches too small); CKA is undefined")
    return float(hsic_kl / math.sqrt(hsic_kk * hsic_ll))

