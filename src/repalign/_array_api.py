"""The array namespace and device of the inputs, and conversion to NumPy at the edge.

Every numeric function in repalign is written once against the Python array API
standard: it asks its inputs for their namespace (``xp``) and device and uses
only that namespace, so NumPy arrays run on the CPU and torch tensors run where
they live, GPU included. Nothing here imports torch; libraries are detected
lazily by :mod:`array_api_compat`.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "namespace_and_device",
    "to_numpy",
    "floating_dtype",
]


def namespace_and_device(*arrays: Any, names: tuple[str, ...] | None = None):
    """Return the array namespace and device shared by ``arrays``.

    Parameters
    ----------
    *arrays : arrays
        Arrays of one library on one device.
    names : tuple of str, optional
        The argument names of ``arrays``, used in error messages.

    Returns
    -------
    xp : module
        The array-API-compatible namespace (``array_api_compat.numpy`` for NumPy).
    device : object
        The device of the arrays.

    Raises
    ------
    TypeError
        If the arrays come from different libraries.
    ValueError
        If the arrays live on different devices.
    """
    names = names or tuple(f"argument {i}" for i in range(len(arrays)))
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError as err:
        kinds = ", ".join(f"{n} is {type(a).__module__}.{type(a).__name__}"
                          for n, a in zip(names, arrays))
        raise TypeError(
            f"{' and '.join(names)} must be arrays of one library; got {kinds}. "
            "Convert them to the same library (e.g. both NumPy or both torch) first."
        ) from err
    devices = [array_api_compat.device(a) for a in arrays]
    for name, dev in zip(names[1:], devices[1:]):
        if dev != devices[0]:
            raise ValueError(
                f"{names[0]} is on device {devices[0]!r} but {name} is on device "
                f"{dev!r}; move them to one device first."
            )
    return xp, devices[0]


def to_numpy(x, xp=None) -> np.ndarray:
    """Copy an array of any supported library to a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if xp is None:
        xp = array_api_compat.array_namespace(x)
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(x):  # pragma: no cover - needs CuPy
        return x.get()
    if array_api_compat.is_array_api_strict_namespace(xp):
        # array_api_strict refuses implicit host copies from its fake devices.
        x = x.to_device(xp.Device("CPU_DEVICE"))
    return np.asarray(x)


def floating_dtype(xp, dtype):
    """The floating dtype an input of ``dtype`` is computed in.

    float32 and float64 are kept; half precision (float16, bfloat16) becomes
    float32, as its 11-bit (8-bit) mantissa cannot hold the sums and products
    of a comparison (its sums overflow at 65504, and linear algebra libraries
    do not support it); integers and booleans become float64, the library default.
    """
    if xp.isdtype(dtype, "real floating"):
        return dtype if xp.finfo(dtype).bits >= 32 else xp.float32
    return xp.float64

