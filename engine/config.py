"""Validated configuration for a pricedin run.

A config is a TOML (or YAML) file with the sections below; it is validated with
pydantic before anything runs, and every numeric input may be a fixed number or a
distribution (:mod:`engine.distributions`).

Conventions
-----------
* Money amounts are in ``company.money_unit`` of the **reporting currency** (Zhipu:
  CNY million). The share price is in the **trading currency** per share (HKD).
  ``company.fx_rate`` is the number of trading-currency units per one
  reporting-currency unit (1 CNY = 1.087 HKD gives ``fx_rate = 1.087``).
* Rates are fractions: ``0.08`` or the string ``"8%"``. A rate written as ``8``
  where ``0.08`` is meant is rejected with a hint.
* Growth rates may exceed 1 (MaaS grew 292.6%: ``2.926``); operating margins may be
  far below -1 (``-6.5``) but never above 1.

Errors are raised as :class:`ConfigError`, whose message names the key, the value
and the fix.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, NamedTuple, Optional, Union

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from .distributions import KINDS, Param, clean_message, parse_number
from .sampling import MAX_SEED, CorrelationError, Method, check_correlation
from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "Config",
    "ConfigError",
    "load_config",
    "config_from_dict",
    "check_overrides",
    "SolverOverrides",
    "config_warnings",
    "format_validation_error",
    "EXTREME_GROWTH",
    "MONEY_UNITS",
    "ParamInfo",
]

def _int_not_bool(v: Any) -> Any:
    """Before-validator for counts and years: ``true`` / ``false`` are not the integers 1 / 0 here."""
    if isinstance(v, bool):
        raise InputError(f"expected a whole number, got the boolean {str(v).lower()}")
    return v


#: An integer that refuses booleans (pydantic's lax int takes ``true`` as 1).
Int = Annotated[int, BeforeValidator(_int_not_bool)]

#: Multipliers of the money and share units a config may declare.
MONEY_UNITS = {"unit": 1.0, "thousand": 1e3, "million": 1e6, "billion": 1e9}


class ConfigError(InputError):
    """A config that cannot run: the message names the key, the value and the fix."""


# --------------------------------------------------------------------------- bounds


class Bounds(NamedTuple):
    """Allowed range of a numeric input, checked on every draw's 1e-9 tails.

    ``rate=True`` marks a rate written as a fraction: a value above ``hi`` then
    gets the hint "did you mean X/100?".
    """

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    rate: bool = False
    what: str = "value"


RATE = Bounds(0.0, 1.0, rate=True, what="a rate (fraction)")
RATE_OPEN1 = Bounds(0.0, 1.0, hi_open=True, rate=True, what="a rate (fraction) below 1")
WACC = Bounds(0.0, 1.0, lo_open=True, rate=True, what="a cost of capital (fraction)")
GROWTH = Bounds(-1.0, 100.0, lo_open=True, what="a growth rate (fraction, > -1)")
STABLE_GROWTH = Bounds(-1.0, 0.25, lo_open=True, rate=True, what="a stable growth rate (fraction)")
LONG_RUN_GROWTH = Bounds(-1.0, 1.0, lo_open=True, rate=True, what="a long-run growth rate (fraction, at most 1)")
S2C = Bounds(0.01, math.inf, what="a sales-to-capital ratio (revenue per unit of capital, typically 0.5-5)")
MARGIN = Bounds(-1000.0, 1.0, rate=True, what="an operating margin (fraction, at most 1)")
AMOUNT = Bounds(0.0, math.inf, what="a non-negative amount")
POSITIVE = Bounds(0.0, math.inf, lo_open=True, what="a positive number")
YEARS = Bounds(0.0, 1000.0, lo_open=True, what="a number of years (> 0)")
NONNEG = Bounds(0.0, math.inf, what="a non-negative number")
SIGNED = Bounds(-math.inf, math.inf, what="a number")
CORR = Bounds(-1.0, 1.0, what="a correlation in [-1, 1]")


def _b(b: Bounds):
    return Field(json_schema_extra={"bounds": b._asdict()})


# Annotated parameter types: the metadata carries the bounds checked after parsing.
Rate = Annotated[Param, RATE]
RateBelow1 = Annotated[Param, RATE_OPEN1]
WaccP = Annotated[Param, WACC]
GrowthP = Annotated[Param, GROWTH]
LongRunGrowthP = Annotated[Param, LONG_RUN_GROWTH]
StableGrowthP = Annotated[Param, STABLE_GROWTH]
MarginP = Annotated[Param, MARGIN]
Amount = Annotated[Param, AMOUNT]
Positive = Annotated[Param, POSITIVE]
Years = Annotated[Param, YEARS]
NonNeg = Annotated[Param, NONNEG]
Signed = Annotated[Param, SIGNED]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, populate_by_name=True)

    def unused_fields(self) -> set:
        """Fields the section's chosen ``method`` does not use (none by default)."""
        return set()

    def _reject_unused(self, section: str):
        given = sorted(self.unused_fields() & self.model_fields_set)
        if given:
            method = getattr(self, "method", None)
            m = method.value if isinstance(method, Enum) else method
            raise InputError(
                f"{', '.join(section + '.' + k for k in given)} not used by {section}.method = {m!r}; remove "
                f"{'it' if len(given) == 1 else 'them'} or choose the method that uses {'it' if len(given) == 1 else 'them'}"
            )
        return self


def _num(v: Any) -> Any:
    """Before-validator for plain (non-distribution) numbers: accepts "8%"."""
    if isinstance(v, bool):
        raise InputError(f"expected a number, got the boolean {str(v).lower()}")
    if isinstance(v, (str, int, float)):
        return parse_number(v)
    return v


def _fixed_only(v: Any, what: str) -> Any:
    if isinstance(v, dict):
        raise InputError(f"{what} must be a fixed number, not a distribution")
    return v


def _iso_code(v: Any) -> Any:
    """An ISO 4217 currency code, upper-cased (None passes)."""
    if v is None:
        return v
    v2 = str(v).strip().upper()
    if v2 == "RMB":
        raise InputError("currency 'RMB' is not an ISO 4217 code; the renminbi is 'CNY'")
    if not re.fullmatch(r"[A-Z]{3}", v2):
        raise InputError(f"currency {v!r} is not an ISO 4217 code; write e.g. 'CNY', 'HKD', 'USD'")
    return v2


# --------------------------------------------------------------------------- sections


class Company(_Base):
    """Who is valued and in which currencies and units."""

    name: str
    ticker: Optional[str] = None
    reporting_currency: str
    trading_currency: Optional[str] = None
    fx_rate: Optional[float] = None
    valuation_date: _dt.date
    base_year: Optional[Int] = None
    money_unit: Literal["unit", "thousand", "million", "billion"] = "million"
    sector: Optional[Literal["software", "ai", "internet", "consumer", "industrial", "financial", "healthcare",
                             "energy", "other"]] = None
    usd_fx_rate: Optional[float] = None

    @field_validator("usd_fx_rate", mode="before")
    @classmethod
    def _usd_fx(cls, v):
        v = _num(v) if v is not None else v
        if v is not None and not (math.isfinite(v) and v > 0):
            raise InputError(f"usd_fx_rate = {v} must be a finite number > 0 (USD per 1 reporting-currency unit, "
                             "e.g. 0.138 for CNY)")
        return v

    @field_validator("reporting_currency", "trading_currency")
    @classmethod
    def _iso(cls, v):
        return _iso_code(v)

    @field_validator("valuation_date", mode="before")
    @classmethod
    def _date(cls, v):
        if isinstance(v, (_dt.date,)) and not isinstance(v, _dt.datetime):
            return v
        if isinstance(v, str):
            try:
                return _dt.date.fromisoformat(v.strip())
            except ValueError:
                pass
        raise InputError(f"{_show(v)} is not a date; write it as YYYY-MM-DD, e.g. 2026-06-23")

    @field_validator("fx_rate", mode="before")
    @classmethod
    def _fx(cls, v):
        v = _num(v) if v is not None else v
        if v is not None and not v > 0:
            raise InputError(f"fx_rate = {v} must be > 0 (trading-currency units per reporting-currency unit)")
        return v

    @model_validator(mode="after")
    def _currencies(self):
        if self.trading_currency is None:
            self.trading_currency = self.reporting_currency
        if self.trading_currency != self.reporting_currency and self.fx_rate is None:
            raise InputError(
                f"reporting_currency = {self.reporting_currency!r} differs from trading_currency = "
                f"{self.trading_currency!r} but no fx_rate is given; add company.fx_rate = "
                f"<{self.trading_currency} per 1 {self.reporting_currency}> on the valuation date"
            )
        if self.trading_currency == self.reporting_currency and self.fx_rate not in (None, 1.0):
            raise InputError(
                f"fx_rate = {self.fx_rate} is given but reporting_currency and trading_currency are both "
                f"{self.reporting_currency!r}; remove fx_rate (or set trading_currency if the shares trade in "
                "another currency)"
            )
        if self.fx_rate is None:
            self.fx_rate = 1.0
        d = self.valuation_date
        if self.base_year is None:
            # the last fiscal year completed by the valuation date (calendar fiscal years)
            self.base_year = d.year if (d.month, d.day) == (12, 31) else d.year - 1
        elif not d.year - 2 <= self.base_year <= d.year:
            raise InputError(
                f"base_year = {self.base_year} does not fit valuation_date = {d.isoformat()}: the base year is the "
                f"last reported fiscal year, between {d.year - 2} and {d.year}"
            )
        if d < _dt.date(self.base_year, 12, 31):
            last = d.year if (d.month, d.day) == (12, 31) else d.year - 1
            raise InputError(
                f"base_year = {self.base_year} ends on {self.base_year}-12-31, after valuation_date = "
                f"{d.isoformat()}: the base year is a fiscal year completed by the valuation date (discounting "
                f"runs from the valuation date, with the base year's end before it); write base_year = {last}"
            )
        return self

    @property
    def elapsed_years(self) -> float:
        """Years from the end of the base fiscal year to the valuation date, f = days / 365 [year], >= 0.

        The first forecast year's remaining fraction 1 - f is its stub (docs/model.md, section 0).
        2026-09-30 after base year 2025 gives 273 / 365 = 0.747945.
        """
        return (self.valuation_date - _dt.date(self.base_year, 12, 31)).days / 365.0


class Market(_Base):
    """Today's price: ``price`` and diluted ``shares``, or ``market_cap`` alone.

    ``price`` is in the trading currency per share; ``shares`` in ``share_unit``;
    ``market_cap`` in the trading currency, in ``company.money_unit``. With
    ``market_cap`` alone, "per share" means the whole equity.
    """

    price: Optional[float] = None
    shares: Optional[float] = None
    share_unit: Literal["unit", "thousand", "million", "billion"] = "million"
    market_cap: Optional[float] = None

    _n = field_validator("price", "shares", "market_cap", mode="before")(lambda v: _num(v) if v is not None else v)

    @model_validator(mode="after")
    def _either(self):
        if self.market_cap is not None:
            if self.price is not None or self.shares is not None:
                raise InputError(
                    "give either market.price with market.shares, or market.market_cap alone, not both"
                )
            if not self.market_cap > 0:
                raise InputError(f"market.market_cap = {self.market_cap} must be > 0")
            return self
        if self.price is None or self.shares is None:
            missing = "market.price" if self.price is None else "market.shares"
            raise InputError(
                f"{missing} is missing; give market.price (trading currency per share) and market.shares "
                "(diluted, in market.share_unit), or market.market_cap alone"
            )
        if not self.shares > 0:
            raise InputError(f"market.shares = {self.shares} must be > 0 (diluted share count)")
        if not self.price > 0:
            raise InputError(f"market.price = {self.price} must be > 0")
        return self

    @property
    def per_share(self) -> bool:
        """True when a share count is given; False for ``market_cap`` alone (whole equity)."""
        return self.market_cap is None


class BalanceSheet(_Base):
    """Balance-sheet items at the valuation date, in money units of the reporting currency."""

    cash: Amount = 0.0
    debt: Amount = 0.0
    minority_interests: Amount = 0.0
    non_operating_assets: Amount = 0.0
    nol: Amount = 0.0
    invested_capital: Optional[Amount] = None


class GrowthMethod(str, Enum):
    """Growth process: ``ou`` (mean-reverting on ln(1 + g)) or ``linear_fade`` (Damodaran)."""

    OU = "ou"
    LINEAR_FADE = "linear_fade"


class Growth(_Base):
    """Gross revenue growth (new customers and expansion) of a segment.

    ``method = "ou"``: the instantaneous ``x = ln(1 + g)`` mean-reverts in continuous
    time to ``ln(1 + long_run)`` with half-life ``half_life`` years (kappa = ln 2 /
    half_life), started so that the first year grows by exactly ``today``; revenue
    grows by the integral of ``x``. Shock volatility ``volatility`` (sd of x per
    sqrt(year)) decays to ``volatility_long_run`` with half-life
    ``volatility_half_life``; ``mean_preserving`` makes expected revenue the
    deterministic path. ``method = "linear_fade"``: fiscal year t grows by the fade's
    rate for year t, from ``today`` (year 1) to ``long_run`` by ``fade_year``
    (Damodaran), no growth shock. Both mean the same at any ``steps_per_year``.
    """

    method: GrowthMethod = GrowthMethod.OU
    today: GrowthP
    long_run: LongRunGrowthP
    half_life: Years = 3.0
    fade_year: Years = 10.0
    volatility: NonNeg = 0.0
    volatility_long_run: Optional[NonNeg] = None
    volatility_half_life: Years = 5.0
    mean_preserving: bool = True

    def unused_fields(self) -> set:
        """Keys the chosen growth method does not use."""
        if self.method == GrowthMethod.OU:
            return {"fade_year"}
        return {"half_life", "volatility", "volatility_long_run", "volatility_half_life", "mean_preserving"}

    @model_validator(mode="after")
    def _unused(self):
        return self._reject_unused("growth")


class Churn(_Base):
    """Annual churn: the share of last year's revenue lost (1 - gross revenue retention).

    Each fiscal year's churn is logit-normal around the path's ``rate`` (its median),
    with ``dispersion`` the sd of logit(churn); 0 keeps churn at ``rate``. It is drawn
    once per year and applied as ``(1 - c)^dt`` in each of the year's steps.
    """

    rate: Rate = 0.0
    dispersion: NonNeg = 0.0


class RevenueShock(_Base):
    """Direct shock to log revenue (Schwartz & Moon 2000).

    ``sigma_t`` decays from ``volatility`` to ``volatility_long_run`` with half-life
    ``half_life`` years; ``correlation`` ties it to the growth shock;
    ``market_price_of_risk`` (lambda) subtracts ``lambda * sigma_t`` from the drift
    for risk-neutral valuation.
    """

    volatility: NonNeg = 0.0
    volatility_long_run: Optional[NonNeg] = None
    half_life: Years = 5.0
    correlation: Annotated[Param, CORR] = 0.0
    market_price_of_risk: Signed = 0.0


class SegmentMarket(_Base):
    """A market-share segment's market: gross billings ``size`` today growing at ``growth`` a year.

    The log market is a geometric Brownian motion with drift ln(1 + growth) and
    ``volatility`` per sqrt(year), mean-preserving: E[market_t] = size (1 + growth)^t.
    """

    size: Positive
    growth: GrowthP
    volatility: NonNeg = 0.0


class Share(_Base):
    """A market-share segment's share: ``today`` moving linearly to ``target`` by ``convergence_year``."""

    today: Rate
    target: Rate
    convergence_year: Years = 10.0


class Segment(_Base):
    """A revenue segment: base-year ``revenue`` or a ``run_rate`` (e.g. ARR), growth and churn.

    ``revenue_model = "growth"`` (default): revenue compounds with gross growth,
    churn and the revenue shock. ``revenue_model = "market_share"``: revenue is
    ``take_rate x market size x share`` (Damodaran's Uber, 2014), with the market
    and share tables; ``growth`` and ``churn`` are not used (refused) and the
    revenue shock multiplies the share.
    """

    name: str
    revenue: Optional[Amount] = None
    run_rate: Optional[Amount] = None
    #: The segment's reported revenue of the base year when the base is a ``run_rate`` (report only: revenue
    #: CAGR and EV/Sales from reported revenue); the simulation starts from ``run_rate``.
    reported_revenue: Optional[float] = None
    revenue_model: Literal["growth", "market_share"] = "growth"
    growth: Optional[Growth] = None
    churn: Churn = Churn()
    revenue_shock: RevenueShock = RevenueShock()
    market: Optional[SegmentMarket] = None
    share: Optional[Share] = None
    take_rate: Optional[Annotated[Param, Bounds(0.0, 1.0, lo_open=True, rate=True,
                                                what="a take rate (fraction of gross billings, in (0, 1])")]] = None

    def unused_fields(self) -> set:
        """Tables the segment's revenue model does not use (not written to the normalised config)."""
        return {"churn", "growth"} if self.revenue_model == "market_share" else {"market", "share", "take_rate"}

    @model_validator(mode="after")
    def _revenue_model(self):
        ms = ("market", "share", "take_rate")
        if self.revenue_model == "growth":
            given = [k for k in ms if k in self.model_fields_set]
            if given:
                raise InputError(
                    f"segment {self.name!r}: {', '.join(given)} not used by revenue_model = 'growth'; remove "
                    "them, or set revenue_model = \"market_share\" (revenue = take_rate x market.size x share)")
            if self.growth is None:
                raise InputError(f"segment {self.name!r}: growth is missing; add a [segments.growth] table with "
                                 "today and long_run (or set revenue_model = \"market_share\")")
            return self
        unused = [k for k in ("growth", "churn") if k in self.model_fields_set]
        if unused:
            raise InputError(
                f"segment {self.name!r}: {', '.join(unused)} not used by revenue_model = 'market_share' (revenue is "
                "take_rate x market.size x share; the market's growth is market.growth, noise on the share is "
                "revenue_shock); remove " + ("it" if len(unused) == 1 else "them"))
        missing = [k for k in ms if getattr(self, k) is None]
        if missing:
            raise InputError(
                f"segment {self.name!r}: revenue_model = 'market_share' needs {', '.join(missing)}; e.g. market = "
                "{ size = 100000, growth = 0.0623 }, share = { today = 0.015, target = 0.10, convergence_year = 10 }, "
                "take_rate = 0.20")
        return self

    _rr = field_validator("reported_revenue", mode="before")(
        lambda v: _num(_fixed_only(v, "segments.NAME.reported_revenue")) if v is not None else v)

    @field_validator("name")
    @classmethod
    def _ident(cls, v):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", v):
            raise InputError(
                f"segment name {v!r} must start with a letter and hold only letters, digits and '_' "
                "(it names result variables); e.g. 'maas' or 'on_premise'"
            )
        return v

    @model_validator(mode="after")
    def _one_base(self):
        if (self.revenue is None) == (self.run_rate is None):
            raise InputError(
                f"segment {self.name!r}: give exactly one of revenue (base-year revenue) or run_rate "
                "(annualised rate at the valuation date, e.g. ARR)"
            )
        if self.reported_revenue is not None:
            if self.revenue is not None:
                raise InputError(
                    f"segments.{self.name}.reported_revenue = {self.reported_revenue:g} is for a run_rate segment; "
                    f"segment {self.name!r} starts from its reported revenue (segments.{self.name}.revenue) "
                    "already: remove reported_revenue"
                )
            if not (math.isfinite(self.reported_revenue) and self.reported_revenue >= 0):
                raise InputError(
                    f"segments.{self.name}.reported_revenue = {self.reported_revenue} must be a finite amount "
                    ">= 0 (the segment's revenue in the base year, in company.money_unit)"
                )
        return self

    @property
    def base(self):
        """The base-period revenue spec: ``revenue`` or ``run_rate`` [money/year]."""
        return self.revenue if self.revenue is not None else self.run_rate


class MarginMethod(str, Enum):
    """Margin path: ``linear``, ``exponential`` or ``cost_structure``."""

    LINEAR = "linear"
    EXPONENTIAL = "exponential"
    COST_STRUCTURE = "cost_structure"


class Margin(_Base):
    """Operating (EBIT) margin path.

    ``linear``: from ``today`` to ``target`` by ``convergence_year`` (Damodaran);
    ``exponential``: the gap halves every ``half_life`` years; ``cost_structure``:
    EBIT = revenue x (1 - ``variable_cost_share``) - ``fixed_costs`` growing at
    ``fixed_cost_growth`` today, fading linearly to ``terminal.growth`` by
    ``fixed_cost_fade_year`` (or the horizon, if earlier) so the cost base is in steady
    state when the terminal value is taken (Schwartz & Moon 2000). All methods add AR(1) noise
    (annual innovation sd ``noise_sd``, persistence ``noise_persistence`` per year; steps shorter
    than a year use the exact AR(1) discretisation, so the spread does not depend on
    ``steps_per_year``) and cap
    the margin at ``maximum``.
    """

    method: MarginMethod = MarginMethod.LINEAR
    today: Optional[MarginP] = None
    target: Optional[MarginP] = None
    convergence_year: Years = 10.0
    half_life: Years = 3.0
    noise_sd: NonNeg = 0.0
    noise_persistence: RateBelow1 = 0.5
    maximum: MarginP = 1.0
    variable_cost_share: Optional[NonNeg] = None
    fixed_costs: Optional[Amount] = None
    fixed_cost_growth: GrowthP = 0.0
    fixed_cost_fade_year: float = 10.0

    _fade = field_validator("fixed_cost_fade_year", mode="before")(
        lambda v: _num(_fixed_only(v, "margin.fixed_cost_fade_year"))
    )

    @field_validator("fixed_cost_fade_year")
    @classmethod
    def _fade_pos(cls, v):
        if not (math.isfinite(v) and v > 0):
            raise InputError(f"margin.fixed_cost_fade_year = {v} must be a number of years > 0, e.g. 10")
        return v

    def unused_fields(self) -> set:
        """Keys the chosen margin method does not use."""
        if self.method == MarginMethod.COST_STRUCTURE:
            return {"today", "target", "convergence_year", "half_life"}
        cost = {"variable_cost_share", "fixed_costs", "fixed_cost_growth", "fixed_cost_fade_year"}
        return cost | ({"half_life"} if self.method == MarginMethod.LINEAR else {"convergence_year"})

    @model_validator(mode="after")
    def _needs(self):
        self._reject_unused("margin")
        if self.method == MarginMethod.COST_STRUCTURE:
            for k in ("variable_cost_share", "fixed_costs"):
                if getattr(self, k) is None:
                    raise InputError(f"margin.method = 'cost_structure' needs margin.{k}")
        else:
            for k in ("today", "target"):
                if getattr(self, k) is None:
                    raise InputError(
                        f"margin.{k} is missing: method {self.method.value!r} needs margin.today and margin.target"
                    )
        return self


class Tax(_Base):
    """Marginal tax rate; losses feed a carry-forward (NOL, balance_sheet.nol) used before tax is paid.

    With ``nol_expiry_years`` = E, each fiscal year's loss lapses E years after the
    year it arose (oldest used first); absent, the NOL never expires.

    With ``effective``, the rate is ``effective`` until ``convergence_start_year``,
    then moves linearly to ``rate`` (marginal) by ``convergence_year``; the
    terminal year is taxed at ``rate`` (Damodaran's ginzu spreadsheets).
    """

    rate: Rate
    effective: Optional[Rate] = None
    convergence_start_year: float = 5.0
    convergence_year: float = 10.0
    nol_expiry_years: Optional[Int] = None

    _n = field_validator("convergence_start_year", "convergence_year", mode="before")(
        lambda v: _num(_fixed_only(v, "tax convergence years"))
    )

    def unused_fields(self) -> set:
        """The convergence years without an effective rate (not written to the normalised config)."""
        return {"convergence_start_year", "convergence_year"} if self.effective is None else set()

    @model_validator(mode="after")
    def _path(self):
        given = sorted({"convergence_start_year", "convergence_year"} & self.model_fields_set)
        if self.effective is None and given:
            raise InputError(f"{', '.join('tax.' + k for k in given)} given without tax.effective; add "
                             "tax.effective (the effective rate today) or remove "
                             + ("it" if len(given) == 1 else "them"))
        if self.nol_expiry_years is not None and self.nol_expiry_years < 1:
            raise InputError(f"tax.nol_expiry_years = {self.nol_expiry_years} must be a whole number >= 1 (years a "
                             "tax loss is carried forward, e.g. 5); remove it for losses that never expire")
        if not 0 <= self.convergence_start_year <= self.convergence_year:
            raise InputError(
                f"tax.convergence_start_year = {_fmt(self.convergence_start_year)} must be >= 0 and <= "
                f"tax.convergence_year = {_fmt(self.convergence_year)}")
        return self


def _none_word(v: Any) -> Any:
    """Before-validator: the text ``"none"`` (any case) is the literal ``"none"``."""
    if isinstance(v, str) and v.strip().lower() == "none":
        return "none"
    return v


class Reinvestment(_Base):
    """Reinvestment = change in revenue / sales-to-capital (Damodaran).

    ``sales_to_capital = "none"``: no reinvestment; invested capital stays at its
    starting value (balance_sheet.invested_capital, else 0).
    """

    sales_to_capital: Annotated[Union[Literal["none"], Annotated[Param, S2C]], BeforeValidator(_none_word)]

    @property
    def none(self) -> bool:
        """True for ``sales_to_capital = "none"`` (no reinvestment)."""
        return isinstance(self.sales_to_capital, str)


class CostOfCapital(_Base):
    """WACC path: ``initial`` until ``fade_start_year``, then linearly to ``mature`` by ``fade_end_year``.

    ``cost_of_equity`` is the hurdle for the market lens (defaults to ``initial``).
    ``mid_year`` discounts each year's flow at mid-year.
    """

    initial: WaccP
    mature: WaccP
    fade_start_year: float = 5.0
    fade_end_year: float = 10.0
    cost_of_equity: Optional[WaccP] = None
    mid_year: StrictBool = False
    currency: Optional[str] = None
    risk_free: Optional[dict[str, float]] = None

    _n = field_validator("fade_start_year", "fade_end_year", mode="before")(
        lambda v: _num(_fixed_only(v, "cost_of_capital fade years"))
    )

    @field_validator("currency")
    @classmethod
    def _cur(cls, v):
        return _iso_code(v)

    @field_validator("risk_free", mode="before")
    @classmethod
    def _rf(cls, v):
        if v is None:
            return v
        if not isinstance(v, dict):
            raise InputError(f"{_show(v)} is not a table of rates by currency; write e.g. "
                             "risk_free = { CNY = 0.018, HKD = 0.04 }")
        out = {}
        for cur, rate in v.items():
            code = _iso_code(cur)
            if isinstance(rate, dict):
                raise InputError(f"risk_free.{code} must be a fixed number, not a distribution")
            r = _num(rate)
            if not isinstance(r, (int, float)) or not math.isfinite(r) or not r > -1.0:
                raise InputError(f"risk_free.{code} = {_show(rate)} must be a rate above -100% (> -1), e.g. 0.018")
            out[code] = float(r)
        return out

    @model_validator(mode="after")
    def _order(self):
        if not 0 <= self.fade_start_year <= self.fade_end_year:
            raise InputError(
                f"cost_of_capital.fade_start_year = {self.fade_start_year} must be >= 0 and <= "
                f"fade_end_year = {self.fade_end_year}"
            )
        return self


class TerminalMethod(str, Enum):
    """Terminal value: ``gordon`` (growing perpetuity) or ``exit_multiple`` (EV/Sales)."""

    GORDON = "gordon"
    EXIT_MULTIPLE = "exit_multiple"


class Terminal(_Base):
    """Terminal value at the horizon.

    ``gordon``: TV = FCFF(N+1) / (wacc - growth), FCFF(N+1) = EBIT(N+1) (1 - tax)
    (1 - growth / return_on_capital) (Damodaran, "Investment Valuation", ch. 12);
    ``wacc`` defaults to cost_of_capital.mature, ``return_on_capital`` to that WACC.
    A drawn spread below ``min_spread`` is clipped to it and counted.
    ``exit_multiple``: TV = EV/Sales x revenue(N); the multiple is ``exit_multiple``
    when given, else the path's simulated multiple at the horizon.
    A negative terminal NOPAT releases no capital (FCFF = NOPAT). ``on_loss``:
    ``liquidate`` (default) values a surviving path whose terminal NOPAT is negative
    (Gordon) or whose exit value is negative at ``failure.recovery`` x invested
    capital at the horizon, and counts it; ``perpetuity`` keeps the negative Gordon
    value. An EV/Sales exit value is never negative, so no path is liquidated on it.
    """

    method: TerminalMethod = TerminalMethod.GORDON
    growth: StableGrowthP = 0.03
    wacc: Optional[WaccP] = None
    return_on_capital: Optional[Positive] = None
    min_spread: float = 0.01
    exit_multiple: Optional[Positive] = None
    exit_basis: Literal["revenue", "ebit"] = "revenue"
    on_loss: Literal["liquidate", "perpetuity"] = "liquidate"

    _n = field_validator("min_spread", mode="before")(lambda v: _num(_fixed_only(v, "terminal.min_spread")))

    def unused_fields(self) -> set:
        """Keys the chosen terminal method does not use."""
        if self.method == TerminalMethod.GORDON:
            return {"exit_multiple", "exit_basis"}
        return {"wacc", "return_on_capital", "min_spread"}

    @model_validator(mode="after")
    def _unused(self):
        self._reject_unused("terminal")
        if self.method == TerminalMethod.EXIT_MULTIPLE and self.exit_basis == "ebit" and self.exit_multiple is None:
            raise InputError("terminal.exit_basis = 'ebit' needs terminal.exit_multiple (EV/EBIT, e.g. 10): the "
                             "simulated multiple is an EV/Sales multiple")
        return self

    @field_validator("min_spread")
    @classmethod
    def _ms(cls, v):
        if not 0 < v < 1:
            raise InputError(f"terminal.min_spread = {v} must be a fraction in (0, 1), e.g. 0.01")
        return v


class Multiple(_Base):
    """EV/Sales multiple path (multiple compression).

    Starts at ``today`` (default: today's market EV over base revenue) and moves toward
    the growth-linked anchor M_mature x exp(growth_beta (g_t - g_stable)), the log
    premium over the anchor halving every ``half_life`` years, plus noise of
    ``volatility`` per sqrt(year) in log space.
    """

    today: Optional[Positive] = None
    mature: Positive
    growth_beta: Signed = 0.0
    half_life: Years = 2.0
    volatility: NonNeg = 0.0


class Dilution(_Base):
    """Stock-based compensation (SBC), counted once.

    ``sbc = "expense"`` (default; Damodaran's treatment): SBC is a cost inside the
    margin / cost base, so the share count grows only with equity raised, and
    ``sbc_rate`` must not be given. ``sbc = "dilution"``: the margin / cost base
    excludes SBC, and the share count grows at ``sbc_rate`` a year in both lenses
    (the DCF lens divides by today's shares grown at ``sbc_rate`` to the horizon).
    An old config with ``sbc_rate`` and no ``sbc`` is refused with the choice to make.
    """

    sbc: Literal["expense", "dilution"] = "expense"
    sbc_rate: Optional[Rate] = None

    @model_validator(mode="after")
    def _once(self):
        given = self.model_fields_set
        if self.sbc_rate is not None and "sbc" not in given:
            if self.sbc_rate.is_fixed and self.sbc_rate.median() == 0.0:
                return self
            raise InputError(
                "dilution.sbc_rate is given without dilution.sbc: stock-based compensation is now counted once "
                "(until now the market lens diluted the shares at sbc_rate while the margin also bore SBC). "
                "If your margins or costs include SBC (reported EBIT), write dilution.sbc = \"expense\" and remove "
                "sbc_rate; if they exclude it (adjusted EBIT), write dilution.sbc = \"dilution\" and keep sbc_rate "
                "(shares then grow at sbc_rate in both lenses)")
        if self.sbc == "expense" and self.sbc_rate is not None and not (
                self.sbc_rate.is_fixed and self.sbc_rate.median() == 0.0):
            raise InputError(
                "dilution.sbc_rate is given with dilution.sbc = \"expense\": SBC is then a cost inside the margin "
                "and does not also dilute the shares; remove sbc_rate, or write dilution.sbc = \"dilution\" if "
                "your margins exclude SBC")
        if self.sbc == "dilution" and self.sbc_rate is None:
            raise InputError(
                "dilution.sbc = \"dilution\" needs dilution.sbc_rate, the annual growth of the share count "
                "from SBC (e.g. 0.02)")
        return self


class Financing(_Base):
    """Equity raised when cash falls below ``cash_floor``.

    The raise restores the floor plus ``buffer_years`` of the current burn, at the
    simulated market price less ``issue_discount``. ``closed_years`` (years 1..H)
    or ``closed = true`` shut the window: a path that needs cash then fails.
    """

    cash_floor: Amount = 0.0
    buffer_years: NonNeg = 1.0
    issue_discount: RateBelow1 = 0.1
    cash_rate: Annotated[Param, Bounds(-0.5, 1.0, rate=True, what="an interest rate on cash")] = 0.0
    closed: StrictBool = False
    closed_years: list[Int] = []


class Failure(_Base):
    """Failure: absorbing; equity then gets ``recovery`` x invested capital (+ cash - debt).

    ``annual_probability`` is an exogenous failure hazard (Damodaran's probability of
    failure). ``limited_liability = true`` floors each path's equity value at 0 and the
    report counts the floored paths.
    """

    annual_probability: RateBelow1 = 0.0
    recovery: Rate = 0.0
    limited_liability: StrictBool = False
    probability: Optional[RateBelow1] = None

    @model_validator(mode="after")
    def _one_kind(self):
        a = self.annual_probability
        if self.probability is not None and not (a.is_fixed and a.median() == 0.0):
            raise InputError(
                "failure.probability (one-shot, applied as a weight) and failure.annual_probability (a yearly "
                "hazard on each path) are both given; they are two models of the same risk: keep one")
        return self


class Simulation(_Base):
    """Path count, seed, horizon and sampling; (config, seed, block_size) fix a run."""

    paths: Int = Field(100_000, ge=1)
    seed: Int = Field(20260623, ge=0, le=MAX_SEED)
    horizon_years: Int = Field(10, ge=1, le=100)
    steps_per_year: Int = Field(1, ge=1, le=12)
    sampling: Method = Method.RANDOM
    block_size: Int = Field(65_536, ge=1)
    #: Fiscal years whose revenue by segment, EBIT, FCFF and cash every run keeps per path (the observed
    #: variables of :mod:`engine.variables`, read by :mod:`engine.update`); absent: 3 (the horizon if shorter).
    #: Absent is left out of the config's TOML, so configs that do not set it keep their sha256.
    observed_years: Optional[Int] = Field(None, ge=0, le=100)
    #: Stress scenario file for ``pricedin stress`` (relative to the config file);
    #: default ``stress/<config stem>.toml`` next to the config.
    stress_scenarios: Optional[str] = None
    #: Growth-type inputs above 100% a year are refused unless this is true (see EXTREME_GROWTH).
    allow_extreme_growth: StrictBool = False


class Correlations(_Base):
    """Spearman rank correlations between drawn inputs (Gaussian copula).

    Either ``pairs = [["margin.target", "multiple.mature", 0.4], ...]`` or
    ``inputs = [...]`` with a full ``matrix``. ``repair = true`` replaces a matrix
    that is not positive semi-definite by the nearest valid one (Higham 2002).
    """

    pairs: list[tuple[str, str, float]] = []
    inputs: list[str] = []
    matrix: list[list[float]] = []
    repair: StrictBool = False


class Peer(_Base):
    """A listed peer for the EV/Sales cross-check of the report (:func:`engine.fairvalue.peer_values`).

    Give ``ev_sales`` alone, or ``revenue`` with ``market_cap`` (then EV/Sales =
    (market_cap + net_debt) / revenue, both converted to the reporting currency).
    Amounts are in ``company.money_unit``; ``revenue_currency`` defaults to the
    reporting currency and ``market_cap_currency`` to the trading currency; each
    must be one of the config's two currencies (``company.fx_rate`` converts them).
    """

    name: str
    ev_sales: Optional[float] = None
    revenue: Optional[float] = None
    revenue_currency: Optional[str] = None
    market_cap: Optional[float] = None
    market_cap_currency: Optional[str] = None
    net_debt: float = 0.0

    _n = field_validator("ev_sales", "revenue", "market_cap", "net_debt", mode="before")(
        lambda v: _num(_fixed_only(v, "a peer's figure")) if v is not None else v)
    _c = field_validator("revenue_currency", "market_cap_currency")(lambda v: Company._iso(v))

    @model_validator(mode="after")
    def _either(self):
        where = f"peers {self.name!r}"
        if self.ev_sales is not None:
            if self.revenue is not None or self.market_cap is not None:
                raise InputError(f"{where}: give ev_sales alone, or revenue with market_cap, not both")
            if not (math.isfinite(self.ev_sales) and self.ev_sales > 0):
                raise InputError(f"{where}: ev_sales = {self.ev_sales} must be a number > 0 (e.g. 13.2)")
            return self
        if self.revenue is None or self.market_cap is None:
            raise InputError(f"{where}: give ev_sales (EV / revenue, e.g. 13.2), or revenue with market_cap")
        for k in ("revenue", "market_cap"):
            v = getattr(self, k)
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"{where}: {k} = {v} must be an amount > 0 (in company.money_unit)")
        return self


class Config(_Base):
    """A whole validated config. Build it with :func:`load_config` or :func:`config_from_dict`."""

    company: Company
    market: Market
    balance_sheet: BalanceSheet = BalanceSheet()
    segments: list[Segment] = Field(min_length=1)
    margin: Margin
    tax: Tax
    reinvestment: Reinvestment
    cost_of_capital: CostOfCapital
    terminal: Terminal = Terminal()
    multiple: Multiple
    dilution: Dilution = Dilution()
    financing: Financing = Financing()
    failure: Failure = Failure()
    simulation: Simulation = Simulation()
    correlations: Correlations = Correlations()
    peers: list[Peer] = []

    @model_validator(mode="after")
    def _cross(self):
        names = [s.name for s in self.segments]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise InputError(f"segment names must be unique; repeated: {sorted(dup)}")
        rec = self.failure.recovery
        if self.reinvestment.none and self.balance_sheet.invested_capital is None and not (
                rec.is_fixed and rec.median() == 0.0):
            raise InputError(
                "failure.recovery is a share of invested capital, but with reinvestment.sales_to_capital = 'none' "
                "there is no base revenue / sales-to-capital to start it from; give balance_sheet.invested_capital")
        h = self.simulation.horizon_years
        bad = [y for y in self.financing.closed_years if not 1 <= y <= h]
        if bad:
            raise InputError(
                f"financing.closed_years = {bad}: years must lie in 1..simulation.horizon_years = {h}"
            )
        known = {self.company.reporting_currency, self.company.trading_currency}
        for p in self.peers:
            for k in ("revenue_currency", "market_cap_currency"):
                c = getattr(p, k)
                if c is not None and c not in known:
                    raise InputError(
                        f"peers {p.name!r}: {k} = {c!r} is neither the reporting nor the trading currency "
                        f"({' nor '.join(sorted(known))}); convert the figure to one of them, or give ev_sales"
                    )
        oy = self.simulation.observed_years
        if oy is not None and oy > h:
            raise InputError(
                f"simulation.observed_years = {oy} exceeds simulation.horizon_years = {h}: only simulated fiscal "
                f"years can be observed; set observed_years to at most {h} (0 keeps none)"
            )
        f = self.company.elapsed_years
        if not f < h:
            raise InputError(
                f"company.valuation_date = {self.company.valuation_date.isoformat()} is {f:.4g} years after the end "
                f"of base_year = {self.company.base_year}, at or past the horizon (simulation.horizon_years = {h}): "
                "nothing is left to value; raise simulation.horizon_years or give a later base_year"
            )
        cc = self.cost_of_capital
        cf_cur, r_cur = self.company.reporting_currency, self.rate_currency
        if r_cur != cf_cur:
            rf = cc.risk_free or {}
            missing = [c for c in (r_cur, cf_cur) if c not in rf]
            if missing:
                raise InputError(
                    f"cost_of_capital.currency = {r_cur!r} differs from company.reporting_currency = {cf_cur!r} "
                    f"(the cash flows' currency), so the rates are converted by interest-rate parity, which needs "
                    f"the risk-free rate of both; cost_of_capital.risk_free has none for {' and '.join(missing)}: "
                    f"add cost_of_capital.risk_free = {{ {cf_cur} = <rate>, {r_cur} = <rate> }}"
                )
        return self

    @property
    def n_observed_years(self) -> int:
        """Fiscal years kept per path for updates: ``simulation.observed_years``, absent: min(3, horizon_years)."""
        oy = self.simulation.observed_years
        return min(3, self.simulation.horizon_years) if oy is None else int(oy)

    @property
    def rate_currency(self) -> str:
        """Currency of the discount rates as given: ``cost_of_capital.currency``, default the reporting currency."""
        return self.cost_of_capital.currency or self.company.reporting_currency

    @property
    def rate_parity(self) -> Optional[tuple[float, float]]:
        """``(rf_cash_flow, rf_rate)``: the risk-free rates that convert the discount rates to the cash flows'
        currency by interest-rate parity; None when the rates are given in the reporting currency."""
        if self.rate_currency == self.company.reporting_currency:
            return None
        rf = self.cost_of_capital.risk_free
        return rf[self.company.reporting_currency], rf[self.rate_currency]

    @property
    def discount_rates(self) -> str:
        """The currency of the discount rates, as the report states it.

        ``'CNY'``, or ``'HKD, converted to CNY by interest-rate parity (risk-free HKD 0.04, CNY 0.018)'``.
        """
        cf = self.company.reporting_currency
        if self.rate_parity is None:
            return cf
        rf_cf, rf_r = self.rate_parity
        return (f"{self.rate_currency}, converted to {cf} by interest-rate parity (risk-free {self.rate_currency} "
                f"{_fmt(rf_r)}, {cf} {_fmt(rf_cf)})")

    @property
    def holding_years(self) -> float:
        """The market lens's holding period, valuation date to horizon: ``horizon_years - elapsed_years`` [year]."""
        return self.simulation.horizon_years - self.company.elapsed_years

    # ------------------------------------------------------------------ helpers

    @property
    def n_steps(self) -> int:
        """Number of time steps N = horizon_years x steps_per_year."""
        return self.simulation.horizon_years * self.simulation.steps_per_year

    @property
    def money_mult(self) -> float:
        """Units of currency per money unit (1e6 for ``million``)."""
        return MONEY_UNITS[self.company.money_unit]

    @property
    def price(self) -> float:
        """Today's price: trading currency per share, or whole market cap (money units)."""
        return self.market.price if self.market.per_share else self.market.market_cap

    @property
    def market_cap_reporting(self) -> float:
        """Today's market capitalisation in reporting currency, money units."""
        m = self.market
        if m.per_share:
            cap_trading = m.price * m.shares * MONEY_UNITS[m.share_unit] / self.money_mult
        else:
            cap_trading = m.market_cap
        return cap_trading / self.company.fx_rate

    @property
    def to_price(self) -> float:
        """Factor from equity value (reporting currency, money units) to the price unit."""
        m = self.market
        if m.per_share:
            return self.money_mult * self.company.fx_rate / (m.shares * MONEY_UNITS[m.share_unit])
        return self.company.fx_rate

    @property
    def value_unit(self) -> str:
        """Unit of value per share, e.g. ``'HKD/share'`` or ``'HKD million (whole equity)'``."""
        if self.market.per_share:
            return f"{self.company.trading_currency}/share"
        return f"{self.company.trading_currency} {self.company.money_unit} (whole equity)"

    def parameters(self) -> list["ParamInfo"]:
        """Every numeric input, in a stable order, with its key path, spec and bounds."""
        return list(_walk(self, ""))

    def to_toml(self) -> str:
        """The normalised config as TOML text (distributions in their given form)."""
        return _to_toml(self.normalised_dict())

    def normalised_dict(self) -> dict:
        """The config as plain data (what :meth:`to_toml` writes)."""
        return _plain(self)

    def sha256(self) -> str:
        """sha256 of the normalised TOML: identifies the config in result files."""
        return hashlib.sha256(self.to_toml().encode()).hexdigest()

    def with_inputs(self, updates: Optional[dict] = None, **kw) -> "Config":
        """A new config with some keys set, validated like a loaded config (bounds included).

        The one way to derive a config (``model_copy(update=...)`` skips every check).

        Parameters
        ----------
        updates : dict of {str: value}, optional
            ``{dotted key: value}`` with the keys of the file: ``"tax.rate"``,
            ``"simulation.paths"``, ``"segments.maas.growth.today"`` (segments by
            name). A value may be a number, a percentage string, a distribution
            table, text, or a table for a whole section.
        **kw
            More updates, same form (``cfg.with_inputs(**{"tax.rate": 0.2})``).

        Returns
        -------
        Config
            The validated config; ``self`` is unchanged.

        Raises
        ------
        ConfigError
            A key that is not a section or setting of the config, or a result that
            fails validation (the message names the key, the value and the fix).

        Examples
        --------
        >>> cfg2 = cfg.with_inputs({"simulation.paths": 1000, "tax.rate": "20%"})  # doctest: +SKIP
        """
        import copy

        upd = {**(updates or {}), **kw}
        data = copy.deepcopy(self.normalised_dict())
        for key, val in upd.items():
            _set_key(data, str(key), val)
        # a changed method drops the settings the new method does not use (unless set here too)
        for key, val in upd.items():
            key = str(key)
            if not key.endswith(".method"):
                continue
            section = key[: -len(".method")]
            cls = _METHOD_SECTIONS.get(section.split(".")[-1] if section.startswith("segments.") else section)
            if cls is None:
                continue
            try:
                unused = cls.model_construct(method=type(cls.model_fields["method"].default)(val)).unused_fields()
            except ValueError:
                continue  # an unknown method: validation names it
            node = _get_node(data, section)
            for k in unused:
                if f"{section}.{k}" not in upd and isinstance(node, dict):
                    node.pop(k, None)
        return config_from_dict(data)

    def replace(self, **kw) -> "Config":
        """Same as :meth:`with_inputs` with keyword updates: ``cfg.replace(**{"tax.rate": 0.2})``."""
        return self.with_inputs(kw)


def _get_node(data: dict, key: str) -> Any:
    node: Any = data
    for p in key.split("."):
        if isinstance(node, list):
            node = next((x for x in node if isinstance(x, dict) and x.get("name") == p), None)
        elif isinstance(node, dict):
            node = node.get(p)
        if node is None:
            return None
    return node


def _set_key(data: dict, key: str, val: Any) -> None:
    """Set a dotted key of a config dict in place; segments are addressed by name."""
    parts = key.split(".")
    node: Any = data
    for i, p in enumerate(parts[:-1]):
        if isinstance(node, list):  # the segments list: by name
            match = [s for s in node if isinstance(s, dict) and s.get("name") == p]
            if not match:
                names = ", ".join(repr(s.get("name")) for s in node if isinstance(s, dict))
                raise ConfigError(f"cannot set {key!r}: no segment named {p!r}; segments are {names}")
            node = match[0]
            continue
        if p not in node:
            if i == 0 and p not in Config.model_fields:
                raise ConfigError(f"cannot set {key!r}: {p!r} is not a section of a config; sections are "
                                  + ", ".join(Config.model_fields))
            node[p] = {}
        node = node[p]
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"cannot set {key!r}: {'.'.join(parts[:i + 1])} is a value, not a table")
    if isinstance(node, list):
        raise ConfigError(f"cannot set {key!r}: name a segment (segments.NAME.KEY)")
    node[parts[-1]] = val


#: Sections that have a ``method`` (a segment's growth is ``segments.NAME.growth``).
_METHOD_SECTIONS = {"growth": Growth, "margin": Margin, "terminal": Terminal}


class ParamInfo(NamedTuple):
    """A numeric input: its key path (``segments.maas.growth.today``), spec and bounds."""

    key: str
    spec: Any
    bounds: Optional[Bounds]


def _bounds_of(finfo) -> Optional[Bounds]:
    """The Bounds metadata of a field, also inside ``Optional[Annotated[..., Bounds]]``."""
    import typing

    found = next((m for m in finfo.metadata if isinstance(m, Bounds)), None)
    stack = [finfo.annotation]
    while found is None and stack:
        t = stack.pop()
        found = next((m for m in getattr(t, "__metadata__", ()) if isinstance(m, Bounds)), None)
        stack.extend(typing.get_args(t))
    return found


def _walk(model: BaseModel, prefix: str) -> Iterator[ParamInfo]:
    for name, finfo in type(model).model_fields.items():
        val = getattr(model, name)
        key = f"{prefix}{name}"
        if isinstance(val, BaseModel) and hasattr(val, "ppf"):
            yield ParamInfo(key, val, _bounds_of(finfo))
        elif isinstance(val, BaseModel):
            yield from _walk(val, key + ".")
        elif isinstance(val, list) and val and isinstance(val[0], Segment):
            for seg in val:
                yield from _walk(seg, f"{key}.{seg.name}.")


#: (field, default) of opt-in settings left out of the normalised config when at their default.
_OPT_IN_DEFAULTS = {("allow_extreme_growth", False), ("revenue_model", "growth"), ("exit_basis", "revenue")}


def _plain(obj):
    if isinstance(obj, BaseModel) and hasattr(obj, "to_dict"):
        d = obj.to_dict()
        if d.get("kind") == "fixed" and "value" in d:
            return d["value"]
        return d
    if isinstance(obj, BaseModel):
        out = {}
        skip = obj.unused_fields() if isinstance(obj, _Base) else set()
        for name in type(obj).model_fields:
            v = getattr(obj, name)
            if v is None or name in skip or (isinstance(v, (bool, str)) and (name, v) in _OPT_IN_DEFAULTS) or (
                    name == "peers" and not v):
                continue  # (an unset opt-in is left out, so configs that do not use it keep their sha256)
            out[name] = _plain(v)
        return out
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def _to_toml(d: dict) -> str:
    lines: list[str] = []
    for section, body in d.items():
        if section == "peers":
            for peer in body:
                lines.append("[[peers]]")
                lines.extend(f"{k} = {_toml_value(v)}" for k, v in peer.items())
                lines.append("")
            continue
        if section == "segments":
            for seg in body:
                lines.append("[[segments]]")
                for k, v in seg.items():
                    if isinstance(v, dict) and not ("kind" in v or "p5" in v):
                        continue
                    lines.append(f"{k} = {_toml_value(v)}")
                for k, v in seg.items():
                    if isinstance(v, dict) and not ("kind" in v or "p5" in v):
                        lines.append(f"[segments.{k}]")
                        lines.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
                lines.append("")
            continue
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in body.items())
        lines.append("")
    return "\n".join(lines)


#: Config reference: ``section.key`` (segments: ``segments.KEY``) -> (type, default, meaning). The one source
#: of every field's description (its JSON Schema ``description``) and of the README's config reference table
#: (:func:`config_reference_markdown`).
_FIELD_DOCS: dict[str, tuple[str, str, str]] = {
    'company': ('', '', ''),
    'company.name': ('text', 'required', 'company name'),
    'company.ticker': ('text', 'none', 'optional'),
    'company.reporting_currency': ('ISO code', 'required', 'currency of the financials (`CNY`)'),
    'company.trading_currency': ('ISO code', 'reporting', 'currency of the share price (`HKD`)'),
    'company.fx_rate': ('number > 0', 'required if the currencies differ', 'trading-currency units per 1 reporting-currency unit on the valuation date (omit it, or give 1, when they are the same)'),
    'company.valuation_date': ('date', 'required', 'the date of the value (`2026-06-23`): flows are discounted to it; the first forecast year counts only its part after it, 1 - f with f = days since the base year\'s end / 365 (a stub); the balance sheet is as of this date'),
    'company.base_year': ('integer', 'last fiscal year completed', 'year 1 of the simulation is `base_year + 1`; a fiscal year (ending 31 December) completed by the valuation date, within 2 years before it'),
    'company.money_unit': ('`unit`, `thousand`, `million`, `billion`', '`million`', 'unit of every amount'),
    'company.sector': ('`software`, `ai`, `internet`, `consumer`, `industrial`, `financial`, `healthcare`, `energy`, `other`', 'none', 'selects the base rates of the report: software base rates (Rule of 40, EV/Sales, retention) are shown for `software` and `ai` only; none: shown with a note that the sector is not given'),
    'company.usd_fx_rate': ('number > 0', 'none (1 for USD)', 'USD per 1 reporting-currency unit; lets the report check the small-company base rate (base revenue under USD 325M)'),
    'market': ('', '', 'give `price` and `shares`, or `market_cap` alone'),
    'market.price': ('number > 0', '', 'trading currency per share'),
    'market.shares': ('number > 0', '', 'diluted shares, in `share_unit`'),
    'market.share_unit': ('as money_unit', '`million`', ''),
    'market.market_cap': ('number > 0', '', 'trading currency, money units; then "per share" means the whole equity and the report says so'),
    'balance_sheet': ('', '', ''),
    'balance_sheet.cash': ('P, >= 0', '0', 'at the valuation date'),
    'balance_sheet.debt': ('P, >= 0', '0', 'at the valuation date'),
    'balance_sheet.minority_interests': ('P, >= 0', '0', 'at the valuation date'),
    'balance_sheet.non_operating_assets': ('P, >= 0', '0', 'at the valuation date'),
    'balance_sheet.nol': ('P, >= 0', '0', 'tax loss carry-forward'),
    'balance_sheet.invested_capital': ('P, >= 0', 'revenue / sales-to-capital', 'base for the recovery value on failure'),
    'segments': ('', 'at least one', 'one table per segment'),
    'segments.name': ('identifier', 'required', 'names result variables (`maas`)'),
    'segments.revenue': ('P, >= 0', 'one required', 'base-year revenue, or an annualised run-rate (e.g. ARR) used as the base'),
    'segments.run_rate': ('P, >= 0', 'one required', 'base-year revenue, or an annualised run-rate (e.g. ARR) used as the base'),
    'segments.reported_revenue': ('number >= 0', 'none', 'with `run_rate`: the segment\'s reported revenue in the base year; the report measures revenue CAGR and EV/Sales from reported revenue (the simulation still starts from `run_rate`)'),
    'segments.revenue_model': ('`growth`, `market_share`', '`growth`', 'growth: revenue compounds with gross growth and churn; market_share: revenue = take_rate x market.size x share (Damodaran, Uber 2014); growth and churn are then refused'),
    'segments.market.size': ('P, > 0', 'required for market_share', 'gross billings of the whole market in the base year (money/year)'),
    'segments.market.growth': ('P, in (-1, 100]', 'required for market_share', 'annual market growth: market_t = size (1 + growth)^t'),
    'segments.market.volatility': ('P, >= 0', '0', 'sd of the log market size per sqrt(year); mean-preserving (E[market_t] = size (1 + growth)^t); uses the segment growth draw, no extra variate'),
    'segments.share.today': ('P, rate', 'required for market_share', 'market share in the base year'),
    'segments.share.target': ('P, rate', 'required for market_share', 'market share at the convergence year'),
    'segments.share.convergence_year': ('P, years', '10', 'share moves linearly from today to target by this year, constant after'),
    'segments.take_rate': ('P, in (0, 1]', 'required for market_share', 'fraction of gross billings the company keeps as revenue (Uber: 0.20)'),
    'segments.growth.method': ('`ou`, `linear_fade`', '`ou`', "mean-reverting process, or Damodaran's linear fade"),
    'segments.growth.today': ('P, in (-1, 100]', 'required', 'gross growth of the first forecast year, whatever steps_per_year (may exceed 1: 2.926 is +292.6%); with volatility, the expected growth if mean_preserving, else the median'),
    'segments.growth.long_run': ('P, in (-1, 1]', 'required', 'long-run gross growth that ln(1 + g) reverts (ou) or fades (linear_fade) to (net long-run growth is about (1 + long_run)(1 - churn) - 1)'),
    'segments.growth.half_life': ('P, years', '3', 'ou: half-life of the gap of the instantaneous ln(1 + g) to ln(1 + long_run), in continuous time (kappa = ln 2 / half_life); revenue grows by the exact integral of ln(1 + g) over each step'),
    'segments.growth.fade_year': ('P, years', '10', 'linear fade: year by which growth reaches long_run'),
    'segments.growth.volatility': ('P, >= 0', '0', 'ou: instantaneous volatility of ln(1 + g) per sqrt(year); each step samples the exact joint law of the growth and its integral, so the spread of revenue does not depend on steps_per_year'),
    'segments.growth.volatility_long_run': ('P, >= 0', '= volatility', 'level the volatility decays to'),
    'segments.growth.volatility_half_life': ('P, years', '5', 'half-life of the volatility gap (each step uses its root-mean-square volatility)'),
    'segments.growth.mean_preserving': ('bool', 'true', 'ou: subtract the convexity of the growth noise (and its covariance with the revenue shock) so that expected revenue is the deterministic path at every step; false: the deterministic path is the median and noise raises the mean'),
    'segments.churn.rate': ('P, rate', '0', 'annual churn (1 - gross revenue retention), median of the logit-normal'),
    'segments.churn.dispersion': ('P, >= 0', '0', 'sd of logit(churn) across fiscal years: churn is drawn once per fiscal year and applied to each of its steps, so its law does not depend on steps_per_year'),
    'segments.revenue_shock.volatility': ('P, >= 0', '0', 'Schwartz-Moon sigma of log revenue per sqrt(year)'),
    'segments.revenue_shock.volatility_long_run': ('P, >= 0', '= volatility', ''),
    'segments.revenue_shock.half_life': ('P, years', '5', 'decay of sigma'),
    'segments.revenue_shock.correlation': ('P, [-1, 1]', '0', 'with the growth shock'),
    'segments.revenue_shock.market_price_of_risk': ('P', '0', 'lambda: drift minus lambda sigma (risk-neutral valuation)'),
    'margin': ('', '', 'operating (EBIT) margin'),
    'margin.method': ('`linear`, `exponential`, `cost_structure`', '`linear`', ''),
    'margin.today': ('P, in [-1000, 1]', 'required for linear/exponential', '-6.5 is a valid margin; above 1 is not'),
    'margin.target': ('P, in [-1000, 1]', 'required for linear/exponential', '-6.5 is a valid margin; above 1 is not'),
    'margin.convergence_year': ('P, years', '10', 'linear: year the target is reached'),
    'margin.half_life': ('P, years', '3', 'exponential: half-life of the gap'),
    'margin.variable_cost_share': ('P, >= 0', 'required for cost_structure', 'costs that scale with revenue'),
    'margin.fixed_costs': ('P, >= 0', 'required for cost_structure', 'fixed costs per year today'),
    'margin.fixed_cost_growth': ('P, in (-1, 100]', '0', 'annual growth of fixed costs today; fades linearly to terminal.growth by fixed_cost_fade_year (or the horizon, if earlier)'),
    'margin.fixed_cost_fade_year': ('number > 0, years', '10', 'cost_structure: year by which fixed-cost growth has faded to terminal.growth (so the cost base is in steady state at the horizon)'),
    'margin.noise_sd': ('P, >= 0', '0', 'annual innovation sd of the AR(1) margin noise (stationary sd noise_sd / sqrt(1 - persistence^2), whatever `steps_per_year`)'),
    'margin.noise_persistence': ('P, [0, 1)', '0.5', 'AR(1) coefficient per year'),
    'margin.maximum': ('P, <= 1', '1', 'cap on the margin'),
    'tax': ('P, rate', 'required', 'marginal tax rate'),
    'tax.rate': ('P, rate', 'required', 'marginal tax rate (the terminal year is always taxed at it)'),
    'tax.effective': ('P, rate', '= rate', 'effective tax rate today; it applies until convergence_start_year, then moves linearly to rate by convergence_year (Damodaran ginzu)'),
    'tax.convergence_start_year': ('number', '5', 'last year taxed at the effective rate (needs effective)'),
    'tax.convergence_year': ('number', '10', 'first year taxed at the marginal rate (needs effective)'),
    'tax.nol_expiry_years': ('integer >= 1', 'never expires', 'years a tax loss is carried forward: a loss of fiscal year o offsets profits up to year o + E and then lapses, oldest losses used first; the opening balance_sheet.nol counts as a loss of the base year (lapses at the end of year E); PRC: 5, 10 for a high and new technology enterprise'),
    'reinvestment': ('P, >= 0.01', 'required', 'revenue per unit of capital invested'),
    'reinvestment.sales_to_capital': ('P, >= 0.01, or `"none"`', 'required', 'revenue per unit of capital invested: reinvestment = change in revenue / sales_to_capital; "none": no reinvestment, invested capital stays at its starting value'),
    'cost_of_capital': ('', '', ''),
    'cost_of_capital.initial': ('P, rate > 0', 'required', 'WACC today and at maturity'),
    'cost_of_capital.mature': ('P, rate > 0', 'required', 'WACC today and at maturity'),
    'cost_of_capital.fade_start_year': ('numbers', '5, 10', 'WACC stays at `initial` until the start, reaches `mature` at the end'),
    'cost_of_capital.fade_end_year': ('numbers', '5, 10', 'WACC stays at `initial` until the start, reaches `mature` at the end'),
    'cost_of_capital.cost_of_equity': ('P, rate', '= initial', 'hurdle of the market lens'),
    'cost_of_capital.mid_year': ('bool', 'false', 'mid-year discounting: each step\'s flow at the middle of its part after the valuation date (the stub at (1 - f) / 2, later years at t - f - 0.5)'),
    'cost_of_capital.currency': ('ISO code', '= company.reporting_currency', 'currency of initial, mature, cost_of_equity and terminal.wacc; when it differs from the reporting currency each (each draw) is converted to it by interest-rate parity, (1 + r)(1 + rf_reporting) / (1 + rf_currency) - 1 (terminal.growth and return_on_capital are in the reporting currency)'),
    'cost_of_capital.risk_free': ('table of rates by currency', 'none', 'risk-free rates, e.g. `{ CNY = 0.018, HKD = 0.04 }`: both currencies are needed when `currency` differs from the reporting currency; the reporting currency\'s rate also checks terminal.growth (a warning above it); each > -1'),
    'terminal': ('', '', ''),
    'terminal.method': ('`gordon`, `exit_multiple`', '`gordon`', ''),
    'terminal.growth': ('P, in (-1, 0.25]', '0.03', 'stable growth after the horizon'),
    'terminal.wacc': ('P, rate', '= cost_of_capital.mature', 'stable cost of capital'),
    'terminal.return_on_capital': ('P, > 0', '= stable WACC', 'stable ROC: reinvestment rate g / ROC'),
    'terminal.min_spread': ('number in (0, 1)', '0.01', 'minimum stable WACC - growth'),
    'terminal.exit_multiple': ('P, > 0', 'the simulated multiple (revenue basis); required for the ebit basis', 'the exit multiple of `exit_multiple`: EV/Sales, or EV/EBIT with exit_basis = ebit'),
    'terminal.exit_basis': ('`revenue`, `ebit`', '`revenue`', 'exit_multiple: TV = multiple x revenue, or multiple x EBIT of the last year (the model has no D&A, so EBIT stands for EBITDA); a horizon EBIT <= 0 is valued at liquidation: recovery x invested capital'),
    'terminal.on_loss': ('`liquidate`, `perpetuity`', '`liquidate`', 'a surviving path whose terminal NOPAT (Gordon) or exit value is negative: valued at failure.recovery x invested capital at the horizon and counted (`liquidate`), or at its negative Gordon value (`perpetuity`); a negative NOPAT never releases capital'),
    'multiple': ('', '', 'EV/Sales path (market lens; exit multiple)'),
    'multiple.today': ('P, > 0', 'market EV / base revenue', "today's EV/Sales"),
    'multiple.mature': ('P, > 0', 'required', 'anchor at stable growth'),
    'multiple.growth_beta': ('P', '0', 'anchor = mature x exp(beta (g_t - g_stable))'),
    'multiple.half_life': ('P, years', '2', 'half-life of the premium over the anchor'),
    'multiple.volatility': ('P, >= 0', '0', 'annual sd of the shock to the log premium over the anchor (scaled exactly for shorter steps)'),
    'dilution': ('', '', 'stock-based compensation (SBC), counted once'),
    'dilution.sbc': ('`expense`, `dilution`', '`expense`', 'SBC is a cost inside the margin (`expense`: shares grow only with equity raised) or excluded from it and diluting the shares at sbc_rate in both lenses (`dilution`)'),
    'dilution.sbc_rate': ('P, rate', 'required for `dilution`, refused for `expense`', 'annual share-count growth from SBC; an old config giving it without dilution.sbc is refused with the choice to make'),
    'financing': ('', '', ''),
    'financing.cash_floor': ('P, >= 0', '0', 'raise equity when cash falls below it'),
    'financing.buffer_years': ('P, >= 0', '1', 'each raise also funds this many years of the current burn'),
    'financing.issue_discount': ('P, [0, 1)', '0.1', 'discount to the simulated market price'),
    'financing.cash_rate': ('P, in [-0.5, 1]', '0', 'interest earned on cash'),
    'financing.closed': ('bool', 'false', 'no equity can ever be raised'),
    'financing.closed_years': ('list of years', '[]', 'years (1..horizon) with the window shut'),
    'failure': ('', '', ''),
    'failure.annual_probability': ('P, [0, 1)', '0', 'exogenous failure hazard per year'),
    'failure.recovery': ('P, rate', '0', 'share of invested capital recovered on failure'),
    'failure.probability': ('P, [0, 1)', 'none', 'one-shot probability of failure applied as a weight: value = (1 - p) x going-concern value + p x recovery x invested capital today (Damodaran); not with annual_probability'),
    'failure.limited_liability': ('bool', 'false', "floor each path's equity at 0 (the report counts floored paths)"),
    'simulation': ('', '', ''),
    'simulation.paths': ('integer', '100,000', 'overridden by `--paths`'),
    'simulation.seed': ('integer', '20260623', 'overridden by `--seed`'),
    'simulation.horizon_years': ('integer 1-100', '10', ''),
    'simulation.steps_per_year': ('integer 1-12', '1', ''),
    'simulation.sampling': ('`random`, `lhs`, `sobol`', '`random`', 'per-path parameter design (per block)'),
    'simulation.block_size': ('integer', '65,536', 'part of the seed contract'),
    'simulation.observed_years': ('integer 0-horizon_years', '3 (the horizon if shorter)', 'fiscal years whose revenue by segment, EBIT, FCFF and cash every run keeps per path, so `pricedin update` works on a summary-mode run; 8 x (segments + 3) bytes a path a year; 0 keeps none'),
    'simulation.stress_scenarios': ('path', '`stress/<config stem>.toml` next to the config', 'the default scenario file of `pricedin stress`'),
    'simulation.allow_extreme_growth': ('bool', 'false', 'allow growth-type inputs (growth.today, growth.long_run, margin.fixed_cost_growth, stress growth shocks) above 100% a year; without it, such an input (5.0 typed for 5%) is refused'),
    'correlations': ('', '', 'Spearman rank correlations (Gaussian copula, Pearson = 2 sin(pi rho_s / 6))'),
    'correlations.pairs': ('list of `[key, key, rho]`', '[]', 'e.g. `["margin.target", "multiple.mature", 0.5]`'),
    'correlations.inputs': ('list of keys, square matrix', '', 'the full-matrix form'),
    'correlations.matrix': ('list of keys, square matrix', '', 'the full-matrix form'),
    'correlations.repair': ('bool', 'false', 'replace a matrix that is not positive semi-definite by the nearest valid one (Higham 2002); otherwise it is rejected and the nearest valid matrix is printed'),
    'peers': ('', 'none', 'optional listed peers: the report values the company at each peer\'s EV/Sales (on base-year reported revenue, through the equity bridge) and places that value in the simulated distribution'),
    'peers.name': ('text', 'required', 'peer name'),
    'peers.ev_sales': ('number > 0', 'or revenue + market_cap', 'the peer\'s EV / revenue'),
    'peers.revenue': ('number > 0', '', 'the peer\'s revenue, money units'),
    'peers.revenue_currency': ('ISO code', 'reporting currency', 'one of the config\'s two currencies'),
    'peers.market_cap': ('number > 0', '', 'the peer\'s market capitalisation, money units'),
    'peers.market_cap_currency': ('ISO code', 'trading currency', 'one of the config\'s two currencies'),
    'peers.net_debt': ('number', '0', 'the peer\'s debt - cash, in market_cap_currency: EV = market_cap + net_debt'),
}

_MODEL_OF_SECTION = None


def _section_models() -> dict:
    return {
        "company": Company, "market": Market, "balance_sheet": BalanceSheet, "segments": Segment,
        "margin": Margin, "tax": Tax, "reinvestment": Reinvestment, "cost_of_capital": CostOfCapital,
        "terminal": Terminal, "multiple": Multiple, "dilution": Dilution, "financing": Financing,
        "failure": Failure, "simulation": Simulation, "correlations": Correlations, "peers": Peer,
    }


def _field_paths() -> Iterator[tuple[str, type, str]]:
    """(doc key, model class, field name) of every config field, in file order."""
    for section, model in _section_models().items():
        for name, finfo in model.model_fields.items():
            sub = {"growth": Growth, "churn": Churn, "revenue_shock": RevenueShock, "market": SegmentMarket,
                   "share": Share}.get(name) if model is Segment else None
            if sub is not None:
                for n2 in sub.model_fields:
                    yield f"segments.{name}.{n2}", sub, n2
            else:
                yield f"{section}.{name}", model, name


def _describe(key: str, finfo) -> str:
    typ, default, meaning = _FIELD_DOCS[key]
    b = _bounds_of(finfo)
    parts = [(meaning.replace("`", "") or key.rsplit(".", 1)[-1].replace("_", " ")).rstrip(".") + "."]
    parts.append(f"Type: {typ.replace('`', '')}" + ("" if b is None else f", allowed range {_range_text(b)}") + ".")
    if default:
        parts.append(f"Default: {default.replace('`', '')}.")
    if typ.startswith("P"):
        parts.append("P: a fixed number or a distribution table.")
    return " ".join(parts)


def _attach_descriptions() -> None:
    """Set every config field's ``description`` from :data:`_FIELD_DOCS` (read by the JSON Schema).

    Only the fields' ``description`` is set (at import; validation never reads it); the models whose JSON
    Schema shows it are rebuilt by :func:`_schema_models_rebuilt`, when a schema is first asked for (a
    rebuild of the config models takes some 30 ms that a run does not need).
    """
    for key, model, name in _field_paths():
        model.model_fields[name].description = _describe(key, model.model_fields[name])
    for section, model in _section_models().items():
        if section in _FIELD_DOCS and _FIELD_DOCS[section][2]:
            Config.model_fields[section].description = _FIELD_DOCS[section][2]


_SCHEMA_REBUILT: list = []


def _schema_models_rebuilt() -> None:
    """Rebuild the config models once, so that their JSON Schema carries the fields' descriptions."""
    if not _SCHEMA_REBUILT:
        for m in (Growth, Churn, RevenueShock, SegmentMarket, Share, *_section_models().values(), Config):
            m.model_rebuild(force=True)
        _SCHEMA_REBUILT.append(True)



def config_json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a config file, with each field's unit, bounds and default.

    For editors (a YAML or TOML language server): ``pricedin schema > pricedin.schema.json``.

    Returns
    -------
    dict
        ``Config.model_json_schema()`` with a title and ``$schema``.
    """
    _schema_models_rebuilt()
    s = Config.model_json_schema()
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["title"] = "pricedin config"
    return s


_README_START = "<!-- config-reference:start (generated by `python -m engine.config --write-readme`) -->"
_README_END = "<!-- config-reference:end -->"


def config_reference_markdown() -> str:
    """The README's config reference table, generated from :data:`_FIELD_DOCS` (the field descriptions)."""
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    seen_sections = set()
    for key, _model, _name in _field_paths():
        section = key.split(".")[0]
        if section not in seen_sections:
            seen_sections.add(section)
            head = f"[[{section}]]" if section in ("segments", "peers") else f"[{section}]"
            typ, default, meaning = _FIELD_DOCS.get(section, ("", "", ""))
            out.append(f"| **{head}** | {typ} | {default} | {meaning} |")
        shown = key.split(".", 1)[1]
        typ, default, meaning = _FIELD_DOCS[key]
        out.append(f"| `{shown}` | {typ} | {default} | {meaning} |")
    return "\n".join(out)


def write_readme(path=None) -> bool:
    """Regenerate the config reference table in README.md; True if the file changed."""
    p = Path(path) if path else Path(__file__).resolve().parents[1] / "README.md"
    text = p.read_text(encoding="utf-8")
    i, j = text.index(_README_START) + len(_README_START), text.index(_README_END)
    new = text[:i] + "\n" + config_reference_markdown() + "\n" + text[j:]
    if new != text:
        p.write_text(new, encoding="utf-8")
    return new != text



# --------------------------------------------------------------------------- loading


class _YamlLoader:
    """PyYAML SafeLoader with the YAML 1.2 core schema's implicit types, refusing duplicate keys.

    PyYAML implements YAML 1.1, whose implicit typing changes what was written:
    ``ON`` / ``yes`` / ``off`` / ``NO`` become booleans, ``0700`` the octal 448,
    ``1:30`` the sexagesimal 90, ``2026-06-23`` a date and ``1e6`` a string. This
    loader resolves plain scalars by the YAML 1.2 core schema (YAML 1.2.2,
    section 10.3.2) instead: ``null`` / ``~`` / empty are null; only
    ``true`` / ``false`` (any of three capitalisations) are booleans; integers are
    decimal, ``0o`` octal or ``0x`` hexadecimal; floats include ``1e6`` and
    ``.inf`` / ``.nan``; everything else (``ON``, ``NO``, ``1:30``, dates) is a
    string (digit separators ``1_000`` are read as before). A decimal integer with a leading zero (``0700``) is refused with the
    advice to quote it: it is text such as a Hong Kong ticker, or a typo.

    YAML 1.2 requires mapping keys to be unique; PyYAML keeps the last value
    silently, so a second ``price:`` would quietly replace the first (TOML
    refuses it too). Merge keys (``<<: *anchor``) still work.
    """

    _cls = None

    @classmethod
    def get(cls):
        if cls._cls is None:
            import yaml

            class Loader(yaml.SafeLoader):
                yaml_implicit_resolvers: dict = {}

                def construct_mapping(self, node, deep=False):
                    seen = {}
                    for key_node, _ in node.value:
                        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: merged, not a key
                            continue
                        key = self.construct_object(key_node, deep=deep)
                        if not isinstance(key, (str, int, float, bool)):
                            continue
                        tagged = (type(key), key)  # true and 1 are different keys
                        if tagged in seen:
                            raise yaml.constructor.ConstructorError(
                                "while reading a mapping", node.start_mark,
                                f"duplicate key {key!r} (first at line {seen[tagged] + 1}); keep one of them",
                                key_node.start_mark)
                        seen[tagged] = key_node.start_mark.line
                    return super().construct_mapping(node, deep=deep)

                def construct_yaml_int(self, node):
                    text = self.construct_scalar(node)
                    t = text.replace("_", "")
                    sign = -1 if t.startswith("-") else 1
                    body = t.lstrip("+-")
                    if body.startswith(("0o", "0O")):
                        return sign * int(body[2:], 8)
                    if body.startswith(("0x", "0X")):
                        return sign * int(body[2:], 16)
                    if len(body) > 1 and body.startswith("0") and node.style is None and node.tag == _LEADING0:
                        raise yaml.constructor.ConstructorError(
                            None, None,
                            f"{text} has a leading zero, which is ambiguous"
                            + (f" (YAML 1.1 reads it as the octal number {int(body, 8)}, YAML 1.2 as "
                               f"{int(body)})" if set(body) <= set("01234567") else "")
                            + f"; quote it ('{text}') if it is text such as a ticker, or write {int(body)} "
                            "if it is the number",
                            node.start_mark)
                    return sign * int(body)

            _LEADING0 = "tag:pricedin,2026:leading-zero"
            Loader.add_implicit_resolver(
                "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
            Loader.add_implicit_resolver(
                "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
            Loader.add_implicit_resolver(_LEADING0, re.compile(r"^[-+]?0[0-9_]+$"), list("-+0"))
            Loader.add_implicit_resolver(
                "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+)$"),
                list("-+0123456789"))
            Loader.add_implicit_resolver(
                "tag:yaml.org,2002:float",
                re.compile(r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
                           r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
                list("-+.0123456789"))
            Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])
            Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_yaml_int)
            Loader.add_constructor(_LEADING0, Loader.construct_yaml_int)
            cls._cls = Loader
        return cls._cls


def read_config_file(path) -> dict:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file into a dict.

    Raises
    ------
    ConfigError
        The file is missing or not parseable; the message gives the line.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file {str(p)!r} does not exist; give the path to a .toml or .yaml config")
    if p.is_dir():
        raise ConfigError(f"config path {str(p)!r} is a directory; give a .toml or .yaml file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(p)!r} is not UTF-8 text; give a .toml or .yaml config") from None
    if not text.strip():
        raise ConfigError(f"config file {str(p)!r} is empty; see configs/zhipu.toml for a complete example")
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.load(text, Loader=_YamlLoader.get())  # noqa: S506 - SafeLoader subclass
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
    elif suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML: {e}") from None
    else:
        raise ConfigError(f"config file {str(p)!r}: unknown extension {suffix!r}; use .toml, .yaml or .yml")
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a table of sections, got {type(data).__name__}")
    if "scenarios" in data and "company" not in data:
        raise ConfigError(f"{p} is a stress scenario file, not a company config; give it to "
                          f"`pricedin stress CONFIG --scenarios {p}`")
    return data


def load_config(path, overrides: Optional[dict] = None) -> Config:
    """Load and validate a config file.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` or ``.yaml`` file.
    overrides : dict, optional
        ``{"simulation.paths": 1000, ...}``: values set by key path before validation
        (used by the CLI's ``--paths`` and ``--seed``).

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        Any invalid input; the message names the key, the value and the fix.
    """
    data = read_config_file(path)
    for k, v in (overrides or {}).items():
        node = data
        *head, last = k.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = v
    try:
        return config_from_dict(data)
    except ConfigError as e:
        msg = str(e)
        if msg.startswith("invalid config:"):  # name the file (a batch run reads several)
            msg = f"invalid config {str(path)!r}:" + msg[len("invalid config:"):]
        raise ConfigError(msg) from None


def config_from_dict(data: dict) -> Config:
    """Validate a config given as a dict (the parsed TOML).

    Raises
    ------
    ConfigError
        Any invalid input; the message names the key, the value and the fix.
    """
    data = _index_segments(data)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, data)) from None
    _check_bounds(cfg)
    _check_degenerate(cfg)
    _check_extreme_growth(cfg)
    _check_terminal(cfg)
    _check_multiple(cfg)
    _check_correlations(cfg)
    return cfg


def _index_segments(data: dict) -> dict:
    # segments may be written as [[segments]] (a list) or [segments.NAME] tables.
    segs = data.get("segments")
    if isinstance(segs, dict):
        data = dict(data)
        data["segments"] = [{"name": k, **v} if isinstance(v, dict) else v for k, v in segs.items()]
    return data


def _loc_to_key(loc: tuple, data: Any) -> str:
    """The dotted config key of a pydantic error location, as the user wrote it.

    Segments are named (``segments.maas``, not ``segments.1``); pydantic's union,
    validator and discriminator tags (``function-after[...]``, ``Fixed``, the
    distribution kind ``triangular``) are dropped, so a bad ``min`` of
    ``debt = { kind = "triangular", ... }`` is ``balance_sheet.debt.min``.
    """
    parts: list[str] = []
    node: Any = data
    i = 0
    while i < len(loc):
        p = loc[i]
        if isinstance(p, int) and parts and parts[-1] == "segments":
            try:
                parts.append(str(node[p].get("name", p)))
                node = node[p]
            except Exception:
                parts.append(str(p))
            i += 1
            continue
        if isinstance(p, str) and (p[:1].isupper() or "[" in p or p in ("function-after", "function-before")):
            i += 1  # union / validator tags in pydantic locations
            continue
        if isinstance(p, str) and p in KINDS and isinstance(node, dict) and p not in node:
            i += 1  # the discriminated union's tag (the distribution kind), not a key of the file
            continue
        parts.append(str(p))
        if isinstance(node, dict):
            node = node.get(p, {})
        elif isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
        else:
            node = {}
        i += 1
    return ".".join(parts)


def _show(v: Any) -> str:
    """A value as the user wrote it in the file: text quoted, dates ISO, numbers plain, no Python reprs."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nothing (null)"
    if isinstance(v, (_dt.date, _dt.time, _dt.datetime)):
        return v.isoformat()
    if isinstance(v, float):
        return _fmt(v) if math.isfinite(v) else str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, dict):
        try:
            return _toml_value(v)
        except TypeError:
            pass
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return str(v)


def format_validation_error(e: ValidationError, data: Any, header: str = "invalid config:",
                            key_of=None, extra_key=None) -> str:
    """Turn a pydantic ValidationError into lines ``key = value: problem; fix``.

    The one formatter of validation errors for configs and stress scenario files:
    keys are those of the file (:func:`_loc_to_key`), values are shown as written
    (``10:00:00``, not ``datetime.time(10, 0)``), and pydantic's own decorations
    (``[type=..., input_value=...]``, web addresses, ``Value error,``) never
    reach the user.

    Parameters
    ----------
    e : pydantic.ValidationError
    data : dict
        The validated input (to name segments and list items).
    header : str
        First line of the message.
    key_of : callable(loc, data) -> str, optional
        Key of an error location; default :func:`_loc_to_key`.
    extra_key : callable(key) -> str, optional
        Line for an unknown key; default names the key and its section.

    Returns
    -------
    str
        ``header`` followed by one indented line per distinct problem.
    """
    key_of = key_of or _loc_to_key
    lines = []
    for err in e.errors(include_url=False):
        key = key_of(tuple(err["loc"]), data)
        typ = err["type"]
        msg = clean_message(err["msg"])
        inp = err.get("input")
        if typ == "extra_forbidden":
            if extra_key is not None:
                line = extra_key(key)
            else:
                parent = key.rsplit(".", 1)[0] if "." in key else "(top level)"
                line = (f"unknown key {key!r}: not a setting of [{parent}]; check the spelling (see the config "
                        "reference in README)")
        elif typ == "missing":
            line = f"missing required key {key!r}; add it (see the config reference in README)"
        elif typ == "too_short" and key == "segments":
            line = "segments: no segment is given; add at least one [[segments]] table with name, revenue and growth"
        elif typ in ("model_type", "model_attributes_type", "dict_type"):
            line = f"{key}: expected a table ([{key}] in TOML, a mapping in YAML), got {_show(inp)}"
        elif typ in ("bool_type", "bool_parsing"):
            line = f"{key} = {_show(inp)}: expected true or false"
        elif typ in ("string_type", "str_type"):
            line = f"{key} = {_show(inp)}: expected text; write it in quotes"
        elif typ in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
            line = f"{key} = {_show(inp)}: expected a number; {msg}"
        else:
            shown = "" if isinstance(inp, (dict, list)) else f" = {_show(inp)}"
            line = f"{key}{shown}: {msg}" if key else msg
        if line not in lines:
            lines.append(line)
    return header + "\n  " + "\n  ".join(lines)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _range_text(b: Bounds) -> str:
    return f"{'(' if b.lo_open else '['}{_fmt(b.lo)}, {_fmt(b.hi)}{')' if b.hi_open else ']'}"


def _outside(lo: float, hi: float, b: Bounds) -> tuple[bool, bool]:
    return (lo < b.lo or (b.lo_open and lo <= b.lo)), (hi > b.hi or (b.hi_open and hi >= b.hi))


def _check_bounds(cfg: Config) -> None:
    """Every input's draws must lie in its allowed range.

    The range checked is the practical one, ``spec.bounds(1e-9)`` (the 1e-9 tails
    on an unbounded side); where that reaches an allowed bound only at a support
    end (a beta with alpha < 1 has support [0, 1] but P(X = 1) = 0), the draws'
    true range (:meth:`DistributionSpec.draw_range`, the quantiles of the extreme
    uniforms the sampler produces) decides, and the message states it.
    """
    errors = []
    for info in cfg.parameters():
        b = info.bounds
        if b is None:
            continue
        lo, hi = info.spec.bounds(1e-9)
        bad_lo, bad_hi = _outside(lo, hi, b)
        if (bad_lo or bad_hi) and not info.spec.is_fixed:
            s_lo, s_hi = info.spec.support()
            d_lo, d_hi = info.spec.draw_range()
            lo = d_lo if (bad_lo and math.isfinite(s_lo)) else lo
            hi = d_hi if (bad_hi and math.isfinite(s_hi)) else hi
            bad_lo, bad_hi = _outside(lo, hi, b)
        if not (bad_lo or bad_hi):
            continue
        shown = _spec_text(info.spec)
        rng = _range_text(b)
        if b.rate and bad_hi and hi > 1.0 and hi <= 100.0:
            fix = f"rates are fractions: write {_fmt(hi / 100)} or \"{_fmt(hi)}%\" if you meant {_fmt(hi)}%"
        elif info.spec.is_fixed:
            fix = f"give {b.what} in {rng}"
        else:
            fix = (
                f"its draws reach [{_fmt(lo)}, {_fmt(hi)}]; give {b.what} in {rng}, e.g. a truncnormal or pert "
                "bounded inside that range"
            )
        errors.append(f"{info.key} = {shown}: outside {rng}; {fix}")
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


# --------------------------------------------------------------------------- extreme growth

#: Growth-type inputs drawn above this (100% a year) on more than 1% of paths are
#: refused unless ``simulation.allow_extreme_growth = true``: ``5.0`` meant as 5%
#: is 500% a year.
EXTREME_GROWTH = 1.0
#: Key suffixes of the growth-type inputs (fractions per year).
GROWTH_KEYS = ("growth.today", "growth.long_run", "margin.fixed_cost_growth", "market.growth")


def _is_growth_key(key: str) -> bool:
    return any(key == k or key.endswith("." + k) for k in GROWTH_KEYS)


def _extreme_growth_text(key: str, spec) -> Optional[str]:
    """A message if ``spec`` draws growth above EXTREME_GROWTH on more than 1% of paths, else None."""
    p99 = spec.median() if spec.is_fixed else spec.quantile(0.99)
    if not p99 > EXTREME_GROWTH:
        return None
    what = f"{key} = {_fmt(p99)}" if spec.is_fixed else f"{key} = {_spec_text(spec)} (99th percentile {_fmt(p99)})"
    pct = _fmt(p99 * 100)
    return (f"{what}: {_fmt(p99)} means {pct}% a year; write {_fmt(p99 / 100)} or \"{_fmt(p99)}%\" for "
            f"{_fmt(p99)}%")


def _check_extreme_growth(cfg: Config) -> None:
    if cfg.simulation.allow_extreme_growth:
        return
    errors = [m for info in cfg.parameters() if _is_growth_key(info.key)
              for m in [_extreme_growth_text(info.key, info.spec)] if m]
    if errors:
        raise ConfigError(
            "invalid config:\n  " + "\n  ".join(errors)
            + f"\n  growth above {EXTREME_GROWTH:.0%} a year is refused unless the config says it means it: "
            "if it is real (hypergrowth), set simulation.allow_extreme_growth = true"
        )


# --------------------------------------------------------------------------- degenerate numbers

_TINY = sys.float_info.min  # smallest normal double, 2.2250738585072014e-308
#: Money inputs above this many money units are refused: larger than any company (1e18 units is a billion
#: billion), and sums over paths of values derived from them overflow (balance_sheet.debt = 1e308).
_HUGE = 1e18


def _degenerate(x: float) -> Optional[str]:
    if not math.isfinite(x):
        return "is not finite (it overflows)"
    if x != 0.0 and abs(x) < _TINY:
        return f"is subnormal (below {_TINY:.3g}, the smallest normal double), so quantities derived from it overflow"
    return None


def _check_degenerate(cfg: Config) -> None:
    """Refuse scale inputs (base revenue, price, shares, market cap, fx) that are subnormal, and derived
    quantities (market cap in reporting currency, the price factor, today's EV/Sales) that overflow or are
    subnormal: a base revenue of 1e-320 makes today's EV/Sales infinite."""
    errors = []
    for info in cfg.parameters():
        if not info.key.endswith((".revenue", ".run_rate")):
            continue  # the scale inputs: other tiny numbers (a NOL of 1e-310) derive nothing that overflows
        for what, x in (("median", info.spec.median()),):
            why = _degenerate(x)
            if why:
                errors.append(f"{info.key} = {_spec_text(info.spec)}: its {what} {_fmt(x)} {why}; give it in "
                              "company.money_unit (e.g. 0.5 for half a million when money_unit = \"million\") or 0")
    for info in cfg.parameters():
        money = info.key.startswith("balance_sheet.") or info.key.endswith(
            (".revenue", ".run_rate", "margin.fixed_costs", ".market.size"))
        if not money:
            continue
        lo, hi = info.spec.bounds(1e-9)
        big = max(abs(lo), abs(hi))
        if big > _HUGE:
            errors.append(f"{info.key} = {_spec_text(info.spec)}: {_fmt(big)} money units is larger than any company "
                          f"(above {_HUGE:.0e}), and sums and means over paths derived from it overflow; give it in "
                          "company.money_unit (e.g. 2500 for 2.5bn when money_unit = \"million\")")
    m, c = cfg.market, cfg.company
    for key, x in (("market.price", m.price), ("market.shares", m.shares), ("market.market_cap", m.market_cap),
                   ("company.fx_rate", c.fx_rate)):
        if x is None:
            continue
        why = _degenerate(x)
        if why:
            errors.append(f"{key} = {_fmt(x)}: {why}; give it in its unit (market.share_unit, company.money_unit)")
    if not errors:
        derived = [("today's market capitalisation (reporting currency, money units)", cfg.market_cap_reporting,
                    "market.price x market.shares / company.fx_rate"),
                   ("the factor from equity value to the price unit", cfg.to_price,
                    "company.fx_rate / market.shares")]
        rev = sum(s.base.median() for s in cfg.segments)
        if cfg.multiple.today is None and rev > 0:
            bs = cfg.balance_sheet
            ev = (cfg.market_cap_reporting - bs.cash.median() + bs.debt.median() + bs.minority_interests.median()
                  - bs.non_operating_assets.median())
            derived.append(("today's EV/Sales", ev / rev if rev >= _TINY else math.inf,
                            "the segments' base revenue (segments.NAME.revenue / run_rate)"))
        for what, x, inputs in derived:
            why = _degenerate(x)
            if why:
                errors.append(f"{what} = {_fmt(x)} {why}; check the units of {inputs} (company.money_unit, "
                              "market.share_unit)")
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))


def _spec_text(spec) -> str:
    d = spec.to_dict()
    if d.get("kind") == "fixed":
        return _fmt(d["value"])
    return _toml_value(d)


def _check_terminal(cfg: Config) -> None:
    t = cfg.terminal
    if t.method != TerminalMethod.GORDON:
        return
    w_key = "terminal.wacc" if t.wacc is not None else "cost_of_capital.mature"
    w = t.wacc if t.wacc is not None else cfg.cost_of_capital.mature
    r, g = w.median(), t.growth.median()
    if not (w.is_fixed and t.growth.is_fixed) and r - g < t.min_spread:
        raise ConfigError(
            f"invalid config:\n  {w_key} (median {_fmt(r)}) and terminal.growth (median {_fmt(g)}): the typical "
            f"spread {_fmt(r - g)} is below terminal.min_spread = {_fmt(t.min_spread)}, so most paths would be "
            "clipped; lower terminal.growth or raise the stable WACC"
        )
    if w.is_fixed and t.growth.is_fixed:
        if r - g < t.min_spread:
            raise ConfigError(
                f"invalid config:\n  {w_key} = {_fmt(r)} and terminal.growth = {_fmt(g)}: the spread "
                f"{w_key} - terminal.growth = {_fmt(r - g)} is below terminal.min_spread = {_fmt(t.min_spread)}; "
                "the Gordon terminal value needs the stable cost of capital above stable growth: lower "
                "terminal.growth or raise the stable WACC"
            )


def _check_multiple(cfg: Config) -> None:
    if cfg.multiple.today is not None:
        return
    bs = cfg.balance_sheet
    ev = (
        cfg.market_cap_reporting
        - bs.cash.median()
        + bs.debt.median()
        + bs.minority_interests.median()
        - bs.non_operating_assets.median()
    )
    rev = sum(s.base.median() for s in cfg.segments)
    if ev <= 0 or rev <= 0:
        raise ConfigError(
            "invalid config:\n  multiple.today is not given and today's EV/Sales cannot be computed "
            f"(market EV = {_fmt(ev)}, base revenue = {_fmt(rev)}); give multiple.today"
        )


def _stable_growth_warnings(cfg: Config) -> list[str]:
    """A warning when terminal.growth exceeds the risk-free rate of the cash flows' currency (when it is given).

    Stable growth above the risk-free rate makes the company outgrow the economy for ever (Damodaran,
    *Investment Valuation*, 3rd ed., ch. 12: the stable growth rate cannot exceed the nominal growth of the
    economy, for which the risk-free rate is the proxy). A warning, not an error: the proxy is approximate.
    """
    cur = cfg.company.reporting_currency
    rf = (cfg.cost_of_capital.risk_free or {}).get(cur)
    if rf is None or cfg.terminal.method != TerminalMethod.GORDON:
        return []
    g = cfg.terminal.growth
    if g.is_fixed:
        if not g.median() > rf:
            return []
        what = f"terminal.growth = {_fmt(g.median())}"
    else:
        share = 1.0 - float(g.dist().cdf(rf))
        if not share > 0.0:
            return []
        what = f"terminal.growth = {_spec_text(g)} (above it on {share:.1%} of paths, median {_fmt(g.median())})"
    return [f"{what} is above the {cur} risk-free rate {_fmt(rf)} (cost_of_capital.risk_free.{cur}): stable growth "
            f"above the risk-free rate of the cash flows' currency outgrows the economy for ever; lower "
            f"terminal.growth to at most {_fmt(rf)}"]


def config_warnings(cfg: Config) -> list[str]:
    """Valid but probably unintended settings, as messages (the CLI prints them on stderr).

    * A segment whose median long-run gross growth does not cover its median churn
      shrinks for ever: net growth = (1 + g)(1 - c) - 1 < 0. With churn 1 (every
      year's revenue lost) no gross growth makes up for it.

    Growth above 100% a year is not a warning: it is refused (naming the key and
    the fix) unless ``simulation.allow_extreme_growth = true`` says it is meant.
    """
    out = _stable_growth_warnings(cfg)
    for s in cfg.segments:
        if s.growth is None:
            continue  # a market-share segment: no churn
        g, c = s.growth.long_run.median(), s.churn.rate.median()
        net = (1.0 + g) * (1.0 - c) - 1.0
        if net < 0.0:
            if c >= 1.0:
                fix = "lower churn.rate (churn 1 loses all of last year's revenue every year)"
            else:
                fix = (f"If {_fmt(g)} was meant as net growth, set growth.long_run to about "
                       f"{_fmt((1.0 + g) / (1.0 - c) - 1.0)}")
            out.append(
                f"segments.{s.name}: growth.long_run (median {_fmt(g)}) is gross growth; with churn.rate (median "
                f"{_fmt(c)}) the segment's long-run net growth is (1 + g)(1 - c) - 1 = {_fmt(net)}, so it shrinks "
                f"for ever. {fix}"
            )
    return out


class SolverOverrides(dict):
    """Overrides a solver sets on purpose outside the config's input ranges.

    The reverse DCF (:func:`engine.implied.implied`) searches constant growth up
    to 5,000% a year; :func:`check_overrides` checks such values only for being
    finite numbers of an input of the config. Any other override is checked
    against the input's bounds.
    """


def check_overrides(cfg: Config, overrides: Optional[dict]) -> dict:
    """Check per-run input overrides with the bounds of the config's inputs.

    Parameters
    ----------
    cfg : Config
        The validated config the overrides apply to.
    overrides : dict of {str: number}
        ``{key path: value}`` (``{"segments.core.revenue": 500}``); values may be
        numbers or percentage strings. A :class:`SolverOverrides` is checked only
        for finite numbers of known inputs.

    Returns
    -------
    dict of {str: float}
        The overrides as floats.

    Raises
    ------
    ConfigError
        A key that is not an input of the config, a value that is not a finite
        number, outside the input's allowed range (the message gives the key, the
        value and the range), subnormal, or growth above 100% a year without
        ``simulation.allow_extreme_growth = true``.
    """
    if not overrides:
        return {}
    bounds = dict(_input_bounds(cfg))
    solver = isinstance(overrides, SolverOverrides)
    out = {}
    for key, val in overrides.items():
        if key not in bounds:
            import difflib

            near = difflib.get_close_matches(str(key), list(bounds), n=3, cutoff=0.6)
            raise ConfigError(f"override {key!r} is not an input of this config"
                              + (f"; did you mean {', '.join(repr(n) for n in near)}?" if near else
                                 "; key paths are those of `pricedin validate CONFIG`"))
        try:
            v = parse_number(val)
        except InputError as e:
            raise ConfigError(f"override {key} = {_show(val)}: {e}") from None
        out[key] = v
        if solver:
            continue
        b = bounds[key]
        why = _degenerate(v)
        if why:
            raise ConfigError(f"override {key} = {_fmt(v)}: {why}; give 0 or a value in the input's unit")
        if b is not None and any(_outside(v, v, b)):
            hint = ""
            if b.rate and 1.0 < v <= 100.0:
                hint = f"; rates are fractions: write {_fmt(v / 100)} for {_fmt(v)}%"
            raise ConfigError(f"override {key} = {_fmt(v)}: outside {_range_text(b)}; give {b.what} in "
                              f"{_range_text(b)}{hint}")
        if _is_growth_key(key) and v > EXTREME_GROWTH and not cfg.simulation.allow_extreme_growth:
            raise ConfigError(f"override {key} = {_fmt(v)}: {_fmt(v)} means {_fmt(v * 100)}% a year; write "
                              f"{_fmt(v / 100)} for {_fmt(v)}%, or set simulation.allow_extreme_growth = true "
                              "if it is real")
    return out


def _input_bounds(cfg: Config) -> Iterator[tuple[str, Optional[Bounds]]]:
    """(key path, bounds) of every numeric input field, including optional ones left unset."""

    def walk(model: BaseModel, prefix: str):
        for name, finfo in type(model).model_fields.items():
            val = getattr(model, name)
            key = f"{prefix}{name}"
            b = _bounds_of(finfo)
            if b is not None or (isinstance(val, BaseModel) and hasattr(val, "ppf")):
                yield key, b
            elif isinstance(val, BaseModel):
                yield from walk(val, key + ".")
            elif isinstance(val, list) and val and isinstance(val[0], Segment):
                for seg in val:
                    yield from walk(seg, f"{key}.{seg.name}.")

    yield from walk(cfg, "")


def correlation_setup(cfg: Config):
    """Names and Spearman matrix of the correlated inputs (empty when none)."""
    c = cfg.correlations
    keys = {p.key: p for p in cfg.parameters()}
    if c.pairs and (c.inputs or c.matrix):
        raise ConfigError(
            "invalid config:\n  correlations: give either pairs or inputs with matrix, not both"
        )
    if c.pairs:
        names: list[str] = []
        seen: dict = {}
        for a, b, r in c.pairs:
            pair = frozenset((a, b))
            if pair in seen:
                raise ConfigError(
                    f"invalid config:\n  correlations.pairs: [{a!r}, {b!r}] is given twice ({seen[pair]} and {r}); "
                    "keep one"
                )
            seen[pair] = r
        for a, b, _ in c.pairs:
            for n in (a, b):
                if n not in names:
                    names.append(n)
        m = np.eye(len(names))
        for a, b, r in c.pairs:
            if a == b:
                raise ConfigError(f"invalid config:\n  correlations.pairs: {a!r} is paired with itself")
            if not -1 <= r <= 1:
                raise ConfigError(
                    f"invalid config:\n  correlations.pairs [{a!r}, {b!r}] = {r}: a Spearman correlation lies in [-1, 1]"
                )
            i, j = names.index(a), names.index(b)
            m[i, j] = m[j, i] = r
    elif c.inputs or c.matrix:
        names = list(c.inputs)
        if not names:
            raise ConfigError(
                "invalid config:\n  correlations.matrix is given without correlations.inputs; add "
                "inputs = [\"key.path\", ...] naming the matrix's rows in order"
            )
        bad = [i + 1 for i, row in enumerate(c.matrix) if len(row) != len(names)]
        if bad or len(c.matrix) != len(names):
            raise ConfigError(
                f"invalid config:\n  correlations.matrix must be {len(names)}x{len(names)} (one row and column per "
                f"entry of correlations.inputs); "
                + (f"row(s) {bad} have the wrong length" if bad else f"it has {len(c.matrix)} rows")
            )
        m = np.asarray(c.matrix, dtype=float)
        if m.shape != (len(names), len(names)):
            raise ConfigError(
                f"invalid config:\n  correlations.matrix has shape {m.shape} but correlations.inputs names "
                f"{len(names)} inputs; give a {len(names)}x{len(names)} matrix"
            )
    else:
        return [], None
    for n in names:
        if n not in keys:
            near = [k for k in keys if k.endswith(n.split(".")[-1])][:3]
            raise ConfigError(
                f"invalid config:\n  correlations: {n!r} is not an input of this config"
                + (f"; did you mean {', '.join(repr(x) for x in near)}?" if near else "")
            )
        if keys[n].spec.is_fixed:
            raise ConfigError(
                f"invalid config:\n  correlations: {n!r} is a fixed number; only drawn inputs (distributions) can be correlated"
            )
    return names, m


def _check_correlations(cfg: Config) -> None:
    names, m = correlation_setup(cfg)
    if not names:
        return
    try:
        check_correlation(m, names, repair=cfg.correlations.repair)
    except CorrelationError as e:
        raise ConfigError(f"invalid config:\n  correlations: {e}") from None
    except ValueError as e:
        raise ConfigError(f"invalid config:\n  correlations: {e}") from None


_attach_descriptions()  # after every helper it uses is defined

if __name__ == "__main__":  # python -m engine.config --write-readme
    if sys.argv[1:] == ["--write-readme"]:
        print("README.md updated" if write_readme() else "README.md already up to date")
    else:
        print("usage: python -m engine.config --write-readme", file=sys.stderr)
        sys.exit(2)
