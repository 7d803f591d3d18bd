"""Simulate a company: plan (config -> arrays), run (blocks of paths), assemble (arrays -> Dataset).

The three stages live in :mod:`engine._plan` (parameter table, theta, options,
shock table; the seed contract), :mod:`engine._run` (the one block runner, on
threads or a Dask cluster) and :mod:`engine._assemble` (the results Dataset, from
the registry :mod:`engine.variables`). :func:`simulate` chains them for one run in
this process. The names other modules import from here are re-exported.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable, Optional, Sequence, Union

import numpy as np

from ._assemble import (FLAG_ROWS, KEEP_ROWS, OUT_ROWS, NonFiniteResultError, RunArrays, assemble, check_finite,
                        encode_attrs, run_attrs)
from ._blas import one_blas_thread
from ._hugepage import no_hugepage_advice
from ._plan import (DEFAULT_MEMORY_LIMIT, MemoryLimitError, ParameterTable, Plan, as_config, base_shock,
                    check_run_memory,
                    cached_plan, keep_paths_bytes, parameter_table, run_config)
from ._run import BufferPool, compute_block, fill_block, theta_buffer, theta_pool, observed_arrays, result_arrays, run_one_block, run_tasks
from .config import Config, check_overrides
from .distributions import parse_number  # noqa: F401  (re-exported for callers)
from .errors import InputError
from .model import layout as L
from .variables import PATH_VARIABLES, param_var_name

__all__ = ["simulate", "simulate_arrays", "compute_block", "ParameterTable", "parameter_table", "MemoryLimitError", "keep_paths_bytes",
           "NonFiniteResultError", "check_finite", "encode_attrs", "base_shock", "param_var_name"]

# Names kept for the modules that import them from here (stress, sensitivity, implied, benchmarks).
_Plan = Plan
_fill_block = fill_block
_cached_plan = cached_plan
_result_arrays = result_arrays
_dataset = assemble
_OUT_COLS = OUT_ROWS
_FLAG_ROWS = FLAG_ROWS
_KEEP_COLS = KEEP_ROWS


def _size(nbytes: float) -> str:
    """Bytes as GiB, or MiB below 1 GiB (so a small limit does not read "0.0 GiB")."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def simulate(
    cfg: Union[Config, str, "os.PathLike"],
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    keep_paths: bool = False,
    memory_limit: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    command: str = "",
    shock: Optional[np.ndarray] = None,
    overrides: Optional[dict] = None,
    theta_fn: Optional[Callable[[int, int], tuple]] = None,
):
    """Simulate ``paths`` paths of the company in ``cfg``.

    Parameters
    ----------
    cfg : Config or str or os.PathLike
        A validated config, or the path of a config file (loaded with
        :func:`engine.config.load_config`).
    paths, seed : int, optional
        Override ``simulation.paths`` / ``simulation.seed``.
    threads : int, optional
        Worker threads (default: all cores). Results do not depend on it.
    keep_paths : bool
        Also return the (path, time) variables (revenue, margin, FCFF, cash, ...).
    memory_limit : int, optional
        Bytes the run may take; default: the available memory
        (:func:`engine._plan.available_memory`). The run's peak is estimated
        (:func:`engine._plan.run_memory`) and refused before allocating.
    progress : callable(done_paths, total_paths), optional
        Called from the calling thread after each finished block.
    command : str
        The command line recorded in the ``history`` attribute.
    shock : ndarray(float64, ndim=2), (time, NSH + n_seg * NSS), optional
        Scenario overlays by step (see :func:`base_shock`); default none.
    overrides : dict of {str: float}, optional
        ``{key path: value}``: inputs set to ``value`` on every path *after* the
        parameter draws, so every other input keeps exactly its per-path draw
        (common random numbers; used by the tornado of
        :mod:`engine.sensitivity`). A drawn input's ``param_*`` variable then
        holds the override. Units are the input's own.
    theta_fn : callable(block, n) -> (theta, draws), optional
        Replaces the per-block parameter draws: ``theta`` (n, n_columns) in the
        layout of ``parameter_table(cfg)`` and ``draws`` (n, len(table.drawn)),
        its drawn columns. :mod:`engine.stress` uses it to reuse the base run's
        uniforms (common random numbers); default: the config's own draws.

    Returns
    -------
    xarray.Dataset
        Dims ``path`` (and ``time``, ``segment`` with ``keep_paths``); the
        variables of :mod:`engine.variables` and every drawn input as
        ``param_<key>``; attrs: seed, block size, config TOML and its sha256,
        engine version, history. Checked by :func:`engine.variables.validate`.

    Raises
    ------
    MemoryLimitError
        The kept arrays, or the run's estimated peak, would exceed ``memory_limit``;
        the message gives the estimate and the fix.
    """
    from . import __version__

    cfg, table, plan, over_cols = _prepare(cfg, paths, seed, threads, keep_paths, memory_limit, shock, overrides)
    # first touch of the per-path arrays without huge-page compaction, the copula's product on one BLAS thread
    with no_hugepage_advice(), one_blas_thread():
        return _run_and_assemble(cfg, table, plan, iopt_keep=int(keep_paths), over_cols=over_cols, threads=threads,
                                 progress=progress, command=command, theta_fn=theta_fn, version=__version__)


def simulate_arrays(
    cfg: Union[Config, str, "os.PathLike"],
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    memory_limit: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    command: str = "",
    shock: Optional[np.ndarray] = None,
    overrides: Optional[dict] = None,
    theta_fn: Optional[Callable[[int, int], tuple]] = None,
    variables: Optional[Sequence[str]] = None,
) -> RunArrays:
    """:func:`simulate` into plain arrays: the run's per-path results without an xarray Dataset.

    The same blocks, kernel and seed contract as :func:`simulate`, so every kept value is
    bit for bit the same; what differs is what is held. No observed fiscal years, no
    ``path`` coordinate, no Dataset (xarray is not imported), and with ``variables`` only
    those float variables: the kernel writes each block into a reused block buffer and
    the kept rows are copied out. For the report of a run that saves nothing
    (``variables=engine.summary.REPORT_VARIABLES``: 14 of the 19 float outputs, 7 flags
    and the drawn inputs, 8 x (14 + n_drawn) + 7 bytes a path against the Dataset's
    8 x (19 + n_drawn + 1 + observed years x (3 + segments)) + 7).

    Parameters
    ----------
    cfg, paths, seed, threads, memory_limit, progress, command, shock, overrides, theta_fn
        As :func:`simulate` (``command`` is recorded in ``attrs["history"]``).
    variables : sequence of str, optional
        Names of the per-path variables (:data:`engine.variables.PATH_VARIABLES`) and
        ``param_*`` drawn inputs to keep; ``value_per_share`` and the 0/1 flags are always
        kept, the drawn inputs (all of them) only when a ``param_<key>`` name, or ``"param_*"``,
        is given. None: every per-path variable and drawn input.

    Returns
    -------
    engine._assemble.RunArrays
        Read like the Dataset of :func:`simulate` (``run["value_per_share"].values``,
        ``run.attrs``, ``run.sizes["path"]``); reading a variable not kept raises
        :class:`~engine.errors.InternalError`.

    Raises
    ------
    InputError
        An unknown name in ``variables``; as :func:`simulate` otherwise.
    NonFiniteResultError
        A value per share is not finite.
    """
    from . import __version__

    if isinstance(variables, str):
        variables = [variables]
    variables = None if variables is None else list(variables)
    floats = list(OUT_ROWS) if variables is None else [v for v in OUT_ROWS if v in variables or v == "value_per_share"]
    cfg, table, plan, over_cols = _prepare(cfg, paths, seed, threads, False, memory_limit, shock, overrides,
                                           floats=None if variables is None else len(floats), observed=False)
    keep_draws = True
    if variables is not None:
        names = {v.name for v in PATH_VARIABLES}
        params = {param_var_name(table.keys[c]) for c in table.drawn}
        bad = [v for v in variables if v not in names and v not in params and v != "param_*"]
        if bad:
            raise InputError(f"variables: {', '.join(map(repr, bad))} not a per-path variable or drawn input of "
                             f"this run; choose from {', '.join(sorted(names | params))}")
        keep_draws = any(v in params or v == "param_*" for v in variables)
    with no_hugepage_advice(), one_blas_thread():
        return _run_arrays(cfg, table, plan, over_cols, threads, progress, command, theta_fn, __version__,
                           floats, keep_draws)


def _prepare(cfg, paths, seed, threads, keep_paths, memory_limit, shock, overrides, floats=None, observed=True):
    """The checks and the plan of a run: ``(cfg, table, plan, over_cols)`` (the start of :func:`simulate`).

    ``floats`` and ``observed`` say what the run keeps, for its memory estimate (:func:`engine._plan.run_memory`).
    """
    cfg = run_config(as_config(cfg), paths, seed)
    P = cfg.simulation.paths
    N = cfg.n_steps
    nseg = len(cfg.segments)
    if keep_paths:
        need = keep_paths_bytes(cfg, P)
        if need > (DEFAULT_MEMORY_LIMIT if memory_limit is None else memory_limit):
            raise MemoryLimitError(
                f"--keep-paths for {P:,} paths x {N} steps x {L.NK + nseg} variables needs "
                f"{_size(need)}, over the limit of {_size(DEFAULT_MEMORY_LIMIT if memory_limit is None else memory_limit)}; "
                "lower --paths or drop --keep-paths (summary results need no (path, time) arrays)"
            )
    check_run_memory(cfg, P, keep_paths, threads, memory_limit, floats, observed)  # before any per-path array
    # ---- plan
    table = ParameterTable(cfg)
    plan = Plan(cfg, table)
    if shock is not None:
        if shock.shape != plan.shock.shape:
            raise InputError(f"shock table has shape {shock.shape}; expected {plan.shock.shape}")
        plan.shock = np.ascontiguousarray(shock, dtype=np.float64)
    over_cols = []
    overrides = check_overrides(cfg, overrides)  # the config's bounds hold for overrides too
    for key, val in overrides.items():
        if key not in table.keys:
            raise InputError(f"override {key!r} is not an input of this config")
        col = table.column(key)
        over_cols.append((col, table.drawn.index(col) if col in table.drawn else -1, float(val)))
    return cfg, table, plan, over_cols


def _run_and_assemble(cfg, table, plan, iopt_keep, over_cols, threads, progress, command, theta_fn, version):
    """Allocate the run's arrays, run its blocks into them, assemble the Dataset (the body of :func:`simulate`)."""
    P = cfg.simulation.paths
    B = cfg.simulation.block_size
    N = cfg.n_steps
    nseg = len(cfg.segments)
    keep_paths = bool(iopt_keep)
    nblocks = math.ceil(P / B)
    # variable-major layouts: each row becomes a result variable without a copy
    out, flags = result_arrays(P)
    draws_all = np.empty((len(table.drawn), P))
    if keep_paths:
        keep_out = result_arrays(P, N)[2]
        keep_seg = np.empty((P, N, nseg))
    else:
        keep_out = np.empty((L.NK, 1, 1))
        keep_seg = np.empty((1, 1, nseg))
    obs_out, obs_seg = observed_arrays(P, cfg.n_observed_years, nseg)
    iopt = plan.iopt.copy()
    iopt[L.I_KEEP] = int(keep_paths)

    pool = theta_pool(plan)

    # ---- run: each block writes into its views of the run's arrays
    def run_block(b: int) -> int:
        lo = b * B
        hi = min(P, lo + B)
        ko = keep_out[:, lo:hi] if keep_paths else keep_out
        ks = keep_seg[lo:hi] if keep_paths else keep_seg
        buf = pool.take() if theta_fn is None else None
        fill_block(plan, iopt, b, hi - lo, out[:, lo:hi], flags[:, lo:hi], draws_all[:, lo:hi], ko, ks,
                   theta_fn, over_cols, *((None, None) if obs_out is None else (obs_out[:, lo:hi], obs_seg[lo:hi])),
                   theta_buf=buf)
        if buf is not None:
            pool.give(buf)
        return hi - lo

    elapsed = _run_blocks(run_block, nblocks, threads, progress, P)
    # ---- assemble
    return assemble(cfg, table, out, flags, draws_all, keep_out if keep_paths else None,
                    keep_seg if keep_paths else None, elapsed, command, version, obs_out, obs_seg)


def _run_blocks(run_block, nblocks: int, threads, progress, P: int) -> float:
    """Run ``run_block(b)`` for the blocks ``b = 0 .. nblocks - 1`` on ``threads`` (each returns its paths),
    calling ``progress(done, P)`` as blocks finish; returns the wall time [s]."""
    t0 = time.perf_counter()
    done = 0
    for _, n in run_tasks(run_block, [(b,) for b in range(nblocks)], threads=threads):
        done += n
        if progress:
            progress(done, P)
    return time.perf_counter() - t0


def _run_arrays(cfg, table, plan, over_cols, threads, progress, command, theta_fn, version, floats, keep_draws):
    """Run the blocks of :func:`simulate_arrays` into the kept arrays (no observed years, no kept paths)."""
    P = cfg.simulation.paths
    B = cfg.simulation.block_size
    nseg = len(cfg.segments)
    nblocks = math.ceil(P / B)
    direct = len(floats) == L.NO  # every float row kept: the kernel writes the run's arrays
    if direct:
        out = result_arrays(P)[0]
    else:
        rows = [OUT_ROWS[v] for v in floats]
        kept = np.empty((len(floats), P))
    flags = result_arrays(P)[1]
    nd = len(table.drawn)
    draws_all = np.empty((nd, P)) if keep_draws else None
    keep_out = np.empty((L.NK, 1, 1))
    keep_seg = np.empty((1, 1, nseg))
    iopt = plan.iopt.copy()
    iopt[L.I_KEEP] = 0
    Bmax = min(P, B)
    pool = BufferPool(lambda: {**theta_buffer(plan), "out": None if direct else result_arrays(Bmax)[0],
                               "draws": None if keep_draws else np.empty((nd, Bmax))})

    def run_block(b: int) -> int:
        lo = b * B
        hi = min(P, lo + B)
        n = hi - lo
        buf = pool.take()
        o = out[:, lo:hi] if direct else buf["out"][:, :n]
        d = draws_all[:, lo:hi] if keep_draws else buf["draws"][:, :n]
        fill_block(plan, iopt, b, n, o, flags[:, lo:hi], d, keep_out, keep_seg, theta_fn, over_cols,
                   theta_buf=None if theta_fn is not None else buf)
        if not direct:
            kept[:, lo:hi] = o[rows]
        pool.give(buf)
        return n

    elapsed = _run_blocks(run_block, nblocks, threads, progress, P)
    data = {v: out[OUT_ROWS[v]] for v in floats} if direct else {v: kept[i] for i, v in enumerate(floats)}
    check_finite(data["value_per_share"])
    return RunArrays(cfg, table, data, flags, draws_all, run_attrs(cfg, P, elapsed, command, version))
