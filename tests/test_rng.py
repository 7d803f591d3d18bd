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


def test_fill_path_equals_fill_step_with_and_without_a_switch():
    """The kernel's all-steps-at-once draw gives the step-by-step numbers, the switch included."""
    n_normal, n_steps = 10, 40
    w = 12
    raw = np.empty(n_steps * w, dtype=np.uint64)
    z = np.empty(n_steps * w)
    tail = np.empty(n_steps * w, dtype=np.int64)
    ctr = np.empty((4, n_steps * w // 4), dtype=np.uint64)
    buf = np.empty(n_normal + 1)
    for switch, fresh, gen in ((n_steps, 77, 0), (13, 4242, 2)):
        R.fill_path(KEY[0], KEY[1], 77, fresh, switch, gen, n_normal, raw, z, tail, ctr)
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
