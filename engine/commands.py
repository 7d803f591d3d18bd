"""The steps behind each ``pricedin`` command, callable from Python (a notebook, a batch job).

The command line (:mod:`engine.cli`) parses its flags, calls these steps and prints; everything
that loads, runs, summarises or refuses a result lives here, so a notebook gets the same report
dicts as ``pricedin run --json`` by the same code. Errors are :class:`engine.errors.InputError`
(bad input) in the words of the Python API; arguments named ``*_option`` label a path in those
messages (the command line passes its flag, e.g. ``"--out"``).

Heavy libraries (numpy, xarray, the numba kernel) are imported inside the functions, so
importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from .errors import InputError

__all__ = ["load_checked_config", "refuse_stress_file", "load_target", "simulate_run", "run_summary",
           "add_implied", "blocks_summary", "batch_rows", "store_summary", "report_html", "scenario_file",
           "config_line"]


def load_checked_config(path, warn: Optional[Callable[[str], None]] = None):
    """Load and validate a config; pass each of its warnings (valid but probably unintended settings) to ``warn``.

    Parameters
    ----------
    path : str or Path
        The config file (TOML or YAML).
    warn : callable(str), optional
        Called once per warning of :func:`engine.config.config_warnings`, in order; None: warnings are dropped.

    Returns
    -------
    Config

    Raises
    ------
    engine.errors.InputError
        The file is missing or the config is invalid (the message names the key, the value and the fix).
    """
    from .config import config_warnings, load_config

    cfg = load_config(path)
    if warn is not None:
        for w in config_warnings(cfg):
            warn(w)
    return cfg


def refuse_stress_file(ds, path):
    """Return ``ds`` if it holds one run; refuse a stress file (one run per scenario) or an updated (weighted) run.

    Raises
    ------
    engine.errors.InputError
        ``ds`` has path weights or a ``scenario`` dimension; the message names ``path``.
    """
    from .summary import refuse_weighted

    refuse_weighted(ds, repr(str(path)))
    if "scenario" in ds.dims:
        raise InputError(f"{str(path)!r} is a stress file (one run per scenario); this command takes the results of "
                         "`pricedin run CONFIG --out FILE.nc` (`pricedin report` prints a stress file)")
    return ds


def load_target(target, paths: int, threads: Optional[int] = None, keep_paths: bool = False,
                warn: Optional[Callable[[str], None]] = None):
    """The run a command explains: a ``.nc`` results file is loaded, any other file is a config simulated here.

    Parameters
    ----------
    target : str or Path
        A results file (name ending in ``.nc``) or a config file.
    paths : int
        Paths of the run when ``target`` is a config (unused for a results file).
    threads : int, optional
        Worker threads of that run.
    keep_paths : bool
        Keep the (path, time) variables of that run.
    warn : callable(str), optional
        Receives the config's warnings (see :func:`load_checked_config`).

    Returns
    -------
    (xarray.Dataset, Config or None)
        The results and, when ``target`` is a config, the config (None for a results file).

    Raises
    ------
    engine.errors.InputError
        A missing or invalid file, a stress file, or an updated (weighted) run.
    """
    from .simulate import simulate
    from .summary import open_results

    if str(target).lower().endswith(".nc"):
        return refuse_stress_file(open_results(target), target), None
    cfg = load_checked_config(target, warn)
    return simulate(cfg, paths=paths, threads=threads, keep_paths=keep_paths), cfg


def simulate_run(cfg, paths: Optional[int] = None, seed: Optional[int] = None, threads: Optional[int] = None,
                 keep_paths: bool = False, memory_limit: Optional[int] = None, progress=None, command=None,
                 target_se: Optional[float] = None, target_rse: Optional[float] = None,
                 max_paths: int = 10_000_000, dataset: bool = True):
    """One run of ``cfg``: a fixed number of paths, or doubled until a standard-error target is met.

    Parameters
    ----------
    cfg : Config
    paths, seed, threads, keep_paths, progress, command
        As :func:`engine.simulate`; ``paths`` is the first run's paths with a target.
    memory_limit : int, optional
        Refuse runs whose estimated peak memory exceeds this many bytes.
    target_se, target_rse : float, optional
        Standard error (absolute, or relative to the estimate) of P(justified, DCF) to reach
        (:func:`engine.convergence.run_to_target`); both None: one run of ``paths`` paths.
    max_paths : int
        Upper limit on paths with a target.
    dataset : bool
        False: a run of fixed paths (no target, no ``keep_paths``) returns the report's arrays
        (:func:`engine.simulate.simulate_arrays` with :data:`engine.summary.REPORT_VARIABLES`), read
        like the Dataset by :func:`run_summary`: no xarray, less memory, the same numbers.

    Returns
    -------
    (xarray.Dataset or engine._assemble.RunArrays, dict or None)
        The results and, with a target, the convergence record (None without one).

    Raises
    ------
    engine.errors.InputError
        Bad arguments or a run larger than memory (see :func:`engine.simulate`).
    """
    from .simulate import simulate

    kw = dict(seed=seed, threads=threads, keep_paths=keep_paths, memory_limit=memory_limit, progress=progress,
              command=command)
    if target_se is None and target_rse is None:
        if not dataset and not keep_paths:
            from .simulate import simulate_arrays
            from .summary import REPORT_VARIABLES

            kw.pop("keep_paths")
            return simulate_arrays(cfg, paths=paths, variables=REPORT_VARIABLES, **kw), None
        return simulate(cfg, paths=paths, **kw), None
    from .convergence import run_to_target

    return run_to_target(cfg, target_se=target_se, target_rse=target_rse, paths=paths, max_paths=max_paths, **kw)


def run_summary(ds, cfg, conv: Optional[dict] = None, implied_paths: int = 20_000, threads: Optional[int] = None,
                plot_dir=None, plot_option: str = "plot_dir") -> dict:
    """The report dict of ``pricedin run`` (what ``--json`` prints) for a finished run.

    Parameters
    ----------
    ds : xarray.Dataset or engine._assemble.RunArrays
        The run's results (:func:`simulate_run`), simulated in this process (:func:`simulate_run`): its first paths stand in for
        the implied cost of capital's unshifted re-run (:func:`engine.fairvalue.implied_for_run`).
    cfg : Config
        The run's config (for the figures' re-runs).
    conv : dict, optional
        The convergence record of :func:`simulate_run`; stored under ``"convergence"``.
    implied_paths : int
        Paths of the re-runs that solve for the implied cost of capital; 0 skips them.
    threads : int, optional
        Worker threads of those re-runs.
    plot_dir : str or Path, optional
        Write the figure set (:func:`engine.views.figures.save_set`) into this folder; their paths are
        stored under ``"plots"`` (str, in writing order).
    plot_option : str
        Name of ``plot_dir`` in error messages.

    Returns
    -------
    dict
        :func:`engine.summary.summary_dict` plus ``"convergence"`` and ``"plots"`` where given.
    """
    summary = _fresh_run_summary(ds, implied_paths, threads)
    if conv is not None:
        summary["convergence"] = conv
    if plot_dir:
        from .views.figures import save_set

        written = save_set(ds, cfg.with_inputs({"simulation.seed": int(ds.attrs["seed"])}), plot_dir, threads,
                           option=plot_option)
        summary["plots"] = [str(w) for w in written]
    return summary


def _fresh_run_summary(ds, implied_paths: int, threads: Optional[int]) -> dict:
    """:func:`engine.summary.summary_dict` of a run just simulated in this process, implied cost of capital included.

    The same dict as ``summary_dict(ds, implied=implied_paths > 0, implied_paths=implied_paths)``, to the bit;
    the implied cost of capital's unshifted re-run and its draws are the run's own first paths
    (:func:`engine.fairvalue.implied_for_run` with ``reuse_run``).
    """
    from .summary import summary_dict as summarize

    summary = summarize(ds, implied=False, threads=threads)
    if implied_paths > 0 and "config_toml" in ds.attrs:
        from .fairvalue import implied_for_run

        summary["implied_cost_of_capital"] = implied_for_run(ds, implied_paths, threads, reuse_run=True)
    return summary


def add_implied(summary: dict, cfg, threads: Optional[int] = None) -> dict:
    """Fill ``implied_cost_of_capital`` of a summary built without it (Dask / Zarr runs) by re-runs of ``cfg``.

    The re-runs use the summary's seed and at most :data:`engine.fairvalue.IMPLIED_PATHS` paths.
    Nothing is done when ``cfg`` is None or the summary has no such key. Returns ``summary`` (updated in place).
    """
    from .fairvalue import IMPLIED_PATHS, implied_cost_of_capital

    if cfg is not None and "implied_cost_of_capital" in summary:
        summary["implied_cost_of_capital"] = implied_cost_of_capital(
            cfg, paths=min(int(summary["paths"]), IMPLIED_PATHS), seed=int(summary["seed"]), threads=threads)
    return summary


def blocks_summary(res, cfg, store=None, threads: Optional[int] = None) -> dict:
    """The report dict of a run by :func:`engine.distributed.run_blocks`.

    Parameters
    ----------
    res : xarray.Dataset or None
        The run's results (unused when ``store`` is given).
    cfg : Config
        The run's config (implied cost of capital re-runs).
    store : str or Path, optional
        The Zarr store the run streamed into: summarised by :func:`engine.distributed.summarize_store`.
    threads : int, optional
        Worker threads of the implied cost of capital re-runs.
    """
    if store is not None:
        from .distributed import summarize_store

        summary = summarize_store(store)
    else:
        from .summary import summary_dict as summarize

        summary = summarize(res)
    return add_implied(summary, cfg, threads)


def batch_rows(configs: Sequence, dss: Sequence, implied_paths: int = 20_000,
               threads: Optional[int] = None) -> list:
    """One report dict per company of a batch (:func:`engine.distributed.run_batch`), each with its ``"config"``.

    Parameters
    ----------
    configs : sequence of str or Path
        The config files, in the order of ``dss``.
    dss : sequence of xarray.Dataset
        The results of each config, simulated in this session (their first paths stand in for the implied
        cost of capital's unshifted re-runs, :func:`engine.fairvalue.implied_for_run`).
    implied_paths : int
        Paths of the implied cost of capital re-runs; 0 skips them.
    threads : int, optional
        Worker threads of those re-runs.
    """
    rows = []
    for path, ds in zip(configs, dss):
        s = _fresh_run_summary(ds, implied_paths, threads)
        s["config"] = str(path)
        rows.append(s)
    return rows


def store_summary(store, threads: Optional[int] = None) -> dict:
    """The report dict of a Zarr store written by ``pricedin run --out RUN.zarr``, implied cost of capital included.

    The config stored in the store's attributes drives the implied re-runs; a store whose
    config cannot be read is summarised without them (:func:`engine.distributed.summarize_store`
    names what is wrong with a damaged store).
    """
    import xarray as xr

    from .distributed import summarize_store
    from .sensitivity import config_of

    try:
        cfg = config_of(xr.open_zarr(store))
    except Exception:  # noqa: BLE001 - summarize_store names what is wrong with the store
        cfg = None
    return add_implied(summarize_store(store), cfg, threads)


def report_html(results, html_out, with_tornado: bool = False, tornado_paths: Optional[int] = None,
                threads: Optional[int] = None, option: str = "html_out") -> Path:
    """Write the self-contained HTML report of a saved run (``pricedin report --html``); returns the page's path.

    Parameters
    ----------
    results : str or Path
        A results file of ``pricedin run --out FILE.nc``.
    html_out : str or Path
        The page to write (a name ending in ``.html``), atomically.
    with_tornado : bool
        Add the tornado: re-runs of the file's config with its seed, ``min(paths, tornado_paths or 2000)`` paths each.
    tornado_paths : int, optional
        Paths of each tornado re-run.
    threads : int, optional
        Worker threads of the re-runs.
    option : str
        Name of ``html_out`` in error messages.

    Raises
    ------
    engine.errors.InputError
        A missing results file, a bad page name or folder (checked before any re-run), a stress file,
        or an updated (weighted) run.
    """
    from .summary import open_results, refuse_weighted
    from .views.html import check_html_path, render_html, write_html

    ds = open_results(results)
    check_html_path(html_out, option)  # before the page (and any tornado re-run) is built
    refuse_weighted(ds, repr(str(results)))
    if "scenario" in ds.dims:
        raise InputError(f"{results!r} is a stress file; {option} is for the results of `pricedin run`")
    tor = None
    if with_tornado:
        from .sensitivity import config_of, tornado

        n = int(ds.sizes["path"])
        tor = tornado(config_of(ds), paths=min(n, tornado_paths or 2000), seed=int(ds.attrs["seed"]),
                      threads=threads)
    return write_html(render_html(ds, tornado=tor), html_out, option)


def scenario_file(config, cfg, scenarios_file=None, option: str = "scenarios_file") -> Path:
    """The stress scenario file of a run: ``scenarios_file`` when given, else the config's default.

    The default is :func:`engine.stress.default_scenario_file` (``simulation.stress_scenarios``, else
    ``stress/<config stem>.toml`` next to the config) and must exist.

    Raises
    ------
    engine.errors.InputError
        No file given and the default does not exist; the message names ``option`` as the fix.
    """
    from .stress import default_scenario_file

    path = Path(scenarios_file) if scenarios_file else default_scenario_file(config, cfg)
    if not scenarios_file and not path.is_file():
        named = cfg.simulation.stress_scenarios
        raise InputError(
            f"scenario file {str(path)!r} does not exist"
            + (f" (simulation.stress_scenarios = {named!r} in {config}, relative to the config's folder)" if named
               else f" (the default for {config}: stress/<config stem>.toml next to the config)")
            + f"; give one with {option} (see docs/stress.md for the format)")
    return path


def config_line(cfg) -> str:
    """One line describing a valid config: company, segments, drawn inputs, paths and horizon."""
    drawn = [p.key for p in cfg.parameters() if not p.spec.is_fixed]
    return (f"# valid: {cfg.company.name}, {len(cfg.segments)} segment(s), {len(drawn)} drawn input(s), "
            f"{cfg.simulation.paths:,} paths, horizon {cfg.simulation.horizon_years} years x "
            f"{cfg.simulation.steps_per_year} step(s)/year")
