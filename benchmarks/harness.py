"""The benchmark run: engine, numpy baseline, floor, threads, memory, cold start, in one go.

Every case runs in a fresh subprocess (:mod:`benchmarks.one`) so that peak memory is per
case. Within a case the engine, the floor and the numpy version are timed back to back,
best of ``repeats``: on a shared machine the ratios are the claims, not the absolute times.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

ROOT = Path(__file__).resolve().parents[1]
QUICK_SIZES = (10_000, 100_000, 1_000_000)
FULL_SIZES = (10_000, 100_000, 1_000_000, 10_000_000)
MODELS = ("standard", "zhipu")
THREADS = (1, 2)
#: Sizes of the ``distributed`` section (LocalCluster vs threads) in --quick and full runs.
QUICK_DIST_SIZES = (1_000_000,)
FULL_DIST_SIZES = (1_000_000, 10_000_000)
#: --keep-paths refuses runs over this many bytes of (path, time) arrays (the CLI default, 4 GiB).
KEEP_LIMIT = 4 * 2**30

TARGETS = {
    "speedup_vs_numpy": (">=", 6.0),
    "ratio_to_floor": ("<=", 1.5),
    "summary_rss_1e7_mb": ("<", 2048.0),
    "cold_start_s": ("<", 10.0),
    "warm_run_1e5_s": ("<", 1.2),
    "version_s": ("<", 0.3),
}


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


def machine_info() -> dict:
    """nproc, CPU model, memory, Python / numpy / numba / scipy versions."""
    import numba
    import numpy
    import scipy

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem_gb,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def source_info() -> dict:
    """The commit benchmarked and whether engine/ had uncommitted changes (numbers move with them)."""
    def git(*args):
        try:
            p = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
            return p.stdout.strip() if p.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            return None

    status = git("status", "--porcelain", "--", "engine")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "engine_modified": None if status is None else sorted(l[3:] for l in status.splitlines())}


def _run_case(args: list[str], env: Optional[dict] = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.one", *args]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _keep_bytes(model: str, paths: int) -> int:
    from .one import load_model
    from engine.simulate import keep_paths_bytes

    return keep_paths_bytes(load_model(model), paths)


def cold_start(paths: int = 10_000, config: Path = ROOT / "configs" / "zhipu.toml",
               warm_paths: int = 100_000) -> dict:
    """Wall time of ``pricedin run`` in a fresh process: empty numba cache, warm cache, and a warm
    run of ``warm_paths`` paths. The empty cache is a new NUMBA_CACHE_DIR."""
    cache = tempfile.mkdtemp(prefix="pricedin-numba-")
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)

    def timed(n: int) -> float:
        cmd = [sys.executable, "-m", "engine.cli", "run", str(config), "--paths", str(n), "--quiet"]
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        return dt

    try:
        empty = timed(paths)
        warm = timed(paths)
        warm_big = timed(warm_paths)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return {"config": str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config),
            "paths": paths, "empty_cache_s": empty, "warm_cache_s": warm,
            "warm_paths": warm_paths, "warm_run_s": warm_big}


def _cli_command() -> list[str]:
    """The ``pricedin`` console script next to this Python (as a user runs it), else ``python -m engine.cli``."""
    script = Path(sys.executable).with_name("pricedin")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "engine.cli"]


def startup(runs: int = 7) -> dict:
    """Wall time of ``pricedin --version`` and ``pricedin --help`` in fresh processes (median and best of ``runs``).

    Both import click and the command-line module only (the library loads lazily, PEP 562);
    ``python_s`` is a bare ``python -c pass`` for scale.
    """
    def times(cmd: list[str]) -> list[float]:
        out = []
        for _ in range(runs):
            t0 = time.perf_counter()
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            out.append(time.perf_counter() - t0)
            if p.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        return sorted(out)

    cli = _cli_command()
    res = {"runs": runs, "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cli))}
    for key, cmd in (("version", cli + ["--version"]), ("help", cli + ["--help"]),
                     ("python", [sys.executable, "-c", "pass"])):
        t = times(cmd)
        res[f"{key}_s"] = t[len(t) // 2]
        res[f"{key}_best_s"] = t[0]
    return res


def startup_split(paths: int = 100_000, config: Path = ROOT / "configs" / "zhipu.toml", runs: int = 5) -> dict:
    """Where the time of a warm ``pricedin run`` goes: :mod:`benchmarks.startup` in ``runs`` fresh processes.

    The numba cache is the user's (warm once any run has filled it). Each phase is the best of the
    ``runs`` processes (a shared machine adds time, never removes it), so the phases may sum to less
    than the best ``total_s``; the same for the CPU times. Returns ``{"config", "paths", "runs", "phases":
    {name: s}, "total_s", "cpu_phases": {name: s}, "cpu_s", "modules"}`` (``modules`` of the last process).
    """
    cmd = [sys.executable, "-m", "benchmarks.startup", "--config", str(config), "--paths", str(int(paths))]
    got = []
    for _ in range(runs):
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
        got.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return {"config": str(config.relative_to(ROOT)) if config.is_relative_to(ROOT) else str(config),
            "paths": int(paths), "runs": runs,
            "phases": {k: min(g["phases"][k] for g in got) for k in got[0]["phases"]},
            "total_s": min(g["total_s"] for g in got),
            "cpu_phases": {k: min(g["cpu_phases"][k] for g in got) for k in got[0]["cpu_phases"]},
            "cpu_s": min(g["cpu_s"] for g in got), "modules": got[-1]["modules"]}


def monaco_case(paths: int = 10_000, seed: int = 0, repeats: int = 1) -> Optional[dict]:
    """The standard model in monaco (:mod:`benchmarks.monaco_ref`), in a fresh subprocess; None when
    monaco is not installed (``pip install 'pricedin[bench]'``)."""
    from .monaco_ref import monaco_available

    if not monaco_available():
        return None
    cmd = [sys.executable, "-c", "import json, sys; from benchmarks.monaco_ref import run_monaco; "
           "from benchmarks.standard import standard_config; "
           f"print(json.dumps(run_monaco(standard_config(), {int(paths)}, seed={int(seed)}, repeats={int(repeats)})))"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"monaco case failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def distributed_case(sizes: Iterable[int], workers: int = 2, block_size: int = 65_536) -> dict:
    """The ``distributed`` section, measured in a fresh subprocess (:mod:`benchmarks.dist`)."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        return {"skipped": "dask[distributed] is not installed (pip install 'pricedin[distributed]')"}
    cmd = [sys.executable, "-m", "benchmarks.dist", "--paths", ",".join(str(int(s)) for s in sizes),
           "--workers", str(workers), "--block-size", str(block_size)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _fit_slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    return my - b * mx, b


def run_benchmarks(sizes: Iterable[int] = QUICK_SIZES, models: Iterable[str] = MODELS,
                   threads: Iterable[int] = THREADS, keep_paths: bool = True,
                   keep_max_paths: Optional[int] = None, repeats: Optional[int] = None,
                   cold: bool = True, cold_paths: int = 10_000, warm_paths: int = 100_000,
                   mode: str = "custom", quiet: bool = True,
                   log: Optional[Callable[[str], None]] = None,
                   distributed_sizes: Optional[Iterable[int]] = None, distributed_workers: int = 2,
                   distributed_block_size: int = 65_536, monaco_paths: int = 10_000, split_runs: int = 5) -> dict:
    """Run the benchmark and return the results dict (the ``--json`` output).

    Parameters
    ----------
    sizes : path counts, ascending; the headline numbers are those of the largest.
    models : ``standard`` (the one-segment model of :mod:`benchmarks.standard`) and/or ``zhipu``.
    threads : thread counts timed on the standard model (thread scaling); the others run on the last.
    keep_paths : also run ``keep_paths`` cases (skipped where the arrays exceed 4 GiB).
    keep_max_paths : run ``keep_paths`` cases only up to this many paths (default: all sizes).
    repeats : timings per case, best kept (default 3 up to 10^4 paths, 2 below 10^6, else 1).
    cold : also time ``pricedin run`` in fresh processes (empty and warm numba cache), the start-up of
        ``pricedin --version`` and the phases of a warm run of ``warm_paths`` paths (:func:`startup_split`,
        best of ``split_runs`` processes).
    distributed_sizes : path counts of the ``distributed`` section (LocalCluster of
        ``distributed_workers`` processes vs as many threads, blocks of ``distributed_block_size``);
        None skips it. Skipped with a note when dask[distributed] is not installed.
    monaco_paths : paths (cases) of the monaco run of the standard model, when monaco is installed;
        ``speedup_vs_monaco`` compares it with the engine's standard/summary case of the same size
        (else the nearest size), on all listed threads.
    """
    sizes = sorted(int(s) for s in sizes)
    models = list(models)
    threads = sorted(int(t) for t in threads)
    say = log or (lambda m: _log(m, quiet))
    t_start = time.perf_counter()
    res: dict = {"mode": mode, "machine": machine_info(), "source": source_info(), "sizes": sizes, "threads": threads, "cases": []}
    for n in sizes:
        reps = repeats if repeats is not None else (3 if n <= 10_000 else 2 if n < 1_000_000 else 1)
        for model in models:
            keep_here = keep_paths and (keep_max_paths is None or n <= keep_max_paths)
            for keep in ([False, True] if keep_here else [False]):
                label = f"{model}/{'keep_paths' if keep else 'summary'} {n:,} paths"
                if keep and _keep_bytes(model, n) > KEEP_LIMIT:
                    say(f"  {label}: skipped (kept arrays over the 4 GiB limit)")
                    res["cases"].append({"model": model, "mode": "keep_paths", "paths": n,
                                         "skipped": "kept (path, time) arrays would exceed the 4 GiB limit"})
                    continue
                std_summary = model == "standard" and not keep
                args = ["--model", model, "--paths", str(n), "--repeats", str(reps),
                        "--threads", ",".join(map(str, threads if std_summary else threads[-1:]))]
                if std_summary:
                    args.append("--baselines")
                    if n == sizes[-1]:
                        args.append("--profile")
                if keep:
                    args.append("--keep-paths")
                say(f"  {label} ...")
                case = _run_case(args)
                steps = n * case["n_steps"]
                case["engine_path_steps_per_s"] = {t: steps / s for t, s in case["engine_s"].items()}
                if std_summary:
                    v = case["variates_per_step"]
                    case["floor_normals_per_s"] = {t: steps * v / s for t, s in case["floor_s"].items()}
                    case["numpy_path_steps_per_s"] = steps / case["numpy_s"]
                    case["speedup_vs_numpy"] = {t: case["numpy_s"] / s for t, s in case["engine_s"].items()}
                    case["ratio_to_floor"] = {t: s / case["floor_s"][t] for t, s in case["engine_s"].items()}
                res["cases"].append(case)

    # ---- headline: the standard model, summary mode, largest size
    top = [c for c in res["cases"] if c.get("model") == "standard" and c.get("mode") == "summary"
           and c["paths"] == sizes[-1]]
    if top:
        c = top[0]
        tmax, t1 = str(threads[-1]), str(threads[0])
        res["headline"] = {"model": "standard", "mode": "summary", "paths": c["paths"], "threads": threads[-1],
                           "note": "engine on all listed threads vs numpy (one thread); floor on the same threads"}
        res["engine_path_steps_per_s"] = c["engine_path_steps_per_s"][tmax]
        res["numpy_path_steps_per_s"] = c["numpy_path_steps_per_s"]
        res["floor_normals_per_s"] = c["floor_normals_per_s"][tmax]
        res["speedup_vs_numpy"] = c["speedup_vs_numpy"][tmax]
        res["ratio_to_floor"] = c["ratio_to_floor"][tmax]
        res["single_thread"] = {
            "engine_path_steps_per_s": c["engine_path_steps_per_s"][t1],
            "floor_normals_per_s": c["floor_normals_per_s"][t1],
            "speedup_vs_numpy": c["speedup_vs_numpy"][t1],
            "ratio_to_floor": c["ratio_to_floor"][t1],
        }
        res["thread_scaling"] = {
            "threads": [threads[0], threads[-1]],
            "engine": c["engine_s"][t1] / c["engine_s"][tmax],
            "floor": c["floor_s"][t1] / c["floor_s"][tmax],
            "paths": c["paths"],
        }
        if "time_split" in c:
            res["engine_time_split"] = c["time_split"]

    # ---- memory
    rss: dict = {}
    for c in res["cases"]:
        if "peak_rss_mb" in c:
            rss.setdefault(f"{c['model']}/{c['mode']}", {})[str(c["paths"])] = round(c["peak_rss_mb"], 1)
    res["peak_rss_mb"] = rss
    std = rss.get("standard/summary", {})
    if std:
        xs = [int(k) for k in std]
        ys = list(std.values())
        big = [(x, y) for x, y in zip(xs, ys) if x >= 100_000] or list(zip(xs, ys))
        a, b = _fit_slope([x for x, _ in big], [y for _, y in big]) if len(big) > 1 else (ys[0], 0.0)
        res["summary_rss_mb_per_million_paths"] = b * 1e6
        if "10000000" in std:
            res["summary_rss_1e7_mb"] = std["10000000"]
            res["summary_rss_1e7_source"] = "measured"
        else:
            res["summary_rss_1e7_mb"] = a + b * 1e7
            res["summary_rss_1e7_source"] = "extrapolated (linear fit of the sizes >= 1e5)"

    # ---- cold start
    if cold:
        say("  cold start (pricedin run, fresh processes) ...")
        cs = cold_start(cold_paths, warm_paths=warm_paths)
        res["cold_start"] = cs
        res["cold_start_s"] = cs["empty_cache_s"]
        res["warm_cache_start_s"] = cs["warm_cache_s"]
        res["warm_run_1e5_s"] = cs["warm_run_s"]
        say("  start-up (pricedin --version / --help, fresh processes) ...")
        st = startup()
        res["startup"] = st
        res["version_s"] = st["version_s"]
        say(f"  start-up split (pricedin run, {warm_paths:,} paths, phase by phase, fresh processes) ...")
        res["startup_split"] = startup_split(warm_paths, runs=split_runs)

    if distributed_sizes:
        say(f"  distributed: LocalCluster({distributed_workers} processes) vs {distributed_workers} threads ...")
        res["distributed"] = distributed_case(distributed_sizes, distributed_workers, distributed_block_size)

    std_cases = [c for c in res["cases"] if c.get("model") == "standard" and c.get("mode") == "summary"
                 and "engine_s" in c]
    if monaco_paths and std_cases:
        say(f"  monaco: the standard model, {monaco_paths:,} cases ...")
        mon = monaco_case(monaco_paths)
        if mon is None:
            res["monaco"] = {"skipped": "monaco is not installed (pip install 'pricedin[bench]')"}
        else:
            c = min(std_cases, key=lambda c: abs(math.log(c["paths"] / monaco_paths)))
            tmax = str(threads[-1])
            eng_rate = c["paths"] / c["engine_s"][tmax]
            mon.update({"engine_paths": c["paths"], "engine_threads": threads[-1], "engine_paths_per_s": eng_rate})
            res["monaco"] = mon
            res["speedup_vs_monaco"] = eng_rate / mon["cases_per_s"]

    # ---- targets
    targets = {}
    for key, (op, lim) in TARGETS.items():
        if key not in res:
            continue
        v = res[key]
        met = v >= lim if op == ">=" else (v <= lim if op == "<=" else v < lim)
        targets[key] = {"value": v, "target": f"{op} {lim:g}", "met": bool(met)}
    res["targets"] = targets
    if hasattr(os, "getloadavg"):
        res["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    res["elapsed_s"] = time.perf_counter() - t_start
    return res


# ------------------------------------------------------------------------------- report


def _fmt(x: float, unit: str = "") -> str:
    if x is None:
        return "-"
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.1f}M{unit}"
    if abs(x) >= 100:
        return f"{x:,.0f}{unit}"
    return f"{x:.3g}{unit}"


def format_table(res: dict) -> str:
    """The results as Markdown tables (also the plain-text report)."""
    lines = []
    th = [str(t) for t in res["threads"]]
    lines.append("| model | mode | paths | threads | engine s | engine path-steps/s | peak RSS MiB "
                 "| numpy path-steps/s | speedup vs numpy | floor normals/s | ratio to floor |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c in res["cases"]:
        if "skipped" in c:
            lines.append(f"| {c['model']} | {c['mode']} | {c['paths']:,} | - | skipped: {c['skipped']} "
                         "| | | | | | |")
            continue
        for t, s in c["engine_s"].items():
            row = [c["model"], c["mode"], f"{c['paths']:,}", t, f"{s:.3f}",
                   _fmt(c["engine_path_steps_per_s"][t]), f"{c['peak_rss_mb']:.0f}"]
            if "numpy_s" in c:
                row += [_fmt(c["numpy_path_steps_per_s"]), f"{c['speedup_vs_numpy'][t]:.2f}x",
                        _fmt(c["floor_normals_per_s"][t]), f"{c['ratio_to_floor'][t]:.1f}"]
            else:
                row += ["", "", "", ""]
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if "speedup_vs_numpy" in res:
        h = res["headline"]
        lines.append(f"Headline (standard model, summary, {h['paths']:,} paths, engine on {h['threads']} threads): "
                     f"engine {_fmt(res['engine_path_steps_per_s'])} path-steps/s, numpy "
                     f"{_fmt(res['numpy_path_steps_per_s'])} path-steps/s, floor {_fmt(res['floor_normals_per_s'])} "
                     f"normals/s; speedup vs numpy {res['speedup_vs_numpy']:.2f}x, ratio to floor "
                     f"{res['ratio_to_floor']:.1f}. One thread: speedup {res['single_thread']['speedup_vs_numpy']:.2f}x, "
                     f"ratio to floor {res['single_thread']['ratio_to_floor']:.1f}. Thread scaling "
                     f"{th[0]}->{th[-1]}: engine {res['thread_scaling']['engine']:.2f}x, floor "
                     f"{res['thread_scaling']['floor']:.2f}x.")
        lines.append("")
    if "engine_time_split" in res:
        s = res["engine_time_split"]
        lines.append(f"Engine time split (standard, {s['paths']:,} paths, 1 thread): simulate {s['simulate_s']:.3f} s = "
                     f"parameter draws (_Plan.theta) {s['theta_s']:.3f} s ({100 * s['theta_share']:.0f}%) + kernel "
                     f"(simulate_block) {s['kernel_s']:.3f} s ({100 * s['kernel_share']:.0f}%) + rest (allocation, "
                     f"Dataset) {s['other_s']:.3f} s; the kernel alone is {s['kernel_to_floor']:.1f}x the floor "
                     f"({s['floor_s']:.3f} s).")
        lines.append("")
    if "summary_rss_mb_per_million_paths" in res:
        lines.append(f"Summary-mode memory: {res['summary_rss_mb_per_million_paths']:.0f} MiB per million paths; "
                     f"10 million paths: {res['summary_rss_1e7_mb']:.0f} MiB ({res['summary_rss_1e7_source']}).")
        lines.append("")
    if "cold_start" in res:
        cs = res["cold_start"]
        lines.append(f"`pricedin run {cs['config']}` in a fresh process: {cs['paths']:,} paths, empty numba cache "
                     f"{cs['empty_cache_s']:.2f} s, warm cache {cs['warm_cache_s']:.2f} s; {cs['warm_paths']:,} paths, "
                     f"warm cache {cs['warm_run_s']:.2f} s.")
        lines.append("")
    if "startup" in res:
        st = res["startup"]
        lines.append(f"Start-up (fresh processes, median of {st['runs']}): `{st['command']} --version` "
                     f"{st['version_s']:.2f} s (best {st['version_best_s']:.2f} s), `--help` {st['help_s']:.2f} s "
                     f"(best {st['help_best_s']:.2f} s); a bare `python -c pass` {st['python_s']:.2f} s.")
        lines.append("")
    if "startup_split" in res:
        sp = res["startup_split"]
        lines.append(f"Warm `pricedin run {sp['config']} --paths {sp['paths']:,}` phase by phase (best of {sp['runs']} "
                     f"fresh processes, {sp['total_s']:.2f} s in all after the interpreter's start): "
                     + ", ".join(f"{k} {v:.2f}" for k, v in sp["phases"].items()) + " s.")
        lines.append("")
    m = res.get("monaco")
    if m and "cases_per_s" in m:
        lines.append(f"monaco {m['monaco']} (one Python call per case, single-threaded), the standard model: "
                     f"{m['paths']:,} cases in {m['seconds']:.2f} s ({_fmt(m['cases_per_s'])} cases/s, mean value "
                     f"{m['mean_value']:.4g}); the engine: {_fmt(m['engine_paths_per_s'])} paths/s "
                     f"({m['engine_paths']:,} paths, {m['engine_threads']} threads): speedup vs monaco "
                     f"{res['speedup_vs_monaco']:,.0f}x.")
        lines.append("")
    elif m:
        lines.append(f"monaco: skipped ({m['skipped']}).")
        lines.append("")
    d = res.get("distributed")
    if d and "cases" in d:
        lines.append(f"Distributed: LocalCluster of {d['workers']} processes x 1 thread vs {d['workers']} threads "
                     f"in one process ({d['model']} model, blocks of {d['block_size']:,} paths; cluster start "
                     f"{d['cluster_startup_s']:.1f} s, not included).")
        lines.append("")
        lines.append("| paths | blocks | threads s | cluster s | cluster / threads throughput | overhead per block ms |")
        lines.append("|---:|---:|---:|---:|---:|---:|")
        for c in d["cases"]:
            lines.append(f"| {c['paths']:,} | {c['blocks']:,} | {c['threads_s']:.2f} | {c['cluster_s']:.2f} "
                         f"| {c['relative_throughput']:.2f} | {1000 * c['overhead_per_block_s']:.1f} |")
        lines.append("")
    elif d:
        lines.append(f"Distributed: skipped ({d['skipped']}).")
        lines.append("")
    if res.get("targets"):
        lines.append("| target | value | goal | met |")
        lines.append("|---|---:|---:|---|")
        for k, t in res["targets"].items():
            lines.append(f"| {k} | {t['value']:.3g} | {t['target']} | {'yes' if t['met'] else 'no'} |")
        lines.append("")
    return "\n".join(lines)
