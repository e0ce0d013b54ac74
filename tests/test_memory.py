"""Measures built on n x n matrices refuse sizes that would not fit in memory."""

from __future__ import annotations

import builtins
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import repalign
from repalign import _memory
from repalign._memory import available_memory, check_square_memory, format_bytes


@pytest.fixture
def little_memory(monkeypatch):
    """Pretend the host has 1 MiB available."""
    monkeypatch.setattr(_memory, "_host_available", lambda: 2**20)


def test_square_measure_refuses_with_needed_and_available(little_memory):
    X = np.random.default_rng(0).standard_normal((3000, 5))
    with pytest.raises(repalign.InsufficientMemoryError) as info:
        repalign.measure("rsa", X, X)
    message = str(info.value)
    # 2 x 3000^2 x 8 B = 137.3 MiB; 2 x 256^2 x 8 B = 1 MiB.
    assert "rsa needs about 137.3 MiB for 3000 stimuli (2 matrices of 3000 x 3000" in message
    assert "only 1.0 MiB is available" in message
    assert "Subsample the stimuli (about 256 fit)" in message
    assert "repalign.minibatch_cka" in message and "streaming_measure" in message
    assert isinstance(info.value, MemoryError)


def test_second_argument_is_checked_too(monkeypatch):
    X = np.random.default_rng(0).standard_normal((2200, 5))  # 2.5 x 2200^2 x 8 B > 64 MiB
    calls = []
    monkeypatch.setattr(_memory, "_host_available", lambda: calls.append(1) or 2**40)
    repalign.measure("mutual_knn", X, X**3)
    assert len(calls) == 2  # one check per prepared representation


def test_linear_cka_feature_form_is_never_refused(little_memory):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 5))
    assert repalign.measure("cka", X, X**3) > 0
    with pytest.raises(repalign.InsufficientMemoryError, match="cka needs about"):
        repalign.measure("cka", X, X, kernel="rbf")
    wide = rng.standard_normal((3000, 3100))  # d >= n: the n x n Gram form
    with pytest.raises(repalign.InsufficientMemoryError, match="cka needs about"):
        repalign.measure("cka", wide, wide)


def test_minibatch_cka_checks_its_batch(little_memory):
    X = np.random.default_rng(0).standard_normal((1500, 5))
    with pytest.raises(repalign.InsufficientMemoryError, match="minibatch_cka needs about"):
        repalign.minibatch_cka(X, X, batch_size=1500)
    assert repalign.minibatch_cka(X, X, batch_size=50) == pytest.approx(1.0)


def test_torch_cpu_tensors_use_host_memory(little_memory):
    torch = pytest.importorskip("torch")
    X = torch.as_tensor(np.random.default_rng(0).standard_normal((3000, 5)))
    assert available_memory(X) == 2**20
    with pytest.raises(repalign.InsufficientMemoryError):
        repalign.measure("rsa", X, X)


def test_check_square_memory_passes_when_it_fits_or_is_unknown(monkeypatch, little_memory):
    check_square_memory("m", 1000, 4.0, 8)  # 30.5 MiB: below 64 MiB nothing is asked
    with pytest.raises(repalign.InsufficientMemoryError):
        check_square_memory("m", 1500, 4.0, 8)
    monkeypatch.setattr(_memory, "_host_available", lambda: None)
    check_square_memory("m", 10**7, 3.0, 8)  # unknown memory: nothing refused


def test_available_memory_fallbacks(monkeypatch):
    real = available_memory()
    assert real is not None and real > 0
    monkeypatch.setitem(sys.modules, "psutil", None)  # "import psutil" raises ImportError
    meminfo = _memory._host_available()
    assert meminfo is not None and abs(meminfo - real) < 0.5 * real

    real_open = builtins.open

    def no_proc(path, *args, **kwargs):
        if str(path) == "/proc/meminfo":
            raise OSError("no /proc")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    sysconf = _memory._host_available()
    assert sysconf is not None and sysconf > 0


@pytest.mark.parametrize("n, text", [(512, "512 B"), (3 * 2**30, "3.0 GiB"),
                                     (1.5 * 2**20, "1.5 MiB"), (2**50, "1024.0 TiB")])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def _variants():
    for info in repalign.list_measures():
        yield repalign.get(info.name)
    yield repalign.get("cka", kernel="rbf")
    yield repalign.get("cka", estimator="unbiased")


def _peak(measure, X):
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            measure.prepare(X)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", [(1200, 10), (300, 400)])
def test_declared_square_arrays_cover_the_measured_peak(shape):
    """The count each measure declares bounds what its prepare really allocates.

    Measures declaring none must not grow as n^2 at all (their peak is a small
    fraction of one n x n matrix when n >> d); the others must stay within their
    declared number of n x n matrices plus a few copies of the input.
    """
    n, d = shape
    X = np.random.default_rng(0).standard_normal(shape)
    for m in _variants():
        if n < d and not m._square_arrays(n, d):
            continue  # below d, n^2 < n d: nothing to check (and ridge, pls are slow traced)
        m.prepare(X[:50])  # warm up lazy imports and caches
        peak = _peak(m, X)
        declared = m._square_arrays(n, d)
        if declared:
            assert peak <= (declared * n * n + 4 * n * d) * 8, (m.name, m.params, peak / (n * n * 8))
        elif n > d:
            assert peak < 0.5 * n * n * 8, (m.name, m.params, peak / (n * n * 8))
