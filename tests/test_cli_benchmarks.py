"""The benchmark commands: benchmarks, score, leaderboard, export."""

import importlib.util

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import repalign
from repalign.cli import app

pytest.importorskip("torch")
pytest.importorskip("zarr")

runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A result store of 3 representations compared with two measures."""
    folder = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    reps = {"a": X, "b": np.tanh(X), "c": rng.standard_normal((30, 3))}
    with repalign.ResultStore(folder / "results.db") as store:
        repalign.grid(reps, ["cka", "rsa"], results=store)
    return folder / "results.db"


def test_benchmarks_lists_each_with_its_ceiling():
    out = runner.invoke(app, ["benchmarks"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert len(lines) == 17
    assert lines[0].startswith("kriegeskorte92.human_it") and "[0.3723, 0.6657]" in lines[0]
    assert "ceiling none" in lines[1]
    assert "things.odd_one_out" in lines[3] and "0.6722" in lines[3]


def test_score_prints_subjects_interval_ceiling_and_layer():
    out = runner.invoke(app, ["score", "efficientnet-lite0", "kriegeskorte92.human_it",
                              "--splits", "2"])
    assert out.exit_code == 0, out.output
    text = out.output
    assert "layer: _blocks." in text and "per subject: BE " in text
    assert "95% interval [" in text and "noise ceiling: [0.372, 0.666]" in text


def test_leaderboard_writes_a_table_and_a_figure(tmp_path):
    out = runner.invoke(app, ["leaderboard", "-m", "efficientnet-lite0", "-b",
                              "kriegeskorte92.monkey_it", "--splits", "2", "--out",
                              str(tmp_path)])
    assert out.exit_code == 0, out.output
    table = pd.read_csv(tmp_path / "leaderboard.csv")
    assert list(table.benchmark) == ["kriegeskorte92.monkey_it"]
    assert (tmp_path / "leaderboard.png").stat().st_size > 1000
    assert "kriegeskorte92.monkey_it" in out.output and "ceiling none" in out.output


@pytest.mark.parametrize("fmt, read", [
    ("csv", pd.read_csv),
    ("parquet", pd.read_parquet),
    ("netcdf", lambda path: __import__("xarray").open_dataset(path, engine="scipy")
     .to_dataframe().reset_index(drop=True)),
])
def test_export_writes_every_row(results, tmp_path, fmt, read):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    if fmt == "netcdf":
        pytest.importorskip("xarray")
    target = tmp_path / f"rows.{fmt}"
    out = runner.invoke(app, ["export", str(results), "--format", fmt, "-o", str(target)])
    assert out.exit_code == 0, out.output
    with repalign.ResultStore(results, read_only=True) as store:
        expected = store.to_dataframe()
    back = read(target)
    assert len(back) == len(expected) == 12  # (3 self + 3 pairs) x 2 measures
    assert list(back["a"]) == list(expected["a"]) and list(back["measure"]) == list(
        expected["measure"])
    np.testing.assert_allclose(back["value"].to_numpy(float), expected["value"].to_numpy(float))


def test_export_names_the_package_to_install(results, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyarrow" else real(name, *a))
    out = runner.invoke(app, ["export", str(results), "--format", "parquet", "-o",
                              str(tmp_path / "x.parquet")])
    assert out.exit_code == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: --format parquet needs pyarrow, which is not installed: "
                      "pip install pyarrow"]
    assert not (tmp_path / "x.parquet").exists()
