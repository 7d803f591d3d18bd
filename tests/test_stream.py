"""The streamed summary (engine.stream): bounded-memory reduction of a run against the in-memory report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.standard import standard_config
from engine.cli import main
from engine.simulate import simulate
from engine.stream import BINS, StreamAccumulator, _Hist, no_hugepage_advice, stream_summary
from engine.summary import QUANTILES, summary_dict

P = 150_000  # three blocks of 65,536 paths, the last one partial


@pytest.fixture(scope="module")
def both():
    cfg = standard_config()
    s = stream_summary(cfg, paths=P, threads=2)
    m = summary_dict(simulate(cfg, paths=P, threads=2))
    return s, m


def test_exact_keys_equal_the_in_memory_report(both):
    s, m = both
    assert s["paths"] == m["paths"] == P
    assert s["p_justified"] == m["p_justified"]
    assert s["value_per_share"]["mean"] == m["value_per_share"]["mean"]  # same compensated sum, path order
    assert s["value_per_share"]["sd"] == pytest.approx(m["value_per_share"]["sd"], rel=1e-12)
    for k in ("price_percentile", "failed_share", "tv_clipped", "floored", "liquidated_share", "not_steady_share",
              "failures", "breakeven"):
        assert s[k] == m[k], k
    assert s["runway"]["beyond_horizon_share"] == m["runway"]["beyond_horizon_share"]
    assert s["must_believe"] is None and s["streamed"] is True
    # the header's valuation date and discount-rate line, as the in-memory report prints them (it was '' and '')
    for k in ("company", "currency", "value_unit", "per_share", "price", "seed", "block_size", "sampling",
              "horizon_years", "valuation_date", "discount_rates"):
        assert s[k] == m[k], k
    assert s["valuation_date"]
    # E[value] / price from the exact mean: the in-memory figure exactly, its se to the sd's rounding
    assert s["fair_value_ratio"]["estimate"] == m["fair_value_ratio"]["estimate"]
    assert s["fair_value_ratio"]["se"] == pytest.approx(m["fair_value_ratio"]["se"], rel=1e-12)
    # the expected IRR from the exact mean price at the horizon: the in-memory figure exactly, its se to rounding,
    # the median return from the histogram within its bound
    irr_s, irr_m = s["expected_irr"], m["expected_irr"]
    assert irr_m["estimate"] is not None and irr_s["estimate"] == irr_m["estimate"]
    assert irr_s["mean_price_horizon"] == irr_m["mean_price_horizon"]
    assert irr_s["se"] == pytest.approx(irr_m["se"], rel=1e-12)
    assert irr_s["horizon_years"] == irr_m["horizon_years"]
    assert abs(irr_s["median_return"] - irr_m["median_return"]) <= s["approximation"]["max_abs_error"][
        "median_horizon_return"]


def test_quantiles_within_their_stated_bound(both):
    s, m = both
    err = s["approximation"]["max_abs_error"]
    for q in QUANTILES:
        got, want, bound = s["value_per_share"][f"p{q}"], m["value_per_share"][f"p{q}"], err[f"value_per_share.p{q}"]
        assert abs(got - want) <= bound, q
        assert 0 < bound <= 6e-5 * math.hypot(want, 50e-6) + 1e-12  # the grid's relative width
    for name in ("horizon_return", "terminal_share", "revenue_cagr", "dilution"):
        assert abs(s[f"median_{name}"] - m[f"median_{name}"]) <= err[f"median_{name}"], name
    for name in ("equity_raised", "cumulative_burn"):
        for q in (10, 50, 90):
            assert abs(s["raised"][name][f"p{q}"] - m["raised"][name][f"p{q}"]) <= err[f"{name}.p{q}"]


def test_threads_and_block_order_do_not_change_it():
    cfg = standard_config()
    a = stream_summary(cfg, paths=70_000, threads=1)
    b = stream_summary(cfg, paths=70_000, threads=2)
    a.pop("elapsed_s"), b.pop("elapsed_s")
    assert a == b


def test_histogram_quantile_hand_computed():
    h = _Hist(1.0)
    x = np.array([1.0, 2.0, 3.0, 4.0])
    from engine.stream import T_MAX, _add_counts, _bin_index

    idx = np.empty(4, np.int32)
    _bin_index(x, np.ones(4, np.int8), 1.0, BINS / (2 * T_MAX), BINS, idx)
    assert _add_counts(idx, h.counts) == 0
    h.lo, h.hi = 1.0, 4.0
    v, b = h.quantiles([0, 50, 100])
    assert v[0] == 1.0 and v[100] == 4.0  # the extremes are kept exactly
    assert abs(v[50] - 2.5) <= b[50] and b[50] < 3e-4  # type 7: halfway between 2 and 3


def test_nan_beyond_horizon_percentile_is_none():
    h = _Hist(1.0)
    h.counts[BINS // 2 + 10] = 1
    h.nan = 9
    h.lo = h.hi = 0.5
    v, b = h.quantiles([0, 5, 50], nan_last=True)
    assert v[0] == 0.5 and b[0] == 0.0  # rank 0 of 10: the one finite value
    assert v[5] is None and v[50] is None  # type 7 at ranks 0.45 and 4.5 touches a path beyond the horizon


def test_missing_block_is_an_internal_error():
    from engine.errors import InternalError

    acc = StreamAccumulator(standard_config())
    acc._waiting[3] = {}
    with pytest.raises(InternalError, match="never did"):
        acc.summary(0.0)


def test_hugepage_advice_restored(monkeypatch):
    from numpy._core.multiarray import _set_madvise_hugepage

    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    old = _set_madvise_hugepage(True)
    try:
        with no_hugepage_advice():
            assert _set_madvise_hugepage(False) is False  # off inside
        assert _set_madvise_hugepage(True) is True  # restored after
        with pytest.raises(RuntimeError):
            with no_hugepage_advice():
                raise RuntimeError
        assert _set_madvise_hugepage(True) is True
    finally:
        _set_madvise_hugepage(old)


def test_hugepage_advice_restored_when_two_threads_interleave(monkeypatch):
    # thread A enters, thread B enters, A leaves, B leaves: B saw "off" as the setting before it and restored
    # that, so numpy's advice stayed off for the rest of the process
    from numpy._core.multiarray import _set_madvise_hugepage

    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    old = _set_madvise_hugepage(True)
    try:
        a, b = no_hugepage_advice(), no_hugepage_advice()
        a.__enter__()
        b.__enter__()
        a.__exit__(None, None, None)
        assert _set_madvise_hugepage(False) is False  # still off: B is inside
        b.__exit__(None, None, None)
        assert _set_madvise_hugepage(True) is True  # the setting before the first one, restored by the last one
    finally:
        _set_madvise_hugepage(old)


def test_cli_stream(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(standard_config(paths=1000).to_toml())
    r = CliRunner().invoke(main, ["run", str(cfg), "--paths", "70000", "--stream", "--json", "-q"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output[r.output.index("{"):])  # after the config warnings on stderr
    assert s["paths"] == 70_000 and s["streamed"] is True and "approximation" in s
    r = CliRunner().invoke(main, ["run", str(cfg), "--stream", "--out", str(tmp_path / "x.nc")])
    assert r.exit_code == 2 and "--stream" in r.output and "--out" in r.output
    r = CliRunner().invoke(main, ["run", str(cfg), "--paths", "2000", "--stream", "-q"])
    assert r.exit_code == 0 and "streamed run" in r.output
    # a flag --stream cannot honour is refused with the reason, not silently ignored (its default is fine)
    for extra, reason in ((["--implied-paths", "5000"], "implied cost of capital"),
                          (["--plot", str(tmp_path)], "every path's results")):
        r = CliRunner().invoke(main, ["run", str(cfg), "--stream", *extra])
        assert r.exit_code == 2 and extra[0] in r.output and reason in r.output, r.output
