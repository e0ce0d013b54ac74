#!/usr/bin/env python
"""The grid engine: blocks of pairs as matrix products, against a per-pair loop.

Two parts, both float64 NumPy:

1. ``cka20``: 20 representations (n=2000, d=512), all 190 distinct pairs of linear
   CKA through ``repalign.grid``, against its GEMM floor: the FLOPs of the best
   blocked algorithm divided by the float64 GEMM rate measured in the same run.
   A block of linear-CKA pairs is either one product of the stacked centred
   features, ``[X_1 ... X_L]^T [X_1 ... X_L]`` (``n D^2`` flops, D = L d, by
   SYRK), or, when D > n, each centred Gram ``X_c X_c^T`` formed once
   (``n^2 d`` by SYRK) and all their inner products as one product of the
   stacked vectorised Grams (``n^2 L^2``); the floor is the cheaper. A loop of
   ``repalign.measure`` over a sample of the pairs is timed beside it.
2. ``measures``: L representations of n stimuli (d from 256 to 1024, evenly
   spaced, two "models" of L/2 layers, noisy views of one latent) compared with
   cka, rsa and procrustes, every pair including each with itself:

   - ``loop``: ``repalign.measure(name, X, Y)`` for every pair, i.e. both
     representations prepared again for each pair (what peers do);
   - ``grid``: ``repalign.grid(reps, [name])`` serially, one call per measure
     (to report each measure's ratio): L preparations, then the pairings
     (batched for cka and rsa: one ``Measure.pair_block`` per tile);
   - ``dask``: the same with ``executor="dask"`` on a LocalCluster of 2
     in-process workers (1 thread each; skip with ``--no-dask``).

   The values are asserted equal (1e-12). ``--loop-sample K`` times the loop on
   K random pairs and scales to all pairs (its cost per pair does not depend on
   which pair; the output says so). A last table dissects one procrustes pair
   (its X^T Y GEMM against the singular values of the product), which bounds
   what any grid can gain on procrustes.

Usage::

    python benchmarks/grid.py --quick                     # small sizes: about a minute
    python benchmarks/grid.py --part cka20                # part 1 only
    python benchmarks/grid.py --loop-sample 40 --out grid.md   # the issue's sizes
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np

import repalign
from measures import blas_info, blas_threads, cpu_model, gemm, gemm_rate, syrk

MEASURES = ["cka", "rsa", "procrustes"]


def same(value, reference):
    """Equal to 1e-12; a distance near 0 (procrustes of X with itself) is the square
    root of a rounding error, so its square is compared."""
    return abs(value - reference) <= 1e-12 or abs(value ** 2 - reference ** 2) <= 1e-12


def make_reps(L, n, dims, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, 64))
    return {f"{'ab'[k % 2]}/layer{k // 2}": np.tanh(Z @ rng.standard_normal((64, d)) / 8)
            + 0.5 * rng.standard_normal((n, d)) for k, d in enumerate(dims)}


def best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def loop_time(reps, keys, values, sample, seed=1):
    """Seconds of a loop of ``repalign.measure`` over ``keys`` (a random sample of
    ``sample`` of them when > 0, scaled to all), checking each value."""
    picked = keys
    if 0 < sample < len(keys):
        pick = np.random.default_rng(seed).choice(len(keys), sample, replace=False)
        picked = [keys[k] for k in sorted(pick)]
    t = time.perf_counter()
    for a, b, name in picked:
        value = repalign.measure(name, reps[a], reps[b])
        assert same(value, values[a, b, name]), (a, b, name, value, values[a, b, name])
    return (time.perf_counter() - t) * len(keys) / len(picked), len(picked)


def header(rate, rate_size):
    return [
        f"- CPU: {cpu_model()} ({os.cpu_count()} logical cores); load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the start; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, repalign {repalign.__version__}",
        f"- BLAS: {blas_info()}",
        f"- float64 GEMM rate: **{rate / 1e9:.1f} GFLOP/s** (best square A @ B, {rate_size} x "
        f"{rate_size}, the larger of before and after the timings)",
    ]


def part_cka20(L, n, d, repeats, sample):
    reps = make_reps(L, n, [d] * L)
    names = list(reps)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    rate_size = 2048
    rate_before, _ = gemm_rate(rate_size, 3)
    t_grid, result = best_time(lambda: repalign.grid(reps, ["cka"], pairs=pairs), repeats)
    cka = repalign.get("cka")
    t_prepare, states = best_time(lambda: [cka.prepare(X) for X in reps.values()], repeats)
    t_block, _ = best_time(lambda: cka.pair_block(states, states), repeats)
    rate = max(rate_before, gemm_rate(rate_size, 3)[0])
    values = {(r["a"], r["b"], "cka"): r["value"] for r in result.rows}
    t_loop, sampled = loop_time(reps, list(values), values, sample)
    feature_flops = syrk(n, L * d)                   # [X_1..X_L]^T [X_1..X_L]
    gram_flops = L * syrk(d, n) + syrk(n * n, L)     # L Grams, then their L x L products
    floor_flops = min(feature_flops, gram_flops)
    floor = floor_flops / rate
    loop_note = ("all pairs" if sampled == len(values)
                 else f"{sampled} random pairs timed, scaled to {len(values)}")
    return [
        f"## Linear CKA grid: {L} representations, n={n}, d={d}, all {len(pairs)} pairs "
        "(benchmarks/grid.py, part cka20)",
        "",
        *header(rate, rate_size),
        "",
        "| quantity | seconds | x floor |",
        "|---|---:|---:|",
        f"| `repalign.grid(reps, ['cka'], pairs=<{len(pairs)} pairs>)`, serial, best of "
        f"{repeats} | **{t_grid:.3g}** | {t_grid / floor:.2f} |",
        f"| of which: {L} x `prepare` (centring; the norms come from the block's "
        f"diagonal) | {t_prepare:.3g} | |",
        f"| of which: one `pair_block` of the {L} states | {t_block:.3g} | "
        f"{t_block / floor:.2f} |",
        f"| GEMM floor: {floor_flops / 1e9:.1f} GFLOP / {rate / 1e9:.1f} GFLOP/s | "
        f"{floor:.3g} | 1 |",
        f"| loop of `repalign.measure` ({loop_note}) | {t_loop:.3g} | {t_loop / floor:.1f} |",
        "",
        f"Floor: the cheaper of the stacked-feature product ({feature_flops / 1e9:.0f} GFLOP, "
        f"SYRK of the n x {L * d} stack) and the Gram route ({gram_flops / 1e9:.1f} GFLOP: "
        f"{L} Grams X_c X_c^T by SYRK, n^2 d each, and the {L} x {L} product of the "
        "vectorised Grams); target <= 0.8 s on the development machine. Loop / grid: "
        f"**{t_loop / t_grid:.1f}x**.",
        "",
    ]


def procrustes_anatomy(reps, repeats):
    """One procrustes pair of median width: its GEMM, the singular values of the
    product by LAPACK's SVD, and the measure's own ``prepare`` and ``pair``, which
    bound what any grid can gain over the loop; and a tile's cross products as one
    stacked GEMM against one GEMM per pair."""
    arrays = list(reps.values())
    mid = sorted(arrays, key=lambda X: X.shape[1])[len(arrays) // 2]
    W = mid - mid.mean(0)
    n, d = W.shape
    t_gemm, C = best_time(lambda: W.T @ W[:, ::-1], repeats)
    t_svd, _ = best_time(lambda: np.linalg.svd(C, compute_uv=False), repeats)
    m = repalign.get("procrustes")
    t_prepare, a = best_time(lambda: m.prepare(mid), repeats)
    b = m.prepare(mid[:, ::-1] + 0.1)
    t_pair, _ = best_time(lambda: m.pair(a, b), repeats)
    tile = [X - X.mean(0) for X in arrays[:8]]
    t_pairs, _ = best_time(lambda: [A.T @ B for i, A in enumerate(tile) for B in tile[i:]],
                           repeats)
    F = np.concatenate(tile, axis=1)
    t_stacked, _ = best_time(lambda: F.T @ F, repeats)
    bound = (2 * t_prepare + t_pair) / t_pair
    return [
        f"Anatomy of one procrustes pair (n={n}, d_x = d_y = {d}): X_c^T Y_c "
        f"({gemm(d, n, d) / 1e9:.2f} GFLOP) {t_gemm * 1e3:.0f} ms; LAPACK's singular "
        f"values of the {d} x {d} product {t_svd * 1e3:.0f} ms; the measure's `pair` (the "
        f"product and its nuclear norm from the eigenvalues of its {d} x {d} Gram) "
        f"{t_pair * 1e3:.0f} ms and one `prepare` {t_prepare * 1e3:.0f} ms. For a tile of 8 "
        f"representations, the 36 cross products one GEMM at a time take "
        f"{t_pairs * 1e3:.0f} ms, and as one stacked SYRK [W_1..W_8]^T [W_1..W_8] "
        f"{t_stacked * 1e3:.0f} ms. With n > d every pair needs its own d_x x d_y cross "
        "product (n d_x d_y flops: no factorisation done once per representation shortens "
        "it) and a decomposition of it, while a prepare (centring) is O(n d): a grid can "
        "save at most the two prepares of the loop, so loop / grid <= (2 prepare + pair) "
        f"/ pair = **{bound:.2f}** for this pair.",
        "",
    ]


def part_measures(L, n, sample, dask, repeats, measures=tuple(MEASURES)):
    reps = make_reps(L, n, np.linspace(256, 1024, L).astype(int))
    rate_size = 2048
    rate_before, _ = gemm_rate(rate_size, 3)
    t_grid, t_pairing, t_loop, t_dask, values = {}, {}, {}, {}, {}
    for name in measures:  # one grid per measure, to report each measure's ratio
        t = time.perf_counter()
        result = repalign.grid(reps, [name])
        t_grid[name] = time.perf_counter() - t
        t_pairing[name] = sum(r["seconds"] for r in result.rows)
        values.update({(r["a"], r["b"], name): r["value"] for r in result.rows})
    rate = max(rate_before, gemm_rate(rate_size, 3)[0])
    keys = list(values)
    sampled = {}
    for name in measures:
        mine = [key for key in keys if key[2] == name]
        t_loop[name], sampled[name] = loop_time(reps, mine, values,
                                                round(sample * len(mine) / len(keys)))
    if dask:
        for name in measures:
            t = time.perf_counter()
            result = repalign.grid(reps, [name], executor="dask")
            t_dask[name] = time.perf_counter() - t
            for r in result.rows:
                assert same(r["value"], values[r["a"], r["b"], name]), r
    for times in (t_grid, t_pairing, t_loop, t_dask):
        if len(times) > 1:
            times[f"all {len(times)}"] = sum(times.values())
    timed = sum(sampled.values())
    loop_note = ("all pairs" if timed == len(values) else
                 f"{timed} random pairs timed ({', '.join(f'{sampled[m]} {m}' for m in measures)}"
                 f"), each measure's time scaled to its {len(values) // len(measures)} pairs")
    dask_head = " dask s (2 workers) | grid / dask |" if dask else ""
    dask_rule = "---:|---:|" if dask else ""

    def dask_cells(name):
        return f" {t_dask[name]:.3g} | {t_grid[name] / t_dask[name]:.2f} |" if dask else ""

    return [
        f"## Grid engine: {L} representations, n={n}, d 256..1024, {', '.join(measures)} "
        "(benchmarks/grid.py, part measures)",
        "",
        *header(rate, rate_size),
        f"- {len(values)} pair values ({L * (L + 1) // 2} unordered pairs x {len(measures)} "
        f"measures); grid{', dask' if dask else ''} and loop agree to 1e-12",
        "",
        "| measure | loop s | grid s (serial) | of which pairing s | loop / grid |"
        + dask_head,
        "|---|---:|---:|---:|---:|" + dask_rule,
        *(f"| {name} | {t_loop[name]:.3g} | {t_grid[name]:.3g} | {t_pairing[name]:.3g} | "
          f"**{t_loop[name] / t_grid[name]:.1f}** |" + dask_cells(name) for name in t_grid),
        "",
        f"loop = `repalign.measure` for each pair ({loop_note}); grid = `repalign.grid`, one "
        "call per measure (cka and rsa pair each tile of up to 48 x 48 representations as "
        "one `pair_block`: matrix products of the stacked states); pairing = the rows' "
        "`seconds` summed (the rest is preparation)"
        + ("; dask = the same on a LocalCluster of 2 in-process workers." if dask else "."),
        "",
        *(procrustes_anatomy(reps, repeats) if "procrustes" in measures else []),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["all", "cka20", "measures"], default="all")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: part cka20 with n=500, d=128; part measures with "
                             "L=10, n=500")
    parser.add_argument("--reps", type=int, default=40, help="part measures: representations")
    parser.add_argument("--n", type=int, default=3000, help="part measures: stimuli")
    parser.add_argument("--loop-sample", type=int, default=0,
                        help="time the loops on this many random pairs and scale (0: all)")
    parser.add_argument("--measures", default=",".join(MEASURES),
                        help="part measures: comma-separated subset of " + ", ".join(MEASURES))
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask runs")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed calls of part cka20 (the minimum is reported)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit the BLAS threads (needs threadpoolctl)")
    parser.add_argument("--out", help="also write the markdown report to this file")
    args = parser.parse_args()
    # biased CKA with d >= n warns for every pair; the benchmark times, it does not interpret
    warnings.simplefilter("ignore", repalign.DegenerateWarning)
    lines = []
    with blas_threads(args.threads):
        if args.part in ("all", "cka20"):
            L, n, d = (20, 500, 128) if args.quick else (20, 2000, 512)
            lines += part_cka20(L, n, d, args.repeats, args.loop_sample or 40)
        if args.part in ("all", "measures"):
            L, n = (10, 500) if args.quick else (args.reps, args.n)
            lines += part_measures(L, n, args.loop_sample, not args.no_dask, args.repeats,
                                   tuple(args.measures.split(",")))
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
