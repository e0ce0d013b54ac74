"""A writer killed with SIGKILL leaves whole chunks only, and resumes to the exact array.

The child process below is a stand-in for an extraction: it opens the store, asks
which chunks are done, writes the others in order and finalizes. The parent kills
it (``os.kill(pid, SIGKILL)``) either at a known point (after k chunks, told by a
signal file) or at random moments while it writes large chunks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

from repalign.store import ActivationStore
from repalign.store.activations import content_hash, encode_name

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

MODEL, LAYER = "net", "blocks.0/attn"

CHUNK_SRC = """
def chunk_values(i, rows, d):
    return np.random.default_rng(1000 + i).standard_normal((rows, d), dtype=np.float32)
"""

CHILD = CHUNK_SRC + """
import os, sys, time
from repalign import ActivationStore
path, n, d, chunk, flag, k, hook = sys.argv[1:8]
n, d, chunk, k = int(n), int(d), int(chunk), int(k)
armed = False
if hook != "none":  # pause inside the next chunk write once k chunks are written
    real = getattr(os, hook)
    def paused(*args, **kwargs):
        if armed:
            open(flag, "w").close()
            time.sleep(600)
        return real(*args, **kwargs)
    setattr(os, hook, paused)
store = ActivationStore(path, mode="a")
w = store.writer("net", "blocks.0/attn", n, d, chunk_size=chunk, attrs={"pooling": "mean"})
done = w.done_chunks()
open(flag + ".ready", "w").close()
written = []
for i in range(w.n_chunks):
    if i in done:
        continue
    sl = w.chunk_slice(i)
    w.write_chunk(i, chunk_values(i, sl.stop - sl.start, d))
    written.append(i)
    if len(written) == k:
        if hook == "none":
            open(flag, "w").close()
            time.sleep(600)
        armed = True
w.finalize()
print("wrote", *written)
"""

namespace: dict = {"np": np}
exec(CHUNK_SRC, namespace)
chunk_values = namespace["chunk_values"]


def expected_array(n, d, chunk):
    return np.concatenate([chunk_values(i, min(chunk, n - i * chunk), d)
                           for i in range((n + chunk - 1) // chunk)])


def start_child(path, n, d, chunk, flag, k=0, hook="none"):
    return subprocess.Popen(
        [sys.executable, "-c", "import numpy as np\n" + CHILD, str(path), str(n), str(d),
         str(chunk), str(flag), str(k), hook],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(path, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            pytest.fail(f"child exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no signal file {path} after {timeout} s")
        time.sleep(0.002)


def kill(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def check_invariants(path, n, d, chunk, expected):
    """Every chunk on disk is whole and right; an incomplete array is hidden."""
    store = ActivationStore(path, mode="r")
    raw = zarr.open_array(str(path / MODEL / encode_name(LAYER)), mode="r", zarr_format=3)
    w_done = {i for i in range((n + chunk - 1) // chunk)
              if (path / MODEL / encode_name(LAYER) / "c" / str(i) / "0").is_file()}
    for i in w_done:
        rows = slice(i * chunk, min((i + 1) * chunk, n))
        np.testing.assert_array_equal(raw[rows], expected[rows], err_msg=f"chunk {i}")
    if (MODEL, LAYER) in store.list():
        np.testing.assert_array_equal(store.read(MODEL, LAYER, verify=True), expected)
        return w_done, True
    assert store.incomplete() == [(MODEL, LAYER)] and store.list() == []
    with pytest.raises(ValueError, match="are incomplete"):
        store.read(MODEL, LAYER)
    return w_done, False


def test_killed_after_k_chunks_resumes_without_recomputing(tmp_path):
    n, d, chunk, k = 75, 16, 8, 4  # 10 chunks, the last one short
    expected = expected_array(n, d, chunk)
    path, flag = tmp_path / "store", tmp_path / "flag"
    proc = start_child(path, n, d, chunk, flag, k)
    wait_for(flag, proc)
    kill(proc)

    done, complete = check_invariants(path, n, d, chunk, expected)
    assert done == {0, 1, 2, 3} and not complete
    with pytest.raises(ValueError, match=r"incomplete \(4 of 10 chunks written"):
        ActivationStore(path).read(MODEL, LAYER)
    writer = ActivationStore(path, mode="a").writer(MODEL, LAYER, n, d, chunk_size=chunk,
                                                    attrs={"pooling": "mean"})
    assert writer.done_chunks() == {0, 1, 2, 3}

    rerun = start_child(path, n, d, chunk, tmp_path / "flag2")
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert out.split() == ["wrote", "4", "5", "6", "7", "8", "9"]  # nothing recomputed
    store = ActivationStore(path)
    assert store.list() == [(MODEL, LAYER)]
    np.testing.assert_array_equal(store.read(MODEL, LAYER), expected)
    assert store.attrs(MODEL, LAYER)["content_hash"] == content_hash(expected)


@pytest.mark.parametrize("hook", ["fsync", "replace"])
def test_killed_inside_a_chunk_write(tmp_path, hook):
    # The child stops inside chunk 3's write: its bytes are in a temporary file,
    # flushed to disk ("replace") or not yet ("fsync"), but not renamed into place.
    n, d, chunk, k = 40, 8, 8, 3
    expected = expected_array(n, d, chunk)
    path, flag = tmp_path / "store", tmp_path / "flag"
    proc = start_child(path, n, d, chunk, flag, k, hook)
    wait_for(flag, proc)
    kill(proc)
    done, complete = check_invariants(path, n, d, chunk, expected)
    assert done == {0, 1, 2} and not complete
    chunk_dir = path / MODEL / encode_name(LAYER) / "c" / "3"
    assert [p.name.endswith(".tmp") for p in chunk_dir.iterdir()] == [True]
    store = ActivationStore(path, mode="a")
    w = store.writer(MODEL, LAYER, n, d, chunk_size=chunk, attrs={"pooling": "mean"})
    assert w.done_chunks() == {0, 1, 2} and not list(chunk_dir.iterdir())
    for i in (3, 4):
        w.write_chunk(i, chunk_values(i, chunk, d))
    w.finalize()
    np.testing.assert_array_equal(store.read(MODEL, LAYER, verify=True), expected)


def test_killed_at_random_moments_during_large_writes(tmp_path):
    # 32 chunks of 512 x 1024 float32 (2 MiB each, fsync on): a chunk takes ~13 ms to
    # make and write, ~3 ms of it in the temporary file; kills land anywhere.
    n, d, chunk = 32 * 512 - 100, 1024, 512
    expected = expected_array(n, d, chunk)
    path = tmp_path / "store"
    rng = np.random.default_rng(int(os.environ.get("REPALIGN_CRASH_SEED", "0")))
    history = []
    for round_ in range(6):
        flag = tmp_path / f"flag{round_}"
        proc = start_child(path, n, d, chunk, flag)
        wait_for(flag.with_name(flag.name + ".ready"), proc)
        time.sleep(rng.uniform(0.0, 0.25))
        finished = proc.poll() is not None
        kill(proc)
        done, complete = check_invariants(path, n, d, chunk, expected)
        partial = len(list(path.rglob("*.tmp")))
        history.append((len(done), partial, complete, finished))
        if complete:
            break
        assert len(done) >= (history[-2][0] if len(history) > 1 else 0)  # progress is kept
    print("\nrounds (chunks done, temp files left, complete, exited):", history)
    store = ActivationStore(path, mode="a")
    if not complete:
        w = store.writer(MODEL, LAYER, n, d, chunk_size=chunk, attrs={"pooling": "mean"})
        assert not list(path.rglob("*.tmp"))  # debris of killed writes is swept
        for i in sorted(set(range(w.n_chunks)) - w.done_chunks()):
            sl = w.chunk_slice(i)
            w.write_chunk(i, chunk_values(i, sl.stop - sl.start, d))
        w.finalize()
    out = store.read(MODEL, LAYER, verify=True)
    np.testing.assert_array_equal(out, expected)
    assert store.attrs(MODEL, LAYER)["content_hash"] == content_hash(expected)
