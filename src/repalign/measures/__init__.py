"""The measure catalog: one module per family, all enrolled in one registry.

Importing this package registers every measure. To add one, subclass
:class:`~repalign.measures.Measure` as a frozen dataclass in a family module,
decorate it with :func:`~repalign.measures.registry.register` and import the
module here; ``tests/measures/test_common.py`` then checks it against the contract.
"""

from . import (  # noqa: F401  (registers the measures)
    cca,
    cka,
    geometry,
    matching,
    neighbors,
    predictivity,
    rsa,
    shape,
    spectral,
)
from ._base import BLOCK_MEMORY, INVARIANCES, Capabilities, Measure, Prepared
from .behavior import triplet_accuracy, triplet_noise_ceiling
from .registry import MeasureInfo, get, list_measures, measure, register
from .rsa import compare_rdms

__all__ = [
    # contract
    "Measure",
    "Prepared",
    "Capabilities",
    "INVARIANCES",
    "BLOCK_MEMORY",
    # registry and entry points
    "register",
    "get",
    "measure",
    "list_measures",
    "MeasureInfo",
    "compare_rdms",
    # behaviour
    "triplet_accuracy",
    "triplet_noise_ceiling",
]
