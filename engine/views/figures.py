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
* ``convergence``: running estimate of P(justified, DCF) with a +/-1.96 SE band by
  path count.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
from ..errors import InputError

__all__ = ["KINDS", "hist", "cdf", "fan", "tornado", "convergence", "figure", "save", "save_set"]

KINDS = ("hist", "cdf", "fan", "tornado", "convergence")


def _new_figure(kind: str):
    from matplotlib.figure import Figure

    return Figure(figsize=(9, 9 if kind == "fan" else 5.5))


def _needs_symlog(v: np.ndarray) -> bool:
    v = v[np.isfinite(v)]
    if not v.size:
        return False
    if v.min() < 0:
        return True
    pos = v[v > 0]
    return pos.size > 0 and np.percentile(pos, 99) / max(np.percentile(pos, 1), 1e-300) > 100


def _title(ds, what):
    return f"{ds.attrs.get('company', '')}: {what} ({int(ds.sizes['path']):,} paths, seed {ds.attrs.get('seed')})"


def _hist(ds, ax):
    v = np.asarray(ds["value_per_share"].values, dtype=float)
    price = float(ds.attrs["price"])
    unit = ds.attrs["value_unit"]
    p = float(np.mean(ds["justified_dcf"].values))
    se = math.sqrt(p * (1 - p) / v.size)
    lo, hi = np.percentile(v, [0.5, 99.5])
    lo, hi = min(lo, price), max(hi, price)
    if _needs_symlog(v):
        lt = max(np.percentile(np.abs(v[v != 0]), 5) if np.any(v != 0) else 1.0, 1e-12)
        ax.set_xscale("symlog", linthresh=lt)
        edges = np.unique(np.concatenate([-np.geomspace(max(-lo, lt), lt, 30) if lo < 0 else [],
                                          np.linspace(-lt, lt, 11), np.geomspace(lt, max(hi, lt * 1.01), 60)]))
        ax.hist(np.clip(v, edges[0], edges[-1]), bins=edges, color="steelblue", alpha=0.8)
        ax.set_xlabel(f"value per share [{unit}] (symmetric log scale)")
    else:
        ax.hist(np.clip(v, lo, hi), bins=80, color="steelblue", alpha=0.8)
        ax.set_xlabel(f"value per share [{unit}]")
    ax.axvline(price, color="crimson", lw=2, label=f"today's price {price:,.4g}")
    ax.set_ylabel("paths [count]")
    tails = (f"the outer bars also hold the {100 * np.mean(v < lo):.2g}% of paths below {lo:,.4g} "
             f"and the {100 * np.mean(v > hi):.2g}% above {hi:,.4g}")
    ax.text(0.02, 0.95, f"P(justified, DCF) = {100 * p:.3g}% (SE {100 * se:.2g}%)\n{tails}", transform=ax.transAxes,
            va="top", fontsize=9, bbox=dict(facecolor="white", alpha=0.8))
    ax.legend(loc="upper right")
    ax.set_title(_title(ds, "distribution of value per share"))


def _cdf(ds, ax):
    v = np.sort(np.asarray(ds["value_per_share"].values, dtype=float))
    price = float(ds.attrs["price"])
    unit = ds.attrs["value_unit"]
    ax.plot(v, np.arange(1, v.size + 1) / v.size, color="steelblue")
    if _needs_symlog(v):
        lt = max(np.percentile(np.abs(v[v != 0]), 5) if np.any(v != 0) else 1.0, 1e-12)
        ax.set_xscale("symlog", linthresh=lt)
    ax.axvline(price, color="crimson", lw=2, label=f"today's price {price:,.4g}")
    ax.axhline(np.mean(v < price), color="grey", ls=":", lw=1)
    ax.set_xlabel(f"value per share [{unit}]")
    ax.set_ylabel("cumulative probability [share of paths]")
    ax.legend(loc="lower right")
    ax.set_title(_title(ds, "CDF of value per share"))


def _fan(ds, fig):
    if "revenue" not in ds or "time" not in ds.dims:
        raise InputError("the fan chart needs the (path, time) variables: simulate with `keep_paths=True`")
    t = np.asarray(ds["time"].values, dtype=float)
    cur = ds.attrs.get("reporting_currency", "")
    mu = ds.attrs.get("money_unit", "")
    axes = fig.subplots(3, 1, sharex=True)
    for ax, (var, label) in zip(axes, (("revenue", f"revenue [{cur} {mu} per year]"),
                                       ("margin", "operating margin [fraction of revenue]"),
                                       ("multiple", "EV/Sales multiple [x]"))):
        x = np.asarray(ds[var].values, dtype=float)
        q = np.nanpercentile(x, [5, 25, 50, 75, 95], axis=0)
        ax.fill_between(t, q[0], q[4], color="steelblue", alpha=0.2, label="5-95%")
        ax.fill_between(t, q[1], q[3], color="steelblue", alpha=0.45, label="25-75%")
        ax.plot(t, q[2], color="navy", label="median")
        pos = q[2][q[2] > 0]
        if var == "revenue" and pos.size and np.nanmax(q[4]) / pos.min() > 30:
            # spans decades: log scale; failed paths (revenue 0) fall below the axis
            ax.set_yscale("log", nonpositive="clip")
            ax.set_ylim(bottom=pos.min() / 10)
            label = label.replace("]", ", log scale]")
        ax.set_ylabel(label)
        ax.legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel("fiscal year [year]")
    axes[0].set_title(_title(ds, "fan chart"))


def _tornado(ds, ax, tor):
    rows = tor["inputs"][:15][::-1]
    base = tor["base_median"]
    y = np.arange(len(rows))
    for i, r in enumerate(rows):
        ax.barh(i, r["median_low"] - base, left=base, color="indianred", alpha=0.8,
                label="input at low quantile" if i == 0 else None)
        ax.barh(i, r["median_high"] - base, left=base, color="seagreen", alpha=0.8,
                label="input at high quantile" if i == 0 else None)
    ax.axvline(base, color="black", lw=1)
    ends = [base] + [r[k] for r in rows for k in ("median_low", "median_high")]
    span = max(ends) - min(ends) or abs(base) or 1.0
    if min(ends) - span <= tor["price"] <= max(ends) + span:
        ax.axvline(tor["price"], color="crimson", lw=1.5, ls="--", label=f"today's price {tor['price']:,.4g}")
    else:
        ax.text(0.98, 0.02, f"today's price {tor['price']:,.4g} is off this scale", transform=ax.transAxes,
                ha="right", va="bottom", color="crimson", fontsize=9)
    ax.set_yticks(y, [r["key"] for r in rows], fontsize=8)
    ax.set_xlabel(f"median value per share [{tor['value_unit']}]")
    ax.set_ylabel("drawn input")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"Tornado: each input at its {100 * tor['low']:g}th / {100 * tor['high']:g}th percentile "
                 f"({tor['paths']:,} paths)")


def _convergence(ds, ax):
    j = np.asarray(ds["justified_dcf"].values, dtype=float)
    n = np.arange(1, j.size + 1)
    p = np.cumsum(j) / n
    se = np.sqrt(p * (1 - p) / n)
    ax.fill_between(n, 100 * np.clip(p - 1.96 * se, 0, 1), 100 * np.clip(p + 1.96 * se, 0, 1), color="steelblue",
                    alpha=0.3, label="+/- 1.96 standard errors")
    ax.plot(n, 100 * p, color="navy", label="running estimate")
    ax.set_xscale("log")
    ax.set_xlabel("paths simulated [count]")
    ax.set_ylabel("P(today's price justified, DCF) [%]")
    ax.legend(loc="upper right")
    ax.set_title(_title(ds, "convergence of P(justified)"))


def _check_run(ds) -> None:
    if "scenario" in ds.dims:
        raise InputError("figures are drawn from a run's results; a stress file (scenario dimension) has one run "
                         "per scenario: select one with ds.sel(scenario=NAME)")


def _one_axes(ds, kind: str, draw):
    _check_run(ds)
    fig = _new_figure(kind)
    draw(ds, fig.add_subplot())
    fig.tight_layout()
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
    """Running estimate of P(justified, DCF) by path count, with a +/-1.96 standard-error band.

    Returns a :class:`matplotlib.figure.Figure`; x: paths simulated [count, log
    scale], y: P [%]. The standard error is the binomial sqrt(p (1 - p) / n). Same
    ``ds`` and errors as :func:`hist`.
    """
    return _one_axes(ds, "convergence", _convergence)


def fan(ds):
    """5/25/50/75/95% bands of revenue, operating margin and the EV/Sales multiple by fiscal year.

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
    fig.tight_layout()
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
    fig.tight_layout()
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
