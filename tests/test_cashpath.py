"""Cash and funding: break-even year, runway without new money, equity raised, burn, failure causes.

Every number is pinned by hand on the deterministic fixture (tests/conftest.py
``base_dict``: revenue 1000 growing 5% a year, no tax, no reinvestment, so
FCFF_t = margin_t x 1000 x 1.05^t).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from engine import config_from_dict, simulate
from engine.errors import InputError
from engine.summary import cash_and_funding, summary_dict
from engine.variables import validate


def run(d):
    return simulate(config_from_dict(d))


def rev(t):
    return 1000.0 * 1.05**t


def test_breakeven_year_linear_margin(base):
    # margin -20% -> +10% linearly by year 5: -14%, -8%, -2%, +4%, +10%: the first EBIT > 0 is year 4
    base["margin"] = {"today": -0.20, "target": 0.10, "convergence_year": 5, "method": "linear"}
    base["balance_sheet"]["cash"] = 10_000.0  # never needs money
    ds = run(base)
    assert np.all(ds["breakeven_year"].values == 4.0)
    s = cash_and_funding(ds)
    assert s["breakeven"]["by_year"] == {"1": 0.0, "2": 0.0, "3": 0.0, "4": 1.0, "5": 0.0}
    assert s["breakeven"]["not_by_horizon"] == 0.0
    assert s["breakeven"]["median_year"] == 4.0
    # burn: the four loss years' FCFF, 0.14 x 1050 + 0.08 x 1102.5 + 0.02 x 1157.625
    burn = 0.14 * rev(1) + 0.08 * rev(2) + 0.02 * rev(3)
    assert ds["cumulative_burn"].values == pytest.approx(np.full(64, burn), rel=1e-12)
    assert np.all(np.isnan(ds["runway_years"].values))
    assert s["runway"] == {"p10": None, "p50": None, "p90": None, "beyond_horizon_share": 1.0}


def test_profitable_today_breaks_even_in_year_1(base):
    ds = run(base)
    assert np.all(ds["breakeven_year"].values == 1.0)
    assert np.all(ds["cumulative_burn"].values == 0.0)
    assert np.all(ds["failure_cause"].values == 0.0)


def test_runway_and_equity_raised_by_hand(base):
    # cash 300, margin -10%: shadow cash 300 - 105 - 110.25 - 115.7625 = -31.01 < 0 at the end of year 3
    base["margin"] = {"today": -0.10, "target": -0.10}
    base["balance_sheet"]["cash"] = 300.0
    ds = run(base)
    assert np.all(ds["runway_years"].values == 3.0)
    assert np.all(np.isnan(ds["breakeven_year"].values))
    burn = sum(0.1 * rev(t) for t in range(1, 6))
    assert ds["cumulative_burn"].values == pytest.approx(np.full(64, burn), rel=1e-12)
    # raises (floor 0, buffer 1 year): need = floor - cash + buffer x burn in the step of the shortfall
    cash, raised = 300.0, 0.0
    for t in range(1, 6):
        cash -= 0.1 * rev(t)
        if cash < 0.0:
            need = -cash + 0.1 * rev(t)
            raised += need
            cash += need
    assert raised == pytest.approx(146.775 + (0.1 * rev(4) - 0.1 * rev(3)) + 0.1 * rev(4)
                                   + (0.1 * rev(5) - 0.1 * rev(4)) + 0.1 * rev(5), rel=1e-12)
    assert ds["equity_raised"].values == pytest.approx(np.full(64, raised), rel=1e-12)
    s = cash_and_funding(ds)
    assert s["runway"] == {"p10": 3.0, "p50": 3.0, "p90": 3.0, "beyond_horizon_share": 0.0}
    assert s["raised"]["equity_raised"]["p50"] == pytest.approx(raised, rel=1e-12)
    assert s["raised"]["cumulative_burn"]["p90"] == pytest.approx(burn, rel=1e-12)
    assert s["breakeven"]["not_by_horizon"] == 1.0
    assert math.isnan(s["breakeven"]["median_year"])
    assert s["failures"] == {"failed_share": 0.0, "hazard_share": 0.0, "funding_share": 0.0}


def test_closed_window_fails_by_funding(base):
    base["margin"] = {"today": -0.10, "target": -0.10}
    base["balance_sheet"]["cash"] = 300.0
    base["financing"] = {"closed": True}
    ds = run(base)
    assert np.all(ds["failed"].values)
    assert np.all(ds["failure_cause"].values == 2.0)
    assert np.all(ds["failure_year"].values == 3.0)
    assert np.all(ds["runway_years"].values == 3.0)  # computed until failure: the same step
    burn = sum(0.1 * rev(t) for t in range(1, 4))  # to failure
    assert ds["cumulative_burn"].values == pytest.approx(np.full(64, burn), rel=1e-12)
    assert np.all(ds["equity_raised"].values == 0.0)
    s = cash_and_funding(ds)
    assert s["failures"] == {"failed_share": 1.0, "hazard_share": 0.0, "funding_share": 1.0}
    validate(ds, values=True)


def test_certain_hazard_fails_by_hazard(base):
    # the hazard's largest allowed value: a step survives with probability 1e-12, so every path fails in year 1
    base["failure"] = {"annual_probability": 1.0 - 1e-12}
    ds = run(base)
    assert np.all(ds["failed"].values)
    assert np.all(ds["failure_cause"].values == 1.0)
    assert np.all(ds["failure_year"].values == 1.0)
    # failed in year 1 before its end counted: no break-even year, no burn, no runway shortfall
    assert np.all(np.isnan(ds["breakeven_year"].values))
    assert np.all(np.isnan(ds["runway_years"].values))
    s = cash_and_funding(ds)
    assert s["failures"] == {"failed_share": 1.0, "hazard_share": 1.0, "funding_share": 0.0}
    assert s["breakeven"]["not_by_horizon"] == 1.0
    validate(ds, values=True)


def test_mixed_causes_split_adds_up(base):
    # a 30% hazard on a company that needs money with the window shut in year 3
    base["margin"] = {"today": -0.10, "target": -0.10}
    base["balance_sheet"]["cash"] = 300.0
    base["financing"] = {"closed_years": [3]}
    base["failure"] = {"annual_probability": 0.3}
    base["simulation"]["paths"] = 2000
    ds = run(base)
    s = cash_and_funding(ds)
    f = s["failures"]
    assert f["hazard_share"] + f["funding_share"] == pytest.approx(f["failed_share"], abs=1e-15)
    # funding failures are exactly the paths that survive the hazard in years 1-3: 0.7^3 = 34.3%
    assert f["funding_share"] == pytest.approx(0.343, abs=0.04)
    fy = ds["failure_year"].values
    cause = ds["failure_cause"].values
    assert np.all(fy[cause == 2.0] == 3.0)


def test_validate_rejects_bad_cause_and_infinite_runway(base):
    ds = run(base)
    bad = ds.copy(deep=True)
    bad["failure_cause"].values[0] = 1.0  # a surviving path with a cause
    with pytest.raises(InputError, match="failure_cause"):
        validate(bad, values=True)
    bad = ds.copy(deep=True)
    bad["runway_years"].values[0] = np.inf
    with pytest.raises(InputError, match="runway_years"):
        validate(bad, values=True)


def test_cli_json_and_text_report(base, tmp_path):
    import yaml

    from engine.cli import main

    base["margin"] = {"today": -0.10, "target": -0.10}
    base["balance_sheet"]["cash"] = 300.0
    base["financing"] = {"closed": True}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(base))
    r = CliRunner().invoke(main, ["run", str(cfg), "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["runway"] == {"p10": 3.0, "p50": 3.0, "p90": 3.0, "beyond_horizon_share": 0.0}
    assert s["failures"] == {"failed_share": 1.0, "hazard_share": 0.0, "funding_share": 1.0}
    assert s["breakeven"]["not_by_horizon"] == 1.0
    assert s["breakeven"]["median_year"] is None  # NaN in JSON
    burn = sum(0.1 * rev(t) for t in range(1, 4))
    assert s["raised"]["cumulative_burn"]["p50"] == pytest.approx(burn, rel=1e-12)
    r = CliRunner().invoke(main, ["run", str(cfg)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "Cash and funding" in r.output
    assert "by funding" in r.output


def test_html_report_has_cash_and_funding(base):
    from engine.views.html import render_html

    base["margin"] = {"today": -0.10, "target": -0.10}
    base["balance_sheet"]["cash"] = 300.0
    page = render_html(run(base), implied=False)
    i = page.index("<caption>Cash and funding</caption>")
    table = page[i:page.index("</table>", i)]
    assert "<td>runway without new money, years (10th / median / 90th)</td>" in table
    assert '<td class="num">3.00 / 3.00 / 3.00</td>' in table
    assert '<td class="num">0.00% / 0.00%</td>' in table  # no failures
