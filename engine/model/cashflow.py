"""Taxes with a loss carry-forward, reinvestment and FCFF.

docs/model.md, sections "3 Taxes and NOL" and "4 Reinvestment and FCFF".
"""

from __future__ import annotations

from .._jit import jit

__all__ = ["tax_with_nol", "tax_with_expiring_nol", "reinvestment", "fcff", "tax_rate_at", "inverse_sales_to_capital",
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
def tax_with_expiring_nol(ebit_flow, vintages, year, expiry_years, tax_rate):
    """Tax of one step with losses carried forward by fiscal year of origin, each expiring.

    Parameters
    ----------
    ebit_flow : float
        EBIT of the step [money] (annual rate x dt, or x the stub).
    vintages : ndarray of float64, shape (n_years + 1,)
        Losses still unused by fiscal year of origin [money]: index 0 is the base year
        (the opening ``balance_sheet.nol``), index ``y`` fiscal year ``y`` (1-based).
        Updated in place: a loss is added to ``vintages[year]``, a profit uses the
        oldest unexpired vintages first (first in, first out).
    year : int
        Fiscal year of the step, 1-based (``fiscal_year``); ``year < vintages.shape[0]``.
    expiry_years : int
        Years a loss may be carried forward, >= 1 [year]: a loss of year ``o`` offsets
        profits of years ``o .. o + expiry_years`` and lapses at the end of year
        ``o + expiry_years``; the opening NOL (year 0) lapses at the end of year
        ``expiry_years``.
    tax_rate : float
        Marginal tax rate [1].

    Returns
    -------
    float
        Tax of the step [money]: 0 for a loss; else
        ``rate (EBIT - U)`` with ``U = min(EBIT, sum of vintages o >= year - expiry_years)``.

    Notes
    -----
    PRC Enterprise Income Tax Law, art. 18: losses are carried forward at most 5 years;
    10 years for qualifying high and new technology enterprises from 2018 (Caishui
    [2018] No. 76). Within a fiscal year, a loss of one step offsets profits of later
    steps of that year (the year's tax is on the year's net income). docs/model.md,
    section 3, equation (3.3).
    """
    if ebit_flow < 0.0:
        vintages[year] -= ebit_flow
        return 0.0
    first = year - expiry_years
    if first < 0:
        first = 0
    left = ebit_flow
    for o in range(first, year + 1):
        if left <= 0.0:
            break
        v = vintages[o]
        if v > 0.0:
            used = v if v < left else left
            vintages[o] = v - used
            left -= used
    return tax_rate * left


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
