#!/usr/bin/env python
"""Bounded memory: linear CKA, CCA and Procrustes streamed from an ActivationStore.

Two float32 arrays of n stimuli x d features (default 1,000,000 x 1024, 4 GB
each on disk) are written chunk by chunk to an ActivationStore, then compared
by one streamed pass (:class:`repalign.CrossMoments`, the moments behind
``repalign.streaming_measure``) from which linear CKA (biased and unbiased),
CCA, Procrustes and NBS follow. Each phase runs in its own process, so the
peak resident memory it reports (``ru_maxrss``) is that phase's alone. The
target of issue 8 is a peak of at most 2 GB while streaming.

The data: a latent ``Z`` (n x 64, Gaussian); ``A = Z W_a / 8 + E_a`` and
``B = tanh(Z W_b / 8) + 0.5 E_b`` with Gaussian ``W`` (64 x d) and noise ``E``
(n x d), generated per chunk from a seeded generator (reproducible).

Correctness: the streamed values over the first ``--verify-n`` stimuli (read
from the store, as a slice) are compared with ``repalign.measure`` on the same
rows loaded in memory.

Usage::

    python benchmarks/memory.py --path /tmp/repalign-mem --n 100000 --keep   # a minute or two
    python benchmarks/memory.py --path /tmp/repalign-mem --keep --out memory.md  # full size
    python benchmarks/memory.py --path /tmp/repalign-mem                        # reuse, then delete

The store is written once: a store already at ``--path`` with arrays of the
asked shape is reused. It is deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LATENT = 64
ARRAYS = (("a", "layer"), ("b", "layer"))


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def limit_threads(threads):
    if threads is None:
        return None
    from threadpoolctl import threadpool_limits

    return threadpool_limits(threads)


# ---------------------------------------------------------------------- phase: write


def chunk_data(i, rows, d, seed):
    rng = np.random.default_rng([seed, i])
    W = np.random.default_rng([seed, 10**9]).standard_normal((2, LATENT, d)).astype(np.float32)
    Z = rng.standard_normal((rows, LATENT), dtype=np.float32)
    A = Z @ W[0] / 8 + rng.standard_normal((rows, d), dtype=np.float32)
    B = np.tanh(Z @ W[1] / 8) + 0.5 * rng.standard_normal((rows, d), dtype=np.float32)
    return A, B


def phase_write(args) -> dict:
    import repalign

    t0 = time.perf_counter()
    with repalign.ActivationStore(args.path, mode="a", fsync=False) as store:
        stored = set(store.list())
        if all(k in stored for k in ARRAYS):
            shapes = {tuple(store.read_lazy(*k).shape) for k in ARRAYS}
            if shapes == {(args.n, args.d)}:
                return {"written": False, "seconds": time.perf_counter() - t0,
                        "peak_rss": peak_rss_bytes()}
            for k in ARRAYS:
                store.delete(*k)
        chunk = max(1, 4 * 2**20 // (4 * args.d))  # the store's default: 4 MiB chunks
        writers = [store.writer(m, layer, args.n, args.d, chunk_size=chunk)
                   for m, layer in ARRAYS]
        done = set.intersection(*(w.done_chunks() for w in writers))
        for i in range(writers[0].n_chunks):
            if i in done:
                continue
            sl = writers[0].chunk_slice(i)
            A, B = chunk_data(i, sl.stop - sl.start, args.d, args.seed)
            writers[0].write_chunk(i, A)
            writers[1].write_chunk(i, B)
        for w in writers:
            w.finalize()
    return {"written": True, "seconds": time.perf_counter() - t0, "peak_rss": peak_rss_bytes(),
            "disk_bytes": sum(f.stat().st_size for f in Path(args.path).rglob("*")
                              if f.is_file())}


# ---------------------------------------------------------------------- phase: stream


VALUES = (("cka", {}), ("cka", {"estimator": "unbiased"}), ("cca", {}), ("procrustes", {}),
          ("nbs", {}))


def gemm_rate(rows, d) -> float:
    """GFLOP/s of the accumulation's own product: (rows x d)^T (rows x d), float64."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((rows, d)), rng.standard_normal((rows, d))
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        X.T @ Y
        best = min(best, time.perf_counter() - t)
    return 2 * rows * d * d / best / 1e9


def phase_stream(args) -> dict:
    import repalign
    from repalign.streaming import CrossMoments

    limiter = limit_threads(args.threads)
    store = repalign.ActivationStore(args.path)
    refs = [(store, m, layer) for m, layer in ARRAYS]
    rss_before = current_rss_bytes()
    t0 = time.perf_counter()
    moments = CrossMoments.from_arrays(*refs, chunk_size=args.chunk, row_norms=True)
    t_pass = time.perf_counter() - t0
    values, finish = {}, {}
    for name, params in VALUES:
        t = time.perf_counter()
        values[label(name, params)] = moments.measure(name, **params)
        finish[label(name, params)] = time.perf_counter() - t
    peak = peak_rss_bytes()
    n, d = args.n, args.d
    rows = args.chunk or max(1, 128 * 2**20 // (8 * 2 * d))
    result = {
        "pass_seconds": t_pass, "finish_seconds": finish, "values": values, "peak_rss": peak,
        "rss_after_imports": rss_before, "gemm_gflops": gemm_rate(min(rows, n), d),
        # X^T X and Y^T Y as SYRK (half a GEMM each) + X^T Y
        "pass_gflop": (n * d * d * 2 + 2 * n * d * d) / 1e9,
        "bytes_read": 2 * n * d * 4,
    }
    m = min(args.verify_n, n)
    if m >= 4:
        lazy = [store.read_lazy(*k)[:m] for k in ARRAYS]
        streamed = CrossMoments.from_arrays(*lazy, chunk_size=args.chunk, row_norms=True)
        X, Y = (np.asarray(a.compute(), dtype=np.float64) for a in lazy)
        result["verify_n"] = m
        result["verify"] = {
            label(name, p): (streamed.measure(name, **p), repalign.measure(name, X, Y, **p))
            for name, p in VALUES}
    if limiter is not None:
        limiter.unregister()
    return result


def label(name, params):
    return name + "".join(f" {k}={v}" for k, v in params.items())


# ---------------------------------------------------------------------- driver


def run_phase(phase, argv) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, *argv], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def gib(b):
    return f"{b / 2**30:.2f} GiB"


def report(args, write, stream) -> str:
    lines = [
        f"## Streamed linear measures: n = {args.n:,} x d = {args.d} float32 (x2 arrays)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end; "
        f"BLAS threads: {args.threads or 'all'}.",
        "",
        "| phase | seconds | peak RSS | notes |",
        "| --- | ---: | ---: | --- |",
    ]
    if write["written"]:
        lines.append(f"| write the store | {write['seconds']:.1f} | {gib(write['peak_rss'])} | "
                     f"{gib(write['disk_bytes'])} on disk (zstd), fsync off, content hashes "
                     f"included |")
    else:
        lines.append(f"| write the store | - | - | reused {args.path} |")
    s = stream
    read_rate = s["bytes_read"] / s["pass_seconds"] / 2**20
    rate = s["pass_gflop"] / s["pass_seconds"]
    lines.append(
        f"| one streamed pass (moments of both arrays, row norms included) | "
        f"{s['pass_seconds']:.1f} | **{gib(s['peak_rss'])}** | {read_rate:.0f} MiB/s read; "
        f"{s['pass_gflop']:.0f} GFLOP at {rate:.1f} GFLOP/s = {rate / s['gemm_gflops']:.2f} of "
        f"the {s['gemm_gflops']:.1f} GFLOP/s GEMM rate measured in the same process; "
        f"RSS after imports {gib(s['rss_after_imports'])} |")
    for key, value in s["values"].items():
        lines.append(f"| `{key}` from the moments | {s['finish_seconds'][key]:.2f} | | "
                     f"value {value:.6f} |")
    lines += ["", f"Target: peak RSS <= 2 GB while streaming: "
              f"**{'met' if s['peak_rss'] <= 2e9 else 'NOT met'}** ({gib(s['peak_rss'])})."]
    if "verify" in s:
        lines += ["", f"Check on the first {s['verify_n']:,} stimuli (streamed from the store "
                  f"vs `repalign.measure` in memory, float64):", "",
                  "| measure | streamed | in memory | abs. difference |",
                  "| --- | ---: | ---: | ---: |"]
        for key, (a, b) in s["verify"].items():
            lines.append(f"| `{key}` | {a:.12f} | {b:.12f} | {abs(a - b):.1e} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", required=True, help="store directory (created, or reused)")
    parser.add_argument("--n", type=int, default=1_000_000, help="stimuli (default 1,000,000)")
    parser.add_argument("--d", type=int, default=1024, help="features (default 1024)")
    parser.add_argument("--chunk", type=int, default=None,
                        help="stimuli per block read (default: about 128 MiB of float64)")
    parser.add_argument("--verify-n", type=int, default=20_000,
                        help="stimuli of the in-memory check (default 20,000; 0 skips it)")
    parser.add_argument("--threads", type=int, default=None, help="limit the BLAS threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the store at the end")
    parser.add_argument("--out", help="also write the markdown report to this file")
    parser.add_argument("--phase", choices=("write", "stream"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = phase_write(args) if args.phase == "write" else phase_stream(args)
        print(json.dumps(result))
        return
    argv = [a for a in sys.argv[1:] if a not in ("--keep",)]
    try:
        write = run_phase("write", argv)
        stream = run_phase("stream", argv)
    finally:
        if not args.keep:
            shutil.rmtree(args.path, ignore_errors=True)
    text = report(args, write, stream)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
