"""The WACC path and discounting, year-end or mid-year (docs/model.md, section "5 Discounting")."""

from __future__ import annotations

import math

from .._jit import jit

__all__ = ["wacc_at", "step_growth", "discount_step"]


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
