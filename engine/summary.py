"""Statistics of a result Dataset: quantiles, P(justified) with error bars, returns.

Everything here reads a Dataset built by :func:`engine.simulate` (or loaded from a
saved file), so ``pricedin report FILE`` prints the same numbers as the run did.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["summarize", "proportion", "QUANTILES", "open_results", "save_results"]

#: Percentiles of value per share in every report.
QUANTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)


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
        error); ``ci95_low``, ``ci95_high``: the Wilson score interval at 95%
        (Wilson 1927; via ``scipy.stats.binomtest(...).proportion_ci``). With
        k = 0 the interval is [0, about 3.84 / n], never "0 +/- 0":
        0 of 10,000 gives an upper bound of 3.84e-4.
    """
    from scipy.stats import binomtest

    p = k / n
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "estimate": float(p),
        "se": float(math.sqrt(p * (1.0 - p) / n)),
        "ci95_low": float(ci.low),
        "ci95_high": float(ci.high),
        "hits": int(k),
    }


def summarize(ds) -> dict:
    """The report of a run, as a plain dict (the ``--json`` output).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`engine.simulate` or :func:`open_results`.

    Returns
    -------
    dict
        Keys: ``company, currency, value_unit, price, paths, seed``,
        ``value_per_share`` {mean, sd, se_mean, p1 ... p99} [value unit],
        ``p_justified`` {dcf, market: {estimate, se, ci95_low, ci95_high, hits}},
        ``price_percentile`` [%], ``failed_share``, ``tv_clipped`` [paths],
        ``floored`` [paths], ``median_horizon_return`` [1/year],
        ``median_terminal_share``, ``hurdle`` note, ``elapsed_s``.
    """
    a = ds.attrs
    v = np.asarray(ds["value_per_share"].values)
    n = v.size
    price = float(a["price"])
    qs = np.percentile(v, QUANTILES)
    vps = {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if n > 1 else 0.0}
    vps["se_mean"] = vps["sd"] / math.sqrt(n)
    vps.update({f"p{q}": float(x) for q, x in zip(QUANTILES, qs)})
    jd = int(np.count_nonzero(ds["justified_dcf"].values))
    jm = int(np.count_nonzero(ds["justified_market"].values))
    failed = np.asarray(ds["failed"].values)
    ts = np.asarray(ds["terminal_share"].values)[~failed]
    return {
        "company": a["company"],
        "currency": a["trading_currency"],
        "value_unit": a["value_unit"],
        "per_share": bool(a["per_share"]),
        "price": price,
        "paths": int(n),
        "seed": int(a["seed"]),
        "block_size": int(a["block_size"]),
        "sampling": a.get("sampling", "random"),
        "horizon_years": int(a["horizon_years"]),
        "value_per_share": vps,
        "p_justified": {"dcf": proportion(jd, n), "market": proportion(jm, n)},
        "price_percentile": float(100.0 * np.count_nonzero(v < price) / n),
        "failed_share": float(failed.mean()),
        "tv_clipped": int(np.count_nonzero(ds["tv_clipped"].values)),
        "floored": int(np.count_nonzero(ds["floored"].values)),
        "median_horizon_return": float(np.median(ds["horizon_return"].values)),
        "median_terminal_share": float(np.median(ts)) if ts.size else float("nan"),
        "median_revenue_cagr": float(np.nanmedian(ds["revenue_cagr"].values)),
        "median_dilution": float(np.median(ds["dilution"].values)),
        "config_sha256": a.get("config_sha256", ""),
        "elapsed_s": float(a.get("elapsed_s", float("nan"))),
    }


def save_results(ds, path) -> None:
    """Write a result Dataset to NetCDF (``.nc``, h5netcdf) atomically.

    The file is written under a temporary name in the same folder and renamed, so
    an interrupted run never leaves a file that looks complete.

    Raises
    ------
    ValueError
        The suffix is not ``.nc``.
    """
    import os
    import tempfile
    from pathlib import Path

    p = Path(path)
    if p.suffix.lower() != ".nc":
        raise ValueError(f"--out {str(p)!r}: results are saved as NetCDF; give a file name ending in .nc")
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def open_results(path):
    """Load a result file written by :func:`save_results` into memory.

    Raises
    ------
    ValueError
        The file is missing or is not a pricedin result.
    """
    import xarray as xr
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise ValueError(f"results file {str(p)!r} does not exist; write one with `pricedin run CONFIG --out {p}`")
    try:
        ds = xr.load_dataset(p, engine="h5netcdf")
    except Exception as e:  # noqa: BLE001 - any reader failure means "not a results file"
        raise ValueError(f"{str(p)!r} is not a readable NetCDF results file ({type(e).__name__}: {e})") from None
    if ds.attrs.get("engine") != "pricedin" or "value_per_share" not in ds:
        raise ValueError(f"{str(p)!r} is not a pricedin results file (no value_per_share / engine attribute)")
    return ds
