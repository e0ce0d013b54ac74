"""Statistics on comparisons: permutation tests, bootstrap intervals, chance levels,
noise ceilings, cross-validation and multiple-comparison control.

The numeric core knows nothing of files or models; every function here works
through the Measure contract (``prepare`` once, ``pair`` many times).
"""

from .chance import ChanceLevel, calibrate, chance_level
from .compare import compare
from .crossval import CVResult, cross_validate
from .layer_selection import LayerSelection, select_layer
from .multiple import fdr
from .noise_ceiling import noise_ceiling, split_half_reliability
from .rdm_models import ModelComparison, RDMScore, compare_models, score_rdm
from .rdm_permutation import rdm_permutation_test

__all__ = [
    "compare",
    "cross_validate",
    "CVResult",
    "noise_ceiling",
    "split_half_reliability",
    "fdr",
    "rdm_permutation_test",
    "score_rdm",
    "compare_models",
    "select_layer",
    "LayerSelection",
    "chance_level",
    "calibrate",
    "ChanceLevel",
    "RDMScore",
    "ModelComparison",
]
