"""scikit-learn's bundled digits as a repalign dataset."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import repalign
from repalign.datasets import DigitsData, digits

pytest.importorskip("sklearn")


def test_shapes_and_first_image():
    d = digits()
    assert isinstance(d, DigitsData)
    assert d.images.shape == (1797, 8, 8) and d.data.shape == (1797, 64)
    assert d.images.dtype == d.data.dtype == np.float64 and d.target.dtype == np.int64
    np.testing.assert_array_equal(d.data, d.images.reshape(1797, 64))
    np.testing.assert_array_equal(d.target_names, np.arange(10))
    np.testing.assert_array_equal(d.target[:10], np.arange(10))
    np.testing.assert_array_equal(np.bincount(d.target),
                                  [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    assert d.data.min() == 0 and d.data.max() == 16
    # The first image, a zero, as printed in scikit-learn's documentation.
    np.testing.assert_array_equal(d.images[0, :2], [[0, 0, 5, 13, 9, 1, 0, 0],
                                                    [0, 0, 13, 15, 10, 15, 5, 0]])
    assert "Alpaydin" in d.citation


def test_usable_as_a_representation():
    d = digits()
    # Pixels against the one-hot labels: RSA is clearly positive.
    onehot = np.eye(10)[d.target[:300]]
    assert repalign.measure("rsa", d.data[:300], onehot, rdm="euclidean") > 0.2


def test_missing_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"scikit-learn is not installed.*pip install"):
        digits()


def test_exported():
    assert repalign.datasets.digits is digits and "digits" in repalign.datasets.__all__
