"""The WACC path and discounting, year-end or mid-year (docs/model.md, section "5 Discounting")."""

from __future__ import annotations

import math

from .._jit import jit

__all__ = ["wacc_at", "step_growth", "discount_step", "stub_length", "interest_rate_parity"]


@jit
def wacc_at(tau, w0, wm, start, end):
    """Cost of capital in the step ending at ``tau`` years.

    Parameters
    ----------
    tau : float
        End of the step [year].
    w0, wm : float
        Initial and mature WACC [1/year].
    start, end : float
        Fade start and end [year].

    Returns
    -------
    float
        ``w0`` until ``start``, then linear to ``wm`` at ``end``, ``wm`` after
        [1/year] (Damodaran's ginzu path; docs/model.md, section 5). The midpoint of
        the fade gives ``(w0 + wm) / 2``.
    """
    if tau <= start:
        return w0
    if tau >= end:
        return wm
    return w0 + (wm - w0) * (tau - start) / (end - start)


@jit
def step_growth(rate, dt, annual):
    """Growth factor of one step at an annual rate: ``(1 + rate)^dt`` [1] (``1 + rate`` when ``annual``)."""
    return 1.0 + rate if annual else (1.0 + rate) ** dt


@jit
def discount_step(flow, df, step, mid_year):
    """Present value of a step's flow and the discount factor at the step's end.

    Parameters
    ----------
    flow : float
        The step's cash flow [money].
    df : float
        Discount factor at the start of the step [1].
    step : float
        The step's discount growth ``(1 + WACC)^dt`` [1] (:func:`step_growth`).
    mid_year : bool
        Discount the flow from the middle of the step.

    Returns
    -------
    (pv, df_end) : float, float
        ``pv = flow df / sqrt(step)`` (mid-year) or ``flow df_end`` (year-end)
        [money], with ``df_end = df / step`` [1] (docs/model.md, section 5).
    """
    df_end = df / step
    if mid_year:
        return flow * df / math.sqrt(step), df_end
    return flow * df_end, df_end


@jit
def stub_length(tau, dt, elapsed):
    """The part of the step ending at ``tau`` that lies after the valuation date [year].

    Parameters
    ----------
    tau : float
        End of the step, in years from the end of the base fiscal year [year].
    dt : float
        Step length [year].
    elapsed : float
        Years from the end of the base fiscal year to the valuation date, f >= 0 [year].

    Returns
    -------
    float
        ``h = min(dt, max(0, tau - f))`` [year]: ``dt`` for a step wholly after the
        valuation date, its remaining part for the step that holds it (the stub), 0
        for a step already over. The step's flow counts ``h / dt`` of the step and is
        discounted over ``h`` (docs/model.md, sections 0 and 5). With f = 0 every step
        gives exactly ``dt``. Annual steps, f = 0.25: step 1 gives 0.75, step 2 gives 1.
    """
    h = tau - elapsed
    if h <= 0.0:
        return 0.0
    return dt if h >= dt else h


def interest_rate_parity(rate, rf_cash_flow, rf_rate):
    """A rate converted to the cash flows' currency by interest-rate parity.

    ``r_cf = (1 + r)(1 + rf_cf) / (1 + rf_r) - 1`` (covered interest-rate parity applied
    to the rate's currency premium; Damodaran, *Investment Valuation*, 3rd ed., ch. 7;
    docs/model.md, section 5). 12% in HKD with risk-free rates 4% (HKD) and 1.8% (CNY)
    is 9.6308% in CNY.

    Parameters
    ----------
    rate : float or ndarray
        The rate in its own currency [1/year]; NaN passes through.
    rf_cash_flow, rf_rate : float
        Risk-free rates of the cash flows' currency and of the rate's currency
        [1/year], each > -1.

    Returns
    -------
    float or ndarray
        The rate in the cash flows' currency [1/year], same shape as ``rate``.
    """
    return (1.0 + rate) * ((1.0 + rf_cash_flow) / (1.0 + rf_rate)) - 1.0
