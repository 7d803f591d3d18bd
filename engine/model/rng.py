"""The kernel's shock generator: counter-based, so every variate is a pure function of its coordinates.

Each variate of the path kernel is a pure function of (key, path id, step, variate index,
generation): nothing else -- not the block size, the block's order, the thread, the run's
length, nor the draws before it -- changes it. A run's paths, blocks and workers are then
bit-identical by construction, common random numbers hold coordinate by coordinate, and a
path's shocks can be replayed from its global id alone (:func:`engine._run.resimulate`).

Integers: Philox4x64-10
-----------------------
The bits come from Philox4x64-10 (Salmon, Moraes, Dror and Shaw 2011, "Parallel random
numbers: as easy as 1, 2, 3", SC'11), a keyed bijection of a 256-bit counter: ten rounds of
two 64 x 64 -> 128-bit multiplications (the high half computed from 32-bit halves, as
numba has no 128-bit integer) with the key bumped by the Weyl constants between rounds. It is
the generator of ``numpy.random.Philox``, so :func:`philox4x64` is tested bit for bit against
numpy (numpy increments its counter before each use: its outputs for counter ``c`` are ours
for ``c + 1``). The counter of step ``t`` (1-based) of path ``i`` in generation ``g`` is

    ``(j, t, i, g)`` (words 0 to 3),

and its four 64-bit outputs are variates ``4 j .. 4 j + 3`` of that step. The key is two
64-bit words from the run's seed (:func:`engine.sampling.shock_key`). Generation 0 is the
run; a re-simulation draws its fresh shocks from generation ``g >= 1`` (a disjoint part of
the same counter space, so independent of the run's by Philox's design).

Variates
--------
- AS241 normals (the reference draw; the kernel's normals are the ziggurat's, below): the top 53 bits ``k`` of an output give the uniform ``u = (k + 1/2) 2^-53``
  (strictly inside (0, 1), symmetric about 1/2), and the normal is ``Phi^-1(u)`` by
  Wichura's algorithm AS241 (PPND16; Applied Statistics 37(3), 477-484, 1988; relative
  accuracy about 1e-16): a rational polynomial for ``|u - 1/2| <= 0.425`` (85% of draws, no
  transcendental call), ``sqrt(-log(min(u, 1 - u)))`` and a rational polynomial in the tails.
  ``u - 1/2`` and ``min(u, 1 - u)`` are formed exactly from ``k`` (both are multiples of
  ``2^-54`` below ``2^53`` of them), so the normals are exactly antisymmetric in ``k`` and
  reach ``|z| = 8.29`` (``u = 2^-54``).
- Uniforms (the failure draw): the top 52 bits ``k`` give ``u = (k + 1/2) 2^-52``, the odd
  multiples of ``2^-53``, each exact in float64, in ``[2^-53, 1 - 2^-53]``.

Ziggurat normals (the kernel's draw)
------------------------------------
The kernel's normals (:func:`fill_path`, :func:`variates`) come from the same slots and
words by the 256-layer ziggurat of Marsaglia and Tsang (2000, "The ziggurat method for
generating random variables", J. Stat. Softw. 5(8)), with numpy's bit use (Doornik 2005:
layer and magnitude from separate bits): bits 0-7 of a word are the layer, bit 8 the sign,
bits 9-60 the magnitude; about 98.5% of words are accepted at once (:func:`zig_fast`: a
table lookup, a multiply, a compare), the rest take further Philox words from sub-counters
of their own (:func:`zig_slow`), so every normal stays a pure function of its coordinates.
The tables are generated in decimal arithmetic (:mod:`engine.model._zig_tables`);
:func:`ziggurat_from_words` consumes a word sequence as numpy's ``standard_normal`` does
and follows numpy's ``Generator(Philox)`` word for word (values to 1e-13: numpy's tables
differ from these in the last bits). The ziggurat costs about 2.3 ns a word above Philox's
2.6, against AS241's 5.7. AS241 (:func:`fill_step`, :func:`fill_path_as241`,
:func:`as241_variates`) stays as the exact-quantile reference draw; the per-path kernel switched
from it to the ziggurat (1.20x; the path-chunked kernel measured with it was not kept; docs/decisions.md
has the numbers).
The uniforms are the same under both.

Why this generator: Philox4x64-10 can be checked word for word against a published
implementation (numpy's); a splitmix64-style counter hash measured 1.41-1.47x faster on the
kernel, under the 1.5x that would have outweighed that (docs/decisions.md has the numbers).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .._jit import jit
from ._zig_tables import ZIG_FI, ZIG_KI, ZIG_R, ZIG_WI

__all__ = ["philox4x64", "philox4x64_lanes", "as241", "normal_quantile", "bits_to_normal", "bits_to_uniform", "fill_step",
           "fill_path", "fill_path_as241", "variates", "as241_variates", "PHILOX_ROUNDS", "zig_fast", "zig_tail",
           "zig_wedge", "zig_slow", "ziggurat_from_words"]

#: Rounds of Philox4x64 (the "-10" of Philox4x64-10; numpy's and Random123's default).
PHILOX_ROUNDS = 10

# Random123 (philox.h) constants for Philox4x64: the multipliers and the Weyl key bumps
_M0 = np.uint64(0xD2E7470EE14C6C93)
_M1 = np.uint64(0xCA5A826395121157)
_W0 = np.uint64(0x9E3779B97F4A7C15)  # golden ratio
_W1 = np.uint64(0xBB67AE8584CAA73B)  # sqrt(3) - 1
_LO32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S10 = np.uint64(10)
_S12 = np.uint64(12)
_ONE = np.uint64(1)
_TWO53 = np.int64(1 << 53)
_TWOM54 = 2.0**-54
_TWOM52 = 2.0**-52


@jit(inline="always")
def _mulhilo(a, b):
    """(high, low) 64-bit words of the 128-bit product ``a * b`` of two uint64 (schoolbook on 32-bit halves)."""
    a0 = a & _LO32
    a1 = a >> _S32
    b0 = b & _LO32
    b1 = b >> _S32
    p00 = a0 * b0
    p01 = a0 * b1
    p10 = a1 * b0
    p11 = a1 * b1
    mid = (p00 >> _S32) + (p01 & _LO32) + (p10 & _LO32)
    return p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32), a * b


@jit(inline="always")
def philox4x64(c0, c1, c2, c3, k0, k1):
    """Philox4x64-10 of one counter: four uint64 words.

    Parameters
    ----------
    c0, c1, c2, c3 : uint64
        The counter, word 0 first.
    k0, k1 : uint64
        The key.

    Returns
    -------
    tuple of 4 uint64
        The outputs, word 0 first; equal to ``numpy.random.Philox(counter=c - 1, key=k).random_raw(4)``
        (numpy increments the counter before use).

    Notes
    -----
    Salmon, Moraes, Dror and Shaw (2011), "Parallel random numbers: as easy as 1, 2, 3",
    Proc. SC'11; the round function and constants of Random123's ``philox.h``.
    """
    for _ in range(PHILOX_ROUNDS):
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 += _W0
        k1 += _W1
    return c0, c1, c2, c3


@jit(inline="always")
def philox4x64_lanes(c0, c1, c2, c3, k0, k1):
    """Philox4x64-10 of many counters in place: ``(c0[i], c1[i], c2[i], c3[i])`` becomes its four output words.

    The same function as :func:`philox4x64`, with the rounds outside and the counters
    inside, so that the compiler vectorises the counters (the 64 x 64 -> 128-bit
    products on 32-bit lanes: ``vpmuludq``); measured 2.8 ns a word against 7.7 for
    one counter at a time.

    Parameters
    ----------
    c0, c1, c2, c3 : ndarray(uint64, ndim=1), (n,)
        The counters' words; overwritten with the outputs.
    k0, k1 : uint64
        The key.
    """
    n = c0.shape[0]
    for _ in range(PHILOX_ROUNDS):
        for i in range(n):
            hi0, lo0 = _mulhilo(_M0, c0[i])
            hi1, lo1 = _mulhilo(_M1, c2[i])
            x1 = c1[i]
            x3 = c3[i]
            c0[i] = hi1 ^ x1 ^ k0
            c1[i] = lo1
            c2[i] = hi0 ^ x3 ^ k1
            c3[i] = lo0
        k0 += _W0
        k1 += _W1


@jit(inline="always")
def _central(q):
    """AS241's central rational polynomial (``|q| <= 0.425``) alone: branch-free, so a loop of it vectorises."""
    s = 0.180625 - q * q
    num = (((((((2.5090809287301226727e+3 * s + 3.3430575583588128105e+4) * s
                + 6.7265770927008700853e+4) * s + 4.5921953931549871457e+4) * s
              + 1.3731693765509461125e+4) * s + 1.9715909503065514427e+3) * s
            + 1.3314166789178437745e+2) * s + 3.3871328727963666080e+0) * q
    den = (((((((5.2264952788528545610e+3 * s + 2.8729085735721942674e+4) * s
                + 3.9307895800092710610e+4) * s + 2.1213794301586595867e+4) * s
              + 5.3941960214247511077e+3) * s + 6.8718700749205790830e+2) * s
            + 4.2313330701600911252e+1) * s + 1.0)
    return num / den


@jit(inline="always")
def as241(q, r):
    """Wichura's AS241 (PPND16): the standard normal quantile of ``p``, given ``q = p - 1/2`` and ``r = min(p, 1 - p)``.

    Parameters
    ----------
    q : float
        ``p - 1/2``, in (-1/2, 1/2).
    r : float
        ``min(p, 1 - p)`` in (0, 1/2], used only when ``|q| > 0.425`` (passed separately so
        that the tail is not limited by the rounding of ``1 - p``).

    Returns
    -------
    float
        ``Phi^-1(p)``, relative error about 1e-16.

    Notes
    -----
    M. J. Wichura (1988), "Algorithm AS 241: The percentage points of the normal
    distribution", Applied Statistics 37(3), 477-484 (the coefficients as published).
    """
    if abs(q) <= 0.425:
        return _central(q)
    s = math.sqrt(-math.log(r))
    if s <= 5.0:
        s -= 1.6
        num = (((((((7.74545014278341407640e-4 * s + 2.27238449892691845833e-2) * s
                    + 2.41780725177450611770e-1) * s + 1.27045825245236838258e+0) * s
                  + 3.64784832476320460504e+0) * s + 5.76949722146069140550e+0) * s
                + 4.63033784615654529590e+0) * s + 1.42343711074968357734e+0)
        den = (((((((1.05075007164441684324e-9 * s + 5.47593808499534494600e-4) * s
                    + 1.51986665636164571966e-2) * s + 1.48103976427480074590e-1) * s
                  + 6.89767334985100004550e-1) * s + 1.67638483018380384940e+0) * s
                + 2.05319162663775882187e+0) * s + 1.0)
    else:
        s -= 5.0
        num = (((((((2.01033439929228813265e-7 * s + 2.71155556874348757815e-5) * s
                    + 1.24266094738807843860e-3) * s + 2.65321895265761230930e-2) * s
                  + 2.96560571828504891230e-1) * s + 1.78482653991729133580e+0) * s
                + 5.46378491116411436990e+0) * s + 6.65790464350110377720e+0)
        den = (((((((2.04426310338993978564e-15 * s + 1.42151175831644588870e-7) * s
                    + 1.84631831751005468180e-5) * s + 7.86869131145613259100e-4) * s
                  + 1.48753612908506148525e-2) * s + 1.36929880922735805310e-1) * s
                + 5.99832206555887937690e-1) * s + 1.0)
    x = num / den
    return -x if q < 0.0 else x


@jit
def normal_quantile(p):
    """``Phi^-1(p)`` for ``0 < p < 1`` by :func:`as241` (``r = min(p, 1 - p)`` rounded as float64)."""
    q = p - 0.5
    return as241(q, p if q <= 0.0 else 1.0 - p)


@jit(inline="always")
def bits_to_normal(x):
    """A standard normal from one uint64: ``Phi^-1((k + 1/2) 2^-53)``, ``k`` the top 53 bits of ``x``.

    ``q = u - 1/2 = (2k + 1 - 2^53) 2^-54`` and ``min(u, 1 - u) = 1/2 - |q|`` are exact in
    float64, so ``bits_to_normal(~x) == -bits_to_normal(x)`` and the tails are not rounded.
    """
    m = np.int64((x >> _S10) | _ONE) - _TWO53  # 2k + 1 - 2^53: odd, |m| < 2^53
    q = m * _TWOM54
    return as241(q, 0.5 - abs(q))


@jit(inline="always")
def bits_to_uniform(x):
    """A uniform from one uint64: ``(k + 1/2) 2^-52``, ``k`` the top 52 bits of ``x``; exact, in [2^-53, 1 - 2^-53]."""
    return (np.float64(x >> _S12) + 0.5) * _TWOM52


_MASK52 = np.uint64((1 << 52) - 1)
_BYTE = np.uint64(0xFF)
_S8 = np.uint64(8)
_S9 = np.uint64(9)
_S11 = np.uint64(11)
_TWOM53 = 2.0**-53
_SLOW = np.uint64(1 << 63)  # counter word 0 of a slow-path draw has its top bit set
_S32U = np.uint64(32)
_S34 = np.uint64(34)
_ZR = ZIG_R
_ZINV_R = 1.0 / ZIG_R
ZIG_KI_I64 = ZIG_KI.astype(np.int64)  # KI < 2^52: the same values as int64, for the vectorised compare


@jit(inline="always")
def zig_fast(r):
    """The ziggurat's fast path for one 64-bit word: ``(x, accepted)``.

    Bits 0-7 are the layer ``i``, bit 8 the sign, bits 9-60 the magnitude ``m`` (as numpy's
    ``random_standard_normal``); ``x = +-m WI[i]``, accepted when ``m < KI[i]`` (about 98.5%
    of words). Branch-free (a loop of it vectorises: two gathers, a multiply, a compare).
    """
    idx = np.intp(r & _BYTE)
    m = (r >> _S9) & _MASK52
    x = np.float64(m) * ZIG_WI[idx]
    x = -x if (r >> _S8) & _ONE else x
    return x, m < ZIG_KI[idx]


@jit(inline="always")
def _unit(w):
    """numpy's ``next_double``: the top 53 bits of ``w`` times ``2^-53``, in [0, 1)."""
    return np.float64(w >> _S11) * _TWOM53


@jit(inline="always")
def zig_tail(r, w1, w2):
    """One try of the ziggurat's base-layer tail (Marsaglia 1964) for a word ``r`` of layer 0: ``(x, accepted)``.

    ``xx = -log(1 - U1) / r``, ``yy = -log(1 - U2)``, accepted when ``2 yy > xx^2``; then
    ``x = +-(r + xx)``, the sign from bit 8 of the magnitude (numpy's choice).
    """
    xx = -_ZINV_R * math.log1p(-_unit(w1))
    yy = -math.log1p(-_unit(w2))
    x = _ZR + xx
    x = -x if ((r >> _S9) >> _S8) & _ONE else x
    return x, yy + yy > xx * xx


@jit(inline="always")
def zig_wedge(r, x, w):
    """The wedge test of a word ``r`` of layer ``i >= 1`` whose ``x`` missed the fast path: ``f(x)`` above a uniform point between ``FI[i]`` and ``FI[i-1]``."""
    idx = np.intp(r & _BYTE)
    return (ZIG_FI[idx - 1] - ZIG_FI[idx]) * _unit(w) + ZIG_FI[idx] < math.exp(-0.5 * x * x)


@jit
def ziggurat_from_words(words, out):
    """Standard normals from a sequence of 64-bit words, consumed in order as numpy's ziggurat consumes its bit generator's.

    The algorithm of numpy's ``random_standard_normal`` (Marsaglia and Tsang 2000, with
    numpy's bit use) on this module's tables (:mod:`engine.model._zig_tables`): one word per
    normal on the fast path; a missed word of layer 0 draws pairs of words for the tail until
    one is accepted; a missed word of another layer draws one word for the wedge test and, if
    rejected, starts over with the next word.

    Parameters
    ----------
    words : ndarray(uint64, ndim=1), (n_words,)
        The words.
    out : ndarray(float64, ndim=1), (n,)
        Written with normals, as many as the words allow.

    Returns
    -------
    n_normals, n_words : int
        The normals written (``n`` unless the words ran out) and the words consumed by them.
    """
    n_words = words.shape[0]
    k = 0
    for n in range(out.shape[0]):
        done = False
        while not done:
            if k >= n_words:
                return n, k
            r = words[k]
            k += 1
            x, ok = zig_fast(r)
            if ok:
                out[n] = x
                done = True
            elif r & _BYTE == 0:
                while not done:
                    if k + 2 > n_words:
                        return n, k
                    x, ok = zig_tail(r, words[k], words[k + 1])
                    k += 2
                    if ok:
                        out[n] = x
                        done = True
            else:
                if k >= n_words:
                    return n, k
                ok = zig_wedge(r, x, words[k])
                k += 1
                if ok:
                    out[n] = x
                    done = True
    return out.shape[0], k


@jit(inline="always")
def _zig_attempt(r, x, w0, w1, w2):
    """One slow-path attempt for a missed word ``r`` (normal ``x`` on the fast path) with words ``w0, w1, w2``: ``(r, x, accepted)``.

    Layer 0: a tail try on ``(w0, w1)`` (:func:`zig_tail`). Other layers: the wedge test with
    ``w0`` (:func:`zig_wedge`); rejected, ``w2`` replaces ``r`` and goes through the fast path.
    """
    if r & _BYTE == 0:
        x, ok = zig_tail(r, w0, w1)
    elif zig_wedge(r, x, w0):
        ok = True
    else:
        r = w2
        x, ok = zig_fast(r)
    return r, x, ok


@jit(inline="always")
def _slow_counter(j, lane, a):
    """Counter word 0 of slow-path attempt ``a`` of lane ``lane`` of group ``j``: ``2^63 + a 2^34 + lane 2^32 + j``."""
    return _SLOW + (np.uint64(a) << _S34) + (np.uint64(lane) << _S32U) + np.uint64(j)


@jit(inline="always")
def _zig_resume(r, x, ok, a, j, lane, c1, c2, c3, k0, k1):
    """Attempts ``a + 1, a + 2, ...`` of the slow path until ``ok`` (see :func:`zig_slow`); the normal."""
    while not ok:
        a += 1
        w0, w1, w2, w3 = philox4x64(_slow_counter(j, lane, a), c1, c2, c3, k0, k1)
        r, x, ok = _zig_attempt(r, x, w0, w1, w2)
    return x


@jit(inline="always")
def zig_slow(r, j, lane, c1, c2, c3, k0, k1):
    """The ziggurat normal of word ``r``, lane ``lane`` of the Philox output at counter ``(j, c1, c2, c3)``.

    The fast path (:func:`zig_fast`) first; a miss takes further words from sub-counters of
    its own: attempt ``a = 1, 2, ...`` draws the four Philox4x64-10 words ``(w0, w1, w2, w3)``
    at counter ``(2^63 + a 2^34 + lane 2^32 + j, c1, c2, c3)``, disjoint from every fast-path
    counter ``(j, c1, c2, c3)`` (``j < 2^32``, ``lane < 4``), and :func:`_zig_attempt` uses
    ``w0 .. w2``: a tail try (layer 0, repeated with the next attempt until accepted) or the
    wedge test, whose rejection replaces ``r`` by ``w2``. So every normal is a pure function of
    its slot's coordinates, as on the fast path.

    Parameters
    ----------
    r : uint64
        The slot's fast-path word.
    j, lane : int
        The slot's counter word 0 and output word (variate ``4 j + lane`` of its step).
    c1, c2, c3 : uint64
        The rest of the slot's counter (step, path id, generation).
    k0, k1 : uint64
        The key.

    Returns
    -------
    float
        A standard normal.
    """
    x, ok = zig_fast(r)
    return _zig_resume(r, x, ok, 0, j, lane, c1, c2, c3, k0, k1)


@jit(inline="always")
def fill_step(k0, k1, path, step, generation, n_normal, buf):
    """The variates of one step of one path: ``buf[:n_normal]`` standard normals, ``buf[n_normal]`` a uniform.

    Variate ``v`` is output word ``v % 4`` of Philox4x64-10 at counter ``(v // 4, step, path,
    generation)`` under key ``(k0, k1)``.

    Parameters
    ----------
    k0, k1 : uint64
        The run's key (:func:`engine.sampling.shock_key`).
    path : int64
        The path's global id (0 .. paths - 1 in a run).
    step : int64
        The step, 1 .. n_steps.
    generation : int64
        0 for the run, ``g >= 1`` for a re-simulation's fresh shocks.
    n_normal : int64
        Normals wanted; the uniform is variate ``n_normal``.
    buf : ndarray(float64, ndim=1), (>= n_normal + 1,)
        Written.
    """
    c1 = np.uint64(step)
    c2 = np.uint64(path)
    c3 = np.uint64(generation)
    n_var = n_normal + 1
    for j in range((n_var + 3) // 4):
        x0, x1, x2, x3 = philox4x64(np.uint64(j), c1, c2, c3, k0, k1)
        v = 4 * j
        buf[v] = bits_to_normal(x0) if v < n_normal else bits_to_uniform(x0)
        if v + 1 < n_var:
            buf[v + 1] = bits_to_normal(x1) if v + 1 < n_normal else bits_to_uniform(x1)
        if v + 2 < n_var:
            buf[v + 2] = bits_to_normal(x2) if v + 2 < n_normal else bits_to_uniform(x2)
        if v + 3 < n_var:
            buf[v + 3] = bits_to_normal(x3) if v + 3 < n_normal else bits_to_uniform(x3)


@jit(inline="always")
def _path_words(k0, k1, path, fresh_path, switch_step, generation, n_normal, n_slots, raw, ctr):
    """The Philox4x64-10 words of one path's slots, every step at once (the common first part of
    :func:`fill_path` and :func:`fill_path_as241`): counter ``(j, t, path, 0)`` for the steps
    ``t <= switch_step``, ``(j, t, fresh_path, generation)`` after, ``j`` the variate group; the rounds
    run over all counters together (:func:`philox4x64_lanes`). Writes ``raw[4 m + i]`` = word ``i`` of
    counter ``m = (t - 1) n_grp + j``; returns ``(n_steps, w)``, the steps and the slots a step."""
    n_var = n_normal + 1
    n_grp = (n_var + 3) // 4
    w = 4 * n_grp
    n_steps = n_slots // w
    c0 = ctr[0]
    c1 = ctr[1]
    c2 = ctr[2]
    c3 = ctr[3]
    for t in range(1, n_steps + 1):
        own = t <= switch_step
        for j in range(n_grp):
            m = (t - 1) * n_grp + j
            c0[m] = np.uint64(j)
            c1[m] = np.uint64(t)
            c2[m] = np.uint64(path) if own else np.uint64(fresh_path)
            c3[m] = np.uint64(0) if own else np.uint64(generation)
    philox4x64_lanes(c0, c1, c2, c3, k0, k1)
    for m in range(n_steps * n_grp):  # counter m = (t - 1) n_grp + j fills slots 4 m .. 4 m + 3
        raw[4 * m] = c0[m]
        raw[4 * m + 1] = c1[m]
        raw[4 * m + 2] = c2[m]
        raw[4 * m + 3] = c3[m]
    return n_steps, w


@jit(inline="always")
def fill_path_as241(k0, k1, path, fresh_path, switch_step, generation, n_normal, raw, z, tail, ctr):
    """All the variates of one path, every step at once, as :func:`fill_step` gives them step by step.

    Step ``t`` (1-based) takes ``w = 4 ceil((n_normal + 1) / 4)`` slots from ``(t - 1) w``:
    ``z[(t - 1) w + v]`` is variate ``v`` (normals for ``v < n_normal``, the uniform at
    ``n_normal``; the slots after it are scratch). Steps ``t <= switch_step`` are those of
    ``path`` in generation 0, later ones those of ``fresh_path`` in ``generation``. The
    same numbers as :func:`fill_step`, computed in tight loops: the Philox words of all
    steps (:func:`philox4x64_lanes`, vectorised over the counters); AS241's central polynomial
    for every word (branch-free: the compiler vectorises it); then the tails (about 15% of
    the draws, listed without a branch) and the uniforms.

    Parameters
    ----------
    raw : ndarray(uint64, ndim=1), (n_steps * w,)
        Scratch: the words.
    z : ndarray(float64, ndim=1), (n_steps * w,)
        Written.
    tail : ndarray(int64, ndim=1), (n_steps * w,)
        Scratch: the slots in AS241's tails.
    ctr : ndarray(uint64, ndim=2), (4, n_steps * w / 4)
        Scratch: the counters, word by word.
    """
    n_steps, w = _path_words(k0, k1, path, fresh_path, switch_step, generation, n_normal, z.shape[0], raw, ctr)
    n = n_steps * w
    for i in range(n):
        z[i] = _central((np.int64((raw[i] >> _S10) | _ONE) - _TWO53) * _TWOM54)
    nt = 0
    for i in range(n):
        q = (np.int64((raw[i] >> _S10) | _ONE) - _TWO53) * _TWOM54
        tail[nt] = i
        nt += 1 if abs(q) > 0.425 else 0
    for j in range(nt):
        i = tail[j]
        q = (np.int64((raw[i] >> _S10) | _ONE) - _TWO53) * _TWOM54
        z[i] = as241(q, 0.5 - abs(q))
    for t in range(n_steps):
        z[t * w + n_normal] = bits_to_uniform(raw[t * w + n_normal])


@jit(inline="always")
def fill_path(k0, k1, path, fresh_path, switch_step, generation, n_normal, raw, z, miss, ctr):
    """The kernel's draw: all the variates of one path, every step at once; normal ``v`` is :func:`zig_slow` of its word.

    The same slots, Philox words and uniforms as :func:`fill_path_as241` (the AS241 draw it
    replaced; see the module docstring); then, for all words at once, the table lookups (scalar loads), the
    branch-free fast path (a vectorised loop: shifts, masks, int-to-float conversion,
    multiply, compare), the misses listed in place, :func:`zig_slow`'s sub-counter attempts
    for the misses that are normals (about 1.5% of them), and the uniforms.

    Parameters
    ----------
    k0, k1, path, fresh_path, switch_step, generation, n_normal
        As :func:`fill_path_as241`.
    raw : ndarray(uint64, ndim=1), (n_steps * w,)
        Scratch: the words.
    z : ndarray(float64, ndim=1), (n_steps * w,)
        Written: ``z[(t - 1) w + v]`` is variate ``v`` of step ``t``, as in :func:`fill_path_as241`.
    miss : ndarray(int64, ndim=1), (n_steps * w,)
        Scratch: the thresholds, then the slots that missed the fast path.
    ctr : ndarray(uint64, ndim=2), (4, n_steps * w / 4)
        Scratch: the counters, word by word.
    """
    n_steps, w = _path_words(k0, k1, path, fresh_path, switch_step, generation, n_normal, z.shape[0], raw, ctr)
    n = n_steps * w
    for i in range(n):  # the table lookups (scalar loads: LLVM emits no gathers where it prefers none)
        idx = raw[i] & _BYTE
        z[i] = ZIG_WI[idx]
        miss[i] = ZIG_KI_I64[idx]
    for i in range(n):  # the fast path, branch-free: vectorised
        r = raw[i]
        m = np.int64((r >> _S9) & _MASK52)
        z[i] = np.float64(m) * z[i] * (1.0 - 2.0 * np.float64(np.int64((r >> _S8) & _ONE)))
        miss[i] = np.int64(m >= miss[i])
    nm = 0
    for i in range(n):  # the misses, listed in place (nm <= i: no entry is overwritten before it is read)
        f = miss[i]
        miss[nm] = i
        nm += f
    for q in range(nm):  # the slow path for the few misses
        i = miss[q]
        t0 = i // w
        v = i - t0 * w
        if v < n_normal:  # the scratch slots and the uniform need no normal
            own = t0 < switch_step
            z[i] = _zig_resume(raw[i], z[i], False, 0, v >> 2, v & 3, np.uint64(t0 + 1),
                               np.uint64(path) if own else np.uint64(fresh_path),
                               np.uint64(0) if own else np.uint64(generation), k0, k1)
    for t in range(n_steps):
        z[t * w + n_normal] = bits_to_uniform(raw[t * w + n_normal])


@jit
def variates(key, ids, step0, generation, out):
    """The variates of many paths and steps, as the kernel draws them (:func:`fill_path`; a test and benchmark helper).

    Normal ``v`` is :func:`zig_slow` of its word, the uniform :func:`bits_to_uniform` of its word.

    Parameters
    ----------
    key : ndarray(uint64), (2,)
        The key.
    ids : ndarray(int64), (path,)
        Global path ids.
    step0 : int
        The first step (1-based).
    generation : int
        The generation (0: a run).
    out : ndarray(float64), (path, step, n_var)
        Written: ``out[i, s, v]`` for ``v < n_var - 1`` is the ziggurat normal of variate ``v``
        of step ``step0 + s`` of path ``ids[i]``, ``out[i, s, n_var - 1]`` its uniform.
    """
    n_var = out.shape[2]
    n_normal = n_var - 1
    k0 = key[0]
    k1 = key[1]
    c3 = np.uint64(generation)
    for i in range(out.shape[0]):
        c2 = np.uint64(ids[i])
        for s in range(out.shape[1]):
            c1 = np.uint64(step0 + s)
            for j in range((n_var + 3) // 4):
                xs = philox4x64(np.uint64(j), c1, c2, c3, k0, k1)
                for lane in range(4):
                    v = 4 * j + lane
                    if v < n_normal:
                        out[i, s, v] = zig_slow(xs[lane], j, lane, c1, c2, c3, k0, k1)
                    elif v == n_normal:
                        out[i, s, v] = bits_to_uniform(xs[lane])


@jit
def as241_variates(key, ids, step0, generation, out):
    """The variates of many paths and steps with AS241 normals (:func:`fill_step`; the reference draw, a test helper).

    Parameters
    ----------
    key : ndarray(uint64), (2,)
        The key.
    ids : ndarray(int64), (path,)
        Global path ids.
    step0 : int
        The first step (steps are 1-based in the kernel).
    generation : int
        The generation (0: a run).
    out : ndarray(float64), (path, step, n_var)
        Written: ``out[i, s, :n_var - 1]`` are the normals and ``out[i, s, n_var - 1]``
        the uniform of step ``step0 + s`` of path ``ids[i]`` (:func:`fill_step` with
        ``n_normal = n_var - 1``).
    """
    n_var = out.shape[2]
    buf = np.empty(n_var)
    for i in range(out.shape[0]):
        for s in range(out.shape[1]):
            fill_step(key[0], key[1], ids[i], step0 + s, generation, n_var - 1, buf)
            for v in range(n_var):
                out[i, s, v] = buf[v]


def _philox4x64_py(c0, c1, c2, c3, k0, k1):  # pragma: no cover - runs only with NUMBA_DISABLE_JIT=1
    """:func:`philox4x64` on Python integers (numpy's uint64 scalars warn on the wrap-around the algorithm uses)."""
    mask = (1 << 64) - 1
    c0, c1, c2, c3, k0, k1 = (int(w) for w in (c0, c1, c2, c3, k0, k1))
    m0, m1, w0, w1 = int(_M0), int(_M1), int(_W0), int(_W1)
    for _ in range(PHILOX_ROUNDS):
        p0 = m0 * c0
        p1 = m1 * c2
        c0, c1, c2, c3 = (p1 >> 64) ^ c1 ^ k0, p1 & mask, (p0 >> 64) ^ c3 ^ k1, p0 & mask
        k0 = (k0 + w0) & mask
        k1 = (k1 + w1) & mask
    return np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3)


def _philox4x64_lanes_py(c0, c1, c2, c3, k0, k1):  # pragma: no cover - runs only with NUMBA_DISABLE_JIT=1
    """:func:`philox4x64_lanes` by :func:`_philox4x64_py`, counter by counter."""
    for i in range(c0.shape[0]):
        c0[i], c1[i], c2[i], c3[i] = _philox4x64_py(c0[i], c1[i], c2[i], c3[i], k0, k1)


if numba.config.DISABLE_JIT:  # pragma: no cover - the interpreted kernel (mutation tests)
    philox4x64 = _philox4x64_py
    philox4x64_lanes = _philox4x64_lanes_py
