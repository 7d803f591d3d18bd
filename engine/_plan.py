"""Plan: a config -> the kernel's arrays (parameter table, theta, options, shock table).

Seed contract: a run is fixed by (config, seed, block size). Paths are cut into
blocks of ``block_size``; block ``i`` draws its parameters from
``SeedSequence(seed, spawn_key=(i, 0))``; the per-step shocks are counter-based, a
function of (seed, global path id, step, variate) only (:mod:`engine.model.rng`). Hence the
result is bit-identical for any thread count, and a run of P paths is the exact
prefix of a longer run with the same seed (for Latin hypercube sampling, only at
block boundaries, since the design is built per block).

The column layouts come from the registry (:mod:`engine.variables`) through the
slot numbers of :mod:`engine.model.layout`.
"""

from __future__ import annotations

import os
from typing import Optional, Union

import numpy as np

from .config import Config, GrowthMethod, MarginMethod, TerminalMethod, correlation_setup
from .errors import InputError, InternalError
from .model import layout as L
from .sampling import block_seed, check_correlation, sample_parameters
from .variables import GLOBAL_INPUTS, SEGMENT_INPUTS

__all__ = ["ParameterTable", "parameter_table", "PARITY_RATES", "to_cash_flow_currency", "keep_paths_bytes",
           "kernel_options", "base_shock", "Plan", "cached_plan", "run_config", "as_config", "MemoryLimitError",
           "DEFAULT_MEMORY_LIMIT", "run_memory", "available_memory", "check_run_memory"]

#: Refuse ``keep_paths`` runs whose (path, time) arrays would exceed this many bytes.
DEFAULT_MEMORY_LIMIT = 4 * 2**30


class MemoryLimitError(InputError):
    """A ``keep_paths`` run would allocate more than the memory limit."""


def as_config(cfg: Union[Config, str, "os.PathLike"]) -> Config:
    """A :class:`Config`, or a path to a config file loaded with :func:`engine.config.load_config`.

    Raises
    ------
    InputError
        ``cfg`` is neither (the loader's own errors pass through).
    """
    if isinstance(cfg, Config):
        return cfg
    if isinstance(cfg, (str, os.PathLike)):
        from .config import load_config

        return load_config(cfg)
    raise InputError(f"cfg must be a Config or the path of a config file, not {type(cfg).__name__}")


def run_config(cfg: Config, paths: Optional[int] = None, seed: Optional[int] = None) -> Config:
    """``cfg`` with ``simulation.paths`` / ``simulation.seed`` replaced where given."""
    upd = {}
    if paths is not None:
        upd["simulation.paths"] = int(paths)
    if seed is not None:
        upd["simulation.seed"] = int(seed)
    return cfg.with_inputs(upd) if upd else cfg


class ParameterTable:
    """The kernel's ``theta`` layout for a config, from the registry's inputs.

    Attributes
    ----------
    keys : list of str, (n_columns,)
        Key path of each theta column (``segments.maas.growth.today``).
    specs : list
        Distribution spec of each column, or None for an absent optional input
        (the column is NaN and the kernel applies the documented default).
    drawn : list of int
        Columns drawn per path (non-fixed specs), in column order.
    base_row : ndarray(float64), (n_columns,)
        Fixed inputs' values; NaN in drawn and absent columns.
    """

    def __init__(self, cfg: Config):
        params = {p.key: p.spec for p in cfg.parameters()}
        n_seg = len(cfg.segments)
        ncol = L.NG + n_seg * L.NS
        self.keys = [""] * ncol
        self.specs = [None] * ncol
        for inp in GLOBAL_INPUTS:
            col = L.SLOTS[inp.slot]
            self.keys[col] = inp.key
            self.specs[col] = params.get(inp.key)
        for k, seg in enumerate(cfg.segments):
            for inp in SEGMENT_INPUTS:
                sub = inp.key
                if sub is None:
                    sub = "revenue" if seg.revenue is not None else "run_rate"
                key = f"segments.{seg.name}.{sub}"
                col = L.NG + k * L.NS + L.SLOTS[inp.slot]
                self.keys[col] = key
                self.specs[col] = params.get(key)
        self.drawn = [i for i, s in enumerate(self.specs) if s is not None and not s.is_fixed]
        self.base_row = np.array(
            [np.nan if s is None else (s.median() if s.is_fixed else np.nan) for s in self.specs]
        )

    def column(self, key: str) -> int:
        """The theta column of input ``key`` (a key path)."""
        return self.keys.index(key)

    def fill(self, theta: np.ndarray, draws: np.ndarray) -> np.ndarray:
        """Write the rows of ``theta`` (n, n_columns): :attr:`base_row` with the drawn columns set to ``draws``
        (n, n_drawn, in :attr:`drawn` order); returns ``theta``."""
        theta[:] = self.base_row
        if self.drawn:
            theta[:, self.drawn] = draws
        return theta


#: The rates given in ``cost_of_capital.currency``: each discounts the cash flows or is a hurdle, so each is
#: converted to the cash flows' currency (the reporting currency) by interest-rate parity. ``terminal.growth``
#: and ``terminal.return_on_capital`` describe the cash flows and are in their currency already.
PARITY_RATES = ("cost_of_capital.initial", "cost_of_capital.mature", "cost_of_capital.cost_of_equity",
                "terminal.wacc")


def to_cash_flow_currency(cfg: Config, table: "ParameterTable", theta: np.ndarray) -> None:
    """Convert the discount rates in ``theta`` to the cash flows' currency, in place, draw by draw.

    Each path's value of the :data:`PARITY_RATES` columns becomes
    ``(1 + r)(1 + rf_cf) / (1 + rf_r) - 1``
    (:func:`engine.model.discounting.interest_rate_parity`), after the draws and any override, so a drawn
    rate's distribution is transformed exactly (a monotone map of each draw). Absent inputs (NaN) stay NaN.
    Nothing changes when ``cost_of_capital.currency`` is the reporting currency.

    Parameters
    ----------
    cfg : Config
        The run's config (its ``rate_parity``).
    table : ParameterTable
        ``theta``'s column layout.
    theta : ndarray(float64), (path, n_columns)
        The block's parameters; rates in ``cost_of_capital.currency`` on entry, in the reporting currency
        on return [1/year].
    """
    parity = cfg.rate_parity
    if parity is None:
        return
    from .model.discounting import interest_rate_parity

    for key in PARITY_RATES:
        if key in table.keys:
            col = table.column(key)
            theta[:, col] = interest_rate_parity(theta[:, col], *parity)


def parameter_table(cfg: Config) -> ParameterTable:
    """The ``theta`` column layout of ``cfg`` (see :class:`ParameterTable`)."""
    return ParameterTable(cfg)


def keep_paths_bytes(cfg: Config, paths: int) -> int:
    """Bytes the (path, time) arrays of a ``keep_paths`` run take: P x N x (10 + segments) x 8."""
    return int(paths) * cfg.n_steps * (L.NK + len(cfg.segments)) * 8


def observed_bytes(cfg: Config, paths: int) -> int:
    """Bytes the observed fiscal years of a run take: P x observed years x (3 + segments) x 8.

    Each path keeps, per observed year (``simulation.observed_years``, default 3), its revenue by
    segment, EBIT, FCFF and cash as float64: 8 x (segments + 3) bytes a path a year.
    """
    return int(paths) * cfg.n_observed_years * (L.NY + len(cfg.segments)) * 8


#: Measured bytes a path costs beyond its result arrays (the ``path`` coordinate and the report's temporaries:
#: percentile copies, masks, medians), and the safety factor of :func:`run_memory` over the measured peak.
_OVERHEAD_PER_PATH = 8 * 16
MEMORY_MARGIN = 1.25
_BASELINE = 64 * 2**20


def run_memory(cfg: Config, paths: int, keep_paths: bool = False, threads: Optional[int] = None,
               floats: Optional[int] = None, observed: bool = True) -> dict:
    """Estimated peak memory of an in-process run (:func:`engine.simulate` plus its report), before allocating.

    The run holds, for all P paths, the result rows (``NO`` = 19 float64 outputs, or ``floats``; 7 int8 flags)
    and the drawn inputs (float64 each), plus :data:`_OVERHEAD_PER_PATH` for the path
    coordinate and the report's temporaries; with ``keep_paths`` also the (path, time)
    arrays (:func:`keep_paths_bytes`), and always the observed fiscal years
    (:func:`observed_bytes`). Each block in flight (one per thread) holds its
    parameter table and draws: min(P, block size) x (theta columns + drawn inputs) x 8.
    The total is (arrays + blocks) x :data:`MEMORY_MARGIN` + 64 MiB. Fitted on
    tracemalloc peaks of configs/zhipu.toml (23 drawn inputs) at 100,000 and 300,000
    paths, 2 threads: 421 bytes a path + 61 MB, against the 437 bytes a path + 69 MB
    this model gives before the margin; with the margin the estimate is 1.9x the
    measured peak at 300,000 paths and tends to 1.3x (546 / 421 bytes a path) for
    the large runs it is there to refuse.

    Parameters
    ----------
    cfg : Config
        The run's config.
    paths : int
        P, the run's paths.
    keep_paths : bool
        Whether the (path, time) variables are kept.
    threads : int, optional
        Worker threads (default: the CPU count).
    floats : int, optional
        Float64 outputs kept per path (default: all ``NO`` of them, as :func:`engine.simulate`;
        :func:`engine.simulate.simulate_arrays` keeps fewer).
    observed : bool
        Whether the observed fiscal years are kept (:func:`engine.simulate.simulate_arrays` keeps none).

    Returns
    -------
    dict
        ``per_path`` [bytes a path, before the margin], ``per_block`` [bytes a block in
        flight], ``blocks_in_flight``, ``kept`` [bytes of the (path, time) arrays, 0
        without ``keep_paths``], ``observed`` [bytes of the observed years], ``total`` [bytes, the estimated peak with the margin].
    """
    P = int(paths)
    table = ParameterTable(cfg)
    nd = len(table.drawn)
    per_path = 8 * ((L.NO if floats is None else int(floats)) + nd) + L.NL + _OVERHEAD_PER_PATH
    B = min(P, int(cfg.simulation.block_size))
    nblocks = -(-P // max(1, B)) if P else 0
    in_flight = max(1, min(int(threads or os.cpu_count() or 1), nblocks))
    per_block = B * (len(table.keys) + nd) * 8
    kept = keep_paths_bytes(cfg, P) if keep_paths else 0
    observed = observed_bytes(cfg, P) if observed else 0
    total = int((P * per_path + kept + observed + in_flight * per_block) * MEMORY_MARGIN) + _BASELINE
    return {"per_path": per_path, "per_block": per_block, "blocks_in_flight": in_flight, "kept": kept,
            "observed": observed, "total": total}


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (psutil's ``available``; /proc/meminfo's MemAvailable)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing: read the kernel's own estimate
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
    return 2**62  # unknown: no limit


def _size(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def check_run_memory(cfg: Config, paths: int, keep_paths: bool = False, threads: Optional[int] = None,
                     memory_limit: Optional[int] = None, floats: Optional[int] = None,
                     observed: bool = True) -> dict:
    """Refuse an in-process run whose estimated peak (:func:`run_memory`) exceeds the memory limit.

    Parameters
    ----------
    memory_limit : int, optional
        Bytes; default: :func:`available_memory`.
    floats, observed
        What the run keeps, as :func:`run_memory`.

    Returns
    -------
    dict
        The estimate of :func:`run_memory`, with ``limit`` [bytes].

    Raises
    ------
    MemoryLimitError
        With the estimate (per path, per block, total), the limit and the fix: fewer
        paths, or ``out="RUN.zarr"`` (:func:`engine.distributed.run_blocks`), which holds
        one block a worker at a time.
    """
    est = run_memory(cfg, paths, keep_paths, threads, floats, observed)
    limit = available_memory() if memory_limit is None else int(memory_limit)
    est["limit"] = limit
    if est["total"] > limit:
        what = "the available memory" if memory_limit is None else "the limit `max_memory_gb`"
        kept = f" + {_size(est['kept'])} of kept (path, time) arrays" if est["kept"] else ""
        raise MemoryLimitError(
            f"a run of {int(paths):,} paths needs about {_size(est['total'])} (estimated peak: "
            f"{est['per_path']} bytes a path{kept}, {_size(est['per_block'])} a block x "
            f"{est['blocks_in_flight']} blocks in flight, x {MEMORY_MARGIN} margin), over {what} of "
            f"{_size(limit)}; lower `paths` (at most about {max(1, int(int(paths) * limit / est['total'])):,}), "
            "or stream the run into a Zarr store with out=\"RUN.zarr\" (`pricedin run CONFIG --out RUN.zarr`), "
            "which holds one block a worker at a time")
    return est


def kernel_options(cfg: Config):
    """The kernel's options for ``cfg``.

    Returns
    -------
    (growth_method, iopt, fopt, closed)
        ``growth_method`` int64 (segment,): 0 OU, 1 linear fade, 2 OU mean-preserving, 3 market x share; ``iopt`` int64
        (NI,) and ``fopt`` float64 (NF,): the ``I_*`` / ``F_*`` options
        (``I_KEEP`` 0); ``closed`` int64 (time,): 1 where no equity can be raised.
    """
    iopt = np.zeros(L.NI, dtype=np.int64)
    iopt[L.I_N] = cfg.n_steps
    iopt[L.I_NSEG] = len(cfg.segments)
    iopt[L.I_MARGIN_METHOD] = {MarginMethod.LINEAR: 0, MarginMethod.EXPONENTIAL: 1, MarginMethod.COST_STRUCTURE: 2}[
        cfg.margin.method
    ]
    iopt[L.I_TV_METHOD] = 0 if cfg.terminal.method == TerminalMethod.GORDON else 1
    iopt[L.I_MID_YEAR] = int(cfg.cost_of_capital.mid_year)
    iopt[L.I_LIMITED] = int(cfg.failure.limited_liability)
    iopt[L.I_ON_LOSS] = 0 if cfg.terminal.on_loss == "liquidate" else 1
    fopt = np.zeros(L.NF)
    fopt[L.F_DT] = 1.0 / cfg.simulation.steps_per_year
    fopt[L.F_FADE_START] = cfg.cost_of_capital.fade_start_year
    fopt[L.F_FADE_END] = cfg.cost_of_capital.fade_end_year
    fopt[L.F_MIN_SPREAD] = cfg.terminal.min_spread
    fopt[L.F_TO_PRICE] = cfg.to_price
    fopt[L.F_PRICE] = cfg.price
    fopt[L.F_MCAP] = cfg.market_cap_reporting
    fopt[L.F_HORIZON] = float(cfg.simulation.horizon_years)
    fopt[L.F_ELAPSED] = cfg.company.elapsed_years
    gm = np.array([3 if s.revenue_model == "market_share" else 1 if s.growth.method == GrowthMethod.LINEAR_FADE
                   else (2 if s.growth.mean_preserving else 0) for s in cfg.segments], dtype=np.int64)
    iopt[L.I_EXIT_BASIS] = 1 if cfg.terminal.exit_basis == "ebit" else 0
    fopt[L.F_TAX_START] = cfg.tax.convergence_start_year
    fopt[L.F_TAX_END] = cfg.tax.convergence_year
    fopt[L.F_FIXED_FADE] = float(cfg.margin.fixed_cost_fade_year)
    fopt[L.F_NOL_EXPIRY] = 0.0 if cfg.tax.nol_expiry_years is None else float(cfg.tax.nol_expiry_years)
    spy = cfg.simulation.steps_per_year
    closed = np.zeros(cfg.n_steps, dtype=np.int64)
    if cfg.financing.closed:
        closed[:] = 1
    for y in cfg.financing.closed_years:
        closed[(y - 1) * spy : y * spy] = 1
    return gm, iopt, fopt, closed


def base_shock(cfg: Config) -> np.ndarray:
    """The no-scenario shock table (time, NSH + n_seg * NSS): zeros, NaN churn overrides.

    Stress scenarios (:mod:`engine.stress`) fill it by step; see ``SCENARIO_SHOCKS``
    and ``SEGMENT_SHOCKS`` in :mod:`engine.variables`.
    """
    n_seg = len(cfg.segments)
    shock = np.zeros((cfg.n_steps, L.NSH + n_seg * L.NSS))
    for k in range(n_seg):
        shock[:, L.NSH + k * L.NSS + L.SS_CHURN_SET] = np.nan
    return shock


class Plan:
    """Everything a block needs, built once per run: options, shock table, parameter sampling."""

    def __init__(self, cfg: Config, table: ParameterTable):
        self.cfg = cfg
        self.table = table
        self.gm, self.iopt, self.fopt, self.closed = kernel_options(cfg)
        self.shock = base_shock(cfg)
        self.drawn_specs = [table.specs[i] for i in table.drawn]
        #: Fixed theta columns that :func:`to_cash_flow_currency` changes in place: a reused theta buffer
        #: gets them from ``base_row`` again in every block (see :meth:`theta`).
        self.reset_columns = ([table.column(k) for k in PARITY_RATES if k in table.keys and
                               table.column(k) not in table.drawn] if cfg.rate_parity is not None else [])
        names, spearman = correlation_setup(cfg)
        self.corr_pearson = None  # the copula's Pearson matrix (sample_parameters factors it)
        self.corr_index = None
        if names:
            pearson = check_correlation(spearman, names, repair=cfg.correlations.repair)
            self.corr_pearson = pearson
            drawn_keys = [table.keys[i] for i in table.drawn]
            self.corr_index = np.array([drawn_keys.index(n) for n in names], dtype=np.int64)

    def theta(self, block: int, n: int, out: Optional[np.ndarray] = None,
              out_filled: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Block ``block``'s parameters: ``theta`` (n, n_columns) and its drawn columns ``draws`` (n, n_drawn).

        Parameters
        ----------
        block, n : int
            The block number and its paths.
        out : ndarray(float64), (m, n_columns), C-contiguous, m >= n, optional
            A buffer to write ``theta`` into (its first ``n`` rows are returned): a run reuses one per
            block in flight (:class:`engine._run.BufferPool`) instead of a fresh n x n_columns x 8
            bytes (32 MiB at 65,536 paths and one segment's 61 columns) whose pages the kernel's
            process would touch for the first time in every block. The values do not depend on it.
        out_filled : bool
            ``out`` holds this plan's fixed columns already (written by an earlier call with the
            same ``out``, and only the drawn columns, the :data:`PARITY_RATES` columns and the
            override columns changed since): only the drawn and the rate-parity columns are
            written, not all n x n_columns values again.
        """
        draws = sample_parameters(
            self.drawn_specs,
            n,
            self.cfg.simulation.sampling,
            block_seed(self.cfg.simulation.seed, block, 0),
            self.corr_pearson,
            self.corr_index,
        )
        ncol = len(self.table.specs)
        if out is None:
            theta = np.empty((n, ncol))
        else:
            if out.ndim != 2 or out.shape[0] < n or out.shape[1] != ncol or not out.flags.c_contiguous:
                raise InternalError(f"theta buffer of shape {out.shape}; expected (>= {n}, {ncol}), C-contiguous")
            theta = out[:n]
        if out is None or not out_filled:
            return self.table.fill(theta, draws), draws
        for col in self.reset_columns:  # changed in place after the draws (interest-rate parity)
            theta[:, col] = self.table.base_row[col]
        if self.table.drawn:
            theta[:, self.table.drawn] = draws
        return theta, draws


#: Per-process cache of plans built from TOML text: {sha256 of the TOML text: (cfg, table, plan)}.
_PLAN_CACHE: dict = {}
_PLAN_CACHE_SIZE = 8


def cached_plan(cfg_toml: str):
    """``(cfg, table, plan)`` of a config given as TOML text, cached per process (for block tasks)."""
    import hashlib

    key = hashlib.sha256(cfg_toml.encode()).hexdigest()
    hit = _PLAN_CACHE.get(key)
    if hit is None:
        try:
            import tomllib
        except ImportError:  # pragma: no cover
            import tomli as tomllib
        from .config import config_from_dict

        cfg = config_from_dict(tomllib.loads(cfg_toml))
        table = ParameterTable(cfg)
        hit = (cfg, table, Plan(cfg, table))
        while len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
            _PLAN_CACHE.pop(next(iter(_PLAN_CACHE)))
        _PLAN_CACHE[key] = hit
    return hit
