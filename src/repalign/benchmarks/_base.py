"""The benchmark frame: what a benchmark is, what scoring a model on it returns, and the
held-out choice of a layer.

A benchmark is a fixed set of stimuli, target data measured on them (brain RDMs, human
choices, human ratings), a way to compare a model layer's activations with the target,
the noise ceiling of that comparison, a rule that chooses the layer, and a citation.
Every benchmark scores on the scale of its ceiling, so that ``score / ceiling`` means
something.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .._validation import Interval

__all__ = ["Benchmark", "BenchmarkScore", "LAYER_RULE"]

#: How every benchmark chooses a model's layer (Schrimpf et al. 2018 choose Brain-Score's
#: layers on separate data; Kriegeskorte et al. 2009 on circular analysis).
LAYER_RULE = ("the layer most often best on one random half of the stimuli and scored on "
              "the other half, over n_splits halvings in both directions (held out)")


@dataclass(frozen=True)
class BenchmarkScore:
    """A model scored on a benchmark, on the scale of the benchmark's noise ceiling.

    Attributes
    ----------
    model : str
    benchmark : str
    layer : str
        The layer chosen on held-out stimuli (see :data:`LAYER_RULE`).
    score : float
        The chosen layer's score on all stimuli, on the ceiling's scale (for
        benchmarks with subjects, the mean over subjects of the per-subject score).
    ci_low, ci_high : float
        The interval of ``score`` at level ``ci`` (how: ``interval``).
    ceiling : (float, float) or None
        The noise ceiling's lower and upper bound; None where the data allow none
        (``no_ceiling`` says why).
    normalized : float
        ``(score - chance) / (ceiling[0] - chance)``: 1 for a model as good as the
        ceiling's lower bound; NaN without a ceiling.
    chance : float
        The score of a model unrelated to the target (0 for correlations, 1/3 for
        odd-one-out choices).
    per_unit : tuple of float
        The per-unit scores averaged into ``score`` (one per subject, one per
        triplet); empty where the score is one correlation.
    units : tuple of str
        The units' labels (subject codes; triplet item indices).
    unit : str
        What a unit is (``"subject"``, ``"triplet"``), or ``""``.
    held_out : float
        The unbiased score of choosing a layer: the chosen layer's score on the half
        it was not chosen on, averaged over the splits (on half as many stimuli).
    held_out_ceiling : (float, float) or None
        The ceiling on those same halves (the scale of ``held_out``).
    chosen : dict of str to int
        How often each layer was chosen over the ``2 * n_splits`` halves.
    layer_scores : dict of str to float
        Each layer's score on all stimuli (in-sample; for curves, not for choosing).
    n_splits : int
    ci : float
    interval : str
        How the interval was computed, in words.
    definition : str
        What the score is, in words.
    no_ceiling : str
        Why there is no ceiling (empty when there is one).
    """

    model: str
    benchmark: str
    layer: str
    score: float
    ci_low: float
    ci_high: float
    ceiling: tuple | None
    normalized: float
    chance: float
    per_unit: tuple
    units: tuple
    unit: str
    held_out: float
    held_out_ceiling: tuple | None
    chosen: dict
    layer_scores: dict
    n_splits: int
    ci: float
    interval: str
    definition: str
    no_ceiling: str = ""

    def to_dict(self) -> dict:
        """One flat row: model, benchmark, layer, score, interval, ceiling, normalized."""
        low, high = self.ceiling if self.ceiling is not None else (math.nan, math.nan)
        held = (self.held_out_ceiling if self.held_out_ceiling is not None
                else (math.nan, math.nan))
        return {"model": self.model, "benchmark": self.benchmark, "layer": self.layer,
                "score": self.score, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "ceiling_low": low, "ceiling_high": high, "normalized": self.normalized,
                "chance": self.chance, "held_out": self.held_out,
                "held_out_ceiling_low": held[0], "held_out_ceiling_high": held[1],
                "n_units": len(self.per_unit), "unit": self.unit}

    def lines(self) -> list[str]:
        """The result in a few lines of text (what ``repalign score`` prints)."""
        level = f"{100 * self.ci:g}%"
        out = [f"{self.model} on {self.benchmark}: {self.definition}",
               f"layer: {self.layer} (chosen on held-out stimuli in "
               f"{self.chosen[self.layer]} of {2 * self.n_splits} halves)"]
        if self.unit and len(self.per_unit) <= 32:
            out.append(f"per {self.unit}: " + ", ".join(
                f"{label} {value:.3f}" for label, value in zip(self.units, self.per_unit)))
        elif self.unit:
            out.append(f"per {self.unit}: {len(self.per_unit)} values, from "
                       f"{min(self.per_unit):.3f} to {max(self.per_unit):.3f}")
        out.append(f"score: {self.score:.3f}, {level} interval [{self.ci_low:.3f}, "
                   f"{self.ci_high:.3f}] ({self.interval})")
        if self.ceiling is None:
            out.append(f"noise ceiling: {self.no_ceiling}")
        else:
            out.append(f"noise ceiling: [{self.ceiling[0]:.3f}, {self.ceiling[1]:.3f}]; "
                       f"normalized score {self.normalized:.3f} (chance {self.chance:.3g} "
                       "-> 0, ceiling's lower bound -> 1)")
        held = ("" if self.held_out_ceiling is None else
                f" against a ceiling of [{self.held_out_ceiling[0]:.3f}, "
                f"{self.held_out_ceiling[1]:.3f}] on the same halves")
        out.append(f"held out: choosing on one half and scoring on the other gives "
                   f"{self.held_out:.3f}{held}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class Benchmark(ABC):
    """A named benchmark: stimuli, target data, measure, ceiling, layer rule, citation.

    Subclasses load their data on first use and implement :meth:`stimuli`,
    :meth:`ceiling` and :meth:`evaluate`.

    Attributes
    ----------
    name : str
        The registry key, ``"<dataset>.<target>"``.
    title : str
        What the target is, in a few words.
    modality : {"images", "text"}
        What the stimuli are.
    measure : str
        How a layer is compared with the target, in words.
    chance : float
        The score of a model unrelated to the target.
    citation : str
    layer_rule : str
        How the layer is chosen (:data:`LAYER_RULE`).
    """

    name: str
    title: str
    modality: str
    measure: str
    chance: float
    citation: str
    layer_rule: str = field(default=LAYER_RULE)

    @abstractmethod
    def stimuli(self):
        """The stimuli in the target's order (an image array, or a list of words)."""

    @abstractmethod
    def ceiling(self) -> tuple | None:
        """The noise ceiling ``(lower, upper)`` on the score's scale, or None."""

    @abstractmethod
    def describe_ceiling(self) -> str:
        """How the ceiling is computed, or why there is none, in words."""

    @abstractmethod
    def evaluate(self, activations: Mapping, *, model: str = "model", n_splits: int = 10,
                 ci: float = 0.95, seed=0) -> BenchmarkScore:
        """Score a model's layer activations on this benchmark.

        Parameters
        ----------
        activations : dict of str to array of shape (n_stimuli, n_features)
            Each layer's activations for :meth:`stimuli`, rows in their order.
        model : str, default="model"
            The name written in the result.
        n_splits : int, default=10
            Random halvings of the stimuli for the held-out choice of the layer.
        ci : float in (0, 1), default=0.95
        seed : None, int or numpy.random.Generator, default=0
            Seed of the halvings.

        Returns
        -------
        BenchmarkScore
        """

    def n_stimuli(self) -> int:
        """The number of stimuli."""
        return len(self.stimuli())

    def _check(self, activations: Mapping, n_splits, ci) -> dict:
        """Activations as float64 host arrays, checked against the stimuli."""
        owner = f"benchmark {self.name!r}"
        Interval(1, None, integer=True).check(owner, "n_splits", n_splits)
        Interval(0, 1, closed="neither").check(owner, "ci", ci)
        if not isinstance(activations, Mapping) or not activations:
            raise TypeError(f"{owner}: activations must be a non-empty dict of layer name -> "
                            f"array (n_stimuli, n_features); got {type(activations).__name__}")
        n = self.n_stimuli()
        out = {}
        for layer, values in activations.items():
            array = np.asarray(values, dtype=np.float64)
            if array.ndim != 2 or array.shape[0] != n:
                raise ValueError(f"{owner}: activations[{layer!r}] must have shape ({n}, "
                                 f"n_features), one row per stimulus; got {array.shape}")
            if not np.isfinite(array).all():
                raise ValueError(f"{owner}: activations[{layer!r}] holds NaN or inf")
            out[str(layer)] = array
        return out


def choose_layer(names: list, n_units: int, score_on: Callable, *, n_splits: int,
                 seed) -> tuple[str, float, dict]:
    """Choose a layer on half of the units, score it on the other half, over splits.

    The procedure of :func:`repalign.select_layer` for targets other than a stack of
    subject RDMs: with halves ``A`` and ``B`` of the units, the layer
    ``l*_A = argmax_l s_A(l)`` is scored ``s_B(l*_A)`` (and back); the chosen layer is
    the one chosen most often (ties: the earlier layer).

    Parameters
    ----------
    names : list of str
        The layers, in network order.
    n_units : int
        The number of units (stimuli, triplets, word pairs) to halve.
    score_on : callable
        ``score_on(index)`` -> array of shape ``(len(names),)``: each layer's score on
        the units ``index`` (a sorted integer array).
    n_splits : int
    seed : None, int or numpy.random.Generator

    Returns
    -------
    layer : str
    held_out : float
        The mean held-out score.
    chosen : dict of str to int
    """
    rng = np.random.default_rng(seed)
    chosen, held_out = Counter(), []
    for _ in range(n_splits):
        order = rng.permutation(n_units)
        halves = np.sort(order[: n_units // 2]), np.sort(order[n_units // 2:])
        scores = [np.asarray(score_on(half), dtype=np.float64) for half in halves]
        for choose, test in ((scores[0], scores[1]), (scores[1], scores[0])):
            best = int(np.argmax(choose))
            chosen[names[best]] += 1
            held_out.append(test[best])
    layer = max(names, key=lambda name: (chosen[name], -names.index(name)))
    return layer, float(np.mean(held_out)), {name: chosen[name] for name in names}


def t_interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    """``mean -+ t_{n-1, (1+ci)/2} * std(ddof=1) / sqrt(n)``: the interval of a mean."""
    from scipy.stats import t as student_t

    n = values.size
    half = student_t.ppf((1 + ci) / 2, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return float(values.mean() - half), float(values.mean() + half)


def normalize(score: float, ceiling: tuple | None, chance: float) -> float:
    """``(score - chance) / (ceiling[0] - chance)``; NaN without a ceiling."""
    if ceiling is None:
        return math.nan
    return float((score - chance) / (ceiling[0] - chance))
