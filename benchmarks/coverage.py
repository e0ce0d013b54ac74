#!/usr/bin/env python
"""Coverage of repalign's intervals: how often a 95% interval contains the population value.

For each cell (measure x generative model x number of stimuli n) the script
draws independent data sets from a model whose population values are known,
runs ``repalign.compare(X, Y, measure, n_permutations=0, interval=...)`` on
each and counts the data sets whose interval contains the population value
(the measure's limit with infinitely many stimuli). It reports

- the coverage of the default interval (``"jackknife"``: bias-corrected
  jackknife t-interval on the logit-type scale of the measure's bounds) and of
  ``"bootstrap"`` (percentile interval of ``--resamples`` resamples), each with
  its Monte-Carlo standard error ``sqrt(p (1 - p) / R)`` over ``R`` data sets;
- the mean interval width, the fractions of intervals entirely below / above
  the population value, and the mean estimate (its bias).

Generative models (d_x = 16, d_y = 12, a shared latent of k = 12 dimensions
with scales 0.8^i, i = 0..11, and fixed loadings ``W_x``, ``W_y`` drawn once
from seed 12345, whatever ``--seed``):

- ``gauss``: Z ~ N(0, diag(0.8^2i)), X = Z W_x + 0.5 E_x, Y = Z W_y + 0.5 E_y
  (E standard normal). Every covariance measure has its population value in
  closed form from S_xx = W_x^T D W_x + 0.25 I, S_yy likewise, S_xy = W_x^T D W_y.
- ``t-tanh``: Z = diag(0.8^i) T with T multivariate Student t (5 degrees of
  freedom, unit covariance: heavy tails), X = Z W_x + 0.5 E_x,
  Y = tanh(Z W_y) + 0.3 E_y (nonlinear). Its covariances are not known in
  closed form: they are estimated from ``--moment-samples`` draws, and the
  covariance measures evaluated on them (Monte-Carlo error from batches).

Population values:

- covariance measures (from S_xx, S_yy, S_xy): linear CKA (biased and unbiased
  estimators share it) ``||S_xy||_F^2 / (||S_xx||_F ||S_yy||_F)``; NBS
  ``||S_xy||_* / sqrt(tr S_xx tr S_yy)`` and Procrustes its arccos; CCA the mean
  of the singular values of ``S_xx^-1/2 S_xy S_yy^-1/2``; linear regression
  ``tr(S_yx S_xx^-1 S_xy) / tr S_yy``; ridge (Pearson score, penalties relative
  to the largest squared singular value, so that the chosen penalty vanishes
  as n grows) the mean over Y's units of ``sqrt(R_j^2)``,
  ``R_j^2 = (S_yx S_xx^-1 S_xy)_jj / (S_yy)_jj``;
- RSA (correlation RDMs, Spearman): the Spearman correlation between the
  correlation distances of independent *pairs* of stimuli in X and in Y (the
  limit of the rank correlation over all pairs of n stimuli), from
  ``--pair-samples`` independent pairs in batches (Monte-Carlo error from the
  batches).

Every population value is checked once against repalign on large samples (the
mean of 4 evaluations at n = 20000, RSA at n = 4000), printed side by side.

Each data set is evaluated by every measure (jackknife), and the first
``--boot-datasets`` of them also with the bootstrap. Work is split into chunks
of data sets run on ``--workers`` processes (one BLAS thread each); every
finished chunk is appended to a raw CSV (``--raw``), which a rerun with the
same settings resumes from, so a crash loses at most the chunks in flight.

Usage::

    python benchmarks/coverage.py --quick               # smoke test (~2 min)
    python benchmarks/coverage.py                       # full run (about an hour and a half)
    python benchmarks/coverage.py --md coverage.md      # also write the markdown section
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import datetime
import math
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import warnings

import numpy as np

#: (key, label, measure, parameters)
MEASURES = [
    ("cka_biased", "cka (linear, biased)", "cka", {}),
    ("cka_unbiased", "cka (linear, unbiased)", "cka", {"estimator": "unbiased"}),
    ("rsa", "rsa (correlation, spearman)", "rsa", {}),
    ("procrustes", "procrustes", "procrustes", {}),
    ("nbs", "nbs", "nbs", {}),
    ("cca", "cca (mean r)", "cca", {}),
    ("ridge", "ridge (5-fold, pearson)", "ridge", {}),
    ("linear_regression", "linear_regression", "linear_regression", {}),
]
LABELS = {key: label for key, label, _, _ in MEASURES}
#: The population value of these keys is a function of the covariances (see the docstring).
COVARIANCE_KEYS = ("cka_biased", "cka_unbiased", "procrustes", "nbs", "cca", "ridge",
                   "linear_regression")

MODELS = ("gauss", "t-tanh")
SIZES = (30, 60, 200)
K, DX, DY = 12, 16, 12
DECAY = 0.8
WEIGHT_SEED = 12345
T_DF = 5


# ----------------------------------------------------------------------------- models

def loadings():
    """The fixed loadings of the latent (scales included): ``(A, B)``, k x d_x and k x d_y."""
    rng = np.random.default_rng(WEIGHT_SEED)
    Wx = rng.standard_normal((K, DX)) / math.sqrt(K)
    Wy = rng.standard_normal((K, DY)) / math.sqrt(K)
    scale = DECAY ** np.arange(K) * math.sqrt(K)
    return scale[:, None] * Wx, scale[:, None] * Wy


A, B = loadings()


def generate(model: str, n: int, rng: np.random.Generator):
    """One data set ``(X, Y)`` of n stimuli from ``model``."""
    if model == "gauss":
        Z = rng.standard_normal((n, K))
        return (Z @ A + 0.5 * rng.standard_normal((n, DX)),
                Z @ B + 0.5 * rng.standard_normal((n, DY)))
    if model == "t-tanh":
        Z = rng.standard_normal((n, K)) / np.sqrt(rng.chisquare(T_DF, (n, 1)) / (T_DF - 2))
        return (Z @ A + 0.5 * rng.standard_normal((n, DX)),
                np.tanh(Z @ B) + 0.3 * rng.standard_normal((n, DY)))
    raise ValueError(model)


# ----------------------------------------------------------------------------- population values

def _inv_sqrt(S):
    w, V = np.linalg.eigh(S)
    return (V / np.sqrt(w)) @ V.T


def covariance_functionals(Sxx, Syy, Sxy) -> dict:
    """The population value of every covariance measure from the population covariances."""
    cka = np.sum(Sxy ** 2) / math.sqrt(np.sum(Sxx ** 2) * np.sum(Syy ** 2))
    nbs = np.linalg.svd(Sxy, compute_uv=False).sum() / math.sqrt(np.trace(Sxx) * np.trace(Syy))
    rho = np.linalg.svd(_inv_sqrt(Sxx) @ Sxy @ _inv_sqrt(Syy), compute_uv=False)
    explained = np.sum(Sxy * np.linalg.solve(Sxx, Sxy), axis=0)  # diag(S_yx S_xx^-1 S_xy)
    return {
        "cka_biased": cka, "cka_unbiased": cka, "nbs": nbs, "procrustes": math.acos(nbs),
        "cca": rho.mean(), "linear_regression": explained.sum() / np.trace(Syy),
        "ridge": np.mean(np.sqrt(explained / np.diag(Syy))),
    }


def _correlation_rows(X):
    Xc = X - X.mean(axis=1, keepdims=True)
    return Xc / np.linalg.norm(Xc, axis=1, keepdims=True)


def _ranks(v):
    r = np.empty(v.size)
    r[np.argsort(v, kind="stable")] = np.arange(v.size)
    return r  # continuous data: no ties


def rsa_pairs(model, m, rng):
    """Spearman r of the correlation distances of m independent pairs of stimuli."""
    X1, Y1 = generate(model, m, rng)
    X2, Y2 = generate(model, m, rng)
    dx = 1 - np.sum(_correlation_rows(X1) * _correlation_rows(X2), axis=1)
    dy = 1 - np.sum(_correlation_rows(Y1) * _correlation_rows(Y2), axis=1)
    return float(np.corrcoef(_ranks(dx), _ranks(dy))[0, 1])


def population(model: str, seed: int, moment_samples: int, pair_samples: int,
               batches: int) -> dict:
    """``{key: (value, Monte-Carlo s.e., how)}`` for every measure of ``model``."""
    rng = np.random.default_rng([seed, 7, MODELS.index(model)])
    out = {}
    if model == "gauss":
        Sxx = A.T @ A + 0.25 * np.eye(DX)
        Syy = B.T @ B + 0.25 * np.eye(DY)
        for key, v in covariance_functionals(Sxx, Syy, A.T @ B).items():
            out[key] = (float(v), 0.0, "closed form")
    else:
        per_batch = []
        S = np.zeros((DX + DY, DX + DY))
        size = moment_samples // batches
        for _ in range(batches):
            X, Y = generate(model, size, rng)
            C = np.cov(np.hstack([X, Y]).T)
            S += C / batches
            per_batch.append(covariance_functionals(C[:DX, :DX], C[DX:, DX:], C[:DX, DX:]))
        full = covariance_functionals(S[:DX, :DX], S[DX:, DX:], S[:DX, DX:])
        for key, v in full.items():
            spread = np.std([b[key] for b in per_batch], ddof=1)
            out[key] = (float(v), float(spread / math.sqrt(batches)),
                        f"covariances from {moment_samples:.0e} draws")
    values = [rsa_pairs(model, pair_samples // batches, rng) for _ in range(batches)]
    out["rsa"] = (float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(batches)),
                  f"{pair_samples:.0e} independent pairs")
    return out


def large_sample_check(model: str, seed: int, n_large: int, n_large_rsa: int,
                       repeats: int = 4) -> dict:
    """``{key: (mean, s.e.)}`` of ``repeats`` repalign evaluations at n_large stimuli."""
    import repalign

    rng = np.random.default_rng([seed, 8, MODELS.index(model)])
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, _, name, params in MEASURES:
            n = n_large_rsa if name == "rsa" else n_large
            v = [repalign.measure(name, *generate(model, n, rng), **params)
                 for _ in range(repeats)]
            out[key] = (float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(repeats)))
    return out


# ----------------------------------------------------------------------------- simulation

RAW_FIELDS = ["model", "n", "chunk", "rep", "measure", "interval", "value", "low", "high",
              "seconds"]


def _init_worker():
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    warnings.simplefilter("ignore")


def run_chunk(model, n, chunk, reps, boot_below, resamples, seed, keys):
    """Every measure's intervals on data sets ``reps`` of cell (model, n): raw rows."""
    import repalign

    rows = []
    warnings.simplefilter("ignore")
    for rep in reps:
        rng = np.random.default_rng([seed, MODELS.index(model), n, rep])
        X, Y = generate(model, n, rng)
        methods = ["jackknife"] + (["bootstrap"] if rep < boot_below else [])
        for key, _, name, params in MEASURES:
            if key not in keys:
                continue
            for method in methods:
                t0 = time.perf_counter()
                try:
                    r = repalign.compare(X, Y, name, n_permutations=0, interval=method,
                                         n_bootstrap=resamples, seed=rng, **params)
                    value, low, high = r.value, r.ci_low, r.ci_high
                except ValueError:
                    value = low = high = float("nan")
                rows.append(dict(model=model, n=n, chunk=chunk, rep=rep, measure=key,
                                 interval=method, value=value, low=low, high=high,
                                 seconds=time.perf_counter() - t0))
    return rows


def read_raw(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["n"], r["chunk"], r["rep"] = int(r["n"]), int(r["chunk"]), int(r["rep"])
        for k in ("value", "low", "high", "seconds"):
            r[k] = float(r[k])
    return rows


def append_raw(path, rows):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RAW_FIELDS)
        if new:
            w.writeheader()
        w.writerows(rows)
        f.flush()
        os.fsync(f.fileno())


# ----------------------------------------------------------------------------- summary

def summarise(rows, pop):
    """One record per (measure, model, n, interval)."""
    cells = {}
    for r in rows:
        cells.setdefault((r["measure"], r["model"], r["n"], r["interval"]), []).append(r)
    out = []
    for (key, model, n, method), rs in cells.items():
        truth, truth_se, _ = pop[model][key]
        low = np.array([r["low"] for r in rs])
        high = np.array([r["high"] for r in rs])
        value = np.array([r["value"] for r in rs])
        defined = np.isfinite(low) & np.isfinite(high)
        R = len(rs)
        hit = defined & (low <= truth) & (truth <= high)
        p = hit.mean()
        out.append(dict(
            measure=key, label=LABELS[key], model=model, n=n, interval=method, datasets=R,
            undefined=int((~defined).sum()), coverage=p, mc_se=math.sqrt(p * (1 - p) / R),
            miss_below=float((defined & (high < truth)).mean()),
            miss_above=float((defined & (low > truth)).mean()),
            mean_width=float(np.mean((high - low)[defined])) if defined.any() else math.nan,
            median_width=float(np.median((high - low)[defined])) if defined.any() else math.nan,
            mean_value=float(np.nanmean(value)), population=truth, population_mc_se=truth_se,
            seconds=float(np.mean([r["seconds"] for r in rs])),
        ))
    order = {key: i for i, (key, *_) in enumerate(MEASURES)}
    out.sort(key=lambda s: (order[s["measure"]], MODELS.index(s["model"]), s["n"],
                            s["interval"] != "jackknife"))
    return out


CSV_FIELDS = ["measure", "model", "n", "interval", "datasets", "undefined", "coverage", "mc_se",
              "miss_below", "miss_above", "mean_width", "median_width", "mean_value",
              "population", "population_mc_se", "seconds"]


def write_csv(path, summary):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for s in summary:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in s.items()})


def markdown(summary, pop, check, args, meta):
    by = {(s["measure"], s["model"], s["n"], s["interval"]): s for s in summary}
    R = max((s["datasets"] for s in summary if s["interval"] == "jackknife"), default=0)
    Rb = max((s["datasets"] for s in summary if s["interval"] == "bootstrap"), default=0)
    lines = [
        f"## Interval coverage ({args.ci:.0%} intervals; benchmarks/coverage.py)",
        "",
        f"Produced by `{meta['command']}` on {meta['date']}, {meta['elapsed']}.",
        "",
        f"- CPU: {meta['cpu']} ({os.cpu_count()} logical cores); {args.workers} worker "
        f"processes, one BLAS thread each",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, "
        f"repalign {meta['version']}",
        f"- {R} data sets per cell for the jackknife (the default interval), the first {Rb} "
        f"of them also with the bootstrap ({args.resamples} resamples); seed {args.seed}",
        "",
        "Coverage = fraction of data sets whose interval contains the population value "
        "(± its Monte-Carlo s.e. sqrt(p(1-p)/R)); `width` = mean interval width; "
        "`below` / `above` = fractions of intervals entirely below / above the population "
        "value; `bias` = mean estimate - population value.",
        "",
        "| measure | model | n | population | bias | jackknife coverage | width | below / above "
        "| bootstrap coverage | width |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label, *_ in MEASURES:
        for model in MODELS:
            for n in args.sizes:
                j = by.get((key, model, n, "jackknife"))
                if j is None:
                    continue
                b = by.get((key, model, n, "bootstrap"))
                mark = "**" if j["coverage"] < 0.93 else ""
                lines.append(
                    f"| {label} | {model} | {n} | {j['population']:.4f} | "
                    f"{j['mean_value'] - j['population']:+.4f} | "
                    f"{mark}{j['coverage']:.3f} ± {j['mc_se']:.3f}{mark} | "
                    f"{j['mean_width']:.3f} | {j['miss_below']:.3f} / {j['miss_above']:.3f} | "
                    + (f"{b['coverage']:.3f} ± {b['mc_se']:.3f} | {b['mean_width']:.3f} |"
                       if b else "— | — |"))
    lines += [
        "",
        "Bold: jackknife coverage below 0.93.",
        "",
        "Population values (see the script's docstring for the formulas) and the check "
        "against repalign on large samples (mean ± s.e. of 4 evaluations at "
        f"n = {args.n_large}, RSA at n = {args.n_large_rsa}):",
        "",
        "| measure | model | population | MC s.e. | obtained from | large-sample repalign |",
        "|---|---|---:|---:|---|---:|",
    ]
    for key, label, *_ in MEASURES:
        for model in MODELS:
            if key not in pop.get(model, {}):
                continue
            v, se, how = pop[model][key]
            c = check.get(model, {}).get(key)
            lines.append(f"| {label} | {model} | {v:.5f} | {se:.1e} | {how} | "
                         + (f"{c[0]:.5f} ± {c[1]:.5f} |" if c else "— |"))
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 8 data sets per cell (4 with the bootstrap, 100 "
                        "resamples), small Monte-Carlo samples for the population values")
    p.add_argument("--datasets", type=int, default=1000,
                   help="data sets per cell for the jackknife (default 1000)")
    p.add_argument("--boot-datasets", type=int, default=200,
                   help="of which also with the bootstrap (default 200)")
    p.add_argument("--resamples", type=int, default=500,
                   help="bootstrap resamples (default 500)")
    p.add_argument("--ci", type=float, default=0.95, help="level (default 0.95)")
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                   help="numbers of stimuli (default 30 60 200)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--measures", nargs="+", default=[m[0] for m in MEASURES],
                   choices=[m[0] for m in MEASURES])
    p.add_argument("--moment-samples", type=int, default=10_000_000,
                   help="draws for the covariances of t-tanh (default 1e7)")
    p.add_argument("--pair-samples", type=int, default=5_000_000,
                   help="independent pairs of stimuli for RSA's population value (default 5e6)")
    p.add_argument("--n-large", type=int, default=20000,
                   help="stimuli of the large-sample check (default 20000)")
    p.add_argument("--n-large-rsa", type=int, default=4000,
                   help="stimuli of RSA's large-sample check (default 4000)")
    p.add_argument("--chunk", type=int, default=25, help="data sets per task (default 25)")
    p.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None,
                   help="CSV of the table (default benchmarks/coverage.csv; with --quick, "
                        "a file in the temporary directory)")
    p.add_argument("--md", default=None, help="also write the markdown section to this file")
    p.add_argument("--raw", default=None,
                   help="raw per-data-set results, appended chunk by chunk and resumed from "
                        "(default: a file in the temporary directory named after the settings)")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.boot_datasets, args.resamples = 8, 4, 100
        args.moment_samples, args.pair_samples = 400_000, 200_000
        args.n_large, args.n_large_rsa, args.chunk = 4000, 1000, 4
    here = os.path.dirname(os.path.abspath(__file__))
    tag = (f"seed{args.seed}_R{args.datasets}_B{args.boot_datasets}x{args.resamples}"
           f"_ci{args.ci}")
    if args.out is None:
        args.out = (os.path.join(tempfile.gettempdir(), f"repalign_coverage_quick_{tag}.csv")
                    if args.quick else os.path.join(here, "coverage.csv"))
    if args.raw is None:
        args.raw = os.path.join(tempfile.gettempdir(), f"repalign_coverage_raw_{tag}.csv")
    return args


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None):
    args = parse_args(argv)
    import repalign

    start = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    done = read_raw(args.raw)
    done_chunks = {(r["model"], r["n"], r["chunk"]) for r in done}
    if done:
        print(f"resuming from {args.raw}: {len(done_chunks)} chunks done", flush=True)
    rows = list(done)
    with cf.ProcessPoolExecutor(args.workers, mp_context=ctx,
                                initializer=_init_worker) as pool:
        pop_jobs = {m: pool.submit(population, m, args.seed, args.moment_samples,
                                   args.pair_samples, 20 if not args.quick else 4)
                    for m in args.models}
        check_jobs = {m: pool.submit(large_sample_check, m, args.seed, args.n_large,
                                     args.n_large_rsa) for m in args.models}
        jobs = {}
        chunks = [range(s, min(s + args.chunk, args.datasets))
                  for s in range(0, args.datasets, args.chunk)]
        # The bootstrap chunks (the first ones) of every cell first, larger n first.
        for c, reps in enumerate(chunks):
            for n in sorted(args.sizes, reverse=True):
                for model in args.models:
                    if (model, n, c) in done_chunks:
                        continue
                    f = pool.submit(run_chunk, model, n, c, list(reps), args.boot_datasets,
                                    args.resamples, args.seed, tuple(args.measures))
                    jobs[f] = (model, n, c)
        pop = {m: f.result() for m, f in pop_jobs.items()}
        check = {m: f.result() for m, f in check_jobs.items()}
        print(f"population values ({time.perf_counter() - start:.0f} s), "
              "with the large-sample check:")
        for model in args.models:
            for key, label, *_ in MEASURES:
                v, se, how = pop[model][key]
                c, cse = check[model][key]
                print(f"  {model:7s} {label:28s} {v:.5f} (MC s.e. {se:.1e}, {how}); "
                      f"repalign large n {c:.5f} ± {cse:.5f}", flush=True)
        total = len(jobs)
        for i, f in enumerate(cf.as_completed(jobs), 1):
            new = f.result()
            append_raw(args.raw, new)
            rows += new
            model, n, c = jobs[f]
            print(f"  [{i}/{total}] {model} n={n} chunk {c} done "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    rows = [r for r in rows if r["model"] in args.models and r["n"] in args.sizes
            and r["measure"] in args.measures]
    summary = summarise(rows, pop)
    write_csv(args.out, summary)
    elapsed = time.perf_counter() - start
    cmd = "python benchmarks/coverage.py" + "".join(f" {a}" for a in sys.argv[1:])
    meta = dict(command=cmd, date=datetime.date.today().isoformat(), cpu=_cpu(),
                version=repalign.__version__,
                elapsed=f"{elapsed / 60:.0f} min wall-clock"
                        + (" (resumed)" if done else ""))
    report = markdown(summary, pop, check, args, meta)
    print(report)
    print(f"wrote {args.out} (raw results: {args.raw})")
    if args.md:
        with open(args.md, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
