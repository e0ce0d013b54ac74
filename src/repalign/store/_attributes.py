"""The attributes of a stored array: its content hash, validated user attributes, provenance.

This module's one job is what an activation array records about itself: the
SHA-256 :func:`content_hash` of its values and the fingerprint of the chunk
files it was computed from, the user attributes (validated and JSON-normalised,
with the reserved and the identity names), the creation time (which orders a
store's arrays) and the repalign version.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["content_hash"]

#: Attributes repalign sets itself; users cannot pass them.
_RESERVED = ("model", "layer", "dtype", "content_hash", "created", "created_ns",
             "chunk_fingerprint", "repalign_version", "complete")
#: Attributes that describe what was computed; a resumed writer must repeat them.
_IDENTITY = ("pooling", "stimulus_set", "stimulus_ids")


def _hash_update(h, block: np.ndarray) -> None:
    block = np.ascontiguousarray(block, dtype=block.dtype.newbyteorder("<"))
    h.update(block.data)


def content_hash(array) -> str:
    """SHA-256 of an array's values, as stored: C order, little-endian, its own dtype.

    Equal to the ``content_hash`` attribute of an array in an
    :class:`ActivationStore` holding the same values in the same dtype.

    Parameters
    ----------
    array : array of shape (n_stimuli, n_features)

    Returns
    -------
    str
        64 hexadecimal digits.

    Examples
    --------
    >>> content_hash(np.zeros((2, 3), dtype=np.float32))[:12]
    '9d908ecfb6b2'
    """
    h = hashlib.sha256()
    _hash_update(h, np.asarray(array))
    return h.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _check_attrs(attrs: Mapping | None, n_stimuli: int) -> dict:
    """Validate user attributes; return them JSON-normalised (tuples become lists)."""
    if attrs is None:
        attrs = {}
    if not isinstance(attrs, Mapping):
        raise TypeError(f"attrs must be a dict or None; got {type(attrs).__name__}")
    out = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(f"attribute names must be str; got {type(key).__name__} {key!r}")
        if key in _RESERVED:
            raise ValueError(
                f"attribute {key!r} is set by repalign and cannot be given; "
                f"reserved names are {list(_RESERVED)}"
            )
        if key in ("pooling", "stimulus_set") and value is not None and not isinstance(value, str):
            raise TypeError(f"attribute {key!r} must be a str or None; got {type(value).__name__}")
        if key == "stimulus_ids" and value is not None:
            value = _check_stimulus_ids(value, n_stimuli)
        try:
            out[key] = json.loads(json.dumps(value, default=_json_default))
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"attribute {key!r} must be JSON-serialisable (str, number, bool, None, "
                f"list, dict); got {type(value).__name__}: {err}"
            ) from err
    for key in _IDENTITY:
        out.setdefault(key, None)
    return out


def _check_stimulus_ids(ids: Any, n_stimuli: int) -> list:
    if isinstance(ids, np.ndarray):
        ids = ids.tolist()
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise TypeError(
            f"stimulus_ids must be a list of str or int, one per stimulus; "
            f"got {type(ids).__name__}"
        )
    if len(ids) != n_stimuli:
        raise ValueError(
            f"stimulus_ids has {len(ids)} entries but the array has {n_stimuli} stimuli "
            f"(rows); give one id per row, in row order"
        )
    for item in ids:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise TypeError(
                f"stimulus_ids must hold str or int; got {type(item).__name__} {item!r}"
            )
    return list(ids)


_clock = threading.Lock()
_last_ns = 0


def _creation_time() -> tuple[int, str]:
    """``(created_ns, created)``: now, in nanoseconds since the epoch and in ISO 8601 (UTC).

    ``created_ns`` increases strictly from one call to the next within a process
    (even when the system clock steps back or ticks coarsely), so the arrays one
    process creates are ordered as it created them; ``created`` is the same
    instant to the second.
    """
    global _last_ns
    with _clock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        ns = _last_ns
    iso = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return ns, iso.isoformat(timespec="seconds")


def _natural(text: str) -> tuple:
    """Sort key reading runs of digits as numbers: ``"blocks.2"`` before ``"blocks.10"``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", text) if part)


def _order_key(attrs: Mapping, model: str, layer: str) -> tuple:
    """Where an array comes in its store's listing: the order in which arrays were created.

    Arrays record ``created`` (to the second) and, since repalign records it,
    ``created_ns``; arrays of older stores without ``created_ns`` that share a
    second come in natural order of their names.
    """
    created_ns = attrs.get("created_ns")
    return (str(attrs.get("created") or ""),
            created_ns if isinstance(created_ns, int) else -1,
            _natural(model), _natural(layer))


def _chunk_fingerprint(folder: Path, n_chunks: int) -> str:
    """A digest of the chunk files' identities: inode, size and modification time (ns).

    Any rewrite of a chunk file (repalign and zarr write a new file and rename it
    over the old one: a new inode) changes it, so a content hash recorded with
    the fingerprint is known to be stale when the fingerprint no longer matches.
    A missing chunk counts as ``-``.
    """
    h = hashlib.sha256()
    for i in range(n_chunks):
        try:
            st = os.stat(folder / "c" / str(i) / "0")
        except FileNotFoundError:
            h.update(f"{i}:-;".encode())
            continue
        h.update(f"{i}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()


def _hash_rows(array, chunk_size: int) -> str:
    """:func:`content_hash` of a (zarr) array, read ``chunk_size`` rows at a time."""
    h = hashlib.sha256()
    n = int(array.shape[0])
    for start in range(0, n, chunk_size):
        _hash_update(h, np.asarray(array[start:min(start + chunk_size, n), :]))
    return h.hexdigest()


def _version() -> str:
    from .._version import __version__

    return __version__
