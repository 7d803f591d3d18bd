"""Reverse DCF: what today's price implies (Mauboussin & Rappaport, "Expectations Investing", 2001).

The *base case* is the deterministic model: every drawn input at its median, one
path, no noise (growth, revenue, margin and multiple shocks, churn dispersion and
the exogenous failure hazard set to 0). Three questions are solved on it:

* the constant revenue growth ``g`` (every segment on a linear fade with today =
  long run = g, churn 0, so revenue grows by exactly ``g`` a year and the CAGR over
  the horizon is ``g``) that makes value per share equal to today's price;
* separately, the margin that does so: ``margin.target`` (methods linear /
  exponential) or ``margin.variable_cost_share`` (method cost_structure);
* the market-implied forecast period (Mauboussin & Rappaport's "market-implied
  competitive advantage period"): the shortest horizon of 1..50 years over which
  the base case's value reaches today's price.

Roots are found with :func:`scipy.optimize.brentq` on a bracket located by a scan,
to a relative tolerance of 1e-12 in the unknown.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

__all__ = ["base_case_overrides", "base_value", "implied"]

#: Inputs set to 0 in the deterministic base case (noise and exogenous failure).
_NOISE_SUFFIXES = (
    "growth.volatility", "growth.volatility_long_run", "churn.dispersion", "revenue_shock.volatility",
    "revenue_shock.volatility_long_run", "revenue_shock.market_price_of_risk", "margin.noise_sd",
    "multiple.volatility", "failure.annual_probability", "market.volatility",
)


def base_case_overrides(cfg) -> dict:
    """``{key: value}``: every drawn input at its median, every noise input at 0."""
    from .simulate import ParameterTable

    t = ParameterTable(cfg)
    over = {}
    for key, spec in zip(t.keys, t.specs):
        if spec is None:
            continue
        if any(key == s or key.endswith("." + s) for s in _NOISE_SUFFIXES):
            over[key] = 0.0
        elif not spec.is_fixed:
            over[key] = float(spec.median())
    return over


def _with(cfg, horizon: Optional[int] = None, linear_fade: bool = False):
    from .config import GrowthMethod

    upd = {}
    if horizon is not None:
        upd["simulation.horizon_years"] = int(horizon)
        closed = cfg.financing.closed_years
        if any(y > horizon for y in closed):  # years past a shorter horizon are not simulated
            upd["financing.closed_years"] = [y for y in closed if y <= horizon]
    if linear_fade:
        for s in cfg.segments:
            if s.growth is not None and s.growth.method != GrowthMethod.LINEAR_FADE:
                upd[f"segments.{s.name}.growth.method"] = GrowthMethod.LINEAR_FADE.value
    return cfg.with_inputs(upd) if upd else cfg


def base_value(cfg, overrides: Optional[dict] = None) -> float:
    """Value per share [price unit] of the deterministic base case, with extra ``overrides``.

    ``overrides`` given as :class:`engine.config.SolverOverrides` (the growth search
    of :func:`implied`) may leave the inputs' ranges; others are bounds-checked.
    """
    from .config import SolverOverrides
    from .simulate import simulate

    over = base_case_overrides(cfg)
    over.update(overrides or {})
    if isinstance(overrides, SolverOverrides):
        over = SolverOverrides(over)
    ds = simulate(cfg, paths=1, threads=1, overrides=over)
    return float(ds["value_per_share"].values[0])


def _solve(f, grid, target):
    """First root of f(x) = target on a scan of ``grid``, refined by brentq; None if no sign change."""
    from scipy.optimize import brentq

    prev_x, prev_v = None, None
    for x in grid:
        v = f(x) - target
        if not math.isfinite(v):
            continue
        if v == 0:
            return float(x)
        if prev_v is not None and (prev_v < 0) != (v < 0):
            return float(brentq(lambda z: f(z) - target, prev_x, x, xtol=1e-14, rtol=1e-12, maxiter=200))
        prev_x, prev_v = x, v
    return None


def _percentile(sample, x) -> Optional[float]:
    if sample is None or x is None:
        return None
    s = np.asarray(sample, dtype=float)
    s = s[np.isfinite(s)]
    if not s.size:
        return None
    return float(100.0 * np.count_nonzero(s <= x) / s.size)


def implied(cfg, ds=None, max_horizon: int = 50) -> dict:
    """What today's price implies in the deterministic base case.

    Parameters
    ----------
    cfg : Config
        A validated config.
    ds : xarray.Dataset, optional
        A simulated run of ``cfg`` (P paths): each implied value is placed in its
        distribution (percentile [0, 100] of the implied CAGR among the paths'
        ``revenue_cagr``; of the implied margin target or variable cost share
        among that input's own draws, when it is drawn).
    max_horizon : int
        Longest horizon searched for the implied forecast period [years].

    Returns
    -------
    dict
        ``price`` and ``value_unit``; ``base_value`` (value per share of the base
        case) [value unit]; ``horizon_years``; ``growth``: {``implied_cagr``
        (fraction/year, None if no growth in [-0.9, 50] reaches the price),
        ``percentile_in_run``, ``run_median_cagr``}; ``margin``: {``input``
        (``margin.target`` or ``margin.variable_cost_share``), ``implied``
        (fraction), ``percentile_in_run`` and ``run_median`` (of the input's
        draws in the run; None when the input is fixed or no run is given),
        ``input_median`` (the config's median), ``drawn``, ``searched`` [low,
        high], ``note``};
        ``forecast_period``: {``years`` (first horizon 1..max_horizon whose value
        >= price, or None), ``value_at_years``, ``note``}; ``method`` (text).
    """
    from .config import MarginMethod, SolverOverrides

    price = float(cfg.price)
    out = {
        "price": price,
        "value_unit": cfg.value_unit,
        "horizon_years": int(cfg.simulation.horizon_years),
        "base_value": base_value(cfg),
        "method": ("deterministic base case: drawn inputs at their medians, one path, no noise; roots by "
                   "scipy.optimize.brentq; forecast period = market-implied competitive advantage period "
                   "(Mauboussin & Rappaport, Expectations Investing, 2001)"),
    }

    # ---- implied constant growth
    fade = _with(cfg, linear_fade=True)

    def v_growth(g):
        over = {}
        for s in cfg.segments:
            p = f"segments.{s.name}."
            if s.revenue_model == "market_share":  # constant share: revenue grows with the market
                over.update({p + "market.growth": g, p + "share.target": s.share.today.median()})
            else:
                over.update({p + "growth.today": g, p + "growth.long_run": g, p + "churn.rate": 0.0})
        # the search runs to 5,000% a year, beyond growth.long_run's range: a solver's what-if, not an input
        return base_value(fade, SolverOverrides(over))

    grid = np.concatenate([np.linspace(-0.9, 1.0, 39), np.linspace(1.1, 5.0, 40), np.linspace(6.0, 50.0, 45)])
    g = _solve(v_growth, grid, price)
    run_cagr = None if ds is None else np.asarray(ds["revenue_cagr"].values, dtype=float)
    out["growth"] = {
        "implied_cagr": g,
        "value_check": None if g is None else v_growth(g),
        "percentile_in_run": _percentile(run_cagr, g),
        "run_median_cagr": None if run_cagr is None else float(np.nanmedian(run_cagr)),
        "note": None if g is not None else "no constant growth in [-90%, 5000%] a year makes the base case worth "
                                           "today's price",
    }

    # ---- implied margin
    if cfg.margin.method == MarginMethod.COST_STRUCTURE:
        key = "margin.variable_cost_share"
        mgrid = np.linspace(2.0, 0.0, 41)   # value rises as the variable cost share falls
        spec = cfg.margin.variable_cost_share
    else:
        key = "margin.target"
        hi = float(cfg.margin.maximum.median())
        mgrid = np.linspace(-5.0, hi, 121)
        spec = cfg.margin.target
    # the implied value is compared with the same input's draws in the run (not with an outcome such as
    # the margin reached at the horizon, which convergence beyond the horizon and noise move)
    pname = "param_" + key.replace(".", "_")
    run = None if ds is None or pname not in ds else np.asarray(ds[pname].values, dtype=float)
    m = _solve(lambda x: base_value(cfg, {key: x}), mgrid, price)
    lo_g, hi_g = float(min(mgrid)), float(max(mgrid))
    out["margin"] = {
        "input": key,
        "implied": m,
        "value_check": None if m is None else base_value(cfg, {key: m}),
        "percentile_in_run": _percentile(run, m),
        "run_median": float(np.nanmedian(run)) if run is not None else None,
        "input_median": float(spec.median()),
        "drawn": run is not None,
        "searched": [lo_g, hi_g],
        "note": None if m is not None else (f"no value of {key} in [{lo_g:.4g}, {hi_g:.4g}] makes the base case "
                                            "worth today's price"),
    }

    # ---- implied forecast period
    years, val = None, None
    for h in range(1, int(max_horizon) + 1):
        v = base_value(_with(cfg, horizon=h))
        if v >= price:
            years, val = h, v
            break
    out["forecast_period"] = {
        "years": years,
        "value_at_years": val,
        "max_searched": int(max_horizon),
        "note": None if years is not None else f"no horizon of 1..{max_horizon} years makes the base case worth "
                                               "today's price",
    }
    return out
