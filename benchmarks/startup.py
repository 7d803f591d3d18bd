"""Where the wall time of ``pricedin run CONFIG`` goes, phase by phase, in one fresh process.

Run as ``python -m benchmarks.startup [--config C] [--paths N] [--out]``; prints one JSON object:
``{"config", "paths", "phases": {name: seconds}, "total_s", "cpu_phases": {name: seconds}, "cpu_s",
"modules": {package: bool}}``, ``cpu_*`` being the process's CPU time (all its threads: the run's worker
threads count each, so on a loaded machine it tells the work from the wait). The phases follow
the command's own steps (:mod:`engine.cli` ``run``), with the one-off costs that hide inside its first calls
taken apart:

``import_cli``
    ``import engine.cli`` (click and the command line only; what ``pricedin --version`` pays).
``import_config``
    ``engine.config``: numpy, pydantic, scipy.special and the config models.
``load_config``
    Reading and validating the config (:func:`engine.commands.load_checked_config`); its quantile checks
    import scipy.stats.
``import_kernel``
    ``engine.simulate``: numba and the kernel modules (nothing is compiled or loaded yet).
``import_xarray``
    ``import xarray`` (pandas with it); 0 without ``--out``: a run that saves nothing reports from the
    run's arrays (:func:`engine.simulate.simulate_arrays`) and never imports xarray.
``first_dataset``
    The first ``xarray.Dataset`` of the process: xarray imports dask here when it is installed (its
    duck-array checks); 0 without ``--out``.
``pinv_tables``
    The numerical-inversion tables of the PERT, beta and truncated-normal inputs (built once per process).
``kernel_load``
    A one-path run: the compiled kernels loaded from numba's on-disk cache (or compiled, on an empty cache).
``simulate``
    The run of ``paths`` paths itself (:func:`engine.commands.simulate_run`).
``save``
    With ``--out``: :func:`engine.summary.save_results` to a temporary NetCDF file.
``summary``
    :func:`engine.summary.summary_dict` without the implied cost of capital.
``implied``
    The re-runs behind the implied cost of capital (:func:`engine.fairvalue.implied_for_run`,
    ``min(paths, 20000)`` paths each; the unshifted one is the run's own first paths).
``render``
    The terminal report (:func:`engine.views.tables.render_report`) into a null device.

The phases sum to ``total_s`` (the interpreter's own start is outside). The command itself does the same
work minus the one-path run, so ``total_s`` is within a few milliseconds of ``pricedin run CONFIG --paths N``
less the interpreter start (``python -c pass``): the command ends its process when it is done
(:func:`engine._cli_support.end_process`), without the interpreter's teardown of the imported modules (about
0.3 s of CPU), which this split does not see either. ``modules`` says which heavy packages the process had
imported at the end.

``python -m benchmarks.startup --command R`` times the command itself instead: ``python -m engine.cli run CONFIG
--paths N`` in R fresh processes (stdout to the null device), and ``python -c pass`` for scale; it prints
``{"config", "paths", "runs", "command_s", "command_cpu_s", "python_s"}``, the best wall and CPU seconds (the
processes' user + system time) of the R runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "scipy", "scipy.stats", "pydantic", "numba", "xarray", "pandas", "dask", "rich", "matplotlib")


def split(config: str = str(ROOT / "configs" / "zhipu.toml"), paths: int = 100_000, out: bool = False) -> dict:
    """Time the phases of ``pricedin run config --paths paths`` in this process (see the module docstring).

    Meaningful only in a fresh interpreter: a phase whose modules are already imported measures nothing.
    Returns ``{"config", "paths", "phases": {name: seconds}, "total_s", "cpu_phases": {name: seconds}, "cpu_s",
    "modules": {package: bool}}``.
    """
    if "numpy" not in sys.modules:  # as the command does (engine.cli.main): one OpenBLAS thread unless told
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    phases: dict = {}
    cpu: dict = {}
    t = [time.perf_counter(), time.process_time()]

    def mark(name: str) -> None:
        now, now_cpu = time.perf_counter(), time.process_time()
        phases[name], cpu[name] = now - t[0], now_cpu - t[1]
        t[0], t[1] = now, now_cpu

    t0, c0 = t
    import engine.cli  # noqa: F401

    mark("import_cli")
    import engine.config  # noqa: F401

    mark("import_config")
    from engine.commands import load_checked_config

    cfg = load_checked_config(config)
    mark("load_config")
    from engine.simulate import simulate, simulate_arrays

    mark("import_kernel")
    import numpy as np

    if out:  # the command builds a Dataset only to save it
        import xarray as xr

        mark("import_xarray")
        xr.Dataset({"x": ("path", np.zeros(1))})
        mark("first_dataset")
    else:
        mark("import_xarray")
        mark("first_dataset")
    u = np.full(1, 0.5)
    for p in cfg.parameters():
        if not p.spec.is_fixed:
            p.spec.sample_ppf(u)
    mark("pinv_tables")
    (simulate if out else simulate_arrays)(cfg, paths=1, threads=1)  # the kernel specialisation the run uses
    mark("kernel_load")
    from engine.commands import simulate_run

    ds, _ = simulate_run(cfg, paths=paths, dataset=out)
    mark("simulate")
    if out:
        from engine.summary import save_results

        with tempfile.TemporaryDirectory() as tmp:
            save_results(ds, os.path.join(tmp, "run.nc"))
        mark("save")
    from engine.summary import summary_dict

    s = summary_dict(ds, implied=False)
    mark("summary")
    from engine.fairvalue import IMPLIED_PATHS, implied_for_run

    s["implied_cost_of_capital"] = implied_for_run(ds, IMPLIED_PATHS, reuse_run=True)  # as the command does
    mark("implied")
    from rich.console import Console

    from engine.views.tables import render_report

    with open(os.devnull, "w") as null:
        render_report(s, Console(file=null, soft_wrap=False, width=160))
    mark("render")
    return {"config": config, "paths": int(paths), "phases": phases, "total_s": t[0] - t0,
            "cpu_phases": cpu, "cpu_s": t[1] - c0, "modules": {m: m in sys.modules for m in HEAVY}}


def command(config: str = str(ROOT / "configs" / "zhipu.toml"), paths: int = 100_000, runs: int = 5) -> dict:
    """Best wall and CPU seconds of ``python -m engine.cli run config --paths paths`` in ``runs`` fresh processes.

    The whole command as a user starts it: the interpreter, the imports, the run, the report (to the null
    device) and the end of the process. Returns ``{"config", "paths", "runs", "command_s", "command_cpu_s",
    "python_s"}``, ``python_s`` being the best of ``runs`` bare ``python -c pass`` (the interpreter's start).
    """

    def timed(cmd):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    got = [timed([sys.executable, "-m", "engine.cli", "run", config, "--paths", str(int(paths))]) for _ in range(runs)]
    bare = [timed([sys.executable, "-c", "pass"])[0] for _ in range(runs)]
    return {"config": config, "paths": int(paths), "runs": int(runs), "command_s": min(w for w, _ in got),
            "command_cpu_s": min(c for _, c in got), "python_s": min(bare)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "zhipu.toml"))
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--out", action="store_true", help="also time saving the results to NetCDF")
    ap.add_argument("--command", type=int, metavar="R", default=0,
                    help="time the command itself in R fresh processes instead of the phases")
    a = ap.parse_args(argv)
    if a.command:
        print(json.dumps(command(a.config, a.paths, a.command)))
    else:
        print(json.dumps(split(a.config, a.paths, a.out)))


if __name__ == "__main__":
    main()
