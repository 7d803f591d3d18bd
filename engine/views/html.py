"""A self-contained HTML report of a result Dataset (``pricedin report FILE.nc --html PAGE.html``).

One page, no external resources: the style sheet is inline, the figures are PNG
images embedded as base64 ``data:`` URIs, and a Content-Security-Policy meta tag
forbids the page from loading anything else. It opens from disk in any browser.

The page holds the run header (company, paths, seed, horizon, config sha256,
engine version, created), the report table (:func:`engine.summary.summary_dict`),
the "what you must believe" table with its base-rate statements, the global
sensitivity table (:func:`engine.sensitivity.global_sensitivity`, from the saved
draws), optionally the tornado (:func:`engine.sensitivity.tornado`, which re-runs
the config; passed in by the caller) and the figures of :mod:`engine.views.figures`
(hist, cdf, convergence; the fan when the file kept the (path, time) variables;
the tornado when given). Every piece of text is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Optional
from ..errors import InputError
from .format import by_format, interval, money, pct, prob, unit_value_label

__all__ = ["render_html", "write_html", "check_html_path", "figure_png"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; }
th { background: #f3f3f3; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.key { font-family: ui-monospace, Menlo, Consolas, monospace; white-space: nowrap; }
tr.outcome td:first-child { font-weight: bold; }
tr.strong td { font-weight: bold; }
dl.header { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.header dt { font-weight: bold; }
dl.header dd { margin: 0; font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
p.note, p.method { color: #555; font-size: 0.9em; }
p.warn { color: #8a5a00; }
ul.base-rates li { margin-bottom: 0.5em; }
ul.base-rates .flag { color: #b00020; font-weight: bold; }
ul.base-rates .src { color: #555; font-size: 0.9em; display: block; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9em; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_FIGURES = {
    "hist": ("Distribution of value per share",
             "Value per share over all paths, today's price marked, P(justified, DCF) with its standard error "
             "written on it; a symmetric-log x scale when values span decades or include negatives."),
    "cdf": ("CDF of value per share",
            "Empirical cumulative distribution of value per share; the dotted line is the share of paths worth "
            "less than today's price."),
    "convergence": ("Convergence of P(justified)",
                    "Running estimate of P(justified, DCF) with its Wilson 95% interval against the number of "
                    "paths simulated."),
    "fan": ("Fan chart",
            "5/25/50/75/95% bands of revenue, operating margin and the EV/Sales multiple by fiscal year, over the "
            "surviving paths (failed paths are left out; the title says how many)."),
    "tornado": ("Tornado",
                "Median value per share with each drawn input fixed at its low / high percentile on every path, "
                "all other inputs at their own draws (common random numbers)."),
}


def _e(x) -> str:
    return html.escape(str(x), quote=True)


# --------------------------------------------------------------------------- figures


def figure_png(ds, kind: str, tornado_result: Optional[dict] = None, dpi: int = 110) -> bytes:
    """One figure of :mod:`engine.views.figures` rendered to PNG bytes in memory (no file is written).

    Parameters
    ----------
    ds : xarray.Dataset
        A result Dataset (``fan`` needs the (path, time) variables).
    kind : {'hist', 'cdf', 'fan', 'tornado', 'convergence'}
    tornado_result : dict, optional
        Required for ``tornado``: a :func:`engine.sensitivity.tornado` result.
    """
    from .figures import figure

    if kind == "tornado" and tornado_result is None:
        raise InputError("the tornado figure needs a tornado result (engine.tornado)")
    buf = io.BytesIO()
    figure(ds, kind, tornado_result).savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _has_fan(ds) -> bool:
    return "revenue" in ds and "time" in ds.dims


def _figure(ds, kind: str, tornado_result=None) -> str:
    title, caption = _FIGURES[kind]
    data = base64.b64encode(figure_png(ds, kind, tornado_result)).decode("ascii")
    return (f'<figure id="fig-{_e(kind)}">\n<img src="data:image/png;base64,{data}" alt="{_e(title)}">\n'
            f"<figcaption><strong>{_e(title)}.</strong> {_e(caption)}</figcaption>\n</figure>")


# --------------------------------------------------------------------------- tables


def _table(caption: str, head: list, rows: list, num: set, row_class=None) -> str:
    """An HTML table; ``rows`` hold plain (unescaped) text; columns in ``num`` are right-aligned."""
    out = ["<table>", f"<caption>{_e(caption)}</caption>", "<thead><tr>"]
    out += [(f'<th scope="col" class="num">{_e(h)}</th>' if i in num else f'<th scope="col">{_e(h)}</th>')
            for i, h in enumerate(head)]
    out.append("</tr></thead>")
    out.append("<tbody>")
    for k, r in enumerate(rows):
        cls = row_class[k] if row_class else None
        out.append(f'<tr class="{_e(cls)}">' if cls else "<tr>")
        for i, cell in enumerate(r):
            out.append(f'<td class="num">{_e(cell)}</td>' if i in num else f"<td>{_e(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody>")
    out.append("</table>")
    return "\n".join(out)


def _header(ds, s: dict) -> str:
    a = ds.attrs
    items = [
        ("company", s["company"]),
        ("ticker", a.get("ticker", "")),
        ("paths", f"{s['paths']:,}"),
        ("seed", s["seed"]),
        ("horizon", f"{s['horizon_years']} years"),
        ("sampling", s["sampling"]),
        ("value unit", s["value_unit"]),
        ("config sha256", s.get("config_sha256", "") or a.get("config_sha256", "")),
        ("engine version", a.get("engine_version", "")),
        ("created", a.get("created", "")),
        ("history", a.get("history", "")),
    ]
    out = ['<dl class="header">']
    for k, v in items:
        if v == "" or v is None:
            continue
        out.append(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>")
    out.append("</dl>")
    return "\n".join(out)


def _report(s: dict) -> str:

    unit = s["value_unit"]
    out = []
    if not s["per_share"]:
        out.append(f'<p class="warn">No share count in the config: "per share" means the whole equity, '
                   f"in {_e(unit)}.</p>")
    from .tables import _fair_value_notes, fair_value_rows

    fv = fair_value_rows(s)
    if fv:
        out.append(_table(f"Fair value at today's price ({money(s['price'])} {unit})", ["what", "value"],
                          [list(r) for r in fv], {1}))
        out.extend(f'<p class="warn">{_e(n)}</p>' for n in _fair_value_notes(s))
    v = s["value_per_share"]
    rows = [["mean", f"{money(v['mean'])}  (standard error {money(v['se_mean'])})"],
            ["standard deviation", money(v["sd"])]]
    for q in (1, 5, 10, 25, 50, 75, 90, 95, 99):
        label = {1: "1st", 50: "median"}.get(q, f"{q}th")
        rows.append([label if q == 50 else f"{label} percentile", money(v[f"p{q}"])])
    rows.append(["today's price", money(s["price"])])
    rows.append(["percentile of today's price", f"{s['price_percentile']:.2f}"])
    cls = [None] * (len(rows) - 2) + ["strong", None]
    out.append(_table(f"DCF {s.get('value_label', 'value per share')}, {unit}", ["statistic", "value"], rows, {1},
                      cls))

    d, m = s["p_justified"]["dcf"], s["p_justified"]["market"]
    rows = [
        ["DCF", prob(d["estimate"]), prob(d["se"]), interval(d["ci95_low"], d["ci95_high"]),
         f"{d['hits']:,}", "value per share >= price" if s["per_share"] else "equity value >= market cap"],
        ["market", prob(m["estimate"]), prob(m["se"]), interval(m["ci95_low"], m["ci95_high"]),
         f"{m['hits']:,}", "return >= cost of equity"],
    ]
    out.append(_table("P(today's price is justified)",
                      ["lens", "estimate", "std error", "Wilson 95% CI", "paths", "justified when"], rows,
                      {1, 2, 3, 4}))
    from .tables import undefined_notes

    out += [f'<p class="note">{_e(n)}</p>' for n in undefined_notes(s)]

    rows = [
        ["failed paths (share)", pct(s["failed_share"], 2)],
        ["median annual holder return to the horizon", pct(s["median_horizon_return"])
         + (f" ({s['median_horizon_return_note']})" if s.get("median_horizon_return_note") else "")],
        ["median revenue CAGR over the horizon (surviving paths)", pct(s["median_revenue_cagr"])],
        ["median share count at horizon / today (surviving paths)", f"{s['median_dilution']:.2f}x"],
        ["median terminal-value share of value (surviving paths)", pct(s["median_terminal_share"])],
        ["paths with terminal spread clipped to the minimum", f"{s['tv_clipped']:,}"],
    ]
    if s.get("liquidated_share") is not None:
        rows.append(["surviving paths valued at liquidation (terminal loss)", pct(s["liquidated_share"], 2)])
        rows.append(["surviving paths not in steady state at the horizon", pct(s["not_steady_share"], 2)])
    if s["floored"]:
        rows.append(["paths with equity floored at 0 (limited liability)", f"{s['floored']:,}"])
    if math.isfinite(s["elapsed_s"]):
        rows.append(["elapsed", f"{s['elapsed_s']:.2f} s"])
    out.append(_table("Outcomes", ["what", "value"], rows, {1}))
    if s.get("breakeven"):
        from .tables import cash_funding_rows

        out.append(_table("Cash and funding", ["what", "value"], [list(r) for r in cash_funding_rows(s)], {1}))
    return "\n".join(out)


def _must_believe(mb: dict) -> str:

    ld, lm = mb["lenses"]["dcf"], mb["lenses"]["market"]
    out = [
        f'<p class="note">Medians over all {mb["paths"]:,} paths vs the {ld["justified_paths"]:,} DCF-justified and '
        f'{lm["justified_paths"]:,} market-justified paths (money in {_e(mb["money_unit"])}). "DCF ok" / '
        '"market ok": medians over the justified paths; "pctl": where the DCF-justified median falls among all '
        "paths (50 = nothing special to believe).</p>"
    ]
    rows, cls = [], []
    for r in mb["rows"]:
        pct = r.get("dcf_percentile")
        rows.append([r["label"], by_format(r["all"], r["format"]), by_format(r["dcf"], r["format"]),
                     "n/a" if pct is None else f"{pct:.0f}", by_format(r["market"], r["format"])])
        cls.append("outcome" if r["kind"] == "outcome" else None)
    out.append(_table("What you must believe", ["outcome / drawn input", "all", "DCF ok", "pctl", "market ok"],
                      rows, {1, 2, 3, 4}, cls))
    for lens in ("dcf", "market"):
        if mb["lenses"][lens]["note"]:
            out.append(f'<p class="warn">{_e(mb["lenses"][lens]["note"])}</p>')
    if mb["base_rates"]:
        out.append("<h3>Base rates</h3>")
        out.append(f'<p class="note">Published figures, shown where the company belongs to their population; '
                   f'{_e(mb.get("flag_rule", ""))}.</p>')
        out.append('<ul class="base-rates">')
        for b in mb["base_rates"]:
            extra = ""
            if b.get("model_share") is not None and b.get("base_share") is not None:
                extra = (f" Model: {100 * b['model_share']:.1f}% of all paths"
                         + (f", {100 * b['justified_share']:.1f}% of justified paths"
                            if b.get("justified_share") is not None else "")
                         + f" vs base rate {100 * b['base_share']:.1f}%.")
            mark = ('<span class="flag" title="past the base rate, and needed by the justified paths">! </span>'
                    if b.get("flag") else "")
            pop = (f'<span class="src">population: {_e(b["population"])}</span>'
                   if b.get("population") and "cannot be checked" in b["population"] else "")
            out.append(f"<li>{mark}{_e(b['statement'])}.{_e(extra)}"
                       f'<span class="src">base rate: {_e(b["text"])}</span>{pop}</li>')
        out.append("</ul>")
    for line in mb.get("base_rates_not_shown", ()):
        out.append(f'<p class="note">{_e(line)}.</p>')
    return "\n".join(out)


def _signed(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.3f}"


def _plain(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"


def _global(g: dict) -> str:
    rows = [[r["key"], _signed(r["spearman_value"]), _signed(r["spearman_justified"]), _plain(r["s_value"]),
             _plain(r["s_justified"])] for r in g["inputs"]]
    out = [_table(f"Global sensitivity from {g['paths']:,} saved draws ({g['bins']} quantile bins)",
                  ["input", "Spearman (value)", "Spearman (justified)", "S_i (value)", "S_i (justified)"],
                  rows, {1, 2, 3, 4})]
    out.append(f"<p>Sum of first-order indices (value): {_e(_plain(g['sum_s_value']))}.</p>")
    if g["correlated_inputs"]:
        out.append('<p class="warn">The inputs are rank-correlated (a [correlations] section): S_i is a correlation '
                   "ratio, not a variance share.</p>")
    out.append(f'<p class="method">{_e(g["method"])}</p>')
    return "\n".join(out)


def _tornado(tor: dict) -> str:

    title = (f"Tornado: median {unit_value_label(tor['value_unit'])} [{tor['value_unit']}] and P(justified, DCF) with each input at its "
             f"{100 * tor['low']:g}th / {100 * tor['high']:g}th percentile ({tor['paths']:,} paths, seed "
             f"{tor['seed']}); base median {money(tor['base_median'])}, base P {prob(tor['base_p_justified'])}, "
             f"price {money(tor['price'])}")
    rows = [[r["key"], f"{r['low_value']:.4g}", f"{r['high_value']:.4g}", money(r["median_low"]),
             money(r["median_high"]), money(r["swing"]), prob(r["p_low"]), prob(r["p_high"])]
            for r in tor["inputs"]]
    return "\n".join([
        _table(title, ["input", "low value", "high value", "median @low", "median @high", "swing", "P @low",
                       "P @high"], rows, {1, 2, 3, 4, 5, 6, 7}),
        f'<p class="method">{_e(tor["method"])}</p>',
    ])


# --------------------------------------------------------------------------- page


def render_html(ds, tornado: Optional[dict] = None, implied: bool = True) -> str:
    """The self-contained HTML report of a result Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`engine.simulate` or :func:`engine.summary.open_results`
        (not a stress Dataset).
    tornado : dict, optional
        A :func:`engine.sensitivity.tornado` result; when given, the page has the
        tornado table and figure. Computing it re-runs the config, so it is the
        caller's choice.
    implied : bool
        Solve for the implied cost of capital (re-runs of the stored config on at
        most 20,000 paths, :func:`engine.fairvalue.implied_cost_of_capital`).

    Returns
    -------
    str
        The whole page (UTF-8 text); every figure is an embedded base64 PNG.
    """
    from .. import __version__
    from ..sensitivity import global_sensitivity
    from ..summary import summary_dict

    if "scenario" in ds.dims:
        raise InputError("the HTML report is for a run's results; a stress file (scenario dimension) has none")
    s = summary_dict(ds, implied=implied)
    g = global_sensitivity(ds)
    company = s["company"]
    title = f"{company}: pricedin valuation report"
    kinds = ["hist", "cdf", "convergence"] + (["fan"] if _has_fan(ds) else [])
    if tornado is not None:
        kinds.append("tornado")
    figures = "\n".join(_figure(ds, k, tornado) for k in kinds)
    if not _has_fan(ds):
        figures += ('\n<p class="note">No fan chart: the file has no (path, time) variables (simulate with '
                    "keep_paths=True, or `pricedin run --keep-paths`, to keep them).</p>")

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_e(company)}</h1>",
        "<p>Monte Carlo valuation: the distribution of value per share and P(today's price is justified).</p>",
        _header(ds, s),
        "</header>",
        "<main>",
        '<section id="report">',
        "<h2>Report</h2>",
        _report(s),
        "</section>",
        '<section id="must-believe">',
        "<h2>What you must believe</h2>",
        _must_believe(s["must_believe"]),
        "</section>",
        '<section id="sensitivity">',
        "<h2>Sensitivity</h2>",
        "<h3>Global, from the saved draws</h3>",
        _global(g),
        "<h3>Tornado</h3>",
    ]
    if tornado is not None:
        parts.append(_tornado(tornado))
    else:
        parts.append('<p class="note">No tornado: it re-runs the config; pass a tornado result (or `pricedin report --tornado`) to include it.</p>')
    parts += [
        "</section>",
        '<section id="figures">',
        "<h2>Figures</h2>",
        figures,
        "</section>",
        "</main>",
        f"<footer>Written by pricedin {_e(__version__)} from a saved results file; no simulation was re-run"
        + (" except the tornado's." if tornado is not None else ".") + "</footer>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- writing


def check_html_path(path, option: str = "path") -> Path:
    """Check that ``path`` ends in ``.html`` and that its folder takes a new file; returns it as a Path.

    Done before rendering, so a long tornado run is not wasted on an unwritable
    location. Creates nothing: missing parent folders are made when the page is written.

    Raises
    ------
    engine.errors.InputError
        Wrong suffix, a folder at that path, or an unwritable location.
    """
    from .._io import check_writable

    p = Path(path)
    if p.suffix.lower() != ".html":
        raise InputError(f"{option} {str(p)!r}: the report is a web page; give a file name ending in .html")
    if p.is_dir():
        raise InputError(f"{option} {str(p)!r} is a folder; give a file name ending in .html")
    check_writable(p, option)
    return p


def write_html(text: str, path, option: str = "path") -> Path:
    """Write ``text`` to ``path`` atomically (a temporary name in the same folder, then ``os.replace``).

    Raises
    ------
    engine.errors.InputError
        Wrong suffix or an unwritable location; no partial file is left.
    """
    from .._io import atomic_write

    p = check_html_path(path, option)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)

    return atomic_write(p, write, option)


