"""The main job runs end to end (quick settings) and its results make sense."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("zarr")

import repalign  # noqa: E402
from repalign import demo  # noqa: E402


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    return demo.run(tmp_path_factory.mktemp("demo"), quick=True)


def test_writes_the_results_and_a_self_contained_report(outcome):
    assert outcome["report"].exists() and outcome["results"].exists()
    html = outcome["report"].read_text()
    assert "data:image/png;base64" in html and "linear CKA between all layers" in html
    with repalign.ResultStore(outcome["results"], read_only=True) as store:
        frame = store.to_dataframe()
    assert set(demo.MEASURES) <= set(frame["measure"])


def test_networks_learn_and_align_above_chance(outcome):
    assert len(outcome["accuracy"]) == 6
    assert all(acc > 0.7 for acc in outcome["accuracy"].values())
    with repalign.ResultStore(outcome["results"], read_only=True) as store:
        frame = store.to_dataframe()
    cka = frame[frame["measure"] == "cka"]
    outputs = cka[cka["a"].str.endswith("/out") & cka["b"].str.endswith("/out")
                  & (cka["a"] != cka["b"])]
    assert len(outputs) == 15  # 6 networks: their output layers pairwise
    assert outputs["value"].min() > 0.5


def test_every_benchmark_part_is_scored_with_no_part_skipped(outcome):
    scores = {s.benchmark: s for s in outcome["scores"]}
    assert list(scores) == [*demo.BRAIN, *demo.TEXT]
    assert {s.model for s in outcome["scores"]} == {demo.IMAGE_MODEL, demo.TEXT_MODEL}
    # EfficientNet-Lite0 explains human IT per subject but stays below the ceiling's
    # lower bound (Khaligh-Razavi & Kriegeskorte 2014: deep nets approach, not reach, it)
    human = scores["kriegeskorte92.human_it"]
    assert human.model == demo.IMAGE_MODEL and len(human.per_unit) == 4
    assert 0.15 < human.score < human.ceiling[0] and human.layer.startswith("_blocks.")
    assert scores["kriegeskorte92.monkey_it"].ceiling is None
    things = scores["things.odd_one_out"]
    assert 1 / 3 < things.ci_low and things.score < things.ceiling[0]
    assert round(things.ceiling[0], 4) == 0.6722
    assert all(scores[name].score > 0.2 for name in demo.TEXT[1:])  # word similarity
    html = outcome["report"].read_text()
    assert "benchmarks: scores against noise ceilings" in html
    assert outcome["csv"].exists()


def test_rerun_reuses_the_stored_work(outcome, capsys):
    again = demo.run(outcome["results"].parent, quick=True)
    assert again["accuracy"] == {}  # nothing retrained: every network was in the store
    assert "skipped" not in capsys.readouterr().out
