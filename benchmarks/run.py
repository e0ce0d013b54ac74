#!/usr/bin/env python
"""Issue 8's speed benchmark: every measure against its FLOP floor at three sizes.

For each measure and each size (n stimuli, d features; float64 by default) it
prints the time of a full call ``measure(X, Y)``, of one ``prepare`` and one
``pair``, the FLOP floor of the best known algorithm for the full call, that
floor in seconds at the float64 GEMM rate measured in the same run at that
size, and ``ratio = full / floor``, beside the issue's target.

The floors, the cases, the data and the timing are those of
``benchmarks/measures.py`` (its ``floor_*`` functions carry the formulas and
``benchmarks/README.md`` explains them); this script drives them over the
issue's sizes and summarises the ratios. ``--grid`` appends the grid
benchmark (``benchmarks/grid.py``, run as a separate process).

Usage::

    python benchmarks/run.py                                  # the three sizes (slow)
    python benchmarks/run.py --sizes 1000x512 --threads 1     # one size, one BLAS thread
    python benchmarks/run.py --measures cka,rsa --out speed.md
    python benchmarks/run.py --dtype float32 --measures cka,rsa,procrustes
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import measures as bench  # noqa: E402  (benchmarks/measures.py, the floors and timing)

#: The issue's sizes (n stimuli, d features).
SIZES = ((1000, 512), (5000, 2048), (10000, 768))

#: The measures of issue 8, with their target ratio (full time / floor).
TARGETS = {
    "cka": 1.1, "cka-unbiased": 1.1, "cka-rbf": 1.5, "rsa": 2.0,
    "cca": 1.5, "svcca": 1.5, "pwcca": 1.5, "procrustes": 1.5,
    "mutual_knn": 1.5, "ridge": 2.0,
}


def parse_size(text):
    try:
        n, d = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a size is NxD (stimuli x features), e.g. 1000x512; got {text!r}") from None
    if n < 4 or d < 1:
        raise argparse.ArgumentTypeError(f"a size needs n >= 4 and d >= 1; got {text!r}")
    return n, d


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=parse_size, nargs="+", default=list(SIZES),
                   metavar="NxD", help="sizes to run (default: 1000x512 5000x2048 10000x768)")
    p.add_argument("--measures", default=None,
                   help="comma-separated case keys (default: " + ",".join(TARGETS)
                        + "); any of: " + ", ".join(c.key for c in bench.CASES))
    p.add_argument("--threads", type=int, default=None,
                   help="limit the BLAS threads (needs threadpoolctl); default: BLAS's own")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of the inputs; the floor is at the GEMM rate of that "
                        "precision (default float64)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed calls per quantity, the minimum is reported (default 3)")
    p.add_argument("--budget", type=float, default=20.0,
                   help="stop repeating a quantity after this many seconds (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", action="store_true",
                   help="also run benchmarks/grid.py (in a separate process) and append it")
    p.add_argument("--out", default=None, help="also write the markdown report to this file")
    args = p.parse_args(argv)
    known = {c.key for c in bench.CASES}
    keys = ([k.strip() for k in args.measures.split(",") if k.strip()]
            if args.measures else list(TARGETS))
    unknown = sorted(set(keys) - known)
    if unknown:
        p.error(f"--measures: unknown case(s) {unknown}; choose from {sorted(known)}")
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1; got {args.repeats}")
    args.keys = keys
    return args


def run_size(n, d, args):
    """Time the cases at one size; the floors use the GEMM rate measured at that size."""
    import numpy as np

    X, Y = bench.make_data(n, d, seed=args.seed)
    dtype = np.dtype(args.dtype)
    X, Y = X.astype(dtype), Y.astype(dtype)
    size = bench.gemm_size(n, d)
    rate_before = gemm_rate(size, dtype)
    cases = {c.key: c for c in bench.CASES}
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key in args.keys:
            print(f"  n={n} d={d}: timing {cases[key].label} ...", file=sys.stderr, flush=True)
            rows.append((key, bench.time_case(cases[key], X, Y, args.repeats, rate_before)))
    rate_after = gemm_rate(size, dtype)
    rate = max(rate_before, rate_after)
    for _, row in rows:
        row.rate = rate
    return rows, rate, (rate_before, rate_after), size


def gemm_rate(size, dtype):
    """GEMM rate (FLOP/s) of square ``A @ B`` in ``dtype``: best of five."""
    import numpy as np

    rng = np.random.default_rng(1)
    A = rng.standard_normal((size, size)).astype(dtype)
    B = rng.standard_normal((size, size)).astype(dtype)
    t, _ = bench.best_of(lambda: A @ B, 5)
    return bench.gemm(size, size, size) / t


def main(argv=None):
    args = parse_args(argv)
    bench.BUDGET_S = args.budget
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    sections, summary = [], {}
    with bench.blas_threads(args.threads):
        for n, d in args.sizes:
            rows, rate, (before, after), size = run_size(n, d, args)
            for key, row in rows:
                summary.setdefault(key, {})[(n, d)] = row
            lines = [f"### n={n}, d={d}", "",
                     f"GEMM rate ({args.dtype}, {size} x {size}) before / after: "
                     f"{before / 1e9:.1f} / {after / 1e9:.1f} GFLOP/s; the larger is used"
                     + (" (**changed by more than 20%: noisy**)"
                        if min(before, after) < 0.8 * rate else ""), "",
                     *bench.table([r for _, r in rows]), "",
                     *bench.details([r for _, r in rows])]
            sections.append("\n".join(lines))
            print("\n" + sections[-1], flush=True)
        machine = bench.machine_lines(rate, size, float("nan"), n, d)[:3]
    threads = args.threads if args.threads is not None else "BLAS default"
    head = [
        f"## Measures against their FLOP floor ({args.dtype}, BLAS threads: {threads})",
        "",
        *machine,
        f"- load average at start / end: {load_start:.2f} / {os.getloadavg()[0]:.2f} "
        f"(1 min; {os.cpu_count()} cores); wall time {time.perf_counter() - started:.0f} s",
        "",
        "`ratio` = full call / floor (the floor's dense linear algebra at the GEMM rate "
        "measured at that size); target = issue 8's.",
        "",
        "| measure | target | " + " | ".join(f"n={n}, d={d}" for n, d in args.sizes) + " |",
        "|---|---:|" + "---:|" * len(args.sizes),
    ]
    for key, by_size in summary.items():
        cells = []
        for size_key in args.sizes:
            row = by_size.get(tuple(size_key))
            cells.append("—" if row is None else f"{row.ratio:.2f} ({bench.fmt_s(row.full)} s)")
        target = TARGETS.get(key)
        label = next(r.label for r in by_size.values())
        head.append(f"| {label} | {'—' if target is None else f'<= {target:g}'} | "
                    + " | ".join(cells) + " |")
    text = "\n".join(head + [""] + sections)
    if args.grid:
        text += "\n\n" + run_grid()
    print("\n" + "\n".join(head))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
        print(f"\n(written to {args.out})")


def run_grid():
    """benchmarks/grid.py's markdown section, run as its own process."""
    grid = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grid.py")
    if not os.path.exists(grid):
        return "(benchmarks/grid.py is missing: no grid section)"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "grid.md")
        subprocess.run([sys.executable, grid, "--out", out], check=True)
        with open(out) as f:
            return f.read()


if __name__ == "__main__":
    main()
