"""Statistics that claim no more than they know, figures an analyst can paste, base rates that apply."""

from __future__ import annotations

import io
import json
import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from engine import config_from_dict, simulate
from engine.cli import main
from engine.errors import InputError
from engine.summary import PERCENTILE_METHOD, must_believe, open_results, proportion, save_results, summary_dict
from engine.views import figures
from engine.views.format import interval, money_cells, by_kind, shift_by_kind
from engine.views.tables import render_batch

from .conftest import CONFIGS, base_dict

ZHIPU = str(CONFIGS / "zhipu.toml")


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def wilson(k, n, z=1.959963984540054):
    """The Wilson score interval by hand (Wilson 1927)."""
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


@pytest.fixture(scope="module")
def textbook():
    """64 identical paths worth 16.02 per share against a price of 10: all 64 justified."""
    return simulate(config_from_dict(base_dict()), threads=1)


@pytest.fixture(scope="module")
def zhipu_kept():
    from engine.config import load_config

    return simulate(load_config(ZHIPU), paths=600, threads=1, keep_paths=True)


# --------------------------------------------------------------------------- 1. undefined standard errors


def test_64_of_64_gives_the_wilson_interval_and_no_false_zero_se(textbook):
    s = summary_dict(textbook)
    d = s["p_justified"]["dcf"]
    lo, hi = wilson(64, 64)
    assert lo == pytest.approx(64 / (64 + 1.959963984540054 ** 2)) == pytest.approx(0.9434, abs=1e-4)
    assert (d["estimate"], d["hits"]) == (1.0, 64)
    assert d["ci95_low"] == pytest.approx(lo, rel=1e-9) and d["ci95_high"] == pytest.approx(hi)
    assert math.isnan(d["se"]) and d["wilson_half_width"] == pytest.approx((hi - lo) / 2)
    r = invoke("run", "--paths", "64", "-q", str(_toml(textbook)))
    assert "[94.3%, 100%]" in r.stdout and "[100%, 100%]" not in r.stdout
    assert "std error n/a for DCF" in r.stdout


def _toml(ds, _cache={}):
    import tempfile
    from pathlib import Path

    if "p" not in _cache:
        p = Path(tempfile.mkdtemp()) / "textbook.toml"
        p.write_text(ds.attrs["config_toml"], encoding="utf-8")
        _cache["p"] = p
    return _cache["p"]


def test_one_path_has_no_sd_in_text_json_and_html(textbook, tmp_path):
    one = textbook.isel(path=slice(0, 1)).assign_attrs(paths=1)  # a consistent one-path file
    s = summary_dict(one)
    assert math.isnan(s["value_per_share"]["sd"]) and math.isnan(s["value_per_share"]["se_mean"])
    r = invoke("run", str(_toml(textbook)), "--paths", "1", "--json")
    j = json.loads(r.stdout)
    assert j["value_per_share"]["sd"] is None and j["value_per_share"]["se_mean"] is None
    assert j["p_justified"]["dcf"]["se"] is None
    assert j["percentile_method"] == "linear (Hyndman-Fan type 7)"
    t = invoke("run", str(_toml(textbook)), "--paths", "1", "-q").stdout
    assert "standard error n/a" in t and "standard error 0" not in t
    save_results(one, tmp_path / "one.nc")
    h = invoke("report", str(tmp_path / "one.nc"), "--html", str(tmp_path / "one.html"))
    assert h.exit_code == 0, h.output
    page = (tmp_path / "one.html").read_text(encoding="utf-8")
    assert "(standard error n/a)" in page and "one path has no spread" in page


def test_wilson_interval_prints_its_ends_apart():
    p = proportion(10_000, 10_000)
    assert interval(p["ci95_low"], p["ci95_high"]) == "[99.96%, 100%]"
    assert interval(0.0, proportion(0, 10_000)["ci95_high"]) == "[0%, 0.0384%]"


# --------------------------------------------------------------------------- 2. percentile definition


def test_percentile_method_in_the_results_file_and_help(textbook, tmp_path):
    save_results(textbook, tmp_path / "r.nc")
    assert open_results(tmp_path / "r.nc").attrs["percentile_method"] == PERCENTILE_METHOD
    assert "percentile_method" not in textbook.attrs  # the run itself is not changed
    for cmd in ("run", "report", "stress"):
        assert "Hyndman" in invoke(cmd, "--help").stdout
    v = np.asarray([1.0, 2.0, 4.0, 8.0, 16.0])  # type 7: rank 1 + (n - 1) q; q = 0.1 -> 1.4 -> 1 + 0.4 (2 - 1)
    assert np.percentile(v, 10) == pytest.approx(1.4)


# --------------------------------------------------------------------------- 3./4. figures


def _drawn(fig):
    fig.savefig(io.BytesIO(), format="png")
    return fig


def test_cjk_company_name_falls_back_to_ascii_with_one_warning(zhipu_kept):
    ds = zhipu_kept.copy()
    ds.attrs = {**ds.attrs, "company": "智谱华章 Zhipu AI", "ticker": "2513.HK"}
    figures._WARNED.discard("智谱华章 Zhipu AI")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        if figures._cjk_font() is None:
            for kind in ("hist", "cdf", "convergence", "fan"):
                fig = _drawn(figures.figure(ds, kind))
                title = fig.axes[0].get_title() or fig._suptitle.get_text()
                assert title.startswith("2513.HK: ")
            assert len(w) == 1 and "fonts-noto-cjk" in str(w[0].message)
        else:  # a CJK font is installed: the name is drawn as it is, without glyph warnings
            fig = _drawn(figures.figure(ds, "hist"))
            assert "智谱华章" in fig.axes[0].get_title() and not w


def test_hist_has_separators_and_labelled_reference_lines(zhipu_kept):
    fig = _drawn(figures.figure(zhipu_kept, "hist"))
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "1,000,000" in ticks and not any("e+" in t or "$" in t for t in ticks)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert [x.split(" ")[0] for x in labels] == ["today's", "median", "mean"]
    assert labels[0] == "today's price 1,070,000"
    assert not ax.get_legend()  # outside the axes: covers no bar


def test_cdf_percent_axis_and_named_price_share(zhipu_kept):
    fig = _drawn(figures.figure(zhipu_kept, "cdf"))
    ax = fig.axes[0]
    assert {"0%", "100%"} <= {t.get_text() for t in ax.get_yticklabels()}
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    below = 100 * float(np.mean(zhipu_kept["value_per_share"].values < zhipu_kept.attrs["price"]))
    assert f"paths worth less than the price: {below:.3g}%" in labels and len(labels) == 4


def test_fan_shows_surviving_paths_with_margins_in_percent(zhipu_kept):
    fig = _drawn(figures.figure(zhipu_kept, "fan"))
    failed = int(zhipu_kept["failed"].values.sum())
    assert failed > 0
    assert f"{600 - failed:,} surviving paths ({failed:,} failed paths left out)" in fig._suptitle.get_text()
    margin_ax = fig.axes[1]
    assert margin_ax.get_ylabel() == "operating margin [% of revenue]"
    assert all(t.get_text().endswith("%") for t in margin_ax.get_yticklabels() if t.get_text())
    # the plotted median margin at the horizon is the median over surviving paths, not dragged to 0 by failures
    med_line = margin_ax.get_lines()[0].get_ydata()[-1]
    m = zhipu_kept["margin"].transpose("path", "time").values[~zhipu_kept["failed"].values.astype(bool), -1]
    assert med_line == pytest.approx(np.nanmedian(m))


def test_convergence_band_is_wilson(zhipu_kept):
    fig = _drawn(figures.figure(zhipu_kept, "convergence"))
    ax = fig.axes[0]
    band = ax.collections[0].get_paths()[0].vertices
    k = int(zhipu_kept["justified_dcf"].values[0])  # the first path: 0 or 1 of 1 justified
    lo, hi = wilson(k, 1)  # [0, 79.3%] or [20.7%, 100%]: never 0 +/- 0 or 1 +/- 0
    at_one = band[band[:, 0] == band[:, 0].min(), 1]  # the band's vertices at n = 1 path
    assert sorted(set(np.round(at_one, 9))) == pytest.approx([100 * lo, 100 * hi])
    assert hi - lo > 0.79
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[0] == "Wilson 95% interval" and labels[2].startswith("final estimate ")


def test_tornado_labels_base_median_and_price():
    tor = {"inputs": [{"key": "a", "median_low": 900_000.0, "median_high": 1_300_000.0}], "base_median": 1_000_000.0,
           "price": 1_070_000.0, "value_unit": "HKD million", "low": 0.1, "high": 0.9, "paths": 100}
    import xarray as xr

    ds = xr.Dataset({"value_per_share": ("path", np.zeros(3))}, attrs={"company": "X", "seed": 1})
    fig = _drawn(figures.tornado(ds, tor))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "base median 1,000,000" in labels and "today's price 1,070,000" in labels
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert ticks and all("e+" not in t for t in ticks) and any("," in t for t in ticks)


# --------------------------------------------------------------------------- 5. base rates that apply


def _mb(company_update, paths=400):
    d = base_dict()
    d["company"].update(company_update)
    d["segments"][0]["growth"] = {"today": {"kind": "uniform", "min": 0.0, "max": 0.5}, "long_run": 0.05}
    d["segments"][0]["churn"] = {"rate": {"kind": "uniform", "min": 0.01, "max": 0.2}}
    d["simulation"].update(paths=paths, block_size=200)
    return must_believe(simulate(config_from_dict(d), threads=1))


def test_base_rates_follow_sector_and_size():
    none = _mb({})
    assert [b["what"] for b in none["base_rates"]] == []  # USD 1,000M of revenue, no sector: none applies
    assert any("company.sector is not given" in x for x in none["base_rates_not_shown"])
    small_sw = _mb({"sector": "software"}, paths=400)
    assert [b["what"] for b in small_sw["base_rates"]][:3] == ["rule_of_40", "multiple_horizon",
                                                              "segments.core.churn.rate"]
    cny = _mb({"reporting_currency": "CNY", "sector": "consumer"})
    cagr = next(b for b in cny["base_rates"] if b["what"] == "revenue_cagr")  # no rate to USD: cannot be checked
    assert "cannot be checked" in cagr["population"]
    cny_usd = _mb({"reporting_currency": "CNY", "usd_fx_rate": 0.14, "sector": "consumer"})
    cagr = next(b for b in cny_usd["base_rates"] if b["what"] == "revenue_cagr")  # CNY 1,000M = USD 140M < 325M
    assert "USD 140M, under the USD 325M" in cagr["population"]
    assert [b["what"] for b in cny_usd["base_rates"]] == ["revenue_cagr"]  # consumer: no software rates
    for b in small_sw["base_rates"] + cny_usd["base_rates"]:
        needed = b["dcf_percentile"] is not None and abs(b["dcf_percentile"] - 50) > 10
        assert b["flag"] == (bool(b["exceeds"]) and needed and b["what"] != "rule_of_40")


def test_usd_fx_rate_must_be_positive():
    d = base_dict()
    d["company"]["usd_fx_rate"] = -1
    with pytest.raises(InputError, match="usd_fx_rate"):
        config_from_dict(d)


# --------------------------------------------------------------------------- 6. formats


def test_one_money_rule_keeps_different_numbers_apart():
    assert money_cells([16.04, 16.0, 1_070_000.0]) == ["16.04", "16.00", "1,070,000"]
    assert money_cells([16.004, 16.0]) == ["16.004", "16.000"]
    assert by_kind(0.06197, "fraction") == "6.20%" and shift_by_kind(0.0312, "fraction") == "+3.12 pp"
    from rich.console import Console

    row = {"company": "A", "config": "a.toml", "paths": 10, "value_unit": "USD", "price": 16.0,
           "value_per_share": {"mean": 16.04, "p50": 15.5},
           "p_justified": {"dcf": {"estimate": 0.5, "ci95_low": 0.2, "ci95_high": 0.8},
                           "market": {"estimate": 0.5}}, "failed_share": 0.0}
    c = Console(file=io.StringIO(), width=200)
    render_batch([row], c)
    out = c.file.getvalue()
    assert "16.04" in out and "16.00" in out


def test_reverse_stress_prints_fractions_as_percent(monkeypatch):
    from engine.views.tables import render_reverse
    from rich.console import Console

    r = {"target": 0.5, "paths": 100, "seed": 1, "p_base": 0.1, "inputs": [
        {"key": "margin.target", "status": "found", "base_median": 0.25, "shift": 0.06197,
         "shift_bracket": [0.06, 0.0625], "value_median": 0.31197, "p_bracket": [0.49, 0.51], "range": [-0.2, 0.2],
         "p_min": 0.0, "p_max": 0.9}]}
    c = Console(file=io.StringIO(), width=250)
    render_reverse(r, "X", c, formats={"margin.target": "fraction"})
    out = c.file.getvalue()
    assert "+6.20 pp" in out and "25.00%" in out and "31.20%" in out and "0.06197" not in out


# --------------------------------------------------------------------------- 7. fuzzer's small ones


def test_max_memory_gb_inf_is_refused(textbook):
    for bad in ("inf", "nan"):
        r = invoke("run", str(_toml(textbook)), "--max-memory-gb", bad, "-q")
        assert r.exit_code == 2 and "not a finite number" in r.output and "Traceback" not in r.output


def test_median_horizon_return_says_why_it_is_missing(textbook):
    ds = textbook.copy()
    ds["horizon_return"] = ds["horizon_return"] * np.nan
    s = summary_dict(ds)
    assert math.isnan(s["median_horizon_return"]) and "not finite on any of the 64 paths" in \
        s["median_horizon_return_note"]
    from engine.views.tables import render_report
    from rich.console import Console

    c = Console(file=io.StringIO(), width=250)
    render_report(s, c)
    assert "n/a (see note)" in c.file.getvalue() and "has no median" in c.file.getvalue()


# --------------------------------------------------------------------------- 8. weighted files


def test_weighted_files_are_refused_by_every_unweighted_reader(textbook, tmp_path):
    w = textbook.copy()
    w["weight"] = ("path", np.linspace(0.5, 1.5, w.sizes["path"]))
    f = tmp_path / "upd.nc"
    save_results(w, f)
    assert open_results(f).attrs["percentile_method"].startswith("inverted CDF")
    for args in (("report", str(f), "--html", str(tmp_path / "p.html")), ("sensitivity", str(f), "--no-tornado"),
                 ("plot", str(f), "-o", str(tmp_path / "p.png"))):
        r = invoke(*args)
        assert r.exit_code == 2, (args, r.output)
        assert str(f) in r.output and "pricedin report FILE" in r.output and "weights" in r.output
    assert not (tmp_path / "p.png").exists() and not (tmp_path / "p.html").exists()
    with pytest.raises(InputError, match="path weights"):
        figures.figure(w, "hist")


def test_hist_text_prints_shares_without_exponents(zhipu_kept):
    """The histogram's SE and tail shares print in fixed notation: 1 justified path of 2,000,000 (SE 5e-7)."""
    import xarray as xr

    n = 2_000_000
    v = np.full(n, 1000.0)
    v[0] = 2e6  # above the price (1,070,000): the one DCF-justified path, and the one path past the right bar
    just = np.zeros(n, dtype=bool)
    just[0] = True
    ds = xr.Dataset({"value_per_share": ("path", v), "justified_dcf": ("path", just)}, attrs=zhipu_kept.attrs)
    fig = _drawn(figures.figure(ds, "hist"))
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "P(justified, DCF) = 0.00005% (SE 0.00005%;" in text  # sqrt(p (1 - p) / n) = 4.99999875e-7
    assert "the 0% of paths below" in text and "the 0.00005% above" in text
    assert "e-0" not in text
