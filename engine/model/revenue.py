"""Revenue by segment: gross growth, churn and the revenue shock (docs/model.md, section "1 Revenue").

A segment's revenue (an annual rate, money units) grows over a step of ``h`` years
by ``exp(integral of x over the step) x (1 - c)^h x shock``: ``x = ln(1 + g)`` the
instantaneous log gross growth (an Ornstein-Uhlenbeck process in continuous time,
sampled exactly over each step, or a linear fade by fiscal year), ``c`` the annual
churn (logit-normal around its median, drawn once per fiscal year) and the
Schwartz-Moon revenue shock. Every rule is exact over a step of any length, so the
law of year-end revenue does not depend on ``simulation.steps_per_year``.
"""

from __future__ import annotations

import math

from .._jit import jit

__all__ = [
    "decaying_volatility", "volatility_step_weights", "step_volatility", "ou_start", "ou_moments",
    "ou_loadings", "ou_integral_step", "mean_compensator_step", "linear_fade_growth", "fiscal_year",
    "churn_logit", "logit_normal_churn", "growth_retention_factor", "revenue_shock_normal",
    "revenue_shock_factor",
]

LN2 = math.log(2.0)
_SERIES_BELOW = 0.1  # kappa h below which the OU moments use their Taylor series (no cancellation)


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
        The volatility at time s is ``vol_inf + gap * 2**(-s / half_life)``, with
        ``gap = vol0 - vol_inf`` [1]; ``decay = 2**(-dt / half_life)`` [1] moves the
        gap on by one step (docs/model.md, section 1). Used for the growth volatility
        and the revenue-shock volatility.
    """
    if math.isnan(vol_inf):
        vol_inf = vol0
    return vol_inf, vol0 - vol_inf, 2.0 ** (-dt / half_life)


@jit
def volatility_step_weights(half_life, dt):
    """Weights of the gap in a step's mean and mean-square volatility (see :func:`step_volatility`).

    Parameters
    ----------
    half_life, dt : float
        Half-life of the volatility gap and the step [year].

    Returns
    -------
    (w1, w2) : float, float
        ``w1 = (1 - d) / u`` and ``w2 = (1 - d^2) / (2 u)`` [1], with ``u = ln 2 dt / half_life``
        and ``d = exp(-u)``: the step averages of ``2**(-s / half_life)`` and of its square,
        relative to their value at the step's start.
    """
    u = LN2 * dt / half_life
    if u == 0.0:
        return 1.0, 1.0
    return -math.expm1(-u) / u, -math.expm1(-2.0 * u) / (2.0 * u)


@jit
def step_volatility(vol_inf, gap, w1, w2):
    """The root-mean-square and the mean of a decaying volatility over one step.

    Parameters
    ----------
    vol_inf : float
        Long-run volatility [1, annualised].
    gap : float
        The gap ``vol - vol_inf`` at the step's start [1].
    w1, w2 : float
        From :func:`volatility_step_weights` [1].

    Returns
    -------
    (rms, mean) : float, float
        ``rms = sqrt(vol_inf^2 + 2 vol_inf gap w1 + gap^2 w2)`` [1]: a constant
        volatility with the step's integrated variance (what a step with constant
        volatility must carry for the variance to be exact whatever the step length);
        ``mean = vol_inf + gap w1`` [1], the step's average volatility (for the market
        price of risk, which is linear in the volatility). docs/model.md, section 1.
    """
    v2 = vol_inf * vol_inf + 2.0 * vol_inf * gap * w1 + gap * gap * w2
    return math.sqrt(v2) if v2 > 0.0 else 0.0, vol_inf + gap * w1


@jit
def ou_start(g_today, g_long_run, half_life):
    """The initial state ``x_0`` that makes ``growth.today`` the growth of the first year.

    Parameters
    ----------
    g_today, g_long_run : float
        First-year gross growth and long-run gross growth [1/year].
    half_life : float
        Half-life of ``x - x_inf`` [year]; ``kappa = ln 2 / half_life`` [1/year].

    Returns
    -------
    float
        ``x_0 = x_inf + (ln(1 + g_today) - x_inf) kappa / (1 - exp(-kappa))`` [1/year]
        with ``x_inf = ln(1 + g_long_run)``: the deterministic integral of the
        Ornstein-Uhlenbeck mean path over [0, 1], ``x_inf + (x_0 - x_inf)(1 - e^-kappa) /
        kappa``, equals ``ln(1 + g_today)`` (docs/model.md, equation (1.1)).
    """
    x_inf = math.log1p(g_long_run)
    kap = LN2 / half_life
    return x_inf + (math.log1p(g_today) - x_inf) * kap / -math.expm1(-kap)


@jit
def ou_moments(half_life, dt):
    """Exact one-step moments of an Ornstein-Uhlenbeck state and its integral, per unit volatility.

    For ``dx = kappa (x_inf - x) ds + eta dW`` with ``eta`` constant in a step of
    ``h = dt`` years, ``x' = x_inf + (x - x_inf) a + e1`` and
    ``I = integral of x over the step = x_inf h + (x - x_inf) b + e2``, with
    ``(e1, e2, eta W(h))`` jointly normal, mean 0.

    Parameters
    ----------
    half_life : float
        Half-life of ``x - x_inf`` [year]; ``kappa = ln 2 / half_life``.
    dt : float
        Step [year].

    Returns
    -------
    (a, b, v1, c12, v2, cw1, cw2) : float x 7
        ``a = exp(-kappa h)`` [1], ``b = (1 - a) / kappa`` [year];
        ``v1 = Var e1 / eta^2 = (1 - a^2) / (2 kappa)``,
        ``c12 = Cov(e1, e2) / eta^2 = (1 - a)^2 / (2 kappa^2)``,
        ``v2 = Var e2 / eta^2 = (h - 2 (1 - a) / kappa + (1 - a^2) / (2 kappa)) / kappa^2``,
        ``cw1 = Cov(e1, W(h)) / eta = b``, ``cw2 = Cov(e2, W(h)) / eta = (h - b) / kappa``
        (Gillespie 1996, "Exact numerical simulation of the Ornstein-Uhlenbeck process
        and its integral", Phys. Rev. E 54(2); docs/model.md, equation (1.3)). For
        ``kappa h < 0.1``, ``v2`` and ``cw2`` use their Taylor series.
    """
    kap = LN2 / half_life
    u = kap * dt
    one_a = -math.expm1(-u)
    a = 1.0 - one_a
    b = one_a / kap
    v1 = -math.expm1(-2.0 * u) / (2.0 * kap)
    c12 = one_a * one_a / (2.0 * kap * kap)
    if u < _SERIES_BELOW:
        # f(u) = u - 2(1 - e^-u) + (1 - e^-2u)/2 = sum_{n>=3} (-1)^n (2 - 2^(n-1)) u^n / n!
        # g(u) = u - (1 - e^-u) = sum_{n>=2} (-1)^n u^n / n!
        f = 0.0
        g = 0.0
        term = u  # u^n / n!
        for n in range(2, 16):
            term *= u / n
            sgn = 1.0 if n % 2 == 0 else -1.0
            g += sgn * term
            if n >= 3:
                f += sgn * (2.0 - 2.0 ** (n - 1)) * term
    else:
        f = u - 2.0 * one_a - 0.5 * math.expm1(-2.0 * u)
        g = u - one_a
    v2 = f / (kap * kap * kap)
    cw2 = g / (kap * kap)
    return a, b, v1, c12, v2, b, cw2


@jit
def ou_loadings(v1, c12, v2, cw1, cw2, dt):
    """Loadings of the step's normals on the exact joint law of :func:`ou_moments`.

    With independent standard normals ``eg, ex, er``:
    ``e1 = eta p11 eg``, ``e2 = eta (p21 eg + p22 ex)`` and the revenue shock's normal
    ``z = rho (q1 eg + q2 ex) + sqrt(1 - rho^2 (q1^2 + q2^2)) er`` reproduce the
    covariances of ``(e1, e2, W_r(h) / sqrt(h))`` with ``W_r = rho W + sqrt(1 - rho^2) W_perp``
    exactly (a Cholesky factorisation).

    Parameters
    ----------
    v1, c12, v2, cw1, cw2 : float
        From :func:`ou_moments`.
    dt : float
        Step [year].

    Returns
    -------
    (p11, p21, p22, q1, q2) : float x 5
        ``p11 = sqrt(v1)``, ``p21 = c12 / p11``, ``p22 = sqrt(v2 - p21^2)`` [year^0.5 ..];
        ``q1 = cw1 / (sqrt(h) p11)``, ``q2 = (cw2 / sqrt(h) - q1 p21) / p22`` [1], scaled so
        that ``q1^2 + q2^2 <= 1``.
    """
    p11 = math.sqrt(v1)
    p21 = c12 / p11
    r = v2 - p21 * p21
    p22 = math.sqrt(r) if r > 0.0 else 0.0
    sq = math.sqrt(dt)
    q1 = cw1 / (sq * p11)
    q2 = (cw2 / sq - q1 * p21) / p22 if p22 > 0.0 else 0.0
    n2 = q1 * q1 + q2 * q2
    if n2 > 1.0:  # rounding only: the projection of W(h) / sqrt(h) has variance <= 1
        n = math.sqrt(n2)
        q1 /= n
        q2 /= n
    return p11, p21, p22, q1, q2


@jit
def ou_integral_step(x, x_inf, a, b, p11, p21, p22, eta, eg, ex, dt):
    """One exact step of the Ornstein-Uhlenbeck log growth and its integral.

    Parameters
    ----------
    x, x_inf : float
        ``x = ln(1 + g)`` at the step's start and its long-run level [1/year].
    a, b : float
        From :func:`ou_moments` [1], [year].
    p11, p21, p22 : float
        From :func:`ou_loadings`.
    eta : float
        The step's volatility [1/year per sqrt(year)] (:func:`step_volatility`).
    eg, ex : float
        Two independent standard normal draws.
    dt : float
        Step ``h`` [year].

    Returns
    -------
    (x_end, integral) : float, float
        ``x_inf + (x - x_inf) a + eta p11 eg`` [1/year] and
        ``x_inf h + (x - x_inf) b + eta (p21 eg + p22 ex)`` [1]: the state at the step's
        end and the step's log gross growth factor, drawn from their exact joint law.
        docs/model.md, equation (1.3).
    """
    d = x - x_inf
    return x_inf + d * a + eta * p11 * eg, x_inf * dt + d * b + eta * (p21 * eg + p22 * ex)


@jit
def mean_compensator_step(vx, cxi, cxs, a, b, v1, c12, v2, cw1, cw2, eta, eta_sig_rho):
    """The step's share of ``Var(I_t) / 2 + Cov(I_t, S_t)``, and the moments carried to the next step.

    ``I_t`` is the integral of ``x`` to time t, ``S_t`` the cumulated revenue-shock
    noise. Subtracting the returned ``comp`` from the step's log growth makes
    ``E[exp(I_t + S_t - ...)]`` the deterministic path at every step end (the
    revenue shock already carries its own ``-sigma^2 h / 2``).

    Parameters
    ----------
    vx, cxi, cxs : float
        ``Var x``, ``Cov(x, I)``, ``Cov(x, S)`` at the step's start (0 at time 0).
    a, b, v1, c12, v2, cw1, cw2 : float
        From :func:`ou_moments`.
    eta : float
        The step's growth volatility.
    eta_sig_rho : float
        ``eta x sigma x rho``: growth volatility, revenue-shock volatility and their
        correlation in the step (0 without a revenue shock).

    Returns
    -------
    (comp, vx, cxi, cxs) : float x 4
        ``comp = b Cov(x, I) + b^2 Var x / 2 + eta^2 v2 / 2 + b Cov(x, S) + eta sigma rho cw2``
        [1], then the recursion ``Var x' = a^2 Var x + eta^2 v1``,
        ``Cov(x', I') = a Cov(x, I) + a b Var x + eta^2 c12``,
        ``Cov(x', S') = a Cov(x, S) + eta sigma rho cw1``. docs/model.md, equation (1.5).
    """
    e2 = eta * eta
    comp = b * cxi + 0.5 * b * b * vx + 0.5 * e2 * v2 + b * cxs + eta_sig_rho * cw2
    return comp, a * a * vx + e2 * v1, a * cxi + a * b * vx + e2 * c12, a * cxs + eta_sig_rho * cw1


@jit
def fiscal_year(t, steps_per_year):
    """The fiscal year (1-based) of step ``t`` (1-based) [year]: ``(t - 1) // steps_per_year + 1``."""
    return (t - 1) // steps_per_year + 1


@jit
def linear_fade_growth(year, g0, g_inf, fade_year):
    """Gross growth factor ``1 + g`` of the linear fade in fiscal year ``year``.

    Parameters
    ----------
    year : int
        Fiscal year of the step, 1-based (:func:`fiscal_year`).
    g0, g_inf : float
        Growth in year 1 and from the fade year on [1/year].
    fade_year : float
        Year the long-run growth is reached [year].

    Returns
    -------
    float
        ``1 + g0 + (g_inf - g0) min(1, (year - 1) / (fade_year - 1))`` [1] (``g_inf``
        from year 1 when ``fade_year <= 1``): year 1 grows at ``g0``, the fade year
        at ``g_inf``. Each step of the year applies this factor to the power ``dt``,
        so the year's growth does not depend on ``steps_per_year`` (Damodaran,
        *Investment Valuation*, 3rd ed., ch. 11; docs/model.md, section 1).
    """
    f = (year - 1.0) / (fade_year - 1.0) if fade_year > 1.0 else 1.0
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
        sd of ``logit(c)`` [1], across fiscal years.
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

    ``gfac = 1 + g`` [1] and ``churn`` [1/year] are annual rates, ``dt`` [year]; ``annual``
    skips the power for ``dt = 1`` (docs/model.md, section 1).
    """
    grow = gfac * (1.0 - churn)
    if not annual:
        grow = grow**dt
    return grow


@jit
def revenue_shock_normal(rho, q1, q2, eg, ex, er):
    """The revenue shock's standard normal ``z``, correlated ``rho`` with the growth noise.

    ``z = rho (q1 eg + q2 ex) + sqrt(1 - rho^2 (q1^2 + q2^2)) er`` [1] with ``q1, q2`` from
    :func:`ou_loadings` (``q1 = 1, q2 = 0`` for the linear fade, where ``eg`` drives
    nothing else). ``Var z = 1``; ``rho`` is the correlation of the two Brownian
    motions (docs/model.md, equation (1.9)).
    """
    s = rho * rho * (q1 * q1 + q2 * q2)
    return rho * (q1 * eg + q2 * ex) + math.sqrt(1.0 - s if s < 1.0 else 0.0) * er


@jit
def revenue_shock_factor(vol, vol_mean, z, mpr, sqdt, dt):
    """The Schwartz-Moon revenue shock of one step under the pricing measure.

    Parameters
    ----------
    vol : float
        The step's root-mean-square shock volatility ``sigma`` [1, annualised]
        (:func:`step_volatility`).
    vol_mean : float
        The step's mean shock volatility [1, annualised].
    z : float
        Standard normal (:func:`revenue_shock_normal`).
    mpr : float
        Market price of risk ``lambda`` [1].
    sqdt, dt : float
        ``sqrt(dt)`` [year^0.5] and the step [year].

    Returns
    -------
    float
        ``exp(sigma sqrt(dt) z - (sigma^2 / 2 + lambda sigma_mean) dt)`` [1]; its mean is
        ``exp(-lambda sigma_mean dt)`` (Schwartz and Moon 2000, "Rational pricing of
        internet companies", FAJ 56(3); docs/model.md, section 1).
    """
    return math.exp(vol * sqdt * z - (0.5 * vol * vol + mpr * vol_mean) * dt)


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
