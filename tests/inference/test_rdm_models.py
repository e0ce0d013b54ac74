"""Model RDMs against subject RDMs: per-subject scores (rsatoolbox's, recorded once),
the two-factor bootstrap (rsatoolbox's variance combination; a simulation with a
known truth), paired comparisons and held-out layer selection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import false_discovery_control

import repalign
from repalign.inference.rdm_models import two_factor_variance

RECORDS = json.loads((Path(__file__).parents[1] / "references" / "model_evaluation.json")
                     .read_text())


@pytest.fixture(scope="module")
def k92():
    data = repalign.datasets.kriegeskorte92()
    return data, data.human_it.mean(axis=1), {"monkey_it": data.monkey_it, **data.models}


@pytest.mark.parametrize("record", [r for r in RECORDS if "per_subject" in r],
                         ids=lambda r: f"{r['model']}-{r['compare']}")
def test_per_subject_scores_equal_rsatoolbox_eval_fixed(k92, record):
    _, subjects, models = k92
    score = repalign.score_rdm(models[record["model"]], subjects, record["compare"])
    np.testing.assert_allclose(score.per_subject, record["per_subject"], atol=1e-12)


def test_the_score_is_on_the_scale_of_the_noise_ceiling(k92):
    """Scored per subject, as the ceiling is: the group-mean comparison is another scale."""
    _, subjects, models = k92
    score = repalign.score_rdm(models["monkey_it"], subjects)
    assert score.ceiling == pytest.approx(repalign.noise_ceiling(subjects), abs=1e-12)
    assert score.mean == pytest.approx(np.mean(score.per_subject), abs=1e-15)
    assert score.sem == pytest.approx(np.std(score.per_subject, ddof=1) / 2, abs=1e-15)
    group = repalign.compare_rdms(models["monkey_it"], subjects.mean(axis=0))
    assert group > score.mean + 0.05  # the group-mean RDM flatters the model
    assert score.normalized == pytest.approx(score.mean / score.ceiling[0])
    assert "mean over 4 subjects" in score.definition


def test_rsatoolbox_combines_the_three_bootstrap_variances_as_we_do():
    (record,) = [r for r in RECORDS if "covariances" in r]
    variances = np.einsum("kjj->kj", np.array(record["covariances"]))
    np.testing.assert_allclose(two_factor_variance(*variances), record["model_variances"],
                               rtol=1e-12)


def _experiment(rng, n_stimuli=30, n_subjects=8, noise=1.5):
    """A population of stimuli and subjects: true patterns plus subject noise; the
    model is a noisy view of the true patterns."""
    truth = rng.standard_normal((n_stimuli, 10))
    subjects = np.stack([pdist(truth + noise * rng.standard_normal(truth.shape), "correlation")
                         for _ in range(n_subjects)])
    model = pdist(truth @ rng.standard_normal((10, 10)), "correlation")
    return model, subjects


def test_two_factor_standard_error_matches_the_spread_over_experiments():
    """Simulation with a known truth: over new stimuli and new subjects the score
    spreads by true_sd; the corrected two-factor bootstrap's standard error
    estimates it, and a bootstrap of the subjects alone (which takes the stimuli
    as fixed) underestimates it (Schuett et al. 2023)."""
    rng = np.random.default_rng(0)
    means, both, subjects_only = [], [], []
    for k in range(40):
        model, subjects = _experiment(rng)
        r = repalign.compare_models({"m": model}, subjects, n_bootstrap=40, seed=k)
        s = repalign.compare_models({"m": model}, subjects, bootstrap="subjects",
                                    n_bootstrap=40, seed=k)
        means.append(r.scores["m"].mean)
        both.append(r.scores["m"].sem)
        subjects_only.append(s.scores["m"].sem)
    true_sd = np.std(means, ddof=1)
    assert 0.7 * true_sd < np.mean(both) < 1.4 * true_sd
    assert np.mean(subjects_only) < 0.8 * np.mean(both)


def test_pairwise_tests_find_the_better_model_and_correct_for_multiplicity():
    rng = np.random.default_rng(1)
    model, subjects = _experiment(rng, n_stimuli=40, noise=0.8)
    shuffled = squareform(squareform(model)[np.ix_(p := rng.permutation(40), p)])
    r = repalign.compare_models({"true": model, "copy": model.copy(), "shuffled": shuffled},
                                subjects, n_bootstrap=100, seed=0)
    by_pair = {(p["a"], p["b"]): p for p in r.pairs}
    assert by_pair["true", "copy"]["difference"] == 0 and by_pair["true", "copy"]["p"] == 1
    assert by_pair["true", "shuffled"]["difference"] > 0.3
    assert by_pair["true", "shuffled"]["p"] < 0.01
    raw = np.array([p["p"] for p in r.pairs])
    np.testing.assert_allclose([p["p_corrected"] for p in r.pairs],
                               false_discovery_control(raw, method="bh"))
    bonferroni = repalign.compare_models({"true": model, "shuffled": shuffled}, subjects,
                                         n_bootstrap=50, correction="bonferroni", seed=0)
    (pair,) = bonferroni.pairs
    assert pair["p_corrected"] == min(1.0, pair["p"])
    assert not r.within_ceiling["shuffled"]
    assert r.dof == min(8, 40) - 1
    table = r.to_dataframe()
    assert list(table["model"]) == ["true", "copy", "shuffled"]


def test_the_subjects_mean_rdm_is_within_the_ceiling(k92):
    _, subjects, models = k92
    r = repalign.compare_models({"mean": subjects.mean(axis=0), "V1": models["V1"]}, subjects,
                                n_bootstrap=100, seed=0)
    assert r.within_ceiling["mean"] and not r.within_ceiling["V1"]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"compare": "tau"}, ValueError, "compare_models: compare='tau' is not valid"),
    ({"bootstrap": "rdms"}, ValueError, "compare_models: bootstrap='rdms' is not valid"),
    ({"correction": "holm"}, ValueError, "compare_models: correction='holm' is not valid"),
    ({"n_bootstrap": 1}, ValueError, r"compare_models: n_bootstrap=1 is not in \[2, inf\)"),
    ({"alpha": 1.5}, ValueError, r"compare_models: alpha=1.5 is not in \(0, 1\)"),
])
def test_compare_models_errors(k92, kwargs, error, match):
    _, subjects, models = k92
    with pytest.raises(error, match=match):
        repalign.compare_models({"V1": models["V1"]}, subjects, **kwargs)


def test_model_errors_name_the_model(k92):
    _, subjects, models = k92
    with pytest.raises(ValueError, match=r"models\['small'\] is an RDM of 3 pairs"):
        repalign.compare_models({"small": np.arange(3.0)}, subjects)
    with pytest.raises(TypeError, match="models must be a non-empty dict"):
        repalign.compare_models({}, subjects)
    with pytest.raises(ValueError, match="a noise ceiling needs at least 2"):
        repalign.score_rdm(models["V1"], subjects[:1])


# ---------------------------------------------------------------------- layer selection
def test_held_out_selection_removes_the_winners_curse():
    """Ten layers equally (un)related to the subjects: the in-sample best layer scores
    above the layers' common value, the held-out score does not."""
    rng = np.random.default_rng(2)
    truth = rng.standard_normal((40, 8))
    subjects = np.stack([pdist(truth + 2.0 * rng.standard_normal(truth.shape)) for _ in
                         range(6)])
    layers = {f"layer{k}": pdist(truth + 3.0 * rng.standard_normal(truth.shape))
              for k in range(10)}
    sel = repalign.select_layer(layers, subjects, n_splits=20, seed=0)
    typical = np.mean(list(sel.scores.values()))
    assert sel.in_sample > typical
    assert sel.score < sel.in_sample
    assert abs(sel.score - typical) < abs(sel.in_sample - typical)
    assert sum(sel.chosen.values()) == 40
    assert sel.layer in layers


def test_held_out_selection_finds_a_clearly_better_layer(k92):
    _, subjects, models = k92
    layers = {"V1": models["V1"], "animacy": models["animacy"], "HMAX": models["HMAX"]}
    sel = repalign.select_layer(layers, subjects, n_splits=5, seed=0)
    assert sel.layer == sel.in_sample_layer == "animacy"
    assert sel.chosen["animacy"] == 10
    assert sel.ceiling[0] < sel.ceiling[1]


def test_select_layer_errors(k92):
    _, subjects, models = k92
    with pytest.raises(ValueError, match=r"select_layer: n_splits=0 is not in \[1, inf\)"):
        repalign.select_layer({"V1": models["V1"]}, subjects, n_splits=0)
    with pytest.raises(ValueError, match="halves of at least 4"):
        repalign.select_layer({"a": np.arange(15.0)}, np.random.rand(3, 15))


def test_score_permutation_p_value_counts_the_permutations_at_or_above(k92):
    """The p-value of the mean score, recomputed by an explicit loop over permutations."""
    _, subjects, models = k92
    score = repalign.score_rdm(models["animacy"], subjects, n_permutations=29, seed=3)
    rng = np.random.default_rng(3)
    square = squareform(squareform(models["animacy"], checks=False))
    null = []
    for _ in range(29):
        p = rng.permutation(92)
        permuted = squareform(square[np.ix_(p, p)], checks=False)
        null.append(np.mean([repalign.compare_rdms(permuted, s) for s in subjects]))
    assert score.p_value == (1 + sum(v >= score.mean for v in null)) / 30
    assert repalign.score_rdm(models["animacy"], subjects).p_value is None
