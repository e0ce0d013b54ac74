"""Resampling of prepared states: ``Measure.permute`` and ``Measure.pair_resampled``.

``permute`` must equal a new preparation of the permuted representation, for
every measure that implements it, on every array library; ``pair_resampled`` of
the RDM measures must equal rsatoolbox's bootstrap (values recorded once) and a
brute-force computation from the full square RDMs.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, spearmanr

import repalign
from repalign._validation import rescaled

from ..conftest import correlated_pair, to_backend
from ..measures.test_common import CONFIGS, _id

#: Measures whose preparation depends on the order of the stimuli (cross-validation
#: folds): they have no index-only permutation.
NOT_PERMUTABLE = {"ridge", "pls"}
PERMUTABLE = [c for c in CONFIGS if c[0] not in NOT_PERMUTABLE]


@pytest.mark.filterwarnings("ignore::repalign.DegenerateWarning")
@pytest.mark.parametrize("config", PERMUTABLE, ids=[_id(c) for c in PERMUTABLE])
def test_permute_equals_preparing_the_permuted_representation(config, backend):
    m = repalign.get(config[0], **config[1])
    X, Y = correlated_pair()  # continuous values: no ties among neighbours
    perm = np.random.default_rng(5).permutation(X.shape[0])
    Xb, Yb = to_backend(X, backend), to_backend(Y, backend)
    tol = 1e-10 if backend[1] == "float64" else 1e-5
    # Permuting Y (the side a permutation test shuffles) and, for asymmetric
    # measures, X.
    got = m.pair(m.prepare(Xb), m.permute(m.prepare(Yb), perm))
    assert got == pytest.approx(m(Xb, to_backend(Y[perm], backend)), rel=tol, abs=tol)
    got = m.pair(m.permute(m.prepare(Xb), perm), m.prepare(Yb))
    assert got == pytest.approx(m(to_backend(X[perm], backend), Yb), rel=tol, abs=tol)


def test_permute_keeps_the_state_metadata():
    m = repalign.get("cka")
    X, _ = correlated_pair()
    state = m.prepare(X)
    permuted = m.permute(state, np.arange(X.shape[0])[::-1])
    assert (permuted.measure, permuted.params, permuted.n_stimuli, permuted.n_features) == (
        state.measure, state.params, state.n_stimuli, state.n_features)
    assert permuted.data["norm"] == state.data["norm"]
    # The original state is left as it was (frozen, and its data is not modified).
    np.testing.assert_array_equal(state.data["features"], m.prepare(X).data["features"])


def test_deferred_cka_norm_is_computed_once_for_all_permutations(monkeypatch):
    """Biased linear CKA computes ``||X_c^T X_c||_F`` at first use; permuting the
    state computes it on the original once, and every permuted copy carries it."""
    from repalign.measures.cka import CKA

    m = repalign.get("cka")
    X, _ = correlated_pair()
    state = m.prepare(X)
    assert "norm" not in state.data
    calls = []
    original = CKA._inner
    monkeypatch.setattr(CKA, "_inner", lambda self, *a: calls.append(1) or original(self, *a))
    rng = np.random.default_rng(0)
    copies = [m.permute(state, rng.permutation(X.shape[0])) for _ in range(5)]
    assert len(calls) == 1
    Xc = rescaled(X, np) - rescaled(X, np).mean(0)  # the state's (power-of-two) scale
    for copy in copies:
        assert copy.data["norm"] == pytest.approx(np.linalg.norm(Xc.T @ Xc), rel=1e-13)


@pytest.mark.parametrize("name", sorted(NOT_PERMUTABLE))
def test_order_dependent_preparations_permute_by_preparing_again(name):
    m = repalign.get(name)
    assert not m.capabilities.permutation
    X, Y = correlated_pair()
    perm = np.random.default_rng(4).permutation(X.shape[0])
    with pytest.raises(ValueError, match=r"depends on the order of the stimuli\); pass the "
                                         "representation X behind the state"):
        m.permute(m.prepare(X), perm)
    with pytest.raises(ValueError, match=r"X has shape \(40, 4\) but its state was prepared "
                                         r"from \(40, 5\)"):
        m.permute(m.prepare(X), perm, X[:, :4])
    permuted = m.permute(m.prepare(Y), perm, Y)
    assert m.pair(m.prepare(X), permuted) == m.pair(m.prepare(X), m.prepare(Y[perm]))


@pytest.mark.parametrize("perm, error, match", [
    (np.r_[0, np.arange(39)], ValueError, "must be a permutation of 0..39"),
    (np.arange(39), ValueError, "must be a permutation of 0..39"),
    (np.arange(40) + 1, ValueError, r"indices in \[0, 40\); got values from 1 to 40"),
    (np.arange(40.0), TypeError, "perm must hold integers"),
    (np.arange(40).reshape(4, 10), ValueError, "1-D array of stimulus indices"),
    (np.array([], dtype=int), ValueError, "got no index"),
])
def test_permute_rejects_bad_permutations(perm, error, match):
    m = repalign.get("cka")
    X, _ = correlated_pair()
    with pytest.raises(error, match=match):
        m.permute(m.prepare(X), perm)


def test_permute_rejects_foreign_states():
    X, _ = correlated_pair()
    with pytest.raises(ValueError, match=r"cka.permute: state was prepared by rsa"):
        repalign.get("cka").permute(repalign.get("rsa").prepare(X), np.arange(40))
    with pytest.raises(TypeError, match="cka.permute: state must be a Prepared"):
        repalign.get("cka").permute(X, np.arange(40))


# ----------------------------------------------------------------------------------
# pair_resampled: the bootstrap of RDM measures

#: A bootstrap sample of the 40 stimuli of tests/references/inputs.npz (28 distinct).
IDX = np.array([33, 25, 20, 12, 12, 2, 7, 35, 3, 37, 26, 30, 33, 38, 15, 34, 14, 26, 15, 18,
                19, 13, 16, 16, 36, 33, 39, 36, 1, 27, 33, 35, 6, 3, 5, 20, 21, 4, 37, 31])

#: rsatoolbox 0.3.2, recorded once in a scratch environment (numpy 2.4.6) with
#:   rx = calc_rdm(Dataset(X, obs_descriptors={"index": np.arange(40)}), method=M)
#:   (likewise ry from Y), then
#:   compare(rx.subsample_pattern("index", IDX), ry.subsample_pattern("index", IDX),
#:           method=C)[0, 0]
#: with M in {"correlation", "euclidean"} and C in {"spearman", "corr", "tau-a",
#: "rho-a", "cosine"}; subsample_pattern sets the dissimilarity of a stimulus and
#: its copy to NaN and compare leaves those entries out. rsatoolbox's "euclidean"
#: is our "sqeuclidean" divided by the number of features (no comparator sees
#: the factor).
RSATOOLBOX_BOOTSTRAP = {
    ("correlation", "spearman"): 0.6717214949427727,
    ("correlation", "pearson"): 0.6805519570247692,
    ("correlation", "kendall_tau_a"): 0.48047086199226635,
    ("correlation", "rho_a"): 0.671708369485068,
    ("correlation", "cosine"): 0.9484327920265432,
    ("sqeuclidean", "spearman"): 0.38439213278923606,
    ("sqeuclidean", "pearson"): 0.362388790744397,
    ("sqeuclidean", "kendall_tau_a"): 0.2612394346918523,
    ("sqeuclidean", "rho_a"): 0.38438462175569177,
    ("sqeuclidean", "cosine"): 0.8667313464347898,
}


@pytest.fixture(scope="module")
def reference_inputs():
    from pathlib import Path

    data = np.load(Path(__file__).parents[1] / "references" / "inputs.npz")
    return data["X"], data["Y"]


@pytest.mark.parametrize("rdm, method", sorted(RSATOOLBOX_BOOTSTRAP))
def test_rsa_bootstrap_value_matches_rsatoolbox(reference_inputs, rdm, method):
    X, Y = reference_inputs
    m = repalign.get("rsa", rdm=rdm, compare=method)
    got = m.pair_resampled(m.prepare(X), m.prepare(Y), IDX)
    assert got == pytest.approx(RSATOOLBOX_BOOTSTRAP[rdm, method], abs=1e-12)


def _resampled_pairs(D, idx):
    """Brute force: the square RDM at the resample, pairs s < t of distinct stimuli."""
    S = D[np.ix_(idx, idx)]
    s, t = np.triu_indices(idx.shape[0], k=1)
    keep = idx[s] != idx[t]
    return S[s[keep], t[keep]]


def test_rsa_bootstrap_value_matches_brute_force(backend):
    X, Y = correlated_pair(n=30)
    idx = np.random.default_rng(2).integers(0, 30, 30)
    dx = _resampled_pairs(squareform(pdist(X, "correlation")), idx)
    dy = _resampled_pairs(squareform(pdist(Y, "correlation")), idx)
    tol = 1e-10 if backend[1] == "float64" else 1e-5
    for method, reference in (("spearman", spearmanr), ("pearson", pearsonr)):
        m = repalign.get("rsa", compare=method)
        a, b = m.prepare(to_backend(X, backend)), m.prepare(to_backend(Y, backend))
        assert m.pair_resampled(a, b, idx) == pytest.approx(reference(dx, dy)[0], abs=tol)


def test_rsm_norm_difference_bootstrap_value_matches_brute_force(backend):
    X, Y = correlated_pair(n=30)
    idx = np.random.default_rng(3).integers(0, 30, 30)
    m = repalign.get("rsm_norm_difference")
    diff = _resampled_pairs(squareform(pdist(X)) - squareform(pdist(Y)), idx)
    expected = np.sqrt(2 * np.sum(diff**2))
    a, b = m.prepare(to_backend(X, backend)), m.prepare(to_backend(Y, backend))
    tol = 1e-8 if backend[1] == "float64" else 1e-2
    assert m.pair_resampled(a, b, idx) == pytest.approx(expected, abs=tol)


def test_resampling_both_by_a_permutation_leaves_rsa_unchanged():
    X, Y = correlated_pair()
    m = repalign.get("rsa")
    perm = np.random.default_rng(0).permutation(40)
    assert m.pair_resampled(m.prepare(X), m.prepare(Y), perm) == pytest.approx(m(X, Y),
                                                                               abs=1e-12)


def test_pair_resampled_errors():
    X, Y = correlated_pair()
    rsa, cka = repalign.get("rsa"), repalign.get("cka")
    a, b = rsa.prepare(X), rsa.prepare(Y)
    with pytest.raises(ValueError, match=r"prepares X\[idx\] and Y\[idx\]; pass the "
                                         "representation X behind the state"):
        cka.pair_resampled(cka.prepare(X), cka.prepare(Y), IDX)
    assert cka.pair_resampled(cka.prepare(X), cka.prepare(Y), IDX, X, Y) == cka(X[IDX], Y[IDX])
    with pytest.raises(ValueError, match="single distinct stimulus"):
        rsa.pair_resampled(a, b, np.full(40, 7))
    with pytest.raises(ValueError, match=r"idx must hold indices in \[0, 40\)"):
        rsa.pair_resampled(a, b, np.r_[IDX[:-1], 40])
    with pytest.raises(ValueError, match="rsa.pair_resampled: a has 40 stimuli but b has 30"):
        rsa.pair_resampled(a, rsa.prepare(Y[:30]), IDX)
