"""Sums whose last bit does not depend on memory layout.

``numpy.sum`` and ``numpy.mean`` are not bit-reproducible across memory
layouts: a contiguous, aligned float64 array is summed pairwise in 8-wide
unrolled blocks, but an unaligned or strided one (e.g. decoded from a Zarr chunk)
goes through numpy's buffered iterator in 8,192-element pieces, and the last bit
of the sum changes. The reproducibility contract (:mod:`engine._plan`) asks for the same
report to the bit from the same seed, whether the values were computed in this
process or read back from a store, so the report's means and standard deviations
use the sums here instead.

The sum is Neumaier's compensated summation (Neumaier 1974, "Rundungsfehleranalyse
einiger Verfahren zur Summation endlicher Summen", ZAMM 54; Higham 2002, *Accuracy
and Stability of Numerical Algorithms*, 2nd ed., section 4.3) taken in path order,
with its state ``(s, c)`` carried from one block to the next: a sum over blocks
equals the sum over the whole array, bit for bit. Its error is at most about
``2 eps |sum| + O(n eps^2) sum |x|``, far below numpy's pairwise ``O(eps log n)``.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

__all__ = ["compensated_sum", "mean_sd", "sq_dev_sum", "total"]

SumState = tuple[float, float]  # (s, c): running sum and its compensation


@jit
def _neumaier_add(s, c, v):
    """One step of Neumaier's summation: the sum ``s`` and compensation ``c`` after adding ``v``."""
    t = s + v
    if abs(s) >= abs(v):
        c += (s - t) + v
    else:
        c += (v - t) + s
    return t, c


@jit
def _neumaier(x, s, c):
    for i in range(x.shape[0]):
        s, c = _neumaier_add(s, c, x[i])
    return s, c


@jit
def _neumaier_sq_dev(x, m, s, c):
    for i in range(x.shape[0]):
        d = x[i] - m
        s, c = _neumaier_add(s, c, d * d)
    return s, c


def _as_1d(x) -> np.ndarray:
    # an aligned, contiguous float64 copy only where the input is not one already
    return np.require(np.asarray(x, dtype=np.float64).ravel(), np.float64, ["C", "A"])


def _total(state: SumState) -> float:
    s, c = state
    t = s + c
    return float(t) if math.isfinite(t) else float(s)


def compensated_sum(x, state: SumState = (0.0, 0.0)) -> SumState:
    """Add the values of ``x``, in order, to a running compensated sum.

    Parameters
    ----------
    x : array_like, any shape
        Values (any unit); taken in C order. NaN or inf propagate as in a plain sum.
    state : (float, float)
        The running ``(sum, compensation)``; ``(0.0, 0.0)`` to start.

    Returns
    -------
    (float, float)
        The new state; ``s + c`` of the final state is the sum. Summing blocks
        one after another gives the same state, bit for bit, as one call on
        their concatenation, whatever the blocks' memory layout.
    """
    return tuple(float(v) for v in _neumaier(_as_1d(x), float(state[0]), float(state[1])))


def sq_dev_sum(x, mean: float, state: SumState = (0.0, 0.0)) -> SumState:
    """Add ``(x - mean)**2``, in order, to a running compensated sum (see :func:`compensated_sum`)."""
    return tuple(float(v) for v in _neumaier_sq_dev(_as_1d(x), float(mean), float(state[0]), float(state[1])))


def total(state: SumState) -> float:
    """The sum held by a state of :func:`compensated_sum` (``s + c``; ``s`` when that is not finite)."""
    return _total(state)


def mean_sd(x, ddof: int = 1) -> tuple[float, float]:
    """Mean and standard deviation, independent of memory layout to the bit.

    Parameters
    ----------
    x : array_like, (n,)
        Values (any unit), n >= 1.
    ddof : int
        Delta degrees of freedom of the standard deviation (1: sample sd).

    Returns
    -------
    (float, float)
        ``mean = sum(x) / n`` and ``sd = sqrt(sum((x - mean)**2) / (n - ddof))``
        (two-pass; Welford-free), both from compensated sums; ``sd`` is 0.0 when
        ``n <= ddof``. ``(nan, nan)`` for an empty input.
    """
    a = _as_1d(x)
    n = a.size
    if n == 0:
        return float("nan"), float("nan")
    mean = _total(compensated_sum(a)) / n
    if n <= ddof:
        return mean, 0.0
    return mean, math.sqrt(_total(sq_dev_sum(a, mean)) / (n - ddof))
