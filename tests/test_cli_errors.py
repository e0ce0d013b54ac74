"""A catalogue of command-line misuse: each ends with one ``error:`` line, never a traceback.

Every case runs ``repalign ...`` through typer's CliRunner (which catches exceptions,
so a case that would print a traceback shows up as ``result.exception`` not being a
``SystemExit``) and checks: the exit code (2 for a usage error, 1 for a refusal by
the library), exactly one line starting with ``error:`` on stderr, holding the given
fragments (the argument's name and what was wrong; any case), and no traceback.
"""

import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import repalign
from repalign.cli import app

pytest.importorskip("torch")
pytest.importorskip("zarr")

runner = CliRunner(env={"COLUMNS": "300", "NO_COLOR": "1"})

IMG = "extract -m efficientnet-lite0 --store {d}/new.zarr -s"  # + the stimuli
A, B = "{d}/a.npy", "{d}/b.npy"

#: (id, arguments ({d}: the files' folder, {ro}: an unwritable folder), exit code,
#: fragments of the error line)
CASES = [
    # extract: the stimuli file
    ("extract-stimuli-missing", f"{IMG} {{d}}/nope.npy", 2, ["--stimuli", "no such file"]),
    ("extract-stimuli-folder", f"{IMG} {{d}}/folder", 2, ["--stimuli", "a folder"]),
    ("extract-stimuli-blank-text", f"{IMG} {{d}}/blank.txt", 2, ["--stimuli", "no stimuli"]),
    ("extract-stimuli-empty-npy", f"{IMG} {{d}}/empty.npy", 2, ["--stimuli", "empty file"]),
    ("extract-stimuli-text-as-npy", f"{IMG} {{d}}/text.npy", 2, ["--stimuli", ".npy format"]),
    ("extract-stimuli-corrupt-npy", f"{IMG} {{d}}/corrupt.npy", 2, ["--stimuli", "cannot be read"]),
    ("extract-stimuli-object-npy", f"{IMG} {{d}}/objects.npy", 2, ["--stimuli", "cannot be read", "Object arrays"]),
    ("extract-stimuli-binary", f"{IMG} {{d}}/binary.bin", 2, ["--stimuli", "binary file"]),
    ("extract-stimuli-0d-array", f"{IMG} {{d}}/scalar.npy", 2, ["--stimuli", "0-d array"]),
    ("extract-stimuli-text-for-image-model", f"{IMG} {{d}}/words.txt", 1, ["tokenizer"]),
    ("extract-stimuli-no-rows", f"{IMG} {{d}}/no-images.npy", 1, ["stimuli"]),
    # extract: the store
    ("extract-store-is-file", "extract -m efficientnet-lite0 -s {d}/images.npy --store {d}/afile",
     2, ["--store", "a file"]),
    ("extract-store-not-a-store", "extract -m efficientnet-lite0 -s {d}/images.npy --store "
     "{d}/full-folder", 1, ["--store", "not an activation store"]),
    ("extract-store-under-file", "extract -m efficientnet-lite0 -s {d}/images.npy --store "
     "{d}/afile/acts.zarr", 2, ["--store", "under the file"]),
    ("extract-store-unwritable", "extract -m efficientnet-lite0 -s {d}/images.npy --store "
     "{ro}/acts.zarr", 2, ["--store", "cannot be written"]),
    # extract: the model and options
    ("extract-model-unknown", "extract -m no-such-model -s {d}/words.txt --store {d}/n.zarr", 1,
     ["--model", "neither a local model folder nor a bundled package"]),
    ("extract-model-folder-without-model", "extract -m {d}/folder -s {d}/words.txt --store "
     "{d}/n.zarr", 1, ["--model", "neither modules.json"]),
    ("extract-model-missing", "extract -s {d}/words.txt --store {d}/n.zarr", 2, ["--model"]),
    ("extract-layer-unknown", f"{IMG} {{d}}/images.npy -l nope", 1, ["layers", "matches no layer"]),
    ("extract-pool-unknown", f"{IMG} {{d}}/images.npy -l _fc --pool bogus", 1,
     ["pool must be one of"]),
    ("extract-batch-size-zero", f"{IMG} {{d}}/images.npy --batch-size 0", 2,
     ["--batch-size"]),
    ("extract-batch-size-text", f"{IMG} {{d}}/images.npy --batch-size many", 2,
     ["--batch-size"]),
    # measures
    ("measures-extra-argument", "measures cka", 2, ["unexpected extra argument"]),
    ("measures-unknown-option", "measures --all", 2, ["--all"]),
    # compare: the arrays
    ("compare-a-missing", f"compare {{d}}/nope.npy {B}", 2, ["A", "no such file"]),
    ("compare-a-folder", f"compare {{d}}/folder {B}", 2, ["A", "a folder"]),
    ("compare-a-text-file", f"compare {{d}}/words.txt {B}", 2, ["A", ".npy format"]),
    ("compare-a-npz-archive", f"compare {{d}}/arrays.npz {B}", 2, ["A", ".npy format"]),
    ("compare-b-corrupt-npy", f"compare {A} {{d}}/corrupt.npy", 2, ["B", "cannot be read"]),
    ("compare-b-empty-file", f"compare {A} {{d}}/empty.npy", 2, ["B", "empty file"]),
    ("compare-b-object-npy", f"compare {A} {{d}}/objects.npy", 2, ["B", "cannot be read", "Object arrays"]),
    ("compare-b-missing-argument", f"compare {A}", 2, ["Missing argument", "'B'"]),
    ("compare-a-1d", f"compare {{d}}/vector.npy {B}", 1, ["X must be a 2-D array", "1-D"]),
    ("compare-a-3d", f"compare {{d}}/cube.npy {B}", 1, ["X must be a 2-D array", "3-D"]),
    ("compare-rows-differ", f"compare {{d}}/rows30.npy {B}", 1, ["X has 30 stimuli but Y has 40"]),
    ("compare-nan", f"compare {{d}}/nan.npy {B}", 1, ["X must be finite"]),
    ("compare-strings", f"compare {{d}}/strings.npy {B}", 1, ["X must hold real numbers"]),
    ("compare-one-stimulus", "compare {d}/row.npy {d}/row.npy", 1, ["needs at least 3"]),
    # compare: measures and options
    ("compare-measure-unknown", f"compare {A} {B} -m nope", 1,
     ["--measure", "Unknown measure 'nope'"]),
    ("compare-measure-parameter-unknown", f"compare {A} {B} -m cka:foo=1", 1,
     ["--measure", "unknown parameter(s) ['foo']"]),
    ("compare-measure-parameter-bad-value", f"compare {A} {B} -m cka:kernel=bogus", 1,
     ["--measure", "kernel='bogus' is not valid"]),
    ("compare-measure-parameter-out-of-range", f"compare {A} {B} -m cka:sigma_frac=-1", 1,
     ["--measure", "sigma_frac=-1"]),
    ("compare-measure-parameter-wrong-type", f"compare {A} {B} -m mutual_knn:k=many", 1,
     ["--measure", "k"]),
    ("compare-measure-malformed", f"compare {A} {B} -m cka:kernel", 2,
     ["--measure", "NAME:KEY=VALUE", "'cka:kernel'"]),
    ("compare-measure-k-too-large", f"compare {A} {B} -m mutual_knn:k=300", 1,
     ["needs at least"]),
    ("compare-permutations-negative", f"compare {A} {B} --permutations -1", 2,
     ["--permutations"]),
    ("compare-bootstrap-negative", f"compare {A} {B} --bootstrap -5", 2, ["--bootstrap"]),
    ("compare-interval-unknown", f"compare {A} {B} --interval bca", 2, ["--interval"]),
    ("compare-seed-negative", f"compare {A} {B} --seed -1", 2, ["--seed"]),
    ("compare-permutations-text", f"compare {A} {B} --permutations all", 2,
     ["--permutations"]),
    # grid
    ("grid-store-missing", "grid {d}/nope.zarr -m cka --results {d}/g1.db", 1,
     ["STORE", "no activation store"]),
    ("grid-store-is-file", "grid {d}/afile -m cka --results {d}/g2.db", 1, ["STORE", "is a file"]),
    ("grid-store-not-a-store", "grid {d}/folder -m cka --results {d}/g3.db", 1,
     ["STORE", "not an activation store"]),
    ("grid-store-empty", "grid {d}/empty.zarr -m cka --results {d}/g4.db", 1,
     ["at least one representation"]),
    ("grid-results-folder", "grid {d}/acts.zarr -m cka --results {d}/folder", 2,
     ["--results", "a folder"]),
    ("grid-results-text-file", "grid {d}/acts.zarr -m cka --results {d}/words.txt", 1,
     ["--results", "not a readable SQLite result store"]),
    ("grid-results-foreign-sqlite", "grid {d}/acts.zarr -m cka --results {d}/foreign.db", 1,
     ["--results", "not a repalign result store"]),
    ("grid-results-under-file", "grid {d}/acts.zarr -m cka --results {d}/afile/r.db", 2,
     ["--results", "under the file"]),
    ("grid-results-unwritable", "grid {d}/acts.zarr -m cka --results {ro}/r.db", 2,
     ["--results", "cannot be written"]),
    ("grid-measure-unknown", "grid {d}/acts.zarr -m nope --results {d}/g5.db", 1,
     ["--measure", "Unknown measure 'nope'"]),
    ("grid-measure-parameter-unknown", "grid {d}/acts.zarr -m rsa:kernel=rbf --results {d}/g6.db",
     1, ["--measure", "unknown parameter(s) ['kernel']"]),
    ("grid-measure-missing", "grid {d}/acts.zarr --results {d}/g7.db", 2, ["--measure"]),
    ("grid-pairs-unknown", "grid {d}/acts.zarr -m cka --results {d}/g8.db --pairs some", 1,
     ["pairs must be one of"]),
    ("grid-executor-unknown", "grid {d}/acts.zarr -m cka --results {d}/g9.db --executor mpi", 1,
     ["executor must be one of"]),
    ("grid-scheduler-without-dask", "grid {d}/acts.zarr -m cka --results {d}/g10.db "
     "--scheduler tcp://localhost:1", 1, ["scheduler is used only with executor='dask'"]),
    # report
    ("report-results-missing", "report {d}/nope.db -o {d}/r1.html", 1, ["results=", "not a file"]),
    ("report-results-folder", "report {d}/folder -o {d}/r2.html", 1, ["results=", "not a file"]),
    ("report-results-text-file", "report {d}/words.txt -o {d}/r3.html", 1,
     ["not a repalign result store"]),
    ("report-results-empty-file", "report {d}/empty.npy -o {d}/r4.html", 1,
     ["not a repalign result store"]),
    ("report-results-foreign-sqlite", "report {d}/foreign.db -o {d}/r5.html", 1,
     ["not a repalign result store"]),
    ("report-output-folder", "report {d}/results.db -o {d}/folder", 2, ["--output", "a folder"]),
    ("report-output-missing-folder", "report {d}/results.db -o {d}/nowhere/r.html", 1,
     ["path=", "does not exist"]),
    ("report-output-unwritable", "report {d}/results.db -o {ro}/r.html", 2,
     ["--output", "cannot be written"]),
    # demo (every misuse is refused before the job starts)
    ("demo-out-is-file", "demo --out {d}/afile", 2, ["--out", "a file"]),
    ("demo-out-under-file", "demo --out {d}/afile/demo", 2, ["--out", "under the file"]),
    ("demo-out-unwritable", "demo --out {ro}/demo", 2, ["--out", "cannot be written"]),
    ("demo-images-is-gone", "demo --out {d}/demo --images {d}/nope.mat", 2,
     ["No such option: --images"]),
    # score, leaderboard, export
    ("score-benchmark-unknown", "score efficientnet-lite0 nope", 1,
     ["BENCHMARK", "'nope' is not a benchmark", "kriegeskorte92.human_it"]),
    ("score-model-unknown", "score nope-model kriegeskorte92.human_it", 1,
     ["MODEL", "'nope-model' is neither a local model folder nor a bundled package"]),
    ("score-model-takes-no-words", "score efficientnet-lite0 word_similarity.mc30 --splits 1",
     1, ["'efficientnet-lite0' could not be run on the 39 words of word_similarity.mc30"]),
    ("score-splits-zero", "score efficientnet-lite0 kriegeskorte92.human_it --splits 0", 2,
     ["--splits", "greater than or equal to 1"]),
    ("score-ci-out-of-range", "score efficientnet-lite0 kriegeskorte92.human_it --ci 1.5", 1,
     ["ci=1.5 is not in (0, 1)"]),
    ("score-layer-unknown", "score efficientnet-lite0 kriegeskorte92.monkey_it -l nope", 1,
     ["nope"]),
    ("leaderboard-benchmark-unknown", "leaderboard -b nope --out {d}/lb1", 2,
     ["--benchmark", "expected a benchmark name", "'nope'"]),
    ("leaderboard-model-unknown", "leaderboard -m nope-model --out {d}/lb2", 1,
     ["--model", "'nope-model'"]),
    ("leaderboard-out-is-file", "leaderboard --out {d}/afile", 2, ["--out", "a file"]),
    ("leaderboard-no-benchmark-fits", "leaderboard -m efficientnet-lite0 -b "
     "word_similarity.mc30 --out {d}/lb3", 1, ["could not be scored on any of the benchmarks"]),
    ("export-format-unknown", "export {d}/results.db --format xls", 2, ["--format", "'xls'"]),
    ("export-results-missing", "export {d}/nope.db --format csv", 2,
     ["RESULTS", "no such file"]),
    ("export-results-foreign", "export {d}/foreign.db --format csv -o {d}/f.csv", 1,
     ["not a repalign result store"]),
    ("export-output-folder", "export {d}/results.db --format csv -o {d}/folder", 2,
     ["--output", "a folder"]),
    # study
    ("study-unknown", "study nope --out {d}/s1", 1, ["NAME", "study must be one of", "'nope'"]),
    ("study-option-of-another-study", "study triplets --images {d}/words.txt --out {d}/s2", 1,
     ["no option(s) ['images']"]),
    ("study-brain-images-missing", "study brain --images {d}/nope.mat --out {d}/s3", 1,
     ["images must be the file"]),
    ("study-brain-images-folder", "study brain --images {d}/folder --out {d}/s4", 1,
     ["images must be the file"]),
    ("study-out-is-file", "study snr --out {d}/afile", 2, ["--out", "a file"]),
    ("study-out-unwritable", "study snr --out {ro}/snr", 2, ["--out", "cannot be written"]),
    ("study-seed-negative", "study snr --seed -1 --out {d}/s5", 1, ["seed must be >= 0"]),
    ("study-seed-text", "study snr --seed one --out {d}/s6", 2, ["--seed"]),
    ("study-set-no-equals", "study snr --set n_seeds --out {d}/s7", 2, ["--set", "KEY=VALUE"]),
    ("study-set-unknown", "study snr --set widths=3 --out {d}/s8", 1,
     ["--set", "no option(s) ['widths']"]),
    # the app itself
    ("unknown-command", "align {d}/a.npy", 2, ["No such command 'align'"]),
    ("unknown-global-option", "--verbose measures", 2, ["--verbose"]),
]


def _unwritable_folder(base: Path) -> Path | None:
    """A folder this process cannot write into (a read-only one; /sys for root)."""
    folder = base / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    for candidate in (folder, Path("/sys")):
        try:
            tempfile.TemporaryFile(dir=candidate).close()
        except OSError:
            return candidate
    return None


def make_files(d: Path) -> dict:
    """The inputs of the catalogue, in ``d``: good ones and every kind of bad one."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    np.save(d / "a.npy", X)
    np.save(d / "b.npy", X @ rng.standard_normal((5, 6)))
    np.save(d / "rows30.npy", X[:30])
    np.save(d / "row.npy", X[:1])
    np.save(d / "vector.npy", X[:, 0])
    np.save(d / "cube.npy", X.reshape(40, 5, 1))
    np.save(d / "nan.npy", np.where(X > 2, np.nan, X))
    np.save(d / "strings.npy", np.full((40, 5), "x"))
    np.save(d / "scalar.npy", np.float64(1.0))
    np.save(d / "images.npy", rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8))
    np.save(d / "no-images.npy", np.zeros((0, 32, 32, 3), dtype=np.uint8))
    np.save(d / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.savez(d / "arrays.npz", X=X)
    (d / "corrupt.npy").write_bytes((d / "a.npy").read_bytes()[:200])
    (d / "empty.npy").write_bytes(b"")
    (d / "text.npy").write_text("not\nan array\n")
    (d / "words.txt").write_text("aardvark\nabacus\n")
    (d / "blank.txt").write_text("\n  \n\n")
    (d / "binary.bin").write_bytes(bytes(range(256)))
    (d / "afile").write_text("a file\n")
    (d / "folder").mkdir()
    (d / "full-folder").mkdir()
    (d / "full-folder" / "notes.txt").write_text("not a store\n")
    with sqlite3.connect(d / "foreign.db") as conn:
        conn.execute("CREATE TABLE other (x)")
    with repalign.ActivationStore(d / "acts.zarr", mode="a") as store:
        store.add("net", "l1", X)
        store.add("net", "l2", np.tanh(X[:, :3]))
    repalign.ActivationStore(d / "empty.zarr", mode="a").close()
    with repalign.ActivationStore(d / "acts.zarr") as reps, \
            repalign.ResultStore(d / "results.db") as results:
        repalign.grid(reps, ["cka"], results=results)
    return {"d": str(d), "ro": str(_unwritable_folder(d))}


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    base = tmp_path_factory.mktemp("misuse")
    yield make_files(base)
    (base / "read-only").chmod(0o755)


def run_case(args: str, places: dict, cli=app):
    """``repalign ARGS`` (with the places filled in) through the CliRunner."""
    return runner.invoke(cli, [token.format(**places) for token in args.split()])


def misuse_problems(result, code: int, fragments) -> list[str]:
    """What is wrong with how a misuse ended (empty: one clean ``error:`` line)."""
    problems = []
    if not isinstance(result.exception, SystemExit):
        problems.append(f"raised {type(result.exception).__name__}: {result.exception}")
    if "Traceback" in result.output:
        problems.append("printed a traceback")
    if result.exit_code != code:
        problems.append(f"exit code {result.exit_code}, expected {code}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if len(errors) != 1:
        problems.append(f"{len(errors)} 'error:' lines on stderr, expected 1")
    else:
        problems += [f"error line lacks {f!r}" for f in fragments
                     if f.lower() not in errors[0].lower()]
    return problems


@pytest.mark.parametrize("args, code, fragments",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_misuse_ends_with_one_error_line(places, args, code, fragments):
    if "{ro}" in args and places["ro"] == "None":
        pytest.skip("no unwritable folder here")
    result = run_case(args, places)
    assert not misuse_problems(result, code, fragments), (result.stderr, result.output)


def test_the_catalogue_covers_every_command_and_kind_of_misuse():
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)
    commands = {case[1].split()[0] for case in CASES}
    assert {"extract", "measures", "compare", "grid", "report", "demo", "study"} <= commands


def _boom(*args, **kwargs):
    raise RuntimeError("boom")


def test_an_internal_error_is_one_line_without_debug_and_a_traceback_with_it(places,
                                                                             monkeypatch):
    monkeypatch.setattr(repalign, "measure", _boom)
    args = ["compare", f"{places['d']}/a.npy", f"{places['d']}/b.npy"]
    plain = runner.invoke(app, args)
    assert plain.exit_code == 1 and isinstance(plain.exception, SystemExit)
    assert "Traceback" not in plain.output
    assert plain.stderr.splitlines() == [
        "error: internal error (RuntimeError: boom); rerun with 'repalign --debug ...' to see "
        "the traceback, and please report it"]
    debug = runner.invoke(app, ["--debug", *args])
    assert debug.exit_code == 1 and isinstance(debug.exception, SystemExit)
    assert "Traceback (most recent call last)" in debug.stderr
    assert "in _boom" in debug.stderr and 'raise RuntimeError("boom")' in debug.stderr
    assert debug.stderr.splitlines()[-1] == "error: internal error: RuntimeError: boom"


def test_debug_shows_the_traceback_behind_a_library_error(places):
    args = ["compare", f"{places['d']}/a.npy", f"{places['d']}/b.npy", "-m", "nope"]
    plain = runner.invoke(app, args)
    debug = runner.invoke(app, ["--debug", *args])
    assert plain.exit_code == debug.exit_code == 1
    assert "Traceback" not in plain.output and "Traceback" in debug.stderr
    assert debug.stderr.splitlines()[-1] == plain.stderr.strip()


def test_no_arguments_shows_the_help():
    result = runner.invoke(app, [])
    assert "Usage" in result.output and "compare" in result.output
    assert "error:" not in result.output and "Traceback" not in result.output


def test_measure_parameters_reach_the_measure(places):
    args = ["compare", f"{places['d']}/a.npy", f"{places['d']}/b.npy",
            "-m", "cka:kernel=rbf,sigma_frac=0.5", "-m", "ridge:alphas=(0.1, 1.0),cv=3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    X, Y = np.load(f"{places['d']}/a.npy"), np.load(f"{places['d']}/b.npy")
    rbf = repalign.measure("cka", X, Y, kernel="rbf", sigma_frac=0.5)
    ridge = repalign.measure("ridge", X, Y, alphas=(0.1, 1.0), cv=3)
    assert result.output.splitlines() == [f"cka:kernel=rbf,sigma_frac=0.5  {rbf:.6g}",
                                          f"ridge:alphas=(0.1, 1.0),cv=3  {ridge:.6g}"]

