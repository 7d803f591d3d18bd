"""Registry of result variables: each declared once with dims, dtype, units and meaning.

Units are templates filled from the config: ``{price}`` is the price unit
(``HKD/share`` or ``HKD million (whole equity)``), ``{money}`` the reporting currency
in its money unit (``CNY million``), ``{shares}`` the share unit.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Variable", "VARIABLES", "PATH_VARIABLES", "KEPT_VARIABLES", "units_for"]


class Variable(NamedTuple):
    """One result variable: ``dims``, numpy ``dtype``, ``units`` template, ``long_name`` and ``description``."""

    name: str
    dims: tuple
    dtype: str
    units: str
    long_name: str
    description: str


_P = ("path",)
_PT = ("path", "time")

PATH_VARIABLES = [
    Variable("value_per_share", _P, "f8", "{price}", "DCF value per share",
             "DCF-lens equity value in the price unit: (PV(FCFF) + PV(terminal value) or PV(recovery) "
             "+ cash - debt - minority interests + non-operating assets) x FX / today's diluted shares"),
    Variable("equity_value", _P, "f8", "{money}", "DCF equity value",
             "DCF-lens equity value in the reporting currency, money units"),
    Variable("pv_explicit", _P, "f8", "{money}", "PV of explicit-period FCFF",
             "present value of free cash flow to the firm over the horizon (to failure on failed paths)"),
    Variable("pv_terminal", _P, "f8", "{money}", "PV of terminal value",
             "present value of the terminal value (0 on failed paths)"),
    Variable("terminal_share", _P, "f8", "1", "terminal value share of enterprise value",
             "pv_terminal / (pv_explicit + pv_terminal)"),
    Variable("failed", _P, "bool", "1", "path failed",
             "true when the company failed before the horizon (exogenous hazard or no financing)"),
    Variable("failure_year", _P, "f8", "year", "years to failure",
             "years from the base fiscal year to failure; NaN on surviving paths"),
    Variable("price_horizon", _P, "f8", "{price}", "simulated share price at the horizon",
             "(EV/Sales x revenue + cash - debt - minorities + non-operating assets) / diluted shares x FX, "
             "floored at 0; 0 on failed paths"),
    Variable("horizon_return", _P, "f8", "1/year", "annualised holder return to the horizon",
             "(price_horizon / today's price)^(1 / horizon_years) - 1; -1 on failed paths"),
    Variable("justified_dcf", _P, "bool", "1", "price justified, DCF lens",
             "value_per_share >= today's price"),
    Variable("justified_market", _P, "bool", "1", "price justified, market lens",
             "horizon_return >= cost of equity (the hurdle)"),
    Variable("tv_clipped", _P, "bool", "1", "terminal spread clipped",
             "true when the drawn stable WACC - stable growth fell below terminal.min_spread and was clipped to it"),
    Variable("floored", _P, "bool", "1", "equity floored at zero",
             "true when limited liability floored a negative DCF equity value at 0"),
    Variable("revenue_horizon", _P, "f8", "{money}/year", "revenue at the horizon",
             "total revenue (annual rate) in the last step, or at failure"),
    Variable("revenue_cagr", _P, "f8", "1/year", "revenue CAGR over the horizon",
             "(revenue_horizon / base revenue)^(1 / horizon_years) - 1"),
    Variable("margin_horizon", _P, "f8", "1", "operating margin at the horizon", "EBIT / revenue in the last step"),
    Variable("multiple_horizon", _P, "f8", "1", "EV/Sales at the horizon", "simulated EV/Sales multiple; NaN on failed paths"),
    Variable("dilution", _P, "f8", "1", "share count at the horizon over today's",
             "diluted shares at the horizon / today's diluted shares (SBC and equity raised)"),
    Variable("equity_raised", _P, "f8", "{money}", "equity raised", "total new equity raised over the horizon"),
    Variable("cash_horizon", _P, "f8", "{money}", "cash at the horizon", "cash balance in the last step"),
]

KEPT_VARIABLES = [
    Variable("revenue", _PT, "f8", "{money}/year", "revenue", "total revenue, annual rate"),
    Variable("growth", _PT, "f8", "1/year", "revenue growth", "annualised growth of total revenue in the step"),
    Variable("churn", _PT, "f8", "1/year", "churn", "revenue-weighted churn (1 - gross revenue retention)"),
    Variable("margin", _PT, "f8", "1", "operating margin", "EBIT / revenue"),
    Variable("ebit", _PT, "f8", "{money}/year", "EBIT", "operating income, annual rate"),
    Variable("fcff", _PT, "f8", "{money}/year", "FCFF", "free cash flow to the firm, annual rate"),
    Variable("cash", _PT, "f8", "{money}", "cash", "cash balance at the end of the step"),
    Variable("shares", _PT, "f8", "{shares}", "diluted shares", "diluted share count"),
    Variable("multiple", _PT, "f8", "1", "EV/Sales", "simulated EV/Sales multiple"),
    Variable("price", _PT, "f8", "{price}", "simulated share price", "simulated market price per share"),
    Variable("segment_revenue", ("path", "time", "segment"), "f8", "{money}/year", "segment revenue",
             "revenue by segment, annual rate"),
]

VARIABLES = {v.name: v for v in PATH_VARIABLES + KEPT_VARIABLES}


def units_for(template: str, cfg) -> str:
    """Fill a units template from a config (see module docstring)."""
    money = f"{cfg.company.reporting_currency} {cfg.company.money_unit}"
    shares = f"{cfg.market.share_unit} shares" if cfg.market.per_share else "1 (today = 1)"
    return template.format(price=cfg.value_unit, money=money, shares=shares)
