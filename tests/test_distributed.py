"""Distributed runs: a block is a task, so threads, a LocalCluster and a resumed Zarr run give the same bits."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from engine import load_config, simulate, summary_dict as summarize
from engine.cli import main
from engine.simulate import compute_block

from .conftest import CONFIGS

ZHIPU = str(CONFIGS / "zhipu.toml")
PATHS = 12_000
BLOCK = 2_000

HAVE_DASK = all(importlib.util.find_spec(m) is not None for m in ("dask", "distributed", "zarr"))
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="dask[distributed] and zarr are not installed")


def small_cfg(paths=PATHS, block=BLOCK, seed=None):
    cfg = load_config(ZHIPU)
    upd = {"paths": paths, "block_size": block}
    if seed is not None:
        upd["seed"] = seed
    return cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update=upd)})


def assert_same_paths(a, b):
    """Bit-identical per-path results: same variables, dtypes and bits (NaN where NaN)."""
    assert set(a.data_vars) == set(b.data_vars)
    assert a.sizes["path"] == b.sizes["path"]
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        assert x.dtype == y.dtype, name
        if x.dtype.kind == "f":
            assert np.array_equal(x.view(np.int64), y.view(np.int64)), name  # bits, NaN payloads included
        else:
            assert np.array_equal(x, y), name


def report(ds) -> dict:
    s = summarize(ds)
    s.pop("elapsed_s")
    return s


@pytest.fixture(scope="module")
def cfg():
    return small_cfg()


@pytest.fixture(scope="module")
def reference(cfg):
    """The in-process run (threads) of the small config."""
    return simulate(cfg, threads=2)


@pytest.fixture(scope="module")
def client():
    """One LocalCluster of 2 worker processes (1 thread each) shared by the tests of this module."""
    if not HAVE_DASK:
        pytest.skip("dask[distributed] and zarr are not installed")
    import logging

    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


# ----------------------------------------------------------------------------- the block function


def test_compute_block_equals_the_blocks_of_simulate(cfg, reference):
    toml = cfg.to_toml()
    last = math.ceil(PATHS / BLOCK) - 1
    for b in (0, 3, last):
        r = compute_block(toml, b)
        lo, hi = r["lo"], r["hi"]
        assert (lo, hi) == (b * BLOCK, min(PATHS, (b + 1) * BLOCK))
        assert np.array_equal(r["out"][0], reference["value_per_share"].values[lo:hi])
        assert np.array_equal(r["flags"][0].view(bool), reference["failed"].values[lo:hi])
    with pytest.raises(ValueError, match="outside"):
        compute_block(toml, last + 1)


def test_block_function_is_picklable():
    import pickle

    assert pickle.loads(pickle.dumps(compute_block)) is compute_block


def test_run_blocks_on_threads_equals_simulate(cfg, reference):
    from engine.distributed import run_blocks

    ds = run_blocks(cfg, threads=2)
    assert_same_paths(reference, ds)
    np.testing.assert_equal(report(ds), report(reference))  # NaN (the se of a zero share) equals NaN


# ----------------------------------------------------------------------------- scheduler values


def test_parse_scheduler():
    from engine.distributed import parse_scheduler

    assert parse_scheduler(None) == ("threads", None)
    assert parse_scheduler("local:2") == ("local", 2)
    assert parse_scheduler("tcp://10.0.0.5:8786") == ("address", "tcp://10.0.0.5:8786")
    assert parse_scheduler("scheduler-host:8786") == ("address", "scheduler-host:8786")
    for bad in ("local:0", "local", "local:x", "bogus", "tcp://"):
        with pytest.raises(ValueError, match="--scheduler"):
            parse_scheduler(bad)
    import os

    from engine.distributed import MAX_LOCAL_PER_CORE

    most = MAX_LOCAL_PER_CORE * (os.cpu_count() or 1)
    assert parse_scheduler(f"local:{most}") == ("local", most)
    with pytest.raises(ValueError, match=f"give at most local:{most}"):
        parse_scheduler(f"local:{most + 1}")


# ----------------------------------------------------------------------------- LocalCluster


@needs_dask
@pytest.mark.slow
def test_local_cluster_is_bit_identical_to_threads(cfg, reference, client):
    from engine.distributed import run_blocks

    ds = run_blocks(cfg, scheduler=client)
    assert_same_paths(reference, ds)
    np.testing.assert_equal(report(ds), report(reference))  # NaN equals NaN
    assert ds.attrs["config_sha256"] == reference.attrs["config_sha256"]


@needs_dask
@pytest.mark.slow
def test_zarr_store_threads_cluster_and_report_identical(cfg, reference, client, tmp_path):
    from engine.distributed import open_store, run_blocks, summarize_store

    a = run_blocks(cfg, threads=2, store=tmp_path / "threads.zarr")
    b = run_blocks(cfg, scheduler=client, store=tmp_path / "cluster.zarr")
    for p in (a, b):
        ds = open_store(p)
        assert_same_paths(reference, ds)
        s = summarize_store(p)
        s.pop("elapsed_s")
        np.testing.assert_equal(s, report(reference))  # NaN equals NaN
    # chunked along path by block
    lazy = open_store(a, load=False)
    assert lazy["value_per_share"].chunks == ((BLOCK,) * (PATHS // BLOCK),)


@needs_dask
@pytest.mark.slow
def test_killed_run_resumed_equals_uninterrupted(cfg, reference, client, tmp_path):
    from engine.distributed import open_store, run_blocks, store_status

    store = tmp_path / "run.zarr"
    run_blocks(cfg, scheduler=client, store=store, max_blocks=2)  # stops as a killed run would
    st = store_status(store)
    assert st["done"] == 2 and not st["complete"]
    with pytest.raises(ValueError, match="--resume"):
        open_store(store)
    with pytest.raises(ValueError, match="already exists"):
        run_blocks(cfg, scheduler=client, store=store)
    seen = []
    run_blocks(cfg, scheduler=client, store=store, resume=True, progress=lambda d, t: seen.append(d))
    assert seen[0] == 2 * BLOCK and seen[-1] == PATHS and len(seen) == 1 + math.ceil(PATHS / BLOCK) - 2
    assert store_status(store)["complete"]
    assert_same_paths(reference, open_store(store))


@needs_dask
@pytest.mark.slow
def test_sigkilled_process_resumed_equals_uninterrupted(tmp_path):
    """`pricedin run --out run.zarr` killed with SIGKILL mid-run, then `--resume`: the store equals the in-process run."""
    import signal
    import subprocess
    import sys
    import time

    from engine.distributed import open_store, store_status

    cfg = small_cfg(paths=15_000, block=250)  # 60 blocks: several seconds of block-by-block writes
    conf = tmp_path / "k.toml"
    conf.write_text(cfg.to_toml())
    store = tmp_path / "run.zarr"
    cmd = [sys.executable, "-m", "engine.cli", "run", str(conf), "--out", str(store), "--threads", "1", "-q", "--json"]
    err = open(tmp_path / "stderr.txt", "wb")  # a file, not a pipe nobody reads while the run goes on
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    done = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (store / "block_done").exists():
            try:
                done = store_status(store)["done"]
            except Exception:  # noqa: BLE001 - the store is being created
                done = 0
            if done >= 3:
                break
        time.sleep(0.02)
    assert proc.poll() is None, ("the run ended before it could be killed: "
                                 + (tmp_path / "stderr.txt").read_text(errors="replace")[-2000:])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    err.close()
    st = store_status(store)
    assert 3 <= st["done"] < 60 and not st["complete"], st
    r = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert store_status(store)["complete"]
    assert not list(store.rglob("*.partial"))  # a killed writer's temporary chunk files are gone
    assert_same_paths(simulate(cfg, threads=2), open_store(store))


@needs_dask
@pytest.mark.slow
def test_lost_worker_blocks_recomputed_once(tmp_path):
    """A worker process killed (SIGKILL) mid-run: its blocks are recomputed elsewhere, none duplicated or skipped."""
    import logging
    import os
    import signal

    from distributed import Client, LocalCluster

    from engine.distributed import open_store, run_blocks

    cfg = small_cfg(paths=60_000, block=1_000)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as c:
        pids = c.run(os.getpid)
        victim = max(pids.values())
        killed = []
        seen = []

        def progress(done, total):
            seen.append(done)
            if done >= 2 * 1_000 and not killed:
                os.kill(victim, signal.SIGKILL)
                killed.append(done)

        store = run_blocks(cfg, scheduler=c, store=tmp_path / "run.zarr", progress=progress)
        assert killed and killed[0] < 60_000
    assert seen == sorted(seen) and len(seen) == 1 + 60 and seen[-1] == 60_000  # each block consumed once
    assert_same_paths(simulate(cfg, threads=2), open_store(store))


@needs_dask
def test_half_written_block_is_recomputed(cfg, reference, tmp_path):
    import zarr

    from engine.distributed import open_store, run_blocks, store_status

    store = tmp_path / "run.zarr"
    run_blocks(cfg, threads=2, store=store, max_blocks=3)
    g = zarr.open_group(str(store), mode="r+")
    done = np.flatnonzero(g["block_done"][:])
    todo = [b for b in range(math.ceil(PATHS / BLOCK)) if b not in done]
    # a block whose data was written but not its marker (killed between the two)
    b = todo[0]
    g["value_per_share"][b * BLOCK:(b + 1) * BLOCK] = -1.0
    # and a finished block whose marker is lost, with damaged data
    d = int(done[0])
    g["equity_value"][d * BLOCK:(d + 1) * BLOCK] = np.nan
    g["block_done"][d] = 0
    assert store_status(store)["done"] == 2
    run_blocks(cfg, threads=2, store=store, resume=True)
    assert_same_paths(reference, open_store(store))


@needs_dask
def test_resume_of_a_different_run_names_what_differs(cfg, tmp_path):
    from engine.distributed import run_blocks

    store = tmp_path / "run.zarr"
    run_blocks(cfg, threads=1, store=store, max_blocks=1)
    with pytest.raises(ValueError, match="seed: store"):
        run_blocks(cfg, seed=cfg.simulation.seed + 1, threads=1, store=store, resume=True)
    with pytest.raises(ValueError, match="paths: store"):
        run_blocks(cfg, paths=PATHS + BLOCK, threads=1, store=store, resume=True)


@needs_dask
def test_streamed_report_exact_counts_and_bounded_quantiles(cfg, reference, tmp_path):
    from engine.distributed import run_blocks, summarize_store

    store = run_blocks(cfg, threads=2, store=tmp_path / "run.zarr")
    ref = report(reference)
    # values near the quantiles fit in memory: exact (to the last bit of the interpolation)
    s = summarize_store(store, max_bytes=8 * 4000)
    assert s["approximation"]["exact"]
    for k, v in ref["value_per_share"].items():
        assert s["value_per_share"][k] == pytest.approx(v, rel=1e-12, abs=1e-9), k
    # nothing may be held: interpolation inside a bin, within the stated bound
    a = summarize_store(store, max_bytes=0)
    assert not a["approximation"]["exact"]
    np.testing.assert_equal(a["p_justified"], ref["p_justified"])  # NaN (the se of a zero share) equals NaN
    for k in ("price_percentile", "failed_share", "tv_clipped", "floored", "paths"):
        assert a[k] == ref[k], k
    # the same compensated sums in the same path order: equal to the bit
    assert a["value_per_share"]["mean"] == ref["value_per_share"]["mean"]
    assert a["value_per_share"]["sd"] == ref["value_per_share"]["sd"]
    bound = a["approximation"]["max_abs_error"]
    for q in (1, 5, 10, 25, 50, 75, 90, 95, 99):
        err = abs(a["value_per_share"][f"p{q}"] - ref["value_per_share"][f"p{q}"])
        assert err <= bound[f"value_per_share.p{q}"] * (1 + 1e-9), q
    for k in ("horizon_return", "terminal_share", "revenue_cagr", "dilution"):
        assert abs(a[f"median_{k}"] - ref[f"median_{k}"]) <= bound[f"median_{k}"] * (1 + 1e-9) + 1e-15, k


# ----------------------------------------------------------------------------- command line


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def small_config_file(tmp_path, name="small.toml"):
    p = tmp_path / name
    p.write_text(small_cfg().to_toml())
    return p


def test_cli_bad_scheduler_exit_2():
    r = invoke("run", ZHIPU, "--paths", "100", "--scheduler", "bogus")
    assert r.exit_code == 2 and "--scheduler" in r.stderr and "Traceback" not in r.output


def test_cli_resume_needs_zarr_out(tmp_path):
    r = invoke("run", ZHIPU, "--paths", "100", "--resume")
    assert r.exit_code == 2 and "--resume" in r.stderr and ".zarr" in r.stderr
    r = invoke("run", ZHIPU, "--paths", "100", "--resume", "--out", tmp_path / "x.nc")
    assert r.exit_code == 2 and "--resume" in r.stderr


def test_cli_stress_scheduler_bad_combinations():
    r = invoke("stress", ZHIPU, "--paths", "100", "--scheduler", "local:0")
    assert r.exit_code == 2 and "--scheduler" in r.stderr
    r = invoke("stress", ZHIPU, "--paths", "100", "--scheduler", "local:2", "--reverse")
    assert r.exit_code == 2 and "--reverse" in r.stderr
    r = invoke("stress", ZHIPU, "--paths", "100", "--scheduler", "local:2", "--threads", "1")
    assert r.exit_code == 2 and "--threads" in r.stderr


@needs_dask
@pytest.mark.slow
def test_stress_on_local_cluster_equals_threads(tmp_path):
    """(scenario, block) tasks on 2 worker processes give the same bits as the scenarios on threads."""
    from engine.stress import load_scenarios, run_stress

    cfg = small_cfg(paths=4_000, block=1_000)
    scen = load_scenarios(CONFIGS / "stress" / "zhipu.toml")
    scen = scen.model_copy(update={"scenarios": [s for s in scen.scenarios
                                                 if s.name in ("api_price_war", "cost_share_worst_decile",
                                                               "funding_closed_2y")]})
    a = run_stress(cfg, scen, keep_datasets=True)
    b = run_stress(cfg, scen, keep_datasets=True, scheduler="local:2")
    for x, y in zip(a.datasets, b.datasets):
        assert_same_paths(x, y)
    ja, jb = a.to_dict(), b.to_dict()
    same = json.dumps  # NaN-aware (a standard error at 0 hits is NaN, and NaN != NaN)
    assert same(ja["scenarios"], sort_keys=True) == same(jb["scenarios"], sort_keys=True)
    assert same(ja["base"], sort_keys=True) == same(jb["base"], sort_keys=True)


@needs_dask
def test_cli_unreachable_scheduler_exit_2(tmp_path):
    store = tmp_path / "run.zarr"
    r = invoke("run", ZHIPU, "--paths", "100", "--scheduler", "tcp://127.0.0.1:1", "--quiet", "--out", store)
    assert r.exit_code == 2 and "--scheduler" in r.stderr and "Traceback" not in r.output
    assert not store.exists()  # no empty store left to block the corrected command


@needs_dask
@pytest.mark.slow
def test_cli_local_cluster_zarr_resume_and_report(tmp_path):
    """`run --scheduler local:2 --out run.zarr`, `--resume` and `report run.zarr` agree with the threads run."""
    conf = small_config_file(tmp_path)
    base = json.loads(invoke("run", conf, "--json").stdout)
    base.pop("elapsed_s")
    store = tmp_path / "run.zarr"
    r = invoke("run", conf, "--scheduler", "local:2", "--out", store, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    out.pop("elapsed_s")
    assert out == base
    # resuming a finished store computes nothing and gives the same report
    r = invoke("run", conf, "--out", store, "--resume", "--json")
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    again.pop("elapsed_s")
    assert again == base
    rep = json.loads(invoke("report", store, "--json").stdout)
    rep.pop("elapsed_s")
    assert rep == base
    r = invoke("run", conf, "--out", store, "--json")
    assert r.exit_code == 2 and "--resume" in r.stderr


@needs_dask
@pytest.mark.slow
def test_cli_batch_of_companies(tmp_path):
    peer = str(CONFIGS / "ai_peer.toml")
    r = invoke("run", ZHIPU, peer, "--paths", "3000", "--scheduler", "local:2", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [x["config"] for x in rows] == [ZHIPU, peer]
    for x, conf in zip(rows, (ZHIPU, peer)):
        one = json.loads(invoke("run", conf, "--paths", "3000", "--json").stdout)
        assert x["value_per_share"] == one["value_per_share"]
        assert x["p_justified"] == one["p_justified"]
    r = invoke("run", ZHIPU, peer, "--paths", "3000")
    assert r.exit_code == 0 and "Zhipu" in r.stdout and "P(DCF)" in r.stdout
    r = invoke("run", ZHIPU, peer, "--paths", "3000", "--out", tmp_path / "x.nc")
    assert r.exit_code == 2 and "--out" in r.stderr


@needs_dask
@pytest.mark.slow
def test_benchmark_distributed_section_at_tiny_size():
    from benchmarks.harness import distributed_case, format_table

    d = distributed_case([20_000], workers=2, block_size=5_000)
    (c,) = d["cases"]
    assert c["blocks"] == 4 and c["threads_s"] > 0 and c["cluster_s"] > 0
    assert c["relative_throughput"] > 0 and "overhead_per_block_s" in c
    text = format_table({"threads": [1, 2], "cases": [], "distributed": d})
    assert "overhead per block" in text


@needs_dask
def test_store_missing_a_blocks_file_is_refused_not_read_as_fill(cfg, tmp_path):
    """Every chunk is written, also an all-False flag block; a lost chunk file is then detected, not read as 0."""
    from engine.distributed import open_store, run_blocks, summarize_store

    store = run_blocks(cfg, threads=2, store=tmp_path / "run.zarr")
    chunks = sorted(p for p in (store / "floored").rglob("*") if p.is_file() and p.name[0].isdigit())
    assert len(chunks) == math.ceil(PATHS / BLOCK)  # one per block although `floored` is all False
    chunks[1].unlink()
    for read in (open_store, summarize_store):
        with pytest.raises(ValueError, match=r"is damaged: the data of some blocks is missing for floored \(5 of 6"):
            read(store)
