#!/usr/bin/env python
"""The result store's share of a grid: the same grid with and without ``results=``.

For each size L: L representations (n stimuli x d features, two "models", noisy
views of one latent), ``repalign.grid(reps, ["cka", "rsa"])`` serially, every
pair including each with itself (L (L + 1) rows per grid), timed

- ``without``: no result store;
- ``with``: ``results=`` a new SQLite file (a fresh file for each call);
- ``resume``: the same call again on the full file (every row found, none computed).

Each timing is taken in a fresh process that runs the three calls once (after an
untimed warm-up grid of 4 representations); the processes are repeated
``--repeats`` rounds and, with ``--before SRC``, alternate between this checkout
and another version of repalign (``SRC`` is its ``src`` folder, e.g. from
``git archive``), so every configuration is interleaved with every other in one
run on one machine, and the medians are reported. Each call starts after a
``gc.collect()`` with no result of an earlier call alive (their rows would make
the later calls' garbage collections slower). Each call's wall time and its
process CPU time (all threads: the grid's, BLAS's and the store's writer) are
measured: on a shared machine the CPU ratio is the steadier figure of what the
store adds. "store s" is the time spent inside the store's methods
(``ResultStore.put_columns``, ``put_pairs``, ``put_many``, ``rows``, opening and closing), on
whichever thread runs them. The values with and without the store are asserted
equal.

Usage::

    python benchmarks/store.py --quick                  # L = 20, 40: seconds
    python benchmarks/store.py --out store.md           # L = 80 and 300 (minutes)
    git archive HEAD src | tar -x -C /tmp/before
    python benchmarks/store.py --before /tmp/before/src --repeats 5 --threads 1
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MEASURES = ["cka", "rsa"]
KINDS = ("without", "with", "resume")


def make_reps(L, n, d, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 16))
    return {f"{'ab'[k % 2]}/layer{k // 2}": np.tanh(Z @ rng.standard_normal((16, d)))
            + 0.3 * rng.standard_normal((n, d)) for k in range(L)}


class StoreClock:
    """Seconds spent inside the wrapped ResultStore methods since the last ``reset``."""

    METHODS = ("put_columns", "put_pairs", "put_many", "rows", "__init__", "close")

    def __init__(self, ResultStore):
        self.seconds = 0.0
        for name in self.METHODS:
            if hasattr(ResultStore, name):
                setattr(ResultStore, name, self._timed(getattr(ResultStore, name)))

    def _timed(self, method):
        def timed(store, *args, **kwargs):
            start = time.perf_counter()
            try:
                return method(store, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return timed

    def reset(self):
        self.seconds = 0.0


def child(L, n, d, threads):
    """One round in this process: without, with, resume; prints a JSON line."""
    import repalign
    from measures import blas_threads
    from repalign.store.results import ResultStore

    warnings.simplefilter("ignore", repalign.DegenerateWarning)
    clock = StoreClock(ResultStore)
    reps = make_reps(L, n, d)
    out = {"src": str(Path(repalign.__file__).parent), "version": repalign.__version__}
    with blas_threads(threads), tempfile.TemporaryDirectory() as folder:
        repalign.grid(make_reps(4, n, d), MEASURES)  # imports and first calls
        path = Path(folder) / "results.db"
        results = {}
        for kind in KINDS:
            store = None if kind == "without" else path
            clock.reset()
            gc.collect()  # each call starts from the same heap: no rows of an earlier call
            wall, cpu = time.perf_counter(), time.process_time()
            result = repalign.grid(reps, MEASURES, results=store)
            out[kind] = [time.perf_counter() - wall, time.process_time() - cpu, clock.seconds]
            if kind == "with":
                out["file_bytes"] = sum(p.stat().st_size for p in Path(folder).iterdir())
            out["rows"] = len(result.rows)
            results[kind] = summary(result)  # a str and an array: nothing for the GC to visit
            del result
        keys, reference = results["without"]
        for kind in ("with", "resume"):
            assert results[kind][0] == keys
            np.testing.assert_allclose(results[kind][1], reference, rtol=0, atol=1e-12)
    print(json.dumps(out), flush=True)


def summary(result):
    """The keys of a grid's rows as one str, and their values in the same order."""
    rows = sorted((r["a"], r["b"], r["measure"], r["value"]) for r in result.rows)
    return "\n".join(f"{a}|{b}|{m}" for a, b, m, _ in rows), np.array([v for *_, v in rows])


def run_child(src, L, n, d, threads):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(HERE)])}
    args = [sys.executable, str(Path(__file__).resolve()), "--child", str(L), "--n", str(n),
            "--d", str(d)]
    if threads:
        args += ["--threads", str(threads)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"child ({src}, L={L}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(sizes, n, d, repeats, threads, versions):
    lines = [
        "## Result store: grid of cka + rsa with and without `results=` (benchmarks/store.py)",
        "",
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical cores); load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the start; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, SQLite "
        f"{__import__('sqlite3').sqlite_version}",
        f"- n={n} stimuli, d={d} features, serial grid, BLAS threads: "
        f"{threads if threads else 'default'}; medians of {repeats} rounds, each round one "
        "fresh process per version running without, with and resume once; versions "
        "interleaved: " + ", ".join(f"{name} = `{src}`" for name, src in versions),
        "",
        "| version | representations | rows | without s | with s | **with / without** | "
        "without CPU s | with CPU s | **CPU with / without** | store s | resume s | file MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for L in sizes:
        got = {name: [] for name, _ in versions}
        for round_ in range(repeats):
            for name, src in versions:
                got[name].append(run_child(src, L, n, d, threads))
                print(f"L={L} round {round_} {name}: " + json.dumps(got[name][-1]),
                      flush=True)
        for name, _ in versions:
            runs = got[name]

            def med(kind, k, runs=runs):
                return statistics.median(r[kind][k] for r in runs)

            ratio = statistics.median(r["with"][0] / r["without"][0] for r in runs)
            cpu_ratio = statistics.median(r["with"][1] / r["without"][1] for r in runs)
            lines.append(
                f"| {name} | {L} | {runs[0]['rows']} | {med('without', 0):.3g} | "
                f"{med('with', 0):.3g} | **{ratio:.3f}** | {med('without', 1):.3g} | "
                f"{med('with', 1):.3g} | **{cpu_ratio:.3f}** | {med('with', 2):.3g} | "
                f"{med('resume', 0):.3g} | "
                f"{statistics.median(r['file_bytes'] for r in runs) / 1e6:.1f} |")
            print(lines[-1], flush=True)
    lines += [
        "",
        "without = `repalign.grid(reps, ['cka', 'rsa'])`; with = the same with `results=` a new "
        "file; ratios are medians of the per-round ratios; CPU = process CPU time (all "
        "threads); store s = seconds inside the store's methods during the `with` call, on "
        "any thread; resume = the call again on the full file (nothing computed); file MB = "
        "the database with its write-ahead log after the `with` call.",
        "",
    ]
    return lines


def cpu_model():
    sys.path.insert(0, str(HERE))
    from measures import cpu_model as model

    return model()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, nargs="+", default=[80, 300],
                        help="grid sizes (representations)")
    parser.add_argument("--quick", action="store_true", help="sizes 20 and 40")
    parser.add_argument("--n", type=int, default=200, help="stimuli")
    parser.add_argument("--d", type=int, default=32, help="features")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds (one process per version each; medians reported)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit the BLAS threads (needs threadpoolctl)")
    parser.add_argument("--src", default=str(HERE.parent / "src"),
                        help="the repalign source folder measured as 'after' (this checkout)")
    parser.add_argument("--before", help="another repalign source folder, measured as "
                                         "'before', interleaved with --src")
    parser.add_argument("--out", help="also write the markdown report to this file")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.n, args.d, args.threads)
        return
    sizes = [20, 40] if args.quick else args.reps
    versions = [("after", args.src)] + ([("before", args.before)] if args.before else [])
    lines = report(sizes, args.n, args.d, args.repeats, args.threads, versions)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
