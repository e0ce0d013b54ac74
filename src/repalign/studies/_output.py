"""What every study writes: ``results.csv``, ``figure.png`` and ``summary.md``."""

from __future__ import annotations

import dataclasses
import platform
import time
from pathlib import Path

__all__ = ["Check", "StudyResult", "default_out", "write"]


@dataclasses.dataclass(frozen=True)
class Check:
    """One claim of the paper, tested on this run's numbers.

    Attributes
    ----------
    claim : str
        The claim, in words (e.g. "alignment rises with SNR").
    passed : bool
        Whether this run's numbers support it.
    detail : str
        The numbers that decided it.
    """

    claim: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.claim}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """What a study returns: its table, its checks and the files it wrote.

    Attributes
    ----------
    name : str
        The study.
    table : pandas.DataFrame
        The tidy results (also ``results.csv``).
    checks : tuple of Check
        The paper's claims as tested here.
    out : Path
        The output folder holding ``results.csv``, ``figure.png``, ``summary.md``.
    seconds : float
        Wall-clock time of the run.
    """

    name: str
    table: object
    checks: tuple
    out: Path
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(check.passed for check in self.checks)

    @property
    def paths(self) -> dict:
        """``{"results": ..., "figure": ..., "summary": ...}``."""
        return {"results": self.out / "results.csv", "figure": self.out / "figure.png",
                "summary": self.out / "summary.md"}

    def __repr__(self) -> str:
        passed = sum(check.passed for check in self.checks)
        return (f"StudyResult({self.name!r}: {len(self.table)} rows, {passed}/"
                f"{len(self.checks)} checks passed, {self.seconds:.0f} s, out={str(self.out)!r})")


def default_out(name: str, out) -> Path:
    """The output folder: ``out``, or ``study-NAME`` in the working directory; created."""
    path = Path(f"study-{name}" if out is None else out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write(name: str, out: Path, *, title: str, reference: str, description: str,
          table, figure, checks, numbers: str, quick: bool, seed: int,
          started: float) -> StudyResult:
    """Write the three files of a study and return its :class:`StudyResult`.

    Parameters
    ----------
    name : str
        The study's name.
    out : Path
        Output folder (exists).
    title : str
        Heading of the summary.
    reference : str
        The paper(s) reproduced, as a citation.
    description : str
        Markdown: what was run (data, models, measures, sizes).
    table : pandas.DataFrame
        Tidy results, written to ``results.csv``.
    figure : matplotlib.figure.Figure
        Saved to ``figure.png`` and closed.
    checks : iterable of Check
        The claims tested.
    numbers : str
        Markdown: the headline numbers (a table or a list).
    quick, seed : bool, int
        The run's settings, recorded in the summary.
    started : float
        ``time.perf_counter()`` at the start of the run.
    """
    import matplotlib.pyplot as plt

    from .. import __version__

    checks = tuple(checks)
    table.to_csv(out / "results.csv", index=False)
    figure.savefig(out / "figure.png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    seconds = time.perf_counter() - started
    mode = "quick" if quick else "full"
    lines = [
        f"# {title}", "", f"Reproduces: {reference}", "",
        "## What was run", "", description.strip(), "",
        f"Settings: `{mode}`, seed {seed}; {seconds:.0f} s on {platform.machine()} with "
        f"repalign {__version__}. Table: `results.csv` ({len(table)} rows); "
        f"figure: `figure.png`.", "",
        "## Checks", "",
        *(f"- **{'PASS' if c.passed else 'FAIL'}**: {c.claim}. {c.detail}" for c in checks),
        "", "## Numbers", "", numbers.strip(), "",
    ]
    (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    return StudyResult(name=name, table=table, checks=checks, out=out, seconds=seconds)
