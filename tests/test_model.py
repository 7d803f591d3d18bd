"""The model against hand-computed references: DCF, Gordon, NOL taxes, FX, failure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import config_from_dict, simulate
from engine.model.discounting import wacc_at
from engine.model.terminal import gordon_terminal_value


def run(d, **kw):
    return simulate(config_from_dict(d), **kw)


# ------------------------------------------------------------------ Gordon growth


def test_gordon_multiple_reference():
    # r = 15%, g = 3%: terminal multiple of this year's FCFF (1 + g) / (r - g) = 8.5833
    assert gordon_terminal_value(1.03, 0.15, 0.03) == pytest.approx(8.583333, abs=1e-6)


def test_gordon_rises_with_growth_below_r():
    vals = [gordon_terminal_value(1 + g, 0.15, g) for g in np.linspace(-0.02, 0.14, 17)]
    assert all(b > a for a, b in zip(vals, vals[1:]))


def test_negative_fcf_terminal_value_kept():
    # FCF -100, r = 10%, g = 3%: TV = -100 x 1.03 / 0.07 = -1,471.43
    assert gordon_terminal_value(-100 * 1.03, 0.10, 0.03) == pytest.approx(-1471.43, abs=0.01)


# ------------------------------------------------------------------ deterministic DCF through the kernel


def test_textbook_dcf_year_end(base):
    ds = run(base)
    ev = ds["pv_explicit"] + ds["pv_terminal"]
    np.testing.assert_allclose(ev.values, 1601.88, atol=0.005)
    # equity / 100M shares x 1e6 per million = USD 16.0188 per share
    np.testing.assert_allclose(ds["value_per_share"].values, 16.0188, atol=1e-4)


def test_textbook_dcf_mid_year(base):
    base["cost_of_capital"]["mid_year"] = True
    ds = run(base)
    ev = (ds["pv_explicit"] + ds["pv_terminal"]).values
    np.testing.assert_allclose(ev, 1680.06, atol=0.005)
    # the wrong convention (flows mid-year, terminal value at 5.0 years) gives 1,623.15
    assert abs(ev[0] - 1623.15) > 50


def test_negative_fcf_path_value_kept(base):
    base["margin"] = {"today": -0.10, "target": -0.10}
    base["terminal"]["on_loss"] = "perpetuity"
    ds = run(base)
    ev = (ds["pv_explicit"] + ds["pv_terminal"]).values
    np.testing.assert_allclose(ev, -1601.88, atol=0.005)
    assert not ds["floored"].values.any()


def test_limited_liability_floor_is_counted(base):
    base["margin"] = {"today": -0.10, "target": -0.10}
    base["terminal"]["on_loss"] = "perpetuity"
    base["failure"] = {"limited_liability": True}
    ds = run(base)
    assert (ds["value_per_share"].values == 0).all()
    assert ds["floored"].values.all()


def test_terminal_spread_clipped_and_counted(base):
    # stable growth drawn up to 9.5% against a 10% WACC: spreads under 1% are clipped to 1% and counted
    base["terminal"]["growth"] = {"kind": "uniform", "min": 0.0, "max": 0.095}
    ds = run(base, paths=2000)
    g = ds["param_terminal_growth"].values
    clipped = ds["tv_clipped"].values
    np.testing.assert_array_equal(clipped, 0.10 - g < 0.01)
    assert 0 < clipped.sum() < 2000


def test_wacc_path_damodaran():
    assert wacc_at(5.0, 0.12, 0.08, 5.0, 10.0) == 0.12
    assert wacc_at(7.5, 0.12, 0.08, 5.0, 10.0) == pytest.approx(0.10)
    assert wacc_at(11.0, 0.12, 0.08, 5.0, 10.0) == 0.08


# ------------------------------------------------------------------ currencies


def test_fx_per_share_reference(base):
    # equity CNY 100bn, 10bn shares, 1 CNY = 1.10 HKD: HKD 11.00 per share
    base["company"].update(reporting_currency="CNY", trading_currency="HKD", fx_rate=1.10)
    base["market"] = {"price": 5.0, "shares": 10_000, "share_unit": "million"}
    base["margin"] = {"today": 0.0, "target": 0.0}
    base["balance_sheet"]["cash"] = 100_000
    ds = run(base)
    np.testing.assert_allclose(ds["value_per_share"].values, 11.00, rtol=1e-12)
    assert ds["value_per_share"].attrs["units"] == "HKD/share"


def test_market_cap_mode_means_whole_equity(base):
    base["market"] = {"market_cap": 1000.0}
    ds = run(base)
    np.testing.assert_allclose(ds["value_per_share"].values, 1601.88, atol=0.005)
    assert ds.attrs["value_unit"] == "USD million (whole equity)"


# ------------------------------------------------------------------ taxes and NOL


def test_nol_shelters_profits_then_tax_is_paid(base):
    # EBIT 100 x 1.05^t per year, tax 25%. An NOL of 200 covers year 1 (105) and most of year 2 (110.25).
    base["tax"]["rate"] = 0.25
    base["balance_sheet"]["nol"] = 200.0
    base["terminal"]["growth"] = 0.03
    ds = run(base)
    ebit = 100 * 1.05 ** np.arange(1, 6)
    taxable = np.maximum(np.cumsum(ebit) - 200.0, 0.0)
    taxable = np.diff(np.concatenate([[0.0], taxable]))
    fcff = ebit - 0.25 * taxable
    pv = np.sum(fcff / 1.1 ** np.arange(1, 6))
    np.testing.assert_allclose(ds["pv_explicit"].values, pv, rtol=1e-12)


def test_reinvestment_sales_to_capital(base):
    # reinvestment = change in revenue / sales-to-capital (2.0): FCFF = 100 x 1.05^t - 1000 x 1.05^(t-1) x 0.05 / 2
    base["reinvestment"]["sales_to_capital"] = 2.0
    ds = run(base)
    t = np.arange(1, 6)
    fcff = 100 * 1.05**t - 1000 * 1.05 ** (t - 1) * 0.05 / 2.0
    np.testing.assert_allclose(ds["pv_explicit"].values, np.sum(fcff / 1.1**t), rtol=1e-12)


# ------------------------------------------------------------------ revenue process


def test_churn_reduces_revenue_exactly(base):
    # gross growth 10%, churn 20%: revenue x 1.1 x 0.8 each year
    base["segments"][0]["growth"] = {"today": 0.10, "long_run": 0.10}
    base["segments"][0]["churn"] = {"rate": 0.20}
    ds = run(base)
    np.testing.assert_allclose(ds["revenue_horizon"].values, 1000 * (1.1 * 0.8) ** 5, rtol=1e-12)


def test_revenue_never_negative_under_wild_shocks(base):
    seg = base["segments"][0]
    seg["growth"] = {"today": 2.9, "long_run": 0.05, "volatility": 1.5}
    base["simulation"]["allow_extreme_growth"] = True  # growth above 100% a year is opted into
    seg["churn"] = {"rate": 0.3, "dispersion": 2.0}
    seg["revenue_shock"] = {"volatility": 1.0}
    ds = run(base, paths=500, keep_paths=True)
    assert (ds["revenue"].values >= 0).all()
    assert np.isfinite(ds["value_per_share"].values).all()


@pytest.mark.parametrize("spy", [1, 4])
def test_ou_growth_mean_reverts_to_long_run(base, spy):
    # no shocks: year 1 grows by exactly today (100%); the annual log growth then closes half its gap to
    # ln(1 + long_run) every half-life: ln(1 + g_t) = x_inf + (ln 2 - x_inf) 2^(-(t - 1) / 2)
    seg = base["segments"][0]
    seg["growth"] = {"today": 1.0, "long_run": 0.05, "half_life": 2.0}
    base["simulation"]["steps_per_year"] = spy
    ds = run(base, keep_paths=True)
    t = np.arange(1, 6)
    x = math.log(1.05) + (math.log(2.0) - math.log(1.05)) * 2.0 ** (-(t - 1) / 2.0)
    np.testing.assert_allclose(ds["revenue"].values[0, spy - 1::spy], 1000 * np.exp(np.cumsum(x)), rtol=1e-10)
    if spy == 1:
        np.testing.assert_allclose(ds["growth"].values[0], np.exp(x) - 1, rtol=1e-10)
        assert ds["growth"].values[0, 0] == pytest.approx(1.0, rel=1e-12)  # not 41.4% (2^(1/2) - 1)


def test_linear_fade_growth(base):
    seg = base["segments"][0]
    seg["growth"] = {"method": "linear_fade", "today": 0.50, "long_run": 0.05, "fade_year": 5}
    ds = run(base, keep_paths=True)
    np.testing.assert_allclose(ds["growth"].values[0], [0.50, 0.3875, 0.275, 0.1625, 0.05], rtol=1e-10)


def test_quarterly_matches_annual_without_noise(base):
    ann = run(base)
    base["simulation"]["steps_per_year"] = 4
    q = run(base, keep_paths=True)
    assert q.sizes["time"] == 20
    np.testing.assert_allclose(q["revenue_horizon"].values, ann["revenue_horizon"].values, rtol=1e-12)
    np.testing.assert_allclose(q["time"].values[:2], [2025.25, 2025.5])


def test_margin_converges_linearly(base):
    base["margin"] = {"today": -6.5, "target": 0.2, "convergence_year": 5}
    base["balance_sheet"]["cash"] = 1e6  # enough cash that the burn never forces a raise
    ds = run(base, keep_paths=True)
    np.testing.assert_allclose(ds["margin"].values[0], -6.5 + 6.7 * np.arange(1, 6) / 5, rtol=1e-12)


def test_cost_structure_operating_leverage(base):
    base["margin"] = {"method": "cost_structure", "variable_cost_share": 0.5, "fixed_costs": 400.0,
                      "fixed_cost_growth": 0.0}
    base["terminal"]["growth"] = 0.0  # fixed-cost growth fades to stable growth: 0 -> 0 keeps them at 400
    ds = run(base, keep_paths=True)
    rev = 1000 * 1.05 ** np.arange(1, 6)
    np.testing.assert_allclose(ds["ebit"].values[0], rev * 0.5 - 400.0, rtol=1e-12)


# ------------------------------------------------------------------ failure and financing


def test_certain_failure_gives_recovery(base):
    base["failure"] = {"annual_probability": 0.999999, "recovery": 0.5}
    base["balance_sheet"]["invested_capital"] = 800.0
    ds = run(base)
    assert ds["failed"].values.all()
    # fails in year 1: PV(FCFF year 1) + PV(0.5 x invested capital) = (105 + 400) / 1.1
    # (the failure payoff max(0, cash 105 + recovery 400 - claims 0), discounted from year 1)
    np.testing.assert_allclose(ds["equity_value"].values, (105 + 400) / 1.1, rtol=1e-12)
    # the market lens gets the same payoff: 505 / 100M shares = USD 5.05, held at a 0% cash rate to year 5
    np.testing.assert_allclose(ds["price_horizon"].values, 5.05, rtol=1e-12)
    np.testing.assert_allclose(ds["horizon_return"].values, 0.505 ** 0.2 - 1.0, rtol=1e-12)


def test_closed_financing_fails_a_burning_company(base):
    base["margin"] = {"today": -0.5, "target": -0.5}
    base["balance_sheet"]["cash"] = 600.0
    base["financing"] = {"closed": True}
    ds = run(base)
    # burns 525 in year 1 (cash 75 >= 0), 551.25 in year 2: cash < 0 and the window is shut
    np.testing.assert_allclose(ds["failure_year"].values, 2.0)


def test_open_financing_dilutes_holders(base):
    base["margin"] = {"today": -0.5, "target": -0.5}
    base["balance_sheet"]["cash"] = 600.0
    base["financing"] = {"cash_floor": 0.0, "buffer_years": 1.0, "issue_discount": 0.0}
    ds = run(base)
    assert not ds["failed"].values.any()
    assert (ds["dilution"].values > 1.0).all()
    assert (ds["equity_raised"].values > 0).all()


# ------------------------------------------------------------------ property: kernel == a plain textbook DCF

from hypothesis import given, settings
from hypothesis import strategies as st


def textbook_dcf(rev0, g, g_inf, hl, m, tax, nol, s2c, r, tg, roc, years, mid):
    """An independent, loop-by-loop DCF (Damodaran's ginzu, constant WACC).

    Growth: year t grows by ln(1 + g_t) = x_inf + (ln(1 + g) - x_inf) 2^(-(t - 1) / hl), the year integral of
    the Ornstein-Uhlenbeck mean path calibrated to grow by g in year 1 (docs/model.md (1.1)).
    """
    pv, rev_prev, rev = 0.0, rev0, rev0
    for t in range(1, years + 1):
        x_inf = math.log1p(g_inf)
        rev = rev * math.exp(x_inf + (math.log1p(g) - x_inf) * 2.0 ** (-(t - 1) / hl))
        ebit = m * rev
        if ebit < 0:
            nol, tx = nol - ebit, 0.0
        else:
            used = min(nol, ebit)
            nol, tx = nol - used, tax * (ebit - used)
        fcff = ebit - tx - (rev - rev_prev) / s2c
        pv += fcff / (1 + r) ** (t - 0.5 if mid else t)
        rev_prev = rev
    ebit_next = m * rev_prev * (1 + tg)
    if ebit_next < 0:  # terminal.on_loss = "liquidate" at recovery 0: worth nothing (no negative perpetuity)
        return pv, 0.0
    tv = ebit_next * (1 - tax) * (1 - tg / roc) / (r - tg)
    pv_tv = tv / (1 + r) ** (years - 0.5 if mid else years)
    return pv, pv_tv


@settings(max_examples=40, deadline=None)
@given(
    g=st.floats(-0.3, 1.0),
    g_inf=st.floats(-0.05, 0.1),
    hl=st.floats(0.5, 8.0),
    spy=st.sampled_from([1, 4, 12]),
    m=st.floats(-2.0, 0.6),
    tax=st.floats(0.0, 0.4),
    nol=st.floats(0.0, 3000.0),
    s2c=st.floats(0.5, 5.0),
    r=st.floats(0.05, 0.2),
    tg=st.floats(0.0, 0.04),
    roc=st.floats(0.05, 0.5),
    years=st.integers(1, 12),
    mid=st.booleans(),
)
def test_kernel_equals_textbook_dcf(g, g_inf, hl, spy, m, tax, nol, s2c, r, tg, roc, years, mid):
    from tests.conftest import base_dict

    d = base_dict()
    d["segments"][0]["growth"] = {"today": g, "long_run": g_inf, "half_life": hl}
    d["margin"] = {"today": m, "target": m}
    d["tax"]["rate"] = tax
    d["balance_sheet"]["nol"] = nol
    d["balance_sheet"]["cash"] = 1e9  # never forced to raise or fail
    d["reinvestment"]["sales_to_capital"] = s2c
    d["cost_of_capital"] = {"initial": r, "mature": r, "mid_year": mid}
    d["terminal"] = {"growth": tg, "return_on_capital": roc, "min_spread": 0.005}
    d["simulation"].update(horizon_years=years, paths=2)
    ds = simulate(config_from_dict(d))
    pv, pv_tv = textbook_dcf(1000.0, g, g_inf, hl, m, tax, nol, s2c, r, tg, roc, years, mid)
    np.testing.assert_allclose(ds["pv_explicit"].values, pv, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(ds["pv_terminal"].values, pv_tv, rtol=1e-9, atol=1e-6)
    # the year-end revenue, hence the terminal value, is the same with quarterly or monthly steps
    d["simulation"]["steps_per_year"] = spy
    q = simulate(config_from_dict(d))
    np.testing.assert_allclose(q["revenue_horizon"].values, ds["revenue_horizon"].values, rtol=1e-9)
    np.testing.assert_allclose(q["pv_terminal"].values, pv_tv, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("spy", [2, 4, 12])
def test_margin_noise_spread_does_not_depend_on_steps_per_year(base, spy):
    """AR(1) margin noise: stationary sd noise_sd / sqrt(1 - rho^2) for any step size."""
    base["margin"].update(noise_sd=0.05, noise_persistence=0.5)
    base["balance_sheet"]["cash"] = 1e9
    base["simulation"].update(horizon_years=10, steps_per_year=spy)
    ds = run(base, paths=6000)
    sd = float(np.std(ds["margin_horizon"].values))
    # stationary sd 0.05 / sqrt(0.75) = 0.0577; after 10 years the start-up term is 0.25^10
    assert sd == pytest.approx(0.05 / math.sqrt(0.75), rel=0.05)


def test_ar1_step_scale():
    from engine.model.margin import ar1_step_scale

    assert ar1_step_scale(0.5, 1.0) == 1.0
    # four quarterly steps reproduce the annual variance: sum of rho^(2 dt k) scale^2 = 1
    s2 = ar1_step_scale(0.5, 0.25) ** 2
    assert sum(0.5 ** (0.5 * k) * s2 for k in range(4)) == pytest.approx(1.0)


def test_overflowing_inputs_are_refused_not_reported_as_nan(base):
    from engine.simulate import NonFiniteResultError

    seg = base["segments"][0]
    # mean_preserving off: the compensator would otherwise take exp(I - Var I / 2) to 0 instead of overflowing
    seg["growth"] = {"today": 50.0, "long_run": 1.0, "volatility": 20.0, "half_life": 50, "mean_preserving": False}
    base["simulation"]["allow_extreme_growth"] = True  # growth above 100% a year is opted into
    base["simulation"].update(horizon_years=50)
    with pytest.raises(NonFiniteResultError, match="non-finite"):
        run(base, paths=200)
