#!/usr/bin/env python
"""The result store's share of a grid: the same grid with and without ``results=``.

For each size L: L representations (n stimuli x d features, two "models", noisy
views of one latent), ``repalign.grid(reps, ["cka", "rsa"])`` serially, every
pair including each with itself (L (L + 1) rows per grid), timed

- ``without``: no result store;
- ``with``: ``results=`` a new SQLite file (a fresh file for each call);
- ``resume``: the same call again on the full file (every row found, none computed).

After one untimed call, the calls alternate (without, with, resume)
``--repeats`` times and the best of each is reported, so the ratio
``with / without`` comes from one run on one machine. The time spent inside the store's calls (``ResultStore.put_many`` and
``ResultStore.rows``, timed by wrapping them) is reported beside it, as the
store's own share of the grid. The values with and without the store are
asserted equal.

Usage::

    python benchmarks/store.py --quick                  # L = 20, 40: seconds
    python benchmarks/store.py --out store.md           # L = 80 and 300 (minutes)
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/store.py   # another version
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import repalign
from repalign.store.results import ResultStore
from measures import blas_threads, cpu_model

MEASURES = ["cka", "rsa"]


def make_reps(L, n, d, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 16))
    return {f"{'ab'[k % 2]}/layer{k // 2}": np.tanh(Z @ rng.standard_normal((16, d)))
            + 0.3 * rng.standard_normal((n, d)) for k in range(L)}


class StoreClock:
    """Seconds spent inside the wrapped ResultStore methods since the last ``reset``."""

    METHODS = ("put_many", "rows")

    def __init__(self):
        self.seconds = 0.0
        for name in self.METHODS:
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


def timed(call, clock):
    clock.reset()
    start = time.perf_counter()
    out = call()
    return time.perf_counter() - start, clock.seconds, out


def values(result):
    return {(r["a"], r["b"], r["measure"]): r["value"] for r in result.rows}


def measure_size(L, n, d, repeats, clock, folder):
    reps = make_reps(L, n, d)
    repalign.grid(reps, MEASURES)  # untimed: the first call on new arrays is slower
    best = {"without": (np.inf, 0.0), "with": (np.inf, 0.0), "resume": (np.inf, 0.0)}
    for k in range(repeats):
        path = folder / f"results-{L}-{k}.db"
        runs = {
            "without": lambda: repalign.grid(reps, MEASURES),
            "with": lambda: repalign.grid(reps, MEASURES, results=path),
            "resume": lambda: repalign.grid(reps, MEASURES, results=path),
        }
        got = {}
        for name, call in runs.items():
            seconds, in_store, got[name] = timed(call, clock)
            if seconds < best[name][0]:
                best[name] = (seconds, in_store)
        reference = values(got["without"])
        for name in ("with", "resume"):
            assert values(got[name]).keys() == reference.keys()
            np.testing.assert_allclose(list(values(got[name]).values()),
                                       list(reference.values()), rtol=0, atol=1e-12)
        rows = len(got["with"].rows)
        size = path.stat().st_size + sum(p.stat().st_size for p in folder.glob(path.name + "-*"))
        path.unlink()
        for extra in folder.glob(path.name + "-*"):
            extra.unlink()
    return rows, size, best


def report(sizes, n, d, repeats, threads, clock):
    lines = [
        f"## Result store: grid of cka + rsa with and without `results=` (benchmarks/store.py)",
        "",
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical cores); load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the start; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, SQLite "
        f"{__import__('sqlite3').sqlite_version}, repalign {repalign.__version__} "
        f"({Path(repalign.__file__).parent})",
        f"- n={n} stimuli, d={d} features, serial grid, BLAS threads: "
        f"{threads if threads else 'default'}; best of {repeats} alternating calls each",
        "",
        "| representations | rows | without s | with s | with / without | in store s | "
        "store / without | resume s | file MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for L in sizes:
            rows, size, best = measure_size(L, n, d, repeats, clock, Path(folder))
            (t_without, _), (t_with, in_store), (t_resume, _) = (
                best["without"], best["with"], best["resume"])
            lines.append(
                f"| {L} | {rows} | {t_without:.3g} | {t_with:.3g} | "
                f"**{t_with / t_without:.3f}** | {in_store:.3g} | {in_store / t_without:.3f} | "
                f"{t_resume:.3g} | {size / 1e6:.1f} |")
            print(lines[-1], flush=True)
    lines += [
        "",
        "without = `repalign.grid(reps, ['cka', 'rsa'])`; with = the same with `results=` a new "
        "file; in store = seconds inside `ResultStore.put_many` and `ResultStore.rows` "
        "during the `with` call; resume = the call again on the full file (nothing "
        "computed); file MB = the database with its write-ahead log after the `with` call.",
        "",
    ]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, nargs="+", default=[80, 300],
                        help="grid sizes (representations)")
    parser.add_argument("--quick", action="store_true", help="sizes 20 and 40")
    parser.add_argument("--n", type=int, default=200, help="stimuli")
    parser.add_argument("--d", type=int, default=32, help="features")
    parser.add_argument("--repeats", type=int, default=2,
                        help="alternating calls of each kind (the minimum is reported)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit the BLAS threads (needs threadpoolctl)")
    parser.add_argument("--out", help="also write the markdown report to this file")
    args = parser.parse_args()
    warnings.simplefilter("ignore", repalign.DegenerateWarning)
    sizes = [20, 40] if args.quick else args.reps
    clock = StoreClock()
    with blas_threads(args.threads):
        repalign.grid(make_reps(4, args.n, args.d), MEASURES)  # imports and first calls
        lines = report(sizes, args.n, args.d, args.repeats, args.threads, clock)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
