"""Assemble: the kernel's arrays -> a results Dataset, from the registry (:mod:`engine.variables`).

Each per-path variable is a row of the kernel's ``out`` (float) or ``flags`` (0/1)
array, each kept variable a row of ``keep_out``; the rows are the registry's slot
numbers (:mod:`engine.model.layout`), so no name map is written twice. Drawn
inputs become ``param_<key>`` variables with their registry units.
"""

from __future__ import annotations

import datetime as _dt
import json

import numpy as np

from .errors import InputError
from .model import layout as L
from .variables import KEPT_VARIABLES, OBSERVED_VARIABLES, PATH_VARIABLES, input_spec, param_var_name, units_for, validate

__all__ = ["OUT_ROWS", "FLAG_ROWS", "KEEP_ROWS", "YEAR_ROWS", "assemble", "encode_attrs", "check_finite",
           "NonFiniteResultError"]

#: Result name -> row of the kernel's ``out`` / ``flags`` / ``keep_out`` (from the registry).
OUT_ROWS = {v.name: L.SLOTS[v.slot] for v in PATH_VARIABLES if v.dtype != "bool"}
FLAG_ROWS = {v.name: L.SLOTS[v.slot] for v in PATH_VARIABLES if v.dtype == "bool"}
KEEP_ROWS = {v.name: L.SLOTS[v.slot] for v in KEPT_VARIABLES if v.slot is not None}
YEAR_ROWS = {v.name: L.SLOTS[v.slot] for v in OBSERVED_VARIABLES if v.slot is not None}


class NonFiniteResultError(InputError):
    """Some paths' values overflowed (inputs that make revenue, margins or the multiple explode)."""


def check_finite(out: np.ndarray) -> None:
    """Refuse results with non-finite values per share: never a silent NaN or inf in a report.

    Raises
    ------
    NonFiniteResultError
        With the number of affected paths and the inputs to look at.
    """
    bad = int(np.count_nonzero(~np.isfinite(out[L.O_VPS])))
    if bad:
        raise NonFiniteResultError(
            f"{bad:,} of {out.shape[1]:,} paths gave a non-finite value per share (overflow): the inputs make "
            "revenue, the margin or the EV/Sales multiple explode; check growth volatility and growth.today, "
            "revenue_shock.volatility and multiple.growth_beta / multiple.volatility"
        )


def _attrs(v, cfg):
    return {"units": units_for(v.units, cfg), "long_name": v.long_name, "description": v.description}


def assemble(cfg, table, out, flags, draws, keep_out, keep_seg, elapsed, command, version, obs_out=None,
             obs_seg=None):
    """The results Dataset of a run.

    Parameters
    ----------
    cfg : Config
        The run's config (paths and seed set).
    table : engine._plan.ParameterTable
        Its theta layout.
    out, flags : ndarray, (NO, P) float64, (NL, P) int8
        The kernel's per-path rows.
    draws : ndarray(float64), (n_drawn, P)
        The drawn inputs, in ``table.drawn`` order.
    keep_out, keep_seg : ndarray or None
        (NK, P, time) and (P, time, segment) with ``keep_paths``, else None.
    elapsed : float
        Seconds the run took; ``command``, ``version``: recorded in the attrs.
    obs_out, obs_seg : ndarray or None
        (NY, P, year) and (P, year, segment): the observed fiscal years
        (``simulation.observed_years``); None: none.

    Returns
    -------
    xarray.Dataset
        Dims ``path`` (``year`` and ``segment`` with observed years; ``time`` and
        ``segment`` with kept paths), checked by
        :func:`engine.variables.validate`.

    Raises
    ------
    NonFiniteResultError
        A value per share is not finite.
    """
    import xarray as xr

    check_finite(out)
    P = out.shape[1]
    data = {}
    for v in PATH_VARIABLES:
        if v.dtype == "bool":
            arr = flags[FLAG_ROWS[v.name]].view(np.bool_)  # 0/1 int8 -> bool, no copy
        else:
            arr = out[OUT_ROWS[v.name]]
        data[v.name] = (v.dims, arr, _attrs(v, cfg))
    for j, col in enumerate(table.drawn):
        key = table.keys[col]
        spec = table.specs[col]
        data[param_var_name(key)] = (
            ("path",),
            draws[j],
            {"units": units_for(input_spec(key).units, cfg), "long_name": f"drawn input {key}", "key": key,
             "distribution": _json(spec.to_dict())},
        )
    coords = {"path": np.arange(P, dtype=np.int64)}
    if keep_out is not None:
        spy = cfg.simulation.steps_per_year
        coords["time"] = ("time", cfg.company.base_year + np.arange(1, cfg.n_steps + 1) / spy,
                          {"units": "year", "long_name": "fiscal year (end of step)"})
        coords["segment"] = ("segment", np.array([s.name for s in cfg.segments]))
        for v in KEPT_VARIABLES:
            if v.slot is None:
                arr = keep_seg
            else:
                arr = keep_out[KEEP_ROWS[v.name]]
                if v.name == "shares" and cfg.market.per_share:
                    arr *= cfg.market.shares
            data[v.name] = (v.dims, arr, _attrs(v, cfg))
    if obs_out is not None:
        n_years = obs_out.shape[2]
        coords["year"] = ("year", np.arange(cfg.company.base_year + 1, cfg.company.base_year + 1 + n_years,
                                            dtype=np.int64), {"units": "1", "long_name": "fiscal year"})
        coords["segment"] = ("segment", np.array([s.name for s in cfg.segments]))
        for v in OBSERVED_VARIABLES:
            arr = obs_seg if v.slot is None else obs_out[YEAR_ROWS[v.name]]
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
        "valuation_date": cfg.company.valuation_date.isoformat(),
        "base_year": int(cfg.company.base_year),
        "rate_currency": cfg.rate_currency,
        "discount_rates": cfg.discount_rates,
        "limited_liability": cfg.failure.limited_liability,
    }
    ds.attrs = encode_attrs(ds.attrs)
    validate(ds, "the run's results")
    return ds


def encode_attrs(attrs: dict) -> dict:
    """Make attrs storable in NetCDF: bool -> 0/1, None -> "", dict/list -> JSON text.

    NetCDF has no boolean, null or mapping attribute types; these encodings
    round-trip through h5netcdf unchanged.
    """
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
    return json.dumps(d, default=str)
