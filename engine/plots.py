"""Figures of a result Dataset with matplotlib (Agg backend, PNG files).

Every axis is labelled with its units and currency. Kinds:

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
from .errors import InputError

__all__ = ["KINDS", "plot", "plot_all"]

KINDS = ("hist", "cdf", "fan", "tornado", "convergence")


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


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
        raise InputError("the fan chart needs the (path, time) variables: run with --keep-paths (or use --plot)")
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


def plot(ds, kind: str, path, tornado_result: Optional[dict] = None, threads: Optional[int] = None,
         option: str = "-o") -> Path:
    """Draw one figure of ``ds`` and write it as PNG.

    Parameters
    ----------
    ds : xarray.Dataset
        A result Dataset (P paths; ``fan`` needs the (path, time) variables).
    kind : {'hist', 'cdf', 'fan', 'tornado', 'convergence'}
    path : str or Path
        Output file (``.png``).
    tornado_result : dict, optional
        A :func:`engine.sensitivity.tornado` result; computed from the Dataset's
        config (at most 2,000 paths) when absent.
    threads : int, optional
        Threads of the tornado re-runs.
    option : str
        The command-line option named in error messages.

    Returns
    -------
    Path
        The file written (atomically: a temporary name in its folder, then renamed).

    Raises
    ------
    ValueError
        Unknown ``kind``, a stress file (``scenario`` dimension), or a folder that
        cannot be written (checked before drawing).
    """
    from ._io import atomic_write, check_writable

    if kind not in KINDS:
        raise InputError(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    if "scenario" in ds.dims:
        raise InputError("figures are drawn from a run's results; a stress file (scenario dimension) has one run "
                         "per scenario")
    plt = _plt()
    p = Path(path)
    check_writable(p, option)  # an unwritable folder is refused before any drawing; none is created yet
    fig = plt.figure(figsize=(9, 9 if kind == "fan" else 5.5))
    try:
        if kind == "fan":
            _fan(ds, fig)
        else:
            ax = fig.add_subplot()
            if kind == "hist":
                _hist(ds, ax)
            elif kind == "cdf":
                _cdf(ds, ax)
            elif kind == "convergence":
                _convergence(ds, ax)
            else:
                if tornado_result is None:
                    from .sensitivity import config_of, tornado

                    tornado_result = tornado(config_of(ds), paths=min(int(ds.sizes["path"]), 2000),
                                             seed=int(ds.attrs["seed"]), threads=threads)
                _tornado(ds, ax, tornado_result)
        fig.tight_layout()
        atomic_write(p, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), option)
    finally:
        plt.close(fig)
    return p


def plot_all(ds, folder, tornado_result: Optional[dict] = None, threads: Optional[int] = None) -> list[Path]:
    """Write every kind into ``folder`` as ``<kind>.png`` (``fan`` only when paths were kept)."""
    out = []
    for kind in KINDS:
        if kind == "fan" and "revenue" not in ds:
            continue
        out.append(plot(ds, kind, Path(folder) / f"{kind}.png", tornado_result=tornado_result, threads=threads,
                        option="--plot"))
    return out
