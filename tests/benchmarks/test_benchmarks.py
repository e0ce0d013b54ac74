"""Benchmarks score against independent computations: rsatoolbox's recorded evaluations,
SciPy and pandas by hand, the published THINGS ceiling; the layer is chosen held out."""

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import rankdata, spearmanr

import repalign
from repalign.benchmarks import get_benchmark

REFERENCES = Path(__file__).resolve().parents[1] / "references" / "model_evaluation.json"
K92 = repalign.datasets.kriegeskorte92(images=False)


def _random_layers(n, n_layers, d=12, seed=0):
    rng = np.random.default_rng(seed)
    return {f"l{i}": rng.standard_normal((n, d)) for i in range(n_layers)}


def test_the_registry_lists_every_benchmark_with_its_parts():
    names = [b.name for b in repalign.list_benchmarks()]
    words = [f"word_similarity.{n}" for n in repalign.datasets.word_similarity_names()]
    assert names == ["kriegeskorte92.human_it", "kriegeskorte92.monkey_it",
                     "kriegeskorte92.human_judgments", "things.odd_one_out", *words]
    assert len(words) == 13
    for bench in repalign.list_benchmarks():
        assert bench.citation and bench.measure and bench.layer_rule
        assert bench.modality in ("images", "text") and bench.describe_ceiling()


def test_human_it_per_subject_scores_equal_rsatoolbox_eval_fixed():
    """rsatoolbox 0.3.2's eval_fixed, recorded: the model RDMs scored against the 4 subjects."""
    recorded = [r for r in json.loads(REFERENCES.read_text())
                if r.get("compare") == "spearman" and "per_subject" in r]
    models = {"monkey_it": K92.monkey_it, **K92.models}
    bench = get_benchmark("kriegeskorte92.human_it")
    for record in recorded:
        result = bench.evaluate_rdms({record["model"]: models[record["model"]]}, n_splits=2)
        np.testing.assert_allclose(result.per_unit, record["per_subject"], rtol=0, atol=1e-12)
        assert result.score == pytest.approx(np.mean(record["per_subject"]), abs=1e-12)


def test_human_it_score_and_ceiling_by_hand():
    """Per subject: Spearman of the layer's correlation-distance RDM (SciPy); the ceiling:
    each subject against the mean rank RDM of the others (lower) and of all (upper)."""
    acts = _random_layers(92, 3)
    acts["l1"] = acts["l1"] + 3.0 * K92.labels["animate"][:, None]  # an animacy layer
    result = get_benchmark("kriegeskorte92.human_it").evaluate(acts, model="net", seed=1)
    subjects = [squareform(s, checks=False) for s in K92.human_it.mean(axis=1)]
    model = pdist(acts[result.layer], "correlation")
    by_hand = [spearmanr(model, s).statistic for s in subjects]
    np.testing.assert_allclose(result.per_unit, by_hand, atol=1e-12)
    ranks = np.array([rankdata(s) for s in subjects])
    lower = np.mean([spearmanr(s, np.delete(ranks, i, axis=0).mean(axis=0)).statistic
                     for i, s in enumerate(subjects)])
    upper = np.mean([spearmanr(s, ranks.mean(axis=0)).statistic for s in subjects])
    assert result.ceiling == pytest.approx((lower, upper), abs=1e-12)
    assert result.ceiling == pytest.approx((0.372, 0.666), abs=5e-4)  # Nili et al. 2014
    t = 3.182446305284263  # scipy.stats.t.ppf(0.975, 3)
    half = t * np.std(by_hand, ddof=1) / 2
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (np.mean(by_hand) - half, np.mean(by_hand) + half), abs=1e-12)
    assert result.normalized == pytest.approx(np.mean(by_hand) / lower)
    assert result.units == K92.subjects and result.unit == "subject"
    assert result.layer == "l1"


def test_monkey_it_is_one_spearman_with_no_ceiling():
    acts = _random_layers(92, 2)
    acts["l0"] = acts["l0"] + 2.0 * K92.labels["face"][:, None]
    result = get_benchmark("kriegeskorte92.monkey_it").evaluate(acts, n_splits=3)
    by_hand = spearmanr(pdist(acts[result.layer], "correlation"),
                        squareform(K92.monkey_it, checks=False)).statistic
    assert result.score == pytest.approx(by_hand, abs=1e-12)
    assert result.ceiling is None and math.isnan(result.normalized)
    assert "674 cells" in result.no_ceiling
    assert result.ci_low < result.score < result.ci_high


def test_human_judgments_has_16_subjects():
    result = get_benchmark("kriegeskorte92.human_judgments").evaluate(_random_layers(92, 2),
                                                                      n_splits=2)
    assert len(result.per_unit) == 16
    assert result.ceiling == pytest.approx(repalign.noise_ceiling(K92.behavior))


def _things_by_hand(embedding):
    """Per distinct triplet, the fraction of its responses that chose the item the
    cosine similarities leave out; then the mean over triplets. Plain loops."""
    data = repalign.datasets.things()
    e = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    hits = defaultdict(list)
    for (i, j, k), choice in zip(data.triplets.tolist(), data.choices.tolist()):
        sims = {k: e[i] @ e[j], j: e[i] @ e[k], i: e[j] @ e[k]}  # odd item -> its pair
        predicted = max(sims, key=sims.get)
        hits[tuple(sorted((i, j, k)))].append(predicted == (i, j, k)[choice])
    return np.mean([np.mean(h) for h in hits.values()])


def test_things_scores_on_the_ceiling_scale_by_hand():
    acts = _random_layers(1854, 2, d=6, seed=3)
    result = get_benchmark("things.odd_one_out").evaluate(acts, n_splits=2)
    assert result.score == pytest.approx(_things_by_hand(acts[result.layer]), abs=1e-12)
    assert result.ceiling[0] == pytest.approx(0.6722, abs=5e-5)  # Hebart et al. 2020
    assert result.chance == pytest.approx(1 / 3) and len(result.per_unit) == 1000
    # weighted by trials instead of triplets, the same hits give triplet_accuracy
    data = repalign.datasets.things()
    counts = pd.Series(np.sort(data.triplets, axis=1).tolist()).map(tuple).value_counts()
    per_triplet = dict(zip(result.units, result.per_unit))
    trials = sum(per_triplet["-".join(map(str, key))] * n for key, n in counts.items())
    assert trials / len(data.choices) == pytest.approx(repalign.triplet_accuracy(
        acts[result.layer], data.triplets, data.choices, similarity="cosine"), abs=1e-12)


def test_word_similarity_is_spearman_of_cosines_by_hand():
    bench = get_benchmark("word_similarity.ws353sim")
    data = repalign.datasets.word_similarity("ws353sim")
    acts = _random_layers(len(bench.stimuli()), 3, d=8, seed=4)
    result = bench.evaluate(acts, n_splits=2)
    row = {w: i for i, w in enumerate(bench.stimuli())}
    for layer, values in acts.items():
        a = values[[row[w] for w in data.word1]]
        b = values[[row[w] for w in data.word2]]
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        by_hand = pd.Series(cosine).corr(pd.Series(data.scores), method="spearman")
        assert result.layer_scores[layer] == pytest.approx(by_hand, abs=1e-12)
    assert result.score == result.layer_scores[result.layer]
    assert result.ceiling is None and result.ci_low < result.score < result.ci_high


@pytest.mark.parametrize("name, chance", [("kriegeskorte92.human_it", 0.0),
                                          ("things.odd_one_out", 1 / 3)])
def test_the_layer_is_chosen_on_held_out_stimuli(name, chance):
    """Among 20 layers of noise, the in-sample best is biased up; the held-out score
    of the choice is not."""
    bench = get_benchmark(name)
    acts = _random_layers(bench.n_stimuli(), 20, d=8, seed=5)
    result = bench.evaluate(acts, n_splits=10)
    in_sample_best = max(result.layer_scores.values())
    assert abs(result.held_out - chance) < 0.02
    assert in_sample_best - result.held_out > 0.01
    assert sum(result.chosen.values()) == 20 and result.chosen[result.layer] == max(
        result.chosen.values())


# bad input: each error names the argument, what was expected and what came

def test_unknown_benchmark_names_the_close_match():
    with pytest.raises(ValueError, match=r"'kriegeskorte92\.human-it' is not a known "
                                         r"benchmark \(did you mean 'kriegeskorte92\.human_it'"):
        get_benchmark("kriegeskorte92.human-it")
    with pytest.raises(TypeError, match="benchmark must be a benchmark name.*got int"):
        get_benchmark(3)


@pytest.mark.parametrize("acts, error, match", [
    ({}, TypeError, r"activations must be a non-empty dict.*got dict"),
    ([np.zeros((92, 3))], TypeError, r"activations must be a non-empty dict.*got list"),
    ({"x": np.zeros((91, 3))}, ValueError, r"activations\['x'\] must have shape \(92, "
                                           r"n_features\).*got \(91, 3\)"),
    ({"x": np.zeros(92)}, ValueError, r"activations\['x'\] must have shape.*got \(92,\)"),
    ({"x": np.full((92, 3), np.nan)}, ValueError, r"activations\['x'\] holds NaN"),
    ({"x": np.ones((92, 3))}, ValueError, r"activations\['x'\].*constant across features"),
])
def test_bad_activations_are_refused(acts, error, match):
    with pytest.raises(error, match=match):
        get_benchmark("kriegeskorte92.human_it").evaluate(acts)


def test_zero_rows_are_refused_where_the_cosine_is_needed():
    for name in ("things.odd_one_out", "word_similarity.mc30"):
        bench = get_benchmark(name)
        with pytest.raises(ValueError, match=r"activations\['x'\] has all-zero rows"):
            bench.evaluate({"x": np.zeros((bench.n_stimuli(), 2))})


@pytest.mark.parametrize("option, match", [
    ({"n_splits": 0}, r"n_splits=0 is not in \[1, inf\)"),
    ({"n_splits": 2.5}, r"n_splits must be an integer"),
    ({"ci": 1.5}, r"ci=1.5 is not in \(0, 1\)"),
])
def test_bad_options_are_refused(option, match):
    with pytest.raises((ValueError, TypeError), match=match):
        get_benchmark("word_similarity.mc30").evaluate(
            _random_layers(len(get_benchmark("word_similarity.mc30").stimuli()), 1), **option)
    with pytest.raises((ValueError, TypeError), match=match):
        repalign.score("no-model-is-loaded-first", "word_similarity.mc30", **option)
