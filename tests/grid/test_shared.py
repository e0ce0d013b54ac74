"""Shared grids: worker processes claim blocks in the result store, with leases."""

from __future__ import annotations

import collections
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import repalign

SRC = str(Path(repalign.__file__).parents[1])
MEASURES = ["cka", "rsa"]
L = 9  # 45 pairs per measure; tiles of 2 x 2 representations: 15 blocks per measure

run = importlib.import_module("repalign.grid.run")
shared = importlib.import_module("repalign.grid.shared")
plan = importlib.import_module("repalign.grid.plan")

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

REPS = """
def make_reps():
    rng = np.random.default_rng(0)
    return {f"net/l{k}": rng.standard_normal((30, 5)) for k in range(9)}
"""
namespace: dict = {"np": np}
exec(REPS, namespace)
make_reps = namespace["make_reps"]

WORKER = REPS + """
import importlib, json, os, sys, time
import repalign
path, name, log, barrier, n_workers, lease, hang = sys.argv[1:8]
run = importlib.import_module("repalign.grid.run")
shared = importlib.import_module("repalign.grid.shared")
plan = importlib.import_module("repalign.grid.plan")
plan.BATCHED_BLOCK = plan.BLOCK = 2
original = run._pair_values
def logged(m, pairs, *args, **kwargs):  # each computed pair is logged once computed
    if hang == "hang":
        open(log + ".hanging", "w").close()
        time.sleep(600)
    out = original(m, pairs, *args, **kwargs)
    with open(log, "a") as f:
        f.writelines(json.dumps([m.name, i, j]) + "\\n" for i, j, _, _ in out)
    time.sleep(0.1)  # so that the workers interleave
    return out
run._pair_values = logged
open(barrier + "." + name, "w").close()  # start together
while len([p for p in os.listdir(os.path.dirname(barrier))
           if p.startswith(os.path.basename(barrier) + ".")]) < int(n_workers):
    time.sleep(0.01)
repalign.grid(make_reps(), ["cka", "rsa"], results=path, worker=name, lease=float(lease))
"""


def start_worker(tmp_path, name, n_workers=1, lease=5.0, hang=False):
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import numpy as np\n" + WORKER, str(tmp_path / "results.db"),
         name, str(log), str(tmp_path / "barrier"), str(n_workers), str(lease),
         "hang" if hang else "run"],
        env={**os.environ, "PYTHONPATH": SRC}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    return proc, log


def read_log(log):
    if not log.exists():
        return []
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]


def planned_pairs():
    return [(m, i, j) for m in MEASURES for i in range(L) for j in range(i, L)]


def check_against_serial(path):
    expected = repalign.grid(make_reps(), MEASURES).to_dataframe()
    with repalign.ResultStore(path, read_only=True) as store:
        stored = store.to_dataframe()
        claims = store.claims()
    assert len(stored) == len(expected) == len(planned_pairs())
    assert not stored.duplicated(["a", "b", "measure"]).any()
    merged = stored.merge(expected, on=["a", "b", "measure"], suffixes=("", "_serial"))
    assert len(merged) == len(expected)
    np.testing.assert_allclose(merged["value"], merged["value_serial"], rtol=0, atol=1e-12)
    assert len(claims) == 30 and all(c["done"] for c in claims)
    return claims


def test_three_workers_compute_each_pair_exactly_once(tmp_path):
    workers = [start_worker(tmp_path, f"w{k}", n_workers=3) for k in range(3)]
    for proc, _ in workers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    logs = [read_log(log) for _, log in workers]
    counts = collections.Counter(pair for log in logs for pair in log)
    assert sorted(counts) == sorted(planned_pairs())
    assert set(counts.values()) == {1}  # nothing computed twice
    assert all(logs), [len(log) for log in logs]  # every worker took a share
    claims = check_against_serial(tmp_path / "results.db")
    assert {c["worker"] for c in claims} == {"w0", "w1", "w2"}


@posix_only
def test_a_killed_workers_block_is_redone_once_its_lease_expires(tmp_path, monkeypatch):
    proc, log = start_worker(tmp_path, "doomed", lease=3.0, hang=True)
    deadline = time.monotonic() + 60
    while not Path(str(log) + ".hanging").exists():  # it holds its first block
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    with repalign.ResultStore(tmp_path / "results.db", read_only=True) as store:
        (held,) = store.claims()
    assert held["worker"] == "doomed" and not held["done"] and held["block"] == 0

    computed = []
    original = run._pair_values

    def logged(m, pairs, *args, **kwargs):
        out = original(m, pairs, *args, **kwargs)
        computed.extend((m.name, i, j, time.time()) for i, j, _, _ in out)
        return out

    monkeypatch.setattr(run, "_pair_values", logged)
    monkeypatch.setattr(plan, "BATCHED_BLOCK", 2)
    monkeypatch.setattr(plan, "BLOCK", 2)
    result = repalign.grid(make_reps(), MEASURES, results=tmp_path / "results.db",
                           worker="rescuer", lease=1.5)
    assert len(result.rows) == len(planned_pairs())
    counts = collections.Counter(pair[:3] for pair in computed)
    assert sorted(counts) == sorted(planned_pairs()) and set(counts.values()) == {1}
    # the dead worker's block (cka's first tile: pairs of l0, l1) waited for its lease
    first_tile = [t for m, i, j, t in computed if m == "cka" and i < 2 and j < 2]
    others = [t for m, i, j, t in computed if not (m == "cka" and i < 2 and j < 2)]
    assert len(first_tile) == 3 and min(first_tile) >= held["expires"]
    assert min(others) < held["expires"]  # the rescuer did not wait to do the free blocks
    claims = check_against_serial(tmp_path / "results.db")
    assert {c["worker"] for c in claims} == {"rescuer"}
    # a finished grid is not redone: another worker computes nothing
    computed.clear()
    again = repalign.grid(make_reps(), MEASURES, results=tmp_path / "results.db", worker=True)
    assert computed == [] and len(again.rows) == len(planned_pairs())


FIELDS = {"measure": "cka", "params": {}, "kind": "similarity", "symmetric": True,
          "bound_low": 0.0, "bound_high": 1.0}
VALUES = {"value": 0.5, "ci_low": None, "ci_high": None, "p_value": None, "n_stimuli": 10,
          "seconds": 0.0}


def test_a_live_lease_is_respected_and_a_done_block_never_claimed_again(tmp_path):
    with repalign.ResultStore(tmp_path / "results.db") as store:
        assert store.claims() == []
        assert store.claim("g", 3, "A", 60.0) == (0, 3)
        assert store.claim("g", 3, "B", 0.2) == (1, 3)
        assert store.claim("g", 3, "C", 0.2) == (2, 3)
        assert store.claim("g", 3, "D", 60.0) == (None, 3)  # every lease is live
        assert store.claim("other", 1, "D", 60.0) == (0, 1)  # grids are apart
        store.put_pairs(FIELDS, ["x", "y"], ["hx", "hy"], [(0, 1, VALUES)], finish=("g", 1, "B"))
        assert store.renew("g", 2, "C", 0.2) is True
        time.sleep(0.3)  # the leases of blocks 1 (done) and 2 expire
        assert store.renew("g", 1, "B", 60.0) is False  # done
        assert store.claim("g", 3, "D", 60.0) == (2, 2)  # block 2's lease expired
        assert store.renew("g", 2, "C", 60.0) is False  # C lost it
        assert store.claim("g", 3, "E", 60.0) == (None, 2)  # block 1 is done, not redone
        assert [(c["block"], c["worker"], c["done"]) for c in store.claims("g")] == [
            (0, "A", False), (1, "B", True), (2, "D", False)]
        assert len(store) == 1


X = np.random.default_rng(1).standard_normal((20, 3))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"worker": True}, ValueError, "worker=True needs results="),
    ({"worker": 1, "results": "r.db"}, TypeError, "worker must be a bool or a worker name"),
    ({"worker": "", "results": "r.db"}, ValueError, "worker must be True, False or a non-empty"),
    ({"lease": 5.0, "results": "r.db"}, ValueError, "lease is used only with worker=True"),
    ({"worker": True, "lease": 0, "results": "r.db"}, ValueError, "lease must be a positive"),
    ({"worker": True, "lease": float("nan"), "results": "r.db"}, ValueError, "lease must be"),
    ({"worker": True, "lease": "5", "results": "r.db"}, TypeError, "lease must be a number"),
    ({"worker": True, "results": "r.db", "executor": "threads"}, ValueError,
     "worker=True computes its blocks serially.*executor='threads'"),
    ({"worker": True, "results": "r.db", "memory_budget": 10**9}, ValueError,
     "memory_budget is not used with worker=True"),
])
def test_bad_arguments_name_the_argument(tmp_path, kwargs, error, match):
    if "results" in kwargs:
        kwargs["results"] = tmp_path / kwargs["results"]
    with pytest.raises(error, match=match):
        repalign.grid({"a": X, "b": X ** 2}, ["cka"], **kwargs)
    assert not (tmp_path / "r.db").exists()


def test_store_claim_arguments_are_checked(tmp_path):
    with repalign.ResultStore(tmp_path / "results.db") as store:
        for args, error, match in [(("g", 0, "A", 1.0), ValueError, "n_blocks must be"),
                                   (("g", 2, "", 1.0), TypeError, "worker must be"),
                                   (("", 2, "A", 1.0), TypeError, "grid must be"),
                                   (("g", 2, "A", -1.0), ValueError, "lease must be")]:
            with pytest.raises(error, match=match):
                store.claim(*args)
    with repalign.ResultStore(tmp_path / "results.db", read_only=True) as store:
        with pytest.raises(ValueError, match="read_only=True"):
            store.claim("g", 1, "A", 1.0)
