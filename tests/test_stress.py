"""Stress scenarios on common random numbers (engine.stress, `pricedin stress`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import norm

from engine import config_from_dict, simulate
from engine.cli import main
from engine.stress import (
    StressError,
    load_scenarios,
    paired_delta,
    prepare_scenario,
    crossings,
    reverse_stress,
    run_stress,
    scenarios_from_dict,
)

from .conftest import CONFIGS, base_dict


def _drawn(d=None, corr=True):
    """base_dict with drawn growth, WACC and margin (and a rank correlation), 400 paths in blocks of 128."""
    d = d or base_dict()
    d["segments"][0]["growth"].update(today={"kind": "pert", "min": 0.0, "mode": 0.05, "max": 0.20}, volatility=0.1)
    d["cost_of_capital"]["initial"] = {"kind": "pert", "min": 0.08, "mode": 0.10, "max": 0.12}
    d["margin"]["target"] = {"kind": "uniform", "min": 0.05, "max": 0.20}
    if corr:
        d["correlations"] = {"pairs": [["margin.target", "segments.core.growth.today", 0.5]]}
    d["simulation"].update(paths=400, block_size=128)
    return d


def _run(d, scenarios, **kw):
    return run_stress(config_from_dict(d), scenarios_from_dict({"scenarios": scenarios}), keep_datasets=True, **kw)


def _v(ds, name="value_per_share"):
    return np.asarray(ds[name].values)


# --------------------------------------------------------------------------- exactness


def test_noop_scenario_has_exactly_zero_deltas_and_base_equals_plain_run():
    d = _drawn()
    r = _run(d, [{"name": "nothing", "description": "changes nothing"}])
    plain = simulate(config_from_dict(d))
    assert np.array_equal(_v(plain), _v(r.datasets[0]))
    assert np.array_equal(_v(r.datasets[0]), _v(r.datasets[1]))
    delta = r.scenarios[0]["delta"]
    for k in ("mean", "p_justified_dcf", "p_justified_market", "failed_share", "p5", "p50", "p95"):
        assert delta[k] == 0.0
    for k in ("mean_ci95", "p_justified_dcf_ci95", "p_justified_market_ci95", "failed_share_ci95"):
        assert delta[k] == [0.0, 0.0]


def test_paired_delta_interval():
    assert paired_delta([1.0, 2.0], [1.0, 2.0]) == {"estimate": 0.0, "se": 0.0, "ci95": [0.0, 0.0]}
    d = paired_delta([1.0, 3.0, 5.0], [0.0, 0.0, 0.0])
    se = np.std([1, 3, 5], ddof=1) / math.sqrt(3)
    assert d["estimate"] == pytest.approx(3.0)
    assert d["ci95"] == pytest.approx([3 - 1.959964 * se, 3 + 1.959964 * se])


def test_higher_cost_of_capital_lowers_every_paths_dcf_value():
    d = _drawn()
    r = _run(d, [
        {"name": "wacc_up", "description": "+2 points", "shift": {"cost_of_capital.initial": 0.02,
                                                                   "cost_of_capital.mature": 0.02}},
        {"name": "wacc_shock", "description": "+2 points from year 1",
         "shock": [{"process": "wacc", "from_year": 1, "add": 0.02}]},
    ])
    base = _v(r.datasets[0])
    for ds in r.datasets[1:]:
        assert np.all(_v(ds) < base)
    assert r.scenarios[0]["delta"]["mean_ci95"][1] < 0


def test_band_full_range_reproduces_base_bit_for_bit_and_narrow_band_moves_only_that_input():
    d = _drawn()
    r = _run(d, [
        {"name": "full", "description": "[0, 1]", "band": {"margin.target": [0, 1]}},
        {"name": "bottom", "description": "bottom decile", "band": {"margin.target": [0, 0.1]}},
        {"name": "top_growth", "description": "correlated input, top decile",
         "band": {"segments.core.growth.today": [0.9, 1.0]}},
    ])
    b, full, bottom, top = r.datasets
    for v in b.data_vars:
        assert np.array_equal(np.asarray(b[v].values), np.asarray(full[v].values), equal_nan=True), v
    assert r.scenarios[0]["delta"]["mean_ci95"] == [0.0, 0.0]
    # the banded input lies in its bottom decile; the other draws are unchanged
    q10 = 0.05 + 0.1 * 0.15
    assert np.all(_v(bottom, "param_margin_target") <= q10 + 1e-12)
    for other in ("param_core_growth_today", "param_cost_of_capital_initial"):
        assert np.array_equal(_v(b, other), _v(bottom, other))
    spec = config_from_dict(d).parameters()
    g = next(p.spec for p in spec if p.key == "segments.core.growth.today")
    assert np.all(_v(top, "param_core_growth_today") >= g.quantile(0.9) - 1e-9)
    assert np.array_equal(_v(b, "param_margin_target"), _v(top, "param_margin_target"))


def test_churn_set_to_one_in_year_one_drives_revenue_to_zero_on_every_path():
    r = _run(_drawn(), [{"name": "wipeout", "description": "all customers leave",
                         "shock": [{"process": "churn", "segment": "core", "years": [1], "set": 1.0}]}])
    assert np.all(_v(r.datasets[1], "revenue_horizon") == 0.0)
    assert np.all(_v(r.datasets[0], "revenue_horizon") > 0.0)


def test_set_fixed_to_distribution_and_correlated_input_to_fixed_keep_other_draws():
    d = _drawn()
    r = _run(d, [
        {"name": "tax_drawn", "description": "fixed -> drawn", "set": {"tax.rate": {"kind": "uniform", "min": 0,
                                                                                  "max": 0.3}}},
        {"name": "margin_fixed", "description": "correlated input fixed", "set": {"margin.target": 0.1}},
    ])
    b, tax, fixed = r.datasets
    for other in ("param_core_growth_today", "param_cost_of_capital_initial", "param_margin_target"):
        assert np.array_equal(_v(b, other), _v(tax, other))
    assert "param_tax_rate" in tax and "param_margin_target" not in fixed
    assert np.array_equal(_v(b, "param_core_growth_today"), _v(fixed, "param_core_growth_today"))


def test_scaled_lognormal_value_matches_closed_form():
    # margin 0 and no growth: equity = cash, value per share = cash x 1e6 / 100e6 = cash / 100
    d = base_dict()
    mu, sigma = math.log(800.0), 0.5
    d["balance_sheet"]["cash"] = {"kind": "lognormal", "mu": mu, "sigma": sigma}
    d["margin"].update(today=0.0, target=0.0)
    d["segments"][0]["growth"].update(today=0.0, long_run=0.0)
    d["simulation"].update(paths=5000, block_size=1024)
    f = 1.5
    r = _run(d, [{"name": "cash_up", "description": "x1.5", "scale": {"balance_sheet.cash": f}}])
    # P(V >= 10) = P(cash >= 1000), ln cash ~ N(mu + ln f, sigma)
    for row, m in ((r.base, mu), (r.scenarios[0], mu + math.log(f))):
        p = float(norm.sf((math.log(1000.0) - m) / sigma))
        est = row["p_justified"]["dcf"]["estimate"]
        se = math.sqrt(p * (1 - p) / 5000)
        assert abs(est - p) < 3 * se, (est, p, se)
    assert np.allclose(_v(r.datasets[1]), f * _v(r.datasets[0]), rtol=1e-12)


def test_funding_closed_and_fx():
    d = _drawn()
    d["balance_sheet"]["cash"] = 10.0
    d["margin"]["today"] = -0.5
    d["financing"] = {"cash_floor": 50.0}
    d["company"].update(trading_currency="HKD", fx_rate=1.0)  # an FX shock needs two currencies
    r = _run(d, [
        {"name": "shut", "description": "years 1-2", "funding_closed": [1, 2]},
        {"name": "fx", "description": "-10%", "shock": [{"process": "fx", "factor": 0.9}]},
    ])
    assert r.scenarios[0]["failed_share"] > r.base["failed_share"]
    assert np.allclose(_v(r.datasets[2]), 0.9 * _v(r.datasets[0]))


def test_dotted_keys_in_toml_flatten(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[[scenarios]]\nname = "a"\ndescription = "b"\n[scenarios.shift]\nmargin.target = -0.01\n'
                 '"cost_of_capital.initial" = 0.01\n')
    sf = load_scenarios(p)
    assert sf.scenarios[0].shift == {"margin.target": -0.01, "cost_of_capital.initial": 0.01}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("scen, needle", [
    ({"name": "a", "description": "b", "shfit": {"margin.target": 0.1}}, "shfit"),
    ({"name": "a", "description": "b", "shift": {"margin.targte": 0.1}}, "margin.targte"),
    ({"name": "a", "description": "b", "shock": [{"process": "margin", "years": [6], "add": -0.1}]}, "year 6"),
    ({"name": "a", "description": "b", "shock": [{"process": "growth", "segment": "nope", "years": [1],
                                                  "add": -0.1}]}, "nope"),
    ({"name": "a", "description": "b", "band": {"tax.rate": [0, 0.5]}}, "tax.rate"),
    ({"name": "a", "description": "b", "set": {"simulation.seed": 3}}, "simulation.seed"),
    ({"name": "a", "description": "b", "shift": {"cost_of_capital.initial": 5}},
     "shift 'cost_of_capital.initial': +5 takes it outside a cost of capital (fraction): rates are fractions and "
     "so are shifts of them; write +0.05"),
    # inputs of the model that the base's methods do not use (linear margin, OU growth)
    ({"name": "a", "description": "b", "shift": {"margin.fixed_cost_growth": 0.1}},
     "shift 'margin.fixed_cost_growth': has no value in the base config (its margin.method does not use it)"),
    ({"name": "a", "description": "b", "scale": {"segments.core.growth.fade_year": 2}},
     "its segments.core.growth.method does not use it"),
    ({"name": "a", "description": "b", "set": {"margin.half_life": 2}},
     "margin.half_life not used by margin.method = 'linear'"),
    # shock years: a from_year past the horizon, and to_year before from_year
    ({"name": "a", "description": "b", "shock": [{"process": "margin", "from_year": 8, "add": -0.1}]},
     "year 8 is outside 1..simulation.horizon_years = 5"),
    ({"name": "a", "description": "b", "shock": [{"process": "margin", "from_year": 4, "to_year": 2, "add": -0.1}]},
     "to_year = 2 is before from_year = 4"),
])
def test_bad_scenarios_raise_naming_the_key(scen, needle):
    cfg = config_from_dict(_drawn())
    with pytest.raises(StressError) as e:
        sf = scenarios_from_dict({"scenarios": [scen]})
        prepare_scenario(cfg, sf.scenarios[0])
    assert needle in str(e.value)


def _write(tmp_path, scenarios_toml: str, name="co"):
    cfg = config_from_dict(_drawn())
    (tmp_path / f"{name}.toml").write_text(cfg.to_toml())
    (tmp_path / "stress").mkdir(exist_ok=True)
    (tmp_path / "stress" / f"{name}.toml").write_text(scenarios_toml)
    return str(tmp_path / f"{name}.toml")


@pytest.mark.parametrize("body, needle", [
    ('[[scenarios]]\nname = "a"\ndescription = "b"\nwhat = 1\n', "unknown key 'what'"),
    ('[[scenarios]]\nname = "a"\ndescription = "b"\nshift = { "margin.nope" = 0.1 }\n', "margin.nope"),
    ('[[scenarios]]\nname = "a"\ndescription = "b"\n[[scenarios.shock]]\nprocess = "wacc"\nyears = [9]\n'
     'add = 0.02\n', "year 9 is outside 1..simulation.horizon_years = 5"),
])
def test_cli_bad_scenarios_exit_2(tmp_path, body, needle):
    cfg_path = _write(tmp_path, body)
    res = CliRunner().invoke(main, ["stress", cfg_path, "--quiet"])
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert "Traceback" not in res.output


def test_cli_missing_scenario_file_exit_2(tmp_path):
    cfg_path = _write(tmp_path, "")
    res = CliRunner().invoke(main, ["stress", cfg_path, "--scenarios", str(tmp_path / "none.toml")])
    assert res.exit_code == 2 and "does not exist" in res.output
    # the default file next to the config, and the one the config names
    (tmp_path / "stress" / "co.toml").unlink()
    res = CliRunner().invoke(main, ["stress", cfg_path])
    assert res.exit_code == 2 and "the default for" in res.output and "stress/<config stem>.toml" in res.output
    named = tmp_path / "named.toml"
    named.write_text((tmp_path / "co.toml").read_text().replace("[simulation]\n",
                                                                 '[simulation]\nstress_scenarios = "s/x.toml"\n'))
    res = CliRunner().invoke(main, ["stress", str(named)])
    assert res.exit_code == 2 and "simulation.stress_scenarios = 's/x.toml'" in res.output, res.output
    res = CliRunner().invoke(main, ["stress", cfg_path, "--reverse", "--scenarios", str(named)])
    assert res.exit_code == 2 and "--scenarios is not used by --reverse" in res.output


def test_cli_json_table_and_out(tmp_path):
    cfg_path = _write(tmp_path, '[[scenarios]]\nname = "rates"\ndescription = "up"\n'
                                'shift = { "cost_of_capital.initial" = 0.02 }\n'
                                '[[scenarios]]\nname = "same"\ndescription = "nothing"\n')
    out = tmp_path / "s.nc"
    res = CliRunner().invoke(main, ["stress", cfg_path, "--json", "--paths", "256", "--out", str(out)])
    assert res.exit_code == 0, res.output
    j = json.loads(res.output)
    assert j["paths"] == 256 and [s["name"] for s in j["scenarios"]] == ["rates", "same"]
    d = j["scenarios"][0]["delta"]
    assert d["mean"] < 0 and d["mean_ci95"][1] < 0
    assert set(d) >= {"mean", "mean_ci95", "p_justified_dcf", "p_justified_dcf_ci95", "p_justified_market",
                      "p_justified_market_ci95"}
    assert j["scenarios"][1]["delta"]["p_justified_dcf_ci95"] == [0.0, 0.0]
    import xarray as xr

    ds = xr.load_dataset(out, engine="h5netcdf")
    assert list(ds["scenario"].values) == ["base", "rates", "same"]
    assert ds["value_per_share"].dims == ("scenario", "path")
    assert not list(tmp_path.glob("*.part"))
    res = CliRunner().invoke(main, ["stress", cfg_path, "--paths", "128", "--quiet"])
    assert res.exit_code == 0 and "rates" in res.output and "Change from base" in res.output
    # `report` re-prints the stress report from the file, without simulating
    rep = CliRunner().invoke(main, ["report", str(out), "--json"])
    assert rep.exit_code == 0, rep.output
    again = json.loads(rep.output)
    assert again["base"] == j["base"] and again["scenarios"] == j["scenarios"]
    txt = CliRunner().invoke(main, ["report", str(out)])
    assert txt.exit_code == 0 and "Change from base" in txt.output


def test_library_scenario_files_validate_against_their_configs():
    from engine import load_config

    for name in ("zhipu", "ai_peer"):
        cfg = load_config(CONFIGS / f"{name}.toml")
        sf = load_scenarios(CONFIGS / "stress" / f"{name}.toml")
        assert len(sf.scenarios) >= 8
        for s in sf.scenarios:
            prepare_scenario(cfg, s)


# --------------------------------------------------------------------------- reverse stress


def test_reverse_stress_brackets_the_50_percent_point():
    d = _drawn(corr=False)
    d["market"]["price"] = 16.0
    res = reverse_stress(config_from_dict(d), keys=["cost_of_capital.initial", "tax.rate"], paths=300)
    wacc, tax = res["inputs"]
    assert 0.0 < res["p_base"] < 1.0
    assert wacc["status"] == "found"
    lo, hi = wacc["shift_bracket"]
    assert lo <= wacc["shift"] <= hi
    p_lo, p_hi = wacc["p_bracket"]
    assert min(p_lo, p_hi) < 0.5 <= max(p_lo, p_hi) or 0.5 in (p_lo, p_hi)
    assert hi - lo <= 1e-3 * (wacc["range"][1] - wacc["range"][0]) + 1e-12
    # the grid: more evaluations than the two ends, the base and the bisection steps alone would need
    assert wacc["evaluations"] >= 2 * 7 + 3
    if tax["status"] == "none":
        assert f"between {tax['p_min']:.2%} and {tax['p_max']:.2%}" in tax["message"]
    # a tax rate is 0 here and can only rise, lowering value: no shift reaches 50% when P starts below it
    if res["p_base"] < 0.5:
        assert tax["status"] == "none" and "no shift" in tax["message"]


def test_crossings_finds_a_crossing_between_ends_on_the_same_side():
    # P rises above 50% inside the range and falls back: the ends alone (0.1 and 0.1) show no crossing
    pts = {1.0: 0.1, -0.5: 0.6, 0.0: 0.2, 0.5: 0.3, -1.0: 0.1}
    assert crossings(pts, 0.5) == [(-1.0, -0.5), (-0.5, 0.0)]
    assert crossings({-1.0: 0.1, 0.0: 0.2, 1.0: 0.1}, 0.5) == []
    # a point exactly at the target bounds both neighbouring intervals
    assert crossings({0.0: 0.2, 1.0: 0.5, 2.0: 0.7}, 0.5) == [(0.0, 1.0), (1.0, 2.0)]


def test_scenario_can_change_a_method_and_set_its_inputs():
    """Setting margin.method drops the base's keys the new method does not use; its own inputs are then set."""
    cfg = config_from_dict(_drawn())
    sf = scenarios_from_dict({"scenarios": [{"name": "a", "description": "b",
                                             "set": {"margin.method": "exponential", "margin.half_life": 2.0}}]})
    ps = prepare_scenario(cfg, sf.scenarios[0])
    assert ps.cfg.margin.method.value == "exponential"
    assert ps.cfg.margin.half_life.median() == 2.0


def test_reverse_stress_refuses_an_input_the_config_does_not_use():
    cfg = config_from_dict(_drawn())
    with pytest.raises(StressError, match="'margin.fixed_cost_growth' is not used by this config"):
        reverse_stress(cfg, keys=["margin.fixed_cost_growth"], paths=64)


def test_scenario_switches_to_methods_whose_inputs_the_base_lacks():
    """Inputs the base never had (Optional fields) can be set together with the method that needs them."""
    cfg = config_from_dict(_drawn())
    sf = scenarios_from_dict({"scenarios": [
        {"name": "cs", "description": "b", "set": {"margin.method": "cost_structure",
                                                   "margin.variable_cost_share": 0.5, "margin.fixed_costs": 10.0}},
        {"name": "exit", "description": "b", "set": {"terminal.method": "exit_multiple",
                                                     "terminal.exit_multiple": 5.0}},
        {"name": "shift_dropped", "description": "b", "set": {"margin.method": "exponential",
                                                              "margin.half_life": 2.0},
         "shift": {"margin.convergence_year": 1.0}},
    ]})
    cs = prepare_scenario(cfg, sf.scenarios[0]).cfg
    assert cs.margin.method.value == "cost_structure" and cs.margin.variable_cost_share.median() == 0.5
    ex = prepare_scenario(cfg, sf.scenarios[1]).cfg
    assert ex.terminal.method.value == "exit_multiple" and ex.terminal.exit_multiple.median() == 5.0
    with pytest.raises(StressError, match="the scenario sets margin.method = 'exponential', which does not use it"):
        prepare_scenario(cfg, sf.scenarios[2])
