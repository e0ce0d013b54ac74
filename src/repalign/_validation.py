"""Input checks: the one place where bad input is caught.

Every public entry point passes its arrays through :func:`check_representation`
or :func:`check_pair` and its parameters through a :class:`Constraint`. Errors
name the argument, what was expected and what came.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from ._array_api import floating_dtype, namespace_and_device, to_numpy
from .exceptions import DegenerateWarning

__all__ = [
    "check_representation",
    "check_pair",
    "check_variation",
    "check_magnitude",
    "rescaled",
    "constant_columns",
    "check_held_out",
    "check_indices",
    "check_finite",
    "as_array",
    "Options",
    "Interval",
]


def as_array(X, name: str):
    """Return ``X`` itself if it is an array of a supported library, else NumPy.

    NumPy arrays and anything NumPy can convert must hold numbers.
    """
    if array_api_compat.is_array_api_obj(X) and not isinstance(X, (np.ndarray, np.generic)):
        return X
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be an array of shape (n_stimuli, n_features); "
            f"got {type(X).__name__} that cannot be converted to an array"
        ) from err
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(
            f"{name} must hold real numbers; got {type(X).__name__} with dtype {arr.dtype}"
        )
    return arr


def check_finite(X, name: str, xp) -> None:
    """Raise ``ValueError`` if ``X`` holds NaN or infinite values."""
    if bool(xp.all(xp.isfinite(X))):
        return
    n_bad = int(xp.sum(xp.astype(~xp.isfinite(X), xp.int64)))
    n_nan = int(xp.sum(xp.astype(xp.isnan(X), xp.int64)))
    raise ValueError(
        f"{name} must be finite; got {n_nan} NaN and {n_bad - n_nan} infinite "
        f"value(s) among {math.prod(X.shape)} entries. Remove or impute them first."
    )


def check_representation(X, name: str = "X", *, min_stimuli: int = 3, needed_by: str = "this"):
    """Validate one representation and return it as a floating array.

    Parameters
    ----------
    X : array of shape (n_stimuli, n_features)
        Any array of a library supported by array-api-compat, or anything
        NumPy can convert. Integer and boolean inputs become float64;
        float32 stays float32; float16 and bfloat16 become float32.
    name : str, default="X"
        The argument name used in error messages.
    min_stimuli : int, default=3
        The fewest stimuli (rows) the caller can work with.
    needed_by : str, default="this"
        Who needs them, in the error (e.g. ``"mutual_knn with k=30"``).

    Returns
    -------
    X : array of shape (n_stimuli, n_features)
        The same library and device as the input, real floating dtype.

    Raises
    ------
    TypeError
        If ``X`` is not numeric or is complex.
    ValueError
        If ``X`` is not 2-D, has too few stimuli or no features, or holds NaN
        or infinite values.
    """
    X = as_array(X, name)
    xp = array_api_compat.array_namespace(X)
    if X.ndim != 2:
        hint = " (a single stimulus or feature? reshape to (n_stimuli, 1))" if X.ndim == 1 else ""
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_stimuli, n_features); "
            f"got a {X.ndim}-D array of shape {tuple(X.shape)}{hint}"
        )
    if xp.isdtype(X.dtype, "complex floating"):
        raise TypeError(f"{name} must be real; got complex dtype {X.dtype}")
    dtype = floating_dtype(xp, X.dtype)
    if dtype != X.dtype:
        X = xp.astype(X, dtype)
    n, d = X.shape
    if n < min_stimuli:
        raise ValueError(
            f"{name} has {n} stimuli (rows) but {needed_by} needs at least {min_stimuli}"
        )
    if d < 1:
        raise ValueError(f"{name} has no features (shape {tuple(X.shape)})")
    check_finite(X, name, xp)
    return X


#: A representation whose centred values are within this many times their rounding
#: error does not vary across stimuli (a dead layer stored in float32).
ROUNDING_FLOOR = 4.0
#: Below this many times their rounding error, centred values keep fewer than 3 digits.
FEW_DIGITS = 1e3
#: Rows read by the quick pass of :func:`check_variation`.
_SAMPLE_ROWS = 1024


def _variation(X, xp):
    """Per column: the centred sum of squares and the rounding noise bound, in units of max|X|.

    Columns whose stored values are all equal contribute no rounding noise
    (their stored values are equal: centred, they are 0); every other column ``j`` may carry an
    error of ``eps * max_i |X_ij|`` in each of its ``n`` entries.
    """
    top = float(xp.max(xp.abs(X)))
    if top == 0.0:
        zeros = xp.zeros(X.shape[1], dtype=X.dtype)
        return zeros, zeros
    Z = X / top
    varies = xp.astype(xp.any(X != X[0:1, :], axis=0), X.dtype)  # exact: stored values
    centred = Z - xp.mean(Z, axis=0, keepdims=True)
    sum_sq = varies * xp.sum(centred * centred, axis=0)
    eps = float(xp.finfo(X.dtype).eps)
    noise_sq = varies * X.shape[0] * (eps * xp.max(xp.abs(Z), axis=0)) ** 2
    return sum_sq, noise_sq


def check_variation(X, name: str, xp) -> None:
    """Refuse a representation that varies only by rounding; warn when few digits remain.

    With ``S`` the norm of the column-centred ``X`` and ``N`` the bound on its
    rounding error (``eps`` of the dtype times each varying column's largest
    magnitude, over its ``n`` entries), ``S <= 4 N`` means the stimuli differ
    only by rounding: a dead layer (a constant ReLU block, a bias-only output)
    stored in float32, on which every measure would compare noise (linear CKA
    and CCA of two such layers come out near 1). ``S < 1000 N`` (a large
    common offset in float32) leaves fewer than three significant digits in
    the variation, and a :class:`~repalign.DegenerateWarning` says so.

    A strided sample of at most 1024 rows is examined first; the whole
    representation only when the sample is not clearly varying.

    Raises
    ------
    ValueError
        If ``X`` does not vary across stimuli beyond rounding (exactly constant
        included); the message starts with ``name``.
    """
    step = max(1, X.shape[0] // _SAMPLE_ROWS)
    if step > 1:
        sum_sq, noise_sq = _variation(X[::step, :], xp)
        if float(xp.sum(sum_sq)) > (10 * FEW_DIGITS) ** 2 * float(xp.sum(noise_sq)):
            return
    sum_sq, noise_sq = _variation(X, xp)
    signal, noise = math.sqrt(float(xp.sum(sum_sq))), math.sqrt(float(xp.sum(noise_sq)))
    if signal <= ROUNDING_FLOOR * noise:
        detail = (f"all {X.shape[0]} rows are equal" if signal == 0 else
                  f"its rows differ by {signal / noise:.2g} times the rounding error of "
                  f"{X.dtype} at most: a constant (dead) layer stored with rounding")
        raise ValueError(
            f"{name} does not vary across stimuli ({detail}); it carries no information "
            "about the stimuli, so no comparison of it is meaningful. Drop it (check for "
            "dead units or a collapsed layer)"
        )
    if signal < FEW_DIGITS * noise:
        warnings.warn(
            f"{name} varies across stimuli by only {signal / noise:.3g} times the rounding "
            f"error of its values in {X.dtype} (a large common offset, or a nearly constant "
            f"layer): its variation keeps about {math.log10(signal / noise):.1f} significant "
            "digits, and so does the result. Subtract the offset before storing it, or "
            "store float64", DegenerateWarning, stacklevel=4,
        )


def constant_columns(X, xp) -> list[int]:
    """Indices of the columns that do not vary across stimuli beyond rounding.

    A column is constant when its centred values are within ``ROUNDING_FLOOR``
    times its rounding error (``eps * max|X_j|`` per entry), exactly equal
    values included: a dead unit stored in float32 is constant, not a unit
    whose noise a correlation would read as signal.
    """
    sum_sq, noise_sq = _variation(X, xp)
    constant = sum_sq <= ROUNDING_FLOOR ** 2 * noise_sq
    if not bool(xp.any(constant)):
        return []
    return np.flatnonzero(to_numpy(constant, xp)).tolist()


def check_magnitude(X, name: str, xp) -> None:
    """Refuse values whose powers overflow or underflow the dtype.

    Measures that are not scale-invariant compute sums of squares of the
    values, and some squares of squares (squared distances compared by their
    squared differences): ``max|X|^4 * n * d`` must stay below the dtype's
    largest finite number, and ``max|X|^4`` above its smallest normal number
    times 1e4 (or they lose their digits in subnormals). In float64 that
    allows magnitudes from about 1e-76 to 1e76.
    """
    top = float(xp.max(xp.abs(X)))
    info = xp.finfo(X.dtype)
    if top == 0.0:
        return
    largest = (float(info.max) / math.prod(X.shape)) ** 0.25
    smallest = (float(info.smallest_normal) * 1e4) ** 0.25
    if not smallest <= top <= largest:
        raise ValueError(
            f"{name} has values of magnitude up to {top:.3g}, outside [{smallest:.2g}, "
            f"{largest:.2g}], where the powers this measure computes overflow or underflow "
            f"{X.dtype}; rescale it (this measure is not scale-invariant, so the unit matters)"
        )


def rescaled(X, xp):
    """``X`` divided by the power of two nearest its largest magnitude (exact).

    Dividing by a power of two changes no digit of any value (barring
    subnormals), so a scale-invariant measure gives the same value, while
    values of 1e150 or 1e-150 no longer overflow or underflow when squared.
    """
    top = float(xp.max(xp.abs(X)))
    if top == 0.0:
        return X
    _, exponent = math.frexp(top)
    return X * math.ldexp(1.0, -exponent) if exponent else X


def check_pair(X, Y, *, min_stimuli: int = 3, names: tuple[str, str] = ("X", "Y"),
               needed_by: str = "this"):
    """Validate two representations of the same stimuli.

    Both must pass :func:`check_representation`, have the same number of rows
    (the same stimuli in the same order) and share one array library and device.
    Mixed float32/float64 inputs are computed in float64.

    Returns
    -------
    X, Y : arrays
        Validated arrays of one floating dtype.
    """
    X = check_representation(X, names[0], min_stimuli=min_stimuli, needed_by=needed_by)
    Y = check_representation(Y, names[1], min_stimuli=min_stimuli, needed_by=needed_by)
    xp, _ = namespace_and_device(X, Y, names=names)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{names[0]} has {X.shape[0]} stimuli but {names[1]} has {Y.shape[0]}; "
            "rows must be the same stimuli in the same order"
        )
    if X.dtype != Y.dtype:
        dtype = xp.result_type(X.dtype, Y.dtype)
        X, Y = xp.astype(X, dtype), xp.astype(Y, dtype)
    return X, Y


def check_held_out(X, name: str, *, n_features: int, like):
    """Validate held-out stimuli of a representation against what was fitted on it.

    Parameters
    ----------
    X : array of shape (n_test, n_features)
        Held-out stimuli, already through :func:`check_representation`.
    name : str
        The argument name used in error messages.
    n_features : int
        The number of features the fitted state expects.
    like : array
        An array of the fitted state (training rows or a fitted map): ``X``
        must share its library and device, and is cast to its dtype.

    Returns
    -------
    X : array
        ``X`` in the dtype of ``like``.
    """
    xp, _ = namespace_and_device(like, X, names=("the fitted state", name))
    if X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features but the training stimuli had {n_features}; "
            "held-out stimuli must have the training features, in the same order"
        )
    return X if X.dtype == like.dtype else xp.astype(X, like.dtype)


def check_indices(idx, n: int, *, name: str = "idx", permutation: bool = False) -> np.ndarray:
    """Validate stimulus indices into a representation of ``n`` stimuli.

    Parameters
    ----------
    idx : array of int, shape (k,)
        Row indices (any array library, or a sequence); they may repeat.
    n : int
        The number of stimuli they index.
    name : str, default="idx"
        The argument name used in error messages.
    permutation : bool, default=False
        Require a permutation of ``0..n-1`` (every stimulus exactly once).

    Returns
    -------
    ndarray of int64, shape (k,)
        On the host: callers move it to their arrays' library and device.
    """
    arr = np.asarray(to_numpy(as_array(idx, name)))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of stimulus indices; got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers (stimulus indices); got dtype {arr.dtype}")
    if arr.size == 0 or arr.min() < 0 or arr.max() >= n:
        got = f"values from {arr.min()} to {arr.max()}" if arr.size else "no index"
        raise ValueError(f"{name} must hold indices in [0, {n}); got {got}")
    if permutation and (arr.shape[0] != n or np.unique(arr).shape[0] != n):
        raise ValueError(
            f"{name} must be a permutation of 0..{n - 1} (each of the {n} stimuli once); "
            f"got {arr.shape[0]} indices of which {np.unique(arr).shape[0]} distinct"
        )
    return arr.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------
# Declarative parameter constraints (as scikit-learn's ``_parameter_constraints``).


@dataclass(frozen=True)
class Options:
    """The parameter must be one of a fixed set of values."""

    values: tuple

    def __init__(self, *values):
        object.__setattr__(self, "values", tuple(values))

    def check(self, owner: str, name: str, value: Any) -> None:
        if not any(value == v and type(value) is type(v) for v in self.values):
            raise ValueError(
                f"{owner}: {name}={value!r} is not valid; expected one of "
                f"{sorted(self.values, key=repr)}"
            )

    def describe(self) -> str:
        return " | ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class Interval:
    """The parameter must be a real (or integer) number in an interval.

    Parameters
    ----------
    low, high : float or None
        Bounds; None means unbounded.
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.
    integer : bool
        Whether only integers are allowed.
    allow_none : bool
        Whether ``None`` is also accepted.
    """

    low: float | None = None
    high: float | None = None
    closed: str = "both"
    integer: bool = False
    allow_none: bool = False

    def check(self, owner: str, name: str, value: Any) -> None:
        if value is None and self.allow_none:
            return
        kind = numbers.Integral if self.integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            expected = "an integer" if self.integer else "a real number"
            raise TypeError(
                f"{owner}: {name} must be {expected} in {self.describe()}; "
                f"got {value!r} of type {type(value).__name__}"
            )
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        if not (lo_ok and hi_ok and math.isfinite(value)):
            raise ValueError(f"{owner}: {name}={value!r} is not in {self.describe()}")

    def describe(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        text = f"{left}{lo}, {hi}{right}"
        return text + (" or None" if self.allow_none else "")
