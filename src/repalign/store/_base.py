"""The :class:`Store` base class shared by repalign's on-disk stores.

A store declares what it can do with class-level capabilities
(``supports_writes``, ``supports_deletes``, ``supports_listing``), knows whether
it was opened read-only, refuses writes early through :meth:`Store._check_writable`
and is a context manager. The design follows ``zarr.abc.store.Store``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

__all__ = ["Store"]


class Store(ABC):
    """Base class of the activation and result stores.

    Parameters
    ----------
    read_only : bool, default=False
        Whether the store refuses every write. Keyword-only.

    Attributes
    ----------
    supports_writes : bool
        The store can add data (class-level capability).
    supports_deletes : bool
        The store can remove data (class-level capability).
    supports_listing : bool
        The store can enumerate what it holds (class-level capability).
    read_only : bool
        Whether this instance was opened read-only.
    closed : bool
        Whether :meth:`close` was called.

    Notes
    -----
    Subclasses implement :meth:`list` and call :meth:`_check_open` at the start of
    every public method and :meth:`_check_writable` before every write. Closing is
    idempotent; the ``with`` statement closes the store on exit.
    """

    supports_writes: ClassVar[bool] = True
    supports_deletes: ClassVar[bool] = True
    supports_listing: ClassVar[bool] = True

    def __init__(self, *, read_only: bool = False) -> None:
        if not isinstance(read_only, bool):
            raise TypeError(f"read_only must be a bool; got {type(read_only).__name__}")
        self._read_only = read_only
        self._closed = False

    @property
    def read_only(self) -> bool:
        """Whether this store refuses writes."""
        return self._read_only

    @property
    def closed(self) -> bool:
        """Whether the store was closed."""
        return self._closed

    def _check_open(self) -> None:
        """Raise ``ValueError`` if the store was closed."""
        if self._closed:
            raise ValueError(f"{self!r} is closed; open it again to use it")

    def _check_writable(self, action: str = "write") -> None:
        """Raise ``ValueError`` if the store is closed, read-only or cannot write."""
        self._check_open()
        if self._read_only:
            raise ValueError(
                f"cannot {action}: the store was opened in read-only mode; "
                f"open it with mode='a' to write ({self!r})"
            )
        if not self.supports_writes:
            raise ValueError(f"cannot {action}: {type(self).__name__} does not support writes")

    @abstractmethod
    def list(self) -> list:
        """Everything the store holds, sorted."""

    def close(self) -> None:
        """Release the store's resources. Calling it again does nothing."""
        if not self._closed:
            self._close()
            self._closed = True

    def _close(self) -> None:
        """Hook for subclasses: release files, connections and caches."""

    def __enter__(self):
        self._check_open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
