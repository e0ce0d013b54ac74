"""``repalign.compare``: one comparison with its permutation test and bootstrap interval."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .._validation import Interval, Options, check_pair
from ..exceptions import DegenerateWarning
from ..measures import get
from ..results import PairResult
from .statistics import pair_statistics

__all__ = ["compare"]

_COUNT = Interval(0, None, integer=True)
_INTERVAL = Options("auto", "jackknife", "bootstrap", None)
_LEVEL = Interval(0, 1, closed="neither")


def _check_seed(seed):
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"compare: seed must be None, a non-negative integer or a numpy.random.Generator; "
            f"got {seed!r} of type {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"compare: seed must be a non-negative integer; got {seed}")
    return seed


def compare(X, Y, measure: str = "cka", n_permutations: int = 1000,
            interval: str | None = "auto", n_bootstrap: int = 1000, ci: float = 0.95,
            seed=None, **params) -> PairResult:
    """Compare two representations: the value, a permutation p-value and an interval.

    Parameters
    ----------
    X : array of shape (n_stimuli, n_features_x)
    Y : array of shape (n_stimuli, n_features_y)
        Representations of the same stimuli in the same order (NumPy, torch on
        any device, or any array-API array; the work stays on that device).
    measure : str, default="cka"
        A registered measure (:func:`repalign.list_measures`).
    n_permutations : int, default=1000
        Permutations of the stimuli of Y for the test; 0 skips it.
    interval : {"auto", "jackknife", "bootstrap"} or None, default="auto"
        The interval: ``"auto"``, the jackknife interval where its coverage was
        measured to hold (linear CKA, RSA with correlation RDMs and Spearman
        comparison; :mod:`repalign.inference.coverage`) and none elsewhere,
        with the reason in ``interval_note``; ``"jackknife"``, a bias-corrected
        jackknife t-interval of the measure's population value (stimuli left
        out in turn) whatever its measured coverage, with a
        :class:`~repalign.DegenerateWarning` where it is not established
        (refused for measures that cross-validate); ``"bootstrap"``, the
        percentile interval of ``n_bootstrap`` resamples (the estimator's
        spread, biased upward for measures that read a duplicated stimulus as
        aligned); None skips it.
    n_bootstrap : int, default=1000
        Bootstrap resamples of the stimuli for ``interval="bootstrap"``; 0 skips it.
    ci : float in (0, 1), default=0.95
        Level of the interval.
    seed : None, int >= 0 or numpy.random.Generator, default=None
        Seed of ``numpy.random.default_rng``, the only source of randomness;
        None draws fresh entropy (results then differ between calls). The
        permutations and the resamples come from two independent streams
        spawned from it, so changing one count leaves the other's draws alone.
    **params
        Parameters of the measure.

    Returns
    -------
    PairResult
        ``value``, ``ci_low``/``ci_high``, ``p_value``, ``null_mean``/``null_std``,
        ``calibrated`` and the distributions.

    Raises
    ------
    ValueError
        If the measure is unknown, a count is negative, ``ci`` is not in (0, 1),
        X and Y do not hold the same number of stimuli or a parameter value is invalid.
    TypeError
        If a count or the seed is not an integer, or a parameter name is unknown.

    Notes
    -----
    *Permutation test.* The null hypothesis is that X and Y are not aligned: the
    stimuli of Y are shuffled (the rows of Y, i.e. rows and columns together for
    a Gram matrix or an RDM), which keeps each representation's geometry and
    breaks only their correspondence. With values ``s_k`` for ``N`` uniformly
    drawn permutations, the one-sided p-value in the direction of "more
    aligned" is

    .. math::

        p = \\frac{1 + \\#\\{k : s_k \\ge s\\}}{1 + N}
        \\quad (\\le \\text{ for distances}),

    exact for drawn permutations and never 0 (Phipson & Smyth 2010). Each
    permutation reorders Y's prepared state by indexing
    (:meth:`~repalign.measures.Measure.permute`), so it costs about one pairing;
    ``ridge`` and ``pls`` prepare ``Y[perm]`` instead, because their
    cross-validation folds depend on the order of the stimuli. Measures of one
    representation at a time (``magnitude_difference``,
    ``uniformity_difference``) do not change under a permutation: every null
    value ties with the observed one and p is 1.

    *Calibration.* Many similarities are far above 0 for unrelated data (biased
    CKA at small n, mutual k-NN at about k/(n-1)). For similarities whose
    largest value is 1, ``calibrated = (value - null_mean) / (1 - null_mean)``
    is 0 at the permutation chance level and 1 for perfect alignment.

    *Interval.* The default interval is of the measure's *population* value,
    its limit with infinitely many stimuli from the population the stimuli
    were drawn from (Schuett et al. 2023 on stimuli as a sample). Stimuli are
    left out in turn (groups of stimuli when there are more than 200): the
    jackknife pseudo-values correct the estimator's O(1/n) bias and give a
    t-interval, on the scale where the measure's declared range is the real
    line (:mod:`repalign.inference.jackknife`). No resample holds a copy of a
    stimulus, which every measure built on pairs of stimuli would read as
    perfectly aligned. Its coverage, measured in ``benchmarks/coverage.py``
    for several measures, generative models and numbers of stimuli, is in the
    README; only where it holds is the interval given by default. A group
    without which the measure is undefined is left out with a
    :class:`~repalign.DegenerateWarning`. When the value lies outside its
    interval (a biased estimator at few stimuli, e.g. biased CKA), a
    :class:`~repalign.DegenerateWarning` says so.

    ``interval="bootstrap"`` gives the percentile interval of resamples with
    replacement (Efron & Tibshirani 1993): RDM measures (``rsa``,
    ``rsm_norm_difference``) leave out the pairs of a stimulus with its own
    copy (as rsatoolbox); the others prepare ``X[idx]`` and ``Y[idx]``, in
    which a copy is one more stimulus, so that kernel, covariance and
    neighbour measures are biased upward on resamples: the interval describes
    the estimator's spread, not the population value.

    References
    ----------
    Phipson & Smyth (2010). Permutation p-values should never be zero:
    calculating exact p-values when permutations are randomly drawn. Stat.
    Appl. Genet. Mol. Biol. 9(1), Article 39.

    Efron & Tibshirani (1993). An Introduction to the Bootstrap. Chapman & Hall.

    Quenouille (1956). Notes on bias in estimation. Biometrika 43(3-4):353-360.

    Schuett, Kipnis, Diedrichsen & Kriegeskorte (2023). Statistical inference on
    representational geometries. eLife 12:e82566.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((60, 8))
    >>> Y = X @ rng.standard_normal((8, 10)) + 2 * rng.standard_normal((60, 10))
    >>> r = repalign.compare(X, Y, "cka", n_permutations=199, seed=1)
    >>> r.p_value, r.ci_low < r.value < r.ci_high
    (0.005, True)
    """
    if not isinstance(measure, str):
        raise TypeError(
            f"compare: measure must be the name of a registered measure (a str); "
            f"got {type(measure).__name__}"
        )
    _COUNT.check("compare", "n_permutations", n_permutations)
    _COUNT.check("compare", "n_bootstrap", n_bootstrap)
    _INTERVAL.check("compare", "interval", interval)
    _LEVEL.check("compare", "ci", ci)
    seed = _check_seed(seed)
    m = get(measure, **params)
    X, Y = check_pair(X, Y, min_stimuli=m.min_stimuli)
    a, b = m._prepared(X), m._prepared(Y, "Y")
    value = m.pair(a, b)
    stats = pair_statistics(m, a, b, X, Y, value, n_permutations=n_permutations,
                            interval=interval, n_bootstrap=n_bootstrap, ci=ci,
                            rng=np.random.default_rng(seed))
    ci_low, ci_high = stats.ci_low, stats.ci_high
    if stats.interval is not None and not ci_low <= value <= ci_high:
        what = ("of the population value: the estimate's finite-sample bias exceeds the "
                "interval's half-width. Prefer a less biased estimator (e.g. cka with "
                "estimator='unbiased') or more stimuli" if stats.interval == "jackknife" else
                "of the bootstrap: resampling stimuli with replacement shifts this measure, "
                "so the interval describes the spread, not the location; interval='auto' "
                "gives the interval of the population value where its coverage holds")
        warnings.warn(f"{m.name}: the value {value:.4g} lies outside its {ci:.0%} interval "
                      f"[{ci_low:.4g}, {ci_high:.4g}] {what}", DegenerateWarning, stacklevel=2)

    return PairResult(
        value=value, ci_low=ci_low, ci_high=ci_high, p_value=stats.p_value,
        null_mean=stats.null_mean, null_std=stats.null_std, calibrated=stats.calibrated,
        measure=m.name, params=m.params, kind=m.kind, symmetric=m.symmetric,
        bounds=tuple(m.bounds), references=tuple(m.references), n_stimuli=a.n_stimuli,
        n_permutations=n_permutations, n_bootstrap=n_bootstrap, ci_level=float(ci),
        interval=stats.interval, null_distribution=stats.null_distribution,
        bootstrap_distribution=stats.bootstrap_distribution,
        jackknife_values=stats.jackknife_values, interval_note=stats.interval_note,
    )
