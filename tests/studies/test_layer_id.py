"""The layer_id study (Kornblith et al. 2019) in its quick form: claims recomputed from the CSV."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from repalign import studies  # noqa: E402
from repalign.studies import layer_id  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("layer_id")
    result = studies.run("layer_id", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def test_files_and_checks_are_written(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file()
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary


def test_accuracy_is_the_fraction_of_layers_picked_at_the_same_depth(study):
    _, table = study
    assert {"measure", "accuracy", "seed_pair", "picks", "chance"} <= set(table.columns)
    assert (table["net_a"] != table["net_b"]).all()
    for picks, accuracy, n_layers in zip(table["picks"], table["accuracy"], table["n_layers"]):
        picked = np.array([int(p) for p in picks.split(";")])
        assert len(picked) == n_layers
        assert accuracy == pytest.approx(np.mean(picked == np.arange(1, n_layers + 1)))
    assert table["chance"].iloc[0] == pytest.approx(1 / table["n_layers"].iloc[0])


def test_linear_cka_beats_chance_and_the_cca_family(study):
    _, table = study
    mean = table.groupby("measure")["accuracy"].mean()
    assert mean["cka (linear)"] > table["chance"].iloc[0]
    assert mean["cka (linear)"] >= max(mean[m] for m in layer_id.CCA_FAMILY)


def test_asymmetric_measures_are_symmetrised_as_s_plus_s_transpose():
    import repalign

    rng = np.random.default_rng(0)
    base = [rng.standard_normal((40, 5)) for _ in range(3)]
    reps = {f"net{s}/L{i}": base[i - 1] @ rng.standard_normal((5, 5)) + 0.5 * rng.standard_normal(
        (40, 5)) for s in range(3) for i in range(1, 4)}
    picks, mean = layer_id._picks(reps, "pwcca", {}, n_nets=3, depth=3)
    for (A, B), picked in picks.items():
        S = np.array([[repalign.measure("pwcca", reps[f"net{A}/L{i}"], reps[f"net{B}/L{j}"])
                       + repalign.measure("pwcca", reps[f"net{B}/L{j}"], reps[f"net{A}/L{i}"])
                       for j in range(1, 4)] for i in range(1, 4)])
        np.testing.assert_array_equal(picked, S.argmax(axis=1) + 1)
