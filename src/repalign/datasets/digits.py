"""scikit-learn's bundled handwritten digits (8 x 8 images of 0-9)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["digits", "DigitsData"]

_CITATION = (
    "Alpaydin & Kaynak (1998). Optical Recognition of Handwritten Digits. UCI Machine "
    "Learning Repository, doi:10.24432/C50P49 (CC-BY 4.0); the test set as bundled with "
    "scikit-learn (sklearn.datasets.load_digits, BSD-3-Clause)."
)


@dataclass(frozen=True)
class DigitsData:
    """The 1797 handwritten digits of scikit-learn's ``load_digits``.

    Attributes
    ----------
    images : ndarray of float64, shape (1797, 8, 8)
        Each digit as an 8 x 8 image of counts 0..16 (the number of set pixels
        in each 4 x 4 block of a 32 x 32 bitmap).
    data : ndarray of float64, shape (1797, 64)
        The images flattened row by row: a representation of shape
        (n_stimuli, n_features).
    target : ndarray of int64, shape (1797,)
        The digit (0-9) each image shows.
    target_names : ndarray of int64, shape (10,)
        The ten classes, ``0 .. 9``.
    citation : str
    """

    images: np.ndarray
    data: np.ndarray
    target: np.ndarray
    target_names: np.ndarray
    citation: str = _CITATION


def digits() -> DigitsData:
    """Load scikit-learn's bundled handwritten digits (no download).

    Returns
    -------
    DigitsData

    Raises
    ------
    ImportError
        If scikit-learn is not installed (it is in the ``demo`` and ``test``
        extras).

    References
    ----------
    Alpaydin & Kaynak (1998). Optical Recognition of Handwritten Digits. UCI
    Machine Learning Repository.

    Examples
    --------
    >>> import repalign
    >>> d = repalign.datasets.digits()
    >>> d.images.shape, d.data.shape, d.target[:5].tolist()
    ((1797, 8, 8), (1797, 64), [0, 1, 2, 3, 4])
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError(
            "digits() loads scikit-learn's bundled copy of the data, but scikit-learn is not "
            "installed; install it with `pip install scikit-learn` (or repalign[demo])"
        ) from err
    bunch = load_digits()
    return DigitsData(
        images=np.asarray(bunch.images, dtype=np.float64),
        data=np.asarray(bunch.data, dtype=np.float64),
        target=np.asarray(bunch.target, dtype=np.int64),
        target_names=np.asarray(bunch.target_names, dtype=np.int64),
    )
