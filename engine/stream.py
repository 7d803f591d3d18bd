"""Streamed summary: a run of any number of paths reduced block by block in bounded memory.

:func:`stream_summary` runs the blocks of a run with the engine's one block runner
(:func:`engine._run.run_one_block` on :func:`engine._run.run_tasks`) and folds each
finished block into a :class:`StreamAccumulator`; no array of all the paths is ever
made. The state kept is bounded whatever the number of paths: exact counts, compensated
sums, and one histogram of :data:`BINS` exact counts per summarised variable on a fixed
grid (64 MiB in all), plus at most ``2 x threads`` finished blocks waiting for their
predecessors (the mean is summed in path order).

What is exact and what is not (the same report keys as the streamed report of a Zarr
store, :func:`engine.distributed.summarize_store`):

- exact, equal to the bit to the in-memory report of the same run
  (:func:`engine.summary.summary_dict`): the path count, every count and share
  (P(justified) in both lenses with its standard error and Wilson interval, the
  percentile of today's price, failed / hazard / funding shares, clipped and floored
  paths, liquidated and not-steady shares, break-even shares by year and the median
  break-even year) and the mean value per share (the same compensated sum, taken in
  path order);
- exact up to floating-point rounding: the standard deviation (blocks merged by
  Chan, Golub & LeVeque's pairwise update instead of one two-pass sum; agrees to
  about 1e-12 relative);
- within a stated bound: the percentiles and medians. Each variable is binned on a fixed
  grid of :data:`BINS` equal bins of ``t = asinh(x / s)`` over ``|t| <= asinh(2**40)``
  (``s`` the variable's scale: 1e-6 of today's price for value per share, 1e-6 for rates,
  shares and years, 0.001 money unit for money), so a bin spans at most
  ``5.4e-5 * sqrt(x**2 + s**2)`` in ``x``: a relative error of 5.4e-5 for ``|x| >> s``. A quantile's order statistics are
  placed by rank inside their bin and ``approximation.max_abs_error`` gives, for each,
  the width of that bin: the largest possible absolute error.
"""

from __future__ import annotations

import math
import time
from typing import Callable, Optional

import numpy as np

from ._blas import one_blas_thread
from ._hugepage import no_hugepage_advice
from ._jit import jit

__all__ = ["stream_summary", "StreamAccumulator", "BINS", "T_MAX", "no_hugepage_advice"]

#: Histogram bins per summarised variable (exact int64 counts: 8 MiB each).
BINS = 1 << 20
#: Half-width of the grid in ``t = asinh(x / s)``: values beyond ``s * 2**40`` share the end bins.
T_MAX = math.asinh(2.0**40)

#: (report name, result variable, scale kind): the summarised quantiles. ``terminal_share`` counts the surviving
#: paths only; NaN is left out (``runway_years``: NaN means beyond the horizon, counted apart).
_VARS = (
    ("value_per_share", "value_per_share", "price"),
    ("horizon_return", "horizon_return", "rate"),
    ("terminal_share", "terminal_share", "rate"),
    ("revenue_cagr", "revenue_cagr", "rate"),
    ("dilution", "dilution", "rate"),
    ("runway_years", "runway_years", "rate"),
    ("equity_raised", "equity_raised", "money"),
    ("cumulative_burn", "cumulative_burn", "money"),
)


@jit
def _bin_index(x, mask, inv_s, inv_w, nb, idx):  # pragma: no cover - compiled
    """Bin of each ``x`` on the grid ``t = asinh(x * inv_s)``, ``|t| <= T_MAX``: ``idx`` (n,) int32.

    ``idx`` is -1 where ``x`` is NaN and -2 where ``mask`` is 0 (left out); values
    beyond the grid go to the end bins.
    """
    t0 = -T_MAX
    for i in range(x.shape[0]):
        v = x[i]
        if mask[i] == 0:
            idx[i] = -2
        elif v != v:
            idx[i] = -1
        else:
            b = math.floor((math.asinh(v * inv_s) - t0) * inv_w)
            if b < 0:
                b = 0
            elif b >= nb:
                b = nb - 1
            idx[i] = b


@jit
def _add_counts(idx, counts):  # pragma: no cover - compiled
    """Add the binned values ``idx`` (n,) into ``counts`` (BINS,) int64; return the number of NaNs (-1)."""
    nan = 0
    for i in range(idx.shape[0]):
        b = idx[i]
        if b >= 0:
            counts[b] += 1
        elif b == -1:
            nan += 1
    return nan


@jit
def _neumaier_block(x, s, c):  # pragma: no cover - compiled
    """Neumaier's compensated sum of ``x`` continued from the state ``(s, c)``, in order."""
    for i in range(x.shape[0]):
        v = x[i]
        t = s + v
        if abs(s) >= abs(v):
            c += (s - t) + v
        else:
            c += (v - t) + s
        s = t
    return s, c


def _scale(kind: str, price: float) -> float:
    """``s`` of the grid ``asinh(x / s)``: 1e-6 of the price (value), 1e-6 (rates, shares, years), 1e-3 (money)."""
    if kind == "price":
        return 1e-6 * (abs(price) if price else 1.0)
    return 1e-6 if kind == "rate" else 1e-3


class _Hist:
    """Exact counts of one variable on the fixed asinh grid, its NaN count, minimum and maximum."""

    def __init__(self, scale: float):
        self.s = float(scale)
        self.counts = np.zeros(BINS, dtype=np.int64)
        self.nan = 0
        self.lo = math.inf
        self.hi = -math.inf

    def edges(self, b: int) -> tuple[float, float]:
        """The ``x`` interval of bin ``b`` (the end bins reach the true minimum / maximum)."""
        w = 2.0 * T_MAX / BINS
        a = self.s * math.sinh(-T_MAX + b * w)
        c = self.s * math.sinh(-T_MAX + (b + 1) * w)
        if b == 0:
            a = min(a, self.lo)
        if b == BINS - 1:
            c = max(c, self.hi)
        return max(a, self.lo), min(c, self.hi)  # no value lies outside [minimum, maximum]

    def quantiles(self, qs, nan_last: bool = False) -> tuple[dict, dict]:
        """Type-7 percentiles ``qs`` [%] of the binned values, and the bound on each one's error.

        With ``nan_last`` the NaNs count as values above every other (``runway_years``: beyond
        the horizon) and a percentile that touches one is None.
        """
        n_fin = int(self.counts.sum())
        n = n_fin + (self.nan if nan_last else 0)
        vals, bounds = {}, {}
        if n == 0:
            return {q: float("nan") for q in qs}, {q: 0.0 for q in qs}
        cum = np.cumsum(self.counts)

        def order_stat(r):
            if r >= n_fin:
                return None, 0.0
            if r == 0:
                return self.lo, 0.0  # the extreme order statistics are known exactly
            if r == n_fin - 1:
                return self.hi, 0.0
            b = int(np.searchsorted(cum, r, side="right"))
            start = int(cum[b - 1]) if b > 0 else 0
            a, c = self.edges(b)
            if a == c:
                return a, 0.0
            frac = (r - start + 0.5) / int(self.counts[b])
            return a + frac * (c - a), c - a

        for q in qs:
            h = (n - 1) * q / 100.0
            k = int(math.floor(h))
            (x0, w0) = order_stat(k)
            (x1, w1) = (x0, w0) if h == k else order_stat(min(k + 1, n - 1))
            if x0 is None or x1 is None:
                vals[q], bounds[q] = None, 0.0
            else:
                vals[q] = float(x0 + (h - k) * (x1 - x0))
                bounds[q] = float(max(w0, w1))
        return vals, bounds


def _block_part(r: dict, price: float, scales: dict, horizon: int) -> dict:
    """The per-block reduction, run on the worker thread: counts and bin indices of one block."""
    from ._assemble import FLAG_ROWS, OUT_ROWS

    out, flags = r["out"], r["flags"]

    def col(name):
        return out[OUT_ROWS[name]]

    def flag(name):
        return flags[FLAG_ROWS[name]]

    v = col("value_per_share")
    n = v.size
    failed = flag("failed")
    alive = (failed == 0).view(np.int8)
    ones = np.ones(n, dtype=np.int8)
    idx = {}
    inv_w = BINS / (2.0 * T_MAX)
    mm = {}
    for name, var, _ in _VARS:
        x = np.ascontiguousarray(col(var))
        m = alive if name == "terminal_share" else ones
        i = np.empty(n, dtype=np.int32)
        _bin_index(x, m, 1.0 / scales[name], inv_w, BINS, i)
        idx[name] = i
        sel = x[m.view(np.bool_)]
        fin = sel[~np.isnan(sel)]
        mm[name] = (float(fin.min()), float(fin.max())) if fin.size else (math.inf, -math.inf)
    cause = col("failure_cause")
    be = col("breakeven_year")
    be_ok = be[~np.isnan(be)]
    return {
        "n": n, "block": r["block"], "idx": idx, "minmax": mm,
        "moments": {name: _block_moments(np.ascontiguousarray(col(name))) for name in _MOMENTS},
        "counts": {
            "justified_dcf": int(np.count_nonzero(flag("justified_dcf"))),
            "justified_market": int(np.count_nonzero(flag("justified_market"))),
            "failed": int(np.count_nonzero(failed)),
            "tv_clipped": int(np.count_nonzero(flag("tv_clipped"))),
            "floored": int(np.count_nonzero(flag("floored"))),
            "below_price": int(np.count_nonzero(v < price)),
            "liquidated": int(np.count_nonzero(flag("liquidated_at_horizon")[alive.view(np.bool_)])),
            "not_steady": int(np.count_nonzero(flag("not_steady")[alive.view(np.bool_)])),
            "hazard": int(np.count_nonzero(cause == 1.0)),
            "funding": int(np.count_nonzero(cause == 2.0)),
            "nonfinite_vps": int(np.count_nonzero(~np.isfinite(v))),
        },
        "breakeven": np.bincount(np.clip(be_ok, 0, horizon + 1).astype(np.int64), minlength=horizon + 2)
        if np.array_equal(be_ok, np.round(be_ok)) else None,
        "breakeven_sorted": None if np.array_equal(be_ok, np.round(be_ok)) else np.sort(be_ok),
    }


#: The variables whose mean (exact, in path order) and standard deviation (to rounding) a streamed run keeps:
#: the value per share (the report's mean, E[value]/price) and the price at the horizon (the expected IRR).
_MOMENTS = ("value_per_share", "price_horizon")


def _block_moments(x) -> tuple:
    """A block's values (kept for the in-order compensated sum), mean and sum of squared deviations."""
    mean_b = float(x.mean())
    return x, mean_b, float(np.sum((x - mean_b) ** 2))


class _Moments:
    """The running sum (Neumaier, in path order: the mean equals the in-memory one to the bit) and
    (n, mean, M2) by Chan, Golub & LeVeque's (1979) pairwise update (the sd to rounding) of one variable."""

    def __init__(self):
        self.n = 0
        self.sum = (0.0, 0.0)
        self.mean = 0.0
        self.m2 = 0.0

    def fold(self, part: tuple) -> None:
        x, mean_b, m2_b = part
        nb = x.size
        self.sum = _neumaier_block(x, self.sum[0], self.sum[1])
        n = self.n + nb
        delta = mean_b - self.mean
        self.mean += delta * nb / n
        self.m2 += m2_b + delta * delta * self.n * nb / n
        self.n = n

    def mean_sd(self) -> tuple:
        """(mean, sample sd); sd NaN for one path."""
        s, comp = self.sum
        tot = s + comp
        P = self.n
        return (tot if math.isfinite(tot) else s) / P, (math.sqrt(self.m2 / (P - 1)) if P > 1 else float("nan"))


class StreamAccumulator:
    """The bounded state of a streamed summary: fold blocks in with :meth:`add`, read with :meth:`summary`.

    Blocks may arrive in any order; the mean is summed in path order (blocks are held
    until their predecessors arrive), so it equals the in-memory report's to the bit.
    """

    def __init__(self, cfg):
        self.cfg = cfg
        self.price = float(cfg.price)
        self.horizon = int(cfg.simulation.horizon_years)
        self.scales = {name: _scale(kind, self.price) for name, _, kind in _VARS}
        self.hist = {name: _Hist(self.scales[name]) for name, _, _ in _VARS}
        self.counts: dict = {}
        self.n = 0
        self.moments = {name: _Moments() for name in _MOMENTS}
        self.breakeven = np.zeros(self.horizon + 2, dtype=np.int64)
        self.breakeven_other: list = []
        self._next = 0
        self._waiting: dict = {}

    def part(self, r: dict) -> dict:
        """Reduce one block's arrays (a dict of :func:`engine._run.run_one_block`) to its part (worker side)."""
        return _block_part(r, self.price, self.scales, self.horizon)

    def add(self, part: dict) -> None:
        """Fold in one block's part (from :meth:`part`), in any order."""
        self._waiting[part["block"]] = part
        while self._next in self._waiting:
            self._fold(self._waiting.pop(self._next))
            self._next += 1

    def _fold(self, p: dict) -> None:
        for name, m in self.moments.items():
            m.fold(p["moments"][name])
        self.n += p["n"]
        for k, v in p["counts"].items():
            self.counts[k] = self.counts.get(k, 0) + v
        for name, i in p["idx"].items():
            h = self.hist[name]
            h.nan += int(_add_counts(i, h.counts))
            lo, hi = p["minmax"][name]
            h.lo, h.hi = min(h.lo, lo), max(h.hi, hi)
        if p["breakeven"] is not None:
            self.breakeven += p["breakeven"]
        else:
            self.breakeven_other.append(p["breakeven_sorted"])

    def summary(self, elapsed: float, command: str = "") -> dict:
        """The report dict (the keys of the streamed report of a Zarr store), with ``approximation``.

        Raises
        ------
        engine.errors.InternalError
            Blocks are still missing (a block was never added).
        NonFiniteResultError
            Some paths' value per share is not finite (as the in-memory run).
        """
        from ._assemble import NonFiniteResultError
        from .errors import InternalError
        from .fairvalue import irr_from_moments, ratio_from_moments
        from .summary import QUANTILES, proportion, report_header

        if self._waiting:
            raise InternalError(f"streamed summary: blocks {sorted(self._waiting)[:5]} arrived but block "
                                f"{self._next} never did")
        c, P = self.counts, self.n
        if c["nonfinite_vps"]:
            raise NonFiniteResultError(
                f"{c['nonfinite_vps']:,} of {P:,} paths gave a non-finite value per share (overflow): the inputs "
                "make revenue, the margin or the EV/Sales multiple explode; check growth volatility and "
                "growth.today, revenue_shock.volatility and multiple.growth_beta / multiple.volatility")
        mean, sd = self.moments["value_per_share"].mean_sd()
        q, qb = self.hist["value_per_share"].quantiles(QUANTILES)
        vps = {"mean": mean, "sd": sd, "se_mean": sd / math.sqrt(P)}
        vps.update({f"p{k}": q[k] for k in QUANTILES})
        bound = {f"value_per_share.p{k}": qb[k] for k in QUANTILES}
        med = {}
        for name in ("horizon_return", "terminal_share", "revenue_cagr", "dilution"):
            m, b = self.hist[name].quantiles([50])
            med[name] = m[50]
            bound[f"median_{name}"] = b[50]

        def p10_50_90(name, nan_last=False):
            m, b = self.hist[name].quantiles((10, 50, 90), nan_last)
            bound.update({f"{name}.p{k}": b[k] for k in (10, 50, 90)})
            return {f"p{k}": m[k] for k in (10, 50, 90)}

        alive = P - c["failed"]
        reached = int(self.breakeven.sum()) + sum(x.size for x in self.breakeven_other)
        by_year = {str(y): float(self.breakeven[y] / P) if y < self.breakeven.size else 0.0
                   for y in range(1, self.horizon + 1)}
        a = {
            "company": self.cfg.company.name, "trading_currency": self.cfg.company.trading_currency,
            "value_unit": self.cfg.value_unit, "per_share": int(self.cfg.market.per_share),
            "price": self.price, "seed": int(self.cfg.simulation.seed),
            "block_size": int(self.cfg.simulation.block_size), "sampling": self.cfg.simulation.sampling.value,
            "horizon_years": self.horizon, "ticker": self.cfg.company.ticker,
            "valuation_date": self.cfg.company.valuation_date.isoformat(), "discount_rates": self.cfg.discount_rates,
        }
        units = " ".join(x for x in (self.cfg.company.reporting_currency, self.cfg.company.money_unit) if x)
        return {
            **report_header(a, P),
            "value_label": "value per share" if self.cfg.market.per_share else "equity value",
            "value_per_share": vps,
            "p_justified": {"dcf": proportion(c["justified_dcf"], P), "market": proportion(c["justified_market"], P)},
            "price_percentile": float(100.0 * c["below_price"] / P),
            "fair_value_ratio": ratio_from_moments(mean, sd, P, self.price),  # from the exact mean
            "expected_irr": irr_from_moments(*self.moments["price_horizon"].mean_sd(), P, self.price, self.horizon,
                                             med["horizon_return"]),
            "failed_share": c["failed"] / P,
            "tv_clipped": c["tv_clipped"],
            "floored": c["floored"],
            "median_horizon_return": med["horizon_return"],
            "median_terminal_share": med["terminal_share"],
            "median_revenue_cagr": med["revenue_cagr"],
            "median_dilution": med["dilution"],
            "liquidated_share": c["liquidated"] / alive if alive else float("nan"),
            "not_steady_share": c["not_steady"] / alive if alive else float("nan"),
            "config_sha256": self.cfg.sha256(),
            "elapsed_s": float(elapsed),
            "must_believe": None,
            "breakeven": {"by_year": by_year, "not_by_horizon": float(1.0 - reached / P),
                          "median_year": self._breakeven_median(reached)},
            "runway": {**p10_50_90("runway_years", nan_last=True),
                       "beyond_horizon_share": float(self.hist["runway_years"].nan / P)},
            "raised": {"equity_raised": p10_50_90("equity_raised"), "cumulative_burn": p10_50_90("cumulative_burn"),
                       "units": units},
            "failures": {"failed_share": c["failed"] / P, "hazard_share": c["hazard"] / P,
                         "funding_share": c["funding"] / P},
            "approximation": {
                "method": ("streamed in-process block by block: counts, probabilities and the mean exact, the sd to "
                           f"rounding; percentiles and medians from exact counts in {BINS:,} equal bins of "
                           "asinh(x / scale), placed by rank within the bin"),
                "exact": all(b == 0.0 for b in bound.values()),
                "max_abs_error": bound,
            },
        }

    def _breakeven_median(self, reached: int) -> float:
        """Median break-even year over the paths that reach one: exact from the year counts."""
        if not reached:
            return float("nan")
        if self.breakeven_other:  # not whole years (sub-annual steps): exact from the kept values
            vals = np.concatenate([np.repeat(np.arange(self.breakeven.size, dtype=float), self.breakeven)]
                                  + self.breakeven_other)
            return float(np.median(vals))
        cum = np.cumsum(self.breakeven)

        def order_stat(r):
            return float(np.searchsorted(cum, r, side="right"))

        h = (reached - 1) * 0.5
        k = int(math.floor(h))
        a, b = order_stat(k), order_stat(min(k + 1, reached - 1))
        return float(a + (h - k) * (b - a))


def stream_summary(cfg, paths: Optional[int] = None, seed: Optional[int] = None, threads: Optional[int] = None,
                   progress: Optional[Callable[[int, int], None]] = None, command: str = "") -> dict:
    """Run ``paths`` paths of ``cfg`` block by block and return the report, in bounded memory.

    The same blocks as :func:`engine.simulate` (same seed contract: block ``b`` draws
    from child ``b`` of ``SeedSequence(seed)``), each reduced as it finishes
    (:class:`StreamAccumulator`); memory does not grow with ``paths``: about 64 MiB of
    histograms plus two blocks in flight per thread.

    Parameters
    ----------
    cfg : Config or str or os.PathLike
        A validated config or the path of a config file.
    paths, seed : int, optional
        Override ``simulation.paths`` / ``simulation.seed``.
    threads : int, optional
        Worker threads (default: all cores). Results do not depend on it.
    progress : callable(done_paths, total_paths), optional
        Called from the calling thread after each finished block.
    command : str
        Not recorded (there is no results file); kept for symmetry with :func:`engine.simulate`.

    Returns
    -------
    dict
        The keys of the streamed report of a Zarr store
        (:func:`engine.distributed.summarize_store`): ``value_per_share`` {mean, sd,
        se_mean, p1 ... p99} [value unit], ``p_justified`` {dcf, market} (as
        :func:`engine.summary.proportion`), ``price_percentile`` [%], ``failed_share``,
        ``tv_clipped``, ``floored`` [paths], the medians, ``breakeven``, ``runway``,
        ``raised``, ``failures`` (as :func:`engine.summary.cash_and_funding`),
        ``must_believe`` None (it needs every drawn input), ``approximation``
        {method, exact, max_abs_error {key: bound in the key's units}}; and
        ``streamed`` True.

    Raises
    ------
    engine.errors.InputError
        A bad config, or non-finite values per share (``NonFiniteResultError``).
    """
    from ._plan import Plan, ParameterTable, as_config, run_config
    from ._run import run_one_block, run_tasks

    cfg = run_config(as_config(cfg), paths, seed)
    P = cfg.simulation.paths
    B = cfg.simulation.block_size
    table = ParameterTable(cfg)
    plan = Plan(cfg, table)
    acc = StreamAccumulator(cfg)

    def task(b: int) -> dict:
        return acc.part(run_one_block(cfg, table, plan, b, observed=False))

    t0 = time.perf_counter()
    done = 0
    with no_hugepage_advice(), one_blas_thread():  # the copula's product on one BLAS thread (engine._blas)
        for _, part in run_tasks(task, [(b,) for b in range(math.ceil(P / B))], threads=threads):
            acc.add(part)
            done += part["n"]
            if progress:
                progress(done, P)
    out = acc.summary(time.perf_counter() - t0, command)
    out["streamed"] = True
    return out
