"""Which pairs of a grid to compute, and in what order.

A grid of L representations and one measure costs L preparations and up to
L(L+1)/2 pairings for a symmetric measure (L^2 for an asymmetric one). The plan
lists the pairs to compute and cuts the pair matrix into square tiles of
``block x block`` representations: a tile is one task, and a worker computing it
holds at most ``2 * block`` prepared states, however large the grid (the
blocking of a matrix product, as in Dask's blockwise ``tensordot``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..measures import Measure, get
from ..results import canonical_params

__all__ = ["PAIRS", "BLOCK", "BATCHED_BLOCK", "Tile", "model_of", "plan_measures",
           "plan_pairs", "tile_side", "tiles"]

#: The named pair selections of :func:`repalign.grid`.
PAIRS = ("all", "across_models", "within_model")

#: Representations per side of a tile: a task holds at most twice this many states.
BLOCK = 8

#: Representations per side of a tile of a measure with ``batched_pairs`` (CKA, RSA
#: with a dot-product comparator): a tile is one :meth:`~repalign.Measure.pair_block`,
#: a few matrix products over stacked states whose temporaries the measure keeps
#: within its memory budget, so larger tiles cost less (each state's Gram pieces
#: are formed once per tile it is in: linear CKA, 1,000 representations of n = 1000,
#: d = 256 within a 1 GiB budget, 131 s with 48 a side, 71 s with 96).
BATCHED_BLOCK = 96


def tile_side(m) -> int:
    """Representations per side of the measure ``m``'s tiles: :data:`BATCHED_BLOCK`
    for a measure with ``batched_pairs``, else :data:`BLOCK`."""
    return BATCHED_BLOCK if m.capabilities.batched_pairs else BLOCK


def model_of(name: str) -> str:
    """The model of a representation name: the part before the first "/", else the name."""
    return name.split("/", 1)[0]


def plan_measures(measures) -> list[Measure]:
    """Configured measures from a list of names or ``(name, params)`` pairs.

    Raises
    ------
    TypeError
        If ``measures`` is not a list or tuple, or an entry is neither a name nor
        a ``(name, dict)`` pair.
    ValueError
        If it is empty, names an unknown measure, or lists one configuration twice.
    """
    if isinstance(measures, str) or not isinstance(measures, (list, tuple)):
        raise TypeError(
            "grid: measures must be a list of measure names or (name, params) pairs; "
            f"got {type(measures).__name__}"
        )
    if not measures:
        raise ValueError("grid: measures must name at least one measure; got an empty list")
    out, seen = [], set()
    for entry in measures:
        if isinstance(entry, str):
            name, params = entry, {}
        elif (isinstance(entry, (list, tuple)) and len(entry) == 2
              and isinstance(entry[0], str) and isinstance(entry[1], dict)):
            name, params = entry
        else:
            raise TypeError(
                "grid: each entry of measures must be a name (str) or a (name, params dict) "
                f"pair; got {entry!r}"
            )
        m = get(name, **params)
        key = (m.name, canonical_params(m.params))
        if key in seen:
            raise ValueError(f"grid: measures lists {m.name} with {m.params} twice")
        seen.add(key)
        out.append(m)
    return out


def plan_pairs(names: list[str], pairs, symmetric: bool, models=None) -> np.ndarray:
    """The pairs ``(i, j)`` of representation indices to compute for one measure.

    Parameters
    ----------
    names : list of str
        Representation names.
    pairs : {"all", "across_models", "within_model"} or list of (str, str)
        ``"all"``: every pair, each representation with itself included;
        ``"across_models"``: pairs of representations of different models;
        ``"within_model"``: pairs of the same model, self-pairs included; a list:
        exactly those pairs of names.
    symmetric : bool
        Whether the measure is symmetric: then each unordered pair is computed
        once (for the named selections as ``i <= j``; for a list, in the first
        orientation listed), else both orders are.
    models : list of str, optional
        The model of each representation; default :func:`model_of` its name. An
        ActivationStore gives its models, which may hold a "/" themselves.

    Returns
    -------
    numpy.ndarray of shape (k, 2), int64
        The pairs ``(i, j)``, without duplicates; for a named selection in
        row-major order, for a list in its order.

    Raises
    ------
    ValueError
        If ``pairs`` is an unknown selection, names an unknown representation, or
        selects no pair.
    TypeError
        If ``pairs`` is neither a selection name nor a list of pairs of names.
    """
    L = len(names)
    if isinstance(pairs, str):
        if pairs not in PAIRS:
            raise ValueError(f"grid: pairs must be one of {PAIRS} or a list of (a, b) names; "
                             f"got {pairs!r}")
        models = [model_of(n) for n in names] if models is None else list(models)
        first, second = np.triu_indices(L) if symmetric else np.indices((L, L)).reshape(2, -1)
        if pairs != "all":
            model = np.unique(np.array(models, dtype=object), return_inverse=True)[1]
            same = model[first] == model[second]
            first, second = (first[same], second[same]) if pairs == "within_model" else (
                first[~same], second[~same])
        if not len(first):
            _no_pairs(pairs)
        return np.stack([first, second], axis=1).astype(np.int64)
    if not isinstance(pairs, (list, tuple)):
        raise TypeError(f"grid: pairs must be one of {PAIRS} or a list of (a, b) names; "
                        f"got {type(pairs).__name__}")
    index = {n: i for i, n in enumerate(names)}
    out, seen = [], set()
    for entry in pairs:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            raise TypeError(f"grid: each entry of pairs must be an (a, b) pair of names; "
                            f"got {entry!r}")
        for name in entry:
            if name not in index:
                raise ValueError(f"grid: pairs names {name!r}, which is not a representation; "
                                 f"expected one of {sorted(index)}")
        i, j = index[entry[0]], index[entry[1]]
        key = (min(i, j), max(i, j)) if symmetric else (i, j)
        if key not in seen:
            seen.add(key)
            out.append((i, j))
    if not out:
        _no_pairs(pairs)
    return np.array(out, dtype=np.int64)


def _no_pairs(pairs):
    raise ValueError(f"grid: pairs={pairs!r} selects no pair of these representations")


@dataclass(frozen=True, eq=False)
class Tile:
    """One task: pairs whose representations lie in one block row and one block column.

    Attributes
    ----------
    pair_array : numpy.ndarray of shape (k, 2), int32
        The pairs ``(i, j)`` of representation indices, in row-major order
        (the tiles of a grid of 1,000 representations hold 500,500 pairs: as an
        array 4 MB, as tuples of ints about 50 MB).
    reps : tuple of int
        The representations the pairs use (sorted), at most ``2 * block``.
    """

    pair_array: np.ndarray
    reps: tuple

    @property
    def pairs(self) -> tuple:
        """The pairs as a tuple of ``(i, j)`` tuples of int (made when read)."""
        return tuple(map(tuple, self.pair_array.tolist()))

    def __eq__(self, other) -> bool:
        if not isinstance(other, Tile):
            return NotImplemented
        return self.reps == other.reps and np.array_equal(self.pair_array, other.pair_array)

    def __hash__(self) -> int:
        return hash((self.reps, self.pair_array.tobytes()))


def tiles(pairs, block: int = BLOCK) -> list[Tile]:
    """Group pairs into tiles of the ``block x block`` blocks of the pair matrix.

    Tiles come in row-major block order (a pair ``(i, j)`` is in block
    ``(min(i, j) // block, max(i, j) // block)``), and pairs within a tile in
    row-major order, so consecutive pairs share their first representation.

    Parameters
    ----------
    pairs : sequence of (int, int) or array of shape (k, 2)
    block : int
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    low, high = pairs.min(axis=1) // block, pairs.max(axis=1) // block
    order = np.lexsort((pairs[:, 1], pairs[:, 0], high, low))
    pairs, low, high = pairs[order].astype(np.int32), low[order], high[order]
    cuts = np.flatnonzero((np.diff(low) != 0) | (np.diff(high) != 0)) + 1
    return [Tile(part, tuple(np.unique(part).tolist())) for part in np.split(pairs, cuts)
            if len(part)]
