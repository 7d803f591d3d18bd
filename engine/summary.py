"""Statistics of a result Dataset: quantiles, P(justified) with error bars, returns.

Everything here reads a Dataset built by :func:`engine.simulate` (or loaded from a
saved file), so ``pricedin report FILE`` prints the same numbers as the run did.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ._stats import mean_sd
from .errors import InputError

__all__ = ["summary_dict", "REPORT_VARIABLES", "cash_and_funding", "summary_dataset", "proportion", "QUANTILES", "PERCENTILE_METHOD",
           "open_results", "save_results", "must_believe", "refuse_weighted"]

#: The per-path variables :func:`summary_dict` reads (with the 0/1 flags, which every run keeps; ``param_*``: every
#: drawn input): what a run that saves nothing keeps (:func:`engine.simulate.simulate_arrays` ``variables=``).
#: A name missing here fails loudly (``InternalError`` on reading it), never silently.
REPORT_VARIABLES = ("value_per_share", "terminal_share", "price_horizon", "horizon_return", "revenue_horizon",
                    "revenue_cagr", "margin_horizon", "multiple_horizon", "dilution", "equity_raised",
                    "breakeven_year", "runway_years", "cumulative_burn", "failure_cause", "param_*")

#: Percentiles of value per share in every report.
QUANTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)

#: The sample-percentile definition of every report, table and figure: numpy's default ``method="linear"``,
#: definition 7 of Hyndman & Fan (1996, "Sample quantiles in statistical packages", The American
#: Statistician 50(4)): the order statistics interpolated linearly at rank ``1 + (n - 1) q``.
PERCENTILE_METHOD = "linear (Hyndman-Fan type 7)"


def proportion(k: int, n: int) -> dict:
    """Estimate of a probability from ``k`` hits in ``n`` paths, with error bars.

    Parameters
    ----------
    k, n : int
        Hits and paths, ``0 <= k <= n``, ``n >= 1``.

    Returns
    -------
    dict
        ``estimate`` = k / n; ``se`` = sqrt(p (1 - p) / n) (the Monte Carlo standard
        error), NaN when k = 0 or k = n: the plug-in formula gives a false 0 there
        (0 of 64 paths does not make P known exactly), so it is shown as "n/a";
        ``ci95_low``, ``ci95_high``: the Wilson score interval at 95%
        (Wilson 1927; via ``scipy.stats.binomtest(...).proportion_ci``), never
        degenerate: 0 of 10,000 gives [0, 3.84e-4], 64 of 64 gives [0.943, 1];
        ``wilson_half_width`` = (ci95_high - ci95_low) / 2, positive for every k;
        ``hits`` = k.
    """
    from scipy.stats import binomtest

    p = k / n
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "estimate": float(p),
        "se": float(math.sqrt(p * (1.0 - p) / n)) if 0 < k < n else float("nan"),
        "ci95_low": float(ci.low),
        "ci95_high": float(ci.high),
        "wilson_half_width": float((ci.high - ci.low) / 2.0),
        "hits": int(k),
    }


def refuse_weighted(ds, where: str = "the results") -> None:
    """Refuse a results Dataset with path weights (written by ``pricedin update``) in a reader that ignores them.

    Only :mod:`engine.update` (``pricedin report FILE``) reads the ``weight`` variable;
    every other reader (the report dict, the HTML page, sensitivity, figures) would
    silently show unweighted numbers.

    Raises
    ------
    engine.errors.InputError
        ``ds`` has a ``weight`` variable; the message names ``where`` and the reader
        that handles it.
    """
    if "weight" in ds:
        raise InputError(f"{where} holds path weights (an updated run, written by `pricedin update --out`); this "
                         "reader ignores weights and would show unweighted numbers. Print its weighted report with "
                         "`pricedin report FILE` (engine.update.result_from_dataset(ds) in Python), or use the "
                         "unweighted run the update started from")


def summary_dict(ds, implied: bool = False, implied_paths: Optional[int] = None,
                 threads: Optional[int] = None) -> dict:
    """The report of a run, as a plain dict (the ``--json`` output of ``pricedin run`` / ``report``).

    Parameters
    ----------
    ds : xarray.Dataset or engine._assemble.RunArrays
        A result of :func:`engine.simulate` or :func:`open_results`, or the plain arrays of
        :func:`engine.simulate.simulate_arrays` keeping at least :data:`REPORT_VARIABLES`.
    implied : bool
        Also solve for ``implied_cost_of_capital`` (re-runs of the stored config on
        min(P, ``implied_paths`` or 20,000) paths; :func:`engine.fairvalue.implied_cost_of_capital`).
        Otherwise that key holds ``rate`` None and a note.
    threads : int, optional
        Worker threads of those re-runs.

    Returns
    -------
    dict
        Keys: ``company, currency, value_unit, price, paths, seed``,
        ``value_per_share`` {mean, sd, se_mean, p1 ... p99} [value unit] (``sd`` and
        ``se_mean`` NaN for one path: undefined, not 0),
        ``percentile_method`` (:data:`PERCENTILE_METHOD`),
        ``p_justified`` {dcf, market: {estimate, se, ci95_low, ci95_high, wilson_half_width, hits}}
        (:func:`proportion`),
        ``price_percentile`` [%], ``failed_share``, ``tv_clipped`` [paths],
        ``floored`` [paths], ``median_horizon_return`` [1/year] (over the paths
        where it is finite; NaN, with ``median_horizon_return_note``, when none is),
        ``median_terminal_share``, ``median_revenue_cagr`` and ``median_dilution``
        (over surviving paths: a failed path's horizon values are NaN),
        ``liquidated_share`` (share of surviving paths valued at liquidation under
        ``terminal.on_loss = "liquidate"``), ``not_steady_share`` (share of surviving
        paths not in steady state at the horizon), ``hurdle`` note, ``elapsed_s``,
        ``must_believe`` (see :func:`must_believe`), ``breakeven``, ``runway``, ``raised``,
        ``failures`` (see :func:`cash_and_funding`). First after the header, the
        fair-value keys of :func:`engine.fairvalue.fair_value`: ``value_label``
        ('value per share', or 'equity value' without a share count),
        ``fair_value_ratio``, ``implied_cost_of_capital``, ``expected_irr``,
        ``ev_sales_today``, ``reported_revenue``, ``peers``.

    Raises
    ------
    engine.errors.InputError
        ``ds`` holds path weights (:func:`refuse_weighted`).
    """
    from .fairvalue import fair_value

    refuse_weighted(ds)
    a = ds.attrs
    v = np.asarray(ds["value_per_share"].values)
    n = v.size
    price = float(a["price"])
    qs = np.percentile(v, QUANTILES, method="linear")
    mean, sd = mean_sd(v)
    if n < 2:
        sd = float("nan")  # a sample sd needs two paths; 0 would claim a known value
    vps = {"mean": mean, "sd": sd}
    vps["se_mean"] = vps["sd"] / math.sqrt(n)
    vps.update({f"p{q}": float(x) for q, x in zip(QUANTILES, qs)})
    jd = int(np.count_nonzero(ds["justified_dcf"].values))
    jm = int(np.count_nonzero(ds["justified_market"].values))
    failed = np.asarray(ds["failed"].values)
    ts = np.asarray(ds["terminal_share"].values)[~failed]
    hr = np.asarray(ds["horizon_return"].values, dtype=float)
    hr_ok = int(np.count_nonzero(np.isfinite(hr)))
    hr_note = None
    if hr_ok < n:
        hr_note = (f"the horizon return is not finite on {n - hr_ok:,} of {n:,} paths (e.g. a path with no equity "
                   "value at the horizon); the median is over the others" if hr_ok else
                   f"the horizon return is not finite on any of the {n:,} paths, so it has no median")
    alive = int(np.count_nonzero(~failed))

    def surviving_share(name):
        if name not in ds or not alive:
            return float("nan")
        return float(np.count_nonzero(np.asarray(ds[name].values)[~failed]) / alive)

    head = report_header(a, n)
    out = {
        **head,
        "value_label": "value per share" if head["per_share"] else "equity value",
        **fair_value(ds, implied=implied, implied_paths=implied_paths, threads=threads),
        "percentile_method": PERCENTILE_METHOD,
        "value_per_share": vps,
        "p_justified": {"dcf": proportion(jd, n), "market": proportion(jm, n)},
        "price_percentile": float(100.0 * np.count_nonzero(v < price) / n),
        "failed_share": float(failed.mean()),
        "tv_clipped": int(np.count_nonzero(ds["tv_clipped"].values)),
        "floored": int(np.count_nonzero(ds["floored"].values)),
        "median_horizon_return": _median(hr),
        "median_terminal_share": float(np.median(ts)) if ts.size else float("nan"),
        "median_revenue_cagr": _median(ds["revenue_cagr"].values),
        "median_dilution": _median(ds["dilution"].values),
        "liquidated_share": surviving_share("liquidated_at_horizon"),
        "not_steady_share": surviving_share("not_steady"),
        "config_sha256": a.get("config_sha256", ""),
        "elapsed_s": float(a.get("elapsed_s", float("nan"))),
        "must_believe": must_believe(ds),
        **cash_and_funding(ds),
    }
    if hr_note:
        out["median_horizon_return_note"] = hr_note
    if "ancestor" in ds.data_vars and "update_ess" in a:
        out = _resampled_errors(out, ds)
    return out


def _resampled_errors(out: dict, ds) -> dict:
    """The report of a file written by ``pricedin update --resample``, its errors from the ancestry.

    Copies of one ancestor share its drawn inputs and its years up to the report, so the P
    paths are not P independent draws: P(justified), the mean's standard error and
    E[value]/price's take the effective size of :func:`engine.update.resampled_proportion`
    (between-ancestor variance, Chan & Lai 2013; Korn & Graubard 1998), as ``pricedin
    update --resample`` prints them. ``resampled`` records the pooled ESS and how each
    effective size was found.
    """
    from .ancestry import _ancestry_errors

    pooled = float(ds.attrs["update_ess"])
    fixed = _ancestry_errors(out, ds, np.asarray(ds["ancestor"].values), pooled)
    fixed.pop("ess", None)
    for lens, d in fixed["p_justified"].items():  # the counts of paths stay what they are
        fixed["p_justified"][lens] = {**out["p_justified"][lens], **d,
                                      "wilson_half_width": float((d["ci95_high"] - d["ci95_low"]) / 2.0)}
    vps = fixed["value_per_share"]
    fv = fixed.get("fair_value_ratio")
    if isinstance(fv, dict) and fv.get("price"):
        fixed["fair_value_ratio"] = {**fv, "se": vps["se_mean"] / float(fv["price"])}
    fixed["resampled"] = {"pooled_ess": pooled, "n_eff_mean": vps["n_eff"],
                          "n_eff_p_justified": {k: v["ess"] for k, v in fixed["p_justified"].items()},
                          "note": "a resampled posterior sample: standard errors and Wilson intervals use the "
                                  "effective size from the paths' ancestry, not the path count"}
    return fixed


def _pctl_beyond(x, qs=(10, 50, 90)) -> dict:
    """Percentiles ``p10, p50, p90`` of ``x`` (linear, :data:`PERCENTILE_METHOD`) where NaN means beyond the horizon.

    NaN sorts last (as +infinity); a percentile whose interpolation touches such a
    value is None (beyond the horizon). Shape (path,) in, a dict of floats or None out.
    """
    x = np.where(np.isnan(x), np.inf, np.asarray(x, dtype=float))  # a new array: sorted in place, one copy
    x.sort()
    out = {}
    for q in qs:
        pos = q / 100.0 * (x.size - 1)
        lo, hi = int(math.floor(pos)), int(math.ceil(pos))
        out[f"p{q}"] = None if not np.isfinite(x[hi]) else float(x[lo] + (x[hi] - x[lo]) * (pos - lo))
    return out


def cash_and_funding(ds) -> dict:
    """The "Cash and funding" keys of the run report: ``breakeven``, ``runway``, ``raised``, ``failures``.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results with the per-path variables ``breakeven_year``, ``runway_years``,
        ``equity_raised``, ``cumulative_burn``, ``failure_cause``, ``failed`` (dims ``(path,)``)
        and the attr ``horizon_years``.

    Returns
    -------
    dict
        ``breakeven``: ``{"by_year": {"1": share, ..., "<horizon>": share}, "not_by_horizon": share,
        "median_year": year}``: the share of all paths whose first fiscal year of EBIT > 0 is that
        year, the share that reach none by the horizon (or fail first), and the median year over
        the paths that reach it (NaN when none does).
        ``runway``: ``{"p10", "p50", "p90", "beyond_horizon_share"}``: percentiles of the years
        from the base fiscal year's end until cash, never raising new money, would fall below 0
        [year]; None where the percentile lies beyond the horizon.
        ``raised``: ``{"equity_raised": {p10, p50, p90}, "cumulative_burn": {p10, p50, p90}, "units"}``
        over all paths, in ``units`` (the reporting currency and its money unit, "CNY million").
        ``failures``: ``{"failed_share", "hazard_share", "funding_share"}``: shares of all paths
        that failed, by the exogenous hazard, by funding (cash below the floor with no financing).
    """
    n = ds.sizes["path"]
    horizon = int(ds.attrs["horizon_years"])
    be = np.asarray(ds["breakeven_year"].values, dtype=float)
    reached = be[~np.isnan(be)]
    by_year = {str(y): float(np.count_nonzero(reached == y) / n) for y in range(1, horizon + 1)}
    rw = np.asarray(ds["runway_years"].values, dtype=float)
    cause = np.asarray(ds["failure_cause"].values, dtype=float)

    def pq(name):
        x = np.asarray(ds[name].values, dtype=float)
        return {f"p{q}": float(v) for q, v in zip((10, 50, 90), np.percentile(x, (10, 50, 90), method="linear"))}

    return {
        "breakeven": {"by_year": by_year, "not_by_horizon": float(1.0 - reached.size / n),
                      "median_year": float(np.median(reached)) if reached.size else float("nan")},
        "runway": {**_pctl_beyond(rw), "beyond_horizon_share": float(np.count_nonzero(np.isnan(rw)) / n)},
        "raised": {"equity_raised": pq("equity_raised"), "cumulative_burn": pq("cumulative_burn"),
                   "units": " ".join(str(ds.attrs[k]) for k in ("reporting_currency", "money_unit")
                                     if ds.attrs.get(k))},
        "failures": {"failed_share": float(np.count_nonzero(ds["failed"].values) / n),
                     "hazard_share": float(np.count_nonzero(cause == 1.0) / n),
                     "funding_share": float(np.count_nonzero(cause == 2.0) / n)},
    }


def summary_dataset(ds):
    """The report of a run as an :class:`xarray.Dataset` (``engine.summarize``).

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (dim ``path``, P paths), from :func:`engine.simulate` or
        :func:`open_results`.

    Returns
    -------
    xarray.Dataset
        Coordinates ``quantile`` (:data:`QUANTILES` / 100: 0.01 ... 0.99) and
        ``lens`` ('dcf': value per share >= price; 'market': annual holder return
        to the horizon >= cost of equity). Variables:

        - ``value_per_share`` (quantile) [value unit]: the report's percentiles
          (numpy's linear interpolation);
        - ``mean``, ``sd``, ``se_mean`` [value unit]; ``price`` [value unit];
          ``price_percentile`` [%];
        - ``p_justified``, ``se``, ``ci95_low``, ``ci95_high`` (lens) [probability]:
          the estimate k / P, its Monte Carlo standard error sqrt(p (1 - p) / P) and
          the Wilson 95% score interval (Wilson 1927), as :func:`proportion`;
          ``justified_paths`` (lens) [paths];
        - ``failed_share`` [fraction of paths], ``median_horizon_return``
          [1/year], ``median_revenue_cagr`` [1/year], ``median_dilution`` [x],
          ``median_terminal_share`` [fraction of value, surviving paths],
          ``tv_clipped``, ``floored`` [paths].

        Every variable has a ``units`` attribute; the Dataset's attrs hold the
        run's header (company, currency, value_unit, paths, seed, sampling,
        horizon_years, ...). The numbers are those of :func:`summary_dict`.
    """
    import xarray as xr

    s = summary_dict(ds)
    unit = s["value_unit"]
    v, pj = s["value_per_share"], s["p_justified"]
    lenses = ("dcf", "market")

    def lens(k, units, long_name):
        return (("lens",), np.array([pj[x][k] for x in lenses]), {"units": units, "long_name": long_name})

    def scalar(x, units, long_name):
        return ((), x, {"units": units, "long_name": long_name})

    data = {
        "value_per_share": (("quantile",), np.array([v[f"p{q}"] for q in QUANTILES]),
                            {"units": unit, "long_name": "percentiles of DCF value per share"}),
        "mean": scalar(v["mean"], unit, "mean value per share"),
        "sd": scalar(v["sd"], unit, "standard deviation of value per share"),
        "se_mean": scalar(v["se_mean"], unit, "standard error of the mean"),
        "price": scalar(s["price"], unit, "today's price"),
        "price_percentile": scalar(s["price_percentile"], "%", "percentile of today's price among the values"),
        "p_justified": lens("estimate", "1", "P(today's price is justified)"),
        "se": lens("se", "1", "Monte Carlo standard error of P(justified)"),
        "ci95_low": lens("ci95_low", "1", "Wilson 95% interval of P(justified), low end"),
        "ci95_high": lens("ci95_high", "1", "Wilson 95% interval of P(justified), high end"),
        "justified_paths": lens("hits", "paths", "paths on which the price is justified"),
        "failed_share": scalar(s["failed_share"], "1", "share of failed paths"),
        "median_horizon_return": scalar(s["median_horizon_return"], "1/year",
                                        "median annual holder return to the horizon"),
        "median_revenue_cagr": scalar(s["median_revenue_cagr"], "1/year", "median revenue CAGR over the horizon"),
        "median_dilution": scalar(s["median_dilution"], "x", "median share count at the horizon / today"),
        "median_terminal_share": scalar(s["median_terminal_share"], "1",
                                        "median terminal-value share of value (surviving paths)"),
        "fair_value_ratio": scalar(s["fair_value_ratio"]["estimate"], "1", "E[DCF value] / today's price"),
        "fair_value_ratio_se": scalar(s["fair_value_ratio"]["se"], "1",
                                      "Monte Carlo standard error of E[DCF value] / price"),
        "expected_irr": scalar(np.nan if s["expected_irr"]["estimate"] is None else s["expected_irr"]["estimate"],
                               "1/year", "expected annual holder return at today's price: "
                               "(E[price at horizon] / price)^(1 / horizon) - 1"),
        "tv_clipped": scalar(s["tv_clipped"], "paths", "paths with terminal spread clipped to the minimum"),
        "floored": scalar(s["floored"], "paths", "paths with equity floored at 0 (limited liability)"),
    }
    attrs = {k: s[k] for k in ("company", "currency", "value_unit", "paths", "seed", "block_size", "sampling",
                               "horizon_years")}
    attrs["per_share"] = int(s["per_share"])
    return xr.Dataset(data, coords={"quantile": ("quantile", np.array(QUANTILES) / 100.0),
                                    "lens": ("lens", list(lenses))}, attrs=attrs)


def report_header(attrs: dict, paths: int) -> dict:
    """The run-describing keys of a report (company, currency, price, seed, ...) from a result's attrs."""
    return {
        "company": attrs["company"],
        "currency": attrs["trading_currency"],
        "value_unit": attrs["value_unit"],
        "per_share": bool(attrs["per_share"]),
        "price": float(attrs["price"]),
        "paths": int(paths),
        "seed": int(attrs["seed"]),
        "block_size": int(attrs["block_size"]),
        "sampling": attrs.get("sampling", "random"),
        "horizon_years": int(attrs["horizon_years"]),
        "valuation_date": attrs.get("valuation_date", ""),
        "discount_rates": attrs.get("discount_rates", attrs.get("reporting_currency", "")),
    }


def save_results(ds, path, option: str = "path") -> None:
    """Write a result Dataset to NetCDF (``.nc``, h5netcdf) atomically.

    The file is written under a temporary name in the same folder and renamed, so
    an interrupted run never leaves a file that looks complete. The attribute
    ``percentile_method`` records the percentile definition of the file's reports
    (:data:`PERCENTILE_METHOD`; weighted quantiles for a file with path weights).

    ``option`` is the argument named in error messages.

    Raises
    ------
    engine.errors.InputError
        The suffix is not ``.nc``, or the folder cannot be written.
    """
    from pathlib import Path

    from ._io import atomic_write

    p = Path(path)
    if p.suffix.lower() != ".nc":
        raise InputError(f"{option} {str(p)!r}: results are saved as NetCDF; give a file name ending in .nc")
    ds = ds.copy(deep=False)
    # the definition the file's reports use: weighted files are read by engine.update (weighted inverted CDF)
    ds.attrs = {**ds.attrs, "percentile_method": "inverted CDF with path weights (Hyndman-Fan type 1)"
                if "weight" in ds else PERCENTILE_METHOD}
    atomic_write(p, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"), option)


def open_results(path):
    """Load a result file written by :func:`save_results` into memory.

    Raises
    ------
    engine.errors.InputError
        The file is missing or is not a pricedin result.
    """
    import xarray as xr
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise InputError(f"results file {str(p)!r} does not exist; write one with engine.save_results(ds, path) or `pricedin run CONFIG --out {p}`")
    try:
        ds = xr.load_dataset(p, engine="h5netcdf")
    except Exception as e:  # noqa: BLE001 - any reader failure means "not a results file"
        raise InputError(f"{str(p)!r} is not a readable NetCDF results file ({type(e).__name__}: {e})") from None
    if ds.attrs.get("engine") != "pricedin" or "value_per_share" not in ds:
        raise InputError(f"{str(p)!r} is not a pricedin results file (no value_per_share / engine attribute)")
    check_results(ds, str(p))
    from .variables import validate

    validate(ds, repr(str(p)), values=True)
    return ds


#: Attributes of a run's results that its report reads, and whether each is a number.
_REQUIRED_ATTRS = {"company": False, "trading_currency": False, "value_unit": False, "per_share": True,
                   "price": True, "seed": True, "block_size": True, "horizon_years": True}


def check_results(ds, where: str = "the results") -> None:
    """Refuse a damaged or hand-edited result Dataset before a report reads it.

    A run's results need the attributes of :data:`_REQUIRED_ATTRS` (numbers where
    marked), every per-path variable of :mod:`engine.variables`, and finite
    values per share; a stress file (``scenario`` dimension) needs the same of
    each scenario.

    Raises
    ------
    engine.errors.InputError
        Naming the file, the missing or bad attribute or variable, and the fix.
    """
    from .variables import PATH_VARIABLES

    fix = "re-create it with engine.save_results(ds, path) or `pricedin run CONFIG --out FILE.nc`"
    missing = [k for k in _REQUIRED_ATTRS if k not in ds.attrs]
    if missing:
        raise InputError(f"{where}: attribute(s) {', '.join(missing)} missing; the file is damaged or was edited; {fix}")
    for k, numeric in _REQUIRED_ATTRS.items():
        if numeric:
            try:
                float(ds.attrs[k])
            except (TypeError, ValueError):
                raise InputError(f"{where}: attribute {k} = {ds.attrs[k]!r} is not a number; {fix}") from None
    absent = [v.name for v in PATH_VARIABLES if v.name not in ds]
    if absent:
        raise InputError(f"{where}: variable(s) {', '.join(absent)} missing; the file is damaged or was edited; {fix}")
    bad = int(np.count_nonzero(~np.isfinite(np.asarray(ds["value_per_share"].values, dtype=float))))
    if bad:
        raise InputError(f"{where}: {bad:,} value(s) per share are NaN or infinite (a run never writes them); "
                         f"the file is damaged or was edited; {fix}")


# --------------------------------------------------------------------------- what you must believe

#: Outcomes compared in :func:`must_believe`: variable, label, format.
_MB_OUTCOMES = (
    ("revenue_cagr", "revenue CAGR over the horizon", "fraction"),
    ("revenue_horizon", "revenue at the horizon", "money"),
    ("margin_horizon", "operating margin at the horizon", "fraction"),
    ("multiple_horizon", "EV/Sales multiple at the horizon", "multiple"),
    ("dilution", "share count at the horizon / today", "multiple"),
)

#: Base rates (Mauboussin, Callahan & Majd, "The Base Rate Book", 2016; McKinsey 2021 on the
#: Rule of 40; SaaS Capital 2023 retention survey), as given in the project's data notes.
BASE_RATES = {
    "revenue_cagr": {
        "threshold": 0.20,
        "share": 0.181,
        "text": "of companies starting under USD 325M of sales, 18.1% grew sales above 20% a year for ten years "
                "(Mauboussin, Callahan & Majd, The Base Rate Book, 2016)",
    },
    "rule_of_40": {
        "threshold": 0.40,
        "share": 0.16,
        "text": "software companies exceeded the Rule of 40 (growth + margin >= 40%) only 16% of the time, "
                "2011-2021 (McKinsey 2021)",
    },
    "multiple_horizon": {
        "text": "median software EV/revenue fell from about 9x (August 2021) to under 5x (early 2022)",
        "peak": 9.0,
        "trough": 5.0,
    },
    "churn": {
        "text": "median gross revenue retention of B2B software is about 92-93%, i.e. churn of 7-8% a year "
                "(SaaS Capital 2023)",
        "low": 0.07,
        "high": 0.08,
    },
}


def input_formats(cfg) -> dict:
    """The kind of every input of a config, for formatting: ``{key: 'fraction' | 'money' | 'multiple' | 'number'}``.

    Parameters
    ----------
    cfg : engine.config.Config
        A validated config.

    Returns
    -------
    dict
        ``'fraction'`` for rates, margins, growth, shares of revenue and returns
        (printed as %), ``'multiple'`` for EV/Sales multiples, ``'money'`` for
        amounts (thousands separators), ``'number'`` for the rest.
    """
    from .config import AMOUNT, GROWTH, MARGIN, STABLE_GROWTH

    out = {}
    for p in cfg.parameters():
        b = p.bounds
        last = p.key.rsplit(".", 1)[-1]
        if last in ("variable_cost_share", "return_on_capital"):
            out[p.key] = "fraction"  # shares of revenue / returns, though not bounded like rates
        elif p.key in ("multiple.today", "multiple.mature", "terminal.exit_multiple"):
            out[p.key] = "multiple"
        elif b is None:
            out[p.key] = "number"
        elif b.rate or b in (GROWTH, MARGIN, STABLE_GROWTH):
            out[p.key] = "fraction"
        elif b == AMOUNT:
            out[p.key] = "money"
        else:
            out[p.key] = "number"
    return out


def input_formats_of_run(ds) -> dict:
    """:func:`input_formats` of a run's config (its ``config_toml`` attribute); empty if it cannot be rebuilt."""
    cfg = _config_of(ds)
    return {} if cfg is None else input_formats(cfg)


_input_formats = input_formats_of_run


def _config_of(ds):
    """The run's config rebuilt from its ``config_toml`` attribute, or None."""
    try:
        import tomllib
    except ImportError:  # pragma: no cover
        import tomli as tomllib
    try:
        from .config import config_from_dict

        return config_from_dict(tomllib.loads(ds.attrs["config_toml"]))
    except Exception:  # noqa: BLE001 - formatting and base-rate matching only
        return None


def _finite(x) -> np.ndarray:
    """``x`` as float without its NaN/inf entries (no copy when all are finite)."""
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    return x if ok.all() else x[ok]


def _median(x) -> float:
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    if ok.all():
        return float(np.median(x)) if x.size else float("nan")
    x = x[ok]  # a copy of its own: partitioned in place (the same order statistics, one copy less)
    return float(np.median(x, overwrite_input=True)) if x.size else float("nan")


def must_believe(ds) -> dict:
    """What you must believe for today's price to be justified.

    For the paths where the price is justified (DCF lens: value per share >= price;
    market lens: horizon return >= cost of equity) and for all paths, the median of
    every drawn input and of the key outcomes, side by side, with base rates where
    they apply.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`engine.simulate`, dim ``path`` (P paths).

    Returns
    -------
    dict
        ``paths`` (P); ``lenses``: {``dcf``, ``market``: {``justified_paths``,
        ``share``, ``note``}} (``note`` says so when no path is justified, and the
        medians of that lens are then None, never medians of nothing);
        ``rows``: list of {``key`` (variable or input key path), ``label``,
        ``kind`` ('outcome' | 'input'), ``format`` ('fraction' | 'money' |
        'multiple' | 'number'), ``all`` (median over all paths), ``dcf``,
        ``market`` (medians over the justified paths), ``dcf_percentile``,
        ``market_percentile`` (percentile [0, 100] of that median within the
        all-paths distribution: 50 means "nothing special to believe")}; outcomes
        first, then inputs by how far the DCF-justified median sits from the
        all-paths median (percentile distance); ``base_rates``: list of
        {``what``, ``text``, ``model_share`` (share of all paths past the base
        rate's threshold), ``justified_share`` (same among DCF-justified paths),
        ``base_share``, ``exceeds`` (the DCF-justified median is past the
        threshold), ``dcf_percentile`` (of the DCF-justified median among all
        paths), ``flag`` (:data:`FLAG_RULE`), ``population`` (why the base rate
        applies, or that the company's size cannot be checked), ``statement``},
        only for the base rates whose population the company belongs to (the
        small-company rate: base revenue under USD 325M, checked with
        ``company.usd_fx_rate``; the software rates: ``company.sector`` 'software' or
        'ai'); ``base_rates_not_shown``: list of str, why the others are not shown;
        ``flag_rule``; ``money_unit``; ``horizon_years``.
        Medians ignore NaN (e.g. the multiple of failed paths).
    """
    a = ds.attrs
    n = int(ds.sizes["path"])
    masks = {
        "dcf": np.asarray(ds["justified_dcf"].values, dtype=bool),
        "market": np.asarray(ds["justified_market"].values, dtype=bool),
    }
    lenses = {}
    for lens, m in masks.items():
        k = int(m.sum())
        note = None
        if k == 0:
            upper = proportion(0, n)["ci95_high"]
            from .views.format import prob
            which = "the one path is not" if n == 1 else f"none of the {n:,} paths is"
            note = (f"{which} justified under the {lens} lens (Wilson 95% upper bound on "
                    f"P(justified): {prob(upper)}), so there are no medians to show; run more paths to "
                    "find the rare paths that are")
        lenses[lens] = {"justified_paths": k, "share": k / n if n else float("nan"), "note": note}

    def pct_in(x_all, v):
        x = _finite(x_all)
        if not x.size or not math.isfinite(v):
            return None
        return float(100.0 * (np.count_nonzero(x < v) + 0.5 * np.count_nonzero(x == v)) / x.size)

    def row(key, label, kind, fmt, values):
        values = np.asarray(values, dtype=float)
        r = {"key": key, "label": label, "kind": kind, "format": fmt, "all": _median(values)}
        for lens, m in masks.items():
            if lenses[lens]["justified_paths"]:
                med = _median(values[m])
                r[lens] = med
                r[f"{lens}_percentile"] = pct_in(values, med)
            else:
                r[lens] = None
                r[f"{lens}_percentile"] = None
        return r

    rows = [row(v, label, "outcome", fmt, ds[v].values) for v, label, fmt in _MB_OUTCOMES if v in ds]
    fmts = _input_formats(ds)
    inputs = []
    for name in ds.data_vars:
        if not str(name).startswith("param_"):
            continue
        key = ds[name].attrs.get("key", str(name)[len("param_"):])
        inputs.append(row(key, key, "input", fmts.get(key, "number"), ds[name].values))
    # ties broken by key, so the order does not depend on the order of the variables (a Zarr store sorts them)
    inputs.sort(key=lambda r: (-abs((r["dcf_percentile"] if r["dcf_percentile"] is not None else 50.0) - 50.0),
                               r["key"]))
    rows += inputs

    base, not_applied = [], []
    jd = masks["dcf"]
    horizon = int(a.get("horizon_years", 0))
    cfg = _config_of(ds)
    small, size_note = _small_company(cfg)
    software, sector_note = _software(cfg)

    def pct_of(values, med_j):
        return None if med_j is None else pct_in(values, med_j)

    def entry(what, br, thr, base_share, model_share, justified_share, exceeds, st, pctl, note=None):
        # flag only what the justified paths need: past the base rate AND far from the all-paths median
        needed = pctl is not None and abs(pctl - 50.0) > FLAG_DISTANCE
        return {"what": what, "text": br["text"], "threshold": thr, "base_share": base_share,
                "model_share": model_share, "justified_share": justified_share, "exceeds": exceeds,
                "dcf_percentile": pctl, "flag": bool(exceeds) and needed, "population": note, "statement": st}

    if "revenue_cagr" in ds:
        cagr = np.asarray(ds["revenue_cagr"].values, dtype=float)
        br = BASE_RATES["revenue_cagr"]
        thr = br["threshold"]
        med_j = _median(cagr[jd]) if jd.any() else None
        if small is False:
            not_applied.append(f"small-company revenue growth base rate not shown: {size_note}")
        else:
            exceeds = None if med_j is None else bool(med_j > thr)
            if med_j is None:
                st = "no DCF-justified path: the required revenue CAGR cannot be stated"
            else:
                st = (f"justified paths need a median revenue CAGR of {100 * med_j:.1f}% a year for {horizon} "
                      "years: " + (f"ABOVE the 20% that only {100 * br['share']:.1f}% of small companies sustained "
                                   "for ten years" if exceeds else f"within the 20% a year that "
                                   f"{100 * br['share']:.1f}% of small companies exceeded for ten years"))
            base.append(entry("revenue_cagr", br, thr, br["share"],
                              float(np.mean(cagr > thr)) if n else float("nan"),
                              float(np.mean(cagr[jd] > thr)) if jd.any() else None, exceeds, st,
                              pct_of(cagr, med_j), size_note))
        if "margin_horizon" in ds and software:
            br = BASE_RATES["rule_of_40"]
            r40 = cagr + np.asarray(ds["margin_horizon"].values, dtype=float)
            med_j = _median(r40[jd]) if jd.any() else None
            exceeds = None if med_j is None else bool(med_j >= br["threshold"])
            st = ("no DCF-justified path" if med_j is None else
                  f"justified paths' median revenue CAGR + horizon margin is {100 * med_j:.1f}% "
                  f"({'at or above' if exceeds else 'below'} 40%; a proxy for the Rule of 40, which software "
                  f"companies beat {100 * br['share']:.0f}% of the time)")
            # a proxy only (CAGR over the horizon + margin at its end): shown, never flagged
            e = entry("rule_of_40", br, br["threshold"], br["share"],
                      float(np.mean(r40 >= br["threshold"])) if n else float("nan"),
                      float(np.mean(r40[jd] >= br["threshold"])) if jd.any() else None, exceeds, st,
                      pct_of(r40, med_j), sector_note)
            e["flag"] = False
            base.append(e)
    if "multiple_horizon" in ds and software:
        br = BASE_RATES["multiple_horizon"]
        mult = np.asarray(ds["multiple_horizon"].values, dtype=float)
        med_j = _median(mult[jd]) if jd.any() else None
        exceeds = None if med_j is None or not math.isfinite(med_j) else bool(med_j > br["peak"])
        st = ("no DCF-justified path" if med_j is None else
              f"justified paths' median EV/Sales at the horizon is {med_j:.1f}x "
              + ("ABOVE the 2021 software peak of about 9x" if exceeds else
                 "(software medians: about 9x at the 2021 peak, under 5x in 2022)"))
        base.append(entry("multiple_horizon", br, br["peak"], None,
                          float(np.nanmean(mult > br["peak"])) if n else float("nan"),
                          float(np.nanmean(mult[jd] > br["peak"])) if jd.any() else None, exceeds, st,
                          pct_of(mult, med_j), sector_note))
    br = BASE_RATES["churn"]
    for r in inputs if software else ():
        if r["key"].endswith("churn.rate"):
            med_j = r["dcf"]
            exceeds = None if med_j is None else bool(med_j < br["low"])
            st = ("no DCF-justified path" if med_j is None else
                  f"{r['key']}: justified paths' median churn is {100 * med_j:.1f}% a year "
                  + ("(retention BETTER than the B2B software median of 92-93%)" if exceeds else
                     "(no better than the B2B software median retention of 92-93%)"))
            base.append(entry(r["key"], br, br["low"], None, None, None, exceeds, st, r["dcf_percentile"],
                              sector_note))
    if not software:
        not_applied.append(f"software base rates (Rule of 40, EV/Sales, gross revenue retention) not shown: "
                           f"{sector_note}")
    return {
        "paths": n,
        "horizon_years": horizon,
        "money_unit": f"{a.get('reporting_currency', '')} {a.get('money_unit', '')}".strip(),
        "lenses": lenses,
        "rows": rows,
        "base_rates": base,
        "base_rates_not_shown": not_applied,
        "flag_rule": FLAG_RULE,
    }


#: A base rate is flagged (``!``) only where the DCF-justified median is past it AND its percentile among all
#: paths is more than this far from 50: an input the price does not depend on sits near 50.
FLAG_DISTANCE = 10.0

FLAG_RULE = ("'!': the DCF-justified median is past the base rate and sits outside percentiles 40-60 of all paths "
             "(the justified paths need it)")

#: The small-company base rate's population: companies starting under this revenue [USD per year].
SMALL_COMPANY_USD = 325e6

#: Sectors whose companies the software base rates (Rule of 40, EV/Sales, gross retention) describe.
SOFTWARE_SECTORS = ("software", "ai")


def _small_company(cfg):
    """(True | False | None, note): does the base revenue fall under :data:`SMALL_COMPANY_USD`?

    The base revenue is the sum of the segments' median base revenue (``revenue`` or
    ``run_rate``), converted with ``company.usd_fx_rate`` (1 for USD); None when it
    cannot be checked (no config, or no rate to USD).
    """
    if cfg is None:
        return None, "the run's config is not available, so the company's size cannot be checked"
    c = cfg.company
    rate = 1.0 if c.reporting_currency == "USD" else getattr(c, "usd_fx_rate", None)
    try:
        rev = sum(float(np.asarray(seg.base.ppf(np.array([0.5]))).reshape(-1)[0]) for seg in cfg.segments)
    except Exception:  # noqa: BLE001 - a spec without a quantile function: size unknown
        rev = float("nan")
    if rate is None:
        return None, (f"applies to companies starting under USD 325M of sales; this one's size in USD cannot be "
                      f"checked (base revenue {rev:,.0f} {c.reporting_currency} {c.money_unit}; give "
                      "company.usd_fx_rate to check it)")
    usd = rev * cfg.money_mult * rate
    if not math.isfinite(usd):
        return None, "the base revenue cannot be read from the config, so the company's size cannot be checked"
    small = usd < SMALL_COMPANY_USD
    return small, (f"base revenue about USD {usd / 1e6:,.0f}M, {'under' if small else 'above'} the USD 325M "
                   "bound of the base rate's population")


def _software(cfg):
    """(bool, note): do the software base rates apply (``company.sector`` in :data:`SOFTWARE_SECTORS`)?"""
    sector = None if cfg is None else getattr(cfg.company, "sector", None)
    if sector is None:
        return False, "company.sector is not given (set it to 'software' or 'ai' to compare with them)"
    if sector in SOFTWARE_SECTORS:
        return True, f"company.sector = {sector!r}"
    return False, f"company.sector = {sector!r} is not a software population"
