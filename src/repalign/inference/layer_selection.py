"""Choosing a model's layer on held-out stimuli before scoring it.

The best of many layers, scored on the stimuli it was chosen on, is biased
upward: the winner is partly the layer whose noise happened to match. Here
the layer is chosen on one half of the stimuli and scored on the other, over
several random splits and both directions; the score is then an unbiased
estimate of how the selection procedure does on new stimuli (Schrimpf et al.
2018 choose Brain-Score layers on separate data; Kriegeskorte et al. 2009 on
circular analysis).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._validation import Interval, Options
from ..measures._rdm import COMPARATORS
from ..measures._rdm import resample_condensed as _subset
from .rdm_models import _model_vectors, _scores, _stack

__all__ = ["LayerSelection", "select_layer"]


@dataclass(frozen=True)
class LayerSelection:
    """A layer chosen on held-out stimuli and its score on the others.

    Attributes
    ----------
    layer : str
        The layer chosen most often over the splits.
    score : float
        Mean over splits (and both directions) of the chosen layer's score on
        the stimuli it was not chosen on: the unbiased score of choosing a layer.
    score_std : float
        Standard deviation of those held-out scores over the splits.
    in_sample : float
        The best layer's score on all stimuli (biased upward: for comparison).
    in_sample_layer : str
        The layer that wins on all stimuli.
    ceiling : (float, float)
        The noise ceiling computed on the same held-out halves (the scale of ``score``).
    chosen : dict of str to int
        How often each layer was chosen.
    scores : dict of str to float
        Each layer's score on all stimuli.
    n_splits : int
    compare : str
    """

    layer: str
    score: float
    score_std: float
    in_sample: float
    in_sample_layer: str
    ceiling: tuple
    chosen: dict
    scores: dict
    n_splits: int
    compare: str


def select_layer(layers: Mapping, subject_rdms, compare: str = "spearman", *,
                 n_splits: int = 10, seed=0) -> LayerSelection:
    """Choose a layer on half of the stimuli, score it on the other half, over splits.

    Parameters
    ----------
    layers : dict of str to array
        Each layer's RDM (square or condensed) over the subjects' stimuli, in
        the model's order.
    subject_rdms : array of shape (S, n, n) or (S, n(n-1)/2)
        The target: one RDM per subject (at least 2); scores are the mean over
        subjects of ``compare(layer RDM, subject RDM)``, as
        :func:`repalign.score_rdm` and the noise ceiling.
    compare : {"spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"}, default="spearman"
    n_splits : int, default=10
        Random halvings of the stimuli; each gives two held-out scores (choose
        on one half, score on the other, and back).
    seed : None, int or numpy.random.Generator, default=0

    Returns
    -------
    LayerSelection

    Notes
    -----
    With halves ``A`` and ``B``, the chosen layer ``l*_A = argmax_l s_A(l)`` is
    scored ``s_B(l*_A)``, where ``s_A`` is the mean per-subject score on the
    RDMs restricted to the stimuli of ``A``. The held-out score averages
    ``s_B(l*_A)`` and ``s_A(l*_B)`` over the splits; the ceiling is averaged over
    the same halves, so score and ceiling share one scale (half as many
    stimuli as the full data: both are noisier, neither is biased by the choice).
    """
    Options(*COMPARATORS).check("select_layer", "compare", compare)
    Interval(1, None, integer=True).check("select_layer", "n_splits", n_splits)
    subjects = _stack(subject_rdms)
    vectors = _model_vectors(layers, subjects.shape[1])
    names = list(vectors)
    m = subjects.shape[1]
    n = int(round((1 + math.sqrt(1 + 8 * m)) / 2))
    if n < 8:
        raise ValueError(f"select_layer: the RDMs have {n} stimuli; halves of at least 4 "
                         "are needed (8 stimuli)")
    full, _, _ = _scores(vectors, subjects, compare)
    full = full.mean(axis=0)
    rng = np.random.default_rng(seed)
    held_out, ceilings, chosen = [], [], Counter()
    for _ in range(n_splits):
        order = rng.permutation(n)
        halves = np.sort(order[: n // 2]), np.sort(order[n // 2:])
        per_half = []
        for half in halves:
            scores, lower, upper = _scores({k: _subset(v, half, np) for k, v in vectors.items()},
                                           np.stack([_subset(v, half, np) for v in subjects]),
                                           compare)
            per_half.append((scores.mean(axis=0), (lower.mean(), upper.mean())))
        for (choose, _), (test, ceiling) in ((per_half[0], per_half[1]),
                                             (per_half[1], per_half[0])):
            best = int(np.argmax(choose))
            chosen[names[best]] += 1
            held_out.append(test[best])
            ceilings.append(ceiling)
    winner = int(np.argmax(full))
    return LayerSelection(
        layer=max(names, key=lambda name: (chosen[name], -names.index(name))),
        score=float(np.mean(held_out)), score_std=float(np.std(held_out, ddof=1))
        if len(held_out) > 1 else float("nan"),
        in_sample=float(full[winner]), in_sample_layer=names[winner],
        ceiling=tuple(float(c) for c in np.mean(ceilings, axis=0)),
        chosen={name: chosen[name] for name in names},
        scores={name: float(s) for name, s in zip(names, full)},
        n_splits=n_splits, compare=compare)
