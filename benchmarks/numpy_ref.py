"""The standard model written plainly in vectorised numpy: the baseline the engine is compared with.

Same equations as the compiled path kernel (``engine._kernels.simulate_block``), written
the way an analyst would write them in numpy: arrays over paths, a Python loop over
time steps, fresh (P,) temporaries at every step. It draws its own parameters and
shocks from one ``numpy.random.Generator``, so it matches the engine in distribution,
not bit for bit (``tests/test_benchmarks.py`` checks that).

Covered: one segment; Ornstein-Uhlenbeck growth on ln(1 + g) in continuous time,
exact over each step (with decaying volatility and the mean-preserving compensator)
or a linear fade by fiscal year; logit-normal churn drawn once per fiscal year; the optional direct revenue shock;
linear or exponential margin convergence with AR(1) noise and a cap; taxes with a loss
carry-forward; reinvestment = change in revenue / sales-to-capital; year-end or
mid-year discounting along the WACC fade; Gordon terminal value with stable
reinvestment g / ROC; the EV/Sales multiple with a decaying premium; cash, SBC
dilution, equity raises and failure. Anything else raises ``NotImplementedError``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["simulate_numpy"]

LN2 = math.log(2.0)


def _draw(spec, rng: np.random.Generator, n: int):
    """A fixed input as a float, a drawn one as an (n,) array, drawn with plain numpy."""
    if spec is None:
        return None
    if spec.is_fixed:
        return float(spec.median())
    kind = spec.kind
    if kind == "uniform":
        return rng.uniform(spec.min, spec.max, n)
    if kind == "triangular":
        return rng.triangular(spec.min, spec.mode, spec.max, n)
    if kind == "pert":
        lam = float(getattr(spec, "lambda_", 4.0))
        w = spec.max - spec.min
        a = 1.0 + lam * (spec.mode - spec.min) / w
        b = 1.0 + lam * (spec.max - spec.mode) / w
        return spec.min + w * rng.beta(a, b, n)
    raise NotImplementedError(f"the numpy reference does not draw {kind!r} inputs")


def simulate_numpy(cfg, paths: int, seed: int = 0) -> dict:
    """Simulate ``paths`` paths of a one-segment ``cfg`` (an :class:`engine.config.Config`).

    Returns
    -------
    dict of str -> ndarray (paths,)
        ``value_per_share``, ``equity_value``, ``pv_explicit``, ``pv_terminal``,
        ``revenue_horizon``, ``price_horizon``, ``failed``.
    """
    if len(cfg.segments) != 1:
        raise NotImplementedError("the numpy reference models one segment")
    if cfg.margin.method.value == "cost_structure" or cfg.terminal.method.value != "gordon":
        raise NotImplementedError("the numpy reference models linear/exponential margins and a Gordon terminal value")
    if cfg.correlations.pairs:
        raise NotImplementedError("the numpy reference draws independent inputs")
    rng = np.random.default_rng(seed)
    P = int(paths)
    spec = {p.key: p.spec for p in cfg.parameters()}
    seg = cfg.segments[0]
    sk = f"segments.{seg.name}."

    def par(key):
        return _draw(spec.get(key), rng, P)

    # ---- per-path parameters (theta)
    rev0 = par(sk + ("revenue" if seg.revenue is not None else "run_rate"))
    g0 = par(sk + "growth.today")
    ginf_rate = par(sk + "growth.long_run")
    ghl = par(sk + "growth.half_life")
    fade_year = par(sk + "growth.fade_year")
    gvol0 = par(sk + "growth.volatility")
    gvol_inf = par(sk + "growth.volatility_long_run")
    gvol_hl = par(sk + "growth.volatility_half_life")
    churn = par(sk + "churn.rate")
    cdisp = par(sk + "churn.dispersion")
    rvol0 = par(sk + "revenue_shock.volatility")
    rvol_inf = par(sk + "revenue_shock.volatility_long_run")
    rhl = par(sk + "revenue_shock.half_life")
    rcorr = par(sk + "revenue_shock.correlation")
    mpr = par(sk + "revenue_shock.market_price_of_risk")
    cash0 = par("balance_sheet.cash")
    claims = -par("balance_sheet.debt") - par("balance_sheet.minority_interests") + par(
        "balance_sheet.non_operating_assets")
    nol = np.zeros(P) + par("balance_sheet.nol")
    ic0 = par("balance_sheet.invested_capital")
    m0 = par("margin.today")
    mt = par("margin.target")
    mconv = par("margin.convergence_year")
    mhl = par("margin.half_life")
    mnoise = par("margin.noise_sd")
    mpers = par("margin.noise_persistence")
    mmax = par("margin.maximum")
    tax_rate = par("tax.rate")
    s2c = par("reinvestment.sales_to_capital")
    w0 = par("cost_of_capital.initial")
    wm = par("cost_of_capital.mature")
    tg = par("terminal.growth")
    tw = par("terminal.wacc")
    roc = par("terminal.return_on_capital")
    mu_today = par("multiple.today")
    mu_mat = par("multiple.mature")
    beta = par("multiple.growth_beta")
    mu_hl = par("multiple.half_life")
    mu_vol = par("multiple.volatility")
    sbc = par("dilution.sbc_rate")
    sbc = 0.0 if sbc is None else sbc  # dilution.sbc = "expense": no share-count growth from SBC
    floor = par("financing.cash_floor")
    buffer = par("financing.buffer_years")
    disc = par("financing.issue_discount")
    cash_rate = par("financing.cash_rate")
    p_fail = par("failure.annual_probability")
    recov = par("failure.recovery")

    ou = seg.growth.method.value == "ou"
    linear_margin = cfg.margin.method.value == "linear"
    mid = bool(cfg.cost_of_capital.mid_year)
    fade_s = cfg.cost_of_capital.fade_start_year
    fade_e = cfg.cost_of_capital.fade_end_year
    spy = cfg.simulation.steps_per_year
    N = cfg.n_steps
    dt = 1.0 / spy
    sqdt = math.sqrt(dt)
    if gvol_inf is None:
        gvol_inf = gvol0
    if rvol_inf is None:
        rvol_inf = rvol0
    rev_shock = not (np.all(np.asarray(rvol0) == 0.0) and np.all(np.asarray(rvol_inf) == 0.0))
    hazard = not np.all(np.asarray(p_fail) == 0.0)
    logit_c = np.log(churn / (1.0 - churn)) if 0.0 < np.min(churn) and np.max(churn) < 1.0 else None

    # ---- initial state
    R = np.zeros(P) + rev0
    kap = LN2 / ghl
    x_inf = np.log1p(ginf_rate)
    # x0 makes the first year's integral of x equal ln(1 + today) (docs/model.md (1.1))
    x = np.zeros(P) + x_inf + (np.log1p(g0) - x_inf) * kap / (1.0 - np.exp(-kap))
    # exact one-step moments of (x', integral of x) per unit volatility (docs/model.md (1.3))
    a_ou = np.exp(-kap * dt)
    b_ou = (1.0 - a_ou) / kap
    v1 = (1.0 - a_ou**2) / (2.0 * kap)
    c12 = (1.0 - a_ou) ** 2 / (2.0 * kap**2)
    v2 = (dt - 2.0 * (1.0 - a_ou) / kap + (1.0 - a_ou**2) / (2.0 * kap)) / kap**2
    cw2 = (dt - b_ou) / kap
    p11 = np.sqrt(v1)
    p21 = c12 / p11
    p22 = np.sqrt(np.maximum(v2 - p21**2, 0.0))
    q1 = b_ou / (sqdt * p11)
    q2 = np.where(p22 > 0, (cw2 / sqdt - q1 * p21) / np.where(p22 > 0, p22, 1.0), 0.0)
    if not ou:
        q1, q2 = 1.0, 0.0
    mean_preserving = ou and seg.growth.mean_preserving
    vx = cxi = cxs = 0.0
    ic = R / s2c if ic0 is None else np.zeros(P) + ic0
    g0_tot = (1.0 + g0) * (1.0 - churn) - 1.0
    mu0 = (cfg.market_cap_reporting - cash0 - claims) / rev0 if mu_today is None else mu_today
    prem = np.zeros(P) + np.log(mu0 / (mu_mat * np.exp(beta * (g0_tot - tg))))
    mu_decay = 2.0 ** (-dt / mu_hl)
    cash = np.zeros(P) + cash0
    shares = np.ones(P)
    u_m = np.zeros(P)
    df = np.ones(P)
    pv = np.zeros(P)
    failed = np.zeros(P, dtype=bool)
    payoff_pv = np.zeros(P)  # the failure payoff discounted at the WACC from failure
    payoff_ps = np.zeros(P)  # the failure payoff per share outstanding at failure
    fail_tau = np.zeros(P)
    closed = np.zeros(N, dtype=bool)
    if cfg.financing.closed:
        closed[:] = True
    for y in cfg.financing.closed_years:
        closed[(y - 1) * spy: y * spy] = True
    r_prev = R
    ebit = np.zeros(P)
    margin = np.zeros(P) + m0
    mult = np.zeros(P) + mu0
    r_t = w0

    for t in range(1, N + 1):
        tau = t * dt
        alive = ~failed
        # 1. revenue: OU integral of ln(1 + g), churn drawn per fiscal year, optional direct revenue shock
        eg = rng.standard_normal(P)
        ex = rng.standard_normal(P)

        def rms_mean(v0, vinf, hl):  # a decaying volatility's root mean square and mean over the step
            u = LN2 * dt / hl
            gap = (v0 - vinf) * 2.0 ** (-(tau - dt) / hl)
            w1, w2 = (1.0 - np.exp(-u)) / u, (1.0 - np.exp(-2.0 * u)) / (2.0 * u)
            return np.sqrt(np.maximum(vinf**2 + 2 * vinf * gap * w1 + gap**2 * w2, 0.0)), vinf + gap * w1

        sig, sig_mean = rms_mean(rvol0, rvol_inf, rhl) if rev_shock else (0.0, 0.0)
        if ou:
            eta, _ = rms_mean(gvol0, gvol_inf, gvol_hl)
            integral = x_inf * dt + (x - x_inf) * b_ou + eta * (p21 * eg + p22 * ex)
            if mean_preserving:  # Var(I) / 2 + Cov(I, S), step by step (docs/model.md (1.4))
                esr = eta * sig * rcorr
                integral = integral - (b_ou * cxi + 0.5 * b_ou**2 * vx + 0.5 * eta**2 * v2 + b_ou * cxs + esr * cw2)
                vx, cxi, cxs = a_ou**2 * vx + eta**2 * v1, a_ou * cxi + a_ou * b_ou * vx + eta**2 * c12, \
                    a_ou * cxs + esr * b_ou
            x = x_inf + (x - x_inf) * a_ou + eta * p11 * eg
        else:
            year = (t - 1) // spy + 1
            f = np.minimum(np.where(fade_year > 1.0, (year - 1.0) / (fade_year - 1.0), 1.0), 1.0)
            integral = np.zeros(P) + np.log1p(g0 + (ginf_rate - g0) * f) * dt
        e_c = rng.standard_normal(P) if logit_c is not None else None
        if (t - 1) % spy == 0:
            c = 1.0 / (1.0 + np.exp(-(logit_c + cdisp * e_c))) if logit_c is not None else np.zeros(P) + churn
        growth_factor = np.exp(integral) * (1.0 - c) ** dt
        if rev_shock:
            s2 = rcorr * rcorr * (q1 * q1 + q2 * q2)
            z = rcorr * (q1 * eg + q2 * ex) + np.sqrt(np.maximum(1.0 - s2, 0.0)) * rng.standard_normal(P)
            growth_factor = growth_factor * np.exp(-(0.5 * sig * sig + mpr * sig_mean) * dt + sig * sqdt * z)
        R_new = np.where(alive, R * growth_factor, R)
        g_tot = R_new / r_prev - 1.0 if spy == 1 else (R_new / r_prev) ** spy - 1.0

        # 2. margin: deterministic convergence + AR(1) noise, capped
        u_m = mpers ** dt * u_m + mnoise * sqdt * rng.standard_normal(P)
        if linear_margin:
            m_det = m0 + (mt - m0) * min(tau / mconv, 1.0) if np.isscalar(mconv) else \
                m0 + (mt - m0) * np.minimum(tau / mconv, 1.0)
        else:
            m_det = mt + (m0 - mt) * 2.0 ** (-tau / mhl)
        new_margin = np.minimum(m_det + u_m, mmax)
        new_ebit = new_margin * R_new

        # 3. taxes with a loss carry-forward
        ebit_flow = new_ebit * dt
        used = np.where(ebit_flow > 0.0, np.minimum(nol, ebit_flow), 0.0)
        tax = np.where(ebit_flow > 0.0, tax_rate * (ebit_flow - used), 0.0)
        new_nol = np.where(ebit_flow < 0.0, nol - ebit_flow, nol - used)

        # 4. reinvestment and FCFF
        reinv = (R_new - r_prev) / s2c
        fcff = ebit_flow - tax - reinv

        # 5. discounting along the WACC fade
        if tau <= fade_s:
            w = w0
        elif tau >= fade_e:
            w = wm
        else:
            w = w0 + (wm - w0) * (tau - fade_s) / (fade_e - fade_s)
        step = (1.0 + w) ** dt
        df_end = df / step
        flow_pv = fcff * (df / np.sqrt(step) if mid else df_end)

        # 7. multiple: growth-linked anchor times a decaying log premium
        e_mu = rng.standard_normal(P)
        anchor = mu_mat * np.exp(beta * (g_tot - tg))
        new_prem = prem * mu_decay + mu_vol * sqdt * e_mu
        new_mult = anchor * np.exp(new_prem)

        # 8. cash, dilution, equity raises, failure
        new_cash = cash * (1.0 + cash_rate) ** dt + fcff
        new_shares = shares * (1.0 + sbc) ** dt
        fail_now = np.zeros(P, dtype=bool)
        if hazard:
            fail_now |= rng.random(P) < 1.0 - (1.0 - p_fail) ** dt
        short = alive & ~fail_now & (new_cash < floor)
        if short.any():
            e_mkt = new_mult * R_new + new_cash + claims
            cannot = short & (closed[t - 1] | (e_mkt <= 0.0))
            fail_now |= cannot
            raise_ = short & ~cannot
            burn = np.where(fcff < 0.0, -fcff / dt, 0.0)
            need = np.where(raise_, floor - new_cash + buffer * burn, 0.0)
            new_shares = new_shares + need * new_shares / np.where(raise_, e_mkt * (1.0 - disc), 1.0)
            new_cash = new_cash + need
        fail_now &= alive

        # commit the step on live paths; failed paths stay frozen
        R = R_new if not failed.any() else np.where(alive, R_new, R)
        ic = np.where(alive, ic + reinv, ic)
        nol = np.where(alive, new_nol, nol)
        pv = np.where(alive, pv + flow_pv, pv)
        df = np.where(alive, df_end, df)
        cash = np.where(alive, new_cash, cash)
        shares = np.where(alive, new_shares, shares)
        prem = np.where(alive, new_prem, prem)
        mult = np.where(alive, new_mult, mult)
        margin = np.where(alive, new_margin, margin)
        ebit = np.where(alive, new_ebit, ebit)
        if fail_now.any():
            pay = np.maximum(cash + np.maximum(recov * ic, 0.0) + claims, 0.0)
            payoff_pv = np.where(fail_now, pay * df / shares, payoff_pv)
            payoff_ps = np.where(fail_now, pay / shares, payoff_ps)
            fail_tau = np.where(fail_now, tau, fail_tau)
            failed |= fail_now
        r_t = w
        r_prev = R

    # 6. terminal value (Gordon, stable reinvestment g / ROC), going concern only
    tw = wm if tw is None else tw
    roc = tw if roc is None else roc
    spread = np.maximum(np.zeros(P) + tw - tg, cfg.terminal.min_spread)
    ebit_next = ebit * (1.0 + tg)
    # a terminal loss releases no capital; with on_loss = "liquidate" it is valued at recovery x IC instead
    fcff_next = np.where(ebit_next > 0.0, ebit_next * (1.0 - tax_rate) * (1.0 - tg / roc), ebit_next)
    tv = fcff_next / spread
    pv_tv = tv * df
    if mid:
        pv_tv = pv_tv * math.sqrt(1.0 + r_t) if np.isscalar(r_t) else pv_tv * np.sqrt(1.0 + r_t)
    if cfg.terminal.on_loss == "liquidate":
        pv_tv = np.where(ebit_next < 0.0, np.maximum(recov * ic, 0.0) * df, pv_tv)
    pv_tv = np.where(failed, 0.0, pv_tv)

    # 9. the DCF lens and the horizon price; a failed path: its failure payoff in both lenses
    H = float(cfg.simulation.horizon_years)
    equity = pv + pv_tv + cash0 + claims
    if cfg.failure.limited_liability:
        equity = np.maximum(equity, 0.0)
    equity = np.where(failed, payoff_pv, equity / (1.0 + sbc) ** H)
    e_h = np.maximum(mult * R + cash + claims, 0.0)
    price_failed = payoff_ps * (1.0 + cash_rate) ** (H - fail_tau) * cfg.to_price
    return {
        "value_per_share": equity * cfg.to_price,
        "equity_value": equity,
        "pv_explicit": pv,
        "pv_terminal": pv_tv,
        "revenue_horizon": np.where(failed, np.nan, R),
        "price_horizon": np.where(failed, price_failed, e_h / shares * cfg.to_price),
        "failed": failed,
    }


def draws_per_step(cfg) -> int:
    """Standard normals (and uniforms) the reference draws per path and step."""
    seg = cfg.segments[0]
    n = 4  # growth (two), margin, multiple
    n += 1 if 0.0 < seg.churn.rate.median() < 1.0 else 0
    return n
