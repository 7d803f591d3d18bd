"""Distributed case: LocalCluster throughput relative to threads, and the overhead per block.

``python -m benchmarks.dist --paths 1000000,10000000 --workers 2`` prints one JSON object. Run by
:mod:`benchmarks.harness` in a fresh subprocess. For each size, the same run (standard model, same
seed and block size) is timed on ``workers`` threads of this process (:func:`engine.simulate`) and on
a ``LocalCluster`` of ``workers`` processes with one thread each
(:func:`engine.distributed.run_blocks`, results gathered in memory), back to back, best of
``repeats``. Both are warmed first (kernel compiled or loaded from the cache in every process).

Overhead per block = (cluster time - threads time) / blocks: what scheduling a block as a task,
pickling its result and sending it to the client costs on top of computing it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time


def measure(sizes, workers: int = 2, block_size: int = 65_536, repeats: int = 1, model: str = "standard") -> dict:
    """Time threads vs LocalCluster at each size; see the module notes. Returns the ``distributed`` section."""
    from distributed import Client, LocalCluster

    from engine.distributed import run_blocks
    from engine.simulate import simulate

    from .one import load_model

    cfg = load_model(model)
    cfg = cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"block_size": int(block_size)})})
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    startup = time.perf_counter() - t0
    try:
        warm = min(2 * workers * block_size, 100_000)
        simulate(cfg, paths=warm, threads=workers)
        run_blocks(cfg, paths=warm, scheduler=client)
        cases = []
        for n in sizes:
            n = int(n)
            blocks = math.ceil(n / block_size)
            th, cl = math.inf, math.inf
            for _ in range(max(1, repeats)):
                t = time.perf_counter()
                ds = simulate(cfg, paths=n, threads=workers)
                th = min(th, time.perf_counter() - t)
                del ds
                t = time.perf_counter()
                ds = run_blocks(cfg, paths=n, scheduler=client)
                cl = min(cl, time.perf_counter() - t)
                del ds
            cases.append({
                "paths": n, "blocks": blocks, "threads_s": th, "cluster_s": cl,
                "threads_paths_per_s": n / th, "cluster_paths_per_s": n / cl,
                "relative_throughput": th / cl,
                "overhead_per_block_s": (cl - th) / blocks,
            })
    finally:
        client.close()
        cluster.close()
    return {"model": model, "workers": workers, "threads_per_worker": 1, "block_size": int(block_size),
            "cluster_startup_s": startup, "cases": cases,
            "note": "relative_throughput = threads time / LocalCluster time (1.0: no cost for processes and "
                    "tasks); overhead_per_block_s = (cluster - threads) / blocks"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.dist", description=__doc__.splitlines()[0])
    ap.add_argument("--paths", default="1000000", help="comma-separated path counts")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--block-size", type=int, default=65_536)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--model", default="standard")
    a = ap.parse_args(argv)
    sizes = [int(float(s)) for s in a.paths.split(",")]
    print(json.dumps(measure(sizes, a.workers, a.block_size, a.repeats, a.model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
