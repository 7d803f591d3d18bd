"""Orchestration: config -> parameter draws -> kernel blocks on threads -> xarray Dataset.

Seed contract (DESIGN): a run is fixed by (config, seed, block size). Paths are cut
into blocks of ``block_size``; block ``i`` draws its parameters from
``SeedSequence(seed, spawn_key=(i, 0))`` and its per-step shocks from
``SeedSequence(seed, spawn_key=(i, 1))`` (both children of child ``i``). Hence the
result is bit-identical for any thread count, and a run of P paths is the exact
prefix of a longer run with the same seed (for Latin hypercube sampling, only at
block boundaries, since the design is built per block).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import numpy as np

from . import _kernels as K
from .config import Config, GrowthMethod, MarginMethod, TerminalMethod, check_overrides, correlation_setup
from .distributions import parse_number  # noqa: F401  (re-exported for callers)
from .sampling import block_seed, check_correlation, sample_parameters
from .variables import KEPT_VARIABLES, PATH_VARIABLES, units_for
from .errors import InputError

__all__ = ["simulate", "compute_block", "ParameterTable", "parameter_table", "MemoryLimitError", "keep_paths_bytes"]

#: Refuse ``keep_paths`` runs whose (path, time) arrays would exceed this many bytes.
DEFAULT_MEMORY_LIMIT = 4 * 2**30


class MemoryLimitError(InputError):
    """A ``keep_paths`` run would allocate more than the memory limit."""


_GLOBAL_KEYS = {
    K.P_CASH: "balance_sheet.cash",
    K.P_DEBT: "balance_sheet.debt",
    K.P_MI: "balance_sheet.minority_interests",
    K.P_NONOP: "balance_sheet.non_operating_assets",
    K.P_NOL: "balance_sheet.nol",
    K.P_IC: "balance_sheet.invested_capital",
    K.P_M_TODAY: "margin.today",
    K.P_M_TARGET: "margin.target",
    K.P_M_CONV: "margin.convergence_year",
    K.P_M_HL: "margin.half_life",
    K.P_M_NOISE: "margin.noise_sd",
    K.P_M_PERS: "margin.noise_persistence",
    K.P_M_MAX: "margin.maximum",
    K.P_VCS: "margin.variable_cost_share",
    K.P_FIXED: "margin.fixed_costs",
    K.P_FIXED_G: "margin.fixed_cost_growth",
    K.P_TAX: "tax.rate",
    K.P_S2C: "reinvestment.sales_to_capital",
    K.P_W0: "cost_of_capital.initial",
    K.P_WM: "cost_of_capital.mature",
    K.P_KE: "cost_of_capital.cost_of_equity",
    K.P_TG: "terminal.growth",
    K.P_TW: "terminal.wacc",
    K.P_ROC: "terminal.return_on_capital",
    K.P_EXIT: "terminal.exit_multiple",
    K.P_MU_TODAY: "multiple.today",
    K.P_MU_MAT: "multiple.mature",
    K.P_MU_BETA: "multiple.growth_beta",
    K.P_MU_HL: "multiple.half_life",
    K.P_MU_VOL: "multiple.volatility",
    K.P_SBC: "dilution.sbc_rate",
    K.P_FLOOR: "financing.cash_floor",
    K.P_BUFFER: "financing.buffer_years",
    K.P_DISC: "financing.issue_discount",
    K.P_CASH_RATE: "financing.cash_rate",
    K.P_FAIL: "failure.annual_probability",
    K.P_RECOV: "failure.recovery",
}

_SEGMENT_KEYS = {
    K.S_REV0: None,  # revenue or run_rate
    K.S_G0: "growth.today",
    K.S_GINF: "growth.long_run",
    K.S_GHL: "growth.half_life",
    K.S_FADE: "growth.fade_year",
    K.S_GVOL: "growth.volatility",
    K.S_GVOL_INF: "growth.volatility_long_run",
    K.S_GVOL_HL: "growth.volatility_half_life",
    K.S_CHURN: "churn.rate",
    K.S_CDISP: "churn.dispersion",
    K.S_RVOL: "revenue_shock.volatility",
    K.S_RVOL_INF: "revenue_shock.volatility_long_run",
    K.S_RHL: "revenue_shock.half_life",
    K.S_RCORR: "revenue_shock.correlation",
    K.S_MPR: "revenue_shock.market_price_of_risk",
}


class ParameterTable:
    """The kernel's ``theta`` layout for a config.

    Attributes
    ----------
    keys : list of str, (n_columns,)
        Key path of each theta column (``segments.maas.growth.today``).
    specs : list
        Distribution spec of each column, or None for an absent optional input
        (the column is NaN and the kernel applies the documented default).
    drawn : list of int
        Columns drawn per path (non-fixed specs), in column order.
    """

    def __init__(self, cfg: Config):
        params = {p.key: p.spec for p in cfg.parameters()}
        n_seg = len(cfg.segments)
        ncol = K.NG + n_seg * K.NS
        self.keys = [""] * ncol
        self.specs = [None] * ncol
        for col, key in _GLOBAL_KEYS.items():
            self.keys[col] = key
            self.specs[col] = params.get(key)
        for k, seg in enumerate(cfg.segments):
            for off, sub in _SEGMENT_KEYS.items():
                if sub is None:
                    sub = "revenue" if seg.revenue is not None else "run_rate"
                key = f"segments.{seg.name}.{sub}"
                self.keys[K.NG + k * K.NS + off] = key
                self.specs[K.NG + k * K.NS + off] = params.get(key)
        self.drawn = [i for i, s in enumerate(self.specs) if s is not None and not s.is_fixed]
        self.base_row = np.array(
            [np.nan if s is None else (s.median() if s.is_fixed else np.nan) for s in self.specs]
        )

    def column(self, key: str) -> int:
        """The theta column of input ``key`` (a key path)."""
        return self.keys.index(key)


def parameter_table(cfg: Config) -> ParameterTable:
    """The ``theta`` column layout of ``cfg`` (see :class:`ParameterTable`)."""
    return ParameterTable(cfg)


def keep_paths_bytes(cfg: Config, paths: int) -> int:
    """Bytes the (path, time) arrays of a ``keep_paths`` run take: P x N x (10 + segments) x 8."""
    return int(paths) * cfg.n_steps * (K.NK + len(cfg.segments)) * 8


def param_var_name(key: str) -> str:
    """Result variable name of a drawn input: ``param_`` + key path with '.' -> '_'."""
    k = key[len("segments."):] if key.startswith("segments.") else key
    return "param_" + k.replace(".", "_")


def _options(cfg: Config):
    iopt = np.zeros(K.NI, dtype=np.int64)
    iopt[K.I_N] = cfg.n_steps
    iopt[K.I_NSEG] = len(cfg.segments)
    iopt[K.I_MARGIN_METHOD] = {MarginMethod.LINEAR: 0, MarginMethod.EXPONENTIAL: 1, MarginMethod.COST_STRUCTURE: 2}[
        cfg.margin.method
    ]
    iopt[K.I_TV_METHOD] = 0 if cfg.terminal.method == TerminalMethod.GORDON else 1
    iopt[K.I_MID_YEAR] = int(cfg.cost_of_capital.mid_year)
    iopt[K.I_LIMITED] = int(cfg.failure.limited_liability)
    fopt = np.zeros(K.NF)
    fopt[K.F_DT] = 1.0 / cfg.simulation.steps_per_year
    fopt[K.F_FADE_START] = cfg.cost_of_capital.fade_start_year
    fopt[K.F_FADE_END] = cfg.cost_of_capital.fade_end_year
    fopt[K.F_MIN_SPREAD] = cfg.terminal.min_spread
    fopt[K.F_TO_PRICE] = cfg.to_price
    fopt[K.F_PRICE] = cfg.price
    fopt[K.F_MCAP] = cfg.market_cap_reporting
    fopt[K.F_HORIZON] = float(cfg.simulation.horizon_years)
    gm = np.array([0 if s.growth.method == GrowthMethod.OU else 1 for s in cfg.segments], dtype=np.int64)
    spy = cfg.simulation.steps_per_year
    closed = np.zeros(cfg.n_steps, dtype=np.int64)
    if cfg.financing.closed:
        closed[:] = 1
    for y in cfg.financing.closed_years:
        closed[(y - 1) * spy : y * spy] = 1
    return gm, iopt, fopt, closed


def base_shock(cfg: Config) -> np.ndarray:
    """The no-scenario shock table (time, NSH + n_seg * NSS): zeros, NaN churn overrides.

    Stress scenarios (:mod:`engine.stress`) fill it by step; see the ``SH_*`` /
    ``SS_*`` columns in :mod:`engine._kernels`.
    """
    n_seg = len(cfg.segments)
    shock = np.zeros((cfg.n_steps, K.NSH + n_seg * K.NSS))
    for k in range(n_seg):
        shock[:, K.NSH + k * K.NSS + K.SS_CHURN_SET] = np.nan
    return shock


class _Plan:
    """Everything a block needs, built once per run."""

    def __init__(self, cfg: Config, table: ParameterTable):
        self.cfg = cfg
        self.table = table
        self.gm, self.iopt, self.fopt, self.closed = _options(cfg)
        self.shock = base_shock(cfg)
        self.drawn_specs = [table.specs[i] for i in table.drawn]
        names, spearman = correlation_setup(cfg)
        self.corr_pearson = None  # the copula's Pearson matrix (sample_parameters factors it)
        self.corr_index = None
        if names:
            pearson = check_correlation(spearman, names, repair=cfg.correlations.repair)
            self.corr_pearson = pearson
            drawn_keys = [table.keys[i] for i in table.drawn]
            self.corr_index = np.array([drawn_keys.index(n) for n in names], dtype=np.int64)

    def theta(self, block: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        draws = sample_parameters(
            self.drawn_specs,
            n,
            self.cfg.simulation.sampling,
            block_seed(self.cfg.simulation.seed, block, 0),
            self.corr_pearson,
            self.corr_index,
        )
        theta = np.empty((n, len(self.table.specs)))
        theta[:] = self.table.base_row
        if self.table.drawn:
            theta[:, self.table.drawn] = draws
        return theta, draws


def _fill_block(plan: _Plan, iopt, b: int, n: int, out, flags, draws_out, keep_out, keep_seg,
                theta_fn=None, over_cols=()) -> None:
    """Simulate block ``b`` (``n`` paths) into the given (variable, path) views.

    The one code path of a block, shared by :func:`simulate` (views of the run's
    arrays) and :func:`compute_block` (a block's own arrays), so both give the
    same bits.
    """
    theta, draws = (theta_fn or plan.theta)(b, n)
    for col, j, val in over_cols:
        theta[:, col] = val
        if j >= 0:
            draws[:, j] = val
    draws_out[:] = draws.T
    rng = np.random.default_rng(block_seed(plan.cfg.simulation.seed, b, 1))
    K.simulate_block(theta, plan.gm, iopt, plan.fopt, plan.closed, plan.shock, rng, out, flags, keep_out, keep_seg)


#: Per-process cache of plans built by :func:`compute_block`: {sha256 of the TOML text: (cfg, table, plan)}.
_PLAN_CACHE: dict = {}
_PLAN_CACHE_SIZE = 8


def _cached_plan(cfg_toml: str):
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
        hit = (cfg, table, _Plan(cfg, table))
        while len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
            _PLAN_CACHE.pop(next(iter(_PLAN_CACHE)))
        _PLAN_CACHE[key] = hit
    return hit


def compute_block(cfg_toml: str, block: int) -> dict:
    """Simulate one block of a run: a pure, picklable unit of work.

    The run is fixed by the config (its ``simulation.paths``, ``seed`` and
    ``block_size`` included), so a block computed here, on a thread, in another
    process or on another machine holds the same bits as block ``block`` of
    :func:`simulate` for that config. The parsed config and its plan are cached
    per process.

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
        ``[lo, hi)``; ``out`` ndarray(float64), (NO, n): the ``O_*`` rows of
        :mod:`engine._kernels`; ``flags`` ndarray(int8), (NL, n): the ``L_*``
        rows; ``draws`` ndarray(float64), (n_drawn, n): the drawn inputs in the
        column order of ``ParameterTable.drawn``.

    Raises
    ------
    ValueError
        ``block`` is outside the run.
    """
    cfg, table, plan = _cached_plan(cfg_toml)
    return run_one_block(cfg, table, plan, block)


def _size(nbytes: float) -> str:
    """Bytes as GiB, or MiB below 1 GiB (so a small limit does not read "0.0 GiB")."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def _result_arrays(n: int, n_steps: int = 0) -> tuple:
    """(out (NO, n), flags (NL, n) int8[, keep_out (NK, n, n_steps)]) for the kernel, rows one padding column apart.

    A block's slice of a run's arrays (``out[:, lo:hi]``) is not contiguous when
    there are several blocks but is when there is one; numba compiles one
    specialisation of the kernel per array layout, so a one-block run and a
    many-block run would each compile it (seconds). With the padding every
    slice, whole or part, has the same non-contiguous layout and the kernel is
    compiled (and cached) once. Each row stays contiguous, so it becomes a
    result variable without a copy.
    """
    out = np.empty((K.NO, n + 1))[:, :n]
    flags = np.empty((K.NL, n + 1), dtype=np.int8)[:, :n]
    if not n_steps:
        return out, flags
    return out, flags, np.empty((K.NK, n + 1, n_steps))[:, :n]


def run_one_block(cfg: Config, table: ParameterTable, plan: _Plan, block: int, theta_fn=None) -> dict:
    """Block ``block`` of the run of ``cfg`` into arrays of its own (see :func:`compute_block`).

    Raises
    ------
    ValueError
        ``block`` is outside the run.
    """
    P = cfg.simulation.paths
    B = cfg.simulation.block_size
    nblocks = math.ceil(P / B)
    if not 0 <= int(block) < nblocks:
        raise InputError(f"block {block} is outside the run's {nblocks} blocks")
    lo = int(block) * B
    hi = min(P, lo + B)
    n = hi - lo
    out, flags = _result_arrays(n)
    draws = np.empty((len(table.drawn), n))
    _fill_block(plan, plan.iopt, int(block), n, out, flags, draws,
                np.empty((K.NK, 1, 1)), np.empty((1, 1, len(cfg.segments))), theta_fn=theta_fn)
    return {"block": int(block), "lo": lo, "hi": hi, "out": out, "flags": flags, "draws": draws}


def simulate(
    cfg: Config,
    paths: Optional[int] = None,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    keep_paths: bool = False,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
    progress: Optional[Callable[[int, int], None]] = None,
    command: str = "",
    shock: Optional[np.ndarray] = None,
    overrides: Optional[dict] = None,
    theta_fn: Optional[Callable[[int, int], tuple]] = None,
):
    """Simulate ``paths`` paths of the company in ``cfg``.

    Parameters
    ----------
    cfg : Config
        A validated config (:func:`engine.load_config`).
    paths, seed : int, optional
        Override ``simulation.paths`` / ``simulation.seed``.
    threads : int, optional
        Worker threads (default: all cores). Results do not depend on it.
    keep_paths : bool
        Also return the (path, time) variables (revenue, margin, FCFF, cash, ...).
    memory_limit : int
        Bytes the kept (path, time) arrays may take; refused before allocating.
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
        ``param_<key>``; attrs as in DESIGN (seed, block size, config TOML and
        its sha256, engine version, history).

    Raises
    ------
    MemoryLimitError
        ``keep_paths`` would exceed ``memory_limit``; the message gives the
        estimate and the fix.
    """
    import xarray as xr

    from . import __version__

    if paths is not None or seed is not None:
        upd = {}
        if paths is not None:
            upd["paths"] = int(paths)
        if seed is not None:
            upd["seed"] = int(seed)
        cfg = cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update=upd)})
    P = cfg.simulation.paths
    B = cfg.simulation.block_size
    N = cfg.n_steps
    nseg = len(cfg.segments)
    if keep_paths:
        need = keep_paths_bytes(cfg, P)
        if need > memory_limit:
            raise MemoryLimitError(
                f"--keep-paths for {P:,} paths x {N} steps x {K.NK + nseg} variables needs "
                f"{_size(need)}, over the limit of {_size(memory_limit)}; "
                "lower --paths or drop --keep-paths (summary results need no (path, time) arrays)"
            )
    table = ParameterTable(cfg)
    plan = _Plan(cfg, table)
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
    nblocks = math.ceil(P / B)
    # variable-major layouts: each row becomes a result variable without a copy
    out, flags = _result_arrays(P)
    draws_all = np.empty((len(table.drawn), P))
    if keep_paths:
        keep_out = _result_arrays(P, N)[2]
        keep_seg = np.empty((P, N, nseg))
    else:
        keep_out = np.empty((K.NK, 1, 1))
        keep_seg = np.empty((1, 1, nseg))
    iopt = plan.iopt.copy()
    iopt[K.I_KEEP] = int(keep_paths)

    def run_block(b: int) -> int:
        lo = b * B
        hi = min(P, lo + B)
        ko = keep_out[:, lo:hi] if keep_paths else keep_out
        ks = keep_seg[lo:hi] if keep_paths else keep_seg
        _fill_block(plan, iopt, b, hi - lo, out[:, lo:hi], flags[:, lo:hi], draws_all[:, lo:hi], ko, ks,
                    theta_fn, over_cols)
        return hi - lo

    t0 = time.perf_counter()
    nthreads = max(1, threads or os.cpu_count() or 1)
    done = 0
    if nthreads == 1 or nblocks == 1:
        for b in range(nblocks):
            done += run_block(b)
            if progress:
                progress(done, P)
    else:
        with ThreadPoolExecutor(max_workers=min(nthreads, nblocks)) as ex:
            for n in ex.map(run_block, range(nblocks)):
                done += n
                if progress:
                    progress(done, P)
    elapsed = time.perf_counter() - t0
    return _dataset(cfg, table, out, flags, draws_all, keep_out if keep_paths else None,
                    keep_seg if keep_paths else None, elapsed, command, __version__)


_OUT_COLS = {
    "value_per_share": K.O_VPS,
    "equity_value": K.O_EQUITY,
    "pv_explicit": K.O_PV_EXPL,
    "pv_terminal": K.O_PV_TV,
    "terminal_share": K.O_TV_SHARE,
    "failure_year": K.O_FAIL_YEAR,
    "price_horizon": K.O_PRICE_H,
    "horizon_return": K.O_RET_H,
    "revenue_horizon": K.O_REV_N,
    "revenue_cagr": K.O_CAGR,
    "margin_horizon": K.O_MARGIN_N,
    "multiple_horizon": K.O_MULT_N,
    "dilution": K.O_DILUTION,
    "equity_raised": K.O_RAISED,
    "cash_horizon": K.O_CASH_N,
}

_FLAG_ROWS = {
    "failed": K.L_FAILED,
    "justified_dcf": K.L_JUST_DCF,
    "justified_market": K.L_JUST_MKT,
    "tv_clipped": K.L_TV_CLIPPED,
    "floored": K.L_FLOORED,
}

_KEEP_COLS = {
    "revenue": K.K_REVENUE,
    "growth": K.K_GROWTH,
    "churn": K.K_CHURN,
    "margin": K.K_MARGIN,
    "ebit": K.K_EBIT,
    "fcff": K.K_FCFF,
    "cash": K.K_CASH,
    "shares": K.K_SHARES,
    "multiple": K.K_MULTIPLE,
    "price": K.K_PRICE,
}


def _attrs(v, cfg):
    return {"units": units_for(v.units, cfg), "long_name": v.long_name, "description": v.description}


class NonFiniteResultError(InputError):
    """Some paths' values overflowed (inputs that make revenue, margins or the multiple explode)."""


def check_finite(out: np.ndarray) -> None:
    """Refuse results with non-finite values per share: never a silent NaN or inf in a report.

    Raises
    ------
    NonFiniteResultError
        With the number of affected paths and the inputs to look at.
    """
    bad = int(np.count_nonzero(~np.isfinite(out[K.O_VPS])))
    if bad:
        raise NonFiniteResultError(
            f"{bad:,} of {out.shape[1]:,} paths gave a non-finite value per share (overflow): the inputs make "
            "revenue, the margin or the EV/Sales multiple explode; check growth volatility and growth.today, "
            "revenue_shock.volatility and multiple.growth_beta / multiple.volatility"
        )


def _dataset(cfg, table, out, flags, draws, keep_out, keep_seg, elapsed, command, version):
    import xarray as xr

    check_finite(out)
    P = out.shape[1]
    data = {}
    for v in PATH_VARIABLES:
        if v.dtype == "bool":
            arr = flags[_FLAG_ROWS[v.name]].view(np.bool_)  # 0/1 int8 -> bool, no copy
        else:
            arr = out[_OUT_COLS[v.name]]
        data[v.name] = (v.dims, arr, _attrs(v, cfg))
    for j, col in enumerate(table.drawn):
        key = table.keys[col]
        spec = table.specs[col]
        data[param_var_name(key)] = (
            ("path",),
            draws[j],
            {"units": "1", "long_name": f"drawn input {key}", "key": key,
             "distribution": _json(spec.to_dict())},
        )
    coords = {"path": np.arange(P, dtype=np.int64)}
    if keep_out is not None:
        spy = cfg.simulation.steps_per_year
        coords["time"] = ("time", cfg.company.base_year + np.arange(1, cfg.n_steps + 1) / spy,
                          {"units": "year", "long_name": "fiscal year (end of step)"})
        coords["segment"] = ("segment", np.array([s.name for s in cfg.segments]))
        for v in KEPT_VARIABLES:
            if v.name == "segment_revenue":
                arr = keep_seg
            else:
                arr = keep_out[_KEEP_COLS[v.name]]
                if v.name == "shares" and cfg.market.per_share:
                    arr *= cfg.market.shares
            data[v.name] = (v.dims, arr, _attrs(v, cfg))
    ds = xr.Dataset(data, coords=coords)
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    toml = cfg.to_toml()
    ds.attrs = {
        "title": f"pricedin Monte Carlo valuation of {cfg.company.name}",
        "engine": "pricedin",
        "engine_version": version,
        "company": cfg.company.name,
        "seed": int(cfg.simulation.seed),
        "block_size": int(cfg.simulation.block_size),
        "paths": int(P),
        "sampling": cfg.simulation.sampling.value,
        "horizon_years": int(cfg.simulation.horizon_years),
        "steps_per_year": int(cfg.simulation.steps_per_year),
        "price": float(cfg.price),
        "value_unit": cfg.value_unit,
        "per_share": int(cfg.market.per_share),
        "reporting_currency": cfg.company.reporting_currency,
        "trading_currency": cfg.company.trading_currency,
        "fx_rate": float(cfg.company.fx_rate),
        "money_unit": cfg.company.money_unit,
        "config_toml": toml,
        "config_sha256": cfg.sha256(),
        "created": now,
        "elapsed_s": float(elapsed),
        "history": f"{now} pricedin {version}: {command or 'simulate()'}",
        "ticker": cfg.company.ticker,
        "mid_year": cfg.cost_of_capital.mid_year,
        "limited_liability": cfg.failure.limited_liability,
    }
    ds.attrs = encode_attrs(ds.attrs)
    return ds


def encode_attrs(attrs: dict) -> dict:
    """Make attrs storable in NetCDF: bool -> 0/1, None -> "", dict/list -> JSON text.

    NetCDF has no boolean, null or mapping attribute types; these encodings
    round-trip through h5netcdf unchanged.
    """
    import json

    out = {}
    for k, v in attrs.items():
        if isinstance(v, (bool, np.bool_)):
            v = int(v)
        elif v is None:
            v = ""
        elif isinstance(v, (dict, list, tuple)):
            v = json.dumps(v, default=str)
        out[k] = v
    return out


def _json(d) -> str:
    import json

    return json.dumps(d, default=str)
