"""Claims of a shared grid's blocks in a result store: leases that expire when a worker dies.

Several processes (:func:`repalign.grid` with ``worker=True``) share one grid by
claiming its blocks in the result store they all write to. A block is one tile
of a measure's plan, named by the grid's key (a digest of the measure, its
parameters, the representations and the planned pairs) and its index. The
table, created on the first claim::

    claims(grid, block, worker, expires, done)   PRIMARY KEY (grid, block)

holds one row per block ever claimed: who claimed it last, until when its lease
runs (Unix time, from the claimer's clock) and whether it is done. A block is
free when it has no row, or its lease has expired and it is not done; a worker
renews its lease while it computes, so only a dead (or stalled) worker's lease
expires. A block is marked done in the transaction that writes its rows, so a
done block has all its rows and is never claimed again. Every call is one
``BEGIN IMMEDIATE`` transaction: two workers never claim one block at once.
"""

from __future__ import annotations

import sqlite3
import time

__all__ = []

_TABLE = """CREATE TABLE IF NOT EXISTS claims (
    grid TEXT NOT NULL,
    block INTEGER NOT NULL,
    worker TEXT NOT NULL,
    expires REAL NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (grid, block)
)"""
_UPSERT = ("INSERT INTO claims (grid, block, worker, expires, done) VALUES (?, ?, ?, ?, 0) "
           "ON CONFLICT (grid, block) DO UPDATE SET worker = excluded.worker, "
           "expires = excluded.expires")


def claim(conn: sqlite3.Connection, grid: str, n_blocks: int, worker: str,
          lease: float) -> tuple[int | None, int]:
    """Claim the first free block of ``grid``; ``(block or None, blocks not done)``.

    Runs inside the caller's write transaction.
    """
    conn.execute(_TABLE)
    now = time.time()
    held = {block: (done, expires) for block, done, expires in conn.execute(
        "SELECT block, done, expires FROM claims WHERE grid = ? AND block < ?",
        (grid, n_blocks))}
    left = n_blocks - sum(1 for done, _ in held.values() if done)
    for block in range(n_blocks):
        state = held.get(block)
        if state is None or (not state[0] and state[1] <= now):
            conn.execute(_UPSERT, (grid, block, worker, now + lease))
            return block, left
    return None, left


def renew(conn: sqlite3.Connection, grid: str, block: int, worker: str, lease: float) -> bool:
    """Extend ``worker``'s lease of a block it holds; False if it lost it (or it is done)."""
    conn.execute(_TABLE)
    changed = conn.execute(
        "UPDATE claims SET expires = ? WHERE grid = ? AND block = ? AND worker = ? AND done = 0",
        (time.time() + lease, grid, block, worker))
    return changed.rowcount == 1


def finish(conn: sqlite3.Connection, grid: str, block: int, worker: str) -> None:
    """Mark a block done (in the transaction that writes its rows), whoever held it."""
    conn.execute(_TABLE)
    conn.execute(_UPSERT, (grid, block, worker, time.time()))
    conn.execute("UPDATE claims SET done = 1 WHERE grid = ? AND block = ?", (grid, block))


def blocks(conn: sqlite3.Connection, grid: str | None) -> list[dict]:
    """The claimed blocks (of one grid, or all), as dicts; [] if none was ever claimed."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                          "name = 'claims'").fetchone()
    if not exists:
        return []
    where, args = ("WHERE grid = ?", (grid,)) if grid is not None else ("", ())
    return [{"grid": g, "block": b, "worker": w, "expires": e, "done": bool(d)}
            for g, b, w, e, d in conn.execute(
                f"SELECT grid, block, worker, expires, done FROM claims {where} "
                "ORDER BY grid, block", args)]
