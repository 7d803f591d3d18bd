"""Runs beyond one process: blocks as tasks on a Dask cluster, results streamed to Zarr.

A block of paths is the unit of work of the seed contract (:mod:`engine._plan`): block
``i`` draws from child ``i`` of ``SeedSequence(seed)``. :func:`engine._run.compute_block`
computes one block from the config's TOML text alone, so a block gives the same
bits on a thread, in a worker process or on another machine, and a run spread over
a cluster equals the in-process run bit for bit.

Backends
    ``scheduler=None``: blocks on threads of this process (as :func:`engine.simulate`).
    ``"local:N"``: a ``dask.distributed.LocalCluster`` of N worker processes, one
    thread each. ``"tcp://host:port"`` (or ``host:port``): an existing scheduler.

Results
    Without a store the blocks are gathered into one in-memory Dataset, the same
    as :func:`engine.simulate` returns. With a Zarr store (``--out run.zarr``) each
    finished block is written, by this (the client) process, into its own chunk
    along ``path`` as its result arrives, then marked done in the ``block_done``
    array (one chunk per block). The per-path results of a run are never held in
    one process's memory: at most a few blocks per worker are in flight. Writing
    from the client keeps one writer per store, so the store needs no shared disk;
    the price is that results travel through the client.

Resume
    A block counts only once its marker is written, after its data; a block whose
    data was written but not its marker (a half-written block) is recomputed by
    ``resume=True``. The store's attrs fix the run (config sha256, seed, block
    size, paths); resuming with a different run is refused, naming what differs.
    The finished store has ``complete = 1``.

dask, distributed and zarr are imported only here and only when used; ``import
engine`` and the in-process path never need them (``pip install '.[distributed]'`` from the repository; the test extra includes them).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

import numpy as np

from ._assemble import FLAG_ROWS, OUT_ROWS, YEAR_ROWS, assemble
from ._plan import ParameterTable, run_config
from ._run import compute_block, map_bounded, run_tasks  # map_bounded: re-exported
from .errors import InputError
from .model import layout as L
from .variables import param_var_name, validate

__all__ = [
    "parse_scheduler",
    "connect",
    "run_blocks",
    "run_batch",
    "open_store",
    "store_status",
    "summarize_store",
    "STORE_FORMAT",
    "EXACT_SUMMARY_BYTES",
]

#: Written into the store's attrs; a store without it is not a pricedin run store.
STORE_FORMAT = "pricedin-zarr-1"
#: Stores whose per-path variables take at most this many bytes are loaded and summarised exactly.
EXACT_SUMMARY_BYTES = 2 * 2**30

_INSTALL_HINT = ("install the optional dependencies: pip install '.[distributed]' in the repository "
                 "(the test extra, '.[test]', includes them)")


def _open_group(path, mode: str):
    """``zarr.open_group`` reading the plain (not consolidated) metadata, for zarr 2 and 3."""
    import zarr

    try:
        return zarr.open_group(str(path), mode=mode, use_consolidated=False)
    except TypeError:  # zarr 2: no use_consolidated; open_group reads the plain metadata
        return zarr.open_group(str(path), mode=mode)


@contextlib.contextmanager
def _all_chunks_written():
    """Write every chunk, also one that equals the fill value (zarr 3 skips those by default; zarr 2 writes them).

    Then a finished store holds one chunk file per block and variable, and a missing
    file (a partial copy) is detected by :func:`check_store_chunks` instead of being
    read back as the fill value.
    """
    import zarr

    cfg = getattr(zarr, "config", None)
    if cfg is None or not hasattr(cfg, "set"):
        yield
        return
    with cfg.set({"array.write_empty_chunks": True}):
        yield


def check_store_chunks(store) -> None:
    """Refuse a finished store in which some variable lacks the data of a block.

    Raises
    ------
    ValueError
        Naming the variables, how many of their block chunks are present, and the fix.
    """
    g = _open_group(store, "r")
    short = []
    for name in sorted(g.array_keys()):
        if name == "block_done":
            continue
        a = g[name]
        if a.nchunks_initialized < a.nchunks:
            short.append(f"{name} ({a.nchunks_initialized} of {a.nchunks} blocks)")
    if short:
        raise InputError(f"{str(store)!r} is damaged: the data of some blocks is missing for "
                         f"{', '.join(short[:4])}{' and more' if len(short) > 4 else ''} (files lost, e.g. a partial "
                         "copy); copy the store again, or remove it and run the command again")


def _consolidate(path) -> None:
    """Write consolidated metadata so other readers open the store in one read."""
    import warnings

    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr 3 notes that consolidation is outside the v3 spec
        zarr.consolidate_metadata(str(path))


def _need(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{module} is not installed; {_INSTALL_HINT}") from None


# --------------------------------------------------------------------------- scheduler


#: ``local:N`` may start at most this many worker processes per core.
MAX_LOCAL_PER_CORE = 4


def parse_scheduler(spec: Optional[str]):
    """Parse a ``--scheduler`` value.

    Parameters
    ----------
    spec : str or None
        ``None`` or ``""`` (in-process threads), ``"local:N"`` (a LocalCluster of
        N worker processes) or a scheduler address (``tcp://host:port``,
        ``tls://...``, ``host:port``).

    Returns
    -------
    tuple
        ``("threads", None)``, ``("local", N)`` or ``("address", address)``.

    Raises
    ------
    ValueError
        The value is none of these, or ``local:N`` asks for more than
        :data:`MAX_LOCAL_PER_CORE` processes per core; the message names ``--scheduler``.
    """
    if spec is None or str(spec).strip() == "":
        return ("threads", None)
    s = str(spec).strip()
    if s.startswith("local"):
        m = re.fullmatch(r"local:(\d+)", s)
        if not m or int(m.group(1)) < 1:
            raise InputError(f"--scheduler {s!r}: give local:N with N >= 1 worker processes (e.g. local:4)")
        n, cores = int(m.group(1)), os.cpu_count() or 1
        if n > MAX_LOCAL_PER_CORE * cores:
            raise InputError(f"--scheduler {s!r}: {n:,} worker processes on a machine with {cores} cores; each "
                             f"process loads Python and the kernel, so give at most local:{MAX_LOCAL_PER_CORE * cores}"
                             f" (local:{cores}, one per core, is the usual choice)")
        return ("local", n)
    if re.fullmatch(r"[a-z]+://[^\s/]+(:\d+)?/?", s) or re.fullmatch(r"[\w.\-]+:\d+", s):
        return ("address", s)
    raise InputError(f"--scheduler {s!r}: give a scheduler address (tcp://host:8786) or local:N "
                     "(N worker processes on this machine)")


@contextlib.contextmanager
def connect(spec, timeout: float = 5.0):
    """A ``distributed.Client`` for a ``--scheduler`` value, closed on exit.

    Parameters
    ----------
    spec : str or distributed.Client
        ``"local:N"`` starts a ``LocalCluster(n_workers=N, threads_per_worker=1,
        processes=True)`` for the duration; an address connects to a running
        scheduler. A Client is used as is (not closed).
    timeout : float
        Seconds to wait for the scheduler.

    Raises
    ------
    ValueError
        The scheduler cannot be reached; the message names ``--scheduler``.
    """
    if spec is not None and not isinstance(spec, str):
        yield spec
        return
    kind, arg = parse_scheduler(spec)
    if kind == "threads":
        raise InputError("connect() needs a --scheduler value (local:N or an address)")
    distributed = _need("distributed")
    import logging

    if kind == "local":
        # the workers ignore SIGINT (they inherit it ignored): Ctrl-C reaches the whole process group, and
        # only this process should handle it (report the blocks done and close the cluster), not print a
        # traceback from every worker
        restore = None
        if threading.current_thread() is threading.main_thread():
            restore = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cluster = distributed.LocalCluster(n_workers=arg, threads_per_worker=1, processes=True,
                                               dashboard_address=":0", silence_logs=logging.ERROR)
        finally:
            if restore is not None:
                signal.signal(signal.SIGINT, restore)
        try:
            client = distributed.Client(cluster)
            try:
                yield client
            finally:
                client.close()
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(arg, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as e:
        raise InputError(f"--scheduler {arg!r}: cannot reach a Dask scheduler there ({type(e).__name__}: {e}); "
                         "start one with `dask scheduler` and give its tcp://host:port, or use local:N") from None
    try:
        yield client
    finally:
        client.close()


def _block_results(jobs: Sequence[tuple[str, int]], client=None, threads: Optional[int] = None,
                   inflight: Optional[int] = None) -> Iterator[tuple[int, dict]]:
    """Compute ``jobs`` (config TOML, block) and yield ``(job index, result)`` as they finish.

    The engine's one block runner (:func:`engine._run.run_tasks`) with
    :func:`engine._run.compute_block` tasks: at most ``inflight`` blocks are
    submitted and not yet consumed, so memory stays bounded whatever the number of
    blocks. With a Dask client, a block lost with a worker is recomputed by the
    scheduler; each job is yielded exactly once.
    """
    yield from run_tasks(compute_block, jobs, threads=threads, client=client, inflight=inflight)


# --------------------------------------------------------------------------- sinks


def _run_cfg(cfg, paths=None, seed=None):
    return run_config(cfg, paths, seed)


def _nblocks(cfg) -> int:
    return math.ceil(cfg.simulation.paths / cfg.simulation.block_size)


class _MemorySink:
    """Gathers blocks into the run's (variable, path) arrays, then builds the Dataset of :func:`simulate`."""

    def __init__(self, cfg, command: str):
        self.cfg = cfg
        self.table = ParameterTable(cfg)
        P = cfg.simulation.paths
        self.out = np.empty((L.NO, P))
        self.flags = np.empty((L.NL, P), dtype=np.int8)
        self.draws = np.empty((len(self.table.drawn), P))
        ny = cfg.n_observed_years  # the observed fiscal years (simulation.observed_years)
        self.obs_out = np.empty((L.NY, P, ny)) if ny else None
        self.obs_seg = np.empty((P, ny, len(cfg.segments))) if ny else None
        self.command = command
        self.todo = list(range(_nblocks(cfg)))
        self.done_paths = 0

    def put(self, r: dict) -> None:
        lo, hi = r["lo"], r["hi"]
        self.out[:, lo:hi] = r["out"]
        self.flags[:, lo:hi] = r["flags"]
        self.draws[:, lo:hi] = r["draws"]
        if self.obs_out is not None:
            self.obs_out[:, lo:hi] = r["obs_out"]
            self.obs_seg[lo:hi] = r["obs_seg"]
        self.done_paths += hi - lo

    def finish(self, elapsed: float):
        from . import __version__

        return assemble(self.cfg, self.table, self.out, self.flags, self.draws, None, None, elapsed,
                        self.command, __version__, self.obs_out, self.obs_seg)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


class _ZarrSink:
    """Writes each block into its chunk of a Zarr store and marks it done (see the module notes)."""

    def __init__(self, cfg, store, command: str, resume: bool):
        self.zarr = _need("zarr")
        _need("dask")
        self.cfg = cfg
        self.table = ParameterTable(cfg)
        self.path = Path(store)
        self.command = command
        nb = _nblocks(cfg)
        if self.path.exists():
            if not resume:
                raise InputError(f"--out {str(self.path)!r} already exists; add --resume to finish that run "
                                 "(only its missing blocks are computed), or remove it to start again")
            self.group = self._open_checked()
            self.resumed = True
            # chunk files a killed writer left half-way (zarr writes each to a temporary name, then renames)
            for tmp in self.path.rglob("*.partial"):
                tmp.unlink(missing_ok=True)
        else:
            self.resumed = False
            self._create()
            self.group = _open_group(self.path, "r+")
        done = np.asarray(self.group["block_done"][:], dtype=np.int8)
        self.todo = [b for b in range(nb) if not done[b]]
        P, B = cfg.simulation.paths, cfg.simulation.block_size
        self.done_paths = sum(min(P, (b + 1) * B) - b * B for b in range(nb) if done[b])
        self.names = self._names()
        if self.todo:
            self.group.attrs.update({"complete": 0})

    # the variables of a block, by store name: (source array, row)
    def _names(self):
        names = {}
        for name, row in OUT_ROWS.items():
            names[name] = ("out", row)
        for name, row in FLAG_ROWS.items():
            names[name] = ("flags", row)
        for j, col in enumerate(self.table.drawn):
            names[param_var_name(self.table.keys[col])] = ("draws", j)
        if self.cfg.n_observed_years:  # the observed fiscal years: (path, year[, segment]) chunks of a block
            for name, row in YEAR_ROWS.items():
                names[name] = ("obs_out", row)
            names["observed_revenue"] = ("obs_seg", None)
        return names

    def _template(self):
        import dask.array as da
        import xarray as xr

        from . import __version__

        cfg, table = self.cfg, self.table
        P, B = cfg.simulation.paths, cfg.simulation.block_size
        ny, nseg = cfg.n_observed_years, len(cfg.segments)
        one = assemble(cfg, table, np.zeros((L.NO, 1)), np.zeros((L.NL, 1), dtype=np.int8),
                       np.zeros((len(table.drawn), 1)), None, None, 0.0, self.command, __version__,
                       *((np.zeros((L.NY, 1, ny)), np.zeros((1, ny, nseg))) if ny else (None, None)))
        data = {}
        for name, v in one.data_vars.items():
            shape = (P,) + v.shape[1:]
            data[name] = (v.dims, da.zeros(shape, chunks=(B,) + v.shape[1:], dtype=v.dtype), dict(v.attrs))
        nb = _nblocks(cfg)
        data["block_done"] = (("block",), da.zeros(nb, chunks=1, dtype=np.int8),
                              {"long_name": "1 once the block's per-path results are written",
                               "units": "1"})
        attrs = dict(one.attrs)
        attrs.update({"paths": int(P), "blocks": int(nb), "complete": 0, "store_format": STORE_FORMAT,
                      "elapsed_s": 0.0})
        coords = {k: one.coords[k] for k in ("year", "segment") if k in one.coords}
        tmpl = xr.Dataset(data, coords=coords, attrs=attrs)
        validate(tmpl, f"the store template of {str(self.path)!r}")
        return tmpl

    def _create(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._template().to_zarr(str(self.path), mode="w-", compute=False, consolidated=False)
        except OSError as e:
            raise InputError(f"--out {str(self.path)!r}: cannot write there ({e.strerror or e}); "
                             "choose a writable folder") from None

    def _open_checked(self):
        try:
            g = _open_group(self.path, "r+")
        except Exception as e:  # noqa: BLE001 - any reader failure means "not a run store"
            raise InputError(f"--out {str(self.path)!r} exists but is not a readable Zarr store "
                             f"({type(e).__name__}: {e}); remove it or choose another --out") from None
        a = dict(g.attrs)
        if a.get("store_format") != STORE_FORMAT or "block_done" not in g:
            raise InputError(f"--out {str(self.path)!r} is not a pricedin run store; remove it or choose another --out")
        cfg = self.cfg
        want = {"paths": int(cfg.simulation.paths), "seed": int(cfg.simulation.seed),
                "block_size": int(cfg.simulation.block_size), "config_sha256": cfg.sha256()}
        diff = [f"{k}: store {a.get(k)!r}, now {v!r}" for k, v in want.items() if a.get(k) != v]
        if len(diff) > 1:  # the sha256 covers paths and seed: name it only when the rest of the config differs
            diff = [d for d in diff if not d.startswith("config_sha256")]
        if diff:
            raise InputError(f"--resume {str(self.path)!r}: the store holds a different run (" + "; ".join(diff)
                             + "); resume with the same config, --paths and --seed, or use another --out")
        return g

    def put(self, r: dict) -> None:
        lo, hi, b = r["lo"], r["hi"], r["block"]
        g = self.group
        with _all_chunks_written():
            for name, (src, row) in self.names.items():
                arr = g[name]
                x = r[src] if row is None else r[src][row]
                arr[lo:hi] = np.asarray(x).astype(arr.dtype, copy=False)
        g["block_done"][b] = 1  # after the data: a block without its marker is recomputed on resume
        self.done_paths += hi - lo

    def finish(self, elapsed: float):
        done = np.asarray(self.group["block_done"][:], dtype=np.int8)
        if not done.all():
            return self.path
        now = _now()
        a = dict(self.group.attrs)
        from . import __version__

        prev = float(a.get("elapsed_s", 0.0) or 0.0)
        hist = a.get("history", "")
        line = f"{now} pricedin {__version__}: {self.command or 'run_blocks()'}"
        self.group.attrs.update({"complete": 1, "elapsed_s": prev + float(elapsed), "created": now,
                                 "history": hist + "\n" + line if (hist and self.resumed) else line})
        _consolidate(self.path)
        return self.path


# --------------------------------------------------------------------------- runs


def _drive(sinks: list, client, threads, progress, max_blocks: Optional[int]) -> None:
    jobs = []
    owner = []
    for k, s in enumerate(sinks):
        toml = s.cfg.to_toml()
        for b in s.todo:
            jobs.append((toml, b))
            owner.append(k)
    if max_blocks is not None:  # test hook: stop after this many blocks, as a killed run would
        jobs, owner = jobs[:max_blocks], owner[:max_blocks]
    total = sum(s.cfg.simulation.paths for s in sinks)
    done = sum(s.done_paths for s in sinks)
    if progress:
        progress(done, total)
    for i, res in _block_results(jobs, client=client, threads=threads):
        s = sinks[owner[i]]
        s.put(res)
        done += res["hi"] - res["lo"]
        if progress:
            progress(done, total)


def run_blocks(cfg, paths: Optional[int] = None, seed: Optional[int] = None, scheduler=None,
               threads: Optional[int] = None, store=None, resume: bool = False,
               progress: Optional[Callable[[int, int], None]] = None, command: str = "",
               max_blocks: Optional[int] = None):
    """Run ``cfg`` block by block on threads or a Dask cluster, in memory or into a Zarr store.

    Parameters
    ----------
    cfg : Config
        A validated config.
    paths, seed : int, optional
        Override ``simulation.paths`` / ``simulation.seed``.
    scheduler : str or distributed.Client, optional
        None: threads of this process; ``"local:N"``; a scheduler address; or a
        connected Client (left open).
    threads : int, optional
        Threads of the in-process backend (default: all cores).
    store : str or Path, optional
        A Zarr store (``run.zarr``) to stream the per-path results into; default:
        gather them in memory.
    resume : bool
        Finish an interrupted ``store``: compute only its blocks not marked done.
    progress : callable(done_paths, total_paths), optional
        Called after each finished block.
    command : str
        Recorded in the ``history`` attribute.
    max_blocks : int, optional
        Stop after this many blocks (leaves an unfinished store, as an
        interrupted run would; for tests).

    Returns
    -------
    xarray.Dataset or pathlib.Path
        Without ``store``: the Dataset :func:`engine.simulate` returns for the same
        config, seed and block size, bit for bit. With ``store``: its path.

    Raises
    ------
    ValueError
        Bad scheduler, unreachable scheduler, an existing store without
        ``resume``, or a store holding a different run.
    """
    cfg = _run_cfg(cfg, paths, seed)

    def make_sink():  # after the scheduler is reached: an unreachable one leaves no empty store behind
        return _ZarrSink(cfg, store, command, resume) if store is not None else _MemorySink(cfg, command)

    t0 = time.perf_counter()
    kind, _ = parse_scheduler(scheduler) if (scheduler is None or isinstance(scheduler, str)) else ("client", None)
    if kind == "threads":
        sink = make_sink()
        _drive([sink], None, threads, progress, max_blocks)
    else:
        if store is not None and Path(store).exists() and not resume:
            make_sink()  # refuses an existing store before a cluster is started
        with connect(scheduler) as client:
            sink = make_sink()
            _drive([sink], client, None, progress, max_blocks)
    return sink.finish(time.perf_counter() - t0)


def run_batch(cfgs: Sequence, paths: Optional[int] = None, seed: Optional[int] = None, scheduler=None,
              threads: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None,
              command: str = "") -> list:
    """Run several configs in one submission (every block of every config is one task).

    Parameters
    ----------
    cfgs : sequence of Config
    paths, seed, scheduler, threads, progress, command
        As in :func:`run_blocks` (``paths`` / ``seed`` apply to every config).

    Returns
    -------
    list of xarray.Dataset
        One per config, in order, each equal to its own :func:`engine.simulate` run.
    """
    sinks = [_MemorySink(_run_cfg(c, paths, seed), command) for c in cfgs]
    t0 = time.perf_counter()
    kind, _ = parse_scheduler(scheduler) if (scheduler is None or isinstance(scheduler, str)) else ("client", None)
    if kind == "threads":
        _drive(sinks, None, threads, progress, None)
    else:
        with connect(scheduler) as client:
            _drive(sinks, client, None, progress, None)
    elapsed = time.perf_counter() - t0
    return [s.finish(elapsed) for s in sinks]


# --------------------------------------------------------------------------- reading a store


def store_status(store) -> dict:
    """Blocks done / total of a run store: {``blocks``, ``done``, ``complete``, ``missing`` (first few)}."""
    _need("zarr")
    g = _open_group(store, "r")
    done = np.asarray(g["block_done"][:], dtype=np.int8)
    missing = np.flatnonzero(done == 0)
    return {"blocks": int(done.size), "done": int(done.sum()), "complete": bool(int(g.attrs.get("complete", 0))),
            "missing": [int(b) for b in missing[:10]]}


def open_store(store, load: bool = True):
    """Open a finished run store as the Dataset of the run.

    Parameters
    ----------
    store : str or Path
        A Zarr store written by :func:`run_blocks`.
    load : bool
        Load into memory (default) or keep lazy (dask-backed, chunked by block).

    Returns
    -------
    xarray.Dataset
        The per-path variables and attrs of the run, ``path`` coordinate 0..P-1;
        with ``load`` equal to the in-memory result of the same run (values and
        dtypes), less the ``block_done`` bookkeeping.

    Raises
    ------
    ValueError
        Not a pricedin store, or an unfinished one (the message says how many
        blocks are missing and how to resume).
    """
    import xarray as xr

    p = Path(store)
    if not p.exists():
        raise InputError(f"results store {str(p)!r} does not exist; write one with `pricedin run CONFIG --out {p}`")
    _need("zarr")
    try:
        ds = xr.open_zarr(str(p), consolidated=False)
    except Exception as e:  # noqa: BLE001
        raise InputError(f"{str(p)!r} is not a readable Zarr results store ({type(e).__name__}: {e})") from None
    if ds.attrs.get("store_format") != STORE_FORMAT or "value_per_share" not in ds:
        raise InputError(f"{str(p)!r} is not a pricedin results store (no value_per_share / store_format attribute)")
    done = np.asarray(ds["block_done"].values)
    if not done.all() or not int(ds.attrs.get("complete", 0)):
        raise InputError(f"{str(p)!r} is an unfinished run: {int(done.sum())} of {done.size} blocks done; "
                         "run the same command again with --resume to compute the missing blocks")
    check_store_chunks(p)
    ds = ds.drop_vars("block_done")
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in ("store_format", "blocks", "complete")}
    ds = ds.assign_coords(path=np.arange(ds.sizes["path"], dtype=np.int64))
    for v in ds.data_vars.values():
        v.encoding = {}
    validate(ds, repr(str(p)))
    if not load:
        return ds
    ds = ds.load()
    validate(ds, repr(str(p)), values=True)  # the values too, now that they are in memory
    return ds


def _store_bytes(ds) -> int:
    return int(sum(v.dtype.itemsize * v.size for v in ds.data_vars.values()))


def summarize_store(store, max_bytes: int = EXACT_SUMMARY_BYTES) -> dict:
    """The report of a run store, computed from the store.

    Parameters
    ----------
    store : str or Path
        A finished store (:func:`run_blocks` with ``store``).
    max_bytes : int
        When the per-path variables take at most this many bytes they are loaded
        and :func:`engine.summarize` gives exactly the report of the in-process run.
        Above it the report is streamed block by block (:func:`_streamed_summary`):
        counts, probabilities, mean and standard deviation stay exact, quantiles
        and medians are exact where the values near them fit in memory, else
        approximate within a stated bound (``summary["approximation"]``).

    Returns
    -------
    dict
        As :func:`engine.summarize`.
    """
    from .summary import summary_dict as summarize

    ds = open_store(store, load=False)
    if _store_bytes(ds) <= max_bytes:
        return summarize(ds.load())
    return _streamed_summary(ds, max_bytes)


# --------------------------------------------------------------------------- streamed report


def _blocks_of(ds) -> Iterator[slice]:
    B = int(ds.attrs["block_size"])
    P = int(ds.sizes["path"])
    for lo in range(0, P, B):
        yield slice(lo, min(P, lo + B))


def _transform(x):
    """Monotone map used for histogram bins: asinh spreads heavy tails evenly over the bins."""
    return np.arcsinh(x)


def _streamed_quantiles(read: Callable[[slice], np.ndarray], slices: list, qs: Iterable[float],
                        bins: int, max_values: int) -> tuple[dict, dict]:
    """Quantiles (numpy's linear interpolation, ``q`` in [0, 100]) of a variable read block by block.

    Three passes: (1) count and range, (2) a histogram of ``bins`` equal bins of
    ``asinh(x)``, which locates the bin of each needed order statistic, (3) the
    values inside those bins, kept when they number at most ``max_values``: the
    quantile is then exact. Otherwise the order statistic is placed by linear
    interpolation inside its bin and the error bound is the bin's width.

    Returns
    -------
    (values, bounds) : dict of {q: float}, dict of {q: float}
        ``bounds[q]`` is 0 for an exact quantile, else the largest possible
        absolute error.
    """
    n = 0
    lo, hi = math.inf, -math.inf
    def read(s, _read=read):
        x = np.asarray(_read(s), dtype=float)
        return x[np.isfinite(x)]

    for s in slices:
        x = read(s)
        if x.size:
            n += x.size
            lo = min(lo, float(x.min()))
            hi = max(hi, float(x.max()))
    qs = list(qs)
    if n == 0:
        return {q: float("nan") for q in qs}, {q: 0.0 for q in qs}
    tlo, thi = float(_transform(lo)), float(_transform(hi))
    if thi <= tlo:
        return {q: lo for q in qs}, {q: 0.0 for q in qs}
    edges_t = np.linspace(tlo, thi, bins + 1)
    counts = np.zeros(bins, dtype=np.int64)

    def bin_of(x):
        return np.clip(((_transform(x) - tlo) / (thi - tlo) * bins).astype(np.int64), 0, bins - 1)

    for s in slices:
        x = read(s)
        counts += np.bincount(bin_of(x), minlength=bins)
    cum = np.cumsum(counts)
    ranks = {}
    for q in qs:
        h = (n - 1) * q / 100.0
        k = int(math.floor(h))
        ranks[q] = (h, k, min(k + 1, n - 1))
    needed = sorted({int(np.searchsorted(cum, r, side="right")) for _, k, k1 in ranks.values() for r in (k, k1)})
    total_needed = int(sum(counts[b] for b in needed))
    vals = {}
    bounds = {}
    if total_needed <= max_values:
        kept = {b: [] for b in needed}
        need = np.zeros(bins, dtype=bool)
        need[needed] = True
        for s in slices:
            x = read(s)
            bx = bin_of(x)
            m = need[bx]
            for b in np.unique(bx[m]):
                kept[int(b)].append(x[bx == b])
        sorted_bins = {b: np.sort(np.concatenate(v)) if v else np.empty(0) for b, v in kept.items()}

        def order_stat(r):
            b = int(np.searchsorted(cum, r, side="right"))
            start = int(cum[b - 1]) if b > 0 else 0
            return float(sorted_bins[b][r - start])

        for q, (h, k, k1) in ranks.items():
            a, c = order_stat(k), order_stat(k1)
            vals[q] = float(a + (h - k) * (c - a))
            bounds[q] = 0.0
        return vals, bounds
    edges = np.sinh(edges_t)
    edges[0], edges[-1] = lo, hi

    def approx(r):
        b = int(np.searchsorted(cum, r, side="right"))
        start = int(cum[b - 1]) if b > 0 else 0
        frac = (r - start + 0.5) / max(int(counts[b]), 1)
        return float(edges[b] + frac * (edges[b + 1] - edges[b])), float(edges[b + 1] - edges[b])

    for q, (h, k, k1) in ranks.items():
        (a, wa), (c, wc) = approx(k), approx(k1)
        vals[q] = float(a + (h - k) * (c - a))
        bounds[q] = max(wa, wc)
    return vals, bounds


def _streamed_summary(ds, max_bytes: int, bins: int = 1 << 16) -> dict:
    """:func:`engine.summarize` for a store too large to load, streamed block by block.

    Exact: paths, mean, standard deviation (two-pass), P(justified) with its
    Wilson interval, the percentile of today's price, failed share, clipped and
    floored counts. Quantiles of value per share and the medians of the outcomes
    come from :func:`_streamed_quantiles`: exact when the values in the bins that
    hold the needed order statistics fit in ``max_bytes``, else within the
    stated bound (the width of a bin of equal width in ``asinh(x)``, 65,536 bins
    between the minimum and the maximum). ``must_believe`` is not computed
    (it needs every drawn input in memory); run ``pricedin report`` on a
    smaller prefix of the run for it.
    """
    from ._stats import compensated_sum, sq_dev_sum, total
    from .summary import QUANTILES, proportion, report_header

    a = ds.attrs
    slices = list(_blocks_of(ds))
    P = int(ds.sizes["path"])
    price = float(a["price"])

    def col(name):
        return lambda s: np.asarray(ds[name][s].values)

    acc = (0.0, 0.0)
    jd = jm = failed = clipped = floored = below = 0
    for s in slices:
        blk = ds.isel(path=s)
        v = np.asarray(blk["value_per_share"].values)
        acc = compensated_sum(v, acc)
        below += int(np.count_nonzero(v < price))
        jd += int(np.count_nonzero(blk["justified_dcf"].values))
        jm += int(np.count_nonzero(blk["justified_market"].values))
        failed += int(np.count_nonzero(blk["failed"].values))
        clipped += int(np.count_nonzero(blk["tv_clipped"].values))
        floored += int(np.count_nonzero(blk["floored"].values))
    # the same compensated sums, in the same path order, as the in-memory report: equal to the bit
    mean = total(acc) / P
    acc = (0.0, 0.0)
    for s in slices:
        acc = sq_dev_sum(col("value_per_share")(s), mean, acc)
    sd = math.sqrt(total(acc) / (P - 1)) if P > 1 else 0.0
    max_values = max(1, max_bytes // 8)
    q, qb = _streamed_quantiles(col("value_per_share"), slices, QUANTILES, bins, max_values)
    vps = {"mean": mean, "sd": sd, "se_mean": sd / math.sqrt(P)}
    vps.update({f"p{k}": q[k] for k in QUANTILES})
    med = {}
    bound = {f"value_per_share.p{k}": qb[k] for k in QUANTILES}

    def median_of(name, read):
        m, b = _streamed_quantiles(read, slices, [50], bins, max_values)
        med[name] = m[50]
        bound[f"median_{name}"] = b[50]

    def surviving_ts(s):
        f = np.asarray(ds["failed"][s].values, dtype=bool)
        return np.asarray(ds["terminal_share"][s].values)[~f]

    def finite_cagr(s):
        x = np.asarray(ds["revenue_cagr"][s].values)
        return x[~np.isnan(x)]

    median_of("horizon_return", col("horizon_return"))
    median_of("terminal_share", surviving_ts)
    median_of("revenue_cagr", finite_cagr)
    median_of("dilution", lambda s: (lambda x: x[~np.isnan(x)])(col("dilution")(s)))  # NaN: failed paths
    exact = all(b == 0.0 for b in bound.values())
    return {
        **report_header(a, P),
        "value_per_share": vps,
        "p_justified": {"dcf": proportion(jd, P), "market": proportion(jm, P)},
        "price_percentile": float(100.0 * below / P),
        "failed_share": failed / P,
        "tv_clipped": clipped,
        "floored": floored,
        "median_horizon_return": med["horizon_return"],
        "median_terminal_share": med["terminal_share"],
        "median_revenue_cagr": med["revenue_cagr"],
        "median_dilution": med["dilution"],
        "config_sha256": a.get("config_sha256", ""),
        "elapsed_s": float(a.get("elapsed_s", float("nan"))),
        "must_believe": None,
        "approximation": {
            "method": ("streamed block by block: counts, probabilities, mean and sd exact; quantiles located in a "
                       f"histogram of {bins:,} equal bins of asinh(x), then exact from the values of those bins "
                       "where they fit in memory, else interpolated within the bin"),
            "exact": exact,
            "max_abs_error": bound,
        },
    }
