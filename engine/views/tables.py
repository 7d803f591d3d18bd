"""The rich tables of the command line: run report, must-believe, sensitivity, reverse DCF, stress,
reverse stress, batch.

Each ``render_*`` function prints one report dict (as the library returns it) to a
:class:`rich.console.Console` (a new one on stdout when none is given), so a notebook
can print the same tables as ``pricedin``: ``render_report(engine.summary_dict(ds))``.
Numbers are formatted by :mod:`engine.views.format`.
"""

from __future__ import annotations

import functools
import math
import sys

from .format import (by_format, by_kind, change_cell, count, interval, money, money_cells, pct, prob, shift_by_kind,
                     significant, unit_value_label, value_label)

__all__ = ["render_report", "render_fair_value", "fair_value_rows", "render_must_believe", "render_sensitivity", "render_implied", "render_stress",
           "render_reverse", "render_batch", "convergence_line"]


def _plus(text: str, x: float) -> str:
    return "0" if x == 0 else (("+" if x > 0 else "") + text)


def fair_value_rows(s: dict) -> list:
    """``[(label, value text), ...]``: the fair-value rows of a report dict (:mod:`engine.fairvalue`), in order.

    Shared by the terminal report and the HTML page; rows whose numbers are absent are left out.
    """
    rows = []
    noun = s.get("value_label") or value_label(s.get("per_share", True))
    fv = s.get("fair_value_ratio")
    if fv:
        rows.append((f"E[{noun}] / price", f"{fv['estimate']:.3f}x  (standard error {significant(fv['se'], 2)})"))
    icc = s.get("implied_cost_of_capital")
    if icc and (icc.get("rate") is not None or icc.get("bracket") is not None):
        if icc.get("rate") is not None:
            txt = (f"{pct(icc['rate'], 2)} initial WACC (shift {100 * icc['shift']:+.2f} pp; mature "
                   f"{pct(icc['mature_rate'], 2)}; {count(icc['paths'], 'path')})")
        else:
            txt = "none in the range searched"
        rows.append(("implied cost of capital (mean value = price)", txt))
    irr = s.get("expected_irr")
    if irr:
        est = "none" if irr["estimate"] is None else (f"{pct(irr['estimate'], 2)} a year (standard error "
                                                     f"{'n/a' if not math.isfinite(irr['se']) else pct(irr['se'], 2)})")
        rows.append(("expected holder IRR at today's price (from E[price at horizon])",
                     f"{est}; median {pct(irr['median_return'])}"))
    ev, rev = s.get("ev_sales_today"), s.get("reported_revenue")
    if ev and rev:
        if ev.get("reported") is not None:
            cur, _, unit = rev["unit"].partition(" ")
            amt = lambda x: f"{cur} {x:,.0f} {unit}".rstrip() if abs(x) >= 100 else f"{cur} {x:.4g} {unit}".rstrip()  # noqa: E731
            rows.append((f"EV/Sales today (on {rev['base_year']} reported revenue, {amt(rev['amount'])})",
                         f"{ev['reported']:,.1f}x"))
        if rev["differs"] and ev.get("model_base") is not None:
            rows.append((f"EV/Sales today on the model's base revenue incl. run-rate ({amt(rev['model_base'])})",
                         f"{ev['model_base']:,.1f}x"))
            if rev.get("median_revenue_cagr") is not None:
                rows.append((f"median revenue CAGR from {rev['base_year']} reported revenue",
                             pct(rev["median_revenue_cagr"])))
    for p in s.get("peers") or []:
        rows.append((f"{noun} at {p['name']}'s EV/Sales {p['ev_sales']:.1f}x",
                     f"{money(p['value'])}  ({p['value_to_price']:.3f}x price; percentile {p['percentile']:.1f})"))
    return rows


def _fair_value_notes(s: dict) -> list:
    icc = s.get("implied_cost_of_capital") or {}
    notes = [icc["note"]] if icc.get("note") and icc.get("bracket") is not None else []
    irr = s.get("expected_irr") or {}
    if irr.get("note"):
        notes.append(irr["note"])
    rev = s.get("reported_revenue")
    if rev and rev["run_rate_segments"] and not rev["complete"]:
        notes.append("run-rate segment(s) " + ", ".join(rev["run_rate_segments"]) + " give no "
                     "segments.NAME.reported_revenue: their run-rate stands in for reported revenue")
    return notes


def render_fair_value(s: dict, console=None) -> None:
    """Print the fair-value table (E[value] / price, implied cost of capital, expected IRR, EV/Sales, peers)."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    rows = fair_value_rows(s)
    if not rows:
        return
    t = Table(title=f"Fair value at today's price ({money(s['price'])} {s['value_unit']})", title_justify="left",
              show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    from rich.markup import escape

    for r in rows:
        t.add_row(*(escape(x) for x in r))
    c.print(t)
    for n in _fair_value_notes(s):
        c.print(f"[yellow]{escape(n)}[/yellow]")


def render_report(s: dict, console=None) -> None:
    """Print the run report (rich tables) to stdout."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    unit = s["value_unit"]
    c.print(
        f"[bold]{s['company']}[/bold]: {count(s['paths'], 'path')}, seed {s['seed']}, horizon {s['horizon_years']} years, "
        f"{s['sampling']} sampling"
    )
    if s.get("valuation_date"):
        c.print(f"valued at {s['valuation_date']}; discount rates in {s.get('discount_rates', '')}")
    if not s["per_share"]:
        whole = unit.replace(" (whole equity)", "")
        c.print(f"[yellow]No share count in the config: 'per share' means the whole equity, in {whole}.[/yellow]")
    render_fair_value(s, c)
    v = s["value_per_share"]
    t = Table(title=f"DCF {s.get('value_label', 'value per share')}, {unit}", title_justify="left")
    t.add_column("statistic")
    t.add_column("value", justify="right")
    # one number of decimals for the whole column, set by its largest amount (594 next to 4,747, not 594.06)
    col = [v["mean"], v["sd"], s["price"]] + [v[f"p{q}"] for q in (1, 5, 10, 25, 50, 75, 90, 95, 99)]
    scale = max((abs(x) for x in col if math.isfinite(x)), default=0.0)
    m = functools.partial(money, scale=scale)
    t.add_row("mean", f"{m(v['mean'])}  (standard error {money(v['se_mean'])})")
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
    pj.add_row("DCF", prob(d["estimate"]), prob(d["se"]), interval(d["ci95_low"], d["ci95_high"]),
               f"{d['hits']:,}", "value per share >= price" if s["per_share"] else "equity value >= market cap")
    pj.add_row("market", prob(m["estimate"]), prob(m["se"]), interval(m["ci95_low"], m["ci95_high"]),
               f"{m['hits']:,}", "return >= cost of equity")
    c.print(pj)
    for note in undefined_notes(s):
        c.print(f"[dim]{note}[/dim]")
    if s.get("sampling", "random") != "random":
        c.print(f"[dim]Standard errors and intervals assume independent paths; with {s['sampling']} sampling "
                "they are conservative (stratified designs vary less).[/dim]")
    o = Table(title="Outcomes", title_justify="left", show_header=False)
    o.add_column("what")
    o.add_column("value", justify="right")
    o.add_row("failed paths (share)", pct(s["failed_share"], 2))
    o.add_row("median annual holder return to the horizon", pct(s["median_horizon_return"])
              + (" (see note)" if s.get("median_horizon_return_note") else ""))
    o.add_row("median revenue CAGR over the horizon (surviving paths)", pct(s["median_revenue_cagr"]))
    o.add_row("median share count at horizon / today (surviving paths)", f"{s['median_dilution']:.2f}x")
    o.add_row("median terminal-value share of value (surviving paths)", pct(s["median_terminal_share"]))
    o.add_row("paths with terminal spread clipped to the minimum", f"{s['tv_clipped']:,}")
    if s.get("liquidated_share") is not None:
        o.add_row("surviving paths valued at liquidation (terminal loss)", pct(s["liquidated_share"], 2))
        o.add_row("surviving paths not in steady state at the horizon", pct(s["not_steady_share"], 2))
    if s["floored"]:
        o.add_row("paths with equity floored at 0 (limited liability)", f"{s['floored']:,}")
    o.add_row("elapsed", f"{s['elapsed_s']:.2f} s")
    c.print(o)
    if s.get("breakeven"):
        render_cash_funding(s, c)
    if s.get("median_horizon_return_note"):
        c.print(f"[yellow]median annual holder return: {s['median_horizon_return_note']}.[/yellow]")
    ap = s.get("approximation")
    if ap and not ap["exact"]:
        vps_err = [v for k, v in ap["max_abs_error"].items() if k.startswith("value_per_share")]
        worst = max(vps_err or ap["max_abs_error"].values())
        why = "streamed run" if s.get("streamed") else "store too large to load"
        c.print(f"[yellow]Approximate quantiles ({why}): {ap['method']}; largest possible absolute error of a "
                f"value percentile {money(worst)}.[/yellow]")
    if s.get("must_believe"):
        render_must_believe(s["must_believe"], c)


def cash_funding_rows(s: dict) -> list:
    """The rows ``(what, value)`` of the "Cash and funding" table from a report's ``breakeven``, ``runway``,
    ``raised`` and ``failures`` keys (:func:`engine.summary.cash_and_funding`); shared by the text and HTML reports."""
    be, rw, ra, fa = s["breakeven"], s["runway"], s["raised"], s["failures"]
    units = f", {ra['units']}" if ra.get("units") else ""

    def years(x):
        return "beyond the horizon" if x is None or not math.isfinite(x) else f"{x:.2f}"

    def three(f, d):
        return " / ".join(f(d[k]) for k in ("p10", "p50", "p90"))

    amounts = [ra[k][q] for k in ("equity_raised", "cumulative_burn") for q in ("p10", "p50", "p90")]
    scale = max((abs(x) for x in amounts if math.isfinite(x)), default=0.0)
    m = functools.partial(money, scale=scale)
    by_year = "  ".join(f"{y}: {pct(v)}" for y, v in be["by_year"].items() if v > 0.0)
    med = be["median_year"]
    return [
        ("break-even year (first EBIT > 0), share of paths", by_year or "none"),
        ("no break-even by the horizon (share)", pct(be["not_by_horizon"])),
        ("median break-even year (paths that reach it)",
         f"{med:g}" if med is not None and math.isfinite(med) else "n/a"),
        ("runway without new money, years (10th / median / 90th)", three(years, rw)),
        ("runway beyond the horizon (share)", pct(rw["beyond_horizon_share"])),
        (f"equity raised to the horizon{units} (10th / median / 90th)", three(m, ra["equity_raised"])),
        (f"cumulative burn to the horizon{units} (10th / median / 90th)", three(m, ra["cumulative_burn"])),
        ("failed by the hazard / by funding (share)",
         f"{pct(fa['hazard_share'], 2)} / {pct(fa['funding_share'], 2)}"),
    ]


def render_cash_funding(s: dict, console=None) -> None:
    """Print the "Cash and funding" table of a run report (rows of :func:`cash_funding_rows`)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    t = Table(title="Cash and funding", title_justify="left", show_header=False)
    t.add_column("what")
    t.add_column("value", justify="right")
    for what, value in cash_funding_rows(s):
        t.add_row(escape(what), escape(value))
    c.print(t)


def undefined_notes(s: dict) -> list:
    """The notes a report prints where a standard error is undefined (one path; no path or every path justified)."""
    out = []
    if s["paths"] < 2:
        out.append("standard deviation and standard error n/a: one path has no spread to measure; run more paths.")
    edge = [lens for lens in ("dcf", "market") if not math.isfinite(s["p_justified"][lens]["se"])]
    if edge and s["paths"] >= 1:
        out.append("std error n/a for " + " and ".join("DCF" if x == "dcf" else x for x in edge)
                   + ": with no path or every path justified the binomial standard error sqrt(p(1-p)/n) is 0, "
                   "a false certainty; the Wilson 95% interval bounds P instead.")
    r = s.get("resampled")
    if r:
        n = r["n_eff_p_justified"]
        out.append(f"a resampled posterior sample (pricedin update --resample, pooled ESS {r['pooled_ess']:,.1f}): "
                   f"standard errors and intervals use the effective size from the paths' ancestry (P(justified): "
                   f"DCF {n['dcf']:,.0f}, market {n['market']:,.0f}; mean {r['n_eff_mean']:,.0f}), not the "
                   f"{s['paths']:,} paths.")
    return out


def render_must_believe(mb: dict, console=None) -> None:
    """Print the 'what you must believe' table of :func:`engine.summary.must_believe`."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    ld, lm = mb["lenses"]["dcf"], mb["lenses"]["market"]
    t = Table(
        title=(f"What you must believe: medians over all {count(mb['paths'], 'path')} vs the "
               f"{ld['justified_paths']:,} DCF-justified and {count(lm['justified_paths'], 'market-justified path')} "
               f"(money in {mb['money_unit']})"),
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
            by_format(r["all"], r["format"]),
            by_format(r["dcf"], r["format"]),
            "n/a" if pct is None else f"{pct:.0f}",
            by_format(r["market"], r["format"]),
        )
    c.print(t)
    for lens in ("dcf", "market"):
        if mb["lenses"][lens]["note"]:
            c.print(f"[yellow]{mb['lenses'][lens]['note']}[/yellow]")
    if mb["base_rates"]:
        c.print("[dim]Base rates, for reference (published figures, shown where the company belongs to their "
                f"population; {mb.get('flag_rule', '')}):[/dim]")
    for b in mb["base_rates"]:
        mark = "[bold red]![/bold red] " if b.get("flag") else "  "
        extra = ""
        if b.get("model_share") is not None and b.get("base_share") is not None:
            extra = (f" Model: {100 * b['model_share']:.1f}% of all paths"
                     + (f", {100 * b['justified_share']:.1f}% of justified paths" if b.get("justified_share") is not None else "")
                     + f" vs base rate {100 * b['base_share']:.1f}%.")
        c.print(f"{mark}{b['statement']}.{extra}")
        c.print(f"    [dim]base rate: {b['text']}[/dim]")
        if b.get("population") and "cannot be checked" in b["population"]:
            c.print(f"    [dim]population: {b['population']}[/dim]")
    for line in mb.get("base_rates_not_shown", ()):
        c.print(f"[dim]{line}.[/dim]")


def render_sensitivity(res: dict, console=None, top: int = 15, formats=None) -> None:
    """Print the tornado and global sensitivity tables.

    ``formats`` maps an input key to its kind (:func:`engine.summary.input_formats`):
    a fraction's low / high values print as %, a multiple as x, money with separators.
    """
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    tor = res.get("tornado")
    if tor:
        unit = tor["value_unit"]
        fs = tor.get("fixed_swing", 0.0)
        t = Table(title=(f"Tornado: P(justified, DCF) and mean / median {unit_value_label(unit)} [{unit}] with each input at "
                         f"its {100 * tor['low']:g}th / {100 * tor['high']:g}th percentile"
                         + (f" (fixed inputs -/+{100 * fs:g}%)" if fs else "")
                         + f" ({tor['paths']:,} paths, seed {tor['seed']}); base P {prob(tor['base_p_justified'])}, "
                         + (f"base mean {money(tor['base_mean'])}, " if "base_mean" in tor else "")
                         + f"base median {money(tor['base_median'])}, price {money(tor['price'])}"),
                  title_justify="left")
        sp = lambda x: "n/a" if x is None or not math.isfinite(x) else f"{x:+.3f}"  # noqa: E731
        for col, j in (("input", "left"), ("kind", "left"), ("low value", "right"), ("high value", "right"),
                       ("P @low", "right"), ("P @high", "right"), ("mean @low", "right"), ("mean @high", "right"),
                       ("median @low", "right"), ("median @high", "right"), ("Spearman", "right")):
            t.add_column(col, justify=j, no_wrap=(col == "input"))
        shown = tor["inputs"][:top]
        fm = formats or {}
        med = money_cells([r.get(k, float("nan")) for r in shown
                           for k in ("mean_low", "mean_high", "median_low", "median_high")])
        for i, r in enumerate(shown):
            kind = fm.get(r["key"], "number")
            t.add_row(r["key"], r.get("kind", "drawn"), by_kind(r["low_value"], kind), by_kind(r["high_value"], kind),
                      prob(r["p_low"]), prob(r["p_high"]),
                      med[4 * i] if "mean_low" in r else "n/a", med[4 * i + 1] if "mean_high" in r else "n/a",
                      med[4 * i + 2], med[4 * i + 3], sp(r.get("spearman_value")))
        c.print(t)
        for k in tor.get("skipped", []):
            c.print(f"[yellow]not swung: {k['key']} ({k['reason']})[/yellow]")
        if len(tor["inputs"]) > top:
            c.print(f"the first {top} of {len(tor['inputs'])} inputs; --top N for more, --json for all")
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


def render_implied(res: dict, console=None) -> None:
    """Print the reverse-DCF table of :func:`engine.implied.implied` (rich)."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False)
    pctl = lambda p: "n/a" if p is None else f"{p:.1f}"  # noqa: E731
    t = Table(title=(f"What today's price implies ({money(res['price'])} {res['value_unit']}; base case worth "
                     f"{money(res['base_value'])})"), title_justify="left")
    for col in ("question", "implied", "percentile in the run", "run median"):
        t.add_column(col, justify="left" if col == "question" else "right")
    g = res["growth"]
    t.add_row(f"constant revenue growth (CAGR over {res['horizon_years']} years)",
              pct(g["implied_cagr"]) if g["implied_cagr"] is not None else "none", pctl(g["percentile_in_run"]),
              pct(g["run_median_cagr"]) if g["run_median_cagr"] is not None else "n/a")
    m = res["margin"]
    t.add_row(f"{m['input']}", pct(m["implied"]) if m["implied"] is not None else "none",
              pctl(m["percentile_in_run"]),
              pct(m["run_median"]) if m["run_median"] is not None else f"{pct(m['input_median'])} (config)")
    fp = res["forecast_period"]
    t.add_row("market-implied forecast period", f"{fp['years']} years" if fp["years"] else f"> {fp['max_searched']} years",
              "", f"{res['horizon_years']} years (config)")
    c.print(t)
    for part in (g, m, fp):
        if part.get("note"):
            c.print(f"[yellow]{part['note']}[/yellow]")
    c.print(f"[dim]{res['method']}[/dim]")


def render_stress(r: dict, console=None) -> None:
    """Print the stress tables (rich): levels by scenario, then paired changes from base with 95% intervals."""
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False, width=None if sys.stdout.isatty() else 110)
    unit = r["value_unit"]
    c.print(
        f"[bold]{r['company']}[/bold]: stress test, base + {count(len(r['scenarios']), 'scenario')}, {count(r['paths'], 'path')} "
        f"each, seed {r['seed']}, common random numbers; scenarios from {r.get('scenario_file', '')}"
    )
    noun = value_label(r.get("per_share", True))
    t = Table(title=f"{noun.capitalize()} ({unit}; price {money(r['price'])}) and P(justified)", title_justify="left")
    for col in ("scenario", "p5", "p50", "p95", "mean", "P(DCF)", "P(market)", "failed"):
        t.add_column(col, justify="left" if col == "scenario" else "right")
    rows = [r["base"]] + r["scenarios"]
    cells = money_cells([s["value_per_share"][k] for s in rows for k in ("p5", "p50", "p95", "mean")])
    for i, s in enumerate(rows):
        pj = s["p_justified"]
        t.add_row(s["name"], *cells[4 * i:4 * i + 4],
                  prob(pj["dcf"]["estimate"]), prob(pj["market"]["estimate"]), pct(s["failed_share"], 1))
    c.print(t)
    d = Table(title="Change from base, same paths: estimate ± paired 95% half-width (pp = percentage points)",
              title_justify="left")
    for col in ("scenario", "Δ mean", "Δ P(DCF), pp", "Δ P(market), pp", "Δ failed, pp"):
        d.add_column(col, justify="left" if col == "scenario" else "right")

    def cell(est, ci, f):
        half = (ci[1] - ci[0]) / 2
        return "0 ± 0" if est == 0 and half == 0 else f"{_plus(f(est), est)} ± {f(half)}"

    def pp(est, ci):  # percentage points: enough decimals to show a nonzero change, never "-0.00"
        return change_cell(est, (ci[1] - ci[0]) / 2, scale=100.0)

    for s in r["scenarios"]:
        x = s["delta"]
        d.add_row(s["name"], cell(x["mean"], x["mean_ci95"], money),
                  pp(x["p_justified_dcf"], x["p_justified_dcf_ci95"]),
                  pp(x["p_justified_market"], x["p_justified_market_ci95"]),
                  pp(x["failed_share"], x["failed_share_ci95"]))
    c.print(d)
    for s in r["scenarios"]:
        c.print(f"  [bold]{s['name']}[/bold]: {s['description']}")


def render_reverse(r: dict, company: str, console=None, formats=None) -> None:
    """Print the reverse stress table (rich).

    ``formats`` maps an input key to its kind (:func:`engine.summary.input_formats`): a
    fraction's medians print as %, its shifts in percentage points (pp).
    """
    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False, width=None if sys.stdout.isatty() else 150)
    c.print(
        f"[bold]{company}[/bold]: reverse stress, the shift of one input (rest of the base held) that brings "
        f"P(justified, DCF) to {r['target']:.0%}; {r['paths']:,} paths, seed {r['seed']}, common random numbers; "
        f"base P = {prob(r['p_base'])}"
    )
    t = Table(title_justify="left")
    for col in ("input", "base median", "shift needed", "bracket", "median then", "P at bracket ends",
                "range searched", "P over range"):
        t.add_column(col, justify="left" if col == "input" else "right", no_wrap=col == "input")
    fm = formats or {}
    for e in r["inputs"]:
        kind = fm.get(e["key"], "number")
        v = functools.partial(by_kind, kind=kind)
        d = functools.partial(shift_by_kind, kind=kind)
        rng = f"[{d(e['range'][0])}, {d(e['range'][1])}]" if "range" in e else "-"
        prng = f"{prob(e['p_min'])} .. {prob(e['p_max'])}" if "p_min" in e else "-"
        if e["status"] == "found":
            b = e["shift_bracket"]
            t.add_row(e["key"], v(e["base_median"]), d(e["shift"]), f"[{d(b[0])}, {d(b[1])}]",
                      v(e["value_median"]), f"{prob(e['p_bracket'][0])} / {prob(e['p_bracket'][1])}",
                      rng, prng)
        else:
            t.add_row(e["key"], v(e["base_median"]), "none in range", "-", "-", "-", rng, prng)
    c.print(t)
    c.print("P is evaluated at both ends of the range searched and at 7 evenly spaced shifts between 0 and each end "
            "('P over range': its min .. max there); where it crosses the target, the crossing nearest the base is narrowed by brentq "
            "to 1/1000 of the range searched, and the answer is that bracket (P is a step function of the shift on a "
            "finite sample). 'none in range': no shift evaluated reaches the target.")


def render_batch(rows: list, console=None) -> None:
    """Print one summary row per company (``run`` with several configs)."""
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    c = console or Console(soft_wrap=False, width=None if sys.stdout.isatty() else 150)
    t = Table(title="Companies: value per share in each company's value unit; P(justified) with Wilson 95% CI",
              title_justify="left")
    for col in ("company", "config", "paths", "unit", "mean", "p50", "price", r"E\[value]/price", "EV/Sales today",
                "P(DCF)", "95% CI", "P(market)", "failed"):
        left = col in ("company", "config", "unit")  # text columns wrap; numbers never do
        t.add_column(col, justify="left" if left else "right", no_wrap=not left,
                     min_width=12 if col == "company" else None)
    # file names, unless two configs share one (a/co.toml, b/co.toml): then the paths as given
    base_names = [Path(s["config"]).name for s in rows]
    names = {s["config"]: (n if base_names.count(n) == 1 else s["config"]) for s, n in zip(rows, base_names)}
    cells = money_cells([x for s in rows for x in (s["value_per_share"]["mean"], s["value_per_share"]["p50"],
                                                    s["price"])])
    for i, s in enumerate(rows):
        d, m = s["p_justified"]["dcf"], s["p_justified"]["market"]
        fv, ev = s.get("fair_value_ratio"), s.get("ev_sales_today") or {}
        t.add_row(s["company"], names[s["config"]], f"{s['paths']:,}", s["value_unit"], *cells[3 * i:3 * i + 3],
                  "n/a" if not fv else f"{fv['estimate']:.3f}x",
                  "n/a" if ev.get("reported") is None else f"{ev['reported']:,.1f}x",
                  prob(d["estimate"]), interval(d["ci95_low"], d["ci95_high"]),
                  prob(m["estimate"]), pct(s["failed_share"], 1))
    c.print(t)


def convergence_line(conv: dict) -> str:
    what = []
    if conv["target_se"] is not None:
        what.append(f"SE {prob(conv['se'])} (target {prob(conv['target_se'])})")
    if conv["target_rse"] is not None:
        what.append(f"relative SE {conv['rse']:.3g} (target {conv['target_rse']:.3g})")
    status = "met" if conv["met"] else f"NOT met: stopped at --max-paths {conv['max_paths']:,}"
    return f"convergence of P(justified, DCF) at {conv['paths']:,} paths: " + ", ".join(what) + f"; {status}"
