"""THINGS: 1854 object concepts, human odd-one-out triplets and SPoSE embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["things", "ThingsData"]

_CITATION = (
    "Hebart, Zheng, Pereira & Baker (2020). Revealing the multidimensional mental "
    "representations of natural objects underlying human similarity judgements. "
    "Nature Human Behaviour 4:1173-1185. Data: CC-BY 4.0 (OSF osf.io/z2784)."
)


@dataclass(frozen=True)
class ThingsData:
    """The THINGS concepts with their human similarity data.

    Attributes
    ----------
    concepts : list of str, length 1854
        Concept ids (``aardvark``, ``abacus``, ...), the row order of the embeddings.
    words : list of str, length 1854
        The concept words (``things_concepts.tsv`` column ``Word``).
    spose49 : ndarray of shape (1854, 49)
        SPoSE embedding fitted to 1.46 million triplets (Hebart et al. 2020):
        sparse, non-negative, interpretable dimensions; similarity is the dot product.
    spose66 : ndarray of shape (1854, 66)
        The 66-d SPoSE embedding of THINGS-data (Hebart et al. 2023).
    labels49, labels66 : list of str
        Names of the embedding dimensions.
    triplets : ndarray of int, shape (20000, 3)
        Raw human odd-one-out trials (the noise-ceiling set): 0-based concept
        indices, 1000 distinct triplets with 14-25 responses each.
    choices : ndarray of int, shape (20000,)
        Position (0, 1 or 2) in each row of ``triplets`` of the item chosen as
        the odd one out.
    subjects : ndarray of int, shape (20000,)
        Anonymous participant id of each trial.
    categories : dict of str to ndarray of bool
        Membership of each concept in 27 high-level categories.
    citation : str
    """

    concepts: list
    words: list
    spose49: np.ndarray
    spose66: np.ndarray
    labels49: list
    labels66: list
    triplets: np.ndarray
    choices: np.ndarray
    subjects: np.ndarray
    categories: dict
    citation: str = _CITATION


def _lines(folder, name):
    return folder.joinpath(name).read_text(encoding="utf-8").splitlines()


def things() -> ThingsData:
    """Load the bundled THINGS data (about 6 MB of text; a second or so).

    Returns
    -------
    ThingsData

    Examples
    --------
    >>> import repalign
    >>> data = repalign.datasets.things()
    >>> data.spose49.shape, data.triplets.shape
    ((1854, 49), (20000, 3))
    >>> round(repalign.triplet_accuracy(data.spose49, data.triplets, data.choices), 3)
    0.63
    """
    folder = resources.files("repalign.datasets").joinpath("data", "things")
    trials = np.loadtxt(folder.joinpath("triplets_noiseceiling.tsv"), dtype=np.int64)
    cat_lines = _lines(folder, "category_mat_manual.tsv")
    cat_names = cat_lines[0].split("\t")
    membership = np.array([line.split("\t") for line in cat_lines[1:]], dtype=np.int64) > 0
    concept_rows = [line.split("\t") for line in _lines(folder, "things_concepts.tsv")[1:]]
    return ThingsData(
        concepts=_lines(folder, "unique_id.txt"),
        words=[row[0] for row in concept_rows],
        spose49=np.loadtxt(folder.joinpath("spose_embedding_49d_sorted.txt")),
        spose66=np.loadtxt(folder.joinpath("spose_embedding_66d_sorted.txt")),
        labels49=_lines(folder, "labels_49.txt"),
        labels66=_lines(folder, "labels_66.txt"),
        triplets=trials[:, :3] - 1,
        choices=trials[:, 3] - 1,
        subjects=trials[:, 4],
        categories={name: membership[:, i] for i, name in enumerate(cat_names)},
    )
