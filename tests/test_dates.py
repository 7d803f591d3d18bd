"""Valuation date (the first year's stub) and the discount rates' currency (docs/model.md, sections 0, 5, 9).

References are computed by hand from the fixture company of tests/conftest.py: revenue 1000 growing 5%, margin
10%, no tax, WACC 10%, Gordon growth 3%, 5 years, 100 shares, no cash, base year 2025. f = days since 2025-12-31
/ 365; year-end flows: the remaining 1 - f of the 2026 flow at 1 - f, year t >= 2 at t - f, the terminal value
with the last flow (5 - f); mid-year: the stub's flow at (1 - f) / 2, year t >= 2 at t - f - 0.5, the terminal
value at 5 - f - 0.5.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from click.testing import CliRunner

from engine import simulate
from engine.cli import main
from engine.config import ConfigError, config_from_dict, config_warnings
from engine.model.discounting import interest_rate_parity, stub_length

from .conftest import base_dict


def _cfg(date="2025-12-31", spy=1, mid=False, **upd):
    d = base_dict()
    d["company"]["valuation_date"] = date
    d["company"]["base_year"] = upd.pop("base_year", 2025)
    d["simulation"]["steps_per_year"] = spy
    d["cost_of_capital"]["mid_year"] = mid
    cfg = config_from_dict(d)
    return cfg.with_inputs(upd) if upd else cfg


def _vps(cfg, paths=1, **kw):
    return simulate(cfg, paths=paths, threads=1, **kw)


def _f(date):
    return (dt.date.fromisoformat(date) - dt.date(2025, 12, 31)).days / 365


# ----------------------------------------------------------------------------- the stub, annual steps


@pytest.mark.parametrize("date, year_end, mid_year", [
    ("2025-12-31", 16.0188, 16.8006),  # f = 0: today's numbers (1,601.88 and 1,680.06 of EV)
    ("2026-01-15", 16.0422, 16.8234),
    ("2026-09-30", 16.4357, 17.2284),
    ("2026-12-15", 16.5474, 17.3529),
])
def test_stub_reference_values(date, year_end, mid_year):
    # mid-year by hand: 2026-09-30, f = 273/365 = 0.747945: 105 x 0.252055 / 1.1^0.126027 + 110.25 / 1.1^0.752055
    # + ... + 127.63 / 1.1^3.752055 + 1,878.01 / 1.1^3.752055 = 1,722.84
    assert float(_vps(_cfg(date)).value_per_share[0]) == pytest.approx(year_end, abs=5e-5)
    assert float(_vps(_cfg(date, mid=True)).value_per_share[0]) == pytest.approx(mid_year, abs=5e-5)


def test_valuation_at_base_year_end_is_pinned():
    """f = 0 (valuation date at the base year's end): the stub length equals dt in every step, exactly.

    Pinned sums for a stochastic config (growth noise, margin noise, cash interest, SBC dilution, failure hazard)
    at 1, 4 and 12 steps a year, year-end and mid-year. They were first the previous release's numbers (the
    valuation date changed nothing at f = 0, bit for bit); they were regenerated once when the growth, terminal
    and failure semantics changed (issue 9), when the shocks became counter-based (issue 12) and when their normals
    became the ziggurat's (issue 12, kernel part), and move only
    with a deliberate model change.
    """
    before = {
        (1, False): (1455.5931631539029, 14.292139144490275, 52965.35297032571, 17),
        (1, True): (1522.3465659122849, 14.292139144490275, 52965.35297032571, 17),
        (4, False): (1172.8131345627994, 10.280924912967663, 44899.5533247531, 19),
        (4, True): (1216.9868446655607, 10.280924912967663, 44899.5533247531, 19),
        (12, False): (1460.2457955016632, 12.307727987141346, 49943.934591994795, 18),
        (12, True): (1514.7138285518886, 12.307727987141346, 49943.934591994795, 18),
    }
    for (spy, mid), ref in before.items():
        b = base_dict()
        b["simulation"]["steps_per_year"] = spy
        b["cost_of_capital"]["mid_year"] = mid
        b["segments"][0]["growth"].update(today=0.3, long_run=0.05, volatility=0.2)
        b["margin"]["noise_sd"] = 0.05
        b["financing"] = {"cash_rate": 0.03}
        b["balance_sheet"]["cash"] = 50
        b["dilution"] = {"sbc": "dilution", "sbc_rate": 0.02}
        b["failure"] = {"annual_probability": 0.05}
        ds = simulate(config_from_dict(b), paths=64)
        got = (float(ds.value_per_share.sum()), float(ds.horizon_return.sum()), float(ds.cash_horizon.sum()),
               int(ds.failed.sum()))
        assert got == ref, (spy, mid)


# ----------------------------------------------------------------------------- any steps_per_year


def _hand_value(f, spy, mid=False, r=0.10, n=5):
    """Independent loop: step t counts h_t = clip(t dt - f, 0, dt) of its flow 0.1 R_t, R_t = 1000 x 1.05^(t dt)."""
    d = 1.0 / spy
    pv = 0.0
    for t in range(1, n * spy + 1):
        tau = t * d
        h = min(d, max(0.0, tau - f))
        if h == 0.0:
            continue
        flow = 0.1 * 1000 * 1.05**tau * h
        when = tau - f - (h / 2 if mid else 0.0)
        pv += flow / (1 + r) ** when
    tv = 0.1 * 1000 * 1.05**n * 1.03 * (1 - 0.03 / 1e12) / (r - 0.03)
    pv += tv / (1 + r) ** (n - f - (0.5 if mid else 0.0))
    return pv / 100


@pytest.mark.parametrize("spy", [1, 4, 12])
@pytest.mark.parametrize("date", ["2026-01-15", "2026-09-30", "2026-12-15"])
@pytest.mark.parametrize("mid", [False, True])
def test_stub_any_steps_per_year(spy, date, mid):
    """The stub is the part of the first year's steps after the valuation date; the rule is the same at any S.

    Each step counts its part after the valuation date and is discounted from it, so the value at the valuation
    date is the value at the base year's end, less the flows already received, rolled forward at the WACC:
    V_S(f) = 1.1^f (V_S(0) - sum_t (dt - h_t) 0.1 R_t / 1.1^tau_t) holds exactly for S = 1, 4 and 12.
    """
    f = _f(date)
    v = float(_vps(_cfg(date, spy, mid)).value_per_share[0])
    assert v == pytest.approx(_hand_value(f, spy, mid), rel=1e-11)
    if not mid:
        v0 = float(_vps(_cfg("2025-12-31", spy)).value_per_share[0])
        d = 1.0 / spy
        received = sum((d - min(d, max(0.0, t * d - f))) * 100 * 1.05 ** (t * d) / 1.1 ** (t * d)
                       for t in range(1, 5 * spy + 1)) / 100
        assert v == pytest.approx(1.1**f * (v0 - received), rel=1e-11)


@pytest.mark.parametrize("date", ["2025-12-31", "2026-03-02", "2026-09-30"])
def test_discount_clock_does_not_depend_on_step_count(date):
    """Without explicit flows (margin 0, exit multiple 2) the value is 2 R_5 / 1.1^(5 - f) at every step count."""
    f = _f(date)
    vals = []
    for spy in (1, 4, 12):
        d = base_dict()
        d["company"]["valuation_date"] = date
        d["company"]["base_year"] = 2025
        d["simulation"]["steps_per_year"] = spy
        d["margin"] = {"today": 0.0, "target": 0.0}
        d["terminal"] = {"method": "exit_multiple", "exit_multiple": 2.0}
        vals.append(float(_vps(config_from_dict(d)).value_per_share[0]))
    ref = 2 * 1000 * 1.05**5 / 1.1 ** (5 - f) / 100
    assert vals == pytest.approx([ref] * 3, rel=1e-12)


def test_base_year_more_than_a_year_back():
    """Base year 2024, valued 2026-01-15 (f = 380/365): year 1 (2025) is over and counts nothing; year 2 counts
    its remaining (2 - f); exogenous failure cannot strike before the valuation date."""
    f = 380 / 365
    cfg = _cfg("2026-01-15", base_year=2024)
    assert cfg.company.elapsed_years == pytest.approx(f, rel=1e-15)
    assert float(_vps(cfg).value_per_share[0]) == pytest.approx(_hand_value(f, 1), rel=1e-11)
    ds = _vps(cfg.with_inputs({"failure.annual_probability": 0.999999}), paths=50)
    assert np.all(ds.failure_year.values == 2.0)  # none in year 1 (already over), all in the stub year


def test_stub_length():
    assert stub_length(1.0, 1.0, 0.0) == 1.0
    assert stub_length(1.0, 1.0, 0.25) == 0.75
    assert stub_length(2.0, 1.0, 0.25) == 1.0
    assert stub_length(0.25, 0.25, 0.5) == 0.0
    assert stub_length(0.75, 0.25, 0.6) == pytest.approx(0.15)


# ----------------------------------------------------------------------------- balance sheet and market lens


def test_balance_sheet_is_as_of_the_valuation_date():
    """Cash adds to the DCF equity undiscounted; on the path it earns interest only from the valuation date."""
    date = "2026-07-02"  # f = 183/365
    f = _f(date)
    d = base_dict()
    d["company"]["valuation_date"] = date
    d["company"]["base_year"] = 2025
    d["margin"] = {"today": 0.0, "target": 0.0}
    d["terminal"] = {"method": "exit_multiple", "exit_multiple": 2.0}
    d["financing"] = {"cash_rate": 0.05}
    d["dilution"] = {"sbc": "dilution", "sbc_rate": 0.04}
    d["balance_sheet"] = {"cash": 300.0, "debt": 100.0}
    ds = _vps(config_from_dict(d))
    ev = 2 * 1000 * 1.05**5 / 1.1 ** (5 - f)
    # per share diluted by SBC from the valuation date to the horizon (dilution.sbc = "dilution")
    assert float(ds.value_per_share[0]) == pytest.approx((ev + 300 - 100) / 100 / 1.04 ** (5 - f), rel=1e-12)
    assert float(ds.cash_horizon[0]) == pytest.approx(300 * 1.05 ** (5 - f), rel=1e-12)
    assert float(ds.dilution[0]) == pytest.approx(1.04 ** (5 - f), rel=1e-12)  # no SBC before the valuation date


@pytest.mark.parametrize("date", ["2025-12-31", "2026-09-30"])
def test_market_lens_holding_period(date):
    """horizon_return = (P_N / P_0)^(1 / (5 - f)) - 1: the holder buys at the valuation date."""
    f = _f(date)
    ds = _vps(_cfg(date))
    cash_n = sum(100 * 1.05**t for t in range(1, 6)) - f * 105  # the stub's elapsed part is not in cash
    price_n = (2 * 1000 * 1.05**5 + cash_n) / 100
    assert float(ds.price_horizon[0]) == pytest.approx(price_n, rel=1e-12)
    assert float(ds.horizon_return[0]) == pytest.approx((price_n / 10.0) ** (1 / (5 - f)) - 1, rel=1e-12)


def test_reprice_uses_the_holding_period_and_converted_hurdle():
    from engine.update import reprice

    d = base_dict()
    d["company"].update(valuation_date="2026-09-30", base_year=2025, reporting_currency="CNY")
    d["segments"][0]["growth"]["volatility"] = 0.3
    d["cost_of_capital"].update(currency="HKD", risk_free={"CNY": 0.018, "HKD": 0.04},
                                cost_of_equity={"kind": "uniform", "min": 0.15, "max": 0.35})
    ds = simulate(config_from_dict(d), paths=400, threads=1)
    got = reprice(ds, 10.0)
    assert got["p_justified"]["market"]["hits"] == int(ds.justified_market.sum())
    assert 0 < int(ds.justified_market.sum()) < 400


# ----------------------------------------------------------------------------- errors


def test_date_errors():
    with pytest.raises(ConfigError, match=r"base_year = 2026 ends on 2026-12-31, after valuation_date = "
                                          r"2026-06-23.*write base_year = 2025"):
        _cfg("2026-06-23", base_year=2026)
    with pytest.raises(ConfigError, match=r"at or past the horizon \(simulation.horizon_years = 1\)"):
        _cfg("2026-06-23", base_year=2024, **{"simulation.horizon_years": 1})


# ----------------------------------------------------------------------------- currency of the discount rates


def test_interest_rate_parity_reference():
    assert interest_rate_parity(0.12, 0.018, 0.04) == pytest.approx(0.0963077, abs=5e-8)  # 9.631% in CNY
    assert np.isnan(interest_rate_parity(np.nan, 0.018, 0.04))


def _hkd_rates(**cc):
    d = base_dict()
    d["company"]["reporting_currency"] = "CNY"
    d["cost_of_capital"].update(currency="HKD", risk_free={"CNY": 0.018, "HKD": "4%"}, initial=0.12, mature=0.12)
    d["cost_of_capital"].update(cc)
    d["terminal"]["growth"] = 0.015
    return d


def test_rates_in_another_currency_are_converted():
    r = 1.12 * 1.018 / 1.04 - 1
    ref = (sum(100 * 1.05**t / (1 + r) ** t for t in range(1, 6))
           + 100 * 1.05**5 * 1.015 * (1 - 0.015 / 1e12) / (r - 0.015) / (1 + r) ** 5) / 100
    ds = _vps(config_from_dict(_hkd_rates()))
    assert float(ds.value_per_share[0]) == pytest.approx(ref, rel=1e-12)
    assert ds.attrs["rate_currency"] == "HKD"
    assert ds.attrs["discount_rates"] == "HKD, converted to CNY by interest-rate parity (risk-free HKD 0.04, CNY 0.018)"
    # the same rates given in CNY (9.6308%) give the same value
    d = base_dict()
    d["company"]["reporting_currency"] = "CNY"
    d["cost_of_capital"].update(initial=r, mature=r)
    d["terminal"]["growth"] = 0.015
    assert float(_vps(config_from_dict(d)).value_per_share[0]) == pytest.approx(ref, rel=1e-12)


def test_drawn_rates_are_converted_draw_by_draw():
    """initial ~ uniform(10%, 14%) in HKD, held for 5 years; stable WACC 12% HKD: each path's value is the closed
    form at its own converted draw; the stored draw is the rate as given (HKD)."""
    d = _hkd_rates(initial={"kind": "uniform", "min": 0.10, "max": 0.14}, fade_start_year=10, fade_end_year=10)
    d["terminal"]["wacc"] = 0.12
    ds = _vps(config_from_dict(d), paths=200)
    w_hkd = ds["param_cost_of_capital_initial"].values
    assert w_hkd.min() >= 0.10 and w_hkd.max() <= 0.14
    r = (1 + w_hkd) * 1.018 / 1.04 - 1
    ts = 1.12 * 1.018 / 1.04 - 1
    ref = (sum(100 * 1.05**t / (1 + r) ** t for t in range(1, 6))
           + 100 * 1.05**5 * 1.015 * (1 - 0.015 / 1e12) / (ts - 0.015) / (1 + r) ** 5) / 100
    np.testing.assert_allclose(ds.value_per_share.values, ref, rtol=1e-12)


def test_cost_of_equity_hurdle_is_converted():
    """The holder return here is 25.66%; a 27% hurdle in HKD is 24.62% in CNY: justified only once converted."""
    ret = float(_vps(config_from_dict(_hkd_rates())).horizon_return[0])
    assert ret == pytest.approx(0.256566, abs=1e-6)
    ds = _vps(config_from_dict(_hkd_rates(cost_of_equity=0.27)))
    assert bool(ds.justified_market[0])
    d = _hkd_rates(cost_of_equity=0.27)
    d["cost_of_capital"].pop("currency")  # now 27% is a CNY rate: not justified
    assert not bool(_vps(config_from_dict(d)).justified_market[0])


@pytest.mark.parametrize("rf, msg", [
    ({"HKD": 0.04}, r"cost_of_capital.risk_free has none for CNY: add cost_of_capital.risk_free = \{ CNY = <rate>"),
    ({"CNY": 0.018}, r"has none for HKD"),
    ({"CNY": -1.0, "HKD": 0.04}, r"risk_free.CNY = -1 must be a rate above -100% \(> -1\)"),
    ({"CNY": -1.5, "HKD": 0.04}, r"risk_free.CNY = -1.5 must be a rate above -100%"),
    ({"CNY": {"kind": "uniform", "min": 0, "max": 0.1}, "HKD": 0.04}, r"risk_free.CNY must be a fixed number"),
    ({"RMB": 0.018, "HKD": 0.04}, r"the renminbi is 'CNY'"),
])
def test_currency_config_errors(rf, msg):
    d = _hkd_rates(risk_free=rf)
    with pytest.raises(ConfigError, match=msg):
        config_from_dict(d)


def test_stable_growth_above_risk_free_is_flagged(tmp_path):
    d = _hkd_rates()
    d["terminal"]["growth"] = 0.025
    cfg = config_from_dict(d)
    (w,) = config_warnings(cfg)
    assert w.startswith("terminal.growth = 0.025 is above the CNY risk-free rate 0.018")
    drawn = cfg.with_inputs({"terminal.growth": {"kind": "uniform", "min": 0.0, "max": 0.03}})
    (w,) = config_warnings(drawn)
    assert "above it on 40.0% of paths" in w  # P(U(0, 3%) > 1.8%) = 0.4
    assert config_warnings(config_from_dict(_hkd_rates())) == []  # 1.5% < 1.8%
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert "warning: terminal.growth = 0.025 is above the CNY risk-free rate 0.018" in r.output


def test_report_states_the_rates_currency(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(config_from_dict(_hkd_rates()).to_toml())
    r = CliRunner().invoke(main, ["run", str(path), "--paths", "8", "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "discount rates in HKD, converted to CNY by interest-rate parity" in r.output
    assert "valued at 2025-12-31" in r.output
