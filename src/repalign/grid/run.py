"""``repalign.grid``: every representation against every other, with several measures.

Each representation is prepared once per measure, then the tiles of the plan
(:mod:`repalign.grid.plan`) pair the prepared states, one
:meth:`~repalign.Measure.pair_block` per tile (matrix products of the stacked
states for CKA and RSA, a loop over ``pair`` otherwise), on one of three executors:
``"serial"`` (this thread), ``"threads"`` (a :mod:`concurrent.futures` thread
pool; measures are stateless, and NumPy's BLAS releases the GIL) or ``"dask"``
(a ``dask.distributed`` cluster). Rows are written to a result store in
batches of whole tiles (one transaction about every ``COMMIT_EVERY_S`` seconds)
in the plan's order, whatever the executor (so the store lists the
representations in the grid's order), and rows already stored are not computed
again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._array_api import to_numpy
from .._validation import Interval, Options
from .._version import __version__
from ..exceptions import DegenerateWarning
from ..inference.statistics import pair_statistics
from ..measures import BLOCK_MEMORY
from ..results import GridResult, GridRows, MeasureRows, canonical_params, measure_fields
from .budget import StateCache, bounded_tiles, state_bytes
from .plan import model_of, plan_measures, plan_pairs, tile_side, tiles

__all__ = ["grid", "pair_seed", "array_hash", "cores"]

EXECUTORS = ("serial", "threads", "dask")
_STATS_DEFAULTS = {"n_permutations": 1000, "interval": "auto", "n_bootstrap": 1000,
                   "seed": 0, "ci": 0.95}
_COUNT = Interval(0, None, integer=True)
_LEVEL = Interval(0, 1, closed="neither")
_INTERVAL = Options("auto", "jackknife", "bootstrap", None)

#: Seconds between two commits of new rows to a result store (each commits whole tiles).
COMMIT_EVERY_S = 1.0


def grid(reps, measures, pairs="all", executor: str = "serial", scheduler=None,
         results=None, stats: dict | None = None,
         memory_budget: int | None = None, worker: bool | str = False,
         lease: float | None = None) -> GridResult:
    """Compare representations pairwise with one or more measures.

    Each representation is prepared once per measure (``L`` preparations), then
    each pair is a cheap :meth:`~repalign.Measure.pair` of two prepared states.
    A symmetric measure computes each unordered pair once; an asymmetric one
    computes both orders. The pairs are cut into tiles of the pair matrix
    (:func:`repalign.grid.plan.tiles`), so a worker holds few prepared states.

    Parameters
    ----------
    reps : ActivationStore or dict of str to array
        The representations, all of the same stimuli in the same order, in the
        order the grid and its rows keep. From an
        :class:`~repalign.ActivationStore`, every complete array in the store's
        order (the order the arrays were created: a network's layers in depth
        order), named ``"model/layer"``, identified by its ``content_hash`` and
        read once per measure; from a dict, name -> array of shape
        ``(n_stimuli, n_features)`` in the dict's order, identified by the
        SHA-256 of its values (:func:`array_hash`, equal to the store's
        ``content_hash``). The model of a dict's name is the part before its
        first "/", else the whole name; a store's arrays know their model.
    measures : list of str or (str, dict)
        Measure names, or ``(name, params)`` pairs for configured measures.
    pairs : {"all", "across_models", "within_model"} or list of (str, str), default="all"
        ``"all"``: every pair, each representation with itself included;
        ``"across_models"``: pairs of different models; ``"within_model"``:
        pairs of one model (self-pairs included); a list: those pairs of names.
    executor : {"serial", "threads", "dask"}, default="serial"
        ``"threads"`` runs at most one worker per core (:func:`cores`) and limits
        the BLAS threads (threadpoolctl) so that workers x BLAS threads never
        exceed the cores, as does the embedded Dask cluster (2 workers); with
        ``"serial"`` BLAS uses the cores. Workers of an external Dask
        cluster are not limited here (start them with ``--nthreads`` x the
        ``OMP_NUM_THREADS`` they get within their cores).
    scheduler : None, str or dask.distributed.Client, default=None
        Dask only. None starts a ``LocalCluster`` of 2 in-process workers and
        closes it afterwards; it is reachable from this process only (the
        ``inproc://`` transport, no network listener) and serves no dashboard or
        other HTTP pages (its HTTP servers, which ``distributed`` always starts,
        listen on 127.0.0.1 only and have no routes). ``"tcp://host:port"``
        connects to a running scheduler; a ``Client`` is used as it is (start
        your own ``LocalCluster`` and pass its ``Client`` for a dashboard).
        Representations are scattered to the cluster once, states are prepared
        where they lie, and tasks receive futures, never arrays.
    results : None, str, path or ResultStore, default=None
        Where rows are kept (:class:`~repalign.ResultStore`; a path is opened and
        closed here). A pair whose row is stored already, identified by the two
        content hashes, the measure and its parameters, is not computed again
        (whatever statistics the stored row has). New rows are written in the
        plan's order, in batches of whole tiles: one transaction once
        ``COMMIT_EVERY_S`` (1) seconds have passed since the last and one at the
        end, each written by a background thread while the grid computes on
        (:meth:`ResultStore.put_columns <repalign.ResultStore.put_columns>`; a new
        file is created on that thread too), so a killed run loses at most its
        last seconds of finished tiles (those committed are kept) and the tiles
        in progress, resumes where it stopped, and the store's rows list the
        representations in the grid's order. ``grid`` returns once every
        batch is committed.
    stats : None or dict, default=None
        Statistics for every pair: ``n_permutations`` (1000), ``interval``
        ("auto": the jackknife where its coverage holds), ``n_bootstrap`` (1000, for
        ``interval="bootstrap"``),
        ``seed`` (0) and ``ci`` (0.95), as in :func:`repalign.compare`,
        computed from the prepared states. The random streams of a pair are
        seeded by :func:`pair_seed` from ``seed`` and the pair's identity, so a
        pair's statistics do not depend on the rest of the grid or the executor.
    memory_budget : None or int, default=None
        Bytes that the prepared states and the temporaries of the tile
        products may take (``"serial"`` and ``"threads"`` executors). None
        holds the states of every representation of a measure at once (4 GB
        of RDMs for RSA over 1,000 representations of 1,000 stimuli). With a
        budget, 3/4 of it holds states (:class:`repalign.grid.budget.StateCache`):
        each representation is prepared once, states that do not fit are
        pickled to a temporary folder (``TMPDIR``; up to the size of all states
        of one measure) and read back when a tile needs them, and the tiles are
        made small enough and swept in panels so that the states of the tiles
        in progress and of one panel of rows fit; the other quarter bounds
        each tile product's temporaries (``pair_block``'s ``memory``, shared
        by the workers); the grid's rows (about 50 bytes a pair while
        computed, held as columns: :class:`repalign.results.GridRows`) and its
        pending pairs are taken out of the budget first. Not counted: rows
        read back from the result store, the arrays being prepared (one per
        worker) and a preparation's own temporaries (an n x n distance matrix
        for RSA), and with ``stats`` the arrays of the tiles in progress. The
        values are those of the unbounded grid.
    worker : bool or str, default=False
        Make this call one worker of a grid shared by several processes of one
        machine (see Notes): start the same call in each, with the same
        ``results``. Each
        worker claims blocks of the grid (the tiles of the plan) in the result
        store, computes them and writes their rows, until every block is done,
        and returns the whole grid. A str names the worker in the store's
        claims (:meth:`ResultStore.claims <repalign.ResultStore.claims>`);
        True names it ``host:pid:random``. Needs ``results`` (a path or a
        ``ResultStore``) and ``executor="serial"`` (start a worker per core
        instead of threads); not with ``memory_budget``. See
        :mod:`repalign.grid.shared`.
    lease : float or None, default=None
        ``worker`` only: seconds a worker's claim of a block holds unless
        renewed (None: 60). A worker renews its lease every third of it while
        it computes; when a worker dies, its block is taken over by another
        worker once the lease has expired. Shorter leases redo a dead
        worker's block sooner; leases must be far longer than the time the
        workers' clocks differ by.

    Returns
    -------
    GridResult
        One row per computed or stored pair, in the plan's order (the order of
        ``reps``); ``to_dataframe()`` and ``to_xarray()``.

    Raises
    ------
    TypeError
        If ``reps``, ``measures``, ``pairs`` or ``stats`` has the wrong type.
    ValueError
        If ``reps`` is empty, its arrays differ in stimuli (their counts, or the
        ``stimulus_set`` or ``stimulus_ids`` an ActivationStore records), two of a
        store's arrays have one ``"model/layer"`` name, a measure is
        unknown, ``pairs`` selects nothing or names an unknown representation,
        ``executor`` is unknown, a ``scheduler`` is given without
        ``executor="dask"``, a statistic is out of range, or ``memory_budget``
        is not a positive integer, is given with ``executor="dask"``, or leaves
        room for fewer than two states per worker.

    Notes
    -----
    Each tile is one :meth:`~repalign.Measure.pair_block`: for measures with
    ``batched_pairs`` (CKA, RSA with a dot-product comparator) all its values
    come from a few matrix products of the stacked prepared states (tiles of
    up to ``BATCHED_BLOCK`` = 96 representations a side, temporaries within
    ``BLOCK_MEMORY`` = 1 GiB), equal to the per-pair values to 1e-12; other
    measures loop over ``pair``. Permutation tests and bootstrap intervals are
    computed per pair from the prepared states. A row's ``seconds`` is its share
    of its tile's time plus its own statistics.

    A progress bar (rich) is shown when standard error is a terminal.

    *When to use which.* ``executor="serial"`` (the default) on a laptop or
    for small grids: BLAS already uses the cores for each tile. ``"threads"``
    when the tiles are many and small, or a measure's pair step is mostly
    Python (a worker per core, BLAS threads limited to match). Shared workers
    (``worker=True``, one process per core or per machine, all writing to one
    result store) for long grids that must survive a lost process: nothing
    is computed twice, a killed worker's block is redone after its lease, a
    worker can join or leave at any time, and the only thing the workers
    share is the SQLite file. SQLite's write-ahead log needs the workers of
    one store on one machine (its index is shared memory); across machines,
    use ``executor="dask"`` with ``scheduler=`` the address of a
    ``dask.distributed`` cluster (any scheduler: SSH, SLURM, Kubernetes):
    states are prepared where the data lies and tasks exchange futures, but
    the grid lives in one client process, and a lost client loses the tiles
    in flight (its stored rows are kept and a rerun resumes). The embedded
    ``LocalCluster`` (``executor="dask"`` with no scheduler) is for trying
    that path on one machine.

    References
    ----------
    Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
    representations revisited. ICML (layer x layer grids of CKA).

    Williams, Kunz, Kornblith & Linderman (2021). Generalized shape metrics on
    neural representations. NeurIPS (``netrep``'s prepare-once, pair-many split).

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((50, 6))
    >>> reps = {"net/a": X, "net/b": X @ rng.standard_normal((6, 6)), "other/c": X ** 3}
    >>> result = repalign.grid(reps, ["cka", ("rsa", {"compare": "pearson"})])
    >>> len(result.rows)
    12
    >>> round(float(result.to_xarray("cka").sel(a="net/a", b="net/a")), 12)
    1.0
    """
    source = _Source(reps)
    configured = plan_measures(measures)
    if executor not in EXECUTORS:
        raise ValueError(f"grid: executor must be one of {EXECUTORS}; got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"grid: scheduler is used only with executor='dask'; got "
                         f"scheduler={scheduler!r} with executor={executor!r}")
    stats = _check_stats(stats)
    _check_budget(memory_budget, executor)
    worker, lease = _check_worker(worker, lease, results, executor, memory_budget)
    plans = [(m, plan_pairs(source.names, pairs, m.symmetric, models=source.models))
             for m in configured]
    if worker:
        return _shared(source, plans, results, stats, worker, lease)
    with _result_store(results) as store:
        tables = [_table(m, planned, _stored(store, m, source, planned), stats)
                  for m, planned in plans]
        del plans  # the tables hold the planned pairs, in less memory
        pending = [table.pending() for table in tables]
        total = sum(map(len, pending))
        reserved = 0 if memory_budget is None else _reserved(memory_budget, tables, pending)
        if total:
            with _executor(executor, scheduler) as run_tiles, _progress(total) as advance, \
                    _writing(store) as writer:
                for m, table, todo in zip(configured, tables, pending):
                    if not len(todo):
                        continue
                    block = tile_side(m)
                    if memory_budget is None:
                        runner, tile_list = run_tiles, tiles(todo, block)
                    else:
                        runner, tile_list = _bounded(m, source, todo, block, memory_budget,
                                                     executor, reserved)
                    del todo
                    _Emitter(writer, source, m, table, advance).run(runner, tile_list, stats)
    return GridResult(representations=tuple(source.names),
                      rows=GridRows(source.names, source.hashes, tables),
                      statistics=stats is not None)


def _shared(source, plans, results, stats, worker, lease) -> GridResult:
    """This process's share of a shared grid, then the whole grid from the store."""
    from ..store.results import ResultStore
    from .shared import run_workers_share

    with _result_store(results, new_file=False) as store:
        if not isinstance(store, ResultStore):
            raise TypeError(f"grid: worker=True needs results= a path or a ResultStore (the "
                            f"blocks are claimed in its SQLite file); got "
                            f"{type(store).__name__}")
        done = [_stored(store, m, source, planned) for m, planned in plans]
        total = sum(len(planned) - len(d) for (_, planned), d in zip(plans, done))
        with _progress(total) as advance:
            run_workers_share(store, source, plans, done, stats, worker, lease, advance)
        tables = [_table(m, planned, _stored(store, m, source, planned), stats)
                  for m, planned in plans]
    missing = sum(len(table.pending()) for table in tables)
    if missing:  # every block is done, so every pair has its row
        raise RuntimeError(f"grid: {missing} pairs have no row though every block of the "
                           "shared grid is done; was the store changed meanwhile?")
    return GridResult(representations=tuple(source.names),
                      rows=GridRows(source.names, source.hashes, tables),
                      statistics=stats is not None)


def _reserved(memory_budget: int, tables, pending) -> int:
    """Bytes of ``memory_budget`` held for the grid's rows (their columns) and its pending
    pairs (twice: as an array and in the tiles), before states and temporaries."""
    own = sum(t.nbytes for t in tables) + 2 * sum(p.nbytes for p in pending)
    if 2 * own >= memory_budget:
        raise ValueError(
            f"grid: memory_budget={memory_budget} bytes is too small for this grid: its rows "
            f"and planned pairs alone take {own} bytes ({sum(map(len, tables))} rows), and "
            f"they may take at most half of it; expected memory_budget > {2 * own} bytes")
    return own


def _table(m, planned, stored: dict, stats) -> MeasureRows:
    """The rows of measure ``m`` for the ``planned`` pairs, holding those ``stored``."""
    table = MeasureRows({**measure_fields(m), "library_version": __version__}, planned,
                        statistics=stats is not None)
    table.keep(stored)
    return table


def array_hash(X) -> str:
    """SHA-256 of an array's values: C order, little-endian, its own dtype.

    Equal to the ``content_hash`` an :class:`~repalign.ActivationStore` stores for
    the same values in the same dtype. Arrays of other libraries or devices
    (torch on a GPU) are hashed from a host copy of their values; the grid
    computes them where they live.
    """
    X = to_numpy(X)
    return hashlib.sha256(
        np.ascontiguousarray(X, dtype=X.dtype.newbyteorder("<")).data).hexdigest()


def pair_seed(seed: int, hash_a: str, hash_b: str, measure: str, params: str) -> list[int]:
    """The entropy of one pair's random streams: ``seed`` and a digest of the pair.

    ``numpy.random.default_rng(pair_seed(...)).spawn(2)`` gives the permutation
    and bootstrap streams, as :func:`repalign.compare` spawns them from its seed,
    so ``compare(X, Y, seed=numpy.random.default_rng(pair_seed(...)))`` reproduces
    the statistics of that pair in a grid.

    Parameters
    ----------
    seed : int
    hash_a, hash_b : str
        Content hashes of the two representations.
    measure : str
    params : str
        The measure's parameters as canonical JSON (sorted keys).
    """
    digest = hashlib.sha256("|".join((hash_a, hash_b, measure, params)).encode()).digest()
    return [seed, int.from_bytes(digest[:16], "little")]


# ---------------------------------------------------------------------- inputs
class _Source:
    """Names, models, content hashes and loading of the representations of a grid.

    Everything a grid checks about its representations is checked here, before
    anything is computed: the names (non-empty, and distinct once an
    ActivationStore's ``(model, layer)`` become ``"model/layer"``), and that they
    hold the same stimuli (their counts, and the ``stimulus_set`` and
    ``stimulus_ids`` an ActivationStore records).
    """

    def __init__(self, reps):
        if isinstance(reps, dict):
            if not reps:
                raise ValueError("grid: reps must hold at least one representation; got an "
                                 "empty dict")
            for name in reps:
                if not isinstance(name, str):
                    raise TypeError(f"grid: the names of reps must be str; got {name!r}")
                if not name:
                    raise ValueError("grid: the names of reps must be non-empty strings; "
                                     "got ''")
            self.names = list(reps)
            self.models = [model_of(n) for n in self.names]
            arrays = list(reps.values())
            shapes = [getattr(X, "shape", None) for X in arrays]
            for name, shape in zip(self.names, shapes):
                if shape is None or len(shape) != 2:
                    raise ValueError(f"grid: reps[{name!r}] must be a 2-D array (n_stimuli, "
                                     f"n_features); got shape {shape}")
                if shape[0] != shapes[0][0]:
                    raise ValueError(
                        f"grid: reps[{name!r}] has {shape[0]} stimuli but "
                        f"reps[{self.names[0]!r}] has {shapes[0][0]}; every representation "
                        "must hold the same stimuli in the same order")
            # hashlib releases the GIL on large buffers: the arrays are hashed in parallel.
            with ThreadPoolExecutor(cores()) as pool:
                self.hashes = list(pool.map(array_hash, arrays))
            self.widths = [int(shape[1]) for shape in shapes]
            self.load = arrays.__getitem__
        elif hasattr(reps, "list") and hasattr(reps, "read") and hasattr(reps, "attrs"):
            keys = reps.list()  # in the store's order: the order its arrays were created
            if not keys:
                raise ValueError("grid: reps must hold at least one representation; got an "
                                 "ActivationStore with no complete array")
            self.names = [f"{model}/{layer}" for model, layer in keys]
            self.models = [model for model, _ in keys]
            _check_distinct_names(keys, self.names)
            shapes = [tuple(reps.shape(*key) if hasattr(reps, "shape") else reps.read(*key).shape)
                      for key in keys]
            _check_stimulus_counts([int(shape[0]) for shape in shapes], self.names)
            self.widths = [int(shape[1]) for shape in shapes]
            attrs = [reps.attrs(*key) for key in keys]
            _check_stimulus_ids(attrs, self.names)
            self.hashes = [a["content_hash"] for a in attrs]
            self.load = lambda i: reps.read(*keys[i])
        else:
            raise TypeError("grid: reps must be an ActivationStore or a dict of name -> array; "
                            f"got {type(reps).__name__}")


def _check_distinct_names(keys, names) -> None:
    """Refuse two arrays with one ``"model/layer"`` name (``a/b`` + ``c`` and ``a`` + ``b/c``)."""
    first = {}
    for key, name in zip(keys, names):
        if name in first:
            (m1, l1), (m2, l2) = first[name], key
            raise ValueError(
                f"grid: the arrays (model={m1!r}, layer={l1!r}) and (model={m2!r}, "
                f"layer={l2!r}) of the ActivationStore would both be named {name!r} in the "
                "grid and its results; store one of them under another name")
        first[name] = key


def _check_stimulus_counts(counts, names) -> None:
    """Refuse arrays of an ActivationStore of unequal stimulus counts (read from metadata)."""
    if len(set(counts)) > 1:
        raise ValueError(
            "grid: the arrays of the ActivationStore hold different numbers of stimuli: "
            f"{_grouped(counts, names)}; every representation must hold the same stimuli in "
            "the same order (grid the arrays of one stimulus set, e.g. from a dict of them)")


def _check_stimulus_ids(attrs, names) -> None:
    """Refuse arrays whose recorded ``stimulus_set`` or ``stimulus_ids`` differ.

    Arrays that record none (None) are not compared.
    """
    for field in ("stimulus_set", "stimulus_ids"):
        values = [a.get(field) for a in attrs]
        recorded = [(v, n) for v, n in zip(values, names) if v is not None]
        if len({repr(v) for v, _ in recorded}) > 1:
            shown = _grouped([repr(v) if len(repr(v)) <= 60 else repr(v)[:57] + "..."
                              for v, _ in recorded], [n for _, n in recorded])
            raise ValueError(
                f"grid: the arrays of the ActivationStore record different {field}: "
                f"{shown}; every representation must hold the same stimuli in the same "
                "order")


def _grouped(values, names, shown: int = 5) -> str:
    """``"20 in 'a/x', 'b/x' and 15 in 'c/x'"``: the names of each value."""
    groups: dict = {}
    for value, name in zip(values, names):
        groups.setdefault(value, []).append(name)
    parts = []
    for value, members in groups.items():
        listed = ", ".join(repr(m) for m in members[:shown])
        more = f" and {len(members) - shown} more" if len(members) > shown else ""
        parts.append(f"{value} in {listed}{more}")
    return "; ".join(parts)


def _check_worker(worker, lease, results, executor, memory_budget):
    """``(worker name or None, lease seconds)``, checked."""
    from .shared import DEFAULT_LEASE, worker_name

    if not isinstance(worker, (bool, str)):
        raise TypeError(f"grid: worker must be a bool or a worker name (str); got "
                        f"{type(worker).__name__}")
    if worker == "":
        raise ValueError("grid: worker must be True, False or a non-empty name; got ''")
    if lease is not None:
        if not worker:
            raise ValueError(f"grid: lease is used only with worker=True; got lease={lease!r} "
                             "with worker=False")
        if isinstance(lease, bool) or not isinstance(lease, (int, float, np.integer,
                                                            np.floating)):
            raise TypeError(f"grid: lease must be a number of seconds; got "
                            f"{type(lease).__name__}")
        if not 0 < lease < float("inf"):
            raise ValueError(f"grid: lease must be a positive, finite number of seconds; got "
                             f"{lease!r}")
    if not worker:
        return None, None
    if results is None:
        raise ValueError("grid: worker=True needs results= (the result store file in which "
                         "the workers claim the grid's blocks); got results=None")
    if executor != "serial":
        raise ValueError(f"grid: worker=True computes its blocks serially (start one worker "
                         f"per core instead); got executor={executor!r}")
    if memory_budget is not None:
        raise ValueError("grid: memory_budget is not used with worker=True (a worker holds "
                         "the states of the blocks it computes); got "
                         f"memory_budget={memory_budget!r}")
    return (worker_name() if worker is True else worker,
            float(DEFAULT_LEASE if lease is None else lease))


def _check_budget(memory_budget, executor) -> None:
    if memory_budget is None:
        return
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, (int, np.integer)):
        raise TypeError(f"grid: memory_budget must be None or an int (bytes); got "
                        f"{type(memory_budget).__name__}")
    if memory_budget <= 0:
        raise ValueError(f"grid: memory_budget must be a positive number of bytes; got "
                         f"{memory_budget}")
    if executor == "dask":
        raise ValueError("grid: memory_budget is used with executor='serial' or 'threads'; "
                         "got executor='dask' (size the Dask workers' memory instead)")


def _check_stats(stats):
    if stats is None:
        return None
    if not isinstance(stats, dict):
        raise TypeError(f"grid: stats must be None or a dict; got {type(stats).__name__}")
    unknown = sorted(set(stats) - set(_STATS_DEFAULTS))
    if unknown:
        raise ValueError(f"grid: stats has unknown keys {unknown}; expected some of "
                         f"{sorted(_STATS_DEFAULTS)}")
    stats = {**_STATS_DEFAULTS, **stats}
    _COUNT.check("grid", "stats['n_permutations']", stats["n_permutations"])
    _COUNT.check("grid", "stats['n_bootstrap']", stats["n_bootstrap"])
    _COUNT.check("grid", "stats['seed']", stats["seed"])
    _LEVEL.check("grid", "stats['ci']", stats["ci"])
    _INTERVAL.check("grid", "stats['interval']", stats["interval"])
    return stats


@contextlib.contextmanager
def _result_store(results, new_file: bool = True):
    """The store of ``results``; a path to a file that does not exist yet gives a
    :class:`_NewFile` (created on the writer's thread) if ``new_file``."""
    if results is None:
        yield None
    elif isinstance(results, (str, os.PathLike)):
        from ..store.results import ResultStore

        path = Path(results)
        if new_file and not path.exists() and not path.is_symlink():
            # Checked here so that a bad path fails before anything is computed.
            path.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(path.parent, os.W_OK | os.X_OK):
                raise PermissionError(f"grid: results={str(path)!r} cannot be created: its "
                                      f"folder {str(path.parent)!r} is not writable")
            yield _NewFile(path)
            return
        with ResultStore(results) as store:
            yield store
    elif all(hasattr(results, a) for a in ("put_many", "rows")):
        yield results
    else:
        raise TypeError(f"grid: results must be None, a path or a ResultStore; got "
                        f"{type(results).__name__}")


@contextlib.contextmanager
def _writing(store):
    """A :class:`_Writer` for ``store``, closed (its batches committed) on exit.

    When the grid fails, the batches already handed over are still written and
    the grid's error is raised, not a later write's.
    """
    writer = _Writer(store)
    try:
        yield writer
    except BaseException:
        with contextlib.suppress(Exception):
            writer.close()
        raise
    writer.close()


def _stored(store, m, source, planned) -> dict:
    """The rows of ``planned`` pairs of measure ``m`` already in ``store``, by pair.

    A row counts when its names, content hashes, measure and parameters are the
    pair's: a representation changed under the same name (another hash) is
    computed again, and two names with equal contents keep a row each. A
    symmetric measure's pair stored in the other orientation counts; the row
    takes this grid's orientation.
    """
    if store is None or isinstance(store, _NewFile):
        return {}
    stored = {(r["a"], r["b"], r["hash_a"], r["hash_b"]): r
              for r in store.rows(measure=m.name, params=m.params)}
    if not stored:
        return {}
    names, hashes = source.names, source.hashes
    found = {}
    for i, j in planned.tolist():
        orientations = [(i, j), (j, i)] if m.symmetric else [(i, j)]
        for first, second in orientations:
            row = stored.get((names[first], names[second], hashes[first], hashes[second]))
            if row is not None:
                found[i, j] = dict(row, a=names[i], b=names[j], hash_a=hashes[i],
                                   hash_b=hashes[j])
                break
    return found


class _Emitter:
    """Turns the computed pairs of one measure into rows, and stores them in batches.

    The measure's fields (its name, parameters, kind, symmetry and bounds) are
    formed once and shared by its rows, so the store validates and
    canonicalises them once per batch. Rows go to the result store in batches
    of whole tiles, one transaction each (:meth:`ResultStore.put_columns
    <repalign.store.results.ResultStore.put_columns>`: the rows' columns, by
    representation index; ``put_many`` of whole rows for another store), as
    soon as ``COMMIT_EVERY_S`` seconds have passed since the last batch and at
    the end, written by ``writer`` while the next tiles are computed: a killed
    run keeps every batch it committed and recomputes at most the tiles of its
    last ``COMMIT_EVERY_S`` seconds, those being written and those in progress.
    """

    def __init__(self, writer, source, m, table: MeasureRows, advance):
        self.writer, self.source, self.m, self.table, self.advance = (writer, source, m, table,
                                                                      advance)
        self.fields = table.fields
        self.undefined, self.batch, self.since = [], [], time.monotonic()

    def run(self, run_tiles, tile_list, stats) -> None:
        try:
            run_tiles(self.m, self.source, tile_list, stats, self.emit)
        finally:  # the finished tiles are kept, also when a later one fails
            self.flush()
        _warn_undefined(self.m, self.undefined)

    def emit(self, computed_tile) -> None:
        """Keep the rows of one tile, ``(i, j, row fields, reason)`` per pair, for the store."""
        names = self.source.names
        at = self.table.put(computed_tile)
        self.undefined += [(names[i], names[j], reason)
                           for i, j, _, reason in computed_tile if reason is not None]
        if self.writer.store is not None:  # the rows' positions in the table
            self.batch.append(at)
        self.advance(len(computed_tile))
        if time.monotonic() - self.since >= COMMIT_EVERY_S:
            self.flush()

    def flush(self) -> None:
        batch, self.batch, self.since = self.batch, [], time.monotonic()
        if batch:
            self.writer.put(self.fields, self.source, np.concatenate(batch), self.table)


class _Writer:
    """Writes a grid's batches to its result store on one background thread, in order.

    A batch is handed over as soon as it is complete and written while the
    grid computes on; at most ``in_flight`` batches wait, so a slow store
    slows the grid rather than filling memory. A ``ResultStore`` takes a
    batch as ``put_columns`` (indices and numbers), another store as
    ``put_many`` of its rows. A store file that did not exist (:class:`_NewFile`)
    is created on the thread first, while the grid computes, and closed by
    :meth:`close`. A failed write (or creation) is raised by the next ``put``
    or by ``close``; ``close`` waits for every batch handed over, so
    ``repalign.grid`` returns (or raises) with its rows committed.
    """

    def __init__(self, store, in_flight: int = 2):
        from ..store.results import ResultStore

        self.store, self.in_flight, self.pending = store, in_flight, deque()
        self.pool = None if store is None else ThreadPoolExecutor(
            1, thread_name_prefix="repalign-results")
        self.opening = None
        if isinstance(store, _NewFile):
            self.opening = self.pool.submit(ResultStore, store.path)
        self.fast = self.opening is not None or isinstance(store, ResultStore)

    def put(self, fields, source, at, table: MeasureRows) -> None:
        if self.store is None:
            return
        while self.pending and (self.pending[0].done() or len(self.pending) >= self.in_flight):
            self.pending.popleft().result()  # raises a failed write here
        if self.fast:
            args, kwargs = ("put_columns", fields, source.names, source.hashes), table.columns(at)
        else:
            args, kwargs = ("put_many", [table.row(k, source.names, source.hashes)
                                         for k in at]), {}
        self.pending.append(self.pool.submit(self._call, *args, **kwargs))

    def _call(self, method, *args, **kwargs):
        """Runs on the writer's thread, after the store's creation (the thread's first task)."""
        store = self.store if self.opening is None else self.opening.result()
        return getattr(store, method)(*args, **kwargs)

    def close(self) -> None:
        """Wait for every batch handed over, close a store created here; raise the first error."""
        if self.pool is None:
            return
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            for future in self.pending:
                future.cancel()
            self.pool.shutdown(wait=True)
            self.pool = None
            if self.opening is not None and self.opening.exception() is None:
                self.opening.result().close()
        if self.opening is not None:
            self.opening.result()  # a creation that failed with nothing to write


@dataclass(frozen=True)
class _NewFile:
    """A result store file that does not exist yet: nothing is stored, so the grid need not
    wait for its creation (the writer's thread creates it while the grid computes)."""

    path: Path


# ---------------------------------------------------------------------- the work
def _pair_values(m, pairs, states, arrays, stats, hashes, memory=BLOCK_MEMORY) -> list:
    """``(i, j, row fields, reason)`` for each pair of one tile (runs on a worker).

    The values come from one :meth:`~repalign.Measure.pair_block` of the tile's
    states; a row's ``seconds`` is its share of the block's time plus its own
    statistics (permutations and bootstrap stay per pair); ``memory`` bounds the
    block's temporaries.
    """
    params = canonical_params(m.params)
    start = time.perf_counter()
    values = _tile_values(m, pairs, states, memory)
    share = (time.perf_counter() - start) / len(pairs)
    out = []
    for i, j in pairs:
        start = time.perf_counter()
        a, b = states[i], states[j]
        value, reason = values[i, j]
        fields = {"value": value, "ci_low": None, "ci_high": None, "p_value": None,
                  "n_stimuli": a.n_stimuli}
        if stats is not None and reason is None:
            rng = np.random.default_rng(pair_seed(stats["seed"], hashes[i], hashes[j],
                                                  m.name, params))
            found = pair_statistics(m, a, b, arrays[i], arrays[j], value,
                                    n_permutations=stats["n_permutations"],
                                    interval=stats["interval"],
                                    n_bootstrap=stats["n_bootstrap"], ci=stats["ci"], rng=rng)
            fields.update(p_value=found.p_value, ci_low=found.ci_low, ci_high=found.ci_high)
        fields["seconds"] = share + time.perf_counter() - start
        out.append((i, j, fields, reason))
    return out


def _tile_values(m, pairs, states, memory=BLOCK_MEMORY) -> dict:
    """``(value, reason)`` by pair: one ``pair_block`` of the tile's rows and columns.

    The block's rows are the tile's first representations and its columns the
    second ones, or, where the two sets meet (a tile on the diagonal), their
    union on both sides as one list, so that the measure may compute one
    triangle; a mask keeps the pairs of the tile. Pairs with an unprepared
    state get its reason; if the block raises (the measure is undefined for
    one of its pairs), each pair is computed alone so that only the undefined
    ones are NaN.
    """
    out, good = {}, []
    for i, j in pairs:
        undefined = [s for s in (states[i], states[j]) if isinstance(s, _Undefined)]
        if undefined:
            out[i, j] = float("nan"), undefined[0].reason
        else:
            good.append((i, j))
    if not good:
        return out
    rows, cols = sorted({i for i, _ in good}), sorted({j for _, j in good})
    if set(rows) & set(cols):
        # One list on both sides: each state enters the block once (a batched measure
        # forms each state's stacked vector once, and computes one triangle of products).
        rows = cols = sorted(set(rows) | set(cols))
    at_row, at_col = {r: k for k, r in enumerate(rows)}, {c: k for k, c in enumerate(cols)}
    mask = np.zeros((len(rows), len(cols)), dtype=bool)
    for i, j in good:
        mask[at_row[i], at_col[j]] = True
    states_a = [states[r] for r in rows]
    try:
        block = m.pair_block(states_a, states_a if cols == rows else [states[c] for c in cols],
                             mask, memory=memory)
    except ValueError:
        out.update({(i, j): _value(m, states[i], states[j]) for i, j in good})
    else:
        out.update({(i, j): (float(block[at_row[i], at_col[j]]), None) for i, j in good})
    return out


@dataclass(frozen=True)
class _Undefined:
    """Stands for a state the measure could not prepare, with the reason."""

    reason: str
    n_stimuli: int


def _prepare(m, X):
    """The prepared state of X, or why the measure is undefined for it."""
    try:
        return m.prepare(X)
    except ValueError as err:
        return _Undefined(str(err), int(X.shape[0]))


def _value(m, a, b):
    """``(value, None)``, or ``(nan, reason)`` where the measure is undefined for the pair.

    A grid does not stop at one undefined pair (a layer with dead units for unit
    matching, a constant representation): the row gets NaN and the grid warns once.
    """
    for state in (a, b):
        if isinstance(state, _Undefined):
            return float("nan"), state.reason
    try:
        return m.pair(a, b), None
    except ValueError as err:
        return float("nan"), str(err)


def _warn_undefined(m, undefined) -> None:
    if undefined:
        a, b, reason = undefined[0]
        warnings.warn(
            f"grid: {m.name} is undefined for {len(undefined)} pair(s), stored as NaN; "
            f"first ({a}, {b}): {reason}", DegenerateWarning, stacklevel=3,
        )


def _needed(tile_list) -> list[int]:
    return sorted({r for tile in tile_list for r in tile.reps})


def _run_serial(m, source, tile_list, stats, emit):
    """One tile at a time; a state is prepared at its first use and dropped after its last."""
    last = {r: k for k, tile in enumerate(tile_list) for r in tile.reps}
    arrays, states = {}, {}
    for k, tile in enumerate(tile_list):
        for r in tile.reps:
            if r not in states:
                arrays[r] = source.load(r)
                states[r] = _prepare(m, arrays[r])
        emit(_pair_values(m, tile.pairs, states, arrays, stats, source.hashes))
        for r in tile.reps:
            if last[r] == k:
                del states[r], arrays[r]


def _run_threads(m, source, tile_list, stats, emit):
    """Prepare every representation in a thread pool, then pair tile by tile in it."""
    needed = _needed(tile_list)
    arrays = {r: source.load(r) for r in needed}
    with _pinned_pool(len(needed)) as pool:
        states = dict(zip(needed, pool.map(lambda X: _prepare(m, X),
                                           [arrays[r] for r in needed])))
    with _pinned_pool(len(tile_list)) as pool:
        futures = [pool.submit(_pair_values, m, tile.pairs, states, arrays, stats,
                               source.hashes) for tile in tile_list]
        for future in futures:  # in the plan's order, as the serial executor
            emit(future.result())


def _bounded(m, source, todo, block, budget, executor, reserved):
    """The runner and tiles of one measure within ``budget`` bytes (see ``memory_budget``),
    ``reserved`` of them held for the rows."""
    budget -= reserved
    workers = 1 if executor == "serial" else max(1, cores())
    memory = max(1, budget // 4 // workers)
    widest = max(range(len(source.names)), key=source.widths.__getitem__)
    per_state = state_bytes(_prepare(m, source.load(widest)))
    tile_list = bounded_tiles(todo, block, budget - budget // 4, per_state, workers,
                              who=m.name, reserved=reserved)
    workers = max(1, min(workers, len(tile_list)))

    def run(m, source, tile_list, stats, emit):
        with StateCache(lambda r: _prepare(m, source.load(r)), tile_list,
                        budget - budget // 4) as cache:
            if workers == 1:
                for k, tile in enumerate(tile_list):
                    emit(_bounded_tile(m, source, tile, cache.acquire(k), stats, memory))
                    cache.release(k)
                return
            with _pinned_pool(workers) as pool:
                in_flight = deque()
                for k, tile in enumerate(tile_list):
                    in_flight.append((k, pool.submit(_bounded_tile, m, source, tile,
                                                     cache.acquire(k), stats, memory)))
                    if len(in_flight) == workers:
                        _emit_first(in_flight, cache, emit)
                while in_flight:  # in the plan's order, as the serial executor
                    _emit_first(in_flight, cache, emit)

    return run, tile_list


def _bounded_tile(m, source, tile, states, stats, memory):
    """One tile of a bounded grid: its arrays are read only where statistics need them."""
    arrays = None if stats is None else {r: source.load(r) for r in tile.reps}
    return _pair_values(m, tile.pairs, states, arrays, stats, source.hashes, memory)


def _emit_first(in_flight, cache, emit) -> None:
    k, future = in_flight.popleft()
    emit(future.result())
    cache.release(k)


def cores() -> int:
    """The number of cores this process may run on (its CPU affinity where known)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _blas_limit(workers: int):
    """Limit the BLAS threads so that ``workers`` threads x BLAS threads <= :func:`cores`.

    The limit is process-wide (threadpoolctl sets the BLAS libraries' thread
    count) and restored on exit.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ImportError("grid: executor='threads' and the embedded Dask cluster need "
                          "threadpoolctl, to keep workers x BLAS threads within the cores "
                          "(pip install threadpoolctl)") from None
    return threadpool_limits(limits=max(1, cores() // workers), user_api="blas")


@contextlib.contextmanager
def _pinned_pool(tasks: int):
    """A thread pool of at most one worker per core and per task, with BLAS pinned to match."""
    workers = max(1, min(cores(), tasks))
    with _blas_limit(workers), ThreadPoolExecutor(workers) as pool:
        yield pool


@contextlib.contextmanager
def _executor(executor, scheduler):
    """The function running the tiles of one measure, with the resources it holds."""
    if executor == "serial":
        yield _run_serial
    elif executor == "threads":
        yield _run_threads
    else:
        with _dask_client(scheduler) as client:
            yield lambda *args: _run_dask(client, *args)


@contextlib.contextmanager
def _dask_client(scheduler):
    from dask.distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
    elif scheduler is None:
        # its 2 in-process workers share this process's BLAS
        with _blas_limit(2), _local_cluster() as cluster, Client(cluster) as client:
            yield client
    elif isinstance(scheduler, str):
        with Client(scheduler) as client:
            yield client
    else:
        raise TypeError("grid: scheduler must be None, an address such as "
                        f"'tcp://host:port' or a dask.distributed.Client; got "
                        f"{type(scheduler).__name__}")


def _local_cluster():
    """A ``LocalCluster`` of 2 in-process workers that nothing outside this process reaches.

    Scheduler and workers talk over ``inproc://`` (no socket). ``distributed``
    starts an HTTP server on the scheduler and on each worker whatever the
    dashboard settings (by default on every interface: port 8787 and random
    ports, serving the info, JSON, Prometheus and health pages); here they
    listen on 127.0.0.1 only, with no routes, and no Bokeh dashboard.
    """
    import dask
    from dask.distributed import LocalCluster, Worker

    class _NoDashboardWorker(Worker):
        def __init__(self, *args, dashboard=False, **kwargs):
            super().__init__(*args, dashboard=False, **kwargs)

    with dask.config.set({"distributed.scheduler.http.routes": [],
                          "distributed.worker.http.routes": []}):
        return LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, protocol="inproc://",
            dashboard_address=None, worker_dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            worker_class=_NoDashboardWorker,
        )


def _run_dask(client, m, source, tile_list, stats, emit):
    """Scatter each array once, prepare it where it lies, pair tiles of futures."""
    needed = _needed(tile_list)
    arrays = dict(zip(needed, client.scatter([source.load(r) for r in needed], hash=False)))
    states = {r: client.submit(_prepare, m, arrays[r], pure=False) for r in needed}
    futures = [
        client.submit(_pair_values, m, tile.pairs, {r: states[r] for r in tile.reps},
                      {r: arrays[r] for r in tile.reps} if stats is not None else None,
                      stats, source.hashes, pure=False)
        for tile in tile_list
    ]
    for future in futures:  # in the plan's order, as the serial executor
        emit(future.result())


@contextlib.contextmanager
def _progress(total: int):
    """``advance(k)``: k more pairs done, on a rich progress bar on a terminal (else a no-op)."""
    if not sys.stderr.isatty() or total == 0:
        yield lambda k: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("grid", total=total)
        yield lambda k: bar.advance(task, k)
