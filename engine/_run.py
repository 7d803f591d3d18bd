"""Run: blocks of paths through the kernel, on threads or a Dask cluster.

The one block runner of the engine. :func:`fill_block` is the one code path of a
block (its parameters, its path ids, the kernel); :func:`resimulate` runs given
parameter rows with given paths' shocks (sequential Monte Carlo); :func:`run_tasks` runs block
tasks on a thread pool of this process or, given a Dask client, on a cluster, and
yields each result as it finishes. :func:`engine.simulate.simulate` runs blocks
that write into views of the run's arrays; :mod:`engine.distributed` and
:mod:`engine.stress` run :func:`compute_block` tasks, which rebuild the plan from
the config's TOML text, so a block gives the same bits on a thread, in another
process or on another machine.
"""

from __future__ import annotations

import math
import os
import uuid
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from ._plan import to_cash_flow_currency
from .errors import InputError
from .model import layout as L
from .model.kernel import simulate_block
from .sampling import shock_key

__all__ = ["BufferPool", "theta_buffer", "theta_pool", "fill_block", "resimulate", "result_arrays", "observed_arrays", "run_one_block", "compute_block", "run_tasks", "block_bounds"]


def block_bounds(cfg, block: int) -> tuple[int, int]:
    """Paths ``[lo, hi)`` of block ``block`` of the run of ``cfg``.

    Raises
    ------
    InputError
        ``block`` is outside the run.
    """
    P = cfg.simulation.paths
    B = cfg.simulation.block_size
    nblocks = math.ceil(P / B)
    if not 0 <= int(block) < nblocks:
        raise InputError(f"block {block} is outside the run's {nblocks} blocks")
    lo = int(block) * B
    return lo, min(P, lo + B)


class BufferPool:
    """Reused per-block buffers of one run: one set per block in flight, never shared by two at a time.

    A block takes a buffer with :meth:`take` and gives it back with :meth:`give`; a run
    of many blocks thus allocates (and first touches) its per-block arrays once per
    thread instead of once per block. ``list.pop`` / ``list.append`` are atomic under
    the GIL, so worker threads need no lock.

    Parameters
    ----------
    make : callable() -> object
        Builds a fresh buffer when none is free.
    """

    def __init__(self, make: Callable[[], object]):
        self._make = make
        self._free: list = []

    def take(self):
        """A free buffer, or a new one."""
        try:
            return self._free.pop()
        except IndexError:
            return self._make()

    def give(self, buf) -> None:
        """Return ``buf`` (taken from this pool) for the next block."""
        self._free.append(buf)


def theta_buffer(plan) -> dict:
    """A theta buffer for :func:`fill_block`: a dict of ``theta`` ndarray(float64), (min(paths, block size),
    n_columns), and ``filled`` (bool): whether its fixed columns hold ``plan``'s values (see
    :meth:`engine._plan.Plan.theta`)."""
    shape = (int(min(plan.cfg.simulation.paths, plan.cfg.simulation.block_size)), len(plan.table.specs))
    return {"theta": np.empty(shape), "filled": False}


def theta_pool(plan) -> BufferPool:
    """A :class:`BufferPool` of :func:`theta_buffer` for :func:`fill_block`."""
    return BufferPool(lambda: theta_buffer(plan))


def fill_block(plan, iopt, b: int, n: int, out, flags, draws_out, keep_out, keep_seg,
               theta_fn=None, over_cols=(), obs_out=None, obs_seg=None, theta_buf=None) -> None:
    """Simulate block ``b`` (``n`` paths) into the given (variable, path) views.

    Parameters
    ----------
    plan : engine._plan.Plan
        The run's plan.
    iopt : ndarray(int64), (NI,)
        Options (``plan.iopt`` with ``I_KEEP`` set as wanted).
    out, flags, draws_out : ndarray, (NO, n), (NL, n) int8, (n_drawn, n)
        Written: the kernel's outputs and the drawn inputs.
    keep_out, keep_seg : ndarray
        As :func:`engine.model.kernel.simulate_block`.
    theta_fn : callable(block, n) -> (theta, draws), optional
        Replaces ``plan.theta`` (stress: common random numbers).
    over_cols : sequence of (column, drawn index or -1, value)
        Inputs set on every path after the draws (tornado overrides).
    obs_out, obs_seg : ndarray, (NY, n, year), (n, year, segment), optional
        Written: the observed fiscal years (:func:`observed_arrays`); None: none.
    theta_buf : dict, optional
        A buffer of :func:`theta_pool` for ``plan.theta``, reused by the blocks of one run with the
        same ``over_cols``; unused with ``theta_fn``.
    """
    if theta_fn is not None:
        theta, draws = theta_fn(b, n)
    elif theta_buf is not None:
        theta, draws = plan.theta(b, n, out=theta_buf["theta"], out_filled=theta_buf["filled"])
        theta_buf["filled"] = True
    else:
        theta, draws = plan.theta(b, n)
    for col, j, val in over_cols:
        theta[:, col] = val
        if j >= 0:
            draws[:, j] = val
    draws_out[:] = draws.T
    to_cash_flow_currency(plan.cfg, plan.table, theta)  # rates in another currency: by interest-rate parity
    lo = b * plan.cfg.simulation.block_size
    ids = np.arange(lo, lo + n, dtype=np.int64)  # the global path ids: the shocks depend on these alone
    _kernel(plan, iopt, theta, ids, ids, plan.cfg.n_steps, 0, out, flags, keep_out, keep_seg, obs_out, obs_seg)


def _kernel(plan, iopt, theta, ids, fresh_ids, switch_step, generation, out, flags, keep_out, keep_seg,
            obs_out, obs_seg) -> None:
    """:func:`simulate_block` with the run's shock key (int arguments as int64: one specialisation)."""
    key = shock_key(plan.cfg.simulation.seed)
    args = (theta, plan.gm, iopt, plan.fopt, plan.closed, plan.shock, key, ids, fresh_ids, int(switch_step),
            int(generation), out, flags, keep_out, keep_seg)
    if obs_out is None:
        simulate_block(*args)
    else:
        simulate_block(*args, obs_out, obs_seg)


def resimulate(plan, theta, ids, fresh_ids=None, switch_step=None, generation=0, observed=True) -> dict:
    """Simulate given parameter rows with the shocks of given paths, optionally switching to fresh shocks.

    The re-simulation step of sequential Monte Carlo (resample paths, replay each
    ancestor's shocks up to an observation step, then draw fresh shocks): row ``p``
    of ``theta`` is simulated with the shocks of global path id ``ids[p]`` for the
    steps ``t <= switch_step`` and, after it, with the shocks of path id
    ``fresh_ids[p]`` in generation ``generation`` (a part of the counter space that
    no run and no other generation draws from, :mod:`engine.model.rng`). Because the
    shocks are counter-based, ``resimulate(plan, theta_of_paths, ids)`` reproduces
    the run's rows for those ids bit for bit, from any block.

    Parameters
    ----------
    plan : engine._plan.Plan
        The run's plan (its seed fixes the shock key).
    theta : ndarray(float64), (n, n_columns)
        Drawn parameters as ``plan.theta`` returns them (before the cash-flow-currency
        conversion, which is applied here to a copy).
    ids : array of int, (n,)
        Global path ids (``>= 0``) whose shocks row ``p`` replays.
    fresh_ids : array of int, (n,), optional
        Path ids of the fresh shocks after ``switch_step`` (default: ``ids``).
    switch_step : int, optional
        The last replayed step, ``0 <= switch_step <= n_steps`` (steps are 1-based; a
        fiscal year ``y`` ends at step ``y * steps_per_year``). None: the paths' own
        shocks throughout (``n_steps``).
    generation : int
        The fresh shocks' generation, ``>= 1`` when ``switch_step < n_steps``.
    observed : bool
        False: skip the observed fiscal years.

    Returns
    -------
    dict
        ``out`` ndarray(float64), (NO, n): the ``O_*`` rows; ``flags`` ndarray(int8),
        (NL, n): the ``L_*`` rows; ``obs_out`` ndarray(float64), (NY, n, year) and
        ``obs_seg`` (n, year, segment): the observed fiscal years, or None (as
        :func:`run_one_block`).

    Raises
    ------
    InputError
        ``theta`` is not (n, n_columns); ``ids`` or ``fresh_ids`` is not n non-negative
        integers; ``switch_step`` is outside ``0 .. n_steps``; ``generation`` is not
        ``>= 1`` for a switch.
    """
    cfg = plan.cfg
    n_steps = cfg.n_steps
    theta = np.array(theta, dtype=np.float64, order="C", copy=True)
    n_cols = len(plan.table.specs)
    if theta.ndim != 2 or theta.shape[1] != n_cols:
        raise InputError(f"theta has shape {theta.shape}; expected (n, {n_cols}) as plan.theta returns it")
    n = theta.shape[0]

    def _ids(v, name):
        a = np.asarray(v)
        if a.shape != (n,) or not (np.issubdtype(a.dtype, np.integer) or a.size == 0) or (a.size and a.min() < 0):
            raise InputError(f"{name} must be {n} non-negative integer path ids (one per row of theta); "
                             f"got shape {a.shape}, dtype {a.dtype}")
        return np.ascontiguousarray(a, dtype=np.int64)

    ids = _ids(ids, "ids")
    fresh = ids if fresh_ids is None else _ids(fresh_ids, "fresh_ids")
    if switch_step is None:
        switch_step = n_steps
    if isinstance(switch_step, bool) or not isinstance(switch_step, (int, np.integer)) or not 0 <= switch_step <= n_steps:
        raise InputError(f"switch_step = {switch_step!r} must be an integer step in 0 .. {n_steps} "
                         f"(the run's n_steps); None keeps the paths' own shocks throughout")
    if isinstance(generation, bool) or not isinstance(generation, (int, np.integer)) or generation < 0:
        raise InputError(f"generation = {generation!r} must be a non-negative integer")
    if switch_step < n_steps and generation < 1:
        raise InputError(f"generation = {generation} with switch_step = {switch_step}: fresh shocks need a "
                         f"generation >= 1 (generation 0 is the run's own shocks)")
    to_cash_flow_currency(cfg, plan.table, theta)
    out, flags = result_arrays(n)
    obs_out, obs_seg = (observed_arrays(n, cfg.n_observed_years, len(cfg.segments)) if observed
                        else (None, None))
    _kernel(plan, plan.iopt, theta, ids, fresh, switch_step, generation, out, flags,
            np.empty((L.NK, 1, 1)), np.empty((1, 1, len(cfg.segments))), obs_out, obs_seg)
    return {"out": out, "flags": flags, "obs_out": obs_out, "obs_seg": obs_seg}


def observed_arrays(n: int, n_years: int, n_segments: int) -> tuple:
    """(obs_out (NY, n, year), obs_seg (n, year, segment)) float64 for the observed fiscal years, or (None, None).

    ``obs_out`` has the padding of :func:`result_arrays` (one kernel specialisation for
    a block's slice, whole or part); ``n_years`` 0 (``simulation.observed_years = 0``)
    gives (None, None): the kernel then observes nothing.
    """
    if not n_years:
        return None, None
    return np.empty((L.NY, n + 1, n_years))[:, :n], np.empty((n, n_years, n_segments))


def result_arrays(n: int, n_steps: int = 0) -> tuple:
    """(out (NO, n), flags (NL, n) int8[, keep_out (NK, n, n_steps)]) for the kernel, rows one padding column apart.

    A block's slice of a run's arrays (``out[:, lo:hi]``) is not contiguous when
    there are several blocks but is when there is one; numba compiles one
    specialisation of the kernel per array layout, so a one-block run and a
    many-block run would each compile it (seconds). With the padding every
    slice, whole or part, has the same non-contiguous layout and the kernel is
    compiled (and cached) once. Each row stays contiguous, so it becomes a
    result variable without a copy.
    """
    out = np.empty((L.NO, n + 1))[:, :n]
    flags = np.empty((L.NL, n + 1), dtype=np.int8)[:, :n]
    if not n_steps:
        return out, flags
    return out, flags, np.empty((L.NK, n + 1, n_steps))[:, :n]


def run_one_block(cfg, table, plan, block: int, theta_fn=None, observed: bool = True) -> dict:
    """Block ``block`` of the run of ``cfg`` into arrays of its own (see :func:`compute_block`).

    ``observed`` False skips the observed fiscal years (``obs_out``, ``obs_seg`` None).

    Raises
    ------
    InputError
        ``block`` is outside the run.
    """
    lo, hi = block_bounds(cfg, block)
    n = hi - lo
    out, flags = result_arrays(n)
    draws = np.empty((len(table.drawn), n))
    obs_out, obs_seg = observed_arrays(n, cfg.n_observed_years, len(cfg.segments)) if observed else (None, None)
    fill_block(plan, plan.iopt, int(block), n, out, flags, draws,
               np.empty((L.NK, 1, 1)), np.empty((1, 1, len(cfg.segments))), theta_fn=theta_fn,
               obs_out=obs_out, obs_seg=obs_seg)
    return {"block": int(block), "lo": lo, "hi": hi, "out": out, "flags": flags, "draws": draws,
            "obs_out": obs_out, "obs_seg": obs_seg}


def compute_block(cfg_toml: str, block: int) -> dict:
    """Simulate one block of a run: a pure, picklable unit of work.

    The run is fixed by the config (its ``simulation.paths``, ``seed`` and
    ``block_size`` included), so a block computed here, on a thread, in another
    process or on another machine holds the same bits as block ``block`` of
    :func:`engine.simulate.simulate` for that config. The parsed config and its
    plan are cached per process.

    Parameters
    ----------
    cfg_toml : str
        The run's config as TOML text (``cfg.to_toml()``, with the run's paths and
        seed set).
    block : int
        Block number, ``0 <= block < ceil(paths / block_size)``.

    Returns
    -------
    dict
        ``block`` (int); ``lo``, ``hi`` (int): the block holds paths
        ``[lo, hi)``; ``out`` ndarray(float64), (NO, n): the ``O_*`` rows;
        ``flags`` ndarray(int8), (NL, n): the ``L_*`` rows; ``draws``
        ndarray(float64), (n_drawn, n): the drawn inputs in the column order of
        ``ParameterTable.drawn``; ``obs_out`` ndarray(float64), (NY, n, year)
        and ``obs_seg`` (n, year, segment): the observed fiscal years
        (``simulation.observed_years``), None when it is 0.

    Raises
    ------
    InputError
        ``block`` is outside the run.
    """
    from ._plan import cached_plan

    cfg, table, plan = cached_plan(cfg_toml)
    return run_one_block(cfg, table, plan, block)


def run_tasks(fn: Callable, args_list: Sequence[tuple], threads: Optional[int] = None, client=None,
              inflight: Optional[int] = None) -> Iterator[tuple[int, object]]:
    """Run ``fn(*args)`` for each ``args``; yield ``(index, result)`` as tasks finish.

    Parameters
    ----------
    fn : callable
        A block task (picklable when a Dask client is given).
    args_list : sequence of tuple
        One argument tuple per task.
    threads : int, optional
        Threads of this process (default: all cores); one thread, or one task,
        runs in the calling thread, in order.
    client : distributed.Client, optional
        Run on this Dask cluster instead (:func:`map_bounded`).
    inflight : int, optional
        At most this many tasks submitted and not yet consumed (default: twice
        the threads), so memory stays bounded whatever the number of tasks.
    """
    jobs = list(args_list)
    if not jobs:
        return
    if client is not None:
        yield from map_bounded(client, fn, jobs, inflight)
        return
    n = max(1, threads or os.cpu_count() or 1)
    if n == 1 or len(jobs) == 1:
        for i, args in enumerate(jobs):
            yield i, fn(*args)
        return
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    limit = inflight or 2 * n
    with ThreadPoolExecutor(max_workers=min(n, len(jobs))) as ex:
        pending = {}
        it = iter(enumerate(jobs))
        for i, args in it:
            pending[ex.submit(fn, *args)] = i
            if len(pending) >= limit:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                i = pending.pop(f)
                yield i, f.result()
                nxt = next(it, None)
                if nxt is not None:
                    j, args = nxt
                    pending[ex.submit(fn, *args)] = j


def map_bounded(client, fn, args_list: Sequence[tuple], inflight: Optional[int] = None) -> Iterator[tuple[int, dict]]:
    """Run ``fn(*args)`` for each ``args`` on a Dask client; yield ``(index, result)`` as tasks finish.

    At most ``inflight`` tasks (default: twice the cluster's threads, at least 4) are
    submitted and not yet consumed, so memory stays bounded. Each task may be
    retried twice by the scheduler (a lost worker); each index is yielded once.
    """
    from distributed import as_completed

    jobs = list(args_list)
    if not jobs:
        return
    nthreads = sum(client.nthreads().values()) or 1
    limit = inflight or max(4, 2 * nthreads)
    token = uuid.uuid4().hex[:8]
    name = getattr(fn, "__name__", "task")

    def submit(i):
        return client.submit(fn, *jobs[i], key=f"pricedin-{name}-{token}-{i}", pure=False, retries=2)

    first = min(limit, len(jobs))
    index = {}
    futs = []
    for i in range(first):
        f = submit(i)
        index[f.key] = i
        futs.append(f)
    nxt = first
    ac = as_completed(futs, with_results=True)
    for f, res in ac:
        i = index.pop(f.key)
        f.release()
        yield i, res
        if nxt < len(jobs):
            g = submit(nxt)
            index[g.key] = nxt
            ac.add(g)
            nxt += 1
