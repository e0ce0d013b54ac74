"""On-disk stores: :class:`ActivationStore` (Zarr) for model activations and
:class:`ResultStore` (SQLite) for comparison results.

The store classes import their storage libraries (zarr, dask) only when first
used, so ``import repalign.store`` stays light.
"""

from __future__ import annotations

import importlib

__all__ = ["ActivationStore", "ActivationWriter", "ResultStore", "Store"]

_LAZY = {
    "ActivationStore": "repalign.store.activations",
    "ActivationWriter": "repalign.store.activations",
    "ResultStore": "repalign.store.results",
    "Store": "repalign.store._base",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
