"""Noise ceilings and split-half reliability: rsatoolbox's values, closed forms, SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import squareform

import repalign

from ..conftest import to_backend, tolerance

#: rsatoolbox 0.3.2, ``rsatoolbox.inference.boot_noise_ceiling(rsatoolbox.rdm.RDMs(x),
#: method=M, rdm_descriptor="index")`` with x the float64 RDM stack named below and M
#: the rsatoolbox name of the comparator ("corr" for pearson, "tau-a", "rho-a").
#: 4 subjects: ``kriegeskorte92().human_it.mean(axis=1)`` (each subject's two sessions
#: averaged); 8 subject-sessions: ``human_it.reshape(8, 92, 92)``; 16 behavioural:
#: ``kriegeskorte92().behavior``; tied: the integer RDMs of ``_tied_rdms``.
RSATOOLBOX = {
    ("subjects", "spearman"): (0.3723132509024721, 0.6657209044705086),
    ("subjects", "pearson"): (0.3944099370598255, 0.680413226427456),
    ("subjects", "kendall_tau_a"): (0.25394387961007875, 0.4766544166964924),
    ("subjects", "rho_a"): (0.37231323488728446, 0.6657208819195045),
    ("subjects", "cosine"): (0.9881429498310618, 0.9933374448078394),
    ("sessions", "spearman"): (0.32795099428522856, 0.5249781663670594),
    ("sessions", "pearson"): (0.3461573984343955, 0.539797163405493),
    ("sessions", "kendall_tau_a"): (0.22301926944283185, 0.3655287066577389),
    ("sessions", "rho_a"): (0.3279509866875975, 0.5249781558061862),
    ("sessions", "cosine"): (0.9810196828790329, 0.9854876233454424),
    ("behavior", "spearman"): (0.47701070355314334, 0.5766916993449558),
    ("tied", "spearman"): (0.12823143599484835, 0.48700350291455025),
    ("tied", "pearson"): (0.10288319167762938, 0.4923988714481058),
    ("tied", "kendall_tau_a"): (0.08464646464646464, 0.33959595959595956),
    ("tied", "rho_a"): (0.12450592885375493, 0.47321475625823445),
    ("tied", "cosine"): (0.7857253481528997, 0.8659457288418342),
}


def _tied_rdms():
    """5 condensed RDMs of 10 stimuli with values in {0..4}: many ties."""
    return np.random.default_rng(4).integers(0, 5, size=(5, 45)).astype(np.float64)


@pytest.fixture(scope="module")
def k92():
    return repalign.datasets.kriegeskorte92()


@pytest.fixture(scope="module")
def stacks(k92):
    return {
        "subjects": k92.human_it.mean(axis=1),
        "sessions": k92.human_it.reshape(8, 92, 92),
        "behavior": k92.behavior,
        "tied": _tied_rdms(),
    }


@pytest.mark.parametrize("key", sorted(RSATOOLBOX), ids="-".join)
def test_noise_ceiling_matches_rsatoolbox(stacks, key):
    stack, compare = key
    lower, upper = repalign.noise_ceiling(stacks[stack], compare=compare)
    assert isinstance(lower, float) and isinstance(upper, float)
    assert lower == pytest.approx(RSATOOLBOX[key][0], abs=1e-6)
    assert upper == pytest.approx(RSATOOLBOX[key][1], abs=1e-6)
    assert 0 < lower < upper <= 1


def test_human_it_ceilings_rise_with_averaged_sessions(stacks):
    """Averaging each subject's two sessions removes noise: both bounds rise."""
    for compare in ("spearman", "pearson", "kendall_tau_a"):
        subjects = repalign.noise_ceiling(stacks["subjects"], compare=compare)
        sessions = repalign.noise_ceiling(stacks["sessions"], compare=compare)
        assert subjects[0] > sessions[0] and subjects[1] > sessions[1]


def test_square_and_condensed_agree(stacks):
    square = stacks["subjects"]
    condensed = np.stack([squareform(d, checks=False) for d in square])
    for compare in ("spearman", "kendall_tau_a"):
        assert repalign.noise_ceiling(square, compare=compare) == pytest.approx(
            repalign.noise_ceiling(condensed, compare=compare), abs=1e-12)


@pytest.mark.parametrize("compare,scipy_r", [
    ("pearson", lambda a, b: stats.pearsonr(a, b).statistic),
    ("spearman", lambda a, b: stats.spearmanr(a, b).statistic),
])
def test_two_subjects_lower_bound_is_their_correlation(compare, scipy_r):
    """With 2 subjects the mean of the others is the other subject itself."""
    rng = np.random.default_rng(1)
    truth = rng.random(190)
    rdms = truth + 0.3 * rng.standard_normal((2, 190))
    lower, upper = repalign.noise_ceiling(rdms, compare=compare)
    assert lower == pytest.approx(scipy_r(rdms[0], rdms[1]), abs=1e-12)
    assert upper > lower


def test_identical_subjects_give_one():
    rdm = np.random.default_rng(2).random(66)
    lower, upper = repalign.noise_ceiling(np.stack([rdm, 2 * rdm, rdm]), compare="pearson")
    assert lower == pytest.approx(1.0, abs=1e-12) and upper == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("compare", ["spearman", "pearson", "kendall_tau_a", "cosine"])
def test_backends_agree_with_numpy(backend, compare):
    rdms = np.random.default_rng(3).random((4, 105))
    expected = repalign.noise_ceiling(rdms, compare=compare)
    got = repalign.noise_ceiling(to_backend(rdms, backend), compare=compare)
    assert got == pytest.approx(expected, abs=tolerance(backend))


@pytest.mark.parametrize("rdms,kwargs,match", [
    (np.ones((3, 10)), {"method": "bootstrap"}, r"noise_ceiling: method='bootstrap' is not valid"),
    (np.ones((3, 10)), {"compare": "kendall"}, r"noise_ceiling: compare='kendall' is not valid"),
    (np.ones((1, 10)), {}, r"rdms holds 1 subject RDM\(s\); a noise ceiling needs at least 2"),
    (np.ones(10), {}, r"rdms must be a stack of subject RDMs .* got a 1-D array"),
    (np.ones((2, 11)), {}, r"rdms\[0\] is 1-D of length 11, which is not n\(n-1\)/2"),
    (np.stack([np.ones((4, 4)), np.triu(np.ones((4, 4)))]), {},
     r"rdms\[1\] is square but not symmetric"),
    (np.stack([np.arange(10.0), np.full(10, 2.0)]), {}, r"rdms\[1\]: the RDM is constant"),
    (np.stack([np.arange(10.0), np.full(10, np.nan)]), {}, r"rdms\[1\] must be finite"),
])
def test_noise_ceiling_errors(rdms, kwargs, match):
    with pytest.raises(ValueError, match=match):
        repalign.noise_ceiling(rdms, **kwargs)


# ------------------------------------------------------------------ split-half reliability


def test_split_half_spearman_brown_closed_form():
    """Halves t + e1, t + e2 with var(t) = 1, var(e) = 0.5: r = 2/3, r_SB = 4/5."""
    rng = np.random.default_rng(5)
    truth = rng.standard_normal(1414 * 1413 // 2)  # condensed RDM of 1414 stimuli
    a, b = truth + np.sqrt(0.5) * rng.standard_normal((2, truth.size))
    assert repalign.split_half_reliability(a, b) == pytest.approx(0.8, abs=3e-3)
    # the raw split-half r is the reliability of one half, var(t) / var(t + e)
    assert repalign.split_half_reliability(a, b, correction=None) == pytest.approx(2 / 3,
                                                                                 abs=3e-3)


@pytest.mark.parametrize("compare,scipy_r", [
    ("pearson", lambda a, b: stats.pearsonr(a, b).statistic),
    ("spearman", lambda a, b: stats.spearmanr(a, b).statistic),
    ("kendall_tau_a", lambda a, b: stats.kendalltau(a, b, variant="b").statistic),
])
def test_split_half_on_human_it_sessions(k92, compare, scipy_r):
    """Session 1 mean vs session 2 mean over the 4 subjects (no ties: tau-a = tau-b)."""
    a, b = k92.human_it[:, 0].mean(axis=0), k92.human_it[:, 1].mean(axis=0)
    va, vb = squareform(a, checks=False), squareform(b, checks=False)
    assert np.unique(va).size == np.unique(vb).size == va.size
    r = scipy_r(va, vb)
    reliability = repalign.split_half_reliability(a, b, compare=compare)
    assert reliability == pytest.approx(2 * r / (1 + r), abs=1e-9)
    assert 0 < r < reliability < 1


def test_split_half_warns_when_anticorrelated():
    a = np.random.default_rng(6).random(45)
    with pytest.warns(repalign.DegenerateWarning, match="the halves are anti-correlated"):
        value = repalign.split_half_reliability(a, 1 - a + 0.1 * a**2)
    assert value < -1


def test_split_half_is_minus_infinity_at_minus_one():
    with pytest.warns(repalign.DegenerateWarning, match=r"r = -1"):
        value = repalign.split_half_reliability([1.0, 2.0, 3.0], [3.0, 2.0, 1.0],
                                                compare="kendall_tau_a")
    assert value == -np.inf


@pytest.mark.parametrize("b,kwargs,match", [
    (np.arange(6.0), {"compare": "tau"}, r"split_half_reliability: compare='tau' is not valid"),
    (np.arange(10.0), {}, r"a is an RDM of 4 stimuli but b of 5; they must match"),
    (np.ones((4, 3)), {}, r"b must be a square \(n, n\) RDM"),
    (np.arange(6.0), {"correction": "sb"},
     r"split_half_reliability: correction='sb' is not valid; expected one of"),
])
def test_split_half_errors(b, kwargs, match):
    with pytest.raises(ValueError, match=match):
        repalign.split_half_reliability(np.arange(6.0), b, **kwargs)
