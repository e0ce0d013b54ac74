"""Neuron matching: units paired one-to-one, to their best partner, or by optimal transport.

These measures compare the units (columns) of two representations through their
tuning across stimuli. Relabelling units leaves them unchanged; rotations that mix
units do not. ``prepare`` centres the units, and scales them to unit norm for the
correlation-based measures. ``pair`` forms the ``d_x x d_y`` matrix of their inner
products with one matmul on the inputs' device. For an assignment or a transport
problem it copies only that matrix to the host, where SciPy solves what the array
API cannot express: Hungarian matching (``scipy.optimize.linear_sum_assignment``)
and linear programs (``scipy.optimize.linprog``).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass

import array_api_compat
import numpy as np

from .._array_api import to_numpy
from .._validation import Options
from ._base import Capabilities, Measure, Prepared
from ._grad import HARD_MATCH, requires_grad
from ._kernels import center_columns
from .registry import register

__all__ = ["LinearMatch", "SemiMatch", "SoftMatch", "PermutationMetric"]

_LI = ("Li, Yosinski, Clune, Lipson & Hopcroft (2016). Convergent learning: Do different "
       "neural networks learn the same representations? ICLR.")
_KHOSLA = ("Khosla & Williams (2024). Soft matching distance: A metric on neural "
           "representations that captures single-neuron tuning. UniReps, PMLR 243.")
_WILLIAMS = ("Williams, Kunz, Kornblith & Linderman (2021). Generalized shape metrics "
             "on neural representations. NeurIPS.")


def _centered_units(X, xp):
    """Centred units, their norms, and which are constant across stimuli.

    A unit counts as constant when its centred norm is at rounding level
    (100 eps) relative to its raw norm, so a constant column whose mean is not
    exactly representable is caught too.
    """
    Xc = center_columns(X, xp)
    norms = xp.sqrt(xp.sum(Xc * Xc, axis=0))
    constant = norms <= 100 * xp.finfo(X.dtype).eps * xp.sqrt(xp.sum(X * X, axis=0))
    return Xc, norms, constant


def _host(C, xp) -> np.ndarray:
    """The small d_x x d_y matrix, copied to the host in float64 for SciPy."""
    return np.asarray(to_numpy(C, xp), dtype=np.float64)


def _matched_entries(C: np.ndarray) -> np.ndarray:
    """The entries of C on its maximum-weight one-to-one matching (min(d_x, d_y) of them)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(C, maximize=True)
    return C[rows, cols]


def _transport_plan(C: np.ndarray) -> np.ndarray:
    """An optimal plan of :func:`_transport_value`: ``T`` with ``sum(T * C)`` its value."""
    from scipy import sparse
    from scipy.optimize import linear_sum_assignment, linprog

    dx, dy = C.shape
    L = math.lcm(dx, dy)
    if L <= 4 * max(dx, dy):
        rows, cols = linear_sum_assignment(np.repeat(np.repeat(C, L // dx, axis=0),
                                                     L // dy, axis=1), maximize=True)
        T = np.zeros((dx, dy))
        np.add.at(T, (rows // (L // dx), cols // (L // dy)), 1.0 / L)
        return T
    sums = sparse.vstack([sparse.kron(sparse.eye(dx), np.ones((1, dy))),
                          sparse.kron(np.ones((1, dx)), sparse.eye(dy))], format="csr")
    result = linprog(-C.ravel(), A_eq=sums, b_eq=np.r_[np.full(dx, dy), np.full(dy, dx)],
                     bounds=(0, None), method="highs", options={"presolve": False})
    if result.status != 0:  # pragma: no cover - the problem is always feasible and bounded
        raise RuntimeError(f"soft_match: the transport linear program failed: {result.message}")
    return result.x.reshape(dx, dy) / (dx * dy)


def _transport_value(C: np.ndarray) -> float:
    """``max sum T_ij C_ij`` over the plans T with marginals 1/d_x and 1/d_y, exactly.

    The plans, scaled by ``L = lcm(d_x, d_y)``, are the doubly stochastic
    matrices after replicating each row ``L/d_x`` and each column ``L/d_y``
    times, so the optimum is an ``L x L`` assignment (Birkhoff). That is the
    faster exact route when ``L <= 4 max(d_x, d_y)`` (equal widths, one a
    multiple of the other, ratios such as 2:3 or 3:4; measured 1.5 to 5 times
    faster than the LP there). Otherwise the linear program over the ``d_x d_y``
    plan entries (row sums ``d_y``, column sums ``d_x``, so its vertices are
    integral) goes to HiGHS with its presolve switched off, which is about 20
    times faster on these dense transportation problems.
    """
    from scipy import sparse
    from scipy.optimize import linprog

    dx, dy = C.shape
    L = math.lcm(dx, dy)
    if L <= 4 * max(dx, dy):
        return float(np.mean(_matched_entries(np.repeat(np.repeat(C, L // dx, axis=0),
                                                        L // dy, axis=1))))
    sums = sparse.vstack([sparse.kron(sparse.eye(dx), np.ones((1, dy))),
                          sparse.kron(np.ones((1, dx)), sparse.eye(dy))], format="csr")
    result = linprog(-C.ravel(), A_eq=sums, b_eq=np.r_[np.full(dx, dy), np.full(dy, dx)],
                     bounds=(0, None), method="highs", options={"presolve": False})
    if result.status != 0:  # pragma: no cover - the problem is always feasible and bounded
        raise RuntimeError(f"soft_match: the transport linear program failed: {result.message}")
    return -result.fun / (dx * dy)


class _UnitMeasure(Measure):
    """A measure on the units (features) of X and Y."""

    _stimulus_axes = {"units": (0,), "centered": (0,)}
    capabilities = Capabilities(permutation=True, differentiable_refusal=HARD_MATCH)

    @property
    def invariances(self):
        return ("permutation", "isotropic_scale", "translation")


class _CorrelationMatch(_UnitMeasure):
    """Prepare: z-scored units. Pair: their correlation matrix, then a matching."""

    kind = "similarity"

    @property
    def bounds(self):
        return (-1.0, 1.0)

    def _prepare(self, X, xp):
        Xc, norms, constant = _centered_units(X, xp)
        if bool(xp.any(constant)):
            bad = np.flatnonzero(to_numpy(constant, xp)).tolist()
            shown = f"{bad[:10]}{' ...' if len(bad) > 10 else ''}"
            raise ValueError(
                f"X: unit(s) {shown} ({len(bad)} of {X.shape[1]}) are constant across "
                f"stimuli, so their correlation with any unit is undefined and "
                f"{self.name} cannot be computed; drop those units first"
            )
        # z-scores divided by sqrt(n): unit-norm columns, so Z_x^T Z_y is Pearson's r.
        return {"units": Xc / norms[None, :]}

    def _pair(self, a: Prepared, b: Prepared, xp):
        return self._match(a.data["units"].T @ b.data["units"], xp)

    @abstractmethod
    def _match(self, C, xp):
        """The value from the d_x x d_y correlation matrix ``C``."""


@register
@dataclass(frozen=True)
class LinearMatch(_CorrelationMatch):
    """Mean correlation of the best one-to-one matching of units (Li et al. 2016).

    .. math::

        \\mathrm{linear\\_match}(X, Y) = \\max_{\\pi} \\frac{1}{k}
            \\sum_{i=1}^{k} C_{i \\pi(i)}, \\qquad
        C = \\tfrac{1}{n} Z_x^T Z_y ,

    with ``Z`` the units z-scored over stimuli (``C`` holds the Pearson
    correlations between units of X and units of Y), ``k = min(d_x, d_y)``, and
    ``pi`` ranging over the one-to-one maps from the smaller set of units into
    the larger. This is the "one-to-one" matching of Li et al., found with the
    Hungarian algorithm. In [-1, 1]; 1 iff every unit of the smaller set has an
    exact copy (up to scale and shift) among distinct units of the other.

    Notes
    -----
    The assignment is solved on the host by
    ``scipy.optimize.linear_sum_assignment(C, maximize=True)`` (Crouse 2016),
    in O(d_x d_y min(d_x, d_y)); only ``C`` leaves the device. Units constant
    across stimuli raise ``ValueError``, since their correlations are undefined.

    References
    ----------
    Li, Yosinski, Clune, Lipson & Hopcroft (2016). Convergent learning: Do
    different neural networks learn the same representations? ICLR.

    Crouse (2016). On implementing 2D rectangular assignment algorithms.
    IEEE Trans. Aerospace and Electronic Systems 52(4).

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 6))
    >>> Y = 2 * X[:, [3, 0, 5, 1, 4, 2]] + 1
    >>> round(repalign.measure("linear_match", X, Y), 12)
    1.0
    """

    name = "linear_match"
    references = (_LI,)
    cost = "prepare O(n d), pair O(n d_x d_y + d_x d_y min(d_x, d_y)) (Hungarian, host)"

    def _match(self, C, xp):
        return float(np.mean(_matched_entries(_host(C, xp))))


@register
@dataclass(frozen=True)
class SemiMatch(_CorrelationMatch):
    """Mean best correlation of X's units with any unit of Y (Li et al. 2016).

    .. math::

        \\mathrm{semi\\_match}(X, Y) = \\frac{1}{d_x} \\sum_{i=1}^{d_x}
            \\max_{j} C_{ij}, \\qquad C = \\tfrac{1}{n} Z_x^T Z_y ,

    the bipartite semi-matching of Li et al.: each unit of X is paired with the
    unit of Y it correlates with most (the signed correlation), and several units
    of X may share one partner. Asymmetric: it asks how well Y covers X. In
    [-1, 1]; 1 iff every unit of X has an exact copy (up to scale and shift) in Y.

    Notes
    -----
    Computed entirely on the inputs' device (a matmul and a row maximum).
    Units constant across stimuli raise ``ValueError``.

    References
    ----------
    Li, Yosinski, Clune, Lipson & Hopcroft (2016). Convergent learning: Do
    different neural networks learn the same representations? ICLR.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 3))
    >>> Y = np.column_stack([X[:, [2, 0, 1]], rng.standard_normal((50, 2))])
    >>> round(repalign.measure("semi_match", X, Y), 12)
    1.0
    >>> repalign.measure("semi_match", Y, X) < 1
    True
    """

    name = "semi_match"
    references = (_LI,)
    cost = "prepare O(n d), pair O(n d_x d_y)"

    @property
    def symmetric(self) -> bool:
        return False

    def _match(self, C, xp):
        return xp.mean(xp.max(C, axis=1))


@register
@dataclass(frozen=True)
class SoftMatch(_CorrelationMatch):
    """Soft matching of units by optimal transport (Khosla & Williams 2024).

    .. math::

        \\mathrm{soft\\_match}(X, Y) = \\max_{T \\in \\mathcal{T}(d_x, d_y)}
            \\sum_{ij} T_{ij} C_{ij}, \\qquad
        \\mathcal{T} = \\{T \\ge 0 : T 1 = 1/d_x, \\; T^T 1 = 1/d_y\\},

    with ``C = Z_x^T Z_y / n`` the Pearson correlations between units. Each unit
    of X spreads mass ``1/d_x`` over the units of Y, each of which receives
    ``1/d_y``: a "soft permutation" that extends :class:`LinearMatch` to unequal
    widths (for ``d_x == d_y`` the optimal plans include a permutation, so the
    two are equal). Symmetric, in [-1, 1], 1 iff the units of X and of Y hold the
    same tuning curves (up to scale and shift) with the same multiplicities.

    Notes
    -----
    Khosla & Williams define the distance
    :math:`d_T(X, Y) = (\\min_{T} \\sum_{ij} T_{ij} \\|x_i - y_j\\|^2)^{1/2}`
    between the units (tuning curves) ``x_i`` of X and ``y_j`` of Y, a
    2-Wasserstein distance between their empirical distributions. Over
    :math:`\\mathcal{T}` the norm terms sum to a constant, so the same plan
    maximises :math:`\\sum T_{ij} \\langle x_i, y_j \\rangle`. On z-scored units
    scaled to unit norm (``Z / sqrt(n)``), this similarity ``s`` gives their
    metric as :math:`d_T = \\sqrt{2 (1 - s)}`.

    The optimum is found exactly on the host: by Hungarian matching
    (``scipy.optimize.linear_sum_assignment``) of the rows and columns
    replicated to ``lcm(d_x, d_y)`` when that is at most four times the larger
    width (equal widths included), and otherwise by the linear program over
    the ``d_x d_y`` plan entries with ``scipy.optimize.linprog(method="highs")``.
    Only ``C`` leaves the device. Units constant across stimuli raise
    ``ValueError``.

    Gradients (torch inputs that require grad): the value is a maximum of
    linear functions of ``C`` over the transport polytope, so by Danskin's
    theorem its gradient with respect to ``C`` is the optimal plan ``T``
    wherever that plan is unique (almost everywhere for continuous data). The
    plan is solved on the host as above and the value returned as
    ``sum(T * C)`` on the device, whose gradient is exactly that; where
    several plans are optimal (ties), it is one of the supergradients. It
    flows on through ``C`` to the z-scored units.

    References
    ----------
    Khosla & Williams (2024). Soft matching distance: A metric on neural
    representations that captures single-neuron tuning. Proceedings of UniReps,
    PMLR 243.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 2))
    >>> Y = X[:, [1, 0, 0, 1]] * [1.0, 2.0, 3.0, 4.0]
    >>> round(repalign.measure("soft_match", X, Y), 12)
    1.0
    """

    name = "soft_match"
    references = (_KHOSLA,)
    cost = ("prepare O(n d), pair O(n d_x d_y) + an exact transport problem "
            "(Hungarian on lcm(d_x, d_y) or a linear program on d_x d_y variables, host)")

    capabilities = Capabilities(permutation=True, differentiable=True)

    def _match(self, C, xp):
        if requires_grad(C):  # Danskin: the gradient is the optimal plan
            T = xp.asarray(_transport_plan(_host(C, xp)), dtype=C.dtype,
                           device=array_api_compat.device(C))
            return xp.sum(T * C)
        return _transport_value(_host(C, xp))


@register
@dataclass(frozen=True)
class PermutationMetric(_UnitMeasure):
    """Permutation shape metric of Williams et al. (2021): centre, then align units.

    .. math::

        d_\\angle(X, Y) = \\arccos \\max_{P} \\frac{\\langle X_c, Y_c P \\rangle_F}
            {\\|X_c\\|_F \\|Y_c\\|_F}, \\qquad
        d_2(X, Y) = \\min_{P} \\|X_c - Y_c P\\|_F ,

    with ``X_c``, ``Y_c`` the centred representations and ``P`` ranging over the
    permutations of units. Units are not scaled: unlike the correlation-based
    matchings, strong units weigh more. The best ``P`` is the Hungarian
    assignment on ``X_c^T Y_c``; both are metrics.

    Parameters
    ----------
    distance : {"angular", "euclidean"}, default="angular"
        ``angular``: the angle, in [0, pi] (pi when the aligned representations
        point in opposite directions), invariant to isotropic scaling;
        ``euclidean``: the Frobenius distance (not divided by n).

    Notes
    -----
    As netrep's ``PermutationMetric`` with its defaults (``center_columns=True``,
    ``zero_pad=True``, ``score_method`` = ``distance``). Unequal widths are
    matched without padding: the smaller set of units is assigned into the
    larger (rectangular Hungarian), which gives the zero-padded value, since
    the padded units contribute nothing. Units constant across stimuli are
    legal (their centred columns are zero, like padding); a representation
    constant across all stimuli raises ``ValueError``. The assignment is solved
    by ``scipy.optimize.linear_sum_assignment`` on the host; only
    ``X_c^T Y_c`` leaves the device.

    References
    ----------
    Williams, Kunz, Kornblith & Linderman (2021). Generalized shape metrics on
    neural representations. NeurIPS.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 4))
    >>> repalign.measure("permutation_metric", X, 3 * X[:, [2, 0, 3, 1]] - 1) < 1e-6
    True
    """

    distance: str = "angular"

    name = "permutation_metric"
    kind = "distance"
    references = (_WILLIAMS,)
    cost = "prepare O(n d), pair O(n d_x d_y + d_x d_y min(d_x, d_y)) (Hungarian, host)"
    _constraints = {"distance": Options("angular", "euclidean")}

    @property
    def invariances(self):
        if self.distance == "euclidean":
            return ("permutation", "translation")
        return super().invariances

    @property
    def bounds(self):
        return (0.0, math.pi if self.distance == "angular" else math.inf)

    def _prepare(self, X, xp):
        Xc, norms, constant = _centered_units(X, xp)
        if bool(xp.all(constant)):
            raise ValueError(f"X does not vary across stimuli; {self.name} is undefined")
        return {"centered": Xc, "sq_norm": xp.sum(norms * norms)}

    def _pair(self, a: Prepared, b: Prepared, xp):
        inner = float(np.sum(_matched_entries(_host(a.data["centered"].T @ b.data["centered"],
                                                    xp))))
        sa, sb = float(a.data["sq_norm"]), float(b.data["sq_norm"])
        if self.distance == "euclidean":
            return math.sqrt(max(sa + sb - 2 * inner, 0.0))
        return math.acos(min(max(inner / math.sqrt(sa * sb), -1.0), 1.0))
