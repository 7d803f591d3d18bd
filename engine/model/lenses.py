"""The equity bridge and the two lenses (docs/model.md, section "9 The two lenses").

DCF lens: value per share = (EV + cash + claims) / shares today, against today's
price. Market lens: the holder's annualised return to the horizon, from today's
price to the simulated price (EV/Sales x revenue plus the balance sheet, over the
diluted share count), against the cost of equity.
"""

from __future__ import annotations

from .._jit import jit

__all__ = ["equity_bridge", "terminal_share", "price_per_share", "holder_return", "justified_dcf",
           "justified_market"]


@jit
def equity_bridge(ev, cash, claims, limited):
    """Equity value from enterprise value: ``EV + cash + claims`` [money], floored at 0 under limited liability.

    ``claims = -debt - minorities + non-operating assets`` [money]. Returns
    ``(equity, floored 0/1)`` (Damodaran, *Investment Valuation*, 3rd ed., ch. 16;
    docs/model.md, section 9).
    """
    equity = ev + cash + claims
    if limited and equity < 0.0:
        return 0.0, 1
    return equity, 0


@jit
def terminal_share(pv_explicit, pv_terminal):
    """``pv_terminal / (pv_explicit + pv_terminal)`` [1]; 0 when the sum is 0."""
    denom = pv_explicit + pv_terminal
    return pv_terminal / denom if denom != 0.0 else 0.0


@jit
def price_per_share(equity, shares, to_price):
    """Price from market equity: ``max(equity, 0) / shares x to_price`` [price unit]; ``to_price`` converts money to price."""
    return (equity if equity > 0.0 else 0.0) / shares * to_price


@jit
def holder_return(price_horizon, price_today, horizon):
    """Annualised holder return ``(price_horizon / price_today)^(1 / horizon) - 1`` [1/year]; -1 for a price of 0.

    ``horizon`` is the holding period from the valuation date, ``H - f`` years (docs/model.md, (9.7)).
    """
    return (price_horizon / price_today) ** (1.0 / horizon) - 1.0


@jit
def justified_dcf(value_per_share, price_today):
    """DCF lens: 1 when the value per share is at least today's price, else 0 (docs/model.md, section 9)."""
    return 1 if value_per_share >= price_today else 0


@jit
def justified_market(horizon_return, cost_of_equity):
    """Market lens: 1 when the holder return [1/year] is at least the cost of equity [1/year], else 0 (section 9)."""
    return 1 if horizon_return >= cost_of_equity else 0
