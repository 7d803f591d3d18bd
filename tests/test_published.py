"""What published models need (issue 9, part 5): tax path, market x share revenue, an EV/EBIT exit,
reinvestment off, a one-shot failure probability, and Damodaran's Uber (2014) as a reference."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from engine import config_from_dict, simulate
from engine.config import ConfigError, load_config
from engine.model.cashflow import inverse_sales_to_capital, starting_invested_capital, tax_rate_at
from engine.model.financing import failure_weighted
from engine.model.revenue import market_log_step, market_share_at, market_share_revenue
from engine.model.terminal import exit_ebit_pv, liquidation_value

from .conftest import CONFIGS


def run(d, **kw):
    return simulate(config_from_dict(d), **kw)


def ev(ds, i=0):
    return float(ds.pv_explicit[i] + ds.pv_terminal[i])


# ------------------------------------------------------------------ concept step functions


def test_tax_rate_path_hand_values():
    # effective 31.1% until year 5, linear to the marginal 40% by year 10
    assert tax_rate_at(5.0, 0.311, 0.40, 5.0, 10.0) == 0.311
    assert tax_rate_at(7.5, 0.311, 0.40, 5.0, 10.0) == pytest.approx(0.3555, abs=1e-12)
    assert tax_rate_at(10.0, 0.311, 0.40, 5.0, 10.0) == 0.40
    assert tax_rate_at(30.0, 0.311, 0.40, 5.0, 10.0) == 0.40
    # no effective rate (effective = marginal): exactly the marginal rate in every year
    assert all(tax_rate_at(t, 0.25, 0.25, 5.0, 10.0) == 0.25 for t in np.linspace(0.25, 20, 80))


def test_market_share_step_functions():
    assert market_share_at(5.0, 0.015, 0.10, 10.0) == pytest.approx(0.0575, abs=1e-15)
    assert market_share_at(12.0, 0.015, 0.10, 10.0) == 0.10
    lm = math.log(100000.0)
    for _ in range(5):
        lm = market_log_step(lm, 1.0623, 0.0, 0.0, 1.0, 1.0, True)
    assert market_share_revenue(0.20, lm, market_share_at(5.0, 0.015, 0.10, 10.0), 0.0) == pytest.approx(
        1555.728284879671, rel=1e-12)
    assert market_log_step(0.0, 0.0, 0.0, 0.0, 1.0, 1.0, True) == -math.inf
    # the Ito term: ln M moves by ln(1 + g) dt + vol (sqrt(dt) eps - vol dt / 2)
    assert market_log_step(0.0, 1.05, 0.2, 1.0, 0.25, 0.5, False) == pytest.approx(
        0.25 * math.log(1.05) + 0.2 * (0.5 - 0.1 * 0.25), abs=1e-15)


def test_exit_ebit_and_liquidation_step_functions():
    assert exit_ebit_pv(10.0, 50.0, 7.0, 0.5) == (250.0, 0)
    assert exit_ebit_pv(10.0, -50.0, 7.0, 0.5) == (3.5, 1)
    assert exit_ebit_pv(10.0, 0.0, 7.0, 0.5) == (3.5, 1)
    assert liquidation_value(0.4, 1000.0) == 400.0
    assert liquidation_value(0.4, -10.0) == 0.0


def test_reinvestment_none_and_failure_weight_step_functions():
    assert inverse_sales_to_capital(4.0) == 0.25
    assert inverse_sales_to_capital(np.nan) == 0.0
    assert starting_invested_capital(np.nan, 1000.0, 4.0) == 250.0
    assert starting_invested_capital(np.nan, 1000.0, np.nan) == 0.0
    assert starting_invested_capital(123.0, 1000.0, np.nan) == 123.0
    assert failure_weighted(100.0, 0.10, 0.0) == pytest.approx(90.0, abs=1e-12)
    assert failure_weighted(100.0, 0.25, 40.0) == pytest.approx(85.0, abs=1e-12)


# ------------------------------------------------------------------ 1. tax path through the kernel


def _textbook_ev(fcff, wacc=0.10, g=0.03):
    """EV of the conftest company with yearly FCFF list ``fcff`` and a Gordon TV on the last EBIT."""
    df = [(1 + wacc) ** -t for t in range(1, len(fcff) + 1)]
    return sum(f * d for f, d in zip(fcff, df)), df[-1]


def test_tax_path_hand_dcf(base):
    # revenue 1000 x 1.05^t, margin 10%, no reinvestment: EBIT_t = 100 x 1.05^t; tax 10% in year 1,
    # linear to the marginal 30% by year 3 (20% in year 2), 30% after and in the terminal year
    base["tax"] = {"rate": 0.30, "effective": 0.10, "convergence_start_year": 1, "convergence_year": 3}
    ds = run(base)
    rates = [0.10, 0.20, 0.30, 0.30, 0.30]
    ebit = [100 * 1.05**t for t in range(1, 6)]
    pv, df5 = _textbook_ev([e * (1 - r) for e, r in zip(ebit, rates)])
    tv = ebit[-1] * 1.03 * (1 - 0.30) / (0.10 - 0.03)
    assert float(ds.pv_explicit[0]) == pytest.approx(pv, rel=1e-12)
    assert float(ds.pv_terminal[0]) == pytest.approx(tv * df5, rel=1e-12)


def test_tax_effective_equal_to_marginal_changes_nothing(base):
    base["tax"] = {"rate": 0.25}
    base["segments"][0]["growth"]["volatility"] = 0.2
    a = run(base)
    base["tax"] = {"rate": 0.25, "effective": 0.25, "convergence_start_year": 2, "convergence_year": 4}
    b = run(base)
    np.testing.assert_array_equal(a.value_per_share.values, b.value_per_share.values)


def test_tax_path_errors(base):
    base["tax"] = {"rate": 0.25, "convergence_year": 8}
    with pytest.raises(ConfigError, match="tax.convergence_year given without tax.effective"):
        config_from_dict(base)
    base["tax"] = {"rate": 0.25, "effective": 0.1, "convergence_start_year": 8, "convergence_year": 5}
    with pytest.raises(ConfigError, match="tax.convergence_start_year = 8 must be >= 0 and <= tax.convergence_year"):
        config_from_dict(base)


def test_old_config_normalised_text_unchanged(base):
    # no new key is written for a config that does not use the new features (its sha256 is kept)
    text = config_from_dict(base).to_toml()
    for word in ("effective", "convergence_start_year", "revenue_model", "exit_basis", "\nprobability =",
                 "take_rate"):
        assert word not in text


# ------------------------------------------------------------------ 2. revenue as market x share


def _market_share(base, **seg):
    s = base["segments"][0]
    for k in ("growth", "churn"):
        s.pop(k, None)
    s.update({"revenue": 300.0, "revenue_model": "market_share", "take_rate": 0.20,
              "market": {"size": 100000.0, "growth": 0.0623},
              "share": {"today": 0.015, "target": 0.10, "convergence_year": 10}}, **seg)
    base["simulation"]["horizon_years"] = 10
    return base


def test_market_share_revenue_is_step_size_invariant(base):
    d = _market_share(base)
    want = [0.20 * 100000 * 1.0623**t * (0.015 + 0.0085 * t) for t in range(1, 11)]
    for spy in (1, 4):
        d["simulation"]["steps_per_year"] = spy
        ds = run(d, keep_paths=True)
        got = ds.revenue.values[0][spy - 1::spy]
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert float(ds.revenue_horizon[0]) == pytest.approx(want[-1], rel=1e-12)


def test_market_share_volatility_is_mean_preserving(base):
    # E[revenue_10] = deterministic path (the market's Ito term is taken out), at any step size
    d = _market_share(base)
    d["segments"][0]["market"]["volatility"] = 0.30
    d["simulation"].update({"paths": 20000, "block_size": 4096})
    want = 0.20 * 100000 * 1.0623**10 * 0.10
    for spy in (1, 4):
        d["simulation"]["steps_per_year"] = spy
        r = run(d).revenue_horizon.values
        se = r.std() / math.sqrt(r.size)
        assert abs(r.mean() - want) < 4 * se
        # sd of ln(revenue_10) = 0.30 sqrt(10)
        assert np.log(r).std() == pytest.approx(0.30 * math.sqrt(10), rel=0.03)


def test_market_share_drawn_growth_and_stress_shift(base):
    d = _market_share(base)
    d["segments"][0]["market"]["growth"] = {"kind": "uniform", "min": 0.0, "max": 0.10}
    ds = run(d)
    g = ds["param_core_market_growth"].values
    np.testing.assert_allclose(ds.revenue_horizon.values, 0.2 * 100000 * (1 + g) ** 10 * 0.10, rtol=1e-12)


def test_market_share_refuses_unused_and_missing_keys(base):
    d = _market_share(copy.deepcopy(base))
    d["segments"][0]["churn"] = {"rate": 0.1}
    with pytest.raises(ConfigError, match="churn not used by revenue_model = 'market_share'"):
        config_from_dict(d)
    d = _market_share(copy.deepcopy(base))
    del d["segments"][0]["take_rate"]
    with pytest.raises(ConfigError, match="revenue_model = 'market_share' needs take_rate"):
        config_from_dict(d)
    d = copy.deepcopy(base)
    d["segments"][0]["take_rate"] = 0.2
    with pytest.raises(ConfigError, match="take_rate not used by revenue_model = 'growth'"):
        config_from_dict(d)


def test_market_share_config_round_trips(base):
    cfg = config_from_dict(_market_share(base))
    again = cfg.with_inputs({"simulation.steps_per_year": 2})
    assert again.segments[0].revenue_model == "market_share" and again.segments[0].growth is None


# ------------------------------------------------------------------ 3. exit multiple on EBIT


def test_exit_multiple_on_ebit_hand_value(base):
    base["terminal"] = {"method": "exit_multiple", "exit_multiple": 10.0, "exit_basis": "ebit"}
    ds = run(base)
    ebit5 = 100 * 1.05**5
    assert float(ds.pv_terminal[0]) == pytest.approx(10 * ebit5 / 1.1**5, rel=1e-12)
    pv, _ = _textbook_ev([100 * 1.05**t for t in range(1, 6)])
    assert float(ds.pv_explicit[0]) == pytest.approx(pv, rel=1e-12)


def test_exit_multiple_on_negative_ebit_is_liquidation(base):
    base["margin"] = {"today": -0.10, "target": -0.10}
    base["balance_sheet"]["invested_capital"] = 400.0
    base["reinvestment"]["sales_to_capital"] = "none"
    base["failure"] = {"recovery": 0.5}
    base["terminal"] = {"method": "exit_multiple", "exit_multiple": 10.0, "exit_basis": "ebit"}
    ds = run(base)
    assert float(ds.pv_terminal[0]) == pytest.approx(0.5 * 400.0 / 1.1**5, rel=1e-12)


def test_exit_ebit_needs_a_multiple(base):
    base["terminal"] = {"method": "exit_multiple", "exit_basis": "ebit"}
    with pytest.raises(ConfigError, match="exit_basis = 'ebit' needs terminal.exit_multiple"):
        config_from_dict(base)
    base["terminal"] = {"method": "gordon", "exit_basis": "ebit"}
    with pytest.raises(ConfigError, match="exit_basis not used by terminal.method = 'gordon'"):
        config_from_dict(base)


# ------------------------------------------------------------------ 4. reinvestment off


def test_reinvestment_none_equals_the_huge_ratio(base):
    base["segments"][0]["growth"].update({"today": 0.3, "long_run": 0.05, "volatility": 0.2})
    base["margin"]["noise_sd"] = 0.05
    a = run(base)  # sales_to_capital = 1e12 (the conftest workaround)
    base["reinvestment"]["sales_to_capital"] = "none"
    b = run(base)
    np.testing.assert_allclose(b.value_per_share.values, a.value_per_share.values, rtol=1e-9)
    np.testing.assert_allclose(b.cash_horizon.values, a.cash_horizon.values, rtol=1e-9)


def test_reinvestment_none_keeps_invested_capital(base):
    # the hazard takes every path in year 1; recovery 0.5 of an invested capital that stays at 800
    base["reinvestment"]["sales_to_capital"] = "None"
    base["balance_sheet"]["invested_capital"] = 800.0
    base["failure"] = {"annual_probability": 0.999999, "recovery": 0.5}
    ds = run(base)
    assert ds.failed.values.all()
    fcff1 = 100 * 1.05
    np.testing.assert_allclose(ds.equity_value.values, (fcff1 + 400.0) / 1.1, rtol=1e-12)
    assert config_from_dict(base).reinvestment.sales_to_capital == "none"
    assert 'sales_to_capital = "none"' in config_from_dict(base).to_toml()


def test_reinvestment_none_recovery_needs_invested_capital(base):
    base["reinvestment"]["sales_to_capital"] = "none"
    base["failure"] = {"recovery": 0.3}
    with pytest.raises(ConfigError, match="give balance_sheet.invested_capital"):
        config_from_dict(base)


# ------------------------------------------------------------------ 5. one-shot failure probability


def test_one_shot_failure_weights_both_lenses(base):
    base["reinvestment"]["sales_to_capital"] = "none"
    base["balance_sheet"].update({"invested_capital": 1000.0, "cash": 50.0, "debt": 200.0})
    gc = run(base)
    base["failure"] = {"probability": 0.2, "recovery": 0.5}
    ds = run(base)
    # DCF lens: EV = 0.8 x 1,601.88 + 0.2 x 0.5 x 1,000; pv_explicit / pv_terminal stay going-concern
    assert ev(ds) == pytest.approx(ev(gc), rel=1e-15)
    assert float(ds.equity_value[0]) == pytest.approx(0.8 * ev(gc) + 0.2 * 500.0 + 50.0 - 200.0, rel=1e-12)
    assert ev(gc) == pytest.approx(1601.88, abs=0.01)
    # market lens: the same expectation at the horizon; failure pays (recovery x IC + cash - debt) / shares
    cash_h = float(gc.cash_horizon[0])
    want = 0.8 * float(gc.price_horizon[0]) + 0.2 * (500.0 + cash_h - 200.0) / 100.0
    assert float(ds.price_horizon[0]) == pytest.approx(want, rel=1e-12)
    assert not ds.failed.values.any()


def test_one_shot_and_annual_failure_refused_together(base):
    base["failure"] = {"probability": 0.1, "annual_probability": 0.05}
    with pytest.raises(ConfigError, match="keep one"):
        config_from_dict(base)


# ------------------------------------------------------------------ 6. Damodaran's Uber (June 2014)


def _uber_by_hand():
    """Year-end DCF of the issue's Uber inputs, loop by loop (independent of the engine)."""
    R = [300.0] + [0.2 * 100000 * 1.0623**t * (0.015 + 0.0085 * t) for t in range(1, 11)]

    def lin(a, b, t, s, e):
        return a if t <= s else a + (b - a) * (t - s) / (e - s)

    pv, df, m0 = 0.0, 1.0, 10 / 300
    for t in range(1, 11):
        ebit = R[t] * (m0 + (0.40 - m0) * t / 10)
        fcff = ebit * (1 - lin(0.311, 0.40, t, 5, 10)) - (R[t] - R[t - 1]) / 5
        df /= 1 + lin(0.12, 0.08, t, 5, 10)
        pv += fcff * df
    g = 0.025
    tv = R[10] * (1 + g) * 0.40 * (1 - 0.40) * (1 - g / 0.20) / (0.08 - g)
    return pv, tv * df


def test_uber_reference():
    cfg = load_config(CONFIGS / "examples" / "uber_2014.toml")
    ds = simulate(cfg)
    pv, pv_tv = _uber_by_hand()
    assert float(ds.pv_explicit[0]) == pytest.approx(pv, rel=1e-9)
    assert float(ds.pv_terminal[0]) == pytest.approx(pv_tv, rel=1e-9)
    # value of operating assets: 0.9 x (pv_explicit + pv_terminal) = 5,704.78 (issue: 5,705 within 0.1%)
    assert 0.9 * ev(ds) == pytest.approx(5704.78, abs=0.01)
    assert 0.9 * ev(ds) == pytest.approx(5705, rel=1e-3)
    assert float(ds.equity_value[0]) == pytest.approx(0.9 * ev(ds), rel=1e-12)  # no cash, no debt
