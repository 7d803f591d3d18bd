"""The standard benchmark model: one segment, ten annual steps, a handful of drawn inputs.

Revenue 1000, gross growth OU on ln(1 + g) from 20% to a drawn long-run rate (half-life
3 years, volatility 0.10), churn 5% (logit-normal, dispersion 0.2), margin linear from
5% to a drawn target by year 10 with AR(1) noise 0.02, tax 25%, sales-to-capital 2,
WACC 10% -> 8%, Gordon terminal growth 3%, EV/Sales multiple 4 today -> 3 mature with
volatility 0.2, no failure, cash 500.
"""

from __future__ import annotations

import copy

#: The standard model as a config dict (see :func:`engine.config.config_from_dict`).
STANDARD: dict = {
    "company": {
        "name": "Standard Co",
        "reporting_currency": "USD",
        "valuation_date": "2025-12-31",
        "money_unit": "million",
    },
    "market": {"price": 50.0, "shares": 100.0, "share_unit": "million"},
    "balance_sheet": {"cash": 500.0, "debt": 0.0},
    "segments": [
        {
            "name": "core",
            "revenue": 1000.0,
            "growth": {
                "method": "ou",
                "today": 0.20,
                "long_run": {"kind": "uniform", "min": 0.03, "max": 0.07},
                "half_life": 3.0,
                "volatility": 0.10,
            },
            "churn": {"rate": 0.05, "dispersion": 0.2},
        }
    ],
    "margin": {
        "method": "linear",
        "today": 0.05,
        "target": {"kind": "pert", "min": 0.15, "mode": 0.20, "max": 0.25},
        "convergence_year": 10.0,
        "noise_sd": 0.02,
    },
    "tax": {"rate": 0.25},
    "reinvestment": {"sales_to_capital": {"kind": "triangular", "min": 1.5, "mode": 2.0, "max": 2.5}},
    "cost_of_capital": {"initial": 0.10, "mature": 0.08, "fade_start_year": 5, "fade_end_year": 10},
    "terminal": {"method": "gordon", "growth": 0.03},
    "multiple": {"today": 4.0, "mature": {"kind": "uniform", "min": 2.5, "max": 3.5}, "volatility": 0.2},
    "simulation": {"paths": 100_000, "seed": 20260623, "horizon_years": 10, "block_size": 65_536},
}


def standard_dict(paths: int | None = None, seed: int | None = None) -> dict:
    """A fresh copy of :data:`STANDARD`, optionally with ``paths`` / ``seed`` set."""
    d = copy.deepcopy(STANDARD)
    if paths is not None:
        d["simulation"]["paths"] = int(paths)
    if seed is not None:
        d["simulation"]["seed"] = int(seed)
    return d


def standard_config(paths: int | None = None, seed: int | None = None):
    """The standard model as a validated :class:`engine.config.Config`."""
    from engine.config import config_from_dict

    return config_from_dict(standard_dict(paths, seed))
