"""Locks of an activation store's arrays: one writer at a time changes an array, across processes.

This module's one job is mutual exclusion between the writers of one
(model, layer): starting or replacing an array, writing one of its chunks,
finalizing it and deleting it each hold the array's lock, so that a finalize
hashes chunks no one is rewriting, and a writer checks that its array is still
the one it was filling (and still incomplete) before it writes.

The lock is an advisory lock (``flock`` on POSIX, ``msvcrt.locking`` on
Windows) on a small file ``.locks/<digest>.lock`` in the store directory, one
per (model, layer) name. The operating system releases it when its holder dies,
so a killed writer never leaves a stale lock. Lock files are never removed
(removing a lock file others may be waiting on would break the exclusion); they
are empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None

__all__ = []

_LOCKS = ".locks"


def _lock_path(root: Path, model: str, layer: str) -> Path:
    digest = hashlib.sha256(f"{model}\0{layer}".encode()).hexdigest()[:40]
    return root / _LOCKS / f"{digest}.lock"


@contextlib.contextmanager
def _array_lock(root: Path, model: str, layer: str):
    """Hold the exclusive lock of (model, layer) in the store at ``root``; wait for it.

    Not reentrant: a holder must not ask for the same lock again.
    """
    path = _lock_path(root, model, layer)
    path.parent.mkdir(exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        elif msvcrt is not None:  # pragma: no cover - Windows
            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # releases the lock
