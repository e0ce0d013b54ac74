"""Cross-validated measures: fit on training stimuli, evaluate on held-out ones.

A shape metric finds the best alignment of two representations, and a
predictivity measure the best linear map from one to the other, on the very
stimuli it then scores: with few stimuli and many features that optimism can
dominate the value. :func:`cross_validate` learns the alignment (or the map) on
training stimuli and evaluates it on held-out stimuli, fold by fold.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._array_api import namespace_and_device
from .._validation import Interval, check_pair
from ..measures import get, list_measures
from ..measures.predictivity import kfold_blocks

__all__ = ["cross_validate", "CVResult"]

#: Parameters of a measure's own folds (ridge, pls), superseded by cross_validate's.
_FOLD_PARAMETERS = ("cv", "seed")

_SEED = Interval(0, 2**32 - 1, integer=True, allow_none=True)


def _supported() -> list[str]:
    """The registered measures that can be evaluated on held-out stimuli."""
    return [m.name for m in list_measures() if get(m.name).capabilities.held_out]


@dataclass(frozen=True)
class CVResult:
    """Held-out values of a measure, fold by fold, from :func:`cross_validate`.

    Attributes
    ----------
    values : tuple of float
        The measure on each fold's held-out stimuli, under the alignment or
        map learned on that fold's training stimuli.
    mean, std : float
        Mean and standard deviation (``ddof=0``, as ``numpy.std``) of ``values``.
    measure : str
        The measure's name.
    params : dict
        The measure's parameters (without its own ``cv`` and ``seed``, which
        the folds here replace).
    folds : tuple of (tuple of int, tuple of int)
        The (training, held-out) stimulus indices of each fold.
    n_stimuli : int
        Number of stimuli of the inputs.
    """

    values: tuple[float, ...]
    measure: str
    params: dict
    folds: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]
    n_stimuli: int
    mean: float = field(init=False)
    std: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", float(np.mean(self.values)))
        object.__setattr__(self, "std", float(np.std(self.values)))

    def __repr__(self) -> str:
        shown = ", ".join(f"{v:.4g}" for v in self.values[:6])
        more = f", ... ({len(self.values)} folds)" if len(self.values) > 6 else ""
        return (f"CVResult(measure={self.measure!r}, mean={self.mean:.4g}, std={self.std:.4g}, "
                f"values=({shown}{more}), n_folds={len(self.values)}, "
                f"n_stimuli={self.n_stimuli}, params={self.params})")

    def to_dict(self) -> dict:
        """The result as plain Python types (JSON-serialisable for JSON-able params)."""
        return {
            "measure": self.measure,
            "params": dict(self.params),
            "values": list(self.values),
            "mean": self.mean,
            "std": self.std,
            "n_stimuli": self.n_stimuli,
            "folds": [{"train": list(train), "test": list(test)} for train, test in self.folds],
        }


def _kfold(n: int, cv, seed) -> tuple:
    """The folds of ``KFold(cv, shuffle=True, random_state=seed)``, sorted as scikit-learn's."""
    if isinstance(cv, bool) or not isinstance(cv, numbers.Integral):
        raise TypeError(f"cv must be an int or a sequence of (train, test) index pairs; "
                        f"got {cv!r} of type {type(cv).__name__}")
    if not 2 <= cv <= n:
        raise ValueError(f"cv={cv} folds is not possible with {n} stimuli; expected 2 <= cv <= {n}")
    order, bounds = kfold_blocks(n, int(cv), seed)
    order = np.arange(n) if order is None else order
    folds = []
    for start, stop in zip(bounds, bounds[1:]):
        held = np.zeros(n, dtype=bool)
        held[order[start:stop]] = True
        folds.append((np.flatnonzero(~held), np.flatnonzero(held)))
    return tuple(folds)


def _indices(idx, n: int, where: str) -> np.ndarray:
    """One side of an explicit split as a 1-D array of distinct indices in [0, n)."""
    arr = np.asarray(idx)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"cv: {where} must be a non-empty 1-D sequence of stimulus indices; "
                         f"got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"cv: {where} must hold integer stimulus indices (not a boolean mask); "
                        f"got dtype {arr.dtype}")
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        raise ValueError(f"cv: {where} has indices {bad[:5].tolist()} outside [0, {n}) "
                         f"for {n} stimuli")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"cv: {where} lists a stimulus more than once")
    return arr.astype(np.int64)


def _explicit(n: int, cv) -> tuple:
    """Validated (train, test) index pairs of an explicit split."""
    if isinstance(cv, (str, bytes)) or not isinstance(cv, Sequence) or not cv:
        raise TypeError("cv must be an int or a non-empty sequence of (train, test) index "
                        f"pairs; got {cv!r}")
    folds = []
    for i, split in enumerate(cv):
        if isinstance(split, (str, bytes)) or not isinstance(split, Sequence) or len(split) != 2:
            raise ValueError(f"cv: split {i} must be a (train_indices, test_indices) pair; "
                             f"got {split!r}")
        train = _indices(split[0], n, f"the training indices of split {i}")
        test = _indices(split[1], n, f"the test indices of split {i}")
        shared = np.intersect1d(train, test)
        if shared.size:
            raise ValueError(f"cv: split {i} uses stimuli {shared[:5].tolist()} for both "
                             "training and testing; the two sets must be disjoint")
        folds.append((train, test))
    return tuple(folds)


def cross_validate(X, Y, measure: str = "procrustes", cv=5, seed: int | None = 0,
                   **params) -> CVResult:
    """A measure learned on training stimuli and evaluated on held-out ones, fold by fold.

    For shape metrics, the centring (training means), the partial whitening
    (from the training covariance, ``alpha``) and the optimal rotation are
    learned on the training stimuli and applied to the held-out ones, where the
    distance is computed (Williams et al. 2021; netrep's
    ``LinearMetric.fit(X_train, Y_train).score(X_test, Y_test)``):

    .. math::

        d_\\text{test} = \\arccos \\frac{\\langle (X_\\text{te} - \\bar x) W_x,
            (Y_\\text{te} - \\bar y) W_y \\rangle_F}
            {\\|(X_\\text{te} - \\bar x) W_x\\|_F \\, \\|(Y_\\text{te} - \\bar y) W_y\\|_F}

    (``bures`` and ``distance="euclidean"``: the Frobenius norm of the
    difference; ``nbs``: the cosine). For predictivity measures, the linear map
    from X to Y is fitted on the training stimuli (``ridge``: a penalty per unit
    of Y by leave-one-out GCV within the training set; ``pls``; and
    ``linear_regression``: least squares) and the held-out predictions are
    scored on each fold's held-out stimuli alone: per unit of Y and averaged
    for ``ridge``/``pls`` (``score="pearson"`` or ``"r2"``), pooled over units
    for ``linear_regression`` (its in-sample definition).

    Parameters
    ----------
    X : array of shape (n_stimuli, n_features_x)
    Y : array of shape (n_stimuli, n_features_y)
        Two representations of the same stimuli in the same order; for
        predictivity, X predicts Y.
    measure : str, default="procrustes"
        One of ``bures``, ``linear_regression``, ``nbs``, ``pls``,
        ``procrustes``, ``ridge``, ``shape_metric``.
    cv : int or sequence of (train_indices, test_indices), default=5
        An int: that many folds over the stimuli, exactly those of
        ``sklearn.model_selection.KFold(cv, shuffle=True, random_state=seed)``
        (2 <= cv <= n_stimuli). A sequence: explicit splits, each a pair of
        non-empty, disjoint sequences of distinct integer stimulus indices.
    seed : int or None, default=0
        Seed of the shuffle of the k-fold split (None: contiguous folds in
        stimulus order). Ignored for explicit splits.
    **params
        Parameters of the measure (e.g. ``alpha`` and ``distance`` of
        ``shape_metric``, ``alphas`` and ``score`` of ``ridge``). The ``cv`` and
        ``seed`` of ``ridge`` and ``pls`` are replaced by those above.

    Returns
    -------
    CVResult
        The per-fold held-out values, their mean and standard deviation, and
        the folds.

    Raises
    ------
    ValueError
        For an unknown or unsupported measure, invalid parameters, mismatched
        X and Y, an impossible ``cv``, an invalid explicit split, or a fold on
        which the measure is undefined (the message names the fold).
    TypeError
        For a ``cv`` or ``seed`` of the wrong type or an unknown parameter.

    Notes
    -----
    Held-out values are honest but not comparable with in-sample ones: nothing
    is optimised on the held-out stimuli, so a held-out angle can exceed pi/2
    and a held-out similarity can be negative. With noisy data the held-out
    distance is larger than the in-sample one (the in-sample alignment fits
    the noise). For ``ridge`` and ``pls``, scoring the concatenated held-out
    predictions of all folds at once (pooled) is what the measures themselves
    compute: ``repalign.measure("ridge", X, Y, cv=cv, seed=seed)``.

    References
    ----------
    Williams, Kunz, Kornblith & Linderman (2021). Generalized shape metrics on
    neural representations. NeurIPS.

    Schrimpf et al. (2018). Brain-Score: which artificial neural network for
    object recognition is most brain-like? bioRxiv 407007.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 5))
    >>> Y = X @ rng.standard_normal((5, 5)) + 0.5 * rng.standard_normal((60, 5))
    >>> result = repalign.cross_validate(X, Y, "procrustes", cv=5, seed=0)
    >>> len(result.values), result.mean > repalign.measure("procrustes", X, Y)
    (5, True)
    """
    supported = _supported()
    if isinstance(measure, str) and measure not in supported:
        get(measure)  # an unknown name fails here, listing the registered ones
        raise ValueError(f"cross_validate: measure {measure!r} cannot be cross-validated; "
                         f"expected one of {supported}")
    m = get(measure, **params)
    _SEED.check("cross_validate", "seed", seed)
    X, Y = check_pair(X, Y)
    n = X.shape[0]
    if isinstance(cv, numbers.Integral):
        folds = _kfold(n, cv, seed)
    else:
        folds = _explicit(n, cv)
    xp, dev = namespace_and_device(X, Y)
    values = []
    for i, (train, test) in enumerate(folds):
        train_idx, test_idx = xp.asarray(train, device=dev), xp.asarray(test, device=dev)
        try:
            value = m.held_out(xp.take(X, train_idx, axis=0), xp.take(Y, train_idx, axis=0),
                               xp.take(X, test_idx, axis=0), xp.take(Y, test_idx, axis=0))
        except ValueError as err:
            raise ValueError(f"cross_validate: fold {i} ({train.size} training, {test.size} "
                             f"held-out stimuli): {err}") from err
        values.append(value)
    return CVResult(
        values=tuple(values),
        measure=m.name,
        params={k: v for k, v in m.params.items() if k not in _FOLD_PARAMETERS},
        folds=tuple((tuple(train.tolist()), tuple(test.tolist())) for train, test in folds),
        n_stimuli=n,
    )
