"""Prepared states within a memory budget: the grid of a model zoo on one machine.

A grid holds, by default, the prepared state of every representation of a
measure while it pairs them: 1,000 representations of 1,000 stimuli take 4 GB
of condensed RDMs for RSA (8 GB of Grams for linear CKA with more features
than stimuli). With ``grid(..., memory_budget=B)`` the states live in a
:class:`StateCache` of at most ``3/4 B`` bytes (a quarter is left to the
temporaries of the tile products, :meth:`~repalign.Measure.pair_block`'s
``memory``): each representation is prepared once, and a state that must
leave memory but is used again is pickled to a temporary folder (``TMPDIR``)
and read back when its next tile needs it. The order of the tiles is known in
advance, so the state evicted is the one whose next use is furthest away
(Belady's rule, optimal for a known sequence), and the tiles are swept in
panels of block rows (:func:`panel_order`) so that a panel's states stay in
memory while the columns stream past: a state is read back about
``L / (panel rows)`` times.

References
----------
Belady (1966). A study of replacement algorithms for a virtual-storage
computer. IBM Systems Journal 5(2), 78-101.
"""

from __future__ import annotations

import math
import pickle
import tempfile
from collections import deque
from pathlib import Path

from .._memory import format_bytes
from .plan import Tile, tiles

__all__ = ["StateCache", "state_bytes", "bounded_tiles", "panel_order"]


def state_bytes(state) -> int:
    """Bytes of the arrays a prepared state holds (0 for a state the measure refused)."""
    arrays = state.arrays() if hasattr(state, "arrays") else []
    return sum(int(getattr(a, "nbytes", 0)) for a in arrays)


def bounded_tiles(pairs, block: int, capacity: int, per_state: int, workers: int,
                  who: str, reserved: int = 0) -> list[Tile]:
    """Tiles whose states fit ``capacity`` bytes, in panel order.

    Parameters
    ----------
    pairs : sequence of (int, int) or array of shape (k, 2)
        The pairs to compute.
    block : int
        The largest tile side (the grid's default for the measure).
    capacity : int
        Bytes the prepared states may take.
    per_state : int
        Bytes of the largest state (one preparation measures it).
    workers : int
        Tiles computed at once; each holds the states of its two block sides.
    who : str
        The measure, for the error message.
    reserved : int, default=0
        Bytes of the budget held for the grid's rows before the states' 3/4
        (for the error message).

    Returns
    -------
    list of Tile
        The tiles of side ``b <= block`` such that the states of ``workers``
        tiles and of one panel of block rows fit, in :func:`panel_order`.

    Raises
    ------
    ValueError
        If ``capacity`` holds fewer than ``2 * workers`` states.
    """
    fit = capacity // max(1, per_state)
    if fit < 2 * workers:
        raise ValueError(
            f"grid: memory_budget leaves {format_bytes(capacity)} for the prepared states of "
            f"{who} (3/4 of it{f' after {reserved} bytes for the rows' if reserved else ''}), "
            f"which holds {fit} state(s) of {format_bytes(per_state)}; "
            f"expected room for at least {2 * workers} (the two sides of a tile for each of "
            f"{workers} worker(s)): give memory_budget >= "
            f"{math.ceil(2 * workers * per_state * 4 / 3) + reserved} bytes")
    # Up to a quarter of the room for the tiles in flight, the rest for a panel of rows.
    side = max(1, min(block, fit // (4 * workers)))
    panel = max(1, (fit - 2 * workers * side) // side)
    return panel_order(tiles(pairs, side), side, panel)


def panel_order(tile_list: list[Tile], block: int, panel: int) -> list[Tile]:
    """The tiles swept by panels of ``panel`` block rows, column block by column block.

    Within a panel (block rows ``p * panel`` to ``(p + 1) * panel - 1``) the
    column blocks come in increasing order and, for each, the panel's rows in
    increasing order, so the panel's states are reused by every column block
    while each column block is held for a few tiles only. Representations
    first appear in the same order as in the row-major order of
    :func:`~repalign.grid.plan.tiles`.
    """

    def key(tile):
        i, j = tile.pair_array[0].tolist()
        row, col = min(i, j) // block, max(i, j) // block
        return row // panel, col, row

    return sorted(tile_list, key=key)


class StateCache:
    """The prepared states of one measure's tiles, held within ``capacity`` bytes.

    Each representation is prepared once, at its first tile. States of the
    tiles in use are pinned; when the held states pass ``capacity`` the
    unpinned state whose next use is furthest away leaves memory: it is
    pickled to a temporary folder if a later tile uses it (and read back
    then), dropped otherwise. A state with no later use is dropped as soon as
    its last tile is released. The memory held is at most ``capacity`` plus
    one state, unless the pinned states alone exceed it (the tiles'
    sizes, :func:`bounded_tiles`, avoid that).

    Parameters
    ----------
    prepare : callable
        ``prepare(r)``: the prepared state of representation ``r``.
    tile_list : list of Tile
        The tiles in the order they will be acquired.
    capacity : int
        Bytes of prepared states to hold.

    Attributes
    ----------
    held_bytes, peak_bytes : int
        Bytes of the states in memory now, and at most so far.
    prepared, spilled, loaded : int
        Preparations, states written to the folder, and states read back.
    """

    def __init__(self, prepare, tile_list: list[Tile], capacity: int):
        self._prepare, self.capacity = prepare, capacity
        self._tiles = tile_list
        self._uses: dict[int, deque] = {}
        for k, tile in enumerate(tile_list):
            for r in tile.reps:
                self._uses.setdefault(r, deque()).append(k)
        self._held: dict[int, object] = {}
        self._size: dict[int, int] = {}
        self._pins: dict[int, int] = {}
        self._on_disk: set[int] = set()
        self._folder = tempfile.TemporaryDirectory(prefix="repalign-states-")
        self.held_bytes = self.peak_bytes = 0
        self.prepared = self.spilled = self.loaded = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Drop every state and delete the folder of spilled states."""
        self._held.clear()
        self.held_bytes = 0
        self._folder.cleanup()

    def acquire(self, k: int) -> dict:
        """The states of tile ``k`` (representation -> state), pinned until :meth:`release`."""
        out = {}
        for r in self._tiles[k].reps:
            self._uses[r].popleft()
            self._pins[r] = self._pins.get(r, 0) + 1
            if r not in self._held:
                if r in self._on_disk:
                    with open(self._path(r), "rb") as f:
                        state = pickle.load(f)
                    self.loaded += 1
                else:
                    state = self._prepare(r)
                    self.prepared += 1
                self._held[r], self._size[r] = state, state_bytes(state)
                self.held_bytes += self._size[r]
                self.peak_bytes = max(self.peak_bytes, self.held_bytes)
                self._evict()
            out[r] = self._held[r]
        return out

    def release(self, k: int) -> None:
        """Unpin the states of tile ``k``; drop those no later tile uses."""
        for r in self._tiles[k].reps:
            self._pins[r] -= 1
            if not self._pins[r] and not self._uses[r]:
                self._drop(r)
        self._evict()

    def _evict(self) -> None:
        while self.held_bytes > self.capacity:
            free = [r for r in self._held if not self._pins.get(r)]
            if not free:
                return
            r = max(free, key=lambda s: self._uses[s][0] if self._uses[s] else math.inf)
            if self._uses[r] and r not in self._on_disk:
                with open(self._path(r), "wb") as f:
                    pickle.dump(self._held[r], f, protocol=pickle.HIGHEST_PROTOCOL)
                self._on_disk.add(r)
                self.spilled += 1
            self._drop(r)

    def _drop(self, r: int) -> None:
        if r in self._held:
            del self._held[r]
            self.held_bytes -= self._size.pop(r)
        if not self._uses[r] and r in self._on_disk:
            self._path(r).unlink()
            self._on_disk.discard(r)

    def _path(self, r: int) -> Path:
        return Path(self._folder.name) / f"{r}.pkl"
