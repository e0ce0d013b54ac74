"""Building blocks of :meth:`Measure.pair_block`: all inner products of stacked vectors.

A block of pairs of a Gram- or RDM-based measure is the matrix of inner
products ``<v_a, v_b>`` of one vector per prepared state (a vectorised
centred Gram, a normalised RDM). Stacked as the rows of ``V_a`` and ``V_b``,
they are one matrix product ``V_a V_b^T``; when the stacks would not fit the
memory budget, the vectors are cut into pieces (entries, or blocks of a Gram)
and the products of the pieces summed.
"""

from __future__ import annotations

import array_api_compat
import numpy as np

__all__ = ["chunk_bounds", "stacked_inner", "row_stack", "matmul_into"]


def chunk_bounds(total: int, size: int) -> list[tuple[int, int]]:
    """``range(total)`` cut into the fewest pieces of at most ``size`` (at least 1),
    of equal lengths up to one, as ``(start, stop)`` pairs."""
    count = -(-total // max(1, int(size)))
    return [(total * k // count, total * (k + 1) // count) for k in range(count)]


def stacked_inner(vectors_a, vectors_b, xp):
    """``V_a V_b^T`` for the vectors (arrays of any shape, flattened) stacked as rows.

    ``vectors_b=None`` means ``vectors_b = vectors_a``: then ``V_a V_a^T`` (NumPy
    computes the product of a matrix with its own transpose as one triangle,
    by SYRK).
    """
    A = xp.stack([xp.reshape(v, (-1,)) for v in vectors_a])
    if vectors_b is None:
        return A @ A.T
    return A @ xp.stack([xp.reshape(v, (-1,)) for v in vectors_b]).T


def row_stack(k: int, width: int, like, xp):
    """An uninitialised ``(k, width)`` array of ``like``'s dtype and device: the
    stack that :func:`matmul_into` fills one row at a time (allocated once per
    block, so no piece allocates and touches fresh memory)."""
    return xp.empty((k, width), dtype=like.dtype, device=array_api_compat.device(like))


def matmul_into(A, B, stack, row: int, xp):
    """``A @ B`` written into ``stack[row, :size]`` and returned as a view of it.

    NumPy writes the product there directly (``matmul(..., out=)``, SYRK when
    ``B`` is ``A.T``); other libraries compute it and copy it in.
    """
    shape = (A.shape[0], B.shape[1])
    size = shape[0] * shape[1]
    if isinstance(stack, np.ndarray):
        return np.matmul(A, B, out=stack[row, :size].reshape(shape))
    stack[row, :size] = xp.reshape(A @ B, (-1,))
    return xp.reshape(stack[row, :size], shape)
