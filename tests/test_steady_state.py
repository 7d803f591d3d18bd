"""Issue 9, parts 2 and 3: the terminal value in steady state; one payoff and one convention whatever the lens.

Hand-computed references (docs/model.md, sections 2, 6, 8, 9; docs/decisions.md).
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from engine import config_from_dict, simulate
from engine.errors import InputError
from engine.model import financing, margin, terminal
from engine.summary import summary_dict


def run(d, **kw):
    return simulate(config_from_dict(d), **kw)


def loss_company(base, on_loss=None):
    """Flat revenue 1000, EBIT -169.69 every year, WACC 8%, g 3%, ROC 12%, tax 25%, one year."""
    base["segments"][0]["growth"] = {"today": 0.0, "long_run": 0.0}
    base["margin"] = {"today": -0.16969, "target": -0.16969}
    base["tax"]["rate"] = 0.25
    base["balance_sheet"]["cash"] = 1e6  # never raises or fails
    base["cost_of_capital"] = {"initial": 0.08, "mature": 0.08}
    base["terminal"] = {"growth": 0.03, "return_on_capital": 0.12}
    if on_loss:
        base["terminal"]["on_loss"] = on_loss
    base["simulation"]["horizon_years"] = 1
    return base


# ------------------------------------------------------------------ 1. a terminal loss releases no capital


def test_negative_terminal_nopat_releases_no_capital_step():
    # the reference: EBIT -169.69, g 3%, ROC 12%, WACC 8%
    fcff = terminal.stable_fcff(-169.69, 0.03, 0.25, 0.12)
    assert fcff == pytest.approx(-169.69 * 1.03)  # untaxed, no release (was x (1 - 0.25) = -131.09)
    tv = terminal.gordon_terminal_value(fcff, 0.08, 0.03)
    assert tv == pytest.approx(-3495.614, abs=1e-3)
    assert abs(tv - (-2621.7)) > 800  # the old rule's value
    pv, clipped = terminal.gordon_pv(-169.69, 0.03, 0.08, 0.12, 0.25, 0.01, 1.0, False, 0.08)
    assert pv == pytest.approx(-3495.614, abs=1e-3) and clipped == 0
    # a profit still reinvests g / ROC: 100 x 1.03 x 0.75 x (1 - 0.25) = 57.9375
    assert terminal.stable_fcff(100.0, 0.03, 0.25, 0.12) == pytest.approx(57.9375)


def test_negative_terminal_nopat_through_the_kernel(base):
    ds = run(loss_company(base, "perpetuity"))
    # TV at year 1 = -169.69 x 1.03 / 0.05, discounted one year at 8%
    np.testing.assert_allclose(ds["pv_terminal"].values, -169.69 * 1.03 / 0.05 / 1.08, rtol=1e-9)
    assert not ds["liquidated_at_horizon"].values.any()


# ------------------------------------------------------------------ 2. terminal.on_loss


def test_liquidate_on_loss_values_the_path_at_recovery(base):
    d = loss_company(base)  # default: liquidate
    d["failure"] = {"recovery": 0.5}
    d["balance_sheet"]["invested_capital"] = 800.0
    ds = run(d)
    # liquidation value 0.5 x 800 = 400 at the horizon (year 1), discounted at 8%
    np.testing.assert_allclose(ds["pv_terminal"].values, 400.0 / 1.08, rtol=1e-12)
    assert ds["liquidated_at_horizon"].values.all()
    s = summary_dict(ds)
    assert s["liquidated_share"] == 1.0
    # EV = PV(FCFF_1) + 400 / 1.08 = (-169.69 + 400) / 1.08 (no tax on the loss, no reinvestment)
    np.testing.assert_allclose((ds["pv_explicit"] + ds["pv_terminal"]).values, (400 - 169.69) / 1.08, rtol=1e-9)
    assert terminal.liquidation_pv(0.5, 800.0, 1 / 1.08) == pytest.approx(400 / 1.08)
    assert terminal.liquidation_pv(0.5, -800.0, 1 / 1.08) == 0.0


def test_on_loss_rule_by_method():
    L, P = terminal.LIQUIDATE, terminal.PERPETUITY
    assert terminal.liquidate_at_horizon(L, 0, -1.0, 0.03, 0.0)
    assert not terminal.liquidate_at_horizon(L, 0, 1.0, 0.03, 0.0)
    assert not terminal.liquidate_at_horizon(P, 0, -1.0, 0.03, 0.0)
    # exit multiple: only a negative exit value is liquidated (EV/Sales x revenue never is)
    assert not terminal.liquidate_at_horizon(L, 1, -1.0, 0.03, 5.0)
    assert terminal.liquidate_at_horizon(L, 1, 1.0, 0.03, -5.0)


def test_exit_multiple_on_revenue_is_never_liquidated(base):
    d = loss_company(base)
    d["terminal"] = {"method": "exit_multiple", "growth": 0.03, "exit_multiple": 2.0}
    ds = run(d)
    assert not ds["liquidated_at_horizon"].values.any()
    np.testing.assert_allclose(ds["pv_terminal"].values, 2.0 * 1000 / 1.08, rtol=1e-12)


def test_on_loss_is_validated(base):
    base["terminal"]["on_loss"] = "abandon"
    with pytest.raises(InputError, match="on_loss"):
        config_from_dict(base)


# ------------------------------------------------------------------ 3. fixed costs fade to stable growth


def test_fixed_cost_step_fades_linearly():
    # 10% today fading to 3% by year 10, the rate taken at each step's midpoint
    assert margin.fixed_cost_step(1.0, 1.0, 0.10, 0.03, 10.0) == pytest.approx(1.0965)
    assert margin.fixed_cost_step(10.0, 1.0, 0.10, 0.03, 10.0) == pytest.approx(1.0335)
    assert margin.fixed_cost_step(11.0, 1.0, 0.10, 0.03, 10.0) == pytest.approx(1.03)
    assert margin.fixed_cost_step(0.25, 0.25, 0.10, 0.03, 10.0) == pytest.approx((1.1 - 0.07 * 0.0125) ** 0.25)


def cost_company(base, horizon):
    """Revenue 1000 growing 3% = stable growth; costs 50% variable + 300 fixed growing 10% today; WACC 10%."""
    base["segments"][0]["growth"] = {"today": 0.03, "long_run": 0.03}
    base["margin"] = {"method": "cost_structure", "variable_cost_share": 0.5, "fixed_costs": 300.0,
                      "fixed_cost_growth": 0.10, "fixed_cost_fade_year": 10}
    base["balance_sheet"]["cash"] = 1e6
    base["simulation"]["horizon_years"] = horizon
    return base


def old_rule_value(horizon):
    """Fixed costs compounding at 10% for ever (the rule before): EV by hand."""
    pv, rev, fixed = 0.0, 1000.0, 300.0
    for t in range(1, horizon + 1):
        rev *= 1.03
        fixed *= 1.10
        pv += (0.5 * rev - fixed) / 1.1**t
    return pv + (0.5 * rev - fixed) * 1.03 / 0.07 / 1.1**horizon


def test_value_does_not_fall_as_the_horizon_lengthens(base):
    import copy

    values = {}
    for h in (10, 15, 20):
        ds = run(cost_company(copy.deepcopy(base), h), paths=2)
        values[h] = float((ds["pv_explicit"] + ds["pv_terminal"]).values[0])
    # from year 10 on, revenue and fixed costs both grow at 3%: the Gordon value at 10 is the
    # explicit value of years 11..H plus the Gordon value at H: the same EV at any horizon >= 10
    assert values[15] == pytest.approx(values[10], rel=1e-9)
    assert values[20] == pytest.approx(values[10], rel=1e-9)
    # by hand: fixed costs grow 10% - 7% x (t - 0.5) / 10 in year t <= 10, then 3%
    pv, rev, fixed = 0.0, 1000.0, 300.0
    for t in range(1, 11):
        rev *= 1.03
        fixed *= 1 + 0.10 - 0.07 * (t - 0.5) / 10
        pv += (0.5 * rev - fixed) / 1.1**t
    assert values[10] == pytest.approx(pv + (0.5 * rev - fixed) * 1.03 / 0.07 / 1.1**10, rel=1e-12)
    assert values[10] == pytest.approx(1505.117, abs=1e-3)
    # the old rule lost 1,500 per five years merely because the horizon lengthened
    assert [round(old_rule_value(h), 2) for h in (10, 15, 20)] == [-57.14, -1557.14, -3057.14]


def test_fixed_cost_fade_year_is_validated(base):
    cost_company(base, 10)
    base["margin"]["fixed_cost_fade_year"] = 0
    with pytest.raises(InputError, match="fixed_cost_fade_year"):
        config_from_dict(base)


# ------------------------------------------------------------------ 4. steady-state diagnostic


def test_steady_state_rule():
    ns = terminal.not_in_steady_state
    assert not ns(0.08, 0.03, 0.0, 0.0, False)  # 5 points above: not more than 5
    assert ns(0.0801, 0.03, 0.0, 0.0, False)
    assert ns(0.03, 0.03, 0.051, 0.0, False) and ns(0.03, 0.03, -0.051, 0.0, False)
    assert not ns(0.03, 0.03, 0.049, 0.5, False)
    assert ns(0.03, 0.03, 0.5, 0.011, True) and not ns(0.03, 0.03, 0.5, 0.009, True)


def test_steady_state_share_in_the_report(base):
    import copy

    assert not run(copy.deepcopy(base))["not_steady"].values.any()  # 5% growth vs 3%, margin at target
    d = copy.deepcopy(base)
    d["segments"][0]["growth"] = {"today": 0.20, "long_run": 0.20}
    assert run(d)["not_steady"].values.all()  # 20% growth in year 5: 17 points above stable growth
    d = copy.deepcopy(base)
    d["margin"] = {"today": 0.0, "target": 0.2, "convergence_year": 10}
    ds = run(d)  # horizon 5: the linear margin is at 10%, 10 points from target
    assert ds["not_steady"].values.all()
    s = summary_dict(ds)
    assert s["not_steady_share"] == 1.0
    from rich.console import Console

    from engine.views.tables import render_report

    buf = io.StringIO()
    render_report(s, Console(file=buf, width=200))
    assert "not in steady state at the horizon" in buf.getvalue()
    assert "valued at liquidation" in buf.getvalue()
    d["margin"]["convergence_year"] = 5
    assert not run(d)["not_steady"].values.any()
    # cost structure: last year's deterministic margin change. Revenue 7% (4 points above stable growth),
    # 30% variable costs, fixed costs 500 fading from 10% to 3%: the margin still rises 1.68 points in year 10
    d = cost_company(copy.deepcopy(base), 10)
    d["segments"][0]["growth"] = {"today": 0.07, "long_run": 0.07}
    d["margin"].update(variable_cost_share=0.3, fixed_costs=500.0)
    ds = run(d, keep_paths=True)
    m = ds["margin"].values[0]
    assert m[-1] - m[-2] == pytest.approx(0.01682, abs=1e-5)
    assert ds["not_steady"].values.all()
    d = cost_company(copy.deepcopy(base), 10)  # revenue at 3%: the margin moves under 1 point in year 10
    assert not run(d)["not_steady"].values.any()


def test_horizon_can_be_lengthened_without_other_changes():
    from engine.config import load_config

    from .conftest import CONFIGS

    cfg = load_config(CONFIGS / "zhipu.toml")
    for h in (10, 20):
        s = summary_dict(simulate(cfg.with_inputs({"simulation.horizon_years": h, "simulation.paths": 300})))
        assert s["horizon_years"] == h
        assert 0.0 <= s["not_steady_share"] <= 1.0 and 0.0 <= s["liquidated_share"] <= 1.0
        assert math.isfinite(s["value_per_share"]["mean"])


# ------------------------------------------------------------------ 5. one failure payoff for both lenses


def test_failure_payoff_step():
    assert financing.failure_payoff(105.0, 0.5, 800.0, 0.0) == 505.0
    assert financing.failure_payoff(315.0, 0.5, 800.0, -100.0) == 615.0
    assert financing.failure_payoff(-50.0, 0.5, 800.0, -1000.0) == 0.0  # never negative
    assert financing.failure_payoff(10.0, 0.5, -800.0, 0.0) == 10.0  # no negative recovery


def failing_company(base):
    base["failure"] = {"annual_probability": 0.999999, "recovery": 0.5}
    base["balance_sheet"].update(invested_capital=800.0, cash=200.0, debt=100.0)
    base["financing"] = {"cash_rate": 0.05}
    return base


def test_failed_path_same_payoff_in_both_lenses(base):
    ds = run(failing_company(base))
    assert ds["failed"].values.all()
    np.testing.assert_allclose(ds["failure_year"].values, 1.0)
    # year 1: cash 200 x 1.05 + FCFF 105 = 315; payoff = 315 + 0.5 x 800 - 100 = 615 (USD million)
    # DCF lens: 615 discounted one year at the 10% WACC, per today's 100M shares
    np.testing.assert_allclose(ds["equity_value"].values, 615 / 1.1, rtol=1e-12)
    np.testing.assert_allclose(ds["value_per_share"].values, 6.15 / 1.1, rtol=1e-12)
    # market lens: USD 6.15 per share at failure, held at the 5% cash rate to year 5
    np.testing.assert_allclose(ds["price_horizon"].values, 6.15 * 1.05**4, rtol=1e-12)
    np.testing.assert_allclose(ds["horizon_return"].values, (6.15 * 1.05**4 / 10.0) ** 0.2 - 1, rtol=1e-12)
    assert (ds["pv_terminal"].values == 0).all()


def test_failed_path_with_claims_above_assets_is_worth_nothing_in_both_lenses(base):
    d = failing_company(base)
    d["balance_sheet"]["debt"] = 2000.0
    ds = run(d)
    assert (ds["value_per_share"].values == 0).all() and (ds["price_horizon"].values == 0).all()
    np.testing.assert_allclose(ds["horizon_return"].values, -1.0)
    assert not ds["floored"].values.any()  # the payoff's floor is absolute priority, not the LL switch


def test_failed_path_payoff_per_share_outstanding_at_failure(base):
    d = failing_company(base)
    d["dilution"] = {"sbc": "dilution", "sbc_rate": 0.05}
    ds = run(d)
    # shares 1.05 at failure (one year of SBC): both lenses divide the payoff by them
    np.testing.assert_allclose(ds["value_per_share"].values, 6.15 / 1.1 / 1.05, rtol=1e-12)
    np.testing.assert_allclose(ds["price_horizon"].values, 6.15 / 1.05 * 1.05**4, rtol=1e-12)


# ------------------------------------------------------------------ 6. SBC counted once


def test_sbc_old_config_is_refused_with_the_choice(base):
    base["dilution"] = {"sbc_rate": 0.03}
    with pytest.raises(InputError, match=r'dilution.sbc = \\?"expense\\?"'):
        config_from_dict(base)


def test_sbc_rate_refused_under_expense_and_required_under_dilution(base):
    import copy

    d = copy.deepcopy(base)
    d["dilution"] = {"sbc": "expense", "sbc_rate": 0.03}
    with pytest.raises(InputError, match="does not also dilute"):
        config_from_dict(d)
    d["dilution"] = {"sbc": "dilution"}
    with pytest.raises(InputError, match="needs dilution.sbc_rate"):
        config_from_dict(d)
    d["dilution"] = {"sbc_rate": 0.0}  # an old zero rate means the same under either reading
    config_from_dict(d)


def test_sbc_expense_does_not_dilute(base):
    base["dilution"] = {"sbc": "expense"}
    ds = run(base)
    np.testing.assert_allclose(ds["dilution"].values, 1.0)
    np.testing.assert_allclose(ds["value_per_share"].values, 16.01875726, rtol=1e-8)
    # the config round-trips through its normalised TOML
    cfg = config_from_dict(base)
    assert "sbc" in cfg.to_toml()


def test_sbc_dilution_divides_both_lenses(base):
    base["dilution"] = {"sbc": "dilution", "sbc_rate": 0.05}
    ds = run(base)
    np.testing.assert_allclose(ds["value_per_share"].values, 16.01875726 / 1.05**5, rtol=1e-8)
    # market lens: EV/Sales 2 x revenue 1000 x 1.05^5 + cash (sum of FCFF) over 1.05^5 diluted shares
    rev5 = 1000 * 1.05**5
    cash5 = sum(100 * 1.05**t for t in range(1, 6))
    np.testing.assert_allclose(ds["price_horizon"].values, (2 * rev5 + cash5) / 1.05**5 / 100, rtol=1e-6)


# ------------------------------------------------------------------ 7. failed paths' horizon values are missing


def test_failed_paths_report_missing_horizon_values(base):
    base["failure"] = {"annual_probability": 0.3}
    base["balance_sheet"]["cash"] = 1e3
    ds = run(base, paths=400)
    f = ds["failed"].values
    assert 0 < f.sum() < 400
    for v in ("revenue_horizon", "revenue_cagr", "margin_horizon", "multiple_horizon", "cash_horizon", "dilution"):
        x = ds[v].values
        assert np.isnan(x[f]).all(), v
        assert np.isfinite(x[~f]).all(), v
    # surviving paths: revenue 1000 x 1.05^5, CAGR 5%
    np.testing.assert_allclose(ds["revenue_cagr"].values[~f], 0.05, rtol=1e-12)
    s = summary_dict(ds)
    assert s["median_revenue_cagr"] == pytest.approx(0.05)
    assert s["median_dilution"] == pytest.approx(1.0)
    mb = s["must_believe"]
    row = next(r for r in mb["rows"] if r["key"] == "revenue_cagr")
    assert row["all"] == pytest.approx(0.05)
    from engine.update import weighted_quantile

    assert float(weighted_quantile(ds["revenue_cagr"].values, 0.5, np.ones(400))) == pytest.approx(0.05)
