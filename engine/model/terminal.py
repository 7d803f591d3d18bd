"""Terminal value at the horizon: Gordon growth or an exit multiple (docs/model.md, section "6 Terminal value")."""

from __future__ import annotations

import math

from .._jit import jit

__all__ = ["gordon_terminal_value", "terminal_spread", "stable_fcff", "gordon_pv", "exit_multiple_pv",
           "liquidation_value", "exit_ebit_pv",
           "liquidate_at_horizon", "liquidation_pv", "not_in_steady_state", "LIQUIDATE", "PERPETUITY",
           "STEADY_GROWTH_GAP", "STEADY_MARGIN_GAP", "STEADY_MARGIN_DRIFT"]

#: ``terminal.on_loss`` codes (option ``I_ON_LOSS``).
LIQUIDATE, PERPETUITY = 0, 1

#: Steady-state diagnostic thresholds (docs/model.md, section 6): last-year growth above
#: stable growth [1/year], deterministic margin gap to ``margin.target`` [1] (linear,
#: exponential) and deterministic margin change over the last year [1] (cost structure).
STEADY_GROWTH_GAP = 0.05
STEADY_MARGIN_GAP = 0.05
STEADY_MARGIN_DRIFT = 0.01


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
    ch. 12; docs/model.md, section 6). A negative NOPAT releases no capital: the
    reinvestment rate ``g / ROC`` is a share of a profit, so a loss is kept whole
    (``FCFF = NOPAT``); otherwise a perpetual loss would shrink by ``g / ROC``.
    ``ebit`` [money/year], ``growth`` and ``roc`` [1/year], ``tax_rate`` [1].
    EBIT -169.69, g 3%, ROC 12%: FCFF = -174.78 (not -131.09).
    """
    ebit_next = ebit * (1.0 + growth)
    if ebit_next <= 0.0:
        return ebit_next
    return ebit_next * (1.0 - tax_rate) * (1.0 - growth / roc)


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


@jit
def liquidate_at_horizon(on_loss, tv_method, ebit, growth, pv_tv):
    """Whether a surviving path is valued at liquidation instead of its terminal value.

    Under ``terminal.on_loss = "liquidate"`` (``on_loss`` = :data:`LIQUIDATE`) a going
    concern whose perpetuity is a loss is worth its liquidation value: its owners
    would stop. The rule: Gordon method (``tv_method`` 0), terminal NOPAT
    ``EBIT_N (1 + g) < 0``; exit-multiple method, a negative terminal value
    ``pv_tv`` (an EV/Sales exit value is never negative, so no path is liquidated
    on revenue; the rule covers any exit multiple that can be). ``ebit``
    [money/year], ``growth`` [1/year], ``pv_tv`` [money]. docs/model.md, section 6.
    """
    if on_loss != LIQUIDATE:
        return False
    if tv_method == 0:
        return ebit * (1.0 + growth) < 0.0
    return pv_tv < 0.0


@jit
def liquidation_pv(recovery, invested_capital, df):
    """Present value of liquidating at the horizon: ``max(recovery x invested capital, 0) x df`` [money].

    ``recovery`` = ``failure.recovery`` [1], ``invested_capital`` at the horizon
    [money], ``df`` the horizon's discount factor [1]: the sale happens at the
    horizon date, so there is no mid-year shift (docs/model.md, section 6).
    """
    val = recovery * invested_capital
    return (val if val > 0.0 else 0.0) * df


@jit
def not_in_steady_state(growth_last_year, stable_growth, margin_gap, margin_drift, cost_structure):
    """Whether a surviving path is not yet in steady state at the horizon (a diagnostic; docs/model.md, section 6).

    True when last-year revenue growth ``growth_last_year`` exceeds ``stable_growth``
    by more than :data:`STEADY_GROWTH_GAP` (5 points) [1/year], or, for the linear and
    exponential margins, the deterministic margin is more than
    :data:`STEADY_MARGIN_GAP` (5 points) from ``margin.target`` (``margin_gap`` [1]),
    or, for the cost structure (``cost_structure`` true), the deterministic margin
    moved by more than :data:`STEADY_MARGIN_DRIFT` (1 point) over the last year
    (``margin_drift`` [1]). The Gordon value assumes constant growth and margin
    from year N + 1; a path that fails this test leans on an assumption it has not
    reached.
    """
    if growth_last_year - stable_growth > STEADY_GROWTH_GAP:
        return True
    if cost_structure:
        return abs(margin_drift) > STEADY_MARGIN_DRIFT
    return abs(margin_gap) > STEADY_MARGIN_GAP
