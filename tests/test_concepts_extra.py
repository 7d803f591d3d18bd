"""Concept checks added to kill the mutants that survived ``python -m tests.mutation`` (docs/testing.md).

Each test pins a boundary or a branch of a step function of :mod:`engine.model` (or
of the kernel's wiring) with a hand-computed value; the comment over each names the
mutant it kills.
"""

from __future__ import annotations

import pytest

from engine.model import lenses

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
