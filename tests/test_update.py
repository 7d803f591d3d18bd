"""engine.update: importance weights on reported figures, and a new price without a new run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import config_from_dict
from engine.errors import InputError
from engine.simulate import simulate
from engine.summary import open_results, save_results, summary_dict as summarize
from engine.update import (kish_ess, load_observations, observations_from_dict, reprice, update,
                           updated_dataset, weighted_proportion, weighted_quantile)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def obs(**kw):
    o = {"quantity": "revenue", "period": "2026", "value": 1000.0, "error": {"sd": 50.0}}
    o.update(kw)
    return {"observations": [o]}


def _run(base, paths, keep=True, **sim):
    base["simulation"].update({"paths": paths, "block_size": 256, **sim})
    return simulate(config_from_dict(base), keep_paths=keep)


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("keep", [True, False])
def test_conjugate_lognormal_revenue(base, keep):
    """ln(year-1 revenue) ~ N(mu0, s^2) (revenue shock only); a log_sd observation gives the normal posterior.

    The same on a summary-mode run, which reads its observed fiscal years."""
    s, tau = 0.2, 0.1
    base["segments"][0]["revenue_shock"] = {"volatility": s}
    ds = _run(base, 20_000, keep=keep, steps_per_year=1)
    mu0 = math.log(1000.0 * 1.05) - 0.5 * s * s  # drift-corrected lognormal step, dt = 1
    lr = np.log(ds["revenue"].values[:, 0] if keep else ds["observed_revenue"].values[:, 0, :].sum(axis=1))
    # the prior the run drew is the closed form (sanity of the fixture, 4 standard errors)
    assert abs(lr.mean() - mu0) < 4 * s / math.sqrt(lr.size)
    y = 1050.0 * math.exp(0.15)
    r = update(ds, obs(value=y, error={"log_sd": tau}))
    prec = 1 / s**2 + 1 / tau**2
    mu_post = (mu0 / s**2 + math.log(y) / tau**2) / prec
    var_post = 1 / prec
    w = r.weights
    m = float(np.dot(w, lr))
    v = float(np.dot(w, (lr - m) ** 2))
    ess = r.ess
    assert ess == pytest.approx(1 / np.sum(w**2))
    assert 1000 < ess < 20_000
    assert abs(m - mu_post) < 3 * math.sqrt(var_post / ess)
    assert abs(v - var_post) < 3 * var_post * math.sqrt(2 / ess)
    assert r.warning is None


def _hand_ds(base, revenues):
    """A keep-paths run of len(revenues) paths whose year-1 revenue is set by hand."""
    ds = _run(base, len(revenues), block_size=len(revenues))
    rev = ds["revenue"].values.copy()
    rev[:, 0] = revenues
    ds["revenue"] = (("path", "time"), rev)
    return ds


def test_weights_on_three_paths_by_hand(base):
    ds = _hand_ds(base, [900.0, 1000.0, 1200.0])
    r = update(ds, obs(value=1000.0, error={"sd": 50.0}))
    ll = np.array([-0.5 * (100 / 50) ** 2, 0.0, -0.5 * (200 / 50) ** 2])
    expect = np.exp(ll) / np.exp(ll).sum()
    np.testing.assert_allclose(r.weights, expect, rtol=1e-12)
    assert r.ess == pytest.approx(1 / np.sum(expect**2))
    # relative_sd is sd = relative_sd x |value|; log_sd is Gaussian on the log
    r2 = update(ds, obs(value=1000.0, error={"relative_sd": 0.05}))
    np.testing.assert_allclose(r2.weights, expect, rtol=1e-12)
    r3 = update(ds, obs(value=1000.0, error={"log_sd": 0.1}))
    l3 = -0.5 * ((math.log(1000.0) - np.log([900.0, 1000.0, 1200.0])) / 0.1) ** 2
    np.testing.assert_allclose(r3.weights, np.exp(l3) / np.exp(l3).sum(), rtol=1e-12)
    # the weighted P(justified) is the weight of the justified paths
    jd = ds["justified_dcf"].values
    assert r.posterior["p_justified"]["dcf"]["estimate"] == pytest.approx(expect[jd].sum())


def test_tiny_error_one_path_takes_all_and_warns(base):
    revs = np.linspace(900.0, 1100.0, 201)  # revs[100] == 1000 exactly
    ds = _hand_ds(base, revs)
    r = update(ds, obs(value=1000.0, error={"sd": 1e-6}))  # other paths: log-likelihood ~ -5e9, no underflow to NaN
    assert np.all(np.isfinite(r.weights))
    assert r.weights[100] == pytest.approx(1.0, abs=1e-12)
    assert r.ess == pytest.approx(1.0)
    assert r.ess_threshold == pytest.approx(2.01)  # min(1000, 1% of 201 paths)
    assert r.warning and "effective sample size 1.0 of 201" in r.warning and "more paths" in r.warning


def test_failed_paths_get_zero_weight(base):
    ds = _hand_ds(base, [1000.0, 1000.0, 1000.0])
    fy = ds["failure_year"].values.copy()
    fy[0] = 1.0  # failed at the end of fiscal 2026: no report for 2026 from that path
    fy[1] = 3.0  # failed later: its 2026 figure counts
    ds["failure_year"] = (("path",), fy)
    r = update(ds, obs())
    np.testing.assert_allclose(r.weights, [0.0, 0.5, 0.5])
    fy[1:] = 0.5
    ds["failure_year"] = (("path",), fy)
    with pytest.raises(InputError, match="no path of the run is consistent"):
        update(ds, obs())


def test_weighted_helpers_closed_forms():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([0.1, 0.2, 0.3, 0.4])
    # inverse weighted CDF: cumulative 0.1, 0.3, 0.6, 1.0
    np.testing.assert_array_equal(weighted_quantile(x, [0.1, 0.3, 0.31, 0.5, 0.6, 0.61], w), [1, 2, 3, 3, 3, 4])
    assert kish_ess(w) == pytest.approx(1.0 / 0.3)
    p = weighted_proportion(x > 2, w)
    assert p["estimate"] == pytest.approx(0.7)
    assert p["se"] == pytest.approx(math.sqrt(0.21 / (1 / 0.3)))
    # equal weights: the Wilson interval of engine.summary.proportion
    from engine.summary import proportion

    m = np.arange(100) < 37
    a, b = weighted_proportion(m, np.ones(100)), proportion(37, 100)
    for k in ("estimate", "se", "ci95_low", "ci95_high"):
        assert a[k] == pytest.approx(b[k], rel=1e-9)


def test_periods_sum_rate_times_dt(base):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.1}
    ds = _run(base, 8, steps_per_year=4, block_size=8)
    from engine.update import Period, _observed

    rev = ds["revenue"].values
    full = _observed(ds, "revenue", None, Period("2027", 4, 8, 0.25, 2.0))
    np.testing.assert_allclose(full, rev[:, 4:8].sum(axis=1) * 0.25)
    r = update(ds, obs(period="2027H2", value=float(rev[0, 6:8].sum() * 0.25), error={"sd": 1e-3}))
    assert r.weights[0] == pytest.approx(1.0)
    seg = update(ds, obs(period="2027Q3", segment="core", value=float(rev[3, 6] * 0.25), error={"sd": 1e-3}))
    assert seg.weights[3] == pytest.approx(1.0)
    m = update(ds, obs(quantity="operating_margin", value=0.10, error={"sd": 0.01}))
    assert m.observations[0]["prior_median"] == pytest.approx(0.10)


# --------------------------------------------------------------------------- bad observations


@pytest.fixture
def kept(base):
    return _run(base, 16, block_size=16)


@pytest.mark.parametrize("change, words", [
    ({"quantity": "margin"}, ["quantity", '"margin"', "operating_margin"]),
    ({"period": "2031"}, ["observations.0.period", "'2031'", "2026-2030"]),
    ({"period": "2026Q3"}, ["observations.0.period", "'2026Q3'", "steps_per_year = 1", "steps_per_year = 4"]),
    ({"error": {"sd": -5}}, ["observations.0.error.sd", "-5", "> 0"]),
    ({"currency": "CNY"}, ["observations.0.currency", "'CNY'", "USD"]),
    ({"segment": "maas"}, ["observations.0.segment", "'maas'", "core"]),
    ({"error": {"sd": 1, "log_sd": 0.1}}, ["exactly one of sd, relative_sd, log_sd"]),
    ({"quantity": "ebit", "value": -3, "error": {"log_sd": 0.1}}, ["value = -3", "error.sd"]),
])
def test_bad_observations(kept, tmp_path, change, words):
    o = obs(**change)
    with pytest.raises(InputError) as e:
        update(kept, o)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    # and through the command line: exit 2, the message, no traceback
    run = tmp_path / "run.nc"
    save_results(kept, run)
    f = tmp_path / "obs.json.yaml"
    f.write_text(json.dumps(o))  # JSON is YAML
    r = invoke("update", run, f)
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    for w in words:
        assert w in r.output, (w, r.output)


def _two_segments_that_fail(base, spy, stub):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.2}
    base["segments"].append({**base["segments"][0], "name": "cloud", "revenue": 300.0})
    base["margin"]["noise_sd"] = 0.05
    base["failure"] = {"annual_probability": 0.25}
    if stub:  # a quarter of fiscal 2026 is past at the valuation date: its first step is a stub
        base["company"]["valuation_date"] = "2026-03-31"
    base["simulation"].update({"steps_per_year": spy})
    return base


@pytest.mark.parametrize("spy, stub", [(1, False), (4, False), (1, True), (4, True)])
def test_observed_years_are_the_kept_steps_summed_by_year(base, spy, stub):
    """Every path's observed year equals the keep-paths run's steps summed (rate x dt) or its year-end cash;
    years after the one a path failed in are NaN; every other variable is bit-identical."""
    _two_segments_that_fail(base, spy, stub)
    a = _run(base, 300, keep=False, block_size=128)
    b = _run(base, 300, keep=True, block_size=128)
    assert a.sizes["year"] == 3 and list(a["year"].values) == [2026, 2027, 2028]
    for name in a.data_vars:
        if not name.startswith("observed_"):
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    for name in ("observed_revenue", "observed_ebit", "observed_fcff", "observed_cash"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)  # keep_paths changes nothing
    fy = a["failure_year"].values
    assert 0 < np.isfinite(fy).sum() < 300  # some paths failed, in the observed years too
    assert (np.isfinite(fy) & (fy < 3)).any()
    dt = 1.0 / spy
    for y in range(3):
        sl = slice(y * spy, (y + 1) * spy)
        dead = np.isfinite(fy) & (fy <= y + 1e-9)  # failed before the year began
        rev = b["segment_revenue"].values[:, sl, :].sum(axis=1) * dt
        for got, want in ((a["observed_revenue"].values[:, y, :], rev),
                          (a["observed_ebit"].values[:, y], b["ebit"].values[:, sl].sum(axis=1) * dt),
                          (a["observed_fcff"].values[:, y], b["fcff"].values[:, sl].sum(axis=1) * dt),
                          (a["observed_cash"].values[:, y], b["cash"].values[:, sl.stop - 1])):
            assert np.isnan(got[dead]).all()
            np.testing.assert_allclose(got[~dead], want[~dead], rtol=1e-12, atol=1e-9)
            if spy == 1:
                np.testing.assert_array_equal(got[~dead], want[~dead])
    if stub:  # the report's year is the whole fiscal year: the stub's revenue counts in full, FCFF only after f
        np.testing.assert_array_equal(a["observed_revenue"].values[:, 0, 1] > 0, True)


def test_update_on_a_summary_mode_run_equals_update_on_the_keep_paths_run(base):
    _two_segments_that_fail(base, 4, False)
    a = _run(base, 2000, keep=False, block_size=512)
    b = _run(base, 2000, keep=True, block_size=512)
    o = {"observations": [
        {"quantity": "revenue", "period": "2026", "value": 1350.0, "error": {"relative_sd": 0.05}},
        {"quantity": "revenue", "segment": "cloud", "period": "2027", "value": 330.0, "error": {"log_sd": 0.1}},
        {"quantity": "operating_margin", "period": "2027", "value": 0.12, "error": {"sd": 0.02}},
        {"quantity": "cash", "period": "2028", "value": 400.0, "error": {"sd": 100.0}},
        {"quantity": "fcff", "period": "2026", "value": 140.0, "error": {"sd": 30.0}},
        {"quantity": "ebit", "period": "2028", "value": 150.0, "error": {"sd": 40.0}},
    ]}
    ra, rb = update(a, o), update(b, o)
    np.testing.assert_allclose(ra.weights, rb.weights, rtol=1e-12, atol=1e-300)
    assert ra.weights[np.isfinite(a["failure_year"].values) & (a["failure_year"].values <= 3)].max() == 0.0
    assert ra.ess == pytest.approx(rb.ess, rel=1e-12) and 10 < ra.ess < 2000


def test_summary_mode_refuses_what_it_did_not_observe(base, tmp_path):
    ds = _run(base, 16, keep=False, block_size=16)
    base["simulation"]["steps_per_year"] = 2
    ds2 = _run(base, 16, keep=False, block_size=16)
    with pytest.raises(InputError, match=r"observations.0.period = '2026H1'.*fiscal years only.*keep_paths"):
        update(ds2, obs(period="2026H1"))
    with pytest.raises(InputError, match=r"'2029'.*fiscal years 2026-2028.*simulation.observed_years = 3.*= 4"):
        update(ds, obs(period="2029"))
    base["simulation"]["steps_per_year"] = 1
    off = _run(base, 16, keep=False, block_size=16, observed_years=0)
    assert "observed_revenue" not in off and "year" not in off.dims
    with pytest.raises(InputError, match=r"simulation.observed_years = 0.*keep_paths=True"):
        update(off, obs())
    five = _run(base, 16, keep=False, block_size=16, observed_years=5)
    assert update(five, obs(period="2030")).ess > 0
    with pytest.raises(InputError, match=r"simulation.observed_years = 6 exceeds simulation.horizon_years = 5"):
        _run(base, 16, keep=False, observed_years=6)
    # through the command line: a year beyond observed_years is exit 2 with the message; 2026 works
    run = tmp_path / "run.nc"
    save_results(ds, run)
    f = tmp_path / "obs.toml"
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = 2029\nvalue = 1_050\nerror = { sd = 10 }\n')
    r = invoke("update", run, f)
    assert r.exit_code == 2 and "simulation.observed_years" in r.output and "Traceback" not in r.output
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = 2026\nvalue = 1_050\nerror = { sd = 10 }\n')
    r = invoke("update", run, f, "--out", tmp_path / "upd.nc")
    assert r.exit_code == 0, r.output


# --------------------------------------------------------------------------- CLI


def test_cli_update_writes_weights_and_report_uses_them(base, tmp_path):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.2}
    ds = _run(base, 2000)
    run, out = tmp_path / "run.nc", tmp_path / "updated.nc"
    save_results(ds, run)
    f = tmp_path / "obs.toml"
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = "2026"\nvalue = 1_150\n'
                 'error = { relative_sd = 0.05 }\ncurrency = "USD"\n')
    assert load_observations(f)[0].value == 1150
    r = invoke("update", run, f, "--out", out, "--json")
    assert r.exit_code == 0, r.output
    js = json.loads(r.output)
    direct = update(ds, observations_from_dict({"observations": [{"quantity": "revenue", "period": "2026",
                    "value": 1150, "error": {"relative_sd": 0.05}, "currency": "USD"}]}))
    assert js["ess"] == pytest.approx(direct.ess)
    assert js["posterior"]["p_justified"]["dcf"]["estimate"] == pytest.approx(
        direct.posterior["p_justified"]["dcf"]["estimate"])
    assert js["prior"]["p_justified"]["dcf"]["estimate"] == pytest.approx(
        summarize(ds)["p_justified"]["dcf"]["estimate"])
    assert {"what", "kind", "prior", "posterior"} <= set(js["changes"][0])
    up = open_results(out)
    np.testing.assert_allclose(up["weight"].values, direct.weights)
    assert json.loads(up.attrs["update_observations"])[0]["value"] == 1150
    # report on the updated file uses the weights
    rep = invoke("report", out, "--json")
    assert rep.exit_code == 0, rep.output
    assert json.loads(rep.output)["posterior"]["p_justified"]["dcf"]["estimate"] == pytest.approx(
        direct.posterior["p_justified"]["dcf"]["estimate"])
    text = invoke("report", out)
    assert "What changed" in text.output and "effective sample size" in text.output
    # a second update composes with the first (weights multiply)
    f2 = tmp_path / "obs2.toml"
    f2.write_text('[[observations]]\nquantity = "revenue"\nperiod = "2027"\nvalue = 1_250\nerror = { sd = 60 }\n')
    both = update(up, load_observations(f2))
    ll2 = update(ds, load_observations(f2)).log_likelihood
    comb = direct.weights * np.exp(ll2 - ll2.max())
    np.testing.assert_allclose(both.weights, comb / comb.sum(), rtol=1e-9, atol=1e-15)
    txt = invoke("update", run, f)
    assert txt.exit_code == 0 and "What changed" in txt.output and "P(today's price is justified)" in txt.output


def test_cli_update_warns_when_ess_small(base, tmp_path):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.2}
    run = tmp_path / "run.nc"
    save_results(_run(base, 500), run)
    f = tmp_path / "obs.toml"
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = "2026"\nvalue = 2_000\nerror = { log_sd = 0.01 }\n')
    r = CliRunner().invoke(main, ["update", str(run), str(f), "--json"], catch_exceptions=False)
    assert r.exit_code == 0
    assert "warning: effective sample size" in r.stderr and "surprising" in r.stderr


# --------------------------------------------------------------------------- a new price


@pytest.mark.parametrize("new_price", [7.5, 12.0, 16.25])
def test_reprice_equals_fresh_run_bit_for_bit(base, new_price):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.25}
    base["margin"]["noise_sd"] = 0.02
    base["cost_of_capital"]["cost_of_equity"] = {"kind": "triangular", "min": 0.08, "mode": 0.11, "max": 0.15}
    base["multiple"]["volatility"] = 0.2
    ds = _run(base, 3000, keep=False)
    r = reprice(ds, new_price)
    assert r["exact"] is True and r["note"] is None
    base["market"]["price"] = new_price
    fresh = summarize(simulate(config_from_dict(base)))
    assert r["p_justified"] == fresh["p_justified"]
    assert r["price_percentile"] == fresh["price_percentile"]
    assert r["breakeven_price"] == summarize(ds)["value_per_share"]["p50"]
    assert r["fair_value_ratio"] == fresh["value_per_share"]["mean"] / new_price
    assert 0 < fresh["p_justified"]["market"]["estimate"] < 1  # the hurdle matters


def test_reprice_without_multiple_today_is_flagged(base):
    del base["multiple"]["today"]
    r = reprice(_run(base, 64, keep=False), 11.0)
    assert r["exact"] is False and "multiple.today" in r["note"]


def test_cli_report_price(base, tmp_path):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.25}
    ds = _run(base, 500, keep=False)
    run = tmp_path / "run.nc"
    save_results(ds, run)
    r = invoke("report", run, "--price", "12.5", "--json")
    assert r.exit_code == 0, r.output
    js = json.loads(r.output)
    assert js["price"] == 12.5 and js["p_justified"] == json.loads(json.dumps(reprice(ds, 12.5)["p_justified"]))
    t = invoke("report", run, "--price", "12.5")
    assert "P(DCF-justified) = 50%" in t.output and "E[value per share] / price" in t.output
    bad = invoke("report", run, "--price", "0")
    assert bad.exit_code == 2
    with pytest.raises(InputError, match="price = -1.0"):
        reprice(ds, -1.0)


# --------------------------------------------------------------------------- review findings (update2)


def two(a: dict, b: dict) -> dict:
    base_o = {"quantity": "revenue", "period": "2026", "value": 1000.0, "error": {"sd": 50.0}}
    return {"observations": [{**base_o, **a}, {**base_o, **b}]}


def test_same_figure_twice_is_refused(kept, tmp_path):
    """Two copies of one figure would count as two independent reports (the likelihood squared)."""
    with pytest.raises(InputError, match=r"observations\.1 \(revenue 2026\) repeats observations\.0"):
        update(kept, two({}, {"value": 1010.0}))
    with pytest.raises(InputError, match="repeats"):  # a half written in lower case is the same half
        observations_from_dict(two({"period": "2027h1"}, {"period": "2027H1"}))
    # a segment and the total of one period are different figures
    assert len(observations_from_dict(two({"segment": "core"}, {}))) == 2
    run = tmp_path / "run.nc"
    save_results(kept, run)
    f = tmp_path / "obs.toml"
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = "2026"\nvalue = 1_050\nerror = { sd = 10 }\n' * 2)
    r = invoke("update", run, f)
    assert r.exit_code == 2 and "repeats observations.0" in r.output and "Traceback" not in r.output


def test_figure_already_applied_to_an_updated_file_is_refused(base, tmp_path):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.2}
    ds = _run(base, 400)
    first = obs(value=1100.0, error={"relative_sd": 0.05})
    up = updated_dataset(ds, update(ds, first))
    with pytest.raises(InputError, match=r"already applied to this file .*update_observations, entry 0"):
        update(up, first)
    with pytest.raises(InputError, match="already applied"):  # the same figure with another value: still twice
        update(up, obs(value=1120.0, error={"sd": 30.0}))
    run, out = tmp_path / "run.nc", tmp_path / "up.nc"
    save_results(ds, run)
    f = tmp_path / "obs.toml"
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = "2026"\nvalue = 1_100\nerror = { sd = 50 }\n')
    assert invoke("update", run, f, "--out", out).exit_code == 0
    r = invoke("update", out, f)
    assert r.exit_code == 2 and "already applied" in r.output
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = "2027"\nvalue = 1_150\nerror = { sd = 60 }\n')
    r = CliRunner().invoke(main, ["update", str(out), str(f)], catch_exceptions=False, terminal_width=200)
    assert r.exit_code == 0 and "on top of 1 figure(s) applied to this file earlier" in r.output
    assert json.loads(invoke("update", out, f, "--json").output)["earlier_observations"] == 1


@pytest.mark.parametrize("change, words", [
    ({"value": -100.0}, ["value = -100", "revenue is never negative"]),
    ({"quantity": "operating_margin", "value": 12.0, "error": {"sd": 0.02}}, ["value = 12", "write 0.12"]),
    ({"period": 2026.0}, ["observations.0.period = 2026", "as text"]),
    ({"period": True}, ["observations.0.period = true", "\"2026H1\""]),
])
def test_impossible_values_are_refused(kept, change, words):
    with pytest.raises(InputError) as e:
        update(kept, obs(**change))
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_empty_list_and_file_errors_name_the_fix(tmp_path, kept):
    with pytest.raises(InputError, match=r"observations: no observation is given; add at least one \[\[observations"):
        observations_from_dict({"observations": []})
    with pytest.raises(InputError, match="observations file .*does not exist"):
        load_observations(tmp_path / "none.toml")
    with pytest.raises(InputError, match="is a directory"):
        load_observations(tmp_path)
    (tmp_path / "o.json").write_text(json.dumps(obs()))
    with pytest.raises(InputError, match=r"unknown extension '\.json'.*rename a \.json file to \.yaml"):
        load_observations(tmp_path / "o.json")
    (tmp_path / "e.toml").write_text("\n")
    with pytest.raises(InputError, match="observations file .*is empty"):
        load_observations(tmp_path / "e.toml")
    with pytest.raises(InputError, match="segment names are case-sensitive: write 'core'"):
        update(kept, obs(segment="Core"))


def test_wrong_money_unit_is_refused_not_silently_ignored(base):
    """A figure in units instead of millions with relative_sd: sd so wide the update would change nothing."""
    base["segments"][0]["revenue_shock"] = {"volatility": 0.2}
    ds = _run(base, 400)
    with pytest.raises(InputError) as e:
        update(ds, obs(value=1.05e9, error={"relative_sd": 0.05}))
    msg = str(e.value)
    assert "observations.0.value = 1.05e+09" in msg and "USD million" in msg and "median revenue 2026" in msg
    with pytest.raises(InputError, match="times the run's median revenue"):  # billions written as units
        update(ds, obs(value=1.05, error={"sd": 0.1}))
    with pytest.raises(InputError, match=r"largest \|ebit 2026\|"):
        update(ds, obs(quantity="ebit", value=-1e8, error={"sd": 10.0}))
    # 10 times the median is surprising, not a unit: it is weighed (and warned about), not refused
    r = update(ds, obs(value=2_000.0, error={"relative_sd": 0.3}))
    assert r.ess > 0


def test_too_tight_error_no_overflow_warning_and_message_shows_the_run(base):
    import warnings

    ds = _hand_ds(base, [900.0, 1000.0, 1200.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning (overflow in z^2) would fail the test
        with pytest.raises(InputError) as e:
            update(ds, obs(value=1050.0, error={"sd": 1e-300}))
    msg = str(e.value)
    assert "observations.0 (revenue 2026) = 1,050 (sd 1e-300)" in msg
    assert "the run's paths: 900.00 to 1,200" in msg and "3 paths still operating" in msg
    assert "widen it" in msg


def test_half_years_and_quarters_sum_to_the_year(base):
    """steps_per_year 2 and 12: halves and quarters partition the fiscal year; failures at a period's end count."""
    base["segments"][0]["revenue_shock"] = {"volatility": 0.1}
    from engine.update import _observed, parse_period

    for spy in (2, 12):
        ds = _run(base, 6, steps_per_year=spy, block_size=6)
        per = lambda s: parse_period(s, 2025, 5, spy)  # noqa: E731
        year = _observed(ds, "revenue", None, per("2027"))
        np.testing.assert_allclose(year, ds["revenue"].values[:, spy:2 * spy].sum(axis=1) / spy, rtol=1e-13)
        halves = sum(_observed(ds, "ebit", None, per(f"2027H{h}")) for h in (1, 2))
        np.testing.assert_allclose(halves, _observed(ds, "ebit", None, per("2027")), rtol=1e-12)
        if spy == 12:
            q = [parse_period(f"2027Q{i}", 2025, 5, 12) for i in (1, 2, 3, 4)]
            assert [(p.start, p.stop) for p in q] == [(12, 15), (15, 18), (18, 21), (21, 24)]
            assert q[1].end == pytest.approx(1.5)
            quarters = sum(_observed(ds, "revenue", "core", p) for p in q)
            np.testing.assert_allclose(quarters, year, rtol=1e-12)
            # cash is the balance at the end of the quarter's last month
            np.testing.assert_array_equal(_observed(ds, "cash", None, q[2]), ds["cash"].values[:, 20])
    # a path that failed at the end of 2026H1 cannot report 2026H1; one failing in 2026H2 can
    ds = _run(base, 3, steps_per_year=2, block_size=3)
    fy = ds["failure_year"].values.copy()
    fy[:2] = [0.5, 1.0]
    ds["failure_year"] = (("path",), fy)
    v = float(ds["revenue"].values[2, 0] * 0.5)
    r = update(ds, obs(period="2026H1", value=v, error={"sd": 1e3}))
    assert r.weights[0] == 0.0 and r.weights[1] > 0 and r.weights[2] > 0


def test_cli_report_price_on_stress_and_updated_html_refused(base, tmp_path):
    from tests.conftest import CONFIGS

    st = tmp_path / "stress.nc"
    assert invoke("stress", CONFIGS / "zhipu.toml", "--paths", "100", "--threads", "1", "-q",
                  "--out", st).exit_code == 0
    r = invoke("report", st, "--price", "5")
    assert r.exit_code == 2 and "--price 5" in r.output and "stress file" in r.output  # not the stress tables
    base["segments"][0]["revenue_shock"] = {"volatility": 0.2}
    ds = _run(base, 200)
    up = tmp_path / "up.nc"
    save_results(updated_dataset(ds, update(ds, obs(value=1100.0, error={"relative_sd": 0.1}))), up)
    r = invoke("report", up, "--html", tmp_path / "up.html")
    assert r.exit_code == 2 and "pricedin update" in r.output and not (tmp_path / "up.html").exists()


def test_reprice_breakeven_none_when_median_value_not_positive(base, tmp_path):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.25}
    ds = _run(base, 300, keep=False)
    v = ds["value_per_share"].values.copy()
    ds["value_per_share"] = (("path",), v - np.median(v) - 1.0)  # median value -1 per share
    r = reprice(ds, 5.0)
    assert r["breakeven_price"] is None and r["median_value_per_share"] == pytest.approx(-1.0)
    assert r["p_justified"]["dcf"]["estimate"] < 0.5
    run = tmp_path / "run.nc"
    save_results(ds, run)
    t = invoke("report", run, "--price", "5")
    assert t.exit_code == 0 and "none > 0 (median value -1.00" in t.output
    js = json.loads(invoke("report", run, "--price", "5", "--json").output)
    assert js["breakeven_price"] is None and js["median_value_per_share"] == pytest.approx(-1.0)
    huge = invoke("report", run, "--price", "1e308")
    assert huge.exit_code == 0 and "at a price of 1e+308" in huge.output and ",000,000,000," not in huge.output


def test_update_text_labels_units_and_explains_ess(base, tmp_path):
    base["segments"][0]["revenue_shock"] = {"volatility": 0.2}
    base["segments"][0]["churn"] = {"rate": {"kind": "uniform", "min": 0.02, "max": 0.10}}
    ds = _run(base, 500)
    r = update(ds, obs(value=1100.0, error={"relative_sd": 0.05}))
    assert r.header["figure_unit"] == "USD million"
    row = next(c for c in r.changes if c["what"] == "segments.core.churn.rate")
    assert row["format"] == "fraction"  # a rate is shown as a percentage, as in the report
    run = tmp_path / "run.nc"
    save_results(ds, run)
    f = tmp_path / "obs.toml"
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = "2026"\nvalue = 1_100\n'
                 'error = { relative_sd = 0.05 }\n')
    out = CliRunner().invoke(main, ["update", str(run), str(f)], catch_exceptions=False, terminal_width=200).output
    out = " ".join(out.split())  # rich wraps titles to the table's width
    assert f"worth {r.ess:,.0f} equally weighted ones" in out
    assert "Observations (money figures in USD million)" in out
    assert "reported figures and money inputs in USD million" in out
    med = r.prior["inputs"]["segments.core.churn.rate"]
    assert f"{100 * med:.1f}%" in out
