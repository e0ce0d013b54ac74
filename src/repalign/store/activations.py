"""Model activations on disk: one Zarr v3 array per (model, layer).

:class:`ActivationStore` keeps representations of shape (n_stimuli, n_features)
in a Zarr v3 directory so that nothing is recomputed or lost.
:class:`ActivationWriter` fills one array chunk by chunk (one chunk = one batch
of stimuli), survives being killed at any moment and resumes where it stopped.

This module's one job is the store itself: opening or creating a store
directory, listing, reading, adding and deleting arrays, and starting or
resuming writers. The rest lives beside it, one job a module:

- :mod:`._layout`: the directory layout, and the escaping of model and layer
  names (:func:`encode_name`, :func:`decode_name`);
- :mod:`._atomic`: atomic files (temporary file, fsync, rename);
- :mod:`._attributes`: the content hash (:func:`content_hash`) and the
  attributes of an array;
- :mod:`._arrays`: the arrays, dtypes and counts a store accepts;
- :mod:`._lock`: the lock of each array, across processes;
- :mod:`._writer`: :class:`ActivationWriter`, re-exported here.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import zarr
from zarr.errors import ContainsGroupError

from ._arrays import _as_numpy, _cast, _check_count, _check_dtype
from ._atomic import _TMP_SUFFIX, _AtomicLocalStore
from ._attributes import (
    _IDENTITY,
    _check_attrs,
    _chunk_fingerprint,
    _creation_time,
    _hash_rows,
    _order_key,
    _version,
    content_hash,
)
from ._base import Store
from ._layout import (
    _FORMAT_VERSION,
    _STORE_KIND,
    _TRASH,
    _check_name,
    _read_json,
    decode_name,
    encode_name,
)
from ._lock import _LOCKS, _array_lock
from ._writer import ActivationWriter

__all__ = [
    "ActivationStore",
    "ActivationWriter",
    "content_hash",
    "decode_name",
    "encode_name",
]

_DEFAULT_CHUNK_BYTES = 4 * 2**20


class ActivationStore(Store):
    """Activations on disk: a Zarr v3 directory with one array per (model, layer).

    Each array has shape (n_stimuli, n_features), float32 unless asked otherwise,
    and is chunked along stimuli only (a chunk holds ``chunk_size`` whole rows).
    Its attributes record ``model``, ``layer``, ``pooling``, ``dtype``,
    ``stimulus_set`` (an id of the stimulus set), ``stimulus_ids`` (one per row, or
    None), ``content_hash`` (see :func:`content_hash`), ``created`` (ISO 8601, UTC,
    when the array was started) and ``created_ns`` (the same instant in
    nanoseconds, strictly increasing within a process: the array's place in the
    store's order), ``repalign_version`` and any user attributes
    (JSON-serialisable values).

    Parameters
    ----------
    path : str or os.PathLike
        The store directory. With ``mode="a"`` it is created if missing.
    mode : {"r", "a"}, default="r"
        ``"r"`` reads only; ``"a"`` reads and writes (creating the store).
    fsync : bool, default=True
        Flush every file to disk before it is published, so that a power cut, not
        only a killed process, leaves whole chunks. Costs a few milliseconds a chunk.

    Attributes
    ----------
    path : pathlib.Path
    mode : str

    Notes
    -----
    **Atomicity.** Every file (chunk or metadata) is written to a temporary file
    in its directory and renamed into place, so a process killed at any moment
    leaves each chunk absent or whole. An array is complete only once
    :meth:`ActivationWriter.finalize` (or :meth:`add`) has rewritten its metadata,
    in one atomic write, with ``complete: true`` and the content hash. Incomplete
    arrays are not listed and cannot be read; ``writer`` with the same shape
    resumes them. The chunks already written are the chunk files present, so
    progress is recorded as soon as a chunk is.

    **Order.** The store keeps the order in which its arrays were created:
    :meth:`list` gives them in that order (for an extraction, the network's order
    of its layers, ``blocks.2`` before ``blocks.10``), and so do a grid of the
    store and its figures. The order is recorded in each array (``created``,
    ``created_ns``), so it survives closing and reopening; a deleted array created
    again comes last. Arrays of stores written before ``created_ns`` was recorded
    are ordered by ``created`` (to the second), then by their names in natural
    order.

    **Names.** Model and layer names are any non-empty strings, with ``.`` and
    ``/`` allowed (``"encoder.layer.0"``, ``"runs/resnet50"``); on disk they are
    escaped by :func:`encode_name`, and read back from the array attributes. On a
    case-insensitive file system two names differing only in case collide; this
    is detected and refused.

    **Writers and content hashes.** Each array has a lock (an advisory file lock
    in ``.locks``, released by the operating system when its holder dies), held
    while an array is started, replaced or deleted, while a chunk is written and
    while a writer finalizes. A writer writes only into the array it started
    (the array's ``created_ns``) and only while it is incomplete; so several
    processes may write one store at once, two processes filling one array make
    one of them fail with an error, and the chunks of a complete array never
    change under its ``content_hash``. A chunk changed outside repalign (a new
    file) no longer matches the fingerprint of the chunk files recorded with the
    hash; :meth:`attrs` then recomputes the hash from the data, and warns.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = tempfile.mkdtemp()
    >>> X = np.arange(12.0).reshape(4, 3)
    >>> with ActivationStore(path, mode="a") as store:
    ...     digest = store.add("net", "encoder.layer.0", X, pooling="mean")
    ...     store.list()
    [('net', 'encoder.layer.0')]
    >>> ActivationStore(path).read("net", "encoder.layer.0").dtype.name
    'float32'
    """

    def __init__(self, path: str | os.PathLike, mode: str = "r", *, fsync: bool = True):
        if mode not in ("r", "a"):
            raise ValueError(f"mode must be 'r' (read) or 'a' (read and write); got {mode!r}")
        super().__init__(read_only=mode == "r")
        try:
            self.path = Path(os.fspath(path))
        except TypeError as err:
            raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}") \
                from err
        self.mode = mode
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"path {str(self.path)!r} is a file; expected a store directory")
        if mode == "r" and not self.path.exists():
            raise FileNotFoundError(
                f"no activation store at {str(self.path)!r}: the path does not exist "
                f"(open it with mode='a' to create one)"
            )
        root = _read_json(self.path / "zarr.json")
        if root is None and (mode == "r" or self._has_foreign_files()):
            root = _read_json(self.path / "zarr.json")  # another process may have made it
            if root is None:
                raise ValueError(
                    f"{str(self.path)!r} is not an activation store: it has no zarr.json "
                    f"(give an empty or new directory to create one with mode='a')"
                )
        if root is not None:
            self._check_root(root)
        self._zstore = _AtomicLocalStore(self.path, read_only=self.read_only, fsync=fsync)
        if root is None:
            try:
                zarr.open_group(
                    store=self._zstore, mode="a", zarr_format=3,
                    attributes={"repalign_store": _STORE_KIND,
                                "format_version": _FORMAT_VERSION},
                )
            except ContainsGroupError:  # another process created the store meanwhile
                self._check_root(_read_json(self.path / "zarr.json") or {})
        if mode == "a":
            self._empty_trash()

    def _has_foreign_files(self) -> bool:
        """Whether the directory holds anything but what creating a store leaves behind."""
        if not self.path.exists():
            return False
        return any(not (p.name.startswith(".") and p.name.endswith(_TMP_SUFFIX))
                   and p.name not in (_TRASH, _LOCKS) for p in self.path.iterdir())

    def _check_root(self, root: dict) -> None:
        attrs = root.get("attributes", {}) if root.get("node_type") == "group" else {}
        if attrs.get("repalign_store") != _STORE_KIND:
            raise ValueError(
                f"{str(self.path)!r} holds a Zarr hierarchy that is not a repalign "
                f"activation store (its root group lacks repalign_store='{_STORE_KIND}')"
            )
        if attrs.get("format_version", 0) > _FORMAT_VERSION:
            raise ValueError(
                f"{str(self.path)!r} was written by a newer repalign (store format "
                f"{attrs['format_version']}, this version reads {_FORMAT_VERSION}); "
                f"upgrade repalign"
            )

    def __repr__(self) -> str:
        return f"ActivationStore({str(self.path)!r}, mode={self.mode!r})"

    def _close(self) -> None:
        self._zstore.close()

    # --- paths and metadata ------------------------------------------------------------

    def _rel(self, model: str, layer: str) -> str:
        return f"{encode_name(model)}/{encode_name(layer)}"

    def _dir(self, model: str, layer: str) -> Path:
        return self.path / encode_name(model) / encode_name(layer)

    def _meta(self, model: str, layer: str) -> dict | None:
        """The array's zarr.json, or None if there is no array for (model, layer)."""
        _check_name(model, "model")
        _check_name(layer, "layer")
        meta = _read_json(self._dir(model, layer) / "zarr.json")
        if meta is None or meta.get("node_type") != "array":
            return None
        attrs = meta.get("attributes", {})
        if (attrs.get("model"), attrs.get("layer")) != (model, layer):
            raise ValueError(
                f"model={model!r}, layer={layer!r} shares its directory with the stored "
                f"model={attrs.get('model')!r}, layer={attrs.get('layer')!r} (names that "
                f"differ only in case collide on case-insensitive file systems); rename one"
            )
        return meta

    def _n_done(self, meta: dict, model: str, layer: str) -> tuple[int, int]:
        n_stimuli = meta["shape"][0]
        chunk = meta["chunk_grid"]["configuration"]["chunk_shape"][0]
        n_chunks = math.ceil(n_stimuli / chunk)
        folder = self._dir(model, layer)
        done = sum((folder / "c" / str(i) / "0").is_file() for i in range(n_chunks))
        return done, n_chunks

    def _complete_meta(self, model: str, layer: str) -> dict:
        self._check_open()
        meta = self._meta(model, layer)
        if meta is None:
            raise ValueError(
                f"no activations for model={model!r}, layer={layer!r} in "
                f"{str(self.path)!r}; store.list() shows what is stored"
            )
        if not meta["attributes"].get("complete", False):
            shape = meta["shape"]
            chunk = meta["chunk_grid"]["configuration"]["chunk_shape"][0]
            done, n_chunks = self._n_done(meta, model, layer)
            raise ValueError(
                f"activations for model={model!r}, layer={layer!r} are incomplete "
                f"({done} of {n_chunks} chunks written; an extraction was interrupted). "
                f"Resume it by running the extraction again, or with "
                f"store.writer({model!r}, {layer!r}, {shape[0]}, {shape[1]}, "
                f"chunk_size={chunk}, dtype={meta['data_type']!r}); or remove it with "
                f"store.delete({model!r}, {layer!r})"
            )
        return meta

    def _open_array(self, model: str, layer: str, mode: str) -> zarr.Array:
        return zarr.open_array(
            store=self._zstore, path=self._rel(model, layer), mode=mode, zarr_format=3,
            config={"write_empty_chunks": True},
        )

    def _lock(self, model: str, layer: str):
        """The array's lock (a context manager), shared with other processes."""
        return _array_lock(self.path, model, layer)

    def _model_lock(self, model: str):
        """The lock of a model's group folder: held to create an array in it or remove it.

        Taken inside an array's lock, never the other way round.
        """
        return _array_lock(self.path, model, "")

    def _arrays(self, complete: bool) -> list[tuple[str, str]]:
        """(model, layer) of the complete (or incomplete) arrays, in creation order."""
        found = []
        for model_dir in self.path.iterdir():
            if not model_dir.is_dir() or model_dir.name.startswith("."):
                continue
            for layer_dir in model_dir.iterdir():
                meta = _read_json(layer_dir / "zarr.json") if layer_dir.is_dir() else None
                if meta is None or meta.get("node_type") != "array":
                    continue
                attrs = meta.get("attributes", {})
                model, layer = attrs.get("model"), attrs.get("layer")
                if bool(attrs.get("complete")) == complete:
                    found.append((_order_key(attrs, model, layer), model, layer))
        return [(model, layer) for _, model, layer in sorted(found)]

    def _empty_trash(self) -> None:
        shutil.rmtree(self.path / _TRASH, ignore_errors=True)

    def _discard(self, folder: Path) -> None:
        """Remove ``folder`` atomically (rename into the trash), then delete it."""
        trash = self.path / _TRASH
        trash.mkdir(exist_ok=True)
        target = trash / uuid.uuid4().hex
        os.replace(folder, target)
        shutil.rmtree(target, ignore_errors=True)

    # --- reading -----------------------------------------------------------------------

    def list(self) -> list[tuple[str, str]]:
        """The (model, layer) pairs of the complete arrays, in the order they were created.

        Not sorted by name: the order is the order in which the arrays were
        started (:meth:`writer` or :meth:`add`), which for an extraction is the
        network's order of its layers (``blocks.2`` before ``blocks.10``). It is
        recorded in the arrays, so a reopened store lists them in the same order.
        See the class Notes.

        Returns
        -------
        list of (str, str)
        """
        self._check_open()
        return self._arrays(complete=True)

    def incomplete(self) -> list[tuple[str, str]]:
        """The (model, layer) pairs of arrays started but not finalized, in creation order.

        These are interrupted extractions: resume them with :meth:`writer` (same
        shape, chunking and dtype) or remove them with :meth:`delete`.
        """
        self._check_open()
        return self._arrays(complete=False)

    def __contains__(self, key: object) -> bool:
        """``(model, layer) in store``: whether a complete array is stored."""
        if not (isinstance(key, tuple) and len(key) == 2
                and all(isinstance(k, str) and k for k in key)):
            return False
        meta = self._meta(*key)
        return meta is not None and bool(meta["attributes"].get("complete"))

    def read(self, model: str, layer: str, *, verify: bool = False) -> np.ndarray:
        """Load one array into memory.

        Parameters
        ----------
        model, layer : str
        verify : bool, default=False
            Recompute the content hash and raise ``ValueError`` if it differs from
            the stored one (a file changed outside repalign, or disk corruption).

        Returns
        -------
        ndarray of shape (n_stimuli, n_features)
            In the stored dtype.
        """
        meta = self._complete_meta(model, layer)
        X = self._open_array(model, layer, "r")[...]
        if verify:
            stored = meta["attributes"].get("content_hash")
            actual = content_hash(X)
            if actual != stored:
                raise ValueError(
                    f"content hash of model={model!r}, layer={layer!r} does not match: "
                    f"stored {stored}, computed {actual}; the array was changed outside "
                    f"repalign or the disk is corrupt. Delete it and extract it again"
                )
        return X

    def read_lazy(self, model: str, layer: str):
        """The array as a Dask array backed by the Zarr array (nothing is loaded).

        Returns
        -------
        dask.array.Array of shape (n_stimuli, n_features)
            With Dask chunks equal to the Zarr chunks.
        """
        import dask.array as da

        self._complete_meta(model, layer)
        return da.from_zarr(self._open_array(model, layer, "r"))

    def attrs(self, model: str, layer: str) -> dict:
        """The attributes of one complete array.

        Returns
        -------
        dict
            ``model``, ``layer``, ``pooling``, ``dtype``, ``stimulus_set``,
            ``stimulus_ids``, ``content_hash``, ``created``, ``created_ns``,
            ``repalign_version`` and the user attributes.

        Notes
        -----
        ``content_hash`` is the hash of the values now on disk: if a chunk file
        changed since the array was finalized (written outside repalign, or the
        store was copied without keeping file times), the fingerprint recorded
        with the hash no longer matches, and the hash is recomputed from the data
        (reading the whole array) with a warning. In a store opened with
        ``mode="a"``, when the values are still those of the stored hash (a copied
        store), the files' new fingerprint is recorded, so that the data is not
        hashed again. Arrays finalized before the fingerprint was recorded keep
        their stored hash.
        """
        meta = self._complete_meta(model, layer)
        out = {k: v for k, v in meta["attributes"].items()
               if k not in ("complete", "chunk_fingerprint")}
        out["content_hash"] = self._current_hash(meta, model, layer)
        return out

    def _current_hash(self, meta: dict, model: str, layer: str) -> str:
        """The stored content hash, or the hash recomputed if the chunks changed since."""
        attrs = meta["attributes"]
        stored, recorded = attrs.get("content_hash"), attrs.get("chunk_fingerprint")
        if recorded is None:  # finalized before fingerprints were recorded
            return stored
        chunk = meta["chunk_grid"]["configuration"]["chunk_shape"][0]
        n_chunks = math.ceil(meta["shape"][0] / chunk)
        if _chunk_fingerprint(self._dir(model, layer), n_chunks) == recorded:
            return stored
        digest = _hash_rows(self._open_array(model, layer, "r"), chunk)
        if digest == stored:
            changed = "its values are the same"
            if not self.read_only:
                self._record_fingerprint(model, layer, meta, n_chunks)
                changed += "; the files' new identities are recorded"
        else:
            changed = "its values changed"
        warnings.warn(
            f"ActivationStore: the chunk files of model={model!r}, layer={layer!r} changed "
            f"since it was finalized (written outside repalign, or copied without their "
            f"file times); its content hash was recomputed from the data ({changed}). "
            f"read(..., verify=True) tells whether the values still match the stored hash",
            UserWarning, stacklevel=3,
        )
        return digest

    def _record_fingerprint(self, model: str, layer: str, meta: dict, n_chunks: int) -> None:
        """Record the chunk files' fingerprint again, their values being those hashed.

        For a store copied without its file times: its next reads need not hash
        the data again. Nothing is written if the array changed meanwhile.
        """
        with self._lock(model, layer):
            now = self._meta(model, layer)
            if now is None or now["attributes"] != meta["attributes"]:
                return
            array = self._open_array(model, layer, "r+")
            if _hash_rows(array, array.chunks[0]) == meta["attributes"]["content_hash"]:
                array.update_attributes(
                    {"chunk_fingerprint": _chunk_fingerprint(self._dir(model, layer), n_chunks)})

    def shape(self, model: str, layer: str) -> tuple[int, int]:
        """The shape ``(n_stimuli, n_features)`` of one complete array, read from its metadata.

        Returns
        -------
        tuple of (int, int)
        """
        n_stimuli, n_features = self._complete_meta(model, layer)["shape"]
        return int(n_stimuli), int(n_features)

    # --- writing -----------------------------------------------------------------------

    def add(self, model: str, layer: str, array, *, dtype="float32", chunk_size=None,
            **attrs) -> str:
        """Store a whole array at once; it appears complete or not at all.

        Parameters
        ----------
        model, layer : str
            Names; any non-empty strings (``.`` and ``/`` allowed).
        array : array of shape (n_stimuli, n_features)
            NumPy, torch (any device) or any array-API array; cast to ``dtype``.
        dtype : str or numpy.dtype, default="float32"
            Stored floating dtype; ``"float64"`` keeps double precision.
        chunk_size : int, optional
            Rows per chunk; by default about 4 MiB per chunk.
        **attrs
            ``pooling`` (str), ``stimulus_set`` (str), ``stimulus_ids`` (one str or
            int per row) and any JSON-serialisable user attributes.

        Returns
        -------
        str
            The content hash.

        Raises
        ------
        ValueError
            If a complete array is already stored for (model, layer) (delete it
            first); an incomplete one is replaced (a writer still filling it then
            fails at its next write). If another process replaces the array while
            this one writes it, this one fails and leaves the other's array.
        """
        self._check_writable("add")
        X = _as_numpy(array, "array")
        if X.ndim != 2:
            raise ValueError(
                f"array must be 2-D, of shape (n_stimuli, n_features); got shape {X.shape}"
            )
        dt = _check_dtype(dtype)
        n, d = X.shape
        if n == 0 or d == 0:
            raise ValueError(f"array must have at least one row and one column; got {X.shape}")
        if chunk_size is None:
            chunk_size = max(1, min(n, _DEFAULT_CHUNK_BYTES // (d * dt.itemsize)))
        X = _cast(X, dt, "array")
        w = self._start(model, layer, n, d, chunk_size=chunk_size, dtype=dt, attrs=attrs,
                        fresh=True)
        try:
            for i in range(w.n_chunks):
                w.write_chunk(i, X[w.chunk_slice(i)])
            return w.finalize()
        except Exception:
            self._abandon(w)
            raise

    def _abandon(self, w: ActivationWriter) -> None:
        """Remove the incomplete array ``w`` was filling, if it is still that array.

        Best effort: an array that cannot be removed (a full disk) stays incomplete,
        hidden, and is replaced by the next :meth:`add`.
        """
        try:
            with self._lock(w.model, w.layer):
                try:
                    w._check_current("remove")
                except ValueError:  # complete, or not this writer's array any more
                    return
                self._discard(self._dir(w.model, w.layer))
        except OSError:
            pass

    def delete(self, model: str, layer: str) -> None:
        """Remove one array, complete or not, with its chunks (its progress).

        The array's directory is first renamed into ``.trash`` (atomic), so a kill
        during deletion never leaves a half-deleted array visible.

        Raises
        ------
        ValueError
            If nothing is stored for (model, layer).
        """
        self._check_writable("delete")
        self._meta(model, layer)  # checks the names
        with self._lock(model, layer):
            meta = self._meta(model, layer)
            folder = self._dir(model, layer)
            if meta is None and not folder.exists():
                raise ValueError(
                    f"nothing to delete: no activations for model={model!r}, "
                    f"layer={layer!r} in {str(self.path)!r}"
                )
            self._discard(folder)
            with self._model_lock(model):  # no array of the model is being created
                model_dir = folder.parent
                if model_dir.is_dir() and not any(p.is_dir() for p in model_dir.iterdir()):
                    self._discard(model_dir)  # only the group's zarr.json was left

    def writer(self, model: str, layer: str, n_stimuli: int, n_features: int, *,
               chunk_size: int, dtype="float32", attrs: Mapping | None = None,
               ) -> ActivationWriter:
        """Start, or resume, filling one array chunk by chunk.

        Parameters
        ----------
        model, layer : str
        n_stimuli, n_features : int
            The array's shape.
        chunk_size : int
            Rows per chunk; chunk ``i`` holds rows ``[i * chunk_size, (i + 1) *
            chunk_size)``. Extraction uses one batch per chunk.
        dtype : str or numpy.dtype, default="float32"
        attrs : dict, optional
            As ``**attrs`` of :meth:`add`.

        Returns
        -------
        ActivationWriter

        Raises
        ------
        ValueError
            If a complete array already exists (delete it first), or an incomplete
            one exists whose shape, chunk size, dtype, ``pooling``, ``stimulus_set``
            or ``stimulus_ids`` differ (the message lists what differs).

        Notes
        -----
        On resume, :meth:`ActivationWriter.done_chunks` says which chunks are on
        disk; other user attributes given now replace the stored ones at
        :meth:`ActivationWriter.finalize`. A new array takes its place in the
        store's order (:meth:`list`) now; a resumed one keeps its place.
        """
        return self._start(model, layer, n_stimuli, n_features, chunk_size=chunk_size,
                           dtype=dtype, attrs=attrs, fresh=False)

    def _start(self, model, layer, n_stimuli, n_features, *, chunk_size, dtype, attrs,
               fresh: bool) -> ActivationWriter:
        """:meth:`writer`; with ``fresh``, an incomplete array is replaced, not resumed."""
        self._check_writable("write")
        _check_name(model, "model")
        _check_name(layer, "layer")
        n_stimuli = _check_count(n_stimuli, "n_stimuli")
        n_features = _check_count(n_features, "n_features")
        chunk_size = _check_count(chunk_size, "chunk_size")
        dt = _check_dtype(dtype)
        user = _check_attrs(attrs, n_stimuli)
        with self._lock(model, layer):
            meta = self._meta(model, layer)
            folder = self._dir(model, layer)
            if meta is not None and fresh and not meta["attributes"].get("complete"):
                self._discard(folder)
                meta = None
            if meta is None:
                if folder.exists():  # debris without metadata (not written by repalign)
                    self._discard(folder)
                created_ns, created = _creation_time()
                attributes = {
                    "model": model, "layer": layer, "dtype": str(dt), "content_hash": None,
                    "created": created, "created_ns": created_ns,
                    "repalign_version": _version(), "complete": False, **user,
                }
                with self._model_lock(model):
                    try:  # the model's group first: then the array is one metadata write
                        zarr.open_group(store=self._zstore, path=encode_name(model),
                                        mode="a", zarr_format=3)
                    except ContainsGroupError:  # created meanwhile by another process
                        pass
                    array = zarr.create_array(
                        store=self._zstore, name=self._rel(model, layer),
                        shape=(n_stimuli, n_features), chunks=(chunk_size, n_features),
                        dtype=dt, fill_value=np.nan, attributes=attributes, zarr_format=3,
                        chunk_key_encoding={"name": "default", "separator": "/"},
                        config={"write_empty_chunks": True},
                    )
            else:
                array, created_ns, created = self._resume(meta, model, layer, n_stimuli,
                                                          n_features, chunk_size, dt, user)
        return ActivationWriter(folder, self._check_writable, model, layer, array, user,
                                lambda: self._lock(model, layer), (created_ns, created))

    def _resume(self, meta, model, layer, n_stimuli, n_features, chunk_size, dt, user):
        """Open an incomplete array to resume it, if it was started with these settings."""
        stored = meta["attributes"]
        if stored.get("complete"):
            raise ValueError(
                f"activations for model={model!r}, layer={layer!r} are already complete "
                f"in {str(self.path)!r}; delete them first with "
                f"store.delete({model!r}, {layer!r}) to write them again"
            )
        old_chunk = meta["chunk_grid"]["configuration"]["chunk_shape"][0]
        wanted = {"n_stimuli": n_stimuli, "n_features": n_features,
                  "chunk_size": chunk_size, "dtype": str(dt)}
        have = {"n_stimuli": meta["shape"][0], "n_features": meta["shape"][1],
                "chunk_size": old_chunk, "dtype": str(np.dtype(meta["data_type"]))}
        for key in _IDENTITY:
            wanted[key], have[key] = user.get(key), stored.get(key)
        diff = [f"{k}: stored {have[k]!r}, given {wanted[k]!r}"
                for k in wanted if wanted[k] != have[k]]
        if diff:
            raise ValueError(
                f"an incomplete array for model={model!r}, layer={layer!r} exists with "
                f"different settings, so it cannot be resumed ({'; '.join(diff)}); "
                f"resume it with the stored settings or store.delete({model!r}, "
                f"{layer!r}) first"
            )
        for tmp in self._dir(model, layer).rglob(f".*{_TMP_SUFFIX}"):  # a killed writer's
            tmp.unlink(missing_ok=True)
        array = self._open_array(model, layer, "r+")
        return array, stored.get("created_ns"), stored.get("created")
