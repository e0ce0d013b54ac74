"""The Kriegeskorte 92-image set: human and monkey IT RDMs, similarity judgements, models,
and the 92 stimulus images (in a source checkout; left out of built wheels)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["kriegeskorte92", "Kriegeskorte92Data", "images_path", "IMAGES_FILE"]

#: The rsatoolbox file holding the 92 stimulus photographs (and the category labels).
IMAGES_FILE = "Kriegeskorte_Neuron2008_supplementalData.mat"

_CITATION = (
    "Kriegeskorte, Mur, Ruff, Kiani, Bodurka, Esteky, Tanaka & Bandettini (2008). Matching "
    "categorical object representations in inferior temporal cortex of man and monkey. "
    "Neuron 60(6):1126-1141. Similarity judgements: Mur et al. (2013), Front. Psychol. "
    "4:128. Stimuli and monkey IT: Kiani et al. (2007), J. Neurophysiol. 97:4296-4309. "
    "Files: rsatoolbox demos (Nili et al. 2014, PLoS Comput. Biol. 10:e1003553), MIT."
)


@dataclass(frozen=True)
class Kriegeskorte92Data:
    """RDMs over the 92 object images of Kriegeskorte et al. (2008).

    Every RDM is 92 x 92, symmetric, with a zero diagonal, float64, in one
    stimulus order (the first 48 images animate, the last 44 inanimate).

    Attributes
    ----------
    human_it : ndarray of shape (4, 2, 92, 92)
        Human inferior temporal cortex fMRI RDMs (1 - Pearson r between the
        voxel patterns), indexed ``[subject, session]``.
    subjects : tuple of str
        The four subjects' codes, the first axis of ``human_it``.
    monkey_it : ndarray of shape (92, 92)
        Monkey IT RDM from 674 cells (Kiani et al. 2007).
    behavior : ndarray of shape (16, 92, 92)
        One similarity-judgement RDM per human subject (multi-arrangement
        task, Mur et al. 2013).
    models : dict of str to ndarray of shape (92, 92)
        Model RDMs of the rsatoolbox demo: ``animacy``,
        ``FaceBodyManmadeNatobj``, ``EVA``, ``HMAX``, ``V1``, ``Silhouette``,
        ``RADON`` (``monkeyIT`` of that file is ``monkey_it``).
    category : list of str, length 92
        Each image's category: ``human bodypart``, ``human face``,
        ``nonhuman bodypart``, ``nonhuman face``, ``natural inanimate`` or
        ``artificial inanimate``.
    labels : dict of str to ndarray of bool, shape (92,)
        The original's 12 binary category vectors: ``animate``, ``inanim``,
        ``human``, ``nonhumani`` (nonhuman animate), ``body``, ``face``,
        ``natObj``, ``artiObj``, ``monkeyape`` and the control sets ``rand24``,
        ``rand48``, ``other48``.
    images : ndarray of uint8, shape (92, 175, 175, 3), or None
        The stimulus photographs, in the order of the RDMs: from the file in the
        source tree's data folder (:func:`images_path`), or from ``images=``.
        None when neither is there: built wheels leave the file out, as the
        photographs' copyright is unclear (see the data folder's README).
    citation : str
    """

    human_it: np.ndarray
    subjects: tuple
    monkey_it: np.ndarray
    behavior: np.ndarray
    models: dict
    category: list
    labels: dict
    images: np.ndarray | None = None
    citation: str = _CITATION


def _struct(folder, filename, variable):
    from scipy.io import loadmat

    with folder.joinpath(filename).open("rb") as f:
        return loadmat(f)[variable].ravel()


def _rdm(entry) -> np.ndarray:
    return np.asarray(entry["RDM"], dtype=np.float64)


def _name(entry) -> str:
    return str(entry["name"].ravel()[0])


def images_path():
    """Where the 92 stimulus images are in this installation, or None.

    The file ``Kriegeskorte_Neuron2008_supplementalData.mat`` lives in the
    package's data folder of a source checkout (so a fresh clone has the
    images); built wheels leave it out (their copyright is unclear), and then
    this returns None.

    Returns
    -------
    pathlib.Path or None

    Examples
    --------
    >>> import repalign
    >>> path = repalign.datasets.kriegeskorte92_images_path()
    >>> path is None or path.name == "Kriegeskorte_Neuron2008_supplementalData.mat"
    True
    """
    from pathlib import Path

    path = Path(str(resources.files("repalign.datasets").joinpath(
        "data", "kriegeskorte92", IMAGES_FILE)))
    return path if path.is_file() else None


def kriegeskorte92(images=None) -> Kriegeskorte92Data:
    """Load the bundled Kriegeskorte 92-image RDMs (1.5 MB of .mat files) and images.

    Parameters
    ----------
    images : str, path-like, None or False, default=None
        Where to load the 92 stimulus images from: None, the file in the
        package's data folder (:func:`images_path`; present in a source
        checkout, left out of built wheels), or no images when it is absent;
        a path of ``Kriegeskorte_Neuron2008_supplementalData.mat`` (rsatoolbox
        ``demos/92imageData``); False, no images (the RDMs only).

    Returns
    -------
    Kriegeskorte92Data

    Raises
    ------
    ValueError
        If the ``images`` file does not hold the 92 images in the order of
        the bundled RDMs.
    TypeError
        If ``images`` is neither a path, None nor False.

    References
    ----------
    Kriegeskorte et al. (2008). Matching categorical object representations in
    inferior temporal cortex of man and monkey. Neuron 60(6):1126-1141.

    Examples
    --------
    >>> import repalign
    >>> data = repalign.datasets.kriegeskorte92()
    >>> data.human_it.shape, data.behavior.shape, int(data.labels["animate"].sum())
    ((4, 2, 92, 92), (16, 92, 92), 48)
    >>> round(repalign.compare_rdms(data.monkey_it, data.human_it.mean(axis=(0, 1))), 3)
    0.439
    """
    folder = resources.files("repalign.datasets").joinpath("data", "kriegeskorte92")
    # The (1, 4, 2) struct array, raveled in C order: BE session 1, BE session 2, KO ...
    brain = _struct(folder, "92_brainRDMs.mat", "RDMs")
    human_it = np.stack([_rdm(e) for e in brain]).reshape(4, 2, 92, 92)
    subjects = tuple(_name(e).split("|")[1].strip() for e in brain[::2])
    models = {_name(e): _rdm(e) for e in _struct(folder, "92_modelRDMs.mat", "Models")}
    rows = [line.split("\t") for line in
            folder.joinpath("categories.tsv").read_text(encoding="utf-8").splitlines()]
    flags = np.array([row[1:] for row in rows[1:]], dtype=np.int64) > 0
    category = [row[0] for row in rows[1:]]
    return Kriegeskorte92Data(
        human_it=human_it,
        subjects=subjects,
        monkey_it=models.pop("monkeyIT"),
        behavior=np.stack([_rdm(e) for e in
                           _struct(folder, "92_behavRDMs.mat", "rdms_behav_92")]),
        models=models,
        category=category,
        labels={name: flags[:, i] for i, name in enumerate(rows[0][1:])},
        images=_images(images, category),
    )


def _images(images, category):
    if images is False:
        return None
    if images is None:
        images = images_path()
        if images is None:
            return None
    elif isinstance(images, bool) or not isinstance(images, (str, os.PathLike)):
        raise TypeError(f"images must be a path, None or False; got {images!r}")
    return _load_images(images, category)


def _load_images(path, category) -> np.ndarray:
    from scipy.io import loadmat

    contents = loadmat(path, variable_names=["stimuli_92objs"])
    stimuli = contents.get("stimuli_92objs", np.empty(0)).ravel()
    found = [str(s["category"].ravel()[0]) for s in stimuli]
    if found != category:
        raise ValueError(
            f"images: {path} does not hold the 92 stimuli in the order of the RDMs "
            f"(found {len(found)} in a variable 'stimuli_92objs', categories "
            f"starting {found[:2]}); pass Kriegeskorte_Neuron2008_supplementalData.mat "
            "from rsatoolbox's demos/92imageData"
        )
    return np.stack([np.asarray(s["image"], dtype=np.uint8) for s in stimuli])
