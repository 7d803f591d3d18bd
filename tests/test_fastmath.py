"""engine.model.fastmath: accuracy against correctly rounded references, special values, vectorisation."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from decimal import Decimal, localcontext

import numba
import numpy as np
import pytest

from engine.model import fastmath as FM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@numba.njit(cache=False, error_model="numpy")
def _exp_loop(x, y):
    for i in range(x.shape[0]):
        y[i] = FM.exp(x[i])


@numba.njit(cache=False, error_model="numpy")
def _log_loop(x, y):
    for i in range(x.shape[0]):
        y[i] = FM.log(x[i])


@numba.njit(cache=False, error_model="numpy")
def _log1p_loop(x, y):
    for i in range(x.shape[0]):
        y[i] = FM.log1p(x[i])


@numba.njit(cache=False, error_model="numpy")
def _one(which, x):
    """One value at a time (scalar code, not a vectorised loop)."""
    if which == 0:
        return FM.exp(x)
    if which == 1:
        return FM.log(x)
    return FM.log1p(x)


LOOPS = {"exp": _exp_loop, "log": _log_loop, "log1p": _log1p_loop}


def _apply(name, x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.empty_like(x)
    LOOPS[name](x, y)
    return y


def _ulp_error(name, x, y):
    """|y - f(x)| in units of the last place of the correctly rounded f(x) (decimal at 40 digits)."""
    with localcontext() as ctx:
        ctx.prec = 40
        d = Decimal(float(x))
        if name == "exp":
            ref = d.exp()
        elif name == "log":
            ref = d.ln()
        elif abs(d) < Decimal("1e-10"):  # 1 + d would round at 40 digits: the series, exact to 1e-50 relative
            ref = d - d * d / 2 + d**3 / 3 - d**4 / 4
        else:
            ref = (1 + d).ln()
        return float(abs(Decimal(float(y)) - ref) / Decimal(math.ulp(float(ref))))


def _max_ulp(name, xs):
    ys = _apply(name, xs)
    return max(_ulp_error(name, x, y) for x, y in zip(xs, ys))


RNG = np.random.default_rng(20261130)


def test_exp_within_1_ulp_of_the_correctly_rounded_value():
    xs = np.concatenate([RNG.uniform(-745.0, 709.78, 6000), RNG.uniform(-1.0, 1.0, 3000),
                         RNG.uniform(-0.35, 0.35, 3000), RNG.normal(0.0, 3.0, 3000),
                         -np.logspace(-300, 2.8, 1000), np.logspace(-300, 2.8, 1000)])
    assert _max_ulp("exp", xs) <= 1.0


def test_exp_subnormal_results_within_1_ulp():
    xs = RNG.uniform(-745.13, -708.4, 2000)
    assert _max_ulp("exp", xs) <= 1.0
    assert FM.exp(-745.13) == 5e-324 and _apply("exp", np.array([-745.13]))[0] == 5e-324


def test_log_within_1_ulp_over_all_positive_doubles():
    bits = RNG.integers(1, 0x7FF0000000000000, 12000, dtype=np.int64)  # every binade, subnormals included
    xs = np.concatenate([bits.view(np.float64), RNG.uniform(0.5, 2.0, 3000), 1.0 + RNG.normal(0, 1e-6, 2000),
                         RNG.uniform(5e-324, 1e-307, 1000)])
    assert _max_ulp("log", xs) <= 1.0


def test_log1p_within_2_ulp():
    xs = np.concatenate([RNG.uniform(-1.0, 1.0, 4000), np.logspace(-300, 300, 3000), -np.logspace(-300, -1e-12, 3000),
                         RNG.uniform(-1e-8, 1e-8, 2000), RNG.uniform(-0.9999999, -0.9, 1000)])
    assert _max_ulp("log1p", xs) <= 2.0


def test_agree_with_math_to_1_ulp_on_a_million_points():
    x = RNG.uniform(-700.0, 700.0, 1_000_000)
    ref = np.exp(x)
    assert np.max(np.abs(_apply("exp", x) - ref) / np.spacing(ref)) <= 1.0
    x = np.abs(RNG.standard_cauchy(1_000_000)) + 5e-324
    ref = np.log(x)
    err = np.abs(_apply("log", x) - ref) / np.spacing(np.abs(ref))
    assert np.max(err) <= 1.0
    x = RNG.uniform(-0.99, 10.0, 1_000_000)
    ref = np.log1p(x)
    assert np.max(np.abs(_apply("log1p", x) - ref) / np.spacing(np.abs(ref))) <= 2.0


def _same(a, b):
    return np.array_equal(np.asarray(a).view(np.int64), np.asarray(b).view(np.int64))


def test_exp_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 709.78, 709.79, 710.0, 1e300, -745.2, -746.0, -1e300,
                  5e-324, -5e-324, 1.0, -1.0])
    y = _apply("exp", x)
    assert np.isnan(y[0])
    assert y[1] == np.inf and y[2] == 0.0
    assert y[3] == 1.0 and y[4] == 1.0
    assert np.isfinite(y[5]) and y[5] == pytest.approx(math.exp(709.78), rel=1e-15)
    assert y[6] == np.inf and y[7] == np.inf and y[8] == np.inf
    assert y[9] == 0.0 and y[10] == 0.0 and y[11] == 0.0
    assert y[12] == 1.0 and y[13] == 1.0
    assert abs(y[14] - math.exp(1.0)) <= math.ulp(math.e) and abs(y[15] - math.exp(-1.0)) <= math.ulp(1 / math.e)


def test_log_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, -5e-324, 1.0, 5e-324, 2.2250738585072014e-308,
                  1.7976931348623157e308, 2.0, 0.5])
    y = _apply("log", x)
    assert np.isnan(y[0]) and y[1] == np.inf and np.isnan(y[2])
    assert y[3] == -np.inf and y[4] == -np.inf
    assert np.isnan(y[5]) and np.isnan(y[6])
    assert _same(y[7], 0.0)  # +0.0 exactly
    assert y[8] == math.log(5e-324) and y[9] == math.log(2.2250738585072014e-308)
    assert y[10] == math.log(1.7976931348623157e308)
    assert y[11] == math.log(2.0) and y[12] == -math.log(2.0)


def test_log1p_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, -1.5, 5e-324, -5e-324, 1e-300, 1e308, -0.5])
    y = _apply("log1p", x)
    assert np.isnan(y[0]) and y[1] == np.inf and np.isnan(y[2])
    assert _same(y[3], 0.0) and _same(y[4], -0.0)
    assert y[5] == -np.inf and np.isnan(y[6])
    assert y[7] == 5e-324 and y[8] == -5e-324 and y[9] == 1e-300
    assert y[10] == math.log1p(1e308) and y[11] == math.log1p(-0.5)


@pytest.mark.parametrize("which,name", [(0, "exp"), (1, "log"), (2, "log1p")])
def test_vector_loop_and_scalar_calls_give_the_same_bits(which, name):
    x = np.concatenate([RNG.normal(0, 50, 997), RNG.uniform(-1, 3, 997), [np.nan, np.inf, -np.inf, 0.0, -0.0]])
    if name != "exp":
        x = np.abs(x) if name == "log" else x
    y = _apply(name, x)
    assert _same(y, np.array([_one(which, v) for v in x]))
    assert _same(y[3:], _apply(name, x[3:]))  # another alignment, another split between vector body and tail


def _asm(fn):
    return "\n".join(fn.inspect_asm().values())


def _has_avx2():
    from llvmlite import binding

    return "+avx2" in binding.get_host_cpu_features().flatten()


@pytest.mark.skipif(not _has_avx2(), reason="no AVX2 on this CPU")
@pytest.mark.parametrize("name", ["exp", "log", "log1p"])
def test_the_loops_vectorise_without_library_calls_or_fma(name):
    fn = LOOPS[name]
    _apply(name, np.ones(8))
    asm = _asm(fn)
    assert "vmulpd" in asm and ("%ymm" in asm or "%zmm" in asm), "packed double multiplies on ymm/zmm"
    for call in ("exp@", "log@", "log1p@", "call\texp", "call\tlog"):
        assert call not in asm
    assert "vfmadd" not in asm and "vfmsub" not in asm and "vfnmadd" not in asm  # no FMA contraction


def test_interpreted_fallback_gives_the_same_bits():
    """NUMBA_DISABLE_JIT=1: the bit casts fall back to numpy views and the same values come out."""
    x = np.array([0.3, -2.5, 700.0, -744.0, 1e-310, 3.0, 0.999, -0.5, 1e-20, np.nan, np.inf, 0.0])
    code = ("import numpy as np; from numpy import nan, inf; from engine.model import fastmath as F; "
            "x = np.array(%r); "
            "print(' '.join(str(np.float64(f(v)).view(np.int64)) for f in (F.exp, F.log, F.log1p) for v in x))"
            % [float(v) for v in x])
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    got = [int(w) for w in p.stdout.split()]
    with np.errstate(all="ignore"):
        ref = [int(np.float64(v).view(np.int64)) for fn in ("exp", "log", "log1p") for v in _apply(fn, x)]
    assert got == ref
