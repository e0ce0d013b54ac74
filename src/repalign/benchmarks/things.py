"""THINGS odd-one-out: a layer's embeddings of the concept words against human choices.

The 20,000 bundled trials show 1000 distinct triplets of THINGS concepts 14-25 times
each (Hebart et al. 2020). For a triplet ``{i, j, k}`` a layer predicts the odd one out
as the item left out of its most similar pair (cosine similarity of the pooled
activations). The score is on the scale of the noise ceiling: for each distinct
triplet, the fraction of its responses that chose the predicted item, averaged over
triplets; the ceiling is the same average for the best possible prediction, each
triplet's most frequent choice (67.22%; :func:`repalign.triplet_noise_ceiling`).
Chance is 1/3.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..datasets import things
from ..measures import triplet_noise_ceiling
from ._base import Benchmark, BenchmarkScore, choose_layer, normalize, t_interval

__all__ = ["TripletBenchmark"]


@functools.lru_cache(maxsize=1)
def _data():
    return things()


@functools.lru_cache(maxsize=1)
def _groups():
    """The distinct triplets (sorted item indices) and their response counts per item.

    Returns
    -------
    keys : ndarray of int, shape (G, 3)
    counts : ndarray of int, shape (G, 3)
        How many responses chose each of the three (sorted) items.
    group_of : ndarray of int, shape (n_trials,)
    """
    data = _data()
    keys = np.sort(data.triplets, axis=1)
    odd = data.triplets[np.arange(len(data.choices)), data.choices]
    groups, group_of = np.unique(keys, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    counts = np.zeros((groups.shape[0], 3), dtype=np.int64)
    np.add.at(counts, (group_of, (keys == odd[:, None]).argmax(axis=1)), 1)
    return groups, counts, group_of


@dataclass(frozen=True)
class TripletBenchmark(Benchmark):
    """Odd-one-out choices of the THINGS concepts, scored per distinct triplet."""

    def stimuli(self) -> list:
        """The 1854 concept words (``things().words``), the rows of the embeddings."""
        return list(_data().words)

    def n_stimuli(self) -> int:
        return len(_data().words)

    def ceiling(self) -> tuple:
        value = triplet_noise_ceiling(_data().triplets, _data().choices)
        return value, value

    def describe_ceiling(self) -> str:
        return ("the mean over the 1000 repeated triplets of the fraction of responses "
                "agreeing with the triplet's most frequent choice (Hebart et al. 2020)")

    def evaluate(self, activations: Mapping, *, model: str = "model", n_splits: int = 10,
                 ci: float = 0.95, seed=0) -> BenchmarkScore:
        """Score each layer's concept embeddings; see :meth:`Benchmark.evaluate`.

        Notes
        -----
        With ``e`` the unit-normalised rows, the predicted odd one out of
        ``{i, j, k}`` is ``k`` when ``e_i . e_j > max(e_i . e_k, e_j . e_k)`` (and so
        on). A triplet ``g`` with ``n_g`` responses, of which ``c_g`` chose the
        predicted item, scores ``c_g / n_g``; the score is the mean over triplets
        and its interval the t-interval over the 1000 triplets. The layer is chosen
        on half of the triplets and scored on the other half.
        """
        checked = self._check(activations, n_splits, ci)
        keys, counts, _ = _groups()
        totals = counts.sum(axis=1)
        per_layer = {}
        for layer, array in checked.items():
            norms = np.linalg.norm(array, axis=1)
            if not (norms > 0).all():
                raise ValueError(f"benchmark {self.name!r}: activations[{layer!r}] has "
                                 "all-zero rows, whose cosine similarity is undefined")
            e = array / norms[:, None]
            rows = [e[keys[:, k]] for k in range(3)]
            # similarity of the pair that leaves out sorted item 0, 1, 2
            pairs = np.stack([np.sum(rows[1] * rows[2], axis=1),
                              np.sum(rows[0] * rows[2], axis=1),
                              np.sum(rows[0] * rows[1], axis=1)], axis=1)
            predicted = np.argmax(pairs, axis=1)
            per_layer[layer] = counts[np.arange(len(keys)), predicted] / totals
        names = list(per_layer)
        table = np.stack([per_layer[name] for name in names])
        layer, held_out, chosen = choose_layer(
            names, len(keys), lambda index: table[:, index].mean(axis=1),
            n_splits=n_splits, seed=seed)
        per_triplet = per_layer[layer]
        value = float(per_triplet.mean())
        ceiling = self.ceiling()
        low, high = t_interval(per_triplet, ci)
        return BenchmarkScore(
            model=model, benchmark=self.name, layer=layer, score=value, ci_low=low,
            ci_high=high, ceiling=ceiling, normalized=normalize(value, ceiling, self.chance),
            chance=self.chance, per_unit=tuple(float(v) for v in per_triplet),
            units=tuple("-".join(str(i) for i in key) for key in keys), unit="triplet",
            # the ceiling is a mean over triplets, and both halves of a split hold every
            # triplet once: the ceiling on the halves, averaged, is the ceiling itself
            held_out=held_out, held_out_ceiling=ceiling, chosen=chosen,
            layer_scores={name: float(table[j].mean()) for j, name in enumerate(names)},
            n_splits=n_splits, ci=ci,
            interval=f"t-interval over {len(keys)} distinct triplets",
            definition=self.measure)


def benchmarks() -> tuple:
    """The benchmarks of this data set."""
    return (
        TripletBenchmark(
            name="things.odd_one_out", title="THINGS odd-one-out choices (1000 triplets)",
            modality="text", chance=1 / 3,
            measure=("mean over 1000 repeated triplets of the fraction of human responses that "
                     "chose the odd one out the layer predicts (cosine similarity of the concept "
                     "words' activations)"),
            citation=("Hebart, Zheng, Pereira & Baker (2020). Revealing the multidimensional "
                      "mental representations of natural objects underlying human similarity "
                      "judgements. Nature Human Behaviour 4:1173-1185.")),
    )
