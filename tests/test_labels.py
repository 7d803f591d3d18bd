"""Printed labels and number formats that every command shares.

A config with ``market.market_cap`` alone values the whole equity: every command then says
"equity value", never "value per share" (the JSON keys keep their names). Standard errors and
changes print without an exponent or a negative zero; a count of one is singular.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from engine import config_from_dict
from engine.cli import main
from engine.views.format import change_cell, count, significant, value_label
from engine.views.tables import fair_value_rows, render_stress

from .conftest import base_dict

WHOLE_UNIT = "USD million (whole equity)"


def _config(tmp_path, per_share: bool) -> str:
    """The textbook company with revenue risk, priced per share or as a whole market cap."""
    d = base_dict()
    d["segments"][0]["revenue_shock"] = {"volatility": 0.2}
    if not per_share:
        d["market"] = {"market_cap": 1000.0}
    path = tmp_path / ("per_share.toml" if per_share else "whole.toml")
    path.write_text(config_from_dict(d).to_toml())
    return str(path)


def _invoke(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture(scope="module", params=[True, False], ids=["per_share", "whole_equity"])
def runs(request, tmp_path_factory):
    """A saved 512-path run (with its observed years) of each kind, and its config."""
    tmp = tmp_path_factory.mktemp("labels")
    cfg = _config(tmp, request.param)
    out = tmp / "run.nc"
    _invoke("run", cfg, "--paths", "512", "--quiet", "--out", out)
    return request.param, cfg, out, tmp


def test_report_at_a_new_price_uses_the_runs_label(runs):
    per_share, _, out, _ = runs
    price = 12.5 if per_share else 1250.0
    txt = _invoke("report", out, "--price", price)
    if per_share:
        assert "value per share >= price" in txt and "E[value per share] / price" in txt
    else:
        assert "equity value >= market cap" in txt and "E[equity value] / price" in txt
        assert "per share" not in txt
    js = json.loads(_invoke("report", out, "--price", price, "--json"))
    assert "fair_value_ratio" in js and "median_value_per_share" in js  # JSON keys unchanged


def test_update_what_changed_rows_use_the_runs_label(runs):
    per_share, _, out, tmp = runs
    f = tmp / "obs.toml"
    f.write_text('[[observations]]\nquantity = "revenue"\nperiod = 2026\nvalue = 1_050\nerror = { sd = 20 }\n')
    txt = _invoke("update", out, f)
    if per_share:
        assert "mean value per share" in txt and "median value per share" in txt
    else:
        assert "mean equity value" in txt and "median equity value" in txt
        assert "per share" not in txt
    js = json.loads(_invoke("update", out, f, "--json"))
    assert "value_per_share" in js["posterior"]  # JSON keys unchanged


def test_stress_title_uses_the_runs_label(runs):
    per_share, cfg, _, tmp = runs
    scen = tmp / "scen.toml"
    scen.write_text('[[scenarios]]\nname = "rates"\ndescription = "up"\nshift = { "cost_of_capital.initial" = 0.02 }\n')
    txt = _invoke("stress", cfg, "--scenarios", scen, "--paths", "256", "--quiet")
    if per_share:
        assert "Value per share (USD/share; price 10.00)" in txt
    else:
        assert f"Equity value ({WHOLE_UNIT}; price 1,000)" in txt
        assert "per share" not in txt.lower()
    assert "base + 1 scenario, 256 paths each" in txt


def test_run_report_label_matches(runs):
    per_share, _, out, _ = runs
    txt = _invoke("report", out)
    assert ("E[value per share] / price" if per_share else "E[equity value] / price") in txt
    assert ("DCF value per share, USD/share" if per_share else f"DCF equity value, {WHOLE_UNIT}") in txt


def test_one_path_run_counts_in_the_singular(tmp_path):
    txt = _invoke("run", _config(tmp_path, False), "--paths", "1", "--quiet")
    assert "Textbook Co: 1 path, seed" in txt
    assert re.search(r"implied cost of capital .*initial WACC .*; 1 path\)", txt)  # singular, not "1 paths"
    assert "medians over all 1 path vs" in txt


def test_value_label():
    assert value_label(True) == value_label(1) == "value per share"
    assert value_label(False) == value_label(0) == "equity value"


@pytest.mark.parametrize("x, digits, text", [
    (7.0e-05, 2, "0.000070"), (7.04e-05, 2, "0.000070"), (0.0999, 2, "0.10"), (0.01234, 2, "0.012"),
    (0.01234, 3, "0.0123"), (2.5, 2, "2.5"), (0.0, 2, "0"), (float("nan"), 2, "n/a"), (1234.5, 2, "1,200"),
])
def test_significant(x, digits, text):
    assert significant(x, digits) == text


def test_count():
    assert (count(1, "path"), count(0, "path"), count(2000, "path")) == ("1 path", "0 paths", "2,000 paths")
    assert count(1, "scenario") == "1 scenario" and count(3, "analysis", "analyses") == "3 analyses"


@pytest.mark.parametrize("est, half, text", [
    (-0.000005, 0.000003, "-0.0005 ± 0.0003"),    # -0.0005 pp: shown, not "-0.00 ± 0.00"
    (-0.00001, 0.0, "-0.001 ± 0"),
    (0.0015, 0.0002, "+0.15 ± 0.02"),
    (0.0, 0.00004, "0 ± 0.004"),
    (0.0, 0.0, "0 ± 0"),
    (-1e-20, 0.0, "0 ± 0"),                       # below 12 decimals: 0, never "-0.000000000000"
    (0.1692, 0.0016, "+16.92 ± 0.16"),
])
def test_change_cell_in_percentage_points(est, half, text):
    assert change_cell(est, half, scale=100.0) == text


def test_fair_value_standard_error_has_no_exponent():
    s = {"value_label": "equity value", "fair_value_ratio": {"estimate": -0.009, "se": 7.0e-05}}
    assert fair_value_rows(s) == [("E[equity value] / price", "-0.009x  (standard error 0.000070)")]
    s["fair_value_ratio"]["se"] = float("nan")
    assert fair_value_rows(s)[0][1] == "-0.009x  (standard error n/a)"
    icc = {"rate": 0.1415, "shift": 0.0415, "mature_rate": 0.1415, "paths": 1, "bracket": [0.0, 0.5]}
    assert fair_value_rows({"implied_cost_of_capital": icc})[0][1].endswith("mature 14.15%; 1 path)")


def _stress_report(per_share: bool, d_dcf: float, ci: list) -> dict:
    vps = {k: 1.0 for k in ("p5", "p50", "p95", "mean")}
    row = {"value_per_share": vps, "p_justified": {"dcf": {"estimate": 0.5}, "market": {"estimate": 0.5}},
           "failed_share": 0.0}
    delta = {"mean": -0.5, "mean_ci95": [-0.6, -0.4], "p_justified_dcf": d_dcf, "p_justified_dcf_ci95": ci,
             "p_justified_market": 0.0, "p_justified_market_ci95": [0.0, 0.0],
             "failed_share": 0.0, "failed_share_ci95": [0.0, 0.0]}
    return {"company": "Co", "value_unit": "USD/share" if per_share else WHOLE_UNIT, "per_share": per_share,
            "price": 10.0, "paths": 1000, "seed": 1, "base": {**row, "name": "base"},
            "scenarios": [{**row, "name": "s1", "description": "d", "delta": delta}]}


def test_stress_change_table_has_no_negative_zero():
    from rich.console import Console

    c = Console(record=True, width=200)
    render_stress(_stress_report(False, -0.000005, [-0.000008, -0.000002]), c)
    txt = c.export_text()
    assert "-0.0005 ± 0.0003" in txt and "-0.00 " not in txt
    assert "Equity value (USD million (whole equity); price 10.00)" in txt
    assert "1 scenario, 1,000 paths each" in txt


def test_sensitivity_tornado_title_uses_the_runs_label(runs):
    per_share, _, out, _ = runs
    txt = _invoke("sensitivity", out, "--tornado-paths", "64")
    want = "mean / median value per share [USD/share]" if per_share else f"mean / median equity value [{WHOLE_UNIT}]"
    assert want in " ".join(txt.split())


def test_render_reprice_reads_the_label_from_the_unit_when_not_told(runs):
    from rich.console import Console

    from engine.summary import open_results
    from engine.update import render_reprice, reprice

    per_share, _, out, _ = runs
    r = reprice(open_results(str(out)), 12.5 if per_share else 1250.0)
    for told in (None, per_share):
        c = Console(record=True, width=200)
        render_reprice(r, c, per_share=told)
        txt = c.export_text()
        assert ("E[value per share] / price" if per_share else "E[equity value] / price") in txt


def test_tiny_probabilities_print_without_an_exponent():
    from engine.views.format import prob

    assert prob(7.8e-24) == "<0.0000001%"  # a weighted estimate with its weight far from the reported figures
    assert prob(1e-8) == "0.000001%"  # one path in 1e8
    assert prob(1.234e-8) == "0.00000123%"
    assert prob(3.1e-6) == "0.00031%"
    assert prob(0.000384) == "0.0384%"
    assert prob(0.0) == "0%"
    assert all("e" not in prob(10.0 ** -k) for k in range(0, 12))


def test_one_path_run_says_the_one_path_is_not_justified():
    from engine import simulate
    from engine.summary import summary_dict

    from .conftest import CONFIGS

    s = summary_dict(simulate(CONFIGS / "zhipu.toml", paths=1))
    notes = [s["must_believe"]["lenses"][lens]["note"] for lens in ("dcf", "market")]
    assert all(n.startswith("the one path is not justified") for n in notes), notes


def test_probability_intervals_print_without_an_exponent():
    """A Wilson interval's ends below 0.0001% print in fixed notation as :func:`prob` does (1 of 200,000 paths)."""
    from engine.summary import proportion
    from engine.views.format import interval

    p = proportion(1, 200_000)  # the README's run size with one justified path: low end 8.83e-7
    assert interval(p["ci95_low"], p["ci95_high"]) == "[0.0000883%, 0.00283%]"
    assert interval(8.83e-7, 2.83e-5) == "[0.0000883%, 0.00283%]"
    assert interval(1.2341e-7, 1.2342e-7) == "[0.000012341%, 0.000012342%]"  # more digits where they would tie
    assert interval(1e-10, 2e-3) == "[<0.0000001%, 0.2%]"  # below one in a billion, as prob
    assert interval(0.0, 3.84e-4) == "[0%, 0.0384%]" and interval(0.943, 1.0) == "[94.3%, 100%]"
    assert all("e" not in interval(10.0 ** -k, 10.0 ** -(k - 1)) for k in range(1, 14))
