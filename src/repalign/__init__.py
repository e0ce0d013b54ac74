"""repalign: representational alignment between networks, brains and behaviour.

The public face of the library. ``repalign.measure(name, X, Y)`` computes one
measure; ``repalign.get(name, **params)`` returns a configured
:class:`Measure` whose ``prepare``/``pair`` split makes grids cheap;
``repalign.list_measures()`` lists the catalog.
"""

from . import datasets
from ._version import __version__
from .benchmarks import leaderboard, list_benchmarks, score
from .exceptions import DegenerateWarning, InsufficientMemoryError
from .grid import grid
from .inference import (
    ChanceLevel,
    CVResult,
    LayerSelection,
    ModelComparison,
    RDMScore,
    calibrate,
    chance_level,
    compare,
    compare_models,
    cross_validate,
    fdr,
    noise_ceiling,
    rdm_permutation_test,
    score_rdm,
    select_layer,
    split_half_reliability,
)
from .measures import (
    INVARIANCES,
    Capabilities,
    Measure,
    MeasureInfo,
    Prepared,
    compare_rdms,
    get,
    list_measures,
    measure,
    triplet_accuracy,
    triplet_noise_ceiling,
)
from .results import GridResult, PairResult

__all__ = [
    # one-line API
    "measure",
    "get",
    "list_measures",
    "compare_rdms",
    "triplet_accuracy",
    "triplet_noise_ceiling",
    # more stimuli than fit in memory
    "streaming_measure",
    "minibatch_cka",
    "CrossMoments",
    # statistics
    "compare",
    "PairResult",
    "noise_ceiling",
    "split_half_reliability",
    "rdm_permutation_test",
    "score_rdm",
    "RDMScore",
    "compare_models",
    "ModelComparison",
    "select_layer",
    "LayerSelection",
    "chance_level",
    "calibrate",
    "ChanceLevel",
    "cross_validate",
    "CVResult",
    "fdr",
    # grids
    "grid",
    "GridResult",
    # benchmarks
    "score",
    "leaderboard",
    "list_benchmarks",
    # data
    "datasets",
    "ActivationStore",
    "ResultStore",
    # models to representations
    "extract",
    "layers",
    "load_model",
    # results to figures and the HTML report
    "report",
    # the contract
    "Measure",
    "Prepared",
    "Capabilities",
    "MeasureInfo",
    "INVARIANCES",
    # warnings
    "DegenerateWarning",
    "InsufficientMemoryError",
    "__version__",
]

# Public names whose modules import heavy libraries (zarr, dask, torch): loaded on
# first use, so that ``import repalign`` stays light. Name -> module.
_LAZY = {
    "ActivationStore": "repalign.store.activations",
    "ResultStore": "repalign.store.results",
    "extract": "repalign.extraction.hooks",
    "layers": "repalign.extraction.hooks",
    "load_model": "repalign.extraction.adapters",
    "report": "repalign.viz.report",
    "streaming_measure": "repalign.streaming",
    "minibatch_cka": "repalign.streaming",
    "CrossMoments": "repalign.streaming",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'repalign' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
