"""The arrays an activation store accepts: conversion to NumPy, dtypes, counts, casting.

This module's one job is checking what is given to be stored: any array
(NumPy, torch, array-API) as a real-valued NumPy array, the floating dtype to
store, positive counts (stimuli, features, chunk sizes), and the cast to the
stored dtype that refuses overflow.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

from .._array_api import to_numpy


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be a NumPy floating dtype; got {dtype!r}") from err
    if dt.kind != "f":
        raise ValueError(
            f"dtype must be a floating dtype ('float16', 'float32' or 'float64'); got {dt}"
        )
    return np.dtype(dt.name)  # native byte order


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {value}")
    return int(value)


def _as_numpy(X: Any, name: str) -> np.ndarray:
    if array_api_compat.is_array_api_obj(X) and not isinstance(X, np.ndarray):
        X = to_numpy(X)
    try:
        X = np.asarray(X)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array; got {type(X).__name__}") from err
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)
            or X.dtype == bool):
        raise TypeError(f"{name} must hold real numbers; got dtype {X.dtype}")
    return X


def _cast(X: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(X, dtype=dtype)
    if X.dtype.kind == "f" and X.dtype.itemsize > dtype.itemsize:
        overflow = np.isinf(out) & np.isfinite(X)
        if overflow.any():
            raise ValueError(
                f"{name} has {int(overflow.sum())} value(s) beyond the range of {dtype} "
                f"(largest {np.finfo(dtype).max:.3g}); store it with dtype='float64'"
            )
    return out
