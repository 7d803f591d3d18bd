"""Figures of a result Dataset with matplotlib: one figure set for the CLI, the HTML page and notebooks.

Each public function returns a :class:`matplotlib.figure.Figure` built without pyplot
(no global figure state, nothing to close; a notebook displays it, ``fig.savefig``
writes it); :func:`save` writes one as PNG atomically, and :func:`save_set` writes the
``pricedin run --plot DIR`` set. Every axis is labelled with its units and currency. Kinds:

* ``hist``: distribution of value per share, today's price marked, P(justified)
  written on it; a symlog x scale when values span decades or include negatives;
* ``cdf``: empirical CDF of value per share with the price marked;
* ``fan``: 5/25/50/75/95% bands of revenue, operating margin and the EV/Sales
  multiple over time (needs the (path, time) variables of ``keep_paths``);
* ``tornado``: bars of median value per share at each input's low / high quantile
  (:func:`engine.sensitivity.tornado`);
* ``convergence``: running estimate of P(justified, DCF) with its Wilson 95% band by
  path count.

Amounts on the axes have thousands separators (:func:`tick_label`, never ``1.07e+06``),
margins are in %, every reference line (price, median, mean, base median) is named in
the legend, and legends sit outside the data. A company name the default font cannot
draw (CJK) uses an installed CJK font, else an ASCII rendering (:func:`display_name`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
from ..errors import InputError
from .format import prob, unit_value_label

__all__ = ["KINDS", "hist", "cdf", "fan", "tornado", "convergence", "figure", "save", "save_set", "tick_label",
           "display_name", "wilson_band"]

KINDS = ("hist", "cdf", "fan", "tornado", "convergence")


def _new_figure(kind: str):
    from matplotlib.figure import Figure

    # constrained layout makes room for legends placed outside the axes ("outside ..."), so none covers data
    return Figure(figsize=(9, 9 if kind == "fan" else 5.5), layout="constrained")


def _needs_symlog(v: np.ndarray) -> bool:
    v = v[np.isfinite(v)]
    if not v.size:
        return False
    if v.min() < 0:
        return True
    pos = v[v > 0]
    return pos.size > 0 and np.percentile(pos, 99) / max(np.percentile(pos, 1), 1e-300) > 100


def tick_label(x: float, pos=None) -> str:
    """An axis tick of an amount: thousands separators, no exponent (1,070,000; -137,047; 12.5; 0.025).

    >>> tick_label(1_070_000.0), tick_label(-137_047.0), tick_label(12.5), tick_label(0.025)
    ('1,070,000', '-137,047', '12.5', '0.025')
    """
    if not math.isfinite(x):
        return ""
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:,.4g}"


def _money_axis(axis) -> None:
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(tick_label))
    axis.set_minor_formatter(FuncFormatter(lambda x, pos=None: ""))
    if axis.get_scale() == "symlog":  # decades of long labels: slanted so that they never run into each other
        axis.set_tick_params(labelrotation=30, labelsize=8)


#: Font families that hold CJK glyphs, looked up among the installed fonts (Debian: fonts-noto-cjk).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Noto Sans SC", "Source Han Sans SC",
             "Source Han Sans", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "AR PL UMing CN", "Droid Sans Fallback",
             "Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB")


def _cjk_font() -> Optional[str]:
    """The first installed font family of :data:`CJK_FONTS`, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((f for f in CJK_FONTS if f in names), None)


#: Company names already warned about (one notice per name and process, not one per figure or glyph).
_WARNED: set = set()


def display_name(ds) -> tuple:
    """(name, font family or None): the company name as the figures can draw it.

    The default font (DejaVu Sans) has no CJK glyphs: a name with them is drawn in an
    installed CJK font (:data:`CJK_FONTS`), else replaced by an ASCII rendering (the
    ticker, else the name's Latin part, else "company") with one ``UserWarning``
    saying how to get the real name drawn.
    """
    name = str(ds.attrs.get("company", ""))
    if all(ord(ch) < 0x250 for ch in name):  # Latin scripts: the default font has them
        return name, None
    font = _cjk_font()
    if font is not None:
        return name, font
    import re
    import warnings

    latin = re.sub(r"\s+", " ", re.sub(r"[^\x20-\x7e]", " ", name)).strip(" -()")
    ascii_name = str(ds.attrs.get("ticker") or "") or latin or "company"
    if name in _WARNED:
        return ascii_name, None
    _WARNED.add(name)
    warnings.warn(f"company name {name!r} has characters the figure fonts cannot draw; the figures call it "
                  f"{ascii_name!r}. Install a CJK font (e.g. Debian's fonts-noto-cjk) to draw the name", UserWarning,
                  stacklevel=3)
    return ascii_name, None


def _title(ds, what, ax=None, fig=None):
    name, font = display_name(ds)
    text = f"{name}: {what} ({int(ds.sizes['path']):,} paths, seed {ds.attrs.get('seed')})"
    kw = {"fontfamily": [font, "DejaVu Sans"]} if font else {}
    if fig is not None:
        return fig.suptitle(text, **kw)
    return ax.set_title(text, **kw)


def _legend_outside(ax, fig):
    """The axes' legend below the plot, outside the data (never covering bars or lines)."""
    handles, labels = ax.get_legend_handles_labels()
    return fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3), fontsize=8,
                      frameon=False)


def _hist(ds, ax):
    fig = ax.figure
    v = np.asarray(ds["value_per_share"].values, dtype=float)
    price = float(ds.attrs["price"])
    unit = ds.attrs["value_unit"]
    from ..summary import proportion

    pr = proportion(int(np.count_nonzero(ds["justified_dcf"].values)), v.size)
    lo, hi = np.percentile(v, [0.5, 99.5])
    lo, hi = min(lo, price), max(hi, price)
    if _needs_symlog(v):
        lt = max(np.percentile(np.abs(v[v != 0]), 5) if np.any(v != 0) else 1.0, 1e-12)
        ax.set_xscale("symlog", linthresh=lt)
        edges = np.unique(np.concatenate([-np.geomspace(max(-lo, lt), lt, 30) if lo < 0 else [],
                                          np.linspace(-lt, lt, 11), np.geomspace(lt, max(hi, lt * 1.01), 60)]))
        ax.hist(np.clip(v, edges[0], edges[-1]), bins=edges, color="steelblue", alpha=0.8)
        ax.set_xlabel(f"{_noun(ds)} [{unit}] (symmetric log scale)")
    else:
        ax.hist(np.clip(v, lo, hi), bins=80, color="steelblue", alpha=0.8)
        ax.set_xlabel(f"{_noun(ds)} [{unit}]")
    _money_axis(ax.xaxis)
    ax.axvline(price, color="crimson", lw=2, label=f"today's price {tick_label(price)}")
    med, mean = float(np.median(v)), float(np.mean(v))
    ax.axvline(med, color="black", lw=1.2, ls="--", label=f"median {tick_label(med)}")
    ax.axvline(mean, color="darkorange", lw=1.2, ls=":", label=f"mean {tick_label(mean)}")
    ax.set_ylabel("paths [count]")
    tails = (f"outer bars also hold the {prob(float(np.mean(v < lo)), 2)} of paths below {tick_label(lo)} "
             f"and the {prob(float(np.mean(v > hi)), 2)} above {tick_label(hi)}")
    se = prob(pr["se"], 2)  # 'n/a' where undefined; no exponent for a tiny SE
    _legend_outside(ax, fig)
    _title(ds, f"distribution of {_noun(ds)}", ax)
    ax.text(0.5, 1.0, f"P(justified, DCF) = {prob(pr['estimate'])} (SE {se}; Wilson 95% "
            f"[{prob(pr['ci95_low'])}, {prob(pr['ci95_high'])}]);\n{tails}", transform=ax.transAxes,
            fontsize=8, ha="center", va="bottom")  # two lines: one is wider than the figure when P > 0
    ax.set_title(ax.get_title() + "\n\n", fontfamily=ax.title.get_fontfamily())


def _cdf(ds, ax):
    fig = ax.figure
    v = np.sort(np.asarray(ds["value_per_share"].values, dtype=float))
    price = float(ds.attrs["price"])
    unit = ds.attrs["value_unit"]
    ax.plot(v, np.arange(1, v.size + 1) / v.size, color="steelblue", label="share of paths worth at most x")
    if _needs_symlog(v):
        lt = max(np.percentile(np.abs(v[v != 0]), 5) if np.any(v != 0) else 1.0, 1e-12)
        ax.set_xscale("symlog", linthresh=lt)
    _money_axis(ax.xaxis)
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    below = float(np.mean(v < price))
    med = float(np.median(v))
    ax.axvline(price, color="crimson", lw=2, label=f"today's price {tick_label(price)}")
    ax.axvline(med, color="black", lw=1.2, ls="--", label=f"median {tick_label(med)}")
    ax.axhline(below, color="grey", ls=":", lw=1, label=f"paths worth less than the price: {prob(below)}")
    ax.set_xlabel(f"{_noun(ds)} [{unit}]")
    ax.set_ylabel("cumulative probability [% of paths]")
    _legend_outside(ax, fig)
    _title(ds, f"CDF of {_noun(ds)}", ax)


def _fan(ds, fig):
    if "revenue" not in ds or "time" not in ds.dims:
        raise InputError("the fan chart needs the (path, time) variables: simulate with `keep_paths=True`")
    from matplotlib.ticker import PercentFormatter

    t = np.asarray(ds["time"].values, dtype=float)
    cur = ds.attrs.get("reporting_currency", "")
    mu = ds.attrs.get("money_unit", "")
    alive = ~np.asarray(ds["failed"].values, dtype=bool) if "failed" in ds else np.ones(int(ds.sizes["path"]), bool)
    n_alive, n = int(alive.sum()), int(alive.size)
    axes = fig.subplots(3, 1, sharex=True)
    for ax, (var, label) in zip(axes, (("revenue", f"revenue [{cur} {mu} per year]"),
                                       ("margin", "operating margin [% of revenue]"),
                                       ("multiple", "EV/Sales multiple [x]"))):
        x = np.asarray(ds[var].transpose("path", "time").values, dtype=float)[alive]
        if not x.shape[0]:
            ax.text(0.5, 0.5, "no surviving path", transform=ax.transAxes, ha="center")
            ax.set_ylabel(label)
            continue
        q = np.nanpercentile(x, [5, 25, 50, 75, 95], axis=0)
        ax.fill_between(t, q[0], q[4], color="steelblue", alpha=0.2, label="5-95%")
        ax.fill_between(t, q[1], q[3], color="steelblue", alpha=0.45, label="25-75%")
        ax.plot(t, q[2], color="navy", label="median")
        pos = q[2][q[2] > 0]
        if var == "revenue" and pos.size and np.nanmax(q[4]) / pos.min() > 30:
            ax.set_yscale("log", nonpositive="clip")
            ax.set_ylim(bottom=pos.min() / 10)
            label = label.replace("]", ", log scale]")
        if var == "margin":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        elif var == "revenue":
            _money_axis(ax.yaxis)
        ax.set_ylabel(label)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    axes[-1].set_xlabel("fiscal year [year]")
    _title(ds, f"fan chart of the {n_alive:,} surviving paths ({n - n_alive:,} failed paths left out)", fig=fig)


def _tornado(ds, ax, tor):
    fig = ax.figure
    rows = tor["inputs"][:15][::-1]
    base = tor["base_median"]
    y = np.arange(len(rows))
    for i, r in enumerate(rows):
        ax.barh(i, r["median_low"] - base, left=base, color="indianred", alpha=0.8,
                label="input at low quantile" if i == 0 else None)
        ax.barh(i, r["median_high"] - base, left=base, color="seagreen", alpha=0.8,
                label="input at high quantile" if i == 0 else None)
    ax.axvline(base, color="black", lw=1, label=f"base median {tick_label(base)}")
    ends = [base] + [r[k] for r in rows for k in ("median_low", "median_high")]
    span = max(ends) - min(ends) or abs(base) or 1.0
    if min(ends) - span <= tor["price"] <= max(ends) + span:
        ax.axvline(tor["price"], color="crimson", lw=1.5, ls="--", label=f"today's price {tick_label(tor['price'])}")
    else:
        ax.text(0.98, 0.02, f"today's price {tick_label(tor['price'])} is off this scale", transform=ax.transAxes,
                ha="right", va="bottom", color="crimson", fontsize=9)
    _money_axis(ax.xaxis)
    ax.set_yticks(y, [r["key"] for r in rows], fontsize=8)
    ax.set_xlabel(f"median {unit_value_label(tor['value_unit'])} [{tor['value_unit']}]")
    ax.set_ylabel("drawn input")
    _legend_outside(ax, fig)
    ax.set_title(f"Tornado: each input at its {100 * tor['low']:g}th / {100 * tor['high']:g}th percentile "
                 f"({tor['paths']:,} paths)")


def wilson_band(k, n, z: float = 1.959963984540054):
    """Wilson score interval (Wilson 1927) of k hits in n trials, elementwise.

    Parameters
    ----------
    k, n : array_like, same shape
        Hits and trials (n >= 1).

    Returns
    -------
    (low, high) : tuple of numpy.ndarray
        Bounds in [0, 1]; never degenerate: 0 of n gives [0, z^2 / (n + z^2)].
        Equal to :func:`engine.summary.proportion`'s ``ci95_low`` / ``ci95_high``.
    """
    k, n = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def _convergence(ds, ax):
    fig = ax.figure
    j = np.asarray(ds["justified_dcf"].values, dtype=float)
    n = np.arange(1, j.size + 1)
    k = np.cumsum(j)
    p = k / n
    lo, hi = wilson_band(k, n)
    ax.fill_between(n, 100 * lo, 100 * hi, color="steelblue", alpha=0.3, label="Wilson 95% interval")
    ax.plot(n, 100 * p, color="navy", label="running estimate")
    ax.axhline(100 * p[-1], color="black", lw=1, ls="--", label=f"final estimate {prob(float(p[-1]))}")
    ax.set_xscale("log")
    _money_axis(ax.xaxis)
    ax.set_xlabel("paths simulated [count]")
    ax.set_ylabel("P(today's price justified, DCF) [%]")
    _legend_outside(ax, fig)
    _title(ds, "convergence of P(justified)", ax)


def _check_run(ds) -> None:
    from ..summary import refuse_weighted

    refuse_weighted(ds)
    if "scenario" in ds.dims:
        raise InputError("figures are drawn from a run's results; a stress file (scenario dimension) has one run "
                         "per scenario: select one with ds.sel(scenario=NAME)")


def _one_axes(ds, kind: str, draw):
    _check_run(ds)
    fig = _new_figure(kind)
    draw(ds, fig.add_subplot())
    return fig


def hist(ds):
    """Histogram of value per share with today's price and P(justified, DCF) (with its standard error) on it.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (dim ``path``, P paths), from :func:`engine.simulate` or
        :func:`engine.open_results`.

    Returns
    -------
    matplotlib.figure.Figure
        x: value per share [the run's value unit], a symmetric-log scale when values
        span two decades or include negatives; y: paths [count]. The outer bars also
        hold the 0.5% tails, as written on the figure.

    Raises
    ------
    engine.errors.InputError
        ``ds`` is a stress file (``scenario`` dimension).
    """
    return _one_axes(ds, "hist", _hist)


def cdf(ds):
    """Empirical CDF of value per share, today's price marked (returns a :class:`matplotlib.figure.Figure`).

    The dotted horizontal line is the share of paths worth less than the price, i.e.
    1 - P(justified, DCF). Same ``ds`` and errors as :func:`hist`.
    """
    return _one_axes(ds, "cdf", _cdf)


def convergence(ds):
    """Running estimate of P(justified, DCF) by path count, with its Wilson 95% band (:func:`wilson_band`).

    Returns a :class:`matplotlib.figure.Figure`; x: paths simulated [count, log
    scale], y: P [%]; the final estimate is a labelled dashed line. The Wilson
    band is never "0 +/- 0" (0 of n paths still bounds P above). Same ``ds`` and
    errors as :func:`hist`.
    """
    return _one_axes(ds, "convergence", _convergence)


def fan(ds):
    """5/25/50/75/95% bands of revenue, operating margin [%] and the EV/Sales multiple by fiscal year.

    Over the surviving paths only (a failed path's zero revenue and margin would
    drag the bands down); the title gives how many paths failed and were left out.

    Parameters
    ----------
    ds : xarray.Dataset
        A run with the (path, time) variables ``revenue``, ``margin``,
        ``multiple`` (``engine.simulate(..., keep_paths=True)``).

    Returns
    -------
    matplotlib.figure.Figure
        Three panels sharing the fiscal-year axis; revenue [reporting currency and
        money unit per year] on a log scale when its bands span decades.

    Raises
    ------
    engine.errors.InputError
        The (path, time) variables are missing, or ``ds`` is a stress file.
    """
    _check_run(ds)
    fig = _new_figure("fan")
    _fan(ds, fig)
    return fig


def tornado(ds, tornado_result: Optional[dict] = None, threads: Optional[int] = None, paths: int = 2000):
    """Bars of median value per share with each drawn input at its low / high quantile (largest 15 swings).

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results; its title, seed and config are used.
    tornado_result : dict, optional
        A :func:`engine.tornado` result. When absent it is computed from the run's
        own config (``config_toml`` attribute) with the run's seed and
        ``min(paths, P)`` paths: this re-runs the model once per input and quantile.
    threads : int, optional
        Worker threads of those re-runs; the figure does not depend on it.
    paths : int
        Most paths of each re-run when ``tornado_result`` is absent.

    Returns
    -------
    matplotlib.figure.Figure
        x: median value per share [the run's value unit], the base median and
        today's price marked; y: drawn input (key path).

    Raises
    ------
    engine.errors.InputError
        ``ds`` is a stress file, or has no config to re-run.
    """
    _check_run(ds)
    if tornado_result is None:
        from ..sensitivity import config_of, tornado as _run_tornado

        tornado_result = _run_tornado(config_of(ds), paths=min(int(ds.sizes["path"]), paths),
                                      seed=int(ds.attrs["seed"]), threads=threads)
    fig = _new_figure("tornado")
    _tornado(ds, fig.add_subplot(), tornado_result)
    return fig


def figure(ds, kind: str, tornado_result: Optional[dict] = None, threads: Optional[int] = None):
    """The figure ``kind`` (one of :data:`KINDS`) of ``ds``: :func:`hist`, :func:`cdf`, :func:`fan`,
    :func:`tornado` or :func:`convergence`.

    Raises
    ------
    engine.errors.InputError
        Unknown ``kind``, and the errors of the figure's own function.
    """
    if kind not in KINDS:
        raise InputError(f"kind {kind!r}: choose one of {', '.join(KINDS)}")
    if kind == "tornado":
        return tornado(ds, tornado_result, threads=threads)
    return {"hist": hist, "cdf": cdf, "fan": fan, "convergence": convergence}[kind](ds)


def save(fig, path, option: str = "path", dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (a temporary name in its folder, then renamed).

    ``option`` is the argument named in error messages. Raises
    :class:`engine.errors.InputError` when the folder cannot be written.
    """
    from .._io import atomic_write

    return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"), option)


def write(ds, kind: str, path, tornado_result: Optional[dict] = None, threads: Optional[int] = None,
          option: str = "path") -> Path:
    """Draw the figure ``kind`` of ``ds`` and write it as PNG to ``path``.

    An unwritable folder is refused before anything is drawn (or re-run).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    engine.errors.InputError
        Unknown ``kind``, a stress file, missing (path, time) variables for
        ``fan``, or a folder that cannot be written; the message names ``option``.
    """
    from .._io import check_writable

    if kind not in KINDS:
        raise InputError(f"kind {kind!r}: choose one of {', '.join(KINDS)}")
    _check_run(ds)
    check_writable(Path(path), option)  # refused before any drawing; no folder is created yet
    return save(figure(ds, kind, tornado_result, threads=threads), path, option)


def save_set(ds, cfg, folder, threads: Optional[int] = None, paths_cap: int = 2000,
             option: str = "plot_dir") -> list:
    """Write the figure set of ``pricedin run --plot DIR``: hist, cdf, tornado, convergence, fan (PNG).

    Parameters
    ----------
    ds : xarray.Dataset
        The run's results.
    cfg : Config
        The run's config with the run's seed; the fan re-runs it with at most
        ``paths_cap`` kept paths (a prefix of the same run) when ``ds`` has no
        (path, time) variables.
    folder : str or Path
        Created if needed; files ``<kind>.png``.

    Returns
    -------
    list of Path
        In the order hist, cdf, tornado, convergence, fan.
    """
    from ..simulate import simulate

    written = [write(ds, kind, Path(folder) / f"{kind}.png", threads=threads, option=option)
               for kind in ("hist", "cdf", "tornado", "convergence")]
    kept = ds if "revenue" in ds else simulate(cfg, paths=min(paths_cap, int(ds.sizes["path"])),
                                               seed=int(ds.attrs["seed"]), threads=threads, keep_paths=True)
    written.append(write(kept, "fan", Path(folder) / "fan.png", option=option))
    return written


def _noun(ds) -> str:
    """'value per share', or 'DCF equity value' when the config gives no share count (the report's label)."""
    per_share = ds.attrs.get("per_share", 1)
    return "value per share" if bool(int(per_share)) else "DCF equity value"
