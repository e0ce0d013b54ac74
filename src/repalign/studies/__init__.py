"""The seed papers of the representational-alignment literature as runnable studies.

Each study reproduces one paper's key experiment at a scale that runs on a laptop
CPU, through the public API, on the :class:`Study` frame, and writes into its
output folder:

- ``results.csv``: a tidy table, one row per condition and repetition;
- ``figure.png``: the paper's key figure, as measured here;
- ``summary.md``: what was run, each claim checked (PASS or FAIL) and the numbers.

Run one with ``repalign study NAME [--quick] [--out DIR] [--seed S]`` or
``repalign.studies.run(NAME, ...)``. ``quick=True`` finishes in a few minutes at
most on two cores; the default is the faithful small-scale version.

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
``guidance``       a deep MLP guided layer by layer by a CNN (Subramaniam 2025)
``glocal``         gLocal transform to human triplets, AligNet student (2023-24)
``values``         human-aligned kernels learn (synthetic) values safely (Wynn 2024)
``fewshot``        human alignment vs few-shot learning (Sucholutsky 2023)
``llm_triplets``   text models' layers, pooling, size vs THINGS triplets (2025)
``dimensions``     SPoSE dimensions of a model's choices vs human ones (Mahner 2025)
=================  ===========================================================

A new study is one module: a :class:`Study` subclass decorated with
:func:`register`, its name added to :data:`STUDIES`.
"""

from __future__ import annotations

import importlib

from ._frame import Check, Outcome, Study, StudyConfig, StudyResult, register, registered

#: The studies, each the name of its module here, in the order of the issue that asked for it.
STUDIES = ("snr", "superposition", "platonic", "convergent", "relative", "dynamics",
           "layer_id", "brain", "triplets", "guidance", "values", "fewshot", "glocal",
           "llm_triplets", "dimensions")

__all__ = ["STUDIES", "Check", "Outcome", "Study", "StudyConfig", "StudyResult", "get",
           "register", "run"]


def get(name: str) -> Study:
    """The study ``name`` (one of :data:`STUDIES`), its module imported on first use.

    Raises
    ------
    ValueError
        If ``name`` is not a study.
    """
    if not isinstance(name, str) or name not in STUDIES:
        raise ValueError(f"study must be one of {', '.join(STUDIES)}; got {name!r}")
    importlib.import_module(f"{__name__}.{name}")
    return registered(name)


def run(name: str, out=None, *, quick: bool = False, seed: int = 0, **options) -> StudyResult:
    """Run the study ``name``: ``get(name).run(out, quick=quick, seed=seed, **options)``.

    Parameters
    ----------
    name : str
        One of :data:`STUDIES`.
    out : path, optional
        Output folder (created); default ``study-NAME`` in the working directory.
    quick : bool, default=False
        The quick version (a few minutes at most).
    seed : int, default=0
        Seed of every random choice (data, initialisations, permutations).
    **options
        The study's own settings, e.g. ``images=`` for ``brain``.

    Returns
    -------
    StudyResult
    """
    return get(name).run(out, quick=quick, seed=seed, **options)
