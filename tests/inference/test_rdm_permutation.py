"""rdm_permutation_test against a brute-force permutation of square RDMs with SciPy."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from scipy.stats import spearmanr

import repalign


def brute_force(D1, D2, n_permutations, seed):
    """Permute the square D2 with numpy indexing and recompute Spearman with SciPy."""
    n = D2.shape[0]
    rows, cols = np.triu_indices(n, 1)
    value = spearmanr(D1[rows, cols], D2[rows, cols])[0]
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(n_permutations):
        p = rng.permutation(n)
        null.append(spearmanr(D1[rows, cols], D2[p][:, p][rows, cols])[0])
    return value, (1 + np.sum(np.array(null) >= value - 1e-12)) / (1 + n_permutations)


def test_matches_a_brute_force_permutation_with_scipy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((15, 4))
    D1 = squareform(pdist(X))
    D2 = squareform(pdist(X + 2.0 * rng.standard_normal((15, 4))))
    value, p = repalign.rdm_permutation_test(D1, D2, n_permutations=200, seed=3)
    expected_value, expected_p = brute_force(D1, D2, 200, 3)
    assert value == pytest.approx(expected_value, abs=1e-12)
    assert p == pytest.approx(expected_p, abs=1e-12)


def test_unrelated_rdms_are_not_significant_and_related_ones_are():
    rng = np.random.default_rng(1)
    X, Z = rng.standard_normal((25, 5)), rng.standard_normal((25, 5))
    assert repalign.rdm_permutation_test(pdist(X), pdist(Z), n_permutations=199, seed=0)[1] > 0.05
    value, p = repalign.rdm_permutation_test(pdist(X), pdist(X ** 3), "kendall_tau_a",
                                             n_permutations=99, seed=0)
    assert p == pytest.approx(0.01) and value > 0.5


@pytest.mark.parametrize("kwargs, error, match", [
    ({"method": "tau"}, ValueError, r"method='tau' is not valid"),
    ({"n_permutations": 0}, ValueError, r"n_permutations=0 is not in \[1, inf\)"),
    ({"n_permutations": 1.5}, TypeError, r"n_permutations must be an integer"),
])
def test_rejects_bad_arguments(kwargs, error, match):
    D = pdist(np.random.default_rng(0).standard_normal((6, 2)))
    with pytest.raises(error, match=match):
        repalign.rdm_permutation_test(D, D, **kwargs)


def test_rejects_rdms_of_different_sizes():
    with pytest.raises(ValueError, match=r"D1 is an RDM of 4 stimuli but D2 of 5"):
        repalign.rdm_permutation_test(np.arange(6.0), np.arange(10.0))
