"""Shared fixtures: the array-library matrix every measure runs on.

Each backend is (library, dtype, device): NumPy float64; torch on the CPU in
float64 and float32; array_api_strict on a fake second device, which catches
device mix-ups on a CPU-only machine; and CUDA when a GPU is present.
"""

from __future__ import annotations

import numpy as np
import pytest

try:
    import torch
except ImportError:  # pragma: no cover - torch is a test dependency
    torch = None

try:
    import array_api_strict
except ImportError:  # pragma: no cover
    array_api_strict = None


def _backends():
    out = [("numpy", "float64")]
    if torch is not None:
        out += [("torch", "float64"), ("torch", "float32")]
        if torch.cuda.is_available():  # pragma: no cover - needs a GPU
            out += [("cuda", "float64"), ("cuda", "float32")]
    if array_api_strict is not None:
        out += [("array_api_strict", "float64")]
    return out


BACKENDS = _backends()


def to_backend(x: np.ndarray, backend: tuple[str, str]):
    """``x`` converted to ``backend`` = (library, dtype)."""
    lib, dtype = backend
    if lib == "numpy":
        return x.astype(dtype)
    if lib in ("torch", "cuda"):
        device = "cuda" if lib == "cuda" else "cpu"
        return torch.as_tensor(x, dtype=getattr(torch, dtype), device=device)
    return array_api_strict.asarray(x.astype(dtype), device=array_api_strict.Device("device1"))


def tolerance(backend) -> float:
    """Agreement expected with the NumPy float64 value (float32: a few 1e-5)."""
    return 2e-4 if backend[1] == "float32" else 1e-9


@pytest.fixture(params=BACKENDS, ids=lambda b: "-".join(b))
def backend(request):
    return request.param


def correlated_pair(n=40, dx=5, dy=7, seed=0, noise=0.5):
    """A representation X and a nonlinearly related, noisy Y of the same stimuli."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx))
    Y = np.tanh(X @ rng.standard_normal((dx, dy))) + noise * rng.standard_normal((n, dy))
    return X, Y


def random_orthogonal(d, rng):
    """A Haar-random orthogonal matrix (QR of a Gaussian with sign correction)."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))
