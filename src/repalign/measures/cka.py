"""Centered kernel alignment (CKA)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import array_api_compat
import numpy as np

from .._array_api import namespace_and_device, to_numpy
from .._validation import Interval, Options, check_pair
from ..exceptions import DegenerateWarning
from ._base import Capabilities, Measure, Prepared
from ._blocks import chunk_bounds, matmul_into, row_stack
from ._grad import scalar
from ._kernels import (
    center_columns,
    double_center,
    flat_dot,
    frobenius_inner,
    median_above_diagonal,
    rbf_kernel,
    squared_distances,
    u_center,
)
from .registry import register

__all__ = ["CKA"]

#: Largest side of a piece of the Grams in :meth:`CKA.pair_block`: pieces of at
#: most 1024 x 1024 keep the stacks small (measured 20% faster than one n x n
#: piece at n=2000, L=20, where the stack product is bound by memory traffic).
_PIECE = 1024


@register
@dataclass(frozen=True)
class CKA(Measure):
    """Centered kernel alignment (Kornblith et al. 2019).

    .. math::

        \\mathrm{CKA}(K, L) = \\frac{\\mathrm{HSIC}(K, L)}
            {\\sqrt{\\mathrm{HSIC}(K, K)\\,\\mathrm{HSIC}(L, L)}}

    with Gram matrices ``K`` of ``X`` and ``L`` of ``Y`` over the stimuli.

    Parameters
    ----------
    kernel : {"linear", "rbf"}, default="linear"
        ``"linear"``: ``K = X X^T``. ``"rbf"``:
        ``K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))``.
    sigma_frac : float, default=0.8
        RBF width as a fraction of the median Euclidean distance between
        distinct stimuli, ``sigma = sigma_frac * median_{i<j} ||x_i - x_j||``
        (Kornblith et al. 2019 use 0.2 to 0.8 of the median). Ignored by the
        linear kernel. Kornblith's reference code takes the median of squared
        distances including the n zero self-distances; we take distinct pairs.
    estimator : {"biased", "unbiased"}, default="biased"
        ``"biased"``: the HSIC of Gretton et al. (2005),
        ``HSIC = tr(K H L H) / (n-1)^2`` with ``H = I - 11^T/n``.
        ``"unbiased"``: the U-statistic of Song et al. (2012),

        .. math::

            \\mathrm{HSIC}_1 = \\frac{1}{n(n-3)}\\Big[\\mathrm{tr}(\\tilde K \\tilde L)
              + \\frac{1^T \\tilde K 1 \\; 1^T \\tilde L 1}{(n-1)(n-2)}
              - \\frac{2}{n-2} 1^T \\tilde K \\tilde L 1\\Big],

        ``K~`` being ``K`` with a zeroed diagonal; it needs n >= 4 and removes
        the upward bias of CKA at small n or many features (values can be < 0).
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation: None keeps the input's; ``"float32"``
        casts each representation at ``prepare`` (Grams and cross products then
        run at the float32 GEMM rate, about 1.4-2x faster on the CPU). Measured
        relative error against float64 (n=300-2000, d=40-256, Gaussian data,
        also with a spectrum decaying over three decades): linear, both
        estimators, <= 2e-7; RBF <= 9e-6 (the distances ``|x_i|^2 + |x_j|^2 -
        2 x_i.x_j`` lose float32 digits to cancellation). Tested <= 1e-5.

    Notes
    -----
    Linear CKA with fewer features than stimuli never forms an n x n matrix:
    ``prepare`` centres the features and ``pair`` computes
    ``||X_c^T Y_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)`` in O(n d_x d_y).
    With the biased estimator the norm ``||X_c^T X_c||_F`` (O(n d^2)) is
    computed at a state's first pairing and kept in the state; a grid reads it
    off the diagonal of its block of pairs instead, so preparing is O(n d).
    With at least as many features as stimuli it stores the centred (biased)
    or U-centred (unbiased) Gram matrix, and a pair costs O(n^2).

    References
    ----------
    Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
    representations revisited. ICML.

    Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via
    dependence maximization. JMLR 13, 1393-1434.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10))
    >>> Q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    >>> round(repalign.measure("cka", X, 3 * X @ Q + 1), 12)
    1.0
    """

    kernel: str = "linear"
    sigma_frac: float = 0.8
    estimator: str = "biased"
    name = "cka"
    kind = "similarity"
    references = (
        "Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network "
        "representations revisited. ICML.",
        "Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via "
        "dependence maximization. JMLR 13.",
    )
    cost = ("linear: prepare O(n d^2) (biased, d < n: O(n d), the norm at the first pair), "
            "pair O(n d_x d_y) (d < n) or O(n^2); rbf: O(n^2 d), O(n^2)")
    _constraints = {
        "kernel": Options("linear", "rbf"),
        "sigma_frac": Interval(0, None, closed="neither"),
        "estimator": Options("biased", "unbiased"),
    }
    _stimulus_axes = {"features": (0,), "sq_norms": (0,), "gram": (0, 1)}

    @property
    def capabilities(self) -> Capabilities:
        """Index permutation, batched blocks, gradients; streaming with the linear kernel."""
        return Capabilities(permutation=True, batched_pairs=True,
                            streaming=self.kernel == "linear", differentiable=True)

    @property
    def min_stimuli(self) -> int:
        return 4 if self.estimator == "unbiased" else 3

    def _square_arrays(self, n: int, d: int) -> float:
        if self.kernel == "linear" and d < n:
            return 0.0  # feature form: no n x n matrix
        return 2.0

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "translation", "permutation")

    @property
    def bounds(self):
        return (-1.0, 1.0) if self.estimator == "unbiased" else (0.0, 1.0)

    def _prepare(self, X, xp):
        n, d = X.shape
        if self.kernel == "linear":
            Xc = center_columns(X, xp)
            if d < n:
                data = {"features": Xc}
                if self.estimator == "unbiased":
                    data["sq_norms"] = xp.sum(Xc * Xc, axis=1)
            else:
                data = {"gram": self._center(Xc @ Xc.T, xp)}
        else:
            D2 = squared_distances(X, xp)
            # Selection of the middle distance(s) (sqrt is increasing), not a sort.
            med = scalar(median_above_diagonal(D2, xp, transform=xp.sqrt))
            if med == 0.0:
                raise ValueError(
                    "X: the median distance between stimuli is 0 (most stimuli are "
                    "identical), so the RBF width sigma_frac * median is 0; "
                    "use kernel='linear' or remove duplicate stimuli"
                )
            K = rbf_kernel(D2, self.sigma_frac * med, xp)
            data = {"gram": self._center(K, xp)}
        if self._deferred_norm(data):
            # The self inner product ||X_c^T X_c||_F^2 (an n d^2 SYRK) waits for the
            # first pairing, and a block of pairs of a list with itself reads it off
            # its diagonal for free; only the cheap test of variation is done here.
            if not bool(xp.any(data["features"] != 0)):
                raise ValueError(f"X {self._undefined}; CKA is undefined")
            return data
        data["norm"] = self._norm_from(scalar(self._inner(data, data, n, xp)))
        return data

    def _deferred_norm(self, data) -> bool:
        """Whether the state's norm is computed on first use (biased, feature form)."""
        return self.estimator == "biased" and "features" in data

    @property
    def _undefined(self) -> str:
        return ("does not vary across stimuli" if self.estimator == "biased"
                else "has a non-positive unbiased self-HSIC (too few stimuli?)")

    def _norm_from(self, self_inner: float) -> float:
        """``sqrt(<K_c, K_c>)``, refusing a representation whose CKA is undefined."""
        if not self_inner > 0:
            raise ValueError(f"X {self._undefined}; CKA is undefined")
        return self_inner ** 0.5

    def _norm(self, state: Prepared, xp) -> float:
        """The state's ``sqrt(<K_c, K_c>)``, computed and stored on first use."""
        norm = state.data.get("norm")
        if norm is None:
            norm = self._norm_from(scalar(self._inner(state.data, state.data,
                                                      state.n_stimuli, xp)))
            state.data["norm"] = norm
        return norm

    def permute(self, state: Prepared, perm, X=None) -> Prepared:
        """As :meth:`Measure.permute`; a deferred norm is first computed on ``state``.

        The norm does not depend on the order of the stimuli: computed once on the
        original, it is carried by every permuted copy instead of being recomputed
        by each (a permutation test permutes one state many times).
        """
        self._check_state("permute", "state", state)
        if self._deferred_norm(state.data):
            self._norm(state, namespace_and_device(*state.arrays())[0])
        return super().permute(state, perm, X)

    def _center(self, K, xp):
        return u_center(K, xp) if self.estimator == "unbiased" else double_center(K, xp)

    def _inner(self, a, b, n, xp):
        """Off-diagonal (unbiased) or full (biased) inner product of centred Grams.

        The U-centred and double-centred Grams are orthogonal projections, so
        ``<P(K_a), P(K_b)> = <P(K_a), K_b>``; only two feature-form inputs need
        the explicit correction terms of Song et al. (2012) Eq. 5, with
        ``K~ 1 = -r`` for centred features (``r`` the squared row norms).
        """
        value = frobenius_inner(a, b, xp)
        if self.estimator == "unbiased" and "gram" not in a and "gram" not in b:
            ra, rb = a["sq_norms"], b["sq_norms"]
            rr = xp.sum(ra * rb)
            value = (value - rr + xp.sum(ra) * xp.sum(rb) / ((n - 1) * (n - 2))
                     - 2 * rr / (n - 2))
        return value

    def hsic(self, X, Y):
        """The HSIC estimate CKA normalises: ``HSIC(K, L)`` of this kernel and estimator.

        ``"biased"``: ``tr(K H L H) / (n-1)^2``; ``"unbiased"``: ``HSIC_1`` of
        Song et al. (2012) (see the class docstring). The unbiased estimate is a
        U-statistic of order 4, so its mean over all subsets of ``b >= 4`` of the
        ``n`` stimuli equals its value on all ``n``: a minibatch estimate is
        unbiased for the full-data value (see :mod:`repalign.losses`). The biased
        estimate and CKA itself (a ratio) are not.

        Parameters
        ----------
        X : array of shape (n_stimuli, n_features_x)
        Y : array of shape (n_stimuli, n_features_y)

        Returns
        -------
        float or 0-d tensor
            A 0-d tensor on the autograd graph for torch inputs that require grad.
        """
        X, Y = check_pair(X, Y, min_stimuli=self.min_stimuli, needed_by=self._who())
        xp = namespace_and_device(X, Y)[0]
        # Not through prepare, which rescales X: HSIC has the scale of K and L.
        a, b = (self._prepare(self._cast_input(A, xp), xp) for A in (X, Y))
        n = X.shape[0]
        scale = n * (n - 3) if self.estimator == "unbiased" else (n - 1) ** 2
        return scalar(self._inner(a, b, n, xp) / scale)

    def _pair(self, a: Prepared, b: Prepared, xp):
        n = a.n_stimuli
        if self.estimator == "biased" and min(a.n_features, b.n_features) >= n:
            warnings.warn(
                f"biased CKA with at least as many features ({a.n_features}, "
                f"{b.n_features}) as stimuli ({n}): unrelated representations score "
                "close to 1 in this regime; prefer estimator='unbiased'",
                DegenerateWarning, stacklevel=3,
            )
        return self._inner(a.data, b.data, n, xp) / (self._norm(a, xp) * self._norm(b, xp))

    # ------------------------------------------------------------------ streaming
    def _from_moments(self, moments):
        """Linear CKA from the streamed scatter matrices (float64, NumPy).

        ``<K_a, K_b> = ||C_ab||_F^2`` with ``C_ab = A_c^T B_c``; the unbiased
        estimator adds the correction terms of Song et al. (2012) Eq. 5 for
        centred features (``K~ 1 = -r``), from the streamed traces and the
        centred squared row norms (``moments.centred_row_norm_product``).
        """
        n = moments.n_stimuli
        scatter = dict(zip(((0, 0), (1, 1), (0, 1)), moments.covariances()))
        for label, key in (("X", (0, 0)), ("Y", (1, 1))):
            if not np.trace(scatter[key]) > 0:
                raise ValueError(f"{label} does not vary across stimuli; CKA is undefined")
        inner = {key: flat_dot(C, C, np) for key, C in scatter.items()}
        if self.estimator == "unbiased":
            trace = (np.trace(scatter[0, 0]), np.trace(scatter[1, 1]))
            for i, j in inner:
                rr = moments.centred_row_norm_product(i, j)
                inner[i, j] = (inner[i, j] - rr + trace[i] * trace[j] / ((n - 1) * (n - 2))
                               - 2 * rr / (n - 2))
        for label, key in (("X", (0, 0)), ("Y", (1, 1))):
            if not inner[key] > 0:
                raise ValueError(f"{label} {self._undefined}; CKA is undefined")
        return inner[0, 1] / math.sqrt(inner[0, 0] * inner[1, 1])

    # ------------------------------------------------------------------ blocks of pairs
    def _pair_block(self, states_a, states_b, same, mask, xp, memory):
        """A block of CKA values as matrix products of the stacked states.

        Two routes give the inner products ``<K_a, K_b>`` of the centred
        (biased) or U-centred (unbiased) Grams; the cheaper by FLOP count is taken:

        - features, when every state holds centred features (d < n): one GEMM
          ``C = [X_1 ... X_ka]^T [Y_1 ... Y_kb]`` (2 n D_a D_b flops, D the
          summed feature counts; ``n D_a^2`` for one list) and
          ``<K_a, K_b> = ||X_a^T Y_b||_F^2``, the sum of squares of a block of C
          (the unbiased correction terms from the stored squared row norms);
        - Grams: the stimulus-pair matrix is cut into ``s x s`` pieces
          (``s`` from ``memory``, at most 1024); for each piece on or above the diagonal,
          each state's piece of its centred Gram (``X_c[r] X_c[c]^T``, shifted
          by the U-centring terms ``(r_i + r_j)/(n-2) - sum(r)/((n-1)(n-2))``
          with ``r`` the squared row norms, or read from a stored Gram) is
          flattened into one row of a stack, and one GEMM of the stacks adds
          all the pieces' inner products (twice for pieces off the diagonal):
          ``n^2 d`` flops per state and ``2 n^2 k_a k_b`` for the products.
        """
        n = states_a[0].n_stimuli
        self._warn_block(states_a, states_b, mask, n)
        with_features = [s for s in (states_a if same else states_a + states_b)
                         if "features" in s.data]
        d_a = sum(s.n_features for s in states_a)
        d_b = d_a if same else sum(s.n_features for s in states_b)
        k_a, k_b = len(states_a), len(states_b)
        # One list on both sides: the products are symmetric (SYRK), half a GEMM each.
        half = 1 if same else 2
        gram_flops = n * n * sum(s.n_features for s in with_features) + half * n * n * k_a * k_b
        feature_flops = half * n * d_a * d_b
        if (len(with_features) == (k_a if same else k_a + k_b)
                and 16 * d_a * d_b <= memory // 2 and feature_flops <= gram_flops):
            inner = self._feature_block(states_a, None if same else states_b, n, xp, memory)
        else:
            inner = self._gram_block(states_a, None if same else states_b, n, xp, memory)
        inner = to_numpy(inner, xp)
        if same:  # the diagonal holds each state's <K_c, K_c>: deferred norms for free
            for k, state in enumerate(states_a):
                if "norm" not in state.data:
                    state.data["norm"] = self._norm_from(float(inner[k, k]))
        norm_a = np.array([self._norm(s, xp) for s in states_a])
        norm_b = np.array([self._norm(s, xp) for s in states_b])
        return inner / (norm_a[:, None] * norm_b[None, :])

    def _warn_block(self, states_a, states_b, mask, n):
        """The warning of :meth:`_pair`, once per block."""
        if self.estimator != "biased":
            return
        d_a = np.array([s.n_features for s in states_a])
        d_b = np.array([s.n_features for s in states_b])
        wide = mask & (np.minimum.outer(d_a, d_b) >= n)
        if wide.any():
            warnings.warn(
                f"biased CKA with at least as many features as stimuli ({n}) in "
                f"{int(wide.sum())} pair(s) of this block: unrelated representations "
                "score close to 1 in this regime; prefer estimator='unbiased'",
                DegenerateWarning, stacklevel=4,
            )

    def _feature_block(self, states_a, states_b, n, xp, memory):
        """``<K_a, K_b>`` from the cross products of the stacked centred features."""
        sides = [states_a] if states_b is None else [states_a, states_b]
        width = sum(s.n_features for side in sides for s in side)
        C = None
        for r0, r1 in chunk_bounds(n, memory // (16 * width)):
            F = [xp.concat([s.data["features"][r0:r1, :] for s in side], axis=1)
                 for side in sides]
            part = F[0].T @ F[-1]
            C = part if C is None else C + part
        E = [self._indicator(side, C, xp) for side in sides]
        inner = E[0] @ (C * C) @ E[-1].T
        if self.estimator == "unbiased":
            R = [xp.stack([s.data["sq_norms"] for s in side], axis=1) for side in sides]
            rr = R[0].T @ R[-1]
            total = [xp.sum(r, axis=0) for r in R]
            inner = (inner - rr + total[0][:, None] * total[-1][None, :] / ((n - 1) * (n - 2))
                     - 2 * rr / (n - 2))
        return inner

    @staticmethod
    def _indicator(states, like, xp):
        """``E[k, f] = 1`` if feature f of the stacked features belongs to state k."""
        sizes = [s.n_features for s in states]
        E = np.repeat(np.eye(len(sizes)), sizes, axis=1)
        return xp.asarray(E, dtype=like.dtype, device=array_api_compat.device(like))

    def _gram_block(self, states_a, states_b, n, xp, memory):
        """``<K_a, K_b>`` from stacked pieces of the vectorised centred Grams."""
        sides = [states_a] if states_b is None else [states_a, states_b]
        k = sum(map(len, sides))
        side = min(n, _PIECE, max(1, math.isqrt(memory // (8 * k))))
        like = states_a[0].arrays()[0]
        stacks = [row_stack(len(states), side * side, like, xp) for states in sides]
        bounds = chunk_bounds(n, side)
        inner = 0
        for p, (r0, r1) in enumerate(bounds):
            for c0, c1 in bounds[p:]:
                size = (r1 - r0) * (c1 - c0)
                for states, stack in zip(sides, stacks):
                    for t, state in enumerate(states):
                        self._gram_piece(state, r0, r1, c0, c1, n, xp, stack, t)
                rows = [stack[:, :size] for stack in stacks]
                part = rows[0] @ rows[-1].T
                inner = inner + (part if r0 == c0 else 2 * part)
        return inner

    def _gram_piece(self, state, r0, r1, c0, c1, n, xp, stack, row):
        """Rows r0:r1, columns c0:c1 of the state's centred (U-centred) Gram, written
        into ``stack[row]`` (see :func:`~repalign.measures._blocks.matmul_into`)."""
        size = (r1 - r0) * (c1 - c0)
        if "gram" in state.data:
            stack[row, :size] = xp.reshape(state.data["gram"][r0:r1, c0:c1], (-1,))
            return
        X = state.data["features"]
        K = matmul_into(X[r0:r1, :], (X[r0:r1, :] if r0 == c0 else X[c0:c1, :]).T,
                        stack, row, xp)
        if self.estimator == "unbiased":
            # U-centring of X_c X_c^T: its zero-diagonal row sums are -r (rows of X_c sum to 0).
            r = state.data["sq_norms"]
            K += r[r0:r1, None] / (n - 2)
            K += r[None, c0:c1] / (n - 2) - xp.sum(r) / ((n - 1) * (n - 2))
            if r0 == c0:
                K *= 1 - xp.eye(r1 - r0, dtype=K.dtype, device=array_api_compat.device(K))
            if not isinstance(stack, np.ndarray):
                stack[row, :size] = xp.reshape(K, (-1,))
