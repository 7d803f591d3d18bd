"""The ``pricedin`` command line: parses, validates, calls the library, prints.

Exit status: 0 done; 2 bad input (config or usage), with a message naming the key,
the value and the fix, and no traceback (``--debug`` shows it); 1 an internal error;
141 (128 + SIGPIPE, what a shell reports for any tool whose reader went away) when the
reader of stdout closed it early (``pricedin run ... | head``), with nothing on stderr;
74 (``EX_IOERR`` of sysexits.h) when the system cannot write (a full device or quota, a
read-only file system, an I/O error), with what failed on stderr.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import shlex
import sys

import click

from ._cli_support import (EXIT_CLOSED_PIPE, MAX_SEED, closed_pipe, end_process, flag_words,  # noqa: F401
                           options, stdout_is_devnull)
from .views import tables
from .views.format import json_safe
from .views.progress import ProgressBar as _progress

__all__ = ["main"]  # EXIT_CLOSED_PIPE, MAX_SEED and flag_words are read here too (engine._cli_support)


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
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise
        except (PricedinInputError, FileNotFoundError, PermissionError) as e:
            if debug:
                raise
            raise InputError(flag_words(str(e))) from None
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
        except OSError as e:
            if debug:
                raise
            if e.errno not in _IO_ERRNOS:
                _internal_error(e)
            where = f" {e.filename}" if e.filename else " the output"
            click.echo(f"cannot write{where}: {e.strerror or e} (the system's error, not pricedin's); free space "
                       "on that device or write somewhere else (--out, or redirect the output)", err=True)
            if not e.filename:
                _discard_stdout()  # what stdout still buffers would fail again at exit
            sys.exit(EXIT_IO_ERROR)
        except Exception as e:  # noqa: BLE001
            if debug:
                raise
            _internal_error(e)

    return wrapper


#: Exit status of an I/O error of the system (``EX_IOERR``, sysexits.h).
EXIT_IO_ERROR = 74
#: Errors of the system, not of pricedin: a full device or quota, a read-only file system, an I/O error.
_IO_ERRNOS = frozenset(getattr(errno, n) for n in ("ENOSPC", "EDQUOT", "EROFS", "EIO") if hasattr(errno, n))


def _internal_error(e: BaseException) -> None:
    """Exit 1 for an exception no check anticipated: its type and message, and what to do."""
    click.echo(f"internal error: {type(e).__name__}: {e}\n(this is a bug in pricedin; run again with "
               "--debug for the traceback and report it)", err=True)
    sys.exit(1)


def _discard_stdout() -> None:
    """Point stdout at devnull (as :func:`engine._cli_support.closed_pipe` does): its buffer cannot be written."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (a test runner's buffer)
        pass


class _Main(click.Group):
    """The command group; a closed stdout (``pricedin run ... | head``) ends quietly with status 141."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            closed_pipe()

    def main(self, args=None, *rest, **kwargs):
        was_devnull = stdout_is_devnull()
        try:
            return super().main(args, *rest, **kwargs)
        except SystemExit as e:
            # rich handles a closed pipe itself (Console.on_broken_pipe): stdout pointed at devnull, then exit 1
            if e.code == 1 and not was_devnull and stdout_is_devnull():
                sys.exit(EXIT_CLOSED_PIPE)
            try:
                sys.stdout.flush()  # the last buffered output: the reader may be gone by now
            except BrokenPipeError:
                closed_pipe()
            except (OSError, ValueError, AttributeError):
                pass
            if args is None and _is_process_entry():
                end_process(e.code)
            raise


def _is_process_entry() -> bool:
    """Whether this process is the ``pricedin`` command itself (its console script, or ``python -m engine.cli``).

    Not a notebook, a test runner or a script that calls :func:`main` and goes on after it.
    """
    first = sys.argv[0] if sys.argv else ""
    name = os.path.basename(first).lower()
    return name in ("pricedin", "pricedin.exe", "pricedin-script.py") or (
        bool(first) and os.path.abspath(first) == os.path.abspath(__file__))


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
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
    if _is_process_entry() and "numpy" not in sys.modules:
        # one OpenBLAS thread unless the user says otherwise: the commands' linear algebra is a few small
        # matrices (the copula's), and numpy's and scipy's OpenBLAS each start a pool of threads as they load
        # (some 0.1 s of start-up measured on 2 cores, more with more cores). Results do not depend on it.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _load_config(path):
    """Load and validate a config; print its warnings (valid but probably unintended settings) on stderr."""
    from .commands import load_checked_config

    return load_checked_config(path, _warn)


def _print_json(obj) -> None:
    click.echo(json.dumps(json_safe(obj), indent=2))


def _given(name: str) -> bool:
    """Whether the option ``name`` of the running command was given on the command line (not its default)."""
    from click.core import ParameterSource

    return click.get_current_context().get_parameter_source(name) == ParameterSource.COMMANDLINE


@main.command()
@click.argument("configs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@options("paths", "seed", "threads", "out", "keep-paths", "max-memory-gb", "json", "quiet", "debug", "scheduler", "resume",
         "plot", "target-se", "target-rse", "max-paths", "implied-paths", "stream")
@_guard
def run(configs, paths, seed, threads, out, keep_paths, max_memory_gb, as_json, quiet, scheduler=None,
        resume=False, plot_dir=None, target_se=None, target_rse=None, max_paths=10_000_000, implied_paths=20_000,
        stream=False):
    """Simulate CONFIG and print the report.

    With several CONFIGs (e.g. configs/*.toml) every company is valued in one
    submission and one summary row per company is printed.

    Percentiles are numpy's default linear interpolation (Hyndman & Fan 1996,
    type 7); the JSON says so under "percentile_method".
    """
    from .summary import save_results

    zarr_out = out is not None and out.lower().rstrip("/").endswith(".zarr")
    if out is not None and not (out.lower().endswith(".nc") or zarr_out):
        raise InputError(f"--out {out!r}: results are saved as NetCDF (a file name ending in .nc) or streamed "
                         "into a Zarr store (a name ending in .zarr)")
    if resume and not zarr_out:
        raise InputError("--resume needs --out RUN.zarr: the Zarr store of the interrupted run")
    if out is not None and not zarr_out:
        from ._io import check_output_file

        check_output_file(out, "--out")  # a folder or an unwritable place is refused before the run, not after it
    if scheduler is not None:
        from .distributed import parse_scheduler

        parse_scheduler(scheduler)  # a bad value is exit 2 before any config is read
        if threads is not None:
            raise InputError("--threads is for the in-process backend; with --scheduler the cluster's workers "
                             "run the blocks (give local:N for N worker processes)")
    command = "pricedin " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if stream:
        for what, given, why in (
                ("--out", out, "it keeps no per-path results to save"),
                ("--keep-paths", keep_paths, "it keeps no per-path results"),
                ("--plot", plot_dir, "the plots need every path's results"),
                ("--target-se", target_se, "it runs a fixed number of paths"),
                ("--target-rse", target_rse, "it runs a fixed number of paths"),
                ("--scheduler", scheduler, "it reduces the blocks on this machine's threads"),
                ("several configs", len(configs) > 1, "it values one company at a time"),
                ("--implied-paths", _given("implied_paths"), "it solves for no implied cost of capital")):
            if given:
                raise InputError(f"--stream cannot be combined with {what}: {why}; drop --stream (for a results "
                                 "store of a very large run, use --out RUN.zarr) or drop " + what)
    if len(configs) > 1:
        return _run_batch(configs, paths, seed, threads, out, keep_paths, as_json, quiet, scheduler, plot_dir,
                          target_se, target_rse, command, implied_paths)
    cfg = _load_config(configs[0])
    if stream:
        from .stream import stream_summary

        with _progress(quiet or as_json) as progress:
            summary = stream_summary(cfg, paths=paths, seed=seed, threads=threads, progress=progress,
                                     command=command)
        return _emit(summary, as_json, None)
    if scheduler is not None or zarr_out:
        for flag, given in (("--keep-paths", keep_paths), ("--plot", plot_dir), ("--target-se", target_se),
                            ("--target-rse", target_rse)):
            if given:
                raise InputError(f"{flag} is not available with --scheduler or a .zarr --out yet; "
                                 "run in-process with a .nc --out for it")
        return _run_blocks(cfg, paths, seed, threads, out, zarr_out, resume, as_json, quiet, scheduler, command)
    if plot_dir is not None:  # an unwritable folder is refused before the run, not after it
        from pathlib import Path

        from ._io import check_writable

        check_writable(Path(plot_dir) / "hist.png", "--plot")
    from . import commands

    with _progress(quiet or as_json) as progress:
        ds, conv = commands.simulate_run(
            cfg, paths=paths, seed=seed, threads=threads, keep_paths=keep_paths, progress=progress, command=command,
            memory_limit=None if max_memory_gb is None else int(max_memory_gb * 2**30), target_se=target_se,
            target_rse=target_rse, max_paths=max_paths, dataset=bool(out or plot_dir))
    if out:
        save_results(ds, out, "--out")
    summary = commands.run_summary(ds, cfg, conv, implied_paths=implied_paths, threads=threads, plot_dir=plot_dir,
                                   plot_option="--plot")
    _emit(summary, as_json, out)
    if not as_json and conv is not None:
        click.echo(tables.convergence_line(conv))
    if not as_json and plot_dir:
        click.echo(f"figures written to {plot_dir}: " + ", ".join(os.path.basename(w) for w in summary["plots"]))


def _run_blocks(cfg, paths, seed, threads, out, zarr_out, resume, as_json, quiet, scheduler, command):
    """``run`` on a Dask cluster and/or streamed into a Zarr store (:mod:`engine.distributed`)."""
    from .commands import blocks_summary
    from .distributed import run_blocks, store_status
    from .summary import save_results

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
    if out and not zarr_out:
        save_results(res, out, "--out")
    _emit(blocks_summary(res, cfg, store=out if zarr_out else None, threads=None if scheduler else threads),
          as_json, out)


def _run_batch(configs, paths, seed, threads, out, keep_paths, as_json, quiet, scheduler, plot_dir,
               target_se, target_rse, command, implied_paths=20_000):
    """``run A.toml B.toml ...``: every block of every config in one submission; one summary row each."""
    from .commands import batch_rows
    from .distributed import run_batch

    for flag, given in (("--out", out), ("--keep-paths", keep_paths), ("--plot", plot_dir),
                        ("--target-se", target_se), ("--target-rse", target_rse)):
        if given:
            raise InputError(f"{flag} takes one CONFIG; with {len(configs)} configs run them one by one for it")
    cfgs = [_load_config(c) for c in configs]
    with _progress(quiet or as_json) as progress:
        dss = run_batch(cfgs, paths=paths, seed=seed, scheduler=scheduler, threads=threads, progress=progress,
                        command=command)
    rows = batch_rows(configs, dss, implied_paths=implied_paths, threads=None if scheduler else threads)
    _print_json(rows) if as_json else tables.render_batch(rows)


@main.command()
@click.argument("results", type=click.Path())
@options("json", "html", "tornado", "tornado-paths/report", "threads/tornado", "price", "debug")
@_guard
def report(results, as_json, html_out=None, with_tornado=False, tornado_paths=None, threads=None, price=None):
    """Re-print the report of a saved RESULTS file (.nc) or store (.zarr) without simulating.

    A file written by ``pricedin stress --out`` re-prints the stress tables.
    ``--html FILE.html`` writes the report as one self-contained web page instead.
    A .zarr store (``run --out RUN.zarr``) is summarised exactly when it fits in
    memory (2 GiB), else streamed block by block (see docs/scaling.md).

    Percentiles are numpy's default linear interpolation (Hyndman & Fan 1996,
    type 7); the JSON says so under "percentile_method". A file
    written by ``pricedin update`` (path weights) uses weighted quantiles (inverted CDF,
    type 1).
    """
    from .summary import open_results, summary_dict as summarize

    if price is not None and (html_out is not None or results.lower().rstrip("/").endswith(".zarr")):
        raise InputError("--price re-prices a .nc results file in the terminal or with --json; drop --html, "
                         "or write the run with --out FILE.nc")
    if results.lower().rstrip("/").endswith(".zarr"):
        if html_out is not None:
            raise InputError("--html is for .nc results; write the run with --out FILE.nc for a page")
        from .commands import store_summary

        return _emit(store_summary(results, threads), as_json, None)

    if html_out is None and (with_tornado or tornado_paths is not None):
        raise InputError("--tornado / --tornado-paths are for the HTML page; add --html FILE.html")
    if html_out is not None:
        if as_json:
            raise InputError("--json and --html are separate outputs; give one of them")
        from .commands import report_html

        return click.echo(f"wrote {report_html(results, html_out, with_tornado, tornado_paths, threads, '--html')}")
    ds = open_results(results)
    if "scenario" in ds.dims:
        if price is not None:
            raise InputError(f"--price {price:g}: {results!r} is a stress file (one run per scenario); re-price the "
                             "results of `pricedin run CONFIG --out RUN.nc`, or drop --price")
        from .stress import stress_report_from_dataset

        rep = stress_report_from_dataset(ds)
        return _print_json(rep) if as_json else tables.render_stress(rep)
    if price is not None or "weight" in ds:  # a new price, or a file written by `pricedin update`: engine.update
        from . import update as upd

        if price is not None:
            r = upd.reprice(ds, price)
            click.echo(upd.reprice_json(r)) if as_json else upd.render_reprice(r, per_share=bool(int(ds.attrs["per_share"])))
        else:
            r = upd.result_from_dataset(ds)
            click.echo(r.to_json()) if as_json else upd.render_update(r)
        return
    _emit(summarize(ds, implied=True, threads=threads), as_json, None)


@main.command("update")
@click.argument("results", type=click.Path(dir_okay=False))
@click.argument("observations", type=click.Path(dir_okay=False))
@options("out/update", "json/update")
@click.option("--resample", "do_resample", is_flag=True, help="Sequential Monte Carlo: pool further prior paths "
              "until --target-ess, resample the run's number of paths by weight and re-simulate them from the "
              "observation date with fresh shocks (--out then writes that equally weighted sample).")
@click.option("--target-ess", type=float, default=None, help="With --resample: the pooled ESS to reach (default: "
              "min(1000, 1% of the run's paths), the warning threshold).")
@click.option("--max-paths", type=int, default=None, help="With --resample: most prior paths to pool, the run's "
              "included (default: 20 x the run's paths).")
@options("threads/short", "debug")
@_guard
def update_cmd(results, observations, out, as_json, do_resample, target_ess, max_paths, threads=None):
    """Update a saved RESULTS.nc on reported figures in OBSERVATIONS (.toml/.yaml).

    Each path is weighted by the likelihood of the figures (importance weighting); the report is
    recomputed with the weights and a "what changed" table. With --resample the weighted paths are
    resampled and re-simulated into an equally weighted posterior sample. See README, "Updating on
    reported figures".
    """
    from . import update as upd
    from .summary import open_results, save_results

    if out is not None and not out.lower().endswith(".nc"):
        raise InputError(f"--out {out!r}: the updated run is saved as NetCDF; give a file name ending in .nc")
    if not do_resample and (target_ess is not None or max_paths is not None or threads is not None):
        raise InputError("--target-ess, --max-paths and --threads go with --resample; add --resample or drop them")
    ds = open_results(results)
    if do_resample:
        r, new = upd.resample(ds, upd.load_observations(observations), target_ess=target_ess, max_paths=max_paths,
                              threads=threads, command="pricedin " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
        if out is not None:
            save_results(new, out)
    else:
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


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@options("debug")
@_guard
def validate(config):
    """Check CONFIG and print it normalised (TOML)."""

    from .commands import config_line

    cfg = _load_config(config)
    click.echo(cfg.to_toml())
    click.echo(config_line(cfg), err=True)


@main.command()
@options("debug")
@_guard
def schema():
    """Print the JSON Schema of a config file (for editors: units, bounds and defaults of every key)."""
    import json

    from .config import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2))


# --------------------------------------------------------------------------- stress


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@options("scenarios", "reverse", "input", "paths/stress", "seed", "threads", "out/stress", "json", "quiet",
         "scheduler/stress", "debug")
@_guard
def stress(config, scenarios_file, reverse, reverse_inputs, paths, seed, threads, out, as_json, quiet,
           scheduler=None):
    """Run the base and every stress scenario of CONFIG on common random numbers.

    Percentiles (p5, p50, p95) are numpy's default linear interpolation
    (Hyndman & Fan 1996, type 7).
    """
    from .commands import scenario_file
    from .stress import load_scenarios, reverse_stress, run_stress
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
            return _print_json(res)
        from .summary import input_formats

        return tables.render_reverse(res, cfg.company.name, formats=input_formats(cfg))
    if reverse_inputs:
        raise InputError("--input KEY is for --reverse; add --reverse or drop --input")
    if out is not None and not out.lower().endswith(".nc"):
        raise InputError(f"--out {out!r}: results are saved as NetCDF; give a file name ending in .nc")
    if out is not None:
        from ._io import check_output_file

        check_output_file(out, "--out")
    path = scenario_file(config, cfg, scenarios_file, "--scenarios FILE")
    scen = load_scenarios(path)
    command = "pricedin " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with _progress(quiet or as_json) as progress:
        res = run_stress(cfg, scen, paths=paths, seed=seed, threads=threads, progress=progress,
                         command=command, keep_datasets=bool(out), scheduler=scheduler)
    res.info["scenario_file"] = str(path)
    if out:
        res.info["scenario_file_toml"] = path.read_text(encoding="utf-8")
        save_results(res.dataset(), out, "--out")
    if as_json:
        return _print_json(res.to_dict())
    tables.render_stress(res.to_dict())
    if out:
        click.echo(f"results written to {out}")


# --------------------------------------------------------------------------- output


def _emit(summary: dict, as_json: bool, out):
    if as_json:
        return _print_json(summary)
    tables.render_report(summary)
    if out:
        click.echo(f"results written to {out}")


# --------------------------------------------------------------------------- explain the answer


@main.command()
@click.argument("target", type=click.Path(dir_okay=False))
@options("paths/sensitivity", "tornado-paths", "low", "high", "bins", "no-tornado", "fixed-swing", "rank-by", "top",
         "threads/short", "json/one", "debug")
@_guard
def sensitivity(target, paths, tornado_paths, low, high, bins, no_tornado, top, threads, as_json, fixed_swing=0.25,
                rank_by="p_justified"):
    """Tornado and global sensitivity of value per share and P(justified).

    TARGET is a config (simulated with --paths) or a saved results file (.nc): the
    global part (rank correlations, first-order indices) then needs no re-run; the
    tornado re-runs the file's own config with the same seed.
    """
    from .sensitivity import sensitivity as _sens

    if not low < high:
        raise InputError(f"--low {low} must be below --high {high}")
    from .commands import load_target

    ds, cfg = load_target(target, paths, threads, warn=_warn)
    res = _sens(ds, cfg, tornado_paths=tornado_paths, threads=threads, low=low, high=high, bins=bins,
                with_tornado=not no_tornado, fixed_swing=fixed_swing, rank_by=rank_by)
    if as_json:
        return _print_json(res)
    from .summary import input_formats, input_formats_of_run

    tables.render_sensitivity(res, top=top, formats=input_formats(cfg) if cfg is not None else input_formats_of_run(ds))


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@options("paths/implied", "max-horizon", "threads/short", "json/one", "debug")
@_guard
def implied(config, paths, max_horizon, threads, as_json):
    """Reverse DCF: the growth, margin and forecast period today's price implies."""
    from .implied import implied as _implied
    from .simulate import simulate

    cfg = _load_config(config)
    ds = simulate(cfg, paths=paths, threads=threads) if paths else None
    res = _implied(cfg, ds, max_horizon=max_horizon)
    _print_json(res) if as_json else tables.render_implied(res)


@main.command()
@click.argument("results", type=click.Path(dir_okay=False))
@options("kind", "output", "threads/tornado", "debug")
@_guard
def plot(results, kind, output, threads):
    """Draw a figure of a saved RESULTS file (.nc) into a PNG file."""
    from .commands import refuse_stress_file
    from .summary import open_results
    from .views.figures import write

    if not output.lower().endswith(".png"):
        raise InputError(f"-o {output!r}: figures are written as PNG; give a file name ending in .png")
    ds = refuse_stress_file(open_results(results), results)
    click.echo(f"wrote {write(ds, kind, output, threads=threads, option='-o')}")


if __name__ == "__main__":  # pragma: no cover
    main()
