"""The command line through click's CliRunner and one real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from engine.cli import main

from .conftest import CONFIGS, ROOT

ZHIPU = str(CONFIGS / "zhipu.toml")


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "zhipu.nc"
    r = invoke("run", ZHIPU, "--paths", "3000", "--json", "--out", str(out))
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout), out


def test_run_json_has_the_documented_keys(small_run):
    rep, _ = small_run
    for k in ("company", "currency", "value_unit", "price", "paths", "seed", "value_per_share", "p_justified",
              "price_percentile", "failed_share", "tv_clipped", "median_horizon_return", "elapsed_s"):
        assert k in rep, k
    assert set(rep["value_per_share"]) >= {"mean", "sd", "p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99"}
    for lens in ("dcf", "market"):
        assert set(rep["p_justified"][lens]) >= {"estimate", "se", "ci95_low", "ci95_high"}
    assert rep["company"] == "Zhipu AI" and rep["currency"] == "HKD" and rep["paths"] == 3000
    assert rep["price"] == 1_070_000


def test_report_from_file_equals_run(small_run):
    rep, out = small_run
    r = invoke("report", str(out), "--json")
    assert r.exit_code == 0
    again = json.loads(r.stdout)
    assert again == rep


def test_report_text_from_file(small_run):
    _, out = small_run
    r = invoke("report", str(out))
    assert r.exit_code == 0
    assert "P(today's price is justified)" in r.stdout and "Wilson 95% CI" in r.stdout
    assert "whole equity" in r.stdout


def test_zero_hits_gives_wilson_upper_bound_not_zero_pm_zero():
    from engine import proportion

    p = proportion(0, 10_000)
    assert p["estimate"] == 0 and p["ci95_low"] == 0
    assert p["ci95_high"] == pytest.approx(3.84e-4, rel=0.01)


def test_validate_prints_normalised_config():
    r = invoke("validate", ZHIPU)
    assert r.exit_code == 0
    assert "[company]" in r.stdout and 'name = "Zhipu AI"' in r.stdout


def _bad_config(tmp_path, old, new):
    text = (CONFIGS / "ai_peer.toml").read_text()
    assert old in text
    p = tmp_path / "bad.toml"
    p.write_text(text.replace(old, new, 1))
    return str(p)


#: The tax rate line of configs/ai_peer.toml (a range: 15% high-tech to 25% statutory).
TAX_RATE = 'rate = { kind = "triangular", min = 0.15, mode = 0.15, max = 0.25 }'


@pytest.mark.parametrize(
    "old,new,expect",
    [
        (TAX_RATE, "rate = 25", ["tax.rate", "25", "0.25"]),
        ('kind = "pert", min = 0.0, mode = 0.12', 'kind = "gamma", min = 0.0, mode = 0.12', ["margin.target", "gamma"]),
        (TAX_RATE, "rat = 0.25", ["tax.rat", "unknown key"]),
        ("market_cap = 71_700", "market_cap = -5", ["market_cap", "-5"]),
        ("revenue = 5_015", "revenue = -5_015", ["segments.core.revenue", "-5015"]),
    ],
)
def test_bad_input_exit_2_without_traceback(tmp_path, old, new, expect):
    r = invoke("run", _bad_config(tmp_path, old, new), "--paths", "100")
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    for e in expect:
        assert e in r.stderr, (e, r.stderr)


def test_batch_error_names_the_bad_file(tmp_path):
    bad = _bad_config(tmp_path, TAX_RATE, "rate = 25")
    r = invoke("run", ZHIPU, bad, "--paths", "100")
    assert r.exit_code == 2, r.output
    assert f"invalid config {bad!r}:" in r.stderr and "tax.rate = 25" in r.stderr


def test_missing_file_exit_2():
    r = invoke("run", "no/such/config.toml")
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_out_must_be_netcdf(tmp_path):
    r = invoke("run", ZHIPU, "--paths", "100", "--out", str(tmp_path / "x.csv"))
    assert r.exit_code == 2 and ".nc" in r.stderr


def test_report_of_a_non_result_file(tmp_path):
    p = tmp_path / "x.nc"
    p.write_text("not netcdf")
    r = invoke("report", str(p))
    assert r.exit_code == 2 and "not a readable NetCDF" in r.stderr


def test_keep_paths_over_limit_refused_before_allocating():
    r = invoke("run", ZHIPU, "--paths", "50000000", "--keep-paths", "--max-memory-gb", "1")
    assert r.exit_code == 2 and "GiB" in r.stderr and "--keep-paths" in r.stderr


def test_debug_shows_traceback(tmp_path):
    r = CliRunner().invoke(main, ["run", "missing.toml", "--debug"])
    assert r.exit_code != 0 and r.exception is not None


def test_seed_and_paths_options_reproduce(tmp_path):
    a = json.loads(invoke("run", ZHIPU, "--paths", "1000", "--seed", "5", "--json").stdout)
    b = json.loads(invoke("run", ZHIPU, "--paths", "1000", "--seed", "5", "--json", "--threads", "1").stdout)
    a.pop("elapsed_s"), b.pop("elapsed_s")
    assert a == b and a["seed"] == 5


@pytest.mark.slow
def test_console_script_subprocess(tmp_path):
    out = tmp_path / "r.nc"
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", ZHIPU, "--paths", "2000", "--quiet", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "DCF equity value" in proc.stdout and out.exists()
    import xarray as xr

    ds = xr.load_dataset(out, engine="h5netcdf")
    assert ds.sizes["path"] == 2000 and np.isfinite(ds["value_per_share"].values).all()


def test_out_in_unwritable_place_names_out(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    r = invoke("run", ZHIPU, "--paths", "100", "--out", str(blocker / "x.nc"))
    assert r.exit_code == 2 and "--out" in r.stderr and ".part" not in r.stderr


def test_result_file_has_the_usual_permissions(tmp_path):
    import os
    import stat

    out = tmp_path / "r.nc"
    assert invoke("run", ZHIPU, "--paths", "100", "--quiet", "--out", str(out)).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_long_run_growth_below_churn_warns_on_stderr(tmp_path):
    text = (CONFIGS / "ai_peer.toml").read_text()
    old = 'long_run = { kind = "pert", min = 0.08, mode = 0.12, max = 0.18 }'
    assert old in text
    p = tmp_path / "shrink.toml"
    p.write_text(text.replace(old, "long_run = 0.04"))
    r = invoke("validate", str(p))
    assert r.exit_code == 0
    assert "warning: segments.core" in r.stderr and "shrinks" in r.stderr and "growth.long_run" in r.stderr
    assert "warning" not in invoke("validate", ZHIPU).stderr


def test_out_of_memory_is_a_clear_exit_2_not_a_bug_report(monkeypatch):
    import importlib

    def no_memory(*a, **k):
        raise MemoryError("Unable to allocate 7.45 GiB for an array with shape (10, 10000000, 10)")

    for name in ("simulate", "simulate_arrays"):  # a run that saves nothing reports from simulate_arrays
        monkeypatch.setattr(importlib.import_module("engine.simulate"), name, no_memory)
    r = invoke("run", ZHIPU, "--paths", "100")
    assert r.exit_code == 2, r.output
    assert "out of memory (Unable to allocate 7.45 GiB" in r.stderr and "lower --paths" in r.stderr
    assert "bug" not in r.stderr


def test_a_librarys_unexpected_value_error_is_internal_not_bad_input(monkeypatch):
    """Exit 2 is for input our checks refuse; a ValueError from inside numpy is a bug (exit 1), not the user's."""
    import importlib

    def numpy_fails(*a, **k):
        return np.concatenate([])  # raises ValueError inside numpy

    sim = importlib.import_module("engine.simulate")
    monkeypatch.setattr(sim, "simulate", numpy_fails)
    monkeypatch.setattr(sim, "simulate_arrays", numpy_fails)
    r = invoke("run", ZHIPU, "--paths", "100")
    assert r.exit_code == 1 and "internal error: ValueError" in r.stderr and "bug" in r.stderr, r.output
    # a ValueError raised by pricedin's own check stays a bad-input exit 2
    r = invoke("report", "no-such-results.nc")
    assert r.exit_code == 2 and "results file 'no-such-results.nc' does not exist" in r.stderr, r.output


def test_out_that_is_a_folder_is_refused_before_the_run(tmp_path, monkeypatch):
    import importlib

    def must_not_run(*a, **k):
        raise AssertionError("simulated although --out cannot be written")

    monkeypatch.setattr(importlib.import_module("engine.simulate"), "simulate", must_not_run)
    (tmp_path / "dir.nc").mkdir()
    r = invoke("run", ZHIPU, "--paths", "100", "--out", str(tmp_path / "dir.nc"))
    assert r.exit_code == 2 and "is a folder; give a file name" in r.stderr, r.output


@pytest.mark.parametrize("damage, needle", [
    (lambda ds: ds.attrs.pop("price"), "attribute(s) price missing"),
    (lambda ds: ds.attrs.update(price="abc"), "attribute price = 'abc' is not a number"),
    (lambda ds: ds.__delitem__("justified_dcf"), "variable(s) justified_dcf missing"),
    (lambda ds: ds["value_per_share"].values.__setitem__(3, np.nan), "1 value(s) per share are NaN"),
])
def test_report_of_a_damaged_results_file_names_what_is_wrong(small_run, tmp_path, damage, needle):
    import xarray as xr

    ds = xr.load_dataset(small_run[1], engine="h5netcdf")
    damage(ds)
    bad = tmp_path / "bad.nc"
    ds.to_netcdf(bad, engine="h5netcdf")
    r = invoke("report", str(bad))
    assert r.exit_code == 2 and needle in r.stderr and str(bad) in r.stderr, r.output
