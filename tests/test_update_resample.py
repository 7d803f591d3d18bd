"""engine.update.resample / `pricedin update --resample`: grow the prior sample, resample, re-simulate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cli import main
from engine.config import config_from_dict
from engine.errors import InputError
from engine.simulate import simulate
from engine.summary import open_results, save_results
from engine.update import resample, systematic_resample, update, updated_dataset

try:  # the counter-based re-simulation (engine._run.resimulate)
    from engine._run import resimulate  # noqa: F401

    HAVE_RESIMULATE = True
except ImportError:  # pragma: no cover - a build without counter-based shocks
    HAVE_RESIMULATE = False
needs_resimulate = pytest.mark.skipif(not HAVE_RESIMULATE, reason="engine._run.resimulate is not in this build")

S, TAU, SHIFT = 0.2, 0.05, 0.3  # prior sd of ln(year-1 revenue), log_sd of the report, report - prior mean (logs)
P, B = 2000, 500


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _cfg(base, **sim):
    """One segment, one step a year; only the revenue shock is random (no growth noise, no churn, no failure)."""
    base["segments"][0]["revenue_shock"] = {"volatility": S}
    base["simulation"].update({"paths": P, "block_size": B, "steps_per_year": 1, **sim})
    return config_from_dict(base)


def _mu0():
    return math.log(1000.0 * 1.05) - 0.5 * S * S  # the kernel's drift-corrected lognormal step, dt = 1


def _obs(shift=SHIFT, tau=TAU):
    return {"observations": [{"quantity": "revenue", "period": "2026", "value": math.exp(_mu0() + shift),
                              "error": {"log_sd": tau}}]}


def _posterior():
    prec = 1 / S**2 + 1 / TAU**2
    return (_mu0() / S**2 + (_mu0() + SHIFT) / TAU**2) / prec, 1 / prec


def _obs_file(tmp_path, shift=SHIFT, tau=TAU, period="2026"):
    f = tmp_path / "obs.toml"
    f.write_text(f'[[observations]]\nquantity = "revenue"\nperiod = "{period}"\nvalue = {math.exp(_mu0() + shift)!r}\n'
                 f"error = {{ log_sd = {tau} }}\n")
    return f


# --------------------------------------------------------------------------- systematic resampling


def test_systematic_resample_by_hand():
    # C = [0.5, 0.75, 1]; positions (0.5 + k) / 4 = 0.125, 0.375, 0.625, 0.875
    np.testing.assert_array_equal(systematic_resample([0.5, 0.25, 0.25], 4, 0.5), [0, 0, 1, 2])
    np.testing.assert_array_equal(systematic_resample([2.0, 0.0, 1.0, 1.0], 4, 0.0), [0, 0, 2, 3])
    np.testing.assert_array_equal(systematic_resample([0.0, 0.0, 3.0], 5, 0.99), [2] * 5)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.floats(0.0, 1e3), min_size=1, max_size=40).filter(lambda w: sum(w) > 0),
       st.integers(1, 200), st.floats(0.0, 0.999999))
def test_systematic_resample_copies_are_floor_or_ceil(w, n, u):
    """Index i appears floor(n w_i) or ceil(n w_i) times (w normalised); never a zero-weight index."""
    a = systematic_resample(w, n, u)
    assert a.shape == (n,) and np.all(np.diff(a) >= 0)
    counts = np.bincount(a, minlength=len(w))
    nw = n * np.asarray(w) / np.sum(w)
    assert np.all(counts >= np.floor(nw - 1e-9)) and np.all(counts <= np.ceil(nw + 1e-9))
    assert np.all(counts[np.asarray(w) == 0] == 0)


@pytest.mark.parametrize("args", [([1.0, -1.0], 3, 0.5), ([0.0, 0.0], 3, 0.5), ([1.0, np.nan], 3, 0.5),
                                  ([1.0], 0, 0.5), ([1.0], 3, 1.0)])
def test_systematic_resample_refuses_bad_input(args):
    with pytest.raises(InputError):
        systematic_resample(*args)


# --------------------------------------------------------------------------- the conjugate check


@needs_resimulate
def test_conjugate_lognormal_revenue_weighted_and_resampled(base):
    """ln(year-1 revenue) ~ N(mu0, S^2), report ln y ~ N(ln R, TAU^2): the normal posterior, both ways.

    The run's own ESS is below the target, so the pool grows by whole blocks of the same seed (the paths
    a longer run holds) until the target is reached."""
    cfg = _cfg(base)
    ds = simulate(cfg)
    mu, var = _posterior()
    # importance weights on the run (update)
    r = update(ds, _obs())
    lr = np.log(ds["observed_revenue"].values[:, 0, 0])
    m = float(np.dot(r.weights, lr))
    v = float(np.dot(r.weights, (lr - m) ** 2))
    assert r.ess < 1000
    assert abs(m - mu) < 3 * math.sqrt(var / r.ess)
    assert abs(v - var) < 3 * var * math.sqrt(2 / r.ess)
    # resampled: the equally weighted sample has the posterior's moments
    rr, new = resample(ds, _obs(), target_ess=1000, threads=2)
    rs = rr.resample
    assert rs["stopped_by"] == "target_ess" and rs["pooled_ess"] >= 1000 and rs["run_ess"] == pytest.approx(r.ess)
    assert rs["pooled_paths"] > P and (rs["pooled_paths"] - P) % B == 0
    assert rr.ess == rs["pooled_ess"] and rr.warning is None
    assert new.sizes["path"] == P and "weight" not in new
    lq = np.log(new["observed_revenue"].values[:, 0, 0])
    se = math.sqrt(var * (1 / rs["pooled_ess"] + 1 / P))  # importance error + resampling error (bound)
    assert abs(lq.mean() - mu) < 3 * se
    assert abs(lq.var() - var) < 3 * var * math.sqrt(2 / rs["pooled_ess"] + 2 / P)
    # the report's "observed" row: the resampled median is the sample's median
    assert rr.observations[0]["posterior_median"] == pytest.approx(np.quantile(np.exp(lq), 0.5,
                                                                               method="inverted_cdf"))

    # replay: every observed figure of the observed year is its ancestor's, bit for bit. The pooled paths
    # are those of the longer run of the same config and seed (ids b x block_size + i = its path index).
    longer = simulate(cfg, paths=rs["pooled_paths"])
    anc = new["ancestor"].values
    assert anc.max() < rs["pooled_paths"] and np.all(np.diff(anc) >= 0)
    np.testing.assert_array_equal(new["observed_revenue"].values[:, 0, :], longer["observed_revenue"].values[anc, 0, :])
    np.testing.assert_array_equal(new["observed_ebit"].values[:, 0], longer["observed_ebit"].values[anc, 0])
    for name in [n for n in new.data_vars if str(n).startswith("param_")]:
        np.testing.assert_array_equal(new[name].values, longer[name].values[anc])
    # fresh shocks after the observed year: duplicates of one ancestor part ways
    a, counts = np.unique(anc, return_counts=True)
    dup = a[counts >= 2][0]
    rows = np.flatnonzero(anc == dup)
    assert np.unique(new["observed_revenue"].values[rows, 1, 0]).size == rows.size
    assert np.unique(new["value_per_share"].values[rows]).size == rows.size
    assert rs["distinct_ancestors"] == a.size < P


@needs_resimulate
def test_resample_is_reproducible_and_independent_of_threads(base):
    ds = simulate(_cfg(base))
    r1, a = resample(ds, _obs(), target_ess=600, threads=1)
    r2, b = resample(ds, _obs(), target_ess=600, threads=2)
    for name in ("ancestor", "value_per_share", "observed_revenue", "justified_dcf"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert r1.resample == r2.resample


@needs_resimulate
def test_resample_stops_at_max_paths_and_says_so(base):
    ds = simulate(_cfg(base))
    r, new = resample(ds, _obs(), target_ess=1500, max_paths=P + B + 100)
    rs = r.resample
    assert rs["stopped_by"] == "max_paths" and rs["pooled_paths"] == P + B + 100 and rs["pooled_ess"] < 1500
    assert "max_paths" in r.warning and new.attrs["resample_stopped_by"] == "max_paths"


@needs_resimulate
def test_resample_an_updated_file_pools_on_every_figure(base):
    """On a file written by update --out, the pool is weighted on the earlier figure and the new one."""
    ds = simulate(_cfg(base))
    first = {"observations": [{"quantity": "revenue", "period": "2026", "value": 1100.0, "error": {"sd": 60.0}}]}
    up = updated_dataset(ds, update(ds, first))
    second = {"observations": [{"quantity": "revenue", "period": "2027", "value": 1200.0, "error": {"sd": 80.0}}]}
    r, new = resample(up, second, target_ess=300)
    both = {"observations": first["observations"] + second["observations"]}
    r_both, new_both = resample(ds, both, target_ess=300)
    np.testing.assert_array_equal(new["ancestor"].values, new_both["ancestor"].values)
    assert r.resample["earlier_observations"] == 1 and len(json.loads(new.attrs["update_observations"])) == 2
    assert r.resample["switch_step"] == 2 and r.resample["replayed_to"] == 2027  # 2027 ends at step 2
    with pytest.raises(InputError, match="already applied"):
        resample(up, first)
    # the resampled sample is updated on later figures like any run, and refuses those it already holds
    with pytest.raises(InputError, match="already applied"):
        update(new, first)
    later = update(new, {"observations": [{"quantity": "revenue", "period": "2028", "value": 1300.0,
                                           "error": {"sd": 100.0}}]})
    assert later.header["earlier_observations"] == 2 and 0 < later.ess < P


# --------------------------------------------------------------------------- CLI and bad input


@needs_resimulate
def test_cli_update_resample_writes_the_posterior_sample(base, tmp_path):
    run, out = tmp_path / "run.nc", tmp_path / "post.nc"
    ds = simulate(_cfg(base))
    save_results(ds, run)
    f = _obs_file(tmp_path)
    res = invoke("update", run, f, "--resample", "--target-ess", 500, "--out", out, "--json")
    assert res.exit_code == 0, res.output
    js = json.loads(res.output)
    direct, new = resample(ds, _obs(), target_ess=500)
    assert js["resample"] == json.loads(json.dumps(direct.resample))
    assert js["ess"] == pytest.approx(direct.ess)
    assert js["posterior"]["p_justified"]["dcf"]["estimate"] == pytest.approx(
        float(new["justified_dcf"].values.mean()))
    saved = open_results(out)
    np.testing.assert_array_equal(saved["ancestor"].values, new["ancestor"].values)
    np.testing.assert_array_equal(saved["value_per_share"].values, new["value_per_share"].values)
    assert saved.attrs["resample_generation"] == 1 and "weight" not in saved
    # the resampled file is a plain equally weighted run to `report`
    rep = invoke("report", out, "--json")
    assert rep.exit_code == 0, rep.output
    assert json.loads(rep.output)["p_justified"]["dcf"]["estimate"] == pytest.approx(
        float(new["justified_dcf"].values.mean()))
    text = invoke("update", run, f, "--resample", "--target-ess", 500)
    assert text.exit_code == 0, text.output
    assert "resampled (sequential Monte Carlo" in text.output and "distinct ancestors" in text.output
    # resampling it again is refused with the fix
    again = invoke("update", out, _obs_file(tmp_path, period="2027"), "--resample")
    assert again.exit_code == 2 and "already a resampled posterior" in again.output


def test_cli_resample_bad_input_exits_2_with_the_fix(base, tmp_path):
    run = tmp_path / "run.nc"
    save_results(simulate(_cfg(base)), run)
    f = _obs_file(tmp_path)
    for args, words in [
        (("--resample", "--target-ess", 0), ("target_ess = 0", "> 0", "e.g. target_ess = 20")),
        (("--resample", "--target-ess", -5), ("target_ess = -5", "> 0")),
        (("--resample", "--target-ess", "nan"), ("target_ess", "> 0")),
        (("--resample", "--max-paths", 100), ("max_paths = 100", f">= the run's {P:,} paths")),
        (("--resample", "--target-ess", 50_000), ("above max_paths = 40,000", "raise max_paths")),
        (("--target-ess", 500), ("go with --resample",)),
    ]:
        r = invoke("update", run, f, *args)
        assert r.exit_code == 2, (args, r.output)
        for w in words:
            assert w in r.output, (args, w, r.output)


def test_cli_resample_needs_observed_years(base, tmp_path):
    run = tmp_path / "run.nc"
    save_results(simulate(_cfg(base, observed_years=0)), run)
    r = invoke("update", run, _obs_file(tmp_path), "--resample")
    assert r.exit_code == 2 and "observed_years" in r.output and "re-run with simulation.observed_years > 0" in r.output
    with pytest.raises(InputError, match="observed fiscal years every run keeps"):
        resample(open_results(run), _obs())


def test_resample_refuses_periods_beyond_the_observed_years(base):
    base["simulation"]["observed_years"] = 1
    ds = simulate(_cfg(base, steps_per_year=2), keep_paths=True)
    for period, words in (("2026H1", "whole fiscal year"), ("2027", "simulation.observed_years = 1")):
        o = {"observations": [{"quantity": "revenue", "period": period, "value": 500.0, "error": {"sd": 50.0}}]}
        with pytest.raises(InputError, match="observations.0.period") as e:
            resample(ds, o)
        assert words in str(e.value)
