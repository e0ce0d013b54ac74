"""The NumPy paths of ``condensed_rdm`` and ``average_ranks`` on long inputs.

``average_ranks`` scatters the sorted ranks in blocks of 2^16 entries and gives
only the entries in runs of ties their average; ``condensed_rdm`` writes the
entries above the diagonal block of rows by block of rows, never forming the
n x n matrix. The ranks are checked against SciPy's, the RDMs against
``pdist`` and the generic path (the whole upper triangle copied out).
"""

import array_api_compat
import array_api_compat.numpy as xp
import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import rankdata

from repalign.measures._rdm import average_ranks, condensed_rdm

BLOCK = 1 << 16
M = 300_000


def plant_ties(s, rng):
    """Runs of equal values in the sorted ``s``: at both ends, across block boundaries,
    adjacent to each other, and a few at random; returned shuffled."""
    s = np.sort(s)
    s[1] = s[0]
    s[-3:] = s[-3]
    s[BLOCK] = s[BLOCK - 1]  # a pair across the first block boundary
    s[2 * BLOCK - 2:2 * BLOCK + 3] = s[2 * BLOCK - 2]  # five across the second
    s[2 * BLOCK + 3:2 * BLOCK + 5] = s[2 * BLOCK + 3]  # and a pair right after them
    for i in rng.choice(np.arange(10, s.size - 10, 20), 6, replace=False):
        s[i:i + 3] = s[i]
    return s[rng.permutation(s.size)]


def long_cases():
    rng = np.random.default_rng(7)
    return {
        # 1 - r over [0.3, 1.7]: keys span more bits than fit, sorted by bins.
        "correlation distances": plant_ties(0.3 + 1.4 * rng.random(M), rng),
        # Neighbouring floats: keys span few bits, one exact packed sort.
        "neighbouring floats": plant_ties(1 + rng.integers(0, 2**40, M) * 2.0**-52, rng),
        "signed": plant_ties(np.concatenate([rng.standard_normal(M - 2), [-0.0, 0.0]]), rng),
        "float32": plant_ties(rng.random(M).astype(np.float32), rng),
        # A model RDM (bins of equal values) mixed with nearby distinct values.
        "model and measured": np.concatenate(
            [rng.integers(0, 10, M // 2).astype(float),
             3 + rng.integers(0, 1000, M // 2) * 2.0**-50])[rng.permutation(M)],
        "no ties": rng.random(M),
        "all tied": np.full(M, 0.25),
    }


CASES = long_cases()


@pytest.mark.parametrize("v", CASES.values(), ids=CASES.keys())
def test_ranks_of_long_vectors_equal_scipys_rankdata(v):
    r = average_ranks(v, xp)
    assert r.dtype == v.dtype
    np.testing.assert_array_equal(r, rankdata(v).astype(v.dtype))


@pytest.mark.parametrize("v", CASES.values(), ids=CASES.keys())
def test_ranking_a_long_vector_leaves_it_unchanged(v):
    before = v.copy()
    average_ranks(v, xp)
    np.testing.assert_array_equal(v.view(f"u{v.itemsize}"), before.view(f"u{v.itemsize}"))


def test_ranks_of_a_strided_view():
    v = CASES["correlation distances"]
    np.testing.assert_array_equal(average_ranks(v[::3], xp), rankdata(v[::3]))


@pytest.mark.parametrize("metric", ["correlation", "euclidean", "sqeuclidean", "cosine"])
@pytest.mark.parametrize("entries, least", [(None, None), (7 * 300, 1), (300 * 300, 1),
                                            (300 * 300, 300)])
def test_condensed_by_blocks_equals_pdist_and_the_generic_path(monkeypatch, metric, entries,
                                                              least):
    """Blocks of 64 rows (the default at n = 300), of 7, of 37 (n / 8) and of 300 (one)."""
    from repalign.measures import _rdm

    if entries is not None:
        monkeypatch.setattr(_rdm, "_GEMM_BLOCK_ENTRIES", entries)
        monkeypatch.setattr(_rdm, "_MIN_BLOCK_ROWS", least)
    rng = np.random.default_rng(3)
    n = 300
    X = rng.standard_normal((n, 20)) + 1
    v = condensed_rdm(X, metric, xp)
    assert v.shape == (n * (n - 1) // 2,)
    np.testing.assert_allclose(v, pdist(X, metric), rtol=0, atol=1e-12)
    # The generic path (the n x n matrix, its triangle copied out, then transformed):
    # the same formula, so equal up to the rounding of a GEMM against a SYRK.
    strict = pytest.importorskip("array_api_strict")
    Xs = strict.asarray(X)
    expected = np.asarray(condensed_rdm(Xs, metric, array_api_compat.array_namespace(Xs)))
    np.testing.assert_allclose(v, expected, rtol=1e-14, atol=1e-15)
