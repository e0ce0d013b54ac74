"""The layer_id study (Kornblith et al. 2019): the quick run's numbers recomputed from the
CSV, and the identification on representations whose answer is known."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import repalign  # noqa: E402
from repalign import studies  # noqa: E402
from repalign.studies import _nets, layer_id  # noqa: E402


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Threaded BLAS on a busy 2-core machine makes these small fits many times slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("layer_id")
    result = studies.run("layer_id", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


def test_files_and_checks_are_written(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file()
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary
    for label, paper in layer_id.PAPER.items():
        assert f"| {label} |" in summary and f"| {paper} |" in summary


def test_accuracy_is_the_fraction_of_layers_picked_at_the_same_depth(study):
    result, table = study
    assert set(table["measure"]) == set(layer_id.MEASURES)
    n_nets = result.config.n_nets
    assert len(table) == len(layer_id.MEASURES) * n_nets * (n_nets - 1)
    assert (table["net_a"] != table["net_b"]).all()
    for picks, accuracy, n_layers in zip(table["picks"], table["accuracy"], table["n_layers"]):
        picked = np.array([int(p) for p in picks.split(";")])
        assert len(picked) == n_layers == len(layer_id.LAYERS)
        assert accuracy == pytest.approx(np.mean(picked == np.arange(1, n_layers + 1)))
    assert table["chance"].iloc[0] == pytest.approx(1 / table["n_layers"].iloc[0])


def test_linear_cka_beats_chance(study):
    _, table = study
    cka = table.loc[table["measure"] == "cka (linear)", "accuracy"].mean()
    assert cka > table["chance"].iloc[0]


def test_every_layer_has_fewer_features_than_stimuli():
    import torch

    widths = layer_id.Config.widths
    X = torch.zeros((2, 64))
    acts = repalign.extract(layer_id.tiny10(widths).eval(), X, layers=list(layer_id.LAYERS),
                            pool="flatten", progress=False)
    assert [acts[name].shape[1] for name in layer_id.LAYERS] == layer_id.feature_counts(widths)
    n_train = len(_nets.digits_split(test_size=layer_id.Config.test_size)[0])
    assert max(layer_id.feature_counts(widths)) < n_train
    study = layer_id.LayerId()
    with pytest.raises(ValueError, match="fewer features than stimuli"):
        study.measure(study.configure(quick=True, widths=(32, 16, 32)))


def test_svcca_r2_is_cca_of_the_principal_components_svcca_keeps():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 12)) @ rng.standard_normal((12, 12))
    Y = X[:, :6] @ rng.standard_normal((6, 9)) + 0.3 * rng.standard_normal((120, 9))
    Px, Py = layer_id.principal_scores(X, 0.99), layer_id.principal_scores(Y, 0.99)
    assert repalign.measure("cca", Px, Py) == pytest.approx(
        repalign.measure("svcca", X, Y, variance=0.99), abs=1e-12)


def _untrained_layers(n=300):
    """Layers 1-8 (the average pool, a linear image of layer 8, left out) of an untrained
    Tiny-10 on n digits: distinct representations with fewer features than stimuli."""
    import torch

    torch.manual_seed(0)
    X = _nets.digits_split(test_size=0.5)[0][:n]
    net = layer_id.tiny10((2, 4, 8)).eval()
    acts = repalign.extract(net, torch.as_tensor(X), layers=list(layer_id.LAYERS[:-1]),
                            pool="flatten", progress=False)
    return [acts[name].astype(np.float64) for name in layer_id.LAYERS[:-1]]


@pytest.mark.parametrize("label", list(layer_id.MEASURES))
def test_identical_and_rotated_copies_of_a_network_are_identified_exactly(label):
    """Net 1 is net 0 (the same seed); net 2 is net 0 with every layer rotated by a random
    orthogonal matrix and scaled. Every measure is invariant to both, so every layer of
    every network picks its own depth."""
    layers = _untrained_layers()
    rng = np.random.default_rng(1)
    reps = {}
    for i, X in enumerate(layers, start=1):
        Q, _ = np.linalg.qr(rng.standard_normal((X.shape[1], X.shape[1])))
        reps[f"net0/L{i}"], reps[f"net1/L{i}"], reps[f"net2/L{i}"] = X, X.copy(), 3.0 * X @ Q
    name, params, variance = layer_id.MEASURES[label]
    if variance is not None:
        reps = {k: layer_id.principal_scores(X, variance) for k, X in reps.items()}
    picks = layer_id._picks(layer_id._matrices(reps, name, params, n_nets=3,
                                               depth=len(layers)))
    for pair, picked in picks.items():
        np.testing.assert_array_equal(picked, np.arange(1, len(layers) + 1), err_msg=str(pair))


def test_asymmetric_measures_are_symmetrised_as_s_plus_s_transpose():
    rng = np.random.default_rng(0)
    base = [rng.standard_normal((40, 5)) for _ in range(3)]
    reps = {f"net{s}/L{i}": base[i - 1] @ rng.standard_normal((5, 5)) + 0.5 * rng.standard_normal(
        (40, 5)) for s in range(3) for i in range(1, 4)}
    matrices = layer_id._matrices(reps, "pwcca", {}, n_nets=3, depth=3)
    for (A, B), picked in layer_id._picks(matrices).items():
        S = np.array([[repalign.measure("pwcca", reps[f"net{A}/L{i}"], reps[f"net{B}/L{j}"])
                       + repalign.measure("pwcca", reps[f"net{B}/L{j}"], reps[f"net{A}/L{i}"])
                       for j in range(1, 4)] for i in range(1, 4)])
        np.testing.assert_allclose(matrices[A, B], S, rtol=1e-12)
        np.testing.assert_array_equal(picked, S.argmax(axis=1) + 1)
