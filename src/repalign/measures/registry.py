"""The measure registry: name -> class, and the public entry points built on it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ._base import Measure

__all__ = ["register", "get", "measure", "list_measures", "MeasureInfo"]

_REGISTRY: dict[str, type[Measure]] = {}


def register(cls: type[Measure]) -> type[Measure]:
    """Class decorator adding a measure to the registry under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"a measure named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def get(name: str, **params: Any) -> Measure:
    """Return the measure ``name`` configured with ``params``.

    Parameters
    ----------
    name : str
        A registered name (see :func:`list_measures`).
    **params
        The measure's parameters; omitted ones take their documented defaults.

    Returns
    -------
    Measure

    Raises
    ------
    ValueError
        If ``name`` is unknown or a parameter value is invalid.
    TypeError
        If a parameter name is unknown or a value has the wrong type.

    Examples
    --------
    >>> import repalign
    >>> cka = repalign.get("cka", kernel="rbf", sigma_frac=0.5)
    >>> cka.name, cka.params["kernel"]
    ('cka', 'rbf')
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str naming a measure; got {type(name).__name__}")
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"Unknown measure {name!r}; expected one of {sorted(_REGISTRY)}"
        ) from None
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise TypeError(
            f"{name} got unknown parameter(s) {unknown}; valid parameters are {sorted(valid)}"
        )
    return cls(**params)


def measure(name: str, X, Y, **params: Any):
    """Compute one measure between two representations: the one-line entry point.

    Parameters
    ----------
    name : str
        A registered measure name (``"cka"``, ``"rsa"``, ``"procrustes"``, ...).
    X : array of shape (n_stimuli, n_features_x)
    Y : array of shape (n_stimuli, n_features_y)
        Representations of the same stimuli in the same order: NumPy arrays,
        torch tensors (any device) or any array-API array.
    **params
        Parameters of the measure.

    Returns
    -------
    float or 0-d tensor
        A Python float; for torch tensors that require grad, a 0-d tensor on
        their device carrying the autograd graph (measures whose
        ``capabilities.differentiable`` is True; the others refuse such inputs
        with a ``ValueError`` that says why).

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((50, 8))
    >>> round(repalign.measure("cka", X, 2 * X + 1), 12)
    1.0
    """
    return get(name, **params)(X, Y)


@dataclass(frozen=True)
class MeasureInfo:
    """What :func:`list_measures` says of one measure (at its default parameters)."""

    name: str
    kind: str
    symmetric: bool
    invariances: tuple[str, ...]
    bounds: tuple[float, float]
    parameters: dict
    cost: str
    reference: str
    summary: str


def list_measures() -> list[MeasureInfo]:
    """All registered measures with their metadata, sorted by name.

    Symmetry, invariances and bounds are those at the default parameters; they
    can depend on the parameters (e.g. ``rsa`` with a correlation RDM is not
    invariant to rotations), so query ``repalign.get(name, **params)`` for others.

    Returns
    -------
    list of MeasureInfo
    """
    out = []
    for name in sorted(_REGISTRY):
        cls = _REGISTRY[name]
        default = cls()
        doc = (cls.__doc__ or "").strip().splitlines()
        out.append(MeasureInfo(
            name=name,
            kind=cls.kind,
            symmetric=default.symmetric,
            invariances=default.invariances,
            bounds=default.bounds,
            parameters=default.params,
            cost=cls.cost,
            reference="; ".join(cls.references),
            summary=doc[0] if doc else "",
        ))
    return out
