"""engine.fairvalue: each number pinned by hand on the deterministic textbook company (tests/conftest.py)."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner
from scipy.optimize import brentq

from engine import config_from_dict, simulate
from engine.cli import main
from engine.errors import InputError
from engine.fairvalue import (expected_irr, fair_value_ratio, implied_cost_of_capital, peer_values,
                              reported_revenue)
from engine.summary import summary_dict

from .conftest import CONFIGS, base_dict


def _ev(r: float) -> float:
    """Closed-form DCF of the textbook company: FCFF_t = 100 x 1.05^t, t = 1..5, Gordon TV at g = 3%."""
    pv = sum(100 * 1.05**t / (1 + r) ** t for t in range(1, 6))
    return pv + 100 * 1.05**5 * 1.03 / (r - 0.03) / (1 + r) ** 5


def test_closed_form_matches_the_engine():
    ds = simulate(config_from_dict(base_dict()))
    assert ds["value_per_share"].values[0] == pytest.approx(_ev(0.10) / 100, rel=1e-12)
    assert _ev(0.10) / 100 == pytest.approx(16.0188, abs=1e-4)


def test_fair_value_ratio_by_hand():
    ds = simulate(config_from_dict(base_dict()))
    r = fair_value_ratio(ds)
    assert r["estimate"] == pytest.approx(_ev(0.10) / 100 / 10.0, rel=1e-12)
    assert r["se"] == 0.0
    # a spread of values: mean 12, sample sd 4 over 3 paths, price 10
    syn = xr.Dataset({"value_per_share": ("path", np.array([8.0, 12.0, 16.0]))}, attrs={"price": 10.0})
    r = fair_value_ratio(syn)
    assert r["estimate"] == pytest.approx(1.2)
    assert r["se"] == pytest.approx(4.0 / math.sqrt(3) / 10.0)


def test_implied_cost_of_capital_matches_the_closed_form():
    cfg = config_from_dict(base_dict())
    hand = brentq(lambda r: _ev(r) / 100 - 10.0, 0.05, 0.5, xtol=1e-15, rtol=1e-15)
    res = implied_cost_of_capital(cfg)
    assert res["rate"] == pytest.approx(hand, abs=1e-6)
    assert res["shift"] == pytest.approx(hand - 0.10, abs=1e-6)
    assert res["mature_rate"] == pytest.approx(hand, abs=1e-6)
    assert res["keys"] == ["cost_of_capital.initial", "cost_of_capital.mature"]
    assert res["mean_value_check"] == pytest.approx(10.0, rel=1e-6)
    assert res["paths"] == 64 and res["note"] is None


def test_implied_cost_of_capital_moves_an_explicit_terminal_wacc_and_finds_a_lower_rate():
    d = base_dict()
    d["terminal"]["wacc"] = 0.10
    d["market"]["price"] = 20.0  # above the value at 10%: the implied rate is lower
    cfg = config_from_dict(d)
    hand = brentq(lambda r: _ev(r) / 100 - 20.0, 0.045, 0.10, xtol=1e-15, rtol=1e-15)
    res = implied_cost_of_capital(cfg)
    assert "terminal.wacc" in res["keys"]
    assert res["rate"] == pytest.approx(hand, abs=1e-6)
    assert res["shift"] < 0


def test_implied_cost_of_capital_reuses_the_draws_and_agrees_with_re_drawing():
    """Drawn WACCs (PERT, a location family): the base draws + d give the re-drawn runs' rate within xtol."""
    from engine.config import load_config

    # the AI peer at a market cap of HK$12bn (its drawn WACCs are PERT): a root near the base rate (Zhipu's
    # reviewed config has none: its mean value is negative)
    cfg = load_config(CONFIGS / "ai_peer.toml").with_inputs({"market.market_cap": 12_000})
    fast = implied_cost_of_capital(cfg, paths=3000)
    slow = implied_cost_of_capital(cfg, paths=3000, reuse_draws=False)
    assert fast["draws_reused"] and not slow["draws_reused"]
    assert -0.05 < slow["shift"] < 0  # a root inside the bracket: the comparison is not of two Nones
    assert fast["shift"] == pytest.approx(slow["shift"], abs=1e-9)
    assert fast["mean_value_check"] == pytest.approx(cfg.price, rel=1e-6)
    # a lognormal WACC changes shape when shifted: it is re-drawn
    d = base_dict()
    d["cost_of_capital"]["initial"] = {"kind": "lognormal", "mean": 0.10, "sd": 0.01}
    res = implied_cost_of_capital(config_from_dict(d))
    assert not res["draws_reused"] and res["rate"] is not None


def test_implied_cost_of_capital_without_a_root_says_why():
    d = base_dict()
    d["market"]["price"] = 1e6  # no discount rate makes the company worth that
    res = implied_cost_of_capital(config_from_dict(d))
    assert res["rate"] is None and res["shift"] is None
    assert "no root" in res["note"]
    lo, hi = res["bracket"]
    # the low end keeps the stable WACC min_spread above stable growth: 0.10 + d = 0.03 + 0.01 (+1e-6)
    assert lo == pytest.approx(-0.06 + 1e-6)
    assert res["mean_value_at_bracket"]["low"] == pytest.approx(_ev(0.04 + 1e-6) / 100, rel=1e-9)


def test_expected_irr_by_hand():
    ds = simulate(config_from_dict(base_dict()))
    # price at the horizon = (EV/Sales 2 x revenue_5 + cash from five years of FCFF) / 100 shares
    ph = (2.0 * 1000 * 1.05**5 + sum(100 * 1.05**t for t in range(1, 6))) / 100
    r = expected_irr(ds)
    assert r["mean_price_horizon"] == pytest.approx(ph, rel=1e-12)
    assert r["estimate"] == pytest.approx((ph / 10.0) ** (1 / 5) - 1, rel=1e-12)
    # a failed path counts with its payoff 0: E[P_H] = (0 + 40) / 2 = 20 at price 10 over 2 years
    syn = xr.Dataset({"price_horizon": ("path", np.array([0.0, 40.0])),
                      "horizon_return": ("path", np.array([-1.0, 1.0]))}, attrs={"price": 10.0, "horizon_years": 2})
    r = expected_irr(syn)
    assert r["estimate"] == pytest.approx(math.sqrt(2.0) - 1.0)
    assert r["median_return"] == 0.0
    zero = syn.assign(price_horizon=("path", np.zeros(2)))
    r = expected_irr(zero)
    assert r["estimate"] is None and "0" in r["note"]


def _run_rate_dict():
    d = base_dict()
    seg = d["segments"][0]
    del seg["revenue"]
    seg["run_rate"] = 1000.0
    seg["reported_revenue"] = 400.0
    return d


def test_reported_revenue_and_cagr_from_it():
    d = _run_rate_dict()
    cfg = config_from_dict(d)
    rev = reported_revenue(cfg)
    assert rev["amount"] == 400.0 and rev["model_base"] == 1000.0 and rev["differs"] and rev["complete"]
    s = summary_dict(simulate(cfg))
    # revenue_5 = 1000 x 1.05^5 from the run-rate; CAGR from reported 400 over 5 years
    assert s["reported_revenue"]["median_revenue_cagr"] == pytest.approx((1000 * 1.05**5 / 400) ** 0.2 - 1,
                                                                         rel=1e-12)
    assert s["median_revenue_cagr"] == pytest.approx(0.05, rel=1e-9)  # the model's own base: unchanged
    assert s["ev_sales_today"]["reported"] == pytest.approx(1000.0 / 400.0)
    assert s["ev_sales_today"]["model_base"] == pytest.approx(1.0)


def test_reported_revenue_refused_on_a_revenue_segment():
    d = base_dict()
    d["segments"][0]["reported_revenue"] = 900.0
    with pytest.raises(InputError, match="reported_revenue"):
        config_from_dict(d)


def test_peer_value_by_hand():
    d = base_dict()
    d["peers"] = [{"name": "P", "revenue": 500.0, "market_cap": 1500.0},  # EV/Sales 3
                  {"name": "Q", "ev_sales": 1.0}]
    d["balance_sheet"] = {"cash": 200.0, "debt": 50.0}
    cfg = config_from_dict(d)
    ds = simulate(cfg)
    v = float(ds["value_per_share"].values[0])
    rows = peer_values(ds, cfg)
    assert [r["name"] for r in rows] == ["P", "Q"]
    assert rows[0]["ev_sales"] == pytest.approx(3.0)
    assert rows[0]["value"] == pytest.approx((3.0 * 1000 + 200 - 50) / 100)
    assert rows[0]["percentile"] == (100.0 if rows[0]["value"] >= v else 0.0)
    assert rows[1]["value"] == pytest.approx((1000 + 150) / 100)
    assert rows[1]["value_to_price"] == pytest.approx(11.5 / 10.0)


def test_peer_currency_conversion():
    d = base_dict()
    d["company"].update({"reporting_currency": "CNY", "trading_currency": "HKD", "fx_rate": 1.087})
    d["peers"] = [{"name": "P", "revenue": 5015, "revenue_currency": "CNY", "market_cap": 71700,
                   "market_cap_currency": "HKD"}]
    cfg = config_from_dict(d)
    rows = peer_values(simulate(cfg), cfg)
    assert rows[0]["ev_sales"] == pytest.approx(71700 / 1.087 / 5015)
    d["peers"][0]["market_cap_currency"] = "EUR"
    with pytest.raises(InputError, match="market_cap_currency"):
        config_from_dict(d)


def test_config_without_peers_keeps_its_sha256(tmp_path):
    cfg = config_from_dict(base_dict())
    assert "peers" not in cfg.to_toml()
    d = base_dict()
    d["peers"] = [{"name": "Q", "ev_sales": 2.5}]
    c2 = config_from_dict(d)
    import tomllib

    assert config_from_dict(tomllib.loads(c2.to_toml())).peers[0].ev_sales == 2.5


def test_equity_value_label_without_a_share_count():
    d = base_dict()
    d["market"] = {"market_cap": 1000.0}
    s = summary_dict(simulate(config_from_dict(d)))
    assert s["value_label"] == "equity value"
    assert summary_dict(simulate(config_from_dict(base_dict())))["value_label"] == "value per share"


@pytest.fixture
def config_file(tmp_path):
    cfg = config_from_dict(base_dict())
    p = tmp_path / "co.toml"
    p.write_text(cfg.to_toml(), encoding="utf-8")
    return p


def test_cli_json_keys(config_file):
    r = CliRunner().invoke(main, ["run", str(config_file), "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    keys = list(s)
    assert keys.index("fair_value_ratio") < keys.index("value_per_share")
    assert s["fair_value_ratio"]["estimate"] == pytest.approx(1.601875726, rel=1e-9)
    hand = brentq(lambda r: _ev(r) / 100 - 10.0, 0.05, 0.5, xtol=1e-15)
    assert s["implied_cost_of_capital"]["rate"] == pytest.approx(hand, abs=1e-6)
    assert s["expected_irr"]["estimate"] is not None
    r = CliRunner().invoke(main, ["run", str(config_file), "--quiet"])
    assert r.exit_code == 0
    assert r.output.index("Fair value") < r.output.index("DCF value per share")
    assert "implied cost of capital" in r.output and "E[value per share] / price" in r.output
    r = CliRunner().invoke(main, ["run", str(config_file), "--json", "--quiet", "--implied-paths", "0"])
    assert json.loads(r.output)["implied_cost_of_capital"]["rate"] is None


def test_cli_batch_shows_ratio_and_ev_sales(config_file, tmp_path):
    d = copy.deepcopy(base_dict())
    d["company"]["name"] = "Other Co"
    d["market"]["price"] = 20.0
    q = tmp_path / "other.toml"
    q.write_text(config_from_dict(d).to_toml(), encoding="utf-8")
    r = CliRunner().invoke(main, ["run", str(config_file), str(q), "--quiet", "--implied-paths", "0"])
    assert r.exit_code == 0, r.output
    assert "E[value]/price" in r.output and "EV/Sales today" in r.output
    assert "1.602x" in r.output and "0.801x" in r.output
    assert "1.0x" in r.output and "2.0x" in r.output  # EV/Sales today: 1,000 / 1,000 and 2,000 / 1,000


# --------------------------------------------------------------------------- the run's first paths as the d = 0 re-run


def _count_simulate(monkeypatch):
    """Count the calls of engine.simulate.simulate_arrays (the implied cost of capital's re-runs)."""
    import importlib

    sim = importlib.import_module("engine.simulate")  # the module (``engine.simulate`` is also the function)
    calls = []
    real = sim.simulate_arrays

    def counted(*a, **kw):
        calls.append(kw.get("paths"))
        return real(*a, **kw)

    monkeypatch.setattr(sim, "simulate_arrays", counted)
    return calls


def _ai_peer_with_a_root():
    from engine.config import load_config

    return load_config(CONFIGS / "ai_peer.toml").with_inputs({"market.market_cap": 12_000})


@pytest.mark.parametrize("run_paths", [600, 1500])
def test_implied_for_run_takes_the_unshifted_re_run_from_the_run_and_gives_the_same_bits(monkeypatch, run_paths):
    """Random sampling: the run's first 600 paths are the d = 0 re-run (the prefix property), so the result
    is the re-runs' to the bit with one re-run fewer, whether the run has more paths (1,500) or as many."""
    from engine.fairvalue import implied_for_run

    ds = simulate(_ai_peer_with_a_root(), paths=run_paths, seed=7)
    calls = _count_simulate(monkeypatch)
    ref = implied_cost_of_capital(_ai_peer_with_a_root(), paths=600, seed=7)
    n_ref = len(calls)
    calls.clear()
    got = implied_for_run(ds, paths=600, reuse_run=True)
    assert -0.05 < ref["shift"] < 0  # a root: brentq ran on the reused value too
    assert got == ref  # every key, bit for bit (evaluations included: d = 0 counts as one)
    assert len(calls) == n_ref - 1 == ref["evaluations"] - 1
    calls.clear()
    assert implied_for_run(ds, paths=600) == ref and len(calls) == n_ref  # without reuse_run: all re-run


def test_implied_for_run_re_runs_a_latin_hypercube_prefix_and_takes_a_whole_run(monkeypatch):
    """A Latin hypercube design is built per block of its own size: 600 of 1,500 paths are not a 600-path
    run, so d = 0 is re-run; when the re-runs take all of the run's paths the run is reused."""
    from engine.fairvalue import implied_for_run

    cfg = _ai_peer_with_a_root().with_inputs({"simulation.sampling": "lhs"})
    ds = simulate(cfg, paths=1500, seed=7)
    assert not np.array_equal(ds["value_per_share"].values[:600],
                              simulate(cfg, paths=600, seed=7)["value_per_share"].values)  # no prefix property
    calls = _count_simulate(monkeypatch)
    ref = implied_cost_of_capital(cfg, paths=600, seed=7)
    n_ref = len(calls)
    calls.clear()
    assert implied_for_run(ds, paths=600, reuse_run=True) == ref and len(calls) == n_ref
    whole = simulate(cfg, paths=600, seed=7)
    calls.clear()
    ref_whole = implied_cost_of_capital(cfg, paths=600, seed=7)
    n_whole = len(calls)
    calls.clear()
    assert implied_for_run(whole, paths=20_000, reuse_run=True) == ref_whole and len(calls) == n_whole - 1


def test_implied_for_run_without_a_root_says_none_as_the_re_runs_do():
    """Zhipu's reviewed config has no root: the same note and bracket values with the run's first paths."""
    from engine.config import load_config
    from engine.fairvalue import implied_for_run

    cfg = load_config(CONFIGS / "zhipu.toml")
    ds = simulate(cfg, paths=800, seed=3)
    got = implied_for_run(ds, paths=500, reuse_run=True)
    ref = implied_cost_of_capital(cfg, paths=500, seed=3)
    assert got["rate"] is None and "no root" in got["note"]
    assert got == ref and got["evaluations"] == 3


def test_implied_cost_of_capital_refuses_a_base_run_shorter_than_its_re_runs():
    cfg = config_from_dict(base_dict())
    with pytest.raises(InputError, match="base_run` holds 10 paths"):
        implied_cost_of_capital(cfg, paths=64, base_run=simulate(cfg, paths=10))


def test_implied_for_run_draws_no_parameters_again(monkeypatch):
    """With the run reused its stored draws (param_*) feed every re-run: no block's parameters are drawn."""
    from engine._plan import Plan
    from engine.fairvalue import implied_for_run

    cfg = _ai_peer_with_a_root()
    ds = simulate(cfg, paths=900, seed=5)
    ref = implied_cost_of_capital(cfg, paths=700, seed=5)
    drawn = []
    real = Plan.theta
    monkeypatch.setattr(Plan, "theta", lambda self, b, n: drawn.append(n) or real(self, b, n))
    assert implied_for_run(ds, paths=700, reuse_run=True) == ref and drawn == []
    assert implied_for_run(ds, paths=700) == ref and drawn == [700]  # without it the draws are made once


def test_implied_for_run_reuses_a_run_of_several_blocks():
    """Blocks of 256 paths: the re-runs' 700 paths are the run's first three blocks, the last one partial."""
    from engine.fairvalue import implied_for_run

    cfg = _ai_peer_with_a_root().with_inputs({"simulation.block_size": 256})
    ds = simulate(cfg, paths=1000, seed=11)
    ref = implied_cost_of_capital(cfg, paths=700, seed=11)
    assert ref["rate"] is not None and implied_for_run(ds, paths=700, reuse_run=True) == ref


def test_implied_for_run_of_plain_arrays_without_their_draws_draws_them_again():
    """simulate_arrays keeping value_per_share alone (no param_*): the run still gives d = 0, and the draws
    are made again instead of read (never an InternalError for a variable the run did not keep)."""
    from engine.fairvalue import implied_for_run
    from engine.simulate import simulate_arrays

    cfg = _ai_peer_with_a_root()
    ref = implied_cost_of_capital(cfg, paths=600, seed=7)
    run = simulate_arrays(cfg, paths=900, seed=7, variables=("value_per_share",))
    assert not run.kept("param_cost_of_capital_initial")
    assert ref["rate"] is not None and implied_for_run(run, paths=600, reuse_run=True) == ref
