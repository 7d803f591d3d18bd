"""Revenue by segment: gross growth, churn and the revenue shock (docs/model.md, section "1 Revenue").

A segment's revenue (an annual rate, money units) grows each step of ``dt`` years
by ``[(1 + g) (1 - c)]^dt x shock``: ``g`` the gross growth (an Ornstein-Uhlenbeck
process on ``ln(1 + g)`` with a decaying volatility, or a linear fade), ``c`` the
churn (logit-normal around its median) and the Schwartz-Moon revenue shock.
"""

from __future__ import annotations

import math

from .._jit import jit

__all__ = [
    "decaying_volatility", "ou_coefficients", "ou_log_growth_step", "linear_fade_growth", "churn_logit",
    "logit_normal_churn", "growth_retention_factor", "revenue_shock_factor",
]

LN2 = math.log(2.0)


@jit
def decaying_volatility(vol0, vol_inf, half_life, dt):
    """A volatility that decays from ``vol0`` toward ``vol_inf`` with ``half_life`` years.

    Parameters
    ----------
    vol0 : float
        Volatility today [1, annualised].
    vol_inf : float
        Long-run volatility [1, annualised]; NaN means no decay (``vol_inf = vol0``, gap 0).
    half_life : float
        Half-life of the gap [year].
    dt : float
        Step [year].

    Returns
    -------
    (vol_inf, gap, decay) : float, float, float
        The volatility in step t (1-based) is ``vol_inf + gap * decay**(t - 1)``,
        with ``gap = vol0 - vol_inf`` [1] and ``decay = 2**(-dt / half_life)`` [1]
        per step (docs/model.md, section 1). Used for the growth volatility and the
        revenue-shock volatility.
    """
    if math.isnan(vol_inf):
        vol_inf = vol0
    return vol_inf, vol0 - vol_inf, 2.0 ** (-dt / half_life)


@jit
def ou_coefficients(half_life, dt):
    """Exact one-step coefficients of an Ornstein-Uhlenbeck process with mean-reversion half-life ``half_life``.

    Parameters
    ----------
    half_life : float
        Half-life of a deviation from the long-run level [year]; ``kappa = ln 2 / half_life`` [1/year].
    dt : float
        Step [year].

    Returns
    -------
    (decay, sd) : float, float
        ``decay = exp(-kappa dt)`` [1] and ``sd = sqrt((1 - exp(-2 kappa dt)) / (2 kappa))``
        [year^0.5], the exact discretisation of ``dx = kappa (x_inf - x) dt + eta dW``
        (Uhlenbeck and Ornstein 1930; Glasserman 2004, *Monte Carlo Methods in
        Financial Engineering*, section 3.3): ``x' = x_inf + (x - x_inf) decay + eta sd eps``.
        docs/model.md, section 1.
    """
    kap = LN2 / half_life
    return math.exp(-kap * dt), math.sqrt((1.0 - math.exp(-2.0 * kap * dt)) / (2.0 * kap))


@jit
def ou_log_growth_step(x, x_inf, decay, sd, vol, eps):
    """One step of the Ornstein-Uhlenbeck process on ``x = ln(1 + g)``.

    Parameters
    ----------
    x, x_inf : float
        ``ln(1 + g)`` now and its long-run level [1].
    decay, sd : float
        From :func:`ou_coefficients` [1], [year^0.5].
    vol : float
        The step's volatility ``eta`` [1, annualised] (see :func:`decaying_volatility`).
    eps : float
        Standard normal draw.

    Returns
    -------
    float
        ``x_inf + (x - x_inf) decay + vol sd eps`` (docs/model.md, section 1). With
        ``eps = 0`` half the gap to ``x_inf`` is closed in one half-life.
    """
    return x_inf + (x - x_inf) * decay + vol * sd * eps


@jit
def linear_fade_growth(tau, dt, g0, g_inf, fade_year):
    """Gross growth factor ``1 + g`` of the linear fade in the step ending at ``tau`` years.

    Parameters
    ----------
    tau, dt : float
        End of the step and its length [year].
    g0, g_inf : float
        Growth today and at the fade year [1/year].
    fade_year : float
        Year the long-run growth is reached [year].

    Returns
    -------
    float
        ``1 + g0 + (g_inf - g0) min(1, (tau - dt) / (fade_year - dt))`` [1]: the
        first step grows at ``g0``, the step ending at ``fade_year`` at ``g_inf``
        (Damodaran, *Investment Valuation*, 3rd ed., ch. 11; docs/model.md, section 1).
    """
    f = (tau - dt) / (fade_year - dt) if fade_year > dt else 1.0
    if f > 1.0:
        f = 1.0
    return 1.0 + g0 + (g_inf - g0) * f


@jit
def churn_logit(median):
    """``logit(median)`` of the churn [1]; 0 where the median is 0 or 1 (no dispersion is applied then)."""
    return math.log(median / (1.0 - median)) if 0.0 < median < 1.0 else 0.0


@jit
def logit_normal_churn(median, logit_median, dispersion, eps):
    """A logit-normal churn draw with the given median.

    Parameters
    ----------
    median : float
        Median annual churn [1/year], 1 - gross revenue retention.
    logit_median : float
        :func:`churn_logit` of ``median`` [1].
    dispersion : float
        sd of ``logit(c)`` [1].
    eps : float
        Standard normal draw.

    Returns
    -------
    float
        ``1 / (1 + exp(-(logit(median) + dispersion eps)))`` [1/year]; ``median``
        itself when the dispersion is 0 or the median is 0 or 1. Its median is
        ``median`` (the logit is monotone); docs/model.md, section 1.
    """
    if dispersion == 0.0 or median <= 0.0 or median >= 1.0:
        return median
    return 1.0 / (1.0 + math.exp(-(logit_median + dispersion * eps)))


@jit
def growth_retention_factor(gfac, churn, dt, annual):
    """Revenue factor of one step from gross growth and churn: ``[(1 + g)(1 - c)]^dt`` [1].

    ``gfac = 1 + g`` [1], ``churn`` [1/year], ``dt`` [year]; ``annual`` skips the
    power for ``dt = 1`` (docs/model.md, section 1).
    """
    grow = gfac * (1.0 - churn)
    if not annual:
        grow = grow**dt
    return grow


@jit
def revenue_shock_factor(vol, rho, rho_c, eps_growth, eps_rev, mpr, sqdt, dt):
    """The Schwartz-Moon revenue shock of one step under the pricing measure.

    Parameters
    ----------
    vol : float
        The step's shock volatility ``sigma`` [1, annualised].
    rho, rho_c : float
        Correlation with the growth innovation and ``sqrt(1 - rho^2)`` [1].
    eps_growth, eps_rev : float
        The growth and revenue standard normal draws.
    mpr : float
        Market price of risk ``lambda`` [1].
    sqdt, dt : float
        ``sqrt(dt)`` [year^0.5] and the step [year].

    Returns
    -------
    float
        ``exp(sigma (sqrt(dt) z - (sigma / 2 + lambda) dt))`` with
        ``z = rho eps_growth + rho_c eps_rev`` [1]; its mean is ``exp(-lambda sigma dt)``
        (Schwartz and Moon 2000, "Rational pricing of internet companies", FAJ 56(3);
        docs/model.md, section 1).
    """
    z = rho * eps_growth + rho_c * eps_rev
    return math.exp(vol * (sqdt * z - (0.5 * vol + mpr) * dt))


# ----------------------------------------------------------------------- revenue as market size x share

__all__ += ["market_share_at", "market_log_step", "market_share_revenue"]


@jit
def market_share_at(tau, share_today, share_target, convergence_year):
    """Deterministic market share at ``tau`` years [1].

    ``share_today + (share_target - share_today) min(1, tau / convergence_year)``:
    linear from today's share to the target share by ``convergence_year`` [year],
    constant after (Damodaran's Uber valuation, 2014; docs/model.md, section 1).
    1.5% today, 10% by year 10: 1.5% + 0.85% t, 5.75% in year 5.
    """
    f = tau / convergence_year
    if f > 1.0:
        f = 1.0
    return share_today + (share_target - share_today) * f


@jit
def market_log_step(log_market, growth_factor, vol, eps, dt, sqdt, annual):
    """One step of the log market size: a geometric Brownian motion with drift ``ln(1 + g)``.

    Parameters
    ----------
    log_market : float
        ``ln`` of the market size (gross billings) at the step's start [ln money/year].
    growth_factor : float
        ``1 + g`` of the market [1] (``market.growth`` plus any scenario shift);
        0 or less makes the market vanish (``-inf``).
    vol : float
        ``market.volatility``, sd of the log market per sqrt(year) [1].
    eps : float
        Standard normal draw (the segment's growth draw: no extra variate).
    dt, sqdt : float
        Step [year] and its square root; ``annual`` skips the power for ``dt = 1``.

    Returns
    -------
    float
        ``log_market + dt ln(1 + g) + vol (sqrt(dt) eps - vol dt / 2)``: the exact
        discretisation of ``dM / M = ln(1 + g) dt + vol dW`` with the Ito term taken
        out, so ``E[M_t] = M_0 (1 + g)^t`` whatever the volatility and the step
        (docs/model.md, section 1).
    """
    if growth_factor <= 0.0:
        return -math.inf
    drift = math.log(growth_factor)
    if not annual:
        drift *= dt
    if vol != 0.0:
        drift += vol * (sqdt * eps - 0.5 * vol * dt)
    return log_market + drift


@jit
def market_share_revenue(take_rate, log_market, share, log_share_noise):
    """Revenue of a market-share segment: ``take_rate x market x share x exp(noise)`` [money/year].

    ``take_rate`` [1] is the fraction of gross billings the company keeps,
    ``log_market`` the log market size [ln money/year], ``share`` the
    deterministic share [1] and ``log_share_noise`` the accumulated log revenue
    shock and churn overrides [1]. Uber (Damodaran 2014): 0.20 x 100,000 x
    1.0623^t x (0.015 + 0.0085 t), 300 today and 1,555.73 in year 5.
    """
    return take_rate * math.exp(log_market + log_share_noise) * share
