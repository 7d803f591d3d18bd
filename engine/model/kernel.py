"""The path kernel: ndarrays in, ndarrays out; no Python objects, no I/O.

:func:`simulate_block` is a short loop over paths and steps that calls the concept
modules' step functions in the order of docs/model.md: revenue (section 1),
operating margin (2), taxes and NOL (3), reinvestment and FCFF (4), discounting
(5), the EV/Sales multiple (7), cash, financing and failure (8), then the terminal
value (6) and the two lenses (9) at the horizon. It is fused: one pass over time
per path, no (path x time) temporaries unless paths are kept. The column layouts of
its inputs and outputs are the slot constants of :mod:`engine.model.layout`,
generated from the registry :mod:`engine.variables`.

Units: money amounts are annual rates in money units of the reporting currency; a
step's flow is ``rate * dt``. Rates are fractions per year.

Randomness: step ``t`` of a path has ``4 * n_segments + 3`` variates, numbered in a
fixed order (growth, revenue, churn and a second growth normal per segment; margin and
multiple normals; one uniform for failure), each a pure function of (key, the path's
global id, ``t``, its number, generation) by the counter-based generator
:mod:`engine.model.rng`. So a path's shocks are the same under any scenario (common
random numbers by coordinates) and in any block size, block order, thread or run
length. A path's variates for all its steps are drawn before its time loop
(:func:`engine.model.rng.fill_path`: Philox4x64-10 words, ziggurat normals).
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit
from .rng import fill_path
from .cashflow import fcff as _fcff
from .cashflow import (inverse_sales_to_capital, reinvestment, starting_invested_capital, tax_rate_at,
                       tax_with_expiring_nol, tax_with_nol)
from .discounting import discount_step, step_growth, stub_length, wacc_at
from .financing import (compound_factor, failure_payoff, failure_step_probability, failure_weighted, finance_or_fail,
                        grow_cash, market_equity)
from .layout import (F_FIXED_FADE, F_NOL_EXPIRY, I_ON_LOSS, L_LIQUIDATED, L_NOT_STEADY, Y_CASH, Y_EBIT, Y_FCFF)
from .layout import O_BREAKEVEN, O_BURN, O_FAIL_CAUSE, O_RUNWAY
from .layout import (F_DT, F_ELAPSED, F_FADE_END, F_FADE_START, F_HORIZON, F_MCAP, F_MIN_SPREAD, F_PRICE, F_TO_PRICE,
                     I_KEEP, I_LIMITED, I_MARGIN_METHOD, I_MID_YEAR, I_N, I_NSEG, I_TV_METHOD, K_CASH, K_CHURN,
                     K_EBIT, K_FCFF, K_GROWTH, K_MARGIN, K_MULTIPLE, K_PRICE, K_REVENUE, K_SHARES, L_FAILED,
                     L_FLOORED, L_JUST_DCF, L_JUST_MKT, L_TV_CLIPPED, NG, NK, NS, NSH, NSS, O_CAGR, O_CASH_N,
                     O_DILUTION, O_EQUITY, O_FAIL_YEAR, O_MARGIN_N, O_MULT_N, O_PRICE_H, O_PV_EXPL, O_PV_TV,
                     O_RAISED, O_REV_N, O_RET_H, O_TV_SHARE, O_VPS, P_BUFFER, P_CASH, P_CASH_RATE, P_DEBT, P_DISC,
                     P_EXIT, P_FAIL, P_FIXED, P_FIXED_G, P_FLOOR, P_IC, P_KE, P_M_CONV, P_M_HL, P_M_MAX,
                     P_M_NOISE, P_M_PERS, P_M_TARGET, P_M_TODAY, P_MI, P_MU_BETA, P_MU_HL, P_MU_MAT, P_MU_TODAY,
                     P_MU_VOL, P_NOL, P_NONOP, P_RECOV, P_ROC, P_S2C, P_SBC, P_TAX, P_TG, P_TW, P_VCS, P_W0, P_WM,
                     S_CDISP, S_CHURN, S_FADE, S_G0, S_GHL, S_GINF, S_GVOL, S_GVOL_HL, S_GVOL_INF, S_MPR, S_RCORR,
                     S_REV0, S_RHL, S_RVOL, S_RVOL_INF, SH_MARGIN_ADD, SH_MULT_LOG, SH_WACC_ADD, SS_CHURN_SET,
                     SS_GROWTH_ADD)
from .lenses import (equity_bridge, holder_return, justified_dcf, justified_market, price_per_share,
                     terminal_share)
from .margin import COST_STRUCTURE, LINEAR, ar1_step, ar1_step_scale, fixed_cost_step, operating_margin
from .multiple import annualised_growth, ev_sales, initial_multiple, initial_premium, log_anchor, premium_step
from .revenue import (churn_logit, decaying_volatility, fiscal_year, growth_retention_factor, linear_fade_growth,
                      logit_normal_churn, mean_compensator_step, ou_integral_step, ou_loadings, ou_moments,
                      ou_start, revenue_shock_factor, revenue_shock_normal, step_volatility,
                      volatility_step_weights)
from .terminal import (exit_ebit_pv, exit_multiple_pv, gordon_pv, liquidate_at_horizon, liquidation_pv,
                       liquidation_value, not_in_steady_state)
from .revenue import market_log_step, market_share_at, market_share_revenue
from .layout import (F_TAX_END, F_TAX_START, I_EXIT_BASIS, P_FAIL_ONCE, P_TAX_EFF, S_MKT0, S_MKT_G, S_MKT_VOL,
                     S_SH0, S_SHCONV, S_SHT, S_TAKE)

__all__ = ["simulate_block", "draw_normals"]


@jit
def _write_year(obs_out, obs_seg, p, y, acc, acc_e, acc_f, cash_y, dead, dt):
    """Write fiscal year ``y`` of path ``p`` into the observed arrays: the year's sums of rate x ``dt``
    (``acc``: segment revenue rates, ``acc_e``: EBIT rates, ``acc_f``: FCFF rates) and ``cash_y``;
    NaN when ``dead`` (the path failed before the year began)."""
    if dead:
        for k in range(acc.shape[0]):
            obs_seg[p, y, k] = np.nan
        obs_out[Y_EBIT, p, y] = np.nan
        obs_out[Y_FCFF, p, y] = np.nan
        obs_out[Y_CASH, p, y] = np.nan
    else:
        for k in range(acc.shape[0]):
            obs_seg[p, y, k] = acc[k] * dt
        obs_out[Y_EBIT, p, y] = acc_e * dt
        obs_out[Y_FCFF, p, y] = acc_f * dt
        obs_out[Y_CASH, p, y] = cash_y


@jit
def simulate_block(theta, growth_method, iopt, fopt, closed, shock, key, ids, fresh_ids, switch_step, generation,
                   out, flags, keep_out, keep_seg, obs_out=None, obs_seg=None):
    """Simulate one block of paths, fused over time (docs/model.md, sections 1-9).

    Parameters
    ----------
    theta : ndarray(float64, ndim=2), (path, NG + n_seg * NS)
        Each path's parameters; columns ``P_*`` then ``S_*`` per segment. Money in
        money units of the reporting currency, rates as fractions per year.
    growth_method : ndarray(int64, ndim=1), (segment,)
        0: Ornstein-Uhlenbeck on ln(1 + g); 1: linear fade; 2: Ornstein-Uhlenbeck,
        mean-preserving (``growth.mean_preserving``); 3: market size x share.
    iopt : ndarray(int64, ndim=1), (NI,)
        ``I_*`` options.
    fopt : ndarray(float64, ndim=1), (NF,)
        ``F_*`` options: dt [year], WACC fade [year], minimum terminal spread
        [1/year], equity-to-price factor, today's price, today's market cap
        (reporting currency, money units), horizon [year].
    closed : ndarray(int64, ndim=1), (time,)
        1 where no equity can be raised in that step.
    shock : ndarray(float64, ndim=2), (time, NSH + n_seg * NSS)
        Scenario overlays by step (``SH_*`` then ``SS_*`` per segment); zeros
        (and NaN for ``SS_CHURN_SET``) leave the model unchanged.
    key : ndarray(uint64, ndim=1), (2,)
        The run's shock key (:func:`engine.sampling.shock_key`).
    ids : ndarray(int64, ndim=1), (path,)
        Row ``p`` is simulated with the shocks of global path id ``ids[p]`` for the
        steps ``t <= switch_step`` (in a run: ``lo + arange(n)`` for the block ``[lo, hi)``).
    fresh_ids : ndarray(int64, ndim=1), (path,)
        Row ``p`` draws the shocks of path id ``fresh_ids[p]`` of generation
        ``generation`` for the steps ``t > switch_step`` (unused when ``switch_step``
        is ``N``; pass ``ids``).
    switch_step : int
        The last step of the replayed shocks, ``0 .. N`` (``N``: no switch, the run itself).
    generation : int
        The generation of the fresh shocks after ``switch_step`` (``>= 1`` in a
        re-simulation, see :func:`engine._run.resimulate`; the run is generation 0).
    out : ndarray(float64, ndim=2), (NO, path)
        Written: the ``O_*`` per-path results, one row per variable (so each
        becomes a result variable without a copy).
    flags : ndarray(int8, ndim=2), (NL, path)
        Written: the ``L_*`` per-path 0/1 flags (failed, justified, ...).
    keep_out : ndarray(float64, ndim=3), (NK, path, time) or (NK, 1, 1)
        Written when ``iopt[I_KEEP]``: the ``K_*`` variables per step.
    keep_seg : ndarray(float64, ndim=3), (path, time, segment) or (1, 1, segment)
        Written when ``iopt[I_KEEP]``: segment revenue per step [money/year].
    obs_out : ndarray(float64, ndim=3), (NY, path, year), optional
        Written when given: the ``Y_*`` variables of the first ``year`` fiscal years
        (``simulation.observed_years``), each the sum over the year's steps of the
        kept variable's value x dt (EBIT and FCFF [money]) or cash at the year's
        last step [money]; NaN for the years after the one the path failed in.
        Omitted (None): nothing is observed (no cost).
    obs_seg : ndarray(float64, ndim=3), (path, year, segment), optional
        Written with ``obs_out``: segment revenue of each observed fiscal year [money].
    """
    n_paths = theta.shape[0]
    N = iopt[I_N]
    K = iopt[I_NSEG]
    mmethod = iopt[I_MARGIN_METHOD]
    tv_method = iopt[I_TV_METHOD]
    mid = iopt[I_MID_YEAR] != 0
    limited = iopt[I_LIMITED] != 0
    keep = iopt[I_KEEP] != 0
    dt = fopt[F_DT]
    fade_s = fopt[F_FADE_START]
    fade_e = fopt[F_FADE_END]
    min_spread = fopt[F_MIN_SPREAD]
    to_price = fopt[F_TO_PRICE]
    price0 = fopt[F_PRICE]
    mcap0 = fopt[F_MCAP]
    horizon = fopt[F_HORIZON]
    elapsed = fopt[F_ELAPSED]  # base year's end -> valuation date [year]
    hold = horizon - elapsed  # the market lens's holding period [year]
    tax_s = fopt[F_TAX_START]
    tax_e = fopt[F_TAX_END]
    exit_ebit = iopt[I_EXIT_BASIS] == 1
    on_loss = iopt[I_ON_LOSS]
    fixed_fade_end = min(fopt[F_FIXED_FADE], horizon)
    n_year = N - int(round(1.0 / dt))  # the step that ends a year before the horizon (0: today)
    sqdt = math.sqrt(dt)
    annual = dt == 1.0
    spy = int(round(1.0 / dt))

    # per-segment state and constants, allocated once per block
    R = np.empty(K)
    x = np.empty(K)
    xinf = np.empty(K)
    ou_a = np.empty(K)
    ou_b = np.empty(K)
    ou_v1 = np.empty(K)
    ou_c12 = np.empty(K)
    ou_v2 = np.empty(K)
    ou_cw1 = np.empty(K)
    ou_cw2 = np.empty(K)
    ou_p11 = np.empty(K)
    ou_p21 = np.empty(K)
    ou_p22 = np.empty(K)
    ou_q1 = np.empty(K)
    ou_q2 = np.empty(K)
    eta_w1 = np.empty(K)
    eta_w2 = np.empty(K)
    sig_w1 = np.empty(K)
    sig_w2 = np.empty(K)
    m_vx = np.empty(K)
    m_cxi = np.empty(K)
    m_cxs = np.empty(K)
    c_year = np.empty(K)
    eta_inf = np.empty(K)
    eta_gap = np.empty(K)
    eta_dec = np.empty(K)
    sig_inf = np.empty(K)
    sig_gap = np.empty(K)
    sig_dec = np.empty(K)
    c_med = np.empty(K)
    c_logit = np.empty(K)
    c_disp = np.empty(K)
    rho = np.empty(K)
    mpr = np.empty(K)
    eg = np.empty(K)
    er = np.empty(K)
    ec = np.empty(K)
    lmkt = np.empty(K)  # market-share segments: log market size, accumulated log share noise
    lsh = np.empty(K)
    ex = np.empty(K)
    # tax losses by fiscal year of origin (0: the base year's opening NOL), used only with an expiry
    nol_expiry = fopt[F_NOL_EXPIRY]
    expiring = nol_expiry == nol_expiry and nol_expiry > 0.0  # NaN or 0: the NOL never expires
    expiry_years = int(nol_expiry) if expiring else 0
    nol_vint = np.zeros((N - 1) // spy + 2 if expiring else 1)
    acc = np.zeros(K)  # observed years: the running year's sums of segment revenue rates
    n_normal = 4 * K + 2  # the step's variates: these normals, then one uniform
    w_step = 4 * ((n_normal + 4) // 4)  # slots per step (variates rounded up to whole Philox calls)
    zall = np.empty(N * w_step)  # the path's variates, all steps (drawn before its time loop)
    raw = np.empty(N * w_step, dtype=np.uint64)
    tail = np.empty(N * w_step, dtype=np.int64)
    ctr = np.empty((4, N * w_step // 4), dtype=np.uint64)
    k0 = key[0]
    k1 = key[1]
    n_obs = 0
    if obs_out is not None:
        n_obs = obs_out.shape[2]

    for p in range(n_paths):
        th = theta[p]
        # ---- per-path constants and initial state
        r_tot = 0.0
        g0_num = 0.0
        for k in range(K):
            base = NG + k * NS
            R[k] = th[base + S_REV0]
            xinf[k] = math.log1p(th[base + S_GINF])
            if growth_method[k] == 1 or growth_method[k] == 3:  # linear fade; market x share (no OU state)
                x[k] = math.log1p(th[base + S_G0])
                ou_q1[k], ou_q2[k] = 1.0, 0.0
            else:
                x[k] = ou_start(th[base + S_G0], th[base + S_GINF], th[base + S_GHL])
                ou_a[k], ou_b[k], ou_v1[k], ou_c12[k], ou_v2[k], ou_cw1[k], ou_cw2[k] = ou_moments(
                    th[base + S_GHL], dt)
                ou_p11[k], ou_p21[k], ou_p22[k], ou_q1[k], ou_q2[k] = ou_loadings(
                    ou_v1[k], ou_c12[k], ou_v2[k], ou_cw1[k], ou_cw2[k], dt)
            m_vx[k] = 0.0
            m_cxi[k] = 0.0
            m_cxs[k] = 0.0
            eta_inf[k], eta_gap[k], eta_dec[k] = decaying_volatility(
                th[base + S_GVOL], th[base + S_GVOL_INF], th[base + S_GVOL_HL], dt)
            eta_w1[k], eta_w2[k] = volatility_step_weights(th[base + S_GVOL_HL], dt)
            sig_inf[k], sig_gap[k], sig_dec[k] = decaying_volatility(
                th[base + S_RVOL], th[base + S_RVOL_INF], th[base + S_RHL], dt)
            sig_w1[k], sig_w2[k] = volatility_step_weights(th[base + S_RHL], dt)
            c_med[k] = th[base + S_CHURN]
            c_disp[k] = th[base + S_CDISP]
            c_logit[k] = churn_logit(c_med[k])
            rho[k] = th[base + S_RCORR]
            mpr[k] = th[base + S_MPR]
            r_tot += R[k]
            if growth_method[k] == 3:
                # market x share: today's growth is the deterministic first year's
                lmkt[k] = math.log(th[base + S_MKT0])
                lsh[k] = 0.0
                g0_num += th[base + S_TAKE] * th[base + S_MKT0] * (1.0 + th[base + S_MKT_G]) * market_share_at(
                    1.0, th[base + S_SH0], th[base + S_SHT], th[base + S_SHCONV])
            else:
                g0_num += R[k] * (1.0 + th[base + S_G0]) * (1.0 - c_med[k])
        rev0 = r_tot
        cash0 = th[P_CASH]
        claims = -th[P_DEBT] - th[P_MI] + th[P_NONOP]
        nol = th[P_NOL]
        if expiring:
            for o in range(nol_vint.shape[0]):
                nol_vint[o] = 0.0
            nol_vint[0] = nol
        s2c = th[P_S2C]
        inv_s2c = inverse_sales_to_capital(s2c)
        ic = starting_invested_capital(th[P_IC], rev0, s2c)
        ic0 = ic
        tax_rate = th[P_TAX]
        tax_eff = th[P_TAX_EFF]
        if math.isnan(tax_eff):
            tax_eff = tax_rate
        p_once = th[P_FAIL_ONCE]
        w0 = th[P_W0]
        wm = th[P_WM]
        ke = th[P_KE]
        if math.isnan(ke):
            ke = w0
        tg = th[P_TG]
        m0 = th[P_M_TODAY]
        mt = th[P_M_TARGET]
        inv_mconv = 1.0 / th[P_M_CONV]
        m_dec = 2.0 ** (-dt / th[P_M_HL])
        m_gap = m0 - mt  # exponential method: gap after t steps = m_gap * m_dec**t
        mpers = th[P_M_PERS]
        mpers_dt = mpers**dt
        mnoise = th[P_M_NOISE] * ar1_step_scale(mpers, dt)
        mmax = th[P_M_MAX]
        vcs = th[P_VCS]
        fixed = th[P_FIXED]
        fixed_g0 = th[P_FIXED_G]
        fixed_step = 1.0
        mu_mat = th[P_MU_MAT]
        beta = th[P_MU_BETA]
        mu_year = 2.0 ** (-1.0 / th[P_MU_HL])  # annual decay of the log premium
        mu_decay = mu_year**dt
        mu_vol = th[P_MU_VOL] * ar1_step_scale(mu_year, dt)
        sbc = th[P_SBC]
        if math.isnan(sbc):
            sbc = 0.0  # dilution.sbc = "expense": SBC is a cost in the margin, not a share-count driver
        sbc_step = compound_factor(sbc, dt)
        floor = th[P_FLOOR]
        buffer = th[P_BUFFER]
        disc = th[P_DISC]
        cash_grow = compound_factor(th[P_CASH_RATE], dt)
        fail_step = failure_step_probability(th[P_FAIL], dt)
        recov = th[P_RECOV]

        # multiple: log premium over the growth-linked anchor
        g0_tot = g0_num / r_tot - 1.0 if r_tot > 0.0 else -1.0
        mu0 = initial_multiple(th[P_MU_TODAY], mcap0, cash0, claims, rev0)
        prem = initial_premium(mu0, log_anchor(mu_mat, beta, g0_tot, tg))
        mult = mu0

        cash = cash0
        shares = 1.0
        u_m = 0.0
        df = 1.0
        pv = 0.0
        raised = 0.0
        failed = False
        fail_year = np.nan
        payoff = 0.0
        df_f = 1.0
        shares_f = 1.0
        r_prev = r_tot
        r_year_ago = rev0
        mdet_year_ago = 1.0 - vcs - fixed / rev0 if rev0 > 0.0 else 0.0
        margin = m0
        ebit = 0.0
        r_t = w0
        g_tot = 0.0
        fail_t = N + 1  # the step the path failed in
        acc_e = 0.0
        acc_f = 0.0
        cash_y = 0.0
        for k in range(K):
            acc[k] = 0.0
        cash_nr = cash0  # shadow cash that never raises equity: the runway without new money
        runway = np.nan
        burn = 0.0
        ebit_year = 0.0  # EBIT of the fiscal year so far [money]
        breakeven = np.nan
        cause = 0.0

        fill_path(k0, k1, ids[p], fresh_ids[p], switch_step, generation, n_normal, raw, zall, tail, ctr)
        for t in range(1, N + 1):
            tau = t * dt
            if failed:
                if keep:
                    for v in range(NK):
                        keep_out[v, p, t - 1] = 0.0
                    keep_out[K_SHARES, p, t - 1] = shares
                    keep_out[K_MULTIPLE, p, t - 1] = np.nan
                    for k in range(K):
                        keep_seg[p, t - 1, k] = 0.0
                if obs_out is not None:
                    y_obs = (t - 1) // spy
                    if y_obs < n_obs and t % spy == 0:  # a failed path's flows are 0 and its cash 0, as kept
                        _write_year(obs_out, obs_seg, p, y_obs, acc, acc_e, acc_f, 0.0, fail_t <= y_obs * spy, dt)
                        acc_e = 0.0
                        acc_f = 0.0
                        for k in range(K):
                            acc[k] = 0.0
                continue

            # ---- draws: variates 0 .. 4K + 2 of step t of this path (its own id up to the switch)
            o = (t - 1) * w_step
            for k in range(K):
                eg[k] = zall[o + 4 * k]
                er[k] = zall[o + 4 * k + 1]
                ec[k] = zall[o + 4 * k + 2]
                ex[k] = zall[o + 4 * k + 3]
            e_m = zall[o + 4 * K]
            e_mu = zall[o + 4 * K + 1]
            u_fail = zall[o + 4 * K + 2]

            # ---- 1. revenue by segment
            r_tot = 0.0
            churn_w = 0.0
            year = fiscal_year(t, spy)
            first_of_year = (t - 1) % spy == 0
            for k in range(K):
                base = NG + k * NS
                sb = NSH + k * NSS
                sig, sig_mean = step_volatility(sig_inf[k], sig_gap[k], sig_w1[k], sig_w2[k])
                sig_gap[k] *= sig_dec[k]
                if growth_method[k] == 3:
                    # revenue = take rate x market x share; the scenario growth shift moves the market's
                    # growth, a scenario churn takes that share of revenue; the revenue shock moves the share
                    lmkt[k] = market_log_step(lmkt[k], 1.0 + th[base + S_MKT_G] + shock[t - 1, sb + SS_GROWTH_ADD],
                                              th[base + S_MKT_VOL], eg[k], dt, sqdt, annual)
                    c = shock[t - 1, sb + SS_CHURN_SET]
                    if not math.isnan(c):
                        churn_w += R[k] * c
                        lsh[k] += dt * math.log1p(-c) if c < 1.0 else -math.inf
                    if sig != 0.0:
                        z = rho[k] * eg[k] + math.sqrt(1.0 - rho[k] * rho[k]) * er[k]
                        lsh[k] += math.log(revenue_shock_factor(sig, sig_mean, z, mpr[k], sqdt, dt))
                    R[k] = market_share_revenue(th[base + S_TAKE], lmkt[k], market_share_at(
                        tau, th[base + S_SH0], th[base + S_SHT], th[base + S_SHCONV]), lsh[k])
                    r_tot += R[k]
                    continue
                if growth_method[k] == 1:
                    gfac = linear_fade_growth(year, th[base + S_G0], th[base + S_GINF], th[base + S_FADE])
                else:
                    eta, _ = step_volatility(eta_inf[k], eta_gap[k], eta_w1[k], eta_w2[k])
                    eta_gap[k] *= eta_dec[k]
                    x[k], ilog = ou_integral_step(x[k], xinf[k], ou_a[k], ou_b[k], ou_p11[k], ou_p21[k],
                                                  ou_p22[k], eta, eg[k], ex[k], dt)
                    if growth_method[k] == 2:
                        comp, m_vx[k], m_cxi[k], m_cxs[k] = mean_compensator_step(
                            m_vx[k], m_cxi[k], m_cxs[k], ou_a[k], ou_b[k], ou_v1[k], ou_c12[k], ou_v2[k],
                            ou_cw1[k], ou_cw2[k], eta, eta * sig * rho[k])
                        ilog -= comp
                    gfac = math.exp(ilog if annual else ilog / dt)
                gfac += shock[t - 1, sb + SS_GROWTH_ADD]
                if gfac < 0.0:
                    gfac = 0.0
                if first_of_year:
                    c_year[k] = logit_normal_churn(c_med[k], c_logit[k], c_disp[k], ec[k])
                c = shock[t - 1, sb + SS_CHURN_SET]
                if math.isnan(c):
                    c = c_year[k]
                churn_w += R[k] * c
                grow = growth_retention_factor(gfac, c, dt, annual)
                if sig != 0.0:
                    z = revenue_shock_normal(rho[k], ou_q1[k], ou_q2[k], eg[k], ex[k], er[k])
                    grow *= revenue_shock_factor(sig, sig_mean, z, mpr[k], sqdt, dt)
                R[k] *= grow
                r_tot += R[k]

            # ---- 2. operating margin and EBIT (annual rate)
            u_m = ar1_step(u_m, mpers_dt, mnoise, e_m)
            if mmethod == COST_STRUCTURE:
                fixed_step = fixed_cost_step(tau, dt, fixed_g0, tg, fixed_fade_end)
            margin, ebit, m_gap, fixed = operating_margin(
                mmethod, tau, r_tot, u_m, shock[t - 1, SH_MARGIN_ADD], m0, mt, inv_mconv, m_gap, m_dec, mmax,
                vcs, fixed, fixed_step)

            # ---- 5a. the step's part after the valuation date (dt, or the stub, or 0)
            h = stub_length(tau, dt, elapsed)
            full = h == dt

            # ---- 3. taxes with a loss carry-forward
            ebit_flow = ebit * h
            if expiring:
                tax = tax_with_expiring_nol(ebit_flow, nol_vint, year, expiry_years,
                                            tax_rate_at(tau, tax_eff, tax_rate, tax_s, tax_e))
            else:
                tax, nol = tax_with_nol(ebit_flow, nol, tax_rate_at(tau, tax_eff, tax_rate, tax_s, tax_e))

            # ---- 4. reinvestment and FCFF
            reinv = reinvestment(r_tot, r_prev, inv_s2c)
            reinv *= h / dt
            ic += reinv
            fcff = _fcff(ebit_flow, tax, reinv)

            # ---- 5. discounting
            r_t = wacc_at(tau, w0, wm, fade_s, fade_e) + shock[t - 1, SH_WACC_ADD]
            pv_step, df_end = discount_step(fcff, df, step_growth(r_t, h, annual and full), mid)
            pv += pv_step
            df = df_end

            # ---- 7. the multiple: the premium moves every step; the multiple itself is
            # only needed to raise equity, keep paths or exit
            prem = premium_step(prem, mu_decay, mu_vol, e_mu)
            # ---- 8. cash, dilution, financing, failure
            cash_f = cash_grow if full else compound_factor(th[P_CASH_RATE], h)
            cash = grow_cash(cash, cash_f, fcff)
            cash_nr = grow_cash(cash_nr, cash_f, fcff)
            if cash_nr < 0.0 and math.isnan(runway):
                runway = tau
            if fcff < 0.0:
                burn -= fcff
            if keep or t == N or cash < floor:
                g_tot = annualised_growth(r_tot, r_prev, dt, annual)
                mult = ev_sales(mu_mat, beta, g_tot, tg, prem, shock[t - 1, SH_MULT_LOG])
            shares *= sbc_step if full else compound_factor(sbc, h)
            fail_p = fail_step if full else failure_step_probability(th[P_FAIL], h)
            failed, shares, cash, need = finance_or_fail(
                u_fail, fail_p, cash, floor,
                closed[t - 1] != 0, mult, r_tot, claims, fcff, h if h > 0.0 else dt, buffer, shares, disc)
            raised += need
            if not failed:
                ebit_year += ebit * dt
                if t % spy == 0:  # the fiscal year's last step
                    if ebit_year > 0.0 and math.isnan(breakeven):
                        breakeven = float(year)
                    ebit_year = 0.0
            if failed:
                cause = 1.0 if u_fail < fail_p else 2.0  # finance_or_fail tests the hazard first
                # one failure payoff for both lenses (docs/model.md, section 8)
                fail_year = tau
                fail_t = t
                shares_f = shares
                payoff = failure_payoff(cash, recov, ic, claims)
                df_f = df

            if keep:
                kp = keep_out
                kp[K_REVENUE, p, t - 1] = r_tot
                kp[K_GROWTH, p, t - 1] = g_tot
                kp[K_CHURN, p, t - 1] = churn_w / r_prev if r_prev > 0.0 else 0.0
                kp[K_MARGIN, p, t - 1] = margin
                kp[K_EBIT, p, t - 1] = ebit
                kp[K_FCFF, p, t - 1] = fcff / dt
                kp[K_CASH, p, t - 1] = cash
                kp[K_SHARES, p, t - 1] = shares
                kp[K_MULTIPLE, p, t - 1] = mult
                if failed:
                    kp[K_PRICE, p, t - 1] = 0.0
                else:
                    kp[K_PRICE, p, t - 1] = price_per_share(market_equity(mult, r_tot, cash, claims), shares,
                                                            to_price)
                for k in range(K):
                    keep_seg[p, t - 1, k] = R[k]
            if obs_out is not None:
                y_obs = (t - 1) // spy
                if y_obs < n_obs:  # the kept rates of the step, summed over the fiscal year
                    for k in range(K):
                        acc[k] += R[k]
                    acc_e += ebit
                    acc_f += fcff / dt
                    cash_y = cash
                    if t % spy == 0:
                        _write_year(obs_out, obs_seg, p, y_obs, acc, acc_e, acc_f, cash_y, False, dt)
                        acc_e = 0.0
                        acc_f = 0.0
                        for k in range(K):
                            acc[k] = 0.0
            if t == n_year:
                r_year_ago = r_tot
                mdet_year_ago = 1.0 - vcs - fixed / r_tot if r_tot > 0.0 else 0.0
            r_prev = r_tot

        # ---- 6. terminal value (going concern only); a perpetual loss is liquidated (terminal.on_loss)
        clipped = 0
        pv_tv = 0.0
        liquidated = False
        not_steady = False
        if failed:
            pv_tv = 0.0
        elif tv_method == 0:
            tw = th[P_TW]
            if math.isnan(tw):
                tw = wm
            roc = th[P_ROC]
            if math.isnan(roc):
                roc = tw
            pv_tv, clipped = gordon_pv(ebit, tg, tw, roc, tax_rate, min_spread, df, mid, r_t)
        elif exit_ebit:
            # EV/EBIT exit; a horizon EBIT <= 0 is valued at liquidation (recovery x invested capital)
            pv_tv, liq = exit_ebit_pv(th[P_EXIT], ebit, liquidation_value(recov, ic), df)
            liquidated = liq == 1
        else:
            m_exit = th[P_EXIT]
            if math.isnan(m_exit):
                m_exit = mult
            pv_tv = exit_multiple_pv(m_exit, r_tot, df)
        if not failed:
            if liquidate_at_horizon(on_loss, tv_method, ebit, tg, pv_tv):
                liquidated = True
                clipped = 0
                pv_tv = liquidation_pv(recov, ic, df)
            if mmethod == COST_STRUCTURE:
                m_gap_n = 0.0
            elif mmethod == LINEAR:
                m_gap_n = (m0 - mt) * max(0.0, 1.0 - horizon * inv_mconv)
            else:
                m_gap_n = m_gap
            mdet_n = 1.0 - vcs - fixed / r_tot if r_tot > 0.0 else 0.0
            g_year = r_tot / r_year_ago - 1.0 if r_year_ago > 0.0 else -1.0
            not_steady = not_in_steady_state(g_year, tg, m_gap_n, mdet_n - mdet_year_ago,
                                             mmethod == COST_STRUCTURE)

        # ---- 9. the equity bridge and the two lenses: a failed path's equity is the failure payoff
        # (discounted at the WACC in the DCF lens, grown at the cash rate to the horizon in the market
        # lens), per share outstanding at failure
        if failed:
            equity = payoff * df_f / shares_f
            floored = 0
            price_h = price_per_share(payoff, shares_f, to_price) * compound_factor(
                th[P_CASH_RATE], horizon - fail_year)
        else:
            ev = pv + pv_tv
            price_h = price_per_share(market_equity(mult, r_tot, cash, claims), shares, to_price)
            if not math.isnan(p_once):
                # a one-shot failure probability is a weight, not a path event (failure.probability): the
                # DCF lens weighs the going concern against the distress value today (recovery x invested
                # capital), the market lens the horizon price against the failure payoff at the horizon
                ev = failure_weighted(ev, p_once, liquidation_value(recov, ic0))
                price_h = failure_weighted(price_h, p_once, price_per_share(
                    failure_payoff(cash, recov, ic, claims), shares, to_price))
            equity, floored = equity_bridge(ev, cash0, claims, limited)
            equity /= compound_factor(sbc, hold)  # dilution.sbc = "dilution": per share diluted to the horizon
        vps = equity * to_price
        ret = holder_return(price_h, price0, hold)
        out[O_VPS, p] = vps
        out[O_EQUITY, p] = equity
        out[O_PV_EXPL, p] = pv
        out[O_PV_TV, p] = pv_tv
        out[O_TV_SHARE, p] = terminal_share(pv, pv_tv)
        out[O_FAIL_YEAR, p] = fail_year
        out[O_PRICE_H, p] = price_h
        out[O_RET_H, p] = ret
        out[O_RAISED, p] = raised
        out[O_BREAKEVEN, p] = breakeven
        out[O_RUNWAY, p] = runway
        out[O_BURN, p] = burn
        out[O_FAIL_CAUSE, p] = cause
        if failed:  # horizon values of a failed path are missing, not frozen at failure
            out[O_REV_N, p] = np.nan
            out[O_MARGIN_N, p] = np.nan
            out[O_MULT_N, p] = np.nan
            out[O_DILUTION, p] = np.nan
            out[O_CAGR, p] = np.nan
            out[O_CASH_N, p] = np.nan
        else:
            out[O_REV_N, p] = r_tot
            out[O_MARGIN_N, p] = margin
            out[O_MULT_N, p] = mult
            out[O_DILUTION, p] = shares
            out[O_CAGR, p] = (r_tot / rev0) ** (1.0 / horizon) - 1.0 if rev0 > 0.0 else np.nan
            out[O_CASH_N, p] = cash
        flags[L_FAILED, p] = 1 if failed else 0
        flags[L_JUST_DCF, p] = justified_dcf(vps, price0)
        flags[L_JUST_MKT, p] = justified_market(ret, ke)
        flags[L_TV_CLIPPED, p] = clipped
        flags[L_FLOORED, p] = floored
        flags[L_LIQUIDATED, p] = 1 if liquidated else 0
        flags[L_NOT_STEADY, p] = 1 if not_steady else 0


@jit
def draw_normals(rng, out):
    """The floor: fill ``out`` (float64, any shape, C-contiguous) with standard normals from ``rng``."""
    flat = out.reshape(-1)
    for i in range(flat.shape[0]):
        flat[i] = rng.standard_normal()
