"""The dynamics study (rich vs lazy, two-point theory), quick version: claims recomputed from its CSV."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("scipy")
pd = pytest.importorskip("pandas")

from repalign import studies  # noqa: E402
from repalign.studies import dynamics  # noqa: E402

LAST = dynamics.LAYERS[-1]
QUICK = dynamics.Dynamics.quick_settings
QUICK_SCALES = QUICK["scales"]
SEEDS = range(QUICK["n_seeds"])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("dynamics")
    result = studies.run("dynamics", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def _part(table, part):
    return table[table["part"] == part]


def _network(table, seed, scale, layer, quantity):
    rows = _part(table, "two_point")
    rows = rows[(rows["seed"] == seed) & (rows["init_scale"] == scale) & (rows["layer"] == layer)
                & (rows["quantity"] == quantity) & (rows["source"] == "network")]
    return rows.sort_values("epoch")


def _curve(table, seed, scale, layer):
    rows = _part(table, "training")
    return rows[(rows["seed"] == seed) & (rows["init_scale"] == scale)
                & (rows["layer"] == layer)].sort_values("epoch")


def test_files_and_summary(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file() and path.stat().st_size > 0
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary
        assert f"{QUICK['n_seeds']} seeds" in check.claim
    assert len(result.checks) == 6


def test_table_shape(study):
    _, table = study
    assert {"part", "seed", "init_scale", "epoch", "layer", "target_alignment", "loss",
            "quantity", "source", "value"} <= set(table.columns)
    assert set(table["part"]) == {"training", "two_point", "two_point_fit"}
    assert set(table["seed"]) == set(SEEDS)
    training = _part(table, "training")
    assert set(training["layer"]) == set(dynamics.LAYERS)
    assert training["target_alignment"].between(0, 1 + 1e-9).all()
    assert sorted(training["init_scale"].unique()) == sorted(QUICK_SCALES)
    fits = _part(table, "two_point_fit")
    assert len(fits) == len(SEEDS) * len(QUICK_SCALES) * len(dynamics.LAYERS) * 5


def test_seeds_are_distinct_replicates(study):
    # every seed has its own initialisation (the alignment at epoch 0 differs) and its own pair
    _, table = study
    start = [_curve(table, seed, QUICK_SCALES[0], LAST)["target_alignment"].iloc[0]
             for seed in SEEDS]
    assert len(set(np.round(start, 9))) == len(start)
    distances = [_network(table, seed, QUICK_SCALES[0], LAST, "sq_distance")["value"].iloc[0]
                 for seed in SEEDS]
    assert len(set(np.round(distances, 9))) == len(distances)


def test_initial_state_is_scale_free(study):
    # Bias-free ReLU nets from the same seed differ only by a positive factor per layer, so
    # linear CKA (scale-invariant) is identical at epoch 0 for every scale; the centred output
    # is zero, so the loss starts at 1/2 for one-hot targets.
    _, table = study
    start = _part(table, "training").query("epoch == 0")
    for _, group in start.groupby(["seed", "layer"]):
        assert len(group) == len(QUICK_SCALES)
        np.testing.assert_allclose(group["target_alignment"], group["target_alignment"].iloc[0],
                                   atol=1e-6)
    np.testing.assert_allclose(start["loss"], 0.5, atol=1e-6)
    for seed in SEEDS:
        for scale in QUICK_SCALES:
            for quantity in ("output_sq_distance", "output_alignment"):
                value = _network(table, seed, scale, "out", quantity)["value"].iloc[0]
                assert value == pytest.approx(0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("layer", dynamics.LAYERS)
def test_rich_alignment_rises_lazy_barely_moves(study, seed, layer):
    _, table = study
    small = _curve(table, seed, min(QUICK_SCALES), layer)
    large = _curve(table, seed, max(QUICK_SCALES), layer)
    rise_small = small["target_alignment"].iloc[-1] - small["target_alignment"].iloc[0]
    rise_large = large["target_alignment"].iloc[-1] - large["target_alignment"].iloc[0]
    assert small["target_alignment"].iloc[-1] > large["target_alignment"].iloc[-1]
    assert rise_small > 0.05
    assert abs(rise_large) < 0.1 * rise_small
    # the lazy network is trained, and at matched training loss the rich one is more aligned
    assert large["loss"].iloc[-1] < 0.5 * large["loss"].iloc[0]
    matched = max(small["loss"].iloc[-1], large["loss"].iloc[-1])
    at_small = small[small["loss"] <= matched]["target_alignment"].iloc[0]
    at_large = large[large["loss"] <= matched]["target_alignment"].iloc[0]
    assert at_small > at_large


@pytest.mark.parametrize("seed", SEEDS)
def test_pair_distance_moves_in_the_rich_regime_only(study, seed):
    _, table = study
    change = {}
    for scale in QUICK_SCALES:
        h = _network(table, seed, scale, LAST, "sq_distance")["value"].to_numpy()
        change[scale] = abs(h[-1] - h[0]) / h[0]
    assert change[min(QUICK_SCALES)] > 1.0
    assert change[max(QUICK_SCALES)] < 0.01


@pytest.mark.parametrize("seed", SEEDS)
def test_two_point_theory_fits_small_init(study, seed):
    _, table = study
    small = min(QUICK_SCALES)
    pair = _part(table, "two_point")
    fits = _part(table, "two_point_fit")
    for quantity in dynamics.PAIR_QUANTITIES:
        layer = LAST if quantity == "sq_distance" else "out"
        observed = _network(table, seed, small, layer, quantity)["value"].to_numpy()
        theory = pair[(pair["seed"] == seed) & (pair["init_scale"] == small)
                      & (pair["layer"] == LAST) & (pair["quantity"] == quantity)
                      & (pair["source"] == "theory")]
        predicted = theory.sort_values("epoch")["value"].to_numpy()
        r2 = 1 - np.sum((predicted - observed) ** 2) / np.sum((observed - observed.mean()) ** 2)
        assert r2 >= dynamics.R2_MIN
        reported = fits[(fits["seed"] == seed) & (fits["init_scale"] == small)
                        & (fits["layer"] == LAST)
                        & (fits["quantity"] == f"r2_{quantity}")]["value"].iloc[0]
        assert r2 == pytest.approx(reported, abs=1e-6)


def test_summary_intervals_are_t_intervals_over_seeds(study):
    # the summary's interval of the final alignment at the last layer, recomputed from the CSV
    # as mean +- t_{k-1} sd / sqrt(k) over the seeds
    from scipy import stats

    result, table = study
    summary = result.paths["summary"].read_text()
    for scale in QUICK_SCALES:
        final = np.array([_curve(table, seed, scale, LAST)["target_alignment"].iloc[-1]
                          for seed in SEEDS])
        half = stats.t.ppf(0.975, len(final) - 1) * final.std(ddof=1) / np.sqrt(len(final))
        row = next(line for line in summary.splitlines() if line.startswith(f"| {scale:g} | "))
        cell = row.split(" | ")[2 + dynamics.LAYERS.index(LAST)]
        assert cell == (f"{final.mean():.3f} [{final.mean() - half:.3f}, "
                        f"{final.mean() + half:.3f}]")


def test_fewer_than_three_seeds_is_refused():
    with pytest.raises(ValueError, match="n_seeds must be >= 3"):
        dynamics.Dynamics().configure(quick=True, n_seeds=2)


def test_two_point_fixed_point():
    # Outputs matching the targets (w = 0, y = D_y) is a fixed point of the theory.
    rhs = dynamics._two_point_rhs(0.0, [3.0, 2.0, 0.0], 0.01, 0.02, 10.0, 2.0)
    np.testing.assert_allclose(rhs, 0.0, atol=1e-15)


def test_two_point_quantity_q_changes_by_a_factor():
    # Q = eta_y h^2 - eta_h D_x y obeys dQ/dt = -eta_h D_x (w / h) Q at any state.
    rng = np.random.default_rng(0)
    eta_h, eta_y, dx2, dy2 = 0.01, 0.02, 10.0, 2.0
    for h, y, w in rng.uniform([0.1, 0.0, -1.0], [5.0, 3.0, 1.0], size=(20, 3)):
        dh, dy, _ = dynamics._two_point_rhs(0.0, [h, y, w], eta_h, eta_y, dx2, dy2)
        q = eta_y * h**2 - eta_h * dx2 * y
        assert 2 * eta_y * h * dh - eta_h * dx2 * dy == pytest.approx(-eta_h * dx2 * w / h * q)


def test_two_point_rich_end_state():
    # From a small h(0) with y = w = 0 (Q ~ 0) the theory ends at y = D_y, w = 0 and
    # h^2 = (eta_h / eta_y) D_x D_y.
    eta_h, eta_y, dx2, dy2 = 0.006, 0.014, 10.0, 2.0
    end = dynamics._solve_two_point(np.array([0.0, 5000.0]), [1e-4, 0.0, 0.0], eta_h, eta_y,
                                    dx2, dy2)[:, -1]
    np.testing.assert_allclose(end, [np.sqrt(eta_h / eta_y * dx2 * dy2), dy2, 0.0],
                               rtol=1e-3, atol=1e-6)


def test_two_point_fit_recovers_known_rates():
    steps = np.arange(0.0, 801.0, 10.0)
    truth = (0.006, 0.014)
    observed = dynamics._solve_two_point(steps, [0.02, 0.0, 0.0], *truth, 10.0, 2.0)
    eta_h, eta_y, _, r2 = dynamics._fit_two_point(steps, observed, 10.0, 2.0)
    np.testing.assert_allclose([eta_h, eta_y], truth, rtol=1e-3)
    assert np.all(r2 > 0.9999)
