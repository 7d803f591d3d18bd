"""Cash, SBC dilution, equity raised at the simulated price, failure and recovery.

docs/model.md, section "8 Cash, dilution, financing and failure". Cash earns
``financing.cash_rate`` and receives each step's FCFF; the share count grows with
``dilution.sbc_rate``; when cash falls below ``financing.cash_floor`` the company
sells new shares at the simulated market price less ``financing.issue_discount``,
enough to restore the floor plus ``financing.buffer_years`` of burn, or fails when
the market is closed or its equity is worthless. An exogenous hazard
(``failure.annual_probability``) can end a path in any step. At failure the equity
receives one payoff in both lenses, ``max(0, cash + failure.recovery x invested
capital - debt - minorities + non-operating assets)`` (:func:`failure_payoff`).
"""

from __future__ import annotations

from .._jit import jit

__all__ = ["compound_factor", "failure_step_probability", "grow_cash", "market_equity", "equity_need",
           "shares_after_raise", "finance_or_fail", "recovery_pv", "failure_weighted", "failure_payoff"]


@jit
def compound_factor(rate, dt):
    """Growth factor of one step of ``dt`` years at annual rate ``rate``: ``(1 + rate)^dt`` [1].

    Used for interest on cash (``financing.cash_rate``) and SBC dilution
    (``dilution.sbc_rate``) [1/year] (docs/model.md, section 8).
    """
    return (1.0 + rate) ** dt


@jit
def failure_step_probability(annual, dt):
    """Failure probability of one step: ``1 - (1 - p)^dt`` [1], for an annual probability ``p`` [1/year]."""
    return 1.0 - (1.0 - annual) ** dt


@jit
def grow_cash(cash, factor, flow):
    """Cash at the step's end: ``cash x (1 + cash_rate)^dt + FCFF`` [money] (docs/model.md, section 8)."""
    return cash * factor + flow


@jit
def market_equity(multiple, revenue, cash, claims):
    """Market value of equity: ``EV/Sales x revenue + cash + claims`` [money] (claims = -debt - minorities + non-op)."""
    return multiple * revenue + cash + claims


@jit
def equity_need(cash, floor, buffer_years, flow, dt):
    """Equity to raise: ``floor - cash + buffer_years x burn`` [money], burn = ``-FCFF / dt`` when FCFF < 0 [money/year]."""
    burn = -flow / dt if flow < 0.0 else 0.0
    return floor - cash + buffer_years * burn


@jit
def shares_after_raise(shares, need, equity, discount):
    """Shares after selling ``need`` [money] of new equity at ``(1 - discount)`` of the market price.

    ``shares + need x shares / (equity (1 - discount))`` [shares]: the price per
    share is ``equity / shares`` [money/share], ``equity`` the market value of
    equity [money], ``discount`` the issue discount [1] (docs/model.md, section 8).
    Raising 10% of a company's value at no discount adds 10% to the share count.
    """
    return shares + need * shares / (equity * (1.0 - discount))


@jit
def finance_or_fail(u_fail, fail_step, cash, floor, closed, multiple, revenue, claims, flow, dt, buffer_years,
                    shares, discount):
    """The step's failure and financing decision.

    Parameters
    ----------
    u_fail : float
        The step's uniform draw; the hazard strikes when ``u_fail < fail_step`` [1].
    cash, floor : float
        Cash after the step's FCFF and the cash floor [money].
    closed : bool
        No equity can be raised in this step.
    multiple, revenue, claims : float
        EV/Sales [1], revenue [money/year], claims [money] (see :func:`market_equity`).
    flow : float
        The step's FCFF [money]; ``dt`` [year]; ``buffer_years`` [year].
    shares : float
        Shares before the raise [shares]; ``discount`` the issue discount [1].

    Returns
    -------
    (failed, shares, cash, raised) : bool, float, float, float
        ``raised`` is the new equity [money] (0 without a raise).
    """
    if u_fail < fail_step:
        return True, shares, cash, 0.0
    if cash < floor:
        e_mkt = market_equity(multiple, revenue, cash, claims)
        if closed or e_mkt <= 0.0:
            return True, shares, cash, 0.0
        need = equity_need(cash, floor, buffer_years, flow, dt)
        return False, shares_after_raise(shares, need, e_mkt, discount), cash + need, need
    return False, shares, cash, 0.0


@jit
def recovery_pv(recovery, invested_capital, df):
    """Present value of the recovery at failure: ``max(recovery x invested capital, 0) x df`` [money] (section 8)."""
    val = recovery * invested_capital
    return (val if val > 0.0 else 0.0) * df


@jit
def failure_weighted(going_concern, probability, distress):
    """A value weighted by a one-shot failure probability: ``(1 - p) x going_concern + p x distress``.

    ``going_concern`` and ``distress`` in the same unit (money, or price per share),
    ``probability`` [1] (``failure.probability``). Not a path event: every path is
    valued as the expectation over failing or not (Damodaran, *The Dark Side of
    Valuation*, 2nd ed., on distressed firms, and his ginzu spreadsheets: value of operating
    assets = (1 - p) DCF value + p distress proceeds; docs/model.md, section 8).
    A DCF value of 100 with p = 10% and nothing recovered gives 90.
    """
    return (1.0 - probability) * going_concern + probability * distress


@jit
def failure_payoff(cash, recovery, invested_capital, claims):
    """What the equity receives at failure: ``max(0, cash + max(recovery x IC, 0) + claims)`` [money].

    Parameters
    ----------
    cash : float
        Cash at failure, after the step's FCFF (negative when the burn exceeded it:
        unpaid bills, a claim senior to equity) [money].
    recovery : float
        ``failure.recovery``: value realised on the operating assets / invested capital [1].
    invested_capital : float
        Invested capital at failure [money].
    claims : float
        ``-debt - minorities + non-operating assets`` [money].

    Returns
    -------
    float
        The liquidation residual to the whole equity [money], never negative: the
        holders of a bankrupt company owe nothing (absolute priority; limited
        liability applies at failure whatever ``failure.limited_liability`` says).
        Both lenses use it (docs/model.md, section 8). Cash 105, recovery 0.5 x 800,
        no claims: 505.
    """
    rec = recovery * invested_capital
    val = cash + (rec if rec > 0.0 else 0.0) + claims
    return val if val > 0.0 else 0.0
