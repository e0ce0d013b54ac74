"""Dimensions underlying a model's odd-one-out choices, compared with the human dimensions.

Mahner, Muttenthaler, Güçlü & Hebart (2025) make a network do the human task:
for triplets of THINGS images, VGG-16's odd one out is the image left out of
the pair most similar under the dot product of its penultimate-layer features
(a deterministic choice). From millions of such choices they learn, with the
same method as for the human choices (VICE, a sparse non-negative embedding),
a low-dimensional embedding of the network (70 dimensions; 68 for humans),
have every human and network dimension rated as visual, semantic, mixed or
unclear, and compare the two embeddings dimension by dimension. Their
abstract's findings: "a low-dimensional DNN embedding of both visual and
semantic dimensions. In contrast to humans, DNNs exhibited a clear dominance of
visual over semantic properties". Some network dimensions correlate well with
a human dimension, others have no counterpart.

Here, offline, on two CPU cores:

- **The model is a text model, not an image network.** No image network with
  the THINGS images is available offline, so all-MiniLM-L6-v2 embeddings of
  the 1854 THINGS concept *words* stand in for VGG-16 on the concept images
  (the model's normalised sentence embedding, rows at unit norm, so the dot
  product is the cosine; obtained with the values study's MiniLM helper;
  ``models=`` adds other MiniLM layers). A text model has no visual input, so
  the paper's visual bias is not expected here; the check states the paper's
  claim and reports what this model does.
- **The model's choices.** Triplets of three different concepts are drawn
  uniformly; the model's odd one out is the item left out of its most
  similar pair under the dot product (:func:`repalign.studies._odd_one_out.odd_one_out`),
  deterministic as in the paper. ``n_train`` triplets fit the embedding,
  ``n_test`` others measure how well it predicts the model's choices.
- **The embedding** (:func:`fit_spose`): SPoSE (Zheng et al. 2019; Hebart et
  al. 2020), the maximum-a-posteriori form of the paper's VICE. With ``W``
  (``n x D``, ``W >= 0``) and the chosen odd one out ``k`` of ``(i, j, k)``,

  .. math::

      \\min_{W \\ge 0} \\; -\\frac1m \\sum_{(i, j, k)}
          \\log \\frac{\\exp(w_i \\cdot w_j)}{\\exp(w_i \\cdot w_j)
          + \\exp(w_i \\cdot w_k) + \\exp(w_j \\cdot w_k)}
          + \\frac{\\lambda_t}{n} \\sum_{o, d} W_{od},

  minimised by Adam on minibatches, each step followed by the projection
  ``W <- max(W, 0)``; ``lambda_t`` rises linearly to ``lambda`` over the
  first ``warmup`` share of the steps (ours: with the full penalty from the
  first step, Adam shrank every dimension to zero before the choices could
  shape them, measured at ``lambda = 0.05``). Initial values are uniform on
  ``[0, 0.2)`` (a near-constant start, as ``0.1 + 0.01 z``, left the
  dimensions nearly identical and learned far slower: measured). Dimensions
  whose largest weight is below ``prune`` (0.1) are empty and removed; the
  rest are sorted by their sum over concepts.
- **Matching** (:func:`match_dimensions`): the Pearson correlation over the
  1854 concepts between every human SPoSE 49-d dimension (Hebart et al.
  2020, bundled) and every learned dimension; each human dimension's best
  match (its largest correlation) and a one-to-one matching maximising the
  summed correlation (Hungarian algorithm, Kuhn 1955). A human dimension is
  *recovered* when its best correlation exceeds the null threshold
  (:func:`null_threshold`): the ``level`` quantile of the largest
  correlation between any human dimension and any learned dimension after
  the learned embedding's concepts are permuted (same size, sparsity and
  weight distribution; no relation to the concepts), a family-wise test over
  the 49 dimensions.
- **Visual or semantic.** :data:`DIMENSION_CATEGORIES` labels each human
  dimension by its name (Hebart et al. 2020's labels): *visual* when every
  descriptor names how a thing looks (colour, shape, size, texture,
  pattern, surface appearance), *semantic* when none does (category,
  material kind, function, context, affect, non-visual senses), *mixed* when
  the name joins both (e.g. "plant-related / green"). This labelling is ours,
  from the names, in the spirit of the paper's human ratings of each
  dimension (visual, semantic, mixed, unclear); it gives 16 visual, 27
  semantic and 6 mixed human dimensions. A learned dimension takes the
  category of its best-matching human dimension when that correlation
  exceeds the threshold (a stand-in for rating the model's dimensions).
  The balance is measured two ways: the share of the model's matched
  dimensions that are visual, semantic and mixed (the paper's comparison of
  the two embeddings' make-up; humans' own shares are 16/49, 27/49, 6/49),
  and the share of the human visual and semantic dimensions the model
  recovers.
- **Controls.** Positive: the human SPoSE 49-d embedding put through the
  same pipeline (its own deterministic choices, the same learner and budget,
  matched to itself): the ceiling of recovery at this budget. Negative: a
  Gaussian embedding as wide as the model (384), drawn anew for each seed.
- **Alignment and fidelity.** The accuracy of the learned embedding on the
  20,000 human odd-one-out trials of the THINGS noise-ceiling set
  (:func:`repalign.triplet_accuracy`), beside that of the representation it
  was learned from; and the fidelity of the embedding, the Pearson
  correlation of the off-diagonal dot-product similarities of the learned
  embedding and of the original representation
  (:func:`repalign.compare_rdms`, an RSA of the two similarity matrices) and
  its square, the share of similarity variance explained.
- **Seeds.** Each seed draws new triplets, a new initialisation and a new
  Gaussian control; every number is a mean over seeds with a 95% Student-t
  interval.

Checks, each able to fail: the learned model embedding explains at least 80%
of the variance of the model's similarities (r^2 >= 0.8; the paper reports
that its embeddings capture most of their systems' similarity structure; the
bar is ours) and predicts the model's own held-out choices; the positive
control recovers at least 90% of the human dimensions (the pipeline works);
the model recovers more human dimensions than the random control (intervals
apart); the random control recovers at most 5% (the null holds); the paper's
main claim, that the model's dimensions are dominated by visual rather than
semantic properties (visual share minus semantic share above 0), and the
reverse we expect of a text model (its semantic share above the positive
control's, whose shares are the baseline of this labelling: intervals apart).

Runs: ``repalign study dimensions --quick`` (2 seeds, 200,000 training
triplets, 300 steps of 2048, MiniLM's output and the two controls: 78 s
measured on the loaded two-core box, about 100 s beside other jobs) and
``repalign study dimensions`` (5 seeds, 1,000,000 triplets, 1500 steps: 594 s
measured at a load of about 9 on the two cores).

Notes
-----
The full run measured (means over 5 seeds, 95% t-intervals):

- MiniLM output: 87.6 [85.3, 89.9] dimensions; its own held-out choices
  predicted at 0.685 [0.680, 0.691]; similarity variance explained r^2 0.594
  [0.592, 0.595]; human triplets 0.418 [0.411, 0.424] (the original 0.414);
  0.739 [0.697, 0.780] of the human dimensions recovered (null threshold r
  0.201), mean Hungarian r 0.289 [0.281, 0.298]; 47% of the visual and 87% of
  the semantic human dimensions recovered; matched dimensions visual 0.089
  [0.057, 0.121], semantic 0.801 [0.788, 0.814], mixed 0.110 [0.085, 0.134].
- Positive control (human SPoSE): 40.4 [37.0, 43.8] dimensions; held-out 0.890
  [0.886, 0.894]; r^2 0.908 [0.907, 0.909]; human triplets 0.624 (the original
  0.630); 0.984 [0.972, 0.995] recovered, mean Hungarian r 0.721 [0.687, 0.756];
  matched dimensions visual 0.262, semantic 0.613, mixed 0.125 (humans' own
  0.327 / 0.551 / 0.122).
- Random control: 1.6 [-0.3, 3.5] dimensions survive the penalty (its
  choices have no low-dimensional structure); held-out 0.335 (chance); r^2
  0.000; no human dimension recovered.

4 of 6 checks pass. Not reproduced: fidelity (r^2 0.59 against the bar of
0.8; MiniLM's similarities are less compressible into sparse non-negative
dimensions than the human embedding's at this budget) and the paper's visual
dominance, which is reversed: the text model's dimensions are semantic
(0.80 against the positive control's 0.61), as expected of a model without
visual input; it has the category dimensions (animal 0.68, food 0.66) and
lacks colour and shape ones (red, cylindrical, disc-shaped, white).

References
----------
Mahner, Muttenthaler, Güçlü & Hebart (2025). Dimensions underlying the
representational alignment of deep neural networks with humans. Nature Machine
Intelligence (arXiv 2406.19087).

Hebart, Zheng, Pereira & Baker (2020). Revealing the multidimensional mental
representations of natural objects underlying human similarity judgements.
Nature Human Behaviour 4:1173-1185.

Zheng, Pereira, Baker & Hebart (2019). Revealing interpretable object
representations from human behavior. ICLR (SPoSE).

Muttenthaler, Zheng, McClure, Vandermeulen, Hebart & Pereira (2022). VICE:
variational interpretable concept embeddings. NeurIPS 35.

Kuhn (1955). The Hungarian method for the assignment problem. Naval Research
Logistics Quarterly 2:83-97.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register
from ._odd_one_out import odd_one_out
from .glocal import _draw_triplets
from .values import MINILM_LAYERS, _mean_interval, _minilm

__all__ = ["DIMENSION_CATEGORIES", "Dimensions", "fit_spose", "match_dimensions",
           "null_threshold"]

#: Our labelling of the 49 human SPoSE dimensions, in the order of ``labels49``: a
#: descriptor is visual if it names how a thing looks (colour, shape, size, texture,
#: pattern, surface appearance), semantic otherwise (category, material kind, function,
#: context, affect, touch, sound); a dimension is "visual" if all its descriptors are,
#: "semantic" if none is, "mixed" if some are.
DIMENSION_CATEGORIES = (
    ("made of metal / artificial / hard", "semantic"),  # material kind, artefact, touch
    ("food-related / eating-related / kitchen-related", "semantic"),
    ("animal-related / organic", "semantic"),
    ("clothing-related / fabric / covering", "semantic"),
    ("furniture-related / household-related / artifact", "semantic"),
    ("plant-related / green", "mixed"),
    ("outdoors-related", "semantic"),
    ("transportation / motorized / dynamic", "semantic"),
    ("wood-related / brownish", "mixed"),
    ("body part-related", "semantic"),
    ("colorful", "visual"),
    ("valuable / special occasion-related", "semantic"),
    ("electronic / technology", "semantic"),
    ("sport-related / recreational activity-related", "semantic"),
    ("disc-shaped / round", "visual"),
    ("tool-related", "semantic"),
    ("many small things / course pattern", "visual"),
    ("paper-related / thin / flat / text-related", "mixed"),
    ("fluid-related / drink-related", "semantic"),
    ("long / thin", "visual"),
    ("water-related / blue", "mixed"),
    ("powdery / fine-scale pattern", "visual"),
    ("red", "visual"),
    ("feminine (stereotypically) / decorative", "semantic"),
    ("bathroom-related / sanitary", "semantic"),
    ("black / noble", "mixed"),
    ("weapon / danger-related / violence", "semantic"),
    ("musical instrument-related / noise-related", "semantic"),
    ("sky-related / flying-related / floating-related", "semantic"),
    ("spherical / ellipsoid / rounded / voluminous", "visual"),
    ("repetitive", "visual"),  # a repeated visual pattern
    ("flat / patterned", "visual"),
    ("white", "visual"),
    ("thin / flat", "visual"),
    ("disgusting / bugs", "semantic"),
    ("string-related", "visual"),  # a strand-like form
    ("arms/legs/skin-related", "semantic"),
    ("shiny / transparent", "visual"),
    ("construction-related / physical work-related", "semantic"),
    ("fire-related / heat-related", "semantic"),
    ("head-related / face-related", "semantic"),
    ("beams-related", "visual"),  # a structure of bars
    ("seating-related / put things on top", "semantic"),
    ("container-related / hollow", "mixed"),
    ("child-related / toy-related", "semantic"),
    ("medicine-related", "semantic"),
    ("has grating", "visual"),
    ("handicraft-related", "semantic"),
    ("cylindrical / conical", "visual"),
)
CATEGORIES = ("visual", "semantic", "mixed")
ROLES = {"model": "model", "human": "positive control", "random": "negative control"}
#: The fidelity bar of the first check: share of the model's similarity variance explained.
FIDELITY_R2 = 0.8
#: The positive control must recover at least this share of the human dimensions.
CEILING_SHARE = 0.9
#: The random control may recover at most this share (the null's family-wise level).
NULL_SHARE = 0.05


# ---------------------------------------------------------------------- the learner
def fit_spose(triplets, choices, n_items, *, n_dims=100, l1=0.03, steps=1500,
              batch_size=2048, lr=0.03, warmup=0.3, prune=0.1, seed=0):
    """Fit a sparse positive similarity embedding (SPoSE) to odd-one-out choices.

    Minimises the negative log-likelihood of the choices under the softmax
    over the triplet's three pair dot products (:class:`repalign.losses.OddOneOutLoss`)
    plus an L1 penalty, over non-negative ``W``:

    .. math::

        \\min_{W \\ge 0} \\; -\\frac1m \\sum_t \\log p(\\text{choice}_t \\mid W)
            + \\frac{\\lambda_t}{n} \\sum_{o, d} W_{od}, \\qquad
        \\lambda_t = \\lambda \\min\\left(1, \\frac{t}{\\text{warmup} \\cdot
            \\text{steps}}\\right),

    by Adam on minibatches of triplets drawn with replacement, projecting onto
    ``W >= 0`` after every step (Zheng et al. 2019; Hebart et al. 2020).

    Parameters
    ----------
    triplets : ndarray of int, shape (m, 3)
        Item indices in ``[0, n_items)``.
    choices : ndarray of int, shape (m,)
        Position (0, 1, 2) of the odd one out of each triplet.
    n_items : int
        Rows of the embedding.
    n_dims : int, default=100
        Initial number of dimensions ``D``.
    l1 : float, default=0.03
        ``lambda``, the weight of the L1 penalty (per item).
    steps : int, default=1500
        Adam steps.
    batch_size : int, default=2048
        Triplets per step.
    lr : float, default=0.03
        Adam's learning rate.
    warmup : float, default=0.3
        Share of the steps over which the penalty rises from 0 to ``lambda``
        (0: the full penalty from the first step).
    prune : float, default=0.1
        Dimensions whose largest weight is below this are removed.
    seed : int, default=0
        Seed of the initialisation (uniform on ``[0, 0.2)``) and the batches.

    Returns
    -------
    ndarray of shape (n_items, k)
        The non-negative embedding, ``k <= n_dims`` dimensions sorted by their
        sum over items (possibly ``k = 0``).

    References
    ----------
    Zheng, Pereira, Baker & Hebart (2019). Revealing interpretable object
    representations from human behavior. ICLR.
    """
    import torch

    from ..losses import OddOneOutLoss

    for name, value in (("n_dims", n_dims), ("steps", steps), ("batch_size", batch_size)):
        if int(value) != value or value < 1:
            raise ValueError(f"fit_spose: {name} must be a positive int; got {value!r}")
    if not (l1 >= 0 and lr > 0 and 0 <= warmup <= 1 and prune >= 0):
        raise ValueError("fit_spose: needs l1 >= 0, lr > 0, 0 <= warmup <= 1 and prune >= 0; "
                         f"got l1={l1}, lr={lr}, warmup={warmup}, prune={prune}")
    triplets, choices = np.asarray(triplets), np.asarray(choices)
    gen = torch.Generator().manual_seed(int(seed))
    W = torch.nn.Parameter(0.2 * torch.rand(n_items, n_dims, generator=gen))
    loss_of = OddOneOutLoss("dot")
    opt = torch.optim.Adam([W], lr=lr)
    ramp = max(warmup * steps, 1.0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: 3x faster than 2 threads on 2 busy cores
    try:
        for t in range(1, steps + 1):
            batch = torch.randint(0, len(triplets), (batch_size,), generator=gen).numpy()
            penalty = l1 * min(1.0, t / ramp) * W.sum() / n_items
            loss = loss_of(W, triplets[batch], choices[batch]) + penalty
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                W.clamp_(min=0)
    finally:
        torch.set_num_threads(threads)
    E = W.detach().numpy().astype(np.float64)
    E = E[:, E.max(axis=0) >= prune]
    return E[:, np.argsort(-E.sum(axis=0), kind="stable")]


# ---------------------------------------------------------------------- the matching
def _standardise(X):
    """Columns at mean 0 and unit norm, so that ``A.T @ B`` is the Pearson correlation."""
    Z = X - X.mean(axis=0)
    norm = np.linalg.norm(Z, axis=0)
    return Z / np.where(norm > 0, norm, 1.0)


def match_dimensions(reference, learned):
    """Match each reference dimension with learned dimensions by correlation over items.

    With ``R_ij`` the Pearson correlation across items of reference dimension
    ``i`` and learned dimension ``j``, the best match of ``i`` is
    ``argmax_j R_ij``; the one-to-one match maximises ``sum_i R_{i pi(i)}``
    over injective ``pi`` (Hungarian algorithm, Kuhn 1955), leaving reference
    dimensions unmatched where there are fewer learned ones.

    Parameters
    ----------
    reference : ndarray of shape (n_items, p)
    learned : ndarray of shape (n_items, k)

    Returns
    -------
    dict
        ``corr`` (p, k); ``best``, ``best_index`` (p,); ``hungarian``,
        ``hungarian_index`` (p,), NaN and -1 where unmatched. With ``k = 0``
        every best correlation is NaN.
    """
    from scipy.optimize import linear_sum_assignment

    reference, learned = np.asarray(reference, float), np.asarray(learned, float)
    if reference.ndim != 2 or learned.ndim != 2 or len(reference) != len(learned):
        raise ValueError("match_dimensions: reference and learned must be 2-D with the same "
                         f"items (rows); got {reference.shape} and {learned.shape}")
    p, k = reference.shape[1], learned.shape[1]
    R = _standardise(reference).T @ _standardise(learned)
    out = {"corr": R, "best": np.full(p, np.nan), "best_index": np.full(p, -1),
           "hungarian": np.full(p, np.nan), "hungarian_index": np.full(p, -1)}
    if k == 0:
        return out
    out["best_index"] = R.argmax(axis=1)
    out["best"] = R[np.arange(p), out["best_index"]]
    rows, cols = linear_sum_assignment(R, maximize=True)
    out["hungarian"][rows], out["hungarian_index"][rows] = R[rows, cols], cols
    return out


def null_threshold(reference, learned, rng, n_permutations=200, level=0.95):
    """The ``level`` quantile of the largest correlation when the items are unrelated.

    Each permutation reorders the learned embedding's items (rows), keeping
    its size, sparsity and weights, and takes the largest correlation between
    any reference and any learned dimension; a best match above the quantile
    of these maxima is unlikely under no relation, family-wise over the
    reference dimensions.

    Parameters
    ----------
    reference : ndarray of shape (n_items, p)
    learned : ndarray of shape (n_items, k)
    rng : numpy.random.Generator
    n_permutations : int, default=200
    level : float, default=0.95

    Returns
    -------
    float
        NaN if ``learned`` has no dimension.
    """
    learned = np.asarray(learned, float)
    if learned.shape[1] == 0:
        return float("nan")
    Zr, Zl = _standardise(np.asarray(reference, float)), _standardise(learned)
    maxima = [np.max(Zr.T @ Zl[rng.permutation(len(Zl))]) for _ in range(n_permutations)]
    return float(np.quantile(maxima, level))


# ---------------------------------------------------------------------- one fit
def _similarity_fidelity(E, X):
    """Pearson r of the off-diagonal dot-product similarities of ``E`` and ``X``."""
    import repalign

    return repalign.compare_rdms(-(E @ E.T), -(X @ X.T), method="pearson")


def _one_fit(source, role, X, things, config, s, index):
    """Triplets, choices, embedding, matching and rows of one source at seed ``s``."""
    import repalign

    n, human = len(things.words), things.spose49
    rng = np.random.default_rng([config.seed, s, index])
    T = _draw_triplets(np.arange(n), config.n_train + config.n_test, rng)
    choices = odd_one_out(X, T)
    train, test = slice(0, config.n_train), slice(config.n_train, None)
    E = fit_spose(T[train], choices[train], n, n_dims=config.n_dims, l1=config.l1,
                  steps=config.steps, batch_size=config.batch_size, lr=config.lr,
                  warmup=config.warmup, prune=config.prune,
                  seed=int(rng.integers(2**31)))
    match = match_dimensions(human, E)
    threshold = null_threshold(human, E, rng, config.n_permutations, config.level)
    learned_best = match["corr"].max(axis=0) if E.shape[1] else np.zeros(0)
    learned_cat = np.array([c for _, c in DIMENSION_CATEGORIES])[
        match["corr"].argmax(axis=0)] if E.shape[1] else np.zeros(0, dtype=str)
    matched = learned_best > threshold
    fit = {"seed": s, "source": source, "role": role, "n_dims": E.shape[1],
           "heldout_accuracy": float(np.mean(odd_one_out(E, T[test]) == choices[test]))
           if E.shape[1] else np.nan,
           "fidelity_r": _similarity_fidelity(E, X) if E.shape[1] else np.nan,
           "human_accuracy": repalign.triplet_accuracy(E, things.triplets, things.choices)
           if E.shape[1] else np.nan,
           "original_human_accuracy": repalign.triplet_accuracy(X, things.triplets,
                                                                things.choices),
           "threshold": threshold, "learned_matched": int(matched.sum()),
           **{f"learned_{c}": int(np.sum(matched & (learned_cat == c))) for c in CATEGORIES}}
    return [{**fit, "dimension": i + 1, "label": label, "category": category,
             "best_r": match["best"][i], "best_match": int(match["best_index"][i]),
             "hungarian_r": match["hungarian"][i],
             "recovered": bool(match["best"][i] > threshold),
             "recovered_hungarian": bool(match["hungarian"][i] > threshold)}
            for i, (label, category) in enumerate(DIMENSION_CATEGORIES)]


# ---------------------------------------------------------------------- summaries
def _per_fit(table):
    """One row per (source, seed): recovery, shares and fidelity of that fit."""
    import pandas as pd

    rows = []
    for (source, seed), part in table.groupby(["source", "seed"], sort=False):
        first = part.iloc[0]
        row = {"source": source, "seed": seed, "role": first.role, "n_dims": first.n_dims,
               "heldout_accuracy": first.heldout_accuracy,
               "fidelity_r2": first.fidelity_r ** 2, "human_accuracy": first.human_accuracy,
               "original_human_accuracy": first.original_human_accuracy,
               "threshold": first.threshold, "recovered": part.recovered.mean(),
               "recovered_hungarian": part.recovered_hungarian.mean(),
               "best_r": part.best_r.mean(), "hungarian_r": part.hungarian_r.mean()}
        for c in CATEGORIES:
            in_c = part[part.category == c]
            row[f"recovered_{c}"] = in_c.recovered.mean()
            row[f"best_r_{c}"] = in_c.best_r.mean()
            row[f"share_{c}"] = (first[f"learned_{c}"] / first.learned_matched
                                 if first.learned_matched else np.nan)
        row["share_visual_minus_semantic"] = row["share_visual"] - row["share_semantic"]
        row["recovered_visual_minus_semantic"] = (row["recovered_visual"]
                                                  - row["recovered_semantic"])
        rows.append(row)
    return pd.DataFrame(rows)


def _intervals(fits):
    """``{source: {statistic: (mean, low, high)}}`` over seeds (95% Student t)."""
    stats = [c for c in fits.columns if c not in ("source", "seed", "role")]
    return {source: {c: _mean_interval(part[c].dropna()) if part[c].notna().any()
                     else (np.nan, np.nan, np.nan) for c in stats}
            for source, part in fits.groupby("source", sort=False)}


def _human_shares():
    """Humans' own shares of visual, semantic and mixed dimensions (of 49)."""
    cats = [c for _, c in DIMENSION_CATEGORIES]
    return {c: cats.count(c) / len(cats) for c in CATEGORIES}


def _fmt(v, digits=3):
    mean, low, high = v
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the dimensions study.

    Attributes
    ----------
    models : tuple of str
        MiniLM layers whose concept-word embeddings are the models
        (``"2"``: the normalised sentence embedding; others from
        :data:`repalign.studies.values.MINILM_LAYERS`).
    n_seeds : int
        Seeds (triplets, initialisation, random control); at least 2.
    n_train, n_test : int
        Triplets of the model's choices to fit the embedding and to test it.
    n_dims : int
        Initial dimensions of the embedding.
    l1 : float
        Weight of the L1 penalty.
    steps, batch_size : int
        Adam steps and triplets per step.
    lr : float
        Adam's learning rate.
    warmup : float
        Share of the steps over which the penalty rises to ``l1``.
    prune : float
        Dimensions with no weight above this are removed.
    n_permutations : int
        Permutations of the null threshold.
    level : float
        Quantile of the null threshold (the family-wise level is ``1 - level``).
    """

    models: tuple = ("2",)
    n_seeds: int = 5
    n_train: int = 1_000_000
    n_test: int = 20_000
    n_dims: int = 100
    l1: float = 0.03
    steps: int = 1500
    batch_size: int = 2048
    lr: float = 0.03
    warmup: float = 0.3
    prune: float = 0.1
    n_permutations: int = 200
    level: float = 0.95

    def __post_init__(self):
        unknown = [m for m in self.models if m not in MINILM_LAYERS]
        if not self.models or unknown:
            raise ValueError(f"study dimensions: models must be MiniLM layers among "
                             f"{MINILM_LAYERS}; got {self.models!r}")
        for name in ("n_seeds", "n_train", "n_test", "n_dims", "steps", "batch_size",
                     "n_permutations"):
            value = getattr(self, name)
            low = 2 if name == "n_seeds" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"study dimensions: {name} must be an int >= {low}; got "
                                 f"{value!r}")
        if not (self.l1 >= 0 and self.lr > 0 and 0 <= self.warmup <= 1 and self.prune >= 0
                and 0 < self.level < 1):
            raise ValueError("study dimensions: needs l1 >= 0, lr > 0, 0 <= warmup <= 1, "
                             f"prune >= 0 and 0 < level < 1; got l1={self.l1}, lr={self.lr}, "
                             f"warmup={self.warmup}, prune={self.prune}, level={self.level}")


@register
class Dimensions(Study):
    """SPoSE dimensions of a model's own odd-one-out choices against the human dimensions.

    ``results.csv``: one row per seed, source and human dimension; columns
    ``seed, source, role, n_dims, heldout_accuracy, fidelity_r, human_accuracy,
    original_human_accuracy, threshold, learned_matched, learned_visual,
    learned_semantic, learned_mixed`` (of the fit) and ``dimension, label,
    category, best_r, best_match, hungarian_r, recovered, recovered_hungarian``
    (of the human dimension).
    """

    name = "dimensions"
    title = "Dimensions of a model's odd-one-out choices vs the human dimensions"
    reference = ("Mahner, Muttenthaler, Güçlü & Hebart (2025), Dimensions underlying the "
                 "representational alignment of deep neural networks with humans, Nature "
                 "Machine Intelligence (arXiv 2406.19087)")
    Config = Config
    quick_settings = {"n_seeds": 2, "n_train": 200_000, "n_test": 10_000, "steps": 300,
                      "n_permutations": 100}

    def measure(self, config):
        import pandas as pd

        import repalign

        things = repalign.datasets.things()
        if [label for label, _ in DIMENSION_CATEGORIES] != list(things.labels49):
            raise RuntimeError("DIMENSION_CATEGORIES no longer follows labels_49.txt")
        models = _minilm(things.words, config.models)
        rows = []
        for s in range(config.n_seeds):
            random = np.random.default_rng([config.seed, s]).standard_normal((len(things.words),
                                                                               384))
            sources = [*((f"minilm {_short(layer)}", "model", X) for layer, X in models.items()),
                       ("human spose-49", "human", things.spose49),
                       ("random gaussian-384", "random", random)]
            for index, (source, role, X) in enumerate(sources):
                rows += _one_fit(source, ROLES[role], X, things, config, s, index)
        table = pd.DataFrame(rows)
        fits = _per_fit(table)
        return Outcome(table, {"fits": fits, "intervals": _intervals(fits),
                               "human_shares": _human_shares()})

    def checks(self, outcome, config):
        iv, fits = outcome.details["intervals"], outcome.details["fits"]
        human_shares = outcome.details["human_shares"]
        (ceiling,) = fits[fits.role == ROLES["human"]].source.unique()
        (random,) = fits[fits.role == ROLES["random"]].source.unique()
        checks = []
        for model in fits[fits.role == ROLES["model"]].source.unique():
            m = iv[model]
            checks += [
                Check(f"{model}: the learned embedding captures the model's similarities "
                      f"(r^2 >= {FIDELITY_R2}; the paper reports most of the similarity "
                      "variance explained, the bar is ours) and predicts its own held-out "
                      "choices",
                      m["fidelity_r2"][0] >= FIDELITY_R2,
                      f"r^2 {_fmt(m['fidelity_r2'])}; held-out accuracy on the model's "
                      f"choices {_fmt(m['heldout_accuracy'])} (chance 0.333; positive control "
                      f"{_fmt(iv[ceiling]['heldout_accuracy'])}, r^2 "
                      f"{_fmt(iv[ceiling]['fidelity_r2'])})"),
                Check(f"{model} recovers more human dimensions than the random control "
                      "(seed intervals apart)",
                      m["recovered"][1] > iv[random]["recovered"][2],
                      f"share recovered {_fmt(m['recovered'])} vs "
                      f"{_fmt(iv[random]['recovered'])} (of 49)"),
                Check(f"{model}: its dimensions are dominated by visual rather than semantic "
                      "properties (Mahner et al.'s main claim, for VGG-16 on images): visual "
                      "minus semantic share of its matched dimensions above 0",
                      m["share_visual_minus_semantic"][1] > 0,
                      f"visual {_fmt(m['share_visual'])}, semantic "
                      f"{_fmt(m['share_semantic'])}, mixed {_fmt(m['share_mixed'])}; "
                      f"difference {_fmt(m['share_visual_minus_semantic'])}; humans' own "
                      f"{human_shares['visual']:.3f} / {human_shares['semantic']:.3f} / "
                      f"{human_shares['mixed']:.3f}"),
                Check(f"{model}: a text model, without visual input, is instead semantic: the "
                      "semantic share of its matched dimensions exceeds that of the human "
                      "embedding through the same pipeline (intervals apart; our expectation, "
                      "not the paper's)",
                      m["share_semantic"][1] > iv[ceiling]["share_semantic"][2],
                      f"semantic share {_fmt(m['share_semantic'])} vs positive control "
                      f"{_fmt(iv[ceiling]['share_semantic'])} (humans' own 49: "
                      f"{human_shares['semantic']:.3f}); recovered human semantic dimensions "
                      f"{_fmt(m['recovered_semantic'])} vs visual "
                      f"{_fmt(m['recovered_visual'])}"),
            ]
        checks += [
            Check(f"the positive control (human SPoSE through the same pipeline) recovers at "
                  f"least {CEILING_SHARE:.0%} of the human dimensions",
                  iv[ceiling]["recovered"][0] >= CEILING_SHARE,
                  f"{_fmt(iv[ceiling]['recovered'])}; mean Hungarian r "
                  f"{_fmt(iv[ceiling]['hungarian_r'])}"),
            Check(f"the null holds: the random control recovers at most {NULL_SHARE:.0%} of "
                  "the human dimensions",
                  iv[random]["recovered"][0] <= NULL_SHARE,
                  f"{_fmt(iv[random]['recovered'])}; threshold "
                  f"{_fmt(iv[random]['threshold'])}"),
        ]
        return checks

    def figure(self, outcome, config):
        return _figure(outcome.table, outcome.details)

    def numbers(self, outcome, config):
        iv, table = outcome.details["intervals"], outcome.table
        shares = outcome.details["human_shares"]
        rows = [("learned dimensions", "n_dims", 1), ("held-out accuracy (own choices)",
                                                      "heldout_accuracy", 3),
                ("fidelity r^2 (similarities)", "fidelity_r2", 3),
                ("human triplets: learned embedding", "human_accuracy", 3),
                ("human triplets: original", "original_human_accuracy", 3),
                ("null threshold (r)", "threshold", 3),
                ("human dims recovered", "recovered", 3),
                ("... visual / semantic / mixed", None, 3),
                ("mean best r", "best_r", 3), ("mean Hungarian r", "hungarian_r", 3),
                ("matched learned dims: visual share", "share_visual", 3),
                ("... semantic share", "share_semantic", 3),
                ("... mixed share", "share_mixed", 3)]
        sources = list(iv)
        lines = [f"Means over {config.n_seeds} seeds, 95% Student-t intervals.", "",
                 "| | " + " | ".join(sources) + " |", "|---|" + "---|" * len(sources)]
        for name, key, digits in rows:
            if key is None:
                cells = [" / ".join(f"{iv[s][f'recovered_{c}'][0]:.2f}" for c in CATEGORIES)
                         for s in sources]
            else:
                cells = [_fmt(iv[s][key], digits) for s in sources]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", f"Humans' own shares (our labelling of the 49 dimensions): visual "
                  f"{shares['visual']:.3f}, semantic {shares['semantic']:.3f}, mixed "
                  f"{shares['mixed']:.3f}."]
        for source in table[table.role == ROLES["model"]].source.unique():
            per_dim = (table[table.source == source].groupby(["dimension", "label", "category"])
                       .agg(best_r=("best_r", "mean"), recovered=("recovered", "mean"))
                       .reset_index().sort_values("best_r", ascending=False))
            has = per_dim[per_dim.recovered >= 0.5]
            lacks = per_dim[per_dim.recovered < 0.5]
            lines += ["", f"{source} has (recovered in at least half the seeds; mean best r): "
                      + "; ".join(f"{x.label} ({x.category[0]}, {x.best_r:.2f})"
                                  for x in has.itertuples()) + ".",
                      "", f"{source} lacks: " + ("; ".join(
                          f"{x.label} ({x.category[0]}, {x.best_r:.2f})"
                          for x in lacks.itertuples()) or "none") + "."]
        lines += ["", _verdict(outcome.details)]
        return "\n".join(lines)

    def description(self, outcome, config):
        models = ", ".join(_short(m) for m in config.models)
        return (
            "Stand-in: all-MiniLM-L6-v2 embeddings of the 1854 THINGS concept words (layers: "
            f"{models}; rows at unit norm) replace the paper's VGG-16 on THINGS images, as no "
            "image network with THINGS images is offline. For each source and each of "
            f"{config.n_seeds} seeds: {config.n_train:,} training and {config.n_test:,} test "
            "triplets of distinct concepts drawn uniformly; the source's odd one out is the "
            "item outside its most similar dot-product pair; a SPoSE embedding (non-negative, "
            f"L1 {config.l1} ramped over the first {config.warmup:.0%} of steps, {config.n_dims} "
            f"initial dimensions, Adam lr {config.lr}, {config.steps} steps of "
            f"{config.batch_size} triplets, dimensions with no weight above {config.prune} "
            "pruned) is fitted to the training choices; its dimensions are matched to the 49 "
            "human SPoSE dimensions by Pearson r over concepts (best match and Hungarian); a "
            "dimension is recovered above the "
            f"{config.level:.0%} quantile of the largest r under {config.n_permutations} "
            "concept permutations of the learned embedding. Sources: the model(s); the human "
            "SPoSE 49-d embedding through the same pipeline (positive control); a Gaussian "
            "384-d embedding, new per seed (negative control). Human alignment: accuracy on "
            "the 20,000 THINGS noise-ceiling trials. Visual/semantic/mixed: our labelling of "
            "the 49 human dimensions from their names (DIMENSION_CATEGORIES).")


def _short(layer):
    """A MiniLM layer's short name (``output`` for the normalised sentence embedding)."""
    if layer == "2":
        return "output"
    return layer.replace("0.model.encoder.layer.", "layer ").replace("0.model.", "")


def _verdict(details):
    """What reproduced, what not, and why, from the measured numbers."""
    iv, shares = details["intervals"], details["human_shares"]
    fits = details["fits"]
    (ceiling,) = fits[fits.role == ROLES["human"]].source.unique()
    (random,) = fits[fits.role == ROLES["random"]].source.unique()
    parts = []
    c = iv[ceiling]
    for model in fits[fits.role == ROLES["model"]].source.unique():
        m = iv[model]
        diff = m["share_visual_minus_semantic"]
        balance = ("visual-dominated" if diff[1] > 0 else "semantic-dominated" if diff[2] < 0
                   else "without a clear visual or semantic dominance")
        parts.append(
            f"{model}: the learned embedding ({m['n_dims'][0]:.0f} dimensions) explains "
            f"{m['fidelity_r2'][0]:.0%} of the variance of the model's similarities and "
            f"predicts {m['heldout_accuracy'][0]:.1%} of its held-out choices, against "
            f"{iv[ceiling]['fidelity_r2'][0]:.0%} and {iv[ceiling]['heldout_accuracy'][0]:.1%} "
            "for the human embedding through the same learner, so the model's similarity "
            "structure is "
            + ("as" if m["fidelity_r2"][0] >= iv[ceiling]["fidelity_r2"][0] else "less")
            + " compressible into sparse non-negative dimensions. It recovers "
            f"{m['recovered'][0]:.0%} of the human dimensions (random control "
            f"{iv[random]['recovered'][0]:.0%}, positive control "
            f"{iv[ceiling]['recovered'][0]:.0%}), mean Hungarian r {m['hungarian_r'][0]:.2f} "
            f"(positive control {iv[ceiling]['hungarian_r'][0]:.2f}). Its matched dimensions "
            f"are {balance}: visual {m['share_visual'][0]:.2f}, semantic "
            f"{m['share_semantic'][0]:.2f}, mixed {m['share_mixed'][0]:.2f}, against "
            f"{c['share_visual'][0]:.2f} / {c['share_semantic'][0]:.2f} / "
            f"{c['share_mixed'][0]:.2f} for the human embedding through the same pipeline "
            f"and humans' own {shares['visual']:.2f} / {shares['semantic']:.2f} / "
            f"{shares['mixed']:.2f} (the positive control is the baseline of this "
            "labelling: it moves the shares from humans' own by "
            f"{c['share_semantic'][0] - shares['semantic']:+.2f} semantic); of the "
            f"human visual dimensions it recovers {m['recovered_visual'][0]:.0%} (positive "
            f"control {c['recovered_visual'][0]:.0%}), of the semantic "
            f"{m['recovered_semantic'][0]:.0%} ({c['recovered_semantic'][0]:.0%}). The "
            "paper's visual dominance is "
            + ("reproduced" if diff[1] > 0 else "not reproduced")
            + " here: the model reads words, not images, so visual properties reach it only "
            "through language, and the paper's claim is about an image network.")
    return "Verdict. " + " ".join(parts)


def _figure(table, details):
    from matplotlib.figure import Figure

    iv, shares = details["intervals"], details["human_shares"]
    sources = list(iv)
    colors = dict(zip(sources, ["tab:blue", "tab:cyan", "tab:purple"][:len(sources) - 2]
                      + ["tab:red", "0.5"]))
    fig = Figure(figsize=(15, 4.3))
    left, middle, right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 1.3, 1.3]})
    order = sorted(range(len(DIMENSION_CATEGORIES)),
                   key=lambda i: (CATEGORIES.index(DIMENSION_CATEGORIES[i][1]), i))
    for source in sources:
        part = table[table.source == source].groupby("dimension").best_r.mean()
        left.plot(range(len(order)), part.to_numpy()[order], "o-", ms=3, lw=0.8,
                  color=colors[source], label=source)
    left.axhline(np.nanmean(table.threshold), color="k", ls=":", label="null threshold")
    left.set_xticks(range(len(order)), [f"{DIMENSION_CATEGORIES[i][0][:18]} "
                                        f"({DIMENSION_CATEGORIES[i][1][0]})" for i in order],
                    rotation=90, fontsize=5)
    left.set_ylabel("best-match Pearson r over concepts")
    left.set_title("each human dimension's best learned match (mean over seeds)", fontsize=9)
    left.legend(fontsize=7)
    width = 0.8 / len(sources)
    for j, source in enumerate(sources):
        for panel, key in ((middle, "recovered_{}"), (right, "share_{}")):
            values = [iv[source][key.format(c)] for c in CATEGORIES]
            y = np.array([v[0] for v in values])
            err = np.array([[v[0] - v[1], v[2] - v[0]] for v in values]).T
            panel.bar(np.arange(3) + j * width, y, width, yerr=np.nan_to_num(err),
                      color=colors[source], capsize=2, label=source)
    right.scatter(np.arange(3) + 0.4 - width / 2, [shares[c] for c in CATEGORIES], marker="_",
                  s=400, color="k", label="humans' own shares")
    for panel, title in ((middle, "share of human dimensions recovered"),
                         (right, "make-up of matched learned dimensions")):
        panel.set_xticks(np.arange(3) + 0.4 - width / 2, CATEGORIES)
        panel.set_title(title, fontsize=9)
        panel.set_ylim(0, 1.05)
    right.legend(fontsize=6)
    fig.tight_layout()
    return fig
