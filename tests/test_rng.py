"""The counter-based shock generator (engine.model.rng) and the re-simulation entry point (engine._run.resimulate).

The integer stream is checked word for word against numpy's Philox (Philox4x64-10), the normals
against scipy's ndtri and by distribution, and the kernel's shocks for independence of blocks,
threads and run length.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import ndtri

from engine.model import rng as R

KEY = np.array([0x243F6A8885A308D3, 0x13198A2E03707344], dtype=np.uint64)
U64 = st.integers(0, 2**64 - 1)


def _numpy_philox(counter, key):
    """numpy's Philox4x64-10 outputs for ``counter`` (numpy increments its counter before use)."""
    c = (sum(int(w) << (64 * i) for i, w in enumerate(counter)) - 1) % 2**256
    prev = np.array([(c >> (64 * i)) & (2**64 - 1) for i in range(4)], dtype=np.uint64)
    return [int(x) for x in np.random.Philox(counter=prev, key=np.asarray(key, dtype=np.uint64)).random_raw(4)]


# ------------------------------------------------------------------ the integer stream


@settings(max_examples=200, deadline=None)
@given(st.tuples(U64, U64, U64, U64), st.tuples(U64, U64))
def test_philox_equals_numpy_word_for_word(counter, key):
    ours = R.philox4x64(*(np.uint64(w) for w in counter), np.uint64(key[0]), np.uint64(key[1]))
    assert [int(w) for w in ours] == _numpy_philox(counter, key)


def test_philox_known_words_and_carries():
    """Fixed references (numpy 1.17+ Philox) including counters whose numpy predecessor borrows across words."""
    for counter in [(0, 0, 0, 0), (0, 1, 0, 0), (0, 0, 0, 1), (2**64 - 1,) * 4, (1, 2, 3, 4)]:
        ours = R.philox4x64(*(np.uint64(w) for w in counter), KEY[0], KEY[1])
        assert [int(w) for w in ours] == _numpy_philox(counter, KEY)
    # one word pinned outright, so a change of numpy's Philox would also be seen
    z = R.philox4x64(np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0))
    assert [int(w) for w in z] == _numpy_philox((0, 0, 0, 0), (0, 0))
    assert int(z[0]) == 0x16554D9ECA36314C


def test_philox_lanes_equal_one_counter_at_a_time():
    words = np.random.default_rng(5).integers(0, 2**64, size=(4, 37), dtype=np.uint64)
    lanes = words.copy()
    R.philox4x64_lanes(lanes[0], lanes[1], lanes[2], lanes[3], KEY[0], KEY[1])
    for i in range(37):
        assert tuple(lanes[:, i]) == R.philox4x64(*words[:, i], KEY[0], KEY[1])


@settings(max_examples=100, deadline=None)
@given(st.tuples(U64, U64, U64, U64), st.tuples(U64, U64))
def test_python_fallback_equals_the_compiled_philox(counter, key):
    """The interpreted kernel (NUMBA_DISABLE_JIT=1, mutation tests) draws the same words."""
    args = [np.uint64(w) for w in counter + key]
    assert [int(w) for w in R._philox4x64_py(*args)] == [int(w) for w in R.philox4x64(*args)]


def test_fill_step_numbers_the_variates_by_counter_words():
    """Variate v of step t of path i, generation g: word v % 4 of Philox at counter (v // 4, t, i, g)."""
    buf = np.empty(11)
    R.fill_step(KEY[0], KEY[1], 12345, 7, 3, 10, buf)
    for v in range(11):
        x = np.uint64(_numpy_philox((v // 4, 7, 12345, 3), KEY)[v % 4])
        ref = R.bits_to_normal(x) if v < 10 else R.bits_to_uniform(x)
        assert buf[v] == ref
    k = int(_numpy_philox((0, 7, 12345, 3), KEY)[0]) >> 11
    assert buf[0] == ndtri((k + 0.5) * 2.0**-53) or abs(buf[0] / ndtri((k + 0.5) * 2.0**-53) - 1) < 1e-14


def test_fill_path_as241_equals_fill_step_with_and_without_a_switch():
    """The AS241 all-steps-at-once draw gives the step-by-step numbers, the switch included."""
    n_normal, n_steps = 10, 40
    w = 12
    raw = np.empty(n_steps * w, dtype=np.uint64)
    z = np.empty(n_steps * w)
    tail = np.empty(n_steps * w, dtype=np.int64)
    ctr = np.empty((4, n_steps * w // 4), dtype=np.uint64)
    buf = np.empty(n_normal + 1)
    for switch, fresh, gen in ((n_steps, 77, 0), (13, 4242, 2)):
        R.fill_path_as241(KEY[0], KEY[1], 77, fresh, switch, gen, n_normal, raw, z, tail, ctr)
        for t in range(1, n_steps + 1):
            own = t <= switch
            R.fill_step(KEY[0], KEY[1], 77 if own else fresh, t, 0 if own else gen, n_normal, buf)
            np.testing.assert_array_equal(z[(t - 1) * w:(t - 1) * w + n_normal + 1], buf)
    assert (np.abs(z.reshape(n_steps, w)[:, :n_normal]) > 1.4395).any()  # the tails were exercised


# ------------------------------------------------------------------ uniforms and AS241


def test_uniforms_are_strictly_inside_and_exact():
    lo = R.bits_to_uniform(np.uint64(0))
    hi = R.bits_to_uniform(np.uint64(2**64 - 1))
    assert lo == 2.0**-53 and hi == 1.0 - 2.0**-53
    assert 0.0 < lo and hi < 1.0
    assert R.bits_to_uniform(np.uint64(2**63)) == 0.5 + 2.0**-53


def test_normals_are_antisymmetric_and_reach_the_2_to_minus_54_tail():
    xs = np.random.default_rng(3).integers(0, 2**64, size=2000, dtype=np.uint64)
    for x in xs:
        assert R.bits_to_normal(~x) == -R.bits_to_normal(x)
    z_min = R.bits_to_normal(np.uint64(0))  # u = 2**-54
    assert z_min == pytest.approx(ndtri(2.0**-54), rel=1e-14)
    assert z_min == pytest.approx(-8.2924, abs=1e-4)
    assert R.bits_to_normal(np.uint64(2**64 - 1)) == -z_min


def test_as241_matches_ndtri_to_1e_14_from_1e_minus_300_to_the_centre():
    p = np.concatenate([np.logspace(-300, -1, 3000), np.linspace(0.05, 0.5, 2001)[:-1],
                        [0.075, 0.0749999, 0.0750001, np.exp(-25.0), 2.0**-54, 2.0**-53]])
    for pi in p:
        ref = ndtri(pi)
        assert abs(R.normal_quantile(pi) - ref) <= 1e-14 * abs(ref), pi
        # the upper half by symmetry, through the exact (q, r) form the generator uses
        assert R.as241(0.5 - pi, pi) == -R.as241(pi - 0.5, pi)


def test_as241_central_region_agrees_with_ndtri_where_q_is_exact():
    q = np.round(np.linspace(-0.425, 0.425, 4001) * 2.0**40) * 2.0**-40  # 0.5 + q exact in float64
    for qi in q:
        ref = ndtri(0.5 + qi)
        assert R.as241(qi, 0.5 - abs(qi)) == pytest.approx(ref, rel=1e-14, abs=1e-300)


# ------------------------------------------------------------------ distribution


def _draws(ids, steps, n_var, key=KEY, step0=1, generation=0):
    out = np.empty((len(ids), steps, n_var))
    R.variates(key, np.asarray(ids, dtype=np.int64), step0, generation, out)
    return out


@pytest.fixture(scope="module")
def million():
    """1.1e6 normals: 1000 paths x 100 steps x 11 normals (+ their uniforms)."""
    return _draws(np.arange(1000), 100, 12)


def test_normals_pass_ks_and_moments(million):
    z = million[:, :, :11].ravel()
    n = z.size
    assert stats.kstest(z, "norm").pvalue > 1e-3
    se = 1 / np.sqrt(n)
    assert abs(z.mean()) < 4 * se
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 4 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 4 * np.sqrt(24 / n)


def test_uniforms_pass_ks(million):
    u = million[:, :, 11].ravel()
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert ((u > 0) & (u < 1)).all()


def test_no_lag_one_correlation_between_paths_steps_or_variates(million):
    z = million[:, :, :11]
    for a, b in [(z[1:], z[:-1]), (z[:, 1:], z[:, :-1]), (z[:, :, 1:], z[:, :, :-1])]:
        r = np.corrcoef(a.ravel(), b.ravel())[0, 1]
        assert abs(r) < 4 / np.sqrt(a.size), r


def test_generations_and_keys_are_uncorrelated(million):
    z = million[:, :, :11].ravel()
    for other in (_draws(np.arange(1000), 100, 12, generation=1), _draws(np.arange(1000), 100, 12,
                                                                        key=KEY ^ np.uint64(1))):
        r = np.corrcoef(z, other[:, :, :11].ravel())[0, 1]
        assert abs(r) < 4 / np.sqrt(z.size)


def test_tail_frequencies_at_1e7():
    """P(|z| > 4) and P(|z| > 5) at 1.1e7 draws: within 4 Poisson standard errors of 2 (1 - Phi(x))."""
    z = _draws(np.arange(10000), 100, 12, step0=1000)[:, :, :11]
    n = z.size
    for x in (4.0, 5.0):
        expect = n * 2 * stats.norm.sf(x)
        count = np.count_nonzero(np.abs(z) > x)
        assert abs(count - expect) < 4 * np.sqrt(expect) + 1, (x, count, expect)


# ------------------------------------------------------------------ the kernel: shocks by global path id


@pytest.fixture(scope="module")
def zhipu_plan():
    from engine.config import load_config
    from engine.simulate import ParameterTable, _Plan
    from tests.conftest import CONFIGS

    cfg = load_config(CONFIGS / "zhipu.toml")
    cfg = cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"block_size": 1000, "paths": 3000})})
    return cfg, ParameterTable(cfg), _Plan(cfg, ParameterTable(cfg))


def _rows(res, idx):
    return {k: (None if v is None else (v[..., idx] if k in ("out", "flags") else
                                        (v[:, idx] if k == "obs_out" else v[idx])))
            for k, v in res.items() if k in ("out", "flags", "obs_out", "obs_seg")}


def _equal(a, b):
    for k in ("out", "flags", "obs_out", "obs_seg"):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_resimulate_reproduces_any_rows_of_the_run(zhipu_plan):
    from engine._run import resimulate, run_one_block

    cfg, table, plan = zhipu_plan
    for block in (0, 1):
        run = run_one_block(cfg, table, plan, block)
        theta, _ = plan.theta(block, 1000)
        pick = np.array([0, 3, 499, 500, 998, 999]) if block == 0 else np.array([250, 251, 777, 12])
        res = resimulate(plan, theta[pick], run["lo"] + pick)
        _equal(res, _rows(run, pick))
        assert res["obs_out"] is not None and res["obs_out"].shape[1] == len(pick)


def test_switch_replays_the_years_up_to_the_switch_and_draws_fresh_after(zhipu_plan):
    from engine._run import resimulate, run_one_block

    cfg, table, plan = zhipu_plan
    run = run_one_block(cfg, table, plan, 1)
    theta, _ = plan.theta(1, 1000)
    pick = np.arange(100, 400)
    own = _rows(run, pick)
    spy = round(cfg.n_steps / cfg.simulation.horizon_years)  # steps per fiscal year
    s = 2 * spy  # the end of the second fiscal year
    res = resimulate(plan, theta[pick], run["lo"] + pick, fresh_ids=run["lo"] + pick, switch_step=s, generation=1)
    np.testing.assert_array_equal(res["obs_out"][:, :, :2], own["obs_out"][:, :, :2])
    np.testing.assert_array_equal(res["obs_seg"][:, :2], own["obs_seg"][:, :2])
    later = res["obs_seg"][:, 2:]
    alive = ~np.isnan(later) & ~np.isnan(own["obs_seg"][:, 2:])
    assert alive.sum() > 100 and (later[alive] != own["obs_seg"][:, 2:][alive]).mean() > 0.99
    # another generation or other fresh ids: other shocks again; the same ones: the same bits
    res2 = resimulate(plan, theta[pick], run["lo"] + pick, fresh_ids=run["lo"] + pick, switch_step=s, generation=2)
    assert (res2["obs_seg"][:, 2:][alive] != later[alive]).mean() > 0.99
    again = resimulate(plan, theta[pick], run["lo"] + pick, fresh_ids=run["lo"] + pick, switch_step=s, generation=1)
    _equal(again, res)


def test_resimulate_names_bad_arguments(zhipu_plan):
    from engine._run import resimulate
    from engine.errors import InputError

    cfg, table, plan = zhipu_plan
    theta, _ = plan.theta(0, 4)
    with pytest.raises(InputError, match="ids must be 4 non-negative integer path ids"):
        resimulate(plan, theta, [0, 1, 2])
    with pytest.raises(InputError, match="ids must be 4 non-negative"):
        resimulate(plan, theta, [0, 1, 2, -1])
    with pytest.raises(InputError, match=r"switch_step = 999 must be an integer step in 0 \.\. "):
        resimulate(plan, theta, [0, 1, 2, 3], switch_step=999, generation=1)
    with pytest.raises(InputError, match="fresh shocks need a generation >= 1"):
        resimulate(plan, theta, [0, 1, 2, 3], switch_step=3)
    with pytest.raises(InputError, match=r"theta has shape \(4, 3\)"):
        resimulate(plan, theta[:, :3], [0, 1, 2, 3])


def test_shocks_do_not_depend_on_block_size_or_threads():
    """A config whose inputs are all fixed: only the shocks vary by path, and they follow the path's id alone."""
    from engine.config import Config
    from engine.simulate import simulate
    from tests.conftest import base_dict

    d = base_dict()
    d["segments"][0]["growth"]["volatility"] = 0.3
    d["segments"][0]["churn"] = {"rate": 0.1, "dispersion": 0.5}
    d["margin"]["noise_sd"] = 0.05
    d["simulation"].update(paths=5000, block_size=4096)
    cfg = Config.model_validate(d)
    a = simulate(cfg, threads=1)
    cfg2 = cfg.model_copy(update={"simulation": cfg.simulation.model_copy(update={"block_size": 1000})})
    b = simulate(cfg2, threads=2)
    vps = a["value_per_share"].values
    assert np.unique(vps).size > 4000  # the shocks do reach the value
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)


# ------------------------------------------------------------------ the ziggurat (the kernel's normals)


def test_ziggurat_tables_regenerate_bit_for_bit():
    """``python -m engine.model._zig_tables`` would write exactly the committed literals."""
    from pathlib import Path

    from engine.model import _zig_tables as T

    r, v, ki, wi, fi = T.compute()
    assert (r, v) == (T.ZIG_R, T.ZIG_V)
    assert ki == [int(k) for k in T.ZIG_KI]
    assert [w.hex() for w in wi] == [w.hex() for w in T.ZIG_WI]
    assert [f.hex() for f in fi] == [f.hex() for f in T.ZIG_FI]
    text = Path(T.__file__).read_text()
    assert text.endswith(T._source(r, v, ki, wi, fi))


def test_ziggurat_tables_have_equal_layer_areas():
    """Every layer i >= 1 has area x_i (f(x_{i-1}) - f(x_i)) = v, and v = r f(r) + the tail integral."""
    from scipy.special import erfc

    from engine.model._zig_tables import ZIG_FI, ZIG_KI, ZIG_R, ZIG_V, ZIG_WI

    x = ZIG_WI * 2.0**52
    assert x[255] == ZIG_R and ZIG_FI[0] == 1.0 and ZIG_KI[1] == 0
    assert ZIG_V == pytest.approx(ZIG_R * np.exp(-ZIG_R**2 / 2) + np.sqrt(np.pi / 2) * erfc(ZIG_R / np.sqrt(2)),
                                  rel=1e-14)
    np.testing.assert_allclose(x[1:] * (np.r_[1.0, ZIG_FI[1:-1]] - ZIG_FI[1:]), ZIG_V, rtol=1e-12)
    np.testing.assert_allclose(ZIG_FI[1:], np.exp(-x[1:] ** 2 / 2), rtol=1e-15)
    ratio = ZIG_KI[2:].astype(float) * 2.0**-52
    np.testing.assert_allclose(ratio, x[1:-1] / x[2:], rtol=1e-15)
    assert ZIG_KI[0] * 2.0**-52 == pytest.approx(ZIG_R * ZIG_FI[255] / ZIG_V, rel=1e-15)
    assert x[1] == pytest.approx(0.2152418959849, rel=1e-12)  # the top layer's edge


def test_ziggurat_from_words_follows_numpy_word_for_word():
    """numpy's Generator(Philox).standard_normal consumes the same words for the same normals.

    Our tables are derived in 60-digit arithmetic and differ from numpy's in the last bits, so
    the values agree to 1e-13 relative rather than bit for bit; the consumption (every fast-path
    accept, wedge and tail decision over 1e6 draws) is identical.
    """
    words = np.random.Philox(key=2024).random_raw(1_030_000)
    out = np.empty(1_000_000)
    n, k = R.ziggurat_from_words(words, out)
    assert n == 1_000_000 and 1_000_000 < k < 1_030_000
    bg = np.random.Philox(key=2024)
    ref = np.random.Generator(bg).standard_normal(n)
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=0)
    assert int(bg.random_raw()) == int(words[k])  # numpy stopped at the same word
    assert np.abs(out).max() > ZIG_R_  # the tail was drawn


ZIG_R_ = 3.6541528853610087


def _zig_reference(r, j, lane, c1, c2, c3, key):
    """zig_slow in plain Python: fast path, then the attempts at counters (2^63 + a 2^34 + lane 2^32 + j, c1, c2, c3)."""
    import math

    from engine.model._zig_tables import ZIG_FI, ZIG_KI, ZIG_R, ZIG_WI

    def fast(r):
        i, m = r & 0xFF, (r >> 9) & (2**52 - 1)
        x = m * float(ZIG_WI[i])
        return (-x if (r >> 8) & 1 else x), m < int(ZIG_KI[i])

    def unit(w):
        return (w >> 11) * 2.0**-53

    x, ok = fast(r)
    a = 0
    while not ok:
        a += 1
        ctr = (2**63 + (a << 34) + (lane << 32) + j, c1, c2, c3)
        w0, w1, w2, _ = (int(w) for w in R._philox4x64_py(*(np.uint64(c) for c in ctr), key[0], key[1]))
        i = r & 0xFF
        if i == 0:
            xx = -(1.0 / ZIG_R) * math.log1p(-unit(w0))
            yy = -math.log1p(-unit(w1))
            x, ok = (-(ZIG_R + xx) if (r >> 17) & 1 else ZIG_R + xx), yy + yy > xx * xx
        elif (ZIG_FI[i - 1] - ZIG_FI[i]) * unit(w0) + ZIG_FI[i] < math.exp(-0.5 * x * x):
            ok = True
        else:
            r = w2
            x, ok = fast(r)
    return x


def test_zig_slow_follows_its_sub_counters():
    """Missed words of layer 0 (tail), of other layers (wedge) and fast-path words against the plain-Python reference."""
    from engine.model._zig_tables import ZIG_KI

    rng = np.random.default_rng(9)
    words = []
    for layer in [0] * 150 + list(rng.integers(1, 256, 300)):  # misses: m >= KI[layer]
        m = int(rng.integers(int(ZIG_KI[layer]), 2**52))
        words.append((int(rng.integers(0, 8)) << 61) | (m << 9) | (int(rng.integers(0, 2)) << 8) | int(layer))
    words += [int(w) for w in rng.integers(0, 2**64, 100, dtype=np.uint64)]
    tails = 0
    for n, r in enumerate(words):
        j, lane, c1, c2, c3 = n, n % 4, 17, 123456789, n % 3
        if n < 450:
            assert not R.zig_fast(np.uint64(r))[1]
        got = R.zig_slow(np.uint64(r), j, lane, np.uint64(c1), np.uint64(c2), np.uint64(c3), KEY[0], KEY[1])
        assert got == _zig_reference(r, j, lane, c1, c2, c3, [int(KEY[0]), int(KEY[1])])
        tails += abs(got) > ZIG_R_
    assert tails > 100  # most layer-0 misses end in the tail


def test_fill_path_equals_zig_slow_slot_by_slot():
    """The vectorised all-steps draw gives each normal as zig_slow of its word, and the same uniforms as fill_path."""
    n_normal, n_steps, w = 10, 40, 12
    raw = np.empty(n_steps * w, dtype=np.uint64)
    z = np.empty(n_steps * w)
    z_as241 = np.empty(n_steps * w)
    miss = np.empty(n_steps * w, dtype=np.int64)
    ctr = np.empty((4, n_steps * w // 4), dtype=np.uint64)
    ref = np.empty((1, n_steps, n_normal + 1))
    slow = 0
    for path in range(60):
        switch, fresh, gen = (n_steps, path, 0) if path % 2 else (13, 4242 + path, 2)
        R.fill_path(KEY[0], KEY[1], path, fresh, switch, gen, n_normal, raw, z, miss, ctr)
        R.fill_path_as241(KEY[0], KEY[1], path, fresh, switch, gen, n_normal, raw, z_as241, miss, ctr)
        zz = z.reshape(n_steps, w)
        R.variates(KEY, np.array([path]), 1, 0, ref)
        np.testing.assert_array_equal(zz[:switch, :n_normal + 1], ref[0, :switch])
        if switch < n_steps:
            R.variates(KEY, np.array([fresh]), switch + 1, gen, ref[:, switch:])
            np.testing.assert_array_equal(zz[switch:, :n_normal + 1], ref[0, switch:])
        np.testing.assert_array_equal(zz[:, n_normal], z_as241.reshape(n_steps, w)[:, n_normal])
        words = np.empty((n_steps, w), dtype=np.uint64)
        for t in range(n_steps):
            own = t + 1 <= switch
            for g in range(w // 4):
                words[t, 4 * g:4 * g + 4] = R.philox4x64(np.uint64(g), np.uint64(t + 1), np.uint64(path if own else fresh),
                                                        np.uint64(0 if own else gen), KEY[0], KEY[1])
        slow += sum(not R.zig_fast(x)[1] for x in words[:, :n_normal].ravel())
    assert slow > 100  # the slow path was exercised (about 1.5% of 24,000 normals)
