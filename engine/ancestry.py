"""Error bars of an equally weighted resampled sample, from its ancestry.

After a sequential Monte Carlo resampling step (``pricedin update --resample``) the P
paths are copies of fewer prior paths (their ancestors): copies share their ancestor's
drawn inputs and its years up to the report, so the sample is worth fewer than P
independent draws. The functions here estimate the variance of a sample mean from the
ancestry (Chan & Lai 2013) and turn it into an effective sample size (Korn & Graubard
1998) behind standard errors and Wilson intervals. Used by :mod:`engine.update` (the
update and ``report --price``) and :mod:`engine.summary` (the report of a resampled
file); a leaf module, so neither imports the other for it.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InputError

__all__ = ["ancestor_variance", "resampled_proportion"]

#: The 97.5% standard normal quantile (two-sided 95% intervals).
_Z95 = 1.959963984540054


def _se(p: float, n: float) -> float:
    """``sqrt(p (1 - p) / n)``; NaN when p is 0 or 1 (as :func:`engine.summary.proportion`: a false 0 there)."""
    return math.sqrt(p * (1.0 - p) / n) if 0.0 < p < 1.0 else float("nan")


def _wilson(p: float, n: float) -> tuple[float, float]:
    """The 95% Wilson score interval (Wilson 1927, JASA 22) of a proportion ``p`` at a (real) sample size ``n``."""
    z2 = _Z95 * _Z95
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = _Z95 * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def ancestor_variance(x, ancestor) -> float:
    """Variance of the mean of a resampled sample, estimated from its ancestry.

    ``V = (1 / P^2) sum_a ( sum_{i: ancestor_i = a} (x_i - xbar) )^2``: the paths are grouped by the prior
    path they descend from (their ancestor), the deviations from the sample mean are summed within each
    group, and the group sums are treated as independent. This is the ancestry ("Eve index") estimator
    of the variance of a particle estimate of Chan & Lai (2013, "A general theory of particle filters in
    hidden Markov models and some applications", Annals of Statistics 41(6)), studied by Lee & Whiteley
    (2018, "Variance estimation in the particle filter", Biometrika 105(3)), whose unbiased version
    multiplies it by (P / (P - 1))^2 after one resampling step, a factor within 0.1% of 1 from
    P = 2,000 paths; in survey terms it is the with-replacement variance estimator of a cluster sample,
    the ancestors the clusters (Cochran 1977, *Sampling Techniques*, section 9A).

    Copies of one ancestor share its drawn inputs and its observed years, so they are not independent:
    ``V`` counts an ancestor with ``n`` copies that agree as one draw of weight ``n / P`` (when every copy
    equals its ancestor, ``V = sum_a (n_a / P)^2 (x_a - xbar)^2``, the self-normalised importance-sampling
    variance of the pooled weights, Owen 2013, *Monte Carlo theory, methods and examples*, section 9.2),
    and it credits the fresh shocks after the report where copies part ways. With one ancestor it is 0
    (nothing tells the spread between ancestors): callers fall back on the pooled ESS. For whole numbers
    (bool or integer ``x``: a hit indicator) the group sums are formed in exact integers, so ``V`` is 0
    exactly when every group's share equals the overall share (not the square of a rounding residue).

    Parameters
    ----------
    x : array_like, (P,)
        Per-path values (any unit; a bool hit indicator for a probability).
    ancestor : array_like of int, (P,)
        Each path's ancestor (any labels: equal labels, one group).

    Returns
    -------
    float
        ``V`` in the squared unit of ``x``; the standard error of the sample mean is ``sqrt(V)``.

    Raises
    ------
    InputError
        ``x`` and ``ancestor`` of different shapes, empty, or ``x`` not finite.
    """
    x0 = np.asarray(x)
    x = np.asarray(x0, dtype=np.float64)
    a = np.asarray(ancestor)
    if x.ndim != 1 or x.shape != a.shape or not x.size:
        raise InputError(f"x {x.shape} and ancestor {a.shape}: expected two 1-d arrays of the same length >= 1 (one "
                         "entry a path)")
    if not np.all(np.isfinite(x)):
        raise InputError("x: every value must be finite to estimate the variance of its mean")
    _, group, n_a = np.unique(a, return_inverse=True, return_counts=True)
    if n_a.size == 1:  # one group: its sum of deviations is 0 exactly (in floats only to rounding)
        return 0.0
    group = group.ravel()
    P = x.size
    if (x0.dtype == np.bool_ or np.issubdtype(x0.dtype, np.integer)) and P * float(np.abs(x).sum()) < 2.0**62:
        # whole numbers (a hit indicator): the group sums of deviations, (P S_a - n_a S) / P, in exact integers,
        # so groups whose shares all equal the overall share give V = 0, not rounding residue
        s_a = np.bincount(group, weights=x).astype(np.int64)
        num = (P * s_a - n_a.astype(np.int64) * int(s_a.sum())).astype(np.float64)
        return float(np.dot(num, num)) / float(P) ** 4
    sums = np.bincount(group, weights=x - x.mean())
    return float(np.dot(sums, sums)) / float(P) ** 2


def _ancestry_n(var_x: float, v_hat: float, paths: int, fallback: float) -> tuple[float, str]:
    """(effective n, how it was found): ``var_x / V`` (Korn & Graubard 1998) capped at the paths, else the fallback."""
    if var_x > 0 and v_hat > 0:
        return min(float(paths), var_x / v_hat), "ancestors"
    return min(float(paths), float(fallback)), "pooled_ess"


def resampled_proportion(mask, ancestor, pooled_ess: float) -> dict:
    """A probability from an equally weighted resampled sample, with error bars from its ancestry.

    ``p`` is the share of hits; ``V`` = :func:`ancestor_variance` of the hit indicator. The effective sample
    size is Korn & Graubard's (1998, Survey Methodology 24(2)) ``n_eff = p (1 - p) / V``, at most the number
    of paths ``P`` (then the binomial error of ``P`` independent paths, the smallest the sample can claim);
    when ``V`` says nothing (p = 0 or 1, or one ancestor) ``n_eff = min(P, pooled_ess)``. The standard error
    is ``sqrt(p (1 - p) / n_eff)`` (NaN when p is 0 or 1) and the interval Wilson's (1927) with ``n = n_eff``.

    Parameters
    ----------
    mask : array_like of bool, (P,)
        Whether each path is a hit.
    ancestor : array_like of int, (P,)
        Each path's ancestor (:func:`resample`'s ``ancestor`` variable).
    pooled_ess : float
        Kish's ESS of the pooled prior paths the sample was resampled from (> 0).

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci95_low``, ``ci95_high``, ``ess`` (= ``n_eff``) as :func:`weighted_proportion`,
        and ``ess_from``: ``'ancestors'`` or ``'pooled_ess'``.
    """
    m = np.asarray(mask, dtype=bool)
    P = int(m.size)
    p = float(np.count_nonzero(m)) / P
    n, how = _ancestry_n(p * (1.0 - p), ancestor_variance(m, ancestor), P, pooled_ess)
    lo, hi = _wilson(p, n)
    return {"estimate": p, "se": _se(p, n), "ci95_low": lo, "ci95_high": hi, "ess": n, "ess_from": how}


def _ancestry_errors(report: dict, ds, ancestor, pooled_ess: float) -> dict:
    """``report`` (:func:`engine.update.weighted_report` or :func:`engine.summary.summary_dict` of an equally weighted
    resampled ``ds``) with errors from the ancestry.

    P(justified) in both lenses by :func:`resampled_proportion`; the mean value per share's ``se_mean`` =
    ``sd / sqrt(n_eff)``, ``n_eff = sd^2 / V`` (:func:`ancestor_variance`) capped at the paths (or
    ``min(P, pooled_ess)`` when ``V`` = 0), stored as ``value_per_share.n_eff``; ``ess`` = ``pooled_ess``.
    """
    out = dict(report)
    out["p_justified"] = {lens: resampled_proportion(ds[f"justified_{lens}"].values, ancestor, pooled_ess)
                          for lens in ("dcf", "market")}
    vps = dict(report["value_per_share"])
    v = np.asarray(ds["value_per_share"].values, dtype=np.float64)
    n, how = _ancestry_n(vps["sd"] ** 2, ancestor_variance(v, ancestor), v.size, pooled_ess)
    vps.update({"se_mean": vps["sd"] / math.sqrt(n), "n_eff": n, "n_eff_from": how})
    out["value_per_share"] = vps
    out["ess"] = float(pooled_ess)
    return out
