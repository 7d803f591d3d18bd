"""The standard model in monaco (a Monte Carlo framework that runs one Python function per case): the peer.

``monaco`` (https://pypi.org/project/monaco/, installed with ``pip install 'pricedin[bench]'``)
draws each case's inputs from scipy.stats distributions and calls a user function per
case. :func:`case_value` is that function for the standard model of
:mod:`benchmarks.standard`: the same equations as :mod:`benchmarks.numpy_ref` (and the
engine's kernel) written for one path in plain Python ``math``, the way a monaco user
writes a model. Its per-step shocks come from a ``random.Random`` seeded with the
case's seed, so it matches the engine in distribution, not bit for bit;
``tests/test_benchmarks.py`` checks the deterministic case against the numpy reference.

Covered: one segment with Ornstein-Uhlenbeck growth on ln(1 + g) (the exact integral over each step and its
exact joint noise; ``today`` is the first year's growth; the mean-preserving compensator and the yearly churn
draw are not ported: with annual steps and no growth noise the port is exact), logit-normal churn,
linear or exponential margin convergence with AR(1) noise and a cap, taxes with a loss
carry-forward, reinvestment = change in revenue / sales-to-capital, year-end or
mid-year discounting along the WACC fade, the Gordon terminal value, the EV/Sales
multiple with a decaying premium, cash, SBC dilution and equity raises. Anything else
(revenue shocks, failure, correlated inputs, other terminal methods) raises
``NotImplementedError``.
"""

from __future__ import annotations

import math
import random
import time
from typing import Optional

__all__ = ["StandardCase", "run_monaco", "monaco_available"]

LN2 = math.log(2.0)

#: The inputs a case reads (key paths below ``segments.<name>.`` for the segment ones).
_SEGMENT_KEYS = ("revenue", "growth.today", "growth.long_run", "growth.half_life", "growth.volatility",
                 "growth.volatility_long_run", "growth.volatility_half_life", "churn.rate", "churn.dispersion")
_KEYS = ("balance_sheet.cash", "balance_sheet.debt", "balance_sheet.minority_interests",
         "balance_sheet.non_operating_assets", "balance_sheet.nol", "balance_sheet.invested_capital",
         "margin.today", "margin.target", "margin.convergence_year", "margin.half_life", "margin.noise_sd",
         "margin.noise_persistence", "margin.maximum", "tax.rate", "reinvestment.sales_to_capital",
         "cost_of_capital.initial", "cost_of_capital.mature", "terminal.growth", "terminal.wacc",
         "terminal.return_on_capital", "multiple.today", "multiple.mature", "multiple.growth_beta",
         "multiple.half_life", "multiple.volatility", "dilution.sbc_rate", "financing.cash_floor",
         "financing.buffer_years", "financing.issue_discount", "financing.cash_rate")


def monaco_available() -> bool:
    """Whether ``monaco`` is importable (the optional ``bench`` extra)."""
    import importlib.util

    return importlib.util.find_spec("monaco") is not None


def _scipy_dist(spec):
    """(scipy.stats distribution, kwargs) of a drawn input: uniform, triangular, PERT (a scaled beta)."""
    from scipy import stats

    lo, hi = float(spec.min), float(spec.max)
    w = hi - lo
    if spec.kind == "uniform":
        return stats.uniform, {"loc": lo, "scale": w}
    if spec.kind == "triangular":
        return stats.triang, {"c": (float(spec.mode) - lo) / w, "loc": lo, "scale": w}
    if spec.kind == "pert":
        lam = float(getattr(spec, "lambda_", 4.0))
        a = 1.0 + lam * (float(spec.mode) - lo) / w
        b = 1.0 + lam * (hi - float(spec.mode)) / w
        return stats.beta, {"a": a, "b": b, "loc": lo, "scale": w}
    raise NotImplementedError(f"the monaco port does not draw {spec.kind!r} inputs")


class StandardCase:
    """One path of a one-segment config in plain Python: the function a monaco case runs.

    Parameters
    ----------
    cfg : engine.config.Config
        A one-segment config within the coverage of the module docstring.

    Attributes
    ----------
    fixed : dict of {str: float or None}
        The fixed inputs (key path -> value; None when the config leaves it out).
    drawn : dict of {str: (scipy.stats distribution, kwargs)}
        The drawn inputs, as monaco input variables.
    """

    def __init__(self, cfg):
        if len(cfg.segments) != 1:
            raise NotImplementedError("the monaco port models one segment")
        seg = cfg.segments[0]
        if (cfg.margin.method.value == "cost_structure" or cfg.terminal.method.value != "gordon"
                or seg.growth.method.value != "ou" or cfg.correlations.pairs):
            raise NotImplementedError("the monaco port models OU growth, linear/exponential margins, a Gordon "
                                      "terminal value and independent inputs")
        spec = {p.key: p.spec for p in cfg.parameters()}
        prefix = f"segments.{seg.name}."
        self.fixed, self.drawn = {}, {}
        for key, name in [(prefix + k, k) for k in _SEGMENT_KEYS] + [(k, k) for k in _KEYS]:
            s = spec.get(key)
            if s is None:
                self.fixed[name] = None
            elif s.is_fixed:
                self.fixed[name] = float(s.median())
            else:
                self.drawn[name] = _scipy_dist(s)
        for key in ("revenue_shock.volatility", "revenue_shock.volatility_long_run"):
            s = spec.get(prefix + key)
            if s is not None and not (s.is_fixed and float(s.median()) == 0.0):
                raise NotImplementedError("the monaco port has no direct revenue shock")
        s = spec.get("failure.annual_probability")
        if s is not None and not (s.is_fixed and float(s.median()) == 0.0):
            raise NotImplementedError("the monaco port has no failure hazard")
        self.linear_margin = cfg.margin.method.value == "linear"
        self.mid = bool(cfg.cost_of_capital.mid_year)
        self.fade = (cfg.cost_of_capital.fade_start_year, cfg.cost_of_capital.fade_end_year)
        self.spy = cfg.simulation.steps_per_year
        self.n_steps = cfg.n_steps
        self.market_cap = cfg.market_cap_reporting
        self.to_price = cfg.to_price
        self.min_spread = cfg.terminal.min_spread
        self.limited = bool(cfg.failure.limited_liability)
        self.closed = [bool(cfg.financing.closed) or (t // self.spy + 1) in cfg.financing.closed_years
                       for t in range(self.n_steps)]

    def value(self, p: dict, rng: random.Random) -> float:
        """Value per share [price unit] of one path with inputs ``p`` (name -> value) and shocks from ``rng``."""
        exp, log, sqrt = math.exp, math.log, math.sqrt
        gauss = rng.gauss
        g = lambda k, d=0.0: d if p[k] is None else p[k]  # noqa: E731
        dt = 1.0 / self.spy
        sqdt = sqrt(dt)
        rev0, g0, ginf, ghl = p["revenue"], p["growth.today"], p["growth.long_run"], p["growth.half_life"]
        gvol0 = p["growth.volatility"]
        gvol_inf = g("growth.volatility_long_run", gvol0)
        gvol_hl = g("growth.volatility_half_life", 1.0)
        churn, cdisp = p["churn.rate"], g("churn.dispersion")
        logit_c = log(churn / (1.0 - churn)) if 0.0 < churn < 1.0 else None
        cash0 = p["balance_sheet.cash"]
        claims = -g("balance_sheet.debt") - g("balance_sheet.minority_interests") + g("balance_sheet.non_operating_assets")
        nol = g("balance_sheet.nol")
        m0, mt, mnoise = p["margin.today"], p["margin.target"], g("margin.noise_sd")
        mpers, mmax = g("margin.noise_persistence", 1.0), g("margin.maximum", math.inf)
        mconv, mhl = p["margin.convergence_year"], p["margin.half_life"]
        tax_rate, s2c = p["tax.rate"], p["reinvestment.sales_to_capital"]
        w0, wm, tg = p["cost_of_capital.initial"], p["cost_of_capital.mature"], p["terminal.growth"]
        mu_mat, beta = p["multiple.mature"], g("multiple.growth_beta")
        mu_decay = 2.0 ** (-dt / p["multiple.half_life"])
        mu_vol = g("multiple.volatility")
        sbc, floor = g("dilution.sbc_rate"), g("financing.cash_floor")
        buffer, disc, cash_rate = g("financing.buffer_years"), g("financing.issue_discount"), g("financing.cash_rate")
        fade_s, fade_e = self.fade

        R = rev0
        kap = LN2 / ghl
        x_inf = math.log1p(ginf)
        # growth.today is the first year's growth: the integral of x over year 1 is ln(1 + today)
        x = x_inf + (math.log1p(g0) - x_inf) * kap / (1.0 - exp(-kap))
        ou_a = exp(-kap * dt)
        ou_b = (1.0 - ou_a) / kap  # integral over the step of the decaying part
        # the exact joint law of (x at the step's end, integral of x over the step), per unit volatility
        v1 = (1.0 - ou_a * ou_a) / (2.0 * kap)
        v2 = (dt - 2.0 * ou_b + v1) / (kap * kap)
        c12 = (1.0 - ou_a) ** 2 / (2.0 * kap * kap)
        l11 = sqrt(v1)
        l21 = c12 / l11
        l22 = sqrt(max(v2 - l21 * l21, 0.0))
        ic = R / s2c if p["balance_sheet.invested_capital"] is None else p["balance_sheet.invested_capital"]
        g0_tot = (1.0 + g0) * (1.0 - churn) - 1.0
        mu0 = (self.market_cap - cash0 - claims) / rev0 if p["multiple.today"] is None else p["multiple.today"]
        prem = log(mu0 / (mu_mat * exp(beta * (g0_tot - tg))))
        cash, shares, u_m, df, pv = cash0, 1.0, 0.0, 1.0, 0.0
        r_prev, ebit, mult, r_t = R, 0.0, mu0, w0
        for t in range(1, self.n_steps + 1):
            tau = t * dt
            eg, ex = gauss(0.0, 1.0), gauss(0.0, 1.0)
            eta = gvol_inf + (gvol0 - gvol_inf) * 2.0 ** (-(tau - dt) / gvol_hl)
            ilog = x_inf * dt + (x - x_inf) * ou_b + eta * (l21 * eg + l22 * ex)
            x = x_inf + (x - x_inf) * ou_a + eta * l11 * eg
            c = 1.0 / (1.0 + exp(-(logit_c + cdisp * gauss(0.0, 1.0)))) if logit_c is not None else churn
            R_new = R * exp(ilog) * (1.0 - c) ** dt
            g_tot = R_new / r_prev - 1.0 if self.spy == 1 else (R_new / r_prev) ** self.spy - 1.0
            u_m = mpers ** dt * u_m + mnoise * sqdt * gauss(0.0, 1.0)
            if self.linear_margin:
                m_det = m0 + (mt - m0) * min(tau / mconv, 1.0)
            else:
                m_det = mt + (m0 - mt) * 2.0 ** (-tau / mhl)
            margin = min(m_det + u_m, mmax)
            new_ebit = margin * R_new
            ebit_flow = new_ebit * dt
            if ebit_flow > 0.0:
                used = min(nol, ebit_flow)
                tax = tax_rate * (ebit_flow - used)
                nol -= used
            else:
                tax = 0.0
                nol -= ebit_flow
            reinv = (R_new - r_prev) / s2c
            fcff = ebit_flow - tax - reinv
            w = w0 if tau <= fade_s else wm if tau >= fade_e else w0 + (wm - w0) * (tau - fade_s) / (fade_e - fade_s)
            step = (1.0 + w) ** dt
            df_end = df / step
            pv += fcff * (df / sqrt(step) if self.mid else df_end)
            prem = prem * mu_decay + mu_vol * sqdt * gauss(0.0, 1.0)
            mult = mu_mat * exp(beta * (g_tot - tg)) * exp(prem)
            new_cash = cash * (1.0 + cash_rate) ** dt + fcff
            shares = shares * (1.0 + sbc) ** dt
            if new_cash < floor:
                e_mkt = mult * R_new + new_cash + claims
                if self.closed[t - 1] or e_mkt <= 0.0:
                    raise NotImplementedError("the monaco port has no failure (a path ran out of cash)")
                burn = -fcff / dt if fcff < 0.0 else 0.0
                need = floor - new_cash + buffer * burn
                shares += need * shares / (e_mkt * (1.0 - disc))
                new_cash += need
            R, ic, df, cash, ebit, r_t, r_prev = R_new, ic + reinv, df_end, new_cash, new_ebit, w, R_new
        tw = wm if p["terminal.wacc"] is None else p["terminal.wacc"]
        roc = tw if p["terminal.return_on_capital"] is None else p["terminal.return_on_capital"]
        spread = max(tw - tg, self.min_spread)
        ebit_next = ebit * (1.0 + tg)
        if ebit_next > 0.0:
            pv_tv = ebit_next * (1.0 - tax_rate) * (1.0 - tg / roc) / spread * df
        else:  # a perpetual loss is liquidated (terminal.on_loss = "liquidate"): recovery x invested capital
            pv_tv = max(g("failure.recovery") * ic, 0.0) * df
        if self.mid:
            pv_tv *= sqrt(1.0 + r_t)
        equity = pv + pv_tv + cash0 + claims
        if self.limited:
            equity = max(equity, 0.0)
        return equity * self.to_price


def run_monaco(cfg, paths: int, seed: int = 0, repeats: int = 1) -> Optional[dict]:
    """Run ``cfg`` in monaco (single-threaded, one case per path); None when monaco is not installed.

    Returns
    -------
    dict or None
        ``paths``, ``seconds`` (best of ``repeats``: building the Sim, drawing the inputs,
        running and post-processing every case), ``cases_per_s``, ``mean_value``
        [price unit], ``monaco`` (its version).
    """
    if not monaco_available():
        return None
    import importlib.metadata
    import warnings

    import monaco as mc

    model = StandardCase(cfg)

    def preprocess(case):
        p = dict(model.fixed)
        for k in model.drawn:
            p[k] = case.invals[k].val
        return (p, case.seed)

    def run(p, s):
        return (model.value(p, random.Random(s)),)

    def postprocess(case, v):
        case.addOutVal("value_per_share", v)

    best, mean = math.inf, math.nan
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sim = mc.Sim(name="standard", ndraws=int(paths), seed=int(seed), singlethreaded=True, verbose=False,
                         samplemethod=mc.SampleMethod.RANDOM,
                         fcns={"preprocess": preprocess, "run": run, "postprocess": postprocess})
            for k, (dist, kw) in model.drawn.items():
                sim.addInVar(name=k, dist=dist, distkwargs=kw)
            sim.runSim()
        best = min(best, time.perf_counter() - t0)
        vals = sim.outvars["value_per_share"].nums
        mean = float(sum(vals) / len(vals))
    return {"paths": int(paths), "seconds": best, "cases_per_s": paths / best, "mean_value": mean,
            "monaco": importlib.metadata.version("monaco")}
