"""Taxes with a loss carry-forward, reinvestment and FCFF.

docs/model.md, sections "3 Taxes and NOL" and "4 Reinvestment and FCFF".
"""

from __future__ import annotations

from .._jit import jit

__all__ = ["tax_with_nol", "reinvestment", "fcff", "tax_rate_at", "inverse_sales_to_capital",
           "starting_invested_capital"]


@jit
def tax_with_nol(ebit_flow, nol, tax_rate):
    """Tax of one step with a net operating loss (NOL) carried forward.

    Parameters
    ----------
    ebit_flow : float
        EBIT of the step [money] (annual rate x dt).
    nol : float
        Losses carried forward before the step [money].
    tax_rate : float
        Marginal tax rate [1].

    Returns
    -------
    (tax, nol) : float, float
        A loss adds to the NOL and pays no tax; a profit first uses the NOL, and the
        rest is taxed: ``tax = rate (EBIT - min(NOL, EBIT))`` [money]
        (Damodaran, *Investment Valuation*, 3rd ed., ch. 10; docs/model.md, section 3).
    """
    if ebit_flow < 0.0:
        return 0.0, nol - ebit_flow
    used = nol if nol < ebit_flow else ebit_flow
    nol -= used
    return tax_rate * (ebit_flow - used), nol


@jit
def reinvestment(revenue, revenue_prev, inv_sales_to_capital):
    """Reinvestment of one step: ``(revenue - revenue_prev) / sales_to_capital`` [money].

    ``revenue``, ``revenue_prev`` [money/year] (annual rates: the change in the
    rate is what needs new capital); ``inv_sales_to_capital = 1 / sales_to_capital``
    [1]. Negative when revenue falls (capital released). Damodaran's
    sales-to-capital ratio (*Investment Valuation*, 3rd ed., ch. 12; docs/model.md,
    section 4).
    """
    return (revenue - revenue_prev) * inv_sales_to_capital


@jit
def fcff(ebit_flow, tax, reinv):
    """Free cash flow to the firm of one step: ``EBIT - tax - reinvestment`` [money] (docs/model.md, section 4)."""
    return ebit_flow - tax - reinv


@jit
def tax_rate_at(tau, effective, marginal, start, end):
    """Tax rate of the step ending at ``tau`` years: the effective rate moving to the marginal rate.

    Parameters
    ----------
    tau : float
        End of the step [year].
    effective, marginal : float
        Effective tax rate today and the marginal rate [1].
    start, end : float
        ``tax.convergence_start_year`` and ``tax.convergence_year`` [year], ``0 <= start <= end``.

    Returns
    -------
    float
        ``effective`` until ``start``, then linear to ``marginal`` at ``end``,
        ``marginal`` after [1] (Damodaran's ginzu spreadsheets: the effective rate
        for the first years, converging to the marginal rate by the end of the
        high-growth period; docs/model.md, section 3). With
        ``effective = marginal`` it returns ``marginal`` exactly. The terminal year
        is always taxed at the marginal rate. Effective 31.1%, marginal 40%,
        start 5, end 10: 31.1% in years 1-5, 35.55% in year 7.5, 40% from year 10.
    """
    if tau <= start:
        return effective
    if tau >= end:
        return marginal
    return effective + (marginal - effective) * (tau - start) / (end - start)


@jit
def inverse_sales_to_capital(sales_to_capital):
    """``1 / sales_to_capital`` [1]; 0 for NaN, the kernel's code for ``reinvestment.sales_to_capital = "none"``.

    With ``"none"`` there is no reinvestment: every step's reinvestment is 0 and
    invested capital stays at its starting value (docs/model.md, section 4).
    """
    if sales_to_capital != sales_to_capital:  # NaN: no reinvestment
        return 0.0
    return 1.0 / sales_to_capital


@jit
def starting_invested_capital(invested_capital, revenue, sales_to_capital):
    """Invested capital today [money].

    ``balance_sheet.invested_capital`` when given (not NaN); else base revenue
    [money/year] / sales-to-capital [1]; else (no reinvestment, sales-to-capital
    NaN) 0, the limit of ``revenue / sales_to_capital`` as the ratio grows without
    bound (docs/model.md, section 4).
    """
    if invested_capital == invested_capital:
        return invested_capital
    if sales_to_capital != sales_to_capital:
        return 0.0
    return revenue / sales_to_capital
