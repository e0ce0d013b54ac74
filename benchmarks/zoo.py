#!/usr/bin/env python
"""A model zoo's grid: up to 1,000 representations, every pair, within a memory budget.

For each number of representations L (default 100, 300, 1000) a child process
builds L synthetic representations of n stimuli x d features and runs
``repalign.grid(reps, measures, memory_budget=B)`` over every pair, one
measure after another (default linear CKA and RSA). Each size runs in its own
process, so its peak resident memory (``ru_maxrss``) is its own. Reported per
size and measure:

- ``seconds``: wall time of the grid (an untraced call; with ``--traced-only``
  the traced call's, ``traced s``), and the process's CPU seconds (user +
  system) during the traced call, which depend less on other work running;
- ``traced peak``: the peak of the memory allocated during a second call
  (tracemalloc, which sees NumPy's buffers): the prepared states, the
  temporaries of the tile products, the preparation in progress and the
  rows of the result;
- ``rows``: what the returned ``GridResult`` holds (its rows as columns,
  O(L^2), about 50 bytes a pair);
- ``budget``: ``B``; the grid holds its rows, its pending pairs, its states and
  its tile temporaries within it (``peak less rows`` is the traced peak without
  the rows, as earlier versions reported it, when the rows were outside);
- ``states held``, ``prepared / spilled / read back``: the counters of the
  grid's ``StateCache`` (the most bytes of prepared states held at once, and the
  states prepared, pickled to the temporary folder, and read back from it);
- ``peak RSS``: the process's peak resident memory over all its measures,
  including the interpreter and the representations themselves (``inputs``,
  L n d 8 bytes, held by the caller, not by the grid).

The exponents are least-squares slopes of log(seconds) and log(traced peak)
against log(L) over the sizes run (2 for time: L(L+1)/2 pairs; 0 for memory
within the budget).

The representations: a shared latent ``Z`` (n x 16) and
``X_i = Z W_i + E_i`` (Gaussian ``W_i``, 16 x d, and noise ``E_i``, n x d),
seeded.

Usage::

    python benchmarks/zoo.py                                   # n=1000, d=256, 1 GiB (long)
    python benchmarks/zoo.py --n 200 --d 64 --budget 48MiB --out zoo.md
    python benchmarks/zoo.py --sizes 100,300 --no-budget       # the unbounded grid
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

LATENT = 16
UNITS = {"": 1, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def parse_bytes(text: str) -> int:
    """``"48MiB"`` -> 50331648; a plain number is bytes."""
    for unit in sorted(UNITS, key=len, reverse=True):
        if unit and text.endswith(unit):
            return int(float(text[: -len(unit)]) * UNITS[unit])
    return int(text)


def mib(n: float) -> str:
    return f"{n / 2**20:.0f}"


def representations(L: int, n: int, d: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, LATENT))
    return {f"model{i // 10}/layer{i % 10}":
            Z @ rng.standard_normal((LATENT, d)) + rng.standard_normal((n, d))
            for i in range(L)}


@contextlib.contextmanager
def cache_stats():
    """Record the counters of each ``StateCache`` a grid closes (states prepared, spilled
    to disk, read back, and the most bytes of states held at once)."""
    run_module = importlib.import_module("repalign.grid.run")  # repalign.grid: the function
    original, found = run_module.StateCache, []

    class Recording(original):
        def close(self):
            found.append({"prepared": self.prepared, "spilled": self.spilled,
                          "loaded": self.loaded, "states_peak": self.peak_bytes})
            super().close()

    run_module.StateCache = Recording
    try:
        yield found
    finally:
        run_module.StateCache = original


def child(args) -> None:
    """One size: every measure's grid, its time and memory, as JSON on stdout."""
    import repalign

    reps = representations(args.size, args.n, args.d, args.seed)
    out = {"L": args.size, "inputs": sum(X.nbytes for X in reps.values()), "measures": {}}
    warm_up = dict(list(reps.items())[:3])
    for name in args.measures.split(","):
        repalign.grid(warm_up, [name])  # imports and first-call caches, outside the trace
        seconds = None
        if not args.traced_only:
            start = time.perf_counter()
            repalign.grid(reps, [name], executor=args.executor, memory_budget=args.budget)
            seconds = time.perf_counter() - start
        with cache_stats() as caches:
            tracemalloc.start()  # a second call for the memory: tracing slows Python objects
            start, cpu = time.perf_counter(), os.times()
            result = repalign.grid(reps, [name], executor=args.executor,
                                   memory_budget=args.budget)
            traced_seconds = time.perf_counter() - start
            used = os.times()
            cpu_seconds = used.user - cpu.user + used.system - cpu.system
            rows, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        out["measures"][name] = {
            "seconds": traced_seconds if seconds is None else seconds,
            "traced_seconds": traced_seconds, "cpu_seconds": cpu_seconds,
            "traced_peak": peak, "rows": rows,
            "pairs": len(result.rows),
            "prepared": sum(c["prepared"] for c in caches),
            "spilled": sum(c["spilled"] for c in caches),
            "loaded": sum(c["loaded"] for c in caches),
            "states_peak": max((c["states_peak"] for c in caches), default=0)}
        del result
    out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(out))


def slope(x, y) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,300,1000",
                        help="numbers of representations, comma-separated")
    parser.add_argument("--n", type=int, default=1000, help="stimuli")
    parser.add_argument("--d", type=int, default=256, help="features")
    parser.add_argument("--measures", default="cka,rsa")
    parser.add_argument("--budget", default="1GiB",
                        help="memory_budget of the grid (bytes, or with KiB/MiB/GiB)")
    parser.add_argument("--no-budget", action="store_true",
                        help="run the unbounded grid (memory_budget=None)")
    parser.add_argument("--executor", default="serial", choices=["serial", "threads"])
    parser.add_argument("--traced-only", action="store_true",
                        help="one call per measure, under tracemalloc, whose seconds are "
                             "reported (halves the run; tracing slows Python objects only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the markdown report here")
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)  # the child's size
    args = parser.parse_args()
    args.budget = None if args.no_budget else parse_bytes(args.budget)
    if args.size is not None:
        child(args)
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    measures = args.measures.split(",")
    budget = "none" if args.budget is None else f"{mib(args.budget)} MiB"
    lines = [f"Zoo grid: n={args.n} stimuli, d={args.d} features, measures {measures}, "
             f"executor {args.executor}, memory_budget {budget}; "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"load average {os.getloadavg()[0]:.1f} at the start"
             + ("; seconds from the traced call" if args.traced_only else ""),
             "",
             "| L | measure | pairs | seconds | traced s | traced CPU s | traced peak MiB | "
             "rows MiB | "
             "peak less rows MiB | budget MiB | states held MiB | prepared / spilled / "
             "read back | inputs MiB | peak RSS MiB |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | "
             "---: | ---: |"]
    found = []
    for L in sizes:
        command = [sys.executable, __file__, "--size", str(L), "--n", str(args.n),
                   "--d", str(args.d), "--measures", args.measures, "--executor",
                   args.executor, "--seed", str(args.seed)]
        command += ["--traced-only"] if args.traced_only else []
        command += ["--no-budget"] if args.budget is None else ["--budget", str(args.budget)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        record = json.loads(done.stdout.strip().splitlines()[-1])
        found.append(record)
        for name in measures:
            r = record["measures"][name]
            lines.append(f"| {L} | {name} | {r['pairs']} | {r['seconds']:.1f} | "
                         f"{r['traced_seconds']:.1f} | {r['cpu_seconds']:.1f} | "
                         f"{mib(r['traced_peak'])} | "
                         f"{mib(r['rows'])} | {mib(r['traced_peak'] - r['rows'])} | "
                         f"{budget.split()[0]} | {mib(r['states_peak'])} | {r['prepared']} / "
                         f"{r['spilled']} / {r['loaded']} | {mib(record['inputs'])} | "
                         f"{mib(record['peak_rss'])} |")
            print(lines[-1], flush=True)
    if len(sizes) >= 2:
        lines += ["", "| measure | time exponent | traced-peak exponent | "
                  "peak less rows exponent |", "| --- | ---: | ---: | ---: |"]
        for name in measures:
            rs = [r["measures"][name] for r in found]
            lines.append(
                f"| {name} | {slope(sizes, [r['seconds'] for r in rs]):.2f} | "
                f"{slope(sizes, [r['traced_peak'] for r in rs]):.2f} | "
                f"{slope(sizes, [max(1, r['traced_peak'] - r['rows']) for r in rs]):.2f} |")
    lines.append(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
