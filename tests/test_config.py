"""Config validation: bad input gets a clear error naming the key, the value and the fix."""

from __future__ import annotations

import pytest

from engine import ConfigError, config_from_dict, load_config

from .conftest import CONFIGS


def err(d) -> str:
    with pytest.raises(ConfigError) as e:
        config_from_dict(d)
    return str(e.value)


def test_real_configs_validate():
    for name in ("zhipu.toml", "ai_peer.toml", "example_saas.yaml"):
        cfg = load_config(CONFIGS / name)
        assert cfg.company.name


def test_rate_of_8_meaning_8_percent_is_rejected_with_hint(base):
    base["cost_of_capital"]["initial"] = 8
    msg = err(base)
    assert "cost_of_capital.initial" in msg and "= 8" in msg and "0.08" in msg and "8%" in msg


def test_percent_strings_accepted(base):
    base["cost_of_capital"]["initial"] = "10%"
    base["tax"]["rate"] = "25 %"
    cfg = config_from_dict(base)
    assert cfg.cost_of_capital.initial.median() == pytest.approx(0.10)
    assert cfg.tax.rate.median() == pytest.approx(0.25)


def test_churn_and_tax_above_one_rejected(base):
    base["segments"][0]["churn"]["rate"] = 5
    assert "segments.core.churn.rate" in err(base)
    base["segments"][0]["churn"]["rate"] = 0.05
    base["tax"]["rate"] = 25
    assert "tax.rate" in err(base)


def test_real_ranges_accepted(base):
    # MaaS grew 292.6%; Zhipu's 2025 margin was about -650%
    base["segments"][0]["growth"]["today"] = 2.926
    base["margin"]["today"] = -6.5
    base["simulation"]["allow_extreme_growth"] = True  # growth above 100% a year must be opted into
    config_from_dict(base)


def test_margin_above_one_rejected(base):
    base["margin"]["target"] = 1.2
    msg = err(base)
    assert "margin.target" in msg and "1.2" in msg


def test_drawn_rate_that_leaves_its_range_rejected(base):
    base["cost_of_capital"]["initial"] = {"kind": "normal", "mean": 0.10, "sd": 0.05}
    msg = err(base)
    assert "cost_of_capital.initial" in msg and "truncnormal" in msg


def test_negative_revenue_rejected(base):
    base["segments"][0]["revenue"] = -5
    assert "segments.core.revenue" in err(base)


@pytest.mark.parametrize("shares", [0, -10])
def test_zero_or_negative_shares_rejected(base, shares):
    base["market"]["shares"] = shares
    msg = err(base)
    assert "market.shares" in msg and str(shares) in msg


def test_unknown_distribution_kind(base):
    base["margin"]["target"] = {"kind": "gamma", "a": 2}
    msg = err(base)
    assert "margin.target" in msg and "gamma" in msg and "pert" in msg


def test_missing_required_key(base):
    del base["tax"]
    msg = err(base)
    assert "missing required key 'tax'" in msg


def test_missing_nested_key(base):
    del base["cost_of_capital"]["mature"]
    assert "cost_of_capital.mature" in err(base)


def test_unknown_key_is_never_ignored(base):
    base["margin"]["targt"] = 0.2
    msg = err(base)
    assert "margin.targt" in msg and "unknown key" in msg


def test_unknown_section_is_never_ignored(base):
    base["stress"] = {"x": 1}
    assert "unknown key 'stress'" in err(base)


def test_currencies_without_fx_rejected(base):
    base["company"]["trading_currency"] = "HKD"
    msg = err(base)
    assert "fx_rate" in msg and "HKD" in msg and "USD" in msg


def test_fixed_spread_below_minimum_names_both_keys(base):
    base["terminal"]["growth"] = 0.095
    msg = err(base)
    assert "cost_of_capital.mature" in msg and "terminal.growth" in msg and "min_spread" in msg
    base["terminal"]["growth"] = 0.12
    assert "terminal.growth" in err(base)


def test_non_psd_spearman_rejected_with_nearest_then_repaired(base):
    base["margin"]["target"] = {"kind": "uniform", "min": 0.05, "max": 0.2}
    base["terminal"]["growth"] = {"kind": "uniform", "min": 0.01, "max": 0.03}
    base["multiple"]["mature"] = {"kind": "uniform", "min": 1, "max": 4}
    keys = ["margin.target", "terminal.growth", "multiple.mature"]
    base["correlations"] = {"inputs": keys, "matrix": [[1, 0.7, 0.3], [0.7, 1, -0.5], [0.3, -0.5, 1]]}
    msg = err(base)
    assert "positive semi-definite" in msg and "-0.018" in msg and "repair" in msg
    base["correlations"]["repair"] = True
    config_from_dict(base)


def test_singular_psd_matrix_accepted(base):
    base["margin"]["target"] = {"kind": "uniform", "min": 0.05, "max": 0.2}
    base["multiple"]["mature"] = {"kind": "uniform", "min": 1, "max": 4}
    base["correlations"] = {"pairs": [["margin.target", "multiple.mature", 1.0]]}
    config_from_dict(base)


def test_correlation_of_unknown_input(base):
    base["correlations"] = {"pairs": [["margin.targets", "multiple.mature", 0.3]]}
    assert "margin.targets" in err(base)


def test_yaml_1e6_is_a_float(tmp_path):
    text = (CONFIGS / "ai_peer.toml").read_text()
    import tomllib

    import yaml

    d = tomllib.loads(text)
    d["segments"][0]["revenue"] = "REPLACE"
    y = yaml.safe_dump(d, sort_keys=False).replace("REPLACE", "1e6")
    p = tmp_path / "peer.yaml"
    p.write_text(y)
    cfg = load_config(p)
    assert cfg.segments[0].revenue.median() == 1_000_000.0
    assert isinstance(cfg.segments[0].revenue.median(), float)


def test_yaml_word_where_number_expected_names_key(tmp_path, base):
    import yaml

    base["tax"]["rate"] = "lots"
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(base))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "tax.rate" in str(e.value) and "lots" in str(e.value)


def test_both_price_and_market_cap_rejected(base):
    base["market"]["market_cap"] = 1000
    assert "market_cap" in err(base)


def test_normalised_toml_round_trips(base, tmp_path):
    base["margin"]["target"] = {"kind": "pert", "min": 0.05, "mode": 0.2, "max": 0.3}
    cfg = config_from_dict(base)
    p = tmp_path / "n.toml"
    p.write_text(cfg.to_toml())
    again = load_config(p)
    assert again.to_toml() == cfg.to_toml()
    assert again.sha256() == cfg.sha256()


# ------------------------------------------------------------------ found by breaking the CLI on purpose


@pytest.mark.parametrize(
    "path, value, needles",
    [
        (("segments", 0, "growth", "long_run"), 8, ["growth.long_run", "0.08"]),
        (("margin", "today"), 8, ["margin.today", "0.08"]),
        (("company", "fx_rate"), 1.087, ["fx_rate", "both 'USD'"]),
        (("company", "base_year"), 1800, ["base_year = 1800", "2023"]),
        (("company", "valuation_date"), 20260623, ["valuation_date", "YYYY-MM-DD"]),
        (("company", "reporting_currency"), "RMB", ["RMB", "CNY"]),
        (("cost_of_capital", "mid_year"), "yes", ["mid_year", "true or false"]),
        (("margin", "fixed_costs"), 100.0, ["margin.fixed_costs", "not used", "linear"]),
        (("terminal", "exit_multiple"), 5.0, ["terminal.exit_multiple", "not used", "gordon"]),
        (("segments", 0, "growth", "fade_year"), 5, ["growth.fade_year", "not used", "ou"]),
        (("reinvestment", "sales_to_capital"), 1e-6, ["sales_to_capital", "0.01"]),
        (("tax",), "25%", ["tax", "expected a table"]),
        (("segments",), [], ["segments", "at least one"]),
        (("segments", 0, "growth", "today"),
         {"kind": "truncnormal", "mean": 0.3, "sd": 0.01, "low": 5, "high": 6}, ["growth.today", "sd from"]),
        (("segments", 0, "revenue"), {"kind": "lognormal", "mu": 800, "sigma": 1}, ["revenue", "mu = 800"]),
        (("terminal", "growth"), {"kind": "uniform", "min": 0.11, "max": 0.15}, ["terminal.growth", "typical"]),
    ],
)
def test_bad_values_named_with_a_fix(base, path, value, needles):
    node = base
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    msg = err(base)
    for n in needles:
        assert n in msg, (n, msg)


def test_correlation_shape_errors(base):
    base["margin"]["target"] = {"kind": "uniform", "min": 0.05, "max": 0.2}
    base["multiple"]["mature"] = {"kind": "uniform", "min": 1, "max": 4}
    base["correlations"] = {"inputs": ["margin.target", "multiple.mature"], "matrix": [[1, 0.5], [0.5]]}
    assert "row(s) [2]" in err(base)
    base["correlations"] = {"matrix": [[1, 0.5], [0.5, 1]]}
    assert "correlations.inputs" in err(base)
    base["correlations"] = {"pairs": [["margin.target", "multiple.mature", 0.5],
                                      ["multiple.mature", "margin.target", -0.5]]}
    assert "given twice" in err(base)


def test_empty_and_binary_files(tmp_path):
    e = tmp_path / "empty.yaml"
    e.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(e)
    b = tmp_path / "bin.toml"
    b.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(b)


@pytest.mark.parametrize("key, val", [("paths", True), ("horizon_years", True), ("seed", False)])
def test_booleans_are_not_counts(base, key, val):
    base["simulation"][key] = val
    b = str(val).lower()  # as written in the file (TOML / YAML spelling), not Python's repr
    assert f"simulation.{key} = {b}: expected a whole number, got the boolean {b}" in err(base)


def test_seed_above_64_bits_rejected_before_running(base):
    base["simulation"]["seed"] = 2**64 - 1
    config_from_dict(base)  # the largest 64-bit seed is fine
    base["simulation"]["seed"] = 2**64
    assert "simulation.seed = 18446744073709551616" in err(base)


def test_cli_seed_above_64_bits_exit_2():
    from click.testing import CliRunner

    from engine.cli import main

    r = CliRunner().invoke(main, ["run", str(CONFIGS / "zhipu.toml"), "--paths", "10", "--seed", str(2**64)])
    assert r.exit_code == 2 and "--seed" in r.output


def test_yaml_duplicate_key_rejected_naming_it(tmp_path):
    text = (CONFIGS / "example_saas.yaml").read_text()
    assert "  price: 16.0" in text
    p = tmp_path / "dup.yaml"
    p.write_text(text.replace("  price: 16.0", "  price: 16.0\n  price: 160.0", 1))
    with pytest.raises(ConfigError, match="duplicate key 'price'"):
        load_config(p)


def test_yaml_merge_keys_still_work():
    """`<<: *anchor` merges a mapping: it is not a duplicate key; keys given next to it override the merged ones."""
    import yaml

    from engine.config import _YamlLoader

    text = "base: &b\n  x: 1\n  y: 1\nother:\n  <<: *b\n  y: 2\n"
    assert yaml.load(text, Loader=_YamlLoader.get()) == {"base": {"x": 1, "y": 1}, "other": {"x": 1, "y": 2}}
    with pytest.raises(yaml.YAMLError, match="duplicate key 'y'"):
        yaml.load(text + "  y: 3\n", Loader=_YamlLoader.get())


def test_a_scenario_file_given_as_config_says_so():
    with pytest.raises(ConfigError, match="is a stress scenario file, not a company config"):
        load_config(CONFIGS / "stress" / "zhipu.toml")


# --------------------------------------------------------------------------- hardening


def _yaml(tmp_path, base, text_edit):
    import yaml

    p = tmp_path / "c.yaml"
    p.write_text(text_edit(yaml.safe_dump(base, sort_keys=False)))
    return p


def test_yaml_1_2_on_and_no_are_text(tmp_path, base):
    base["company"]["ticker"] = "REPLACE"
    cfg = load_config(_yaml(tmp_path, base, lambda t: t.replace("REPLACE", "ON")))
    assert cfg.company.ticker == "ON"
    from engine.config import _YamlLoader
    import yaml

    assert yaml.load("a: NO\nb: yes\nc: off\nd: 1:30\ne: 2026-06-23\nf: 0o17\ng: true",
                     Loader=_YamlLoader.get()) == {"a": "NO", "b": "yes", "c": "off", "d": "1:30",
                                                   "e": "2026-06-23", "f": 15, "g": True}


def test_yaml_leading_zero_is_refused_quoting_the_text(tmp_path, base):
    base["company"]["ticker"] = "REPLACE"
    with pytest.raises(ConfigError) as e:
        load_config(_yaml(tmp_path, base, lambda t: t.replace("REPLACE", "0700")))
    msg = str(e.value)
    assert "0700" in msg and "quote it ('0700')" in msg and "448" in msg and "700" in msg


def test_growth_typed_as_a_percentage_is_refused_with_the_fix(base):
    base["segments"][0]["growth"]["today"] = 5.0
    msg = err(base)
    assert "segments.core.growth.today = 5" in msg and "500% a year" in msg and '0.05 or "5%"' in msg
    assert "simulation.allow_extreme_growth = true" in msg
    base["margin"] = {"method": "cost_structure", "variable_cost_share": 0.5, "fixed_costs": 10,
                      "fixed_cost_growth": 3.0}
    base["segments"][0]["growth"]["today"] = 0.05
    assert "margin.fixed_cost_growth = 3" in err(base)


def test_extreme_growth_opt_in_is_accepted_silently(base):
    from engine.config import config_warnings

    base["segments"][0]["growth"]["today"] = 5.0
    base["simulation"]["allow_extreme_growth"] = True
    cfg = config_from_dict(base)
    assert cfg.segments[0].growth.today.median() == 5.0 and config_warnings(cfg) == []


def test_zhipu_opts_into_hypergrowth():
    cfg = load_config(CONFIGS / "zhipu.toml")
    assert cfg.simulation.allow_extreme_growth is True
    assert "allow_extreme_growth = true" in cfg.to_toml()
    # configs that do not use the opt-in keep their normalised form (and sha256)
    assert "allow_extreme_growth" not in load_config(CONFIGS / "ai_peer.toml").to_toml()


@pytest.mark.parametrize("key, val, rng", [
    ("segments.core.revenue", -500, "[0, inf]"),
    ("cost_of_capital.initial", -0.5, "(0, 1]"),
    ("tax.rate", 25, "[0, 1]"),
])
def test_overrides_are_bounds_checked(base, key, val, rng):
    from engine.config import check_overrides

    cfg = config_from_dict(base)
    with pytest.raises(ConfigError) as e:
        check_overrides(cfg, {key: val})
    assert f"override {key} = {val}" in str(e.value) and rng in str(e.value)


def test_simulate_refuses_out_of_range_overrides(base):
    from engine import simulate

    cfg = config_from_dict(base)
    with pytest.raises(ConfigError, match=r"segments.core.revenue = -500: outside \[0, inf\]"):
        simulate(cfg, paths=4, overrides={"segments.core.revenue": -500})
    with pytest.raises(ConfigError, match="not an input"):
        simulate(cfg, paths=4, overrides={"segments.nope.revenue": 1})


def test_beta_whose_support_end_has_probability_zero_is_accepted(base):
    # alpha 0.321, beta 6.101: support [0, 1], but the sampler's largest draw is about 0.9965
    base["failure"] = {"annual_probability": {"kind": "beta", "mean": 0.05, "sd": 0.08}}
    cfg = config_from_dict(base)
    lo, hi = cfg.failure.annual_probability.draw_range()
    assert hi == pytest.approx(0.99648, abs=1e-4) and lo >= 0.0


def test_bounded_draws_outside_range_state_the_true_range(base):
    base["failure"] = {"annual_probability": {"kind": "uniform", "min": 0.5, "max": 1.0}}
    msg = err(base)
    assert "failure.annual_probability" in msg and "its draws reach [0.5, 1]" in msg


def test_churn_of_one_does_not_crash_warnings(base):
    from engine.config import config_warnings

    base["segments"][0]["churn"]["rate"] = 1.0
    w = config_warnings(config_from_dict(base))
    assert len(w) == 1 and "net growth is (1 + g)(1 - c) - 1 = -1" in w[0] and "lower churn.rate" in w[0]


def test_subnormal_revenue_is_refused(base):
    base["segments"][0]["revenue"] = 1e-320
    msg = err(base)
    assert "segments.core.revenue" in msg and "subnormal" in msg
    base["segments"][0]["revenue"] = 1000.0
    base["market"]["shares"] = 1e-320
    assert "market.shares = 9.99989e-321" in err(base)


def test_messages_name_file_keys_and_values_as_written(base):
    import datetime

    base["balance_sheet"]["debt"] = {"kind": "triangular", "min": "x", "mode": 2, "max": 3}
    msg = err(base)
    assert "balance_sheet.debt.min = \"x\"" in msg and "triangular.min" not in msg
    base["balance_sheet"]["debt"] = 0
    base["company"]["name"] = datetime.time(10, 0)
    msg = err(base)
    assert "company.name = 10:00:00: expected text" in msg and "datetime" not in msg
    for bad in ("[type=", "input_value", "pydantic.dev", "Value error"):
        assert bad not in msg


def test_stress_shift_overflow_message_is_clean(base):
    from engine.stress import StressError, prepare_scenario, scenarios_from_dict

    base["segments"][0]["churn"]["rate"] = {"kind": "pert", "min": 0.01, "mode": 0.02, "max": 0.05}
    cfg = config_from_dict(base)
    f = scenarios_from_dict({"scenarios": [{"name": "x", "description": "d",
                                            "shift": {"segments.core.churn.rate": 1e308}}]})
    with pytest.raises(StressError) as e:
        prepare_scenario(cfg, f.scenarios[0])
    assert "pydantic" not in str(e.value) and "cannot shift by 1e+308" in str(e.value)


def test_stress_growth_shock_below_minus_100_percent_refused(base):
    from engine.stress import StressError, prepare_scenario, scenarios_from_dict

    cfg = config_from_dict(base)
    f = scenarios_from_dict({"scenarios": [{"name": "x", "description": "d",
                                            "shock": [{"process": "growth", "years": [1], "add": -3.0}]}]})
    with pytest.raises(StressError, match=r"add = -3 takes segments.core's gross growth .* to -2.95"):
        prepare_scenario(cfg, f.scenarios[0])


def test_with_inputs_validates_like_a_loaded_config(base):
    cfg = config_from_dict(base)
    cfg2 = cfg.with_inputs({"tax.rate": "20%", "simulation.paths": 10, "segments.core.growth.today": 0.07})
    assert cfg2.tax.rate.median() == pytest.approx(0.2) and cfg2.simulation.paths == 10
    assert cfg2.segments[0].growth.today.median() == pytest.approx(0.07)
    assert cfg.tax.rate.median() == 0.0  # unchanged
    assert cfg.replace(**{"tax.rate": 0.2}).tax.rate.median() == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="tax.rate = 20: outside"):
        cfg.with_inputs({"tax.rate": 20})
    with pytest.raises(ConfigError, match="no segment named 'nope'"):
        cfg.with_inputs({"segments.nope.revenue": 1})
    # a new method drops the settings it does not use
    lf = cfg.with_inputs({"segments.core.growth.method": "linear_fade"})
    assert lf.segments[0].growth.method.value == "linear_fade"


# --------------------------------------------------------------------------- schema and README


def test_every_config_field_has_a_description_with_its_bounds():
    from engine.config import _field_paths

    for key, model, name in _field_paths():
        d = model.model_fields[name].description
        assert d and "Type:" in d, key
    from engine.config import Tax

    assert "allowed range [0, 1]" in Tax.model_fields["rate"].description


def test_schema_command_prints_the_json_schema():
    import json

    from click.testing import CliRunner

    from engine.cli import main

    r = CliRunner().invoke(main, ["schema"])
    assert r.exit_code == 0
    s = json.loads(r.output)
    assert s["title"] == "pricedin config"
    assert "allowed range (0, 1]" in s["$defs"]["CostOfCapital"]["properties"]["initial"]["description"]
    assert "allow_extreme_growth" in s["$defs"]["Simulation"]["properties"]


def test_readme_config_reference_matches_the_descriptions():
    from engine.config import _README_END, _README_START, config_reference_markdown

    from .conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index(_README_START) + len(_README_START):text.index(_README_END)].strip()
    assert table == config_reference_markdown(), "README drifted: run python -m engine.config --write-readme"
