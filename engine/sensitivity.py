"""Sensitivity of value per share and P(justified) to each drawn input.

Two views, as @RISK / Crystal Ball users expect:

* **Tornado** (local, one input at a time): each drawn input is fixed at its 10th
  and then its 90th percentile on every path, all other inputs keeping their
  per-path draws (common random numbers: same seed, same blocks, same shocks; the
  input is overridden in ``theta`` *after* the draws, so no other input's uniforms
  move). Reported: the median value per share and P(justified, DCF lens) at each
  end, sorted by the swing of the median.
* **Global** (from the saved draws, no re-run): Spearman rank correlation of each
  drawn input with value per share and with the justified indicator, and each
  input's first-order index ``S_i = Var(E[Y | X_i]) / Var(Y)`` estimated by binning
  ``X_i`` into quantile bins (the correlation ratio, eta squared, with the usual
  small-sample bias correction). With independent inputs S_i is the first-order
  Sobol index, the share of Var(Y) explained by X_i alone (Saltelli et al. 2008,
  "Global Sensitivity Analysis: The Primer", ch. 4); with correlated inputs
  (a ``[correlations]`` section) it remains a correlation ratio but is no longer
  a variance decomposition: the indices may sum to more than 1, since an input
  also "explains" what its correlated partners do.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from .errors import InputError

__all__ = ["first_order_index", "global_sensitivity", "tornado", "sensitivity", "FIXED_SWING", "RANK_RULES"]

METHOD_GLOBAL = (
    "Spearman rank correlation (scipy.stats.spearmanr) of each drawn input with the output; first-order index "
    "S_i = Var(E[Y|X_i]) / Var(Y) estimated from the saved draws by averaging Y within equal-count quantile bins "
    "of X_i (correlation ratio, bias-corrected; Saltelli et al. 2008). It is the share of the variance of Y "
    "explained by X_i alone only when the inputs are independent; with correlated inputs it is a correlation "
    "ratio, not a variance decomposition, and the indices may sum to more than 1."
)
METHOD_TORNADO = (
    "one input at a time fixed at its {lo:g}th and {hi:g}th percentile on every path (a fixed input at its value "
    "-/+ {fs:g}%, kept inside its allowed range; inputs fixed at 0 are not swung), all other inputs at their "
    "per-path draws with the same seed and blocks (common random numbers); rows ranked by {rank}."
)
_RANK_TEXT = {
    "p_justified": "|change in P(justified, DCF)|, ties by |change in mean value|",
    "mean": "|change in mean value|, ties by |change in P(justified, DCF)|",
    "median": "|change in median value| (swing), ties by |change in P(justified, DCF)|",
}


def _bins(n: int, bins: Optional[int]) -> int:
    if bins is None:
        bins = int(round(math.sqrt(n) / 2))
    return int(min(max(bins, 2), 100, max(n // 2, 1)))


def first_order_index(x, y, bins: Optional[int] = None) -> float:
    """First-order index ``Var(E[Y | X]) / Var(Y)`` by quantile binning.

    Parameters
    ----------
    x, y : array_like of float, shape (n,)
        Input draws and output values of n paths (any units; non-finite ``y`` are
        dropped with their ``x``).
    bins : int, optional
        Number of equal-count bins of ``x`` (by rank); default ``sqrt(n) / 2``,
        clipped to [2, 100].

    Returns
    -------
    float
        The bias-corrected correlation ratio ``1 - (1 - eta^2) (n - 1) / (n - k)``
        clipped to [0, 1] (eta^2 = between-bin sum of squares / total); NaN when
        ``y`` is constant or n < 4. For independent inputs this estimates the
        first-order Sobol index S_i (Saltelli et al. 2008, "Global Sensitivity
        Analysis: The Primer", Wiley, section 4.6 on estimating S_i from given
        data).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = y.size
    if n < 4:
        return float("nan")
    sst = float(np.sum((y - y.mean()) ** 2))
    if sst <= 0 or np.ptp(x) == 0:
        return float("nan") if sst <= 0 else 0.0
    k = _bins(n, bins)
    order = np.argsort(x, kind="stable")
    labels = np.empty(n, dtype=np.int64)
    labels[order] = (np.arange(n) * k) // n
    cnt = np.bincount(labels, minlength=k)
    sums = np.bincount(labels, weights=y, minlength=k)
    means = sums / np.maximum(cnt, 1)
    ssb = float(np.sum(cnt * (means - y.mean()) ** 2))
    eta2 = ssb / sst
    adj = 1.0 - (1.0 - eta2) * (n - 1) / (n - k)
    return float(min(max(adj, 0.0), 1.0))


def _params(ds) -> list[tuple[str, str]]:
    return [(str(v), ds[v].attrs.get("key", str(v)[len("param_"):])) for v in ds.data_vars
            if str(v).startswith("param_")]


def global_sensitivity(ds, bins: Optional[int] = None) -> dict:
    """Rank correlations and first-order indices of every drawn input, from saved draws.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`engine.simulate` (dim ``path``, P paths) with its
        ``param_*`` variables.
    bins : int, optional
        Quantile bins for :func:`first_order_index`.

    Returns
    -------
    dict
        ``method`` (text), ``correlated_inputs`` (bool: the config has a
        ``[correlations]`` section, so the indices are not a decomposition),
        ``paths``, ``bins``, ``inputs``: list (sorted by ``|spearman_value|``,
        largest first; ties by ``s_value``) of {``key``, ``spearman_value``, ``spearman_justified`` (rank
        correlation with the DCF justified indicator; NaN when no path or every
        path is justified), ``s_value`` (first-order index of value per share),
        ``s_justified`` (of the justified indicator)}, ``sum_s_value``.
    """
    from scipy.stats import spearmanr

    y = np.asarray(ds["value_per_share"].values, dtype=float)
    j = np.asarray(ds["justified_dcf"].values, dtype=float)
    n = y.size
    rows = []
    for var, key in _params(ds):
        x = np.asarray(ds[var].values, dtype=float)
        const_x = np.ptp(x) == 0
        rv = float("nan") if const_x or np.ptp(y) == 0 else float(spearmanr(x, y).statistic)
        rj = float("nan") if const_x or np.ptp(j) == 0 else float(spearmanr(x, j).statistic)
        rows.append({
            "key": key,
            "spearman_value": rv,
            "spearman_justified": rj,
            "s_value": first_order_index(x, y, bins),
            "s_justified": first_order_index(x, j, bins),
        })
    # ranked by |rank correlation| with value: robust to the heavy right tail that can leave every
    # first-order index near 0; ties (and NaN) by the index
    rows.sort(key=lambda r: (-(abs(r["spearman_value"]) if math.isfinite(r["spearman_value"]) else -1.0),
                             -(r["s_value"] if math.isfinite(r["s_value"]) else -1.0)))
    correlated = _has_correlations(ds)
    return {
        "method": METHOD_GLOBAL,
        "correlated_inputs": bool(correlated),
        "paths": int(n),
        "bins": _bins(n, bins),
        "inputs": rows,
        "sum_s_value": float(np.nansum([r["s_value"] for r in rows])),
    }


def _has_correlations(ds) -> bool:
    try:
        cfg = config_of(ds)
    except Exception:  # noqa: BLE001
        return False
    c = cfg.correlations
    return bool(c.pairs or c.inputs)


def config_of(ds):
    """Rebuild the validated config of a result Dataset from its ``config_toml`` attribute."""
    try:
        import tomllib
    except ImportError:  # pragma: no cover
        import tomli as tomllib
    from .config import config_from_dict

    if "config_toml" not in ds.attrs:
        raise InputError("the results file has no config_toml attribute; run the tornado from the config instead")
    return config_from_dict(tomllib.loads(ds.attrs["config_toml"]))


#: Default relative swing of a fixed input in the tornado: value x (1 -/+ 0.25).
FIXED_SWING = 0.25

#: Tornado ranking rules (``rank_by``): sort keys, largest first.
RANK_RULES = {
    "p_justified": ("p_swing", "mean_swing"),  # |dP(justified, DCF)|, ties (both P 0 or 1) by |dE[value]|
    "mean": ("mean_swing", "p_swing"),
    "median": ("swing", "p_swing"),
}


def _fixed_ends(spec, bounds, swing: float):
    """(low, high) of a fixed input swung by -/+ ``swing`` x |value|, kept inside its bounds; None if it cannot move."""
    x = float(spec.median())
    if x == 0.0 or swing <= 0.0:
        return None
    lo, hi = x - swing * abs(x), x + swing * abs(x)
    if bounds is not None:
        eps = 1e-9 * max(1.0, abs(x))
        lo = max(lo, bounds.lo + (eps if bounds.lo_open else 0.0))
        hi = min(hi, bounds.hi - (eps if bounds.hi_open else 0.0))
    return None if not lo < hi else (lo, hi)


def _unused_keys(cfg) -> set:
    """Key paths of the fields the config's chosen methods do not use (e.g. ``margin.half_life`` of a linear margin)."""
    from pydantic import BaseModel

    out: set = set()

    def walk(model, prefix: str):
        out.update(prefix + name for name in getattr(model, "unused_fields", set)())
        for name in type(model).model_fields:
            val = getattr(model, name)
            if isinstance(val, BaseModel) and not hasattr(val, "ppf"):
                walk(val, f"{prefix}{name}.")
            elif isinstance(val, list) and val and isinstance(val[0], BaseModel) and hasattr(val[0], "name"):
                for seg in val:
                    walk(seg, f"{prefix}{name}.{seg.name}.")

    walk(cfg, "")
    return out


def tornado(cfg, paths: Optional[int] = None, seed: Optional[int] = None, threads: Optional[int] = None,
            low: float = 0.10, high: float = 0.90, base=None, fixed_swing: float = FIXED_SWING,
            rank_by: str = "p_justified") -> dict:
    """One-at-a-time tornado of median value per share and P(justified) with common random numbers.

    Parameters
    ----------
    cfg : Config
        A validated config.
    paths, seed : int, optional
        Override ``simulation.paths`` / ``simulation.seed``.
    threads : int, optional
        Worker threads (results do not depend on it).
    low, high : float
        Quantiles (fractions in (0, 1)) at which each input is fixed.
    base : xarray.Dataset, optional
        The base run with the same (config, paths, seed), if already simulated.
    fixed_swing : float
        Relative swing of each fixed (not drawn) numeric input: its bar runs from
        value x (1 - fixed_swing) to value x (1 + fixed_swing), each end kept inside
        the input's allowed range; inputs fixed at 0, and fields the config's
        chosen methods do not use (``margin.half_life`` of a linear margin), are
        not swung. 0 leaves fixed inputs out. Default :data:`FIXED_SWING` (25%), so that a fixed input (a
        growth volatility, a tax rate) cannot hide a large effect.
    rank_by : {'p_justified', 'mean', 'median'}
        Order of the rows (:data:`RANK_RULES`): by |change in P(justified, DCF)|,
        ties (e.g. P = 0 at both ends) broken by |change in mean value| (default);
        by |change in mean value|; or by |change in median value| (the ranking
        before this option).

    Returns
    -------
    dict
        ``method``, ``paths``, ``seed``, ``low``, ``high``, ``fixed_swing``,
        ``rank_by``, ``value_unit``, ``price``, ``base_median``, ``base_mean``
        [value unit], ``base_p_justified``, ``inputs``: list sorted by ``rank_by``
        (largest first) of {``key``, ``kind`` ('drawn' or 'fixed'),
        ``low_value``, ``high_value`` (the input's quantiles, or a fixed input's
        swung values; its own units), ``median_low``, ``median_high``,
        ``mean_low``, ``mean_high`` [value unit], ``p_low``, ``p_high``
        (P(justified), DCF lens), ``swing`` = |median_high - median_low|,
        ``mean_swing`` = |mean_high - mean_low|, ``p_swing`` = |p_high - p_low|};
        ``skipped``: fixed inputs whose swung value the config refuses ({``key``,
        ``reason``}).

    Raises
    ------
    engine.errors.InputError
        Quantiles outside 0 < low < high < 1, a negative ``fixed_swing``, or an
        unknown ``rank_by``.
    """
    from .simulate import ParameterTable, simulate

    if not 0 < low < high < 1:
        raise InputError(f"tornado quantiles `low` = {low}, `high` = {high}: need 0 < low < high < 1, e.g. 0.1 and 0.9")
    if not (math.isfinite(fixed_swing) and 0 <= fixed_swing < 1):
        raise InputError(f"`fixed_swing` = {fixed_swing}: a relative swing in [0, 1), e.g. 0.25 for +/-25%")
    if rank_by not in RANK_RULES:
        raise InputError(f"`rank_by` = {rank_by!r}: one of {', '.join(RANK_RULES)}")
    if base is None:
        base = simulate(cfg, paths=paths, seed=seed, threads=threads)
    from .config import _input_bounds

    bounds = dict(_input_bounds(cfg))
    table = ParameterTable(cfg)
    unused = _unused_keys(cfg)  # not inputs of this config (it refuses them if written): no bar
    todo = []
    for col, (key, spec) in enumerate(zip(table.keys, table.specs)):
        if spec is None or (key in unused and col not in table.drawn):
            continue
        if col in table.drawn:
            todo.append((key, "drawn", float(spec.quantile(low)), float(spec.quantile(high))))
        elif fixed_swing > 0:
            ends = _fixed_ends(spec, bounds.get(key), fixed_swing)
            if ends is not None:
                todo.append((key, "fixed", *ends))
    rows, skipped = [], []
    for key, kind, lo_v, hi_v in todo:
        res = {}
        try:
            for tag, val in (("low", lo_v), ("high", hi_v)):
                ds = simulate(cfg, paths=paths, seed=seed, threads=threads, overrides={key: val})
                v = ds["value_per_share"].values
                res[tag] = (float(np.median(v)), float(np.mean(ds["justified_dcf"].values)), float(np.mean(v)))
        except InputError as e:  # a swung fixed input the config refuses (e.g. growth above 100% a year)
            if kind == "drawn":
                raise
            skipped.append({"key": key, "reason": str(e)})
            continue
        rows.append({
            "key": key, "kind": kind, "low_value": lo_v, "high_value": hi_v,
            "median_low": res["low"][0], "median_high": res["high"][0],
            "mean_low": res["low"][2], "mean_high": res["high"][2],
            "p_low": res["low"][1], "p_high": res["high"][1],
            "swing": abs(res["high"][0] - res["low"][0]),
            "mean_swing": abs(res["high"][2] - res["low"][2]),
            "p_swing": abs(res["high"][1] - res["low"][1]),
        })
    rule = RANK_RULES[rank_by]
    rows.sort(key=lambda r: tuple(-r[k] for k in rule))
    return {
        "method": METHOD_TORNADO.format(lo=100 * low, hi=100 * high, fs=100 * fixed_swing,
                                        rank=_RANK_TEXT[rank_by]),
        "paths": int(base.sizes["path"]),
        "seed": int(base.attrs["seed"]),
        "low": low,
        "high": high,
        "fixed_swing": fixed_swing,
        "rank_by": rank_by,
        "value_unit": base.attrs["value_unit"],
        "price": float(base.attrs["price"]),
        "base_median": float(np.median(base["value_per_share"].values)),
        "base_mean": float(np.mean(base["value_per_share"].values)),
        "skipped": skipped,
        "base_p_justified": float(np.mean(base["justified_dcf"].values)),
        "inputs": rows,
    }


def sensitivity(ds, cfg=None, tornado_paths: Optional[int] = None, threads: Optional[int] = None,
                low: float = 0.10, high: float = 0.90, bins: Optional[int] = None,
                with_tornado: bool = True, fixed_swing: float = FIXED_SWING, rank_by: str = "p_justified") -> dict:
    """Global sensitivity of ``ds`` plus (optionally) the tornado of its config.

    Parameters
    ----------
    ds : xarray.Dataset
        A result Dataset (P paths).
    cfg : Config, optional
        Its config; default rebuilt from ``ds.attrs['config_toml']``.
    tornado_paths : int, optional
        Paths per tornado run (default: the run's P). The tornado re-runs the
        first ``tornado_paths`` paths of the same seed, 2 runs per drawn input
        (and per fixed input swung by ``fixed_swing``; see :func:`tornado`, which
        also documents ``rank_by``). Each tornado row gains ``spearman_value``
        (from the global part; None for a fixed input).

    Returns
    -------
    dict
        ``{"global": global_sensitivity(ds), "tornado": tornado(...) or None}``.
    """
    out = {"global": global_sensitivity(ds, bins=bins), "tornado": None}
    if with_tornado:
        cfg = cfg if cfg is not None else config_of(ds)
        n = int(tornado_paths or ds.sizes["path"])
        base = ds if n == ds.sizes["path"] and cfg.simulation.seed == ds.attrs["seed"] else None
        out["tornado"] = tornado(cfg, paths=n, seed=int(ds.attrs["seed"]), threads=threads, low=low, high=high,
                                 base=base, fixed_swing=fixed_swing, rank_by=rank_by)
        sp = {r["key"]: r["spearman_value"] for r in out["global"]["inputs"]}
        for r in out["tornado"]["inputs"]:  # Spearman (value) beside each bar; None for a fixed input
            r["spearman_value"] = sp.get(r["key"])
    return out
