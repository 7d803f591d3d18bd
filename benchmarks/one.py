"""Measure one benchmark case in this process: ``python -m benchmarks.one --model standard --paths 100000``.

Run by :mod:`benchmarks.harness` in a fresh subprocess per (model, mode, size), so the
peak resident memory it reports (``ru_maxrss``, read right after the engine runs,
before any baseline) belongs to that case alone. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ZHIPU = ROOT / "configs" / "zhipu.toml"
CHUNK = 1 << 16


def peak_rss_mb() -> float:
    """This process's peak resident set size so far [MiB] (Linux reports ru_maxrss in KiB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2**20


def load_model(model: str):
    """The config of a named benchmark model: ``standard`` or ``zhipu`` (or a path to a config file)."""
    if model == "standard":
        from .standard import standard_config

        return standard_config()
    from engine.config import load_config

    return load_config(ZHIPU if model == "zhipu" else model)


def variates_per_step(cfg) -> int:
    """Variates the engine draws per path and step: 4 per segment + margin, multiple, failure."""
    return 4 * len(cfg.segments) + 3


def time_engine(cfg, paths: int, threads: int, keep: bool, arrays: bool = False) -> float:
    """Seconds of one run: :func:`engine.simulate.simulate` (a Dataset), or with ``arrays`` what ``pricedin run``
    without ``--out`` runs (:func:`engine.simulate.simulate_arrays` keeping ``REPORT_VARIABLES``)."""
    from engine.simulate import simulate, simulate_arrays

    t0 = time.perf_counter()
    if arrays:
        from engine.summary import REPORT_VARIABLES

        simulate_arrays(cfg, paths=paths, threads=threads, variables=REPORT_VARIABLES)
    else:
        simulate(cfg, paths=paths, threads=threads, keep_paths=keep)
    return time.perf_counter() - t0


def time_floor(cfg, paths: int, threads: int) -> float:
    """The floor: the engine's count of variates, all drawn as standard normals by the engine's
    bit generator (``numpy.random.default_rng``, one per block as the engine seeds them) in a
    compiled ``nogil`` loop (``engine._kernels.draw_normals``), on the same number of threads."""
    from engine._kernels import draw_normals
    from engine.sampling import block_seed

    B = cfg.simulation.block_size
    per_path = cfg.n_steps * variates_per_step(cfg)
    seed = cfg.simulation.seed
    nblocks = math.ceil(paths / B)
    local = threading.local()

    def block(b: int) -> int:
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = np.empty(CHUNK)
        n = (min(paths, (b + 1) * B) - b * B) * per_path
        rng = np.random.default_rng(block_seed(seed, b, 1))
        while n > 0:
            m = min(n, CHUNK)
            draw_normals(rng, buf[:m])
            n -= m
        return b

    t0 = time.perf_counter()
    if threads == 1 or nblocks == 1:
        for b in range(nblocks):
            block(b)
    else:
        with ThreadPoolExecutor(max_workers=min(threads, nblocks)) as ex:
            list(ex.map(block, range(nblocks)))
    return time.perf_counter() - t0


def time_numpy(cfg, paths: int, chunk: int = 1 << 16) -> float:
    """The plain vectorised-numpy version (one thread), in chunks of at most 2**16 paths (the
    engine's block size; larger arrays fall out of cache and run slower)."""
    from .numpy_ref import simulate_numpy

    t0 = time.perf_counter()
    done = 0
    i = 0
    while done < paths:
        n = min(chunk, paths - done)
        simulate_numpy(cfg, n, seed=1000 + i)
        done += n
        i += 1
    return time.perf_counter() - t0


def time_split(cfg, paths: int) -> dict:
    """Where one thread's engine time goes: parameter draws (``_Plan.theta``: copula + scipy
    ppf), the compiled kernel (``simulate_block``), and the rest of ``simulate`` (allocation,
    the xarray Dataset), timed on the same paths."""
    from engine import _kernels as K
    from engine._run import _kernel, observed_arrays, result_arrays, theta_pool
    from engine.simulate import ParameterTable, _Plan

    cfg = cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"paths": int(paths)})})
    plan = _Plan(cfg, ParameterTable(cfg))
    B = cfg.simulation.block_size
    n_seg = len(cfg.segments)
    ko = np.empty((K.NK, 1, 1))
    ks = np.empty((1, 1, n_seg))
    buf = theta_pool(plan).take()  # one reused theta buffer, as a run's thread has

    def block(b, n):
        # the arrays a run passes (padded result rows, the observed years): the specialisation a run uses,
        # already compiled, so no compilation is timed
        out, flags = result_arrays(n)
        obs_out, obs_seg = observed_arrays(n, cfg.n_observed_years, n_seg)
        t0 = time.perf_counter()
        theta, _ = plan.theta(b, n, out=buf["theta"], out_filled=buf["filled"])
        buf["filled"] = True
        t1 = time.perf_counter()
        ids = np.arange(b * B, b * B + n, dtype=np.int64)
        _kernel(plan, plan.iopt, theta, ids, ids, cfg.n_steps, 0, out, flags, ko, ks, obs_out, obs_seg)
        return t1 - t0, time.perf_counter() - t1

    block(0, min(B, paths, 100))  # warm-up: load the kernel from the cache
    t_theta = t_kernel = 0.0
    for b in range(math.ceil(paths / B)):
        d_theta, d_kernel = block(b, min(paths, (b + 1) * B) - b * B)
        t_theta += d_theta
        t_kernel += d_kernel
    t_total = time_engine(cfg, paths, 1, False)
    t_floor = time_floor(cfg, paths, 1)
    return {
        "paths": int(paths),
        "threads": 1,
        "simulate_s": t_total,
        "theta_s": t_theta,
        "kernel_s": t_kernel,
        "other_s": max(0.0, t_total - t_theta - t_kernel),
        "floor_s": t_floor,
        "kernel_to_floor": t_kernel / t_floor,
        "theta_share": t_theta / t_total,
        "kernel_share": t_kernel / t_total,
    }


def measure(model: str, paths: int, keep: bool, threads: list[int], repeats: int, baselines: bool,
            profile: bool, arrays: bool = False) -> dict:
    cfg = load_model(model)
    # warm up: load the compiled kernels from the cache and import everything once
    time_engine(cfg, min(paths, 1000), 1, keep, arrays)
    if baselines:
        time_floor(cfg, min(paths, 1000), 1)
        time_numpy(cfg, min(paths, 1000))
    res = {
        "model": model,
        "mode": "keep_paths" if keep else ("report_arrays" if arrays else "summary"),
        "paths": int(paths),
        "n_steps": cfg.n_steps,
        "variates_per_step": variates_per_step(cfg),
        "base_rss_mb": peak_rss_mb(),
        "engine_s": {},
    }
    eng = {t: [] for t in threads}
    flo = {t: [] for t in threads}
    nps = []
    for r in range(repeats):
        for t in threads:
            eng[t].append(time_engine(cfg, paths, t, keep, arrays))
        if r == 0:
            res["peak_rss_mb"] = peak_rss_mb()
        if baselines:
            for t in threads:
                flo[t].append(time_floor(cfg, paths, t))
            nps.append(time_numpy(cfg, paths))
    res["engine_s"] = {str(t): min(v) for t, v in eng.items()}
    if baselines:
        res["floor_s"] = {str(t): min(v) for t, v in flo.items()}
        res["numpy_s"] = min(nps)
    if profile:
        res["time_split"] = time_split(cfg, paths)
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.one", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="standard", help="standard, zhipu or a config path")
    ap.add_argument("--paths", type=int, required=True)
    ap.add_argument("--keep-paths", action="store_true")
    ap.add_argument("--threads", default="2", help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--baselines", action="store_true", help="also time the floor and the numpy version")
    ap.add_argument("--profile", action="store_true", help="also split one thread's time: theta / kernel / rest")
    ap.add_argument("--arrays", action="store_true",
                    help="run what `pricedin run` without --out runs (simulate_arrays, the report's variables)")
    a = ap.parse_args(argv)
    if a.arrays and a.keep_paths:
        ap.error("--arrays keeps no (path, time) arrays; drop --keep-paths")
    threads = [int(x) for x in a.threads.split(",")]
    res = measure(a.model, a.paths, a.keep_paths, threads, a.repeats, a.baselines, a.profile, a.arrays)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
