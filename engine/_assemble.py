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
           "NonFiniteResultError", "RunArrays", "run_attrs"]

#: Result name -> row of the kernel's ``out`` / ``flags`` / ``keep_out`` (from the registry).
OUT_ROWS = {v.name: L.SLOTS[v.slot] for v in PATH_VARIABLES if v.dtype != "bool"}
FLAG_ROWS = {v.name: L.SLOTS[v.slot] for v in PATH_VARIABLES if v.dtype == "bool"}
KEEP_ROWS = {v.name: L.SLOTS[v.slot] for v in KEPT_VARIABLES if v.slot is not None}
YEAR_ROWS = {v.name: L.SLOTS[v.slot] for v in OBSERVED_VARIABLES if v.slot is not None}


class NonFiniteResultError(InputError):
    """Some paths' values overflowed (inputs that make revenue, margins or the multiple explode)."""


def check_finite(out: np.ndarray) -> None:
    """Refuse results with non-finite values per share: never a silent NaN or inf in a report.

    Parameters
    ----------
    out : ndarray(float64), (NO, P) or (P,)
        The kernel's rows, or the value per share row alone.

    Raises
    ------
    NonFiniteResultError
        With the number of affected paths and the inputs to look at.
    """
    vps = out[L.O_VPS] if out.ndim == 2 else out
    bad = int(np.count_nonzero(~np.isfinite(vps)))
    if bad:
        raise NonFiniteResultError(
            f"{bad:,} of {vps.size:,} paths gave a non-finite value per share (overflow): the inputs make "
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
    ds.attrs = run_attrs(cfg, P, elapsed, command, version)
    validate(ds, "the run's results")
    return ds


class _Column:
    """One per-path variable of :class:`RunArrays`: ``values`` (path,), ``dims`` ("path",), ``attrs``."""

    __slots__ = ("values", "attrs", "dims")

    def __init__(self, values, attrs):
        self.values = values
        self.attrs = attrs
        self.dims = ("path",)

    @property
    def data(self):
        return self.values

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.values, dtype=dtype)


class RunArrays:
    """A run's per-path results as plain arrays, read like its results Dataset (no xarray needed).

    What :func:`engine.simulate.simulate_arrays` returns: the report
    (:func:`engine.summary.summary_dict`) and the implied cost of capital read it through
    the part of the :class:`xarray.Dataset` interface they use (``ds[name].values``,
    ``ds[name].attrs``, ``name in ds``, ``ds.data_vars``, ``ds.sizes["path"]``, ``ds.attrs``), so
    a run that saves nothing never imports xarray, and holds only the variables asked for.
    The arrays are the kernel's own rows, the numbers bit for bit those of
    :func:`engine.simulate.simulate`.

    Parameters
    ----------
    cfg : Config
        The run's config (paths and seed set).
    table : engine._plan.ParameterTable
        Its theta layout.
    floats : dict of {str: ndarray(float64), (P,)}
        The kept float variables (by :data:`engine.variables.PATH_VARIABLES` name).
    flags : ndarray(int8), (NL, P)
        The kernel's 0/1 rows (every flag variable is kept: one byte a path each).
    draws : ndarray(float64), (n_drawn, P), or None
        The drawn inputs in ``table.drawn`` order, or None when not kept.
    attrs : dict
        :func:`run_attrs`.

    Attributes
    ----------
    data_vars : tuple of str
        The names a full results Dataset of this run would hold (per-path variables, then
        ``param_*``; no observed years), kept or not: ``name in run`` tells what the run
        computed, ``run[name]`` of a variable not kept raises :class:`~engine.errors.InternalError`,
        never a silent absence.
    sizes : dict
        ``{"path": P}``.
    """

    def __init__(self, cfg, table, floats: dict, flags: np.ndarray, draws, attrs: dict):
        self._cfg = cfg
        self._table = table
        self._floats = floats
        self._flags = flags
        self._draws = draws
        self._params = {param_var_name(table.keys[c]): j for j, c in enumerate(table.drawn)}
        self.attrs = attrs
        self.sizes = {"path": int(flags.shape[1])}
        self.data_vars = tuple(v.name for v in PATH_VARIABLES) + tuple(self._params)

    def __contains__(self, name) -> bool:
        return name in self.data_vars

    def __iter__(self):
        return iter(self.data_vars)

    def kept(self, name: str) -> bool:
        """Whether variable ``name`` was kept (readable with ``run[name]``)."""
        if name in FLAG_ROWS:
            return True
        if name in self._params:
            return self._draws is not None
        return name in self._floats

    def __getitem__(self, name: str) -> _Column:
        from .errors import InternalError

        if name not in self.data_vars:
            raise KeyError(name)
        if not self.kept(name):
            raise InternalError(f"variable {name!r} was not kept by this run (engine.simulate.simulate_arrays "
                                f"variables=...); keep it, or run engine.simulate for every variable")
        if name in self._params:
            j = self._params[name]
            col = self._table.drawn[j]
            key = self._table.keys[col]
            return _Column(self._draws[j], {"units": units_for(input_spec(key).units, self._cfg),
                                            "long_name": f"drawn input {key}", "key": key,
                                            "distribution": _json(self._table.specs[col].to_dict())})
        v = _PATH_BY_NAME[name]
        arr = self._flags[FLAG_ROWS[name]].view(np.bool_) if name in FLAG_ROWS else self._floats[name]
        return _Column(arr, _attrs(v, self._cfg))


_PATH_BY_NAME = {v.name: v for v in PATH_VARIABLES}


def run_attrs(cfg, paths: int, elapsed: float, command: str, version: str) -> dict:
    """The attrs of a run's results (encoded by :func:`encode_attrs`): the header every report reads.

    Parameters
    ----------
    cfg : Config
        The run's config (paths and seed set).
    paths : int
        P, the run's paths.
    elapsed : float
        Seconds the run took [s].
    command, version : str
        The command line and the engine version, recorded in ``history``.
    """
    P = int(paths)
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    toml = cfg.to_toml()
    attrs = {
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
    return encode_attrs(attrs)


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
