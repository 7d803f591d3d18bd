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
from typing import Callable, Optional, Union

import numpy as np

from ._assemble import FLAG_ROWS, KEEP_ROWS, OUT_ROWS, NonFiniteResultError, assemble, check_finite, encode_attrs
from ._hugepage import no_hugepage_advice
from ._plan import (DEFAULT_MEMORY_LIMIT, MemoryLimitError, ParameterTable, Plan, as_config, base_shock,
                    check_run_memory,
                    cached_plan, keep_paths_bytes, parameter_table, run_config)
from ._run import compute_block, fill_block, theta_pool, observed_arrays, result_arrays, run_one_block, run_tasks
from .config import Config, check_overrides
from .distributions import parse_number  # noqa: F401  (re-exported for callers)
from .errors import InputError
from .model import layout as L
from .variables import param_var_name

__all__ = ["simulate", "compute_block", "ParameterTable", "parameter_table", "MemoryLimitError", "keep_paths_bytes",
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

    cfg = run_config(as_config(cfg), paths, seed)
    P = cfg.simulation.paths
    B = cfg.simulation.block_size
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
    check_run_memory(cfg, P, keep_paths, threads, memory_limit)  # before any per-path array
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
    with no_hugepage_advice():  # first touch of the per-path arrays without huge-page compaction (see there)
        return _run_and_assemble(cfg, table, plan, iopt_keep=int(keep_paths), over_cols=over_cols, threads=threads,
                                 progress=progress, command=command, theta_fn=theta_fn, version=__version__)


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

    t0 = time.perf_counter()
    done = 0
    for _, n in run_tasks(run_block, [(b,) for b in range(nblocks)], threads=threads):
        done += n
        if progress:
            progress(done, P)
    elapsed = time.perf_counter() - t0
    # ---- assemble
    return assemble(cfg, table, out, flags, draws_all, keep_out if keep_paths else None,
                    keep_seg if keep_paths else None, elapsed, command, version, obs_out, obs_seg)
