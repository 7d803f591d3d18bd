"""The click-free parts of the command line (:mod:`engine.cli`): its option table, the flag names of library
arguments and the exit on a closed stdout.

click is imported inside the functions that need it, so that every ``engine`` module but ``engine.cli`` imports
without click (tests/test_api.py checks it).
"""

from __future__ import annotations

import functools
import math
import os
import sys

#: The largest seed (``engine.sampling.MAX_SEED``, a 64-bit seed), written out so that the command line
#: starts without importing numpy and scipy (``pricedin --version``); tests/test_benchmarks.py checks they agree.
MAX_SEED = 2**64 - 1

#: Exit status when the reader of stdout went away (``| head``): 128 + SIGPIPE, as a shell reports for C tools.
EXIT_CLOSED_PIPE = 141

#: Library messages name Python arguments (in backticks); the command line reads its own flags.
#: Applied in order, so the longer phrases go first.
_FLAGS = (
    ("`keep_paths=True`", "--keep-paths"),
    ("set `keep_paths=False`", "drop --keep-paths"),
    ("`keep_paths`", "--keep-paths"),
    ("`max_memory_gb`", "--max-memory-gb"),
    ("`max_paths`", "--max-paths"),
    ("`target_se`", "--target-se"),
    ("`target_rse`", "--target-rse"),
    ("`tornado_paths`", "--tornado-paths"),
    ("`max_horizon`", "--max-horizon"),
    ("reverse stress `keys`:", "--reverse --input"),
    ("`paths`", "--paths"),
    ("`seed`", "--seed"),
    ("`threads`", "--threads"),
    ("`kind`", "--kind"),
    ("`low`", "--low"),
    ("`high`", "--high"),
    ("`bins`", "--bins"),
)


def flag_words(message: str) -> str:
    """A library message in the command line's words: each Python argument named as its flag."""
    for arg, flag in _FLAGS:
        message = message.replace(arg, flag)
    return message


def closed_pipe() -> None:
    """The reader of stdout closed it: stop quietly (the recipe of the Python docs, signal module, "Note on SIGPIPE").

    stdout is pointed at devnull so that the flush at exit does not fail again, and the
    status is :data:`EXIT_CLOSED_PIPE`; nothing is printed (a closed reader is not an error of ours).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (a test runner's buffer)
        pass
    sys.exit(EXIT_CLOSED_PIPE)


def end_process(code) -> None:
    """End a finished command's process now, without the interpreter's teardown of its imported modules.

    Tearing down numba, llvmlite, scipy, pandas and xarray module by module takes some 0.3 s of CPU (0.5 to
    0.8 s of wall time measured on a shared 2-core machine) after the report is printed; nothing of the
    command's is left to it. So, after ``sys.exit(code)`` of a command run from the process's own command
    line: flush stdout and stderr, run the exit handlers (:mod:`atexit`: multiprocessing's children, weakref
    finalizers such as temporary folders, logging), flush again (what they printed) and ``os._exit``. Returns without doing anything (the
    ordinary exit follows) where the teardown may matter: a profiler or tracer is attached (``python -m
    cProfile``, coverage, a debugger print or save at the end), another thread is still running, a Dask
    client is still open (its cluster shuts down in its own finalizers), or stdout / stderr cannot be flushed.

    Parameters
    ----------
    code : int or None or str
        The exit status as ``SystemExit.code`` holds it (None: 0; a text: printed to stderr, status 1).
    """
    import atexit
    import threading

    if sys.gettrace() is not None or sys.getprofile() is not None or threading.active_count() > 1:
        return
    dask_distributed = sys.modules.get("distributed")  # imported by xarray's NetCDF writer too: not a client
    if dask_distributed is not None:
        try:
            dask_distributed.default_client()
            return  # a client is still open: its own finalizers close it
        except ValueError:  # no client
            pass
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's; absent elsewhere: ordinary exit
    if run_exit_handlers is None:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # a closed or odd stream: the ordinary exit reports it
        return
    run_exit_handlers()
    try:  # what the handlers printed (os._exit flushes nothing)
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    os._exit(code or 0)


def stdout_is_devnull() -> bool:
    """Whether stdout is the null device (where rich points it when its reader went away)."""
    try:
        a, b = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):
        return False
    return (a.st_dev, a.st_ino, a.st_rdev) == (b.st_dev, b.st_ino, b.st_rdev)


def _finite_option(ctx, param, value):
    """A float option must be a finite number (click's FloatRange lets ``inf`` and ``nan`` through)."""
    import click

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value!r} is not a finite number; give e.g. 4 (GiB)", ctx=ctx, param=param)
    return value


@functools.cache
def _table() -> dict:
    """Every option of the command line, once: ``{key: (declarations, click.option keywords)}``.

    A flag whose type or help differs between commands has one key per variant, ``FLAG/COMMAND``.
    """
    import click

    I, F, P = click.IntRange, click.FloatRange, click.Path  # noqa: E741, N806
    prob = F(0, 1, min_open=True, max_open=True)
    all_cores = "Worker threads (default: all cores); results do not depend on it."
    one_json = "Print one JSON object on stdout."
    return {
        "debug": (("--debug",), dict(is_flag=True, help="Show the Python traceback on errors.")),
        "json": (("--json", "as_json"), dict(is_flag=True, help="Print the report as one JSON object on stdout.")),
        "json/one": (("--json", "as_json"), dict(is_flag=True, help=one_json)),
        "json/update": (("--json", "as_json"), dict(is_flag=True, help="Print the update as one JSON object on stdout.")),
        "quiet": (("--quiet", "-q"), dict(is_flag=True, help="No progress bar.")),
        "seed": (("--seed",), dict(type=I(min=0, max=MAX_SEED), default=None, help="Seed (default: simulation.seed).")),
        "threads": (("--threads",), dict(type=I(min=1), default=None, help=all_cores)),
        "threads/short": (("--threads",), dict(type=I(min=1), default=None, help="Worker threads.")),
        "threads/tornado": (("--threads",), dict(type=I(min=1), default=None, help="Worker threads (tornado re-runs).")),
        # run
        "paths": (("--paths",), dict(type=I(min=1), default=None, help="Number of paths (default: simulation.paths).")),
        "out": (("--out", "out"), dict(type=P(), default=None, help="Write the results Dataset to FILE.nc (atomically), "
                                       "or stream them block by block into a Zarr store RUN.zarr.")),
        "keep-paths": (("--keep-paths",), dict(is_flag=True, help="Also keep (path, time) variables: revenue, margin, "
                                               "FCFF, cash, shares, multiple, price.")),
        "max-memory-gb": (("--max-memory-gb",), dict(
            type=F(min=0.01), default=None, callback=_finite_option, help="Refuse runs whose estimated peak memory "
            "exceeds this many GiB (default: the available memory; --keep-paths arrays: 4 GiB).")),
        "scheduler": (("--scheduler",), dict(default=None, metavar="ADDRESS", help="Run blocks as tasks on a Dask "
                      "cluster: tcp://host:port of a running scheduler, or local:N for N worker processes on this "
                      "machine (default: threads of this process).")),
        "stream": (("--stream",), dict(is_flag=True, help="Reduce the run block by block in bounded memory (for "
                                       "very large --paths): counts, probabilities and the mean exact, percentiles "
                                       "within a stated bound; no results file, no 'what you must believe'.")),
        "resume": (("--resume",), dict(is_flag=True, help="With --out RUN.zarr: finish an interrupted run, computing "
                                       "only its missing blocks.")),
        "plot": (("--plot", "plot_dir"), dict(type=P(file_okay=False), default=None, help="Write the figures (hist, "
                                              "cdf, fan, tornado, convergence) as PNG into DIR.")),
        "target-se": (("--target-se",), dict(type=F(min=0, min_open=True), default=None, help="Double the paths until "
                                             "the standard error of P(justified, DCF) is at most X (or --max-paths).")),
        "target-rse": (("--target-rse",), dict(type=F(min=0, min_open=True), default=None, help="Double the paths "
                                               "until SE / P(justified, DCF) is at most X (or --max-paths).")),
        "max-paths": (("--max-paths",), dict(type=I(min=1), default=10_000_000, show_default=True,
                                             help="Upper limit on paths for --target-se / --target-rse.")),
        "implied-paths": (("--implied-paths",), dict(type=I(min=0), default=20_000, show_default=True, help="Paths (the "
                          "run's first) of the re-runs that solve for the implied cost of capital; 0: skip it.")),
        # report
        "html": (("--html", "html_out"), dict(type=P(dir_okay=False), default=None, help="Write a self-contained HTML "
                                              "page (tables and figures) to FILE.html (atomically).")),
        "tornado": (("--tornado", "with_tornado"), dict(is_flag=True, help="With --html: add the tornado (re-runs the "
                                                        "file's config; off by default).")),
        "tornado-paths/report": (("--tornado-paths",), dict(type=I(min=10), default=None, help="With --tornado: paths "
                                 "of each tornado run (default: the run's paths, at most 2,000).")),
        "price": (("--price",), dict(type=F(min=0, min_open=True), default=None, help="Re-evaluate both lenses at this "
                                     "price (value unit) from the stored values; no new run.")),
        # update
        "out/update": (("--out", "out"), dict(type=P(dir_okay=False), default=None, help="Write the run plus its path "
                                              "weights to UPDATED.nc (`pricedin report` reads the weights).")),
        # stress
        "scenarios": (("--scenarios", "scenarios_file"), dict(type=P(dir_okay=False), default=None, help="Scenario "
                      "file (TOML); default: simulation.stress_scenarios, else stress/<config stem>.toml next to the "
                      "config.")),
        "reverse": (("--reverse",), dict(is_flag=True, help="Reverse stress: the shift of each headline input that "
                                         "brings P(justified, DCF) to 50%.")),
        "input": (("--input", "reverse_inputs"), dict(multiple=True, metavar="KEY", help="With --reverse: search this "
                                                      "input (key path) instead of the headline inputs; repeatable.")),
        "paths/stress": (("--paths",), dict(type=I(min=1), default=None, help="Paths per scenario (default: "
                                            "simulation.paths; with --reverse at most 20,000).")),
        "out/stress": (("--out", "out"), dict(type=P(dir_okay=False), default=None, help="Write one Dataset with a "
                                              "scenario dimension to FILE.nc (atomically).")),
        "scheduler/stress": (("--scheduler",), dict(default=None, metavar="ADDRESS", help="Run (scenario, block) tasks "
                             "on a Dask cluster: tcp://host:port or local:N; same results as threads.")),
        # sensitivity
        "paths/sensitivity": (("--paths",), dict(type=I(min=10), default=5000, show_default=True,
                                                 help="Paths of the run when TARGET is a config.")),
        "tornado-paths": (("--tornado-paths",), dict(type=I(min=10), default=None, help="Paths of each tornado run "
                                                     "(default: the run's paths; a prefix of the same seed).")),
        "low": (("--low",), dict(type=prob, default=0.10, show_default=True, help="Tornado low quantile.")),
        "high": (("--high",), dict(type=prob, default=0.90, show_default=True, help="Tornado high quantile.")),
        "bins": (("--bins",), dict(type=I(min=2), default=None, help="Quantile bins of the first-order index.")),
        "no-tornado": (("--no-tornado",), dict(is_flag=True, help="Only the global part (no re-runs).")),
        "fixed-swing": (("--fixed-swing",), dict(type=F(0, 1, max_open=True), default=0.25, show_default=True,
                        help="Tornado bar of each fixed input: its value -/+ this relative swing (0: drawn inputs "
                             "only).")),
        "rank-by": (("--rank-by",), dict(type=click.Choice(["p_justified", "mean", "median"]), default="p_justified",
                    show_default=True, help="Tornado order: |change in P(justified, DCF)| (ties by mean value), mean "
                                            "or median value.")),
        "top": (("--top",), dict(type=I(min=1), default=15, show_default=True,
                                 help="Rows printed per table (--json always lists every input).")),
        # implied
        "paths/implied": (("--paths",), dict(type=I(min=0), default=5000, show_default=True, help="Paths of the run "
                                             "that places each implied value in its distribution (0: no run).")),
        "max-horizon": (("--max-horizon",), dict(type=I(1, 100), default=50, show_default=True,
                                                 help="Longest horizon searched for the implied forecast period "
                                                      "[years].")),
        # plot
        "kind": (("--kind",), dict(type=click.Choice(["hist", "cdf", "fan", "tornado", "convergence"]), default="hist",
                                   show_default=True, help="Which figure.")),
        "output": (("-o", "--output", "output"), dict(type=P(dir_okay=False), required=True, help="PNG file to write.")),
    }


def options(*keys: str):
    """A decorator adding the options ``keys`` of :func:`_table` to a command, in this order (its ``--help`` order)."""
    import click

    def apply(f):
        for key in reversed(keys):
            decls, kwargs = _table()[key]
            f = click.option(*decls, **kwargs)(f)
        return f

    return apply
