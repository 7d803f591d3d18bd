"""The EV/Sales multiple: a log premium over a growth-linked anchor that decays (docs/model.md, section "7 EV/Sales multiple").

``ln EV/Sales_t = ln(mature) + beta (g_t - g_stable) + premium_t``: the anchor
rises with the company's revenue growth ``g_t`` above stable growth (``beta =
multiple.growth_beta``, years), and today's premium over it (today's multiple
against the anchor at today's growth) decays with ``multiple.half_life`` as an
AR(1) with innovation sd ``multiple.volatility``.
"""

from __future__ import annotations

import math

from .._jit import jit

__all__ = ["initial_multiple", "log_anchor", "initial_premium", "premium_step", "annualised_growth", "ev_sales"]


@jit
def initial_multiple(today, market_cap, cash, claims, revenue):
    """Today's EV/Sales [1]: ``multiple.today``, or when NaN the market's ``(market cap - cash - claims) / revenue``.

    ``market_cap``, ``cash`` [money]; ``claims = -debt - minorities + non-operating
    assets`` [money]; ``revenue`` [money/year]; 0 without revenue (docs/model.md,
    section 7).
    """
    if math.isnan(today):
        return (market_cap - cash - claims) / revenue if revenue > 0.0 else 0.0
    return today


@jit
def log_anchor(mature, beta, growth, stable_growth):
    """Log of the growth-linked anchor: ``ln(mature) + beta (growth - stable_growth)`` [1].

    ``mature`` [1], ``beta`` [year], growths [1/year] (docs/model.md, section 7).
    A company growing 10 points above stable growth with ``beta = 2`` has an
    anchor ``exp(0.2)`` times the mature multiple.
    """
    return math.log(mature) + beta * (growth - stable_growth)


@jit
def initial_premium(multiple0, anchor0):
    """Today's log premium over the anchor: ``ln(multiple0) - anchor0`` [1]; 0 for a non-positive multiple."""
    return math.log(multiple0) - anchor0 if multiple0 > 0.0 else 0.0


@jit
def premium_step(premium, decay, sd, eps):
    """One AR(1) step of the log premium: ``premium decay + sd eps`` [1].

    ``decay = 2**(-dt / half_life)`` [1]; ``sd = multiple.volatility x
    ar1_step_scale`` [1] (docs/model.md, section 7).
    """
    return premium * decay + sd * eps


@jit
def annualised_growth(revenue, revenue_prev, dt, annual):
    """Annualised growth of total revenue over a step [1/year]: ``(R / R_prev)^(1/dt) - 1``; -1 without previous revenue."""
    if revenue_prev > 0.0:
        return revenue / revenue_prev - 1.0 if annual else (revenue / revenue_prev) ** (1.0 / dt) - 1.0
    return -1.0


@jit
def ev_sales(mature, beta, growth, stable_growth, premium, shift):
    """The EV/Sales multiple: ``mature exp(beta (growth - stable_growth) + premium + shift)`` [1].

    ``shift`` is a stress scenario's log shift [1] (docs/model.md, section 7).
    """
    return mature * math.exp(beta * (growth - stable_growth) + premium + shift)
