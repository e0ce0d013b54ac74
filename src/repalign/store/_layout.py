"""Where an activation store keeps what, and what its models and layers may be named.

This module's one job is the on-disk layout of an :class:`~repalign.ActivationStore`
directory: the root group's identity (kind and format version), the trash
folder, reading a ``zarr.json``, and the escaping of model and layer names into
path components (:func:`encode_name`, :func:`decode_name`) with their validation.

Layout of a store directory::

    store/zarr.json                      root group (attribute repalign_store)
    store/<model>/zarr.json              one group per model
    store/<model>/<layer>/zarr.json      one array per (model, layer), with its attributes
    store/<model>/<layer>/c/<i>/0        chunk i: rows [i * chunk_size, (i + 1) * chunk_size)
    store/.trash/                        arrays being deleted (emptied on the next open)
    store/.locks/<digest>.lock           one empty lock file per (model, layer) ever written

``<model>`` and ``<layer>`` are the names escaped by :func:`encode_name`.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

__all__ = ["decode_name", "encode_name"]

_STORE_KIND = "activations"
_FORMAT_VERSION = 1
_TRASH = ".trash"

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def encode_name(name: str) -> str:
    """Escape a model or layer name into one safe path component.

    Letters, digits, ``-``, ``_`` and ``.`` are kept; every other character
    (``/``, ``%``, spaces, non-ASCII) becomes ``%XX`` for each byte of its UTF-8
    encoding, as in URLs. A leading ``.`` or ``_`` is escaped too (no hidden files,
    no ``.``/``..``, no names Zarr reserves), and so is the first letter of a name
    that would read ``zarr.json``. :func:`decode_name` inverts it.

    Parameters
    ----------
    name : str
        A non-empty model or layer name, e.g. ``"encoder.layer.0"``.

    Returns
    -------
    str

    Examples
    --------
    >>> encode_name("encoder.layer.0")
    'encoder.layer.0'
    >>> encode_name("runs/resnet 50")
    'runs%2Fresnet%2050'
    >>> decode_name(encode_name("../x%y"))
    '../x%y'
    """
    out = []
    for i, ch in enumerate(name):
        if ch in _SAFE and not (i == 0 and ch in "._"):
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
    encoded = "".join(out)
    if encoded.lower() == "zarr.json":
        encoded = f"%{ord(encoded[0]):02X}{encoded[1:]}"
    return encoded


def decode_name(component: str) -> str:
    """Invert :func:`encode_name`."""
    return urllib.parse.unquote(component, errors="strict")


def _check_name(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {type(value).__name__} {value!r}")
    if not value:
        raise ValueError(f"{name} must be a non-empty string; got ''")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{name} must be valid Unicode text; got {value!r}, whose character "
            f"{value[err.start]!r} at position {err.start} is a lone surrogate (a name "
            f"decoded with errors='surrogateescape'?)"
        ) from None
    if len(encode_name(value).encode()) > 255:
        raise ValueError(
            f"{name} is too long: {len(value)} characters escape to more than the 255 "
            f"bytes a file name may have; got {value[:40]!r}..."
        )
    return value


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return None
