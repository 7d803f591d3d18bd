"""Each concept of the model against closed forms, at its own level (docs/model.md sections 1-9).

The step functions of :mod:`engine.model` are called directly (compiled) with
hand-computed references; a second group runs small deterministic companies
through the whole kernel, so a bug in the kernel's wiring of a concept (an input
ignored, the wrong hurdle) fails here too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import config_from_dict, simulate
from engine.model import cashflow, discounting, financing, lenses, margin, multiple, revenue, terminal

LN2 = math.log(2.0)


def run(d, **kw):
    return simulate(config_from_dict(d), **kw)


# ------------------------------------------------------------------ 1 Revenue


def test_ou_start_makes_today_the_first_year_growth():
    # today 100%, long run 0, half-life 1: x0 = ln 2 x ln 2 / (1 - 1/2) = 2 (ln 2)^2; integral over year 1 = ln 2
    x0 = revenue.ou_start(1.0, 0.0, 1.0)
    assert x0 == pytest.approx(2 * LN2**2, rel=1e-14)
    a, b, *_ = revenue.ou_moments(1.0, 1.0)
    assert (a, b) == pytest.approx((0.5, 0.5 / LN2), rel=1e-14)
    x1, integral = revenue.ou_integral_step(x0, 0.0, a, b, 0.0, 0.0, 0.0, 0.0, 0.7, -0.3, 1.0)
    assert integral == pytest.approx(LN2, rel=1e-14)  # revenue doubles in year 1
    assert x1 == pytest.approx(LN2**2, rel=1e-14)  # the instantaneous gap has halved


@pytest.mark.parametrize("half_life, dt", [(3.0, 1.0), (3.0, 0.25), (1.0, 1 / 12), (200.0, 1 / 12), (0.05, 1.0)])
def test_ou_moments_are_the_exact_joint_law(half_life, dt):
    """Against the integrals of the kernels: e1 = int e^(-k(h-s)) dW, e2 = int (1 - e^(-k(h-s))) / k dW."""
    from scipy.integrate import quad

    k = LN2 / half_life
    k1 = lambda s: math.exp(-k * (dt - s))  # noqa: E731
    k2 = lambda s: -math.expm1(-k * (dt - s)) / k  # noqa: E731
    ref = [quad(f, 0, dt, epsabs=0, epsrel=1e-13)[0] for f in (
        lambda s: k1(s) ** 2, lambda s: k1(s) * k2(s), lambda s: k2(s) ** 2, k1, k2)]
    a, b, v1, c12, v2, cw1, cw2 = revenue.ou_moments(half_life, dt)
    assert a == pytest.approx(math.exp(-k * dt), rel=1e-14)
    assert b == pytest.approx(-math.expm1(-k * dt) / k, rel=1e-14)
    assert [v1, c12, v2, cw1, cw2] == pytest.approx(ref, rel=1e-10)
    # the loadings reproduce the covariance of (e1, e2, W(h) / sqrt(h))
    p11, p21, p22, q1, q2 = revenue.ou_loadings(v1, c12, v2, cw1, cw2, dt)
    assert (p11**2, p11 * p21, p21**2 + p22**2) == pytest.approx((v1, c12, v2), rel=1e-9)
    sq = math.sqrt(dt)
    assert (sq * p11 * q1, sq * (p21 * q1 + p22 * q2)) == pytest.approx((cw1, cw2), rel=1e-9)
    assert q1**2 + q2**2 <= 1.0 + 1e-12


def test_mean_compensator_is_half_the_variance_of_the_integral():
    # constant eta: the compensators of the steps add up to Var I(T) / 2 (docs/model.md (1.5)), for any step
    half_life, eta, T = 3.0, 0.10, 10.0
    k = LN2 / half_life
    var_i = eta**2 / k**2 * (T - 2 * (1 - math.exp(-k * T)) / k + (1 - math.exp(-2 * k * T)) / (2 * k))
    for dt in (1.0, 0.25, 1 / 12):
        a, b, v1, c12, v2, cw1, cw2 = revenue.ou_moments(half_life, dt)
        vx = cxi = cxs = total = 0.0
        for _ in range(round(T / dt)):
            comp, vx, cxi, cxs = revenue.mean_compensator_step(vx, cxi, cxs, a, b, v1, c12, v2, cw1, cw2, eta, 0.0)
            total += comp
        assert total == pytest.approx(var_i / 2, rel=1e-10)
        assert vx == pytest.approx(eta**2 * (1 - math.exp(-2 * k * T)) / (2 * k), rel=1e-10)
    # with a revenue shock correlated rho: + Cov(I, S) = eta sigma rho int_0^T (1 - e^(-k(T-s))) / k ds
    a, b, v1, c12, v2, cw1, cw2 = revenue.ou_moments(half_life, 1.0)
    vx = cxi = cxs = total = 0.0
    for _ in range(10):
        comp, vx, cxi, cxs = revenue.mean_compensator_step(vx, cxi, cxs, a, b, v1, c12, v2, cw1, cw2, 0.0, 0.06)
        total += comp
    assert total == pytest.approx(0.06 * (T - (1 - math.exp(-k * T)) / k) / k, rel=1e-10)


def test_decaying_volatility_and_its_step_average():
    assert revenue.decaying_volatility(0.3, 0.1, 2.0, 1.0) == pytest.approx((0.1, 0.2, 2**-0.5))
    assert revenue.decaying_volatility(0.3, float("nan"), 2.0, 0.5) == pytest.approx((0.3, 0.0, 2**-0.25))
    # sigma(s) = 0.1 + 0.2 x 2^(-s/2) over [0, 1]: mean 0.1 + 0.2 (1 - 2^-0.5) / (ln2 / 2),
    # mean square 0.01 + 0.04 (1 - 2^-0.5) / (ln2 / 2) + 0.04 (1 - 2^-1) / ln2
    w1, w2 = revenue.volatility_step_weights(2.0, 1.0)
    rms, mean = revenue.step_volatility(0.1, 0.2, w1, w2)
    u = LN2 / 2
    assert mean == pytest.approx(0.1 + 0.2 * (1 - 2**-0.5) / u, rel=1e-14)
    assert rms**2 == pytest.approx(0.01 + 0.04 * (1 - 2**-0.5) / u + 0.04 * 0.5 / LN2, rel=1e-14)
    assert revenue.step_volatility(0.1, 0.0, w1, w2) == pytest.approx((0.1, 0.1), rel=1e-15)


def test_linear_fade_growth_by_fiscal_year():
    assert revenue.linear_fade_growth(1, 0.30, 0.05, 5.0) == pytest.approx(1.30)
    assert revenue.linear_fade_growth(3, 0.30, 0.05, 5.0) == pytest.approx(1.175)  # half-way
    assert revenue.linear_fade_growth(5, 0.30, 0.05, 5.0) == pytest.approx(1.05)
    assert revenue.linear_fade_growth(9, 0.30, 0.05, 5.0) == pytest.approx(1.05)
    assert [revenue.fiscal_year(t, 4) for t in (1, 4, 5, 8, 9)] == [1, 1, 2, 2, 3]


def test_logit_normal_churn_median_and_spread():
    lm = revenue.churn_logit(0.1)
    assert lm == pytest.approx(math.log(0.1 / 0.9))
    # the median draw (eps = 0) is the median churn; the logit is monotone, so the median of the draws is too
    draws = [revenue.logit_normal_churn(0.1, lm, 0.5, e) for e in (-1.0, 0.0, 1.0)]
    assert draws[1] == pytest.approx(0.1, rel=1e-14)
    assert draws[0] < 0.1 < draws[2]
    assert draws[2] == pytest.approx(1 / (1 + math.exp(-(math.log(1 / 9) + 0.5))), rel=1e-14)
    assert revenue.logit_normal_churn(0.1, lm, 0.0, 2.0) == 0.1  # no dispersion
    assert revenue.logit_normal_churn(0.0, 0.0, 0.5, 2.0) == 0.0


def test_growth_retention_and_revenue_shock():
    assert revenue.growth_retention_factor(1.2, 0.1, 1.0, True) == pytest.approx(1.08)
    assert revenue.growth_retention_factor(1.2, 0.1, 0.25, False) == pytest.approx(1.08**0.25)
    # Schwartz-Moon: z = 0 leaves the drift -(sigma^2 / 2 + lambda sigma_mean) dt
    assert revenue.revenue_shock_factor(0.2, 0.2, 0.0, 0.0, 1.0, 1.0) == pytest.approx(math.exp(-0.02))
    assert revenue.revenue_shock_factor(0.2, 0.2, 0.0, 0.5, 1.0, 1.0) == pytest.approx(math.exp(-0.12))
    assert revenue.revenue_shock_factor(0.2, 0.1, 1.3, 0.5, 0.5, 0.25) == pytest.approx(
        math.exp(0.2 * 0.5 * 1.3 - (0.02 + 0.05) * 0.25))
    # z = rho (q1 eg + q2 ex) + sqrt(1 - rho^2 (q1^2 + q2^2)) er; the linear fade's q = (1, 0)
    assert revenue.revenue_shock_normal(0.6, 1.0, 0.0, 1.0, 5.0, 1.0) == pytest.approx(1.4)
    assert revenue.revenue_shock_normal(0.5, 0.6, 0.8, 1.0, 1.0, 1.0) == pytest.approx(0.7 + math.sqrt(0.75))


# ------------------------------------------------------------------ 2 Operating margin


def test_margin_paths():
    assert margin.linear_margin(2.5, -0.10, 0.20, 1 / 5) == pytest.approx(0.05)
    assert margin.linear_margin(10.0, -0.10, 0.20, 1 / 5) == pytest.approx(0.20)
    assert margin.exponential_margin(0.30, 0.5, 0.20) == pytest.approx((0.35, 0.15))
    assert margin.capped_margin(0.5, 0.05, 0.0, 0.4) == 0.4
    assert margin.capped_margin(0.1, 0.02, -0.05, 0.4) == pytest.approx(0.07)


def test_cost_structure_operating_leverage():
    # revenue 1000, variable 60%, fixed 300: EBIT 100 (10%); doubling revenue: EBIT 500 (25%)
    assert margin.cost_structure_ebit(1000.0, 0.6, 0.0, 0.0, 300.0, 0.5) == pytest.approx((100.0, 0.10))
    assert margin.cost_structure_ebit(2000.0, 0.6, 0.0, 0.0, 300.0, 0.5) == pytest.approx((500.0, 0.25))
    assert margin.cost_structure_ebit(2000.0, 0.6, 0.0, 0.0, 300.0, 0.2) == pytest.approx((400.0, 0.20))
    m, e, gap, fixed = margin.operating_margin(margin.COST_STRUCTURE, 1.0, 1000.0, 0.0, 0.0, 0, 0, 1, 0, 1, 1.0,
                                               0.6, 300.0, 1.1)
    assert (fixed, e) == pytest.approx((330.0, 70.0))
    m, e, gap, fixed = margin.operating_margin(margin.EXPONENTIAL, 1.0, 1000.0, 0.01, 0.0, 0.0, 0.2, 1, -0.2, 0.5,
                                               1.0, 0, 0, 1)
    assert (m, e, gap) == pytest.approx((0.11, 110.0, -0.1))


def test_ar1_step():
    assert margin.ar1_step(0.1, 0.5, 0.02, 1.0) == pytest.approx(0.07)


# ------------------------------------------------------------------ 3 Taxes and NOL; 4 Reinvestment and FCFF


def test_nol_carry():
    assert cashflow.tax_with_nol(-100.0, 50.0, 0.25) == (0.0, 150.0)  # a loss adds to the NOL
    assert cashflow.tax_with_nol(100.0, 150.0, 0.25) == (0.0, 50.0)  # fully sheltered
    assert cashflow.tax_with_nol(100.0, 30.0, 0.25) == pytest.approx((17.5, 0.0))  # 70 taxed


def test_reinvestment_and_fcff():
    reinv = cashflow.reinvestment(1100.0, 1000.0, 1 / 2.5)
    assert reinv == pytest.approx(40.0)  # dRevenue / sales-to-capital
    assert cashflow.reinvestment(900.0, 1000.0, 1 / 2.5) == pytest.approx(-40.0)
    assert cashflow.fcff(100.0, 17.5, reinv) == pytest.approx(42.5)


# ------------------------------------------------------------------ 5 Discounting


def test_wacc_fade_and_discounting():
    assert discounting.wacc_at(7.5, 0.12, 0.08, 5.0, 10.0) == pytest.approx(0.10)  # the midpoint
    assert discounting.wacc_at(4.0, 0.12, 0.08, 5.0, 10.0) == 0.12
    assert discounting.wacc_at(11.0, 0.12, 0.08, 5.0, 10.0) == 0.08
    assert discounting.step_growth(0.1, 0.25, False) == pytest.approx(1.1**0.25)
    assert discounting.discount_step(110.0, 1.0, 1.1, False) == pytest.approx((100.0, 1 / 1.1))
    pv, df = discounting.discount_step(110.0, 1.0, 1.1, True)
    assert (pv, df) == pytest.approx((110.0 / math.sqrt(1.1), 1 / 1.1))


# ------------------------------------------------------------------ 6 Terminal value


def test_gordon_and_exit():
    assert terminal.gordon_terminal_value(1.03, 0.15, 0.03) == pytest.approx(8.583333, abs=1e-6)
    # EBIT 100 -> 103 next year, taxed 25%, reinvestment g / ROC = 0.2: FCFF 61.8
    assert terminal.stable_fcff(100.0, 0.03, 0.25, 0.15) == pytest.approx(61.8)
    assert terminal.stable_fcff(-100.0, 0.03, 0.25, 0.15) == pytest.approx(-103.0)  # losses untaxed, no release
    assert terminal.gordon_pv(100.0, 0.03, 0.12, 0.15, 0.25, 0.01, 0.5, False, 0.1) == pytest.approx(
        (61.8 / 0.09 * 0.5, 0))
    pv, clipped = terminal.gordon_pv(100.0, 0.03, 0.035, 0.15, 0.25, 0.01, 1.0, True, 0.21)
    assert clipped == 1 and pv == pytest.approx(61.8 / 0.01 * 1.1)
    assert terminal.exit_multiple_pv(3.0, 1000.0, 0.5) == 1500.0


# ------------------------------------------------------------------ 7 EV/Sales multiple


def test_multiple_anchor_and_premium():
    # anchor: ln(mature) + beta (g - g_stable): 20 points of excess growth x beta 3 = +0.6 in logs
    assert multiple.log_anchor(2.0, 3.0, 0.25, 0.05) == pytest.approx(LN2 + 0.6)
    assert multiple.ev_sales(2.0, 3.0, 0.25, 0.05, 0.0, 0.0) == pytest.approx(2 * math.exp(0.6))
    assert multiple.ev_sales(2.0, 3.0, 0.25, 0.05, math.log(1.5), math.log(0.5)) == pytest.approx(
        2 * math.exp(0.6) * 0.75)
    mu0 = 2 * math.exp(0.6) * 1.5
    assert multiple.initial_premium(mu0, multiple.log_anchor(2.0, 3.0, 0.25, 0.05)) == pytest.approx(math.log(1.5))
    assert multiple.premium_step(math.log(1.5), 0.5, 0.1, 0.0) == pytest.approx(0.5 * math.log(1.5))
    assert multiple.premium_step(0.0, 0.5, 0.1, -2.0) == pytest.approx(-0.2)
    # today's multiple from the market: (market cap - cash - claims) / revenue
    assert multiple.initial_multiple(float("nan"), 5000.0, 1000.0, -500.0, 1000.0) == pytest.approx(4.5)
    assert multiple.initial_multiple(3.0, 5000.0, 1000.0, -500.0, 1000.0) == 3.0
    assert multiple.annualised_growth(1210.0, 1000.0, 0.5, False) == pytest.approx(1.21**2 - 1)
    assert multiple.annualised_growth(1210.0, 0.0, 1.0, True) == -1.0


# ------------------------------------------------------------------ 8 Cash, dilution, financing and failure


def test_raise_dilution():
    # 100 raised on equity of 1000: +10% shares at no discount, +12.5% at a 20% discount
    assert financing.shares_after_raise(1.0, 100.0, 1000.0, 0.0) == pytest.approx(1.1)
    assert financing.shares_after_raise(1.0, 100.0, 1000.0, 0.2) == pytest.approx(1.125)
    assert financing.equity_need(-50.0, 0.0, 1.0, -200.0, 1.0) == pytest.approx(250.0)
    failed, shares, cash, raised = financing.finance_or_fail(0.9, 0.0, -50.0, 0.0, False, 2.0, 500.0, 0.0,
                                                             -200.0, 1.0, 1.0, 1.0, 0.2)
    # market equity 2 x 500 - 50 = 950; 250 raised at 80% of the price
    assert not failed and (shares, cash, raised) == pytest.approx((1 + 250 / (950 * 0.8), 200.0, 250.0))
    assert financing.finance_or_fail(0.9, 0.0, -50.0, 0.0, True, 2.0, 500.0, 0.0, -200.0, 1.0, 1.0, 1.0, 0.2)[0]
    assert financing.finance_or_fail(0.05, 0.1, 50.0, 0.0, False, 2.0, 500.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.2)[0]


def test_cash_sbc_and_hazard():
    assert financing.grow_cash(1000.0, financing.compound_factor(0.04, 1.0), 50.0) == pytest.approx(1090.0)
    assert financing.compound_factor(0.05, 0.25) == pytest.approx(1.05**0.25)
    assert financing.failure_step_probability(0.1, 0.25) == pytest.approx(1 - 0.9**0.25)
    assert financing.recovery_pv(0.5, 800.0, 1 / 1.1) == pytest.approx(400 / 1.1)
    assert financing.recovery_pv(0.5, -800.0, 1 / 1.1) == 0.0
    assert financing.market_equity(2.0, 500.0, 100.0, -300.0) == 800.0


# ------------------------------------------------------------------ 9 The two lenses


def test_equity_bridge_and_lenses():
    assert lenses.equity_bridge(1000.0, 200.0, -300.0, False) == (900.0, 0)
    assert lenses.equity_bridge(-500.0, 100.0, 0.0, True) == (0.0, 1)
    assert lenses.equity_bridge(-500.0, 100.0, 0.0, False) == (-400.0, 0)
    assert lenses.price_per_share(1100.0, 1.1, 0.01) == pytest.approx(10.0)
    assert lenses.price_per_share(-5.0, 1.1, 0.01) == 0.0
    assert lenses.holder_return(20.0, 10.0, 5.0) == pytest.approx(2**0.2 - 1)
    assert lenses.holder_return(0.0, 10.0, 5.0) == -1.0
    assert lenses.justified_dcf(10.0, 10.0) == 1 and lenses.justified_dcf(9.99, 10.0) == 0
    assert lenses.justified_market(0.12, 0.15) == 0 and lenses.justified_market(0.15, 0.12) == 1
    assert lenses.terminal_share(25.0, 75.0) == 0.75 and lenses.terminal_share(0.0, 0.0) == 0.0


# ------------------------------------------------------------------ the concepts wired through the kernel


def test_kernel_sbc_dilutes_every_year(base):
    base["dilution"] = {"sbc": "dilution", "sbc_rate": 0.05}
    ds = run(base)
    assert not ds["equity_raised"].values.any()
    np.testing.assert_allclose(ds["dilution"].values, 1.05**5, rtol=1e-12)
    # both lenses divide by the diluted count: the DCF lens by today's shares x 1.05^5
    np.testing.assert_allclose(ds["value_per_share"].values, 16.01875726 / 1.05**5, rtol=1e-8)
    base["simulation"]["steps_per_year"] = 4
    np.testing.assert_allclose(run(base)["dilution"].values, 1.05**5, rtol=1e-12)


def test_kernel_cash_earns_the_cash_rate(base):
    base["balance_sheet"]["cash"] = 1000.0
    base["financing"] = {"cash_rate": 0.04}
    ds = run(base)
    # cash_5 = 1000 x 1.04^5 + sum_t FCFF_t x 1.04^(5 - t), FCFF_t = 100 x 1.05^t (tiny reinvestment aside)
    expect = 1000 * 1.04**5 + sum(100 * 1.05**t * 1.04 ** (5 - t) for t in range(1, 6))
    np.testing.assert_allclose(ds["cash_horizon"].values, expect, rtol=1e-9)
    # the DCF lens counts today's cash only
    base["financing"] = {"cash_rate": 0.0}
    np.testing.assert_array_equal(run(base)["equity_value"].values, ds["equity_value"].values)


def test_kernel_market_lens_hurdle_is_the_cost_of_equity(base):
    # set today's price so that the holder return is 12% a year, between a 10% WACC and a 15% cost of equity
    p_h = float(run(base)["price_horizon"].values[0])
    base["market"]["price"] = p_h / 1.12**5
    base["cost_of_capital"].update({"initial": 0.10, "mature": 0.10, "cost_of_equity": 0.15})
    ds = run(base)
    np.testing.assert_allclose(ds["horizon_return"].values, 0.12, rtol=1e-9)
    assert not ds["justified_market"].values.any()
    base["cost_of_capital"].update({"initial": 0.16, "mature": 0.16, "cost_of_equity": 0.10})
    assert run(base)["justified_market"].values.all()


def test_kernel_multiple_follows_growth_beta(base):
    # g = 5% on every path, stable growth 3%, beta 3, today's multiple 2 = the mature multiple:
    # premium_0 = ln 2 - (ln 2 + 3 x 0.02) = -0.06, halving every 2 years; EV/Sales_5 = 2 exp(0.06 - 0.06 x 2^-2.5)
    base["multiple"] = {"today": 2.0, "mature": 2.0, "growth_beta": 3.0, "half_life": 2.0}
    ds = run(base)
    np.testing.assert_allclose(ds["multiple_horizon"].values, 2 * math.exp(0.06 - 0.06 * 2**-2.5), rtol=1e-12)


def test_kernel_raise_at_the_issue_discount(base):
    # burns 525 then 551.25; year 2 cash -476.25 < 0: raise 476.25 + 1 year of burn = 1027.5 at
    # 80% of the market price; market equity = 2 x 1102.5 - 476.25 = 1728.75 (beta 0: EV/Sales stays 2)
    base["margin"] = {"today": -0.5, "target": -0.5}
    base["balance_sheet"]["cash"] = 600.0
    base["financing"] = {"cash_floor": 0.0, "buffer_years": 1.0, "issue_discount": 0.2}
    base["simulation"]["horizon_years"] = 2
    ds = run(base)
    np.testing.assert_allclose(ds["equity_raised"].values, 1027.5, rtol=1e-9)
    np.testing.assert_allclose(ds["dilution"].values, 1 + 1027.5 / (1728.75 * 0.8), rtol=1e-9)
    np.testing.assert_allclose(ds["cash_horizon"].values, 551.25, rtol=1e-9)


# ------------------------------------------------------------------ the registry


def test_slots_are_registry_positions_and_the_kernel_is_nopython(base):
    from engine import variables as V
    from engine.model import kernel, layout

    assert layout.P_W0 == [i.key for i in V.GLOBAL_INPUTS].index("cost_of_capital.initial")
    assert layout.NG == len(V.GLOBAL_INPUTS) and layout.NS == len(V.SEGMENT_INPUTS)
    assert layout.NO + layout.NL == len(V.PATH_VARIABLES)
    assert {layout.SLOTS[v.slot] for v in V.OUTPUT_VARIABLES} == set(range(layout.NO))
    run(base)
    assert kernel.simulate_block.nopython_signatures  # compiled, not object mode


def test_param_units_come_from_the_registry(base):
    base["balance_sheet"]["cash"] = {"kind": "uniform", "min": 0, "max": 100}
    base["cost_of_capital"]["initial"] = {"kind": "uniform", "min": 0.08, "max": 0.12}
    base["segments"][0]["growth"]["half_life"] = {"kind": "uniform", "min": 1, "max": 3}
    ds = run(base)
    assert ds["param_balance_sheet_cash"].attrs["units"] == "USD million"
    assert ds["param_cost_of_capital_initial"].attrs["units"] == "1/year"
    assert ds["param_core_growth_half_life"].attrs["units"] == "year"


def test_validate_names_what_is_wrong(base):
    from engine.errors import InputError
    from engine.variables import validate

    ds = run(base)
    validate(ds)
    bad = ds.assign(value_per_share=(("path", "x"), ds["value_per_share"].values[:, None]))
    with pytest.raises(InputError, match=r"variable 'value_per_share' has dims \('path', 'x'\); expected \('path',\)"):
        validate(bad)
    with pytest.raises(InputError, match="variable 'dilution' is missing"):
        validate(ds.drop_vars("dilution"))
    with pytest.raises(InputError, match="variable 'failed' has dtype float64; expected bool"):
        validate(ds.assign(failed=ds["failed"].astype(float)))
    with pytest.raises(InputError, match="dimension 'path' has size 64; the paths attribute says 65"):
        validate(ds.assign_attrs(paths=65))


def test_simulate_accepts_a_config_path(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    a = simulate(root / "configs" / "example_saas.yaml", paths=500)
    b = simulate(str(root / "configs" / "example_saas.yaml"), paths=500)
    np.testing.assert_array_equal(a["value_per_share"].values, b["value_per_share"].values)
    assert a.attrs["paths"] == 500


def test_kernel_cache_is_keyed_on_every_model_source():
    """numba's cache would otherwise key the kernel on kernel.py alone and run stale step functions after an edit."""
    from engine.model import _model_stamp, kernel

    locator = kernel.simulate_block._cache._impl._locator
    assert locator.get_source_stamp() == _model_stamp()
