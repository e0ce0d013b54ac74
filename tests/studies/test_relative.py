"""The relative study (Moschella et al. 2023), quick version, and its relative representation."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pd = pytest.importorskip("pandas")

from repalign import studies  # noqa: E402
from repalign.studies import relative  # noqa: E402
from repalign.studies.relative import relative_representation  # noqa: E402


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("relative")
    result = studies.run("relative", out, quick=True)
    return result, pd.read_csv(out / "results.csv")


@pytest.fixture(scope="module")
def stitching(study):
    _, table = study
    frame = table[table["part"] == "stitching"]
    return frame.assign(stitched=frame["stitched"].astype(bool))


def test_files_and_summary(study):
    result, _ = study
    for path in result.paths.values():
        assert path.is_file() and path.stat().st_size > 0
    summary = result.paths["summary"].read_text()
    for check in result.checks:
        assert check.claim in summary
    assert len(result.checks) == 5


def test_stitching_table(stitching):
    assert {"mode", "accuracy", "encoder_a", "encoder_b", "seed", "n_anchors"} <= set(
        stitching.columns)
    assert set(stitching["mode"]) == {"absolute", "relative"}
    assert (stitching["stitched"] == (stitching["encoder_a"] != stitching["encoder_b"])).all()
    assert stitching[stitching["mode"] == "absolute"]["n_anchors"].isna().all()
    assert (stitching[stitching["mode"] == "relative"]["n_anchors"] > 0).all()
    # every ordered pair of encoders, per mode and anchor count
    for _, group in stitching.groupby(["mode", "n_anchors"], dropna=False):
        n = group["encoder_a"].nunique()
        assert len(group) == n * n and group["stitched"].sum() == n * (n - 1)
    assert stitching["accuracy"].between(0, 1).all()
    np.testing.assert_allclose(stitching["chance"], 1 / 10)


def test_relative_stitching_far_above_absolute_and_chance(stitching):
    stitched = stitching[stitching["stitched"]]
    # the claim holds with at least as many anchors as latent dimensions
    rel = stitched[(stitched["mode"] == "relative")
                   & (stitched["n_anchors"] >= relative.LATENT)]["accuracy"]
    assert len(rel) > 0
    ab = stitched[stitched["mode"] == "absolute"]["accuracy"]
    assert rel.min() > ab.max()
    assert rel.mean() - ab.mean() > 0.3
    assert rel.min() > 3 * relative.CHANCE
    # absolute stitching is near chance, while every model works with its own head
    assert ab.mean() < 2 * relative.CHANCE
    assert stitching[~stitching["stitched"]]["accuracy"].min() > 0.9


def test_invariance_rows_exact(study):
    _, table = study
    inv = table[table["part"] == "invariance"].set_index("transform")["max_abs_change"]
    moved = inv.pop("translation (not centred)")
    assert {"rotation", "scaling", "rotation+scaling", "translation (centred)"} <= set(inv.index)
    assert (inv <= 1e-12).all()
    assert moved > 1e-3


def test_relative_representation_closed_form():
    X = np.array([[1.0, 0.0], [1.0, 1.0], [-2.0, 0.0]])
    A = np.array([[3.0, 0.0], [0.0, 0.5]])
    expected = np.array([[1.0, 0.0], [np.sqrt(0.5), np.sqrt(0.5)], [-1.0, 0.0]])
    np.testing.assert_allclose(relative_representation(X, A), expected, atol=1e-15)
    # centred on the anchors' mean (1.5, 0.25)
    Xc, Ac = X - A.mean(0), A - A.mean(0)
    cos = (Xc @ Ac.T) / np.outer(np.linalg.norm(Xc, axis=1), np.linalg.norm(Ac, axis=1))
    np.testing.assert_allclose(relative_representation(X, A, center=True), cos, atol=1e-15)


def test_relative_representation_invariances():
    rng = np.random.default_rng(1)
    X, A = rng.standard_normal((40, 6)), rng.standard_normal((9, 6))
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    t = 5 * rng.standard_normal(6)
    R = relative_representation(X, A)
    np.testing.assert_allclose(relative_representation(2.5 * X @ Q, 2.5 * A @ Q), R,
                               rtol=0, atol=1e-12)
    Rc = relative_representation(X, A, center=True)
    np.testing.assert_allclose(relative_representation(X @ Q + t, A @ Q + t, center=True), Rc,
                               rtol=0, atol=1e-12)
    assert np.abs(relative_representation(X + t, A + t) - R).max() > 1e-3


def test_relative_representation_torch_gradients():
    torch = pytest.importorskip("torch")
    X = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    A = torch.randn(4, 3, dtype=torch.float64)
    R = relative_representation(X, A)
    np.testing.assert_allclose(R.detach().numpy(),
                               relative_representation(X.detach().numpy(), A.numpy()),
                               atol=1e-15)
    R.sum().backward()
    assert X.grad is not None and torch.isfinite(X.grad).all()


@pytest.mark.parametrize("X, A, match", [
    (np.ones(3), np.ones((2, 3)), "must be 2-D"),
    (np.ones((2, 3)), np.ones((2, 4)), "X has 3 features but anchors has 4"),
    (np.array([[0.0, 0.0], [1.0, 0.0]]), np.ones((2, 2)), "X has a zero vector"),
    (np.ones((2, 2)), np.array([[1.0, 2.0], [0.0, 0.0]]), "anchors has a zero vector"),
])
def test_relative_representation_errors(X, A, match):
    with pytest.raises(ValueError, match=match):
        relative_representation(X, A)


def test_relative_representation_center_must_be_bool():
    with pytest.raises(TypeError, match="center must be a bool"):
        relative_representation(np.ones((2, 2)), np.eye(2), center=1)
