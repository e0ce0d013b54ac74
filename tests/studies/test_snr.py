"""The snr study in its quick form: claims recomputed from the CSV, helpers against closed forms."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import _nets, snr  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("snr")
    result = studies.run("snr", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def _means(table):
    keys = ["model", "task", "regularization", "snr", "n_train"]
    return table.groupby(keys, as_index=False).mean(numeric_only=True)


def test_files_and_checks_are_written(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file()
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary


def test_table_has_the_issue_columns(study):
    _, table = study
    for column in ("model", "task", "snr", "n_train", "seed", "alignment", "test_error",
                   "regularization", "estimate", "alignment_output", "threshold"):
        assert column in table.columns
    assert set(table["model"]) == {"linear", "mlp"}
    assert set(table[table["model"] == "mlp"]["task"]) == {"regression", "classification"}
    assert table["alignment"].between(0, 1).all()
    assert table.loc[table["model"] == "linear", "estimate"].between(0, 1).all()


def test_alignment_rises_with_snr(study):
    _, table = study
    means = _means(table)
    ridge = means[(means["model"] == "linear") & (means["regularization"] == "ridge")]
    for _, curve in ridge.groupby("n_train"):
        assert spearmanr(curve["snr"], curve["alignment"]).statistic > 0
    at_2d = ridge[ridge["n_train"] == 2 * snr.D].sort_values("snr")["alignment"]
    assert np.all(np.diff(at_2d) > 0)
    mlp = means[(means["model"] == "mlp") & (means["n_train"] == means["n_train"].max())]
    for _, curve in mlp.groupby("task"):
        curve = curve.sort_values("snr")
        assert spearmanr(curve["snr"], curve["alignment"]).statistic > 0
        assert np.diff(curve["alignment"]).min() > -snr.TOL


def test_ridge_alignment_dips_at_the_threshold_and_min_norm_spikes(study):
    _, table = study
    means = _means(table)
    lin = means[(means["model"] == "linear") & (means["snr"] == 4.0)]
    ridge = lin[lin["regularization"] == "ridge"].set_index("n_train")["alignment"]
    assert snr.D / 2 <= ridge.idxmin() <= 2 * snr.D
    assert ridge.min() < min(ridge.iloc[0], ridge.iloc[-1]) - 0.2
    min_norm = lin[lin["regularization"] == "min_norm"].set_index("n_train")
    neighbours = min_norm.loc[[n for n in min_norm.index if 0 < abs(n - snr.D) <= 10]]
    assert min_norm.loc[snr.D, "alignment"] > neighbours["alignment"].max() + 0.2
    # the spike comes with the exploding test error of the interpolating solution
    assert min_norm.loc[snr.D, "test_error"] > 10 * neighbours["test_error"].max()


def test_mlp_alignment_is_lowest_near_the_measured_threshold(study):
    _, table = study
    means = _means(table)
    mlp = means[(means["model"] == "mlp") & (means["snr"] == 2.0)]
    for _, curve in mlp.groupby("task"):
        curve = curve.set_index("n_train")
        threshold = curve["threshold"].iloc[0]
        assert threshold / 2 <= curve["alignment"].idxmin() <= 2 * threshold
        # the members memorize the noise below the threshold, not above it
        assert curve.loc[curve.index < threshold, "noise_unfit"].max() <= snr.UNFIT_EPS
        assert curve.loc[curve.index > threshold, "noise_unfit"].min() > snr.UNFIT_EPS


def test_alignment_and_test_error_are_decoupled(study):
    _, table = study
    means = _means(table)
    for key, group in means.groupby(["model", "task"]):
        if key[0] == "linear":
            group = group[group["regularization"] == "ridge"]
        found = False
        for _, curve in group.groupby("snr"):
            curve = curve.sort_values("n_train")
            a, e = curve["alignment"].to_numpy(), curve["test_error"].to_numpy()
            found |= any(e[i] < 0.9 * e[j] and a[i] < a[j] - snr.TOL
                         for i in range(len(a)) for j in range(i))
        assert found, key


def test_analytic_estimate_matches_the_simulation(study):
    _, table = study
    lin = _means(table[table["model"] == "linear"])
    zone = snr._in_artefact_zone(lin["regularization"], lin["n_train"])
    gap = (lin["estimate"] - lin["alignment_output"]).abs()
    assert gap[~zone].max() <= snr.ESTIMATE_TOL
    assert gap[~zone].mean() < 0.02


def test_estimate_matches_monte_carlo_over_many_members():
    """The ratio-of-moments estimate against the mean CKA of 60 members (1770 pairs).

    At the study's d and k; the Monte Carlo standard error is about 0.005.
    """
    rng = np.random.default_rng(1)
    d, k, n, noise_var = snr.D, snr.K, 2 * snr.D, 0.5
    B = rng.standard_normal((d, k)) / np.sqrt(d)
    X, X_test = rng.standard_normal((n, d)), rng.standard_normal((300, d))
    P = snr._solver(X, snr.RIDGE)
    outputs = [X_test @ P @ (X @ B + np.sqrt(noise_var) * rng.standard_normal((n, k)))
               for _ in range(60)]
    simulated = snr._mean_pairwise(repalign.get("cka"), outputs)
    assert snr._predictor_cka_estimate(P, X, B, X_test, noise_var) == pytest.approx(
        simulated, abs=0.015)


def test_balanced_factor_is_the_limit_of_gradient_descent_from_small_init():
    """Two-layer linear GD from a tiny init: end-to-end min-norm, hidden layer U S^(1/2)."""
    rng = np.random.default_rng(0)
    d, k, n = 8, 3, 5                      # n < d: the minimum-norm solution is selected
    X = rng.standard_normal((n, d))
    Y = X @ rng.standard_normal((d, k)) + 0.3 * rng.standard_normal((n, k))
    W1, W2 = 1e-4 * rng.standard_normal((k, d)), 1e-4 * rng.standard_normal((k, k))
    for _ in range(20000):
        R = (X @ W1.T @ W2.T - Y) / n      # gradient of 0.5 * mean squared error
        W1, W2 = W1 - 0.05 * W2.T @ R.T @ X, W2 - 0.05 * R.T @ X @ W1.T
    G = snr._solver(X, 0.0) @ Y
    np.testing.assert_allclose((W2 @ W1).T, G, atol=1e-3)
    X_test = rng.standard_normal((50, d))
    assert repalign.measure("cka", X_test @ W1.T,
                            X_test @ snr._hidden_weights(G)) == pytest.approx(1, abs=1e-5)


def test_ensemble_training_equals_separate_training():
    import torch

    X_train, _, y_train, _ = _nets.digits_split(seed=0)
    X, labels = X_train[:100], y_train[:100]
    targets = np.stack([labels, (labels + 1) % 10])
    models = []
    for _ in range(2):
        torch.manual_seed(3)
        models.append(_nets.mlp([64, 8, 10]))
    snr._train_ensemble(models, X, targets, seed=5, epochs=3, batch_size=32,
                        loss="cross_entropy")
    for model, y in zip(models, targets):
        torch.manual_seed(3)
        alone = _nets.train(_nets.mlp([64, 8, 10]), X, y, seed=5, epochs=3, batch_size=32,
                            loss="cross_entropy")
        for a, b in zip(model.parameters(), alone.parameters()):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_label_noise_rate_and_noise_variance():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=20000)
    noisy = snr._noisy_targets("classification", labels, 3.0, rng)
    assert np.mean(noisy != labels) == pytest.approx(1 / (1 + 3.0), abs=0.01)
    values = snr._noisy_targets("regression", labels, 4.0, rng)
    assert np.var(values - np.eye(10)[labels]) == pytest.approx(snr.ONE_HOT_VAR / 4, rel=0.03)


def test_interpolation_threshold_interpolates_on_log_n():
    assert snr._interpolation_threshold([10, 20, 40], [0.0, 0.0, 0.2]) == pytest.approx(
        20 * 2 ** 0.5)
    assert np.isnan(snr._interpolation_threshold([10, 20], [0.0, 0.05]))
    assert np.isnan(snr._interpolation_threshold([10, 20], [0.5, 0.9]))


def test_snr_check_covers_every_curve_and_names_the_non_monotone_ones(study):
    result, table = study
    means = _means(table)
    curves, failing = 0, []
    for key, curve in means.groupby(["model", "task", "regularization", "n_train"]):
        if curve["snr"].nunique() < 3:
            continue
        curves += 1
        curve = curve.sort_values("snr")
        rho = spearmanr(curve["snr"], curve["alignment"]).statistic
        if not (rho > 0 and np.diff(curve["alignment"]).min() >= -snr.TOL):
            failing.append("/".join(map(str, key)))
    (check,) = [c for c in result.checks if c.claim.startswith("alignment rises monotonically")]
    assert f"all {curves} curves" in check.detail
    assert check.passed == (not failing)
    assert all(label in check.detail for label in failing)
    # the minimum-norm solution at n_train = d falls with SNR (the shared-direction artefact)
    assert f"linear/regression/min_norm/{snr.D}" in failing


def test_non_monotone_curves_concentrate_on_the_shared_direction(study):
    _, table = study
    lin = _means(table[table["model"] == "linear"])
    at_d = lin[lin["n_train"] == snr.D].set_index(["regularization", "snr"])["shared_direction"]
    assert at_d["min_norm"].min() > snr.SHARED_MIN > at_d["ridge"].max()
    assert table.loc[table["model"] == "mlp", "shared_direction"].isna().all()


def test_shared_direction_share_against_closed_forms():
    rng = np.random.default_rng(0)
    d, k = 12, 4
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A, _ = np.linalg.qr(rng.standard_normal((30, d)))
    X = A * np.linspace(10, 0.1, d) @ Q.T                  # weakest direction: Q[:, -1]
    along = np.outer(Q[:, -1], rng.standard_normal(k))   # all energy on the weakest direction
    assert snr._shared_direction_share(X, [along]) == pytest.approx(1.0)
    across = Q[:, :k]                                      # none of it
    assert snr._shared_direction_share(X, [across]) == pytest.approx(0.0, abs=1e-20)
    isotropic = [rng.standard_normal((d, k)) for _ in range(2000)]
    assert snr._shared_direction_share(X, isotropic) == pytest.approx(1 / d, rel=0.05)
