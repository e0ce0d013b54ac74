"""A deep network's layers against human IT, monkey IT and human judgments (92 images).

Kriegeskorte et al. (2008) measured the representational dissimilarity matrix
(RDM) of 92 object images in human inferior temporal cortex (fMRI, 4 subjects x
2 sessions) and monkey IT (674 cells) and found the two match, both dominated
by the animate / inanimate division. Khaligh-Razavi & Kriegeskorte (2014) then
showed that the late layers of a deep supervised network explain the IT RDM
better than earlier layers and than classic computational models (HMAX, V1
models, silhouettes, ...), approaching the noise ceiling.

Here, with EfficientNet-Lite0 (ImageNet weights, from its PyPI package):

- each of its 16 MBConv blocks (spatially mean-pooled activations, correlation
  distance RDMs) against three targets: **human IT** (mean of 4 subjects' RDMs,
  each the mean of two sessions), **monkey IT**, and **human similarity
  judgments** (mean of 16 subjects' multi-arrangement RDMs; Mur et al. 2013);
- the classic model RDMs bundled with the data (animacy and category models,
  EVA, HMAX, V1, silhouette, RADON) and monkey IT itself against the same targets;
- Spearman's rho (:func:`repalign.compare_rdms`), one-sided p-values from
  permuting the stimuli of the target RDM (:func:`repalign.rdm_permutation_test`;
  Nili et al. 2014), Benjamini-Hochberg q-values across the network's layers per
  target (:func:`repalign.fdr`), and each target's noise ceiling from its subjects
  (:func:`repalign.noise_ceiling`: lower = each subject against the mean of the
  others, upper = against the mean of all; monkey IT has one RDM and no ceiling).

The images ship in a source checkout's package data folder
(:func:`repalign.datasets.kriegeskorte92_images_path`) but not in built wheels
(their copyright is unclear). Without them (``images=None`` and no bundled
file) the study runs the bundled RDMs only and says so; pass ``images=PATH``
(CLI ``--images PATH``) for the network.

References
----------
Kriegeskorte, Mur, Ruff, Kiani, Bodurka, Esteky, Tanaka & Bandettini (2008).
Matching categorical object representations in inferior temporal cortex of man
and monkey. Neuron 60(6):1126-1141.

Khaligh-Razavi & Kriegeskorte (2014). Deep supervised, but not unsupervised,
models may explain IT cortical representation. PLoS Comput. Biol. 10:e1003915.

Nili, Wingfield, Walther, Su, Marslen-Wilson & Kriegeskorte (2014). A toolbox
for representational similarity analysis. PLoS Comput. Biol. 10:e1003553.

Tan & Le (2019). EfficientNet: rethinking model scaling for convolutional
neural networks. ICML (the Lite0 variant: TensorFlow model garden, 2020).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register

__all__ = ["Brain", "targets", "network_rdms", "score", "rdm_hash", "IMAGES_FILE"]

IMAGES_FILE = "Kriegeskorte_Neuron2008_supplementalData.mat"
NETWORK = "efficientnet-lite0"
LAYERS = tuple(f"_blocks.{i}" for i in range(16))
#: Image-computable classic models (the category models are not computed from images).
CLASSIC = ("EVA", "HMAX", "V1", "Silhouette", "RADON")


def rdm_hash(rdm) -> str:
    """SHA-256 of an RDM's values as contiguous float64 (its identity in a result store)."""
    return hashlib.sha256(np.ascontiguousarray(rdm, dtype=np.float64).tobytes()).hexdigest()


def targets(data) -> dict:
    """The three target RDMs and their subject RDMs (None: no noise ceiling).

    Returns
    -------
    dict of str to (ndarray of shape (92, 92), ndarray of shape (S, 92, 92) or None)
        ``human_it`` (subjects' session means and their mean), ``monkey_it``,
        ``human_judgments``.
    """
    human_it = data.human_it.mean(axis=1)
    return {"human_it": (human_it.mean(axis=0), human_it),
            "monkey_it": (data.monkey_it, None),
            "human_judgments": (data.behavior.mean(axis=0), data.behavior)}


def network_rdms(images) -> dict:
    """Correlation-distance RDMs (condensed) of EfficientNet-Lite0's 16 blocks.

    Parameters
    ----------
    images : ndarray of shape (92, 3, H, W)
        The stimuli as the network's adapter expects them.
    """
    from scipy.spatial.distance import pdist

    import repalign

    model = repalign.load_model(NETWORK)
    acts = repalign.extract(model, images, layers=list(LAYERS), pool="mean", batch_size=46)
    return {layer: pdist(acts[layer].astype(np.float64), "correlation") for layer in LAYERS}


def score(rdms: dict, target_rdms: dict, *, model: str, n_permutations: int, seed: int):
    """Spearman RSA of each RDM with each target, on the noise ceiling's scale.

    A target with subject RDMs is scored per subject and averaged, as its noise
    ceiling is (:func:`repalign.score_rdm`, rsatoolbox's ``eval_fixed``); the
    comparison with the subjects' mean RDM, a less noisy RDM than any
    subject's and so on another scale, is kept as ``rho_group`` for reference.
    A target without subjects (monkey IT) is compared directly.

    Parameters
    ----------
    rdms : dict of str to array
        Layer (or model) name to RDM, square or condensed.
    target_rdms : dict
        As returned by :func:`targets`.
    model : str
        Written in the ``model`` column.
    n_permutations : int
    seed : int

    Returns
    -------
    list of dict
        Rows with ``model, layer, depth, target, rho, rho_sem, rho_group, score,
        p_value, q_value, ceiling_low, ceiling_high, rdm_hash, target_hash``
        (``score`` says how ``rho`` was computed; p from permutations of the
        stimuli; q over the layers of ``rdms``, per target; the hashes are
        SHA-256 of the condensed float64 RDMs, the keys of a
        :class:`repalign.ResultStore`).
    """
    from scipy.spatial.distance import squareform

    import repalign

    rows = []
    for target, (rdm, subjects) in target_rdms.items():
        condensed = squareform(rdm, checks=False)
        vectors = [np.asarray(r) if np.ndim(r) == 1 else squareform(r, checks=False)
                   for r in rdms.values()]
        found = []
        for v in vectors:
            if subjects is None:
                group, p = repalign.rdm_permutation_test(v, condensed,
                                                         n_permutations=n_permutations, seed=seed)
                found.append({"rho": group, "rho_sem": np.nan, "rho_group": group,
                              "score": "one RDM", "p_value": p, "ceiling_low": np.nan,
                              "ceiling_high": np.nan})
                continue
            s = repalign.score_rdm(v, subjects, n_permutations=n_permutations, seed=seed)
            found.append({"rho": s.mean, "rho_sem": s.sem,
                          "rho_group": repalign.compare_rdms(v, condensed),
                          "score": f"mean over {len(s.per_subject)} subjects",
                          "p_value": s.p_value, "ceiling_low": s.ceiling[0],
                          "ceiling_high": s.ceiling[1]})
        _, q_values = repalign.fdr([f["p_value"] for f in found])
        rows += [{"model": model, "layer": layer, "depth": depth, "target": target, **f,
                  "q_value": q, "rdm_hash": rdm_hash(v), "target_hash": rdm_hash(condensed)}
                 for depth, (layer, v, f, q) in enumerate(zip(rdms, vectors, found, q_values))]
    return rows


def held_out_layers(rdms: dict, target_rdms: dict, seed: int) -> dict:
    """The layer chosen on half of the stimuli and scored on the other half, per target.

    Targets with subject RDMs only (:func:`repalign.select_layer`, 10 splits).
    """
    import repalign

    return {target: repalign.select_layer(rdms, subjects, n_splits=10, seed=seed)
            for target, (_, subjects) in target_rdms.items() if subjects is not None}


def _images(config) -> Path | None:
    """The images file of a run: ``config.images``, else the bundled file (None
    in an installation without it)."""
    import repalign

    if config.images is not None:
        return Path(config.images)
    return repalign.datasets.kriegeskorte92_images_path()


def _network_summary(table):
    """The network's human IT rows: its best block and its early and late mean rho."""
    net = table[(table.model == NETWORK) & (table.target == "human_it")]
    return net.loc[net.rho.idxmax()], net.rho.iloc[:5].mean(), net.rho.iloc[-5:].mean()


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the brain study.

    Attributes
    ----------
    images : path, optional
        ``Kriegeskorte_Neuron2008_supplementalData.mat`` holding the 92 images;
        None: the file bundled in a source checkout, if present.
        Without it only the bundled RDMs are compared.
    n_permutations : int
        Stimulus permutations per test (quick: 199).

    Raises
    ------
    ValueError
        If ``images`` is given and is not an existing file.
    """

    images: Path | None = None
    n_permutations: int = 1999

    def __post_init__(self) -> None:
        images = self.images and Path(self.images)
        if images and not images.is_file():
            what = "is a folder" if images.is_dir() else "does not exist"
            raise ValueError(f"images must be the file {IMAGES_FILE} (the 92 images); "
                             f"{str(images)!r} {what}")


@register
class Brain(Study):
    """EfficientNet-Lite0's blocks and classic models against IT and judgments.

    ``results.csv`` columns: ``model, layer, depth, target, rho, rho_sem,
    rho_group, score, p_value, q_value, ceiling_low, ceiling_high, rdm_hash,
    target_hash``: ``rho`` is on the scale of the noise ceiling (the mean over
    subjects for human IT and judgments), ``rho_group`` the comparison with the
    subjects' mean RDM.
    """

    name = "brain"
    title = "92 images: a deep network vs human IT, monkey IT and judgments"
    reference = ("Kriegeskorte et al. (2008), Neuron 60:1126-1141; Khaligh-Razavi & "
                 "Kriegeskorte (2014), PLoS Comput. Biol. 10:e1003915")
    Config = Config
    quick_settings = {"n_permutations": 199}

    def measure(self, config):
        import pandas as pd

        import repalign

        images = _images(config)
        have_images = images is not None and images.is_file()
        data = repalign.datasets.kriegeskorte92(images=images if have_images else False)
        target_rdms = targets(data)
        test = {"n_permutations": config.n_permutations, "seed": config.seed}
        rows = score({"monkey_it": data.monkey_it}, {"human_it": target_rdms["human_it"]},
                     model="brain", **test)
        rows += score(data.models, target_rdms, model="classic", **test)
        held_out = {}
        if have_images:
            layers = network_rdms(data.images)
            rows += score(layers, target_rdms, model=NETWORK, **test)
            held_out = held_out_layers(layers, target_rdms, config.seed)
        return Outcome(pd.DataFrame(rows), {"have_images": have_images, "held_out": held_out})

    def checks(self, outcome, config):
        table = outcome.table

        def rho(model, layer, target="human_it"):
            match = table[(table.model == model) & (table.layer == layer)
                          & (table.target == target)]
            return match.iloc[0]

        monkey, animacy = rho("brain", "monkey_it"), rho("classic", "animacy")
        checks = [
            Check("human and monkey IT RDMs match (Kriegeskorte et al. 2008)",
                  monkey.p_value < 0.05, f"rho = {monkey.rho:.3f}, p = {monkey.p_value:.3g}"),
            Check("the animate / inanimate division explains human IT", animacy.p_value < 0.05,
                  f"animacy model rho = {animacy.rho:.3f}, p = {animacy.p_value:.3g}"),
        ]
        if outcome.details["have_images"]:
            best, early, late = _network_summary(table)
            classic = table[(table.model == "classic") & table.layer.isin(CLASSIC)
                            & (table.target == "human_it")]
            top_classic = classic.loc[classic.rho.idxmax()]
            checks += [
                Check("the network's best block explains human IT (FDR over blocks)",
                      best.q_value < 0.05,
                      f"{best.layer}: rho = {best.rho:.3f}, q = {best.q_value:.3g}"),
                Check("late blocks match human IT better than early blocks",
                      late > early, f"mean rho of blocks 11-15 {late:.3f}, of blocks 0-4 "
                                    f"{early:.3f}"),
                Check("the deep network beats every classic image-computable model on human "
                      "IT (Khaligh-Razavi & Kriegeskorte 2014)", best.rho > top_classic.rho,
                      f"best block {best.rho:.3f} vs best classic model ({top_classic.layer}) "
                      f"{top_classic.rho:.3f}"),
            ]
        return checks

    def figure(self, outcome, config):
        return _figure(outcome.table)

    def numbers(self, outcome, config):
        table = outcome.table
        numbers = []
        if outcome.details["have_images"]:
            best, _, _ = _network_summary(table)
            reached = "reaches" if best.rho >= best.ceiling_low else "stays below"
            numbers.append(
                f"Scored per subject, as the ceiling is, the best block ({best.layer}, rho "
                f"{best.rho:.3f} +- {best.rho_sem:.3f} over subjects) {reached} the lower "
                f"bound of human IT's noise ceiling [{best.ceiling_low:.3f}, "
                f"{best.ceiling_high:.3f}]; against the subjects' mean RDM (another scale) "
                f"it would be {best.rho_group:.3f}.\n")
            for target, sel in outcome.details["held_out"].items():
                numbers.append(
                    f"{target}: chosen on half of the stimuli and scored on the other half "
                    f"(10 splits), the layer {sel.layer} (chosen {sel.chosen[sel.layer]} of "
                    f"{2 * sel.n_splits} times) scores {sel.score:.3f} +- {sel.score_std:.3f}, "
                    f"against a ceiling of [{sel.ceiling[0]:.3f}, {sel.ceiling[1]:.3f}] on the "
                    f"same halves; the in-sample best ({sel.in_sample_layer}) scores "
                    f"{sel.in_sample:.3f} on all stimuli.\n")
        else:
            numbers.append(f"EfficientNet-Lite0 was not run: the 92 images ({IMAGES_FILE}) are "
                           "not in this installation (built wheels leave them out); pass "
                           "images=PATH (CLI --images PATH).\n")
        numbers += ["| model | layer | target | rho (ceiling scale) | p | q | noise ceiling |",
                    "|---|---|---|---:|---:|---:|---|"]
        numbers += [f"| {r.model} | {r.layer} | {r.target} | {r.rho:.3f} | {r.p_value:.3g} | "
                    f"{r.q_value:.3g} | " + ("—" if np.isnan(r.ceiling_low) else
                                             f"[{r.ceiling_low:.3f}, {r.ceiling_high:.3f}]")
                    + " |" for r in table.itertuples()]
        return "\n".join(numbers)

    def description(self, outcome, config):
        return (
            ("EfficientNet-Lite0's 16 blocks (mean-pooled, correlation-distance RDMs) and " if
             outcome.details["have_images"] else "") +
            "the classic model RDMs of the 92-image set (Kriegeskorte et al. 2008) against "
            "human IT (4 subjects, session means), monkey IT and human similarity judgments "
            f"(16 subjects). Spearman rho, scored per subject and averaged where the target "
            "has subjects (the scale of its leave-one-subject-out noise ceiling); p from "
            f"{config.n_permutations} stimulus permutations; Benjamini-Hochberg q over each "
            "model set's layers per target; the network's layer also chosen on held-out "
            "stimuli.")


def _figure(table):
    from matplotlib.figure import Figure

    target_names = list(dict.fromkeys(table[table.model == "classic"].target))
    others = list(dict.fromkeys(table[table.model != NETWORK].layer))
    colors = {name: f"C{i + 1}" for i, name in enumerate(others)}
    fig = Figure(figsize=(4 * len(target_names) + 1.5, 3.6))
    handles = {}
    for ax, target in zip(fig.subplots(1, len(target_names), squeeze=False)[0], target_names):
        sub = table[table.target == target]
        net = sub[sub.model == NETWORK]
        if len(net):
            (handles[NETWORK],) = ax.plot(net.depth, net.rho, marker="o", color="C0")
            sig = net[net.q_value < 0.05]
            (handles["q < 0.05"],) = ax.plot(sig.depth, sig.rho, "k*", ms=5)
        for r in sub[sub.model != NETWORK].itertuples():
            handles[r.layer] = ax.axhline(r.rho, color=colors[r.layer], lw=0.9, ls=":")
        low, high = sub.ceiling_low.iloc[0], sub.ceiling_high.iloc[0]
        if not np.isnan(low):
            handles["noise ceiling"] = ax.axhspan(low, high, color="0.85")
        ax.set_title(target.replace("_", " "))
        ax.set_xlabel("EfficientNet-Lite0 block")
        ax.set_ylabel("Spearman rho")
    fig.tight_layout(rect=(0, 0, 1 - 1.5 / (4 * len(target_names) + 1.5), 1))
    fig.legend(list(handles.values()), list(handles), fontsize=7, loc="center right")
    return fig
