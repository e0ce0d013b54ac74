"""A catalogue of hostile inputs to the stores and the grid, each judged by its outcome.

Every case does something a user, or the world, may do to an
:class:`~repalign.ActivationStore`, a :class:`~repalign.ResultStore` or
:func:`repalign.grid`: hostile names (empty, ``/``, ``..``, very long, unicode,
names differing only in case or by a slash), representations of unequal stimulus
counts or of other stimuli, arrays changed under their names, two writers of one
store in two processes, a full disk, a kill during a write. Its outcome is judged:

- ``correct``: the right result (values checked against an independent
  computation from what is stored);
- ``clear error``: an exception whose message names the argument (what was
  expected and what came);
- anything else fails the case: ``unclear error`` (an exception that does not say
  what is wrong) or ``wrong`` (a silently wrong value).

Whatever a case does, what was stored before it (a witness array pair and the
result rows of their grid) must come out of it unchanged; if not, the case is
``wrong``.

Run this file as a script (``python tests/store/test_hostile.py``) to print each
case's verdict and the counts.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

import repalign
from repalign.store import ActivationStore, ResultStore, _atomic
from repalign.store.activations import content_hash

SRC = str(Path(repalign.__file__).resolve().parents[1])
N = 20  # stimuli of every representation unless a case says otherwise
WITNESS = {("keep", "w0"): 0, ("keep", "w1"): 1}


class Verdict(Exception):
    """A case's failing verdict: ``unclear error: ...`` or ``wrong: ...``."""


def data(seed, n=N, d=5):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def wrong(why):
    raise Verdict(f"wrong: {why}")


def judged(err, *words):
    """``"clear error"`` if the message of ``err`` holds each of ``words``, else a failing
    :class:`Verdict`."""
    text = f"{type(err).__name__}: {err}"
    if all(w.lower() in text.lower() for w in words):
        return "clear error"
    raise Verdict(f"unclear error (expected {words} in the message): {text[:400]}")


def refused(call, *words, kinds=(ValueError, TypeError, OSError)):
    """``"clear error"`` if ``call()`` raises with each of ``words`` in its message.

    Returns None if it raises nothing; a failing :class:`Verdict` if it raises
    without saying what is wrong.
    """
    try:
        call()
    except kinds as err:
        return judged(err, *words)
    return None


def cka(X, Y):
    return repalign.measure("cka", np.asarray(X, np.float64), np.asarray(Y, np.float64))


class World:
    """A store and a result store that already hold something: the witness."""

    def __init__(self, root: Path):
        self.root = root
        self.acts = root / "acts"
        self.results = root / "results.db"
        with ActivationStore(self.acts, mode="a", fsync=False) as store:
            for (model, layer), seed in WITNESS.items():
                store.add(model, layer, data(seed), chunk_size=6)
        self.witness_rows = self._witness_rows(
            repalign.grid({f"{m}/{layer}": data(s) for (m, layer), s in WITNESS.items()},
                          ["cka"], results=self.results).rows)

    @staticmethod
    def _witness_rows(rows):
        names = {f"{m}/{layer}" for m, layer in WITNESS}
        return {(r["a"], r["b"], r["hash_a"], r["hash_b"]): r["value"] for r in rows
                if r["a"] in names and r["b"] in names and r["measure"] == "cka"}

    def open(self, mode="a"):
        return ActivationStore(self.acts, mode=mode, fsync=False)

    def check_intact(self):
        """What was stored before the case is there, unchanged and readable."""
        with ActivationStore(self.acts, mode="r") as store:
            listed = store.list()
            for (model, layer), seed in WITNESS.items():
                assert (model, layer) in listed, f"{model}/{layer} is no longer listed"
                got = store.read(model, layer, verify=True)
                np.testing.assert_array_equal(got, data(seed))
                assert store.attrs(model, layer)["content_hash"] == content_hash(data(seed))
        with ResultStore(self.results, read_only=True) as results:
            kept = self._witness_rows(results.rows())
        assert kept == self.witness_rows, "the witness rows of the result store changed"

    def grid_is_true(self, **kwargs):
        """Grid the store into the result store; each value must match its arrays now."""
        with self.open("r") as store:
            truth = {f"{m}/{layer}": store.read(m, layer) for m, layer in store.list()}
            result = repalign.grid(store, ["cka"], results=self.results, **kwargs)
        for r in result.rows:
            expected = cka(truth[r["a"]], truth[r["b"]])
            if not np.isclose(r["value"], expected, atol=1e-6, equal_nan=True):
                wrong(f"grid value of ({r['a']}, {r['b']}) is {r['value']}, the stored arrays "
                      f"give {expected}")
        return result


CASES = {}


def case(function):
    CASES[function.__name__.removeprefix("case_")] = function
    return function


# ---------------------------------------------------------------------- hostile names
def _round_trip(world, pairs):
    """Add each (model, layer) with its own data; each must read back as its own."""
    with world.open() as store:
        for k, (model, layer) in enumerate(pairs):
            store.add(model, layer, data(100 + k))
        listed = store.list()
        for k, (model, layer) in enumerate(pairs):
            if (model, layer) not in listed:
                wrong(f"{(model, layer)} was added but is not listed: {listed}")
            if not np.array_equal(store.read(model, layer), data(100 + k)):
                wrong(f"{(model, layer)} reads back another array")
    world.grid_is_true()
    return "correct"


@case
def case_empty_model_name(world):
    with world.open() as store:
        return refused(lambda: store.add("", "l", data(1)), "model", "''") or \
            wrong("an empty model name was accepted")


@case
def case_empty_layer_name(world):
    with world.open() as store:
        return refused(lambda: store.add("m", "", data(1)), "layer", "''") or \
            wrong("an empty layer name was accepted")


@case
def case_path_like_names(world):
    return _round_trip(world, [("/", "/"), ("..", ".."), (".", "."), ("a/../b", "../../x"),
                               (".trash", "zarr.json"), ("%2F", "c")])


@case
def case_very_long_name(world):
    with world.open() as store:
        return refused(lambda: store.add("m" * 300, "l", data(1)), "model", "too long") or \
            wrong("a 300-character model name was accepted")


@case
def case_long_unicode_name(world):
    # 60 two-byte letters escape to 360 characters: over the 255 bytes of a file name.
    with world.open() as store:
        return refused(lambda: store.add("m", "ü" * 60, data(1)), "layer", "too long") or \
            wrong("a name over the file-name limit was accepted")


@case
def case_unicode_names(world):
    return _round_trip(world, [("über", "层/1"), ("🧠", "e\u0301"), ("🧠", "\u00e9"),
                               ("tab\tnew\nline", "nul\x00byte")])


@case
def case_lone_surrogate_name(world):
    with world.open() as store:
        return refused(lambda: store.add("m\ud800", "l", data(1)), "model") or \
            wrong("a name that is not valid Unicode text was accepted")


@case
def case_names_differing_only_in_case(world):
    # On a case-sensitive file system both are kept; on a case-insensitive one the
    # second is refused. Either way each name must read back its own array.
    try:
        return _round_trip(world, [("Net", "Layer"), ("net", "layer"), ("NET", "LAYER")])
    except ValueError as err:
        if "differ only in case" in str(err):
            return "clear error"
        raise


@case
def case_names_differing_by_a_slash(world):
    # ("a/b", "c") and ("a", "b/c") are two arrays, but both would be "a/b/c" in a grid.
    with world.open() as store:
        store.add("a/b", "c", data(1))
        store.add("a", "b/c", data(2))
        np.testing.assert_array_equal(store.read("a/b", "c"), data(1))
        np.testing.assert_array_equal(store.read("a", "b/c"), data(2))
    with world.open("r") as store:
        verdict = None
        try:
            result = repalign.grid(store, ["cka"], results=world.results)
        except ValueError as err:
            verdict = judged(err, "a/b/c", "'a/b'", "'b/c'")
        if verdict is None:
            names = result.representations
            if len(set(names)) != len(names):
                wrong(f"two arrays share the grid name 'a/b/c': {names}")
            return "correct"
        return verdict


@case
def case_model_names_with_a_slash_are_one_model(world):
    # "runs/r50" is one model: its layers are "within_model" pairs, not pairs with "runs/vit".
    with world.open() as store:
        store.add("runs/r50", "l1", data(1))
        store.add("runs/r50", "l2", data(2))
        store.add("runs/vit", "l1", data(3))
    with world.open("r") as store:
        result = repalign.grid(store, ["cka"], pairs="within_model", results=world.results)
    got = {(r["a"], r["b"]) for r in result.rows if not r["a"].startswith("keep")}
    expected = {("runs/r50/l1", "runs/r50/l1"), ("runs/r50/l1", "runs/r50/l2"),
                ("runs/r50/l2", "runs/r50/l2"), ("runs/vit/l1", "runs/vit/l1")}
    if got != expected:
        wrong(f"within_model pairs of models with '/' in their names: {sorted(got)}")
    return "correct"


@case
def case_grid_dict_with_an_empty_name(world):
    reps = {"": data(1), "x": data(2)}
    return refused(lambda: repalign.grid(reps, ["cka"], results=world.results),
                   "reps", "''") or wrong("an empty representation name was accepted")


@case
def case_grid_dict_names_differing_only_in_case(world):
    reps = {"Net/a": data(1), "net/a": data(2), "NET/a": data(3)}
    result = repalign.grid(reps, ["cka"], results=world.results)
    for r in result.rows:
        if not np.isclose(r["value"], cka(reps[r["a"]], reps[r["b"]]), atol=1e-9):
            wrong(f"({r['a']}, {r['b']}) has another pair's value")
    with ResultStore(world.results, read_only=True) as results:
        stored = {(r["a"], r["b"]) for r in results.rows()}
    if not {(r["a"], r["b"]) for r in result.rows} <= stored:
        wrong("rows of names differing in case are missing from the result store")
    return "correct"


@case
def case_result_store_path_is_a_directory(world):
    (world.root / "dir.db").mkdir()
    return refused(lambda: ResultStore(world.root / "dir.db"), "dir.db") or \
        wrong("a directory was opened as a result store")


@case
def case_result_store_on_a_foreign_file(world):
    (world.root / "notes.db").write_text("not a database\n" * 100)
    verdict = refused(lambda: ResultStore(world.root / "notes.db"), "notes.db")
    if (world.root / "notes.db").read_text() != "not a database\n" * 100:
        wrong("the foreign file was changed")
    return verdict or wrong("a text file was opened as a result store")


# ---------------------------------------------------------------------- unequal stimuli
@case
def case_store_with_unequal_stimulus_counts(world):
    with world.open() as store:
        store.add("short", "l", data(1, n=N - 5))
    with world.open("r") as store:
        try:
            result = repalign.grid(store, ["cka"], results=world.results)
        except ValueError as err:
            return judged(err, "short/l", str(N - 5), str(N))
    wrong(f"a grid of {N} and {N - 5} stimuli returned {len(result.rows)} rows "
          f"({sum(np.isnan(r['value']) for r in result.rows)} NaN)")


@case
def case_dict_with_unequal_stimulus_counts(world):
    reps = {"a/x": data(1), "b/x": data(2, n=N - 1)}
    return refused(lambda: repalign.grid(reps, ["cka"]), "b/x", str(N - 1), str(N)) or \
        wrong("a dict of unequal stimulus counts was accepted")


@case
def case_store_with_other_stimulus_sets(world):
    # Same count, but the arrays say they hold other stimuli.
    with world.open() as store:
        store.add("cat", "l", data(1), stimulus_set="cats")
        store.add("dog", "l", data(2), stimulus_set="dogs")
    with world.open("r") as store:
        try:
            repalign.grid(store, ["cka"], results=world.results)
        except ValueError as err:
            return judged(err, "stimulus_set", "cats", "dogs")
    wrong("arrays of the stimulus sets 'cats' and 'dogs' were compared")


@case
def case_store_with_other_stimulus_ids(world):
    with world.open() as store:
        store.add("fwd", "l", data(1), stimulus_ids=list(range(N)))
        store.add("rev", "l", data(2), stimulus_ids=list(range(N))[::-1])
    with world.open("r") as store:
        try:
            repalign.grid(store, ["cka"], results=world.results)
        except ValueError as err:
            return judged(err, "stimulus_ids", "fwd/l", "rev/l")
    wrong("arrays of the same stimuli in another order were compared")


# ---------------------------------------------------------------------- changed arrays
@case
def case_dict_array_changed_under_its_name(world):
    reps = {"a/x": data(1), "b/x": data(2)}
    repalign.grid(reps, ["cka"], results=world.results)
    reps["b/x"] = data(3)
    result = repalign.grid(reps, ["cka"], results=world.results)
    for r in result.rows:
        if not np.isclose(r["value"], cka(reps[r["a"]], reps[r["b"]]), atol=1e-9):
            wrong(f"({r['a']}, {r['b']}) kept the value of the old array")
    return "correct"


@case
def case_deleted_and_added_again_with_other_stimuli(world):
    with world.open() as store:
        store.add("net", "l", data(1))
    world.grid_is_true()
    with world.open() as store:
        store.delete("net", "l")
        store.add("net", "l", data(2))
    world.grid_is_true()
    return "correct"


@case
def case_chunk_rewritten_by_a_stale_writer(world):
    # Two writers of one incomplete array (a resumed run while the first one lives);
    # the first finalizes; the stale one then rewrites a chunk of the complete array.
    with world.open() as store:
        stale = store.writer("net", "l", N, 5, chunk_size=10)
        fresh = store.writer("net", "l", N, 5, chunk_size=10)
        fresh.write_chunk(0, data(1)[:10])
        fresh.write_chunk(1, data(1)[10:])
        fresh.finalize()
        world.grid_is_true()
        verdict = refused(lambda: stale.write_chunk(0, data(2)[:10]), "complete", "net")
    world.grid_is_true()
    with world.open("r") as store:
        try:
            store.read("net", "l", verify=True)
        except ValueError as err:
            wrong(f"the stored content hash is stale: {err}")
    return verdict or "correct"


@case
def case_writer_from_before_a_delete(world):
    with world.open() as store:
        old = store.writer("net", "l", N, 5, chunk_size=10)
        old.write_chunk(0, data(1)[:10])
        store.delete("net", "l")
        store.add("net", "l", data(2), chunk_size=10)
        world.grid_is_true()
        verdict = refused(lambda: old.write_chunk(1, data(3)[10:]), "net")
    world.grid_is_true()
    with world.open("r") as store:
        if not np.array_equal(store.read("net", "l"), data(2)):
            wrong("a writer of the deleted array wrote into its replacement")
    return verdict or "correct"


@case
def case_writer_of_an_array_that_add_replaced(world):
    with world.open() as store:
        old = store.writer("net", "l", N, 5, chunk_size=10)
        old.write_chunk(0, data(1)[:10])
        store.add("net", "l", data(2), chunk_size=10)  # replaces the incomplete array
        world.grid_is_true()
        verdict = refused(lambda: old.write_chunk(1, data(3)[10:]), "net")
        if verdict is None:
            refused(lambda: old.finalize(), "net")
    world.grid_is_true()
    with world.open("r") as store:
        if not np.array_equal(store.read("net", "l"), data(2)):
            wrong("a writer of the replaced array wrote into its replacement")
    return verdict or "correct"


@case
def case_chunk_rewritten_outside_repalign(world):
    with world.open() as store:
        store.add("net", "l", data(1), chunk_size=10)
    world.grid_is_true()
    raw = zarr.open_array(str(world.acts / "net" / "l"), mode="r+", zarr_format=3)
    raw[:10] = data(2)[:10]
    world.grid_is_true()
    return "correct"


@case
def case_writer_on_a_complete_array(world):
    with world.open() as store:
        store.add("net", "l", data(1), chunk_size=10)
        return refused(lambda: store.writer("net", "l", N, 5, chunk_size=10),
                       "already complete", "net") or wrong("a complete array was reopened")


@case
def case_resume_with_other_stimulus_ids(world):
    with world.open() as store:
        w = store.writer("net", "l", N, 5, chunk_size=10, attrs={"stimulus_ids": list(range(N))})
        w.write_chunk(0, data(1)[:10])
        del w
        return refused(lambda: store.writer("net", "l", N, 5, chunk_size=10,
                                            attrs={"stimulus_ids": list(range(1, N + 1))}),
                       "stimulus_ids", "cannot be resumed") or \
            wrong("an array of other stimuli was resumed")


@case
def case_finalize_racing_a_chunk_write(world):
    # Writer B rewrites chunk 0 while writer A finalizes: the hash must be the content's.
    with world.open() as store:
        a = store.writer("net", "l", N, 5, chunk_size=10)
        b = store.writer("net", "l", N, 5, chunk_size=10)
        a.write_chunk(0, data(1)[:10])
        a.write_chunk(1, data(1)[10:])
        inside, release = threading.Event(), threading.Event()
        real_open = builtins.open

        class Paused:
            def __init__(self, f):
                self.f = f

            def write(self, raw):
                inside.set()
                release.wait(10)
                return self.f.write(raw)

            def __getattr__(self, name):
                return getattr(self.f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

        def paused_open(path, mode="r", *args, **kwargs):
            f = real_open(path, mode, *args, **kwargs)
            is_chunk = f"{os.sep}c{os.sep}" in str(path) and threading.current_thread() \
                is not threading.main_thread() and not inside.is_set()
            return Paused(f) if "w" in mode and is_chunk else f

        errors = []

        def run(call):
            try:
                call()
            except Exception as err:  # judged below
                errors.append(err)

        _atomic.open = paused_open
        try:
            writer = threading.Thread(target=run, args=(lambda: b.write_chunk(0, data(2)[:10]),))
            writer.start()
            inside.wait(10)
            finisher = threading.Thread(target=run, args=(a.finalize,))
            finisher.start()
            finisher.join(0.5)
            release.set()
            writer.join(10)
            finisher.join(10)
        finally:
            del _atomic.open
        for err in errors:
            judged(err, "net")
    with world.open("r") as store:
        if ("net", "l") in store.list():
            try:
                store.read("net", "l", verify=True)
            except ValueError as err:
                wrong(f"finalize published a hash of other contents: {err}")
    world.grid_is_true()
    return "clear error" if errors else "correct"


# ---------------------------------------------------------------------- two processes
CHILD = """
import sys, time, os
sys.path.insert(0, {src!r})
import numpy as np
from repalign.store import ActivationStore, ActivationWriter
path, go, who, job = sys.argv[1:5]
def data(seed, n={n}, d=5):
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
real = ActivationWriter.write_chunk
def slow(self, index, array):
    real(self, index, array)
    time.sleep(0.01)
ActivationWriter.write_chunk = slow
open(go + "." + who, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
try:
    store = ActivationStore(path, mode="a", fsync=False)
    if job == "layers":  # this process's own layers of one model
        for k in range(4):
            store.add("two", f"{{who}}.{{k}}", data(10 * int(who) + k), chunk_size=4)
    elif job == "same":  # the same array, other data
        store.add("race", "l", data(int(who)), chunk_size=2)
    elif job == "resume":  # the same extraction, run twice at once
        w = store.writer("ext", "l", {n}, 5, chunk_size=2, attrs={{"stimulus_set": "s"}})
        for i in sorted(set(range(w.n_chunks)) - w.done_chunks()):
            w.write_chunk(i, data(7)[w.chunk_slice(i)])
        w.finalize()
    print("ok")
except Exception as err:
    print("error", type(err).__name__, err)
"""


def _two_processes(world, job, path=None):
    script = world.root / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(src=SRC, n=N)))
    go = world.root / f"go-{job}"
    procs = [subprocess.Popen([sys.executable, str(script), str(path or world.acts), str(go),
                               who, job], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for who in ("1", "2")]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.{who}").exists() for who in ("1", "2")):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
            raise RuntimeError("children did not start: "
                               + " | ".join(p.communicate()[1][-500:] for p in procs))
        time.sleep(0.01)
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"child failed: {err[-1000:]}")
        outs.append(out.strip())
    return outs


@case
def case_two_processes_add_their_own_layers(world):
    outs = _two_processes(world, "layers")
    if outs != ["ok", "ok"]:
        raise Verdict(f"unclear error: {outs}")
    with world.open("r") as store:
        for who in (1, 2):
            for k in range(4):
                if not np.array_equal(store.read("two", f"{who}.{k}", verify=True),
                                      data(10 * who + k)):
                    wrong(f"two/{who}.{k} holds another array")
    world.grid_is_true()
    return "correct"


@case
def case_two_processes_create_one_store(world):
    path = world.root / "fresh"
    for attempt in range(3):
        outs = _two_processes(world, "layers", path / str(attempt))
        if outs != ["ok", "ok"]:
            raise Verdict(f"unclear error (attempt {attempt}): {outs}")
    return "correct"


@case
def case_two_processes_add_one_array_with_other_data(world):
    outs = _two_processes(world, "same")
    ok = [k for k, out in enumerate(outs) if out == "ok"]
    with world.open("r") as store:
        if ("race", "l") not in store.list():
            if ok:
                wrong(f"{outs}, but nothing is stored")
            for out in outs:
                judged(ValueError(out), "race")
            return "clear error"
        stored = store.read("race", "l", verify=True)
    if len(ok) != 1:
        winners = [k for k in (0, 1) if np.array_equal(stored, data(k + 1))]
        wrong(f"both processes reported success ({outs}) and the array holds "
              f"{'process ' + str(winners[0] + 1) + ' data' if winners else 'a mixture'}")
    if not np.array_equal(stored, data(ok[0] + 1)):
        wrong("the array is not the data of the process that succeeded")
    loser = outs[1 - ok[0]]
    judged(ValueError(loser), "race")
    world.grid_is_true()
    return "clear error"


@case
def case_two_processes_resume_one_extraction(world):
    outs = _two_processes(world, "resume")
    with world.open("r") as store:
        if not np.array_equal(store.read("ext", "l", verify=True), data(7)):
            wrong("the resumed array is not the extraction's data")
    for out in outs:
        if out != "ok":
            judged(ValueError(out), "ext")
    world.grid_is_true()
    return "correct"


# ---------------------------------------------------------------------- a full disk
@contextlib.contextmanager
def disk_full(when):
    """Every file write of the activation store for which ``when(path, count)`` holds
    raises ``OSError(ENOSPC)`` (``count``: how many files were written before)."""
    real_open = builtins.open
    count = [0]

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, raw):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        if "w" in mode:
            count[0] += 1
            if when(str(path), count[0] - 1):
                return Full(f)
        return f

    _atomic.open = full_open
    try:
        yield
    finally:
        del _atomic.open


def _no_debris(world):
    left = [p for p in world.acts.rglob("*.tmp")]
    if left:
        wrong(f"temporary files left behind: {left[:3]}")


def _is_enospc(call):
    try:
        call()
    except OSError as err:
        if err.errno == errno.ENOSPC:
            return "clear error"
        raise Verdict(f"unclear error: {err}") from None
    wrong("the write succeeded on a full disk")


@case
def case_disk_full_during_add(world):
    with world.open() as store:
        with disk_full(lambda path, count: f"{os.sep}c{os.sep}2" in path):
            verdict = _is_enospc(lambda: store.add("full", "l", data(1), chunk_size=4))
        if ("full", "l") in store.list():
            wrong("a failed add is listed")
        _no_debris(world)
        store.add("full", "l", data(1), chunk_size=4)  # space again
        if not np.array_equal(store.read("full", "l", verify=True), data(1)):
            wrong("the array added after the disk was freed is wrong")
    world.grid_is_true()
    return verdict


@case
def case_disk_full_during_a_chunk_write(world):
    with world.open() as store:
        w = store.writer("full", "l", N, 5, chunk_size=4)
        w.write_chunk(0, data(1)[:4])
        with disk_full(lambda path, count: True):
            verdict = _is_enospc(lambda: w.write_chunk(1, data(1)[4:8]))
        _no_debris(world)
        if w.done_chunks() != {0}:
            wrong(f"a chunk that failed to write counts as written: {w.done_chunks()}")
        for i in range(1, w.n_chunks):
            w.write_chunk(i, data(1)[w.chunk_slice(i)])
        w.finalize()
        if not np.array_equal(store.read("full", "l", verify=True), data(1)):
            wrong("the array finished after the disk was freed is wrong")
    world.grid_is_true()
    return verdict


@case
def case_disk_full_during_finalize(world):
    with world.open() as store:
        w = store.writer("full", "l", N, 5, chunk_size=4)
        for i in range(w.n_chunks):
            w.write_chunk(i, data(1)[w.chunk_slice(i)])
        with disk_full(lambda path, count: "zarr.json" in path):
            verdict = _is_enospc(w.finalize)
        if ("full", "l") in store.list():
            wrong("an array whose finalize failed is listed")
        _no_debris(world)
    with world.open() as store:
        w = store.writer("full", "l", N, 5, chunk_size=4)
        if w.done_chunks() != set(range(w.n_chunks)):
            wrong("written chunks were lost by a failed finalize")
        w.finalize()
        if not np.array_equal(store.read("full", "l", verify=True), data(1)):
            wrong("the array finalized after the disk was freed is wrong")
    world.grid_is_true()
    return verdict


@case
def case_disk_full_creating_a_store(world):
    path = world.root / "new-store"
    with disk_full(lambda path, count: True):
        verdict = _is_enospc(lambda: ActivationStore(path, mode="a"))
    with ActivationStore(path, mode="a") as store:  # space again
        store.add("m", "l", data(1))
        if store.list() != [("m", "l")]:
            wrong("a store created after a failed creation lists the wrong arrays")
    return verdict


@case
def case_disk_full_starting_a_writer(world):
    with world.open() as store:
        with disk_full(lambda path, count: True):
            verdict = _is_enospc(lambda: store.writer("full", "l", N, 5, chunk_size=4))
        _no_debris(world)
        store.add("full", "l", data(1), chunk_size=4)
        if not np.array_equal(store.read("full", "l", verify=True), data(1)):
            wrong("the array added after the disk was freed is wrong")
    world.grid_is_true()
    return verdict


@case
def case_disk_full_storing_grid_rows(world):
    with world.open() as store:
        for k in range(3):
            store.add("net", f"l{k}", data(k + 1))
    real = ResultStore.put_columns  # the grid's batch path
    calls = [0]

    def full(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)

    run = importlib.import_module("repalign.grid.run")
    plan = importlib.import_module("repalign.grid.plan")
    settings = plan.BATCHED_BLOCK, run.COMMIT_EVERY_S
    # one tile per pair, each stored in its own transaction: the disk fills after two
    ResultStore.put_columns, plan.BATCHED_BLOCK, run.COMMIT_EVERY_S = full, 1, 0.0
    try:
        with world.open("r") as store:
            verdict = _is_enospc(lambda: repalign.grid(store, ["cka"], results=world.results))
    finally:
        ResultStore.put_columns = real
        plan.BATCHED_BLOCK, run.COMMIT_EVERY_S = settings
    world.grid_is_true()
    return verdict


# ---------------------------------------------------------------------- a kill
KILLED = """
import sys, os, time
sys.path.insert(0, {src!r})
import numpy as np
from repalign.store import ActivationStore
path, flag = sys.argv[1:3]
store = ActivationStore(path, mode="a")
for k in range(100):
    X = np.random.default_rng(k).standard_normal((4096, 256)).astype(np.float32)
    store.add("killed", f"l{{k}}", X, chunk_size=256)
    open(flag, "w").close()
"""


@case
def case_killed_while_adding(world):
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("needs SIGKILL")
    script, flag = world.root / "killed.py", world.root / "flag"
    script.write_text(textwrap.dedent(KILLED.format(src=SRC)))
    proc = subprocess.Popen([sys.executable, str(script), str(world.acts), str(flag)],
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    with world.open() as store:
        listed = [layer for m, layer in store.list() if m == "killed"]
        if not listed:
            wrong("no array was complete before the kill")
        for layer in listed:
            X = np.random.default_rng(int(layer[1:])).standard_normal((4096, 256))
            if not np.array_equal(store.read("killed", layer, verify=True), X.astype(np.float32)):
                wrong(f"killed/{layer} is listed but not whole")
        for model, layer in store.incomplete():
            store.delete(model, layer)
    return "correct"


# ---------------------------------------------------------------------- running
def run_case(name, root: Path) -> str:
    world = World(root)
    try:
        verdict = CASES[name](world)
    except Verdict as failed:
        verdict = str(failed)
    except Exception as err:  # an exception the case did not expect: not a clear error
        verdict = f"unclear error: {type(err).__name__}: {str(err)[:400]}"
    try:
        world.check_intact()
    except Exception as err:
        verdict = f"wrong: what was stored before was lost or changed ({err})"
    return verdict


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_case(name, tmp_path):
    verdict = run_case(name, tmp_path)
    assert verdict in ("correct", "clear error"), f"{name}: {verdict}"


def main() -> None:
    counts: dict[str, int] = {}
    for name in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            verdict = run_case(name, Path(tmp))
        kind = verdict.split(":")[0].split(" (")[0]
        counts[kind] = counts.get(kind, 0) + 1
        print(f"{name:52s} {verdict[:200]}")
    print(json.dumps({"cases": len(CASES), **counts}))


if __name__ == "__main__":
    main()
