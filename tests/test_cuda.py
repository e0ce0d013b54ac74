"""On a GPU, torch tensors are computed where they live and agree with NumPy.

Skipped cleanly on machines without CUDA (CI has none).
"""

import numpy as np
import pytest

import repalign

from .conftest import correlated_pair

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("name", [m.name for m in repalign.list_measures()])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 2e-4)])
def test_cuda_agrees_with_numpy_and_stays_on_device(name, dtype, tol):
    X, Y = correlated_pair(n=200, dx=20, dy=30)
    Xc = torch.as_tensor(X, dtype=dtype, device="cuda")
    Yc = torch.as_tensor(Y, dtype=dtype, device="cuda")
    m = repalign.get(name)
    state = m.prepare(Xc)
    assert all(arr.device.type == "cuda" for arr in state.arrays())
    assert m.pair(state, m.prepare(Yc)) == pytest.approx(m(X, Y), abs=tol)


def test_rsa_kendall_on_cuda():
    X, Y = correlated_pair(n=30)
    Xc, Yc = (torch.as_tensor(a, device="cuda") for a in (X, Y))
    got = repalign.measure("rsa", Xc, Yc, compare="kendall_tau_a")
    assert got == pytest.approx(repalign.measure("rsa", X, Y, compare="kendall_tau_a"), abs=1e-12)
    assert np.isfinite(got)


def test_grid_of_cuda_tensors_agrees_with_numpy():
    rng = np.random.default_rng(0)
    reps = {f"m/l{k}": rng.standard_normal((300, 20 + 10 * k)) for k in range(4)}
    cuda = {k: torch.as_tensor(v, device="cuda") for k, v in reps.items()}
    expected = repalign.grid(reps, ["cka", "rsa", "procrustes"]).rows
    got = repalign.grid(cuda, ["cka", "rsa", "procrustes"]).rows
    assert [r["hash_a"] for r in got] == [r["hash_a"] for r in expected]
    for g, e in zip(got, expected):
        assert g["value"] == pytest.approx(e["value"], abs=1e-7)
