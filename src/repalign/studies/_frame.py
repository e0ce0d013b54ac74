"""The Study frame: configure -> measure -> checks -> figure -> summary, and the registry.

A study module holds its science: a :class:`Study` subclass whose
:meth:`~Study.measure` runs the experiment and returns an :class:`Outcome`
(a tidy table plus whatever the checks, figure and summary need), whose
:meth:`~Study.checks` state the paper's claims against those numbers, and whose
:meth:`~Study.figure`, :meth:`~Study.numbers` and :meth:`~Study.description`
say what was run and found; each of these four is called as
``method(outcome, config)``, after ``measure``. The frame's :meth:`Study.run`
does the rest for every study alike: settings, timing, the output folder and
its three files (``results.csv``, ``figure.png``, ``summary.md``), and the
:class:`StudyResult`.

The settings of a run are a frozen dataclass, :class:`StudyConfig` extended by
each study with its own fields; :attr:`Study.quick_settings` and
:attr:`Study.full_settings` give their values for ``quick=True`` (minutes at
most, for the tests) and the default run, and keyword options override both.
"""

from __future__ import annotations

import dataclasses
import numbers
import platform
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["Check", "Outcome", "Study", "StudyConfig", "StudyResult", "register",
           "registered"]


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """The settings of one run of a study; each study adds its own fields.

    Attributes
    ----------
    quick : bool
        Whether this is the quick version (for the tests) or the default run.
    seed : int
        Seed of every random choice of the run.
    """

    quick: bool = False
    seed: int = 0

    def settings(self) -> dict:
        """The fields as a dict, in their order of definition."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", bool(self.passed))

    def __str__(self) -> str:
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.claim}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a study measured.

    Attributes
    ----------
    table : pandas.DataFrame
        The tidy results, one row per condition and repetition (``results.csv``).
    details : mapping
        Anything else the checks, figure, numbers or description need that is
        not a row of the table (fitted curves, matrices, derived summaries,
        sizes of the data such as the train and test images).
    """

    table: Any
    details: Mapping = dataclasses.field(default_factory=dict)


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
    config : StudyConfig
        The settings of the run.
    """

    name: str
    table: Any
    checks: tuple
    out: Path
    seconds: float
    config: StudyConfig

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


class Study(ABC):
    """Base class of the studies: one paper's key experiment, as a runnable recipe.

    A subclass sets :attr:`name`, :attr:`title`, :attr:`reference` and, if it
    has settings beyond ``quick`` and ``seed``, a :attr:`Config` dataclass with
    :attr:`quick_settings` and :attr:`full_settings`; it implements
    :meth:`measure`, :meth:`checks`, :meth:`figure`, :meth:`numbers` and
    :meth:`description`, and is registered with :func:`register`.

    Attributes
    ----------
    name : str
        Registry key (``repalign study NAME``).
    title : str
        Heading of the summary.
    reference : str
        The paper(s) reproduced, as a citation.
    Config : type
        The settings dataclass (a subclass of :class:`StudyConfig`).
    quick_settings, full_settings : mapping
        Values of ``Config``'s own fields for the quick and the default run.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    reference: ClassVar[str]
    Config: ClassVar[type[StudyConfig]] = StudyConfig
    quick_settings: ClassVar[Mapping[str, Any]] = {}
    full_settings: ClassVar[Mapping[str, Any]] = {}

    # ------------------------------------------------------------------ the science
    @abstractmethod
    def measure(self, config: StudyConfig) -> Outcome:
        """Run the experiment with ``config`` and return what it measured."""

    @abstractmethod
    def checks(self, outcome: Outcome, config: StudyConfig) -> list[Check]:
        """The paper's claims, each tested on ``outcome``; each could fail."""

    @abstractmethod
    def figure(self, outcome: Outcome, config: StudyConfig):
        """The paper's key figure as measured here (a matplotlib Figure)."""

    @abstractmethod
    def numbers(self, outcome: Outcome, config: StudyConfig) -> str:
        """Markdown: the headline numbers (a table or a list)."""

    @abstractmethod
    def description(self, outcome: Outcome, config: StudyConfig) -> str:
        """Markdown: what was run (data, models, measures, sizes, controls).

        Called after :meth:`measure`, so that sizes known only once the data
        are loaded (train and test images, whether an optional file was found)
        are read from ``outcome.details`` rather than worked out again.
        """

    # ------------------------------------------------------------------ the frame
    def configure(self, *, quick: bool = False, seed: int = 0, **options) -> StudyConfig:
        """The settings of a run: the quick or full preset, overridden by ``options``.

        Raises
        ------
        TypeError
            If ``quick`` is not a bool, ``seed`` not an int, or an option is not
            a setting of this study (the message lists them).
        ValueError
            If ``seed`` is negative.
        """
        if not isinstance(quick, bool):
            raise TypeError(f"study {self.name}: quick must be a bool; got {quick!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"study {self.name}: seed must be an int; got {seed!r}")
        if seed < 0:
            raise ValueError(f"study {self.name}: seed must be >= 0; got {seed}")
        own = [f.name for f in dataclasses.fields(self.Config)
               if f.name not in ("quick", "seed")]
        unknown = sorted(set(options) - set(own))
        if unknown:
            raise TypeError(f"study {self.name} has no option(s) {unknown}; its options are "
                            f"{own or 'none'} (besides quick and seed)")
        preset = self.quick_settings if quick else self.full_settings
        return self.Config(quick=quick, seed=int(seed), **{**preset, **options})

    def run(self, out=None, *, quick: bool = False, seed: int = 0, **options) -> StudyResult:
        """Run the study and write ``results.csv``, ``figure.png`` and ``summary.md``.

        Parameters
        ----------
        out : path, optional
            Output folder (created); default ``study-NAME`` in the working directory.
        quick : bool, default=False
            The quick version (a few minutes at most, for the tests).
        seed : int, default=0
            Seed of every random choice (data, initialisations, resamples).
        **options
            The study's own settings (fields of its :attr:`Config`), overriding
            the preset.

        Returns
        -------
        StudyResult
        """
        config = self.configure(quick=quick, seed=seed, **options)
        path = Path(f"study-{self.name}" if out is None else out)
        path.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        outcome = self.measure(config)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"study {self.name}: measure() must return an Outcome; got "
                            f"{type(outcome).__name__}")
        checks = tuple(self.checks(outcome, config))
        figure = self.figure(outcome, config)
        seconds = time.perf_counter() - started
        self._write(path, outcome, checks, figure, config, seconds)
        return StudyResult(name=self.name, table=outcome.table, checks=checks, out=path,
                           seconds=seconds, config=config)

    def _write(self, out: Path, outcome: Outcome, checks, figure, config, seconds) -> None:
        from .. import __version__

        outcome.table.to_csv(out / "results.csv", index=False)
        figure.savefig(out / "figure.png", dpi=120, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(figure)  # a no-op for figures pyplot does not manage
        settings = ", ".join(f"{k}={v!r}" for k, v in config.settings().items())
        lines = [
            f"# {self.title}", "", f"Reproduces: {self.reference}", "",
            "## What was run", "", self.description(outcome, config).strip(), "",
            f"Settings: {settings}. {seconds:.0f} s on {platform.machine()} with repalign "
            f"{__version__}. Table: `results.csv` ({len(outcome.table)} rows); figure: "
            "`figure.png`.", "",
            "## Checks", "",
            *(f"- **{'PASS' if c.passed else 'FAIL'}**: {c.claim}. {c.detail}" for c in checks),
            "", "## Numbers", "", self.numbers(outcome, config).strip(), "",
        ]
        (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")


_REGISTRY: dict[str, Study] = {}


def register(cls: type[Study]) -> type[Study]:
    """Class decorator adding a study to the registry under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"a study named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls()
    return cls


def registered(name: str) -> Study:
    """The registered study ``name`` (its module must have been imported)."""
    return _REGISTRY[name]
