"""The seed papers of the representational-alignment literature as runnable studies.

Each study reproduces one paper's key experiment at a scale that runs on a laptop
CPU, through the public API, and writes into its output folder:

- ``results.csv``: a tidy table, one row per condition and repetition;
- ``figure.png``: the paper's key figure, as measured here;
- ``summary.md``: what was run, each claim checked (PASS or FAIL) and the numbers.

Run one with ``repalign study NAME [--quick] [--out DIR] [--seed S]`` or
``repalign.studies.run(NAME, ...)``; each module's ``run`` takes the same
arguments. ``quick=True`` finishes in under a minute on two cores; the default
is the faithful small-scale version (minutes).

=================  ===========================================================
``snr``            noise and sample size govern alignment across an ensemble
``superposition``  sparse autoencoders recover shared features in superposition
``platonic``       mutual k-NN alignment rises with width (Huh et al. 2024)
``convergent``     unit matching across seeds (Li et al. 2015)
``relative``       zero-shot stitching with relative representations
``dynamics``       rich vs lazy training and target alignment over epochs
``layer_id``       which measure finds the corresponding layer (Kornblith 2019)
``brain``          EfficientNet-Lite0 vs human IT, monkey IT and judgments
``triplets``       THINGS odd-one-out accuracy against the noise ceiling
=================  ===========================================================
"""

from __future__ import annotations

import importlib

from ._output import Check, StudyResult

#: The studies, in the order of the issue that asked for them.
STUDIES = ("snr", "superposition", "platonic", "convergent", "relative", "dynamics",
           "layer_id", "brain", "triplets")

__all__ = ["STUDIES", "Check", "StudyResult", "run", *STUDIES]


def _module(name: str):
    if not isinstance(name, str) or name not in STUDIES:
        raise ValueError(f"study must be one of {', '.join(STUDIES)}; got {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


def run(name: str, out=None, *, quick: bool = False, seed: int = 0, **options) -> StudyResult:
    """Run the study ``name``; see the module of each study.

    Parameters
    ----------
    name : str
        One of :data:`STUDIES`.
    out : path, optional
        Output folder (created); default ``study-NAME`` in the working directory.
    quick : bool, default=False
        The under-a-minute version.
    seed : int, default=0
        Seed of every random choice (data, initialisations, permutations).
    **options
        The study's own options, e.g. ``images=`` for ``brain``.

    Returns
    -------
    StudyResult
    """
    return _module(name).run(out, quick=quick, seed=seed, **options)


def __getattr__(name):
    if name in STUDIES:
        return _module(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
