"""Operating margin and EBIT (docs/model.md, section "2 Operating margin").

Three deterministic paths, chosen by ``margin.method``: ``linear`` (today's margin
to the target by the convergence year), ``exponential`` (the gap to the target
halves every half-life) and ``cost_structure`` (variable costs as a share of
revenue plus fixed costs growing at their own rate, fading linearly to the stable
growth rate by ``margin.fixed_cost_fade_year`` or the horizon, so the margin shows
operating leverage and is in steady state at the horizon). An AR(1) noise is added to each, and the margin is capped at
``margin.maximum``.
"""

from __future__ import annotations

import math

from .._jit import jit

__all__ = ["ar1_step_scale", "ar1_step", "linear_margin", "exponential_margin", "capped_margin",
           "cost_structure_ebit", "operating_margin", "fixed_cost_step", "LINEAR", "EXPONENTIAL",
           "COST_STRUCTURE"]

#: ``margin.method`` codes (option ``I_MARGIN_METHOD``).
LINEAR, EXPONENTIAL, COST_STRUCTURE = 0, 1, 2


@jit
def ar1_step_scale(rho, dt):
    """Innovation scale of one step of ``dt`` years of an AR(1) with annual coefficient ``rho``.

    Parameters
    ----------
    rho : float
        Annual AR(1) coefficient [1].
    dt : float
        Step [year].

    Returns
    -------
    float
        ``sqrt((1 - rho**(2 dt)) / (1 - rho**2))`` [1]: with it, ``x <- rho**dt x +
        s * scale * eps`` has the same stationary variance ``s^2 / (1 - rho^2)`` for
        any step (the exact discretisation of the underlying Ornstein-Uhlenbeck
        process; Glasserman 2004, section 3.3); 1 for annual steps; ``sqrt(dt)`` in
        the limit rho -> 1. docs/model.md, section 2.
    """
    if dt == 1.0:
        return 1.0
    if rho >= 1.0:
        return math.sqrt(dt)
    return math.sqrt((1.0 - rho ** (2.0 * dt)) / (1.0 - rho * rho))


@jit
def ar1_step(u, rho_dt, scale_sd, eps):
    """One AR(1) step ``rho_dt u + scale_sd eps`` [1] (``rho_dt = rho**dt``, ``scale_sd = s ar1_step_scale``)."""
    return rho_dt * u + scale_sd * eps


@jit
def linear_margin(tau, m0, m_target, inv_convergence):
    """Deterministic linear margin at ``tau`` years [1].

    ``m0 + (m_target - m0) min(1, tau / convergence_year)`` with margins [1],
    ``tau`` [year] and ``inv_convergence = 1 / convergence_year`` [1/year]
    (Damodaran's ginzu target margin; docs/model.md, section 2).
    """
    f = tau * inv_convergence
    if f > 1.0:
        f = 1.0
    return m0 + (m_target - m0) * f


@jit
def exponential_margin(gap, decay, m_target):
    """One step of the exponential margin: the gap to the target shrinks by ``decay = 2**(-dt / half_life)``.

    Returns ``(m_target + gap', gap')`` with ``gap' = gap decay`` [1]: after one
    half-life half of today's gap remains (docs/model.md, section 2).
    """
    gap = gap * decay
    return m_target + gap, gap


@jit
def capped_margin(m_det, noise, add, m_max):
    """Margin = deterministic path + AR(1) noise + scenario shift, capped at ``m_max`` [1] (docs/model.md, section 2)."""
    margin = m_det + noise + add
    if margin > m_max:
        margin = m_max
    return margin


@jit
def cost_structure_ebit(revenue, variable_share, noise, add, fixed, m_max):
    """EBIT and margin of the cost-structure method.

    Parameters
    ----------
    revenue : float
        Revenue [money/year].
    variable_share : float
        Variable costs / revenue [1].
    noise, add : float
        AR(1) margin noise and scenario shift [1].
    fixed : float
        Fixed costs in the step [money/year].
    m_max : float
        Margin cap [1].

    Returns
    -------
    (ebit, margin) : float, float
        ``EBIT = revenue (1 - variable_share + noise + add) - fixed`` [money/year],
        capped at ``m_max revenue``; margin = EBIT / revenue, 0 without revenue
        (operating leverage; docs/model.md, section 2).
    """
    ebit = revenue * (1.0 - variable_share + noise + add) - fixed
    if revenue > 0.0:
        margin = ebit / revenue
        if margin > m_max:
            margin = m_max
            ebit = m_max * revenue
    else:
        margin = 0.0
    return ebit, margin


@jit
def operating_margin(method, tau, revenue, noise, add, m0, m_target, inv_convergence, gap, decay, m_max,
                     variable_share, fixed, fixed_step):
    """The step's operating margin and EBIT by ``margin.method``.

    Parameters
    ----------
    method : int
        :data:`LINEAR`, :data:`EXPONENTIAL` or :data:`COST_STRUCTURE`.
    tau : float
        End of the step [year].
    revenue : float
        Revenue [money/year].
    noise, add : float
        AR(1) noise and scenario shift [1].
    m0, m_target, inv_convergence, gap, decay, m_max : float
        Margin today, target [1], 1 / convergence year [1/year], exponential gap [1]
        and its per-step decay [1], cap [1].
    variable_share, fixed, fixed_step : float
        Cost structure: variable share [1], fixed costs in the previous step
        [money/year] and their per-step growth factor [1].

    Returns
    -------
    (margin, ebit, gap, fixed) : float
        Margin [1], EBIT [money/year], and the updated gap and fixed costs.
    """
    if method == COST_STRUCTURE:
        fixed = fixed * fixed_step
        ebit, margin = cost_structure_ebit(revenue, variable_share, noise, add, fixed, m_max)
        return margin, ebit, gap, fixed
    if method == LINEAR:
        m_det = linear_margin(tau, m0, m_target, inv_convergence)
    else:
        m_det, gap = exponential_margin(gap, decay, m_target)
    margin = capped_margin(m_det, noise, add, m_max)
    return margin, margin * revenue, gap, fixed


@jit
def fixed_cost_step(tau, dt, g0, g_stable, fade_end):
    """Growth factor of fixed costs over the step ending at ``tau`` years.

    The annual growth rate fades linearly from ``g0`` (``margin.fixed_cost_growth``,
    today) to ``g_stable`` (``terminal.growth``) at ``fade_end`` years (the earlier of
    ``margin.fixed_cost_fade_year`` and the horizon) and stays there, like the WACC
    fade (docs/model.md, sections 2 and 5): a cost line that compounds faster than
    revenue forever has no steady state. The step applies the rate at its midpoint,
    ``(1 + g(tau - dt / 2))^dt`` [1]: with annual steps, 10% fading to 3% over 10 years
    grows year 1 by 9.65% and year 10 by 3.35%; from ``fade_end`` on, by ``g_stable``.
    ``tau``, ``dt``, ``fade_end`` [year]; ``g0``, ``g_stable`` [1/year].
    """
    mid = tau - 0.5 * dt
    if fade_end <= 0.0 or mid >= fade_end:
        g = g_stable
    else:
        g = g0 + (g_stable - g0) * mid / fade_end
    return (1.0 + g) ** dt
