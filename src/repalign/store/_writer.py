"""The atomic, resumable batch writer: :class:`ActivationWriter` fills one array chunk by chunk.

This module's one job is filling one array of an activation store: one chunk
per batch of stimuli, each published whole (the store's files are atomic), the
chunks on disk telling a resumed run where to start, and :meth:`~ActivationWriter.finalize`
recording the content hash and marking the array complete.

A writer writes only into the array it was made for, and only while that array
is incomplete: each :meth:`~ActivationWriter.write_chunk` and
:meth:`~ActivationWriter.finalize` holds the array's lock (:mod:`._lock`) and
first checks, on disk, that the array is still the one it opened (its
``created_ns``) and not complete. So a stale writer (another writer finalized
the array, or the array was deleted or replaced since) cannot change the chunks
of a complete array under its recorded content hash.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ._arrays import _as_numpy, _cast
from ._attributes import _chunk_fingerprint, _hash_rows
from ._layout import _read_json

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

    import zarr

__all__ = ["ActivationWriter"]


class ActivationWriter:
    """Fills one array of an :class:`ActivationStore`, chunk by chunk; resumable.

    Made by :meth:`ActivationStore.writer`. Each :meth:`write_chunk` publishes a
    whole chunk atomically: a process killed at any moment leaves that chunk
    either absent or whole, and :meth:`done_chunks` (the chunk files present)
    tells a resumed run which batches to skip. :meth:`finalize` records the
    content hash and marks the array complete.

    Attributes
    ----------
    model, layer : str
    n_stimuli, n_features, chunk_size, n_chunks : int
    dtype : numpy.dtype
    finalized : bool
    """

    def __init__(self, folder: Path, check_writable: Callable[[str], None], model: str,
                 layer: str, array: zarr.Array, attrs: dict,
                 lock: Callable[[], AbstractContextManager], identity: tuple):
        self._check_writable = check_writable  # the store's: open and not read-only
        self._array = array
        self._attrs = attrs
        self._lock = lock  # the array's lock, across processes
        self._identity = identity  # (created_ns, created) of the array this writer fills
        self.model = model
        self.layer = layer
        self.n_stimuli, self.n_features = (int(s) for s in array.shape)
        self.chunk_size = int(array.chunks[0])
        self.n_chunks = math.ceil(self.n_stimuli / self.chunk_size)
        self.dtype = np.dtype(array.dtype)
        self.finalized = False
        self._folder = folder

    def __repr__(self) -> str:
        return (f"ActivationWriter(model={self.model!r}, layer={self.layer!r}, "
                f"shape=({self.n_stimuli}, {self.n_features}), chunk_size={self.chunk_size}, "
                f"done={len(self.done_chunks())}/{self.n_chunks})")

    def _check_index(self, index: Any) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int; got {type(index).__name__} {index!r}")
        if not 0 <= index < self.n_chunks:
            raise ValueError(
                f"index must be in [0, {self.n_chunks}) ({self.n_stimuli} stimuli in chunks "
                f"of {self.chunk_size}); got {index}"
            )
        return int(index)

    def _check_active(self, action: str) -> None:
        self._check_writable(action)
        if self.finalized:
            raise ValueError(
                f"cannot {action}: the writer for model={self.model!r}, "
                f"layer={self.layer!r} was already finalized"
            )

    def _check_current(self, action: str) -> None:
        """Raise unless the array on disk is still this writer's, and incomplete.

        Called with the array's lock held.
        """
        meta = _read_json(self._folder / "zarr.json")
        attrs = (meta or {}).get("attributes", {})
        if (meta is None or meta.get("node_type") != "array"
                or (attrs.get("model"), attrs.get("layer")) != (self.model, self.layer)
                or (attrs.get("created_ns"), attrs.get("created")) != self._identity):
            raise ValueError(
                f"cannot {action}: the array model={self.model!r}, layer={self.layer!r} "
                f"this writer was filling was deleted or replaced since (by store.delete, "
                f"store.add or another process); nothing was written. Start a new writer "
                f"with store.writer(...) to fill the array now stored"
            )
        if attrs.get("complete"):
            raise ValueError(
                f"cannot {action}: model={self.model!r}, layer={self.layer!r} is already "
                f"complete (another writer finalized it since this one started); its chunks "
                f"cannot change under its content hash. Delete it first with "
                f"store.delete({self.model!r}, {self.layer!r}) to write it again"
            )

    def chunk_slice(self, index: int) -> slice:
        """The rows of chunk ``index``: ``slice(index * chunk_size, ...)``."""
        index = self._check_index(index)
        start = index * self.chunk_size
        return slice(start, min(start + self.chunk_size, self.n_stimuli))

    def done_chunks(self) -> set[int]:
        """Indices of the chunks already on disk (written by this or an earlier run)."""
        return {i for i in range(self.n_chunks)
                if (self._folder / "c" / str(i) / "0").is_file()}

    def write_chunk(self, index: int, array) -> None:
        """Write the rows of chunk ``index``, atomically.

        Parameters
        ----------
        index : int
            In ``[0, n_chunks)``.
        array : array of shape (rows, n_features)
            ``rows`` is ``chunk_size``, or what is left for the last chunk. Cast to
            the store dtype. Writing a chunk again replaces it.
        """
        self._check_active("write")
        sl = self.chunk_slice(index)
        X = _as_numpy(array, "array")
        expected = (sl.stop - sl.start, self.n_features)
        if X.shape != expected:
            raise ValueError(
                f"chunk {index} must have shape {expected} (rows {sl.start}..{sl.stop - 1}); "
                f"got {X.shape}"
            )
        X = _cast(X, self.dtype, "array")
        with self._lock():
            self._check_current("write")
            self._array[sl, :] = X

    def finalize(self) -> str:
        """Check every chunk is written, record the content hash, mark complete.

        Returns
        -------
        str
            The content hash (:func:`content_hash` of the whole array).

        Raises
        ------
        ValueError
            If chunks are missing (the message lists them), or the array was
            finalized by another writer, or deleted or replaced, since this writer
            started.

        Notes
        -----
        The hash is computed from the chunks on disk while the array's lock is
        held, so no writer changes a chunk between the hash and the ``complete``
        mark; the chunk files' fingerprint is recorded with it, so that a chunk
        changed afterwards outside repalign is noticed
        (:meth:`ActivationStore.attrs` then recomputes the hash).
        """
        self._check_active("finalize")
        with self._lock():
            self._check_current("finalize")
            missing = sorted(set(range(self.n_chunks)) - self.done_chunks())
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10
                                                            else "")
                raise ValueError(
                    f"cannot finalize model={self.model!r}, layer={self.layer!r}: "
                    f"{len(missing)} of {self.n_chunks} chunks are not written ({shown})"
                )
            digest = _hash_rows(self._array, self.chunk_size)
            fingerprint = _chunk_fingerprint(self._folder, self.n_chunks)
            self._array.update_attributes({**self._attrs, "content_hash": digest,
                                           "chunk_fingerprint": fingerprint, "complete": True})
        self.finalized = True
        return digest
