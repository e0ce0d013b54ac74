#!/usr/bin/env python
"""The main measures and a grid on a CUDA GPU, against the device's GEMM floor.

The inputs are torch tensors on the GPU, so repalign runs through the same code
path as on the CPU (the Python array API: ``array_api_compat`` gives torch's
namespace, and nothing is copied to the host until the final scalar). For
each case of ``benchmarks/measures.py`` that is asked for (default: linear
CKA, unbiased CKA, RSA, Procrustes, CCA) a full call ``measure(X, Y)`` is
timed (best of ``--repeats``, with ``torch.cuda.synchronize()`` around each),
and compared with its FLOP floor (the formulas of ``benchmarks/measures.py``)
at the GEMM rate of the device, measured in the same run with
``torch.matmul`` of two ``--gemm-size`` square matrices in the same dtype.
Then a grid of ``--grid-reps`` representations (CKA and RSA) is timed on the
device against the floor of its pairs.

Without torch or without a CUDA device the script says so and exits with
status 0 (nothing to measure). ``--device cpu`` runs the same code on the CPU
with torch tensors, to check the script itself on a machine without a GPU.

Usage::

    python benchmarks/gpu.py                               # n=5000, d=2048, float64
    python benchmarks/gpu.py --dtype float32 --out gpu.md
    python benchmarks/gpu.py --device cpu --n 500 --d 64 --grid-reps 8   # the path, on the CPU
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import measures as bench  # noqa: E402  (benchmarks/measures.py: the cases and floors)

DEFAULT_CASES = "cka,cka-unbiased,rsa,procrustes,cca"


def device_or_reason(name: str):
    """``(torch, device)`` or ``(None, why not)``."""
    try:
        import torch
    except ImportError:
        return None, "torch is not installed"
    if name == "cuda" and not torch.cuda.is_available():
        return None, f"no CUDA device (torch {torch.__version__})"
    return torch, torch.device(name)


def timed(torch, device, fn, repeats: int) -> float:
    """The best of ``repeats`` calls of ``fn``, synchronising the device around each."""
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def gemm_rate(torch, device, dtype, size: int, repeats: int) -> float:
    """Flops per second of ``A @ B`` for two ``size x size`` matrices on the device."""
    gen = torch.Generator(device=device).manual_seed(0)
    A = torch.randn(size, size, generator=gen, device=device, dtype=dtype)
    B = torch.randn(size, size, generator=gen, device=device, dtype=dtype)
    return bench.gemm(size, size, size) / timed(torch, device, lambda: A @ B, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="stimuli")
    parser.add_argument("--d", type=int, default=2048, help="features")
    parser.add_argument("--cases", default=DEFAULT_CASES,
                        help=f"case keys of benchmarks/measures.py (default {DEFAULT_CASES})")
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gemm-size", type=int, default=8192)
    parser.add_argument("--grid-reps", type=int, default=64,
                        help="representations of the grid (of --n stimuli, --d // 4 features)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--out", help="also write the markdown report here")
    args = parser.parse_args()

    torch, device = device_or_reason(args.device)
    if torch is None:
        print(f"benchmarks/gpu.py: skipped: {device}; nothing was measured")
        return
    import repalign

    dtype = getattr(torch, args.dtype)
    cases = {c.key: c for c in bench.CASES}
    unknown = [k for k in args.cases.split(",") if k not in cases]
    if unknown:
        parser.error(f"--cases: unknown {unknown}; expected some of {sorted(cases)}")
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU ({os.cpu_count()} cores)")
    rate = gemm_rate(torch, device, dtype, args.gemm_size, args.repeats)
    lines = [f"Device: {where}, torch {torch.__version__}, {args.dtype}; GEMM rate "
             f"{rate / 1e12:.2f} TFLOP/s ({args.gemm_size}^3, best of {args.repeats})", "",
             "| case | n | d | seconds | floor seconds | ratio | value | floor terms |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    print(lines[0], flush=True)

    data = bench.make_data(args.n, args.d)
    X, Y = (torch.as_tensor(A, dtype=dtype, device=device) for A in data)
    for key in args.cases.split(","):
        case = cases[key]
        measure = repalign.get(case.name, **case.params)
        value = measure(X, Y)
        seconds = timed(torch, device, lambda: measure(X, Y), args.repeats)
        terms = case.floor(n=args.n, dx=args.d, dy=args.d)
        floor = sum(terms.values()) / rate
        lines.append(f"| {case.label} | {args.n} | {args.d} | {seconds:.4f} | {floor:.4f} | "
                     f"{seconds / floor:.2f} | {float(value):.6f} | "
                     f"{', '.join(terms)} |")
        print(lines[-1], flush=True)

    gen = torch.Generator(device=device).manual_seed(1)
    width = max(1, args.d // 4)
    reps = {f"net/layer{i}": torch.randn(args.n, width, generator=gen, device=device,
                                         dtype=dtype) for i in range(args.grid_reps)}
    L = args.grid_reps
    pairs = L * (L + 1) // 2
    lines += ["", f"Grid of {L} representations ({args.n} x {width}) on the device, "
              f"{pairs} pairs per measure:", "",
              "| measure | seconds | floor seconds | ratio |", "| --- | ---: | ---: | ---: |"]
    floors = {"cka": L * bench.syrk(args.n, width) + pairs * bench.gemm(width, args.n, width),
              "rsa": L * bench.syrk(width, args.n)
              + pairs * 2.0 * args.n * (args.n - 1) / 2}
    for name, flops in floors.items():
        seconds = timed(torch, device, lambda: repalign.grid(reps, [name]), 1)
        lines.append(f"| {name} | {seconds:.3f} | {flops / rate:.4f} | "
                     f"{seconds / (flops / rate):.1f} |")
        print(lines[-1], flush=True)
    lines.append("\nGrid floors: cka L n w^2 (the normalisers) + pairs 2 n w^2 (X^T Y); "
                 "rsa L n^2 w (the distance Grams) + pairs n(n-1) (the RDM inner products).")
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
