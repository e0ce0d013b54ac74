"""Which interval repalign prints by default: only those whose coverage was measured.

``benchmarks/coverage.py`` draws 1000 data sets per cell from two generative
models with known population values (Gaussian; heavy-tailed and nonlinear,
"t-tanh"), at n = 30, 60 and 200 stimuli, and counts how often the 95 %
jackknife interval (:mod:`repalign.inference.jackknife`) contains the
population value. :data:`MEASURED` holds, for each configuration it measured,
the *lowest* coverage over both models at n = 60 and n = 200 (seed 0,
2026-12-05; the full table is in ``benchmarks/RESULTS.md``).

The default interval (``interval="auto"`` in :func:`repalign.compare`, the grid
and the CLI) is the jackknife interval where that lowest coverage is
consistent with :data:`TARGET` (it is at least ``TARGET - 2 se``, ``se`` its
Monte-Carlo standard error), and no interval otherwise, with the reason:
an interval that misses the population value more often than it says is a
wrong number, not a conservative one. Linear CKA's biased and unbiased
estimators share one population value, so the interval of biased linear CKA
is the unbiased estimator's jackknife interval (its own jackknife, measured
at 0.903, keeps part of the O(1/n) bias). Measures that cross-validate over
folds of the stimuli (``cv``: ridge, pls) get no jackknife interval at all:
the value on all stimuli and each value without one stimulus use different
folds, and the bias correction multiplies their difference by ``n - 1``
(ridge: coverage 0.093).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from ..exceptions import DegenerateWarning
from ..measures import Measure, get

__all__ = ["TARGET", "MEASURED", "Coverage", "IntervalChoice", "choose_interval"]

#: The coverage a printed 95 % interval must reach (issue target: 0.93 at n >= 60).
TARGET = 0.93


@dataclass(frozen=True)
class Coverage:
    """The measured coverage of the 95 % jackknife interval for one configuration.

    Attributes
    ----------
    measure : str
        The measure's registry name.
    params : dict
        The parameters the configuration fixes (others may take any value).
    lowest : float
        The lowest coverage over both generative models at n = 60 and 200.
    se : float
        Its Monte-Carlo standard error, ``sqrt(p (1 - p) / 1000)``.
    where : str
        The cell of the lowest coverage.
    """

    measure: str
    params: dict = field(default_factory=dict)
    lowest: float = float("nan")
    se: float = float("nan")
    where: str = ""

    def matches(self, m: Measure) -> bool:
        """Whether ``m`` is this configuration."""
        return m.name == self.measure and all(m.params.get(k) == v
                                              for k, v in self.params.items())

    @property
    def valid(self) -> bool:
        """Whether the lowest coverage is within two standard errors of :data:`TARGET`."""
        return self.lowest + 2 * self.se >= TARGET


#: Measured by ``benchmarks/coverage.py`` (seed 0, 1000 data sets per cell).
MEASURED = (
    Coverage("cka", {"kernel": "linear", "estimator": "unbiased"}, 0.920, 0.009,
             "t-tanh, n = 200"),
    Coverage("cka", {"kernel": "linear", "estimator": "biased"}, 0.903, 0.009,
             "t-tanh, n = 60"),
    Coverage("rsa", {"rdm": "correlation", "compare": "spearman"}, 0.946, 0.007,
             "t-tanh, n = 200"),
    Coverage("procrustes", {}, 0.883, 0.010, "t-tanh, n = 60"),
    Coverage("nbs", {}, 0.889, 0.010, "t-tanh, n = 200"),
    Coverage("cca", {"statistic": "mean_r"}, 0.784, 0.013, "t-tanh, n = 200"),
    Coverage("ridge", {"cv": 5, "score": "pearson"}, 0.093, 0.009, "gaussian, n = 200"),
    Coverage("linear_regression", {}, 0.857, 0.011, "t-tanh, n = 200"),
)

#: Configurations whose interval is that of another estimator of the same population value.
_SAME_POPULATION = (
    (Coverage("cka", {"kernel": "linear", "estimator": "biased"}), {"estimator": "unbiased"}),
)


@dataclass(frozen=True)
class IntervalChoice:
    """The interval a comparison gets, and why.

    Attributes
    ----------
    method : {"jackknife", "bootstrap"} or None
        None when no interval is given.
    measure : Measure or None
        The estimator whose jackknife gives the interval, when it is not the
        compared measure itself (biased linear CKA: the unbiased estimator).
    note : str or None
        Why there is no interval, or what the interval was computed from, or
        the caveat of an interval asked for whose coverage is not established.
    """

    method: str | None
    measure: Measure | None = None
    note: str | None = None


def _described(m: Measure) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in m.params.items() if k != "dtype")
    return f"{m.name}({params})" if params else m.name


def _record(m: Measure) -> Coverage | None:
    return next((c for c in MEASURED if c.matches(m)), None)


def _measured_words(m: Measure, record: Coverage | None) -> str:
    if record is None:
        return (f"the jackknife interval's coverage for {_described(m)} has not been "
                f"measured (benchmarks/coverage.py)")
    return (f"the jackknife interval's coverage for {_described(m)} was measured at "
            f"{record.lowest:.3f} ± {record.se:.3f} ({record.where}; nominal 0.95, target "
            f"{TARGET}; benchmarks/coverage.py)")


def choose_interval(m: Measure, requested: str | None) -> IntervalChoice:
    """The interval method for measure ``m`` when ``requested`` is asked for.

    Parameters
    ----------
    m : Measure
    requested : {"auto", "jackknife", "bootstrap"} or None
        ``"auto"``: the jackknife where its coverage was measured and holds
        (:data:`MEASURED`), else none, with the reason. ``"jackknife"``: the
        jackknife whatever its coverage, with the caveat in ``note`` when
        it is not established, also given as a
        :class:`~repalign.DegenerateWarning` (refused for cross-validated
        measures).
        ``"bootstrap"`` and None pass through.

    Returns
    -------
    IntervalChoice

    Raises
    ------
    ValueError
        ``requested="jackknife"`` for a measure that cross-validates over
        folds of the stimuli (its jackknife is not an interval of anything).
    """
    if requested in (None, "bootstrap"):
        return IntervalChoice(requested)
    if "cv" in m.params:
        reason = (f"{m.name} cross-validates over folds of the stimuli: the value on "
                  f"all stimuli and each value without one use different folds, and the "
                  f"jackknife's bias correction multiplies their difference by n - 1 "
                  f"(ridge: coverage 0.093 of a nominal 0.95, benchmarks/coverage.py)")
        if requested == "jackknife":
            raise ValueError(f"interval: 'jackknife' gives no interval of {m.name}: {reason}; "
                             f"use interval='bootstrap' (the estimator's spread) or None")
        return IntervalChoice(None, note=f"no interval: {reason}")
    for config, change in _SAME_POPULATION:
        if config.matches(m):
            other = get(m.name, **{**m.params, **change})
            record = _record(other)
            if record is not None and record.valid:
                return IntervalChoice(
                    "jackknife", other,
                    f"computed from the jackknife of "
                    f"{_described(other)}, which estimates the same population value "
                    f"(coverage {record.lowest:.3f} ± {record.se:.3f} at worst, "
                    f"benchmarks/coverage.py)")
    record = _record(m)
    if record is not None and record.valid:
        return IntervalChoice("jackknife", None, None)
    words = _measured_words(m, record)
    if requested == "jackknife":
        note = f"asked for although {words}"
        warnings.warn(f"{m.name}: the jackknife interval was {note}", DegenerateWarning,
                      stacklevel=4)
        return IntervalChoice("jackknife", None, note)
    return IntervalChoice(None, note=f"no interval: {words}; interval='jackknife' computes "
                                     f"it anyway")
