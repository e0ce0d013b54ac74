"""Word-similarity benchmarks: a layer's word embeddings against mean human ratings.

Each word of the benchmark's vocabulary is embedded alone (the layer's activations,
pooled over its tokens); a pair's predicted similarity is the cosine of its two words'
embeddings, and the score is Spearman's rho between the predictions and the mean human
ratings over the pairs, the usual evaluation (Faruqui & Dyer 2014; Hill et al. 2015).
The files hold only the mean rating of each pair, so no noise ceiling on that scale can
be estimated (the published inter-rater agreements compare single raters, another
scale); the interval is the bias-corrected jackknife over pairs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..datasets import word_similarity, word_similarity_names
from ..inference.jackknife import jackknife_interval
from ._base import Benchmark, BenchmarkScore, choose_layer

__all__ = ["WordSimilarityBenchmark"]

_MEASURE = ("Spearman rho between the cosine similarity of the two words' activations and "
            "the mean human rating, over the word pairs")


@functools.lru_cache(maxsize=None)
def _data(dataset: str):
    return word_similarity(dataset)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


@dataclass(frozen=True)
class WordSimilarityBenchmark(Benchmark):
    """One bundled word-similarity set (:func:`repalign.datasets.word_similarity`).

    Attributes
    ----------
    dataset : str
        The set's name in :func:`repalign.datasets.word_similarity_names`.
    """

    dataset: str = "simlex999"

    def stimuli(self) -> list:
        """The vocabulary (the distinct words of the pairs, sorted)."""
        return _data(self.dataset).vocabulary

    def ceiling(self) -> None:
        return None

    def describe_ceiling(self) -> str:
        return ("none: the files hold only the mean rating of each pair, with no single "
                "raters to estimate it from")

    def evaluate(self, activations: Mapping, *, model: str = "model", n_splits: int = 10,
                 ci: float = 0.95, seed=0) -> BenchmarkScore:
        """Score each layer's word embeddings; see :meth:`Benchmark.evaluate`.

        Notes
        -----
        With ``e_w`` a word's activations, pair ``p = (a, b)`` gets
        ``s_p = e_a . e_b / (|e_a| |e_b|)``; the score is ``rho(s, r)`` over the pairs,
        ``r`` the mean ratings. The layer is chosen on half of the pairs and scored on
        the other half; the interval is the bias-corrected jackknife t-interval of
        ``rho`` on Fisher's scale, each pair left out in turn.
        """
        checked = self._check(activations, n_splits, ci)
        data = _data(self.dataset)
        row = {word: i for i, word in enumerate(self.stimuli())}
        first = np.array([row[w] for w in data.word1])
        second = np.array([row[w] for w in data.word2])
        sims = {}
        for layer, array in checked.items():
            norms = np.linalg.norm(array, axis=1)
            if not (norms > 0).all():
                raise ValueError(f"benchmark {self.name!r}: activations[{layer!r}] has "
                                 "all-zero rows, whose cosine similarity is undefined")
            e = array / norms[:, None]
            sims[layer] = np.sum(e[first] * e[second], axis=1)
        names = list(sims)
        ratings = data.scores

        def score_on(index):
            return [_spearman(sims[name][index], ratings[index]) for name in names]

        layer, held_out, chosen = choose_layer(names, len(ratings), score_on,
                                               n_splits=n_splits, seed=seed)
        layer_scores = dict(zip(names, score_on(np.arange(len(ratings)))))
        value = layer_scores[layer]
        left_out = np.array([_spearman(np.delete(sims[layer], i), np.delete(ratings, i))
                             for i in range(len(ratings))])
        low, high = jackknife_interval(value, left_out, ci, (-1.0, 1.0))
        return BenchmarkScore(
            model=model, benchmark=self.name, layer=layer, score=value, ci_low=low,
            ci_high=high, ceiling=None, normalized=math.nan, chance=self.chance, per_unit=(),
            units=(), unit="", held_out=held_out, held_out_ceiling=None, chosen=chosen,
            layer_scores=layer_scores, n_splits=n_splits, ci=ci,
            interval=f"bias-corrected jackknife over the {len(ratings)} pairs",
            definition=_MEASURE, no_ceiling=self.describe_ceiling())


def _benchmark(dataset: str) -> WordSimilarityBenchmark:
    data = _data(dataset)
    return WordSimilarityBenchmark(
        name=f"word_similarity.{dataset}",
        title=f"{dataset}: {len(data)} word pairs, mean human {data.rated} ratings",
        modality="text", measure=_MEASURE, chance=0.0, citation=data.citation,
        dataset=dataset)


def benchmarks() -> tuple:
    """One benchmark per bundled word-similarity set, in the order of their names."""
    return tuple(_benchmark(name) for name in word_similarity_names())
