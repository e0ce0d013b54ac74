"""Shared grids: several processes compute one grid by claiming its blocks in the result store.

``repalign.grid(reps, measures, results=path, worker=True)``, started in as many
processes of one machine as wanted (a process per core, say), makes each call
one worker of the same grid. The blocks are the tiles of each measure's plan
(:func:`repalign.grid.plan.tiles`), the same in every worker since they are
planned from the same representations, measures and pairs. A worker

1. claims the first free block in the result store
   (:meth:`ResultStore.claim <repalign.ResultStore.claim>`, one transaction: no
   two workers hold one block), with a lease of ``lease`` seconds that a
   background thread renews every ``lease / 3`` seconds while it computes;
2. prepares the states the block needs (kept for the measure's next blocks),
   computes its pairs (those not stored before the grid began) and writes
   their rows and the block's "done" mark in one transaction;
3. goes on until no block is free; while blocks held by others are unfinished
   it waits (polling every ``min(1, lease / 4)`` seconds), and takes over a block
   whose lease expired: its worker died (SIGKILL, a lost machine) and no row
   of it was written;
4. returns the whole grid, read from the store, once every block is done.

So nothing is computed twice (a live lease is never taken, a done block never
redone), except a block whose worker stalled past its lease without dying
(suspended, or its clock off by more than the lease): the block is then computed
again by another worker, and the store keeps one row per pair.

The workers of one store must run on one machine: the store is an SQLite file
in write-ahead-log mode, whose index is shared memory, which SQLite does not
support over a network file system (https://sqlite.org/wal.html). Across
machines, use ``executor="dask"`` with the address of a cluster's scheduler.
Each worker prepares the states of the blocks it computes, so W workers of a
grid prepare up to W times as many states as one process (a block holds at
most ``2 * BATCHED_BLOCK`` representations).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import threading
import time

from .._version import __version__
from ..results import canonical_params, measure_fields
from .plan import tile_side, tiles

__all__ = ["DEFAULT_LEASE", "grid_key", "run_workers_share", "worker_name"]

#: Seconds a claim holds without renewal (renewed every third of it while computing).
DEFAULT_LEASE = 60.0


def worker_name() -> str:
    """A name for this process as a worker: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def grid_key(m, names, hashes, planned, block: int) -> str:
    """The key of one measure's shared grid: a digest of everything its blocks depend on.

    The measure and its canonical parameters, the representations' names and
    content hashes, the planned pairs and the tile size: workers that plan the
    same grid get the same key, and a grid of other inputs another.
    """
    digest = hashlib.sha256()
    for part in ("repalign-shared-grid-1", m.name, canonical_params(m.params), str(block),
                 "\0".join(names), "\0".join(hashes)):
        digest.update(part.encode())
        digest.update(b"\1")
    digest.update(",".join(f"{i}:{j}" for i, j in planned.tolist()).encode())
    return digest.hexdigest()[:32]


class _Lease:
    """Renews the lease of the block held, every ``lease / 3`` seconds, on its own thread."""

    def __init__(self, store, worker: str, lease: float):
        self.store, self.worker, self.lease = store, worker, lease
        self.held, self.lock, self.stop = None, threading.Lock(), threading.Event()
        self.thread = threading.Thread(target=self._run, name="repalign-lease", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join()

    def hold(self, held) -> None:
        with self.lock:
            self.held = held

    def _run(self) -> None:
        while not self.stop.wait(self.lease / 3):
            with self.lock:
                held = self.held
            if held is not None:
                # False: the lease was lost (this process stalled past it); the block
                # is finished anyway, and the store keeps one row per pair.
                self.store.renew(*held, self.worker, self.lease)


def run_workers_share(store, source, plans, done, stats, worker: str, lease: float,
                      advance) -> None:
    """Compute this worker's share of the grid ``plans`` (see the module docstring).

    ``done`` holds, per measure, the rows stored before the grid began (their
    pairs are not computed again); the rows this worker computes are written
    to ``store`` with their block's done mark.
    """
    from .run import _pair_values, _prepare, _warn_undefined

    jobs = []
    for (m, planned), stored in zip(plans, done):
        block = tile_side(m)
        tile_list = tiles(planned, block)
        jobs.append((m, tile_list, grid_key(m, source.names, source.hashes, planned, block),
                     stored))
    poll = min(1.0, lease / 4)
    with _Lease(store, worker, lease) as held:
        while True:
            left = 0
            for m, tile_list, key, stored in jobs:
                fields = {**measure_fields(m), "library_version": __version__}
                arrays, states, undefined = {}, {}, []
                while True:
                    k, not_done = store.claim(key, len(tile_list), worker, lease)
                    if k is None:
                        left += not_done
                        break
                    held.hold((key, k))
                    todo = [p for p in tile_list[k].pairs if p not in stored]
                    for r in {r for p in todo for r in p}:
                        if r not in states:
                            arrays[r] = source.load(r)
                            states[r] = _prepare(m, arrays[r])
                    computed = (_pair_values(m, todo, states, arrays, stats, source.hashes)
                                if todo else [])
                    store.put_pairs(fields, source.names, source.hashes, computed,
                                    finish=(key, k, worker))
                    held.hold(None)
                    undefined += [(source.names[i], source.names[j], reason)
                                  for i, j, _, reason in computed if reason is not None]
                    advance(len(computed))
                _warn_undefined(m, undefined)
            if left == 0:
                return
            time.sleep(poll)
