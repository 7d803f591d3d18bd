"""Taxes with a loss carry-forward, reinvestment and FCFF.

docs/model.md, sections "3 Taxes and NOL" and "4 Reinvestment and FCFF".
"""

from __future__ import annotations

from .._jit import jit

__all__ = ["tax_with_nol", "reinvestment", "fcff"]


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
