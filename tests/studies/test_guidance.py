"""The guidance study, quick version: files, table, and its checks recomputed from its CSV."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")

from repalign import studies  # noqa: E402
from repalign.studies import guidance  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("guidance")
    result = studies.run("guidance", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def test_files_and_summary(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file() and path.stat().st_size > 0
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary
    assert len(result.checks) == 3


def test_table_has_every_condition_seed_and_epoch(study):
    result, table = study
    config = result.config
    assert set(table["condition"]) == set(guidance.CONDITIONS)
    assert len(table) == len(guidance.CONDITIONS) * config.n_seeds * config.epochs
    assert table["test_accuracy"].between(0, 1).all()
    assert (table["train_loss"] > 0).all() and (table["test_loss"] > 0).all()


def test_checks_agree_with_the_table(study):
    result, table = study
    last = table[table["epoch"] == result.config.epochs]
    mean = last.groupby("condition")["test_accuracy"].mean()
    expected = [mean["trained guide"] > mean["unguided"],
                mean["untrained guide"] > mean["unguided"],
                mean["random control"] < max(mean["trained guide"], mean["untrained guide"])]
    assert [c.passed for c in result.checks] == expected


def test_unknown_option_is_refused():
    with pytest.raises(TypeError, match="guidance"):
        studies.get("guidance").configure(quick=True, layers=3)
