#!/usr/bin/env python
"""BLAS thread pinning in the grid's thread pool: the same grid pinned and unpinned.

``repalign.grid(..., executor="threads")`` runs one worker per core (at most
one per task) and, while its pool runs, limits the BLAS libraries' threads
(threadpoolctl) to ``cores // workers``, so that workers x BLAS threads never
exceed the cores. This benchmark times the same grid

- ``pinned``: the grid as shipped;
- ``unpinned``: the same call with the limit switched off by patching
  ``repalign.grid.run._blas_limit`` to a no-op (not a public switch: the grid
  has no reason to oversubscribe its cores), so each worker's BLAS calls start
  the library's default number of threads (the cores): workers x cores threads;
- ``serial`` (reference; ``--no-serial`` skips it): ``executor="serial"``, one
  worker whose BLAS uses every core,

one measure at a time, the modes interleaved within each repeat (their order
alternating from one repeat to the next), so that the ratios come from one run
on the same machine load. Reported per measure and mode: the minimum and
median wall time over the repeats, the process's CPU time (user + system) per
second of wall time in the median call (above the cores when threads spin or
wait on each other), and the BLAS thread counts seen inside the workers
(``threadpoolctl.threadpool_info()`` called from the worker threads while they
prepare and pair, in an untimed call). The values of the modes are checked
equal (1e-10, or their squares for distances near 0: BLAS's summation order may
change with its thread count).

The load average (``uptime``) is printed before and after: on a machine that
runs other work, the ratios are the comparable figures, not the seconds.

Usage::

    python benchmarks/threads.py                         # 60 reps, n=1000, d=256, cka + procrustes
    python benchmarks/threads.py --reps 20 --n 300 --d 64 --repeats 3    # a quick check
    python benchmarks/threads.py --out threads.md
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import platform
import statistics
import subprocess
import threading
import time

import numpy as np
from threadpoolctl import threadpool_info

import repalign

run_module = importlib.import_module("repalign.grid.run")  # repalign.grid is the function

MODES = ("pinned", "unpinned", "serial")


def make_reps(L, n, d, seed=0):
    """L noisy views of one latent (n x 64), d features each."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 64))
    return {f"{'ab'[k % 2]}/layer{k // 2}": np.tanh(Z @ rng.standard_normal((64, d)) / 8)
            + 0.5 * rng.standard_normal((n, d)) for k in range(L)}


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def unpinned():
    """The grid with its BLAS limit switched off."""
    original = run_module._blas_limit
    run_module._blas_limit = lambda workers: contextlib.nullcontext()
    try:
        yield
    finally:
        run_module._blas_limit = original


@contextlib.contextmanager
def mode_context(mode):
    with unpinned() if mode == "unpinned" else contextlib.nullcontext():
        yield "serial" if mode == "serial" else "threads"


def blas_threads_now() -> tuple:
    """The BLAS libraries' thread counts, as (library, threads) pairs; a library is named
    by the package that ships it (NumPy's and SciPy's OpenBLAS are separate copies)."""
    found = []
    for info in threadpool_info():
        if info["user_api"] == "blas":
            folder = os.path.basename(os.path.dirname(info["filepath"]))
            found.append((folder.removesuffix(".libs") or info["filepath"],
                          info["num_threads"]))
    return tuple(sorted(found))


@contextlib.contextmanager
def probed():
    """Record, per stage (prepare, pair), the threads that ran it and the BLAS thread
    counts they saw."""
    seen = {}
    lock = threading.Lock()
    originals = run_module._prepare, run_module._pair_values

    def record(stage):
        with lock:
            entry = seen.setdefault(stage, {"threads": set(), "blas": set()})
            entry["threads"].add(threading.get_ident())
            entry["blas"].add(blas_threads_now())

    def prepare(*args, **kwargs):
        record("prepare")
        return originals[0](*args, **kwargs)

    def pair_values(*args, **kwargs):
        record("pair")
        return originals[1](*args, **kwargs)

    run_module._prepare, run_module._pair_values = prepare, pair_values
    try:
        yield seen
    finally:
        run_module._prepare, run_module._pair_values = originals


def describe(seen) -> str:
    """``prepare: 2 threads x BLAS numpy 1, scipy 1; pair: ...``"""
    parts = []
    for stage in ("prepare", "pair"):
        if stage in seen:
            blas = " or ".join(", ".join(f"{lib} {k}" for lib, k in c)
                               for c in sorted(seen[stage]["blas"]))
            parts.append(f"{stage}: {len(seen[stage]['threads'])} thread(s) x BLAS {blas}")
    return "; ".join(parts)


def apart(value, reference) -> float:
    """How far two values are; a distance near 0 (procrustes of X with itself) is the
    square root of a rounding error, so its square is compared (as benchmarks/grid.py)."""
    return min(abs(value - reference), abs(value ** 2 - reference ** 2))


def timed(reps, name, executor):
    cpu = os.times()
    start = time.perf_counter()
    result = repalign.grid(reps, [name], executor=executor)
    wall = time.perf_counter() - start
    after = os.times()
    used = (after.user - cpu.user) + (after.system - cpu.system)
    return wall, used, {(r["a"], r["b"]): r["value"] for r in result.rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=60, help="representations")
    parser.add_argument("--n", type=int, default=1000, help="stimuli")
    parser.add_argument("--d", type=int, default=256, help="features")
    parser.add_argument("--measures", default="cka,procrustes")
    parser.add_argument("--repeats", type=int, default=5,
                        help="interleaved calls per measure and mode (min and median reported)")
    parser.add_argument("--no-serial", action="store_true", help="skip the serial reference")
    parser.add_argument("--out", help="also write the markdown report to this file")
    args = parser.parse_args()
    measures = args.measures.split(",")
    modes = [m for m in MODES if not (args.no_serial and m == "serial")]
    reps = make_reps(args.reps, args.n, args.d)
    cores = run_module.cores()
    load_before = uptime()
    print(load_before, flush=True)

    for name in measures:  # imports and first-call caches
        repalign.grid(dict(list(reps.items())[:3]), [name])
    seen = {}
    for mode in modes:  # the BLAS threads inside the workers, in an untimed call
        for name in measures:
            start = time.perf_counter()
            with mode_context(mode) as executor, probed() as found:
                repalign.grid(reps, [name], executor=executor)
            seen[mode, name] = describe(found)
            print(f"probe {name} {mode}: {time.perf_counter() - start:.2f} s "
                  f"({seen[mode, name]})", flush=True)
    outside = blas_threads_now()

    walls = {(mode, name): [] for mode in modes for name in measures}
    cpus = {key: [] for key in walls}
    values = {}
    for r in range(args.repeats):
        order = modes if r % 2 == 0 else modes[::-1]
        for name in measures:
            for mode in order:
                with mode_context(mode) as executor:
                    wall, cpu, found = timed(reps, name, executor)
                walls[mode, name].append(wall)
                cpus[mode, name].append(cpu)
                reference = values.setdefault(name, found)
                worst = max(apart(found[k], reference[k]) for k in reference)
                assert worst <= 1e-10, (mode, name, worst)
                print(f"repeat {r + 1} {name} {mode}: {wall:.2f} s", flush=True)
    load_after = uptime()

    def cell(mode, name):
        w = walls[mode, name]
        median = statistics.median(w)
        k = min(range(len(w)), key=lambda i: abs(w[i] - median))
        return (f"{min(w):.2f} | {median:.2f} | {cpus[mode, name][k] / w[k]:.2f} | "
                f"{seen[mode, name]} |")

    n_pairs = args.reps * (args.reps + 1) // 2
    lines = [
        f"## BLAS thread pinning in the threads executor: {args.reps} representations, "
        f"n={args.n}, d={args.d}, {', '.join(measures)} (benchmarks/threads.py)",
        "",
        f"- CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical "
        f"cores, {cores} usable; Python {platform.python_version()}, NumPy {np.__version__}, "
        f"repalign {repalign.__version__}",
        "- BLAS threads outside the grid: " + ", ".join(f"{lib} {k}" for lib, k in outside),
        f"- `uptime` before: `{load_before}`",
        f"- `uptime` after: `{load_after}`",
        f"- {n_pairs} pairs per measure; {args.repeats} interleaved repeats of each "
        "(measure, mode); values equal across modes to 1e-10 "
        "(squares for distances near 0)",
        "",
        "| measure | mode | min s | median s | CPU s / wall s | BLAS threads inside the "
        "workers |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name in measures:
        for mode in modes:
            lines.append(f"| {name} | {mode} | {cell(mode, name)}")
    lines += ["", "| measure | unpinned / pinned (min) | unpinned / pinned (median) |"
              + (" serial / pinned (min) |" if "serial" in modes else ""),
              "|---|---:|---:|" + ("---:|" if "serial" in modes else "")]
    totals = {}
    for name in [*measures, "all"]:
        for mode in modes:
            for f in (min, statistics.median):
                totals[mode, name, f] = (
                    sum(totals[mode, m, f] for m in measures) if name == "all"
                    else f(walls[mode, name]))

        def ratio(f, mode, name=name):
            return totals[mode, name, f] / totals["pinned", name, f]

        lines.append(f"| {name} | **{ratio(min, 'unpinned'):.2f}** | "
                     f"{ratio(statistics.median, 'unpinned'):.2f} |"
                     + (f" {ratio(min, 'serial'):.2f} |" if "serial" in modes else ""))
    lines += ["", "pinned: `repalign.grid(reps, [measure], executor='threads')` as shipped "
              "(a worker per core, at most one per task; BLAS limited to cores // workers); "
              "unpinned: the "
              "same with `repalign.grid.run._blas_limit` patched to a no-op; serial: "
              "`executor='serial'` (one worker, BLAS at its default). CPU s / wall s: the "
              "process's user + system time over the wall time of the median call. The 'all' "
              "row sums the measures' minima (medians).", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
