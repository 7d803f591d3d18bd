"""Growth, churn and every noise term mean the same at any ``steps_per_year`` (docs/model.md, section 1).

References: issue 9, part 1, and the closed forms of docs/model.md (1.1)-(1.5):
the deterministic Ornstein-Uhlenbeck log growth integrates to
``I(T) = x_inf T + (x_0 - x_inf)(1 - e^(-kappa T)) / kappa`` with ``x_0`` calibrated so that
``I(1) = ln(1 + today)``; with a constant volatility ``eta``,
``Var I(T) = eta^2 / kappa^2 (T - 2 (1 - e^(-kappa T)) / kappa + (1 - e^(-2 kappa T)) / (2 kappa))``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from engine import config_from_dict, simulate
from tests.conftest import base_dict

LN2 = math.log(2.0)


def company(rev=1000.0, spy=1, years=10, paths=64, **growth):
    d = base_dict()
    seg = d["segments"][0]
    seg["revenue"] = rev
    seg["growth"] = {"volatility": 0.0, **growth}
    d["balance_sheet"]["cash"] = 1e12  # never raises, never fails for cash
    d["simulation"].update(horizon_years=years, steps_per_year=spy, paths=paths, block_size=65536)
    return d


def horizon_revenue(d, **kw):
    return simulate(config_from_dict(d), **kw)["revenue_horizon"].values


def ou_log_revenue(today, long_run, half_life, T):
    """I(T) of docs/model.md (1.1): the deterministic log growth of revenue over [0, T]."""
    k = LN2 / half_life
    xi = math.log1p(long_run)
    x0 = xi + (math.log1p(today) - xi) * k / (1 - math.exp(-k))
    return xi * T + (x0 - xi) * (1 - math.exp(-k * T)) / k


def ou_log_revenue_var(eta, half_life, T):
    k = LN2 / half_life
    return eta**2 / k**2 * (T - 2 * (1 - math.exp(-k * T)) / k + (1 - math.exp(-2 * k * T)) / (2 * k))


# ------------------------------------------------------------------ deterministic growth


@pytest.mark.parametrize("spy", [1, 4, 12])
def test_today_is_the_first_year_growth_at_any_step(spy):
    # today 100%, long run 0, half-life 1: year 1 doubles; year 10 = 100 x 2^(2 (1 - 2^-10)) = 399.459
    d = company(rev=100.0, spy=spy, years=1, today=1.0, long_run=0.0, half_life=1.0)
    np.testing.assert_allclose(horizon_revenue(d), 200.0, rtol=1e-9)
    d["simulation"]["horizon_years"] = 10
    np.testing.assert_allclose(horizon_revenue(d), 100 * 2 ** (2 * (1 - 2**-10)), rtol=1e-9)
    assert 100 * 2 ** (2 * (1 - 2**-10)) == pytest.approx(399.459, abs=5e-4)
    d = company(rev=1000.0, spy=spy, years=10, today=0.30, long_run=0.05, half_life=3.0)
    np.testing.assert_allclose(horizon_revenue(d), 4138.995, atol=5e-4)
    np.testing.assert_allclose(horizon_revenue(d), 1000 * math.exp(ou_log_revenue(0.30, 0.05, 3.0, 10)),
                               rtol=1e-9)


@pytest.mark.parametrize("spy", [1, 4])
def test_each_year_grows_by_the_decayed_first_year_rate(spy):
    # ln(1 + g_year t) = x_inf + (ln(1 + today) - x_inf) 2^(-(t - 1) / half_life): the annual log growth decays
    # exactly like the OU state, starting from today
    d = company(spy=spy, years=5, today=1.0, long_run=0.05, half_life=2.0)
    ds = simulate(config_from_dict(d), keep_paths=True)
    rev = np.concatenate([[1000.0], ds["revenue"].values[0, spy - 1::spy]])
    t = np.arange(1, 6)
    xi = math.log(1.05)
    np.testing.assert_allclose(rev[1:] / rev[:-1], np.exp(xi + (LN2 - xi) * 2.0 ** (-(t - 1) / 2.0)), rtol=1e-9)


@pytest.mark.parametrize("spy", [1, 4, 12])
def test_linear_fade_grows_each_fiscal_year_by_its_rate(spy):
    d = company(spy=spy, years=6, method="linear_fade", today=0.50, long_run=0.05, fade_year=5)
    d["segments"][0]["growth"].pop("volatility")
    ds = simulate(config_from_dict(d), keep_paths=True)
    year_end = ds["revenue"].values[0, spy - 1::spy]
    g = np.array([0.50, 0.3875, 0.275, 0.1625, 0.05, 0.05])
    np.testing.assert_allclose(year_end, 1000 * np.cumprod(1 + g), rtol=1e-12)


@pytest.mark.parametrize("spy", [1, 4])
def test_scenario_growth_add_and_churn_set_keep_their_meaning(spy):
    # growth 10% every year; year 2: -20 points of gross growth; year 3: churn set to 30%
    d = company(spy=spy, years=4, today=0.10, long_run=0.10)
    cfg = config_from_dict(d)
    from engine._plan import base_shock
    from engine.model import layout as L

    shock = base_shock(cfg)
    shock[spy:2 * spy, L.NSH + L.SS_GROWTH_ADD] = -0.20
    shock[2 * spy:3 * spy, L.NSH + L.SS_CHURN_SET] = 0.30
    r = simulate(cfg, shock=shock)["revenue_horizon"].values
    np.testing.assert_allclose(r, 1000 * 1.1 * 0.9 * 1.1 * 0.7 * 1.1, rtol=1e-12)


# ------------------------------------------------------------------ growth noise

P_NOISE = 20_000


@pytest.mark.parametrize("spy", [1, 4, 12])
def test_growth_noise_is_the_exact_ou_integral_at_any_step(spy):
    # volatility 0.10, half-life 3: sd of ln(revenue_10) = sqrt(Var I(10)) = 0.9022, median 1000 e^I(10) = 4,139.0
    sd_ref = math.sqrt(ou_log_revenue_var(0.10, 3.0, 10))
    assert sd_ref == pytest.approx(0.9022, abs=5e-5)
    d = company(spy=spy, paths=P_NOISE, today=0.30, long_run=0.05, half_life=3.0, volatility=0.10,
                mean_preserving=False)
    lr = np.log(horizon_revenue(d))
    se_sd = sd_ref / math.sqrt(2 * P_NOISE)
    se_med = math.sqrt(math.pi / 2) * sd_ref / math.sqrt(P_NOISE)  # of the median of ln(revenue)
    assert lr.std() == pytest.approx(sd_ref, abs=4 * se_sd)
    assert np.median(lr) == pytest.approx(math.log(4139.0), abs=4 * se_med)


def test_decaying_growth_volatility_does_not_depend_on_the_step():
    sds = []
    for spy in (1, 4, 12):
        d = company(spy=spy, paths=P_NOISE, today=0.30, long_run=0.05, half_life=3.0, volatility=0.30,
                    volatility_long_run=0.05, volatility_half_life=1.0, mean_preserving=False)
        sds.append(np.log(horizon_revenue(d)).std())
    assert max(sds) / min(sds) < 1.02, sds


def test_mean_preserving_growth_keeps_expected_revenue_on_the_deterministic_path():
    # off: E[revenue_10] = 1000 exp(I(10) + Var I(10) / 2) = 6,218; on: 4,139.0
    ref_off = 1000 * math.exp(ou_log_revenue(0.30, 0.05, 3.0, 10) + ou_log_revenue_var(0.10, 3.0, 10) / 2)
    assert ref_off == pytest.approx(6218.0, abs=0.5)
    for mp, ref in ((True, 4138.995), (False, ref_off)):
        for spy in (1, 4):
            d = company(spy=spy, paths=P_NOISE, today=0.30, long_run=0.05, half_life=3.0, volatility=0.10,
                        mean_preserving=mp)
            r = horizon_revenue(d)
            assert r.mean() == pytest.approx(ref, abs=3 * r.std() / math.sqrt(P_NOISE)), (mp, spy)


def test_mean_preserving_also_compensates_a_correlated_revenue_shock():
    # E[revenue_5] = deterministic path x exp(-lambda x integral of sigma) (the market price of risk only)
    d = company(spy=4, years=5, paths=P_NOISE, today=0.30, long_run=0.05, half_life=3.0, volatility=0.10)
    d["segments"][0]["revenue_shock"] = {"volatility": 0.3, "volatility_long_run": 0.1, "half_life": 2.0,
                                         "correlation": 0.6, "market_price_of_risk": 0.2}
    r = horizon_revenue(d)
    int_sigma = 0.1 * 5 + 0.2 * 2 / LN2 * (1 - 2**-2.5)
    ref = 1000 * math.exp(ou_log_revenue(0.30, 0.05, 3.0, 5) - 0.2 * int_sigma)
    assert r.mean() == pytest.approx(ref, abs=3 * r.std() / math.sqrt(P_NOISE))


# ------------------------------------------------------------------ churn


def churn_reference(median=0.10, disp=0.5, years=5, growth=0.05):
    """Mean and sd of ln(revenue_years) for i.i.d. logit-normal annual churn, by quadrature."""
    lm = math.log(median / (1 - median))

    def moment(f):
        return integrate.quad(lambda z: f(1 / (1 + math.exp(-(lm + disp * z)))) * stats.norm.pdf(z), -12, 12)[0]

    m1 = moment(lambda c: math.log1p(-c))
    m2 = moment(lambda c: math.log1p(-c) ** 2)
    mean = 1000 * 1.05**years * moment(lambda c: 1 - c) ** years
    return mean, math.sqrt(years * (m2 - m1 * m1))


@pytest.mark.parametrize("spy", [1, 4, 12])
def test_churn_dispersion_is_annual_at_any_step(spy):
    mean_ref, sd_ref = churn_reference()
    assert (round(mean_ref), round(sd_ref, 4)) == (717, 0.1277)
    d = base_dict()
    d["segments"][0]["churn"] = {"rate": 0.10, "dispersion": 0.5}
    d["simulation"].update(steps_per_year=spy, paths=P_NOISE, block_size=65536)
    r = horizon_revenue(d)
    assert np.log(r).std() == pytest.approx(sd_ref, abs=4 * sd_ref / math.sqrt(2 * P_NOISE))
    assert r.mean() == pytest.approx(mean_ref, abs=3 * r.std() / math.sqrt(P_NOISE))


# ------------------------------------------------------------------ the kind: every noise term, any step

NOISE = {
    "growth": lambda d: d["segments"][0]["growth"].update(
        today=0.40, long_run=0.05, half_life=2.0, volatility=0.3, volatility_long_run=0.1, volatility_half_life=2.0),
    "revenue_shock": lambda d: d["segments"][0].update(revenue_shock={
        "volatility": 0.3, "volatility_long_run": 0.1, "half_life": 2.0, "correlation": 0.5,
        "market_price_of_risk": 0.1}),
    "churn": lambda d: d["segments"][0].update(churn={"rate": 0.15, "dispersion": 0.8}),
    "margin": lambda d: d["margin"].update(noise_sd=0.05, noise_persistence=0.6),
    "multiple": lambda d: d["multiple"].update(volatility=0.3, half_life=2.0),
    "failure": lambda d: d.update(failure={"annual_probability": 0.15}),
}


def noisy(spy, paths, terms):
    d = base_dict()
    d["segments"][0]["growth"] = {"today": 0.05, "long_run": 0.05, "volatility": 0.0}
    d["balance_sheet"]["cash"] = 1e12
    d["simulation"].update(horizon_years=5, steps_per_year=spy, paths=paths, block_size=65536)
    for t in terms:
        NOISE[t](d)
    d["segments"][0]["growth"]["volatility"] = d["segments"][0]["growth"].get("volatility", 0.0)
    if "growth" in terms and "revenue_shock" in terms:
        d["segments"][0]["revenue_shock"]["correlation"] = 0.5
    return simulate(config_from_dict(d))


def compare_steps(terms, paths, spy_b, alpha=1e-3):
    a, b = noisy(1, paths, terms), noisy(spy_b, paths, terms)
    # survival: a two-sample test of proportions
    fa, fb = a["failed"].values.mean(), b["failed"].values.mean()
    pool = (fa + fb) / 2
    if pool > 0:
        z = (fa - fb) / math.sqrt(2 * pool * (1 - pool) / paths)
        assert abs(z) < stats.norm.isf(alpha / 2), (terms, fa, fb)
    ok_a, ok_b = ~a["failed"].values, ~b["failed"].values
    for v in ("revenue_horizon", "margin_horizon", "multiple_horizon"):
        xa, xb = a[v].values[ok_a], b[v].values[ok_b]
        if np.ptp(xa) == 0 and np.ptp(xb) == 0:
            np.testing.assert_allclose(xb, xa[0], rtol=1e-9)
            continue
        p = stats.ks_2samp(xa, xb).pvalue
        assert p > alpha, (terms, v, p)


@pytest.mark.parametrize("terms", [[t] for t in NOISE] + [list(NOISE)], ids=lambda t: "+".join(t))
def test_year_end_outcomes_do_not_depend_on_steps_per_year(terms):
    """Two-sample KS tests at the 0.1% level (survival: a z-test): steps_per_year 1 against 4, 4,000 paths."""
    compare_steps(terms, 4000, 4)


@pytest.mark.slow
@pytest.mark.parametrize("spy", [4, 12])
def test_year_end_outcomes_do_not_depend_on_steps_per_year_large(spy):
    compare_steps(list(NOISE), 40_000, spy)
