"""Warnings and errors raised by repalign."""

from __future__ import annotations

__all__ = ["DegenerateWarning", "InsufficientMemoryError"]


class DegenerateWarning(UserWarning):
    """A result is legal but carries little or no information about the data.

    Raised, for example, when there are as many features as stimuli, so that
    canonical correlations are 1 by construction. Silence it with
    ``warnings.filterwarnings("ignore", category=repalign.DegenerateWarning)``.
    """


class InsufficientMemoryError(MemoryError):
    """A computation was refused before it started because it would not fit in memory.

    Raised by measures built on stimulus x stimulus matrices when the number of
    stimuli is too large for the available memory. The message states the
    memory needed and available and the alternatives (subsampling, the
    minibatch CKA estimator, streaming linear measures).
    """
