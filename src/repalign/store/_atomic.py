"""Atomic files: every file of an activation store is whole or absent, even after a kill.

This module's one job is publishing bytes atomically: :func:`_atomic_put` writes
to a temporary file in the target's directory (optionally fsynced) and renames
it into place, and :class:`_AtomicLocalStore` is zarr's ``LocalStore`` doing
every write that way.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from zarr.core.buffer import Buffer
from zarr.storage import LocalStore

_TMP_SUFFIX = ".tmp"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - directories cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def _atomic_put(path: Path, data: bytes, *, fsync: bool, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` so that ``path`` is always either absent/old or whole.

    The bytes go to a temporary file in the same directory, which is then renamed
    over ``path`` (``os.replace`` is atomic on POSIX and Windows). With ``exclusive``,
    ``os.link`` publishes the file only if ``path`` does not exist yet.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, path)  # FileExistsError if path exists
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_dir(path.parent)


class _AtomicLocalStore(LocalStore):
    """zarr's ``LocalStore`` whose every write is a temp file + rename (+ fsync).

    Recent zarr versions write through a temporary file too, but without fsync,
    and zarr 3.0 wrote in place; this subclass makes the guarantee ours.
    """

    def __init__(self, root: Path | str, *, read_only: bool = False, fsync: bool = True):
        super().__init__(root, read_only=read_only)
        self._fsync = fsync

    def with_read_only(self, read_only: bool = False) -> _AtomicLocalStore:
        return type(self)(self.root, read_only=read_only, fsync=self._fsync)

    async def _put(self, key: str, value: Buffer, exclusive: bool) -> None:
        if not self._is_open:
            await self._open()
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"value must be a zarr Buffer; got {type(value).__name__}")
        await asyncio.to_thread(
            _atomic_put, self.root / key, value.to_bytes(), fsync=self._fsync,
            exclusive=exclusive,
        )

    async def set(self, key: str, value: Buffer) -> None:
        await self._put(key, value, exclusive=False)

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        if (self.root / key).exists():  # no temporary file, no thread, for nothing
            return
        try:
            await self._put(key, value, exclusive=True)
        except FileExistsError:
            pass

    def set_sync(self, key: str, value: Buffer) -> None:
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"value must be a zarr Buffer; got {type(value).__name__}")
        _atomic_put(self.root / key, value.to_bytes(), fsync=self._fsync)
