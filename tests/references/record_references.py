"""Record reference values of repalign's measures from independent peer libraries.

Not a test (pytest does not collect it) and not run by the test suite: it was run
once to write ``reference_values.json`` next to it, and is kept so that the values
can be regenerated and audited. It contains only *calls* into the peer libraries,
never their code. See ``README.md`` for the provenance of every value.

Requirements (a scratch environment, never repalign's own)::

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install numpy scipy scikit-learn rsatoolbox torch==2.13.0

and checkouts of three GitHub repositories (their directories go on ``sys.path``)::

    ahwillia/netrep        (netrep.metrics.LinearMetric)
    google/svcca           (cca_core.py, pwcca.py, numpy_pca.py)
    minyoungg/platonic-rep (metrics.py, AlignmentMetrics)

Usage::

    /tmp/refvenv/bin/python tests/references/record_references.py \\
        --netrep DIR --svcca DIR --platonic DIR [--make-inputs]

``--make-inputs`` (re)creates ``inputs.npz`` from the fixed seed first; without it
the stored inputs are used as they are.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from importlib.metadata import version
from pathlib import Path

import numpy as np
from scipy.spatial.distance import pdist

HERE = Path(__file__).resolve().parent
INPUTS = HERE / "inputs.npz"
OUTPUT = HERE / "reference_values.json"
SEED = 20261123


# ----------------------------------------------------------------------------- inputs
def make_inputs() -> dict:
    """The fixed inputs, generated once from ``numpy.random.default_rng(SEED)``."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((40, 6))
    W = rng.standard_normal((6, 9))
    Y = np.tanh(X @ W) + 0.5 * rng.standard_normal((40, 9))
    Weq = rng.standard_normal((6, 6))
    Yeq = np.tanh(X @ Weq) + 0.5 * rng.standard_normal((40, 6))
    Wide1 = rng.standard_normal((25, 40))
    Wide2 = 0.5 * Wide1 + rng.standard_normal((25, 40))
    labels = np.repeat(np.arange(4), 10)
    iu, ju = np.triu_indices(labels.size, k=1)  # scipy's condensed order
    Rcat = (labels[iu] != labels[ju]).astype(np.float64)
    # Copies of Y and Wide2 rescaled so that their median distance between distinct
    # stimuli equals that of X (resp. Wide1). platonic-rep's RBF CKA takes one
    # absolute sigma for both representations; with equal medians, one sigma is
    # repalign's sigma_frac * median for each of them (see README.md).
    Y_rbf = Y * (np.median(pdist(X)) / np.median(pdist(Y)))
    Wide2_rbf = Wide2 * (np.median(pdist(Wide1)) / np.median(pdist(Wide2)))
    return dict(X=X, Y=Y, Yeq=Yeq, Wide1=Wide1, Wide2=Wide2, Rcat=Rcat,
                labels=labels, Y_rbf=Y_rbf, Wide2_rbf=Wide2_rbf)


def git_commit(path: str) -> str:
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except Exception:  # an exported snapshot, not a work tree
        return "unknown"


def rec(library, ver, call, inputs, kind, name, params, value, **extra):
    repalign = {"kind": kind, "name": name, "params": params}
    repalign.update(extra)
    return {"library": library, "library_version_or_commit": ver, "peer_call": call,
            "inputs": list(inputs), "repalign": repalign, "value": float(value)}


# ----------------------------------------------------------------------------- rsatoolbox
RSA_COMPARATORS = {"spearman": "spearman", "corr": "pearson", "tau-a": "kendall_tau_a",
                   "rho-a": "rho_a", "cosine": "cosine"}
RSA_RDMS = {"correlation": "correlation", "euclidean": "sqeuclidean"}
RANK_BASED = ("spearman", "tau-a", "rho-a")


def record_rsatoolbox(data) -> list:
    import rsatoolbox

    ver = "rsatoolbox " + version("rsatoolbox")

    def rdm(name, method):
        return rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(data[name]), method=method)

    # rsatoolbox's RDM vectors are in scipy's condensed order (upper triangle, row by
    # row): check it on the data, so compare_rdms(Rcat, pdist(...)) compares like with like.
    for name in ("X", "Y"):
        v = rdm(name, "correlation").get_vectors()[0]
        assert np.allclose(v, pdist(data[name], "correlation"), rtol=0, atol=1e-12)
        v = rdm(name, "euclidean").get_vectors()[0]
        d = data[name].shape[1]
        assert np.allclose(v, pdist(data[name], "sqeuclidean") / d, rtol=0, atol=1e-12)

    out = []
    for other in ("Y", "Yeq"):
        for rsa_rdm, our_rdm in RSA_RDMS.items():
            a, b = rdm("X", rsa_rdm), rdm(other, rsa_rdm)
            for rsa_cmp, our_cmp in RSA_COMPARATORS.items():
                call = (f"rsatoolbox.rdm.compare(rsatoolbox.rdm.calc_rdm(rsatoolbox.data."
                        f"Dataset(X), method='{rsa_rdm}'), rsatoolbox.rdm.calc_rdm("
                        f"rsatoolbox.data.Dataset({other}), method='{rsa_rdm}'), "
                        f"method='{rsa_cmp}')[0, 0]")
                value = rsatoolbox.rdm.compare(a, b, method=rsa_cmp)[0, 0]
                out.append(rec("rsatoolbox", ver, call, ["X", other], "measure", "rsa",
                               {"rdm": our_rdm, "compare": our_cmp}, value))
                # Rank comparators are unchanged by the monotone map d -> sqrt(d):
                # the same value is repalign's rsa with the (unsquared) euclidean RDM.
                if rsa_rdm == "euclidean" and rsa_cmp in RANK_BASED:
                    out.append(rec("rsatoolbox", ver, call, ["X", other], "measure", "rsa",
                                   {"rdm": "euclidean", "compare": our_cmp}, value))

    # Precomputed RDMs with heavy ties: the 0/1 category model RDM against data RDMs.
    model = rsatoolbox.rdm.RDMs(data["Rcat"][None, :])
    for name, rsa_rdm, metric in (("X", "correlation", "correlation"),
                                  ("Y", "euclidean", "sqeuclidean")):
        b = rdm(name, rsa_rdm)
        for rsa_cmp, our_cmp in RSA_COMPARATORS.items():
            call = (f"rsatoolbox.rdm.compare(rsatoolbox.rdm.RDMs(Rcat[None, :]), "
                    f"rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset({name}), "
                    f"method='{rsa_rdm}'), method='{rsa_cmp}')[0, 0]")
            value = rsatoolbox.rdm.compare(model, b, method=rsa_cmp)[0, 0]
            out.append(rec("rsatoolbox", ver, call, ["Rcat", name], "compare_rdms",
                           "compare_rdms", {"method": our_cmp}, value,
                           pdist_metric=metric))
    return out


# ----------------------------------------------------------------------------- netrep
def record_netrep(data, path) -> list:
    from netrep.metrics import LinearMetric

    ver = "ahwillia/netrep@" + git_commit(path)

    def call_str(alpha, score, x, y):
        return (f"netrep.metrics.LinearMetric(alpha={alpha}, score_method='{score}', "
                f"center_columns=True, zero_pad=True).fit_score({x}, {y})")

    def value(alpha, score, x, y):
        metric = LinearMetric(alpha=alpha, score_method=score, center_columns=True,
                              zero_pad=True)
        return metric.fit_score(data[x], data[y])

    cases = []  # (alpha, score, x, y, [(name, params), ...])
    for alpha in (0, 0.5, 1):
        for score in ("angular", "euclidean"):
            cases.append((alpha, score, "X", "Yeq",
                          [("shape_metric", {"alpha": alpha, "distance": score})]))
        cases.append((alpha, "angular", "X", "Y",
                      [("shape_metric", {"alpha": alpha, "distance": "angular"})]))
    # alpha = 1 (no whitening): zero padding changes nothing, the Euclidean distance
    # of unequal widths is defined the same way.
    cases.append((1, "euclidean", "X", "Y",
                  [("shape_metric", {"alpha": 1, "distance": "euclidean"})]))
    cases.append((1, "angular", "Wide1", "Wide2",
                  [("shape_metric", {"alpha": 1, "distance": "angular"})]))
    cases.append((1, "euclidean", "Wide1", "Wide2",
                  [("shape_metric", {"alpha": 1, "distance": "euclidean"})]))
    cases.append((0.5, "angular", "Wide1", "Wide2",
                  [("shape_metric", {"alpha": 0.5, "distance": "angular"})]))
    out = []
    for alpha, score, x, y, targets in cases:
        v = value(alpha, score, x, y)
        if alpha == 1:  # the named aliases of the alpha = 1 metric
            targets = targets + [("procrustes" if score == "angular" else "bures", {})]
        for name, params in targets:
            out.append(rec("netrep", ver, call_str(alpha, score, x, y), [x, y], "measure",
                           name, params, v))
    return out


def netrep_disagreements(data, path) -> list:
    """Cases deliberately NOT recorded (definitions differ); printed for the README."""
    from netrep.metrics import LinearMetric

    rows = []
    for alpha in (0, 0.5):
        m = LinearMetric(alpha=alpha, score_method="euclidean", center_columns=True,
                         zero_pad=True)
        rows.append((f"LinearMetric(alpha={alpha}, score_method='euclidean', "
                     "zero_pad=True).fit_score(X, Y)", m.fit_score(data["X"], data["Y"])))
    return rows


# ----------------------------------------------------------------------------- google/svcca
def record_svcca(data, path) -> list:
    import cca_core
    import numpy_pca
    import pwcca

    ver = "google/svcca@" + git_commit(path)
    out = []
    for y in ("Yeq", "Y"):
        res = cca_core.get_cca_similarity(data["X"].T, data[y].T, epsilon=0, verbose=False)
        rho = np.asarray(res["cca_coef1"])
        base = f"cca_core.get_cca_similarity(X.T, {y}.T, epsilon=0, verbose=False)"
        out.append(rec("google/svcca", ver, f"np.mean({base}['cca_coef1'])", ["X", y],
                       "measure", "cca", {"statistic": "mean_r"}, np.mean(rho)))
        out.append(rec("google/svcca", ver, f"np.mean({base}['cca_coef1'] ** 2)", ["X", y],
                       "measure", "cca", {"statistic": "mean_r2"}, np.mean(rho ** 2)))

    # PWCCA on centred activations (compute_pwcca adds the neuron means back to its
    # directions; repalign's definition centres). X is never wider than Y.
    # compute_pwcca weights by directions coef_x @ (acts1 - means), with coef_x = u.T
    # of the whitened problem: the inverse square root invsqrt_xx is left out, so
    # they are not X's canonical variates (cca_dirns1 of get_cca_similarity). Its
    # values are recorded and expected to differ (xfail). The second record takes
    # the canonical variates that get_cca_similarity itself returns (cca_dirns1)
    # and the weights of Morcos et al. (2018): alpha_i = sum_j |<h_i, x_j>| with
    # h_i the unit-norm i-th variate (the variates are mutually orthogonal) and
    # x_j the j-th centred neuron.
    xfail = ("google/svcca's compute_pwcca omits invsqrt_xx from its directions "
             "(dirns = coef_x @ acts with coef_x = u.T of the whitened problem), so they "
             "are not the canonical variates; with the variates of get_cca_similarity "
             "(cca_dirns1) the weights give repalign's value (see the companion record)")
    for x, y in (("X", "Yeq"), ("X", "Y"), ("Yeq", "X")):
        if data[x].shape[1] > data[y].shape[1]:
            continue
        xc = data[x] - data[x].mean(axis=0)
        yc = data[y] - data[y].mean(axis=0)
        value = pwcca.compute_pwcca(xc.T, yc.T, epsilon=0)[0]
        call = (f"pwcca.compute_pwcca(({x} - {x}.mean(0)).T, ({y} - {y}.mean(0)).T, "
                "epsilon=0)[0]")
        r = rec("google/svcca", ver, call, [x, y], "measure", "pwcca", {}, value)
        r["xfail"] = xfail
        out.append(r)

        res = cca_core.get_cca_similarity(xc.T, yc.T, epsilon=0, compute_dirns=True,
                                          verbose=False)
        h = res["cca_dirns1"]                      # (k, n): X's canonical variates
        h = h / np.linalg.norm(h, axis=1, keepdims=True)
        alpha = np.abs(h @ xc).sum(axis=1)         # sum over X's neurons
        value = np.sum(alpha * res["cca_coef1"]) / np.sum(alpha)
        call = (f"r = cca_core.get_cca_similarity(({x} - {x}.mean(0)).T, "
                f"({y} - {y}.mean(0)).T, epsilon=0, compute_dirns=True, verbose=False); "
                "h = r['cca_dirns1'] / np.linalg.norm(r['cca_dirns1'], axis=1, "
                f"keepdims=True); a = np.abs(h @ ({x} - {x}.mean(0))).sum(1); "
                "np.sum(a * r['cca_coef1']) / np.sum(a)")
        out.append(rec("google/svcca", ver, call, [x, y], "measure", "pwcca", {}, value))

    # SVCCA: the repo's own PCA (numpy_pca.get_pca) keeps the leading k directions,
    # then the mean canonical correlation of the reduced activations.
    for y, k in (("Y", 4), ("Yeq", 3), ("Yeq", 5)):
        ax = numpy_pca.get_pca(data["X"].T, compute_dirns=True)["pca_dirns"][:k]
        ay = numpy_pca.get_pca(data[y].T, compute_dirns=True)["pca_dirns"][:k]
        res = cca_core.get_cca_similarity(ax, ay, epsilon=0, verbose=False)
        call = (f"np.mean(cca_core.get_cca_similarity(numpy_pca.get_pca(X.T, "
                f"compute_dirns=True)['pca_dirns'][:{k}], numpy_pca.get_pca({y}.T, "
                f"compute_dirns=True)['pca_dirns'][:{k}], epsilon=0, verbose=False)"
                "['cca_coef1'])")
        out.append(rec("google/svcca", ver, call, ["X", y], "measure", "svcca",
                       {"dims": k}, np.mean(res["cca_coef1"])))
    return out


# ----------------------------------------------------------------------------- platonic-rep
def import_platonic():
    # metrics.py imports torchaudio.functional at module level, only for
    # edit_distance_knn (not used here); an empty stand-in avoids installing it.
    if "torchaudio" not in sys.modules:
        ta = types.ModuleType("torchaudio")
        ta.functional = types.ModuleType("torchaudio.functional")
        sys.modules["torchaudio"] = ta
        sys.modules["torchaudio.functional"] = ta.functional
    import metrics
    return metrics


def record_platonic(data, path) -> list:
    import torch

    metrics = import_platonic()
    AM = metrics.AlignmentMetrics
    ver = (f"minyoungg/platonic-rep@{git_commit(path)} "
           f"(torch {version('torch')}, float64 tensors)")
    t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in data.items()
         if v.dtype == np.float64}
    out = []
    for x, y in (("X", "Y"), ("X", "Yeq"), ("Wide1", "Wide2")):
        out.append(rec("platonic-rep", ver,
                       f"AlignmentMetrics.cka(torch.from_numpy({x}), torch.from_numpy({y}), "
                       "kernel_metric='ip')", [x, y], "measure", "cka",
                       {"kernel": "linear", "estimator": "biased"},
                       AM.cka(t[x], t[y], kernel_metric="ip")))
        out.append(rec("platonic-rep", ver,
                       f"AlignmentMetrics.unbiased_cka(torch.from_numpy({x}), "
                       f"torch.from_numpy({y}), kernel_metric='ip')", [x, y], "measure",
                       "cka", {"kernel": "linear", "estimator": "unbiased"},
                       AM.unbiased_cka(t[x], t[y], kernel_metric="ip")))
    # RBF: one absolute sigma for both; the *_rbf inputs share X's (Wide1's) median
    # distance, so sigma = sigma_frac * median(pdist(X)) is repalign's sigma for each.
    # AlignmentMetrics.cka divides by sqrt(hsic_kk * hsic_ll) + 1e-6. For the biased
    # estimator (HSIC = tr(KHLH), not divided by (n-1)^2) that shifts the value by
    # < 1e-7 here; for the unbiased RBF HSIC (of order 1e-2 here) by up to 2.4e-4, so
    # the unbiased RBF values are the ratio of platonic-rep's own hsic_unbiased
    # without the 1e-6, on Grams built as metrics.py builds them.
    for x, y in (("X", "Y_rbf"), ("Wide1", "Wide2_rbf")):
        med_x, med_y = np.median(pdist(data[x])), np.median(pdist(data[y]))
        assert abs(med_x - med_y) <= 1e-12 * med_x
        for frac in (0.8, 0.4):
            sigma = frac * med_x
            value = AM.cka(t[x], t[y], kernel_metric="rbf", rbf_sigma=sigma)
            call = (f"AlignmentMetrics.cka(torch.from_numpy({x}), torch.from_numpy({y}), "
                    f"kernel_metric='rbf', rbf_sigma={frac} * "
                    f"np.median(scipy.spatial.distance.pdist({x})))  # = {sigma!r}")
            out.append(rec("platonic-rep", ver, call, [x, y], "measure", "cka",
                           {"kernel": "rbf", "sigma_frac": frac, "estimator": "biased"},
                           value))
            K, L = rbf_gram(t[x], sigma), rbf_gram(t[y], sigma)
            h = metrics.hsic_unbiased
            value = (h(K, L) / torch.sqrt(h(K, K) * h(L, L))).item()
            call = (f"K, L = (torch.exp(-torch.cdist(A, A) ** 2 / (2 * s ** 2)) for A in "
                    f"(torch.from_numpy({x}), torch.from_numpy({y}))) with s = {frac} * "
                    f"np.median(scipy.spatial.distance.pdist({x})) = {sigma!r}; "
                    "(metrics.hsic_unbiased(K, L) / torch.sqrt(metrics.hsic_unbiased(K, K) "
                    "* metrics.hsic_unbiased(L, L))).item()")
            out.append(rec("platonic-rep", ver, call, [x, y], "measure", "cka",
                           {"kernel": "rbf", "sigma_frac": frac, "estimator": "unbiased"},
                           value))
    # SVCCA: standardises each feature, keeps cca_dim components of a randomised SVD
    # (torch.svd_lowrank) and runs sklearn's iterative CCA. Only with cca_dim equal
    # to both widths is that repalign's definition (standardising and reducing then
    # change nothing; the range finder is exact); sklearn's CCA converges to
    # tol=1e-6 in the weights, so the value is within about 1e-7 of the exact one.
    torch.manual_seed(0)
    np.random.seed(0)
    value = AM.svcca(t["X"], t["Yeq"], cca_dim=6)
    call = ("torch.manual_seed(0); np.random.seed(0); "
            "AlignmentMetrics.svcca(torch.from_numpy(X), torch.from_numpy(Yeq), cca_dim=6)")
    for name, params in (("svcca", {"dims": 6}), ("cca", {"statistic": "mean_r"})):
        out.append(rec("platonic-rep", ver, call, ["X", "Yeq"], "measure", name, params,
                       value))
    return out


def rbf_gram(A, sigma):
    """The RBF Gram exactly as platonic-rep's AlignmentMetrics.cka forms it."""
    import torch

    return torch.exp(-torch.cdist(A, A) ** 2 / (2 * sigma ** 2))


def platonic_epsilon_bias(data) -> list:
    """|value with the +1e-6 in the denominator - value without| per recorded CKA case,
    from platonic-rep's own HSIC functions (for the README)."""
    import torch

    metrics = import_platonic()
    rows = []
    t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in data.items()
         if v.dtype == np.float64}
    grams = []
    for x, y in (("X", "Y"), ("X", "Yeq"), ("Wide1", "Wide2")):
        grams.append((f"linear ({x}, {y})", t[x] @ t[x].T, t[y] @ t[y].T))
    for x, y in (("X", "Y_rbf"), ("Wide1", "Wide2_rbf")):
        for frac in (0.8, 0.4):
            s = frac * np.median(pdist(data[x]))
            grams.append((f"rbf sigma_frac={frac} ({x}, {y})", rbf_gram(t[x], s),
                          rbf_gram(t[y], s)))
    for label, K, L in grams:
        for name, h in (("biased", metrics.hsic_biased), ("unbiased", metrics.hsic_unbiased)):
            kl, kk, ll = h(K, L).item(), h(K, K).item(), h(L, L).item()
            s = np.sqrt(kk * ll)
            rows.append((f"{name} {label}: with 1e-6 {kl / (s + 1e-6)!r}, "
                         f"without {kl / s!r}", abs(kl / s - kl / (s + 1e-6))))
    return rows


def platonic_svcca_probe(data) -> list:
    """platonic-rep's svcca where its convention differs from repalign's; printed only."""
    import torch

    metrics = import_platonic()
    torch.manual_seed(0)
    np.random.seed(0)
    t = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in data.items()
         if v.dtype == np.float64}
    rows = []
    for x, y, k in (("X", "Yeq", 3), ("X", "Y", 6), ("X", "Y", 4)):
        rows.append((f"svcca({x}, {y}, cca_dim={k})",
                     metrics.AlignmentMetrics.svcca(t[x], t[y], cca_dim=k)))
    return rows


# ----------------------------------------------------------------------------- main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--netrep", required=True, help="checkout of ahwillia/netrep")
    p.add_argument("--svcca", required=True, help="checkout of google/svcca")
    p.add_argument("--platonic", required=True, help="checkout of minyoungg/platonic-rep")
    p.add_argument("--make-inputs", action="store_true")
    args = p.parse_args(argv)
    for path in (args.netrep, args.svcca, args.platonic):
        sys.path.insert(0, path)

    if args.make_inputs:
        np.savez(INPUTS, **make_inputs())
    with np.load(INPUTS) as f:
        data = {k: f[k] for k in f.files}

    records = (record_rsatoolbox(data) + record_netrep(data, args.netrep)
               + record_svcca(data, args.svcca) + record_platonic(data, args.platonic))
    OUTPUT.write_text(json.dumps(records, indent=1) + "\n")
    print(f"wrote {len(records)} records to {OUTPUT}")
    print("\nnot recorded, for the README:")
    for label, v in netrep_disagreements(data, args.netrep):
        print(f"  netrep {label} = {v!r}")
    for label, v in platonic_epsilon_bias(data):
        print(f"  platonic-rep +1e-6 bias, {label}: {v:.3e}")
    for label, v in platonic_svcca_probe(data):
        print(f"  platonic-rep {label} = {v!r}")


if __name__ == "__main__":
    main()
