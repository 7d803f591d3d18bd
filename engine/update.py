"""Update a saved run on reported figures (importance weighting), and re-price it without a new run.

A run keeps every path's drawn inputs and outcomes. When the company reports a figure (revenue of a
segment for a fiscal year, the year's operating margin, ...), the paths whose simulated figure is close to
the reported one become more plausible. :func:`update` weights each path by the likelihood of the
observations under that path (importance weighting, a.k.a. likelihood weighting: the run's paths are draws
from the prior, so weights proportional to the likelihood turn averages over paths into posterior averages;
Smith & Gelfand 1992, "Bayesian statistics without tears: a sampling-resampling perspective",
The American Statistician 46(2)), and recomputes the report with those weights.

:func:`reprice` answers "and at another price?" from the stored values: both lenses, the percentile of the
price and E[value]/price, with no new simulation.

Every per-period figure is read through one function, :func:`_observed`; it reads the (path, time)
variables of a ``keep_paths`` run or, in a summary-mode run, the observed fiscal years every run keeps
(``observed_revenue``, ``observed_ebit``, ``observed_fcff``, ``observed_cash`` for the first
``simulation.observed_years`` years; :mod:`engine.variables`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ._jit import jit
from .ancestry import _ancestry_errors, _se, _wilson, ancestor_variance, resampled_proportion
from .errors import InputError, InternalError

__all__ = [
    "Observation",
    "ObservationError",
    "QUANTITIES",
    "UpdateResult",
    "Period",
    "load_observations",
    "observations_from_dict",
    "parse_period",
    "log_likelihood",
    "update",
    "updated_dataset",
    "result_from_dataset",
    "weighted_quantile",
    "weighted_proportion",
    "weighted_report",
    "ess_threshold",
    "reprice",
    "reprice_json",
    "kish_ess",
    "ancestor_variance",
    "resampled_proportion",
    "render_update",
    "render_reprice",
    "resample",
    "systematic_resample",
    "RESAMPLE_STREAM",
]

#: Quantities an observation may name: how a period's figure is formed from the kept (path, time) variables.
#: ``flow``: sum over the period's steps of (annual rate x dt), money; ``ratio``: EBIT flow / revenue flow;
#: ``stock``: the value at the end of the period's last step.
QUANTITIES = {
    "revenue": ("flow", "revenue"),
    "ebit": ("flow", "ebit"),
    "fcff": ("flow", "fcff"),
    "operating_margin": ("ratio", None),
    "cash": ("stock", "cash"),
}

#: Quantile levels of value per share in an updated report (as in :data:`engine.summary.QUANTILES`).
QUANTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)


# --------------------------------------------------------------------------- the observations file


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObservationError(_Model):
    """Measurement / reporting noise of one observation: exactly one of ``sd``, ``relative_sd``, ``log_sd``.

    ``sd`` is in the observation's unit (money unit of the reporting currency, or a fraction for a margin);
    ``relative_sd`` is a fraction of the reported value (sd = relative_sd x |value|); ``log_sd`` is the
    standard deviation of the natural log of the figure (Gaussian on the log).
    """

    sd: Optional[float] = None
    relative_sd: Optional[float] = None
    log_sd: Optional[float] = None

    @field_validator("sd", "relative_sd", "log_sd")
    @classmethod
    def _positive(cls, v, info):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ValueError(
                f"must be a finite number > 0 (the standard deviation of the reporting noise); "
                f"e.g. {info.field_name} = {0.02 if info.field_name != 'sd' else 10}"
            )
        return v

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("sd", "relative_sd", "log_sd") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of sd, relative_sd, log_sd (got {', '.join(given) or 'none'}); "
                "e.g. error = { relative_sd = 0.05 }"
            )
        return self

    @property
    def kind(self) -> str:
        """``'sd'``, ``'relative_sd'`` or ``'log_sd'``."""
        return next(k for k in ("sd", "relative_sd", "log_sd") if getattr(self, k) is not None)


class Observation(_Model):
    """One reported figure: ``quantity`` of ``segment`` (None: company total) in ``period`` = ``value``.

    ``value`` is in the config's money unit of the reporting currency for money quantities (revenue, EBIT,
    FCFF, cash) and a fraction for ``operating_margin`` (0.12 for 12%); a period's revenue, EBIT and FCFF
    are the amounts of that period (a half year's revenue for ``2026H1``, not an annual rate).
    """

    quantity: str
    segment: Optional[str] = None
    period: str
    value: float
    error: ObservationError
    currency: Optional[str] = None

    @field_validator("quantity")
    @classmethod
    def _quantity(cls, v):
        if v not in QUANTITIES:
            hint = " (the operating margin is operating_margin)" if v in ("margin", "ebit_margin") else ""
            raise ValueError(f"not a quantity the results file holds per period{hint}; use one of "
                             f"{', '.join(QUANTITIES)}")
        return v

    @field_validator("period", mode="before")
    @classmethod
    def _period_text(cls, v):
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if not isinstance(v, str):
            raise ValueError("not a period; write a fiscal year (\"2026\"), a half (\"2026H1\") or a quarter "
                             "(\"2026Q3\") as text")
        return v

    @field_validator("value")
    @classmethod
    def _finite(cls, v):
        if not math.isfinite(v):
            raise ValueError("must be a finite number (the reported figure)")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.segment is not None and self.quantity != "revenue":
            raise ValueError(f"segment = {self.segment!r} with quantity = {self.quantity!r}: the run keeps only "
                             "revenue by segment; drop segment to observe the company total")
        if self.quantity == "revenue" and self.value < 0:
            raise ValueError(f"value = {self.value:g} for revenue: revenue is never negative; give the reported "
                             "revenue (>= 0) in the config's money unit")
        if self.quantity == "operating_margin" and self.value > 1:
            raise ValueError(f"value = {self.value:g} for operating_margin: a margin is a fraction of revenue, at "
                             f"most 1 (100%); write {self.value / 100:g} for {self.value:g}%")
        k = self.error.kind
        if k == "log_sd" and not self.value > 0:
            raise ValueError(f"value = {self.value} with error.log_sd: a log-normal error needs a value > 0; "
                             "use error.sd instead")
        if k == "relative_sd" and self.value == 0:
            raise ValueError("value = 0 with error.relative_sd gives a zero standard deviation; use error.sd")
        return self

    def sd_level(self) -> float:
        """Standard deviation on the level (``sd`` or ``relative_sd x |value|``); NaN for ``log_sd``."""
        e = self.error
        if e.sd is not None:
            return float(e.sd)
        if e.relative_sd is not None:
            return float(e.relative_sd) * abs(self.value)
        return float("nan")

    def label(self) -> str:
        """A short name: ``revenue maas 2026``."""
        return " ".join(x for x in (self.quantity, self.segment, self.period) if x)


def _figure_key(o) -> tuple:
    """What an observation measures: (quantity, segment, period), the period upper-cased (``2026h1`` = ``2026H1``)."""
    d = o if isinstance(o, dict) else o.model_dump()
    return (d["quantity"], d.get("segment"), str(d["period"]).strip().upper())


def _duplicates(observations, earlier=(), what="observations") -> None:
    """Refuse a figure given twice: its likelihood would count twice (as two independent reports)."""
    seen = {_figure_key(o): f"{what}.{i}" for i, o in enumerate(earlier)} if earlier else {}
    for i, o in enumerate(observations):
        k = _figure_key(o)
        label = " ".join(str(x) for x in k if x)
        if k in seen:
            if seen[k].startswith("update_observations"):
                raise InputError(
                    f"observations.{i} ({label}) was already applied to this file (its attribute "
                    f"update_observations, entry {seen[k].rsplit('.', 1)[1]}); applying it again would count the "
                    "same report twice. Drop it, or update the original (unweighted) run with all figures")
            raise InputError(
                f"observations.{i} ({label}) repeats {seen[k]}: the same figure given twice counts as two "
                "independent reports; give each figure once (to combine two sources, give one value with "
                "the combined error)")
        seen[k] = f"observations.{i}"


class _ObservationsFile(_Model):
    observations: list[Observation]

    @field_validator("observations")
    @classmethod
    def _some(cls, v):
        if not v:
            raise ValueError("no observation is given; add at least one [[observations]] table with quantity, "
                             "period, value and error")
        return v


def observations_from_dict(data, where: str = "observations") -> list[Observation]:
    """Validate observations given as a dict ``{"observations": [{...}, ...]}`` (the parsed file).

    Raises
    ------
    InputError
        One line per problem: ``observations.<i>.<key> = value: problem; fix`` (``i`` counts from 0);
        or a figure (same quantity, segment and period) given twice.
    """
    from .config import format_validation_error

    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a table with an [[observations]] array, got {type(data).__name__}")
    try:
        out = list(_ObservationsFile.model_validate(data).observations)
    except ValidationError as e:
        msg = format_validation_error(e, data)
        if msg.startswith("invalid config:"):
            msg = f"invalid observations ({where}):" + msg[len("invalid config:"):]
        raise InputError(msg) from None
    _duplicates(out)
    return out


def load_observations(path) -> list[Observation]:
    """Read and validate an observations file (``.toml``, ``.yaml``, ``.yml``).

    The file holds an array of tables ``[[observations]]`` with keys ``quantity``, ``segment``
    (optional), ``period``, ``value``, ``error`` ({sd | relative_sd | log_sd}) and ``currency``
    (optional); see README, "Updating on reported figures".

    Raises
    ------
    InputError
        The file is missing, unreadable, or an observation is invalid (key, value and fix named).
    """
    from pathlib import Path

    from .config import read_config_file

    p = Path(path)
    hint = ("give a .toml or .yaml file of [[observations]] tables (README, \"Updating on reported figures\", "
            "shows one)")
    if not p.exists():
        raise InputError(f"observations file {str(p)!r} does not exist; {hint}")
    if p.is_dir():
        raise InputError(f"observations file {str(p)!r} is a directory; {hint}")
    if p.suffix.lower() not in (".toml", ".yaml", ".yml"):
        raise InputError(f"observations file {str(p)!r}: unknown extension {p.suffix!r}; {hint} (JSON is valid "
                         "YAML: rename a .json file to .yaml)")
    try:
        if not p.read_text(encoding="utf-8").strip():
            raise InputError(f"observations file {str(p)!r} is empty; {hint}")
    except UnicodeDecodeError:
        raise InputError(f"observations file {str(p)!r} is not UTF-8 text; {hint}") from None
    return observations_from_dict(read_config_file(p), where=str(p))


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A reporting period resolved against a run's time grid.

    Attributes
    ----------
    label : str
        As written: ``2026``, ``2026H1``, ``2026Q3``.
    start, stop : int
        The period's steps are ``time[start:stop]`` (0-based, ``stop`` exclusive).
    dt : float
        Step length [years] (1 / steps_per_year).
    end : float
        End of the period in years from the base fiscal year's end (``stop x dt``), the unit of
        ``failure_year``.
    """

    label: str
    start: int
    stop: int
    dt: float
    end: float


_PERIOD = re.compile(r"^(\d{4})(?:([HhQq])(\d))?$")


def parse_period(text: str, base_year: int, horizon_years: int, steps_per_year: int,
                 key: str = "period") -> Period:
    """Resolve ``2026`` / ``2026H1`` / ``2026Q3`` to the steps of a run.

    Fiscal year ``Y`` is the ``(Y - base_year)``-th simulated year: its steps end at
    ``base_year + k / steps_per_year``, ``k = (Y - base_year - 1) x steps_per_year + 1 ...``.
    A half needs ``steps_per_year`` even, a quarter a multiple of 4.

    Raises
    ------
    InputError
        Malformed label, a period outside years ``base_year + 1 ... base_year + horizon_years``, or
        steps too coarse for a half / quarter; naming ``key``, the value and the fix.
    """
    m = _PERIOD.match(str(text).strip())
    if not m:
        raise InputError(f"{key} = {text!r}: not a period; write a fiscal year (\"2026\"), a half (\"2026H1\") or "
                         "a quarter (\"2026Q3\")")
    year = int(m.group(1))
    k = year - base_year
    if not 1 <= k <= horizon_years:
        raise InputError(f"{key} = {text!r}: the run simulated fiscal years {base_year + 1}-{base_year + horizon_years}"
                         f" (base year {base_year}, horizon {horizon_years} years); observe a period in that range "
                         "or re-run with a config whose base year / horizon covers it")
    spy = int(steps_per_year)
    start, stop = (k - 1) * spy, k * spy
    part, idx = m.group(2), m.group(3)
    if part:
        n_parts = 2 if part.upper() == "H" else 4
        idx = int(idx)
        if not 1 <= idx <= n_parts:
            raise InputError(f"{key} = {text!r}: {'a half is H1 or H2' if n_parts == 2 else 'a quarter is Q1-Q4'}")
        if spy % n_parts:
            what = "half year" if n_parts == 2 else "quarter"
            raise InputError(f"{key} = {text!r}: the run has simulation.steps_per_year = {spy}, too coarse for a "
                             f"{what}; observe the fiscal year (\"{year}\") or re-run with steps_per_year = "
                             f"{2 if n_parts == 2 else 4} (or 12)")
        width = spy // n_parts
        start, stop = start + (idx - 1) * width, start + idx * width
    dt = 1.0 / spy
    return Period(label=str(text), start=start, stop=stop, dt=dt, end=stop * dt)


# --------------------------------------------------------------------------- what the run says


def _has_kept(ds) -> bool:
    return "revenue" in ds and "time" in ds.dims


def _has_observed(ds) -> bool:
    return "observed_ebit" in ds and "year" in ds.dims


def _keep_paths_missing(ds) -> bool:
    """True when the file holds no per-period figures: neither kept (path, time) nor observed (path, year)."""
    return not (_has_kept(ds) or _has_observed(ds))


def _observed_year(ds, period: Period, key: str = "period") -> int:
    """The index on ``year`` of a fiscal-year ``period`` of a summary-mode run.

    Raises
    ------
    InputError
        A half or quarter (only a ``keep_paths`` run has them), or a year beyond the run's
        ``simulation.observed_years``.
    """
    spy = int(round(1.0 / period.dt))
    if period.stop - period.start != spy or period.start % spy:
        raise InputError(f"{key} = {period.label!r}: a summary-mode run keeps fiscal years only (its observed "
                         "variables); observe the fiscal year, or re-run with keep_paths=True (`pricedin run "
                         "CONFIG --keep-paths --out RUN.nc`) for halves and quarters")
    y = period.start // spy
    n = int(ds.sizes["year"])
    if y >= n:
        years = np.asarray(ds["year"].values)
        kept = f"fiscal years {int(years[0])}-{int(years[-1])}" if n else "no fiscal year"
        raise InputError(f"{key} = {period.label!r}: the summary-mode run kept {kept} per path "
                         f"(simulation.observed_years = {n}); re-run with simulation.observed_years = {y + 1} "
                         "or more (at most the horizon), or with keep_paths=True")
    return y


def _observed(ds, quantity: str, segment: Optional[str], period: Period) -> np.ndarray:
    """The run's figure for one observation, per path: shape (P,), float64.

    The one place that reads per-period quantities from a results Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of a ``keep_paths`` run: (path, time) variables ``revenue``, ``ebit``, ``fcff``
        (annual rates, money/year), ``cash`` (money), and ``segment_revenue`` (path, time, segment);
        or of a summary-mode run: (path, year) variables ``observed_ebit``, ``observed_fcff``,
        ``observed_cash`` and ``observed_revenue`` (path, year, segment), money, fiscal years only.
    quantity : str
        A key of :data:`QUANTITIES`.
    segment : str or None
        Segment name (revenue only); None for the company total.
    period : Period
        From :func:`parse_period`.

    Returns
    -------
    ndarray, (P,)
        Flows: ``sum_t rate_t x dt`` over the period's steps (money, reporting currency);
        ``operating_margin``: EBIT flow / revenue flow (NaN where the revenue flow is 0);
        stocks: the value at the end of the period. After a failure the kept flows are 0; in a
        summary-mode run the years after the one a path failed in are NaN.

    Raises
    ------
    InputError
        The file holds neither (path, time) nor observed (path, year) variables; or, in a
        summary-mode run, a half or quarter, or a year beyond ``simulation.observed_years``.
    """
    if _keep_paths_missing(ds):
        raise InputError("the results file holds only per-path horizon outputs, not the per-year figures an "
                         "observation needs (it was run with simulation.observed_years = 0, or written before "
                         "observed years existed); re-run with simulation.observed_years > 0 (default 3), or "
                         "with keep_paths=True in engine.simulate (`pricedin run CONFIG --keep-paths --out "
                         "RUN.nc`), then update that file")
    kind, var = QUANTITIES[quantity]
    if not _has_kept(ds):
        y = _observed_year(ds, period)
        obs = {"revenue": "observed_revenue", "ebit": "observed_ebit", "fcff": "observed_fcff",
               "cash": "observed_cash"}

        def year_value(name, seg=None):
            if name != "revenue":
                return np.asarray(ds[obs[name]].values[:, y], dtype=np.float64)
            x = np.asarray(ds["observed_revenue"].values[:, y, :], dtype=np.float64)
            if seg is None:
                return x.sum(axis=1)
            return x[:, list(np.asarray(ds["segment"].values).astype(str)).index(seg)]

        if kind == "ratio":
            rev = year_value("revenue")
            ebit = year_value("ebit")
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(rev != 0.0, ebit / np.where(rev != 0.0, rev, 1.0), np.nan)
        if kind in ("flow", "stock"):
            return year_value(var, segment)
        raise InternalError(f"quantity kind {kind!r} has no reader")
    sl = slice(period.start, period.stop)

    def flow(name, seg=None):
        if seg is None:
            x = np.asarray(ds[name].values[:, sl], dtype=np.float64)
        else:
            j = list(np.asarray(ds["segment"].values).astype(str)).index(seg)
            x = np.asarray(ds["segment_revenue"].values[:, sl, j], dtype=np.float64)
        return x.sum(axis=1) * period.dt

    if kind == "flow":
        return flow(var, segment)
    if kind == "ratio":
        rev = flow("revenue")
        ebit = flow("ebit")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(rev != 0.0, ebit / np.where(rev != 0.0, rev, 1.0), np.nan)
    if kind == "stock":
        return np.asarray(ds[var].values[:, period.stop - 1], dtype=np.float64)
    raise InternalError(f"quantity kind {kind!r} has no reader")


def _run_grid(ds) -> tuple[int, int, int]:
    """(base_year, horizon_years, steps_per_year) of a run, from its config and attrs."""
    from .sensitivity import config_of

    cfg = config_of(ds)
    return int(cfg.company.base_year), int(cfg.simulation.horizon_years), int(cfg.simulation.steps_per_year)


def _check_against_run(ds, observations, grid) -> list[Period]:
    base_year, horizon, spy = grid
    cur = str(ds.attrs.get("reporting_currency", ""))
    segments = [str(s) for s in np.asarray(ds["segment"].values)] if "segment" in ds.coords else []
    periods = []
    for i, o in enumerate(observations):
        key = f"observations.{i}"
        if o.currency is not None and o.currency.strip().upper() != cur.upper():
            raise InputError(f"{key}.currency = {o.currency!r}: the run reports in {cur}; convert the figure to "
                             f"{cur} (in the config's money unit) and set currency = {cur!r}, or drop currency")
        if o.segment is not None and o.segment not in segments:
            near = [s for s in segments if s.lower() == o.segment.strip().lower()]
            hint = f"segment names are case-sensitive: write {near[0]!r}" if near else \
                f"use one of {', '.join(segments) or '(none kept)'}"
            raise InputError(f"{key}.segment = {o.segment!r}: not a segment of the run; {hint}, or drop segment for "
                             "the company total")
        periods.append(parse_period(o.period, base_year, horizon, spy, key=f"{key}.period"))
        if not _has_kept(ds) and _has_observed(ds):
            _observed_year(ds, periods[-1], key=f"{key}.period")
    return periods


def _alive(ds, period: Period) -> np.ndarray:
    """Paths still operating at the end of ``period`` (bool, (P,)): those that can report its figure."""
    fy = np.asarray(ds["failure_year"].values, dtype=np.float64)
    return ~(np.isfinite(fy) & (fy <= period.end + 1e-12))


def _unit_of(ds) -> str:
    return f"{ds.attrs.get('reporting_currency', '')} {ds.attrs.get('money_unit', '')}".strip()


def _check_scale(ds, observations, periods, figures, prior_w) -> None:
    """Refuse a money figure 100 times or more off the run's own figures: almost surely the wrong money unit.

    Revenue: the reported value over the run's (prior-weighted) median revenue of the period, >= 100 or
    <= 1/100. EBIT, FCFF, cash: ``|value|`` over the largest ``|figure|`` of any path, >= 100. A
    margin above 1 is refused by :class:`Observation`. Without this check a value in units instead of
    millions, with a ``relative_sd``, gets a standard deviation so wide that the update silently
    changes nothing.
    """
    unit = _unit_of(ds)
    for i, (o, per, m) in enumerate(zip(observations, periods, figures)):
        if QUANTITIES[o.quantity][0] == "ratio" or o.value == 0:
            continue
        ok = _alive(ds, per) & np.isfinite(m) & (prior_w > 0)
        if not ok.any():
            continue
        label = o.label()
        if o.quantity == "revenue":
            ref = float(weighted_quantile(m[ok], 0.5, prior_w[ok]))
            what = f"the run's median {label}"
            ratio = o.value / ref if ref > 0 else float("nan")
            off = math.isfinite(ratio) and (ratio >= 100 or ratio <= 0.01)
        else:
            ref = float(np.max(np.abs(m[ok])))
            what = f"the largest |{label}| of any path"
            ratio = abs(o.value) / ref if ref > 0 else float("nan")
            off = math.isfinite(ratio) and ratio >= 100
        if off:
            raise InputError(
                f"observations.{i}.value = {o.value:g}: {ratio:.3g} times {what} ({_fmt(ref, 'money')} {unit}). "
                f"Values are in the config's money unit ({unit}); check the unit (e.g. 2500 for 2.5 billion when "
                "the unit is million). If the figure is right, the run's inputs are far from it: revise them "
                "and run again")


def _no_path_message(ds, observations, periods, figures, prior_w) -> str:
    """Why no path is consistent: per observation, the reported value and the run's 1st-99th percentile."""
    lines = []
    for i, (o, per, m) in enumerate(zip(observations, periods, figures)):
        ok = _alive(ds, per) & np.isfinite(m) & (prior_w > 0)
        fmt = "fraction" if o.quantity == "operating_margin" else "money"
        err = ", ".join(f"{k} {v:g}" for k, v in o.error.model_dump(exclude_none=True).items())
        if not ok.any():
            lines.append(f"observations.{i} ({o.label()}): every path failed by the end of {o.period}")
            continue
        lo, hi = weighted_quantile(m[ok], [0.01, 0.99], prior_w[ok])
        lines.append(f"observations.{i} ({o.label()}) = {_fmt(o.value, fmt)} ({err}); the run's paths: "
                     f"{_fmt(float(lo), fmt)} to {_fmt(float(hi), fmt)} (1st-99th percentile, "
                     f"{int(ok.sum()):,} paths still operating)")
    return ("no path of the run is consistent with the observations (the likelihood of every path is 0 in "
            "floating point):\n  " + "\n  ".join(lines) + "\nCheck the figures and their units; an error "
            "far tighter than the gap between paths leaves no path (widen it to the real reporting noise); or "
            "re-run with more paths or inputs closer to the figures")


def log_likelihood(ds, observations) -> np.ndarray:
    """Log-likelihood of the observations under each path, shape (P,), up to a constant.

    For each observation with reported value ``y`` and the path's figure ``m`` (:func:`_observed`):

    - ``sd`` / ``relative_sd`` (Gaussian on the level, ``s = sd`` or ``relative_sd x |y|``):
      ``-0.5 ((y - m) / s)^2``;
    - ``log_sd`` (Gaussian on the log): ``-0.5 ((ln y - ln m) / log_sd)^2``, and ``-inf`` when ``m <= 0``.

    Observations are independent given the path: their log-likelihoods add. A path that failed at or
    before the end of an observed period gets ``-inf`` (likelihood 0): a company that reports the
    period's figure was still operating at its end, whatever the (partial, then 0) revenue the path kept.
    A path whose figure is undefined (a margin on zero revenue) gets ``-inf`` too.

    Raises
    ------
    InputError
        A summary-mode file, or an observation the run cannot answer (period, segment, currency).
    """
    if _keep_paths_missing(ds):
        _observed(ds, "revenue", None, Period("", 0, 0, 1.0, 0.0))  # raises the keep-paths message
    grid = _run_grid(ds)
    periods = _check_against_run(ds, observations, grid)
    P = int(ds.sizes["path"])
    ll = np.zeros(P)
    for o, per in zip(observations, periods):
        m = _observed(ds, o.quantity, o.segment, per)
        if o.error.kind == "log_sd":
            with np.errstate(divide="ignore", invalid="ignore"):
                lm = np.where(m > 0.0, np.log(np.where(m > 0.0, m, 1.0)), -np.inf)
            z = (math.log(o.value) - lm) / o.error.log_sd
        else:
            z = (o.value - m) / o.sd_level()
        with np.errstate(over="ignore", invalid="ignore"):  # a tight error: z^2 overflows to inf, likelihood 0
            term = -0.5 * z * z
        term = np.where(np.isfinite(term), term, -np.inf)
        term[~_alive(ds, per)] = -np.inf
        ll += term
    return ll


# --------------------------------------------------------------------------- weighted statistics


def weighted_quantile(x, q, w) -> np.ndarray:
    """Weighted quantiles by inverting the weighted empirical CDF.

    ``Q(q) = min{x_(k) : sum_{i <= k} w_(i) >= q sum w}`` over the values sorted ascending: the
    inverse of the weighted empirical distribution function, Hyndman & Fan (1996, "Sample quantiles in
    statistical packages", The American Statistician 50(4)) definition 1 with weights; computed by
    ``numpy.quantile(x, q, weights=w, method="inverted_cdf")``. With equal weights it is the plain
    empirical quantile (no interpolation), so it can differ from ``pricedin report``'s interpolated
    percentiles by less than the gap between neighbouring paths.

    Parameters
    ----------
    x : array_like, (P,)
        Values (any unit); NaN entries are dropped with their weights.
    q : float or array_like
        Levels in [0, 1].
    w : array_like, (P,)
        Non-negative weights, not all 0 among the finite values.

    Returns
    -------
    ndarray
        Shape of ``q``; NaN when no finite value has positive weight.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    ok = np.isfinite(x) & (w > 0)
    if not ok.any():
        return np.full(np.shape(q), np.nan)
    return np.asarray(np.quantile(x[ok], q, weights=w[ok], method="inverted_cdf"), dtype=np.float64)


def kish_ess(w) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (Kish 1965, *Survey Sampling*, section 11.7)."""
    w = np.asarray(w, dtype=np.float64)
    s = float(w.sum())
    s2 = float(np.dot(w, w))
    return s * s / s2 if s2 > 0 else 0.0


def weighted_proportion(mask, w) -> dict:
    """A weighted probability with error bars from Kish's effective sample size.

    Parameters
    ----------
    mask : array_like of bool, (P,)
        Whether each path is a hit.
    w : array_like, (P,)
        Non-negative weights (not all 0).

    Returns
    -------
    dict
        ``estimate`` p = sum(w x hit) / sum(w); ``se`` = sqrt(p (1 - p) / ESS) (NaN when p is 0 or 1: the
        plug-in formula gives a false 0 there, as in :func:`engine.summary.proportion`); ``ci95_low``,
        ``ci95_high``: the Wilson score interval (Wilson 1927, JASA 22) with n = ESS, Kish's ESS standing
        in for the estimate's own effective sample size ``p (1 - p) / Var(p)`` of Korn & Graubard (1998,
        Survey Methodology 24(2)); ``ess``. With equal weights this is :func:`engine.summary.proportion`
        (``ess`` = P).

    Notes
    -----
    Kish's ESS does not look at which paths are hits. The self-normalised importance-sampling variance
    ``sum_i w_i^2 (hit_i - p)^2`` (w summing to 1; Owen 2013, *Monte Carlo theory, methods and
    examples*, section 9.2) does; the two agree when the weights are unrelated to the hits and differ
    when the hits sit on heavy or light paths (on the README's Zhipu update, where the market lens rests on
    2 paths, Kish's standard error is 2% narrower).
    """
    w = np.asarray(w, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    s = float(w.sum())
    p = float(w[m].sum()) / s
    p = min(max(p, 0.0), 1.0)
    n = kish_ess(w)
    lo, hi = _wilson(p, n)
    return {"estimate": p, "se": _se(p, n), "ci95_low": lo, "ci95_high": hi, "ess": n}


def _wmean(x, w) -> float:
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    s = float(w[ok].sum())
    return float(np.dot(w[ok], x[ok]) / s) if s > 0 else float("nan")


def ess_threshold(paths: int) -> float:
    """Default ESS below which an update warns: ``min(1000, 0.01 x paths)``."""
    return float(min(1000.0, 0.01 * paths))


def _param_vars(ds) -> list[tuple[str, str]]:
    return [(str(n), ds[n].attrs.get("key", str(n)[len("param_"):])) for n in ds.data_vars
            if str(n).startswith("param_")]


def weighted_report(ds, w) -> dict:
    """The headline numbers of a run with path weights ``w``.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (dim ``path``, P paths).
    w : array_like, (P,)
        Non-negative path weights (any scale; ones give the unweighted run).

    Returns
    -------
    dict
        ``ess`` (Kish), ``value_per_share`` {mean, sd, se_mean (= sd / sqrt(ESS)), p1 ... p99}
        [value unit, weighted quantiles of :func:`weighted_quantile`], ``p_justified`` {dcf, market}
        (:func:`weighted_proportion`), ``price_percentile`` [%] (weighted share of paths valued below
        the price), ``fair_value_ratio`` (weighted E[value per share] / price), ``failed_share``,
        ``median_revenue_cagr``, ``median_horizon_return``, ``inputs`` {key: weighted median of each
        drawn input}.
    """
    w = np.asarray(w, dtype=np.float64)
    price = float(ds.attrs["price"])
    v = np.asarray(ds["value_per_share"].values, dtype=np.float64)
    sw = float(w.sum())
    mean = float(np.dot(w, v) / sw)
    sd = math.sqrt(max(float(np.dot(w, (v - mean) ** 2) / sw), 0.0))
    ess = kish_ess(w)
    qs = weighted_quantile(v, np.array(QUANTILES) / 100.0, w)
    vps = {"mean": mean, "sd": sd, "se_mean": sd / math.sqrt(ess) if ess > 0 else float("nan")}
    vps.update({f"p{q}": float(x) for q, x in zip(QUANTILES, qs)})
    return {
        "ess": ess,
        "value_per_share": vps,
        "p_justified": {"dcf": weighted_proportion(ds["justified_dcf"].values, w),
                        "market": weighted_proportion(ds["justified_market"].values, w)},
        "price_percentile": float(100.0 * w[v < price].sum() / sw),
        "fair_value_ratio": mean / price,
        "failed_share": float(w[np.asarray(ds["failed"].values, dtype=bool)].sum() / sw),
        "median_revenue_cagr": float(weighted_quantile(ds["revenue_cagr"].values, 0.5, w)),
        "median_horizon_return": float(weighted_quantile(ds["horizon_return"].values, 0.5, w)),
        "inputs": {key: float(weighted_quantile(ds[name].values, 0.5, w)) for name, key in _param_vars(ds)},
    }


# --------------------------------------------------------------------------- the update


#: Headline rows of the "what changed" table: (label, path into the report dict, format).
_HEADLINES = (
    ("mean value per share", ("value_per_share", "mean"), "money"),
    ("median value per share", ("value_per_share", "p50"), "money"),
    ("5th percentile", ("value_per_share", "p5"), "money"),
    ("95th percentile", ("value_per_share", "p95"), "money"),
    ("P(justified), DCF lens", ("p_justified", "dcf", "estimate"), "probability"),
    ("P(justified), market lens", ("p_justified", "market", "estimate"), "probability"),
    ("percentile of today's price", ("price_percentile",), "percentile"),
    ("E[value] / price", ("fair_value_ratio",), "multiple"),
    ("failed paths (share)", ("failed_share",), "fraction"),
    ("median revenue CAGR over the horizon", ("median_revenue_cagr",), "fraction"),
    ("median holder return to the horizon", ("median_horizon_return",), "fraction"),
)


@dataclass
class UpdateResult:
    """The outcome of :func:`update`.

    Attributes
    ----------
    weights : ndarray, (P,)
        Normalised importance weights (sum 1), the posterior probability of each path.
    log_likelihood : ndarray, (P,)
        Log-likelihood of the observations per path (``-inf``: excluded), up to a constant; NaN when the
        result was rebuilt from a saved file.
    observations : list of dict
        The observations as given, each with ``prior_median`` / ``posterior_median`` of the run's figure.
    ess : float
        Kish's effective sample size of ``weights``.
    ess_threshold : float
        The ESS below which ``warning`` is set.
    prior, posterior : dict
        :func:`weighted_report` with the prior (equal, or the file's earlier) weights and the posterior ones.
    changes : list of dict
        The "what changed" rows: {``what``, ``kind`` ('headline' | 'observed' | 'input'), ``format``,
        ``prior``, ``posterior``}.
    warning : str or None
        Set when ``ess < ess_threshold``.
    header : dict
        Company, currency, value unit, price, paths, seed (:func:`engine.summary.report_header`), and
        ``figure_unit``: the unit of reported money figures (reporting currency and money unit, "CNY million");
        ``earlier_observations`` (count) when the file was updated before (then ``prior`` is that update).
    resample : dict or None
        Set by :func:`resample` (see there): then ``posterior`` is the report of the re-simulated,
        equally weighted sample, ``weights`` are ``1 / P`` and ``ess`` is the pooled importance sample's.
    """

    weights: np.ndarray
    log_likelihood: np.ndarray
    observations: list
    ess: float
    ess_threshold: float
    prior: dict
    posterior: dict
    changes: list
    warning: Optional[str]
    header: dict = field(default_factory=dict)
    resample: Optional[dict] = None

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text, non-finite numbers as null."""
        return json.dumps(_json_ready(self.to_dict()), indent=2)

    def to_dict(self) -> dict:
        """JSON-ready dict (the ``pricedin update --json`` output); weights are not included."""
        d = {**self.header, "observations": self.observations, "ess": self.ess,
             "ess_threshold": self.ess_threshold, "ess_warning": self.warning, "prior": self.prior,
             "posterior": self.posterior, "changes": self.changes}
        if self.resample is not None:
            d["resample"] = self.resample
        return d


def _json_ready(obj):
    """NaN / inf -> None, numpy scalars -> Python numbers, recursively (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def reprice_json(r: dict) -> str:
    """:func:`reprice`'s result as indented JSON text (non-finite numbers as null)."""
    return json.dumps(_json_ready(r), indent=2)


def _get(d, path):
    for p in path:
        d = d[p]
    return d


def _build_result(ds, observations_dicts, periods_obs, prior_w, post_w, ll, threshold, post_ds=None,
                  post_figures=None) -> UpdateResult:
    """The update report; ``post_ds`` / ``post_figures``: a posterior sample of its own (``--resample``)."""
    from .summary import report_header

    P = int(ds.sizes["path"])
    prior = weighted_report(ds, prior_w)
    post = weighted_report(ds if post_ds is None else post_ds, post_w)
    ess = post["ess"]
    thr = ess_threshold(P) if threshold is None else float(threshold)
    changes = [{"what": label, "kind": "headline", "format": fmt, "prior": _get(prior, path),
                "posterior": _get(post, path)} for label, path, fmt in _HEADLINES]
    obs_out = []
    for i, (od, m) in enumerate(zip(observations_dicts, periods_obs)):
        pm = float(weighted_quantile(m, 0.5, prior_w))
        qm = float(weighted_quantile(m if post_figures is None else post_figures[i], 0.5, post_w))
        obs_out.append({**od, "prior_median": pm, "posterior_median": qm})
        fmt = "fraction" if od["quantity"] == "operating_margin" else "money"
        label = " ".join(str(x) for x in (od["quantity"], od.get("segment"), od["period"]) if x)
        changes.append({"what": f"{label} (reported {_fmt(od['value'], fmt)})", "kind": "observed", "format": fmt,
                        "prior": pm, "posterior": qm})
    from .summary import _input_formats

    formats = _input_formats(ds)  # fractions as %, multiples as x, as the report's tables show drawn inputs
    for key in prior["inputs"]:
        changes.append({"what": key, "kind": "input", "format": formats.get(key, "number"),
                        "prior": prior["inputs"][key], "posterior": post["inputs"][key]})
    warning = None
    if ess < thr:
        warning = (f"effective sample size {ess:,.1f} of {P:,} paths is below {thr:,.0f}: the reported figures are "
                   "surprising under the run's assumptions, and the updated numbers rest on a handful of paths. "
                   "Check the figures and their units; resample (`pricedin update --resample`, engine.update."
                   "resample: pool further prior paths to a target ESS, then re-simulate the resampled paths "
                   "from the observation date), re-run with more paths (and --keep-paths), or revise the "
                   "config's inputs toward the reported figures and run again; a wider error only if the "
                   "reporting noise really is larger")
    return UpdateResult(weights=post_w, log_likelihood=ll, observations=obs_out, ess=ess, ess_threshold=thr,
                        prior=prior, posterior=post, changes=changes, warning=warning,
                        header={**report_header(ds.attrs, P), "figure_unit": _unit_of(ds)})


def _prior_weights(ds) -> np.ndarray:
    P = int(ds.sizes["path"])
    if "weight" in ds:
        w = np.asarray(ds["weight"].values, dtype=np.float64)
        if w.shape != (P,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise InputError("the results file's weight variable is not a set of non-negative finite weights; the "
                             "file is damaged or was edited; update the original run again")
        return w / w.sum()
    return np.full(P, 1.0 / P)


def update(ds, observations, ess_threshold: Optional[float] = None) -> UpdateResult:
    """Weight a run's paths by the likelihood of reported figures; recompute its report.

    ``w_i`` is proportional to ``prior_i x L_i`` with ``L_i`` the likelihood of the observations under
    path ``i`` (:func:`log_likelihood`) and ``prior_i`` equal (or the file's ``weight`` when it was
    updated before: updates compose). The weights are formed in log space,
    ``w_i = exp(l_i - logsumexp(l))`` (``scipy.special.logsumexp``), so a tight error does not underflow.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of a run (:func:`engine.simulate` or :func:`engine.summary.open_results`): a
        ``keep_paths`` run answers any period; a summary-mode run the fiscal years it observed
        (``simulation.observed_years``, default 3).
    observations : list of Observation or dict
        Validated observations, or ``{"observations": [...]}`` as parsed from a file.
    ess_threshold : float, optional
        ESS below which the result carries a warning; default ``min(1000, 0.01 x paths)``.

    Returns
    -------
    UpdateResult

    Raises
    ------
    InputError
        A file without per-period figures, a half, quarter or year a summary-mode run did not observe
        (naming keep_paths or simulation.observed_years), an observation the run cannot answer (key, value, fix),
        a figure given twice or already applied to this file (``update_observations``), a money figure
        100 times or more off the run's own (the wrong money unit), a stress file, or observations no
        path is consistent with (each observation's value is then shown beside the run's range).
    """
    from scipy.special import logsumexp

    if isinstance(observations, dict):
        observations = observations_from_dict(observations)
    if not observations:
        raise InputError("observations: none given; give at least one [[observations]] table")
    if "scenario" in ds.dims:
        raise InputError("a stress file (one run per scenario) cannot be updated; update the results of "
                         "`pricedin run CONFIG --keep-paths --out RUN.nc`")
    _duplicates(observations)
    earlier = []
    if "weight" in ds or "update_observations" in ds.attrs:  # an updated or a resampled file
        try:
            earlier = json.loads(ds.attrs.get("update_observations", "[]") or "[]")
        except json.JSONDecodeError:
            earlier = []
        if isinstance(earlier, list) and all(isinstance(e, dict) and {"quantity", "period"} <= set(e)
                                             for e in earlier):
            _duplicates(observations, earlier, what="update_observations")
        else:
            earlier = []
    prior_w = _prior_weights(ds)
    if _keep_paths_missing(ds):
        _observed(ds, "revenue", None, Period("", 0, 0, 1.0, 0.0))  # raises the keep-paths message
    grid = _run_grid(ds)
    periods = _check_against_run(ds, observations, grid)
    figures = [_observed(ds, o.quantity, o.segment, p) for o, p in zip(observations, periods)]
    _check_scale(ds, observations, periods, figures, prior_w)
    ll = log_likelihood(ds, observations)
    with np.errstate(divide="ignore"):
        lpost = ll + np.log(prior_w)
    if not np.isfinite(lpost).any():
        raise InputError(_no_path_message(ds, observations, periods, figures, prior_w))
    w = np.exp(lpost - logsumexp(lpost))
    w = w / w.sum()
    dicts = [o.model_dump(exclude_none=True) for o in observations]
    r = _build_result(ds, dicts, figures, prior_w, w, ll, ess_threshold)
    if earlier:
        r.header["earlier_observations"] = len(earlier)  # "before" is that earlier update, not the plain run
    return r


def updated_dataset(ds, result: UpdateResult):
    """The run plus a ``weight`` variable on ``path`` and attrs recording the update.

    Attrs added: ``update_observations`` (JSON list of every observation applied so far),
    ``update_ess`` (Kish ESS of the weights); ``history`` gets a line.

    Returns
    -------
    xarray.Dataset
        A shallow copy of ``ds``; ``weight`` (path,) float64 sums to 1.
    """
    import datetime as _dt

    out = ds.copy()
    out["weight"] = (("path",), np.asarray(result.weights, dtype=np.float64),
                     {"units": "1", "long_name": "importance weight",
                      "description": "posterior probability of the path given the observations in the "
                                     "update_observations attribute (sums to 1); reports use it"})
    earlier = json.loads(ds.attrs.get("update_observations", "[]") or "[]")
    applied = earlier + [{k: v for k, v in o.items() if k not in ("prior_median", "posterior_median")}
                         for o in result.observations]
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    out.attrs = dict(ds.attrs)
    out.attrs["update_observations"] = json.dumps(applied)
    out.attrs["update_ess"] = float(result.ess)
    out.attrs["history"] = f"{ds.attrs.get('history', '')}\n{now} pricedin update: {len(result.observations)} " \
                           f"observation(s), ESS {result.ess:.1f}".lstrip("\n")
    return out


def result_from_dataset(ds, ess_threshold: Optional[float] = None) -> UpdateResult:
    """Rebuild the update report of a file written by ``pricedin update`` (prior: the unweighted run).

    Raises
    ------
    InputError
        The file has no ``weight`` variable, or it is damaged.
    """
    if "weight" not in ds:
        raise InputError("the results file has no weight variable; it was not written by `pricedin update`")
    w = _prior_weights(ds)
    P = int(ds.sizes["path"])
    try:
        applied = observations_from_dict({"observations": json.loads(ds.attrs.get("update_observations", "[]"))})
    except (InputError, json.JSONDecodeError):
        applied = []
    dicts, figures = [], []
    if applied and not _keep_paths_missing(ds):
        grid = _run_grid(ds)
        periods = _check_against_run(ds, applied, grid)
        figures = [_observed(ds, o.quantity, o.segment, p) for o, p in zip(applied, periods)]
        dicts = [o.model_dump(exclude_none=True) for o in applied]
    return _build_result(ds, dicts, figures, np.full(P, 1.0 / P), w, np.full(P, np.nan), ess_threshold)


# --------------------------------------------------------------------------- resampling (sequential Monte Carlo)


#: First spawn-key element of the resampling stream: the systematic-resampling uniform of generation ``g`` is
#: drawn from ``SeedSequence(seed, spawn_key=(RESAMPLE_STREAM, g))``. Blocks use ``spawn_key=(block, stream)``
#: with ``block < 2**32`` (a run's block count), so this stream never meets a block's.
RESAMPLE_STREAM = 2**32 + 14


def systematic_resample(weights, n: int, u: float) -> np.ndarray:
    """Systematic resampling: ``n`` ancestor indices from the weights and one uniform.

    Ancestor ``k`` (k = 0 ... n - 1) is the index ``i`` with ``C_{i-1} <= (u + k) / n < C_i``, ``C`` the
    normalised cumulative weights (Kitagawa 1996, "Monte Carlo filter and smoother for non-Gaussian
    nonlinear state space models", JCGS 5(1); Douc, Cappé & Moulines 2005, "Comparison of resampling
    schemes for particle filtering", ISPA). Index ``i`` appears ``floor(n w_i)`` or ``ceil(n w_i)`` times
    (``w`` normalised), so the resampled set adds less noise than multinomial resampling.

    Parameters
    ----------
    weights : array_like, (M,)
        Non-negative finite weights, not all 0 (any scale).
    n : int
        Number of ancestors to draw, >= 1.
    u : float
        The uniform, in [0, 1).

    Returns
    -------
    ndarray(int64), (n,)
        Ancestor indices into ``weights``, ascending.

    Raises
    ------
    InputError
        Negative, non-finite or all-zero weights; ``n`` < 1; ``u`` outside [0, 1).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not w.size or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise InputError("weights: expected a 1-d array of non-negative finite numbers, not all 0")
    if int(n) < 1:
        raise InputError(f"n = {n}: the number of ancestors to draw must be >= 1")
    if not 0.0 <= float(u) < 1.0:
        raise InputError(f"u = {u}: the systematic-resampling uniform must lie in [0, 1)")
    cdf = np.cumsum(w)
    cdf = cdf / cdf[-1]
    pos = (float(u) + np.arange(int(n))) / int(n)
    return np.minimum(np.searchsorted(cdf, pos, side="right"), w.size - 1).astype(np.int64)


def _resimulate(plan, theta, ids, fresh_ids, switch_step: int, generation: int) -> dict:
    """The one call that re-simulates paths from the observation date (:func:`engine._run.resimulate`).

    Paths with parameters ``theta`` (n, n_columns) replay the shocks of global path ids ``ids`` for steps
    ``t <= switch_step`` (steps counted from 1: fiscal year ``k`` of the run ends at step ``k x steps_per_year``)
    and draw fresh shocks of ``generation`` with ids ``fresh_ids`` after; returns
    ``{"out": (NO, n), "flags": (NL, n), "obs_out", "obs_seg"}``.
    """
    try:
        from ._run import resimulate
    except ImportError:
        raise InternalError("engine._run.resimulate is missing: this build draws no counter-based shocks, so a "
                            "path cannot be re-simulated from the observation date; this is a bug") from None
    return resimulate(plan, theta, ids, fresh_ids=fresh_ids, switch_step=int(switch_step),
                      generation=int(generation), observed=True)


class _PooledESS:
    """Kish's ESS of a growing set of log-weights, by running sums rescaled at each new maximum."""

    def __init__(self):
        self.m, self.s1, self.s2 = -np.inf, 0.0, 0.0

    def add(self, ll) -> float:
        ll = np.asarray(ll, dtype=np.float64)
        top = float(np.max(ll)) if ll.size else -np.inf
        if top > self.m:
            if np.isfinite(self.m):
                self.s1 *= math.exp(self.m - top)
                self.s2 *= math.exp(2.0 * (self.m - top))
            self.m = top
        if np.isfinite(self.m):
            e = np.exp(ll - self.m)
            self.s1 += float(e.sum())
            self.s2 += float(np.dot(e, e))
        return self.s1 * self.s1 / self.s2 if self.s2 > 0 else 0.0


def _resample_checks(ds, observations, target_ess, max_paths):
    """Validate a resampling request; returns (plain run, all observations, earlier count, target, cap)."""
    P = int(ds.sizes["path"])
    if "scenario" in ds.dims:
        raise InputError("a stress file (one run per scenario) cannot be resampled; resample the results of "
                         "`pricedin run CONFIG --out RUN.nc`")
    if "resample_generation" in ds.attrs:
        raise InputError(f"the results file is already a resampled posterior (generation "
                         f"{ds.attrs['resample_generation']}): its paths are no longer prior draws, so the prior "
                         "sample cannot be grown from it. Resample the original run with every figure (those in "
                         "its update_observations attribute and the new ones), or update this file without "
                         "resampling")
    if not _has_observed(ds) or int(ds.sizes.get("year", 0)) == 0:
        raise InputError("resampling needs the observed fiscal years every run keeps per path (the pooled prior "
                         "paths are weighted on them), and this run kept none (simulation.observed_years = 0, or "
                         "a file written before observed years existed); re-run with simulation.observed_years > 0 "
                         "(default 3) covering the reported years, then resample that file")
    if target_ess is None:
        target = ess_threshold(P)
    else:
        try:
            target = float(target_ess)
        except (TypeError, ValueError):
            target = float("nan")
        if not (math.isfinite(target) and target > 0):
            raise InputError(f"target_ess = {target_ess!r}: must be a number > 0, the effective sample size the "
                             f"pooled prior paths should reach; e.g. target_ess = {max(1.0, ess_threshold(P)):g} "
                             f"(the default, min(1000, 1% of the run's {P:,} paths))")
    if max_paths is None:
        cap = 20 * P
    else:
        try:
            cap = int(max_paths)
        except (TypeError, ValueError):
            cap = -1
        if cap < P or cap != max_paths:
            raise InputError(f"max_paths = {max_paths!r}: must be a whole number >= the run's {P:,} paths (the pool "
                             f"starts with them); e.g. max_paths = {20 * P} (the default, 20 x the run's paths)")
    if target > cap:
        raise InputError(f"target_ess = {target:g} is above max_paths = {cap:,}: the ESS of N paths is at most N; "
                         f"raise max_paths or lower target_ess")
    earlier = []
    if "weight" in ds:  # an updated file: pool on the plain run with every figure, earlier and new
        try:
            raw = json.loads(ds.attrs.get("update_observations", "[]") or "[]")
            earlier = observations_from_dict({"observations": raw}) if raw else []
        except (InputError, json.JSONDecodeError):
            raise InputError("the results file's update_observations attribute is damaged; resample the original "
                             "run with every figure") from None
        _duplicates(observations, [o.model_dump() for o in earlier], what="update_observations")
    plain = ds.drop_vars("weight") if "weight" in ds else ds.copy()
    plain.attrs = {k: v for k, v in ds.attrs.items() if k not in ("update_observations", "update_ess")}
    if _has_kept(plain):
        plain = plain.drop_dims("time")  # read the observed years, as for the pooled paths
    n_years = int(plain.sizes["year"])
    grid = _run_grid(plain)
    every = list(earlier) + list(observations)
    for i, o in enumerate(every):
        key = f"observations.{i - len(earlier)}" if i >= len(earlier) else f"update_observations.{i}"
        per = parse_period(o.period, *grid, key=f"{key}.period")
        spy = grid[2]
        if per.stop - per.start != spy or per.stop // spy > n_years:
            raise InputError(f"{key}.period = {o.period!r}: resampling weighs paths on the fiscal years every run "
                             f"keeps (simulation.observed_years = {n_years}: {grid[0] + 1}-{grid[0] + n_years}); "
                             "observe a whole fiscal year among them, or re-run with a larger "
                             "simulation.observed_years")
    return plain, every, len(earlier), target, cap


def resample(ds, observations, target_ess: Optional[float] = None, max_paths: Optional[int] = None,
             threads: Optional[int] = None, command: str = ""):
    """Condition a run on reported figures by sequential Monte Carlo: grow, weight, resample, re-simulate.

    Importance weights (:func:`update`) leave the posterior carried by the few paths close to a
    surprising figure. This step (one step of a sequential Monte Carlo sampler; Del Moral, Doucet &
    Jasra 2006, "Sequential Monte Carlo samplers", JRSS B 68(3)):

    1. **Grow the prior sample.** The run's paths (global ids ``0 ... P-1``) are pooled with further
       prior paths of the same config and seed: blocks ``b = ceil(P / B), ...`` of ``simulation.block_size``
       ``B`` paths (global ids ``b B ...``, parameters ``plan.theta(b, n)``, so they are the paths a longer
       run would hold; the last block is cut at ``max_paths``), each weighted by the likelihood of the
       observations (:func:`log_likelihood`), until the pooled Kish ESS reaches ``target_ess`` (block by
       block, in order: the stop does not depend on ``threads``) or the pool reaches ``max_paths``.
    2. **Resample** ``P`` ancestors from the pooled weights (:func:`systematic_resample`, its uniform from
       ``SeedSequence(seed, spawn_key=(RESAMPLE_STREAM, 1))``).
    3. **Re-simulate** each from the observation date: its ancestor's parameters and, up to the last step of
       the last observed period, its ancestor's own shocks (so every observed figure is the ancestor's,
       bit for bit); fresh shocks of generation 1 (ids ``0 ... P-1``) after it.

    The result is an equally weighted posterior sample of ``P`` paths. On a file written by
    :func:`updated_dataset` the pool is weighted on the figures applied earlier and the new ones together.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results with observed fiscal years (``simulation.observed_years`` > 0), not resampled before.
    observations : list of Observation or dict
        As for :func:`update`; whole fiscal years within the run's observed years.
    target_ess : float, optional
        Pooled Kish ESS to reach, > 0; default :func:`ess_threshold` of the run's paths (``min(1000, 0.01 P)``).
    max_paths : int, optional
        Most paths in the pool (the run's included), >= P; default ``20 P``.
    threads : int, optional
        Worker threads for the pooled and re-simulated blocks (default: all cores); results do not depend on it.
    command : str
        The command line recorded in the ``history`` attribute.

    Returns
    -------
    (UpdateResult, xarray.Dataset)
        The report (``prior``: the run; ``posterior``: the resampled sample, equally weighted; ``ess``: the
        pooled ESS; ``weights``: ``1 / P``; ``warning`` when the pool stopped at ``max_paths`` short of the
        target; ``resample``: ``generation``, ``target_ess``, ``max_paths``, ``run_ess`` (the run's own ESS),
        ``pooled_paths``, ``pooled_ess``, ``stopped_by`` ('target_ess' or 'max_paths'), ``distinct_ancestors``,
        ``switch_step`` (the last replayed step, counted from 1), ``replayed_to`` (the fiscal year it ends),
        ``earlier_observations``) and the resampled run: the variables of a summary-mode run (dim ``path``,
        ``P``; the observed years) plus ``ancestor`` (path,) int64, each path's ancestor's global id, and attrs
        ``update_observations``, ``update_ess`` (the pooled ESS), ``resample_generation`` (1),
        ``resample_pooled_paths``, ``resample_target_ess``, ``resample_stopped_by``, ``resample_switch_step``.
        It has no ``weight`` variable: every path weighs 1 / P.

    Raises
    ------
    InputError
        Everything :func:`update` refuses; a run without observed years; a half, quarter or year beyond the
        observed years; a file resampled before; ``target_ess`` not > 0; ``max_paths`` below the run's paths
        or below ``target_ess``.
    """
    import time

    from . import __version__
    from ._assemble import assemble
    from ._plan import Plan, ParameterTable
    from ._run import fill_block, observed_arrays, result_arrays, run_tasks
    from .model import layout as L
    from .sensitivity import config_of
    from .variables import param_var_name

    t0 = time.perf_counter()
    if isinstance(observations, dict):
        observations = observations_from_dict(observations)
    observations = list(observations)
    if not observations:
        raise InputError("observations: none given; give at least one [[observations]] table")
    _duplicates(observations)
    plain, every, n_earlier, target, cap = _resample_checks(ds, observations, target_ess, max_paths)
    r0 = update(plain, every, ess_threshold=target)  # validates; the run's own weights
    P = int(plain.sizes["path"])
    cfg = config_of(plain)
    table = ParameterTable(cfg)
    plan = Plan(cfg, table)
    B = int(cfg.simulation.block_size)
    nseg = len(cfg.segments)
    first = -(-P // B)

    # 1. grow the prior sample, block by block, until the target ESS or the cap
    def pooled_block(b: int, n: int) -> np.ndarray:
        out, flags = result_arrays(n)
        draws = np.empty((len(table.drawn), n))
        obs_out, obs_seg = observed_arrays(n, cfg.n_observed_years, nseg)
        fill_block(plan, plan.iopt, b, n, out, flags, draws, np.empty((L.NK, 1, 1)), np.empty((1, 1, nseg)),
                   obs_out=obs_out, obs_seg=obs_seg)
        part = assemble(cfg, table, out, flags, draws, None, None, 0.0, "", __version__, obs_out, obs_seg)
        return log_likelihood(part, every)

    pool = _PooledESS()
    ess = pool.add(r0.log_likelihood)
    lls, blocks = [r0.log_likelihood], []  # blocks: (block, paths) pooled, in order
    n_pool = P
    nxt = first
    while ess < target and n_pool < cap:
        # about the paths the target needs at the ESS per path so far, at most doubling the pool a round
        want = n_pool * (target / ess - 1.0) if ess > 0 else float(cap)
        sizes, room, b = [], cap - n_pool, nxt
        while room > 0 and sum(n for _, n in sizes) < min(max(want, 1.0), n_pool):
            sizes.append((b, min(B, room)))
            room -= sizes[-1][1]
            b += 1
        got = dict(run_tasks(pooled_block, sizes, threads=threads))
        for i, (b, n) in enumerate(sizes):
            lls.append(got[i])
            blocks.append((b, n))
            n_pool += n
            nxt = b + 1
            ess = pool.add(got[i])
            if ess >= target:
                break
    stopped_by = "target_ess" if ess >= target else "max_paths"
    ll = np.concatenate(lls)
    ids = np.concatenate([np.arange(P, dtype=np.int64)] + [b * B + np.arange(n, dtype=np.int64) for b, n in blocks])
    from scipy.special import logsumexp

    w = np.exp(ll - logsumexp(ll))
    pooled_ess = kish_ess(w)

    # 2. resample P ancestors
    generation = 1
    rng = np.random.default_rng(np.random.SeedSequence(int(cfg.simulation.seed),
                                                       spawn_key=(RESAMPLE_STREAM, generation)))
    pick = systematic_resample(w, P, float(rng.random()))
    ancestors = ids[pick]
    theta = np.empty((P, len(table.specs)))
    theta[:] = table.base_row
    in_run = pick < P
    if table.drawn:
        stored = np.stack([np.asarray(plain[param_var_name(table.keys[c])].values, dtype=np.float64)
                           for c in table.drawn])  # (n_drawn, P): the run's draws
        theta[np.ix_(np.flatnonzero(in_run), table.drawn)] = stored[:, pick[in_run]].T
        sizes_of = dict(blocks)
        for b in np.unique(ancestors[~in_run] // B):
            rows = np.flatnonzero(~in_run & (ancestors // B == b))
            tb, _ = plan.theta(int(b), sizes_of[int(b)])
            theta[rows] = tb[ancestors[rows] - int(b) * B]
    draws = np.ascontiguousarray(theta[:, table.drawn].T)

    # 3. re-simulate from the observation date, in chunks of a block (counter-based shocks: chunks do not matter)
    grid = _run_grid(plain)
    periods = [parse_period(o.period, *grid) for o in every]
    switch = max(p.stop for p in periods)  # the last step of the last observed period, counted from 1
    out, flags = result_arrays(P)
    obs_out, obs_seg = observed_arrays(P, cfg.n_observed_years, nseg)
    chunks = [(lo, min(P, lo + B)) for lo in range(0, P, B)]

    def chunk(lo: int, hi: int) -> dict:
        return _resimulate(plan, theta[lo:hi].copy(), ancestors[lo:hi], np.arange(lo, hi, dtype=np.int64), switch,
                           generation)

    for i, res in run_tasks(chunk, chunks, threads=threads):
        lo, hi = chunks[i]
        out[:, lo:hi] = res["out"]
        flags[:, lo:hi] = res["flags"]
        if obs_out is not None:
            obs_out[:, lo:hi] = res["obs_out"]
            obs_seg[lo:hi] = res["obs_seg"]
    new = assemble(cfg, table, out, flags, draws, None, None, time.perf_counter() - t0, command, __version__,
                   obs_out, obs_seg)
    new["ancestor"] = (("path",), ancestors, {
        "units": "1", "long_name": "ancestor's global path id",
        "description": "the pooled prior path this path was resampled from (the run's paths are 0 ... P-1, further "
                       "prior paths b x block_size ...); its shocks up to step resample_switch_step (counted from 1) are replayed"})
    dicts = [o.model_dump(exclude_none=True) for o in every]
    figures = [_observed(plain, o.quantity, o.segment, p) for o, p in zip(every, periods)]
    post_figures = [_observed(new, o.quantity, o.segment, p) for o, p in zip(every, periods)]
    uniform = np.full(P, 1.0 / P)
    r = _build_result(plain, dicts, figures, uniform, uniform, np.full(P, np.nan), target, post_ds=new,
                      post_figures=post_figures)
    spy = grid[2]
    info = {"generation": generation, "target_ess": target, "max_paths": cap, "run_ess": float(r0.ess),
            "pooled_paths": int(ll.size), "pooled_ess": float(pooled_ess), "stopped_by": stopped_by,
            "distinct_ancestors": int(np.unique(ancestors).size), "switch_step": int(switch),
            "replayed_to": int(grid[0] + switch // spy), "earlier_observations": n_earlier}
    r.ess = float(pooled_ess)
    # copies of one ancestor share its inputs and observed years: errors from the ancestry, not P independent paths
    r.posterior = _ancestry_errors(r.posterior, new, ancestors, pooled_ess)
    r.resample = info
    r.warning = None if stopped_by == "target_ess" else (
        f"the pooled ESS reached {pooled_ess:,.1f}, short of the target {target:,.0f}, at max_paths = {cap:,} "
        f"pooled paths ({info['distinct_ancestors']:,} distinct ancestors): the figures are far in the tail of "
        "the run's assumptions. Raise max_paths, lower target_ess, or revise the config's inputs toward the "
        "reported figures and run again")
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    new.attrs.update({
        "update_observations": json.dumps([{k: v for k, v in o.items() if k not in ("prior_median", "posterior_median")}
                                           for o in r.observations]),
        "update_ess": float(pooled_ess),
        "resample_generation": generation,
        "resample_pooled_paths": int(ll.size),
        "resample_target_ess": float(target),
        "resample_stopped_by": stopped_by,
        "resample_switch_step": int(switch),
        "history": f"{ds.attrs.get('history', '')}\n{now} pricedin update --resample: {len(every)} observation(s), "
                   f"{ll.size:,} pooled prior paths, pooled ESS {pooled_ess:.1f} ({stopped_by}); generation "
                   f"{generation}".lstrip("\n"),
    })
    return r, new


# --------------------------------------------------------------------------- a new price


@jit
def _horizon_return(price_h, price, horizon, out):
    # the kernel's expression, compiled the same way, so the returns match a fresh run bit for bit
    for i in range(price_h.shape[0]):
        out[i] = (price_h[i] / price) ** (1.0 / horizon) - 1.0


def _hurdle(ds, cfg) -> np.ndarray:
    """Per-path cost of equity (the market lens's hurdle): drawn, fixed, or the initial WACC when absent."""
    from .simulate import param_var_name, parameter_table

    table = parameter_table(cfg)
    P = int(ds.sizes["path"])

    def column(key):
        col = table.column(key)
        spec = table.specs[col]
        if spec is None:
            return None
        if spec.is_fixed:
            return np.full(P, float(table.base_row[col]))
        name = param_var_name(key)
        if name not in ds:
            raise InputError(f"the results file has no {name} variable (drawn input {key}); the file is damaged "
                             "or was edited; re-create it with `pricedin run CONFIG --out FILE.nc`")
        return np.asarray(ds[name].values, dtype=np.float64)

    ke = column("cost_of_capital.cost_of_equity")
    ke = ke if ke is not None else column("cost_of_capital.initial")
    if cfg.rate_parity is not None:  # as the kernel: the hurdle in the cash flows' currency
        from .model.discounting import interest_rate_parity

        ke = interest_rate_parity(ke, *cfg.rate_parity)
    return ke


def reprice(ds, price: float) -> dict:
    """Both lenses, the percentile of the price and E[value]/price at another price, from stored values.

    DCF lens: ``value_per_share >= price``. Market lens: the holder return
    ``(price_horizon / price)^(1 / (horizon_years - f)) - 1 >= cost of equity`` from the stored simulated
    horizon price (``price_horizon``) and each path's cost of equity (drawn input, fixed value, or
    ``cost_of_capital.initial`` when ``cost_of_equity`` is absent), as the kernel does. A file with a
    ``weight`` variable (``pricedin update``) is evaluated with its weights.

    The result equals a fresh run at ``price`` with the same seed, bit for bit, when the run's config
    gives ``multiple.today``; without it, today's EV/Sales is implied from the market value, so a fresh
    run would start the multiple path elsewhere (``exact`` is False and ``note`` says so).

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (dim ``path``).
    price : float
        The new price, in the run's value unit (trading currency per share, or the whole market cap
        in money units when the config gives no share count); > 0.

    Returns
    -------
    dict
        ``price``, ``run_price``, ``value_unit``, ``p_justified`` {dcf, market} (as
        :func:`engine.summary.proportion` unweighted; :func:`weighted_proportion` weighted;
        :func:`resampled_proportion` on a resampled file, one with an ``ancestor`` variable),
        ``price_percentile`` [%], ``fair_value_ratio`` (E[value per share] / price), ``breakeven_price``
        (the price at which P(DCF-justified) = 50%: the median value per share; None when that median
        is <= 0, as then no price > 0 is DCF-justified on half the paths), ``median_value_per_share``,
        ``weighted``, ``resampled`` (a file written by ``update --resample``: errors from the ancestry),
        ``ess``, ``exact``, ``note``.

    Raises
    ------
    InputError
        ``price`` not finite and > 0; a stress file; a file without its config.
    """
    from ._stats import mean_sd
    from .sensitivity import config_of
    from .summary import proportion

    try:
        price = float(price)
    except (TypeError, ValueError):
        raise InputError(f"price = {price!r}: expected a number > 0 in the run's value unit") from None
    if not (math.isfinite(price) and price > 0):
        raise InputError(f"price = {price}: must be a finite number > 0 in the run's value unit "
                         f"({ds.attrs.get('value_unit', '')})")
    if "scenario" in ds.dims:
        raise InputError("a stress file (one run per scenario) cannot be re-priced; re-price the results of "
                         "`pricedin run CONFIG --out RUN.nc`")
    cfg = config_of(ds)
    v = np.asarray(ds["value_per_share"].values, dtype=np.float64)
    n = v.size
    ph = np.ascontiguousarray(ds["price_horizon"].values, dtype=np.float64)
    ret = np.empty(n)
    _horizon_return(ph, price, cfg.holding_years, ret)  # valuation date to horizon, as the kernel
    jd = v >= price
    jm = ret >= _hurdle(ds, cfg)
    weighted = "weight" in ds
    if weighted:
        w = _prior_weights(ds)
        pj = {"dcf": weighted_proportion(jd, w), "market": weighted_proportion(jm, w)}
        pct = float(100.0 * w[v < price].sum() / w.sum())
        mean = _wmean(v, w)
        median = float(weighted_quantile(v, 0.5, w))
        ess = kish_ess(w)
    else:
        if "ancestor" in ds:  # a resampled posterior (`update --resample`): copies of one ancestor are not independent
            anc = np.asarray(ds["ancestor"].values)
            pooled = float(ds.attrs.get("update_ess", n))
            pj = {"dcf": resampled_proportion(jd, anc, pooled), "market": resampled_proportion(jm, anc, pooled)}
        else:
            pj = {"dcf": proportion(int(np.count_nonzero(jd)), n),
                  "market": proportion(int(np.count_nonzero(jm)), n)}
        pct = float(100.0 * np.count_nonzero(v < price) / n)
        mean = mean_sd(v)[0]
        median = float(np.percentile(v, 50))
        ess = float(n)
    exact = cfg.multiple.today is not None
    note = None if exact else (
        "the config gives no multiple.today, so today's EV/Sales is implied from the market value at the run's "
        "price; a fresh run at this price would start the multiple path elsewhere. The market lens here keeps the "
        "simulated horizon prices (and, where financing or an exit-multiple terminal value used the multiple, the "
        "DCF values) of the run; for the exact answer run the config with this price")
    return {
        "price": price,
        "run_price": float(ds.attrs["price"]),
        "value_unit": ds.attrs.get("value_unit", ""),
        "company": ds.attrs.get("company", ""),
        "paths": int(n),
        "p_justified": pj,
        "price_percentile": pct,
        "fair_value_ratio": mean / price,
        "breakeven_price": median if median > 0 else None,
        "median_value_per_share": median,
        "weighted": weighted,
        "resampled": "ancestor" in ds,
        "ess": ess,
        "exact": exact,
        "note": note,
    }


# --------------------------------------------------------------------------- rendering


def _fmt(x, fmt: str) -> str:
    from .views.format import prob

    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    if fmt == "probability":
        return prob(x)
    if fmt == "fraction":
        return f"{100 * x:.1f}%"
    if fmt == "percentile":
        return f"{x:.2f}"
    if fmt == "multiple":
        return f"{x:.3f}x"
    a = abs(x)
    if a >= 1e15:
        return f"{x:.4g}"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:,.2f}"
    return f"{x:.4g}"


def _interval(d: dict) -> str:
    return f"[{_fmt(d['ci95_low'], 'probability')}, {_fmt(d['ci95_high'], 'probability')}]"


def render_update(r: UpdateResult, console=None) -> None:
    """Print an update: observations, P(justified) with ESS-based intervals, the "what changed" table."""
    from rich.console import Console
    from rich.table import Table

    from rich.markup import escape

    from .views.format import value_label

    c = console or Console(soft_wrap=False)
    h = r.header
    rs = r.resample
    pooled = f"{rs['pooled_paths']:,} pooled prior" if rs is not None else f"{h.get('paths', 0):,}"
    c.print(f"[bold]{h.get('company', '')}[/bold] updated on {len(r.observations)} reported figure(s): "
            f"{pooled} paths, effective sample size (Kish) {r.ess:,.1f}: the weighted paths are "
            f"worth {r.ess:,.0f} equally weighted ones")
    if rs is not None:
        c.print(f"resampled (sequential Monte Carlo, generation {rs['generation']}): {rs['pooled_paths']:,} prior "
                f"paths pooled (the run's {h.get('paths', 0):,}, ESS {rs['run_ess']:,.1f}, and further paths of the "
                f"same seed) to a pooled ESS of {rs['pooled_ess']:,.1f} (target {rs['target_ess']:,.0f}: "
                + ("reached" if rs["stopped_by"] == "target_ess" else f"not reached at max_paths {rs['max_paths']:,}")
                + f"); {h.get('paths', 0):,} paths resampled from {rs['distinct_ancestors']:,} distinct ancestors, "
                f"their own shocks replayed to the end of {rs['replayed_to']} and fresh shocks after; 'after' is "
                "that equally weighted sample, its standard errors from its ancestry (copies of one ancestor share "
                "its inputs and reported years: the effective n of each estimate is at most the paths)")
    elif "earlier_observations" in h:
        c.print(f"on top of {h['earlier_observations']} figure(s) applied to this file earlier: 'before' is that "
                "earlier update, not the plain run")
    if r.observations:
        t = Table(title=f"Observations (money figures in {h.get('figure_unit', '')})", title_justify="left")
        for col, j in (("figure", "left"), ("reported", "right"), ("error", "left"), ("run median before", "right"),
                       ("after", "right")):
            t.add_column(col, justify=j)
        for o in r.observations:
            fmt = "fraction" if o["quantity"] == "operating_margin" else "money"
            err = ", ".join(f"{k} {v:g}" for k, v in o["error"].items())
            label = " ".join(str(x) for x in (o["quantity"], o.get("segment"), o["period"]) if x)
            t.add_row(label, _fmt(o["value"], fmt), err, _fmt(o["prior_median"], fmt), _fmt(o["posterior_median"], fmt))
        c.print(t)
    pj = Table(title="P(today's price is justified), updated", title_justify="left")
    for col, j in (("lens", "left"), ("before", "right"), ("after", "right"), ("std error", "right"),
                   ("Wilson 95% CI", "right"), ("effective n", "right")):
        pj.add_column(col, justify=j)
    for lens, name in (("dcf", "DCF"), ("market", "market")):
        a, b = r.prior["p_justified"][lens], r.posterior["p_justified"][lens]
        pj.add_row(name, _fmt(a["estimate"], "probability"), _fmt(b["estimate"], "probability"),
                   _fmt(b["se"], "probability"), _interval(b), f"{b['ess']:,.0f}")
    c.print(pj)
    ch = Table(title=f"What changed (values in {h.get('value_unit', '')}; reported figures and money inputs in "
                     f"{h.get('figure_unit', '')}; medians of drawn inputs)", title_justify="left")
    for col, j in (("", "left"), ("before", "right"), ("after", "right")):
        ch.add_column(col, justify=j)
    noun = value_label(h.get("per_share", True))
    for row in r.changes:
        what = row["what"]
        if row["kind"] == "headline":  # "mean value per share" -> "mean equity value" for a whole-equity run
            what = what.replace("value per share", noun)
        ch.add_row(escape(what), _fmt(row["prior"], row["format"]), _fmt(row["posterior"], row["format"]))
    c.print(ch)
    if rs is None:
        c.print("[dim]Quantiles and medians: weighted inverse empirical CDF; standard errors and intervals use the "
                "effective sample size (Kish).[/dim]")
    else:
        vps = r.posterior["value_per_share"]
        c.print(f"[dim]Quantiles and medians: inverse empirical CDF. Standard errors and intervals group the paths "
                f"by ancestor (Chan & Lai 2013): effective n = p (1 - p) / variance, at most the {h.get('paths', 0):,} "
                f"paths; the mean {noun} {_fmt(vps['mean'], 'money')} has standard error "
                f"{_fmt(vps['se_mean'], 'money')} (effective n {vps['n_eff']:,.0f}).[/dim]")
    if r.warning:
        c.print(f"[yellow]warning: {r.warning}[/yellow]")


def render_reprice(r: dict, console=None, per_share: Optional[bool] = None) -> None:
    """Print :func:`reprice`'s result.

    ``per_share`` is the run's ``per_share`` attribute (False: the config gives no share count, the values
    are the whole equity and the labels say "equity value"); None reads it from the value unit, which ends
    in "(whole equity)" exactly then (:attr:`engine.config.Config.value_unit`).
    """
    from rich.console import Console
    from rich.table import Table

    from .views.format import unit_value_label, value_label

    c = console or Console(soft_wrap=False)
    unit = r["value_unit"]
    noun = unit_value_label(unit) if per_share is None else value_label(per_share)
    per_share = noun == "value per share"
    c.print(f"[bold]{r['company']}[/bold] at a price of {_fmt(r['price'], 'money')} {unit} (the run used "
            f"{_fmt(r['run_price'], 'money')}), from the stored values of {r['paths']:,} paths"
            + (f", weighted (ESS {r['ess']:,.1f})" if r["weighted"] else "")
            + (", resampled (standard errors from the paths' ancestry)" if r.get("resampled") else ""))
    t = Table(title="P(price is justified)", title_justify="left")
    for col, j in (("lens", "left"), ("estimate", "right"), ("std error", "right"), ("Wilson 95% CI", "right"),
                   ("justified when", "left")):
        t.add_column(col, justify=j)
    for lens, name, when in (("dcf", "DCF", "value per share >= price" if per_share else "equity value >= market cap"),
                             ("market", "market", "return >= cost of equity")):
        d = r["p_justified"][lens]
        t.add_row(name, _fmt(d["estimate"], "probability"), _fmt(d["se"], "probability"), _interval(d), when)
    c.print(t)
    o = Table(show_header=False)
    o.add_column("what")
    o.add_column("value", justify="right")
    o.add_row("percentile of the price", _fmt(r["price_percentile"], "percentile"))
    o.add_row(f"E\\[{noun}] / price", _fmt(r["fair_value_ratio"], "multiple"))
    if r["breakeven_price"] is not None:
        o.add_row("price at which P(DCF-justified) = 50% (median value)",
                  f"{_fmt(r['breakeven_price'], 'money')} {unit}")
    else:
        o.add_row("price at which P(DCF-justified) = 50%",
                  f"none > 0 (median value {_fmt(r['median_value_per_share'], 'money')} {unit})")
    c.print(o)
    if r["note"]:
        c.print(f"[yellow]note: {r['note']}.[/yellow]")
