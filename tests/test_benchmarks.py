"""The benchmark harness runs (tiny sizes), and its numpy reference agrees with the engine.

No timings are asserted here: speed claims live in benchmarks/RESULTS.md as ratios.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.numpy_ref import simulate_numpy
from benchmarks.standard import standard_config
from engine.simulate import simulate

HEADLINE_KEYS = [
    "engine_path_steps_per_s",
    "numpy_path_steps_per_s",
    "floor_normals_per_s",
    "speedup_vs_numpy",
    "ratio_to_floor",
    "thread_scaling",
    "peak_rss_mb",
    "cold_start_s",
    "warm_run_1e5_s",
]


def test_numpy_reference_matches_engine_in_distribution():
    """Mean and quantiles of value per share within a few standard errors (independent draws)."""
    n = 20_000
    cfg = standard_config()
    eng = simulate(cfg, paths=n, seed=11, threads=1).value_per_share.values
    ref = simulate_numpy(cfg, n, seed=12)["value_per_share"]
    assert np.isfinite(ref).all() and np.isfinite(eng).all()
    se_mean = np.sqrt(eng.var() / n + ref.var() / n)
    assert abs(eng.mean() - ref.mean()) < 4 * se_mean
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        # standard error of a sample quantile: sqrt(q (1 - q) / n) / density at the quantile,
        # the density estimated from the engine's sample over a +-2.5% probability window
        lo, hi = np.quantile(eng, [max(q - 0.025, 0.0), min(q + 0.025, 1.0)])
        dens = 0.05 / (hi - lo)
        se_q = np.sqrt(2 * q * (1 - q) / n) / dens
        assert abs(np.quantile(eng, q) - np.quantile(ref, q)) < 4 * se_q, q


def test_numpy_reference_deterministic_case_matches_engine():
    """With every input fixed and no noise the reference reproduces the engine to rounding."""
    from engine.config import config_from_dict

    from benchmarks.standard import standard_dict

    d = standard_dict()
    seg = d["segments"][0]
    seg["growth"].update(long_run=0.05, volatility=0.0)
    seg["churn"]["dispersion"] = 0.0
    d["margin"].update(target=0.20, noise_sd=0.0)
    d["reinvestment"]["sales_to_capital"] = 2.0
    d["multiple"].update(mature=3.0, volatility=0.0)
    cfg = config_from_dict(d)
    eng = simulate(cfg, paths=8, threads=1)
    ref = simulate_numpy(cfg, 8, seed=0)
    for k in ("value_per_share", "pv_explicit", "pv_terminal", "revenue_horizon", "price_horizon"):
        np.testing.assert_allclose(ref[k], eng[k].values, rtol=1e-10, err_msg=k)


@pytest.mark.slow
def test_harness_runs_at_tiny_size():
    from benchmarks import format_table, run_benchmarks

    res = run_benchmarks(sizes=[2000], models=["standard"], keep_paths=False, repeats=1,
                         cold=True, cold_paths=200, warm_paths=500)
    for key in HEADLINE_KEYS:
        assert key in res, key
    assert res["engine_path_steps_per_s"] > 0
    assert res["ratio_to_floor"] > 0
    assert res["thread_scaling"]["threads"] == [1, 2]
    assert res["peak_rss_mb"]["standard/summary"]["2000"] > 0
    assert set(res["targets"]) >= {"speedup_vs_numpy", "ratio_to_floor", "cold_start_s", "warm_run_1e5_s"}
    assert "| standard | summary | 2,000 |" in format_table(res)


def test_cli_entry_point_parses():
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
