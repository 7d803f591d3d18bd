"""Tornado options: fixed-input bars (``fixed_swing``), ranking (``rank_by``), mean ends, Spearman column.

Every reference value is computed by hand from the textbook company of ``tests/conftest.py``: revenue
1000 growing 5% a year, EBIT margin 10%, no tax, no reinvestment (sales-to-capital 1e12), WACC 10%,
Gordon growth 3% after a 5-year horizon, 100 million shares, no cash or debt:

    value per share = [sum_{t=1..5} m_t R_t / 1.1^t + m_5 R_5 1.03 / (0.10 - 0.03) / 1.1^5] / 100 = 16.0188

with R_t = 1000 x 1.05^t [USD million] and the linear margin path m_t = m0 + (target - m0) min(1, t / 10)
capped at ``margin.maximum`` (Damodaran's target-margin convergence; docs/model.md, section 2).
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.config import config_from_dict
from engine.errors import InputError
from engine.sensitivity import sensitivity, tornado
from engine.simulate import simulate
from tests.conftest import base_dict

BASE_VALUE = 16.018757257  # USD/share, the conftest docstring's 1,601.88 EV / 100 shares


def dcf_per_share(m0=0.10, target=0.10, m_max=1.0, tax=0.0, revenue=1000.0, cash=0.0, debt=0.0):
    """Hand DCF of the conftest company [USD/share]: linear margin over 10 years, capped at ``m_max``."""
    ev, m = 0.0, m0
    for t in range(1, 6):
        m = min(m0 + (target - m0) * min(1.0, t / 10.0), m_max)
        ev += m * revenue * 1.05 ** t * (1.0 - tax) / 1.1 ** t
    ebit_next = m * revenue * 1.05 ** 5 * 1.03
    if ebit_next >= 0.0:
        ev += ebit_next * (1.0 - tax) / (0.10 - 0.03) / 1.1 ** 5
    # else a perpetual loss is liquidated (terminal.on_loss = "liquidate"): recovery x invested capital, and the
    # conftest company's invested capital is revenue / 1e12, nothing
    return (ev + cash - debt) / 100.0


def rows_by_key(t):
    return {r["key"]: r for r in t["inputs"]}


def keys(t):
    return [r["key"] for r in t["inputs"]]


def test_hand_dcf_reproduces_the_conftest_value():
    assert dcf_per_share() == pytest.approx(BASE_VALUE, rel=1e-9)


# ----------------------------------------------------------------------------- fixed-input bars


@pytest.fixture(scope="module")
def base_tornado():
    return tornado(config_from_dict(base_dict()), threads=1)


def test_fixed_margins_swing_25_percent_to_hand_dcf_values(base_tornado):
    t = base_tornado
    assert t["fixed_swing"] == 0.25 and t["rank_by"] == "p_justified"
    assert t["base_median"] == pytest.approx(BASE_VALUE, rel=1e-9)
    assert t["base_mean"] == pytest.approx(BASE_VALUE, rel=1e-9)
    rows = rows_by_key(t)
    # margin.today 7.5% -> 10% by year 10 (8.75% in year 5): 13.7884; 12.5% -> 11.25% in year 5: 18.2491
    today = rows["margin.today"]
    assert today["kind"] == "fixed"
    assert (today["low_value"], today["high_value"]) == pytest.approx((0.075, 0.125), rel=1e-12)
    lo, hi = dcf_per_share(m0=0.075), dcf_per_share(m0=0.125)
    assert (lo, hi) == pytest.approx((13.788379, 18.249135), abs=1e-6)
    for end, v in (("low", lo), ("high", hi)):
        assert today[f"mean_{end}"] == pytest.approx(v, rel=1e-9)
        assert today[f"median_{end}"] == pytest.approx(v, rel=1e-9)
        assert today[f"p_{end}"] == 1.0  # every path above the price of 10
    assert today["swing"] == pytest.approx(hi - lo, rel=1e-9)
    assert today["mean_swing"] == pytest.approx(hi - lo, rel=1e-9)
    assert today["p_swing"] == 0.0
    # margin.target 7.5% / 12.5% from today's 10%: 14.2444 / 17.7931
    target = rows["margin.target"]
    assert (target["low_value"], target["high_value"]) == pytest.approx((0.075, 0.125), rel=1e-12)
    assert target["mean_low"] == pytest.approx(dcf_per_share(target=0.075), rel=1e-9)
    assert target["mean_high"] == pytest.approx(dcf_per_share(target=0.125), rel=1e-9)
    assert target["median_low"] == pytest.approx(14.244446, abs=1e-6)
    assert target["median_high"] == pytest.approx(17.793068, abs=1e-6)
    # revenue is a scale: value x 0.75 and x 1.25
    rev = rows["segments.core.revenue"]
    assert (rev["low_value"], rev["high_value"]) == (750.0, 1250.0)
    assert (rev["mean_low"], rev["mean_high"]) == pytest.approx((0.75 * BASE_VALUE, 1.25 * BASE_VALUE), rel=1e-9)


def test_inputs_fixed_at_zero_are_not_swung_and_nonzero_ones_are(base_tornado):
    zero = {"balance_sheet.cash", "balance_sheet.debt", "tax.rate", "segments.core.churn.rate",
            "failure.annual_probability", "margin.noise_sd", "segments.core.growth.volatility"}
    listed = set(keys(base_tornado)) | {s["key"] for s in base_tornado["skipped"]}
    assert not zero & listed
    assert all(r["kind"] == "fixed" for r in base_tornado["inputs"])  # the conftest company draws nothing
    # the same keys swing once they are not 0: cash 100 (USD million) +/-25% adds 0.75 / 1.25 USD a share
    d = base_dict()
    d["balance_sheet"]["cash"] = 100.0
    d["tax"]["rate"] = 0.2
    rows = rows_by_key(tornado(config_from_dict(d), threads=1))
    cash = rows["balance_sheet.cash"]
    assert (cash["low_value"], cash["high_value"]) == (75.0, 125.0)
    assert cash["mean_low"] == pytest.approx(dcf_per_share(tax=0.2, cash=75.0), rel=1e-9)
    assert cash["mean_high"] == pytest.approx(dcf_per_share(tax=0.2, cash=125.0), rel=1e-9)
    tax = rows["tax.rate"]  # no NOL, every FCFF positive: value x (1 - t)
    assert (tax["low_value"], tax["high_value"]) == pytest.approx((0.15, 0.25), rel=1e-12)
    assert tax["median_low"] == pytest.approx(0.85 * BASE_VALUE + 1.0, rel=1e-9)
    assert tax["median_high"] == pytest.approx(0.75 * BASE_VALUE + 1.0, rel=1e-9)


def test_fields_the_chosen_method_does_not_use_get_no_bar(base_tornado):
    # a linear margin has no half-life and the default (mean-reverting) growth no fade year: the config refuses
    # them if written, so they are not inputs and get no bar; the fields the methods do use are swung
    listed = set(keys(base_tornado)) | {s["key"] for s in base_tornado["skipped"]}
    assert "margin.half_life" not in listed and "segments.core.growth.fade_year" not in listed
    assert {"margin.convergence_year", "segments.core.growth.half_life"} <= listed
    d = base_dict()
    d["margin"] = {"method": "exponential", "today": 0.10, "target": 0.10}
    listed = set(keys(tornado(config_from_dict(d), threads=1)))
    assert "margin.half_life" in listed and "margin.convergence_year" not in listed


def test_fixed_swing_zero_leaves_fixed_inputs_out():
    t = tornado(config_from_dict(base_dict()), threads=1, fixed_swing=0.0)
    assert t["inputs"] == [] and t["skipped"] == [] and t["fixed_swing"] == 0.0


def test_custom_fixed_swing_moves_each_end_by_that_fraction():
    t = tornado(config_from_dict(base_dict()), threads=1, fixed_swing=0.1)
    today = rows_by_key(t)["margin.today"]
    assert (today["low_value"], today["high_value"]) == pytest.approx((0.09, 0.11), rel=1e-12)
    assert today["mean_low"] == pytest.approx(dcf_per_share(m0=0.09), rel=1e-9)
    assert today["mean_high"] == pytest.approx(dcf_per_share(m0=0.11), rel=1e-9)
    assert "-/+ 10%" in t["method"]


def test_swing_past_a_closed_bound_is_clipped_to_it():
    # tax 90% +/-25%: 67.5% and 112.5%, the latter clipped to tax.rate's maximum 1 (value 0)
    d = base_dict()
    d["tax"]["rate"] = 0.9
    rows = rows_by_key(tornado(config_from_dict(d), threads=1))
    tax = rows["tax.rate"]
    assert tax["low_value"] == pytest.approx(0.675, rel=1e-12)
    assert tax["high_value"] == 1.0
    assert tax["mean_low"] == pytest.approx(dcf_per_share(tax=0.675), rel=1e-9)
    assert tax["mean_low"] == pytest.approx(0.325 * BASE_VALUE, rel=1e-9)
    assert tax["mean_high"] == pytest.approx(0.0, abs=1e-9)
    assert tax["p_low"] == 0.0 and tax["p_high"] == 0.0  # 5.21 and 0 are below the price of 10
    mmax = rows["margin.maximum"]  # default 1: 0.75 and 1 (clipped), no effect on a 10% margin
    assert (mmax["low_value"], mmax["high_value"]) == (0.75, 1.0)
    assert mmax["mean_low"] == mmax["mean_high"] == pytest.approx(0.1 * BASE_VALUE, rel=1e-9)


def test_swing_past_an_open_bound_stops_just_inside_it():
    # margin.noise_persistence must be below 1: 0.9 x 1.25 = 1.125 becomes 1 - 1e-9
    d = base_dict()
    d["margin"]["noise_persistence"] = 0.9
    row = rows_by_key(tornado(config_from_dict(d), threads=1))["margin.noise_persistence"]
    assert row["low_value"] == pytest.approx(0.675, rel=1e-12)
    assert row["high_value"] == pytest.approx(1.0 - 1e-9, abs=1e-15) and row["high_value"] < 1.0


def test_swung_value_the_config_refuses_is_listed_as_not_swung():
    # growth 90% is allowed, 112.5% needs simulation.allow_extreme_growth: the input is listed in skipped
    d = base_dict()
    d["segments"][0]["growth"]["today"] = 0.9
    t = tornado(config_from_dict(d), threads=1)
    assert "segments.core.growth.today" not in keys(t)
    assert [s["key"] for s in t["skipped"]] == ["segments.core.growth.today"]
    reason = t["skipped"][0]["reason"]
    assert "segments.core.growth.today = 1.125" in reason and "allow_extreme_growth" in reason
    assert "margin.today" in keys(t)  # the other inputs still get their bars
    # allowed once the config says extreme growth is real
    d["simulation"]["allow_extreme_growth"] = True
    t2 = tornado(config_from_dict(d), threads=1)
    assert t2["skipped"] == []
    assert rows_by_key(t2)["segments.core.growth.today"]["high_value"] == pytest.approx(1.125, rel=1e-12)


# ----------------------------------------------------------------------------- ranking


def ranking_dict():
    """Price 16.13 between the two ends of many bars; margin capped at 11%; cash 10 (USD million).

    Base value 16.0188 + 0.1 = 16.1188 < 16.13, so P(justified) = 0 and a bar has P swing 1 when its
    high (or low) end lifts the value above 16.13. The deterministic company makes P 0 or 1.
    """
    d = base_dict()
    d["market"]["price"] = 16.13
    d["balance_sheet"]["cash"] = 10.0
    d["margin"]["maximum"] = 0.11
    return d


@pytest.fixture(scope="module")
def ranked():
    cfg = config_from_dict(ranking_dict())
    return {rule: tornado(cfg, threads=1, rank_by=rule) for rule in ("p_justified", "mean", "median")}


def _hand_ranking_rows():
    """(key, value at low end, value at high end) by hand for the ranking config [USD/share]."""
    c = 10.0
    return {
        "segments.core.revenue": (dcf_per_share(revenue=750.0, m_max=0.11, cash=c),
                                  dcf_per_share(revenue=1250.0, m_max=0.11, cash=c)),   # 12.11 / 20.12
        "margin.today": (dcf_per_share(m0=0.075, m_max=0.11, cash=c),
                         dcf_per_share(m0=0.125, m_max=0.11, cash=c)),                  # 13.89 / 17.72 (11% cap)
        "margin.target": (dcf_per_share(target=0.075, m_max=0.11, cash=c),
                          dcf_per_share(target=0.125, m_max=0.11, cash=c)),             # 14.34 / 17.58
        "balance_sheet.cash": (dcf_per_share(m_max=0.11, cash=7.5),
                               dcf_per_share(m_max=0.11, cash=12.5)),                   # 16.09 / 16.14
        "margin.maximum": (dcf_per_share(m_max=0.0825, cash=c),
                           dcf_per_share(m_max=0.1375, cash=c)),                        # 13.32 / 16.12
    }


def test_ranking_rows_match_hand_values(ranked):
    rows = rows_by_key(ranked["p_justified"])
    for key, (lo, hi) in _hand_ranking_rows().items():
        r = rows[key]
        assert (r["mean_low"], r["mean_high"]) == pytest.approx((lo, hi), rel=1e-9), key
        assert (r["median_low"], r["median_high"]) == pytest.approx((lo, hi), rel=1e-9), key
        assert (r["p_low"], r["p_high"]) == (float(lo >= 16.13), float(hi >= 16.13)), key
    assert rows["margin.maximum"]["p_swing"] == 0.0  # 13.32 and 16.12 both below 16.13
    assert rows["balance_sheet.cash"]["p_swing"] == 1.0  # 16.09 below, 16.14 above


def test_default_rank_is_p_swing_then_mean_swing(ranked):
    t = ranked["p_justified"]
    order = [k for k in keys(t) if k in _hand_ranking_rows()]
    # four tie on P swing 1, broken by mean swing 8.01 > 3.83 > 3.24 > 0.05; margin.maximum (P swing 0) last
    # although its mean swing (2.80) is larger than cash's
    assert order == ["segments.core.revenue", "margin.today", "margin.target", "balance_sheet.cash",
                     "margin.maximum"]
    seq = [(r["p_swing"], r["mean_swing"]) for r in t["inputs"]]
    assert seq == sorted(seq, reverse=True)
    assert "ranked by |change in P(justified, DCF)|, ties by |change in mean value|" in t["method"]


def test_rank_by_mean_puts_the_larger_mean_swing_first(ranked):
    t = ranked["mean"]
    order = [k for k in keys(t) if k in _hand_ranking_rows()]
    assert order == ["segments.core.revenue", "margin.today", "margin.target", "margin.maximum",
                     "balance_sheet.cash"]
    seq = [(r["mean_swing"], r["p_swing"]) for r in t["inputs"]]
    assert seq == sorted(seq, reverse=True)
    assert t["rank_by"] == "mean" and "ranked by |change in mean value|" in t["method"]
    # same rows, same numbers, another order
    assert sorted(keys(t)) == sorted(keys(ranked["p_justified"]))


@pytest.fixture(scope="module")
def failure_ranked():
    """Failure 4% a year: fewer than half the paths fail, so the median stays 16.0188 while the mean moves."""
    d = base_dict()
    d["failure"] = {"annual_probability": 0.04}
    cfg = config_from_dict(d)
    return {rule: tornado(cfg, threads=1, rank_by=rule) for rule in ("median", "mean")}


def test_rank_by_median_and_by_mean_differ_where_only_the_mean_moves(failure_ranked):
    med, mean = failure_ranked["median"], failure_ranked["mean"]
    f = rows_by_key(med)["failure.annual_probability"]
    assert (f["low_value"], f["high_value"]) == pytest.approx((0.03, 0.05), rel=1e-12)
    assert f["median_low"] == pytest.approx(BASE_VALUE, rel=1e-9)
    assert f["median_high"] == pytest.approx(BASE_VALUE, rel=1e-9)
    assert f["swing"] == pytest.approx(0.0, abs=1e-9)
    assert f["mean_low"] > f["mean_high"] and f["p_low"] > f["p_high"]  # more failures, less value, lower P
    # the revenue bar's medians are the hand values; its means scale the base mean (value is linear in revenue)
    rev = rows_by_key(med)["segments.core.revenue"]
    assert (rev["median_low"], rev["median_high"]) == pytest.approx((0.75 * BASE_VALUE, 1.25 * BASE_VALUE), rel=1e-9)
    assert (rev["mean_low"], rev["mean_high"]) == pytest.approx((0.75 * med["base_mean"], 1.25 * med["base_mean"]),
                                                                rel=1e-9)
    # by median: after every bar that moves the median (even by 1e-12, as sales-to-capital 1e12 +/-25% does),
    # first of those that leave it exactly where it was (its P moves, theirs does not)
    assert f["swing"] == 0.0
    i = keys(med).index("failure.annual_probability")
    assert all(r["swing"] > 0.0 for r in med["inputs"][:i])
    assert all(r["swing"] == 0.0 and r["p_swing"] == 0.0 for r in med["inputs"][i + 1:])
    assert i < len(med["inputs"]) - 1  # there are such bars (e.g. margin.convergence_year, beyond the horizon)
    assert "segments.core.growth.today" in keys(med)[:i]
    # by mean: ahead of every bar with a smaller mean swing (growth.today: about 0.80 against 1.76)
    j = keys(mean).index("failure.annual_probability")
    assert j == sum(r["mean_swing"] > f["mean_swing"] for r in mean["inputs"])
    assert keys(mean).index("segments.core.growth.today") > j
    seq = [(r["swing"], r["p_swing"]) for r in med["inputs"]]
    assert seq == sorted(seq, reverse=True)
    assert "ranked by |change in median value| (swing)" in med["method"]


def test_library_refuses_bad_fixed_swing_and_rank_by():
    cfg = config_from_dict(base_dict())
    for bad in (-1.0, 1.0, float("nan")):
        with pytest.raises(InputError, match=r"`fixed_swing` = .*\[0, 1\), e\.g\. 0\.25"):
            tornado(cfg, threads=1, fixed_swing=bad)
    with pytest.raises(InputError, match=r"`rank_by` = 'foo': one of p_justified, mean, median"):
        tornado(cfg, threads=1, rank_by="foo")


# ----------------------------------------------------------------------------- drawn inputs and Spearman


def test_drawn_input_bar_and_its_spearman_beside_it():
    # debt uniform on [0, 200] (USD million): 10th / 90th percentiles 20 and 180, value 16.0188 - debt / 100
    d = base_dict()
    d["balance_sheet"]["debt"] = {"kind": "uniform", "min": 0.0, "max": 200.0}
    cfg = config_from_dict(d)
    ds = simulate(cfg, threads=1)
    res = sensitivity(ds, cfg, threads=1, fixed_swing=0.0)
    (row,) = res["tornado"]["inputs"]
    assert row["key"] == "balance_sheet.debt" and row["kind"] == "drawn"
    assert (row["low_value"], row["high_value"]) == pytest.approx((20.0, 180.0), rel=1e-9)
    assert row["mean_low"] == pytest.approx(dcf_per_share(debt=20.0), rel=1e-9)
    assert row["mean_high"] == pytest.approx(dcf_per_share(debt=180.0), rel=1e-9)
    assert row["spearman_value"] == pytest.approx(-1.0, abs=1e-12)  # value falls one for one with debt
    res = sensitivity(ds, cfg, threads=1)  # default: fixed inputs too, with no Spearman (nothing drawn)
    rows = rows_by_key(res["tornado"])
    assert rows["balance_sheet.debt"]["spearman_value"] == pytest.approx(-1.0, abs=1e-12)
    assert rows["margin.today"]["spearman_value"] is None


# ----------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def ranking_toml(tmp_path_factory):
    p = tmp_path_factory.mktemp("tornado") / "ranked.toml"
    p.write_text(config_from_dict(ranking_dict()).to_toml())
    return str(p)


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_rank_by_and_fixed_swing_reach_the_tornado(ranking_toml):
    r = invoke("sensitivity", ranking_toml, "--paths", "64", "--threads", "1", "--json",
               "--rank-by", "mean", "--fixed-swing", "0.1")
    assert r.exit_code == 0, r.output
    t = json.loads(r.stdout)["tornado"]
    assert t["rank_by"] == "mean" and t["fixed_swing"] == 0.1
    rows = rows_by_key(t)
    cash = rows["balance_sheet.cash"]  # 10 -/+ 10%
    assert (cash["low_value"], cash["high_value"]) == pytest.approx((9.0, 11.0), rel=1e-12)
    assert cash["mean_low"] == pytest.approx(dcf_per_share(m_max=0.11, cash=9.0), rel=1e-9)
    assert cash["mean_high"] == pytest.approx(dcf_per_share(m_max=0.11, cash=11.0), rel=1e-9)
    assert cash["kind"] == "fixed" and cash["spearman_value"] is None
    assert {"kind", "mean_low", "mean_high", "mean_swing", "spearman_value"} <= set(cash)
    seq = [r_["mean_swing"] for r_ in t["inputs"]]
    assert seq == sorted(seq, reverse=True)
    # default: +/-25%, ranked by P swing first (cash at 7.5 / 12.5 crosses 16.13: P swing 1)
    r = invoke("sensitivity", ranking_toml, "--paths", "64", "--threads", "1", "--json")
    t = json.loads(r.stdout)["tornado"]
    assert t["rank_by"] == "p_justified" and t["fixed_swing"] == 0.25
    order = [k for k in keys(t) if k in _hand_ranking_rows()]
    assert order == ["segments.core.revenue", "margin.today", "margin.target", "balance_sheet.cash",
                     "margin.maximum"]


def test_cli_table_says_the_swing_and_the_order(ranking_toml):
    r = invoke("sensitivity", ranking_toml, "--paths", "64", "--threads", "1", "--rank-by", "median",
               "--fixed-swing", "0.1")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "fixed inputs -/+10%" in text
    assert "ranked by |change in median value| (swing)" in text


@pytest.mark.parametrize("args, words", [
    (("--fixed-swing", "-1"), ("'--fixed-swing'", "-1.0", "0<=x<1")),
    (("--fixed-swing", "1"), ("'--fixed-swing'", "1.0", "0<=x<1")),
    (("--rank-by", "foo"), ("'--rank-by'", "'foo'", "'p_justified', 'mean', 'median'")),
])
def test_cli_bad_value_exits_2_naming_flag_value_and_fix(ranking_toml, args, words):
    r = CliRunner().invoke(main, ["sensitivity", ranking_toml, "--paths", "64", *args])
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    for w in words:
        assert w in r.output, (w, r.output)


def test_negative_fixed_input_swings_by_its_absolute_value():
    # margin today -10% -/+ 25% of 10%: -12.5% (low end) and -7.5% (high end), still converging to +10% in year 10
    d = base_dict()
    d["margin"]["today"] = -0.10
    row = rows_by_key(tornado(config_from_dict(d), threads=1))["margin.today"]
    assert (row["low_value"], row["high_value"]) == pytest.approx((-0.125, -0.075), rel=1e-12)
    assert row["mean_low"] == pytest.approx(dcf_per_share(m0=-0.125), rel=1e-9)
    assert row["mean_high"] == pytest.approx(dcf_per_share(m0=-0.075), rel=1e-9)
