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
    "version_s",
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

    cfg = config_from_dict(_deterministic_dict())
    eng = simulate(cfg, paths=8, threads=1)
    ref = simulate_numpy(cfg, 8, seed=0)
    for k in ("value_per_share", "pv_explicit", "pv_terminal", "revenue_horizon", "price_horizon"):
        np.testing.assert_allclose(ref[k], eng[k].values, rtol=1e-10, err_msg=k)


@pytest.mark.slow
def test_harness_runs_at_tiny_size():
    from benchmarks import format_table, run_benchmarks

    res = run_benchmarks(sizes=[2000], models=["standard"], keep_paths=False, repeats=1,
                         cold=True, cold_paths=200, warm_paths=500, monaco_paths=300, split_runs=1)
    for key in HEADLINE_KEYS:
        assert key in res, key
    assert res["engine_path_steps_per_s"] > 0
    assert res["ratio_to_floor"] > 0
    assert res["thread_scaling"]["threads"] == [1, 2]
    assert res["peak_rss_mb"]["standard/summary"]["2000"] > 0
    assert set(res["targets"]) >= {"speedup_vs_numpy", "ratio_to_floor", "cold_start_s", "warm_run_1e5_s",
                                   "version_s"}
    st = res["startup"]
    assert 0 < st["version_best_s"] <= st["version_s"] and 0 < st["help_best_s"] <= st["help_s"]
    sp = res["startup_split"]
    assert sp["paths"] == 500 and sp["runs"] == 1 and sp["phases"]["simulate"] > 0
    table = format_table(res)
    assert "| standard | summary | 2,000 |" in table and "--version" in table
    assert "--paths 500` phase by phase" in table and "import_xarray" in table
    from benchmarks.monaco_ref import monaco_available

    if monaco_available():
        m = res["monaco"]
        assert m["paths"] == 300 and m["cases_per_s"] > 0 and m["engine_paths"] == 2000
        assert res["speedup_vs_monaco"] == pytest.approx(m["engine_paths_per_s"] / m["cases_per_s"])
        assert "speedup vs monaco" in table
    else:
        assert "speedup_vs_monaco" not in res and "not installed" in res["monaco"]["skipped"]


def _deterministic_dict():
    from benchmarks.standard import standard_dict

    d = standard_dict()
    seg = d["segments"][0]
    seg["growth"].update(long_run=0.05, volatility=0.0)
    seg["churn"]["dispersion"] = 0.0
    d["margin"].update(target=0.20, noise_sd=0.0)
    d["reinvestment"]["sales_to_capital"] = 2.0
    d["multiple"].update(mature=3.0, volatility=0.0)
    return d


def test_monaco_port_deterministic_case_matches_numpy_reference():
    """The per-case Python function of the monaco benchmark: with no noise, the numpy reference's value."""
    import random

    from benchmarks.monaco_ref import StandardCase
    from engine.config import config_from_dict

    for mid_year in (False, True):
        d = _deterministic_dict()
        d["cost_of_capital"]["mid_year"] = mid_year
        cfg = config_from_dict(d)
        case = StandardCase(cfg)
        assert case.drawn == {}
        ref = simulate_numpy(cfg, 2, seed=0)["value_per_share"]
        got = case.value(dict(case.fixed), random.Random(5))
        assert got == pytest.approx(float(ref[0]), rel=1e-12)
    # the drawn inputs of the standard model become scipy.stats input variables with the config's ranges
    case = StandardCase(standard_config())
    assert set(case.drawn) == {"growth.long_run", "margin.target", "reinvestment.sales_to_capital",
                               "multiple.mature"}
    dist, kw = case.drawn["reinvestment.sales_to_capital"]
    assert dist(**kw).ppf(0.0) == pytest.approx(1.5) and dist(**kw).ppf(1.0) == pytest.approx(2.5)
    assert dist(**kw).median() == pytest.approx(2.0)  # symmetric triangle: the mode
    dist, kw = case.drawn["margin.target"]
    assert dist(**kw).mean() == pytest.approx((0.15 + 4 * 0.20 + 0.25) / 6)  # PERT mean (min + 4 mode + max) / 6


def test_monaco_port_refuses_what_it_does_not_model():
    from benchmarks.monaco_ref import StandardCase
    from engine.config import config_from_dict

    d = _deterministic_dict()
    d["failure"] = {"annual_probability": 0.02}
    with pytest.raises(NotImplementedError, match="failure"):
        StandardCase(config_from_dict(d))


def test_cli_entry_point_parses():
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0


# ------------------------------------------------------------------ start-up: import only what a command needs

HEAVY = ("numpy", "scipy", "xarray", "numba", "matplotlib", "rich", "pydantic", "pandas", "dask")


def _modules_after(code: str) -> set:
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def test_cli_import_and_version_load_no_heavy_library():
    """`pricedin --version` / `--help` import click and the CLI module only (PEP 562 lazy package)."""
    for code in ("import engine.cli",
                 "from engine.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit as e:\n"
                 "    assert e.code == 0",
                 "from engine.cli import main\ntry:\n    main(['run', '--help'])\nexcept SystemExit as e:\n"
                 "    assert e.code == 0"):
        mods = _modules_after(code)
        loaded = sorted(m for m in mods if m.split(".")[0] in HEAVY)
        assert not loaded, (code, loaded[:10])
        assert "engine.views.figures" not in mods and "engine.config" not in mods
    mods = _modules_after("import engine")
    assert not [m for m in mods if m.split(".")[0] in HEAVY]


def test_config_path_imports_no_kernel_and_no_xarray():
    """Reading a config (``pricedin validate``, ``schema``) needs neither numba, xarray nor dask; and
    ``import engine.config`` alone does not import scipy.stats (its ~0.5 s import is paid on first use)."""
    from pathlib import Path

    zhipu = str(Path(__file__).resolve().parents[1] / "configs" / "zhipu.toml")
    mods = _modules_after("import engine.config")
    assert "scipy.stats" not in mods and "engine.distributions" in mods
    for code in (f"from engine.cli import main\ntry:\n    main(['validate', {zhipu!r}])\n"
                 "except SystemExit as e:\n    assert e.code == 0",
                 "from engine.cli import main\ntry:\n    main(['schema'])\nexcept SystemExit as e:\n"
                 "    assert e.code == 0"):
        mods = _modules_after(code)
        loaded = sorted(m for m in mods if m.split(".")[0] in ("numba", "llvmlite", "xarray", "pandas", "dask",
                                                               "matplotlib"))
        assert not loaded, (code, loaded[:10])
        assert "engine.config" in mods and "engine.model.kernel" not in mods
        assert ("scipy.stats" in mods) == ("validate" in code)  # zhipu's quantile checks need it; the schema not


def test_startup_split_phases_add_up_in_a_fresh_process():
    """benchmarks.startup times the phases of a run; they add up to its total, and the process ends
    with what a run needs (no timing is asserted)."""
    import json
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "benchmarks.startup", "--paths", "300"], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    d = json.loads(p.stdout.strip().splitlines()[-1])
    assert d["paths"] == 300 and list(d["phases"]) == [
        "import_cli", "import_config", "load_config", "import_kernel", "import_xarray", "first_dataset",
        "pinv_tables", "kernel_load", "simulate", "summary", "implied", "render"]
    assert all(v >= 0 for v in d["phases"].values())
    assert sum(d["phases"].values()) == pytest.approx(d["total_s"], rel=1e-9)
    assert list(d["cpu_phases"]) == list(d["phases"]) and all(v >= 0 for v in d["cpu_phases"].values())
    assert sum(d["cpu_phases"].values()) == pytest.approx(d["cpu_s"], rel=1e-9)
    assert d["modules"]["numba"] and not d["modules"]["matplotlib"]
    # a run that saves nothing reports from the run's arrays: no xarray, its phases empty
    assert not d["modules"]["xarray"] and not d["modules"]["pandas"]
    assert d["phases"]["import_xarray"] < 1e-3 and d["phases"]["first_dataset"] < 1e-3


def test_startup_command_times_the_command_in_fresh_processes():
    """benchmarks.startup --command runs the real command (and a bare interpreter) and reports the best times."""
    from benchmarks.startup import command

    d = command(paths=64, runs=1)
    assert d["paths"] == 64 and d["runs"] == 1 and d["config"].endswith("zhipu.toml")
    assert d["command_s"] > d["python_s"] > 0 and d["command_cpu_s"] > 0


def test_lazy_api_names_resolve_and_the_functions_shadow_their_modules():
    import importlib
    import importlib.metadata
    import subprocess
    import sys

    import engine
    import engine.sampling
    from engine.cli import MAX_SEED

    assert MAX_SEED == engine.sampling.MAX_SEED  # the CLI writes the bound out to start without numpy
    # a submodule imported before the API name is read does not replace the function of the same name
    code = ("import importlib, engine\n"
            "for m in ('simulate', 'implied', 'sensitivity'): importlib.import_module('engine.' + m)\n"
            "from engine import simulate, implied, sensitivity\n"
            "assert callable(simulate) and callable(implied) and callable(sensitivity)\n"
            "assert engine.simulate is simulate and engine.implied.__module__ == 'engine.implied'\n"
            "assert engine.sensitivity.__module__ == 'engine.sensitivity'\n"
            "assert engine.plot.__name__ == 'engine.views.figures'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    assert engine.summarize is importlib.import_module("engine.summary").summary_dataset
    assert engine.__version__ == importlib.metadata.version("pricedin")
    with pytest.raises(AttributeError, match="no_such_name"):
        engine.no_such_name  # noqa: B018
