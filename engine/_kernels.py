"""Numba kernels: ndarrays in, ndarrays out; no Python objects, no I/O.

The path kernel :func:`simulate_block` is fused: one pass over time per path, no
(path x time) temporaries unless paths are kept. Column layouts of its inputs and
outputs are the module constants below; :mod:`engine.simulate` fills them from a
config.

Units: money amounts are annual rates in money units of the reporting currency; a
step's flow is ``rate * dt``. Rates are fractions per year.

Randomness: each path consumes exactly ``3 * n_segments + 3`` variates per step
(growth, revenue and churn normals per segment; margin and multiple normals; one
uniform for failure), whatever happens on the path, so every path's shocks are the
same under any scenario (common random numbers) and a block's first m paths are
the same in a run of any length.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

# ----------------------------------------------------------------------- theta columns
# Global parameters (one column each in theta).
P_CASH = 0
P_DEBT = 1
P_MI = 2
P_NONOP = 3
P_NOL = 4
P_IC = 5  # NaN: revenue0 / sales_to_capital
P_M_TODAY = 6
P_M_TARGET = 7
P_M_CONV = 8
P_M_HL = 9
P_M_NOISE = 10
P_M_PERS = 11
P_M_MAX = 12
P_VCS = 13
P_FIXED = 14
P_FIXED_G = 15
P_TAX = 16
P_S2C = 17
P_W0 = 18
P_WM = 19
P_KE = 20  # NaN: initial WACC
P_TG = 21
P_TW = 22  # NaN: mature WACC
P_ROC = 23  # NaN: stable WACC
P_EXIT = 24  # NaN: the simulated multiple at the horizon
P_MU_TODAY = 25  # NaN: today's market EV / base revenue
P_MU_MAT = 26
P_MU_BETA = 27
P_MU_HL = 28
P_MU_VOL = 29
P_SBC = 30
P_FLOOR = 31
P_BUFFER = 32
P_DISC = 33
P_CASH_RATE = 34
P_FAIL = 35
P_RECOV = 36
NG = 37

# Segment parameters: column NG + k * NS + S_*.
S_REV0 = 0
S_G0 = 1
S_GINF = 2
S_GHL = 3
S_FADE = 4
S_GVOL = 5
S_GVOL_INF = 6  # NaN: S_GVOL
S_GVOL_HL = 7
S_CHURN = 8
S_CDISP = 9
S_RVOL = 10
S_RVOL_INF = 11  # NaN: S_RVOL
S_RHL = 12
S_RCORR = 13
S_MPR = 14
NS = 15

# Scenario shocks by step: columns of ``shock`` (time, NSH + n_seg * NSS).
SH_MARGIN_ADD = 0  # added to the operating margin [fraction]
SH_MULT_LOG = 1  # added to log EV/Sales (-50% is log 0.5)
SH_WACC_ADD = 2  # added to the cost of capital [fraction]
NSH = 3
SS_GROWTH_ADD = 0  # added to the segment's gross growth rate in the step [fraction]
SS_CHURN_SET = 1  # NaN: no shock; else the segment's churn in the step
NSS = 2

# Integer options.
I_N = 0
I_NSEG = 1
I_MARGIN_METHOD = 2  # 0 linear, 1 exponential, 2 cost structure
I_TV_METHOD = 3  # 0 Gordon, 1 exit multiple
I_MID_YEAR = 4
I_LIMITED = 5
I_KEEP = 6
NI = 7

# Float options.
F_DT = 0
F_FADE_START = 1
F_FADE_END = 2
F_MIN_SPREAD = 3
F_TO_PRICE = 4
F_PRICE = 5
F_MCAP = 6  # today's market cap, reporting currency, money units
F_HORIZON = 7
NF = 8

# Per-path float outputs: rows of ``out`` (NO, path).
O_VPS = 0
O_EQUITY = 1
O_PV_EXPL = 2
O_PV_TV = 3
O_TV_SHARE = 4
O_FAIL_YEAR = 5
O_PRICE_H = 6
O_RET_H = 7
O_REV_N = 8
O_MARGIN_N = 9
O_MULT_N = 10
O_DILUTION = 11
O_CAGR = 12
O_RAISED = 13
O_CASH_N = 14
NO = 15

# Per-path 0/1 flags: rows of ``flags`` (NL, path), int8.
L_FAILED = 0
L_JUST_DCF = 1
L_JUST_MKT = 2
L_TV_CLIPPED = 3
L_FLOORED = 4
NL = 5

# Kept (path, time) variables.
K_REVENUE = 0
K_GROWTH = 1
K_CHURN = 2
K_MARGIN = 3
K_EBIT = 4
K_FCFF = 5
K_CASH = 6
K_SHARES = 7
K_MULTIPLE = 8
K_PRICE = 9
NK = 10

LN2 = math.log(2.0)


# ----------------------------------------------------------------------- scalar pieces


@jit
def gordon_terminal_value(fcff_next, wacc, growth):
    """Gordon growth terminal value at the horizon.

    ``TV_N = FCFF_{N+1} / (wacc - growth)`` (Gordon 1959; Damodaran, "Investment
    Valuation", 3rd ed., ch. 12). A negative ``fcff_next`` gives a negative value:
    it is kept. The caller guarantees ``wacc > growth``.

    Parameters
    ----------
    fcff_next : float
        Free cash flow to the firm in the year after the horizon [money/year].
    wacc, growth : float
        Stable cost of capital and growth [1/year, fractions].

    Returns
    -------
    float
        Terminal value at the horizon [money]. r = 15%, g = 3%, FCFF(N) = 1 gives
        (1.03)/(0.12) = 8.5833 for ``fcff_next = 1.03``.
    """
    return fcff_next / (wacc - growth)


@jit
def wacc_at(tau, w0, wm, start, end):
    """Cost of capital in the step ending at ``tau`` years.

    ``w0`` until ``start`` years, then linear to ``wm`` at ``end`` (Damodaran's
    ginzu path), ``wm`` after.
    """
    if tau <= start:
        return w0
    if tau >= end:
        return wm
    return w0 + (wm - w0) * (tau - start) / (end - start)


@jit
def ar1_step_scale(rho, dt):
    """Innovation scale of one step of ``dt`` years of an AR(1) with annual coefficient ``rho``.

    ``sqrt((1 - rho**(2 dt)) / (1 - rho**2))``: with it, a process x <- rho**dt x +
    s * scale * eps has the same stationary variance s^2 / (1 - rho^2) for any step
    (the exact discretisation of the underlying Ornstein-Uhlenbeck process); 1 for
    annual steps; sqrt(dt) in the limit rho -> 1.
    """
    if dt == 1.0:
        return 1.0
    if rho >= 1.0:
        return math.sqrt(dt)
    return math.sqrt((1.0 - rho ** (2.0 * dt)) / (1.0 - rho * rho))


@jit
def decaying_volatility(vol0, vol_inf, half_life, dt):
    """A volatility that decays from ``vol0`` toward ``vol_inf`` with ``half_life`` years.

    Returns ``(vol_inf, gap, decay)``: the volatility in step t (1-based) is
    ``vol_inf + gap * decay**(t - 1)``, with ``gap = vol0 - vol_inf`` and
    ``decay = 2**(-dt / half_life)`` per step of ``dt`` years. A NaN
    ``vol_inf`` means no decay (``vol_inf = vol0``, gap 0). Used for the growth
    volatility and the revenue-shock volatility.
    """
    if math.isnan(vol_inf):
        vol_inf = vol0
    return vol_inf, vol0 - vol_inf, 2.0 ** (-dt / half_life)


# ----------------------------------------------------------------------- the path kernel


@jit
def simulate_block(theta, growth_method, iopt, fopt, closed, shock, rng, out, flags, keep_out, keep_seg):
    """Simulate one block of paths (DESIGN points 1-10), fused over time.

    Parameters
    ----------
    theta : ndarray(float64, ndim=2), (path, NG + n_seg * NS)
        Each path's parameters; columns ``P_*`` then ``S_*`` per segment. Money in
        money units of the reporting currency, rates as fractions per year.
    growth_method : ndarray(int64, ndim=1), (segment,)
        0: Ornstein-Uhlenbeck on ln(1 + g); 1: linear fade.
    iopt : ndarray(int64, ndim=1), (NI,)
        ``I_*`` options.
    fopt : ndarray(float64, ndim=1), (NF,)
        ``F_*`` options: dt [years], WACC fade years, minimum terminal spread,
        equity-to-price factor, today's price, today's market cap (reporting
        currency), horizon [years].
    closed : ndarray(int64, ndim=1), (time,)
        1 where no equity can be raised in that step.
    shock : ndarray(float64, ndim=2), (time, NSH + n_seg * NSS)
        Scenario overlays by step (``SH_*`` then ``SS_*`` per segment); zeros
        (and NaN for ``SS_CHURN_SET``) leave the model unchanged.
    rng : numpy.random.Generator
        The block's shock stream (consumed sequentially, path by path).
    out : ndarray(float64, ndim=2), (NO, path)
        Written: the ``O_*`` per-path results, one row per variable (so each
        becomes a result variable without a copy).
    flags : ndarray(int8, ndim=2), (NL, path)
        Written: the ``L_*`` per-path 0/1 flags (failed, justified, ...).
    keep_out : ndarray(float64, ndim=3), (NK, path, time) or (NK, 1, 1)
        Written when ``iopt[I_KEEP]``: the ``K_*`` variables per step.
    keep_seg : ndarray(float64, ndim=3), (path, time, segment) or (1, 1, segment)
        Written when ``iopt[I_KEEP]``: segment revenue per step [money/year].
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
    sqdt = math.sqrt(dt)

    # per-segment scratch, allocated once per block
    R = np.empty(K)
    x = np.empty(K)
    xinf = np.empty(K)
    dec = np.empty(K)
    ou_sd = np.empty(K)
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
    rho_c = np.empty(K)
    mpr = np.empty(K)
    g_lin0 = np.empty(K)
    g_lininf = np.empty(K)
    fade = np.empty(K)
    eg = np.empty(K)
    er = np.empty(K)
    ec = np.empty(K)
    annual = dt == 1.0

    for p in range(n_paths):
        th = theta[p]
        # ---- per-path constants and initial state
        r_tot = 0.0
        g0_num = 0.0
        for k in range(K):
            base = NG + k * NS
            R[k] = th[base + S_REV0]
            x[k] = math.log1p(th[base + S_G0])
            xinf[k] = math.log1p(th[base + S_GINF])
            kap = LN2 / th[base + S_GHL]
            dec[k] = math.exp(-kap * dt)
            ou_sd[k] = math.sqrt((1.0 - math.exp(-2.0 * kap * dt)) / (2.0 * kap))
            eta_inf[k], eta_gap[k], eta_dec[k] = decaying_volatility(
                th[base + S_GVOL], th[base + S_GVOL_INF], th[base + S_GVOL_HL], dt)
            sig_inf[k], sig_gap[k], sig_dec[k] = decaying_volatility(
                th[base + S_RVOL], th[base + S_RVOL_INF], th[base + S_RHL], dt)
            cm = th[base + S_CHURN]
            c_med[k] = cm
            c_disp[k] = th[base + S_CDISP]
            c_logit[k] = math.log(cm / (1.0 - cm)) if 0.0 < cm < 1.0 else 0.0
            rho[k] = th[base + S_RCORR]
            rho_c[k] = math.sqrt(1.0 - rho[k] * rho[k])
            mpr[k] = th[base + S_MPR]
            g_lin0[k] = th[base + S_G0]
            g_lininf[k] = th[base + S_GINF]
            fade[k] = th[base + S_FADE]
            r_tot += R[k]
            g0_num += R[k] * math.exp(x[k]) * (1.0 - cm)
        rev0 = r_tot
        cash0 = th[P_CASH]
        claims = -th[P_DEBT] - th[P_MI] + th[P_NONOP]
        nol = th[P_NOL]
        s2c = th[P_S2C]
        inv_s2c = 1.0 / s2c
        ic = th[P_IC]
        if math.isnan(ic):
            ic = rev0 / s2c
        tax_rate = th[P_TAX]
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
        # AR(1) noise with annual persistence rho and annual innovation sd s: a step of dt
        # uses rho**dt and s * sqrt((1 - rho**(2 dt)) / (1 - rho**2)), the exact
        # discretisation, so the noise's spread does not depend on steps_per_year
        # (and annual steps use s itself)
        mpers = th[P_M_PERS]
        mpers_dt = mpers**dt
        mnoise = th[P_M_NOISE] * ar1_step_scale(mpers, dt)
        mmax = th[P_M_MAX]
        vcs = th[P_VCS]
        fixed = th[P_FIXED]
        fixed_step = (1.0 + th[P_FIXED_G]) ** dt
        mu_mat = th[P_MU_MAT]
        beta = th[P_MU_BETA]
        mu_year = 2.0 ** (-1.0 / th[P_MU_HL])  # annual decay of the log premium
        mu_decay = mu_year**dt
        mu_vol = th[P_MU_VOL] * ar1_step_scale(mu_year, dt)
        sbc_step = (1.0 + th[P_SBC]) ** dt
        floor = th[P_FLOOR]
        buffer = th[P_BUFFER]
        disc = th[P_DISC]
        cash_grow = (1.0 + th[P_CASH_RATE]) ** dt
        fail_step = 1.0 - (1.0 - th[P_FAIL]) ** dt
        recov = th[P_RECOV]

        # multiple: log premium over the growth-linked anchor
        g0_tot = g0_num / r_tot - 1.0 if r_tot > 0.0 else -1.0
        mu0 = th[P_MU_TODAY]
        if math.isnan(mu0):
            mu0 = (mcap0 - cash0 - claims) / rev0 if rev0 > 0.0 else 0.0
        log_anchor0 = math.log(mu_mat) + beta * (g0_tot - tg)
        prem = math.log(mu0) - log_anchor0 if mu0 > 0.0 else 0.0
        mult = mu0

        cash = cash0
        shares = 1.0
        u_m = 0.0
        df = 1.0
        pv = 0.0
        raised = 0.0
        failed = False
        fail_year = np.nan
        recovery_pv = 0.0
        r_prev = r_tot
        margin = m0
        ebit = 0.0
        r_t = w0
        g_tot = 0.0

        for t in range(1, N + 1):
            tau = t * dt
            # ---- draws: a fixed count per step, whatever the path's state
            for k in range(K):
                eg[k] = rng.standard_normal()
                er[k] = rng.standard_normal()
                ec[k] = rng.standard_normal()
            e_m = rng.standard_normal()
            e_mu = rng.standard_normal()
            u_fail = rng.random()
            if failed:
                if keep:
                    for v in range(NK):
                        keep_out[v, p, t - 1] = 0.0
                    keep_out[K_SHARES, p, t - 1] = shares
                    keep_out[K_MULTIPLE, p, t - 1] = np.nan
                    for k in range(K):
                        keep_seg[p, t - 1, k] = 0.0
                continue

            # ---- 1. revenue by segment
            r_tot = 0.0
            churn_w = 0.0
            for k in range(K):
                if growth_method[k] == 0:
                    eta = eta_inf[k] + eta_gap[k]
                    eta_gap[k] *= eta_dec[k]
                    x[k] = xinf[k] + (x[k] - xinf[k]) * dec[k] + eta * ou_sd[k] * eg[k]
                    gfac = math.exp(x[k])
                else:
                    f = (tau - dt) / (fade[k] - dt) if fade[k] > dt else 1.0
                    if f > 1.0:
                        f = 1.0
                    gfac = 1.0 + g_lin0[k] + (g_lininf[k] - g_lin0[k]) * f
                    x[k] = math.log(gfac)
                sb = NSH + k * NSS
                gfac += shock[t - 1, sb + SS_GROWTH_ADD]
                if gfac < 0.0:
                    gfac = 0.0
                c_set = shock[t - 1, sb + SS_CHURN_SET]
                if not math.isnan(c_set):
                    c = c_set
                elif c_disp[k] == 0.0 or c_med[k] <= 0.0 or c_med[k] >= 1.0:
                    c = c_med[k]
                else:
                    c = 1.0 / (1.0 + math.exp(-(c_logit[k] + c_disp[k] * ec[k])))
                churn_w += R[k] * c
                grow = gfac * (1.0 - c)
                if not annual:
                    grow = grow**dt
                sig = sig_inf[k] + sig_gap[k]
                sig_gap[k] *= sig_dec[k]
                if sig != 0.0:
                    z = rho[k] * eg[k] + rho_c[k] * er[k]
                    grow *= math.exp(sig * (sqdt * z - (0.5 * sig + mpr[k]) * dt))
                R[k] *= grow
                r_tot += R[k]

            # ---- 2. operating margin and EBIT (annual rate)
            u_m = mpers_dt * u_m + mnoise * e_m
            m_add = shock[t - 1, SH_MARGIN_ADD]
            if mmethod == 2:
                fixed *= fixed_step
                ebit = r_tot * (1.0 - vcs + u_m + m_add) - fixed
                if r_tot > 0.0:
                    margin = ebit / r_tot
                    if margin > mmax:
                        margin = mmax
                        ebit = mmax * r_tot
                else:
                    margin = 0.0
            else:
                if mmethod == 0:
                    f = tau * inv_mconv
                    if f > 1.0:
                        f = 1.0
                    m_det = m0 + (mt - m0) * f
                else:
                    m_gap *= m_dec
                    m_det = mt + m_gap
                margin = m_det + u_m + m_add
                if margin > mmax:
                    margin = mmax
                ebit = margin * r_tot

            # ---- 3. taxes with a loss carry-forward
            ebit_flow = ebit * dt
            if ebit_flow < 0.0:
                nol -= ebit_flow
                tax = 0.0
            else:
                used = nol if nol < ebit_flow else ebit_flow
                nol -= used
                tax = tax_rate * (ebit_flow - used)

            # ---- 4. reinvestment and FCFF
            reinv = (r_tot - r_prev) * inv_s2c
            ic += reinv
            fcff = ebit_flow - tax - reinv

            # ---- 5. discounting
            r_t = wacc_at(tau, w0, wm, fade_s, fade_e) + shock[t - 1, SH_WACC_ADD]
            step = 1.0 + r_t if annual else (1.0 + r_t) ** dt
            df_end = df / step
            if mid:
                pv += fcff * df / math.sqrt(step)
            else:
                pv += fcff * df_end
            df = df_end

            # ---- 7. multiple compression: the premium moves every step; the
            # multiple itself is only needed to raise equity, keep paths or exit
            prem = prem * mu_decay + mu_vol * e_mu
            need_mult = keep or t == N
            cash = cash * cash_grow + fcff
            if cash < floor:
                need_mult = True
            if need_mult:
                if r_prev > 0.0:
                    g_tot = r_tot / r_prev - 1.0 if annual else (r_tot / r_prev) ** (1.0 / dt) - 1.0
                else:
                    g_tot = -1.0
                mult = mu_mat * math.exp(beta * (g_tot - tg) + prem + shock[t - 1, SH_MULT_LOG])

            # ---- 8. cash, dilution, financing, failure
            shares *= sbc_step
            if u_fail < fail_step:
                failed = True
            elif cash < floor:
                e_mkt = mult * r_tot + cash + claims
                if closed[t - 1] != 0 or e_mkt <= 0.0:
                    failed = True
                else:
                    burn = -fcff / dt if fcff < 0.0 else 0.0
                    need = floor - cash + buffer * burn
                    shares += need * shares / (e_mkt * (1.0 - disc))
                    cash += need
                    raised += need
            if failed:
                fail_year = tau
                val = recov * ic
                recovery_pv = (val if val > 0.0 else 0.0) * df

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
                    e_mkt = mult * r_tot + cash + claims
                    kp[K_PRICE, p, t - 1] = (e_mkt if e_mkt > 0.0 else 0.0) / shares * to_price
                for k in range(K):
                    keep_seg[p, t - 1, k] = R[k]
            r_prev = r_tot

        # ---- 6. terminal value (going concern only)
        clipped = 0
        pv_tv = 0.0
        if failed:
            pv_tv = 0.0
        elif tv_method == 0:
            tw = th[P_TW]
            if math.isnan(tw):
                tw = wm
            roc = th[P_ROC]
            if math.isnan(roc):
                roc = tw
            spread = tw - tg
            if spread < min_spread:
                spread = min_spread
                clipped = 1
            ebit_next = ebit * (1.0 + tg)
            nopat = ebit_next * (1.0 - tax_rate) if ebit_next > 0.0 else ebit_next
            fcff_next = nopat * (1.0 - tg / roc)
            tv = gordon_terminal_value(fcff_next, tg + spread, tg)
            pv_tv = tv * df
            if mid:
                pv_tv *= math.sqrt(1.0 + r_t)
        else:
            m_exit = th[P_EXIT]
            if math.isnan(m_exit):
                m_exit = mult
            pv_tv = m_exit * r_tot * df

        # ---- 9. two lenses
        ev = pv + pv_tv + recovery_pv
        equity = ev + cash0 + claims
        floored = 0
        if limited and equity < 0.0:
            equity = 0.0
            floored = 1
        vps = equity * to_price
        out[O_VPS, p] = vps
        out[O_EQUITY, p] = equity
        out[O_PV_EXPL, p] = pv
        out[O_PV_TV, p] = pv_tv
        denom = pv + pv_tv
        out[O_TV_SHARE, p] = pv_tv / denom if denom != 0.0 else 0.0
        out[O_FAIL_YEAR, p] = fail_year
        if failed:
            price_h = 0.0
        else:
            e_h = mult * r_tot + cash + claims
            price_h = (e_h if e_h > 0.0 else 0.0) / shares * to_price
        out[O_PRICE_H, p] = price_h
        ret = (price_h / price0) ** (1.0 / horizon) - 1.0
        out[O_RET_H, p] = ret
        out[O_REV_N, p] = r_tot
        out[O_MARGIN_N, p] = margin
        out[O_MULT_N, p] = mult if not failed else np.nan
        out[O_DILUTION, p] = shares
        out[O_CAGR, p] = (r_tot / rev0) ** (1.0 / horizon) - 1.0 if rev0 > 0.0 else np.nan
        out[O_RAISED, p] = raised
        out[O_CASH_N, p] = cash
        flags[L_FAILED, p] = 1 if failed else 0
        flags[L_JUST_DCF, p] = 1 if vps >= price0 else 0
        flags[L_JUST_MKT, p] = 1 if ret >= ke else 0
        flags[L_TV_CLIPPED, p] = clipped
        flags[L_FLOORED, p] = floored

@jit
def draw_normals(rng, out):
    """The floor: fill ``out`` (float64, any shape, C-contiguous) with standard normals from ``rng``."""
    flat = out.reshape(-1)
    for i in range(flat.shape[0]):
        flat[i] = rng.standard_normal()
