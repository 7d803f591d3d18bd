"""Explain the answer: what you must believe, sensitivity, reverse DCF, plots, convergence."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from engine import config_from_dict, simulate, summary_dict as summarize
from engine.cli import main
from engine.implied import _with, base_value, implied
from engine.sensitivity import first_order_index, global_sensitivity, tornado
from engine.summary import must_believe, save_results

from .conftest import CONFIGS, base_dict

ZHIPU = str(CONFIGS / "zhipu.toml")
MU, SIGMA = math.log(1000.0), 0.5


def lognormal_dict(paths=4000):
    """Margin 0 so the operating business is worth 0: equity = cash (USD million), lognormal.

    Value per share = cash x 1e6 / 100e6 = 0.01 x cash [USD/share]; price 10 is cash 1000, the median.
    """
    d = base_dict()
    d["margin"] = {"today": 0.0, "target": 0.0}
    d["balance_sheet"]["cash"] = {"kind": "lognormal", "mu": MU, "sigma": SIGMA}
    d["simulation"].update(paths=paths, block_size=1000)
    return d


@pytest.fixture(scope="module")
def lognormal_run():
    cfg = config_from_dict(lognormal_dict())
    return cfg, simulate(cfg, threads=1)


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# ----------------------------------------------------------------------------- the model itself


def test_lognormal_model_value_is_cash_times_0_01(lognormal_run):
    _, ds = lognormal_run
    np.testing.assert_allclose(ds["value_per_share"].values, 0.01 * ds["param_balance_sheet_cash"].values,
                               rtol=1e-9)


def test_override_keeps_other_inputs_draws():
    d = lognormal_dict(paths=500)
    d["balance_sheet"]["non_operating_assets"] = {"kind": "uniform", "min": 0, "max": 100}
    cfg = config_from_dict(d)
    a = simulate(cfg, threads=1)
    b = simulate(cfg, threads=1, overrides={"balance_sheet.cash": 123.0})
    np.testing.assert_array_equal(a["param_balance_sheet_non_operating_assets"].values,
                                  b["param_balance_sheet_non_operating_assets"].values)
    assert np.all(b["param_balance_sheet_cash"].values == 123.0)
    np.testing.assert_allclose(b["value_per_share"].values,
                               0.01 * (123.0 + a["param_balance_sheet_non_operating_assets"].values), rtol=1e-9)


# ----------------------------------------------------------------------------- what you must believe


def test_must_believe_keys_and_direction(lognormal_run):
    _, ds = lognormal_run
    mb = must_believe(ds)
    assert set(mb) >= {"paths", "horizon_years", "money_unit", "lenses", "rows", "base_rates"}
    assert set(mb["lenses"]) == {"dcf", "market"}
    assert set(mb["lenses"]["dcf"]) == {"justified_paths", "share", "note"}
    keys = [r["key"] for r in mb["rows"]]
    for k in ("revenue_cagr", "revenue_horizon", "margin_horizon", "multiple_horizon", "dilution",
              "balance_sheet.cash"):
        assert k in keys
    for r in mb["rows"]:
        assert set(r) >= {"key", "label", "kind", "format", "all", "dcf", "market", "dcf_percentile"}
    cash = next(r for r in mb["rows"] if r["key"] == "balance_sheet.cash")
    assert cash["format"] == "money"
    assert cash["dcf"] > cash["all"]
    # justified iff cash >= 1000 (the median): the justified paths' median is the 75th percentile, e^(mu + z75 sigma)
    assert cash["dcf"] == pytest.approx(math.exp(MU + stats.norm.ppf(0.75) * SIGMA), rel=0.05)
    assert cash["dcf_percentile"] == pytest.approx(75, abs=2.5)
    # USD 1,000M of base revenue: above the small-company population's USD 325M, so that base rate is not shown
    assert not [b for b in mb["base_rates"] if b["what"] == "revenue_cagr"]
    assert any("USD 1,000M, above the USD 325M" in x for x in mb["base_rates_not_shown"])
    assert "must_believe" in summarize(ds)


def test_must_believe_with_no_justified_path_says_so():
    d = lognormal_dict(paths=200)
    d["market"]["price"] = 1e6
    ds = simulate(config_from_dict(d), threads=1)
    mb = must_believe(ds)
    assert mb["lenses"]["dcf"]["justified_paths"] == 0
    assert "none of the" in mb["lenses"]["dcf"]["note"]
    assert all(r["dcf"] is None for r in mb["rows"])
    json.dumps(mb)  # plain JSON


# ----------------------------------------------------------------------------- sensitivity


def test_rank_correlation_of_the_only_input_is_one(lognormal_run):
    _, ds = lognormal_run
    g = global_sensitivity(ds)
    (row,) = g["inputs"]
    assert row["key"] == "balance_sheet.cash"
    assert row["spearman_value"] == pytest.approx(1.0, abs=1e-12)
    # Y is a function of X alone; binning misses the within-bin spread of the lognormal top bin
    assert row["s_value"] > 0.9
    assert row["spearman_justified"] == pytest.approx(stats.spearmanr(ds["param_balance_sheet_cash"],
                                                                      ds["justified_dcf"]).statistic)


def test_tornado_swing_matches_closed_form(lognormal_run):
    cfg, _ = lognormal_run
    t = tornado(cfg, paths=500, threads=1, fixed_swing=0.0)  # the drawn input alone (fixed inputs swing too by default)
    (row,) = t["inputs"]
    q10 = math.exp(MU + stats.norm.ppf(0.10) * SIGMA)
    q90 = math.exp(MU + stats.norm.ppf(0.90) * SIGMA)
    assert row["low_value"] == pytest.approx(q10, rel=1e-9)
    assert row["median_low"] == pytest.approx(0.01 * q10, rel=1e-9)
    assert row["median_high"] == pytest.approx(0.01 * q90, rel=1e-9)
    assert row["swing"] == pytest.approx(0.01 * (q90 - q10), rel=1e-9)
    assert row["p_low"] == 0.0 and row["p_high"] == 1.0  # price 10 = 0.01 x median cash


def test_first_order_indices_of_a_linear_model_match_closed_form():
    d = lognormal_dict(paths=5000)
    d["balance_sheet"]["cash"] = {"kind": "uniform", "min": 0, "max": 1000}
    d["balance_sheet"]["non_operating_assets"] = {"kind": "uniform", "min": 0, "max": 3000}
    ds = simulate(config_from_dict(d), threads=1)
    g = {r["key"]: r for r in global_sensitivity(ds)["inputs"]}
    # Var(U(0, a)) = a^2 / 12: shares 1/10 and 9/10
    assert g["balance_sheet.cash"]["s_value"] == pytest.approx(0.1, abs=0.03)
    assert g["balance_sheet.non_operating_assets"]["s_value"] == pytest.approx(0.9, abs=0.03)
    assert global_sensitivity(ds)["correlated_inputs"] is False


def test_first_order_index_of_noise_is_near_zero():
    rng = np.random.default_rng(1)
    x, y = rng.random(4000), rng.standard_normal(4000)
    assert first_order_index(x, y) < 0.02


# ----------------------------------------------------------------------------- reverse DCF


def test_implied_cagr_reproduces_price():
    d = base_dict()
    cfg = config_from_dict(d)
    res = implied(cfg, max_horizon=10)
    g = res["growth"]["implied_cagr"]
    assert g is not None and g < 0.05  # textbook value 16.02 > price 10: the price implies slower growth
    d2 = base_dict()
    d2["segments"][0]["growth"] = {"method": "linear_fade", "today": g, "long_run": g}
    d2["simulation"]["paths"] = 1
    v = float(simulate(config_from_dict(d2), threads=1)["value_per_share"].values[0])
    assert v == pytest.approx(10.0, rel=1e-6)
    m = res["margin"]
    assert m["input"] == "margin.target" and m["implied"] == pytest.approx(m["value_check"] / 10.0 * m["implied"],
                                                                          rel=1e-6)
    assert m["value_check"] == pytest.approx(10.0, rel=1e-6)


def test_implied_forecast_period_is_the_first_horizon_reaching_the_price():
    d = base_dict()
    d["terminal"]["growth"] = 0.0
    d["market"]["price"] = 14.0
    cfg = config_from_dict(d)
    fp = implied(cfg, max_horizon=30)["forecast_period"]
    h = fp["years"]
    assert h is not None and h > 1
    assert base_value(_with(cfg, horizon=h)) >= 14.0 > base_value(_with(cfg, horizon=h - 1))


# ----------------------------------------------------------------------------- CLI


def test_cli_run_json_has_must_believe():
    r = invoke("run", ZHIPU, "--paths", "2000", "--threads", "1", "--json")
    assert r.exit_code == 0, r.output
    mb = json.loads(r.stdout)["must_believe"]
    assert mb["lenses"]["dcf"]["justified_paths"] >= 0 and mb["rows"]


def test_cli_sensitivity_from_results_and_config(tmp_path, lognormal_run):
    _, ds = lognormal_run
    nc = tmp_path / "r.nc"
    save_results(ds, nc)
    r = invoke("sensitivity", str(nc), "--no-tornado", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["tornado"] is None and out["global"]["inputs"][0]["spearman_value"] == pytest.approx(1.0)
    r = invoke("sensitivity", str(nc), "--tornado-paths", "200", "--json", "--threads", "1")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["tornado"]["inputs"][0]["key"] == "balance_sheet.cash"
    r = invoke("sensitivity", ZHIPU, "--paths", "300", "--threads", "1")
    assert r.exit_code == 0, r.output
    assert "Tornado" in r.stdout and "Spearman" in r.stdout
    r = invoke("sensitivity", str(tmp_path / "missing.nc"))
    assert r.exit_code == 2


def test_cli_implied_json():
    r = invoke("implied", ZHIPU, "--paths", "500", "--threads", "1", "--max-horizon", "15", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["growth"]["implied_cagr"] > 0.2
    assert out["growth"]["value_check"] == pytest.approx(out["price"], rel=1e-6)
    assert 0 <= out["growth"]["percentile_in_run"] <= 100


# ----------------------------------------------------------------------------- plots and convergence


@pytest.mark.parametrize("kind", ["hist", "cdf", "fan", "tornado", "convergence"])
def test_each_plot_kind_writes_a_png(tmp_path, kind):
    from engine.views.figures import write as plot

    d = lognormal_dict(paths=300)
    d["balance_sheet"]["non_operating_assets"] = {"kind": "uniform", "min": 0, "max": 100}
    ds = simulate(config_from_dict(d), threads=1, keep_paths=(kind == "fan"))
    f = plot(ds, kind, tmp_path / f"{kind}.png", threads=1)
    assert f.stat().st_size > 1000 and f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_and_run_plot_dir(tmp_path):
    nc = tmp_path / "z.nc"
    assert invoke("run", ZHIPU, "--paths", "300", "--threads", "1", "-q", "--out", str(nc),
                  "--plot", str(tmp_path / "figs")).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "cdf.png", "convergence.png", "fan.png", "hist.png", "tornado.png"]
    r = invoke("plot", str(nc), "--kind", "cdf", "-o", str(tmp_path / "c.png"))
    assert r.exit_code == 0 and (tmp_path / "c.png").stat().st_size > 1000
    r = invoke("plot", str(nc), "--kind", "fan", "-o", str(tmp_path / "f.png"))
    assert r.exit_code == 2 and "keep-paths" in r.output


def test_cli_figures_to_an_unwritable_place_and_from_a_stress_file_exit_2(tmp_path):
    nc = tmp_path / "z.nc"
    assert invoke("run", ZHIPU, "--paths", "300", "--threads", "1", "-q", "--out", str(nc)).exit_code == 0
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    r = invoke("plot", str(nc), "--kind", "hist", "-o", str(blocker / "h.png"))
    assert r.exit_code == 2 and f"-o {str(blocker / 'h.png')!r}: {str(blocker)!r} is a file, not a folder" in r.output
    r = invoke("run", ZHIPU, "--paths", "300", "--threads", "1", "-q", "--plot", str(blocker / "figs"))
    assert r.exit_code == 2 and "--plot" in r.output and "is a file, not a folder" in r.output, r.output
    st = tmp_path / "st.nc"
    assert invoke("stress", ZHIPU, "--paths", "300", "--threads", "1", "-q", "--out", str(st)).exit_code == 0
    for args in (("plot", str(st), "--kind", "hist", "-o", str(tmp_path / "h.png")),
                 ("sensitivity", str(st), "--no-tornado")):
        r = invoke(*args)
        assert r.exit_code == 2 and "is a stress file" in r.output, (args, r.output)
    assert not (tmp_path / "h.png").exists()


def test_target_se_result_equals_plain_run():
    r = CliRunner().invoke(main, ["run", ZHIPU, "--paths", "250", "--threads", "1", "--json",
                                  "--target-se", "0.008", "--max-paths", "4000"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    conv = rep["convergence"]
    assert conv["paths"] == rep["paths"] and conv["paths"] in (250, 500, 1000, 2000, 4000)
    assert conv["met"] == (conv["se"] <= 0.008)
    plain = json.loads(invoke("run", ZHIPU, "--paths", str(conv["paths"]), "--threads", "1", "--json").stdout)
    assert plain["p_justified"] == rep["p_justified"]
    assert plain["value_per_share"]["p50"] == rep["value_per_share"]["p50"]


def test_implied_margin_is_placed_among_the_same_inputs_draws():
    """The implied margin target is compared with margin.target's draws, not with the margin reached at the horizon."""
    from engine import load_config

    cfg = load_config(CONFIGS / "ai_peer.toml")
    ds = simulate(cfg, paths=2000, threads=1)
    m = implied(cfg, ds, max_horizon=3)["margin"]
    draws = ds["param_margin_target"].values
    assert m["input"] == "margin.target" and m["drawn"]
    assert m["run_median"] == float(np.median(draws))
    assert m["run_median"] != float(np.nanmedian(ds["margin_horizon"].values))
    assert m["searched"][1] == float(cfg.margin.maximum.median())


def test_cli_sensitivity_ranks_by_rank_correlation_and_says_when_rows_are_cut():
    r = invoke("sensitivity", ZHIPU, "--paths", "2000", "--no-tornado", "--json")
    rows = json.loads(r.stdout)["global"]["inputs"]
    mags = [abs(x["spearman_value"]) for x in rows if x["spearman_value"] is not None]
    assert mags == sorted(mags, reverse=True) and len(rows) > 3
    r = invoke("sensitivity", ZHIPU, "--paths", "2000", "--no-tornado", "--top", "3")
    assert r.exit_code == 0, r.output
    assert f"the 3 largest |Spearman (value)| of {len(rows)} inputs; --top N for more" in " ".join(r.output.split())
