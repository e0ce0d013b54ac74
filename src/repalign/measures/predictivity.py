"""Predictivity: how well a linear map of X predicts Y (ridge, PLS, linear regression).

All three measures are asymmetric: ``pair(a, b)`` predicts ``b`` (the target Y)
from ``a`` (the predictor X). Because ``prepare`` does not know which role a
representation will play, it stores both: the per-fold SVD factors used when it
predicts, and its centred values used when it is predicted.

The cross-validated measures (``ridge``, ``pls``) split the stimuli into ``cv``
folds exactly as ``sklearn.model_selection.KFold(cv, shuffle=True,
random_state=seed)`` does (``seed=None``: contiguous folds in stimulus order).
``prepare`` reorders the stimuli so that every test fold is a contiguous block;
the out-of-fold predictions are then concatenated and scored over all n
stimuli, in that order (the scores do not depend on the order of the rows).

Every predictivity measure also fits on given training stimuli and predicts
given held-out ones (``fit_predict``, ``held_out``), with the same solvers;
:func:`repalign.cross_validate` builds on them.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from abc import abstractmethod
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
from array_api_compat import device

from .._array_api import namespace_and_device
from .._validation import (
    Interval,
    Options,
    check_held_out,
    check_pair,
    check_representation,
    constant_columns,
)
from ..exceptions import DegenerateWarning
from ._base import Capabilities, Measure, Prepared
from ._grad import NOT_IMPLEMENTED, projector_scores, requires_grad
from ._kernels import center_columns, orthonormal_basis
from ._references import KORNBLITH, RESI, SIMILARITY_SURVEY
from .registry import register

__all__ = ["Ridge", "PLS", "LinearRegression", "kfold_blocks"]

#: Training folds smaller than this give a DegenerateWarning.
_MIN_TRAINING_STIMULI = 10

#: The default ridge grid, ``10 ** linspace(-6, 6, 25)`` (half-decade steps).
_DEFAULT_ALPHAS = tuple(10.0 ** (k / 2) for k in range(-12, 13))

_BRAINSCORE = ("Schrimpf et al. (2018). Brain-Score: which artificial neural network "
               "for object recognition is most brain-like? bioRxiv 407007.")
_YAMINS = ("Yamins et al. (2014). Performance-optimized hierarchical models predict "
           "neural responses in higher visual cortex. PNAS 111(23), 8619-8624.")


def kfold_blocks(n: int, cv: int, seed: int | None):
    """The stimulus order and fold boundaries of ``KFold(cv, shuffle=True, random_state=seed)``.

    Parameters
    ----------
    n : int
        Number of stimuli.
    cv : int
        Number of folds (2 <= cv <= n).
    seed : int or None
        Seed of the shuffle, drawn as scikit-learn does with NumPy's legacy
        ``RandomState(seed).permutation(n)`` (a stream NumPy keeps stable across
        versions); None keeps the stimuli in their order (contiguous folds).

    Returns
    -------
    order : ndarray of shape (n,) or None
        Stimulus indices such that test fold ``f`` is ``order[bounds[f]:bounds[f + 1]]``;
        None for the identity order.
    bounds : tuple of int
        ``cv + 1`` boundaries; the first ``n % cv`` folds hold one stimulus more.
    """
    order = None if seed is None else np.random.RandomState(seed).permutation(n)
    sizes = [n // cv + (f < n % cv) for f in range(cv)]
    return order, tuple(accumulate(sizes, initial=0))


class _PositiveGrid:
    """Constraint: a non-empty tuple of positive finite floats."""

    def check(self, owner: str, name: str, value) -> None:
        if not (isinstance(value, tuple) and value
                and all(type(v) is float and math.isfinite(v) and v > 0 for v in value)):
            raise ValueError(
                f"{owner}: {name} must be a non-empty sequence of positive finite numbers; "
                f"got {value!r}"
            )

    @staticmethod
    def normalise(owner: str, name: str, value):
        """A tuple of floats from any sequence of real numbers (else TypeError)."""
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TypeError(
                f"{owner}: {name} must be a sequence of positive numbers; "
                f"got {value!r} of type {type(value).__name__}"
            )
        values = tuple(value)
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
            raise TypeError(f"{owner}: {name} must hold real numbers; got {values!r}")
        return tuple(float(v) for v in values)


# --------------------------------------------------------------------------------------
# Fit on training stimuli, predict held-out ones (every predictivity measure)


class _Predictor(Measure):
    """A linear map from X to Y fitted on training stimuli, applied to held-out ones.

    Subclasses implement ``_fit_predict(data, f, Yc_train, xp)``, the held-out
    predictions (centred by the training mean) from the predictor state
    ``data`` of fold ``f`` (see :meth:`_predictor_state`), and
    ``_held_out_score(pred, Y_test, xp)``.
    """

    capabilities = Capabilities(held_out=True, float32=False, float32_refusal=(
        "the regression solves with X's inverse singular values (1 / (s^2 + alpha) "
        "over penalties spanning many decades): small singular values and small "
        "penalties amplify float32's rounding (eps 6e-8) by cond(X)^2"
    ))

    #: Held-out stimuli needed to score predictions (a correlation or an R^2).
    _min_test_stimuli = 2

    def _predictor_state(self, f: int, train, test, xp) -> dict:
        """Fold f of a predictor: the thin SVD ``U S V^T`` of the centred training
        rows (rank-revealing) and the held-out rows, centred by the training
        mean, in the basis V."""
        mean = xp.mean(train, axis=0, keepdims=True)
        U, S, Vt = orthonormal_basis(train - mean, xp)
        return {f"basis{f}": U, f"sv{f}": S, f"test_scores{f}": (test - mean) @ Vt.T,
                **self._fold_state(f, U, S, xp)}

    def _fold_state(self, f: int, U, S, xp) -> dict:
        """Extra target-independent per-fold state of a predictor."""
        return {}

    def _target_batches(self, t: int):
        return (slice(0, t),)

    def _predict(self, X_train, Y_train, X_test):
        xp, _ = namespace_and_device(X_train, Y_train, X_test)
        data = self._predictor_state(0, X_train, X_test, xp)
        mean = xp.mean(Y_train, axis=0, keepdims=True)
        Yc = Y_train - mean
        return xp.concat([self._fit_predict(data, 0, Yc[:, cols], xp)
                          for cols in self._target_batches(Yc.shape[1])], axis=1) + mean

    def fit_predict(self, X_train, Y_train, X_test):
        """Fit the map X -> Y on training stimuli and predict Y on held-out ones.

        Parameters
        ----------
        X_train : array of shape (m, d_x)
        Y_train : array of shape (m, d_y)
            Training stimuli (at least 3) of the predictor and the target.
        X_test : array of shape (m_test, d_x)
            Held-out stimuli of the predictor.

        Returns
        -------
        array of shape (m_test, d_y)
            The predicted targets, in the library, device and dtype of the
            training data.
        """
        X_train, Y_train = check_pair(X_train, Y_train, names=("X_train", "Y_train"),
                                      needed_by=self._who())
        X_test = check_held_out(check_representation(X_test, "X_test", min_stimuli=1),
                                "X_test", n_features=X_train.shape[1], like=X_train)
        return self._predict(X_train, Y_train, X_test)

    def _held_out(self, X_train, Y_train, X_test, Y_test):
        """The measure's score of held-out predictions: fit on training stimuli only.

        Parameters
        ----------
        X_train, Y_train : arrays of shape (m, d_x), (m, d_y)
            Training stimuli (at least 3).
        X_test, Y_test : arrays of shape (m_test, d_x), (m_test, d_y)
            Held-out stimuli (at least 2).

        Returns
        -------
        float
            The score of :meth:`fit_predict` against ``Y_test``, computed on
            the held-out stimuli alone (their own mean is the R^2 baseline).
        """
        X_train, Y_train = check_pair(X_train, Y_train, names=("X_train", "Y_train"),
                                      needed_by=self._who())
        X_test, Y_test = check_pair(X_test, Y_test, min_stimuli=self._min_test_stimuli,
                                    needed_by=self._who(),
                                    names=("X_test", "Y_test"))
        X_test = check_held_out(X_test, "X_test", n_features=X_train.shape[1], like=X_train)
        Y_test = check_held_out(Y_test, "Y_test", n_features=Y_train.shape[1], like=Y_train)
        xp, _ = namespace_and_device(Y_test)
        return self._held_out_score(self._predict(X_train, Y_train, X_test), Y_test, xp)

    @abstractmethod
    def _fit_predict(self, data, f: int, Yc_train, xp):
        """Held-out predictions of fold f (centred by the training mean)."""

    @abstractmethod
    def _held_out_score(self, pred, Y_test, xp):
        """The score of predictions ``pred`` of the held-out targets ``Y_test``."""


# --------------------------------------------------------------------------------------
# Cross-validated prediction (ridge, PLS)


class _CrossValidated(_Predictor):
    """Shared machinery: folds and per-fold SVDs in ``prepare``, scoring in ``pair``.

    ``prepare`` stores, for a representation in fold order,

    - as target: its globally centred values ``target`` and their column sums
      of squares ``target_ss`` (and the indices of constant columns);
    - as predictor, for each fold f: the thin SVD ``U S V^T`` of the centred
      training rows (``basis{f}``, ``sv{f}``; rank-revealing) and the held-out
      rows, centred by the training mean, in the basis V (``test_scores{f}``).

    Subclasses implement ``_fit_predict(data, f, Yc_train, xp)``: the held-out
    predictions of fold f from the centred training targets.
    """

    kind = "similarity"

    @property
    def symmetric(self):
        return False

    @property
    def bounds(self):
        return (-1.0, 1.0) if self.score == "pearson" else (-math.inf, 1.0)

    @property
    def min_stimuli(self) -> int:
        # Every test fold holds a stimulus and every training fold at least 3.
        return max(self.cv, math.ceil(3 * self.cv / (self.cv - 1)))

    def _prepare(self, X, xp):
        n = X.shape[0]
        order, bounds = kfold_blocks(n, self.cv, self.seed)
        smallest = n - max(b - a for a, b in zip(bounds, bounds[1:]))
        if smallest < _MIN_TRAINING_STIMULI:
            warnings.warn(
                f"{self.name}: with {n} stimuli and cv={self.cv}, a training fold holds only "
                f"{smallest} stimuli (fewer than {_MIN_TRAINING_STIMULI}); the fitted maps "
                "and the held-out score are unreliable. Use more stimuli or fewer folds.",
                DegenerateWarning, stacklevel=4,
            )
        if order is not None:
            X = xp.take(X, xp.asarray(order, device=device(X)), axis=0)
        Xc = center_columns(X, xp)
        grad = requires_grad(Xc)
        data = {"target": Xc, "target_ss": xp.sum(Xc * Xc, axis=0),
                "constant_units": tuple(constant_columns(X.detach() if grad else X, xp)),
                "bounds": bounds}
        for f, (start, stop) in enumerate(zip(bounds, bounds[1:])):
            train = xp.concat([Xc[:start, :], Xc[stop:, :]], axis=0)
            test = Xc[start:stop, :]
            if grad:
                # The SVD state (off the graph) chooses the penalties; the centred rows
                # (on it) give the differentiable fit (see Ridge._fit_predict).
                data.update(self._predictor_state(f, train.detach(), test.detach(), xp))
                mean = xp.mean(train, axis=0, keepdims=True)
                data[f"train{f}"], data[f"test{f}"] = train - mean, test - mean
            else:
                data.update(self._predictor_state(f, train, test, xp))
        return data

    def _pair(self, a: Prepared, b: Prepared, xp):
        constant = b.data["constant_units"]
        if constant:
            raise ValueError(
                f"Y (the target) has {len(constant)} unit(s) that do not vary across stimuli "
                f"(columns {list(constant[:10])}{' ...' if len(constant) > 10 else ''}); "
                f"their {self.score} score is undefined (a unit whose variation is at the "
                "rounding level of its values is constant). Drop those units first."
            )
        Y, ss = b.data["target"], b.data["target_ss"]
        bounds = a.data["bounds"]
        total = 0.0
        for cols in self._target_batches(Y.shape[1]):
            Yb = Y[:, cols]
            predictions = []
            for f, (start, stop) in enumerate(zip(bounds, bounds[1:])):
                train = xp.concat([Yb[:start, :], Yb[stop:, :]], axis=0)
                mean = xp.mean(train, axis=0, keepdims=True)
                predictions.append(self._fit_predict(a.data, f, train - mean, xp) + mean)
            total = total + xp.sum(self._unit_scores(xp.concat(predictions, axis=0), Yb,
                                                     ss[cols], xp))
        return total / Y.shape[1]

    def _unit_scores(self, pred, Yc, ss, xp):
        """Per-unit Pearson r or R^2 of out-of-fold predictions against centred truth."""
        if self.score == "r2":
            resid = Yc - pred
            return 1 - xp.sum(resid * resid, axis=0) / ss
        pc = center_columns(pred, xp)
        return xp.sum(pc * Yc, axis=0) / xp.sqrt(xp.sum(pc * pc, axis=0) * ss)

    def _held_out_score(self, pred, Y_test, xp):
        """The mean over units of the score on the held-out stimuli alone."""
        constant = constant_columns(Y_test, xp)
        if constant:
            raise ValueError(
                f"Y_test has {len(constant)} unit(s) constant across the held-out stimuli "
                f"(columns {constant[:10]}{' ...' if len(constant) > 10 else ''}); their "
                f"{self.score} score is undefined. Use larger held-out sets (fewer folds)."
            )
        mean = xp.mean(Y_test, axis=0, keepdims=True)
        Yc = Y_test - mean
        return xp.mean(self._unit_scores(pred - mean, Yc, xp.sum(Yc * Yc, axis=0), xp))


@register
@dataclass(frozen=True)
class Ridge(_CrossValidated):
    """Cross-validated ridge predictivity of Y from X, penalty chosen per unit of Y.

    For each of ``cv`` folds, a ridge regression with intercept is fitted on the
    training stimuli and predicts the held-out ones. Within the training fold
    the penalty of each target unit is chosen from a grid by efficient
    leave-one-out cross-validation (scikit-learn's ``RidgeCV`` "GCV" mode with
    ``alpha_per_target=True``). The score compares the concatenated
    out-of-fold predictions with the truth.

    Parameters
    ----------
    cv : int >= 2, default=5
        Number of cross-validation folds over stimuli.
    seed : int or None, default=0
        Seed of the fold assignment: the folds are exactly those of
        ``sklearn.model_selection.KFold(cv, shuffle=True, random_state=seed)``
        (NumPy's legacy ``RandomState`` permutation, stable across versions).
        ``None``: contiguous folds in stimulus order (``KFold(cv)``).
    score : {"pearson", "r2"}, default="pearson"
        Per unit of Y, the Pearson r (Brain-Score) or the coefficient of
        determination ``1 - SS_res / SS_tot`` (``sklearn.metrics.r2_score``) of
        the out-of-fold predictions against the truth, computed once over all n
        stimuli after concatenating the folds' predictions (not averaged over
        folds); the measure is the mean over units.
    alphas : sequence of float > 0, default=10 ** linspace(-6, 6, 25)
        The penalty grid.
    alpha_scale : {"relative", "absolute"}, default="relative"
        ``"relative"``: each fold uses ``alphas * s_1^2``, with ``s_1`` the
        largest singular value of its centred training X, so the measure is
        invariant to the scale of X. ``"absolute"``: the alphas as given, as
        scikit-learn's and himalaya's ``RidgeCV`` take them (with the same grid,
        the results equal ``sklearn.linear_model.RidgeCV(alphas,
        alpha_per_target=True)`` fitted per fold).
    n_targets_batch : int, default=1024
        Units of Y processed at once (bounds the memory of ``pair``).

    Notes
    -----
    With the centred training fold ``X_c = U S V^T`` (m stimuli, rank r) and
    the centred targets ``Y_c``, all penalties come from this one SVD. The
    leave-one-out error of stimulus i for penalty alpha is

    .. math::

        e_i(\\alpha) = \\frac{[Y_c - U D_\\alpha U^T Y_c]_i}{1 - h_i(\\alpha) - 1/m},
        \\qquad D_\\alpha = \\mathrm{diag}\\Big(\\frac{s_k^2}{s_k^2 + \\alpha}\\Big),
        \\quad h(\\alpha) = \\mathrm{diag}(U D_\\alpha U^T),

    the ``1/m`` being the leverage of the unpenalised intercept (Rifkin &
    Lippert 2007). Written as ``(Y_c - U U^T Y_c) + U (I - D_alpha) U^T Y_c``
    over ``(1 - 1/m - ||U_i||^2) + sum_k U_ik^2 alpha / (s_k^2 + alpha)``,
    it loses no accuracy at small alpha or when X is wider than the fold.
    Each unit takes the alpha of least mean squared error (the first in the
    grid on ties, as scikit-learn), and the held-out predictions are
    ``(X_test - mean) V diag(s / (s^2 + alpha_j)) U^T y_j + mean(y_j)``.

    ``prepare`` computes the folds' SVDs, the projected held-out rows and the
    leave-one-out denominators of every alpha once per representation;
    ``pair`` costs ``O(cv n r d_y (n_alphas + 3))``. The value is invariant to
    translations of X and Y, to rotations and (with relative alphas) scalings
    of X, to scalings of Y and to permutations of either's units; it is not
    invariant to rotations of Y (penalties and scores are per unit).
    ``ridge(X, X)`` is close to 1 when X has fewer features than the training
    folds have stimuli (held-out rows outside the training rows' span cannot
    be predicted).

    References
    ----------
    Schrimpf et al. (2018). Brain-Score: which artificial neural network for
    object recognition is most brain-like? bioRxiv 407007.

    Rifkin & Lippert (2007). Notes on regularized least squares. MIT-CSAIL-TR-2007-025.

    Dupre la Tour, Eickenberg, Nunez-Elizalde & Gallant (2022). Feature-space
    selection with banded ridge regression. NeuroImage 264 (himalaya).

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10))
    >>> Y = X @ rng.standard_normal((10, 4)) + 0.1 * rng.standard_normal((100, 4))
    >>> round(repalign.measure("ridge", X, Y), 3)
    0.999
    """

    cv: int = 5
    seed: int | None = 0
    score: str = "pearson"
    alphas: tuple = _DEFAULT_ALPHAS
    alpha_scale: str = "relative"
    n_targets_batch: int = 1024

    name = "ridge"
    references = (
        _BRAINSCORE,
        "Rifkin & Lippert (2007). Notes on regularized least squares. MIT-CSAIL-TR-2007-025.",
        "Dupre la Tour, Eickenberg, Nunez-Elizalde & Gallant (2022). Feature-space "
        "selection with banded ridge regression. NeuroImage 264.",
    )
    cost = ("prepare O(cv n d min(n, d)), pair O(cv n r d_y (n_alphas + 3)), "
            "r = rank <= min(n, d_x)")
    _constraints = {
        "cv": Interval(2, None, integer=True),
        "seed": Interval(0, 2**32 - 1, integer=True, allow_none=True),
        "score": Options("pearson", "r2"),
        "alphas": _PositiveGrid(),
        "alpha_scale": Options("relative", "absolute"),
        "n_targets_batch": Interval(1, None, integer=True),
    }

    capabilities = dataclasses.replace(_Predictor.capabilities, differentiable=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alphas",
                           _PositiveGrid.normalise(self.name, "alphas", self.alphas))
        super().__post_init__()

    @property
    def invariances(self):
        if self.alpha_scale == "relative":
            return ("isotropic_scale", "translation", "permutation")
        return ("translation", "permutation")

    def _fold_state(self, f, U, S, xp):
        alphas = xp.asarray(self.alphas, dtype=U.dtype, device=device(U))
        if self.alpha_scale == "relative" and S.shape[0]:
            alphas = alphas * S[0] ** 2
        m = U.shape[0]
        U2 = U * U
        # Leverage outside the column space and the constant (alpha-free), plus
        # the penalised part inside it: the leave-one-out denominators (m x n_alphas).
        outside = xp.clip(1 - 1 / m - xp.sum(U2, axis=1), min=0)
        shrink = alphas[None, :] / (S[:, None] ** 2 + alphas[None, :])
        return {f"alphas{f}": alphas, f"loo_denominators{f}": outside[:, None] + U2 @ shrink}

    def _target_batches(self, t):
        step = self.n_targets_batch
        return tuple(slice(i, min(i + step, t)) for i in range(0, t, step))

    def _fit_predict(self, data, f, Yc_train, xp):
        if f"train{f}" in data:
            return self._differentiable_fit_predict(data, f, Yc_train, xp)
        U, S = data[f"basis{f}"], data[f"sv{f}"]
        Z = U.T @ Yc_train
        best_alpha, _ = self._best_alphas(data, f, Yc_train, Z, xp)
        S2 = S * S
        gain = S[:, None] / (S2[:, None] + best_alpha[None, :])
        return data[f"test_scores{f}"] @ (gain * Z)

    def _best_alphas(self, data, f, Yc_train, Z, xp):
        """Per unit, the penalty of least leave-one-out error and its index in the grid."""
        U, S = data[f"basis{f}"], data[f"sv{f}"]
        alphas, denominators = data[f"alphas{f}"], data[f"loo_denominators{f}"]
        outside = Yc_train - U @ Z
        t = Yc_train.shape[1]
        best_err = xp.full((t,), xp.inf, dtype=Z.dtype, device=device(Z))
        best_alpha = xp.zeros((t,), dtype=Z.dtype, device=device(Z))
        best_index = xp.zeros((t,), dtype=xp.int64, device=device(Z))
        S2 = S * S
        for i in range(alphas.shape[0]):
            alpha = alphas[i]
            loo = (outside + U @ ((alpha / (S2 + alpha))[:, None] * Z)) / denominators[:, i:i + 1]
            err = xp.mean(loo * loo, axis=0)
            better = err < best_err
            best_err = xp.where(better, err, best_err)
            best_alpha = xp.where(better, alpha, best_alpha)
            best_index = xp.where(better, i, best_index)
        return best_alpha, best_index

    def _differentiable_fit_predict(self, data, f, Yc_train, xp):
        """Held-out ridge predictions on the autograd graph of the predictor's rows.

        Each unit's penalty is chosen as in the float path (a discrete choice:
        its derivative is 0 almost everywhere); with the chosen grid entry
        held, ``alpha = alphas[i] s_1^2`` (relative scale) follows ``s_1``, and
        the fit is a linear solve, ``(X^T X + alpha I)^{-1} X^T y`` (or its dual
        ``X^T (X X^T + alpha I)^{-1} y`` for a wide fold), instead of the SVD,
        whose singular vectors have no stable gradient at repeated singular values.
        """
        import torch

        Xtr, Xte = data[f"train{f}"], data[f"test{f}"]
        with torch.no_grad():
            Y0 = Yc_train.detach()
            _, index = self._best_alphas(data, f, Y0, data[f"basis{f}"].T @ Y0, xp)
        grid = xp.asarray(self.alphas, dtype=Xtr.dtype, device=device(Xtr))
        if self.alpha_scale == "relative":
            grid = grid * torch.linalg.svdvals(Xtr)[0] ** 2
        m, d = Xtr.shape
        eye = torch.eye(min(m, d), dtype=Xtr.dtype, device=device(Xtr))
        columns, predictions = [], []
        for i in torch.unique(index).tolist():
            cols = torch.nonzero(index == i)[:, 0]
            Yi = Yc_train[:, cols]
            if d <= m:
                coef = torch.linalg.solve(Xtr.T @ Xtr + grid[i] * eye, Xtr.T @ Yi)
            else:
                coef = Xtr.T @ torch.linalg.solve(Xtr @ Xtr.T + grid[i] * eye, Yi)
            columns.append(cols)
            predictions.append(Xte @ coef)
        order = torch.argsort(torch.cat(columns))
        return torch.cat(predictions, dim=1)[:, order]


def _dominant_left_singular_vector(C, xp):
    """The unit left singular vector of C for its largest singular value.

    From the eigendecomposition of the smaller Gram matrix, ``C C^T`` or
    ``C^T C`` (then ``u = C v / ||C v||``): several times faster than an SVD
    of C, and as accurate for the top vector when it is well separated.
    """
    r, t = C.shape
    if r <= t:
        return xp.linalg.eigh(C @ C.T)[1][:, -1]
    u = C @ xp.linalg.eigh(C.T @ C)[1][:, -1]
    return u / xp.linalg.vector_norm(u)


@register
@dataclass(frozen=True)
class PLS(_CrossValidated):
    """Cross-validated PLS regression predictivity of Y from X (Brain-Score's default).

    For each of ``cv`` folds, a partial least squares regression (PLS2, as
    ``sklearn.cross_decomposition.PLSRegression(scale=False)``) with
    ``n_components`` latent components is fitted on the centred training
    stimuli and predicts the held-out ones; the score compares the
    concatenated out-of-fold predictions with the truth.

    Parameters
    ----------
    n_components : int, default=25
        Latent components, capped per fold at the rank of the centred training
        X (at most ``min(d_x, m - 1)`` for m training stimuli). Not capped by
        ``d_y``: PLS2 extracts more components than Y has units, as
        scikit-learn's ``PLSRegression`` does.
    cv : int >= 2, default=5
        Number of cross-validation folds over stimuli.
    seed : int or None, default=0
        Seed of the fold assignment: the folds are exactly those of
        ``sklearn.model_selection.KFold(cv, shuffle=True, random_state=seed)``
        (NumPy's legacy ``RandomState`` permutation, stable across versions).
        ``None``: contiguous folds in stimulus order (``KFold(cv)``).
    score : {"pearson", "r2"}, default="pearson"
        Per unit of Y, the Pearson r (Brain-Score) or the coefficient of
        determination ``1 - SS_res / SS_tot`` (``sklearn.metrics.r2_score``) of
        the out-of-fold predictions against the truth, computed once over all n
        stimuli after concatenating the folds' predictions (not averaged over
        folds); the measure is the mean over units.

    Notes
    -----
    PLS2 (Wold's NIPALS in regression mode, Wegelin 2000) extracts, for
    k = 1..K, the weight ``w_k``: the dominant left singular vector of
    ``X_k^T Y``; the scores ``t_k = X_k w_k``; the loadings
    ``p_k = X_k^T t_k / t_k^T t_k`` and ``q_k = Y^T t_k / t_k^T t_k``; and
    deflates ``X_{k+1} = X_k - t_k p_k^T``. The regression coefficients are
    ``B = W (P^T W)^{-1} Q^T``.

    Here ``w_k`` comes from a direct eigendecomposition (of the smaller Gram
    matrix of ``X_k^T Y``) rather than from power iterations stopped at a
    tolerance, so it is the limit that NIPALS converges to (scikit-learn's
    ``tol=1e-6`` stops early, which moves values by up to ~1e-4; with a tight
    ``tol`` the two agree to rounding). Since PLS is equivariant to rotations
    of X, everything runs in the coordinates of the fold's SVD ``X_c = U S V^T``:
    ``X_1 = diag(S)`` (r x r) and ``U^T Y_c`` (r x d_y), with the held-out
    rows given by ``(X_test - mean) V``; ``prepare`` holds these factors and a
    pair costs ``O(cv (n r d_y + K r d_y min(r, d_y)))``.

    The value is invariant to translations and scalings of X and Y, to
    rotations of X and to permutations of either's units. ``pls(X, X)`` is 1
    only when ``n_components`` reaches the rank of X's training folds.

    References
    ----------
    Schrimpf et al. (2018). Brain-Score: which artificial neural network for
    object recognition is most brain-like? bioRxiv 407007.

    Yamins et al. (2014). Performance-optimized hierarchical models predict
    neural responses in higher visual cortex. PNAS 111(23).

    Wegelin (2000). A survey of partial least squares (PLS) methods, with
    emphasis on the two-block case. Technical report 371, Univ. of Washington.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10))
    >>> Y = X @ rng.standard_normal((10, 4)) + 0.1 * rng.standard_normal((100, 4))
    >>> round(repalign.measure("pls", X, Y), 3)  # 10 components: least squares
    0.999
    >>> round(repalign.measure("pls", X, Y, n_components=2), 3)
    0.524
    """

    n_components: int = 25
    cv: int = 5
    seed: int | None = 0
    score: str = "pearson"

    name = "pls"
    references = (
        _BRAINSCORE,
        _YAMINS,
        "Wegelin (2000). A survey of partial least squares (PLS) methods, with emphasis "
        "on the two-block case. Technical report 371, University of Washington.",
    )
    cost = ("prepare O(cv n d min(n, d)), pair O(cv (n r d_y + K r d_y min(r, d_y))), "
            "r = rank <= min(n, d_x), K = min(n_components, r)")
    _constraints = {
        "n_components": Interval(1, None, integer=True),
        "cv": Interval(2, None, integer=True),
        "seed": Interval(0, 2**32 - 1, integer=True, allow_none=True),
        "score": Options("pearson", "r2"),
    }
    capabilities = dataclasses.replace(_Predictor.capabilities, differentiable_refusal=(
        f"{NOT_IMPLEMENTED}: its weights are dominant singular vectors of deflated "
        "cross-covariances, recomputed in a loop, whose gradients are unstable where "
        "their singular values meet; use ridge"))

    @property
    def invariances(self):
        return ("isotropic_scale", "translation", "permutation")

    def _fit_predict(self, data, f, Yc_train, xp):
        U, S = data[f"basis{f}"], data[f"sv{f}"]
        test = data[f"test_scores{f}"]
        r, t = S.shape[0], Yc_train.shape[1]
        n_components = min(self.n_components, r)
        if n_components == 0:  # X constant on this training fold: predict the mean
            return xp.zeros((test.shape[0], t), dtype=test.dtype, device=device(test))
        Z = U.T @ Yc_train
        Xk = S[:, None] * xp.eye(r, dtype=S.dtype, device=device(S))
        C = S[:, None] * Z  # X_k^T Y in the SVD coordinates
        weights, x_loadings, y_loadings = [], [], []
        for _ in range(n_components):
            w = _dominant_left_singular_vector(C, xp)
            scores = Xk @ w
            tt = xp.vecdot(scores, scores)
            p = (Xk.T @ scores) / tt
            g = Z.T @ scores
            Xk = Xk - scores[:, None] * p[None, :]
            C = C - p[:, None] * g[None, :]
            weights.append(w)
            x_loadings.append(p)
            y_loadings.append(g / tt)
        W = xp.stack(weights, axis=1)
        P = xp.stack(x_loadings, axis=1)
        Q = xp.stack(y_loadings, axis=1)
        return test @ (W @ xp.linalg.solve(P.T @ W, Q.T))


# --------------------------------------------------------------------------------------
# In-sample linear regression


@register
@dataclass(frozen=True)
class LinearRegression(_Predictor):
    """In-sample R^2 of the least-squares fit of Y from X (ReSi's linear regression).

    .. math::

        R^2(X \\to Y) = 1 - \\frac{\\|Y_c - X_c X_c^+ Y_c\\|_F^2}{\\|Y_c\\|_F^2}
            = \\frac{\\|Q_x^T Y_c\\|_F^2}{\\|Y_c\\|_F^2},

    with centred ``X_c``, ``Y_c`` and ``Q_x`` an orthonormal basis of the column
    space of ``X_c``: the fraction of Y's total variance that a linear map of X
    (with intercept) explains, pooled over Y's units.

    Held out (``held_out``, :func:`repalign.cross_validate`), the least-squares
    map (minimum norm) fitted on training stimuli predicts the held-out ones,
    scored by the same pooled R^2 over the held-out stimuli:
    ``1 - ||Y_test - Y_pred||_F^2 / ||Y_test - mean(Y_test)||_F^2``
    (``sklearn.metrics.r2_score(..., multioutput="variance_weighted")``).

    Notes
    -----
    ReSi's ``linear_reg(R, Rp)`` computes ``||Q^T R_c||_F^2 / ||R_c||_F^2`` with
    ``Q = Rp_c (Rp_c^T Rp_c)^{-1/2}``, predicting its first argument from its
    second: ``linear_regression(X, Y)`` equals ReSi's ``linear_reg(Y, X)``.
    ``prepare`` takes a rank-revealing thin SVD ``X_c = U S V^T`` and keeps
    ``U`` and ``S`` (a rank-deficient X is handled, where ReSi's inverse square
    root fails); with ``Y_c = U_y S_y V_y^T``, ``pair`` is
    ``||U_x^T U_y S_y||_F^2 / ||S_y||^2``, O(n r_x r_y).

    The value is invariant to invertible linear maps and translations of X, and
    to rotations, scalings, translations and permutations of Y. When X spans
    all n - 1 centred dimensions, any Y is fitted exactly (value 1) and a
    :class:`~repalign.DegenerateWarning` is issued.

    References
    ----------
    Klabunde, Wald, Schumacher, Maier-Hein, Strohmaier & Lemmerich (2025).
    ReSi: A comprehensive benchmark for representational similarity measures. ICLR.

    Klabunde, Schumacher, Strohmaier & Lemmerich (2025). Similarity of neural
    network models: a survey of functional and representational measures.
    arXiv:2305.06329.

    Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
    representations revisited. ICML.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 6))
    >>> Y = X[:, :3] @ rng.standard_normal((3, 4)) + 1.0
    >>> round(repalign.measure("linear_regression", X, Y), 12)
    1.0
    """

    name = "linear_regression"
    kind = "similarity"
    references = (
        RESI,
        SIMILARITY_SURVEY,
        KORNBLITH,
    )
    cost = "prepare O(n d min(n, d)), pair O(n r_x r_y)"
    _constraints = {}
    _stimulus_axes = {"basis": (0,), "centered": (0,)}
    capabilities = dataclasses.replace(_Predictor.capabilities, permutation=True,
                                       differentiable=True)

    @property
    def symmetric(self):
        return False

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "translation", "permutation")

    def _prepare(self, X, xp):
        Xc = center_columns(X, xp)
        if requires_grad(Xc):  # a basis with the projector of U, differentiably
            basis, rank = projector_scores(Xc)
            return {"basis": basis, "rank": rank, "centered": Xc}
        U, S, _ = orthonormal_basis(Xc, xp)
        return {"basis": U, "sv": S}

    def _pair(self, a, b, xp):
        n, rank = a.n_stimuli, a.data.get("rank", a.data["basis"].shape[1])
        if rank >= n - 1:
            warnings.warn(
                f"{self.name}: X has rank {rank} with {n} stimuli, so it spans all n - 1 "
                "centred dimensions and fits any Y exactly (R^2 = 1); the value is "
                "meaningless. Use more stimuli than features, or a cross-validated "
                "measure (ridge, pls).",
                DegenerateWarning, stacklevel=3,
            )
        if "centered" in a.data or "centered" in b.data:  # on an autograd graph
            # ||P_x Y_c||^2 / ||Y_c||^2 with Y_c, or U_y S_y (equal up to a rotation).
            Yc = b.data["centered"] if "centered" in b.data else b.data["basis"] * b.data["sv"]
            explained = a.data["basis"].T @ Yc
            return xp.sum(explained * explained) / xp.sum(Yc * Yc)
        S = b.data["sv"]
        explained = (a.data["basis"].T @ b.data["basis"]) * S[None, :]
        return xp.sum(explained * explained) / xp.sum(S * S)

    def _fit_predict(self, data, f, Yc_train, xp):
        # Minimum-norm least squares: V diag(1 / S) U^T Y_c on the held-out rows.
        return data[f"test_scores{f}"] @ ((data[f"basis{f}"].T @ Yc_train)
                                          / data[f"sv{f}"][:, None])

    def _held_out_score(self, pred, Y_test, xp):
        Yc = center_columns(Y_test, xp)
        total = xp.sum(Yc * Yc)
        if not float(total) > 0:
            raise ValueError("Y_test does not vary across the held-out stimuli; "
                             "their R^2 is undefined. Use larger held-out sets (fewer folds).")
        resid = Y_test - pred
        return 1 - xp.sum(resid * resid) / total
