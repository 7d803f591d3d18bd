"""Tests for engine.distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from engine.distributions import (
    KINDS,
    SPEC_CLASSES,
    Z95,
    Beta,
    DistributionSpec,
    Fixed,
    Kind,
    Lognormal,
    Normal,
    Param,
    Pert,
    Triangular,
    TruncNormal,
    Uniform,
    parse_number,
    parse_param,
)

# A spread of valid specs in every kind and form, used by several tests.
SPECS = [
    {"kind": "fixed", "value": 0.08},
    {"kind": "normal", "mean": 0.05, "sd": 0.02},
    {"kind": "normal", "p5": -0.1, "p95": 0.3},
    {"kind": "lognormal", "mean": 2000, "sd": 800},
    {"kind": "lognormal", "mu": 1.0, "sigma": 0.5},
    {"kind": "lognormal", "p5": 10, "p95": 40},
    {"kind": "triangular", "min": 1, "mode": 2, "max": 6},
    {"kind": "pert", "min": 1, "mode": 2, "max": 6},
    {"kind": "pert", "min": 1, "mode": 2, "max": 6, "lambda": 2.5},
    {"kind": "uniform", "min": -1, "max": 3},
    {"kind": "uniform", "p5": 0.1, "p95": 0.2},
    {"kind": "beta", "alpha": 2, "beta": 5},
    {"kind": "beta", "mean": 0.3, "sd": 0.1},
    {"kind": "beta", "alpha": 2, "beta": 3, "min": 10, "max": 20},
    {"kind": "truncnormal", "mean": 100, "sd": 25, "low": 50, "high": 150},
    {"kind": "truncnormal", "mean": 0.05, "sd": 0.03, "low": 0},
]


def _err(v) -> str:
    with pytest.raises(ValueError) as info:
        parse_param(v)
    return str(info.value)


# ---------------------------------------------------------------------------
# parse_number
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (3, 3.0),
        (0.08, 0.08),
        ("8%", 0.08),
        ("-40 %", -0.40),
        (" 12.5% ", 0.125),
        ("1e6", 1e6),
        ("0.08", 0.08),
        (np.float64(2.5), 2.5),
        (np.int32(7), 7.0),
    ],
)
def test_parse_number_accepts(raw, expected):
    out = parse_number(raw)
    assert type(out) is float
    assert out == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "raw", [True, False, np.bool_(True), float("nan"), float("inf"), "inf", "nan%",
            "abc", "8 percent", "", None, [1.0], {"value": 1}]
)
def test_parse_number_rejects(raw):
    with pytest.raises(ValueError) as info:
        parse_number(raw)
    msg = str(info.value)
    assert repr(raw) in msg
    assert "percentage" in msg


def test_percentage_exact_values():
    assert parse_number("8%") == 0.08
    assert parse_number("-40 %") == -0.4
    assert parse_number("100%") == 1.0


# ---------------------------------------------------------------------------
# Reference values
# ---------------------------------------------------------------------------


def test_lognormal_mean_sd_reference():
    spec = Lognormal(mean=2000, sd=800)
    mu, sigma = spec.log_params()
    assert mu == pytest.approx(7.52669, abs=5e-6)
    assert sigma == pytest.approx(0.385253, abs=5e-7)
    # closed forms
    assert sigma**2 == pytest.approx(math.log(1 + 800**2 / 2000**2), rel=1e-14)
    assert mu == pytest.approx(math.log(2000) - sigma**2 / 2, rel=1e-14)
    assert spec.mean() == pytest.approx(2000, rel=1e-12)
    assert spec.dist().std() == pytest.approx(800, rel=1e-12)


def test_lognormal_cdf_reference():
    spec = Lognormal(mean=1, sd=0.2)
    assert spec.dist().cdf(0.8) == pytest.approx(0.15204, abs=5e-6)
    assert round(float(spec.dist().cdf(0.8)), 5) == 0.15204


def test_lognormal_forms_agree():
    a = Lognormal(mean=2000, sd=800)
    mu, sigma = a.log_params()
    b = Lognormal(mu=mu, sigma=sigma)
    u = np.linspace(0.01, 0.99, 11)
    np.testing.assert_allclose(a.ppf(u), b.ppf(u), rtol=1e-13)
    m, s = b.moments()
    assert (m, s) == pytest.approx((2000, 800), rel=1e-12)
    # scipy parameterisation lognorm(s=sigma, scale=exp(mu))
    np.testing.assert_allclose(a.ppf(u), a.dist().ppf(u), rtol=1e-12)
    assert a.dist().kwds["s"] == pytest.approx(sigma)
    assert a.dist().kwds["scale"] == pytest.approx(math.exp(mu))


def test_truncnormal_reference():
    spec = TruncNormal(mean=100, sd=25, low=50, high=150)
    assert round(spec.quantile(0.218418), 3) == 81.630
    assert round(float(spec.ppf(np.array([0.218418]))[0]), 3) == 81.630
    assert spec.standard_bounds() == (-2.0, 2.0)
    assert spec.bounds() == (50.0, 150.0)
    # symmetric bounds: truncated mean equals the parent mean
    assert spec.mean() == pytest.approx(100, abs=1e-9)


def test_truncnormal_one_sided():
    spec = TruncNormal(mean=0.05, sd=0.03, low=0)
    lo, hi = spec.bounds()
    assert lo == 0.0
    assert hi == pytest.approx(spec.quantile(1 - 1e-9))
    assert spec.mean() > 0.05  # truncating the left tail raises the mean
    assert "high" not in spec.to_dict()


@settings(deadline=None, max_examples=60)
@given(
    mean=st.floats(-100, 100),
    sd=st.floats(0.01, 50),
    low_z=st.floats(-6, 5),
    width_z=st.floats(0.05, 6),
    u=st.lists(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
               min_size=1, max_size=50),
)
def test_truncnormal_draws_within_bounds(mean, sd, low_z, width_z, u):
    low = mean + low_z * sd
    high = low + width_z * sd
    if not low < high:
        return
    spec = TruncNormal(mean=mean, sd=sd, low=low, high=high)
    u = np.array(u + [2.0**-54, 1.0 - 2.0**-53])
    x = spec.ppf(u)
    assert np.all(np.isfinite(x))
    assert np.all(x >= low) and np.all(x <= high)


@settings(deadline=None, max_examples=60)
@given(
    lo=st.floats(-1e3, 1e3),
    width=st.floats(1e-3, 1e3),
    mode_frac=st.floats(0.0, 1.0),
    kind=st.sampled_from(["triangular", "pert", "uniform", "beta"]),
)
def test_bounded_draws_within_exact_bounds(lo, width, mode_frac, kind):
    hi = lo + width
    if not lo < hi:
        return
    mode = min(max(lo + mode_frac * (hi - lo), lo), hi)
    raw = {
        "triangular": {"kind": "triangular", "min": lo, "mode": mode, "max": hi},
        "pert": {"kind": "pert", "min": lo, "mode": mode, "max": hi},
        "uniform": {"kind": "uniform", "min": lo, "max": hi},
        "beta": {"kind": "beta", "alpha": 0.5, "beta": 0.7, "min": lo, "max": hi},
    }[kind]
    spec = parse_param(raw)
    x = spec.ppf(np.array([0.0, 2.0**-54, 1e-9, 0.5, 1 - 1e-9, 1 - 2.0**-53, 1.0]))
    assert np.all(x >= lo) and np.all(x <= hi)
    assert spec.bounds() == (lo, hi)


# ---------------------------------------------------------------------------
# 90 % interval forms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "normal", "p5": -0.1, "p95": 0.3},
        {"kind": "lognormal", "p5": 10, "p95": 40},
        {"kind": "uniform", "p5": 0.1, "p95": 0.2},
        {"p5": 0.02, "p95": 0.09},
        {"p5": "-5%", "p95": "12%"},
    ],
)
def test_interval_forms_reproduce_percentiles(raw):
    spec = parse_param(raw)
    p5, p95 = parse_number(raw["p5"]), parse_number(raw["p95"])
    assert spec.quantile(0.05) == pytest.approx(p5, rel=1e-12, abs=1e-14)
    assert spec.quantile(0.95) == pytest.approx(p95, rel=1e-12, abs=1e-14)


def test_interval_closed_forms():
    n = Normal(p5=-0.1, p95=0.3)
    assert n.loc_scale() == pytest.approx((0.1, 0.4 / (2 * 1.6448536269514722)))
    assert Z95 == pytest.approx(1.6448536269514722, rel=1e-15)
    u = Uniform(p5=0.1, p95=0.2)
    lo, hi = u.interval()
    assert lo == pytest.approx(0.1 - 0.05 * 0.1 / 0.9)
    assert hi == pytest.approx(0.2 + 0.05 * 0.1 / 0.9)
    assert u.bounds() == pytest.approx((lo, hi))


def test_shorthand_kind():
    assert isinstance(parse_param({"p5": 1, "p95": 3}), Lognormal)
    assert isinstance(parse_param({"p5": "1%", "p95": "3%"}), Lognormal)
    assert isinstance(parse_param({"p5": -1, "p95": 3}), Normal)
    assert isinstance(parse_param({"p5": 0, "p95": 3}), Normal)
    assert parse_param({"p5": 1, "p95": 3}).to_dict() == {
        "kind": "lognormal", "p5": 1.0, "p95": 3.0,
    }


@pytest.mark.parametrize("kind", ["normal", "lognormal", "uniform"])
def test_interval_rejects_reversed(kind):
    msg = _err({"kind": kind, "p5": 3, "p95": 1})
    assert "p5 = 3 must be < p95 = 1" in msg


# ---------------------------------------------------------------------------
# Kinds
# ---------------------------------------------------------------------------


def test_pert_mean_and_shape():
    spec = Pert(min=1, mode=2, max=6)
    assert spec.lambda_ == 4.0
    assert spec.mean() == pytest.approx((1 + 4 * 2 + 6) / 6, rel=1e-14)
    a, b = spec.shape()
    assert a == pytest.approx(1 + 4 * (2 - 1) / 5)
    assert b == pytest.approx(1 + 4 * (6 - 2) / 5)
    assert spec.bounds() == (1.0, 6.0)
    custom = parse_param({"kind": "pert", "min": 0, "mode": 3, "max": 10, "lambda": 2})
    assert custom.lambda_ == 2.0
    assert custom.mean() == pytest.approx((0 + 2 * 3 + 10) / 4, rel=1e-14)
    assert custom.to_dict()["lambda"] == 2.0
    assert "lambda" not in spec.to_dict()


def test_triangular_uniform_bounds_and_moments():
    tri = Triangular(min=1, mode=2, max=6)
    assert tri.bounds() == (1.0, 6.0)
    assert tri.quantile(0.0) == 1.0 and tri.quantile(1.0) == 6.0
    assert tri.mean() == pytest.approx(3.0)
    # scipy triang parameters
    assert tri.dist().kwds == pytest.approx({"c": 0.2, "loc": 1.0, "scale": 5.0})
    # mode on an edge is allowed
    assert Triangular(min=0, mode=0, max=1).quantile(0.25) == pytest.approx(1 - math.sqrt(0.75))
    uni = Uniform(min=-1, max=3)
    assert uni.bounds() == (-1.0, 3.0)
    assert uni.median() == pytest.approx(1.0)
    np.testing.assert_allclose(uni.ppf([0.0, 0.25, 1.0]), [-1.0, 0.0, 3.0])


def test_beta_forms():
    ab = Beta(alpha=2, beta=5)
    assert ab.mean() == pytest.approx(2 / 7)
    assert ab.bounds() == (0.0, 1.0)
    mm = Beta(mean=0.3, sd=0.1)
    assert mm.mean() == pytest.approx(0.3, rel=1e-12)
    assert mm.dist().std() == pytest.approx(0.1, rel=1e-12)
    assert mm.shape() == pytest.approx((6.0, 14.0))
    scaled = Beta(mean=14, sd=2, min=10, max=20)
    assert scaled.mean() == pytest.approx(14, rel=1e-12)
    assert scaled.dist().std() == pytest.approx(2, rel=1e-12)
    assert scaled.bounds() == (10.0, 20.0)


def test_normal_and_fast_ppf_match_scipy():
    u = np.array([1e-9, 0.01, 0.3, 0.5, 0.97])
    for raw in ({"kind": "normal", "mean": 0.05, "sd": 0.02},
                {"kind": "lognormal", "p5": 10, "p95": 40}):
        spec = parse_param(raw)
        np.testing.assert_allclose(spec.ppf(u), spec.dist().ppf(u), rtol=1e-12)


@pytest.mark.parametrize("raw", SPECS)
def test_common_api(raw):
    spec = parse_param(raw)
    assert isinstance(spec, DistributionSpec)
    assert spec.is_fixed == (raw["kind"] == "fixed")
    u = np.full((3, 4), 0.5)
    x = spec.ppf(u)
    assert x.shape == (3, 4) and x.dtype == np.float64
    assert np.all(x == spec.median())
    assert spec.ppf(np.float64(0.3)).shape == ()
    assert spec.quantile(0.5) == spec.median()
    lo, hi = spec.bounds()
    assert lo <= spec.median() <= hi
    assert lo <= spec.mean() <= hi
    # draws from the ppf lie within the bounds and are non-decreasing in u
    grid = np.linspace(1e-6, 1 - 1e-6, 101)
    vals = spec.ppf(grid)
    assert np.all(np.diff(vals) >= 0)
    assert np.all(vals >= lo) and np.all(vals <= hi)


@pytest.mark.parametrize("raw", SPECS)
def test_to_dict_round_trip(raw):
    spec = parse_param(raw)
    d = spec.to_dict()
    assert d["kind"] == raw["kind"]
    assert set(d) == set(raw)
    assert all(type(v) is float for k, v in d.items() if k != "kind")
    assert parse_param(d) == spec


def test_fixed():
    spec = parse_param(0.08)
    assert isinstance(spec, Fixed) and spec.is_fixed
    np.testing.assert_array_equal(spec.ppf(np.random.default_rng(0).random((2, 5))),
                                  np.full((2, 5), 0.08))
    assert spec.mean() == spec.median() == spec.quantile(0.99) == 0.08
    assert spec.bounds() == (0.08, 0.08)
    assert spec.to_dict() == {"kind": "fixed", "value": 0.08}
    assert spec.dist().mean() == pytest.approx(0.08)


def test_dist_is_cached_and_does_not_affect_equality_or_copy():
    a = Normal(mean=1, sd=2)
    b = Normal(mean=1, sd=2)
    da = a.dist()
    assert a.dist() is da
    assert a == b and hash(a) == hash(b)
    c = a.model_copy()
    assert c == a and c.dist().mean() == 1.0
    d = a.model_copy(update={"sd": 3.0})
    assert d != a
    assert d.dist().std() == pytest.approx(3.0)
    assert a.dist().std() == pytest.approx(2.0)


def test_specs_are_immutable():
    spec = Normal(mean=1, sd=2)
    with pytest.raises(ValidationError):
        spec.sd = 3.0


# ---------------------------------------------------------------------------
# Percentages, bools, kinds and messages
# ---------------------------------------------------------------------------


def test_percentages_inside_distributions():
    spec = parse_param({"kind": "normal", "mean": "8%", "sd": "2 %"})
    assert spec.loc_scale() == pytest.approx((0.08, 0.02))
    tri = parse_param({"kind": "triangular", "min": "-40%", "mode": "0%", "max": "25%"})
    assert tri.bounds() == pytest.approx((-0.4, 0.25))
    assert parse_param("8%") == Fixed(value=0.08)
    assert parse_param("1e6") == Fixed(value=1e6)
    assert Normal(mean="5%", sd=0.01).mean() == pytest.approx(0.05)


def test_bool_rejected():
    msg = _err(True)
    assert "true/false" in msg
    msg = _err({"kind": "normal", "mean": True, "sd": 1})
    assert "true/false" in msg
    with pytest.raises(ValidationError):
        Fixed(value=False)


def test_unknown_kind_lists_kinds():
    msg = _err({"kind": "gamma", "shape": 2})
    assert "unknown distribution kind 'gamma'" in msg
    assert "use one of: fixed, normal, lognormal, triangular, pert, uniform, beta, truncnormal" in msg


def test_kind_is_case_insensitive_and_enum_accepted():
    assert isinstance(parse_param({"kind": "Normal", "mean": 0, "sd": 1}), Normal)
    assert isinstance(parse_param({"kind": Kind.PERT, "min": 0, "mode": 1, "max": 2}), Pert)


def test_kinds_enum_matches_classes():
    assert KINDS == tuple(k.value for k in Kind)
    assert tuple(SPEC_CLASSES) == KINDS
    for kind, cls in SPEC_CLASSES.items():
        assert cls.model_fields["kind"].default == kind


def test_missing_kind_message():
    msg = _err({"mean": 1, "sd": 2})
    assert "no 'kind'" in msg and "p5 and p95" in msg and "lognormal" in msg


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"kind": "normal", "mean": 1, "sd": -0.2},
         "sd = -0.2 must be > 0; give the standard deviation as a positive number"),
        ({"kind": "normal", "mean": 1, "sd": 0}, "sd = 0 must be > 0"),
        ({"kind": "lognormal", "mean": -1, "sd": 1}, "mean = -1 must be > 0 for a lognormal"),
        ({"kind": "lognormal", "mu": 0, "sigma": -1}, "sigma = -1 must be > 0"),
        ({"kind": "lognormal", "p5": -1, "p95": 2}, "p5 = -1 must be > 0 for a lognormal"),
        ({"kind": "triangular", "min": 5, "mode": 5, "max": 3}, "min = 5 must be < max = 3"),
        ({"kind": "triangular", "min": 1, "mode": 7, "max": 5},
         "mode = 7 must lie within [min, max] = [1, 5]"),
        ({"kind": "pert", "min": 1, "mode": 0, "max": 5}, "mode = 0 must lie within"),
        ({"kind": "pert", "min": 0, "mode": 1, "max": 2, "lambda": 0}, "lambda = 0 must be > 0"),
        ({"kind": "uniform", "min": 2, "max": 2}, "min = 2 must be < max = 2"),
        ({"kind": "beta", "alpha": 0, "beta": 1}, "alpha = 0 must be > 0"),
        ({"kind": "beta", "alpha": 1, "beta": -2}, "beta = -2 must be > 0"),
        ({"kind": "beta", "mean": 0.5, "sd": 0.6},
         "sd = 0.6 is too large for a beta with mean = 0.5 on [0, 1]"),
        ({"kind": "beta", "mean": 1.5, "sd": 0.1}, "mean = 1.5 must lie strictly between"),
        ({"kind": "beta", "alpha": 1, "beta": 1, "min": 3, "max": 1}, "min = 3 must be < max = 1"),
        ({"kind": "truncnormal", "mean": 0, "sd": 1, "low": 2, "high": 1},
         "low = 2 must be < high = 1"),
        ({"kind": "truncnormal", "mean": 0, "sd": 1}, "needs low and/or high"),
        ({"kind": "normal", "mean": 1}, "normal distribution needs mean and sd, or p5 and p95; got only mean"),
        ({"kind": "normal", "mean": 1, "sd": 1, "p5": 0, "p95": 2}, "not a mix"),
        ({"kind": "lognormal"}, "needs mean and sd, or mu and sigma, or p5 and p95"),
        ({"kind": "normal", "mean": 1, "sd": 1, "mode": 3},
         "normal distribution does not take 'mode'; its parameters are: mean, sd, p5, p95"),
        ({"kind": "normal", "mean": "abc", "sd": 1}, "cannot read 'abc' as a number"),
        ("eight percent", "cannot read 'eight percent' as a number"),
        ([1, 2], "is not a number or a distribution"),
    ],
)
def test_validation_messages(raw, expected):
    assert expected in _err(raw)


def test_beta_impossible_sd_limit():
    # sd^2 >= m(1-m) on the unit scale is impossible; just below is fine
    Beta(mean=0.5, sd=0.499)
    assert "sd must be < 0.5" in _err({"kind": "beta", "mean": 0.5, "sd": 0.5})
    # scaled: limit is sqrt(m(1-m)) * (max - min)
    assert "sd must be < 5" in _err({"kind": "beta", "mean": 15, "sd": 6, "min": 10, "max": 20})


def test_param_field_in_model():
    class Cfg(BaseModel):
        growth: Param
        margin: Param

    cfg = Cfg(growth="8%", margin={"kind": "pert", "min": 0.1, "mode": 0.15, "max": 0.3})
    assert cfg.growth == Fixed(value=0.08)
    assert isinstance(cfg.margin, Pert)
    cfg2 = Cfg(growth=cfg.growth, margin={"p5": "10%", "p95": "20%"})
    assert isinstance(cfg2.margin, Lognormal)
    with pytest.raises(ValidationError) as info:
        Cfg(growth=True, margin={"kind": "weibull"})
    text = str(info.value)
    assert "growth" in text and "margin" in text
    assert "use one of: fixed, normal" in text
    with pytest.raises(ValidationError) as info:
        Cfg(growth=1, margin={"kind": "normal", "mean": 1, "sd": -0.2})
    assert "sd = -0.2 must be > 0" in str(info.value)


def test_bounds_catch_misplaced_percent():
    # a rate written as 8 instead of 0.08 shows up in bounds()
    wrong = parse_param({"kind": "normal", "mean": 8, "sd": 1})
    right = parse_param({"kind": "normal", "mean": "8%", "sd": "1%"})
    assert wrong.bounds()[0] > 1.0
    lo, hi = right.bounds()
    assert -1 < lo < hi < 1
    assert (lo, hi) == pytest.approx((right.quantile(1e-9), right.quantile(1 - 1e-9)))
    assert Lognormal(mean=1, sd=0.2).bounds()[0] == 0.0


def test_quantile_and_bounds_argument_checks():
    spec = Normal(mean=0, sd=1)
    with pytest.raises(ValueError, match="must be in \\[0, 1\\]"):
        spec.quantile(1.5)
    with pytest.raises(ValueError, match="tail"):
        spec.bounds(0.6)
    assert spec.quantile("50%") == 0.0


# ---------------------------------------------------------------------------
# shifted / scaled
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [r for r in SPECS if r["kind"] != "lognormal"])
def test_shifted_moves_every_quantile(raw):
    spec = parse_param(raw)
    moved = spec.shifted(0.5)
    assert type(moved) is type(spec)
    assert set(moved.to_dict()) >= set(raw)
    for q in (0.05, 0.3, 0.5, 0.9):
        assert moved.quantile(q) == pytest.approx(spec.quantile(q) + 0.5, rel=1e-12, abs=1e-12)
    assert moved.mean() == pytest.approx(spec.mean() + 0.5, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("raw", SPECS)
def test_scaled_multiplies_every_quantile(raw):
    spec = parse_param(raw)
    bigger = spec.scaled(1.5)
    assert type(bigger) is type(spec)
    for q in (0.05, 0.3, 0.5, 0.9):
        assert bigger.quantile(q) == pytest.approx(1.5 * spec.quantile(q), rel=1e-12, abs=1e-12)


def test_shift_scale_parameter_semantics():
    assert Normal(mean=1, sd=2).shifted(0.5) == Normal(mean=1.5, sd=2)
    assert Normal(mean=1, sd=2).scaled(3) == Normal(mean=3, sd=6)
    assert Normal(p5=1, p95=2).shifted("10%").to_dict() == pytest.approx(
        {"kind": "normal", "p5": 1.1, "p95": 2.1})
    assert Triangular(min=1, mode=2, max=4).shifted(1) == Triangular(min=2, mode=3, max=5)
    assert Pert(min=1, mode=2, max=4, **{"lambda": 3}).scaled(2) == Pert(
        min=2, mode=4, max=8, **{"lambda": 3})
    assert Uniform(min=0, max=1).shifted(-1) == Uniform(min=-1, max=0)
    assert Beta(alpha=2, beta=3).shifted(1).to_dict() == {
        "kind": "beta", "alpha": 2.0, "beta": 3.0, "min": 1.0, "max": 2.0}
    assert Beta(mean=0.3, sd=0.1).shifted(1) == Beta(mean=1.3, sd=0.1, min=1, max=2)
    assert TruncNormal(mean=1, sd=1, low=0, high=3).shifted(1) == TruncNormal(
        mean=2, sd=1, low=1, high=4)
    assert TruncNormal(mean=1, sd=1, low=0).scaled(2) == TruncNormal(mean=2, sd=2, low=0)
    assert Fixed(value=2).shifted(1) == Fixed(value=3)
    assert Fixed(value=2).scaled(-1) == Fixed(value=-2)


def test_lognormal_shift_and_scale():
    spec = Lognormal(mean=2000, sd=800)
    moved = spec.shifted(500)
    assert moved == Lognormal(mean=2500, sd=800)
    assert moved.mean() == pytest.approx(2500)
    assert moved.dist().std() == pytest.approx(800)
    # other forms are moved through their mean and sd
    ms = Lognormal(mu=1, sigma=0.5)
    m, s = ms.moments()
    moved = ms.shifted(1)
    assert moved.to_dict() == pytest.approx({"kind": "lognormal", "mean": m + 1, "sd": s})
    # scaling keeps the form: mu moves by ln(factor), sigma unchanged
    assert ms.scaled(math.e).log_params() == pytest.approx((2.0, 0.5))
    assert ms.scaled(math.e).to_dict()["mu"] == pytest.approx(2.0)
    assert Lognormal(p5=1, p95=4).scaled(2) == Lognormal(p5=2, p95=8)
    with pytest.raises(ValueError, match="must be > 0 for a lognormal"):
        spec.shifted(-2000)


def test_scale_factor_must_be_positive():
    for raw in SPECS[1:]:
        with pytest.raises(ValueError, match="factor = 0 must be > 0"):
            parse_param(raw).scaled(0)
        with pytest.raises(ValueError, match="factor = -2 must be > 0"):
            parse_param(raw).scaled(-2)


# ---------------------------------------------------------------- sampling inverse (numerical inversion)

@pytest.mark.parametrize(
    "d",
    [
        {"kind": "pert", "min": 0.05, "mode": 0.2, "max": 0.35},
        {"kind": "beta", "alpha": 2.0, "beta": 5.0},
        {"kind": "beta", "mean": 0.3, "sd": 0.1, "min": 0.1, "max": 0.9},
        {"kind": "truncnormal", "mean": 100, "sd": 25, "low": 50, "high": 150},
        {"kind": "truncnormal", "mean": 0.1, "sd": 0.05, "low": 0.0},
        {"kind": "truncnormal", "mean": -3.0, "sd": 1.0, "low": 0.0, "high": 2.0},
        {"kind": "pert", "min": 0.0, "mode": 0.0, "max": 1.0},
        {"kind": "beta", "alpha": 0.5, "beta": 3.0},
    ],
)
def test_sample_ppf_within_u_resolution_of_exact(d):
    from engine.distributions import PINV_U_RESOLUTION, parse_param

    spec = parse_param(d)
    u = np.random.default_rng(3).random(20_000)
    x = spec.sample_ppf(u)
    lo, hi = spec.support()
    assert ((x >= lo) & (x <= hi)).all()
    # |F(x) - u| below the table's u-resolution (with a little float slack)
    assert np.max(np.abs(spec.dist().cdf(x) - u)) < 10 * PINV_U_RESOLUTION
    np.testing.assert_allclose(x, spec.ppf(u), rtol=1e-7, atol=1e-9)


def test_sample_ppf_exact_for_fast_kinds():
    from engine.distributions import parse_param

    spec = parse_param({"kind": "normal", "mean": 1.0, "sd": 2.0})
    u = np.linspace(0.01, 0.99, 99)
    np.testing.assert_array_equal(spec.sample_ppf(u), spec.ppf(u))
