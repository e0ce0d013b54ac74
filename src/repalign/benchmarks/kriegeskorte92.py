"""The 92-image benchmarks: human IT, monkey IT and human similarity judgments.

A layer's activations for the 92 images of Kriegeskorte et al. (2008) give a
correlation-distance RDM (``1 - Pearson r`` between the stimuli's activation
vectors), compared with the target's RDMs by Spearman's rho, as Kriegeskorte et
al. (2008) and Khaligh-Razavi & Kriegeskorte (2014) do.

Targets with subjects (human IT: 4 subjects, each the mean of two sessions; human
judgments: 16 subjects) are scored per subject and averaged, as their leave-one-out
noise ceiling is (:func:`repalign.score_rdm`, Nili et al. 2014); the layer is chosen
with :func:`repalign.select_layer`. Monkey IT is one RDM pooled over 674 cells (Kiani
et al. 2007): it has no subjects and no split halves, so no noise ceiling can be
estimated from it; its interval is the bias-corrected jackknife over stimuli.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..datasets import kriegeskorte92
from ..inference import score_rdm, select_layer
from ..inference.jackknife import jackknife_interval
from ..measures import compare_rdms
from ._base import Benchmark, BenchmarkScore, choose_layer, normalize

__all__ = ["RDMBenchmark"]

_MEASURE = ("Spearman rho between the layer's correlation-distance RDM (1 - Pearson r "
            "between the 92 images' activation vectors) and the target's RDM")
_COMPARE = "spearman"


@functools.lru_cache(maxsize=1)
def _data():
    return kriegeskorte92()


def _condensed(square: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import squareform

    return squareform(square, checks=False)


@dataclass(frozen=True)
class RDMBenchmark(Benchmark):
    """A 92-image target: a layer's RDM against the target's RDM(s).

    Attributes
    ----------
    target : {"human_it", "monkey_it", "human_judgments"}
    """

    target: str = "human_it"

    def stimuli(self) -> np.ndarray:
        """The 92 images, uint8 of shape (92, 175, 175, 3), in the RDMs' order.

        Raises
        ------
        ValueError
            If this installation has no images (built wheels leave them out).
        """
        images = _data().images
        if images is None:
            raise ValueError(
                f"benchmark {self.name!r}: the 92 images are not in this installation "
                "(built wheels leave Kriegeskorte_Neuron2008_supplementalData.mat out; a "
                "source checkout has it); use repalign.datasets.kriegeskorte92(images=PATH)")
        return images

    def n_stimuli(self) -> int:
        return 92

    def subjects(self) -> np.ndarray | None:
        """The subject RDMs, (S, 92, 92), or None for a single RDM (monkey IT)."""
        data = _data()
        if self.target == "human_it":
            return data.human_it.mean(axis=1)
        if self.target == "human_judgments":
            return data.behavior
        return None

    def target_rdm(self) -> np.ndarray:
        """The target's RDM (92, 92): the subjects' mean, or monkey IT's one RDM."""
        subjects = self.subjects()
        return _data().monkey_it if subjects is None else subjects.mean(axis=0)

    def unit_labels(self) -> tuple:
        """The subjects' labels."""
        if self.target == "human_it":
            return _data().subjects
        return tuple(f"s{i + 1}" for i in range(self.subjects().shape[0]))

    def ceiling(self) -> tuple | None:
        subjects = self.subjects()
        if subjects is None:
            return None
        from ..inference import noise_ceiling

        return noise_ceiling(subjects, compare=_COMPARE)

    def describe_ceiling(self) -> str:
        if self.subjects() is None:
            return ("none: one RDM pooled over 674 cells, with no subjects or split halves "
                    "to estimate it from")
        return ("leave-one-subject-out (Nili et al. 2014): each subject's RDM against the "
                "mean of the others (lower) and of all (upper), Spearman")

    def evaluate(self, activations: Mapping, *, model: str = "model", n_splits: int = 10,
                 ci: float = 0.95, seed=0) -> BenchmarkScore:
        from scipy.spatial.distance import pdist

        checked = self._check(activations, n_splits, ci)
        rdms = {}
        for layer, array in checked.items():
            rdm = pdist(array, "correlation")
            if not np.isfinite(rdm).all():
                raise ValueError(
                    f"benchmark {self.name!r}: activations[{layer!r}] has a stimulus whose "
                    "activations are constant across features; its correlation distance "
                    "is undefined")
            rdms[layer] = rdm
        return self.evaluate_rdms(rdms, model=model, n_splits=n_splits, ci=ci, seed=seed)

    def evaluate_rdms(self, rdms: Mapping, *, model: str = "model", n_splits: int = 10,
                      ci: float = 0.95, seed=0) -> BenchmarkScore:
        """Score each layer's RDM (square or condensed) as :meth:`evaluate` does.

        Parameters
        ----------
        rdms : dict of str to array of shape (92, 92) or (4186,)
            Each layer's RDM over the 92 images, in their order.
        model, n_splits, ci, seed
            As in :meth:`evaluate`.

        Returns
        -------
        BenchmarkScore

        Notes
        -----
        With subject RDMs ``d_1..d_S``, the score of a layer RDM ``m`` is
        ``(1/S) sum_s rho(m, d_s)`` (:func:`repalign.score_rdm`), its interval
        the t-interval over subjects. Monkey IT's score is ``rho(m, d)``, its
        interval the bias-corrected jackknife t-interval over the 92 stimuli on
        Fisher's scale (each stimulus left out in turn).
        """
        subjects = self.subjects()
        if subjects is not None:
            return self._per_subject(rdms, subjects, model, n_splits, ci, seed)
        return self._single(rdms, model, n_splits, ci, seed)

    def _per_subject(self, rdms, subjects, model, n_splits, ci, seed) -> BenchmarkScore:
        selection = select_layer(rdms, subjects, _COMPARE, n_splits=n_splits, seed=seed)
        result = score_rdm(rdms[selection.layer], subjects, _COMPARE, name=model, ci=ci)
        return BenchmarkScore(
            model=model, benchmark=self.name, layer=selection.layer, score=result.mean,
            ci_low=result.ci_low, ci_high=result.ci_high, ceiling=result.ceiling,
            normalized=normalize(result.mean, result.ceiling, self.chance),
            chance=self.chance, per_unit=result.per_subject, units=self.unit_labels(),
            unit="subject", held_out=selection.score, held_out_ceiling=selection.ceiling,
            chosen=selection.chosen, layer_scores=selection.scores, n_splits=n_splits, ci=ci,
            interval=f"t-interval over {len(result.per_subject)} subjects",
            definition=f"mean over {len(result.per_subject)} subjects of {_MEASURE}")

    def _single(self, rdms, model, n_splits, ci, seed) -> BenchmarkScore:
        from scipy.spatial.distance import squareform

        target = self.target_rdm()
        square = {layer: squareform(np.asarray(r), checks=False) if np.ndim(r) == 1
                  else np.asarray(r) for layer, r in rdms.items()}
        for layer, rdm in square.items():
            if rdm.shape != target.shape:
                raise ValueError(f"benchmark {self.name!r}: rdms[{layer!r}] must be an RDM "
                                 f"over the 92 images; got shape {rdm.shape}")
        names = list(square)

        def score_on(index):
            ref = _condensed(target[np.ix_(index, index)])
            return [compare_rdms(_condensed(square[name][np.ix_(index, index)]), ref,
                                 _COMPARE) for name in names]

        layer, held_out, chosen = choose_layer(names, 92, score_on, n_splits=n_splits,
                                               seed=seed)
        everyone = np.arange(92)
        layer_scores = dict(zip(names, (float(s) for s in score_on(everyone))))
        value = layer_scores[layer]
        left_out = np.array([compare_rdms(_condensed(square[layer][np.ix_(keep, keep)]),
                                          _condensed(target[np.ix_(keep, keep)]), _COMPARE)
                             for keep in (np.delete(everyone, i) for i in range(92))])
        low, high = jackknife_interval(value, left_out, ci, (-1.0, 1.0))
        return BenchmarkScore(
            model=model, benchmark=self.name, layer=layer, score=value, ci_low=low,
            ci_high=high, ceiling=None, normalized=math.nan, chance=self.chance, per_unit=(),
            units=(), unit="", held_out=held_out, held_out_ceiling=None, chosen=chosen,
            layer_scores=layer_scores, n_splits=n_splits, ci=ci,
            interval="bias-corrected jackknife over the 92 stimuli",
            definition=_MEASURE, no_ceiling=self.describe_ceiling())


_CITATION = (
    "Kriegeskorte, Mur, Ruff, Kiani, Bodurka, Esteky, Tanaka & Bandettini (2008). Matching "
    "categorical object representations in inferior temporal cortex of man and monkey. "
    "Neuron 60(6):1126-1141.")


def benchmarks() -> tuple:
    """The benchmarks of this data set."""
    return (
        RDMBenchmark(name="kriegeskorte92.human_it", title="human IT fMRI (4 subjects)",
                     modality="images", measure=_MEASURE, chance=0.0, citation=_CITATION,
                     target="human_it"),
        RDMBenchmark(name="kriegeskorte92.monkey_it", title="monkey IT, 674 cells",
                     modality="images", measure=_MEASURE, chance=0.0,
                     citation=_CITATION + " Monkey IT: Kiani, Esteky, Mirpour & Tanaka (2007). "
                     "J. Neurophysiol. 97:4296-4309.", target="monkey_it"),
        RDMBenchmark(name="kriegeskorte92.human_judgments",
                     title="human similarity judgments (16 subjects)", modality="images",
                     measure=_MEASURE, chance=0.0,
                     citation="Mur, Meys, Bodurka, Goebel, Bandettini & Kriegeskorte (2013). "
                     "Human object-similarity judgments reflect and transcend the primate-IT "
                     "object representation. Front. Psychol. 4:128. Stimuli: " + _CITATION,
                     target="human_judgments"),
    )
