"""The numbers an analyst reads first: fair-value ratio, implied cost of capital, expected IRR, EV/Sales, peers.

A run's P(today's price is justified) is a tail probability; the fair-value test of a
DCF is the ratio of the expected value to the price, and the reverse question is the
discount rate at which that expected value equals the price. This module computes:

* :func:`fair_value_ratio`: E[value] / price with its Monte Carlo standard error;
* :func:`implied_cost_of_capital`: the common shift d of the whole cost-of-capital
  path (``cost_of_capital.initial``, ``cost_of_capital.mature`` and, when the config
  gives it, ``terminal.wacc``) at which the mean DCF value equals the price, solved
  with :func:`scipy.optimize.brentq` on re-runs with common random numbers (the
  internal-rate-of-return view of a valuation: Brealey, Myers & Allen, "Principles of
  Corporate Finance", ch. 5; Damodaran, "Investment Valuation", ch. 2 on implied
  discount rates);
* :func:`expected_irr`: the holder's expected annual return to the horizon at today's
  price, (E[price at horizon] / price)^(1 / horizon) - 1;
* :func:`reported_revenue`, :func:`ev_sales_today`: base-year revenue as reported
  (not a run-rate) and today's market EV over it;
* :func:`peer_values`: the company valued at each ``[[peers]]`` EV/Sales, placed in
  the simulated distribution.

Everything but the implied cost of capital reads a result Dataset and its stored
config (no re-run).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ._stats import mean_sd
from .errors import InputError

__all__ = ["fair_value_ratio", "ratio_from_moments", "expected_irr", "irr_from_moments", "implied_cost_of_capital", "implied_for_run",
           "reported_revenue", "ev_sales_today",
           "peer_values", "fair_value", "SHIFTED_KEYS", "IMPLIED_PATHS", "RATE_RANGE"]

#: Most paths of the re-runs that solve for the implied cost of capital (the run's first paths, same seed).
IMPLIED_PATHS = 20_000

#: The shift d is searched so that every shifted rate's draw range stays in this interval (fractions).
RATE_RANGE = (0.001, 1.0)

#: Config keys the implied cost of capital moves by the common shift d (``terminal.wacc`` only when given;
#: when absent it defaults to ``cost_of_capital.mature`` and moves with it).
SHIFTED_KEYS = ("cost_of_capital.initial", "cost_of_capital.mature", "terminal.wacc")


def _config(ds, cfg=None):
    if cfg is not None:
        return cfg
    from .sensitivity import config_of

    return config_of(ds)


def fair_value_ratio(ds) -> dict:
    """E[DCF value] / today's price, with its Monte Carlo standard error.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (dim ``path``, P paths): ``value_per_share`` [value unit]
        and the ``price`` attribute [value unit].

    Returns
    -------
    dict
        ``estimate`` = mean(value) / price [x]; ``se`` = sd(value) / sqrt(P) / price
        (the standard error of the mean, scaled; the price is a constant);
        ``mean_value``, ``price`` [value unit]. Above 1: the expected DCF value
        exceeds the price.
    """
    v = np.asarray(ds["value_per_share"].values, dtype=float)
    mean, sd = mean_sd(v)
    return ratio_from_moments(mean, sd, v.size, float(ds.attrs["price"]))


def ratio_from_moments(mean: float, sd: float, n: int, price: float) -> dict:
    """:func:`fair_value_ratio` from the mean and sample sd of ``n`` values [value unit] and the price.

    The dict of :func:`fair_value_ratio`; the standard error is NaN for ``n < 2`` (one path has no
    spread: undefined, not 0). Used where the values themselves are not kept (a streamed run).

    Parameters
    ----------
    mean, sd : float
        Mean and sample standard deviation of the values per share [value unit].
    n : int
        Number of paths (>= 1).
    price : float
        Today's price [value unit], > 0.

    Returns
    -------
    dict
        ``estimate`` [x], ``se`` [x], ``mean_value``, ``price`` [value unit].
    """
    if n < 2:
        sd = float("nan")
    return {"estimate": mean / price, "se": sd / math.sqrt(n) / price, "mean_value": mean, "price": price}


def expected_irr(ds) -> dict:
    """Expected annual holder return at today's price, to the horizon (market lens).

    The rate r with price = E[P_H] / (1 + r)^H, i.e. r = (E[P_H] / price)^(1 / H) - 1,
    where P_H is the simulated price at the horizon (``price_horizon``; 0 on failed
    paths, which count with that payoff) and H = ``horizon_years``. The model pays no
    dividends. By Jensen's inequality r is at least the mean of the paths' own annual
    returns and usually above their median.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (dim ``path``): ``price_horizon`` [value unit], attributes
        ``price`` [value unit] and ``horizon_years``.

    Returns
    -------
    dict
        ``estimate`` [1/year] (None when E[P_H] = 0: every path fails or ends at a
        zero price; ``note`` says so); ``se`` [1/year] by the delta method from the
        standard error of E[P_H]; ``mean_price_horizon`` [value unit];
        ``horizon_years``; ``median_return`` [1/year] (the median of the paths'
        own returns, for comparison).
    """
    ph = np.asarray(ds["price_horizon"].values, dtype=float)
    m, sd = mean_sd(ph)
    return irr_from_moments(m, sd, ph.size, float(ds.attrs["price"]), int(ds.attrs["horizon_years"]),
                            float(np.median(ds["horizon_return"].values)))


def irr_from_moments(mean: float, sd: float, n: int, price: float, horizon: int, median_return: float) -> dict:
    """:func:`expected_irr` from the mean and standard deviation of the price at the horizon.

    The one formula for a run held in memory and a streamed run (:mod:`engine.stream`, which has the
    moments but not the paths): ``r = (mean / price)^(1 / H) - 1`` and, by the delta method,
    ``se = (mean / price)^(1 / H - 1) / H x sd / sqrt(n) / price``.

    Parameters
    ----------
    mean, sd : float
        Mean and sample standard deviation of ``price_horizon`` over the paths [value unit].
    n : int
        Paths (the standard error is NaN for one path).
    price : float
        Today's price [value unit].
    horizon : int
        H [years].
    median_return : float
        The median of the paths' own annual returns [1/year], reported alongside.

    Returns
    -------
    dict
        As :func:`expected_irr`.
    """
    if n < 2:
        sd = float("nan")  # undefined for one path
    out = {"estimate": None, "se": None, "mean_price_horizon": mean, "horizon_years": int(horizon),
           "median_return": median_return, "note": None}
    if not mean > 0:
        out["note"] = "the mean price at the horizon is 0 (every path fails or ends worthless): no finite return"
        return out
    x = mean / price
    out["estimate"] = x ** (1.0 / horizon) - 1.0
    out["se"] = (x ** (1.0 / horizon - 1.0) / horizon) * (sd / math.sqrt(n) / price)
    return out


def reported_revenue(cfg) -> dict:
    """Base-year revenue as reported, next to the model's base revenue (which may hold run-rates).

    Convention: a segment with ``revenue`` contributes that (its mean, if drawn); a
    segment with ``run_rate`` contributes ``reported_revenue`` when given, else its
    run-rate (and ``complete`` is False). Amounts in the reporting currency, money units.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    dict
        ``amount`` (reported base-year revenue), ``model_base`` (sum of the
        segments' base: revenue or run-rate, means), ``base_year``, ``unit``
        (e.g. ``'CNY million'``), ``run_rate_segments`` (names), ``complete``
        (every run-rate segment gives ``reported_revenue``), ``differs``
        (``amount`` != ``model_base``).
    """
    amount = base = 0.0
    rr, complete = [], True
    for s in cfg.segments:
        b = float(s.base.mean())
        base += b
        if s.revenue is not None:
            amount += b
        else:
            rr.append(s.name)
            if s.reported_revenue is None:
                complete = False
                amount += b
            else:
                amount += float(s.reported_revenue)
    return {"amount": amount, "model_base": base, "base_year": int(cfg.company.base_year),
            "unit": f"{cfg.company.reporting_currency} {cfg.company.money_unit}", "run_rate_segments": rr,
            "complete": complete, "differs": not math.isclose(amount, base, rel_tol=1e-12)}


def _bridge(cfg) -> float:
    """Equity - EV [reporting currency, money units]: cash - debt - minorities + non-operating assets (means)."""
    b = cfg.balance_sheet
    return float(b.cash.mean() - b.debt.mean() - b.minority_interests.mean() + b.non_operating_assets.mean())


def ev_sales_today(cfg) -> dict:
    """Today's market EV / Sales: on reported base-year revenue and on the model's base revenue.

    EV = market capitalisation (in the reporting currency) - (cash - debt - minority
    interests + non-operating assets), balance-sheet items at their means.

    Returns
    -------
    dict
        ``reported`` [x] (EV / reported base-year revenue, :func:`reported_revenue`;
        None when that revenue is 0), ``model_base`` [x] (EV / the segments' base,
        run-rates included; the default of ``multiple.today`` uses this base),
        ``ev`` and ``market_cap`` [reporting currency, money units], ``revenue``
        and ``model_base_revenue`` (:func:`reported_revenue`) [reporting currency,
        money units].
    """
    cap = float(cfg.market_cap_reporting)
    ev = cap - _bridge(cfg)
    rev = reported_revenue(cfg)
    f = lambda r: ev / r if r > 0 else None  # noqa: E731
    return {"reported": f(rev["amount"]), "model_base": f(rev["model_base"]), "ev": ev, "market_cap": cap,
            "revenue": rev["amount"], "model_base_revenue": rev["model_base"]}


def _peer_multiple(cfg, p) -> float:
    if p.ev_sales is not None:
        return float(p.ev_sales)
    co = cfg.company
    fx = float(co.fx_rate)  # trading-currency units per reporting-currency unit

    def to_reporting(x, cur, default):
        return x / fx if (cur or default) != co.reporting_currency else x

    rev = to_reporting(p.revenue, p.revenue_currency, co.reporting_currency)
    ev = to_reporting(p.market_cap + p.net_debt, p.market_cap_currency, co.trading_currency)
    return ev / rev


def peer_values(ds, cfg=None) -> list:
    """The company valued at each peer's EV/Sales, placed in the simulated distribution.

    value = (EV/Sales_peer x reported base-year revenue + cash - debt - minority
    interests + non-operating assets) x FX, in the value unit (per share when the
    config has a share count). Balance-sheet items at their means; revenue from
    :func:`reported_revenue`. A relative valuation (Damodaran, "Investment
    Valuation", ch. 17-20), shown beside the DCF distribution.

    Parameters
    ----------
    ds : xarray.Dataset
        A run's results (dim ``path``): ``value_per_share`` [value unit].
    cfg : Config, optional
        Its config (default: rebuilt from ``ds.attrs['config_toml']``).

    Returns
    -------
    list of dict
        One per ``[[peers]]``: ``name``, ``ev_sales`` [x], ``value`` [value
        unit], ``value_to_price`` [x], ``percentile`` [%] (share of paths with a
        DCF value <= ``value``). Empty when the config names no peer.
    """
    cfg = _config(ds, cfg)
    if not cfg.peers:
        return []
    v = np.asarray(ds["value_per_share"].values, dtype=float)
    rev = reported_revenue(cfg)["amount"]
    out = []
    for p in cfg.peers:
        m = _peer_multiple(cfg, p)
        value = (m * rev + _bridge(cfg)) * float(cfg.to_price)
        out.append({"name": p.name, "ev_sales": m, "value": value, "value_to_price": value / float(cfg.price),
                    "percentile": float(100.0 * np.count_nonzero(v <= value) / v.size)})
    return out


# --------------------------------------------------------------------------- implied cost of capital


def _shifted_specs(cfg) -> dict:
    """{key: spec} of the keys the shift moves (``terminal.wacc`` only when the config gives it)."""
    out = {"cost_of_capital.initial": cfg.cost_of_capital.initial,
           "cost_of_capital.mature": cfg.cost_of_capital.mature}
    if cfg.terminal.wacc is not None and cfg.terminal.method.value == "gordon":
        out["terminal.wacc"] = cfg.terminal.wacc
    return out


def _shift_inputs(specs: dict, d: float) -> dict:
    upd = {}
    for key, spec in specs.items():
        s = spec.shifted(d)
        upd[key] = float(s.median()) if s.is_fixed else s.to_dict()
    return upd


def _location_shifts(specs: dict) -> bool:
    """Whether every shifted spec moves as X + d (its quantile function moves by d): not a lognormal."""
    from .distributions import DistributionSpec

    return all(type(spec).shifted is DistributionSpec.shifted for spec in specs.values())


def _run_draws(table, run, n: int):
    """The drawn inputs of ``run``'s first ``n`` paths: n_drawn arrays (n,) in ``table.drawn`` order; None if one is
    missing."""
    from .variables import param_var_name

    names = [param_var_name(table.keys[c]) for c in table.drawn]
    kept = getattr(run, "kept", lambda name: name in run)  # a RunArrays lists the variables it did not keep too
    if not all(kept(name) for name in names):
        return None
    return [np.asarray(run[name].values[:n], dtype=np.float64) for name in names]


def _shifted_draws(base, specs: dict, n: int, run=None):
    """theta_fn(d) for :func:`engine.simulate.simulate`: the base run's parameter draws with the shifted columns + d.

    ``base`` is the config of the re-runs (``simulation.paths`` = ``n`` and the run's seed). The draws do
    not depend on d (common random numbers), so they are made once per block and reused by every
    evaluation of the implied-rate search; a location-shifted input's quantile at the same uniform is its
    base draw + d. With ``run`` (see ``base_run`` of :func:`implied_cost_of_capital`) they are its stored
    draws (``param_*``), not drawn again. Returns None where that does not hold (a shifted lognormal) or
    the parameter layout is not the one expected; the search then re-draws per evaluation.
    """
    from .simulate import ParameterTable, _Plan

    if not _location_shifts(specs):
        return None
    table = ParameterTable(base)
    cols = [table.column(k) for k in specs if k in table.keys]
    if len(cols) != len(specs):
        return None
    B = base.simulation.block_size
    bounds = [(b * B, min(n, (b + 1) * B)) for b in range((n + B - 1) // B)]
    stored = None if run is None else _run_draws(table, run, n)
    if stored is not None:  # the rows of plan.theta, from the run: base_row with the drawn columns set
        blocks = []
        for lo, hi in bounds:
            draws = np.empty((hi - lo, len(table.drawn)))
            for j, col in enumerate(stored):
                draws[:, j] = col[lo:hi]
            blocks.append((table.fill(np.empty((hi - lo, len(table.specs))), draws), draws))
    else:
        plan = _Plan(base, table)
        blocks = [plan.theta(b, hi - lo) for b, (lo, hi) in enumerate(bounds)]
    drawn = [table.drawn.index(c) if c in table.drawn else -1 for c in cols]

    def theta_fn_for(d: float):
        def theta_fn(b: int, m: int):
            theta, draws = blocks[b]
            theta, draws = theta[:m].copy(), draws[:m].copy()
            for c, j in zip(cols, drawn):
                theta[:, c] += d
                if j >= 0:
                    draws[:, j] += d
            return theta, draws

        return theta_fn

    return theta_fn_for


def implied_cost_of_capital(cfg, paths: Optional[int] = None, seed: Optional[int] = None,
                            threads: Optional[int] = None, xtol: float = 1e-9, reuse_draws: bool = True,
                            base_run=None) -> dict:
    """The discount rate at which the mean DCF value equals today's price.

    The whole cost-of-capital path is moved by a common shift d: the distributions of
    ``cost_of_capital.initial`` and ``cost_of_capital.mature`` and, when the config
    gives it, ``terminal.wacc`` (:meth:`DistributionSpec.shifted`; otherwise the
    stable WACC defaults to the shifted mature WACC). ``cost_of_capital.cost_of_equity``
    (the market lens's hurdle) does not move. A ``terminal.return_on_capital`` left
    out defaults to the stable WACC and so moves with it. Every run uses the same
    seed and paths (common random numbers): with quantile sampling a path's shifted
    rate is its base draw + d (a lognormal spec is moved by its mean instead,
    :meth:`Lognormal.shifted`). d is found by :func:`scipy.optimize.brentq` on
    f(d) = mean(value per share)(d) - price, first on [0, d_hi] when f(0) > 0 (the
    price is below the expected value: a higher rate), else on [d_lo, 0]; the
    bracket keeps every shifted rate's draw range inside :data:`RATE_RANGE`:
    d_lo = 0.001 - (lowest draw of any shifted rate), d_hi = 1 - (highest draw), and
    with a Gordon terminal value d_lo is raised so that the stable WACC's median stays
    at least ``terminal.min_spread`` (+ 1e-6) above ``terminal.growth``'s median (the
    config's own check; below it most paths' terminal spread would be clipped).
    The mean value usually falls as d rises; a path with negative cash flows can
    make it rise, and brentq returns a root of the half-bracket with a sign change.

    The parameter draws do not depend on d: they are drawn once and every evaluation
    reuses them with the shifted inputs' columns + d (``reuse_draws``; not for a
    shifted lognormal, whose shape changes). A re-draw of the shifted config gives the
    same draws up to rounding (the quantile function of X + d at u is that of X plus d,
    computed in another order), so the rate agrees with ``reuse_draws=False`` to far
    within ``xtol``; only the kernel runs per evaluation.

    Parameters
    ----------
    cfg : Config
        A validated config.
    paths : int, optional
        Paths of each re-run: default ``min(simulation.paths, IMPLIED_PATHS)`` (the
        first paths of the run with the same seed: a run of n paths is the prefix
        of a longer one under the seed contract).
    seed : int, optional
        Default ``simulation.seed``.
    threads : int, optional
        Worker threads (results do not depend on it).
    xtol : float
        Absolute tolerance on d (fraction).
    reuse_draws : bool
        Reuse the base draws in every evaluation (default); False re-draws each
        shifted config (the reference the reuse is tested against).
    base_run : xarray.Dataset, optional
        A run of ``cfg`` with ``seed``, made by this engine, whose first ``paths``
        paths are the unshifted re-run's paths (:func:`implied_for_run` says
        when): the mean of their ``value_per_share`` is that re-run (d = 0; it
        still counts as an evaluation) and their ``param_*`` are the draws that
        every evaluation reuses. The same numbers as without it, to the bit.

    Returns
    -------
    dict
        ``rate`` (mean of ``cost_of_capital.initial`` + d) [fraction/year] or None;
        ``shift`` d [fraction] or None; ``mature_rate`` (mean of
        ``cost_of_capital.mature`` + d); ``base_initial``, ``base_mature`` (the
        means); ``keys`` (the keys moved); ``bracket`` [d_lo, d_hi] searched;
        ``mean_value_at_bracket`` {low, high} [value unit] (when no root);
        ``mean_value_check`` [value unit] at the root; ``paths``, ``seed``,
        ``evaluations`` (the shifts d evaluated, each a re-run but d = 0 with
        ``base_run``); ``draws_reused`` (bool); ``note`` (why there is no root),
        ``method``.

    Raises
    ------
    engine.errors.InputError
        ``paths`` < 1, or ``base_run`` holds fewer than ``paths`` paths.
    """
    from scipy.optimize import brentq

    from .simulate import run_config, simulate_arrays

    n = int(min(cfg.simulation.paths, IMPLIED_PATHS) if paths is None else paths)
    if n < 1:
        raise InputError(f"`paths` = {paths}: the implied cost of capital needs at least 1 path")
    seed = int(cfg.simulation.seed if seed is None else seed)
    if base_run is not None and int(base_run.sizes["path"]) < n:
        raise InputError(f"`base_run` holds {int(base_run.sizes['path']):,} paths; the implied cost of capital's "
                         f"re-runs have {n:,}: pass a run of at least {n:,} paths, or None")
    specs = _shifted_specs(cfg)
    lows = [spec.draw_range()[0] for spec in specs.values()]
    highs = [spec.draw_range()[1] for spec in specs.values()]
    d_lo, d_hi = RATE_RANGE[0] - min(lows), RATE_RANGE[1] - max(highs)
    t = cfg.terminal
    if t.method.value == "gordon":  # the config's own check: stable WACC median >= growth median + min_spread
        w = t.wacc if t.wacc is not None else cfg.cost_of_capital.mature
        d_lo = max(d_lo, t.min_spread + float(t.growth.median()) - float(w.median()) + 1e-6)
    price = float(cfg.price)
    cache: dict = {}
    if base_run is not None:
        cache[0.0] = float(np.mean(np.asarray(base_run["value_per_share"].values[:n], dtype=np.float64)))
    base = run_config(cfg, n, seed)  # the config of every re-run: n paths, the run's seed
    theta_for = _shifted_draws(base, specs, n, base_run) if reuse_draws else None

    def mean_value(d: float) -> float:
        if d not in cache:
            if theta_for is not None:
                # the shift lives in theta alone (the shifted keys are theta columns; the kernel's options
                # do not read them), so the base config serves every d: no shifted config is built
                run = simulate_arrays(base, threads=threads, variables=("value_per_share",), theta_fn=theta_for(d))
            else:
                c = base.with_inputs(_shift_inputs(specs, d)) if d != 0.0 else base
                run = simulate_arrays(c, threads=threads, variables=("value_per_share",))
            cache[d] = float(np.mean(run["value_per_share"].values))
        return cache[d]

    base_i = float(cfg.cost_of_capital.initial.mean())
    base_m = float(cfg.cost_of_capital.mature.mean())
    out = {"rate": None, "shift": None, "mature_rate": None, "base_initial": base_i, "base_mature": base_m,
           "keys": list(specs), "bracket": [d_lo, d_hi], "paths": n, "seed": seed, "price": price,
           "mean_value_check": None, "mean_value_at_bracket": None, "note": None,
           "draws_reused": theta_for is not None,
           "method": ("common shift d of the cost-of-capital path (keys: " + ", ".join(specs) + ") solved by "
                      f"scipy.optimize.brentq for mean value = price on {n:,} paths (same seed, common random "
                      "numbers" + ("; the draws are made once and reused, the shifted inputs + d" if theta_for
                                   is not None else "") + "); rate = mean initial WACC + d")}
    f = lambda d: mean_value(d) - price  # noqa: E731
    f0 = f(0.0)
    if f0 == 0.0:
        a = b = 0.0
    else:
        a, b = (0.0, d_hi) if f0 > 0 else (d_lo, 0.0)
        fa, fb = f(a), f(b)
        if not (math.isfinite(fa) and math.isfinite(fb)) or (fa > 0) == (fb > 0):
            out["mean_value_at_bracket"] = {"low": mean_value(d_lo), "high": mean_value(d_hi)}
            side = "lower" if f0 < 0 else "higher"
            out["note"] = (f"no root: even with every rate {side} (shift d in [{a:+.4f}, {b:+.4f}], rates kept in "
                           f"[{RATE_RANGE[0]:.1%}, {RATE_RANGE[1]:.0%}]) the mean value does not reach the price "
                           f"(mean value {_amount(mean_value(a if f0 < 0 else b))} at the end of the range, "
                           f"price {_amount(price)})")
            out["evaluations"] = len(cache)
            return out
    d = 0.0 if a == b else float(brentq(f, a, b, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200))
    out.update({"shift": d, "rate": base_i + d, "mature_rate": base_m + d, "mean_value_check": mean_value(d),
                "evaluations": len(cache)})
    return out


def implied_for_run(ds, paths: int = IMPLIED_PATHS, threads: Optional[int] = None, reuse_run: bool = False) -> dict:
    """:func:`implied_cost_of_capital` of a run, as :func:`fair_value` with ``implied=True`` gives it.

    The re-runs use the config stored in ``ds`` (``config_toml``), its seed and the
    first min(P, ``paths``) paths. With ``reuse_run`` the unshifted re-run (d = 0) is
    not made: its values are the run's own first paths, which are that re-run's paths
    under the seed contract when the run has random sampling (a run of n paths is the
    prefix of a longer one) or when the re-runs take every path of the run (a Latin
    hypercube or copula-reordered design is built per block of its own size, so
    otherwise its prefix is not a shorter run); the run's stored draws (``param_*``)
    are then those of every re-run too. The result is the same to the bit, with one
    re-run fewer and no parameter draws made again.

    Parameters
    ----------
    ds : xarray.Dataset or engine._assemble.RunArrays
        A run's results (dim ``path``, P paths; attrs ``config_toml`` and ``seed``), or the plain
        arrays of a run that saves nothing (:func:`engine.simulate.simulate_arrays`).
    paths : int
        Most paths of each re-run (:data:`IMPLIED_PATHS`).
    threads : int, optional
        Worker threads of the re-runs (results do not depend on it).
    reuse_run : bool
        ``ds`` was simulated by this engine, in this process, from its stored
        config (``pricedin run``); False for results read from a file, which an
        older engine may have written.

    Returns
    -------
    dict
        As :func:`implied_cost_of_capital`.

    Raises
    ------
    engine.errors.InputError
        ``ds`` holds no config, or ``paths`` < 1.
    """
    from .sensitivity import config_of

    cfg = config_of(ds)
    n = min(int(ds.sizes["path"]), int(paths))
    base = None
    if reuse_run and n >= 1 and (n == int(ds.sizes["path"]) or cfg.simulation.sampling.value == "random"):
        if not hasattr(ds, "coords"):  # engine._assemble.RunArrays: the run's own paths 0 .. P - 1
            base = ds
        else:
            ids = np.asarray(ds["path"].values[:n]) if "path" in ds.coords else None
            if ids is not None and np.array_equal(ids, np.arange(n)):  # the run's first paths, not a selection
                base = ds
    return implied_cost_of_capital(cfg, paths=n, seed=int(ds.attrs["seed"]), threads=threads, base_run=base)


def fair_value(ds, cfg=None, implied: bool = False, implied_paths: Optional[int] = None,
               threads: Optional[int] = None) -> dict:
    """Every number of this module for a run, as the report's keys.

    Parameters
    ----------
    ds : xarray.Dataset or engine._assemble.RunArrays
        A run's results (:func:`engine.simulate.simulate` or :func:`engine.simulate.simulate_arrays`).
    cfg : Config, optional
        Its config (default: rebuilt from ``ds.attrs['config_toml']``).
    implied : bool
        Also solve for the implied cost of capital (re-runs; see
        :func:`implied_cost_of_capital`, seed = the run's). Otherwise that key
        holds None with a note.
    implied_paths : int, optional
        Paths of each re-run: default min(the run's paths, :data:`IMPLIED_PATHS`).

    Returns
    -------
    dict
        ``fair_value_ratio``, ``implied_cost_of_capital``, ``expected_irr``,
        ``ev_sales_today``, ``reported_revenue`` (with ``median_revenue_cagr``:
        the paths' median (revenue_horizon / reported base-year revenue)^(1/H) - 1
        [1/year], and ``median_revenue_horizon``), ``peers``.
    """
    try:
        cfg = _config(ds, cfg)
    except InputError:  # a results file without its config: only the numbers of the values themselves
        none = {"note": "the results hold no config (config_toml attribute)"}
        return {"fair_value_ratio": fair_value_ratio(ds), "implied_cost_of_capital": {"rate": None, **none},
                "expected_irr": expected_irr(ds), "ev_sales_today": None, "reported_revenue": None, "peers": []}
    rev = reported_revenue(cfg)
    h = int(ds.attrs["horizon_years"])
    rh = np.asarray(ds["revenue_horizon"].values, dtype=float)
    rh = rh[np.isfinite(rh)]  # surviving paths (a failed path's horizon revenue is missing)
    rev["median_revenue_horizon"] = float(np.median(rh)) if rh.size else float("nan")
    rev["median_revenue_cagr"] = (float(np.median((rh / rev["amount"]) ** (1.0 / h) - 1.0))
                                  if rev["amount"] > 0 and rh.size else None)
    if implied:
        n = int(ds.sizes["path"])
        icc = implied_cost_of_capital(cfg, paths=min(n, implied_paths or IMPLIED_PATHS),
                                      seed=int(ds.attrs["seed"]), threads=threads)
    else:
        icc = {"rate": None, "shift": None, "note": "not computed (engine.fairvalue.implied_cost_of_capital)"}
    return {"fair_value_ratio": fair_value_ratio(ds), "implied_cost_of_capital": icc,
            "expected_irr": expected_irr(ds), "ev_sales_today": ev_sales_today(cfg), "reported_revenue": rev,
            "peers": peer_values(ds, cfg)}


def _amount(x: float) -> str:
    """An amount with thousands separators and no exponent (1,070,000; 16.02; -9,381)."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:,.2f}"
