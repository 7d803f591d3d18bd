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
from engine.update import (ancestor_variance, reprice, resample, resampled_proportion, systematic_resample, update,
                           updated_dataset)

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


# --------------------------------------------------------------------------- standard errors from the ancestry


def _wilson(p, n, z=1.959963984540054):
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


def test_two_ancestors_by_hand():
    """10 paths, copies of two ancestors: 6 of ancestor 7 (3 justified), 4 of ancestor 9 (all justified).

    p = 7/10; group sums of (hit - p): 3 - 6 x 0.7 = -1.2 and 4 - 4 x 0.7 = +1.2;
    V = (1.44 + 1.44) / 10^2 = 0.0288; n_eff = 0.7 x 0.3 / 0.0288 = 7.2917 (< 10 paths).
    """
    anc = [7] * 6 + [9] * 4
    hit = [True, False, True, False, True, False] + [True] * 4
    assert ancestor_variance(hit, anc) == pytest.approx(0.0288, rel=1e-12)
    d = resampled_proportion(hit, anc, pooled_ess=1.9)
    assert d["estimate"] == pytest.approx(0.7)
    assert d["se"] == pytest.approx(math.sqrt(0.0288), rel=1e-12)  # = sqrt(p (1 - p) / n_eff)
    assert d["ess"] == pytest.approx(0.21 / 0.0288, rel=1e-12) and d["ess_from"] == "ancestors"
    lo, hi = _wilson(0.7, 0.21 / 0.0288)
    assert (d["ci95_low"], d["ci95_high"]) == (pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
    # counting the 10 paths as independent would claim a standard error of sqrt(0.21 / 10) = 0.145 < 0.170
    assert d["se"] > math.sqrt(0.21 / 10)
    # the labels do not matter, nor the order of the paths
    assert ancestor_variance(hit[::-1], [1] * 4 + [0] * 6) == pytest.approx(0.0288, rel=1e-12)
    # a mean: values 1, 2, 3 of ancestor 0, 10, 10 of ancestor 1: mean 26/5 = 5.2;
    # sums (6 - 15.6) = -9.6 and (20 - 10.4) = +9.6; V = 2 x 9.6^2 / 25 = 7.3728
    assert ancestor_variance([1.0, 2.0, 3.0, 10.0, 10.0], [0, 0, 0, 1, 1]) == pytest.approx(7.3728, rel=1e-12)


@settings(deadline=None, max_examples=100)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.integers(1, 6)), min_size=1, max_size=30))
def test_identical_copies_give_the_importance_sampling_variance(groups):
    """Copies equal to their ancestor: V = sum_a (n_a / P)^2 (x_a - xbar)^2, the self-normalised
    importance-sampling variance of weights n_a / P (Owen 2013, section 9.2)."""
    x = np.concatenate([[v] * n for v, n in groups])
    anc = np.concatenate([[i] * n for i, (_, n) in enumerate(groups)])
    w = np.array([n for _, n in groups]) / x.size
    xbar = x.mean()
    expect = float(np.sum(w**2 * (np.array([v for v, _ in groups]) - xbar) ** 2))
    assert ancestor_variance(x, anc) == pytest.approx(expect, rel=1e-9, abs=1e-9 * (1 + xbar * xbar))
    # every path its own ancestor: the plain variance of the mean, var / P
    assert ancestor_variance(x, np.arange(x.size)) == pytest.approx(x.var() / x.size, rel=1e-9, abs=1e-9)


def test_effective_n_is_capped_and_falls_back_on_the_pooled_ess():
    # one ancestor: V = 0 says nothing about the spread between ancestors; n = min(P, pooled ESS)
    d = resampled_proportion([True, False, True, True], [5, 5, 5, 5], pooled_ess=1.2)
    assert d["ess"] == 1.2 and d["ess_from"] == "pooled_ess" and d["se"] == pytest.approx(math.sqrt(0.1875 / 1.2))
    # no hit: the interval comes from min(P, pooled ESS) paths
    d = resampled_proportion([False] * 8, [0, 0, 1, 1, 2, 2, 3, 3], pooled_ess=50.0)
    assert d["estimate"] == 0 and d["ess"] == 8 and d["ci95_high"] == pytest.approx(_wilson(0.0, 8)[1])
    # copies that disagree inside each ancestor (V below the binomial p (1 - p) / P): at most the P paths
    hit = [True, False, False, True, False, True, False, False]
    anc = [0, 0, 1, 1, 2, 2, 3, 3]
    assert 0 < ancestor_variance(hit, anc) < 0.375 * 0.625 / 8
    d = resampled_proportion(hit, anc, pooled_ess=3.0)
    assert d["ess"] == 8 and d["ess_from"] == "ancestors"
    with pytest.raises(InputError, match="same length"):
        ancestor_variance([1.0, 2.0], [0])
    with pytest.raises(InputError, match="finite"):
        ancestor_variance([1.0, np.nan], [0, 1])


def test_one_ancestor_or_equal_shares_fall_back_on_the_pooled_ess_despite_rounding():
    # 3 hits in 2,000 copies of one ancestor: p = 0.0015 is not a binary fraction, so the deviations summed in
    # floats leave ~1e-16, whose square made V > 0 and the effective n the 2,000 paths (a 2,000-path interval
    # from a pooled ESS of 1)
    hit = np.zeros(2000, dtype=bool)
    hit[[5, 70, 900]] = True
    assert ancestor_variance(hit, np.zeros(2000, dtype=np.int64)) == 0.0
    d = resampled_proportion(hit, np.zeros(2000, dtype=np.int64), pooled_ess=1.0)
    assert d["ess"] == 1.0 and d["ess_from"] == "pooled_ess"
    assert d["se"] == pytest.approx(math.sqrt(0.0015 * 0.9985))
    # two ancestors whose copies hit at the same share (3 in 1,000 each): V = 0 exactly, not rounding residue
    anc = np.repeat([7, 9], 1000)
    two = np.zeros(2000, dtype=bool)
    two[[1, 2, 3, 1001, 1002, 1003]] = True
    assert ancestor_variance(two, anc) == 0.0
    assert resampled_proportion(two, anc, pooled_ess=2.0)["ess"] == 2.0
    # unequal shares (3 and 2 in 1,000): sums -0.5 and 0.5, V = 2 x 0.25 / 2000^2, exactly
    two[1003] = False
    assert ancestor_variance(two, anc) == 0.5 / 2000**2
    # a float variable of one ancestor (the mean value per share): V = 0, not the square of rounding
    x = np.random.default_rng(1).normal(3e5, 1e4, 2000)
    assert ancestor_variance(x, np.zeros(2000, dtype=np.int64)) == 0.0


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
    # errors of the equally weighted sample from its ancestry, not from P independent paths
    anc = new["ancestor"].values
    for lens in ("dcf", "market"):
        got = rr.posterior["p_justified"][lens]
        want = resampled_proportion(new[f"justified_{lens}"].values, anc, rs["pooled_ess"])
        assert got == want and got["ess"] <= P
    v = new["value_per_share"].values
    vps = rr.posterior["value_per_share"]
    n_mean = min(P, v.var() / ancestor_variance(v, anc))
    assert vps["n_eff"] == pytest.approx(n_mean) and vps["se_mean"] == pytest.approx(v.std() / math.sqrt(n_mean))
    assert vps["se_mean"] >= v.std() / math.sqrt(P) * (1 - 1e-12) and rr.posterior["ess"] == rs["pooled_ess"]
    # revenue of the reported year is the ancestor's, shared by its copies: the effective n of its mean is well
    # below P (about 1,400 of 2,000 here, pooled ESS 1,028); the value, which the fresh shocks move, keeps more
    y1 = new["observed_revenue"].values[:, 0, 0]
    assert y1.var() / ancestor_variance(y1, anc) < 0.8 * P < vps["n_eff"]
    # `report POST.nc --price` reads the same ancestry
    rp = reprice(new, float(new.attrs["price"]))
    assert rp["resampled"] and not reprice(ds, float(ds.attrs["price"]))["resampled"]
    for lens in ("dcf", "market"):
        assert rp["p_justified"][lens]["se"] == pytest.approx(rr.posterior["p_justified"][lens]["se"])
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
    rj = json.loads(rep.output)
    assert rj["p_justified"]["dcf"]["estimate"] == pytest.approx(float(new["justified_dcf"].values.mean()))
    # ... whose errors come from the ancestry, as `update --resample` prints them, not from P independent paths
    for lens in ("dcf", "market"):
        want = resampled_proportion(new[f"justified_{lens}"].values, new["ancestor"].values,
                                    float(new.attrs["update_ess"]))
        got = rj["p_justified"][lens]
        assert got["ci95_high"] == pytest.approx(want["ci95_high"])
        assert got["wilson_half_width"] == pytest.approx((want["ci95_high"] - want["ci95_low"]) / 2)
        assert got["hits"] == int(np.count_nonzero(new[f"justified_{lens}"].values))
        assert rj["resampled"]["n_eff_p_justified"][lens] == pytest.approx(want["ess"])
    assert "effective size from the paths' ancestry" in invoke("report", out).output
    v = rj["value_per_share"]
    assert v["se_mean"] == pytest.approx(v["sd"] / math.sqrt(v["n_eff"]))
    # the same effective size as update's, n_eff = sd^2 / V: its sd divides by P, the report's by P - 1, so the
    # report's is P / (P - 1) times update's where neither is capped at P
    assert v["n_eff"] == pytest.approx(min(P, js["posterior"]["value_per_share"]["n_eff"] * P / (P - 1)))
    assert rj["value_per_share"]["se_mean"] >= rj["value_per_share"]["sd"] / math.sqrt(P) * (1 - 1e-12)  # n_eff <= P
    assert rj["resampled"]["n_eff_p_justified"]["market"] <= P
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
