"""The ``pricedin`` command line: parses, validates, calls the library, prints.

Exit status: 0 done; 2 bad input (config or usage), with a message naming the key,
the value and the fix, and no traceback (``--debug`` shows it); 1 an internal error.
"""

from __future__ import annotations

import functools
import json
import math
import shlex
import sys
import time

import click

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
        from .config import ConfigError
        from .simulate import MemoryLimitError

        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (ConfigError, MemoryLimitError, ValueError, FileNotFoundError, PermissionError) as e:
            if debug:
                raise
            raise InputError(str(e)) from None
        except KeyboardInterrupt:
            click.echo("interrupted; no result file was written", err=True)
            sys.exit(130)
        except Exception as e:  # noqa: BLE001
            if debug:
                raise
            click.echo(
                f"internal error: {type(e).__name__}: {e}\n(this is a bug in pricedin; run again with --debug "
                "for the traceback and report it)",
                err=True,
            )
            sys.exit(1)

    return wrapper


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
    """


_debug = click.option("--debug", is_flag=True, help="Show the Python traceback on errors.")


def _common_run(f):
    opts = [
        click.option("--paths", type=click.IntRange(min=1), default=None, help="Number of paths (default: simulation.paths)."),
        click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed (default: simulation.seed)."),
        click.option("--threads", type=click.IntRange(min=1), default=None, help="Worker threads (default: all cores); results do not depend on it."),
        click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="Write the results Dataset to FILE.nc (atomically)."),
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
@click.argument("config", type=click.Path(dir_okay=False))
@_common_run
@_guard
def run(config, paths, seed, threads, out, keep_paths, max_memory_gb, as_json, quiet):
    """Simulate CONFIG and print the report."""
    from .config import load_config
    from .simulate import simulate
    from .summary import save_results, summarize

    cfg = load_config(config)
    if out is not None and not out.lower().endswith(".nc"):
        raise InputError(f"--out {out!r}: results are saved as NetCDF; give a file name ending in .nc")
    command = "pricedin " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with _progress(quiet or as_json) as progress:
        ds = simulate(
            cfg,
            paths=paths,
            seed=seed,
            threads=threads,
            keep_paths=keep_paths,
            memory_limit=int(max_memory_gb * 2**30),
            progress=progress,
            command=command,
        )
    if out:
        save_results(ds, out)
    summary = summarize(ds)
    _emit(summary, as_json, out)


@main.command()
@click.argument("results", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
@_debug
@_guard
def report(results, as_json):
    """Re-print the report of a saved RESULTS file (.nc) without simulating."""
    from .summary import open_results, summarize

    ds = open_results(results)
    _emit(summarize(ds), as_json, None)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@_debug
@_guard
def validate(config):
    """Check CONFIG and print it normalised (TOML)."""
    from .config import load_config

    cfg = load_config(config)
    drawn = [p.key for p in cfg.parameters() if not p.spec.is_fixed]
    click.echo(cfg.to_toml())
    click.echo(
        f"# valid: {cfg.company.name}, {len(cfg.segments)} segment(s), {len(drawn)} drawn input(s), "
        f"{cfg.simulation.paths:,} paths, horizon {cfg.simulation.horizon_years} years x "
        f"{cfg.simulation.steps_per_year} step(s)/year",
        err=True,
    )


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


def _money(x: float) -> str:
    if not math.isfinite(x):
        return "n/a"
    a = abs(x)
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
        c.print(f"[yellow]No share count in the config: 'per share' means the whole equity, in {unit}.[/yellow]")
    v = s["value_per_share"]
    t = Table(title=f"DCF value per share, {unit}", title_justify="left")
    t.add_column("statistic")
    t.add_column("value", justify="right")
    t.add_row("mean", f"{_money(v['mean'])}  (standard error {_money(v['se_mean'])})")
    t.add_row("standard deviation", _money(v["sd"]))
    for q in (1, 5, 10, 25, 50, 75, 90, 95, 99):
        label = {1: "1st", 50: "median"}.get(q, f"{q}th")
        t.add_row(label if q == 50 else f"{label} percentile", _money(v[f"p{q}"]))
    t.add_row("[bold]today's price[/bold]", f"[bold]{_money(s['price'])}[/bold]")
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
    c.print("[dim]'DCF ok' / 'market ok': medians over the justified paths; 'pctl': where the DCF-justified "
            "median falls among all paths (50 = nothing special to believe)[/dim]")
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
    for b in mb["base_rates"]:
        mark = "[bold red]![/bold red] " if b.get("exceeds") and b["what"] != "rule_of_40" else "  "
        extra = ""
        if b.get("model_share") is not None and b.get("base_share") is not None:
            extra = (f" Model: {100 * b['model_share']:.1f}% of all paths"
                     + (f", {100 * b['justified_share']:.1f}% of justified paths" if b.get("justified_share") is not None else "")
                     + f" vs base rate {100 * b['base_share']:.1f}%.")
        c.print(f"{mark}{b['statement']}.{extra}")
        c.print(f"    [dim]base rate: {b['text']}[/dim]")


if __name__ == "__main__":  # pragma: no cover
    main()
