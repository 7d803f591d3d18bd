"""The engine outside the kernel: reused theta buffers, runs into plain arrays, a report without xarray."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from engine import load_config, simulate
from engine._assemble import OUT_ROWS
from engine._plan import ParameterTable, Plan, to_cash_flow_currency
from engine._run import BufferPool, compute_block, theta_pool
from engine.errors import InputError, InternalError
from engine.simulate import simulate_arrays
from engine.summary import REPORT_VARIABLES, summary_dict
from engine.variables import PATH_VARIABLES

from .conftest import CONFIGS, ROOT


@pytest.fixture(scope="module")
def zhipu():
    cfg = load_config(CONFIGS / "zhipu.toml")
    # blocks of 1,000 paths: a run reuses its theta buffers from the second block on
    return cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"block_size": 1000})})


@pytest.fixture(scope="module")
def zhipu_ds(zhipu):
    return simulate(zhipu, paths=4500, threads=2)


def _same(a, b, name):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), name


def test_buffer_pool_reuses_what_is_given_back():
    made = []
    pool = BufferPool(lambda: made.append(1) or len(made))
    a = pool.take()
    b = pool.take()
    assert (a, b) == (1, 2)
    pool.give(a)
    assert pool.take() == 1 and len(made) == 2


def test_reused_theta_buffer_gives_fresh_theta_bits(zhipu):
    """A reused, already filled buffer (fixed columns written once, the rate-parity column reset) = a fresh theta."""
    plan = Plan(zhipu, ParameterTable(zhipu))
    assert plan.reset_columns  # Zhipu has a fixed rate in HKD: converted in place in every block
    buf = theta_pool(plan).take()
    for b, n in ((0, 1000), (1, 1000), (4, 500)):
        fresh, d_fresh = plan.theta(b, n)
        to_cash_flow_currency(zhipu, plan.table, fresh)
        got, d_got = plan.theta(b, n, out=buf["theta"], out_filled=buf["filled"])
        buf["filled"] = True
        assert np.shares_memory(got, buf["theta"])
        to_cash_flow_currency(zhipu, plan.table, got)  # as fill_block does: the next block must undo it
        _same(got, fresh, f"theta of block {b}")
        _same(d_got, d_fresh, f"draws of block {b}")


def test_theta_buffer_of_the_wrong_shape_is_an_internal_error(zhipu):
    plan = Plan(zhipu, ParameterTable(zhipu))
    with pytest.raises(InternalError, match="theta buffer of shape"):
        plan.theta(0, 1000, out=np.empty((999, len(plan.table.specs))))


def test_run_with_reused_buffers_equals_blocks_computed_alone(zhipu, zhipu_ds):
    """simulate (pooled theta buffers, 2 threads) = each block computed on its own with fresh arrays."""
    cfg = zhipu.with_inputs({"simulation.paths": 4500})
    toml = cfg.to_toml()
    params = [v for v in zhipu_ds.data_vars if str(v).startswith("param_")]  # in table.drawn order
    assert len(params) == len(ParameterTable(cfg).drawn)
    for b in range(5):
        r = compute_block(toml, b)
        lo, hi = r["lo"], r["hi"]
        for name in ("value_per_share", "pv_terminal", "revenue_cagr"):
            _same(zhipu_ds[name].values[lo:hi], r["out"][OUT_ROWS[name]], f"{name} of block {b}")
        for j, name in enumerate(params):
            _same(zhipu_ds[name].values[lo:hi], r["draws"][j], f"{name} of block {b}")


@pytest.mark.parametrize("variables", [None, REPORT_VARIABLES, ("value_per_share",)])
def test_simulate_arrays_holds_the_bits_of_simulate(zhipu, zhipu_ds, variables):
    run = simulate_arrays(zhipu, paths=4500, threads=2, variables=variables)
    assert run.sizes == {"path": 4500}
    assert set(run.data_vars) == {v for v in zhipu_ds.data_vars if not str(v).startswith("observed_")}
    kept = [v for v in run.data_vars if run.kept(v)]
    assert "value_per_share" in kept and "justified_dcf" in kept
    if variables is None:
        assert kept == list(run.data_vars)
    if variables == ("value_per_share",):
        assert not any(str(v).startswith("param_") for v in kept)
        assert not run.kept("revenue_cagr") and "revenue_cagr" in run
    for name in kept:
        _same(run[name].values, zhipu_ds[name].values, name)
        assert run[name].attrs == zhipu_ds[name].attrs, name
    for k, v in zhipu_ds.attrs.items():
        if k not in ("created", "elapsed_s", "history"):
            assert run.attrs[k] == v, k


def test_variable_not_kept_fails_loudly(zhipu):
    run = simulate_arrays(zhipu, paths=100, threads=1, variables=("value_per_share",))
    with pytest.raises(InternalError, match="'equity_value' was not kept"):
        run["equity_value"]
    with pytest.raises(KeyError):
        run["no_such_variable"]
    with pytest.raises(InputError, match="'no_such_variable' not a per-path variable"):
        simulate_arrays(zhipu, paths=100, variables=("no_such_variable",))


def test_report_of_the_arrays_is_the_report_of_the_dataset(zhipu, zhipu_ds):
    """The report (must-believe table and cash and funding included) from REPORT_VARIABLES alone, bit for bit."""
    run = simulate_arrays(zhipu, paths=4500, threads=2, variables=REPORT_VARIABLES)
    assert len([v for v in PATH_VARIABLES if run.kept(v.name)]) == 14 + 7  # the floats the report reads + flags
    a, b = summary_dict(zhipu_ds), summary_dict(run)
    a.pop("elapsed_s"), b.pop("elapsed_s")
    assert json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def test_run_without_out_imports_no_xarray(tmp_path):
    """`pricedin run CONFIG` that saves nothing reports from the arrays: xarray (and pandas) stay unimported."""
    code = ("import sys, json\n"
            "from click.testing import CliRunner\n"
            "from engine.cli import main\n"
            f"r = CliRunner().invoke(main, ['run', {str(CONFIGS / 'zhipu.toml')!r}, '--paths', '2000', '--json'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(json.dumps({'xarray': 'xarray' in sys.modules, 'pandas': 'pandas' in sys.modules,\n"
            "                  'paths': json.loads(r.output)['paths']}))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1]) == {"xarray": False, "pandas": False, "paths": 2000}


@settings(max_examples=60, deadline=None)
@given(lo=st.floats(-1e6, 1e6), width=st.floats(1e-6, 1e6), frac=st.floats(0.0, 1.0), kind=st.sampled_from(
    ["uniform", "triangular"]), seed=st.integers(0, 2**32 - 1))
def test_closed_form_quantiles_are_scipys_bits(lo, width, frac, kind, seed):
    """The uniform and triangular quantiles of sample_parameters = the frozen scipy ppf (+ clip), bit for bit."""
    from engine.distributions import parse_param
    from engine.sampling import _closed_form_ppf

    hi = lo + width
    if not hi > lo:
        return
    d = {"kind": kind, "min": lo, "max": hi}
    if kind == "triangular":
        d["mode"] = min(hi, max(lo, lo + frac * width))
    spec = parse_param(d)
    u = np.random.default_rng(seed).random(2000)
    u[:4] = [2.0**-54, 1 - 2.0**-53, frac if 0 < frac < 1 else 0.5, 0.5]  # the ends draw_uniforms allows, the mode
    got = np.empty_like(u)
    assert _closed_form_ppf(spec, u, got)
    _same(got, spec.sample_ppf(u), f"{kind} quantiles")


def test_other_kinds_keep_their_own_quantile_function():
    from engine.distributions import parse_param
    from engine.sampling import _closed_form_ppf

    out = np.zeros(3)
    assert not _closed_form_ppf(parse_param({"kind": "pert", "min": 0, "mode": 1, "max": 3}),
                                np.full(3, 0.5), out)
    assert not out.any()


def test_memory_estimate_of_a_run_into_arrays(zhipu):
    """simulate_arrays is estimated for what it keeps: 14 floats of the report, no observed years."""
    from engine._plan import run_memory
    from engine.model import layout as L

    nd = len(ParameterTable(zhipu).drawn)
    full = run_memory(zhipu, 1_000_000, threads=2)
    lean = run_memory(zhipu, 1_000_000, threads=2, floats=14, observed=False)
    assert lean["observed"] == 0 and full["observed"] == 1_000_000 * 3 * (3 + len(zhipu.segments)) * 8
    assert full["per_path"] - lean["per_path"] == 8 * (L.NO - 14)
    assert lean["per_path"] == 8 * (14 + nd) + L.NL + 128
    # measured (standard model, 4 drawn inputs, 2 threads, ru_maxrss): 152 bytes a path from 1e6 to 1e7 paths,
    # 2,001 MiB at 1e7 with the report: the estimate covers it (conservatively: its 128 bytes a path of
    # overhead were fitted on Datasets; the arrays' report needed about 25)
    from benchmarks.standard import standard_config

    std = standard_config()
    est = run_memory(std, 10_000_000, threads=2, floats=14, observed=False)
    assert 2001 * 2**20 < est["total"] < 1.8 * 2001 * 2**20


def test_simulate_arrays_is_refused_over_the_memory_limit(zhipu):
    from engine._plan import MemoryLimitError, run_memory

    need = run_memory(zhipu, 1_000_000, threads=2, floats=14, observed=False)["total"]
    with pytest.raises(MemoryLimitError, match="lower `paths`"):
        simulate_arrays(zhipu, paths=1_000_000, threads=2, variables=REPORT_VARIABLES, memory_limit=need - 1)


def test_one_blas_thread_limits_and_restores():
    """Inside a run's context every BLAS library has one thread; a context opened and closed by a block's
    worker thread meanwhile leaves the limit on; the last one out restores the previous limits."""
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")
    from engine._blas import one_blas_thread

    def blas():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas()
    if not before:
        pytest.skip("no BLAS library loaded")
    with one_blas_thread():
        assert set(blas()) == {1}

        def nested():
            with one_blas_thread():
                pass

        t = threading.Thread(target=nested)
        t.start()
        t.join(60)
        assert set(blas()) == {1}  # the inner context's exit did not restore the limits
    assert blas() == before


def test_runs_inside_one_blas_thread_give_the_same_bits(zhipu, zhipu_ds):
    """The copula's product on one BLAS thread (the run) = on the default threads (resimulate's own theta)."""
    from engine._run import resimulate

    plan = Plan(zhipu, ParameterTable(zhipu))
    theta = np.concatenate([plan.theta(b, 1000)[0] for b in range(2)])  # outside any run: BLAS as configured
    r = resimulate(plan, theta, np.arange(2000))
    _same(r["out"][OUT_ROWS["value_per_share"]], zhipu_ds["value_per_share"].values[:2000], "value_per_share")


def test_benchmark_case_of_a_run_into_arrays():
    """benchmarks.one --arrays measures what `pricedin run` without --out runs, at a tiny size."""
    from benchmarks.one import measure

    r = measure("standard", 2000, False, [1, 2], 1, False, False, arrays=True)
    assert r["mode"] == "report_arrays" and r["paths"] == 2000
    assert set(r["engine_s"]) == {"1", "2"} and all(v > 0 for v in r["engine_s"].values())
    assert r["peak_rss_mb"] >= r["base_rss_mb"] > 0


@pytest.mark.parametrize("name", ["ai_peer.toml", "zhipu.toml"])
def test_run_without_out_gives_the_implied_cost_of_capital_of_a_saved_run(name, tmp_path):
    """`pricedin run` without --out reports from plain arrays and reuses them for the implied cost of capital's
    unshifted evaluation: the same root (ai_peer has one, Zhipu none in range) as a run saved to a file."""
    from click.testing import CliRunner

    from engine.cli import main

    def implied(*extra):
        r = CliRunner().invoke(main, ["run", str(CONFIGS / name), "--paths", "1500", "--json", *extra])
        assert r.exit_code == 0, r.output
        return json.loads(r.output[r.output.index("{"):])["implied_cost_of_capital"]

    plain, saved = implied(), implied("--out", str(tmp_path / "run.nc"))
    assert plain["draws_reused"] and saved["draws_reused"]
    for key in ("rate", "shift", "mean_value_check", "mean_value_at_bracket", "note", "evaluations"):
        assert plain[key] == saved[key], key
    assert (plain["rate"] is not None) == (name == "ai_peer.toml")
