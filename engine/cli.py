"""The ``pricedin`` command line: parses, validates, calls the library, prints.

Exit status: 0 done; 2 bad input (config or usage), with a message naming the key,
the value and the fix, and no traceback (``--debug`` shows it); 1 an internal error.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shlex
import sys
import time
from typing import Optional

import click

from .sampling import MAX_SEED

__all__ = ["main"]


class InputError(click.ClickException):
    """Bad input: printed without a traceback, exit status 2."""

    exit_code = 2

    def show(self, file=None):
        click.echo(f"error: {self.format_message()}", err=True)


def _guard(func):
    """Map library errors to exit codes: bad input 2, internal 1; ``--debug`` re-raises."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        debug = kwargs.pop("debug", False)
        from .errors import InputError as PricedinInputError

        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (PricedinInputError, FileNotFoundError, PermissionError) as e:
            if debug:
                raise
            raise InputError(str(e)) from None
        except KeyboardInterrupt:
            click.echo("interrupted (result files are written atomically: none is left half-written)", err=True)
            sys.exit(130)
        except MemoryError as e:
            if debug:
                raise
            raise InputError(f"out of memory ({str(e) or 'allocation failed'}); lower --paths (and, where the "
                             "command has them, drop --keep-paths, lower --max-memory-gb below the free memory, "
                             "or stream `run` into a Zarr store with --out RUN.zarr, which holds one block at a "
                             "time)") from None
        except Exception as e:  # noqa: BLE001
            if debug:
                raise
            _internal(e)

    return wrapper


def _internal(e: BaseException) -> None:
    click.echo(
        f"internal error: {type(e).__name__}: {e}\n(this is a bug in pricedin; run again with --debug "
        "for the traceback and report it)",
        err=True,
    )
    sys.exit(1)


def _version():
    from . import __version__

    return __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pricedin", prog_name="pricedin")
def main():
    """pricedin: the distribution of a company's value and P(today's price is justified).

    \b
    pricedin run configs/zhipu.toml            simulate and print the report
    pricedin validate configs/zhipu.toml       check a config, print it normalised
    pricedin report results.nc                 re-print the report of a saved run
    pricedin stress configs/zhipu.toml         stress scenarios on common random numbers
    """
    if "COLUMNS" not in os.environ and not sys.stdout.isatty():
        os.environ["COLUMNS"] = "160"  # piped or saved output: wide enough that tables do not truncate


_debug = click.option("--debug", is_flag=True, help="Show the Python traceback on errors.")


def _load_config(path):
    """Load and validate a config; print its warnings (valid but probably unintended settings) on stderr."""
    from .config import config_warnings, load_config

    cfg = load_config(path)
    for w in config_warnings(cfg):
        click.echo(f"warning: {w}", err=True)
    return cfg


def _common_run(f):
    opts = [
        click.option("--paths", type=click.IntRange(min=1), default=None, help="Number of paths (default: simulation.paths)."),
        click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=None, help="Seed (default: simulation.seed)."),
        click.option("--threads", type=click.IntRange(min=1), default=None, help="Worker threads (default: all cores); results do not depend on it."),
        click.option("--out", "out", type=click.Path(), default=None, help="Write the results Dataset to FILE.nc (atomically), or stream them block by block into a Zarr store RUN.zarr."),
        click.option("--keep-paths", is_flag=True, help="Also keep (path, time) variables: revenue, margin, FCFF, cash, shares, multiple, price."),
        click.option("--max-memory-gb", type=click.FloatRange(min=0.01), default=4.0, show_default=True, help="Refuse --keep-paths runs whose arrays would exceed this."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
        _debug,
    ]
    for o in reversed(opts):
        f = o(f)
    return f


@main.command()
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_common_run
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run blocks as tasks on a Dask cluster: tcp://host:port of a running scheduler, or local:N "
                   "for N worker processes on this machine (default: threads of this process).")
@click.option("--resume", is_flag=True,
              help="With --out RUN.zarr: finish an interrupted run, computing only its missing blocks.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Write the figures (hist, cdf, fan, tornado, convergence) as PNG into DIR.")
@click.option("--target-se", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Double the paths until the standard error of P(justified, DCF) is at most X (or --max-paths).")
@click.option("--target-rse", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Double the paths until SE / P(justified, DCF) is at most X (or --max-paths).")
@click.option("--max-paths", type=click.IntRange(min=1), default=10_000_000, show_default=True,
              help="Upper limit on paths for --target-se / --target-rse.")
@_guard
def run(configs, paths, seed, threads, out, keep_paths, max_memory_gb, as_json, quiet, scheduler=None,
        resume=False, plot_dir=None, target_se=None, target_rse=None, max_paths=10_000_000):
    """Simulate CONFIG and print the report.

    With several CONFIGs (e.g. configs/*.toml) every company is valued in one
    submission and one summary row per company is printed.
    """
    from .simulate import simulate
    from .summary import save_results, summarize

    zarr_out = out is not None and out.lower().rstrip("/").endswith(".zarr")
    if out is not None and not (out.lower().endswith(".nc") or zarr_out):
        raise InputError(f"--out {out!r}: results are saved as NetCDF (a file name ending in .nc) or streamed "
                         "into a Zarr store (a name ending in .zarr)")
    if resume and not zarr_out:
        raise InputError("--resume needs --out RUN.zarr: the Zarr store of the interrupted run")
    if out is not None and not zarr_out:
        from ._io import check_output_file

        check_output_file(out)  # a folder or an unwritable place is refused before the run, not after it
    if scheduler is not None:
        from .distributed import parse_scheduler

        parse_scheduler(scheduler)  # a bad value is exit 2 before any config is read
        if threads is not None:
            raise InputError("--threads is for the in-process backend; with --scheduler the cluster's workers "
                             "run the blocks (give local:N for N worker processes)")
    command = "pricedin " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if len(configs) > 1:
        return _run_batch(configs, paths, seed, threads, out, keep_paths, as_json, quiet, scheduler, plot_dir,
                          target_se, target_rse, command)
    cfg = _load_config(configs[0])
    if scheduler is not None or zarr_out:
        for flag, given in (("--keep-paths", keep_paths), ("--plot", plot_dir), ("--target-se", target_se),
                            ("--target-rse", target_rse)):
            if given:
                raise InputError(f"{flag} is not available with --scheduler or a .zarr --out yet; "
                                 "run in-process with a .nc --out for it")
        return _run_blocks(cfg, paths, seed, threads, out, zarr_out, resume, as_json, quiet, scheduler, command)
    if plot_dir is not None:  # an unwritable folder is refused before the run, not after it
        from pathlib import Path

        from ._io import _unlink, temp_beside

        _unlink(temp_beside(Path(plot_dir) / "hist.png", "--plot"))
    with _progress(quiet or as_json) as progress:
        sim = functools.partial(simulate, cfg, seed=seed, threads=threads, keep_paths=keep_paths,
                                memory_limit=int(max_memory_gb * 2**30), progress=progress, command=command)
        if target_se is None and target_rse is None:
            ds = sim(paths=paths)
            conv = None
        else:
            ds, conv = _run_to_target(sim, cfg, paths, target_se, target_rse, max_paths)
    if out:
        save_results(ds, out)
    summary = summarize(ds)
    if conv is not None:
        summary["convergence"] = conv
    if plot_dir:
        written = _write_plots(ds, cfg.model_copy(update={"simulation": cfg.simulation.model_copy(
            update={"seed": int(ds.attrs["seed"])})}), plot_dir, threads)
        summary["plots"] = [str(w) for w in written]
    _emit(summary, as_json, out)
    if not as_json and conv is not None:
        click.echo(_convergence_line(conv))
    if not as_json and plot_dir:
        click.echo(f"figures written to {plot_dir}: " + ", ".join(w.name for w in written))


def _run_blocks(cfg, paths, seed, threads, out, zarr_out, resume, as_json, quiet, scheduler, command):
    """``run`` on a Dask cluster and/or streamed into a Zarr store (:mod:`engine.distributed`)."""
    from .distributed import run_blocks, store_status, summarize_store
    from .summary import save_results, summarize

    try:
        with _progress(quiet or as_json) as progress:
            res = run_blocks(cfg, paths=paths, seed=seed, scheduler=scheduler, threads=threads,
                             store=out if zarr_out else None, resume=resume, progress=progress, command=command)
    except KeyboardInterrupt:
        if zarr_out:
            try:
                st = store_status(out)
                click.echo(f"interrupted: {st['done']} of {st['blocks']} blocks are in {out}; run the same command "
                           "with --resume to compute only the missing ones", err=True)
            except Exception:  # noqa: BLE001 - the store may not exist yet
                click.echo("interrupted before the store was written", err=True)
            sys.exit(130)
        raise
    if zarr_out:
        summary = summarize_store(out)
    else:
        if out:
            save_results(res, out)
        summary = summarize(res)
    _emit(summary, as_json, out)


def _run_batch(configs, paths, seed, threads, out, keep_paths, as_json, quiet, scheduler, plot_dir,
               target_se, target_rse, command):
    """``run A.toml B.toml ...``: every block of every config in one submission; one summary row each."""
    from .distributed import run_batch
    from .summary import summarize

    for flag, given in (("--out", out), ("--keep-paths", keep_paths), ("--plot", plot_dir),
                        ("--target-se", target_se), ("--target-rse", target_rse)):
        if given:
            raise InputError(f"{flag} takes one CONFIG; with {len(configs)} configs run them one by one for it")
    cfgs = [_load_config(c) for c in configs]
    with _progress(quiet or as_json) as progress:
        dss = run_batch(cfgs, paths=paths, seed=seed, scheduler=scheduler, threads=threads, progress=progress,
                        command=command)
    rows = []
    for path, ds in zip(configs, dss):
        s = summarize(ds)
        s["config"] = str(path)
        rows.append(s)
    if as_json:
        click.echo(json.dumps(_finite(rows), indent=2))
        return
    render_batch(rows)


def render_batch(rows: list, console=None) -> None:
    """Print one summary row per company (``run`` with several configs)."""
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False, width=None if sys.stdout.isatty() else 150)
    t = Table(title="Companies: value per share in each company's value unit; P(justified) with Wilson 95% CI",
              title_justify="left")
    for col in ("company", "config", "paths", "unit", "mean", "p50", "price", "P(DCF)", "95% CI", "P(market)",
                "failed"):
        t.add_column(col, justify="left" if col in ("company", "config", "unit") else "right")
    # file names, unless two configs share one (a/co.toml, b/co.toml): then the paths as given
    short = [Path(s["config"]).name for s in rows]
    names = {s["config"]: (n if short.count(n) == 1 else s["config"]) for s, n in zip(rows, short)}
    for s in rows:
        v, d, m = s["value_per_share"], s["p_justified"]["dcf"], s["p_justified"]["market"]
        t.add_row(s["company"], names[s["config"]], f"{s['paths']:,}", s["value_unit"], _short(v["mean"]), _short(v["p50"]),
                  _short(s["price"]), _prob(d["estimate"]), f"[{_prob(d['ci95_low'])}, {_prob(d['ci95_high'])}]",
                  _prob(m["estimate"]), _pct(s["failed_share"], 1))
    c.print(t)


def _run_to_target(sim, cfg, paths, target_se, target_rse, max_paths):
    """Run, then re-run with more whole blocks (doubling) until the SE target is met or ``max_paths``.

    By the seed contract a run of P paths is the prefix of any longer run with the
    same seed, so the final result equals a plain run of that many paths.
    """
    import numpy as np

    from .summary import proportion

    B = cfg.simulation.block_size
    n = min(int(paths or B), max_paths)
    while True:
        ds = sim(paths=n)
        k = int(np.count_nonzero(ds["justified_dcf"].values))
        pr = proportion(k, n)
        se, p = pr["se"], pr["estimate"]
        rse = se / p if p > 0 else float("inf")
        met = (target_se is None or se <= target_se) and (target_rse is None or rse <= target_rse)
        if met or n >= max_paths:
            break
        if cfg.simulation.sampling.value == "random":
            n = min(max_paths, 2 * n)  # plain random draws: any P is a prefix of a longer run
        else:
            n = min(max_paths, max(n + B, -(-2 * n // B) * B))  # LHS / Sobol: whole blocks only
    return ds, {"target_se": target_se, "target_rse": target_rse, "paths": int(n), "se": se,
                "rse": rse, "met": bool(met), "max_paths": int(max_paths)}


def _convergence_line(conv: dict) -> str:
    what = []
    if conv["target_se"] is not None:
        what.append(f"SE {_prob(conv['se'])} (target {_prob(conv['target_se'])})")
    if conv["target_rse"] is not None:
        what.append(f"relative SE {conv['rse']:.3g} (target {conv['target_rse']:.3g})")
    status = "met" if conv["met"] else f"NOT met: stopped at --max-paths {conv['max_paths']:,}"
    return f"convergence of P(justified, DCF) at {conv['paths']:,} paths: " + ", ".join(what) + f"; {status}"


@main.command()
@click.argument("results", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
@click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None,
              help="Write a self-contained HTML page (tables and figures) to FILE.html (atomically).")
@click.option("--tornado", "with_tornado", is_flag=True,
              help="With --html: add the tornado (re-runs the file's config; off by default).")
@click.option("--tornado-paths", type=click.IntRange(min=10), default=None,
              help="With --tornado: paths of each tornado run (default: the run's paths, at most 2,000).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Worker threads (tornado re-runs).")
@click.option("--price", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Re-evaluate both lenses at this price (value unit) from the stored values; no new run.")
@_debug
@_guard
def report(results, as_json, html_out=None, with_tornado=False, tornado_paths=None, threads=None, price=None):
    """Re-print the report of a saved RESULTS file (.nc) or store (.zarr) without simulating.

    A file written by ``pricedin stress --out`` re-prints the stress tables.
    ``--html FILE.html`` writes the report as one self-contained web page instead.
    A .zarr store (``run --out RUN.zarr``) is summarised exactly when it fits in
    memory (2 GiB), else streamed block by block (see docs/scaling.md).
    """
    from .summary import open_results, summarize

    if price is not None and (html_out is not None or results.lower().rstrip("/").endswith(".zarr")):
        raise InputError("--price re-prices a .nc results file in the terminal or with --json; drop --html, "
                         "or write the run with --out FILE.nc")
    if results.lower().rstrip("/").endswith(".zarr"):
        if html_out is not None:
            raise InputError("--html is for .nc results; write the run with --out FILE.nc for a page")
        from .distributed import summarize_store

        _emit(summarize_store(results), as_json, None)
        return

    if html_out is None and (with_tornado or tornado_paths is not None):
        raise InputError("--tornado / --tornado-paths are for the HTML page; add --html FILE.html")
    if html_out is not None:
        if as_json:
            raise InputError("--json and --html are separate outputs; give one of them")
        _report_html(results, html_out, with_tornado, tornado_paths, threads)
        return
    ds = open_results(results)
    if "scenario" in ds.dims:
        if price is not None:
            raise InputError(f"--price {price:g}: {results!r} is a stress file (one run per scenario); re-price the "
                             "results of `pricedin run CONFIG --out RUN.nc`, or drop --price")
        from .stress import stress_report_from_dataset

        rep = stress_report_from_dataset(ds)
        if as_json:
            click.echo(json.dumps(_finite(rep), indent=2))
        else:
            render_stress(rep)
        return
    if price is not None or "weight" in ds:  # a new price, or a file written by `pricedin update`: engine.update
        from . import update as upd

        if price is not None:
            r = upd.reprice(ds, price)
            click.echo(upd.reprice_json(r)) if as_json else upd.render_reprice(r)
        else:
            r = upd.result_from_dataset(ds)
            click.echo(r.to_json()) if as_json else upd.render_update(r)
        return
    _emit(summarize(ds), as_json, None)


@main.command("update")
@click.argument("results", type=click.Path(dir_okay=False))
@click.argument("observations", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write the run plus its path weights to UPDATED.nc (`pricedin report` reads the weights).")
@click.option("--json", "as_json", is_flag=True, help="Print the update as one JSON object on stdout.")
@_debug
@_guard
def update_cmd(results, observations, out, as_json):
    """Update a saved --keep-paths RESULTS.nc on reported figures in OBSERVATIONS (.toml/.yaml).

    Each path is weighted by the likelihood of the figures (importance weighting); the report is
    recomputed with the weights and a "what changed" table. See README, "Updating on reported figures".
    """
    from . import update as upd
    from .summary import open_results, save_results

    if out is not None and not out.lower().endswith(".nc"):
        raise InputError(f"--out {out!r}: the updated run is saved as NetCDF; give a file name ending in .nc")
    ds = open_results(results)
    r = upd.update(ds, upd.load_observations(observations))
    if out is not None:
        save_results(upd.updated_dataset(ds, r), out)
    if as_json:
        click.echo(r.to_json())
        if r.warning:
            click.echo(f"warning: {r.warning}", err=True)
    else:
        upd.render_update(r)
        if out is not None:
            click.echo(f"updated results written to {out}")


def _report_html(results, html_out, with_tornado, tornado_paths, threads):
    """``report --html``: check the target, load, build the page (engine.html), write it atomically."""
    from .html import check_html_path, render_html, write_html
    from .summary import open_results

    ds = open_results(results)
    check_html_path(html_out)  # before the page (and any tornado re-run) is built
    if "scenario" in ds.dims:
        raise InputError(f"{results!r} is a stress file; --html is for the results of `pricedin run`")
    if "weight" in ds:
        raise InputError(f"{results!r} was written by `pricedin update` (path weights); the HTML page shows "
                         "unweighted runs only: drop --html for the weighted report, or give the original run")
    tor = None
    if with_tornado:
        from .sensitivity import config_of, tornado

        n = int(ds.sizes["path"])
        tor = tornado(config_of(ds), paths=min(n, tornado_paths or 2000), seed=int(ds.attrs["seed"]),
                      threads=threads)
    click.echo(f"wrote {write_html(render_html(ds, tornado=tor), html_out)}")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@_debug
@_guard
def validate(config):
    """Check CONFIG and print it normalised (TOML)."""

    cfg = _load_config(config)
    drawn = [p.key for p in cfg.parameters() if not p.spec.is_fixed]
    click.echo(cfg.to_toml())
    click.echo(
        f"# valid: {cfg.company.name}, {len(cfg.segments)} segment(s), {len(drawn)} drawn input(s), "
        f"{cfg.simulation.paths:,} paths, horizon {cfg.simulation.horizon_years} years x "
        f"{cfg.simulation.steps_per_year} step(s)/year",
        err=True,
    )


# --------------------------------------------------------------------------- stress


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--scenarios", "scenarios_file", type=click.Path(dir_okay=False), default=None,
              help="Scenario file (TOML); default: simulation.stress_scenarios, else stress/<config stem>.toml "
                   "next to the config.")
@click.option("--reverse", is_flag=True,
              help="Reverse stress: the shift of each headline input that brings P(justified, DCF) to 50%.")
@click.option("--input", "reverse_inputs", multiple=True, metavar="KEY",
              help="With --reverse: search this input (key path) instead of the headline inputs; repeatable.")
@click.option("--paths", type=click.IntRange(min=1), default=None,
              help="Paths per scenario (default: simulation.paths; with --reverse at most 20,000).")
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), default=None, help="Seed (default: simulation.seed).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Worker threads (default: all cores); results do not depend on it.")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write one Dataset with a scenario dimension to FILE.nc (atomically).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run (scenario, block) tasks on a Dask cluster: tcp://host:port or local:N; same results as threads.")
@_debug
@_guard
def stress(config, scenarios_file, reverse, reverse_inputs, paths, seed, threads, out, as_json, quiet,
           scheduler=None):
    """Run the base and every stress scenario of CONFIG on common random numbers."""
    from pathlib import Path
    from .stress import default_scenario_file, load_scenarios, reverse_stress, run_stress
    from .summary import save_results

    if scheduler is not None:
        from .distributed import parse_scheduler

        parse_scheduler(scheduler)  # a bad value is exit 2 before any config is read
        if threads is not None:
            raise InputError("--threads is for the in-process backend; with --scheduler the cluster's workers "
                             "run the blocks (drop --threads)")
        if reverse:
            raise InputError("--reverse runs in-process only; drop --scheduler")
    cfg = _load_config(config)
    if reverse:
        if out:
            raise InputError("--out is not available with --reverse (it writes no per-path results)")
        if scenarios_file:
            raise InputError("--scenarios is not used by --reverse (it shifts one headline input at a time); "
                             "drop one of them")
        note = None if (quiet or as_json) else (lambda key: click.echo(f"searching {key} ...", err=True))
        res = reverse_stress(cfg, keys=list(reverse_inputs) or None, paths=paths, seed=seed, threads=threads,
                             progress=note)
        if as_json:
            click.echo(json.dumps(_finite(res), indent=2))
        else:
            render_reverse(res, cfg.company.name)
        return
    if reverse_inputs:
        raise InputError("--input KEY is for --reverse; add --reverse or drop --input")
    if out is not None and not out.lower().endswith(".nc"):
        raise InputError(f"--out {out!r}: results are saved as NetCDF; give a file name ending in .nc")
    if out is not None:
        from ._io import check_output_file

        check_output_file(out)
    path = Path(scenarios_file) if scenarios_file else default_scenario_file(config, cfg)
    if not scenarios_file and not path.is_file():
        named = cfg.simulation.stress_scenarios
        raise InputError(
            f"scenario file {str(path)!r} does not exist"
            + (f" (simulation.stress_scenarios = {named!r} in {config}, relative to the config's folder)" if named
               else f" (the default for {config}: stress/<config stem>.toml next to the config)")
            + "; give one with --scenarios FILE (see docs/stress.md for the format)")
    scen = load_scenarios(path)
    command = "pricedin " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with _progress(quiet or as_json) as progress:
        res = run_stress(cfg, scen, paths=paths, seed=seed, threads=threads, progress=progress,
                         command=command, keep_datasets=bool(out), scheduler=scheduler)
    res.info["scenario_file"] = str(path)
    if out:
        res.info["scenario_file_toml"] = path.read_text(encoding="utf-8")
        save_results(res.dataset(), out)
    if as_json:
        click.echo(json.dumps(_finite(res.to_dict()), indent=2))
        return
    render_stress(res.to_dict())
    if out:
        click.echo(f"results written to {out}")


def _short(x: float) -> str:
    """A number in at most ~7 characters: 1.07M, -137k, 69.5k, 12.3, 0.0123."""
    if not math.isfinite(x):
        return "n/a"
    a = abs(x)
    for lim, suf in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= lim:
            v = x / lim
            return f"{v:.3g}{suf}" if abs(v) < 100 else f"{v:.0f}{suf}"
    return f"{x:.3g}"


def _plus(text: str, x: float) -> str:
    return "0" if x == 0 else (("+" if x > 0 else "") + text)


def render_stress(r: dict, console=None) -> None:
    """Print the stress tables (rich): levels by scenario, then paired changes from base with 95% intervals."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False, width=None if sys.stdout.isatty() else 110)
    unit = r["value_unit"]
    c.print(
        f"[bold]{r['company']}[/bold]: stress test, base + {len(r['scenarios'])} scenarios, {r['paths']:,} paths "
        f"each, seed {r['seed']}, common random numbers; scenarios from {r.get('scenario_file', '')}"
    )
    t = Table(title=f"Value per share ({unit}; price {_short(r['price'])}) and P(justified)", title_justify="left")
    for col in ("scenario", "p5", "p50", "p95", "mean", "P(DCF)", "P(market)", "failed"):
        t.add_column(col, justify="left" if col == "scenario" else "right")
    rows = [r["base"]] + r["scenarios"]
    for s in rows:
        v, pj = s["value_per_share"], s["p_justified"]
        t.add_row(s["name"], _short(v["p5"]), _short(v["p50"]), _short(v["p95"]), _short(v["mean"]),
                  _prob(pj["dcf"]["estimate"]), _prob(pj["market"]["estimate"]), _pct(s["failed_share"], 1))
    c.print(t)
    d = Table(title="Change from base, same paths: estimate ± paired 95% half-width (pp = percentage points)",
              title_justify="left")
    for col in ("scenario", "Δ mean", "Δ P(DCF), pp", "Δ P(market), pp", "Δ failed, pp"):
        d.add_column(col, justify="left" if col == "scenario" else "right")

    def cell(est, ci, f):
        half = (ci[1] - ci[0]) / 2
        return "0 ± 0" if est == 0 and half == 0 else f"{_plus(f(est), est)} ± {f(half)}"

    pp = lambda x: f"{100 * abs(x):.2f}" if x >= 0 else f"-{100 * abs(x):.2f}"  # noqa: E731
    for s in r["scenarios"]:
        x = s["delta"]
        d.add_row(s["name"], cell(x["mean"], x["mean_ci95"], _short),
                  cell(x["p_justified_dcf"], x["p_justified_dcf_ci95"], pp),
                  cell(x["p_justified_market"], x["p_justified_market_ci95"], pp),
                  cell(x["failed_share"], x["failed_share_ci95"], pp))
    c.print(d)
    for s in r["scenarios"]:
        c.print(f"  [bold]{s['name']}[/bold]: {s['description']}")


def render_reverse(r: dict, company: str, console=None) -> None:
    """Print the reverse stress table (rich)."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False, width=None if sys.stdout.isatty() else 150)
    c.print(
        f"[bold]{company}[/bold]: reverse stress, the shift of one input (rest of the base held) that brings "
        f"P(justified, DCF) to {r['target']:.0%}; {r['paths']:,} paths, seed {r['seed']}, common random numbers; "
        f"base P = {_prob(r['p_base'])}"
    )
    t = Table(title_justify="left")
    for col in ("input", "base median", "shift needed", "bracket", "median then", "P at bracket ends",
                "range searched", "P over range"):
        t.add_column(col, justify="left" if col == "input" else "right", no_wrap=col == "input")
    for e in r["inputs"]:
        rng = f"[{e['range'][0]:+.4g}, {e['range'][1]:+.4g}]" if "range" in e else "-"
        prng = f"{_prob(e['p_min'])} .. {_prob(e['p_max'])}" if "p_min" in e else "-"
        if e["status"] == "found":
            b = e["shift_bracket"]
            t.add_row(e["key"], f"{e['base_median']:.4g}", f"{e['shift']:+.4g}", f"[{b[0]:+.4g}, {b[1]:+.4g}]",
                      f"{e['value_median']:.4g}", f"{_prob(e['p_bracket'][0])} / {_prob(e['p_bracket'][1])}",
                      rng, prng)
        else:
            t.add_row(e["key"], f"{e['base_median']:.4g}", "none in range", "-", "-", "-", rng, prng)
    c.print(t)
    c.print("P is evaluated at both ends of the range searched and at 7 evenly spaced shifts between 0 and each end "
            "('P over range': its min .. max there); where it crosses the target, the crossing nearest the base is narrowed by brentq "
            "to 1/1000 of the range searched, and the answer is that bracket (P is a step function of the shift on a "
            "finite sample). 'none in range': no shift evaluated reaches the target.")


# --------------------------------------------------------------------------- output


class _progress:
    """Rich progress bar on stderr, shown once a run has taken over a second."""

    def __init__(self, disabled: bool):
        self.disabled = disabled
        self.bar = None
        self.task = None
        self.t0 = time.perf_counter()

    def __enter__(self):
        if self.disabled:
            return None
        from rich.console import Console

        return self if Console(stderr=True).is_terminal else None

    def __call__(self, done, total):
        if self.bar is None:
            if time.perf_counter() - self.t0 < 1.0 or done >= total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("paths"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("sim", total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


def _emit(summary: dict, as_json: bool, out):
    if as_json:
        click.echo(json.dumps(_finite(summary), indent=2))
        return
    render_report(summary)
    if out:
        click.echo(f"results written to {out}")


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _money(x: float, scale: Optional[float] = None) -> str:
    """An amount: 1,234 / 12.35 / 0.1235 by its size, or by ``scale`` (the column's largest) when given."""
    if not math.isfinite(x):
        return "n/a"
    a = abs(x) if scale is None else max(abs(x), scale)
    if a >= 1e15:
        return f"{x:.3e}"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:,.2f}"
    return f"{x:.4g}"


def _pct(x: float, digits=1) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.{digits}f}%"


def _prob(x: float) -> str:
    """A probability as a percentage with 3 significant digits (0.0384%, 3.11%)."""
    if x == 0:
        return "0%"
    return f"{100 * x:.3g}%"


def render_report(s: dict, console=None) -> None:
    """Print the run report (rich tables) to stdout."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    unit = s["value_unit"]
    c.print(
        f"[bold]{s['company']}[/bold]: {s['paths']:,} paths, seed {s['seed']}, horizon {s['horizon_years']} years, "
        f"{s['sampling']} sampling"
    )
    if not s["per_share"]:
        whole = unit.replace(" (whole equity)", "")
        c.print(f"[yellow]No share count in the config: 'per share' means the whole equity, in {whole}.[/yellow]")
    v = s["value_per_share"]
    t = Table(title=f"DCF value per share, {unit}", title_justify="left")
    t.add_column("statistic")
    t.add_column("value", justify="right")
    # one number of decimals for the whole column, set by its largest amount (594 next to 4,747, not 594.06)
    col = [v["mean"], v["sd"], s["price"]] + [v[f"p{q}"] for q in (1, 5, 10, 25, 50, 75, 90, 95, 99)]
    scale = max((abs(x) for x in col if math.isfinite(x)), default=0.0)
    m = functools.partial(_money, scale=scale)
    t.add_row("mean", f"{m(v['mean'])}  (standard error {_money(v['se_mean'])})")
    t.add_row("standard deviation", m(v["sd"]))
    for q in (1, 5, 10, 25, 50, 75, 90, 95, 99):
        label = {1: "1st", 50: "median"}.get(q, f"{q}th")
        t.add_row(label if q == 50 else f"{label} percentile", m(v[f"p{q}"]))
    t.add_row("[bold]today's price[/bold]", f"[bold]{m(s['price'])}[/bold]")
    t.add_row("percentile of today's price", f"{s['price_percentile']:.2f}")
    c.print(t)
    pj = Table(title="P(today's price is justified)", title_justify="left")
    for col, j in (("lens", "left"), ("estimate", "right"), ("std error", "right"), ("Wilson 95% CI", "right"),
                   ("paths", "right"), ("justified when", "left")):
        pj.add_column(col, justify=j)
    d, m = s["p_justified"]["dcf"], s["p_justified"]["market"]
    pj.add_row("DCF", _prob(d["estimate"]), _prob(d["se"]), f"[{_prob(d['ci95_low'])}, {_prob(d['ci95_high'])}]",
               f"{d['hits']:,}", "value per share >= price")
    pj.add_row("market", _prob(m["estimate"]), _prob(m["se"]), f"[{_prob(m['ci95_low'])}, {_prob(m['ci95_high'])}]",
               f"{m['hits']:,}", "return >= cost of equity")
    c.print(pj)
    if s.get("sampling", "random") != "random":
        c.print(f"[dim]Standard errors and intervals assume independent paths; with {s['sampling']} sampling "
                "they are conservative (stratified designs vary less).[/dim]")
    o = Table(title="Outcomes", title_justify="left", show_header=False)
    o.add_column("what")
    o.add_column("value", justify="right")
    o.add_row("failed paths (share)", _pct(s["failed_share"], 2))
    o.add_row("median annual holder return to the horizon", _pct(s["median_horizon_return"]))
    o.add_row("median revenue CAGR over the horizon", _pct(s["median_revenue_cagr"]))
    o.add_row("median share count at horizon / today", f"{s['median_dilution']:.2f}x")
    o.add_row("median terminal-value share of value (surviving paths)", _pct(s["median_terminal_share"]))
    o.add_row("paths with terminal spread clipped to the minimum", f"{s['tv_clipped']:,}")
    if s["floored"]:
        o.add_row("paths with equity floored at 0 (limited liability)", f"{s['floored']:,}")
    o.add_row("elapsed", f"{s['elapsed_s']:.2f} s")
    c.print(o)
    ap = s.get("approximation")
    if ap and not ap["exact"]:
        worst = max(ap["max_abs_error"].values())
        c.print(f"[yellow]Approximate quantiles (store too large to load): {ap['method']}; largest possible "
                f"absolute error {_money(worst)}.[/yellow]")
    if s.get("must_believe"):
        render_must_believe(s["must_believe"], c)


# --------------------------------------------------------------------------- explain the answer


def _fmt_value(x, fmt: str) -> str:
    """A median formatted by its kind: fractions as %, multiples as 'x', money and numbers plainly."""
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    if fmt == "fraction":
        return f"{100 * x:.1f}%"
    if fmt == "multiple":
        return f"{x:.2f}x"
    return _money(x)


def render_must_believe(mb: dict, console=None) -> None:
    """Print the 'what you must believe' table of :func:`engine.summary.must_believe`."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    ld, lm = mb["lenses"]["dcf"], mb["lenses"]["market"]
    t = Table(
        title=(f"What you must believe: medians over all {mb['paths']:,} paths vs the {ld['justified_paths']:,} "
               f"DCF-justified and {lm['justified_paths']:,} market-justified paths (money in {mb['money_unit']})"),
        title_justify="left",
    )
    t.add_column("outcome / drawn input", no_wrap=True)
    t.add_column("all", justify="right")
    t.add_column("DCF ok", justify="right")
    t.add_column("pctl", justify="right")
    t.add_column("market ok", justify="right")
    t.caption = ("'DCF ok' / 'market ok': medians over the justified paths; 'pctl': where the DCF-justified "
                 "median falls among all paths (50 = nothing special to believe)")
    for r in mb["rows"]:
        pct = r.get("dcf_percentile")
        t.add_row(
            f"[bold]{r['label']}[/bold]" if r["kind"] == "outcome" else r["label"],
            _fmt_value(r["all"], r["format"]),
            _fmt_value(r["dcf"], r["format"]),
            "n/a" if pct is None else f"{pct:.0f}",
            _fmt_value(r["market"], r["format"]),
        )
    c.print(t)
    for lens in ("dcf", "market"):
        if mb["lenses"][lens]["note"]:
            c.print(f"[yellow]{mb['lenses'][lens]['note']}[/yellow]")
    if mb["base_rates"]:
        c.print("[dim]Base rates, for reference (published figures for small companies and for software companies; "
                "they are shown for every company, so judge how far they apply to this one):[/dim]")
    for b in mb["base_rates"]:
        mark = "[bold red]![/bold red] " if b.get("exceeds") and b["what"] != "rule_of_40" else "  "
        extra = ""
        if b.get("model_share") is not None and b.get("base_share") is not None:
            extra = (f" Model: {100 * b['model_share']:.1f}% of all paths"
                     + (f", {100 * b['justified_share']:.1f}% of justified paths" if b.get("justified_share") is not None else "")
                     + f" vs base rate {100 * b['base_share']:.1f}%.")
        c.print(f"{mark}{b['statement']}.{extra}")
        c.print(f"    [dim]base rate: {b['text']}[/dim]")


def _refuse_stress_file(ds, path):
    """A run's results pass; a stress file (one run per scenario) is refused with what to do instead."""
    if "scenario" in ds.dims:
        raise InputError(f"{str(path)!r} is a stress file (one run per scenario); this command takes the results of "
                         "`pricedin run CONFIG --out FILE.nc` (`pricedin report` prints a stress file)")
    return ds


def _load_target(target, paths, threads, keep_paths=False):
    """A config file is simulated (``paths`` paths); a ``.nc`` results file is loaded. Returns (ds, cfg)."""
    from .simulate import simulate
    from .summary import open_results

    if str(target).lower().endswith(".nc"):
        ds = _refuse_stress_file(open_results(target), target)
        return ds, None
    cfg = _load_config(target)
    ds = simulate(cfg, paths=paths, threads=threads, keep_paths=keep_paths)
    return ds, cfg


@main.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--paths", type=click.IntRange(min=10), default=5000, show_default=True,
              help="Paths of the run when TARGET is a config.")
@click.option("--tornado-paths", type=click.IntRange(min=10), default=None,
              help="Paths of each tornado run (default: the run's paths; a prefix of the same seed).")
@click.option("--low", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.10, show_default=True,
              help="Tornado low quantile.")
@click.option("--high", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.90, show_default=True,
              help="Tornado high quantile.")
@click.option("--bins", type=click.IntRange(min=2), default=None, help="Quantile bins of the first-order index.")
@click.option("--no-tornado", is_flag=True, help="Only the global part (no re-runs).")
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True,
              help="Rows printed per table (--json always lists every input).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Worker threads.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@_debug
@_guard
def sensitivity(target, paths, tornado_paths, low, high, bins, no_tornado, top, threads, as_json):
    """Tornado and global sensitivity of value per share and P(justified).

    TARGET is a config (simulated with --paths) or a saved results file (.nc): the
    global part (rank correlations, first-order indices) then needs no re-run; the
    tornado re-runs the file's own config with the same seed.
    """
    from .sensitivity import sensitivity as _sens

    if not low < high:
        raise InputError(f"--low {low} must be below --high {high}")
    ds, cfg = _load_target(target, paths, threads)
    res = _sens(ds, cfg, tornado_paths=tornado_paths, threads=threads, low=low, high=high, bins=bins,
                with_tornado=not no_tornado)
    if as_json:
        click.echo(json.dumps(_finite(res), indent=2))
        return
    render_sensitivity(res, top=top)


def _input_value(x: float) -> str:
    """An input's value in a table: 11,450 (no exponent) from 1,000 up, 4 significant digits below."""
    if not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1e3 else f"{x:.4g}"


def render_sensitivity(res: dict, console=None, top: int = 15) -> None:
    """Print the tornado and global sensitivity tables."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    tor = res.get("tornado")
    if tor:
        unit = tor["value_unit"]
        t = Table(title=(f"Tornado: median value per share [{unit}] and P(justified, DCF) with each input at its "
                         f"{100 * tor['low']:g}th / {100 * tor['high']:g}th percentile ({tor['paths']:,} paths, "
                         f"seed {tor['seed']}); base median {_money(tor['base_median'])}, "
                         f"base P {_prob(tor['base_p_justified'])}, price {_money(tor['price'])}"),
                  title_justify="left")
        for col, j in (("input", "left"), ("low value", "right"), ("high value", "right"), ("median @low", "right"),
                       ("median @high", "right"), ("swing", "right"), ("P @low", "right"), ("P @high", "right")):
            t.add_column(col, justify=j, no_wrap=(col == "input"))
        for r in tor["inputs"][:top]:
            t.add_row(r["key"], _input_value(r["low_value"]), _input_value(r["high_value"]), _money(r["median_low"]),
                      _money(r["median_high"]), _money(r["swing"]), _prob(r["p_low"]), _prob(r["p_high"]))
        c.print(t)
        if len(tor["inputs"]) > top:
            c.print(f"the {top} largest swings of {len(tor['inputs'])} inputs; --top N for more, --json for all")
        c.print(f"[dim]{tor['method']}[/dim]")
    g = res["global"]
    t = Table(title=f"Global sensitivity from {g['paths']:,} saved draws ({g['bins']} quantile bins)",
              title_justify="left")
    for col in ("input", "Spearman (value)", "Spearman (justified)", "S_i (value)", "S_i (justified)"):
        t.add_column(col, justify="left" if col == "input" else "right", no_wrap=(col == "input"))
    f = lambda x: "n/a" if x is None or not math.isfinite(x) else f"{x:+.3f}"  # noqa: E731
    f2 = lambda x: "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"  # noqa: E731
    for r in g["inputs"][:top]:
        t.add_row(r["key"], f(r["spearman_value"]), f(r["spearman_justified"]), f2(r["s_value"]), f2(r["s_justified"]))
    c.print(t)
    if len(g["inputs"]) > top:
        c.print(f"the {top} largest |Spearman (value)| of {len(g['inputs'])} inputs; --top N for more, --json for all")
    c.print(f"sum of first-order indices (value): {g['sum_s_value']:.3f}"
            + ("  [yellow](inputs are rank-correlated: S_i is a correlation ratio, not a variance share)[/yellow]"
               if g["correlated_inputs"] else ""))
    c.print(f"[dim]{g['method']}[/dim]")


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--paths", type=click.IntRange(min=0), default=5000, show_default=True,
              help="Paths of the run that places each implied value in its distribution (0: no run).")
@click.option("--max-horizon", type=click.IntRange(1, 100), default=50, show_default=True,
              help="Longest horizon searched for the implied forecast period [years].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Worker threads.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@_debug
@_guard
def implied(config, paths, max_horizon, threads, as_json):
    """Reverse DCF: the growth, margin and forecast period today's price implies."""
    from .implied import implied as _implied
    from .simulate import simulate

    cfg = _load_config(config)
    ds = simulate(cfg, paths=paths, threads=threads) if paths else None
    res = _implied(cfg, ds, max_horizon=max_horizon)
    if as_json:
        click.echo(json.dumps(_finite(res), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    c = Console(soft_wrap=False)
    pct = lambda p: "n/a" if p is None else f"{p:.1f}"  # noqa: E731
    t = Table(title=(f"What today's price implies ({_money(res['price'])} {res['value_unit']}; base case worth "
                     f"{_money(res['base_value'])})"), title_justify="left")
    for col in ("question", "implied", "percentile in the run", "run median"):
        t.add_column(col, justify="left" if col == "question" else "right")
    g = res["growth"]
    t.add_row(f"constant revenue growth (CAGR over {res['horizon_years']} years)",
              _pct(g["implied_cagr"]) if g["implied_cagr"] is not None else "none", pct(g["percentile_in_run"]),
              _pct(g["run_median_cagr"]) if g["run_median_cagr"] is not None else "n/a")
    m = res["margin"]
    t.add_row(f"{m['input']}", _pct(m["implied"]) if m["implied"] is not None else "none",
              pct(m["percentile_in_run"]),
              _pct(m["run_median"]) if m["run_median"] is not None else f"{_pct(m['input_median'])} (config)")
    fp = res["forecast_period"]
    t.add_row("market-implied forecast period", f"{fp['years']} years" if fp["years"] else f"> {fp['max_searched']} years",
              "", f"{res['horizon_years']} years (config)")
    c.print(t)
    for part in (g, m, fp):
        if part.get("note"):
            c.print(f"[yellow]{part['note']}[/yellow]")
    c.print(f"[dim]{res['method']}[/dim]")


@main.command()
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(["hist", "cdf", "fan", "tornado", "convergence"]), default="hist",
              show_default=True, help="Which figure.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), required=True, help="PNG file to write.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Worker threads (tornado re-runs).")
@_debug
@_guard
def plot(results, kind, output, threads):
    """Draw a figure of a saved RESULTS file (.nc) into a PNG file."""
    from .plots import plot as _plot
    from .summary import open_results

    if not output.lower().endswith(".png"):
        raise InputError(f"-o {output!r}: figures are written as PNG; give a file name ending in .png")
    ds = _refuse_stress_file(open_results(results), results)
    click.echo(f"wrote {_plot(ds, kind, output, threads=threads)}")


def _write_plots(ds, cfg, folder, threads, paths_cap: int = 2000):
    """The ``run --plot DIR`` set; the fan uses a re-run of at most ``paths_cap`` kept paths (same seed)."""
    from pathlib import Path

    from .plots import plot as _plot
    from .simulate import simulate

    written = []
    for kind in ("hist", "cdf", "tornado", "convergence"):
        written.append(_plot(ds, kind, Path(folder) / f"{kind}.png", threads=threads, option="--plot"))
    kept = ds if "revenue" in ds else simulate(cfg, paths=min(paths_cap, int(ds.sizes["path"])),
                                               seed=int(ds.attrs["seed"]), threads=threads, keep_paths=True)
    written.append(_plot(kept, "fan", Path(folder) / "fan.png", option="--plot"))
    return written


if __name__ == "__main__":  # pragma: no cover
    main()
