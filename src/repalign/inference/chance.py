"""Chance levels: what a measure gives for unrelated representations of the same size.

Many similarities are far from 0 between representations that share nothing:
biased linear CKA of two independent Gaussian representations of ``n`` stimuli
and ``d`` features is about ``d / (n + d)``, so 0.5 at ``d = n``; CCA's
correlations reach 1 once ``d_x + d_y >= n - 1``. :func:`chance_level` gives
the expected value and spread of a measure between independent isotropic
Gaussian representations of a given shape (in closed form for linear CKA, by
simulation otherwise), and :func:`calibrate` rescales a value against it: 0 at
chance, 1 at the measure's identity value. For two given representations, the
permutation null of :func:`repalign.compare` (``null_mean``, ``calibrated``)
is the chance level of *their* geometries.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .._validation import Interval
from ..exceptions import DegenerateWarning
from ..measures import Measure, get

__all__ = ["ChanceLevel", "chance_level", "calibrate"]


@dataclass(frozen=True)
class ChanceLevel:
    """The value of a measure between unrelated representations of one shape.

    Attributes
    ----------
    mean, std : float
        Expected value and standard deviation over independent isotropic
        Gaussian representations (``std`` is NaN for a closed form without one).
    method : {"closed form", "simulation"}
    n_stimuli, n_features_x, n_features_y : int
    measure : str
    params : dict
    """

    mean: float
    std: float
    method: str
    n_stimuli: int
    n_features_x: int
    n_features_y: int
    measure: str
    params: dict


def _linear_cka(n: int, dx: int, dy: int, estimator: str) -> float | None:
    """Expected linear CKA of independent isotropic Gaussians (ratio of expectations).

    For ``X_c = H Z`` with ``Z`` an n x d matrix of standard normals,
    ``X_c^T X_c`` is Wishart(n - 1, I_d): ``E tr(K_c L_c) = d_x d_y (n - 1)`` and
    ``E ||K_c||_F^2 = (n - 1) d (n - 1 + d + 1)``, so biased CKA is about
    ``sqrt(d_x d_y / ((n + d_x)(n + d_y)))``. The unbiased HSIC has expectation
    0 for independent representations.
    """
    if estimator == "unbiased":
        return 0.0
    return math.sqrt(dx * dy / ((n + dx) * (n + dy)))


def chance_level(measure: str | Measure, n_stimuli: int, n_features_x: int,
                 n_features_y: int | None = None, *, n_samples: int = 200, seed=0,
                 **params) -> ChanceLevel:
    """The expected value of a measure between unrelated representations of one shape.

    Parameters
    ----------
    measure : str or Measure
        A registered measure name (with ``params``) or a configured measure.
    n_stimuli, n_features_x : int
    n_features_y : int, optional
        Default: ``n_features_x``.
    n_samples : int, default=200
        Independent pairs drawn when there is no closed form.
    seed : None, int or numpy.random.Generator, default=0
    **params
        The measure's parameters (with a name).

    Returns
    -------
    ChanceLevel
        Linear CKA in closed form (:func:`_linear_cka`, a ratio of expectations
        accurate to about 1/n); every other measure by simulation, over
        ``n_samples`` pairs of independent standard Gaussian representations.

    Examples
    --------
    >>> import repalign
    >>> round(repalign.chance_level("cka", 50, 50).mean, 3)  # d = n: half-way to 1
    0.5
    """
    m = get(measure, **params) if isinstance(measure, str) else measure
    if not isinstance(m, Measure):
        raise TypeError(f"chance_level: measure must be a name or a Measure; got "
                        f"{type(measure).__name__}")
    n_features_y = n_features_x if n_features_y is None else n_features_y
    for name, value, low in (("n_stimuli", n_stimuli, m.min_stimuli),
                             ("n_features_x", n_features_x, 1), ("n_features_y", n_features_y, 1),
                             ("n_samples", n_samples, 2)):
        Interval(low, None, integer=True).check("chance_level", name, value)
    common = dict(n_stimuli=n_stimuli, n_features_x=n_features_x, n_features_y=n_features_y,
                  measure=m.name, params=dict(m.params))
    if m.name == "cka" and m.params["kernel"] == "linear":
        mean = _linear_cka(n_stimuli, n_features_x, n_features_y, m.params["estimator"])
        return ChanceLevel(mean=mean, std=float("nan"), method="closed form", **common)
    rng = np.random.default_rng(seed)
    values = np.empty(n_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateWarning)
        for k in range(n_samples):
            values[k] = m(rng.standard_normal((n_stimuli, n_features_x)),
                          rng.standard_normal((n_stimuli, n_features_y)))
    return ChanceLevel(mean=float(values.mean()), std=float(values.std(ddof=1)),
                       method="simulation", **common)


def calibrate(value: float, chance: ChanceLevel | float, identity: float = 1.0) -> float:
    """A value rescaled against its chance level: 0 at chance, 1 at identity.

    .. math::

        \\tilde v = \\frac{v - c}{i - c}

    with ``c`` the chance level and ``i`` the measure's value for identical
    representations (1 for a similarity such as CKA, 0 for a distance).

    Parameters
    ----------
    value : float
    chance : ChanceLevel or float
    identity : float, default=1.0

    Returns
    -------
    float
        NaN when chance equals identity (nothing left to calibrate).

    References
    ----------
    Cohen (1960). A coefficient of agreement for nominal scales. Educ. Psychol.
    Meas. 20(1):37-46 (the same correction for chance agreement).
    """
    c = chance.mean if isinstance(chance, ChanceLevel) else float(chance)
    if identity == c:
        return float("nan")
    return (value - c) / (identity - c)
