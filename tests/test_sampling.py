"""Tests for engine.sampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from engine.distributions import parse_param
from engine.sampling import (
    STREAM_PARAMS,
    STREAM_SHOCKS,
    CorrelationError,
    Method,
    block_seed,
    check_correlation,
    copula_factor,
    correlate_uniforms,
    draw_uniforms,
    nearest_correlation,
    pearson_to_spearman,
    sample_parameters,
    spearman_to_pearson,
)

# rho12 = 0.7, rho13 = 0.3, rho23 = -0.5: not positive semi-definite.
BAD = np.array([[1.0, 0.7, 0.3], [0.7, 1.0, -0.5], [0.3, -0.5, 1.0]])
NAMES = ["growth", "margin", "wacc"]
# Positive semi-definite as rank correlations, but its copula (Pearson)
# matrix 2 sin(pi rho / 6) is not.
BAD_PEARSON = np.array([[1.0, -0.99, -0.57], [-0.99, 1.0, 0.68], [-0.57, 0.68, 1.0]])


def _min_eig(m):
    return float(np.linalg.eigvalsh(m)[0])


def _assert_correlation_matrix(m, tol=1e-12):
    assert np.allclose(m, m.T, atol=0, rtol=0)
    np.testing.assert_array_equal(np.diag(m), 1.0)
    assert np.all(np.abs(m) <= 1.0)
    assert _min_eig(m) >= -tol


# ---------------------------------------------------------------------------
# Spearman <-> Pearson
# ---------------------------------------------------------------------------


def test_spearman_to_pearson_reference():
    assert round(float(spearman_to_pearson(0.25)), 5) == 0.26105
    out = spearman_to_pearson([[1.0, 0.25], [-1.0, 0.0]])
    assert out.shape == (2, 2)
    assert out[0, 0] == 1.0 and out[1, 0] == -1.0 and out[1, 1] == 0.0
    np.testing.assert_allclose(out[0, 1], 2 * np.sin(np.pi * 0.25 / 6))


def test_pearson_to_spearman_inverts():
    r = np.linspace(-1, 1, 41)
    np.testing.assert_allclose(pearson_to_spearman(spearman_to_pearson(r)), r, atol=1e-15)


@pytest.mark.parametrize("bad", [1.01, -2.0, np.nan])
def test_spearman_to_pearson_rejects(bad):
    with pytest.raises(ValueError):
        spearman_to_pearson([0.1, bad])


# ---------------------------------------------------------------------------
# nearest correlation matrix
# ---------------------------------------------------------------------------


def test_nearest_correlation_higham_example():
    # Higham (2002), section 4: nearest correlation matrix to tridiag(-1, 2, -1)
    a = 2 * np.eye(4) - np.eye(4, k=1) - np.eye(4, k=-1)
    x = nearest_correlation(a)
    expected = np.array([
        [1.0000, -0.8084, 0.1916, 0.1068],
        [-0.8084, 1.0000, -0.6562, 0.1916],
        [0.1916, -0.6562, 1.0000, -0.8084],
        [0.1068, 0.1916, -0.8084, 1.0000],
    ])
    np.testing.assert_allclose(x, expected, atol=1e-4)
    _assert_correlation_matrix(x)


def test_nearest_correlation_of_bad_matrix():
    x = nearest_correlation(BAD)
    _assert_correlation_matrix(x)
    # it is closer to BAD than the identity or a scaled-down BAD is
    assert np.linalg.norm(x - BAD) < np.linalg.norm(0.9 * BAD + 0.1 * np.eye(3) - BAD)


def test_nearest_correlation_keeps_valid_matrix():
    valid = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.1], [-0.2, 0.1, 1.0]])
    np.testing.assert_allclose(nearest_correlation(valid), valid, atol=1e-12)
    ones = np.ones((4, 4))
    np.testing.assert_allclose(nearest_correlation(ones), ones, atol=1e-9)


@settings(deadline=None, max_examples=40)
@given(n=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_nearest_correlation_always_valid(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, (n, n))
    a = (a + a.T) / 2
    np.fill_diagonal(a, 1.0)
    x = nearest_correlation(a)
    _assert_correlation_matrix(x)


# ---------------------------------------------------------------------------
# check_correlation
# ---------------------------------------------------------------------------


def test_check_correlation_rejects_bad_matrix():
    with pytest.raises(CorrelationError) as info:
        check_correlation(BAD, NAMES)
    err = info.value
    msg = str(err)
    assert isinstance(err, ValueError)
    assert "not positive semi-definite" in msg
    assert "least eigenvalue -0.018" in msg
    assert err.min_eigenvalue == pytest.approx(-0.0179834, abs=5e-8)
    assert err.stage == "spearman"
    assert "repair = true" in msg and "[correlations]" in msg
    # the printed matrix, labelled with the names, 3 decimals
    for name, row in zip(NAMES, err.suggested):
        line = next(s for s in msg.splitlines() if s.startswith(name))
        assert line.split() == [name] + [f"{v:.3f}" for v in row]
    header = next(s for s in msg.splitlines() if s.split() == NAMES)
    assert header
    # .nearest is the nearest valid rank matrix, close to the input
    _assert_correlation_matrix(err.nearest)
    assert np.abs(err.nearest - BAD).max() < 0.05
    # the printed matrix can be pasted back and is accepted as is
    pearson = check_correlation(err.suggested, NAMES)
    assert _min_eig(pearson) >= -1e-10
    assert np.abs(err.suggested - BAD).max() < 0.05


def test_check_correlation_repair():
    pearson = check_correlation(BAD, NAMES, repair=True)
    assert pearson.shape == (3, 3)
    _assert_correlation_matrix(pearson, tol=1e-12)
    assert np.abs(pearson - spearman_to_pearson(BAD)).max() < 0.06
    # the factor reproduces it
    f = copula_factor(pearson)
    np.testing.assert_allclose(f @ f.T, pearson, atol=1e-10)


def test_check_correlation_pearson_stage():
    assert _min_eig(BAD_PEARSON) > 0
    assert _min_eig(spearman_to_pearson(BAD_PEARSON)) < -1e-4
    with pytest.raises(CorrelationError) as info:
        check_correlation(BAD_PEARSON, ["a", "b", "c"])
    err = info.value
    msg = str(err)
    assert err.stage == "pearson"
    assert "copula (Pearson) matrix" in msg
    assert "least eigenvalue -0.00106" in msg
    assert "repair = true" in msg
    check_correlation(err.suggested, ["a", "b", "c"])  # accepted
    pearson = check_correlation(BAD_PEARSON, ["a", "b", "c"], repair=True)
    _assert_correlation_matrix(pearson)


def test_check_correlation_accepts_valid_and_singular():
    valid = np.array([[1.0, 0.25], [0.25, 1.0]])
    np.testing.assert_allclose(check_correlation(valid, ["x", "y"]),
                               spearman_to_pearson(valid), rtol=1e-15)
    ones = np.ones((3, 3))
    np.testing.assert_array_equal(check_correlation(ones, list("abc")), ones)
    np.testing.assert_array_equal(check_correlation(np.eye(2), ["a", "b"]), np.eye(2))
    assert check_correlation(np.zeros((0, 0)), []).shape == (0, 0)


@pytest.mark.parametrize(
    ("matrix", "names", "match"),
    [
        ([[1.0, 0.2], [0.3, 1.0]], ["a", "b"], "not symmetric"),
        ([[1.0, 0.2], [0.2, 0.9]], ["a", "b"], "diagonal"),
        ([[1.0, 1.2], [1.2, 1.0]], ["a", "b"], r"\[-1, 1\]"),
        ([[1.0, 0.2], [0.2, 1.0]], ["a"], "2 x 2 but 1 input names"),
        ([[1.0, 0.2, 0.1], [0.2, 1.0, 0.1]], ["a", "b"], "square"),
        ([[1.0, np.nan], [np.nan, 1.0]], ["a", "b"], "not finite"),
        ([[1.0, 0.2], [0.2, 1.0]], ["a", "a"], "repeat"),
    ],
)
def test_check_correlation_input_errors(matrix, names, match):
    with pytest.raises(ValueError, match=match):
        check_correlation(matrix, names)


# ---------------------------------------------------------------------------
# copula factor
# ---------------------------------------------------------------------------


def test_copula_factor_positive_definite_is_cholesky():
    p = spearman_to_pearson(np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]))
    f = copula_factor(p)
    np.testing.assert_allclose(f, np.linalg.cholesky(p))
    np.testing.assert_allclose(f @ f.T, p, atol=1e-14)


@pytest.mark.parametrize(
    "p",
    [np.ones((3, 3)),
     np.array([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])],
)
def test_copula_factor_singular(p):
    f = copula_factor(p)
    np.testing.assert_allclose(f @ f.T, p, atol=1e-12)
    np.testing.assert_array_equal(f, copula_factor(p.copy()))


def test_copula_factor_rejects_indefinite():
    with pytest.raises(ValueError, match="not positive semi-definite"):
        copula_factor(spearman_to_pearson(BAD))


# ---------------------------------------------------------------------------
# seeds and uniforms
# ---------------------------------------------------------------------------


def test_block_seed_contract():
    for seed, block, stream in [(0, 0, 0), (42, 3, 1), (2**40, 7, 0)]:
        ss = block_seed(seed, block, stream)
        tree = np.random.SeedSequence(seed).spawn(block + 1)[block].spawn(stream + 1)[stream]
        np.testing.assert_array_equal(ss.generate_state(4), tree.generate_state(4))
        assert ss.spawn_key == (block, stream)
    assert (STREAM_PARAMS, STREAM_SHOCKS) == (0, 1)
    a = block_seed(1, 0, 0).generate_state(2)
    assert not np.array_equal(a, block_seed(1, 1, 0).generate_state(2))
    assert not np.array_equal(a, block_seed(1, 0, 1).generate_state(2))
    assert not np.array_equal(a, block_seed(2, 0, 0).generate_state(2))


@pytest.mark.parametrize("args", [(-1, 0, 0), (1, -1, 0), (1, 0, 1.5), (True, 0, 0)])
def test_block_seed_rejects(args):
    with pytest.raises(ValueError, match="non-negative integer"):
        block_seed(*args)


@pytest.mark.parametrize("method", list(Method) + ["random", "lhs", "sobol"])
def test_draw_uniforms_shape_range_determinism(method):
    u = draw_uniforms(100, 3, method, block_seed(7, 0, 0))
    assert u.shape == (100, 3) and u.dtype == np.float64
    assert np.all(u > 0.0) and np.all(u < 1.0)
    np.testing.assert_array_equal(u, draw_uniforms(100, 3, method, block_seed(7, 0, 0)))
    assert not np.array_equal(u, draw_uniforms(100, 3, method, block_seed(8, 0, 0)))
    assert draw_uniforms(5, 0, method, block_seed(7, 0, 0)).shape == (5, 0)
    assert draw_uniforms(0, 4, method, block_seed(7, 0, 0)).shape == (0, 4)


@pytest.mark.parametrize("method", ["random", "sobol"])
@pytest.mark.parametrize(("n", "m"), [(1000, 300), (1024, 512), (5, 3), (2, 1)])
def test_draw_uniforms_prefix_property(method, n, m):
    ss = block_seed(3, 2, 0)
    full = draw_uniforms(n, 4, method, ss)
    part = draw_uniforms(m, 4, method, ss)
    np.testing.assert_array_equal(full[:m], part)


def test_draw_uniforms_sobol_no_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draw_uniforms(1000, 5, "sobol", block_seed(0, 0, 0))
        draw_uniforms(1000, 5, "lhs", block_seed(0, 0, 0))


@pytest.mark.parametrize("n", [1, 7, 100, 1000])
def test_lhs_stratification(n):
    u = draw_uniforms(n, 5, Method.LHS, block_seed(11, 0, 0))
    strata = np.floor(u * n).astype(int)
    for col in strata.T:
        np.testing.assert_array_equal(np.sort(col), np.arange(n))


def test_sobol_balance_power_of_two():
    # the first 2**k scrambled Sobol points hit each of 2**k strata once
    u = draw_uniforms(256, 3, "sobol", block_seed(5, 0, 0))
    for col in np.floor(u * 256).astype(int).T:
        np.testing.assert_array_equal(np.sort(col), np.arange(256))


def test_draw_uniforms_errors():
    with pytest.raises(ValueError, match="unknown sampling method 'halton'; use one of: random, lhs, sobol"):
        draw_uniforms(10, 2, "halton", 0)
    with pytest.raises(ValueError, match="non-negative integer"):
        draw_uniforms(-1, 2, "random", 0)
    with pytest.raises(ValueError, match="non-negative integer"):
        draw_uniforms(10, 2.5, "random", 0)


@settings(deadline=None, max_examples=30)
@given(n=st.integers(0, 300), d=st.integers(0, 6),
       method=st.sampled_from(list(Method)), seed=st.integers(0, 2**63))
def test_draw_uniforms_open_interval(n, d, method, seed):
    u = draw_uniforms(n, d, method, np.random.SeedSequence(seed))
    assert u.shape == (n, d)
    assert np.all(u > 0.0) and np.all(u < 1.0)
    x = parse_param({"kind": "normal", "mean": 0, "sd": 1}).ppf(u)
    assert np.all(np.isfinite(x))


# ---------------------------------------------------------------------------
# copula and parameter sampling
# ---------------------------------------------------------------------------


def test_correlate_uniforms_leaves_input_and_other_columns():
    u = draw_uniforms(2000, 4, "random", block_seed(1, 0, 0))
    before = u.copy()
    f = copula_factor(spearman_to_pearson(np.array([[1.0, 0.6], [0.6, 1.0]])))
    out = correlate_uniforms(u, f, [3, 1])
    np.testing.assert_array_equal(u, before)
    np.testing.assert_array_equal(out[:, [0, 2]], u[:, [0, 2]])
    # first correlated column is unchanged by a lower-triangular factor
    np.testing.assert_allclose(out[:, 3], u[:, 3], rtol=1e-12)
    assert spearmanr(out[:, 3], out[:, 1]).statistic == pytest.approx(0.6, abs=0.05)
    np.testing.assert_allclose(correlate_uniforms(u, np.eye(2), [0, 2]), u, rtol=1e-12)


def test_correlate_uniforms_extremes_stay_open():
    u = np.array([[2.0**-54, 1 - 2.0**-53], [1 - 2.0**-53, 1 - 2.0**-53]])
    out = correlate_uniforms(u, copula_factor(np.ones((2, 2))), [0, 1])
    assert np.all(out > 0) and np.all(out < 1)


def test_correlate_uniforms_errors():
    u = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match="shape"):
        correlate_uniforms(u, np.eye(3), [0, 1])
    with pytest.raises(ValueError, match="distinct"):
        correlate_uniforms(u, np.eye(2), [0, 0])
    with pytest.raises(ValueError, match="distinct"):
        correlate_uniforms(u, np.eye(2), [0, 2])


SPECS = [
    {"kind": "normal", "mean": 0.05, "sd": 0.02},
    0.25,
    {"kind": "lognormal", "mean": 2000, "sd": 800},
    {"kind": "pert", "min": 0.1, "mode": 0.15, "max": 0.3},
]


def test_sample_parameters_realised_spearman():
    specs = [parse_param(s) for s in SPECS]
    pearson = check_correlation([[1.0, 0.25], [0.25, 1.0]], ["growth", "revenue"])
    x = sample_parameters(specs, 20000, "random", block_seed(2024, 0, STREAM_PARAMS),
                          corr_pearson=pearson, corr_index=[0, 2])
    assert x.shape == (20000, 4)
    assert spearmanr(x[:, 0], x[:, 2]).statistic == pytest.approx(0.25, abs=0.02)
    assert abs(spearmanr(x[:, 0], x[:, 3]).statistic) < 0.03
    np.testing.assert_array_equal(x[:, 1], 0.25)
    # marginals are the specs'
    assert x[:, 0].mean() == pytest.approx(0.05, abs=0.001)
    assert x[:, 2].mean() == pytest.approx(2000, rel=0.02)
    assert x[:, 3].min() >= 0.1 and x[:, 3].max() <= 0.3


@pytest.mark.parametrize("method", ["lhs", "sobol"])
def test_sample_parameters_correlated_qmc(method):
    specs = [parse_param(s) for s in SPECS]
    pearson = check_correlation([[1.0, -0.4], [-0.4, 1.0]], ["a", "b"])
    x = sample_parameters(specs, 4096, method, block_seed(1, 0, 0), pearson, [3, 0])
    assert spearmanr(x[:, 3], x[:, 0]).statistic == pytest.approx(-0.4, abs=0.03)
    assert x[:, 0].mean() == pytest.approx(0.05, abs=2e-4)


def test_sample_parameters_determinism_and_fixed_inputs():
    specs = [parse_param(s) for s in SPECS]
    drawn = [specs[0], specs[2], specs[3]]
    ss = block_seed(9, 1, STREAM_PARAMS)
    a = sample_parameters(specs, 500, "random", ss)
    np.testing.assert_array_equal(a, sample_parameters(specs, 500, "random", ss))
    # adding or removing a fixed input does not change other inputs' draws
    b = sample_parameters(drawn, 500, "random", ss)
    np.testing.assert_array_equal(a[:, [0, 2, 3]], b)
    c = sample_parameters([parse_param(1.0)] + specs, 500, "random", ss)
    np.testing.assert_array_equal(c[:, 1:], a)
    # with a correlation too
    pearson = check_correlation([[1.0, 0.5], [0.5, 1.0]], ["a", "b"])
    d = sample_parameters(specs, 500, "sobol", ss, pearson, [0, 3])
    e = sample_parameters(drawn, 500, "sobol", ss, pearson, [0, 2])
    np.testing.assert_array_equal(d[:, [0, 2, 3]], e)
    # column order follows the specs
    rev = sample_parameters(specs[::-1], 500, "random", ss)
    assert rev[:, 2].tolist() == [0.25] * 500


def test_sample_parameters_fixed_input_in_correlation_is_dropped():
    specs = [parse_param(s) for s in SPECS]
    pearson = check_correlation(np.array([[1.0, 0.3, 0.5], [0.3, 1.0, 0.2], [0.5, 0.2, 1.0]]),
                                ["g", "fixed", "m"])
    ss = block_seed(4, 0, 0)
    x = sample_parameters(specs, 3000, "random", ss, pearson, [0, 1, 3])
    sub = pearson[np.ix_([0, 2], [0, 2])]
    y = sample_parameters(specs, 3000, "random", ss, sub, [0, 3])
    np.testing.assert_array_equal(x, y)


def test_sample_parameters_defaults_and_errors():
    specs = [parse_param(s) for s in (SPECS[0], SPECS[2])]
    pearson = check_correlation([[1.0, 0.25], [0.25, 1.0]], ["a", "b"])
    ss = block_seed(0, 0, 0)
    np.testing.assert_array_equal(sample_parameters(specs, 50, "random", ss, pearson),
                                  sample_parameters(specs, 50, "random", ss, pearson, [0, 1]))
    with pytest.raises(ValueError, match="corr_index"):
        sample_parameters(specs + [parse_param(1)], 50, "random", ss, pearson)
    with pytest.raises(ValueError, match="corr_index"):
        sample_parameters(specs, 50, "random", ss, pearson, [0])
    with pytest.raises(ValueError, match="distinct"):
        sample_parameters(specs, 50, "random", ss, pearson, [0, 0])
    assert sample_parameters(specs, 0, "lhs", ss).shape == (0, 2)
    assert sample_parameters([], 10, "sobol", ss).shape == (10, 0)


@pytest.mark.parametrize("method", list(Method))
def test_draw_uniforms_does_not_mutate_seedseq(method):
    ss = block_seed(12, 3, 0)
    a = draw_uniforms(64, 3, method, ss)
    assert ss.n_children_spawned == 0
    np.testing.assert_array_equal(a, draw_uniforms(64, 3, method, ss))
    ss.spawn(2)  # spawning children elsewhere does not change the draw
    np.testing.assert_array_equal(a, draw_uniforms(64, 3, method, ss))


def test_draw_uniforms_random_is_default_rng_row_major():
    ss = block_seed(5, 1, 0)
    np.testing.assert_array_equal(draw_uniforms(50, 3, "random", ss),
                                  np.random.default_rng(ss).random((50, 3)))
    np.testing.assert_array_equal(draw_uniforms(50, 3, "random", 17),
                                  draw_uniforms(50, 3, "random", np.random.SeedSequence(17)))
    with pytest.raises(ValueError, match="SeedSequence"):
        draw_uniforms(5, 2, "random", np.random.default_rng(0))


# --------------------------------------------------------------------------- Iman-Conover for stratified designs

_RS = np.array([[1.0, 0.4, -0.3], [0.4, 1.0, 0.2], [-0.3, 0.2, 1.0]])


@pytest.mark.parametrize("method, n", [("lhs", 1000), ("sobol", 1024)])
def test_correlated_stratified_design_keeps_every_stratum(method, n):
    from scipy.stats import spearmanr

    from engine.sampling import spearman_to_pearson

    specs = [parse_param({"kind": "uniform", "min": 0, "max": 1}) for _ in range(3)]
    x = sample_parameters(specs, n, method, 7, spearman_to_pearson(_RS), [0, 1, 2])
    for j in range(3):  # every input hits each of the n strata [k/n, (k+1)/n) exactly once
        assert sorted(np.floor(x[:, j] * n).astype(int)) == list(range(n))
    rho = spearmanr(x).statistic
    np.testing.assert_allclose(rho[np.triu_indices(3, 1)], [0.4, -0.3, 0.2], atol=0.03)


def test_lhs_pair_from_the_brief_hits_every_stratum_once():
    # 1,000 paths, one pair at 0.4: the copula transform left multiple.mature in 36.3% of its strata
    from engine.sampling import spearman_to_pearson

    specs = [parse_param({"kind": "uniform", "min": 0, "max": 1}) for _ in range(2)]
    p = spearman_to_pearson(np.array([[1.0, 0.4], [0.4, 1.0]]))
    x = sample_parameters(specs, 1000, "lhs", 20260623, p, [0, 1])
    assert [len(np.unique(np.floor(x[:, j] * 1000))) for j in range(2)] == [1000, 1000]


def test_random_sampling_with_correlation_still_uses_the_copula_transform():
    from engine.sampling import copula_factor, correlate_uniforms, draw_uniforms, spearman_to_pearson

    specs = [parse_param({"kind": "uniform", "min": 0, "max": 1}) for _ in range(3)]
    p = spearman_to_pearson(_RS)
    x = sample_parameters(specs, 300, "random", 11, p, [0, 1, 2])
    u = correlate_uniforms(draw_uniforms(300, 3, "random", 11), copula_factor(p), [0, 1, 2])
    np.testing.assert_array_equal(x, u)  # bit-identical to the copula transform
