"""Shared fixtures: a minimal deterministic config that tests modify."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def base_dict() -> dict:
    """A deterministic one-segment company: revenue 1000 growing 5%, margin 10%, no tax, no reinvestment.

    FCFF_t = 100 x 1.05^t, WACC 10%, Gordon growth 3%, 5-year horizon: the textbook
    DCF whose enterprise value is 1,601.88 (year-end) or 1,680.06 (mid-year).
    """
    return {
        "company": {
            "name": "Textbook Co",
            "reporting_currency": "USD",
            "valuation_date": "2025-12-31",
            "money_unit": "million",
        },
        "market": {"price": 10.0, "shares": 100.0, "share_unit": "million"},
        "balance_sheet": {"cash": 0, "debt": 0},
        "segments": [
            {
                "name": "core",
                "revenue": 1000.0,
                "growth": {"today": 0.05, "long_run": 0.05, "volatility": 0.0},
                "churn": {"rate": 0.0},
            }
        ],
        "margin": {"today": 0.10, "target": 0.10},
        "tax": {"rate": 0.0},
        "reinvestment": {"sales_to_capital": 1e12},
        "cost_of_capital": {"initial": 0.10, "mature": 0.10},
        "terminal": {"growth": 0.03, "return_on_capital": 1e12},
        "multiple": {"today": 2.0, "mature": 2.0},
        "simulation": {"paths": 64, "seed": 7, "horizon_years": 5, "block_size": 32},
    }


@pytest.fixture
def base():
    return copy.deepcopy(base_dict())
