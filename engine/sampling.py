"""Uniform draws, rank correlation and parameter sampling.

The engine samples uncertain inputs by the inverse-CDF method: it draws
uniforms on (0, 1) -- plain pseudo-random, Latin hypercube or scrambled Sobol
-- optionally couples some columns with a Gaussian copula so that the inputs
have requested Spearman rank correlations, and maps each column through its
distribution's quantile function (:meth:`engine.distributions.DistributionSpec.ppf`).

Seed contract
-------------
A run is fixed by (config, seed, block size). The paths are generated in
blocks; block ``i`` draws its parameters from child ``i`` of
``SeedSequence(seed)``: stream 0 (:data:`STREAM_PARAMS`) of that child,
``SeedSequence(seed, spawn_key=(block, STREAM_PARAMS))`` (:func:`block_seed`,
which equals ``SeedSequence(seed).spawn(block + 1)[block].spawn(1)[0]``).
Changing the block size therefore changes the parameter draws; changing the
number of blocks (the number of paths, in whole blocks) does not change earlier
blocks.

The per-step shocks of the simulation kernel do not depend on blocks at all:
each is a pure function of (key, global path id, step, variate number,
generation) by the counter-based generator of :mod:`engine.model.rng`
(Philox4x64-10). The key is two 64-bit words of
``SeedSequence(seed, spawn_key=(STREAM_SHOCKS,))`` (:func:`shock_key`), a node
no block stream draws from (blocks use its children). A path's shocks are
therefore the same in any block size, block order, thread count or run length,
and can be replayed from its id (:func:`engine._run.resimulate`).

Rank correlation
----------------
A Spearman rank correlation rho_s between two inputs is produced by a Gaussian
copula whose Pearson correlation is rho = 2 sin(pi rho_s / 6) (Kruskal 1958).
The rank correlation matrix must be positive semi-definite, and so must the
Pearson matrix derived from it; :func:`check_correlation` validates both and
can repair either with the nearest correlation matrix (Higham 2002).

Plain random draws are coupled by transforming the uniforms through the copula
(:func:`correlate_uniforms`). Latin hypercube and Sobol designs are coupled by
reordering their columns instead (Iman & Conover 1982, :func:`rank_correlate`):
a transform would move the values out of their strata, a reordering keeps every
stratum hit exactly once (and every one-dimensional Sobol projection).
"""

from __future__ import annotations

import numbers
from enum import Enum
from typing import Any, Sequence

import numpy as np
from scipy.special import ndtr, ndtri
from .errors import InputError

__all__ = [
    "STREAM_PARAMS",
    "STREAM_SHOCKS",
    "PSD_TOL",
    "spearman_to_pearson",
    "pearson_to_spearman",
    "nearest_correlation",
    "CorrelationError",
    "check_correlation",
    "copula_factor",
    "block_seed",
    "shock_key",
    "Method",
    "draw_uniforms",
    "correlate_uniforms",
    "rank_correlate",
    "sample_parameters",
]

#: Stream number of the parameter draws within a block (see :func:`block_seed`).
STREAM_PARAMS: int = 0
#: Stream number of the per-step shocks: the key of the counter-based generator is drawn from
#: ``SeedSequence(seed, spawn_key=(STREAM_SHOCKS,))`` (see :func:`shock_key`).
STREAM_SHOCKS: int = 1

#: A matrix whose least eigenvalue is below ``-PSD_TOL`` is not accepted as
#: positive semi-definite.
PSD_TOL: float = 1e-10

#: Tolerance for symmetry and unit-diagonal checks.
_SYM_TOL: float = 1e-12

#: Uniforms are kept in [_U_LO, _U_HI] so that no quantile function returns
#: an infinite value. _U_HI is the largest double below 1 (the largest value
#: numpy's generator returns); _U_LO = 2**-54 replaces an exact 0 and lies
#: below the smallest positive value the generator returns (2**-53), so the
#: clipped lower tail (about -8.3 sd) mirrors the upper one (about +8.1 sd).
_U_LO: float = 2.0**-54
_U_HI: float = 1.0 - 2.0**-53

#: Largest dimension supported by scipy's Sobol generator.
_SOBOL_MAX_DIM: int = 21201
#: Largest number of Sobol points with the default 30 bits.
_SOBOL_MAX_N: int = 2**30


# ---------------------------------------------------------------------------
# Correlation matrices
# ---------------------------------------------------------------------------


def spearman_to_pearson(rho_s: Any) -> np.ndarray:
    """Pearson correlation of a Gaussian copula with given Spearman rho.

    Parameters
    ----------
    rho_s : array_like of float, any shape
        Spearman rank correlations, each in [-1, 1].

    Returns
    -------
    numpy.ndarray of float64, same shape as `rho_s`
        ``2 sin(pi rho_s / 6)`` elementwise (Kruskal 1958, "Ordinal measures
        of association", JASA 53); +-1 map exactly to +-1.

    Raises
    ------
    ValueError
        If an entry is not finite or lies outside [-1, 1].
    """
    r = np.asarray(rho_s, dtype=np.float64)
    if not np.all(np.isfinite(r)) or np.any(np.abs(r) > 1.0):
        raise InputError("rank correlations must be finite numbers in [-1, 1]")
    out = 2.0 * np.sin(np.pi * r / 6.0)
    return np.where(np.abs(r) == 1.0, r, out)


def pearson_to_spearman(rho: Any) -> np.ndarray:
    """Spearman rho of a Gaussian copula with given Pearson correlation.

    The inverse of :func:`spearman_to_pearson`.

    Parameters
    ----------
    rho : array_like of float, any shape
        Pearson correlations, each in [-1, 1].

    Returns
    -------
    numpy.ndarray of float64, same shape as `rho`
        ``(6 / pi) arcsin(rho / 2)`` elementwise; +-1 map exactly to +-1.

    Raises
    ------
    ValueError
        If an entry is not finite or lies outside [-1, 1].
    """
    r = np.asarray(rho, dtype=np.float64)
    if not np.all(np.isfinite(r)) or np.any(np.abs(r) > 1.0):
        raise InputError("correlations must be finite numbers in [-1, 1]")
    out = (6.0 / np.pi) * np.arcsin(r / 2.0)
    return np.where(np.abs(r) == 1.0, r, out)


def _square(a: Any, what: str = "matrix") -> np.ndarray:
    m = np.array(a, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise InputError(f"{what} must be square (n x n); got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise InputError(f"{what} has entries that are not finite numbers")
    return m


def _min_eig(m: np.ndarray) -> float:
    if m.shape[0] == 0:
        return 0.0
    return float(np.linalg.eigvalsh(m)[0])


def _proj_psd(r: np.ndarray) -> np.ndarray:
    """Projection onto positive semi-definite matrices (Frobenius norm)."""
    w, v = np.linalg.eigh(r)
    x = (v * np.maximum(w, 0.0)) @ v.T
    return 0.5 * (x + x.T)


def _make_valid(y: np.ndarray) -> np.ndarray:
    """Nudge a near-correlation matrix to be exactly valid.

    Clips eigenvalues at a floor (0, then 1e-15, 1e-14, ...) and rescales to
    a unit diagonal until the computed least eigenvalue is >= 0.
    """
    y = 0.5 * (y + y.T)
    np.fill_diagonal(y, 1.0)
    floor = 0.0
    for _ in range(12):
        w, v = np.linalg.eigh(y)
        if w[0] >= 0.0:
            break
        x = (v * np.maximum(w, floor)) @ v.T
        d = np.sqrt(np.diag(x))
        x = x / np.outer(d, d)
        x = 0.5 * (x + x.T)
        np.clip(x, -1.0, 1.0, out=x)
        np.fill_diagonal(x, 1.0)
        y = x
        floor = 1e-15 if floor == 0.0 else floor * 10.0
    return y


def nearest_correlation(a: Any, tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
    """Nearest correlation matrix in the Frobenius norm.

    Alternating projections onto the positive semi-definite matrices and the
    unit-diagonal matrices with Dykstra's correction (Higham 2002, "Computing
    the nearest correlation matrix -- a problem from finance", IMA J. Numer.
    Anal. 22, Algorithm 3.3, unweighted), followed by a final nudge that
    makes the least eigenvalue >= 0 in floating point.

    Parameters
    ----------
    a : array_like of float, shape (n, n)
        Symmetric (it is symmetrised as (a + a.T) / 2) approximate
        correlation matrix.
    tol : float, default 1e-10
        Stop when the relative changes of both iterates and their relative
        distance are all below `tol`.
    max_iter : int, default 1000
        Iteration limit; if reached, the last iterate is returned (still
        made valid by the final nudge).

    Returns
    -------
    numpy.ndarray of float64, shape (n, n)
        Symmetric matrix with unit diagonal, entries in [-1, 1] and least
        eigenvalue >= 0 (as computed by ``numpy.linalg.eigvalsh``, up to
        rounding of order 1e-15).

    Raises
    ------
    ValueError
        If `a` is not a finite square matrix.
    """
    m = _square(a)
    m = 0.5 * (m + m.T)
    n = m.shape[0]
    if n == 0:
        return m
    y = m.copy()
    x = m.copy()
    ds = np.zeros_like(m)
    for _ in range(int(max_iter)):
        r = y - ds
        x_new = _proj_psd(r)
        ds = x_new - r
        y_new = x_new.copy()
        np.fill_diagonal(y_new, 1.0)
        ny = np.linalg.norm(y_new)
        dx = np.linalg.norm(x_new - x) / max(np.linalg.norm(x_new), 1e-300)
        dy = np.linalg.norm(y_new - y) / ny
        dxy = np.linalg.norm(y_new - x_new) / ny
        x, y = x_new, y_new
        if max(dx, dy, dxy) < tol:
            break
    return _make_valid(y)


class CorrelationError(InputError):
    """A correlation matrix is not positive semi-definite.

    Parameters
    ----------
    message : str
        Explanation, including the suggested matrix and the fix.
    nearest : numpy.ndarray, shape (n, n)
        Nearest valid matrix of the kind that failed (Spearman matrix when
        `stage` is "spearman", Pearson copula matrix when "pearson"); what
        ``repair = true`` would use.
    min_eigenvalue : float
        Least eigenvalue of the failing matrix.
    suggested : numpy.ndarray, shape (n, n), optional
        The printed rank correlation matrix (3 decimals) that passes both
        checks when written into the configuration.
    stage : {"spearman", "pearson"}
        Which matrix failed.
    """

    def __init__(self, message: str, nearest: np.ndarray, min_eigenvalue: float,
                 suggested: np.ndarray | None = None, stage: str = "spearman"):
        super().__init__(message)
        self.nearest = nearest
        self.min_eigenvalue = float(min_eigenvalue)
        self.suggested = suggested
        self.stage = stage


def _format_matrix(m: np.ndarray, names: Sequence[str]) -> str:
    """Matrix as a text table with names as row and column labels, 3 d.p."""
    cells = [[f"{v:.3f}" for v in row] for row in m]
    width = max([len(s) for s in names] + [len(c) for row in cells for c in row] + [1])
    label_w = max([len(s) for s in names] + [1])
    lines = [" " * label_w + "".join(f"  {s:>{width}}" for s in names)]
    for name, row in zip(names, cells):
        lines.append(f"{name:<{label_w}}" + "".join(f"  {c:>{width}}" for c in row))
    return "\n".join(lines)


def _both_valid(spearman: np.ndarray) -> bool:
    if _min_eig(spearman) < -PSD_TOL:
        return False
    return _min_eig(spearman_to_pearson(spearman)) >= -PSD_TOL


def _suggest(spearman_nearest: np.ndarray) -> np.ndarray:
    """A 3-decimal rank correlation matrix, close to the given one, that is
    valid at both stages once written out.

    The input is normally the rank matrix whose copula matrix is the one
    ``repair = true`` would use (its back-transform (6/pi) arcsin(rho/2),
    which is positive semi-definite whenever the Pearson matrix is, since
    arcsin has a power series with non-negative coefficients). Rounding to 3
    decimals can break either check for a singular matrix, so the matrix is
    pulled toward the identity by the smallest amount tried that passes.
    """
    n = spearman_nearest.shape[0]
    eye = np.eye(n)
    for t in (0.0, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5):
        cand = np.round((1.0 - t) * spearman_nearest + t * eye, 3)
        np.fill_diagonal(cand, 1.0)
        if _both_valid(cand):
            return cand
    return eye


def check_correlation(matrix: Any, names: Sequence[str], repair: bool = False) -> np.ndarray:
    """Validate a Spearman rank correlation matrix; return the copula matrix.

    Parameters
    ----------
    matrix : array_like of float, shape (n, n)
        Spearman rank correlations of the inputs `names`, in that order:
        symmetric within 1e-12, unit diagonal, entries in [-1, 1].
    names : sequence of str, length n
        Input names, used as row/column labels in messages.
    repair : bool, default False
        If True, a matrix that is not positive semi-definite is replaced by
        the nearest correlation matrix (:func:`nearest_correlation`) instead
        of raising; this applies to the rank matrix and to the Pearson
        matrix derived from it.

    Returns
    -------
    numpy.ndarray of float64, shape (n, n)
        Pearson correlation matrix ``2 sin(pi rho_s / 6)`` of the Gaussian
        copula, positive semi-definite (least eigenvalue >= -1e-10; a
        singular matrix such as all ones is accepted).

    Raises
    ------
    CorrelationError
        If `repair` is False and the rank matrix, or the Pearson matrix
        derived from it, has a least eigenvalue below -1e-10. The message
        gives the least eigenvalue, a nearest valid rank matrix labelled
        with `names` (3 decimals) and the fix.
    ValueError
        If the matrix is not square, not symmetric, has a diagonal entry
        other than 1, an entry outside [-1, 1], or `names` does not match.
    """
    m = _square(matrix, "correlation matrix")
    n = m.shape[0]
    names = [str(s) for s in names]
    if len(names) != n:
        raise InputError(
            f"correlation matrix is {n} x {n} but {len(names)} input names were given"
        )
    if len(set(names)) != n:
        raise InputError(f"input names in the correlation matrix repeat: {names}")
    for i in range(n):
        if abs(m[i, i] - 1.0) > _SYM_TOL:
            raise InputError(
                f"correlation of {names[i]!r} with itself is {m[i, i]:g}; "
                "the diagonal of a correlation matrix must be 1"
            )
        for j in range(i + 1, n):
            if abs(m[i, j] - m[j, i]) > _SYM_TOL:
                raise InputError(
                    f"correlation matrix is not symmetric: {names[i]!r}-{names[j]!r} "
                    f"is {m[i, j]:g} but {names[j]!r}-{names[i]!r} is {m[j, i]:g}; "
                    "give the same value in both places"
                )
            if abs(m[i, j]) > 1.0:
                raise InputError(
                    f"correlation between {names[i]!r} and {names[j]!r} is "
                    f"{m[i, j]:g}; correlations must lie in [-1, 1]"
                )
    m = 0.5 * (m + m.T)
    np.fill_diagonal(m, 1.0)

    fix = (
        "Fix: set `repair = true` under [correlations] to use the nearest valid "
        "matrix automatically, or replace the matrix with the one printed above."
    )
    lam = _min_eig(m)
    if lam < -PSD_TOL:
        nearest = nearest_correlation(m)
        if not repair:
            suggested = _suggest(pearson_to_spearman(_to_valid_pearson(nearest)))
            raise CorrelationError(
                "rank correlation matrix is not positive semi-definite (least "
                f"eigenvalue {lam:.3g}): no inputs can have all these "
                "correlations at once.\n"
                "Nearest valid matrix (3 decimals):\n"
                f"{_format_matrix(suggested, names)}\n{fix}",
                nearest=nearest, min_eigenvalue=lam, suggested=suggested,
                stage="spearman",
            )
        m = nearest

    pearson = spearman_to_pearson(m)
    lam_p = _min_eig(pearson)
    if lam_p < -PSD_TOL:
        nearest_p = nearest_correlation(pearson)
        if not repair:
            suggested = _suggest(pearson_to_spearman(nearest_p))
            raise CorrelationError(
                "the rank correlations are positive semi-definite, but the "
                "Gaussian copula (Pearson) matrix derived from them, "
                "2 sin(pi rho / 6), is not (least eigenvalue "
                f"{lam_p:.3g}); the copula (Pearson) matrix is the one that "
                "must be valid.\n"
                "Nearest rank correlation matrix whose copula matrix is valid "
                "(3 decimals):\n"
                f"{_format_matrix(suggested, names)}\n{fix}",
                nearest=nearest_p, min_eigenvalue=lam_p, suggested=suggested,
                stage="pearson",
            )
        pearson = nearest_p
    return pearson


def _to_valid_pearson(spearman: np.ndarray) -> np.ndarray:
    """Pearson matrix of a PSD rank matrix, repaired if it is not PSD."""
    pearson = spearman_to_pearson(spearman)
    if _min_eig(pearson) < -PSD_TOL:
        pearson = nearest_correlation(pearson)
    return pearson


def copula_factor(pearson: Any) -> np.ndarray:
    """A factor L with ``L @ L.T == pearson`` for the Gaussian copula.

    Uses the Cholesky factor (lower triangular, unique) when the matrix is
    numerically positive definite; otherwise (a singular positive
    semi-definite matrix, for example all ones) the eigendecomposition
    ``L = V diag(sqrt(max(lambda, 0)))``, with each eigenvector's sign fixed
    so that its largest-magnitude entry (the first, on ties) is positive.
    Both are deterministic for a given matrix.

    Parameters
    ----------
    pearson : array_like of float, shape (k, k)
        Symmetric positive semi-definite correlation matrix.

    Returns
    -------
    numpy.ndarray of float64, shape (k, k)
        The factor L.

    Raises
    ------
    ValueError
        If the matrix is not finite and square, or not positive
        semi-definite (least eigenvalue below -1e-10).
    """
    p = _square(pearson, "copula correlation matrix")
    p = 0.5 * (p + p.T)
    if p.shape[0] == 0:
        return p
    try:
        return np.linalg.cholesky(p)
    except np.linalg.LinAlgError:
        pass
    w, v = np.linalg.eigh(p)
    if w[0] < -PSD_TOL:
        raise InputError(
            f"copula correlation matrix is not positive semi-definite (least "
            f"eigenvalue {w[0]:.3g}); validate it with check_correlation()"
        )
    idx = np.argmax(np.abs(v), axis=0)
    signs = np.sign(v[idx, np.arange(v.shape[1])])
    signs[signs == 0] = 1.0
    return (v * signs) * np.sqrt(np.maximum(w, 0.0))


# ---------------------------------------------------------------------------
# Seeds and uniforms
# ---------------------------------------------------------------------------


def _nonneg_int(v: Any, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < 0:
        raise InputError(f"{name} = {v!r} must be a non-negative integer")
    return int(v)


#: Largest run seed: seeds are 64-bit (numpy's SeedSequence takes larger ones, but a result file's
#: attributes cannot store them).
MAX_SEED = 2**64 - 1


def block_seed(seed: int, block: int, stream: int) -> np.random.SeedSequence:
    """Seed sequence of one stream of one block.

    Parameters
    ----------
    seed : int
        Run seed, >= 0.
    block : int
        Block number, >= 0 (block i holds paths i*B .. (i+1)*B - 1 for
        block size B).
    stream : int
        Stream within the block: :data:`STREAM_PARAMS` (0) for parameter
        draws; 2 is the stress test's extra stream. (Stream 1 was the per-step
        shocks before they became counter-based; see :func:`shock_key`.)

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(seed, spawn_key=(block, stream))``: child `stream` of
        child `block` of ``SeedSequence(seed)`` (see the module's seed
        contract).

    Raises
    ------
    ValueError
        If an argument is not a non-negative integer, or the seed is above :data:`MAX_SEED`.
    """
    seed = _nonneg_int(seed, "seed")
    if seed > MAX_SEED:
        raise InputError(f"seed = {seed} is above the largest 64-bit seed {MAX_SEED}; give a smaller seed")
    block = _nonneg_int(block, "block")
    stream = _nonneg_int(stream, "stream")
    return np.random.SeedSequence(seed, spawn_key=(block, stream))


def shock_key(seed: int) -> np.ndarray:
    """The key of the per-step shocks of a run: Philox4x64-10's two 64-bit key words.

    Parameters
    ----------
    seed : int
        Run seed, ``0 <= seed <= MAX_SEED``.

    Returns
    -------
    ndarray(uint64), (2,)
        ``SeedSequence(seed, spawn_key=(STREAM_SHOCKS,)).generate_state(2, np.uint64)``
        (numpy's SeedSequence hashes the seed and spawn key into well-mixed words,
        O'Neill's seed_seq design); the kernel's variates are then functions of this
        key and their coordinates only (:mod:`engine.model.rng`).

    Raises
    ------
    InputError
        If the seed is not a non-negative integer or is above :data:`MAX_SEED`.
    """
    seed = _nonneg_int(seed, "seed")
    if seed > MAX_SEED:
        raise InputError(f"seed = {seed} is above the largest 64-bit seed {MAX_SEED}; give a smaller seed")
    return np.random.SeedSequence(seed, spawn_key=(STREAM_SHOCKS,)).generate_state(2, np.uint64)


class Method(str, Enum):
    """How uniforms are drawn."""

    RANDOM = "random"
    LHS = "lhs"
    SOBOL = "sobol"


def _method(method: Any) -> Method:
    try:
        return Method(method)
    except ValueError:
        valid = ", ".join(m.value for m in Method)
        raise InputError(
            f"unknown sampling method {method!r}; use one of: {valid}"
        ) from None


def _private_seedseq(seedseq: Any) -> np.random.SeedSequence:
    """A private copy of `seedseq` with no children spawned.

    scipy's QMC engines spawn a child from the seed sequence behind the
    Generator they are given, which would mutate the caller's SeedSequence
    and make a second draw with the same object differ. Working on a fresh
    copy makes draws depend only on (entropy, spawn_key, pool_size).
    """
    if isinstance(seedseq, np.random.SeedSequence):
        return np.random.SeedSequence(
            seedseq.entropy, spawn_key=seedseq.spawn_key, pool_size=seedseq.pool_size
        )
    if isinstance(seedseq, numbers.Integral) and not isinstance(seedseq, (bool, np.bool_)):
        return np.random.SeedSequence(_nonneg_int(seedseq, "seed"))
    raise InputError(
        f"seedseq must be a numpy.random.SeedSequence (see block_seed) or a "
        f"non-negative integer; got {type(seedseq).__name__}"
    )


def draw_uniforms(n: int, d: int, method: Any, seedseq: Any) -> np.ndarray:
    """Draw an (n, d) array of uniforms in the open interval (0, 1).

    Parameters
    ----------
    n : int
        Number of rows (draws), >= 0.
    d : int
        Number of columns (dimensions), >= 0; d == 0 gives shape (n, 0).
    method : Method or str
        ``"random"``: ``np.random.default_rng(seedseq).random((n, d))``,
        filled row by row, so the first m rows of a draw of n rows equal a
        draw of m rows (prefix property).
        ``"lhs"``: ``scipy.stats.qmc.LatinHypercube(d, rng=rng).random(n)``;
        each column hits each of the n strata [k/n, (k+1)/n) exactly once
        (no prefix property).
        ``"sobol"``: scrambled Sobol points,
        ``qmc.Sobol(d, scramble=True, rng=rng).random_base2(m)[:n]`` with
        m = ceil(log2 n); the first n points of the sequence, so the prefix
        property holds too. Balance properties are best for n a power of 2.
    seedseq : numpy.random.SeedSequence or int
        Seed material. A private copy is used, so the caller's object is
        never mutated and the draw depends only on its entropy and spawn
        key (not on how many children it has spawned).

    Returns
    -------
    numpy.ndarray of float64, shape (n, d)
        Uniforms; an exact 0 (possible from all three generators) is
        replaced by 2**-54, so values lie in [2**-54, 1 - 2**-53] and no
        quantile function returns an infinite value.

    Raises
    ------
    ValueError
        For a negative or non-integer n or d, an unknown method, or a Sobol
        draw with d > 21201 or n > 2**30.
    """
    n = _nonneg_int(n, "n")
    d = _nonneg_int(d, "d")
    method = _method(method)
    if n == 0 or d == 0:
        return np.empty((n, d), dtype=np.float64)
    rng = np.random.default_rng(_private_seedseq(seedseq))
    if method is Method.RANDOM:
        u = rng.random((n, d))
    elif method is Method.LHS:
        from scipy.stats import qmc  # here: importing scipy.stats costs ~0.5 s

        u = qmc.LatinHypercube(d, rng=rng).random(n)
    else:
        if d > _SOBOL_MAX_DIM:
            raise InputError(
                f"Sobol sampling supports at most {_SOBOL_MAX_DIM} dimensions; got {d}"
            )
        if n > _SOBOL_MAX_N:
            raise InputError(f"Sobol sampling supports at most 2**30 draws; got {n}")
        m = (n - 1).bit_length()
        from scipy.stats import qmc

        u = qmc.Sobol(d, scramble=True, rng=rng).random_base2(m)[:n]
    u = np.ascontiguousarray(u, dtype=np.float64)
    np.clip(u, _U_LO, _U_HI, out=u)
    return u


def correlate_uniforms(u: Any, factor: Any, index: Sequence[int]) -> np.ndarray:
    """Couple columns of independent uniforms with a Gaussian copula.

    For the columns `index` (in the order of the correlation matrix):
    z = Phi^-1(u), z' = z @ factor.T, u' = Phi(z'). Other columns are
    copied unchanged. If the columns are independent uniforms, the coupled
    columns are uniform with normal-scores correlation ``factor @ factor.T``.

    Parameters
    ----------
    u : array_like of float, shape (n, d)
        Uniforms in (0, 1). Not modified.
    factor : array_like of float, shape (k, k)
        Copula factor from :func:`copula_factor`.
    index : sequence of int, length k
        Distinct column numbers of `u` that are correlated, in matrix order.

    Returns
    -------
    numpy.ndarray of float64, shape (n, d)
        New array; coupled values are kept in [2**-54, 1 - 2**-53].

    Raises
    ------
    ValueError
        If shapes do not match or `index` repeats or is out of range.
    """
    u, f, idx, k = _coupling_arguments(u, factor, index)
    out = u.copy()
    if k == 0:
        return out
    z = ndtri(u[:, idx])
    out[:, idx] = np.clip(ndtr(z @ f.T), _U_LO, _U_HI)
    return out



def _coupling_arguments(u: Any, factor: Any, index: Sequence[int]):
    """``(u, factor, index, k)`` as float / int arrays, checked: u (n, d), factor (k, k), k distinct columns of u."""
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2:
        raise InputError(f"u must have shape (n, d); got {u.shape}")
    f = np.asarray(factor, dtype=np.float64)
    idx = np.asarray(index, dtype=np.intp).reshape(-1)
    k = idx.size
    if f.shape != (k, k):
        raise InputError(f"factor must have shape ({k}, {k}) for {k} columns; got {f.shape}")
    if k and (np.unique(idx).size != k or idx.min() < 0 or idx.max() >= u.shape[1]):
        raise InputError(
            f"index {idx.tolist()} must hold distinct column numbers in [0, {u.shape[1]})"
        )
    return u, f, idx, k

def rank_correlate(u: Any, factor: Any, index: Sequence[int]) -> np.ndarray:
    """Induce rank correlation by reordering columns (Iman & Conover 1982).

    Each coupled column keeps exactly its values (so a Latin hypercube column
    still hits each of its n strata once, and a Sobol column keeps its
    one-dimensional projection); only their order along the rows changes.
    Scores: the van der Waerden scores Phi^-1(r / (n + 1)) of each column's
    ranks r (1..n; the design's own random order), decorrelated by the
    Cholesky factor Q of their sample correlation (S Q^-T) and mixed by the
    copula `factor` (S Q^-T factor^T); each column of `u` is then sorted into
    the rank order of its target score column, so the realised Spearman
    correlation is close to the copula's (Iman, R. L. & Conover, W. J., "A
    distribution-free approach to inducing rank correlation among input
    variables", Communications in Statistics B 11(3), 1982, 311-334).

    Parameters
    ----------
    u : array_like of float, shape (n, d)
        Uniforms in (0, 1) (a stratified design). Not modified.
    factor : array_like of float, shape (k, k)
        Copula factor from :func:`copula_factor` (L with L L^T = the Pearson
        matrix of the normal scores).
    index : sequence of int, length k
        Distinct column numbers of `u` that are correlated, in matrix order.

    Returns
    -------
    numpy.ndarray of float64, shape (n, d)
        New array; other columns are copied unchanged. Deterministic given `u`.

    Raises
    ------
    ValueError
        If shapes do not match or `index` repeats or is out of range.
    """
    u, f, idx, k = _coupling_arguments(u, factor, index)
    out = u.copy()
    n = u.shape[0]
    if k == 0 or n < 2:
        return out
    sub = u[:, idx]
    ranks = np.argsort(np.argsort(sub, axis=0, kind="stable"), axis=0, kind="stable")
    scores = ndtri((ranks + 1.0) / (n + 1.0))
    if n > k:
        t = np.corrcoef(scores, rowvar=False).reshape(k, k)
        try:
            q = np.linalg.cholesky(t)
            scores = np.linalg.solve(q, scores.T).T  # S Q^-T: sample correlation exactly the identity
        except np.linalg.LinAlgError:
            pass  # singular sample correlation (tiny n): use the scores as they are
    target = scores @ f.T
    for a, c in enumerate(idx):
        out[np.argsort(target[:, a], kind="stable"), c] = np.sort(u[:, c])
    return out


def sample_parameters(specs: Sequence[Any], n: int, method: Any, seedseq: Any,
                      corr_pearson: Any = None,
                      corr_index: Sequence[int] | None = None) -> np.ndarray:
    """Draw n joint samples of the inputs described by `specs`.

    Uniforms are drawn only for the non-fixed specs, in spec order (so
    adding or removing a fixed input leaves the other inputs' draws
    unchanged), optionally coupled by the Gaussian copula, and mapped
    through each spec's ``ppf``. Fixed specs give constant columns.

    Parameters
    ----------
    specs : sequence of DistributionSpec, length p
        Input distributions (anything with ``is_fixed`` and ``ppf``).
    n : int
        Number of draws, >= 0.
    method : Method or str
        Uniform generator, see :func:`draw_uniforms`.
    seedseq : numpy.random.SeedSequence or int
        Seed of this draw, normally ``block_seed(seed, block, STREAM_PARAMS)``.
    corr_pearson : array_like of float, shape (k, k), optional
        Gaussian copula (Pearson) matrix from :func:`check_correlation`.
        ``random`` draws are transformed by the copula
        (:func:`correlate_uniforms`); ``lhs`` and ``sobol`` designs are
        reordered by :func:`rank_correlate`, which keeps their strata.
    corr_index : sequence of int, length k, optional
        Positions in `specs` of the correlated inputs, in matrix order;
        defaults to ``range(p)`` when k == p. Fixed specs among them are
        dropped together with their row and column (a principal submatrix
        of a valid matrix is valid).

    Returns
    -------
    numpy.ndarray of float64, shape (n, p)
        Column j holds draws of ``specs[j]``, in the input's units.
        Deterministic given `seedseq`. The transpose of a C-contiguous
        (p, n) array: each column is contiguous (``.T`` is a view).

    Raises
    ------
    ValueError
        If `corr_index` does not match `corr_pearson`, repeats or is out of
        range, or the matrix is not positive semi-definite.
    """
    n = _nonneg_int(n, "n")
    specs = list(specs)
    p = len(specs)
    drawn = [j for j, s in enumerate(specs) if not s.is_fixed]
    u = draw_uniforms(n, len(drawn), method, seedseq)

    if corr_pearson is not None:
        c = _square(corr_pearson, "copula correlation matrix")
        k = c.shape[0]
        if corr_index is None:
            if k != p:
                raise InputError(
                    f"corr_index is needed: the correlation matrix is {k} x {k} "
                    f"but there are {p} inputs"
                )
            corr_index = range(p)
        ci = [int(j) for j in corr_index]
        if len(ci) != k:
            raise InputError(
                f"corr_index has {len(ci)} entries for a {k} x {k} correlation matrix"
            )
        if len(set(ci)) != k or any(j < 0 or j >= p for j in ci):
            raise InputError(f"corr_index {ci} must hold distinct input positions in [0, {p})")
        keep = [a for a, j in enumerate(ci) if not specs[j].is_fixed]
        if len(keep) >= 2:
            sub = c[np.ix_(keep, keep)]
            col_of = {j: a for a, j in enumerate(drawn)}
            cols = [col_of[ci[a]] for a in keep]
            if _method(method) is Method.RANDOM:
                u = correlate_uniforms(u, copula_factor(sub), cols)
            else:  # keep the design's strata / projections: reorder, do not transform
                u = rank_correlate(u, copula_factor(sub), cols)

    # column by column on contiguous memory: each quantile function reads one contiguous row of u's
    # transpose and writes one contiguous row of the (p, n) result (the same values as strided columns,
    # elementwise, without a strided copy per call)
    ut = np.ascontiguousarray(u.T)
    out = np.empty((p, n), dtype=np.float64)
    col = 0
    for j, spec in enumerate(specs):
        if spec.is_fixed:
            out[j] = spec.ppf(np.full(1, 0.5))[0]
        else:
            fast = _closed_form_ppf(spec, ut[col], out[j])
            if not fast:
                out[j] = spec.sample_ppf(ut[col])
            col += 1
    return out.T


def _closed_form_ppf(spec: Any, u: np.ndarray, out: np.ndarray) -> bool:
    """``spec.sample_ppf(u)`` into ``out`` for the uniform and triangular kinds, bit for bit, without scipy's
    per-call overhead; False (nothing written) for any other kind.

    scipy's ``rv_continuous.ppf`` computes, for u in the open interval (0, 1) (every draw of
    :func:`draw_uniforms` is), ``_ppf(u, *shapes) * scale + loc``; ``uniform._ppf(q)`` is q and
    ``triang._ppf(q, c)`` is ``where(q < c, sqrt(c q), 1 - sqrt((1 - c)(1 - q)))``. The same
    operations on the frozen distribution's own ``c``, ``loc`` and ``scale``, then the same clip to the
    exact support as :meth:`engine.distributions.DistributionSpec.ppf`, give the same bits
    (tests/test_run_arrays.py checks it against ``sample_ppf``). ~4x faster than the frozen ``ppf``
    at a block's 65,536 draws.

    Parameters
    ----------
    spec : DistributionSpec
        A drawn input's distribution.
    u : ndarray(float64), (n,)
        Uniforms in (0, 1), contiguous.
    out : ndarray(float64), (n,)
        Written with the quantiles (the input's units) when True is returned.
    """
    kind = getattr(spec, "kind", None)
    if kind not in ("uniform", "triangular"):
        return False
    try:
        kw = spec.dist().kwds
        loc, scale = float(kw["loc"]), float(kw["scale"])
        c = float(kw["c"]) if kind == "triangular" else 0.0
    except (AttributeError, KeyError, TypeError):  # not the frozen form of _make_dist: scipy's own ppf
        return False
    if kind == "uniform":
        np.multiply(u, scale, out=out)
    else:
        lo = np.sqrt(c * u)
        hi = 1 - np.sqrt((1 - c) * (1 - u))
        np.multiply(np.where(u < c, lo, hi), scale, out=out)
    out += loc
    a, b = spec.support()
    np.clip(out, a, b, out=out)
    return True
