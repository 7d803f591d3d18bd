"""Concept checks added to kill the mutants that survived ``python -m tests.mutation`` (docs/testing.md).

Each test pins a boundary or a branch of a step function of :mod:`engine.model` (or
of the kernel's wiring) with a hand-computed value; the comment over each names the
mutant it kills.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import config_from_dict, simulate
from engine.model import financing, lenses


def run(d, **kw):
    return simulate(config_from_dict(d), **kw)

# ------------------------------------------------------------------ 9 The two lenses


def test_equity_bridge_floors_only_negative_equity():
    # equity exactly 0 is not floored (kills `equity < 0.0` -> `<=`); 0.5 is kept (kills 0.0 -> 1.0)
    assert lenses.equity_bridge(0.0, 0.0, 0.0, True) == (0.0, 0)
    assert lenses.equity_bridge(0.3, 0.4, -0.2, True) == pytest.approx((0.5, 0))


def test_price_per_share_of_a_small_positive_equity():
    # 0.5 of equity over 2 shares at 10 price units per money unit: 2.5 (kills `equity > 0.0` -> `> 1.0`)
    assert lenses.price_per_share(0.5, 2.0, 10.0) == pytest.approx(2.5)


def test_market_lens_is_met_at_exactly_the_cost_of_equity():
    # a holder return equal to the cost of equity justifies the price (kills `>=` -> `>`)
    assert lenses.justified_market(0.12, 0.12) == 1
    assert lenses.justified_market(-1.0, -1.0) == 1


# ------------------------------------------------------------------ 8 Cash, dilution, financing and failure


def test_equity_need_without_burn():
    # a positive FCFF burns nothing: only the gap to the floor is raised, 100 - (-50) = 150
    assert financing.equity_need(-50.0, 100.0, 2.0, 30.0, 1.0) == pytest.approx(150.0)


def test_a_failed_step_keeps_its_cash():
    # the hazard strikes (u 0.05 < p 0.1): cash 50 is reported as it is, nothing raised
    assert financing.finance_or_fail(0.05, 0.1, 50.0, 0.0, False, 2.0, 500.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.2) == (
        True, 1.0, 50.0, 0.0)
    # the market is closed with cash -50 below the floor 0: failed, cash -50 kept
    assert financing.finance_or_fail(0.9, 0.0, -50.0, 0.0, True, 2.0, 500.0, 0.0, -200.0, 1.0, 1.0, 1.0, 0.2) == (
        True, 1.0, -50.0, 0.0)


def test_raise_covers_the_buffer_of_annualised_burn_in_a_quarter():
    # a quarter (dt 0.25) burning 100: 400 a year; floor 0, cash -50, buffer 0.5 years: need 50 + 200 = 250
    failed, shares, cash, raised = financing.finance_or_fail(0.9, 0.0, -50.0, 0.0, False, 2.0, 500.0, 0.0, -100.0,
                                                             0.25, 0.5, 1.0, 0.0)
    assert not failed and (raised, cash) == pytest.approx((250.0, 200.0))
    # market equity 2 x 500 - 50 = 950 at no discount: shares 1 + 250 / 950
    assert shares == pytest.approx(1 + 250 / 950)


# ------------------------------------------------------------------ 7 EV/Sales multiple, through the kernel


@pytest.mark.parametrize("spy", [1, 4])
def test_kernel_multiple_premium_spread_does_not_depend_on_steps_per_year(base, spy):
    """The log premium is an AR(1) with annual coefficient rho = 2^(-1 / half_life): after t years its sd is
    vol sqrt((1 - rho^(2t)) / (1 - rho^2)) for any step (the step's innovation is scaled by ar1_step_scale).
    Half-life 1 year (rho 0.5), vol 0.2, 5 years: sd = 0.2 sqrt((1 - 0.25^5) / 0.75) = 0.23079."""
    base["multiple"] = {"today": 2.0, "mature": 2.0, "growth_beta": 0.0, "half_life": 1.0, "volatility": 0.2}
    base["simulation"]["steps_per_year"] = spy
    ds = run(base, paths=3000)
    sd = float(np.std(np.log(ds["multiple_horizon"].values / 2.0)))
    assert sd == pytest.approx(0.2 * math.sqrt((1 - 0.25**5) / 0.75), rel=0.06)


# ------------------------------------------------------------------ kept (path, time) variables of a failed path


def test_kept_variables_before_and_after_failure(base):
    # revenue x 1.05 x (1 - 0.10) = x 0.945 a year; margin -50%: burns 472.5 in year 1 (cash 600 -> 127.5) and
    # 446.5 in year 2 (cash < 0 with the market closed): fails in year 2. SBC 5% a year until then.
    base["segments"][0]["churn"] = {"rate": 0.10}
    base["margin"] = {"today": -0.5, "target": -0.5}
    base["balance_sheet"]["cash"] = 600.0
    base["financing"] = {"closed": True}
    base["dilution"] = {"sbc": "dilution", "sbc_rate": 0.05}
    ds = run(base, paths=4, keep_paths=True)
    np.testing.assert_allclose(ds["failure_year"].values, 2.0)
    np.testing.assert_allclose(ds["revenue"].values[:, :2], [[945.0, 893.025]] * 4, rtol=1e-9)
    np.testing.assert_allclose(ds["churn"].values[:, :2], 0.10, rtol=1e-12)  # churned revenue / last revenue
    np.testing.assert_allclose(ds["cash"].values[:, 0], 127.5, rtol=1e-6)
    shares = ds["shares"].values
    np.testing.assert_allclose(shares[:, 1] / shares[:, 0], 1.05, rtol=1e-12)
    # after the failure: no revenue, no churn, the share count frozen, no multiple
    assert (ds["revenue"].values[:, 2:] == 0).all() and (ds["churn"].values[:, 2:] == 0).all()
    np.testing.assert_array_equal(shares[:, 2:], shares[:, 1:2] * np.ones((1, 3)))
    assert np.isnan(ds["multiple"].values[:, 2:]).all()
    seg = [v for v in ds.data_vars if "segment" in ds[v].dims and "time" in ds[v].dims]  # kept per step
    assert seg and all((ds[v].values[:, 2:] == 0).all() for v in seg)
    np.testing.assert_allclose(ds[seg[0]].values[:, 0, 0], 945.0, rtol=1e-9)


# ------------------------------------------------------------------ outcomes and helpers


def test_revenue_cagr_of_the_textbook_company(base):
    # revenue 1000 -> 1000 x 1.05^5: a CAGR of exactly 5%
    np.testing.assert_allclose(run(base)["revenue_cagr"].values, 0.05, rtol=1e-12)


def test_ar1_step_scale_of_a_random_walk():
    from engine.model.margin import ar1_step_scale

    # rho = 1 (no mean reversion): the innovation of a quarter scales with sqrt(dt) = 0.5
    assert ar1_step_scale(1.0, 0.25) == pytest.approx(0.5)
    assert ar1_step_scale(1.0, 1.0) == 1.0


def test_draw_normals_fills_any_shape_from_the_stream():
    from engine.model.kernel import draw_normals

    out = np.empty((3, 4))
    draw_normals(np.random.default_rng(11), out)
    np.testing.assert_array_equal(out, np.random.default_rng(11).standard_normal(12).reshape(3, 4))
