"""Terminal value at the horizon: Gordon growth or an exit multiple (docs/model.md, section "6 Terminal value")."""

from __future__ import annotations

import math

from .._jit import jit

__all__ = ["gordon_terminal_value", "terminal_spread", "stable_fcff", "gordon_pv", "exit_multiple_pv",
           "liquidation_value", "exit_ebit_pv"]


@jit
def gordon_terminal_value(fcff_next, wacc, growth):
    """Gordon growth terminal value at the horizon.

    ``TV_N = FCFF_{N+1} / (wacc - growth)`` (Gordon 1959; Damodaran, "Investment
    Valuation", 3rd ed., ch. 12; docs/model.md, section 6). A negative ``fcff_next``
    gives a negative value: it is kept. The caller guarantees ``wacc > growth``.

    Parameters
    ----------
    fcff_next : float
        Free cash flow to the firm in the year after the horizon [money/year].
    wacc, growth : float
        Stable cost of capital and growth [1/year].

    Returns
    -------
    float
        Terminal value at the horizon [money]. r = 15%, g = 3%, FCFF(N) = 1 gives
        (1.03)/(0.12) = 8.5833 for ``fcff_next = 1.03``.
    """
    return fcff_next / (wacc - growth)


@jit
def terminal_spread(stable_wacc, growth, min_spread):
    """Stable WACC - stable growth, clipped below at ``min_spread`` [1/year]; returns ``(spread, clipped 0/1)``."""
    spread = stable_wacc - growth
    if spread < min_spread:
        return min_spread, 1
    return spread, 0


@jit
def stable_fcff(ebit, growth, tax_rate, roc):
    """FCFF in the year after the horizon with reinvestment ``g / ROC`` [money/year].

    ``EBIT_{N+1} = EBIT_N (1 + g)``, taxed when positive (no NOL in steady state),
    then ``FCFF = NOPAT (1 - g / ROC)``: the reinvestment rate that sustains growth
    ``g`` at return on capital ``ROC`` (Damodaran, *Investment Valuation*, 3rd ed.,
    ch. 12; docs/model.md, section 6). ``ebit`` [money/year], ``growth`` and
    ``roc`` [1/year], ``tax_rate`` [1].
    """
    ebit_next = ebit * (1.0 + growth)
    nopat = ebit_next * (1.0 - tax_rate) if ebit_next > 0.0 else ebit_next
    return nopat * (1.0 - growth / roc)


@jit
def gordon_pv(ebit, growth, stable_wacc, roc, tax_rate, min_spread, df, mid_year, last_wacc):
    """Present value of the Gordon terminal value; returns ``(pv [money], clipped 0/1)``.

    ``TV = stable_fcff / spread`` with the spread of :func:`terminal_spread`,
    discounted by ``df`` [1] (the horizon's factor); under the mid-year convention
    the flows sit half a year earlier, so the value is scaled by
    ``sqrt(1 + last_wacc)`` (docs/model.md, section 6).
    """
    spread, clipped = terminal_spread(stable_wacc, growth, min_spread)
    tv = gordon_terminal_value(stable_fcff(ebit, growth, tax_rate, roc), growth + spread, growth)
    pv = tv * df
    if mid_year:
        pv *= math.sqrt(1.0 + last_wacc)
    return pv, clipped


@jit
def exit_multiple_pv(multiple, revenue, df):
    """Present value of an exit at EV/Sales ``multiple`` [1] on ``revenue`` [money/year]: ``multiple revenue df`` [money]."""
    return multiple * revenue * df


@jit
def liquidation_value(recovery, invested_capital):
    """Liquidation value of the operations: ``max(recovery x invested capital, 0)`` [money].

    ``recovery`` is ``failure.recovery`` [1], ``invested_capital`` [money]. The
    value a going concern is worth when its owners stop (docs/model.md, section 6);
    the same payoff as a failure's recovery (section 8).
    """
    val = recovery * invested_capital
    return val if val > 0.0 else 0.0


@jit
def exit_ebit_pv(multiple, ebit, liquidation, df):
    """Present value of an exit at an EV/EBIT multiple; returns ``(pv [money], liquidated 0/1)``.

    Parameters
    ----------
    multiple : float
        EV/EBIT at the horizon [1] (``terminal.exit_multiple`` with
        ``terminal.exit_basis = "ebit"``).
    ebit : float
        EBIT in the horizon's last step [money/year] (the model has no D&A line, so
        the multiple is on EBIT, not EBITDA).
    liquidation : float
        The liquidation value [money] (:func:`liquidation_value`).
    df : float
        Discount factor at the horizon [1].

    Returns
    -------
    (pv, liquidated) : float, int
        ``multiple x EBIT x df`` when EBIT > 0; otherwise a multiple of operating
        income means nothing and the operations are valued at their liquidation
        value, ``liquidation x df``, flagged 1 (docs/model.md, section 6). 10 x an
        EBIT of 50 discounted by 0.5 gives 250.
    """
    if ebit > 0.0:
        return multiple * ebit * df, 0
    return liquidation * df, 1
