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


def test_things_scores(outcome):
    scores = outcome["things"]
    assert 1 / 3 < scores["minilm"] < scores["spose49"] < scores["ceiling"]
    assert round(scores["ceiling"], 4) == 0.6722


def test_brain_step_when_the_images_are_available(outcome):
    if not demo.DEFAULT_IMAGES.exists():
        pytest.skip("the 92 images are not bundled; ../shared/data is absent")
    best = {target: (rho, p, ceiling) for target, _, rho, p, ceiling in outcome["brain"]}
    # Scored per subject, as its ceiling is: EfficientNet-Lite0's best block explains
    # human IT (0.265) but stays below the ceiling's lower bound (0.372).
    rho, p, (low, high) = best["human_it"]
    assert 0.2 < rho < low < high and p < 0.05
    assert best["monkey_it"][0] > 0.3


def test_rerun_reuses_the_stored_work(outcome, capsys):
    again = demo.run(outcome["results"].parent, quick=True)
    assert again["accuracy"] == {}  # nothing retrained: every network was in the store
