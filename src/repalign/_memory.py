"""How much memory is free, and refusing work that would not fit in it.

Measures built on stimulus x stimulus matrices (RBF CKA, RSA, the k-NN family,
distance correlation, ...) need memory growing as n^2: 100,000 stimuli in
float64 take 80 GB per n x n matrix. :func:`check_square_memory` is called by
``Measure.prepare`` before such a preparation starts, so that an impossible
size fails at once with a message naming the way out, instead of swapping the
machine to a halt or being killed by the kernel's out-of-memory killer.
"""

from __future__ import annotations

import os

import array_api_compat

from .exceptions import InsufficientMemoryError

__all__ = ["available_memory", "check_square_memory", "format_bytes"]

#: Smaller needs are not checked: asking for the free memory costs about 0.1 ms.
_ALWAYS_FITS = 64 * 2**20


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``format_bytes(3 * 2**30) == '3.0 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _host_available() -> int | None:
    """Bytes of host memory available to new allocations, or None if unknown.

    psutil's ``virtual_memory().available`` where psutil is installed, else
    ``MemAvailable`` of ``/proc/meminfo`` (Linux), else free pages times the page
    size from ``os.sysconf`` (other POSIX systems).
    """
    try:
        import psutil
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def available_memory(X=None) -> int | None:
    """Bytes free where ``X`` lives: the GPU's memory for a CUDA tensor, else the host's.

    Parameters
    ----------
    X : array, optional
        An input array; its device decides which memory is asked. None means the host.

    Returns
    -------
    int or None
        None where the amount cannot be found (then nothing is refused).
    """
    if X is not None and array_api_compat.is_torch_array(X) and X.device.type == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(X.device)[0])
    if X is not None and array_api_compat.is_cupy_array(X):  # pragma: no cover - needs CuPy
        return None  # no query without importing CuPy's runtime; nothing is refused
    return _host_available()


def check_square_memory(measure: str, n_stimuli: int, n_square: float, itemsize: int,
                        like=None) -> None:
    """Refuse a computation whose n x n working arrays would not fit in memory.

    Parameters
    ----------
    measure : str
        The measure's name, for the message.
    n_stimuli : int
        n, the side of the square arrays.
    n_square : float
        How many n x n arrays the computation holds at its peak.
    itemsize : int
        Bytes per entry (8 for float64).
    like : array, optional
        An input array: its device decides which memory is asked (the host by default).

    Raises
    ------
    InsufficientMemoryError
        If ``n_square * n^2 * itemsize`` exceeds the available memory. The message
        states both amounts and points to subsampling the stimuli, the minibatch
        CKA estimator and the streamed linear measures. Needs below 64 MiB are
        not checked.
    """
    n = int(n_stimuli)
    needed = n_square * n * n * itemsize
    if needed < _ALWAYS_FITS:
        return
    available = available_memory(like)
    if available is None or needed <= available:
        return
    fits = int((available / (n_square * itemsize)) ** 0.5)
    raise InsufficientMemoryError(
        f"{measure} needs about {format_bytes(needed)} for {n} stimuli "
        f"({n_square:g} matrices of {n} x {n}, {itemsize} bytes per entry), but only "
        f"{format_bytes(available)} is available. Subsample the stimuli (about {fits} "
        f"fit), or use a measure whose memory does not grow with n^2: "
        f"repalign.minibatch_cka(X, Y, batch_size=...) (Nguyen et al. 2021), or "
        f"repalign.streaming_measure('cka' | 'cca' | 'procrustes', X, Y), which read "
        f"the stimuli in chunks"
    )
