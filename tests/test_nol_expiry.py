"""Tax losses that expire (tax.nol_expiry_years) against hand-computed taxes on the textbook fixture."""

from __future__ import annotations

import numpy as np
import pytest

from engine import InputError, config_from_dict, simulate
from engine.model.cashflow import tax_with_expiring_nol


def run(d, **kw):
    return simulate(config_from_dict(d), keep_paths=True, **kw)


def taxes(ds):
    """Tax of each step [money]: (EBIT - FCFF) x dt (reinvestment is ~1e-11 at sales-to-capital 1e12)."""
    dt = 1.0 / ds.sizes["time"] * 5
    return (ds["ebit"].values[0] - ds["fcff"].values[0]) * dt


def losses_then_profits(base, expiry=None, spy=1):
    # margin -30% -> +20% linearly by year 5: -20%, -10%, 0, +10%, +20% at the year ends;
    # EBIT = 1000 x 1.05^t x margin: -210, -110.25, 0, 121.55, 255.26
    base["tax"]["rate"] = 0.25
    base["margin"] = {"today": -0.3, "target": 0.2, "convergence_year": 5}
    base["balance_sheet"]["cash"] = 1e6  # no raise, no failure
    base["simulation"]["steps_per_year"] = spy
    if expiry is not None:
        base["tax"]["nol_expiry_years"] = expiry
    return run(base)


EBIT = 1000 * 1.05 ** np.arange(1, 6) * np.array([-0.2, -0.1, 0.0, 0.1, 0.2])


@pytest.mark.parametrize("expiry, taxable", [
    # never: NOL 320.25 covers year 4 (121.55) and 198.70 of year 5
    (None, [0, 0, 0, 0, EBIT[3] + EBIT[4] + EBIT[0] + EBIT[1]]),
    # 1 year: year 1's loss lapses at the end of year 2, year 2's at the end of year 3: years 4-5 fully taxed
    (1, [0, 0, 0, EBIT[3], EBIT[4]]),
    # 2 years: year 1's loss lapses at the end of year 3; year 2's (110.25) shelters year 4, lapses with it
    (2, [0, 0, 0, EBIT[3] + EBIT[1], EBIT[4]]),
    # 3 years: year 4 is sheltered by year 1's loss (121.55 of 210), the 88.45 left lapses; year 2's covers year 5
    (3, [0, 0, 0, 0, EBIT[4] + EBIT[1]]),
])
def test_losses_then_profits_taxes_by_hand(base, expiry, taxable):
    ds = losses_then_profits(base, expiry)
    np.testing.assert_allclose(taxes(ds), 0.25 * np.array(taxable), atol=1e-9)
    t = np.arange(1, 6)
    pv = np.sum((EBIT - 0.25 * np.array(taxable)) / 1.1**t)
    np.testing.assert_allclose(ds["pv_explicit"].values, pv, rtol=1e-10)


def test_expiry_lowers_value_by_the_extra_tax(base):
    never = losses_then_profits(base)
    one = losses_then_profits(base, 1)
    # extra tax: year 4 0.25 x 121.55, year 5 0.25 x (255.26 - 56.56); PV at 10% over 100 shares
    extra = 0.25 * (EBIT[3] / 1.1**4 + (EBIT[4] - (EBIT[4] + EBIT[3] + EBIT[0] + EBIT[1])) / 1.1**5)
    diff = never["value_per_share"].values - one["value_per_share"].values
    np.testing.assert_allclose(diff, extra / 100.0, rtol=1e-9)
    assert extra > 0


@pytest.mark.parametrize("expiry, taxable", [
    # opening NOL 200 against EBIT 105, 110.25, ...: 1 year: it lapses at the end of year 1 (95 unused)
    (1, [0.0, 110.25]),
    # 2 years (or never): 105 in year 1, the 95 left in year 2
    (2, [0.0, 15.25]),
    (None, [0.0, 15.25]),
])
def test_opening_nol_lapses_at_the_end_of_year_e(base, expiry, taxable):
    base["tax"]["rate"] = 0.25
    base["balance_sheet"]["nol"] = 200.0
    if expiry is not None:
        base["tax"]["nol_expiry_years"] = expiry
    ebit = 100 * 1.05 ** np.arange(1, 6)
    np.testing.assert_allclose(taxes(run(base)), 0.25 * np.concatenate([taxable, ebit[2:]]), atol=1e-9)


def test_never_is_bit_identical_to_no_key(base):
    base["tax"]["rate"] = 0.25
    base["balance_sheet"]["nol"] = 300.0
    base["margin"] = {"today": -0.3, "target": 0.2, "convergence_year": 5}
    base["balance_sheet"]["cash"] = 1e6
    cfg = config_from_dict(base)
    assert "nol_expiry_years" not in cfg.to_toml()
    a = simulate(cfg, keep_paths=True)
    # an expiry longer than the horizon never lapses anything: the same numbers up to rounding
    base["tax"]["nol_expiry_years"] = 50
    b = run(base)
    for v in ("value_per_share", "pv_explicit"):
        np.testing.assert_allclose(b[v].values, a[v].values, rtol=1e-13)
    np.testing.assert_array_equal(simulate(config_from_dict({**base, "tax": {"rate": 0.25}}), keep_paths=True)
                                  ["fcff"].values, a["fcff"].values)


def test_quarterly_steps_use_the_fiscal_year(base):
    # quarterly margins -30% + 10% x tau: losses in every quarter of years 1-3 (the last one 0), profits from
    # year 4. Expiry 1: only year 3's losses reach year 4; within a year, losses offset the later quarters.
    ds = losses_then_profits(base, 1, spy=4)
    dt = 0.25
    flow = ds["ebit"].values[0] * dt
    year = np.arange(20) // 4
    l3 = -flow[year == 2].sum()
    assert (flow[year <= 2] <= 1e-12).all() and (flow[year >= 3] > 0).all() and l3 > 0
    cum4 = np.cumsum(flow[year == 3])
    tax4 = 0.25 * np.diff(np.concatenate([[0.0], np.maximum(cum4 - l3, 0.0)]))
    expected = np.concatenate([np.zeros(12), tax4, 0.25 * flow[year == 4]])
    np.testing.assert_allclose(taxes(ds), expected, atol=1e-9)


def test_step_function_fifo_and_lapse():
    v = np.array([50.0, 0.0, 0.0, 0.0])
    assert tax_with_expiring_nol(-30.0, v, 1, 2, 0.25) == 0.0  # year 1 loss
    np.testing.assert_array_equal(v, [50.0, 30.0, 0.0, 0.0])
    # year 2: opening (year 0) still usable (0 >= 2 - 2), used first
    assert tax_with_expiring_nol(60.0, v, 2, 2, 0.25) == pytest.approx(0.0)
    np.testing.assert_array_equal(v, [0.0, 20.0, 0.0, 0.0])
    # year 3, E = 1: year 1's 20 has lapsed (1 < 3 - 1): all of 40 taxed
    assert tax_with_expiring_nol(40.0, v, 3, 1, 0.25) == pytest.approx(10.0)


@pytest.mark.parametrize("bad", [0, -5, True, 2.5])
def test_bad_expiry_is_refused(base, bad):
    base["tax"]["nol_expiry_years"] = bad
    with pytest.raises((InputError, ValueError), match="nol_expiry_years"):
        config_from_dict(base)
